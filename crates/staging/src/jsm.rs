//! The staging site's Jira Service Management API: accounts of both types, customers,
//! organizations, service projects and desks, requests with participants and comments,
//! and the record of every notification the site would have sent.
//!
//! Full accounts are the SCIM users (account id: the SCIM id); customer accounts live
//! in `customers` (account id `qm:<id>`). An email belongs to at most one customer and
//! one full account: creating a customer whose email has either answers `409`, while a
//! full account may be created for a customer's email (the cloud then has both).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sqlx::Row;

use super::{db_error, error, AppState};
use ferry_cloud_wire::*;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/rest/servicedeskapi/customer", post(create_customer))
        .route("/rest/api/3/user/search", get(search_accounts))
        .route("/rest/api/3/user", get(get_account))
        .route("/rest/servicedeskapi/organization", get(list_organizations).post(create_organization))
        .route("/rest/servicedeskapi/organization/{id}/user", get(organization_members).post(add_organization_members))
        .route("/rest/api/3/project", post(create_project))
        .route("/rest/api/3/project/{key}", get(get_project))
        .route("/rest/servicedeskapi/servicedesk", get(list_service_desks))
        .route("/rest/servicedeskapi/servicedesk/{id}/customer", get(desk_customers).post(add_desk_customers))
        .route("/rest/servicedeskapi/servicedesk/{id}/organization", post(add_desk_organization))
        .route("/rest/servicedeskapi/request", get(list_requests).post(create_request))
        .route("/rest/servicedeskapi/request/{key}", get(get_request))
        .route("/rest/servicedeskapi/request/{key}/comment", get(request_comments).post(add_request_comment))
        .route("/rest/servicedeskapi/request/{key}/participant", get(request_participants))
        .route("/rest/servicedeskapi/servicedesk/{id}/requesttype", get(request_types))
        .route("/rest/api/3/issue/{key}", axum::routing::put(edit_issue))
        .route("/rest/api/3/issue/{key}/transitions", get(transitions).post(take_transition))
        .route("/rest/api/3/issue/{key}/properties/{property}", get(issue_property).put(set_issue_property))
        .route("/rest/api/3/comment/{id}/properties/{property}", get(comment_property).put(set_comment_property))
        .route("/rest/api/3/project/{key}/properties/{property}", get(project_property).put(set_project_property))
        .route("/rest/api/3/field", get(fields))
        .route("/ferry/v1/review/notifications", get(review_notifications))
}

type Q = Query<HashMap<String, String>>;

/// Record a notification the site sends to each of `recipients` but `actor` (a site
/// does not tell people what they did themselves). A migration must never cause one.
async fn notify(db: &sqlx::SqlitePool, event: &str, recipients: &[String], actor: &str) -> Result<(), sqlx::Error> {
    for recipient in recipients.iter().filter(|r| r.as_str() != actor) {
        sqlx::query("INSERT INTO notifications (event, recipient, at) VALUES (?, ?, ?)")
            .bind(event)
            .bind(recipient)
            .bind(ferry_core::state::now())
            .execute(db)
            .await?;
    }
    Ok(())
}

/// `start` and `limit` of a paged list (limit 1–100, default 50).
fn paging(q: &HashMap<String, String>) -> (i64, i64) {
    let start = q.get("start").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0).max(0);
    let limit = q.get("limit").and_then(|s| s.parse::<i64>().ok()).unwrap_or(50).clamp(1, 100);
    (start, limit)
}

fn page<T: serde::Serialize>(values: Vec<T>, start: i64, limit: i64, total: i64) -> Response {
    let size = values.len() as u64;
    Json(Paged { start: start as u64, limit: limit as u64, size, is_last_page: start + size as i64 >= total, values }).into_response()
}

fn customer_account(r: &sqlx::sqlite::SqliteRow) -> Account {
    Account {
        account_id: format!("qm:{}", r.get::<i64, _>("id")),
        account_type: ACCOUNT_CUSTOMER.into(),
        email_address: r.get("email"),
        display_name: r.get("display_name"),
        active: r.get::<i64, _>("active") != 0,
    }
}

fn full_account(r: &sqlx::sqlite::SqliteRow) -> Account {
    Account {
        account_id: r.get::<i64, _>("id").to_string(),
        account_type: ACCOUNT_FULL.into(),
        email_address: r.get("email"),
        display_name: r.get::<Option<String>, _>("display_name").unwrap_or_default(),
        active: r.get::<i64, _>("active") != 0,
    }
}

/// An account as Service Management answers it (its `UserDTO` has no account type; the
/// platform API's user answers do).
fn desk_user(account: Account) -> Account {
    Account { account_type: String::new(), ..account }
}

/// The account `id` (`qm:<n>` a customer, `<n>` a full account), if it exists.
async fn account(db: &sqlx::SqlitePool, id: &str) -> Result<Option<Account>, sqlx::Error> {
    if let Some(n) = id.strip_prefix("qm:").and_then(|n| n.parse::<i64>().ok()) {
        let row = sqlx::query("SELECT * FROM customers WHERE id = ?").bind(n).fetch_optional(db).await?;
        return Ok(row.as_ref().map(customer_account));
    }
    let Ok(n) = id.parse::<i64>() else { return Ok(None) };
    let row = sqlx::query("SELECT * FROM users WHERE id = ?").bind(n).fetch_optional(db).await?;
    Ok(row.as_ref().map(full_account))
}

/// The accounts of `ids` that exist, by id: one query for customers, one for full
/// accounts, whatever the number of ids.
async fn accounts_by_id(db: &sqlx::SqlitePool, ids: &[&str]) -> Result<HashMap<String, Account>, sqlx::Error> {
    let mut customers = Vec::new();
    let mut full = Vec::new();
    for id in ids {
        match id.strip_prefix("qm:") {
            Some(n) => customers.extend(n.parse::<i64>().ok()),
            None => full.extend(id.parse::<i64>().ok()),
        }
    }
    let mut found = HashMap::with_capacity(ids.len());
    for (table, numbers) in [("customers", customers), ("users", full)] {
        for chunk in numbers.chunks(500) {
            let sql = format!("SELECT * FROM {table} WHERE id IN ({})", vec!["?"; chunk.len()].join(", "));
            let mut query = sqlx::query(&sql);
            for n in chunk {
                query = query.bind(n);
            }
            for row in query.fetch_all(db).await? {
                let account = if table == "customers" { customer_account(&row) } else { full_account(&row) };
                found.insert(account.account_id.clone(), account);
            }
        }
    }
    Ok(found)
}

/// The accounts `ids` (each with the field that names it), or a `400` naming the first
/// that does not exist.
async fn accounts_named(s: &AppState, db: &sqlx::SqlitePool, named: &[(&str, &str)]) -> Result<HashMap<String, Account>, Response> {
    let me = s.access.admin_account_id();
    let ids: Vec<&str> = named.iter().map(|(_, id)| *id).filter(|id| *id != me).collect();
    let mut found = accounts_by_id(db, &ids).await.map_err(db_error)?;
    // The site admin is an account like any other (not one the directory made).
    if named.iter().any(|(_, id)| *id == me) {
        found.insert(me.clone(), migrating_account(s));
    }
    match named.iter().find(|(_, id)| !found.contains_key(*id)) {
        Some((role, id)) => Err(error(StatusCode::BAD_REQUEST, format!("{role}: no account {id:?} on this site"))),
        None => Ok(found),
    }
}

/// The accounts `ids` in order, or a `400` naming the first that does not exist.
async fn accounts(s: &AppState, db: &sqlx::SqlitePool, ids: &[String], role: &str) -> Result<Vec<Account>, Response> {
    let named: Vec<(&str, &str)> = ids.iter().map(|id| (role, id.as_str())).collect();
    let found = accounts_named(s, db, &named).await?;
    Ok(ids.iter().map(|id| found[id].clone()).collect())
}

async fn accounts_with_email(db: &sqlx::SqlitePool, email: &str) -> Result<Vec<Account>, sqlx::Error> {
    let mut out: Vec<Account> = sqlx::query("SELECT * FROM users WHERE email = ? COLLATE NOCASE OR user_name = ? COLLATE NOCASE ORDER BY id")
        .bind(email)
        .bind(email)
        .fetch_all(db)
        .await?
        .iter()
        .map(full_account)
        .collect();
    out.extend(sqlx::query("SELECT * FROM customers WHERE email = ? COLLATE NOCASE").bind(email).fetch_all(db).await?.iter().map(customer_account));
    Ok(out)
}

async fn create_customer(State(s): State<AppState>, q: Q, Json(c): Json<NewCustomer>) -> Response {
    let email = c.email.trim();
    let valid = email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace));
    if !valid {
        return error(StatusCode::BAD_REQUEST, format!("email: {email:?} is not an email address"));
    }
    match accounts_with_email(&s.db, email).await {
        Ok(existing) if !existing.is_empty() => {
            let kinds: Vec<&str> = existing.iter().map(|a| a.account_type.as_str()).collect();
            // 409 only for a caller that asks for it; 400 otherwise, as Service Management answers.
            let strict = q.get("strictConflictStatusCode").is_some_and(|v| v == "true");
            let status = if strict { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
            return error(status, format!("An account already exists for this email: {email} ({})", kinds.join(", ")));
        }
        Ok(_) => {}
        Err(e) => return db_error(e),
    }
    let display = if c.display_name.trim().is_empty() { email.to_string() } else { c.display_name.clone() };
    let row = sqlx::query("INSERT INTO customers (email, display_name, created_at) VALUES (?, ?, ?) RETURNING *")
        .bind(email)
        .bind(display)
        .bind(ferry_core::state::now())
        .fetch_one(&s.write)
        .await;
    match row {
        Ok(row) => {
            let created = desk_user(customer_account(&row));
            (StatusCode::CREATED, Json(created)).into_response()
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => error(StatusCode::CONFLICT, format!("an account with email {email} exists (customer)")),
        Err(e) => db_error(e),
    }
}

async fn search_accounts(State(s): State<AppState>, q: Q) -> Response {
    let Some(query) = q.get("query").map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "query: give the email to look for");
    };
    match accounts_with_email(&s.db, query).await {
        Ok(mut found) => {
            // The site admin is an account like any other, found by its email.
            if query.eq_ignore_ascii_case(&s.access.email) {
                found.insert(0, migrating_account(&s));
            }
            Json(found).into_response()
        }
        Err(e) => db_error(e),
    }
}

async fn get_account(State(s): State<AppState>, q: Q) -> Response {
    let Some(id) = q.get("accountId") else { return error(StatusCode::BAD_REQUEST, "accountId: required") };
    if *id == s.access.admin_account_id() {
        return Json(migrating_account(&s)).into_response();
    }
    match account(&s.db, id).await {
        Ok(Some(a)) => Json(a).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no account {id:?}")),
        Err(e) => db_error(e),
    }
}

async fn list_organizations(State(s): State<AppState>, q: Q) -> Response {
    let (start, limit) = paging(&q);
    let total: i64 = match sqlx::query_scalar("SELECT COUNT(*) FROM jsm_organizations").fetch_one(&s.db).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    match sqlx::query("SELECT id, name FROM jsm_organizations ORDER BY id LIMIT ? OFFSET ?").bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(rows) => page(rows.iter().map(|r| Organization { id: r.get::<i64, _>(0).to_string(), name: r.get(1) }).collect(), start, limit, total),
        Err(e) => db_error(e),
    }
}

async fn create_organization(State(s): State<AppState>, Json(o): Json<Organization>) -> Response {
    let name = o.name.trim();
    if name.is_empty() {
        return error(StatusCode::BAD_REQUEST, "name: an organization needs a name");
    }
    match sqlx::query("INSERT INTO jsm_organizations (name) VALUES (?) RETURNING id").bind(name).fetch_one(&s.write).await {
        Ok(r) => (StatusCode::CREATED, Json(Organization { id: r.get::<i64, _>(0).to_string(), name: name.to_string() })).into_response(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => error(StatusCode::CONFLICT, format!("an organization named {name:?} exists")),
        Err(e) => db_error(e),
    }
}

/// An id in a path that must name a row of `table`.
async fn existing(db: &sqlx::SqlitePool, table: &str, id: &str, what: &str) -> Result<i64, Response> {
    let Ok(n) = id.parse::<i64>() else { return Err(error(StatusCode::NOT_FOUND, format!("no {what} {id:?}"))) };
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = ?");
    match sqlx::query_scalar::<_, i64>(&sql).bind(n).fetch_one(db).await {
        Ok(1) => Ok(n),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, format!("no {what} {id}"))),
        Err(e) => Err(db_error(e)),
    }
}

async fn add_organization_members(State(s): State<AppState>, Path(id): Path<String>, Json(body): Json<AccountIds>) -> Response {
    let org = match existing(&s.db, "jsm_organizations", &id, "organization").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    add_accounts(&s, "INSERT OR IGNORE INTO jsm_organization_members (organization_id, account_id) VALUES (?, ?)", org, &body.account_ids).await
}

/// Add accounts (which must exist) to an organization or a desk (nobody is told).
async fn add_accounts(s: &AppState, sql: &str, owner: i64, ids: &[String]) -> Response {
    if ids.len() > 50 {
        return error(StatusCode::BAD_REQUEST, "accountIds: at most 50 per request");
    }
    if let Err(r) = accounts(s, &s.db, ids, "accountIds").await {
        return r;
    }
    for account in ids {
        if let Err(e) = sqlx::query(sql).bind(owner).bind(account).execute(&s.write).await {
            return db_error(e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Accounts listed by `sql` (one column of account ids), as a page.
async fn account_page(s: &AppState, q: &HashMap<String, String>, sql: &str, owner: i64) -> Response {
    let (start, limit) = paging(q);
    let ids: Vec<String> = match sqlx::query_scalar(sql).bind(owner).fetch_all(&s.db).await {
        Ok(ids) => ids,
        Err(e) => return db_error(e),
    };
    let total = ids.len() as i64;
    let chosen: Vec<String> = ids.into_iter().skip(start as usize).take(limit as usize).collect();
    match accounts(s, &s.db, &chosen, "member").await {
        Ok(list) => page(list.into_iter().map(desk_user).collect(), start, limit, total),
        Err(r) => r,
    }
}

async fn organization_members(State(s): State<AppState>, Path(id): Path<String>, q: Q) -> Response {
    match existing(&s.db, "jsm_organizations", &id, "organization").await {
        Ok(org) => account_page(&s, &q, "SELECT account_id FROM jsm_organization_members WHERE organization_id = ? ORDER BY account_id", org).await,
        Err(r) => r,
    }
}

fn project_json(r: &sqlx::sqlite::SqliteRow) -> Project {
    Project { id: r.get::<i64, _>("id").to_string(), key: r.get("key"), name: r.get("name"), project_type_key: r.get("type") }
}

async fn create_project(State(s): State<AppState>, headers: axum::http::HeaderMap, Json(p): Json<NewProject>) -> Response {
    let key_ok = p.key.len() <= 10
        && p.key.starts_with(|c: char| c.is_ascii_uppercase())
        && p.key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        return error(
            StatusCode::BAD_REQUEST,
            format!("key: {:?} is not a project key (an upper-case letter, then up to 9 upper-case letters, digits or _)", p.key),
        );
    }
    if !["service_desk", "software", "business"].contains(&p.project_type_key.as_str()) {
        return error(StatusCode::BAD_REQUEST, format!("projectTypeKey: {:?} is not service_desk, software or business", p.project_type_key));
    }
    if let Some(lead) = &p.lead_account_id {
        if let Err(r) = accounts(&s, &s.db, std::slice::from_ref(lead), "leadAccountId").await {
            return r;
        }
    }
    let mut tx = match s.write.begin().await {
        Ok(tx) => tx,
        Err(e) => return db_error(e),
    };
    let row = sqlx::query("INSERT INTO jsm_projects (key, name, type, lead_account_id) VALUES (?, ?, ?, ?) RETURNING *")
        .bind(&p.key)
        .bind(&p.name)
        .bind(&p.project_type_key)
        .bind(&p.lead_account_id)
        .fetch_one(&mut *tx)
        .await;
    let row = match row {
        Ok(row) => row,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return error(StatusCode::CONFLICT, format!("a project with key {} exists", p.key)),
        Err(e) => return db_error(e),
    };
    if p.project_type_key == "service_desk" {
        // A service project's desk comes with the default request types.
        let desk = sqlx::query_scalar::<_, i64>("INSERT INTO jsm_service_desks (project_id) VALUES (?) RETURNING id")
            .bind(row.get::<i64, _>("id"))
            .fetch_one(&mut *tx)
            .await;
        let desk = match desk {
            Ok(desk) => desk,
            Err(e) => return db_error(e),
        };
        for name in ["Get IT help", "Ask a question", "Report a bug"] {
            if let Err(e) = sqlx::query("INSERT INTO jsm_request_types (desk_id, name) VALUES (?, ?)").bind(desk).bind(name).execute(&mut *tx).await {
                return db_error(e);
            }
        }
    }
    if let Err(e) = tx.commit().await {
        return db_error(e);
    }
    // A create answers the project's identifiers, its id a number.
    let id: i64 = row.get("id");
    let key: String = row.get("key");
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    (StatusCode::CREATED, Json(serde_json::json!({"id": id, "key": key, "self": format!("http://{host}/rest/api/3/project/{id}")}))).into_response()
}

async fn get_project(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    match sqlx::query("SELECT * FROM jsm_projects WHERE key = ?").bind(&key).fetch_optional(&s.db).await {
        Ok(Some(r)) => Json(project_json(&r)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no project {key}")),
        Err(e) => db_error(e),
    }
}

async fn list_service_desks(State(s): State<AppState>, q: Q) -> Response {
    let (start, limit) = paging(&q);
    let total: i64 = match sqlx::query_scalar("SELECT COUNT(*) FROM jsm_service_desks").fetch_one(&s.db).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    let sql = "SELECT d.id, p.id, p.key, p.name FROM jsm_service_desks d JOIN jsm_projects p ON p.id = d.project_id ORDER BY d.id LIMIT ? OFFSET ?";
    match sqlx::query(sql).bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(rows) => page(
            rows.iter()
                .map(|r| ServiceDesk {
                    id: r.get::<i64, _>(0).to_string(),
                    project_id: r.get::<i64, _>(1).to_string(),
                    project_key: r.get(2),
                    project_name: r.get(3),
                })
                .collect(),
            start,
            limit,
            total,
        ),
        Err(e) => db_error(e),
    }
}

async fn add_desk_customers(State(s): State<AppState>, Path(id): Path<String>, Json(body): Json<AccountIds>) -> Response {
    let desk = match existing(&s.db, "jsm_service_desks", &id, "service desk").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    add_accounts(&s, "INSERT OR IGNORE INTO jsm_desk_customers (desk_id, account_id) VALUES (?, ?)", desk, &body.account_ids).await
}

async fn desk_customers(State(s): State<AppState>, Path(id): Path<String>, q: Q) -> Response {
    match existing(&s.db, "jsm_service_desks", &id, "service desk").await {
        Ok(desk) => account_page(&s, &q, "SELECT account_id FROM jsm_desk_customers WHERE desk_id = ? ORDER BY account_id", desk).await,
        Err(r) => r,
    }
}

async fn add_desk_organization(State(s): State<AppState>, Path(id): Path<String>, Json(body): Json<OrganizationRef>) -> Response {
    let desk = match existing(&s.db, "jsm_service_desks", &id, "service desk").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let org = match existing(&s.db, "jsm_organizations", &body.organization_id, "organization").await {
        Ok(n) => n,
        Err(_) => return error(StatusCode::BAD_REQUEST, format!("organizationId: no organization {:?}", body.organization_id)),
    };
    match sqlx::query("INSERT OR IGNORE INTO jsm_desk_organizations (desk_id, organization_id) VALUES (?, ?)").bind(desk).bind(org).execute(&s.write).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

/// The statuses of the staging site's service workflow: any status leads to any other
/// (each transition is named for the status it leads to). "Open" is not one of them, as
/// on a Cloud site's default service workflow.
const WORKFLOW: [&str; 8] = ["Waiting for support", "Waiting for customer", "In Progress", "Pending", "Escalated", "Resolved", "Canceled", "Closed"];

/// The id of the participants field.
const PARTICIPANTS_FIELD: &str = "customfield_10010";

/// Raise a request: by the signed-in account, or on behalf of `raiseOnBehalfOf` (who is
/// told, with the participants). It gets the project's next key and the workflow's first
/// status, now.
async fn create_request(State(s): State<AppState>, Json(r): Json<NewRequest>) -> Response {
    let desk_key = match r.service_desk_id.parse::<i64>() {
        Ok(desk) => sqlx::query_scalar::<_, String>("SELECT p.key FROM jsm_service_desks d JOIN jsm_projects p ON p.id = d.project_id WHERE d.id = ?")
            .bind(desk)
            .fetch_optional(&s.write)
            .await
            .map(|key| key.map(|k| (desk, k))),
        Err(_) => Ok(None),
    };
    let (desk, project_key) = match desk_key {
        Ok(Some(found)) => found,
        Ok(None) => return error(StatusCode::BAD_REQUEST, format!("serviceDeskId: no service desk {:?}", r.service_desk_id)),
        Err(e) => return db_error(e),
    };
    match sqlx::query("SELECT 1 FROM jsm_request_types WHERE desk_id = ? AND CAST(id AS TEXT) = ?")
        .bind(desk)
        .bind(&r.request_type_id)
        .fetch_optional(&s.db)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::BAD_REQUEST, format!("requestTypeId: no request type {:?} in service desk {desk}", r.request_type_id)),
        Err(e) => return db_error(e),
    }
    if r.request_field_values.summary.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "requestFieldValues.summary: a request needs a summary");
    }
    let me = s.access.admin_account_id();
    let reporter = r.raise_on_behalf_of.clone().unwrap_or_else(|| me.clone());
    let named: Vec<(&str, &str)> = r
        .raise_on_behalf_of
        .iter()
        .map(|a| ("raiseOnBehalfOf", a.as_str()))
        .chain(r.request_participants.iter().map(|p| ("requestParticipants", p.as_str())))
        .collect();
    if let Err(resp) = accounts_named(&s, &s.write, &named).await {
        return resp;
    }
    let mut tx = match s.write.begin().await {
        Ok(tx) => tx,
        Err(e) => return db_error(e),
    };
    let next: i64 = match sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM jsm_requests WHERE desk_id = ?").bind(desk).fetch_one(&mut *tx).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    let key = format!("{project_key}-{next}");
    let inserted = sqlx::query(
        "INSERT INTO jsm_requests (desk_id, key, number, summary, description, status, created, reporter, creator, request_type_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(desk)
    .bind(&key)
    .bind(next)
    .bind(&r.request_field_values.summary)
    .bind(&r.request_field_values.description)
    .bind(WORKFLOW[0])
    .bind(ferry_core::state::now())
    .bind(&reporter)
    .bind(&me)
    .bind(&r.request_type_id)
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(e) => return db_error(e),
    };
    if let Err(e) = set_participants(&mut tx, id, &r.request_participants).await {
        return db_error(e);
    }
    if let Err(e) = tx.commit().await {
        return db_error(e);
    }
    let mut told = vec![reporter];
    told.extend(r.request_participants.iter().cloned());
    if let Err(e) = notify(&s.write, "request.created", &told, &me).await {
        return db_error(e);
    }
    match request_json(&s, &s.write, id).await {
        Ok(Some(created)) => (StatusCode::CREATED, Json(created)).into_response(),
        Ok(None) => error(StatusCode::INTERNAL_SERVER_ERROR, "the request vanished"),
        Err(e) => db_error(e),
    }
}

/// Replace a request's participants (one named twice is one participant).
async fn set_participants(tx: &mut sqlx::SqliteConnection, id: i64, participants: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM jsm_participants WHERE request_id = ?").bind(id).execute(&mut *tx).await?;
    let mut unique: Vec<&String> = Vec::with_capacity(participants.len());
    for p in participants {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    for (position, p) in unique.iter().enumerate() {
        sqlx::query("INSERT INTO jsm_participants (request_id, position, account_id) VALUES (?, ?, ?)")
            .bind(id)
            .bind(position as i64)
            .bind(*p)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The reporter and participants of a request.
async fn people_of(db: &sqlx::SqlitePool, id: i64) -> Result<Vec<String>, sqlx::Error> {
    let mut people = vec![sqlx::query_scalar::<_, String>("SELECT reporter FROM jsm_requests WHERE id = ?").bind(id).fetch_one(db).await?];
    people.extend(
        sqlx::query_scalar::<_, String>("SELECT account_id FROM jsm_participants WHERE request_id = ? ORDER BY position").bind(id).fetch_all(db).await?,
    );
    Ok(people)
}

/// The request types of a service desk.
async fn request_types(State(s): State<AppState>, Path(id): Path<String>, q: Q) -> Response {
    let desk = match existing(&s.db, "jsm_service_desks", &id, "service desk").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let (start, limit) = paging(&q);
    match sqlx::query("SELECT id, name FROM jsm_request_types WHERE desk_id = ? ORDER BY id").bind(desk).fetch_all(&s.db).await {
        Ok(rows) => {
            let total = rows.len() as i64;
            let values: Vec<RequestType> =
                rows.iter().skip(start as usize).take(limit as usize).map(|r| RequestType { id: r.get::<i64, _>(0).to_string(), name: r.get(1) }).collect();
            page(values, start, limit, total)
        }
        Err(e) => db_error(e),
    }
}

/// Add a comment to a request, by the signed-in account, now: a public one tells the
/// reporter and participants.
async fn add_request_comment(State(s): State<AppState>, Path(key): Path<String>, Json(c): Json<NewRequestComment>) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => return db_error(e),
    };
    if c.body.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "body: a comment needs text");
    }
    let me = s.access.admin_account_id();
    let now = ferry_core::state::now();
    let inserted = sqlx::query_scalar::<_, i64>("INSERT INTO jsm_comments (request_id, body, public, author, created) VALUES (?, ?, ?, ?, ?) RETURNING id")
        .bind(id)
        .bind(&c.body)
        .bind(c.public)
        .bind(&me)
        .bind(&now)
        .fetch_one(&s.write)
        .await;
    let comment = match inserted {
        Ok(comment) => comment,
        Err(e) => return db_error(e),
    };
    if c.public {
        let told = match people_of(&s.write, id).await {
            Ok(people) => people,
            Err(e) => return db_error(e),
        };
        if let Err(e) = notify(&s.write, "comment.created", &told, &me).await {
            return db_error(e);
        }
    }
    let author = desk_user(migrating_account(&s));
    (StatusCode::CREATED, Json(RequestComment { id: comment.to_string(), body: c.body, public: c.public, author, created: Some(now) })).into_response()
}

/// An account by id: the signed-in account too (it is not a SCIM user or a customer).
async fn known_account(s: &AppState, db: &sqlx::SqlitePool, id: &str) -> Result<Account, sqlx::Error> {
    if id == s.access.admin_account_id() {
        return Ok(migrating_account(s));
    }
    Ok(account(db, id).await?.unwrap_or(Account {
        account_id: id.to_string(),
        account_type: ACCOUNT_CUSTOMER.into(),
        email_address: None,
        display_name: String::new(),
        active: false,
    }))
}

/// The signed-in account as Jira shows it.
fn migrating_account(s: &AppState) -> Account {
    Account {
        account_id: s.access.admin_account_id(),
        account_type: ACCOUNT_FULL.into(),
        email_address: Some(s.access.email.clone()),
        display_name: "Site admin".into(),
        active: true,
    }
}

/// Change an issue's reporter and participants. The people it then names are told,
/// unless `notifyUsers=false` (which the site admin may ask for).
async fn edit_issue(State(s): State<AppState>, Path(key): Path<String>, q: Q, Json(edit): Json<IssueEdit>) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")),
        Err(e) => return db_error(e),
    };
    let account_of = |v: &serde_json::Value| v.get("accountId").and_then(|a| a.as_str()).map(str::to_string);
    let mut reporter = None;
    let mut participants = None;
    for (field, value) in &edit.fields {
        match field.as_str() {
            "reporter" => match account_of(value) {
                Some(a) => reporter = Some(a),
                None => return error(StatusCode::BAD_REQUEST, "reporter: give {\"accountId\": ...}"),
            },
            PARTICIPANTS_FIELD => match value.as_array().map(|a| a.iter().map(account_of).collect::<Option<Vec<String>>>()) {
                Some(Some(list)) => participants = Some(list),
                _ => return error(StatusCode::BAD_REQUEST, format!("{PARTICIPANTS_FIELD}: give [{{\"accountId\": ...}}, ...]")),
            },
            other => return error(StatusCode::BAD_REQUEST, format!("Field '{other}' cannot be set. It is not on the appropriate screen, or unknown.")),
        }
    }
    let me = s.access.admin_account_id();
    let mut named: Vec<(&str, &str)> = reporter.iter().map(|r| ("reporter", r.as_str())).collect();
    named.extend(participants.iter().flatten().map(|p| (PARTICIPANTS_FIELD, p.as_str())));
    if let Err(resp) = accounts_named(&s, &s.write, &named).await {
        return resp;
    }
    let changed = async {
        let mut tx = s.write.begin().await?;
        if let Some(reporter) = &reporter {
            sqlx::query("UPDATE jsm_requests SET reporter = ? WHERE id = ?").bind(reporter).bind(id).execute(&mut *tx).await?;
        }
        if let Some(participants) = &participants {
            set_participants(&mut tx, id, participants).await?;
        }
        tx.commit().await
    };
    if let Err(e) = changed.await {
        return db_error(e);
    }
    if q.get("notifyUsers").is_none_or(|v| v != "false") {
        let told = match people_of(&s.write, id).await {
            Ok(people) => people,
            Err(e) => return db_error(e),
        };
        if let Err(e) = notify(&s.write, "issue.updated", &told, &me).await {
            return db_error(e);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The transitions a request can take: to every other status of the workflow.
async fn transitions(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let status: Option<String> =
        match sqlx::query_scalar("SELECT status FROM jsm_requests WHERE key = ? OR CAST(id AS TEXT) = ?").bind(&key).bind(&key).fetch_optional(&s.db).await {
            Ok(status) => status,
            Err(e) => return db_error(e),
        };
    let Some(status) = status else { return error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")) };
    let transitions: Vec<Transition> = WORKFLOW
        .iter()
        .enumerate()
        .filter(|(_, name)| **name != status)
        .map(|(n, name)| Transition { id: (11 + n).to_string(), name: name.to_string(), to: StatusRef { name: name.to_string() } })
        .collect();
    Json(Transitions { transitions }).into_response()
}

/// Take a transition: the request moves to its status, and its people are told.
async fn take_transition(State(s): State<AppState>, Path(key): Path<String>, Json(t): Json<DoTransition>) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")),
        Err(e) => return db_error(e),
    };
    let Some(to) = t.transition.id.parse::<usize>().ok().and_then(|n| n.checked_sub(11)).and_then(|n| WORKFLOW.get(n)) else {
        return error(StatusCode::BAD_REQUEST, format!("Transition id '{}' is not valid for this issue.", t.transition.id));
    };
    if let Err(e) = sqlx::query("UPDATE jsm_requests SET status = ? WHERE id = ?").bind(to).bind(id).execute(&s.write).await {
        return db_error(e);
    }
    let told = match people_of(&s.write, id).await {
        Ok(people) => people,
        Err(e) => return db_error(e),
    };
    if let Err(e) = notify(&s.write, "request.transitioned", &told, &s.access.admin_account_id()).await {
        return db_error(e);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// An entity property (`issue` or `comment`), as Jira answers it.
async fn get_property(s: &AppState, entity: &str, id: &str, key: &str) -> Response {
    match sqlx::query_scalar::<_, String>("SELECT value FROM jira_properties WHERE entity = ? AND entity_id = ? AND key = ?")
        .bind(entity)
        .bind(id)
        .bind(key)
        .fetch_optional(&s.db)
        .await
    {
        Ok(Some(value)) => {
            Json(serde_json::json!({"key": key, "value": serde_json::from_str::<serde_json::Value>(&value).unwrap_or_default()})).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("The property with key '{key}' does not exist.")),
        Err(e) => db_error(e),
    }
}

/// Set an entity property (201 when new, 200 when replaced; at most 32 KB).
async fn put_property(s: &AppState, entity: &str, id: &str, key: &str, value: serde_json::Value) -> Response {
    let text = value.to_string();
    if text.len() > 32_768 || key.is_empty() || key.len() > 255 {
        return error(StatusCode::BAD_REQUEST, "a property key is 1-255 characters and its value at most 32 KB");
    }
    let existed = match sqlx::query("SELECT 1 FROM jira_properties WHERE entity = ? AND entity_id = ? AND key = ?")
        .bind(entity)
        .bind(id)
        .bind(key)
        .fetch_optional(&s.write)
        .await
    {
        Ok(found) => found.is_some(),
        Err(e) => return db_error(e),
    };
    let sql = "INSERT INTO jira_properties (entity, entity_id, key, value) VALUES (?, ?, ?, ?) \
               ON CONFLICT (entity, entity_id, key) DO UPDATE SET value = excluded.value";
    match sqlx::query(sql).bind(entity).bind(id).bind(key).bind(text).execute(&s.write).await {
        Ok(_) if existed => StatusCode::OK.into_response(),
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(e) => db_error(e),
    }
}

async fn issue_property(State(s): State<AppState>, Path((key, property)): Path<(String, String)>) -> Response {
    match request_id(&s.db, &key).await {
        Ok(Some(id)) => get_property(&s, "issue", &id.to_string(), &property).await,
        Ok(None) => error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")),
        Err(e) => db_error(e),
    }
}

async fn set_issue_property(State(s): State<AppState>, Path((key, property)): Path<(String, String)>, Json(value): Json<serde_json::Value>) -> Response {
    match request_id(&s.db, &key).await {
        Ok(Some(id)) => put_property(&s, "issue", &id.to_string(), &property, value).await,
        Ok(None) => error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")),
        Err(e) => db_error(e),
    }
}

/// A project's id by key or id.
async fn project_id(s: &AppState, key: &str) -> Result<i64, Response> {
    match sqlx::query_scalar::<_, i64>("SELECT id FROM jsm_projects WHERE key = ? OR CAST(id AS TEXT) = ?").bind(key).bind(key).fetch_optional(&s.db).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, format!("No project could be found with key '{key}'."))),
        Err(e) => Err(db_error(e)),
    }
}

async fn project_property(State(s): State<AppState>, Path((key, property)): Path<(String, String)>) -> Response {
    match project_id(&s, &key).await {
        Ok(id) => get_property(&s, "project", &id.to_string(), &property).await,
        Err(r) => r,
    }
}

async fn set_project_property(State(s): State<AppState>, Path((key, property)): Path<(String, String)>, Json(value): Json<serde_json::Value>) -> Response {
    match project_id(&s, &key).await {
        Ok(id) => put_property(&s, "project", &id.to_string(), &property, value).await,
        Err(r) => r,
    }
}

async fn comment_exists(s: &AppState, id: &str) -> Result<bool, Response> {
    sqlx::query("SELECT 1 FROM jsm_comments WHERE CAST(id AS TEXT) = ?").bind(id).fetch_optional(&s.db).await.map(|r| r.is_some()).map_err(db_error)
}

async fn comment_property(State(s): State<AppState>, Path((id, property)): Path<(String, String)>) -> Response {
    match comment_exists(&s, &id).await {
        Ok(true) => get_property(&s, "comment", &id, &property).await,
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no comment {id}")),
        Err(r) => r,
    }
}

async fn set_comment_property(State(s): State<AppState>, Path((id, property)): Path<(String, String)>, Json(value): Json<serde_json::Value>) -> Response {
    match comment_exists(&s, &id).await {
        Ok(true) => put_property(&s, "comment", &id, &property, value).await,
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no comment {id}")),
        Err(r) => r,
    }
}

/// The site's fields (those a request uses).
async fn fields() -> Response {
    Json(serde_json::json!([
        {"id": "summary", "name": "Summary", "custom": false, "schema": {"type": "string", "system": "summary"}},
        {"id": "description", "name": "Description", "custom": false, "schema": {"type": "string", "system": "description"}},
        {"id": "reporter", "name": "Reporter", "custom": false, "schema": {"type": "user", "system": "reporter"}},
        {"id": PARTICIPANTS_FIELD, "name": "Request participants", "custom": true,
         "schema": {"type": "array", "items": "user", "custom": PARTICIPANTS_FIELD_TYPE, "customId": 10010}},
    ]))
    .into_response()
}

/// A request as the API shows it.
async fn request_json(s: &AppState, db: &sqlx::SqlitePool, id: i64) -> Result<Option<CustomerRequest>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT * FROM jsm_requests WHERE id = ?").bind(id).fetch_optional(db).await? else { return Ok(None) };
    let reporter_id: String = r.get("reporter");
    let reporter = desk_user(known_account(s, db, &reporter_id).await?);
    let mut participants = Vec::new();
    for p in sqlx::query_scalar::<_, String>("SELECT account_id FROM jsm_participants WHERE request_id = ? ORDER BY position").bind(id).fetch_all(db).await? {
        if let Some(a) = account(db, &p).await? {
            participants.push(desk_user(a));
        }
    }
    Ok(Some(CustomerRequest {
        issue_id: id.to_string(),
        issue_key: r.get("key"),
        service_desk_id: r.get::<i64, _>("desk_id").to_string(),
        request_field_values: RequestFields { summary: r.get("summary"), description: r.get("description") },
        reporter,
        current_status: RequestStatus { status: r.get("status") },
        created_date: r.get("created"),
        request_participants: participants,
    }))
}

/// The id of the request named by id or key.
async fn request_id(db: &sqlx::SqlitePool, id_or_key: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM jsm_requests WHERE key = ? OR CAST(id AS TEXT) = ?").bind(id_or_key).bind(id_or_key).fetch_optional(db).await
}

/// A request's participants, in the order they were added, in pages.
async fn request_participants(State(s): State<AppState>, Path(key): Path<String>, q: Q) -> Response {
    match request_id(&s.db, &key).await {
        Ok(Some(id)) => account_page(&s, &q, "SELECT account_id FROM jsm_participants WHERE request_id = ? ORDER BY position", id).await,
        Ok(None) => error(StatusCode::NOT_FOUND, format!("Issue does not exist or you do not have permission to see it: {key}")),
        Err(e) => db_error(e),
    }
}

async fn get_request(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => return db_error(e),
    };
    match request_json(&s, &s.db, id).await {
        Ok(Some(r)) => Json(r).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => db_error(e),
    }
}

/// The requests of a service desk the caller may list: by default those it created or
/// takes part in (`requestOwnership` narrows to `OWNED_REQUESTS` or
/// `PARTICIPATED_REQUESTS`); `searchTerm` keeps those whose summary or description
/// contains it (case-insensitive).
async fn list_requests(State(s): State<AppState>, q: Q) -> Response {
    let Some(desk) = q.get("serviceDeskId").and_then(|d| d.parse::<i64>().ok()) else {
        return error(StatusCode::BAD_REQUEST, "serviceDeskId: required");
    };
    let (owned, participated) = match q.get("requestOwnership").map(String::as_str) {
        None => (true, true),
        Some("OWNED_REQUESTS") => (true, false),
        Some("PARTICIPATED_REQUESTS") => (false, true),
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("requestOwnership: {other:?} is not supported here")),
    };
    let (start, limit) = paging(&q);
    let me = s.access.admin_account_id();
    let search = q.get("searchTerm").map(|t| format!("%{}%", t.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    macro_rules! filter {
        () => {
            "FROM jsm_requests r WHERE r.desk_id = ? \
             AND ((? AND r.creator = ?) OR (? AND EXISTS (SELECT 1 FROM jsm_participants p WHERE p.request_id = r.id AND p.account_id = ?))) \
             AND (? IS NULL OR lower(r.summary) LIKE ? ESCAPE '\\' OR lower(COALESCE(r.description, '')) LIKE ? ESCAPE '\\')"
        };
    }
    let bind = |sql: &'static str| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(desk)
            .bind(owned)
            .bind(me.clone())
            .bind(participated)
            .bind(me.clone())
            .bind(search.clone())
            .bind(search.clone())
            .bind(search.clone())
    };
    let total: i64 = match bind(concat!("SELECT COUNT(*) ", filter!())).fetch_one(&s.db).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    let ids: Vec<i64> = match bind(concat!("SELECT r.id ", filter!(), " ORDER BY r.id LIMIT ? OFFSET ?")).bind(limit).bind(start).fetch_all(&s.db).await {
        Ok(ids) => ids,
        Err(e) => return db_error(e),
    };
    let mut values = Vec::with_capacity(ids.len());
    for id in ids {
        match request_json(&s, &s.db, id).await {
            Ok(Some(r)) => values.push(r),
            Ok(None) => {}
            Err(e) => return db_error(e),
        }
    }
    page(values, start, limit, total)
}

async fn request_comments(State(s): State<AppState>, Path(key): Path<String>, q: Q) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => return db_error(e),
    };
    let (start, limit) = paging(&q);
    let rows = match sqlx::query("SELECT * FROM jsm_comments WHERE request_id = ? ORDER BY id").bind(id).fetch_all(&s.db).await {
        Ok(rows) => rows,
        Err(e) => return db_error(e),
    };
    let total = rows.len() as i64;
    let mut values = Vec::new();
    for r in rows.iter().skip(start as usize).take(limit as usize) {
        let author_id: String = r.get("author");
        let author = match known_account(&s, &s.db, &author_id).await {
            Ok(a) => desk_user(a),
            Err(e) => return db_error(e),
        };
        values.push(RequestComment {
            id: r.get::<i64, _>("id").to_string(),
            body: r.get("body"),
            public: r.get::<i64, _>("public") != 0,
            author,
            created: r.get("created"),
        });
    }
    page(values, start, limit, total)
}

async fn review_notifications(State(s): State<AppState>) -> Response {
    match sqlx::query("SELECT event, recipient FROM notifications ORDER BY id").fetch_all(&s.db).await {
        Ok(rows) => Json(rows.iter().map(|r| Notification { event: r.get(0), recipient: r.get(1) }).collect::<Vec<_>>()).into_response(),
        Err(e) => db_error(e),
    }
}
