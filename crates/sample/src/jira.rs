//! A deterministic sample Jira Server site with Service Management: the real tables
//! (`jira.sql`, SQLite or PostgreSQL) filled with the cases a customer migration must
//! handle. Which user is which case is fixed by number, so tests can name them.
//!
//! - Three directories: the customer directory first in the order, the internal one
//!   second, a retired LDAP directory that is inactive.
//! - Agents and admins (licensed through `licenserolesgroup`, one through a nested
//!   group, one through a same-name group of another directory, one disabled).
//! - Customers (unlicensed): one already a cloud customer, one with a full cloud
//!   account, one with an invalid email, two sharing one, one shadowed by a user of the
//!   internal directory, one disabled, and some related to no service project.
//! - A licensed user whose email is a cloud customer's (the two-account case).
//! - A customer deleted from every directory and one left only in the inactive
//!   directory, both referenced by requests (people with no cloud account).
//! - Two service projects with requests (participants; comments internal, public and
//!   with no visibility property) and a software project, which is not migrated.
//! - Organizations: on a service desk, on the other, and on none.

use std::path::Path;

use anyhow::Context;

use super::writer::{TableWriter, Value};

/// The Jira tables, as in the real schema.
const SCHEMA: &str = include_str!("jira.sql");

/// A server customer whose email is already a customer account in the cloud.
pub const KNOWN_CUSTOMER_EMAIL: &str = "known.customer@example.net";
/// A server customer (portal-only) whose email is a full account in the cloud.
pub const FULL_ACCOUNT_EMAIL: &str = "portal.manager@example.net";
/// A licensed server user whose email is a customer account in the cloud.
pub const TWO_ACCOUNTS_EMAIL: &str = "dual.agent@example.com";
/// The two customers sharing one email.
pub const SHARED_CUSTOMER_EMAIL: &str = "shared.help@example.net";
/// The user key of the customer deleted from every directory.
pub const DELETED_CUSTOMER_KEY: &str = "JIRAUSER19999";
/// The user key of the customer left only in the inactive directory.
pub const INACTIVE_DIRECTORY_KEY: &str = "JIRAUSER19998";
/// The service projects, and the software project that is not migrated.
pub const SERVICE_PROJECTS: [&str; 2] = ["SD", "HR"];
/// The software project.
pub const SOFTWARE_PROJECT: &str = "DEV";
/// The display name of the licensed user with the cloud customer's email.
pub const TWO_ACCOUNTS_NAME: &str = "Dana Dual";

/// How big a sample Jira site to write.
#[derive(Debug, Clone)]
pub struct JiraOptions {
    /// Agents (licensed users) besides the special ones.
    pub agents: u32,
    /// Customers (portal-only users), special ones included.
    pub customers: u32,
    /// Requests per service project.
    pub requests_per_project: u32,
}

impl Default for JiraOptions {
    fn default() -> Self {
        JiraOptions { agents: 8, customers: 60, requests_per_project: 24 }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct JiraSummary {
    /// Database URL of the site.
    pub database: String,
    /// The site's server id (`jira.sid.key`), new for every site written.
    pub server_id: String,
    /// Licensed users in active directories (agents and admins).
    pub agents: u64,
    /// Unlicensed users in active directories (customers), shadowed copies left out.
    pub customers: u64,
    /// Customers related to the service projects (reporter, participant, comment
    /// author, or member of an organization of the service desk), valid or not.
    pub related_customers: u64,
    /// Their user keys.
    #[serde(skip)]
    pub related_customer_keys: std::collections::BTreeSet<String>,
    /// Organizations.
    pub organizations: u64,
    /// Requests of the service projects.
    pub requests: u64,
    /// Comments on those requests.
    pub comments: u64,
    /// Of those, shared with the customer.
    pub public_comments: u64,
    /// Participant rows on those requests.
    pub participants: u64,
    /// Issues of the software project (not migrated).
    pub software_issues: u64,
}

const TS: &str = "2024-05-02 09:00:00+00";

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

/// The username of sample customer `n`.
pub fn customer_name(n: u32) -> String {
    format!("customer{n:04}")
}

/// The user key of sample customer `n` (Jira's `JIRAUSER<id>` form).
pub fn customer_key(n: u32) -> String {
    format!("JIRAUSER{}", 20_000 + u64::from(n))
}

/// The username (and user key: the old form) of sample agent `n`.
pub fn agent_name(n: u32) -> String {
    format!("agent{n:02}")
}

/// The email of customer `n` as the sample writes it.
pub fn customer_email(n: u32) -> String {
    match n {
        0 => KNOWN_CUSTOMER_EMAIL.into(),
        1 => FULL_ACCOUNT_EMAIL.into(),
        2 => "customer0002-at-example.net".into(),
        3 | 4 => SHARED_CUSTOMER_EMAIL.into(),
        _ => format!("{}@example.net", customer_name(n)),
    }
}

/// Whether customer `n` may be named by requests (the others are related only through
/// an organization, or not at all). The customers with bad emails are never named.
pub fn customer_requests(n: u32) -> bool {
    !(2..=4).contains(&n) && n % 4 != 3
}

/// Directory ids.
const CUSTOMER_DIR: i64 = 10100;
const INTERNAL_DIR: i64 = 10000;
const RETIRED_DIR: i64 = 10200;

/// Write a sample Jira site into `out` (`jira.db` there, or the given PostgreSQL
/// database).
pub async fn write_jira_site(out: &Path, postgres: Option<&str>, options: &JiraOptions) -> anyhow::Result<JiraSummary> {
    let (url, sqlite) = super::site_database(out, postgres, "jira.db")?;
    let mut w = TableWriter::connect(&url, false).await?;
    let schema = if sqlite { SCHEMA.replace("timestamp with time zone", "TEXT").replace("timestamp", "TEXT") } else { SCHEMA.to_string() };
    w.execute_script(&schema).await?;
    let mut site = JiraBuilder { w, summary: JiraSummary::default(), next_user: 0, next_membership: 0, customers: Default::default() };
    site.summary.database = ferry_source::redact_url(&url.replace("?mode=rwc", ""));
    site.application_properties().await?;
    site.people(options).await?;
    site.projects_and_requests(options).await?;
    site.organizations(options).await?;
    site.summary.related_customers = site.summary.related_customer_keys.len() as u64;
    site.w.finish().await?;
    Ok(site.summary)
}

/// The base URL the sample Jira site records as its own.
pub const SAMPLE_JIRA_BASE_URL: &str = "https://jira.example.com";

impl JiraBuilder {
    /// `jira.properties`: the server id made at install, and the base URL.
    async fn application_properties(&mut self) -> anyhow::Result<()> {
        let server_id = super::new_server_id();
        for (id, key, value) in [(10_001, "jira.sid.key", server_id.clone()), (10_002, "jira.baseurl", SAMPLE_JIRA_BASE_URL.to_string())] {
            self.w
                .row(
                    "propertyentry",
                    &["id", "entity_name", "entity_id", "property_key", "propertytype"],
                    vec![i(id), t("jira.properties"), i(1), t(key), i(5)],
                )
                .await?;
            self.w.row("propertystring", &["id", "propertyvalue"], vec![i(id), t(value)]).await?;
        }
        self.summary.server_id = server_id;
        Ok(())
    }
}

struct JiraBuilder {
    w: TableWriter,
    summary: JiraSummary,
    next_user: i64,
    next_membership: i64,
    /// The user keys of the customers in active directories.
    customers: std::collections::BTreeSet<String>,
}

/// Group ids: (id, name, directory).
const GROUPS: [(i64, &str, i64); 7] = [
    (1, "jira-administrators", INTERNAL_DIR),
    (2, "jira-servicedesk-users", INTERNAL_DIR),
    (3, "jira-software-users", INTERNAL_DIR),
    (4, "service-desk-team", INTERNAL_DIR),
    (5, "site-admins", INTERNAL_DIR),
    (6, "vip-customers", CUSTOMER_DIR),
    (7, "jira-servicedesk-users", CUSTOMER_DIR),
];

impl JiraBuilder {
    /// Count `key` as a related customer when it is one.
    fn related(&mut self, key: &str) {
        if self.customers.contains(key) {
            self.summary.related_customer_keys.insert(key.to_string());
        }
    }

    /// Add a user row and its `app_user` row (unless `key` is None: a shadowed copy).
    #[allow(clippy::too_many_arguments)]
    async fn user(&mut self, dir: i64, name: &str, display: &str, email: &str, active: bool, key: Option<&str>) -> anyhow::Result<i64> {
        self.next_user += 1;
        let id = self.next_user;
        let cols = [
            "id",
            "directory_id",
            "user_name",
            "lower_user_name",
            "active",
            "first_name",
            "last_name",
            "display_name",
            "email_address",
            "lower_email_address",
            "credential",
            "deleted_externally",
            "external_id",
        ];
        let (first, last) = display.split_once(' ').unwrap_or((display, ""));
        self.w
            .row(
                "cwd_user",
                &cols,
                vec![
                    i(id),
                    i(dir),
                    t(name),
                    t(name.to_lowercase()),
                    i(i64::from(active)),
                    t(first),
                    t(last),
                    t(display),
                    t(email),
                    t(email.to_lowercase()),
                    t(format!("{{PKCS5S2}}hash-of-{name}")),
                    i(0),
                    t(format!("ext-{id}")),
                ],
            )
            .await?;
        if let Some(key) = key {
            self.w.row("app_user", &["id", "user_key", "lower_user_name"], vec![i(id), t(key), t(name.to_lowercase())]).await?;
        }
        Ok(id)
    }

    async fn member(&mut self, group: i64, user: i64, user_name: &str) -> anyhow::Result<()> {
        self.next_membership += 1;
        let (gname, gdir) = GROUPS.iter().find(|g| g.0 == group).map(|g| (g.1, g.2)).expect("known group");
        self.w
            .row(
                "cwd_membership",
                &["id", "parent_id", "child_id", "membership_type", "parent_name", "lower_parent_name", "child_name", "lower_child_name", "directory_id"],
                vec![i(self.next_membership), i(group), i(user), t("GROUP_USER"), t(gname), t(gname), t(user_name), t(user_name.to_lowercase()), i(gdir)],
            )
            .await
    }

    async fn people(&mut self, o: &JiraOptions) -> anyhow::Result<()> {
        for (id, name, kind, position, active) in [
            (INTERNAL_DIR, "Jira Internal Directory", "INTERNAL", 1, 1),
            (CUSTOMER_DIR, "Customer Directory", "CROWD", 0, 1),
            (RETIRED_DIR, "Retired LDAP", "CONNECTOR", 2, 0),
        ] {
            self.w
                .row(
                    "cwd_directory",
                    &["id", "directory_name", "lower_directory_name", "active", "directory_type", "directory_position"],
                    vec![i(id), t(name), t(name.to_lowercase()), i(active), t(kind), i(position)],
                )
                .await?;
        }
        for (id, name, dir) in GROUPS {
            self.w.row("cwd_group", &["id", "group_name", "lower_group_name", "active", "directory_id"], vec![i(id), t(name), t(name), i(1), i(dir)]).await?;
        }
        // service-desk-team is nested in jira-servicedesk-users: its members are licensed.
        self.next_membership += 1;
        self.w
            .row(
                "cwd_membership",
                &["id", "parent_id", "child_id", "membership_type", "parent_name", "lower_parent_name", "child_name", "lower_child_name", "directory_id"],
                vec![
                    i(self.next_membership),
                    i(2),
                    i(4),
                    t("GROUP_GROUP"),
                    t("jira-servicedesk-users"),
                    t("jira-servicedesk-users"),
                    t("service-desk-team"),
                    t("service-desk-team"),
                    i(INTERNAL_DIR),
                ],
            )
            .await?;
        for (id, (role, group)) in
            [("jira-servicedesk", "jira-servicedesk-users"), ("jira-software", "jira-software-users"), ("jira-software", "jira-administrators")]
                .iter()
                .enumerate()
        {
            self.w
                .row("licenserolesgroup", &["id", "license_role_name", "group_id", "primary_group"], vec![i(id as i64 + 1), t(*role), t(*group), t("N")])
                .await?;
        }
        // Agents: two admins, the rest in the service desk team or its licensed group.
        for n in 0..o.agents.max(4) {
            let name = agent_name(n);
            let active = n + 1 != o.agents.max(4);
            let uid = self.user(INTERNAL_DIR, &name, &format!("Agent {n}"), &format!("{name}@example.com"), active, Some(&name)).await?;
            let groups: &[i64] = match n {
                0 | 1 => &[1, 3, 5],
                _ if n % 3 == 0 => &[4],
                _ => &[2],
            };
            for g in groups {
                self.member(*g, uid, &name).await?;
            }
            self.summary.agents += 1;
        }
        let dual = self.user(INTERNAL_DIR, "dana.dual", TWO_ACCOUNTS_NAME, TWO_ACCOUNTS_EMAIL, true, Some("dana.dual")).await?;
        self.member(2, dual, "dana.dual").await?;
        // Licensed through the same-name group of the customer directory.
        let crowd = self.user(CUSTOMER_DIR, "crowd.helper", "Crowd Helper", "crowd.helper@example.com", true, Some("JIRAUSER19990")).await?;
        self.member(7, crowd, "crowd.helper").await?;
        self.summary.agents += 2;
        for n in 0..o.customers.max(24) {
            let name = customer_name(n);
            let key = customer_key(n);
            let uid = self.user(CUSTOMER_DIR, &name, &format!("Customer {n}"), &customer_email(n), n != 6, Some(&key)).await?;
            if n == 5 {
                // A shadowed copy in the internal directory (later in the order).
                self.user(INTERNAL_DIR, &name, "Old Customer 5", "old.customer0005@example.com", true, None).await?;
            }
            if n % 10 == 8 {
                self.member(6, uid, &name).await?;
            }
            self.customers.insert(key);
            self.summary.customers += 1;
        }
        // Only in the inactive directory; and a key with no user at all.
        self.user(RETIRED_DIR, "retired.customer", "Retired Customer", "retired@example.net", true, Some(INACTIVE_DIRECTORY_KEY)).await?;
        self.next_user += 1;
        self.w.row("app_user", &["id", "user_key", "lower_user_name"], vec![i(self.next_user), t(DELETED_CUSTOMER_KEY), t("gone.customer")]).await?;
        Ok(())
    }

    async fn projects_and_requests(&mut self, o: &JiraOptions) -> anyhow::Result<()> {
        for (id, name) in [("1", "Open"), ("3", "In Progress"), ("5", "Resolved"), ("10000", "Waiting for support"), ("10001", "Waiting for customer")] {
            self.w.row("issuestatus", &["id", "sequence", "pname", "description"], vec![t(id), i(1), t(name), t(format!("{name}."))]).await?;
        }
        self.w
            .row(
                "customfield",
                &["id", "cfkey", "customfieldtypekey", "cfname"],
                vec![i(10100), t("com.atlassian.servicedesk:sd-request-participants"), t(ferry_source::PARTICIPANTS_FIELD), t("Request participants")],
            )
            .await?;
        self.w
            .row(
                "customfield",
                &["id", "cfkey", "customfieldtypekey", "cfname"],
                vec![i(10101), t("com.atlassian.servicedesk:vp-origin"), t("com.atlassian.servicedesk:vp-origin"), t("Customer Request Type")],
            )
            .await?;
        let projects = [
            (10000i64, "SD", "IT Help", "service_desk", "agent02"),
            (10001, "HR", "HR Services", "service_desk", "agent03"),
            (10002, SOFTWARE_PROJECT, "Platform", "software", "agent00"),
        ];
        for (id, key, name, kind, lead) in projects {
            self.w
                .row(
                    "project",
                    &["id", "pname", "lead", "description", "pkey", "projecttype"],
                    vec![i(id), t(name), t(lead), t(format!("{name} project")), t(key), t(kind)],
                )
                .await?;
        }
        for (desk, project, key) in [(1i64, 10000i64, "SD"), (2, 10001, "HR")] {
            self.w
                .row(
                    "\"AO_54307E_SERVICEDESK\"",
                    &[
                        "\"ID\"",
                        "\"PROJECT_ID\"",
                        "\"PROJECT_KEY\"",
                        "\"DISABLED\"",
                        "\"PUBLIC_SIGNUP\"",
                        "\"OPEN_CUSTOMER_ACCESS\"",
                        "\"CREATED_BY_USER_KEY\"",
                        "\"CREATED_DATE\"",
                    ],
                    vec![i(desk), i(project), t(key), Value::Bool(false), i(0), i(0), t("agent00"), t("2024-01-01 00:00:00")],
                )
                .await?;
        }
        // Requesters: the customers referenced by requests, in a fixed rotation.
        let requesters: Vec<u32> = (0..o.customers.max(24)).filter(|n| customer_requests(*n)).collect();
        let agents = o.agents.max(4);
        let statuses = ["1", "3", "5", "10000", "10001"];
        let (mut issue_id, mut action_id, mut value_id, mut property_id) = (10_000i64, 50_000i64, 70_000i64, 90_000i64);
        let issue_cols =
            ["id", "issuenum", "project", "reporter", "assignee", "creator", "issuetype", "summary", "description", "issuestatus", "created", "updated"];
        for (p, project) in [10000i64, 10001].into_iter().enumerate() {
            for r in 0..o.requests_per_project {
                issue_id += 1;
                let number = i64::from(r) + 1;
                let base = p * o.requests_per_project as usize + r as usize;
                let pick = |k: u32| requesters[(base + 5 * k as usize) % requesters.len()];
                let reporter = match (p, number) {
                    (0, 2) => DELETED_CUSTOMER_KEY.to_string(),
                    (1, 2) => INACTIVE_DIRECTORY_KEY.to_string(),
                    _ => customer_key(pick(0)),
                };
                let agent = agent_name(2 + (r % (agents - 2)));
                let created = format!("2024-0{}-{:02} {:02}:15:00+00", 3 + p, 1 + r % 28, 8 + r % 9);
                self.w
                    .row(
                        "jiraissue",
                        &issue_cols,
                        vec![
                            i(issue_id),
                            i(number),
                            i(project),
                            t(&reporter),
                            t(&agent),
                            t(&reporter),
                            t("10200"),
                            t(format!("Request {number}: printer on floor {}", r % 5)),
                            t(format!("h1. Problem\nThe printer on floor {} is jammed (request {number}).", r % 5)),
                            t(statuses[r as usize % statuses.len()]),
                            t(&created),
                            t(&created),
                        ],
                    )
                    .await?;
                self.summary.requests += 1;
                self.related(&reporter);
                let mut participants: Vec<String> = (1..=(r % 3)).map(|k| customer_key(pick(k))).filter(|k| *k != reporter).collect();
                if p == 0 && number == 3 {
                    participants.push(DELETED_CUSTOMER_KEY.into());
                }
                participants.dedup();
                for key in participants {
                    self.related(&key);
                    value_id += 1;
                    self.w
                        .row(
                            "customfieldvalue",
                            &["id", "issue", "customfield", "stringvalue", "textvalue"],
                            vec![i(value_id), i(issue_id), i(10100), t(key), Value::Null],
                        )
                        .await?;
                    self.summary.participants += 1;
                }
                value_id += 1;
                self.w
                    .row(
                        "customfieldvalue",
                        &["id", "issue", "customfield", "stringvalue", "textvalue"],
                        vec![i(value_id), i(issue_id), i(10101), t("portal"), Value::Null],
                    )
                    .await?;
                for c in 0..(r % 4) {
                    action_id += 1;
                    // Agents alternate internal and public notes; customers reply publicly.
                    let (author, internal) = match (p, number, c) {
                        (1, 2, 0) => (DELETED_CUSTOMER_KEY.to_string(), Some(false)),
                        (_, _, 1) => (reporter.clone(), Some(false)),
                        _ => (agent.clone(), Some(c == 0 && r % 2 == 0)),
                    };
                    self.related(&author);
                    // Every fifth comment carries no visibility property: it stays internal.
                    let internal = if action_id % 5 == 0 { None } else { internal };
                    self.w
                        .row(
                            "jiraaction",
                            &["id", "issueid", "author", "actiontype", "actionlevel", "rolelevel", "actionbody", "created"],
                            vec![
                                i(action_id),
                                i(issue_id),
                                t(&author),
                                t("comment"),
                                Value::Null,
                                Value::Null,
                                t(format!("Comment {c} on {number}: have you tried turning it off and on?")),
                                t(&created),
                            ],
                        )
                        .await?;
                    if let Some(internal) = internal {
                        property_id += 1;
                        self.w
                            .row(
                                "entity_property",
                                &["id", "entity_name", "entity_id", "property_key", "created", "updated", "json_value"],
                                vec![
                                    i(property_id),
                                    t(ferry_source::COMMENT_PROPERTY_ENTITY),
                                    i(action_id),
                                    t(ferry_source::PUBLIC_COMMENT_PROPERTY),
                                    t(TS),
                                    t(TS),
                                    t(format!("{{\"internal\":{internal}}}")),
                                ],
                            )
                            .await?;
                        self.summary.public_comments += u64::from(!internal);
                    }
                    self.summary.comments += 1;
                }
                // A worklog entry is an action too, but no comment.
                if r % 6 == 0 {
                    action_id += 1;
                    self.w
                        .row(
                            "jiraaction",
                            &["id", "issueid", "author", "actiontype", "actionlevel", "rolelevel", "actionbody", "created"],
                            vec![i(action_id), i(issue_id), t(&agent), t("worklog"), Value::Null, Value::Null, t("30m"), t(&created)],
                        )
                        .await?;
                }
            }
        }
        for r in 0..6i64 {
            issue_id += 1;
            self.w
                .row(
                    "jiraissue",
                    &issue_cols,
                    vec![
                        i(issue_id),
                        i(r + 1),
                        i(10002),
                        t("agent00"),
                        t("agent01"),
                        t("agent00"),
                        t("10001"),
                        t(format!("Platform task {}", r + 1)),
                        Value::Null,
                        t("1"),
                        t(TS),
                        t(TS),
                    ],
                )
                .await?;
            self.summary.software_issues += 1;
        }
        Ok(())
    }

    async fn organizations(&mut self, o: &JiraOptions) -> anyhow::Result<()> {
        let (mut member_id, mut link_id) = (0i64, 0i64);
        for (id, name, desks) in organizations() {
            self.w.row("\"AO_54307E_ORGANIZATION\"", &["\"ID\"", "\"NAME\""], vec![i(id), t(name)]).await?;
            for n in organization_members(id, o) {
                member_id += 1;
                self.w
                    .row(
                        "\"AO_54307E_ORGANIZATION_MEMBER\"",
                        &["\"ID\"", "\"ORGANIZATION_ID\"", "\"USER_KEY\"", "\"DEFAULT_ORGANIZATION\""],
                        vec![i(member_id), i(id), t(customer_key(n)), Value::Bool(false)],
                    )
                    .await?;
            }
            if !desks.is_empty() {
                for n in organization_members(id, o) {
                    self.related(&customer_key(n));
                }
            }
            for desk in desks {
                link_id += 1;
                self.w
                    .row("\"AO_54307E_CUSTOMERORGANIZATION\"", &["\"ID\"", "\"ORGANIZATION_ID\"", "\"SERVICE_DESK_ID\""], vec![i(link_id), i(id), i(*desk)])
                    .await?;
            }
            self.summary.organizations += 1;
        }
        Ok(())
    }
}

/// The sample organizations: (id, name, service desks).
pub fn organizations() -> [(i64, &'static str, &'static [i64]); 3] {
    [(1, "Acme Corp", &[1]), (2, "Globex", &[2]), (3, "Initech", &[])]
}

/// The customers (by number) in organization `id`: Acme and Initech hold customers no
/// request names, so they are related only through the organization (Acme) or not at
/// all (Initech, on no service desk).
pub fn organization_members(id: i64, o: &JiraOptions) -> Vec<u32> {
    let customers = o.customers.max(24);
    match id {
        1 => vec![7, 8, 11, 12],
        2 => vec![9, 10, 13],
        _ => (15..customers).filter(|n| n % 4 == 3).take(2).collect(),
    }
}

/// Seed a cloud site with the accounts the sample Jira site's special cases meet there:
/// a customer with the known customer's email, a customer with the two-account agent's
/// email, and a full account with the portal manager's email. An account there already
/// (a repeat after an answer was lost) is fine.
pub async fn seed_cloud(dest: &ferry_destination::Destination) -> anyhow::Result<()> {
    let there = |e: &ferry_destination::DestinationError| e.status() == Some(409);
    for (email, name) in [(KNOWN_CUSTOMER_EMAIL, "Known Customer (cloud)"), (TWO_ACCOUNTS_EMAIL, "Dana Dual (cloud customer)")] {
        match dest.create_customer(email, name).await {
            Err(e) if !there(&e) => return Err(e).with_context(|| format!("seeding the customer {email}")),
            _ => {}
        }
    }
    match dest.create_user(FULL_ACCOUNT_EMAIL, "Portal Manager (cloud)", true).await {
        Err(e) if !there(&e) => Err(e).context("seeding the full account"),
        _ => Ok(()),
    }
}
