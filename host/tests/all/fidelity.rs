//! Content fidelity: page restrictions move with their pages and never widen who can see
//! them. Visibility is asserted through the staging site's read API as several accounts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferry_host::destination::api::{ContentRestriction, RestrictedGroup, RestrictedUser, SITE_ADMINS_GROUP};
use ferry_host::plan::{SpacesScope, UsersScope};
use ferry_host::sample::user_key;
use ferry_host::staging::Faults;
use serde_json::Value;
use sqlx::Row;

use crate::core_migration::{plan_for, run_plan, Cloud, TOKEN};
use crate::support::Fixture;

/// Read page or blog post `id` as `account`: the HTTP status the staging site answers.
async fn read_as(cloud: &Cloud, kind: &str, id: i64, account: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/wiki/api/v2/{kind}/{id}", cloud.site.url()))
        .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
        .header("x-ferry-read-as", account)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub(crate) async fn account_of(f: &Fixture, key: &str) -> String {
    sqlx::query("SELECT cloud_id FROM mappings WHERE namespace = 'identity:user' AND server_id = ?")
        .bind(format!("confluence.userkey/{key}"))
        .fetch_one(f.db.pool())
        .await
        .unwrap()
        .get(0)
}

/// ENG's pages and blog posts in the cloud, by title.
async fn eng_content(cloud: &Cloud) -> HashMap<String, Value> {
    let content = cloud.review("spaces/ENG/content").await;
    content
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "page" || c["kind"] == "blogpost")
        .map(|c| (c["title"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_pages_are_visible_only_to_those_the_server_allowed() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
    assert_eq!(report.counts["restrictions"].server, 5);
    assert_eq!(report.counts["restrictions"].cloud, 5);

    let users = cloud.review("users").await;
    let users = users.as_array().unwrap();
    let in_engineering = |u: &&Value| u["groups"].as_array().unwrap().iter().any(|g| g == "engineering");
    let (user1, user2) = (account_of(&f, &user_key(1)).await, account_of(&f, &user_key(2)).await);
    let engineer = users.iter().filter(in_engineering).map(|u| u["id"].as_str().unwrap().to_string()).find(|id| *id != user1).unwrap();
    let outsider = users.iter().filter(|u| !in_engineering(u)).map(|u| u["id"].as_str().unwrap().to_string()).find(|id| *id != user1 && *id != user2).unwrap();

    let eng = eng_content(&cloud).await;
    let id = |title: &str| eng[title]["id"].as_i64().unwrap();
    let by_id: HashMap<i64, &Value> = eng.values().map(|c| (c["id"].as_i64().unwrap(), c)).collect();
    // A page is open when neither it nor any ancestor has a View restriction.
    let open = |mut page: i64| loop {
        let c = by_id[&page];
        if c["read_restricted"] == true {
            return false;
        }
        match c["parent_id"].as_i64() {
            Some(parent) => page = parent,
            None => return true,
        }
    };
    let under = |ancestor: i64| {
        eng.values().map(|c| c["id"].as_i64().unwrap()).find(|&p| {
            p != ancestor && {
                let mut at = by_id[&p]["parent_id"].as_i64();
                while let Some(a) = at.filter(|a| *a != ancestor) {
                    at = by_id[&a]["parent_id"].as_i64();
                }
                at == Some(ancestor)
            }
        })
    };

    // Edit only: everyone with access to the space reads the root page.
    assert_eq!(read_as(&cloud, "pages", id("ENG page 0"), &outsider).await, 200);
    // View restricted to user 1 and the engineering group (nested groups included).
    assert_eq!(read_as(&cloud, "pages", id("ENG page 1"), &user1).await, 200);
    assert_eq!(read_as(&cloud, "pages", id("ENG page 1"), &engineer).await, 200);
    assert_eq!(read_as(&cloud, "pages", id("ENG page 1"), &outsider).await, 404);
    // Its descendants inherit the View restriction.
    let descendant = under(id("ENG page 1")).expect("page 1 has a descendant");
    assert!(!open(descendant));
    assert_eq!(read_as(&cloud, "pages", descendant, &engineer).await, 200);
    assert_eq!(read_as(&cloud, "pages", descendant, &outsider).await, 404);
    // Nobody it named exists in the cloud: the site's admins only, never open.
    for account in [&user1, &engineer, &outsider] {
        assert_eq!(read_as(&cloud, "pages", id("ENG page 2"), account).await, 404);
    }
    // A blog post only user 2 may read.
    assert_eq!(read_as(&cloud, "blogposts", id("ENG post 4"), &user2).await, 200);
    assert_eq!(read_as(&cloud, "blogposts", id("ENG post 4"), &outsider).await, 404);
    // A blog post with no restriction is open to all.
    assert!(open(id("ENG post 9")));
    assert_eq!(read_as(&cloud, "blogposts", id("ENG post 9"), &outsider).await, 200);

    // The restrictions as the cloud keeps them.
    // Groups are named by their ids; the answers carry their names too.
    let group = |name: &str| name.to_string();
    let names = |groups: &Vec<RestrictedGroup>| groups.iter().map(|g| g.name.clone().unwrap_or_default()).collect::<Vec<_>>();
    assert!(cloud.dest.restrictions(id("ENG page 1")).await.unwrap().iter().flat_map(|r| &r.restrictions.group).all(|g| g.id.starts_with("6c0f3a52-")));
    // (The migrating account stays in each, so later plans can still reach the page.)
    let migrating = RestrictedUser { account_id: ferry_host::staging::Access::with_token(crate::core_migration::TOKEN).admin_account_id() };
    let with_migrating = |mut users: Vec<RestrictedUser>| {
        users.push(migrating.clone());
        users.sort();
        users
    };
    let page1 = cloud.dest.restrictions(id("ENG page 1")).await.unwrap();
    let read = page1.iter().find(|r| r.operation == "read").unwrap();
    assert_eq!(read.restrictions.user, with_migrating(vec![RestrictedUser { account_id: user1.clone() }]));
    assert_eq!(names(&read.restrictions.group), vec![group("engineering")]);
    let update = page1.iter().find(|r| r.operation == "update").unwrap();
    assert_eq!(update.restrictions.user, with_migrating(vec![RestrictedUser { account_id: user1.clone() }]));
    let page2 = cloud.dest.restrictions(id("ENG page 2")).await.unwrap();
    assert_eq!(page2.len(), 1);
    assert_eq!((page2[0].operation.as_str(), names(&page2[0].restrictions.group)), ("read", vec![group(SITE_ADMINS_GROUP)]));
    assert_eq!(page2[0].restrictions.user, vec![migrating.clone()]);
    let page0: Vec<ContentRestriction> = cloud.dest.restrictions(id("ENG page 0")).await.unwrap();
    assert_eq!(page0.len(), 1);
    assert_eq!((page0[0].operation.as_str(), names(&page0[0].restrictions.group)), ("update", vec![group("engineering")]));

    // What the restrictions lost is reported, and nothing else.
    let lost: Vec<(String, String, Option<String>)> =
        report.restriction_losses.iter().map(|l| (l.title.clone(), format!("{} {}", l.kind, l.subject), l.fallback.clone())).collect();
    assert_eq!(
        lost,
        vec![
            ("ENG page 0".to_string(), "edit group ghost-team".to_string(), None),
            ("ENG page 2".to_string(), "view user 8a7f808adeleted0".to_string(), Some(format!("group {SITE_ADMINS_GROUP}"))),
            ("ENG page 2".to_string(), "view group hr-private".to_string(), None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_page_is_never_visible_without_its_restrictions() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    // A reader with no rights polls every page as the migration runs.
    let seen_open = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (url, seen_open, done) = (cloud.site.url(), seen_open.clone(), done.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !done.load(Ordering::Relaxed) {
                let review =
                    |path: &str| http.get(format!("{url}/ferry/v1/review/{path}")).basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN)).send();
                let Ok(response) = review("spaces/ENG/content").await else { continue };
                let content: Value = response.json().await.unwrap_or_default();
                for c in content.as_array().into_iter().flatten() {
                    let title = c["title"].as_str().unwrap_or_default();
                    if ["ENG page 1", "ENG page 2", "ENG post 4"].contains(&title) {
                        let kind = if c["kind"] == "blogpost" { "blogposts" } else { "pages" };
                        let status = http
                            .get(format!("{url}/wiki/api/v2/{kind}/{}", c["id"]))
                            .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
                            .header("x-ferry-read-as", "0")
                            .send()
                            .await
                            .map(|r| r.status().as_u16());
                        if status.ok() == Some(200) {
                            seen_open.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
    };
    run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    done.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(!seen_open.load(Ordering::Relaxed), "a restricted page was readable by an outsider during the migration");
    // The site's own record: no page restricted now was ever open since it was created.
    for (title, c) in eng_content(&cloud).await {
        assert_eq!(c["opened_before_restricted"], false, "{title} was open before its restriction was set");
        if ["ENG page 1", "ENG page 2", "ENG post 4"].contains(&title.as_str()) {
            assert_eq!(c["read_restricted"], true, "{title}");
        }
    }
}

#[tokio::test]
async fn global_labels_of_pages_posts_and_attachments_migrate_and_personal_ones_do_not() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
    let labels = report.counts["labels"];
    assert!(labels.server > 0);
    // Labels of attachments whose file is missing cannot land; every other one does.
    let on_missing = report.failures.iter().filter(|x| x.kind == "labels").count() as u64;
    assert!(report.failures.iter().filter(|x| x.kind == "labels").all(|x| x.reason.ends_with("of content that did not migrate")));
    assert_eq!(labels.cloud + labels.failed, labels.server);
    assert_eq!(labels.failed, on_missing);

    let content = cloud.review("spaces/ENG/content").await;
    let by_title = |title: &str| content.as_array().unwrap().iter().find(|c| c["title"] == title).unwrap()["labels"].clone();
    assert_eq!(by_title("ENG page 0"), serde_json::json!(["archive-2024", "howto"]));
    assert_eq!(by_title("ENG page 3"), serde_json::json!(["howto"]));
    // Page 7 carries only a personal label on the server: none in the cloud.
    assert_eq!(by_title("ENG page 7"), serde_json::json!([]));
    let all: Vec<&Value> = content.as_array().unwrap().iter().collect();
    assert!(all.iter().any(|c| c["kind"] == "attachment" && c["labels"] == serde_json::json!(["diagram"])));
    assert!(all.iter().all(|c| !c["labels"].as_array().unwrap().iter().any(|l| l == "favourite")), "a personal label migrated");
}

/// A body's structure: every element with its attribute names, and every text, with the
/// values a migration rewrites (user keys, link targets, page ids) left out, and without
/// inline-comment markers (the server's are taken out; a site places its own).
/// A sample body as it migrates when user 3 has (or has not) a cloud account: a mention of
/// someone with no cloud account is written as text naming them (the sample's deleted user
/// has no username left).
pub(crate) fn named_in_text(body: &str, user3_has_account: bool) -> String {
    let deleted = body.replace("<ac:link><ri:user ri:userkey=\"8a7f808adeleted0\" /></ac:link>", "@former user");
    match user3_has_account {
        true => deleted,
        false => deleted.replace(&format!("<ac:link><ri:user ri:userkey=\"{}\" /></ac:link>", user_key(3)), "@user00003"),
    }
}

pub(crate) fn shape(body: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let body = ferry_storage_format::without_markers(body).unwrap_or_else(|_| body.to_string());
    let mut reader = quick_xml::Reader::from_str(&body);
    let mut out = Vec::new();
    let mut in_page_param = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => return out,
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let mut attrs: Vec<String> = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        let key = String::from_utf8_lossy(a.key.as_ref()).replace("ri:userkey", "ri:account-id");
                        match key.as_str() {
                            "ri:account-id" | "href" => key,
                            _ => format!("{key}={}", String::from_utf8_lossy(&a.value)),
                        }
                    })
                    .collect();
                attrs.sort();
                in_page_param = name == "ac:parameter" && attrs.iter().any(|a| a == "ac:name=pageId");
                out.push(format!("<{name} {}>", attrs.join(" ")));
            }
            Event::End(e) => {
                in_page_param = false;
                out.push(format!("</{}>", String::from_utf8_lossy(e.name().as_ref())));
            }
            Event::Text(_) if in_page_param => out.push("#page-id".into()),
            other => out.push(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_to_server_ids_are_rewritten_and_the_rest_of_every_body_is_unchanged() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await;
    let source = ferry_host::state::open_sqlite(std::path::Path::new(&f.source_url)).await.unwrap();
    let mapped: Vec<(String, String, String)> =
        sqlx::query("SELECT namespace, server_id, cloud_id FROM mappings WHERE namespace IN ('confluence:page', 'confluence:blogpost')")
            .fetch_all(f.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    let cloud_of: HashMap<i64, i64> = mapped.iter().map(|(_, s, c)| (s.parse().unwrap(), c.parse().unwrap())).collect();
    // User 3 has no valid email on the sample site, so no cloud account: Former User.
    let user3: Option<String> = sqlx::query("SELECT cloud_id FROM mappings WHERE namespace = 'identity:user' AND server_id = ?")
        .bind(format!("confluence.userkey/{}", user_key(3)))
        .fetch_optional(f.db.pool())
        .await
        .unwrap()
        .map(|r| r.get(0));
    let named_in_text = |body: &str| named_in_text(body, user3.is_some());
    // User 1 is migrated: a mention of them names their account.
    let user1 = account_of(&f, &user_key(1)).await;
    let malformed: Vec<i64> = report.unresolved_references.iter().filter(|u| u.reason.contains("not well-formed")).map(|u| u.content_id).collect();
    assert_eq!(malformed.len(), 1, "{:?}", report.unresolved_references);
    let (mut mentions, mut links, mut short, mut macros) = (0, 0, 0, 0);
    for (namespace, server, cloud_id) in &mapped {
        let server_body: String = sqlx::query("SELECT body FROM bodycontent WHERE contentid = ? AND bodytypeid = 2")
            .bind(server.parse::<i64>().unwrap())
            .fetch_one(&source)
            .await
            .unwrap()
            .get(0);
        let page = cloud.review(&format!("content/{cloud_id}")).await;
        assert_eq!(page["kind"], if namespace == "confluence:page" { "page" } else { "blogpost" });
        let cloud_body = page["body"].as_str().unwrap().to_string();
        if malformed.contains(&server.parse().unwrap()) {
            assert_eq!(cloud_body, server_body, "a body that cannot be read migrates unchanged");
            continue;
        }
        // Parser-level equality: the same elements, attributes and text; only ids differ.
        assert_eq!(shape(&cloud_body), shape(&named_in_text(&server_body)), "{server}");
        assert!(!cloud_body.contains("ri:userkey"), "{cloud_body}");
        if server_body.contains("ri:userkey") {
            mentions += 1;
            assert!(cloud_body.contains(&format!("ri:account-id=\"{user1}\"")), "{cloud_body}");
            match &user3 {
                Some(user3) => assert!(cloud_body.contains(&format!("ri:account-id=\"{user3}\"")), "{cloud_body}"),
                None => assert!(cloud_body.contains("@user00003") && cloud_body.contains("@former user"), "{cloud_body}"),
            }
            assert_eq!(cloud_body.matches("ri:account-id").count(), 1 + usize::from(user3.is_some()), "{cloud_body}");
        }
        for (at, _) in server_body.match_indices("pageId=") {
            let target: i64 = server_body[at + 7..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
            let expected = format!("{}/wiki/pages/viewpage.action?pageId={}", cloud.site.url(), cloud_of[&target]);
            assert!(cloud_body.contains(&expected), "{server}: {cloud_body}");
            links += 1;
        }
        for (at, _) in server_body.match_indices("/x/") {
            let code: String = server_body[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            let Some(target) = ferry_host::migrate::storage::short_link_id(&code).filter(|id| cloud_of.contains_key(id)) else { continue };
            let expected = format!("{}/wiki/pages/viewpage.action?pageId={}", cloud.site.url(), cloud_of[&target]);
            assert!(cloud_body.contains(&expected), "{server}: {cloud_body}");
            short += 1;
        }
        if let Some(at) = server_body.find("ac:name=\"pageId\">") {
            let target: i64 = server_body[at + 17..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
            assert!(cloud_body.contains(&format!("ac:name=\"pageId\">{}</ac:parameter>", cloud_of[&target])), "{cloud_body}");
            macros += 1;
        }
    }
    assert!(mentions > 0 && links > 0 && short > 0 && macros > 0, "{mentions} mentions, {links} links, {short} short links, {macros} macros");
    // Short links to pages that never existed stay as they are, and are reported.
    assert!(report.unresolved_references.iter().any(|u| u.reference.contains("/x/AbC0")), "{:?}", report.unresolved_references);
}

#[tokio::test]
async fn a_space_permission_names_a_user_a_group_or_the_user_anonymous_and_nothing_else() {
    use ferry_host::destination::api::{PermissionOperation, PermissionSubject, SpacePermission};
    let cloud = Cloud::start(Faults::default()).await;
    cloud.dest.create_space("PERM", "Permissions").await.unwrap();
    let read = || PermissionOperation { key: "read".into(), target: "space".into() };
    // Anonymous access as the API takes it, then a subject type it does not have.
    cloud.dest.add_space_permission("PERM", &SpacePermission { subject: PermissionSubject::anonymous(), operation: read() }).await.unwrap();
    let old_shape = SpacePermission { subject: PermissionSubject { kind: "anonymous".into(), identifier: String::new() }, operation: read() };
    let refused = cloud.dest.add_space_permission("PERM", &old_shape).await.unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    // The site's JSON message, as the error carries it: `subject type "anonymous" is not one of user, group`.
    assert!(refused.to_string().contains(r#"subject type \"anonymous\" is not one of user, group"#), "{refused}");
    let space = cloud.dest.get_space("PERM").await.unwrap().unwrap().id.unwrap();
    let listed = cloud.dest.space_permissions(space).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].principal.kind.as_str(), listed[0].principal.id.as_str()), ("user", "anonymous"));
    assert_eq!((listed[0].operation.key.as_str(), listed[0].operation.target_type.as_str()), ("read", "space"));
}
