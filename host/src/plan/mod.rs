//! Migration plans: what to migrate, where to, from where. A plan is immutable once
//! created; running it changes only its status and report. A stopped or failed plan is
//! never resumed: create a new plan, which links what already migrated.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::migrate::report::PlanReport;
use crate::state::{now, StateDb};

/// Which users and groups a plan migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsersScope {
    /// Every user and group.
    All,
    /// Only users related to the selected spaces, with name and email only.
    Related,
    /// No users or groups.
    None,
}

impl FromStr for UsersScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(UsersScope::All),
            "related" => Ok(UsersScope::Related),
            "none" => Ok(UsersScope::None),
            other => Err(format!("users must be all, related or none, not {other:?}")),
        }
    }
}

impl fmt::Display for UsersScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsersScope::All => "all",
            UsersScope::Related => "related",
            UsersScope::None => "none",
        })
    }
}

/// Which spaces a plan migrates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpacesScope {
    /// Every current space.
    All,
    /// None.
    None,
    /// These keys.
    Keys(Vec<String>),
}

impl FromStr for SpacesScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(SpacesScope::All),
            "none" => Ok(SpacesScope::None),
            keys => {
                let keys: Vec<String> = keys.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
                if keys.is_empty() {
                    Err("spaces must be all, none, or KEY,KEY".into())
                } else {
                    Ok(SpacesScope::Keys(keys))
                }
            }
        }
    }
}

impl fmt::Display for SpacesScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpacesScope::All => f.write_str("all"),
            SpacesScope::None => f.write_str("none"),
            SpacesScope::Keys(keys) => f.write_str(&keys.join(",")),
        }
    }
}

/// Plan statuses.
pub mod status {
    /// Saved, not run.
    pub const SAVED: &str = "saved";
    /// Running now.
    pub const RUNNING: &str = "running";
    /// Ended with everything migrated.
    pub const FINISHED: &str = "finished";
    /// Stopped by the admin.
    pub const STOPPED: &str = "stopped";
    /// Some entities failed; data did reach the cloud.
    pub const INCOMPLETE: &str = "incomplete";
    /// Nothing usable happened.
    pub const FAILED: &str = "failed";
}

/// A migration plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The Server database (a SQLite file or postgres:// URL).
    #[serde(serialize_with = "redacted")]
    pub source: String,
    /// The Server's attachment folder.
    pub attachments: String,
    /// The Cloud site's base URL.
    pub destination: String,
    /// The SCIM base URL, when not `<destination>/scim/v2`.
    pub scim_url: Option<String>,
    /// The environment variable holding the destination's token.
    pub token_env: String,
    /// Users and groups.
    pub users: UsersScope,
    /// Spaces.
    pub spaces: SpacesScope,
    /// Only the attachments of the chosen spaces.
    pub attachments_only: bool,
    /// The destination's product-access group.
    pub product_group: String,
    /// Status.
    pub status: String,
    /// When it was created.
    pub created_at: String,
}

fn redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::source::redact_url(url))
}

impl Plan {
    /// Save a new plan.
    pub async fn create(db: &StateDb, mut plan: Plan) -> anyhow::Result<Plan> {
        plan.id = crate::plugins::local::new_id()[..12].to_string();
        plan.status = status::SAVED.into();
        plan.created_at = now();
        sqlx::query(
            "INSERT INTO plans (id, name, source, attachments, destination, scim_url, token_env, users, spaces, attachments_only, product_group, status, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(&plan.source)
        .bind(&plan.attachments)
        .bind(&plan.destination)
        .bind(&plan.scim_url)
        .bind(&plan.token_env)
        .bind(plan.users.to_string())
        .bind(plan.spaces.to_string())
        .bind(plan.attachments_only)
        .bind(&plan.product_group)
        .bind(&plan.status)
        .bind(&plan.created_at)
        .execute(db.pool())
        .await
        .context("cannot save the plan")?;
        Ok(plan)
    }

    /// Every plan, newest first.
    pub async fn list(db: &StateDb) -> anyhow::Result<Vec<Plan>> {
        let rows = sqlx::query("SELECT * FROM plans ORDER BY created_at DESC, id").fetch_all(db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// The plan `id` (a unique prefix is enough).
    pub async fn get(db: &StateDb, id: &str) -> anyhow::Result<Plan> {
        let rows = sqlx::query("SELECT * FROM plans WHERE id LIKE ? || '%'").bind(id).fetch_all(db.pool()).await?;
        match rows.len() {
            1 => from_row(&rows[0]),
            0 => anyhow::bail!("no plan {id}: `ferry plan list` shows them"),
            n => anyhow::bail!("{n} plans start with {id}: give more of the id"),
        }
    }

    /// Move the plan to `status` (only from `expected`); false when it was not there.
    pub async fn transition(db: &StateDb, id: &str, expected: &str, status: &str) -> anyhow::Result<bool> {
        let column = if status == status::RUNNING { "started_at" } else { "finished_at" };
        let sql = format!("UPDATE plans SET status = ?, {column} = ? WHERE id = ? AND status = ?");
        let done = sqlx::query(&sql).bind(status).bind(now()).bind(id).bind(expected).execute(db.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Store the report (and the status it ended with).
    pub async fn save_report(db: &StateDb, report: &PlanReport) -> anyhow::Result<()> {
        sqlx::query("UPDATE plans SET report_json = ?, status = ?, finished_at = ? WHERE id = ?")
            .bind(serde_json::to_string(report)?)
            .bind(&report.status)
            .bind(now())
            .bind(&report.id)
            .execute(db.pool())
            .await?;
        Ok(())
    }

    /// The stored report, if the plan ran.
    pub async fn report(db: &StateDb, id: &str) -> anyhow::Result<Option<PlanReport>> {
        let json: Option<String> = sqlx::query("SELECT report_json FROM plans WHERE id = ?").bind(id).fetch_one(db.pool()).await?.get(0);
        json.map(|j| serde_json::from_str(&j).context("stored report")).transpose()
    }
}

/// A space as the plan chooser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceChoice {
    /// Space key.
    pub key: String,
    /// Space name.
    pub name: String,
    /// `MIGRATED` (already in this destination), `QUEUED` (in a saved plan not yet run),
    /// or empty.
    pub status: String,
}

/// The spaces of a source with their status for one destination: `MIGRATED` comes from
/// the mapping record, `QUEUED` from saved plans to that destination.
pub async fn space_choices(db: &StateDb, spaces: Vec<crate::source::ServerSpace>, destination: &str) -> anyhow::Result<Vec<SpaceChoice>> {
    let dest_key = crate::migrate::destination_key(destination);
    let migrated: std::collections::HashSet<String> =
        sqlx::query("SELECT server_id FROM mappings WHERE destination = ? AND namespace = 'confluence:space'")
            .bind(&dest_key)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let queued: Vec<Plan> = Plan::list(db)
        .await?
        .into_iter()
        .filter(|p| p.status == status::SAVED && crate::migrate::destination_key(&p.destination) == dest_key)
        .collect();
    Ok(spaces
        .into_iter()
        .map(|s| {
            let status = if migrated.contains(&s.key) {
                "MIGRATED"
            } else if queued.iter().any(|p| match &p.spaces {
                SpacesScope::All => true,
                SpacesScope::None => false,
                SpacesScope::Keys(keys) => keys.contains(&s.key),
            }) {
                "QUEUED"
            } else {
                ""
            };
            SpaceChoice { key: s.key, name: s.name, status: status.into() }
        })
        .collect())
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> anyhow::Result<Plan> {
    Ok(Plan {
        id: r.get("id"),
        name: r.get("name"),
        source: r.get("source"),
        attachments: r.get("attachments"),
        destination: r.get("destination"),
        scim_url: r.get("scim_url"),
        token_env: r.get("token_env"),
        users: r.get::<String, _>("users").parse().map_err(anyhow::Error::msg)?,
        spaces: r.get::<String, _>("spaces").parse().map_err(anyhow::Error::msg)?,
        attachments_only: r.get("attachments_only"),
        product_group: r.get("product_group"),
        status: r.get("status"),
        created_at: r.get("created_at"),
    })
}
