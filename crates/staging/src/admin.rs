//! What a Cloud site's administrator does by hand, as endpoints of the staging site:
//! installing cloud apps, renaming a space; and the site's system information.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use sqlx::Row;

use super::{db_error, error, AppState};
use ferry_cloud_wire::{CloudApp, CurrentUser, MyPermission, MyPermissions, Operation, SpaceRename, SystemInfo, TenantInfo};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/wiki/rest/api/settings/systemInfo", get(system_info))
        .route("/wiki/rest/api/user/current", get(current_user))
        .route("/rest/api/3/mypermissions", get(my_permissions))
        .route("/rest/atlassian-connect/1/addons/{key}", get(get_cloud_app))
        .route("/ferry/v1/admin/cloud-apps/{key}", put(put_cloud_app).delete(delete_cloud_app))
        .route("/ferry/v1/admin/spaces/{key}/rename", post(rename_space))
}

/// Install (or re-enable) a cloud app.
pub(crate) async fn install_cloud_app(db: &sqlx::SqlitePool, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO cloud_apps (key, state, installed_at) VALUES (?, 'ENABLED', ?) ON CONFLICT (key) DO UPDATE SET state = 'ENABLED'")
        .bind(key)
        .bind(ferry_core::state::now())
        .execute(db)
        .await?;
    Ok(())
}

async fn system_info(State(s): State<AppState>) -> Response {
    match sqlx::query("SELECT cloud_id FROM site WHERE id = 1").fetch_one(&s.db).await {
        Ok(r) => Json(SystemInfo { cloud_id: r.get(0), base_url: None }).into_response(),
        Err(e) => db_error(e),
    }
}

/// `/_edge/tenant_info`: the cloud id, to anyone.
pub(crate) async fn tenant_info(State(s): State<AppState>) -> Response {
    Json(TenantInfo { cloud_id: s.cloud_id.to_string() }).into_response()
}

/// The signed-in account: the site admin, who administers Confluence (unless the site was
/// started for an account that does not).
async fn current_user(State(s): State<AppState>) -> Response {
    let granted: &[&str] = if s.access.admin { &["administer", "create", "use"] } else { &["create", "use"] };
    let operations: Vec<Operation> = granted.iter().map(|operation| Operation { operation: (*operation).into(), target_type: "application".into() }).collect();
    Json(CurrentUser {
        kind: "known".into(),
        account_id: Some(s.access.admin_account_id()),
        email: Some(s.access.email.clone()),
        display_name: Some("Site admin".into()),
        operations: Some(operations),
    })
    .into_response()
}

#[derive(serde::Deserialize)]
struct PermissionsQuery {
    #[serde(default)]
    permissions: Option<String>,
}

/// The signed-in admin's global permissions among those asked for (Jira refuses a call
/// that names none).
async fn my_permissions(State(s): State<AppState>, axum::extract::Query(q): axum::extract::Query<PermissionsQuery>) -> Response {
    let Some(asked) = q.permissions.filter(|p| !p.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "The permissions query parameter is required");
    };
    let permissions =
        asked.split(',').map(|key| (key.trim().to_string(), MyPermission { key: key.trim().to_string(), have_permission: s.access.admin })).collect();
    Json(MyPermissions { permissions }).into_response()
}

async fn get_cloud_app(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    match sqlx::query("SELECT key, state FROM cloud_apps WHERE key = ?").bind(&key).fetch_optional(&s.db).await {
        Ok(Some(r)) => Json(CloudApp { key: r.get(0), state: r.get(1) }).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("app {key} is not installed on this site")),
        Err(e) => db_error(e),
    }
}

async fn put_cloud_app(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    if key.trim().is_empty() || key.len() > 255 {
        return error(StatusCode::BAD_REQUEST, "an app key is 1 to 255 characters");
    }
    match install_cloud_app(&s.write, &key).await {
        Ok(()) => Json(CloudApp { key, state: "ENABLED".into() }).into_response(),
        Err(e) => db_error(e),
    }
}

async fn delete_cloud_app(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    match sqlx::query("DELETE FROM cloud_apps WHERE key = ?").bind(&key).execute(&s.write).await {
        Ok(done) if done.rows_affected() == 1 => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => error(StatusCode::NOT_FOUND, format!("app {key} is not installed on this site")),
        Err(e) => db_error(e),
    }
}

async fn rename_space(State(s): State<AppState>, Path(key): Path<String>, Json(rename): Json<SpaceRename>) -> Response {
    match sqlx::query("UPDATE spaces SET key = ? WHERE key = ?").bind(&rename.key).bind(&key).execute(&s.write).await {
        Ok(done) if done.rows_affected() == 1 => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => error(StatusCode::NOT_FOUND, format!("no space {key}")),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => error(StatusCode::CONFLICT, format!("a space with key {} exists", rename.key)),
        Err(e) => db_error(e),
    }
}
