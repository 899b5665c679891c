//! Signed plugins: a vendor's Ed25519 signature carried inside the component.
//!
//! A signature is one custom section named [`SECTION_NAME`] at the component's top level.
//! It holds JSON: `{"algorithm":"ed25519","public_key":"ed25519:<64 hex>","signature":"<128 hex>"}`.
//! The signed message is [`DOMAIN`] followed by the 32-byte sha256 of the component with
//! every top-level signature section left out, so signing appends one section and
//! changes no other byte, and re-signing replaces the section.
//!
//! Verification is strict (`verify_strict`: no malleable signatures, no weak keys). The
//! section is read by a bounded walk over the top-level sections; a malformed file is a
//! bad signature here and a malformed component in the audit.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context;
/// A vendor's signing key (the secret half).
pub use ed25519_dalek::SigningKey;
use ed25519_dalek::{Signer as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The custom section that carries the signature.
pub const SECTION_NAME: &str = "ferry:signature";
/// What precedes the digest in the signed message, so a plugin signature can never be
/// mistaken for a signature over anything else.
pub const DOMAIN: &[u8] = b"ferry-plugin-signature-v1\n";
/// The largest signature section read; a real one is under 300 bytes.
const MAX_SECTION: usize = 4096;
/// The first line of a signing key file.
const KEY_FILE_HEADER: &str = "ferry-signing-key-v1";

/// A vendor's public key: `ed25519:` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parse `ed25519:<hex>` (or the bare 64 hex digits).
    pub fn parse(text: &str) -> anyhow::Result<PublicKey> {
        let text = text.trim();
        let hex_part = text.strip_prefix("ed25519:").unwrap_or(text);
        let bytes: [u8; 32] = hex::decode(hex_part).ok().and_then(|b| b.try_into().ok()).with_context(|| {
            format!("`{}` is not a public key: expected ed25519: and 64 hex digits, as in the .pub file `ferry plugin keygen` writes", shorten(text))
        })?;
        let key = VerifyingKey::from_bytes(&bytes).context("not a valid Ed25519 public key (not a curve point)")?;
        anyhow::ensure!(!key.is_weak(), "a weak Ed25519 public key (small order): it cannot be trusted");
        Ok(PublicKey(key))
    }

    /// A short, stable name for the key: the first 16 hex digits of its sha256, in
    /// groups of four.
    pub fn fingerprint(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.0.as_bytes()));
        digest.as_bytes()[..16].chunks(4).map(|c| std::str::from_utf8(c).expect("hex")).collect::<Vec<_>>().join(":")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        s.push('…');
    }
    s
}

/// What a plugin file's signature section says, before asking who is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No signature section.
    Unsigned,
    /// A valid signature by this key over this very file.
    Valid(PublicKey),
    /// A signature that does not verify, or a signature section that cannot be read.
    Bad(String),
    /// The file's sections cannot be walked (truncated or malformed), so no signature
    /// can be found or checked.
    Unreadable(String),
}

#[derive(Serialize, Deserialize)]
struct SectionJson {
    algorithm: String,
    public_key: String,
    signature: String,
}

/// One top-level section of a component: where it lies and, for a custom section, its name.
struct Section {
    range: Range<usize>,
    is_signature: bool,
    /// A section named like a damaged signature section (see [`near_signature_name`]).
    unknown_ferry: Option<String>,
    payload: Range<usize>,
}

/// Read an unsigned LEB128 u32 at `*pos`, bounds-checked.
fn leb_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result).ok();
        }
    }
    None
}

/// Whether a custom section's name looks like a damaged signature section's: a `ferry`
/// name that is not one of ferry's, or the signature's name with one byte changed. A
/// signature whose name was damaged is then a bad signature, not a missing one.
fn near_signature_name(name: &[u8]) -> bool {
    let one_byte_off = name.len() == SECTION_NAME.len() && name.iter().zip(SECTION_NAME.as_bytes()).filter(|(a, b)| a != b).count() == 1;
    one_byte_off || name.starts_with(b"ferry")
}

/// The component's top-level sections, or why the file cannot be walked.
fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly file".into());
    }
    let mut out = Vec::new();
    let mut pos = 8;
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let size = leb_u32(bytes, &mut pos).ok_or("a section size is malformed")? as usize;
        let end = pos.checked_add(size).filter(|e| *e <= bytes.len()).ok_or("a section runs past the end of the file")?;
        let mut is_signature = false;
        let mut unknown_ferry = None;
        let mut payload = pos..end;
        if id == 0 {
            let mut p = pos;
            let len = leb_u32(bytes, &mut p).ok_or("a custom section's name is malformed")? as usize;
            let name_end = p.checked_add(len).filter(|e| *e <= end).ok_or("a custom section's name runs past its section")?;
            let name = &bytes[p..name_end];
            is_signature = name == SECTION_NAME.as_bytes();
            if !is_signature && name != ferry_manifest::SECTION_NAME.as_bytes() && near_signature_name(name) {
                unknown_ferry = Some(shorten(&String::from_utf8_lossy(name)));
            }
            payload = name_end..end;
        } else if bytes[pos..end].get(1..=SECTION_NAME.len()) == Some(SECTION_NAME.as_bytes()) {
            // A signature section whose id byte was changed.
            unknown_ferry = Some(format!("{SECTION_NAME} (as section id {id})"));
        }
        out.push(Section { range: start..end, is_signature, unknown_ferry, payload });
        pos = end;
    }
    Ok(out)
}

/// sha256 of the component without its signature sections, and the signature payloads.
/// A component's sha256 without its signature sections, and where those sections are.
type Digested = ([u8; 32], Vec<Range<usize>>);

/// The verdict comes boxed: it is the rare path, and a [`Signature`] is large.
fn digest_and_signatures(bytes: &[u8]) -> Result<Digested, Box<Signature>> {
    let sections = sections(bytes).map_err(|e| Box::new(Signature::Unreadable(e)))?;
    let mut hasher = Sha256::new();
    hasher.update(&bytes[..8]);
    let mut signatures = Vec::new();
    for s in sections {
        if let Some(name) = s.unknown_ferry {
            return Err(Box::new(Signature::Bad(format!("the file carries an unknown section `{name}` (a damaged signature?)"))));
        }
        if s.is_signature {
            signatures.push(s.payload);
        } else {
            hasher.update(&bytes[s.range]);
        }
    }
    Ok((hasher.finalize().into(), signatures))
}

fn message(digest: &[u8; 32]) -> Vec<u8> {
    [DOMAIN, digest.as_slice()].concat()
}

/// Check the signature a plugin file carries.
pub fn verify(bytes: &[u8]) -> Signature {
    let (digest, signatures) = match digest_and_signatures(bytes) {
        Ok(found) => found,
        Err(judged) => return *judged,
    };
    let payload = match signatures.as_slice() {
        [] => return Signature::Unsigned,
        [one] => &bytes[one.clone()],
        more => return Signature::Bad(format!("the file carries {} signature sections: a plugin carries at most one", more.len())),
    };
    if payload.len() > MAX_SECTION {
        return Signature::Bad(format!("the signature section is {} bytes, more than {MAX_SECTION}", payload.len()));
    }
    let parsed: SectionJson = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => return Signature::Bad(format!("the signature section is not readable: {e}")),
    };
    if parsed.algorithm != "ed25519" {
        return Signature::Bad(format!("unknown signature algorithm `{}`: only ed25519 is accepted", shorten(&parsed.algorithm)));
    }
    let key = match PublicKey::parse(&parsed.public_key) {
        Ok(k) => k,
        Err(e) => return Signature::Bad(format!("the signer's key: {e:#}")),
    };
    let Some(sig) = hex::decode(&parsed.signature).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return Signature::Bad("the signature is not 128 hex digits".into());
    };
    match key.0.verify_strict(&message(&digest), &ed25519_dalek::Signature::from_bytes(&sig)) {
        Ok(()) => Signature::Valid(key),
        Err(_) => {
            Signature::Bad(format!("the signature by {} does not match the file: it was changed after signing (or signed by another key)", key.fingerprint()))
        }
    }
}

/// Sign a component: the same bytes without any earlier signature, plus one signature
/// section at the end.
pub fn sign(bytes: &[u8], key: &SigningKey) -> anyhow::Result<Vec<u8>> {
    let sections = sections(bytes).map_err(|why| anyhow::anyhow!("cannot sign this file: {why}"))?;
    anyhow::ensure!(bytes[4..8] != [1, 0, 0, 0], "cannot sign a core WebAssembly module: build the plugin for wasm32-wasip2, which makes a component");
    let mut out = Vec::with_capacity(bytes.len() + 300);
    out.extend_from_slice(&bytes[..8]);
    for s in sections.iter().filter(|s| !s.is_signature) {
        out.extend_from_slice(&bytes[s.range.clone()]);
    }
    let (digest, _) = digest_and_signatures(&out).map_err(|judged| anyhow::anyhow!("cannot sign this file: {judged:?}"))?;
    let signature = key.sign(&message(&digest));
    let payload = serde_json::to_vec(&SectionJson {
        algorithm: "ed25519".into(),
        public_key: PublicKey(key.verifying_key()).to_string(),
        signature: hex::encode(signature.to_bytes()),
    })?;
    let mut body = Vec::new();
    write_leb(&mut body, SECTION_NAME.len());
    body.extend_from_slice(SECTION_NAME.as_bytes());
    body.extend_from_slice(&payload);
    out.push(0);
    write_leb(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Append `n` as unsigned LEB128 (the size encoding of WebAssembly sections).
pub(crate) fn write_leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The public key file written beside a signing key.
pub fn public_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Make a new key pair: the signing key in `out` (created 0600, never overwritten) and
/// the public key in `out.pub`.
pub fn keygen(out: &Path) -> anyhow::Result<PublicKey> {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let key = SigningKey::from_bytes(&secret);
    let public = PublicKey(key.verifying_key());
    let text = format!(
        "{KEY_FILE_HEADER}\n{}\n# Ferry plugin signing key (Ed25519). Keep this file secret; share {}.\n",
        hex::encode(secret),
        public_key_path(out).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    secret.fill(0);
    write_new_private(out, text.as_bytes())?;
    std::fs::write(public_key_path(out), format!("{public}\n"))
        .with_context(|| format!("cannot write the public key to {}", public_key_path(out).display()))?;
    Ok(public)
}

fn write_new_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!("{} already exists: a signing key is never overwritten; choose another --out", path.display()),
        _ => anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
    })?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Read a signing key file written by [`keygen`]. Refuses one that others can read.
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the signing key {}", path.display()))?;
    let mut lines = text.lines();
    anyhow::ensure!(
        lines.next() == Some(KEY_FILE_HEADER),
        "{} is not a ferry signing key (made by `ferry plugin keygen`){}",
        path.display(),
        if text.starts_with("ed25519:") { ": it is a public key; sign with the file without .pub" } else { "" }
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).with_context(|| format!("cannot read the signing key {}", path.display()))?.permissions().mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "the signing key {} is readable by other users (mode {:o}): `chmod 600 {}`, and make a new key if others may have read it",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let secret: [u8; 32] = lines
        .next()
        .and_then(|l| hex::decode(l.trim()).ok())
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} is damaged: its second line is not 64 hex digits", path.display()))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// The public key of a signing key.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header alone, plus one custom section.
    fn component() -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        bytes.extend_from_slice(&[0, 5, 4, b'n', b'a', b'm', b'e']);
        bytes
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn signing_appends_one_section_and_keeps_every_other_byte() {
        let plain = component();
        let signed = sign(&plain, &key(1)).unwrap();
        assert_eq!(&signed[..plain.len()], plain.as_slice());
        assert_eq!(verify(&signed), Signature::Valid(public_key(&key(1))));
        assert_eq!(verify(&plain), Signature::Unsigned);
        // Re-signing replaces the signature rather than adding a second one.
        let resigned = sign(&signed, &key(2)).unwrap();
        assert_eq!(&resigned[..plain.len()], plain.as_slice());
        assert_eq!(verify(&resigned), Signature::Valid(public_key(&key(2))));
    }

    #[test]
    fn any_changed_byte_is_a_bad_signature() {
        let signed = sign(&component(), &key(1)).unwrap();
        for i in 8..signed.len() {
            let mut changed = signed.clone();
            changed[i] ^= 0x01;
            assert!(matches!(verify(&changed), Signature::Bad(_) | Signature::Unreadable(_)), "byte {i}: {:?}", verify(&changed));
        }
    }

    #[test]
    fn two_signature_sections_and_truncated_files_are_bad() {
        let signed = sign(&component(), &key(1)).unwrap();
        let extra = &signed[component().len()..];
        let doubled = [signed.as_slice(), extra].concat();
        assert!(matches!(verify(&doubled), Signature::Bad(m) if m.contains("2 signature sections")));
        assert!(matches!(verify(&signed[..signed.len() - 1]), Signature::Unreadable(_)));
    }

    #[test]
    fn public_keys_round_trip_and_nonsense_is_refused() {
        let k = public_key(&key(3));
        assert_eq!(PublicKey::parse(&k.to_string()).unwrap(), k);
        assert_eq!(PublicKey::parse(&k.to_string()["ed25519:".len()..]).unwrap(), k);
        assert_eq!(k.fingerprint().len(), 19);
        assert!(PublicKey::parse("ed25519:abcd").is_err());
        assert!(PublicKey::parse(&format!("ed25519:{}", "00".repeat(32))).is_err(), "the identity point is weak");
    }
}
