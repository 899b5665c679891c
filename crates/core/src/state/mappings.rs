//! Id mappings: how server entities map to cloud entities, per destination and Server
//! site.
//!
//! The core migration records each mapping as its entity lands; plugins read them
//! through the `migration-tracing-*` scopes. A local plugin test can instead load a
//! fixture file of mappings (JSON lines of `namespace`, `server_id`, `cloud_id`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde::Deserialize;
use sqlx::Row;

use super::StateDb;

/// One mapping, as kept in a fixture file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MappingRecord {
    /// Namespace, e.g. `confluence:page`.
    pub namespace: String,
    /// The server-side id.
    pub server_id: String,
    /// The cloud-side id.
    pub cloud_id: String,
}

/// The condition that limits content mappings to a migration's spaces (bound to a JSON
/// array of space keys): a content mapping is in the space it sits in (`container`), a
/// space mapping is its own key. Identity mappings are not limited.
const WITHIN: &str = "(namespace NOT LIKE 'confluence:%' \
     OR COALESCE(container, CASE WHEN namespace = 'confluence:space' THEN server_id END) IN (SELECT value FROM json_each(?)))";

fn spaces_json(spaces: &BTreeSet<String>) -> String {
    serde_json::to_string(spaces).expect("strings serialise")
}

/// Where a run's mappings come from. A fixture of a local test is served as given.
#[derive(Clone, Debug)]
pub enum MappingSource {
    /// The state DB, for one Server site in one destination.
    State {
        /// The state DB.
        db: StateDb,
        /// The destination the mappings belong to.
        destination: String,
        /// The Server site they came from (the host's `sites`).
        site: String,
    },
    /// A fixed set, namespace → server id → cloud id.
    Fixed(Arc<BTreeMap<String, BTreeMap<String, String>>>),
}

/// The forms of a user's server id in the `identity:user` namespace.
pub const USER_ID_FORMS: [&str; 2] = ["confluence.userkey/", "email/"];

impl MappingSource {
    /// Load a fixture file of JSON lines (a user whose server id has neither form of
    /// [`USER_ID_FORMS`] is refused, naming its line).
    pub fn from_file(path: &Path) -> anyhow::Result<MappingSource> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the mappings file {}", path.display()))?;
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: MappingRecord = serde_json::from_str(line)
                .with_context(|| format!("{} line {}: expected {{\"namespace\", \"server_id\", \"cloud_id\"}}", path.display(), n + 1))?;
            // A user is looked up by `confluence.userkey/KEY` or `email/ADDRESS`: any other
            // server id would never be matched, silently.
            if record.namespace == crate::ns::USER && !USER_ID_FORMS.iter().any(|form| record.server_id.starts_with(form)) {
                anyhow::bail!(
                    "{} line {}: the user {:?} would never be matched: a user's server_id is confluence.userkey/KEY or email/ADDRESS (e.g. \"confluence.userkey/{}\")",
                    path.display(),
                    n + 1,
                    record.server_id,
                    record.server_id
                );
            }
            map.entry(record.namespace).or_default().insert(record.server_id, record.cloud_id);
        }
        Ok(MappingSource::Fixed(Arc::new(map)))
    }

    /// Up to `limit` mappings of `namespace` with server id after `after`, in order.
    /// Content mappings (`confluence:*`) are served only within the spaces `within`.
    pub async fn page(&self, namespace: &str, after: Option<&str>, limit: u32, within: &BTreeSet<String>) -> anyhow::Result<Vec<(String, String)>> {
        match self {
            MappingSource::State { db, destination, site } => {
                let sql = format!(
                    "SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND server_id > ? AND {WITHIN} \
                     ORDER BY server_id LIMIT ?"
                );
                let rows = sqlx::query(&sql)
                    .bind(destination)
                    .bind(site)
                    .bind(namespace)
                    .bind(after.unwrap_or(""))
                    .bind(spaces_json(within))
                    .bind(i64::from(limit))
                    .fetch_all(db.pool())
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            }
            MappingSource::Fixed(map) => {
                let Some(ns) = map.get(namespace) else { return Ok(Vec::new()) };
                let range = match after {
                    Some(a) => ns.range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                    None => ns.range::<str, _>(..),
                };
                Ok(range.take(limit as usize).map(|(s, c)| (s.clone(), c.clone())).collect())
            }
        }
    }

    /// The mappings of the given server ids that exist (content mappings only within the
    /// spaces `within`).
    pub async fn lookup(&self, namespace: &str, server_ids: &[String], within: &BTreeSet<String>) -> anyhow::Result<Vec<(String, String)>> {
        match self {
            MappingSource::State { db, destination, site } => {
                let mut found = Vec::new();
                for chunk in server_ids.chunks(500) {
                    let marks = vec!["?"; chunk.len()].join(", ");
                    let sql = format!(
                        "SELECT server_id, cloud_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ? AND {WITHIN} AND server_id IN ({marks})"
                    );
                    let mut q = sqlx::query(&sql).bind(destination).bind(site).bind(namespace).bind(spaces_json(within));
                    for id in chunk {
                        q = q.bind(id);
                    }
                    found.extend(q.fetch_all(db.pool()).await?.iter().map(|r| (r.get(0), r.get(1))));
                }
                Ok(found)
            }
            MappingSource::Fixed(map) => {
                let Some(ns) = map.get(namespace) else { return Ok(Vec::new()) };
                Ok(server_ids.iter().filter_map(|id| ns.get(id).map(|c| (id.clone(), c.clone()))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_user_without_a_known_form_is_refused_naming_its_line() {
        let path = std::env::temp_dir().join(format!("ferry-mappings-{}.jsonl", std::process::id()));
        let good = r#"{"namespace": "identity:user", "server_id": "confluence.userkey/ff80", "cloud_id": "acc-1"}"#;
        let also = r#"{"namespace": "identity:user", "server_id": "email/ada@example.com", "cloud_id": "acc-1"}"#;
        std::fs::write(&path, format!("{good}\n{also}\n")).unwrap();
        assert!(MappingSource::from_file(&path).is_ok());
        let bad = r#"{"namespace": "identity:user", "server_id": "ff80", "cloud_id": "acc-1"}"#;
        std::fs::write(&path, format!("{good}\n{bad}\n")).unwrap();
        let err = MappingSource::from_file(&path).err().unwrap().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("line 2") && err.contains("confluence.userkey/ff80"), "{err}");
    }
}
