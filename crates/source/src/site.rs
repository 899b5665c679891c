//! Which Server site a database is: an identity that survives restarts, upgrades and URL
//! changes, so several Server sites can merge into one cloud without one site's entities
//! being taken for another's (their database ids overlap).
//!
//! - Confluence keeps its server id in `BANDANA` (`confluence.server.id`), made when the
//!   site was installed and carried by every backup and restore of its database.
//! - Jira keeps its server id in `propertyentry` / `propertystring` (`jira.sid.key`).
//! - A database without one (a hand-made fixture, a damaged table) gets a fingerprint of
//!   its oldest rows, which no later work on the site changes; the admin sees it and may
//!   give it a name (`ferry site name`).
//!
//! A copy of a database is the same site (its server id travels with it): migrate one or
//! the other, not both.
//!
//! Also read here: the site's own base URL (Confluence's `atlassian.confluence.settings`,
//! Jira's `jira.baseurl`), which tells this site's links from links to other sites.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{bounded_to, Product, Source, SourceError};

/// How a site's identity was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityOrigin {
    /// The server id the product keeps in its database.
    ServerId,
    /// A fingerprint of the database's oldest rows (no server id was found).
    Fingerprint,
}

impl std::fmt::Display for IdentityOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdentityOrigin::ServerId => "server-id",
            IdentityOrigin::Fingerprint => "fingerprint",
        })
    }
}

/// A Server site's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteIdentity {
    /// The id that keys the site's mappings: `confluence:<server id>`, `jira:<server id>`,
    /// or `<product>:fingerprint:<16 hex digits>`.
    pub id: String,
    /// How it was found.
    pub origin: IdentityOrigin,
    /// The site's own base URL, when the database records one.
    pub base_url: Option<String>,
}

/// The text of an XStream-serialised string value (`<string>ABCD</string>`), or the value
/// as it is when it is not wrapped.
fn xstream_string(value: &str) -> String {
    let value = value.trim();
    value.strip_prefix("<string>").and_then(|v| v.strip_suffix("</string>")).unwrap_or(value).trim().to_string()
}

/// The `<baseUrl>` of Confluence's global settings document.
fn settings_base_url(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let node = doc.descendants().find(|n| n.has_tag_name("baseUrl"))?;
    let url = node.text()?.trim().trim_end_matches('/').to_string();
    (!url.is_empty()).then_some(url)
}

/// The longest settings value read (characters): the global settings document is a few
/// kilobytes; a larger one is not the product's and is not read.
const MAX_SETTING_CHARS: i64 = 1 << 20;

/// A server id as ferry keeps it: printable ASCII without spaces, at most 64 characters.
fn usable_server_id(id: &str) -> Option<&str> {
    let id = id.trim();
    (!id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_graphic())).then_some(id)
}

impl Source {
    /// The site's identity: its server id, else a fingerprint of its oldest rows.
    pub async fn site_identity(&self) -> Result<SiteIdentity, SourceError> {
        let product = self.product();
        let base_url = self.base_url().await?;
        if let Some(id) = self.server_id().await? {
            return Ok(SiteIdentity { id: format!("{product}:{id}"), origin: IdentityOrigin::ServerId, base_url });
        }
        let fingerprint = self.fingerprint().await?;
        Ok(SiteIdentity { id: format!("{product}:fingerprint:{fingerprint}"), origin: IdentityOrigin::Fingerprint, base_url })
    }

    /// The site's own base URL as the product records it (without a trailing `/`).
    pub async fn base_url(&self) -> Result<Option<String>, SourceError> {
        Ok(match self.product() {
            Product::Confluence => self.bandana("atlassian.confluence.settings").await?.as_deref().and_then(settings_base_url),
            Product::Jira => self.jira_property("jira.baseurl").await?.map(|u| u.trim().trim_end_matches('/').to_string()).filter(|u| !u.is_empty()),
        })
    }

    async fn server_id(&self) -> Result<Option<String>, SourceError> {
        let raw = match self.product() {
            Product::Confluence => self.bandana("confluence.server.id").await?.map(|v| xstream_string(&v)),
            Product::Jira => self.jira_property("jira.sid.key").await?,
        };
        Ok(raw.as_deref().and_then(usable_server_id).map(str::to_string))
    }

    /// A global `BANDANA` value of Confluence (the plugin state map, the server id, the
    /// settings document), at most [`MAX_SETTING_CHARS`] characters.
    pub(crate) async fn bandana(&self, key: &str) -> Result<Option<String>, SourceError> {
        if !self.has_table("bandana").await? {
            return Ok(None);
        }
        let value = bounded_to("bandanavalue", MAX_SETTING_CHARS);
        self.setting(&format!("SELECT {value} FROM bandana WHERE bandanacontext = '_GLOBAL' AND bandanakey = $1 ORDER BY bandanaid LIMIT 1"), key).await
    }

    /// A string application property of Jira (`jira.properties`), at most
    /// [`MAX_SETTING_CHARS`] characters.
    async fn jira_property(&self, key: &str) -> Result<Option<String>, SourceError> {
        if !self.has_table("propertyentry").await? || !self.has_table("propertystring").await? {
            return Ok(None);
        }
        let value = bounded_to("s.propertyvalue", MAX_SETTING_CHARS);
        let sql = format!(
            "SELECT {value} FROM propertyentry e JOIN propertystring s ON s.id = e.id \
             WHERE e.entity_name = 'jira.properties' AND e.property_key = $1 ORDER BY e.id LIMIT 1"
        );
        self.setting(&sql, key).await
    }

    /// The text `sql` selects for `key`, if any.
    async fn setting(&self, sql: &str, key: &str) -> Result<Option<String>, SourceError> {
        let row = self.query(sql).bind(key).fetch_optional().await?;
        Ok(row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten()))
    }

    /// sha256 (16 hex digits) of the site's oldest rows: the first spaces and content of
    /// Confluence, the first projects and issues of Jira, and the first directory's users.
    /// Work on the site adds rows; it does not change the oldest ones.
    async fn fingerprint(&self) -> Result<String, SourceError> {
        // (id, text) of the oldest rows of each table; no SQL concatenation, which the
        // engines spell differently.
        let queries: &[&str] = match self.product() {
            Product::Confluence => &[
                "SELECT CAST(spaceid AS BIGINT), spacekey FROM spaces ORDER BY spaceid LIMIT 3",
                "SELECT CAST(contentid AS BIGINT), title FROM content ORDER BY contentid LIMIT 3",
                "SELECT CAST(id AS BIGINT), lower_user_name FROM cwd_user ORDER BY id LIMIT 3",
            ],
            Product::Jira => &[
                "SELECT CAST(id AS BIGINT), pkey FROM project ORDER BY id LIMIT 3",
                "SELECT CAST(id AS BIGINT), summary FROM jiraissue ORDER BY id LIMIT 3",
                "SELECT CAST(id AS BIGINT), lower_user_name FROM cwd_user ORDER BY id LIMIT 3",
            ],
        };
        let mut hash = Sha256::new();
        hash.update(self.product().to_string());
        for sql in queries {
            hash.update(b"\n");
            for row in self.query(*sql).fetch_all().await? {
                let id: i64 = row.try_get(0)?;
                let text: Option<String> = row.try_get(1)?;
                hash.update(id.to_le_bytes());
                hash.update(text.unwrap_or_default());
                hash.update(b"\0");
            }
        }
        Ok(hex::encode(&hash.finalize()[..8]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_id_is_read_from_its_xstream_wrapping() {
        assert_eq!(xstream_string("<string>B4KX-91QZ-ZZ07-LM2A</string>"), "B4KX-91QZ-ZZ07-LM2A");
        assert_eq!(xstream_string(" BQ2Z-1 "), "BQ2Z-1");
    }

    #[test]
    fn an_unusable_server_id_is_not_taken() {
        assert_eq!(usable_server_id("B4KX-91QZ"), Some("B4KX-91QZ"));
        assert_eq!(usable_server_id(""), None);
        assert_eq!(usable_server_id("has space"), None);
        assert_eq!(usable_server_id(&"x".repeat(65)), None);
    }

    #[test]
    fn the_base_url_comes_from_the_settings_document() {
        let xml = "<settings><doNotSave>false</doNotSave><baseUrl>https://wiki.example.com/confluence/</baseUrl></settings>";
        assert_eq!(settings_base_url(xml).as_deref(), Some("https://wiki.example.com/confluence"));
        assert_eq!(settings_base_url("<settings/>"), None);
        assert_eq!(settings_base_url("not xml"), None);
    }
}
