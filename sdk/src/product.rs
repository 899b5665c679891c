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
    crate::paging::paged(move |cursor| wit::page_tree(space_key, cursor, 5_000).map(|p| (p.nodes, p.next)))
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
