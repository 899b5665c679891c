//! Reading the audit journal back: what each app migration of a plan read, per scope
//! and host function, what it uploaded, and every access that was denied.

use serde::Serialize;
use sqlx::Row;

use ferry_core::state::StateDb;

/// Calls of one host function under one scope set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccessLine {
    /// The scopes the calls needed (empty: none).
    pub scopes: Vec<String>,
    /// The host function.
    pub function: String,
    /// Calls.
    pub calls: u64,
    /// Rows returned.
    pub rows: u64,
    /// Bytes returned or uploaded.
    pub bytes: u64,
}

/// Denied calls of one host function for lack of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeniedLine {
    /// The host function.
    pub function: String,
    /// The scope it lacked.
    pub scope: String,
    /// Calls denied.
    pub calls: u64,
}

/// The audit of one app migration run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunAudit {
    /// The app.
    pub app: String,
    /// The plugin version.
    pub version: String,
    /// The transfer (run) id.
    pub transfer_id: String,
    /// The first transfer, for a re-run.
    pub original_transfer_id: Option<String>,
    /// How it ended.
    pub status: String,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Where the uploads were sent: the origin of the cloud app's endpoint.
    pub sent_to: Option<String>,
    /// Whether the admin set that endpoint in place of the manifest's.
    pub endpoint_overridden: bool,
    /// Uploads sent.
    pub uploads: u64,
    /// What the cloud app answered: its settlement (`success: imported 12 ratings`), or
    /// why there is none.
    pub cloud_app_answer: Option<String>,
    /// What it read (and uploaded), per scope set and host function.
    pub access: Vec<AccessLine>,
    /// Every denied access.
    pub denied: Vec<DeniedLine>,
}

/// The audit of every app run of plan `plan_id` (of one app, if given), oldest first.
pub async fn plan_audit(db: &StateDb, plan_id: &str, app: Option<&str>) -> anyhow::Result<Vec<RunAudit>> {
    let runs = sqlx::query(
        "SELECT id, server_app_key, plugin_version, transfer_id, original_transfer_id, status, uploaded_bytes, endpoint, endpoint_overridden, uploads, \
         settlement_status, settlement_message, message FROM plugin_runs \
         WHERE plan_id = ? AND (? IS NULL OR server_app_key = ?) AND transfer_id != '' ORDER BY started_at, rowid",
    )
    .bind(plan_id)
    .bind(app)
    .bind(app)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for run in runs {
        let id: String = run.get(0);
        let lines = sqlx::query(
            "SELECT scopes, function, allowed, denied_scope, SUM(calls), SUM(rows), SUM(bytes) FROM audit_log WHERE run_id = ? \
             GROUP BY scopes, function, allowed, denied_scope ORDER BY function, scopes",
        )
        .bind(&id)
        .fetch_all(db.pool())
        .await?;
        let mut access = Vec::new();
        let mut denied = Vec::new();
        for l in lines {
            let (scopes, function, allowed): (String, String, bool) = (l.get(0), l.get(1), l.get(2));
            let calls = l.get::<i64, _>(4).max(0) as u64;
            if allowed {
                access.push(AccessLine {
                    scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    function,
                    calls,
                    rows: l.get::<i64, _>(5).max(0) as u64,
                    bytes: l.get::<i64, _>(6).max(0) as u64,
                });
            } else {
                denied.push(DeniedLine { function, scope: l.get::<Option<String>, _>(3).unwrap_or_default(), calls });
            }
        }
        out.push(RunAudit {
            app: run.get(1),
            version: run.get(2),
            transfer_id: run.get(3),
            original_transfer_id: run.get(4),
            status: run.get(5),
            uploaded_bytes: run.get::<i64, _>(6).max(0) as u64,
            sent_to: run.get::<Option<String>, _>(7).map(|e| ferry_manifest::shown_origin(&e)),
            endpoint_overridden: run.get(8),
            uploads: run.get::<i64, _>(9).max(0) as u64,
            cloud_app_answer: match (run.get::<Option<String>, _>(10), run.get::<Option<String>, _>(11)) {
                (Some(status), Some(message)) => Some(format!("{status}: {message}")),
                (Some(status), None) => Some(status),
                (None, _) => run.get::<Option<String>, _>(7).map(|_| format!("not settled ({})", run.get::<Option<String>, _>(12).unwrap_or_default())),
            },
            access,
            denied,
        });
    }
    Ok(out)
}
