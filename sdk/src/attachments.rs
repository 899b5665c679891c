//! The attachments of pages and blog posts of the migration's spaces (contract 0.2; needs
//! `product-data-ugc`).
//!
//! ```no_run
//! use ferry_sdk::attachments;
//!
//! # fn main() -> Result<(), ferry_sdk::Error> {
//! for attachment in attachments::list("65601")? {
//!     if attachment.media_type == "application/vnd.jgraph.mxfile" {
//!         let bytes = attachments::read_all(&attachment)?;
//!         ferry_sdk::log::info(&format!("{}: {} bytes", attachment.file_name, bytes.len()));
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use crate::bindings::ferry::migration::attachments as wit;
use crate::Error;

pub use wit::Attachment;

/// Bytes asked for per host call (the host serves at most 1 MiB a call).
pub const CHUNK: u32 = 1 << 20;

/// The current attachments of a page or blog post.
pub fn list(content_id: &str) -> Result<Vec<Attachment>, Error> {
    Ok(wit::list(content_id)?)
}

/// Up to `length` bytes of an attachment from `offset`; empty at the end of the file.
pub fn read(attachment_id: &str, offset: u64, length: u32) -> Result<Vec<u8>, Error> {
    Ok(wit::read(attachment_id, offset, length)?)
}

/// An attachment's whole file, read in [`CHUNK`]s. For big files, prefer [`chunks`] and
/// handle each chunk as it comes: plugin memory is limited.
pub fn read_all(attachment: &Attachment) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::with_capacity(usize::try_from(attachment.size).unwrap_or(0).min(64 << 20));
    for chunk in chunks(&attachment.id) {
        bytes.extend_from_slice(&chunk?);
    }
    Ok(bytes)
}

/// An attachment's file as a sequence of chunks of at most [`CHUNK`] bytes.
pub fn chunks(attachment_id: &str) -> impl Iterator<Item = Result<Vec<u8>, Error>> + '_ {
    let mut offset = 0u64;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match read(attachment_id, offset, CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                done = true;
                None
            }
            Ok(chunk) => {
                offset += chunk.len() as u64;
                Some(Ok(chunk))
            }
            Err(e) => {
                done = true;
                Some(Err(e))
            }
        }
    })
}
