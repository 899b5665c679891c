//! The two real plugins against the sample site, uploads checked record by record.

use std::collections::BTreeMap;

use ferry_host::plugins::limits::Limits;
use ferry_host::plugins::run::RunStatus;
use ferry_host::state::mappings::MappingSource;
use serde_json::{json, Value};
use sqlx::Row;

use crate::support::{no_mappings, Fixture, CALENDARS, RATINGS};

/// Mappings as the core migration would record them: every current page, every user
/// key with a user, every space. Written to a fixture file, as a vendor would.
async fn core_mappings(f: &Fixture) -> MappingSource {
    let source = f.source().await;
    let pool = source.any_pool().unwrap();
    let mut lines = Vec::new();
    for r in sqlx::query("SELECT contentid FROM content WHERE contenttype = 'PAGE' AND prevver IS NULL AND content_status = 'current'")
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let id: i64 = r.get(0);
        lines.push(json!({"namespace": "confluence:page", "server_id": id.to_string(), "cloud_id": format!("cloud-page-{id}")}));
    }
    for r in sqlx::query("SELECT user_key FROM user_mapping WHERE lower_username IS NOT NULL").fetch_all(pool).await.unwrap() {
        let key: String = r.get(0);
        lines.push(json!({"namespace": "identity:user", "server_id": format!("confluence.userkey/{key}"), "cloud_id": format!("acct-{key}")}));
    }
    for r in sqlx::query("SELECT spacekey FROM spaces").fetch_all(pool).await.unwrap() {
        let key: String = r.get(0);
        lines.push(json!({"namespace": "confluence:space", "server_id": key.clone(), "cloud_id": format!("cloud-space-{key}")}));
    }
    let path = f.dir.path().join("mappings.jsonl");
    std::fs::write(&path, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();
    MappingSource::from_file(&path).unwrap()
}

fn records(uploads: &[(String, String)], label: &str) -> Vec<Value> {
    uploads
        .iter()
        .filter(|(name, _)| name.ends_with(label))
        .flat_map(|(_, body)| body.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>())
        .collect()
}

#[tokio::test]
async fn page_ratings_uploads_every_rating_with_cloud_ids() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let mappings = core_mappings(&f).await;
    let r = f.run(RATINGS, None, None, Limits::default(), mappings).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    assert_eq!((r.progress_percent, r.progress_message.as_str()), (100, "100 ratings uploaded"));

    let source = f.source().await;
    let known_users: Vec<String> = sqlx::query("SELECT user_key FROM user_mapping WHERE lower_username IS NOT NULL")
        .fetch_all(source.any_pool().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected = BTreeMap::new();
    for row in sqlx::query("SELECT \"ID\", \"PAGE_ID\", \"USER_KEY\", \"STARS\", \"COMMENT\", \"CREATED\" FROM \"AO_530061_RATING\"")
        .fetch_all(source.any_pool().unwrap())
        .await
        .unwrap()
    {
        let id: i64 = row.get(0);
        let page: i64 = row.get(1);
        let user: String = row.get(2);
        let account = known_users.contains(&user).then(|| format!("acct-{user}"));
        expected.insert(
            id,
            json!({"server_id": id, "page_id": format!("cloud-page-{page}"), "account_id": account,
                   "stars": row.get::<i64, _>(3), "comment": row.get::<Option<String>, _>(4), "created": row.get::<String, _>(5)}),
        );
    }
    let uploaded = records(&f.uploads(), "ratings.jsonl");
    assert_eq!(uploaded.len(), expected.len());
    for record in &uploaded {
        let id = record["server_id"].as_i64().unwrap();
        assert_eq!(record, &expected[&id], "rating {id}");
    }
    assert!(uploaded.iter().any(|r| r["account_id"].is_null()), "ratings by the deleted user go without an account");
    // It read personal data only through the pii scope, and never a secret column.
    assert!(r.access["app-data-pii"].rows > 0);
    assert!(!r.access.contains_key("app-data-security"));
    assert!(r.denials.is_empty());
}

#[tokio::test]
async fn team_calendars_uploads_the_calendars_of_migrated_spaces_and_their_events() {
    let f = Fixture::new().await;
    f.install("team_calendars").await;
    let mappings = core_mappings(&f).await;
    let r = f.run(CALENDARS, None, None, Limits::default(), mappings).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    let uploads = f.uploads();
    let calendars = records(&uploads, "calendars.jsonl");
    // ENG, MKT and DOC are migrated; the calendar of the vanished space GONE is not.
    let spaces: Vec<&str> = calendars.iter().map(|c| c["space_id"].as_str().unwrap()).collect();
    assert_eq!(spaces, ["cloud-space-ENG", "cloud-space-MKT", "cloud-space-DOC"]);
    assert_eq!(calendars[0], json!({"server_id": 1, "space_id": "cloud-space-ENG", "name": "ENG team calendar", "color": "#3366ff"}));
    let events = records(&uploads, "events.jsonl");
    let source = f.source().await;
    let expected: i64 =
        sqlx::query("SELECT COUNT(*) FROM \"AO_FCAC82_EVENT\" WHERE \"CALENDAR_ID\" <= 3").fetch_one(source.any_pool().unwrap()).await.unwrap().get(0);
    assert_eq!(events.len() as i64, expected);
    assert_eq!(
        events[0],
        json!({"server_id": 1, "calendar_server_id": 1, "summary": "ENG event 0", "description": "Agenda to follow",
               "start_ms": 1714554000000i64, "end_ms": 1714555800000i64, "all_day": true})
    );
    assert!(events.iter().all(|e| e["calendar_server_id"].as_i64().unwrap() <= 3));
    // It declared no personal-data scope and used none.
    assert!(r.access.keys().all(|k| !k.contains("pii")));
}

#[tokio::test]
async fn without_mappings_a_plugin_ends_incomplete_and_says_why() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let r = f.run(RATINGS, None, None, Limits::default(), no_mappings()).await;
    assert_eq!(r.status, RunStatus::Incomplete);
    assert_eq!(r.message.as_deref(), Some("100 ratings belong to pages of the migrated spaces that have no cloud copy; re-run after those pages migrate"));
}

/// Run both real plugins against a site and return their uploads, with the mappings the
/// core migration of `twin` would record (the same sample site, on SQLite: the sample is
/// the same on every database).
async fn both_plugins_uploads(f: &Fixture, twin: &Fixture) -> Vec<(String, String)> {
    f.install("page_ratings").await;
    f.install("team_calendars").await;
    for app in [RATINGS, CALENDARS] {
        let r = f.run(app, None, None, Limits::default(), core_mappings(twin).await).await;
        assert_eq!(r.status, RunStatus::Complete, "{app}: {:?}", r.message);
    }
    f.uploads()
}

#[tokio::test]
async fn plugins_read_a_postgresql_source_exactly_as_they_read_sqlite() {
    let cluster = crate::postgres::PgCluster::start();
    let url = cluster.create_db("site").await;
    let pg = Fixture::with_database(Some(&url)).await;
    let sqlite = Fixture::new().await;
    let (from_pg, from_sqlite) = (both_plugins_uploads(&pg, &pg).await, both_plugins_uploads(&sqlite, &sqlite).await);
    assert_eq!(from_pg.len(), 3, "ratings, calendars and events: {:?}", from_pg.iter().map(|u| &u.0).collect::<Vec<_>>());
    assert_eq!(from_pg, from_sqlite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_read_a_mariadb_source_exactly_as_they_read_sqlite() {
    // Active Objects' flags are BIT(1) there, its text utf8mb4_bin, its tables upper case.
    let server = crate::mariadb::MariaDb::start().await;
    let url = server.create_db("site").await;
    let maria = Fixture::with_database(Some(&url)).await;
    let sqlite = Fixture::new().await;
    let (from_maria, from_sqlite) = (both_plugins_uploads(&maria, &sqlite).await, both_plugins_uploads(&sqlite, &sqlite).await);
    assert_eq!(from_maria.len(), 3, "ratings, calendars and events: {:?}", from_maria.iter().map(|u| &u.0).collect::<Vec<_>>());
    assert_eq!(from_maria, from_sqlite);
}
