//! `ferry apps …`: assess the Server site's apps, decide about each, check that
//! preparation is done, and re-run an app migration of a plan.

use std::path::Path;

use clap::Subcommand;

use super::{print_json, shown, table, ExitCode, SourceArgs};
use crate::assess::{self, Decision};
use crate::plugins::limits::Limits;
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// List the user-installed apps of a Server site (from plugindata and each JAR's
    /// atlassian-plugin.xml), without assessing them.
    List {
        #[command(flatten)]
        source: SourceArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assess the Server site's apps: for each, its migration path (automated when an
    /// installed plugin reads this Server version, manual when a plugin exists for other
    /// versions or you marked it so, none otherwise), its Stage, and your decision.
    ///
    /// The assessment is kept: consent, `apps done` and plans use it.
    Assess {
        #[command(flatten)]
        source: SourceArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide about an app: needed (its data migrates), not-needed, or alternative
    /// (replaced by another cloud app). Changeable at any time.
    Decide {
        /// The app key.
        app_key: String,
        /// needed, not-needed or alternative.
        decision: Decision,
    },
    /// Mark an app's migration path manual (you will move its data by hand), or undo it.
    MarkManual {
        /// The app key.
        app_key: String,
        /// Undo the mark.
        #[arg(long)]
        undo: bool,
    },
    /// Confirm that a cloud app is installed on a connected Cloud site. No public API
    /// lists a site's apps to its admin, so you install each needed app's cloud app
    /// there (Apps → Find new apps) and confirm it here; `apps done` and the checks read
    /// the confirmation.
    Installed {
        /// The cloud app's key (as `apps done` names it, e.g. com.example.page-ratings.cloud).
        cloud_app_key: String,
        /// The connected Cloud site (default: the only one).
        #[arg(long)]
        cloud: Option<String>,
        /// Withdraw the confirmation (the app was uninstalled).
        #[arg(long)]
        undo: bool,
    },
    /// Check that preparation is done: every app decided, every needed app installed in
    /// the cloud, and every needed app with an automated path consented to. Names each
    /// missing item; exits 5 until nothing is missing.
    Done {
        /// The connected cloud site to check (default: the only one).
        #[arg(long)]
        cloud: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-run a failed, incomplete or timed-out app migration of a plan, with a new
    /// transfer id that names the first one. Needs current consent.
    Rerun {
        /// The plan id.
        plan_id: String,
        /// The app key.
        app_key: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(home: &Path, command: AppsCommand) -> anyhow::Result<ExitCode> {
    if let AppsCommand::List { source, json } = &command {
        return list(source, *json).await;
    }
    let db = StateDb::open(home).await?;
    match command {
        AppsCommand::List { .. } => unreachable!("handled above"),
        AppsCommand::Assess { source, json } => {
            let connected = source.connect().await?;
            let apps = assess::read_server_apps(&db, &connected).await?;
            // The site is one the dashboard may now offer.
            crate::sites::identify(&db, &connected, source.source_password_env.as_deref()).await?;
            let assessed = assess::assess(&db, &apps).await?;
            if json {
                print_json(&assessed)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["app key", "name", "version", "vendor", "enabled", "path", "plugin signed by", "stage", "decision"]);
            for a in &assessed {
                let stage = a.stage_figures.as_ref().map(|f| f.summary()).unwrap_or_else(|| "-".into());
                let mut row = app_cells(&a.key, &a.name, &a.version, &a.vendor, a.enabled);
                let signer = a.plugin_signer.as_deref().map(shown).unwrap_or_else(|| "-".into());
                row.extend([format!("{}\n{}", a.path.name(), shown(&a.path_reason)), signer, stage, a.decision.name().into()]);
                t.add_row(row);
            }
            println!("{t}");
            let open = assessed.iter().filter(|a| a.decision == Decision::NotAssessed).count();
            if open > 0 {
                println!("{open} apps not assessed yet: `ferry apps decide APP needed|not-needed|alternative`");
            }
            Ok(ExitCode::Ok)
        }
        AppsCommand::Decide { app_key, decision } => {
            assess::decide(&db, &app_key, decision).await?;
            println!("{} is {}", shown(&app_key), decision.name());
            Ok(ExitCode::Ok)
        }
        AppsCommand::Installed { cloud_app_key, cloud, undo } => {
            let site = crate::cloud::get_or_only(&db, cloud.as_deref()).await?;
            if undo {
                let was = crate::cloud::unconfirm_app(&db, &site.target.url, &cloud_app_key).await?;
                println!("{} {} on {} ({})", shown(&cloud_app_key), if was { "no longer confirmed" } else { "was not confirmed" }, site.target.url, site.name);
            } else {
                crate::cloud::confirm_app(&db, &site.target.url, &cloud_app_key).await?;
                println!("{} confirmed installed on {} ({}) by you", shown(&cloud_app_key), site.target.url, site.name);
            }
            Ok(ExitCode::Ok)
        }
        AppsCommand::MarkManual { app_key, undo } => {
            assess::mark_manual(&db, &app_key, !undo).await?;
            println!("{} migration path: {}", shown(&app_key), if undo { "as the plugins say" } else { "manual" });
            Ok(ExitCode::Ok)
        }
        AppsCommand::Done { cloud, json } => {
            let missing = crate::prepare::missing_items(&db, cloud.as_deref()).await?;
            if json {
                print_json(&serde_json::json!({ "done": missing.is_empty(), "missing": missing }))?;
            } else if missing.is_empty() {
                println!("apps are ready: every app has a decision, and every needed app is installed in the cloud and consented to");
            } else {
                println!("not done yet:");
                for m in &missing {
                    println!("  {}: {}", shown(&m.app), shown(&m.missing));
                }
            }
            Ok(if missing.is_empty() { ExitCode::Ok } else { ExitCode::NotReady })
        }
        AppsCommand::Rerun { plan_id, app_key, json } => {
            let outcome = crate::migrate::apps::rerun(&db, &plan_id, &app_key, Limits::default()).await?;
            if json {
                print_json(&outcome)?;
            } else {
                println!(
                    "{} {}: {}{} (transfer {}, re-run of {})",
                    shown(&outcome.app),
                    outcome.version,
                    outcome.status,
                    outcome.message.as_deref().map(|m| format!(" — {}", shown(m))).unwrap_or_default(),
                    outcome.transfer_id.as_deref().unwrap_or("-"),
                    outcome.original_transfer_id.as_deref().unwrap_or("-"),
                );
            }
            Ok(if outcome.status == crate::migrate::apps::status::COMPLETE { ExitCode::Ok } else { ExitCode::NotComplete })
        }
    }
}

async fn list(source: &SourceArgs, json: bool) -> anyhow::Result<ExitCode> {
    let apps = source.connect().await?.installed_apps().await?;
    if json {
        print_json(&apps)?;
    } else {
        let mut t = table(&["app key", "name", "version", "vendor", "enabled", "jar", "problem"]);
        for a in apps {
            let mut row = app_cells(&a.key, &a.name, &a.version, &a.vendor, a.enabled);
            row.extend([shown(&a.file_name), shown(&a.problem.unwrap_or_default())]);
            t.add_row(row);
        }
        println!("{t}");
    }
    Ok(ExitCode::Ok)
}

/// The cells every app table starts with: key, name, version, vendor (as the Server site
/// reports them, made terminal-safe) and whether it is enabled.
fn app_cells(key: &str, name: &str, version: &str, vendor: &str, enabled: bool) -> Vec<String> {
    vec![shown(key), shown(name), shown(version), shown(vendor), (if enabled { "yes" } else { "no" }).to_string()]
}
