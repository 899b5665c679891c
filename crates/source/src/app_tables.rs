//! Reading an app's own Active Objects tables, in batches ordered by `ID`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::sql::Value;
use super::{Source, SourceError};

/// One value of an app-table column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer of any width.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Boolean(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A batch of app-table rows and the `ID` to continue after.
#[derive(Debug)]
pub struct AppTableBatch {
    /// The rows, cells in the order of the requested columns.
    pub rows: Vec<Vec<Cell>>,
    /// The `ID` of the last row, when the batch was full (more may follow).
    pub last_id: Option<i64>,
}

impl Source {
    /// Read up to `limit` rows of `table` with `ID` greater than `after_id`.
    ///
    /// On SQLite and PostgreSQL the database itself packs the batch into one JSON
    /// document (`json_group_array`, `json_agg`), so one row crosses the driver per batch
    /// and any column type (timestamps included) arrives as JSON. Blobs come as bytes on
    /// SQLite and as `\\x…` hex text on PostgreSQL. On MySQL the rows come as they are
    /// and each value is read by its column's declared type (see [`Source::mysql_cell`]).
    ///
    /// `table` and `columns` must already be checked against the plugin's manifest
    /// (plain upper-case AO identifiers), as they are quoted into the SQL.
    pub async fn read_app_table(&self, table: &str, columns: &[String], after_id: Option<i64>, limit: u32) -> Result<AppTableBatch, SourceError> {
        let mut rows = match self.kind {
            super::SourceKind::MySql => self.read_mysql_rows(table, columns, after_id, limit).await?,
            kind => {
                let cells: Vec<String> = std::iter::once("\"ID\"".to_string())
                    .chain(columns.iter().map(|c| match kind {
                        super::SourceKind::Sqlite => {
                            format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN json_object('$bytes', hex(\"{c}\")) ELSE \"{c}\" END")
                        }
                        _ => format!("\"{c}\""),
                    }))
                    .collect();
                let inner = format!("SELECT * FROM \"{table}\" WHERE \"ID\" > $1 ORDER BY \"ID\" LIMIT $2");
                let sql = match kind {
                    super::SourceKind::Sqlite => format!("SELECT json_group_array(json_array({})) FROM ({inner})", cells.join(", ")),
                    _ => format!("SELECT COALESCE(json_agg(json_build_array({}) ORDER BY \"ID\"), '[]')::text FROM ({inner}) AS batch", cells.join(", ")),
                };
                let row = self.query(&sql).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch_one().await?;
                let json: String = row.try_get(0)?;
                serde_json::from_str::<Vec<Vec<Cell>>>(&json).map_err(|e| SourceError::Data(format!("{table} batch: {e}")))?
            }
        };
        let mut last = None;
        for row in rows.iter_mut() {
            match row.first() {
                Some(Cell::Integer(id)) => last = Some(*id),
                other => return Err(SourceError::Data(format!("{table}.ID is not an integer: {other:?}"))),
            }
            row.remove(0);
        }
        let full = rows.len() == limit as usize;
        Ok(AppTableBatch { rows, last_id: if full { last } else { None } })
    }

    /// A batch of an app table on MySQL: `ID` then `columns`, each cell read by what its
    /// column is declared as.
    async fn read_mysql_rows(&self, table: &str, columns: &[String], after_id: Option<i64>, limit: u32) -> Result<Vec<Vec<Cell>>, SourceError> {
        let declared = self.mysql_column_types(table).await?;
        let names: Vec<&str> = std::iter::once("ID").chain(columns.iter().map(String::as_str)).collect();
        let list: Vec<String> = names.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM \"{table}\" WHERE \"ID\" > $1 ORDER BY \"ID\" LIMIT $2", list.join(", "));
        let rows = self.query(&sql).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch_all().await?;
        rows.into_iter()
            .map(|row| {
                row.into_values()
                    .into_iter()
                    .zip(&names)
                    .map(|(value, name)| mysql_cell(value, declared.get(&name.to_ascii_lowercase()).map(String::as_str).unwrap_or_default()))
                    .collect::<Result<Vec<Cell>, String>>()
                    .map_err(|e| SourceError::Data(format!("{table}: {e}")))
            })
            .collect()
    }

    /// The declared type of each column of a MySQL table (lower-case name → `COLUMN_TYPE`
    /// with the character set when it has one, e.g. `longtext utf8mb4`, `bit(1)`, `blob`).
    async fn mysql_column_types(&self, table: &str) -> Result<std::collections::HashMap<String, String>, SourceError> {
        let rows = self
            .query(
                "SELECT column_name, CONCAT(column_type, CASE WHEN character_set_name IS NULL THEN '' ELSE ' text' END) \
                 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = $1",
            )
            .bind(table)
            .fetch_all()
            .await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?.to_ascii_lowercase(), r.try_get::<String, _>(1)?.to_ascii_lowercase()))).collect()
    }

    /// The number of rows in an app table (name already checked against the manifest).
    pub async fn count_app_table(&self, table: &str) -> Result<u64, SourceError> {
        let row = self.query(format!("SELECT COUNT(*) FROM \"{table}\"")).fetch_one().await?;
        Ok(row.try_get::<i64, _>(0)? as u64)
    }
}

/// A MySQL value as a cell, by its column's declared type (`declared` as
/// `mysql_column_types` gives it): `bit(1)` and `tinyint(1)` are booleans, as
/// PostgreSQL's `boolean` reads; dates read as PostgreSQL's JSON writes them
/// (`2024-05-01T09:30:00`); a blob or binary column is bytes, a text column under a binary
/// collation is text.
fn mysql_cell(value: Value, declared: &str) -> Result<Cell, String> {
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Int(n) if declared.starts_with("bit(1)") || declared.starts_with("tinyint(1)") => Cell::Boolean(n != 0),
        Value::Int(n) => Cell::Integer(n),
        Value::Bool(b) => Cell::Boolean(b),
        Value::Real(x) => Cell::Real(x),
        Value::Time(t) => Cell::Text(t.replacen(' ', "T", 1)),
        Value::Text(s) => Cell::Text(s),
        Value::Bytes(b) if declared.ends_with(" text") => {
            Cell::Text(String::from_utf8(b).map_err(|_| format!("a text column holds bytes that are not UTF-8 ({declared})"))?)
        }
        Value::Bytes(b) => Cell::Bytes(b),
    })
}

impl<'de> serde::Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cell, D::Error> {
        deserializer.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column value")
    }
    fn visit_unit<E>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }
    fn visit_none<E>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Cell, E> {
        Ok(Cell::Boolean(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Cell, E> {
        Ok(Cell::Integer(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Cell, E> {
        i64::try_from(n).map(Cell::Integer).map_err(|_| E::custom(format!("integer {n} does not fit 64 bits")))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Cell, E> {
        Ok(Cell::Real(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cell, E> {
        Ok(Cell::Text(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Cell, E> {
        Ok(Cell::Text(s))
    }
    /// `{"$bytes": "<hex>"}`: how the SQLite query marks a blob.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
        let mut bytes = None;
        while let Some((key, value)) = map.next_entry::<String, String>()? {
            if key == "$bytes" {
                bytes = Some(hex::decode(&value).map_err(de::Error::custom)?);
            }
        }
        bytes.map(Cell::Bytes).ok_or_else(|| de::Error::custom("an object that is not a blob"))
    }
}
