//! `ferry verify` after a migration: nothing differs, then each change made in the cloud
//! behind Ferry's back is found and named.

use std::process::Command;

use ferry_host::migrate::verify::Verification;
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::staging::Faults;
use serde_json::Value;

use crate::core_migration::{plan_for, Cloud, CloudSecrets};
use crate::support::Fixture;

async fn verify(f: &Fixture, cloud: &Cloud, plan: &Plan) -> Verification {
    let plan = Plan::get(&f.db, &plan.id).await.unwrap();
    Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).verify().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_nothing_after_a_migration_then_each_change_made_in_the_cloud() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await.unwrap();
    Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap();

    let clean = verify(&f, &cloud, &plan).await;
    assert!(clean.differences.is_empty(), "{:#?}", clean.differences);
    assert!(
        clean.checked["pages"] > 40 && clean.checked["blogposts"] > 10 && clean.checked["comments"] > 100 && clean.checked["labels"] > 10,
        "{:?}",
        clean.checked
    );
    assert!(clean.requests > clean.checked["pages"], "every entity read back: {} requests", clean.requests);

    // Behind Ferry's back: a body edited, a label removed, a comment deleted, an
    // attachment deleted, another's bytes changed (same size), a restricted page opened.
    let content = cloud.review("spaces/ENG/content").await;
    let items = content.as_array().unwrap();
    let id = |c: &Value| c["id"].as_i64().or_else(|| c["id"].as_str().and_then(|s| s.parse().ok())).unwrap();
    let labelled = items.iter().find(|c| c["kind"] == "page" && c["labels"].as_array().is_some_and(|l| !l.is_empty())).expect("a labelled page");
    let label = labelled["labels"][0].as_str().unwrap().to_string();
    let edited = items.iter().find(|c| c["kind"] == "page" && id(c) != id(labelled)).expect("another page");
    let comment = items.iter().find(|c| c["kind"] == "comment").expect("a comment");
    let attachments: Vec<&Value> = items.iter().filter(|c| c["kind"] == "attachment").collect();
    let (deleted, altered) = (attachments[0], attachments[1]);
    let restricted = items.iter().find(|c| c["read_restricted"] == true).expect("a page only some may view");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", cloud.db_path().display())).await.unwrap();
    sqlx::query("DELETE FROM content WHERE id = ?").bind(id(deleted)).execute(&db).await.unwrap();
    // The first byte flipped: the same size, other bytes.
    sqlx::query("UPDATE content SET data = CAST(char(unicode(substr(CAST(data AS TEXT), 1, 1)) + 1) AS BLOB) || substr(data, 2) WHERE id = ?")
        .bind(id(altered))
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM restrictions WHERE content_id = ? AND operation = 'read'").bind(id(restricted)).execute(&db).await.unwrap();
    // An enabled user taken out of the product-access group.
    let removed = sqlx::query(
        "DELETE FROM memberships WHERE group_id = (SELECT id FROM groups WHERE name = 'confluence-users') \
         AND user_id = (SELECT id FROM users WHERE email = 'user00008@example.com')",
    )
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(removed, 1, "user00008 had product access");
    sqlx::query("UPDATE content SET body = body || '<p>Added in the cloud.</p>' WHERE id = ?").bind(id(edited)).execute(&db).await.unwrap();
    sqlx::query("DELETE FROM labels WHERE content_id = ? AND name = ?").bind(id(labelled)).bind(&label).execute(&db).await.unwrap();
    sqlx::query("DELETE FROM content WHERE id = ?").bind(id(comment)).execute(&db).await.unwrap();
    db.close().await;

    let found = verify(&f, &cloud, &plan).await;
    let about = |kind: &str, cloud_id: i64| found.differences.iter().find(|d| d.kind == kind && d.cloud_id == Some(cloud_id.to_string())).cloned();
    let body = about("pages", id(edited)).unwrap_or_else(|| panic!("the edited body: {:#?}", found.differences));
    assert!(body.what.contains("Added in the cloud.") && body.title == edited["title"].as_str().unwrap() && body.likely == "cloud", "{body:?}");
    assert!(body.link.as_deref().is_some_and(|l| l.contains(&format!("/pages/{}", id(edited)))), "{body:?}");
    let label_gone = about("labels", id(labelled)).unwrap_or_else(|| panic!("the removed label: {:#?}", found.differences));
    assert!(label_gone.what.contains(&label), "{label_gone:?}");
    let comment_gone = about("comments", id(comment)).unwrap_or_else(|| panic!("the deleted comment: {:#?}", found.differences));
    assert!(comment_gone.what.contains("not in the cloud"), "{comment_gone:?}");
    let att = |c: &Value| format!("att{}", id(c));
    let about_att = |c: &Value| found.differences.iter().find(|d| d.kind == "attachments" && d.cloud_id == Some(att(c))).cloned();
    let gone = about_att(deleted).unwrap_or_else(|| panic!("the deleted attachment: {:#?}", found.differences));
    assert!(gone.what.contains("not in the cloud") && gone.title.starts_with(deleted["title"].as_str().unwrap()), "{gone:?}");
    let changed = about_att(altered).unwrap_or_else(|| panic!("the changed bytes: {:#?}", found.differences));
    assert!(changed.what.contains("SHA-256"), "{changed:?}");
    let opened = about("restrictions", id(restricted)).unwrap_or_else(|| panic!("the opened page: {:#?}", found.differences));
    assert!(opened.what.contains("anyone with access to the space can view it"), "{opened:?}");
    let no_access = found.differences.iter().find(|d| d.kind == "users").unwrap_or_else(|| panic!("the user without access: {:#?}", found.differences));
    assert!(no_access.server_id == "user00008" && no_access.what.contains("product-access group"), "{no_access:?}");
    assert_eq!(found.differences.len(), 7, "{:#?}", found.differences);

    // The command line says the same, as JSON, and exits 6.
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["verify", &plan.id, "--json"])
        .env("FERRY_HOME", f.dir.path().join("home"))
        .cloud_secrets()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["differences"].as_array().map(Vec::len), Some(7), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_compares_at_most_n_of_each_kind_and_the_same_seed_the_same_ones() {
    use ferry_host::migrate::verify::Sample;
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await.unwrap();
    Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap();
    // Every comment deleted in the cloud: a sample finds exactly the ones it chose.
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", cloud.db_path().display())).await.unwrap();
    sqlx::query("DELETE FROM content WHERE kind = 'comment'").execute(&db).await.unwrap();
    db.close().await;
    let sampled = |seed: u64| {
        let (f, cloud, plan) = (&f, &cloud, &plan);
        async move {
            let plan = Plan::get(&f.db, &plan.id).await.unwrap();
            let migrator = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone());
            let mut migrator = migrator;
            migrator.verify_sample(Some(Sample { per_kind: 5, seed })).await.unwrap()
        }
    };
    let (first, again, other) = (sampled(7).await, sampled(7).await, sampled(8).await);
    for kind in ["pages", "blogposts", "comments", "attachments", "users"] {
        assert_eq!(first.checked.get(kind), Some(&5), "{kind}: {:?}", first.checked);
    }
    let missing = |v: &Verification| v.differences.iter().filter(|d| d.kind == "comments").map(|d| d.server_id.clone()).collect::<Vec<_>>();
    assert_eq!(missing(&first).len(), 5, "{:#?}", first.differences);
    assert_eq!(missing(&first), missing(&again), "the same seed, the same comments");
    assert_ne!(missing(&first), missing(&other), "another seed, other comments");
    assert!(first.requests < 60, "a sample is cheap: {} requests", first.requests);
    assert_eq!(first.sample, Some(Sample { per_kind: 5, seed: 7 }));
}
