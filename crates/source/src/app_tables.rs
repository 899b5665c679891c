//! Reading an app's own Active Objects tables, in batches ordered by `ID`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use sqlx::Row;

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
    /// The database itself packs the batch into one JSON document (`json_group_array` on
    /// SQLite, `json_agg` on PostgreSQL), so one row crosses the driver per batch and any
    /// column type (timestamps included) arrives as JSON. Blobs come as bytes on SQLite
    /// and as `\\x…` hex text on PostgreSQL.
    ///
    /// `table` and `columns` must already be checked against the plugin's manifest
    /// (plain upper-case AO identifiers), as they are quoted into the SQL.
    pub async fn read_app_table(&self, table: &str, columns: &[String], after_id: Option<i64>, limit: u32) -> Result<AppTableBatch, SourceError> {
        let cells: Vec<String> = std::iter::once("\"ID\"".to_string())
            .chain(columns.iter().map(|c| match self.kind {
                super::SourceKind::Sqlite => {
                    format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN json_object('$bytes', hex(\"{c}\")) ELSE \"{c}\" END")
                }
                super::SourceKind::Postgres => format!("\"{c}\""),
            }))
            .collect();
        let inner = format!("SELECT * FROM \"{table}\" WHERE \"ID\" > $1 ORDER BY \"ID\" LIMIT $2");
        let sql = match self.kind {
            super::SourceKind::Sqlite => {
                format!("SELECT json_group_array(json_array({})) FROM ({inner})", cells.join(", "))
            }
            super::SourceKind::Postgres => {
                format!("SELECT COALESCE(json_agg(json_build_array({}) ORDER BY \"ID\"), '[]')::text FROM ({inner}) AS batch", cells.join(", "))
            }
        };
        let row = sqlx::query(&sql).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch_one(self.pool()).await?;
        let json: String = row.try_get(0)?;
        let mut rows: Vec<Vec<Cell>> = serde_json::from_str(&json).map_err(|e| SourceError::Data(format!("{table} batch: {e}")))?;
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

    /// The number of rows in an app table (name already checked against the manifest).
    pub async fn count_app_table(&self, table: &str) -> Result<u64, SourceError> {
        let row = sqlx::query(&format!("SELECT COUNT(*) FROM \"{table}\"")).fetch_one(self.pool()).await?;
        Ok(row.try_get::<i64, _>(0)? as u64)
    }
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
