//! Minimal Notes: the smallest useful ferry plugin. It reads the app's notes, finds the
//! cloud page of each note's page, and uploads the notes as JSON lines to the cloud app.
//!
//! `docs/plugin-guide.md` walks through this file.

use ferry_sdk::mappings::{self, Namespace};
use ferry_sdk::{progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::{Deserialize, Serialize};

/// The app's table, as declared in ferry-plugin.toml.
const NOTES: &str = "AO_29065E_NOTE";

/// One row of the table. The field names (after the rename) are the columns read, so
/// each must be declared in ferry-plugin.toml with its class.
#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Note {
    id: i64,
    page_id: i64,
    body: Option<String>,
}

/// What the cloud app imports: the page as its cloud id.
#[derive(Serialize)]
struct CloudNote {
    server_id: i64,
    page_id: String,
    body: Option<String>,
}

struct MinimalNotes;

impl Plugin for MinimalNotes {
    /// Called once per app migration. Every read below goes through the scopes the
    /// admin granted: a read they do not cover returns `Error::Denied(scope)`.
    fn run(_details: &MigrationDetails) -> Result<Outcome, Error> {
        // Uploads go out in ~1 MiB chunks under one label.
        let mut out = upload::JsonLines::new("notes.jsonl");
        let mut without_page = 0u64;
        // Rows arrive in batches, ordered by ID, decoded into `Note`.
        for note in tables::read::<Note>(NOTES) {
            let note = note?;
            // One lookup per note keeps the example short; batch lookups for speed
            // (plugins/page_ratings translates 2,000 at a time).
            let pages = mappings::lookup_ids(Namespace::Page, &[note.page_id])?;
            let Some(page_id) = pages.get(&note.page_id) else {
                // The page did not migrate (yet): say so in the outcome, don't fail.
                without_page += 1;
                continue;
            };
            out.push(&CloudNote { server_id: note.id, page_id: page_id.clone(), body: note.body })?;
        }
        // Sends the last chunk; returns how many records went.
        let sent = out.finish()?;
        progress(100, &format!("{sent} notes uploaded"));
        if without_page > 0 {
            return Ok(Outcome::Incomplete(format!("{without_page} notes belong to pages without a cloud copy")));
        }
        Ok(Outcome::Complete)
    }
}

// Exports `run` and embeds the manifest.
ferry_sdk::export_plugin!(MinimalNotes);
