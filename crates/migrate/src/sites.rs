//! The Server sites ferry has read, by identity ([`ferry_source::SiteIdentity`]): each
//! plan records the site it reads, and every mapping is keyed by it, so two Server sites
//! whose database ids overlap can merge into one cloud without one being taken for the
//! other.
//!
//! Mappings recorded before sites had identities are kept under `legacy:<source>` (the
//! source of the plan that recorded them). The first plan that reads that same source
//! adopts them for its site: what was recorded before belongs to the site of the plans
//! that recorded it.

use serde::Serialize;
use sqlx::Row;

use ferry_core::state::{now, StateDb};
use ferry_source::{IdentityOrigin, SiteIdentity, Source};

/// A Server site as ferry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ServerSite {
    /// Its identity (`confluence:<server id>`, `jira:<server id>`, or
    /// `<product>:fingerprint:<hex>`).
    pub id: String,
    /// `confluence` or `jira`.
    pub product: String,
    /// How the identity was found: `server-id` or `fingerprint`.
    pub origin: String,
    /// The admin's name for it, if given (`ferry site name`).
    pub name: Option<String>,
    /// Where it was last read from (a SQLite file or a postgres:// URL, no password).
    #[serde(serialize_with = "redacted")]
    pub location: String,
    /// The environment variable its password is read from, when the admin named one
    /// (never the password).
    pub password_env: Option<String>,
    /// The site's own base URL, when its database records one.
    pub base_url: Option<String>,
    /// Plans that read it.
    pub plans: u64,
    /// When ferry first read it.
    pub first_seen: String,
    /// When ferry last read it.
    pub last_seen: String,
}

fn redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ferry_source::redact_url(url))
}

/// The key under which mappings recorded before site identities wait for their site.
fn legacy_key(source: &str) -> String {
    format!("legacy:{source}")
}

/// Read `source`'s identity and record the site (where it was read from, and the
/// password variable used, for the dashboard's plans); adopt what plans of the same
/// source recorded before sites had identities. Returns the identity.
pub async fn identify(db: &StateDb, source: &Source, password_env: Option<&str>) -> anyhow::Result<SiteIdentity> {
    let identity = source.site_identity().await?;
    let at = now();
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO server_sites (id, product, origin, location, password_env, base_url, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET location = excluded.location, password_env = COALESCE(excluded.password_env, server_sites.password_env), base_url = excluded.base_url, \
         last_seen = excluded.last_seen",
    )
    .bind(&identity.id)
    .bind(source.product().to_string())
    .bind(identity.origin.to_string())
    .bind(source.location())
    .bind(password_env)
    .bind(&identity.base_url)
    .bind(&at)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    // Mappings of older plans of this source become this site's (a row this site already
    // has wins; the rest of the legacy rows are then dropped).
    let legacy = legacy_key(source.location());
    let adopted = sqlx::query("UPDATE OR IGNORE mappings SET site = ? WHERE site = ?").bind(&identity.id).bind(&legacy).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM mappings WHERE site = ?").bind(&legacy).execute(&mut *tx).await?;
    let plans = sqlx::query("UPDATE plans SET site = ? WHERE site IS NULL AND source = ?").bind(&identity.id).bind(source.location()).execute(&mut *tx).await?;
    tx.commit().await?;
    if adopted.rows_affected() > 0 || plans.rows_affected() > 0 {
        tracing::info!(
            "site {}: adopted {} mappings of {} earlier plans of {}",
            identity.id,
            adopted.rows_affected(),
            plans.rows_affected(),
            ferry_source::redact_url(source.location())
        );
    }
    Ok(identity)
}

/// Every site ferry has read, the most recently read first.
pub async fn list(db: &StateDb) -> anyhow::Result<Vec<ServerSite>> {
    let rows = sqlx::query(
        "SELECT s.id, s.product, s.origin, s.name, s.location, s.base_url, s.first_seen, s.last_seen, \
         (SELECT COUNT(*) FROM plans p WHERE p.site = s.id), s.password_env FROM server_sites s ORDER BY s.last_seen DESC, s.id",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ServerSite {
            id: r.get(0),
            product: r.get(1),
            origin: r.get(2),
            name: r.get(3),
            location: r.get(4),
            base_url: r.get(5),
            first_seen: r.get(6),
            last_seen: r.get(7),
            plans: r.get::<i64, _>(8).max(0) as u64,
            password_env: r.get(9),
        })
        .collect())
}

/// The site `id` (its whole id, or the admin's name for it).
pub async fn get(db: &StateDb, id: &str) -> anyhow::Result<ServerSite> {
    list(db)
        .await?
        .into_iter()
        .find(|s| s.id == id || s.name.as_deref() == Some(id))
        .ok_or_else(|| ferry_core::Declined::not_found(format!("no Server site {id}: `ferry site list` shows the sites ferry has read")))
}

/// The site a dashboard or API request names: a site the admin added (the dashboard's
/// Sites page, `ferry site add`, or any command that read it), by its id, its name or its
/// location.
/// A request never reaches a database the admin did not give ferry.
pub async fn for_request(db: &StateDb, given: &str) -> anyhow::Result<ServerSite> {
    let given = given.trim();
    let sites = list(db).await?;
    sites.into_iter().find(|s| s.id == given || s.name.as_deref() == Some(given) || s.location == given).ok_or_else(|| {
        ferry_core::Declined::not_found(format!(
            "source: {} is not a Server site ferry knows; the dashboard and the API read only sites the admin added \
             (the dashboard's Sites page, or `ferry site add --source ...`; `ferry site list` shows them)",
            ferry_source::redact_url(given)
        ))
    })
}

/// Give the site `id` a name the admin knows it by (shown beside its id; usable in
/// its place). Names are unique.
pub async fn name(db: &StateDb, id: &str, name: &str) -> anyhow::Result<ServerSite> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ferry_core::Declined::invalid("a site's name is 1 to 100 characters, with no control characters".to_string()));
    }
    let site = get(db, id).await?;
    if let Some(other) = list(db).await?.into_iter().find(|s| s.name.as_deref() == Some(name) && s.id != site.id) {
        return Err(ferry_core::Declined::conflict(format!("the site {} is already named {name:?}: choose another name", other.id)));
    }
    sqlx::query("UPDATE server_sites SET name = ? WHERE id = ?").bind(name).bind(&site.id).execute(db.pool()).await?;
    get(db, &site.id).await
}

/// Whether `origin` is a fingerprint: the admin should name such a site, since nothing
/// in its database names it.
pub fn is_fingerprint(origin: &str) -> bool {
    origin == IdentityOrigin::Fingerprint.to_string()
}

/// The base URL a Server site recorded, if it is known and records one.
pub async fn base_url_of(db: &StateDb, site: &str) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT base_url FROM server_sites WHERE id = ?").bind(site).fetch_optional(db.pool()).await?.flatten())
}
