//! Hostile plugins against the sandbox's bounds: deadlines that hold in host calls,
//! memory and state the host keeps bounded whatever a plugin sends, an audit that
//! proves the component links, mappings limited to the migration's spaces, and text
//! that reaches a terminal escaped.

use std::process::Command;
use std::time::Duration;

use ferry_host::plugins::audit::Verdict;
use ferry_host::plugins::gate::{DENIALS_KEPT, DETAILED_RECORDS};
use ferry_host::plugins::limits::{Limits, DEADLINE_GRACE, DETAIL_BYTES, LOG_LINE_COST, REASON_BYTES};
use ferry_host::plugins::local::{run_installed, LocalRun};
use ferry_host::plugins::registry::{InstallError, Registry};
use ferry_host::plugins::run::{RunReport, RunStatus};
use ferry_host::plugins::uploads::DirectorySink;
use ferry_host::state::mappings::MappingSource;
use sqlx::Row;

use crate::support::{audit, engine, no_mappings, wasm_bytes, Fixture, RATINGS};

async fn probe(mode: &str, limits: Limits) -> (Fixture, RunReport) {
    let f = Fixture::new().await;
    f.install("hostile_probe").await;
    let report = f.run(RATINGS, Some(mode), None, limits, no_mappings()).await;
    (f, report)
}

/// Bytes of the state DB and its write-ahead log.
fn state_db_bytes(f: &Fixture) -> u64 {
    std::fs::read_dir(f.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("state.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

async fn audit_rows(f: &Fixture, run_id: &str) -> (i64, i64, i64) {
    let row = sqlx::query("SELECT COUNT(*), COALESCE(SUM(calls), 0), COALESCE(MAX(LENGTH(detail)), 0) FROM audit_log WHERE run_id = ?")
        .bind(run_id)
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_plugin_sleeping_in_a_wasi_wait_ends_timed_out_at_its_deadline() {
    let deadline = Duration::from_secs(2);
    let (f, r) = probe("sleep", Limits { deadline, ..Limits::default() }).await;
    assert_eq!(r.status, RunStatus::TimedOut, "{:?}", r.message);
    assert_eq!(r.message.as_deref(), Some("ran past its deadline of 2s (it was waiting in a host call)"));
    // The plugin asked for 60 s; the deadline and its grace hold.
    assert!(r.duration_ms <= (deadline + DEADLINE_GRACE).as_millis() as u64, "took {} ms", r.duration_ms);
    let status: String = sqlx::query("SELECT status FROM plugin_runs WHERE id = ?").bind(&r.run_id).fetch_one(f.db.pool()).await.unwrap().get(0);
    assert_eq!(status, "timed-out");
}

#[tokio::test]
async fn errors_and_audit_records_repeat_at_most_a_bounded_part_of_what_a_plugin_sent() {
    // 300 calls, each naming a 32 MiB table, column and cursor.
    let (f, r) = probe("echo-flood", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Incomplete, "{:?}", r.message);
    let longest: usize = r.message.as_deref().unwrap().trim_start_matches("longest error ").trim_end_matches(" bytes").parse().unwrap();
    assert!(longest <= DETAIL_BYTES + 40, "an error of {longest} bytes reached the plugin");
    let (rows, calls, detail) = audit_rows(&f, &r.run_id).await;
    assert_eq!(calls, 300);
    assert!(rows <= 300 && detail as usize <= DETAIL_BYTES + 40, "{rows} rows, longest detail {detail}");
    assert!(state_db_bytes(&f) < 4 << 20, "state DB grew to {} bytes", state_db_bytes(&f));

    let f = Fixture::new().await;
    f.install("mapping_probe").await;
    let r = f.run("com.example.confluence.mapping-probe", Some("echo"), None, Limits::default(), no_mappings()).await;
    assert_eq!(r.status, RunStatus::Incomplete, "{:?}", r.message);
    let longest: usize = r.message.as_deref().unwrap().trim_start_matches("longest error ").trim_end_matches(" bytes").parse().unwrap();
    assert!(longest <= DETAIL_BYTES + 40, "an error of {longest} bytes reached the plugin");
    assert!(r.audit[0].detail.as_deref().unwrap().contains("… [cut: "), "{:?}", r.audit[0].detail);
}

#[tokio::test]
async fn empty_log_lines_cost_their_overhead_and_the_log_stays_within_its_limit() {
    let (f, r) = probe("empty-lines", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    let kept = (Limits::default().log_bytes / LOG_LINE_COST) as usize;
    assert_eq!(r.log.len(), kept);
    assert_eq!(r.log_dropped, 3_000_000 - kept as u64);
    let stored: i64 = sqlx::query("SELECT COUNT(*) FROM run_logs WHERE run_id = ?").bind(&r.run_id).fetch_one(f.db.pool()).await.unwrap().get(0);
    assert_eq!(stored as usize, kept);
    let (rows, calls, _) = audit_rows(&f, &r.run_id).await;
    assert_eq!(calls, 3_000_000);
    assert!(rows <= 2, "{rows} audit rows");
    assert!(state_db_bytes(&f) < 8 << 20, "state DB grew to {} bytes", state_db_bytes(&f));
}

#[tokio::test]
async fn alternating_calls_leave_a_bounded_audit_log_that_still_counts_every_call() {
    let (f, r) = probe("alternate", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    let (rows, calls, _) = audit_rows(&f, &r.run_id).await;
    assert_eq!(calls, 1_000_000);
    assert!(rows as usize <= DETAILED_RECORDS + DENIALS_KEPT + 8, "{rows} audit rows for 1,000,000 calls");
    assert!(r.audit_summarised_calls > 990_000);
    let summarised: i64 =
        sqlx::query("SELECT COUNT(*) FROM audit_log WHERE run_id = ? AND summarised = 1").bind(&r.run_id).fetch_one(f.db.pool()).await.unwrap().get(0);
    assert!((1..=4).contains(&summarised), "{summarised} summarised rows");
    assert_eq!(r.access["none"].calls, 1_000_000);
}

#[tokio::test]
async fn a_huge_error_or_incomplete_reason_is_cut() {
    let (f, r) = probe("big-error", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Failed);
    let message = r.message.unwrap();
    assert!(message.starts_with("the plugin reported an error: EEEE"), "{}", &message[..40]);
    assert!(message.ends_with(&format!("… [cut: {} more bytes]", (10 << 20) - REASON_BYTES)), "{}", &message[message.len() - 60..]);
    let stored: i64 = sqlx::query("SELECT LENGTH(message) FROM plugin_runs WHERE id = ?").bind(&r.run_id).fetch_one(f.db.pool()).await.unwrap().get(0);
    assert!(stored as usize <= REASON_BYTES + 100);

    let (_f, r) = probe("big-incomplete", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Incomplete);
    assert!(r.message.unwrap().len() <= REASON_BYTES + 40);
}

#[tokio::test]
async fn the_number_of_uploads_is_limited_with_its_own_quota_error() {
    let (f, r) = probe("empty-uploads", Limits { uploads: 50, ..Limits::default() }).await;
    assert_eq!(r.status, RunStatus::Incomplete);
    assert_eq!(
        r.message.as_deref(),
        Some("50 uploads, then quota: upload 51 under \"empty\" would pass this run's limit of 50 uploads: send fewer, larger uploads")
    );
    assert_eq!(f.uploads().len(), 50);
}

#[tokio::test]
async fn printing_past_the_captured_output_limit_drops_the_rest_and_the_run_goes_on() {
    // 4 MiB to stdout against a 1 MiB log limit.
    let (_f, r) = probe("println-flood", Limits::default()).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    assert!(r.log_dropped > 700, "{} lines dropped", r.log_dropped);
    assert!(r.log.iter().any(|l| l.level == "stdout"));
    assert!(r.log.iter().map(|l| l.message.len() as u64 + LOG_LINE_COST).sum::<u64>() <= Limits::default().log_bytes);
}

#[test]
fn the_audit_refuses_a_component_that_cannot_link_against_the_contract_world() {
    let wrong_run = audit(&wasm_bytes("hostile_wrong_run"));
    assert_eq!(wrong_run.verdict, Verdict::Refused);
    assert_eq!(
        wrong_run.problems,
        vec!["the component does not link against the ferry:migration@0.2.0 world, so it could never run: the plugin does not match the ferry:migration@0.2 world: type-checking export func `run`: expected `record` found `string`"]
    );
    let clock = audit(&wasm_bytes("hostile_future_clock"));
    assert_eq!(clock.verdict, Verdict::Refused);
    assert_eq!(clock.problems.len(), 1, "{:?}", clock.problems);
    assert!(
        clock.problems[0].starts_with(
            "the component does not link against the ferry:migration@0.2.0 world, so it could never run: cannot link the plugin: component imports instance `wasi:clocks/monotonic-clock@0.3.0`"
        ),
        "{}",
        clock.problems[0]
    );
}

#[tokio::test]
async fn a_plugin_that_cannot_link_is_not_installed() {
    let f = Fixture::new().await;
    for plugin in ["hostile_wrong_run", "hostile_future_clock"] {
        match Registry::new(f.db.clone()).install(&wasm_bytes(plugin), true).await {
            Err(InstallError::Refused(report)) => assert!(report.problems[0].contains("does not link"), "{:?}", report.problems),
            other => panic!("{plugin} was not refused: {:?}", other.map(|o| o.0)),
        }
    }
}

#[test]
fn a_manifest_field_past_its_maximum_length_is_refused_at_audit() {
    let report = audit(&wasm_bytes("hostile_long_manifest"));
    assert_eq!(report.verdict, Verdict::Refused);
    assert_eq!(report.problems, vec![format!("invalid manifest: manifest field `name` is {} bytes long; the most is 128: shorten it", 200 << 10)]);
}

#[tokio::test]
async fn content_mappings_are_served_only_for_the_migrations_spaces() {
    let f = Fixture::new().await;
    f.install("mapping_probe").await;
    for (namespace, server_id, container) in [
        ("confluence:space", "DOC", None),
        ("confluence:space", "ENG", None),
        ("confluence:page", "2001", Some("DOC")),
        ("confluence:page", "2002", Some("ENG")),
        ("confluence:page", "3001", Some("DOC")),
    ] {
        sqlx::query("INSERT INTO mappings (destination, site, namespace, server_id, cloud_id, created_at, container) VALUES ('d', 's', ?, ?, ?, 'now', ?)")
            .bind(namespace)
            .bind(server_id)
            .bind(format!("c{server_id}"))
            .bind(container)
            .execute(f.db.pool())
            .await
            .unwrap();
    }
    let run = LocalRun {
        spaces: Some(vec!["DOC".into()]),
        name: Some("list".into()),
        ..LocalRun::new(
            f.source().await,
            Box::new(DirectorySink::new(f.out()).unwrap()),
            MappingSource::State { db: f.db.clone(), destination: "d".into(), site: "s".into() },
        )
    };
    let r = run_installed(&f.db, engine(), "com.example.confluence.mapping-probe", run).await.unwrap();
    assert_eq!(r.message.as_deref(), Some("spaces: DOC; pages: 2001,3001; lookup: 2001,3001"));
}

#[tokio::test]
async fn plugin_text_reaches_the_terminal_escaped_and_json_keeps_it_exact() {
    let f = Fixture::new().await;
    f.install("hostile_probe").await;
    let ferry = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(["plugin", "run", RATINGS, "--source", &f.source_url, "--out"]).arg(f.out());
        cmd.args(["--name", "escape", "--mappings", "auto"]).env("FERRY_HOME", f.home());
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let human = ferry(false);
    let out = String::from_utf8(human.stdout).unwrap();
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "raw control characters reached the terminal: {out:?}");
    assert!(out.contains("incomplete — \\u{1b}[2K\\u{d}complete"), "{out}");
    assert!(out.contains("\\u{1b}[1A\\u{1b}[2Kstatus: \\u{1b}[32mcomplete\\u{1b}[0m"), "{out}");
    let json: serde_json::Value = serde_json::from_slice(&ferry(true).stdout).unwrap();
    assert_eq!(json["message"], "\u{1b}[2K\rcomplete");
}

const SOURCE_PASSWORD: &str = "pw-Xq7-never-stored";
const SOURCE_PASSWORD_ENV: &str = "FERRY_TEST_SOURCE_PASSWORD";

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_password_comes_from_the_environment_and_is_kept_nowhere() {
    use std::os::unix::fs::PermissionsExt;

    use crate::core_migration::{Cloud, CloudSecrets, TOKEN_ENV};
    use crate::postgres::PgCluster;

    let pg = PgCluster::start();
    let admin_url = pg.create_db("secretsite").await;
    let f = Fixture::with_database(Some(&admin_url)).await;
    pg.add_password_user("reader", SOURCE_PASSWORD, "secretsite").await;
    let cloud = Cloud::start(ferry_host::staging::Faults::default()).await;
    let home = f.dir.path().join("private-home");
    let reader = format!("postgres://reader@127.0.0.1:{}/secretsite", pg.port);
    let attachments = f.site.join("attachments").display().to_string();
    let ferry = |args: &[&str], password: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(args).env("FERRY_HOME", &home).cloud_secrets().env("RUST_LOG", "debug").env_remove("PGPASSWORD");
        if password {
            cmd.env(SOURCE_PASSWORD_ENV, SOURCE_PASSWORD);
        }
        let out = cmd.output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(SOURCE_PASSWORD), "the password was printed: {text}");
        (out.status.code(), text, out.stdout)
    };
    let create = |source: &str| {
        vec![
            "plan",
            "create",
            "--name",
            "private",
            "--source",
            source,
            "--attachments",
            &attachments,
            "--destination",
            &cloud.site.url(),
            "--users",
            "none",
            "--spaces",
            "ENG",
            "--apps",
            "none",
            "--json",
        ]
        .into_iter()
        .map(str::to_string)
        .chain(cloud.sign_in_args(TOKEN_ENV))
        .collect::<Vec<_>>()
    };

    // A URL that carries the password is refused, saying how to pass it instead.
    let with_password = format!("postgres://reader:{SOURCE_PASSWORD}@127.0.0.1:{}/secretsite", pg.port);
    let args = create(&with_password);
    let (code, text, _) = ferry(&args.iter().map(String::as_str).collect::<Vec<_>>(), false);
    assert_ne!(code, Some(0));
    assert!(text.contains("carries a password") && text.contains("--source-password-env"), "{text}");

    // Named by its variable, the password reaches the source and nothing else.
    let mut args = create(&reader);
    args.extend(["--source-password-env".to_string(), SOURCE_PASSWORD_ENV.to_string()]);
    let (code, text, stdout) = ferry(&args.iter().map(String::as_str).collect::<Vec<_>>(), true);
    assert_eq!(code, Some(0), "{text}");
    let plan: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let id = plan["id"].as_str().unwrap().to_string();
    let (code, text, _) = ferry(&["plan", "run", &id], false);
    assert_ne!(code, Some(0), "ran without the password: {text}");
    assert!(text.contains(SOURCE_PASSWORD_ENV), "{text}");
    let (_, text, stdout) = ferry(&["plan", "run", &id, "--json"], true);
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or_else(|_| panic!("{text}"));
    // The sample site's planted missing attachment files make it `incomplete` (they, the
    // comments on them and their labels did not move); all else moved.
    assert_eq!(report["status"], "incomplete", "{text}");
    let failures = report["failures"].as_array().unwrap();
    let on_missing_file = |reason: &str| reason.ends_with("which did not migrate") || reason.ends_with("of content that did not migrate");
    assert!(failures.iter().all(|f| f["kind"] == "attachments" || on_missing_file(f["reason"].as_str().unwrap())), "{text}");
    assert!(report["counts"]["pages"]["cloud"].as_u64().unwrap() > 0, "{text}");
    assert_eq!(report["counts"]["pages"]["cloud"], report["counts"]["pages"]["server"], "{text}");

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    for file in files_under(&home) {
        assert_eq!(mode(&file), 0o600, "{} is readable by others", file.display());
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(SOURCE_PASSWORD.len()).any(|w| w == SOURCE_PASSWORD.as_bytes()), "the password is in {}", file.display());
    }
}

#[test]
fn the_plugin_bench_prints_its_figures_and_no_library_warnings() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["bench", "plugins", "--rows", "20000", "--plugin"])
        .arg(crate::support::wasm("table_scan"))
        .env("FERRY_HOME", home.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("table scan of 20000 rows"), "{stdout}");
    assert!(!stderr.contains("WARN") && !stdout.contains("WARN"), "{stderr}");
}

#[tokio::test]
async fn a_plugin_waiting_on_a_cloud_app_that_never_answers_ends_timed_out_at_its_deadline() {
    use ferry_host::migrate::cloud_app::{AppSecret, Transfer, TransferSink};

    // A receiver that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let f = Fixture::new().await;
    f.install("hostile_probe").await;
    std::env::set_var("FERRY_TEST_SILENT_APP_SECRET", "secret");
    let secret = AppSecret::from_env("FERRY_TEST_SILENT_APP_SECRET", "probe").unwrap();
    let transfer = Transfer::new(&url, secret, "transfer").unwrap();
    let deadline = Duration::from_secs(2);
    let run = LocalRun {
        limits: Limits { deadline, ..Limits::default() },
        name: Some("upload".into()),
        ..LocalRun::new(f.source().await, Box::new(TransferSink::new(transfer, Default::default())), no_mappings())
    };
    let r = run_installed(&f.db, engine(), RATINGS, run).await.unwrap();
    silent.abort();
    assert_eq!(r.status, RunStatus::TimedOut, "{:?}", r.message);
    assert_eq!(r.message.as_deref(), Some("ran past its deadline of 2s (it was waiting in a host call)"));
    assert!(r.duration_ms <= (deadline + DEADLINE_GRACE).as_millis() as u64, "took {} ms", r.duration_ms);
}

/// A test plugin without a test is an error: every crate under `tests/plugins/` is
/// loaded by name by some test.
#[test]
fn every_test_plugin_has_a_test() {
    let tests = crate::support::workspace().join("host/tests/all");
    let mut sources = String::new();
    for entry in std::fs::read_dir(&tests).unwrap().flatten() {
        if entry.file_name() != "support.rs" {
            sources.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    let plugins: Vec<String> = crate::support::plugin_crates()
        .into_iter()
        .filter(|(_, path)| path.starts_with(crate::support::workspace().join("tests/plugins")))
        .map(|(name, _)| name)
        .collect();
    assert!(plugins.len() >= 10, "{plugins:?}");
    let untested: Vec<&String> = plugins.iter().filter(|name| !sources.contains(&format!("\"{name}\""))).collect();
    assert!(untested.is_empty(), "test plugins no test loads: {untested:?} (write a test for each, or remove the plugin)");
}
