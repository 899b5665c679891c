//! `ferry plan …` and `ferry staging serve`: the admin's migration commands.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, shown, table, ExitCode, SourceArgs};
use crate::migrate::report::PlanReport;
use crate::migrate::{Migrator, Progress, Stage1Choice};
use crate::plan::{status, AppsScope, HistoryScope, Plan, SpacesScope, UsersScope};
use crate::staging::{self, Faults};
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum PlanCommand {
    /// Create a migration plan (immutable once created); --run runs it at once.
    Create(Box<CreateArgs>),
    /// Run a saved plan: the pre-migration checks first (any error refuses the run,
    /// exit 5, and the plan stays saved), then users, groups, spaces and content, then
    /// the plan's apps. A plan with Stage 1 apps needs --stage1.
    Run {
        /// Plan id (a unique prefix is enough).
        id: String,
        /// For Stage 1 apps in the plan: proceed (migrate them) or remove (leave them out).
        #[arg(long)]
        stage1: Option<Stage1Choice>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the pre-migration checks of a plan: each gives pass, warning or error, names
    /// what it found and how to fix it. Exits 5 when any check is an error.
    Check {
        /// Plan id.
        id: String,
        /// Print as JSON.
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
        #[command(flatten)]
        source: SourceArgs,
        /// The Cloud site's base URL.
        #[arg(long)]
        destination: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The projects of a Jira Server site: which are service projects (what a Jira plan
    /// migrates), their requests, and their status for a destination: MIGRATED or QUEUED.
    Projects {
        #[command(flatten)]
        source: SourceArgs,
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
    #[command(flatten)]
    source: SourceArgs,
    /// What the source is: confluence (spaces, pages, attachments) or jira (Jira Service
    /// Management: agents, customers, organizations, service projects and requests).
    #[arg(long, default_value = "confluence")]
    product: crate::source::Product,
    /// The Server's attachment folder (<confluence-home>/attachments); Confluence only.
    #[arg(long)]
    attachments: Option<PathBuf>,
    /// A connected Cloud site (`ferry cloud connect`), instead of --destination and its
    /// sign-in options.
    #[arg(long, conflicts_with_all = ["destination", "email", "token_env", "scim_url", "scim_token_env"], required_unless_present = "destination")]
    cloud: Option<String>,
    /// The Cloud site's base URL (https://SITE.atlassian.net).
    #[arg(long, requires_all = ["email", "token_env"])]
    destination: Option<String>,
    /// The site admin's email: Ferry signs in with it and the API token (HTTP Basic).
    #[arg(long)]
    email: Option<String>,
    /// The environment variable that holds the admin's API token (the token itself is
    /// never stored or printed).
    #[arg(long)]
    token_env: Option<String>,
    /// The organisation's user-provisioning directory
    /// (https://api.atlassian.com/scim/directory/DIRECTORY_ID); without one, users are
    /// linked to accounts the organisation has (see `ferry cloud connect --accounts-csv`).
    #[arg(long, requires = "scim_token_env")]
    scim_url: Option<String>,
    /// The environment variable that holds the directory's API key.
    #[arg(long, requires = "scim_url")]
    scim_token_env: Option<String>,
    /// Users and groups: all, related (to the selected spaces or service projects; name
    /// and email only), none. In a Jira plan these are the licensed users (agents and
    /// admins); customers are chosen with --customers.
    #[arg(long, default_value = "all")]
    users: UsersScope,
    /// Spaces: all, none, or KEY,KEY (default all; none in a Jira plan).
    #[arg(long)]
    spaces: Option<SpacesScope>,
    /// Jira: the service projects whose requests migrate: all, none, or KEY,KEY (default
    /// all).
    #[arg(long)]
    projects: Option<SpacesScope>,
    /// Jira: customers (portal-only users): all, related (reporters, participants and
    /// commenters of the selected service projects' requests, and members of their
    /// organizations), or none (only when no service project is selected). `all` with
    /// --projects none migrates customers in advance. Default: related.
    #[arg(long)]
    customers: Option<UsersScope>,
    /// Only the attachments of the chosen spaces (to shorten the later downtime).
    #[arg(long)]
    attachments_only: bool,
    /// Page history: all (every version of each page and blog post, oldest first, with
    /// its author, date and version comment) or current (the current version only).
    #[arg(long, default_value = "all")]
    history: HistoryScope,
    /// The destination's product-access group (default confluence-users, or
    /// jira-servicedesk-users in a Jira plan).
    #[arg(long)]
    product_group: Option<String>,
    /// Apps: needed (every app decided needed with an automated path; their plugin
    /// versions are fixed now) or none.
    #[arg(long, default_value = "needed")]
    apps: AppsScope,
    /// The time each app migration may take (e.g. 30m, 1h).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    app_deadline: std::time::Duration,
    /// The time each app's cloud half may take to settle its transfer after the last
    /// upload (e.g. 30m, 1h); past it the app is timed-out.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    app_settle_within: std::time::Duration,
    /// Email domains you trust (comma-separated); users of other domains are a warning.
    #[arg(long, value_delimiter = ',')]
    trusted_domains: Vec<String>,
    /// Run the plan right away (checks first).
    #[arg(long)]
    run: bool,
    /// With --run: the Stage 1 choice (proceed or remove).
    #[arg(long, requires = "run")]
    stage1: Option<Stage1Choice>,
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
        /// The site admin's email: clients sign in with it and the token (HTTP Basic).
        #[arg(long, default_value = staging::DEFAULT_ADMIN_EMAIL)]
        email: String,
        /// The admin's API token (also taken as a scoped token through the gateway paths
        /// /ex/{confluence|jira}/{cloudId}/…).
        #[arg(long, env = "FERRY_STAGING_TOKEN", hide_env_values = true)]
        token: String,
        /// The user-provisioning directory's API key (SCIM at the printed directory URL);
        /// default: the token followed by `.scim`.
        #[arg(long, env = "FERRY_STAGING_SCIM_KEY", hide_env_values = true)]
        scim_key: Option<String>,
        /// The directory's id in its SCIM URL (/scim/directory/ID); default: one derived
        /// from the site's cloud id.
        #[arg(long)]
        directory_id: Option<String>,
        /// Journal every request the site answers into FILE, one JSON line each, never a
        /// credential (`scripts/conformance.py` checks a journal against Atlassian's API
        /// documents).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
        /// A request budget as a real site has: at most N requests per second (e.g.
        /// 100/s), past it 429 with Retry-After and X-RateLimit-* headers.
        #[arg(long, value_parser = per_second)]
        rate_limit: Option<f64>,
        /// Add this much to every answer, as a site across the internet takes (e.g. 40ms).
        #[arg(long, value_parser = humantime::parse_duration)]
        latency: Option<std::time::Duration>,
        /// Answer every Nth request with 429 (0: never).
        #[arg(long, default_value_t = 0)]
        throttle_every: u64,
        /// Retry-After seconds sent with a 429.
        #[arg(long, default_value_t = 1)]
        retry_after: u64,
        /// Answer this fraction of requests with 500.
        #[arg(long, default_value_t = 0.0)]
        fail_rate: f64,
        /// Install this cloud app on the site (repeatable); an admin can also
        /// PUT /ferry/v1/admin/cloud-apps/{key}.
        #[arg(long = "cloud-app")]
        cloud_apps: Vec<String>,
        /// The migration secret the stand-in cloud apps issued (each installed app
        /// receives its data at <site>/apps/<CLOUD_APP_KEY>/ and takes transfers signed
        /// with it); default: the token followed by `.app`.
        #[arg(long, env = "FERRY_STAGING_APP_SECRET", hide_env_values = true)]
        app_secret: Option<String>,
        /// KEY=MODE: make the stand-in of cloud app KEY misbehave (repeatable):
        /// never-settles (takes the data and never settles), fails (settles every
        /// transfer failed) or slow (imports over a few seconds, then settles).
        #[arg(long = "cloud-app-fault", value_name = "KEY=MODE", value_parser = app_fault)]
        cloud_app_faults: Vec<(String, staging::apps::AppFault)>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The plan whose migration to verify (its id or name). The Cloud site's secrets are
    /// read from the variables its connection names, as for `plan run`.
    plan: String,
    /// Print the verification as JSON (`checked`, `differences`, `requests`,
    /// `not_compared`, `sample`).
    #[arg(long)]
    json: bool,
    /// Compare a sample of at most N entities of each kind (pages, blog posts, comments,
    /// attachments, users) instead of all: fewer requests on a large site.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// What chooses the sample: the same seed compares the same entities.
    #[arg(long, default_value_t = 1, requires = "sample")]
    seed: u64,
}

/// `ferry verify`: read back what the plan migrated and compare it with the server.
pub(crate) async fn verify(home: &Path, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    let plan = Plan::get(&db, &args.plan).await?;
    let progress = if args.json { Progress::hidden() } else { crate::terminal::progress() };
    let mut migrator = Migrator::new(db.clone(), plan, progress).await?;
    let sample = args.sample.map(|per_kind| crate::migrate::verify::Sample { per_kind, seed: args.seed });
    let verification = migrator.verify_sample(sample).await?;
    if args.json {
        print_json(&verification)?;
    } else {
        print_verification(&verification);
    }
    Ok(if verification.differences.is_empty() { ExitCode::Ok } else { ExitCode::Differences })
}

/// A verification for people: what was compared, each difference, what was not compared.
pub(crate) fn print_verification(verification: &crate::migrate::verify::Verification) {
    let checked: Vec<String> = verification.checked.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    let sampled = verification.sample.map(|s| format!(", a sample of at most {} of each kind chosen by seed {}", s.per_kind, s.seed)).unwrap_or_default();
    println!("compared {} with the server ({} requests to the cloud site, all reads{sampled})", checked.join(", "), verification.requests);
    if verification.differences.is_empty() {
        println!("no differences");
    } else {
        let mut t = table(&["kind", "server id", "title", "cloud id", "what differs", "likely wrong"]);
        for d in &verification.differences {
            t.add_row(vec![
                shown(&d.kind),
                shown(&d.server_id),
                shown(&d.title),
                shown(d.cloud_id.as_deref().unwrap_or("-")),
                shown(&d.what),
                shown(&d.likely),
            ]);
        }
        println!("{t}");
        println!("{} differences", verification.differences.len());
    }
    if !verification.not_compared.is_empty() {
        println!("not compared: {}", verification.not_compared.join(", "));
    }
}

pub(crate) async fn run(home: &Path, command: PlanCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        PlanCommand::Create(args) => {
            let shown_opt = |v: &Option<SpacesScope>| v.as_ref().map(ToString::to_string);
            let direct = crate::plan::DirectTarget {
                target: args.destination.clone().map(|url| crate::cloud::Target {
                    url,
                    email: args.email.clone(),
                    cloud_id: None,
                    gateway_url: None,
                    token_env: args.token_env.clone().unwrap_or_default(),
                    scim_url: args.scim_url.clone(),
                    scim_token_env: args.scim_token_env.clone(),
                    apps: Default::default(),
                }),
                source_password_env: args.source.source_password_env.clone(),
            };
            let request = crate::plan::PlanRequest {
                name: args.name.clone(),
                source: args.source.source.clone(),
                product: Some(args.product.to_string()),
                attachments: args.attachments.as_ref().map(|p| p.display().to_string()),
                cloud: args.cloud.clone(),
                users: Some(args.users.to_string()),
                spaces: shown_opt(&args.spaces),
                projects: shown_opt(&args.projects),
                customers: args.customers.map(|c| c.to_string()),
                attachments_only: args.attachments_only,
                history: Some(args.history.to_string()),
                product_group: args.product_group.clone(),
                apps: Some(args.apps.to_string()),
                app_deadline_secs: Some(args.app_deadline.as_secs()),
                app_settle_secs: Some(args.app_settle_within.as_secs()),
                trusted_domains: args.trusted_domains.clone(),
            };
            let plan = Plan::create(&db, request.into_plan(&db, direct).await?).await?;
            if args.run {
                return run_plan(&db, plan, args.stage1, args.json).await;
            }
            if args.json {
                print_json(&plan)?;
            } else {
                println!(
                    "saved plan {} ({}): check it with `ferry plan check {}`, run it with `ferry plan run {}`",
                    plan.id,
                    shown(&plan.name),
                    plan.id,
                    plan.id
                );
                for app in &plan.plan_apps {
                    println!("  app {} with plugin {} (sha256 {})", shown(&app.app), app.version, &app.sha256[..12]);
                }
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Run { id, stage1, json } => {
            let plan = Plan::get(&db, &id).await?;
            run_plan(&db, plan, stage1, json).await
        }
        PlanCommand::Check { id, json } => {
            let plan = Plan::get(&db, &id).await?;
            let mut migrator = Migrator::new(db.clone(), plan, Progress::hidden()).await?;
            let checks = migrator.checks().await?;
            if json {
                print_json(&checks)?;
            } else {
                print_checks(&checks);
            }
            Ok(if crate::checks::has_errors(&checks) { ExitCode::NotReady } else { ExitCode::Ok })
        }
        PlanCommand::List { json } => {
            if json {
                print_json(&crate::migrate::standing::listing(&db).await?)?;
                return Ok(ExitCode::Ok);
            }
            crate::plan::liveness::reap_dead_runs(&db).await?;
            let plans = Plan::list(&db).await?;
            let mut t = table(&["id", "name", "status", "destination", "users", "spaces or projects", "apps", "progress", "created"]);
            for p in plans {
                let spaces = if p.product == crate::source::Product::Jira {
                    format!("jira projects {}\ncustomers {}", p.projects, p.customers)
                } else if p.attachments_only {
                    format!("{} (attachments only)", p.spaces)
                } else {
                    p.spaces.to_string()
                };
                let apps = if p.plan_apps.is_empty() { p.apps.to_string() } else { p.plan_apps.iter().map(|a| shown(&a.app)).collect::<Vec<_>>().join("\n") };
                let progress = progress_lines(&db, &p).await?;
                t.add_row(vec![p.id, shown(&p.name), p.status, p.destination, p.users.to_string(), spaces, apps, progress, p.created_at]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
        PlanCommand::Show { id, json } => {
            let plan = crate::migrate::standing::current(&db, &id).await?;
            if json {
                print_json(&crate::migrate::standing::report_json(&db, &plan).await?)?;
                return Ok(ExitCode::Ok);
            }
            println!("plan {} ({}): {}  →  {}", plan.id, shown(&plan.name), plan.status, plan.destination);
            match crate::migrate::standing::live_report(&db, &plan).await? {
                (Some(report), _) => print_report(&report),
                (None, apps) => {
                    println!("not run yet");
                    print_apps(&apps);
                }
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Spaces { source, destination, json } => {
            let source = source.connect().await?;
            let choices = crate::plan::space_choices(&db, &source, &destination).await?;
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
        PlanCommand::Projects { source, destination, json } => {
            let source = crate::source::Source::open_product(&source.source, source.source_password_env.as_deref(), crate::source::Product::Jira).await?;
            let choices = crate::plan::project_choices(&db, &source, &destination).await?;
            if json {
                print_json(&choices)?;
            } else {
                let mut t = table(&["key", "name", "type", "service project", "requests", "status"]);
                for c in choices {
                    t.add_row(vec![
                        c.key,
                        c.name,
                        c.kind,
                        c.not_migrated.clone().map(|why| format!("no: {why}")).unwrap_or_else(|| "yes".into()),
                        c.requests.to_string(),
                        c.status,
                    ]);
                }
                println!("{t}");
            }
            Ok(ExitCode::Ok)
        }
        PlanCommand::Stop { id } => {
            let plan = crate::plan::stop(&db, &id).await?;
            println!("plan {} will stop when its current step ends", plan.id);
            Ok(ExitCode::Ok)
        }
    }
}

async fn run_plan(db: &StateDb, plan: Plan, stage1: Option<Stage1Choice>, json: bool) -> anyhow::Result<ExitCode> {
    let progress = if json { Progress::hidden() } else { crate::terminal::progress() };
    let migrator = Migrator::new(db.clone(), plan, progress).await?;
    let report = match crate::plan::runner::run_checked(migrator, stage1).await {
        Ok(report) => report,
        Err(e) => {
            if let Some(crate::plan::runner::RunRefused::Checks(checks)) = e.downcast_ref() {
                if json {
                    print_json(&serde_json::json!({"refused": e.to_string(), "checks": checks}))?;
                } else {
                    print_checks(checks);
                }
            }
            return Err(e);
        }
    };
    if json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    let apps_complete = report.apps.iter().all(|a| a.status == crate::migrate::apps::status::COMPLETE);
    Ok(if report.status == status::FINISHED && apps_complete { ExitCode::Ok } else { ExitCode::NotComplete })
}

/// The checks for humans: errors first, then warnings, then what passed.
pub(crate) fn print_checks(checks: &[crate::checks::Check]) {
    let mut sorted: Vec<&crate::checks::Check> = checks.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse(c.result));
    let mut t = table(&["result", "check", "found", "fix"]);
    for c in sorted {
        let mut found = shown(&c.message);
        for e in &c.entities {
            found.push_str(&format!("\n  {}", shown(e)));
        }
        if c.count > c.entities.len() {
            found.push_str(&format!("\n  … and {} more", c.count - c.entities.len()));
        }
        t.add_row(vec![c.result.name().to_uppercase(), c.code.clone(), found, c.fix.clone()]);
    }
    println!("{t}");
    let errors = checks.iter().filter(|c| c.result == crate::checks::CheckResult::Error).count();
    let warnings = checks.iter().filter(|c| c.result == crate::checks::CheckResult::Warning).count();
    println!("{errors} errors, {warnings} warnings, {} passed", checks.len() - errors - warnings);
}

/// Per-step progress of a plan in the order its steps run, the run as a whole, and each
/// app's status.
async fn progress_lines(db: &StateDb, plan: &Plan) -> anyhow::Result<String> {
    let listing = crate::migrate::standing::listing_of(db, plan.clone()).await?;
    let running = plan.status == crate::plan::status::RUNNING;
    let mut lines = Vec::new();
    for (step, p) in crate::migrate::standing::in_run_order(&listing.progress) {
        if step.starts_with("app:") {
            continue;
        }
        lines.push(match (p.started_at.is_some(), p.total) {
            (false, total) if running => format!("{step} waiting ({total})"),
            (_, 0) => format!("{step} {}", p.done),
            (_, total) => format!("{step} {}/{total} ({} %)", p.done, p.done.min(total) * 100 / total),
        });
    }
    let o = &listing.overall;
    if o.elapsed_secs > 0 {
        let mut line = format!("{} % in {}", o.percent, crate::migrate::standing::duration(o.elapsed_secs));
        if let Some(left) = o.remaining_secs {
            line.push_str(&format!(", about {} left", crate::migrate::standing::duration(left)));
        }
        lines.push(line);
    }
    if let Some(wait) = o.waiting_for_rate_limit_secs {
        lines.push(format!("waiting {wait} s for the site's rate limit"));
    }
    if o.throttled > 0 {
        lines.push(format!("{} requests throttled", o.throttled));
    }
    for app in crate::migrate::apps::app_statuses(db, plan).await? {
        let percent = listing.progress.get(&format!("app:{}", app.app)).map(|p| p.done).unwrap_or(u64::from(app.progress_percent));
        let shown_status = if app.status == "running" { format!("running {percent}%") } else { app.status.clone() };
        lines.push(format!("{} {shown_status}", shown(&app.app)));
    }
    Ok(lines.join("\n"))
}

fn print_apps(apps: &[crate::migrate::apps::AppOutcome]) {
    if apps.is_empty() {
        return;
    }
    let mut t = table(&["app", "plugin", "status", "rows read per scope", "denied", "sent to", "transfer", "why"]);
    for a in apps {
        let sent_to = match &a.endpoint {
            Some(endpoint) => format!(
                "{}{}\n{} uploads, {} B\nplugin: {}\ncloud app: {}",
                ferry_manifest::shown_origin(endpoint),
                if a.endpoint_overridden { " (admin's override)" } else { "" },
                a.uploads,
                a.uploaded_bytes,
                a.plugin_status.as_deref().unwrap_or("-"),
                a.settlement.as_ref().map_or("not settled", |s| s.status.as_str())
            ),
            None => format!("{} B", a.uploaded_bytes),
        };
        let rows: Vec<String> = a.rows_per_scope.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        let transfer = match (&a.transfer_id, &a.original_transfer_id) {
            (Some(t), Some(o)) => format!("{}\n(re-run of {})", &t[..12.min(t.len())], &o[..12.min(o.len())]),
            (Some(t), None) => t[..12.min(t.len())].to_string(),
            _ => "-".into(),
        };
        t.add_row(vec![
            shown(&a.app),
            a.version.clone(),
            a.status.clone(),
            rows.join("\n"),
            a.denied.to_string(),
            sent_to,
            transfer,
            shown(a.message.as_deref().unwrap_or_default()),
        ]);
    }
    println!("apps:\n{t}");
}

/// The Service Management part of a Jira plan's report.
fn print_jira_report(r: &PlanReport) {
    let references: u64 = r.former_customer.iter().map(|f| f.references).sum();
    println!(
        "references to people with no cloud account: {references} (of {} people; the migrating account stands in, each origin names them)",
        r.former_customer.len()
    );
    for f in &r.former_customer {
        let more = if f.references as usize > f.referenced_in.len() { format!(", … ({} in all)", f.references) } else { String::new() };
        println!("  {}: {} — in {}{more}", shown(&f.user_key), shown(&f.reason), shown(&f.referenced_in.join(", ")));
    }
    println!("portal-only customers linked to full cloud accounts (they stay full): {}", r.customers_with_full_accounts);
    if !r.request_keys.is_empty() {
        let moved = r.request_keys.iter().filter(|(server, cloud)| server != cloud).count();
        println!("requests with a new key in the cloud: {moved} of {} (the report's request_keys maps each; `--json` lists them)", r.request_keys.len());
    }
    for s in &r.statuses_not_set {
        println!("  {} stays at {:?}: the cloud workflow has no transition to {:?}", shown(&s.request), shown(&s.left_at), shown(&s.server_status));
    }
    if !r.two_accounts.is_empty() {
        println!("people who now have two cloud accounts (a full one for the migrated data, and their customer one):");
        for t in &r.two_accounts {
            println!(
                "  {} ({}, {}): full {}, customer {}",
                shown(&t.display_name),
                shown(&t.username),
                shown(&t.email),
                shown(&t.full_account),
                shown(&t.customer_account)
            );
        }
    }
}

/// The report for humans.
pub(crate) fn print_report(r: &PlanReport) {
    println!("status: {}", r.status);
    if let Some(e) = &r.error {
        println!("stopped by: {}", shown(e));
    }
    let mut t = table(&["kind", "server", "cloud", "failed"]);
    for kind in r.kinds() {
        let c = r.counts.get(*kind).copied().unwrap_or_default();
        t.add_row(vec![kind.to_string(), c.server.to_string(), c.cloud.to_string(), c.failed.to_string()]);
    }
    println!("{t}");
    if !r.history.is_empty() {
        println!("page history: {}", if r.history == "all" { "every version" } else { "current versions only" });
    }
    if r.product == "jira" {
        print_jira_report(r);
    } else {
        println!(
            "authored in the cloud by the migrating account: {} (original authors and dates in each one's ferry-origin; by former users: {})",
            r.authored_by_migrating_account, r.former_user
        );
    }
    if r.throttled_requests > 0 {
        println!("the Cloud site throttled {} requests (429); every request waited the pause it asked for", r.throttled_requests);
    }
    println!("accounts linked to existing cloud accounts: {}", r.linked_users);
    if !r.users_without_account.is_empty() {
        println!(
            "in the directory, but it names no Atlassian account for them (their content goes to the migrating account): {}",
            shown(&r.users_without_account.join(", "))
        );
    }
    if !r.groups_awaiting_review.is_empty() {
        println!("groups awaiting your permission review: {}", shown(&r.groups_awaiting_review.join(", ")));
    }
    if !r.merged_groups.is_empty() {
        println!("merged into existing cloud groups (members inherit their permissions): {}", shown(&r.merged_groups.join(", ")));
    }
    if !r.skipped_groups.is_empty() {
        println!("blocklisted groups skipped (members migrated): {}", shown(&r.skipped_groups.join(", ")));
    }
    if !r.shadowed_users.is_empty() {
        println!("shadowed users (a user of the same name in an earlier directory wins): {}", r.shadowed_users.len());
    }
    if r.dropped_attachments > 0 {
        println!("attachment links dropped (deleted on the server since): {}", r.dropped_attachments);
    }
    for d in &r.dropped_permissions {
        println!("dropped permission: {} {} of {} — {}", shown(&d.space), shown(&d.permission), shown(&d.subject), shown(&d.reason));
    }
    const REFERENCES_SHOWN: usize = 20;
    for u in r.unresolved_references.iter().take(REFERENCES_SHOWN) {
        let (kept, what) =
            if u.reference.is_empty() { ("body kept unchanged", String::new()) } else { ("reference kept", format!(" {}", shown(&u.reference))) };
        println!("{kept} in \"{}\" ({}){what}: {}", shown(&u.title), u.content_id, shown(&u.reason));
    }
    if r.unresolved_references.len() > REFERENCES_SHOWN {
        println!("… and {} more references kept (`--json` lists all)", r.unresolved_references.len() - REFERENCES_SHOWN);
    }
    if r.earlier_bodies_fixed > 0 {
        println!("bodies of earlier plans whose references this plan resolved: {}", r.earlier_bodies_fixed);
    }
    for d in &r.detached_inline_comments {
        println!(
            "inline comment {} on page {} became a footer comment: its highlighted text (\"{}\") is no longer in the page",
            d.comment_id,
            d.page_id,
            shown(&d.selection)
        );
    }
    for l in &r.restriction_losses {
        let now = l.fallback.as_ref().map(|f| format!("; nobody it named remains, so it allows {} only", shown(f))).unwrap_or_default();
        println!(
            "restriction narrowed: {} of \"{}\" ({}) lost {}, which is not in the cloud site{now}",
            l.kind,
            shown(&l.title),
            l.content_id,
            shown(&l.subject)
        );
    }
    for p in &r.projects_not_migrated {
        println!("project {} ({}, {} issues) not migrated: {}", shown(&p.key), shown(&p.name), p.issues, shown(&p.reason));
    }
    const SHOWN: usize = 40;
    for f in r.failures.iter().take(SHOWN) {
        println!("failed {} {}: {}", f.kind, shown(&f.server_id), shown(&f.reason));
    }
    if r.failures.len() > SHOWN {
        println!("… and {} more failures (`ferry plan show {} --json` lists all)", r.failures.len() - SHOWN, r.id);
    }
    let warnings: Vec<&str> = r.checks.iter().filter(|c| c.result == crate::checks::CheckResult::Warning).map(|c| c.code.as_str()).collect();
    if !warnings.is_empty() {
        println!("checks passed with warnings: {}", warnings.join(", "));
    }
    if let Some(choice) = r.stage1_choice {
        let verb = if choice == Stage1Choice::Remove { "removed from the plan" } else { "migrated (you chose to proceed)" };
        println!("Stage 1 apps {verb}: {}", shown(&r.stage1_apps.join(", ")));
    }
    if let Some(why) = &r.apps_not_started {
        println!("apps not started: {}", shown(why));
    }
    print_apps(&r.apps);
}

/// A rate such as `100/s` or `100` (requests per second).
pub(crate) fn per_second(text: &str) -> Result<f64, String> {
    let n = text.trim().strip_suffix("/s").unwrap_or(text.trim());
    match n.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!("{text:?} is not a rate: give requests per second, e.g. 100/s")),
    }
}

pub(crate) async fn staging(command: StagingCommand) -> anyhow::Result<ExitCode> {
    match command {
        StagingCommand::Serve {
            db,
            listen,
            email,
            token,
            scim_key,
            directory_id,
            journal,
            rate_limit,
            latency,
            throttle_every,
            retry_after,
            fail_rate,
            cloud_apps,
            app_secret,
            cloud_app_faults,
        } => {
            let faults = Faults {
                rate_limit: rate_limit.unwrap_or(0.0),
                latency: latency.unwrap_or_default(),
                throttle_every,
                retry_after_secs: retry_after,
                fail_rate,
                ..Faults::default()
            };
            staging::install_cloud_apps(&db, &cloud_apps).await?;
            let api_token_copy = token.clone();
            let access = staging::Access {
                directory_key: scim_key.unwrap_or_else(|| staging::Access::with_token(&token).directory_key),
                email,
                api_token: token,
                directory_id,
                admin: true,
                app_secret: app_secret.unwrap_or_else(|| staging::Access::with_token(&api_token_copy).app_secret),
                app_faults: cloud_app_faults.into_iter().collect(),
            };
            let site = staging::start_with_journal(&db, &listen, &access, faults, journal.as_deref()).await?;
            println!("staging Cloud site on {} (data in {}); Ctrl-C to stop", site.url(), db.display());
            println!("sign in as {} with the token; SCIM directory at {}; cloud id {}", access.email, site.scim_url(), site.cloud_id);
            if !cloud_apps.is_empty() {
                println!("stand-in cloud apps receive app data at {}/apps/<CLOUD_APP_KEY>/ (transfers signed with the app secret)", site.url());
            }
            tokio::signal::ctrl_c().await?;
            Ok(ExitCode::Ok)
        }
    }
}

/// `KEY=MODE` of `--cloud-app-fault`.
fn app_fault(text: &str) -> Result<(String, staging::apps::AppFault), String> {
    let (key, mode) = text.split_once('=').ok_or_else(|| format!("{text:?}: give KEY=MODE, e.g. com.example.page-ratings.cloud=fails"))?;
    Ok((key.trim().to_string(), mode.trim().parse()?))
}
