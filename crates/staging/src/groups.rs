//! The site's groups as each product's group API serves them (a site's groups serve all its
//! products, with one id): Confluence's v1 (`/wiki/rest/api/group…`) and Jira's
//! (`/rest/api/3/group…`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sqlx::Row;

use super::wiki::exists;
use super::{db_error, error, AppState};
use ferry_cloud_wire::{AccountRef, NewSiteGroup};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/wiki/rest/api/group", post(create_site_group))
        .route("/wiki/rest/api/group/picker", get(pick_site_groups))
        .route("/wiki/rest/api/group/{id}/membersByGroupId", get(site_group_members))
        .route("/wiki/rest/api/group/userByGroupId", post(add_site_group_member))
        .route("/rest/api/3/group", post(create_jira_group))
        .route("/rest/api/3/group/bulk", get(jira_groups))
        .route("/rest/api/3/group/member", get(jira_group_members))
        .route("/rest/api/3/group/user", post(add_jira_group_member))
}

/// The prefix of Confluence group ids.
const GROUP_IDS: &str = "6c0f3a52";

/// A Confluence group's id (a UUID, as a site's are) for its row.
pub(crate) fn group_id(row: i64) -> String {
    super::uuid_of(GROUP_IDS, row)
}

/// The row a Confluence group id names, if it is one.
pub(crate) fn group_row(id: &str) -> Option<i64> {
    super::row_of(GROUP_IDS, id)
}

/// The name of the group a request names by its id (as the API asks) or its name
/// (deprecated): groups are kept by name.
pub(crate) async fn group_name(db: &sqlx::SqlitePool, id_or_name: &str) -> Result<Option<String>, sqlx::Error> {
    match group_row(id_or_name) {
        Some(row) => sqlx::query_scalar("SELECT name FROM groups WHERE id = ?").bind(row).fetch_optional(db).await,
        None => sqlx::query_scalar("SELECT name FROM groups WHERE name = ?").bind(id_or_name).fetch_optional(db).await,
    }
}

fn v1_group(row: i64, name: &str) -> serde_json::Value {
    json!({"type": "group", "name": name, "id": group_id(row), "_links": {"self": format!("/wiki/rest/api/group/by-id?id={}", group_id(row))}})
}

/// `start` and `limit` of a v1 list (limit 1–200, default 200).
fn offset_paging(q: &HashMap<String, String>) -> (i64, i64) {
    let start = q.get("start").and_then(|v| v.parse().ok()).unwrap_or(0i64).max(0);
    let limit = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(200i64).clamp(1, 200);
    (start, limit)
}

/// `GET /wiki/rest/api/group/picker?query=`: groups whose name contains the query.
async fn pick_site_groups(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(query) = q.get("query").filter(|v| !v.trim().is_empty()) else { return error(StatusCode::BAD_REQUEST, "query: required") };
    let (start, limit) = offset_paging(&q);
    let sql = "SELECT id, name FROM groups WHERE instr(lower(name), lower(?)) > 0 ORDER BY name LIMIT ? OFFSET ?";
    match sqlx::query(sql).bind(query).bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(rows) => {
            let results: Vec<serde_json::Value> = rows.iter().map(|r| v1_group(r.get(0), &r.get::<String, _>(1))).collect();
            Json(json!({"results": results, "start": start, "limit": limit, "size": results.len(), "_links": {}})).into_response()
        }
        Err(e) => db_error(e),
    }
}

/// `POST /wiki/rest/api/group` `{name}`: a new site group (awaiting the admin's
/// permission review, as every group a migration creates).
async fn create_site_group(State(s): State<AppState>, Json(g): Json<NewSiteGroup>) -> Response {
    let name = g.name.trim();
    match insert_group(&s, name).await {
        Ok(Some(row)) => (StatusCode::CREATED, Json(v1_group(row, name))).into_response(),
        Ok(None) => error(StatusCode::CONFLICT, format!("a group named {name:?} exists")),
        Err(r) => r,
    }
}

/// A new group (awaiting the admin's permission review, as every group a migration
/// creates), for both products' APIs: its row, or `None` when the name is taken; the
/// answer to send for a name that is not 1 to 255 characters.
async fn insert_group(s: &AppState, name: &str) -> Result<Option<i64>, Response> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(error(StatusCode::BAD_REQUEST, "name: 1 to 255 characters"));
    }
    match sqlx::query("INSERT INTO groups (name, awaiting_review) VALUES (?, 1) RETURNING id").bind(name).fetch_one(&s.write).await {
        Ok(r) => Ok(Some(r.get(0))),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(db_error(e)),
    }
}

/// Make account `accountId` a member of group `groupId` (a member already stays one), for
/// both products' APIs: the group's row and name, or `None` when there is no such group
/// or account; the answer to send for ids that name nothing.
async fn add_member(s: &AppState, q: &HashMap<String, String>, a: &AccountRef) -> Result<Option<(i64, String)>, Response> {
    let Some(row) = q.get("groupId").and_then(|id| group_row(id)) else { return Err(error(StatusCode::NOT_FOUND, "groupId: no such group")) };
    let Ok(user) = a.account_id.parse::<i64>() else { return Err(error(StatusCode::BAD_REQUEST, format!("accountId: no account {:?}", a.account_id))) };
    let sql = "INSERT OR IGNORE INTO memberships (group_id, user_id) SELECT g.id, u.id FROM groups g, users u WHERE g.id = ? AND u.id = ?";
    sqlx::query(sql).bind(row).bind(user).execute(&s.write).await.map_err(db_error)?;
    sqlx::query("SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.group_id = ? AND m.user_id = ?")
        .bind(row)
        .bind(user)
        .fetch_optional(&s.write)
        .await
        .map(|found| found.map(|r| (row, r.get(0))))
        .map_err(db_error)
}

/// `GET /wiki/rest/api/group/{groupId}/membersByGroupId`: the members, as a `UserArray`.
async fn site_group_members(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(row) = group_row(&id) else { return error(StatusCode::NOT_FOUND, format!("no group {id}")) };
    match exists(&s, "SELECT 1 FROM groups WHERE id = ?", row).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no group {id}")),
        Err(r) => return r,
    }
    let (start, limit) = offset_paging(&q);
    let sql = "SELECT u.id, COALESCE(u.display_name, u.user_name) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.id LIMIT ? OFFSET ?";
    match sqlx::query(sql).bind(row).bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(rows) => {
            let results: Vec<serde_json::Value> = rows
                .iter()
                .map(
                    |r| json!({"type": "known", "accountId": r.get::<i64, _>(0).to_string(), "accountType": "atlassian", "displayName": r.get::<String, _>(1)}),
                )
                .collect();
            Json(json!({"results": results, "start": start, "limit": limit, "size": results.len(), "_links": {}})).into_response()
        }
        Err(e) => db_error(e),
    }
}

/// `POST /wiki/rest/api/group/userByGroupId?groupId=` `{accountId}`: one member more.
async fn add_site_group_member(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>, Json(a): Json<AccountRef>) -> Response {
    match add_member(&s, &q, &a).await {
        Ok(Some(_)) => StatusCode::CREATED.into_response(),
        Ok(None) => error(
            StatusCode::BAD_REQUEST,
            format!("no group {} or no account {}", q.get("groupId").and_then(|id| group_row(id)).map(group_id).unwrap_or_default(), a.account_id),
        ),
        Err(r) => r,
    }
}

/// A group as Jira answers it (`Group` / `GroupDetails`).
fn jira_group(row: i64, name: &str) -> serde_json::Value {
    json!({"name": name, "groupId": group_id(row), "self": format!("/rest/api/3/group?groupId={}", group_id(row))})
}

/// `startAt` and `maxResults` of a Jira list (at most 50 a page, as Jira's default).
fn jira_paging(q: &[(String, String)]) -> (i64, i64) {
    let value = |name: &str| q.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<i64>().ok());
    (value("startAt").unwrap_or(0).max(0), value("maxResults").unwrap_or(50).clamp(1, 50))
}

/// A Jira page (`PageBean…`) of `values` starting at `start` of `total`.
fn jira_page(start: i64, limit: i64, total: i64, values: Vec<serde_json::Value>) -> Response {
    let is_last = start + values.len() as i64 >= total;
    Json(json!({"startAt": start, "maxResults": limit, "total": total, "isLast": is_last, "values": values})).into_response()
}

/// `POST /rest/api/3/group` `{name}`: a new group (201 with `{name, groupId}`; a name
/// taken is 400, as Jira answers it).
async fn create_jira_group(State(s): State<AppState>, Json(g): Json<NewSiteGroup>) -> Response {
    let name = g.name.trim();
    match insert_group(&s, name).await {
        Ok(Some(row)) => (StatusCode::CREATED, Json(jira_group(row, name))).into_response(),
        Ok(None) => error(StatusCode::BAD_REQUEST, format!("A group with name '{name}' already exists.")),
        Err(r) => r,
    }
}

/// `GET /rest/api/3/group/bulk?groupName=…&groupId=…`: the groups named (by exact name,
/// case-insensitive, or id), every group when none is named.
async fn jira_groups(State(s): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let names: Vec<String> = q.iter().filter(|(k, _)| k == "groupName").map(|(_, v)| v.to_lowercase()).collect();
    let ids: Vec<i64> = q.iter().filter(|(k, _)| k == "groupId").filter_map(|(_, v)| group_row(v)).collect();
    let (start, limit) = jira_paging(&q);
    let rows = match sqlx::query("SELECT id, name FROM groups ORDER BY name").fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let chosen: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
        .filter(|(id, name)| (names.is_empty() && ids.is_empty()) || names.contains(&name.to_lowercase()) || ids.contains(id))
        .collect();
    let total = chosen.len() as i64;
    let values = chosen.iter().skip(start as usize).take(limit as usize).map(|(id, name)| jira_group(*id, name)).collect();
    jira_page(start, limit, total, values)
}

/// `GET /rest/api/3/group/member?groupId=`: the members (`PageBeanUserDetails`).
async fn jira_group_members(State(s): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let id = q.iter().find(|(k, _)| k == "groupId").map(|(_, v)| v.clone()).unwrap_or_default();
    let Some(row) = group_row(&id) else { return error(StatusCode::NOT_FOUND, format!("no group {id}")) };
    match exists(&s, "SELECT 1 FROM groups WHERE id = ?", row).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no group {id}")),
        Err(r) => return r,
    }
    let (start, limit) = jira_paging(&q);
    let total: i64 = match sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE group_id = ?").bind(row).fetch_one(&s.db).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    let sql = "SELECT u.id, COALESCE(u.display_name, u.user_name), u.active FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.id LIMIT ? OFFSET ?";
    match sqlx::query(sql).bind(row).bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(rows) => {
            let values = rows
                .iter()
                .map(|r| {
                    json!({"accountId": r.get::<i64, _>(0).to_string(), "accountType": "atlassian", "displayName": r.get::<String, _>(1), "active": r.get::<bool, _>(2)})
                })
                .collect();
            jira_page(start, limit, total, values)
        }
        Err(e) => db_error(e),
    }
}

/// `POST /rest/api/3/group/user?groupId=` `{accountId}`: one member more (201 with the
/// group; adding a member again is a no-op).
async fn add_jira_group_member(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>, Json(a): Json<AccountRef>) -> Response {
    match add_member(&s, &q, &a).await {
        Ok(Some((row, name))) => (StatusCode::CREATED, Json(jira_group(row, &name))).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no group {} or no account {}", q.get("groupId").and_then(|id| group_row(id)).map(group_id).unwrap_or_default(), a.account_id),
        ),
        Err(r) => r,
    }
}
