//! The ferry plugin manifest.
//!
//! Every plugin carries one manifest inside its component, in a custom section named
//! [`SECTION_NAME`], as UTF-8 JSON. The SDK writes it at build time and the host reads it
//! at install and audit time without running any plugin code. Both sides validate it with
//! [`Manifest::parse`], so a vendor sees at build time exactly the error an admin would
//! see at install time.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// Name of the custom section that carries the manifest inside a plugin component.
pub const SECTION_NAME: &str = "ferry:manifest";

/// A data-access scope a plugin declares and an admin consents to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The app's own data with no personal, security or user-written content.
    AppDataOther,
    /// The app's own data holding personal information.
    AppDataPii,
    /// The app's own data holding security details.
    AppDataSecurity,
    /// The app's own data holding content written by users.
    AppDataUgc,
    /// Product data with no personal, security or user-written content.
    ProductDataOther,
    /// Product data holding personal information.
    ProductDataPii,
    /// Product security data (never exposed by ferry).
    ProductDataSecurity,
    /// Content written by users: page bodies and comments.
    ProductDataUgc,
    /// How server users and groups map to cloud accounts and groups.
    MigrationTracingIdentity,
    /// How server spaces, pages and attachments map to their cloud copies.
    MigrationTracingProduct,
}

impl Scope {
    /// Every scope, in contract order.
    pub const ALL: [Scope; 10] = [
        Scope::AppDataOther,
        Scope::AppDataPii,
        Scope::AppDataSecurity,
        Scope::AppDataUgc,
        Scope::ProductDataOther,
        Scope::ProductDataPii,
        Scope::ProductDataSecurity,
        Scope::ProductDataUgc,
        Scope::MigrationTracingIdentity,
        Scope::MigrationTracingProduct,
    ];

    /// The kebab-case name used in manifests, the WIT contract and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Scope::AppDataOther => "app-data-other",
            Scope::AppDataPii => "app-data-pii",
            Scope::AppDataSecurity => "app-data-security",
            Scope::AppDataUgc => "app-data-ugc",
            Scope::ProductDataOther => "product-data-other",
            Scope::ProductDataPii => "product-data-pii",
            Scope::ProductDataSecurity => "product-data-security",
            Scope::ProductDataUgc => "product-data-ugc",
            Scope::MigrationTracingIdentity => "migration-tracing-identity",
            Scope::MigrationTracingProduct => "migration-tracing-product",
        }
    }

    /// What an admin is told this scope lets the plugin do.
    pub fn plain_words(self) -> &'static str {
        match self {
            Scope::AppDataOther => "Read and export the app's own data that holds no personal, security or user-written content",
            Scope::AppDataPii => "Read and export the app's own data that holds personal information (usernames, emails, addresses)",
            Scope::AppDataSecurity => "Read and export the app's own data that holds security details (passwords, tokens, secrets)",
            Scope::AppDataUgc => "Read and export the app's own data that holds content written by users",
            Scope::ProductDataOther => "Read product data that holds no personal, security or user-written content (space keys, page titles, the page tree)",
            Scope::ProductDataPii => "Read product data that holds personal information (user names, emails)",
            Scope::ProductDataSecurity => "Read product security data (ferry exposes none: passwords never leave the server)",
            Scope::ProductDataUgc => "Read content written by users (page bodies, comments)",
            Scope::MigrationTracingIdentity => "Read how server users and groups map to cloud accounts and groups",
            Scope::MigrationTracingProduct => "Read how server spaces, pages and attachments map to their cloud copies",
        }
    }

    /// The bit this scope occupies in a [`ScopeSet`].
    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The `app-data-*` scope that covers columns of the given class.
    pub fn for_app_column(class: ColumnClass) -> Scope {
        match class {
            ColumnClass::Other => Scope::AppDataOther,
            ColumnClass::Pii => Scope::AppDataPii,
            ColumnClass::Security => Scope::AppDataSecurity,
            ColumnClass::Ugc => Scope::AppDataUgc,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scope {
    type Err = ManifestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.name() == s).ok_or_else(|| ManifestError::UnknownScope(s.to_string()))
    }
}

/// A set of scopes, as a bit set so that a live grant can be held in one atomic word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u16);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// The set from its raw bits (as stored in an atomic grant).
    pub fn from_bits(bits: u16) -> ScopeSet {
        ScopeSet(bits & ((1 << Scope::ALL.len()) - 1))
    }

    /// The raw bits.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Whether the set holds `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// This set with `scope` added.
    pub fn with(self, scope: Scope) -> ScopeSet {
        ScopeSet(self.0 | scope.bit())
    }

    /// This set with `scope` removed.
    pub fn without(self, scope: Scope) -> ScopeSet {
        ScopeSet(self.0 & !scope.bit())
    }

    /// The scopes in the set, in contract order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(ScopeSet::EMPTY, ScopeSet::with)
    }
}

/// The class of one column of an app table: decides which `app-data-*` scope reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnClass {
    /// No personal, security or user-written content.
    Other,
    /// Personal information.
    Pii,
    /// Security details.
    Security,
    /// Content written by users.
    Ugc,
}

impl ColumnClass {
    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            ColumnClass::Other => "other",
            ColumnClass::Pii => "pii",
            ColumnClass::Security => "security",
            ColumnClass::Ugc => "ugc",
        }
    }
}

impl FromStr for ColumnClass {
    type Err = ManifestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "other" => Ok(ColumnClass::Other),
            "pii" => Ok(ColumnClass::Pii),
            "security" => Ok(ColumnClass::Security),
            "ugc" => Ok(ColumnClass::Ugc),
            _ => Err(ManifestError::UnknownClass(s.to_string())),
        }
    }
}

/// Why a manifest is refused. Each message names the field and says how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// The bytes are not UTF-8 JSON of the expected shape.
    #[error("the manifest is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    /// A required text field is empty.
    #[error("manifest field `{0}` is empty: give it a value")]
    Empty(&'static str),
    /// A field that must be semver is not.
    #[error("manifest field `{field}` is not valid semver ({value:?}): {reason}")]
    BadSemver {
        /// The field.
        field: &'static str,
        /// The value found.
        value: String,
        /// What the semver parser said.
        reason: String,
    },
    /// A scope name that ferry does not know.
    #[error("unknown scope {0:?}: scopes are {known}", known = Scope::ALL.map(Scope::name).join(", "))]
    UnknownScope(String),
    /// A column class that ferry does not know.
    #[error("unknown column class {0:?}: classes are other, pii, security, ugc")]
    UnknownClass(String),
    /// A declared table that is not the app's own.
    #[error("table {table:?} is not this app's own: tables of {app_key:?} are named {prefix}<ENTITY>")]
    ForeignTable {
        /// The declared table.
        table: String,
        /// The server app key.
        app_key: String,
        /// The required prefix.
        prefix: String,
    },
    /// A column name that cannot be a real AO column.
    #[error("table {table:?} declares column {column:?}, which is not an upper-case AO column name (A-Z, 0-9, _)")]
    BadColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A table with no columns.
    #[error("table {0:?} declares no columns: list the columns the plugin reads with their class")]
    NoColumns(String),
    /// The privacy policy is not an http(s) URL.
    #[error("manifest field `privacy_policy` must be an http(s) URL, found {0:?}")]
    BadPrivacyPolicy(String),
    /// The migration endpoint is not an HTTPS URL (or a loopback HTTP one).
    #[error(
        "manifest field `migration_endpoint` must be an https:// URL of the vendor's cloud app (http:// only to 127.0.0.1, [::1] or localhost, for local runs), with no query, fragment or credentials; found {0:?}"
    )]
    BadMigrationEndpoint(String),
    /// A scope listed twice.
    #[error("scope {0} is listed twice")]
    DuplicateScope(String),
    /// The manifest as a whole is too large.
    #[error("the manifest is {0} bytes; the most is {MAX_MANIFEST_BYTES}: declare only what the plugin reads")]
    TooLarge(usize),
    /// A field is longer than its maximum.
    #[error("manifest field `{field}` is {found} bytes long; the most is {max}: shorten it")]
    TooLong {
        /// The field (for tables and columns, the kind of name).
        field: &'static str,
        /// Its maximum length in bytes.
        max: usize,
        /// Its length.
        found: usize,
    },
    /// Too many entries of one kind.
    #[error("the manifest declares {found} {what}; the most is {max}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// The maximum.
        max: usize,
        /// How many there are.
        found: usize,
    },
    /// A text field holds control characters (which could rewrite a reviewer's terminal).
    #[error("manifest field `{field}` contains control character U+{code:04X} at byte {at}: remove it")]
    ControlCharacter {
        /// The field.
        field: &'static str,
        /// The character's code point.
        code: u32,
        /// Its byte offset.
        at: usize,
    },
}

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 256 << 10;

/// The longest each text field may be, in bytes.
pub const FIELD_MAX_BYTES: &[(&str, usize)] = &[
    ("server_app_key", 255),
    ("cloud_app_key", 255),
    ("name", 128),
    ("vendor", 128),
    ("version", 64),
    ("server_app_versions", 256),
    ("contract", 64),
    ("privacy_policy", 2048),
];

/// The most tables a manifest may declare.
pub const MAX_TABLES: usize = 256;

/// The most columns one table may declare.
pub const MAX_COLUMNS: usize = 512;

/// The longest table or column name, in bytes (AO names are far shorter).
pub const MAX_IDENTIFIER_BYTES: usize = 64;

fn check_text(field: &'static str, value: &str) -> Result<(), ManifestError> {
    let max = FIELD_MAX_BYTES.iter().find(|(f, _)| *f == field).map(|(_, m)| *m).unwrap_or(255);
    if value.len() > max {
        return Err(ManifestError::TooLong { field, max, found: value.len() });
    }
    if let Some((at, c)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(ManifestError::ControlCharacter { field, code: c as u32, at });
    }
    Ok(())
}

/// The manifest as it appears in JSON, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    server_app_key: String,
    cloud_app_key: String,
    name: String,
    vendor: String,
    version: String,
    server_app_versions: String,
    contract: String,
    privacy_policy: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    tables: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    migration_endpoint: Option<String>,
}

/// A validated plugin manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The app's key on the Server site (e.g. `com.example.page-ratings`).
    pub server_app_key: String,
    /// The key of the matching app on the Cloud site.
    pub cloud_app_key: String,
    /// Human name of the app.
    pub name: String,
    /// The vendor that wrote the plugin.
    pub vendor: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// The Server app versions the plugin can read.
    pub server_app_versions: semver::VersionReq,
    /// The `ferry:migration` contract version the plugin was built against.
    pub contract: semver::Version,
    /// Link to the vendor's privacy policy.
    pub privacy_policy: String,
    /// Declared scopes, sorted, without duplicates.
    pub scopes: Vec<Scope>,
    /// Declared app tables: table name → column name → class.
    pub tables: BTreeMap<String, BTreeMap<String, ColumnClass>>,
    /// Where the host sends the data the plugin exports: the vendor's cloud app's
    /// migration endpoint (`docs/cloud-app-guide.md`). `None` in manifests written before
    /// endpoints were declared: such a plugin migrates only where the admin names one.
    pub migration_endpoint: Option<String>,
}

impl Manifest {
    /// Parse and validate manifest JSON.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let raw: RawManifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        Manifest::from_raw(raw)
    }

    fn from_raw(raw: RawManifest) -> Result<Manifest, ManifestError> {
        for (field, value) in [
            ("server_app_key", &raw.server_app_key),
            ("cloud_app_key", &raw.cloud_app_key),
            ("name", &raw.name),
            ("vendor", &raw.vendor),
            ("version", &raw.version),
            ("server_app_versions", &raw.server_app_versions),
            ("contract", &raw.contract),
            ("privacy_policy", &raw.privacy_policy),
        ] {
            check_text(field, value)?;
        }
        if raw.tables.len() > MAX_TABLES {
            return Err(ManifestError::TooMany { what: "tables", max: MAX_TABLES, found: raw.tables.len() });
        }
        for (table, columns) in &raw.tables {
            if table.len() > MAX_IDENTIFIER_BYTES {
                return Err(ManifestError::TooLong { field: "tables (a table name)", max: MAX_IDENTIFIER_BYTES, found: table.len() });
            }
            if columns.len() > MAX_COLUMNS {
                return Err(ManifestError::TooMany { what: "columns in one table", max: MAX_COLUMNS, found: columns.len() });
            }
            if let Some(long) = columns.keys().find(|c| c.len() > MAX_IDENTIFIER_BYTES) {
                return Err(ManifestError::TooLong { field: "tables (a column name)", max: MAX_IDENTIFIER_BYTES, found: long.len() });
            }
        }
        for (field, value) in [("server_app_key", &raw.server_app_key), ("cloud_app_key", &raw.cloud_app_key), ("name", &raw.name), ("vendor", &raw.vendor)] {
            if value.trim().is_empty() {
                return Err(ManifestError::Empty(field));
            }
        }
        let semver_err =
            |field: &'static str, value: &str, e: semver::Error| ManifestError::BadSemver { field, value: value.to_string(), reason: e.to_string() };
        let version = semver::Version::parse(&raw.version).map_err(|e| semver_err("version", &raw.version, e))?;
        let contract = semver::Version::parse(&raw.contract).map_err(|e| semver_err("contract", &raw.contract, e))?;
        let server_app_versions =
            semver::VersionReq::parse(&raw.server_app_versions).map_err(|e| semver_err("server_app_versions", &raw.server_app_versions, e))?;
        if !(raw.privacy_policy.starts_with("https://") || raw.privacy_policy.starts_with("http://")) {
            return Err(ManifestError::BadPrivacyPolicy(raw.privacy_policy));
        }
        if let Some(endpoint) = &raw.migration_endpoint {
            if endpoint_origin(endpoint).is_none() {
                return Err(ManifestError::BadMigrationEndpoint(endpoint.chars().take(MAX_TEXT_SHOWN).collect()));
            }
        }
        let mut scopes = Vec::new();
        for name in &raw.scopes {
            let scope: Scope = name.parse()?;
            if scopes.contains(&scope) {
                return Err(ManifestError::DuplicateScope(name.clone()));
            }
            scopes.push(scope);
        }
        scopes.sort();
        let prefix = ao_table_prefix(&raw.server_app_key);
        let mut tables = BTreeMap::new();
        for (table, columns) in raw.tables {
            if !table.starts_with(&prefix) || table.len() == prefix.len() || !is_ao_identifier(&table) {
                return Err(ManifestError::ForeignTable { table, app_key: raw.server_app_key, prefix });
            }
            if columns.is_empty() {
                return Err(ManifestError::NoColumns(table));
            }
            let mut classes = BTreeMap::new();
            for (column, class) in columns {
                if !is_ao_identifier(&column) {
                    return Err(ManifestError::BadColumn { table, column });
                }
                classes.insert(column, class.parse()?);
            }
            tables.insert(table, classes);
        }
        Ok(Manifest {
            server_app_key: raw.server_app_key,
            cloud_app_key: raw.cloud_app_key,
            name: raw.name,
            vendor: raw.vendor,
            version,
            server_app_versions,
            contract,
            privacy_policy: raw.privacy_policy,
            scopes,
            tables,
            migration_endpoint: raw.migration_endpoint,
        })
    }

    /// The origin (`scheme://host[:port]`) the plugin's data is sent to, if it names one.
    pub fn endpoint_origin(&self) -> Option<String> {
        self.migration_endpoint.as_deref().and_then(endpoint_origin)
    }

    /// The declared scopes as a set.
    pub fn scope_set(&self) -> ScopeSet {
        self.scopes.iter().copied().collect()
    }

    /// The manifest as canonical JSON (the form embedded in components).
    pub fn to_json(&self) -> String {
        let raw = RawManifest {
            server_app_key: self.server_app_key.clone(),
            cloud_app_key: self.cloud_app_key.clone(),
            name: self.name.clone(),
            vendor: self.vendor.clone(),
            version: self.version.to_string(),
            server_app_versions: self.server_app_versions.to_string(),
            contract: self.contract.to_string(),
            privacy_policy: self.privacy_policy.clone(),
            scopes: self.scopes.iter().map(|s| s.name().to_string()).collect(),
            tables: self.tables.iter().map(|(t, cols)| (t.clone(), cols.iter().map(|(c, k)| (c.clone(), k.name().to_string())).collect())).collect(),
            migration_endpoint: self.migration_endpoint.clone(),
        };
        serde_json::to_string(&raw).expect("a manifest always serializes")
    }
}

/// The most characters of a bad value an error shows.
const MAX_TEXT_SHOWN: usize = 200;

/// The longest migration endpoint.
const MAX_ENDPOINT_BYTES: usize = 512;

/// The origin (`scheme://host[:port]`, lower case) of a migration endpoint, when it is an
/// acceptable one: `https://HOST[:PORT][/PATH]`, or `http://` to a loopback host (local
/// runs, the staging site), with no credentials, query or fragment. `None` otherwise.
pub fn endpoint_origin(url: &str) -> Option<String> {
    if url.len() > MAX_ENDPOINT_BYTES || url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains(['?', '#', '@', '\\']) {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next()?),
        None => authority.split(':').next().unwrap_or_default().to_string(),
    };
    let port = &authority[host.len()..];
    if host.is_empty()
        || host == "[]"
        || !(port.is_empty() || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())))
    {
        return None;
    }
    if !host.starts_with('[') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
        return None;
    }
    let loopback = host == "localhost" || host == "[::1]" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => Some(format!("https://{authority}")),
        "http" if loopback => Some(format!("http://{authority}")),
        _ => None,
    }
}

/// Where an endpoint sends data, as shown to people: its origin, or the endpoint itself
/// when it is not one a manifest could name.
pub fn shown_origin(endpoint: &str) -> String {
    endpoint_origin(endpoint).unwrap_or_else(|| endpoint.to_string())
}

/// The prefix every Active Objects table of `server_app_key` carries:
/// `AO_` + the last six hex digits, upper case, of md5(app key) + `_`.
pub fn ao_table_prefix(server_app_key: &str) -> String {
    let digest = Md5::digest(server_app_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("AO_{}_", &hex[hex.len() - 6..])
}

/// Whether `name` is a plain upper-case AO identifier, safe to quote into SQL.
pub fn is_ao_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Whether an upload label is acceptable: 1-64 of `a-z 0-9 . _ -`, not starting with a
/// dot. The host refuses any other label a plugin gives, and the cloud half takes no other.
pub fn valid_upload_label(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && !label.starts_with('.')
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tables: &str, scopes: &str) -> String {
        format!(
            r#"{{"server_app_key":"com.example.ratings","cloud_app_key":"com.example.ratings.cloud","name":"Ratings",
            "vendor":"Example","version":"1.2.0","server_app_versions":">=2.0, <4","contract":"0.1.0",
            "privacy_policy":"https://example.com/privacy","scopes":[{scopes}],"tables":{tables}}}"#
        )
    }

    #[test]
    fn a_migration_endpoint_is_https_or_loopback_http_and_names_its_origin() {
        for (url, origin) in [
            ("https://apps.example.com/ratings/ferry", "https://apps.example.com"),
            ("https://Apps.Example.com:8443", "https://apps.example.com:8443"),
            ("http://127.0.0.1:8090/apps/com.example.ratings.cloud", "http://127.0.0.1:8090"),
            ("http://localhost/x", "http://localhost"),
            ("http://[::1]:9/x", "http://[::1]:9"),
        ] {
            assert_eq!(endpoint_origin(url).as_deref(), Some(origin), "{url}");
        }
        for bad in [
            "http://apps.example.com/x",
            "ftp://apps.example.com",
            "https://",
            "https://user:pw@apps.example.com/",
            "https://apps.example.com/x?token=1",
            "https://apps.example.com/x#a",
            "https://apps example.com",
            "https://apps.example.com:99999999/",
            "https://apps.example.com:/",
            "http://127.0.0.1.evil.example/x",
            "apps.example.com",
        ] {
            assert_eq!(endpoint_origin(bad), None, "{bad}");
        }
        let json = sample("{}", "").replace(r#""tables":{}"#, r#""tables":{},"migration_endpoint":"http://evil.example/in""#);
        let err = Manifest::parse(json.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("migration_endpoint") && err.contains("https://"), "{err}");
        let json = sample("{}", "").replace(r#""tables":{}"#, r#""tables":{},"migration_endpoint":"https://apps.example.com/in""#);
        let m = Manifest::parse(json.as_bytes()).unwrap();
        assert_eq!(m.endpoint_origin().as_deref(), Some("https://apps.example.com"));
        assert_eq!(Manifest::parse(m.to_json().as_bytes()).unwrap(), m);
    }

    #[test]
    fn ao_prefix_is_last_six_hex_digits_of_md5_upper_case() {
        let prefix = ao_table_prefix("com.example.ratings");
        assert!(prefix.starts_with("AO_") && prefix.ends_with('_') && prefix.len() == 10);
        assert_eq!(ao_table_prefix("a"), "AO_772661_"); // md5("a") = 0cc175b9c0f1b6a831c399e269772661
    }

    #[test]
    fn valid_manifest_round_trips() {
        let prefix = ao_table_prefix("com.example.ratings");
        let json = sample(&format!(r#"{{"{prefix}RATING":{{"ID":"other","USER_KEY":"pii"}}}}"#), r#""app-data-pii","app-data-other""#);
        let m = Manifest::parse(json.as_bytes()).unwrap();
        assert_eq!(m.scopes, vec![Scope::AppDataOther, Scope::AppDataPii]);
        assert_eq!(Manifest::parse(m.to_json().as_bytes()).unwrap(), m);
    }

    #[test]
    fn every_field_has_a_maximum_length_and_no_control_characters() {
        let long = sample("{}", "").replace("\"Ratings\"", &format!("\"{}\"", "R".repeat(129)));
        assert_eq!(Manifest::parse(long.as_bytes()), Err(ManifestError::TooLong { field: "name", max: 128, found: 129 }));
        let escape = sample("{}", "").replace("\"Example\"", "\"Ex\\u001b[2Kample\"");
        assert_eq!(Manifest::parse(escape.as_bytes()), Err(ManifestError::ControlCharacter { field: "vendor", code: 0x1b, at: 2 }));
        let huge = " ".repeat(MAX_MANIFEST_BYTES + 1);
        assert_eq!(Manifest::parse(huge.as_bytes()), Err(ManifestError::TooLarge(MAX_MANIFEST_BYTES + 1)));
        let prefix = ao_table_prefix("com.example.ratings");
        let column = "C".repeat(65);
        let wide = sample(&format!(r#"{{"{prefix}RATING":{{"{column}":"other"}}}}"#), "");
        assert!(matches!(Manifest::parse(wide.as_bytes()), Err(ManifestError::TooLong { max: 64, found: 65, .. })));
    }

    #[test]
    fn foreign_table_is_refused() {
        let json = sample(r#"{"AO_000000_RATING":{"ID":"other"}}"#, "");
        assert!(matches!(Manifest::parse(json.as_bytes()), Err(ManifestError::ForeignTable { .. })));
    }

    #[test]
    fn unknown_scope_and_class_are_refused() {
        let json = sample("{}", r#""app-data-everything""#);
        assert_eq!(Manifest::parse(json.as_bytes()), Err(ManifestError::UnknownScope("app-data-everything".into())));
        let prefix = ao_table_prefix("com.example.ratings");
        let json = sample(&format!(r#"{{"{prefix}RATING":{{"ID":"secret"}}}}"#), "");
        assert_eq!(Manifest::parse(json.as_bytes()), Err(ManifestError::UnknownClass("secret".into())));
    }

    #[test]
    fn bad_semver_names_the_field() {
        let json = sample("{}", "").replace(r#""version":"1.2.0""#, r#""version":"one""#);
        assert!(matches!(Manifest::parse(json.as_bytes()), Err(ManifestError::BadSemver { field: "version", .. })));
    }
}
