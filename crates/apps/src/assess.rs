//! Assess your apps: every user-installed app of the Server site, its migration path
//! (automated, manual or none), its Stage when automated, and the admin's decision.
//!
//! The latest assessment of the Server site is kept in the state DB, so that consent,
//! `apps done` and the checks know the installed Server app versions without asking
//! for the source again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::registry::{InstalledPlugin, Registry};
use crate::stages::{self, StageFigures};
use ferry_core::state::{now, StateDb};
use ferry_source::Source;

/// The admin's decision about one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Not decided yet (the start state).
    NotAssessed,
    /// Needed in the cloud: its data migrates.
    Needed,
    /// Not needed in the cloud.
    NotNeeded,
    /// Replaced by an alternative in the cloud.
    Alternative,
}

impl Decision {
    /// The decision as shown and stored.
    pub fn name(self) -> &'static str {
        match self {
            Decision::NotAssessed => "not-assessed",
            Decision::Needed => "needed",
            Decision::NotNeeded => "not-needed",
            Decision::Alternative => "alternative",
        }
    }
}

impl FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "needed" => Ok(Decision::Needed),
            "not-needed" => Ok(Decision::NotNeeded),
            "alternative" => Ok(Decision::Alternative),
            "not-assessed" => Ok(Decision::NotAssessed),
            other => Err(format!("a decision is needed, not-needed or alternative, not {other:?}")),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an app's data can reach the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationPath {
    /// An installed ferry plugin reads this Server app version.
    Automated,
    /// A plugin exists but for other Server app versions, or the admin marked it manual.
    Manual,
    /// No plugin.
    None,
}

impl MigrationPath {
    /// The path as shown.
    pub fn name(self) -> &'static str {
        match self {
            MigrationPath::Automated => "automated",
            MigrationPath::Manual => "manual",
            MigrationPath::None => "none",
        }
    }
}

/// A user-installed app of the Server site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerApp {
    /// The app key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its installed version on the Server.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// Whether it is enabled on the Server.
    pub enabled: bool,
}

/// A Server app version as semver. Server apps use versions like `2.4.1`, `7.1` or
/// `1.9.0-beta`; the first three numbers count, missing ones are zero.
pub fn server_version(text: &str) -> Option<semver::Version> {
    if let Ok(v) = semver::Version::parse(text.trim()) {
        return Some(v);
    }
    let core: String = text.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut parts = core.split('.').filter(|p| !p.is_empty()).map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().transpose().ok()?.unwrap_or(0);
    let patch = parts.next().transpose().ok()?.unwrap_or(0);
    Some(semver::Version::new(major, minor, patch))
}

/// Whether a plugin that reads `range` reads the Server app at `version`.
pub fn plugin_reads(range: &semver::VersionReq, version: &str) -> bool {
    server_version(version).is_some_and(|v| range.matches(&v))
}

/// The migration path of an app at `server_version`, given the installed plugin's
/// supported range, and why.
pub fn migration_path(server_version: &str, plugin_range: Option<&semver::VersionReq>, marked_manual: bool) -> (MigrationPath, String) {
    match plugin_range {
        _ if marked_manual => (MigrationPath::Manual, "marked manual by the admin".into()),
        None => (MigrationPath::None, "no ferry plugin is installed for this app".into()),
        Some(range) if plugin_reads(range, server_version) => (MigrationPath::Automated, format!("the installed plugin reads Server versions {range}")),
        Some(range) => (
            MigrationPath::Manual,
            format!("the installed plugin reads Server versions {range}, not {server_version}: update the Server app, or migrate it by hand"),
        ),
    }
}

/// One row of the assessment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Assessment {
    /// The app key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// The installed Server version.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// Whether it is enabled on the Server.
    pub enabled: bool,
    /// `automated`, `manual` or `none`.
    pub path: MigrationPath,
    /// Why that path.
    pub path_reason: String,
    /// The installed plugin's version, if any.
    pub plugin_version: Option<String>,
    /// The cloud app the plugin migrates to, if any.
    pub cloud_app_key: Option<String>,
    /// Who signed the installed plugin, with the admin's `--allow-unsigned` choice.
    pub plugin_signer: Option<String>,
    /// The Stage label, for automated paths.
    pub stage: Option<String>,
    /// The figures behind the Stage.
    pub stage_figures: Option<StageFigures>,
    /// The admin's decision.
    pub decision: Decision,
}

/// The admin's decision and manual mark of every decided app.
pub async fn decisions(db: &StateDb) -> anyhow::Result<std::collections::HashMap<String, (Decision, bool)>> {
    let rows = sqlx::query("SELECT app_key, decision, manual FROM app_decisions").fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let decision: String = r.get(1);
            Ok((r.get(0), (decision.parse().map_err(anyhow::Error::msg)?, r.get::<bool, _>(2))))
        })
        .collect()
}

/// The decision about one app (`not-assessed` when none was taken).
pub async fn decision(db: &StateDb, app_key: &str) -> anyhow::Result<(Decision, bool)> {
    Ok(decisions(db).await?.remove(app_key).unwrap_or((Decision::NotAssessed, false)))
}

/// Store a decision (changeable at any time).
pub async fn decide(db: &StateDb, app_key: &str, decision: Decision) -> anyhow::Result<()> {
    ensure_known(db, app_key).await?;
    sqlx::query(
        "INSERT INTO app_decisions (app_key, decision, decided_at) VALUES (?, ?, ?) \
         ON CONFLICT (app_key) DO UPDATE SET decision = excluded.decision, decided_at = excluded.decided_at",
    )
    .bind(app_key)
    .bind(decision.name())
    .bind(now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Mark (or unmark) an app's migration path manual.
pub async fn mark_manual(db: &StateDb, app_key: &str, manual: bool) -> anyhow::Result<()> {
    ensure_known(db, app_key).await?;
    sqlx::query(
        "INSERT INTO app_decisions (app_key, decision, manual, decided_at) VALUES (?, 'not-assessed', ?, ?) \
         ON CONFLICT (app_key) DO UPDATE SET manual = excluded.manual",
    )
    .bind(app_key)
    .bind(manual)
    .bind(now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Refuse a key that the latest assessment does not list (a typo would otherwise store a
/// decision about nothing).
async fn ensure_known(db: &StateDb, app_key: &str) -> anyhow::Result<()> {
    let apps = assessed_apps(db).await?;
    if !apps.iter().any(|a| a.key == app_key) {
        let known: Vec<&str> = apps.iter().map(|a| a.key.as_str()).collect();
        return Err(ferry_core::Declined::not_found(format!("{app_key} is not installed on the assessed Server site; its apps are: {}", known.join(", "))));
    }
    Ok(())
}

/// Read the Server site's apps and keep them as the current assessment.
pub async fn read_server_apps(db: &StateDb, source: &Source) -> anyhow::Result<Vec<ServerApp>> {
    let location = ferry_source::redact_url(source.location());
    if source.product() == ferry_source::Product::Jira {
        return Err(ferry_core::Declined::invalid(format!(
            "{location} is a Jira database: app assessment reads a Confluence site's apps (its plugindata table). A Jira plan \
             migrates Jira Service Management's agents, customers, organizations and requests natively and runs no app \
             plugins, so a Jira site's apps need no assessment here: review them in Atlassian's Jira Cloud Migration Assistant"
        )));
    }
    if !source.has_table("plugindata").await? {
        return Err(ferry_core::Declined::invalid(format!(
            "{location} has no plugindata table, where Confluence keeps its installed apps: give the Confluence database itself \
             (or a role that may read plugindata)"
        )));
    }
    let apps: Vec<ServerApp> = source
        .installed_apps()
        .await?
        .into_iter()
        .map(|a| ServerApp { key: a.key, name: a.name, version: a.version, vendor: a.vendor, enabled: a.enabled })
        .collect();
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM server_apps").execute(&mut *tx).await?;
    let at = now();
    for app in &apps {
        sqlx::query("INSERT INTO server_apps (app_key, name, version, vendor, enabled, source, assessed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&app.key)
            .bind(&app.name)
            .bind(&app.version)
            .bind(&app.vendor)
            .bind(app.enabled)
            .bind(ferry_source::redact_url(source.location()))
            .bind(&at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(apps)
}

/// The apps of the latest assessment.
pub async fn server_apps(db: &StateDb) -> anyhow::Result<Vec<ServerApp>> {
    let rows = sqlx::query("SELECT app_key, name, version, vendor, enabled FROM server_apps ORDER BY app_key").fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| ServerApp { key: r.get(0), name: r.get(1), version: r.get(2), vendor: r.get(3), enabled: r.get(4) }).collect())
}

/// The apps of the latest assessment, refused ([`ferry_core::Declined::Conflict`]) when there
/// is none yet: what needs an assessment says how to make one.
pub async fn assessed_apps(db: &StateDb) -> anyhow::Result<Vec<ServerApp>> {
    let apps = server_apps(db).await?;
    ferry_core::Declined::unless(!apps.is_empty(), || "no assessment yet: run `ferry apps assess --source <DB>` first".into())?;
    Ok(apps)
}

/// Assess `apps` against the installed plugins, the Stages and the decisions.
pub async fn assess(db: &StateDb, apps: &[ServerApp]) -> anyhow::Result<Vec<Assessment>> {
    let plugins: std::collections::HashMap<String, InstalledPlugin> =
        Registry::new(db.clone()).list().await?.into_iter().map(|p| (p.server_app_key.clone(), p)).collect();
    let decided = decisions(db).await?;
    let rule = stages::rule(db).await?;
    let mut out = Vec::new();
    for app in apps {
        let plugin = plugins.get(&app.key);
        let (decision, manual) = decided.get(&app.key).copied().unwrap_or((Decision::NotAssessed, false));
        let (path, path_reason) = migration_path(&app.version, plugin.map(|p| &p.server_app_versions), manual);
        let stage_figures = match (path, plugin) {
            (MigrationPath::Automated, Some(p)) => Some(stages::figures(db, &app.key, &p.version, &rule).await?),
            _ => None,
        };
        out.push(Assessment {
            key: app.key.clone(),
            name: app.name.clone(),
            version: app.version.clone(),
            vendor: app.vendor.clone(),
            enabled: app.enabled,
            path,
            path_reason,
            plugin_version: plugin.map(|p| p.version.clone()),
            cloud_app_key: plugin.map(|p| p.cloud_app_key.clone()),
            plugin_signer: plugin.map(|p| p.signer_shown()),
            stage: stage_figures.as_ref().map(|f| f.stage.name().to_string()),
            stage_figures,
            decision,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_are_read_leniently() {
        assert_eq!(server_version("2.4.1"), Some(semver::Version::new(2, 4, 1)));
        assert_eq!(server_version("7.1"), Some(semver::Version::new(7, 1, 0)));
        assert_eq!(server_version("3.0.0.1234"), Some(semver::Version::new(3, 0, 0)));
        assert_eq!(server_version("unknown"), None);
    }

    #[test]
    fn the_path_follows_the_plugin_range_and_the_admin_mark() {
        let range = semver::VersionReq::parse(">=2.0, <4").unwrap();
        assert_eq!(migration_path("2.4.1", Some(&range), false).0, MigrationPath::Automated);
        assert_eq!(migration_path("5.0.0", Some(&range), false).0, MigrationPath::Manual);
        assert_eq!(migration_path("2.4.1", Some(&range), true).0, MigrationPath::Manual);
        assert_eq!(migration_path("2.4.1", None, false).0, MigrationPath::None);
    }
}
