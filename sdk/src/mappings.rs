//! How server entities map to cloud entities (needs a `migration-tracing-*` scope).
//!
//! Each [`Namespace`] names one kind of entity. `identity:*` need
//! `migration-tracing-identity`; `confluence:*` need `migration-tracing-product` and are
//! served only for the spaces of the migration.
//!
//! ```no_run
//! use ferry_sdk::mappings::{self, Namespace};
//!
//! # fn main() -> Result<(), ferry_sdk::Error> {
//! // Pages by their numeric content id.
//! let pages = mappings::lookup_ids(Namespace::Page, &[65601, 65602])?;
//! if let Some(cloud_page) = pages.get(&65601) {
//!     ferry_sdk::log::info(&format!("page 65601 is {cloud_page} in the cloud"));
//! }
//! // Users by user key.
//! let users = mappings::lookup(Namespace::User, &[format!("{}{}", mappings::USER_KEY, "8a7f808a")])?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;

use crate::bindings::ferry::migration::mappings as wit;
use crate::Error;

pub use wit::Mapping;

/// Server-id prefix of users in `identity:user`, by user key.
pub const USER_KEY: &str = "confluence.userkey/";
/// Server-id prefix of users in `identity:user`, by email address.
pub const USER_EMAIL: &str = "email/";

/// A mapping namespace: what kind of server entity the server ids name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `identity:user`: server ids are `confluence.userkey/<key>` ([`USER_KEY`]) or
    /// `email/<address>` ([`USER_EMAIL`]); cloud ids are account ids.
    User,
    /// `identity:group`: server ids are lower-case group names.
    Group,
    /// `confluence:space`: server ids are space keys.
    Space,
    /// `confluence:page`: server ids are content ids.
    Page,
    /// `confluence:blogpost`: server ids are content ids.
    BlogPost,
    /// `confluence:comment`: server ids are content ids.
    Comment,
    /// `confluence:attachment`: server ids are content ids.
    Attachment,
}

impl Namespace {
    /// Every namespace.
    pub const ALL: [Namespace; 7] =
        [Namespace::User, Namespace::Group, Namespace::Space, Namespace::Page, Namespace::BlogPost, Namespace::Comment, Namespace::Attachment];

    /// The namespace's name in the contract, e.g. `confluence:page`.
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::User => "identity:user",
            Namespace::Group => "identity:group",
            Namespace::Space => "confluence:space",
            Namespace::Page => "confluence:page",
            Namespace::BlogPost => "confluence:blogpost",
            Namespace::Comment => "confluence:comment",
            Namespace::Attachment => "confluence:attachment",
        }
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

const PAGE_SIZE: u32 = 5_000;
const LOOKUP_CHUNK: usize = 1_000;

/// Every mapping of a namespace ([`Namespace`] or its name), a page at a time under the hood.
pub fn iter<N: AsRef<str>>(namespace: N) -> impl Iterator<Item = Result<Mapping, Error>> {
    crate::paging::paged(move |cursor| wit::page(namespace.as_ref(), cursor, PAGE_SIZE).map(|p| (p.entries, p.next)))
}

/// The cloud ids of the given server ids, as a map. Ids without a mapping are absent.
pub fn lookup<N: AsRef<str>, S: AsRef<str>>(namespace: N, server_ids: &[S]) -> Result<HashMap<String, String>, Error> {
    let mut found = HashMap::with_capacity(server_ids.len());
    for chunk in server_ids.chunks(LOOKUP_CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|s| s.as_ref().to_string()).collect();
        for m in wit::lookup(namespace.as_ref(), &ids)? {
            found.insert(m.server_id, m.cloud_id);
        }
    }
    Ok(found)
}

/// [`lookup`] by numeric server ids (content ids): the map is keyed by the same numbers.
/// Server ids the host answers with that are not numbers are left out.
pub fn lookup_ids(namespace: Namespace, server_ids: &[i64]) -> Result<HashMap<i64, String>, Error> {
    let ids: Vec<String> = server_ids.iter().map(i64::to_string).collect();
    Ok(lookup(namespace, &ids)?.into_iter().filter_map(|(server, cloud)| server.parse().ok().map(|id| (id, cloud))).collect())
}
