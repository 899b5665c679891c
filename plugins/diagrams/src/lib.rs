//! Diagrams: moves each diagram of the migrated pages to the cloud app. A diagram is a
//! page attachment named after the diagram; the app's table keeps its name, page, owner
//! and revision.
//!
//! For each diagram of a page in the migration's spaces, the plugin uploads the file as
//! `diagram-<id>.drawio` and a metadata line in `diagrams.jsonl` with the cloud page and
//! the owner's cloud account (`null` for an owner without one: the cloud shows "Former
//! User"). Diagrams of pages outside the migration are left alone. A diagram whose page
//! has no cloud copy, or whose file is missing on the Server, makes the outcome
//! `incomplete`, saying how many and why.

use ferry_sdk::mappings::{self, Namespace, USER_KEY};
use ferry_sdk::{attachments, progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::{Deserialize, Serialize};

const TABLE: &str = "AO_74243D_DIAGRAM";
/// The largest diagram file moved; a bigger one is reported, not loaded into memory.
const MAX_DIAGRAM_BYTES: u64 = 16 << 20;

/// A row of the app's diagram table.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Diagram {
    pub id: i64,
    pub name: String,
    pub page_id: i64,
    pub owner_key: Option<String>,
    pub revision: i64,
}

/// A diagram as the cloud app imports it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudDiagram {
    pub server_id: i64,
    pub name: String,
    pub page_id: String,
    pub owner_account_id: Option<String>,
    pub revision: i64,
    /// The upload label of the diagram's file.
    pub file: String,
    pub media_type: String,
    pub size: u64,
}

/// Why some diagrams did not move.
#[derive(Default)]
struct Shortfall {
    unmapped_pages: u64,
    missing_files: u64,
    too_big: u64,
}

struct Diagrams;

impl Plugin for Diagrams {
    fn run(_details: &MigrationDetails) -> Result<Outcome, Error> {
        let total = tables::count(TABLE)?.max(1);
        let mut metadata = upload::JsonLines::new("diagrams.jsonl");
        let mut short = Shortfall::default();
        for (seen, diagram) in tables::read::<Diagram>(TABLE).enumerate() {
            let diagram = diagram?;
            move_diagram(&diagram, &mut metadata, &mut short)?;
            progress(((seen as u64 + 1) * 100 / total).min(99) as u8, &format!("{} of {total} diagrams", seen + 1));
        }
        let sent = metadata.finish()?;
        progress(100, &format!("{sent} diagrams uploaded"));
        let mut reasons = Vec::new();
        if short.unmapped_pages > 0 {
            reasons.push(format!("{} diagrams are on pages without a cloud copy (re-run after those pages migrate)", short.unmapped_pages));
        }
        if short.missing_files > 0 {
            reasons.push(format!("{} diagrams have no file on the Server (restore the attachment, then re-run)", short.missing_files));
        }
        if short.too_big > 0 {
            reasons.push(format!("{} diagram files are larger than {} MiB", short.too_big, MAX_DIAGRAM_BYTES >> 20));
        }
        Ok(if reasons.is_empty() { Outcome::Complete } else { Outcome::Incomplete(reasons.join("; ")) })
    }
}

fn move_diagram(diagram: &Diagram, metadata: &mut upload::JsonLines, short: &mut Shortfall) -> Result<(), Error> {
    // The page's attachments; a page outside the migration's spaces is not found.
    let files = match attachments::list(&diagram.page_id.to_string()) {
        Ok(files) => files,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(file) = files.into_iter().find(|f| f.file_name == diagram.name || f.file_name == format!("{}.drawio", diagram.name)) else {
        short.missing_files += 1;
        return Ok(());
    };
    let Some(page_id) = mappings::lookup_ids(Namespace::Page, &[diagram.page_id])?.remove(&diagram.page_id) else {
        short.unmapped_pages += 1;
        return Ok(());
    };
    if file.size > MAX_DIAGRAM_BYTES {
        short.too_big += 1;
        return Ok(());
    }
    let bytes = match attachments::read_all(&file) {
        Ok(bytes) => bytes,
        Err(Error::NotFound(_)) => {
            short.missing_files += 1;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let owner_account_id = match &diagram.owner_key {
        Some(key) => mappings::lookup(Namespace::User, &[format!("{USER_KEY}{key}")])?.into_values().next(),
        None => None,
    };
    let label = format!("diagram-{}.drawio", diagram.id);
    upload::bytes(&label, &bytes)?;
    metadata.push(&CloudDiagram {
        server_id: diagram.id,
        name: diagram.name.clone(),
        page_id,
        owner_account_id,
        revision: diagram.revision,
        file: label,
        media_type: file.media_type,
        size: bytes.len() as u64,
    })
}

ferry_sdk::export_plugin!(Diagrams);
