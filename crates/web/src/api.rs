//! The automation API, `/api/v1/...`: JSON in the shapes the CLI's `--json` prints,
//! over the same library functions. Its OpenAPI document (`/api/v1/openapi.json`) is
//! generated from the annotations on these handlers and the types they return.
//!
//! Errors are `{"error": {"code": ..., "message": ...}}` with a stable code (see
//! [`super::ApiError`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{Failure, Web};
use ferry_apps::assess;
use ferry_apps::audit::AuditReport;
use ferry_apps::consent;
use ferry_apps::stages;
use ferry_migrate::plan::{self, Plan};

/// The API routes (nested under `/api/v1`).
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/plans", get(list_plans).post(create_plan))
        .route("/plans/{id}", get(show_plan))
        .route("/plans/{id}/checks", get(check_plan))
        .route("/plans/{id}/run", post(run_plan))
        .route("/plans/{id}/stop", post(stop_plan))
        .route("/plans/{id}/audit", get(plan_audit))
        .route("/plans/{id}/verification", get(plan_verification))
        .route("/plans/{id}/failures.csv", get(plan_failures_csv))
        .route("/apps", get(list_apps))
        .route("/apps/{key}/decision", put(decide))
        .route("/apps/{key}/consent", get(consent_card).post(agree).delete(revoke))
        .route("/consent", get(list_consent))
        .route("/stages", get(list_stages))
        .route("/plugins", get(list_plugins))
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ferry automation API", description = "The dashboard's functions for scripts: plans, reports, apps, consent, checks, Stages and audits. \
        Authenticate with `Authorization: Bearer <token>` (`ferry api-token create NAME`). Errors are `{\"error\": {\"code\", \"message\"}}`."),
    paths(list_plans, create_plan, show_plan, check_plan, run_plan, stop_plan, plan_audit, plan_verification, plan_failures_csv, list_apps, decide, consent_card, agree, revoke, list_consent, list_stages, list_plugins),
    components(schemas(super::ErrorBody, super::ApiError, plan::PlanRequest, RunBody, RunStarted, DecisionBody, DecisionSet, AgreeBody, Revoked, StagesView)),
    modifiers(&BearerAuth, &GuardResponses),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The answers the guard and the error handler can give on every operation: 401 without
/// a valid token or session, 413 for a body over the bound, 500 when the state DB fails;
/// and on every change, 403 when it comes from another origin or lacks the session's
/// CSRF token.
struct GuardResponses;

impl utoipa::Modify for GuardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for (changes, operation) in [(false, &mut item.get), (true, &mut item.put), (true, &mut item.post), (true, &mut item.delete)] {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| error("`unauthorized`: no valid bearer token or session").into());
                responses.entry("413".into()).or_insert_with(|| error("`too-large`: the request body is over 1 MiB").into());
                responses.entry("500".into()).or_insert_with(|| error("`internal`: the state DB or the source failed; the message says how").into());
                if changes {
                    responses.entry("403".into()).or_insert_with(|| {
                        error("`csrf`: a change from another origin (`Origin`, `Referer`, `Sec-Fetch-Site`), or a browser session's change without its CSRF token (`X-CSRF-Token`)").into()
                    });
                }
            }
        }
    }
}

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

type ApiResult = Result<Response, ApiFailure>;

/// A failure answered as JSON.
pub struct ApiFailure(Failure);

impl From<anyhow::Error> for ApiFailure {
    fn from(e: anyhow::Error) -> ApiFailure {
        ApiFailure(Failure::from_error(e))
    }
}

impl From<Failure> for ApiFailure {
    fn from(f: Failure) -> ApiFailure {
        ApiFailure(f)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        self.0.json()
    }
}

fn ok<T: Serialize>(value: &T) -> ApiResult {
    Ok(Json(serde_json::to_value(value).map_err(anyhow::Error::from)?).into_response())
}

fn bad_request(message: impl Into<String>) -> ApiFailure {
    ApiFailure(Failure::new(StatusCode::BAD_REQUEST, "bad-request", message))
}

/// A JSON body, with a JSON error (not axum's text) when it does not parse.
pub struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiFailure;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(e) => Err(bad_request(format!("the request body is not what this endpoint takes: {}", e.body_text()))),
        }
    }
}

/// The plans with their status, step progress and app statuses (`ferry plan list --json`),
/// newest first, a page at a time: `limit` (default 50, at most 500) after `offset`, of a
/// `status`, whose name or id contains `q`. `X-Total-Count` says how many match in all.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", params(ferry_migrate::standing::ListFilter),
    responses((status = 200, description = "a page of `ferry plan list --json`; the `X-Total-Count` header counts every matching plan", body = [ferry_migrate::standing::PlanListing],
        headers(("X-Total-Count" = u64, description = "plans matching the filter, on every page")))))]
async fn list_plans(
    State(web): State<Web>,
    filter: Result<axum::extract::Query<ferry_migrate::standing::ListFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let axum::extract::Query(filter) = filter.map_err(|e| bad_request(format!("the query is not what this endpoint takes: {}", e.body_text())))?;
    let page = ferry_migrate::standing::listing_page(web.db(), &filter).await?;
    let mut response = ok(&page.plans)?;
    response.headers_mut().insert("x-total-count", axum::http::HeaderValue::from(page.matching as u64));
    Ok(response)
}

/// Create a plan (the options of `ferry plan create`; empty options take the product's
/// defaults). Answers the saved plan (`ferry plan create --json`).
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = plan::PlanRequest,
    responses((status = 201, description = "the saved plan (`ferry plan create --json`)", body = Plan), (status = 400, description = "`refused`: an option the plan cannot take, named, with the fix (no connected Cloud site named); `bad-request`: a body that is not a plan request (a destination URL or a variable name is not one)", body = super::ErrorBody), (status = 404, description = "`not-found`: the source is not a Server site the admin added, or the cloud is not a connected site", body = super::ErrorBody)))]
async fn create_plan(State(web): State<Web>, Body(request): Body<plan::PlanRequest>) -> ApiResult {
    let created = Plan::create(web.db(), request.into_web_plan(web.db()).await?).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(created).map_err(anyhow::Error::from)?)).into_response())
}

/// A plan's report: counts server vs cloud, failures, Former User/customer, dropped
/// permissions, groups awaiting review, apps (`ferry plan show ID --json`).
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = String, Path, description = "plan id (a unique prefix is enough)")),
    responses((status = 200, description = "`ferry plan show ID --json`", body = ferry_migrate::standing::PlanShow), (status = 400, description = "`bad-request`: the id prefix matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody)))]
async fn show_plan(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let plan = ferry_migrate::standing::current(web.db(), &id).await?;
    ok(&ferry_migrate::standing::report_json(web.db(), &plan).await?)
}

/// The plan's last verification (`ferry verify ID --json`, as it was when it ran): what
/// was compared with the server and each difference found.
#[utoipa::path(get, path = "/api/v1/plans/{id}/verification", tag = "plans", params(("id" = String, Path, description = "plan id (a unique prefix is enough)")),
    responses((status = 200, description = "the last `ferry verify ID --json`", body = ferry_migrate::verify::Verification), (status = 400, description = "`bad-request`: the id prefix matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan, or it was never verified (`ferry verify ID`)", body = super::ErrorBody)))]
async fn plan_verification(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let plan = Plan::get(web.db(), &id).await?;
    match ferry_migrate::verify::Verification::latest(web.db(), &plan.id).await? {
        Some(verification) => ok(&verification),
        None => {
            Err(ferry_core::Declined::not_found(format!("plan {} was never verified: `ferry verify {}` reads it back and compares it", plan.name, plan.id))
                .into())
        }
    }
}

/// Every failure of the plan's run as CSV (`kind,entity,title,space,reason`, a header
/// row first; empty but for the header before it runs).
#[utoipa::path(get, path = "/api/v1/plans/{id}/failures.csv", tag = "plans", params(("id" = String, Path, description = "plan id (a unique prefix is enough)")),
    responses((status = 200, description = "the failures, one row each", content_type = "text/csv", body = String), (status = 400, description = "`bad-request`: the id prefix matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody)))]
async fn plan_failures_csv(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let plan = ferry_migrate::standing::current(web.db(), &id).await?;
    let report = Plan::report(web.db(), &plan.id).await?.unwrap_or_default();
    let mut response = super::failures_csv(&report)?.into_response();
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("text/csv; charset=utf-8"));
    Ok(response)
}

/// Run the pre-migration checks (`ferry plan check ID --json`); reads the source and the
/// destination, changes nothing.
#[utoipa::path(get, path = "/api/v1/plans/{id}/checks", tag = "plans", params(("id" = String, Path)),
    responses((status = 200, description = "`ferry plan check ID --json`", body = [ferry_migrate::checks::Check]), (status = 400, description = "`bad-request`: no id, or an id prefix that matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody), (status = 409, description = "`refused`: the plan is not for a connected Cloud site, its token variable is not set, or its source is now another Server site", body = super::ErrorBody)))]
async fn check_plan(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let mut migrator = web.migrator(&id).await?;
    ok(&migrator.checks().await?)
}

/// How to run a plan.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// For Stage 1 apps: `proceed` (migrate them) or `remove` (leave them out).
    #[serde(default)]
    pub stage1: Option<String>,
}

/// A run that started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    /// The plan.
    pub id: String,
    /// `running`.
    pub status: String,
}

/// Run a saved plan in the server: checks first (errors refuse it, `checks-failed`), the
/// Stage 1 choice when it has Stage 1 apps (`stage1-choice-needed`). Its progress is in
/// `GET /api/v1/plans`.
#[utoipa::path(post, path = "/api/v1/plans/{id}/run", tag = "plans", params(("id" = String, Path)), request_body = RunBody,
    responses((status = 202, body = RunStarted), (status = 400, description = "`bad-request`: an unknown `stage1` choice or body, or an ambiguous id", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody), (status = 409, description = "`checks-failed`, `stage1-choice-needed`, or `refused` (the plan is not saved: plans run once; it is not for a connected Cloud site; its token variable is not set)", body = super::ErrorBody)))]
async fn run_plan(State(web): State<Web>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult {
    // The body is optional: no body is no Stage 1 choice.
    let body: RunBody = if body.iter().all(u8::is_ascii_whitespace) {
        RunBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| bad_request(format!("the request body is not what this endpoint takes: {e}")))?
    };
    let stage1 = match body.stage1.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(choice) => Some(choice.parse().map_err(|e: String| bad_request(format!("stage1: {e}")))?),
    };
    let plan = Plan::get(web.db(), &id).await?;
    web.start_plan(&plan.id, stage1).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { id: plan.id, status: plan::status::RUNNING.into() })).into_response())
}

/// Ask a running plan to stop when its current step ends.
#[utoipa::path(post, path = "/api/v1/plans/{id}/stop", tag = "plans", params(("id" = String, Path)),
    responses((status = 200, body = RunStarted), (status = 400, description = "`bad-request`: the id prefix matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody), (status = 409, description = "`refused`: the plan is not running", body = super::ErrorBody)))]
async fn stop_plan(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let plan = plan::stop(web.db(), &id).await?;
    ok(&RunStarted { id: plan.id, status: plan::status::STOPPED.into() })
}

/// What each app migration of the plan read per scope and host function, what it
/// uploaded, and every denied access (`ferry audit --plan ID --json`).
#[utoipa::path(get, path = "/api/v1/plans/{id}/audit", tag = "plans", params(("id" = String, Path)),
    responses((status = 200, description = "`ferry audit --plan ID --json`", body = [ferry_apps::journal::RunAudit]), (status = 400, description = "`bad-request`: the id prefix matches several plans", body = super::ErrorBody), (status = 404, description = "`not-found`: no such plan", body = super::ErrorBody)))]
async fn plan_audit(State(web): State<Web>, Path(id): Path<String>) -> ApiResult {
    let plan = Plan::get(web.db(), &id).await?;
    ok(&ferry_apps::journal::plan_audit(web.db(), &plan.id, None).await?)
}

/// The latest assessment of the Server site's apps, with decisions, paths and Stages
/// (`ferry apps assess --json`, without reading the source again).
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", responses((status = 200, description = "`ferry apps assess --json`", body = [assess::Assessment])))]
async fn list_apps(State(web): State<Web>) -> ApiResult {
    let db = web.db();
    ok(&assess::assess(db, &assess::server_apps(db).await?).await?)
}

/// A decision about an app.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `not-assessed`, `needed`, `not-needed` or `alternative`.
    pub decision: String,
}

/// A decision recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionSet {
    /// The app key.
    pub app: String,
    /// The decision.
    pub decision: String,
}

/// Decide about an app (`ferry apps decide APP DECISION`).
#[utoipa::path(put, path = "/api/v1/apps/{key}/decision", tag = "apps", params(("key" = String, Path, description = "Server app key")), request_body = DecisionBody,
    responses((status = 200, body = DecisionSet), (status = 400, description = "`bad-request`: not a decision", body = super::ErrorBody), (status = 404, description = "`not-found`: the assessed Server site has no such app", body = super::ErrorBody), (status = 409, description = "`refused`: no assessment yet", body = super::ErrorBody)))]
async fn decide(State(web): State<Web>, Path(key): Path<String>, Body(body): Body<DecisionBody>) -> ApiResult {
    let decision: assess::Decision = body.decision.parse().map_err(|e: String| bad_request(format!("decision: {e}")))?;
    assess::decide(web.db(), &key, decision).await?;
    ok(&DecisionSet { app: key, decision: decision.name().into() })
}

/// An app plugin's consent card: vendor, version, sha256, privacy policy, scopes in
/// plain words, tables and column classes, Stage, and what changed when consent is
/// outdated (`ferry consent show APP --json`).
#[utoipa::path(get, path = "/api/v1/apps/{key}/consent", tag = "consent", params(("key" = String, Path)),
    responses((status = 200, description = "`ferry consent show APP --json`", body = consent::PolicyCard), (status = 404, description = "`not-found`: no plugin is installed for the app", body = super::ErrorBody), (status = 409, description = "`refused`: the installed file was modified", body = super::ErrorBody)))]
async fn consent_card(State(web): State<Web>, Path(key): Path<String>) -> ApiResult {
    ok(&consent::policy_card(web.db(), &key).await?)
}

/// Agreement to a consent card.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreeBody {
    /// The sha256 of the plugin the card showed: consent is refused when the installed
    /// plugin changed since.
    pub sha256: String,
}

/// Agree to the app plugin's consent card (`ferry consent agree APP`).
#[utoipa::path(post, path = "/api/v1/apps/{key}/consent", tag = "consent", params(("key" = String, Path)), request_body = AgreeBody,
    responses((status = 200, description = "the consent card, now with consent given", body = consent::PolicyCard), (status = 400, description = "`bad-request`: no sha256 in the body", body = super::ErrorBody), (status = 404, description = "`not-found`: no plugin is installed for the app", body = super::ErrorBody), (status = 409, description = "`refused`: the installed plugin is not the sha256 reviewed, or its signer is no longer trusted", body = super::ErrorBody)))]
async fn agree(State(web): State<Web>, Path(key): Path<String>, Body(body): Body<AgreeBody>) -> ApiResult {
    consent::agree(web.db(), &key, Some(&body.sha256)).await?;
    ok(&consent::policy_card(web.db(), &key).await?)
}

/// Whether consent was revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// The app key.
    pub app: String,
    /// False when there was no consent to revoke.
    pub revoked: bool,
}

/// Revoke consent (`ferry consent revoke APP`).
#[utoipa::path(delete, path = "/api/v1/apps/{key}/consent", tag = "consent", params(("key" = String, Path)), responses((status = 200, body = Revoked)))]
async fn revoke(State(web): State<Web>, Path(key): Path<String>) -> ApiResult {
    let revoked = consent::revoke(web.db(), &key).await?;
    ok(&Revoked { app: key, revoked })
}

/// Where consent stands for each app (`ferry consent list --json`).
#[utoipa::path(get, path = "/api/v1/consent", tag = "consent", responses((status = 200, description = "`ferry consent list --json`", body = [consent::ConsentLine]), (status = 409, description = "`refused`: no assessment yet", body = super::ErrorBody)))]
async fn list_consent(State(web): State<Web>) -> ApiResult {
    ok(&consent::list(web.db()).await?)
}

/// Every plugin's Stage figures, with the rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct StagesView {
    /// The rule in words.
    pub rule_text: String,
    /// The rule (`ferry stages rule --json`).
    pub rule: stages::StageRule,
    /// Per plugin: attempts, successes, rate, Wilson bounds, Stage (`ferry stages --json`).
    pub plugins: Vec<stages::StageFigures>,
}

/// Each plugin's Stage: attempts, successes, success rate and the Wilson interval, with
/// the rule.
#[utoipa::path(get, path = "/api/v1/stages", tag = "stages", responses((status = 200, body = StagesView)))]
async fn list_stages(State(web): State<Web>) -> ApiResult {
    let rule = stages::rule(web.db()).await?;
    ok(&StagesView { rule_text: rule.describe(), plugins: stages::all(web.db()).await?, rule })
}

/// Every installed plugin's audit: declared scopes, tables and classes, real imports,
/// unused scopes, sha256, contract, signer, verdict (`ferry plugin audit APP --json`).
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", responses((status = 200, description = "`ferry plugin audit APP --json` for each installed plugin", body = [AuditReport])))]
async fn list_plugins(State(web): State<Web>) -> ApiResult {
    let audits: Vec<AuditReport> = web.plugin_audits().await?.into_iter().map(|(_, report)| report).collect();
    ok(&audits)
}
