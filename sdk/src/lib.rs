//! Write a ferry app-migration plugin.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2`. With this crate a whole
//! plugin is a struct that implements [`Plugin`], one [`export_plugin!`] line, a
//! `ferry-plugin.toml` that declares the manifest once, and a two-line `build.rs`:
//!
//! ```no_run
//! // build.rs (with ferry-sdk as a build-dependency, feature "build")
//! # #[cfg(feature = "build")]
//! fn main() { ferry_sdk::build::embed_manifest(); }
//! # #[cfg(not(feature = "build"))]
//! # fn main() {}
//! ```
//!
//! and the plugin itself:
//!
//! ```no_run
//! use ferry_sdk::{tables, upload, Error, MigrationDetails, Outcome, Plugin};
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
//! struct Note { id: i64, text: Option<String> }
//!
//! struct Notes;
//!
//! impl Plugin for Notes {
//!     fn run(_details: &MigrationDetails) -> Result<Outcome, Error> {
//!         let mut out = upload::JsonLines::new("notes.jsonl");
//!         for note in tables::read::<Note>("AO_0A1B2C_NOTE") {
//!             out.push(&note?)?;
//!         }
//!         out.finish()?;
//!         Ok(Outcome::Complete)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! (In a plugin crate, `ferry_sdk::export_plugin!(Notes);` then exports it; the macro
//! embeds the manifest that `build.rs` wrote.)
//!
//! What the SDK gives you:
//! - [`tables::read`]: stream your app's Active Objects table, deserialized into your
//!   own serde structs (the struct's fields are the columns read), in batches.
//! - [`mappings::iter`], [`mappings::lookup`] and [`mappings::lookup_ids`]: how server
//!   ids map to cloud ids, per [`mappings::Namespace`].
//! - [`product`]: spaces, the page tree, bodies, comments and users of the Server site.
//! - [`attachments`]: the attachments of pages and blog posts, and their bytes.
//! - [`upload::JsonLines`]: upload records as JSON lines, chunked under the run's quota.
//! - [`progress`] and [`log`]: what the admin sees while your app migrates.
//!
//! Every read goes through the scopes the admin granted. A read the grant does not cover
//! returns [`Error::Denied`] naming the missing scope; it never crashes your plugin.
#![deny(missing_docs)]

#[allow(missing_docs, clippy::too_many_arguments)]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "wit/0.2.0",
        default_bindings_module: "ferry_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
    });
}

pub mod attachments;
#[cfg(feature = "build")]
pub mod build;
mod error;
pub mod log;
pub mod mappings;
mod paging;
pub mod product;
mod row;
pub mod tables;
pub mod upload;

pub use bindings::ferry::migration::types::{MigrationDetails, Outcome, Scope};
pub use error::Error;
pub use ferry_manifest as manifest;

/// The `ferry:migration` contract version this SDK generates bindings for. The build
/// helper writes it into the manifest, and the host checks it at install time.
pub const CONTRACT: &str = "0.2.0";

/// A migration plugin: the host calls [`Plugin::run`] once per app migration.
pub trait Plugin {
    /// Move the app's data. Return [`Outcome::Complete`] when everything moved,
    /// [`Outcome::Incomplete`] with a reason when some of it could not, or an error
    /// when the migration failed.
    fn run(details: &MigrationDetails) -> Result<Outcome, Error>;
}

/// Report progress to the admin: `percent` from 0 to 100 and a short message.
pub fn progress(percent: u8, message: &str) {
    bindings::ferry::migration::progress::report(percent.min(100), message);
}

/// Export a [`Plugin`] implementation and embed the manifest written by
/// [`build::embed_manifest`](crate::build) into the component.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        #[cfg_attr(target_family = "wasm", link_section = "ferry:manifest")]
        #[used]
        static __FERRY_MANIFEST: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json")).len()] =
            *include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json"));

        #[doc(hidden)]
        pub struct __FerryPluginExport;

        impl $crate::bindings::Guest for __FerryPluginExport {
            fn run(details: $crate::MigrationDetails) -> ::core::result::Result<$crate::Outcome, ::std::string::String> {
                <$plugin as $crate::Plugin>::run(&details).map_err(|e| e.to_string())
            }
        }

        $crate::bindings::__export_plugin_world!(__FerryPluginExport with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn contract_constant_matches_the_wit_package_version() {
        let wit = include_str!("../wit/0.2.0/migration.wit");
        let line = wit.lines().find(|l| l.starts_with("package ")).unwrap();
        assert_eq!(line, format!("package ferry:migration@{};", super::CONTRACT));
    }
}
