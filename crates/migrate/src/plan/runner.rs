//! Running a plan the way an admin does: the pre-migration checks first (any error
//! refuses the run and leaves the plan saved), the Stage 1 choice when the plan has
//! Stage 1 apps, then the migration. The CLI and any other front end call this; the
//! rules stay in [`crate::checks`] and [`crate`].

use std::fmt;

use crate::checks::{self, Check, CheckResult};
use crate::plan::{status, Plan};
use crate::report::PlanReport;
use crate::{Migrator, Stage1Choice};
use ferry_apps::stages;

/// Why a plan run was refused before it started.
#[derive(Debug)]
pub enum RunRefused {
    /// Pre-migration checks found errors.
    Checks(Vec<Check>),
    /// The plan has Stage 1 apps and the admin has not said whether to proceed with them.
    Stage1ChoiceNeeded(Vec<String>),
}

impl fmt::Display for RunRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunRefused::Checks(checks) => {
                let errors: Vec<&str> = checks.iter().filter(|c| c.result == CheckResult::Error).map(|c| c.code.as_str()).collect();
                write!(f, "the pre-migration checks found errors ({}): fix them, then run the plan again", errors.join(", "))
            }
            RunRefused::Stage1ChoiceNeeded(apps) => {
                write!(f, "the plan has Stage 1 apps ({}): run it with --stage1 proceed to migrate them, or --stage1 remove to leave them out", apps.join(", "))
            }
        }
    }
}

impl std::error::Error for RunRefused {}

/// The plan's apps that are Stage 1 now.
pub async fn stage1_apps(migrator: &Migrator) -> anyhow::Result<Vec<String>> {
    let db = migrator.db();
    let rule = stages::rule(db).await?;
    let mut out = Vec::new();
    for app in &migrator.plan().plan_apps {
        if stages::figures(db, &app.app, &app.version, &rule).await?.stage.is_stage1() {
            out.push(app.app.clone());
        }
    }
    Ok(out)
}

/// Check, then run. A refusal ([`RunRefused`]) leaves the plan `saved`.
pub async fn run_checked(migrator: Migrator, stage1: Option<Stage1Choice>) -> anyhow::Result<PlanReport> {
    ready(migrator, stage1).await?.run().await
}

/// Everything before the run: the plan must be saved, the checks must find no error,
/// and a plan with Stage 1 apps needs the admin's choice. Returns the migrator, ready
/// to run; a refusal ([`RunRefused`]) leaves the plan `saved`.
pub async fn ready(mut migrator: Migrator, stage1: Option<Stage1Choice>) -> anyhow::Result<Migrator> {
    let plan = Plan::get(migrator.db(), &migrator.plan().id).await?;
    ferry_core::Declined::unless(plan.status == status::SAVED, || {
        format!("plan {} is {}, not saved: plans run once; create a new plan (it links what already migrated)", plan.id, plan.status)
    })?;
    let found = migrator.checks().await?;
    if checks::has_errors(&found) {
        return Err(RunRefused::Checks(found).into());
    }
    let stage1_apps = stage1_apps(&migrator).await?;
    if !stage1_apps.is_empty() {
        let Some(choice) = stage1 else { return Err(RunRefused::Stage1ChoiceNeeded(stage1_apps).into()) };
        migrator.choose_stage1(choice, stage1_apps);
    }
    migrator.set_checks(found);
    Ok(migrator)
}
