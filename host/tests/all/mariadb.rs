//! A private MariaDB server for one test: `mariadb-install-db` then `mariadbd` in a temp
//! folder, on a random loopback port, killed when dropped. When the tests run as root,
//! the server is told to run as root (it refuses otherwise); its only account is `root`
//! on the loopback, without a password, which the test uses to make databases and
//! read-only users.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

pub struct MariaDb {
    _dir: tempfile::TempDir,
    server: Child,
    pub port: u16,
}

/// A program of the MariaDB server package, wherever Debian puts it.
fn program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} not found: install the mariadb-server package (./scripts/test does so when it may)")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl MariaDb {
    pub async fn start() -> MariaDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let root = is_root();
        // Each server its own temporary folder: servers sharing /tmp may take each
        // other's temporary tables while they install.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp folder");
        let mut install = Command::new(program("mariadb-install-db"));
        install.env("TMPDIR", &tmp).arg("--no-defaults").arg(format!("--datadir={}", data.display())).args([
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]);
        if root {
            install.arg("--user=root");
        }
        let out = install.output().expect("run mariadb-install-db");
        assert!(out.status.success(), "mariadb-install-db failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Command::new(program("mariadbd"));
        server
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.path().join("socket").display()))
            .arg(format!("--log-error={}", dir.path().join("error.log").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=64M",
                "--max-allowed-packet=128M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if root {
            server.arg("--user=root");
        }
        let server = server.spawn().expect("start mariadbd");
        let db = MariaDb { _dir: dir, server, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match sqlx::MySqlConnection::connect(&db.url("mysql")).await {
                Ok(conn) => {
                    conn.close().await.ok();
                    return db;
                }
                Err(e) => {
                    let log = std::fs::read_to_string(db._dir.path().join("error.log")).unwrap_or_default();
                    assert!(Instant::now() < deadline, "mariadbd did not answer within a minute: {e}\n{log}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// A URL to database `db` as the server's `root`.
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    /// Run `sql` (statements separated by `;`) as `root`.
    pub async fn execute(&self, sql: &str) {
        let mut conn = sqlx::MySqlConnection::connect(&self.url("mysql")).await.expect("connect as root");
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::raw_sql(statement).execute(&mut conn).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    /// Create an empty database `db` (utf8mb4, binary collation, as Confluence asks for)
    /// and return its URL as `root`.
    pub async fn create_db(&self, db: &str) -> String {
        self.execute(&format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")).await;
        self.url(db)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
