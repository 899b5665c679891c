//! The vendor keys this Ferry trusts, and what they make of a plugin's signature.

use serde::Serialize;
use sqlx::Row;

use ferry_core::state::{now, StateDb};
use ferry_runtime::signature::{PublicKey, Signature};

/// A trusted vendor key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedKey {
    /// The name the admin gave it (usually the vendor's).
    pub name: String,
    /// `ed25519:` and 64 hex digits.
    pub public_key: String,
    /// The key's short fingerprint.
    pub fingerprint: String,
    /// When it was added.
    pub added_at: String,
}

/// Who signed a plugin, judged against the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Signer {
    /// No signature.
    Unsigned,
    /// Signed by a trusted key.
    Trusted {
        /// The trusted name of the key.
        name: String,
        /// The key's fingerprint.
        fingerprint: String,
        /// The key.
        public_key: String,
    },
    /// Signed by a key this Ferry does not trust.
    UntrustedKey {
        /// The key's fingerprint.
        fingerprint: String,
        /// The key.
        public_key: String,
    },
    /// The signature does not verify.
    BadSignature {
        /// Why.
        reason: String,
    },
}

impl Signer {
    /// One line for humans.
    pub fn describe(&self) -> String {
        match self {
            Signer::Unsigned => "unsigned".into(),
            Signer::Trusted { name, fingerprint, .. } => format!("{name} ({fingerprint})"),
            Signer::UntrustedKey { fingerprint, .. } => format!("untrusted key {fingerprint}"),
            Signer::BadSignature { reason } => format!("BAD SIGNATURE: {reason}"),
        }
    }

    /// Whether a trusted key signed it.
    pub fn is_trusted(&self) -> bool {
        matches!(self, Signer::Trusted { .. })
    }

    /// The signing key, when the signature verifies.
    pub fn public_key(&self) -> Option<&str> {
        match self {
            Signer::Trusted { public_key, .. } | Signer::UntrustedKey { public_key, .. } => Some(public_key),
            Signer::Unsigned | Signer::BadSignature { .. } => None,
        }
    }
}

/// The trusted keys, loaded once to judge signatures.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
}

impl TrustStore {
    /// The trusted keys of `db`.
    pub async fn load(db: &StateDb) -> anyhow::Result<TrustStore> {
        Ok(TrustStore { keys: list(db).await? })
    }

    /// What a checked signature amounts to here.
    pub fn judge(&self, signature: &Signature) -> Signer {
        match signature {
            Signature::Unsigned => Signer::Unsigned,
            Signature::Bad(reason) => Signer::BadSignature { reason: reason.clone() },
            Signature::Unreadable(why) => Signer::BadSignature { reason: format!("the file cannot be read ({why})") },
            Signature::Valid(key) => self.judge_key(&key.to_string()),
        }
    }

    /// What a recorded signing key (`None`: unsigned) amounts to now.
    pub fn judge_key(&self, public_key: &str) -> Signer {
        let fingerprint = PublicKey::parse(public_key).map(|k| k.fingerprint()).unwrap_or_else(|_| "?".into());
        match self.keys.iter().find(|k| k.public_key == public_key) {
            Some(k) => Signer::Trusted { name: k.name.clone(), fingerprint, public_key: public_key.to_string() },
            None => Signer::UntrustedKey { fingerprint, public_key: public_key.to_string() },
        }
    }
}

/// Every trusted key, by name.
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<TrustedKey>> {
    let rows = sqlx::query("SELECT name, public_key, fingerprint, added_at FROM trusted_keys ORDER BY name").fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| TrustedKey { name: r.get(0), public_key: r.get(1), fingerprint: r.get(2), added_at: r.get(3) }).collect())
}

/// Trust `key` under `name`. Adding the same key under the same name again changes nothing.
pub async fn add(db: &StateDb, name: &str, key: &PublicKey) -> anyhow::Result<TrustedKey> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control),
        "a trusted key's name is 1 to 64 printable characters, e.g. the vendor's name"
    );
    let text = key.to_string();
    for existing in list(db).await? {
        if existing.name == name && existing.public_key != text {
            anyhow::bail!("`{name}` already names the key {}: remove it first with `ferry trust remove {name}`, or choose another name", existing.fingerprint);
        }
        if existing.public_key == text && existing.name != name {
            anyhow::bail!("this key ({}) is already trusted as `{}`", existing.fingerprint, existing.name);
        }
    }
    sqlx::query("INSERT INTO trusted_keys (name, public_key, fingerprint, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(&text)
        .bind(key.fingerprint())
        .bind(now())
        .execute(db.pool())
        .await?;
    list(db).await?.into_iter().find(|k| k.name == name).ok_or_else(|| anyhow::anyhow!("the trusted key vanished after it was added"))
}

/// Stop trusting the key named `name`; false when no key has that name.
pub async fn remove(db: &StateDb, name: &str) -> anyhow::Result<bool> {
    let done = sqlx::query("DELETE FROM trusted_keys WHERE name = ?").bind(name).execute(db.pool()).await?;
    Ok(done.rows_affected() > 0)
}
