//! The plugin sandbox: one WebAssembly component per Marketplace app, run with no
//! filesystem, network or environment, under the scopes the admin granted.
//!
//! - [`component`] reads a component without running it (its imports, exports and
//!   embedded manifest); [`signature`] checks who signed it.
//! - [`engine`] compiles (with an on-disk cache) and links only what the grant allows,
//!   against the [`contract`] version the component imports (link time).
//! - [`gate`] is the one scope check and audit write every host function in [`host`]
//!   goes through (call time). The host functions are written once, on
//!   version-neutral types; each served contract version is a small adapter from its
//!   generated bindings: [`since_v0_1`], [`since_v0_2`] (contract 0.3 is one new file).
//! - [`run`] runs one app migration under [`limits`], collects its [`output`], and
//!   hands each upload to an [`uploads::UploadSink`] the caller chooses.
//!
//! Plugin management (the registry, trust, catalogs, consent) lives above this crate
//! in `ferry-apps`; nothing here reads the state DB except the mappings a grant allows.
#![deny(missing_docs)]

pub mod component;
pub mod contract;
pub mod engine;
pub mod gate;
pub mod host;
pub mod limits;
pub mod output;
pub mod run;
pub mod signature;
pub mod since_v0_1;
pub mod since_v0_2;
pub mod uploads;

pub use host::MigrationDetails;
