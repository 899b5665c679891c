//! Local plugin catalogs: folders of signed plugin files described by an `index.json`
//! (a mounted share or an unpacked archive; never the network). `docs/catalog.md`
//! describes the format.
//!
//! Every byte of a catalog is untrusted: the index is size-bounded and validated, file
//! names may not leave the folder, each file's sha256 must match the index before it is
//! installed, and installing still goes through the audit and the signature check.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use ferry_core::state::{now, StateDb};
use ferry_runtime::component::read_bounded;

/// The index file of a catalog folder.
pub const INDEX_FILE: &str = "index.json";
/// The index format this Ferry reads.
pub const FORMAT: u32 = 1;
/// The largest index read (a catalog of thousands of versions is well under this).
const MAX_INDEX_BYTES: u64 = 16 << 20;
/// The largest pooled-outcomes file read.
const MAX_OUTCOMES_BYTES: u64 = 64 << 20;

/// A catalog's `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Always 1.
    pub format: u32,
    /// The catalog's name, as shown.
    #[serde(default)]
    pub name: Option<String>,
    /// Pooled Stage outcomes: a JSON-lines file in the `ferry stages export` format,
    /// relative to the folder.
    #[serde(default)]
    pub stage_outcomes: Option<String>,
    /// The apps.
    pub apps: Vec<IndexApp>,
}

/// One app of a catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexApp {
    /// The Server app key.
    pub app_key: String,
    /// Its plugin versions.
    pub versions: Vec<IndexVersion>,
}

/// One plugin version of a catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexVersion {
    /// The plugin version (semver).
    pub version: semver::Version,
    /// The plugin file, relative to the folder.
    pub file: String,
    /// sha256 of the file, lower-case hex.
    pub sha256: String,
    /// The contract version it was built against.
    pub contract: semver::Version,
    /// The Server app versions it reads.
    pub server_app_versions: semver::VersionReq,
}

/// A registered catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// The folder.
    pub path: PathBuf,
    /// Its name (the index's, else the folder's).
    pub name: String,
    /// When it was registered.
    pub added_at: String,
    /// Its index, read now.
    pub index: Index,
}

/// `name` inside `dir`, refusing absolute paths and `..` (a catalog names only its own files).
fn inside(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let rel = Path::new(name);
    anyhow::ensure!(
        !name.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_))),
        "`{}` is not a file name inside the catalog folder (no absolute paths, no ..)",
        ferry_core::shown(name)
    );
    Ok(dir.join(rel))
}

/// Read and validate the index of the catalog folder `dir`.
pub fn read_index(dir: &Path) -> anyhow::Result<Index> {
    let path = dir.join(INDEX_FILE);
    anyhow::ensure!(path.is_file(), "{} has no {INDEX_FILE}: a catalog is a folder of plugin files with an index (see docs/catalog.md)", dir.display());
    let bytes = read_bounded(&path, MAX_INDEX_BYTES)?;
    let index: Index = serde_json::from_slice(&bytes).with_context(|| format!("{} is not a valid catalog index", path.display()))?;
    anyhow::ensure!(index.format == FORMAT, "{} is format {}; this Ferry reads format {FORMAT}", path.display(), index.format);
    let mut seen = std::collections::HashSet::new();
    for app in &index.apps {
        anyhow::ensure!(
            !app.app_key.trim().is_empty() && app.app_key.len() <= 255 && !app.app_key.chars().any(char::is_control),
            "{}: an app key is 1 to 255 printable characters",
            path.display()
        );
        anyhow::ensure!(seen.insert(app.app_key.as_str()), "{}: the app {} is listed twice", path.display(), app.app_key);
        for v in &app.versions {
            inside(dir, &v.file).with_context(|| format!("{}: {} {}", path.display(), app.app_key, v.version))?;
            anyhow::ensure!(
                v.sha256.len() == 64 && v.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{}: {} {} has a sha256 that is not 64 lower-case hex digits",
                path.display(),
                app.app_key,
                v.version
            );
        }
    }
    if let Some(outcomes) = &index.stage_outcomes {
        inside(dir, outcomes).with_context(|| format!("{}: stage_outcomes", path.display()))?;
    }
    Ok(index)
}

fn display_name(dir: &Path, index: &Index) -> String {
    index.name.clone().unwrap_or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string()))
}

/// What registering a catalog did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The catalog.
    pub catalog: Catalog,
    /// Pooled Stage outcomes imported (deduplicated by transfer id).
    pub outcomes: Option<crate::stages::ImportSummary>,
}

/// Register the catalog folder `dir` (again: its index is re-read and its pooled Stage
/// outcomes imported).
pub async fn add(db: &StateDb, dir: &Path) -> anyhow::Result<Added> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("cannot open the catalog folder {}", dir.display()))?;
    let index = read_index(&dir)?;
    let outcomes = match &index.stage_outcomes {
        Some(file) => {
            let path = inside(&dir, file)?;
            let text = String::from_utf8(read_bounded(&path, MAX_OUTCOMES_BYTES)?).with_context(|| format!("{} is not UTF-8", path.display()))?;
            Some(
                crate::stages::import(db, &text, &format!("catalog:{}", display_name(&dir, &index)))
                    .await
                    .with_context(|| format!("the pooled Stage outcomes {}", path.display()))?,
            )
        }
        None => None,
    };
    let path_text = dir.to_str().context("the catalog folder's path is not UTF-8")?;
    sqlx::query("INSERT INTO catalogs (path, added_at) VALUES (?, ?) ON CONFLICT (path) DO NOTHING").bind(path_text).bind(now()).execute(db.pool()).await?;
    let catalog = list(db).await?.into_iter().find(|c| c.path == dir).context("the catalog vanished after it was added")?;
    Ok(Added { catalog, outcomes })
}

/// Forget the catalog registered for `dir`; false when none was.
pub async fn remove(db: &StateDb, dir: &Path) -> anyhow::Result<bool> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let done = sqlx::query("DELETE FROM catalogs WHERE path = ?").bind(dir.to_string_lossy().as_ref()).execute(db.pool()).await?;
    Ok(done.rows_affected() > 0)
}

/// Every registered catalog with its index read now. A catalog whose folder or index
/// cannot be read is an error naming it (and how to forget it).
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<Catalog>> {
    let rows = sqlx::query("SELECT path, added_at FROM catalogs ORDER BY path").fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for row in rows {
        let path = PathBuf::from(row.get::<String, _>(0));
        let index = read_index(&path).with_context(|| {
            format!("the catalog {} cannot be read; mount it again, or forget it with `ferry catalog remove {}`", path.display(), path.display())
        })?;
        out.push(Catalog { name: display_name(&path, &index), path, added_at: row.get(1), index });
    }
    Ok(out)
}

/// One plugin version a catalog offers.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    /// The catalog's name.
    pub catalog: String,
    /// The plugin file.
    pub file: PathBuf,
    /// The version's index entry.
    pub version: IndexVersion,
}

/// Which version of an app's plugin to install, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    /// The version chosen.
    pub chosen: Offer,
    /// Why, in words.
    pub reason: String,
    /// Newer versions passed over, each with why.
    pub passed_over: Vec<String>,
}

/// Choose the newest version of `app_key` in the registered catalogs whose
/// `server_app_versions` admits `server_app_version` and whose contract this Ferry serves.
pub async fn choose(db: &StateDb, app_key: &str, server_app_version: &str) -> anyhow::Result<Choice> {
    let catalogs = list(db).await?;
    anyhow::ensure!(
        !catalogs.is_empty(),
        "no catalog is registered: `ferry catalog add <DIR>`, or install a plugin file with `ferry plugin install <FILE.wasm>`"
    );
    let mut offers: Vec<Offer> = Vec::new();
    for c in &catalogs {
        for app in c.index.apps.iter().filter(|a| a.app_key == app_key) {
            for v in &app.versions {
                offers.push(Offer { catalog: c.name.clone(), file: inside(&c.path, &v.file)?, version: v.clone() });
            }
        }
    }
    anyhow::ensure!(
        !offers.is_empty(),
        "no registered catalog has a plugin for {app_key} (catalogs: {})",
        catalogs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    offers.sort_by(|a, b| b.version.version.cmp(&a.version.version));
    let mut passed_over = Vec::new();
    for offer in offers {
        let v = &offer.version;
        if !ferry_runtime::contract::is_supported(&v.contract) {
            passed_over.push(format!("{} ({}): built for contract {}, which this Ferry does not serve", v.version, offer.catalog, v.contract));
        } else if !crate::assess::plugin_reads(&v.server_app_versions, server_app_version) {
            passed_over.push(format!("{} ({}): reads Server app versions {}, not {server_app_version}", v.version, offer.catalog, v.server_app_versions));
        } else {
            let reason = format!(
                "the newest version whose Server app range {} admits the installed {server_app_version}, from catalog {}",
                v.server_app_versions, offer.catalog
            );
            return Ok(Choice { chosen: offer, reason, passed_over });
        }
    }
    anyhow::bail!("no catalog version of {app_key} reads Server app version {server_app_version}:\n  {}", passed_over.join("\n  "))
}

/// The bytes of a chosen offer, refused when they are not the ones the index lists or
/// when the plugin's own (signed) manifest says otherwise than the index.
pub fn read_offer(offer: &Offer, app_key: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = ferry_runtime::component::read_plugin_file(&offer.file)?;
    let actual = ferry_runtime::component::sha256_hex(&bytes);
    let v = &offer.version;
    anyhow::ensure!(
        actual == v.sha256,
        "{} has sha256 {actual}, but catalog {} lists {}: the file or the index was changed; get the catalog again",
        offer.file.display(),
        offer.catalog,
        v.sha256
    );
    let info = ferry_runtime::component::inspect(&bytes).with_context(|| format!("{}", offer.file.display()))?;
    let manifest = info
        .manifests
        .first()
        .and_then(|m| ferry_manifest::Manifest::parse(m).ok())
        .with_context(|| format!("{} carries no valid manifest (`ferry plugin audit` says why)", offer.file.display()))?;
    let mismatches: Vec<String> = [
        ("app key", app_key.to_string(), manifest.server_app_key.clone()),
        ("version", v.version.to_string(), manifest.version.to_string()),
        ("contract", v.contract.to_string(), manifest.contract.to_string()),
        ("server_app_versions", v.server_app_versions.to_string(), manifest.server_app_versions.to_string()),
    ]
    .into_iter()
    .filter(|(_, index, plugin)| index != plugin)
    .map(|(what, index, plugin)| format!("{what}: index {index}, plugin {plugin}"))
    .collect();
    anyhow::ensure!(
        mismatches.is_empty(),
        "catalog {} describes {} otherwise than the plugin's own manifest ({}): the index is wrong; tell whoever keeps the catalog",
        offer.catalog,
        offer.file.display(),
        mismatches.join("; ")
    );
    Ok(bytes)
}
