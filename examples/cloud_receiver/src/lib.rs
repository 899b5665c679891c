//! A small, real receiver of Ferry's app transfers for the Page Ratings cloud app: it
//! proves the sender by the transfer's signature, keeps each transfer (start, mappings,
//! uploads) in SQLite, imports the ratings into a table of ratings per cloud page when the
//! transfer is complete, and settles it. Repeated requests are the same request; a rerun
//! (a start naming an original transfer) replaces what the original imported.
//! `docs/cloud-app-guide.md` explains each step.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use ferry_app_transfer::{self as wire, MappingLine, TransferComplete, TransferStart, TransferState};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// The receiver's state: its store and the secret it issued.
#[derive(Clone)]
pub struct Receiver {
    db: SqlitePool,
    secret: std::sync::Arc<Vec<u8>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transfers (id TEXT PRIMARY KEY, site TEXT NOT NULL, original TEXT, status TEXT NOT NULL, message TEXT);
CREATE TABLE IF NOT EXISTS mappings (transfer_id TEXT NOT NULL, namespace TEXT NOT NULL, server_id TEXT NOT NULL, cloud_id TEXT NOT NULL,
    PRIMARY KEY (transfer_id, namespace, server_id));
CREATE TABLE IF NOT EXISTS uploads (transfer_id TEXT NOT NULL, n INTEGER NOT NULL, label TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (transfer_id, n));
CREATE TABLE IF NOT EXISTS ratings (site TEXT NOT NULL, server_id INTEGER NOT NULL, transfer_id TEXT NOT NULL, page_id TEXT NOT NULL,
    account_id TEXT, stars INTEGER NOT NULL, comment TEXT, PRIMARY KEY (site, server_id));
";

impl Receiver {
    /// A receiver keeping its store in the SQLite file `db`, taking transfers signed with
    /// `secret`.
    pub async fn open(db: &std::path::Path, secret: &str) -> anyhow::Result<Receiver> {
        let options = SqliteConnectOptions::new().filename(db).create_if_missing(true);
        let db = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        sqlx::raw_sql(SCHEMA).execute(&db).await?;
        Ok(Receiver { db, secret: std::sync::Arc::new(secret.as_bytes().to_vec()) })
    }

    /// The routes under the migration endpoint.
    pub fn router(self) -> Router {
        Router::new()
            .route("/transfers/{id}", put(start).get(state))
            .route("/transfers/{id}/mappings", put(mappings))
            .route("/transfers/{id}/uploads/{n}", put(upload))
            .route("/transfers/{id}/complete", post(complete))
            .with_state(self)
    }

    /// Serve on `listen` (e.g. `127.0.0.1:0`); the address it listens on.
    pub async fn serve(self, listen: &str) -> anyhow::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = self.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(addr)
    }

    /// The ratings imported, as (cloud page id, stars), ordered by server id.
    pub async fn ratings(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT page_id, stars FROM ratings ORDER BY site, server_id").fetch_all(&self.db).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "message": message.into() }))).into_response()
}

/// The request is the admin's Ferry's: signed with our secret, recently.
fn verified(r: &Receiver, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), wire::Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    wire::verify(&r.secret, header(wire::TIMESTAMP_HEADER), header(wire::SIGNATURE_HEADER), method.as_str(), path, body, now)
}

async fn status_of(r: &Receiver, id: &str) -> Result<Option<String>, Response> {
    sqlx::query_scalar("SELECT status FROM transfers WHERE id = ?")
        .bind(id)
        .fetch_optional(&r.db)
        .await
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The transfer exists and still takes data.
async fn open_transfer(r: &Receiver, id: &str) -> Result<(), Response> {
    match status_of(r, id).await? {
        Some(s) if s == "receiving" => Ok(()),
        Some(_) => Err(refuse(StatusCode::CONFLICT, format!("transfer {id} is complete"))),
        None => Err(refuse(StatusCode::NOT_FOUND, format!("no transfer {id}"))),
    }
}

async fn start(State(r): State<Receiver>, Path(id): Path<String>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&r, &method, &uri, &headers, &body) {
        return refuse(StatusCode::UNAUTHORIZED, refused.to_string());
    }
    let start: TransferStart = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("not a transfer start: {e}")),
    };
    if start.transfer_id != id {
        return refuse(StatusCode::BAD_REQUEST, "the start names another transfer than its path");
    }
    let inserted = sqlx::query("INSERT OR IGNORE INTO transfers (id, site, original, status) VALUES (?, ?, ?, 'receiving')")
        .bind(&id)
        .bind(&start.server_site.id)
        .bind(&start.original_transfer_id)
        .execute(&r.db)
        .await;
    match inserted {
        Ok(done) if done.rows_affected() == 1 => StatusCode::CREATED.into_response(),
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn mappings(State(r): State<Receiver>, Path(id): Path<String>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&r, &method, &uri, &headers, &body) {
        return refuse(StatusCode::UNAUTHORIZED, refused.to_string());
    }
    if let Err(refused) = open_transfer(&r, &id).await {
        return refused;
    }
    let mut lines = Vec::new();
    for line in String::from_utf8_lossy(&body).lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<MappingLine>(line) {
            Ok(m) => lines.push(m),
            Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("a mapping line is unreadable: {e}")),
        }
    }
    let stored = async {
        let mut tx = r.db.begin().await?;
        sqlx::query("DELETE FROM mappings WHERE transfer_id = ?").bind(&id).execute(&mut *tx).await?;
        for m in lines {
            sqlx::query("INSERT OR REPLACE INTO mappings VALUES (?, ?, ?, ?)")
                .bind(&id)
                .bind(m.namespace)
                .bind(m.server_id)
                .bind(m.cloud_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
    .await;
    match stored {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn upload(State(r): State<Receiver>, Path((id, n)): Path<(String, i64)>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&r, &method, &uri, &headers, &body) {
        return refuse(StatusCode::UNAUTHORIZED, refused.to_string());
    }
    if let Err(refused) = open_transfer(&r, &id).await {
        return refused;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if header(wire::SHA256_HEADER) != wire::sha256_hex(&body) {
        return refuse(StatusCode::BAD_REQUEST, format!("upload {n}: its bytes do not have the SHA-256 it names"));
    }
    match sqlx::query("INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?)")
        .bind(&id)
        .bind(n)
        .bind(header(wire::LABEL_HEADER))
        .bind(body.as_ref())
        .execute(&r.db)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn complete(State(r): State<Receiver>, Path(id): Path<String>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = verified(&r, &method, &uri, &headers, &body) {
        return refuse(StatusCode::UNAUTHORIZED, refused.to_string());
    }
    let done: TransferComplete = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("not a completion: {e}")),
    };
    match status_of(&r, &id).await {
        Ok(Some(s)) if s == "receiving" => {}
        Ok(Some(_)) => return StatusCode::ACCEPTED.into_response(),
        Ok(None) => return refuse(StatusCode::NOT_FOUND, format!("no transfer {id}")),
        Err(refused) => return refused,
    }
    // A small import runs before answering; a large one would run in the background,
    // answering `in-progress` meanwhile.
    let (status, message) = match import(&r, &id, &done).await {
        Ok(Ok(n)) => (wire::SUCCESS, format!("imported {n} ratings")),
        Ok(Err(why)) => (wire::FAILED, why),
        Err(e) => (wire::FAILED, format!("the import could not be stored: {e}")),
    };
    match sqlx::query("UPDATE transfers SET status = ?, message = ? WHERE id = ?").bind(status).bind(message).bind(&id).execute(&r.db).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct Rating {
    server_id: i64,
    page_id: String,
    account_id: Option<String>,
    stars: i64,
    comment: Option<String>,
}

/// Import the transfer's ratings: the count, or why it failed.
async fn import(r: &Receiver, id: &str, done: &TransferComplete) -> Result<Result<usize, String>, sqlx::Error> {
    let uploads = sqlx::query("SELECT n, label, data FROM uploads WHERE transfer_id = ? ORDER BY n").bind(id).fetch_all(&r.db).await?;
    if uploads.len() as u64 != done.uploads {
        return Ok(Err(format!("Ferry sent {} uploads; {} arrived", done.uploads, uploads.len())));
    }
    let pages: HashSet<String> =
        sqlx::query_scalar("SELECT cloud_id FROM mappings WHERE transfer_id = ? AND namespace IN ('confluence:page', 'confluence:blogpost')")
            .bind(id)
            .fetch_all(&r.db)
            .await?
            .into_iter()
            .collect();
    let (site, original): (String, Option<String>) =
        sqlx::query("SELECT site, original FROM transfers WHERE id = ?").bind(id).fetch_one(&r.db).await.map(|row| (row.get(0), row.get(1)))?;
    let mut ratings = Vec::new();
    for row in uploads.iter().filter(|u| u.get::<String, _>(1) == "ratings.jsonl") {
        for (n, line) in String::from_utf8_lossy(&row.get::<Vec<u8>, _>(2)).lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let rating: Rating = match serde_json::from_str(line) {
                Ok(rating) => rating,
                Err(e) => return Ok(Err(format!("upload {} line {}: not a rating ({e})", row.get::<i64, _>(0), n + 1))),
            };
            if !pages.contains(&rating.page_id) {
                return Ok(Err(format!("rating {} names page {}, which this migration did not create", rating.server_id, rating.page_id)));
            }
            ratings.push(rating);
        }
    }
    let mut tx = r.db.begin().await?;
    // A rerun replaces what its original imported.
    if let Some(original) = original {
        sqlx::query("DELETE FROM ratings WHERE transfer_id IN (SELECT id FROM transfers WHERE id = ? OR original = ?)")
            .bind(&original)
            .bind(&original)
            .execute(&mut *tx)
            .await?;
    }
    for rating in &ratings {
        sqlx::query("INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&site)
            .bind(rating.server_id)
            .bind(id)
            .bind(&rating.page_id)
            .bind(&rating.account_id)
            .bind(rating.stars)
            .bind(&rating.comment)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(ratings.len()))
}

async fn state(State(r): State<Receiver>, Path(id): Path<String>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refused) = verified(&r, &method, &uri, &headers, &[]) {
        return refuse(StatusCode::UNAUTHORIZED, refused.to_string());
    }
    match sqlx::query("SELECT status, message FROM transfers WHERE id = ?").bind(&id).fetch_optional(&r.db).await {
        Ok(Some(row)) => {
            let status: String = row.get(0);
            let (status, message) = if status == "receiving" { (wire::IN_PROGRESS.to_string(), Some("receiving".to_string())) } else { (status, row.get(1)) };
            Json(TransferState { status, percent: None, message }).into_response()
        }
        Ok(None) => refuse(StatusCode::NOT_FOUND, format!("no transfer {id}")),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
