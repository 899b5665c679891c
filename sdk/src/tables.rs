//! The app's own Active Objects tables, streamed in batches into your serde types.
//!
//! ```no_run
//! use ferry_sdk::tables;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
//! struct Rating { id: i64, page_id: i64, user_key: Option<String>, stars: i32 }
//!
//! # fn main() -> Result<(), ferry_sdk::Error> {
//! // The columns asked for are the struct's fields: ID, PAGE_ID, USER_KEY, STARS.
//! for rating in tables::read::<Rating>("AO_2B1F0C_RATING") {
//!     let rating = rating?;
//! }
//! # Ok(())
//! # }
//! ```
//! A row that does not fit the type is an [`Error::Decode`] naming the table, the row's
//! `ID` and the column.
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

/// Stream `table`, ordered by `ID`, deserialized into `T`: the columns read are the
/// names of `T`'s fields (after serde's renames), so they are listed once, in the type.
///
/// # Panics
/// When `T` is not a struct with named fields (a programming error, found on the first
/// test run).
pub fn read<T: DeserializeOwned>(table: &str) -> Rows<T> {
    let fields = crate::row::field_names::<T>().unwrap_or_else(|| {
        panic!("tables::read::<{}>: the type is not a struct with named fields; use tables::rows with the column names", std::any::type_name::<T>())
    });
    rows(table, fields)
}

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
        let id = self.columns.iter().position(|c| c.eq_ignore_ascii_case("ID")).and_then(|i| match cells.get(i) {
            Some(Cell::Integer(id)) => Some(id.to_string()),
            Some(Cell::Text(id)) => Some(id.clone()),
            _ => None,
        });
        Some(T::deserialize(RowDeserializer::new(&self.columns, cells)).map_err(|e| {
            let row = id.map(|id| format!(" row ID={id}")).unwrap_or_else(|| " row".into());
            Error::Decode(format!("{}{row}: {}", self.table, e.0))
        }))
    }
}
