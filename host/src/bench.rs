//! `ferry bench plugins`: the plugin runtime's speed on this machine, in one run.
//!
//! Figures are medians over repeated measurements; they are reported, never asserted.

use std::collections::BTreeMap;
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
    /// Median time to check the signature of a signed 1 MiB plugin (what signing adds to
    /// an install), ms.
    pub verify_1mib_median_ms: f64,
}

impl fmt::Display for PluginBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "instantiate (pooling + InstancePre), median : {:>10.1} µs   (target ≤ 30 µs)", self.instantiate_median_us)?;
        writeln!(f, "sandbox store creation, median             : {:>10.1} µs", self.store_median_us)?;
        writeln!(f, "host call with a small string, median      : {:>10.0} ns   (target ≤ 1000 ns)", self.host_call_median_ns)?;
        writeln!(f, "cached compiled-plugin load, median        : {:>10.2} ms   (target ≤ 5 ms)", self.cached_load_median_ms)?;
        writeln!(f, "first compilation                          : {:>10.0} ms", self.compile_ms)?;
        writeln!(f, "table scan of {} rows by the plugin     : {:>10.0} rows/s (target ≥ 1,000,000)", self.scan_rows, self.scan_rows_per_second)?;
        writeln!(f, "same table read by the host alone          : {:>10.0} rows/s", self.source_rows_per_second)?;
        write!(f, "signature check of a 1 MiB plugin, median  : {:>10.2} ms   (target ≤ 5 ms)", self.verify_1mib_median_ms)
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
    use sqlx::ConnectOptions as _;
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&format!("sqlite://{}?mode=rwc", path.display()))?
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
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
    let bytes = std::fs::read(plugin_path)
        .with_context(|| format!("cannot read {}: build it with `cargo build --release --target wasm32-wasip2 -p table_scan`", plugin_path.display()))?;
    let report = audit(&bytes, &crate::plugins::trust::TrustStore::default());
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
        attachments: None,
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
    };
    let (store_t, inst_t) = measure_instantiation(&engine, &prepared, &request).await?;
    let timed_run = async |name: &str| -> anyhow::Result<Duration> {
        let t = Instant::now();
        let report = run_plugin(&engine, &prepared, request(name)).await;
        anyhow::ensure!(report.status == RunStatus::Complete, "bench run {name} ended {:?}: {:?}", report.status, report.message);
        Ok(t.elapsed())
    };
    const CALLS: u32 = 200_000;
    let mut per_call = Vec::new();
    for _ in 0..5 {
        let base = timed_run("bench-calls:0").await?;
        let full = timed_run(&format!("bench-calls:{CALLS}")).await?;
        per_call.push(full.saturating_sub(base) / CALLS);
    }
    let mut scans = Vec::new();
    for _ in 0..3 {
        scans.push(timed_run("scan").await?);
    }
    let scan = median(scans);
    let figures = (store_t, inst_t, median(per_call).as_nanos() as f64, rows as f64 / scan.as_secs_f64());
    Ok(PluginBench {
        instantiate_median_us: figures.1.as_secs_f64() * 1e6,
        store_median_us: figures.0.as_secs_f64() * 1e6,
        host_call_median_ns: figures.2,
        cached_load_median_ms: median(loads).as_secs_f64() * 1e3,
        compile_ms: compile.as_secs_f64() * 1e3,
        scan_rows: rows,
        scan_rows_per_second: figures.3,
        source_rows_per_second,
        verify_1mib_median_ms: measure_verification(&bytes)?.as_secs_f64() * 1e3,
    })
}

/// The median signature check of the bench plugin padded to 1 MiB (a custom section) and
/// signed with a throwaway key.
fn measure_verification(plugin: &[u8]) -> anyhow::Result<Duration> {
    use crate::plugins::signature::{self, Signature, SigningKey};
    const NAME: &[u8] = b"bench-padding";
    let padding = (1usize << 20).saturating_sub(plugin.len() + NAME.len() + 8);
    let mut padded = plugin.to_vec();
    padded.push(0);
    let mut size = NAME.len() + 1 + padding;
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        padded.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    padded.push(NAME.len() as u8);
    padded.extend_from_slice(NAME);
    padded.resize(padded.len() + padding, 0);
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let signed = signature::sign(&padded, &SigningKey::from_bytes(&secret))?;
    let mut samples = Vec::with_capacity(50);
    for _ in 0..50 {
        let t = Instant::now();
        let checked = signature::verify(&signed);
        samples.push(t.elapsed());
        anyhow::ensure!(matches!(checked, Signature::Valid(_)), "the bench signature did not verify: {checked:?}");
    }
    Ok(median(samples))
}

async fn measure_instantiation(engine: &PluginEngine, prepared: &PreparedPlugin, request: &dyn Fn(&str) -> RunRequest) -> anyhow::Result<(Duration, Duration)> {
    let (mut store_times, mut inst_times) = (Vec::new(), Vec::new());
    for _ in 0..2_000 {
        let mut req = request("noop");
        let t = Instant::now();
        let deadline = Instant::now() + req.limits.deadline;
        let (mut store, _) = new_store(engine, &mut req, deadline);
        store_times.push(t.elapsed());
        let t = Instant::now();
        match &prepared.pre {
            crate::plugins::engine::Pre::V0_1(pre) => {
                pre.instantiate_async(&mut store).await.map_err(anyhow::Error::from)?;
            }
            crate::plugins::engine::Pre::V0_2(pre) => {
                pre.instantiate_async(&mut store).await.map_err(anyhow::Error::from)?;
            }
        }
        inst_times.push(t.elapsed());
    }
    Ok((median(store_times), median(inst_times)))
}

/// The figures of one `ferry bench migrate` run.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateBench {
    /// Users, spaces, pages (and blog posts), attachments in the generated site.
    pub site: crate::migrate::report::PlanReport,
    /// Users migrated per second (users step).
    pub users_per_second: f64,
    /// Which history the plan migrated (`all` or `current`).
    pub history: String,
    /// Pages and blog posts migrated per second (pages step).
    pub pages_per_second: f64,
    /// Versions of pages and blog posts migrated per second (pages step; with history
    /// `current`, one per page).
    pub versions_per_second: f64,
    /// Attachment MB (10^6 bytes) migrated per second.
    pub attachment_mb_per_second: f64,
    /// The staging site's own ingest rate of the same users and their product access,
    /// driven directly (no source, no mappings).
    pub ingest_users_per_second: f64,
    /// The staging site's own ingest rate of as many pages, half of them with a parent.
    pub ingest_pages_per_second: f64,
    /// The staging site's own ingest rate of attachment MB.
    pub ingest_attachment_mb_per_second: f64,
    /// Peak resident memory of this process (the migrator), MB.
    pub peak_rss_mb: f64,
}

impl fmt::Display for MigrateBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
        let c = |k: &str| self.site.counts.get(k).copied().unwrap_or_default();
        writeln!(
            f,
            "site: {} users, {} pages, {} blog posts, {} comments, {} attachments ({:.1} MB)",
            c("users").server,
            c("pages").server,
            c("blogposts").server,
            c("comments").server,
            c("attachments").server,
            self.site.attachment_bytes as f64 / 1e6
        )?;
        writeln!(f, "                 migration      staging ingest   ratio")?;
        writeln!(
            f,
            "users/s       {:>12.0}   {:>14.0}   {:>4.0}%   (target ≥ 2,000/s, ≥ 70%)",
            self.users_per_second,
            self.ingest_users_per_second,
            pct(self.users_per_second, self.ingest_users_per_second)
        )?;
        writeln!(
            f,
            "pages/s       {:>12.0}   {:>14.0}   {:>4.0}%   (target ≥ 1,000/s, ≥ 70%; history: {})",
            self.pages_per_second,
            self.ingest_pages_per_second,
            pct(self.pages_per_second, self.ingest_pages_per_second),
            self.history
        )?;
        if self.history == "all" {
            writeln!(
                f,
                "versions/s    {:>12.0}   ({} versions of {} pages and blog posts)",
                self.versions_per_second,
                c("versions").cloud,
                c("pages").cloud + c("blogposts").cloud
            )?;
        }
        writeln!(
            f,
            "attachment MB/s {:>10.1}   {:>14.1}   {:>4.0}%",
            self.attachment_mb_per_second,
            self.ingest_attachment_mb_per_second,
            pct(self.attachment_mb_per_second, self.ingest_attachment_mb_per_second)
        )?;
        write!(f, "peak RSS of the migrator: {:.0} MB (target ≤ 256 MB)", self.peak_rss_mb)
    }
}

/// Peak resident set size of this process, from /proc (Linux), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serve a staging site from a child process, signed in to as a real site (its admin's
/// email with a new token in `$FERRY_BENCH_TOKEN`, its directory with the key in
/// `$FERRY_BENCH_SCIM_KEY`); returns it, the way to it and a client of it.
async fn staging_child(db: &Path, extra: &[String]) -> anyhow::Result<(Child, crate::cloud::Target, crate::destination::Destination)> {
    let access = crate::staging::Access::with_token(&format!("bench-{}", crate::plugins::local::new_id()));
    std::env::set_var("FERRY_BENCH_TOKEN", &access.api_token);
    std::env::set_var("FERRY_BENCH_SCIM_KEY", &access.directory_key);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(["staging", "serve", "--db"])
        .arg(db)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--email", &access.email])
        .args(extra)
        .env("FERRY_STAGING_TOKEN", &access.api_token)
        .env("FERRY_STAGING_SCIM_KEY", &access.directory_key)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start the staging site")?;
    let child = Child(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            let cloud_id = crate::destination::Destination::cloud_id_of(&url).await?;
            let scim_url = format!("{url}/scim/directory/{}", crate::staging::directory_id(&cloud_id));
            let target = crate::demo::staging_target(&url, &access, &scim_url, "FERRY_BENCH_TOKEN", "FERRY_BENCH_SCIM_KEY", None);
            let client = target.client(crate::migrate::DEFAULT_CONCURRENCY)?;
            return Ok((child, target, client));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("the staging site did not start")
}

/// Drive the staging site directly with the same volume: its ingest limit here.
async fn ingest(dest: &crate::destination::Destination, report: &crate::migrate::report::PlanReport) -> anyhow::Result<(f64, f64, f64)> {
    use futures_util::{stream, StreamExt};
    let n_users = report.counts["users"].cloud.max(1);
    let n_pages = (report.counts["pages"].cloud + report.counts["blogposts"].cloud).max(1);
    let n_files = report.counts["attachments"].cloud.max(1);
    let conc = crate::migrate::DEFAULT_CONCURRENCY;
    let t = Instant::now();
    let users: Vec<anyhow::Result<String>> = stream::iter(0..n_users)
        .map(|i| {
            let dest = dest.clone();
            async move {
                let user = dest.create_user(&format!("ingest{i}@example.com"), "Ingest", true).await?;
                Ok(user.id.unwrap_or_default())
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let ids: Vec<String> = users.into_iter().collect::<anyhow::Result<Vec<String>>>()?;
    // The same data as the migration: the users and their product access.
    let product = dest.find_group(crate::staging::PRODUCT_ACCESS_GROUP).await?.and_then(|g| g.id).unwrap_or_default();
    for chunk in ids.chunks(500) {
        dest.add_group_members(&product, chunk).await?;
    }
    let users_rate = n_users as f64 / t.elapsed().as_secs_f64();
    let space = dest.create_space("INGEST", "Ingest").await?.id.unwrap_or_default();
    // The same data as the migration: half the pages top-level, half children of those
    // (so the site checks parents as it does for a page tree).
    let t = Instant::now();
    let mut pages: Vec<i64> = Vec::with_capacity(n_pages as usize);
    let half = n_pages.div_ceil(2);
    for (range, with_parent) in [(0..half, false), (half..n_pages, true)] {
        let parents = pages.clone();
        let level: Vec<anyhow::Result<i64>> = stream::iter(range)
            .map(|i| {
                let dest = dest.clone();
                let parent = with_parent.then(|| parents[i as usize % parents.len()]);
                async move {
                    let page = crate::destination::api::NewContent {
                        space_id: space,
                        status: "current".into(),
                        title: format!("ingest page {i}"),
                        parent_id: parent,
                        body: crate::destination::api::Body { representation: "storage".into(), value: format!("<p>Body of ingest page {i}.</p>") },
                    };
                    Ok(dest.create_content(false, &page, false).await?.id)
                }
            })
            .buffer_unordered(conc)
            .collect()
            .await;
        pages.extend(level.into_iter().collect::<anyhow::Result<Vec<i64>>>()?);
    }
    let pages_rate = n_pages as f64 / t.elapsed().as_secs_f64();
    let size = (report.attachment_bytes / n_files).max(1) as usize;
    let t = Instant::now();
    let files: Vec<anyhow::Result<()>> = stream::iter(0..n_files)
        .map(|i| {
            let dest = dest.clone();
            let page = pages[i as usize % pages.len()];
            async move {
                let data = bytes::Bytes::from(vec![b'x'; size]);
                dest.upload_attachment(page, "ingest.txt", "text/plain", data).await.map(|_| ()).map_err(Into::into)
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    files.into_iter().collect::<anyhow::Result<()>>()?;
    let mb_rate = (n_files as usize * size) as f64 / 1e6 / t.elapsed().as_secs_f64();
    Ok((users_rate, pages_rate, mb_rate))
}

/// A generated Confluence site in a fresh `dir` (what was there is removed): its folder.
fn generate_site(dir: &Path, options: &crate::sample::SampleOptions) -> anyhow::Result<std::path::PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let site = dir.join("site");
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["sample-site", "--out"])
        .arg(&site)
        .args(["--users", &options.users.to_string(), "--spaces", &options.spaces.to_string()])
        .args(["--pages-per-space", &options.pages_per_space.to_string()])
        .args(["--attachments-per-page", &options.attachments_per_page.to_string(), "--seed", &options.seed.to_string()])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "generating the bench site failed");
    Ok(site)
}

/// A run of a Confluence plan (no apps) from the generated `site` to `target`, with its
/// state in `dir`.
async fn confluence_migrator(
    dir: &Path,
    site: &Path,
    target: &crate::cloud::Target,
    history: crate::plan::HistoryScope,
) -> anyhow::Result<crate::migrate::Migrator> {
    let db = crate::state::StateDb::open(&dir.join("home")).await?;
    let plan = crate::plan::Plan::create(
        &db,
        crate::plan::Plan {
            apps: crate::plan::AppsScope::None,
            history,
            ..crate::plan::Plan::new("bench", &site.join("site.db").display().to_string(), &site.join("attachments").display().to_string(), target)
        },
    )
    .await?;
    crate::migrate::Migrator::new(db, plan, crate::terminal::progress()).await
}

/// Generate a site, migrate it to a staging site on loopback, and measure.
pub async fn bench_migrate(home: &Path, options: &crate::sample::SampleOptions, history: crate::plan::HistoryScope) -> anyhow::Result<MigrateBench> {
    let dir = home.join("bench").join(format!("migrate-{history}"));
    let site = generate_site(&dir, options)?;
    let (_cloud, target, _) = staging_child(&dir.join("cloud.db"), &[]).await?;
    let report = confluence_migrator(&dir, &site, &target, history).await?.run().await?;
    let peak_rss_mb = peak_rss_mb();
    let (_ingest_site, _, ingest_dest) = staging_child(&dir.join("ingest.db"), &[]).await?;
    let (iu, ip, imb) = ingest(&ingest_dest, &report).await?;
    let secs = |k: &str| report.step_seconds.get(k).copied().unwrap_or(0.0).max(1e-9);
    Ok(MigrateBench {
        users_per_second: report.counts["users"].cloud as f64 / secs("users"),
        history: history.to_string(),
        pages_per_second: (report.counts["pages"].cloud + report.counts["blogposts"].cloud) as f64 / secs("pages"),
        versions_per_second: report.counts["versions"].cloud as f64 / secs("pages"),
        attachment_mb_per_second: report.attachment_bytes as f64 / 1e6 / secs("attachments"),
        ingest_users_per_second: iu,
        ingest_pages_per_second: ip,
        ingest_attachment_mb_per_second: imb,
        peak_rss_mb,
        site: report,
    })
}

/// A site across the internet: the latency every answer takes and the site's request
/// budget (requests per second).
#[derive(Debug, Clone, Copy)]
pub struct Across {
    /// Added to every answer.
    pub latency: Duration,
    /// The request budget, per second.
    pub rate: f64,
}

/// The figures of one `ferry bench migrate --latency … --rate-limit …` run: against a
/// real site the bound is its request budget.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetBench {
    /// Pages, blog posts and comments, attachments of the generated site (its report).
    pub site: crate::migrate::report::PlanReport,
    /// The latency, ms.
    pub latency_ms: u64,
    /// The site's budget, requests per second.
    pub rate_limit: f64,
    /// Seconds the migration took (the run).
    pub seconds: f64,
    /// Every request the site answered, the 429s included.
    pub requests: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Share of the budget used: answered requests / (rate × seconds).
    pub budget_used: f64,
    /// Pages and blog posts migrated per hour of the pages step (creates, versions, origins).
    pub pages_per_hour: f64,
    /// Pages and blog posts per hour of the whole run (comments, attachments, labels,
    /// permissions and the rest included).
    pub pages_per_hour_overall: f64,
    /// All requests (but 429s) per migrated page or blog post.
    pub requests_per_page: f64,
    /// The page's own requests (create, versions, origin, labels, restrictions, lookups)
    /// per migrated page or blog post.
    pub page_requests_per_page: f64,
    /// Requests (but 429s) per kind: what they were for.
    pub per_kind: std::collections::BTreeMap<String, u64>,
}

impl fmt::Display for BudgetBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |k: &str| self.site.counts.get(k).copied().unwrap_or_default();
        writeln!(
            f,
            "site: {} users, {} pages, {} blog posts, {} comments, {} attachments; latency {} ms, budget {}/s",
            c("users").cloud,
            c("pages").cloud,
            c("blogposts").cloud,
            c("comments").cloud,
            c("attachments").cloud,
            self.latency_ms,
            self.rate_limit
        )?;
        writeln!(
            f,
            "took {:.1} s: {:.0} pages and blog posts per hour with everything else, {:.0} per hour in the pages step",
            self.seconds, self.pages_per_hour_overall, self.pages_per_hour
        )?;
        writeln!(
            f,
            "requests: {} answered, {} throttled ({:.1} %); budget used {:.0} % (target ≥ 90 %, < 5 % throttled)",
            self.requests - self.throttled,
            self.throttled,
            100.0 * self.throttled as f64 / self.requests.max(1) as f64,
            100.0 * self.budget_used
        )?;
        writeln!(
            f,
            "requests per migrated page or blog post: {:.2} of its own (create, versions, origin, labels, restrictions; target ≤ 5), {:.2} with everything else",
            self.page_requests_per_page, self.requests_per_page
        )?;
        for (kind, n) in &self.per_kind {
            writeln!(f, "  {kind:<28} {n:>7}")?;
        }
        Ok(())
    }
}

/// What a request to a site was for, from its method and path.
fn request_kind(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    let v2 = path.strip_prefix("/wiki/api/v2/");
    match (method, v2) {
        ("POST", Some("pages" | "blogposts")) => "page create",
        ("PUT", Some(p)) if p.starts_with("pages/") || p.starts_with("blogposts/") => "page version",
        (_, Some(p)) if p.ends_with("/properties") && p.starts_with("comments/") => "comment origin",
        (_, Some(p)) if p.ends_with("/properties") => "page origin",
        (_, Some(p)) if p.starts_with("spaces/") => "page lookup",
        (_, Some(p)) if p.contains("comments") => "comment",
        _ if path.ends_with("/label") => "labels",
        _ if path.ends_with("/restriction") => "restrictions",
        _ if path.contains("/child/attachment") => "attachment",
        _ if path.contains("/permission") => "space permission",
        _ if path.starts_with("/wiki/rest/api/space") => "space",
        _ if path.starts_with("/scim/") && path.contains("/Users") => "scim users",
        _ if path.starts_with("/scim/") => "scim groups",
        _ => "other",
    }
}

/// Migrate a generated site to a staging site across a (simulated) internet: every
/// answer takes `across.latency`, and the site answers at most `across.rate` requests a
/// second (429 past it). Reports pages per hour, the share of the budget used, the
/// throttled share, and requests per page and per kind (from the site's journal).
pub async fn bench_budget(home: &Path, options: &crate::sample::SampleOptions, across: Across) -> anyhow::Result<BudgetBench> {
    let dir = home.join("bench").join("migrate-budget");
    let site = generate_site(&dir, options)?;
    let journal = dir.join("journal.jsonl");
    let extra = vec![
        "--latency".to_string(),
        format!("{}ms", across.latency.as_millis()),
        "--rate-limit".to_string(),
        format!("{}/s", across.rate),
        "--journal".to_string(),
        journal.display().to_string(),
    ];
    let (_cloud, target, _) = staging_child(&dir.join("cloud.db"), &extra).await?;
    let migrator = confluence_migrator(&dir, &site, &target, crate::plan::HistoryScope::All).await?;
    let started = Instant::now();
    let report = migrator.run().await?;
    let seconds = started.elapsed().as_secs_f64();
    let (mut requests, mut throttled) = (0u64, 0u64);
    let mut per_kind = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(&journal)?.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)?;
        requests += 1;
        if entry["status"] == 429 {
            throttled += 1;
            continue;
        }
        let kind = request_kind(entry["method"].as_str().unwrap_or_default(), entry["path"].as_str().unwrap_or_default());
        *per_kind.entry(kind.to_string()).or_default() += 1;
    }
    let pages = (report.counts["pages"].cloud + report.counts["blogposts"].cloud).max(1) as f64;
    let answered = (requests - throttled) as f64;
    Ok(BudgetBench {
        latency_ms: across.latency.as_millis() as u64,
        rate_limit: across.rate,
        seconds,
        requests,
        throttled,
        budget_used: answered / (across.rate * seconds).max(1e-9),
        pages_per_hour: pages * 3600.0 / report.step_seconds.get("pages").copied().unwrap_or(seconds).max(1e-9),
        pages_per_hour_overall: pages * 3600.0 / seconds.max(1e-9),
        requests_per_page: answered / pages,
        page_requests_per_page: ["page create", "page version", "page origin", "page lookup", "labels", "restrictions"]
            .iter()
            .map(|k| per_kind.get(*k).copied().unwrap_or(0))
            .sum::<u64>() as f64
            / pages,
        per_kind,
        site: report,
    })
}

/// The figures of one `ferry bench migrate --product jira` run.
#[derive(Debug, Clone, Serialize)]
pub struct JiraBench {
    /// The plan's report (counts of the generated site).
    pub site: crate::migrate::report::PlanReport,
    /// Customers migrated per second (customers step).
    pub customers_per_second: f64,
    /// Requests migrated per second, with their comments (requests step).
    pub requests_per_second: f64,
    /// Comments migrated per second (inside the requests step).
    pub comments_per_second: f64,
    /// The staging site's own ingest rate of as many customers, driven directly.
    pub ingest_customers_per_second: f64,
    /// The staging site's own ingest rate of as many requests with as many comments.
    pub ingest_requests_per_second: f64,
    /// Peak resident memory of this process (the migrator), MB.
    pub peak_rss_mb: f64,
}

impl fmt::Display for JiraBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
        let c = |k: &str| self.site.counts.get(k).copied().unwrap_or_default();
        writeln!(
            f,
            "site: {} customers, {} agents, {} organizations, {} requests, {} comments",
            c("customers").server,
            c("agents").server,
            c("organizations").server,
            c("requests").server,
            c("comments").server
        )?;
        writeln!(f, "                 migration      staging ingest   ratio")?;
        writeln!(
            f,
            "customers/s   {:>12.0}   {:>14.0}   {:>4.0}%   (target ≥ 2,000/s, ≥ 70%)",
            self.customers_per_second,
            self.ingest_customers_per_second,
            pct(self.customers_per_second, self.ingest_customers_per_second)
        )?;
        writeln!(
            f,
            "requests/s    {:>12.0}   {:>14.0}   {:>4.0}%   (target ≥ 1,000/s with their comments, ≥ 70%)",
            self.requests_per_second,
            self.ingest_requests_per_second,
            pct(self.requests_per_second, self.ingest_requests_per_second)
        )?;
        writeln!(f, "comments/s    {:>12.0}", self.comments_per_second)?;
        write!(f, "peak RSS of the migrator: {:.0} MB (target ≤ 256 MB)", self.peak_rss_mb)
    }
}

/// Drive a staging site directly with `customers` customers and `requests` requests
/// shaped as the sample writes them (participants, comments and their authors): its
/// ingest limit.
async fn ingest_jira(dest: &crate::destination::Destination, customers: u64, requests: u64) -> anyhow::Result<(f64, f64)> {
    use crate::destination::api::*;
    use futures_util::{stream, StreamExt};
    let conc = crate::migrate::DEFAULT_CONCURRENCY;
    let t = Instant::now();
    // Driven the way the migrator drives each kind, minus the source and the ledger:
    // customers as futures polled in one task, requests each in its own task, with as
    // many waiting as the migrator keeps (the client caps the HTTP calls at `conc`).
    let made: Vec<anyhow::Result<String>> = stream::iter(0..customers.max(1))
        .map(|i| {
            let dest = dest.clone();
            async move { Ok(dest.create_customer(&format!("ingest{i}@example.net"), "Ingest").await?.account_id) }
        })
        .buffer_unordered(4 * conc)
        .collect()
        .await;
    let accounts = made.into_iter().collect::<anyhow::Result<Vec<String>>>()?;
    let customers_rate = accounts.len() as f64 / t.elapsed().as_secs_f64();
    let project = NewProject { key: "ING".into(), name: "Ingest".into(), project_type_key: "service_desk".into(), lead_account_id: None };
    dest.create_project(&project).await?;
    let desk = dest.service_desks().await?.into_iter().find(|d| d.project_key == "ING").context("the ingest service desk")?.id;
    let request_type = dest.request_types(&desk).await?.into_iter().next().context("the ingest service desk's request type")?.id;
    let t = Instant::now();
    let n = accounts.len();
    let sent: Vec<Result<anyhow::Result<()>, tokio::task::JoinError>> = stream::iter(0..requests.max(1))
        .map(|r| {
            let (dest, desk) = (dest.clone(), desk.clone());
            // The shape of the sample's requests: a reporter, `r % 3` participants, and
            // `r % 4` comments, the second by the reporter and the others by an agent.
            let reporter = accounts[r as usize % n].clone();
            let participants: Vec<String> = (1..=(r % 3)).map(|k| accounts[(r + 5 * k) as usize % n].clone()).filter(|p| *p != reporter).collect();
            let request_type = request_type.clone();
            tokio::spawn(async move {
                let request = NewRequest {
                    service_desk_id: desk,
                    request_type_id: request_type,
                    request_field_values: RequestFields {
                        summary: format!("Request {r}: printer on floor {}", r % 5),
                        description: Some(format!("h1. Problem\nThe printer on floor {} is jammed (request {r}).", r % 5)),
                    },
                    raise_on_behalf_of: Some(reporter),
                    request_participants: participants,
                };
                let created = dest.create_request(&request).await?;
                for c in 0..r % 4 {
                    let comment =
                        NewRequestComment { body: format!("Comment {c} on {r}: have you tried turning it off and on?"), public: !(c == 0 && r % 2 == 0) };
                    dest.add_request_comment(&created.issue_key, &comment).await?;
                }
                Ok(())
            })
        })
        .buffer_unordered(4 * conc)
        .collect()
        .await;
    sent.into_iter().try_for_each(|r| r?)?;
    Ok((customers_rate, requests.max(1) as f64 / t.elapsed().as_secs_f64()))
}

/// Generate a Jira site, migrate all its customers and service projects to a staging
/// site on loopback, and measure.
pub async fn bench_migrate_jira(home: &Path, options: &crate::sample::jira::JiraOptions) -> anyhow::Result<JiraBench> {
    let dir = home.join("bench").join("migrate-jira");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let site = dir.join("site");
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["sample-site", "--product", "jira", "--out"])
        .arg(&site)
        .args(["--agents", &options.agents.to_string(), "--customers", &options.customers.to_string()])
        .args(["--requests-per-project", &options.requests_per_project.to_string()])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "generating the bench site failed");
    let (_cloud, target, _) = staging_child(&dir.join("cloud.db"), &[]).await?;
    let db = crate::state::StateDb::open(&dir.join("home")).await?;
    let plan = crate::plan::Plan::create(
        &db,
        crate::plan::Plan {
            product: crate::source::Product::Jira,
            spaces: crate::plan::SpacesScope::None,
            projects: crate::plan::SpacesScope::All,
            customers: crate::plan::UsersScope::All,
            apps: crate::plan::AppsScope::None,
            product_group: crate::staging::JSM_ACCESS_GROUP.into(),
            ..crate::plan::Plan::new("bench", &site.join("jira.db").display().to_string(), "", &target)
        },
    )
    .await?;
    let report = crate::migrate::Migrator::new(db, plan, crate::terminal::progress()).await?.run().await?;
    anyhow::ensure!(report.error.is_none(), "the bench migration stopped: {}", report.error.clone().unwrap_or_default());
    let peak_rss_mb = peak_rss_mb();
    let (_ingest_site, _, ingest_dest) = staging_child(&dir.join("ingest.db"), &[]).await?;
    let (ic, ir) = ingest_jira(&ingest_dest, report.counts["customers"].cloud, report.counts["requests"].cloud).await?;
    let secs = |k: &str| report.step_seconds.get(k).copied().unwrap_or(0.0).max(1e-9);
    Ok(JiraBench {
        customers_per_second: report.counts["customers"].cloud as f64 / secs("customers"),
        requests_per_second: report.counts["requests"].cloud as f64 / secs("requests"),
        comments_per_second: report.counts["comments"].cloud as f64 / secs("requests"),
        ingest_customers_per_second: ic,
        ingest_requests_per_second: ir,
        peak_rss_mb,
        site: report,
    })
}

/// What `ferry bench serve` measured.
#[derive(Debug, Serialize)]
pub struct ServeBench {
    /// Plans in the state DB.
    pub plans: usize,
    /// Plugins installed.
    pub plugins: usize,
    /// Per page or endpoint: the median answer time in ms (warm, one client).
    pub median_ms: BTreeMap<String, f64>,
    /// The slowest of those medians.
    pub worst_median_ms: f64,
    /// Live progress: from the migrator recording a step's count in the state DB to the
    /// event reaching a listening client, median and worst, in ms.
    pub live_median_ms: f64,
    /// The worst of the live samples.
    pub live_worst_ms: f64,
}

impl fmt::Display for ServeBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "dashboard with {} plans and {} plugins in the state DB", self.plans, self.plugins)?;
        for (page, ms) in &self.median_ms {
            writeln!(f, "  {page:<28} median {ms:>7.2} ms")?;
        }
        writeln!(f, "slowest median: {:.2} ms (target ≤ 50 ms)", self.worst_median_ms)?;
        write!(f, "live progress, recorded → on the page: median {:.0} ms, worst {:.0} ms (target ≤ 1,000 ms)", self.live_median_ms, self.live_worst_ms)
    }
}

/// Fill a state DB with `plans` plans (most finished, with reports) and `plugins`
/// plugins made from `plugin_path`, serve the dashboard on loopback, and time each page
/// and the live progress.
pub async fn bench_serve(home: &Path, plugin_path: &Path, plans: usize, plugins: usize) -> anyhow::Result<ServeBench> {
    use crate::plan::Plan;
    let dir = home.join("bench").join("serve");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let state = dir.join("home");
    let db = crate::state::StateDb::open(&state).await?;

    // Plugins: one real component under `plugins` app keys, each with its Server app
    // assessed, decided needed and consented to.
    let bytes = crate::plugins::component::read_plugin_file(plugin_path)
        .with_context(|| format!("build the plugins first (cargo build --release --target wasm32-wasip2 -p page_ratings): {}", plugin_path.display()))?;
    let registry = crate::plugins::registry::Registry::new(db.clone());
    for n in 0..plugins {
        let key = format!("com.example.bench.app{n:02}");
        let made = crate::plugins::component::rewrite_manifest(&bytes, &|m| {
            // The app's tables carry its key's AO prefix.
            let prefix = ferry_manifest::ao_table_prefix(&key);
            if let Some(tables) = m["tables"].as_object().cloned() {
                let renamed: serde_json::Map<String, serde_json::Value> =
                    tables.into_iter().map(|(name, cols)| (format!("{prefix}{}", name.splitn(3, '_').nth(2).unwrap_or(&name)), cols)).collect();
                m["tables"] = serde_json::Value::Object(renamed);
            }
            m["server_app_key"] = serde_json::json!(key);
            m["cloud_app_key"] = serde_json::json!(format!("{key}.cloud"));
            m["name"] = serde_json::json!(format!("Bench app {n}"));
        })?;
        registry.install(&made, true).await?;
        sqlx::query(
            "INSERT INTO server_apps (app_key, name, version, vendor, enabled, source, assessed_at) VALUES (?, ?, '1.0.0', 'Bench vendor', 1, 'bench', ?)",
        )
        .bind(&key)
        .bind(format!("Bench app {n}"))
        .bind(crate::state::now())
        .execute(db.pool())
        .await?;
        crate::assess::decide(&db, &key, crate::assess::Decision::Needed).await?;
        crate::consent::agree(&db, &key, None).await?;
    }

    // Plans: one saved through the library (a plan reads its Server site when it is made:
    // a small sample site), then copies (most finished, with a report of realistic size;
    // the last one running).
    let site = dir.join("site");
    let small = crate::sample::SampleOptions { users: 5, spaces: 1, pages_per_space: 2, attachments_per_page: 0, seed: 7 };
    crate::sample::write_sample_site(&site, None, &small).await?;
    let source = site.join("site.db").display().to_string();
    let attachments = site.join("attachments").display().to_string();
    let template = Plan::create(
        &db,
        Plan {
            apps: crate::plan::AppsScope::None,
            ..Plan::new(
                "bench plan",
                &source,
                &attachments,
                &crate::cloud::Target { url: "http://127.0.0.1:9".into(), token_env: "FERRY_BENCH_TOKEN".into(), ..crate::cloud::Target::default() },
            )
        },
    )
    .await?;
    let mut report = crate::migrate::report::PlanReport::new(&template.id, "bench plan");
    for (kind, count) in report.counts.iter_mut() {
        *count = crate::migrate::report::Count { server: 5_000 + kind.len() as u64, cloud: 4_990, failed: 10 };
    }
    for n in 0..40 {
        report.fail("pages", format!("{n}"), format!("page {n}: the body could not be read (fix the storage format and run a new plan)"));
    }
    report.status = crate::plan::status::FINISHED.into();
    let report_json = serde_json::to_string(&report)?;
    let mut tx = db.pool().begin().await?;
    for n in 1..plans {
        let status = if n + 1 == plans { crate::plan::status::RUNNING } else { crate::plan::status::FINISHED };
        sqlx::query(
            "INSERT INTO plans (id, name, source, attachments, destination, scim_url, token_env, users, spaces, attachments_only, product_group, status, created_at, \
             apps, app_deadline_secs, trusted_domains, cloud, source_password_env, history, product, projects, customers, site, report_json) \
             SELECT ?, name || ' ' || ?, source, attachments, destination, scim_url, token_env, users, spaces, attachments_only, product_group, ?, ?, \
             apps, app_deadline_secs, trusted_domains, cloud, source_password_env, history, product, projects, customers, site, ? FROM plans WHERE id = ?",
        )
        .bind(format!("{:012x}", n))
        .bind(n as i64)
        .bind(status)
        .bind(crate::state::now())
        .bind(if status == crate::plan::status::FINISHED { Some(report_json.as_str()) } else { None })
        .bind(&template.id)
        .execute(&mut *tx)
        .await?;
        for (step, total) in [("users", 5_000), ("groups", 200), ("spaces", 5), ("pages", 10_000), ("attachments", 10_000)] {
            sqlx::query("INSERT INTO plan_progress (plan_id, step, done, total) VALUES (?, ?, ?, ?)")
                .bind(format!("{:012x}", n))
                .bind(step)
                .bind(total)
                .bind(total)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    drop(db);

    let (addr, web, login) = crate::web::start(&state, "127.0.0.1:0").await?;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let base = format!("http://{addr}");
    let response = http.get(format!("{base}/login?token={login}")).send().await?;
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("the login set no cookie")?
        .to_string();
    let (_, token) = crate::web::auth::create_token(web.db(), "bench").await?;
    let finished_id = format!("{:012x}", 1);
    let pages = [
        "/".to_string(),
        "/apps".into(),
        "/apps/com.example.bench.app00/consent".into(),
        "/plans".into(),
        format!("/plans/{finished_id}"),
        "/plugins".into(),
        "/stages".into(),
        "/api/v1/plans".into(),
        format!("/api/v1/plans/{finished_id}"),
        "/api/v1/apps".into(),
        "/api/v1/plugins".into(),
        "/api/v1/stages".into(),
    ];
    let mut median_ms = BTreeMap::new();
    for page in &pages {
        let mut samples = Vec::new();
        for round in 0..31 {
            let request = if page.starts_with("/api/") {
                http.get(format!("{base}{page}")).bearer_auth(&token)
            } else {
                http.get(format!("{base}{page}")).header("cookie", &cookie)
            };
            let t = Instant::now();
            let response = request.send().await?;
            anyhow::ensure!(response.status().is_success(), "{page} answered {}", response.status());
            response.bytes().await?;
            // The first answer warms the caches (the plugins' audits); it is not counted.
            if round > 0 {
                samples.push(t.elapsed());
            }
        }
        median_ms.insert(page.clone(), median(samples).as_secs_f64() * 1000.0);
    }
    let worst_median_ms = median_ms.values().cloned().fold(0.0, f64::max);

    // Live progress: a running plan's count changes in the state DB (as a migrator in
    // another process records it); time until the event with it arrives.
    use futures_util::StreamExt;
    let running = format!("{:012x}", plans.max(2) - 1);
    let mut stream = http.get(format!("{base}/plans/events")).header("cookie", &cookie).send().await?.bytes_stream();
    let mut buffer = String::new();
    let mut live = Vec::new();
    for n in 1..=20u64 {
        let done = 1_000 + n;
        let t = Instant::now();
        sqlx::query("UPDATE plan_progress SET done = ? WHERE plan_id = ? AND step = 'pages'").bind(done as i64).bind(&running).execute(web.db().pool()).await?;
        let needle = format!("\"pages\":{{\"done\":{done},");
        loop {
            if let Some(at) = buffer.find(&needle) {
                buffer.drain(..at + needle.len());
                break;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .context("no live progress within 10 s")?
                .context("the event stream ended")??;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        live.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(137)).await;
    }
    let live_worst_ms = live.iter().max().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
    Ok(ServeBench { plans, plugins, median_ms, worst_median_ms, live_median_ms: median(live).as_secs_f64() * 1000.0, live_worst_ms })
}
