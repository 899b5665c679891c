//! `ferry sample-site` and `ferry bench`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, shown, ExitCode};
use crate::sample::{write_sample_site, SampleOptions};

#[derive(Debug, Args)]
pub(crate) struct SampleArgs {
    /// The folder to write: site.db (unless --postgres or --mysql) and attachments/;
    /// with --product jira, jira.db (unless --postgres or --mysql).
    #[arg(long)]
    out: PathBuf,
    /// Which Server site: confluence, or jira (Jira Service Management: agents,
    /// customers, organizations, two service projects and a software project).
    #[arg(long, default_value = "confluence")]
    product: crate::source::Product,
    /// Jira: agents (licensed users) besides the special cases.
    #[arg(long, default_value_t = 8)]
    agents: u32,
    /// Jira: customers (portal-only users), special cases included.
    #[arg(long, default_value_t = 60)]
    customers: u32,
    /// Jira: requests per service project.
    #[arg(long, default_value_t = 24)]
    requests_per_project: u32,
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
    /// Write the database into this PostgreSQL database instead of site.db
    /// (postgres://USER@HOST:PORT/DB; the password from PGPASSWORD or ~/.pgpass).
    #[arg(long, value_name = "URL", conflicts_with = "mysql")]
    postgres: Option<String>,
    /// Write the database into this MySQL or MariaDB database instead of site.db, as
    /// Confluence or Jira lay theirs out there (mysql://USER@HOST:PORT/DB; the password
    /// from the [client] section of ~/.my.cnf). The database must exist and be empty.
    #[arg(long, value_name = "URL")]
    mysql: Option<String>,
    /// Add your own app (repeatable): a JSON file naming its `app_key`, `name`,
    /// `version`, `vendor`, and its Active Objects `tables`, each with `columns` (name →
    /// integer | text | boolean | timestamp) and `rows` (column → value). Its plugindata
    /// row makes `ferry apps assess` see the app; its rows are what your plugin reads.
    /// `ferry plugin new` writes one (sample-app-data.json).
    #[arg(long = "app-data", value_name = "FILE")]
    app_data: Vec<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn sample_site(args: SampleArgs) -> anyhow::Result<ExitCode> {
    let server = args.postgres.as_deref().or(args.mysql.as_deref());
    if args.product == crate::source::Product::Jira {
        let options = crate::sample::jira::JiraOptions { agents: args.agents, customers: args.customers, requests_per_project: args.requests_per_project };
        let summary = crate::sample::jira::write_jira_site(&args.out, server, &options).await?;
        if args.json {
            print_json(&summary)?;
        } else {
            println!(
                "wrote {}: {} agents, {} customers ({} related to the service projects), {} organizations, {} requests, {} comments ({} public)",
                summary.database,
                summary.agents,
                summary.customers,
                summary.related_customers,
                summary.organizations,
                summary.requests,
                summary.comments,
                summary.public_comments
            );
        }
        return Ok(ExitCode::Ok);
    }
    let options = SampleOptions {
        users: args.users,
        spaces: args.spaces,
        pages_per_space: args.pages_per_space,
        attachments_per_page: args.attachments_per_page,
        seed: args.seed,
    };
    // Every file is read before anything is written: a bad one names itself and costs nothing.
    let vendor_apps = args.app_data.iter().map(|f| crate::sample::VendorApp::read(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let summary = write_sample_site(&args.out, server, &options).await?;
    let vendor_rows = crate::sample::add_vendor_apps(&args.out, server, &vendor_apps).await?;
    for app in &vendor_apps {
        let tables: Vec<String> = app.tables.iter().map(|(t, spec)| format!("{t} ({} rows)", spec.rows.len())).collect();
        if !args.json {
            println!("added {} {} by {}: {}", shown(&app.app_key), shown(&app.version), shown(&app.vendor), shown(&tables.join(", ")));
        }
    }
    let _ = vendor_rows;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "wrote {}: {} users, {} spaces, {} pages, {} blog posts, {} comments, {} attachments, {} ratings, {} calendar events",
            summary.database,
            summary.users,
            summary.spaces,
            summary.pages,
            summary.blogposts,
            summary.comments,
            summary.attachments_count,
            summary.ratings,
            summary.events
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
    /// The dashboard (`ferry serve`): fill a state DB with plans and plugins, then time
    /// each page and API answer (median) and live progress (recorded → received).
    Serve {
        /// The plugin the bench's plugins are made from.
        #[arg(long, default_value = "target/wasm32-wasip2/release/page_ratings.wasm")]
        plugin: PathBuf,
        /// Plans in the state DB.
        #[arg(long, default_value_t = 1_000)]
        plans: usize,
        /// Plugins installed.
        #[arg(long, default_value_t = 20)]
        plugins: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Core migration: generate a site, migrate it to a staging site (its own process)
    /// on loopback, and report users/s, pages/s, attachment MB/s, the staging site's own
    /// ingest rate for the same data, the ratio, and the migrator's peak RSS.
    Migrate {
        /// Which migration: confluence (users, pages, attachments) or jira (customers
        /// and service-project requests: customers/s, requests/s).
        #[arg(long, default_value = "confluence")]
        product: crate::source::Product,
        /// Jira: customers.
        #[arg(long, default_value_t = 20_000)]
        customers: u32,
        /// Jira: requests per service project (two service projects).
        #[arg(long, default_value_t = 50_000)]
        requests_per_project: u32,
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
        /// Page history: current (the pages/s figure, history off), all (every version:
        /// adds versions/s), or both (two runs, one after the other).
        #[arg(long, default_value = "both", value_parser = ["current", "all", "both"])]
        history: String,
        /// A site across the internet: add this to every answer (e.g. 40ms). With
        /// --rate-limit, the run reports pages per hour, the share of the site's request
        /// budget used, throttled requests, and requests per page and per kind.
        #[arg(long, value_parser = humantime::parse_duration, requires = "rate_limit")]
        latency: Option<std::time::Duration>,
        /// The site's request budget (e.g. 100/s): 429 past it.
        #[arg(long, value_parser = crate::cli::plan::per_second, requires = "latency")]
        rate_limit: Option<f64>,
        /// Print the figures as JSON (a list, one entry per run).
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn bench(home: &Path, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Migrate { product: crate::source::Product::Jira, customers, requests_per_project, json, .. } => {
            let options = crate::sample::jira::JiraOptions { agents: 50, customers, requests_per_project };
            let report = crate::bench::bench_migrate_jira(home, &options).await?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(ExitCode::Ok)
        }
        BenchCommand::Migrate { users, spaces, pages_per_space, attachments_per_page, latency: Some(latency), rate_limit: Some(rate), json, .. } => {
            let options = SampleOptions { users, spaces, pages_per_space, attachments_per_page, seed: 7 };
            let report = crate::bench::bench_budget(home, &options, crate::bench::Across { latency, rate }).await?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(ExitCode::Ok)
        }
        BenchCommand::Migrate { users, spaces, pages_per_space, attachments_per_page, history, json, .. } => {
            use crate::plan::HistoryScope;
            let options = SampleOptions { users, spaces, pages_per_space, attachments_per_page, seed: 7 };
            let runs = match history.as_str() {
                "current" => vec![HistoryScope::Current],
                "all" => vec![HistoryScope::All],
                _ => vec![HistoryScope::Current, HistoryScope::All],
            };
            let mut reports = Vec::new();
            for history in runs {
                let report = crate::bench::bench_migrate(home, &options, history).await?;
                if !json {
                    println!("{report}\n");
                }
                reports.push(report);
            }
            if json {
                print_json(&reports)?;
            }
            Ok(ExitCode::Ok)
        }
        BenchCommand::Serve { plugin, plans, plugins, json } => {
            let report = crate::bench::bench_serve(home, &plugin, plans.max(2), plugins).await?;
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
    /// Where the app plugins are (page_ratings.wasm, team_calendars.wasm, diagrams.wasm).
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
    /// Journal every request the staging site answers into FILE (one JSON line each;
    /// `scripts/conformance.py FILE OPENAPI_DIR` checks them against Atlassian's API
    /// documents).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
}

pub(crate) async fn demo(home: &Path, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let options = SampleOptions { users: args.users, pages_per_space: args.pages_per_space, ..SampleOptions::default() };
    let progress = if args.json { crate::migrate::Progress::hidden } else { crate::terminal::progress };
    let r = crate::demo::run_demo(home, &args.plugins, &options, progress, args.journal.as_deref()).await?;
    if args.json {
        print_json(&r)?;
        return Ok(ExitCode::Ok);
    }
    let step = |n: u8, title: &str| println!("\n━━ {n}. {title} ━━");
    step(1, "Assess your apps");
    println!("Server site {} (by its {}, read from {})", shown(&r.server_site.id), r.server_site.origin, shown(&r.server_site.location));
    let mut t = super::table(&["app key", "name", "version", "enabled", "path", "stage", "decision"]);
    for a in &r.assessment {
        let stage = a.stage_figures.as_ref().map(|f| f.summary()).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            shown(&a.key),
            shown(&a.name),
            shown(&a.version),
            (if a.enabled { "yes" } else { "no" }).into(),
            a.path.name().into(),
            stage,
            a.decision.name().into(),
        ]);
    }
    println!("{t}");
    step(2, "Connect to the Cloud site");
    let target = &r.cloud.target;
    println!(
        "connected to {} as {}: signed in as {} with the token in ${}, users provisioned through {} with the key in ${} (secrets never stored)",
        target.url,
        r.cloud.name,
        target.email.as_deref().unwrap_or("a scoped token"),
        target.token_env,
        target.scim_url.as_deref().unwrap_or(""),
        target.scim_token_env.as_deref().unwrap_or("")
    );
    step(3, "Agree to app migration");
    for c in &r.consents {
        println!(
            "{} {} by {} (sha256 {}…, signed by {}), privacy policy {}",
            shown(&c.name),
            c.version,
            shown(&c.vendor),
            &c.sha256[..12],
            shown(&c.signer_shown),
            shown(&c.privacy_policy)
        );
        for s in &c.scopes {
            println!("    - {}", s.meaning);
        }
        println!("    consent: {}; {}", c.status.map(|s| s.name()).unwrap_or("-"), c.stage.summary());
    }
    step(4, "Prepare your apps: done?");
    if r.apps_missing.is_empty() {
        println!("done: every app decided, every needed cloud app installed, every plugin consented to");
    }
    for m in &r.apps_missing {
        println!("missing: {}: {}", shown(&m.app), shown(&m.missing));
    }
    step(5, "Pre-migration checks");
    super::plan::print_checks(&r.first_checks);
    println!("plan run refused: {}", r.refused);
    step(6, "Fix what the checks named");
    for f in &r.fixes {
        println!("  {}", shown(f));
    }
    super::plan::print_checks(&r.checks_after_fixes);
    step(7, "Migrate (Stage 1 apps: proceed)");
    super::plan::print_report(&r.first_run);
    step(8, "A second plan links what already migrated");
    super::plan::print_report(&r.second_run);
    step(9, "Verify: read everything back from the cloud and compare");
    super::plan::print_verification(&r.verification);
    step(10, "Stages");
    let mut t = super::table(&["app", "version", "attempts", "successes", "interval", "stage", "decided by"]);
    for f in &r.stages {
        t.add_row(vec![
            shown(&f.app),
            f.version.clone(),
            f.attempts.to_string(),
            f.successes.to_string(),
            format!("{:.3}–{:.3}", f.lower, f.upper),
            f.stage.name().into(),
            f.decided_by.clone(),
        ]);
    }
    println!("{t}");
    step(11, "Jira Service Management: agents, customers and requests");
    super::plan::print_checks(&r.jira_checks);
    super::plan::print_report(&r.jira_run);
    println!("\nverify the Jira plan:");
    super::plan::print_verification(&r.jira_verification);
    println!("\nthe state: {} (try `ferry plan list`, `ferry audit <PLAN>`, `ferry stages`)", home.display());
    println!("the staging site's data: {}", r.staging_db.display());
    Ok(ExitCode::Ok)
}
