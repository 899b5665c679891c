//! The same Server site on the three databases ferry reads — SQLite, PostgreSQL and
//! MariaDB (for MySQL) — is checked and migrates alike, and MariaDB's own ways (upper-case Confluence
//! tables, `utf8mb4_bin` text, `BIT(1)` flags, `DATETIME`, column grants, passwords from
//! the environment or `~/.my.cnf`) are read as a real site's would be.

use std::collections::BTreeMap;
use std::process::Command;

use ferry_host::migrate::report::PlanReport;
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::staging::Faults;
use serde_json::Value;

use crate::core_migration::{plan_for, run_plan, Cloud};
use crate::jira::{assert_full_migration, full_plan, JiraFixture};
use crate::mariadb::MariaDb;
use crate::postgres::PgCluster;
use crate::support::Fixture;

/// What a migration did, without the ids each cloud made: the report's counts and
/// failures, and each space's content as the cloud shows it (kind, title, parent's
/// title, author, labels, versions, restriction).
async fn outcome(report: &PlanReport, cloud: &Cloud, f: &Fixture) -> Value {
    let folder = f.dir.path().display().to_string();
    let mut failures: Vec<(String, String, String)> =
        report.failures.iter().map(|x| (x.kind.clone(), x.server_id.clone(), x.reason.replace(&folder, "SITE"))).collect();
    failures.sort();
    let mut spaces = BTreeMap::new();
    for space in cloud.review("spaces").await.as_array().unwrap() {
        let key = space["key"].as_str().unwrap().to_string();
        let content = cloud.review(&format!("spaces/{key}/content")).await;
        let items = content.as_array().unwrap();
        let title_of = |id: &Value| items.iter().find(|c| c["id"] == *id).map(|c| c["title"].clone()).unwrap_or(Value::Null);
        let mut shown: Vec<String> = items
            .iter()
            .map(|c| {
                serde_json::json!([
                    c["kind"],
                    c["title"],
                    title_of(&c["parent_id"]),
                    title_of(&c["page_id"]),
                    c["author"],
                    c["labels"],
                    c["versions"],
                    c["read_restricted"],
                    c["size"]
                ])
                .to_string()
            })
            .collect();
        shown.sort();
        spaces.insert(key, shown);
    }
    serde_json::json!({
        "status": report.status,
        "counts": report.counts,
        "failures": failures,
        "former_user": report.former_user,
        "dropped_permissions": report.dropped_permissions.len(),
        "restriction_losses": report.restriction_losses.len(),
        "unresolved_references": report.unresolved_references.len(),
        "users": cloud.review("users").await.as_array().unwrap().len(),
        "spaces": spaces,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_site_is_checked_and_migrates_alike_from_sqlite_postgresql_and_mariadb() {
    let pg = PgCluster::start();
    let maria = MariaDb::start().await;
    let sites = [("SQLite", None), ("PostgreSQL", Some(pg.create_db("site").await)), ("MariaDB", Some(maria.create_db("site").await))];
    let mut outcomes = Vec::new();
    for (engine, url) in sites {
        let f = Fixture::with_database(url.as_deref()).await;
        let cloud = Cloud::start(Faults::default()).await;
        // The checks first, as an admin runs them.
        let checked = Plan::create(&f.db, Plan { name: "checked".into(), ..plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false) }).await.unwrap();
        let checks = Migrator::new(f.db.clone(), checked, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).checks().await.unwrap();
        let checks: Vec<Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!([c.code, format!("{:?}", c.result), c.message.replace(&f.dir.path().display().to_string(), "SITE"), c.entities, c.count])
            })
            .collect();
        assert!(checks.len() > 10, "{engine}: {checks:?}");
        let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
        assert_eq!(report.error, None, "{engine}");
        assert!(report.counts["pages"].cloud > 40 && report.counts["comments"].cloud > 100, "{engine}: {:?}", report.counts);
        let mut outcome = outcome(&report, &cloud, &f).await;
        outcome["checks"] = Value::Array(checks);
        outcomes.push((engine, outcome));
    }
    let (_, sqlite) = &outcomes[0];
    for (engine, other) in &outcomes[1..] {
        for (key, value) in sqlite.as_object().unwrap() {
            assert_eq!(&other[key], value, "{engine} migrated otherwise than SQLite: {key}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadbs_confluence_tables_are_upper_case_its_text_binary_collated_and_a_body_over_the_bound_is_not_read() {
    let maria = MariaDb::start().await;
    let url = maria.create_db("conf").await;
    let f = Fixture::with_database(Some(&url)).await;
    // The site is laid out as Confluence lays it out on MySQL.
    let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = 'conf'").fetch_all(&mut conn).await.unwrap();
    for name in ["CONTENT", "BODYCONTENT", "SPACES", "cwd_user", "user_mapping", "AO_530061_RATING"] {
        assert!(tables.iter().any(|t| t == name), "{name} in {tables:?}");
    }
    let collation: String =
        sqlx::query_scalar("SELECT CAST(collation_name AS CHAR) FROM information_schema.columns WHERE table_schema = 'conf' AND table_name = 'BODYCONTENT' AND column_name = 'body'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(collation, "utf8mb4_bin");

    // A body over the bound: the database makes it, ferry never reads it.
    let page: i64 = sqlx::query_scalar(
        "SELECT c.CONTENTID FROM CONTENT c JOIN SPACES s ON s.SPACEID = c.SPACEID WHERE s.SPACEKEY = 'ENG' AND c.CONTENTTYPE = 'PAGE' \
         AND c.PREVVER IS NULL AND c.CONTENT_STATUS = 'current' AND NOT EXISTS (SELECT 1 FROM CONTENT k WHERE k.PARENTID = c.CONTENTID) ORDER BY c.CONTENTID LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let over = ferry_host::source::MAX_BODY_CHARS + 2;
    let changed = sqlx::query("UPDATE BODYCONTENT SET BODY = REPEAT('x', ?) WHERE CONTENTID = ? AND BODYTYPEID = 2")
        .bind(over)
        .bind(page)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 1);

    let cloud = Cloud::start(Faults::default()).await;
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    let why = report.failures.iter().find(|x| x.kind == "pages" && x.server_id == page.to_string()).map(|x| x.reason.clone());
    assert!(why.as_deref().is_some_and(|w| w.contains(&format!("{over} characters"))), "{:?}", report.failures);
    assert_eq!(report.counts["pages"].cloud, report.counts["pages"].server - 1);
    // Users (cwd_user, lower case) and text under utf8mb4_bin landed as on any database.
    assert!(report.counts["users"].cloud > 30, "{:?}", report.counts);
    let content = cloud.review("spaces/ENG/content").await;
    assert!(content.as_array().unwrap().iter().any(|c| c["kind"] == "comment"), "comments landed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jira_migration_reads_mariadb_through_a_user_who_may_not_read_credentials() {
    let maria = MariaDb::start().await;
    let url = maria.create_db("jira").await;
    let f = JiraFixture::new(Some(&url)).await;
    // A reader with SELECT on every table, and on cwd_user only its non-secret columns.
    let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = 'jira' AND table_name <> 'cwd_user'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut grants = String::from("CREATE USER 'jira_reader'@'%';");
    for table in &tables {
        grants.push_str(&format!("GRANT SELECT ON jira.`{table}` TO 'jira_reader'@'%';"));
    }
    grants.push_str(
        "GRANT SELECT (id, directory_id, user_name, lower_user_name, active, first_name, last_name, display_name, email_address, \
         lower_email_address, deleted_externally, external_id) ON jira.cwd_user TO 'jira_reader'@'%'",
    );
    maria.execute(&grants).await;
    let reader_url = url.replace("root@", "jira_reader@");
    let mut reader = <sqlx::MySqlConnection as sqlx::Connection>::connect(&reader_url).await.unwrap();
    let denied = sqlx::raw_sql("SELECT credential FROM cwd_user").execute(&mut reader).await.unwrap_err();
    assert!(denied.to_string().contains("denied"), "{denied}");

    let cloud = Cloud::start(Faults::default()).await;
    ferry_host::sample::jira::seed_cloud(&cloud.dest).await.unwrap();
    let mut plan = full_plan(&f, &cloud);
    plan.source = reader_url;
    let report = f.run(&f.db, &cloud, plan).await;
    assert_full_migration(&f, &cloud, &report).await;
    assert_eq!(report.former_customer.iter().map(|x| x.references).collect::<Vec<_>>(), [1, 3], "as from PostgreSQL and SQLite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_password_comes_from_the_environment_or_the_option_file_and_never_from_the_url() {
    const PASSWORD: &str = "maria-s3cret-pw";
    let maria = MariaDb::start().await;
    let url = maria.create_db("conf").await;
    let f = Fixture::with_database(Some(&url)).await;
    maria.execute(&format!("CREATE USER 'reader'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT SELECT ON conf.* TO 'reader'@'%'")).await;
    let reader = format!("mysql://reader@127.0.0.1:{}/conf", maria.port);
    let home = f.dir.path().join("home-cli");
    let no_option_file = f.dir.path().join("empty-home");
    std::fs::create_dir_all(&no_option_file).unwrap();
    let ferry = |args: &[&str], env: &[(&str, &str)], user_home: &std::path::Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.args(args).env("FERRY_HOME", &home).env("HOME", user_home).env("RUST_LOG", "debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(PASSWORD), "the password was printed: {text}");
        (out.status.code(), text)
    };
    // From a variable the admin names.
    let (code, text) = ferry(
        &["apps", "assess", "--source", &reader, "--source-password-env", "FERRY_TEST_MYSQL_PW", "--json"],
        &[("FERRY_TEST_MYSQL_PW", PASSWORD)],
        &no_option_file,
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("com.example.confluence.page-ratings"), "{text}");
    // Without one, and without an option file, the server refuses and ferry says so.
    let (code, text) = ferry(&["apps", "assess", "--source", &reader], &[], &no_option_file);
    assert_ne!(code, Some(0));
    assert!(text.contains("cannot connect to the source database") && text.contains("Access denied"), "{text}");
    // From ~/.my.cnf's [client] section, as the mysql client reads it.
    let with_option_file = f.dir.path().join("admin-home");
    std::fs::create_dir_all(&with_option_file).unwrap();
    std::fs::write(with_option_file.join(".my.cnf"), format!("[mysqld]\npassword=wrong\n[client]\npassword=\"{PASSWORD}\"\n")).unwrap();
    let (code, text) = ferry(&["apps", "assess", "--source", &reader, "--json"], &[], &with_option_file);
    assert_eq!(code, Some(0), "{text}");
    // A password in the URL is refused before anything connects, naming both other ways.
    let in_url = format!("mysql://reader:{PASSWORD}@127.0.0.1:{}/conf", maria.port);
    let out = Command::new(env!("CARGO_BIN_EXE_ferry")).args(["apps", "assess", "--source", &in_url]).env("FERRY_HOME", &home).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("carries a password") && text.contains("~/.my.cnf") && !text.contains(PASSWORD), "{text}");
    // The variable named but not set.
    let (code, text) = ferry(&["apps", "assess", "--source", &reader, "--source-password-env", "FERRY_TEST_UNSET_PW"], &[], &no_option_file);
    assert_ne!(code, Some(0));
    assert!(text.contains("$FERRY_TEST_UNSET_PW, which is not set"), "{text}");
}
