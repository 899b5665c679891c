//! The `ferry` command: the command line, the demo and the benchmarks, over the crates
//! that do the work. Each crate is re-exported here under the path it had when this
//! was one crate, so `ferry_host::plan::Plan` and the like keep working.
//!
//! - `ferry-core`: the state DB, mappings, ids, identity rules, refusals;
//! - `ferry-source` (Server databases) and `ferry-destination` (the Cloud client), with
//!   `ferry-cloud-wire` and `ferry-storage-format` under them;
//! - `ferry-runtime` (the plugin sandbox) and `ferry-apps` (plugins, consent, Stages);
//! - `ferry-migrate` (plans, checks, the migrator, the report);
//! - `ferry-web` (`ferry serve`);
//! - `ferry-staging` (the embedded Cloud site) and `ferry-sample` (sample Server sites).
#![deny(missing_docs)]

/// Benchmarks behind `ferry bench`.
pub mod bench;
/// The `ferry` command line.
pub mod cli;
pub mod demo;
pub mod terminal;

/// The wire of app transfers to vendors' cloud apps (crate `ferry-app-transfer`).
pub use ferry_app_transfer as app_transfer;
/// Assess your apps (crate `ferry-apps`).
pub use ferry_apps::assess;
/// Consent (crate `ferry-apps`).
pub use ferry_apps::consent;
/// Stages (crate `ferry-apps`).
pub use ferry_apps::stages;
/// Typed refusals (crate `ferry-core`).
pub use ferry_core::declined;
/// The state DB and mappings (crate `ferry-core`).
pub use ferry_core::state;
/// The Cloud site client (crate `ferry-destination`).
pub use ferry_destination as destination;
/// The migration engine (crate `ferry-migrate`).
pub use ferry_migrate as migrate;
/// The pre-migration checks (crate `ferry-migrate`).
pub use ferry_migrate::checks;
/// Connected Cloud sites (crate `ferry-migrate`).
pub use ferry_migrate::cloud;
/// Plans (crate `ferry-migrate`).
pub use ferry_migrate::plan;
/// What a plan still needs (crate `ferry-migrate`).
pub use ferry_migrate::prepare;
/// Server sites the admin added (crate `ferry-migrate`).
pub use ferry_migrate::sites;
/// The sample Server sites (crate `ferry-sample`).
pub use ferry_sample as sample;
/// Reading a Server site (crate `ferry-source`).
pub use ferry_source as source;
/// The staging Cloud site (crate `ferry-staging`).
pub use ferry_staging as staging;
/// `ferry serve` (crate `ferry-web`).
pub use ferry_web as web;

pub use ferry_core::Declined;

/// The plugin runtime (crate `ferry-runtime`) and plugin management (crate `ferry-apps`).
pub mod plugins {
    pub use ferry_apps::{audit, catalog, journal, local, registry, scaffold, trust};
    pub use ferry_runtime::{component, contract, engine, gate, host, limits, output, run, signature, since_v0_1, since_v0_2, uploads, MigrationDetails};
}
