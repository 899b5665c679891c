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
    Validator::new_with_features(WasmFeatures::all()).validate_all(bytes).map_err(|e| InspectError::Malformed(e.to_string()))?;
    Ok(info)
}

/// A copy of a plugin file with its embedded manifest (the JSON of every
/// `ferry:manifest` custom section, at the top level or in a nested core module or
/// component) edited by `edit`, and its signature dropped: the bench makes many plugins
/// from one, tests make hostile ones. Sign the result again to install it as signed.
pub fn rewrite_manifest(bytes: &[u8], edit: &dyn Fn(&mut serde_json::Value)) -> anyhow::Result<Vec<u8>> {
    fn leb(bytes: &[u8], pos: &mut usize) -> anyhow::Result<usize> {
        let (mut n, mut shift) = (0usize, 0u32);
        loop {
            let b = *bytes.get(*pos).ok_or_else(|| anyhow::anyhow!("truncated section header"))?;
            *pos += 1;
            anyhow::ensure!(shift < 35, "a section size is too long");
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
        }
    }
    fn rewrite(bytes: &[u8], edit: &dyn Fn(&mut serde_json::Value), depth: u32) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(bytes.len() >= 8 && &bytes[..4] == b"\0asm", "not a WebAssembly binary");
        anyhow::ensure!(depth < 8, "components nest too deeply");
        // A component's header has layer 1; a core module's has version 1, layer 0.
        let component = bytes[6..8] == [1, 0];
        let mut out = bytes[..8].to_vec();
        let mut pos = 8;
        while pos < bytes.len() {
            let id = bytes[pos];
            pos += 1;
            let size = leb(bytes, &mut pos)?;
            let payload = bytes.get(pos..pos + size).ok_or_else(|| anyhow::anyhow!("a section runs past the end of the file"))?;
            pos += size;
            let replaced = if id == 0 {
                let mut at = 0;
                let name_len = leb(payload, &mut at)?;
                let name = payload.get(at..at + name_len).ok_or_else(|| anyhow::anyhow!("a custom section's name runs past its end"))?;
                if name == super::signature::SECTION_NAME.as_bytes() {
                    continue;
                }
                if name == b"ferry:manifest" {
                    let mut manifest: serde_json::Value = serde_json::from_slice(&payload[at + name_len..])?;
                    edit(&mut manifest);
                    let mut section = Vec::new();
                    super::signature::write_leb(&mut section, name.len());
                    section.extend_from_slice(name);
                    section.extend_from_slice(&serde_json::to_vec(&manifest)?);
                    Some(section)
                } else {
                    None
                }
            } else if component && (id == 1 || id == 4) {
                // A nested core module or component.
                Some(rewrite(payload, edit, depth + 1)?)
            } else {
                None
            };
            let payload = replaced.as_deref().unwrap_or(payload);
            out.push(id);
            super::signature::write_leb(&mut out, payload.len());
            out.extend_from_slice(payload);
        }
        Ok(out)
    }
    rewrite(bytes, edit, 0)
}
