//! `ferry plugin …`: the commands of vendors and security reviewers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{print_json, shown, table, ExitCode, SourceArgs};
use crate::plugins::audit::{self, AuditReport, Verdict};
use crate::plugins::catalog;
use crate::plugins::engine::PluginEngine;
use crate::plugins::limits::Limits;
use crate::plugins::local::{run_installed, LocalRun};
use crate::plugins::registry::{InstallError, Registry};
use crate::plugins::run::{RunReport, RunStatus};
use crate::plugins::signature;
use crate::plugins::trust::TrustStore;
use crate::plugins::uploads::DirectorySink;
use crate::state::mappings::MappingSource;
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Show what a plugin declares, what it really imports, and whether ferry accepts it.
    ///
    /// For security reviewers: every declared scope in plain words, the tables and column
    /// classes it reads, the interfaces the component imports, declared scopes it never
    /// uses (over-privilege), imports that would need an undeclared scope, its sha256 and
    /// contract version. Reads the file without running any of its code.
    Audit {
        /// A plugin file (.wasm) or the app key of an installed plugin.
        plugin: String,
        /// Print the audit as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Audit a plugin file and install it (one version per app; a newer one replaces it).
    ///
    /// The plugin must be signed by a key this Ferry trusts (`ferry trust add`); a bad
    /// signature is always refused.
    ///
    /// Given an app key instead of a file, installs from the registered catalogs
    /// (`ferry catalog add`) the newest version whose Server app range admits the app
    /// version installed on the Server site (`--source`, else the latest assessment), and
    /// says which one and why.
    Install {
        /// The plugin file (e.g. target/wasm32-wasip2/release/page_ratings.wasm), or the
        /// Server app key of a plugin in a registered catalog.
        plugin: String,
        /// The Server database, to read the installed app version (installing by app key).
        #[arg(long)]
        source: Option<String>,
        /// The environment variable holding the source's PostgreSQL password.
        #[arg(long, value_name = "VAR", requires = "source")]
        source_password_env: Option<String>,
        /// Install a plugin that is unsigned or signed by an untrusted key. The choice is
        /// recorded and shown wherever the plugin is (list, consent card, assessment).
        #[arg(long)]
        allow_unsigned: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a plugin: write a crate that builds, passes `plugin audit` and runs.
    ///
    /// The crate has Cargo.toml, ferry-plugin.toml (with the app's AO table prefix
    /// computed from the key), build.rs, a src/lib.rs that reads the declared table and
    /// uploads JSON lines, and a fixture-mappings file for `plugin run`.
    New {
        /// The crate name, e.g. my_app (also the folder, unless --dir).
        name: String,
        /// The Server app key the plugin reads.
        #[arg(long)]
        server_app_key: String,
        /// The Cloud app key its data goes to.
        #[arg(long)]
        cloud_app_key: String,
        /// The vendor's name, as admins will see it.
        #[arg(long, default_value = "Example Vendor")]
        vendor: String,
        /// Where to write the crate (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The ferry SDK as a path dependency (default: the SDK of the Ferry checkout this
        /// binary was built from, when it is still there).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
        /// The ferry SDK as a git dependency: the Ferry repository's URL.
        #[arg(long, conflicts_with = "sdk_path")]
        sdk_git: Option<String>,
    },
    /// Make an Ed25519 key pair for signing plugins: the signing key in FILE (mode 0600,
    /// never overwritten) and the public key in FILE.pub, to give to admins.
    Keygen {
        /// Where the signing key goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a plugin file in place (or into --out): one `ferry:signature` section is
    /// added, no other byte changes. Signing again replaces the signature.
    Sign {
        /// The plugin file (.wasm).
        file: PathBuf,
        /// The signing key file made by `ferry plugin keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Write the signed plugin here instead of replacing FILE.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List installed plugins.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an installed plugin.
    Remove {
        /// The server app key.
        app_key: String,
    },
    /// Test-run a plugin against a Server database, with every declared scope granted
    /// (less any --deny), writing each upload to a folder.
    ///
    /// Runs an installed plugin by app key, or a plugin file directly (audited, not
    /// installed: the vendor's edit-and-run loop). Prints the status (complete,
    /// incomplete, failed, timed-out), the progress the plugin reported, and the access
    /// audit: calls and rows per scope, and denials. Exits 0 only when the run is
    /// complete.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The server app key of an installed plugin, or a plugin file (.wasm).
    plugin: String,
    #[command(flatten)]
    source: SourceArgs,
    /// The folder uploads are written to, one file per upload.
    #[arg(long)]
    out: PathBuf,
    /// Wall-clock limit (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    deadline: Duration,
    /// Linear memory limit in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mib: usize,
    /// Upload quota in MiB.
    #[arg(long, default_value_t = 1024)]
    upload_quota_mib: u64,
    /// Most uploads the run may make (each is one request to the destination).
    #[arg(long, default_value_t = 10_000)]
    max_uploads: u64,
    /// Log limit in KiB (log lines and captured stdout/stderr; each line costs its
    /// bytes plus 64).
    #[arg(long, default_value_t = 1024)]
    log_limit_kib: u64,
    /// Space keys of the migration (comma-separated); default: every current space.
    #[arg(long, value_delimiter = ',')]
    spaces: Option<Vec<String>>,
    /// The mappings to serve: a JSON-lines file ({"namespace","server_id","cloud_id"}), or
    /// `auto`: a stand-in cloud id for every space, page, blog post, comment, attachment,
    /// user and group of the source, to see the whole transformation on a first run.
    #[arg(long, conflicts_with = "plan")]
    mappings: Option<PathBuf>,
    /// The Server's attachments folder, for plugins that read attachments (contract
    /// 0.2); with --plan, the plan's folder is used unless this is given.
    #[arg(long)]
    attachments: Option<PathBuf>,
    /// Withhold a declared scope (repeat or comma-separate): each call that needs it is
    /// denied, as when an admin revokes consent mid-run. Shows how the plugin copes.
    #[arg(long, value_delimiter = ',', value_name = "SCOPE")]
    deny: Vec<ferry_manifest::Scope>,
    /// Serve the mappings a plan's core migration recorded (and use its spaces, unless
    /// --spaces is given): the plugin sees what it would see in that plan's app step.
    #[arg(long)]
    plan: Option<String>,
    /// The migration name the plugin is given (default: "local test of <app name>").
    #[arg(long)]
    name: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(home: &Path, command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Audit { plugin, json } => audit_command(home, &plugin, json).await,
        PluginCommand::Install { plugin, source, source_password_env, allow_unsigned, json } => {
            let source = source.map(|source| SourceArgs { source, source_password_env });
            install(home, &plugin, source.as_ref(), allow_unsigned, json).await
        }
        PluginCommand::New { name, server_app_key, cloud_app_key, vendor, dir, sdk_path, sdk_git } => {
            let sdk = match (sdk_path, sdk_git) {
                (_, Some(git)) => format!("{{ git = {} }}", toml_string(&git)),
                (Some(path), None) => sdk_dependency(&path)?,
                (None, None) => {
                    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
                    anyhow::ensure!(
                        built_from.join("Cargo.toml").is_file(),
                        "where is the ferry SDK? give --sdk-path <FERRY-CHECKOUT>/sdk or --sdk-git <FERRY-REPOSITORY-URL>"
                    );
                    sdk_dependency(&built_from)?
                }
            };
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let options = crate::plugins::scaffold::NewPlugin { name: name.clone(), server_app_key, cloud_app_key, vendor, sdk };
            for path in crate::plugins::scaffold::write(&dir, &options)? {
                println!("wrote {}", path.display());
            }
            println!("\nNext:\n  cd {}\n  cargo build --release --target wasm32-wasip2", dir.display());
            println!("  ferry plugin audit target/wasm32-wasip2/release/{name}.wasm");
            println!("  ferry sample-site --out site --app-data sample-app-data.json   # a sample site with your app's table and rows");
            println!("  ferry plugin run target/wasm32-wasip2/release/{name}.wasm --source site/site.db --out uploads --mappings fixture-mappings.jsonl");
            Ok(ExitCode::Ok)
        }
        PluginCommand::Keygen { out } => {
            let public = signature::keygen(&out)?;
            println!("signing key: {} (keep it secret)", out.display());
            println!("public key:  {} ({public})", signature::public_key_path(&out).display());
            println!("fingerprint: {}", public.fingerprint());
            println!("Admins trust it with `ferry trust add <VENDOR> {public}`.");
            Ok(ExitCode::Ok)
        }
        PluginCommand::Sign { file, key, out } => {
            let key = signature::read_signing_key(&key)?;
            let bytes = crate::plugins::component::read_plugin_file(&file)?;
            let signed = signature::sign(&bytes, &key)?;
            let target = out.unwrap_or(file);
            std::fs::write(&target, &signed).with_context(|| format!("cannot write {}", target.display()))?;
            println!(
                "signed {} with {} (sha256 {})",
                target.display(),
                signature::public_key(&key).fingerprint(),
                crate::plugins::component::sha256_hex(&signed)
            );
            Ok(ExitCode::Ok)
        }
        PluginCommand::List { json } => list(home, json).await,
        PluginCommand::Remove { app_key } => {
            let registry = Registry::new(StateDb::open(home).await?);
            anyhow::ensure!(registry.remove(&app_key).await?, "no plugin is installed for {app_key}");
            println!("removed the plugin of {app_key}");
            Ok(ExitCode::Ok)
        }
        PluginCommand::Run(args) => run_command(home, args).await,
    }
}

async fn audit_command(home: &Path, plugin: &str, json: bool) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    let bytes = match plugin_file(plugin, "an installed plugin")? {
        Some(bytes) => bytes,
        None => Registry::new(db.clone()).load(plugin).await?.1,
    };
    let report = audit::audit(&bytes, &TrustStore::load(&db).await?);
    if json {
        print_json(&report)?;
    } else {
        print_audit(&report);
    }
    Ok(if report.verdict == Verdict::Ok { ExitCode::Ok } else { ExitCode::Refused })
}

fn print_audit(r: &AuditReport) {
    let or = |v: &Option<String>| v.as_deref().map(shown).unwrap_or_else(|| "?".into());
    println!("{} {} by {} ({} → {})", or(&r.name), or(&r.version), or(&r.vendor), or(&r.server_app_key), or(&r.cloud_app_key));
    println!("contract ferry:migration@{}   sha256 {}", or(&r.contract), r.sha256);
    println!("signed by {}", shown(&r.signer.describe()));
    println!("\nDeclared scopes:");
    for s in &r.scopes {
        let unused = if r.unused_scopes.contains(&s.scope) { "  [declared, never usable: over-privilege]" } else { "" };
        println!("  {:<28} {}{unused}", s.scope, s.meaning);
    }
    if !r.tables.is_empty() {
        let mut t = table(&["table", "column", "class"]);
        for (name, cols) in &r.tables {
            for (col, class) in cols {
                t.add_row(vec![name.as_str(), col.as_str(), class.as_str()]);
            }
        }
        println!("\nApp tables read:\n{t}");
    }
    let mut t = table(&["import", "kind", "needs one of", "allowed"]);
    for i in &r.imports {
        t.add_row(vec![i.name.clone(), i.kind.to_string(), i.needs_any_of.join(", "), if i.allowed { "yes" } else { "NO" }.to_string()]);
    }
    println!("\nWhat the component imports:\n{t}");
    for w in &r.warnings {
        println!("warning: {}", shown(w));
    }
    match r.verdict {
        Verdict::Ok => println!("\nverdict: ok"),
        Verdict::Refused => {
            println!("\nverdict: REFUSED");
            for p in &r.problems {
                println!("  - {}", shown(p));
            }
        }
    }
}

/// The bytes of the plugin file `arg` names, or none when `arg` is an app key. A `.wasm`
/// name that is no file is an error saying what else is accepted (the app key of `key_of`).
fn plugin_file(arg: &str, key_of: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(Some(crate::plugins::component::read_plugin_file(path)?));
    }
    anyhow::ensure!(!arg.ends_with(".wasm"), "{arg} does not exist: give a plugin file or the app key of {key_of}");
    Ok(None)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `{ path = "<absolute sdk folder>" }`, refusing a folder that is not the SDK.
fn sdk_dependency(path: &Path) -> anyhow::Result<String> {
    let path = std::fs::canonicalize(path).with_context(|| format!("the SDK folder {} does not exist", path.display()))?;
    let cargo = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
    anyhow::ensure!(cargo.contains("name = \"ferry-sdk\""), "{} is not the ferry SDK (no ferry-sdk Cargo.toml there)", path.display());
    let text = path.to_str().context("the SDK path is not UTF-8")?;
    Ok(format!("{{ path = {} }}", toml_string(text)))
}

/// The Server app version installed on the source (or in the latest assessment).
async fn server_app_version(db: &StateDb, app_key: &str, source: Option<&SourceArgs>) -> anyhow::Result<String> {
    let apps = match source {
        Some(source) => crate::assess::read_server_apps(db, &source.connect().await?).await?,
        None => crate::assess::server_apps(db).await?,
    };
    anyhow::ensure!(
        !apps.is_empty() || source.is_some(),
        "installing {app_key} from a catalog needs the app version on the Server site: give --source <DB> (or run `ferry apps assess --source <DB>` first)"
    );
    apps.into_iter().find(|a| a.key == app_key).map(|a| a.version).with_context(|| {
        format!(
            "{app_key} is not installed on the Server site, so no plugin version can be chosen for it: check the app key (`ferry apps assess` lists the apps)"
        )
    })
}

async fn install(home: &Path, plugin: &str, source: Option<&SourceArgs>, allow_unsigned: bool, json: bool) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    let (bytes, choice) = match plugin_file(plugin, "a plugin in a registered catalog")? {
        Some(bytes) => (bytes, None),
        None => {
            let version = server_app_version(&db, plugin, source).await?;
            let choice = catalog::choose(&db, plugin, &version).await?;
            (catalog::read_offer(&choice.chosen, plugin)?, Some(choice))
        }
    };
    if let (Some(choice), false) = (&choice, json) {
        println!("chose {} {}: {}", shown(plugin), choice.chosen.version.version, shown(&choice.reason));
        for skipped in &choice.passed_over {
            println!("  passed over {}", shown(skipped));
        }
    }
    let registry = Registry::new(db);
    match registry.install(&bytes, allow_unsigned).await {
        Ok((outcome, plugin, _)) => {
            if json {
                print_json(&serde_json::json!({ "outcome": outcome, "plugin": plugin, "catalog": choice }))?;
            } else {
                let what = match &outcome {
                    crate::plugins::registry::InstallOutcome::Installed => "installed".to_string(),
                    crate::plugins::registry::InstallOutcome::Replaced { previous } => format!("replaced {previous} with"),
                    crate::plugins::registry::InstallOutcome::AlreadyInstalled => "already installed:".to_string(),
                };
                println!(
                    "{what} {} {} ({}) with scopes: {}",
                    shown(&plugin.name),
                    shown(&plugin.version),
                    shown(&plugin.server_app_key),
                    plugin.scopes.join(", ")
                );
                println!("signed by {}", shown(&plugin.signer_shown()));
            }
            Ok(ExitCode::Ok)
        }
        Err(InstallError::Refused(report)) => {
            if json {
                print_json(&report)?;
            }
            eprintln!("error: {plugin} refused:");
            for p in &report.problems {
                eprintln!("  - {}", shown(p));
            }
            Ok(ExitCode::Refused)
        }
        Err(e @ InstallError::NotTrusted(_)) => {
            if let (true, InstallError::NotTrusted(report)) = (json, &e) {
                print_json(report)?;
            }
            eprintln!("error: {plugin} refused: {}", shown(&e.to_string()));
            Ok(ExitCode::Refused)
        }
        Err(e) => Err(e.into()),
    }
}

async fn list(home: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plugins = Registry::new(StateDb::open(home).await?).list().await?;
    if json {
        print_json(&plugins)?;
        return Ok(ExitCode::Ok);
    }
    if plugins.is_empty() {
        println!("no plugins installed: `ferry plugin install <FILE.wasm>`");
        return Ok(ExitCode::Ok);
    }
    let mut t = table(&["app key", "name", "vendor", "version", "contract", "signed by", "scopes", "sha256"]);
    let mut flagged = Vec::new();
    for p in plugins {
        if let Some(problem) = p.trust_problem() {
            flagged.push(problem);
        }
        let signer = p.signer_shown();
        t.add_row(vec![p.server_app_key, p.name, p.vendor, p.version, p.contract, signer, p.scopes.join("\n"), p.sha256[..12].to_string()]);
    }
    println!("{t}");
    for problem in flagged {
        println!("flagged: {}", shown(&problem));
    }
    Ok(ExitCode::Ok)
}

async fn run_command(home: &Path, args: RunArgs) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    let engine = Arc::new(PluginEngine::new(Some(home.join("cache")))?);
    let source = args.source.connect().await?;
    let mut spaces = args.spaces.clone();
    let mut attachments = args.attachments.clone();
    let plugin_file = plugin_file(&args.plugin, "an installed plugin")?;
    let mappings = match (&args.mappings, &args.plan) {
        (Some(auto), _) if auto.as_os_str() == "auto" => crate::plugins::local::auto_mappings(&source).await?,
        (Some(file), _) => MappingSource::from_file(file)?,
        (None, Some(id)) => {
            let plan = crate::plan::Plan::get(&db, id).await?;
            if spaces.is_none() {
                if let crate::plan::SpacesScope::Keys(keys) = &plan.spaces {
                    spaces = Some(keys.clone());
                }
            }
            if attachments.is_none() && !plan.attachments.is_empty() {
                attachments = Some(PathBuf::from(&plan.attachments));
            }
            MappingSource::State { db: db.clone(), destination: crate::migrate::destination_key(&plan.destination), site: plan.site_id(&db).await? }
        }
        (None, None) => {
            let manifest = match &plugin_file {
                Some(bytes) => audit::audit(bytes, &TrustStore::default()).manifest,
                None => Registry::new(db.clone()).get_with_manifest(&args.plugin).await?.map(|(_, m)| m),
            };
            let reads_mappings = manifest.is_some_and(|m| {
                let declared = m.scope_set();
                declared.contains(ferry_manifest::Scope::MigrationTracingIdentity) || declared.contains(ferry_manifest::Scope::MigrationTracingProduct)
            });
            anyhow::ensure!(
                !reads_mappings,
                "the plugin reads mappings (it declares a migration-tracing scope), and no mappings were given: \
                 use `--mappings auto` for a stand-in cloud id for every server entity, `--mappings FILE` for a \
                 JSON-lines fixture of {{\"namespace\", \"server_id\", \"cloud_id\"}}, or `--plan ID` for what a \
                 plan's core migration recorded"
            );
            MappingSource::State { db: db.clone(), destination: "local".into(), site: String::new() }
        }
    };
    let bar = (!args.json).then(|| {
        let bar = indicatif::ProgressBar::new(100);
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos:>3}% {msg}").expect("valid template"));
        bar
    });
    let on_progress = bar.clone().map(|bar| -> crate::plugins::host::ProgressFn {
        Arc::new(move |percent, message| {
            bar.set_position(u64::from(percent));
            bar.set_message(shown(message));
        })
    });
    let run = LocalRun {
        limits: Limits {
            deadline: args.deadline,
            memory_bytes: args.memory_mib << 20,
            upload_bytes: args.upload_quota_mib << 20,
            uploads: args.max_uploads,
            log_bytes: args.log_limit_kib << 10,
        },
        spaces,
        on_progress,
        name: args.name.clone(),
        deny: args.deny.iter().copied().fold(ferry_manifest::ScopeSet::EMPTY, ferry_manifest::ScopeSet::with),
        attachments,
        ..LocalRun::new(source.clone(), Box::new(DirectorySink::new(args.out.clone())?), mappings)
    };
    let manifest = match &plugin_file {
        Some(bytes) => audit::audit(bytes, &TrustStore::default()).manifest,
        None => Registry::new(db.clone()).get_with_manifest(&args.plugin).await?.map(|(_, m)| m),
    };
    let report = match plugin_file {
        Some(bytes) => crate::plugins::local::run_file(&db, engine, bytes, run).await?,
        None => run_installed(&db, engine, &args.plugin, run).await?,
    };
    // Columns whose values do not look like their declared class: the vendor's to fix.
    let class_warnings = match &manifest {
        Some(m) => crate::plugins::local::class_warnings(&source, m).await,
        None => Vec::new(),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        #[derive(serde::Serialize)]
        struct Output<'a> {
            #[serde(flatten)]
            report: &'a RunReport,
            class_warnings: &'a [String],
        }
        print_json(&Output { report: &report, class_warnings: &class_warnings })?;
    } else {
        print_run(&report, &args.out);
        for warning in &class_warnings {
            println!("warning: {}", shown(warning));
        }
    }
    Ok(if report.status == RunStatus::Complete { ExitCode::Ok } else { ExitCode::NotComplete })
}

fn print_run(r: &RunReport, out: &Path) {
    println!(
        "{} {}: {}{}",
        shown(&r.server_app_key),
        shown(&r.version),
        r.status.name(),
        r.message.as_ref().map(|m| format!(" — {}", shown(m))).unwrap_or_default()
    );
    println!("progress: {}% {}", r.progress_percent, shown(&r.progress_message));
    println!("uploads: {} ({} bytes) in {}", r.uploads, r.uploaded_bytes, out.display());
    let mut t = table(&["scope", "calls", "rows", "bytes", "denied"]);
    for (scope, u) in &r.access {
        t.add_row(vec![scope.clone(), u.calls.to_string(), u.rows.to_string(), u.bytes.to_string(), u.denied.to_string()]);
    }
    println!("access audit (run {}):\n{t}", r.run_id);
    const DENIALS_SHOWN: usize = 20;
    for d in r.denials.iter().take(DENIALS_SHOWN) {
        println!("denied: {} needs {} ({} calls)", d.function, d.denied_scope.map(|s| s.name()).unwrap_or("?"), d.calls);
    }
    if r.denials.len() > DENIALS_SHOWN {
        println!("… and {} more denial records (`--json` lists them)", r.denials.len() - DENIALS_SHOWN);
    }
    if r.audit_summarised_calls > 0 {
        println!("audit: {} detailed records; {} later calls summed per kind of call", r.audit.len(), r.audit_summarised_calls);
    }
    if r.log_dropped > 0 {
        println!("log: {} lines dropped past the log limit", r.log_dropped);
    }
    let tail = r.log.len().saturating_sub(10);
    if !r.log.is_empty() {
        println!("log (last {} of {} lines):", r.log.len() - tail, r.log.len());
        for line in &r.log[tail..] {
            println!("  [{}] {}", line.level, shown(&line.message));
        }
    }
    println!("took {} ms", r.duration_ms);
}
