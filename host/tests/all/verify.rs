//! `ferry verify` after a migration: nothing differs, then each change made in the cloud
//! behind Ferry's back is found and named.

use std::process::Command;

use ferry_host::destination::api::{Body, ContentUpdate, PageVersion};
use ferry_host::destination::ContentKind;
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
    // Who may edit a page widened: its edit restriction removed (another page than the
    // one opened for viewing).
    let edit_restricted: i64 = sqlx::query_scalar("SELECT content_id FROM restrictions WHERE operation = 'update' AND content_id <> ? LIMIT 1")
        .bind(id(restricted))
        .fetch_one(&db)
        .await
        .expect("a page only some may edit");
    sqlx::query("DELETE FROM restrictions WHERE content_id = ? AND operation = 'update'").bind(edit_restricted).execute(&db).await.unwrap();
    // A space permission taken away, and a member taken out of a migrated group.
    let taken = sqlx::query(
        "DELETE FROM permissions WHERE space_id = (SELECT id FROM spaces WHERE key = 'ENG') AND subject_type = 'group' \
         AND identifier = 'engineering' AND key = 'create:page'",
    )
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(taken, 1, "engineering could create pages in ENG");
    let left = sqlx::query(
        "DELETE FROM memberships WHERE rowid = (SELECT m.rowid FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.name = 'engineering' LIMIT 1)",
    )
    .execute(&db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(left, 1, "engineering has members");
    db.close().await;
    // A page saved again in the cloud by someone, with the same body: a version of its own.
    let resaved = items.iter().find(|c| c["kind"] == "page" && id(c) != id(edited) && id(c) != id(labelled)).expect("a third page");
    let current = cloud.dest.content(ContentKind::Page, id(resaved)).await.unwrap().expect("it is in the cloud");
    let update = ContentUpdate {
        id: current.id.to_string(),
        status: "current".into(),
        title: current.title.clone(),
        body: Body { representation: "storage".into(), value: current.storage_body().unwrap_or_default().to_string() },
        version: PageVersion { number: current.version.as_ref().map_or(1, |v| v.number) + 1, message: Some("tidied in the cloud".into()) },
    };
    cloud.dest.add_version(false, id(resaved), &update).await.unwrap();

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
    let edit_opened = about("restrictions", edit_restricted).unwrap_or_else(|| panic!("the page anyone may edit: {:#?}", found.differences));
    assert!(edit_opened.what.contains("can edit it"), "{edit_opened:?}");
    let versions = about("versions", id(resaved)).unwrap_or_else(|| panic!("the version saved in the cloud: {:#?}", found.differences));
    assert!(versions.what.contains("edited in the cloud after it migrated"), "{versions:?}");
    let permission = found.differences.iter().find(|d| d.kind == "space permissions").unwrap_or_else(|| panic!("the permission: {:#?}", found.differences));
    assert!(permission.server_id == "ENG" && permission.what.contains("group engineering") && permission.what.contains("EDITSPACE"), "{permission:?}");
    let member = found.differences.iter().find(|d| d.kind == "groups").unwrap_or_else(|| panic!("the membership: {:#?}", found.differences));
    assert!(member.server_id == "engineering" && member.what.starts_with("1 of its members"), "{member:?}");
    assert_eq!(found.differences.len(), 11, "{:#?}", found.differences);
    for kind in ["versions", "space permissions", "group memberships"] {
        assert!(clean.checked.get(kind).is_some_and(|n| *n > 0), "{kind}: {:?}", clean.checked);
    }

    // The command line says the same, as JSON, and exits 6.
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["verify", &plan.id, "--json"])
        .env("FERRY_HOME", f.dir.path().join("home"))
        .cloud_secrets()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["differences"].as_array().map(Vec::len), Some(11), "{printed}");
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
    let whole = verify(&f, &cloud, &plan).await;
    assert!(first.requests * 4 < whole.requests, "a sample is cheap: {} requests, {} for everything", first.requests, whole.requests);
    assert_eq!(first.sample, Some(Sample { per_kind: 5, seed: 7 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reads_a_jira_plan_back_and_finds_each_change_made_in_the_cloud() {
    use crate::jira::{full_plan, JiraFixture};
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    ferry_host::sample::jira::seed_cloud(&cloud.dest).await.unwrap();
    let plan = Plan::create(&f.db, full_plan(&f, &cloud)).await.unwrap();
    Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap();
    let jira_verify = || async {
        let plan = Plan::get(&f.db, &plan.id).await.unwrap();
        Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).verify().await.unwrap()
    };

    let clean = jira_verify().await;
    assert!(clean.differences.is_empty(), "{:#?}", clean.differences);
    for kind in ["requests", "comments", "customers", "organizations", "users", "group memberships"] {
        assert!(clean.checked.get(kind).is_some_and(|n| *n > 0), "{kind}: {:?}", clean.checked);
    }
    assert_eq!(clean.checked["requests"], f.summary.requests, "every request compared");

    // Behind Ferry's back: a request's summary changed, another's last comment deleted,
    // a third's participants cleared, an organization member removed, a customer taken
    // off a service desk.
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", cloud.db_path().display())).await.unwrap();
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM jsm_requests ORDER BY id").fetch_all(&db).await.unwrap();
    let commented: String =
        sqlx::query_scalar("SELECT r.key FROM jsm_requests r WHERE EXISTS (SELECT 1 FROM jsm_comments c WHERE c.request_id = r.id) ORDER BY r.id LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    let with_participants: String = sqlx::query_scalar(
        "SELECT r.key FROM jsm_requests r WHERE EXISTS (SELECT 1 FROM jsm_participants p WHERE p.request_id = r.id) AND r.key <> ? ORDER BY r.id LIMIT 1",
    )
    .bind(&commented)
    .fetch_one(&db)
    .await
    .expect("a request with participants");
    let renamed = keys.iter().find(|k| **k != commented && **k != with_participants).unwrap().clone();
    sqlx::query("UPDATE jsm_requests SET summary = summary || ' (edited)' WHERE key = ?").bind(&renamed).execute(&db).await.unwrap();
    sqlx::query("DELETE FROM jsm_comments WHERE id = (SELECT MAX(c.id) FROM jsm_comments c JOIN jsm_requests r ON r.id = c.request_id WHERE r.key = ?)")
        .bind(&commented)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM jsm_participants WHERE request_id = (SELECT id FROM jsm_requests WHERE key = ?)")
        .bind(&with_participants)
        .execute(&db)
        .await
        .unwrap();
    let org: String = sqlx::query_scalar(
        "DELETE FROM jsm_organization_members WHERE rowid = (SELECT rowid FROM jsm_organization_members ORDER BY organization_id, account_id LIMIT 1) \
         RETURNING (SELECT name FROM jsm_organizations o WHERE o.id = organization_id)",
    )
    .fetch_one(&db)
    .await
    .expect("an organization with members");
    let off_desk = sqlx::query("DELETE FROM jsm_desk_customers WHERE rowid = (SELECT rowid FROM jsm_desk_customers ORDER BY desk_id, account_id LIMIT 1)")
        .execute(&db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(off_desk, 1, "a desk has customers");
    db.close().await;

    let found = jira_verify().await;
    let about =
        |key: &str| found.differences.iter().filter(|d| d.kind == "requests" && d.cloud_id.as_deref() == Some(key)).map(|d| d.what.clone()).collect::<Vec<_>>();
    assert!(about(&renamed).iter().any(|w| w.contains("summary") && w.contains("(edited)")), "{:#?}", found.differences);
    assert!(about(&commented).iter().any(|w| w.contains("comments in the cloud")), "{:#?}", found.differences);
    assert!(about(&with_participants).iter().any(|w| w.contains("participants")), "{:#?}", found.differences);
    let member = found.differences.iter().find(|d| d.kind == "organizations").unwrap_or_else(|| panic!("the organization: {:#?}", found.differences));
    assert!(member.title == org && member.what.contains("not members in the cloud"), "{member:?}");
    let customer = found.differences.iter().find(|d| d.kind == "customers").unwrap_or_else(|| panic!("the customer: {:#?}", found.differences));
    assert!(customer.what.contains("not a customer of"), "{customer:?}");
    let link = found.differences.iter().find(|d| d.kind == "requests").and_then(|d| d.link.clone()).unwrap_or_default();
    assert!(link.contains("/browse/"), "a request's difference links to it: {link}");
    assert_eq!(found.differences.len(), 5, "{:#?}", found.differences);
}
