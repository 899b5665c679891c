//! The staging site's content API (spaces, pages, blog posts, comments, attachments,
//! permissions), and the review endpoints.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use sqlx::Row;

use super::groups::{group_id, group_name, group_row};
use super::{db_error, error, AppState, PRODUCT_ACCESS_GROUP};
use ferry_cloud_wire::*;

/// How the review endpoints name content with no author.
pub const FORMER_USER: &str = "Former User";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/wiki/rest/api/space", post(create_space))
        .route("/wiki/rest/api/space/{key}", get(get_space))
        .route("/wiki/rest/api/space/{key}/permission", post(add_permission))
        .route("/wiki/api/v2/spaces", get(list_spaces))
        .route("/wiki/api/v2/spaces/{id}/permissions", get(space_permissions))
        .route("/wiki/api/v2/pages", post(create_page))
        .route("/wiki/api/v2/blogposts", post(create_blogpost))
        .route("/wiki/api/v2/pages/{id}", get(read_content).put(update_content).delete(delete_page))
        .route("/wiki/api/v2/blogposts/{id}", get(read_content).put(update_content))
        .route("/wiki/api/v2/pages/{id}/versions", get(list_versions))
        .route("/wiki/api/v2/blogposts/{id}/versions", get(list_versions))
        .route("/wiki/api/v2/spaces/{id}/pages", get(space_pages))
        .route("/wiki/api/v2/spaces/{id}/blogposts", get(space_blogposts))
        .route("/wiki/api/v2/pages/{id}/properties", get(list_properties).post(add_property))
        .route("/wiki/api/v2/blogposts/{id}/properties", get(list_properties).post(add_property))
        .route("/wiki/api/v2/comments/{id}/properties", get(list_properties).post(add_property))
        .route("/wiki/api/v2/pages/{id}/footer-comments", get(footer_comments_of))
        .route("/wiki/api/v2/blogposts/{id}/footer-comments", get(footer_comments_of))
        .route("/wiki/api/v2/attachments/{id}/footer-comments", get(attachment_comments))
        .route("/wiki/api/v2/footer-comments/{id}/children", get(replies))
        .route("/wiki/api/v2/inline-comments/{id}/children", get(replies))
        .route("/wiki/api/v2/pages/{id}/inline-comments", get(list_inline_comments))
        .route("/wiki/api/v2/blogposts/{id}/inline-comments", get(list_inline_comments))
        .route("/wiki/api/v2/inline-comments", post(create_inline_comment))
        .route("/wiki/api/v2/footer-comments/{id}", get(read_comment).put(update_comment))
        .route("/wiki/api/v2/inline-comments/{id}", get(read_comment).put(update_comment))
        .route("/wiki/rest/api/content/{id}/restriction", get(get_restrictions).put(put_restrictions))
        .route("/wiki/rest/api/content/{id}/label", post(add_labels))
        .route("/wiki/api/v2/footer-comments", post(create_comment))
        .route("/wiki/rest/api/content/{id}/child/attachment", get(list_attachments).post(upload_attachment))
        .route("/wiki/rest/api/content/{id}", delete(delete_content))
        .route("/wiki/api/v2/attachments/{id}", get(get_attachment).delete(delete_attachment))
        .route("/wiki/rest/api/content/{id}/child/attachment/{attachment}", axum::routing::put(update_attachment))
        .route("/wiki/api/v2/pages/{id}/attachments", get(page_attachments))
        .route("/wiki/api/v2/pages/{id}/labels", get(page_labels))
        .route("/wiki/rest/api/content/{id}/child/attachment/{attachment}/download", get(download_attachment))
        .route("/wiki/api/v2/blogposts/{id}/labels", get(blogpost_labels))
        .route("/wiki/api/v2/blogposts/{id}/attachments", get(blogpost_attachments))
        .route("/ferry/v1/review/users", get(review_users))
        .route("/ferry/v1/review/groups", get(review_groups))
        .route("/ferry/v1/review/spaces", get(review_spaces))
        .route("/ferry/v1/review/spaces/{key}/content", get(review_content))
        .route("/ferry/v1/review/content/{id}", get(review_body))
        .route("/ferry/v1/review/content/{id}/versions", get(review_versions))
        .route("/ferry/v1/review/transfers/{transfer}", get(review_transfer))
        .route("/ferry/v1/review/apps/{key}", get(super::apps::review_app))
}

/// A space as v1 answers it (`id` a number, with its type, status and links).
fn v1_space(id: i64, key: &str, name: &str) -> serde_json::Value {
    json!({"id": id, "key": key, "name": name, "type": "global", "status": "current",
           "_expandable": {"settings": format!("/rest/api/space/{key}/settings"), "homepage": "", "description": ""},
           "_links": {"webui": format!("/spaces/{key}"), "self": format!("/wiki/rest/api/space/{key}")}})
}

/// A space as v2 answers it (`id` a string).
fn v2_space(id: i64, key: &str, name: &str) -> serde_json::Value {
    json!({"id": id.to_string(), "key": key, "name": name, "type": "global", "status": "current", "_links": {"webui": format!("/spaces/{key}")}})
}

async fn get_space(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    match sqlx::query("SELECT id, key, name FROM spaces WHERE key = ?").bind(&key).fetch_optional(&s.db).await {
        Ok(Some(r)) => Json(v1_space(r.get(0), &r.get::<String, _>(1), &r.get::<String, _>(2))).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no space {key}")),
        Err(e) => db_error(e),
    }
}

/// `GET /wiki/api/v2/spaces`: every space, or those of `keys` / `ids` (each given as a
/// comma-separated list or repeated), in id order, `limit` at a time with a cursor link.
async fn list_spaces(State(s): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let listed = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>())
            .collect()
    };
    let (keys, ids) = (listed("keys"), listed("ids"));
    let one = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let limit = one("limit").and_then(|l| l.parse::<i64>().ok()).unwrap_or(25).clamp(1, 250);
    let after = one("cursor").and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
    let rows = match sqlx::query("SELECT id, key, name FROM spaces WHERE id > ? ORDER BY id").bind(after).fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let wanted = rows.iter().filter(|r| {
        let (id, key): (i64, String) = (r.get(0), r.get(1));
        (keys.is_empty() || keys.contains(&key)) && (ids.is_empty() || ids.contains(&id.to_string()))
    });
    let page: Vec<&sqlx::sqlite::SqliteRow> = wanted.take(limit as usize + 1).collect();
    let more = page.len() > limit as usize;
    let results: Vec<serde_json::Value> =
        page.iter().take(limit as usize).map(|r| v2_space(r.get(0), &r.get::<String, _>(1), &r.get::<String, _>(2))).collect();
    let mut links = json!({});
    if more {
        let last: i64 = page[limit as usize - 1].get(0);
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "cursor") {
            next.append_pair(k, v);
        }
        next.append_pair("cursor", &last.to_string());
        links = json!({"next": format!("/wiki/api/v2/spaces?{}", next.finish())});
    }
    Json(json!({"results": results, "_links": links})).into_response()
}

async fn create_space(State(s): State<AppState>, Json(space): Json<Space>) -> Response {
    if space.key.is_empty() || !space.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '~' || c == '_' || c == '.' || c == '-') {
        return error(StatusCode::BAD_REQUEST, format!("invalid space key {:?}", space.key));
    }
    match sqlx::query("INSERT INTO spaces (key, name) VALUES (?, ?) RETURNING id").bind(&space.key).bind(&space.name).fetch_one(&s.write).await {
        Ok(r) => (StatusCode::OK, Json(v1_space(r.get(0), &space.key, &space.name))).into_response(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => error(StatusCode::CONFLICT, format!("a space with key {} exists", space.key)),
        Err(e) => db_error(e),
    }
}

pub(crate) async fn exists(s: &AppState, sql: &str, id: impl ToString) -> Result<bool, Response> {
    sqlx::query(sql).bind(id.to_string()).fetch_optional(&s.db).await.map(|r| r.is_some()).map_err(db_error)
}

/// The space of page or blog post `id`; `missing` is the answer when there is none
/// (404 when the id is in the path, 400 when it is in the body).
async fn space_of_page(s: &AppState, id: i64, missing: StatusCode) -> Result<i64, Response> {
    match sqlx::query("SELECT space_id FROM content WHERE id = ? AND kind IN ('page', 'blogpost')").bind(id).fetch_optional(&s.db).await {
        Ok(Some(r)) => Ok(r.get(0)),
        Ok(None) => Err(error(missing, format!("no page or blog post {id}"))),
        Err(e) => Err(db_error(e)),
    }
}

/// A write refused because the space has a page of that title (400, as Confluence
/// answers), or another database failure.
fn title_taken(e: sqlx::Error, title: &str) -> Response {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            error(StatusCode::BAD_REQUEST, format!("A page with this title already exists: a page already exists with the title {title:?} in this space"))
        }
        e => db_error(e),
    }
}

/// `?private=true` on a create: the page starts restricted to the migrating account.
#[derive(Debug, Default, serde::Deserialize)]
struct CreateQuery {
    #[serde(default)]
    private: bool,
}

async fn create(s: AppState, kind: &str, c: NewContent, private: bool) -> Response {
    if c.body.representation != "storage" {
        return error(StatusCode::BAD_REQUEST, "body.representation must be storage");
    }
    match exists(&s, "SELECT 1 FROM spaces WHERE id = ?", c.space_id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::BAD_REQUEST, format!("no space {}", c.space_id)),
        Err(r) => return r,
    }
    if let Some(parent) = c.parent_id {
        let sql = "SELECT 1 FROM content WHERE id = ? AND kind = 'page'";
        match exists(&s, sql, parent).await {
            Ok(true) => {}
            Ok(false) => return error(StatusCode::BAD_REQUEST, format!("no parent page {parent}")),
            Err(r) => return r,
        }
    }
    if c.title.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a page needs a title");
    }
    // The signed-in account creates it, now: the API takes no author or date.
    let (author, now) = (s.access.admin_account_id(), ferry_core::state::now());
    let result = sqlx::query(
        "INSERT INTO content (kind, space_id, parent_id, title, body, author_id, created_at, version, version_message, version_author, version_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, NULL, ?, ?) RETURNING id",
    )
    .bind(kind)
    .bind(c.space_id)
    .bind(c.parent_id)
    .bind(&c.title)
    .bind(&c.body.value)
    .bind(&author)
    .bind(&now)
    .bind(&author)
    .bind(&now)
    .fetch_one(&s.write)
    .await;
    let id: i64 = match result {
        Ok(r) => r.get(0),
        Err(e) => return title_taken(e, &c.title),
    };
    if !private {
        return Json(Created { id }).into_response();
    }
    let marked = async {
        let sql =
            "INSERT INTO restrictions (content_id, operation, subject_type, identifier) VALUES (?, 'read', 'migrator', ''), (?, 'update', 'migrator', '')";
        sqlx::query(sql).bind(id).bind(id).execute(&s.write).await?;
        sqlx::query("INSERT OR IGNORE INTO created_private (content_id) VALUES (?)").bind(id).execute(&s.write).await
    };
    match marked.await {
        Ok(_) => Json(Created { id }).into_response(),
        Err(e) => db_error(e),
    }
}

async fn create_page(State(s): State<AppState>, Query(q): Query<CreateQuery>, Json(c): Json<NewContent>) -> Response {
    create(s, "page", c, q.private).await
}

async fn create_blogpost(State(s): State<AppState>, Query(q): Query<CreateQuery>, Json(c): Json<NewContent>) -> Response {
    if c.parent_id.is_some() {
        return error(StatusCode::BAD_REQUEST, "blog posts have no parent");
    }
    create(s, "blogpost", c, q.private).await
}

/// The header naming the account a read is made as (staging only: the site has one API
/// token, and tests read as each account to prove who can see what). Without it a read is
/// the migrating account's.
pub const READ_AS_HEADER: &str = "x-ferry-read-as";

/// Replace every restriction of a page or blog post. A user or group that does not
/// exist is refused with 400 (nothing changes).
async fn put_restrictions(State(s): State<AppState>, Path(id): Path<i64>, Json(wanted): Json<Vec<ContentRestriction>>) -> Response {
    if let Err(r) = space_of_page(&s, id, StatusCode::NOT_FOUND).await {
        return r;
    }
    let mut rows = Vec::new();
    for r in &wanted {
        if !matches!(r.operation.as_str(), "read" | "update") {
            return error(StatusCode::BAD_REQUEST, format!("operation {:?}: read or update", r.operation));
        }
        for u in &r.restrictions.user {
            if u.account_id == s.access.admin_account_id() {
                rows.push((r.operation.clone(), "user", u.account_id.clone()));
                continue;
            }
            match exists(&s, "SELECT 1 FROM users WHERE id = ?", &u.account_id).await {
                Ok(true) => rows.push((r.operation.clone(), "user", u.account_id.clone())),
                Ok(false) => return error(StatusCode::BAD_REQUEST, format!("no account {}", u.account_id)),
                Err(resp) => return resp,
            }
        }
        for g in &r.restrictions.group {
            let named = if g.id.is_empty() { g.name.clone().unwrap_or_default() } else { g.id.clone() };
            if named.is_empty() {
                return error(StatusCode::BAD_REQUEST, "a group restriction needs its id (or name)");
            }
            match group_name(&s.db, &named).await {
                Ok(Some(name)) => rows.push((r.operation.clone(), "group", name)),
                Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no group {named}")),
                Err(e) => return db_error(e),
            }
        }
    }
    let replaced = async {
        let mut tx = s.write.begin().await?;
        sqlx::query("DELETE FROM restrictions WHERE content_id = ?").bind(id).execute(&mut *tx).await?;
        for (operation, kind, identifier) in &rows {
            sqlx::query("INSERT OR IGNORE INTO restrictions (content_id, operation, subject_type, identifier) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(operation)
                .bind(kind)
                .bind(identifier)
                .execute(&mut *tx)
                .await?;
        }
        if !rows.iter().any(|(operation, _, _)| operation == "read") {
            sqlx::query("INSERT OR IGNORE INTO ever_open (content_id) VALUES (?)").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await
    };
    match replaced.await {
        Ok(()) => get_restrictions(State(s), Path(id)).await,
        Err(e) => db_error(e),
    }
}

/// A label's id (numeric, as a site's; stable for its name).
fn label_id(name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    (u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 12).to_string()
}

/// Add labels to a page, blog post or attachment; answers every label it has (a
/// `LabelArray`). A label is
/// 1-255 characters without spaces, as in Confluence.
async fn add_labels(State(s): State<AppState>, Path(id): Path<i64>, Json(labels): Json<Vec<NewLabel>>) -> Response {
    match exists(&s, "SELECT 1 FROM content WHERE id = ? AND kind IN ('page', 'blogpost', 'attachment')", id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no page, blog post or attachment {id}")),
        Err(r) => return r,
    }
    for l in &labels {
        if l.prefix != "global" {
            return error(StatusCode::BAD_REQUEST, format!("label prefix {:?}: only global labels can be added", l.prefix));
        }
        if l.name.is_empty() || l.name.chars().count() > 255 || l.name.chars().any(char::is_whitespace) {
            return error(StatusCode::BAD_REQUEST, format!("label {:?}: 1-255 characters without spaces", l.name));
        }
    }
    for l in &labels {
        if let Err(e) = sqlx::query("INSERT OR IGNORE INTO labels (content_id, name) VALUES (?, ?)").bind(id).bind(&l.name).execute(&s.write).await {
            return db_error(e);
        }
    }
    match sqlx::query("SELECT name FROM labels WHERE content_id = ? ORDER BY name").bind(id).fetch_all(&s.db).await {
        Ok(rows) => {
            let results: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let name: String = r.get(0);
                    json!({"prefix": "global", "name": name, "id": label_id(&name), "label": name})
                })
                .collect();
            Json(json!({"results": results, "start": 0, "limit": 200, "size": results.len(), "_links": {}})).into_response()
        }
        Err(e) => db_error(e),
    }
}

/// The restrictions of a page or blog post, as v1 answers them: a `ContentRestrictionArray`
/// with one entry per operation that has any, each with its users (`UserArray`) and groups
/// (`GroupArray`).
async fn get_restrictions(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let sql =
        "SELECT r.operation, r.subject_type, r.identifier, g.id FROM restrictions r LEFT JOIN groups g ON r.subject_type = 'group' AND g.name = r.identifier \
               WHERE r.content_id = ? ORDER BY r.operation, r.subject_type, r.identifier";
    let rows = match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let mut operations: Vec<(String, Vec<serde_json::Value>, Vec<serde_json::Value>)> = Vec::new();
    for r in rows {
        let operation: String = r.get(0);
        if operations.last().is_none_or(|last| last.0 != operation) {
            operations.push((operation, Vec::new(), Vec::new()));
        }
        let (_, users, groups) = operations.last_mut().expect("just pushed");
        let identifier: String = r.get(2);
        match r.get::<String, _>(1).as_str() {
            "user" => users.push(json!({"type": "known", "accountId": identifier, "accountType": "atlassian"})),
            "group" => groups.push(json!({"type": "group", "name": identifier, "id": r.get::<Option<i64>, _>(3).map(group_id).unwrap_or_default()})),
            _ => {}
        }
    }
    let array = |items: Vec<serde_json::Value>| json!({"size": items.len(), "start": 0, "limit": 200, "results": items});
    let results: Vec<serde_json::Value> = operations
        .into_iter()
        .map(|(operation, users, groups)| {
            json!({"operation": operation, "restrictions": {"user": array(users), "group": array(groups)},
                   "_expandable": {"content": format!("/rest/api/content/{id}")}, "_links": {}})
        })
        .collect();
    let size = results.len();
    Json(json!({"results": results, "start": 0, "limit": 100, "size": size, "restrictionsHash": format!("{id:x}-{size}"), "_links": {}})).into_response()
}

/// Whether `account` (none: the migrating account) may see content `id`: its own read
/// restriction and that of every ancestor page must each allow the account, directly or
/// through one of its groups.
pub(crate) async fn can_view(s: &AppState, id: i64, account: Option<&str>) -> Result<bool, sqlx::Error> {
    let mut current = Some(id);
    while let Some(content) = current {
        let subjects =
            sqlx::query("SELECT subject_type, identifier FROM restrictions WHERE content_id = ? AND operation = 'read'").bind(content).fetch_all(&s.db).await?;
        if !subjects.is_empty() {
            let mut allowed = false;
            for r in &subjects {
                let (kind, identifier): (String, String) = (r.get(0), r.get(1));
                allowed |= match (kind.as_str(), account) {
                    ("migrator", None) => true,
                    ("user", None) => identifier == s.access.admin_account_id(),
                    ("user", Some(a)) => identifier == a,
                    ("group", Some(a)) => sqlx::query("SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.name = ? AND m.user_id = ?")
                        .bind(&identifier)
                        .bind(a)
                        .fetch_optional(&s.db)
                        .await?
                        .is_some(),
                    _ => false,
                };
            }
            if !allowed {
                return Ok(false);
            }
        }
        current = sqlx::query("SELECT parent_id FROM content WHERE id = ?").bind(content).fetch_optional(&s.db).await?.and_then(|r| r.get(0));
    }
    Ok(true)
}

/// Add the next version of a page or blog post, saved by the signed-in account, now: its
/// number must be the current one plus one (`409` otherwise, as Confluence Cloud answers).
async fn update_content(State(s): State<AppState>, Path(id): Path<i64>, Json(u): Json<ContentUpdate>) -> Response {
    if u.body.representation != "storage" {
        return error(StatusCode::BAD_REQUEST, "body.representation must be storage");
    }
    if let Err(r) = space_of_page(&s, id, StatusCode::NOT_FOUND).await {
        return r;
    }
    if u.id != id.to_string() {
        return error(StatusCode::BAD_REQUEST, format!("the body's id {:?} is not the page {id} of the path", u.id));
    }
    let (author, now) = (s.access.admin_account_id(), ferry_core::state::now());
    let added = async {
        let mut tx = s.write.begin().await?;
        let current: i64 = sqlx::query("SELECT COALESCE(version, 1) FROM content WHERE id = ?").bind(id).fetch_one(&mut *tx).await?.get(0);
        if u.version.number != current + 1 {
            return Ok(Some(current));
        }
        // The current version becomes an earlier one; the content row is the new one.
        sqlx::query(
            "INSERT INTO versions (content_id, number, title, body, author_id, created_at, message) \
             SELECT id, COALESCE(version, 1), title, body, version_author, version_at, version_message FROM content WHERE id = ?",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE content SET title = ?, body = ?, version = ?, version_message = ?, version_author = ?, version_at = ? WHERE id = ?")
            .bind(&u.title)
            .bind(&u.body.value)
            .bind(u.version.number)
            .bind(&u.version.message)
            .bind(&author)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<Option<i64>, sqlx::Error>(None)
    };
    match added.await {
        Ok(None) => Json(json!({"id": id.to_string(), "version": {"number": u.version.number}})).into_response(),
        Ok(Some(current)) => {
            error(StatusCode::CONFLICT, format!("version {} of page {id} is not the next one: the page is at version {current}", u.version.number))
        }
        Err(e) => title_taken(e, &u.title),
    }
}

/// A comment, if the path's kind (footer or inline) is its kind.
async fn comment_of_path(s: &AppState, id: i64, path: &str) -> Result<(), Response> {
    let inline = path.starts_with("/wiki/api/v2/inline-comments/");
    let sql = "SELECT EXISTS (SELECT 1 FROM inline_anchors a WHERE a.comment_id = c.id) \
                   OR EXISTS (WITH RECURSIVE up (id, parent_id) AS (SELECT c.id, c.parent_id \
                              UNION ALL SELECT p.id, p.parent_id FROM content p JOIN up ON p.id = up.parent_id) \
                              SELECT 1 FROM up JOIN inline_anchors a ON a.comment_id = up.id) \
               FROM content c WHERE c.id = ? AND c.kind = 'comment'";
    match sqlx::query(sql).bind(id).fetch_optional(&s.db).await {
        Ok(Some(r)) if r.get::<bool, _>(0) == inline => Ok(()),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, format!("no {} comment {id}", if inline { "inline" } else { "footer" }))),
        Err(e) => Err(db_error(e)),
    }
}

/// A footer or inline comment: id, its page, body and version.
async fn read_comment(State(s): State<AppState>, Path(id): Path<i64>, uri: axum::http::Uri) -> Response {
    if let Err(r) = comment_of_path(&s, id, uri.path()).await {
        return r;
    }
    let sql = "SELECT page_id, parent_id, body, COALESCE(version, 1), author_id, created_at FROM content WHERE id = ?";
    match sqlx::query(sql).bind(id).fetch_one(&s.db).await {
        Ok(r) => Json(json!({
            "id": id.to_string(), "status": "current", "pageId": r.get::<Option<i64>, _>(0).map(|p| p.to_string()),
            "parentCommentId": r.get::<Option<i64>, _>(1).map(|p| p.to_string()),
            "body": {"storage": {"representation": "storage", "value": r.get::<Option<String>, _>(2)}},
            "version": {"number": r.get::<i64, _>(3), "authorId": r.get::<Option<String>, _>(4), "createdAt": r.get::<Option<String>, _>(5)},
        }))
        .into_response(),
        Err(e) => db_error(e),
    }
}

/// Save a new version of a comment: its number must be the current one plus one (409).
async fn update_comment(State(s): State<AppState>, Path(id): Path<i64>, uri: axum::http::Uri, Json(u): Json<CommentUpdate>) -> Response {
    if u.body.representation != "storage" {
        return error(StatusCode::BAD_REQUEST, "body.representation must be storage");
    }
    if let Err(r) = comment_of_path(&s, id, uri.path()).await {
        return r;
    }
    let sql = "UPDATE content SET body = ?, version = ?, version_message = ? WHERE id = ? AND COALESCE(version, 1) + 1 = ?";
    match sqlx::query(sql).bind(&u.body.value).bind(u.version.number).bind(&u.version.message).bind(id).bind(u.version.number).execute(&s.write).await {
        Ok(r) if r.rows_affected() == 1 => Json(json!({"id": id.to_string(), "version": {"number": u.version.number}})).into_response(),
        Ok(_) => error(StatusCode::CONFLICT, format!("version {} of comment {id} is not the next one", u.version.number)),
        Err(e) => db_error(e),
    }
}

/// The account a read is made as: the `x-ferry-read-as` header, or the migrating account.
fn reader(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get(READ_AS_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `404` unless the reader may see page or blog post `id`.
async fn visible(s: &AppState, id: i64, headers: &axum::http::HeaderMap) -> Result<(), Response> {
    space_of_page(s, id, StatusCode::NOT_FOUND).await?;
    match can_view(s, id, reader(headers).as_deref()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(error(StatusCode::NOT_FOUND, format!("no page or blog post {id}"))),
        Err(e) => Err(db_error(e)),
    }
}

/// The versions of a page or blog post, oldest first, as the reader may see them.
async fn list_versions(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    if let Err(r) = visible(&s, id, &headers).await {
        return r;
    }
    let sql = "SELECT number, message, author_id, created_at FROM all_versions WHERE content_id = ? ORDER BY number";
    match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|r| {
                    // A version saved without a message has an empty one, as a site answers.
                    let message = Some(r.get::<Option<String>, _>(1).unwrap_or_default());
                    let v = SavedVersion { number: r.get(0), message, author_id: r.get(2), created_at: r.get(3) };
                    (v.number, json!(v))
                })
                .collect();
            cursor_list(items, &q, &path)
        }
        Err(e) => db_error(e),
    }
}

/// Create an inline comment by the signed-in account: a top-level one (on a page or a
/// blog post) needs the marker it names in that page's current body; a reply names an
/// inline comment alone and sits on its page.
async fn create_inline_comment(State(s): State<AppState>, Json(c): Json<NewInlineComment>) -> Response {
    let on = match (c.page_id, c.blog_post_id, c.parent_comment_id) {
        (Some(page), None, None) | (None, Some(page), None) => page,
        (None, None, Some(parent)) => {
            // The reply's thread must start at an inline comment.
            let sql = "WITH RECURSIVE up (id, parent_id, page_id) AS ( \
                         SELECT id, parent_id, page_id FROM content WHERE id = ? AND kind = 'comment' \
                         UNION ALL SELECT c.id, c.parent_id, c.page_id FROM content c JOIN up ON c.id = up.parent_id) \
                       SELECT up.page_id FROM up JOIN inline_anchors a ON a.comment_id = up.id";
            match sqlx::query(sql).bind(parent).fetch_optional(&s.db).await {
                Ok(Some(r)) => r.get::<i64, _>(0),
                Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no inline comment {parent}")),
                Err(e) => return db_error(e),
            }
        }
        _ => return error(StatusCode::BAD_REQUEST, "give one of pageId and blogPostId (a new inline comment) or parentCommentId (a reply)"),
    };
    let space = match space_of_page(&s, on, StatusCode::BAD_REQUEST).await {
        Ok(space) => space,
        Err(r) => return r,
    };
    match (&c.parent_comment_id, &c.inline_comment_properties) {
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => return error(StatusCode::BAD_REQUEST, "a top-level inline comment needs inlineCommentProperties"),
        (Some(_), Some(_)) => return error(StatusCode::BAD_REQUEST, "a reply takes no inlineCommentProperties"),
    }
    // As a site does: the selection's occurrence in the page's text gets a marker of the
    // site's own; a selection the page's text has another number of times is refused.
    let created = async {
        let mut tx = s.write.begin().await?;
        let sql = "INSERT INTO content (kind, space_id, page_id, parent_id, body, author_id, created_at) VALUES ('comment', ?, ?, ?, ?, ?, ?) RETURNING id";
        let id: i64 = sqlx::query(sql)
            .bind(space)
            .bind(on)
            .bind(c.parent_comment_id)
            .bind(&c.body.value)
            .bind(s.access.admin_account_id())
            .bind(ferry_core::state::now())
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        if let Some(anchor) = &c.inline_comment_properties {
            let marker = format!("{on:08x}-1c0e-4a11-8000-{id:012x}");
            let body: Option<String> = sqlx::query_scalar("SELECT body FROM content WHERE id = ?").bind(on).fetch_one(&mut *tx).await?;
            let selection = ferry_storage_format::Selection {
                text: anchor.text_selection.clone(),
                index: anchor.text_selection_match_index,
                count: anchor.text_selection_match_count,
            };
            match ferry_storage_format::place(body.as_deref().unwrap_or_default(), &selection, &marker) {
                Ok(ferry_storage_format::Placed::Marked(marked)) => {
                    sqlx::query("UPDATE content SET body = ? WHERE id = ?").bind(marked).bind(on).execute(&mut *tx).await?;
                }
                Ok(ferry_storage_format::Placed::Unmarked) => {}
                Ok(ferry_storage_format::Placed::Mismatch { found }) => {
                    return Ok(Err(format!(
                        "inlineCommentProperties: the page's text has {:?} {found} times, not {} (textSelectionMatchCount), or the index {} is not one of them",
                        anchor.text_selection, anchor.text_selection_match_count, anchor.text_selection_match_index
                    )))
                }
                Err(e) => return Ok(Err(format!("page {on}'s body cannot be read to place the selection: {e}"))),
            }
            sqlx::query("INSERT INTO inline_anchors (comment_id, marker_ref, selection) VALUES (?, ?, ?)")
                .bind(id)
                .bind(&marker)
                .bind(&anchor.text_selection)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<Result<i64, String>, sqlx::Error>(Ok(id))
    };
    match created.await {
        Ok(Ok(id)) => Json(Created { id }).into_response(),
        Ok(Err(refused)) => error(StatusCode::BAD_REQUEST, refused),
        Err(e) => db_error(e),
    }
}

/// The inline comments of a page or blog post (replies with their parent), as the reader
/// may see them: `{results: [{id, parentCommentId, body, properties: {inlineMarkerRef,
/// inlineOriginalSelection}}]}`.
async fn list_inline_comments(State(s): State<AppState>, Path(id): Path<i64>, headers: axum::http::HeaderMap) -> Response {
    if let Err(r) = visible(&s, id, &headers).await {
        return r;
    }
    // Top-level inline comments, then replies to them (a reply's root has an anchor).
    let sql = "WITH RECURSIVE thread (id) AS ( \
                 SELECT comment_id FROM inline_anchors a JOIN content c ON c.id = a.comment_id WHERE c.page_id = ? \
                 UNION SELECT c.id FROM content c JOIN thread t ON c.parent_id = t.id WHERE c.kind = 'comment') \
               SELECT c.id, c.parent_id, c.body, c.author_id, a.marker_ref, a.selection FROM thread t JOIN content c ON c.id = t.id \
               LEFT JOIN inline_anchors a ON a.comment_id = c.id ORDER BY c.id";
    match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => Json(json!({"results": rows.iter().map(|r| {
            let marker: Option<String> = r.get(4);
            json!({"id": r.get::<i64, _>(0).to_string(), "parentCommentId": r.get::<Option<i64>, _>(1).map(|p| p.to_string()), "authorId": r.get::<Option<String>, _>(3),
                   "body": {"storage": {"representation": "storage", "value": r.get::<Option<String>, _>(2)}},
                   "properties": marker.map(|m| json!({"inlineMarkerRef": m, "inlineOriginalSelection": r.get::<Option<String>, _>(5)}))})
        }).collect::<Vec<_>>()}))
        .into_response(),
        Err(e) => db_error(e),
    }
}

/// Read a page or blog post as the account in the `x-ferry-read-as` header would: 404
/// when it may not see it, as Confluence Cloud answers.
async fn read_content(State(s): State<AppState>, Path(id): Path<i64>, headers: axum::http::HeaderMap) -> Response {
    if let Err(r) = visible(&s, id, &headers).await {
        return r;
    }
    let sql = "SELECT id, kind, space_id, parent_id, title, body, version, version_message, version_author, version_at FROM content WHERE id = ?";
    match sqlx::query(sql).bind(id).fetch_one(&s.db).await {
        Ok(row) => Json(json!({
            "id": row.get::<i64, _>(0).to_string(), "status": "current", "spaceId": row.get::<i64, _>(2).to_string(),
            "parentId": row.get::<Option<i64>, _>(3).map(|p| p.to_string()), "title": row.get::<Option<String>, _>(4),
            "body": {"storage": {"representation": "storage", "value": row.get::<Option<String>, _>(5)}},
            "version": {"number": row.get::<Option<i64>, _>(6), "message": row.get::<Option<String>, _>(7),
                        "authorId": row.get::<Option<String>, _>(8), "createdAt": row.get::<Option<String>, _>(9)},
        }))
        .into_response(),
        Err(e) => db_error(e),
    }
}

/// Create a footer comment by the signed-in account: on a page (`pageId`), a blog post
/// (`blogPostId`) or an attachment (`attachmentId`), or a reply (`parentCommentId` alone,
/// on what its parent is on).
async fn create_comment(State(s): State<AppState>, Json(c): Json<NewComment>) -> Response {
    let (on, space) = match (c.page_id, c.blog_post_id, c.attachment_id, c.parent_comment_id) {
        (Some(page), None, None, None) | (None, Some(page), None, None) => {
            let kind = if c.page_id.is_some() { "page" } else { "blogpost" };
            match sqlx::query("SELECT space_id FROM content WHERE id = ? AND kind = ?").bind(page).bind(kind).fetch_optional(&s.db).await {
                Ok(Some(r)) => (page, r.get::<i64, _>(0)),
                Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no {kind} {page}")),
                Err(e) => return db_error(e),
            }
        }
        (None, None, Some(_), None) if s.faults.no_file_comments => {
            return error(StatusCode::BAD_REQUEST, "attachmentId is not supported: comment on a page or a blog post");
        }
        (None, None, Some(attachment), None) => {
            match sqlx::query("SELECT space_id FROM content WHERE id = ? AND kind = 'attachment'").bind(attachment).fetch_optional(&s.db).await {
                Ok(Some(r)) => (attachment, r.get::<i64, _>(0)),
                Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no attachment {attachment}")),
                Err(e) => return db_error(e),
            }
        }
        (None, None, None, Some(parent)) => {
            let sql = "SELECT page_id, space_id FROM content c WHERE id = ? AND kind = 'comment' AND NOT EXISTS (SELECT 1 FROM inline_anchors a WHERE a.comment_id = c.id)";
            match sqlx::query(sql).bind(parent).fetch_optional(&s.db).await {
                Ok(Some(r)) => (r.get::<i64, _>(0), r.get::<i64, _>(1)),
                Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no footer comment {parent}")),
                Err(e) => return db_error(e),
            }
        }
        _ => return error(StatusCode::BAD_REQUEST, "give exactly one of pageId, blogPostId, attachmentId and parentCommentId"),
    };
    let sql = "INSERT INTO content (kind, space_id, page_id, parent_id, body, author_id, created_at) VALUES ('comment', ?, ?, ?, ?, ?, ?) RETURNING id";
    let result = sqlx::query(sql)
        .bind(space)
        .bind(on)
        .bind(c.parent_comment_id)
        .bind(&c.body.value)
        .bind(s.access.admin_account_id())
        .bind(ferry_core::state::now())
        .fetch_one(&s.write)
        .await;
    match result {
        Ok(r) => Json(Created { id: r.get(0) }).into_response(),
        Err(e) => db_error(e),
    }
}

/// Items a v2 list answers when the request names no limit, and at most.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 250;

/// One page of a v2 list (`items` in id order, each with the id its cursor is made of):
/// `limit` from the query (25 by default, at most 250), after the `cursor` given, and a
/// `_links.next` that repeats the query with the next cursor while more follow.
fn cursor_list(items: Vec<(i64, serde_json::Value)>, q: &HashMap<String, String>, path: &str) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => return error(StatusCode::BAD_REQUEST, format!("limit: 1 to {MAX_LIMIT}")),
    };
    let after = match q.get("cursor").map(|c| decode_cursor(c)) {
        None => None,
        Some(Some(after)) => Some(after),
        Some(None) => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
    };
    let mut rest = items.into_iter().filter(|(id, _)| after.is_none_or(|a| *id > a)).peekable();
    let page: Vec<(i64, serde_json::Value)> = rest.by_ref().take(limit).collect();
    let mut links = serde_json::Map::new();
    if let (Some((last, _)), true) = (page.last(), rest.peek().is_some()) {
        let mut query: Vec<(String, String)> = q.iter().filter(|(k, _)| k.as_str() != "cursor").map(|(k, v)| (k.clone(), v.clone())).collect();
        query.sort();
        query.push(("cursor".into(), encode_cursor(*last)));
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect();
        links.insert("next".into(), json!(format!("{path}?{}", query.join("&"))));
    }
    links.insert("base".into(), json!(""));
    Json(json!({"results": page.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "_links": links})).into_response()
}

/// A cursor is opaque to clients: the last id seen, encoded.
fn encode_cursor(after: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{after}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&text).ok()?.strip_prefix("after:")?.parse().ok()
}

/// `text` percent-encoded for a query.
fn percent(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The pages or blog posts of a space, optionally those titled `title` (v2's filter), as
/// `{results, _links}`.
async fn space_content(s: &AppState, kind: &str, space: i64, q: &HashMap<String, String>, path: &str, headers: &axum::http::HeaderMap) -> Response {
    if let Some(status) = q.get("status") {
        if status.split(',').any(|st| !matches!(st, "current" | "archived" | "deleted" | "trashed" | "draft")) {
            return error(StatusCode::BAD_REQUEST, format!("status {status:?}"));
        }
    }
    let sql =
        "SELECT id, title, author_id, created_at, version, parent_id FROM content WHERE space_id = ? AND kind = ? AND (? IS NULL OR title = ?) ORDER BY id";
    let title = q.get("title");
    let rows = match sqlx::query(sql).bind(space).bind(kind).bind(title).bind(title).fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.get(0);
        match can_view(s, id, reader(headers).as_deref()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return db_error(e),
        }
        items.push((
            id,
            json!({"id": id.to_string(), "status": "current", "title": r.get::<Option<String>, _>(1), "spaceId": space.to_string(),
                   "parentId": r.get::<Option<i64>, _>(5).map(|p| p.to_string()), "authorId": r.get::<Option<String>, _>(2),
                   "createdAt": r.get::<Option<String>, _>(3), "version": {"number": r.get::<Option<i64>, _>(4)}}),
        ));
    }
    cursor_list(items, q, path)
}

async fn space_pages(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    space_content(&s, "page", id, &q, uri.path(), &headers).await
}

async fn space_blogposts(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    space_content(&s, "blogpost", id, &q, uri.path(), &headers).await
}

/// The id of the page, blog post or comment a properties path names, if it exists (a
/// comments path names a comment, the others a page or a blog post).
async fn property_owner(s: &AppState, id: i64, path: &str) -> Result<i64, Response> {
    let kinds = if path.starts_with("/wiki/api/v2/comments/") {
        "('comment')"
    } else if path.starts_with("/wiki/api/v2/pages/") {
        "('page')"
    } else {
        "('blogpost')"
    };
    match exists(s, &format!("SELECT 1 FROM content WHERE id = ? AND kind IN {kinds}"), id).await {
        Ok(true) => Ok(id),
        Ok(false) => Err(error(StatusCode::NOT_FOUND, format!("no content {id} here"))),
        Err(r) => Err(r),
    }
}

/// The content properties of a page, blog post or comment (`key` filters), as a v2 list.
async fn list_properties(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>, uri: axum::http::Uri) -> Response {
    if let Err(r) = property_owner(&s, id, uri.path()).await {
        return r;
    }
    let key = q.get("key");
    let sql = "SELECT id, key, value FROM properties WHERE content_id = ? AND (? IS NULL OR key = ?) ORDER BY id";
    match sqlx::query(sql).bind(id).bind(key).bind(key).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|r| {
                    let value: serde_json::Value = serde_json::from_str(&r.get::<String, _>(2)).unwrap_or_default();
                    (r.get::<i64, _>(0), json!({"id": r.get::<i64, _>(0).to_string(), "key": r.get::<String, _>(1), "value": value, "version": {"number": 1}}))
                })
                .collect();
            cursor_list(items, &q, uri.path())
        }
        Err(e) => db_error(e),
    }
}

/// Add a content property: a key the content has already is refused (409), as in Confluence.
async fn add_property(State(s): State<AppState>, Path(id): Path<i64>, uri: axum::http::Uri, Json(p): Json<NewProperty<serde_json::Value>>) -> Response {
    if let Err(r) = property_owner(&s, id, uri.path()).await {
        return r;
    }
    if p.key.is_empty() || p.key.chars().count() > 255 {
        return error(StatusCode::BAD_REQUEST, "a property key is 1-255 characters");
    }
    let value = p.value.to_string();
    if value.len() > 32_768 {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "a property value is at most 32 KB");
    }
    match sqlx::query("INSERT INTO properties (content_id, key, value) VALUES (?, ?, ?) RETURNING id")
        .bind(id)
        .bind(&p.key)
        .bind(&value)
        .fetch_one(&s.write)
        .await
    {
        Ok(r) => Json(json!({"id": r.get::<i64, _>(0).to_string(), "key": p.key, "value": p.value, "version": {"number": 1}})).into_response(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => error(StatusCode::CONFLICT, format!("content {id} has a property {:?}", p.key)),
        Err(e) => db_error(e),
    }
}

/// Comments as a v2 list: id, status, version (author and date) and, for replies, the
/// parent.
async fn comment_list(s: &AppState, sql: &str, id: i64, q: &HashMap<String, String>, path: &str) -> Response {
    match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|r| {
                    let id: i64 = r.get(0);
                    (
                        id,
                        json!({"id": id.to_string(), "status": "current", "parentCommentId": r.get::<Option<i64>, _>(1).map(|p| p.to_string()),
                                "version": {"number": 1, "authorId": r.get::<Option<String>, _>(2), "createdAt": r.get::<Option<String>, _>(3)}}),
                    )
                })
                .collect();
            cursor_list(items, q, path)
        }
        Err(e) => db_error(e),
    }
}

/// The top-level footer comments of a page or blog post.
async fn footer_comments_of(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Err(r) = visible(&s, id, &headers).await {
        return r;
    }
    let sql = "SELECT c.id, c.parent_id, c.author_id, c.created_at FROM content c WHERE c.page_id = ? AND c.kind = 'comment' AND c.parent_id IS NULL \
               AND NOT EXISTS (SELECT 1 FROM inline_anchors a WHERE a.comment_id = c.id) ORDER BY c.id";
    comment_list(&s, sql, id, &q, uri.path()).await
}

/// The comments of an attachment (`att<id>` in the path).
async fn attachment_comments(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<HashMap<String, String>>, uri: axum::http::Uri) -> Response {
    let Some(id) = id.strip_prefix("att").and_then(|n| n.parse::<i64>().ok()) else {
        return error(StatusCode::BAD_REQUEST, format!("attachment id {id:?}: att<number>"));
    };
    let sql =
        "SELECT c.id, c.parent_id, c.author_id, c.created_at FROM content c WHERE c.page_id = ? AND c.kind = 'comment' AND c.parent_id IS NULL ORDER BY c.id";
    comment_list(&s, sql, id, &q, uri.path()).await
}

/// The replies to a comment.
async fn replies(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>, uri: axum::http::Uri) -> Response {
    let sql = "SELECT c.id, c.parent_id, c.author_id, c.created_at FROM content c WHERE c.parent_id = ? AND c.kind = 'comment' ORDER BY c.id";
    comment_list(&s, sql, id, &q, uri.path()).await
}

/// The attachments of a page or blog post (`filename` filters), as v1 answers them.
async fn list_attachments(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(r) = space_of_page(&s, id, StatusCode::NOT_FOUND).await {
        return r;
    }
    let name = q.get("filename");
    let sql = "SELECT id, file_name FROM content WHERE page_id = ? AND kind = 'attachment' AND (? IS NULL OR file_name = ?) ORDER BY id";
    match sqlx::query(sql).bind(id).bind(name).bind(name).fetch_all(&s.db).await {
        Ok(rows) => {
            attachment_array(rows.iter().map(|r| AttachmentSummary { id: r.get(0), kind: "attachment".into(), title: r.get(1), file_size: None }).collect())
        }
        Err(e) => db_error(e),
    }
}

/// `GET /wiki/api/v2/pages/{id}/attachments` (`?filename=`): a page's attachments as v2
/// lists them.
async fn page_attachments(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    attachments_v2(&s, "page", id, &q).await
}

/// `GET /wiki/api/v2/pages/{id}/labels`.
async fn page_labels(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    labels_v2(&s, "page", id, &q).await
}

/// `GET /wiki/api/v2/blogposts/{id}/labels`.
async fn blogpost_labels(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    labels_v2(&s, "blogpost", id, &q).await
}

/// A page's or blog post's labels as v2 lists them (`{id, name, prefix}`, cursor pages).
async fn labels_v2(s: &AppState, kind: &str, id: i64, q: &HashMap<String, String>) -> Response {
    match exists(s, &format!("SELECT 1 FROM content WHERE id = ? AND kind = '{kind}'"), id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no {kind} {id}")),
        Err(r) => return r,
    }
    match sqlx::query("SELECT name FROM labels WHERE content_id = ? ORDER BY name").bind(id).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    let name: String = r.get(0);
                    (n as i64, json!({"id": label_id(&name), "name": name, "prefix": "global"}))
                })
                .collect();
            cursor_list(items, q, &format!("/wiki/api/v2/{kind}s/{id}/labels"))
        }
        Err(e) => db_error(e),
    }
}

/// `GET /wiki/api/v2/blogposts/{id}/attachments`.
async fn blogpost_attachments(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    attachments_v2(&s, "blogpost", id, &q).await
}

async fn attachments_v2(s: &AppState, kind: &str, id: i64, q: &HashMap<String, String>) -> Response {
    match exists(s, &format!("SELECT 1 FROM content WHERE id = ? AND kind = '{kind}'"), id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no {kind} {id}")),
        Err(r) => return r,
    }
    let name = q.get("filename");
    let sql = "SELECT id, file_name, media_type, size FROM content WHERE page_id = ? AND kind = 'attachment' AND (? IS NULL OR file_name = ?) ORDER BY id";
    let owner = if kind == "page" { "pageId" } else { "blogPostId" };
    match sqlx::query(sql).bind(id).bind(name).bind(name).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|r| {
                    let n: i64 = r.get(0);
                    (
                        n,
                        json!({"id": format!("att{n}"), "status": "current", "title": r.get::<String, _>(1), "mediaType": r.get::<Option<String>, _>(2),
                               "fileSize": r.get::<Option<i64>, _>(3), owner: id.to_string(), "version": {"number": 1}}),
                    )
                })
                .collect();
            cursor_list(items, q, &format!("/wiki/api/v2/{kind}s/{id}/attachments"))
        }
        Err(e) => db_error(e),
    }
}

/// `DELETE /wiki/api/v2/attachments/{id}` (`att<n>` or `<n>`): the attachment goes.
async fn delete_attachment(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(n) = id.strip_prefix("att").unwrap_or(&id).parse::<i64>() else { return error(StatusCode::NOT_FOUND, format!("no attachment {id}")) };
    match sqlx::query("DELETE FROM content WHERE id = ? AND kind = 'attachment'").bind(n).execute(&s.write).await {
        Ok(r) if r.rows_affected() == 0 => error(StatusCode::NOT_FOUND, format!("no attachment {id}")),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

/// Attachments as v1's content array (each a content with its type and status).
fn attachment_array(results: Vec<AttachmentSummary>) -> Response {
    let size = results.len() as i64;
    let results: Vec<serde_json::Value> = results
        .iter()
        .map(|a| json!({"id": format!("att{}", a.id), "type": "attachment", "status": "current", "title": a.title, "_expandable": {}, "_links": {}}))
        .collect();
    Json(json!({"results": results, "start": 0, "limit": 50, "size": size, "_links": {}})).into_response()
}

/// Add an attachment to a page or blog post, as v1 takes it: a multipart body with a
/// `file` part and the required `minorEdit` part, sent with `X-Atlassian-Token: nocheck`
/// (403 without, Confluence's XSRF check). A name the page has already is refused (400):
/// a new version of an attachment is another call. Answers a content array.
async fn upload_attachment(State(s): State<AppState>, Path(id): Path<i64>, headers: axum::http::HeaderMap, mut form: Multipart) -> Response {
    // The attachment page documents `nocheck`, the rest of the API `no-check`: both pass.
    if !matches!(headers.get("x-atlassian-token").and_then(|v| v.to_str().ok()), Some("nocheck" | "no-check")) {
        return error(StatusCode::FORBIDDEN, "XSRF check failed: send X-Atlassian-Token: nocheck");
    }
    let space = match space_of_page(&s, id, StatusCode::NOT_FOUND).await {
        Ok(space) => space,
        Err(r) => return r,
    };
    let (mut file, mut minor_edit) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad multipart body: {e}")),
        };
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or("file").to_string();
                let media = field.content_type().unwrap_or("application/octet-stream").to_string();
                match field.bytes().await {
                    Ok(data) => file = Some((name, media, data)),
                    Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad multipart body: {e}")),
                }
            }
            Some("minorEdit") => match field.text().await {
                Ok(text) => minor_edit = Some(text),
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad multipart body: {e}")),
            },
            _ => {}
        }
    }
    let Some((name, media, data)) = file else { return error(StatusCode::BAD_REQUEST, "no `file` part") };
    if !matches!(minor_edit.as_deref(), Some("true" | "false")) {
        return error(StatusCode::BAD_REQUEST, "the minorEdit part is required: true or false");
    }
    let taken =
        sqlx::query("SELECT 1 FROM content WHERE page_id = ? AND kind = 'attachment' AND file_name = ?").bind(id).bind(&name).fetch_optional(&s.write).await;
    match taken {
        Ok(Some(_)) => {
            return error(StatusCode::BAD_REQUEST, format!("Cannot add a new attachment with same file name as an existing attachment: {name}"));
        }
        Ok(None) => {}
        Err(e) => return db_error(e),
    }
    let result = sqlx::query(
        "INSERT INTO content (kind, space_id, page_id, title, file_name, media_type, size, data, author_id, created_at) \
         VALUES ('attachment', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(space)
    .bind(id)
    .bind(&name)
    .bind(&name)
    .bind(&media)
    .bind(data.len() as i64)
    .bind(data.as_ref())
    .bind(s.access.admin_account_id())
    .bind(ferry_core::state::now())
    .fetch_one(&s.write)
    .await;
    match result {
        Ok(r) => attachment_array(vec![AttachmentSummary { id: r.get(0), kind: "attachment".into(), title: name, file_size: None }]),
        Err(e) => db_error(e),
    }
}

/// The attachment `id` (`att<n>` or `<n>`), its row: (page it is on, its space, file
/// name, media type, size, version).
async fn attachment_row(db: &sqlx::SqlitePool, id: &str) -> Result<Option<(i64, i64, i64, String, Option<String>, Option<i64>, i64)>, Response> {
    let Ok(n) = id.strip_prefix("att").unwrap_or(id).parse::<i64>() else { return Ok(None) };
    let sql = "SELECT id, page_id, space_id, file_name, media_type, size, COALESCE(version, 1) FROM content WHERE id = ? AND kind = 'attachment'";
    match sqlx::query(sql).bind(n).fetch_optional(db).await {
        Ok(r) => Ok(r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))),
        Err(e) => Err(db_error(e)),
    }
}

/// `GET /wiki/api/v2/attachments/{id}`.
async fn get_attachment(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let row = match attachment_row(&s.db, &id).await {
        Ok(Some(row)) => row,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no attachment {id}")),
        Err(r) => return r,
    };
    let (n, on, _, title, media, size, version) = row;
    let owner = match sqlx::query_scalar::<_, String>("SELECT kind FROM content WHERE id = ?").bind(on).fetch_optional(&s.db).await {
        Ok(Some(kind)) if kind == "blogpost" => "blogPostId",
        Ok(_) => "pageId",
        Err(e) => return db_error(e),
    };
    Json(json!({"id": format!("att{n}"), "status": "current", "title": title, "mediaType": media, "fileSize": size, owner: on.to_string(), "version": {"number": version}}))
        .into_response()
}

/// `GET /wiki/rest/api/content/{id}/child/attachment/{attachmentId}/download`: the
/// attachment's bytes (a real site redirects to its media service, which a client follows).
async fn download_attachment(State(s): State<AppState>, Path((id, attachment)): Path<(i64, String)>) -> Response {
    let Ok(n) = attachment.strip_prefix("att").unwrap_or(&attachment).parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no attachment {attachment}"));
    };
    let sql = "SELECT data, media_type FROM content WHERE id = ? AND page_id = ? AND kind = 'attachment'";
    match sqlx::query(sql).bind(n).bind(id).fetch_optional(&s.db).await {
        Ok(Some(row)) => {
            let data: Option<Vec<u8>> = row.get(0);
            let media: Option<String> = row.get(1);
            ([(axum::http::header::CONTENT_TYPE, media.unwrap_or_else(|| "application/octet-stream".into()))], data.unwrap_or_default()).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no attachment {attachment} on content {id}")),
        Err(e) => db_error(e),
    }
}

/// What `PUT /wiki/rest/api/content/{id}/child/attachment/{attachmentId}` takes.
#[derive(Debug, serde::Deserialize)]
struct AttachmentUpdate {
    #[serde(rename = "type")]
    kind: String,
    version: VersionNumber,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    container: Option<ContainerRef>,
}

#[derive(Debug, serde::Deserialize)]
struct VersionNumber {
    number: i64,
}

#[derive(Debug, serde::Deserialize)]
struct ContainerRef {
    #[serde(with = "ferry_cloud_wire::string_id")]
    id: i64,
    #[serde(rename = "type")]
    kind: String,
}

/// `PUT /wiki/rest/api/content/{id}/child/attachment/{attachmentId}`: an attachment's
/// properties, as v1 takes them: its next version number, and a new file name (`title`)
/// or page (`container`), which moves it there. A name its page has already is refused
/// (400); a version that is not the next is a 409.
async fn update_attachment(State(s): State<AppState>, Path((id, attachment)): Path<(i64, String)>, Json(u): Json<AttachmentUpdate>) -> Response {
    let row = match attachment_row(&s.write, &attachment).await {
        Ok(Some(row)) if row.1 == id => row,
        Ok(_) => return error(StatusCode::NOT_FOUND, format!("no attachment {attachment} on content {id}")),
        Err(r) => return r,
    };
    let (n, _, _, name, _, _, version) = row;
    if u.kind != "attachment" {
        return error(StatusCode::BAD_REQUEST, "type: attachment");
    }
    if u.version.number != version + 1 {
        return error(StatusCode::CONFLICT, format!("version {} of attachment att{n} is not the next one: it is at version {version}", u.version.number));
    }
    let (to, space) = match &u.container {
        None => (id, None),
        Some(c) if matches!(c.kind.as_str(), "page" | "blogpost") => match space_of_page(&s, c.id, StatusCode::BAD_REQUEST).await {
            Ok(space) => (c.id, Some(space)),
            Err(r) => return r,
        },
        Some(c) => return error(StatusCode::BAD_REQUEST, format!("container type {:?}: page or blogpost", c.kind)),
    };
    let title = u.title.clone().unwrap_or(name);
    let taken = sqlx::query("SELECT 1 FROM content WHERE page_id = ? AND kind = 'attachment' AND file_name = ? AND id <> ?")
        .bind(to)
        .bind(&title)
        .bind(n)
        .fetch_optional(&s.write)
        .await;
    match taken {
        Ok(Some(_)) => {
            return error(StatusCode::BAD_REQUEST, format!("Cannot move or rename the attachment: an attachment named {title:?} is on content {to} already"))
        }
        Ok(None) => {}
        Err(e) => return db_error(e),
    }
    let sql = "UPDATE content SET page_id = ?, space_id = COALESCE(?, space_id), file_name = ?, title = ?, version = ? WHERE id = ?";
    match sqlx::query(sql).bind(to).bind(space).bind(&title).bind(&title).bind(version + 1).bind(n).execute(&s.write).await {
        Ok(_) => Json(json!({"id": format!("att{n}"), "type": "attachment", "status": "current", "title": title, "version": {"number": version + 1},
                             "container": {"id": to.to_string()}, "_expandable": {}, "_links": {}}))
        .into_response(),
        Err(e) => db_error(e),
    }
}

/// `DELETE /wiki/api/v2/pages/{id}`: the page and what is on it go (to the trash, on a
/// site; here, gone).
async fn delete_page(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let deleted = async {
        let mut tx = s.write.begin().await?;
        let gone = sqlx::query("DELETE FROM content WHERE id = ? AND kind = 'page'").bind(id).execute(&mut *tx).await?.rows_affected();
        if gone > 0 {
            sqlx::query("DELETE FROM content WHERE page_id = ? AND kind IN ('attachment', 'comment')").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<u64, sqlx::Error>(gone)
    };
    match deleted.await {
        Ok(0) => error(StatusCode::NOT_FOUND, format!("no page {id}")),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

async fn delete_content(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match sqlx::query("DELETE FROM content WHERE id = ?").bind(id).execute(&s.write).await {
        Ok(r) if r.rows_affected() == 0 => error(StatusCode::NOT_FOUND, format!("no content {id}")),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

async fn add_permission(State(s): State<AppState>, Path(key): Path<String>, Json(p): Json<SpacePermission>) -> Response {
    let space: i64 = match sqlx::query("SELECT id FROM spaces WHERE key = ?").bind(&key).fetch_optional(&s.db).await {
        Ok(Some(r)) => r.get(0),
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no space {key}")),
        Err(e) => return db_error(e),
    };
    if !p.operation.is_valid() {
        return error(StatusCode::BAD_REQUEST, format!("{} on {} is not a space permission", p.operation.key, p.operation.target));
    }
    // The API's subjects are users (an account id, or `anonymous`) and groups.
    let check = match p.subject.kind.as_str() {
        "group" => Some("SELECT 1 FROM groups WHERE name = ?"),
        "user" if p.subject.is_anonymous() => None,
        "user" => Some("SELECT 1 FROM users WHERE id = ?"),
        other => return error(StatusCode::BAD_REQUEST, format!("subject type {other:?} is not one of user, group")),
    };
    // The site admin is an account like any other (not one the directory made).
    let admin = p.subject.kind == "user" && p.subject.identifier == s.access.admin_account_id();
    let mut identifier = p.subject.identifier.clone();
    if p.subject.kind == "group" && group_row(&identifier).is_some() {
        match group_name(&s.db, &identifier).await {
            Ok(Some(name)) => identifier = name,
            Ok(None) => return error(StatusCode::BAD_REQUEST, format!("no group {identifier:?}")),
            Err(e) => return db_error(e),
        }
    }
    if let Some(sql) = check.filter(|_| !admin) {
        match exists(&s, sql, &identifier).await {
            Ok(true) => {}
            Ok(false) => return error(StatusCode::BAD_REQUEST, format!("no {} {:?}", p.subject.kind, p.subject.identifier)),
            Err(r) => return r,
        }
    }
    let result = sqlx::query("INSERT OR IGNORE INTO permissions (space_id, subject_type, identifier, key) VALUES (?, ?, ?, ?)")
        .bind(space)
        .bind(&p.subject.kind)
        .bind(&identifier)
        .bind(format!("{}:{}", p.operation.key, p.operation.target))
        .execute(&s.write)
        .await;
    match result {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => db_error(e),
    }
}

/// `GET /wiki/api/v2/spaces/{id}/permissions`: who may do what in a space, each as
/// `{id, principal: {type, id}, operation: {key, targetType}}` (a group by its id; anyone,
/// signed in or not, as the user `anonymous`), in cursor pages.
async fn space_permissions(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    match exists(&s, "SELECT 1 FROM spaces WHERE id = ?", id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no space {id}")),
        Err(r) => return r,
    }
    let sql = "SELECT p.rowid, p.subject_type, p.identifier, p.key, g.id FROM permissions p \
               LEFT JOIN groups g ON p.subject_type = 'group' AND g.name = p.identifier WHERE p.space_id = ? ORDER BY p.rowid";
    match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|r| {
                    let row: i64 = r.get(0);
                    let kind: String = r.get(1);
                    let principal = match r.get::<Option<i64>, _>(4) {
                        Some(group) => group_id(group),
                        None => r.get(2),
                    };
                    let stored: String = r.get(3);
                    let (key, target) = stored.split_once(':').unwrap_or((stored.as_str(), ""));
                    (row, json!({"id": row.to_string(), "principal": {"type": kind, "id": principal}, "operation": {"key": key, "targetType": target}}))
                })
                .collect();
            cursor_list(items, &q, &format!("/wiki/api/v2/spaces/{id}/permissions"))
        }
        Err(e) => db_error(e),
    }
}

async fn review_users(State(s): State<AppState>) -> Response {
    let sql = "SELECT u.id, u.user_name, u.display_name, u.active, \
               EXISTS (SELECT 1 FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND g.name = ?) AS access, \
               (SELECT group_concat(g.name, ',') FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id AND g.name <> ?) AS groups \
               FROM users u ORDER BY u.id";
    match sqlx::query(sql).bind(PRODUCT_ACCESS_GROUP).bind(PRODUCT_ACCESS_GROUP).fetch_all(&s.db).await {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| {
                    let mut groups: Vec<String> = r.get::<Option<String>, _>(5).map(|g| g.split(',').map(String::from).collect()).unwrap_or_default();
                    groups.sort();
                    json!({"id": r.get::<i64, _>(0).to_string(), "email": r.get::<String, _>(1), "display_name": r.get::<Option<String>, _>(2),
                           "active": r.get::<i64, _>(3) != 0, "product_access": r.get::<i64, _>(4) != 0, "groups": groups})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => db_error(e),
    }
}

async fn review_groups(State(s): State<AppState>) -> Response {
    let sql = "SELECT g.name, g.awaiting_review, (SELECT COUNT(*) FROM memberships m WHERE m.group_id = g.id) FROM groups g ORDER BY g.name";
    match sqlx::query(sql).fetch_all(&s.db).await {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| json!({"name": r.get::<String, _>(0), "awaiting_review": r.get::<i64, _>(1) != 0, "members": r.get::<i64, _>(2)}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => db_error(e),
    }
}

async fn review_spaces(State(s): State<AppState>) -> Response {
    let spaces = match sqlx::query("SELECT id, key, name FROM spaces ORDER BY key").fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let mut out = Vec::new();
    for r in spaces {
        let id: i64 = r.get(0);
        let perms =
            match sqlx::query("SELECT subject_type, identifier, key FROM permissions WHERE space_id = ? ORDER BY 1, 2, 3").bind(id).fetch_all(&s.db).await {
                Ok(p) => p,
                Err(e) => return db_error(e),
            };
        let counts = match sqlx::query("SELECT kind, COUNT(*) FROM content WHERE space_id = ? GROUP BY kind").bind(id).fetch_all(&s.db).await {
            Ok(c) => c,
            Err(e) => return db_error(e),
        };
        let counts: serde_json::Map<String, serde_json::Value> = counts.iter().map(|c| (c.get::<String, _>(0), json!(c.get::<i64, _>(1)))).collect();
        out.push(json!({"id": id, "key": r.get::<String, _>(1), "name": r.get::<String, _>(2), "content": counts,
            "permissions": perms.iter().map(|p| {
                let stored = p.get::<String, _>(2);
                let (key, target) = stored.split_once(':').unwrap_or((stored.as_str(), ""));
                json!({"type": p.get::<String, _>(0), "identifier": p.get::<String, _>(1), "key": key, "target": target})
            }).collect::<Vec<_>>()}));
    }
    Json(out).into_response()
}

/// One page, blog post or comment with its body, whoever may see it.
async fn review_body(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match sqlx::query("SELECT id, kind, title, body FROM content WHERE id = ?").bind(id).fetch_optional(&s.db).await {
        Ok(Some(r)) => Json(
            json!({"id": r.get::<i64, _>(0), "kind": r.get::<String, _>(1), "title": r.get::<Option<String>, _>(2), "body": r.get::<Option<String>, _>(3)}),
        )
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no content {id}")),
        Err(e) => db_error(e),
    }
}

/// Every version of a page or blog post, oldest first, with its title, body and author
/// (display name, or Former User).
async fn review_versions(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    let sql = "SELECT v.number, v.title, v.body, v.author_id, u.display_name, v.created_at, v.message \
               FROM all_versions v LEFT JOIN users u ON u.id = v.author_id WHERE v.content_id = ? ORDER BY v.number";
    match sqlx::query(sql).bind(id).fetch_all(&s.db).await {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| {
                    let author_id: Option<String> = r.get(3);
                    let author = if author_id.is_none() { Some(FORMER_USER.to_string()) } else { r.get::<Option<String>, _>(4) };
                    json!({"number": r.get::<i64, _>(0), "title": r.get::<Option<String>, _>(1), "body": r.get::<Option<String>, _>(2),
                           "author_id": author_id, "author": author, "created_at": r.get::<Option<String>, _>(5), "message": r.get::<Option<String>, _>(6)})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => db_error(e),
    }
}

async fn review_content(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let sql = "SELECT c.id, c.kind, c.parent_id, c.page_id, c.title, c.author_id, u.display_name, c.size, \
                      EXISTS (SELECT 1 FROM restrictions r WHERE r.content_id = c.id AND r.operation = 'read') AS read_restricted, \
                      (NOT EXISTS (SELECT 1 FROM created_private p WHERE p.content_id = c.id) \
                       OR EXISTS (SELECT 1 FROM ever_open o WHERE o.content_id = c.id)) AS ever_open, \
                      (SELECT group_concat(l.name, ',') FROM (SELECT name FROM labels WHERE content_id = c.id ORDER BY name) l) AS labels, \
                      (SELECT COUNT(*) FROM versions v WHERE v.content_id = c.id) + (c.kind IN ('page', 'blogpost')) AS versions, \
                      (SELECT marker_ref FROM inline_anchors a WHERE a.comment_id = c.id) AS marker_ref, \
                      (SELECT value FROM properties p WHERE p.content_id = c.id AND p.key = ?) AS origin \
               FROM content c JOIN spaces s ON s.id = c.space_id LEFT JOIN users u ON u.id = c.author_id \
               WHERE s.key = ? ORDER BY c.id";
    let names = match display_names(&s).await {
        Ok(names) => names,
        Err(e) => return db_error(e),
    };
    match sqlx::query(sql).bind(ORIGIN_PROPERTY).bind(&key).fetch_all(&s.db).await {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| {
                    let kind: String = r.get(1);
                    let origin: Option<Origin> = r.get::<Option<String>, _>(13).and_then(|o| serde_json::from_str(&o).ok());
                    // The author it reads as: its origin's creator (Former User without a
                    // cloud account), else the account that created it.
                    let author = match (kind.as_str(), &origin) {
                        ("attachment", _) => None,
                        (_, Some(origin)) => Some(origin_author(origin.creator.as_ref(), &names)),
                        (_, None) => r.get::<Option<String>, _>(6),
                    };
                    let read_restricted = r.get::<bool, _>(8);
                    // Restricted now, yet open at some moment since it was created.
                    let opened_before_restricted = read_restricted && r.get::<bool, _>(9);
                    json!({"id": r.get::<i64, _>(0), "kind": kind, "parent_id": r.get::<Option<i64>, _>(2), "page_id": r.get::<Option<i64>, _>(3),
                           "title": r.get::<Option<String>, _>(4), "author": author, "size": r.get::<Option<i64>, _>(7),
                           "read_restricted": read_restricted, "opened_before_restricted": opened_before_restricted,
                           "labels": r.get::<Option<String>, _>(10).map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>()).unwrap_or_default(),
                           "versions": r.get::<i64, _>(11), "inline_marker_ref": r.get::<Option<String>, _>(12), "origin": origin,
                           "author_id": r.get::<Option<String>, _>(5)})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => db_error(e),
    }
}

/// Display names by account id.
async fn display_names(s: &AppState) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, COALESCE(display_name, user_name) FROM users").fetch_all(&s.db).await?;
    Ok(rows.iter().map(|r| (r.get::<i64, _>(0).to_string(), r.get::<String, _>(1))).collect())
}

/// Who an origin names, for a reviewer: the display name of their cloud account, else
/// Former User.
fn origin_author(person: Option<&OriginPerson>, names: &HashMap<String, String>) -> String {
    person.and_then(|p| p.account_id.as_ref()).and_then(|a| names.get(a)).cloned().unwrap_or_else(|| FORMER_USER.to_string())
}

async fn review_transfer(State(s): State<AppState>, Path(transfer): Path<String>) -> Response {
    match sqlx::query("SELECT label, length(data), data FROM app_uploads WHERE transfer_id = ? ORDER BY n").bind(&transfer).fetch_all(&s.db).await {
        Ok(rows) => Json(
            rows.iter()
                .map(|r| json!({"label": r.get::<String, _>(0), "bytes": r.get::<i64, _>(1), "data": String::from_utf8_lossy(&r.get::<Vec<u8>, _>(2))}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => db_error(e),
    }
}
