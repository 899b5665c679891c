//! The app's own Active Objects tables, streamed in batches into your serde types.
//!
//! ```ignore
//! #[derive(serde::Deserialize)]
//! #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
//! struct Rating { id: i64, page_id: i64, user_key: Option<String>, stars: i32 }
//!
//! for rating in tables::rows::<Rating>("AO_2B1F0C_RATING", &["ID", "PAGE_ID", "USER_KEY", "STARS"]) {
//!     let rating = rating?;
//! }
//! ```
//! Only columns declared in `ferry-plugin.toml` can be read, and each needs the
//! `app-data-*` scope of its class.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::bindings::ferry::migration::app_tables as wit;
use crate::row::RowDeserializer;
use crate::Error;

pub use wit::Cell;

/// Rows fetched per host call.
pub const BATCH: u32 = 4_096;

/// Stream the given columns of `table`, ordered by `ID`, deserialized into `T`.
pub fn rows<T: DeserializeOwned>(table: &str, columns: &[&str]) -> Rows<T> {
    Rows {
        table: table.to_string(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        cursor: None,
        buffer: Vec::new().into_iter(),
        done: false,
        _type: PhantomData,
    }
}

/// The number of rows in `table` (needs `app-data-other`).
pub fn count(table: &str) -> Result<u64, Error> {
    Ok(wit::count(table)?)
}

/// An iterator over a table's rows; see [`rows`].
pub struct Rows<T> {
    table: String,
    columns: Vec<String>,
    cursor: Option<String>,
    buffer: std::vec::IntoIter<Vec<Cell>>,
    done: bool,
    _type: PhantomData<T>,
}

impl<T> Rows<T> {
    /// The next raw row, fetching a batch when the buffer is empty.
    pub fn next_cells(&mut self) -> Option<Result<Vec<Cell>, Error>> {
        loop {
            if let Some(row) = self.buffer.next() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            match wit::read(&self.table, &self.columns, self.cursor.as_deref(), BATCH) {
                Ok(batch) => {
                    self.done = batch.next.is_none();
                    self.cursor = batch.next;
                    self.buffer = batch.rows.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
        }
    }
}

impl<T: DeserializeOwned> Iterator for Rows<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let cells = match self.next_cells()? {
            Ok(cells) => cells,
            Err(e) => return Some(Err(e)),
        };
        Some(
            T::deserialize(RowDeserializer::new(&self.columns, cells))
                .map_err(|e| Error::Decode(format!("{} row: {}", self.table, e.0))),
        )
    }
}
