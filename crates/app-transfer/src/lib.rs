//! The wire of an app migration's transfer: how Ferry hands the data a plugin exported to
//! the vendor's cloud app, and how the cloud app settles it. Shared by Ferry (the
//! sender), the staging site's stand-in receivers and any receiver written in Rust (see
//! `docs/cloud-app-guide.md`), so the two halves cannot drift apart.
//!
//! Every request goes under the app's migration endpoint `BASE` (its manifest's
//! `migration_endpoint`, or the admin's override), in this order:
//!
//! 1. `PUT BASE/transfers/{transferId}` with a [`TransferStart`]: what is migrating.
//! 2. `PUT BASE/transfers/{transferId}/mappings`: server id → cloud id, one
//!    [`MappingLine`] of JSON a line, the namespaces the plugin's consent covers.
//! 3. `PUT BASE/transfers/{transferId}/uploads/{n}` for n = 1, 2, …: each upload's bytes,
//!    its label in [`LABEL_HEADER`] and SHA-256 in [`SHA256_HEADER`].
//! 4. `POST BASE/transfers/{transferId}/complete` with a [`TransferComplete`]: no upload
//!    follows; the receiver imports.
//! 5. `GET BASE/transfers/{transferId}` → [`TransferState`], asked until it is settled.
//!
//! Every request is signed ([`sign`]): the receiver proves the sender with [`verify`]
//! and answers 401 to anything else. Each request may be sent again (after a lost answer
//! or a crash): a receiver treats a repeat as the same request.
#![deny(missing_docs)]

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The protocol's version, in every [`TransferStart`].
pub const PROTOCOL: &str = "ferry-transfer/1";
/// When the request was signed: seconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "ferry-timestamp";
/// The request's signature: `v1=` and the hex HMAC-SHA256 of [`signed_text`].
pub const SIGNATURE_HEADER: &str = "ferry-signature";
/// An upload's label (1–64 of `a-z 0-9 . _ -`, as the plugin named it).
pub const LABEL_HEADER: &str = "ferry-upload-label";
/// An upload's SHA-256, hex.
pub const SHA256_HEADER: &str = "ferry-upload-sha256";
/// How far a request's timestamp may be from the receiver's clock, seconds.
pub const MAX_SKEW_SECS: i64 = 300;
/// The largest upload Ferry sends (a plugin's uploads are bounded by the host).
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// A transfer being received: more may come.
pub const IN_PROGRESS: &str = "in-progress";
/// Settled: everything was imported.
pub const SUCCESS: &str = "success";
/// Settled: some of it was imported (the message says what was not).
pub const INCOMPLETE: &str = "incomplete";
/// Settled: nothing usable was imported (the message says why).
pub const FAILED: &str = "failed";

/// Whether `status` is a settled one.
pub fn is_settled(status: &str) -> bool {
    matches!(status, SUCCESS | INCOMPLETE | FAILED)
}

/// What a transfer carries: sent first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransferStart {
    /// [`PROTOCOL`].
    pub protocol: String,
    /// This transfer.
    pub transfer_id: String,
    /// The first transfer of this app in this plan, when this one runs it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_transfer_id: Option<String>,
    /// The app's key on the Server site.
    pub server_app_key: String,
    /// The app's key on the Cloud site.
    pub cloud_app_key: String,
    /// The plugin's version that exported the data.
    pub plugin_version: String,
    /// The migration plan.
    pub plan: PlanRef,
    /// The Server site the data comes from.
    pub server_site: ServerSiteRef,
    /// The Cloud site the data goes to (`https://SITE.atlassian.net`).
    pub cloud_site: String,
    /// The space keys (Confluence) or project keys (Jira) the plan migrates.
    #[serde(default)]
    pub containers: Vec<String>,
    /// When the transfer started (RFC 3339).
    pub started_at: String,
}

/// A migration plan, as the receiver sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanRef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `confluence` or `jira`.
    pub product: String,
}

/// The Server site a transfer comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerSiteRef {
    /// Its identity (its server id): two Server sites never share one.
    pub id: String,
    /// Its base URL, when it records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// One server id → cloud id mapping (`namespace` as the plugin's mapping lookups name it:
/// `confluence:page`, `identity:user` with `confluence.userkey/KEY`, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MappingLine {
    /// The kind of entity.
    pub namespace: String,
    /// Its server id.
    pub server_id: String,
    /// Its cloud id.
    pub cloud_id: String,
}

/// The end of a transfer's uploads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransferComplete {
    /// Uploads sent (numbered 1 to this).
    pub uploads: u64,
    /// Their bytes.
    pub bytes: u64,
    /// How the plugin's run ended: `complete` or `incomplete`.
    pub plugin_status: String,
    /// The plugin's reason, for `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_message: Option<String>,
}

/// Where a transfer stands, as the receiver answers `GET BASE/transfers/{transferId}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TransferState {
    /// [`IN_PROGRESS`], [`SUCCESS`], [`INCOMPLETE`] or [`FAILED`].
    pub status: String,
    /// How far the import is, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// What the receiver says (required with `incomplete` and `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text a request's signature covers: its timestamp, method, path with query (as
/// sent, from the first `/`) and the SHA-256 of its body, one a line.
pub fn signed_text(timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    format!("{timestamp}\n{}\n{path_and_query}\n{}", method.to_ascii_uppercase(), sha256_hex(body))
}

/// The [`SIGNATURE_HEADER`] value of a request, signed with the app's migration secret.
pub fn sign(secret: &[u8], timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(signed_text(timestamp, method, path_and_query, body).as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a request is not Ferry's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A header is missing or unreadable.
    Malformed(&'static str),
    /// The timestamp is too far from `now` (a replay, or a clock that is wrong).
    Stale {
        /// The request's timestamp.
        timestamp: i64,
        /// The receiver's clock.
        now: i64,
    },
    /// The signature does not match: another secret, or a changed request.
    BadSignature,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Malformed(what) => write!(f, "{what}"),
            Refused::Stale { timestamp, now } => {
                write!(f, "the request was signed at {timestamp}, {} s from this receiver's clock (at most {MAX_SKEW_SECS})", (now - timestamp).abs())
            }
            Refused::BadSignature => {
                write!(f, "the signature does not match: the sender does not hold this app's migration secret, or the request was changed")
            }
        }
    }
}

impl std::error::Error for Refused {}

/// Check that a request was signed with `secret` at a time near `now` (seconds since the
/// epoch), in constant time. `timestamp` and `signature` are the headers' values.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Refused> {
    let timestamp: i64 =
        timestamp.ok_or(Refused::Malformed("no ferry-timestamp header"))?.trim().parse().map_err(|_| Refused::Malformed("ferry-timestamp is not a number"))?;
    if (now - timestamp).abs() > MAX_SKEW_SECS {
        return Err(Refused::Stale { timestamp, now });
    }
    let given = signature.ok_or(Refused::Malformed("no ferry-signature header"))?.trim();
    let given = given.strip_prefix("v1=").ok_or(Refused::Malformed("ferry-signature is not v1=HEX"))?;
    let given = hex::decode(given).map_err(|_| Refused::Malformed("ferry-signature is not v1=HEX"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(signed_text(timestamp, method, path_and_query, body).as_bytes());
    mac.verify_slice(&given).map_err(|_| Refused::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_any_change_is_refused() {
        let (secret, at, path) = (b"the app's secret".as_slice(), 1_700_000_000, "/apps/x/transfers/t1/uploads/1");
        let signature = sign(secret, at, "put", path, b"data");
        assert!(signature.starts_with("v1=") && signature.len() == 3 + 64);
        let ts = at.to_string();
        assert_eq!(verify(secret, Some(&ts), Some(&signature), "PUT", path, b"data", at + 10), Ok(()));
        assert_eq!(verify(b"another secret", Some(&ts), Some(&signature), "PUT", path, b"data", at), Err(Refused::BadSignature));
        assert_eq!(verify(secret, Some(&ts), Some(&signature), "PUT", path, b"date", at), Err(Refused::BadSignature));
        assert_eq!(verify(secret, Some(&ts), Some(&signature), "PUT", "/apps/x/transfers/t2/uploads/1", b"data", at), Err(Refused::BadSignature));
        assert_eq!(verify(secret, Some(&ts), Some(&signature), "POST", path, b"data", at), Err(Refused::BadSignature));
        assert_eq!(verify(secret, Some(&ts), Some(&signature), "PUT", path, b"data", at + 301), Err(Refused::Stale { timestamp: at, now: at + 301 }));
        assert!(matches!(verify(secret, None, Some(&signature), "PUT", path, b"data", at), Err(Refused::Malformed(_))));
        assert!(matches!(verify(secret, Some(&ts), Some("v2=00"), "PUT", path, b"data", at), Err(Refused::Malformed(_))));
    }

    #[test]
    fn settled_statuses() {
        assert!(is_settled(SUCCESS) && is_settled(INCOMPLETE) && is_settled(FAILED));
        assert!(!is_settled(IN_PROGRESS) && !is_settled("done"));
    }
}
