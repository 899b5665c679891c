//! Reading a Server site: a Confluence or a Jira database in the real schema, on
//! PostgreSQL, MySQL / MariaDB or SQLite, read-only. The plugin runtime's product-data access and the core
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
mod sql;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, ConnectOptions, Executor};

use sql::Pool;

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
    pool: Pool,
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
    /// MySQL or MariaDB, the second most common engine under Confluence and Jira.
    MySql,
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
pub(crate) fn over_bound<I: sql::ColumnIndex>(row: &sql::Row, index: I) -> Result<Option<i64>, sqlx::Error> {
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
    /// Connect to a Server database: a `postgres://` or `mysql://` URL, a `sqlite://` URL,
    /// or the path of a SQLite file. The connection is read-only. A password never comes
    /// from the URL: PostgreSQL's from `PGPASSWORD` or `~/.pgpass`, MySQL's from the
    /// option file `~/.my.cnf` (its `[client]` section).
    pub async fn connect(url_or_path: &str) -> anyhow::Result<Source> {
        Source::open(url_or_path, None).await
    }

    /// [`Source::connect`], with the password read from the environment variable
    /// `password_env` when one is named. The password is used for this connection only:
    /// it is never stored, printed or logged.
    pub async fn open(url_or_path: &str, password_env: Option<&str>) -> anyhow::Result<Source> {
        sqlx::any::install_default_drivers();
        let scheme = url_or_path.split_once("://").map(|(scheme, _)| scheme);
        let (url, kind) = match scheme {
            Some("postgres" | "postgresql") => {
                refuse_password(url_or_path)?;
                (with_password(url_or_path, password_env)?, SourceKind::Postgres)
            }
            Some("mysql" | "mariadb") => {
                refuse_password(url_or_path)?;
                (mysql_url(url_or_path, password_env)?, SourceKind::MySql)
            }
            Some(scheme) if scheme != "sqlite" => anyhow::bail!(
                "ferry reads Server databases on PostgreSQL (postgres://USER@HOST:PORT/DB), MySQL or MariaDB \
                 (mysql://USER@HOST:PORT/DB) and SQLite (a file, or sqlite://PATH); {scheme}:// is not one of them"
            ),
            _ => {
                let path = url_or_path.strip_prefix("sqlite://").unwrap_or(url_or_path);
                let path = path.split('?').next().unwrap_or(path);
                anyhow::ensure!(
                    std::path::Path::new(path).is_file(),
                    "the source database {path:?} does not exist: give a SQLite file, a postgres:// or a mysql:// URL"
                );
                (format!("sqlite://{path}?mode=ro"), SourceKind::Sqlite)
            }
        };
        let pool = match kind {
            SourceKind::MySql => connect_mysql(&url).await?,
            _ => connect_any(&url, kind).await?,
        };
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
        let n: i64 = match (&self.pool, self.kind) {
            // The tables were listed when connecting; MySQL spells them in either case.
            (Pool::MySql(_, dialect), _) => dialect.tables.contains_key(&name.to_ascii_lowercase()).into(),
            (_, SourceKind::Postgres) => self
                .query("SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))")
                .bind(name)
                .fetch_one()
                .await?
                .try_get(0)?,
            _ => self
                .query("SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = $1 COLLATE NOCASE")
                .bind(name)
                .fetch_one()
                .await?
                .try_get(0)?,
        };
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

    /// The connection pool of a PostgreSQL or SQLite source (for tests that look at a
    /// fixture directly); `None` for MySQL, which the readers reach their own way.
    pub fn any_pool(&self) -> Option<&AnyPool> {
        match &self.pool {
            Pool::Any(pool) => Some(pool),
            Pool::MySql(..) => None,
        }
    }
}

/// Rows are streamed while the migration works on them, so a statement "lasts" as long as
/// its stream is read: sqlx's slow-statement warning would be noise here.
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(10);

/// A read-only pool on a PostgreSQL or SQLite database.
async fn connect_any(url: &str, kind: SourceKind) -> anyhow::Result<Pool> {
    let options = <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(url)
        .with_context(|| format!("not a database URL: {}", redact_url(url)))?
        .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
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
        .with_context(|| format!("cannot connect to the source database {}", redact_url(url)))?;
    Ok(Pool::Any(pool))
}

/// A read-only pool on a MySQL or MariaDB database, and the spelling of its tables.
/// Each session reads only (`SET SESSION TRANSACTION READ ONLY`) and takes double quotes
/// for identifiers (`ANSI_QUOTES`), as the readers' SQL writes them.
async fn connect_mysql(url: &str) -> anyhow::Result<Pool> {
    let options = <sqlx::mysql::MySqlConnectOptions as std::str::FromStr>::from_str(url)
        .with_context(|| format!("not a database URL: {}", redact_url(url)))?
        .charset("utf8mb4")
        .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
    let database = options.get_database().map(str::to_string);
    anyhow::ensure!(database.is_some(), "the source URL {} names no database: give it as mysql://USER@HOST:PORT/DATABASE", redact_url(url));
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES')").await?;
                conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to the source database {}", redact_url(url)))?;
    let names: Vec<String> =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT CAST(table_name AS BINARY) FROM information_schema.tables WHERE table_schema = DATABASE()")
            .fetch_all(&pool)
            .await
            .with_context(|| format!("cannot list the tables of {}", redact_url(url)))?
            .into_iter()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .collect();
    let tables = names.into_iter().map(|name| (name.to_ascii_lowercase(), name)).collect();
    Ok(Pool::MySql(pool, std::sync::Arc::new(sql::Dialect { tables })))
}

/// Refuse a source URL that carries a password: ferry keeps the URL (in plans, in
/// reports), so the password would be stored in plain text.
pub fn refuse_password(url: &str) -> anyhow::Result<()> {
    let carries = url::Url::parse(url).map(|u| u.password().is_some()).unwrap_or(false);
    let where_else = if url.starts_with("mysql") || url.starts_with("mariadb") {
        "in the [client] section of ~/.my.cnf"
    } else {
        "in the PGPASSWORD environment variable or in ~/.pgpass"
    };
    anyhow::ensure!(
        !carries,
        "the source URL {} carries a password, which ferry would store with the plan: remove it from the URL and give it \
         in a variable named with --source-password-env VAR, or {where_else}",
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

/// The URL to connect to a MySQL or MariaDB database given as `mysql://` or
/// `mariadb://`: the password from the variable `password_env` when one is named, else
/// from the option file `~/.my.cnf`, else none. In memory only: never store the answer.
pub fn mysql_url(url: &str, password_env: Option<&str>) -> anyhow::Result<String> {
    let url = format!("mysql://{}", url.split_once("://").map_or(url, |(_, rest)| rest));
    match password_env {
        Some(_) => with_password(&url, password_env),
        None => with_option_file_password(&url),
    }
}

/// `url` with the password of the MySQL option file `~/.my.cnf` (its `[client]` or
/// `[mysql]` section), when the file gives one; else `url` as it is.
fn with_option_file_password(url: &str) -> anyhow::Result<String> {
    let Some(home) = std::env::var_os("HOME") else { return Ok(url.to_string()) };
    let Ok(text) = std::fs::read_to_string(std::path::Path::new(&home).join(".my.cnf")) else { return Ok(url.to_string()) };
    let Some(password) = option_file_password(&text) else { return Ok(url.to_string()) };
    let mut parsed = url::Url::parse(url).with_context(|| format!("not a database URL: {}", redact_url(url)))?;
    parsed
        .set_password(Some(&password))
        .map_err(|_| anyhow::anyhow!("cannot give a password to {}: name the user, as mysql://USER@HOST/DB", redact_url(url)))?;
    Ok(parsed.to_string())
}

/// The `password` of an option file's `[client]` or `[mysql]` section (quotes removed).
fn option_file_password(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
        } else if matches!(section.as_str(), "client" | "mysql") {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "password" {
                    let value = value.trim();
                    let unquoted =
                        value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')));
                    found = Some(unquoted.unwrap_or(value).to_string());
                }
            }
        }
    }
    found
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

    #[test]
    fn the_option_file_gives_the_client_sections_password() {
        let file = "[mysqld]\npassword = server\n\n[client]\nuser = ferry\npassword = \"s3 cret\"\n[mysqldump]\npassword=dump\n";
        assert_eq!(super::option_file_password(file).as_deref(), Some("s3 cret"));
        assert_eq!(super::option_file_password("[mysqld]\npassword=x\n"), None);
    }
}
