//! The Jira Service Management migration: agents and groups (the users-and-groups
//! rules of the Confluence migration, for licensed users), customers, organizations,
//! then each service project with its requests, their participants and comments.
//!
//! Every entity is recorded in the mapping ledger as it lands, so a rerun links instead
//! of duplicating and a killed run loses nothing. A request is created through the public
//! API as a new request (a new key; the server's key, reporter, date and status are kept
//! in its `ferry-origin` issue property), raised by the migrating account so nobody is
//! told; its comments follow in order, each with its origin in a comment property; its
//! status is set by a transition where the workflow has one; then its reporter and
//! participants are set quietly. Each create is recorded as intended first, and looked
//! for (by its origin) before it is repeated.
//!
//! People the requests refer to who have no cloud account (deleted, left only in an
//! inactive directory, or not migrated) are attributed to the site's one Former
//! customer placeholder, and reported with where they were referenced.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use futures_util::{stream, StreamExt};

use super::identity::LandedUser;
use super::report::{FormerCustomer, StatusNotSet, TwoAccounts, REFERENCES_LISTED};
use super::rules::{self, DirectoryUser};
use super::{ns, MappingRow, Migrator, Queued};
use crate::plan::UsersScope;
use anyhow::Context;
use ferry_destination::api::*;
use ferry_destination::JiraEntity;
use ferry_source::{ServerOrganization, ServerProject, ServerRequest};

/// Customer mapping rows committed together (a customer has an email row and one per
/// user key).
const CUSTOMER_ROWS_PER_COMMIT: usize = 1_024;

/// Requests read from the source at a time.
const REQUEST_BATCH: u32 = 500;

/// What a Jira run carries from step to step.
#[derive(Default)]
struct JiraRun {
    /// User keys of customers (their accounts are in `Migrator::authors`).
    customer_keys: HashSet<String>,
    /// Server organization id → cloud organization id.
    organizations: HashMap<i64, String>,
    /// Former customer attributions, by user key.
    former: BTreeMap<String, FormerCustomer>,
    /// Why users that did not land failed (username → reason), for Former customer.
    failed: HashMap<String, String>,
    /// User keys of people whose migration failed in this plan, with why: requests that
    /// name them wait for a rerun.
    waiting: HashMap<String, String>,
}

/// A request names someone whose migration failed in this plan. The request is not
/// sent: pointing it at Former customer would be for good (a rerun links what landed),
/// while a rerun that migrates the person creates it right.
#[derive(Debug)]
struct WaitsForPerson(String);

impl std::fmt::Display for WaitsForPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WaitsForPerson {}

/// What a Jira plan covers, read from the source: its service projects, the people
/// their requests name, and the organizations.
pub(crate) struct JiraScope {
    /// The selected service projects.
    pub(crate) projects: Vec<ServerProject>,
    /// Every organization of the site.
    pub(crate) organizations: Vec<ServerOrganization>,
    /// The reporters, participants and comment authors of the selected projects'
    /// requests (each project's are read again when it migrates: a large site has
    /// many).
    pub(crate) requesters: BTreeSet<String>,
    /// Assignees, creators and leads of the selected projects.
    pub(crate) staff: BTreeSet<String>,
    /// User keys a related customer can have: requesters of every selected project and
    /// members of organizations on their service desks.
    pub(crate) related: BTreeSet<String>,
    /// The selected projects' service desks (server ids).
    pub(crate) desks: BTreeSet<i64>,
}

impl JiraScope {
    /// The organizations the plan migrates with `customers`: every one with all
    /// customers, those on the selected service desks with related ones, none without.
    pub(crate) fn organizations_in_scope(&self, customers: UsersScope) -> Vec<ServerOrganization> {
        match customers {
            UsersScope::None => Vec::new(),
            UsersScope::All => self.organizations.clone(),
            UsersScope::Related => self.organizations.iter().filter(|o| o.service_desks.iter().any(|d| self.desks.contains(d))).cloned().collect(),
        }
    }
}

/// Why a referenced user key has no user to migrate, when it has none: deleted (no
/// username, or a username in no directory), or only in an inactive directory. `name`
/// is the user key's lower-cased username, if it has one.
pub(crate) fn gone_reason(name: Option<&str>, dirs: &super::identity::Directories) -> Option<String> {
    let Some(name) = name else { return Some("deleted: no user has this key any more".into()) };
    if dirs.inactive_only.contains(name) {
        return Some(format!("{name} is only in an inactive directory"));
    }
    if dirs.resolved.find(name).is_none() {
        return Some(format!("deleted: {name} is in no directory"));
    }
    None
}

impl Migrator {
    /// What the plan covers.
    /// Name in the report every project of the server this plan does not migrate, and why.
    async fn report_projects_left_out(&mut self, selected: &[ServerProject]) -> anyhow::Result<()> {
        for project in self.source.projects().await? {
            if selected.iter().any(|p| p.id == project.id) {
                continue;
            }
            let reason = project.not_migrated_reason().unwrap_or_else(|| "a service project this plan did not choose (--projects)".into());
            let (issues, _) = self.source.request_counts(project.id).await?;
            self.report.projects_not_migrated.push(crate::report::ProjectNotMigrated {
                key: project.key,
                name: project.name,
                kind: project.kind,
                issues,
                reason,
            });
        }
        Ok(())
    }

    pub(crate) async fn jira_scope(&self) -> anyhow::Result<JiraScope> {
        let projects = self.plan.selected_projects(&self.source).await?;
        let desks: BTreeSet<i64> = projects.iter().filter_map(|p| p.service_desk).collect();
        let organizations = self.source.organizations().await?;
        let mut requesters: BTreeSet<String> = BTreeSet::new();
        let mut staff: BTreeSet<String> = BTreeSet::new();
        for project in &projects {
            let people = self.source.related_people(project).await?;
            staff.extend(people.staff);
            requesters.extend(people.requesters);
        }
        let mut related: BTreeSet<String> = requesters.clone();
        for org in organizations.iter().filter(|o| o.service_desks.iter().any(|d| desks.contains(d))) {
            related.extend(org.members.iter().cloned());
        }
        Ok(JiraScope { projects, organizations, requesters, staff, related, desks })
    }

    /// The agents a Jira plan migrates (all licensed users, or those its projects name).
    pub(crate) async fn agents_in_scope(&mut self, scope: &JiraScope) -> anyhow::Result<Vec<DirectoryUser>> {
        Ok(match self.plan.users {
            UsersScope::None => Vec::new(),
            UsersScope::All => self.users_in_scope(None).await?.0,
            UsersScope::Related => self.users_in_scope(Some(scope.related.iter().chain(&scope.staff).cloned().collect())).await?.0,
        })
    }

    /// Each lower-cased username's user keys (read as a stream: one map is held).
    pub(crate) async fn keys_by_username(&self) -> anyhow::Result<HashMap<String, Vec<String>>> {
        let mut keys_of: HashMap<String, Vec<String>> = HashMap::new();
        self.source.each_user_key(|key, name| keys_of.entry(name).or_default().push(key)).await?;
        Ok(keys_of)
    }

    /// The steps of a Jira plan.
    pub(crate) async fn jira_steps(&mut self) -> anyhow::Result<()> {
        let mut run = JiraRun::default();
        let mut scope = self.jira_scope().await?;
        self.report_projects_left_out(&scope.projects).await?;
        scope.requesters = BTreeSet::new();
        tracing::debug!("jira scope read; peak RSS {:.0} MB", crate::peak_rss_mb());

        if self.plan.users != UsersScope::None {
            let started = Instant::now();
            let only = (self.plan.users == UsersScope::Related).then(|| scope.related.iter().chain(&scope.staff).cloned().collect());
            let landed = self.migrate_users(only).await?;
            self.report.time("agents", started);
            tracing::debug!("agents migrated; peak RSS {:.0} MB", crate::peak_rss_mb());
            self.find_two_accounts(&landed).await?;
            if self.plan.users == UsersScope::All {
                if self.stop_requested().await? {
                    return Ok(());
                }
                let started = Instant::now();
                self.migrate_groups().await?;
                self.report.time("groups", started);
                tracing::debug!("groups migrated; peak RSS {:.0} MB", crate::peak_rss_mb());
            }
        }
        if self.stop_requested().await? {
            return Ok(());
        }
        if self.plan.customers != UsersScope::None {
            let started = Instant::now();
            if self.plan.customers == UsersScope::All {
                // Not needed for all customers; a large site's set is sizeable.
                scope.related = BTreeSet::new();
            }
            self.migrate_customers((self.plan.customers == UsersScope::Related).then_some(&scope.related), &mut run).await?;
            self.report.time("customers", started);
            tracing::debug!("customers migrated; peak RSS {:.0} MB", crate::peak_rss_mb());
        }
        let in_scope = scope.organizations_in_scope(self.plan.customers);
        if self.stop_requested().await? {
            return Ok(());
        }
        let started = Instant::now();
        self.migrate_organizations(&in_scope, &mut run).await?;
        self.report.time("organizations", started);
        self.people_from_earlier_plans(&mut run).await?;
        tracing::debug!("organizations migrated, earlier plans' people read; peak RSS {:.0} MB", crate::peak_rss_mb());
        for failure in &self.report.failures {
            if failure.kind == "customers" || failure.kind == self.user_kind() {
                run.failed.insert(failure.server_id.to_lowercase(), failure.reason.clone());
            }
        }
        let bar = self.progress.step("projects", scope.projects.len() as u64);
        for project in &scope.projects {
            if self.stop_requested().await? {
                break;
            }
            let started = Instant::now();
            self.migrate_service_project(project, &scope.organizations, &mut run).await?;
            self.report.time("requests", started);
            bar.inc(1);
        }
        bar.finish();
        self.report.former_customer = run.former.into_values().collect();
        Ok(())
    }

    /// Agents whose email is also a cloud customer's: the cloud now has two accounts for
    /// them (the full one holds the migrated data).
    async fn find_two_accounts(&mut self, landed: &[LandedUser]) -> anyhow::Result<()> {
        let dest = &self.dest;
        let found: Vec<(LandedUser, anyhow::Result<Vec<Account>>)> = stream::iter(landed.iter().cloned())
            .map(|user| async move {
                let accounts = dest.accounts_by_email(&user.email).await.map_err(anyhow::Error::from);
                (user, accounts)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (user, accounts) in found {
            let accounts = accounts.map_err(|e| e.context(format!("looking up the cloud accounts of {}", user.email)))?;
            if let Some(customer) = accounts.iter().find(|a| a.account_type == ACCOUNT_CUSTOMER) {
                self.report.two_accounts.push(TwoAccounts {
                    username: user.username,
                    display_name: user.display_name,
                    email: user.email,
                    full_account: user.cloud_id,
                    customer_account: customer.account_id.clone(),
                });
            }
        }
        self.report.two_accounts.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(())
    }

    /// Customers: the unlicensed users of the active directories (every one, or those
    /// behind `only` user keys), each linked to the cloud account with their email (a
    /// full account first) or created as a customer account.
    async fn migrate_customers(&mut self, only: Option<&BTreeSet<String>>, run: &mut JiraRun) -> anyhow::Result<()> {
        let keys_of = self.keys_by_username().await?;
        // The customers are borrowed from the directories, not copied.
        let dirs = self.directories().await?;
        let customers = customers_in_scope(&dirs, only, &keys_of);
        tracing::debug!("{} customers in scope; peak RSS {:.0} MB", customers.len(), crate::peak_rss_mb());
        self.report.count("customers").server = customers.len() as u64;
        let review = rules::review_emails(customers);
        self.fail_unusable_emails("customers", "customer", &review);
        // Customers earlier plans linked, by email (their user keys are not needed here).
        let mut known: HashMap<String, String> = HashMap::new();
        self.maps
            .each_with_prefix(ns::CUSTOMER, "email/", |email, id| {
                known.insert(format!("email/{email}"), id);
            })
            .await?;
        let full = self.maps.preload(ns::CUSTOMER_FULL, None).await?;
        let bar = self.progress.step("customers", review.usable.len() as u64);
        // Only the destination is borrowed by the customers in flight; outcomes are
        // taken as they come (nothing held per customer but its keys and account).
        let mut outcomes = customer_outcomes(&self.dest, review.usable, &known, &full, &keys_of, 4 * self.concurrency.max(1));
        // A customer's mappings are queued as it lands and committed in batches: a
        // customer is found again by email, so one whose commit a killed run lost is
        // linked on the rerun (the site answers 409 to the create), never made twice.
        let mut rows: Vec<MappingRow> = Vec::new();
        let mut queued: std::collections::VecDeque<Queued> = std::collections::VecDeque::new();
        while let Some((user, email, keys, outcome)) = outcomes.next().await {
            bar.inc(1);
            match outcome {
                Ok(Customer { account, full, new }) => {
                    self.report.count("customers").cloud += 1;
                    self.report.customers_with_full_accounts += u64::from(full);
                    if new {
                        let row = |namespace: &str, id: String| (namespace.to_string(), id, account.clone(), None);
                        let email_id = format!("email/{email}");
                        if full {
                            rows.push(row(ns::CUSTOMER_FULL, email_id.clone()));
                        }
                        rows.push(row(ns::CUSTOMER, email_id));
                        rows.extend(keys.iter().map(|k| row(ns::CUSTOMER, self.user_key_id(k))));
                    }
                    for key in keys {
                        self.authors.insert(key.clone(), Some(account.clone()));
                        run.customer_keys.insert(key);
                    }
                }
                Err(e) => self.report.fail("customers", &user.username, format!("{e:#}")),
            }
            if rows.len() >= CUSTOMER_ROWS_PER_COMMIT {
                queued.push_back(self.maps.queue_rows(std::mem::take(&mut rows)).await?);
            }
            while let Some(committed) = queued.front_mut().and_then(Queued::done) {
                committed.context("recording customers in the mapping ledger")?;
                queued.pop_front();
            }
        }
        queued.push_back(self.maps.queue_rows(rows).await?);
        for committed in queued {
            committed.wait().await.context("recording customers in the mapping ledger")?;
        }
        bar.finish();
        Ok(())
    }

    /// Organizations, linked by name to a cloud organization that has it, with their
    /// members that have cloud accounts.
    async fn migrate_organizations(&mut self, organizations: &[ServerOrganization], run: &mut JiraRun) -> anyhow::Result<()> {
        self.report.count("organizations").server = organizations.len() as u64;
        let known = self.maps.preload(ns::ORGANIZATION, None).await?;
        let mut by_name: Option<HashMap<String, String>> = None;
        let bar = self.progress.step("organizations", organizations.len() as u64);
        for org in organizations {
            bar.inc(1);
            let landed: anyhow::Result<String> = async {
                let id = match known.get(&org.id.to_string()) {
                    Some(id) => id.clone(),
                    None => {
                        let id = match self.dest.create_organization(&org.name).await {
                            Ok(created) => created.id,
                            Err(e) if e.status() == Some(409) => {
                                if by_name.is_none() {
                                    let all = self.dest.organizations().await?;
                                    by_name = Some(all.into_iter().map(|o| (o.name.trim().to_lowercase(), o.id)).collect());
                                }
                                let names = by_name.as_ref().expect("listed above");
                                names
                                    .get(&org.name.trim().to_lowercase())
                                    .cloned()
                                    .ok_or_else(|| anyhow::anyhow!("the site says an organization named {:?} exists but does not list it", org.name))?
                            }
                            Err(e) => return Err(e.into()),
                        };
                        self.maps.put(ns::ORGANIZATION, &org.id.to_string(), &id, None).await?;
                        id
                    }
                };
                let members: Vec<String> = org.members.iter().filter_map(|k| self.authors.get(k).cloned().flatten()).collect();
                self.dest.add_organization_members(&id, &members).await?;
                Ok(id)
            }
            .await;
            match landed {
                Ok(id) => {
                    self.report.count("organizations").cloud += 1;
                    run.organizations.insert(org.id, id);
                }
                Err(e) => self.report.fail("organizations", &org.name, format!("{e:#}")),
            }
        }
        bar.finish();
        Ok(())
    }

    /// Every person's account the site's plans recorded, by user key (`ferry verify`).
    pub(crate) async fn load_known_people(&mut self) -> anyhow::Result<()> {
        self.people_from_earlier_plans(&mut JiraRun::default()).await
    }

    /// The accounts of people earlier plans migrated to this site (agents first), for
    /// the user keys this plan has none for. The ledger is streamed, not loaded.
    async fn people_from_earlier_plans(&mut self, run: &mut JiraRun) -> anyhow::Result<()> {
        let prefix = self.user_key_id("");
        for (namespace, customers) in [(ns::USER, false), (ns::CUSTOMER, true)] {
            let (maps, authors) = (&self.maps, &mut self.authors);
            maps.each_with_prefix(namespace, &prefix, |key, cloud_id| {
                let entry = authors.entry(key.to_string()).or_insert(None);
                if entry.is_none() {
                    *entry = Some(cloud_id);
                }
                if customers && !run.customer_keys.contains(key) {
                    run.customer_keys.insert(key.to_string());
                }
            })
            .await?;
        }
        Ok(())
    }

    /// Why a user key whose username is `name` has no cloud account (its migration did
    /// not fail in this plan: such references wait, see [`WaitsForPerson`]).
    async fn no_account_reason(&mut self, name: Option<&str>) -> anyhow::Result<String> {
        let dirs = self.directories().await?;
        if let Some(gone) = gone_reason(name, &dirs) {
            return Ok(gone);
        }
        let name = name.expect("gone_reason covers a key without a username");
        Ok(format!("{name} is not migrated by this plan or an earlier one (its users or customers scope leaves them out)"))
    }

    /// The account for a reference to `key`, or `None` for a person with no cloud account
    /// (a former customer: the migrating account stands in, and the origin names them),
    /// noting the reference with where it was.
    async fn person(&mut self, key: Option<&str>, place: String, run: &mut JiraRun) -> anyhow::Result<Option<String>> {
        if let Some(account) = key.and_then(|k| self.authors.get(k).cloned().flatten()) {
            return Ok(Some(account));
        }
        let key = key.unwrap_or("(none)").to_string();
        if let Some(why) = run.waiting.get(&key) {
            return Err(WaitsForPerson(why.clone()).into());
        }
        if !run.former.contains_key(&key) {
            let reason = if key == "(none)" {
                "the server names nobody".to_string()
            } else {
                // Asked once per person without an account: the username is looked up,
                // not held.
                let name = self.source.username_of_key(&key).await?;
                if let Some(why) =
                    name.as_ref().and_then(|n| run.failed.get(n).map(|why| format!("{n} did not migrate ({why}): a new plan migrates them, then this request")))
                {
                    run.waiting.insert(key, why.clone());
                    return Err(WaitsForPerson(why).into());
                }
                self.no_account_reason(name.as_deref()).await?
            };
            run.former.insert(key.clone(), FormerCustomer { user_key: key.clone(), reason, references: 0, referenced_in: Vec::new() });
        }
        let entry = run.former.get_mut(&key).expect("inserted above");
        entry.references += 1;
        if entry.referenced_in.len() < REFERENCES_LISTED {
            entry.referenced_in.push(place);
        }
        Ok(None)
    }

    /// A service project: the project (refused when its key is taken in the cloud by a
    /// project ferry did not create), its service desk's organizations and customers,
    /// then its requests.
    async fn migrate_service_project(&mut self, project: &ServerProject, organizations: &[ServerOrganization], run: &mut JiraRun) -> anyhow::Result<()> {
        let (requests, comments) = self.source.request_counts(project.id).await?;
        self.report.count("requests").server += requests;
        self.report.count("comments").server += comments;
        let (desk, unrecorded) = match self.land_project(project).await {
            Ok(landed) => landed,
            Err(e) => {
                self.report.fail_n("requests", &project.key, requests, format!("project {}: {e:#}", project.key));
                self.report.count("comments").failed += comments;
                return Ok(());
            }
        };
        if let Some(server_desk) = project.service_desk {
            for org in organizations.iter().filter(|o| o.service_desks.contains(&server_desk)) {
                if let Some(cloud_org) = run.organizations.get(&org.id) {
                    if let Err(e) = self.dest.add_service_desk_organization(&desk, cloud_org).await {
                        self.report.fail("organizations", &org.name, format!("adding it to the service desk of {}: {e}", project.key));
                    }
                }
            }
        }
        let mut customers: Vec<String> = {
            let requesters = self.source.related_people(project).await?.requesters;
            requesters.iter().filter(|k| run.customer_keys.contains(*k)).filter_map(|k| self.authors.get(k).cloned().flatten()).collect()
        };
        customers.sort_unstable();
        customers.dedup();
        if let Err(e) = self.dest.add_service_desk_customers(&desk, &customers).await {
            self.report.fail("customers", &project.key, format!("adding the customers of {} to its service desk: {e}", project.key));
        }
        self.migrate_requests(project, &desk, (requests, unrecorded), run).await
    }

    /// Create the project (or link the one an earlier run of this site created, found by
    /// key and its origin) and return its service desk id, and whether its requests may
    /// be in the cloud with no record here (a project this ledger did not create: every
    /// request is looked for before it is created).
    async fn land_project(&mut self, project: &ServerProject) -> anyhow::Result<(String, bool)> {
        let mut unrecorded = false;
        if self.maps.get(ns::PROJECT, &project.key).await?.is_none() {
            let lead = project.lead.as_ref().and_then(|k| self.authors.get(k).cloned().flatten());
            let new = NewProject { key: project.key.clone(), name: project.name.clone(), project_type_key: "service_desk".into(), lead_account_id: lead };
            let origin = Origin { key: Some(project.key.clone()), ..Origin::of(self.maps.site(), "project", &project.key) };
            // A project a killed run created is found by its key.
            let look = self.maps.intents(ns::PROJECT).await?.contains(&project.key);
            self.maps.intend(ns::PROJECT, std::slice::from_ref(&project.key)).await?;
            let dest = &self.dest;
            let created = match dest.create_looking_first(look, || dest.project(&project.key), || dest.create_project(&new)).await {
                Ok(created) => created,
                Err(e) if e.status() == Some(409) => {
                    // Ours if an earlier run of this Server site made it (another admin's
                    // ledger, or one lost): its requests are looked for one by one.
                    let theirs: Option<Origin> = dest.entity_property(JiraEntity::Project, &project.key, ORIGIN_PROPERTY).await?;
                    match (theirs, dest.project(&project.key).await?) {
                        (Some(o), Some(existing)) if o.same_entity(&origin) => {
                            unrecorded = true;
                            existing
                        }
                        _ => anyhow::bail!(
                            "the cloud site has a project with key {} that ferry did not create: its requests are not migrated (rename or delete that project, then run a new plan)",
                            project.key
                        ),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            dest.set_entity_property(JiraEntity::Project, &project.key, ORIGIN_PROPERTY, &origin).await?;
            self.maps.put(ns::PROJECT, &project.key, &created.id, None).await?;
        }
        let desks = self.dest.service_desks().await?;
        let desk = desks
            .into_iter()
            .find(|d| d.project_key.eq_ignore_ascii_case(&project.key))
            .map(|d| d.id)
            .ok_or_else(|| anyhow::anyhow!("the cloud project {} has no service desk", project.key))?;
        Ok((desk, unrecorded))
    }

    /// The requests of a project as one pipeline: the source is read a batch ahead,
    /// each request's body is built as a slot frees up, and up to four times the
    /// destination's concurrency requests are under way (the destination itself caps
    /// how many HTTP calls run at once; the rest wait for their mappings to commit).
    async fn migrate_requests(&mut self, project: &ServerProject, desk: &str, (requests, unrecorded): (u64, bool), run: &mut JiraRun) -> anyhow::Result<()> {
        let known = self.maps.preload(ns::REQUEST, Some(&project.key)).await?;
        let context = std::sync::Arc::new(RequestContext {
            desk: desk.to_string(),
            request_type: self.request_type(desk).await?,
            participants_field: self.participants_field().await?,
            intents: self.maps.intents(ns::REQUEST).await?,
            look_all: unrecorded,
            taken: known.values().cloned().collect(),
        });
        let bar = self.progress.step("requests", requests);
        let source = self.source.clone();
        let read_after = |after: Option<i64>| {
            let (source, project) = (source.clone(), project.clone());
            tokio::spawn(async move { source.requests(&project, after, REQUEST_BATCH).await })
        };
        let mut pending: std::collections::VecDeque<ServerRequest> = Vec::new().into();
        let mut next_read = Some(read_after(None));
        let mut under_way = tokio::task::JoinSet::new();
        let limit = 4 * self.concurrency.max(1);
        loop {
            // Start requests while there is room and work.
            while under_way.len() < limit {
                if pending.is_empty() {
                    let Some(read) = next_read.take() else { break };
                    pending = read.await??.into();
                    if let Some(last) = pending.back() {
                        next_read = Some(read_after(Some(last.id)));
                    }
                    continue;
                }
                let request = pending.pop_front().expect("not empty");
                if known.contains_key(&request.id.to_string()) {
                    self.report.count("requests").cloud += 1;
                    self.report.count("comments").cloud += request.comments.len() as u64;
                    bar.inc(1);
                    continue;
                }
                if let Some(why) = &request.too_long {
                    self.report.fail("requests", &request.key, why.clone());
                    self.report.count("comments").failed += request.comments.len() as u64;
                    bar.inc(1);
                    continue;
                }
                let body = match self.request_job(&request, run).await {
                    Ok(body) => body,
                    Err(e) if e.is::<WaitsForPerson>() => {
                        self.report.fail("requests", &request.key, format!("{e:#}"));
                        self.report.count("comments").failed += request.comments.len() as u64;
                        bar.inc(1);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                self.maps.intend(ns::REQUEST, &[request.id.to_string()]).await?;
                let (dest, maps, key, context) = (self.dest.clone(), self.maps.clone(), project.key.clone(), context.clone());
                under_way.spawn(async move {
                    let result = create_request(&dest, &maps, &request, &body, &key, &context).await;
                    (request, result)
                });
            }
            let Some(done) = under_way.join_next().await else { break };
            let (request, result) = done?;
            bar.inc(1);
            let comments = request.comments.len() as u64;
            match result {
                Ok(landed) => {
                    self.report.count("requests").cloud += 1;
                    self.report.count("comments").cloud += comments;
                    self.report.request_keys.insert(request.key.clone(), landed.key);
                    if let Some(left) = landed.status_left {
                        self.report.statuses_not_set.push(StatusNotSet { request: request.key.clone(), server_status: request.status.clone(), left_at: left });
                    }
                }
                Err(e) => {
                    self.report.fail("requests", &request.key, format!("{e:#}"));
                    self.report.count("comments").failed += comments;
                }
            }
        }
        bar.finish();
        Ok(())
    }

    /// One request ready to create: the people it names resolved to accounts, and the
    /// origins it and its comments keep.
    async fn request_job(&mut self, request: &ServerRequest, run: &mut JiraRun) -> anyhow::Result<RequestJob> {
        let reporter = self.person(request.reporter.as_deref(), format!("{} reporter", request.key), run).await?;
        let mut participants = Vec::new();
        for key in &request.participants {
            // A participant with no cloud account is left out (the origin names them).
            if let Some(account) = self.person(Some(key), format!("{} participant", request.key), run).await? {
                if !participants.contains(&account) {
                    participants.push(account);
                }
            }
        }
        let site = self.maps.site().to_string();
        let origin_person = |key: &Option<String>, account: &Option<String>| {
            key.as_ref().map(|k| OriginPerson { user_key: crate::spaces::capped(k.clone()), username: None, account_id: account.clone() })
        };
        let mut comments = Vec::with_capacity(request.comments.len());
        for c in &request.comments {
            let author = self.person(c.author.as_deref(), format!("{} comment {}", request.key, c.id), run).await?;
            let origin = Origin { creator: origin_person(&c.author, &author), created: c.created.clone(), ..Origin::of(&site, "request-comment", c.id) };
            comments.push((NewRequestComment { body: c.body.clone(), public: c.public }, origin));
        }
        let origin = Origin {
            creator: origin_person(&request.reporter, &reporter),
            created: request.created.clone(),
            key: Some(request.key.clone()),
            status: Some(request.status.clone()),
            ..Origin::of(&site, "request", request.id)
        };
        let fields = RequestFields { summary: request.summary.clone(), description: request.description.clone() };
        Ok(RequestJob { fields, reporter, participants, comments, origin })
    }

    /// The request type requests are created with: the service desk's first.
    async fn request_type(&self, desk: &str) -> anyhow::Result<String> {
        let types = self.dest.request_types(desk).await?;
        types.into_iter().next().map(|t| t.id).ok_or_else(|| anyhow::anyhow!("service desk {desk} has no request type: add one in its project settings"))
    }

    /// The id of the site's request-participants field, if it has one.
    async fn participants_field(&self) -> anyhow::Result<Option<String>> {
        let fields = self.dest.fields().await?;
        Ok(fields.into_iter().find(|f| f.schema.as_ref().and_then(|s| s.custom.as_deref()) == Some(PARTICIPANTS_FIELD_TYPE)).map(|f| f.id))
    }
}

/// One request ready to create.
struct RequestJob {
    fields: RequestFields,
    /// None: the reporter has no cloud account, and the migrating account stays reporter.
    reporter: Option<String>,
    participants: Vec<String>,
    comments: Vec<(NewRequestComment, Origin)>,
    origin: Origin,
}

/// What every request of a service desk shares.
struct RequestContext {
    desk: String,
    request_type: String,
    /// The request-participants field (none: participants cannot be set).
    participants_field: Option<String>,
    /// Requests a killed run began creating (server ids).
    intents: HashSet<String>,
    /// Every request may be in the cloud already (a project this ledger did not create).
    look_all: bool,
    /// Cloud issue ids of requests already mapped: never taken for another.
    taken: HashSet<String>,
}

/// A request in the cloud: its new key, and the status it was left at when the
/// workflow had no transition to its server status.
struct LandedRequest {
    key: String,
    status_left: Option<String>,
}

/// Create one request (or find the one a killed run created) and bring it to what the
/// server has: origin, comments in order with theirs, status, then reporter and
/// participants, quietly; record it and its comments in one transaction.
async fn create_request(
    dest: &ferry_destination::Destination,
    maps: &super::Mappings,
    request: &ServerRequest,
    job: &RequestJob,
    project_key: &str,
    context: &RequestContext,
) -> anyhow::Result<LandedRequest> {
    let new = NewRequest {
        service_desk_id: context.desk.clone(),
        request_type_id: context.request_type.clone(),
        request_field_values: job.fields.clone(),
        raise_on_behalf_of: None,
        request_participants: Vec::new(),
    };
    let look = context.look_all || context.intents.contains(&request.id.to_string());
    let fresh = std::sync::atomic::AtomicBool::new(false);
    let create = || async {
        let created = dest.create_request(&new).await?;
        fresh.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(created)
    };
    let created = dest.create_looking_first(look, || find_request(dest, context, job), create).await?;
    let key = created.issue_key.clone();
    dest.set_entity_property(JiraEntity::Issue, &key, ORIGIN_PROPERTY, &job.origin).await?;
    // Comments in order: those a killed run added to a request found again are the
    // first ones there.
    let mut present = if fresh.load(std::sync::atomic::Ordering::Relaxed) { Vec::new() } else { dest.request_comments(&key).await? };
    let mut comment_ids = Vec::with_capacity(job.comments.len());
    for (n, (comment, origin)) in job.comments.iter().enumerate() {
        let id = match present.get(n) {
            Some(there) => there.id.clone(),
            None => {
                let find = || async { Ok(dest.request_comments(&key).await?.get(n).map(|c| c.id.clone())) };
                let added = dest.create_looking_first(false, find, || async { Ok(dest.add_request_comment(&key, comment).await?.id) }).await?;
                present = Vec::new();
                added
            }
        };
        dest.set_entity_property(JiraEntity::Comment, &id, ORIGIN_PROPERTY, origin).await?;
        comment_ids.push(id);
    }
    // The status, where the workflow leads there from where it is.
    let current = dest.request(&key).await?.current_status.status;
    let status_left = if current.eq_ignore_ascii_case(&request.status) {
        None
    } else {
        let transitions = dest.transitions(&key).await?;
        match transitions.iter().find(|t| t.to.name.eq_ignore_ascii_case(&request.status)) {
            Some(t) => {
                // Taken again only if the request is not there yet (an answer may be lost).
                let there = || async {
                    let now = dest.request(&key).await?.current_status.status;
                    Ok(now.eq_ignore_ascii_case(&request.status).then_some(()))
                };
                dest.create_looking_first(false, there, || dest.transition(&key, &t.id)).await?;
                None
            }
            None => Some(current),
        }
    };
    // Reporter and participants last, without telling them.
    let mut fields = serde_json::Map::new();
    if let Some(reporter) = &job.reporter {
        fields.insert("reporter".into(), serde_json::json!({"accountId": reporter}));
    }
    if let Some(field) = &context.participants_field {
        let participants: Vec<serde_json::Value> = job.participants.iter().map(|a| serde_json::json!({"accountId": a})).collect();
        fields.insert(field.clone(), serde_json::Value::Array(participants));
    }
    dest.edit_issue_quietly(&key, &IssueEdit { fields }).await?;
    anyhow::ensure!(
        context.participants_field.is_some() || job.participants.is_empty(),
        "the site has no request-participants field: its participants were not set"
    );
    let container = Some(project_key.to_string());
    let mut rows: Vec<_> =
        request.comments.iter().zip(&comment_ids).map(|(c, id)| (ns::REQUEST_COMMENT.to_string(), c.id.to_string(), id.clone(), container.clone())).collect();
    rows.push((ns::REQUEST.to_string(), request.id.to_string(), created.issue_id, container));
    maps.put_rows(rows).await?;
    Ok(LandedRequest { key, status_left })
}

/// A request a killed run may have created: among this desk's requests the migrating
/// account created with the same summary, the one whose origin is this request's; else,
/// when exactly one such request has no origin and is not another's, that one.
async fn find_request(
    dest: &ferry_destination::Destination,
    context: &RequestContext,
    job: &RequestJob,
) -> Result<Option<CustomerRequest>, ferry_destination::DestinationError> {
    let mut unclaimed = Vec::new();
    for candidate in dest.own_requests(&context.desk, &job.fields.summary).await? {
        if candidate.request_field_values.summary != job.fields.summary || context.taken.contains(&candidate.issue_id) {
            continue;
        }
        match dest.entity_property::<Origin>(JiraEntity::Issue, &candidate.issue_key, ORIGIN_PROPERTY).await? {
            Some(o) if o.same_entity(&job.origin) => return Ok(Some(candidate)),
            Some(_) => {}
            None => unclaimed.push(candidate),
        }
    }
    Ok(if unclaimed.len() == 1 { unclaimed.pop() } else { None })
}

/// Each customer linked or created, as they finish, with up to `depth` in progress
/// (only the destination is borrowed: the caller records the outcomes as they come).
/// As with requests, the destination caps the HTTP calls at its own concurrency; the
/// extra depth keeps the next customers ready.
fn customer_outcomes<'a>(
    dest: &'a ferry_destination::Destination,
    usable: Vec<(&'a DirectoryUser, String)>,
    known: &'a HashMap<String, String>,
    full: &'a HashMap<String, String>,
    keys_of: &'a HashMap<String, Vec<String>>,
    depth: usize,
) -> impl futures_util::Stream<Item = (&'a DirectoryUser, String, Vec<String>, anyhow::Result<Customer>)> + Send + 'a {
    stream::iter(usable)
        .map(move |(user, email)| async move {
            let keys = keys_of.get(&user.username.to_lowercase()).cloned().unwrap_or_default();
            let outcome = link_or_create_customer(dest, user, &email, known, full).await;
            (user, email, keys, outcome)
        })
        .buffer_unordered(depth)
}

/// A customer's cloud account.
struct Customer {
    account: String,
    /// A full account (the email had one), not a customer account.
    full: bool,
    /// Not linked by an earlier plan: its mappings are to be recorded.
    new: bool,
}

/// Link a customer to the cloud account with their email (an earlier plan's, else a
/// full account first), or create a customer account (no notification).
async fn link_or_create_customer(
    dest: &ferry_destination::Destination,
    user: &DirectoryUser,
    email: &str,
    known: &HashMap<String, String>,
    full: &HashMap<String, String>,
) -> anyhow::Result<Customer> {
    let email_id = format!("email/{email}");
    if let Some(id) = known.get(&email_id) {
        return Ok(Customer { account: id.clone(), full: full.contains_key(&email_id), new: false });
    }
    let (account, full) = match dest.create_customer(email, &user.display_name).await {
        Ok(created) => (created.account_id, false),
        Err(e) if e.status() == Some(409) => {
            let accounts = dest.accounts_by_email(email).await?;
            let chosen = accounts
                .iter()
                .find(|a| a.account_type == ACCOUNT_FULL)
                .or_else(|| accounts.iter().find(|a| a.account_type == ACCOUNT_CUSTOMER))
                .ok_or_else(|| anyhow::anyhow!("the site says {email} has an account but finds none"))?;
            (chosen.account_id.clone(), chosen.account_type == ACCOUNT_FULL)
        }
        Err(e) => return Err(e.into()),
    };
    anyhow::ensure!(!account.is_empty(), "the destination returned no account id for {email}");
    Ok(Customer { account, full, new: true })
}

/// The customers a Jira plan migrates: the unlicensed users of the active directories
/// (every one, or those with a user key in `only`; `keys_of` gives each lower-cased
/// username's keys).
pub(crate) fn customers_in_scope<'a>(
    dirs: &'a super::identity::Directories,
    only: Option<&BTreeSet<String>>,
    keys_of: &HashMap<String, Vec<String>>,
) -> Vec<&'a DirectoryUser> {
    let licensed = dirs.licensed.as_ref();
    dirs.resolved
        .users
        .iter()
        .filter(|u| {
            let name = u.username.to_lowercase();
            !licensed.is_some_and(|l| l.contains(&name)) && only.is_none_or(|only| keys_of.get(&name).is_some_and(|ks| ks.iter().any(|k| only.contains(k))))
        })
        .collect()
}
