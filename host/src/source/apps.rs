//! The apps installed on the Server site: `plugindata` rows, each holding the app's JAR,
//! whose `atlassian-plugin.xml` names the app, its version and its vendor.

use std::io::Read;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::Row;

use super::{Source, SourceError};

/// A user-installed app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledApp {
    /// The app key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its installed version.
    pub version: String,
    /// Its vendor.
    pub vendor: String,
    /// The JAR's file name.
    pub file_name: String,
    /// Why the descriptor could not be read, when it could not (the key still counts).
    pub problem: Option<String>,
}

/// Name, version and vendor from an app JAR's `atlassian-plugin.xml`.
pub fn read_descriptor(jar: &[u8]) -> Result<(String, String, String), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(jar)).map_err(|e| format!("not a JAR: {e}"))?;
    let mut xml = String::new();
    archive
        .by_name("atlassian-plugin.xml")
        .map_err(|_| "the JAR has no atlassian-plugin.xml".to_string())?
        .read_to_string(&mut xml)
        .map_err(|e| format!("atlassian-plugin.xml: {e}"))?;
    let doc = roxmltree::Document::parse(&xml).map_err(|e| format!("atlassian-plugin.xml: {e}"))?;
    let root = doc.root_element();
    let name = root.attribute("name").unwrap_or_default().to_string();
    let info = root.children().find(|n| n.has_tag_name("plugin-info"));
    let version = info
        .and_then(|i| i.children().find(|n| n.has_tag_name("version")))
        .and_then(|v| v.text())
        .unwrap_or_default()
        .trim()
        .to_string();
    let vendor = info
        .and_then(|i| i.children().find(|n| n.has_tag_name("vendor")))
        .and_then(|v| v.attribute("name"))
        .unwrap_or_default()
        .to_string();
    Ok((name, version, vendor))
}

impl Source {
    /// The user-installed apps, by key.
    pub async fn installed_apps(&self) -> Result<Vec<InstalledApp>, SourceError> {
        let mut rows = sqlx::query("SELECT pluginkey, filename, data FROM plugindata ORDER BY pluginkey").fetch(self.pool());
        let mut apps = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let key: String = r.try_get(0)?;
            let file_name: String = r.try_get(1)?;
            let jar: Option<Vec<u8>> = r.try_get(2)?;
            let (name, version, vendor, problem) = match jar.as_deref().map(read_descriptor) {
                Some(Ok((name, version, vendor))) => (name, version, vendor, None),
                Some(Err(problem)) => (String::new(), String::new(), String::new(), Some(problem)),
                None => (String::new(), String::new(), String::new(), Some("no JAR stored".to_string())),
            };
            apps.push(InstalledApp { name: if name.is_empty() { key.clone() } else { name }, key, version, vendor, file_name, problem });
        }
        Ok(apps)
    }
}
