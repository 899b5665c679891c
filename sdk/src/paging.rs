//! One iterator over any cursor-paged host call.

use crate::bindings::ferry::migration::types::AccessError;
use crate::Error;

/// Iterate items fetched a page at a time: `fetch(cursor)` returns a page and the cursor
/// of the next one (none after the last). An error ends the iteration after it is yielded.
pub(crate) fn paged<T, F>(mut fetch: F) -> impl Iterator<Item = Result<T, Error>>
where
    F: FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), AccessError>,
{
    let mut cursor: Option<String> = None;
    let mut buffer = Vec::new().into_iter();
    let mut done = false;
    std::iter::from_fn(move || loop {
        if let Some(item) = buffer.next() {
            return Some(Ok(item));
        }
        if done {
            return None;
        }
        match fetch(cursor.as_deref()) {
            Ok((items, next)) => {
                done = next.is_none();
                cursor = next;
                buffer = items.into_iter();
            }
            Err(e) => {
                done = true;
                return Some(Err(e.into()));
            }
        }
    })
}
