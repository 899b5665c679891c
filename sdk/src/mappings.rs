//! How server entities map to cloud entities (needs a `migration-tracing-*` scope).
//!
//! Namespaces: `identity:user`, `identity:group`, `confluence:space`, `confluence:page`,
//! `confluence:blogpost`, `confluence:comment`, `confluence:attachment`.

use std::collections::HashMap;

use crate::bindings::ferry::migration::mappings as wit;
use crate::Error;

pub use wit::Mapping;

/// Server-id prefix of users in `identity:user`, by user key.
pub const USER_KEY: &str = "confluence.userkey/";
/// Server-id prefix of users in `identity:user`, by email address.
pub const USER_EMAIL: &str = "email/";

const PAGE_SIZE: u32 = 5_000;
const LOOKUP_CHUNK: usize = 1_000;

/// Every mapping of a namespace, a page at a time under the hood.
pub fn iter(namespace: &str) -> impl Iterator<Item = Result<Mapping, Error>> + '_ {
    crate::paging::paged(move |cursor| wit::page(namespace, cursor, PAGE_SIZE).map(|p| (p.entries, p.next)))
}

/// The cloud ids of the given server ids, as a map. Ids without a mapping are absent.
pub fn lookup<S: AsRef<str>>(namespace: &str, server_ids: &[S]) -> Result<HashMap<String, String>, Error> {
    let mut found = HashMap::with_capacity(server_ids.len());
    for chunk in server_ids.chunks(LOOKUP_CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|s| s.as_ref().to_string()).collect();
        for m in wit::lookup(namespace, &ids)? {
            found.insert(m.server_id, m.cloud_id);
        }
    }
    Ok(found)
}
