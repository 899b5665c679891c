//! The Cloud site client: users and groups over SCIM 2.0, content over a
//! Confluence-Cloud-shaped REST API, customers and requests over a
//! Jira-Service-Management-shaped one, app data over ferry's transfer endpoint.
//!
//! Sign-in is Atlassian's: a site admin's email and API token as HTTP Basic on the
//! site's own URL, or a scoped API token (or OAuth 2.0 access token) as Bearer through
//! the API gateway `https://api.atlassian.com/ex/{confluence|jira}/{cloudId}` ([`SiteAuth`]);
//! SCIM requests go to the organisation's user-provisioning directory with its own key
//! ([`Directory`]). Credentials are never logged and never in an error. Every request
//! to a site goes through one budget for that site: requests in flight adapt to it
//! (additive increase, halved on a 429), and a 429 pauses every request until its
//! `Retry-After` has passed. 5xx and transport failures are retried with exponential
//! backoff and jitter.
#![deny(missing_docs)]

/// The wire types, shared with the staging site.
pub use ferry_cloud_wire as api;
mod content;
mod groups;
pub use content::{CommentsOn, ContentKind};
pub use jsm::JiraEntity;
mod jsm;
mod limiter;
mod scim;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, RequestBuilder, Response, StatusCode};

/// A credential: shown as `***` in every `Debug`, `Display` and log.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a destination request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// The destination answered with an error status.
    #[error("{method} {path} answered {status}: {message}")]
    Status {
        /// HTTP method.
        method: String,
        /// Path (no query, no credentials).
        path: String,
        /// Status code.
        status: u16,
        /// The destination's message.
        message: String,
    },
    /// The destination could not be reached.
    #[error("{method} {path} failed: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// What failed (no URL, no credentials).
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("{path}: unexpected answer: {message}")]
    Decode {
        /// Path.
        path: String,
        /// What did not decode.
        message: String,
    },
    /// A user-provisioning call on a site connected without a SCIM directory.
    #[error("no user-provisioning (SCIM) directory is connected for this site: {0}")]
    NoDirectory(String),
}

impl DestinationError {
    /// The HTTP status, when the destination answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DestinationError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a create that failed so may still have landed: the site answered 5xx, or
    /// the answer was lost. Such a create is not repeated before looking for what it may
    /// have made.
    pub fn may_have_landed(&self) -> bool {
        match self {
            DestinationError::Status { status, .. } => *status >= 500,
            DestinationError::Transport { .. } => true,
            DestinationError::Decode { .. } | DestinationError::NoDirectory(_) => false,
        }
    }
}

/// How requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; doubles each retry, with jitter.
    pub base: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 8, base: Duration::from_millis(50), max: Duration::from_secs(10) }
    }
}

/// Atlassian's API gateway, through which scoped API tokens and OAuth 2.0 access tokens
/// reach a site.
pub const GATEWAY: &str = "https://api.atlassian.com";

/// How Ferry signs in to a Cloud site.
#[derive(Clone, Debug)]
pub enum SiteAuth {
    /// A site admin's email and API token, as HTTP Basic on the site's own URL.
    Basic {
        /// The admin's email address.
        email: String,
        /// The API token.
        token: Secret,
    },
    /// A scoped API token or an OAuth 2.0 access token, as Bearer through the API
    /// gateway: Confluence requests to `{gateway}/ex/confluence/{cloud_id}/wiki/…`, Jira
    /// and Service Management ones to `{gateway}/ex/jira/{cloud_id}/rest/…`.
    Gateway {
        /// The gateway's base URL ([`GATEWAY`] for a real site).
        gateway: String,
        /// The site's cloud id (`/_edge/tenant_info` of the site answers it).
        cloud_id: String,
        /// The token.
        token: Secret,
    },
}

/// The organisation's user-provisioning directory: its SCIM base URL
/// (`https://api.atlassian.com/scim/directory/{directoryId}` for a real organisation) and
/// its API key, sent as Bearer.
#[derive(Clone, Debug)]
pub struct Directory {
    /// The SCIM base URL.
    pub url: String,
    /// The directory's API key.
    pub key: Secret,
}

/// A connection to one Cloud site.
#[derive(Clone)]
pub struct Destination {
    http: reqwest::Client,
    base: String,
    auth: SiteAuth,
    scim: Option<Directory>,
    groups: GroupApi,
    budget: Arc<limiter::Limiter>,
    retry: RetryPolicy,
}

/// Which product's group API manages a site's groups when it has no directory: the one
/// the plan's product offers (a Jira-only site has no Confluence API, and the reverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupApi {
    /// `/wiki/rest/api/group…`.
    #[default]
    Confluence,
    /// `/rest/api/3/group…`.
    Jira,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination").field("base", &self.base).field("auth", &self.auth).field("scim", &self.scim).finish()
    }
}

impl Destination {
    /// A client of the site at `base` (e.g. `https://example.atlassian.net`), signed in
    /// with `auth`, provisioning users through `scim`, with at most `concurrency`
    /// requests in flight.
    pub fn new(base: &str, auth: SiteAuth, scim: Directory, concurrency: usize) -> anyhow::Result<Destination> {
        Destination::connect(base, auth, Some(scim), concurrency)
    }

    /// A client of a site whose organisation has no user-provisioning directory (or none
    /// Ferry may use): users are linked to accounts that exist, never created.
    pub fn without_directory(base: &str, auth: SiteAuth, concurrency: usize) -> anyhow::Result<Destination> {
        Destination::connect(base, auth, None, concurrency)
    }

    /// Whether users are provisioned through a SCIM directory.
    pub fn has_directory(&self) -> bool {
        self.scim.is_some()
    }

    fn connect(base: &str, auth: SiteAuth, scim: Option<Directory>, concurrency: usize) -> anyhow::Result<Destination> {
        let base = base.trim_end_matches('/').to_string();
        let auth = match auth {
            SiteAuth::Gateway { gateway, cloud_id, token } => SiteAuth::Gateway { gateway: gateway.trim_end_matches('/').to_string(), cloud_id, token },
            basic => basic,
        };
        let scim = scim.map(|scim| Directory { url: scim.url.trim_end_matches('/').to_string(), key: scim.key });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(concurrency.max(1)).build()?;
        Ok(Destination {
            http,
            base,
            auth,
            scim,
            groups: GroupApi::default(),
            budget: Arc::new(limiter::Limiter::new(concurrency)),
            retry: RetryPolicy::default(),
        })
    }

    /// This client, managing the site's groups through `api` (when it has no directory).
    pub fn with_group_api(mut self, api: GroupApi) -> Destination {
        self.groups = api;
        self
    }

    /// The cloud id a site answers at `/_edge/tenant_info` (no sign-in needed), for
    /// reaching it through the API gateway.
    pub async fn cloud_id_of(site: &str) -> Result<String, DestinationError> {
        let path = "/_edge/tenant_info".to_string();
        let url = format!("{}{path}", site.trim_end_matches('/'));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| DestinationError::Transport {
            method: "GET".into(),
            path: path.clone(),
            message: e.to_string(),
        })?;
        let response = http.get(&url).send().await.map_err(|e| DestinationError::Transport {
            method: "GET".into(),
            path: path.clone(),
            message: e.without_url().to_string(),
        })?;
        let response = ok(Method::GET, &path, response).await?;
        let info: api::TenantInfo = response.json().await.map_err(|e| DestinationError::Decode { path, message: e.without_url().to_string() })?;
        Ok(info.cloud_id)
    }

    /// Sign a request to `url` in the way its API takes: the directory's key for SCIM,
    /// the site's sign-in for everything else.
    fn signed(&self, request: RequestBuilder, url: &str) -> RequestBuilder {
        if let Some(scim) = self.scim.as_ref().filter(|scim| url.starts_with(&scim.url)) {
            return request.bearer_auth(scim.key.expose());
        }
        match &self.auth {
            SiteAuth::Basic { email, token } => request.basic_auth(email, Some(token.expose())),
            SiteAuth::Gateway { token, .. } => request.bearer_auth(token.expose()),
        }
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Destination {
        self.retry = retry;
        self
    }

    /// The site's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Send a request built by `build` (called once per attempt), retrying 429, 5xx and
    /// transport failures. Returns the first non-retryable answer, or the last failure.
    /// Only for requests that do the same when repeated (reads, `PUT`s, adds that leave
    /// what exists as it is): a create goes through [`Destination::send_create`].
    pub(crate) async fn send(&self, method: Method, url: String, build: impl Fn(RequestBuilder) -> RequestBuilder) -> Result<Response, DestinationError> {
        self.send_with(method, url, build, true).await
    }

    /// Send a create: a 429 is retried (the site refused it before doing anything), but a
    /// 5xx or a lost answer is not, since the create may have landed: the caller looks
    /// for it first ([`Destination::create_looking_first`]).
    pub(crate) async fn send_create(
        &self,
        method: Method,
        url: String,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, DestinationError> {
        self.send_with(method, url, build, false).await
    }

    /// Send a create and decode its JSON answer (see [`Destination::send_create`]).
    pub(crate) async fn json_create<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, DestinationError> {
        let path = self.path_of(&url);
        let response = self.send_create(Method::POST, url, build).await?;
        let response = ok(Method::POST, &path, response).await?;
        response.json::<T>().await.map_err(|e| DestinationError::Decode { path, message: e.without_url().to_string() })
    }

    /// Create something the public API cannot create idempotently, without ever creating
    /// it twice: when `look` is set (a killed run may have created it), `find` first;
    /// then `create`; a create that may have landed (5xx, lost answer) is followed by
    /// `find` again, after a backoff, before it is tried again. `find` answers what it
    /// found, or `None`.
    pub async fn create_looking_first<T, F, FF, C, CF>(&self, look: bool, find: F, create: C) -> Result<T, DestinationError>
    where
        F: Fn() -> FF,
        FF: std::future::Future<Output = Result<Option<T>, DestinationError>>,
        C: Fn() -> CF,
        CF: std::future::Future<Output = Result<T, DestinationError>>,
    {
        if look {
            if let Some(found) = find().await? {
                return Ok(found);
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match create().await {
                Ok(created) => return Ok(created),
                Err(e) if e.may_have_landed() && attempt < self.retry.attempts => {
                    let wait = self.backoff(attempt);
                    tracing::debug!("a create may have landed ({e}); looking for it in {wait:?}");
                    tokio::time::sleep(wait).await;
                    if let Some(found) = find().await? {
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The wait before attempt `attempt + 1`: exponential (capped), with jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let backoff = self.retry.base.saturating_mul(1 << (attempt - 1).min(16)).min(self.retry.max);
        backoff.mul_f64(rand::thread_rng().gen_range(0.5..1.0))
    }

    async fn send_with(
        &self,
        method: Method,
        url: String,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
        repeatable: bool,
    ) -> Result<Response, DestinationError> {
        let path = self.path_of(&url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let slot = self.budget.slot().await;
            let request = build(self.signed(self.http.request(method.clone(), &url), &url));
            let (throttled, retry_after, failure) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if let Some(rate) = stated_rate(response.headers()) {
                        self.budget.learned_rate(rate);
                    }
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        self.budget.succeeded();
                        return Ok(response);
                    }
                    let retry_after = retry_after(response.headers());
                    let message = response.text().await.unwrap_or_default();
                    let failure =
                        DestinationError::Status { method: method.to_string(), path: path.clone(), status: status.as_u16(), message: short(&message) };
                    (status == StatusCode::TOO_MANY_REQUESTS, retry_after, failure)
                }
                Err(e) => (false, None, DestinationError::Transport { method: method.to_string(), path: path.clone(), message: e.without_url().to_string() }),
            };
            drop(slot);
            // The site's Retry-After wins; otherwise exponential backoff (capped) with jitter.
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            if throttled {
                // Every request to the site waits, not only this one.
                self.budget.throttled(wait);
            }
            if attempt >= self.retry.attempts || (!throttled && !repeatable) {
                return Err(failure);
            }
            tracing::debug!("retrying {method} {path} in {wait:?} (attempt {attempt}): {failure}");
            if !throttled {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Requests the site has answered 429 so far (each retried after the pause it asked for).
    pub fn throttled(&self) -> u64 {
        self.budget.throttled_count()
    }

    /// How long requests to the site still wait for the pause its rate limit asked for
    /// (a `429`'s `Retry-After`), if they do.
    pub fn paused_for(&self) -> Option<Duration> {
        self.budget.paused_for()
    }

    /// Requests sent to the site so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.budget.sent_count()
    }

    /// The requests this client lets be in flight now (adapted to the site's throttling).
    pub fn in_flight_limit(&self) -> usize {
        self.budget.limit()
    }

    /// Send and demand a success status, decoding the JSON answer.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: String,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, DestinationError> {
        let path = self.path_of(&url);
        let response = self.send(method.clone(), url, build).await?;
        let response = ok(method, &path, response).await?;
        response.json::<T>().await.map_err(|e| DestinationError::Decode { path, message: e.without_url().to_string() })
    }

    /// GET `path` (of the site's base) as JSON, or `None` when it answers `404`.
    pub(crate) async fn json_or_none<T: serde::de::DeserializeOwned>(&self, path: String) -> Result<Option<T>, DestinationError> {
        let response = self.send(Method::GET, self.url(&path), |r| r).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = ok(Method::GET, &path, response).await?;
        response.json().await.map(Some).map_err(|e| DestinationError::Decode { path, message: e.without_url().to_string() })
    }

    /// The path of a request URL, for messages: no scheme, host, query or credentials.
    fn path_of(&self, url: &str) -> String {
        let url = url.split('?').next().unwrap_or(url);
        if let Some(path) = self.scim.as_ref().and_then(|scim| url.strip_prefix(scim.url.as_str())) {
            return path.to_string();
        }
        if let SiteAuth::Gateway { gateway, cloud_id, .. } = &self.auth {
            for product in ["confluence", "jira"] {
                if let Some(path) = url.strip_prefix(&format!("{gateway}/ex/{product}/{cloud_id}")) {
                    return path.to_string();
                }
            }
        }
        url.strip_prefix(self.base.as_str()).unwrap_or(url).to_string()
    }

    /// The URL of a site API path (`/wiki/…` for Confluence, `/rest/…` for Jira and
    /// Service Management): on the site itself, or through the gateway.
    pub(crate) fn url(&self, path: &str) -> String {
        match &self.auth {
            SiteAuth::Gateway { gateway, cloud_id, .. } if path.starts_with("/wiki/") => format!("{gateway}/ex/confluence/{cloud_id}{path}"),
            SiteAuth::Gateway { gateway, cloud_id, .. } if path.starts_with("/rest/") => format!("{gateway}/ex/jira/{cloud_id}{path}"),
            _ => format!("{}{path}", self.base),
        }
    }

    pub(crate) fn scim_url(&self, path: &str) -> Result<String, DestinationError> {
        match &self.scim {
            Some(scim) => Ok(format!("{}{path}", scim.url)),
            None => Err(DestinationError::NoDirectory(format!("{path} cannot be reached; users are linked to existing accounts instead"))),
        }
    }
}

/// The request rate a site states, requests per second, if it states one: the tokens it
/// adds to its bucket each interval (`X-RateLimit-FillRate` per `X-RateLimit-Interval-Seconds`).
fn stated_rate(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|v| *v > 0.0 && v.is_finite());
    Some(number("x-ratelimit-fillrate")? / number("x-ratelimit-interval-seconds").unwrap_or(1.0))
}

/// How long a throttling or unavailable site asks to wait: `Retry-After` in seconds, else
/// `X-RateLimit-Reset` (an RFC 3339 time, or seconds), at most ten minutes.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let secs = header(reqwest::header::RETRY_AFTER.as_str()).and_then(|v| v.parse::<f64>().ok()).or_else(|| {
        let reset = header("x-ratelimit-reset")?;
        reset.parse::<f64>().ok().or_else(|| {
            let at = chrono::DateTime::parse_from_rfc3339(reset).ok()?;
            Some((at.timestamp_millis() - chrono::Utc::now().timestamp_millis()) as f64 / 1000.0)
        })
    })?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 600.0)))
}

/// Turn an error status into a [`DestinationError`].
pub(crate) async fn ok(method: Method, path: &str, response: Response) -> Result<Response, DestinationError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let message = response.text().await.unwrap_or_default();
    Err(DestinationError::Status { method: method.to_string(), path: path.to_string(), status: status.as_u16(), message: short(&message) })
}

/// The characters of a destination's error body kept in a message.
const EXCERPT: usize = 200;

/// A short excerpt of a destination's error body for messages: at most [`EXCERPT`]
/// characters, control characters (line breaks, terminal escapes) as spaces. A page of
/// some other service never reaches a report or a dashboard whole.
fn short(message: &str) -> String {
    let message = message.trim();
    let mut excerpt: String = message.chars().take(EXCERPT).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if message.chars().nth(EXCERPT).is_some() {
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_body_reaches_messages_only_as_a_short_excerpt_without_control_characters() {
        let page = format!("\x1b[31m<html>{}</html>\r\nSet-Cookie: x", "a".repeat(10_000));
        let excerpt = super::short(&page);
        assert_eq!(excerpt.chars().count(), super::EXCERPT + 1, "{excerpt}");
        assert!(excerpt.ends_with('…') && !excerpt.chars().any(char::is_control), "{excerpt:?}");
        assert_eq!(super::short("  not found \n"), "not found");
    }
}
