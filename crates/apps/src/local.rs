//! Running an installed plugin against a Server database: the vendor's local test
//! (`ferry plugin run`) and the building block of app migrations. Records the run, its
//! audit journal and its log in the state DB.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context;

use super::registry::Registry;
use ferry_core::state::mappings::MappingSource;
use ferry_core::state::{now, StateDb};
use ferry_manifest::{Manifest, ScopeSet};
use ferry_runtime::engine::PluginEngine;
use ferry_runtime::gate::Grant;
use ferry_runtime::host::{ProgressFn, RunContext};
use ferry_runtime::limits::Limits;
use ferry_runtime::run::{run_plugin, RunReport, RunRequest};
use ferry_runtime::uploads::UploadSink;
use ferry_runtime::MigrationDetails;
use ferry_source::Source;

/// What a local run needs besides the plugin.
pub struct LocalRun {
    /// The Server site.
    pub source: Source,
    /// Where uploads go.
    pub uploads: Box<dyn UploadSink>,
    /// Limits of the run.
    pub limits: Limits,
    /// Space keys of the migration; none means every current space of the source.
    pub spaces: Option<Vec<String>>,
    /// Where mappings come from.
    pub mappings: MappingSource,
    /// The grant; none grants every declared scope.
    pub grant: Option<Arc<Grant>>,
    /// Called on every progress report.
    pub on_progress: Option<ProgressFn>,
    /// The migration's name given to the plugin (default: "local test of <app>").
    pub name: Option<String>,
    /// The transfer id (default: a new one, which is also the run id).
    pub transfer_id: Option<String>,
    /// The destination's base URL given to the plugin (default: `local`).
    pub destination_url: Option<String>,
    /// The plan this app migration belongs to (none for a vendor's local test).
    pub plan_id: Option<String>,
    /// The first transfer of a re-run app migration.
    pub original_transfer_id: Option<String>,
    /// The Server's attachments folder, for plugins that read attachments (contract 0.2).
    pub attachments: Option<std::path::PathBuf>,
    /// Declared scopes withheld from the grant (a vendor's `plugin run --deny`): the
    /// plugin is linked as if it had them, and each call that needs one is denied, as
    /// after an admin revokes consent mid-run.
    pub deny: ScopeSet,
}

impl LocalRun {
    /// A run against `source` writing uploads to `uploads`, with every other setting at
    /// its default (every declared scope, every current space, default limits).
    pub fn new(source: Source, uploads: Box<dyn UploadSink>, mappings: MappingSource) -> LocalRun {
        LocalRun {
            source,
            uploads,
            limits: Limits::default(),
            spaces: None,
            mappings,
            grant: None,
            on_progress: None,
            name: None,
            transfer_id: None,
            destination_url: None,
            plan_id: None,
            original_transfer_id: None,
            deny: ScopeSet::EMPTY,
            attachments: None,
        }
    }
}

/// The plugin a run runs: its identity, bytes and manifest.
struct Runnable {
    app_key: String,
    version: String,
    sha256: String,
    bytes: Vec<u8>,
    manifest: Manifest,
}

/// Stand-in mappings for a vendor's first run (`plugin run --mappings auto`): every
/// current space, page, blog post, comment and attachment of the source, every user (by
/// user key and by email) and every group, each mapped to a made-up cloud id such as
/// `auto-page-65601`, so the plugin shows its whole transformation before any core
/// migration has run.
pub async fn auto_mappings(source: &Source) -> anyhow::Result<MappingSource> {
    use futures_util::TryStreamExt;
    use std::collections::BTreeMap;
    let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut put = |namespace: &str, server_id: String, cloud_id: String| {
        map.entry(namespace.to_string()).or_default().insert(server_id, cloud_id);
    };
    for space in source.spaces().await? {
        put(ferry_core::ns::SPACE, space.key.clone(), format!("auto-space-{}", space.key));
    }
    let mut content = source.current_content_ids();
    while let Some((kind, id)) = content.try_next().await? {
        let namespace = match kind.as_str() {
            "PAGE" => ferry_core::ns::PAGE,
            "BLOGPOST" => ferry_core::ns::BLOGPOST,
            "COMMENT" => ferry_core::ns::COMMENT,
            _ => ferry_core::ns::ATTACHMENT,
        };
        put(namespace, id.to_string(), format!("auto-{}-{id}", namespace.trim_start_matches("confluence:")));
    }
    drop(content);
    let keys: BTreeMap<String, String> = source.user_keys().await?.into_iter().map(|(key, name)| (name, key)).collect();
    for user in source.directory_users().await? {
        let Some(key) = keys.get(&user.username.to_lowercase()) else { continue };
        let cloud = format!("auto-user-{key}");
        put(ferry_core::ns::USER, format!("confluence.userkey/{key}"), cloud.clone());
        if let Some(email) = user.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            put(ferry_core::ns::USER, format!("email/{}", email.to_lowercase()), cloud);
        }
    }
    for group in source.directory_groups().await? {
        let name = group.name.to_lowercase();
        put(ferry_core::ns::GROUP, name.clone(), format!("auto-group-{name}"));
    }
    Ok(MappingSource::Fixed(Arc::new(map)))
}

/// A fresh random id, 32 hex digits.
pub fn new_id() -> String {
    ferry_core::new_id()
}

/// Run the installed plugin of `app_key` and record the run.
pub async fn run_installed(db: &StateDb, engine: Arc<PluginEngine>, app_key: &str, run: LocalRun) -> anyhow::Result<RunReport> {
    let (installed, bytes, manifest) = Registry::new(db.clone()).load_trusted(app_key).await?;
    let plugin = Runnable { app_key: app_key.to_string(), version: installed.version, sha256: installed.sha256, bytes, manifest };
    run_runnable(db, engine, plugin, run).await
}

/// Run a plugin file without installing it (a vendor's edit-and-run loop): the file is
/// audited first, and refused as `plugin install` would refuse it for its contents or a
/// bad signature (an unsigned file of one's own is fine here: it is not installed).
pub async fn run_file(db: &StateDb, engine: Arc<PluginEngine>, bytes: Vec<u8>, run: LocalRun) -> anyhow::Result<RunReport> {
    let report = super::audit::audit(&bytes, &super::trust::TrustStore::load(db).await?);
    let Some(manifest) = report.manifest.filter(|_| report.verdict == super::audit::Verdict::Ok) else {
        anyhow::bail!("the plugin file is refused by the audit: {} (`ferry plugin audit <FILE>` shows the whole audit)", report.problems.join("; "));
    };
    let plugin = Runnable { app_key: manifest.server_app_key.clone(), version: manifest.version.to_string(), sha256: report.sha256, bytes, manifest };
    run_runnable(db, engine, plugin, run).await
}

async fn run_runnable(db: &StateDb, engine: Arc<PluginEngine>, plugin: Runnable, run: LocalRun) -> anyhow::Result<RunReport> {
    let Runnable { app_key, version, sha256, bytes, manifest } = plugin;
    let app_key = app_key.as_str();
    let manifest = Arc::new(manifest);
    let declared = manifest.scope_set();
    let grant = run.grant.unwrap_or_else(|| Grant::new(declared));
    for scope in run.deny.iter() {
        grant.revoke(scope);
    }
    let spaces = match run.spaces {
        Some(spaces) => spaces,
        None => run.source.spaces().await?.into_iter().map(|s| s.key).collect(),
    };
    let run_id = run.transfer_id.unwrap_or_else(new_id);
    let details = MigrationDetails {
        migration_id: match &run.plan_id {
            Some(plan) => plan.clone(),
            None => format!("local-{}", &run_id[..8.min(run_id.len())]),
        },
        transfer_id: run_id.clone(),
        original_transfer_id: run.original_transfer_id.clone(),
        name: run.name.unwrap_or_else(|| format!("local test of {}", manifest.name)),
        destination_url: run.destination_url.unwrap_or_else(|| "local".into()),
        spaces: spaces.clone(),
    };
    sqlx::query(
        "INSERT INTO plugin_runs (id, server_app_key, plugin_version, plugin_sha256, transfer_id, original_transfer_id, plan_id, status, started_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
    )
    .bind(&run_id)
    .bind(app_key)
    .bind(&version)
    .bind(&sha256)
    .bind(&run_id)
    .bind(&run.original_transfer_id)
    .bind(&run.plan_id)
    .bind(now())
    .execute(db.pool())
    .await?;
    let context = Arc::new(RunContext {
        source: run.source,
        mappings: run.mappings,
        manifest: manifest.clone(),
        spaces: spaces.into_iter().collect::<BTreeSet<_>>(),
        attachments: run.attachments,
    });
    let request =
        RunRequest { run_id: run_id.clone(), manifest, details, grant, limits: run.limits, context, uploads: run.uploads, on_progress: run.on_progress };
    let sha = sha256.clone();
    let key = app_key.to_string();
    let started = std::time::Instant::now();
    // Compiling (or loading the cached compilation) and linking are CPU work: off the
    // executor. The run itself is async and yields every epoch tick. Scopes withheld
    // with `deny` stay linked, so their calls are denied rather than never linked.
    let granted = run.deny.iter().filter(|s| declared.contains(*s)).fold(request.grant.current(), ScopeSet::with);
    let compiler = engine.clone();
    let prepared = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let component = compiler.load(&bytes, &sha)?;
        compiler.prepare(&component, granted)
    })
    .await
    .context("the plugin compile thread failed")
    .and_then(|r| r);
    // Every run record ends in a final status, also when the plugin never started.
    let report = match prepared {
        Ok(prepared) => run_plugin(&engine, &prepared, request).await,
        Err(e) => RunReport::not_started(run_id, key, version, format!("{e:#}"), started.elapsed()),
    };
    record_run_end(db, app_key, &report).await?;
    Ok(report)
}

/// Record how a run ended, its audit journal and its log, in one transaction.
async fn record_run_end(db: &StateDb, app_key: &str, report: &RunReport) -> anyhow::Result<()> {
    let mut tx = db.pool().begin().await?;
    let at = now();
    sqlx::query("UPDATE plugin_runs SET status = ?, message = ?, progress_percent = ?, progress_message = ?, uploaded_bytes = ?, finished_at = ? WHERE id = ?")
        .bind(report.status.name())
        .bind(&report.message)
        .bind(i64::from(report.progress_percent))
        .bind(&report.progress_message)
        .bind(report.uploaded_bytes as i64)
        .bind(&at)
        .bind(&report.run_id)
        .execute(&mut *tx)
        .await?;
    for r in &report.audit {
        let scopes: Vec<&str> = r.scopes.iter().map(|s| s.name()).collect();
        sqlx::query(
            "INSERT INTO audit_log (run_id, server_app_key, seq, function, scopes, allowed, denied_scope, calls, rows, bytes, detail, summarised, at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&report.run_id)
        .bind(app_key)
        .bind(r.seq as i64)
        .bind(r.function)
        .bind(scopes.join(","))
        .bind(r.allowed)
        .bind(r.denied_scope.map(|s| s.name()))
        .bind(r.calls as i64)
        .bind(r.rows as i64)
        .bind(r.bytes as i64)
        .bind(&r.detail)
        .bind(r.summarised)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }
    for (seq, line) in report.log.iter().enumerate() {
        sqlx::query("INSERT INTO run_logs (run_id, seq, level, message) VALUES (?, ?, ?, ?)")
            .bind(&report.run_id)
            .bind(seq as i64)
            .bind(&line.level)
            .bind(&line.message)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows of each `other` column looked at after a local run.
const CLASS_SAMPLE_ROWS: u32 = 500;

/// What a value looks like, when it does not look like an `other` value: an e-mail
/// address (personal: `pii`) or text people wrote (`ugc`).
pub fn looks_like(value: &str) -> Option<ferry_manifest::ColumnClass> {
    let v = value.trim();
    let email = v.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        w.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
    });
    if email {
        return Some(ferry_manifest::ColumnClass::Pii);
    }
    let words = v.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count();
    (words >= 3).then_some(ferry_manifest::ColumnClass::Ugc)
}

/// After a vendor's local run: each column declared `other` whose values (the first
/// [`CLASS_SAMPLE_ROWS`] rows) look like e-mail addresses or text people wrote, in a
/// sentence that names the column, how many values, an example and the class to declare,
/// so the vendor fixes the class before a reviewer has to. Tables the site does not have
/// are skipped.
pub async fn class_warnings(source: &Source, manifest: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in &manifest.tables {
        for (column, class) in columns {
            if *class != ferry_manifest::ColumnClass::Other {
                continue;
            }
            let Ok(batch) = source.read_app_table(table, std::slice::from_ref(column), None, CLASS_SAMPLE_ROWS).await else { continue };
            let texts: Vec<String> = batch
                .rows
                .iter()
                .filter_map(|row| match row.first() {
                    Some(ferry_source::Cell::Text(t)) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            for suspect in [ferry_manifest::ColumnClass::Pii, ferry_manifest::ColumnClass::Ugc] {
                let found: Vec<&String> = texts.iter().filter(|t| looks_like(t) == Some(suspect)).collect();
                let Some(example) = found.first() else { continue };
                let what = if suspect == ferry_manifest::ColumnClass::Pii { "e-mail addresses" } else { "text people wrote" };
                let example: String = example.chars().take(60).collect();
                out.push(format!(
                    "{table}.{column} is declared `other`, but {} of the {} values read look like {what} (e.g. {example:?}): declare it `{}` in ferry-plugin.toml",
                    found.len(),
                    batch.rows.len(),
                    suspect.name()
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_manifest::ColumnClass;

    #[test]
    fn values_that_are_not_other_are_told_apart() {
        assert_eq!(looks_like("ada@example.com"), Some(ColumnClass::Pii));
        assert_eq!(looks_like("write to <bob@mail.example.org> please"), Some(ColumnClass::Pii));
        assert_eq!(looks_like("Checked by the release team"), Some(ColumnClass::Ugc));
        for other in ["65601", "2024-03-01 09:00:00", "page.view", "a@b", "#00ff00", "OPEN", "cloud page 1"] {
            assert_eq!(looks_like(other), None, "{other}");
        }
    }
}
