//! Carries a valid manifest, but its `run` export takes a string and returns a number:
//! it can never be called as the contract's `run`. The audit must refuse it.

wit_bindgen::generate!({
    inline: r#"
        package ferry:migration@0.1.0;
        world plugin {
            export run: func(name: string) -> u32;
        }
    "#,
    world: "plugin",
});

#[cfg_attr(target_family = "wasm", link_section = "ferry:manifest")]
#[used]
static MANIFEST: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json")).len()] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/ferry-manifest.json"));

struct WrongRun;

impl Guest for WrongRun {
    fn run(name: String) -> u32 {
        name.len() as u32
    }
}

export!(WrongRun);
