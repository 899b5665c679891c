//! Jira Service Management customer migration: each rule proved on the sample Jira site
//! (SQLite, and PostgreSQL with a role that cannot read credentials) against a real
//! staging site.

use std::collections::{BTreeMap, BTreeSet};

use ferry_host::destination::api::{Account, NewProject, NewRequest, Notification, Origin, RequestFields, ACCOUNT_CUSTOMER, ACCOUNT_FULL, ORIGIN_PROPERTY};
use ferry_host::destination::JiraEntity;
use ferry_host::migrate::report::PlanReport;
use ferry_host::migrate::{Migrator, Progress};
use ferry_host::plan::{Plan, PlanRefused, SpacesScope, UsersScope};
use ferry_host::sample::jira::{self, JiraOptions, JiraSummary};
use ferry_host::source::{Product, Source};
use ferry_host::staging::Faults;
use ferry_host::state::StateDb;
use sqlx::Row;

use crate::core_migration::{Cloud, CloudSecrets, TOKEN_ENV};
use crate::postgres::PgCluster;

/// A FERRY_HOME and a sample Jira site, private to one test.
pub struct JiraFixture {
    pub dir: tempfile::TempDir,
    pub db: StateDb,
    pub source_url: String,
    pub summary: JiraSummary,
}

impl JiraFixture {
    pub async fn new(postgres: Option<&str>) -> JiraFixture {
        JiraFixture::with(postgres, &JiraOptions::default()).await
    }

    pub async fn with(postgres: Option<&str>, options: &JiraOptions) -> JiraFixture {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("home")).await.unwrap();
        let site = dir.path().join("jira");
        let summary = jira::write_jira_site(&site, postgres, options).await.unwrap();
        let source_url = postgres.map(str::to_string).unwrap_or_else(|| site.join("jira.db").display().to_string());
        JiraFixture { dir, db, source_url, summary }
    }

    /// Another FERRY_HOME (an admin on another machine) for the same site.
    pub async fn fresh_home(&self, name: &str) -> StateDb {
        StateDb::open(&self.dir.path().join(name)).await.unwrap()
    }

    pub fn plan(&self, cloud: &Cloud, users: UsersScope, customers: UsersScope, projects: SpacesScope) -> Plan {
        Plan {
            product: Product::Jira,
            users,
            customers,
            projects,
            spaces: SpacesScope::None,
            apps: ferry_host::plan::AppsScope::None,
            product_group: ferry_host::staging::JSM_ACCESS_GROUP.into(),
            ..Plan::new("jira plan", &self.source_url, "", &cloud.target())
        }
    }

    pub async fn run(&self, db: &StateDb, cloud: &Cloud, plan: Plan) -> PlanReport {
        let plan = Plan::create(db, plan).await.unwrap();
        Migrator::new(db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).run().await.unwrap()
    }

    /// `ferry plan run` of a saved plan in its own process (to be killed), quiet.
    pub fn spawn_run(&self, plan: &Plan) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["plan", "run", &plan.id, "--json"])
            .env("FERRY_HOME", self.dir.path().join("home"))
            .cloud_secrets()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Every user key's email as the server resolves it (active directories, first in
    /// `directory_position` order), read here with plain SQL.
    pub async fn emails_by_key(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if self.source_url.starts_with("mysql://") {
            let sql = "SELECT CAST(a.user_key AS CHAR), CAST(u.email_address AS CHAR) FROM app_user a \
                       JOIN cwd_user u ON u.lower_user_name = a.lower_user_name JOIN cwd_directory d ON d.id = u.directory_id \
                       WHERE d.active = 1 ORDER BY d.directory_position DESC";
            let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&self.source_url).await.unwrap();
            for (key, email) in sqlx::query_as::<_, (String, String)>(sql).fetch_all(&mut conn).await.unwrap() {
                out.insert(key, email.to_lowercase());
            }
            return out;
        }
        let source = Source::connect(&self.source_url).await.unwrap();
        let sql = "SELECT a.user_key, u.email_address, CAST(d.directory_position AS BIGINT) FROM app_user a \
                   JOIN cwd_user u ON u.lower_user_name = a.lower_user_name JOIN cwd_directory d ON d.id = u.directory_id \
                   WHERE d.active = 1 ORDER BY 3 DESC";
        for r in sqlx::query(sql).fetch_all(source.any_pool().unwrap()).await.unwrap() {
            out.insert(r.get::<String, _>(0), r.get::<String, _>(1).to_lowercase());
        }
        out
    }
}

pub(crate) fn full_plan(f: &JiraFixture, cloud: &Cloud) -> Plan {
    f.plan(cloud, UsersScope::All, UsersScope::Related, SpacesScope::All)
}

/// What an account is, for comparisons: its email, or "Former customer".
fn who(a: &Account) -> String {
    match &a.email_address {
        Some(e) => e.to_lowercase(),
        None => format!("{} ({})", a.display_name, a.account_type),
    }
}

/// Who stands in for a person with no cloud account: the migrating account (its email).
const FORMER: &str = ferry_host::staging::DEFAULT_ADMIN_EMAIL;

/// Every request of the sample's service projects in the cloud equals the server's: a new
/// request each, whose `ferry-origin` names its server key, date, status and reporter;
/// summary, description, status name (or the workflow's first status, reported, where
/// the cloud workflow has none of that name), reporter, participants, and each comment's
/// body and visibility, its origin naming its author and date. Returns server key → cloud key.
async fn assert_requests_match(f: &JiraFixture, cloud: &Cloud, report: &PlanReport) -> BTreeMap<String, String> {
    let source = Source::connect(&f.source_url).await.unwrap();
    let emails = f.emails_by_key().await;
    let gone = [jira::DELETED_CUSTOMER_KEY, jira::INACTIVE_DIRECTORY_KEY];
    let person = |key: &Option<String>| -> String {
        let key = key.clone().unwrap_or_default();
        if gone.contains(&key.as_str()) {
            FORMER.to_string()
        } else {
            emails.get(&key).cloned().unwrap_or_else(|| panic!("sample key {key} has an email"))
        }
    };
    let desks = cloud.dest.service_desks().await.unwrap();
    assert_eq!(
        desks.iter().map(|d| d.project_key.as_str()).collect::<BTreeSet<_>>(),
        BTreeSet::from(jira::SERVICE_PROJECTS),
        "the software project is not migrated"
    );
    let not_set: BTreeMap<&str, &str> = report.statuses_not_set.iter().map(|s| (s.request.as_str(), s.left_at.as_str())).collect();
    let mut keys = BTreeMap::new();
    for project in source.projects().await.unwrap().into_iter().filter(|p| p.is_service_project()) {
        let desk = desks.iter().find(|d| d.project_key == project.key).unwrap();
        let in_cloud = cloud.dest.requests(&desk.id).await.unwrap();
        let server = source.requests(&project, None, 10_000).await.unwrap();
        assert_eq!(in_cloud.len(), server.len(), "{}: every request once", project.key);
        let mut by_server_key = BTreeMap::new();
        for c in &in_cloud {
            let origin: Origin = cloud
                .dest
                .entity_property(JiraEntity::Issue, &c.issue_key, ORIGIN_PROPERTY)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{} has no origin", c.issue_key));
            assert!(by_server_key.insert(origin.key.clone().unwrap(), (c, origin)).is_none(), "two requests for one server request");
        }
        for s in server {
            let (c, origin) = by_server_key.get(&s.key).unwrap_or_else(|| panic!("{} is in the cloud", s.key));
            if let Some(key) = report.request_keys.get(&s.key) {
                assert_eq!(key, &c.issue_key, "{}: the report's key map", s.key);
            }
            keys.insert(s.key.clone(), c.issue_key.clone());
            assert_eq!(c.request_field_values.summary, s.summary);
            assert_eq!(c.request_field_values.description, s.description);
            match not_set.get(s.key.as_str()) {
                None => assert_eq!(c.current_status.status, s.status, "{}: the status name", s.key),
                Some(left) => assert_eq!((c.current_status.status.as_str(), s.status.as_str()), (*left, "Open"), "{}: only Open has no transition", s.key),
            }
            assert_eq!(origin.status.as_deref(), Some(s.status.as_str()));
            assert!(!s.status.chars().all(|ch| ch.is_ascii_digit()), "{}: the name, not the id {}", s.key, s.status);
            assert_eq!(origin.created, s.created, "{}: the server's date, in its origin", s.key);
            assert_eq!(who(&c.reporter), person(&s.reporter), "{} reporter", s.key);
            let participants: Vec<String> = c.request_participants.iter().map(who).collect();
            // A participant with no cloud account is left out.
            let mut expected: Vec<String> = Vec::new();
            for p in &s.participants {
                let p = person(&Some(p.clone()));
                if p != FORMER && !expected.contains(&p) {
                    expected.push(p);
                }
            }
            assert_eq!(participants, expected, "{} participants", s.key);
            let comments = cloud.dest.request_comments(&c.issue_key).await.unwrap();
            assert_eq!(comments.len(), s.comments.len(), "{} comments", s.key);
            for (cc, sc) in comments.iter().zip(&s.comments) {
                assert_eq!(cc.body, sc.body);
                assert_eq!(cc.public, sc.public, "{} comment {} visibility", s.key, sc.id);
                let origin: Origin = cloud.dest.entity_property(JiraEntity::Comment, &cc.id, ORIGIN_PROPERTY).await.unwrap().unwrap();
                assert_eq!(origin.server_id, sc.id.to_string());
                let author = match origin.creator.as_ref().and_then(|p| p.account_id.as_deref()) {
                    Some(account) => who(&cloud.dest.account(account).await.unwrap()),
                    None => FORMER.to_string(),
                };
                assert_eq!(author, person(&sc.author), "{} comment {} author", s.key, sc.id);
                assert_eq!(origin.created, sc.created);
            }
        }
    }
    assert_eq!(keys.len() as u64, f.summary.requests);
    keys
}

/// The accounts of the cloud with `email`, by type.
async fn types_of(cloud: &Cloud, email: &str) -> Vec<String> {
    let mut types: Vec<String> = cloud.dest.accounts_by_email(email).await.unwrap().into_iter().map(|a| a.account_type).collect();
    types.sort();
    types
}

async fn full_migration(postgres: Option<&str>) -> (JiraFixture, Cloud, PlanReport) {
    let f = JiraFixture::new(postgres).await;
    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let report = f.run(&f.db, &cloud, full_plan(&f, &cloud)).await;
    (f, cloud, report)
}

pub(crate) async fn assert_full_migration(f: &JiraFixture, cloud: &Cloud, report: &PlanReport) {
    assert_eq!(report.error, None);
    assert_eq!(report.status, "finished", "{:?}", report.failures);
    let count = |k: &str| (report.counts[k].server, report.counts[k].cloud, report.counts[k].failed);
    assert_eq!(count("agents"), (f.summary.agents, f.summary.agents, 0));
    assert_eq!(count("customers"), (f.summary.related_customers, f.summary.related_customers, 0));
    assert_eq!(count("organizations"), (2, 2, 0), "Acme and Globex are on the migrated service desks; Initech is on none");
    assert_eq!(count("requests"), (f.summary.requests, f.summary.requests, 0));
    assert_eq!(count("comments"), (f.summary.comments, f.summary.comments, 0));
    assert!(report.counts["groups"].cloud >= 4, "{:?}", report.counts["groups"]);
    // The software project is named as not migrated, with why, not skipped in silence.
    let left: Vec<(&str, u64)> = report.projects_not_migrated.iter().map(|p| (p.key.as_str(), p.issues)).collect();
    assert_eq!(left, [(jira::SOFTWARE_PROJECT, f.summary.software_issues)], "{:?}", report.projects_not_migrated);
    assert!(report.projects_not_migrated[0].reason.starts_with("a software project: Ferry migrates"), "{:?}", report.projects_not_migrated);
    assert_requests_match(f, cloud, report).await;
    assert_eq!(report.request_keys.len() as u64, f.summary.requests, "the key map names every request");
    assert!(report.statuses_not_set.iter().all(|s| s.server_status == "Open" && s.left_at == "Waiting for support"), "{:?}", report.statuses_not_set);

    // Customers are customer accounts; agents are full accounts.
    assert_eq!(types_of(cloud, &jira::customer_email(8)).await, [ACCOUNT_CUSTOMER]);
    assert_eq!(types_of(cloud, "agent04@example.com").await, [ACCOUNT_FULL]);
    assert_eq!(types_of(cloud, "crowd.helper@example.com").await, [ACCOUNT_FULL], "licensed through a same-name group of another directory");
    assert_eq!(types_of(cloud, "agent03@example.com").await, [ACCOUNT_FULL], "licensed through a nested group");
    assert_eq!(types_of(cloud, "old.customer0005@example.com").await, Vec::<String>::new(), "the shadowed copy is ignored");
    assert_eq!(types_of(cloud, &jira::customer_email(5)).await, [ACCOUNT_CUSTOMER]);
    // A customer related to nothing is not migrated by `related`.
    assert_eq!(types_of(cloud, &jira::customer_email(23)).await, Vec::<String>::new());

    // No notification, ever.
    assert_eq!(cloud.dest.notifications().await.unwrap(), []);
}

#[tokio::test]
async fn customers_agents_organizations_and_requests_migrate_with_every_reference() {
    let (f, cloud, report) = full_migration(None).await;
    assert_full_migration(&f, &cloud, &report).await;
}

#[tokio::test]
async fn a_customer_whose_email_has_a_cloud_account_is_linked_not_created() {
    let (_f, cloud, report) = full_migration(None).await;
    // Already a cloud customer: that account, no second one.
    assert_eq!(types_of(&cloud, jira::KNOWN_CUSTOMER_EMAIL).await, [ACCOUNT_CUSTOMER]);
    let known = &cloud.dest.accounts_by_email(jira::KNOWN_CUSTOMER_EMAIL).await.unwrap()[0];
    assert_eq!(known.display_name, "Known Customer (cloud)", "linked, not replaced");
    // A portal-only user with a full cloud account stays full: linked, counted.
    assert_eq!(types_of(&cloud, jira::FULL_ACCOUNT_EMAIL).await, [ACCOUNT_FULL]);
    assert_eq!(report.customers_with_full_accounts, 1);
    // Their requests point to those accounts.
    let desks = cloud.dest.service_desks().await.unwrap();
    let mut reporters = BTreeSet::new();
    for d in &desks {
        for r in cloud.dest.requests(&d.id).await.unwrap() {
            // Service Management's answers have no account type; the platform API's do.
            let account = cloud.dest.account(&r.reporter.account_id).await.unwrap();
            reporters.insert((who(&r.reporter), account.account_type));
        }
    }
    assert!(reporters.contains(&(jira::KNOWN_CUSTOMER_EMAIL.to_string(), ACCOUNT_CUSTOMER.to_string())), "{reporters:?}");
    assert!(reporters.contains(&(jira::FULL_ACCOUNT_EMAIL.to_string(), ACCOUNT_FULL.to_string())), "{reporters:?}");
}

#[tokio::test]
async fn a_licensed_user_with_a_cloud_customers_email_ends_with_two_accounts_reported_by_name() {
    let (_f, cloud, report) = full_migration(None).await;
    assert_eq!(types_of(&cloud, jira::TWO_ACCOUNTS_EMAIL).await, [ACCOUNT_FULL, ACCOUNT_CUSTOMER]);
    assert_eq!(report.two_accounts.len(), 1, "{:?}", report.two_accounts);
    let case = &report.two_accounts[0];
    assert_eq!((case.username.as_str(), case.display_name.as_str(), case.email.as_str()), ("dana.dual", jira::TWO_ACCOUNTS_NAME, jira::TWO_ACCOUNTS_EMAIL));
    let full = cloud.dest.account(&case.full_account).await.unwrap();
    assert_eq!(full.account_type, ACCOUNT_FULL);
    let customer = cloud.dest.account(&case.customer_account).await.unwrap();
    assert_eq!(customer.account_type, ACCOUNT_CUSTOMER);
}

#[tokio::test]
async fn deleted_customers_and_customers_of_inactive_directories_become_one_former_customer() {
    let (_f, cloud, report) = full_migration(None).await;
    let former: BTreeMap<&str, _> = report.former_customer.iter().map(|f| (f.user_key.as_str(), f)).collect();
    assert_eq!(former.keys().copied().collect::<Vec<_>>(), [jira::INACTIVE_DIRECTORY_KEY, jira::DELETED_CUSTOMER_KEY]);
    let deleted = former[jira::DELETED_CUSTOMER_KEY];
    assert!(deleted.reason.starts_with("deleted"), "{}", deleted.reason);
    assert_eq!(deleted.references, 3);
    assert!(deleted.referenced_in.contains(&"SD-2 reporter".to_string()), "{:?}", deleted.referenced_in);
    assert!(deleted.referenced_in.contains(&"SD-3 participant".to_string()), "{:?}", deleted.referenced_in);
    assert!(deleted.referenced_in.iter().any(|r| r.starts_with("HR-2 comment ")), "{:?}", deleted.referenced_in);
    let inactive = former[jira::INACTIVE_DIRECTORY_KEY];
    assert!(inactive.reason.contains("inactive directory"), "{}", inactive.reason);
    assert_eq!(inactive.referenced_in, ["HR-2 reporter"]);
    assert_eq!(types_of(&cloud, "retired@example.net").await, Vec::<String>::new(), "no account for a user of an inactive directory");

    // No placeholder account: the migrating account stays reporter, and the origin names
    // the person, with no cloud account.
    let migrating = ferry_host::staging::Access::with_token(crate::core_migration::TOKEN).admin_account_id();
    for key in ["SD-2", "HR-2"] {
        let cloud_key = &report.request_keys[key];
        let request = cloud.dest.request(cloud_key).await.unwrap();
        assert_eq!(request.reporter.account_id, migrating, "{key}");
        let origin: Origin = cloud.dest.entity_property(JiraEntity::Issue, cloud_key, ORIGIN_PROPERTY).await.unwrap().unwrap();
        let creator = origin.creator.unwrap();
        assert_eq!(creator.account_id, None, "{key}: a former customer");
        assert!([jira::DELETED_CUSTOMER_KEY, jira::INACTIVE_DIRECTORY_KEY].contains(&creator.user_key.as_str()), "{key}: {creator:?}");
    }
}

#[tokio::test]
async fn the_site_records_notifications_and_a_migration_causes_none() {
    let cloud = Cloud::start(Faults::default()).await;
    // The site does notify: a request raised on a customer's behalf tells them.
    let loud = cloud.dest.create_customer("loud@example.net", "Loud").await.unwrap();
    let project = NewProject { key: "LOUD".into(), name: "Loud desk".into(), project_type_key: "service_desk".into(), lead_account_id: None };
    cloud.dest.create_project(&project).await.unwrap();
    let desk = cloud.dest.service_desks().await.unwrap().into_iter().find(|d| d.project_key == "LOUD").unwrap().id;
    let request_type = cloud.dest.request_types(&desk).await.unwrap()[0].id.clone();
    let raised = NewRequest {
        service_desk_id: desk,
        request_type_id: request_type,
        request_field_values: RequestFields { summary: "Help".into(), description: None },
        raise_on_behalf_of: Some(loud.account_id.clone()),
        request_participants: Vec::new(),
    };
    cloud.dest.create_request(&raised).await.unwrap();
    let notified = cloud.dest.notifications().await.unwrap();
    assert_eq!(notified, [Notification { event: "request.created".into(), recipient: loud.account_id.clone() }]);

    let f = JiraFixture::new(None).await;
    let report = f.run(&f.db, &cloud, f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::All)).await;
    assert!(report.counts["requests"].cloud > 0 && report.counts["customers"].cloud > 0);
    assert_eq!(cloud.dest.notifications().await.unwrap(), notified, "the migration notified nobody");
}

#[tokio::test]
async fn customers_none_is_refused_with_service_projects_and_all_migrates_them_in_advance() {
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    let refused = Plan::create(&f.db, f.plan(&cloud, UsersScope::All, UsersScope::None, SpacesScope::All)).await.unwrap_err();
    let why = refused.downcast_ref::<PlanRefused>().unwrap_or_else(|| panic!("a usage error: {refused:#}")).to_string();
    assert!(why.contains("--customers none") && why.contains("HR, SD"), "{why}");
    let software = Plan::create(&f.db, f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::Keys(vec!["DEV".into()]))).await.unwrap_err();
    assert!(software.downcast_ref::<PlanRefused>().is_some_and(|r| r.to_string().contains("software")), "{software:#}");

    // In advance: every customer, with users and groups, and no project.
    let jira::JiraSummary { customers, .. } = f.summary.clone();
    let advance = f.run(&f.db, &cloud, f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::None)).await;
    let c = advance.counts["customers"];
    let bad: Vec<&str> = advance.failures.iter().filter(|x| x.kind == "customers").map(|x| x.server_id.as_str()).collect();
    assert_eq!(bad, ["customer0002", "customer0004"], "the invalid email, and the second user of a shared one");
    assert_eq!((c.server, c.cloud, c.failed), (customers, customers - 2, 2));
    assert_eq!(advance.counts["organizations"].cloud, 3, "all customers: every organization, Initech too");
    assert_eq!(advance.counts["requests"].server, 0);
    assert!(cloud.dest.service_desks().await.unwrap().is_empty());
    assert_eq!(types_of(&cloud, &jira::customer_email(23)).await, [ACCOUNT_CUSTOMER], "unrelated customers too");

    // Then the data: customers are linked, none created twice.
    let data = f.run(&f.db, &cloud, f.plan(&cloud, UsersScope::None, UsersScope::Related, SpacesScope::All)).await;
    assert_eq!(data.status, "finished", "{:?}", data.failures);
    assert_eq!(data.counts["customers"].cloud, f.summary.related_customers);
    assert_eq!(data.counts["requests"].cloud, f.summary.requests);
    assert_eq!(types_of(&cloud, &jira::customer_email(8)).await, [ACCOUNT_CUSTOMER]);
    assert_requests_match(&f, &cloud, &data).await;
}

#[tokio::test]
async fn organizations_migrate_with_their_members_and_are_linked_by_name_on_a_rerun() {
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    // Acme exists in the cloud already: it is linked by name, not made twice.
    let acme = cloud.dest.create_organization("Acme Corp").await.unwrap();
    f.run(&f.db, &cloud, full_plan(&f, &cloud)).await;
    let orgs = cloud.dest.organizations().await.unwrap();
    assert_eq!(orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["Acme Corp", "Globex"]);
    assert_eq!(orgs[0].id, acme.id);
    let emails = f.emails_by_key().await;
    for (id, name, _) in jira::organizations().into_iter().take(2) {
        let org = orgs.iter().find(|o| o.name == name).unwrap();
        let members: BTreeSet<String> = cloud.dest.organization_members(&org.id).await.unwrap().iter().map(who).collect();
        let expected: BTreeSet<String> =
            jira::organization_members(id, &JiraOptions::default()).iter().map(|n| emails[&jira::customer_key(*n)].clone()).collect();
        assert_eq!(members, expected, "{name}");
    }
    // Another admin's FERRY_HOME (no ledger): organizations, customers and requests are
    // linked again, never duplicated.
    let other = f.fresh_home("other-home").await;
    let again = f.run(&other, &cloud, full_plan(&f, &cloud)).await;
    assert_eq!(again.status, "finished", "{:?}", again.failures);
    assert_eq!(cloud.dest.organizations().await.unwrap().len(), 2);
    assert_eq!(again.counts["organizations"].cloud, 2);
    assert_requests_match(&f, &cloud, &again).await;
}

#[tokio::test]
async fn a_migration_cut_short_by_failures_then_rerun_lands_every_request_exactly_once() {
    let f = JiraFixture::new(None).await;
    // Some requests fail before the site does anything, some after it did (the answer lost).
    let flaky = Cloud::start(Faults { fail_rate: 0.2, lose_answer_rate: 0.1, ..Faults::default() }).await;
    jira::seed_cloud(&flaky.dest).await.unwrap();
    let never_retry = flaky.dest.clone().with_retry(ferry_host::destination::RetryPolicy { attempts: 1, ..Default::default() });
    for _ in 0..2 {
        let plan = Plan::create(&f.db, full_plan(&f, &flaky)).await.unwrap();
        let _ = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(never_retry.clone()).run().await.unwrap();
    }
    let report = f.run(&f.db, &flaky, full_plan(&f, &flaky)).await;
    assert_eq!(report.status, "finished", "{:?}", report.failures);
    assert_eq!(report.counts["requests"].cloud, f.summary.requests);
    assert_requests_match(&f, &flaky, &report).await;
    assert_eq!(flaky.dest.organizations().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_project_key_taken_in_the_cloud_is_refused_and_reported() {
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    let taken = ferry_host::destination::api::NewProject {
        key: "HR".into(),
        name: "Someone else's HR".into(),
        project_type_key: "service_desk".into(),
        lead_account_id: None,
    };
    cloud.dest.create_project(&taken).await.unwrap();
    let report = f.run(&f.db, &cloud, full_plan(&f, &cloud)).await;
    assert_eq!(report.status, "incomplete");
    let failure = report.failures.iter().find(|x| x.kind == "requests" && x.server_id == "HR").expect("HR refused");
    assert!(failure.reason.contains("ferry did not create"), "{}", failure.reason);
    assert_eq!(report.counts["requests"].failed, f.summary.requests / 2);
    let hr = cloud.dest.service_desks().await.unwrap().into_iter().find(|d| d.project_key == "HR").unwrap();
    assert!(cloud.dest.requests(&hr.id).await.unwrap().is_empty(), "nothing written into someone else's project");
}

#[tokio::test]
async fn the_jira_migration_reads_postgresql_without_ever_selecting_a_credential() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("jira").await;
    let f = JiraFixture::new(Some(&url)).await;
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let grants = "CREATE ROLE jira_reader LOGIN; \
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO jira_reader; \
        REVOKE SELECT ON cwd_user FROM jira_reader; \
        GRANT SELECT (id, directory_id, user_name, lower_user_name, active, first_name, last_name, display_name, email_address, \
            lower_email_address, deleted_externally, external_id) ON cwd_user TO jira_reader;";
    sqlx::raw_sql(grants).execute(&mut admin).await.unwrap();
    let reader_url = url.replace("ferry@", "jira_reader@");
    let mut reader = <sqlx::AnyConnection as sqlx::Connection>::connect(&reader_url).await.unwrap();
    let denied = sqlx::raw_sql("SELECT credential FROM cwd_user").execute(&mut reader).await.unwrap_err();
    assert!(denied.to_string().contains("permission denied"), "{denied}");

    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let mut plan = full_plan(&f, &cloud);
    plan.source = reader_url;
    let report = f.run(&f.db, &cloud, plan).await;
    assert_full_migration(&f, &cloud, &report).await;
    assert_eq!(report.two_accounts.len(), 1);
    assert_eq!(report.former_customer.iter().map(|x| x.references).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(report.customers_with_full_accounts, 1);
    assert_eq!(types_of(&cloud, jira::KNOWN_CUSTOMER_EMAIL).await, [ACCOUNT_CUSTOMER], "linked, not created again");
}

#[tokio::test]
async fn a_confluence_plan_refuses_a_jira_database_and_the_reverse() {
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    let mut plan = full_plan(&f, &cloud);
    plan.product = Product::Confluence;
    plan.projects = SpacesScope::None;
    plan.customers = UsersScope::None;
    plan.spaces = SpacesScope::All;
    // Refused when the plan is made (its source is read then), before anything runs.
    let e = Plan::create(&f.db, plan).await.expect_err("refused");
    assert!(format!("{e:#}").contains("is a jira database") && format!("{e:#}").contains("--product jira"), "{e:#}");
}

#[tokio::test]
async fn the_checks_name_bad_customer_emails_identity_conflicts_former_customers_and_taken_project_keys() {
    use ferry_host::checks::{Check, CheckResult};
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let taken = ferry_host::destination::api::NewProject {
        key: "HR".into(),
        name: "Someone else's HR".into(),
        project_type_key: "service_desk".into(),
        lead_account_id: None,
    };
    cloud.dest.create_project(&taken).await.unwrap();
    let plan = Plan::create(&f.db, f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::All)).await.unwrap();
    let checks = Migrator::new(f.db.clone(), plan, Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone()).checks().await.unwrap();
    let by_code = |code: &str| -> Check { checks.iter().find(|c| c.code == code).unwrap_or_else(|| panic!("{code} in {checks:?}")).clone() };
    let invalid = by_code("customers.invalid-email");
    assert_eq!((invalid.result, invalid.entities.len()), (CheckResult::Error, 1));
    assert!(invalid.entities[0].starts_with("customer0002"), "{:?}", invalid.entities);
    assert_eq!(by_code("customers.duplicate-email").entities, [format!("customer0004 shares {} with customer0003", jira::SHARED_CUSTOMER_EMAIL)]);
    let two = by_code("customers.two-accounts");
    assert_eq!((two.result, two.entities.clone()), (CheckResult::Warning, vec![format!("dana.dual ({})", jira::TWO_ACCOUNTS_EMAIL)]));
    assert_eq!(by_code("customers.full-account").entities, [format!("customer0001 ({})", jira::FULL_ACCOUNT_EMAIL)]);
    let former = by_code("customers.former-customer");
    assert_eq!(former.count, 2, "{:?}", former.entities);
    assert!(
        former.entities[0].starts_with(jira::INACTIVE_DIRECTORY_KEY) && former.entities[1].starts_with(jira::DELETED_CUSTOMER_KEY),
        "{:?}",
        former.entities
    );
    assert_eq!((by_code("projects.key-conflict").result, by_code("projects.key-conflict").entities), (CheckResult::Error, vec!["HR".to_string()]));
    assert_eq!(by_code("users.invalid-email").result, CheckResult::Pass, "agents' emails are valid");
    assert_eq!(by_code("groups.blocklisted").entities, ["site-admins"]);
    assert!(checks.iter().all(|c| !c.code.starts_with("spaces.") && !c.code.starts_with("apps.")), "no Confluence checks in a Jira plan");

    // The run is refused while the errors stand, and the plan stays saved.
    let plan = Plan::create(&f.db, f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::All)).await.unwrap();
    let migrator = Migrator::new(f.db.clone(), plan.clone(), Progress::hidden()).await.unwrap().with_destination(cloud.dest.clone());
    let refused = ferry_host::plan::runner::run_checked(migrator, None).await.unwrap_err();
    assert!(refused.to_string().contains("customers.invalid-email") && refused.to_string().contains("projects.key-conflict"), "{refused}");
    assert_eq!(Plan::get(&f.db, &plan.id).await.unwrap().status, "saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_projects_refuses_customers_none_with_exit_2_and_runs_a_jira_plan() {
    use std::process::Command;
    let f = JiraFixture::new(None).await;
    let cloud = Cloud::start(Faults::default()).await;
    let home = f.dir.path().join("cli-home");
    let ferry = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_ferry")).args(args).env("FERRY_HOME", &home).cloud_secrets().output().unwrap();
    let text = |o: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));

    let listed = ferry(&["plan", "projects", "--source", &f.source_url, "--destination", &cloud.site.url(), "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let projects: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let row = |key: &str| projects.as_array().unwrap().iter().find(|p| p["key"] == key).cloned().unwrap();
    assert_eq!((row("SD")["service_project"].as_bool(), row("SD")["requests"].as_u64()), (Some(true), Some(f.summary.requests / 2)));
    assert_eq!(row("DEV")["service_project"], false);
    assert!(row("DEV")["not_migrated"].as_str().unwrap().contains("service projects"), "{}", row("DEV"));
    assert_eq!(row("SD")["not_migrated"], serde_json::Value::Null);

    let site_url = cloud.site.url();
    let mut base: Vec<&str> = vec!["plan", "create", "--product", "jira", "--name", "cli", "--source", &f.source_url, "--destination", &site_url];
    let sign_in = cloud.sign_in_args(TOKEN_ENV);
    base.extend(sign_in.iter().map(String::as_str));
    let refused = ferry(&[&base[..], &["--customers", "none"]].concat());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("--customers none cannot go with service projects"), "{}", text(&refused));
    let not_service = ferry(&[&base[..], &["--projects", "DEV"]].concat());
    assert_eq!(not_service.status.code(), Some(2), "{}", text(&not_service));

    let run = ferry(&[&base[..], &["--projects", "SD", "--run", "--json"]].concat());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["product"], "jira");
    assert_eq!(report["counts"]["requests"]["cloud"].as_u64(), Some(f.summary.requests / 2));
    for kind in ["customers", "agents", "groups", "organizations", "requests", "comments"] {
        assert!(report["counts"][kind]["server"].is_u64(), "counts.{kind} in {report}");
    }
    assert!(report["former_customer"].is_array() && report["two_accounts"].is_array());
    // HR is a service project this plan did not choose; DEV is not a service project.
    let left: Vec<&str> = report["projects_not_migrated"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(left, ["DEV", "HR"], "{report}");
    let listed = ferry(&["plan", "projects", "--source", &f.source_url, "--destination", &cloud.site.url(), "--json"]);
    let projects: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let status: Vec<(&str, &str)> = projects.as_array().unwrap().iter().map(|p| (p["key"].as_str().unwrap(), p["status"].as_str().unwrap())).collect();
    assert_eq!(status, [("DEV", ""), ("HR", ""), ("SD", "MIGRATED")]);
}

#[tokio::test]
async fn a_jira_run_killed_midway_then_a_new_plan_lands_every_request_and_comment_exactly_once() {
    let f = JiraFixture::with(None, &JiraOptions { requests_per_project: 1_500, ..JiraOptions::default() }).await;
    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let plan = Plan::create(&f.db, full_plan(&f, &cloud)).await.unwrap();
    let mut child = f.spawn_run(&plan);
    // Kill it once some requests have landed, with no chance to tidy up.
    let mut landed = 0i64;
    for _ in 0..4_000 {
        landed = sqlx::query("SELECT COUNT(*) FROM mappings WHERE namespace = 'jsm:request'").fetch_one(f.db.pool()).await.unwrap().get(0);
        if landed >= 300 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(landed >= 300 && (landed as u64) < f.summary.requests, "the run was killed mid-way ({landed} requests landed)");

    let report = f.run(&f.db, &cloud, full_plan(&f, &cloud)).await;
    assert_eq!(report.status, "finished", "{:?}", report.failures);
    assert_eq!(report.counts["requests"].cloud, f.summary.requests);
    assert_eq!(report.counts["comments"].cloud, f.summary.comments);
    let (mut requests, mut comments) = (0u64, 0u64);
    for desk in cloud.dest.service_desks().await.unwrap() {
        let listed = cloud.dest.requests(&desk.id).await.unwrap();
        let keys: BTreeSet<&str> = listed.iter().map(|r| r.issue_key.as_str()).collect();
        assert_eq!(keys.len(), listed.len(), "{}: a key twice", desk.project_key);
        requests += listed.len() as u64;
        for request in &listed {
            comments += cloud.dest.request_comments(&request.issue_key).await.unwrap().len() as u64;
        }
    }
    assert_eq!((requests, comments), (f.summary.requests, f.summary.comments), "every request and comment exactly once");
    assert_eq!(cloud.dest.organizations().await.unwrap().len(), 2);
    assert_eq!(cloud.dest.notifications().await.unwrap(), []);
}

#[tokio::test]
async fn keys_read_from_a_hostile_database_stay_one_path_segment() {
    let cloud = Cloud::start(Faults::default()).await;
    let sd =
        ferry_host::destination::api::NewProject { key: "SD".into(), name: "IT Help".into(), project_type_key: "service_desk".into(), lead_account_id: None };
    cloud.dest.create_project(&sd).await.unwrap();
    cloud.dest.create_space("ENG", "Engineering").await.unwrap();
    assert!(cloud.dest.project("SD").await.unwrap().is_some());
    // Unencoded, these would read SD and ENG (the rest becoming a query or a parent path).
    for key in ["SD?x=1", "SD#", "x/../SD"] {
        assert_eq!(cloud.dest.project(key).await.unwrap(), None, "{key}");
    }
    for key in ["ENG?x=1", "x/../ENG"] {
        assert_eq!(cloud.dest.get_space(key).await.unwrap(), None, "{key}");
    }
}

#[tokio::test]
async fn a_run_killed_among_customers_then_a_new_plan_links_the_unrecorded_ones_and_makes_none_twice() {
    use futures_util::{stream, StreamExt};
    let f = JiraFixture::with(None, &JiraOptions { customers: 6_000, ..JiraOptions::default() }).await;
    // Every customer has a usable address of their own, so the checks let it run.
    let fixed = ferry_host::demo::correct_bad_emails(&f.dir.path().join("jira").join("jira.db")).await.unwrap();
    assert_eq!(fixed.len(), 2, "{fixed:?}");
    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let all = || f.plan(&cloud, UsersScope::All, UsersScope::All, SpacesScope::All);
    let plan = Plan::create(&f.db, all()).await.unwrap();
    let mut child = f.spawn_run(&plan);
    let mapped = || async {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM mappings WHERE namespace = 'identity:customer' AND server_id LIKE 'email/%'")
            .fetch_one(f.db.pool())
            .await
            .unwrap()
            .get(0);
        n as u64
    };
    // Kill it once the first customers are recorded, with no chance to tidy up.
    let mut recorded = 0;
    for _ in 0..4_000 {
        recorded = mapped().await;
        if recorded > 0 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before any customer was recorded");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = recorded.max(mapped().await);
    let usable = f.summary.customers;
    assert!(recorded > 0 && recorded < usable, "the run was killed among the customers ({recorded} recorded)");

    // The cloud has customers the ledger does not know yet: created, then killed
    // before their batch was committed.
    let emails: Vec<String> = (1..=f.summary.customers as u32).map(jira::customer_email).collect();
    let accounts_of = |emails: Vec<String>| {
        let dest = cloud.dest.clone();
        stream::iter(emails)
            .map(move |email| {
                let dest = dest.clone();
                async move { (email.clone(), dest.accounts_by_email(&email).await.unwrap()) }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
    };
    let in_cloud = accounts_of(emails.clone()).await.iter().filter(|(_, a)| !a.is_empty()).count() as u64;
    assert!(in_cloud > recorded, "{in_cloud} customers in the cloud, {recorded} recorded: the kill left some unrecorded");

    let report = f.run(&f.db, &cloud, all()).await;
    assert_eq!(report.status, "finished", "{:?}", report.failures);
    let c = report.counts["customers"];
    assert_eq!((c.server, c.cloud, c.failed), (usable, usable, 0));
    assert_eq!(mapped().await, usable, "every usable customer is recorded now");
    for (email, accounts) in accounts_of(emails).await {
        assert!(accounts.len() <= 1, "{email} has {} accounts", accounts.len());
    }
    assert_eq!(report.counts["requests"].cloud, f.summary.requests);
    assert_eq!(cloud.dest.notifications().await.unwrap(), []);
}

#[tokio::test]
async fn a_request_whose_description_or_comment_is_over_the_size_bound_fails_naming_it_and_the_rest_land() {
    let f = JiraFixture::new(None).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let key_of = |issue: i64| {
        let pool = pool.clone();
        async move {
            let key: String =
                sqlx::query_scalar("SELECT p.pkey || '-' || CAST(i.issuenum AS TEXT) FROM jiraissue i JOIN project p ON p.id = i.project WHERE i.id = ?")
                    .bind(issue)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            key
        }
    };
    let described: i64 = sqlx::query_scalar("SELECT i.id FROM jiraissue i JOIN project p ON p.id = i.project WHERE p.pkey = 'SD' ORDER BY i.id LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (comment, commented): (i64, i64) =
        sqlx::query_as("SELECT a.id, a.issueid FROM jiraaction a WHERE a.actiontype = 'comment' AND a.issueid <> ? ORDER BY a.id LIMIT 1")
            .bind(described)
            .fetch_one(&pool)
            .await
            .unwrap();
    // Two characters per zero byte: 2 more than the bound.
    let over = ferry_host::source::MAX_BODY_CHARS + 2;
    sqlx::query("UPDATE jiraissue SET description = hex(zeroblob(?)) WHERE id = ?").bind(over / 2).bind(described).execute(&pool).await.unwrap();
    sqlx::query("UPDATE jiraaction SET actionbody = hex(zeroblob(?)) WHERE id = ?").bind(over / 2).bind(comment).execute(&pool).await.unwrap();
    let (described, commented) = (key_of(described).await, key_of(commented).await);
    pool.close().await;

    let cloud = Cloud::start(Faults::default()).await;
    jira::seed_cloud(&cloud.dest).await.unwrap();
    let report = f.run(&f.db, &cloud, full_plan(&f, &cloud)).await;
    let reason = |key: &str| report.failures.iter().find(|x| x.kind == "requests" && x.server_id == key).map(|x| x.reason.clone()).unwrap_or_default();
    assert!(reason(&described).starts_with(&format!("its description has {over} characters")), "{:?}", report.failures);
    assert!(reason(&commented).starts_with(&format!("its comment {comment} has {over} characters")), "{:?}", report.failures);
    assert!(reason(&commented).contains("shorten or split it on the server"));
    let requests = report.counts["requests"];
    assert_eq!((requests.cloud, requests.failed), (f.summary.requests - 2, 2), "{:?}", report.failures);
    // The server keys of the requests in the cloud, from their origins.
    let mut in_cloud: Vec<String> = Vec::new();
    for desk in cloud.dest.service_desks().await.unwrap() {
        for request in cloud.dest.requests(&desk.id).await.unwrap() {
            let origin: Origin = cloud.dest.entity_property(JiraEntity::Issue, &request.issue_key, ORIGIN_PROPERTY).await.unwrap().unwrap();
            in_cloud.push(origin.key.unwrap());
        }
    }
    assert_eq!(in_cloud.len() as u64, f.summary.requests - 2);
    assert!(!in_cloud.contains(&described) && !in_cloud.contains(&commented));
}

#[tokio::test]
async fn app_assessment_of_a_jira_database_and_an_unknown_url_say_what_ferry_reads() {
    let f = JiraFixture::new(None).await;
    let source = ferry_host::source::Source::connect(&f.source_url).await.unwrap();
    let e = format!("{:#}", ferry_host::assess::read_server_apps(&f.db, &source).await.unwrap_err());
    assert!(e.contains("is a Jira database") && e.contains("runs no app") && !e.contains("plugindata does not exist"), "{e}");
    for url in ["sqlserver://jira@db.example:1433/jira", "oracle://jira@db.example/jira"] {
        let e = format!("{:#}", ferry_host::source::Source::connect(url).await.unwrap_err());
        assert!(e.contains("postgres://") && e.contains("mysql://") && e.contains("SQLite") && e.contains("is not one of them"), "{e}");
    }
}
