//! The apps installed on the Server site: `plugindata` rows, each holding the app's JAR,
//! whose `atlassian-plugin.xml` names the app, its version and its vendor.

use std::io::Read;

use futures_util::TryStreamExt;
use serde::Serialize;

use super::{Source, SourceError};

#[cfg(test)]
mod tests {
    #[test]
    fn the_state_map_names_disabled_apps() {
        let xml = "<map><entry><string>a.b</string><boolean>false</boolean></entry><entry><string>c.d</string><boolean>true</boolean></entry></map>";
        assert_eq!(super::disabled_in_state_map(xml), ["a.b"]);
        assert!(super::disabled_in_state_map("<not xml").is_empty());
    }
}

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
    /// Whether the app is enabled (the plugin system's state map lists it `false` when not).
    pub enabled: bool,
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
    let version = info.and_then(|i| i.children().find(|n| n.has_tag_name("version"))).and_then(|v| v.text()).unwrap_or_default().trim().to_string();
    let vendor = info.and_then(|i| i.children().find(|n| n.has_tag_name("vendor"))).and_then(|v| v.attribute("name")).unwrap_or_default().to_string();
    Ok((name, version, vendor))
}

/// The app keys the plugin system's state map marks disabled. The map is XStream XML:
/// `<map><entry><string>KEY</string><boolean>false</boolean></entry>…</map>`.
pub fn disabled_in_state_map(xml: &str) -> Vec<String> {
    let Ok(doc) = roxmltree::Document::parse(xml) else { return Vec::new() };
    doc.descendants()
        .filter(|n| n.has_tag_name("entry"))
        .filter_map(|entry| {
            let mut children = entry.children().filter(|c| c.is_element());
            let key = children.next().filter(|k| k.has_tag_name("string"))?.text()?.trim().to_string();
            let value = children.next().filter(|v| v.has_tag_name("boolean"))?.text()?.trim().to_string();
            (value == "false").then_some(key)
        })
        .collect()
}

impl Source {
    /// The app keys disabled on the site. A site without the `bandana` table, or without
    /// the state map, has every app enabled.
    async fn disabled_apps(&self) -> Vec<String> {
        // Read through the same bounded helper as the site's other settings.
        let found = self.bandana("plugin.manager.state.Map").await;
        match found {
            Ok(Some(xml)) => disabled_in_state_map(&xml),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::debug!("no plugin state map (every app counts as enabled): {e}");
                Vec::new()
            }
        }
    }

    /// The user-installed apps, by key.
    pub async fn installed_apps(&self) -> Result<Vec<InstalledApp>, SourceError> {
        let disabled = self.disabled_apps().await;
        let mut rows = self.query("SELECT pluginkey, filename, data FROM plugindata ORDER BY pluginkey").fetch();
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
            let enabled = !disabled.contains(&key);
            apps.push(InstalledApp { name: if name.is_empty() { key.clone() } else { name }, key, version, vendor, enabled, file_name, problem });
        }
        Ok(apps)
    }
}
