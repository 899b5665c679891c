//! The staging site's SCIM 2.0 service: Users and Groups, filters `userName eq` and
//! `displayName eq`, paging, PATCH of `active` and `members`.
//!
//! As in an Atlassian organisation's directory, a SCIM id is the directory's own (a
//! UUID): a user's Atlassian account id, the one Confluence and Jira take, is in the
//! `urn:scim:schemas:extension:atlassian-external:1.0` part as `atlassianAccountId`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::Row;

use super::{db_error, error, row_of, uuid_of as scim_id, AppState};
use ferry_cloud_wire::*;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/{id}", get(get_user).patch(patch_user))
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/{id}", get(get_group).patch(patch_group))
}

/// Parse `attribute eq "value"`; the only filter form the API promises.
fn parse_eq(filter: &str) -> Option<(String, String)> {
    let (attribute, value) = filter.split_once(" eq ")?;
    let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    Some((attribute.trim().to_string(), value.replace("\\\"", "\"").replace("\\\\", "\\")))
}

const USER_IDS: &str = "5c1e0a7d";
const GROUP_IDS: &str = "9a0c6b21";

fn list<T: serde::Serialize>(items: Vec<T>, total: u64) -> Response {
    Json(ScimList { schemas: vec![SCIM_LIST.into()], total_results: total, resources: items }).into_response()
}

fn user_json(row: &sqlx::sqlite::SqliteRow) -> ScimUser {
    let display: Option<String> = row.get("display_name");
    ScimUser {
        schemas: vec![SCIM_USER.into(), SCIM_ATLASSIAN.into()],
        id: Some(scim_id(USER_IDS, row.get("id"))),
        user_name: row.get("user_name"),
        name: Some(ScimName { formatted: display.clone() }),
        display_name: display,
        emails: row.get::<Option<String>, _>("email").map(|e| vec![ScimEmail { value: e, primary: Some(true) }]).unwrap_or_default(),
        active: Some(row.get::<i64, _>("active") != 0),
        atlassian: Some(AtlassianExtension { atlassian_account_id: Some(row.get::<i64, _>("id").to_string()) }),
    }
}

fn paging(q: &HashMap<String, String>) -> (i64, i64) {
    let start = q.get("startIndex").and_then(|s| s.parse::<i64>().ok()).unwrap_or(1).max(1);
    let count = q.get("count").and_then(|s| s.parse::<i64>().ok()).unwrap_or(100).clamp(0, 1000);
    (start, count)
}

async fn list_users(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(filter) = q.get("filter") {
        let Some((attr, value)) = parse_eq(filter).filter(|(a, _)| a.eq_ignore_ascii_case("userName")) else {
            return error(StatusCode::BAD_REQUEST, format!("invalidFilter: only `userName eq \"...\"` is supported, got {filter:?}"));
        };
        let _ = attr;
        return match sqlx::query("SELECT * FROM users WHERE user_name = ?").bind(&value).fetch_all(&s.db).await {
            Ok(rows) => list(rows.iter().map(user_json).collect(), rows.len() as u64),
            Err(e) => db_error(e),
        };
    }
    let (start, count) = paging(&q);
    let total: i64 = match sqlx::query("SELECT COUNT(*) FROM users").fetch_one(&s.db).await {
        Ok(r) => r.get(0),
        Err(e) => return db_error(e),
    };
    match sqlx::query("SELECT * FROM users ORDER BY id LIMIT ? OFFSET ?").bind(count).bind(start - 1).fetch_all(&s.db).await {
        Ok(rows) => list(rows.iter().map(user_json).collect(), total as u64),
        Err(e) => db_error(e),
    }
}

async fn create_user(State(s): State<AppState>, Json(user): Json<ScimUser>) -> Response {
    if user.user_name.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalidValue: userName is required");
    }
    let display = user.display_name.clone().or_else(|| user.name.as_ref().and_then(|n| n.formatted.clone()));
    let email = user.emails.first().map(|e| e.value.clone()).unwrap_or_else(|| user.user_name.clone());
    let result = sqlx::query("INSERT INTO users (user_name, display_name, email, active, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *")
        .bind(&user.user_name)
        .bind(display)
        .bind(email)
        .bind(user.active.unwrap_or(true))
        .bind(ferry_core::state::now())
        .fetch_one(&s.write)
        .await;
    match result {
        Ok(row) => (StatusCode::CREATED, Json(user_json(&row))).into_response(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            error(StatusCode::CONFLICT, format!("uniqueness: a user with userName {:?} exists", user.user_name))
        }
        Err(e) => db_error(e),
    }
}

async fn get_user(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(row) = row_of(USER_IDS, &id) else { return error(StatusCode::NOT_FOUND, format!("no user {id}")) };
    match sqlx::query("SELECT * FROM users WHERE id = ?").bind(row).fetch_optional(&s.db).await {
        Ok(Some(row)) => Json(user_json(&row)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no user {id}")),
        Err(e) => db_error(e),
    }
}

async fn patch_user(State(s): State<AppState>, Path(id): Path<String>, Json(patch): Json<ScimPatch>) -> Response {
    let Some(row) = row_of(USER_IDS, &id) else { return error(StatusCode::NOT_FOUND, format!("no user {id}")) };
    for op in &patch.operations {
        let active = match (op.path.as_deref(), &op.value) {
            (Some(p), v) if p.eq_ignore_ascii_case("active") => v.as_bool(),
            (None, serde_json::Value::Object(m)) => m.get("active").and_then(|v| v.as_bool()),
            _ => None,
        };
        let Some(active) = active else {
            return error(StatusCode::BAD_REQUEST, "invalidPath: only `active` can be patched");
        };
        match sqlx::query("UPDATE users SET active = ? WHERE id = ?").bind(active).bind(row).execute(&s.write).await {
            Ok(r) if r.rows_affected() == 0 => return error(StatusCode::NOT_FOUND, format!("no user {id}")),
            Ok(_) => {}
            Err(e) => return db_error(e),
        }
    }
    get_user(State(s), Path(id)).await
}

async fn group_json(s: &AppState, row: &sqlx::sqlite::SqliteRow) -> Result<ScimGroup, sqlx::Error> {
    let id: i64 = row.get("id");
    let members = sqlx::query("SELECT user_id FROM memberships WHERE group_id = ? ORDER BY user_id").bind(id).fetch_all(&s.db).await?;
    Ok(ScimGroup {
        schemas: vec![SCIM_GROUP.into()],
        id: Some(scim_id(GROUP_IDS, id)),
        display_name: row.get("name"),
        members: members.iter().map(|m| ScimMember { value: scim_id(USER_IDS, m.get(0)) }).collect(),
    })
}

async fn groups_answer(s: &AppState, rows: Vec<sqlx::sqlite::SqliteRow>, total: u64) -> Response {
    let mut groups = Vec::new();
    for row in &rows {
        match group_json(s, row).await {
            Ok(g) => groups.push(g),
            Err(e) => return db_error(e),
        }
    }
    list(groups, total)
}

async fn list_groups(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(filter) = q.get("filter") {
        let Some((_, value)) = parse_eq(filter).filter(|(a, _)| a.eq_ignore_ascii_case("displayName")) else {
            return error(StatusCode::BAD_REQUEST, format!("invalidFilter: only `displayName eq \"...\"` is supported, got {filter:?}"));
        };
        return match sqlx::query("SELECT * FROM groups WHERE name = ?").bind(&value).fetch_all(&s.db).await {
            Ok(rows) => {
                let n = rows.len() as u64;
                groups_answer(&s, rows, n).await
            }
            Err(e) => db_error(e),
        };
    }
    let (start, count) = paging(&q);
    match sqlx::query("SELECT * FROM groups ORDER BY id LIMIT ? OFFSET ?").bind(count).bind(start - 1).fetch_all(&s.db).await {
        Ok(rows) => {
            let total = sqlx::query("SELECT COUNT(*) FROM groups").fetch_one(&s.db).await.map(|r| r.get::<i64, _>(0)).unwrap_or(0);
            groups_answer(&s, rows, total as u64).await
        }
        Err(e) => db_error(e),
    }
}

async fn create_group(State(s): State<AppState>, Json(group): Json<ScimGroup>) -> Response {
    // Groups created through the API (by a migration) await the admin's permission review.
    let result = sqlx::query("INSERT INTO groups (name, awaiting_review) VALUES (?, 1) RETURNING *").bind(&group.display_name).fetch_one(&s.write).await;
    match result {
        Ok(row) => match group_json(&s, &row).await {
            Ok(g) => (StatusCode::CREATED, Json(g)).into_response(),
            Err(e) => db_error(e),
        },
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            error(StatusCode::CONFLICT, format!("uniqueness: a group named {:?} exists", group.display_name))
        }
        Err(e) => db_error(e),
    }
}

async fn get_group(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(row) = row_of(GROUP_IDS, &id) else { return error(StatusCode::NOT_FOUND, format!("no group {id}")) };
    match sqlx::query("SELECT * FROM groups WHERE id = ?").bind(row).fetch_optional(&s.db).await {
        Ok(Some(row)) => match group_json(&s, &row).await {
            Ok(g) => Json(g).into_response(),
            Err(e) => db_error(e),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no group {id}")),
        Err(e) => db_error(e),
    }
}

async fn patch_group(State(s): State<AppState>, Path(id): Path<String>, Json(patch): Json<ScimPatch>) -> Response {
    let Some(id) = row_of(GROUP_IDS, &id) else { return error(StatusCode::NOT_FOUND, format!("no group {id}")) };
    for op in &patch.operations {
        if !op.path.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("members")) {
            return error(StatusCode::BAD_REQUEST, "invalidPath: only `members` can be patched");
        }
        let ids: Vec<i64> = op
            .value
            .as_array()
            .map(|a| a.iter().filter_map(|m| m.get("value").and_then(|v| v.as_str()).and_then(|v| row_of(USER_IDS, v))).collect())
            .unwrap_or_default();
        let sql = match op.op.to_lowercase().as_str() {
            "add" => "INSERT OR IGNORE INTO memberships (group_id, user_id) SELECT ?, id FROM users WHERE id = ?",
            "remove" => "DELETE FROM memberships WHERE group_id = ? AND user_id = ?",
            other => return error(StatusCode::BAD_REQUEST, format!("invalidSyntax: op {other:?}")),
        };
        let mut tx = match s.write.begin().await {
            Ok(tx) => tx,
            Err(e) => return db_error(e),
        };
        for user in ids {
            if let Err(e) = sqlx::query(sql).bind(id).bind(user).execute(&mut *tx).await {
                return db_error(e);
            }
        }
        if let Err(e) = tx.commit().await {
            return db_error(e);
        }
    }
    // 204 (RFC 7644 §3.5.2): echoing a group with every member would grow with the group.
    StatusCode::NO_CONTENT.into_response()
}
