//! The `ferry:migration` contract versions this host serves, and which scopes each
//! contract interface needs.
//!
//! Versions are served side by side: each supported minor line has a bindings module
//! generated from its own frozen WIT folder (`v0_1` from `wit/0.1.0`, `v0_2` from
//! `wit/0.2.0`). A plugin links against the version its imports name, so a plugin built
//! against `0.1.x` keeps linking against `v0_1` and never sees what `0.2` added.

use ferry_manifest::{Scope, ScopeSet};

/// Bindings of contract `0.1.x`, generated from `wit/0.1.0`.
#[allow(missing_docs)]
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../../wit/0.1.0",
        imports: { default: async },
        exports: { default: async },
    });
}

/// Bindings of contract `0.2.x`, generated from `wit/0.2.0`: 0.1 plus `attachments`.
#[allow(missing_docs)]
pub mod v0_2 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../../wit/0.2.0",
        imports: { default: async },
        exports: { default: async },
    });
}

/// The contract versions this host serves, newest first.
pub const SUPPORTED: &[semver::Version] = &[semver::Version::new(0, 2, 0), semver::Version::new(0, 1, 0)];

/// A served contract line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// `0.1.x`.
    V0_1,
    /// `0.2.x`.
    V0_2,
}

impl Served {
    /// The served line of a contract version, if any.
    pub fn of(version: &semver::Version) -> Option<Served> {
        match (version.major, version.minor) {
            (0, 1) => Some(Served::V0_1),
            (0, 2) => Some(Served::V0_2),
            _ => None,
        }
    }
}

/// The WIT package name of the contract.
pub const PACKAGE: &str = "ferry:migration";

/// Whether a plugin built against `contract` can run on this host: a served version
/// with the same major and a minor no newer than it (and, before 1.0, the same minor).
pub fn is_supported(contract: &semver::Version) -> bool {
    SUPPORTED.iter().any(|served| served.major == contract.major && contract.minor <= served.minor && (served.major != 0 || served.minor == contract.minor))
}

/// The interfaces of the contract a plugin may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    /// Shared types: no data, no scope.
    Types,
    /// Id mappings: a `migration-tracing-*` scope.
    Mappings,
    /// The app's own tables: an `app-data-*` scope.
    AppTables,
    /// Product data: a `product-data-*` scope.
    Product,
    /// Attachments of pages and blog posts (0.2 and later): `product-data-ugc`.
    Attachments,
    /// Uploads to the cloud app: no read scope (quota-limited).
    AppData,
    /// Progress reports: no scope.
    Progress,
    /// Log lines: no scope.
    Log,
}

impl Interface {
    /// Every interface.
    pub const ALL: [Interface; 8] = [
        Interface::Types,
        Interface::Mappings,
        Interface::AppTables,
        Interface::Product,
        Interface::Attachments,
        Interface::AppData,
        Interface::Progress,
        Interface::Log,
    ];

    /// The interface's name in the WIT package.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Types => "types",
            Interface::Mappings => "mappings",
            Interface::AppTables => "app-tables",
            Interface::Product => "product",
            Interface::Attachments => "attachments",
            Interface::AppData => "app-data",
            Interface::Progress => "progress",
            Interface::Log => "log",
        }
    }

    /// The scopes any of which make importing this interface useful. Empty means the
    /// interface needs no scope.
    pub fn scopes(self) -> ScopeSet {
        let scopes: &[Scope] = match self {
            Interface::Mappings => &[Scope::MigrationTracingIdentity, Scope::MigrationTracingProduct],
            Interface::AppTables => &[Scope::AppDataOther, Scope::AppDataPii, Scope::AppDataSecurity, Scope::AppDataUgc],
            Interface::Product => &[Scope::ProductDataOther, Scope::ProductDataPii, Scope::ProductDataSecurity, Scope::ProductDataUgc],
            Interface::Attachments => &[Scope::ProductDataUgc],
            Interface::Types | Interface::AppData | Interface::Progress | Interface::Log => &[],
        };
        scopes.iter().copied().collect()
    }

    /// The first contract minor version (of major 0) that has this interface.
    pub fn since_minor(self) -> u64 {
        match self {
            Interface::Attachments => 2,
            _ => 1,
        }
    }

    /// Whether a plugin holding `scopes` may import (and have linked) this interface.
    pub fn allowed_by(self, scopes: ScopeSet) -> bool {
        let needed = self.scopes();
        needed.is_empty() || needed.iter().any(|s| scopes.contains(s))
    }

    /// Parse `ferry:migration/<name>@<version>` into the interface and version.
    pub fn parse_import(import: &str) -> Option<(Result<Interface, String>, Option<semver::Version>)> {
        let rest = import.strip_prefix(PACKAGE)?.strip_prefix('/')?;
        let (name, version) = match rest.split_once('@') {
            Some((n, v)) => (n, semver::Version::parse(v).ok()),
            None => (rest, None),
        };
        let iface = Interface::ALL.into_iter().find(|i| i.name() == name).ok_or_else(|| name.to_string());
        Some((iface, version))
    }
}

/// The mapping namespaces and the tracing scope each needs.
pub fn namespace_scope(namespace: &str) -> Option<Scope> {
    match namespace {
        "identity:user" | "identity:group" => Some(Scope::MigrationTracingIdentity),
        "confluence:space" | "confluence:page" | "confluence:blogpost" | "confluence:comment" | "confluence:attachment" => Some(Scope::MigrationTracingProduct),
        _ => None,
    }
}

/// WASI interfaces a plugin may import: io, clocks, random, and cli stdio, terminal
/// queries, environment (always empty) and exit. Filesystem, sockets and http are refused.
pub fn wasi_import_allowed(import: &str) -> bool {
    let Some(rest) = import.strip_prefix("wasi:") else { return false };
    let name = rest.split('@').next().unwrap_or(rest);
    match name.split_once('/') {
        Some(("io", _)) | Some(("clocks", _)) | Some(("random", _)) => true,
        Some(("cli", iface)) => matches!(
            iface,
            "stdin"
                | "stdout"
                | "stderr"
                | "environment"
                | "exit"
                | "terminal-input"
                | "terminal-output"
                | "terminal-stdin"
                | "terminal-stdout"
                | "terminal-stderr"
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions_follow_semver_rules() {
        assert!(is_supported(&semver::Version::new(0, 1, 0)));
        assert!(is_supported(&semver::Version::new(0, 1, 7)));
        assert!(is_supported(&semver::Version::new(0, 2, 0)));
        assert!(!is_supported(&semver::Version::new(0, 3, 0)));
        assert!(!is_supported(&semver::Version::new(1, 1, 0)));
    }

    #[test]
    fn wasi_filesystem_sockets_and_http_are_not_allowed() {
        assert!(wasi_import_allowed("wasi:io/streams@0.2.6"));
        assert!(wasi_import_allowed("wasi:cli/stderr@0.2.6"));
        assert!(!wasi_import_allowed("wasi:filesystem/types@0.2.6"));
        assert!(!wasi_import_allowed("wasi:sockets/tcp@0.2.6"));
        assert!(!wasi_import_allowed("wasi:http/outgoing-handler@0.2.6"));
        assert!(!wasi_import_allowed("wasi:cli/run@0.2.6"));
    }

    #[test]
    fn mappings_needs_a_tracing_scope() {
        assert!(!Interface::Mappings.allowed_by(ScopeSet::EMPTY.with(Scope::AppDataOther)));
        assert!(Interface::Mappings.allowed_by(ScopeSet::EMPTY.with(Scope::MigrationTracingProduct)));
        assert!(Interface::Progress.allowed_by(ScopeSet::EMPTY));
    }
}
