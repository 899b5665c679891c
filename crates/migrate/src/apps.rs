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

use crate::cloud_app::{AppSecret, Settled, Transfer, TransferSink};
use crate::plan::{Plan, PlanApp};
use ferry_app_transfer::{MappingLine, TransferComplete, TransferStart};
use ferry_apps::local::{new_id, run_installed, LocalRun};
use ferry_apps::registry::Registry;
use ferry_core::state::mappings::MappingSource;
use ferry_core::state::{now, StateDb};
use ferry_destination::Destination;
use ferry_runtime::engine::PluginEngine;
use ferry_runtime::gate::Grant;
use ferry_runtime::limits::Limits;
use ferry_runtime::run::{RunReport, RunStatus};

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
        // Where the data goes: the admin's override, else the manifest's endpoint; and the
        // secret that signs every request to it.
        let link = self.plan.app_links.get(&planned.app).cloned().unwrap_or_default();
        let overridden = link.endpoint.is_some();
        let Some(endpoint) = link.endpoint.clone().or_else(|| manifest.migration_endpoint.clone()) else {
            let why = format!(
                "not run: the plugin's manifest names no migration endpoint for its cloud app, and none is set for this site: connect the site with --app-endpoint {}=URL",
                planned.app
            );
            return Ok(not_run(self.db, self.plan, planned, why).await);
        };
        let Some(secret_env) = link.secret_env.as_deref() else {
            let why = format!(
                "not run: no migration secret for {0}: its cloud app issues one; connect the site with --app-secret-env {0}=VAR and export it in VAR",
                planned.app
            );
            return Ok(not_run(self.db, self.plan, planned, why).await);
        };
        let secret = match AppSecret::from_env(secret_env, &planned.app) {
            Ok(secret) => secret,
            Err(e) => return Ok(not_run(self.db, self.plan, planned, format!("not run: {e:#}")).await),
        };
        // Exactly the consented scopes, never more than the manifest declares.
        let grant = Grant::new(scopes);
        let transfer_id = new_id();
        let transfer = Transfer::new(&endpoint, secret, &transfer_id)?;
        let sent_to = SentTo { endpoint: endpoint.clone(), overridden };
        // The receiver learns what comes, and the mappings it may read, before any upload.
        let start = self.transfer_start(&manifest, &transfer_id, original_transfer_id.clone()).await?;
        let mappings = self.mappings_for(scopes).await?;
        if let Err(e) = async {
            transfer.start(&start).await?;
            transfer.mappings(&mappings).await
        }
        .await
        {
            let why = format!("the cloud app at {} did not take the transfer: {e:#}", sent_to.origin());
            return failed_to_start(self.db, self.plan, planned, &transfer_id, original_transfer_id, &sent_to, why).await;
        }
        let watcher = ferry_apps::consent::watch(self.db.clone(), plugin.clone(), manifest.scope_set(), grant.clone());
        let progress = self.progress.clone();
        let key = planned.app.clone();
        let uploads = Arc::new(std::sync::atomic::AtomicU64::new(0));
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
                Box::new(TransferSink::new(transfer.clone(), uploads.clone())),
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
        let uploads = uploads.load(std::sync::atomic::Ordering::SeqCst);
        let settled = self.settle(planned, &transfer, &report, uploads).await;
        let (status, message, settlement) = final_status(&report, settled.as_ref());
        sqlx::query(
            "UPDATE plugin_runs SET status = ?, message = ?, plugin_status = ?, plugin_message = ?, endpoint = ?, endpoint_overridden = ?, uploads = ?, \
             settlement_status = ?, settlement_message = ?, settled_at = ? WHERE id = ?",
        )
        .bind(&status)
        .bind(&message)
        .bind(report.status.name())
        .bind(&report.message)
        .bind(&sent_to.endpoint)
        .bind(sent_to.overridden)
        .bind(uploads as i64)
        .bind(settlement.as_ref().map(|s| s.status.clone()))
        .bind(settlement.as_ref().and_then(|s| s.message.clone()))
        .bind(settlement.as_ref().map(|s| s.at.clone()))
        .bind(&report.run_id)
        .execute(self.db.pool())
        .await?;
        let outcome = ferry_apps::stages::Outcome {
            app: planned.app.clone(),
            version: report.version.clone(),
            transfer_id: report.run_id.clone(),
            status,
            finished_at: now(),
        };
        ferry_apps::stages::record(self.db, &outcome, "local").await?;
        latest(self.db, self.plan, planned).await
    }

    /// What the receiver is told first about a transfer.
    async fn transfer_start(&self, manifest: &ferry_manifest::Manifest, transfer_id: &str, original: Option<String>) -> anyhow::Result<TransferStart> {
        let site_id = self.plan.site_id(self.db).await?;
        let base_url = crate::sites::base_url_of(self.db, &site_id).await?;
        Ok(TransferStart {
            protocol: ferry_app_transfer::PROTOCOL.into(),
            transfer_id: transfer_id.to_string(),
            original_transfer_id: original,
            server_app_key: manifest.server_app_key.clone(),
            cloud_app_key: manifest.cloud_app_key.clone(),
            plugin_version: manifest.version.to_string(),
            plan: ferry_app_transfer::PlanRef { id: self.plan.id.clone(), name: self.plan.name.clone(), product: self.plan.product.to_string() },
            server_site: ferry_app_transfer::ServerSiteRef { id: site_id, base_url },
            cloud_site: self.plan.destination.clone(),
            containers: self.spaces.clone(),
            started_at: now(),
        })
    }

    /// The mappings a receiver may read: those of the namespaces the plugin's granted
    /// tracing scopes cover, of this Server site on this destination; content of the
    /// plan's spaces only.
    async fn mappings_for(&self, scopes: ferry_manifest::ScopeSet) -> anyhow::Result<Vec<MappingLine>> {
        let site = self.plan.site_id(self.db).await?;
        let rows =
            sqlx::query("SELECT namespace, server_id, cloud_id, container FROM mappings WHERE destination = ? AND site = ? ORDER BY namespace, server_id")
                .bind(super::destination_key(&self.plan.destination))
                .bind(&site)
                .fetch_all(self.db.pool())
                .await?;
        let spaces: std::collections::HashSet<&str> = self.spaces.iter().map(String::as_str).collect();
        let mut lines = Vec::new();
        for r in rows {
            let (namespace, server_id, cloud_id, container): (String, String, String, Option<String>) = (r.get(0), r.get(1), r.get(2), r.get(3));
            let Some(scope) = ferry_runtime::contract::namespace_scope(&namespace) else { continue };
            if !scopes.contains(scope) {
                continue;
            }
            let in_plan = match namespace.as_str() {
                ferry_core::ns::SPACE => spaces.contains(server_id.as_str()),
                n if n.starts_with("confluence:") => container.as_deref().is_some_and(|c| spaces.contains(c)),
                _ => true,
            };
            if in_plan {
                lines.push(MappingLine { namespace, server_id, cloud_id });
            }
        }
        Ok(lines)
    }

    /// After the plugin's run: tell the receiver no upload follows and wait for its
    /// settlement, showing its progress as the app's. A run that failed is not completed
    /// (the receiver never imports half a transfer); `None` then.
    async fn settle(&self, planned: &PlanApp, transfer: &Transfer, report: &RunReport, uploads: u64) -> Option<Result<Settled, String>> {
        if !matches!(report.status, RunStatus::Complete | RunStatus::Incomplete) {
            return None;
        }
        let complete =
            TransferComplete { uploads, bytes: report.uploaded_bytes, plugin_status: report.status.name().into(), plugin_message: report.message.clone() };
        if let Err(e) = transfer.complete(&complete).await {
            return Some(Err(format!("the cloud app did not take the end of the transfer: {e:#}")));
        }
        let (progress, key, db, run_id) = (self.progress.clone(), planned.app.clone(), self.db.clone(), report.run_id.clone());
        let settled = transfer
            .settlement(Duration::from_secs(self.plan.app_settle_secs), |state| {
                let percent = state.percent.unwrap_or(0).min(100);
                let message = format!("cloud app: {}", state.message.as_deref().unwrap_or("importing"));
                if let Ok(mut p) = progress.lock() {
                    p.insert(key.clone(), (percent, message.clone()));
                }
                let (db, run_id) = (db.clone(), run_id.clone());
                tokio::spawn(async move {
                    let _ = sqlx::query("UPDATE plugin_runs SET progress_percent = ?, progress_message = ? WHERE id = ?")
                        .bind(i64::from(percent))
                        .bind(message)
                        .bind(run_id)
                        .execute(db.pool())
                        .await;
                });
            })
            .await;
        Some(Ok(settled))
    }
}

/// Where a transfer's data went.
struct SentTo {
    endpoint: String,
    overridden: bool,
}

impl SentTo {
    fn origin(&self) -> String {
        ferry_manifest::shown_origin(&self.endpoint)
    }
}

/// A cloud app's settlement as the plan records it.
struct Settlement {
    status: String,
    message: Option<String>,
    at: String,
}

/// The app's status in the plan, its message, and the settlement: the plugin's failure
/// stands; otherwise the cloud app's settlement decides (a plugin's `incomplete` stays
/// `incomplete` even when the cloud app imported all it was sent), and a transfer not
/// settled in time is `timed-out`.
fn final_status(report: &RunReport, settled: Option<&Result<Settled, String>>) -> (String, Option<String>, Option<Settlement>) {
    let plugin = report.message.clone();
    match settled {
        None => (report.status.name().to_string(), plugin, None),
        Some(Err(why)) => (status::FAILED.into(), Some(why.clone()), None),
        Some(Ok(Settled::NotWithin(within, last))) => {
            let seen = last
                .as_ref()
                .map(|s| format!(" (it last said {}%: {})", s.percent.unwrap_or(0), s.message.as_deref().unwrap_or("importing")))
                .unwrap_or_default();
            (status::TIMED_OUT.into(), Some(format!("the cloud app did not settle the transfer in {}{seen}", humanize(*within))), None)
        }
        Some(Ok(Settled::By(state))) => {
            let settlement = Settlement { status: state.status.clone(), message: state.message.clone(), at: now() };
            let said = |what: &str| match (&state.message, &plugin) {
                (Some(cloud), Some(p)) => Some(format!("{what}: {cloud} (the plugin said: {p})")),
                (Some(cloud), None) => Some(format!("{what}: {cloud}")),
                (None, Some(p)) => Some(format!("{what} (the plugin said: {p})")),
                (None, None) => (what != "the cloud app imported everything").then(|| what.to_string()),
            };
            let (status, message) = match state.status.as_str() {
                ferry_app_transfer::SUCCESS if report.status == RunStatus::Incomplete => (status::INCOMPLETE, plugin.clone()),
                ferry_app_transfer::SUCCESS => (status::COMPLETE, said("the cloud app imported everything")),
                ferry_app_transfer::INCOMPLETE => (status::INCOMPLETE, said("the cloud app imported part of it")),
                _ => (status::FAILED, said("the cloud app failed the transfer")),
            };
            (status.to_string(), message, Some(settlement))
        }
    }
}

/// A duration as an admin reads it (`1h`, `30m`, `45s`).
fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Record an app whose transfer the cloud app did not take (before the plugin ran):
/// `failed`, with the reason, counted for its Stage.
async fn failed_to_start(
    db: &StateDb,
    plan: &Plan,
    planned: &PlanApp,
    transfer_id: &str,
    original: Option<String>,
    sent_to: &SentTo,
    why: String,
) -> anyhow::Result<AppOutcome> {
    let at = now();
    sqlx::query(
        "INSERT INTO plugin_runs (id, server_app_key, plugin_version, plugin_sha256, transfer_id, original_transfer_id, plan_id, status, message, \
         endpoint, endpoint_overridden, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'failed', ?, ?, ?, ?, ?)",
    )
    .bind(transfer_id)
    .bind(&planned.app)
    .bind(&planned.version)
    .bind(&planned.sha256)
    .bind(transfer_id)
    .bind(original)
    .bind(&plan.id)
    .bind(&why)
    .bind(&sent_to.endpoint)
    .bind(sent_to.overridden)
    .bind(&at)
    .bind(&at)
    .execute(db.pool())
    .await?;
    let outcome = ferry_apps::stages::Outcome {
        app: planned.app.clone(),
        version: planned.version.clone(),
        transfer_id: transfer_id.to_string(),
        status: status::FAILED.into(),
        finished_at: at,
    };
    ferry_apps::stages::record(db, &outcome, "local").await?;
    latest(db, plan, planned).await
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
        endpoint: None,
        endpoint_overridden: false,
        uploads: 0,
        plugin_status: None,
        plugin_message: None,
        settlement: None,
    }
}

/// The latest run of one app of the plan, or `ready` when it has not run.
async fn latest(db: &StateDb, plan: &Plan, planned: &PlanApp) -> anyhow::Result<AppOutcome> {
    let row = sqlx::query(
        "SELECT id, plugin_version, status, message, transfer_id, original_transfer_id, progress_percent, uploaded_bytes, started_at, finished_at, \
         endpoint, endpoint_overridden, uploads, plugin_status, plugin_message, settlement_status, settlement_message, settled_at \
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
        endpoint: row.get(10),
        endpoint_overridden: row.get(11),
        uploads: row.get::<i64, _>(12).max(0) as u64,
        plugin_status: row.get(13),
        plugin_message: row.get(14),
        settlement: row.get::<Option<String>, _>(15).map(|status| crate::report::AppSettlement {
            status,
            message: row.get(16),
            at: row.get::<Option<String>, _>(17).unwrap_or_default(),
        }),
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
