//! A site whose organisation has no user-provisioning directory: users are linked to the
//! accounts it has (its user export, then the Jira user search), never created; groups
//! and memberships go through the site's own group API.

use ferry_host::migrate::checks::CheckResult;
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{Plan, SpacesScope, UsersScope};
use ferry_host::staging::{Faults, PRODUCT_ACCESS_GROUP};

use crate::core_migration::{plan_for, Cloud};
use crate::jira::JiraFixture;
use crate::support::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_directory_users_are_linked_to_the_accounts_the_organisation_has_and_none_is_created() {
    let (f, cloud) = (Fixture::new().await, Cloud::start(Faults::default()).await);
    // Three accounts the organisation has before the migration (made here through the
    // staging site's directory: set-up only; the plan has no directory).
    let mut accounts = Vec::new();
    for n in [2, 4, 7] {
        let user = cloud.dest.create_user(&format!("user{n:05}@example.com"), "Already in the cloud", true).await.unwrap();
        accounts.push(user.account_id().unwrap().to_string());
    }
    // The organisation's user export lists two of them (one email in capitals); the third
    // is found by the Jira user search.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("export-users.csv");
    std::fs::write(
        &csv,
        format!(
            "User id,User name,email,User status,Added to org\n{},Ada,user00002@example.com,Active,2024-01-01\n{},Bob,USER00004@example.com,Active,\n",
            accounts[0], accounts[1]
        ),
    )
    .unwrap();
    let exported = ferry_host::migrate::accounts::read_csv(&csv).unwrap();
    ferry_host::migrate::accounts::import(&f.db, &cloud.site.url(), &exported).await.unwrap();
    let users_before = cloud.review("users").await.as_array().unwrap().len();

    let plan = Plan { scim_url: None, scim_token_env: None, ..plan_for(&f, &cloud, UsersScope::All, SpacesScope::Keys(vec!["ENG".into()]), false) };
    let plan = Plan::create(&f.db, plan).await.unwrap();
    // Before: the check names everyone else, and says what becomes of their content.
    let checks = Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().checks().await.unwrap();
    let no_account = checks.iter().find(|c| c.code == "users.no-account").unwrap();
    assert_eq!(no_account.result, CheckResult::Warning);
    assert!(no_account.message.contains("authored by the migrating account"), "{}", no_account.message);
    for n in [2, 4, 7] {
        assert!(!no_account.entities.iter().any(|e| e.contains(&format!("user{n:05}@"))), "user{n:05} has an account: {:?}", no_account.entities);
    }
    assert!(no_account.entities.iter().any(|e| e.contains("user00008@example.com")), "{:?}", no_account.entities);

    let report = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().run().await.unwrap();
    assert_eq!(report.linked_users, 3, "{:?}", report.failures);
    assert_eq!(report.users_without_account.len() as u64, report.counts["users"].cloud - 3);
    assert_eq!(report.users_without_account.len(), no_account.count, "the run finds what the check said");
    assert_eq!(cloud.review("users").await.as_array().unwrap().len(), users_before, "no account is created");
    // Product access through the site's group: the active linked users have it.
    let product = cloud.dest.site_group(PRODUCT_ACCESS_GROUP).await.unwrap().unwrap();
    let with_access = cloud.dest.site_group_members(&product.id).await.unwrap();
    assert!(accounts.iter().all(|a| with_access.contains(a)), "{with_access:?}");
    // Groups are the site's own, and their members are the linked accounts only.
    assert!(report.counts["groups"].cloud > 0);
    let mut members = 0;
    for name in &report.groups_awaiting_review {
        let group = cloud.dest.site_group(name).await.unwrap().unwrap_or_else(|| panic!("group {name} is on the site"));
        for member in cloud.dest.site_group_members(&group.id).await.unwrap() {
            assert!(accounts.contains(&member), "{member} in {name} is not a linked account");
            members += 1;
        }
    }
    assert!(members > 0, "memberships of linked users migrate");
    // What people with no account wrote is the migrating account's; its origin names them.
    assert!(report.former_user > 0 && report.counts["pages"].cloud > 0);
}

/// A Jira plan on a site with no directory manages groups through Jira's group API (a
/// Jira-only site has no Confluence API): never a `/wiki` request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_directory_a_jira_plan_keeps_groups_through_jiras_own_group_api() {
    let f = JiraFixture::new(None).await;
    let journal = f.dir.path().join("requests.jsonl");
    let cloud = Cloud::start_with_journal(Faults::default(), Some(&journal)).await;
    ferry_host::sample::jira::seed_cloud(&cloud.dest).await.unwrap();
    // Two agents have accounts before the migration (set-up through the site's directory).
    let mut accounts = Vec::new();
    for email in ["agent01@example.com", "agent02@example.com"] {
        accounts.push(cloud.dest.create_user(email, "Already in the cloud", true).await.unwrap().account_id().unwrap().to_string());
    }
    let setup = std::fs::read_to_string(&journal).unwrap().lines().count();
    let plan = Plan { scim_url: None, scim_token_env: None, ..f.plan(&cloud, UsersScope::All, UsersScope::Related, SpacesScope::All) };
    let plan = Plan::create(&f.db, plan).await.unwrap();
    let report = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().run().await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.linked_users, 2, "{:?}", report.failures);
    assert!(report.counts["groups"].cloud > 0, "{:?}", report.counts);
    assert_eq!(report.counts["requests"].cloud, f.summary.requests, "{:?}", report.failures);

    let sent: Vec<serde_json::Value> = std::fs::read_to_string(&journal).unwrap().lines().skip(setup).map(|l| serde_json::from_str(l).unwrap()).collect();
    let paths: Vec<&str> = sent.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(!paths.iter().any(|p| p.starts_with("/wiki/") || p.contains("/scim/")), "{paths:?}");
    assert!(paths.contains(&"/rest/api/3/group") && paths.contains(&"/rest/api/3/group/user"), "{paths:?}");
    // Each group the plan made is the site's, and its members are the linked accounts.
    let jira_groups = cloud.dest.clone().with_group_api(ferry_host::destination::GroupApi::Jira);
    let mut members = 0;
    for name in &report.groups_awaiting_review {
        let group = jira_groups.site_group(name).await.unwrap().unwrap_or_else(|| panic!("group {name} is on the site"));
        for member in jira_groups.site_group_members(&group.id).await.unwrap() {
            assert!(accounts.contains(&member), "{member} in {name} is not a linked account");
            members += 1;
        }
    }
    assert!(members > 0, "memberships of linked agents migrate");
}
