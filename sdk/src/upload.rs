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
/// ```no_run
/// use ferry_sdk::upload;
///
/// # fn main() -> Result<(), ferry_sdk::Error> {
/// let mut out = upload::JsonLines::new("ratings.jsonl");
/// out.push(&serde_json::json!({"page": "65601", "stars": 5}))?;
/// let sent = out.finish()?; // uploads the last chunk and says how many records went
/// # Ok(())
/// # }
/// ```
///
/// Call [`JsonLines::finish`] to learn whether the last chunk was accepted. If a
/// `JsonLines` is dropped without it (an early `?` return, a forgotten call), the last
/// chunk is still uploaded, and the run's log says so (with the error, if the upload
/// failed): nothing pushed is lost silently.
pub struct JsonLines {
    label: String,
    buffer: Vec<u8>,
    records: u64,
    finished: bool,
}

impl JsonLines {
    /// Bytes buffered before a chunk is uploaded.
    pub const CHUNK: usize = 1 << 20;

    /// Start uploading records under `label`.
    pub fn new(label: &str) -> JsonLines {
        JsonLines { label: label.to_string(), buffer: Vec::with_capacity(Self::CHUNK), records: 0, finished: false }
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
        self.finished = true;
        self.flush()?;
        Ok(self.records)
    }
}

impl Drop for JsonLines {
    fn drop(&mut self) {
        if self.finished || self.buffer.is_empty() {
            return;
        }
        let pending = self.buffer.len();
        match self.flush() {
            Ok(()) => crate::log::warn(&format!(
                "upload::JsonLines `{}` was dropped without finish(): its last {pending} bytes were uploaded on drop; call finish() to see upload errors",
                self.label
            )),
            Err(e) => crate::log::error(&format!(
                "upload::JsonLines `{}` was dropped without finish(), and uploading its last {pending} bytes failed: {e}",
                self.label
            )),
        }
    }
}
