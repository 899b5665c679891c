//! Users and groups: link or create each account by email, apply the product-access
//! rule, migrate groups (merging into same-name cloud groups), and memberships.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::{stream, StreamExt};

use super::rules::{self, AccessDecision, DirectoryUser};
use super::{ns, Migrator};

/// A user to migrate, with what the migration needs to know about it.
struct UserJob {
    user: DirectoryUser,
    email: String,
    keys: Vec<String>,
    with_access_rules: bool,
}

/// What became of one user.
enum UserOutcome {
    /// Landed: `member_id` is what group memberships name (the directory's id, or the
    /// account id on a site without a directory); `account` is the Atlassian account
    /// (none: a directory that names none, or a site where the email has no account).
    Landed {
        member_id: String,
        account: Option<String>,
        linked: bool,
        grant: bool,
    },
    Failed(String),
}

/// A group, in the directory or (on a site without one) the site's own: its id, and its
/// members when they were asked for.
pub(crate) struct GroupHandle {
    id: String,
    /// Its members: directory ids, or account ids on a site without a directory.
    pub(crate) members: HashSet<String>,
}

/// The directories of the Server site, read once per run: their order, every user row
/// of the ordered directories, and those rows resolved (first directory wins).
pub(crate) struct Directories {
    pub(crate) order: Vec<i64>,
    /// Every user row of the ordered directories: the users, and the rows they shadow
    /// (whose memberships still count). Each row is held once.
    pub(crate) resolved: rules::ResolvedUsers,
    /// Jira: the lower-cased usernames with application access (a group of theirs,
    /// nested groups and every directory counted, is in `licenserolesgroup`). Everyone
    /// else is a customer. `None` for Confluence.
    pub(crate) licensed: Option<HashSet<String>>,
    /// Lower-cased usernames that exist only in inactive directories.
    pub(crate) inactive_only: HashSet<String>,
}

/// The users earlier plans mapped: `email/<addr>` → account id, and → directory id.
struct Known {
    accounts: HashMap<String, String>,
    directory: HashMap<String, String>,
    /// Without a directory: the organisation's user export, by lower-cased email.
    exported: HashMap<String, String>,
}

/// A user that landed in the cloud (created or linked).
#[derive(Debug, Clone)]
pub(crate) struct LandedUser {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) email: String,
    pub(crate) cloud_id: String,
}

impl Migrator {
    /// The directories, read from the source on first use (the users and groups steps
    /// both need them).
    pub(crate) async fn directories(&mut self) -> anyhow::Result<std::sync::Arc<Directories>> {
        if let Some(dirs) = &self.directories {
            return Ok(dirs.clone());
        }
        let order = self.source.directory_order().await?;
        // The rows of inactive directories are set apart in place (a large site's
        // directory is read once and not copied); only their names are kept.
        let mut rows = self.source.directory_users().await?;
        let inactive: Vec<DirectoryUser> = rows.extract_if(.., |u| !order.contains(&u.directory_id)).collect();
        let resolved = rules::resolve_directories(&order, rows);
        let inactive_only = inactive.iter().map(|u| u.username.to_lowercase()).filter(|n| resolved.find(n).is_none()).collect();
        let licensed = match self.plan.product {
            ferry_source::Product::Confluence => None,
            ferry_source::Product::Jira => {
                let groups: Vec<_> = self.source.directory_groups().await?.into_iter().filter(|g| order.contains(&g.directory_id)).collect();
                let memberships = rules::memberships(resolved.all_rows(), &groups, &self.source.memberships().await?);
                let licensed_groups = self.source.licensed_groups().await?;
                Some(rules::licensed_users(&memberships, &licensed_groups))
            }
        };
        let dirs = std::sync::Arc::new(Directories { order, resolved, licensed, inactive_only });
        self.directories = Some(dirs.clone());
        Ok(dirs)
    }

    /// The kind users are counted as: Confluence users, or Jira agents (licensed users).
    pub(crate) fn user_kind(&self) -> &'static str {
        match self.plan.product {
            ferry_source::Product::Confluence => "users",
            ferry_source::Product::Jira => "agents",
        }
    }

    /// The ledger id of a server user key (`confluence.userkey/…` or `jira.userkey/…`).
    pub(crate) fn user_key_id(&self, key: &str) -> String {
        format!("{}.userkey/{key}", self.plan.product)
    }

    /// The users a plan migrates (every resolved user, or those behind `only_keys`; in
    /// a Jira plan, licensed users only), and each lower-cased username's user keys.
    pub(crate) async fn users_in_scope(&mut self, only_keys: Option<Vec<String>>) -> anyhow::Result<(Vec<DirectoryUser>, HashMap<String, Vec<String>>)> {
        let dirs = self.directories().await?;
        let wanted: Option<HashSet<String>> = only_keys.map(|keys| keys.into_iter().collect());
        // Jira: licensed users only (filtered before cloning: a site has many customers).
        let mut users: Vec<DirectoryUser> = match &dirs.licensed {
            Some(licensed) => dirs.resolved.users.iter().filter(|u| licensed.contains(&u.username.to_lowercase())).cloned().collect(),
            None => dirs.resolved.users.clone(),
        };
        // The user keys of those users only (the others' streamed past).
        let names: HashSet<String> = users.iter().map(|u| u.username.to_lowercase()).collect();
        let mut keys_of: HashMap<String, Vec<String>> = HashMap::new();
        self.source
            .each_user_key(|key, name| {
                if names.contains(&name) {
                    keys_of.entry(name).or_default().push(key);
                }
            })
            .await?;
        if let Some(wanted) = &wanted {
            users.retain(|u| keys_of.get(&u.username.to_lowercase()).is_some_and(|ks| ks.iter().any(|k| wanted.contains(k))));
        }
        Ok((users, keys_of))
    }

    /// The server groups of the ordered directories, by lower-cased name, with the name
    /// as shown.
    pub(crate) async fn server_groups(&mut self) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        let dirs = self.directories().await?;
        Ok(self
            .source
            .directory_groups()
            .await?
            .into_iter()
            .filter(|g| dirs.order.contains(&g.directory_id))
            .map(|g| (g.name.to_lowercase(), g.name))
            .collect())
    }

    /// Migrate users: every user (`only_keys` none), or only the users behind the given
    /// user keys (related users: name and email only, no access, no groups).
    pub(crate) async fn migrate_users(&mut self, only_keys: Option<Vec<String>>) -> anyhow::Result<Vec<LandedUser>> {
        let dirs = self.directories().await?;
        self.report.shadowed_users = dirs.resolved.shadowed.iter().map(|u| format!("{} (directory {})", u.username, u.directory_id)).collect();
        let related = only_keys.is_some();
        let kind = self.user_kind();
        let (users, keys_of) = self.users_in_scope(only_keys).await?;
        self.report.count(kind).server = users.len() as u64;

        // Email is the identity: invalid and shared emails fail, naming the fix.
        let review = rules::review_emails(users);
        self.fail_unusable_emails(kind, "user", &review);
        let jobs: Vec<UserJob> = review
            .usable
            .into_iter()
            .map(|(user, email)| {
                let keys = keys_of.get(&user.username.to_lowercase()).cloned().unwrap_or_default();
                UserJob { user, email, keys, with_access_rules: !related }
            })
            .collect();

        let Some(product_group) = self.group(&self.plan.product_group, true).await? else {
            anyhow::bail!("the destination has no product-access group {:?}: name the right one with --product-group", self.plan.product_group)
        };
        let (group_id, with_access) = (product_group.id, product_group.members);

        let bar = self.progress.step(kind, jobs.len() as u64);
        let exported = if self.dest.has_directory() { HashMap::new() } else { crate::accounts::known(&self.db, &self.plan.destination).await? };
        let known = Known { accounts: self.maps.preload(ns::USER, None).await?, directory: self.maps.preload(ns::DIRECTORY_USER, None).await?, exported };
        let this = &*self;
        let (with_access, known, progress) = (&with_access, &known, &bar);
        let outcomes: Vec<(UserJob, UserOutcome)> = stream::iter(jobs)
            .map(|job| async move {
                let outcome = match this.dest.has_directory() {
                    true => this.link_or_create_user(&job, with_access, known).await,
                    false => this.link_existing_account(&job, with_access, known).await,
                };
                progress.inc(1);
                (job, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        bar.finish();
        let mut grants = Vec::new();
        let mut landed = Vec::new();
        for (job, outcome) in outcomes {
            match outcome {
                UserOutcome::Landed { member_id, account, linked, grant } => {
                    self.report.count(kind).cloud += 1;
                    self.report.linked_users += u64::from(linked);
                    for key in &job.keys {
                        self.authors.insert(key.clone(), account.clone());
                    }
                    if grant {
                        grants.push(member_id);
                    }
                    match account {
                        Some(cloud_id) => {
                            landed.push(LandedUser { username: job.user.username, display_name: job.user.display_name, email: job.email, cloud_id })
                        }
                        None => self.report.users_without_account.push(job.user.username),
                    }
                }
                UserOutcome::Failed(reason) => self.report.fail(kind, &job.user.username, reason),
            }
        }
        self.add_members(&group_id, &grants).await?;
        Ok(landed)
    }

    /// The group named `name` (its members too, when `with_members`): in the SCIM
    /// directory, or the site's own group on a site without one.
    pub(crate) async fn group(&self, name: &str, with_members: bool) -> anyhow::Result<Option<GroupHandle>> {
        if self.dest.has_directory() {
            return Ok(self
                .dest
                .find_group(name)
                .await?
                .map(|g| GroupHandle { id: g.id.unwrap_or_default(), members: g.members.into_iter().map(|m| m.value).collect() }));
        }
        let Some(group) = self.dest.site_group(name).await? else { return Ok(None) };
        let members = if with_members { self.dest.site_group_members(&group.id).await?.into_iter().collect() } else { HashSet::new() };
        Ok(Some(GroupHandle { id: group.id, members }))
    }

    /// Create the group `name` (in the directory, or the site's own), its id.
    async fn create_group(&self, name: &str) -> anyhow::Result<String> {
        Ok(match self.dest.has_directory() {
            true => self.dest.create_group(name).await?.id.unwrap_or_default(),
            false => self.dest.create_site_group(name).await?.id,
        })
    }

    /// Add members (directory ids, or account ids without a directory) to a group: 500 a
    /// request through the directory, one a request through the site's group API.
    async fn add_members(&self, group_id: &str, members: &[String]) -> anyhow::Result<()> {
        if self.dest.has_directory() {
            for chunk in members.chunks(500) {
                self.dest.add_group_members(group_id, chunk).await?;
            }
            return Ok(());
        }
        let dest = &self.dest;
        let added: Vec<Result<(), ferry_destination::DestinationError>> = stream::iter(members.to_vec())
            .map(|member| async move { dest.add_to_site_group(group_id, &member).await })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        added.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    /// On a site without a directory: link the user to the account its email has (an
    /// earlier plan's mapping, the organisation's user export, or the Jira user search),
    /// never create one. No account: the user lands without one (their content stays the
    /// migrating account's, reported).
    async fn link_existing_account(&self, job: &UserJob, with_access: &HashSet<String>, known: &Known) -> UserOutcome {
        let result: anyhow::Result<UserOutcome> = async {
            let email_id = format!("email/{}", job.email);
            let account = match known.accounts.get(&email_id).or_else(|| known.exported.get(&job.email)) {
                Some(account) => Some(account.clone()),
                None => self.account_by_email(&job.email).await?,
            };
            let Some(account) = account else {
                return Ok(UserOutcome::Landed { member_id: String::new(), account: None, linked: false, grant: false });
            };
            let key_ids: Vec<String> = job.keys.iter().map(|k| self.user_key_id(k)).collect();
            let ids: Vec<&str> = std::iter::once(email_id.as_str()).chain(key_ids.iter().map(String::as_str)).collect();
            self.maps.put_all(ns::USER, &ids, &account, None).await?;
            let existing_access = Some(with_access.contains(&account));
            let grant = job.with_access_rules && rules::product_access(job.user.active, existing_access) == AccessDecision::Grant;
            Ok(UserOutcome::Landed { member_id: account.clone(), account: Some(account), linked: true, grant })
        }
        .await;
        result.unwrap_or_else(|e| UserOutcome::Failed(format!("{e:#}")))
    }

    /// The full account whose email is `email`, through the Jira user search (a site
    /// without Jira answers 404: none found).
    pub(crate) async fn account_by_email(&self, email: &str) -> anyhow::Result<Option<String>> {
        let found = match self.dest.accounts_by_email(email).await {
            Ok(found) => found,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(found
            .into_iter()
            .find(|a| a.account_type == ferry_cloud_wire::ACCOUNT_FULL && a.email_address.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
            .map(|a| a.account_id))
    }

    /// Report the people of `review` whose email is invalid or shared, as `kind`
    /// failures naming the fix (`noun`: "user" or "customer").
    pub(crate) fn fail_unusable_emails<U: std::borrow::Borrow<DirectoryUser>>(&mut self, kind: &str, noun: &str, review: &rules::EmailReview<U>) {
        for (user, email) in &review.invalid {
            let reason = format!("email {email:?} is not a valid address: fix it on the server, then migrate this {noun} in a new plan");
            self.report.fail(kind, &user.borrow().username, reason);
        }
        for (user, email, first) in &review.shared {
            let reason = format!("shares email {email} with {first}: give each {noun} their own address on the server");
            self.report.fail(kind, &user.borrow().username, reason);
        }
    }

    /// Link the user to the directory user with the same email, or create one (active,
    /// no invitation); record the mappings; decide product access.
    ///
    /// A user mapped by an earlier plan is linked at once. Otherwise ferry creates the
    /// user, and when the directory answers that the email is taken (409), looks it up by
    /// `userName eq` and links it: one request for a new user, two for one that exists.
    /// The directory's answer names the Atlassian account (`atlassianAccountId`), which
    /// is what content, restrictions and requests point at; the directory's own id is
    /// kept for group memberships.
    async fn link_or_create_user(&self, job: &UserJob, with_access: &HashSet<String>, known: &Known) -> UserOutcome {
        let result: anyhow::Result<UserOutcome> = async {
            let email_id = format!("email/{}", job.email);
            let (directory_id, account, existing_access) = match (known.directory.get(&email_id), known.accounts.get(&email_id)) {
                (Some(id), Some(account)) => (id.clone(), Some(account.clone()), Some(with_access.contains(id))),
                _ => {
                    let (user, access) = match self.dest.create_user(&job.email, &job.user.display_name, true).await {
                        Ok(created) => (created, None),
                        Err(e) if e.status() == Some(409) => {
                            let found = self
                                .dest
                                .find_user_by_email(&job.email)
                                .await?
                                .ok_or_else(|| anyhow::anyhow!("the directory says {} is taken but finds no such user", job.email))?;
                            let id = found.id.clone().unwrap_or_default();
                            if found.active == Some(false) {
                                self.dest.set_user_active(&id, true).await?;
                            }
                            let access = with_access.contains(&id);
                            (found, Some(access))
                        }
                        Err(e) => return Err(e.into()),
                    };
                    (user.id.clone().unwrap_or_default(), user.account_id().map(str::to_string), access)
                }
            };
            anyhow::ensure!(!directory_id.is_empty(), "the directory returned no id for the user");
            self.maps.put(ns::DIRECTORY_USER, &email_id, &directory_id, None).await?;
            if let Some(account) = &account {
                let key_ids: Vec<String> = job.keys.iter().map(|k| self.user_key_id(k)).collect();
                let ids: Vec<&str> = std::iter::once(email_id.as_str()).chain(key_ids.iter().map(String::as_str)).collect();
                self.maps.put_all(ns::USER, &ids, account, None).await?;
            }
            let grant = job.with_access_rules && rules::product_access(job.user.active, existing_access) == AccessDecision::Grant;
            Ok(UserOutcome::Landed { member_id: directory_id, account, linked: existing_access.is_some(), grant })
        }
        .await;
        result.unwrap_or_else(|e| UserOutcome::Failed(format!("{e:#}")))
    }

    /// Migrate groups (blocklisted ones skipped; same-name cloud groups merged) and the
    /// memberships of migrated users (nested groups flattened).
    pub(crate) async fn migrate_groups(&mut self) -> anyhow::Result<()> {
        let dirs = self.directories().await?;
        let groups = self.groups_of_directories(&dirs).await?;
        let names: BTreeSet<String> = groups.iter().map(|g| g.name.to_lowercase()).collect();
        let display: HashMap<String, String> = groups.iter().map(|g| (g.name.to_lowercase(), g.name.clone())).collect();
        let bar = self.progress.step("groups", names.len() as u64);
        for name in &names {
            bar.inc(1);
            let shown = display.get(name).cloned().unwrap_or_else(|| name.clone());
            if rules::is_blocklisted(name) {
                self.report.skipped_groups.push(shown);
                continue;
            }
            self.report.count("groups").server += 1;
            let landed: anyhow::Result<String> = async {
                if let Some(id) = self.maps.get(ns::GROUP, name).await? {
                    return Ok(id);
                }
                let id = match self.group(&shown, false).await? {
                    Some(existing) => {
                        self.report.merged_groups.push(shown.clone());
                        existing.id
                    }
                    None => {
                        let created = self.create_group(&shown).await?;
                        self.report.groups_awaiting_review.push(shown.clone());
                        created
                    }
                };
                self.maps.put(ns::GROUP, name, &id, None).await?;
                Ok(id)
            }
            .await;
            match landed {
                Ok(id) => {
                    self.report.count("groups").cloud += 1;
                    self.cloud_groups.insert(name.clone(), id);
                }
                Err(e) => self.report.fail("groups", &shown, format!("{e:#}")),
            }
        }
        bar.finish();
        // Memberships: every migrated user into each (flattened) group it belongs to.
        for (group, members) in self.memberships_to_give(&dirs, &groups).await? {
            let Some(group_id) = self.cloud_groups.get(&group).cloned() else { continue };
            let ids: Vec<String> = members.into_iter().map(|(_, id)| id).collect();
            if let Err(e) = self.add_members(&group_id, &ids).await {
                self.report.fail("groups", &group, format!("memberships: {e:#}"));
            }
        }
        Ok(())
    }

    /// The groups of the Server site's directories in use.
    async fn groups_of_directories(&self, dirs: &Directories) -> anyhow::Result<Vec<rules::DirectoryGroup>> {
        Ok(self.source.directory_groups().await?.into_iter().filter(|g| dirs.order.contains(&g.directory_id)).collect())
    }

    /// The members each group gets in the cloud: lower-case group name → (username, cloud
    /// id) of each member, nested groups flattened, who has a cloud id (directory ids, or
    /// account ids on a site without a directory). The product-access group is left out:
    /// access comes from the access rule alone, never from membership of a same-name
    /// server group (that would give disabled users access).
    async fn memberships_to_give(&mut self, dirs: &Directories, groups: &[rules::DirectoryGroup]) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
        let members = self.source.memberships().await?;
        let memberships = rules::memberships(dirs.resolved.all_rows(), groups, &members);
        let emails: HashMap<String, String> =
            dirs.resolved.users.iter().filter_map(|u| u.email.as_ref().map(|e| (u.username.to_lowercase(), e.trim().to_lowercase()))).collect();
        let cloud_ids = self.maps.preload(if self.dest.has_directory() { ns::DIRECTORY_USER } else { ns::USER }, None).await?;
        let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (username, groups_of_user) in &memberships {
            let Some(email) = emails.get(username) else { continue };
            let Some(cloud_id) = cloud_ids.get(&format!("email/{email}")) else { continue };
            for group in groups_of_user.iter().filter(|g| !g.eq_ignore_ascii_case(&self.plan.product_group)) {
                out.entry(group.clone()).or_default().push((username.clone(), cloud_id.clone()));
            }
        }
        Ok(out)
    }

    /// The memberships `ferry verify` looks for: those of each group this site's plans
    /// migrated (lower-case name → (username, cloud id) of each member).
    pub(crate) async fn expected_memberships(&mut self) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
        let dirs = self.directories().await?;
        let groups = self.groups_of_directories(&dirs).await?;
        let migrated = self.maps.preload(ns::GROUP, None).await?;
        let mut out = self.memberships_to_give(&dirs, &groups).await?;
        out.retain(|group, _| migrated.contains_key(group));
        Ok(out)
    }
}
