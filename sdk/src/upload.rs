//! Uploading the app's transformed data to its cloud app.

use serde::Serialize;

use crate::bindings::ferry::migration::app_data;
use crate::Error;

/// Upload one blob under a label (1-64 of `a-z 0-9 . _ -`). Returns the bytes still
/// allowed in this run.
pub fn bytes(label: &str, data: &[u8]) -> Result<u64, Error> {
    Ok(app_data::upload(label, data)?)
}

/// Records uploaded as JSON lines, in chunks of about [`JsonLines::CHUNK`] bytes.
///
/// ```ignore
/// let mut out = upload::JsonLines::new("ratings.jsonl");
/// out.push(&record)?;
/// let sent = out.finish()?;
/// ```
pub struct JsonLines {
    label: String,
    buffer: Vec<u8>,
    records: u64,
}

impl JsonLines {
    /// Bytes buffered before a chunk is uploaded.
    pub const CHUNK: usize = 1 << 20;

    /// Start uploading records under `label`.
    pub fn new(label: &str) -> JsonLines {
        JsonLines { label: label.to_string(), buffer: Vec::with_capacity(Self::CHUNK), records: 0 }
    }

    /// Add one record; uploads a chunk when the buffer is full.
    pub fn push<T: Serialize>(&mut self, record: &T) -> Result<(), Error> {
        serde_json::to_writer(&mut self.buffer, record)?;
        self.buffer.push(b'\n');
        self.records += 1;
        if self.buffer.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Records pushed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn flush(&mut self) -> Result<(), Error> {
        if !self.buffer.is_empty() {
            bytes(&self.label, &self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Upload what is left and return the number of records sent.
    pub fn finish(mut self) -> Result<u64, Error> {
        self.flush()?;
        Ok(self.records)
    }
}
