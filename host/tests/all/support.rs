//! Shared test support: plugins built once per test run, a sample site per test, and
//! one plugin engine per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Once, OnceLock};

use ferry_host::plugins::audit::AuditReport;
use ferry_host::plugins::engine::PluginEngine;
use ferry_host::plugins::gate::Grant;
use ferry_host::plugins::limits::Limits;
use ferry_host::plugins::local::{run_installed, LocalRun};
use ferry_host::plugins::registry::Registry;
use ferry_host::plugins::run::RunReport;
use ferry_host::plugins::signature;
use ferry_host::plugins::trust::{self, TrustStore};
use ferry_host::plugins::uploads::DirectorySink;
use ferry_host::sample::{write_sample_site, SampleOptions};
use ferry_host::source::Source;
use ferry_host::state::mappings::MappingSource;
use ferry_host::state::StateDb;

/// Every plugin of the workspace, built for wasm32-wasip2 once per test run: the one
/// list is the component (cdylib) crates under `plugins/`, `examples/` and `tests/plugins/` (as
/// `scripts/test` builds them).
pub fn plugin_crates() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for folder in ["plugins", "examples", "tests/plugins"] {
        let Ok(entries) = std::fs::read_dir(workspace().join(folder)) else { continue };
        for entry in entries.flatten() {
            // A plugin crate is a component (cdylib); examples/cloud_receiver is a server.
            let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap_or_default();
            if manifest.contains("cdylib") {
                out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
            }
        }
    }
    out.sort();
    out
}

/// The name the fixtures trust their vendor key under.
pub const TEST_VENDOR: &str = "Test vendor";

/// The audit of a plugin file by a Ferry that trusts no key.
pub fn audit(bytes: &[u8]) -> AuditReport {
    ferry_host::plugins::audit::audit(bytes, &TrustStore::default())
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The built component of plugin crate `name`.
pub fn wasm(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(workspace()).args(["build", "--release", "--target", "wasm32-wasip2"]);
        for (name, _) in plugin_crates() {
            cmd.args(["-p", &name]);
        }
        let status = cmd.status().expect("run cargo to build the test plugins");
        assert!(status.success(), "building the test plugins failed (is the wasm32-wasip2 target installed?)");
    });
    target_dir().join("wasm32-wasip2/release").join(format!("{name}.wasm"))
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set (relative to the
/// workspace), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    }
}

pub fn wasm_bytes(name: &str) -> Vec<u8> {
    std::fs::read(wasm(name)).expect("read built plugin")
}

/// One engine per test process, with its compile cache in a temp folder.
pub fn engine() -> Arc<PluginEngine> {
    static ENGINE: OnceLock<(tempfile::TempDir, Arc<PluginEngine>)> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = PluginEngine::new(Some(dir.path().join("cache"))).expect("engine");
            (dir, Arc::new(engine))
        })
        .1
        .clone()
}

/// A FERRY_HOME and a sample site, private to one test.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db: StateDb,
    pub site: PathBuf,
    /// The site's database: a SQLite file or a postgres:// URL.
    pub source_url: String,
}

impl Fixture {
    /// A sample site in SQLite.
    pub async fn new() -> Fixture {
        Fixture::with_database(None).await
    }

    /// A sample site written to the given PostgreSQL database, or to SQLite.
    pub async fn with_database(postgres: Option<&str>) -> Fixture {
        Fixture::with(postgres, &SampleOptions::default()).await
    }

    /// A sample site of the given size.
    pub async fn with(postgres: Option<&str>, options: &SampleOptions) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = StateDb::open(&dir.path().join("home")).await.expect("state db");
        let site = dir.path().join("site");
        write_sample_site(&site, postgres, options).await.expect("sample site");
        let source_url = postgres.map(str::to_string).unwrap_or_else(|| site.join("site.db").display().to_string());
        Fixture { dir, db, site, source_url }
    }

    pub async fn source(&self) -> Source {
        Source::connect(&self.source_url).await.expect("source")
    }

    /// Install plugin crate `plugin`, signed by the fixture's vendor key (which the
    /// fixture's Ferry trusts), as a vendor would ship it.
    pub async fn install(&self, plugin: &str) {
        Registry::new(self.db.clone()).install(&self.signed(plugin).await, false).await.expect("install");
    }

    /// Plugin crate `plugin` signed with the fixture's vendor key; the first call makes
    /// the key and trusts it as `Test vendor`.
    pub async fn signed(&self, plugin: &str) -> Vec<u8> {
        signature::sign(&wasm_bytes(plugin), &self.vendor_key().await).expect("sign")
    }

    /// The fixture's vendor signing key, trusted as `Test vendor`.
    pub async fn vendor_key(&self) -> signature::SigningKey {
        let path = self.dir.path().join("vendor.key");
        if !path.exists() {
            let public = signature::keygen(&path).expect("keygen");
            trust::add(&self.db, TEST_VENDOR, &public).await.expect("trust");
        }
        signature::read_signing_key(&path).expect("signing key")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Run the installed plugin of `app_key`.
    pub async fn run(&self, app_key: &str, name: Option<&str>, grant: Option<Arc<Grant>>, limits: Limits, mappings: MappingSource) -> RunReport {
        let run = LocalRun {
            limits,
            grant,
            name: name.map(str::to_string),
            ..LocalRun::new(self.source().await, Box::new(DirectorySink::new(self.out()).expect("out dir")), mappings)
        };
        run_installed(&self.db, engine(), app_key, run).await.expect("run")
    }

    /// The uploads written, as (file name, contents), in upload order.
    pub fn uploads(&self) -> Vec<(String, String)> {
        let mut files: Vec<_> = std::fs::read_dir(self.out()).map(|d| d.map(|e| e.expect("entry").path()).collect()).unwrap_or_default();
        files.sort();
        files.into_iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())).collect()
    }
}

pub fn no_mappings() -> MappingSource {
    MappingSource::Fixed(Default::default())
}

pub const RATINGS: &str = "com.example.confluence.page-ratings";
pub const CALENDARS: &str = "com.example.confluence.team-calendars";

/// Comments a plan could not move because they sit on an attachment whose file is
/// missing (the sample site plants such files): the one expected gap in its comment count.
pub fn unmoved_file_comments(report: &ferry_host::migrate::report::PlanReport) -> u64 {
    let unmoved = report.failures.iter().filter(|f| f.kind == "comments");
    unmoved.filter(|f| f.reason.starts_with("a comment on attachment ") && f.reason.ends_with("which did not migrate")).count() as u64
}

/// A plugin file with its embedded manifest edited by `edit`, unsigned (see
/// [`ferry_host::plugins::component::rewrite_manifest`]).
pub fn with_manifest(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    ferry_host::plugins::component::rewrite_manifest(bytes, &edit).expect("rewrite the manifest")
}
