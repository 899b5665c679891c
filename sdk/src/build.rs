//! Build-time half of the SDK: call [`embed_manifest`] from your plugin's `build.rs`.
//!
//! It reads `ferry-plugin.toml` beside your `Cargo.toml`, adds the plugin `version` (from
//! `Cargo.toml`) and the `contract` version (from this SDK), validates the result exactly
//! as the host will at install time, and writes it where [`export_plugin!`](crate::export_plugin)
//! embeds it into the component's `ferry:manifest` custom section.

use std::path::PathBuf;

use ferry_manifest::Manifest;

/// The manifest file a plugin keeps beside its `Cargo.toml`.
pub const MANIFEST_FILE: &str = "ferry-plugin.toml";

/// Read, validate and stage the plugin manifest. Panics with a clear message (which cargo
/// shows as the build error) when the manifest is invalid.
pub fn embed_manifest() {
    embed_manifest_for_contract(crate::CONTRACT);
}

/// [`embed_manifest`] for a plugin built against an older contract's WIT directly (with
/// `wit_bindgen`, not this SDK's bindings, which are always the newest contract).
pub fn embed_manifest_for_contract(contract: &str) {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    let path = dir.join(MANIFEST_FILE);
    println!("cargo:rerun-if-changed={}", path.display());
    let json = match manifest_json_for(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e} (declare the plugin's manifest there)", path.display())),
        contract,
    ) {
        Ok(json) => json,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("run from a build script"));
    std::fs::write(out.join("ferry-manifest.json"), json).expect("write the staged manifest");
}

/// The validated manifest JSON for a `ferry-plugin.toml` text, with `version` from the
/// crate being built and `contract` from this SDK.
pub fn manifest_json(toml_text: &str) -> Result<String, String> {
    manifest_json_for(toml_text, crate::CONTRACT)
}

fn manifest_json_for(toml_text: &str, contract: &str) -> Result<String, String> {
    let table: toml::Table = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    for derived in ["version", "contract"] {
        if table.contains_key(derived) {
            return Err(format!("remove `{derived}`: the SDK fills it in (version from Cargo.toml, contract from ferry-sdk)"));
        }
    }
    let mut value = serde_json::to_value(&table).map_err(|e| e.to_string())?;
    let object = value.as_object_mut().expect("a TOML table is an object");
    let version = std::env::var("CARGO_PKG_VERSION").map_err(|_| "CARGO_PKG_VERSION is not set".to_string())?;
    object.insert("version".into(), version.into());
    object.insert("contract".into(), contract.into());
    let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let manifest = Manifest::parse(&bytes).map_err(|e| e.to_string())?;
    Ok(manifest.to_json())
}
