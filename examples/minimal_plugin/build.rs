// Reads ferry-plugin.toml, validates it exactly as `ferry plugin install` will, and
// writes it where `export_plugin!` embeds it into the component.
fn main() {
    ferry_sdk::build::embed_manifest();
}
