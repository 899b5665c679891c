//! Ferry's main job, end to end on one machine: the admin's whole journey on a sample
//! Server site and an embedded staging Cloud site on a loopback port.
//!
//! Assess the apps and decide about each; connect to the Cloud site (where both cloud
//! apps are installed); read each plugin's policy and agree; check that preparation is
//! done; run the pre-migration checks (the sample site provokes errors and warnings) and
//! see the run refused; fix what the checks named (rename the conflicting cloud space,
//! correct the bad emails on the demo's copy of the Server site); run the plan (core
//! migration, then both apps); run a second plan, which links what already migrated;
//! and report, with each plugin's Stage figures. Then the Jira journey on the same cloud
//! site: a sample Jira Server site with Service Management, whose agents, related
//! customers, organizations and service projects' requests migrate in one Jira plan.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::assess::{self, Assessment, Decision};
use crate::checks::Check;
use crate::cloud::{self, CloudSite};
use crate::consent::{self, PolicyCard};
use crate::destination::{Destination, Secret};
use crate::migrate::report::PlanReport;
use crate::migrate::{rules, Migrator, Progress, Stage1Choice};
use crate::plan::runner::{run_checked, RunRefused};
use crate::plan::{AppsScope, Plan};
use crate::plugins::registry::Registry;
use crate::prepare::{self, Missing};
use crate::sample::{write_sample_site, SampleOptions, CALENDARS_APP, DIAGRAMS_APP, RATINGS_APP};
use crate::source::Source;
use crate::stages::{self, StageFigures};
use crate::staging::{self, Faults, PRODUCT_ACCESS_GROUP};
use crate::state::StateDb;

/// The environment variable the demo's cloud site reads its token from.
pub const DEMO_TOKEN_ENV: &str = "FERRY_DEMO_TOKEN";

/// The environment variable the demo's SCIM directory key is read from.
pub const DEMO_SCIM_KEY_ENV: &str = "FERRY_DEMO_SCIM_KEY";

/// The environment variable holding the migration secret the staging site's stand-in
/// cloud apps issued.
pub const DEMO_APP_SECRET_ENV: &str = "FERRY_DEMO_APP_SECRET";

/// The sample apps: server app key → cloud app key.
pub const SAMPLE_APPS: [(&str, &str); 3] =
    [(RATINGS_APP, "com.example.page-ratings.cloud"), (CALENDARS_APP, "com.example.team-calendars.cloud"), (DIAGRAMS_APP, "com.example.diagrams.cloud")];

/// The sample apps' data sent to a staging site's stand-in cloud apps
/// (`<site>/apps/<CLOUD_APP_KEY>`) instead of their vendors' endpoints, each transfer
/// signed with the secret in `$secret_env`.
pub fn stand_in_apps(url: &str, secret_env: &str) -> std::collections::BTreeMap<String, cloud::AppLink> {
    SAMPLE_APPS
        .iter()
        .map(|(server, cloud_key)| {
            let link = cloud::AppLink { endpoint: Some(format!("{}/apps/{cloud_key}", url.trim_end_matches('/'))), secret_env: Some(secret_env.into()) };
            (server.to_string(), link)
        })
        .collect()
}

/// The way to a staging site as to a real one: its URL, its admin's email with the API
/// token in `$token_env`, its user-provisioning directory with the key in `$scim_env`,
/// and, with `app_secret_env`, the sample apps' stand-ins (their secret in that variable).
pub fn staging_target(url: &str, access: &staging::Access, scim_url: &str, token_env: &str, scim_env: &str, app_secret_env: Option<&str>) -> cloud::Target {
    cloud::Target {
        url: url.into(),
        email: Some(access.email.clone()),
        cloud_id: None,
        gateway_url: None,
        token_env: token_env.into(),
        scim_url: Some(scim_url.into()),
        scim_token_env: Some(scim_env.into()),
        apps: app_secret_env.map(|env| stand_in_apps(url, env)).unwrap_or_default(),
    }
}

/// A client of a staging site, signed in as its admin (the secrets given, not read from
/// the environment): for seeding it and for tests.
pub fn staging_client(site: &staging::StagingSite, access: &staging::Access, concurrency: usize) -> anyhow::Result<Destination> {
    Destination::new(
        &site.url(),
        crate::destination::SiteAuth::Basic { email: access.email.clone(), token: Secret::new(access.api_token.clone()) },
        crate::destination::Directory { url: site.scim_url(), key: Secret::new(access.directory_key.clone()) },
        concurrency,
    )
}

/// The name the demo connects its staging site under.
pub const DEMO_CLOUD: &str = "staging";

/// Every step of the journey, as the admin saw it.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// `ferry verify` of the first plan after both runs.
    pub verification: crate::migrate::verify::Verification,
    /// Step 1: the Server site, known by its identity (its server id).
    pub server_site: crate::sites::ServerSite,
    /// Step 1: the apps, their paths, Stages and the decisions taken.
    pub assessment: Vec<Assessment>,
    /// Step 2: the connected cloud site (no token: it stays in its variable).
    pub cloud: CloudSite,
    /// Step 3: the policy cards agreed to.
    pub consents: Vec<PolicyCard>,
    /// Step 4: what `apps done` found missing (nothing, when preparation is complete).
    pub apps_missing: Vec<Missing>,
    /// Step 5: the checks of the plan before the fixes.
    pub first_checks: Vec<Check>,
    /// Why the first run attempt was refused.
    pub refused: String,
    /// Step 6: what the demo fixed.
    pub fixes: Vec<String>,
    /// The checks after the fixes.
    pub checks_after_fixes: Vec<Check>,
    /// Step 7: the first run's report (core migration and apps).
    pub first_run: PlanReport,
    /// Step 8: the second plan's report: it links what already migrated.
    pub second_run: PlanReport,
    /// Step 9: each plugin's Stage.
    pub stages: Vec<StageFigures>,
    /// Step 10: the Jira plan's checks.
    pub jira_checks: Vec<Check>,
    /// Step 10: the Jira plan's report (customers, agents, requests).
    pub jira_run: PlanReport,
    /// Step 10: `ferry verify` of the Jira plan.
    pub jira_verification: crate::migrate::verify::Verification,
    /// Where the staging site's data is kept.
    pub staging_db: PathBuf,
}

/// Walk the journey in `home`, installing the plugins found in `plugins_dir`
/// (`page_ratings.wasm`, `team_calendars.wasm`, `diagrams.wasm`).
pub async fn run_demo(
    home: &Path,
    plugins_dir: &Path,
    options: &SampleOptions,
    progress: fn() -> Progress,
    journal: Option<&Path>,
) -> anyhow::Result<DemoReport> {
    let db = StateDb::open(home).await?;
    let work = home.join("demo");
    let _ = std::fs::remove_dir_all(&work);
    let site = work.join("server");
    write_sample_site(&site, None, options).await?;
    let source_db = site.join("site.db").display().to_string();

    let access = staging::Access::with_token(&format!("demo-{}", crate::plugins::local::new_id()));
    // SAFETY of set_var: the demo sets them before any thread reads the environment.
    std::env::set_var(DEMO_TOKEN_ENV, &access.api_token);
    std::env::set_var(DEMO_SCIM_KEY_ENV, &access.directory_key);
    std::env::set_var(DEMO_APP_SECRET_ENV, &access.app_secret);
    let staging_db = work.join("cloud.db");
    let cloud_site = staging::start_with_journal(&staging_db, "127.0.0.1:0", &access, Faults::default(), journal).await?;
    let admin = staging_client(&cloud_site, &access, 2)?;
    seed_existing_cloud(&admin).await?;

    // The vendors sign their plugins; the admin trusts the vendors' key. (The demo plays
    // both parts with one key it makes for itself.)
    let vendor_key = demo_vendor_key(&db, home).await?;
    let registry = Registry::new(db.clone());
    for name in ["page_ratings", "team_calendars", "diagrams"] {
        let file = plugins_dir.join(format!("{name}.wasm"));
        anyhow::ensure!(file.is_file(), "{} not found: build it with `cargo build --release --target wasm32-wasip2 -p {name}`", file.display());
        let signed = crate::plugins::signature::sign(&std::fs::read(&file)?, &vendor_key)?;
        match registry.install(&signed, false).await {
            Ok(_) | Err(crate::plugins::registry::InstallError::NotNewer { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }

    // 1. Assess: two apps are needed, the macro pack is replaced by an alternative.
    let source = Source::connect(&source_db).await?;
    let server_site = crate::sites::get(&db, &crate::sites::identify(&db, &source, None).await?.id).await?;
    let apps = assess::read_server_apps(&db, &source).await?;
    for app in &apps {
        let decision = if [RATINGS_APP, CALENDARS_APP, DIAGRAMS_APP].contains(&app.key.as_str()) { Decision::Needed } else { Decision::Alternative };
        assess::decide(&db, &app.key, decision).await?;
    }
    let assessment = assess::assess(&db, &apps).await?;

    // 2. Connect, with the cloud apps installed on the site.
    let target = staging_target(&cloud_site.url(), &access, &cloud_site.scim_url(), DEMO_TOKEN_ENV, DEMO_SCIM_KEY_ENV, Some(DEMO_APP_SECRET_ENV));
    let cloud = cloud::connect(&db, DEMO_CLOUD, target).await?.site;
    let mut consents = Vec::new();
    for app in [RATINGS_APP, CALENDARS_APP, DIAGRAMS_APP] {
        let plugin = registry.get(app).await?.ok_or_else(|| anyhow::anyhow!("no plugin for {app}"))?;
        // The admin installs the cloud app on the site, then confirms it to ferry.
        admin.admin_install_cloud_app(&plugin.cloud_app_key).await?;
        cloud::confirm_app(&db, &cloud.target.url, &plugin.cloud_app_key).await?;
        // 3. Consent: read the policy card, then agree to exactly that file.
        let card = consent::policy_card(&db, app).await?;
        consent::agree(&db, app, Some(&card.sha256)).await?;
        consents.push(consent::policy_card(&db, app).await?);
    }
    // 4. Done?
    let apps_missing = prepare::missing_items(&db, Some(DEMO_CLOUD)).await?;

    // 5. A plan for everything; its checks; the run refused.
    let plan = demo_plan(&db, &cloud, &source_db, &site, "demo migration").await?;
    let mut migrator = Migrator::new(db.clone(), plan.clone(), Progress::hidden()).await?;
    let first_checks = migrator.checks().await?;
    let refused = match run_checked(migrator, Some(Stage1Choice::Proceed)).await {
        Err(e) if e.downcast_ref::<RunRefused>().is_some() => e.to_string(),
        Err(e) => return Err(e),
        Ok(_) => anyhow::bail!("the sample site should provoke check errors, and the run went ahead"),
    };

    // 6. Fix what the checks named.
    let mut fixes = Vec::new();
    admin.admin_rename_space("DOC", "DOCARCHIVE").await?;
    fixes.push("renamed the cloud space DOC to DOCARCHIVE, so the server's DOC space can migrate".to_string());
    for fixed in correct_bad_emails(&site.join("site.db")).await? {
        fixes.push(format!("corrected the email of {fixed} on the Server site"));
    }
    let mut migrator = Migrator::new(db.clone(), plan.clone(), Progress::hidden()).await?;
    let checks_after_fixes = migrator.checks().await?;

    // 7. The run: the plugins are new, so they are Stage 1; the admin proceeds.
    let first_plan = plan.id.clone();
    let first_run = run_checked(Migrator::new(db.clone(), plan, progress()).await?, Some(Stage1Choice::Proceed)).await?;

    // 8. A second plan links what already migrated.
    let second = demo_plan(&db, &cloud, &source_db, &site, "demo migration, second pass").await?;
    let second_run = run_checked(Migrator::new(db.clone(), second, progress()).await?, Some(Stage1Choice::Proceed)).await?;

    // 9. Everything the first plan migrated, read back from the cloud and compared.
    let verification = Migrator::new(db.clone(), Plan::get(&db, &first_plan).await?, Progress::hidden()).await?.verify().await?;

    // 10. The Stages, with their figures.
    let stages = stages::all(&db).await?;

    // 11. Jira Service Management: the sample Jira site's agents, related customers,
    // organizations and service projects, into the same cloud site.
    let jira_site = work.join("jira");
    crate::sample::jira::write_jira_site(&jira_site, None, &crate::sample::jira::JiraOptions::default()).await?;
    crate::sample::jira::seed_cloud(&admin).await?;
    let jira_plan = Plan::create(
        &db,
        Plan {
            product: crate::source::Product::Jira,
            spaces: crate::plan::SpacesScope::None,
            projects: crate::plan::SpacesScope::All,
            customers: crate::plan::UsersScope::Related,
            apps: AppsScope::None,
            product_group: staging::JSM_ACCESS_GROUP.into(),
            cloud: Some(cloud.name.clone()),
            ..Plan::new("demo jira migration", &jira_site.join("jira.db").display().to_string(), "", &cloud.target)
        },
    )
    .await?;
    let mut migrator = Migrator::new(db.clone(), jira_plan.clone(), Progress::hidden()).await?;
    let jira_checks = migrator.checks().await?;
    let jira_id = jira_plan.id.clone();
    let jira_run = run_checked(Migrator::new(db.clone(), jira_plan, progress()).await?, None).await?;
    // Everything the Jira plan migrated, read back and compared.
    let jira_verification = Migrator::new(db.clone(), Plan::get(&db, &jira_id).await?, Progress::hidden()).await?.verify().await?;
    Ok(DemoReport {
        server_site,
        assessment,
        cloud,
        consents,
        apps_missing,
        first_checks,
        refused,
        fixes,
        checks_after_fixes,
        first_run,
        second_run,
        verification,
        stages,
        jira_checks,
        jira_run,
        jira_verification,
        staging_db,
    })
}

/// The name the demo trusts its vendor key under.
pub const DEMO_VENDOR: &str = "Sample vendors (demo key)";

/// The demo's vendor signing key, kept in FERRY_HOME (made on the first demo) and
/// trusted as [`DEMO_VENDOR`].
async fn demo_vendor_key(db: &StateDb, home: &Path) -> anyhow::Result<crate::plugins::signature::SigningKey> {
    use crate::plugins::signature;
    let path = home.join("demo-vendor.key");
    if !path.exists() {
        signature::keygen(&path)?;
    }
    let key = signature::read_signing_key(&path)?;
    crate::plugins::trust::add(db, DEMO_VENDOR, &signature::public_key(&key)).await?;
    Ok(key)
}

async fn demo_plan(db: &StateDb, cloud: &CloudSite, source: &str, site: &Path, name: &str) -> anyhow::Result<Plan> {
    Plan::create(
        db,
        Plan {
            apps: AppsScope::Needed,
            trusted_domains: vec!["example.com".into()],
            cloud: Some(cloud.name.clone()),
            ..Plan::new(name, source, &site.join("attachments").display().to_string(), &cloud.target)
        },
    )
    .await
}

/// Give every user whose email the rule refuses (invalid or shared) an address of their
/// own, on the demo's copy of the Server site. Returns the user names.
pub async fn correct_bad_emails(site_db: &Path) -> anyhow::Result<Vec<String>> {
    let source = Source::connect(&site_db.display().to_string()).await?;
    let order = source.directory_order().await?;
    let rows = source.directory_users().await?.into_iter().filter(|u| order.contains(&u.directory_id)).collect();
    let resolved = rules::resolve_directories(&order, rows);
    let review = rules::review_emails(resolved.users);
    let bad: Vec<(i64, String)> =
        review.invalid.iter().map(|(u, _)| (u.id, u.username.clone())).chain(review.shared.iter().map(|(u, _, _)| (u.id, u.username.clone()))).collect();
    let pool = crate::state::open_sqlite(site_db).await?;
    for (id, name) in &bad {
        let email = format!("{}@example.com", name.to_lowercase());
        sqlx::query("UPDATE cwd_user SET email_address = ?, lower_email_address = ? WHERE id = ?").bind(&email).bind(&email).bind(id).execute(&pool).await?;
    }
    pool.close().await;
    Ok(bad.into_iter().map(|(_, n)| n).collect())
}

/// What the demo's Cloud site already holds before the migration, so the report shows
/// the rules at work: a group that exists in the cloud (merged), an account that exists
/// with access, one without, and a space key already taken.
async fn seed_existing_cloud(dest: &Destination) -> anyhow::Result<()> {
    dest.create_group("jira-users").await?;
    let with_access = dest.create_user("user00009@example.com", "User 9 (cloud)", true).await?;
    dest.create_user("user00001@example.com", "User 1 (cloud)", true).await?;
    let product = dest.find_group(PRODUCT_ACCESS_GROUP).await?.and_then(|g| g.id).unwrap_or_default();
    dest.add_group_members(&product, &[with_access.id.unwrap_or_default()]).await?;
    dest.create_space("DOC", "Documentation (already in the cloud)").await?;
    Ok(())
}
