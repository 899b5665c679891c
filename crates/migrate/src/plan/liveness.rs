//! Runs that outlive whoever started them, and runs whose process died.
//!
//! A plan runs in a process of its own (`ferry plan run`, or the worker the dashboard
//! starts): that process writes its id and, every half second, a heartbeat into the
//! plan. Whoever reads plans (the listing, a plan's report, the dashboard every few
//! seconds) ends a `running` plan whose process is gone: `failed`, with the reason and
//! what to do, so no plan stays `running` for ever.

use std::time::{Duration, SystemTime};

use sqlx::Row;

use ferry_core::state::{now, StateDb};

use super::status;
use crate::report::PlanReport;

/// A run not heard from for this long is dead, wherever its process is.
pub const SILENT_FOR: Duration = Duration::from_secs(45);

/// A run not heard from for this long whose process is gone from this machine is dead
/// (a live run writes its heartbeat every half second).
pub const GONE_FOR: Duration = Duration::from_secs(3);

/// Record that this process runs the plan, and that it is alive now.
pub async fn claim(db: &StateDb, plan_id: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE plans SET worker_pid = ?, heartbeat_at = ? WHERE id = ?")
        .bind(i64::from(std::process::id()))
        .bind(now())
        .bind(plan_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Say the run is alive (inside the progress recorder's transaction).
pub(crate) async fn beat(tx: &mut sqlx::SqliteConnection, plan_id: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE plans SET heartbeat_at = ? WHERE id = ?").bind(now()).bind(plan_id).execute(tx).await?;
    Ok(())
}

/// End every `running` plan whose process is dead: `failed`, its report naming why,
/// its app migrations still `running` failed with it. Returns the plans ended.
pub async fn reap_dead_runs(db: &StateDb) -> anyhow::Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT id, name, worker_pid, heartbeat_at, started_at FROM plans WHERE status = ?").bind(status::RUNNING).fetch_all(db.pool()).await?;
    let mut ended = Vec::new();
    for row in rows {
        let id: String = row.get(0);
        let pid: Option<i64> = row.get(2);
        let heard: Option<String> = row.get::<Option<String>, _>(3).or(row.get(4));
        let silent = heard.as_deref().and_then(|h| humantime::parse_rfc3339_weak(h).ok()).and_then(|at| SystemTime::now().duration_since(at).ok());
        // A plan marked running by a version of ferry that kept no heartbeat counts from
        // its start.
        let Some(silent) = silent else { continue };
        let gone = pid.is_some_and(|pid| !process_alive(pid));
        let why = if silent >= SILENT_FOR {
            format!("nothing was heard from the process running it for {} s", silent.as_secs())
        } else if gone && silent >= GONE_FOR {
            format!("its process ({}) is gone", pid.unwrap_or_default())
        } else {
            continue;
        };
        let reason = format!(
            "the run ended without finishing: {why} (killed, crashed, or the machine restarted). What it migrated is recorded: \
             create a new plan with the same scope, it links what landed and migrates the rest"
        );
        let mut report = match super::Plan::report(db, &id).await? {
            Some(report) => report,
            None => PlanReport::new(&id, &row.get::<String, _>(1)),
        };
        report.status = status::FAILED.into();
        report.error = Some(reason.clone());
        // Only a plan still running is ended (another reader may have ended it already).
        let done = sqlx::query("UPDATE plans SET status = ?, finished_at = ?, report_json = ? WHERE id = ? AND status = ?")
            .bind(status::FAILED)
            .bind(now())
            .bind(serde_json::to_string(&report)?)
            .bind(&id)
            .bind(status::RUNNING)
            .execute(db.pool())
            .await?;
        if done.rows_affected() == 1 {
            sqlx::query("UPDATE plugin_runs SET status = ?, message = ?, finished_at = ? WHERE plan_id = ? AND status = ?")
                .bind(crate::apps::status::FAILED)
                .bind(format!("the plan's {reason}"))
                .bind(now())
                .bind(&id)
                .bind(crate::apps::status::RUNNING)
                .execute(db.pool())
                .await?;
            tracing::warn!("plan {id}: {reason}");
            ended.push(id);
        }
    }
    Ok(ended)
}

/// Whether a process of this id runs on this machine, where the machine says
/// (`/proc` on Linux); elsewhere the heartbeat alone decides.
fn process_alive(pid: i64) -> bool {
    let proc = std::path::Path::new("/proc");
    if pid <= 0 || !proc.join("self").exists() {
        return pid > 0;
    }
    // A process that ended but whose parent has not read its exit yet (a zombie) is gone.
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
