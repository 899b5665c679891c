//! `ferry plan …` and `ferry staging serve`: the admin's migration commands.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, table, ExitCode};
use crate::migrate::report::PlanReport;
use crate::migrate::{Migrator, Progress};
use crate::plan::{status, Plan, SpacesScope, UsersScope};
use crate::staging::{self, Faults, PRODUCT_ACCESS_GROUP};
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum PlanCommand {
    /// Create a migration plan (immutable once created); --run runs it at once.
    Create(CreateArgs),
    /// Run a saved plan.
    Run {
        /// Plan id (a unique prefix is enough).
        id: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List plans with their status.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a plan and its report: counts server vs cloud, failures, Former User,
    /// dropped permissions, groups awaiting review.
    Show {
        /// Plan id.
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The spaces of a Server site with their status for a destination: MIGRATED (already
    /// there) or QUEUED (in a saved plan not yet run).
    Spaces {
        /// The Server database.
        #[arg(long)]
        source: String,
        /// The Cloud site's base URL.
        #[arg(long)]
        destination: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a running plan: the step in progress finishes, then it stops. A stopped plan
    /// is not resumed; a new plan links what already migrated.
    Stop {
        /// Plan id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The plan's name.
    #[arg(long)]
    name: String,
    /// The Server database: a SQLite file or a postgres:// URL.
    #[arg(long)]
    source: String,
    /// The Server's attachment folder (<confluence-home>/attachments).
    #[arg(long)]
    attachments: PathBuf,
    /// The Cloud site's base URL.
    #[arg(long)]
    destination: String,
    /// The SCIM base URL, when it is not <destination>/scim/v2.
    #[arg(long)]
    scim_url: Option<String>,
    /// The environment variable that holds the destination's API token (the token itself
    /// is never stored or printed).
    #[arg(long)]
    token_env: String,
    /// Users and groups: all, related (to the selected spaces; name and email only), none.
    #[arg(long, default_value = "all")]
    users: UsersScope,
    /// Spaces: all, none, or KEY,KEY.
    #[arg(long, default_value = "all")]
    spaces: SpacesScope,
    /// Only the attachments of the chosen spaces (to shorten the later downtime).
    #[arg(long)]
    attachments_only: bool,
    /// The destination's product-access group.
    #[arg(long, default_value = PRODUCT_ACCESS_GROUP)]
    product_group: String,
    /// Run the plan right away.
    #[arg(long)]
    run: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StagingCommand {
    /// Serve a staging Cloud site (the whole destination API, persisted in --db) until
    /// interrupted.
    Serve {
        /// Its database file.
        #[arg(long)]
        db: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// The bearer token clients must send.
        #[arg(long, env = "FERRY_STAGING_TOKEN", hide_env_values = true)]
        token: String,
        /// Answer every Nth request with 429 (0: never).
        #[arg(long, default_value_t = 0)]
        throttle_every: u64,
        /// Retry-After seconds sent with a 429.
        #[arg(long, default_value_t = 1)]
        retry_after: u64,
        /// Answer this fraction of requests with 500.
        #[arg(long, default_value_t = 0.0)]
        fail_rate: f64,
    },
}

pub(crate) async fn run(home: &Path, command: PlanCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        PlanCommand::Create(args) => {
            anyhow::ensure!(
                !args.attachments_only || args.spaces != SpacesScope::None,
                "--attachments-only needs spaces: choose them with --spaces"
            );
            let plan = Plan::create(
                &db,
                Plan {
                    id: String::new(),
                    name: args.name,
                    source: args.source,
                    attachments: args.attachments.display().to_string(),
                    destination: args.destination,
                    scim_url: args.scim_url,
                    token_env: args.token_env,
                    users: args.users,
                    spaces: args.spaces,
                    attachments_only: args.attachments_only,
                    product_group: args.product_group,
                    status: String::new(),
                    created_at: String::new(),
                },
            )
            .await?;
            if args.run {
                return run_plan(&db, plan, args.json).await;
            }
            if args.json {
                print_json(&plan)?;
            } else {
                println!("saved plan {} ({}): run it with `ferry plan run {}`", plan.id, plan.name, plan.id);
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Run { id, json } => {
            let plan = Plan::get(&db, &id).await?;
            run_plan(&db, plan, json).await
        }
        PlanCommand::List { json } => {
            let plans = Plan::list(&db).await?;
            if json {
                print_json(&plans)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["id", "name", "status", "destination", "users", "spaces", "created"]);
            for p in plans {
                let spaces = if p.attachments_only { format!("{} (attachments only)", p.spaces) } else { p.spaces.to_string() };
                t.add_row(vec![p.id, p.name, p.status, p.destination, p.users.to_string(), spaces, p.created_at]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
        PlanCommand::Show { id, json } => {
            let plan = Plan::get(&db, &id).await?;
            let report = Plan::report(&db, &plan.id).await?;
            if json {
                match report {
                    Some(r) => print_json(&r)?,
                    None => print_json(&serde_json::json!({"id": plan.id, "name": plan.name, "status": plan.status}))?,
                }
            } else {
                println!("plan {} ({}): {}  →  {}", plan.id, plan.name, plan.status, plan.destination);
                match report {
                    Some(r) => print_report(&r),
                    None => println!("not run yet"),
                }
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Spaces { source, destination, json } => {
            let spaces = crate::source::Source::connect(&source).await?.spaces().await?;
            let choices = crate::plan::space_choices(&db, spaces, &destination).await?;
            if json {
                print_json(&choices)?;
            } else {
                let mut t = table(&["key", "name", "status"]);
                for c in choices {
                    t.add_row(vec![c.key, c.name, c.status]);
                }
                println!("{t}");
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Stop { id } => {
            let plan = Plan::get(&db, &id).await?;
            anyhow::ensure!(
                Plan::transition(&db, &plan.id, status::RUNNING, status::STOPPED).await?,
                "plan {} is {}, not running",
                plan.id,
                plan.status
            );
            println!("plan {} will stop when its current step ends", plan.id);
            Ok(ExitCode::Ok)
        }
    }
}

async fn run_plan(db: &StateDb, plan: Plan, json: bool) -> anyhow::Result<ExitCode> {
    let progress = if json { Progress::hidden() } else { Progress::terminal() };
    let report = Migrator::new(db.clone(), plan, progress).await?.run().await?;
    if json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.status == status::FINISHED { ExitCode::Ok } else { ExitCode::NotComplete })
}

/// The report for humans.
pub(crate) fn print_report(r: &PlanReport) {
    println!("status: {}", r.status);
    if let Some(e) = &r.error {
        println!("stopped by: {e}");
    }
    let mut t = table(&["kind", "server", "cloud", "failed"]);
    for kind in crate::migrate::report::KINDS {
        let c = r.counts.get(kind).copied().unwrap_or_default();
        t.add_row(vec![kind.to_string(), c.server.to_string(), c.cloud.to_string(), c.failed.to_string()]);
    }
    println!("{t}");
    println!("content attributed to Former User: {}", r.former_user);
    println!("accounts linked to existing cloud accounts: {}", r.linked_users);
    if !r.groups_awaiting_review.is_empty() {
        println!("groups awaiting your permission review: {}", r.groups_awaiting_review.join(", "));
    }
    if !r.merged_groups.is_empty() {
        println!("merged into existing cloud groups (members inherit their permissions): {}", r.merged_groups.join(", "));
    }
    if !r.skipped_groups.is_empty() {
        println!("blocklisted groups skipped (members migrated): {}", r.skipped_groups.join(", "));
    }
    if !r.shadowed_users.is_empty() {
        println!("shadowed users (a user of the same name in an earlier directory wins): {}", r.shadowed_users.len());
    }
    if r.dropped_attachments > 0 {
        println!("attachment links dropped (deleted on the server since): {}", r.dropped_attachments);
    }
    for d in &r.dropped_permissions {
        println!("dropped permission: {} {} of {} — {}", d.space, d.permission, d.subject, d.reason);
    }
    const SHOWN: usize = 40;
    for f in r.failures.iter().take(SHOWN) {
        println!("failed {} {}: {}", f.kind, f.server_id, f.reason);
    }
    if r.failures.len() > SHOWN {
        println!("… and {} more failures (`ferry plan show {} --json` lists all)", r.failures.len() - SHOWN, r.id);
    }
}

pub(crate) async fn staging(command: StagingCommand) -> anyhow::Result<ExitCode> {
    match command {
        StagingCommand::Serve { db, listen, token, throttle_every, retry_after, fail_rate } => {
            let faults = Faults { throttle_every, retry_after_secs: retry_after, fail_rate };
            let site = staging::start(&db, &listen, &token, faults).await?;
            println!("staging Cloud site on {} (data in {}); Ctrl-C to stop", site.url(), db.display());
            tokio::signal::ctrl_c().await?;
            Ok(ExitCode::Ok)
        }
    }
}
