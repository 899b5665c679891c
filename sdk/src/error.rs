use std::fmt;

use crate::bindings::ferry::migration::types::AccessError;
use crate::Scope;

/// Why a plugin operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The grant for this run lacks the scope (or the admin revoked it mid-run).
    Denied(Scope),
    /// The host knows no such entity.
    NotFound(String),
    /// The host refused the request as malformed.
    Invalid(String),
    /// A limit of this run is used up.
    Quota(String),
    /// The host could not serve the call; not the plugin's fault.
    Unavailable(String),
    /// A row or record did not fit the plugin's type.
    Decode(String),
    /// The plugin's own error.
    Plugin(String),
}

impl Error {
    /// A plugin error with a message.
    pub fn msg(message: impl Into<String>) -> Error {
        Error::Plugin(message.into())
    }
}

impl From<AccessError> for Error {
    fn from(e: AccessError) -> Error {
        match e {
            AccessError::Denied(scope) => Error::Denied(scope),
            AccessError::NotFound(s) => Error::NotFound(s),
            AccessError::Invalid(s) => Error::Invalid(s),
            AccessError::Quota(s) => Error::Quota(s),
            AccessError::Unavailable(s) => Error::Unavailable(s),
        }
    }
}

/// The scope's contract name, e.g. `app-data-pii`.
pub(crate) fn scope_name(scope: Scope) -> &'static str {
    match scope {
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Denied(scope) => write!(f, "denied({})", scope_name(*scope)),
            Error::NotFound(s) => write!(f, "not found: {s}"),
            Error::Invalid(s) => write!(f, "invalid: {s}"),
            Error::Quota(s) => write!(f, "quota: {s}"),
            Error::Unavailable(s) => write!(f, "unavailable: {s}"),
            Error::Decode(s) => write!(f, "decode: {s}"),
            Error::Plugin(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Decode(e.to_string())
    }
}
