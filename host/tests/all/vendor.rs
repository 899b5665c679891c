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
    let out = ferry(&f, &["plugin", "run", file.to_str().unwrap(), "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--mappings", "auto", "--json"]);
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
    assert!(text(&out).contains("the plugin reads mappings (it declares a migration-tracing scope), and no mappings were given: use `--mappings auto`"), "{}", text(&out));
    let missing = ferry(&f, &["plugin", "run", "nowhere.wasm", "--source", &f.source_url, "--out", f.out().to_str().unwrap()]);
    assert!(text(&missing).contains("nowhere.wasm does not exist"), "{}", text(&missing));
}

#[tokio::test]
async fn a_withheld_scope_is_denied_at_each_call_and_shows_in_the_audit() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let out = ferry(
        &f,
        &["plugin", "run", RATINGS, "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--mappings", "auto", "--deny", "migration-tracing-identity", "--json"],
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
