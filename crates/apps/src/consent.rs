//! Consent: the admin agrees to an app's plugin reading exactly the scopes it declares.
//!
//! Consent binds to the app key, the plugin version, its sha256 and its exact scope set.
//! Installing another version makes it `outdated` (and [`ScopeDiff`] says what changed).
//! Revoking takes effect at once, also for a plugin running in another process: a
//! running app migration watches its consent record ([`watch`]) and withdraws its live
//! grant the moment the record no longer binds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferry_manifest::{ColumnClass, Manifest, Scope, ScopeSet};
use serde::Serialize;
use sqlx::Row;

use crate::assess::{self, Decision, MigrationPath};
pub use crate::audit::ScopeLine;
use crate::registry::{InstalledPlugin, Registry};
use crate::stages::{self, StageFigures};
use ferry_core::state::{now, StateDb};
use ferry_runtime::gate::Grant;

/// How often a running app migration re-reads its consent record. The cost is one
/// indexed read per interval, whatever the number of host calls.
pub const REVOCATION_POLL: Duration = Duration::from_millis(100);

/// Where an app stands on consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentStatus {
    /// Given to the installed plugin version and its scopes.
    Given,
    /// Never given, or revoked.
    NotGiven,
    /// Given to another plugin version, file or scope set.
    Outdated,
    /// The Server app's version is outside the plugin's supported range.
    ServerAppOutdated,
    /// The app is not needed (decision not-needed or alternative).
    NoMigrationNeeded,
    /// No plugin reads this app (or the admin marked it manual).
    NoAutomatedPath,
}

impl ConsentStatus {
    /// The status as shown.
    pub fn name(self) -> &'static str {
        match self {
            ConsentStatus::Given => "given",
            ConsentStatus::NotGiven => "not-given",
            ConsentStatus::Outdated => "outdated",
            ConsentStatus::ServerAppOutdated => "server-app-outdated",
            ConsentStatus::NoMigrationNeeded => "no-migration-needed",
            ConsentStatus::NoAutomatedPath => "no-automated-path",
        }
    }
}

/// A stored consent.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    /// The app.
    pub app_key: String,
    /// The plugin version consented to.
    pub plugin_version: String,
    /// The plugin file consented to.
    pub plugin_sha256: String,
    /// The scopes consented to.
    pub scopes: ScopeSet,
    /// The signer's key consented to (empty for an unsigned plugin).
    pub signer_key: String,
    /// The manifest consented to.
    pub manifest: Manifest,
    /// When.
    pub given_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl ConsentRecord {
    /// Whether this consent covers the installed `plugin` (same version, file, signer and
    /// scopes, not revoked). The file binds the manifest, so the endpoint the data goes
    /// to too.
    pub fn binds(&self, plugin: &InstalledPlugin, manifest_scopes: ScopeSet) -> bool {
        self.revoked_at.is_none()
            && self.plugin_version == plugin.version
            && self.plugin_sha256 == plugin.sha256
            && self.signer_key == plugin.signer_key()
            && self.scopes == manifest_scopes
    }
}

/// The consent status of an app (a pure rule: decision, path, and the record).
pub fn status(decision: Decision, path: MigrationPath, server_app_outdated: bool, record: Option<&ConsentRecord>, binds: bool) -> ConsentStatus {
    if matches!(decision, Decision::NotNeeded | Decision::Alternative) {
        return ConsentStatus::NoMigrationNeeded;
    }
    if server_app_outdated {
        return ConsentStatus::ServerAppOutdated;
    }
    if path != MigrationPath::Automated {
        return ConsentStatus::NoAutomatedPath;
    }
    match record {
        None => ConsentStatus::NotGiven,
        Some(r) if r.revoked_at.is_some() => ConsentStatus::NotGiven,
        Some(_) if binds => ConsentStatus::Given,
        Some(_) => ConsentStatus::Outdated,
    }
}

/// What changed in what a plugin may read between the consented manifest and a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScopeDiff {
    /// Scopes the new version declares and the consented one did not.
    pub added_scopes: Vec<String>,
    /// Scopes the consented version declared and the new one does not.
    pub removed_scopes: Vec<String>,
    /// App tables newly read.
    pub added_tables: Vec<String>,
    /// App tables no longer read.
    pub removed_tables: Vec<String>,
    /// Columns newly read, as `TABLE.COLUMN (class)`.
    pub added_columns: Vec<String>,
    /// Columns no longer read.
    pub removed_columns: Vec<String>,
    /// Columns whose class changed, as `TABLE.COLUMN: old → new`.
    pub changed_classes: Vec<String>,
    /// Where the data goes, when that changed: `old origin → new origin`.
    pub endpoint_change: Option<String>,
}

impl ScopeDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == ScopeDiff::default()
    }
}

/// The difference in what `new` may read compared with `old`.
pub fn diff(old: &Manifest, new: &Manifest) -> ScopeDiff {
    let names = |m: &Manifest| m.scopes.iter().map(|s| s.name().to_string()).collect::<std::collections::BTreeSet<_>>();
    let (old_scopes, new_scopes) = (names(old), names(new));
    let mut d = ScopeDiff {
        added_scopes: new_scopes.difference(&old_scopes).cloned().collect(),
        removed_scopes: old_scopes.difference(&new_scopes).cloned().collect(),
        ..ScopeDiff::default()
    };
    let empty = BTreeMap::new();
    for (table, columns) in &new.tables {
        let before = old.tables.get(table);
        if before.is_none() {
            d.added_tables.push(table.clone());
        }
        for (column, class) in columns {
            match before.unwrap_or(&empty).get(column) {
                None => d.added_columns.push(format!("{table}.{column} ({})", class.name())),
                Some(old_class) if old_class != class => d.changed_classes.push(format!("{table}.{column}: {} → {}", old_class.name(), class.name())),
                Some(_) => {}
            }
        }
    }
    if old.endpoint_origin() != new.endpoint_origin() {
        let shown = |m: &Manifest| m.endpoint_origin().unwrap_or_else(|| "none named".into());
        d.endpoint_change = Some(format!("{} → {}", shown(old), shown(new)));
    }
    for (table, columns) in &old.tables {
        let after = new.tables.get(table);
        if after.is_none() {
            d.removed_tables.push(table.clone());
        }
        for (column, class) in columns {
            if !after.unwrap_or(&empty).contains_key(column) {
                d.removed_columns.push(format!("{table}.{column} ({})", class.name()));
            }
        }
    }
    d
}

fn scopes_text(scopes: ScopeSet) -> String {
    scopes.iter().map(Scope::name).collect::<Vec<_>>().join(",")
}

fn parse_scopes(text: &str) -> anyhow::Result<ScopeSet> {
    text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse::<Scope>().map_err(anyhow::Error::from)).collect()
}

/// The stored consent of an app, if any (given or revoked).
pub async fn record(db: &StateDb, app_key: &str) -> anyhow::Result<Option<ConsentRecord>> {
    let Some(row) = sqlx::query("SELECT * FROM consents WHERE app_key = ?").bind(app_key).fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    let manifest_json: String = row.get("manifest_json");
    Ok(Some(ConsentRecord {
        app_key: row.get("app_key"),
        plugin_version: row.get("plugin_version"),
        plugin_sha256: row.get("plugin_sha256"),
        scopes: parse_scopes(&row.get::<String, _>("scopes"))?,
        signer_key: row.get("signer_key"),
        manifest: Manifest::parse(manifest_json.as_bytes()).context("the consented manifest")?,
        given_at: row.get("given_at"),
        revoked_at: row.get("revoked_at"),
    }))
}

async fn event(db: &StateDb, app_key: &str, action: &str, version: &str, sha256: &str, scopes: ScopeSet) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO consent_events (app_key, action, plugin_version, plugin_sha256, scopes, at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(app_key)
        .bind(action)
        .bind(version)
        .bind(sha256)
        .bind(scopes_text(scopes))
        .bind(now())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Agree to the installed plugin of `app_key`: its version, file and every declared
/// scope. With `expected_sha256` (a prefix is enough), refuse when the installed file is
/// not the one the admin reviewed.
pub async fn agree(db: &StateDb, app_key: &str, expected_sha256: Option<&str>) -> anyhow::Result<ConsentRecord> {
    let (plugin, _, manifest) = Registry::new(db.clone()).load_trusted(app_key).await?;
    if let Some(expected) = expected_sha256 {
        ferry_core::Declined::unless(!expected.is_empty() && plugin.sha256.starts_with(&expected.to_lowercase()), || {
            format!(
                "the installed plugin of {app_key} is sha256 {}, not the {expected} you reviewed: review it again with `ferry consent show {app_key}`",
                plugin.sha256
            )
        })?;
    }
    let scopes = manifest.scope_set();
    sqlx::query(
        "INSERT INTO consents (app_key, plugin_version, plugin_sha256, scopes, manifest_json, given_at, revoked_at, signer_key) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) \
         ON CONFLICT (app_key) DO UPDATE SET plugin_version = excluded.plugin_version, plugin_sha256 = excluded.plugin_sha256, \
         scopes = excluded.scopes, manifest_json = excluded.manifest_json, given_at = excluded.given_at, revoked_at = NULL, \
         signer_key = excluded.signer_key",
    )
    .bind(app_key)
    .bind(&plugin.version)
    .bind(&plugin.sha256)
    .bind(scopes_text(scopes))
    .bind(manifest.to_json())
    .bind(now())
    .bind(plugin.signer_key())
    .execute(db.pool())
    .await?;
    event(db, app_key, "agree", &plugin.version, &plugin.sha256, scopes).await?;
    record(db, app_key).await?.context("the consent vanished after it was stored")
}

/// Revoke consent for `app_key`, effective at once (a running app migration's next host
/// call is denied). False when there was no consent in force.
pub async fn revoke(db: &StateDb, app_key: &str) -> anyhow::Result<bool> {
    let Some(current) = record(db, app_key).await?.filter(|r| r.revoked_at.is_none()) else { return Ok(false) };
    sqlx::query("UPDATE consents SET revoked_at = ? WHERE app_key = ? AND revoked_at IS NULL").bind(now()).bind(app_key).execute(db.pool()).await?;
    event(db, app_key, "revoke", &current.plugin_version, &current.plugin_sha256, current.scopes).await?;
    Ok(true)
}

/// The scopes consented for the installed `plugin`, when the consent binds to it.
pub async fn granted_scopes(db: &StateDb, plugin: &InstalledPlugin, manifest: &Manifest) -> anyhow::Result<Option<ScopeSet>> {
    let scopes = manifest.scope_set();
    Ok(record(db, &plugin.server_app_key).await?.filter(|r| r.binds(plugin, scopes)).map(|r| r.scopes))
}

/// Watch the consent behind a running app migration: the moment it no longer binds to
/// `plugin` (revoked, or replaced by consent to another version), withdraw every scope of
/// `grant`. Runs until the returned task is aborted.
pub fn watch(db: StateDb, plugin: InstalledPlugin, manifest_scopes: ScopeSet, grant: Arc<Grant>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REVOCATION_POLL).await;
            let binds = match record(&db, &plugin.server_app_key).await {
                Ok(r) => r.is_some_and(|r| r.binds(&plugin, manifest_scopes)),
                Err(e) => {
                    // A consent that cannot be read is not a consent in force.
                    tracing::error!("cannot read the consent of {}: {e:#}; withdrawing its grant", plugin.server_app_key);
                    false
                }
            };
            if !binds {
                tracing::info!("consent of {} no longer in force: its plugin's next data access is denied", plugin.server_app_key);
                grant.revoke_all();
                return;
            }
        }
    })
}

/// One app's consent, as `consent list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConsentLine {
    /// The app key.
    pub app: String,
    /// Its name.
    pub name: String,
    /// Where consent stands.
    pub status: ConsentStatus,
    /// The installed plugin version, if any.
    pub plugin_version: Option<String>,
    /// The plugin version consented to, if any.
    pub consented_version: Option<String>,
    /// When consent was given.
    pub given_at: Option<String>,
}

/// The consent status of one app of the assessment, with the installed plugin.
async fn status_of(db: &StateDb, app: &assess::ServerApp) -> anyhow::Result<(ConsentStatus, Option<(InstalledPlugin, Manifest)>, Option<ConsentRecord>)> {
    let plugin = Registry::new(db.clone()).get_with_manifest(&app.key).await?;
    let (decision, manual) = assess::decision(db, &app.key).await?;
    let range = plugin.as_ref().map(|(p, _)| &p.server_app_versions);
    let (path, _) = assess::migration_path(&app.version, range, manual);
    let server_app_outdated = !manual && range.is_some_and(|r| !assess::plugin_reads(r, &app.version));
    let record = record(db, &app.key).await?;
    let binds = match (&record, &plugin) {
        (Some(r), Some((p, m))) => r.binds(p, m.scope_set()),
        _ => false,
    };
    Ok((status(decision, path, server_app_outdated, record.as_ref(), binds), plugin, record))
}

/// The consent status of every app of the latest assessment.
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<ConsentLine>> {
    let apps = assess::assessed_apps(db).await?;
    let mut out = Vec::new();
    for app in &apps {
        let (status, plugin, record) = status_of(db, app).await?;
        out.push(ConsentLine {
            app: app.key.clone(),
            name: app.name.clone(),
            status,
            plugin_version: plugin.map(|(p, _)| p.version),
            consented_version: record.as_ref().filter(|r| r.revoked_at.is_none()).map(|r| r.plugin_version.clone()),
            given_at: record.filter(|r| r.revoked_at.is_none()).map(|r| r.given_at),
        });
    }
    Ok(out)
}

/// The policy card an admin reads before agreeing.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PolicyCard {
    /// The app key.
    pub app: String,
    /// The app's name.
    pub name: String,
    /// The plugin's vendor.
    pub vendor: String,
    /// The plugin version.
    pub version: String,
    /// The plugin file's sha256.
    pub sha256: String,
    /// Who signed the plugin (judged against the keys trusted now).
    pub signer: crate::trust::Signer,
    /// Whether the admin installed it without a trusted signature.
    pub allowed_unsigned: bool,
    /// The signer as shown: the trusted name, or `unsigned`/`untrusted key` with the
    /// admin's choice.
    pub signer_shown: String,
    /// When consent was given to a plugin signed by another key (or unsigned): that key.
    pub consented_signer: Option<String>,
    /// The vendor's privacy policy.
    pub privacy_policy: String,
    /// The cloud app the data goes to.
    pub cloud_app_key: String,
    /// Where the host sends the data the plugin exports: its manifest's migration
    /// endpoint (none in a plugin built before endpoints were declared).
    pub migration_endpoint: Option<String>,
    /// The endpoint's origin, and in plain words where the data goes.
    pub sends_to: String,
    /// Every declared scope in plain words.
    pub scopes: Vec<ScopeLine>,
    /// The app tables read: table → column → class (`public`, `pii`, `ugc`, ...).
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    pub tables: BTreeMap<String, BTreeMap<String, ColumnClass>>,
    /// The Stage with its figures.
    pub stage: StageFigures,
    /// Where consent stands (`given`, `not-given`, `outdated`, ...; `not-assessed` apps
    /// show the status their plugin would have if needed).
    pub status: Option<ConsentStatus>,
    /// The consented version, when consent was given to another one.
    pub consented_version: Option<String>,
    /// What changed against the consented version, when consent is outdated.
    pub changes: Option<ScopeDiff>,
}

/// The policy card of the installed plugin of `app_key`.
pub async fn policy_card(db: &StateDb, app_key: &str) -> anyhow::Result<PolicyCard> {
    let (plugin, _, manifest) = Registry::new(db.clone()).load(app_key).await?;
    let rule = stages::rule(db).await?;
    let stage = stages::figures(db, app_key, &plugin.version, &rule).await?;
    let server_app = assess::server_apps(db).await?.into_iter().find(|a| a.key == app_key);
    let record = record(db, app_key).await?;
    let status = match &server_app {
        Some(app) => Some(status_of(db, app).await?.0),
        None => None,
    };
    let in_force = record.as_ref().filter(|r| r.revoked_at.is_none());
    let outdated = in_force.filter(|r| !r.binds(&plugin, manifest.scope_set()));
    Ok(PolicyCard {
        app: app_key.to_string(),
        name: manifest.name.clone(),
        vendor: manifest.vendor.clone(),
        version: plugin.version.clone(),
        sha256: plugin.sha256.clone(),
        signer: plugin.signer.clone(),
        allowed_unsigned: plugin.allowed_unsigned,
        signer_shown: plugin.signer_shown(),
        consented_signer: outdated.filter(|r| r.signer_key != plugin.signer_key()).map(|r| {
            if r.signer_key.is_empty() {
                "unsigned".to_string()
            } else {
                ferry_runtime::signature::PublicKey::parse(&r.signer_key).map(|k| k.fingerprint()).unwrap_or_else(|_| r.signer_key.clone())
            }
        }),
        privacy_policy: manifest.privacy_policy.clone(),
        cloud_app_key: manifest.cloud_app_key.clone(),
        migration_endpoint: manifest.migration_endpoint.clone(),
        sends_to: match manifest.endpoint_origin() {
            Some(origin) => format!("the data this plugin exports is sent to {origin} ({}), with the id mappings its scopes allow", manifest.vendor),
            None => "this plugin names no endpoint for its data: it migrates only where the admin sets one (--app-endpoint)".into(),
        },
        scopes: manifest.scopes.iter().map(ScopeLine::of).collect(),
        tables: manifest.tables.clone(),
        stage,
        status,
        consented_version: outdated.map(|r| r.plugin_version.clone()),
        changes: outdated.map(|r| diff(&r.manifest, &manifest)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(scopes: &str, columns: &str) -> Manifest {
        let prefix = ferry_manifest::ao_table_prefix("com.example.app");
        let json = format!(
            r#"{{"server_app_key":"com.example.app","cloud_app_key":"c","name":"App","vendor":"V","version":"1.0.0",
            "server_app_versions":"*","contract":"0.1.0","privacy_policy":"https://x.example/p","scopes":[{scopes}],
            "tables":{{"{prefix}T":{{{columns}}}}}}}"#
        );
        Manifest::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn the_diff_names_added_and_removed_scopes_columns_and_changed_classes() {
        let old = manifest(r#""app-data-other","app-data-ugc""#, r#""ID":"other","NOTE":"ugc","GONE":"other""#);
        let new = manifest(r#""app-data-other","app-data-pii""#, r#""ID":"other","NOTE":"pii","USER_KEY":"pii""#);
        let d = diff(&old, &new);
        assert_eq!(d.added_scopes, ["app-data-pii"]);
        assert_eq!(d.removed_scopes, ["app-data-ugc"]);
        assert!(d.added_columns[0].ends_with("T.USER_KEY (pii)"), "{d:?}");
        assert!(d.removed_columns[0].ends_with("T.GONE (other)"), "{d:?}");
        assert!(d.changed_classes[0].ends_with("T.NOTE: ugc → pii"), "{d:?}");
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn status_follows_decision_path_and_record() {
        use ConsentStatus::*;
        let m = manifest(r#""app-data-other""#, r#""ID":"other""#);
        let r = ConsentRecord {
            app_key: "a".into(),
            plugin_version: "1.0.0".into(),
            plugin_sha256: "x".into(),
            scopes: m.scope_set(),
            signer_key: String::new(),
            manifest: m,
            given_at: String::new(),
            revoked_at: None,
        };
        assert_eq!(status(Decision::NotNeeded, MigrationPath::Automated, false, Some(&r), true), NoMigrationNeeded);
        assert_eq!(status(Decision::Needed, MigrationPath::Manual, true, Some(&r), true), ServerAppOutdated);
        assert_eq!(status(Decision::Needed, MigrationPath::None, false, None, false), NoAutomatedPath);
        assert_eq!(status(Decision::Needed, MigrationPath::Automated, false, None, false), NotGiven);
        assert_eq!(status(Decision::Needed, MigrationPath::Automated, false, Some(&r), false), Outdated);
        assert_eq!(status(Decision::Needed, MigrationPath::Automated, false, Some(&r), true), Given);
        let revoked = ConsentRecord { revoked_at: Some("t".into()), ..r };
        assert_eq!(status(Decision::Needed, MigrationPath::Automated, false, Some(&revoked), false), NotGiven);
    }
}
