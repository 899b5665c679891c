//! Carries a hand-written, malformed manifest instead of the SDK's validated one.

use ferry_sdk::bindings::{Guest, MigrationDetails, Outcome};

#[cfg_attr(target_family = "wasm", link_section = "ferry:manifest")]
#[used]
static MANIFEST: [u8; 40] = *br#"{"server_app_key": 42, "scopes": "all"} "#;

struct BadManifest;

impl Guest for BadManifest {
    fn run(_: MigrationDetails) -> Result<Outcome, String> {
        Ok(Outcome::Complete)
    }
}

ferry_sdk::bindings::__export_plugin_world!(BadManifest with_types_in ferry_sdk::bindings);
