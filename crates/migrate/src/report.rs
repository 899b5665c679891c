//! The report of a plan: counts server vs cloud per kind, every failure with its reason,
//! Former User attributions, dropped permissions, groups awaiting review.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of entity the core migration counts.
pub const KINDS: [&str; 10] = ["users", "groups", "spaces", "pages", "blogposts", "versions", "comments", "attachments", "restrictions", "labels"];

/// The kinds a Jira (Service Management) plan counts.
pub const JIRA_KINDS: [&str; 6] = ["customers", "agents", "groups", "organizations", "requests", "comments"];

/// Server vs cloud for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Count {
    /// Entities in scope on the server.
    pub server: u64,
    /// Entities of those now in the cloud (created or linked).
    pub cloud: u64,
    /// Entities that failed.
    pub failed: u64,
}

/// One entity that did not migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    /// Its kind (`users`, `pages`, ...).
    pub kind: String,
    /// Its server id (user name, group name, space key, content id).
    pub server_id: String,
    /// Why, and what to do.
    pub reason: String,
    /// What people call it, for content: a page's or blog post's title, an attachment's
    /// file name, the title of the page a comment is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The key of the space it is in, for content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
}

/// The kinds of failure whose server id is a content id (named after the run).
pub const CONTENT_KINDS: &[&str] = &["pages", "blogposts", "comments", "attachments", "restrictions", "labels", "references", "versions"];

/// A space permission that was not migrated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DroppedPermission {
    /// The space.
    pub space: String,
    /// The permission type.
    pub permission: String,
    /// Who held it.
    pub subject: String,
    /// Why it was dropped.
    pub reason: String,
}

/// A user or group a page restriction named that does not exist in the cloud: the
/// restriction migrated without it (tighter, never looser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestrictionLoss {
    /// The page or blog post (server content id).
    pub content_id: i64,
    /// Its title.
    pub title: String,
    /// `view` or `edit`.
    pub kind: String,
    /// `user <key>` or `group <name>`.
    pub subject: String,
    /// Who the restriction allows now, when nobody it named remains.
    pub fallback: Option<String>,
}

/// A reference in a body that still names a server id after migration, or a body that
/// could not be read (it migrated unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnresolvedReference {
    /// The page, blog post or comment (server content id).
    pub content_id: i64,
    /// Its title (empty for comments).
    pub title: String,
    /// The reference as it stays (a server page id or a short link), or empty for a
    /// body that could not be read.
    pub reference: String,
    /// Why it stays.
    pub reason: String,
}

/// An inline comment whose highlighted text is no longer in its page on the server (the
/// marker was edited away): it migrated as a footer comment of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetachedComment {
    /// The comment (server content id).
    pub comment_id: i64,
    /// The page or blog post it is on (server content id).
    pub page_id: i64,
    /// The text it highlighted.
    pub selection: String,
}

/// A request left at another status than the server's: the cloud workflow has no
/// transition from where it was created to that status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusNotSet {
    /// The request's server key.
    pub request: String,
    /// Its status on the server.
    pub server_status: String,
    /// The status it has in the cloud.
    pub left_at: String,
}

/// A server user key that requests refer to, attributed to Former customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FormerCustomer {
    /// The server user key.
    pub user_key: String,
    /// Why it has no account: deleted, only in an inactive directory, or not migrated.
    pub reason: String,
    /// How many references were attributed.
    pub references: u64,
    /// Where it was referenced (`SD-12 reporter`, `SD-12 participant`, `SD-12 comment
    /// 10431`), the first ones.
    pub referenced_in: Vec<String>,
}

/// References listed per Former customer at most (the count says how many in all).
pub const REFERENCES_LISTED: usize = 20;

/// A person who ends with two cloud accounts: licensed on the server (a full account
/// now) while their email was already a cloud customer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwoAccounts {
    /// The server username.
    pub username: String,
    /// Their display name.
    pub display_name: String,
    /// The email both accounts have.
    pub email: String,
    /// The full account (the one migrated data points to).
    pub full_account: String,
    /// The customer account that was already there.
    pub customer_account: String,
}

/// A Jira project a plan did not migrate, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProjectNotMigrated {
    /// The project key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// `service_desk`, `software`, `business` (empty when the server records none).
    pub kind: String,
    /// Its issues on the server.
    pub issues: u64,
    /// Why it was not migrated.
    pub reason: String,
}

/// The report of one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanReport {
    /// Plan id.
    pub id: String,
    /// Plan name.
    pub name: String,
    /// Plan status.
    pub status: String,
    /// Per kind: server, cloud, failed.
    pub counts: BTreeMap<String, Count>,
    /// Every failed entity.
    pub failures: Vec<Failure>,
    /// Content whose author has no cloud account (a former user): its origin says so.
    pub former_user: u64,
    /// Pages, blog posts and comments this plan migrated, each authored in the cloud by
    /// the migrating account (the public API sets no other author or date; each keeps its
    /// original ones in its origin).
    #[serde(default)]
    pub authored_by_migrating_account: u64,
    /// Requests the Cloud site answered 429 (each retried after the pause it asked for,
    /// every request to the site pausing with it).
    #[serde(default)]
    pub throttled_requests: u64,
    /// Permissions dropped.
    pub dropped_permissions: Vec<DroppedPermission>,
    /// Page restrictions that lost a user or group missing in the cloud.
    #[serde(default)]
    pub restriction_losses: Vec<RestrictionLoss>,
    /// References in bodies that still name server ids (their page did not migrate, or
    /// the body could not be read); a later plan that migrates the page fixes them.
    #[serde(default)]
    pub unresolved_references: Vec<UnresolvedReference>,
    /// Bodies migrated by earlier plans whose references this plan's pages resolved.
    #[serde(default)]
    pub earlier_bodies_fixed: u64,
    /// Users the directory holds but names no Atlassian account for (a directory that is
    /// not an Atlassian organisation's): their content goes to the migrating account.
    #[serde(default)]
    pub users_without_account: Vec<String>,
    /// Inline comments whose highlighted text was gone from their page: migrated as
    /// footer comments.
    #[serde(default)]
    pub detached_inline_comments: Vec<DetachedComment>,
    /// The product migrated (`confluence` or `jira`).
    #[serde(default)]
    pub product: String,
    /// Jira: requests' references to people with no cloud account, attributed to
    /// Former customer.
    #[serde(default)]
    pub former_customer: Vec<FormerCustomer>,
    /// Jira: each migrated request's new key, by its server key (the public API gives a
    /// new request a new key; the server's is in its `ferry-origin` property too).
    #[serde(default)]
    pub request_keys: BTreeMap<String, String>,
    /// Jira: requests whose server status the cloud workflow has no transition to.
    #[serde(default)]
    pub statuses_not_set: Vec<StatusNotSet>,
    /// Jira: people who end with a full account and a customer account.
    #[serde(default)]
    pub two_accounts: Vec<TwoAccounts>,
    /// Jira: the projects of the server this plan did not migrate, and why (Ferry
    /// migrates service projects only).
    #[serde(default)]
    pub projects_not_migrated: Vec<ProjectNotMigrated>,
    /// Jira: portal-only server users linked to a full cloud account (they stay full).
    #[serde(default)]
    pub customers_with_full_accounts: u64,
    /// Which versions of pages and blog posts the plan migrated (`all` or `current`).
    #[serde(default)]
    pub history: String,
    /// Groups created by this plan, awaiting the admin's permission review.
    pub groups_awaiting_review: Vec<String>,
    /// Server groups merged into cloud groups of the same name.
    pub merged_groups: Vec<String>,
    /// Blocklisted groups skipped (their members migrated).
    pub skipped_groups: Vec<String>,
    /// Users hidden by a user of the same name in an earlier directory.
    pub shadowed_users: Vec<String>,
    /// Accounts linked to existing cloud accounts rather than created.
    pub linked_users: u64,
    /// Attachment links dropped because the file was deleted on the server since.
    pub dropped_attachments: u64,
    /// Fatal error that ended the plan, if any.
    pub error: Option<String>,
    /// Seconds spent per step (users, groups, pages, comments, attachments, permissions).
    #[serde(default)]
    pub step_seconds: BTreeMap<String, f64>,
    /// Bytes of attachments uploaded.
    #[serde(default)]
    pub attachment_bytes: u64,
    /// The pre-migration checks the run started with.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// The admin's choice for Stage 1 apps (`proceed` or `remove`), when there were any.
    #[serde(default)]
    pub stage1_choice: Option<crate::Stage1Choice>,
    /// The Stage 1 apps that choice concerned.
    #[serde(default)]
    pub stage1_apps: Vec<String>,
    /// Each app migration of the plan (its latest run).
    #[serde(default)]
    pub apps: Vec<AppOutcome>,
    /// Why the app migrations did not start, when they did not.
    #[serde(default)]
    pub apps_not_started: Option<String>,
}

impl PlanReport {
    /// An empty report with every kind of a Confluence plan present.
    pub fn new(id: &str, name: &str) -> PlanReport {
        PlanReport::for_product(id, name, ferry_source::Product::Confluence)
    }

    /// An empty report with every kind of the product's plans present.
    pub fn for_product(id: &str, name: &str, product: ferry_source::Product) -> PlanReport {
        let kinds: &[&str] = match product {
            ferry_source::Product::Confluence => &KINDS,
            ferry_source::Product::Jira => &JIRA_KINDS,
        };
        PlanReport {
            id: id.into(),
            name: name.into(),
            product: product.to_string(),
            counts: kinds.iter().map(|k| (k.to_string(), Count::default())).collect(),
            ..PlanReport::default()
        }
    }

    /// The kinds this report counts, in the order a table shows them.
    pub fn kinds(&self) -> &'static [&'static str] {
        if self.product == "jira" {
            &JIRA_KINDS
        } else {
            &KINDS
        }
    }

    /// The count of a kind.
    pub fn count(&mut self, kind: &str) -> &mut Count {
        self.counts.entry(kind.to_string()).or_default()
    }

    /// Record a failed entity.
    pub fn fail(&mut self, kind: &str, server_id: impl Into<String>, reason: impl Into<String>) {
        self.fail_n(kind, server_id, 1, reason);
    }

    /// Record that `n` entities of one server entity did not migrate (its labels, its
    /// restrictions), under one failure.
    pub fn fail_n(&mut self, kind: &str, server_id: impl Into<String>, n: u64, reason: impl Into<String>) {
        self.count(kind).failed += n;
        self.failures.push(Failure { kind: kind.into(), server_id: server_id.into(), reason: reason.into(), title: None, space: None });
    }

    /// Add time spent in a step.
    pub fn time(&mut self, step: &str, started: std::time::Instant) {
        *self.step_seconds.entry(step.to_string()).or_default() += started.elapsed().as_secs_f64();
    }

    /// The status the plan ends with: `failed` when nothing reached the cloud,
    /// `incomplete` when some entities failed, else `finished`.
    pub fn outcome(&self) -> &'static str {
        let landed: u64 = self.counts.values().map(|c| c.cloud).sum();
        if self.error.is_some() && landed == 0 {
            "failed"
        } else if self.error.is_some() || !self.failures.is_empty() {
            if landed == 0 {
                "failed"
            } else {
                "incomplete"
            }
        } else {
            "finished"
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    /// Nothing found.
    Pass,
    /// Found something the admin should know; the run may go on.
    Warning,
    /// Found something that must be fixed before the run.
    Error,
}

impl CheckResult {
    /// The result as shown.
    pub fn name(self) -> &'static str {
        match self {
            CheckResult::Pass => "pass",
            CheckResult::Warning => "warning",
            CheckResult::Error => "error",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// The stable code, e.g. `users.invalid-email`.
    pub code: String,
    /// `pass`, `warning` or `error`.
    pub result: CheckResult,
    /// What was found, in a sentence.
    pub message: String,
    /// The entities concerned (at most [`crate::checks::ENTITIES_SHOWN`]).
    pub entities: Vec<String>,
    /// How many entities there are in all.
    pub count: usize,
    /// How to fix it (empty on pass).
    pub fix: String,
}

/// What one app's migration did (the latest run of the app in the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppOutcome {
    /// Server app key.
    pub app: String,
    /// Plugin version.
    pub version: String,
    /// `ready`, `running`, `complete`, `incomplete`, `failed` or `timed-out`.
    pub status: String,
    /// Why, when not complete (or why it did not run).
    pub message: Option<String>,
    /// The transfer the uploads are filed under (none before it ran).
    pub transfer_id: Option<String>,
    /// The first transfer, for a re-run.
    pub original_transfer_id: Option<String>,
    /// The last progress the plugin reported.
    pub progress_percent: u8,
    /// Rows read per scope.
    pub rows_per_scope: BTreeMap<String, u64>,
    /// Denied calls.
    pub denied: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// When it started and ended.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Where its data was sent: the cloud app's migration endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Whether the admin set that endpoint in place of the manifest's.
    #[serde(default)]
    pub endpoint_overridden: bool,
    /// Uploads sent to the cloud app.
    #[serde(default)]
    pub uploads: u64,
    /// How the plugin's own run ended (`complete`, `incomplete`, `failed`, `timed-out`),
    /// and its reason: kept beside the settled status.
    #[serde(default)]
    pub plugin_status: Option<String>,
    /// The plugin's reason.
    #[serde(default)]
    pub plugin_message: Option<String>,
    /// How the cloud app settled the transfer; `None` until it has.
    #[serde(default)]
    pub settlement: Option<AppSettlement>,
}

/// How a cloud app settled a transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppSettlement {
    /// `success`, `incomplete` or `failed`.
    pub status: String,
    /// What the cloud app said.
    pub message: Option<String>,
    /// When Ferry learned it.
    pub at: String,
}
