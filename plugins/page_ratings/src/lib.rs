//! Page Ratings: moves each rating of a migrated page to the cloud app, with the page and
//! the rater translated to their cloud ids.
//!
//! Ratings of pages outside this migration's spaces are left alone. Ratings of pages in
//! those spaces that have no cloud copy are counted, and make the outcome `incomplete`.
//! A rater who has no cloud account is sent as `null` (the cloud shows "Former User").

use std::collections::HashSet;

use ferry_sdk::mappings::{self, Namespace, USER_KEY};
use ferry_sdk::{product, progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::{Deserialize, Serialize};

const TABLE: &str = "AO_530061_RATING";
/// Ratings translated per round of mapping lookups.
const CHUNK: usize = 2_000;

/// A row of the server app's rating table: its fields are the columns read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Rating {
    pub id: i64,
    pub page_id: i64,
    pub user_key: Option<String>,
    pub stars: i64,
    pub comment: Option<String>,
    pub created: String,
}

/// A rating as the cloud app imports it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudRating {
    pub server_id: i64,
    pub page_id: String,
    pub account_id: Option<String>,
    pub stars: i64,
    pub comment: Option<String>,
    pub created: String,
}

struct PageRatings;

impl Plugin for PageRatings {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        progress(0, "finding the pages of the migrated spaces");
        let mut in_scope = HashSet::new();
        for space in &details.spaces {
            for node in product::page_tree(space) {
                in_scope.insert(node?.id);
            }
        }
        let total = tables::count(TABLE)?.max(1);
        let mut out = upload::JsonLines::new("ratings.jsonl");
        let mut unmapped_pages = 0u64;
        let mut seen = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut rows = tables::read::<Rating>(TABLE);
        loop {
            let row = rows.next().transpose()?;
            let end = row.is_none();
            if let Some(rating) = row {
                seen += 1;
                if in_scope.contains(&rating.page_id.to_string()) {
                    chunk.push(rating);
                }
            }
            if chunk.len() == CHUNK || (end && !chunk.is_empty()) {
                unmapped_pages += translate(&chunk, &mut out)?;
                chunk.clear();
                progress((seen * 100 / total).min(99) as u8, &format!("{seen} of {total} ratings read"));
            }
            if end {
                break;
            }
        }
        let sent = out.finish()?;
        progress(100, &format!("{sent} ratings uploaded"));
        if unmapped_pages > 0 {
            return Ok(Outcome::Incomplete(format!(
                "{unmapped_pages} ratings belong to pages of the migrated spaces that have no cloud copy; re-run after those pages migrate"
            )));
        }
        Ok(Outcome::Complete)
    }
}

/// Translate and upload one chunk of ratings; returns how many had no cloud page.
fn translate(chunk: &[Rating], out: &mut upload::JsonLines) -> Result<u64, Error> {
    let page_ids: Vec<i64> = chunk.iter().map(|r| r.page_id).collect();
    let user_ids: Vec<String> = chunk.iter().filter_map(|r| r.user_key.as_ref()).map(|k| format!("{USER_KEY}{k}")).collect();
    let pages = mappings::lookup_ids(Namespace::Page, &page_ids)?;
    let users = mappings::lookup(Namespace::User, &user_ids)?;
    let mut unmapped = 0;
    for rating in chunk {
        let Some(page_id) = pages.get(&rating.page_id) else {
            unmapped += 1;
            continue;
        };
        out.push(&CloudRating {
            server_id: rating.id,
            page_id: page_id.clone(),
            account_id: rating.user_key.as_ref().and_then(|k| users.get(&format!("{USER_KEY}{k}")).cloned()),
            stars: rating.stars,
            comment: rating.comment.clone(),
            created: rating.created.clone(),
        })?;
    }
    Ok(unmapped)
}

ferry_sdk::export_plugin!(PageRatings);
