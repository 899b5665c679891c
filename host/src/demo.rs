//! Ferry's main job, end to end on one machine: a sample Server site, an embedded staging
//! Cloud site on a loopback port, a full trial migration (users, groups, spaces,
//! content, attachments, permissions), then the app plugins, and the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::destination::{Destination, Secret};
use crate::migrate::apps::{migrate_apps, AppOutcome};
use crate::migrate::report::PlanReport;
use crate::migrate::{Migrator, Progress};
use crate::plan::{Plan, SpacesScope, UsersScope};
use crate::plugins::engine::PluginEngine;
use crate::plugins::limits::Limits;
use crate::plugins::registry::Registry;
use crate::sample::{write_sample_site, SampleOptions};
use crate::staging::{self, Faults, PRODUCT_ACCESS_GROUP};
use crate::state::StateDb;

/// The environment variable the demo's plan reads its token from.
pub const DEMO_TOKEN_ENV: &str = "FERRY_DEMO_TOKEN";

/// The demo's outcome: the plan's report and what each app did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// The core migration's report.
    #[serde(flatten)]
    pub plan: PlanReport,
    /// Each app's migration.
    pub apps: Vec<AppOutcome>,
    /// Where the staging site's data is kept.
    pub staging_db: PathBuf,
}

/// Run the demo in `home`, installing the plugins found in `plugins_dir` (any of
/// `page_ratings.wasm`, `team_calendars.wasm`).
pub async fn run_demo(home: &Path, plugins_dir: &Path, options: &SampleOptions, progress: Progress) -> anyhow::Result<DemoReport> {
    let db = StateDb::open(home).await?;
    let work = home.join("demo");
    let _ = std::fs::remove_dir_all(&work);
    let site = work.join("server");
    write_sample_site(&site, None, options).await?;

    let token = format!("demo-{}", crate::plugins::local::new_id());
    // SAFETY of set_var: the demo sets it before any thread reads the environment var.
    std::env::set_var(DEMO_TOKEN_ENV, &token);
    let staging_db = work.join("cloud.db");
    let cloud = staging::start(&staging_db, "127.0.0.1:0", &token, Faults::default()).await?;
    seed_existing_cloud(&cloud.url(), &token).await?;

    let registry = Registry::new(db.clone());
    for name in ["page_ratings", "team_calendars"] {
        let file = plugins_dir.join(format!("{name}.wasm"));
        if file.is_file() {
            match registry.install(&std::fs::read(&file)?).await {
                Ok(_) | Err(crate::plugins::registry::InstallError::NotNewer { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            tracing::warn!("{} not found: build it with `cargo build --release --target wasm32-wasip2 -p {name}`", file.display());
        }
    }

    let plan = Plan::create(
        &db,
        Plan {
            id: String::new(),
            name: "demo trial migration".into(),
            source: site.join("site.db").display().to_string(),
            attachments: site.join("attachments").display().to_string(),
            destination: cloud.url(),
            scim_url: None,
            token_env: DEMO_TOKEN_ENV.into(),
            users: UsersScope::All,
            spaces: SpacesScope::All,
            attachments_only: false,
            product_group: PRODUCT_ACCESS_GROUP.into(),
            status: String::new(),
            created_at: String::new(),
        },
    )
    .await?;
    let report = Migrator::new(db.clone(), plan.clone(), progress).await?.run().await?;
    let mut apps = Vec::new();
    if matches!(report.status.as_str(), "finished" | "incomplete") {
        let engine = Arc::new(PluginEngine::new(Some(home.join("cache")))?);
        let dest = Destination::new(&plan.destination, None, Secret::new(token), 8)?;
        let spaces = crate::source::Source::connect(&plan.source).await?.spaces().await?.into_iter().map(|s| s.key).collect();
        apps = migrate_apps(&db, engine, &plan, &dest, spaces, Limits::default()).await?;
    }
    Ok(DemoReport { plan: report, apps, staging_db })
}

/// What the demo's Cloud site already holds before the migration, so the report shows
/// the rules at work: a group that exists in the cloud (merged), an account that exists
/// with access, one without, and a space key already taken.
async fn seed_existing_cloud(url: &str, token: &str) -> anyhow::Result<()> {
    let dest = Destination::new(url, None, Secret::new(token), 2)?;
    dest.create_group("jira-users").await?;
    let with_access = dest.create_user("user00009@example.com", "User 9 (cloud)", true).await?;
    dest.create_user("user00001@example.com", "User 1 (cloud)", true).await?;
    let product = dest.find_group(PRODUCT_ACCESS_GROUP).await?.and_then(|g| g.id).unwrap_or_default();
    dest.add_group_members(&product, &[with_access.id.unwrap_or_default()]).await?;
    dest.create_space("DOC", "Documentation (already in the cloud)", "seed:DOC").await?;
    Ok(())
}
