//! Reading a plugin component without running it: hash, imports, exports and the
//! embedded manifest.

use sha2::{Digest, Sha256};
use wasmparser::{Encoding, Parser, Payload, Validator, WasmFeatures};

/// What a component file holds, read statically.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// sha256 of the file, lower-case hex.
    pub sha256: String,
    /// Names of the component's top-level instance and function imports
    /// (e.g. `wasi:io/streams@0.2.6`); imported types are left out.
    pub imports: Vec<String>,
    /// Names of the component's top-level exports.
    pub exports: Vec<String>,
    /// The raw bytes of each `ferry:manifest` custom section found, in order.
    pub manifests: Vec<Vec<u8>>,
}

/// Why a file is not a readable component.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InspectError {
    /// Not a WebAssembly binary at all.
    #[error("not a WebAssembly file (no \\0asm header): build the plugin with `cargo build --release --target wasm32-wasip2`")]
    NotWasm,
    /// A core module, not a component.
    #[error("a core WebAssembly module, not a component: build for the wasm32-wasip2 target, which produces a component")]
    CoreModule,
    /// The binary does not validate.
    #[error("malformed WebAssembly: {0}")]
    Malformed(String),
}

/// Read a file of at most `limit` bytes (a catalog index, a plugin file): a bigger one is
/// refused before it is read whole.
pub fn read_bounded(path: &std::path::Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(bytes.len() as u64 <= limit, "{} is larger than {} MiB", path.display(), limit >> 20);
    Ok(bytes)
}

/// Read a plugin file (at most [`super::limits::MAX_PLUGIN_BYTES`]).
pub fn read_plugin_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, super::limits::MAX_PLUGIN_BYTES)
}

/// sha256 of some bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Inspect a component's bytes. Validates the whole binary first.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, InspectError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(InspectError::NotWasm);
    }
    let mut info = ComponentInfo { sha256: sha256_hex(bytes), imports: Vec::new(), exports: Vec::new(), manifests: Vec::new() };
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| InspectError::Malformed(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(InspectError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| InspectError::Malformed(e.to_string()))?;
                    // Imported types (from `use` in the world) are not capabilities.
                    if matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        continue;
                    }
                    info.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| InspectError::Malformed(e.to_string()))?;
                    info.exports.push(export.name.name.to_string());
                }
            }
            Payload::CustomSection(reader) if reader.name() == ferry_manifest::SECTION_NAME => {
                info.manifests.push(reader.data().to_vec());
            }
            _ => {}
        }
    }
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| InspectError::Malformed(e.to_string()))?;
    Ok(info)
}
