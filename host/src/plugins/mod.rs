//! The plugin runtime: one sandboxed WebAssembly component per Marketplace app.
//!
//! - [`component`] reads a component without running it; [`audit`] decides whether
//!   ferry accepts it (install time).
//! - [`engine`] compiles (with an on-disk cache) and links only what the grant allows
//!   (link time).
//! - [`gate`] is the one scope check and audit write every host function in [`host`]
//!   goes through (call time).
//! - [`run`] runs one app migration under [`limits`] and reports how it ended.
//! - [`registry`] keeps the installed plugins; [`signature`] and [`trust`] say who
//!   signed each one and whether this Ferry trusts that vendor key; [`catalog`] finds
//!   the right version in local catalog folders.

pub mod audit;
pub mod catalog;
pub mod component;
pub mod contract;
pub mod engine;
pub mod gate;
pub mod host;
pub mod host_v0_2;
pub mod journal;
pub mod limits;
pub mod local;
pub mod output;
pub mod registry;
pub mod run;
pub mod scaffold;
pub mod signature;
pub mod trust;
pub mod uploads;

pub use contract::v0_1::ferry::migration::types::MigrationDetails;
