//! The staging site: a real HTTP server implementing the whole destination API (SCIM,
//! Confluence content, Jira Service Management, app data) with
//! persistence (axum + SQLite), the target of trial migrations, of the demo and of the
//! tests. It also answers the questions a reviewer asks after a run (`/ferry/v1/review`).
//!
//! It signs people in as a real site does: HTTP Basic with the site admin's email and
//! API token on the site's URL, the same token as Bearer through the gateway paths
//! `/ex/{confluence|jira}/{cloudId}/…` (a real site's gateway is `api.atlassian.com`),
//! and the user-provisioning directory's own key as Bearer on
//! `/scim/directory/{directoryId}`; `/_edge/tenant_info` answers the cloud id unsigned.
//!
//! Fault injection for tests: throttling (429 with `Retry-After`) every Nth request, and
//! random 500s at a given rate.
#![deny(missing_docs)]

mod admin;
pub mod apps;
mod groups;
mod journal;
mod jsm;
mod scim;
mod wiki;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use sqlx::sqlite::SqlitePool;

use ferry_cloud_wire::ErrorBody;

pub use ferry_cloud_wire::{JSM_ACCESS_GROUP, PRODUCT_ACCESS_GROUP};

/// Faults to inject, for tests of retry and resilience.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// A request budget as a real site has one: at most this many requests per second
    /// (a token bucket holding one second's worth); past it, 429 with `Retry-After`
    /// (whole seconds) and `X-RateLimit-*` headers (0: no budget).
    pub rate_limit: f64,
    /// Answer every Nth request with 429 (0: never).
    pub throttle_every: u64,
    /// The `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u64,
    /// Answer this fraction of requests (0.0–1.0) with 500, before doing anything.
    pub fail_rate: f64,
    /// Do this fraction of changes (0.0–1.0), then answer 502 as if the answer was lost
    /// on the way: a client must look before it repeats a create.
    pub lose_answer_rate: f64,
    /// Added to every answer, as a site across the internet takes (0: none).
    pub latency: std::time::Duration,
    /// Behave like a site that takes no comments on attachments (answer `attachmentId`
    /// with 400), to test how file comments are reported where they cannot move.
    pub no_file_comments: bool,
}

/// Shared state of the server.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Reads (several connections: WAL readers never wait for the writer).
    pub db: SqlitePool,
    /// Every write, and the lookups of the handlers that write, through one connection:
    /// writers queue in the pool instead of meeting SQLite's lock and sleeping in its
    /// busy handler, and the one writer's page cache stays warm (a reader connection
    /// drops its cache whenever another connection has committed).
    pub write: SqlitePool,
    access: Arc<Access>,
    /// The site's cloud id.
    pub cloud_id: Arc<String>,
    faults: Faults,
    requests: Arc<AtomicU64>,
    /// The rate limit's bucket: tokens left and when it was last filled.
    bucket: Arc<std::sync::Mutex<(f64, std::time::Instant)>>,
    /// Requests answered 429 by the rate limit.
    pub(crate) throttled: Arc<AtomicU64>,
}

/// Who may sign in to a staging site, as to a real one.
#[derive(Clone, Debug)]
pub struct Access {
    /// The site admin's email (Basic sign-in).
    pub email: String,
    /// The admin's API token (Basic with the email on the site; Bearer through the gateway).
    pub api_token: String,
    /// The user-provisioning directory's API key (Bearer on SCIM).
    pub directory_key: String,
    /// The directory's id, when it is not the one derived from the site's cloud id.
    pub directory_id: Option<String>,
    /// Whether the account administers the site (a test's site may be signed in to by
    /// an account that does not).
    pub admin: bool,
    /// The migration secret the stand-in cloud apps (`/apps/{key}/`) issued: Ferry signs
    /// each app transfer with it.
    pub app_secret: String,
    /// Stand-in cloud apps that misbehave, by cloud app key (tests, trial runs).
    pub app_faults: std::collections::BTreeMap<String, apps::AppFault>,
}

/// The largest request body the site takes.
pub(crate) const MAX_BODY: usize = 512 << 20;

/// The site admin's email when none is given.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";

impl Access {
    /// The default admin (`admin@example.com`) with `api_token`, and a directory key of
    /// its own derived from it (a test needs one value to pass around).
    pub fn with_token(api_token: &str) -> Access {
        Access {
            email: DEFAULT_ADMIN_EMAIL.into(),
            api_token: api_token.into(),
            directory_key: format!("{api_token}.scim"),
            directory_id: None,
            admin: true,
            app_secret: format!("{api_token}.app"),
            app_faults: Default::default(),
        }
    }

    /// The admin's Atlassian account id (stable for an email).
    pub fn admin_account_id(&self) -> String {
        use sha2::Digest;
        hex_of(&sha2::Sha256::digest(format!("admin:{}", self.email.to_lowercase())))[..24].to_string()
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID-shaped id for row `n` of a table (each kind of id has its own `prefix`, so an id
/// of one kind never names another): how the staging site writes the ids a site writes as
/// UUIDs (SCIM users and groups, Confluence groups).
pub(crate) fn uuid_of(prefix: &str, n: i64) -> String {
    format!("{prefix}-0000-4000-8000-{n:012x}")
}

/// The row an id of `prefix`'s kind names, if it is one.
pub(crate) fn row_of(prefix: &str, id: &str) -> Option<i64> {
    let n = id.strip_prefix(prefix)?.strip_prefix("-0000-4000-8000-")?;
    if n.len() != 12 {
        return None;
    }
    i64::from_str_radix(n, 16).ok()
}

/// The id of a site's user-provisioning directory (stable for a cloud id, as a UUID).
pub fn directory_id(cloud_id: &str) -> String {
    use sha2::Digest;
    let h = hex_of(&sha2::Sha256::digest(format!("directory:{cloud_id}")));
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A running staging site.
pub struct StagingSite {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its cloud id.
    pub cloud_id: String,
    /// Its user-provisioning directory's id.
    pub directory_id: String,
    task: tokio::task::JoinHandle<()>,
}

impl StagingSite {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its user-provisioning directory's SCIM base URL.
    pub fn scim_url(&self) -> String {
        format!("{}/scim/directory/{}", self.url(), self.directory_id)
    }
}

impl Drop for StagingSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Open (creating) the staging database.
pub async fn open_db(path: &Path) -> anyhow::Result<SqlitePool> {
    let db = ferry_core::state::open_sqlite(path).await.with_context(|| format!("cannot open the staging database {}", path.display()))?;
    // A site written before pages had versions gains the columns first (the view needs them).
    let has_versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('content') WHERE name = 'version'").fetch_one(&db).await?;
    let has_content: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'content'").fetch_one(&db).await?;
    if has_content == 1 && has_versions == 0 {
        for column in ["version INTEGER", "version_message TEXT", "version_author TEXT", "version_at TEXT"] {
            sqlx::query(&format!("ALTER TABLE content ADD COLUMN {column}")).execute(&db).await?;
        }
        sqlx::query("UPDATE content SET version = 1, version_author = author_id, version_at = created_at WHERE kind IN ('page', 'blogpost')")
            .execute(&db)
            .await?;
    }
    sqlx::raw_sql(include_str!("schema.sql")).execute(&db).await?;
    for group in [PRODUCT_ACCESS_GROUP, JSM_ACCESS_GROUP, ferry_cloud_wire::SITE_ADMINS_GROUP] {
        sqlx::query("INSERT OR IGNORE INTO groups (name) VALUES (?)").bind(group).execute(&db).await?;
    }
    sqlx::query("INSERT OR IGNORE INTO site (id, cloud_id) VALUES (1, ?)").bind(ferry_core::new_id()).execute(&db).await?;
    Ok(db)
}

/// Install cloud apps on the staging site kept in `db_path` (what `--cloud-app` does).
pub async fn install_cloud_apps(db_path: &Path, keys: &[String]) -> anyhow::Result<()> {
    let db = open_db(db_path).await?;
    for key in keys {
        admin::install_cloud_app(&db, key).await?;
    }
    db.close().await;
    Ok(())
}

/// Start a staging site on `listen` (e.g. `127.0.0.1:0`) storing into `db_path`.
pub async fn start(db_path: &Path, listen: &str, access: &Access, faults: Faults) -> anyhow::Result<StagingSite> {
    start_with_journal(db_path, listen, access, faults, None).await
}

/// [`start`], journaling every request it answers into `journal` (one JSON line each,
/// never a credential; see `scripts/conformance.py`).
pub async fn start_with_journal(db_path: &Path, listen: &str, access: &Access, faults: Faults, journal: Option<&Path>) -> anyhow::Result<StagingSite> {
    let journal = journal.map(journal::Journal::open).transpose().context("cannot open the request journal")?;
    let db = open_db(db_path).await?;
    let cloud_id: String = sqlx::query_scalar("SELECT cloud_id FROM site WHERE id = 1").fetch_one(&db).await?;
    let directory = access.directory_id.clone().unwrap_or_else(|| directory_id(&cloud_id));
    anyhow::ensure!(
        !directory.is_empty() && directory.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "a directory id is letters, digits and -, not {directory:?}"
    );
    let write = ferry_core::state::open_sqlite_pool(db_path, 1).await?;
    let state = AppState {
        db,
        write,
        access: Arc::new(access.clone()),
        cloud_id: Arc::new(cloud_id.clone()),
        faults,
        requests: Arc::new(AtomicU64::new(0)),
        bucket: Arc::new(std::sync::Mutex::new((faults.rate_limit, std::time::Instant::now()))),
        throttled: Arc::default(),
    };
    let routes = wiki::routes()
        .merge(groups::routes())
        .merge(admin::routes())
        .merge(jsm::routes())
        .nest(&format!("/scim/directory/{directory}"), scim::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .route("/_edge/tenant_info", axum::routing::get(admin::tenant_info))
        // A stand-in cloud app proves its sender by the transfer's signature, not a sign-in.
        .merge(apps::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state.clone());
    // The gateway's paths are rewritten before routing, as the gateway forwards them.
    let app = tower::Layer::layer(&axum::middleware::from_fn_with_state(state, through_gateway), routes);
    let app = tower::Layer::layer(&axum::middleware::from_fn_with_state(journal, journal::record), app);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(app)).await {
            tracing::error!("staging site stopped: {e}");
        }
    });
    Ok(StagingSite { addr, cloud_id, directory_id: directory, task })
}

/// How a request signed in.
enum SignIn {
    /// Basic with the admin's email and token, on the site's own paths.
    Site,
    /// Bearer with the admin's token, through the gateway.
    Gateway,
    /// Bearer with the directory's key, on SCIM.
    Directory,
}

/// A gateway path (`/ex/confluence/{cloudId}/wiki/…`, `/ex/jira/{cloudId}/rest/…`) for
/// this site becomes the site path it names, marked as having come through the gateway;
/// a gateway path for another product's prefix or another cloud id is not found.
async fn through_gateway(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/ex/") else { return next.run(request).await };
    let Some((product, rest)) = rest.split_once('/') else { return error(StatusCode::NOT_FOUND, "no such gateway path") };
    let Some((cloud_id, inner)) = rest.split_once('/') else { return error(StatusCode::NOT_FOUND, "no such gateway path") };
    let inner = format!("/{inner}");
    let serves = match product {
        "confluence" => inner.starts_with("/wiki/"),
        "jira" => inner.starts_with("/rest/"),
        _ => false,
    };
    if cloud_id != state.cloud_id.as_str() || !serves {
        return error(StatusCode::NOT_FOUND, format!("the gateway has no {product} site with cloud id {cloud_id} serving {inner}"));
    }
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    match format!("{inner}{query}").parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return error(StatusCode::BAD_REQUEST, "bad path"),
    }
    request.extensions_mut().insert(ViaGateway);
    next.run(request).await
}

/// Marks a request that came through the gateway.
#[derive(Clone, Copy)]
struct ViaGateway;

/// The sign-in a request carries, if it is one this site takes for that path.
fn signed_in(state: &AppState, request: &Request) -> Option<SignIn> {
    let header = request.headers().get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    if request.uri().path().starts_with("/scim/") {
        return (header.strip_prefix("Bearer ")? == state.access.directory_key).then_some(SignIn::Directory);
    }
    if request.extensions().get::<ViaGateway>().is_some() {
        return (header.strip_prefix("Bearer ")? == state.access.api_token).then_some(SignIn::Gateway);
    }
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(header.strip_prefix("Basic ")?.trim()).ok()?;
    let (email, token) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (email.eq_ignore_ascii_case(&state.access.email) && token == state.access.api_token).then_some(SignIn::Site)
}

/// Sign-in check and fault injection, before every handler.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.faults.latency.is_zero() {
        tokio::time::sleep(state.faults.latency).await;
    }
    if signed_in(&state, &request).is_none() {
        let mut response = error(StatusCode::UNAUTHORIZED, "Client must be authenticated to access this resource.");
        if !request.uri().path().starts_with("/scim/") && request.extensions().get::<ViaGateway>().is_none() {
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"protected-area\""));
        }
        return response;
    }
    if let Some(wait) = over_budget(&state) {
        state.throttled.fetch_add(1, Ordering::Relaxed);
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
        let reset = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + wait).to_string();
        let headers = response.headers_mut();
        headers.insert("retry-after", HeaderValue::from(wait.as_secs_f64().ceil().max(1.0) as u64));
        headers.insert("x-ratelimit-limit", HeaderValue::from(state.faults.rate_limit.ceil() as u64));
        headers.insert("x-ratelimit-fillrate", HeaderValue::from(state.faults.rate_limit.ceil() as u64));
        headers.insert("x-ratelimit-interval-seconds", HeaderValue::from(1));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
        if let Ok(reset) = HeaderValue::from_str(&reset) {
            headers.insert("x-ratelimit-reset", reset);
        }
        return response;
    }
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if state.faults.throttle_every > 0 && n % state.faults.throttle_every == 0 {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limited: slow down");
        response.headers_mut().insert("retry-after", HeaderValue::from(state.faults.retry_after_secs));
        return response;
    }
    if state.faults.fail_rate > 0.0 && rand::thread_rng().gen_bool(state.faults.fail_rate.clamp(0.0, 1.0)) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
    }
    if request.method() == axum::http::Method::GET {
        return next.run(request).await;
    }
    // A change runs to its end even when the client goes away mid-request (is killed, or
    // times out), as on a real server: what a client did not hear about may have landed.
    let lose_answer = state.faults.lose_answer_rate > 0.0 && rand::thread_rng().gen_bool(state.faults.lose_answer_rate.clamp(0.0, 1.0));
    let task = tokio::spawn(async move { next.run(request).await });
    match task.await {
        Ok(response) if lose_answer && response.status().is_success() => {
            error(StatusCode::BAD_GATEWAY, "injected failure after the change was made: the answer was lost")
        }
        Ok(response) => response,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("request task failed: {e}")),
    }
}

/// Take one token of the site's request budget, or say how long until one is there.
fn over_budget(state: &AppState) -> Option<std::time::Duration> {
    let rate = state.faults.rate_limit;
    if rate <= 0.0 {
        return None;
    }
    let mut bucket = state.bucket.lock().expect("not poisoned");
    let now = std::time::Instant::now();
    let (tokens, filled) = *bucket;
    let tokens = (tokens + now.duration_since(filled).as_secs_f64() * rate).min(rate.max(1.0));
    if tokens >= 1.0 {
        *bucket = (tokens - 1.0, now);
        None
    } else {
        *bucket = (tokens, now);
        Some(std::time::Duration::from_secs_f64((1.0 - tokens) / rate))
    }
}

/// A JSON error answer.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { message: message.into() })).into_response()
}

/// A database failure as a 500 answer.
pub(crate) fn db_error(e: sqlx::Error) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e}"))
}
