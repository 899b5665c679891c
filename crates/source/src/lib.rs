//! Reading a Server site: a Confluence or a Jira database in the real schema, on
//! PostgreSQL or SQLite, read-only. The plugin runtime's product-data access and the core
//! migration share this code; the user directories (order, shadowing, nested groups,
//! memberships) are read by one set of functions for both products, which differ only in
//! a few tables.
//!
//! No query here selects a credential column or `cwd_user_credential_record`.
#![deny(missing_docs)]

mod app_tables;
mod apps;
mod content;
mod identity;
mod jira;
mod product;
mod site;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

pub use app_tables::{AppTableBatch, Cell};
pub use apps::{read_descriptor, InstalledApp};
pub use content::{
    attachment_path, AttachmentItem, ContentItem, InlineAnchor, LabelItem, PermissionItem, RestrictionItem, RestrictionKind, VersionItem, MAX_BODY_CHARS,
};
pub use jira::{
    is_public as is_public_comment, server_time, RelatedPeople, ServerOrganization, ServerProject, ServerRequest, ServerRequestComment,
    COMMENT_PROPERTY_ENTITY, PARTICIPANTS_FIELD, PUBLIC_COMMENT_PROPERTY,
};
pub use product::{ContentKind, ServerComment, ServerSpace, ServerUser, TreeNode};
pub use site::{IdentityOrigin, SiteIdentity};

/// A read-only connection pool to a Server site's database.
#[derive(Clone, Debug)]
pub struct Source {
    pool: AnyPool,
    kind: SourceKind,
    product: Product,
    /// Which tables the database has, as asked so far (the answer does not change
    /// while ferry reads: it asks once per table, not once per batch).
    tables: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, bool>>>,
    /// Where it was read from, as given (never with a password).
    location: String,
}

/// The database engine behind a [`Source`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// PostgreSQL, what most Data Center sites run.
    Postgres,
    /// SQLite, for fixtures and sample sites.
    Sqlite,
}

/// Which product a Server database belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    /// Confluence Server / Data Center.
    #[default]
    Confluence,
    /// Jira Server / Data Center (with Jira Service Management).
    Jira,
}

impl std::str::FromStr for Product {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "confluence" => Ok(Product::Confluence),
            "jira" => Ok(Product::Jira),
            other => Err(format!("the product is confluence or jira, not {other:?}")),
        }
    }
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Product::Confluence => "confluence",
            Product::Jira => "jira",
        })
    }
}

/// Why a source read failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database answered with an error.
    #[error("reading the source database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// A value had a shape ferry cannot read.
    #[error("unexpected data in the source database: {0}")]
    Data(String),
}

/// `column` unless it has more than [`MAX_BODY_CHARS`] characters (then NULL), for SQL.
pub(crate) fn bounded_text(column: &str) -> String {
    bounded_to(column, MAX_BODY_CHARS)
}

/// `column` unless it has more than `max` characters (then NULL), for SQL.
pub(crate) fn bounded_to(column: &str, max: i64) -> String {
    format!("CASE WHEN length({column}) > {max} THEN NULL ELSE {column} END")
}

/// The character length a `length(…)` column gives, when over [`MAX_BODY_CHARS`].
pub(crate) fn over_bound<I: sqlx::ColumnIndex<sqlx::any::AnyRow> + Copy>(row: &sqlx::any::AnyRow, index: I) -> Result<Option<i64>, sqlx::Error> {
    use sqlx::Row;
    let chars = row.try_get::<Option<i64>, _>(index).or_else(|_| row.try_get::<Option<i32>, _>(index).map(|n| n.map(i64::from)))?;
    Ok(chars.filter(|n| *n > MAX_BODY_CHARS))
}

/// Why a text over [`MAX_BODY_CHARS`] is not read (`what`: "its body", "comment 7").
pub fn too_long(what: &str, chars: i64) -> String {
    format!(
        "{what} has {chars} characters, more than the {MAX_BODY_CHARS} ferry reads for one body or text: \
         shorten or split it on the server, then migrate it in a new plan"
    )
}

impl Source {
    /// Connect to a Server database: a `postgres://` URL, a `sqlite://` URL, or the path of
    /// a SQLite file. The connection is read-only. A PostgreSQL password comes from the
    /// `PGPASSWORD` environment variable or `~/.pgpass`, never from the URL.
    pub async fn connect(url_or_path: &str) -> anyhow::Result<Source> {
        Source::open(url_or_path, None).await
    }

    /// [`Source::connect`], with the PostgreSQL password read from the environment
    /// variable `password_env` when one is named. The password is used for this
    /// connection only: it is never stored, printed or logged.
    pub async fn open(url_or_path: &str, password_env: Option<&str>) -> anyhow::Result<Source> {
        sqlx::any::install_default_drivers();
        let (url, kind) = if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
            refuse_password(url_or_path)?;
            (with_password(url_or_path, password_env)?, SourceKind::Postgres)
        } else if let Some((scheme, _)) = url_or_path.split_once("://").filter(|(scheme, _)| *scheme != "sqlite") {
            anyhow::bail!(
                "ferry reads Server databases on PostgreSQL (postgres://USER@HOST:PORT/DB) and SQLite (a file, or sqlite://PATH); \
                 {scheme}:// is not one of them{}",
                if matches!(scheme, "mysql" | "mariadb") { ": MySQL and MariaDB sources are not supported yet" } else { "" }
            );
        } else {
            let path = url_or_path.strip_prefix("sqlite://").unwrap_or(url_or_path);
            let path = path.split('?').next().unwrap_or(path);
            anyhow::ensure!(std::path::Path::new(path).is_file(), "the source database {path:?} does not exist: give a SQLite file or a postgres:// URL");
            (format!("sqlite://{path}?mode=ro"), SourceKind::Sqlite)
        };
        // Rows are streamed while the migration works on them, so a statement "lasts" as
        // long as its stream is read: sqlx's slow-statement warning would be noise here.
        let options = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&url)
            .with_context(|| format!("not a database URL: {}", redact_url(&url)))?
            .log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(10));
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == SourceKind::Postgres {
                        conn.execute("SET default_transaction_read_only = on").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to the source database {}", redact_url(&url)))?;
        let mut source = Source { pool, kind, product: Product::Confluence, tables: Default::default(), location: url_or_path.to_string() };
        if source.has_table("jiraissue").await? && !source.has_table("content").await? {
            source.product = Product::Jira;
        }
        Ok(source)
    }

    /// [`Source::open`], refusing a database of another product than `product`, with
    /// the fix in the message.
    pub async fn open_product(url_or_path: &str, password_env: Option<&str>, product: Product) -> anyhow::Result<Source> {
        let source = Source::open(url_or_path, password_env).await?;
        anyhow::ensure!(
            source.product == product,
            "the source database {} is a {} database, not a {product} one: create the plan with --product {}",
            redact_url(url_or_path),
            source.product,
            source.product
        );
        Ok(source)
    }

    /// The product whose database this is (read from its tables when connecting).
    pub fn product(&self) -> Product {
        self.product
    }

    /// Whether the database has a table `name` (exact case for PostgreSQL's quoted
    /// Active Objects tables) that this connection may read. Asked of the database once
    /// per table.
    pub async fn has_table(&self, name: &str) -> Result<bool, SourceError> {
        if let Some(known) = self.tables.lock().ok().and_then(|t| t.get(name).copied()) {
            return Ok(known);
        }
        let sql = match self.kind {
            SourceKind::Postgres => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))"
            }
            SourceKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = $1 COLLATE NOCASE",
        };
        let n: i64 = sqlx::query(sql).bind(name).fetch_one(&self.pool).await?.try_get(0)?;
        if let Ok(mut tables) = self.tables.lock() {
            tables.insert(name.to_string(), n > 0);
        }
        Ok(n > 0)
    }

    /// Where the source was read from: its URL (without a password) or file.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The engine behind this source.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The connection pool, for readers in other modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Refuse a source URL that carries a password: ferry keeps the URL (in plans, in
/// reports), so the password would be stored in plain text.
pub fn refuse_password(url: &str) -> anyhow::Result<()> {
    let carries = url::Url::parse(url).map(|u| u.password().is_some()).unwrap_or(false);
    anyhow::ensure!(
        !carries,
        "the source URL {} carries a password, which ferry would store with the plan: remove it from the URL and give it \
         in the PGPASSWORD environment variable, in a variable named with --source-password-env VAR, or in ~/.pgpass",
        redact_url(url)
    );
    Ok(())
}

/// The URL to connect with: `url` with the password from the variable `password_env`
/// set into it (in memory only), or `url` as it is.
fn with_password(url: &str, password_env: Option<&str>) -> anyhow::Result<String> {
    let Some(var) = password_env else { return Ok(url.to_string()) };
    let password = std::env::var(var)
        .map_err(|_| anyhow::anyhow!("the source database password is read from ${var}, which is not set: export it before running ferry"))?;
    let mut parsed = url::Url::parse(url).with_context(|| format!("not a database URL: {}", redact_url(url)))?;
    parsed
        .set_password(Some(&password))
        .map_err(|_| anyhow::anyhow!("cannot give a password to {}: name the user, as postgres://USER@HOST/DB", redact_url(url)))?;
    Ok(parsed.to_string())
}

/// A database URL with any password replaced, fit for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_url_hides_the_password_only() {
        assert_eq!(super::redact_url("postgres://ferry:s3cret@localhost:5432/conf"), "postgres://ferry:***@localhost:5432/conf");
        assert_eq!(super::redact_url("sqlite:///tmp/site.db?mode=ro"), "sqlite:///tmp/site.db?mode=ro");
    }
}
