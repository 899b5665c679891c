//! The ferry host: reads a Server site, runs vendor plugins in a sandbox that enforces
//! the admin's consent, and keeps the records a security reviewer audits.
#![deny(missing_docs)]

pub mod assess;
/// Benchmarks behind `ferry bench`.
pub mod bench;
pub mod checks;
/// The `ferry` command line.
pub mod cli;
pub mod cloud;
pub mod consent;
/// Typed refusals (crate `ferry-core`).
pub use ferry_core::declined;
pub mod demo;
/// The Cloud site client (crate `ferry-destination`).
pub use ferry_destination as destination;
pub mod migrate;
pub mod plan;
pub mod plugins;
pub mod prepare;
/// The sample Server sites (crate `ferry-sample`).
pub use ferry_sample as sample;
pub mod sites;
/// Reading a Server site (crate `ferry-source`).
pub use ferry_source as source;
pub mod stages;
/// The state DB and mappings (crate `ferry-core`).
pub use ferry_core::state;
/// The staging Cloud site (crate `ferry-staging`).
pub use ferry_staging as staging;
pub mod terminal;
pub mod web;

pub use ferry_core::Declined;
