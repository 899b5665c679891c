//! The site's request journal (`ferry staging serve --journal FILE`): one JSON line per
//! request it answered, as the client sent it (method, path, query, the names of its
//! headers, how it signed in, its JSON body or multipart part names, and the status),
//! never a credential. `scripts/conformance.py` checks a journal against Atlassian's
//! published API documents; the benchmarks count requests per kind from it.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

/// Bodies larger than this are journaled without their content.
const BODY_KEPT: usize = 16 << 20;

/// Where the journal goes.
#[derive(Clone)]
pub(crate) struct Journal(Arc<Mutex<std::fs::File>>);

impl Journal {
    /// Append to `path` (created if missing).
    pub(crate) fn open(path: &Path) -> anyhow::Result<Journal> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal(Arc::new(Mutex::new(file))))
    }
}

#[derive(Serialize)]
struct Entry {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<String>,
    sign_in: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<String>,
}

/// Journal the request and its answer's status (when the site keeps a journal).
pub(crate) async fn record(State(journal): State<Option<Journal>>, request: Request, next: Next) -> Response {
    let Some(journal) = journal else { return next.run(request).await };
    let (parts, body) = request.into_parts();
    // Read within the site's own body limit: the journal sits outside it.
    let Ok(bytes) = axum::body::to_bytes(body, super::MAX_BODY).await else {
        return super::error(StatusCode::PAYLOAD_TOO_LARGE, format!("a request body is at most {} MiB", super::MAX_BODY >> 20));
    };
    let content_type = parts.headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let kept = bytes.len() <= BODY_KEPT;
    let json_body = (kept && content_type.contains("json")).then(|| serde_json::from_slice(&bytes).ok()).flatten();
    let part_names = if kept && content_type.starts_with("multipart/") { multipart_names(&bytes) } else { Vec::new() };
    let sign_in = match parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) if v.starts_with("Basic ") => "basic",
        Some(v) if v.starts_with("Bearer ") => "bearer",
        Some(_) => "other",
        None => "none",
    };
    let mut headers: Vec<String> = parts.headers.keys().map(|k| k.as_str().to_string()).collect();
    headers.sort();
    headers.dedup();
    let query = parts.uri.query().map(url_pairs).unwrap_or_default();
    let (method, path) = (parts.method.to_string(), parts.uri.path().to_string());
    let response = next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await;
    let entry = Entry { method, path, query, headers, sign_in, status: response.status().as_u16(), body: json_body, parts: part_names };
    if let (Ok(line), Ok(mut file)) = (serde_json::to_string(&entry), journal.0.lock()) {
        let _ = writeln!(file, "{line}");
    }
    response
}

/// The names of a multipart body's parts (`Content-Disposition: form-data; name="…"`).
fn multipart_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut names = Vec::new();
    for line in text.lines() {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-disposition:") {
            if let Some(start) = line.find("name=\"") {
                let rest = &line[start + 6..];
                if let Some(end) = rest.find('"') {
                    names.push(rest[..end].to_string());
                }
            }
        }
    }
    names
}

/// A query string's pairs, percent-decoded.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}
