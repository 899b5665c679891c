//! The vendor's loop: run a plugin file without installing it, with stand-in mappings,
//! and with scopes withheld.

use std::process::{Command, Output};

use ferry_host::plugins::registry::Registry;

use crate::support::{wasm, Fixture, RATINGS};

fn ferry(f: &Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry")).args(args).env("FERRY_HOME", f.home()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn uploads(f: &Fixture) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(f.out()).unwrap() {
        all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
    }
    all
}

#[tokio::test]
async fn a_plugin_file_runs_without_being_installed_against_stand_in_mappings() {
    let f = Fixture::new().await;
    let file = wasm("page_ratings");
    let out =
        ferry(&f, &["plugin", "run", file.to_str().unwrap(), "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--mappings", "auto", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "complete", "{report}");
    assert_eq!(report["server_app_key"], RATINGS);
    // Every rating landed on a stand-in page id and a stand-in user.
    let uploaded = uploads(&f);
    assert!(uploaded.contains("auto-page-"), "{uploaded}");
    assert!(uploaded.contains("auto-user-"), "{uploaded}");
    assert!(Registry::new(f.db.clone()).list().await.unwrap().is_empty(), "running a file installs nothing");
}

#[tokio::test]
async fn without_mappings_the_vendor_is_told_how_to_get_them() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let out = ferry(&f, &["plugin", "run", RATINGS, "--source", &f.source_url, "--out", f.out().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the plugin reads mappings (it declares a migration-tracing scope), and no mappings were given: use `--mappings auto`"),
        "{}",
        text(&out)
    );
    let missing = ferry(&f, &["plugin", "run", "nowhere.wasm", "--source", &f.source_url, "--out", f.out().to_str().unwrap()]);
    assert!(text(&missing).contains("nowhere.wasm does not exist"), "{}", text(&missing));
}

#[tokio::test]
async fn a_withheld_scope_is_denied_at_each_call_and_shows_in_the_audit() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let out = ferry(
        &f,
        &[
            "plugin",
            "run",
            RATINGS,
            "--source",
            &f.source_url,
            "--out",
            f.out().to_str().unwrap(),
            "--mappings",
            "auto",
            "--deny",
            "migration-tracing-identity",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_ne!(report["status"], "complete", "{report}");
    let denials = report["denials"].as_array().unwrap();
    assert!(!denials.is_empty(), "{report}");
    assert!(denials.iter().all(|d| d["denied_scope"] == "migration-tracing-identity"), "{denials:?}");
    assert!(report["access"]["migration-tracing-identity"]["denied"].as_u64().unwrap() > 0, "{report}");
    let unknown = ferry(&f, &["plugin", "run", RATINGS, "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--deny", "no-such-scope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
}

#[tokio::test]
async fn a_generated_plugin_builds_passes_the_audit_and_runs_as_generated() {
    let f = Fixture::new().await;
    let dir = f.dir.path().join("my_notes");
    let app = "com.example.confluence.my-notes";
    let out =
        ferry(&f, &["plugin", "new", "my_notes", "--server-app-key", app, "--cloud-app-key", "com.example.my-notes.cloud", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for file in ["Cargo.toml", "ferry-plugin.toml", "build.rs", "src/lib.rs", "fixture-mappings.jsonl", "sample-app-data.json"] {
        assert!(dir.join(file).is_file(), "{file} was not written");
    }
    // Build it as a vendor would, sharing this workspace's lock file and target folder
    // so the dependencies are not compiled again.
    std::fs::copy(crate::support::workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", crate::support::target_dir())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built));
    let wasm = crate::support::target_dir().join("wasm32-wasip2/release/my_notes.wasm");

    let out = ferry(&f, &["plugin", "audit", wasm.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit["verdict"], "ok", "{audit}");
    assert_eq!(audit["unused_scopes"], serde_json::json!([]), "the generated plugin declares only what it uses");
    assert_eq!(audit["server_app_key"], app);

    // As the generated README says: a sample site with the app's own rows, and the fixture
    // naming two of its pages, and every row moves.
    let site = dir.join("site");
    let out = ferry(&f, &["sample-site", "--out", site.to_str().unwrap(), "--app-data", dir.join("sample-app-data.json").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("added {app} 1.0.0")), "{}", text(&out));
    let site_db = site.join("site.db");
    let assessed = ferry(&f, &["apps", "assess", "--source", site_db.to_str().unwrap(), "--json"]);
    assert!(String::from_utf8_lossy(&assessed.stdout).contains(app), "the app is installed on the sample site: {}", text(&assessed));
    let sample_out = dir.join("uploads");
    let run = ["plugin", "run", wasm.to_str().unwrap(), "--source", site_db.to_str().unwrap(), "--out", sample_out.to_str().unwrap()];
    let out = ferry(&f, &[&run[..], &["--mappings", dir.join("fixture-mappings.jsonl").to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let sent: String = std::fs::read_dir(&sample_out).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    assert_eq!(sent.lines().count(), 3, "{sent}");
    assert!(sent.contains("\"page_id\":\"cloud-page-1\"") && sent.contains("\"page_id\":\"cloud-page-2\""), "{sent}");

    // On a site without the app's table it says so; with the table it moves every row.
    let fixture = dir.join("fixture-mappings.jsonl");
    let out_dir = f.out();
    let args = ["plugin", "run", wasm.to_str().unwrap(), "--source", &f.source_url, "--out", out_dir.to_str().unwrap(), "--json"];
    let out = ferry(&f, &[&args[..], &["--mappings", fixture.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["message"].as_str().unwrap().ends_with("ITEM is not on this Server site: is the app installed?"), "{report}");

    let table = ferry_host::plugins::scaffold::table_name(app);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    sqlx::query(&format!("CREATE TABLE {table} (ID INTEGER PRIMARY KEY, PAGE_ID INTEGER, TEXT VARCHAR(255))")).execute(&pool).await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO {table} (ID, PAGE_ID, TEXT) SELECT contentid, contentid, 'note on ' || title FROM content WHERE contenttype = 'PAGE' AND prevver IS NULL AND content_status = 'current'"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    std::fs::remove_dir_all(f.out()).unwrap();
    let out = ferry(&f, &[&args[..], &["--mappings", "auto"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let uploaded = uploads(&f);
    assert!(uploaded.lines().count() > 10 && uploaded.lines().all(|l| l.contains("\"page_id\":\"auto-page-")), "{uploaded}");
}

#[test]
fn the_example_plugin_of_the_guide_passes_the_audit_using_every_scope_it_declares() {
    let report = crate::support::audit(&crate::support::wasm_bytes("minimal_plugin"));
    assert_eq!(report.verdict, ferry_host::plugins::audit::Verdict::Ok, "{:?}", report.problems);
    assert!(report.unused_scopes.is_empty(), "{:?}", report.unused_scopes);
    assert_eq!(report.server_app_key.as_deref(), Some("com.example.confluence.minimal-notes"));
}
