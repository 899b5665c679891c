//! Connected Cloud sites: `ferry cloud connect NAME --url --email --token-env
//! [--scim-url --scim-token-env | --accounts-csv FILE]` stores where a site is and how Ferry signs in to it (the
//! names of the environment variables that hold the secrets), after proving that the
//! site answers, that the account administers it, and that the user-provisioning
//! directory takes its key. No secret is ever stored, printed or logged.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use ferry_core::state::{now, StateDb};
use ferry_destination::{Destination, Directory, Secret, SiteAuth};

/// Where a Cloud site is and how Ferry signs in to it: URLs, an email and the names of
/// environment variables, never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    /// The site's base URL (`https://SITE.atlassian.net`).
    pub url: String,
    /// The site admin's email, for HTTP Basic with the API token (none when the token is
    /// a scoped token used through the gateway).
    pub email: Option<String>,
    /// The site's cloud id, when the token is a scoped API token or an OAuth 2.0 access
    /// token used through the API gateway.
    pub cloud_id: Option<String>,
    /// The API gateway's URL, when it is not `https://api.atlassian.com`.
    pub gateway_url: Option<String>,
    /// The environment variable that holds the API token.
    pub token_env: String,
    /// The organisation's user-provisioning directory (SCIM base URL).
    pub scim_url: Option<String>,
    /// The environment variable that holds the directory's API key.
    pub scim_token_env: Option<String>,
    /// Per server app key: how Ferry reaches the app's cloud half on this site.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub apps: std::collections::BTreeMap<String, AppLink>,
}

/// How Ferry reaches one app's cloud half on a site: the admin's endpoint in place of
/// the one its plugin's manifest names (trial runs, a stand-in), and the environment
/// variable holding the migration secret its cloud app issued. Never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppLink {
    /// The endpoint to use instead of the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The variable holding the migration secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// The stored form of a site's (or plan's) app links.
pub(crate) fn app_links_json(apps: &std::collections::BTreeMap<String, AppLink>) -> String {
    serde_json::to_string(apps).expect("app links serialize")
}

/// App links as stored (an unreadable value is none).
pub(crate) fn app_links_of(json: &str) -> std::collections::BTreeMap<String, AppLink> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The fix for a target that lacks a way to sign in (a site connected before Ferry spoke
/// Atlassian's sign-in).
fn reconnect(url: &str) -> String {
    format!(
        "connect the site again with `ferry cloud connect NAME --url {url} --email ADMIN_EMAIL --token-env VAR --scim-url https://api.atlassian.com/scim/directory/DIRECTORY_ID --scim-token-env VAR`"
    )
}

/// A secret read from `$name`; unset or empty is the admin's to fix (a refusal).
fn secret(name: &str, what: &str) -> anyhow::Result<Secret> {
    let value = std::env::var(name).unwrap_or_default();
    ferry_core::Declined::unless(!value.trim().is_empty(), || {
        format!("the {what} is read from ${name}, which is not set or empty: export it there (for the dashboard: before starting `ferry serve`)")
    })?;
    Ok(Secret::new(value))
}

impl Target {
    /// A client for the site, its secrets read from their environment variables.
    pub fn client(&self, concurrency: usize) -> anyhow::Result<Destination> {
        let token = secret(&self.token_env, "site's API token")?;
        let auth = match (&self.email, &self.cloud_id) {
            (Some(email), _) => SiteAuth::Basic { email: email.clone(), token },
            (None, Some(cloud_id)) => {
                SiteAuth::Gateway { gateway: self.gateway_url.clone().unwrap_or_else(|| ferry_destination::GATEWAY.into()), cloud_id: cloud_id.clone(), token }
            }
            (None, None) => {
                return Err(ferry_core::Declined::conflict(format!(
                    "Ferry does not know how to sign in to {}: a site takes an admin's email with the API token: {}",
                    self.url,
                    reconnect(&self.url)
                )))
            }
        };
        match (&self.scim_url, &self.scim_token_env) {
            (Some(scim_url), Some(scim_token_env)) => {
                let scim = Directory { url: scim_url.clone(), key: secret(scim_token_env, "SCIM directory's API key")? };
                Destination::new(&self.url, auth, scim, concurrency)
            }
            // No directory: users are linked to the accounts the organisation has.
            _ => Destination::without_directory(&self.url, auth, concurrency),
        }
    }
}

/// A named Cloud site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudSite {
    /// Its name, as plans refer to it (`--cloud NAME`).
    pub name: String,
    /// Where it is and how Ferry signs in.
    #[serde(flatten)]
    pub target: Target,
    /// When it was last connected.
    pub connected_at: String,
}

impl CloudSite {
    /// A client for the site, its secrets read from their environment variables.
    pub fn client(&self, concurrency: usize) -> anyhow::Result<Destination> {
        self.target.client(concurrency)
    }
}

/// What connecting proved, and what it could not.
#[derive(Debug, Clone, Serialize)]
pub struct Connected {
    /// The site as stored.
    #[serde(flatten)]
    pub site: CloudSite,
    /// What the site showed, one sentence each.
    pub proven: Vec<String>,
    /// What no public API lets Ferry check, one sentence each.
    pub unproven: Vec<String>,
}

/// Prove that the site answers, that the account administers Confluence or Jira there,
/// and that the SCIM directory takes its key; then store the site under `name`
/// (replacing a site of that name).
pub async fn connect(db: &StateDb, name: &str, target: Target) -> anyhow::Result<Connected> {
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "a cloud site's name is letters, digits, - and _ (e.g. prod or staging-1), not {name:?}"
    );
    let mut target = Target { url: target.url.trim_end_matches('/').to_string(), ..target };
    if target.email.is_none() && target.cloud_id.is_none() {
        // A scoped token: the gateway needs the site's cloud id, which the site tells anyone.
        let cloud_id = Destination::cloud_id_of(&target.url).await.with_context(|| format!("{} did not say its cloud id at /_edge/tenant_info", target.url))?;
        target.cloud_id = Some(cloud_id);
    }
    let dest = target.client(2)?;
    let who = match &target.email {
        Some(email) => format!("{email} with the token in ${}", target.token_env),
        None => format!("the scoped token in ${} (through the API gateway)", target.token_env),
    };
    let mut proven = Vec::new();
    let mut unproven = Vec::new();
    let confluence = dest.current_user().await.with_context(|| format!("{} did not accept {who}", target.url))?;
    let jira = dest.administers_jira().await.with_context(|| format!("{} did not accept {who}", target.url))?;
    match &confluence {
        Some(user) if user.administers() => {
            proven.push(format!("signed in as {} and administers Confluence", user.display_name.as_deref().unwrap_or("the account")))
        }
        Some(_) => unproven.push("the account does not administer Confluence on this site".into()),
        None => unproven.push("the site has no Confluence".into()),
    }
    match jira {
        Some(true) => proven.push("administers Jira (and Service Management) on this site".into()),
        Some(false) => unproven.push("the account does not administer Jira on this site".into()),
        None => unproven.push("the site has no Jira".into()),
    }
    anyhow::ensure!(
        confluence.as_ref().is_some_and(|u| u.administers()) || jira == Some(true),
        "{who} signs in to {} but administers neither Confluence nor Jira there: connect with a site admin's email and API token",
        target.url
    );
    if dest.has_directory() {
        dest.find_user_by_email("ferry-connect-check@invalid.example").await.with_context(|| {
            format!(
                "the SCIM directory at {} did not take the key in ${}",
                target.scim_url.as_deref().unwrap_or(""),
                target.scim_token_env.as_deref().unwrap_or("")
            )
        })?;
        proven.push("the user-provisioning directory takes its key".into());
    } else {
        let known = crate::accounts::known(db, &target.url).await?.len();
        unproven.push(format!(
            "no user-provisioning directory: users are linked to the accounts the organisation has ({known} known from its user export; others looked up by email), never created"
        ));
    }
    unproven.push("organization admin rights (no public API shows them to a site's token)".into());
    check_app_links(db, &target, &mut proven, &mut unproven).await?;
    let site = CloudSite { name: name.into(), target, connected_at: now() };
    let t = &site.target;
    sqlx::query(
        "INSERT INTO cloud_sites (name, url, scim_url, token_env, connected_at, email, cloud_id, gateway_url, scim_token_env, app_links) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, scim_url = excluded.scim_url, token_env = excluded.token_env, connected_at = excluded.connected_at, \
         email = excluded.email, cloud_id = excluded.cloud_id, gateway_url = excluded.gateway_url, scim_token_env = excluded.scim_token_env, \
         app_links = excluded.app_links",
    )
    .bind(&site.name)
    .bind(&t.url)
    .bind(&t.scim_url)
    .bind(&t.token_env)
    .bind(&site.connected_at)
    .bind(&t.email)
    .bind(&t.cloud_id)
    .bind(&t.gateway_url)
    .bind(&t.scim_token_env)
    .bind(app_links_json(&t.apps))
    .execute(db.pool())
    .await?;
    Ok(Connected { site, proven, unproven })
}

/// Every named site.
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<CloudSite>> {
    let rows = sqlx::query(
        "SELECT name, url, scim_url, token_env, connected_at, email, cloud_id, gateway_url, scim_token_env, app_links FROM cloud_sites ORDER BY name",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| CloudSite {
            name: r.get(0),
            target: Target {
                url: r.get(1),
                scim_url: r.get(2),
                token_env: r.get(3),
                email: r.get(5),
                cloud_id: r.get(6),
                gateway_url: r.get(7),
                scim_token_env: r.get(8),
                apps: app_links_of(&r.get::<String, _>(9)),
            },
            connected_at: r.get(4),
        })
        .collect())
}

/// The site named `name`.
pub async fn get(db: &StateDb, name: &str) -> anyhow::Result<CloudSite> {
    list(db).await?.into_iter().find(|s| s.name == name).ok_or_else(|| {
        ferry_core::Declined::not_found(format!(
            "no cloud site named {name}: connect one with `ferry cloud connect {name} --url <URL> --email <ADMIN_EMAIL> --token-env <VAR> …`"
        ))
    })
}

/// The site `name`, or the only connected site when no name is given.
pub async fn get_or_only(db: &StateDb, name: Option<&str>) -> anyhow::Result<CloudSite> {
    if let Some(name) = name {
        return get(db, name).await;
    }
    let mut sites = list(db).await?;
    match sites.len() {
        1 => Ok(sites.remove(0)),
        0 => anyhow::bail!("no cloud site connected: connect one with `ferry cloud connect NAME --url <URL> --email <ADMIN_EMAIL> --token-env <VAR> …`"),
        _ => anyhow::bail!("{} cloud sites are connected: name one with --cloud", sites.len()),
    }
}

/// Record that the admin confirmed cloud app `app_key` installed on the site at `url`
/// (no public API lists a site's apps to its admin).
pub async fn confirm_app(db: &StateDb, url: &str, app_key: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!app_key.trim().is_empty(), "name the cloud app, e.g. com.example.page-ratings.cloud");
    sqlx::query(
        "INSERT INTO cloud_apps_confirmed (destination, app_key, confirmed_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET confirmed_at = excluded.confirmed_at",
    )
    .bind(crate::destination_key(url))
    .bind(app_key.trim())
    .bind(now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Withdraw a confirmation; whether there was one.
pub async fn unconfirm_app(db: &StateDb, url: &str, app_key: &str) -> anyhow::Result<bool> {
    let done = sqlx::query("DELETE FROM cloud_apps_confirmed WHERE destination = ? AND app_key = ?")
        .bind(crate::destination_key(url))
        .bind(app_key.trim())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// When the admin confirmed cloud app `app_key` installed on the site at `url`, if ever.
pub async fn app_confirmed(db: &StateDb, url: &str, app_key: &str) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT confirmed_at FROM cloud_apps_confirmed WHERE destination = ? AND app_key = ?")
        .bind(crate::destination_key(url))
        .bind(app_key)
        .fetch_optional(db.pool())
        .await?)
}

/// Check each app link of a site being connected: an endpoint override must be one a
/// manifest could name, and where an endpoint is known (the override, or the installed
/// plugin's manifest) and a secret is given, the cloud app must take the secret (a
/// signed question about a transfer that does not exist: 404 proves it, 401 refutes it).
async fn check_app_links(db: &StateDb, target: &Target, proven: &mut Vec<String>, unproven: &mut Vec<String>) -> anyhow::Result<()> {
    for (app, link) in &target.apps {
        if let Some(endpoint) = &link.endpoint {
            ferry_core::Declined::unless(ferry_manifest::endpoint_origin(endpoint).is_some(), || {
                format!("--app-endpoint {app}={endpoint}: give an https:// URL (http:// only to a loopback host), with no query, fragment or credentials")
            })?;
        }
        let installed = ferry_apps::registry::Registry::new(db.clone()).load(app).await.ok().and_then(|(_, _, m)| m.migration_endpoint);
        let Some(endpoint) = link.endpoint.clone().or(installed) else {
            unproven.push(format!("{app}: no plugin installed names its cloud app's endpoint yet (its secret is checked when a transfer starts)"));
            continue;
        };
        let origin = ferry_manifest::shown_origin(&endpoint);
        let Some(env) = &link.secret_env else {
            unproven.push(format!("{app}: no migration secret named (--app-secret-env {app}=VAR): its data cannot be sent to {origin}"));
            continue;
        };
        let secret = crate::cloud_app::AppSecret::from_env(env, app)?;
        let probe = crate::cloud_app::Transfer::new(&endpoint, secret, "ferry-connect-check")?;
        match probe.takes_secret().await {
            Ok(true) => proven.push(format!("{app}: the cloud app at {origin} takes the migration secret in ${env}")),
            Ok(false) => {
                return Err(ferry_core::Declined::invalid(format!(
                    "the cloud app of {app} at {origin} refused the migration secret in ${env}: export the secret its cloud app issued"
                )))
            }
            Err(e) => {
                unproven.push(format!("{app}: the cloud app at {origin} did not answer as a receiver does ({e}); its secret is checked when a transfer starts"))
            }
        }
    }
    Ok(())
}
