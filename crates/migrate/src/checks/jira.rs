//! The pre-migration checks of a Jira plan, after the agents' and groups' (which are
//! the Confluence users' and groups' checks): customers' emails, the two identity
//! conflicts between server users and cloud accounts, references that will become
//! Former customer, and project keys taken in the cloud.

use futures_util::{stream, StreamExt};

use super::{check, Check, CheckResult, Facts};
use crate::plan::UsersScope;
use crate::rules::{self, DirectoryUser};
use crate::{ns, Migrator};
use ferry_destination::api::{Origin, ACCOUNT_CUSTOMER, ACCOUNT_FULL, ORIGIN_PROPERTY};
use ferry_destination::JiraEntity;

/// What the Service Management checks look at.
#[derive(Debug, Clone, Default)]
pub struct JiraFacts {
    /// The customers the plan migrates.
    pub customers: Vec<DirectoryUser>,
    /// Agents (in scope) whose email is a cloud customer's: `name (email)`.
    pub two_accounts: Vec<String>,
    /// Customers (in scope) whose email is a full cloud account's: `name (email)`.
    pub full_accounts: Vec<String>,
    /// User keys the selected projects' requests name that have no user to migrate:
    /// `key: reason`.
    pub former_customers: Vec<String>,
    /// Selected project keys that exist in the cloud and were not created by ferry.
    pub project_key_conflicts: Vec<String>,
    /// The selected service projects' requests: (project, requests, comments). Each gets
    /// a new key, and is created and commented by the migrating account.
    pub requests: Vec<(String, u64, u64)>,
}

/// The Service Management checks, in a fixed order.
pub fn jira_checks(facts: &JiraFacts) -> Vec<Check> {
    let review = rules::review_emails(facts.customers.clone());
    vec![
        check(
            "customers.invalid-email",
            CheckResult::Error,
            review.invalid.iter().map(|(u, e)| format!("{} ({e:?})", u.username)).collect(),
            "customers have no valid email address; email is a customer's identity in the cloud, so they will not migrate",
            "give each of them a valid address on the Server site (or leave them out with --customers related), then run the plan",
            "every customer has a valid email address",
        ),
        check(
            "customers.duplicate-email",
            CheckResult::Error,
            review.shared.iter().map(|(u, e, first)| format!("{} shares {e} with {first}", u.username)).collect(),
            "customers share an email address with another user; only the first would migrate",
            "give each customer their own address on the Server site",
            "no two customers share an email address",
        ),
        check(
            "customers.two-accounts",
            CheckResult::Warning,
            facts.two_accounts.clone(),
            "licensed users have the email of a customer account in the cloud: each becomes a full account, and the person will have two accounts (the full one holds the migrated data)",
            "nothing blocks the migration; afterwards, tell these people which account to use, or remove the customer accounts in the cloud",
            "no licensed user's email is a cloud customer's",
        ),
        check(
            "customers.full-account",
            CheckResult::Warning,
            facts.full_accounts.clone(),
            "portal-only customers have the email of a full account in the cloud: they are linked to it and stay full accounts",
            "nothing to do, unless these people should not have a full account in the cloud",
            "no customer's email is a full cloud account's",
        ),
        check(
            "customers.former-customer",
            CheckResult::Warning,
            facts.former_customers.clone(),
            "people named by the requests have no user to migrate (deleted, or only in an inactive directory): what they reported or wrote will stay the migrating account's (each origin names them), and they are left out as participants",
            "restore them on the Server site (or activate their directory) before migrating if they should keep their name",
            "every person the requests name has a user to migrate",
        ),
        check(
            "projects.key-conflict",
            CheckResult::Error,
            facts.project_key_conflicts.clone(),
            "selected service projects have a key that another project already has in the cloud site; their requests would not migrate",
            "rename or delete the cloud projects, or leave these projects out with --projects",
            "no selected project key exists in the cloud site",
        ),
        check(
            "fidelity.requests",
            CheckResult::Warning,
            facts.requests.iter().filter(|(_, r, _)| *r > 0).map(|(p, r, c)| format!("{p}: {r} requests, {c} comments")).collect(),
            "service projects have requests that will be created anew through the public API: each gets a new key and today's date, is raised and commented by the migrating account, and moves to its status only where the cloud workflow has a transition to it. Each keeps its server key, reporter, date and status in its ferry-origin issue property (comments: their author and date), the reporter and participants are set after without notifying anyone, and the report maps every server key to its new key",
            "nothing to fix: tell the agents and customers their requests have new keys (the report's key map); check the statuses the report names",
            "no request to create",
        ),
    ]
}

impl Migrator {
    /// What the checks of a Jira plan look at.
    pub(super) async fn jira_facts(&mut self) -> anyhow::Result<Facts> {
        let mut facts = Facts { product: ferry_source::Product::Jira, trusted_domains: self.plan.trusted_domains.clone(), ..Facts::default() };
        let scope = self.jira_scope().await?;
        // One read of the user keys: each username's keys (for the customers in scope),
        // and the usernames of the keys the requests name (for Former customers).
        let mut keys_of: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        self.source
            .each_user_key(|key, name| {
                if scope.requesters.contains(&key) {
                    names.insert(key.clone(), name.clone());
                }
                keys_of.entry(name).or_default().push(key);
            })
            .await?;
        facts.users = self.agents_in_scope(&scope).await?;
        facts.users_without_account = self.users_without_account(&facts.users).await?;
        self.group_facts(&mut facts, self.plan.users == UsersScope::All).await?;
        let only = match self.plan.customers {
            UsersScope::None => None,
            UsersScope::All => Some(None),
            UsersScope::Related => Some(Some(&scope.related)),
        };
        if let Some(only) = only {
            let dirs = self.directories().await?;
            facts.jira.customers = crate::jira::customers_in_scope(&dirs, only, &keys_of).into_iter().cloned().collect();
        }

        // Identity conflicts: what the cloud already has for each email (customers
        // linked by an earlier plan need no question).
        let mapped = self.maps.preload(ns::CUSTOMER, None).await?;
        let agents: Vec<(String, String)> = rules::review_emails(facts.users.clone()).usable.into_iter().map(|(u, e)| (u.username, e)).collect();
        let customers: Vec<(String, String)> = rules::review_emails(facts.jira.customers.clone())
            .usable
            .into_iter()
            .filter(|(_, e)| !mapped.contains_key(&format!("email/{e}")))
            .map(|(u, e)| (u.username, e))
            .collect();
        facts.jira.two_accounts = self.emails_with_account(agents, ACCOUNT_CUSTOMER).await?;
        facts.jira.full_accounts = self.emails_with_account(customers, ACCOUNT_FULL).await?;

        let dirs = self.directories().await?;
        let referenced = &scope.requesters;
        facts.jira.former_customers = referenced
            .iter()
            .filter_map(|key| crate::jira::gone_reason(names.get(key).map(String::as_str), &dirs).map(|why| format!("{key}: {why}")))
            .collect();

        let mapped_projects = self.maps.preload(ns::PROJECT, None).await?;
        for project in &scope.projects {
            let (requests, comments) = self.source.request_counts(project.id).await?;
            facts.jira.requests.push((project.key.clone(), requests, comments));
            if !mapped_projects.contains_key(&project.key) && self.dest.project(&project.key).await?.is_some() {
                // One an earlier run of this Server site created (another admin's ledger) is ours.
                let origin: Option<Origin> = self.dest.entity_property(JiraEntity::Project, &project.key, ORIGIN_PROPERTY).await?;
                if !origin.is_some_and(|o| o.same_entity(&Origin::of(self.maps.site(), "project", &project.key))) {
                    facts.jira.project_key_conflicts.push(project.key.clone());
                }
            }
        }
        Ok(facts)
    }

    /// Of `people` (name, email), those whose email has a cloud account of `account_type`,
    /// as `name (email)`.
    async fn emails_with_account(&self, people: Vec<(String, String)>, account_type: &str) -> anyhow::Result<Vec<String>> {
        let dest = &self.dest;
        let found: Vec<anyhow::Result<Option<String>>> = stream::iter(people)
            .map(|(name, email)| async move {
                let accounts = dest.accounts_by_email(&email).await?;
                Ok(accounts.iter().any(|a| a.account_type == account_type).then(|| format!("{name} ({email})")))
            })
            .buffered(crate::DEFAULT_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::new();
        for f in found {
            out.extend(f?);
        }
        Ok(out)
    }
}
