//! One way to run the source's SQL on every engine it reads.
//!
//! The readers write their SQL once, in the PostgreSQL-flavoured subset the three engines
//! share (`$1` parameters, `CAST(… AS TEXT)`, double-quoted identifiers, lower-case table
//! names), and read rows through [`Row`], whose values are the same whatever engine
//! answered. PostgreSQL and SQLite go through sqlx's `Any` driver as they are. MySQL and
//! MariaDB get the statement rewritten for them ([`Dialect`]: `?` parameters in the order
//! they appear, each table named as the database spells it, `CHAR_LENGTH`, `CAST(… AS
//! CHAR|SIGNED)`) and their own row decoding, because the `Any` driver reads neither
//! their text columns under a binary collation (`utf8mb4_bin`, what Confluence asks for)
//! nor `TINYINT`, `BIT`, `DECIMAL` or `DATETIME`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::{Column, Row as _, TypeInfo, ValueRef};

use super::Source;

/// The connection pool behind a [`Source`].
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// PostgreSQL or SQLite.
    Any(sqlx::AnyPool),
    /// MySQL or MariaDB, with the names of its tables whose spelling is not lower case.
    MySql(sqlx::MySqlPool, Arc<Dialect>),
}

/// A value bound to a statement's parameter.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

impl From<i64> for Param {
    fn from(n: i64) -> Param {
        Param::Int(n)
    }
}

impl From<i32> for Param {
    fn from(n: i32) -> Param {
        Param::Int(n.into())
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::Text(s.to_string())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}

impl From<&String> for Param {
    fn from(s: &String) -> Param {
        Param::Text(s.clone())
    }
}

/// One value of a row, the same whichever engine gave it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    /// A MySQL `DATETIME` or `TIMESTAMP`: read as text in the form PostgreSQL
    /// casts a timestamp to (`2024-05-01 09:30:00`, fractions when there are some).
    Time(String),
}

/// A row of an answer. Columns are found by position or by name, whatever the case the
/// database gave the name in (Confluence's tables on MySQL have upper-case columns).
#[derive(Clone, Debug)]
pub(crate) struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

/// A column of a [`Row`]: its position or its name.
pub(crate) trait ColumnIndex: std::fmt::Display + Copy {
    fn position(self, row: &Row) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn position(self, row: &Row) -> Option<usize> {
        (self < row.values.len()).then_some(self)
    }
}

impl ColumnIndex for &str {
    fn position(self, row: &Row) -> Option<usize> {
        row.names.iter().position(|n| n.eq_ignore_ascii_case(self))
    }
}

/// A Rust value a [`Value`] can be read as.
pub(crate) trait FromValue: Sized {
    /// The value, or why it cannot be this type.
    fn from_value(value: &Value) -> Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<i64, String> {
        match value {
            Value::Int(n) => Ok(*n),
            Value::Bool(b) => Ok(i64::from(*b)),
            other => Err(format!("expected an integer, found {}", other.kind())),
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Result<i32, String> {
        let n = i64::from_value(value)?;
        i32::try_from(n).map_err(|_| format!("the integer {n} does not fit 32 bits"))
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<f64, String> {
        match value {
            Value::Real(x) => Ok(*x),
            Value::Int(n) => Ok(*n as f64),
            other => Err(format!("expected a number, found {}", other.kind())),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<bool, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Int(n) => Ok(*n != 0),
            other => Err(format!("expected a boolean, found {}", other.kind())),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<String, String> {
        match value {
            Value::Text(s) | Value::Time(s) => Ok(s.clone()),
            // A text column under a binary collation arrives as bytes.
            Value::Bytes(b) => String::from_utf8(b.clone()).map_err(|_| "expected text, found bytes that are not UTF-8".to_string()),
            other => Err(format!("expected text, found {}", other.kind())),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Vec<u8>, String> {
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {}", other.kind())),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Option<T>, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real number",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Bool(_) => "a boolean",
            Value::Time(_) => "a date and time",
        }
    }
}

impl Row {
    /// The value of column `index` as a `T`.
    pub(crate) fn try_get<T: FromValue, I: ColumnIndex>(&self, index: I) -> Result<T, sqlx::Error> {
        let at = index.position(self).ok_or_else(|| sqlx::Error::ColumnNotFound(index.to_string()))?;
        T::from_value(&self.values[at]).map_err(|e| sqlx::Error::ColumnDecode { index: index.to_string(), source: e.into() })
    }

    /// The values, in the order of the statement's columns.
    pub(crate) fn into_values(self) -> Vec<Value> {
        self.values
    }

    fn from_any(row: &sqlx::any::AnyRow, names: &Arc<[String]>) -> Result<Row, sqlx::Error> {
        use sqlx::any::AnyTypeInfoKind as Kind;
        let mut values = Vec::with_capacity(names.len());
        for i in 0..row.columns().len() {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let kind = raw.type_info().kind();
            values.push(match kind {
                Kind::Null => Value::Null,
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::SmallInt | Kind::Integer | Kind::BigInt => Value::Int(row.try_get(i)?),
                Kind::Real | Kind::Double => Value::Real(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Blob => Value::Bytes(row.try_get(i)?),
            });
        }
        Ok(Row { names: names.clone(), values })
    }

    fn from_mysql(row: &sqlx::mysql::MySqlRow, names: &Arc<[String]>) -> Result<Row, sqlx::Error> {
        let mut values = Vec::with_capacity(names.len());
        for (i, column) in row.columns().iter().enumerate() {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let type_name = column.type_info().name().to_string();
            let bad = |e: String| sqlx::Error::ColumnDecode { index: column.name().to_string(), source: format!("{type_name}: {e}").into() };
            let value = match type_name.as_str() {
                "BOOLEAN" => Value::Bool(row.try_get_unchecked::<i64, _>(i)? != 0),
                "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "INT UNSIGNED" | "MEDIUMINT UNSIGNED"
                | "YEAR" => Value::Int(row.try_get_unchecked::<i64, _>(i)?),
                "BIGINT UNSIGNED" => {
                    let n = row.try_get_unchecked::<u64, _>(i)?;
                    Value::Int(i64::try_from(n).map_err(|_| bad(format!("{n} does not fit a signed 64-bit integer")))?)
                }
                "FLOAT" | "DOUBLE" => Value::Real(row.try_get_unchecked::<f64, _>(i)?),
                // The binary protocol sends a DECIMAL as its digits.
                "DECIMAL" => {
                    let digits = row.try_get_unchecked::<String, _>(i)?;
                    match digits.parse::<i64>() {
                        Ok(n) => Value::Int(n),
                        Err(_) => Value::Real(digits.parse().map_err(|_| bad(format!("{digits:?} is not a number")))?),
                    }
                }
                // BIT(M) comes as its bytes, most significant first (a BIT(1) flag reads as
                // 0 or 1, which `bool` accepts).
                "BIT" => {
                    let bytes = row.try_get_unchecked::<Vec<u8>, _>(i)?;
                    if bytes.len() > 8 {
                        return Err(bad(format!("{} bytes is wider than 64 bits", bytes.len())));
                    }
                    let n = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
                    Value::Int(i64::try_from(n).map_err(|_| bad(format!("{n} does not fit a signed 64-bit integer")))?)
                }
                "DATETIME" | "TIMESTAMP" => Value::Time(mysql_time(&row.try_get_unchecked::<Vec<u8>, _>(i)?).map_err(bad)?),
                "DATE" => Value::Text(mysql_time(&row.try_get_unchecked::<Vec<u8>, _>(i)?).map_err(bad)?[..10].to_string()),
                "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" | "JSON" => {
                    Value::Text(row.try_get_unchecked::<String, _>(i)?)
                }
                // Bytes, or text under a binary collation: the reader asks for what it expects.
                "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
                other => return Err(bad(format!("ferry does not read MySQL columns of type {other}"))),
            };
            values.push(value);
        }
        Ok(Row { names: names.clone(), values })
    }
}

/// A MySQL binary-protocol date, date and time or timestamp (a length byte, then year,
/// month, day, hour, minute, second, microseconds) as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn mysql_time(raw: &[u8]) -> Result<String, String> {
    let (len, rest) = raw.split_first().ok_or("an empty date")?;
    let bytes = rest.get(..usize::from(*len)).ok_or("a date shorter than its length")?;
    let mut parts = [0u32; 7];
    if bytes.len() >= 4 {
        parts[0] = u32::from(u16::from_le_bytes([bytes[0], bytes[1]]));
        parts[1] = bytes[2].into();
        parts[2] = bytes[3].into();
    }
    if bytes.len() >= 7 {
        parts[3] = bytes[4].into();
        parts[4] = bytes[5].into();
        parts[5] = bytes[6].into();
    }
    if bytes.len() >= 11 {
        parts[6] = u32::from_le_bytes([bytes[7], bytes[8], bytes[9], bytes[10]]);
    }
    let [year, month, day, hour, minute, second, micros] = parts;
    let mut text = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    if micros > 0 {
        let fraction = format!("{micros:06}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    Ok(text)
}

/// How a statement is rewritten for MySQL and MariaDB.
#[derive(Debug, Default)]
pub(crate) struct Dialect {
    /// Tables (lower case → as the database spells them) whose name is not lower case:
    /// on Linux, MySQL's table names are case-sensitive, and Confluence creates its own
    /// tables upper case there (`CONTENT`, `SPACES`), its user tables lower case.
    pub(crate) tables: HashMap<String, String>,
}

impl Dialect {
    /// `sql` for MySQL, and the parameters' order: the `n`-th `?` takes parameter
    /// `order[n]` (PostgreSQL's `$2` may come before `$1`, or twice).
    pub(crate) fn rewrite(&self, sql: &str) -> (String, Vec<usize>) {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut order = Vec::new();
        let chars: Vec<char> = sql.chars().collect();
        let mut i = 0;
        // The last two words outside quotes, to spot `AS <type>` inside a CAST.
        let mut previous_word = String::new();
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\'' | '"' | '`' => {
                    let end = (i + 1..chars.len()).find(|&j| chars[j] == c).unwrap_or(chars.len() - 1);
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                    previous_word.clear();
                }
                '$' if chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                    let end = (i + 1..chars.len()).find(|&j| !chars[j].is_ascii_digit()).unwrap_or(chars.len());
                    let n: usize = chars[i + 1..end].iter().collect::<String>().parse().unwrap_or(1);
                    order.push(n.saturating_sub(1));
                    out.push('?');
                    i = end;
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let end = (i..chars.len()).find(|&j| !(chars[j].is_ascii_alphanumeric() || chars[j] == '_')).unwrap_or(chars.len());
                    let word: String = chars[i..end].iter().collect();
                    let next = chars[end..].iter().find(|c| !c.is_whitespace()).copied();
                    let after_dot = i > 0 && chars[i - 1] == '.';
                    let upper = word.to_ascii_uppercase();
                    let replaced = if previous_word == "AS" && matches!(next, Some(')') | Some('(')) {
                        match upper.as_str() {
                            "TEXT" | "VARCHAR" => Some("CHAR".to_string()),
                            "BIGINT" | "INTEGER" | "INT" => Some("SIGNED".to_string()),
                            _ => None,
                        }
                    } else if upper == "LENGTH" && next == Some('(') {
                        Some("CHAR_LENGTH".to_string())
                    } else if !after_dot {
                        self.tables.get(&word.to_ascii_lowercase()).filter(|actual| **actual != word).cloned()
                    } else {
                        None
                    };
                    out.push_str(replaced.as_deref().unwrap_or(&word));
                    previous_word = upper;
                    i = end;
                }
                c => {
                    if !c.is_whitespace() {
                        previous_word.clear();
                    }
                    out.push(c);
                    i += 1;
                }
            }
        }
        (out, order)
    }
}

/// A statement and its parameters, ready to run on a [`Source`].
pub(crate) struct Query<'s> {
    source: &'s Source,
    sql: String,
    params: Vec<Param>,
}

impl Source {
    /// A statement to run on this source (see the module's documentation for the SQL).
    pub(crate) fn query(&self, sql: impl Into<String>) -> Query<'_> {
        Query { source: self, sql: sql.into(), params: Vec::new() }
    }
}

/// The rows a statement answers, as a stream; a channel bounds how many wait.
const STREAM_BUFFER: usize = 64;

impl Query<'_> {
    /// Bind the next parameter (`$1`, then `$2`, …).
    pub(crate) fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Every row.
    pub(crate) async fn fetch_all(self) -> Result<Vec<Row>, sqlx::Error> {
        self.fetch().try_collect().await
    }

    /// The one row the statement answers (an error when it answers none).
    pub(crate) async fn fetch_one(self) -> Result<Row, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional(self) -> Result<Option<Row>, sqlx::Error> {
        let mut rows = self.fetch();
        rows.try_next().await
    }

    /// The rows, one at a time. The statement runs in its own task, which sends each row
    /// as it is decoded and stops when the stream is dropped, so memory stays flat
    /// however many rows there are.
    pub(crate) fn fetch(self) -> BoxStream<'static, Result<Row, sqlx::Error>> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Row, sqlx::Error>>(STREAM_BUFFER);
        let pool = self.source.pool.clone();
        let (sql, params) = (self.sql, self.params);
        tokio::spawn(async move {
            match pool {
                Pool::Any(pool) => {
                    let mut query = sqlx::query(&sql);
                    for p in &params {
                        query = match p {
                            Param::Int(n) => query.bind(*n),
                            Param::Text(s) => query.bind(s.as_str()),
                        };
                    }
                    forward(query.fetch(&pool), Row::from_any, tx).await;
                }
                Pool::MySql(pool, dialect) => {
                    let (sql, order) = dialect.rewrite(&sql);
                    let mut query = sqlx::query::<sqlx::MySql>(&sql);
                    for &at in &order {
                        query = match params.get(at) {
                            Some(Param::Int(n)) => query.bind(*n),
                            Some(Param::Text(s)) => query.bind(s.as_str()),
                            None => query.bind(None::<i64>),
                        };
                    }
                    forward(query.fetch(&pool), Row::from_mysql, tx).await;
                }
            }
        });
        tokio_stream(rx)
    }
}

/// Send each row of `rows`, converted, until the rows end, one fails, or the receiver is
/// gone (the stream was dropped). The column names are read from the first row only.
async fn forward<R: sqlx::Row>(
    mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    convert: fn(&R, &Arc<[String]>) -> Result<Row, sqlx::Error>,
    tx: tokio::sync::mpsc::Sender<Result<Row, sqlx::Error>>,
) {
    let mut names: Option<Arc<[String]>> = None;
    while let Some(row) = rows.next().await {
        let row = row.and_then(|r| {
            let names = names.get_or_insert_with(|| r.columns().iter().map(|c| c.name().to_string()).collect::<Vec<_>>().into());
            convert(&r, names)
        });
        let failed = row.is_err();
        if tx.send(row).await.is_err() || failed {
            break;
        }
    }
}

/// A stream of what `rx` receives (which may be polled again once it has ended).
fn tokio_stream<T: Send + 'static>(rx: tokio::sync::mpsc::Receiver<T>) -> BoxStream<'static, T> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).fuse().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confluence() -> Dialect {
        Dialect { tables: [("content", "CONTENT"), ("bodycontent", "BODYCONTENT"), ("spaces", "SPACES")].map(|(a, b)| (a.into(), b.into())).into() }
    }

    #[test]
    fn parameters_become_question_marks_in_the_order_they_appear() {
        let (sql, order) = confluence().rewrite("SELECT 1 FROM content c WHERE c.spaceid = $2 AND c.pageid = $1 OR c.parentid = $2");
        assert_eq!(sql, "SELECT 1 FROM CONTENT c WHERE c.spaceid = ? AND c.pageid = ? OR c.parentid = ?");
        assert_eq!(order, vec![1, 0, 1]);
    }

    #[test]
    fn tables_types_and_lengths_are_spelled_for_mysql_but_quotes_and_columns_are_left_alone() {
        let (sql, _) = confluence().rewrite(
            "SELECT CAST(c.creationdate AS TEXT) AS created, CAST(NULL AS BIGINT), CAST(x AS VARCHAR(64)), length(b.body), \
             'content $1', \"AO_X\".\"ID\", c.content FROM content c JOIN bodycontent b ON b.contentid = c.contentid",
        );
        assert_eq!(
            sql,
            "SELECT CAST(c.creationdate AS CHAR) AS created, CAST(NULL AS SIGNED), CAST(x AS CHAR(64)), CHAR_LENGTH(b.body), \
             'content $1', \"AO_X\".\"ID\", c.content FROM CONTENT c JOIN BODYCONTENT b ON b.contentid = c.contentid"
        );
    }

    #[test]
    fn binary_dates_read_as_postgresql_casts_them() {
        assert_eq!(mysql_time(&[7, 0xe8, 0x07, 5, 1, 9, 30, 0]).unwrap(), "2024-05-01 09:30:00");
        assert_eq!(mysql_time(&[4, 0xe8, 0x07, 5, 1]).unwrap(), "2024-05-01 00:00:00");
        assert_eq!(mysql_time(&[11, 0xe8, 0x07, 5, 1, 9, 30, 5, 0x20, 0xa1, 0x07, 0]).unwrap(), "2024-05-01 09:30:05.5");
        assert!(mysql_time(&[7, 0xe8]).is_err());
    }
}
