//! The pages that set a migration up without the command line: the Server and Cloud
//! sites, plugins and the vendor keys they are trusted by, the cloud apps the admin
//! installed, and API tokens. Each calls the library function its command calls, so the
//! rules and refusals are the same; a refused form is drawn again with what was typed
//! and the reason above it.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::{check_form, csrf, csrf_field, html_response, page, pager, urlencode, when, CsrfOnly, ListQuery, PageResult, Sent};
use crate::{auth, Caller, Failure, Web};
use ferry_apps::registry::{InstallError, InstallOutcome, Registry};

/// The largest plugin file the dashboard takes (components are a few MiB at most).
pub const MAX_UPLOAD: usize = 64 << 20;

/// The setup routes.
pub(super) fn routes() -> Router<Web> {
    Router::new()
        .route("/sites", get(sites))
        .route("/sites/server", post(add_server_site))
        .route("/sites/cloud", post(connect_cloud_site))
        .route("/sites/cloud/{name}/accounts", post(import_accounts).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/plugins", get(plugins))
        .route("/plugins/install", post(install_plugin).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/plugins/{key}/remove", post(remove_plugin))
        .route("/plugins/trust", post(trust_key))
        .route("/plugins/trust/{name}/remove", post(distrust_key))
        .route("/apps/{key}/installed", post(mark_installed))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
}

/// A form's fields, whatever they are (the handler reads the ones it knows).
#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    values: BTreeMap<String, String>,
}

impl Fields {
    fn get(&self, field: &str) -> Option<String> {
        self.values.get(field).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }
}

/// What the Sites page shows besides the lists: a form refused (drawn again), or what
/// connecting proved.
#[derive(Default)]
struct SitesShown {
    server: Sent,
    cloud: Sent,
    outcome: Option<Markup>,
    status: Option<StatusCode>,
}

async fn sites(State(web): State<Web>, Extension(caller): Extension<Caller>) -> PageResult {
    sites_page(&web, &caller, SitesShown::default()).await
}

/// Sites: the Server sites plans read and the Cloud sites they go to, each with the form
/// that adds one.
async fn sites_page(web: &Web, caller: &Caller, shown: SitesShown) -> PageResult {
    let db = web.db();
    let servers = ferry_migrate::sites::list(db).await?;
    let clouds = ferry_migrate::cloud::list(db).await?;
    let (s, c) = (&shown.server, &shown.cloud);
    let content = html! {
        @if let Some(outcome) = &shown.outcome { (outcome) }
        h2 #server-sites { "Server sites" }
        p.muted { "The Confluence or Jira Server / Data Center databases plans read. Ferry reads them only: grant its database user read access and nothing more." }
        @if servers.is_empty() { p.note { "No Server site yet: add one below." } } @else {
            div.table-wrap { table #servers {
                tr { th { "Name" } th { "Product" } th { "Where it is read" } th { "Password from" } th { "Plans" } th { "Last read" } }
                @for site in &servers {
                    tr data-site=(site.id) {
                        td { (site.name.as_deref().unwrap_or("-")) br; span.mono.muted { (site.id) } }
                        td { (site.product) }
                        td.mono { (ferry_source::redact_url(&site.location)) @if let Some(url) = &site.base_url { br; span.muted { (url) } } }
                        td.mono { @if let Some(var) = &site.password_env { "$" (var) } @else { span.muted { "the database's own (~/.pgpass, ~/.my.cnf) or none" } } }
                        td { (site.plans) }
                        td { (when(&site.last_seen)) }
                    }
                }
            } }
        }
        form #add-server method="post" action="/sites/server" {
            fieldset {
                legend { "Add a Server site" }
                (s.error_box())
                (csrf_field(caller))
                label { span { "Database" } input name="source" required size="60" value=(s.value("source")) placeholder="postgres://ferry@db.example.com:5432/confluence"; }
                label { small { "postgres://USER@HOST:PORT/DB, mysql://USER@HOST:PORT/DB, or a SQLite file on this machine; never a password in the URL." } }
                label { span { "Password variable" } input name="password_env" size="30" value=(s.value("password_env")) placeholder="CONFLUENCE_DB_PASSWORD"; }
                label { small { "The environment variable of " code { "ferry serve" } " that holds the password (one it was started allowing with " code { "--secret-env" } "). Ferry keeps its name, never the password." } }
                label { span { "Name" } input name="name" size="30" value=(s.value("name")) placeholder="wiki-prod"; }
                button.primary type="submit" { "Read the site and add it" }
            }
        }
        h2 #cloud-sites { "Cloud sites" }
        p.muted { "The Atlassian Cloud sites plans go to. Secrets stay in the environment of " code { "ferry serve" } ": each field below names a variable, never a secret, and only a variable " code { "ferry serve" } " was started allowing (" code { "--secret-env VAR" } ")." }
        @if clouds.is_empty() { p.note { "No Cloud site connected yet: connect one below." } } @else {
            div.table-wrap { table #clouds {
                tr { th { "Name" } th { "Site" } th { "Signs in with" } th { "Users" } th { "Apps" } th { "Connected" } }
                @for site in &clouds {
                    @let t = &site.target;
                    tr data-cloud=(site.name) {
                        td { strong { (site.name) } }
                        td.mono { a href=(t.url) rel="noopener noreferrer" { (t.url) } }
                        td {
                            @match &t.email { Some(email) => { (email) " and the API token in " code { "$" (t.token_env) } } None => { "the scoped token in " code { "$" (t.token_env) } " (API gateway)" } }
                        }
                        td {
                            @match &t.scim_url {
                                Some(url) => { "created through the directory " span.mono { (url) } }
                                None => {
                                    "linked to the organisation's accounts, never created"
                                    form.inline method="post" action={ "/sites/cloud/" (urlencode(&site.name)) "/accounts" } enctype="multipart/form-data" {
                                        (csrf_field(caller))
                                        br; label.check { span { "User export (CSV): " } input type="file" name="accounts" accept=".csv,text/csv" required; }
                                        button type="submit" { "Import" }
                                    }
                                }
                            }
                        }
                        td { @for (app, link) in &t.apps { div.mono { (app) @if let Some(e) = &link.endpoint { " → " (e) } @if let Some(v) = &link.secret_env { " (secret $" (v) ")" } } } }
                        td { (when(&site.connected_at)) }
                    }
                }
            } }
        }
        form #connect-cloud method="post" action="/sites/cloud" {
            fieldset {
                legend { "Connect a Cloud site" }
                (c.error_box())
                (csrf_field(caller))
                label { span { "Name" } input name="name" required size="20" value=(c.value("name")) placeholder="prod"; }
                label { span { "Site URL" } input type="url" name="url" required size="40" value=(c.value("url")) placeholder="https://your-site.atlassian.net"; }
                label { span { "Admin email" } input type="email" name="email" size="30" value=(c.value("email")) placeholder="admin@example.com"; }
                label { small { "A site admin's email, with their API token (id.atlassian.com → Security → API tokens). Leave empty for a scoped token." } }
                label { span { "API token variable" } input name="token_env" required size="30" value=(c.value("token_env")) placeholder="ATLASSIAN_API_TOKEN"; }
                label.check { input type="checkbox" name="scoped_token" value="yes" checked[c.checked("scoped_token")]; " The token is a scoped API token or an OAuth 2.0 access token (sent through the API gateway)" }
                label { span { "Directory URL" } input type="url" name="scim_url" size="60" value=(c.value("scim_url")) placeholder="https://api.atlassian.com/scim/directory/DIRECTORY_ID"; }
                label { span { "Directory key variable" } input name="scim_token_env" size="30" value=(c.value("scim_token_env")) placeholder="ATLASSIAN_SCIM_KEY"; }
                label { small { "The organisation's user-provisioning directory creates missing accounts. Without one, users are linked to the accounts the organisation has: import its user export once connected." } }
                label { span { "App secret variables" } textarea name="app_secret_envs" rows="2" cols="50" placeholder="com.example.app=APP_MIGRATION_SECRET" { (c.value("app_secret_envs")) } }
                label { span { "App endpoints" } textarea name="app_endpoints" rows="2" cols="50" placeholder="com.example.app=https://stand-in.example.com/migration" { (c.value("app_endpoints")) } }
                label { small { "One APP_KEY=VALUE a line: the variable holding the migration secret each app's cloud half issued, and (trial runs only) an endpoint in place of the plugin's." } }
                button.primary type="submit" { "Prove the site and connect it" }
            }
        }
    };
    let status = shown.status.unwrap_or(StatusCode::OK);
    Ok(html_response(status, page("Sites", "/sites", Some(csrf(caller)), content)))
}

async fn add_server_site(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<Fields>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let added = async {
        let source = form
            .get("source")
            .ok_or_else(|| ferry_core::Declined::invalid("give the Server site's database: a postgres:// or mysql:// URL, or a SQLite file"))?;
        let password_env = form.get("password_env");
        if let Some(var) = &password_env {
            web.may_name(var, "Password variable")?;
        }
        let connected = ferry_source::Source::open(&source, password_env.as_deref()).await?;
        let identity = ferry_migrate::sites::identify(web.db(), &connected, password_env.as_deref()).await?;
        match form.get("name") {
            Some(name) => ferry_migrate::sites::name(web.db(), &identity.id, &name).await,
            None => ferry_migrate::sites::get(web.db(), &identity.id).await,
        }
    }
    .await;
    let shown = match added {
        Ok(site) => SitesShown {
            outcome: Some(
                html! { p.done role="status" { "Added " strong { (site.name.as_deref().unwrap_or(&site.id)) } " (" (site.product) ", " span.mono { (site.id) } ")." } },
            ),
            ..SitesShown::default()
        },
        Err(e) => {
            // What was typed comes back, but never a password written into the URL.
            let mut values = form.values;
            if let Some(source) = values.get_mut("source") {
                *source = ferry_source::redact_url(source);
            }
            let (server, status) = Sent::from_error(values, e);
            SitesShown { server, status: Some(status), ..SitesShown::default() }
        }
    };
    sites_page(&web, &caller, shown).await
}

/// `APP_KEY=VALUE` lines (blank lines ignored), each refused naming the line when it is
/// not one.
fn app_pairs(text: Option<String>, field: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for line in text.unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((app, value)) if !app.trim().is_empty() && !value.trim().is_empty() => pairs.push((app.trim().to_string(), value.trim().to_string())),
            _ => return Err(ferry_core::Declined::invalid(format!("“{field}”: {line:?} is not APP_KEY=VALUE"))),
        }
    }
    Ok(pairs)
}

async fn connect_cloud_site(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<Fields>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let connected = async {
        let name = form.get("name").unwrap_or_default();
        let url = form.get("url").ok_or_else(|| ferry_core::Declined::invalid("give the site's URL (https://SITE.atlassian.net)"))?;
        let token_env = form.get("token_env").ok_or_else(|| ferry_core::Declined::invalid("name the environment variable that holds the API token"))?;
        let scoped = form.get("scoped_token").is_some();
        let email = form.get("email");
        if scoped == email.is_some() {
            return Err(ferry_core::Declined::invalid(
                "give the site admin's email (with their API token), or tick the scoped-token box (a scoped token needs no email)",
            ));
        }
        let (scim_url, scim_token_env) = (form.get("scim_url"), form.get("scim_token_env"));
        if scim_url.is_some() != scim_token_env.is_some() {
            return Err(ferry_core::Declined::invalid("a directory needs both its URL and the variable that holds its key"));
        }
        web.may_name(&token_env, "API token variable")?;
        if let Some(var) = &scim_token_env {
            web.may_name(var, "Directory key variable")?;
        }
        let mut apps: BTreeMap<String, ferry_migrate::cloud::AppLink> = BTreeMap::new();
        for (app, var) in app_pairs(form.get("app_secret_envs"), "App secret variables")? {
            web.may_name(&var, "App secret variables")?;
            apps.entry(app).or_default().secret_env = Some(var);
        }
        for (app, endpoint) in app_pairs(form.get("app_endpoints"), "App endpoints")? {
            apps.entry(app).or_default().endpoint = Some(endpoint);
        }
        let target = ferry_migrate::cloud::Target { url, email, cloud_id: None, gateway_url: None, token_env, scim_url, scim_token_env, apps };
        ferry_migrate::cloud::connect(web.db(), &name, target).await
    }
    .await;
    let shown = match connected {
        Ok(c) => SitesShown {
            outcome: Some(html! {
                div.done role="status" {
                    "Connected " strong { (c.site.name) } " (" (c.site.target.url) "). The token stays in " code { "$" (c.site.target.token_env) } ": Ferry never stores it."
                    ul { @for line in &c.proven { li.ok { "proven: " (line) } } @for line in &c.unproven { li.muted { "not proven: " (line) } } }
                }
            }),
            ..SitesShown::default()
        },
        Err(e) => {
            let (cloud, status) = Sent::from_error(form.values, e);
            SitesShown { cloud, status: Some(status), ..SitesShown::default() }
        }
    };
    sites_page(&web, &caller, shown).await
}

/// The fields of a multipart form: text fields, and the one file it carries (name and
/// bytes). The CSRF field is checked before the form is used.
struct Upload {
    fields: BTreeMap<String, String>,
    file: Option<(String, Vec<u8>)>,
}

async fn read_upload(caller: &Caller, mut multipart: Multipart, file_field: &str) -> Result<Upload, Failure> {
    let bad = |e: axum::extract::multipart::MultipartError| Failure::new(e.status(), "bad-request", format!("the upload could not be read: {}", e.body_text()));
    let mut upload = Upload { fields: BTreeMap::new(), file: None };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == file_field {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                upload.file = Some((file_name, bytes.to_vec()));
            }
        } else {
            let text = field.text().await.map_err(bad)?;
            upload.fields.insert(name, text);
        }
    }
    check_form(caller, upload.fields.get("csrf").map(String::as_str).unwrap_or_default())?;
    Ok(upload)
}

async fn import_accounts(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(name): Path<String>, multipart: Multipart) -> PageResult {
    let upload = read_upload(&caller, multipart, "accounts").await?;
    let imported = async {
        let site = ferry_migrate::cloud::get(web.db(), &name).await?;
        let (file, bytes) = upload.file.ok_or_else(|| ferry_core::Declined::invalid("choose the organisation's user export (a CSV file)"))?;
        let accounts = ferry_migrate::accounts::parse_csv(bytes.as_slice(), &file)?;
        ferry_migrate::accounts::import(web.db(), &site.target.url, &accounts).await?;
        anyhow::Ok((site, accounts.len()))
    }
    .await;
    let shown = match imported {
        Ok((site, n)) => SitesShown {
            outcome: Some(
                html! { p.done role="status" { (super::plural(n, "account")) " of the organisation read for " strong { (site.name) } ": server users are linked to them by email." } },
            ),
            ..SitesShown::default()
        },
        Err(e) => {
            let (refused, status) = Sent::from_error(BTreeMap::new(), e);
            SitesShown { outcome: Some(refused.error_box()), status: Some(status), ..SitesShown::default() }
        }
    };
    sites_page(&web, &caller, shown).await
}

/// How many plugin audits a page of the Plugins page shows (each is a few tables).
const AUDITS_PER_PAGE: usize = 10;

async fn plugins(State(web): State<Web>, Extension(caller): Extension<Caller>, Query(query): Query<ListQuery>) -> PageResult {
    plugins_shown(&web, &caller, None, Sent::default(), StatusCode::OK, &query).await
}

/// The Plugins page after a form: its first page of audits.
async fn plugins_page(web: &Web, caller: &Caller, outcome: Option<Markup>, trust_form: Sent, status: StatusCode) -> PageResult {
    plugins_shown(web, caller, outcome, trust_form, status, &ListQuery::default()).await
}

/// Plugins, for admins and reviewers: install one (its audit first), the vendor keys
/// plugins are trusted by, and the installed plugins' audits, a page at a time (searched
/// by app key, name or vendor).
async fn plugins_shown(web: &Web, caller: &Caller, outcome: Option<Markup>, trust_form: Sent, status: StatusCode, query: &ListQuery) -> PageResult {
    let all = web.plugin_audits().await?;
    let search = query.search();
    let matching: Vec<_> = all
        .iter()
        .filter(|(installed, _)| {
            search.as_ref().is_none_or(|q| {
                [&installed.server_app_key, &installed.cloud_app_key, &installed.name, &installed.vendor].iter().any(|t| t.to_lowercase().contains(q))
            })
        })
        .collect();
    let first = (query.page() - 1) * AUDITS_PER_PAGE;
    let audits: Vec<_> = matching.iter().skip(first).take(AUDITS_PER_PAGE).collect();
    let keys = ferry_apps::trust::list(web.db()).await?;
    let content = html! {
        @if let Some(outcome) = outcome { (outcome) }
        form #install method="post" action="/plugins/install" enctype="multipart/form-data" {
            fieldset {
                legend { "Install a plugin" }
                (csrf_field(caller))
                label { span { "Plugin file (.wasm)" } input type="file" name="plugin" accept=".wasm,application/wasm" required; }
                label.check { input type="checkbox" name="allow_unsigned" value="yes"; " Install it even though no trusted key signed it (recorded, and shown wherever the plugin is)" }
                p.muted { "Ferry audits the file without running it: what it declares, what it imports, and who signed it. A plugin that fails the audit, or one signed by a key you do not trust, is refused." }
                button.primary type="submit" { "Audit and install" }
            }
        }
        h2 #trusted-keys { "Vendor keys you trust" }
        @if keys.is_empty() { p.muted { "None yet: plugins install only when signed by a key you trust (or when you choose to install them unsigned)." } } @else {
            div.table-wrap { table #keys {
                tr { th { "Name" } th { "Fingerprint" } th { "Public key" } th { "Added" } th {} }
                @for k in &keys {
                    tr data-key=(k.name) {
                        td { (k.name) } td.mono { (k.fingerprint) } td.mono { (k.public_key) } td { (when(&k.added_at)) }
                        td {
                            form.inline method="post" action={ "/plugins/trust/" (urlencode(&k.name)) "/remove" }
                                data-confirm={ "Stop trusting " (k.name) "? Plugins it signed stay installed but no longer run." } {
                                (csrf_field(caller)) button.danger type="submit" { "Stop trusting" }
                            }
                        }
                    }
                }
            } }
        }
        form #trust method="post" action="/plugins/trust" {
            fieldset {
                legend { "Trust a vendor's key" }
                (trust_form.error_box())
                (csrf_field(caller))
                label { span { "Name" } input name="name" required size="30" value=(trust_form.value("name")) placeholder="the vendor's name"; }
                label { span { "Public key" } input name="public_key" required size="80" value=(trust_form.value("public_key")) placeholder="ed25519:…"; }
                p.muted { "Check the key with the vendor through a channel you trust (their site, a call): whoever holds its signing key can then ship plugins this Ferry installs." }
                button type="submit" { "Trust this key" }
            }
        }
        h2 #audits { "Installed plugins: what each declares and imports" }
        @if all.len() > AUDITS_PER_PAGE || search.is_some() {
            form.search method="get" action="/plugins" {
                input type="search" name="q" value=(query.q.clone().unwrap_or_default()) placeholder="Search by app key, name or vendor";
                " " button type="submit" { "Search" }
            }
        }
        @if all.is_empty() { p.muted { "No plugin installed." } } @else if matching.is_empty() { p.muted { "No plugin matches." } }
        @for (installed, r) in audits.iter().map(|a| (&a.0, &a.1)) {
            section.plugin data-app=(installed.server_app_key) {
                h3 { (r.name.clone().unwrap_or_default()) " " (r.version.clone().unwrap_or_default()) " · " span.muted { "by " (r.vendor.clone().unwrap_or_default()) } }
                div.table-wrap { table {
                    tr { th { "Server app → Cloud app" } td.mono { (installed.server_app_key) " → " (installed.cloud_app_key) } }
                    tr { th { "sha256" } td.mono { (r.sha256) } }
                    tr { th { "Contract" } td.mono { "ferry:migration@" (r.contract.clone().unwrap_or_default()) } }
                    tr { th { "Signed by" } td { (r.signer.describe()) @if installed.allowed_unsigned { br; span.warn { "installed unsigned by your choice" } } } }
                    tr { th { "Installed" } td { (when(&installed.installed_at)) } }
                    tr { th { "Verdict" } td.state class=[(r.verdict != ferry_apps::audit::Verdict::Ok).then_some("bad")] { (format!("{:?}", r.verdict).to_lowercase()) } }
                } }
                @for p in &r.problems { p.error { (p) } }
                @for w in &r.warnings { p.note { (w) } }
                h4 { "Declared scopes" }
                div.table-wrap { table {
                    tr { th { "Scope" } th { "Meaning" } th { "Used" } }
                    @for s in &r.scopes { tr { td.mono { (s.scope) } td { (s.meaning) } td class=[r.unused_scopes.contains(&s.scope).then_some("bad")] { @if r.unused_scopes.contains(&s.scope) { "never usable: over-privilege" } @else { "yes" } } } }
                } }
                @if !r.tables.is_empty() {
                    h4 { "App tables and column classes" }
                    div.table-wrap { table { tr { th { "Table" } th { "Column" } th { "Class" } }
                        @for (table, columns) in &r.tables { @for (column, class) in columns { tr { td.mono { (table) } td.mono { (column) } td { (class) } } } } } }
                }
                h4 { "What the component imports" }
                div.table-wrap { table {
                    tr { th { "Import" } th { "Kind" } th { "Needs one of" } th { "Allowed" } }
                    @for i in &r.imports { tr { td.mono { (i.name) } td { (i.kind) } td.mono { (i.needs_any_of.join(", ")) } td class=[(!i.allowed).then_some("bad")] { @if i.allowed { "yes" } @else { "NO" } } } }
                } }
                form.inline method="post" action={ "/plugins/" (urlencode(&installed.server_app_key)) "/remove" }
                    data-confirm={ "Remove the plugin for " (installed.server_app_key) "? Its app's data cannot migrate until one is installed again." } {
                    (csrf_field(caller)) button.danger type="submit" { "Remove this plugin" }
                }
            }
        }
        (pager(first, audits.len(), matching.len(), AUDITS_PER_PAGE, "Plugins", |page| format!("{}#audits", query.link("/plugins", None, page))))
    };
    Ok(html_response(status, page("Plugins", "/plugins", Some(csrf(caller)), content)))
}

async fn install_plugin(State(web): State<Web>, Extension(caller): Extension<Caller>, multipart: Multipart) -> PageResult {
    let upload = read_upload(&caller, multipart, "plugin").await?;
    let Some((file, bytes)) = upload.file else {
        let message = html! { p.error role="alert" { "Choose the plugin file (.wasm) to install." } };
        return plugins_page(&web, &caller, Some(message), Sent::default(), StatusCode::BAD_REQUEST).await;
    };
    let allow_unsigned = upload.fields.get("allow_unsigned").is_some_and(|v| !v.is_empty());
    let (outcome, status) = match Registry::new(web.db().clone()).install(&bytes, allow_unsigned).await {
        Ok((outcome, plugin, _)) => {
            let what = match &outcome {
                InstallOutcome::Installed => "Installed".to_string(),
                InstallOutcome::Replaced { previous } => format!("Replaced {previous} with"),
                InstallOutcome::AlreadyInstalled => "Already installed:".to_string(),
            };
            let shown = html! {
                div.done role="status" {
                    (what) " " strong { (plugin.name) " " (plugin.version) } " for " span.mono { (plugin.server_app_key) } ", signed by " (plugin.signer_shown()) "."
                    br; "Its data goes to the cloud app " span.mono { (plugin.cloud_app_key) } ": read its " a href={ "/apps/" (urlencode(&plugin.server_app_key)) "/consent" } { "consent card" } " before you agree."
                }
            };
            (shown, StatusCode::OK)
        }
        Err(InstallError::Refused(report)) => {
            let shown = html! {
                div.error role="alert" { (file) " was refused by its audit:" ul { @for p in &report.problems { li { (p) } } } }
            };
            (shown, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => (html! { p.error role="alert" { (file) " was refused: " (super::in_form_words(&e.to_string())) } }, StatusCode::UNPROCESSABLE_ENTITY),
    };
    plugins_page(&web, &caller, Some(outcome), Sent::default(), status).await
}

async fn remove_plugin(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let removed = Registry::new(web.db().clone()).remove(&key).await?;
    let shown = match removed {
        true => html! { p.done role="status" { "Removed the plugin for " span.mono { (key) } "." } },
        false => html! { p.note role="status" { "No plugin is installed for " span.mono { (key) } "." } },
    };
    plugins_page(&web, &caller, Some(shown), Sent::default(), StatusCode::OK).await
}

async fn trust_key(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<Fields>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let added = async {
        let name = form.get("name").unwrap_or_default();
        let key = ferry_runtime::signature::PublicKey::parse(&form.get("public_key").unwrap_or_default())?;
        ferry_apps::trust::add(web.db(), &name, &key).await
    }
    .await;
    match added {
        Ok(key) => {
            let shown = html! { p.done role="status" { "Trusted " span.mono { (key.fingerprint) } " as " strong { (key.name) } "." } };
            plugins_page(&web, &caller, Some(shown), Sent::default(), StatusCode::OK).await
        }
        Err(e) => {
            let (refused, status) = Sent::from_error(form.values, e);
            plugins_page(&web, &caller, None, refused, status).await
        }
    }
}

async fn distrust_key(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(name): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    if !ferry_apps::trust::remove(web.db(), &name).await? {
        Err(Failure::new(StatusCode::NOT_FOUND, "not-found", format!("no trusted key is named {name:?}")))?;
    }
    let flagged: Vec<String> = Registry::new(web.db().clone()).list().await?.iter().filter_map(|p| p.trust_problem()).collect();
    let shown = html! {
        div.done role="status" { "No longer trusting " strong { (name) } "." @for f in &flagged { br; span.warn { "flagged: " (f) } } }
    };
    plugins_page(&web, &caller, Some(shown), Sent::default(), StatusCode::OK).await
}

/// Confirm (or withdraw) that a needed app's cloud app is installed on a connected site.
async fn mark_installed(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(key): Path<String>, Form(form): Form<Fields>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let plugin = Registry::new(web.db().clone())
        .get(&key)
        .await?
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "not-found", format!("no plugin is installed for {key}: install one on the Plugins page")))?;
    let site = ferry_migrate::cloud::get(web.db(), &form.get("cloud").unwrap_or_default()).await?;
    if form.get("undo").is_some() {
        ferry_migrate::cloud::unconfirm_app(web.db(), &site.target.url, &plugin.cloud_app_key).await?;
    } else {
        ferry_migrate::cloud::confirm_app(web.db(), &site.target.url, &plugin.cloud_app_key).await?;
    }
    Ok(Redirect::to("/apps").into_response())
}

async fn tokens(State(web): State<Web>, Extension(caller): Extension<Caller>) -> PageResult {
    tokens_page(&web, &caller, None, Sent::default(), StatusCode::OK).await
}

/// API tokens: each with when it was made and last used; a new one shown once.
async fn tokens_page(web: &Web, caller: &Caller, outcome: Option<Markup>, form: Sent, status: StatusCode) -> PageResult {
    let tokens = auth::list_tokens(web.db()).await?;
    let content = html! {
        p.muted { "Scripts and CI call the API (" code { "/api/v1" } ", described at " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } ") with " code { "Authorization: Bearer TOKEN" } ". A token opens the API only, never these pages." }
        @if let Some(outcome) = outcome { (outcome) }
        form #create-token method="post" action="/tokens" {
            fieldset {
                legend { "Create an API token" }
                (form.error_box())
                (csrf_field(caller))
                label { span { "Name" } input name="name" required size="30" maxlength="100" value=(form.value("name")) placeholder="ci-nightly"; }
                button.primary type="submit" { "Create" }
            }
        }
        @if tokens.is_empty() { p.muted { "No API token yet." } } @else {
            div.table-wrap { table #tokens {
                tr { th { "Name" } th { "Id" } th { "Created" } th { "Last used" } th { "State" } th {} }
                @for t in &tokens {
                    tr data-token=(t.name) {
                        td { (t.name) } td.mono { (t.id) } td { (when(&t.created_at)) }
                        td { @match &t.last_used_at { Some(at) => { (when(at)) } None => { span.muted { "never" } } } }
                        td { @match &t.revoked_at { Some(at) => { span.status.status-revoked { "revoked" } " " (when(at)) } None => { span.status.status-given { "live" } } } }
                        td {
                            @if t.revoked_at.is_none() {
                                form.inline method="post" action={ "/tokens/" (urlencode(&t.id)) "/revoke" }
                                    data-confirm={ "Revoke " (t.name) "? Scripts using it are refused from now on." } {
                                    (csrf_field(caller)) button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(html_response(status, page("API tokens", "/tokens", Some(csrf(caller)), content)))
}

async fn create_token(State(web): State<Web>, Extension(caller): Extension<Caller>, Form(form): Form<Fields>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    match auth::create_token(web.db(), &form.get("name").unwrap_or_default()).await {
        Ok((token, secret)) => {
            let shown = html! {
                div.done role="status" {
                    "Created " strong { (token.name) } ". Copy the token now: it is shown this once, and Ferry keeps only its hash."
                    p.secret.mono #new-token { (secret) }
                }
            };
            tokens_page(&web, &caller, Some(shown), Sent::default(), StatusCode::OK).await
        }
        Err(e) => {
            let (refused, status) = Sent::from_error(form.values, e);
            tokens_page(&web, &caller, None, refused, status).await
        }
    }
}

async fn revoke_token(State(web): State<Web>, Extension(caller): Extension<Caller>, Path(id): Path<String>, Form(form): Form<CsrfOnly>) -> PageResult {
    check_form(&caller, &form.csrf)?;
    let shown = match auth::revoke_token(web.db(), &id).await? {
        true => html! { p.done role="status" { "Revoked: requests with that token are refused from now on." } },
        false => html! { p.note role="status" { "That token was revoked already." } },
    };
    tokens_page(&web, &caller, Some(shown), Sent::default(), StatusCode::OK).await
}
