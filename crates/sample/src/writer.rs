//! Batched, transactional inserts into a sample site's database (SQLite, PostgreSQL, or
//! MySQL / MariaDB).
//!
//! The schemas are written once, in PostgreSQL's words. On MySQL they are created as
//! Confluence and Jira create theirs there: `DATETIME` for timestamps, `LONGTEXT` bodies,
//! `LONGBLOB` files, `BIT(1)` flags, every table `utf8mb4` under the binary collation
//! `utf8mb4_bin`, and (for Confluence) its own tables named in upper case (`CONTENT`,
//! `SPACES`), the user tables (`cwd_*`, `user_mapping`) in lower case.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::{Any, AnyPool, Transaction};

/// A value to insert.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
    Null,
}

/// Rows buffered per table before one multi-row INSERT.
const BATCH: usize = 200;

/// The database engine written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

pub struct TableWriter {
    _pool: AnyPool,
    engine: Engine,
    /// MySQL: name Confluence's own tables in upper case, as Confluence does there.
    upper_case_tables: bool,
    tx: Option<Transaction<'static, Any>>,
    pending: BTreeMap<String, (Vec<String>, Vec<Vec<Value>>)>,
}

impl TableWriter {
    /// Open `url` (a SQLite, PostgreSQL, or MySQL / MariaDB URL; MySQL's password comes
    /// from `~/.my.cnf`, as for a source). `confluence`: the site is Confluence's, whose
    /// own tables MySQL gets in upper case.
    pub async fn connect(url: &str, confluence: bool) -> anyhow::Result<TableWriter> {
        sqlx::any::install_default_drivers();
        let engine = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => Engine::Postgres,
            Some("mysql" | "mariadb") => Engine::MySql,
            _ => Engine::Sqlite,
        };
        let connect_to = if engine == Engine::MySql { ferry_source::mysql_url(url, None)? } else { url.to_string() };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&connect_to)
            .await
            .with_context(|| format!("cannot open the sample site database {}", ferry_source::redact_url(url)))?;
        let mut tx = pool.begin().await?;
        if engine == Engine::MySql {
            // Double quotes name identifiers, and a backslash in a text is a backslash.
            sqlx::raw_sql("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES,NO_BACKSLASH_ESCAPES')").execute(&mut *tx).await?;
        }
        Ok(TableWriter { _pool: pool, engine, upper_case_tables: confluence, tx: Some(tx), pending: BTreeMap::new() })
    }

    /// Whether the database is MySQL or MariaDB.
    pub fn is_mysql(&self) -> bool {
        self.engine == Engine::MySql
    }

    pub async fn execute_script(&mut self, sql: &str) -> anyhow::Result<()> {
        self.flush_all().await?;
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let statement = match self.engine {
                Engine::MySql => self.for_mysql(statement),
                _ => statement.to_string(),
            };
            let tx = self.tx.as_mut().expect("open transaction");
            sqlx::raw_sql(&statement).execute(&mut **tx).await.with_context(|| format!("sample schema: {statement}"))?;
        }
        Ok(())
    }

    /// The table `name` as this database spells it.
    fn table_name(&self, name: &str) -> String {
        let bare = name.trim_matches('"');
        let lower_case = bare.starts_with("cwd_") || bare.starts_with("AO_") || bare == "user_mapping";
        if self.engine == Engine::MySql && self.upper_case_tables && !lower_case {
            bare.to_ascii_uppercase()
        } else {
            bare.to_string()
        }
    }

    /// A schema statement in MySQL's words (see the module's documentation).
    fn for_mysql(&self, statement: &str) -> String {
        let code: Vec<&str> = statement.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
        let mut words: Vec<String> = code.join("\n").split_whitespace().map(str::to_string).collect();
        // The table a CREATE TABLE or CREATE INDEX … ON names.
        let table_at = match words.iter().map(|w| w.to_ascii_uppercase()).collect::<Vec<_>>().as_slice() {
            [create, table, ..] if create == "CREATE" && table == "TABLE" => Some(2),
            [create, index, ..] if create == "CREATE" && index == "INDEX" => words.iter().position(|w| w.eq_ignore_ascii_case("ON")).map(|on| on + 1),
            _ => None,
        };
        if let Some(at) = table_at {
            let (name, rest) = words[at].split_once('(').map_or((words[at].clone(), String::new()), |(n, r)| (n.to_string(), format!("({r}")));
            words[at] = format!("\"{}\"{rest}", self.table_name(&name));
        }
        let mut sql = words.join(" ");
        for (from, to) in
            [("timestamp with time zone", "DATETIME"), ("timestamp", "DATETIME"), ("bytea", "LONGBLOB"), ("text", "LONGTEXT"), ("boolean", "BIT(1)")]
        {
            sql = replace_word(&sql, from, to);
        }
        sql = sql.replace("DEFAULT false", "DEFAULT 0").replace("DEFAULT true", "DEFAULT 1");
        if words.first().is_some_and(|w| w.eq_ignore_ascii_case("CREATE")) && words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("TABLE")) {
            sql.push_str(" DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
        }
        sql
    }

    pub async fn row(&mut self, table: &str, columns: &[&str], values: Vec<Value>) -> anyhow::Result<()> {
        debug_assert_eq!(columns.len(), values.len(), "{table}");
        let key = format!("{table}({})", columns.join(","));
        let entry = self
            .pending
            .entry(key.clone())
            .or_insert_with(|| (std::iter::once(table.to_string()).chain(columns.iter().map(|c| c.to_string())).collect(), Vec::new()));
        entry.1.push(values);
        if entry.1.len() >= BATCH {
            self.flush(&key).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, key: &str) -> anyhow::Result<()> {
        let Some((names, rows)) = self.pending.remove(key) else { return Ok(()) };
        if rows.is_empty() {
            return Ok(());
        }
        let (table, columns) = names.split_first().expect("table name first");
        // Values go in as SQL literals so each database types them from the column
        // (text into timestamp, NULL into bigint); they are generated here, and escaped.
        let mut sql = format!("INSERT INTO \"{}\" ({}) VALUES ", self.table_name(table), columns.join(", "));
        for (r, row) in rows.into_iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                match value {
                    Value::Int(n) => sql.push_str(&n.to_string()),
                    Value::Text(s) => {
                        // MySQL's DATETIME takes no zone: the sample's times are UTC.
                        let s = match self.engine {
                            Engine::MySql => s.strip_suffix("+00").filter(|t| t.len() == 19).map_or(s.clone(), str::to_string),
                            _ => s,
                        };
                        sql.push('\'');
                        sql.push_str(&s.replace('\'', "''"));
                        sql.push('\'');
                    }
                    Value::Bool(b) => sql.push_str(if b { "TRUE" } else { "FALSE" }),
                    Value::Bytes(b) if self.engine == Engine::Postgres => sql.push_str(&format!("'\\x{}'::bytea", hex::encode(b))),
                    Value::Bytes(b) => sql.push_str(&format!("X'{}'", hex::encode(b))),
                    Value::Null => sql.push_str("NULL"),
                }
            }
            sql.push(')');
        }
        let tx = self.tx.as_mut().expect("open transaction");
        sqlx::raw_sql(&sql).execute(&mut **tx).await.with_context(|| format!("inserting sample rows into {table}"))?;
        Ok(())
    }

    async fn flush_all(&mut self) -> anyhow::Result<()> {
        let keys: Vec<String> = self.pending.keys().cloned().collect();
        for key in keys {
            self.flush(&key).await?;
        }
        Ok(())
    }

    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.flush_all().await?;
        self.tx.take().expect("open transaction").commit().await?;
        Ok(())
    }
}

/// `text` with each whole word `from` (any case) replaced by `to`.
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(from) {
        let start = at + found;
        let end = start + from.len();
        let word_char = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        let whole = !word_char(lower[..start].chars().last()) && !word_char(lower[end..].chars().next());
        out.push_str(&text[at..start]);
        out.push_str(if whole { to } else { &text[start..end] });
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_words_are_replaced_whole() {
        assert_eq!(super::replace_word("body text, textvalue text NOT NULL", "text", "LONGTEXT"), "body LONGTEXT, textvalue LONGTEXT NOT NULL");
        assert_eq!(super::replace_word("\"DESCRIPTION\" text", "text", "LONGTEXT"), "\"DESCRIPTION\" LONGTEXT");
    }
}
