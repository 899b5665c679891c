//! `ferry stages` and `ferry audit`: the figures behind each plugin's Stage, and what
//! each app migration of a plan read.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, shown, table, ExitCode};
use crate::stages::{self, StageRule};
use crate::state::StateDb;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct StagesArgs {
    #[command(subcommand)]
    command: Option<StagesCommand>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum StagesCommand {
    /// Write every recorded app-migration outcome as JSON lines
    /// ({"app","version","transfer_id","status","finished_at"}), to pool them elsewhere.
    Export {
        /// The file to write (- for standard output).
        file: PathBuf,
    },
    /// Add outcomes from a file written by `stages export` (deduplicated by transfer id).
    Import {
        /// The file to read.
        file: PathBuf,
    },
    /// Show or change the Stage rule.
    Rule {
        /// Days of outcomes that count.
        #[arg(long)]
        window_days: Option<u32>,
        /// The success rate a plugin must demonstrably reach.
        #[arg(long)]
        threshold: Option<f64>,
        /// The confidence of the Wilson interval, e.g. 0.95.
        #[arg(long)]
        confidence: Option<f64>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// The plan id.
    plan_id: String,
    /// Only this app.
    #[arg(long)]
    app: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

fn rule_text(rule: &StageRule) -> String {
    rule.describe()
}

pub(crate) async fn stages(home: &Path, args: StagesArgs) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match args.command {
        None => {
            let figures = stages::all(&db).await?;
            if args.json {
                print_json(&figures)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["app", "version", "attempts", "successes", "rate", "interval", "stage", "decided by"]);
            for f in figures {
                t.add_row(vec![
                    shown(&f.app),
                    f.version.clone(),
                    f.attempts.to_string(),
                    f.successes.to_string(),
                    f.rate.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "-".into()),
                    format!("{:.3}–{:.3}", f.lower, f.upper),
                    f.stage.name().into(),
                    f.decided_by,
                ]);
            }
            println!("{t}");
            println!("rule: {}", rule_text(&stages::rule(&db).await?));
        }
        Some(StagesCommand::Export { file }) => {
            let written = if file.as_os_str() == "-" {
                stages::export(&db, &mut std::io::stdout().lock()).await?
            } else {
                let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
                let n = stages::export(&db, &mut out).await?;
                std::io::Write::flush(&mut out)?;
                eprintln!("wrote {n} outcomes to {}", file.display());
                n
            };
            tracing::debug!("exported {written} outcomes");
        }
        Some(StagesCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let summary = stages::import(&db, &text, &format!("import:{}", file.display())).await.map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
            println!("imported {} outcomes ({} already known)", summary.added, summary.duplicates);
        }
        Some(StagesCommand::Rule { window_days, threshold, confidence, json }) => {
            let mut rule = stages::rule(&db).await?;
            if window_days.is_some() || threshold.is_some() || confidence.is_some() {
                rule.window_days = window_days.unwrap_or(rule.window_days);
                rule.threshold = threshold.unwrap_or(rule.threshold);
                rule.confidence = confidence.unwrap_or(rule.confidence);
                stages::set_rule(&db, &rule).await?;
            }
            if json {
                print_json(&rule)?;
            } else {
                println!("{}", rule_text(&rule));
            }
        }
    }
    Ok(ExitCode::Ok)
}

pub(crate) async fn audit(home: &Path, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    let plan = crate::plan::Plan::get(&db, &args.plan_id).await?;
    let runs = crate::plugins::journal::plan_audit(&db, &plan.id, args.app.as_deref()).await?;
    if args.json {
        print_json(&runs)?;
        return Ok(ExitCode::Ok);
    }
    if runs.is_empty() {
        println!("no app migration ran in plan {}", plan.id);
    }
    for r in runs {
        let rerun = r.original_transfer_id.as_deref().map(|o| format!(", re-run of {o}")).unwrap_or_default();
        println!("{} {}: {} (transfer {}{rerun}), uploaded {} bytes", shown(&r.app), r.version, r.status, r.transfer_id, r.uploaded_bytes);
        if let Some(origin) = &r.sent_to {
            let by = if r.endpoint_overridden { ", the admin's endpoint" } else { "" };
            println!("  sent to {} ({} uploads, {} bytes{by})", shown(origin), r.uploads, r.uploaded_bytes);
            println!("  the cloud app answered: {}", shown(r.cloud_app_answer.as_deref().unwrap_or("-")));
        }
        let mut t = table(&["scopes", "function", "calls", "rows", "bytes"]);
        for a in &r.access {
            let scopes = if a.scopes.is_empty() { "(none)".to_string() } else { a.scopes.join(", ") };
            t.add_row(vec![scopes, a.function.clone(), a.calls.to_string(), a.rows.to_string(), a.bytes.to_string()]);
        }
        println!("{t}");
        for d in &r.denied {
            println!("  denied: {} needs {} ({} calls)", d.function, d.scope, d.calls);
        }
        if r.denied.is_empty() {
            println!("  no access was denied");
        }
    }
    Ok(ExitCode::Ok)
}
