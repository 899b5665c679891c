//! The core migration under hostile conditions: least-privilege source access, a kill
//! mid-run, a throttling and failing destination, and an independent SCIM server.

use std::process::Command;
use std::time::Duration;

use ferry_host::plan::{SpacesScope, UsersScope};
use ferry_host::sample::SampleOptions;
use ferry_host::staging::Faults;
use sqlx::Row;

use crate::core_migration::{plan_for, run_plan, Cloud, CloudSecrets, TOKEN, TOKEN_ENV};
use crate::postgres::PgCluster;
use crate::support::Fixture;

#[tokio::test]
async fn a_migration_never_selects_credentials_even_from_postgresql() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("site").await;
    let f = Fixture::with_database(Some(&url)).await;
    let apps = f.source().await.installed_apps().await.unwrap();
    let listed: Vec<(&str, &str, &str)> = apps.iter().map(|a| (a.key.as_str(), a.version.as_str(), a.vendor.as_str())).collect();
    assert_eq!(
        listed,
        [
            ("com.example.confluence.diagrams", "3.2.0", "Example Apps"),
            ("com.example.confluence.macro-pack", "1.9.0", "Macro Makers & Co"),
            ("com.example.confluence.page-ratings", "2.4.1", "Example Apps"),
            ("com.example.confluence.team-calendars", "6.0.3", "Example Apps"),
        ],
        "installed apps are read from the JARs in plugindata"
    );
    // A role that can read everything except password hashes and secrets.
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let grants = "CREATE ROLE ferry_reader LOGIN; \
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO ferry_reader; \
        REVOKE SELECT ON cwd_user, cwd_application, cwd_user_credential_record FROM ferry_reader; \
        GRANT SELECT (id, user_name, lower_user_name, active, created_date, updated_date, first_name, lower_first_name, last_name, \
            lower_last_name, display_name, lower_display_name, email_address, lower_email_address, external_id, directory_id) ON cwd_user TO ferry_reader; \
        GRANT SELECT (id, application_name, lower_application_name, created_date, updated_date, active, description, application_type) \
            ON cwd_application TO ferry_reader;";
    sqlx::raw_sql(grants).execute(&mut admin).await.unwrap();
    // The role really cannot read them.
    let mut reader = <sqlx::AnyConnection as sqlx::Connection>::connect(&url.replace("ferry@", "ferry_reader@")).await.unwrap();
    let denied = sqlx::raw_sql("SELECT credential FROM cwd_user").execute(&mut reader).await.unwrap_err();
    assert!(denied.to_string().contains("permission denied"), "{denied}");

    let cloud = Cloud::start(Faults::default()).await;
    let mut plan = plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false);
    plan.source = url.replace("ferry@", "ferry_reader@");
    let report = run_plan(&f, &cloud, plan).await;
    assert_eq!(report.error, None);
    assert_eq!(report.status, "incomplete", "only the sample's planted failures: {:?}", report.failures);
    assert_eq!(report.counts["users"].cloud, 38);
    assert!(report.counts["pages"].cloud > 0);
}

/// Every (kind, space, title or email) in the cloud, to prove nothing is there twice.
async fn cloud_inventory(cloud: &Cloud) -> Vec<String> {
    let mut all = Vec::new();
    for user in cloud.review("users").await.as_array().unwrap() {
        all.push(format!("user {}", user["email"]));
    }
    for space in cloud.review("spaces").await.as_array().unwrap() {
        let key = space["key"].as_str().unwrap();
        all.push(format!("space {key}"));
        for c in cloud.review(&format!("spaces/{key}/content")).await.as_array().unwrap() {
            // Comments have no title: name them by their page and their body's author.
            all.push(format!("{} {key} {} {} {}", c["kind"], c["title"], c["page_id"], c["id"].as_i64().map(|_| "").unwrap_or("")));
        }
    }
    all
}

#[tokio::test]
async fn a_run_killed_midway_then_a_new_plan_ends_with_every_entity_exactly_once() {
    let options = SampleOptions { pages_per_space: 150, ..SampleOptions::default() };
    let f = Fixture::with(None, &options).await;
    // `plan run` checks first: give the planted bad emails valid ones.
    ferry_host::demo::correct_bad_emails(&f.site.join("site.db")).await.unwrap();
    let cloud = Cloud::start(Faults::default()).await;
    let plan = ferry_host::plan::Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["plan", "run", &plan.id, "--json"])
        .env("FERRY_HOME", f.home())
        .cloud_secrets()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some pages have landed, with no chance to tidy up.
    let mut landed = 0i64;
    for _ in 0..2_000 {
        landed = sqlx::query("SELECT COUNT(*) FROM mappings WHERE namespace = 'confluence:page'").fetch_one(f.db.pool()).await.unwrap().get(0);
        if landed >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(landed >= 40, "the run was killed mid-way ({landed} pages landed)");
    // The plan does not stay `running`: the listing ends it failed, naming why.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let killed = loop {
        let listed = ferry_host::migrate::standing::listing(&f.db).await.unwrap();
        let it = listed.into_iter().find(|l| l.plan.id == plan.id).unwrap().plan;
        if it.status != "running" {
            break it;
        }
        assert!(std::time::Instant::now() < deadline, "still running 30 s after its process was killed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(killed.status, "failed");
    let error = ferry_host::plan::Plan::report(&f.db, &plan.id).await.unwrap().and_then(|r| r.error).unwrap_or_default();
    assert!(error.contains("is gone") && error.contains("create a new plan"), "{error}");

    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
    for kind in ["pages", "blogposts"] {
        assert_eq!(report.counts[kind].server, report.counts[kind].cloud, "{kind}: {:?}", report.counts[kind]);
    }
    let comments = &report.counts["comments"];
    assert_eq!(comments.server, comments.cloud + crate::support::unmoved_file_comments(&report), "{comments:?}");
    let inventory = cloud_inventory(&cloud).await;
    let pages: Vec<&String> = inventory.iter().filter(|e| e.starts_with("\"page\"") || e.starts_with("\"blogpost\"")).collect();
    let unique: std::collections::HashSet<&&String> = pages.iter().collect();
    assert_eq!(pages.len(), unique.len(), "a page or blog post is in the cloud twice");
    assert_eq!(pages.len() as u64, report.counts["pages"].server + report.counts["blogposts"].server);
    let users: Vec<&String> = inventory.iter().filter(|e| e.starts_with("user ")).collect();
    assert_eq!(users.len(), users.iter().collect::<std::collections::HashSet<_>>().len());
    let content: i64 = inventory.iter().filter(|e| e.starts_with("\"comment\"")).count() as i64;
    assert_eq!(content as u64, report.counts["comments"].cloud, "comments exactly once");
}

#[tokio::test]
async fn a_throttling_flaky_destination_loses_nothing() {
    let f = Fixture::new().await;
    let calm = Cloud::start(Faults::default()).await;
    let expected = run_plan(&f, &calm, plan_for(&f, &calm, UsersScope::All, SpacesScope::All, false)).await;
    let f2 = Fixture::new().await;
    let stormy = Cloud::start(Faults { throttle_every: 7, retry_after_secs: 0, fail_rate: 0.1, ..Faults::default() }).await;
    let report = run_plan(&f2, &stormy, plan_for(&f2, &stormy, UsersScope::All, SpacesScope::All, false)).await;
    assert_eq!(report.counts, expected.counts);
    assert_eq!(report.status, expected.status, "same planted failures, nothing more");
    assert_eq!(report.failures.len(), expected.failures.len(), "{:?}", report.failures);
    assert_eq!(report.former_user, expected.former_user);
}

#[tokio::test]
async fn users_and_groups_migrate_into_an_independent_scim_server() {
    let scim = crate::destination::ScimServer::start_with(TOKEN).await;
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let dest = ferry_host::destination::Destination::new(
        &cloud.site.url(),
        ferry_host::destination::SiteAuth::Basic { email: ferry_host::staging::DEFAULT_ADMIN_EMAIL.into(), token: ferry_host::destination::Secret::new(TOKEN) },
        ferry_host::destination::Directory { url: scim.url.clone(), key: ferry_host::destination::Secret::new(TOKEN) },
        4,
    )
    .unwrap();
    dest.create_group("confluence-users").await.unwrap();
    let mut plan = plan_for(&f, &cloud, UsersScope::All, SpacesScope::None, false);
    plan.scim_url = Some(scim.url.clone());
    plan.scim_token_env = Some(TOKEN_ENV.into());
    let plan = ferry_host::plan::Plan::create(&f.db, plan).await.unwrap();
    let report = ferry_host::migrate::Migrator::new(f.db.clone(), plan, ferry_host::migrate::Progress::hidden())
        .await
        .unwrap()
        .with_destination(dest.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(report.counts["users"].cloud, 38, "{:?}", report.failures);
    assert_eq!(report.counts["groups"].cloud, 6);
    let ada = dest.find_user_by_email("user00002@example.com").await.unwrap().expect("in the SCIM server");
    assert_eq!(ada.active, Some(true));
    let engineering = dest.find_group("engineering").await.unwrap().unwrap();
    assert!(!engineering.members.is_empty());
    let product = dest.find_group("confluence-users").await.unwrap().unwrap();
    let disabled = dest.find_user_by_email("user00009@example.com").await.unwrap().unwrap();
    assert!(!product.members.iter().any(|m| Some(&m.value) == disabled.id.as_ref()), "a disabled user gets no product access");
    // A directory that is not an Atlassian organisation's names no account: the users are
    // in it, and the report says their content has no account to point at.
    assert_eq!(report.users_without_account.len(), 38, "{:?}", report.users_without_account);
}
