//! The `ferry` command line: human tables by default, `--json` on every listing and
//! report, exit codes that mean something (see [`ExitCode`]).

mod apps;
mod catalog;
mod consent;
mod plan;
mod plugin;
mod sample;
mod serve;
mod site;
mod stages;
mod trust;

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
    /// A plugin was refused: by the audit, or because no trusted key signed it.
    Refused = 3,
    /// A run ended other than complete: a plugin run not `complete`, a plan not `finished`.
    NotComplete = 4,
    /// Not ready to migrate: pre-migration checks found errors, a Stage 1 choice is
    /// missing, or app preparation is not done.
    NotReady = 5,
    /// `ferry verify` found the cloud differing from the server.
    Differences = 6,
}

const AFTER_HELP: &str = "\
The admin's journey:
  ferry site add --source DB           the Server site ferry reads (its identity)
  ferry apps assess --source DB        what apps the Server has, their path and Stage
  ferry apps decide APP needed         decide about each app
  ferry cloud connect NAME --url URL --token-env VAR
  ferry consent show APP / agree APP   read each plugin's policy, then agree
  ferry apps done                      is preparation complete?
  ferry plan create --cloud NAME ...   then: plan check ID, plan run ID
  ferry plan show ID / ferry audit ID  the report, and what each plugin read
  ferry verify ID                      read the migrated content back and compare
  ferry serve                          the same journey in a browser (and /api/v1)

Exit codes: 0 done, 1 error, 2 wrong usage, 3 plugin refused (audit or signature),
4 a run did not complete (plugin run not complete, plan not finished),
5 not ready (pre-migration checks found errors, Stage 1 choice missing, apps not done),
6 ferry verify found the cloud differing from the server.
State (installed plugins, consents, plans, runs, the audit log) lives in FERRY_HOME
(default ./.ferry). Logs go to stderr; set RUST_LOG=debug for more.";

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
    /// Assess the Server site's apps, decide about each, check preparation is done, and
    /// re-run an app migration.
    #[command(subcommand)]
    Apps(apps::AppsCommand),
    /// Connect to a Cloud site under a name plans can use.
    #[command(subcommand)]
    Cloud(consent::CloudCommand),
    /// The Server sites ferry has read, each by its identity (mappings are kept per
    /// site, so several Server sites can merge into one cloud): add, list, name.
    #[command(subcommand)]
    Site(site::SiteCommand),
    /// Read each app plugin's policy, agree to it, revoke it, list where consent stands.
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Each plugin's Stage: attempts, successes, success rate, the Wilson bounds and the
    /// rule; export and import outcomes; change the rule.
    Stages(stages::StagesArgs),
    /// What each app migration of a plan read, per scope and host function, what it
    /// uploaded, and every denied access.
    Audit(stages::AuditArgs),
    /// Audit, install, list, remove and test-run app-migration plugins; make signing keys
    /// and sign plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// The vendor keys whose signed plugins this Ferry installs.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Local catalogs of signed plugins: `plugin install APP_KEY` picks the right version.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Ferry's main job on one machine: a sample Server site migrated to an embedded
    /// staging Cloud site, with the app plugins, and the report.
    Demo(sample::DemoArgs),
    /// Create, run, list, show and stop migration plans.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Read back what a plan migrated from the Cloud site and compare it with the Server
    /// site (read-only; exit 6 when anything differs).
    Verify(plan::VerifyArgs),
    /// Serve a staging Cloud site for trial migrations.
    #[command(subcommand)]
    Staging(plan::StagingCommand),
    /// Write a deterministic sample Server site (database + attachment folder).
    SampleSite(sample::SampleArgs),
    /// Measure ferry's speed on this machine.
    #[command(subcommand)]
    Bench(sample::BenchCommand),
    /// The dashboard and the automation API in a browser: assess, consent, plans with
    /// live progress, reports, the reviewer's audit and the Stages. Prints a one-time
    /// login URL.
    Serve(serve::ServeArgs),
    /// Bearer tokens for the automation API (/api/v1): create, list, revoke.
    #[command(subcommand)]
    ApiToken(serve::ApiTokenCommand),
}

/// What is logged when RUST_LOG is not set.
pub const DEFAULT_LOG_FILTER: &str = "error,ferry_host=warn,ferry=warn";

/// Parse the command line, run it, and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // By default ferry's own warnings, and only errors from libraries: a library's notice
    // (a slow statement, a retried connection) is not the admin's business unless asked
    // for with RUST_LOG.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()))
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
            Command::Trust(cmd) => trust::run(&cli.home, cmd).await,
            Command::Catalog(cmd) => catalog::run(&cli.home, cmd).await,
            Command::Apps(cmd) => apps::run(&cli.home, cmd).await,
            Command::Cloud(cmd) => consent::cloud(&cli.home, cmd).await,
            Command::Site(cmd) => site::run(&cli.home, cmd).await,
            Command::Consent(cmd) => consent::consent(&cli.home, cmd).await,
            Command::Stages(args) => stages::stages(&cli.home, args).await,
            Command::Audit(args) => stages::audit(&cli.home, args).await,
            Command::Demo(args) => sample::demo(&cli.home, args).await,
            Command::Plan(cmd) => plan::run(&cli.home, cmd).await,
            Command::Verify(args) => plan::verify(&cli.home, args).await,
            Command::Staging(cmd) => plan::staging(cmd).await,
            Command::SampleSite(args) => sample::sample_site(args).await,
            Command::Bench(cmd) => sample::bench(&cli.home, cmd).await,
            Command::Serve(args) => serve::serve(&cli.home, args).await,
            Command::ApiToken(cmd) => serve::api_token(&cli.home, cmd).await,
        }
    });
    match result {
        Ok(code) => code as i32,
        Err(e) => {
            if let Some(refused) = e.downcast_ref::<crate::plan::runner::RunRefused>() {
                eprintln!("refused: {}", shown(&refused.to_string()));
                return ExitCode::NotReady as i32;
            }
            if let Some(refused) = e.downcast_ref::<crate::plan::PlanRefused>() {
                eprintln!("error: {}", shown(&refused.to_string()));
                return ExitCode::Usage as i32;
            }
            eprintln!("error: {}", shown(&format!("{e:#}")));
            ExitCode::Error as i32
        }
    }
}

pub(crate) use crate::terminal::shown;

/// Print a value as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Where a command reads the Server site from.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SourceArgs {
    /// The Server database: a PostgreSQL or MySQL / MariaDB URL without a password
    /// (postgres://USER@HOST:PORT/DB, mysql://USER@HOST:PORT/DB), or a SQLite file.
    #[arg(long)]
    pub source: String,
    /// The environment variable holding the database password. Without it the password
    /// comes from PGPASSWORD or ~/.pgpass (PostgreSQL), or the [client] section of
    /// ~/.my.cnf (MySQL). Ferry keeps the variable's name, never the password, and
    /// refuses a URL that carries one.
    #[arg(long, value_name = "VAR")]
    pub source_password_env: Option<String>,
}

impl SourceArgs {
    /// Connect to the Server database.
    pub async fn connect(&self) -> anyhow::Result<crate::source::Source> {
        crate::source::Source::open(&self.source, self.source_password_env.as_deref()).await
    }
}

/// A table for humans, in ferry's style. Every cell is shown terminal-safe: control
/// characters are escaped (a cell may span lines only where ferry itself joined lines).
pub(crate) struct Table(comfy_table::Table);

impl Table {
    /// Add a row; each cell is escaped line by line.
    pub(crate) fn add_row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Table {
        let cells: Vec<String> = cells.into_iter().map(|c| c.as_ref().split('\n').map(shown).collect::<Vec<_>>().join("\n")).collect();
        self.0.add_row(cells);
        self
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A table for humans, in ferry's style, with the given header.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED).set_header(header.to_vec());
    Table(t)
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::filter::Targets;

    #[test]
    fn by_default_library_warnings_are_quiet_and_ferrys_own_are_shown() {
        let filter: Targets = super::DEFAULT_LOG_FILTER.parse().expect("a valid filter");
        assert!(!filter.would_enable("sqlx::query", &Level::WARN), "sqlx's slow-statement warning would interleave with reports");
        assert!(filter.would_enable("sqlx::query", &Level::ERROR));
        assert!(filter.would_enable("ferry_host::state", &Level::WARN));
        assert!(!filter.would_enable("ferry_host::state", &Level::INFO));
    }
}
