#![allow(clippy::too_many_arguments)] // the bindings wit-bindgen generates for contract 0.1
//! Built from `wit/0.1.0` with wit-bindgen, not the SDK: counts the ratings and uploads
//! the count as `count.txt`.

wit_bindgen::generate!({ world: "plugin", path: "../../../wit/0.1.0" });

use ferry::migration::{app_data, app_tables, progress};

struct V01;

impl Guest for V01 {
    fn run(_details: MigrationDetails) -> Result<Outcome, String> {
        let count = app_tables::count("AO_530061_RATING").map_err(|e| format!("{e:?}"))?;
        app_data::upload("count.txt", count.to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
        progress::report(100, "counted through contract 0.1");
        Ok(Outcome::Complete)
    }
}

export!(V01);

#[cfg_attr(target_family = "wasm", link_section = "ferry:manifest")]
#[used]
static MANIFEST: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json")).len()] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json"));
