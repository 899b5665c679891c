//! `ferry bench plugins`: the plugin runtime's speed on this machine, in one run.
//!
//! Figures are medians over repeated measurements; they are reported, never asserted.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::plugins::audit::{audit, Verdict};
use crate::plugins::engine::{PluginEngine, PreparedPlugin};
use crate::plugins::gate::Grant;
use crate::plugins::host::RunContext;
use crate::plugins::limits::Limits;
use crate::plugins::run::{new_store, run_plugin, RunRequest, RunStatus};
use crate::plugins::uploads::DiscardSink;
use crate::plugins::MigrationDetails;
use crate::source::Source;
use crate::state::mappings::MappingSource;

/// The figures of one `ferry bench plugins` run.
#[derive(Debug, Clone, Serialize)]
pub struct PluginBench {
    /// Median time to instantiate a pre-linked plugin (pooling allocator + InstancePre), µs.
    pub instantiate_median_us: f64,
    /// Median time to build a run's sandboxed store, µs.
    pub store_median_us: f64,
    /// Median round trip of a host call carrying a small string, ns.
    pub host_call_median_ns: f64,
    /// Median load of a compiled plugin from the on-disk cache, ms.
    pub cached_load_median_ms: f64,
    /// First compilation of the plugin, ms.
    pub compile_ms: f64,
    /// Rows in the scanned table.
    pub scan_rows: u64,
    /// Rows per second the plugin scanned through batched reads (median of 3).
    pub scan_rows_per_second: f64,
    /// Rows per second the host alone reads the same table from the source (the limit
    /// the plugin scan runs against).
    pub source_rows_per_second: f64,
}

impl fmt::Display for PluginBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "instantiate (pooling + InstancePre), median : {:>10.1} µs   (target ≤ 30 µs)", self.instantiate_median_us)?;
        writeln!(f, "sandbox store creation, median             : {:>10.1} µs", self.store_median_us)?;
        writeln!(f, "host call with a small string, median      : {:>10.0} ns   (target ≤ 1000 ns)", self.host_call_median_ns)?;
        writeln!(f, "cached compiled-plugin load, median        : {:>10.2} ms   (target ≤ 5 ms)", self.cached_load_median_ms)?;
        writeln!(f, "first compilation                          : {:>10.0} ms", self.compile_ms)?;
        writeln!(f, "table scan of {} rows by the plugin     : {:>10.0} rows/s (target ≥ 1,000,000)", self.scan_rows, self.scan_rows_per_second)?;
        write!(f, "same table read by the host alone          : {:>10.0} rows/s", self.source_rows_per_second)
    }
}

/// Rows per read, as the SDK asks (`ferry_sdk::tables::BATCH`).
const SDK_BATCH: u32 = 4_096;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Write a SQLite site holding only the ratings table, with `rows` rows.
async fn write_scan_site(path: &Path, table: &str, rows: u64) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&url).await?;
    sqlx::raw_sql(&format!(
        "CREATE TABLE \"{table}\" (\"ID\" INTEGER PRIMARY KEY, \"PAGE_ID\" INTEGER NOT NULL, \"USER_KEY\" TEXT, \"STARS\" INTEGER NOT NULL, \
         \"COMMENT\" TEXT, \"CREATED\" TEXT NOT NULL); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         INSERT INTO \"{table}\" SELECT i, 1000 + i % 5000, 'user' || (i % 997), 1 + i % 5, NULL, '2024-01-01' FROM n;"
    ))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// Run the plugin benchmark with the scanning plugin at `plugin_path`.
pub async fn bench_plugins(home: &Path, plugin_path: &Path, rows: u64) -> anyhow::Result<PluginBench> {
    let bytes = std::fs::read(plugin_path).with_context(|| {
        format!("cannot read {}: build it with `cargo build --release --target wasm32-wasip2 -p table_scan`", plugin_path.display())
    })?;
    let report = audit(&bytes);
    anyhow::ensure!(report.verdict == Verdict::Ok, "the bench plugin is refused: {}", report.problems.join("; "));
    let manifest = Arc::new(report.manifest.expect("ok verdict has a manifest"));
    let table = manifest.tables.keys().next().context("the bench plugin declares no table")?.clone();
    let dir = home.join("bench");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("scan.db");
    write_scan_site(&db, &table, rows).await?;
    let source = Source::connect(db.to_str().context("path is UTF-8")?).await?;
    let columns = vec!["ID".to_string(), "STARS".to_string()];
    let started = Instant::now();
    let (mut after, mut read) = (None, 0u64);
    loop {
        let batch = source.read_app_table(&table, &columns, after, SDK_BATCH).await?;
        read += batch.rows.len() as u64;
        match batch.last_id {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    let source_rows_per_second = read as f64 / started.elapsed().as_secs_f64();

    let cache = dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let engine = Arc::new(PluginEngine::new(Some(cache))?);
    let started = Instant::now();
    let component = engine.load(&bytes, &report.sha256)?;
    let compile = started.elapsed();
    let mut loads = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        engine.load(&bytes, &report.sha256)?;
        loads.push(t.elapsed());
    }
    let prepared = Arc::new(engine.prepare(&component, manifest.scope_set())?);
    let context = Arc::new(RunContext {
        source,
        mappings: MappingSource::Fixed(Default::default()),
        manifest: manifest.clone(),
        spaces: Default::default(),
        rt: tokio::runtime::Handle::current(),
    });
    let request = move |name: &str| RunRequest {
        run_id: "bench".into(),
        manifest: manifest.clone(),
        details: MigrationDetails {
            migration_id: "bench".into(),
            transfer_id: "bench".into(),
            original_transfer_id: None,
            name: name.into(),
            destination_url: "local".into(),
            spaces: vec![],
        },
        grant: Grant::new(manifest.scope_set()),
        limits: Limits::default(),
        context: context.clone(),
        uploads: Box::new(DiscardSink),
        on_progress: None,
        journal: None,
    };
    let (engine2, prepared2) = (engine.clone(), prepared.clone());
    let figures = tokio::task::spawn_blocking(move || -> anyhow::Result<(Duration, Duration, f64, f64)> {
        let (store_t, inst_t) = measure_instantiation(&engine2, &prepared2, &request)?;
        let timed_run = |name: &str| -> anyhow::Result<Duration> {
            let t = Instant::now();
            let report = run_plugin(&engine2, &prepared2, request(name));
            anyhow::ensure!(report.status == RunStatus::Complete, "bench run {name} ended {:?}: {:?}", report.status, report.message);
            Ok(t.elapsed())
        };
        const CALLS: u32 = 200_000;
        let mut per_call = Vec::new();
        for _ in 0..5 {
            let base = timed_run("bench-calls:0")?;
            let full = timed_run(&format!("bench-calls:{CALLS}"))?;
            per_call.push(full.saturating_sub(base) / CALLS);
        }
        let mut scans = Vec::new();
        for _ in 0..3 {
            scans.push(timed_run("scan")?);
        }
        let scan = median(scans);
        Ok((store_t, inst_t, median(per_call).as_nanos() as f64, rows as f64 / scan.as_secs_f64()))
    })
    .await??;
    Ok(PluginBench {
        instantiate_median_us: figures.1.as_secs_f64() * 1e6,
        store_median_us: figures.0.as_secs_f64() * 1e6,
        host_call_median_ns: figures.2,
        cached_load_median_ms: median(loads).as_secs_f64() * 1e3,
        compile_ms: compile.as_secs_f64() * 1e3,
        scan_rows: rows,
        scan_rows_per_second: figures.3,
        source_rows_per_second,
    })
}

fn measure_instantiation(
    engine: &PluginEngine,
    prepared: &PreparedPlugin,
    request: &dyn Fn(&str) -> RunRequest,
) -> anyhow::Result<(Duration, Duration)> {
    let (mut store_times, mut inst_times) = (Vec::new(), Vec::new());
    for _ in 0..2_000 {
        let mut req = request("noop");
        let t = Instant::now();
        let (mut store, _, _) = new_store(engine, &mut req);
        store_times.push(t.elapsed());
        let t = Instant::now();
        prepared.pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
        inst_times.push(t.elapsed());
    }
    Ok((median(store_times), median(inst_times)))
}
