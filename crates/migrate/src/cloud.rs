//! Named Cloud sites: `ferry cloud connect NAME --url --token-env` stores where a site is
//! and which environment variable holds its token, after checking that it answers and
//! accepts the token. The token itself is never stored, printed or logged.

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

use ferry_core::state::{now, StateDb};
use ferry_destination::{Destination, Secret};

/// A named Cloud site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudSite {
    /// Its name, as plans refer to it (`--cloud NAME`).
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// Its SCIM base URL, when not `<url>/scim/v2`.
    pub scim_url: Option<String>,
    /// The environment variable that holds its API token.
    pub token_env: String,
    /// When it was last connected.
    pub connected_at: String,
}

impl CloudSite {
    /// A client for the site, with the token read from its environment variable.
    pub fn client(&self, concurrency: usize) -> anyhow::Result<Destination> {
        client(&self.url, self.scim_url.as_deref(), &self.token_env, concurrency)
    }
}

/// A client for `url`, its token read from `$token_env`.
pub fn client(url: &str, scim_url: Option<&str>, token_env: &str, concurrency: usize) -> anyhow::Result<Destination> {
    // A missing token is the admin's to fix, not a failure of ferry: a refusal.
    let token = std::env::var(token_env).unwrap_or_default();
    ferry_core::Declined::unless(!token.trim().is_empty(), || {
        format!("the destination token is read from ${token_env}, which is not set or empty: export the site's API token in it (for the dashboard: before starting `ferry serve`)")
    })?;
    Destination::new(url, scim_url, Secret::new(token), concurrency)
}

/// Check that the site answers and accepts the token (content API and SCIM), then store
/// it under `name` (replacing a site of that name).
pub async fn connect(db: &StateDb, name: &str, url: &str, scim_url: Option<&str>, token_env: &str) -> anyhow::Result<CloudSite> {
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "a cloud site's name is letters, digits, - and _ (e.g. prod or staging-1), not {name:?}"
    );
    let dest = client(url, scim_url, token_env, 2)?;
    dest.system_info().await.with_context(|| format!("the site at {url} did not answer as a Cloud site with the token in ${token_env}"))?;
    dest.find_user_by_email("ferry-connect-check@invalid.example")
        .await
        .with_context(|| format!("the site's SCIM API did not answer with the token in ${token_env}"))?;
    let site = CloudSite {
        name: name.into(),
        url: url.trim_end_matches('/').into(),
        scim_url: scim_url.map(str::to_string),
        token_env: token_env.into(),
        connected_at: now(),
    };
    sqlx::query(
        "INSERT INTO cloud_sites (name, url, scim_url, token_env, connected_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, scim_url = excluded.scim_url, token_env = excluded.token_env, connected_at = excluded.connected_at",
    )
    .bind(&site.name)
    .bind(&site.url)
    .bind(&site.scim_url)
    .bind(&site.token_env)
    .bind(&site.connected_at)
    .execute(db.pool())
    .await?;
    Ok(site)
}

/// Every named site.
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<CloudSite>> {
    let rows = sqlx::query("SELECT name, url, scim_url, token_env, connected_at FROM cloud_sites ORDER BY name").fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| CloudSite { name: r.get(0), url: r.get(1), scim_url: r.get(2), token_env: r.get(3), connected_at: r.get(4) }).collect())
}

/// The site named `name`.
pub async fn get(db: &StateDb, name: &str) -> anyhow::Result<CloudSite> {
    list(db).await?.into_iter().find(|s| s.name == name).ok_or_else(|| {
        ferry_core::Declined::not_found(format!("no cloud site named {name}: connect one with `ferry cloud connect {name} --url <URL> --token-env <VAR>`"))
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
        0 => anyhow::bail!("no cloud site connected: connect one with `ferry cloud connect NAME --url <URL> --token-env <VAR>`"),
        _ => anyhow::bail!("{} cloud sites are connected: name one with --cloud", sites.len()),
    }
}
