//! The dashboard's pages: server-rendered HTML (maud escapes every value it is given),
//! a stylesheet, and one small script for live plan progress.
//!
//! Every value a plugin, a manifest or a Server database supplies reaches the page
//! through maud's `(…)` splice, which HTML-escapes it; nothing is spliced unescaped but
//! the fixed stylesheet, the script and SVG built from numbers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use futures_util::StreamExt;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

mod setup;

pub use setup::MAX_UPLOAD;

use super::auth::{self, SESSION_COOKIE};
use super::{Caller, Failure, Web};
use ferry_apps::assess::{self, Decision};
use ferry_apps::consent;
use ferry_apps::stages::{self, Stage};
use ferry_migrate::plan::{self, Plan};

/// The page routes.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/logout", post(logout))
        .route("/style.css", get(style))
        .route("/live.js", get(live_script))
        .route("/page.js", get(page_script))
        .route("/apps", get(apps))
        .route("/apps/assess", post(assess_apps))
        .route("/apps/{key}/decision", post(decide))
        .route("/apps/{key}/consent", get(consent_card))
        .route("/apps/{key}/consent/agree", post(agree))
        .route("/apps/{key}/consent/revoke", post(revoke))
        .route("/plans", get(plans).post(create_plan))
        .route("/plans/new", get(new_plan))
        .route("/plans/events", get(plan_events))
        .route("/plans/{id}", get(report))
        .route("/plans/{id}/check", post(check_plan))
        .route("/plans/{id}/verification", get(verification_page))
        .route("/plans/{id}/report.json", get(report_export))
        .route("/plans/{id}/failures.csv", get(failures_export))
        .route("/plans/{id}/run", post(run_plan))
        .route("/plans/{id}/stop", post(stop_plan))
        .route("/plans/{id}/apps/{key}/rerun", post(rerun_app))
        .route("/stages", get(stages_page))
        .merge(setup::routes())
}

type PageResult = Result<Response, Failure>;

/// The stylesheet: plain, readable, no build step.
const STYLE: &str = r#"
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #172b4d; background: #f7f8f9; }
header { background: #0c66e4; color: white; padding: .6em 1.5em; display: flex; flex-wrap: wrap; gap: .4em 1.4em; align-items: center; }
header a { color: white; text-decoration: none; font-weight: 500; }
header a.here { text-decoration: underline; text-underline-offset: .3em; }
nav.sections a { margin-right: .9em; }
header form { margin-left: auto; }
main { padding: 1em 1.5em 3em; max-width: 1320px; box-sizing: border-box; }
h1 { font-size: 1.5em; margin: .4em 0 .8em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; background: white; margin: .5em 0 1em; }
th, td { border: 1px solid #dcdfe4; padding: .35em .6em; text-align: left; vertical-align: top; }
th { background: #f1f2f4; }
.steps { display: grid; grid-template-columns: repeat(3, 1fr); gap: 1em; }
.step { background: white; border: 1px solid #dcdfe4; border-radius: 6px; padding: 1em; }
.step h2 { margin-top: 0; }
.state { font-weight: 600; }
.ok { color: #216e4e; } .warn { color: #a54800; } .bad { color: #ae2e24; }
.muted { color: #626f86; }
.note { background: #fff7d6; border: 1px solid #f5cd47; padding: .6em .9em; border-radius: 4px; }
.error { background: #ffeceb; border: 1px solid #f87168; padding: .6em .9em; border-radius: 4px; }
.done { background: #dcfff1; border: 1px solid #4bce97; padding: .6em .9em; border-radius: 4px; }
form.inline { display: inline; }
[hidden] { display: none !important; }
button { cursor: pointer; padding: .25em .8em; }
button.primary, a.primary { background: #0c66e4; color: white; border: 1px solid #0c66e4; padding: .35em .9em; border-radius: 4px; text-decoration: none; font-weight: 500; }
button.danger { color: #ae2e24; border: 1px solid #f87168; background: white; border-radius: 4px; }
label { display: block; margin: .35em 0; }
label span { display: inline-block; min-width: 12em; }
label.check span { min-width: 0; }
label small { display: block; margin-left: 12.3em; color: #626f86; }
input[type=text], input:not([type]), input[type=url], input[type=search], textarea { max-width: 100%; box-sizing: border-box; }
fieldset { border: 1px solid #dcdfe4; border-radius: 6px; background: white; margin: .8em 0; max-width: 52em; }
legend { font-weight: 600; padding: 0 .3em; }
code, .mono { font-family: ui-monospace, monospace; font-size: .92em; overflow-wrap: anywhere; }
progress { width: 8em; }
.status { display: inline-block; padding: 0 .45em; border-radius: 3px; font-weight: 600; font-size: .9em; background: #f1f2f4; color: #44546f; }
.status-running { background: #e9f2ff; color: #0055cc; }
.status-finished, .status-given, .status-complete { background: #dcfff1; color: #216e4e; }
.status-incomplete, .status-stopped, .status-outdated { background: #fff7d6; color: #a54800; }
.status-failed, .status-revoked { background: #ffeceb; color: #ae2e24; }
.step-line { white-space: nowrap; }
.step-line .step-name { display: inline-block; min-width: 6.5em; }
.step-line[data-state="waiting"], .step-line[data-state="not reached"] { color: #626f86; }
.step-line[data-state="stopped"] .step-state, .step-line[data-state="not reached"] .step-state { color: #a54800; }
.step-line[data-state="done"] .step-state { color: #216e4e; }
.overall { margin-bottom: .3em; }
td.plan-progress { min-width: 19em; }
td.plan-what { max-width: 16em; overflow-wrap: anywhere; }
.failures { overflow-wrap: anywhere; white-space: normal; max-width: 24em; }
nav.tabs a { margin-right: .8em; }
nav.tabs a.here { font-weight: 600; text-decoration: none; color: inherit; }
form.search { margin: .6em 0; }
.summary { font-size: 1.05em; font-weight: 600; }
.actions { margin: 1em 0; display: flex; flex-wrap: wrap; gap: .6em; align-items: center; }
.secret { background: white; border: 2px dashed #0c66e4; padding: .6em; font-size: 1.05em; }
@media (max-width: 1100px) {
  .steps { grid-template-columns: 1fr; }
  main { padding: 1em .8em 3em; }
  label span { min-width: 9em; }
  label small { margin-left: 0; }
  td.plan-progress { min-width: 15em; }
  progress { width: 6em; }
}
"#;

/// Live progress: the plans page listens to `/plans/events` and updates each plan's
/// status and step counts in place.
const LIVE_SCRIPT: &str = r#"
const events = new EventSource('/plans/events');
events.addEventListener('progress', (e) => {
  const plans = JSON.parse(e.data);
  // The status tabs' counts, when they count every plan (no search).
  const tabs = document.querySelector('#status-tabs[data-live-counts]');
  if (tabs) {
    for (const count of tabs.querySelectorAll('.count')) {
      const status = count.dataset.status;
      count.textContent = plans.filter((p) => status === '' || p.status === status).length;
    }
  }
  for (const p of plans) {
    const row = document.querySelector(`[data-plan="${CSS.escape(p.id)}"]`);
    if (!row) continue;
    for (const status of row.querySelectorAll('.plan-status')) { status.textContent = p.status; status.className = `plan-status status status-${p.status}`; }
    for (const form of row.querySelectorAll('.when-saved')) form.hidden = p.status !== 'saved';
    for (const form of row.querySelectorAll('.when-running')) form.hidden = p.status !== 'running';
    // The server renders the cell (escaping what it shows), for plans running or ended
    // just now; the others keep what their page was drawn with.
    const cell = row.querySelector('.plan-progress');
    if (cell && p.live) cell.innerHTML = p.progress_html;
    // A plan's own page, drawn while it ran, shows its report once it ends.
    if (row.dataset.reloadWhenEnded !== undefined && p.status !== 'running' && p.status !== 'saved') location.reload();
    const apps = row.querySelector('.plan-apps');
    if (apps && p.apps) {
      apps.textContent = '';
      for (const a of p.apps) {
        const line = document.createElement('div');
        line.textContent = `${a.app}: ${a.status}`;
        apps.appendChild(line);
      }
    }
  }
});
"#;

/// Every page's own script: dates and times in the admin's time zone (the page is drawn
/// with UTC, which shows where scripts do not run), and a confirmation before a form
/// marked `data-confirm` is sent.
const PAGE_SCRIPT: &str = r#"
const shown = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
for (const t of document.querySelectorAll('time[datetime]')) {
  const when = new Date(t.getAttribute('datetime'));
  if (!isNaN(when)) { t.title = t.getAttribute('datetime'); t.textContent = shown.format(when); }
}
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
}
"#;

/// The sections every page links to.
const NAVIGATION: [(&str, &str); 7] =
    [("/", "Home"), ("/sites", "Sites"), ("/apps", "Apps"), ("/plans", "Plans"), ("/plugins", "Plugins"), ("/stages", "Stages"), ("/tokens", "API tokens")];

/// A whole page: the navigation, the content, and a sign-out button.
fn page(title: &str, here: &str, csrf: Option<&str>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Ferry" }
                link rel="stylesheet" href="/style.css";
                script src="/page.js" defer {}
            }
            body {
                header {
                    strong { "Ferry" }
                    nav.sections {
                        @for (href, label) in NAVIGATION {
                            a href=(href) class=[(href == here).then_some("here")] { (label) } " "
                        }
                    }
                    @if let Some(csrf) = csrf {
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h1 { (title) } (content) }
            }
        }
    }
}

/// A moment as the pages show it: UTC to the minute, which the page's script turns
/// into the admin's own time zone (the exact value is the element's title).
pub fn when(timestamp: &str) -> Markup {
    let utc = match (timestamp.get(..10), timestamp.get(11..16)) {
        (Some(day), Some(time)) if timestamp.as_bytes().get(10) == Some(&b'T') => format!("{day} {time} UTC"),
        _ => timestamp.to_string(),
    };
    html! { time datetime=(timestamp) { (utc) } }
}

/// A status as a coloured label (the live script keeps its class in step).
fn status_label(status: &str) -> Markup {
    html! { span class={ "plan-status status status-" (status) } { (status) } }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], axum::response::Html(markup.into_string())).into_response()
}

/// An error page (also for refusals before sign-in), inside the layout, with a way on.
pub fn failure_page(csrf: Option<&str>, failure: Failure) -> Response {
    let title = match failure.status {
        StatusCode::UNAUTHORIZED => "Sign in",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not now",
        s if s.is_client_error() => "That cannot be done",
        _ => "Something went wrong",
    };
    let content = html! {
        p.error { (in_form_words(&failure.message)) }
        p.muted { "code: " code { (failure.code) } }
        @if failure.status != StatusCode::UNAUTHORIZED { p { a href="/" { "Home" } " · " a href="/plans" { "Plans" } } }
    };
    html_response(failure.status, page(title, "", csrf, content))
}

/// What the answer to an unknown address is: the not-found page in the layout (JSON
/// under `/api/`).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let failure = Failure::new(StatusCode::NOT_FOUND, "not-found", format!("there is no page at {}: the links above lead to every part of Ferry", uri.path()));
    if uri.path().starts_with("/api/") {
        failure.json()
    } else {
        failure_page(None, failure)
    }
}

/// The command line's options, as the dashboard's forms name them: a message meant for
/// either speaks of the field on a page.
const FORM_WORDS: &[(&str, &str)] = &[
    ("--stage1 proceed", "“Stage 1 apps: proceed”"),
    ("--stage1 remove", "“Stage 1 apps: remove”"),
    ("--trusted-domains DOMAIN,DOMAIN", "the plan's “Trusted domains” field (DOMAIN,DOMAIN)"),
    ("--trusted-domains", "the plan's “Trusted domains” field"),
    ("--attachments-only", "“Attachments only”"),
    ("--attachments", "“Attachment folder”"),
    ("--app-endpoint APP=URL", "an “App endpoints” line APP=URL on the Sites page"),
    ("--app-endpoint", "“App endpoints” on the Sites page"),
    ("--app-secret-env APP=VAR", "an “App secret variables” line APP=VAR on the Sites page"),
    ("--allow-unsigned", "“Install it even though no trusted key signed it”"),
    ("--product-group", "“Product group”"),
    ("--app-deadline", "“App deadline”"),
    ("--customers", "“Customers”"),
    ("--projects", "“Projects”"),
    ("--spaces", "“Spaces”"),
    ("--users", "“Users”"),
    ("--history", "“Page history”"),
    ("--cloud", "“Cloud site”"),
    ("--scim-url", "“Directory URL”"),
    ("--scim-token-env", "“Directory key variable”"),
    ("--token-env", "“API token variable”"),
    ("--email", "“Admin email”"),
    ("--accounts-csv", "“User export”"),
];

/// `message` with each command-line option it names put as the form field that sets it.
pub fn in_form_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        for (flag, words) in FORM_WORDS {
            let boundary = rest.as_bytes().get(flag.len()).is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'-'));
            if rest.starts_with(flag) && boundary {
                out.push_str(words);
                rest = &rest[flag.len()..];
                continue 'scan;
            }
        }
        out.push_str("--");
        rest = &rest[2..];
    }
    out.push_str(rest);
    out
}

/// What a form was sent with, and why it was refused: its page draws it again with
/// the values in place and the message above it.
#[derive(Default)]
struct Sent {
    values: BTreeMap<String, String>,
    error: Option<String>,
}

impl Sent {
    /// The form sent `values` and was refused with `failure`.
    fn refused(values: BTreeMap<String, String>, failure: &Failure) -> Sent {
        Sent { values, error: Some(in_form_words(&failure.message)) }
    }

    /// The value sent for `field` (empty when none).
    fn value(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or_default()
    }

    /// Whether `field` was sent (a checked box).
    fn checked(&self, field: &str) -> bool {
        self.values.get(field).is_some_and(|v| !v.is_empty())
    }

    /// Whether `option` was the value chosen for `field`.
    fn chose(&self, field: &str, option: &str) -> bool {
        self.value(field) == option
    }

    /// The refusal, above the form it is about.
    fn error_box(&self) -> Markup {
        html! { @if let Some(e) = &self.error { p.error role="alert" { (e) } } }
    }

    /// The form sent `values` and its action failed with `e`: what the page shows, and
    /// the status it answers with (a refusal's own, else 422: the form is shown again
    /// whatever went wrong, since what was typed is the admin's to correct).
    fn from_error(values: BTreeMap<String, String>, e: anyhow::Error) -> (Sent, StatusCode) {
        let failure = Failure::from_error(e);
        let status = if failure.status.is_client_error() { failure.status } else { StatusCode::UNPROCESSABLE_ENTITY };
        (Sent::refused(values, &failure), status)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        failure_page(None, self)
    }
}

/// The caller's CSRF token, for the forms of a page.
fn csrf(caller: &Caller) -> &str {
    caller.csrf().unwrap_or_default()
}

/// Check a form's CSRF field against the session.
fn check_form(caller: &Caller, given: &str) -> Result<(), Failure> {
    match caller {
        Caller::Browser(session) if auth::csrf_matches(session, given) => Ok(()),
        _ => Err(Failure::new(StatusCode::FORBIDDEN, "csrf", "the form's CSRF token does not match this session: reload the page and try again")),
    }
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn csrf_field(caller: &Caller) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf(caller)); }
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLE).into_response()
}

/// The live-progress script, served as a file: the content security policy allows no
/// inline script.
async fn live_script() -> Response {
    script(LIVE_SCRIPT)
}

/// Every page's script (see [`PAGE_SCRIPT`]).
async fn page_script() -> Response {
    script(PAGE_SCRIPT)
}

fn script(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], body).into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// Trade the one-time login token for a session cookie, then go home.
async fn login(State(web): State<Web>, Query(q): Query<LoginQuery>) -> Response {
    let Some((id, _)) = q.token.as_deref().and_then(|t| web.sessions().exchange(t)) else {
        let failure = Failure::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this login link was used already or is wrong: each `ferry serve` prints one link that works once (restart it for a new one)",
        );
        return failure_page(None, failure);
    };
    let secure = if web.inner.secure { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", auth::SESSION_LIFETIME.as_secs());
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

async fn logout(State(web): State<Web>, Extension(caller): Extension<Caller>, headers: HeaderMap, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    if let Some(id) = super::cookie(&headers, SESSION_COOKIE) {
        web.sessions().end(id);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let content = html! { p { "Signed out. Restart " code { "ferry serve" } " for a new login link." } };
    Ok(([(header::SET_COOKIE, cookie)], html_response(StatusCode::OK, page("Signed out", "", None, content))).into_response())
}

/// Home: the three steps, each with its state and what is left.
async fn home(State(web): State<Web>, Extension(caller): Extension<Caller>) -> PageResult {
    let db = web.db();
    let server_apps = assess::server_apps(db).await?;
    let assessed = assess::assess(db, &server_apps).await?;
    let undecided = assessed.iter().filter(|a| a.decision == Decision::NotAssessed).count();
    let consents = if server_apps.is_empty() { Vec::new() } else { consent::list(db).await? };
    let needed: Vec<_> = assessed.iter().filter(|a| a.decision == Decision::Needed && a.path == assess::MigrationPath::Automated).collect();
    let consent_missing: Vec<&str> =
        needed.iter().filter(|a| !consents.iter().any(|c| c.app == a.key && c.status == consent::ConsentStatus::Given)).map(|a| a.key.as_str()).collect();
    let statuses = plan::status_counts(db).await?;
    let count = |s: &str| statuses.get(s).copied().unwrap_or(0);
    let total: usize = statuses.values().sum();
    let servers = ferry_migrate::sites::list(db).await?.len();
    let clouds = ferry_migrate::cloud::list(db).await?.len();
    // The one thing to do next, as the page's primary action.
    let next: (String, &str) = match () {
        _ if servers == 0 => ("/sites".into(), "Add the Server site"),
        _ if clouds == 0 => ("/sites".into(), "Connect the Cloud site"),
        _ if server_apps.is_empty() || undecided > 0 => ("/apps".into(), "Decide the apps"),
        _ if !consent_missing.is_empty() => (format!("/apps/{}/consent", urlencode(consent_missing[0])), "Read the next consent card"),
        _ if total == 0 => ("/plans/new".into(), "Create a plan"),
        _ => ("/plans".into(), "See the plans"),
    };
    let content = html! {
        p.actions { a.primary #next href=(next.0) { (next.1) } }
        div.steps {
            div.step {
                h2 { "1. Assess your apps" }
                @if server_apps.is_empty() {
                    p.state.warn { "Not started" }
                    p { a href="/sites" { "Add the Server site" } ", then read its apps on the " a href="/apps" { "Apps" } " page." }
                } @else if undecided > 0 {
                    p.state.warn { (undecided) " of " (plural(assessed.len(), "app")) " " (verb(undecided, "needs", "need")) " a decision" }
                    p { "Decide each app on the " a href="/apps" { "Apps" } " page: needed, not needed, or an alternative." }
                } @else {
                    p.state.ok { "Done: " (plural(assessed.len(), "app")) " decided" }
                }
            }
            div.step {
                h2 { "2. Prepare your apps" }
                @if needed.is_empty() {
                    p.state.muted { "No needed app with an automated path" }
                } @else if consent_missing.is_empty() {
                    p.state.ok { "Consent given for " @if needed.len() == 1 { "the needed app" } @else { "all " (needed.len()) " needed apps" } }
                    p.muted { "Also install each needed app's cloud app on the Cloud site and mark it installed on the " a href="/apps" { "Apps" } " page." }
                } @else {
                    p.state.warn { (plural(consent_missing.len(), "needed app")) " " (verb(consent_missing.len(), "waits", "wait")) " for consent" }
                    ul { @for app in &consent_missing { li { a href={ "/apps/" (urlencode(app)) "/consent" } { (app) } } } }
                }
            }
            div.step {
                h2 { "3. Migrate your data" }
                @if total == 0 {
                    p.state.warn { "No plan yet" }
                    p { a href="/plans" { "Create a plan" } ", check it, then run it." }
                } @else {
                    p.state { (plural(total, "plan")) }
                    ul {
                        li { (count(plan::status::SAVED)) " saved" }
                        li { (count(plan::status::RUNNING)) " running" }
                        li { (count(plan::status::FINISHED)) " finished" }
                        li { (total - count(plan::status::SAVED) - count(plan::status::RUNNING) - count(plan::status::FINISHED)) " stopped, incomplete or failed" }
                    }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page("Migration assistant", "/", Some(csrf(&caller)), content)))
}

/// Percent-encode a path segment.
pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// How many rows a page of a list shows.
const ROWS_PER_PAGE: usize = 50;

/// A list's page query: a filter, a search and a page number.
#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

impl ListQuery {
    fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }

    fn search(&self) -> Option<String> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase)
    }

    fn filter(&self) -> Option<&str> {
        self.filter.as_deref().filter(|f| !f.is_empty())
    }

    /// The address of page `page` of `path` with filter `filter` and this search.
    fn link(&self, path: &str, filter: Option<&str>, page: usize) -> String {
        let mut parts = Vec::new();
        if let Some(f) = filter {
            parts.push(format!("filter={}", urlencode(f)));
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            parts.push(format!("q={}", urlencode(q)));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", parts.join("&"))
        }
    }
}

/// "Rows 51–100 of 230" and the links to the pages before and after.
fn pager(first: usize, shown: usize, total: usize, per_page: usize, noun: &str, link: impl Fn(usize) -> String) -> Markup {
    let page = first / per_page + 1;
    html! {
        @if total > shown {
            p.pager {
                span.muted { (noun) " " (first + 1) "–" (first + shown) " of " (total) } " "
                @if page > 1 { a href=(link(page - 1)) rel="prev" { "‹ Previous" } " " }
                @if first + shown < total { a href=(link(page + 1)) rel="next" { "Next ›" } }
            }
        }
    }
}

/// A connected Cloud site's name, and when the admin confirmed an app installed there.
type SiteConfirmation = (String, Option<String>);

/// Apps: the assessment a page at a time (by decision, or searched), each decision
/// editable in place, and whether each needed app's cloud app is installed.
async fn apps(State(web): State<Web>, Extension(caller): Extension<Caller>, Query(query): Query<ListQuery>) -> PageResult {
    apps_page(&web, &caller, &query, None, StatusCode::OK).await
}

/// The Apps page, with what an action on it did or why it was refused above the list.
async fn apps_page(web: &Web, caller: &Caller, query: &ListQuery, message: Option<Markup>, status: StatusCode) -> PageResult {
    let db = web.db();
    let assessed = assess::assess(db, &assess::server_apps(db).await?).await?;
    let decisions = [Decision::NotAssessed, Decision::Needed, Decision::NotNeeded, Decision::Alternative];
    let servers: Vec<_> = ferry_migrate::sites::list(db).await?.into_iter().filter(|s| s.product == ferry_source::Product::Confluence.to_string()).collect();
    let clouds = ferry_migrate::cloud::list(db).await?;
    let registry = ferry_apps::registry::Registry::new(db.clone());
    let search = query.search();
    let matching: Vec<_> = assessed
        .iter()
        .filter(|a| query.filter().is_none_or(|f| a.decision.name() == f))
        .filter(|a| {
            search.as_ref().is_none_or(|q| a.key.to_lowercase().contains(q) || a.name.to_lowercase().contains(q) || a.vendor.to_lowercase().contains(q))
        })
        .collect();
    let first = (query.page() - 1) * ROWS_PER_PAGE;
    let shown: Vec<_> = matching.iter().skip(first).take(ROWS_PER_PAGE).collect();
    // Per shown app with a plugin: its cloud app, and the connected sites it is confirmed on.
    let mut installed: BTreeMap<String, (String, Vec<SiteConfirmation>)> = BTreeMap::new();
    for a in &shown {
        if let Some(plugin) = registry.get(&a.key).await? {
            let mut on = Vec::new();
            for site in &clouds {
                on.push((site.name.clone(), ferry_migrate::cloud::app_confirmed(db, &site.target.url, &plugin.cloud_app_key).await?));
            }
            installed.insert(a.key.clone(), (plugin.cloud_app_key, on));
        }
    }
    let missing = match clouds.len() {
        1 if !assessed.is_empty() => Some(ferry_migrate::prepare::missing_items(db, None).await?),
        _ => None,
    };
    let count = |d: Decision| assessed.iter().filter(|a| a.decision == d).count();
    let content = html! {
        @if let Some(message) = message { (message) }
        @if servers.is_empty() {
            p.note { "No Confluence site added yet: " a href="/sites" { "add the Server site" } " first; its apps are read from its database." }
        } @else {
            form.actions method="post" action="/apps/assess" {
                (csrf_field(caller))
                label.check { span { "Server site " } (server_site_select(&servers)) }
                button.primary type="submit" { "Assess the Server site's apps" }
            }
        }
        @if let Some(missing) = &missing {
            @if missing.is_empty() { p.done #prepared { "Apps are ready: every app has a decision, and every needed app is installed in the cloud and consented to." } }
            @else {
                div.note #prepared { strong { "Not ready yet (" (plural(missing.len(), "item")) "):" }
                    ul { @for m in missing.iter().take(10) { li { span.mono { (m.app) } ": " (in_form_words(&m.missing)) } } }
                    @if missing.len() > 10 { (missing.len() - 10) " more." }
                }
            }
        }
        @if assessed.is_empty() {
            p.note { "No assessment yet: choose the Server site above." }
        } @else {
            nav.tabs {
                a href=(query.link("/apps", None, 1)) class=[query.filter().is_none().then_some("here")] { "All (" (assessed.len()) ")" }
                @for d in decisions {
                    " " a href=(query.link("/apps", Some(d.name()), 1)) class=[(query.filter() == Some(d.name())).then_some("here")] { (d.name()) " (" (count(d)) ")" }
                }
            }
            form.search method="get" action="/apps" {
                @if let Some(f) = query.filter() { input type="hidden" name="filter" value=(f); }
                input type="search" name="q" value=(query.q.clone().unwrap_or_default()) placeholder="Search by key, name or vendor";
                " " button type="submit" { "Search" }
            }
            @if shown.is_empty() { p.muted { "No app matches." } }
            div.table-wrap { table #apps {
                tr { th { "App" } th { "Version" } th { "Vendor" } th { "Path" } th { "Plugin" } th { "Stage" } th { "Installed in the cloud" } th { "Decision" } }
                @for a in &shown {
                    tr data-app=(a.key) {
                        td { (a.name) br; span.mono.muted { (a.key) } }
                        td { (a.version) }
                        td { (a.vendor) }
                        td { strong { (a.path.name()) } br; span.muted { (a.path_reason) } }
                        td {
                            @if let Some(v) = &a.plugin_version {
                                (v) br; span.muted { (a.plugin_signer.clone().unwrap_or_default()) } br;
                                a href={ "/apps/" (urlencode(&a.key)) "/consent" } { "Consent card" }
                            } @else { span.muted { "none installed" } }
                        }
                        td { @if let Some(f) = &a.stage_figures { (f.summary()) } @else { "-" } }
                        td.installed {
                            @match installed.get(&a.key) {
                                None => { span.muted { "-" } }
                                Some((cloud_app, on)) => {
                                    span.mono.muted { (cloud_app) }
                                    @if on.is_empty() { br; a href="/sites" { "connect a Cloud site" } }
                                    @for (site, at) in on {
                                        form method="post" action={ "/apps/" (urlencode(&a.key)) "/installed" } {
                                            (csrf_field(caller))
                                            input type="hidden" name="cloud" value=(site);
                                            @match at {
                                                Some(at) => { span.ok { "on " (site) } " " span.muted { (when(at)) } " "
                                                    input type="hidden" name="undo" value="yes";
                                                    button type="submit" title="The app was uninstalled from this site" { "Undo" } }
                                                None => { span.warn { "not confirmed on " (site) } " "
                                                    button type="submit" title="I installed it there (Apps → Find new apps)" { "Mark installed" } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        td {
                            form.inline method="post" action={ "/apps/" (urlencode(&a.key)) "/decision" } {
                                (csrf_field(caller))
                                select name="decision" {
                                    @for d in decisions {
                                        option value=(d.name()) selected[d == a.decision] { (d.name()) }
                                    }
                                }
                                " " button type="submit" { "Save" }
                            }
                        }
                    }
                }
            } }
            (pager(first, shown.len(), matching.len(), ROWS_PER_PAGE, "Apps", |page| query.link("/apps", query.filter(), page)))
        }
    };
    Ok(html_response(status, page("Assess your apps", "/apps", Some(csrf(caller)), content)))
}

#[derive(Deserialize)]
struct AssessForm {
    #[serde(default)]
    csrf: String,
    source: String,
}

/// A choice of the Server sites the admin added (`ferry site add`), by id.
fn server_site_select(sites: &[ferry_migrate::sites::ServerSite]) -> Markup {
    html! {
        select name="source" required {
            @for s in sites {
                option value=(s.id) { (s.name.as_deref().unwrap_or(&s.id)) " — " (s.product) " · " (ferry_source::redact_url(&s.location)) }
            }
        }
    }
}

async fn assess_apps(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<AssessForm>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let read = async {
        let site = ferry_migrate::sites::for_request(web.db(), &form.source).await?;
        let connected = ferry_source::Source::open(&site.location, site.password_env.as_deref()).await?;
        let apps = assess::read_server_apps(web.db(), &connected).await?;
        assess::assess(web.db(), &apps).await?;
        anyhow::Ok(())
    }
    .await;
    match read {
        Ok(()) => Ok(Redirect::to("/apps").into_response()),
        Err(e) => {
            let (refused, status) = Sent::from_error(BTreeMap::new(), e);
            apps_page(&web, &caller, &ListQuery::default(), Some(refused.error_box()), status).await
        }
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    decision: String,
}

async fn decide(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>, Form(form): Form<DecisionForm>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let decision: Decision = form.decision.parse().map_err(|e: String| Failure::new(StatusCode::BAD_REQUEST, "bad-request", e))?;
    assess::decide(web.db(), &key, decision).await?;
    Ok(Redirect::to("/apps").into_response())
}

/// The consent card of one app.
async fn consent_card(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>) -> PageResult {
    consent_page(&web, &caller, &key, None, StatusCode::OK).await
}

/// The card: who made the plugin, what it may read and where the data goes, what changed
/// since consent was given; then either *Agree* (after ticking that the admin read the
/// card) or *Revoke* (after a confirmation), never both.
async fn consent_page(web: &Web, caller: &Caller, key: &str, message: Option<Markup>, status: StatusCode) -> PageResult {
    use consent::ConsentStatus;
    let card = consent::policy_card(web.db(), key).await?;
    let given = card.status == Some(ConsentStatus::Given);
    let can_agree = matches!(card.status, Some(ConsentStatus::NotGiven | ConsentStatus::Outdated));
    let status_name = card.status.map(|s| s.name()).unwrap_or("not-assessed");
    let privacy = card.privacy_policy.trim();
    let privacy_link = (privacy.starts_with("https://") || privacy.starts_with("http://")) && !privacy.contains(char::is_whitespace);
    let change_lines: Vec<(&str, String)> = match &card.changes {
        None => Vec::new(),
        Some(changes) => {
            let lists = [
                ("scopes added", &changes.added_scopes),
                ("scopes removed", &changes.removed_scopes),
                ("tables added", &changes.added_tables),
                ("tables removed", &changes.removed_tables),
                ("columns added", &changes.added_columns),
                ("columns removed", &changes.removed_columns),
                ("column classes changed", &changes.changed_classes),
            ];
            let mut lines: Vec<(&str, String)> = lists.iter().filter(|(_, items)| !items.is_empty()).map(|(label, items)| (*label, items.join(", "))).collect();
            if let Some(change) = &changes.endpoint_change {
                lines.push(("where the data goes", change.clone()));
            }
            if let Some(old) = &card.consented_signer {
                lines.push(("signer", format!("was {old}, now {}", card.signer_shown)));
            }
            if lines.is_empty() {
                lines.push(("the plugin file", "changed; its scopes, tables, classes, signer and endpoint are the same".into()));
            }
            lines
        }
    };
    let content = html! {
        @if let Some(message) = message { (message) }
        p.muted { a href="/apps" { "‹ Back to the apps" } }
        div.table-wrap { table {
            tr { th { "App" } td { (card.name) " " span.mono { "(" (card.app) ")" } } }
            tr { th { "Vendor" } td { (card.vendor) } }
            tr { th { "Plugin version" } td { (card.version) } }
            tr { th { "sha256" } td.mono { (card.sha256) } }
            tr { th { "Signed by" } td { (card.signer_shown) } }
            tr { th { "Privacy policy" } td #privacy {
                @if privacy_link { a href=(privacy) rel="noopener noreferrer" target="_blank" { (privacy) } }
                @else if privacy.is_empty() { span.warn { "the vendor gives none" } }
                @else { (privacy) }
            } }
            tr { th { "Where the data goes" } td id="sends-to" { (card.sends_to) } }
            tr { th { "Cloud app" } td.mono { (card.cloud_app_key) } }
            tr { th { "Stage" } td { (card.stage.summary()) } }
            tr { th { "Consent" } td #consent-status { span class={ "status status-" (status_name) } { (status_name) } @if let Some(v) = &card.consented_version { " (given to version " (v) ")" } } }
        } }
        @if !change_lines.is_empty() {
            h2 #changes { "What changed since you consented to version " (card.consented_version.clone().unwrap_or_default()) }
            ul { @for (label, text) in &change_lines { li { strong { (label) ": " } (text) } } }
        }
        h2 { "What the plugin may read and do" }
        table {
            tr { th { "Scope" } th { "In plain words" } }
            @for s in &card.scopes { tr { td.mono { (s.scope) } td { (s.meaning) } } }
        }
        @if !card.tables.is_empty() {
            h2 { "App tables and the class of each column" }
            table {
                tr { th { "Table" } th { "Column" } th { "Class" } }
                @for (table, columns) in &card.tables {
                    @for (column, class) in columns { tr { td.mono { (table) } td.mono { (column) } td { (class.name()) } } }
                }
            }
        }
        @if can_agree {
            form #agree-form method="post" action={ "/apps/" (urlencode(&card.app)) "/consent/agree" } {
                fieldset {
                    legend { "Agree" }
                    (csrf_field(caller))
                    input type="hidden" name="sha256" value=(card.sha256);
                    label.check { input type="checkbox" name="confirm" value="yes" required; " I have read this card. " (card.name) " " (card.version) " may read what it lists above and send it to " (card.sends_to) "." }
                    button.primary type="submit" id="agree" { "Agree" }
                }
            }
        } @else if given {
            form #revoke-form method="post" action={ "/apps/" (urlencode(&card.app)) "/consent/revoke" }
                data-confirm={ "Revoke consent for " (card.name) "? A run migrating it is denied its next data access." } {
                (csrf_field(caller))
                p.muted { "Consent is in force. Revoking it stops this plugin: a run migrating it is denied its next data access, and later plans leave the app out until you agree again." }
                button.danger type="submit" id="revoke" { "Revoke consent" }
            }
        } @else {
            p.muted { "Nothing to agree to: " (status_name) "." }
        }
    };
    Ok(html_response(status, page("Consent card", "/apps", Some(csrf(caller)), content)))
}

#[derive(Deserialize)]
struct AgreeForm {
    #[serde(default)]
    csrf: String,
    sha256: String,
    #[serde(default)]
    confirm: String,
}

async fn agree(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>, Form(form): Form<AgreeForm>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    if form.confirm.is_empty() {
        let message = html! { p.error role="alert" { "Tick “I have read this card” to agree: consent is given only to a card that was read." } };
        return consent_page(&web, &caller, &key, Some(message), StatusCode::BAD_REQUEST).await;
    }
    match consent::agree(web.db(), &key, Some(&form.sha256)).await {
        Ok(record) => {
            let message = html! { p.done role="status" { "Consent given to " (record.plugin_version) " (sha256 " span.mono { (record.plugin_sha256.get(..12).unwrap_or_default()) } ")." } };
            consent_page(&web, &caller, &key, Some(message), StatusCode::OK).await
        }
        Err(e) => {
            let (refused, status) = Sent::from_error(BTreeMap::new(), e);
            consent_page(&web, &caller, &key, Some(refused.error_box()), status).await
        }
    }
}

async fn revoke(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let message = match consent::revoke(web.db(), &key).await? {
        true => html! { p.done role="status" { "Consent revoked: a run migrating this app is denied its next data access." } },
        false => html! { p.note role="status" { "No consent was in force." } },
    };
    consent_page(&web, &caller, &key, Some(message), StatusCode::OK).await
}

/// A plan's progress as the plans list and its page show it (and the live updates
/// replace): the run as a whole (percent, time so far, time left, the site's rate
/// limit), then each step in the order it runs with its bar from 0 to 100 % and its
/// state; once it ended, what failed and what was not reached.
fn progress_cell(
    status: &str,
    progress: &BTreeMap<String, ferry_migrate::standing::StepProgress>,
    overall: &ferry_migrate::standing::Overall,
    failures: &ferry_migrate::standing::FailureSummary,
) -> Markup {
    let running = status == plan::status::RUNNING;
    let ended = !running && status != plan::status::SAVED;
    html! {
        @if overall.elapsed_secs > 0 || running {
            div.overall {
                strong { (overall.percent) " %" } " · " (ferry_migrate::standing::duration(overall.elapsed_secs)) @if running { " so far" }
                @if let Some(left) = overall.remaining_secs { " · about " (ferry_migrate::standing::duration(left)) " left" }
                @if let Some(wait) = overall.waiting_for_rate_limit_secs { br; span.warn { "waiting " (wait) " s for the site's rate limit" } }
                @if overall.throttled > 0 { br; span.muted { (plural(overall.throttled as usize, "request")) " throttled by the site" } }
            }
        }
        @for (step, p) in ferry_migrate::standing::in_run_order(progress) {
            @if !step.starts_with("app:") {
                @let state = match (p.started_at.is_some(), p.finished, running) {
                    (_, true, _) => "done",
                    (false, _, true) => "waiting",
                    (true, _, true) => "running",
                    (false, _, false) => "not reached",
                    (true, _, false) if p.done < p.total => "stopped",
                    _ => "done",
                };
                div.step-line data-step=(step) data-state=(state) {
                    span.step-name { (step) } " "
                    progress max=(p.total.max(1)) value=(p.done.min(p.total.max(1))) {} " "
                    span.count { (p.done) @if p.total > 0 { " / " (p.total) } }
                    " " span.step-state { (state) }
                }
            }
        }
        @if ended && (failures.count > 0 || failures.error.is_some()) {
            div.failures {
                @if failures.count > 0 { span.bad { (plural(failures.count as usize, "failure")) } }
                @if let Some(e) = &failures.error { br; span.bad { "stopped: " (e) } }
                @for f in &failures.first { br; span.muted title=(f) { (shortened(f, 140)) } }
            }
        }
    }
}

/// `text` cut to `chars` characters, an ellipsis ending a cut one (the whole text is the
/// element's title).
fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Plans: the list with live progress, and a form to create one.
async fn plans(State(web): State<Web>, Extension(caller): Extension<Caller>, Query(query): Query<PlansQuery>) -> PageResult {
    use ferry_migrate::standing::{ListFilter, PAGE_SIZE};
    let page_number = query.page.unwrap_or(1).max(1);
    let status = query.status.clone().filter(|s| !s.is_empty());
    let search = query.q.clone().filter(|q| !q.trim().is_empty());
    let filter = ListFilter { status: status.clone(), search: search.clone(), limit: Some(PAGE_SIZE), offset: Some((page_number - 1) * PAGE_SIZE) };
    let found = ferry_migrate::standing::listing_page(web.db(), &filter).await?;
    let listing = &found.plans;
    let all: usize = found.by_status.values().sum();
    let link = |status: Option<&str>, page: usize| {
        let mut parts = Vec::new();
        if let Some(s) = status {
            parts.push(format!("status={}", urlencode(s)));
        }
        if let Some(q) = &search {
            parts.push(format!("q={}", urlencode(q)));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/plans".to_string()
        } else {
            format!("/plans?{}", parts.join("&"))
        }
    };
    let first = (page_number - 1) * PAGE_SIZE;
    let content = html! {
        p.actions { a.primary href="/plans/new" { "Create a plan" } }
        // Without a search the counts are of every plan, which the live updates carry too.
        nav.tabs #status-tabs data-live-counts[search.is_none()] {
            a href=(link(None, 1)) class=[status.is_none().then_some("here")] { "All (" span.count data-status="" { (all) } ")" }
            @for st in [plan::status::RUNNING, plan::status::SAVED, plan::status::FINISHED, plan::status::INCOMPLETE, plan::status::FAILED, plan::status::STOPPED] {
                " " a href=(link(Some(st), 1)) class=[(status.as_deref() == Some(st)).then_some("here")] { (st) " (" span.count data-status=(st) { (found.by_status.get(st).copied().unwrap_or(0)) } ")" }
            }
        }
        form.search method="get" action="/plans" {
            @if let Some(st) = &status { input type="hidden" name="status" value=(st); }
            input type="search" name="q" value=(search.clone().unwrap_or_default()) placeholder="Search by name or id";
            " " button type="submit" { "Search" }
        }
        @if listing.is_empty() { p.muted { @if all == 0 && search.is_none() { "No plan yet." } @else { "No plan matches." } } } @else {
            p.muted { "Plans " (first + 1) "–" (first + listing.len()) " of " (found.matching) }
            div.table-wrap { table #plans {
                tr { th { "Plan" } th { "Status" } th { "What and where" } th { "Apps" } th { "Progress" } th { "Actions" } }
                @for l in listing {
                    @let p = &l.plan;
                    tr data-plan=(p.id) {
                        td { a href={ "/plans/" (p.id) } { (p.name) } br; span.mono.muted { (p.id) } }
                        td { (status_label(&p.status)) }
                        td.plan-what {
                            (p.product) ": users " (p.users.to_string())
                            @if p.product == ferry_source::Product::Jira { ", projects " (p.projects.to_string()) ", customers " (p.customers.to_string()) }
                            @else { ", spaces " (p.spaces.to_string()) }
                            br; span.mono.muted { "→ " (p.cloud.as_deref().map(|c| format!("{c} · {}", p.destination)).unwrap_or_else(|| p.destination.clone())) }
                        }
                        td.plan-apps { @for a in &l.app_statuses { div { (a.app) ": " (a.status) } } }
                        td.plan-progress { (progress_cell(&p.status, &l.progress, &l.overall, &l.failures)) }
                        td {
                            @if p.status == plan::status::SAVED {
                                form.inline.when-saved method="post" action={ "/plans/" (p.id) "/check" } { (csrf_field(&caller)) button type="submit" { "Run checks" } }
                                " "
                                form.inline.when-saved method="post" action={ "/plans/" (p.id) "/run" } {
                                    (csrf_field(&caller))
                                    @if !p.plan_apps.is_empty() { (stage1_select()) }
                                    button type="submit" { "Run" }
                                }
                            }
                            @if p.status == plan::status::SAVED || p.status == plan::status::RUNNING {
                                form.inline.when-running hidden[p.status != plan::status::RUNNING] method="post" action={ "/plans/" (p.id) "/stop" } { (csrf_field(&caller)) button type="submit" { "Stop" } }
                            }
                        }
                    }
                }
            }
            }
            p.pager {
                @if page_number > 1 { a href=(link(status.as_deref(), page_number - 1)) rel="prev" { "‹ Newer" } " " }
                @if first + listing.len() < found.matching { a href=(link(status.as_deref(), page_number + 1)) rel="next" { "Older ›" } }
            }
        }
        script src="/live.js" {}
    };
    Ok(html_response(StatusCode::OK, page("Migrate your data", "/plans", Some(csrf(&caller)), content)))
}

/// What the plans page shows: a status, a search, a page (50 plans each).
#[derive(Deserialize, Default)]
struct PlansQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

/// The plan form: the CLI's `plan create` options.
#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// A plan request from form fields (empty fields take the defaults); a number field that
/// is not one is refused naming it.
pub fn plan_request(fields: &BTreeMap<String, String>) -> anyhow::Result<plan::PlanRequest> {
    let get = |k: &str| fields.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let minutes = |k: &str, label: &str| -> anyhow::Result<Option<u64>> {
        match get(k) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(m) if m > 0 => Ok(Some(m * 60)),
                _ => Err(ferry_core::Declined::invalid(format!("“{label}” is a number of minutes (e.g. 60), not {v:?}"))),
            },
        }
    };
    Ok(plan::PlanRequest {
        name: get("name").unwrap_or_default(),
        source: get("source").unwrap_or_default(),
        product: get("product"),
        attachments: get("attachments"),
        cloud: get("cloud"),
        users: get("users"),
        spaces: get("spaces"),
        projects: get("projects"),
        customers: get("customers"),
        attachments_only: get("attachments_only").is_some(),
        history: get("history"),
        product_group: get("product_group"),
        apps: get("apps"),
        app_deadline_secs: minutes("app_deadline_minutes", "App deadline")?,
        app_settle_secs: minutes("app_settle_minutes", "App settle time")?,
        trusted_domains: get("trusted_domains").map(|d| d.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect()).unwrap_or_default(),
    })
}

async fn new_plan(State(web): State<Web>, Extension(caller): Extension<Caller>) -> PageResult {
    plan_form_page(&web, &caller, Sent::default(), StatusCode::OK).await
}

/// The form that creates a plan: every option `ferry plan create` takes for a connected
/// site, drawn again with what was typed when the plan is refused.
async fn plan_form_page(web: &Web, caller: &Caller, sent: Sent, status: StatusCode) -> PageResult {
    let sites = ferry_migrate::cloud::list(web.db()).await?;
    let servers = ferry_migrate::sites::list(web.db()).await?;
    let select = |field: &str, options: &[(&str, &str)]| {
        html! {
            select name=(field) {
                @for (value, label) in options { option value=(value) selected[sent.chose(field, value)] { (label) } }
            }
        }
    };
    let content = html! {
        p { a href="/plans" { "‹ Back to the plans" } }
        @if sites.is_empty() || servers.is_empty() {
            p.note {
                "A plan reads a Server site and goes to a connected Cloud site: "
                a href="/sites" { @if servers.is_empty() { "add the Server site" } @else { "connect the Cloud site" } } " first."
            }
        } @else {
            form #create method="post" action="/plans" {
                (sent.error_box())
                (csrf_field(caller))
                fieldset {
                    legend { "What moves, and where" }
                    label { span { "Name" } input name="name" required size="40" value=(sent.value("name")) placeholder="ENG and MKT, trial 1"; }
                    label { span { "Server site" }
                        select name="source" required {
                            @for s in &servers {
                                option value=(s.id) selected[sent.chose("source", &s.id)] { (s.name.as_deref().unwrap_or(&s.id)) " — " (s.product) " · " (ferry_source::redact_url(&s.location)) }
                            }
                        }
                    }
                    label { span { "Cloud site" }
                        select name="cloud" required { @for s in &sites { option value=(s.name) selected[sent.chose("cloud", &s.name)] { (s.name) " — " (s.target.url) } } }
                    }
                    label { span { "Users" } (select("users", &[("all", "all"), ("related", "related: those the chosen content names"), ("none", "none")])) }
                    label { span { "Spaces" } input name="spaces" size="40" value=(sent.value("spaces")) placeholder="all, none or KEY,KEY"; }
                    label { small { "Confluence: the spaces to migrate (all by default)." } }
                    label { span { "Projects" } input name="projects" size="40" value=(sent.value("projects")) placeholder="all, none or KEY,KEY"; }
                    label { span { "Customers" } (select("customers", &[("", "default (related)"), ("all", "all"), ("related", "related"), ("none", "none")])) }
                    label { small { "Jira Service Management: the service projects and the customers their requests name." } }
                }
                fieldset {
                    legend { "Confluence content" }
                    label { span { "Attachment folder" } input name="attachments" size="60" value=(sent.value("attachments")) placeholder="<confluence-home>/attachments"; }
                    label { small { "The Server's attachment folder, as this machine reads it." } }
                    label.check { input type="checkbox" name="attachments_only" value="yes" checked[sent.checked("attachments_only")]; " Attachments only: move the chosen spaces' files now, to shorten the later downtime" }
                    label { span { "Page history" } (select("history", &[("all", "all: every version, with its author and date"), ("current", "current version only")])) }
                }
                fieldset {
                    legend { "People and apps" }
                    label { span { "Trusted domains" } input name="trusted_domains" size="40" value=(sent.value("trusted_domains")) placeholder="example.com, example.org"; }
                    label { small { "Email domains you trust; users of other domains are a warning in the checks." } }
                    label { span { "Product group" } input name="product_group" size="30" value=(sent.value("product_group")) placeholder="confluence-users (jira-servicedesk-users for Jira)"; }
                    label { small { "The cloud group that gives access to the product; migrated users join it." } }
                    label { span { "Apps" } (select("apps", &[("needed", "needed: every app you decided needed"), ("none", "none")])) }
                    label { span { "App deadline (minutes)" } input type="number" min="1" name="app_deadline_minutes" size="6" value=(sent.value("app_deadline_minutes")) placeholder="60"; }
                    label { span { "App settle time (minutes)" } input type="number" min="1" name="app_settle_minutes" size="6" value=(sent.value("app_settle_minutes")) placeholder="60"; }
                    label { small { "How long each app's migration may take, and how long its cloud half may take to settle it afterwards." } }
                }
                p.actions { button.primary type="submit" { "Save plan" } span.muted { "Saving runs nothing: check the plan, then run it." } }
            }
        }
    };
    Ok(html_response(status, page("Create a plan", "/plans", Some(csrf(caller)), content)))
}

async fn create_plan(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<PlanForm>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let created = async {
        let request = plan_request(&form.fields)?;
        Plan::create(web.db(), request.into_web_plan(web.db()).await?).await
    }
    .await;
    match created {
        Ok(created) => Ok(Redirect::to(&format!("/plans/{}", created.id)).into_response()),
        Err(e) => {
            let (sent, status) = Sent::from_error(form.fields, e);
            plan_form_page(&web, &caller, sent, status).await
        }
    }
}

/// Live progress of every plan, as server-sent events: a `progress` event whenever a
/// plan's status or step counts change (read from the state DB, so a plan running in
/// another process shows too).
async fn plan_events(State(web): State<Web>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let mut live = web.live();
    // The first event is the current state (a new snapshot when nobody listened yet).
    let latest = live.borrow_and_update().clone();
    let first = match latest {
        current if !current.is_empty() => current,
        _ => {
            let current = progress_snapshot(web.db()).await.unwrap_or_else(|e| {
                tracing::warn!("live progress: {e:#}");
                "[]".into()
            });
            web.remember_live(&current);
            current
        }
    };
    let stream = futures_util::stream::once(async move { Ok(Event::default().event("progress").data(first)) }).chain(futures_util::stream::unfold(
        live,
        |mut live| async move {
            live.changed().await.ok()?;
            let json = live.borrow_and_update().clone();
            Some((Ok(Event::default().event("progress").data(json)), live))
        },
    ));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// How often live progress reads the state DB.
pub const LIVE_PERIOD: Duration = Duration::from_millis(250);

/// Every plan's id, status and step progress, as the live script reads it; and the app
/// statuses of plans running or ended in the last minute (their apps are what changes).
pub async fn progress_snapshot(db: &ferry_core::state::StateDb) -> anyhow::Result<String> {
    use sqlx::Row;
    let mut progress = ferry_migrate::standing::all_progress(db).await?;
    let mut overall = ferry_migrate::standing::all_overall(db, &progress).await?;
    let rows = sqlx::query(
        "SELECT id, status, status = 'running' OR (finished_at IS NOT NULL AND finished_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds')) \
         FROM plans ORDER BY created_at DESC, id",
    )
    .fetch_all(db.pool())
    .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.get(0);
        let steps = progress.remove(&id).unwrap_or_default();
        let status: String = r.get(1);
        let whole = overall.remove(&id).unwrap_or_default();
        // What failed is read only for plans that ended just now (the others' is on the page).
        let recent = r.get::<bool, _>(2);
        let failures = match recent && status != plan::status::RUNNING {
            true => ferry_migrate::standing::failure_summaries(db, Some(&id)).await?.remove(&id).unwrap_or_default(),
            false => Default::default(),
        };
        let html = progress_cell(&status, &steps, &whole, &failures).into_string();
        let mut entry = serde_json::json!({"id": id, "status": status, "live": recent, "progress": steps, "overall": whole, "progress_html": html});
        if recent {
            let plan = Plan::get(db, &id).await?;
            if !plan.plan_apps.is_empty() {
                let apps = ferry_migrate::apps::app_statuses(db, &plan).await?;
                entry["apps"] = serde_json::json!(apps.iter().map(|a| serde_json::json!({"app": a.app, "status": a.status})).collect::<Vec<_>>());
            }
        }
        plans.push(entry);
    }
    Ok(serde_json::to_string(&plans)?)
}

/// A plan's report: counts, failures, people, permissions, apps and the audit.
async fn report(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Query(query): Query<ListQuery>) -> PageResult {
    let db = web.db();
    let plan = ferry_migrate::standing::current(db, &id).await?;
    let (report, apps) = ferry_migrate::standing::live_report(db, &plan).await?;
    let audit = ferry_apps::journal::plan_audit(db, &plan.id, None).await?;
    let verified = ferry_migrate::verify::Verification::latest(db, &plan.id).await?;
    let standing = ferry_migrate::standing::listing_of(db, plan.clone()).await?;
    let running = plan.status == plan::status::RUNNING;
    let content = html! {
        div #run data-plan=(plan.id) data-reload-when-ended[running] {
            p { "Status: " (status_label(&plan.status)) " · destination " span.mono { (plan.destination) } " · created " (when(&plan.created_at)) }
            @if plan.status != plan::status::SAVED {
                div.plan-progress { (progress_cell(&plan.status, &standing.progress, &standing.overall, &standing.failures)) }
            }
            @if running {
                form.inline.when-running method="post" action={ "/plans/" (plan.id) "/stop" } { (csrf_field(&caller)) button type="submit" { "Stop" } }
                " " span.muted { "Stop asks the run to stop when its current step ends; what it migrated stays, and a new plan goes on from there." }
            }
        }
        @if running { script src="/live.js" {} }
        @if report.is_some() {
            p #last-verification {
                @match &verified {
                    Some(v) => {
                        "Last verified " (when(&v.finished_at)) ": " (v.checked.values().sum::<u64>()) " entities compared with the server, "
                        @if v.differences.is_empty() { span.ok { "no differences" } } @else { span.bad { (plural(v.differences.len(), "difference")) } }
                        " · " a href={ "/plans/" (plan.id) "/verification" } { "the verification" }
                    }
                    None => { span.muted { "Not verified yet: " code { "ferry verify " (plan.id) } " reads what it migrated back from the cloud site and compares it with the server." } }
                }
            }
        }
        @match &report {
            None if running => {}
            None => {
                p.note { "Not run yet. Run its checks: the page that shows them runs the plan when nothing stops it." }
                form.actions method="post" action={ "/plans/" (plan.id) "/check" } { (csrf_field(&caller)) button.primary type="submit" { "Run the checks" } }
            }
            Some(r) => {
                @if let Some(e) = &r.error { p.error { "The plan stopped: " (e) } }
                h2 { "Server and cloud counts" }
                table {
                    tr { th { "Kind" } th { "Server" } th { "Cloud" } th { "Failed" } }
                    @for (kind, c) in &r.counts { tr { td { (kind) } td { (c.server) } td { (c.cloud) } td class=[(c.failed > 0).then_some("bad")] { (c.failed) } } }
                }
                p.exports {
                    "Export: " a href={ "/plans/" (plan.id) "/report.json" } download { "the whole report (JSON)" } " · "
                    a href={ "/plans/" (plan.id) "/failures.csv" } download { "the failures (CSV)" }
                }
                p.muted {
                    "History: " (if r.history.is_empty() { "all" } else { r.history.as_str() }) " versions"
                    @if let Some(choice) = r.stage1_choice { " · Stage 1 apps (" (r.stage1_apps.join(", ")) "): " (choice.name()) }
                    @if r.throttled_requests > 0 { " · " (plural(r.throttled_requests as usize, "request")) " throttled by the site" }
                    @if r.attachment_bytes > 0 { " · " (r.attachment_bytes) " bytes of attachments uploaded" }
                }
                @if !r.failures.is_empty() {
                    @let kinds: std::collections::BTreeSet<&str> = r.failures.iter().map(|f| f.kind.as_str()).collect();
                    @let search = query.search();
                    @let matching: Vec<_> = r.failures.iter()
                        .filter(|f| query.filter().is_none_or(|k| f.kind == k))
                        .filter(|f| search.as_ref().is_none_or(|q| [Some(f.server_id.as_str()), f.title.as_deref(), f.space.as_deref(), Some(f.reason.as_str())].into_iter().flatten().any(|t| t.to_lowercase().contains(q))))
                        .collect();
                    @let first = (query.page() - 1) * ROWS_PER_PAGE;
                    @let base = format!("/plans/{}", plan.id);
                    h2 #failures-heading { "Failures (" (r.failures.len()) ")" }
                    nav.tabs {
                        a href={ (query.link(&base, None, 1)) "#failures-heading" } class=[query.filter().is_none().then_some("here")] { "All" }
                        @for k in &kinds { " " a href={ (query.link(&base, Some(k), 1)) "#failures-heading" } class=[(query.filter() == Some(*k)).then_some("here")] { (k) " (" (r.failures.iter().filter(|f| f.kind == *k).count()) ")" } }
                    }
                    form.search method="get" action=(base) {
                        @if let Some(f) = query.filter() { input type="hidden" name="filter" value=(f); }
                        input type="search" name="q" value=(query.q.clone().unwrap_or_default()) placeholder="Search the failures";
                        " " button type="submit" { "Search" }
                    }
                    div.table-wrap { table #failures {
                        tr { th { "Kind" } th { "Entity" } th { "Space" } th { "Reason and fix" } }
                        @for f in matching.iter().skip(first).take(ROWS_PER_PAGE) {
                            tr { td { (f.kind) } td { @if let Some(t) = &f.title { (t) br; } span.mono.muted { (f.server_id) } } td.mono { (f.space.clone().unwrap_or_default()) } td { (f.reason) } }
                        }
                    } }
                    @if matching.is_empty() { p.muted { "No failure matches." } }
                    (pager(first, matching.len().saturating_sub(first).min(ROWS_PER_PAGE), matching.len(), ROWS_PER_PAGE, "Failures", |page| format!("{}#failures-heading", query.link(&base, query.filter(), page))))
                }
                @if !r.checks.is_empty() {
                    h2 { "The checks the run started with" }
                    @let errors = r.checks.iter().filter(|c| c.result == ferry_migrate::checks::CheckResult::Error).count();
                    @let warnings = r.checks.iter().filter(|c| c.result == ferry_migrate::checks::CheckResult::Warning).count();
                    p { (plural(errors, "error")) ", " (plural(warnings, "warning")) ", " (r.checks.len() - errors - warnings) " passed" }
                    ul { @for c in r.checks.iter().filter(|c| c.result != ferry_migrate::checks::CheckResult::Pass) { li { span.mono { (c.code) } ": " (c.message) } } }
                }
                @if r.product == "jira" {
                    @if !r.request_keys.is_empty() { p { (plural(r.request_keys.len(), "request")) " " (verb(r.request_keys.len(), "has a new key", "have new keys")) "; the JSON export maps each server key to its new one." } }
                    @if !r.statuses_not_set.is_empty() {
                        h3 { "Statuses the cloud workflow could not reach (" (r.statuses_not_set.len()) ")" }
                        table #statuses-not-set { tr { th { "Request" } th { "Server status" } th { "Left at" } }
                            @for st in r.statuses_not_set.iter().take(500) { tr { td.mono { (st.request) } td { (st.server_status) } td { (st.left_at) } } } }
                    }
                    @if !r.projects_not_migrated.is_empty() {
                        h3 { "Projects not migrated" }
                        table #projects-not-migrated { tr { th { "Project" } th { "Kind" } th { "Issues" } th { "Why" } }
                            @for pr in &r.projects_not_migrated { tr { td { (pr.name) " " span.mono.muted { (pr.key) } } td { (pr.kind) } td { (pr.issues) } td { (pr.reason) } } } }
                    }
                    h2 { "People" }
                    p { (plural(r.former_customer.len(), "person")) " the requests name " (verb(r.former_customer.len(), "has", "have")) " no cloud account (the migrating account stands in; each request's origin names them); "
                        (plural(r.customers_with_full_accounts as usize, "customer")) " " (verb(r.customers_with_full_accounts as usize, "was", "were")) " linked to full accounts; "
                        (plural(r.two_accounts.len(), "person")) " now " (verb(r.two_accounts.len(), "has", "have")) " two accounts." }
                    @if !r.two_accounts.is_empty() {
                        table { tr { th { "User" } th { "Email" } th { "Full account" } th { "Customer account" } }
                            @for t in &r.two_accounts { tr { td { (t.username) } td { (t.email) } td.mono { (t.full_account) } td.mono { (t.customer_account) } } } }
                    }
                    @if !r.former_customer.is_empty() {
                        table { tr { th { "User key" } th { "Why" } th { "References" } th { "Where" } }
                            @for f in &r.former_customer { tr { td.mono { (f.user_key) } td { (f.reason) } td { (f.references) } td { (f.referenced_in.join(", ")) } } } }
                    }
                } @else {
                    h2 { "People and permissions" }
                    p { (plural(r.authored_by_migrating_account as usize, "item")) " " (verb(r.authored_by_migrating_account as usize, "is", "are")) " authored in the cloud by the migrating account (each keeps its original author and date in its ferry-origin property); " (r.former_user) " of them " (verb(r.former_user as usize, "was", "were")) " written by people with no cloud account; " (plural(r.linked_users as usize, "account")) " " (verb(r.linked_users as usize, "was", "were")) " linked to existing cloud accounts." }
                    @if !r.dropped_permissions.is_empty() {
                        h3 { "Space permissions dropped (" (r.dropped_permissions.len()) ")" }
                        table #dropped-permissions {
                            tr { th { "Space" } th { "Permission" } th { "Who" } th { "Why" } }
                            @for d in r.dropped_permissions.iter().take(500) { tr { td.mono { (d.space) } td.mono { (d.permission) } td { (d.subject) } td { (d.reason) } } }
                        }
                    }
                    @if !r.restriction_losses.is_empty() {
                        h3 { "Restrictions narrowed (" (r.restriction_losses.len()) ")" }
                        p.muted { "A page restriction named someone with no cloud account: fewer people may see or edit the page in the cloud, never more." }
                        table #restriction-losses {
                            tr { th { "Page" } th { "Restriction" } th { "Lost" } th { "Falls back to" } }
                            @for l in r.restriction_losses.iter().take(500) { tr { td { (l.title) br; span.mono.muted { (l.content_id) } } td { (l.kind) } td { (l.subject) } td { (l.fallback.clone().unwrap_or_default()) } } }
                        }
                    }
                    @if !r.unresolved_references.is_empty() {
                        h3 { "References kept as on the server (" (r.unresolved_references.len()) ")" }
                        p.muted { "Links to pages that did not migrate: a later plan that migrates those pages fixes them." }
                        table #unresolved-references {
                            tr { th { "In" } th { "Reference" } th { "Why" } }
                            @for u in r.unresolved_references.iter().take(500) { tr { td { (u.title) br; span.mono.muted { (u.content_id) } } td.mono { (u.reference) } td { (u.reason) } } }
                        }
                    }
                    @if !r.detached_inline_comments.is_empty() {
                        h3 { "Inline comments now footer comments (" (r.detached_inline_comments.len()) ")" }
                        p.muted { "The text they highlighted is no longer on their page." }
                        table #detached-comments {
                            tr { th { "Comment" } th { "Page" } th { "Highlighted text" } }
                            @for d in r.detached_inline_comments.iter().take(500) { tr { td.mono { (d.comment_id) } td.mono { (d.page_id) } td { (d.selection) } } }
                        }
                    }
                    @if !r.merged_groups.is_empty() { p { "Merged into cloud groups of the same name: " (r.merged_groups.join(", ")) } }
                    @if !r.skipped_groups.is_empty() { p { "Groups never migrated (their members are): " (r.skipped_groups.join(", ")) } }
                    @if !r.shadowed_users.is_empty() { p { "Users hidden by a user of the same name in an earlier directory: " (r.shadowed_users.join(", ")) } }
                    @if !r.users_without_account.is_empty() {
                        p.note { "In the directory, but it names no Atlassian account for them (their content goes to the migrating account): " (r.users_without_account.join(", ")) }
                    }
                    @if !r.groups_awaiting_review.is_empty() {
                        p.note { "Groups created by this plan await your permission review: " (r.groups_awaiting_review.join(", ")) }
                    }
                }
            }
        }
        @if !apps.is_empty() {
            h2 { "Apps" }
            @if let Some(why) = report.as_ref().and_then(|r| r.apps_not_started.as_ref()) { p.note { "The apps did not start: " (why) } }
            table {
                tr { th { "App" } th { "Plugin" } th { "Status" } th { "Message" } th { "Sent to" } th { "Cloud app" } th { "Transfer" } th {} }
                @for a in &apps {
                    tr data-app=(a.app) {
                        td.mono { (a.app) } td { (a.version) } td.state { (a.status) } td { (a.message.clone().unwrap_or_default()) }
                        td.sent-to {
                            @if let Some(endpoint) = &a.endpoint {
                                (ferry_manifest::shown_origin(endpoint))
                                @if a.endpoint_overridden { " (your endpoint)" }
                                br; span.muted { (a.uploads) " uploads, " (a.uploaded_bytes) " bytes; plugin " (a.plugin_status.clone().unwrap_or_default()) }
                            }
                        }
                        td.settlement {
                            @match &a.settlement {
                                Some(s) => { (s.status) @if let Some(m) = &s.message { ": " (m) } }
                                None => { @if a.endpoint.is_some() { "not settled" } }
                            }
                        }
                        td.mono { (a.transfer_id.clone().unwrap_or_default()) }
                        td {
                            @if a.status != ferry_migrate::apps::status::COMPLETE && a.status != ferry_migrate::apps::status::RUNNING && a.transfer_id.is_some() {
                                form.inline method="post" action={ "/plans/" (plan.id) "/apps/" (urlencode(&a.app)) "/rerun" } { (csrf_field(&caller)) button type="submit" { "Re-run" } }
                            }
                        }
                    }
                }
            }
        }
        @if !audit.is_empty() {
            h2 { "What each plugin read" }
            @for run in &audit {
                h3 { (run.app) " " (run.version) " · " span.muted { (run.status) ", transfer " (run.transfer_id) ", " (run.uploaded_bytes) " bytes uploaded" } }
                @if let Some(origin) = &run.sent_to {
                    p { "Sent to " (origin) @if run.endpoint_overridden { " (your endpoint)" } " in " (run.uploads) " uploads; the cloud app answered: " (run.cloud_app_answer.clone().unwrap_or_default()) }
                }
                table {
                    tr { th { "Scopes" } th { "Host function" } th { "Calls" } th { "Rows" } th { "Bytes" } }
                    @for line in &run.access { tr { td.mono { (line.scopes.join(", ")) } td.mono { (line.function) } td { (line.calls) } td { (line.rows) } td { (line.bytes) } } }
                }
                @if run.denied.is_empty() { p.ok { "No access was denied." } } @else {
                    table.denied {
                        tr { th { "Denied function" } th { "Missing scope" } th { "Calls" } }
                        @for d in &run.denied { tr { td.mono { (d.function) } td.mono { (d.scope) } td { (d.calls) } } }
                    }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&format!("Plan {}", plan.name), "/plans", Some(csrf(&caller)), content)))
}

/// The whole report as `ferry plan show ID --json` prints it, as a file.
async fn report_export(State(web): State<Web>, Path(id): Path<String>) -> PageResult {
    let plan = ferry_migrate::standing::current(web.db(), &id).await?;
    let shown = ferry_migrate::standing::report_json(web.db(), &plan).await?;
    let body = serde_json::to_string_pretty(&shown).map_err(anyhow::Error::from)?;
    Ok(download(body, "application/json", &format!("ferry-report-{}.json", plan.id)))
}

/// Every failure of a plan's run as CSV: kind, entity, title, space, reason.
async fn failures_export(State(web): State<Web>, Path(id): Path<String>) -> PageResult {
    let plan = ferry_migrate::standing::current(web.db(), &id).await?;
    let report = Plan::report(web.db(), &plan.id).await?.unwrap_or_default();
    Ok(download(crate::failures_csv(&report)?, "text/csv; charset=utf-8", &format!("ferry-failures-{}.csv", plan.id)))
}

/// A file to save: its type and name.
fn download(body: String, content_type: &'static str, name: &str) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "_"));
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type));
    if let Ok(value) = axum::http::HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A plan's last verification: what was compared, and each difference with a link to
/// the cloud copy.
async fn verification_page(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> PageResult {
    let db = web.db();
    let plan = Plan::get(db, &id).await?;
    let verified = ferry_migrate::verify::Verification::latest(db, &plan.id).await?;
    let content = html! {
        p { a href={ "/plans/" (plan.id) } { "Back to the plan's report" } }
        @match &verified {
            None => { p.note { "Plan " (plan.name) " was never verified. " code { "ferry verify " (plan.id) } " reads what it migrated back from the cloud site and compares it with the server (" code { "--sample N" } " compares N of each kind)." } }
            Some(v) => {
                p { "Verified from " (v.started_at) " to " (v.finished_at) " with " (plural(v.requests as usize, "request")) " to the cloud site, all reads"
                    @if let Some(sample) = &v.sample { "; a sample of at most " (sample.per_kind) " of each kind (seed " (sample.seed) ")" } "." }
                table #compared {
                    tr { th { "Compared" } th { "How many" } }
                    @for (kind, n) in &v.checked { tr { td { (kind) } td { (n) } } }
                }
                @if !v.not_compared.is_empty() { p.muted { "Not compared: " (v.not_compared.join(", ")) } }
                @if v.differences.is_empty() {
                    p.ok { "No differences: the cloud site has what the server has, as the migration carried it." }
                } @else {
                    h2 { (plural(v.differences.len(), "difference")) }
                    table #differences {
                        tr { th { "Kind" } th { "Server id" } th { "Title" } th { "In the cloud" } th { "What differs" } th { "Likely wrong" } }
                        @for d in &v.differences {
                            tr {
                                td { (d.kind) } td.mono { (d.server_id) } td { (d.title) }
                                td.mono { @match &d.link { Some(link) => { a href=(link) { (d.cloud_id.clone().unwrap_or_default()) } } None => { (d.cloud_id.clone().unwrap_or_default()) } } }
                                td { (d.what) } td class=(if d.likely == "cloud" { "warn" } else { "bad" }) { (d.likely) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&format!("Verification of plan {}", plan.name), "/plans", Some(csrf(&caller)), content)))
}

/// `n` and its noun, singular or plural ("1 difference", "3 differences", "1 person",
/// "2 people").
fn plural(n: usize, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "person") => format!("{n} people"),
        (_, "entity") => format!("{n} entities"),
        _ => format!("{n} {noun}s"),
    }
}

/// The verb that goes with `n` things: `one` for 1, else `many` ("has"/"have").
fn verb<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

async fn check_plan(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    checks_page(&web, &caller, &id, None, StatusCode::OK).await
}

/// A plan's checks as they stand now, summed up, with *Run the plan* when nothing stops
/// it; `refusal` (a run refused) above them.
async fn checks_page(web: &Web, caller: &Caller, id: &str, refusal: Option<Markup>, status: StatusCode) -> PageResult {
    use ferry_migrate::checks::CheckResult;
    let mut migrator = web.migrator(id).await?;
    let plan = migrator.plan().clone();
    let checks = migrator.checks().await?;
    let errors = checks.iter().filter(|c| c.result == CheckResult::Error).count();
    let warnings = checks.iter().filter(|c| c.result == CheckResult::Warning).count();
    let passed = checks.len() - errors - warnings;
    // Errors first, then warnings, then what passed.
    let mut ordered: Vec<_> = checks.iter().collect();
    ordered.sort_by_key(|c| match c.result {
        CheckResult::Error => 0,
        CheckResult::Warning => 1,
        CheckResult::Pass => 2,
    });
    let content = html! {
        p { a href={ "/plans/" (plan.id) } { "‹ Back to the plan" } }
        @if let Some(refusal) = refusal { (refusal) }
        p #checks-summary class={ "summary " (if errors > 0 { "bad" } else if warnings > 0 { "warn" } else { "ok" }) } {
            (plural(errors, "error")) ", " (plural(warnings, "warning")) ", " (passed) " passed"
        }
        @if errors > 0 {
            p.note { "The plan cannot run while a check finds an error: fix each one as it says, then run the checks again. A plan's scope is fixed once saved: for another scope, " a href="/plans/new" { "create a new plan" } "." }
        } @else if plan.status == plan::status::SAVED {
            form.actions #run method="post" action={ "/plans/" (plan.id) "/run" } {
                (csrf_field(caller))
                @if !plan.plan_apps.is_empty() { (stage1_select()) }
                button.primary type="submit" { "Run the plan" }
                @if warnings > 0 { span.muted { "The warnings do not stop the run: read them first." } }
            }
        }
        div.table-wrap { table #checks {
            tr { th { "Check" } th { "Result" } th { "What was found" } th { "How to fix it" } }
            @for c in &ordered {
                tr data-result=(c.result.name()) {
                    td.mono { (c.code) }
                    td class=(match c.result { CheckResult::Pass => "ok", CheckResult::Warning => "warn", CheckResult::Error => "bad" }) { (c.result.name()) }
                    td { (in_form_words(&c.message)) @if !c.entities.is_empty() { br; span.muted { (c.entities.iter().take(20).cloned().collect::<Vec<_>>().join(", ")) @if c.entities.len() > 20 { " and " (c.entities.len() - 20) " more" } } } }
                    td { (in_form_words(&c.fix)) }
                }
            }
        } }
    };
    Ok(html_response(status, page(&format!("Checks of plan {}", plan.name), "/plans", Some(csrf(caller)), content)))
}

/// The Stage 1 choice of a run, as a select (for plans with apps).
fn stage1_select() -> Markup {
    html! {
        label.check { span { "Stage 1 apps: " }
            select name="stage1" title="For Stage 1 apps: proceed (migrate them) or remove (leave them out)" {
                option value="" { "ask me" }
                option value="proceed" { "proceed" }
                option value="remove" { "remove" }
            }
        }
        " "
    }
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    stage1: String,
}

async fn run_plan(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Form(form): Form<RunForm>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let stage1 = match form.stage1.trim() {
        "" => None,
        choice => Some(choice.parse().map_err(|e: String| Failure::new(StatusCode::BAD_REQUEST, "bad-request", e))?),
    };
    match web.start_plan(&id, stage1).await {
        Ok(()) => Ok(Redirect::to("/plans").into_response()),
        // A run the checks or the Stage 1 rule refuse: the checks page, the reason on top.
        Err(e) if e.downcast_ref::<ferry_migrate::plan::runner::RunRefused>().is_some() => {
            let (refused, status) = Sent::from_error(BTreeMap::new(), e);
            checks_page(&web, &caller, &id, Some(refused.error_box()), status).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn stop_plan(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    plan::stop(web.db(), &id).await?;
    Ok(Redirect::to("/plans").into_response())
}

async fn rerun_app(
    State(web): State<Web>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    check_form(&caller, &form.csrf)?;
    web.connected_plan(&id).await?;
    ferry_migrate::apps::rerun(web.db(), &id, &key, ferry_runtime::limits::Limits::default()).await?;
    Ok(Redirect::to(&format!("/plans/{id}")).into_response())
}

/// One Stage bar: the 95% Wilson interval against the threshold line, in SVG built
/// from numbers only.
fn stage_bar(lower: f64, upper: f64, rate: Option<f64>, threshold: f64) -> Markup {
    const W: f64 = 300.0;
    let x = |v: f64| (v.clamp(0.0, 1.0) * W * 100.0).round() / 100.0;
    let svg = format!(
        r##"<svg class="stage-bar" width="{w}" height="24" viewBox="0 0 {w} 24" role="img" aria-label="Wilson interval {lo:.2} to {hi:.2} against {t:.2}"><rect x="0" y="8" width="{w}" height="8" fill="#f1f2f4"/><rect x="{lx}" y="6" width="{iw}" height="12" fill="#579dff"/>{dot}<line x1="{tx}" y1="0" x2="{tx}" y2="24" stroke="#ae2e24" stroke-width="2"/></svg>"##,
        w = W,
        lo = lower,
        hi = upper,
        t = threshold,
        lx = x(lower),
        iw = (x(upper) - x(lower)).max(1.0),
        tx = x(threshold),
        dot = rate.map(|r| format!(r##"<circle cx="{}" cy="12" r="4" fill="#09326c"/>"##, x(r))).unwrap_or_default(),
    );
    PreEscaped(svg)
}

/// Stages: per plugin the attempts, successes, rate and interval, with the rule.
async fn stages_page(State(web): State<Web>, Extension(caller): Extension<Caller>) -> PageResult {
    let db = web.db();
    let rule = stages::rule(db).await?;
    let figures = stages::all(db).await?;
    let content = html! {
        p.note { "The rule: " (rule.describe()) }
        @if figures.is_empty() { p.muted { "No plugin installed or no outcome recorded yet." } } @else {
            table #stages {
                tr { th { "Plugin" } th { "Version" } th { "Attempts" } th { "Successes" } th { "Rate" } th { "Wilson interval (" (format!("{:.0}%", rule.confidence * 100.0)) ") and the " (format!("{:.2}", rule.threshold)) " line" } th { "Stage" } }
                @for f in &figures {
                    tr data-app=(f.app) {
                        td.mono { (f.app) } td { (f.version) } td { (f.attempts) } td { (f.successes) }
                        td { @if let Some(r) = f.rate { (format!("{:.1}%", r * 100.0)) } @else { "-" } }
                        td { (stage_bar(f.lower, f.upper, f.rate, rule.threshold)) br; span.muted { (format!("{:.3} – {:.3}", f.lower, f.upper)) } }
                        td class=(if f.stage == Stage::Stage2 { "ok" } else { "warn" }) { (f.stage.name()) br; span.muted { (f.decided_by) } }
                    }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page("Stages", "/stages", Some(csrf(&caller)), content)))
}
