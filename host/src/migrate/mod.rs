//! The core migration: users, groups, spaces and their content, and permissions, moved
//! natively to the Cloud site, each entity recorded as a mapping as it lands so a crash
//! or kill never duplicates or loses one: the next plan links what exists.
//!
//! Order: users → groups → spaces → pages → blog posts → comments → attachments →
//! permissions. The rules live in [`rules`]; this module is the I/O around them.

pub mod apps;
mod identity;
pub mod report;
pub mod rules;
mod spaces;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sqlx::Row;

use crate::destination::{Destination, Secret};
use crate::plan::{status, Plan, UsersScope};
use crate::source::Source;
use crate::state::{now, StateDb};
use report::PlanReport;

/// Requests in flight at once against the destination.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Entities in progress at once: more than requests in flight, so that while some wait
/// for their mapping to commit, others keep the destination's request slots busy.
pub const ENTITIES_IN_PROGRESS: usize = 4 * DEFAULT_CONCURRENCY;

/// Mapping namespaces of the core migration.
pub mod ns {
    /// Users (`email/<addr>` and `confluence.userkey/<key>`).
    pub const USER: &str = "identity:user";
    /// Groups, by lower-cased name.
    pub const GROUP: &str = "identity:group";
    /// Spaces, by key.
    pub const SPACE: &str = "confluence:space";
    /// Pages.
    pub const PAGE: &str = "confluence:page";
    /// Blog posts.
    pub const BLOGPOST: &str = "confluence:blogpost";
    /// Comments.
    pub const COMMENT: &str = "confluence:comment";
    /// Attachments.
    pub const ATTACHMENT: &str = "confluence:attachment";
    /// Attachment bytes uploaded ahead of their page by an attachments-only plan
    /// (internal to the core migration; plugins do not see it).
    pub const MEDIA: &str = "ferry:attachment-media";
}

/// One mapping row to record.
type MappingRow = (String, String, String, Option<String>);

/// Mapping writes waiting for the writer, each with whom to tell once it is committed.
type PutRequest = (Vec<MappingRow>, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Reads and records mappings of one destination as entities land.
///
/// Writes go through one writer task that commits whatever concurrent requests have
/// queued in a single transaction (group commit); each `put` returns only once its own
/// rows are committed, so an entity counts as landed only when its mapping is durable.
#[derive(Clone)]
pub(crate) struct Mappings {
    db: StateDb,
    destination: String,
    writer: tokio::sync::mpsc::Sender<PutRequest>,
}

/// Requests merged into one transaction at most.
const GROUP_COMMIT: usize = 512;

impl Mappings {
    pub(crate) fn new(db: StateDb, destination: String, plan: String) -> Mappings {
        let (writer, mut queue) = tokio::sync::mpsc::channel::<PutRequest>(4 * GROUP_COMMIT);
        let (pool, dest) = (db.pool().clone(), destination.clone());
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < GROUP_COMMIT {
                    match queue.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let result = commit(&pool, &dest, &plan, &batch).await.map_err(|e| e.to_string());
                for (_, done) in batch {
                    let _ = done.send(result.clone());
                }
            }
        });
        Mappings { db, destination, writer }
    }

    pub(crate) async fn get(&self, namespace: &str, server_id: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT cloud_id FROM mappings WHERE destination = ? AND namespace = ? AND server_id = ?")
            .bind(&self.destination)
            .bind(namespace)
            .bind(server_id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(crate) async fn put(&self, namespace: &str, server_id: &str, cloud_id: &str, container: Option<&str>) -> anyhow::Result<()> {
        self.put_all(namespace, &[server_id], cloud_id, container).await
    }

    /// Record several server ids of one entity (a user's email and user keys) at once;
    /// returns when they are committed.
    pub(crate) async fn put_all(&self, namespace: &str, server_ids: &[&str], cloud_id: &str, container: Option<&str>) -> anyhow::Result<()> {
        let rows = server_ids
            .iter()
            .map(|id| (namespace.to_string(), id.to_string(), cloud_id.to_string(), container.map(str::to_string)))
            .collect();
        let (done, committed) = tokio::sync::oneshot::channel();
        self.writer.send((rows, done)).await.map_err(|_| anyhow::anyhow!("the mapping writer stopped"))?;
        committed.await.map_err(|_| anyhow::anyhow!("the mapping writer stopped"))?.map_err(|e| anyhow::anyhow!("cannot record a mapping: {e}"))
    }

    /// Every mapping of a namespace (within one container, if given), read once so the
    /// entities of a step need no lookup each.
    pub(crate) async fn preload(&self, namespace: &str, container: Option<&str>) -> anyhow::Result<HashMap<String, String>> {
        let rows = sqlx::query(
            "SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND namespace = ? AND (? IS NULL OR container = ?)",
        )
        .bind(&self.destination)
        .bind(namespace)
        .bind(container)
        .bind(container)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(crate) async fn in_container(&self, namespace: &str, container: &str) -> anyhow::Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND namespace = ? AND container = ?")
            .bind(&self.destination)
            .bind(namespace)
            .bind(container)
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(crate) async fn forget(&self, namespace: &str, server_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM mappings WHERE destination = ? AND namespace = ? AND server_id = ?")
            .bind(&self.destination)
            .bind(namespace)
            .bind(server_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Commit the rows of several put requests in one transaction.
async fn commit(pool: &sqlx::SqlitePool, destination: &str, plan: &str, batch: &[PutRequest]) -> anyhow::Result<()> {
    /// Rows per INSERT statement (7 parameters each, well under SQLite's limit).
    const ROWS_PER_STATEMENT: usize = 128;
    let at = now();
    let rows: Vec<&MappingRow> = batch.iter().flat_map(|(rows, _)| rows).collect();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO mappings (destination, namespace, server_id, cloud_id, plan_id, created_at, container) VALUES {values} \
             ON CONFLICT (destination, namespace, server_id) DO UPDATE SET cloud_id = excluded.cloud_id, container = excluded.container"
        );
        let mut query = sqlx::query(&sql);
        for (namespace, server_id, cloud_id, container) in chunk {
            query = query.bind(destination).bind(namespace).bind(server_id).bind(cloud_id).bind(plan).bind(&at).bind(container);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The identity key of a destination in the mapping table.
pub fn destination_key(base_url: &str) -> String {
    base_url.trim_end_matches('/').to_lowercase()
}

/// Progress bars, one per step (hidden when not on a terminal or with `--json`).
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars on stderr.
    pub fn terminal() -> Progress {
        Progress { multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())) }
    }

    /// No bars.
    pub fn hidden() -> Progress {
        Progress { multi: None }
    }

    pub(crate) fn step(&self, name: &str, total: u64) -> ProgressBar {
        let Some(multi) = &self.multi else { return ProgressBar::hidden() };
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}").expect("valid template").progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar
    }
}

/// One run of a plan.
pub struct Migrator {
    pub(crate) plan: Plan,
    pub(crate) source: Source,
    pub(crate) dest: Destination,
    pub(crate) db: StateDb,
    pub(crate) maps: Mappings,
    pub(crate) report: PlanReport,
    pub(crate) progress: Progress,
    /// Entities in progress at once (requests in flight are bounded by the destination).
    pub(crate) concurrency: usize,
    /// user key → cloud account id (None: no account; Former User).
    pub(crate) authors: HashMap<String, Option<String>>,
    /// lower-cased group names that exist in the cloud after the groups step.
    pub(crate) cloud_groups: HashMap<String, String>,
    /// The source's directories, once read.
    pub(crate) directories: Option<std::sync::Arc<identity::Directories>>,
}

impl Migrator {
    /// Prepare a run of `plan`: connects to the source and reads the token from the
    /// environment variable the plan names.
    pub async fn new(db: StateDb, plan: Plan, progress: Progress) -> anyhow::Result<Migrator> {
        let token = std::env::var(&plan.token_env)
            .with_context(|| format!("the destination token is read from ${}, which is not set", plan.token_env))?;
        let dest = Destination::new(&plan.destination, plan.scim_url.as_deref(), Secret::new(token), DEFAULT_CONCURRENCY)?;
        let source = Source::connect(&plan.source).await?;
        let maps = Mappings::new(db.clone(), destination_key(&plan.destination), plan.id.clone());
        let report = PlanReport::new(&plan.id, &plan.name);
        Ok(Migrator {
            plan,
            source,
            dest,
            db,
            maps,
            report,
            progress,
            concurrency: ENTITIES_IN_PROGRESS,
            authors: HashMap::new(),
            cloud_groups: HashMap::new(),
            directories: None,
        })
    }

    /// Use another destination client (tests: faster retries).
    pub fn with_destination(mut self, dest: Destination) -> Migrator {
        self.dest = dest;
        self
    }

    /// Run the plan to its end and return the report (also stored with the plan).
    pub async fn run(mut self) -> anyhow::Result<PlanReport> {
        if !Plan::transition(&self.db, &self.plan.id, status::SAVED, status::RUNNING).await? {
            let now = Plan::get(&self.db, &self.plan.id).await?.status;
            anyhow::bail!("plan {} is {now}, not saved: plans run once; create a new plan (it links what already migrated)", self.plan.id);
        }
        if let Err(e) = self.steps().await {
            tracing::error!("plan {} stopped: {e:#}", self.plan.id);
            self.report.error = Some(format!("{e:#}"));
        }
        let stopped = Plan::get(&self.db, &self.plan.id).await?.status == status::STOPPED;
        self.report.status = if stopped { status::STOPPED.to_string() } else { self.report.outcome().to_string() };
        Plan::save_report(&self.db, &self.report).await?;
        Ok(self.report)
    }

    /// Whether an admin asked the plan to stop (checked between steps).
    async fn stop_requested(&self) -> anyhow::Result<bool> {
        Ok(Plan::get(&self.db, &self.plan.id).await?.status == status::STOPPED)
    }

    async fn steps(&mut self) -> anyhow::Result<()> {
        let spaces = self.selected_spaces().await?;
        match self.plan.users {
            UsersScope::All if !self.plan.attachments_only => {
                let started = std::time::Instant::now();
                self.migrate_users(None).await?;
                self.report.time("users", started);
                if self.stop_requested().await? {
                    return Ok(());
                }
                let started = std::time::Instant::now();
                self.migrate_groups().await?;
                self.report.time("groups", started);
            }
            UsersScope::Related if !self.plan.attachments_only => {
                let mut keys = Vec::new();
                for space in &spaces {
                    keys.extend(self.source.related_user_keys(space.id).await?);
                }
                let started = std::time::Instant::now();
                self.migrate_users(Some(keys)).await?;
                self.report.time("users", started);
            }
            _ => {}
        }
        for space in spaces {
            if self.stop_requested().await? {
                return Ok(());
            }
            self.migrate_space(space).await?;
        }
        Ok(())
    }

    pub(crate) fn attachments_root(&self) -> PathBuf {
        PathBuf::from(&self.plan.attachments)
    }
}
