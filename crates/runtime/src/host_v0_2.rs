//! Contract 0.2's host functions. Everything 0.1 has is served by the very same code
//! ([`super::host`]), its values converted to 0.2's identical types; `attachments` is
//! new, behind the same gate and audit.

use ferry_manifest::Scope;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::contract::v0_1::ferry::migration as old;
use super::contract::v0_2::ferry::migration as new;
use super::gate::Volume;
use super::host::{one, parse_content_id, unavailable, RunState};
use super::limits::echo;
use old::types::AccessError;

/// The most bytes one `attachments.read` returns.
pub const MAX_ATTACHMENT_CHUNK: u32 = 1 << 20;

fn scope(s: old::types::Scope) -> new::types::Scope {
    use new::types::Scope as N;
    use old::types::Scope as O;
    match s {
        O::AppDataOther => N::AppDataOther,
        O::AppDataPii => N::AppDataPii,
        O::AppDataSecurity => N::AppDataSecurity,
        O::AppDataUgc => N::AppDataUgc,
        O::ProductDataOther => N::ProductDataOther,
        O::ProductDataPii => N::ProductDataPii,
        O::ProductDataSecurity => N::ProductDataSecurity,
        O::ProductDataUgc => N::ProductDataUgc,
        O::MigrationTracingIdentity => N::MigrationTracingIdentity,
        O::MigrationTracingProduct => N::MigrationTracingProduct,
    }
}

fn err(e: AccessError) -> new::types::AccessError {
    use new::types::AccessError as N;
    match e {
        AccessError::Denied(s) => N::Denied(scope(s)),
        AccessError::NotFound(m) => N::NotFound(m),
        AccessError::Invalid(m) => N::Invalid(m),
        AccessError::Quota(m) => N::Quota(m),
        AccessError::Unavailable(m) => N::Unavailable(m),
    }
}

/// 0.2's run details from the host's (0.1-shaped) details.
pub fn details(d: &old::types::MigrationDetails) -> new::types::MigrationDetails {
    new::types::MigrationDetails {
        migration_id: d.migration_id.clone(),
        transfer_id: d.transfer_id.clone(),
        original_transfer_id: d.original_transfer_id.clone(),
        name: d.name.clone(),
        destination_url: d.destination_url.clone(),
        spaces: d.spaces.clone(),
    }
}

/// The host's (0.1-shaped) outcome from a 0.2 plugin's.
pub fn outcome(o: new::types::Outcome) -> old::types::Outcome {
    match o {
        new::types::Outcome::Complete => old::types::Outcome::Complete,
        new::types::Outcome::Incomplete(reason) => old::types::Outcome::Incomplete(reason),
    }
}

impl new::types::Host for RunState {}

impl new::mappings::Host for RunState {
    async fn page(&mut self, namespace: String, cursor: Option<String>, limit: u32) -> Result<new::mappings::MappingPage, new::types::AccessError> {
        let page = old::mappings::Host::page(self, namespace, cursor, limit).await.map_err(err)?;
        Ok(new::mappings::MappingPage {
            entries: page.entries.into_iter().map(|m| new::mappings::Mapping { server_id: m.server_id, cloud_id: m.cloud_id }).collect(),
            next: page.next,
        })
    }

    async fn lookup(&mut self, namespace: String, server_ids: Vec<String>) -> Result<Vec<new::mappings::Mapping>, new::types::AccessError> {
        let found = old::mappings::Host::lookup(self, namespace, server_ids).await.map_err(err)?;
        Ok(found.into_iter().map(|m| new::mappings::Mapping { server_id: m.server_id, cloud_id: m.cloud_id }).collect())
    }
}

fn cell(c: old::app_tables::Cell) -> new::app_tables::Cell {
    use new::app_tables::Cell as N;
    use old::app_tables::Cell as O;
    match c {
        O::Null => N::Null,
        O::Integer(i) => N::Integer(i),
        O::Real(f) => N::Real(f),
        O::Text(t) => N::Text(t),
        O::Boolean(b) => N::Boolean(b),
        O::Bytes(b) => N::Bytes(b),
    }
}

impl new::app_tables::Host for RunState {
    async fn read(
        &mut self,
        table: String,
        columns: Vec<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<new::app_tables::RowBatch, new::types::AccessError> {
        let batch = old::app_tables::Host::read(self, table, columns, cursor, limit).await.map_err(err)?;
        Ok(new::app_tables::RowBatch {
            columns: batch.columns,
            rows: batch.rows.into_iter().map(|row| row.into_iter().map(cell).collect()).collect(),
            next: batch.next,
        })
    }

    async fn count(&mut self, table: String) -> Result<u64, new::types::AccessError> {
        old::app_tables::Host::count(self, table).await.map_err(err)
    }
}

impl new::product::Host for RunState {
    async fn spaces(&mut self) -> Result<Vec<new::product::Space>, new::types::AccessError> {
        let spaces = old::product::Host::spaces(self).await.map_err(err)?;
        Ok(spaces.into_iter().map(|s| new::product::Space { key: s.key, name: s.name, kind: s.kind }).collect())
    }

    async fn page_tree(&mut self, space_key: String, cursor: Option<String>, limit: u32) -> Result<new::product::TreePage, new::types::AccessError> {
        let page = old::product::Host::page_tree(self, space_key, cursor, limit).await.map_err(err)?;
        Ok(new::product::TreePage {
            nodes: page
                .nodes
                .into_iter()
                .map(|n| new::product::TreeNode {
                    id: n.id,
                    kind: match n.kind {
                        old::product::ContentKind::Page => new::product::ContentKind::Page,
                        old::product::ContentKind::Blogpost => new::product::ContentKind::Blogpost,
                    },
                    title: n.title,
                    parent_id: n.parent_id,
                    position: n.position,
                })
                .collect(),
            next: page.next,
        })
    }

    async fn body(&mut self, content_id: String) -> Result<String, new::types::AccessError> {
        old::product::Host::body(self, content_id).await.map_err(err)
    }

    async fn comments(&mut self, content_id: String) -> Result<Vec<new::product::Comment>, new::types::AccessError> {
        let comments = old::product::Host::comments(self, content_id).await.map_err(err)?;
        Ok(comments.into_iter().map(|c| new::product::Comment { id: c.id, parent_id: c.parent_id, author_key: c.author_key, body: c.body }).collect())
    }

    async fn users(&mut self, keys: Vec<String>) -> Result<Vec<new::product::User>, new::types::AccessError> {
        let users = old::product::Host::users(self, keys).await.map_err(err)?;
        Ok(users.into_iter().map(|u| new::product::User { key: u.key, username: u.username, display_name: u.display_name, email: u.email }).collect())
    }
}

impl new::app_data::Host for RunState {
    async fn upload(&mut self, label: String, data: Vec<u8>) -> Result<u64, new::types::AccessError> {
        old::app_data::Host::upload(self, label, data).await.map_err(err)
    }
}

impl new::progress::Host for RunState {
    async fn report(&mut self, percent: u8, message: String) {
        old::progress::Host::report(self, percent, message).await
    }
}

impl new::log::Host for RunState {
    async fn write(&mut self, level: new::log::Level, message: String) {
        let level = match level {
            new::log::Level::Debug => old::log::Level::Debug,
            new::log::Level::Info => old::log::Level::Info,
            new::log::Level::Warn => old::log::Level::Warn,
            new::log::Level::Error => old::log::Level::Error,
        };
        old::log::Host::write(self, level, message).await
    }
}

impl RunState {
    /// The attachments folder of this run, or why attachments cannot be read.
    fn attachments_root(&self) -> Result<std::path::PathBuf, AccessError> {
        self.ctx
            .attachments
            .clone()
            .ok_or_else(|| AccessError::Unavailable("this run was given no attachments folder (`--attachments` of the plan or of `plugin run`)".into()))
    }
}

/// The size of an attachment's file on disk, else its declared size.
async fn size_of(item: &ferry_source::AttachmentItem) -> u64 {
    match tokio::fs::metadata(&item.path).await {
        Ok(m) => m.len(),
        Err(_) => item.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
    }
}

impl new::attachments::Host for RunState {
    async fn list(&mut self, content_id: String) -> Result<Vec<new::attachments::Attachment>, new::types::AccessError> {
        self.guarded("attachments.list", one(Scope::ProductDataUgc), async |s| {
            let id = parse_content_id(&content_id)?;
            s.ctx.require_content(id).await?;
            let root = s.attachments_root()?;
            let items = s.ctx.source.attachments_of_content(id, &root).await.map_err(unavailable)?;
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                out.push(new::attachments::Attachment {
                    id: a.id.to_string(),
                    content_id: a.page_id.to_string(),
                    size: size_of(&a).await,
                    version: u32::try_from(a.version).unwrap_or(u32::MAX),
                    file_name: a.file_name,
                    media_type: a.media_type,
                });
            }
            let bytes = out.iter().map(|a| (a.file_name.len() + a.media_type.len()) as u64).sum();
            let rows = out.len() as u64;
            Ok((out, Volume { rows, bytes }))
        })
        .await
        .map_err(err)
    }

    async fn read(&mut self, attachment_id: String, offset: u64, length: u32) -> Result<Vec<u8>, new::types::AccessError> {
        self.guarded("attachments.read", one(Scope::ProductDataUgc), async |s| {
            let id: i64 = attachment_id.parse().map_err(|_| AccessError::NotFound(format!("attachment {:?}", echo(&attachment_id))))?;
            let root = s.attachments_root()?;
            let item = s
                .ctx
                .source
                .attachment(id, &root)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| AccessError::NotFound(format!("attachment {id} (current attachments only)")))?;
            s.ctx.require_content(item.page_id).await?;
            if length == 0 {
                return Err(AccessError::Invalid("length must be at least 1".into()));
            }
            let want = length.min(MAX_ATTACHMENT_CHUNK) as usize;
            let mut file = tokio::fs::File::open(&item.path)
                .await
                .map_err(|_| AccessError::NotFound(format!("the file of attachment {id} is missing from the Server's attachments folder")))?;
            file.seek(std::io::SeekFrom::Start(offset)).await.map_err(unavailable)?;
            let mut bytes = Vec::with_capacity(want);
            (&mut file).take(want as u64).read_to_end(&mut bytes).await.map_err(unavailable)?;
            let n = bytes.len() as u64;
            Ok((bytes, Volume { rows: 1, bytes: n }))
        })
        .await
        .map_err(err)
    }
}
