//! The Cloud site client: users and groups over SCIM 2.0, content over a
//! Confluence-Cloud-shaped REST API, customers and requests over a
//! Jira-Service-Management-shaped one, app data over ferry's transfer endpoint.
//!
//! Every request carries the bearer token (never logged, never in an error), runs under
//! a concurrency bound, and is retried on 429 and 5xx with exponential backoff and
//! jitter, honouring `Retry-After`.
#![deny(missing_docs)]

/// The wire types, shared with the staging site.
pub use ferry_cloud_wire as api;
mod content;
mod jsm;
mod scim;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio::sync::Semaphore;

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
}

impl DestinationError {
    /// The HTTP status, when the destination answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DestinationError::Status { status, .. } => Some(*status),
            _ => None,
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

/// A connection to one Cloud site.
#[derive(Clone)]
pub struct Destination {
    http: reqwest::Client,
    base: String,
    scim_base: String,
    token: Secret,
    permits: Arc<Semaphore>,
    retry: RetryPolicy,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination").field("base", &self.base).field("scim_base", &self.scim_base).field("token", &self.token).finish()
    }
}

impl Destination {
    /// A client of the site at `base` (e.g. `https://example.atlassian.net`), whose SCIM
    /// API is at `scim_base` (default `<base>/scim/v2`), with at most `concurrency`
    /// requests in flight.
    pub fn new(base: &str, scim_base: Option<&str>, token: Secret, concurrency: usize) -> anyhow::Result<Destination> {
        let base = base.trim_end_matches('/').to_string();
        let scim_base = scim_base.map(|s| s.trim_end_matches('/').to_string()).unwrap_or_else(|| format!("{base}/scim/v2"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(concurrency.max(1)).build()?;
        Ok(Destination { http, base, scim_base, token, permits: Arc::new(Semaphore::new(concurrency.max(1))), retry: RetryPolicy::default() })
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
    pub(crate) async fn send(&self, method: Method, url: String, build: impl Fn(RequestBuilder) -> RequestBuilder) -> Result<Response, DestinationError> {
        let path = self.path_of(&url);
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = build(self.http.request(method.clone(), &url).bearer_auth(self.token.expose()));
            let (retry_after, failure) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        return Ok(response);
                    }
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(|secs| Duration::from_secs_f64(secs.clamp(0.0, 600.0)));
                    let message = response.text().await.unwrap_or_default();
                    (
                        retry_after,
                        DestinationError::Status { method: method.to_string(), path: path.clone(), status: status.as_u16(), message: short(&message) },
                    )
                }
                Err(e) => (None, DestinationError::Transport { method: method.to_string(), path: path.clone(), message: e.without_url().to_string() }),
            };
            if attempt >= self.retry.attempts {
                return Err(failure);
            }
            // The site's Retry-After wins; otherwise exponential backoff (capped) with jitter.
            let wait = retry_after.unwrap_or_else(|| {
                let backoff = self.retry.base.saturating_mul(1 << (attempt - 1).min(16)).min(self.retry.max);
                backoff.mul_f64(rand::thread_rng().gen_range(0.5..1.0))
            });
            tracing::debug!("retrying {method} {path} in {wait:?} (attempt {attempt}): {failure}");
            tokio::time::sleep(wait).await;
        }
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
        for base in [&self.scim_base, &self.base] {
            if let Some(path) = url.strip_prefix(base.as_str()) {
                return path.to_string();
            }
        }
        url.to_string()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn scim_url(&self, path: &str) -> String {
        format!("{}{path}", self.scim_base)
    }
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
