//! Run-time enforcement: each denial path, each limit, each failure ends that plugin
//! alone with its exact error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_host::plugins::gate::Grant;
use ferry_host::plugins::limits::Limits;
use ferry_host::plugins::run::RunStatus;
use ferry_manifest::Scope;
use sqlx::Row;

use crate::support::{no_mappings, Fixture, RATINGS};

async fn probe(mode: &str, grant: Option<Arc<Grant>>, limits: Limits) -> (Fixture, ferry_host::plugins::run::RunReport) {
    let f = Fixture::new().await;
    f.install("hostile_probe").await;
    let report = f.run(RATINGS, Some(mode), grant, limits, no_mappings()).await;
    (f, report)
}

#[tokio::test]
async fn reading_another_apps_table_is_refused_by_name() {
    let (_f, r) = probe("foreign-table", None, Limits::default()).await;
    assert_eq!(r.status, RunStatus::Incomplete);
    assert_eq!(
        r.message.as_deref(),
        Some("invalid: table AO_FCAC82_EVENT is not declared by com.example.confluence.page-ratings: a plugin reads only its own app's tables (AO_530061_*) that its manifest declares")
    );
}

#[tokio::test]
async fn reading_an_undeclared_column_is_refused() {
    let (_f, r) = probe("undeclared-column", None, Limits::default()).await;
    assert_eq!(
        r.message.as_deref(),
        Some("invalid: column AO_530061_RATING.SECRET_TOKEN is not declared in the manifest: declare it with its class to read it")
    );
}

#[tokio::test]
async fn reading_a_pii_column_without_app_data_pii_is_denied_and_audited() {
    let grant = Grant::new([Scope::AppDataOther, Scope::AppDataUgc].into_iter().collect());
    let (f, r) = probe("pii-column", Some(grant), Limits::default()).await;
    assert_eq!(r.message.as_deref(), Some("denied(app-data-pii)"));
    assert_eq!(r.denials.len(), 1);
    assert_eq!(r.denials[0].function, "app-tables.read");
    assert_eq!(r.access["app-data-pii"].denied, 1);
    let row = sqlx::query("SELECT function, allowed, denied_scope FROM audit_log WHERE run_id = ? AND allowed = 0")
        .bind(&r.run_id)
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "app-tables.read");
    assert_eq!(row.get::<Option<String>, _>(2).as_deref(), Some("app-data-pii"));
}

#[tokio::test]
async fn revoking_a_scope_mid_run_denies_the_very_next_call() {
    let f = Fixture::new().await;
    f.install("hostile_probe").await;
    // Compile it first (the fixture's signature makes it a file no earlier test compiled),
    // so the revocation below lands while the plugin reads, not while it compiles.
    let signed = f.signed("hostile_probe").await;
    crate::support::engine().load(&signed, &ferry_host::plugins::component::sha256_hex(&signed)).unwrap();
    let grant = Grant::new([Scope::AppDataOther, Scope::AppDataPii, Scope::AppDataUgc].into_iter().collect());
    let revoker = grant.clone();
    // Revoke once the plugin is demonstrably reading.
    let db = f.db.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let running: i64 = sqlx::query("SELECT COUNT(*) FROM plugin_runs WHERE status = 'running'").fetch_one(db.pool()).await.unwrap().get(0);
            if running > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                revoker.revoke(Scope::AppDataOther);
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let limits = Limits { deadline: Duration::from_secs(60), ..Limits::default() };
    let r = f.run(RATINGS, Some("revoke"), Some(grant), limits, no_mappings()).await;
    watcher.await.unwrap();
    let message = r.message.clone().unwrap();
    assert!(message.ends_with("reads, then denied(app-data-other)"), "{message}");
    let reads: u64 = message.split(' ').next().unwrap().parse().unwrap();
    assert!(reads > 0, "the plugin read before the revocation");
    assert_eq!(r.access["app-data-other"].calls, reads);
    assert_eq!(r.access["app-data-other"].denied, 1);
}

#[tokio::test]
async fn an_infinite_loop_times_out_within_the_deadline() {
    let started = Instant::now();
    let limits = Limits { deadline: Duration::from_millis(300), ..Limits::default() };
    let (_f, r) = probe("spin", None, limits).await;
    assert_eq!(r.status, RunStatus::TimedOut);
    assert_eq!(r.message.as_deref(), Some("ran past its deadline of 300ms"));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let limits = Limits { memory_bytes: 32 << 20, ..Limits::default() };
    let (_f, r) = probe("memory", None, limits).await;
    assert_eq!(r.status, RunStatus::Failed);
    let message = r.message.unwrap();
    assert!(message.starts_with("stopped: memory limit of 32 MiB exceeded"), "{message}");
}

#[tokio::test]
async fn an_upload_past_the_quota_is_refused_with_quota() {
    let limits = Limits { upload_bytes: 3 << 20, ..Limits::default() };
    let (f, r) = probe("upload", None, limits).await;
    assert_eq!(
        r.message.as_deref(),
        Some("3 uploads, then quota: upload of 1048576 bytes under \"flood.bin\" would pass this run's quota of 3145728 bytes (3145728 already uploaded)")
    );
    assert_eq!(r.uploaded_bytes, 3 << 20);
    assert_eq!(f.uploads().len(), 3);
}

#[tokio::test]
async fn a_panic_fails_that_plugin_with_its_message() {
    let (_f, r) = probe("panic", None, Limits::default()).await;
    assert_eq!(r.status, RunStatus::Failed);
    let message = r.message.unwrap();
    assert!(message.starts_with("the plugin panicked: "), "{message}");
    assert!(message.contains("hostile plugin panicked on purpose"), "{message}");
}

#[tokio::test]
async fn a_failing_plugin_leaves_other_runs_unaffected() {
    let (f, r) = probe("panic", None, Limits::default()).await;
    assert_eq!(r.status, RunStatus::Failed);
    // Same process, same engine, next run: fine.
    let r2 = f.run(RATINGS, Some("undeclared-column"), None, Limits::default(), no_mappings()).await;
    assert_eq!(r2.status, RunStatus::Incomplete);
}

#[tokio::test]
async fn log_lines_past_the_log_limit_are_dropped_and_counted() {
    let limits = Limits { log_bytes: 64 << 10, ..Limits::default() };
    let (_f, r) = probe("chatty", None, limits).await;
    assert_eq!(r.status, RunStatus::Complete);
    let kept: usize = r.log.iter().map(|l| l.message.len()).sum();
    assert!(kept <= 64 << 10, "{kept} bytes kept");
    assert_eq!(r.log.len() as u64 + r.log_dropped, 10_001, "every line is kept or counted as dropped");
    assert!(r.log_dropped > 9_000);
    assert_eq!(r.log[0].message, "line 00000 of a plugin that logs far too much, padded to about a hundred bytes");
}

#[test]
fn linking_refuses_an_interface_the_grant_does_not_allow() {
    let engine = crate::support::engine();
    let bytes = crate::support::wasm_bytes("page_ratings");
    let sha = ferry_host::plugins::component::sha256_hex(&bytes);
    let component = engine.load(&bytes, &sha).unwrap();
    let without_tracing = [Scope::AppDataOther, Scope::AppDataPii, Scope::AppDataUgc, Scope::ProductDataOther].into_iter().collect();
    let error = engine.prepare(&component, without_tracing).err().expect("link refused");
    assert_eq!(
        error.to_string(),
        "the plugin imports ferry:migration/mappings@0.2.0, which needs one of [migration-tracing-identity, migration-tracing-product], and the grant holds none of them: it is not linked"
    );
}
