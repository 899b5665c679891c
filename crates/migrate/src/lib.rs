//! The migration engine. A [`plan::Plan`] names a Server site, a Cloud site and what to
//! move; [`checks`] say before the run what would fail; the [`Migrator`] moves users,
//! groups, spaces and their content, and permissions natively to the Cloud site (or a
//! Jira site's customers, organizations and requests), then the apps through their
//! plugins ([`apps`]), each entity recorded as a mapping as it lands so a crash or kill
//! never duplicates or loses one: the next plan links what exists. The [`report`] says
//! what landed and what did not; [`Progress`] counts each step for whoever watches.
//!
//! Order: users → groups → spaces → pages → blog posts → comments → attachments →
//! permissions → apps. The identity rules live in [`rules`] (crate `ferry-core`); this
//! crate is the I/O around them. The connected Cloud sites are in [`cloud`], the Server
//! sites the admin added in [`sites`].
#![deny(missing_docs)]

pub mod accounts;
pub mod apps;
pub mod checks;
pub mod cloud;
pub mod cloud_app;
mod identity;
pub(crate) mod jira;
pub mod plan;
pub mod prepare;
mod progress;
pub mod report;
/// The identity rules (crate `ferry-core`).
pub use ferry_core::rules;
pub mod sites;
mod spaces;
pub mod standing;
pub mod verify;
/// Storage-format bodies (crate `ferry-storage-format`).
pub use ferry_storage_format as storage;

pub use progress::{Progress, Step, StepCount, Watcher};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::plan::{status, Plan, UsersScope};
use ferry_core::state::{now, StateDb};
use ferry_destination::Destination;
use ferry_source::Source;
use report::PlanReport;

/// Requests in flight at once against the destination.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Entities in progress at once: more than requests in flight, so that while some wait
/// for their mapping to commit, others keep the destination's request slots busy.
pub const ENTITIES_IN_PROGRESS: usize = 4 * DEFAULT_CONCURRENCY;

/// Mapping namespaces of the core migration (crate `ferry-core`).
pub use ferry_core::ns;

/// One mapping row to record.
type MappingRow = (String, String, String, Option<String>);

/// Mapping writes waiting for the writer, each with whom to tell once it is committed.
type PutRequest = (Vec<MappingRow>, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Reads and records the mappings of one Server site in one destination as entities land.
///
/// Writes go through one writer task that commits whatever concurrent requests have
/// queued in a single transaction (group commit); each `put` returns only once its own
/// rows are committed, so an entity counts as landed only when its mapping is durable.
#[derive(Clone)]
pub(crate) struct Mappings {
    db: StateDb,
    destination: String,
    /// The Server site's identity: ids of two sites never meet.
    site: String,
    writer: tokio::sync::mpsc::Sender<PutRequest>,
}

/// Requests merged into one transaction at most.
const GROUP_COMMIT: usize = 512;

/// How many times the writer lets other tasks run while requests keep arriving, before
/// it commits what it has.
const GROUP_COMMIT_YIELDS: usize = 4;

impl Mappings {
    pub(crate) fn new(db: StateDb, destination: String, site: String, plan: String) -> Mappings {
        let (writer, mut queue) = tokio::sync::mpsc::channel::<PutRequest>(4 * GROUP_COMMIT);
        let (pool, dest, from) = (db.pool().clone(), destination.clone(), site.clone());
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                // Take what is queued; while more keeps arriving, let the tasks that
                // are about to send theirs run first, so one commit carries them all.
                for _ in 0..GROUP_COMMIT_YIELDS {
                    let before = batch.len();
                    while batch.len() < GROUP_COMMIT {
                        match queue.try_recv() {
                            Ok(more) => batch.push(more),
                            Err(_) => break,
                        }
                    }
                    if batch.len() == before || batch.len() >= GROUP_COMMIT {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                let result = commit(&pool, (&dest, &from), &plan, &batch).await.map_err(|e| e.to_string());
                for (_, done) in batch {
                    let _ = done.send(result.clone());
                }
            }
        });
        Mappings { db, destination, site, writer }
    }

    /// The Server site's identity.
    pub(crate) fn site(&self) -> &str {
        &self.site
    }

    /// Record, durably, that the entities `server_ids` of `namespace` are about to be
    /// created: until their mappings exist, a later run looks for them in the cloud
    /// before creating them.
    pub(crate) async fn intend(&self, namespace: &str, server_ids: &[String]) -> anyhow::Result<()> {
        /// Rows per INSERT statement (4 parameters each).
        const ROWS_PER_STATEMENT: usize = 200;
        if server_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool().begin().await?;
        for chunk in server_ids.chunks(ROWS_PER_STATEMENT) {
            let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT OR IGNORE INTO create_intents (destination, site, namespace, server_id) VALUES {values}");
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(&self.destination).bind(&self.site).bind(namespace).bind(id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The entities of `namespace` whose create an earlier run began and did not see land.
    pub(crate) async fn intents(&self, namespace: &str) -> anyhow::Result<std::collections::HashSet<String>> {
        let sql = "SELECT i.server_id FROM create_intents i WHERE i.destination = ? AND i.site = ? AND i.namespace = ? \
                   AND NOT EXISTS (SELECT 1 FROM mappings m WHERE m.destination = i.destination AND m.site = i.site \
                                   AND m.namespace = i.namespace AND m.server_id = i.server_id)";
        let rows = sqlx::query(sql).bind(&self.destination).bind(&self.site).bind(namespace).fetch_all(self.db.pool()).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Forget the intents whose entities have their mappings now.
    pub(crate) async fn settle_intents(&self) -> anyhow::Result<()> {
        let sql = "DELETE FROM create_intents WHERE destination = ? AND site = ? AND EXISTS (SELECT 1 FROM mappings m \
                   WHERE m.destination = create_intents.destination AND m.site = create_intents.site \
                   AND m.namespace = create_intents.namespace AND m.server_id = create_intents.server_id)";
        sqlx::query(sql).bind(&self.destination).bind(&self.site).execute(self.db.pool()).await?;
        Ok(())
    }

    pub(crate) async fn get(&self, namespace: &str, server_id: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND server_id = ?")
            .bind(&self.destination)
            .bind(&self.site)
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
        let pairs: Vec<(String, String)> = server_ids.iter().map(|id| (id.to_string(), cloud_id.to_string())).collect();
        self.put_many(namespace, &pairs, container).await
    }

    /// Record many entities (server id, cloud id) of one namespace and container at
    /// once: one request to the writer, committed together.
    pub(crate) async fn put_many(&self, namespace: &str, pairs: &[(String, String)], container: Option<&str>) -> anyhow::Result<()> {
        let rows = pairs.iter().map(|(server, cloud)| (namespace.to_string(), server.clone(), cloud.clone(), container.map(str::to_string))).collect();
        self.put_rows(rows).await
    }

    /// Record rows of any namespaces (namespace, server id, cloud id, container) in one
    /// transaction: they are durable together or not at all.
    pub(crate) async fn put_rows(&self, rows: Vec<MappingRow>) -> anyhow::Result<()> {
        self.queue_rows(rows).await?.wait().await
    }

    /// Hand rows to the writer without waiting for their commit (one transaction, as
    /// with [`Mappings::put_rows`]). Only for entities a rerun finds again in the cloud
    /// by themselves (customers, by email): until the commit, a killed run leaves them
    /// to be linked instead of skipped.
    pub(crate) async fn queue_rows(&self, rows: Vec<MappingRow>) -> anyhow::Result<Queued> {
        if rows.is_empty() {
            return Ok(Queued(None));
        }
        let (done, committed) = tokio::sync::oneshot::channel();
        self.writer.send((rows, done)).await.map_err(|_| anyhow::anyhow!("the mapping writer stopped"))?;
        Ok(Queued(Some(committed)))
    }

    /// Every mapping of a namespace (within one container, if given), read once so the
    /// entities of a step need no lookup each.
    pub(crate) async fn preload(&self, namespace: &str, container: Option<&str>) -> anyhow::Result<HashMap<String, String>> {
        let rows =
            sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND (? IS NULL OR container = ?)")
                .bind(&self.destination)
                .bind(&self.site)
                .bind(namespace)
                .bind(container)
                .bind(container)
                .fetch_all(self.db.pool())
                .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Every mapping of a namespace whose server id starts with `prefix`, with the prefix
    /// cut off, handed to `each` as the rows stream in (nothing is held but the row).
    pub(crate) async fn each_with_prefix(&self, namespace: &str, prefix: &str, mut each: impl FnMut(&str, String)) -> anyhow::Result<()> {
        use futures_util::TryStreamExt;
        let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let mut rows =
            sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND server_id LIKE ? ESCAPE '\\'")
                .bind(&self.destination)
                .bind(&self.site)
                .bind(namespace)
                .bind(pattern)
                .fetch(self.db.pool());
        while let Some(r) = rows.try_next().await? {
            let server_id: String = r.get(0);
            if let Some(rest) = server_id.strip_prefix(prefix) {
                each(rest, r.get(1));
            }
        }
        Ok(())
    }

    pub(crate) async fn in_container(&self, namespace: &str, container: &str) -> anyhow::Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND container = ?")
            .bind(&self.destination)
            .bind(&self.site)
            .bind(namespace)
            .bind(container)
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(crate) async fn forget(&self, namespace: &str, server_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND server_id = ?")
            .bind(&self.destination)
            .bind(&self.site)
            .bind(namespace)
            .bind(server_id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Rows handed to the mapping writer, not yet known to be committed.
pub(crate) struct Queued(Option<tokio::sync::oneshot::Receiver<Result<(), String>>>);

impl Queued {
    /// Wait for the commit.
    pub(crate) async fn wait(self) -> anyhow::Result<()> {
        match self.0 {
            None => Ok(()),
            Some(committed) => Self::outcome(committed.await.ok()),
        }
    }

    /// The commit's outcome if the writer is done with these rows, without waiting.
    pub(crate) fn done(&mut self) -> Option<anyhow::Result<()>> {
        let committed = self.0.as_mut()?;
        match committed.try_recv() {
            Ok(result) => Some(Self::outcome(Some(result))),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => None,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => Some(Self::outcome(None)),
        }
    }

    fn outcome(result: Option<Result<(), String>>) -> anyhow::Result<()> {
        result.ok_or_else(|| anyhow::anyhow!("the mapping writer stopped"))?.map_err(|e| anyhow::anyhow!("cannot record a mapping: {e}"))
    }
}

/// Commit the rows of several put requests in one transaction.
async fn commit(pool: &sqlx::SqlitePool, (destination, site): (&str, &str), plan: &str, batch: &[PutRequest]) -> anyhow::Result<()> {
    /// Rows per INSERT statement (8 parameters each, well under SQLite's limit).
    const ROWS_PER_STATEMENT: usize = 128;
    let at = now();
    let rows: Vec<&MappingRow> = batch.iter().flat_map(|(rows, _)| rows).collect();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO mappings (destination, site, namespace, server_id, cloud_id, plan_id, created_at, container) VALUES {values} \
             ON CONFLICT (destination, site, namespace, server_id) DO UPDATE SET cloud_id = excluded.cloud_id, container = excluded.container"
        );
        let mut query = sqlx::query(&sql);
        for (namespace, server_id, cloud_id, container) in chunk {
            query = query.bind(destination).bind(site).bind(namespace).bind(server_id).bind(cloud_id).bind(plan).bind(&at).bind(container);
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

/// How often a running plan records its progress in the state DB.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Record the plan's step counts (in run order, when each started, whether it ended),
/// its apps' progress, the site's throttling, and that the run is alive.
async fn record_progress(db: &StateDb, plan_id: &str, progress: &Progress, apps: &apps::AppProgress, dest: &Destination) -> anyhow::Result<()> {
    let mut rows: Vec<progress::StepCount> = progress.snapshot();
    if let Ok(apps) = apps.lock() {
        rows.extend(apps.iter().map(|(app, (percent, _))| progress::StepCount {
            name: format!("app:{app}"),
            done: u64::from(*percent),
            total: 100,
            started_at: None,
            finished: *percent >= 100,
        }));
    }
    let mut tx = db.pool().begin().await?;
    plan::liveness::beat(&mut tx, plan_id).await?;
    let paused_until = dest.paused_for().map(|wait| humantime::format_rfc3339_millis(std::time::SystemTime::now() + wait).to_string());
    sqlx::query("UPDATE plans SET throttled = ?, paused_until = ? WHERE id = ?")
        .bind(dest.throttled() as i64)
        .bind(paused_until)
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
    for (position, step) in rows.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO plan_progress (plan_id, step, done, total, position, started_at, finished) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (plan_id, step) DO UPDATE SET done = excluded.done, total = excluded.total, position = excluded.position, \
             started_at = excluded.started_at, finished = excluded.finished",
        )
        .bind(plan_id)
        .bind(step.name)
        .bind(step.done as i64)
        .bind(step.total as i64)
        .bind(position as i64)
        .bind(step.started_at)
        .bind(step.finished)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the admin chose for the plan's Stage 1 apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stage1Choice {
    /// Migrate them.
    Proceed,
    /// Leave them out of this plan.
    Remove,
}

impl Stage1Choice {
    /// As the command line takes it (`--stage1 proceed|remove`).
    pub fn name(self) -> &'static str {
        match self {
            Stage1Choice::Proceed => "proceed",
            Stage1Choice::Remove => "remove",
        }
    }
}

impl std::str::FromStr for Stage1Choice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "proceed" => Ok(Stage1Choice::Proceed),
            "remove" => Ok(Stage1Choice::Remove),
            other => Err(format!("the Stage 1 choice is proceed or remove, not {other:?}")),
        }
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
    /// user key → username on the Server site (None: the site no longer has it), for the
    /// origins of what they wrote.
    pub(crate) usernames: HashMap<String, Option<String>>,
    /// The account Ferry signs in as (what it creates is authored by it), once asked.
    pub(crate) migrating_account: tokio::sync::OnceCell<Option<String>>,
    /// Server ids of the blog posts of the space being migrated (their comments name a
    /// blog post, not a page).
    pub(crate) blog_posts: std::collections::HashSet<i64>,
    /// lower-cased group names that exist in the cloud after the groups step.
    pub(crate) cloud_groups: HashMap<String, String>,
    /// lower-cased group name → the site's group (Confluence's id), as restrictions name
    /// them; looked up once per run.
    pub(crate) site_groups: HashMap<String, Option<ferry_cloud_wire::RestrictedGroup>>,
    /// Every page and blog post of the destination: server id → cloud id (earlier plans'
    /// from the mappings, this plan's as they land), for rewriting references.
    pub(crate) page_ids: Option<HashMap<i64, i64>>,
    /// This plan's pages, blog posts and comments whose bodies named pages with no cloud
    /// id yet when they were created (server id → title): patched once every page of the
    /// plan has one. The ledger keeps them too (`ns::UNRESOLVED_BODY`), for later plans.
    pub(crate) pending_bodies: HashMap<i64, String>,
    /// Server ids of the pages and blog posts this plan created (not linked): the only
    /// pages that can resolve references earlier plans left.
    pub(crate) created_pages: std::collections::HashSet<i64>,
    /// Server ids of the restricted pages and blog posts of the space being migrated:
    /// created private to the migrating account until their restrictions are set.
    pub(crate) restricted: std::collections::HashSet<i64>,
    /// The source's directories, once read.
    pub(crate) directories: Option<std::sync::Arc<identity::Directories>>,
    /// Limits of each app migration (the deadline comes from the plan).
    pub(crate) app_limits: ferry_runtime::limits::Limits,
    /// Apps the admin removed from this run (Stage 1, `--stage1 remove`).
    pub(crate) removed_apps: Vec<String>,
    /// Which links in bodies point into the Server site (its base URL, read from it).
    pub(crate) server_links: storage::ServerLinks,
}

/// The group API a plan's product offers (for a site with no directory).
fn group_api(product: ferry_source::Product) -> ferry_destination::GroupApi {
    match product {
        ferry_source::Product::Confluence => ferry_destination::GroupApi::Confluence,
        ferry_source::Product::Jira => ferry_destination::GroupApi::Jira,
    }
}

impl Migrator {
    /// Prepare a run of `plan`: connects to the source and reads the token from the
    /// environment variable the plan names.
    ///
    /// The source must still be the Server site the plan was made for: a database
    /// replaced by another site's is refused, since its ids would be taken for the
    /// first site's.
    pub async fn new(db: StateDb, mut plan: Plan, progress: Progress) -> anyhow::Result<Migrator> {
        let dest = plan.target().client(DEFAULT_CONCURRENCY)?.with_group_api(group_api(plan.product));
        let source = plan.connect_source().await?;
        let site = crate::sites::identify(&db, &source, plan.source_password_env.as_deref()).await?;
        match &plan.site {
            Some(recorded) if *recorded != site.id => {
                return Err(ferry_core::Declined::conflict(format!(
                    "plan {} was made for the Server site {recorded}, but {} is now the site {}: a plan reads the site it was made \
                     for; create a new plan for this site",
                    plan.id,
                    ferry_source::redact_url(&plan.source),
                    site.id
                )))
            }
            Some(_) => {}
            None => plan.site = Some(site.id.clone()),
        }
        let server_links = storage::ServerLinks::new(site.base_url.as_deref());
        let maps = Mappings::new(db.clone(), destination_key(&plan.destination), site.id, plan.id.clone());
        let mut report = PlanReport::for_product(&plan.id, &plan.name, plan.product);
        if plan.product == ferry_source::Product::Confluence {
            report.history = plan.history.to_string();
        }
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
            usernames: HashMap::new(),
            migrating_account: tokio::sync::OnceCell::new(),
            blog_posts: Default::default(),
            cloud_groups: HashMap::new(),
            site_groups: HashMap::new(),
            restricted: Default::default(),
            page_ids: None,
            pending_bodies: HashMap::new(),
            created_pages: Default::default(),
            directories: None,
            app_limits: ferry_runtime::limits::Limits::default(),
            removed_apps: Vec::new(),
            server_links,
        })
    }

    /// Limits for the plan's app migrations (tests: smaller caps).
    pub fn with_app_limits(mut self, limits: ferry_runtime::limits::Limits) -> Migrator {
        self.app_limits = limits;
        self
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The state DB.
    pub fn db(&self) -> &StateDb {
        &self.db
    }

    /// Record the admin's Stage 1 choice in the report; `remove` leaves those apps out.
    pub fn choose_stage1(&mut self, choice: Stage1Choice, apps: Vec<String>) {
        if choice == Stage1Choice::Remove {
            self.removed_apps = apps.clone();
        }
        self.report.stage1_choice = Some(choice);
        self.report.stage1_apps = apps;
    }

    /// Keep the checks the run started with in its report.
    pub fn set_checks(&mut self, checks: Vec<crate::checks::Check>) {
        self.report.checks = checks;
    }

    /// Use another destination client (tests: faster retries).
    pub fn with_destination(mut self, dest: Destination) -> Migrator {
        self.dest = dest.with_group_api(group_api(self.plan.product));
        self
    }

    /// Run the plan to its end and return the report (also stored with the plan): the
    /// core migration, then, when it ended `finished` or `incomplete` and nobody asked
    /// the plan to stop, the plan's app migrations.
    ///
    /// This is the engine; [`crate::plan::runner::run_plan`] runs the pre-migration
    /// checks first and is what the CLI calls.
    pub async fn run(mut self) -> anyhow::Result<PlanReport> {
        if !Plan::transition(&self.db, &self.plan.id, status::SAVED, status::RUNNING).await? {
            let now = Plan::get(&self.db, &self.plan.id).await?.status;
            anyhow::bail!("plan {} is {now}, not saved: plans run once; create a new plan (it links what already migrated)", self.plan.id);
        }
        plan::liveness::claim(&self.db, &self.plan.id).await?;
        let app_progress: apps::AppProgress = Arc::default();
        let recorder = {
            let (db, id, progress, apps, dest) = (self.db.clone(), self.plan.id.clone(), self.progress.shared(), app_progress.clone(), self.dest.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PROGRESS_EVERY).await;
                    if let Err(e) = record_progress(&db, &id, &progress, &apps, &dest).await {
                        tracing::warn!("cannot record the progress of plan {id}: {e:#}");
                    }
                }
            })
        };
        let mut spaces = Vec::new();
        self.maps.settle_intents().await?;
        // Every step shown from the start, with its entities counted from the scope.
        match self.planned_steps().await {
            Ok(steps) => self.progress.plan(steps),
            Err(e) => tracing::warn!("plan {}: cannot count its scope ahead ({e:#}); steps are counted as they go", self.plan.id),
        }
        if let Err(e) = self.steps(&mut spaces).await {
            tracing::error!("plan {} stopped: {e:#}", self.plan.id);
            self.report.error = Some(format!("{e:#}"));
        }
        let stopped = self.stop_requested().await?;
        let core = if stopped { status::STOPPED.to_string() } else { self.report.outcome().to_string() };
        if !self.plan.plan_apps.is_empty() {
            if core == status::FINISHED || core == status::INCOMPLETE {
                if let Err(e) = self.migrate_apps(spaces, app_progress.clone()).await {
                    self.report.apps_not_started = Some(format!("the app step failed: {e:#}"));
                }
            } else {
                self.report.apps_not_started = Some(format!("the core migration ended {core}: app migrations start only after it ends finished or incomplete"));
            }
            self.report.apps = apps::app_statuses(&self.db, &self.plan).await?;
        }
        recorder.abort();
        self.maps.settle_intents().await?;
        record_progress(&self.db, &self.plan.id, &self.progress, &app_progress, &self.dest).await?;
        // A stop asked for during the app step leaves the plan stopped.
        self.report.status = if stopped || self.stop_requested().await? { status::STOPPED.to_string() } else { core };
        self.report.throttled_requests = self.dest.throttled();
        if let Err(e) = self.name_failures().await {
            tracing::warn!("plan {}: the failures keep their ids only ({e:#})", self.plan.id);
        }
        Plan::save_report(&self.db, &self.report).await?;
        Ok(self.report)
    }

    /// The app step: every app of the plan but those removed, with the plan's deadline.
    async fn migrate_apps(&mut self, spaces: Vec<String>, progress: apps::AppProgress) -> anyhow::Result<()> {
        let engine = Arc::new(ferry_runtime::engine::PluginEngine::new(Some(self.db.home().join("cache")))?);
        let step = apps::AppStep { db: &self.db, engine, plan: &self.plan, dest: &self.dest, spaces, limits: self.app_limits, progress };
        let started = std::time::Instant::now();
        step.run_all(&self.removed_apps).await;
        self.report.time("apps", started);
        Ok(())
    }

    /// Whether an admin asked the plan to stop (checked between steps).
    async fn stop_requested(&self) -> anyhow::Result<bool> {
        Ok(Plan::get(&self.db, &self.plan.id).await?.status == status::STOPPED)
    }

    /// The core steps; `migrated` collects the keys of the spaces that reached the cloud.
    async fn steps(&mut self, migrated: &mut Vec<String>) -> anyhow::Result<()> {
        if self.plan.product == ferry_source::Product::Jira {
            return self.jira_steps().await;
        }
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
        if self.stop_requested().await? {
            return Ok(());
        }
        let bar = self.progress.step("spaces", spaces.len() as u64);
        for space in spaces {
            if self.stop_requested().await? {
                return Ok(());
            }
            let key = space.key.clone();
            let failures = self.report.failures.len();
            self.migrate_space(space).await?;
            let refused = self.report.failures[failures..].iter().any(|f| f.kind == "spaces" && f.server_id == key);
            if !refused {
                migrated.push(key);
            }
            bar.inc(1);
        }
        bar.finish();
        let started = std::time::Instant::now();
        self.patch_pending_bodies().await?;
        self.report.time("references", started);
        Ok(())
    }

    /// Name each failed piece of content as people know it (title or file name, space),
    /// read from the server in one query per 500.
    async fn name_failures(&mut self) -> anyhow::Result<()> {
        let ids: Vec<i64> =
            self.report.failures.iter().filter(|f| report::CONTENT_KINDS.contains(&f.kind.as_str())).filter_map(|f| f.server_id.parse().ok()).collect();
        if ids.is_empty() || self.plan.product != ferry_source::Product::Confluence {
            return Ok(());
        }
        let names = self.source.content_names(&ids).await?;
        for failure in &mut self.report.failures {
            if let Some((title, space)) = failure.server_id.parse::<i64>().ok().and_then(|id| names.get(&id)) {
                // A server database's text reaches the report bounded.
                failure.title = Some(spaces::capped(title.clone())).filter(|t| !t.is_empty());
                failure.space = space.clone().map(spaces::capped);
            }
        }
        Ok(())
    }

    /// The steps this run takes, in order, with the entities each has, counted from the
    /// plan's scope before anything moves (0: counted as it goes).
    async fn planned_steps(&mut self) -> anyhow::Result<Vec<(String, u64)>> {
        let mut steps: Vec<(String, u64)> = Vec::new();
        let kind = self.user_kind().to_string();
        match self.plan.users {
            _ if self.plan.attachments_only => {}
            UsersScope::All => {
                let (users, _) = self.users_in_scope(None).await?;
                steps.push((kind, rules::review_emails(users).usable.len() as u64));
                steps.push(("groups".into(), self.server_groups().await?.len() as u64));
            }
            UsersScope::Related => steps.push((kind, 0)),
            UsersScope::None => {}
        }
        if self.plan.product == ferry_source::Product::Jira {
            if self.plan.customers != UsersScope::None {
                steps.push(("customers".into(), 0));
            }
            let projects = self.plan.selected_projects(&self.source).await?;
            let desks = projects.iter().filter_map(|p| p.service_desk).collect();
            let scope = jira::JiraScope {
                projects,
                organizations: self.source.organizations().await?,
                requesters: Default::default(),
                staff: Default::default(),
                related: Default::default(),
                desks,
            };
            steps.push(("organizations".into(), scope.organizations_in_scope(self.plan.customers).len() as u64));
            steps.push(("projects".into(), scope.projects.len() as u64));
            let mut requests = 0;
            for project in &scope.projects {
                requests += self.source.request_counts(project.id).await?.0;
            }
            steps.push(("requests".into(), requests));
            return Ok(steps);
        }
        let (spaces, _) = self.resolve_spaces().await?;
        let (mut pages, mut comments, mut attachments) = (0, 0, 0);
        for space in &spaces {
            let (p, b, c) = self.source.content_counts(space.id).await?;
            pages += p + b;
            comments += c;
            attachments += self.source.attachment_count(space.id).await?;
        }
        steps.push(("spaces".into(), spaces.len() as u64));
        if !self.plan.attachments_only {
            steps.push(("pages".into(), pages));
            steps.push(("comments".into(), comments));
        }
        steps.push(("attachments".into(), attachments));
        Ok(steps)
    }

    pub(crate) fn attachments_root(&self) -> PathBuf {
        PathBuf::from(&self.plan.attachments)
    }
}

/// The peak resident memory of this process in MB (0 where the system does not say).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
