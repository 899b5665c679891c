//! Reading an app's own Active Objects tables, in batches ordered by `ID`.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{cell_at, Source, SourceError};

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
    /// `table` and `columns` must already be checked against the plugin's manifest
    /// (plain upper-case AO identifiers), as they are quoted into the SQL.
    pub async fn read_app_table(
        &self,
        table: &str,
        columns: &[String],
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<AppTableBatch, SourceError> {
        // On SQLite, `+"COL"` is a no-op expression without a declared type, so values come
        // back by storage class: declared types such as `boolean` have no Any mapping.
        let unary = if self.kind == super::SourceKind::Sqlite { "+" } else { "" };
        let mut select = String::from("SELECT \"ID\"");
        for column in columns {
            select.push_str(&format!(", {unary}\"{column}\""));
        }
        let sql = format!("{select} FROM \"{table}\" WHERE \"ID\" > $1 ORDER BY \"ID\" LIMIT $2");
        let mut stream = sqlx::query(&sql).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch(self.pool());
        let mut rows = Vec::with_capacity(limit as usize);
        let mut last = None;
        while let Some(row) = stream.try_next().await? {
            let id = match cell_at(&row, 0)? {
                Cell::Integer(id) => id,
                other => return Err(SourceError::Data(format!("{table}.ID is not an integer: {other:?}"))),
            };
            last = Some(id);
            rows.push((1..=columns.len()).map(|i| cell_at(&row, i)).collect::<Result<_, _>>()?);
        }
        let full = rows.len() == limit as usize;
        Ok(AppTableBatch { rows, last_id: if full { last } else { None } })
    }

    /// The number of rows in an app table (name already checked against the manifest).
    pub async fn count_app_table(&self, table: &str) -> Result<u64, SourceError> {
        let row = sqlx::query(&format!("SELECT COUNT(*) FROM \"{table}\"")).fetch_one(self.pool()).await?;
        Ok(row.try_get::<i64, _>(0)? as u64)
    }

    /// Whether the source has the named table (any case-sensitive AO table name).
    pub async fn has_table(&self, table: &str) -> Result<bool, SourceError> {
        let sql = match self.kind {
            super::SourceKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            super::SourceKind::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
        };
        let row = sqlx::query(sql).bind(table).fetch_one(self.pool()).await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }
}
