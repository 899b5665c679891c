//! The staging site: a real HTTP server implementing the whole destination API (SCIM,
//! Confluence content, Jira Service Management, app data) with
//! persistence (axum + SQLite), the target of trial migrations, of the demo and of the
//! tests. It also answers the questions a reviewer asks after a run (`/ferry/v1/review`).
//!
//! Fault injection for tests: throttling (429 with `Retry-After`) every Nth request, and
//! random 500s at a given rate.
#![deny(missing_docs)]

mod admin;
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
    /// Answer every Nth request with 429 (0: never).
    pub throttle_every: u64,
    /// The `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u64,
    /// Answer this fraction of requests (0.0–1.0) with 500.
    pub fail_rate: f64,
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
    token: Arc<String>,
    faults: Faults,
    requests: Arc<AtomicU64>,
    /// One lock per idempotency key being served, so a retry waits for the first try.
    inflight: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// A running staging site.
pub struct StagingSite {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl StagingSite {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
pub async fn start(db_path: &Path, listen: &str, token: &str, faults: Faults) -> anyhow::Result<StagingSite> {
    let db = open_db(db_path).await?;
    let write = ferry_core::state::open_sqlite_pool(db_path, 1).await?;
    let state = AppState { db, write, token: Arc::new(token.to_string()), faults, requests: Arc::new(AtomicU64::new(0)), inflight: Arc::default() };
    let app = wiki::routes()
        .merge(admin::routes())
        .merge(jsm::routes())
        .nest("/scim/v2", scim::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(512 << 20))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("staging site stopped: {e}");
        }
    });
    Ok(StagingSite { addr, task })
}

/// Bearer-token check and fault injection, before every handler.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authorized = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == state.token.as_str());
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
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
    let key = (request.method() == axum::http::Method::POST)
        .then(|| request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string))
        .flatten();
    let Some(key) = key else { return next.run(request).await };
    // Detached: a client that disconnects (or is killed) mid-request cannot cancel the
    // create between its write and the record of its answer.
    let lock = state.inflight.lock().expect("not poisoned").entry(key.clone()).or_default().clone();
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let _serving = lock.lock().await;
        let response = replay_or_run(&task_state, key.clone(), request, next).await;
        task_state.inflight.lock().expect("not poisoned").remove(&key);
        response
    });
    match task.await {
        Ok(response) => response,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("request task failed: {e}")),
    }
}

/// A POST with an `Idempotency-Key` runs once: a repeat gets the first answer again.
async fn replay_or_run(state: &AppState, key: String, request: Request, next: Next) -> Response {
    match sqlx::query_as::<_, (i64, Vec<u8>)>("SELECT status, body FROM idempotency WHERE key = ?").bind(&key).fetch_optional(&state.write).await {
        Ok(Some((status, body))) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            return (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        Ok(None) => {}
        Err(e) => return db_error(e),
    }
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("response: {e}")),
    };
    let stored = sqlx::query("INSERT OR IGNORE INTO idempotency (key, status, body) VALUES (?, ?, ?)")
        .bind(&key)
        .bind(i64::from(parts.status.as_u16()))
        .bind(bytes.as_ref())
        .execute(&state.write)
        .await;
    if let Err(e) = stored {
        return db_error(e);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A JSON error answer.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { message: message.into() })).into_response()
}

/// A database failure as a 500 answer.
pub(crate) fn db_error(e: sqlx::Error) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e}"))
}
