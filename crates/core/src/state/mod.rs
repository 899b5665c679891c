//! The state DB: ferry's own records (installed plugins, mappings, runs, the audit log),
//! a SQLite file in `FERRY_HOME` with versioned schema migrations.

use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod mappings;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Where ferry keeps its state when `FERRY_HOME` is not set.
pub const DEFAULT_HOME: &str = ".ferry";

/// The state DB and the folder around it.
#[derive(Clone, Debug)]
pub struct StateDb {
    pool: SqlitePool,
    home: PathBuf,
}

impl StateDb {
    /// Open (creating if needed) the state in `home`, bringing its schema up to date.
    pub async fn open(home: &Path) -> anyhow::Result<StateDb> {
        private_home(home)?;
        let path = home.join("state.db");
        // Created private before SQLite opens it; SQLite gives its -wal and -shm files the
        // same mode.
        private_file(&path)?;
        let pool = open_sqlite(&path).await.with_context(|| format!("cannot open the state DB {}", path.display()))?;
        sqlx::migrate!("./migrations").run(&pool).await.with_context(|| format!("cannot bring the state DB {} up to date", path.display()))?;
        Ok(StateDb { pool, home: home.to_path_buf() })
    }

    /// The state DB pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The `FERRY_HOME` folder.
    pub fn home(&self) -> &Path {
        &self.home
    }
}

/// Create `FERRY_HOME` readable by its owner only (0700), or warn when an existing one is
/// readable by others: it holds the state DB, the plugins and the audit of every run.
fn private_home(home: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if home.is_dir() {
            let mode = std::fs::metadata(home)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "FERRY_HOME {} is open to other users (mode {mode:o}): `chmod 700 {}` keeps its plans, audit and plugins private",
                    home.display(),
                    home.display()
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(home).with_context(|| format!("cannot create FERRY_HOME at {}", home.display()))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(home).with_context(|| format!("cannot create FERRY_HOME at {}", home.display()))
}

/// Create `path` empty and readable by its owner only (0600), if it does not exist.
fn private_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    #[cfg(not(unix))]
    Ok(())
}

/// Open (creating) a SQLite database file the way ferry keeps its own data: WAL with
/// NORMAL sync (a commit survives a killed process; only a power cut can lose the last
/// commits, which the next plan links again), a generous busy timeout, 4 connections.
pub async fn open_sqlite(path: &Path) -> anyhow::Result<SqlitePool> {
    open_sqlite_pool(path, 4).await
}

/// [`open_sqlite`] with `connections` connections.
pub async fn open_sqlite_pool(path: &Path, connections: u32) -> anyhow::Result<SqlitePool> {
    use sqlx::ConnectOptions as _;
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(30))
        // Ferry's own batch writes are long by design; they are not worth a warning.
        .log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1));
    Ok(SqlitePoolOptions::new().max_connections(connections).connect_with(options).await?)
}

/// The current time as RFC 3339 text, as stored in the state DB.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
