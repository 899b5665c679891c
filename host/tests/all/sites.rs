//! Several Server sites into one Cloud site. Each site's database ids are its own: the
//! mappings, the ledger and the idempotency keys are kept per site identity, so a second
//! site whose ids overlap the first's lands whole, in its own spaces, and a rerun of
//! either links only its own. (Before, the second site's pages were all taken for the
//! first's and "linked": its spaces stayed empty while its report said they migrated.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::sample::{write_sample_site, SampleOptions};
use ferry_host::source::{IdentityOrigin, Source};
use ferry_host::staging::Faults;
use serde_json::Value;

use crate::core_migration::{plan_for, run_plan, Cloud};
use crate::support::Fixture;

/// A second sample site with the first's seed, so its database ids are the first's, and
/// its own server id; its space keys get a `B` and its titles a ` (B)`, as two real
/// sites' would differ. Returns (its folder, its database path).
async fn second_site(root: &Path) -> (PathBuf, String) {
    let site = root.join("second");
    write_sample_site(&site, None, &SampleOptions::default()).await.unwrap();
    let db = site.join("site.db").display().to_string();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db}")).await.unwrap();
    sqlx::query("UPDATE spaces SET spacekey = spacekey || 'B', lowerspacekey = lowerspacekey || 'b'").execute(&pool).await.unwrap();
    sqlx::query("UPDATE content SET title = title || ' (B)' WHERE title IS NOT NULL AND contenttype IN ('PAGE', 'BLOGPOST')").execute(&pool).await.unwrap();
    pool.close().await;
    (site, db)
}

/// Content per kind in each space of the cloud.
async fn cloud_content(cloud: &Cloud) -> BTreeMap<String, Value> {
    cloud.review("spaces").await.as_array().unwrap().iter().map(|s| (s["key"].as_str().unwrap().to_string(), s["content"].clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_with_overlapping_ids_each_land_whole_in_their_own_spaces_and_reruns_link_only_their_own() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let (second, second_db) = second_site(f.dir.path()).await;
    let (a, b) = (f.source().await, Source::connect(&second_db).await.unwrap());
    let (id_a, id_b) = (a.site_identity().await.unwrap(), b.site_identity().await.unwrap());
    assert_eq!((id_a.origin, id_b.origin), (IdentityOrigin::ServerId, IdentityOrigin::ServerId));
    assert_ne!(id_a.id, id_b.id, "two installs, two server ids");
    assert_eq!(
        a.spaces().await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(),
        b.spaces().await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(),
        "the ids overlap"
    );

    let plan_a = plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false);
    let plan_b = Plan { source: second_db.clone(), attachments: second.join("attachments").display().to_string(), ..plan_a.clone() };
    let first = run_plan(&f, &cloud, plan_a.clone()).await;
    let after_first = cloud_content(&cloud).await;
    let second_report = run_plan(&f, &cloud, plan_b.clone()).await;
    let after_both = cloud_content(&cloud).await;

    // The second site migrated as much as the first (the same site but for names) ...
    for kind in ["pages", "blogposts", "comments", "attachments"] {
        assert!(first.counts[kind].cloud > 0, "{kind}: {:?}", first.counts[kind]);
        assert_eq!(second_report.counts[kind].cloud, first.counts[kind].cloud, "{kind}: {:?}", second_report.counts[kind]);
    }
    // ... into its own spaces, each as full as the first site's, and left the first's as
    // they were.
    for (key, content) in &after_first {
        assert_eq!(&after_both[key], content, "{key} is untouched by the second site");
        let theirs = format!("{key}B");
        assert_eq!(after_both.get(&theirs), Some(content), "{theirs} holds the second site's copy of what {key} holds");
    }
    assert_eq!(after_both.len(), 2 * after_first.len());
    let titles: Vec<String> = cloud
        .review("spaces/ENGB/content")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "page")
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    assert!(!titles.is_empty() && titles.iter().all(|t| t.ends_with(" (B)")), "{titles:?}");
    // The same people on both sites are one cloud account each: linked, not created twice.
    assert!(second_report.linked_users > 0);
    let users = cloud.review("users").await;
    let mut emails: Vec<&str> = users.as_array().unwrap().iter().filter_map(|u| u["email"].as_str()).collect();
    let all = emails.len();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), all, "no email has two accounts");

    // A rerun of either site links only its own: nothing new lands anywhere.
    for plan in [plan_a, plan_b] {
        let again = run_plan(&f, &cloud, plan).await;
        assert_eq!(again.counts["pages"].cloud, first.counts["pages"].cloud, "{:?}", again.failures);
        assert_eq!(cloud_content(&cloud).await, after_both, "a rerun created nothing");
    }

    // Each plan records its site; the sites are listed with their plans.
    let plans = Plan::list(&f.db).await.unwrap();
    assert_eq!(plans.iter().filter(|p| p.site.as_deref() == Some(id_a.id.as_str())).count(), 2);
    assert_eq!(plans.iter().filter(|p| p.site.as_deref() == Some(id_b.id.as_str())).count(), 2);
    let sites = ferry_host::sites::list(&f.db).await.unwrap();
    assert_eq!(sites.iter().map(|s| (s.id.clone(), s.plans)).collect::<BTreeMap<_, _>>(), BTreeMap::from([(id_a.id.clone(), 2), (id_b.id.clone(), 2)]));
}

#[tokio::test]
async fn a_plan_refuses_a_source_that_became_another_site() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await.unwrap();
    // The file is replaced by another site's database (same path, another server id).
    let (_, other) = second_site(f.dir.path()).await;
    std::fs::copy(&other, &f.source_url).unwrap();
    let e = ferry_host::migrate::Migrator::new(f.db.clone(), plan.clone(), ferry_host::migrate::Progress::hidden()).await.err().expect("refused");
    let message = format!("{e:#}");
    assert!(message.contains(plan.site.as_deref().unwrap()) && message.contains("create a new plan"), "{message}");
}

#[tokio::test]
async fn a_site_without_a_server_id_is_known_by_a_fingerprint_the_admin_can_name() {
    let f = Fixture::new().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    sqlx::query("DELETE FROM bandana WHERE bandanakey = 'confluence.server.id'").execute(&pool).await.unwrap();
    pool.close().await;
    let first = f.source().await.site_identity().await.unwrap();
    assert_eq!(first.origin, IdentityOrigin::Fingerprint);
    assert!(first.id.starts_with("confluence:fingerprint:"), "{}", first.id);
    // New content does not change it: only the oldest rows count.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    sqlx::query("INSERT INTO spaces (spaceid, spacename, spacekey, lowerspacekey, spacetype, spacestatus, creationdate, lastmoddate) VALUES (9999999, 'New', 'NEW', 'new', 'global', 'CURRENT', '2026-01-01', '2026-01-01')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(f.source().await.site_identity().await.unwrap().id, first.id);
    assert_eq!(first.base_url.as_deref(), Some(ferry_host::sample::SAMPLE_BASE_URL));
    // The admin names it, and may use the name in its place.
    ferry_host::sites::identify(&f.db, &f.source().await, None).await.unwrap();
    let named = ferry_host::sites::name(&f.db, &first.id, "Old team wiki").await.unwrap();
    assert_eq!(named.name.as_deref(), Some("Old team wiki"));
    assert_eq!(ferry_host::sites::for_request(&f.db, "Old team wiki").await.unwrap().id, first.id);
    assert!(ferry_host::sites::name(&f.db, &first.id, "").await.is_err());
}

#[tokio::test]
async fn mappings_recorded_before_sites_had_identities_are_adopted_by_the_site_of_their_plans() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    let pages = report.counts["pages"].cloud;
    assert!(pages > 0);
    // As the state was before this version: plans without a site, mappings under the
    // legacy key the schema migration gives them.
    sqlx::query("UPDATE plans SET site = NULL").execute(f.db.pool()).await.unwrap();
    sqlx::query("UPDATE mappings SET site = 'legacy:' || (SELECT source FROM plans WHERE plans.id = mappings.plan_id)").execute(f.db.pool()).await.unwrap();
    sqlx::query("DELETE FROM server_sites").execute(f.db.pool()).await.unwrap();
    let before = cloud_content(&cloud).await;
    // A new plan of the same source adopts them: it links, it does not create again.
    let again = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    assert_eq!(again.counts["pages"].cloud, pages);
    assert_eq!(cloud_content(&cloud).await, before, "nothing was created twice");
    let legacy: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mappings WHERE site LIKE 'legacy:%'").fetch_one(f.db.pool()).await.unwrap();
    assert_eq!(legacy, 0);
    assert!(Plan::list(&f.db).await.unwrap().iter().all(|p| p.site.is_some()), "the older plan is the site's too");
}

#[tokio::test]
async fn links_to_other_sites_are_left_alone_and_not_reported_while_this_sites_short_links_are() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    // A real page's link to Atlassian's documentation (its code decodes to a page id), and
    // a short link into this site (under the base URL it records) to a page no plan moves.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let page: i64 = sqlx::query_scalar(
        "SELECT contentid FROM content WHERE contenttype = 'PAGE' AND content_status = 'current' AND prevver IS NULL \
         AND spaceid = (SELECT spaceid FROM spaces WHERE spacekey = 'ENG') ORDER BY contentid LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let theirs = "https://confluence.atlassian.com/x/NgszKw";
    let ours = format!("{}/x/{}", ferry_host::sample::SAMPLE_BASE_URL, ferry_host::migrate::storage::short_link_code(987_654_321));
    let added = format!("<p>See <a href=\"{theirs}\">Atlassian's docs</a> and <a href=\"{ours}\">a page gone</a>.</p>");
    sqlx::query("UPDATE bodycontent SET body = body || ? WHERE contentid = ?").bind(&added).bind(page).execute(&pool).await.unwrap();
    pool.close().await;

    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await.unwrap();
    let checks = ferry_host::migrate::Migrator::new(f.db.clone(), plan.clone(), ferry_host::migrate::Progress::hidden()).await.unwrap().checks().await.unwrap();
    let short = checks.iter().find(|c| c.code == "content.short-links").unwrap();
    let named = short.entities.join(" ");
    assert!(!named.contains("NgszKw"), "another site's link is not this site's short link: {named}");
    assert!(named.contains(&ferry_host::migrate::storage::short_link_code(987_654_321)), "this site's is reported: {named}");

    let report = ferry_host::migrate::Migrator::new(f.db.clone(), plan, ferry_host::migrate::Progress::hidden())
        .await
        .unwrap()
        .with_destination(cloud.dest.clone())
        .run()
        .await
        .unwrap();
    assert!(report.unresolved_references.iter().all(|u| !u.reference.contains("confluence.atlassian.com")), "{:?}", report.unresolved_references);
    let cloud_id: String = sqlx::query_scalar("SELECT cloud_id FROM mappings WHERE namespace = 'confluence:page' AND server_id = ?")
        .bind(page.to_string())
        .fetch_one(f.db.pool())
        .await
        .unwrap();
    let body = cloud.review(&format!("content/{cloud_id}")).await["body"].as_str().unwrap().to_string();
    assert!(body.contains(&format!("href=\"{theirs}\"")), "the link to another site stays as it was: {body}");
}

#[tokio::test]
async fn a_second_site_with_the_same_space_keys_meets_the_key_conflict_check() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    // Another install with the same keys: its ENG is not the first site's ENG.
    let other = f.dir.path().join("same-keys");
    write_sample_site(&other, None, &SampleOptions::default()).await.unwrap();
    let plan = Plan {
        source: other.join("site.db").display().to_string(),
        attachments: other.join("attachments").display().to_string(),
        ..plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)
    };
    let plan = Plan::create(&f.db, plan).await.unwrap();
    let checks = ferry_host::migrate::Migrator::new(f.db.clone(), plan, ferry_host::migrate::Progress::hidden()).await.unwrap().checks().await.unwrap();
    let conflict = checks.iter().find(|c| c.code == "spaces.key-conflict").unwrap();
    assert_eq!(conflict.result, ferry_host::checks::CheckResult::Error, "{conflict:?}");
    assert!(conflict.entities.iter().any(|e| e.contains("ENG")), "{conflict:?}");
}
