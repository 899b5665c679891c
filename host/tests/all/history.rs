//! Content fidelity, continued: page history (every version in order, with its author,
//! date and comment), inline comments with their anchors, and references fixed by a later
//! plan.

use std::collections::HashMap;
use std::time::Duration;

use ferry_host::destination::api::{Body, ContentUpdate, NewContent, PageVersion};
use ferry_host::destination::{ContentKind, RetryPolicy};
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{HistoryScope, Plan, SpacesScope, UsersScope};
use ferry_host::staging::Faults;
use serde_json::Value;
use sqlx::Row;

use crate::core_migration::{plan_for, run_plan, Cloud, TOKEN};
use crate::fidelity::{named_in_text, shape};
use crate::support::Fixture;

/// One version of a page or blog post as the server keeps it.
#[derive(Debug)]
struct ServerVersion {
    title: String,
    author: Option<String>,
    saved: String,
    comment: Option<String>,
    body: String,
}

/// Every version of every current page and blog post on the server, by page id, oldest
/// first.
async fn server_history(f: &Fixture) -> HashMap<i64, Vec<ServerVersion>> {
    let source = ferry_host::state::open_sqlite(std::path::Path::new(&f.source_url)).await.unwrap();
    let sql = "SELECT COALESCE(c.prevver, c.contentid) AS page, c.title, COALESCE(c.lastmodifier, c.creator), \
                      CAST(COALESCE(c.lastmoddate, c.creationdate) AS TEXT), c.versioncomment, COALESCE(b.body, '') \
               FROM content c LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
               WHERE c.contenttype IN ('PAGE', 'BLOGPOST') AND c.content_status = 'current' \
               ORDER BY page, c.version";
    let mut out: HashMap<i64, Vec<ServerVersion>> = HashMap::new();
    for r in sqlx::query(sql).fetch_all(&source).await.unwrap() {
        out.entry(r.get(0)).or_default().push(ServerVersion { title: r.get(1), author: r.get(2), saved: r.get(3), comment: r.get(4), body: r.get(5) });
    }
    out
}

/// Server page and blog post id → cloud id.
async fn migrated_pages(f: &Fixture) -> HashMap<i64, i64> {
    sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE namespace IN ('confluence:page', 'confluence:blogpost')")
        .fetch_all(f.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0).parse().unwrap(), r.get::<String, _>(1).parse().unwrap()))
        .collect()
}

/// User key → cloud account id, for the users that have one.
async fn accounts(f: &Fixture) -> HashMap<String, String> {
    sqlx::query("SELECT server_id, cloud_id FROM mappings WHERE namespace = 'identity:user' AND server_id LIKE 'confluence.userkey/%'")
        .fetch_all(f.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0).trim_start_matches("confluence.userkey/").to_string(), r.get(1)))
        .collect()
}

/// Every migrated page's cloud history equals its server history: as many versions, in
/// order, each with its title and body (ids rewritten), saved by the migrating account;
/// each later version's message names its original author (a former user when they have
/// no account), date and comment, and the page's origin names its creator, the author and
/// date of its current version, and its first version's comment.
async fn assert_history_moved(f: &Fixture, cloud: &Cloud, only: Option<&[i64]>) -> usize {
    let (server, pages, accounts) = (server_history(f).await, migrated_pages(f).await, accounts(f).await);
    let blog_posts = migrated_blog_posts(f).await;
    let migrating = ferry_host::staging::Access::with_token(TOKEN).admin_account_id();
    let mut checked = 0;
    for (server_id, cloud_id) in pages {
        if only.is_some_and(|ids| !ids.contains(&server_id)) {
            continue;
        }
        let expected = &server[&server_id];
        let versions = cloud.review(&format!("content/{cloud_id}/versions")).await;
        let mut versions = versions.as_array().unwrap().clone();
        // A body whose links named pages migrated after it was saved again once they were
        // in: one more version, the last, saying so, with the last server version's body.
        if let Some(fixed) = versions.last().filter(|v| v["message"].as_str().is_some_and(|m| m.starts_with("Ferry: links"))).cloned() {
            versions.pop();
            let before = versions.last().unwrap();
            assert_eq!(fixed["title"], before["title"]);
            assert_eq!(shape(fixed["body"].as_str().unwrap()), shape(before["body"].as_str().unwrap()), "page {server_id}");
        }
        assert_eq!(versions.len(), expected.len(), "page {server_id}: {versions:?}");
        let kind = ContentKind::of(blog_posts.contains(&server_id));
        let origin = cloud.dest.origin(kind, cloud_id).await.unwrap().unwrap_or_else(|| panic!("page {server_id} has no origin"));
        assert_eq!(origin.server_id, server_id.to_string());
        let (first, last) = (&expected[0], expected.last().unwrap());
        assert_eq!(origin.creator.as_ref().map(|c| c.user_key.as_str()), first.author.as_deref(), "page {server_id}");
        assert_eq!(origin.last_modifier.as_ref().map(|c| c.user_key.as_str()), last.author.as_deref(), "page {server_id}");
        assert_eq!(origin.last_modified.as_deref(), Some(last.saved.as_str()), "page {server_id}");
        assert_eq!(origin.first_version_comment, first.comment, "page {server_id}");
        assert_eq!(origin.versions, Some(expected.len() as i64));
        for (n, (cloud_version, server_version)) in versions.iter().zip(expected).enumerate() {
            assert_eq!(cloud_version["number"], n as i64 + 1, "page {server_id}");
            assert_eq!(cloud_version["title"], server_version.title.as_str(), "page {server_id} v{}", n + 1);
            assert_eq!(cloud_version["author_id"].as_str(), Some(migrating.as_str()), "page {server_id} v{}", n + 1);
            let message = cloud_version["message"].as_str();
            if n == 0 {
                assert_eq!(message, None, "a create takes no message");
            } else {
                let message = message.unwrap_or_else(|| panic!("page {server_id} v{} has no message", n + 1));
                assert!(message.contains(&format!(" at {}", server_version.saved)), "{message}");
                if let Some(comment) = server_version.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                    assert!(message.ends_with(&format!(": {}", comment.trim())), "{message}");
                }
                let has_account = server_version.author.as_ref().is_some_and(|key| accounts.contains_key(key));
                assert_eq!(message.contains("(former user)"), !has_account && server_version.author.is_some(), "{message}");
            }
            let body = cloud_version["body"].as_str().unwrap();
            if server_version.body.contains("unclosed") {
                assert_eq!(body, server_version.body);
            } else {
                let user3 = accounts.contains_key(&ferry_host::sample::user_key(3));
                assert_eq!(shape(body), shape(&named_in_text(&server_version.body, user3)), "page {server_id} v{}", n + 1);
                assert!(!body.contains("ri:userkey"), "{body}");
            }
        }
        checked += 1;
    }
    checked
}

/// Server ids of the migrated blog posts.
async fn migrated_blog_posts(f: &Fixture) -> std::collections::HashSet<i64> {
    sqlx::query("SELECT server_id FROM mappings WHERE namespace = 'confluence:blogpost'")
        .fetch_all(f.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0).parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_of_every_page_migrates_in_order_with_its_author_date_and_comment() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
    assert_eq!(report.history, "all");
    let versions = report.counts["versions"];
    let pages = report.counts["pages"].server + report.counts["blogposts"].server;
    assert!(versions.server > pages, "{versions:?}");
    assert_eq!((versions.cloud, versions.failed), (versions.server, 0), "{versions:?}");
    let checked = assert_history_moved(&f, &cloud, None).await;
    assert_eq!(checked as u64, pages);
    // A middle version by the deleted user names a former user; MKT page 1 reads as it did.
    let mkt = cloud.review("spaces/MKT/content").await;
    let page = mkt.as_array().unwrap().iter().find(|c| c["title"] == "MKT page 1").unwrap();
    let history = cloud.review(&format!("content/{}/versions", page["id"])).await;
    let messages: Vec<Option<String>> = history.as_array().unwrap().iter().map(|v| v["message"].as_str().map(str::to_string)).collect();
    assert_eq!(messages.len(), 3);
    assert!(messages[1].as_deref().unwrap().contains("(former user)"), "{messages:?}");
    assert!(messages[2].as_deref().unwrap().ends_with(": tidied up after review"), "{messages:?}");
    assert_eq!(page["origin"]["firstVersionComment"], "first draft");
    // The Cloud-shaped read API shows the same history.
    let listed = cloud.get(&format!("/wiki/api/v2/pages/{}/versions", page["id"])).await;
    let numbers: Vec<i64> = listed["results"].as_array().unwrap().iter().map(|v| v["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[tokio::test]
async fn history_current_migrates_the_current_version_only() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let plan = Plan { history: HistoryScope::Current, ..plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(vec!["ENG".into()]), false) };
    let report = run_plan(&f, &cloud, plan).await;
    assert_eq!(report.history, "current");
    let pages = report.counts["pages"].cloud + report.counts["blogposts"].cloud;
    assert_eq!((report.counts["versions"].server, report.counts["versions"].cloud), (pages, pages));
    let server = server_history(&f).await;
    for (server_id, cloud_id) in migrated_pages(&f).await {
        let versions = cloud.review(&format!("content/{cloud_id}/versions")).await;
        let versions = versions.as_array().unwrap();
        let saved_again = versions.iter().filter(|v| v["message"].as_str().is_some_and(|m| m.starts_with("Ferry: links"))).count();
        assert_eq!(versions.len() - saved_again, 1, "{versions:?}");
        let current = server[&server_id].last().unwrap();
        assert_eq!(versions[0]["title"], current.title.as_str());
        // The one version is the server's current one: its comment is in the origin.
        let origin = cloud.dest.origin(ContentKind::Page, cloud_id).await.unwrap();
        let origin = match origin {
            Some(origin) => origin,
            None => cloud.dest.origin(ContentKind::BlogPost, cloud_id).await.unwrap().unwrap(),
        };
        assert_eq!(origin.first_version_comment, current.comment);
        assert_eq!(origin.last_modified.as_deref(), Some(current.saved.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_cut_short_is_completed_by_the_next_plan_without_duplicate_versions() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults { fail_rate: 0.2, lose_answer_rate: 0.1, ..Faults::default() }).await);
    // Users first, reliably (the plan's client retries).
    run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::None, false)).await;

    // A crash after the first two of the three versions of MKT post 9 landed: the space
    // and the post exist under the keys a plan sends, and nothing is in the ledger.
    let source = ferry_host::state::open_sqlite(std::path::Path::new(&f.source_url)).await.unwrap();
    let post: i64 = sqlx::query("SELECT contentid FROM content WHERE title = 'MKT post 9' AND prevver IS NULL").fetch_one(&source).await.unwrap().get(0);
    let history = &server_history(&f).await[&post];
    assert_eq!(history.len(), 3);
    // What a run killed there leaves: its intents recorded for the space and the post,
    // the space and the post's first two versions created, no origin on the post yet, and
    // nothing in the ledger.
    let site = ferry_host::sites::identify(&f.db, &f.source().await, None).await.unwrap().id;
    let destination = ferry_host::migrate::destination_key(cloud.site.url().as_str());
    for (namespace, id) in [("confluence:space", "MKT".to_string()), ("confluence:blogpost", post.to_string())] {
        sqlx::query("INSERT INTO create_intents (destination, site, namespace, server_id) VALUES (?, ?, ?, ?)")
            .bind(&destination)
            .bind(&site)
            .bind(namespace)
            .bind(id)
            .execute(f.db.pool())
            .await
            .unwrap();
    }
    // (The site fails some requests: each create looks before it is repeated.)
    let dest = &cloud.dest;
    let space = dest.create_looking_first(false, || dest.get_space("MKT"), || dest.create_space("MKT", "Marketing")).await.unwrap().id.unwrap();
    let body = |v: &ServerVersion| Body { representation: "storage".into(), value: v.body.clone() };
    let first = NewContent { space_id: space, status: "current".into(), title: history[0].title.clone(), parent_id: None, body: body(&history[0]) };
    let find = || async { Ok(dest.find_content(true, space, &history[0].title).await?.map(|c| c.id)) };
    let created = dest.create_looking_first(false, find, || async { Ok(dest.create_content(true, &first, false).await?.id) }).await.unwrap();
    let created = ferry_host::destination::api::Created { id: created };
    let second = PageVersion { number: 2, message: None };
    let update =
        ContentUpdate { id: created.id.to_string(), status: "current".into(), title: history[1].title.clone(), body: body(&history[1]), version: second };
    cloud.dest.add_version(true, created.id, &update).await.unwrap();

    // ENG through a client that never retries, a few times: pages land with part of their
    // history, unmapped, or not at all.
    let flaky = ferry_host::demo::staging_client(&cloud.site, &ferry_host::staging::Access::with_token(TOKEN), 8).unwrap().with_retry(RetryPolicy {
        attempts: 1,
        base: Duration::from_millis(1),
        max: Duration::from_millis(1),
    });
    for _ in 0..3 {
        let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await.unwrap();
        Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(flaky.clone()).run().await.unwrap();
    }

    // A reliable plan finishes every page: it looks for the pages whose creates were begun,
    // links those that landed, adds the versions they lack, and each history is whole, once.
    let both = SpacesScope::Keys(vec!["ENG".into(), "MKT".into()]);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, both, false)).await;
    assert_eq!(report.counts["pages"].failed + report.counts["blogposts"].failed, 0, "{:?}", report.failures);
    assert_eq!(migrated_pages(&f).await[&post], created.id, "the post that landed was linked, not created again");
    let versions = cloud.review(&format!("content/{}/versions", created.id)).await;
    let versions: Vec<(i64, String)> =
        versions.as_array().unwrap().iter().map(|v| (v["number"].as_i64().unwrap(), v["title"].as_str().unwrap().to_string())).collect();
    let titles: Vec<(i64, String)> = history.iter().enumerate().map(|(n, v)| (n as i64 + 1, v.title.clone())).collect();
    assert_eq!(versions, titles);
    let eng: Vec<i64> = {
        let eng_pages = sqlx::query(
            "SELECT contentid FROM content WHERE spaceid = 1000 AND prevver IS NULL AND contenttype IN ('PAGE', 'BLOGPOST') AND content_status = 'current'",
        )
        .fetch_all(&source)
        .await
        .unwrap();
        eng_pages.iter().map(|r| r.get(0)).collect()
    };
    assert_eq!(assert_history_moved(&f, &cloud, Some(&eng)).await, eng.len());
    for key in ["ENG", "MKT"] {
        let content = cloud.review(&format!("spaces/{key}/content")).await;
        let pages = content.as_array().unwrap().iter().filter(|c| c["kind"] == "page" || c["kind"] == "blogpost").count();
        assert_eq!(pages, 20, "a page of {key} was created twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_comments_keep_their_marker_and_anchor() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let spaces = SpacesScope::Keys(vec!["ENG".into(), "MKT".into()]);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, spaces, false)).await;
    let pages = migrated_pages(&f).await;
    let content = cloud.review("spaces/MKT/content").await;
    let by_title = |title: &str| content.as_array().unwrap().iter().find(|c| c["title"] == title).unwrap().clone();
    let mut anchored = 0;
    for p in [1, 6, 16] {
        let page = by_title(&format!("MKT page {p}"));
        let cloud_id = page["id"].as_i64().unwrap();
        let server_id = *pages.iter().find(|(_, c)| **c == cloud_id).unwrap().0;
        let server_marker = ferry_host::sample::marker_ref(server_id);
        // The comment is anchored, and its reply answers it, inline.
        let listed = cloud.get(&format!("/wiki/api/v2/pages/{cloud_id}/inline-comments")).await;
        let comments = listed["results"].as_array().unwrap();
        assert_eq!(comments.len(), 2, "{listed}");
        // The site's own marker is in the cloud body, around the same text; the server's
        // is not (the public API places a marker from the text and its occurrence).
        let marker = comments[0]["properties"]["inlineMarkerRef"].as_str().unwrap();
        let body = cloud.review(&format!("content/{cloud_id}")).await["body"].as_str().unwrap().to_string();
        assert!(body.contains(&format!("<ac:inline-comment-marker ac:ref=\"{marker}\">MKT page {p} needs review</ac:inline-comment-marker>")), "{body}");
        assert!(!body.contains(&server_marker), "{body}");
        assert_eq!(comments[0]["properties"]["inlineOriginalSelection"], format!("MKT page {p} needs review").as_str());
        assert_eq!(comments[1]["parentCommentId"], comments[0]["id"]);
        anchored += 1;
    }
    assert_eq!(anchored, 3);
    // Page 11's highlighted text was edited away on the server: its comment is a footer
    // comment now, reported.
    let content = cloud.review("spaces/ENG/content").await;
    let page11 = content.as_array().unwrap().iter().find(|c| c["title"] == "ENG page 11").unwrap()["id"].as_i64().unwrap();
    let server11 = *pages.iter().find(|(_, c)| **c == page11).unwrap().0;
    assert_eq!(report.detached_inline_comments.len(), 1, "{:?}", report.detached_inline_comments);
    assert_eq!(report.detached_inline_comments[0].page_id, server11);
    let on_page11: Vec<&Value> = content.as_array().unwrap().iter().filter(|c| c["kind"] == "comment" && c["page_id"] == page11).collect();
    assert!(on_page11.iter().all(|c| c["inline_marker_ref"].is_null()));
    assert_eq!(on_page11.len(), 4, "two footer comments, and the detached comment with its reply");
    // Every comment migrated.
    assert_eq!(report.counts["comments"].failed, crate::support::unmoved_file_comments(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_left_by_one_plan_are_fixed_by_the_plan_that_migrates_their_target() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    // Before: the check names the short links that will not resolve. Those into ENG are
    // named while ENG is not in the plan, never those to pages the plan migrates.
    let short_link_warnings = |spaces: Vec<&str>| {
        let plan = plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(spaces.into_iter().map(String::from).collect()), false);
        async {
            let plan = Plan::create(&f.db, plan).await.unwrap();
            let checks = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().checks().await.unwrap();
            checks.into_iter().find(|c| c.code == "content.short-links").unwrap()
        }
    };
    let eng_root: i64 = {
        let source = ferry_host::state::open_sqlite(std::path::Path::new(&f.source_url)).await.unwrap();
        sqlx::query("SELECT contentid FROM content WHERE title = 'ENG page 0' AND prevver IS NULL").fetch_one(&source).await.unwrap().get(0)
    };
    let into_eng = format!("links /x/{}", ferry_host::migrate::storage::short_link_code(eng_root));
    let mkt_only = short_link_warnings(vec!["MKT"]).await;
    assert!(mkt_only.entities.iter().any(|e| e.ends_with(&into_eng)), "{:?}", mkt_only.entities);
    assert!(mkt_only.entities.iter().all(|e| e.contains("/x/AbC") || e.ends_with(&into_eng)), "{:?}", mkt_only.entities);
    let both = short_link_warnings(vec!["MKT", "ENG"]).await;
    assert!(both.entities.iter().all(|e| e.contains("/x/AbC")), "{:?}", both.entities);
    // MKT links into ENG, which is not migrated yet: those references stay and are reported.
    let first = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(vec!["MKT".into()]), false)).await;
    // References into ENG, by page id and by short link; short links to pages that never
    // existed (`/x/AbC…`) are the other kind kept.
    let never_existed = |u: &&ferry_host::migrate::report::UnresolvedReference| u.reference.contains("/x/AbC");
    let mut kept: Vec<i64> = first.unresolved_references.iter().filter(|u| !never_existed(u)).map(|u| u.content_id).collect();
    kept.dedup();
    assert!(!kept.is_empty(), "{:?}", first.unresolved_references);
    assert!(first.unresolved_references.iter().any(|u| !never_existed(&u) && u.reference.contains("/x/")), "a short link into ENG is kept");
    let short_links: Vec<i64> = first.unresolved_references.iter().filter(never_existed).map(|u| u.content_id).collect();
    assert!(!short_links.is_empty());
    let ledger = |ids: Vec<i64>| async {
        let mut left = 0;
        for id in ids {
            let row = sqlx::query("SELECT 1 FROM mappings WHERE namespace = 'ferry:unresolved-body' AND server_id = ?")
                .bind(id.to_string())
                .fetch_optional(f.db.pool())
                .await
                .unwrap();
            left += usize::from(row.is_some());
        }
        left
    };
    assert_eq!(ledger(kept.clone()).await, kept.len(), "the ledger keeps every body with references left");
    // Migrating ENG fixes them, in the bodies the first plan created.
    let second = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    assert_eq!(second.earlier_bodies_fixed, kept.len() as u64);
    let pages = migrated_pages(&f).await;
    let eng_root = cloud.review("spaces/ENG/content").await.as_array().unwrap().iter().find(|c| c["title"] == "ENG page 0").unwrap()["id"].clone();
    for server_id in &kept {
        let body = cloud.review(&format!("content/{}", pages[server_id])).await["body"].as_str().unwrap().to_string();
        let link = format!("{}/wiki/pages/viewpage.action?pageId={eng_root}", cloud.site.url());
        assert_eq!(body.matches(&link).count(), 2, "the link and the short link: {body}");
        assert!(!body.contains("wiki.example.com"), "{body}");
    }
    assert_eq!(ledger(kept).await, 0, "fixed bodies leave the ledger");
    assert_eq!(ledger(short_links.clone()).await, short_links.len(), "bodies still naming missing pages stay in it");
}

#[tokio::test]
async fn the_site_refuses_a_version_out_of_order_and_an_inline_comment_on_text_it_lacks() {
    let cloud = Cloud::start(Faults::default()).await;
    let space = cloud.dest.create_space("REF", "Refusals").await.unwrap().id.unwrap();
    let body = |value: &str| Body { representation: "storage".into(), value: value.into() };
    let page = NewContent {
        space_id: space,
        status: "current".into(),
        title: "Page".into(),
        parent_id: None,
        body: body("<p>Only <ac:inline-comment-marker ac:ref=\"m-1\">this</ac:inline-comment-marker> is marked.</p>"),
    };
    let id = cloud.dest.create_content(false, &page, false).await.unwrap().id;
    let http = reqwest::Client::new();
    // Version 3 of a page at version 1: 409, naming the version it is at.
    let skip = ContentUpdate {
        id: id.to_string(),
        status: "current".into(),
        title: "Page".into(),
        body: body("<p>v3</p>"),
        version: PageVersion { number: 3, message: None },
    };
    let response = http
        .put(format!("{}/wiki/api/v2/pages/{id}", cloud.site.url()))
        .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
        .json(&skip)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let text = response.text().await.unwrap();
    assert!(text.contains(&format!("version 3 of page {id} is not the next one: the page is at version 1")), "{text}");
    // An inline comment on text the page does not have (as many times as said): 400.
    let comment = serde_json::json!({"pageId": id, "body": {"representation": "storage", "value": "<p>?</p>"},
                                     "inlineCommentProperties": {"textSelection": "marker", "textSelectionMatchCount": 1, "textSelectionMatchIndex": 0}});
    let response = http
        .post(format!("{}/wiki/api/v2/inline-comments", cloud.site.url()))
        .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
        .json(&comment)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("the page's text has \\\"marker\\\" 0 times, not 1"), "{text}");
    // A reply to a comment that is not inline: 400.
    let footer = cloud
        .dest
        .create_comment(&ferry_host::destination::api::NewComment {
            page_id: Some(id),
            blog_post_id: None,
            attachment_id: None,
            parent_comment_id: None,
            body: body("<p>f</p>"),
        })
        .await
        .unwrap()
        .id;
    let reply = serde_json::json!({"parentCommentId": footer.to_string(), "body": {"representation": "storage", "value": "<p>r</p>"}});
    let response = http
        .post(format!("{}/wiki/api/v2/inline-comments", cloud.site.url()))
        .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
        .json(&reply)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains(&format!("no inline comment {footer}")));
    // The page is unchanged: one version.
    assert_eq!(cloud.dest.versions(false, id).await.unwrap().results.len(), 1);
}
