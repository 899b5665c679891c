//! Stand-in cloud apps: the receiving half of app migrations, as a vendor's cloud app
//! runs it (`ferry-app-transfer`, `docs/cloud-app-guide.md`), at `/apps/{cloudAppKey}/`
//! for each app installed on the site. Each proves the sender by the transfer's
//! signature (the site's app secret), keeps what it is sent, imports it when the
//! transfer is complete and settles it honestly: the three sample apps' data is read
//! and checked against the site (a rating or a diagram must name a page the site has, a
//! calendar a space); any other app's uploads are kept as they came.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use super::{db_error, error, AppState};
use ferry_app_transfer::{self as wire, MappingLine, TransferComplete, TransferStart, TransferState};

/// How a stand-in cloud app misbehaves (`ferry staging serve --cloud-app-fault KEY=MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppFault {
    /// Takes every transfer and never settles one.
    NeverSettles,
    /// Settles every transfer `failed`.
    Fails,
    /// Imports slowly (a few seconds, reporting progress), then settles as usual.
    Slow,
}

impl std::str::FromStr for AppFault {
    type Err = String;
    fn from_str(s: &str) -> Result<AppFault, String> {
        match s {
            "never-settles" => Ok(AppFault::NeverSettles),
            "fails" => Ok(AppFault::Fails),
            "slow" => Ok(AppFault::Slow),
            other => Err(format!("{other:?} is not a cloud app fault: never-settles, fails or slow")),
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/apps/{key}/transfers/{id}", put(start).get(state))
        .route("/apps/{key}/transfers/{id}/mappings", put(mappings))
        .route("/apps/{key}/transfers/{id}/uploads/{n}", put(upload))
        .route("/apps/{key}/transfers/{id}/complete", post(complete))
}

/// The request is Ferry's (signed with the site's app secret, recently) and the app is
/// installed; else the answer to send.
async fn admitted(s: &AppState, key: &str, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if let Err(refused) =
        wire::verify(s.access.app_secret.as_bytes(), header(wire::TIMESTAMP_HEADER), header(wire::SIGNATURE_HEADER), method.as_str(), path, body, now)
    {
        return Err(error(StatusCode::UNAUTHORIZED, format!("not a transfer from this site's Ferry: {refused}")));
    }
    match sqlx::query("SELECT 1 FROM cloud_apps WHERE key = ? AND state = 'ENABLED'").bind(key).fetch_optional(&s.db).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, format!("app {key} is not installed on this site"))),
        Err(e) => Err(db_error(e)),
    }
}

/// The transfer's app and status, if it is known.
async fn transfer_of(s: &AppState, id: &str) -> Result<Option<(String, String)>, Response> {
    sqlx::query("SELECT app_key, status FROM app_transfers WHERE id = ?")
        .bind(id)
        .fetch_optional(&s.write)
        .await
        .map(|r| r.map(|r| (r.get(0), r.get(1))))
        .map_err(db_error)
}

/// The transfer `id` of app `key`, still receiving; else the answer to send.
async fn receiving(s: &AppState, key: &str, id: &str) -> Result<(), Response> {
    match transfer_of(s, id).await? {
        Some((app, _)) if app != key => Err(error(StatusCode::NOT_FOUND, format!("app {key} has no transfer {id}"))),
        Some((_, status)) if status == "receiving" => Ok(()),
        Some(_) => Err(error(StatusCode::CONFLICT, format!("transfer {id} is complete: it takes no more data"))),
        None => Err(error(StatusCode::NOT_FOUND, format!("app {key} has no transfer {id}: start it first"))),
    }
}

async fn start(State(s): State<AppState>, Path((key, id)): Path<(String, String)>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admitted(&s, &key, &method, &uri, &headers, &body).await {
        return r;
    }
    let start: TransferStart = match serde_json::from_slice(&body) {
        Ok(start) => start,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a transfer start: {e}")),
    };
    if start.transfer_id != id || start.cloud_app_key != key {
        return error(StatusCode::BAD_REQUEST, "the start names another transfer or app than its path");
    }
    match transfer_of(&s, &id).await {
        Ok(Some((app, _))) if app == key => return StatusCode::OK.into_response(),
        Ok(Some(_)) => return error(StatusCode::CONFLICT, format!("transfer {id} belongs to another app")),
        Ok(None) => {}
        Err(r) => return r,
    }
    let sql = "INSERT INTO app_transfers (id, app_key, start_json, status, percent, created_at) VALUES (?, ?, ?, 'receiving', 0, ?)";
    match sqlx::query(sql).bind(&id).bind(&key).bind(String::from_utf8_lossy(&body).as_ref()).bind(ferry_core::state::now()).execute(&s.write).await {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(e) => db_error(e),
    }
}

async fn mappings(State(s): State<AppState>, Path((key, id)): Path<(String, String)>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admitted(&s, &key, &method, &uri, &headers, &body).await {
        return r;
    }
    if let Err(r) = receiving(&s, &key, &id).await {
        return r;
    }
    let mut lines = Vec::new();
    for (n, line) in String::from_utf8_lossy(&body).lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<MappingLine>(line) {
            Ok(m) => lines.push(m),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("mappings line {}: {e}", n + 1)),
        }
    }
    let result = async {
        let mut tx = s.write.begin().await?;
        sqlx::query("DELETE FROM app_mappings WHERE transfer_id = ?").bind(&id).execute(&mut *tx).await?;
        for m in &lines {
            sqlx::query("INSERT OR REPLACE INTO app_mappings (transfer_id, namespace, server_id, cloud_id) VALUES (?, ?, ?, ?)")
                .bind(&id)
                .bind(&m.namespace)
                .bind(&m.server_id)
                .bind(&m.cloud_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

async fn upload(
    State(s): State<AppState>,
    Path((key, id, n)): Path<(String, String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&s, &key, &method, &uri, &headers, &body).await {
        return r;
    }
    if let Err(r) = receiving(&s, &key, &id).await {
        return r;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let label = header(wire::LABEL_HEADER);
    if !ferry_manifest::valid_upload_label(&label) || n < 1 {
        return error(StatusCode::BAD_REQUEST, "an upload is numbered from 1 and labelled with 1-64 of a-z 0-9 . _ -");
    }
    let sha256 = wire::sha256_hex(&body);
    if header(wire::SHA256_HEADER) != sha256 {
        return error(StatusCode::BAD_REQUEST, format!("upload {n}: its bytes do not have the SHA-256 it names"));
    }
    let sql = "INSERT OR REPLACE INTO app_uploads (transfer_id, n, label, sha256, data) VALUES (?, ?, ?, ?, ?)";
    match sqlx::query(sql).bind(&id).bind(n).bind(&label).bind(&sha256).bind(body.as_ref()).execute(&s.write).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

async fn complete(State(s): State<AppState>, Path((key, id)): Path<(String, String)>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admitted(&s, &key, &method, &uri, &headers, &body).await {
        return r;
    }
    let done: TransferComplete = match serde_json::from_slice(&body) {
        Ok(done) => done,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a transfer completion: {e}")),
    };
    match transfer_of(&s, &id).await {
        Ok(Some((app, _))) if app != key => return error(StatusCode::NOT_FOUND, format!("app {key} has no transfer {id}")),
        // Completed already: the same request again.
        Ok(Some((_, status))) if status != "receiving" => return StatusCode::ACCEPTED.into_response(),
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("app {key} has no transfer {id}: start it first")),
        Err(r) => return r,
    }
    if let Err(e) = set_state(&s, &id, wire::IN_PROGRESS, 0, Some("importing")).await {
        return db_error(e);
    }
    let fault = s.access.app_faults.get(&key).copied();
    tokio::spawn(async move {
        let settled = match fault {
            Some(AppFault::NeverSettles) => {
                let _ = set_state(&s, &id, wire::IN_PROGRESS, 50, Some("importing (this stand-in never settles)")).await;
                return;
            }
            Some(AppFault::Fails) => (wire::FAILED.to_string(), "this stand-in was told to fail every transfer".to_string()),
            Some(AppFault::Slow) => {
                for percent in [20, 40, 60, 80] {
                    let _ = set_state(&s, &id, wire::IN_PROGRESS, percent, Some("importing slowly")).await;
                    tokio::time::sleep(Duration::from_millis(700)).await;
                }
                import(&s, &key, &id, &done).await
            }
            None => import(&s, &key, &id, &done).await,
        };
        let (status, message) = settled;
        if let Err(e) = set_state(&s, &id, &status, 100, Some(&message)).await {
            tracing::error!("stand-in app {key} could not settle transfer {id}: {e}");
        }
    });
    StatusCode::ACCEPTED.into_response()
}

async fn state(State(s): State<AppState>, Path((key, id)): Path<(String, String)>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&s, &key, &method, &uri, &headers, &[]).await {
        return r;
    }
    match sqlx::query("SELECT app_key, status, percent, message FROM app_transfers WHERE id = ?").bind(&id).fetch_optional(&s.write).await {
        Ok(Some(r)) if r.get::<String, _>(0) == key => {
            let status: String = r.get(1);
            let (status, message) = if status == "receiving" { (wire::IN_PROGRESS.to_string(), Some("receiving".to_string())) } else { (status, r.get(3)) };
            Json(TransferState { status, percent: Some(r.get::<i64, _>(2).clamp(0, 100) as u8), message }).into_response()
        }
        Ok(_) => error(StatusCode::NOT_FOUND, format!("app {key} has no transfer {id}")),
        Err(e) => db_error(e),
    }
}

async fn set_state(s: &AppState, id: &str, status: &str, percent: i64, message: Option<&str>) -> Result<(), sqlx::Error> {
    let settled = wire::is_settled(status).then(ferry_core::state::now);
    sqlx::query("UPDATE app_transfers SET status = ?, percent = ?, message = ?, settled_at = ? WHERE id = ?")
        .bind(status)
        .bind(percent)
        .bind(message)
        .bind(settled)
        .bind(id)
        .execute(&s.write)
        .await
        .map(|_| ())
}

/// What a sample app imports, by its cloud key.
fn importer(key: &str) -> &'static str {
    match key {
        "com.example.page-ratings.cloud" => "ratings",
        "com.example.team-calendars.cloud" => "calendars",
        "com.example.diagrams.cloud" => "diagrams",
        _ => "uploads",
    }
}

/// Import a complete transfer: its status and message.
async fn import(s: &AppState, key: &str, id: &str, done: &TransferComplete) -> (String, String) {
    match try_import(s, key, id, done).await {
        Ok(Ok(message)) => (wire::SUCCESS.into(), message),
        Ok(Err(why)) => (wire::FAILED.into(), why),
        Err(e) => (wire::FAILED.into(), format!("the stand-in could not store the import: {e}")),
    }
}

/// One imported record.
struct Record {
    kind: &'static str,
    target: String,
    body: serde_json::Value,
}

async fn try_import(s: &AppState, key: &str, id: &str, done: &TransferComplete) -> Result<Result<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT n, label, data FROM app_uploads WHERE transfer_id = ? ORDER BY n").bind(id).fetch_all(&s.write).await?;
    if rows.len() as u64 != done.uploads || rows.iter().enumerate().any(|(i, r)| r.get::<i64, _>(0) != i as i64 + 1) {
        return Ok(Err(format!("Ferry said it sent {} uploads; this app received {} (numbered 1 to N expected)", done.uploads, rows.len())));
    }
    let uploads: Vec<(String, Vec<u8>)> = rows.iter().map(|r| (r.get(1), r.get(2))).collect();
    let records = match importer(key) {
        "ratings" => ratings(s, &uploads).await?,
        "calendars" => calendars(s, &uploads).await?,
        "diagrams" => diagrams(s, &uploads).await?,
        _ => Ok(uploads.iter().map(|(label, data)| Record { kind: "upload", target: label.clone(), body: json!({"bytes": data.len()}) }).collect()),
    };
    let records = match records {
        Ok(records) => records,
        Err(why) => return Ok(Err(why)),
    };
    let mut tx = s.write.begin().await?;
    sqlx::query("DELETE FROM app_imports WHERE transfer_id = ?").bind(id).execute(&mut *tx).await?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *counts.entry(r.kind).or_default() += 1;
        sqlx::query("INSERT INTO app_imports (app_key, transfer_id, kind, target, record) VALUES (?, ?, ?, ?, ?)")
            .bind(key)
            .bind(id)
            .bind(r.kind)
            .bind(&r.target)
            .bind(r.body.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let said: Vec<String> = counts.iter().map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" })).collect();
    Ok(Ok(if said.is_empty() { "imported nothing: the transfer carried no records".into() } else { format!("imported {}", said.join(", ")) }))
}

/// The JSON lines of every upload labelled `label`, each read as `T`.
fn lines_of<T: for<'de> Deserialize<'de>>(uploads: &[(String, Vec<u8>)], label: &str) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for (label_here, data) in uploads.iter().filter(|(l, _)| l == label) {
        let text = std::str::from_utf8(data).map_err(|_| format!("{label_here} is not UTF-8 text"))?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).map_err(|e| format!("{label_here} line {}: unreadable ({e})", n + 1))?);
        }
    }
    Ok(out)
}

/// The ids (as text) among `ids` that the site has in `sql` (one id bound a query).
async fn known(s: &AppState, sql: &str, ids: impl IntoIterator<Item = String>) -> Result<HashSet<String>, sqlx::Error> {
    let mut found = HashSet::new();
    for id in ids.into_iter().collect::<HashSet<_>>() {
        let Ok(n) = id.parse::<i64>() else { continue };
        if sqlx::query(sql).bind(n).fetch_optional(&s.write).await?.is_some() {
            found.insert(id);
        }
    }
    Ok(found)
}

const PAGE_EXISTS: &str = "SELECT 1 FROM content WHERE id = ? AND kind IN ('page', 'blogpost')";

#[derive(Deserialize)]
struct Rating {
    server_id: i64,
    page_id: String,
    account_id: Option<String>,
    stars: i64,
    comment: Option<String>,
    created: Option<String>,
}

async fn ratings(s: &AppState, uploads: &[(String, Vec<u8>)]) -> Result<Result<Vec<Record>, String>, sqlx::Error> {
    let ratings: Vec<Rating> = match lines_of(uploads, "ratings.jsonl") {
        Ok(r) => r,
        Err(why) => return Ok(Err(why)),
    };
    let pages = known(s, PAGE_EXISTS, ratings.iter().map(|r| r.page_id.clone())).await?;
    let mut out = Vec::new();
    for r in ratings {
        if !pages.contains(&r.page_id) {
            return Ok(Err(format!("rating {} names page {}, which this site does not have", r.server_id, r.page_id)));
        }
        if !(1..=5).contains(&r.stars) {
            return Ok(Err(format!("rating {} has {} stars (1 to 5 expected)", r.server_id, r.stars)));
        }
        let body = json!({"server_id": r.server_id, "account_id": r.account_id, "stars": r.stars, "comment": r.comment, "created": r.created});
        out.push(Record { kind: "rating", target: r.page_id, body });
    }
    Ok(Ok(out))
}

#[derive(Deserialize)]
struct Calendar {
    server_id: i64,
    space_id: String,
    name: String,
    color: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    server_id: i64,
    calendar_server_id: i64,
    summary: String,
    start_ms: i64,
    end_ms: i64,
    all_day: bool,
}

async fn calendars(s: &AppState, uploads: &[(String, Vec<u8>)]) -> Result<Result<Vec<Record>, String>, sqlx::Error> {
    let (calendars, events): (Vec<Calendar>, Vec<Event>) = match (lines_of(uploads, "calendars.jsonl"), lines_of(uploads, "events.jsonl")) {
        (Ok(c), Ok(e)) => (c, e),
        (Err(why), _) | (_, Err(why)) => return Ok(Err(why)),
    };
    let spaces = known(s, "SELECT 1 FROM spaces WHERE id = ?", calendars.iter().map(|c| c.space_id.clone())).await?;
    let mut out = Vec::new();
    let mut space_of: HashMap<i64, String> = HashMap::new();
    for c in calendars {
        if !spaces.contains(&c.space_id) {
            return Ok(Err(format!("calendar {} names space {}, which this site does not have", c.server_id, c.space_id)));
        }
        space_of.insert(c.server_id, c.space_id.clone());
        out.push(Record { kind: "calendar", target: c.space_id, body: json!({"server_id": c.server_id, "name": c.name, "color": c.color}) });
    }
    for e in events {
        let Some(space) = space_of.get(&e.calendar_server_id) else {
            return Ok(Err(format!("event {} names calendar {}, which this transfer did not carry", e.server_id, e.calendar_server_id)));
        };
        if e.end_ms < e.start_ms {
            return Ok(Err(format!("event {} ends before it starts", e.server_id)));
        }
        let body = json!({"server_id": e.server_id, "calendar": e.calendar_server_id, "summary": e.summary, "start_ms": e.start_ms, "end_ms": e.end_ms, "all_day": e.all_day});
        out.push(Record { kind: "event", target: space.clone(), body });
    }
    Ok(Ok(out))
}

#[derive(Deserialize)]
struct Diagram {
    server_id: i64,
    name: String,
    page_id: String,
    owner_account_id: Option<String>,
    revision: i64,
    file: String,
    size: u64,
}

async fn diagrams(s: &AppState, uploads: &[(String, Vec<u8>)]) -> Result<Result<Vec<Record>, String>, sqlx::Error> {
    let diagrams: Vec<Diagram> = match lines_of(uploads, "diagrams.jsonl") {
        Ok(d) => d,
        Err(why) => return Ok(Err(why)),
    };
    let files: HashMap<&str, usize> = uploads.iter().map(|(label, data)| (label.as_str(), data.len())).collect();
    let pages = known(s, PAGE_EXISTS, diagrams.iter().map(|d| d.page_id.clone())).await?;
    let mut out = Vec::new();
    for d in diagrams {
        if !pages.contains(&d.page_id) {
            return Ok(Err(format!("diagram {} names page {}, which this site does not have", d.server_id, d.page_id)));
        }
        match files.get(d.file.as_str()) {
            Some(size) if *size as u64 == d.size => {}
            Some(size) => return Ok(Err(format!("diagram {}: its file {} has {size} bytes, not the {} it names", d.server_id, d.file, d.size))),
            None => return Ok(Err(format!("diagram {}: its file {} was not sent", d.server_id, d.file))),
        }
        let body = json!({"server_id": d.server_id, "name": d.name, "owner": d.owner_account_id, "revision": d.revision, "file": d.file, "bytes": d.size});
        out.push(Record { kind: "diagram", target: d.page_id, body });
    }
    Ok(Ok(out))
}

/// `GET /ferry/v1/review/apps/{key}`: the app's transfers (how each was settled) and
/// what it imported (tests, and an admin's look at a trial run).
pub(crate) async fn review_app(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let sql = "SELECT t.id, t.start_json, t.status, t.percent, t.message, t.settled_at, \
               (SELECT group_concat(namespace || '=' || n, ',') FROM (SELECT namespace, COUNT(*) AS n FROM app_mappings m WHERE m.transfer_id = t.id GROUP BY namespace)), \
               (SELECT COUNT(*) FROM app_uploads u WHERE u.transfer_id = t.id) \
               FROM app_transfers t WHERE t.app_key = ? ORDER BY t.created_at, t.id";
    let transfers = match sqlx::query(sql).bind(&key).fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let imports = match sqlx::query("SELECT transfer_id, kind, target, record FROM app_imports WHERE app_key = ? ORDER BY id").bind(&key).fetch_all(&s.db).await
    {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let transfers: Vec<serde_json::Value> = transfers
        .iter()
        .map(|r| {
            let start: serde_json::Value = serde_json::from_str(&r.get::<String, _>(1)).unwrap_or_default();
            let mappings: serde_json::Map<String, serde_json::Value> = r
                .get::<Option<String>, _>(6)
                .unwrap_or_default()
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(namespace, n)| (namespace.to_string(), json!(n.parse::<i64>().unwrap_or(0))))
                .collect();
            json!({"transfer_id": r.get::<String, _>(0), "start": start, "status": r.get::<String, _>(2), "percent": r.get::<i64, _>(3),
                   "message": r.get::<Option<String>, _>(4), "settled_at": r.get::<Option<String>, _>(5), "mappings": mappings, "uploads": r.get::<i64, _>(7)})
        })
        .collect();
    let imported: Vec<serde_json::Value> = imports
        .iter()
        .map(|r| {
            json!({"transfer_id": r.get::<String, _>(0), "kind": r.get::<String, _>(1), "target": r.get::<String, _>(2),
                   "record": serde_json::from_str::<serde_json::Value>(&r.get::<String, _>(3)).unwrap_or_default()})
        })
        .collect();
    Json(json!({"app": key, "transfers": transfers, "imported": imported})).into_response()
}
