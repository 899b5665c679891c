//! App migrations inside a plan: after the core migration ends `finished` or
//! `incomplete`, each app fixed in the plan runs its plugin in its own sandbox with
//! exactly the scopes the admin consented to, a fresh transfer id, and the migration
//! details. Apps run concurrently (bounded); one app's outcome never touches the core
//! data or another app's run. Every outcome is recorded for the Stage rule.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use sqlx::Row;

use crate::plan::{Plan, PlanApp};
use ferry_apps::local::{new_id, run_installed, LocalRun};
use ferry_apps::registry::Registry;
use ferry_core::state::mappings::MappingSource;
use ferry_core::state::{now, StateDb};
use ferry_destination::Destination;
use ferry_runtime::engine::PluginEngine;
use ferry_runtime::gate::Grant;
use ferry_runtime::limits::Limits;
use ferry_runtime::uploads::UploadSink;
use futures_util::future::BoxFuture;

/// App migrations of one plan running at once.
pub const APPS_AT_ONCE: usize = 2;

/// Per-app statuses.
pub mod status {
    /// Waiting for its turn (or not run, with the reason).
    pub const READY: &str = "ready";
    /// Running now.
    pub const RUNNING: &str = "running";
    /// Everything moved.
    pub const COMPLETE: &str = "complete";
    /// The plugin said some data could not move.
    pub const INCOMPLETE: &str = "incomplete";
    /// The plugin failed, trapped or hit a limit.
    pub const FAILED: &str = "failed";
    /// It ran past the permitted time.
    pub const TIMED_OUT: &str = "timed-out";
    /// The statuses from which an app migration may be re-run.
    pub const RERUNNABLE: [&str; 3] = [INCOMPLETE, FAILED, TIMED_OUT];
}

pub use crate::report::AppOutcome;

/// Live progress of the plan's running apps (app → percent), for the progress recorder.
pub type AppProgress = Arc<Mutex<BTreeMap<String, (u8, String)>>>;

/// Everything the app step of a plan needs.
pub struct AppStep<'a> {
    /// The state DB.
    pub db: &'a StateDb,
    /// The compiled-plugin engine.
    pub engine: Arc<PluginEngine>,
    /// The plan.
    pub plan: &'a Plan,
    /// Its destination.
    pub dest: &'a Destination,
    /// Keys of the spaces the plan migrated.
    pub spaces: Vec<String>,
    /// Limits of each run (the deadline is the plan's).
    pub limits: Limits,
    /// Live progress, written by the plugins' progress reports.
    pub progress: AppProgress,
}

impl AppStep<'_> {
    /// Run every app of the plan but `removed`, at most [`APPS_AT_ONCE`] at a time.
    pub async fn run_all(&self, removed: &[String]) -> Vec<AppOutcome> {
        let mut outcomes = Vec::new();
        for app in self.plan.plan_apps.iter().filter(|a| removed.contains(&a.app)) {
            outcomes.push(not_run(self.db, self.plan, app, "not run: removed from this run as a Stage 1 app (--stage1 remove)".into()).await);
        }
        let apps: Vec<PlanApp> = self.plan.plan_apps.iter().filter(|a| !removed.contains(&a.app)).cloned().collect();
        let ran: Vec<AppOutcome> = stream::iter(apps)
            .map(|app| async move {
                // A stop asked for while other apps run keeps the rest from starting.
                match Plan::get(self.db, &self.plan.id).await {
                    Ok(p) if p.status == crate::plan::status::STOPPED => not_run(self.db, self.plan, &app, "not run: the plan was stopped".into()).await,
                    _ => self.run_one(&app, None).await,
                }
            })
            .buffer_unordered(APPS_AT_ONCE)
            .collect()
            .await;
        outcomes.extend(ran);
        outcomes
    }

    /// Run one app of the plan (a re-run names the first transfer).
    pub async fn run_one(&self, planned: &PlanApp, original_transfer_id: Option<String>) -> AppOutcome {
        match self.try_run(planned, original_transfer_id).await {
            Ok(outcome) => outcome,
            Err(e) => not_run(self.db, self.plan, planned, format!("{e:#}")).await,
        }
    }

    async fn try_run(&self, planned: &PlanApp, original_transfer_id: Option<String>) -> anyhow::Result<AppOutcome> {
        let registry = Registry::new(self.db.clone());
        let (plugin, _, manifest) = registry.load(&planned.app).await?;
        if plugin.sha256 != planned.sha256 {
            return Ok(not_run(
                self.db,
                self.plan,
                planned,
                format!("not run: the plan fixed plugin {} and {} is installed now; create a new plan", planned.version, plugin.version),
            )
            .await);
        }
        let Some(scopes) = ferry_apps::consent::granted_scopes(self.db, &plugin, &manifest).await? else {
            return Ok(not_run(self.db, self.plan, planned, "not run: no current consent (`ferry consent show` tells why)".into()).await);
        };
        // Exactly the consented scopes, never more than the manifest declares.
        let grant = Grant::new(scopes);
        let watcher = ferry_apps::consent::watch(self.db.clone(), plugin.clone(), manifest.scope_set(), grant.clone());
        let transfer_id = new_id();
        let progress = self.progress.clone();
        let key = planned.app.clone();
        let run = LocalRun {
            limits: Limits { deadline: Duration::from_secs(self.plan.app_deadline_secs), ..self.limits },
            spaces: Some(self.spaces.clone()),
            grant: Some(grant),
            on_progress: Some(Arc::new(move |percent, message| {
                if let Ok(mut p) = progress.lock() {
                    p.insert(key.clone(), (percent, message.to_string()));
                }
            })),
            name: Some(self.plan.name.clone()),
            transfer_id: Some(transfer_id.clone()),
            destination_url: Some(self.plan.destination.clone()),
            plan_id: Some(self.plan.id.clone()),
            original_transfer_id,
            attachments: (!self.plan.attachments.is_empty()).then(|| std::path::PathBuf::from(&self.plan.attachments)),
            ..LocalRun::new(
                self.plan.connect_source().await?,
                Box::new(DestinationSink::new(self.dest.clone(), transfer_id.clone())),
                MappingSource::State {
                    db: self.db.clone(),
                    destination: super::destination_key(&self.plan.destination),
                    site: self.plan.site_id(self.db).await?,
                },
            )
        };
        let report = run_installed(self.db, self.engine.clone(), &planned.app, run).await;
        watcher.abort();
        let report = report?;
        let outcome = ferry_apps::stages::Outcome {
            app: planned.app.clone(),
            version: report.version.clone(),
            transfer_id: report.run_id.clone(),
            status: report.status.name().to_string(),
            finished_at: now(),
        };
        ferry_apps::stages::record(self.db, &outcome, "local").await?;
        latest(self.db, self.plan, planned).await
    }
}

/// Record that an app of the plan did not run, and why; its status stays `ready`.
async fn not_run(db: &StateDb, plan: &Plan, planned: &PlanApp, why: String) -> AppOutcome {
    let at = now();
    let recorded = sqlx::query(
        "INSERT INTO plugin_runs (id, server_app_key, plugin_version, plugin_sha256, transfer_id, plan_id, status, message, started_at, finished_at) \
         VALUES (?, ?, ?, ?, '', ?, 'ready', ?, ?, ?)",
    )
    .bind(new_id())
    .bind(&planned.app)
    .bind(&planned.version)
    .bind(&planned.sha256)
    .bind(&plan.id)
    .bind(&why)
    .bind(&at)
    .bind(&at)
    .execute(db.pool())
    .await;
    if let Err(e) = recorded {
        tracing::error!("cannot record that {} did not run: {e}", planned.app);
    }
    AppOutcome { message: Some(why), ..ready(planned) }
}

fn ready(planned: &PlanApp) -> AppOutcome {
    AppOutcome {
        app: planned.app.clone(),
        version: planned.version.clone(),
        status: status::READY.into(),
        message: None,
        transfer_id: None,
        original_transfer_id: None,
        progress_percent: 0,
        rows_per_scope: BTreeMap::new(),
        denied: 0,
        uploaded_bytes: 0,
        started_at: None,
        finished_at: None,
    }
}

/// The latest run of one app of the plan, or `ready` when it has not run.
async fn latest(db: &StateDb, plan: &Plan, planned: &PlanApp) -> anyhow::Result<AppOutcome> {
    let row = sqlx::query(
        "SELECT id, plugin_version, status, message, transfer_id, original_transfer_id, progress_percent, uploaded_bytes, started_at, finished_at \
         FROM plugin_runs WHERE plan_id = ? AND server_app_key = ? ORDER BY started_at DESC, rowid DESC LIMIT 1",
    )
    .bind(&plan.id)
    .bind(&planned.app)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(ready(planned)) };
    let run_id: String = row.get(0);
    let mut rows_per_scope: BTreeMap<String, u64> = BTreeMap::new();
    let mut denied = 0;
    for r in sqlx::query("SELECT scopes, allowed, SUM(calls), SUM(rows) FROM audit_log WHERE run_id = ? GROUP BY scopes, allowed")
        .bind(&run_id)
        .fetch_all(db.pool())
        .await?
    {
        let (scopes, allowed, calls, rows): (String, bool, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        if !allowed {
            denied += calls as u64;
            continue;
        }
        for scope in scopes.split(',').filter(|s| !s.is_empty()) {
            *rows_per_scope.entry(scope.to_string()).or_default() += rows as u64;
        }
    }
    let transfer: String = row.get(4);
    Ok(AppOutcome {
        app: planned.app.clone(),
        version: row.get(1),
        status: row.get(2),
        message: row.get(3),
        transfer_id: (!transfer.is_empty()).then_some(transfer),
        original_transfer_id: row.get(5),
        progress_percent: row.get::<i64, _>(6).clamp(0, 100) as u8,
        rows_per_scope,
        denied,
        uploaded_bytes: row.get::<i64, _>(7).max(0) as u64,
        started_at: row.get(8),
        finished_at: row.get(9),
    })
}

/// Where every app of the plan stands now.
pub async fn app_statuses(db: &StateDb, plan: &Plan) -> anyhow::Result<Vec<AppOutcome>> {
    let mut out = Vec::new();
    for planned in &plan.plan_apps {
        out.push(latest(db, plan, planned).await?);
    }
    Ok(out)
}

/// The first transfer of an app's migrations in a plan (what a re-run names).
pub async fn first_transfer(db: &StateDb, plan_id: &str, app: &str) -> anyhow::Result<Option<String>> {
    let row =
        sqlx::query("SELECT transfer_id FROM plugin_runs WHERE plan_id = ? AND server_app_key = ? AND transfer_id != '' ORDER BY started_at, rowid LIMIT 1")
            .bind(plan_id)
            .bind(app)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Re-run a failed, incomplete or timed-out app migration of an ended plan, with a new
/// transfer id that names the first one, and only while consent is current.
pub async fn rerun(db: &StateDb, plan_id: &str, app_key: &str, limits: Limits) -> anyhow::Result<AppOutcome> {
    let plan = Plan::get(db, plan_id).await?;
    anyhow::ensure!(
        plan.status == crate::plan::status::FINISHED || plan.status == crate::plan::status::INCOMPLETE,
        "plan {} is {}: app migrations re-run only in a plan whose core migration ended finished or incomplete",
        plan.id,
        plan.status
    );
    let planned = plan.plan_apps.iter().find(|a| a.app == app_key).cloned().ok_or_else(|| {
        anyhow::anyhow!(
            "{app_key} is not an app of plan {}; its apps are: {}",
            plan.id,
            plan.plan_apps.iter().map(|a| a.app.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let current = latest(db, &plan, &planned).await?;
    anyhow::ensure!(
        status::RERUNNABLE.contains(&current.status.as_str()),
        "{app_key} is {} in plan {}: only a failed, incomplete or timed-out app migration is re-run",
        current.status,
        plan.id
    );
    let (plugin, _, manifest) = Registry::new(db.clone()).load_trusted(app_key).await?;
    anyhow::ensure!(
        ferry_apps::consent::granted_scopes(db, &plugin, &manifest).await?.is_some(),
        "consent for {app_key} is not current: review it with `ferry consent show {app_key}` and agree again"
    );
    let dest = plan.target().client(super::DEFAULT_CONCURRENCY)?;
    let mapped = sqlx::query("SELECT server_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ?")
        .bind(super::destination_key(&plan.destination))
        .bind(plan.site_id(db).await?)
        .bind(super::ns::SPACE)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect::<std::collections::HashSet<_>>();
    let selected: Vec<String> = match &plan.spaces {
        crate::plan::SpacesScope::Keys(keys) => keys.clone(),
        crate::plan::SpacesScope::None => Vec::new(),
        crate::plan::SpacesScope::All => plan.connect_source().await?.spaces().await?.into_iter().map(|s| s.key).collect(),
    };
    let spaces = selected.into_iter().filter(|k| mapped.contains(k)).collect();
    let original = first_transfer(db, &plan.id, app_key).await?;
    let step =
        AppStep { db, engine: Arc::new(PluginEngine::new(Some(db.home().join("cache")))?), plan: &plan, dest: &dest, spaces, limits, progress: Arc::default() };
    let outcome = step.run_one(&planned, original).await;
    if let Some(mut report) = Plan::report(db, &plan.id).await? {
        report.apps = app_statuses(db, &plan).await?;
        Plan::save_report(db, &report).await?;
    }
    Ok(outcome)
}

/// Sends each upload to the destination's app-data endpoint of one transfer.
pub struct DestinationSink {
    dest: ferry_destination::Destination,
    transfer_id: String,
}

impl DestinationSink {
    /// A sink for `transfer_id` on `dest`.
    pub fn new(dest: ferry_destination::Destination, transfer_id: String) -> DestinationSink {
        DestinationSink { dest, transfer_id }
    }
}

impl UploadSink for DestinationSink {
    fn upload<'a>(&'a mut self, label: &'a str, data: Vec<u8>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.dest.upload_app_data(&self.transfer_id, label, bytes::Bytes::from(data)).await?;
            Ok(())
        })
    }
}
