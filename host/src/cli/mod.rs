//! The `ferry` command line: human tables by default, `--json` on every listing and
//! report, exit codes that mean something (see [`ExitCode`]).

mod plan;
mod plugin;
mod sample;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// What ferry's exit codes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done as asked.
    Ok = 0,
    /// An error: bad input, a failed read, a missing file (the message says which).
    Error = 1,
    /// Wrong usage (clap's own code).
    Usage = 2,
    /// A plugin was refused by the audit.
    Refused = 3,
    /// A run ended other than complete: a plugin run not `complete`, a plan not `finished`.
    NotComplete = 4,
}

const AFTER_HELP: &str = "\
Exit codes: 0 done, 1 error, 2 wrong usage, 3 plugin refused by the audit,
4 a run did not complete (plugin run not complete, plan not finished).
State (installed plugins, runs, the audit log) lives in FERRY_HOME (default ./.ferry).
Logs go to stderr; set RUST_LOG=debug for more.";

/// Ferry moves a Confluence Server / Data Center site to a Cloud site; each Marketplace
/// app's data moves through a sandboxed WebAssembly plugin that sees only what the admin
/// consented to.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Where ferry keeps its state.
    #[arg(long, env = "FERRY_HOME", default_value = crate::state::DEFAULT_HOME, global = true)]
    pub home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The apps installed on the Server site.
    #[command(subcommand)]
    Apps(sample::AppsCommand),
    /// Audit, install, list, remove and test-run app-migration plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Ferry's main job on one machine: a sample Server site migrated to an embedded
    /// staging Cloud site, with the app plugins, and the report.
    Demo(sample::DemoArgs),
    /// Create, run, list, show and stop migration plans.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Serve a staging Cloud site for trial migrations.
    #[command(subcommand)]
    Staging(plan::StagingCommand),
    /// Write a deterministic sample Server site (database + attachment folder).
    SampleSite(sample::SampleArgs),
    /// Measure ferry's speed on this machine.
    #[command(subcommand)]
    Bench(sample::BenchCommand),
}

/// Parse the command line, run it, and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::Error as i32;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Plugin(cmd) => plugin::run(&cli.home, cmd).await,
            Command::Apps(cmd) => sample::apps(cmd).await,
            Command::Demo(args) => sample::demo(&cli.home, args).await,
            Command::Plan(cmd) => plan::run(&cli.home, cmd).await,
            Command::Staging(cmd) => plan::staging(cmd).await,
            Command::SampleSite(args) => sample::sample_site(args).await,
            Command::Bench(cmd) => sample::bench(&cli.home, cmd).await,
        }
    });
    match result {
        Ok(code) => code as i32,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::Error as i32
        }
    }
}

/// Print a value as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table for humans, in ferry's style.
pub(crate) fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED).set_header(header.to_vec());
    t
}
