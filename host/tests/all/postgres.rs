//! A private PostgreSQL cluster for one test: initdb and pg_ctl in a temp folder, on a
//! random loopback port, stopped when dropped. When the tests run as root, the server
//! runs as the `postgres` user (PostgreSQL refuses to run as root).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL server binaries (initdb, pg_ctl): install the postgresql package")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl PgCluster {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    pub fn start() -> PgCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown").args(["-R", "postgres"]).arg(dir.path()).status().expect("chown");
            assert!(status.success());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { data: dir.path().join("data"), _dir: dir, bin: bin_dir(), as_postgres, port };
        let out =
            cluster.command("initdb").args(["-U", "ferry", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"]).arg(&cluster.data).output().expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let socket_dir = cluster.data.parent().unwrap().to_path_buf();
        let out = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&cluster.data)
            .arg("-o")
            .arg(format!("-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off", socket_dir.display()))
            .arg("-l")
            .arg(socket_dir.join("log"))
            .args(["-w", "start"])
            .output()
            .expect("run pg_ctl");
        assert!(out.status.success(), "pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr));
        cluster
    }

    /// A URL to database `db` as the superuser `ferry`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://ferry@127.0.0.1:{}/{db}", self.port)
    }

    /// Add login role `user` with `password`, allowed to read database `db`, and make
    /// the server ask that role for its password (scram) on TCP.
    pub async fn add_password_user(&self, user: &str, password: &str, db: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url(db)).await.expect("connect");
        sqlx::raw_sql(&format!(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE {user} LOGIN PASSWORD '{password}'; \
             GRANT CONNECT ON DATABASE {db} TO {user}; GRANT USAGE ON SCHEMA public TO {user}; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user};"
        ))
        .execute(&mut conn)
        .await
        .expect("create the role");
        let hba = self.data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(&hba, format!("host all {user} 127.0.0.1/32 scram-sha-256\n{rules}")).expect("write pg_hba.conf");
        let out = self.command("pg_ctl").arg("-D").arg(&self.data).arg("reload").output().expect("run pg_ctl reload");
        assert!(out.status.success(), "pg_ctl reload failed: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    /// Create database `db`.
    pub async fn create_db(&self, db: &str) -> String {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url("postgres")).await.expect("connect");
        sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.expect("create database");
        self.url(db)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(&self.data).args(["-m", "immediate", "stop"]).output();
    }
}
