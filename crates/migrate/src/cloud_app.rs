//! The host's half of an app migration's transfer: it hands the data a plugin exported
//! to the vendor's cloud app at its migration endpoint, signed with the app's migration
//! secret, then asks until the cloud app settles the transfer (`ferry-app-transfer`
//! holds the protocol; `docs/cloud-app-guide.md` describes it). The sandbox never talks
//! to the network: the host does, and only to the endpoint the admin consented to.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::{Method, StatusCode};

use ferry_app_transfer::{self as wire, MappingLine, TransferComplete, TransferStart, TransferState};
use ferry_runtime::uploads::UploadSink;

/// Attempts of one request before it is given up (each request is idempotent).
const ATTEMPTS: u32 = 6;

/// The first wait between settlement questions; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(200);
/// The longest wait between settlement questions.
const MAX_POLL: Duration = Duration::from_secs(15);

/// The largest answer Ferry reads from a cloud app (a transfer state is a few lines).
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The most characters of a cloud app's message Ferry keeps (it is shown to admins).
const MAX_MESSAGE_CHARS: usize = 1_000;

/// A migration secret, read from the environment (never stored, printed or logged).
#[derive(Clone)]
pub struct AppSecret(Vec<u8>);

impl AppSecret {
    /// The secret in `$name`; unset or empty is refused, naming the variable.
    pub fn from_env(name: &str, app: &str) -> anyhow::Result<AppSecret> {
        let value = std::env::var(name).unwrap_or_default();
        anyhow::ensure!(
            !value.trim().is_empty(),
            "the migration secret of {app} is not in ${name}: export the secret its cloud app issued in ${name} before the run"
        );
        Ok(AppSecret(value.trim().as_bytes().to_vec()))
    }
}

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(…)")
    }
}

/// One transfer to one cloud app.
#[derive(Clone, Debug)]
pub struct Transfer {
    http: reqwest::Client,
    /// The endpoint, without a trailing `/`.
    base: String,
    secret: AppSecret,
    /// This transfer.
    pub id: String,
}

/// A request the cloud app did not take.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 401 or 403: the cloud app does not take this secret's signature.
    #[error("the cloud app refused Ferry's signature ({0}): check that the migration secret is the one its cloud app issued")]
    Refused(String),
    /// Another answer that is not a success.
    #[error("{message}")]
    Status {
        /// The status code.
        status: u16,
        /// What was asked and answered.
        message: String,
    },
    /// No answer (after every attempt), or an unreadable one.
    #[error("{0}")]
    Other(String),
}

/// How a transfer ended, as the cloud app settled it or Ferry gave up waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The cloud app said `success`, `incomplete` or `failed` (the message with it).
    By(TransferState),
    /// Not settled within the permitted time (the last state it answered).
    NotWithin(Duration, Option<TransferState>),
}

impl Transfer {
    /// A transfer `id` to the endpoint `base`, signed with `secret`.
    pub fn new(base: &str, secret: AppSecret, id: &str) -> anyhow::Result<Transfer> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Transfer { http, base: base.trim_end_matches('/').to_string(), secret, id: id.to_string() })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/transfers/{}{rest}", self.base, self.id)
    }

    /// Send one signed request, again after a lost answer, a 5xx or a 429 (each request
    /// of the protocol may be repeated); the answer's body on success.
    async fn send(&self, method: Method, rest: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Result<Vec<u8>, SendError> {
        let url = self.url(rest);
        let path = reqwest::Url::parse(&url).map_err(|e| SendError::Other(format!("{url} is not a URL: {e}")))?;
        let path_and_query = match path.query() {
            Some(q) => format!("{}?{q}", path.path()),
            None => path.path().to_string(),
        };
        let body = bytes::Bytes::from(body);
        let mut wait = Duration::from_millis(250);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            let signature = wire::sign(&self.secret.0, timestamp, method.as_str(), &path_and_query, &body);
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(wire::TIMESTAMP_HEADER, timestamp.to_string())
                .header(wire::SIGNATURE_HEADER, signature)
                .body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            match request.send().await {
                Ok(mut response) if response.status().is_success() => {
                    // Read within a bound: the answer comes from another party's server.
                    let mut answer = Vec::new();
                    loop {
                        match response.chunk().await {
                            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                            Ok(None) => return Ok(answer),
                            Err(e) => return Err(SendError::Other(format!("{method} {}: {}", path.path(), e.without_url()))),
                        }
                        if answer.len() > MAX_ANSWER_BYTES {
                            return Err(SendError::Other(format!("{method} {} answered more than {MAX_ANSWER_BYTES} bytes", path.path())));
                        }
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
                    let text: String = response.text().await.unwrap_or_default().chars().take(300).collect();
                    last = format!("{method} {} answered {status}: {}", path.path(), text.trim());
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        return Err(SendError::Refused(last));
                    }
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Err(SendError::Status { status: status.as_u16(), message: last });
                    }
                    if let Some(secs) = retry_after {
                        wait = Duration::from_secs(secs.min(60));
                    }
                }
                Err(e) => last = format!("{method} {} failed: {}", path.path(), e.without_url()),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
        Err(SendError::Other(format!("{last} (after {ATTEMPTS} attempts)")))
    }

    /// Whether the cloud app takes this transfer's signature: a signed question about a
    /// transfer it does not have answers 404 when it does, 401 when it does not.
    pub async fn takes_secret(&self) -> Result<bool, SendError> {
        match self.send(Method::GET, "", Vec::new(), &[]).await {
            Ok(_) | Err(SendError::Status { status: 404, .. }) => Ok(true),
            Err(SendError::Refused(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Tell the cloud app what the transfer carries.
    pub async fn start(&self, start: &TransferStart) -> anyhow::Result<()> {
        Ok(self.send(Method::PUT, "", serde_json::to_vec(start)?, &[("content-type", "application/json".into())]).await.map(|_| ())?)
    }

    /// Send the mappings the receiver may read (one JSON line each).
    pub async fn mappings(&self, lines: &[MappingLine]) -> anyhow::Result<()> {
        let mut body = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut body, line)?;
            body.push(b'\n');
        }
        Ok(self.send(Method::PUT, "/mappings", body, &[("content-type", "application/x-ndjson".into())]).await.map(|_| ())?)
    }

    /// Send upload `n` (from 1).
    pub async fn upload(&self, n: u64, label: &str, data: Vec<u8>) -> anyhow::Result<()> {
        let headers =
            [("content-type", "application/octet-stream".to_string()), (wire::LABEL_HEADER, label.to_string()), (wire::SHA256_HEADER, wire::sha256_hex(&data))];
        Ok(self.send(Method::PUT, &format!("/uploads/{n}"), data, &headers).await.map(|_| ())?)
    }

    /// Say no upload follows.
    pub async fn complete(&self, complete: &TransferComplete) -> anyhow::Result<()> {
        Ok(self.send(Method::POST, "/complete", serde_json::to_vec(complete)?, &[("content-type", "application/json".into())]).await.map(|_| ())?)
    }

    /// Where the transfer stands.
    pub async fn state(&self) -> Result<TransferState, SendError> {
        let body = self.send(Method::GET, "", Vec::new(), &[]).await?;
        let mut state: TransferState =
            serde_json::from_slice(&body).map_err(|e| SendError::Other(format!("the cloud app's answer about the transfer is not a transfer state: {e}")))?;
        state.message = state.message.map(|m| {
            let mut kept: String = m.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_CHARS).collect();
            if m.chars().count() > MAX_MESSAGE_CHARS {
                kept.push('…');
            }
            kept
        });
        state.percent = state.percent.map(|p| p.min(100));
        Ok(state)
    }

    /// Ask until the cloud app settles the transfer or `within` has passed, reporting
    /// each state on the way (`on_state`). An answer that cannot be had counts as no
    /// answer until the time is up.
    pub async fn settlement(&self, within: Duration, mut on_state: impl FnMut(&TransferState)) -> Settled {
        let started = Instant::now();
        let mut wait = FIRST_POLL;
        let mut last: Option<TransferState> = None;
        loop {
            match self.state().await {
                Ok(state) if wire::is_settled(&state.status) => return Settled::By(state),
                Ok(state) => {
                    on_state(&state);
                    last = Some(state);
                }
                Err(e) => tracing::warn!("transfer {}: {e}", self.id),
            }
            let left = within.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Settled::NotWithin(within, last);
            }
            tokio::time::sleep(wait.min(left)).await;
            wait = (wait * 2).min(MAX_POLL);
        }
    }
}

/// Hands each upload of a run to the transfer, numbered in order.
pub struct TransferSink {
    transfer: Transfer,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl TransferSink {
    /// A sink for `transfer`; `sent` counts the uploads it has sent.
    pub fn new(transfer: Transfer, sent: std::sync::Arc<std::sync::atomic::AtomicU64>) -> TransferSink {
        TransferSink { transfer, sent }
    }
}

impl UploadSink for TransferSink {
    fn upload<'a>(&'a mut self, label: &'a str, data: Vec<u8>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let n = self.sent.load(std::sync::atomic::Ordering::SeqCst) + 1;
            self.transfer.upload(n, label, data).await?;
            self.sent.store(n, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    }
}
