//! Independent proof that the staging site speaks Atlassian's APIs: real, widely used
//! client libraries of them (confluence.js and jira.js, from npm) make the calls Ferry
//! makes against it, and check every answer against the schemas of Atlassian's API
//! documents. `scripts/test` installs them (`npm ci` in `tests/clients`).

use std::path::PathBuf;
use std::process::Command;

use ferry_host::staging::{self, Faults};

const TOKEN: &str = "client-library-token";

/// The steps one client script reported: (name, error) for each that failed, and how many
/// there were in all.
fn run_client(script: &str, site: &str) -> (Vec<(String, String)>, usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients");
    assert!(
        dir.join("node_modules/confluence.js").is_dir() && dir.join("node_modules/jira.js").is_dir(),
        "the client libraries are not installed: run `npm ci` in tests/clients (scripts/test does)"
    );
    let output = Command::new("node")
        .arg(dir.join(script))
        .args([site, staging::DEFAULT_ADMIN_EMAIL, TOKEN])
        .current_dir(&dir)
        .output()
        .expect("node (Node.js 20 or later) on PATH");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut failed = Vec::new();
    let mut steps = 0;
    for line in stdout.lines() {
        let step: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{script} printed {line:?}: {e}"));
        steps += 1;
        if step["ok"] != true {
            failed.push((step["step"].as_str().unwrap_or_default().to_string(), step["error"].as_str().unwrap_or_default().to_string()));
        }
    }
    assert!(steps > 0, "{script} reported nothing; stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.success(), failed.is_empty(), "{script}'s exit status and its steps disagree: {failed:?}");
    (failed, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_js_and_jira_js_make_ferrys_calls_and_accept_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token(TOKEN), Faults::default()).await.unwrap();
    let url = site.url();
    let (confluence, jira) = tokio::task::spawn_blocking(move || (run_client("confluence.mjs", &url), run_client("jira.mjs", &url))).await.unwrap();
    for (client, (failed, steps)) in [("confluence.js", &confluence), ("jira.js", &jira)] {
        assert!(failed.is_empty(), "{client}: {} of {steps} steps failed: {failed:#?}", failed.len());
    }
    // Every call Ferry makes to Confluence and Service Management, and what came back.
    assert!(confluence.1 >= 40, "confluence.js ran {} steps", confluence.1);
    assert!(jira.1 >= 40, "jira.js ran {} steps", jira.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_library_reports_a_site_that_refuses_its_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token("another-token"), Faults::default()).await.unwrap();
    let url = site.url();
    let (failed, steps) = tokio::task::spawn_blocking(move || run_client("confluence.mjs", &url)).await.unwrap();
    // The harness sees a refused site as failed steps, not as a pass: nothing succeeds, and
    // the first call says why.
    assert_eq!(failed.len(), steps, "{failed:#?}");
    assert!(failed[0].0.contains("/user/current") && failed[0].1.contains("401"), "{:?}", failed[0]);
}
