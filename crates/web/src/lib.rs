//! `ferry serve`: the dashboard and the automation API over the same state and the same
//! functions as the CLI.
//!
//! Nothing here decides a rule: assessing, deciding, consenting, creating, checking,
//! running and stopping plans, Stages and audits all call the library functions the CLI
//! calls ([`ferry_apps::assess`], [`ferry_apps::consent`], [`ferry_migrate::plan`], [`ferry_apps::stages`],
//! [`ferry_apps::audit`]). This crate adds access control ([`auth`]), HTML pages
//! ([`pages`]), the JSON API ([`api`]) and live progress (server-sent events).
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod pages;
pub mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;

use auth::{Session, Sessions};
use ferry_core::state::StateDb;

/// How `ferry serve` listens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address (loopback by default).
    pub listen: SocketAddr,
    /// TLS certificate and key files (PEM), for a non-loopback address.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Serve plain HTTP on a non-loopback address anyway.
    pub insecure_http: bool,
    /// The environment variables the dashboard's forms may name (a site's API token, a
    /// directory key, an app's migration secret, a database password); any other is
    /// refused.
    pub secret_envs: Vec<String>,
}

impl ServeOptions {
    /// Refuse a non-loopback address without TLS unless plain HTTP was asked for; the
    /// warning to print when it was.
    pub fn check(&self) -> anyhow::Result<Option<String>> {
        if self.listen.ip().is_loopback() || self.tls.is_some() {
            return Ok(None);
        }
        anyhow::ensure!(
            self.insecure_http,
            "{} is not a loopback address: serve it with --tls-cert and --tls-key, or pass --insecure-http to send session cookies and tokens unencrypted",
            self.listen
        );
        Ok(Some(format!(
            "WARNING: serving plain HTTP on {}: anyone on the network path can read the login URL, session cookies and API tokens. Use --tls-cert/--tls-key.",
            self.listen
        )))
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

struct Inner {
    db: StateDb,
    home: PathBuf,
    sessions: Sessions,
    /// Whether the dashboard is served over TLS (cookies get `Secure`).
    secure: bool,
    /// The `ferry` program a plan runs in (one worker process per run, so a run does not
    /// depend on this server).
    worker: PathBuf,
    /// The environment variables the dashboard's forms may name (`--secret-env`).
    secret_envs: Vec<String>,
    /// The latest live-progress snapshot (JSON), read by one poller for every listener.
    live: tokio::sync::watch::Sender<String>,
    /// Plugin audits by the plugin's sha256 and the trusted keys they were judged
    /// against (an audit reads the whole component; a file never changes under its hash).
    audits: Mutex<HashMap<(String, String), ferry_apps::audit::AuditReport>>,
}

impl Web {
    /// The shared state of a server on `home`'s state DB; returns it with the one-time
    /// login token.
    /// Plans start `worker` (the `ferry` program) in processes of their own; the forms
    /// may name the environment variables `secret_envs` and no other.
    pub async fn open(home: &std::path::Path, secure: bool, worker: PathBuf, secret_envs: Vec<String>) -> anyhow::Result<(Web, String)> {
        let db = StateDb::open(home).await?;
        let (sessions, token) = Sessions::new();
        let (live, _) = tokio::sync::watch::channel(String::new());
        let inner = Inner { db, home: home.to_path_buf(), sessions, secure, worker, secret_envs, live, audits: Mutex::default() };
        let web = Web { inner: Arc::new(inner) };
        web.start_live_poller();
        web.start_reaper();
        Ok((web, token))
    }

    /// Read plan statuses and progress from the state DB every [`pages::LIVE_PERIOD`]
    /// while anyone listens, and publish each change: one reader however many browsers
    /// watch. The task ends when the server's state is dropped.
    /// End, every few seconds, each running plan whose process died (whoever started
    /// it): `failed`, with the reason, within [`ferry_migrate::plan::liveness::SILENT_FOR`]
    /// at most.
    fn start_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REAP_EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = ferry_migrate::plan::liveness::reap_dead_runs(&inner.db).await {
                    tracing::warn!("looking for runs whose process died: {e:#}");
                }
            }
        });
    }

    fn start_live_poller(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                if inner.live.receiver_count() > 0 {
                    match pages::progress_snapshot(&inner.db).await {
                        Ok(json) => {
                            inner.live.send_if_modified(|current| {
                                let changed = *current != json;
                                if changed {
                                    *current = json;
                                }
                                changed
                            });
                        }
                        Err(e) => tracing::warn!("live progress: {e:#}"),
                    }
                }
                drop(inner);
                tokio::time::sleep(pages::LIVE_PERIOD).await;
            }
        });
    }

    /// Keep `snapshot` as the latest without telling listeners (they have it).
    pub fn remember_live(&self, snapshot: &str) {
        self.inner.live.send_if_modified(|current| {
            *current = snapshot.to_string();
            false
        });
    }

    /// Listen to live progress: the receiver sees the latest snapshot and each change.
    pub fn live(&self) -> tokio::sync::watch::Receiver<String> {
        self.inner.live.subscribe()
    }

    /// Refuse a form's naming of environment variable `var` (in field `field`) unless
    /// `ferry serve` was started allowing it: a session may have a secret sent to a site
    /// it names, so only the variables the admin set aside for that can be named.
    pub fn may_name(&self, var: &str, field: &str) -> anyhow::Result<()> {
        if self.inner.secret_envs.iter().any(|allowed| allowed == var) {
            return Ok(());
        }
        let allowed = match self.inner.secret_envs.is_empty() {
            true => "it allows none".to_string(),
            false => format!("it allows {}", self.inner.secret_envs.iter().map(|v| format!("${v}")).collect::<Vec<_>>().join(", ")),
        };
        Err(ferry_core::Declined::invalid(format!(
            "“{field}”: ${var} is not a variable this dashboard may name ({allowed}): set it in the environment of `ferry serve` and start it with \
             `--secret-env {var}`, or use the command line"
        )))
    }

    /// The state DB.
    pub fn db(&self) -> &StateDb {
        &self.inner.db
    }

    /// Ferry's home folder.
    pub fn home(&self) -> &std::path::Path {
        &self.inner.home
    }

    /// The browser sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Every installed plugin with its audit (the reviewer's view): audits are kept by
    /// sha256 and the trusted keys, so a page does not parse every component again.
    pub async fn plugin_audits(&self) -> anyhow::Result<Vec<(ferry_apps::registry::InstalledPlugin, ferry_apps::audit::AuditReport)>> {
        use sqlx::Row;
        let registry = ferry_apps::registry::Registry::new(self.db().clone());
        let keys: Vec<String> =
            sqlx::query("SELECT public_key FROM trusted_keys ORDER BY public_key").fetch_all(self.db().pool()).await?.iter().map(|r| r.get(0)).collect();
        let trusted = keys.join(",");
        let mut trust = None;
        let mut out = Vec::new();
        for installed in registry.list().await? {
            let key = (installed.sha256.clone(), trusted.clone());
            let cached = self.inner.audits.lock().expect("not poisoned").get(&key).cloned();
            let report = match cached {
                Some(report) => report,
                None => {
                    if trust.is_none() {
                        trust = Some(ferry_apps::trust::TrustStore::load(self.db()).await?);
                    }
                    let bytes = registry.load(&installed.server_app_key).await?.1;
                    let report = ferry_apps::audit::audit(&bytes, trust.as_ref().expect("loaded above"));
                    self.inner.audits.lock().expect("not poisoned").insert(key, report.clone());
                    report
                }
            };
            out.push((installed, report));
        }
        Ok(out)
    }

    /// The plan `id`, when the dashboard may reach its destination: only a plan for a
    /// Cloud site the admin connected (`ferry cloud connect`). A plan made at the command
    /// line with `--destination` is checked and run there: the dashboard sends tokens
    /// only to connected sites.
    pub async fn connected_plan(&self, id: &str) -> anyhow::Result<ferry_migrate::plan::Plan> {
        let plan = ferry_migrate::plan::Plan::get(self.db(), id).await?;
        // The plan's destination and sign-in (URLs, email, variables) must still be the
        // connected site's (a site reconnected elsewhere since does not carry its old plans
        // along).
        let connected = match &plan.cloud {
            Some(name) => ferry_migrate::cloud::get(self.db(), name).await.is_ok_and(|site| {
                let target = plan.target();
                ferry_migrate::destination_key(&site.target.url) == ferry_migrate::destination_key(&target.url)
                    && site.target == ferry_migrate::cloud::Target { url: site.target.url.clone(), ..target }
            }),
            None => false,
        };
        ferry_core::Declined::unless(connected, || {
            format!(
                "plan {} goes to {}, which is not a connected Cloud site: check and run it at the command line (`ferry plan run {}`), \
                 or create it for a site connected with `ferry cloud connect`",
                plan.id, plan.destination, plan.id
            )
        })?;
        Ok(plan)
    }

    /// A migrator for the plan `id` (see [`Web::connected_plan`]).
    pub async fn migrator(&self, id: &str) -> anyhow::Result<ferry_migrate::Migrator> {
        let plan = self.connected_plan(id).await?;
        ferry_migrate::Migrator::new(self.db().clone(), plan, ferry_migrate::Progress::hidden()).await
    }

    /// Start running a plan in a worker process of its own (`ferry plan run`): the checks
    /// and the Stage 1 choice first, here, so a refusal comes back before anything
    /// starts; then the worker, which runs them again and the plan. Returns once the run
    /// has started (or the worker refused it). The worker outlives this server: stopping
    /// or restarting `ferry serve` leaves the run going; its output goes to
    /// `FERRY_HOME/logs/plan-ID.log`.
    pub async fn start_plan(&self, id: &str, stage1: Option<ferry_migrate::Stage1Choice>) -> anyhow::Result<()> {
        use ferry_migrate::plan::{status, Plan};
        let migrator = self.migrator(id).await?;
        let plan = migrator.plan().clone();
        ferry_migrate::plan::runner::ready(migrator, stage1).await?;
        let logs = self.inner.home.join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("cannot make {}", logs.display()))?;
        let log_path = logs.join(format!("plan-{}.log", plan.id));
        let log = std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?;
        let mut command = tokio::process::Command::new(&self.inner.worker);
        command.args(["plan", "run", &plan.id]).env("FERRY_HOME", &self.inner.home).stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log);
        if let Some(choice) = stage1 {
            command.args(["--stage1", choice.name()]);
        }
        // Its own process group: an interrupt meant for the server does not reach it.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().with_context(|| format!("cannot start {} to run plan {}", self.inner.worker.display(), plan.id))?;
        let deadline = std::time::Instant::now() + WORKER_START;
        loop {
            if Plan::get(self.db(), &plan.id).await?.status != status::SAVED {
                break;
            }
            if let Some(exit) = child.try_wait()? {
                let written = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = written.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" / ");
                anyhow::bail!("the run of plan {} did not start ({exit}): {tail}", plan.id);
            }
            if std::time::Instant::now() > deadline {
                tracing::warn!("plan {}: its worker has not started the run after {} s; it goes on", plan.id, WORKER_START.as_secs());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Read its exit when it ends (no zombie while the server lives).
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

/// How long a worker may take to start its run (its checks read the source and the site).
const WORKER_START: std::time::Duration = std::time::Duration::from_secs(120);

/// How often the server looks for runs whose process died.
const REAP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Every failure of a report as CSV (kind, entity, title, space, reason), with a header
/// row; a cell that a spreadsheet would read as a formula starts with `'`.
pub fn failures_csv(report: &ferry_migrate::report::PlanReport) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["kind", "entity", "title", "space", "reason"])?;
    let cell = |text: &str| -> String {
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text.to_string()
        }
    };
    for f in &report.failures {
        out.write_record([
            cell(&f.kind),
            cell(&f.server_id),
            cell(f.title.as_deref().unwrap_or_default()),
            cell(f.space.as_deref().unwrap_or_default()),
            cell(&f.reason),
        ])?;
    }
    Ok(String::from_utf8(out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?)
}

/// The largest request body the dashboard reads (a plan request is a few hundred bytes).
pub const MAX_BODY: u64 = 1 << 20;

/// Build the whole app: pages, API, the access rules in front of them, and the security
/// headers on every answer (refusals included).
pub fn router(web: Web) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(web.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY as usize))
        .layer(axum::middleware::from_fn_with_state(web.clone(), security_headers))
        .with_state(web)
}

/// The content security policy of every answer: the dashboard's own stylesheet and
/// script only, no inline code, never inside another site's frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Headers on every answer: no framing (clickjacking), no sniffing, no referrer, nothing
/// cached that the handler did not mark cacheable (plans, reports and audits are
/// private), and HSTS under TLS.
async fn security_headers(State(web): State<Web>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    if web.inner.secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, header::HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Whether a change comes from this server's own origin: `Origin` (else `Referer`), when
/// the client sends one, must be `scheme://host` of this server. A browser's POST from
/// one of its pages sends `Origin: null` under `Referrer-Policy: no-referrer`; such a
/// request is judged by `Sec-Fetch-Site` and its CSRF token instead. Clients that send
/// neither header (scripts, `curl`) are not browsers a page could drive.
fn from_own_origin(headers: &HeaderMap, secure: bool) -> Result<(), String> {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let own = format!("{}://{}", if secure { "https" } else { "http" }, host.to_ascii_lowercase());
    let claimed = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().unwrap_or("").trim().to_ascii_lowercase(),
        None => match headers.get(header::REFERER).and_then(|v| v.to_str().ok()).map(url::Url::parse) {
            Some(Ok(referer)) => referer.origin().ascii_serialization().to_ascii_lowercase(),
            Some(Err(_)) => return Err("the Referer header is not a URL".into()),
            None => return Ok(()),
        },
    };
    if claimed == "null" || claimed == own {
        return Ok(());
    }
    Err(format!("a change from {claimed} was refused: changes come from this server's own pages ({own}) or from API clients that send no Origin"))
}

/// A dashboard served over plain HTTP on `listen` (e.g. `127.0.0.1:0`) from a task of
/// this process, for tests and the bench: its address, its state and the one-time login
/// token.
pub async fn start(home: &std::path::Path, listen: &str) -> anyhow::Result<(SocketAddr, Web, String)> {
    start_with_worker(home, listen, std::env::current_exe().context("which program is this")?, &[]).await
}

/// [`start`], plans running in `worker` (the `ferry` program; a test's own binary is not),
/// the forms allowed to name the variables `secret_envs`.
pub async fn start_with_worker(home: &std::path::Path, listen: &str, worker: PathBuf, secret_envs: &[&str]) -> anyhow::Result<(SocketAddr, Web, String)> {
    let (web, token) = Web::open(home, false, worker, secret_envs.iter().map(|v| v.to_string()).collect()).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let app = router(web.clone());
    tokio::spawn(async move {
        if let Err(e) = server::serve(listener, app, None, std::future::pending()).await {
            tracing::error!("dashboard stopped: {e:#}");
        }
    });
    Ok((addr, web, token))
}

/// Serve until interrupted. Prints the one-time login URL.
pub async fn serve(home: &std::path::Path, options: ServeOptions) -> anyhow::Result<()> {
    if let Some(warning) = options.check()? {
        eprintln!("{warning}");
    }
    let tls = match &options.tls {
        Some((cert, key)) => Some(server::tls_config(cert, key)?),
        None => None,
    };
    let (web, token) = Web::open(home, tls.is_some(), std::env::current_exe().context("which program is this")?, options.secret_envs.clone()).await?;
    let app = router(web);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(options.listen).await.with_context(|| format!("cannot listen on {}", options.listen))?;
    print_login(scheme, listener.local_addr()?, &token);
    server::serve(listener, app, tls, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

fn print_login(scheme: &str, addr: SocketAddr, token: &str) {
    println!("Ferry dashboard on {scheme}://{addr}/");
    println!("Open this one-time login URL in your browser (it works once):");
    println!("  {scheme}://{addr}/login?token={token}");
    println!("API: {scheme}://{addr}/api/v1/ with `Authorization: Bearer <token>` (`ferry api-token create NAME`); OpenAPI at /api/v1/openapi.json");
}

/// An error as the API answers it: a stable code and a message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// A stable code (`unauthorized`, `csrf`, `not-found`, `refused`, `checks-failed`,
    /// `stage1-choice-needed`, `bad-request`, `too-large`, `internal`).
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
}

/// The body of an error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// An error with its HTTP status, for the API (JSON) and the pages (HTML).
#[derive(Debug)]
pub struct Failure {
    /// The status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl Failure {
    /// A failure with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, code, message: message.into() }
    }

    /// Classify a library error by its type: refusals are the admin's to fix (409/400), a
    /// missing entity is 404 ([`ferry_core::Declined`]), the rest is 500.
    pub fn from_error(e: anyhow::Error) -> Failure {
        use ferry_migrate::plan::runner::RunRefused;
        if let Some(refused) = e.downcast_ref::<RunRefused>() {
            let code = match refused {
                RunRefused::Checks(_) => "checks-failed",
                RunRefused::Stage1ChoiceNeeded(_) => "stage1-choice-needed",
            };
            return Failure::new(StatusCode::CONFLICT, code, refused.to_string());
        }
        if let Some(refused) = e.downcast_ref::<ferry_migrate::plan::PlanRefused>() {
            return Failure::new(StatusCode::BAD_REQUEST, "refused", refused.to_string());
        }
        let message = format!("{e:#}");
        match e.downcast_ref::<ferry_core::Declined>() {
            Some(ferry_core::Declined::NotFound(_)) => return Failure::new(StatusCode::NOT_FOUND, "not-found", message),
            Some(ferry_core::Declined::Conflict(_)) => return Failure::new(StatusCode::CONFLICT, "refused", message),
            Some(ferry_core::Declined::Invalid(_)) => return Failure::new(StatusCode::BAD_REQUEST, "bad-request", message),
            None => {}
        }
        tracing::warn!("dashboard request failed: {message}");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The JSON answer.
    pub fn json(self) -> Response {
        (self.status, axum::Json(ErrorBody { error: ApiError { code: self.code.into(), message: self.message } })).into_response()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::from_error(e)
    }
}

/// Who is calling, as the guard established it.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A browser with this session.
    Browser(Session),
    /// An automation client with the API token of this name.
    Token(String),
}

impl Caller {
    /// The session's CSRF token (none for a bearer-token caller).
    pub fn csrf(&self) -> Option<&str> {
        match self {
            Caller::Browser(s) => Some(&s.csrf),
            Caller::Token(_) => None,
        }
    }
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Paths anyone may open: the login exchange, the stylesheet and the OpenAPI document
/// (it describes the API and holds no data).
fn public(path: &str) -> bool {
    matches!(path, "/login" | "/style.css" | "/live.js" | "/page.js" | "/api/v1/openapi.json")
}

/// The access rules, before every handler:
/// - a bearer token (API only) must be a live API token;
/// - otherwise the session cookie must name a live session, and a state-changing
///   request must carry its CSRF token: the `X-CSRF-Token` header (scripts, API), or the
///   `csrf` form field, which the page handlers check (see [`pages::Form`]);
/// - a form post must also come from this site (`Origin`/`Sec-Fetch-Site`), when the
///   browser says where it comes from.
async fn guard(State(web): State<Web>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let api = path.starts_with("/api/");
    let refuse = |status: StatusCode, code: &'static str, message: &str| {
        let failure = Failure::new(status, code, message);
        if api {
            failure.json()
        } else {
            pages::failure_page(None, failure)
        }
    };
    // An absurd body is refused before anything reads it (a plugin upload may be larger).
    let limit =
        if path == "/plugins/install" || (path.starts_with("/sites/cloud/") && path.ends_with("/accounts")) { pages::MAX_UPLOAD as u64 } else { MAX_BODY };
    let length = request.headers().get(header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()));
    match length {
        Some(None) => return refuse(StatusCode::BAD_REQUEST, "bad-request", "the Content-Length header is not a number"),
        Some(Some(n)) if n > limit => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "too-large", &format!("the request body is {n} bytes; the dashboard reads at most {limit} there"))
        }
        _ => {}
    }
    if public(&path) {
        return next.run(request).await;
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes {
        if let Err(message) = from_own_origin(request.headers(), web.inner.secure) {
            return refuse(StatusCode::FORBIDDEN, "csrf", &message);
        }
        let cross_site = request.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v != "same-origin" && v != "none");
        if cross_site {
            return refuse(StatusCode::FORBIDDEN, "csrf", "a change from another site was refused");
        }
    }
    let bearer = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(value) = bearer {
        if !api {
            return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "API tokens open the API (/api/v1/...); the pages need the login URL ferry serve printed");
        }
        let Some(token) = value.strip_prefix("Bearer ") else {
            return refuse(StatusCode::UNAUTHORIZED, "unauthorized", "the Authorization header must be `Bearer <token>`");
        };
        return match auth::check_token(web.db(), token.trim()).await {
            Ok(Some(name)) => {
                request.extensions_mut().insert(Caller::Token(name));
                next.run(request).await
            }
            Ok(None) => refuse(StatusCode::UNAUTHORIZED, "unauthorized", "this API token is unknown or revoked: make one with `ferry api-token create NAME`"),
            Err(e) => Failure::from_error(e).json(),
        };
    }
    let session = cookie(request.headers(), auth::SESSION_COOKIE).and_then(|id| web.sessions().session(id));
    let Some(session) = session else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not signed in: open the one-time login URL `ferry serve` printed (restart it for a new one), or send an API token",
        );
    };
    if changes {
        let header_token = request.headers().get(auth::CSRF_HEADER).and_then(|v| v.to_str().ok());
        // A page's form (an upload's too) carries the token in its body, which the page
        // handler checks before it acts.
        let form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded") || c.starts_with("multipart/form-data"));
        match header_token {
            Some(given) if auth::csrf_matches(&session, given) => {}
            Some(_) => return refuse(StatusCode::FORBIDDEN, "csrf", "the CSRF token does not match this session: reload the page"),
            // A page form carries its token in the body; the page handler checks it.
            None if form && !api => {}
            None => return refuse(StatusCode::FORBIDDEN, "csrf", "a change needs the session's CSRF token (X-CSRF-Token header)"),
        }
    }
    request.extensions_mut().insert(Caller::Browser(session));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_failures_csv_quotes_what_it_must_and_never_hands_a_spreadsheet_a_formula() {
        let mut report = ferry_migrate::report::PlanReport::new("p", "n");
        report.fail("pages", "101", "its parent page 100 did not migrate, \"quoted\"");
        report.fail("attachments", "=HYPERLINK(\"x\")", "-1 bytes");
        report.failures[0].title = Some("Home, sweet".into());
        report.failures[0].space = Some("ENG".into());
        let csv = super::failures_csv(&report).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "kind,entity,title,space,reason");
        assert_eq!(lines[1], "pages,101,\"Home, sweet\",ENG,\"its parent page 100 did not migrate, \"\"quoted\"\"\"");
        assert_eq!(lines[2], "attachments,\"'=HYPERLINK(\"\"x\"\")\",,,'-1 bytes");
    }
}
