//! The installed plugins: one version per server app, kept in `FERRY_HOME/plugins/`
//! by sha256 and recorded in the state DB.

use std::path::PathBuf;

use anyhow::Context;
use ferry_manifest::Manifest;
use serde::Serialize;
use sqlx::Row;

use super::audit::{self, AuditReport, Verdict};
use super::trust::{Signer, TrustStore};
use ferry_core::state::{now, StateDb};

/// An installed plugin.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledPlugin {
    /// The Server app key.
    pub server_app_key: String,
    /// The Cloud app key.
    pub cloud_app_key: String,
    /// The app's name.
    pub name: String,
    /// The vendor.
    pub vendor: String,
    /// The plugin version.
    pub version: String,
    /// The contract version.
    pub contract: String,
    /// sha256 of the component.
    pub sha256: String,
    /// Declared scopes.
    pub scopes: Vec<String>,
    /// The Server app versions it reads.
    pub server_app_versions: semver::VersionReq,
    /// When it was installed.
    pub installed_at: String,
    /// Who signed it, judged against the keys trusted now.
    pub signer: Signer,
    /// Whether the admin installed it without a trusted signature (`--allow-unsigned`).
    pub allowed_unsigned: bool,
}

impl InstalledPlugin {
    /// Why this plugin may not run, when its signer is not (or no longer) trusted and the
    /// admin did not install it with `--allow-unsigned`.
    pub fn trust_problem(&self) -> Option<String> {
        if self.signer.is_trusted() || self.allowed_unsigned {
            return None;
        }
        let by = match &self.signer {
            Signer::UntrustedKey { fingerprint, .. } => format!("signed by the key {fingerprint}, which this Ferry no longer trusts"),
            other => other.describe(),
        };
        Some(format!("the plugin of {} is {by}: `ferry trust add` the vendor's key again, or install a build signed by a trusted key", self.server_app_key))
    }

    /// The signer as shown wherever the plugin is: the trusted name, or `unsigned` /
    /// `untrusted key …` with `(allowed)` when the admin chose to install it anyway.
    pub fn signer_shown(&self) -> String {
        match (&self.signer, self.allowed_unsigned) {
            (Signer::Trusted { .. }, _) => self.signer.describe(),
            (other, true) => format!("{} (allowed by the admin)", other.describe()),
            (other, false) => format!("{} (NOT TRUSTED)", other.describe()),
        }
    }

    /// The signer key recorded for consent: the key, or empty for an unsigned plugin.
    pub fn signer_key(&self) -> &str {
        self.signer.public_key().unwrap_or("")
    }
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum InstallOutcome {
    /// The app had no plugin before.
    Installed,
    /// A newer version replaced `previous`.
    Replaced {
        /// The version replaced.
        previous: String,
    },
    /// The very same file was already installed.
    AlreadyInstalled,
}

/// Why an install was refused.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The audit refused the plugin.
    #[error("refused: {}", .0.problems.join("; "))]
    Refused(Box<AuditReport>),
    /// The same or a newer version is installed.
    #[error("{app} {installed} is installed; {offered} is not newer: publish a new version to replace it, or remove the installed one first")]
    NotNewer {
        /// The app.
        app: String,
        /// The installed version.
        installed: String,
        /// The offered version.
        offered: String,
    },
    /// Not signed by a trusted key, and `--allow-unsigned` was not given.
    #[error("{}", untrusted_message(.0))]
    NotTrusted(Box<AuditReport>),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn untrusted_message(report: &AuditReport) -> String {
    let what = match &report.signer {
        Signer::UntrustedKey { fingerprint, public_key } => format!(
            "signed by the key {fingerprint}, which this Ferry does not trust: check the key with its vendor, then `ferry trust add <VENDOR> {public_key}`"
        ),
        other => format!("{}: ask the vendor for a signed build", other.describe()),
    };
    format!("{what}; or install it anyway with --allow-unsigned (recorded and shown wherever the plugin is)")
}

/// The plugin registry of a `FERRY_HOME`.
pub struct Registry {
    db: StateDb,
}

impl Registry {
    /// The registry kept in `db`.
    pub fn new(db: StateDb) -> Registry {
        Registry { db }
    }

    fn dir(&self) -> PathBuf {
        self.db.home().join("plugins")
    }

    /// Audit and install a plugin file's bytes. A plugin not signed by a trusted key is
    /// refused unless `allow_unsigned`; that choice is recorded with the plugin.
    pub async fn install(&self, bytes: &[u8], allow_unsigned: bool) -> Result<(InstallOutcome, InstalledPlugin, AuditReport), InstallError> {
        let report = audit::audit(bytes, &TrustStore::load(&self.db).await?);
        let Some(manifest) = report.manifest.clone().filter(|_| report.verdict == Verdict::Ok) else {
            return Err(InstallError::Refused(Box::new(report)));
        };
        let trusted = report.signer.is_trusted();
        if !trusted && !allow_unsigned {
            return Err(InstallError::NotTrusted(Box::new(report)));
        }
        let existing = self.get(&manifest.server_app_key).await?;
        let outcome = match &existing {
            Some(old) if old.sha256 == report.sha256 => InstallOutcome::AlreadyInstalled,
            Some(old) => {
                let installed = semver::Version::parse(&old.version).context("installed version")?;
                if manifest.version <= installed {
                    return Err(InstallError::NotNewer {
                        app: manifest.server_app_key.clone(),
                        installed: old.version.clone(),
                        offered: manifest.version.to_string(),
                    });
                }
                InstallOutcome::Replaced { previous: old.version.clone() }
            }
            None => InstallOutcome::Installed,
        };
        if outcome == InstallOutcome::AlreadyInstalled && !trusted {
            sqlx::query("UPDATE plugins SET allowed_unsigned = 1 WHERE server_app_key = ?")
                .bind(&manifest.server_app_key)
                .execute(self.db.pool())
                .await
                .context("cannot record the plugin")?;
        }
        if outcome != InstallOutcome::AlreadyInstalled {
            std::fs::create_dir_all(self.dir()).context("cannot create the plugin folder")?;
            let path = self.dir().join(format!("{}.wasm", report.sha256));
            std::fs::write(&path, bytes).with_context(|| format!("cannot store the plugin at {}", path.display()))?;
            let imports: Vec<&str> = report.imports.iter().map(|i| i.name.as_str()).collect();
            sqlx::query(
                "INSERT INTO plugins (server_app_key, cloud_app_key, name, vendor, version, contract, sha256, manifest_json, imports_json, installed_at, signer_key, allowed_unsigned) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (server_app_key) DO UPDATE SET \
                 cloud_app_key = excluded.cloud_app_key, name = excluded.name, vendor = excluded.vendor, version = excluded.version, \
                 contract = excluded.contract, sha256 = excluded.sha256, manifest_json = excluded.manifest_json, \
                 imports_json = excluded.imports_json, installed_at = excluded.installed_at, signer_key = excluded.signer_key, \
                 allowed_unsigned = excluded.allowed_unsigned",
            )
            .bind(&manifest.server_app_key)
            .bind(&manifest.cloud_app_key)
            .bind(&manifest.name)
            .bind(&manifest.vendor)
            .bind(manifest.version.to_string())
            .bind(manifest.contract.to_string())
            .bind(&report.sha256)
            .bind(manifest.to_json())
            .bind(serde_json::to_string(&imports).context("imports")?)
            .bind(now())
            .bind(report.signer.public_key())
            .bind(!trusted)
            .execute(self.db.pool())
            .await
            .context("cannot record the plugin")?;
        }
        let installed = self.get(&manifest.server_app_key).await?.context("the plugin vanished after install")?;
        Ok((outcome, installed, report))
    }

    /// Every installed plugin, by app key.
    pub async fn list(&self) -> anyhow::Result<Vec<InstalledPlugin>> {
        let rows = sqlx::query("SELECT * FROM plugins ORDER BY server_app_key").fetch_all(self.db.pool()).await?;
        let trust = TrustStore::load(&self.db).await?;
        rows.iter().map(|r| row_to_plugin(r, &trust)).collect()
    }

    /// The installed plugin of `server_app_key`, if any.
    pub async fn get(&self, server_app_key: &str) -> anyhow::Result<Option<InstalledPlugin>> {
        let row = sqlx::query("SELECT * FROM plugins WHERE server_app_key = ?").bind(server_app_key).fetch_optional(self.db.pool()).await?;
        let trust = TrustStore::load(&self.db).await?;
        row.as_ref().map(|r| row_to_plugin(r, &trust)).transpose()
    }

    /// The installed plugin of `server_app_key` with its recorded manifest, without
    /// reading its file: enough to judge consent and checks (running it uses [`Registry::load`],
    /// which also verifies the file's hash).
    pub async fn get_with_manifest(&self, server_app_key: &str) -> anyhow::Result<Option<(InstalledPlugin, Manifest)>> {
        let row = sqlx::query("SELECT * FROM plugins WHERE server_app_key = ?").bind(server_app_key).fetch_optional(self.db.pool()).await?;
        let trust = TrustStore::load(&self.db).await?;
        row.as_ref().map(|r| row_to_plugin_and_manifest(r, &trust)).transpose()
    }

    /// Remove the plugin of `server_app_key`; false when none was installed.
    pub async fn remove(&self, server_app_key: &str) -> anyhow::Result<bool> {
        let Some(plugin) = self.get(server_app_key).await? else { return Ok(false) };
        sqlx::query("DELETE FROM plugins WHERE server_app_key = ?").bind(server_app_key).execute(self.db.pool()).await?;
        let _ = std::fs::remove_file(self.dir().join(format!("{}.wasm", plugin.sha256)));
        Ok(true)
    }

    /// [`Registry::load`] for running the plugin: also refuses one whose signer is no
    /// longer trusted (unless the admin installed it with `--allow-unsigned`).
    pub async fn load_trusted(&self, server_app_key: &str) -> anyhow::Result<(InstalledPlugin, Vec<u8>, Manifest)> {
        let loaded = self.load(server_app_key).await?;
        if let Some(problem) = loaded.0.trust_problem() {
            return Err(ferry_core::Declined::conflict(problem));
        }
        Ok(loaded)
    }

    /// The installed plugin's record, bytes and manifest. Refuses a file whose hash no
    /// longer matches what was installed.
    pub async fn load(&self, server_app_key: &str) -> anyhow::Result<(InstalledPlugin, Vec<u8>, Manifest)> {
        let Some(plugin) = self.get(server_app_key).await? else {
            return Err(ferry_core::Declined::not_found(format!(
                "no plugin is installed for {server_app_key}: install one with `ferry plugin install <FILE.wasm>`"
            )));
        };
        let path = self.dir().join(format!("{}.wasm", plugin.sha256));
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read the installed plugin {}", path.display()))?;
        let actual = ferry_runtime::component::sha256_hex(&bytes);
        ferry_core::Declined::unless(actual == plugin.sha256, || {
            format!("the installed file of {server_app_key} was modified (sha256 {actual}, installed {}): reinstall it", plugin.sha256)
        })?;
        let json: String =
            sqlx::query("SELECT manifest_json FROM plugins WHERE server_app_key = ?").bind(server_app_key).fetch_one(self.db.pool()).await?.get(0);
        let manifest = Manifest::parse(json.as_bytes()).context("the stored manifest no longer validates")?;
        Ok((plugin, bytes, manifest))
    }
}

fn row_to_plugin(row: &sqlx::sqlite::SqliteRow, trust: &TrustStore) -> anyhow::Result<InstalledPlugin> {
    Ok(row_to_plugin_and_manifest(row, trust)?.0)
}

fn row_to_plugin_and_manifest(row: &sqlx::sqlite::SqliteRow, trust: &TrustStore) -> anyhow::Result<(InstalledPlugin, Manifest)> {
    let signer = match row.get::<Option<String>, _>("signer_key") {
        Some(key) => trust.judge_key(&key),
        None => Signer::Unsigned,
    };
    let manifest = Manifest::parse(row.get::<String, _>("manifest_json").as_bytes())?;
    let plugin = InstalledPlugin {
        server_app_key: row.get("server_app_key"),
        cloud_app_key: row.get("cloud_app_key"),
        name: row.get("name"),
        vendor: row.get("vendor"),
        version: row.get("version"),
        contract: row.get("contract"),
        sha256: row.get("sha256"),
        scopes: manifest.scopes.iter().map(|s| s.name().to_string()).collect(),
        server_app_versions: manifest.server_app_versions.clone(),
        installed_at: row.get("installed_at"),
        signer,
        allowed_unsigned: row.get("allowed_unsigned"),
    };
    Ok((plugin, manifest))
}
