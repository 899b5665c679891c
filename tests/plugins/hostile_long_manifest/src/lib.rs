//! Carries a manifest whose `name` is 200 KiB long. The audit must refuse it by the field's
//! maximum length, before it reaches the registry (where listing it would be slow).

use ferry_sdk::bindings::{Guest, MigrationDetails, Outcome};

#[cfg_attr(target_family = "wasm", link_section = "ferry:manifest")]
#[used]
static MANIFEST: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/long-manifest.json")).len()] = *include_bytes!(concat!(env!("OUT_DIR"), "/long-manifest.json"));

struct LongManifest;

impl Guest for LongManifest {
    fn run(_: MigrationDetails) -> Result<Outcome, String> {
        Ok(Outcome::Complete)
    }
}

ferry_sdk::bindings::__export_plugin_world!(LongManifest with_types_in ferry_sdk::bindings);
