//! The migration assistant's journey: assess, decide, connect, consent, checks, apps
//! inside plans, stop, re-run, and Stages. Commands that an admin runs in another
//! process are run as the `ferry` binary.

use std::process::{Command, Output};
use std::time::Duration;

use ferry_host::assess::{self, Decision};
use ferry_host::checks::{Check, CheckResult};
use ferry_host::consent::{self, ConsentStatus};
use ferry_host::migrate::{Migrator, Progress, Stage1Choice};
use ferry_host::plan::runner::run_checked;
use ferry_host::plan::{AppsScope, Plan, SpacesScope, UsersScope};
use ferry_host::stages;
use ferry_host::staging::Faults;
use sqlx::Row;

use crate::core_migration::{Cloud, CloudSecrets, SCIM_KEY_ENV, TOKEN, TOKEN_ENV};
use crate::support::{wasm, Fixture, CALENDARS, RATINGS};

/// Run `ferry` with this fixture's FERRY_HOME and the cloud token in the environment.
pub(crate) fn ferry(f: &Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry")).args(args).env("FERRY_HOME", f.home()).cloud_secrets().output().unwrap()
}

/// Start `ferry` in the background, its output captured.
fn spawn_ferry(f: &Fixture, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env("FERRY_HOME", f.home())
        .cloud_secrets()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Assess the fixture's site and decide: the two sample apps needed, the macro pack not.
pub(crate) async fn assess_and_decide(f: &Fixture) {
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    assess::decide(&f.db, RATINGS, Decision::Needed).await.unwrap();
    assess::decide(&f.db, CALENDARS, Decision::Needed).await.unwrap();
    assess::decide(&f.db, "com.example.confluence.macro-pack", Decision::NotNeeded).await.unwrap();
    assess::decide(&f.db, "com.example.confluence.diagrams", Decision::NotNeeded).await.unwrap();
}

/// A plan of the fixture into `cloud`, with the needed apps.
pub(crate) fn plan(f: &Fixture, cloud: &Cloud, name: &str, users: UsersScope, spaces: SpacesScope) -> Plan {
    Plan {
        users,
        spaces,
        trusted_domains: vec!["example.com".into(), "old.example.com".into()],
        app_deadline_secs: 120,
        ..Plan::new(name, &f.source_url, &f.site.join("attachments").display().to_string(), &cloud.target())
    }
}

/// Everything an app needs to run in a plan: its cloud app installed and consent.
pub(crate) async fn prepare(f: &Fixture, cloud: &Cloud, app: &str) {
    let plugin = ferry_host::plugins::registry::Registry::new(f.db.clone()).get(app).await.unwrap().unwrap();
    cloud.dest.admin_install_cloud_app(&plugin.cloud_app_key).await.unwrap();
    ferry_host::cloud::confirm_app(&f.db, &cloud.site.url(), &plugin.cloud_app_key).await.unwrap();
    consent::agree(&f.db, app, None).await.unwrap();
}

fn code<'a>(checks: &'a [Check], code: &str) -> &'a Check {
    checks.iter().find(|c| c.code == code).unwrap_or_else(|| panic!("no check {code}"))
}

async fn checks_of(f: &Fixture, plan: Plan) -> Vec<Check> {
    let plan = Plan::create(&f.db, plan).await.unwrap();
    Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().checks().await.unwrap()
}

async fn status_of(f: &Fixture, app: &str) -> ConsentStatus {
    consent::list(&f.db).await.unwrap().into_iter().find(|c| c.app == app).unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_lists_every_app_with_its_path_and_the_decision_starts_not_assessed() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let out = ferry(&f, &["apps", "assess", "--source", &f.source_url, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let apps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_key = |k: &str| apps.as_array().unwrap().iter().find(|a| a["key"] == k).unwrap().clone();
    let ratings = by_key(RATINGS);
    assert_eq!((ratings["path"].as_str(), ratings["version"].as_str(), ratings["decision"].as_str()), (Some("automated"), Some("2.4.1"), Some("not-assessed")));
    assert_eq!(ratings["stage"], "stage-1-unknown");
    assert_eq!(by_key(CALENDARS)["path"], "none", "no calendars plugin is installed");
    assert_eq!(by_key("com.example.confluence.macro-pack")["enabled"], false, "disabled in the plugin state map");

    // Decisions are stored and changeable; a key not on the site is refused.
    assert!(ferry(&f, &["apps", "decide", RATINGS, "needed"]).status.success());
    assert!(ferry(&f, &["apps", "decide", RATINGS, "alternative"]).status.success());
    assert_eq!(assess::decision(&f.db, RATINGS).await.unwrap().0, Decision::Alternative);
    let typo = ferry(&f, &["apps", "decide", "com.example.typo", "needed"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(text(&typo).contains("not installed on the assessed Server site"), "{}", text(&typo));
    // Marked manual by the admin.
    assert!(ferry(&f, &["apps", "mark-manual", RATINGS]).status.success());
    let apps = assess::assess(&f.db, &assess::server_apps(&f.db).await.unwrap()).await.unwrap();
    assert_eq!(apps.iter().find(|a| a.key == RATINGS).unwrap().path.name(), "manual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_for_another_server_version_is_a_manual_path_and_server_app_outdated() {
    let f = Fixture::new().await;
    f.install("page_ratings").await; // reads Server versions >=2.0, <4
    set_server_app_version(&f, RATINGS, "5.0.0").await;
    assess_and_decide(&f).await;
    let apps = assess::assess(&f.db, &assess::server_apps(&f.db).await.unwrap()).await.unwrap();
    let ratings = apps.iter().find(|a| a.key == RATINGS).unwrap();
    assert_eq!(ratings.path.name(), "manual");
    assert!(ratings.path_reason.contains("not 5.0.0"), "{}", ratings.path_reason);
    assert_eq!(status_of(&f, RATINGS).await, ConsentStatus::ServerAppOutdated);
}

/// Install another version of an app on the fixture's Server site.
async fn set_server_app_version(f: &Fixture, app: &str, version: &str) {
    let jar = ferry_host::sample::app_jar(app, "Page Ratings", version, "Example Apps").unwrap();
    let pool = ferry_host::state::open_sqlite(&f.site.join("site.db")).await.unwrap();
    sqlx::query("UPDATE plugindata SET data = ? WHERE pluginkey = ?").bind(jar).bind(app).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_statuses_follow_decisions_plugins_and_agreement() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    assert_eq!(status_of(&f, RATINGS).await, ConsentStatus::NotGiven);
    assert_eq!(status_of(&f, CALENDARS).await, ConsentStatus::NoAutomatedPath);
    assess::decide(&f.db, "com.example.confluence.macro-pack", Decision::NotNeeded).await.unwrap();
    assert_eq!(status_of(&f, "com.example.confluence.macro-pack").await, ConsentStatus::NoMigrationNeeded);

    // Agreeing to another file than the one reviewed is refused.
    let wrong = ferry(&f, &["consent", "agree", RATINGS, "--sha256", "0000"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(ferry(&f, &["consent", "agree", RATINGS]).status.success());
    let out = ferry(&f, &["consent", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list.as_array().unwrap().iter().any(|c| c["app"] == RATINGS && c["status"] == "given"), "{list}");
    assert!(ferry(&f, &["consent", "revoke", RATINGS]).status.success());
    assert_eq!(status_of(&f, RATINGS).await, ConsentStatus::NotGiven);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_version_makes_consent_outdated_and_shows_the_scope_difference() {
    let f = Fixture::new().await;
    f.install("hostile_probe").await; // page-ratings 0.1.0: app-data-other, -pii, -ugc
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    consent::agree(&f.db, RATINGS, None).await.unwrap();
    assert_eq!(status_of(&f, RATINGS).await, ConsentStatus::Given);

    f.install("page_ratings").await; // 1.0.0 reads product data and mappings too
    assert_eq!(status_of(&f, RATINGS).await, ConsentStatus::Outdated);
    let card = consent::policy_card(&f.db, RATINGS).await.unwrap();
    assert_eq!(card.consented_version.as_deref(), Some("0.1.0"));
    let changes = card.changes.unwrap();
    assert_eq!(changes.added_scopes, ["migration-tracing-identity", "migration-tracing-product", "product-data-other"]);
    assert!(changes.removed_scopes.is_empty());
    assert_eq!(changes.added_columns, ["AO_530061_RATING.CREATED (other)", "AO_530061_RATING.PAGE_ID (other)"]);
    // Where the data goes changed too: the new version names its cloud app's endpoint.
    assert_eq!(changes.endpoint_change.as_deref(), Some("none named → https://apps.example.com"));
    let shown = text(&ferry(&f, &["consent", "show", RATINGS]));
    assert!(shown.contains("You consented to version 0.1.0") && shown.contains("scopes added: migration-tracing-identity"), "{shown}");
    assert!(shown.contains("Read how server users and groups map to cloud accounts and groups"), "scopes in plain words: {shown}");
    assert!(shown.contains("the data this plugin exports is sent to https://apps.example.com (Example Apps)"), "{shown}");
    assert!(shown.contains("where the data goes: none named → https://apps.example.com"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_done_is_refused_until_each_missing_item_is_fixed() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let none = ferry(&f, &["apps", "done"]);
    assert!(text(&none).contains("no assessment yet"), "{}", text(&none));
    f.install("page_ratings").await;
    f.install("team_calendars").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    let mut args: Vec<String> = ["cloud", "connect", "trial", "--url", &cloud.site.url()].map(str::to_string).to_vec();
    args.extend(cloud.sign_in_args(TOKEN_ENV));
    let connect = ferry(&f, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(connect.status.success(), "{}", text(&connect));
    assert!(!text(&connect).contains(TOKEN), "the token is never printed");
    assert!(text(&connect).contains("proven: signed in as Site admin and administers Confluence"), "{}", text(&connect));

    let missing = |out: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["missing"].as_array().unwrap().iter().map(|m| format!("{} {}", m["app"].as_str().unwrap(), m["missing"].as_str().unwrap())).collect()
    };
    let out = ferry(&f, &["apps", "done", "--json"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(missing(&out).iter().filter(|m| m.contains("no decision")).count(), 4, "{:?}", missing(&out));

    assess_and_decide(&f).await;
    let out = ferry(&f, &["apps", "done", "--json"]);
    let items = missing(&out);
    assert!(
        items
            .iter()
            .any(|m| m.starts_with(RATINGS) && m.contains("cloud app com.example.page-ratings.cloud is not confirmed") && m.contains("ferry apps installed")),
        "{items:?}"
    );
    assert!(items.iter().any(|m| m.starts_with(CALENDARS) && m.contains("no consent")), "{items:?}");

    for app in [RATINGS, CALENDARS] {
        let plugin = ferry_host::plugins::registry::Registry::new(f.db.clone()).get(app).await.unwrap().unwrap();
        cloud.dest.admin_install_cloud_app(&plugin.cloud_app_key).await.unwrap();
        // Installed on the site is not enough: no public API shows it to the admin's
        // token, so the admin confirms it.
        let items = missing(&ferry(&f, &["apps", "done", "--json"]));
        assert!(items.iter().any(|m| m.contains(&format!("cloud app {} is not confirmed", plugin.cloud_app_key))), "{items:?}");
        let confirmed = ferry(&f, &["apps", "installed", &plugin.cloud_app_key, "--cloud", "trial"]);
        assert!(confirmed.status.success() && text(&confirmed).contains("confirmed installed"), "{}", text(&confirmed));
    }
    let undone = ferry(&f, &["apps", "installed", "com.example.nothing", "--undo"]);
    assert!(text(&undone).contains("was not confirmed"), "{}", text(&undone));
    let items = missing(&ferry(&f, &["apps", "done", "--json"]));
    assert!(items.iter().all(|m| m.contains("no consent")) && items.len() == 2, "{items:?}");
    consent::agree(&f.db, RATINGS, None).await.unwrap();
    consent::agree(&f.db, CALENDARS, None).await.unwrap();
    let out = ferry(&f, &["apps", "done"]);
    assert!(out.status.success(), "{}", text(&out));
    // The token stays in its variable: the state DB holds only the variable's name.
    let stored: String = sqlx::query("SELECT token_env FROM cloud_sites WHERE name = 'trial'").fetch_one(f.db.pool()).await.unwrap().get(0);
    assert_eq!(stored, TOKEN_ENV);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_name_what_the_sample_site_provokes_with_stable_codes() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    cloud.dest.create_space("DOC", "taken").await.unwrap();
    cloud.dest.create_group("jira-users").await.unwrap();
    f.install("page_ratings").await;
    f.install("team_calendars").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    assess::decide(&f.db, RATINGS, Decision::Needed).await.unwrap();
    assess::decide(&f.db, CALENDARS, Decision::Needed).await.unwrap();
    let mut p = plan(&f, &cloud, "checks", UsersScope::All, SpacesScope::All);
    p.trusted_domains = vec!["example.com".into()];
    let checks = checks_of(&f, p).await;
    let expect = [
        ("users.invalid-email", CheckResult::Error),
        ("users.duplicate-email", CheckResult::Error),
        ("users.untrusted-domain", CheckResult::Warning),
        ("groups.merge", CheckResult::Warning),
        ("groups.blocklisted", CheckResult::Warning),
        ("spaces.key-conflict", CheckResult::Error),
        ("spaces.public-anonymous", CheckResult::Warning),
        ("spaces.permission-group-missing", CheckResult::Warning),
        ("content.short-links", CheckResult::Warning),
        ("content.restriction-subject-missing", CheckResult::Warning),
        ("apps.not-assessed", CheckResult::Error),
        ("apps.consent-missing", CheckResult::Error),
        ("apps.cloud-app-missing", CheckResult::Error),
        ("apps.stage1", CheckResult::Warning),
        ("apps.plugin-changed", CheckResult::Pass),
        ("apps.server-app-outdated", CheckResult::Pass),
        ("system.contract-unsupported", CheckResult::Pass),
    ];
    for (c, result) in expect {
        assert_eq!(code(&checks, c).result, result, "{c}: {:?}", code(&checks, c));
    }
    assert_eq!(code(&checks, "spaces.key-conflict").entities, ["DOC"]);
    assert_eq!(code(&checks, "groups.merge").entities, ["confluence-users", "jira-users"]);
    assert_eq!(code(&checks, "groups.blocklisted").entities, ["site-admins"]);
    let missing: Vec<String> = code(&checks, "content.restriction-subject-missing")
        .entities
        .iter()
        .map(|e| format!("{} {}", e.split(" (").next().unwrap(), e.rsplit(") names ").next().unwrap()))
        .collect();
    assert_eq!(missing, ["ENG: ENG page 0 group ghost-team", "ENG: ENG page 2 user 8a7f808adeleted0 (deleted)", "ENG: ENG page 2 group hr-private"]);
    assert_eq!(code(&checks, "users.untrusted-domain").entities, ["old.example.com (2 users)"]);
    assert!(code(&checks, "apps.not-assessed").entities.iter().any(|e| e.contains("macro-pack")));
    assert!(checks.iter().all(|c| c.result == CheckResult::Pass || !c.fix.is_empty()), "every finding says how to fix it");

    // The same from the CLI, as JSON with the documented keys, exit 5 on errors.
    let id = Plan::list(&f.db).await.unwrap()[0].id.clone();
    let out = ferry(&f, &["plan", "check", &id, "--json"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in json.as_array().unwrap() {
        for key in ["code", "result", "entities", "fix"] {
            assert!(c.get(key).is_some(), "{key} in {c}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_checks_catch_outdated_consent_a_changed_plugin_an_upgraded_server_app_and_an_unserved_contract() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("hostile_probe").await;
    assess_and_decide(&f).await;
    prepare(&f, &cloud, RATINGS).await;
    let plan_v0 = Plan::create(&f.db, plan(&f, &cloud, "fixed to 0.1.0", UsersScope::None, SpacesScope::None)).await.unwrap();
    f.install("page_ratings").await;
    let checks = checks_of(&f, plan(&f, &cloud, "after the upgrade", UsersScope::None, SpacesScope::None)).await;
    assert_eq!(code(&checks, "apps.consent-outdated").result, CheckResult::Error);
    assert_eq!(code(&checks, "apps.plugin-changed").result, CheckResult::Pass);
    let mut m = Migrator::new(f.db.clone(), plan_v0, Progress::hidden()).await.unwrap();
    let old = m.checks().await.unwrap();
    assert_eq!(code(&old, "apps.plugin-changed").result, CheckResult::Error, "the plan fixed 0.1.0; 1.0.0 is installed");

    consent::agree(&f.db, RATINGS, None).await.unwrap();
    set_server_app_version(&f, RATINGS, "5.1.0").await;
    let checks = checks_of(&f, plan(&f, &cloud, "server upgraded", UsersScope::None, SpacesScope::None)).await;
    let outdated = code(&checks, "apps.server-app-outdated");
    assert_eq!(outdated.result, CheckResult::Error);
    assert!(outdated.fix.contains("update the Server app"), "{outdated:?}");

    // A plugin recorded by a ferry that served another contract.
    set_server_app_version(&f, RATINGS, "2.4.1").await;
    let later = plan(&f, &cloud, "contract", UsersScope::None, SpacesScope::None);
    let later = Plan::create(&f.db, later).await.unwrap();
    sqlx::query("UPDATE plugins SET manifest_json = replace(manifest_json, '\"contract\":\"0.2.0\"', '\"contract\":\"0.9.0\"')")
        .execute(f.db.pool())
        .await
        .unwrap();
    let checks = Migrator::new(f.db.clone(), later, Progress::hidden()).await.unwrap().checks().await.unwrap();
    assert_eq!(code(&checks, "system.contract-unsupported").result, CheckResult::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_check_errors_is_refused_with_exit_5_and_the_plan_stays_saved() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let p = Plan::create(&f.db, Plan { apps: AppsScope::None, ..plan(&f, &cloud, "bad emails", UsersScope::All, SpacesScope::All) }).await.unwrap();
    let out = ferry(&f, &["plan", "run", &p.id]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("users.invalid-email"), "{}", text(&out));
    assert_eq!(Plan::get(&f.db, &p.id).await.unwrap().status, "saved");
    let reviewed = cloud.review("users").await;
    assert!(reviewed.as_array().unwrap().is_empty(), "nothing was migrated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage1_app_needs_a_choice_and_remove_leaves_it_out_and_is_recorded() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("team_calendars").await;
    assess_and_decide(&f).await;
    prepare(&f, &cloud, CALENDARS).await;
    let p = Plan::create(&f.db, plan(&f, &cloud, "stage 1", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]))).await.unwrap();
    let out = ferry(&f, &["plan", "run", &p.id]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("--stage1 proceed"), "{}", text(&out));
    assert_eq!(Plan::get(&f.db, &p.id).await.unwrap().status, "saved");

    let out = ferry(&f, &["plan", "run", &p.id, "--stage1", "remove", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(report["stage1_choice"], "remove");
    assert_eq!(report["stage1_apps"][0], CALENDARS);
    assert_eq!(report["apps"][0]["status"], "ready");
    assert!(report["apps"][0]["message"].as_str().unwrap().contains("removed"), "{report}");
    let ran: i64 = sqlx::query("SELECT COUNT(*) FROM plugin_runs WHERE transfer_id != ''").fetch_one(f.db.pool()).await.unwrap().get(0);
    assert_eq!(ran, 0, "the removed app did not run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_run_after_the_core_with_exactly_the_consented_scopes_and_are_audited() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("page_ratings").await;
    assess_and_decide(&f).await;
    prepare(&f, &cloud, RATINGS).await;
    let p = Plan::create(&f.db, plan(&f, &cloud, "apps", UsersScope::None, SpacesScope::Keys(vec!["ENG".into(), "MKT".into()]))).await.unwrap();
    assert_eq!(p.plan_apps.len(), 1, "only the needed app with a plugin is fixed into the plan");
    let m = Migrator::new(f.db.clone(), p.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone());
    let report = run_checked(m, Some(Stage1Choice::Proceed)).await.unwrap();
    let app = &report.apps[0];
    assert_eq!(app.status, "complete", "{app:?}");
    let transfer = app.transfer_id.clone().unwrap();
    let row = sqlx::query("SELECT plan_id, status FROM plugin_runs WHERE transfer_id = ?").bind(&transfer).fetch_one(f.db.pool()).await.unwrap();
    assert_eq!((row.get::<String, _>(0), row.get::<String, _>(1)), (p.id.clone(), "complete".to_string()));
    let uploaded = cloud.review(&format!("transfers/{transfer}")).await;
    assert!(!uploaded.as_array().map(Vec::is_empty).unwrap_or(true), "uploads are filed under the transfer: {uploaded}");

    // The audit: per scope and host function, bytes uploaded, no denial.
    let out = ferry(&f, &["audit", &p.id, "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &audit[0];
    assert_eq!(run["app"], RATINGS);
    assert!(run["uploaded_bytes"].as_u64().unwrap() > 0);
    assert!(run["denied"].as_array().unwrap().is_empty());
    let reads: Vec<String> = run["access"].as_array().unwrap().iter().map(|a| a["function"].as_str().unwrap().to_string()).collect();
    assert!(reads.iter().any(|r| r == "app-tables.read") && reads.iter().any(|r| r.starts_with("mappings.")), "{reads:?}");
    // Its outcome counts for its Stage.
    let figures = stages::all(&f.db).await.unwrap();
    assert_eq!((figures[0].attempts, figures[0].successes), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_consent_from_another_process_denies_the_running_plugin_its_next_call() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("hostile_probe").await; // named "revoke", it reads until it is denied
    assess_and_decide(&f).await;
    prepare(&f, &cloud, RATINGS).await;
    let p = Plan::create(&f.db, plan(&f, &cloud, "revoke", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]))).await.unwrap();
    let child = spawn_ferry(&f, &["plan", "run", &p.id, "--stage1", "proceed", "--json"]);
    let mut running = false;
    for _ in 0..1_200 {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM plugin_runs WHERE plan_id = ? AND status = 'running'").bind(&p.id).fetch_one(f.db.pool()).await.unwrap().get(0);
        if n == 1 {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the app migration started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let revoke = ferry(&f, &["consent", "revoke", RATINGS]);
    assert!(revoke.status.success(), "{}", text(&revoke));
    let out = child.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let app = &report["apps"][0];
    assert_eq!(app["status"], "incomplete", "{app}");
    let message = app["message"].as_str().unwrap();
    assert!(message.contains("reads, then") && message.contains("denied") && message.contains("app-data-other"), "{message}");
    assert!(app["denied"].as_u64().unwrap() >= 1);
    let reads: u64 = message.split(' ').next().unwrap().parse().unwrap();
    assert!(reads > 1, "it read until the revocation: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_from_another_process_ends_the_plan_stopped_and_no_app_starts() {
    let options = ferry_host::sample::SampleOptions { pages_per_space: 40, ..Default::default() };
    let f = Fixture::with(None, &options).await;
    // Slow enough to stop mid-way: every fourth request is throttled for a second (and a
    // 429 pauses every request to the site).
    let cloud = Cloud::start(Faults { throttle_every: 4, retry_after_secs: 1, fail_rate: 0.0, ..Faults::default() }).await;
    f.install("team_calendars").await;
    assess_and_decide(&f).await;
    prepare(&f, &cloud, CALENDARS).await;
    let p = Plan::create(&f.db, plan(&f, &cloud, "stop me", UsersScope::None, SpacesScope::Keys(vec!["ENG".into(), "MKT".into()]))).await.unwrap();
    let child = spawn_ferry(&f, &["plan", "run", &p.id, "--stage1", "proceed", "--json"]);
    for _ in 0..1_200 {
        if Plan::get(&f.db, &p.id).await.unwrap().status == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let stop = ferry(&f, &["plan", "stop", &p.id]);
    assert!(stop.status.success(), "{}", text(&stop));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "stopped");
    assert!(report["apps_not_started"].as_str().unwrap().contains("stopped"), "{report}");
    assert_eq!(report["apps"][0]["status"], "ready");
    let ran: i64 = sqlx::query("SELECT COUNT(*) FROM plugin_runs WHERE plan_id = ?").bind(&p.id).fetch_one(f.db.pool()).await.unwrap().get(0);
    assert_eq!(ran, 0, "no app migration started");
    // plan list shows the status and the steps it got through.
    let list: serde_json::Value = serde_json::from_slice(&ferry(&f, &["plan", "list", "--json"]).stdout).unwrap();
    assert_eq!(list[0]["status"], "stopped");
    assert!(list[0]["progress"]["spaces"]["total"].as_u64() == Some(2), "{}", list[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_do_not_run_after_a_failed_core_migration() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults { fail_rate: 1.0, ..Faults::default() }).await;
    f.install("team_calendars").await;
    assess_and_decide(&f).await;
    consent::agree(&f.db, CALENDARS, None).await.unwrap();
    let p = Plan::create(&f.db, plan(&f, &cloud, "failing", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]))).await.unwrap();
    let dest =
        cloud.dest.clone().with_retry(ferry_host::destination::RetryPolicy { attempts: 2, base: Duration::from_millis(1), max: Duration::from_millis(2) });
    let report = Migrator::new(f.db.clone(), p, Progress::hidden()).await.unwrap().with_destination(dest).run().await.unwrap();
    assert_eq!(report.status, "failed");
    assert!(report.apps_not_started.as_deref().unwrap().contains("ended failed"), "{report:?}");
    assert_eq!(report.apps[0].status, "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_gets_a_new_transfer_that_names_the_first_and_needs_current_consent() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("hostile_probe").await; // named "panic", it fails
    assess_and_decide(&f).await;
    prepare(&f, &cloud, RATINGS).await;
    let p = Plan::create(&f.db, plan(&f, &cloud, "panic", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]))).await.unwrap();
    let m = Migrator::new(f.db.clone(), p.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone());
    let report = run_checked(m, Some(Stage1Choice::Proceed)).await.unwrap();
    assert_eq!(report.apps[0].status, "failed");
    let first = report.apps[0].transfer_id.clone().unwrap();

    let out = ferry(&f, &["apps", "rerun", &p.id, RATINGS, "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let rerun: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rerun["original_transfer_id"], first.as_str());
    assert_ne!(rerun["transfer_id"], first.as_str());
    let again = ferry(&f, &["apps", "rerun", &p.id, RATINGS, "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["original_transfer_id"], first.as_str(), "a re-run of a re-run names the first transfer");
    // plan show reads the apps section as it is now.
    let show: serde_json::Value = serde_json::from_slice(&ferry(&f, &["plan", "show", &p.id, "--json"]).stdout).unwrap();
    assert_eq!(show["apps"][0]["transfer_id"], again["transfer_id"]);

    consent::revoke(&f.db, RATINGS).await.unwrap();
    let refused = ferry(&f, &["apps", "rerun", &p.id, RATINGS]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("consent for com.example.confluence.page-ratings is not current"), "{}", text(&refused));
    let figures = stages::all(&f.db).await.unwrap();
    assert_eq!((figures[0].attempts, figures[0].successes), (3, 0));
}

fn outcomes(app: &str, version: &str, complete: usize, failed: usize, days_ago: u64) -> String {
    let at = humantime::format_rfc3339(std::time::SystemTime::now() - Duration::from_secs(days_ago * 86_400 + 60)).to_string();
    (0..complete + failed)
        .map(|n| {
            let status = if n < complete { "complete" } else { "failed" };
            format!(r#"{{"app":"{app}","version":"{version}","transfer_id":"{app}-{version}-{days_ago}-{n}","status":"{status}","finished_at":"{at}"}}"#)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_boundaries_count_only_recent_outcomes_of_the_current_major_version() {
    let f = Fixture::new().await;
    f.install("page_ratings").await; // 1.0.0
    let stage = || async { stages::all(&f.db).await.unwrap().into_iter().find(|s| s.app == RATINGS).unwrap() };
    assert_eq!(stage().await.stage.name(), "stage-1-unknown", "no migrations at all");

    let summary = stages::import(&f.db, &outcomes(RATINGS, "1.0.0", 15, 0, 1), "test").await.unwrap();
    assert_eq!(summary.added, 15);
    assert_eq!(stage().await.stage.name(), "stage-1-unknown", "15 of 15 is not yet enough");
    // Old major versions and outcomes older than the window do not count.
    stages::import(&f.db, &outcomes(RATINGS, "0.9.0", 10, 0, 1), "test").await.unwrap();
    stages::import(&f.db, &outcomes(RATINGS, "1.0.0", 10, 0, 91), "test").await.unwrap();
    let s = stage().await;
    assert_eq!((s.attempts, s.stage.name()), (15, "stage-1-unknown"));
    stages::import(&f.db, &outcomes(RATINGS, "1.1.0", 1, 0, 2), "test").await.unwrap();
    let s = stage().await;
    assert_eq!((s.attempts, s.successes, s.stage.name()), (16, 16, "stage-2"));
    assert!(s.lower >= 0.8 && s.decided_by.contains("lower bound"), "{s:?}");

    // Importing the same file again adds nothing; a bad line refuses the whole file.
    let again = stages::import(&f.db, &outcomes(RATINGS, "1.0.0", 15, 0, 1), "test").await.unwrap();
    assert_eq!((again.added, again.duplicates), (0, 15));
    let bad = stages::import(&f.db, r#"{"app":"a","version":"1.0.0","transfer_id":"t","status":"maybe","finished_at":"2026-01-01T00:00:00Z"}"#, "test").await;
    assert!(bad.unwrap_err().to_string().contains("line 1"));

    // A demonstrably low plugin, through the CLI export and import.
    let low = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(low.path(), outcomes(CALENDARS, "6.0.0", 4, 16, 3)).unwrap();
    let out = ferry(&f, &["stages", "import", low.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&ferry(&f, &["stages", "--json"]).stdout).unwrap();
    let calendars = json.as_array().unwrap().iter().find(|s| s["app"] == CALENDARS).unwrap();
    assert_eq!(calendars["stage"], "stage-1-low");
    assert!(calendars["upper"].as_f64().unwrap() < 0.8);
    for key in ["app", "version", "attempts", "successes", "rate", "lower", "upper", "stage"] {
        assert!(calendars.get(key).is_some(), "{key}");
    }
    let exported = ferry(&f, &["stages", "export", "-"]);
    assert_eq!(String::from_utf8_lossy(&exported.stdout).lines().count(), 15 + 10 + 10 + 1 + 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_refers_to_a_connected_cloud_site_by_name() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let connect = |name: &str, token_env: &str| -> Vec<String> {
        let mut args: Vec<String> = ["cloud", "connect", name, "--url", &cloud.site.url()].map(str::to_string).to_vec();
        args.extend(cloud.sign_in_args(token_env));
        args
    };
    let bad = ferry(&f, &connect("x", "FERRY_NO_SUCH_VARIABLE").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(bad.status.code(), Some(1));
    let wrong = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(connect("x", "FERRY_WRONG_TOKEN"))
        .env("FERRY_HOME", f.home())
        .env(SCIM_KEY_ENV, ferry_host::staging::Access::with_token(TOKEN).directory_key)
        .env("FERRY_WRONG_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong).contains("401") && !text(&wrong).contains("not-the-token"), "{}", text(&wrong));
    assert!(ferry(&f, &connect("trial", TOKEN_ENV).iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    let out =
        ferry(&f, &["plan", "create", "--name", "by name", "--source", &f.source_url, "--attachments", "x", "--cloud", "trial", "--apps", "none", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (plan["destination"].as_str(), plan["cloud"].as_str(), plan["token_env"].as_str()),
        (Some(cloud.site.url().as_str()), Some("trial"), Some(TOKEN_ENV))
    );
    let sites = ferry(&f, &["cloud", "list", "--json"]);
    assert!(!text(&sites).contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_run_with_a_plan_serves_the_mappings_that_plan_recorded() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("team_calendars").await;
    let p =
        Plan::create(&f.db, Plan { apps: AppsScope::None, ..plan(&f, &cloud, "core", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()])) }).await.unwrap();
    Migrator::new(f.db.clone(), p.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap();
    let out = ferry(&f, &["plugin", "run", CALENDARS, "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--plan", &p.id, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(report["status"], "complete", "{report}");
    assert!(report["access"]["migration-tracing-product"]["rows"].as_u64().unwrap() >= 1, "{report}");
    let _ = wasm("team_calendars");
}
