//! The install-time audit: what a plugin declares, what it really imports, and whether
//! ferry accepts it. `ferry plugin audit` prints this; `ferry plugin install` refuses a
//! plugin whose verdict is `refused`.

use std::collections::{BTreeMap, BTreeSet};

use ferry_manifest::{ColumnClass, Manifest, Scope};
use serde::Serialize;

use super::trust::{Signer, TrustStore};
use ferry_runtime::component::{self, ComponentInfo};
use ferry_runtime::contract::{self, Interface};
use ferry_runtime::signature;

/// The audit verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The plugin may be installed.
    Ok,
    /// The plugin is refused; `problems` says why.
    Refused,
}

/// A declared scope in plain words, as the audit and the consent card show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScopeLine {
    /// The scope's name.
    pub scope: String,
    /// What it lets the plugin do.
    pub meaning: String,
}

impl ScopeLine {
    /// The line of one scope.
    pub fn of(scope: &Scope) -> ScopeLine {
        ScopeLine { scope: scope.name().into(), meaning: scope.plain_words().into() }
    }
}

/// One import of the component, and what it needs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportLine {
    /// The import's full name.
    pub name: String,
    /// `ferry`, `wasi` or `other`.
    pub kind: &'static str,
    /// Scopes that make it usable (any one of them); empty when none is needed.
    pub needs_any_of: Vec<String>,
    /// Whether the plugin's declaration allows it.
    pub allowed: bool,
}

/// The audit of one plugin file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    /// The Server app key, when the manifest could be read.
    pub server_app_key: Option<String>,
    /// The Cloud app key.
    pub cloud_app_key: Option<String>,
    /// The app's name.
    pub name: Option<String>,
    /// The vendor.
    pub vendor: Option<String>,
    /// The plugin version.
    pub version: Option<String>,
    /// The contract version it was built against.
    pub contract: Option<String>,
    /// sha256 of the file.
    pub sha256: String,
    /// Who signed it: a trusted vendor key, an untrusted key, nobody, or a bad signature
    /// (which refuses the plugin).
    pub signer: Signer,
    /// Declared scopes in plain words.
    pub scopes: Vec<ScopeLine>,
    /// What the component really imports.
    pub imports: Vec<ImportLine>,
    /// Declared scopes that no import can use (over-privilege).
    pub unused_scopes: Vec<String>,
    /// Declared tables: table → column → class.
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
    /// `ok` or `refused`.
    pub verdict: Verdict,
    /// Why the plugin is refused; empty when the verdict is `ok`.
    pub problems: Vec<String>,
    /// Things a reviewer should know that do not refuse the plugin.
    pub warnings: Vec<String>,
    /// The validated manifest, when the verdict is `ok`.
    #[serde(skip)]
    #[schema(ignore)]
    pub manifest: Option<Manifest>,
}

/// Audit a plugin file's bytes: who signed it (judged against `trust`), what it declares,
/// what it imports, and proof that it links against the contract's world (compiled and
/// type-checked, never run).
pub fn audit(bytes: &[u8], trust: &TrustStore) -> AuditReport {
    let signature = signature::verify(bytes);
    let signer = trust.judge(&signature);
    let mut report = AuditReport {
        server_app_key: None,
        cloud_app_key: None,
        name: None,
        vendor: None,
        version: None,
        contract: None,
        sha256: component::sha256_hex(bytes),
        signer,
        scopes: Vec::new(),
        imports: Vec::new(),
        unused_scopes: Vec::new(),
        tables: BTreeMap::new(),
        verdict: Verdict::Refused,
        problems: Vec::new(),
        warnings: Vec::new(),
        manifest: None,
    };
    let inspected = component::inspect(bytes);
    if let Err(e @ (component::InspectError::NotWasm | component::InspectError::CoreModule)) = &inspected {
        // Not a component at all: that is the one thing to say.
        report.problems.push(e.to_string());
        return report;
    }
    match &report.signer {
        // A file whose sections cannot be walked is malformed; the component check says so.
        Signer::BadSignature { .. } if matches!(signature, signature::Signature::Unreadable(_)) && inspected.is_err() => {}
        Signer::BadSignature { reason } => report.problems.push(format!("bad signature: {reason}; get the file again from its vendor")),
        Signer::Unsigned => {
            report.warnings.push("unsigned: nothing says who built this file; `ferry plugin install` refuses it unless --allow-unsigned is given".into())
        }
        Signer::UntrustedKey { fingerprint, .. } => report.warnings.push(format!(
            "signed by the key {fingerprint}, which this Ferry does not trust: `ferry trust add <VENDOR> <KEY>` once you have checked the key with its vendor"
        )),
        Signer::Trusted { .. } => {}
    }
    let info = match inspected {
        Ok(info) => info,
        Err(e) => {
            report.problems.push(e.to_string());
            return report;
        }
    };
    let manifest = read_manifest(&info, &mut report.problems);
    if let Some(m) = &manifest {
        describe_manifest(m, &mut report);
    }
    check_imports(&info, manifest.as_ref(), &mut report);
    if !info.exports.iter().any(|e| e == "run") {
        report.problems.push("the component does not export `run`: export the plugin with `ferry_sdk::export_plugin!`".into());
    }
    if report.problems.is_empty() {
        // The names are right; prove the types are too, by linking it as a run would.
        if let Err(why) = ferry_runtime::engine::link_check(bytes, &report.sha256) {
            report.problems.push(format!(
                "the component does not link against the ferry:migration@{} world, so it could never run: {why}",
                manifest.as_ref().map(|m| m.contract.to_string()).unwrap_or_default()
            ));
        }
    }
    if report.problems.is_empty() {
        report.verdict = Verdict::Ok;
        report.manifest = manifest;
    }
    report
}

fn read_manifest(info: &ComponentInfo, problems: &mut Vec<String>) -> Option<Manifest> {
    let distinct: BTreeSet<&Vec<u8>> = info.manifests.iter().collect();
    match distinct.len() {
        0 => {
            problems.push(format!(
                "no `{}` custom section: declare the manifest in ferry-plugin.toml and export with ferry_sdk::export_plugin!",
                ferry_manifest::SECTION_NAME
            ));
            None
        }
        1 => match Manifest::parse(&info.manifests[0]) {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push(format!("invalid manifest: {e}"));
                None
            }
        },
        n => {
            problems.push(format!("the component carries {n} different manifests: a plugin carries exactly one"));
            None
        }
    }
}

fn describe_manifest(m: &Manifest, report: &mut AuditReport) {
    report.server_app_key = Some(m.server_app_key.clone());
    report.cloud_app_key = Some(m.cloud_app_key.clone());
    report.name = Some(m.name.clone());
    report.vendor = Some(m.vendor.clone());
    report.version = Some(m.version.to_string());
    report.contract = Some(m.contract.to_string());
    report.scopes = m.scopes.iter().map(ScopeLine::of).collect();
    report.tables = m.tables.iter().map(|(t, cols)| (t.clone(), cols.iter().map(|(c, k)| (c.clone(), k.name().to_string())).collect())).collect();
    if !contract::is_supported(&m.contract) {
        let served: Vec<String> = contract::SUPPORTED.iter().map(|v| v.to_string()).collect();
        report.problems.push(format!(
            "built against contract ferry:migration@{}, which this host does not serve (it serves {}): rebuild with a matching ferry-sdk",
            m.contract,
            served.join(", ")
        ));
    }
    let declared = m.scope_set();
    for (table, cols) in &m.tables {
        for (column, class) in cols {
            let scope = Scope::for_app_column(*class);
            if !declared.contains(scope) {
                report
                    .warnings
                    .push(format!("column {table}.{column} is declared {} but the plugin does not declare {scope}: it can never read it", class.name()));
            }
        }
    }
}

fn check_imports(info: &ComponentInfo, manifest: Option<&Manifest>, report: &mut AuditReport) {
    let declared = manifest.map(|m| m.scope_set()).unwrap_or_default();
    let mut imported = BTreeSet::new();
    for name in &info.imports {
        if let Some((iface, version)) = Interface::parse_import(name) {
            let line = match iface {
                Ok(iface) => {
                    imported.insert(iface);
                    if let (Some(m), Some(v)) = (manifest, &version) {
                        if (v.major, v.minor) != (m.contract.major, m.contract.minor) {
                            report.problems.push(format!("imports {name} but the manifest says contract {}", m.contract));
                        }
                    }
                    if let Some(v) = version.as_ref().filter(|v| v.major == 0 && v.minor < iface.since_minor()) {
                        report.problems.push(format!(
                            "imports {name}, but contract {v} has no `{}` interface (it came in 0.{})",
                            iface.name(),
                            iface.since_minor()
                        ));
                    }
                    let allowed = iface.allowed_by(declared);
                    if !allowed {
                        report.problems.push(format!(
                            "imports {name}, which needs one of [{}], but declares none of them: declare the scope or stop using the interface",
                            names(iface.scopes().iter()).join(", ")
                        ));
                    }
                    ImportLine { name: name.clone(), kind: "ferry", needs_any_of: names(iface.scopes().iter()), allowed }
                }
                Err(unknown) => {
                    report.problems.push(format!("imports {name}: the contract has no interface `{unknown}`"));
                    ImportLine { name: name.clone(), kind: "ferry", needs_any_of: vec![], allowed: false }
                }
            };
            report.imports.push(line);
        } else if name.starts_with("wasi:") {
            let allowed = contract::wasi_import_allowed(name);
            if !allowed {
                report.problems.push(format!(
                    "imports {name}: plugins get no filesystem, network or other system access (only wasi io, clocks, random and cli stdio/environment/exit)"
                ));
            }
            report.imports.push(ImportLine { name: name.clone(), kind: "wasi", needs_any_of: vec![], allowed });
        } else {
            report.problems.push(format!("imports {name}, which is neither the ferry contract nor an allowed WASI interface"));
            report.imports.push(ImportLine { name: name.clone(), kind: "other", needs_any_of: vec![], allowed: false });
        }
    }
    if let Some(m) = manifest {
        report.unused_scopes = names(m.scopes.iter().copied().filter(|s| !scope_is_usable(*s, &imported, m)));
    }
}

/// Whether a declared scope can be exercised by what the component imports.
fn scope_is_usable(scope: Scope, imported: &BTreeSet<Interface>, m: &Manifest) -> bool {
    let has_class = |class: ColumnClass| m.tables.values().any(|cols| cols.values().any(|k| *k == class));
    match scope {
        Scope::AppDataOther => imported.contains(&Interface::AppTables) && has_class(ColumnClass::Other),
        Scope::AppDataPii => imported.contains(&Interface::AppTables) && has_class(ColumnClass::Pii),
        Scope::AppDataSecurity => imported.contains(&Interface::AppTables) && has_class(ColumnClass::Security),
        Scope::AppDataUgc => imported.contains(&Interface::AppTables) && has_class(ColumnClass::Ugc),
        // Ferry serves no product security data: the scope can never be exercised.
        Scope::ProductDataSecurity => false,
        Scope::ProductDataOther | Scope::ProductDataPii => imported.contains(&Interface::Product),
        Scope::ProductDataUgc => imported.contains(&Interface::Product) || imported.contains(&Interface::Attachments),
        Scope::MigrationTracingIdentity | Scope::MigrationTracingProduct => imported.contains(&Interface::Mappings),
    }
}

fn names(scopes: impl Iterator<Item = Scope>) -> Vec<String> {
    scopes.map(|s| s.name().to_string()).collect()
}
