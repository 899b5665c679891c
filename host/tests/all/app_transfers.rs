//! App data reaches each app's cloud half: the host sends the plugin's uploads to the
//! app's migration endpoint (here the staging site's stand-in receivers), signed with the
//! app's migration secret, and the app's status is the cloud app's settlement.

use std::collections::BTreeMap;

use ferry_host::migrate::{Migrator, Progress, Stage1Choice};
use ferry_host::plan::runner::run_checked;
use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::stages;
use ferry_host::staging::apps::AppFault;
use ferry_host::staging::Faults;
use serde_json::Value;

use crate::core_migration::Cloud;
use crate::journey::{assess_and_decide, plan, prepare};
use crate::support::{Fixture, RATINGS};

const RATINGS_CLOUD: &str = "com.example.page-ratings.cloud";

/// The page-ratings app migrated in a plan of ENG and MKT into `cloud`, its plan changed
/// by `adjust`: the plan's report.
async fn ratings_run(f: &Fixture, cloud: &Cloud, adjust: impl FnOnce(Plan) -> Plan) -> (Plan, ferry_host::migrate::report::PlanReport) {
    f.install("page_ratings").await;
    assess_and_decide(f).await;
    prepare(f, cloud, RATINGS).await;
    let p = adjust(plan(f, cloud, "ratings", UsersScope::None, SpacesScope::Keys(vec!["ENG".into(), "MKT".into()])));
    let p = Plan::create(&f.db, p).await.unwrap();
    let m = Migrator::new(f.db.clone(), p.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone());
    let report = run_checked(m, Some(Stage1Choice::Proceed)).await.unwrap();
    (p, report)
}

fn faulty(fault: AppFault) -> BTreeMap<String, AppFault> {
    [(RATINGS_CLOUD.to_string(), fault)].into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_app_imports_what_the_plugin_sent_and_its_settlement_is_the_apps_status() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let (p, report) = ratings_run(&f, &cloud, |p| p).await;
    let app = &report.apps[0];
    assert_eq!(app.status, "complete", "{app:?}");
    assert_eq!(app.plugin_status.as_deref(), Some("complete"));
    let settlement = app.settlement.as_ref().expect("settled");
    assert_eq!(settlement.status, "success");
    assert!(settlement.message.as_deref().unwrap().starts_with("imported "), "{settlement:?}");
    assert_eq!(app.endpoint.as_deref(), Some(format!("{}/apps/{RATINGS_CLOUD}", cloud.site.url()).as_str()));
    assert!(app.endpoint_overridden, "the stand-in is the admin's override of the vendor's endpoint");
    assert!(app.uploads >= 1);

    // The cloud app: one transfer, told what it carries, with the mappings the plugin's
    // consent covers, and every rating on a page the site has.
    let seen = cloud.review(&format!("apps/{RATINGS_CLOUD}")).await;
    let transfers = seen["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 1, "{seen}");
    let t = &transfers[0];
    assert_eq!(t["transfer_id"], app.transfer_id.clone().unwrap().as_str());
    assert_eq!(t["status"], "success");
    assert_eq!(t["uploads"].as_u64(), Some(app.uploads));
    assert_eq!(t["start"]["plan"]["id"], p.id.as_str());
    assert_eq!(t["start"]["serverSite"]["id"], p.site_id(&f.db).await.unwrap().as_str());
    assert_eq!(t["start"]["containers"], serde_json::json!(["ENG", "MKT"]));
    let mappings = t["mappings"].as_object().unwrap();
    assert!(mappings["confluence:page"].as_i64().unwrap() > 0, "{mappings:?}");
    assert!(mappings.keys().all(|n| n.starts_with("confluence:") || n.starts_with("identity:")), "only what its tracing scopes cover: {mappings:?}");
    let imported = seen["imported"].as_array().unwrap();
    assert!(!imported.is_empty());
    for rating in imported {
        assert_eq!(rating["kind"], "rating");
        let page = cloud.review(&format!("content/{}", rating["target"].as_str().unwrap())).await;
        assert_eq!(page["kind"], "page", "{rating}");
    }
    // The settled outcome counts for the Stage.
    let figures = stages::all(&f.db).await.unwrap();
    assert_eq!((figures[0].attempts, figures[0].successes), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_completed_fails_when_its_cloud_app_fails_the_transfer_and_its_stage_counts_the_failure() {
    let f = Fixture::new().await;
    let cloud = Cloud::start_with(Faults::default(), None, faulty(AppFault::Fails)).await;
    let (_, report) = ratings_run(&f, &cloud, |p| p).await;
    let app = &report.apps[0];
    assert_eq!(app.status, "failed", "{app:?}");
    assert_eq!(app.plugin_status.as_deref(), Some("complete"), "the plugin's own outcome is kept beside it");
    assert_eq!(app.settlement.as_ref().map(|s| s.status.as_str()), Some("failed"));
    let message = app.message.as_deref().unwrap();
    assert!(message.starts_with("the cloud app failed the transfer: this stand-in was told to fail"), "{message}");
    let figures = stages::all(&f.db).await.unwrap();
    assert_eq!((figures[0].attempts, figures[0].successes), (1, 0), "a plugin that completed is not a success when its cloud app failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_never_settled_is_timed_out_at_the_plans_settlement_deadline() {
    let f = Fixture::new().await;
    let cloud = Cloud::start_with(Faults::default(), None, faulty(AppFault::NeverSettles)).await;
    let started = std::time::Instant::now();
    let (_, report) = ratings_run(&f, &cloud, |p| Plan { app_settle_secs: 2, ..p }).await;
    let app = &report.apps[0];
    assert_eq!(app.status, "timed-out", "{app:?}");
    assert_eq!(app.settlement, None);
    let message = app.message.as_deref().unwrap();
    assert!(message.starts_with("the cloud app did not settle the transfer in 2s"), "{message}");
    assert!(message.contains("never settles"), "the cloud app's last word is shown: {message}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let figures = stages::all(&f.db).await.unwrap();
    assert_eq!((figures[0].attempts, figures[0].successes), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refuses_a_transfer_signed_with_another_secret_and_nothing_is_sent() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    std::env::set_var("FERRY_TEST_WRONG_APP_SECRET", "not the secret the cloud app issued");
    let (_, report) = ratings_run(&f, &cloud, |mut p| {
        p.app_links.get_mut(RATINGS).unwrap().secret_env = Some("FERRY_TEST_WRONG_APP_SECRET".into());
        p
    })
    .await;
    let app = &report.apps[0];
    assert_eq!(app.status, "failed", "{app:?}");
    let message = app.message.as_deref().unwrap();
    assert!(message.contains("refused Ferry's signature") && message.contains("401"), "{message}");
    assert!(!message.contains("not the secret"), "the secret is never shown: {message}");
    let seen = cloud.review(&format!("apps/{RATINGS_CLOUD}")).await;
    assert!(seen["transfers"].as_array().unwrap().is_empty(), "the receiver keeps nothing from an unproven sender: {seen}");

    // Unsigned, or signed for another request, the receiver answers 401 too.
    let url = format!("{}/apps/{RATINGS_CLOUD}/transfers/t1", cloud.site.url());
    let unsigned = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let secret = ferry_host::staging::Access::with_token(crate::core_migration::TOKEN).app_secret;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let other = ferry_host::app_transfer::sign(secret.as_bytes(), now, "GET", &format!("/apps/{RATINGS_CLOUD}/transfers/t2"), b"");
    let replayed = reqwest::Client::new()
        .get(&url)
        .header(ferry_host::app_transfer::TIMESTAMP_HEADER, now.to_string())
        .header(ferry_host::app_transfer::SIGNATURE_HEADER, other)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    let right = ferry_host::app_transfer::sign(secret.as_bytes(), now, "GET", &format!("/apps/{RATINGS_CLOUD}/transfers/t1"), b"");
    let signed = reqwest::Client::new()
        .get(&url)
        .header(ferry_host::app_transfer::TIMESTAMP_HEADER, now.to_string())
        .header(ferry_host::app_transfer::SIGNATURE_HEADER, right)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 404, "signed by the site's Ferry: no such transfer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_tells_the_cloud_app_the_original_transfer() {
    let f = Fixture::new().await;
    let cloud = Cloud::start_with(Faults::default(), None, faulty(AppFault::Fails)).await;
    let (p, report) = ratings_run(&f, &cloud, |p| p).await;
    let first = report.apps[0].transfer_id.clone().unwrap();
    let rerun = ferry_host::migrate::apps::rerun(&f.db, &p.id, RATINGS, ferry_host::plugins::limits::Limits::default()).await.unwrap();
    assert_eq!(rerun.original_transfer_id.as_deref(), Some(first.as_str()));
    let seen = cloud.review(&format!("apps/{RATINGS_CLOUD}")).await;
    let transfers = seen["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 2, "{seen}");
    assert_eq!(transfers[0]["start"].get("originalTransferId"), None);
    assert_eq!(transfers[1]["start"]["originalTransferId"], first.as_str());
    assert_eq!(transfers[1]["transfer_id"], rerun.transfer_id.unwrap().as_str());
    let _: &Value = &seen;
}

/// The stand-in settles honestly: data that names a page the site does not have, or that
/// cannot be read, fails the transfer with the reason; a repeated request is the same
/// request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_fails_a_transfer_that_names_a_page_the_site_lacks_or_cannot_be_read() {
    use ferry_host::app_transfer::{PlanRef, ServerSiteRef, TransferComplete, TransferStart, PROTOCOL};
    use ferry_host::migrate::cloud_app::{AppSecret, Settled, Transfer};

    let cloud = Cloud::start(Faults::default()).await;
    cloud.dest.admin_install_cloud_app(RATINGS_CLOUD).await.unwrap();
    let endpoint = format!("{}/apps/{RATINGS_CLOUD}", cloud.site.url());
    let secret = || AppSecret::from_env(crate::core_migration::APP_SECRET_ENV, RATINGS).unwrap();
    let start = |id: &str| TransferStart {
        protocol: PROTOCOL.into(),
        transfer_id: id.into(),
        original_transfer_id: None,
        server_app_key: RATINGS.into(),
        cloud_app_key: RATINGS_CLOUD.into(),
        plugin_version: "1.0.0".into(),
        plan: PlanRef { id: "p".into(), name: "p".into(), product: "confluence".into() },
        server_site: ServerSiteRef { id: "site".into(), base_url: None },
        cloud_site: cloud.site.url(),
        containers: vec!["ENG".into()],
        started_at: "2026-12-07T00:00:00Z".into(),
    };
    let within = std::time::Duration::from_secs(10);
    for (id, data, expected) in [
        (
            "t-unknown-page",
            r#"{"server_id":7,"page_id":"999999","account_id":null,"stars":4,"comment":null,"created":null}"#,
            "rating 7 names page 999999, which this site does not have",
        ),
        ("t-garbage", "this is not a rating", "ratings.jsonl line 1: unreadable"),
    ] {
        let transfer = Transfer::new(&endpoint, secret(), id).unwrap();
        transfer.start(&start(id)).await.unwrap();
        transfer.start(&start(id)).await.unwrap();
        transfer.upload(1, "ratings.jsonl", format!("{data}\n").into_bytes()).await.unwrap();
        let done = TransferComplete { uploads: 1, bytes: data.len() as u64 + 1, plugin_status: "complete".into(), plugin_message: None };
        transfer.complete(&done).await.unwrap();
        transfer.complete(&done).await.unwrap();
        match transfer.settlement(within, |_| {}).await {
            Settled::By(state) => {
                assert_eq!(state.status, "failed", "{state:?}");
                assert!(state.message.as_deref().unwrap().starts_with(expected), "{state:?}");
            }
            other => panic!("{id} was not settled: {other:?}"),
        }
        // A settled transfer takes no more data.
        assert!(transfer.upload(2, "ratings.jsonl", b"{}\n".to_vec()).await.is_err());
    }
    // Fewer uploads than Ferry says it sent: failed, naming the difference.
    let transfer = Transfer::new(&endpoint, secret(), "t-short").unwrap();
    transfer.start(&start("t-short")).await.unwrap();
    transfer.complete(&TransferComplete { uploads: 2, bytes: 10, plugin_status: "complete".into(), plugin_message: None }).await.unwrap();
    let Settled::By(state) = transfer.settlement(within, |_| {}).await else { panic!("not settled") };
    assert_eq!(state.status, "failed");
    assert!(state.message.unwrap().contains("sent 2 uploads; this app received 0"));
}

/// The example receiver (`examples/cloud_receiver`), a vendor's cloud half, takes a real
/// migration's transfer, imports every rating onto its cloud page and settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_receiver_imports_a_migrations_ratings_and_settles_success() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    std::env::set_var("FERRY_TEST_RECEIVER_SECRET", "issued by the example receiver");
    let receiver = cloud_receiver::Receiver::open(&f.dir.path().join("receiver.db"), "issued by the example receiver").await.unwrap();
    let addr = receiver.clone().serve("127.0.0.1:0").await.unwrap();
    let (_, report) = ratings_run(&f, &cloud, |mut p| {
        let link = p.app_links.get_mut(RATINGS).unwrap();
        link.endpoint = Some(format!("http://{addr}"));
        link.secret_env = Some("FERRY_TEST_RECEIVER_SECRET".into());
        p
    })
    .await;
    let app = &report.apps[0];
    assert_eq!(app.status, "complete", "{app:?}");
    let settlement = app.settlement.as_ref().unwrap();
    let ratings = receiver.ratings().await.unwrap();
    assert!(!ratings.is_empty());
    assert_eq!(settlement.message.as_deref(), Some(format!("imported {} ratings", ratings.len()).as_str()));
    for (page, stars) in ratings {
        assert!((1..=5).contains(&stars));
        assert_eq!(cloud.review(&format!("content/{page}")).await["kind"], "page");
    }
}

/// Before a run, the checks say where each app's data goes and what it lacks: the
/// admin's endpoint is a warning naming both ends; no secret, or no endpoint at all, is
/// an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_name_an_overridden_endpoint_a_missing_secret_and_a_missing_endpoint() {
    use ferry_host::checks::CheckResult;
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("page_ratings").await;
    assess_and_decide(&f).await;
    prepare(&f, &cloud, RATINGS).await;
    let checks = |p: Plan| {
        let db = f.db.clone();
        async move {
            let p = Plan::create(&db, p).await.unwrap();
            Migrator::new(db, p, Progress::hidden()).await.unwrap().checks().await.unwrap()
        }
    };
    let of = |checks: &[ferry_host::checks::Check], code: &str| checks.iter().find(|c| c.code == code).cloned().unwrap();
    let base = || plan(&f, &cloud, "checks", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]));

    let stand_in = checks(base()).await;
    let overridden = of(&stand_in, "apps.endpoint-override");
    assert_eq!(overridden.result, CheckResult::Warning);
    assert!(overridden.entities[0].contains("(your endpoint) instead of https://apps.example.com/page-ratings/ferry"), "{:?}", overridden.entities);
    assert_eq!(of(&stand_in, "apps.secret-missing").result, CheckResult::Pass);
    assert_eq!(of(&stand_in, "apps.endpoint-missing").result, CheckResult::Pass);

    let no_secret = checks(Plan { app_links: Default::default(), ..base() }).await;
    let missing = of(&no_secret, "apps.secret-missing");
    assert_eq!(missing.result, CheckResult::Error);
    assert!(missing.entities[0].contains("no variable named for its migration secret"), "{:?}", missing.entities);
    assert_eq!(of(&no_secret, "apps.endpoint-override").result, CheckResult::Pass, "the manifest's endpoint, as the vendor named it");

    // A plugin built before endpoints were declared (the probe, page-ratings 0.1.0), with
    // no override: its data has nowhere to go.
    let f2 = Fixture::new().await;
    f2.install("hostile_probe").await;
    assess_and_decide(&f2).await;
    prepare(&f2, &cloud, RATINGS).await;
    let p = Plan { app_links: Default::default(), ..plan(&f2, &cloud, "old", UsersScope::None, SpacesScope::Keys(vec!["ENG".into()])) };
    let p = Plan::create(&f2.db, p).await.unwrap();
    let old = Migrator::new(f2.db.clone(), p, Progress::hidden()).await.unwrap().checks().await.unwrap();
    assert_eq!(of(&old, "apps.endpoint-missing").result, CheckResult::Error);
}

/// What a cloud app answers is another party's text: its message is bounded and stripped
/// of control characters before anyone sees it, and an answer past the bound is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_apps_answer_is_bounded_before_anyone_reads_it() {
    use ferry_host::migrate::cloud_app::{AppSecret, Transfer};
    let long = format!("{}\u{1b}[31mred", "x".repeat(5_000));
    let state = serde_json::json!({"status": "failed", "percent": 250, "message": long}).to_string();
    let huge = format!("{{\"status\": \"failed\", \"message\": \"{}\"}}", "y".repeat(100_000));
    let app = axum::Router::new()
        .route("/long/transfers/{id}", axum::routing::get(move || async move { state.clone() }))
        .route("/huge/transfers/{id}", axum::routing::get(move || async move { huge.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    std::env::set_var("FERRY_TEST_BOUND_SECRET", "s");
    let secret = || AppSecret::from_env("FERRY_TEST_BOUND_SECRET", "probe").unwrap();
    let answered = Transfer::new(&format!("http://{addr}/long"), secret(), "t").unwrap().state().await.unwrap();
    let message = answered.message.unwrap();
    assert_eq!(message.chars().count(), 1_001, "1000 characters and an ellipsis");
    assert!(!message.chars().any(char::is_control));
    assert_eq!(answered.percent, Some(100));
    let refused = Transfer::new(&format!("http://{addr}/huge"), secret(), "t").unwrap().state().await.unwrap_err();
    assert!(refused.to_string().contains("answered more than 65536 bytes"), "{refused}");
}
