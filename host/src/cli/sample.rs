//! `ferry sample-site` and `ferry bench`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, ExitCode};
use crate::sample::{write_sample_site, SampleOptions};

#[derive(Debug, Args)]
pub(crate) struct SampleArgs {
    /// The folder to write: site.db (unless --postgres) and attachments/.
    #[arg(long)]
    out: PathBuf,
    /// Users.
    #[arg(long, default_value_t = 40)]
    users: u32,
    /// Global spaces (a personal space is added).
    #[arg(long, default_value_t = 3)]
    spaces: u32,
    /// Pages (and blog posts) per space.
    #[arg(long, default_value_t = 20)]
    pages_per_space: u32,
    /// Attachments per page.
    #[arg(long, default_value_t = 1)]
    attachments_per_page: u32,
    /// Random seed: the same seed writes the same site.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the database into this PostgreSQL database instead of site.db.
    #[arg(long)]
    postgres: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn sample_site(args: SampleArgs) -> anyhow::Result<ExitCode> {
    let options = SampleOptions {
        users: args.users,
        spaces: args.spaces,
        pages_per_space: args.pages_per_space,
        attachments_per_page: args.attachments_per_page,
        seed: args.seed,
    };
    let summary = write_sample_site(&args.out, args.postgres.as_deref(), &options).await?;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "wrote {}: {} users, {} spaces, {} pages, {} blog posts, {} comments, {} attachments, {} ratings, {} calendar events",
            summary.database, summary.users, summary.spaces, summary.pages, summary.blogposts, summary.comments,
            summary.attachments_count, summary.ratings, summary.events
        );
    }
    Ok(ExitCode::Ok)
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Plugin runtime: instantiation, host-call round trip, cached load, table scan rows/s.
    Plugins {
        /// The scanning plugin (built from tests/plugins/table_scan).
        #[arg(long, default_value = "target/wasm32-wasip2/release/table_scan.wasm")]
        plugin: PathBuf,
        /// Rows in the scanned app table.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Core migration: generate a site, migrate it to a staging site (its own process)
    /// on loopback, and report users/s, pages/s, attachment MB/s, the staging site's own
    /// ingest rate for the same data, the ratio, and the migrator's peak RSS.
    Migrate {
        /// Users.
        #[arg(long, default_value_t = 5_000)]
        users: u32,
        /// Spaces.
        #[arg(long, default_value_t = 5)]
        spaces: u32,
        /// Pages per space.
        #[arg(long, default_value_t = 2_000)]
        pages_per_space: u32,
        /// Attachments per page.
        #[arg(long, default_value_t = 1)]
        attachments_per_page: u32,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn bench(home: &Path, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Migrate { users, spaces, pages_per_space, attachments_per_page, json } => {
            let options = SampleOptions { users, spaces, pages_per_space, attachments_per_page, seed: 7 };
            let report = crate::bench::bench_migrate(home, &options).await?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(ExitCode::Ok)
        }
        BenchCommand::Plugins { plugin, rows, json } => {
            let report = crate::bench::bench_plugins(home, &plugin, rows).await?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(ExitCode::Ok)
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the app plugins are (page_ratings.wasm, team_calendars.wasm).
    #[arg(long, default_value = "target/wasm32-wasip2/release")]
    plugins: PathBuf,
    /// Users in the sample site.
    #[arg(long, default_value_t = 40)]
    users: u32,
    /// Pages per space in the sample site.
    #[arg(long, default_value_t = 20)]
    pages_per_space: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn demo(home: &Path, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let options = SampleOptions { users: args.users, pages_per_space: args.pages_per_space, ..SampleOptions::default() };
    let progress = if args.json { crate::migrate::Progress::hidden() } else { crate::migrate::Progress::terminal() };
    let report = crate::demo::run_demo(home, &args.plugins, &options, progress).await?;
    if args.json {
        print_json(&report)?;
    } else {
        super::plan::print_report(&report.plan);
        let mut t = super::table(&["app", "version", "status", "rows read per scope", "uploaded", "why"]);
        for a in &report.apps {
            let rows: Vec<String> = a.rows_per_scope.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            t.add_row(vec![a.app.clone(), a.version.clone(), a.status.clone(), rows.join("\n"), format!("{} B", a.uploaded_bytes), a.message.clone().unwrap_or_default()]);
        }
        println!("apps:\n{t}");
        println!("the staging site's data: {}", report.staging_db.display());
    }
    Ok(ExitCode::Ok)
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// List the user-installed apps (from plugindata and each JAR's atlassian-plugin.xml).
    List {
        /// The Server database: a SQLite file or a postgres:// URL.
        #[arg(long)]
        source: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn apps(command: AppsCommand) -> anyhow::Result<ExitCode> {
    let AppsCommand::List { source, json } = command;
    let apps = crate::source::Source::connect(&source).await?.installed_apps().await?;
    if json {
        print_json(&apps)?;
    } else {
        let mut t = super::table(&["app key", "name", "version", "vendor", "jar", "problem"]);
        for a in apps {
            t.add_row(vec![a.key, a.name, a.version, a.vendor, a.file_name, a.problem.unwrap_or_default()]);
        }
        println!("{t}");
    }
    Ok(ExitCode::Ok)
}
