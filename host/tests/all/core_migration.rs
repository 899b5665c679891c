//! The core migration's rules, each proved against a real staging site.

use std::sync::Once;
use std::time::Duration;

use ferry_host::destination::{Destination, RetryPolicy};
use ferry_host::migrate::report::PlanReport;
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::staging::{self, Faults, StagingSite, PRODUCT_ACCESS_GROUP};
use serde_json::Value;
use sqlx::Row;

use crate::support::Fixture;

pub const TOKEN: &str = "core-test-token";
pub const TOKEN_ENV: &str = "FERRY_CORE_TEST_TOKEN";
/// The staging directory's key is read from here.
pub const SCIM_KEY_ENV: &str = "FERRY_CORE_TEST_SCIM_KEY";
/// The variable holding the stand-in cloud apps' migration secret in the tests (not the
/// demo's, which an in-process demo sets to its own site's).
pub const APP_SECRET_ENV: &str = "FERRY_CORE_TEST_APP_SECRET";

/// A staging Cloud site for one test.
pub struct Cloud {
    _dir: tempfile::TempDir,
    pub site: StagingSite,
    pub dest: Destination,
}

/// A child `ferry` with the test site's secrets in its environment, as an admin exports
/// them (`$TOKEN_ENV`, `$SCIM_KEY_ENV`).
pub trait CloudSecrets {
    /// Set both variables.
    fn cloud_secrets(&mut self) -> &mut Self;
}

impl CloudSecrets for std::process::Command {
    fn cloud_secrets(&mut self) -> &mut Self {
        let access = staging::Access::with_token(TOKEN);
        self.env(TOKEN_ENV, TOKEN).env(SCIM_KEY_ENV, access.directory_key).env(APP_SECRET_ENV, access.app_secret)
    }
}

impl Cloud {
    pub async fn start(faults: Faults) -> Cloud {
        Cloud::start_with_journal(faults, None).await
    }

    /// [`Cloud::start`], the site journaling every request it answers into `journal`.
    pub async fn start_with_journal(faults: Faults, journal: Option<&std::path::Path>) -> Cloud {
        Cloud::start_with(faults, journal, Default::default()).await
    }

    /// [`Cloud::start`] with stand-in cloud apps that misbehave (`app_faults`).
    pub async fn start_with(
        faults: Faults,
        journal: Option<&std::path::Path>,
        app_faults: std::collections::BTreeMap<String, ferry_host::staging::apps::AppFault>,
    ) -> Cloud {
        static ENV: Once = Once::new();
        let access = staging::Access::with_token(TOKEN);
        ENV.call_once(|| {
            std::env::set_var(TOKEN_ENV, TOKEN);
            std::env::set_var(SCIM_KEY_ENV, &access.directory_key);
            std::env::set_var(APP_SECRET_ENV, &access.app_secret);
        });
        let dir = tempfile::tempdir().unwrap();
        let site = staging::start_with_journal(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access { app_faults, ..access.clone() }, faults, journal)
            .await
            .unwrap();
        let dest = ferry_host::demo::staging_client(&site, &access, 8).unwrap().with_retry(RetryPolicy {
            attempts: 30,
            base: Duration::from_millis(2),
            max: Duration::from_millis(50),
        });
        Cloud { _dir: dir, site, dest }
    }

    /// The site's own database (for a test that changes the cloud behind Ferry's back).
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.path().join("cloud.db")
    }

    /// The way to the site, as an admin connects it (secrets in `$TOKEN_ENV` and
    /// `$SCIM_KEY_ENV`).
    pub fn target(&self) -> ferry_host::cloud::Target {
        ferry_host::demo::staging_target(
            &self.site.url(),
            &staging::Access::with_token(TOKEN),
            &self.site.scim_url(),
            TOKEN_ENV,
            SCIM_KEY_ENV,
            Some(APP_SECRET_ENV),
        )
    }

    /// The command line's sign-in options for this site, the API token read from
    /// `$token_env` and the directory key from `$SCIM_KEY_ENV`.
    pub fn sign_in_args(&self, token_env: &str) -> Vec<String> {
        let args = ["--email", staging::DEFAULT_ADMIN_EMAIL, "--token-env", token_env, "--scim-url", &self.site.scim_url(), "--scim-token-env", SCIM_KEY_ENV];
        args.map(str::to_string).to_vec()
    }

    /// GET a review endpoint (again, while a site with injected faults answers 500).
    pub async fn review(&self, path: &str) -> Value {
        self.get(&format!("/ferry/v1/review/{path}")).await
    }

    /// GET a path of the site as JSON, retrying injected 500s; panics on another failure.
    pub async fn get(&self, path: &str) -> Value {
        for _ in 0..50 {
            let response = reqwest::Client::new()
                .get(format!("{}{path}", self.site.url()))
                .basic_auth(ferry_host::staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN))
                .send()
                .await
                .unwrap();
            if response.status() == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                continue;
            }
            assert!(response.status().is_success(), "GET {path}: {}", response.status());
            return response.json().await.unwrap();
        }
        panic!("GET {path} kept failing")
    }

    pub async fn user(&self, email: &str) -> Value {
        let users = self.review("users").await;
        users.as_array().unwrap().iter().find(|u| u["email"] == email).cloned().unwrap_or(Value::Null)
    }

    /// An account that exists before the migration, with or without product access.
    pub async fn existing_user(&self, email: &str, access: bool) {
        let user = self.dest.create_user(email, "Already in the cloud", true).await.unwrap();
        if access {
            let group = self.dest.find_group(PRODUCT_ACCESS_GROUP).await.unwrap().unwrap();
            self.dest.add_group_members(&group.id.unwrap(), &[user.id.unwrap()]).await.unwrap();
        }
    }
}

pub fn plan_for(f: &Fixture, cloud: &Cloud, users: UsersScope, spaces: SpacesScope, attachments_only: bool) -> Plan {
    Plan {
        users,
        spaces,
        attachments_only,
        apps: ferry_host::plan::AppsScope::None,
        ..Plan::new("test plan", &f.source_url, &f.site.join("attachments").display().to_string(), &cloud.target())
    }
}

pub async fn run_plan(f: &Fixture, cloud: &Cloud, plan: Plan) -> PlanReport {
    let plan = Plan::create(&f.db, plan).await.unwrap();
    Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap()
}

async fn full(f: &Fixture, cloud: &Cloud) -> PlanReport {
    run_plan(f, cloud, plan_for(f, cloud, UsersScope::All, SpacesScope::All, false)).await
}

#[tokio::test]
async fn disabled_server_user_is_migrated_active_without_product_access() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    full(&f, &cloud).await;
    // user00009 is disabled on the server.
    let user = cloud.user("user00009@example.com").await;
    assert_eq!((user["active"].as_bool(), user["product_access"].as_bool()), (Some(true), Some(false)), "{user}");
    let enabled = cloud.user("user00008@example.com").await;
    assert_eq!(enabled["product_access"], true);
}

#[tokio::test]
async fn an_existing_cloud_user_with_access_keeps_it_when_disabled_on_the_server() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    cloud.existing_user("user00019@example.com", true).await;
    let report = full(&f, &cloud).await;
    let user = cloud.user("user00019@example.com").await;
    assert_eq!(user["product_access"], true, "{user}");
    assert!(report.linked_users >= 1);
}

#[tokio::test]
async fn an_existing_cloud_user_without_access_is_granted_it_when_enabled_on_the_server() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    cloud.existing_user("user00001@example.com", false).await;
    full(&f, &cloud).await;
    assert_eq!(cloud.user("user00001@example.com").await["product_access"], true);
}

#[tokio::test]
async fn a_later_plan_links_users_by_email_instead_of_creating_them() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let first = full(&f, &cloud).await;
    let accounts = cloud.review("users").await.as_array().unwrap().len();
    let second = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::All, SpacesScope::None, false)).await;
    assert_eq!(cloud.review("users").await.as_array().unwrap().len(), accounts, "no account created twice");
    assert_eq!(second.counts["users"].cloud, first.counts["users"].cloud);
    assert_eq!(second.linked_users, second.counts["users"].cloud);
}

#[tokio::test]
async fn a_username_in_several_directories_is_the_first_directorys_user() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    // user00000 is in LDAP (first in order) and shadowed in another directory.
    assert_eq!(cloud.user("user00000@example.com").await["display_name"], "User 0");
    assert_eq!(cloud.user("shadow.user00000@old.example.com").await, Value::Null);
    assert!(report.shadowed_users.iter().any(|s| s.starts_with("user00000 ")));
}

#[tokio::test]
async fn memberships_are_the_union_over_directories_with_nested_groups_flattened() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    full(&f, &cloud).await;
    // user00000 is in `backend` (nested in `engineering`) and `confluence-administrators`
    // in its first directory, and in `marketing` as the shadowed copy of a later one.
    let groups = cloud.user("user00000@example.com").await["groups"].clone();
    for g in ["backend", "engineering", "confluence-administrators", "marketing"] {
        assert!(groups.as_array().unwrap().iter().any(|x| x == g), "{g} missing from {groups}");
    }
}

#[tokio::test]
async fn blocklisted_groups_are_skipped_and_their_members_still_migrate() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    assert_eq!(report.skipped_groups, ["site-admins"]);
    // The cloud site has its own site-admins group; the server's members are not added.
    let groups = cloud.review("groups").await;
    let admins = groups.as_array().unwrap().iter().find(|g| g["name"] == "site-admins").unwrap();
    assert_eq!(admins["members"], 0, "{admins}");
    assert_eq!(cloud.user("user00000@example.com").await["active"], true, "a site-admins member still migrates");
}

#[tokio::test]
async fn a_group_that_exists_in_the_cloud_is_merged_and_migrated_groups_await_review() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    cloud.dest.create_group("jira-users").await.unwrap();
    let report = full(&f, &cloud).await;
    assert!(report.merged_groups.contains(&"jira-users".to_string()));
    assert!(report.groups_awaiting_review.contains(&"engineering".to_string()));
    assert!(!report.groups_awaiting_review.contains(&"jira-users".to_string()));
    let groups = cloud.review("groups").await;
    let jira = groups.as_array().unwrap().iter().filter(|g| g["name"] == "jira-users").count();
    assert_eq!(jira, 1, "merged, not duplicated");
}

#[tokio::test]
async fn a_space_whose_key_exists_in_the_cloud_is_not_migrated_and_is_reported() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    cloud.dest.create_space("MKT", "Marketing (cloud)").await.unwrap();
    let report = full(&f, &cloud).await;
    let failure = report.failures.iter().find(|x| x.kind == "spaces").unwrap();
    assert_eq!(failure.server_id, "MKT");
    assert!(failure.reason.starts_with("space key MKT already exists in the cloud site"));
    let spaces = cloud.review("spaces").await;
    let mkt = spaces.as_array().unwrap().iter().find(|s| s["key"] == "MKT").unwrap();
    assert_eq!(mkt["content"], serde_json::json!({}), "nothing was added to the cloud's own MKT");
    assert_eq!(report.status, "incomplete");
}

#[tokio::test]
async fn drafts_trash_and_old_versions_are_not_migrated() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let content = cloud.review("spaces/ENG/content").await;
    let titles: Vec<&str> = content.as_array().unwrap().iter().filter_map(|c| c["title"].as_str()).collect();
    assert!(!titles.iter().any(|t| t.contains("draft") || t.contains("deleted") || t.ends_with("(v1)")), "{titles:?}");
    // Counts server vs cloud agree for current content.
    assert_eq!(report.counts["pages"].server, report.counts["pages"].cloud);
    // Comments that did not move are exactly the file comments on attachments whose file
    // is missing.
    let unmoved = crate::support::unmoved_file_comments(&report);
    assert_eq!(report.failures.iter().filter(|x| x.kind == "comments").count() as u64, unmoved);
    assert_eq!(report.counts["comments"].server, report.counts["comments"].cloud + unmoved);
}

#[tokio::test]
async fn file_comments_move_onto_their_attachments_cloud_copy() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let mut on_attachments = 0;
    let spaces = cloud.review("spaces").await;
    for space in spaces.as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()) {
        let content = cloud.review(&format!("spaces/{space}/content")).await;
        let items = content.as_array().unwrap();
        let attachments: std::collections::HashSet<i64> = items.iter().filter(|c| c["kind"] == "attachment").map(|c| c["id"].as_i64().unwrap()).collect();
        let file_comments: Vec<&Value> =
            items.iter().filter(|c| c["kind"] == "comment" && c["page_id"].as_i64().is_some_and(|p| attachments.contains(&p))).collect();
        // Replies sit on the same attachment as the comment they answer.
        for reply in file_comments.iter().filter(|c| !c["parent_id"].is_null()) {
            let parent = items.iter().find(|c| c["id"] == reply["parent_id"]).unwrap();
            assert_eq!(parent["page_id"], reply["page_id"]);
        }
        on_attachments += file_comments.len();
    }
    let missing: Vec<&ferry_host::migrate::report::Failure> = report.failures.iter().filter(|x| x.kind == "comments").collect();
    assert!(on_attachments > 0 && !missing.is_empty(), "{on_attachments} file comments moved, {} failed", missing.len());
    for failure in &missing {
        assert!(failure.reason.starts_with("a comment on attachment ") && failure.reason.ends_with("which did not migrate"), "{}", failure.reason);
    }
    let pool = ferry_host::state::open_sqlite(std::path::Path::new(&f.source_url)).await.unwrap();
    let on_server: i64 =
        sqlx::query("SELECT COUNT(*) FROM content c JOIN content a ON a.contentid = c.pageid AND a.contenttype = 'ATTACHMENT' WHERE c.contenttype = 'COMMENT'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(on_attachments as i64 + missing.len() as i64, on_server);
}

#[tokio::test]
async fn file_comments_a_destination_will_not_take_are_reported_with_that_reason() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults { no_file_comments: true, ..Faults::default() }).await);
    let report = full(&f, &cloud).await;
    let comments: Vec<_> = report.failures.iter().filter(|x| x.kind == "comments").collect();
    assert!(comments.iter().any(|x| x.reason.contains("the destination takes no comments on attachments")), "{comments:?}");
    assert!(comments.iter().all(|x| x.reason.starts_with("a comment on attachment ")), "{comments:?}");
    // Comments on pages are not affected.
    let content = cloud.review("spaces/ENG/content").await;
    assert!(content.as_array().unwrap().iter().any(|c| c["kind"] == "comment"));
}

#[tokio::test]
async fn the_page_tree_is_kept() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    full(&f, &cloud).await;
    let content = cloud.review("spaces/ENG/content").await;
    let pages: Vec<&Value> = content.as_array().unwrap().iter().filter(|c| c["kind"] == "page").collect();
    let ids: Vec<i64> = pages.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    let children = pages.iter().filter(|p| !p["parent_id"].is_null()).count();
    assert!(children > 0);
    assert!(pages.iter().all(|p| p["parent_id"].is_null() || ids.contains(&p["parent_id"].as_i64().unwrap())));
}

#[tokio::test]
async fn content_whose_author_is_not_migrated_goes_to_former_user() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let mut former = 0;
    for key in ["ENG", "MKT", "DOC", "~user00000"] {
        let content = cloud.review(&format!("spaces/{key}/content")).await;
        former += content.as_array().unwrap().iter().filter(|c| c["author"] == "Former User").count() as u64;
    }
    assert!(report.former_user > 0);
    assert_eq!(former, report.former_user);
}

#[tokio::test]
async fn a_permission_of_a_group_missing_in_the_cloud_is_dropped_and_reported() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let dropped = &report.dropped_permissions;
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!((dropped[0].space.as_str(), dropped[0].subject.as_str()), ("ENG", "group legacy-contractors"));
    let spaces = cloud.review("spaces").await;
    let eng = spaces.as_array().unwrap().iter().find(|s| s["key"] == "ENG").unwrap();
    let perms = eng["permissions"].as_array().unwrap();
    assert!(perms.iter().any(|p| p["type"] == "group" && p["identifier"] == "engineering" && p["key"] == "create" && p["target"] == "page"));
    assert!(perms.iter().any(|p| p["type"] == "user"));
    let mkt = spaces.as_array().unwrap().iter().find(|s| s["key"] == "MKT").unwrap();
    // Anonymous access is the API's user `anonymous`; all signed-in users, the product group.
    assert!(
        mkt["permissions"].as_array().unwrap().iter().any(|p| p["type"] == "user" && p["identifier"] == "anonymous" && p["key"] == "read"),
        "anonymous access migrates"
    );
    let everyone = |p: &serde_json::Value| p["type"] == "group" && p["identifier"] == "confluence-users" && p["key"] == "create" && p["target"] == "comment";
    assert!(
        spaces.as_array().unwrap().iter().any(|s| s["permissions"].as_array().unwrap().iter().any(everyone)),
        "all signed-in users' permission lands as the product group's: {spaces:#}"
    );
}

#[tokio::test]
async fn invalid_and_shared_emails_fail_with_their_reason() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let reasons: Vec<(&str, &str)> = report.failures.iter().filter(|x| x.kind == "users").map(|x| (x.server_id.as_str(), x.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [
            ("user00003", "email \"not-an-email\" is not a valid address: fix it on the server, then migrate this user in a new plan"),
            ("user00006", "shares email shared.mailbox@example.com with user00005: give each user their own address on the server"),
        ]
    );
}

#[tokio::test]
async fn a_missing_attachment_file_is_reported_and_the_plan_is_incomplete() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = full(&f, &cloud).await;
    let missing: Vec<_> = report.failures.iter().filter(|x| x.kind == "attachments").collect();
    assert!(!missing.is_empty());
    assert!(missing.iter().all(|m| m.reason.contains("is missing from the attachment folder")));
    assert_eq!(report.counts["attachments"].cloud + missing.len() as u64, report.counts["attachments"].server);
    assert_eq!(report.status, "incomplete");
    // Each is named as people know it: its file name and its space, not only its id.
    assert!(missing.iter().all(|m| m.title.as_deref().is_some_and(|t| !t.is_empty()) && m.space.is_some()), "{missing:?}");
}

#[tokio::test]
async fn related_users_migrate_with_name_and_email_only() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::Related, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    let users = cloud.review("users").await;
    let migrated: Vec<&Value> = users.as_array().unwrap().iter().collect();
    assert!(!migrated.is_empty() && (migrated.len() as u64) < 40);
    assert_eq!(report.counts["users"].cloud, migrated.len() as u64);
    assert!(migrated.iter().all(|u| u["product_access"] == false && u["groups"].as_array().unwrap().is_empty()));
    assert_eq!(report.counts["groups"].server, 0);
}

#[tokio::test]
async fn attachments_only_then_a_full_run_skips_migrated_attachments_adds_new_ones_and_drops_deleted_ones() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let ahead = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), true)).await;
    let uploaded = ahead.counts["attachments"].cloud;
    assert!(uploaded > 0);
    // The files wait on the space's holding page, private to the migrating account, each
    // under a name of its own; nothing else of the space moves yet.
    let held = cloud.review("spaces/ENG/content").await;
    let pages: Vec<&Value> = held.as_array().unwrap().iter().filter(|c| c["kind"] == "page" || c["kind"] == "blogpost").collect();
    assert_eq!(pages.len(), 1, "only the holding page: {pages:?}");
    assert_eq!(pages[0]["title"], "Ferry: files waiting for their pages");
    let holding = pages[0]["id"].as_i64().unwrap();
    let on_hold: Vec<&Value> = held.as_array().unwrap().iter().filter(|c| c["kind"] == "attachment").collect();
    assert_eq!(on_hold.len() as u64, uploaded);
    assert!(on_hold.iter().all(|a| a["page_id"] == holding), "{on_hold:?}");
    let restrictions = cloud.dest.restrictions(holding).await.unwrap();
    assert!(restrictions.iter().any(|r| r.operation == "read"), "the holding page is private: {restrictions:?}");
    // Since then: one attachment deleted on the server (the first, which has its file), one added.
    let source = f.source().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let (deleted, page): (i64, i64) = sqlx::query_as(
        "SELECT c.contentid, c.pageid FROM content c JOIN spaces s ON s.spaceid = c.spaceid WHERE s.spacekey = 'ENG' AND c.contenttype = 'ATTACHMENT' ORDER BY c.contentid LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE content SET content_status = 'deleted' WHERE contentid = ?").bind(deleted).execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO content (contentid, contenttype, title, version, content_status, pageid, spaceid) VALUES (900001, 'ATTACHMENT', 'new.txt', 1, 'current', ?, 1000)")
        .bind(page)
        .execute(&pool)
        .await
        .unwrap();
    let path = ferry_host::sample::attachment_path(&f.site.join("attachments"), Some(1000), page, 900001, 1);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"new file").unwrap();
    drop(source);
    let later = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    assert_eq!(later.dropped_attachments, 1, "the deleted file's upload is dropped");
    let content = cloud.review("spaces/ENG/content").await;
    let attachments: Vec<&Value> = content.as_array().unwrap().iter().filter(|c| c["kind"] == "attachment").collect();
    assert_eq!(attachments.len() as u64, later.counts["attachments"].cloud);
    assert_eq!(later.counts["attachments"].cloud, uploaded, "uploaded ahead - 1 deleted + 1 new");
    assert!(attachments.iter().any(|a| a["title"] == "new.txt"));
    // Each held file is on its own page under its own name, and the holding page is gone.
    assert!(content.as_array().unwrap().iter().all(|c| c["title"] != "Ferry: files waiting for their pages"));
    assert!(attachments.iter().all(|a| a["page_id"] != holding && !a["title"].as_str().unwrap().starts_with(char::is_numeric)), "{attachments:?}");
}

#[tokio::test]
async fn spaces_show_migrated_and_queued_from_the_mapping_record_and_saved_plans() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["MKT".into()]), false)).await.unwrap();
    let choices = ferry_host::plan::space_choices(&f.db, &f.source().await, &cloud.site.url()).await.unwrap();
    let status = |k: &str| choices.iter().find(|c| c.key == k).unwrap().status.clone();
    assert_eq!((status("ENG"), status("MKT"), status("DOC")), ("MIGRATED".into(), "QUEUED".into(), String::new()));
}

#[tokio::test]
async fn a_plan_runs_once() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::None, SpacesScope::None, false)).await.unwrap();
    Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap();
    let again = Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().run().await.unwrap_err();
    assert_eq!(again.to_string(), format!("plan {} is finished, not saved: plans run once; create a new plan (it links what already migrated)", plan.id));
}

#[tokio::test]
async fn a_body_over_the_size_bound_is_not_read_and_fails_its_page_or_comment_naming_the_size() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let current = "c.prevver IS NULL AND c.content_status = 'current'";
    let (page, title): (i64, String) = sqlx::query_as(&format!(
        "SELECT c.contentid, c.title FROM content c JOIN spaces s ON s.spaceid = c.spaceid WHERE s.spacekey = 'ENG' AND c.contenttype = 'PAGE' AND {current} \
         AND NOT EXISTS (SELECT 1 FROM content k WHERE k.parentid = c.contentid) ORDER BY c.contentid LIMIT 1"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    let comment: i64 = sqlx::query_scalar(&format!(
        "SELECT c.contentid FROM content c JOIN content p ON p.contentid = c.pageid JOIN spaces s ON s.spaceid = p.spaceid \
         WHERE s.spacekey = 'ENG' AND c.contenttype = 'COMMENT' AND {current} AND p.contentid <> ? AND c.parentcommentid IS NULL \
         AND NOT EXISTS (SELECT 1 FROM content r WHERE r.parentcommentid = c.contentid) ORDER BY c.contentid LIMIT 1"
    ))
    .bind(page)
    .fetch_one(&pool)
    .await
    .unwrap();
    // Two characters per zero byte: 2 more than the bound.
    let over = ferry_host::source::MAX_BODY_CHARS + 2;
    for id in [page, comment] {
        let changed = sqlx::query("UPDATE bodycontent SET body = hex(zeroblob(?)) WHERE contentid = ? AND bodytypeid = 2")
            .bind(over / 2)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(changed, 1, "content {id} has one body");
    }
    pool.close().await;

    let report = run_plan(&f, &cloud, plan_for(&f, &cloud, UsersScope::None, SpacesScope::Keys(vec!["ENG".into()]), false)).await;
    let reason = |kind: &str, id: i64| report.failures.iter().find(|x| x.kind == kind && x.server_id == id.to_string()).map(|x| x.reason.clone());
    for (kind, id) in [("pages", page), ("comments", comment)] {
        let why = reason(kind, id).unwrap_or_else(|| panic!("{kind} {id} failed: {:?}", report.failures));
        assert!(why.contains(&format!("{over} characters")) && why.contains("shorten or split it on the server"), "{why}");
    }
    assert_eq!(report.counts["pages"].failed, 1, "{:?}", report.failures);
    assert_eq!(report.counts["pages"].cloud, report.counts["pages"].server - 1);
    let oversized: Vec<&str> = report.failures.iter().filter(|x| x.reason.contains(" characters, more than the ")).map(|x| x.server_id.as_str()).collect();
    assert_eq!(oversized, [page.to_string(), comment.to_string()], "only the two bodies over the bound");
    let content = cloud.review("spaces/ENG/content").await;
    let titles: Vec<&str> = content.as_array().unwrap().iter().filter_map(|c| c["title"].as_str()).collect();
    assert!(!titles.contains(&title.as_str()), "{title} is not in the cloud");
    assert!(titles.len() > 1, "the rest of the space is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_shows_every_step_from_the_start_in_run_order_and_ends_at_its_totals() {
    use ferry_host::migrate::standing;
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults { latency: std::time::Duration::from_millis(3), ..Faults::default() }).await);
    let plan = Plan::create(&f.db, plan_for(&f, &cloud, UsersScope::All, SpacesScope::All, false)).await.unwrap();
    let run = {
        let (db, plan, dest) = (f.db.clone(), plan.clone(), cloud.dest.clone());
        tokio::spawn(async move { Migrator::new(db, plan, Progress::hidden()).await.unwrap().with_destination(dest).run().await.unwrap() })
    };
    // The first record already names every step, in the order they run, with its total.
    let order = ["users", "groups", "spaces", "pages", "comments", "attachments"];
    let first = loop {
        let recorded = standing::recorded_progress(&f.db, &plan.id).await.unwrap();
        if !recorded.is_empty() {
            break recorded;
        }
        assert!(!run.is_finished(), "the run ended before it recorded any progress");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let names: Vec<&str> = standing::in_run_order(&first).into_iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, order, "{first:?}");
    for step in order {
        assert!(first[step].total > 0, "{step} has its total before it runs: {first:?}");
    }
    let report = run.await.unwrap();
    let last = standing::recorded_progress(&f.db, &plan.id).await.unwrap();
    for step in order {
        let p = &last[step];
        assert!(p.done == p.total && p.finished && p.started_at.is_some(), "{step} ended at its total: {p:?}");
    }
    assert_eq!(last["pages"].total, report.counts["pages"].server + report.counts["blogposts"].server);
    assert_eq!(last["comments"].total, report.counts["comments"].server);
    assert_eq!(last["attachments"].total, report.counts["attachments"].server);
    // The listing says how long it took, and it is 100 % through.
    let listed = standing::listing(&f.db).await.unwrap().into_iter().find(|l| l.plan.id == plan.id).unwrap();
    assert_eq!(listed.overall.percent, 100, "{:?}", listed.overall);
    assert_eq!(listed.overall.remaining_secs, None);
    assert_eq!(listed.failures.count, report.failures.len() as u64);
}
