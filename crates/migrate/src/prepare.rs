//! Prepare your apps: "done" is refused until every app has a decision, every needed app
//! is installed in the cloud, and every needed app with an automated path has current
//! consent. [`missing_items`] names what is left.

use std::collections::HashMap;

use serde::Serialize;

use ferry_apps::assess::{self, Decision, MigrationPath};
use ferry_apps::consent::{self, ConsentStatus};
use ferry_apps::registry::Registry;
use ferry_core::state::StateDb;

/// One item that keeps preparation from being done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// The app.
    pub app: String,
    /// What is missing, and how to fix it.
    pub missing: String,
}

/// What keeps preparation from being done, app by app.
pub async fn missing_items(db: &StateDb, cloud: Option<&str>) -> anyhow::Result<Vec<Missing>> {
    let apps = assess::assessed_apps(db).await?;
    let assessed = assess::assess(db, &apps).await?;
    let consents: HashMap<String, ConsentStatus> = consent::list(db).await?.into_iter().map(|c| (c.app, c.status)).collect();
    let registry = Registry::new(db.clone());
    let mut site = None;
    let mut missing = Vec::new();
    for a in &assessed {
        let item = |text: String| Missing { app: a.key.clone(), missing: text };
        match a.decision {
            Decision::NotAssessed => {
                missing.push(item("no decision: `ferry apps decide APP needed|not-needed|alternative`".into()));
                continue;
            }
            Decision::NotNeeded | Decision::Alternative => continue,
            Decision::Needed => {}
        }
        if let Some(plugin) = registry.get(&a.key).await? {
            if site.is_none() {
                site = Some(crate::cloud::get_or_only(db, cloud).await?);
            }
            let site = site.as_ref().expect("set above");
            if crate::cloud::app_confirmed(db, &site.target.url, &plugin.cloud_app_key).await?.is_none() {
                missing.push(item(format!(
                    "cloud app {0} is not confirmed on {1}: install it there (Apps → Find new apps), then `ferry apps installed {0} --cloud {2}`",
                    plugin.cloud_app_key, site.target.url, site.name
                )));
            }
        }
        if a.path == MigrationPath::Automated {
            match consents.get(&a.key) {
                Some(ConsentStatus::Given) => {}
                Some(ConsentStatus::Outdated) => missing.push(item(format!(
                    "consent is outdated (plugin {} is installed): review the changes with `ferry consent show {}`, then agree",
                    a.plugin_version.as_deref().unwrap_or("?"),
                    a.key
                ))),
                _ => missing.push(item(format!("no consent: read `ferry consent show {0}`, then `ferry consent agree {0}`", a.key))),
            }
        }
    }
    Ok(missing)
}
