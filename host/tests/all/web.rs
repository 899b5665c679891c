//! `ferry serve`: the automation API endpoint by endpoint, the access rules (no token,
//! wrong token, revoked token, missing or wrong CSRF token, a used login link), HTML
//! escaping of what plugins and the Server supply, live progress, and the admin's
//! journey in a real Chromium.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry_host::assess;
use ferry_host::plugins::registry::Registry;
use ferry_host::plugins::signature;
use ferry_host::staging::Faults;
use ferry_host::web::{self, auth};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::core_migration::{Cloud, APP_SECRET_ENV, SCIM_KEY_ENV, TOKEN, TOKEN_ENV};
use crate::support::{wasm_bytes, with_manifest, Fixture, CALENDARS, RATINGS};

/// A dashboard on loopback over the fixture's state, with a browser session and an API
/// token.
struct Dashboard {
    addr: SocketAddr,
    /// The one-time login token (used by [`Dashboard::login`]).
    login_token: String,
    /// An API token.
    token: String,
    http: reqwest::Client,
    /// Every API exchange made through [`Dashboard::api`]: method, path, status, answer.
    exchanges: std::sync::Mutex<Vec<(reqwest::Method, String, StatusCode, Value)>>,
}

impl Dashboard {
    async fn start(f: &Fixture) -> Dashboard {
        let allowed = [TOKEN_ENV, SCIM_KEY_ENV, APP_SECRET_ENV];
        let (addr, _web, login_token) = web::start_with_worker(&f.home(), "127.0.0.1:0", env!("CARGO_BIN_EXE_ferry").into(), &allowed).await.unwrap();
        let (_, token) = auth::create_token(&f.db, "tests").await.unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Dashboard { addr, login_token, token, http, exchanges: Default::default() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method.clone(), self.url(&format!("/api/v1{path}"))).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} answered no JSON: {text}"));
        self.exchanges.lock().unwrap().push((method, path.to_string(), status, value.clone()));
        (status, value)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.api(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// Trade the login token for a session: the cookie header and the CSRF token.
    async fn login(&self) -> Session {
        let response = self.http.get(self.url(&format!("/login?token={}", self.login_token))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        assert!(!set_cookie.contains("Secure"), "no Secure flag over plain HTTP: {set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let home = self.http.get(self.url("/")).header(reqwest::header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = home
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF field on the home page: {home}"))
            .to_string();
        Session { cookie, csrf }
    }

    async fn page(&self, session: &Session, path: &str) -> (StatusCode, String) {
        let response = self.http.get(self.url(path)).header(reqwest::header::COOKIE, &session.cookie).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

struct Session {
    cookie: String,
    csrf: String,
}

/// Check that every exchange is described by the OpenAPI document: its path and method
/// are there, its status is one of the operation's responses, and the answer fits the
/// response's schema with no field the schema does not declare.
fn assert_documented(doc: &Value, exchanges: &[(reqwest::Method, String, StatusCode, Value)]) {
    for (method, path, status, answer) in exchanges {
        let template = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .find(|t| {
                let t: Vec<&str> = t.trim_start_matches("/api/v1").split('/').collect();
                let p: Vec<&str> = path.split('/').collect();
                t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || t.starts_with('{'))
            })
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
        let operation = &doc["paths"][template][method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{method} {template} is not in the OpenAPI document");
        let response = &operation["responses"][status.as_str()];
        assert!(response.is_object(), "{method} {template} answered {status}, which the document does not list");
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {template} {status} has no JSON schema");
        if let Err(e) = conforms(doc, schema, answer, "$") {
            panic!("{method} {path} {status} does not fit its documented schema: {e}\n{answer}");
        }
    }
}

/// Whether `value` fits `schema` as a strict JSON Schema validator judges it, and stricter
/// where the document is open: `oneOf` means exactly one option (a strict client rejects
/// an answer that fits two), and an object may carry no field the schema does not declare
/// (the subset of JSON Schema that utoipa writes:
/// `$ref`, `oneOf`/`anyOf`/`allOf`, `type`, `enum`, `properties`, `required`,
/// `additionalProperties`, `items`). Objects may carry only declared properties.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/components/schemas/").ok_or_else(|| format!("{at}: odd $ref {reference}"))?;
        let target = &doc["components"]["schemas"][name];
        return if target.is_object() { conforms(doc, target, value, at) } else { Err(format!("{at}: {reference} is not defined")) };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let errors: Vec<String> = options.iter().filter_map(|o| conforms(doc, o, value, at).err()).collect();
            if errors.len() == options.len() {
                return Err(format!("{at}: fits none of {key}: {}", errors.join(" | ")));
            }
            let fits = options.len() - errors.len();
            if key == "oneOf" && fits > 1 {
                return Err(format!("{at}: fits {fits} options of oneOf, and must fit exactly one"));
            }
        }
    }
    if let Some(types) = types_of(schema) {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer")) {
            return Err(format!("{at}: a {actual}, documented as {types:?}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema["items"].is_object() {
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(object) = value.as_object() {
        // `allOf` (serde's flatten) declares the union of its parts' properties.
        let mut parts = vec![schema.clone()];
        let mut declared = serde_json::Map::new();
        let mut required = Vec::new();
        let mut additional = None;
        while let Some(part) = parts.pop() {
            let part = match part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
                Some(name) => doc["components"]["schemas"][name].clone(),
                None => part,
            };
            if let Some(all) = part["allOf"].as_array() {
                parts.extend(all.iter().cloned());
            }
            if let Some(properties) = part["properties"].as_object() {
                declared.extend(properties.clone());
            }
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
            if !part["additionalProperties"].is_null() {
                additional = Some(part["additionalProperties"].clone());
            }
        }
        let typed = types_of(schema).is_some_and(|t| t.contains(&"object")) || !declared.is_empty() || additional.is_some();
        if typed && schema["oneOf"].is_null() && schema["anyOf"].is_null() {
            for field in &required {
                let field = field.as_str().unwrap();
                if !object.contains_key(field) {
                    return Err(format!("{at}: the required {field} is missing"));
                }
            }
            for (field, item) in object {
                let at = format!("{at}.{field}");
                match (declared.get(field), &additional) {
                    (Some(property), _) => conforms(doc, property, item, &at)?,
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(extra)) if extra.is_object() => conforms(doc, extra, item, &at)?,
                    _ => return Err(format!("{at} is not declared")),
                }
            }
        }
    }
    Ok(())
}

fn types_of(schema: &Value) -> Option<Vec<&str>> {
    match &schema["type"] {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Wait until the plan is no longer running; its report.
async fn finished(d: &Dashboard, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let report = d.get(&format!("/plans/{id}")).await;
        if report["status"] != "running" && report["status"] != "saved" {
            return report;
        }
        assert!(Instant::now() < deadline, "plan {id} still {} after 3 minutes", report["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The admin's part at the command line: add the fixture's Server site and connect
/// `cloud` as `trial`, the only kinds of source and destination the dashboard offers.
async fn add_sites(f: &Fixture, cloud: &Cloud) {
    ferry_host::sites::identify(&f.db, &f.source().await, None).await.unwrap();
    ferry_host::cloud::connect(&f.db, "trial", cloud.target()).await.unwrap();
}

/// A plan body for the fixture's site into the connected `trial`: users none, space ENG.
fn plan_body(f: &Fixture, name: &str) -> Value {
    json!({
        "name": name,
        "source": f.source_url,
        "attachments": f.site.join("attachments").display().to_string(),
        "cloud": "trial",
        "users": "none",
        "spaces": "ENG",
        "trusted_domains": ["example.com"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_the_journey_in_the_cli_shapes_and_never_a_secret() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("page_ratings").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    add_sites(&f, &cloud).await;
    let d = Dashboard::start(&f).await;
    let mut answers = Vec::new();

    // Apps: the assessment as `apps assess --json` shows it; decide each.
    let apps = d.get("/apps").await;
    let cli_apps = serde_json::to_value(assess::assess(&f.db, &assess::server_apps(&f.db).await.unwrap()).await.unwrap()).unwrap();
    assert_eq!(apps, cli_apps);
    for app in apps.as_array().unwrap() {
        let key = app["key"].as_str().unwrap();
        let decision = if key == RATINGS { "needed" } else { "not-needed" };
        let (status, body) = d.api(reqwest::Method::PUT, &format!("/apps/{key}/decision"), Some(json!({"decision": decision}))).await;
        assert_eq!((status, body["decision"].as_str()), (StatusCode::OK, Some(decision)), "{body}");
    }
    let (status, body) = d.api(reqwest::Method::PUT, &format!("/apps/{RATINGS}/decision"), Some(json!({"decision": "maybe"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad-request")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("decision:"), "{body}");

    // Consent: the card, agree with its sha256, revoke, agree again; a stale sha256 is refused.
    let card = d.get(&format!("/apps/{RATINGS}/consent")).await;
    assert_eq!(card["status"], "not-given");
    assert!(card["scopes"].as_array().unwrap().iter().all(|s| !s["meaning"].as_str().unwrap().is_empty()));
    let sha = card["sha256"].as_str().unwrap().to_string();
    let (status, body) = d.api(reqwest::Method::POST, &format!("/apps/{RATINGS}/consent"), Some(json!({"sha256": "0".repeat(64)}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "consent to another file is refused: {body}");
    let (status, body) = d.api(reqwest::Method::POST, &format!("/apps/{RATINGS}/consent"), Some(json!({"sha256": sha}))).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("given")), "{body}");
    let (status, body) = d.api(reqwest::Method::DELETE, &format!("/apps/{RATINGS}/consent"), None).await;
    assert_eq!((status, body["revoked"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    assert_eq!(d.get("/consent").await.as_array().unwrap().iter().find(|c| c["app"] == RATINGS).unwrap()["status"], "not-given");
    let (status, _) = d.api(reqwest::Method::POST, &format!("/apps/{RATINGS}/consent"), Some(json!({"sha256": sha}))).await;
    assert_eq!(status, StatusCode::OK);
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().unwrap();
    cloud.dest.admin_install_cloud_app(&plugin.cloud_app_key).await.unwrap();
    ferry_host::cloud::confirm_app(&f.db, &cloud.site.url(), &plugin.cloud_app_key).await.unwrap();

    // Plans: a refused option is named; a plan is created, listed, checked.
    let (status, body) = d.api(reqwest::Method::POST, "/plans", Some(json!({"name": "x", "source": f.source_url, "cloud": "trial", "users": "some"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("refused")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("users:"), "{body}");
    let (status, body) = d.api(reqwest::Method::POST, "/plans", Some(json!({"name": "x", "source": f.source_url, "cloud": "trial", "colour": "blue"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused: {body}");
    let (status, created) = d.api(reqwest::Method::POST, "/plans", Some(plan_body(&f, "api plan"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["plan_apps"][0]["app"], RATINGS);
    let listed = d.get("/plans").await;
    let cli_listed = serde_json::to_value(ferry_host::migrate::standing::listing(&f.db).await.unwrap()).unwrap();
    assert_eq!(listed, cli_listed, "the list is `plan list --json`");
    assert_eq!(listed[0]["id"], id.as_str());
    let checks = d.get(&format!("/plans/{id}/checks")).await;
    assert!(checks.as_array().unwrap().iter().all(|c| c["result"] != "error"), "{checks}");
    assert!(checks.as_array().unwrap().iter().any(|c| c["code"] == "apps.consent-missing"), "{checks}");

    // Run: the Stage 1 choice is asked for, then the run starts and finishes.
    let (status, body) = d.api(reqwest::Method::POST, &format!("/plans/{id}/run"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("stage1-choice-needed")), "{body}");
    let (status, body) = d.api(reqwest::Method::POST, &format!("/plans/{id}/run"), Some(json!({"stage1": "soon"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = d.api(reqwest::Method::POST, &format!("/plans/{id}/run"), Some(json!({"stage1": "proceed"}))).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::ACCEPTED, Some("running")), "{body}");
    let report = finished(&d, &id).await;
    assert!(report["status"] == "finished" || report["status"] == "incomplete", "{report}");
    assert!(report["counts"]["pages"]["cloud"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["apps"][0]["status"], "complete", "{report}");
    let plan = ferry_host::plan::Plan::get(&f.db, &id).await.unwrap();
    assert_eq!(
        report,
        serde_json::to_value(ferry_host::migrate::standing::report_json(&f.db, &plan).await.unwrap()).unwrap(),
        "the report is `plan show --json`"
    );
    let (status, body) = d.api(reqwest::Method::POST, &format!("/plans/{id}/run"), Some(json!({"stage1": "proceed"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("refused")), "plans run once: {body}");
    let (status, body) = d.api(reqwest::Method::POST, &format!("/plans/{id}/stop"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("refused")), "{body}");
    let audit = d.get(&format!("/plans/{id}/audit")).await;
    assert_eq!(audit[0]["app"], RATINGS);
    assert!(audit[0]["access"].as_array().unwrap().iter().any(|a| a["function"] == "app-tables.read"), "{audit}");
    // The last verification: none yet, then the one `ferry verify` made, on the API and
    // on the plan's pages.
    let (status, body) = d.api(reqwest::Method::GET, &format!("/plans/{id}/verification"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("ferry verify"), "{body}");
    let session = d.login().await;
    let (_, page) = d.page(&session, &format!("/plans/{id}")).await;
    assert!(page.contains("Not verified yet"), "{page}");
    let verified = ferry_host::migrate::Migrator::new(f.db.clone(), plan.clone(), ferry_host::migrate::Progress::hidden())
        .await
        .unwrap()
        .with_destination(cloud.dest.clone())
        .verify()
        .await
        .unwrap();
    assert_eq!(d.get(&format!("/plans/{id}/verification")).await, serde_json::to_value(&verified).unwrap(), "the API answers the verification as it ran");
    let (_, page) = d.page(&session, &format!("/plans/{id}")).await;
    assert!(page.contains("Last verified") && page.contains(&format!("/plans/{id}/verification")), "{page}");
    let (status, page) = d.page(&session, &format!("/plans/{id}/verification")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No differences") && page.contains("id=\"compared\""), "{page}");
    // The exports: the whole report as JSON, every failure as CSV (page and API alike).
    let (status, json_file) = d.page(&session, &format!("/plans/{id}/report.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&json_file).unwrap(), report, "the JSON export is the report");
    let (status, csv_file) = d.page(&session, &format!("/plans/{id}/failures.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let rows: Vec<&str> = csv_file.lines().collect();
    assert_eq!(rows[0], "kind,entity,title,space,reason");
    assert_eq!(rows.len() - 1, report["failures"].as_array().unwrap().len(), "{csv_file}");
    let by_api = d.http.get(d.url(&format!("/api/v1/plans/{id}/failures.csv"))).bearer_auth(&d.token).send().await.unwrap();
    assert!(by_api.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(by_api.text().await.unwrap(), csv_file);
    let (status, body) = d.api(reqwest::Method::GET, "/plans/nosuchplan", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{body}");
    // `%` and `_` are text, not LIKE wildcards: they name no plan.
    for wildcard in ["%25", "_"] {
        let (status, body) = d.api(reqwest::Method::GET, &format!("/plans/{wildcard}"), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{wildcard}: {body}");
    }
    // A prefix that several plans share is refused as ambiguous (17 hex ids: two share a
    // first character).
    let mut firsts = std::collections::HashMap::new();
    let shared = loop {
        let (status, made) = d.api(reqwest::Method::POST, "/plans", Some(plan_body(&f, "prefix"))).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let first = made["id"].as_str().unwrap()[..1].to_string();
        if firsts.insert(first.clone(), ()).is_some() {
            break first;
        }
    };
    let (status, body) = d.api(reqwest::Method::GET, &format!("/plans/{shared}"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad-request")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("give more of the id"), "{body}");
    // An app the assessment does not list.
    let (status, body) = d.api(reqwest::Method::PUT, "/apps/no.such.app/decision", Some(json!({"decision": "needed"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{body}");
    let (status, body) = d.api(reqwest::Method::GET, "/apps/no.such.app/consent", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{body}");

    // Stages and the reviewer's audit.
    let stages = d.get("/stages").await;
    assert!(stages["rule_text"].as_str().unwrap().contains("Wilson"));
    let ratings = stages["plugins"].as_array().unwrap().iter().find(|p| p["app"] == RATINGS).unwrap();
    assert_eq!((ratings["attempts"].as_u64(), ratings["successes"].as_u64()), (Some(1), Some(1)), "{ratings}");
    let plugins = d.get("/plugins").await;
    assert_eq!(plugins[0]["server_app_key"], RATINGS);
    assert_eq!(plugins[0]["verdict"], "ok");
    assert!(plugins[0]["imports"].as_array().unwrap().iter().any(|i| i["name"].as_str().unwrap().starts_with("ferry:migration/app-tables")), "{}", plugins[0]);

    // The OpenAPI document lists every route this test used.
    let doc: Value = d.http.get(d.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for path in [
        "/api/v1/plans",
        "/api/v1/plans/{id}",
        "/api/v1/plans/{id}/checks",
        "/api/v1/plans/{id}/run",
        "/api/v1/plans/{id}/stop",
        "/api/v1/plans/{id}/audit",
        "/api/v1/plans/{id}/verification",
        "/api/v1/plans/{id}/failures.csv",
        "/api/v1/apps",
        "/api/v1/apps/{key}/decision",
        "/api/v1/apps/{key}/consent",
        "/api/v1/consent",
        "/api/v1/stages",
        "/api/v1/plugins",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not in the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["PlanRequest"].is_object());
    // Every answer this test received is described, field by field, by the document.
    for path in ["/plans", &format!("/plans/{id}"), "/plugins", &format!("/apps/{RATINGS}/consent")] {
        d.get(path).await;
    }
    assert_documented(&doc, &d.exchanges.lock().unwrap());
    let started = json!({"$ref": "#/components/schemas/RunStarted"});
    assert!(conforms(&doc, &started, &json!({"id": "p", "status": "running"}), "$").is_ok());
    assert!(conforms(&doc, &started, &json!({"id": "p", "status": "running", "extra": 1}), "$").is_err(), "an undeclared field is caught");
    assert!(conforms(&doc, &started, &json!({"id": 7, "status": "running"}), "$").is_err(), "a wrong type is caught");
    assert!(conforms(&doc, &started, &json!({"status": "running"}), "$").is_err(), "a missing field is caught");
    // A report fits exactly one of PlanShow's shapes (not also the not-run plan's), and an
    // answer that fits two options of a oneOf is caught.
    let show = json!({"$ref": "#/components/schemas/PlanShow"});
    assert!(conforms(&doc, &show, &report, "$").is_ok(), "{:?}", conforms(&doc, &show, &report, "$"));
    let not_run = json!({"id": "p", "name": "n", "status": "saved", "apps": []});
    assert!(conforms(&doc, &show, &not_run, "$").is_ok(), "{:?}", conforms(&doc, &show, &not_run, "$"));
    let either = json!({"oneOf": [{"type": "string"}, {"type": ["string", "null"]}]});
    assert!(conforms(&doc, &either, &json!("p"), "$").unwrap_err().contains("exactly one"));
    let listed = d.exchanges.lock().unwrap().iter().filter(|(_, p, s, _)| p == "/plans" && *s == StatusCode::OK).count();
    assert!(listed > 0);

    // No answer carries the destination token, the login token or a session secret.
    for path in ["/plans", &format!("/plans/{id}"), &format!("/plans/{id}/audit"), "/apps", "/consent", "/stages", "/plugins"] {
        answers.push(d.get(path).await.to_string());
    }
    for path in ["/", "/apps", "/plans", &format!("/plans/{id}"), "/plugins", "/stages", &format!("/apps/{RATINGS}/consent")] {
        let (status, html) = d.page(&session, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        answers.push(html);
    }
    let session_id = session.cookie.split_once('=').unwrap().1.to_string();
    for answer in &answers {
        for secret in [TOKEN, d.login_token.as_str(), d.token.as_str(), session_id.as_str()] {
            assert!(!answer.contains(secret), "an answer carries a secret");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_refuses_without_a_token_a_session_or_the_csrf_token() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    let d = Dashboard::start(&f).await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_string();

    // No token, a wrong one, a malformed header.
    let r = d.http.get(d.url("/api/v1/plans")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r.json().await.unwrap()), "unauthorized");
    let r = d.http.get(d.url("/api/v1/plans")).bearer_auth("ferry_0000").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = d.http.get(d.url("/api/v1/plans")).header("authorization", format!("Token {}", d.token)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "only Bearer is accepted");
    // A revoked token.
    let (_, second) = auth::create_token(&f.db, "to revoke").await.unwrap();
    assert_eq!(d.http.get(d.url("/api/v1/plans")).bearer_auth(&second).send().await.unwrap().status(), StatusCode::OK);
    assert!(auth::revoke_token(&f.db, "to revoke").await.unwrap());
    let r = d.http.get(d.url("/api/v1/plans")).bearer_auth(&second).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a revoked token is refused");
    // Tokens are stored hashed.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM api_tokens").fetch_all(f.db.pool()).await.unwrap();
    assert!(stored.iter().all(|s| s.len() == 64 && !s.contains(&second[6..])));
    // An API token does not open the pages.
    let r = d.http.get(d.url("/apps")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Pages need a session; the login link works once.
    let r = d.http.get(d.url("/apps")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("one-time login URL"));
    assert_eq!(d.http.get(d.url("/login?token=nope")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let session = d.login().await;
    let again = d.http.get(d.url(&format!("/login?token={}", d.login_token))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "the login link works once");
    let r = d.http.get(d.url("/apps")).header("cookie", "ferry_session=forged").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a forged session is refused");

    // A change through a session needs its CSRF token: none, a wrong one, then the right one.
    let decide = |csrf: Option<&str>| {
        let mut form = vec![("decision", "needed")];
        if let Some(csrf) = csrf {
            form.push(("csrf", csrf));
        }
        d.http.post(d.url(&format!("/apps/{RATINGS}/decision"))).header("cookie", &session.cookie).form(&form).send()
    };
    assert_eq!(decide(None).await.unwrap().status(), StatusCode::FORBIDDEN, "a form without its CSRF token is refused");
    assert_eq!(decide(Some("0123")).await.unwrap().status(), StatusCode::FORBIDDEN, "a wrong CSRF token is refused");
    assert_eq!(assess::decision(&f.db, RATINGS).await.unwrap().0, assess::Decision::NotAssessed, "nothing changed");
    let r = decide(Some(&session.csrf)).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(assess::decision(&f.db, RATINGS).await.unwrap().0, assess::Decision::Needed);
    // The API through a session: the header, or refused.
    let put = |csrf: Option<&str>| {
        let mut r = d.http.put(d.url(&format!("/api/v1/apps/{CALENDARS}/decision"))).header("cookie", &session.cookie).json(&json!({"decision": "needed"}));
        if let Some(csrf) = csrf {
            r = r.header("x-csrf-token", csrf);
        }
        r.send()
    };
    let r = put(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&r.json().await.unwrap()), "csrf");
    assert_eq!(put(Some("wrong")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(put(Some(&session.csrf)).await.unwrap().status(), StatusCode::OK);
    // A cross-site form post is refused even with the token.
    let r = d
        .http
        .post(d.url(&format!("/apps/{RATINGS}/decision")))
        .header("cookie", &session.cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("decision", "not-needed"), ("csrf", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Signing out ends the session.
    let r = d.http.post(d.url("/logout")).header("cookie", &session.cookie).form(&[("csrf", session.csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(d.page(&session, "/apps").await.0, StatusCode::UNAUTHORIZED);
    // A non-loopback address without TLS is refused unless asked for, loudly.
    let open = web::ServeOptions { listen: "0.0.0.0:8080".parse().unwrap(), tls: None, insecure_http: false, secret_envs: Vec::new() };
    assert!(open.check().unwrap_err().to_string().contains("--tls-cert"));
    let insecure = web::ServeOptions { insecure_http: true, ..open };
    assert!(insecure.check().unwrap().unwrap().starts_with("WARNING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_vendors_from_plugins_and_the_server_render_as_text() {
    let f = Fixture::new().await;
    let hostile_name = "<script>alert('name')</script><b>Ratings</b>";
    let hostile_vendor = "<img src=x onerror=alert(1)>Evil & Co \"quoted\"";
    let bytes = with_manifest(&wasm_bytes("page_ratings"), |m| {
        m["name"] = json!(hostile_name);
        m["vendor"] = json!(hostile_vendor);
        m["privacy_policy"] = json!("https://example.com/<script>policy</script>");
    });
    let signed = signature::sign(&bytes, &f.vendor_key().await).unwrap();
    Registry::new(f.db.clone()).install(&signed, false).await.unwrap();
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    // The Server database supplies names too.
    sqlx::query("UPDATE server_apps SET name = '<script>alert(\"server\")</script>', vendor = '<i>Vendor</i>'").execute(f.db.pool()).await.unwrap();
    assess::decide(&f.db, RATINGS, assess::Decision::Needed).await.unwrap();
    let d = Dashboard::start(&f).await;
    let session = d.login().await;
    for path in ["/apps", "/plugins", &format!("/apps/{RATINGS}/consent"), "/"] {
        let (status, html) = d.page(&session, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for raw in ["<script>alert", "<b>Ratings</b>", "<img src=x", "<i>Vendor</i>", "<script>policy"] {
            assert!(!html.contains(raw), "{path} renders {raw:?} as markup");
        }
        let only_ours = html.matches("<script").count();
        assert!(only_ours <= 1, "{path}: only the page's own script may appear");
        if path == "/plugins" {
            assert!(html.contains("&lt;script&gt;alert('name')&lt;/script&gt;&lt;b&gt;Ratings&lt;/b&gt;"), "the name is shown as text: {html}");
            assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;Evil &amp; Co &quot;quoted&quot;"), "the vendor is shown as text");
        }
        if path == "/apps" {
            assert!(html.contains("&lt;script&gt;alert(&quot;server&quot;)&lt;/script&gt;"), "the Server's app name is shown as text");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_progress_reaches_the_event_stream_when_another_process_records_it() {
    use futures_util::StreamExt;
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    add_sites(&f, &cloud).await;
    let d = Dashboard::start(&f).await;
    let (_, created) =
        d.api(reqwest::Method::POST, "/plans", Some(json!({"name": "live", "source": f.source_url, "cloud": "trial", "apps": "none", "spaces": "none"}))).await;
    let id = created["id"].as_str().unwrap().to_string();
    let session = d.login().await;
    let response = d.http.get(d.url("/plans/events")).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    let mut next_event = async || -> Value {
        loop {
            if let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event within 10 s").unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let first = next_event().await;
    let plan = first.as_array().unwrap().iter().find(|p| p["id"] == id.as_str()).unwrap().clone();
    assert_eq!(plan["status"], "saved");
    // What a migrator in another process writes: the status and a step's progress.
    sqlx::query("UPDATE plans SET status = 'running' WHERE id = ?").bind(&id).execute(f.db.pool()).await.unwrap();
    sqlx::query("INSERT INTO plan_progress (plan_id, step, done, total) VALUES (?, 'users', 7, 40)").bind(&id).execute(f.db.pool()).await.unwrap();
    let changed = next_event().await;
    let plan = changed.as_array().unwrap().iter().find(|p| p["id"] == id.as_str()).unwrap().clone();
    assert_eq!(plan["status"], "running");
    assert_eq!((plan["progress"]["users"]["done"].as_u64(), plan["progress"]["users"]["total"].as_u64()), (Some(7), Some(40)), "{plan}");
    // The cell the page shows, rendered (and escaped) by the server: the step waits, with
    // its bar and counts.
    let html = plan["progress_html"].as_str().unwrap();
    assert!(html.contains("data-step=\"users\"") && html.contains("7 / 40") && html.contains("waiting"), "{html}");
    assert_eq!(plan["live"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_session_cookie_is_secure_and_plain_http_gets_no_answer() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let (serve, login) = spawn_serve_with(&f, &["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()], "https");
    assert!(login.contains("/login?token="), "{login}");
    let base = login.split("/login").next().unwrap().to_string();

    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The login link gives a cookie that browsers send over TLS only.
    let response = trusting.get(&login).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.split(';').any(|part| part.trim() == flag), "{flag} is missing: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let home = trusting.get(format!("{base}/")).header(reqwest::header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()["strict-transport-security"], "max-age=31536000", "HSTS under TLS");
    assert!(home.text().await.unwrap().contains("Assess your apps"));
    // The API over TLS with a bearer token.
    let (_, token) = auth::create_token(&f.db, "tls").await.unwrap();
    let plans = trusting.get(format!("{base}/api/v1/plans")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(plans.status(), StatusCode::OK);
    assert!(plans.json::<Value>().await.unwrap().is_array());

    // A client that does not trust the certificate is refused at the handshake, and plain
    // HTTP on the same port gets no HTTP answer.
    let default = reqwest::Client::new();
    assert!(default.get(format!("{base}/api/v1/plans")).send().await.is_err(), "an untrusted certificate must fail the handshake");
    let plain = base.replacen("https://", "http://", 1);
    let answered = default.get(format!("{plain}/api/v1/plans")).bearer_auth(&token).send().await;
    assert!(answered.is_err() || answered.unwrap().status() != StatusCode::OK, "plain HTTP must not be served on the TLS port");
    drop(serve);
}

/// A loopback listener that counts the connections it is sent.
async fn listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", socket.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = socket.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_can_send_the_cloud_token_or_any_variable_to_a_url_of_its_choosing() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    add_sites(&f, &cloud).await;
    let d = Dashboard::start(&f).await;
    let (url, seen) = listener().await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_string();

    // The request the attacker sent: a destination of theirs and the production token's
    // variable; then any variable, and the source's password variable.
    for (field, value) in
        [("destination", url.as_str()), ("token_env", TOKEN_ENV), ("token_env", "HOME"), ("scim_url", url.as_str()), ("source_password_env", TOKEN_ENV)]
    {
        let mut body = plan_body(&f, "attack");
        body[field] = json!(value);
        if field == "token_env" {
            body["destination"] = json!(url);
        }
        let (status, answer) = d.api(reqwest::Method::POST, "/plans", Some(body)).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "bad-request".into()), "{field}: {answer}");
    }
    // A plan names a connected Cloud site, or nothing is made.
    let mut body = plan_body(&f, "no cloud");
    body.as_object_mut().unwrap().remove("cloud");
    let (status, answer) = d.api(reqwest::Method::POST, "/plans", Some(body)).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "refused".into()), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("ferry cloud connect"), "{answer}");
    let mut body = plan_body(&f, "unknown cloud");
    body["cloud"] = json!("theirs");
    let (status, answer) = d.api(reqwest::Method::POST, "/plans", Some(body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // A source the admin never added (a database of the caller's, say) is refused unread.
    let port = url.rsplit(':').next().unwrap();
    let mut body = plan_body(&f, "their database");
    body["source"] = json!(format!("postgres://ferry@127.0.0.1:{port}/theirs"));
    let (status, answer) = d.api(reqwest::Method::POST, "/plans", Some(body)).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "not-found".into()), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("ferry site add"), "{answer}");
    // The dashboard's form takes no URL or variable either.
    let session = d.login().await;
    let form =
        [("csrf", session.csrf.as_str()), ("name", "form attack"), ("source", f.source_url.as_str()), ("destination", url.as_str()), ("token_env", TOKEN_ENV)];
    let r = d.http.post(d.url("/plans")).header("cookie", &session.cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no connected site named");
    // A plan the admin made at the command line for a URL is checked and run there only.
    let direct = ferry_host::plan::Plan::new(
        "direct",
        &f.source_url,
        &f.site.join("attachments").display().to_string(),
        &ferry_host::cloud::Target { url: url.clone(), token_env: TOKEN_ENV.into(), ..ferry_host::cloud::Target::default() },
    );
    let direct = ferry_host::plan::Plan::create(&f.db, direct).await.unwrap();
    let (status, answer) = d.api(reqwest::Method::GET, &format!("/plans/{}/checks", direct.id), None).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "refused".into()), "{answer}");
    let (status, answer) = d.api(reqwest::Method::POST, &format!("/plans/{}/run", direct.id), Some(json!({"stage1": "proceed"}))).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "refused".into()), "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0, "the listener was sent nothing");
    assert_eq!(ferry_host::plan::Plan::list(&f.db).await.unwrap().len(), 1, "only the admin's plan exists");

    // A connected site whose token variable is not set: a refusal naming it, not a 500.
    sqlx::query("INSERT INTO cloud_sites (name, url, scim_url, token_env, connected_at) VALUES ('unset', ?, NULL, 'FERRY_WEB_TEST_NEVER_SET', 'now')")
        .bind(cloud.site.url())
        .execute(f.db.pool())
        .await
        .unwrap();
    let mut body = plan_body(&f, "unset token");
    body["cloud"] = json!("unset");
    body["apps"] = json!("none");
    let (status, created) = d.api(reqwest::Method::POST, "/plans", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    for (method, path) in [(reqwest::Method::POST, format!("/plans/{id}/run")), (reqwest::Method::GET, format!("/plans/{id}/checks"))] {
        let (status, answer) = d.api(method, &path, None).await;
        assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "refused".into()), "{path}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("$FERRY_WEB_TEST_NEVER_SET"), "{answer}");
    }
    // An empty plan id names no plan (it used to match them all).
    for path in ["/plans//checks", "/plans/%20/audit"] {
        let (status, answer) = d.api(reqwest::Method::GET, path, None).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "bad-request".into()), "{path}: {answer}");
    }
    let doc: Value = d.http.get(d.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let exchanges: Vec<_> = d.exchanges.lock().unwrap().iter().filter(|(_, p, _, _)| !p.contains("//") && !p.contains("%20")).cloned().collect();
    assert_documented(&doc, &exchanges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_forbids_framing_sniffing_referrers_and_caching() {
    let f = Fixture::new().await;
    let d = Dashboard::start(&f).await;
    let session = d.login().await;
    let answers = [
        d.http.get(d.url("/apps")).header("cookie", &session.cookie).send().await.unwrap(),
        d.http.get(d.url(&format!("/apps/{RATINGS}/consent"))).header("cookie", &session.cookie).send().await.unwrap(),
        d.http.get(d.url("/api/v1/plans")).bearer_auth(&d.token).send().await.unwrap(),
        d.http.get(d.url("/api/v1/plans")).send().await.unwrap(),
        d.http.get(d.url("/style.css")).send().await.unwrap(),
    ];
    for r in &answers {
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{}", r.url());
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(!h.contains_key("strict-transport-security"), "no HSTS over plain HTTP");
        if r.url().path() != "/style.css" {
            assert_eq!(h["cache-control"], "no-store", "{}", r.url());
        }
    }
    // The pages carry no inline script: the live-progress script is a file.
    let (_, plans) = d.page(&session, "/plans").await;
    assert!(plans.contains("<script src=\"/live.js\"></script>"), "{plans}");
    let script = d.http.get(d.url("/live.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("EventSource"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_from_another_origin_is_refused_even_with_a_valid_token() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    let d = Dashboard::start(&f).await;
    let decide = |header: Option<(&'static str, String)>| {
        let mut r = d.http.put(d.url(&format!("/api/v1/apps/{RATINGS}/decision"))).bearer_auth(&d.token).json(&json!({"decision": "needed"}));
        if let Some((name, value)) = header {
            r = r.header(name, value);
        }
        r.send()
    };
    let own = format!("http://{}", d.addr);
    for (name, value) in [
        ("origin", "http://evil.example".to_string()),
        ("referer", "http://evil.example/page".to_string()),
        ("origin", format!("http://127.0.0.1:{}", d.addr.port() + 1)),
    ] {
        let r = decide(Some((name, value.clone()))).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "csrf", "{body}");
    }
    assert_eq!(assess::decision(&f.db, RATINGS).await.unwrap().0, assess::Decision::NotAssessed, "nothing changed");
    assert_eq!(decide(Some(("origin", own.clone()))).await.unwrap().status(), StatusCode::OK, "its own origin");
    assert_eq!(decide(Some(("referer", format!("{own}/apps")))).await.unwrap().status(), StatusCode::OK, "a referer of its own");
    assert_eq!(decide(None).await.unwrap().status(), StatusCode::OK, "a script that sends neither");
    // A page's own form post (no-referrer makes a browser send `Origin: null`) passes on
    // its CSRF token; a cross-site one is still refused.
    let session = d.login().await;
    let post = |site: &'static str| {
        d.http
            .post(d.url(&format!("/apps/{RATINGS}/decision")))
            .header("cookie", &session.cookie)
            .header("origin", "null")
            .header("sec-fetch-site", site)
            .form(&[("decision", "not-needed"), ("csrf", session.csrf.as_str())])
            .send()
    };
    assert_eq!(post("cross-site").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post("same-origin").await.unwrap().status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_oversized_requests_do_not_hold_the_dashboard() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new().await;
    let d = Dashboard::start(&f).await;
    // How long until the server closes `stream` (reading whatever it sends first).
    async fn closed_within(mut stream: tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                Ok(Ok(_)) => continue,
                Err(_) => return None,
            }
        }
    }
    let connect = || tokio::net::TcpStream::connect(d.addr);

    // An absurd Content-Length is answered at once, before any body.
    let mut huge = connect().await.unwrap();
    huge.write_all(b"POST /api/v1/plans HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), huge.read(&mut answer)).await.expect("an answer at once").unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer[..n]));

    // Connections are bounded: one more than the bound is closed at once.
    let mut held = Vec::new();
    for _ in 0..web::server::MAX_CONNECTIONS {
        held.push(connect().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let extra = connect().await.unwrap();
    assert!(closed_within(extra, Duration::from_secs(3)).await.is_some(), "the connection over the bound was kept");
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Half-sent requests and idle keep-alive connections are closed after the header
    // timeout; meanwhile the dashboard answers others.
    let mut waiting = Vec::new();
    for _ in 0..50 {
        let mut half = connect().await.unwrap();
        half.write_all(b"GET /api/v1/plans HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        waiting.push(half);
    }
    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    waiting.push(idle);
    assert_eq!(d.http.get(d.url("/api/v1/plans")).bearer_auth(&d.token).send().await.unwrap().status(), StatusCode::OK);
    let limit = web::server::HEADER_READ + Duration::from_secs(5);
    let closed = futures_util::future::join_all(waiting.into_iter().map(|s| closed_within(s, limit))).await;
    assert!(closed.iter().all(Option::is_some), "{} of 51 slow or idle connections stayed open", closed.iter().filter(|c| c.is_none()).count());
}

/// A child process killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ferry serve` in a process of its own on the fixture's state (killed when dropped),
/// and its address.
fn spawn_serve(f: &Fixture) -> (Killed, String) {
    let (serve, login) = spawn_serve_with(f, &[], "http");
    (serve, login.split("/login").next().unwrap().to_string())
}

/// `ferry serve ARGS` on loopback in a process of its own (killed when dropped), and the
/// one-time login URL it prints (`scheme`: `http` or `https`).
fn spawn_serve_with(f: &Fixture, args: &[&std::ffi::OsStr], scheme: &str) -> (Killed, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("FERRY_HOME", f.home())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let prefix = format!("{scheme}://");
    let login = lines.by_ref().map_while(Result::ok).find_map(|l| l.trim().strip_prefix(&prefix).map(|rest| format!("{prefix}{rest}"))).expect("a login URL");
    // Read the rest as it comes: a closed pipe would end the server at its next line.
    std::thread::spawn(move || lines.for_each(drop));
    (Killed(child), login)
}

/// The plan's status and error as `ferry serve` at `base` reports them.
async fn status_of(http: &reqwest::Client, base: &str, token: &str, id: &str) -> (String, Option<String>) {
    let report: Value = http.get(format!("{base}/api/v1/plans/{id}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    (report["status"].as_str().unwrap_or_default().to_string(), report["error"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_from_the_dashboard_outlives_it_and_a_dead_worker_ends_its_plan_failed() {
    let options = ferry_host::sample::SampleOptions { pages_per_space: 150, ..Default::default() };
    let f = Fixture::with(None, &options).await;
    let cloud = Cloud::start(Faults { latency: Duration::from_millis(20), ..Faults::default() }).await;
    add_sites(&f, &cloud).await;
    let (_, token) = auth::create_token(&f.db, "tests").await.unwrap();
    let http = reqwest::Client::new();
    // Every app decided not needed: the core migration alone.
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    let (serve, base) = spawn_serve(&f);
    let apps: Value = http.get(format!("{base}/api/v1/apps")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    for app in apps.as_array().unwrap() {
        let key = app["key"].as_str().unwrap();
        let decided = http.put(format!("{base}/api/v1/apps/{key}/decision")).bearer_auth(&token).json(&json!({"decision": "not-needed"})).send().await.unwrap();
        assert_eq!(decided.status(), StatusCode::OK);
    }
    drop(serve);
    let f = &f;
    let create = |name: &str| {
        let (http, token, body) = (http.clone(), token.clone(), plan_body(f, name));
        async move {
            let (serve, base) = spawn_serve(f);
            let made: Value = http.post(format!("{base}/api/v1/plans")).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
            (serve, base, made["id"].as_str().unwrap().to_string())
        }
    };

    // A run outlives the dashboard that started it: `ferry serve` killed, the plan finishes.
    let (serve, base, id) = create("outlives the dashboard").await;
    let started = http.post(format!("{base}/api/v1/plans/{id}/run")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED, "{}", started.text().await.unwrap());
    assert_eq!(status_of(&http, &base, &token, &id).await.0, "running");
    drop(serve);
    let deadline = Instant::now() + Duration::from_secs(180);
    let plan = loop {
        let plan = ferry_host::plan::Plan::get(&f.db, &id).await.unwrap();
        if plan.status != "running" {
            break plan;
        }
        assert!(Instant::now() < deadline, "still running after 3 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(plan.status == "finished" || plan.status == "incomplete", "the run went on without the dashboard: {}", plan.status);
    assert!(f.home().join("logs").join(format!("plan-{id}.log")).exists(), "its output is kept");

    // A worker killed mid-run: within a minute its plan ends failed, with why and what to do.
    let (serve, base, id) = create("its worker dies").await;
    let started = http.post(format!("{base}/api/v1/plans/{id}/run")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let pid: i64 = sqlx::query_scalar("SELECT worker_pid FROM plans WHERE id = ?").bind(&id).fetch_one(f.db.pool()).await.unwrap();
    assert_ne!(pid, i64::from(serve.0.id()), "the run has a process of its own");
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let (status, error) = loop {
        let (status, error) = status_of(&http, &base, &token, &id).await;
        if status != "running" {
            break (status, error);
        }
        assert!(Instant::now() < deadline, "still running a minute after its worker died");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let error = error.unwrap_or_default();
    assert_eq!(status, "failed", "{error}");
    assert!(error.contains(&format!("its process ({pid}) is gone")) && error.contains("create a new plan"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_listed_a_page_at_a_time_filtered_by_status_and_searched_by_name() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    add_sites(&f, &cloud).await;
    let d = Dashboard::start(&f).await;
    for n in 0..7 {
        let name = if n % 2 == 0 { format!("alpha {n}") } else { format!("beta {n}") };
        let (status, made) = d.api(reqwest::Method::POST, "/plans", Some(plan_body(&f, &name))).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    // One plan ended: the status filter finds it alone.
    let stopped = d.get("/plans?q=beta%201").await[0]["id"].as_str().unwrap().to_string();
    sqlx::query("UPDATE plans SET status = 'stopped' WHERE id = ?").bind(&stopped).execute(f.db.pool()).await.unwrap();

    let page = |query: &str| {
        let (http, url, token) = (d.http.clone(), d.url(&format!("/api/v1/plans{query}")), d.token.clone());
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let total = r.headers().get("x-total-count").map(|v| v.to_str().unwrap().parse::<usize>().unwrap());
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (status, total, body)
        }
    };
    let names = |body: &Value| body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (_, total, first) = page("?limit=3").await;
    assert_eq!((total, names(&first)), (Some(7), vec!["alpha 6".to_string(), "beta 5".into(), "alpha 4".into()]), "newest first");
    let (_, _, last) = page("?limit=3&offset=6").await;
    assert_eq!(names(&last), ["alpha 0"]);
    let (_, total, alphas) = page("?q=ALPHA").await;
    assert_eq!((total, alphas.as_array().unwrap().len()), (Some(4), 4), "search ignores case");
    let (_, total, ended) = page("?status=stopped").await;
    assert_eq!((total, names(&ended)), (Some(1), vec!["beta 1".to_string()]));
    let (status, _, refused) = page("?limit=many").await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad-request")), "{refused}");
    // Without paging options the whole list is `plan list --json`, newest first.
    assert_eq!(d.get("/plans").await.as_array().unwrap().len(), 7);

    // The page: status tabs with counts, a search, and the pager.
    let session = d.login().await;
    let (_, html) = d.page(&session, "/plans?q=beta").await;
    let count = |status: &str, n: usize| format!("<span class=\"count\" data-status=\"{status}\">{n}</span>");
    assert!(
        html.contains(&format!("All ({})", count("", 3))) && html.contains(&format!("stopped ({})", count("stopped", 1))) && html.contains("Plans 1–3 of 3"),
        "{html}"
    );
    assert!(!html.contains("alpha 2"), "the search keeps only betas");
    assert!(!html.contains("data-live-counts"), "counts of a search are not replaced by the live counts of every plan");
    let (_, html) = d.page(&session, "/plans").await;
    assert!(html.contains("data-live-counts") && html.contains(&format!("All ({})", count("", 7))), "{html}");
    let (_, html) = d.page(&session, "/plans?status=stopped").await;
    assert!(html.contains("beta 1") && !html.contains("beta 3"), "{html}");
    let (_, html) = d.page(&session, "/plans?q=zzz").await;
    assert!(html.contains("No plan matches."), "{html}");
}

/// A form posted with the session's cookie: its status and the page it answers with.
async fn post_form(d: &Dashboard, session: &Session, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = d.http.post(d.url(path)).header("cookie", &session.cookie).form(fields).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_pages_do_what_the_commands_do_refuse_as_they_do_and_keep_what_was_typed() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    let d = Dashboard::start(&f).await;
    let session = d.login().await;
    let csrf = session.csrf.as_str();

    // Every setup form refuses a post without the session's CSRF token, and changes nothing.
    for path in ["/sites/server", "/sites/cloud", "/plugins/trust", "/tokens", "/tokens/x/revoke", "/plugins/x/remove", &format!("/apps/{RATINGS}/installed")] {
        let (status, _) = post_form(&d, &session, path, &[("name", "x")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} without its CSRF token");
    }
    let r = d
        .http
        .post(d.url("/plugins/install"))
        .header("cookie", &session.cookie)
        .multipart(reqwest::multipart::Form::new().text("allow_unsigned", "yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "an upload without its CSRF token");
    assert!(ferry_host::sites::list(&f.db).await.unwrap().is_empty() && auth::list_tokens(&f.db).await.unwrap().len() == 1);
    // An API token opens none of these pages.
    for path in ["/sites", "/plugins", "/tokens"] {
        assert_eq!(d.http.get(d.url(path)).bearer_auth(&d.token).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    // A Server site: a password in the URL is refused in place, the URL shown without it.
    let (status, html) =
        post_form(&d, &session, "/sites/server", &[("csrf", csrf), ("source", "postgres://ferry:hunter2@db.invalid/wiki"), ("name", "wiki")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("role=\"alert\"") && html.contains("value=\"wiki\"") && html.contains("postgres://ferry:***@db.invalid/wiki"), "{html}");
    assert!(!html.contains("hunter2"), "the password typed is not shown back");
    let (status, html) = post_form(&d, &session, "/sites/server", &[("csrf", csrf), ("source", &f.source_url), ("name", "wiki")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Added <strong>wiki</strong>"), "{html}");
    let site = ferry_host::sites::list(&f.db).await.unwrap().remove(0);
    assert_eq!((site.name.as_deref(), site.product.as_str()), (Some("wiki"), "confluence"));

    // A Cloud site: an email and the scoped box together are refused, naming the fields, and
    // what was typed stays; then the site is proven and connected, its token never shown.
    let target = cloud.target();
    let url = target.url.clone();
    let scim = target.scim_url.clone().unwrap();
    let scim_env = target.scim_token_env.clone().unwrap();
    let email = target.email.clone().unwrap();
    let mut fields =
        vec![("csrf", csrf), ("name", "trial"), ("url", url.as_str()), ("email", email.as_str()), ("token_env", TOKEN_ENV), ("scoped_token", "yes")];
    let (status, html) = post_form(&d, &session, "/sites/cloud", &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("scoped-token box") && html.contains(&format!("value=\"{url}\"")) && html.contains("value=\"trial\""), "{html}");
    fields.pop();
    // A variable `ferry serve` was not started allowing is never named to a site.
    let mut other = fields.clone();
    other[4] = ("token_env", "HOME");
    let (status, html) = post_form(&d, &session, "/sites/cloud", &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("$HOME is not a variable this dashboard may name") && html.contains("--secret-env HOME"), "{html}");
    assert!(ferry_host::cloud::list(&f.db).await.unwrap().is_empty());
    fields.extend([("scim_url", scim.as_str()), ("scim_token_env", scim_env.as_str()), ("app_endpoints", "not a pair")]);
    let (status, html) = post_form(&d, &session, "/sites/cloud", &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("“App endpoints”: &quot;not a pair&quot; is not APP_KEY=VALUE"), "{html}");
    fields.pop();
    let (status, html) = post_form(&d, &session, "/sites/cloud", &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Connected <strong>trial</strong>") && html.contains("proven: "), "{html}");
    assert!(!html.contains(TOKEN), "the token is never shown");
    assert_eq!(ferry_host::cloud::get(&f.db, "trial").await.unwrap().target.token_env, TOKEN_ENV);

    // A plan: a wrong number and an option that needs another are refused in place, in the
    // form's own words, with every field as it was typed.
    let (status, html) = d.page(&session, "/plans/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("name=\"trusted_domains\"")
            && html.contains("name=\"attachments_only\"")
            && html.contains("name=\"product_group\"")
            && html.contains("name=\"app_deadline_minutes\"")
    );
    let plan_fields = |extra: Vec<(&'static str, &'static str)>| {
        let mut v: Vec<(String, String)> = [
            ("csrf", csrf),
            ("name", "typed name"),
            ("source", site.id.as_str()),
            ("cloud", "trial"),
            ("users", "related"),
            ("trusted_domains", "example.com"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        v.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    };
    let (dashboard, cookie) = (&d, &session.cookie);
    let post_plan = |fields: Vec<(String, String)>| async move {
        let r = dashboard.http.post(dashboard.url("/plans")).header("cookie", cookie).form(&fields).send().await.unwrap();
        (r.status(), r.headers().get("location").map(|l| l.to_str().unwrap().to_string()), r.text().await.unwrap())
    };
    let (status, _, html) = post_plan(plan_fields(vec![("app_deadline_minutes", "soon")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("“App deadline” is a number of minutes"), "{html}");
    assert!(
        html.contains("value=\"typed name\"") && html.contains("value=\"example.com\"") && html.contains("value=\"related\" selected"),
        "the input is kept: {html}"
    );
    let (status, _, html) = post_plan(plan_fields(vec![("spaces", "none"), ("attachments_only", "yes")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("“Attachments only” needs spaces") && !html.contains("--attachments-only"), "the form's words, not the flag's: {html}");
    assert!(html.contains("name=\"attachments_only\" value=\"yes\" checked"), "{html}");
    let attachments = f.site.join("attachments").display().to_string();
    let mut good = plan_fields(vec![("spaces", "ENG"), ("app_deadline_minutes", "30"), ("product_group", "confluence-users")]);
    good.push(("attachments".into(), attachments));
    let (status, location, _) = post_plan(good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let plan = ferry_host::plan::Plan::list(&f.db).await.unwrap().remove(0);
    assert_eq!(location.as_deref(), Some(format!("/plans/{}", plan.id).as_str()));
    assert_eq!((plan.app_deadline_secs, plan.trusted_domains.clone()), (1800, vec!["example.com".to_string()]));

    // The checks page sums up and offers the run.
    let (status, html) = post_form(&d, &session, &format!("/plans/{}/check", plan.id), &[("csrf", csrf)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"checks-summary\"") && html.contains(" passed") && (html.contains("Run the plan") || html.contains("cannot run")), "{html}");

    // API tokens: made and shown once, working, listed without the secret, revoked.
    let (status, html) = post_form(&d, &session, "/tokens", &[("csrf", csrf), ("name", "ci")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let secret = html.split("id=\"new-token\">").nth(1).and_then(|s| s.split('<').next()).unwrap().to_string();
    assert_eq!(d.http.get(d.url("/api/v1/plans")).bearer_auth(&secret).send().await.unwrap().status(), StatusCode::OK);
    let (_, listed) = d.page(&session, "/tokens").await;
    assert!(listed.contains("data-token=\"ci\"") && !listed.contains(&secret), "the token is shown once only");
    let (status, html) = post_form(&d, &session, "/tokens", &[("csrf", csrf), ("name", "ci")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a second token of a name is refused in place: {html}");
    assert!(html.contains("exists") && html.contains("value=\"ci\""), "{html}");
    let id = auth::list_tokens(&f.db).await.unwrap().into_iter().find(|t| t.name == "ci").unwrap().id;
    let (status, _) = post_form(&d, &session, &format!("/tokens/{id}/revoke"), &[("csrf", csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d.http.get(d.url("/api/v1/plans")).bearer_auth(&secret).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Plugins: a key that is not one is refused in place; an unsigned plugin is refused
    // unless the admin chooses to install it anyway; then it is marked installed in the cloud.
    let (status, html) = post_form(&d, &session, "/plugins/trust", &[("csrf", csrf), ("name", "Acme"), ("public_key", "ed25519:nothex")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("value=\"Acme\"") && html.contains("role=\"alert\""), "{html}");
    let upload = |allow: bool| {
        let part = reqwest::multipart::Part::bytes(wasm_bytes("page_ratings")).file_name("page_ratings.wasm");
        let mut form = reqwest::multipart::Form::new().text("csrf", csrf.to_string()).part("plugin", part);
        if allow {
            form = form.text("allow_unsigned", "yes");
        }
        d.http.post(d.url("/plugins/install")).header("cookie", &session.cookie).multipart(form).send()
    };
    let r = upload(false).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("page_ratings.wasm was refused"));
    assert!(Registry::new(f.db.clone()).get(RATINGS).await.unwrap().is_none(), "nothing installed");
    let r = upload(true).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Installed <strong>") && html.contains("installed unsigned by your choice"), "{html}");
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().expect("installed");
    assert!(plugin.allowed_unsigned);
    // The audits are searched (and paged, ten to a page).
    let (_, html) = d.page(&session, "/plugins?q=RATINGS").await;
    assert!(html.contains(&format!("data-app=\"{RATINGS}\"")), "a search is not case-sensitive: {html}");
    let (_, html) = d.page(&session, "/plugins?q=calendars").await;
    assert!(html.contains("No plugin matches.") && !html.contains(&format!("data-app=\"{RATINGS}\"")), "{html}");
    let (status, _) = post_form(&d, &session, &format!("/apps/{RATINGS}/installed"), &[("csrf", csrf), ("cloud", "trial")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(ferry_host::cloud::app_confirmed(&f.db, &url, &plugin.cloud_app_key).await.unwrap().is_some());

    // The consent card: agreeing needs the box ticked; then only Revoke is offered.
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    assess::decide(&f.db, RATINGS, assess::Decision::Needed).await.unwrap();
    let given =
        || async { ferry_host::consent::list(&f.db).await.unwrap().iter().any(|l| l.app == RATINGS && l.status == ferry_host::consent::ConsentStatus::Given) };
    let agree_path = format!("/apps/{RATINGS}/consent/agree");
    let (status, html) = post_form(&d, &session, &agree_path, &[("csrf", csrf), ("sha256", plugin.sha256.as_str())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(!given().await, "no consent without the box ticked");
    let (status, html) = post_form(&d, &session, &agree_path, &[("csrf", csrf), ("sha256", plugin.sha256.as_str()), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(given().await && html.contains("id=\"revoke\"") && !html.contains("id=\"agree\""), "{html}");
    assert!(!html.contains("What changed since"), "no empty heading: {html}");
    let (status, html) = post_form(&d, &session, &format!("/apps/{RATINGS}/consent/revoke"), &[("csrf", csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!given().await && html.contains("id=\"agree\""), "{html}");

    // A run the rules refuse comes back as the plan's checks with the reason on top, in the
    // form's words: here a plan with a Stage 1 app run without the Stage 1 choice.
    let (status, _) = post_form(&d, &session, &agree_path, &[("csrf", csrf), ("sha256", plugin.sha256.as_str()), ("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::OK);
    let with_app = plan_fields(vec![("name", "with its app"), ("spaces", "ENG"), ("attachments", "")]);
    let with_app: Vec<(String, String)> = with_app
        .into_iter()
        .filter(|(k, v)| !(k == "name" && v == "typed name") && k != "attachments")
        .chain([("attachments".to_string(), f.site.join("attachments").display().to_string())])
        .collect();
    let (status, _, html) = post_plan(with_app).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let staged = ferry_host::plan::Plan::list(&f.db).await.unwrap().into_iter().find(|p| p.name == "with its app").unwrap();
    assert_eq!(staged.plan_apps.len(), 1);
    let (status, html) = post_form(&d, &session, &format!("/plans/{}/run", staged.id), &[("csrf", csrf)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains("id=\"checks-summary\"") && html.contains("role=\"alert\"") && !html.contains("--stage1"), "{html}");
    assert_eq!(ferry_host::plan::Plan::get(&f.db, &staged.id).await.unwrap().status, "saved", "nothing ran");

    // An unknown address is the not-found page, inside the layout.
    let (status, html) = d.page(&session, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<title>Not found · Ferry</title>") && html.contains("href=\"/sites\"") && html.contains("/no/such/page"), "{html}");
    let r = d.http.get(d.url("/api/v1/no-such")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not-found");
}
