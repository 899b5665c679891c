//! Who may use the dashboard and the automation API.
//!
//! - **The browser.** `ferry serve` prints a one-time login URL. Opening it trades the
//!   token for a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under TLS);
//!   the token then no longer works. Each session has its own CSRF token, which every
//!   form carries and every state-changing request must return (form field `csrf` or
//!   header `X-CSRF-Token`).
//! - **Automation.** `Authorization: Bearer <token>` with a token made by
//!   `ferry api-token create`. Only its sha256 is stored; revoked tokens are refused.
//!   A bearer request carries no cookie, so it needs no CSRF token.
//!
//! Session ids, login tokens and API tokens are kept only as sha256 digests, and are
//! never written to a page, an API answer or a log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use ferry_core::state::{now, StateDb};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ferry_session";
/// The header a script sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// What every API token starts with (so a leaked one is recognisable).
pub const API_TOKEN_PREFIX: &str = "ferry_";

/// 32 random bytes from the operating system, as hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The sha256 of a secret, as hex: what is kept instead of the secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compare two digests in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One browser session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token forms and scripts must send back with each change.
    pub csrf: String,
    /// When the session began.
    pub started: Instant,
}

/// The one-time login token and the browser sessions of one `ferry serve`.
#[derive(Default)]
pub struct Sessions {
    /// sha256 of the login token not used yet.
    login: Mutex<Option<String>>,
    /// sha256 of each session id → the session.
    sessions: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Sessions with a fresh one-time login token, returned to be printed.
    pub fn new() -> (Sessions, String) {
        let sessions = Sessions::default();
        let token = sessions.new_login_token();
        (sessions, token)
    }

    /// Replace the login token (any earlier unused one stops working).
    pub fn new_login_token(&self) -> String {
        let token = random_secret();
        *self.login.lock().expect("not poisoned") = Some(digest(&token));
        token
    }

    /// Trade the login token for a new session: its id (for the cookie) and the session.
    /// The token works once.
    pub fn exchange(&self, token: &str) -> Option<(String, Session)> {
        let mut login = self.login.lock().expect("not poisoned");
        let expected = login.as_deref()?;
        if !same(expected, &digest(token)) {
            return None;
        }
        *login = None;
        drop(login);
        let id = random_secret();
        let session = Session { csrf: random_secret(), started: Instant::now() };
        let mut sessions = self.sessions.lock().expect("not poisoned");
        sessions.retain(|_, s| s.started.elapsed() < SESSION_LIFETIME);
        sessions.insert(digest(&id), session.clone());
        Some((id, session))
    }

    /// The live session with this id, if any.
    pub fn session(&self, id: &str) -> Option<Session> {
        let sessions = self.sessions.lock().expect("not poisoned");
        sessions.get(&digest(id)).filter(|s| s.started.elapsed() < SESSION_LIFETIME).cloned()
    }

    /// End a session.
    pub fn end(&self, id: &str) {
        self.sessions.lock().expect("not poisoned").remove(&digest(id));
    }
}

/// Whether `given` is the session's CSRF token.
pub fn csrf_matches(session: &Session, given: &str) -> bool {
    same(&digest(&session.csrf), &digest(given))
}

/// An API token as listed (never the token itself).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Its id.
    pub id: String,
    /// The name the admin gave it.
    pub name: String,
    /// When it was made.
    pub created_at: String,
    /// When a request last used it.
    pub last_used_at: Option<String>,
    /// When it was revoked (a revoked token is refused).
    pub revoked_at: Option<String>,
}

fn token_row(r: &sqlx::sqlite::SqliteRow) -> ApiToken {
    ApiToken { id: r.get("id"), name: r.get("name"), created_at: r.get("created_at"), last_used_at: r.get("last_used_at"), revoked_at: r.get("revoked_at") }
}

/// Make an API token named `name`; returns it with the token, which is shown this once.
pub async fn create_token(db: &StateDb, name: &str) -> anyhow::Result<(ApiToken, String)> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.len() <= 100 && !name.chars().any(char::is_control), "a token name is 1 to 100 printable characters");
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM api_tokens WHERE name = ?").bind(name).fetch_optional(db.pool()).await?;
    anyhow::ensure!(taken.is_none(), "an API token named {name:?} exists: revoke it first or choose another name");
    let token = format!("{API_TOKEN_PREFIX}{}", random_secret());
    let id = ferry_apps::local::new_id()[..12].to_string();
    sqlx::query("INSERT INTO api_tokens (id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)")
        .bind(&id)
        .bind(name)
        .bind(digest(&token))
        .bind(now())
        .execute(db.pool())
        .await?;
    let row = sqlx::query("SELECT * FROM api_tokens WHERE id = ?").bind(&id).fetch_one(db.pool()).await?;
    Ok((token_row(&row), token))
}

/// Every API token, newest first.
pub async fn list_tokens(db: &StateDb) -> anyhow::Result<Vec<ApiToken>> {
    let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY created_at DESC, name").fetch_all(db.pool()).await?;
    Ok(rows.iter().map(token_row).collect())
}

/// Revoke the token with this name or id; false when there is none (or it was revoked).
pub async fn revoke_token(db: &StateDb, name_or_id: &str) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE (name = ? OR id = ?) AND revoked_at IS NULL")
        .bind(now())
        .bind(name_or_id)
        .bind(name_or_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The name of the live token `token` is, noting its use; `None` for an unknown or
/// revoked token.
pub async fn check_token(db: &StateDb, token: &str) -> anyhow::Result<Option<String>> {
    if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = digest(token);
    let row = sqlx::query("SELECT id, name FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL").bind(&hash).fetch_optional(db.pool()).await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.get(0);
    sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").bind(now()).bind(&id).execute(db.pool()).await?;
    Ok(Some(row.get(1)))
}
