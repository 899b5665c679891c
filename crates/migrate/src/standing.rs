//! Where each plan stands, as `plan list`, `plan show` and the dashboard show it: a
//! plan with its recorded progress and its apps' statuses, and its report with the apps
//! read live.

use serde::Serialize;
use sqlx::Row;

use crate::apps::{app_statuses, AppOutcome};
use crate::plan::Plan;
use crate::report::PlanReport;
use ferry_core::state::StateDb;

/// One step's progress as recorded while a plan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StepProgress {
    /// Entities done.
    pub done: u64,
    /// Entities in the step.
    pub total: u64,
}

/// One app's status, as a plan listing shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppStatusLine {
    /// Server app key.
    pub app: String,
    /// Its status (`ready`, `running`, `complete`, ...).
    pub status: String,
}

/// A plan as `plan list --json` and the dashboard show it: the plan, each step's
/// progress and each app's status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanListing {
    /// The plan.
    #[serde(flatten)]
    pub plan: Plan,
    /// Step → progress, as last recorded.
    pub progress: std::collections::BTreeMap<String, StepProgress>,
    /// The plan's apps and where each stands.
    pub app_statuses: Vec<AppStatusLine>,
}

/// A plan as it stands now: a `running` plan whose process died is ended first (see
/// [`crate::plan::liveness`]). `id`: the plan's id, a unique prefix, or its name.
pub async fn current(db: &StateDb, id: &str) -> anyhow::Result<Plan> {
    crate::plan::liveness::reap_dead_runs(db).await?;
    Plan::get(db, id).await
}

/// Every plan with its progress and app statuses, newest first (progress read in one
/// query; app statuses only for plans with apps). Runs whose process died are ended first.
pub async fn listing(db: &StateDb) -> anyhow::Result<Vec<PlanListing>> {
    crate::plan::liveness::reap_dead_runs(db).await?;
    let mut progress = all_progress(db).await?;
    let mut out = Vec::new();
    for plan in Plan::list(db).await? {
        let steps = progress.remove(&plan.id).unwrap_or_default();
        let app_statuses = if plan.plan_apps.is_empty() { Vec::new() } else { app_lines(db, &plan).await? };
        out.push(PlanListing { plan, progress: steps, app_statuses });
    }
    Ok(out)
}

/// Every plan's recorded progress: plan id → step → progress.
pub async fn all_progress(db: &StateDb) -> anyhow::Result<std::collections::HashMap<String, std::collections::BTreeMap<String, StepProgress>>> {
    let mut out: std::collections::HashMap<String, std::collections::BTreeMap<String, StepProgress>> = std::collections::HashMap::new();
    for r in sqlx::query("SELECT plan_id, step, done, total FROM plan_progress").fetch_all(db.pool()).await? {
        let progress = StepProgress { done: r.get::<i64, _>(2).max(0) as u64, total: r.get::<i64, _>(3).max(0) as u64 };
        out.entry(r.get(0)).or_default().insert(r.get(1), progress);
    }
    Ok(out)
}

async fn app_lines(db: &StateDb, plan: &Plan) -> anyhow::Result<Vec<AppStatusLine>> {
    Ok(app_statuses(db, plan).await?.into_iter().map(|a| AppStatusLine { app: a.app, status: a.status }).collect())
}

/// One plan with its progress and app statuses.
pub async fn listing_of(db: &StateDb, plan: Plan) -> anyhow::Result<PlanListing> {
    let progress = crate::recorded_progress(db, &plan.id).await?.into_iter().map(|(step, (done, total))| (step, StepProgress { done, total })).collect();
    let app_statuses = app_lines(db, &plan).await?;
    Ok(PlanListing { plan, progress, app_statuses })
}

/// A plan's report with its apps read live (a re-run or a running app shows as it is
/// now), or `None` before it ran; and the apps.
pub async fn live_report(db: &StateDb, plan: &Plan) -> anyhow::Result<(Option<PlanReport>, Vec<AppOutcome>)> {
    let apps = app_statuses(db, plan).await?;
    let report = Plan::report(db, &plan.id).await?.map(|mut r| {
        r.apps = apps.clone();
        r
    });
    Ok((report, apps))
}

/// What `plan show --json` prints: the report once the plan ran, else the saved plan's
/// id, name, status and apps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PlanShow {
    /// The plan ran (or is running): its report, with its apps read live.
    Report(Box<PlanReport>),
    /// The plan has not run yet.
    NotRun(PlanNotRun),
}

/// A plan that has not run yet, as `plan show --json` prints it. Closed to other fields
/// (`additionalProperties: false`), so a report never also fits it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanNotRun {
    /// Plan id.
    pub id: String,
    /// Plan name.
    pub name: String,
    /// Plan status (`saved`).
    pub status: String,
    /// The plan's apps and where each stands.
    pub apps: Vec<AppOutcome>,
}

/// `plan show --json`: the report with live apps, or, before the plan ran, its id, name,
/// status and apps.
pub async fn report_json(db: &StateDb, plan: &Plan) -> anyhow::Result<PlanShow> {
    Ok(match live_report(db, plan).await? {
        (Some(report), _) => PlanShow::Report(Box::new(report)),
        (None, apps) => PlanShow::NotRun(PlanNotRun { id: plan.id.clone(), name: plan.name.clone(), status: plan.status.clone(), apps }),
    })
}
