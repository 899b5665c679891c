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
        .route("/ferry/v1/former-customer", get(former_customer))
        .route("/rest/servicedeskapi/organization", get(list_organizations).post(create_organization))
        .route("/rest/servicedeskapi/organization/{id}/user", get(organization_members).post(add_organization_members))
        .route("/rest/api/3/project", post(create_project))
        .route("/rest/api/3/project/{key}", get(get_project))
        .route("/rest/servicedeskapi/servicedesk", get(list_service_desks))
        .route("/rest/servicedeskapi/servicedesk/{id}/customer", get(desk_customers).post(add_desk_customers))
        .route("/rest/servicedeskapi/servicedesk/{id}/organization", post(add_desk_organization))
        .route("/rest/servicedeskapi/request", get(list_requests).post(create_request))
        .route("/rest/servicedeskapi/request/{key}", get(get_request))
        .route("/rest/servicedeskapi/request/{key}/comment", get(request_comments))
        .route("/ferry/v1/review/notifications", get(review_notifications))
}

type Q = Query<HashMap<String, String>>;

/// Whether the caller asked the site not to notify anyone.
fn quiet(q: &HashMap<String, String>) -> bool {
    q.get("notifyUsers").is_some_and(|v| v.eq_ignore_ascii_case("false"))
}

/// Record a notification the site sends (a migration must never cause one).
async fn notify(db: &sqlx::SqlitePool, q: &HashMap<String, String>, event: &str, recipients: &[String]) -> Result<(), sqlx::Error> {
    if quiet(q) {
        return Ok(());
    }
    for recipient in recipients {
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
async fn accounts_named(db: &sqlx::SqlitePool, named: &[(&str, &str)]) -> Result<HashMap<String, Account>, Response> {
    let ids: Vec<&str> = named.iter().map(|(_, id)| *id).collect();
    let found = accounts_by_id(db, &ids).await.map_err(db_error)?;
    match named.iter().find(|(_, id)| !found.contains_key(*id)) {
        Some((role, id)) => Err(error(StatusCode::BAD_REQUEST, format!("{role}: no account {id:?} on this site"))),
        None => Ok(found),
    }
}

/// The accounts `ids` in order, or a `400` naming the first that does not exist.
async fn accounts(db: &sqlx::SqlitePool, ids: &[String], role: &str) -> Result<Vec<Account>, Response> {
    let named: Vec<(&str, &str)> = ids.iter().map(|id| (role, id.as_str())).collect();
    let found = accounts_named(db, &named).await?;
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
            return error(StatusCode::CONFLICT, format!("an account with email {email} exists ({})", kinds.join(", ")));
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
            let created = customer_account(&row);
            if let Err(e) = notify(&s.write, &q, "customer.invited", std::slice::from_ref(&created.account_id)).await {
                return db_error(e);
            }
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
        Ok(found) => Json(found).into_response(),
        Err(e) => db_error(e),
    }
}

async fn get_account(State(s): State<AppState>, q: Q) -> Response {
    let Some(id) = q.get("accountId") else { return error(StatusCode::BAD_REQUEST, "accountId: required") };
    match account(&s.db, id).await {
        Ok(Some(a)) => Json(a).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no account {id:?}")),
        Err(e) => db_error(e),
    }
}

async fn former_customer(State(s): State<AppState>) -> Response {
    let made = sqlx::query(
        "INSERT INTO customers (email, display_name, active, placeholder, created_at) SELECT NULL, 'Former customer', 0, 1, ? \
         WHERE NOT EXISTS (SELECT 1 FROM customers WHERE placeholder = 1)",
    )
    .bind(ferry_core::state::now())
    .execute(&s.write)
    .await;
    if let Err(e) = made {
        return db_error(e);
    }
    match sqlx::query("SELECT * FROM customers WHERE placeholder = 1 ORDER BY id LIMIT 1").fetch_one(&s.db).await {
        Ok(row) => Json(customer_account(&row)).into_response(),
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

async fn add_organization_members(State(s): State<AppState>, Path(id): Path<String>, q: Q, Json(body): Json<AccountIds>) -> Response {
    let org = match existing(&s.db, "jsm_organizations", &id, "organization").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    add_accounts(
        &s,
        &q,
        "INSERT OR IGNORE INTO jsm_organization_members (organization_id, account_id) VALUES (?, ?)",
        org,
        &body.account_ids,
        "organization.member-added",
    )
    .await
}

/// Add accounts (which must exist) to an organization or a desk, notifying unless quiet.
async fn add_accounts(s: &AppState, q: &HashMap<String, String>, sql: &str, owner: i64, ids: &[String], event: &str) -> Response {
    if ids.len() > 50 {
        return error(StatusCode::BAD_REQUEST, "accountIds: at most 50 per request");
    }
    if let Err(r) = accounts(&s.db, ids, "accountIds").await {
        return r;
    }
    for account in ids {
        if let Err(e) = sqlx::query(sql).bind(owner).bind(account).execute(&s.write).await {
            return db_error(e);
        }
    }
    if let Err(e) = notify(&s.write, q, event, ids).await {
        return db_error(e);
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
    match accounts(&s.db, &chosen, "member").await {
        Ok(list) => page(list, start, limit, total),
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

async fn create_project(State(s): State<AppState>, Json(p): Json<NewProject>) -> Response {
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
        if let Err(r) = accounts(&s.db, std::slice::from_ref(lead), "leadAccountId").await {
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
        if let Err(e) = sqlx::query("INSERT INTO jsm_service_desks (project_id) VALUES (?)").bind(row.get::<i64, _>("id")).execute(&mut *tx).await {
            return db_error(e);
        }
    }
    if let Err(e) = tx.commit().await {
        return db_error(e);
    }
    (StatusCode::CREATED, Json(project_json(&row))).into_response()
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

async fn add_desk_customers(State(s): State<AppState>, Path(id): Path<String>, q: Q, Json(body): Json<AccountIds>) -> Response {
    let desk = match existing(&s.db, "jsm_service_desks", &id, "service desk").await {
        Ok(n) => n,
        Err(r) => return r,
    };
    add_accounts(&s, &q, "INSERT OR IGNORE INTO jsm_desk_customers (desk_id, account_id) VALUES (?, ?)", desk, &body.account_ids, "servicedesk.customer-added")
        .await
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

async fn create_request(State(s): State<AppState>, q: Q, Json(r): Json<NewRequest>) -> Response {
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
    let key = r.import.issue_key.trim();
    let key_ok = key.strip_prefix(&format!("{project_key}-")).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if !key_ok {
        return error(StatusCode::BAD_REQUEST, format!("import.issueKey: {key:?} is not a key of project {project_key} ({project_key}-<number>)"));
    }
    if r.request_field_values.summary.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, format!("requestFieldValues.summary: {key} needs a summary"));
    }
    // Every account the request names, looked up together.
    let named: Vec<(&str, &str)> = std::iter::once(("raiseOnBehalfOf", r.raise_on_behalf_of.as_str()))
        .chain(r.request_participants.iter().map(|p| ("requestParticipants", p.as_str())))
        .chain(r.import.comments.iter().map(|c| ("import.comments.authorAccountId", c.author_account_id.as_str())))
        .collect();
    let known = match accounts_named(&s.write, &named).await {
        Ok(known) => known,
        Err(resp) => return resp,
    };
    let mut tx = match s.write.begin().await {
        Ok(tx) => tx,
        Err(e) => return db_error(e),
    };
    let inserted =
        sqlx::query("INSERT INTO jsm_requests (desk_id, key, summary, description, status, created, reporter) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(desk)
            .bind(key)
            .bind(&r.request_field_values.summary)
            .bind(&r.request_field_values.description)
            .bind(&r.import.status)
            .bind(&r.import.created)
            .bind(&r.raise_on_behalf_of)
            .fetch_one(&mut *tx)
            .await;
    let id: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return error(StatusCode::CONFLICT, format!("a request with key {key} exists")),
        Err(e) => return db_error(e),
    };
    // A participant named twice is one participant.
    let mut participant_ids: Vec<&String> = Vec::with_capacity(r.request_participants.len());
    for p in &r.request_participants {
        if !participant_ids.contains(&p) {
            participant_ids.push(p);
        }
    }
    if !participant_ids.is_empty() {
        let sql = format!("INSERT INTO jsm_participants (request_id, position, account_id) VALUES {}", vec!["(?, ?, ?)"; participant_ids.len()].join(", "));
        let mut query = sqlx::query(&sql);
        for (position, p) in participant_ids.iter().enumerate() {
            query = query.bind(id).bind(position as i64).bind(*p);
        }
        if let Err(e) = query.execute(&mut *tx).await {
            return db_error(e);
        }
    }
    let participants: Vec<Account> = participant_ids.iter().map(|p| known[*p].clone()).collect();
    // The comments in one statement; their ids rise in the order they were given.
    let mut comment_ids = Vec::with_capacity(r.import.comments.len());
    if !r.import.comments.is_empty() {
        let sql = format!(
            "INSERT INTO jsm_comments (request_id, body, public, author, created) VALUES {} RETURNING id",
            vec!["(?, ?, ?, ?, ?)"; r.import.comments.len()].join(", ")
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for c in &r.import.comments {
            query = query.bind(id).bind(&c.body).bind(c.public).bind(&c.author_account_id).bind(&c.created);
        }
        match query.fetch_all(&mut *tx).await {
            Ok(mut ids) => {
                ids.sort_unstable();
                comment_ids = ids.iter().map(i64::to_string).collect();
            }
            Err(e) => return db_error(e),
        }
    }
    if let Err(e) = tx.commit().await {
        return db_error(e);
    }
    let mut told = vec![r.raise_on_behalf_of.clone()];
    told.extend(r.request_participants.iter().cloned());
    if let Err(e) = notify(&s.write, &q, "request.created", &told).await {
        return db_error(e);
    }
    if r.import.comments.iter().any(|c| c.public) {
        if let Err(e) = notify(&s.write, &q, "comment.created", &told).await {
            return db_error(e);
        }
    }
    let created = CustomerRequest {
        issue_id: id.to_string(),
        issue_key: key.to_string(),
        service_desk_id: desk.to_string(),
        request_field_values: r.request_field_values.clone(),
        reporter: known[&r.raise_on_behalf_of].clone(),
        current_status: RequestStatus { status: r.import.status.clone() },
        created_date: r.import.created.clone(),
        request_participants: participants,
        comment_ids,
    };
    (StatusCode::CREATED, Json(created)).into_response()
}

/// A request as the API shows it.
async fn request_json(db: &sqlx::SqlitePool, id: i64) -> Result<Option<CustomerRequest>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT * FROM jsm_requests WHERE id = ?").bind(id).fetch_optional(db).await? else { return Ok(None) };
    let reporter_id: String = r.get("reporter");
    let reporter = account(db, &reporter_id).await?.unwrap_or(Account {
        account_id: reporter_id,
        account_type: ACCOUNT_CUSTOMER.into(),
        email_address: None,
        display_name: String::new(),
        active: false,
    });
    let mut participants = Vec::new();
    for p in sqlx::query_scalar::<_, String>("SELECT account_id FROM jsm_participants WHERE request_id = ? ORDER BY position").bind(id).fetch_all(db).await? {
        if let Some(a) = account(db, &p).await? {
            participants.push(a);
        }
    }
    let comment_ids = sqlx::query_scalar::<_, i64>("SELECT id FROM jsm_comments WHERE request_id = ? ORDER BY id").bind(id).fetch_all(db).await?;
    Ok(Some(CustomerRequest {
        issue_id: id.to_string(),
        issue_key: r.get("key"),
        service_desk_id: r.get::<i64, _>("desk_id").to_string(),
        request_field_values: RequestFields { summary: r.get("summary"), description: r.get("description") },
        reporter,
        current_status: RequestStatus { status: r.get("status") },
        created_date: r.get("created"),
        request_participants: participants,
        comment_ids: comment_ids.iter().map(i64::to_string).collect(),
    }))
}

/// The id of the request named by id or key.
async fn request_id(db: &sqlx::SqlitePool, id_or_key: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM jsm_requests WHERE key = ? OR CAST(id AS TEXT) = ?").bind(id_or_key).bind(id_or_key).fetch_optional(db).await
}

async fn get_request(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    let id = match request_id(&s.db, &key).await {
        Ok(Some(id)) => id,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => return db_error(e),
    };
    match request_json(&s.db, id).await {
        Ok(Some(r)) => Json(r).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no request {key}")),
        Err(e) => db_error(e),
    }
}

async fn list_requests(State(s): State<AppState>, q: Q) -> Response {
    let Some(desk) = q.get("serviceDeskId").and_then(|d| d.parse::<i64>().ok()) else {
        return error(StatusCode::BAD_REQUEST, "serviceDeskId: required");
    };
    let (start, limit) = paging(&q);
    let total: i64 = match sqlx::query_scalar("SELECT COUNT(*) FROM jsm_requests WHERE desk_id = ?").bind(desk).fetch_one(&s.db).await {
        Ok(n) => n,
        Err(e) => return db_error(e),
    };
    let ids: Vec<i64> = match sqlx::query_scalar("SELECT id FROM jsm_requests WHERE desk_id = ? ORDER BY id LIMIT ? OFFSET ?")
        .bind(desk)
        .bind(limit)
        .bind(start)
        .fetch_all(&s.db)
        .await
    {
        Ok(ids) => ids,
        Err(e) => return db_error(e),
    };
    let mut values = Vec::with_capacity(ids.len());
    for id in ids {
        match request_json(&s.db, id).await {
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
        let author = match account(&s.db, &author_id).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                Account { account_id: author_id, account_type: ACCOUNT_CUSTOMER.into(), email_address: None, display_name: String::new(), active: false }
            }
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
