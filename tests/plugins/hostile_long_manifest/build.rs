//! Writes a manifest whose name is 200 KiB long (the SDK's own build step would refuse it).

fn main() {
    let name = "A".repeat(200 << 10);
    let json = format!(
        r#"{{"server_app_key":"com.example.confluence.page-ratings","cloud_app_key":"com.example.page-ratings.cloud","name":"{name}","vendor":"Ferry tests","version":"0.1.0","contract":"0.1.0","server_app_versions":"*","privacy_policy":"https://ferry.example/privacy","scopes":[],"tables":{{}}}}"#
    );
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("long-manifest.json"), json).expect("write the manifest");
}
