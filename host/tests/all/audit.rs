//! Install-time audit: every refusal has its own test and exact message.

use ferry_host::plugins::audit::Verdict;
use ferry_host::plugins::registry::{InstallError, InstallOutcome, Registry};

use crate::support::{audit, wasm_bytes, Fixture};

fn refused_with(plugin: &str, expected: &str) {
    let report = audit(&wasm_bytes(plugin));
    assert_eq!(report.verdict, Verdict::Refused, "{plugin} should be refused");
    assert!(report.problems.iter().any(|p| p == expected), "{plugin}: expected problem {expected:?}, got {:#?}", report.problems);
}

#[test]
fn importing_mappings_without_a_tracing_scope_is_refused() {
    refused_with(
        "hostile_no_tracing",
        "imports ferry:migration/mappings@0.2.0, which needs one of [migration-tracing-identity, migration-tracing-product], but declares none of them: declare the scope or stop using the interface",
    );
}

const NO_SYSTEM: &str = "plugins get no filesystem, network or other system access (only wasi io, clocks, random and cli stdio/environment/exit)";

#[test]
fn importing_the_filesystem_is_refused() {
    refused_with("hostile_fs", &format!("imports wasi:filesystem/preopens@0.2.6: {NO_SYSTEM}"));
}

#[test]
fn importing_sockets_is_refused() {
    refused_with("hostile_socket", &format!("imports wasi:sockets/tcp@0.2.6: {NO_SYSTEM}"));
}

#[test]
fn a_malformed_manifest_is_refused() {
    refused_with(
        "hostile_bad_manifest",
        "invalid manifest: the manifest is not valid JSON of the expected shape: invalid type: integer `42`, expected a string at line 1 column 21",
    );
}

#[test]
fn a_file_that_is_not_wasm_or_not_a_component_is_refused() {
    let report = audit(b"#!/bin/sh\necho hi\n");
    assert_eq!(report.problems[0], "not a WebAssembly file (no \\0asm header): build the plugin with `cargo build --release --target wasm32-wasip2`");
    let core_module = b"\0asm\x01\0\0\0";
    let report = audit(core_module);
    assert_eq!(report.problems[0], "a core WebAssembly module, not a component: build for the wasm32-wasip2 target, which produces a component");
    let mut truncated = wasm_bytes("page_ratings");
    truncated.truncate(truncated.len() / 2);
    assert!(audit(&truncated).problems[0].starts_with("malformed WebAssembly: "));
}

#[test]
fn real_plugins_pass_and_list_what_they_really_import() {
    let ratings = audit(&wasm_bytes("page_ratings"));
    assert_eq!(ratings.verdict, Verdict::Ok, "{:?}", ratings.problems);
    assert!(ratings.unused_scopes.is_empty(), "{:?}", ratings.unused_scopes);
    let calendars = audit(&wasm_bytes("team_calendars"));
    assert_eq!(calendars.verdict, Verdict::Ok, "{:?}", calendars.problems);
    let imports: Vec<&str> = calendars.imports.iter().map(|i| i.name.as_str()).collect();
    assert!(imports.contains(&"ferry:migration/mappings@0.2.0"));
    assert!(!imports.iter().any(|i| i.starts_with("ferry:migration/product")), "calendars reads no product data: {imports:?}");
    assert!(imports.iter().all(|i| !i.starts_with("wasi:filesystem") && !i.starts_with("wasi:sockets")));
}

#[test]
fn the_bench_plugin_is_flagged_for_nothing_and_scopes_it_cannot_use_are_reported() {
    // The probe declares app-data-pii and app-data-ugc and reads columns of those classes.
    let probe = audit(&wasm_bytes("hostile_probe"));
    assert_eq!(probe.verdict, Verdict::Ok, "{:?}", probe.problems);
    assert!(probe.unused_scopes.is_empty());
    // The no-tracing plugin's table declares pii and ugc columns it has no scope for.
    let report = audit(&wasm_bytes("hostile_no_tracing"));
    assert!(report
        .warnings
        .iter()
        .any(|w| w == "column AO_530061_RATING.USER_KEY is declared pii but the plugin does not declare app-data-pii: it can never read it"));
}

#[tokio::test]
async fn install_keeps_one_version_per_app_and_refuses_what_the_audit_refuses() {
    let f = Fixture::new().await;
    let registry = Registry::new(f.db.clone());
    let bytes = wasm_bytes("page_ratings");
    assert_eq!(registry.install(&bytes, true).await.unwrap().0, InstallOutcome::Installed);
    assert_eq!(registry.install(&bytes, true).await.unwrap().0, InstallOutcome::AlreadyInstalled);
    // The probe has the same app key and an older version: not newer, refused.
    match registry.install(&wasm_bytes("hostile_probe"), true).await {
        Err(InstallError::NotNewer { installed, offered, .. }) => assert_eq!((installed.as_str(), offered.as_str()), ("1.0.0", "0.1.0")),
        other => panic!("expected NotNewer, got {other:?}"),
    }
    match registry.install(&wasm_bytes("hostile_fs"), true).await {
        Err(InstallError::Refused(report)) => assert!(report.problems[0].starts_with("imports wasi:filesystem")),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(registry.list().await.unwrap().len(), 1);
    assert!(registry.remove(crate::support::RATINGS).await.unwrap());
    assert!(registry.list().await.unwrap().is_empty());
}
