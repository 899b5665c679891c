//! App migrations after the core migration: each installed plugin runs in its sandbox,
//! reads the mappings the core migration recorded, and uploads to its cloud app.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::destination::Destination;
use crate::plan::Plan;
use crate::plugins::engine::PluginEngine;
use crate::plugins::limits::Limits;
use crate::plugins::local::{run_installed, LocalRun};
use crate::plugins::registry::Registry;
use crate::plugins::uploads::DestinationSink;
use crate::source::Source;
use crate::state::mappings::MappingSource;
use crate::state::StateDb;

/// What one app's migration did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppOutcome {
    /// Server app key.
    pub app: String,
    /// Plugin version.
    pub version: String,
    /// `complete`, `incomplete`, `failed` or `timed-out`.
    pub status: String,
    /// Why, when not complete.
    pub message: Option<String>,
    /// The transfer the uploads are filed under.
    pub transfer_id: String,
    /// Rows read per scope.
    pub rows_per_scope: std::collections::BTreeMap<String, u64>,
    /// Denied calls.
    pub denied: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
}

/// Run every installed plugin for the spaces the plan migrated. Only after a core
/// migration that ended `finished` or `incomplete`.
pub async fn migrate_apps(
    db: &StateDb,
    engine: Arc<PluginEngine>,
    plan: &Plan,
    dest: &Destination,
    spaces: Vec<String>,
    limits: Limits,
) -> anyhow::Result<Vec<AppOutcome>> {
    let mut outcomes = Vec::new();
    for plugin in Registry::new(db.clone()).list().await? {
        let transfer_id = crate::plugins::local::new_id();
        let run = LocalRun {
            source: Source::connect(&plan.source).await?,
            uploads: Box::new(DestinationSink::new(dest.clone(), transfer_id.clone(), tokio::runtime::Handle::current())),
            limits,
            spaces: Some(spaces.clone()),
            mappings: MappingSource::State { db: db.clone(), destination: super::destination_key(&plan.destination) },
            grant: None,
            on_progress: None,
            name: Some(plan.name.clone()),
            transfer_id: Some(transfer_id),
            destination_url: Some(plan.destination.clone()),
        };
        let report = run_installed(db, engine.clone(), &plugin.server_app_key, run).await?;
        outcomes.push(AppOutcome {
            app: plugin.server_app_key.clone(),
            version: plugin.version.clone(),
            status: report.status.name().to_string(),
            message: report.message.clone(),
            transfer_id: report.run_id.clone(),
            rows_per_scope: report.access.iter().filter(|(k, _)| k.as_str() != "none").map(|(k, u)| (k.clone(), u.rows)).collect(),
            denied: report.access.values().map(|u| u.denied).sum(),
            uploaded_bytes: report.uploaded_bytes,
        });
    }
    Ok(outcomes)
}
