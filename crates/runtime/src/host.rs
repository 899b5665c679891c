//! The host side of the contract, written once on version-neutral types: the state of
//! one plugin run and every host function a plugin can call. Each function goes through
//! [`RunState::guarded`], the one place that checks scopes and writes the audit log.
//!
//! Each contract version the host serves is a small adapter from its generated
//! bindings to these functions ([`crate::since_v0_1`], [`crate::since_v0_2`]): a new
//! contract version is one new adapter file, and the rules stay here.

use std::collections::BTreeSet;
use std::sync::Arc;

use ferry_manifest::{Manifest, Scope, ScopeSet};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::contract::namespace_scope;
use super::gate::{CallOutcome, Gate, Volume};
use super::limits::{cut_owned, echo, DETAIL_BYTES, LOG_LINE_COST, PROGRESS_BYTES};
use super::uploads::UploadSink;
use ferry_core::state::mappings::MappingSource;
use ferry_source::Source;

pub use ferry_source::{Cell, ContentKind};

/// Why a host call was refused: the same five cases in every contract version.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessError {
    /// The call needs a scope the grant does not hold.
    Denied(Scope),
    /// What was asked for does not exist, or is outside this migration.
    NotFound(String),
    /// The call itself is wrong (a bad cursor, an undeclared column, ...).
    Invalid(String),
    /// A limit of the run was reached.
    Quota(String),
    /// The host could not serve the call (the Server database failed, ...).
    Unavailable(String),
}

/// What one run is about (every contract version passes the same details to `run`).
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationDetails {
    /// The plan's id.
    pub migration_id: String,
    /// This app migration's transfer id.
    pub transfer_id: String,
    /// The first transfer's id, on a re-run.
    pub original_transfer_id: Option<String>,
    /// The plan's name.
    pub name: String,
    /// The Cloud site's URL.
    pub destination_url: String,
    /// Keys of the spaces in the migration.
    pub spaces: Vec<String>,
}

/// How a plugin said its run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Everything was exported.
    Complete,
    /// Some was not, and why.
    Incomplete(String),
}

/// One server id and its cloud id.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The server id.
    pub server_id: String,
    /// The cloud id.
    pub cloud_id: String,
}

/// A page of mappings and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingPage {
    /// The mappings.
    pub entries: Vec<Mapping>,
    /// The next page's cursor, if there is one.
    pub next: Option<String>,
}

/// Rows of an app table.
#[derive(Debug, Clone, PartialEq)]
pub struct RowBatch {
    /// The columns read, in order.
    pub columns: Vec<String>,
    /// The rows, each a cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// The next batch's cursor, if there is one.
    pub next: Option<String>,
}

/// A space of the migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// Its key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// `global` or `personal`.
    pub kind: String,
}

/// A page or blog post in a space's tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// The content id.
    pub id: String,
    /// Page or blog post.
    pub kind: ContentKind,
    /// The title.
    pub title: String,
    /// The parent page's id.
    pub parent_id: Option<String>,
    /// The position among its siblings.
    pub position: Option<i32>,
}

/// A page of a space's tree and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct TreePage {
    /// The nodes.
    pub nodes: Vec<TreeNode>,
    /// The next page's cursor, if there is one.
    pub next: Option<String>,
}

/// A comment on a page or blog post.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The comment id.
    pub id: String,
    /// The comment it answers.
    pub parent_id: Option<String>,
    /// Its author's user key.
    pub author_key: Option<String>,
    /// The storage-format body.
    pub body: String,
}

/// A Server user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The user key.
    pub key: String,
    /// The username.
    pub username: String,
    /// The display name.
    pub display_name: String,
    /// The email address.
    pub email: Option<String>,
}

/// An attachment of a page or blog post (contract 0.2 and later).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The attachment id.
    pub id: String,
    /// The page or blog post it is attached to.
    pub content_id: String,
    /// The file name.
    pub file_name: String,
    /// The media type.
    pub media_type: String,
    /// The size in bytes.
    pub size: u64,
    /// The attachment's version.
    pub version: u32,
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

/// Largest batch a plugin may ask for in one call.
pub const MAX_BATCH: u32 = 10_000;

/// What the host functions of one run read from: shared, read-only.
pub struct RunContext {
    /// The Server site.
    pub source: Source,
    /// The id mappings.
    pub mappings: MappingSource,
    /// The plugin's manifest.
    pub manifest: Arc<Manifest>,
    /// Keys of the spaces in this migration.
    pub spaces: BTreeSet<String>,
    /// The Server's attachments folder (contract 0.2's `attachments` reads it); none when
    /// the run was given none.
    pub attachments: Option<std::path::PathBuf>,
}

/// A progress callback: percent and message.
pub type ProgressFn = Arc<dyn Fn(u8, &str) + Send + Sync>;

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogLine {
    /// `debug`, `info`, `warn`, `error`, `stdout` or `stderr`.
    pub level: String,
    /// The text.
    pub message: String,
}

/// The memory cap of one instance; remembers that it was hit, for the run's message.
pub struct MemoryCap {
    /// Bytes of linear memory allowed.
    pub limit: usize,
    /// Whether the plugin tried to grow past the limit.
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            wasmtime::bail!("memory limit of {} MiB exceeded (asked for {} MiB)", self.limit >> 20, desired >> 20);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The store data of one plugin run.
pub struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) memory: MemoryCap,
    pub(crate) gate: Gate,
    pub(crate) ctx: Arc<RunContext>,
    pub(crate) uploads: Box<dyn UploadSink>,
    pub(crate) upload_quota: u64,
    pub(crate) upload_count_quota: u64,
    pub(crate) uploaded: u64,
    pub(crate) upload_count: u64,
    pub(crate) progress: (u8, String),
    pub(crate) on_progress: Option<ProgressFn>,
    pub(crate) log: Vec<LogLine>,
    pub(crate) log_bytes: u64,
    pub(crate) log_limit: u64,
    pub(crate) log_dropped: u64,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The same error with its message cut to [`DETAIL_BYTES`]: what a call returns to the
/// plugin and what the audit log keeps are bounded whatever the plugin sent.
fn bounded(e: AccessError) -> AccessError {
    match e {
        AccessError::Denied(s) => AccessError::Denied(s),
        AccessError::NotFound(m) => AccessError::NotFound(cut_owned(m, DETAIL_BYTES)),
        AccessError::Invalid(m) => AccessError::Invalid(cut_owned(m, DETAIL_BYTES)),
        AccessError::Quota(m) => AccessError::Quota(cut_owned(m, DETAIL_BYTES)),
        AccessError::Unavailable(m) => AccessError::Unavailable(cut_owned(m, DETAIL_BYTES)),
    }
}

/// An access error as text, for the audit log and reports.
pub fn describe(e: &AccessError) -> String {
    match e {
        AccessError::Denied(s) => format!("denied({})", s.name()),
        AccessError::NotFound(m) => format!("not-found: {m}"),
        AccessError::Invalid(m) => format!("invalid: {m}"),
        AccessError::Quota(m) => format!("quota: {m}"),
        AccessError::Unavailable(m) => format!("unavailable: {m}"),
    }
}

pub(crate) fn one(scope: Scope) -> ScopeSet {
    ScopeSet::EMPTY.with(scope)
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> AccessError {
    AccessError::Unavailable(e.to_string())
}

fn parse_cursor(cursor: Option<String>) -> Result<Option<i64>, AccessError> {
    cursor.map(|c| c.parse::<i64>().map_err(|_| AccessError::Invalid(format!("cursor {:?} was not issued by ferry", echo(&c))))).transpose()
}

fn check_limit(limit: u32) -> Result<u32, AccessError> {
    match limit {
        0 => Err(AccessError::Invalid("limit must be at least 1".into())),
        n => Ok(n.min(MAX_BATCH)),
    }
}

pub(crate) fn parse_content_id(id: &str) -> Result<i64, AccessError> {
    id.parse().map_err(|_| AccessError::NotFound(format!("content {:?}", echo(id))))
}

impl RunState {
    /// The one gate: check `needs` against the live grant, run `body` when allowed, and
    /// write exactly one audit record either way. Errors are cut to [`DETAIL_BYTES`].
    pub(crate) async fn guarded<T>(
        &mut self,
        function: &'static str,
        needs: ScopeSet,
        body: impl AsyncFnOnce(&mut RunState) -> Result<(T, Volume), AccessError>,
    ) -> Result<T, AccessError> {
        if let Err(missing) = self.gate.check(needs) {
            self.gate.record(function, needs, CallOutcome::Denied(missing));
            return Err(AccessError::Denied(missing));
        }
        match body(self).await {
            Ok((value, volume)) => {
                self.gate.record(function, needs, CallOutcome::Served(volume));
                Ok(value)
            }
            Err(e) => {
                let e = bounded(e);
                self.gate.record(function, needs, CallOutcome::Failed(describe(&e)));
                Err(e)
            }
        }
    }

    /// The scopes reading `columns` of `table` needs, or why the read is refused.
    fn app_table_needs(&self, table: &str, columns: &[String]) -> Result<ScopeSet, AccessError> {
        let declared = self.declared_table(table)?;
        if columns.is_empty() {
            return Err(AccessError::Invalid("name at least one column".into()));
        }
        let mut needs = ScopeSet::EMPTY;
        for column in columns {
            match declared.get(column) {
                Some(class) => needs = needs.with(Scope::for_app_column(*class)),
                None => {
                    return Err(AccessError::Invalid(format!(
                        "column {table}.{} is not declared in the manifest: declare it with its class to read it",
                        echo(column)
                    )))
                }
            }
        }
        Ok(needs)
    }

    /// The declared columns of `table`, or why the plugin may not read it.
    fn declared_table(&self, table: &str) -> Result<&std::collections::BTreeMap<String, ferry_manifest::ColumnClass>, AccessError> {
        let manifest = &self.ctx.manifest;
        manifest.tables.get(table).ok_or_else(|| {
            AccessError::Invalid(format!(
                "table {} is not declared by {}: a plugin reads only its own app's tables ({}*) that its manifest declares",
                echo(table),
                manifest.server_app_key,
                ferry_manifest::ao_table_prefix(&manifest.server_app_key)
            ))
        })
    }
}

impl RunContext {
    /// A declared app table that the Server database does not have is `not-found` (the
    /// app is not installed, or never created it), not a database failure.
    async fn require_app_table(&self, table: &str) -> Result<(), AccessError> {
        match self.source.has_table(table).await.map_err(unavailable)? {
            true => Ok(()),
            false => Err(AccessError::NotFound(format!("table {} is not in the Server database: is the app installed there?", echo(table)))),
        }
    }

    fn require_space(&self, key: &str) -> Result<(), AccessError> {
        if self.spaces.contains(key) {
            Ok(())
        } else {
            Err(AccessError::NotFound(format!("space {} is not part of this migration", echo(key))))
        }
    }

    /// The space of current content `id`, which must be part of this migration.
    pub(crate) async fn require_content(&self, id: i64) -> Result<(), AccessError> {
        match self.source.content_space(id).await.map_err(unavailable)? {
            Some(key) => self.require_space(&key),
            None => Err(AccessError::NotFound(format!("content {id} (current pages and blog posts only)"))),
        }
    }
}

fn cell_bytes(cell: &ferry_source::Cell) -> u64 {
    match cell {
        ferry_source::Cell::Text(s) => s.len() as u64,
        ferry_source::Cell::Bytes(b) => b.len() as u64,
        _ => 8,
    }
}

fn known_namespace(namespace: &str) -> Result<(), AccessError> {
    namespace_scope(namespace).map(|_| ()).ok_or_else(|| AccessError::Invalid(format!("unknown mapping namespace {:?}", echo(namespace))))
}

/// The host functions, one per contract function, on version-neutral types.
impl RunState {
    /// `mappings.page`.
    pub async fn mappings_page(&mut self, namespace: String, cursor: Option<String>, limit: u32) -> Result<MappingPage, AccessError> {
        let needs = namespace_scope(&namespace).map(one).unwrap_or_default();
        self.guarded("mappings.page", needs, async |s| {
            known_namespace(&namespace)?;
            let limit = check_limit(limit)?;
            let ctx = s.ctx.clone();
            let found = ctx.mappings.page(&namespace, cursor.as_deref(), limit, &ctx.spaces).await.map_err(unavailable)?;
            let next = (found.len() == limit as usize).then(|| found.last().map(|(id, _)| id.clone())).flatten();
            let entries: Vec<_> = found.into_iter().map(|(server_id, cloud_id)| Mapping { server_id, cloud_id }).collect();
            let volume = Volume { rows: entries.len() as u64, bytes: 0 };
            Ok((MappingPage { entries, next }, volume))
        })
        .await
    }

    /// `mappings.lookup`.
    pub async fn mappings_lookup(&mut self, namespace: String, server_ids: Vec<String>) -> Result<Vec<Mapping>, AccessError> {
        let needs = namespace_scope(&namespace).map(one).unwrap_or_default();
        self.guarded("mappings.lookup", needs, async |s| {
            known_namespace(&namespace)?;
            if server_ids.len() > MAX_BATCH as usize {
                return Err(AccessError::Invalid(format!("at most {MAX_BATCH} ids per lookup")));
            }
            let ctx = s.ctx.clone();
            let found = ctx.mappings.lookup(&namespace, &server_ids, &ctx.spaces).await.map_err(unavailable)?;
            let volume = Volume { rows: found.len() as u64, bytes: 0 };
            Ok((found.into_iter().map(|(server_id, cloud_id)| Mapping { server_id, cloud_id }).collect(), volume))
        })
        .await
    }

    /// `app-tables.read`.
    pub async fn app_tables_read(&mut self, table: String, columns: Vec<String>, cursor: Option<String>, limit: u32) -> Result<RowBatch, AccessError> {
        let needs = self.app_table_needs(&table, &columns);
        let scopes = needs.clone().unwrap_or_default();
        self.guarded("app-tables.read", scopes, async |s| {
            needs?;
            let after = parse_cursor(cursor)?;
            let limit = check_limit(limit)?;
            let ctx = s.ctx.clone();
            ctx.require_app_table(&table).await?;
            let batch = ctx.source.read_app_table(&table, &columns, after, limit).await.map_err(unavailable)?;
            let mut volume = Volume { rows: batch.rows.len() as u64, bytes: 0 };
            let rows = batch.rows.into_iter().map(|row| row.into_iter().inspect(|cell| volume.bytes += cell_bytes(cell)).collect()).collect();
            Ok((RowBatch { columns, rows, next: batch.last_id.map(|id| id.to_string()) }, volume))
        })
        .await
    }

    /// `app-tables.count`.
    pub async fn app_tables_count(&mut self, table: String) -> Result<u64, AccessError> {
        self.guarded("app-tables.count", one(Scope::AppDataOther), async |s| {
            s.declared_table(&table)?;
            s.ctx.require_app_table(&table).await?;
            let n = s.ctx.source.count_app_table(&table).await.map_err(unavailable)?;
            Ok((n, Volume { rows: 1, bytes: 0 }))
        })
        .await
    }

    /// `product.spaces`.
    pub async fn product_spaces(&mut self) -> Result<Vec<Space>, AccessError> {
        self.guarded("product.spaces", one(Scope::ProductDataOther), async |s| {
            let ctx = s.ctx.clone();
            let spaces: Vec<_> = ctx
                .source
                .spaces()
                .await
                .map_err(unavailable)?
                .into_iter()
                .filter(|sp| ctx.spaces.contains(&sp.key))
                .map(|sp| Space { key: sp.key, name: sp.name, kind: sp.kind })
                .collect();
            let volume = Volume { rows: spaces.len() as u64, bytes: 0 };
            Ok((spaces, volume))
        })
        .await
    }

    /// `product.page-tree`.
    pub async fn product_page_tree(&mut self, space_key: String, cursor: Option<String>, limit: u32) -> Result<TreePage, AccessError> {
        self.guarded("product.page-tree", one(Scope::ProductDataOther), async |s| {
            let ctx = s.ctx.clone();
            ctx.require_space(&space_key)?;
            let after = parse_cursor(cursor)?;
            let limit = check_limit(limit)?;
            let nodes = ctx.source.page_tree(&space_key, after, limit).await.map_err(unavailable)?;
            let next = (nodes.len() == limit as usize).then(|| nodes.last().map(|n| n.id.to_string())).flatten();
            let nodes: Vec<_> = nodes
                .into_iter()
                .map(|n| TreeNode { id: n.id.to_string(), kind: n.kind, title: n.title, parent_id: n.parent_id.map(|p| p.to_string()), position: n.position })
                .collect();
            let volume = Volume { rows: nodes.len() as u64, bytes: 0 };
            Ok((TreePage { nodes, next }, volume))
        })
        .await
    }

    /// `product.body`.
    pub async fn product_body(&mut self, content_id: String) -> Result<String, AccessError> {
        self.guarded("product.body", one(Scope::ProductDataUgc), async |s| {
            let id = parse_content_id(&content_id)?;
            let ctx = s.ctx.clone();
            ctx.require_content(id).await?;
            let body = ctx.source.body(id).await.map_err(unavailable)?.unwrap_or_default();
            let volume = Volume { rows: 1, bytes: body.len() as u64 };
            Ok((body, volume))
        })
        .await
    }

    /// `product.comments`.
    pub async fn product_comments(&mut self, content_id: String) -> Result<Vec<Comment>, AccessError> {
        self.guarded("product.comments", one(Scope::ProductDataUgc), async |s| {
            let id = parse_content_id(&content_id)?;
            let ctx = s.ctx.clone();
            ctx.require_content(id).await?;
            let comments: Vec<_> = ctx
                .source
                .comments(id)
                .await
                .map_err(unavailable)?
                .into_iter()
                .map(|c| Comment { id: c.id.to_string(), parent_id: c.parent_id.map(|p| p.to_string()), author_key: c.author_key, body: c.body })
                .collect();
            let bytes = comments.iter().map(|c| c.body.len() as u64).sum();
            let volume = Volume { rows: comments.len() as u64, bytes };
            Ok((comments, volume))
        })
        .await
    }

    /// `product.users`.
    pub async fn product_users(&mut self, keys: Vec<String>) -> Result<Vec<User>, AccessError> {
        self.guarded("product.users", one(Scope::ProductDataPii), async |s| {
            if keys.len() > MAX_BATCH as usize {
                return Err(AccessError::Invalid(format!("at most {MAX_BATCH} keys per call")));
            }
            let users: Vec<_> = s
                .ctx
                .source
                .users_by_key(&keys)
                .await
                .map_err(unavailable)?
                .into_iter()
                .map(|u| User { key: u.key, username: u.username, display_name: u.display_name, email: u.email })
                .collect();
            let volume = Volume { rows: users.len() as u64, bytes: 0 };
            Ok((users, volume))
        })
        .await
    }

    /// `app-data.upload`.
    pub async fn app_data_upload(&mut self, label: String, data: Vec<u8>) -> Result<u64, AccessError> {
        self.guarded("app-data.upload", ScopeSet::EMPTY, async |s| {
            if !valid_label(&label) {
                return Err(AccessError::Invalid(format!("label {:?}: use 1-64 of a-z 0-9 . _ -, not starting with a dot", echo(&label))));
            }
            let size = data.len() as u64;
            if s.upload_count >= s.upload_count_quota {
                return Err(AccessError::Quota(format!(
                    "upload {} under {label:?} would pass this run's limit of {} uploads: send fewer, larger uploads",
                    s.upload_count + 1,
                    s.upload_count_quota
                )));
            }
            if s.uploaded + size > s.upload_quota {
                return Err(AccessError::Quota(format!(
                    "upload of {size} bytes under {label:?} would pass this run's quota of {} bytes ({} already uploaded)",
                    s.upload_quota, s.uploaded
                )));
            }
            s.uploads.upload(&label, data).await.map_err(unavailable)?;
            s.uploaded += size;
            s.upload_count += 1;
            Ok((s.upload_quota - s.uploaded, Volume { rows: 1, bytes: size }))
        })
        .await
    }

    /// `progress.report`.
    pub async fn progress_report(&mut self, percent: u8, message: String) {
        let _ = self
            .guarded("progress.report", ScopeSet::EMPTY, async |s| {
                let percent = percent.min(100);
                let message = cut_owned(message, PROGRESS_BYTES);
                if let Some(callback) = &s.on_progress {
                    callback(percent, &message);
                }
                s.progress = (percent, message);
                Ok(((), Volume::default()))
            })
            .await;
    }

    /// `log.write`.
    pub async fn log_write(&mut self, level: LogLevel, message: String) {
        let _ = self
            .guarded("log.write", ScopeSet::EMPTY, async |s| {
                let level = match level {
                    LogLevel::Debug => "debug",
                    LogLevel::Info => "info",
                    LogLevel::Warn => "warn",
                    LogLevel::Error => "error",
                };
                let bytes = message.len() as u64;
                s.push_log(level, message)?;
                Ok(((), Volume { rows: 1, bytes }))
            })
            .await;
    }

    /// `attachments.list` (contract 0.2 and later).
    pub async fn attachments_list(&mut self, content_id: String) -> Result<Vec<Attachment>, AccessError> {
        self.guarded("attachments.list", one(Scope::ProductDataUgc), async |s| {
            let id = parse_content_id(&content_id)?;
            s.ctx.require_content(id).await?;
            let root = s.attachments_root()?;
            let items = s.ctx.source.attachments_of_content(id, &root).await.map_err(unavailable)?;
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                out.push(Attachment {
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
    }

    /// `attachments.read` (contract 0.2 and later).
    pub async fn attachments_read(&mut self, attachment_id: String, offset: u64, length: u32) -> Result<Vec<u8>, AccessError> {
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
    }
}

/// The most bytes one `attachments.read` returns.
pub const MAX_ATTACHMENT_CHUNK: u32 = 1 << 20;

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

/// Whether an upload label is acceptable (the contract's rule, [`ferry_manifest::valid_upload_label`]).
pub fn valid_label(label: &str) -> bool {
    ferry_manifest::valid_upload_label(label)
}

impl RunState {
    /// Keep a log line, within the run's log limit: each line costs its bytes plus
    /// [`LOG_LINE_COST`], so neither long lines nor many empty ones pass it.
    pub(crate) fn push_log(&mut self, level: &str, message: String) -> Result<(), AccessError> {
        let cost = message.len() as u64 + LOG_LINE_COST;
        if self.log_bytes + cost > self.log_limit {
            self.log_dropped += 1;
            return Err(AccessError::Quota(format!("log limit of {} bytes reached (each line costs its bytes + {LOG_LINE_COST})", self.log_limit)));
        }
        self.log_bytes += cost;
        self.log.push(LogLine { level: level.to_string(), message });
        Ok(())
    }
}
