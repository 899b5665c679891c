//! Product data of the Server site: spaces and page tree (`product-data-other`), bodies
//! and comments (`product-data-ugc`), users (`product-data-pii`).

use crate::bindings::ferry::migration::product as wit;
use crate::Error;

pub use wit::{Comment, ContentKind, Space, TreeNode, User};

/// The spaces of this migration.
pub fn spaces() -> Result<Vec<Space>, Error> {
    Ok(wit::spaces()?)
}

/// Every node of a space's page tree (current pages and blog posts).
pub fn page_tree(space_key: &str) -> impl Iterator<Item = Result<TreeNode, Error>> + '_ {
    let mut cursor: Option<String> = None;
    let mut buffer = Vec::new().into_iter();
    let mut done = false;
    std::iter::from_fn(move || loop {
        if let Some(node) = buffer.next() {
            return Some(Ok(node));
        }
        if done {
            return None;
        }
        match wit::page_tree(space_key, cursor.as_deref(), 5_000) {
            Ok(page) => {
                done = page.next.is_none();
                cursor = page.next;
                buffer = page.nodes.into_iter();
            }
            Err(e) => {
                done = true;
                return Some(Err(e.into()));
            }
        }
    })
}

/// The storage-format body of a page or blog post.
pub fn body(content_id: &str) -> Result<String, Error> {
    Ok(wit::body(content_id)?)
}

/// The comments of a page or blog post.
pub fn comments(content_id: &str) -> Result<Vec<Comment>, Error> {
    Ok(wit::comments(content_id)?)
}

/// The users behind the given user keys (deleted users are left out).
pub fn users<S: AsRef<str>>(keys: &[S]) -> Result<Vec<User>, Error> {
    let keys: Vec<String> = keys.iter().map(|k| k.as_ref().to_string()).collect();
    Ok(wit::users(&keys)?)
}
