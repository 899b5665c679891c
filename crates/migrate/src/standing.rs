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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StepProgress {
    /// Entities done.
    pub done: u64,
    /// Entities in the step (counted from the plan's scope before the run starts).
    pub total: u64,
    /// Its place in the run: steps run in this order (apps, `app:KEY`, last).
    pub position: u64,
    /// When it started (RFC 3339); none while it waits.
    pub started_at: Option<String>,
    /// Whether it ended with every entity done.
    pub finished: bool,
}

/// A run as a whole: how far, how long, how long still, and how the site's rate limit
/// holds it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overall {
    /// Entities done of all the core steps' entities, in percent (0 to 100).
    pub percent: u8,
    /// Seconds since the run started (to its end, once it ended).
    pub elapsed_secs: u64,
    /// Seconds still to go at the pace so far (while it runs, once it is 2 % through).
    pub remaining_secs: Option<u64>,
    /// Requests the Cloud site answered 429 (each retried after the pause it asked).
    pub throttled: u64,
    /// Seconds every request still waits for the pause the site's rate limit asked for.
    pub waiting_for_rate_limit_secs: Option<u64>,
}

impl Overall {
    /// The whole of a run from its steps and its plan row's times and throttling.
    fn of(steps: &std::collections::BTreeMap<String, StepProgress>, times: &RunTimes) -> Overall {
        let core = steps.iter().filter(|(name, _)| !name.starts_with("app:"));
        let (done, total) = core.fold((0u64, 0u64), |(d, t), (_, s)| (d + s.done.min(s.total), t + s.total));
        let fraction = if total == 0 { 0.0 } else { done as f64 / total as f64 };
        let elapsed = times.elapsed();
        let remaining = (times.running() && (0.02..1.0).contains(&fraction)).then(|| (elapsed as f64 * (1.0 - fraction) / fraction).round() as u64);
        Overall {
            percent: (fraction * 100.0).floor().clamp(0.0, 100.0) as u8,
            elapsed_secs: elapsed,
            remaining_secs: remaining,
            throttled: times.throttled,
            waiting_for_rate_limit_secs: times.running().then(|| seconds_until(times.paused_until.as_deref())).flatten(),
        }
    }
}

/// A plan row's run times and throttling.
#[derive(Debug, Default)]
struct RunTimes {
    status: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    throttled: u64,
    paused_until: Option<String>,
}

impl RunTimes {
    fn running(&self) -> bool {
        self.status == crate::plan::status::RUNNING
    }

    /// Seconds from the start to the end (or now).
    fn elapsed(&self) -> u64 {
        let at = |t: &Option<String>| t.as_deref().and_then(|t| humantime::parse_rfc3339_weak(t).ok());
        let Some(started) = at(&self.started_at) else { return 0 };
        let end = if self.running() { std::time::SystemTime::now() } else { at(&self.finished_at).unwrap_or(started) };
        end.duration_since(started).map_or(0, |d| d.as_secs())
    }
}

/// Seconds for people: `45 s`, `3 min 20 s`, `2 h 05 min` (the CLI and the dashboard
/// say a run's times alike).
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Whole seconds from now until `until` (RFC 3339), if it is ahead.
fn seconds_until(until: Option<&str>) -> Option<u64> {
    let until = humantime::parse_rfc3339_weak(until?).ok()?;
    until.duration_since(std::time::SystemTime::now()).ok().map(|d| d.as_secs().max(1))
}

/// The run times of every plan, or of one.
async fn run_times(db: &StateDb, only: Option<&str>) -> anyhow::Result<std::collections::HashMap<String, RunTimes>> {
    let rows = sqlx::query("SELECT id, status, started_at, finished_at, throttled, paused_until FROM plans WHERE ? IS NULL OR id = ?")
        .bind(only)
        .bind(only)
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let times =
                RunTimes { status: r.get(1), started_at: r.get(2), finished_at: r.get(3), throttled: r.get::<i64, _>(4).max(0) as u64, paused_until: r.get(5) };
            (r.get(0), times)
        })
        .collect())
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
    /// Step → progress, as last recorded (`position` says the order they run in).
    pub progress: std::collections::BTreeMap<String, StepProgress>,
    /// The run as a whole.
    pub overall: Overall,
    /// What failed, once it ran.
    pub failures: FailureSummary,
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
    let mut times = run_times(db, None).await?;
    let mut failures = failure_summaries(db, None).await?;
    let mut out = Vec::new();
    for plan in Plan::list(db).await? {
        let steps = progress.remove(&plan.id).unwrap_or_default();
        let app_statuses = if plan.plan_apps.is_empty() { Vec::new() } else { app_lines(db, &plan).await? };
        let overall = Overall::of(&steps, &times.remove(&plan.id).unwrap_or_default());
        let failures = failures.remove(&plan.id).unwrap_or_default();
        out.push(PlanListing { plan, progress: steps, overall, failures, app_statuses });
    }
    Ok(out)
}

/// Every plan's recorded progress: plan id → step → progress.
pub async fn all_progress(db: &StateDb) -> anyhow::Result<std::collections::HashMap<String, std::collections::BTreeMap<String, StepProgress>>> {
    let mut out: std::collections::HashMap<String, std::collections::BTreeMap<String, StepProgress>> = std::collections::HashMap::new();
    for r in sqlx::query("SELECT plan_id, step, done, total, position, started_at, finished FROM plan_progress").fetch_all(db.pool()).await? {
        out.entry(r.get(0)).or_default().insert(r.get(1), step_progress(&r));
    }
    Ok(out)
}

fn step_progress(r: &sqlx::sqlite::SqliteRow) -> StepProgress {
    StepProgress {
        done: r.get::<i64, _>("done").max(0) as u64,
        total: r.get::<i64, _>("total").max(0) as u64,
        position: r.get::<i64, _>("position").max(0) as u64,
        started_at: r.get("started_at"),
        finished: r.get::<bool, _>("finished"),
    }
}

/// The recorded progress of one plan: step → progress.
pub async fn recorded_progress(db: &StateDb, plan_id: &str) -> anyhow::Result<std::collections::BTreeMap<String, StepProgress>> {
    let rows =
        sqlx::query("SELECT step, done, total, position, started_at, finished FROM plan_progress WHERE plan_id = ?").bind(plan_id).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| (r.get(0), step_progress(r))).collect())
}

/// A plan's steps in the order they run.
pub fn in_run_order(progress: &std::collections::BTreeMap<String, StepProgress>) -> Vec<(&String, &StepProgress)> {
    let mut steps: Vec<(&String, &StepProgress)> = progress.iter().collect();
    steps.sort_by_key(|(name, s)| (s.position, name.starts_with("app:"), (*name).clone()));
    steps
}

async fn app_lines(db: &StateDb, plan: &Plan) -> anyhow::Result<Vec<AppStatusLine>> {
    Ok(app_statuses(db, plan).await?.into_iter().map(|a| AppStatusLine { app: a.app, status: a.status }).collect())
}

/// Which plans a page of the listing shows: of a status (none: every one), whose name
/// or id holds `search` (case-insensitive), `limit` of them after `offset`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct ListFilter {
    /// Only plans of this status (`saved`, `running`, `finished`, `incomplete`, `failed`,
    /// `stopped`).
    #[serde(default)]
    pub status: Option<String>,
    /// Only plans whose name or id contains this, in any case.
    #[serde(default, rename = "q")]
    pub search: Option<String>,
    /// How many plans at most (50 when only `offset` is given, at most 500; neither:
    /// every plan).
    #[serde(default)]
    pub limit: Option<usize>,
    /// How many matching plans to skip, newest first.
    #[serde(default)]
    pub offset: Option<usize>,
}

/// Plans a page shows unless it says otherwise, and at most.
pub const PAGE_SIZE: usize = 50;
const MAX_PAGE: usize = 500;

/// A page of the plans: the plans of the page with their progress (newest first), how
/// many match the filter in all, and how many there are of each status.
pub struct ListingPage {
    /// The plans of the page.
    pub plans: Vec<PlanListing>,
    /// Plans matching the filter, on every page.
    pub matching: usize,
    /// Plans of each status (the search applied, the status filter not).
    pub by_status: std::collections::BTreeMap<String, usize>,
}

/// A page of [`listing`]: only the page's plans have their progress, failures and apps read.
pub async fn listing_page(db: &StateDb, filter: &ListFilter) -> anyhow::Result<ListingPage> {
    crate::plan::liveness::reap_dead_runs(db).await?;
    let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
    let found: Vec<Plan> =
        Plan::list(db).await?.into_iter().filter(|p| search.as_ref().is_none_or(|s| p.name.to_lowercase().contains(s) || p.id.contains(s.as_str()))).collect();
    let mut by_status = std::collections::BTreeMap::new();
    for p in &found {
        *by_status.entry(p.status.clone()).or_default() += 1;
    }
    let status = filter.status.as_deref().filter(|s| !s.is_empty());
    let matching: Vec<Plan> = found.into_iter().filter(|p| status.is_none_or(|s| p.status == s)).collect();
    let total = matching.len();
    // Neither limit nor offset: every plan (what `plan list --json` prints).
    let limit = match (filter.limit, filter.offset) {
        (None, None) => usize::MAX,
        (limit, _) => limit.unwrap_or(PAGE_SIZE).clamp(1, MAX_PAGE),
    };
    let mut plans = Vec::new();
    for plan in matching.into_iter().skip(filter.offset.unwrap_or(0)).take(limit) {
        plans.push(listing_of(db, plan).await?);
    }
    Ok(ListingPage { plans, matching: total, by_status })
}

/// The run as a whole of every plan that has progress: by plan id.
pub async fn all_overall(
    db: &StateDb,
    progress: &std::collections::HashMap<String, std::collections::BTreeMap<String, StepProgress>>,
) -> anyhow::Result<std::collections::HashMap<String, Overall>> {
    let mut times = run_times(db, None).await?;
    Ok(progress.iter().map(|(id, steps)| (id.clone(), Overall::of(steps, &times.remove(id).unwrap_or_default()))).collect())
}

/// How many entities failed in each ended plan (or in `only`) and the first few (kind,
/// entity, reason), read from the stored reports without loading them whole: by plan id.
pub async fn failure_summaries(db: &StateDb, only: Option<&str>) -> anyhow::Result<std::collections::HashMap<String, FailureSummary>> {
    let rows = sqlx::query(
        "SELECT id, json_array_length(report_json, '$.failures'), json_extract(report_json, '$.error'), \
                json_extract(report_json, '$.failures[0]'), json_extract(report_json, '$.failures[1]'), json_extract(report_json, '$.failures[2]') \
         FROM plans WHERE report_json IS NOT NULL AND (? IS NULL OR id = ?)",
    )
    .bind(only)
    .bind(only)
    .fetch_all(db.pool())
    .await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        let first = (3..6)
            .filter_map(|i| r.get::<Option<String>, _>(i))
            .filter_map(|json| serde_json::from_str::<crate::report::Failure>(&json).ok())
            .map(|f| format!("{} {}: {}", f.kind, f.server_id, f.reason))
            .collect();
        out.insert(r.get(0), FailureSummary { count: r.get::<Option<i64>, _>(1).unwrap_or(0).max(0) as u64, error: r.get(2), first });
    }
    Ok(out)
}

/// What failed in a plan's run, in short.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FailureSummary {
    /// Entities that failed.
    pub count: u64,
    /// Why the run stopped, when it did.
    pub error: Option<String>,
    /// The first few failures: kind, entity and reason.
    pub first: Vec<String>,
}

/// One plan with its progress and app statuses.
pub async fn listing_of(db: &StateDb, plan: Plan) -> anyhow::Result<PlanListing> {
    let progress = recorded_progress(db, &plan.id).await?;
    let app_statuses = app_lines(db, &plan).await?;
    let overall = Overall::of(&progress, &run_times(db, Some(&plan.id)).await?.remove(&plan.id).unwrap_or_default());
    let failures = failure_summaries(db, Some(&plan.id)).await?.remove(&plan.id).unwrap_or_default();
    Ok(PlanListing { plan, progress, overall, failures, app_statuses })
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
