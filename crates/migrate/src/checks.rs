//! Pre-migration checks: run on demand (`ferry plan check`) and at the start of every
//! plan run. Each check has a stable code and ends `pass`, `warning` (the run may go on)
//! or `error` (the run is refused until it is fixed), names the entities concerned and
//! says how to fix it.
//!
//! The rules are plain functions over what the check gathered ([`Facts`]); gathering
//! reads the Server site, the destination and the state DB (in `impl Migrator` below).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::{stream, StreamExt};

use crate::plan::{AppsScope, PlanApp, UsersScope};
pub use crate::report::{Check, CheckResult};
use crate::rules::{self, DirectoryUser};
use crate::{ns, Migrator};
use ferry_apps::assess::{self, Decision, MigrationPath, ServerApp};
use ferry_apps::registry::Registry;
use ferry_apps::stages::{self, StageFigures};

mod jira;

/// Entities named per check at most; the count says how many there are in all.
pub const ENTITIES_SHOWN: usize = 50;

/// A check that found `entities` (as `found`, else pass).
fn check(code: &str, found: CheckResult, entities: Vec<String>, message: &str, fix: &str, pass: &str) -> Check {
    let count = entities.len();
    if count == 0 {
        return Check { code: code.into(), result: CheckResult::Pass, message: pass.into(), entities, count, fix: String::new() };
    }
    let shown = entities.into_iter().take(ENTITIES_SHOWN).collect();
    Check { code: code.into(), result: found, message: counted(count, message), entities: shown, count, fix: fix.into() }
}

/// A check's finding with its count: `message` is written of many ("users have no valid
/// email address"); for one, its subject and verb are made singular ("1 user has no
/// valid email address").
fn counted(count: usize, message: &str) -> String {
    if count != 1 {
        return format!("{count} {message}");
    }
    const VERBS: [(&str, &str); 6] = [("have", "has"), ("are", "is"), ("share", "shares"), ("use", "uses"), ("name", "names"), ("belong", "belongs")];
    // The subject's words are made singular up to the first that starts a phrase after it
    // ("apps on the Server site", "people named by the requests").
    const PHRASE: [&str; 7] = ["on", "of", "in", "by", "named", "the", "that"];
    let mut words: Vec<String> = Vec::new();
    let mut subject = true;
    let mut rest = message.split(' ');
    for word in rest.by_ref() {
        if let Some((_, one)) = VERBS.iter().find(|(many, _)| *many == word) {
            words.push(one.to_string());
            break;
        }
        subject &= !PHRASE.contains(&word);
        let singular = match word {
            w if !subject => w.to_string(),
            "people" => "person".to_string(),
            w if w.ends_with("s'") => format!("{}'s", &w[..w.len() - 2]),
            w if w.ends_with('s') && w.len() > 3 && !w.ends_with("ss") => w[..w.len() - 1].to_string(),
            w => w.to_string(),
        };
        words.push(singular);
    }
    words.extend(rest.map(str::to_string));
    format!("1 {}", words.join(" "))
}

/// Whether any check is an error.
pub fn has_errors(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.result == CheckResult::Error)
}

/// One app of a plan, with what the checks need to know about it.
#[derive(Debug, Clone)]
pub struct AppFacts {
    /// The app fixed in the plan.
    pub planned: PlanApp,
    /// The installed plugin's version and sha256, if one is installed.
    pub installed: Option<(String, String)>,
    /// The installed plugin's contract version, and whether this host serves it.
    pub contract: Option<(String, bool)>,
    /// The installed plugin's Server version range.
    pub range: Option<semver::VersionReq>,
    /// The cloud app key.
    pub cloud_app_key: String,
    /// Whether that cloud app is installed on the destination.
    pub cloud_app_installed: bool,
    /// The consent status.
    pub consent: ferry_apps::consent::ConsentStatus,
    /// Why the installed plugin may not run: its signer is no longer trusted.
    pub untrusted: Option<String>,
    /// The Stage.
    pub stage: StageFigures,
    /// Where its data goes: the endpoint (the admin's override, else the manifest's), and
    /// the manifest's when the admin overrode it. `None`: no endpoint is known.
    pub sends_to: Option<(String, Option<String>)>,
    /// The variable that should hold its migration secret, and whether it does.
    pub secret: Option<(String, bool)>,
}

/// What the checks look at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The product of the plan (Jira plans have their own checks after the users' and
    /// groups').
    pub product: ferry_source::Product,
    /// Jira: what the Service Management checks look at.
    pub jira: jira::JiraFacts,
    /// The users the plan migrates (none when it migrates no users; Jira: the agents).
    pub users: Vec<DirectoryUser>,
    /// Email domains the admin trusts.
    pub trusted_domains: Vec<String>,
    /// On a site without a user-provisioning directory: the users (`name (email)`) whose
    /// email has no account in the organisation (none is created for them).
    pub users_without_account: Vec<String>,
    /// Server groups the plan migrates that exist in the cloud under the same name and
    /// were not migrated there by ferry.
    pub groups_to_merge: Vec<String>,
    /// Blocklisted server groups.
    pub blocklisted_groups: Vec<String>,
    /// Selected space keys that exist in the cloud but not by ferry's hand.
    pub space_key_conflicts: Vec<String>,
    /// Spaces granting anonymous access: (space, permission).
    pub anonymous_spaces: Vec<(String, String)>,
    /// Space permissions of groups that will not exist in the cloud: (space, permission, group).
    pub permissions_of_missing_groups: Vec<(String, String, String)>,
    /// Content using short links to pages that will not be in the cloud (neither
    /// migrated by the plan nor by an earlier one): (space, content id, title, link code).
    pub short_links: Vec<(String, i64, String, String)>,
    /// Page restrictions naming a user or group that will not exist in the cloud:
    /// (space, content id, title, `user …` or `group …`).
    pub restriction_subjects_missing: Vec<(String, i64, String, String)>,
    /// What the public API cannot carry, per selected space: (space, pages, blog posts,
    /// comments) that the migrating account will author in the cloud.
    pub authored: Vec<(String, u64, u64, u64)>,
    /// Whether the plan migrates apps.
    pub apps_scope: Option<AppsScope>,
    /// The Server site's apps and the admin's decisions about them.
    pub server_apps: Vec<(ServerApp, Decision)>,
    /// The plan's apps.
    pub apps: Vec<AppFacts>,
}

/// Every check over `facts`, in a fixed order.
pub fn run_checks(facts: &Facts) -> Vec<Check> {
    let mut out = Vec::new();
    let review = rules::review_emails(facts.users.clone());
    out.push(check(
        "users.invalid-email",
        CheckResult::Error,
        review.invalid.iter().map(|(u, e)| format!("{} ({e:?})", u.username)).collect(),
        "users have no valid email address; email is their identity in the cloud, so they will not migrate",
        "give each of them a valid address on the Server site, then run the plan (or a new one)",
        "every user has a valid email address",
    ));
    out.push(check(
        "users.duplicate-email",
        CheckResult::Error,
        review.shared.iter().map(|(u, e, first)| format!("{} shares {e} with {first}", u.username)).collect(),
        "users share an email address with another user; only the first would migrate",
        "give each user their own address on the Server site",
        "no two users share an email address",
    ));
    let trusted: BTreeSet<String> = facts.trusted_domains.iter().map(|d| d.to_lowercase()).collect();
    let mut untrusted: BTreeMap<String, usize> = BTreeMap::new();
    for (_, email) in &review.usable {
        if let Some(domain) = rules::email_domain(email).filter(|d| !trusted.contains(d)) {
            *untrusted.entry(domain).or_default() += 1;
        }
    }
    out.push(check(
        "users.untrusted-domain",
        CheckResult::Warning,
        untrusted.iter().map(|(d, n)| format!("{d} ({n} users)")).collect(),
        "email domains are not marked trusted; migrating accounts of unknown domains can let strangers into the cloud site",
        "check these domains; create the plan with --trusted-domains DOMAIN,DOMAIN for the ones you trust",
        "every user's email domain is trusted",
    ));
    out.push(check(
        "users.no-account",
        CheckResult::Warning,
        facts.users_without_account.clone(),
        "users have no account in the cloud organisation, and with no user-provisioning directory connected Ferry creates none: what they wrote is authored by the migrating account (their name kept in each item's ferry-origin), and they get no group or restriction",
        "invite them to the site (or add them to the organisation), export the users again and reconnect with --accounts-csv FILE; or connect the organisation's SCIM directory (--scim-url, --scim-token-env)",
        "every user has a cloud account, or users are provisioned through a directory",
    ));
    out.push(check(
        "groups.merge",
        CheckResult::Warning,
        facts.groups_to_merge.clone(),
        "server groups have the same name as a cloud group and will be merged into it: their members get that group's cloud permissions",
        "review the cloud groups' permissions, or rename the server groups before migrating",
        "no server group merges into an existing cloud group",
    ));
    out.push(check(
        "groups.blocklisted",
        CheckResult::Warning,
        facts.blocklisted_groups.clone(),
        "groups are blocklisted: they never migrate (their members do)",
        "nothing to do: grant these members admin rights in the cloud by hand if they need them",
        "no blocklisted group on the Server site",
    ));
    if facts.product == ferry_source::Product::Jira {
        out.extend(jira::jira_checks(&facts.jira));
        return out;
    }
    out.push(check(
        "spaces.key-conflict",
        CheckResult::Error,
        facts.space_key_conflicts.clone(),
        "selected spaces have a key that already exists in the cloud site; they would not migrate",
        "rename or delete the cloud spaces, or leave these spaces out of the plan",
        "no selected space key exists in the cloud site",
    ));
    out.push(check(
        "spaces.public-anonymous",
        CheckResult::Warning,
        facts.anonymous_spaces.iter().map(|(s, p)| format!("{s} ({p})")).collect(),
        "space permissions are granted to anonymous users; the spaces will be public in the cloud site",
        "remove anonymous access on the Server site if the cloud spaces should not be public",
        "no selected space is open to anonymous users",
    ));
    out.push(check(
        "spaces.permission-group-missing",
        CheckResult::Warning,
        facts.permissions_of_missing_groups.iter().map(|(s, p, g)| format!("{s}: {p} of group {g}")).collect(),
        "space permissions belong to groups that will not exist in the cloud; they will be dropped",
        "migrate those groups (--users all), create them in the cloud, or grant the permissions again after the migration",
        "every space permission's group will exist in the cloud",
    ));
    out.push(check(
        "content.short-links",
        CheckResult::Warning,
        facts.short_links.iter().map(|(s, id, t, code)| format!("{s}: {t} ({id}) links /x/{code}")).collect(),
        "pages use short links (/x/…) to pages that neither this plan nor an earlier one migrates: those links stay as they are and will not work in the cloud",
        "add the linked pages' spaces to the plan (or migrate them in a later plan, which fixes the links), or replace the links on the Server site",
        "every short link names a page that will be in the cloud (ferry rewrites them)",
    ));
    out.push(check(
        "content.restriction-subject-missing",
        CheckResult::Warning,
        facts.restriction_subjects_missing.iter().map(|(s, id, t, who)| format!("{s}: {t} ({id}) names {who}")).collect(),
        "page restrictions name users or groups that will not exist in the cloud; each restriction migrates without them (tighter, never open), and one left naming nobody allows the site's admins only",
        "migrate those users and groups (or create them in the cloud) first, or accept the tighter restrictions and adjust them in the cloud",
        "every page restriction's users and groups will exist in the cloud",
    ));
    out.push(check(
        "fidelity.authors",
        CheckResult::Warning,
        facts
            .authored
            .iter()
            .filter(|(_, p, b, c)| p + b + c > 0)
            .map(|(s, p, b, c)| format!("{s}: {p} pages, {b} blog posts, {c} comments"))
            .collect(),
        "spaces have content that will be authored in the cloud by the migrating account, dated the day it migrates: a Cloud site's public API sets no other author or date. Each keeps its original author and date in its ferry-origin property, and every later version names them in its message",
        "nothing to fix: tell the site's users; `ferry plan show` counts what the migrating account authored",
        "no content to author",
    ));
    out.extend(app_checks(facts));
    out
}

fn app_checks(facts: &Facts) -> Vec<Check> {
    let in_plan = facts.apps_scope == Some(AppsScope::Needed);
    let not_assessed: Vec<String> = if in_plan {
        facts.server_apps.iter().filter(|(_, d)| *d == Decision::NotAssessed).map(|(a, _)| format!("{} ({})", a.name, a.key)).collect()
    } else {
        Vec::new()
    };
    let apps = if in_plan { facts.apps.as_slice() } else { &[] };
    let server_version = |key: &str| facts.server_apps.iter().find(|(a, _)| a.key == key).map(|(a, _)| a.version.clone());
    let name = |a: &AppFacts| a.planned.app.clone();
    use ferry_apps::consent::ConsentStatus as C;
    vec![
        check(
            "apps.not-assessed",
            CheckResult::Error,
            not_assessed,
            "apps on the Server site have no decision",
            "decide each with `ferry apps decide APP needed|not-needed|alternative`, then create a new plan (a plan's apps are fixed when it is created)",
            "every app has a decision",
        ),
        check(
            "apps.plugin-changed",
            CheckResult::Error,
            apps.iter()
                .filter(|a| a.installed.as_ref().is_none_or(|(v, sha)| *v != a.planned.version || *sha != a.planned.sha256))
                .map(|a| match &a.installed {
                    Some((v, _)) => format!("{}: plan fixed {} , installed {v}", name(a), a.planned.version),
                    None => format!("{}: plan fixed {}, no plugin installed now", name(a), a.planned.version),
                })
                .collect(),
            "apps' plugins changed since the plan was created",
            "create a new plan: it fixes the plugins installed now",
            "every app's plugin is the one the plan fixed",
        ),
        check(
            "system.contract-unsupported",
            CheckResult::Error,
            apps.iter()
                .filter(|a| a.contract.as_ref().is_some_and(|(_, ok)| !ok))
                .map(|a| format!("{}: contract {}", name(a), a.contract.as_ref().map(|c| c.0.as_str()).unwrap_or("?")))
                .collect(),
            "plugins are built for a contract version this ferry does not serve",
            "install a plugin version built for a served contract (`ferry plugin audit` lists them), or upgrade ferry",
            "every plugin's contract version is served",
        ),
        check(
            "apps.untrusted-plugin",
            CheckResult::Error,
            apps.iter().filter_map(|a| a.untrusted.as_ref().map(|why| format!("{}: {why}", name(a)))).collect(),
            "apps' plugins are signed by keys this ferry no longer trusts; they will not run",
            "trust the vendor's key again with `ferry trust add VENDOR KEY`, or install a plugin build signed by a trusted key and create a new plan",
            "every app's plugin is signed by a trusted key (or was installed with --allow-unsigned)",
        ),
        check(
            "apps.server-app-outdated",
            CheckResult::Error,
            apps.iter()
                .filter(|a| a.range.as_ref().is_some_and(|r| server_version(&a.planned.app).is_some_and(|v| !assess::plugin_reads(r, &v))))
                .map(|a| {
                    format!(
                        "{}: Server {} , plugin reads {}",
                        name(a),
                        server_version(&a.planned.app).unwrap_or_default(),
                        a.range.as_ref().map(|r| r.to_string()).unwrap_or_default()
                    )
                })
                .collect(),
            "needed apps run a Server version their plugin cannot read",
            "update the Server app to a version the plugin reads",
            "every needed app's Server version is one its plugin reads",
        ),
        check(
            "apps.consent-missing",
            CheckResult::Error,
            apps.iter().filter(|a| a.consent == C::NotGiven).map(name).collect(),
            "needed apps have no consent; an app without consent is not migrated",
            "read the policy with `ferry consent show APP`, then `ferry consent agree APP`",
            "every needed app has consent",
        ),
        check(
            "apps.consent-outdated",
            CheckResult::Error,
            apps.iter().filter(|a| a.consent == C::Outdated).map(name).collect(),
            "needed apps have consent for another plugin version or scope set",
            "review what changed with `ferry consent show APP`, then agree again",
            "every needed app's consent is current",
        ),
        check(
            "apps.cloud-app-missing",
            CheckResult::Error,
            apps.iter().filter(|a| !a.cloud_app_installed).map(|a| format!("{} needs {}", name(a), a.cloud_app_key)).collect(),
            "needed apps' cloud apps are not confirmed installed on the cloud site",
            "install each cloud app on the site (Apps → Find new apps), confirm it with `ferry apps installed KEY --cloud NAME`, then check again",
            "every needed app's cloud app is confirmed installed on the cloud site (by the admin, with `ferry apps installed`)",
        ),
        check(
            "apps.endpoint-missing",
            CheckResult::Error,
            apps.iter().filter(|a| a.installed.is_some() && a.sends_to.is_none()).map(name).collect(),
            "needed apps' plugins name no migration endpoint for their cloud app, and none is set: their data has nowhere to go",
            "ask the vendor for a plugin that names its endpoint, or connect the site with --app-endpoint APP=URL, then create a new plan",
            "every needed app's data has a cloud app to go to",
        ),
        check(
            "apps.secret-missing",
            CheckResult::Error,
            apps.iter()
                .filter(|a| a.installed.is_some() && !a.secret.as_ref().is_some_and(|(_, set)| *set))
                .map(|a| match &a.secret {
                    Some((env, _)) => format!("{}: ${env} is empty or unset", name(a)),
                    None => format!("{}: no variable named for its migration secret", name(a)),
                })
                .collect(),
            "needed apps have no migration secret: Ferry cannot prove itself to their cloud apps, so their data would not be sent",
            "export the secret each cloud app issued in a variable and connect the site with --app-secret-env APP=VAR (then create a new plan)",
            "every needed app's migration secret is in its variable",
        ),
        check(
            "apps.endpoint-override",
            CheckResult::Warning,
            apps.iter()
                .filter_map(|a| match &a.sends_to {
                    Some((mine, Some(theirs))) => Some(format!("{}: to {mine} (your endpoint) instead of {theirs}", name(a))),
                    _ => None,
                })
                .collect(),
            "needed apps' data goes to an endpoint you set, not the one their vendor's plugin names",
            "nothing to fix for a trial run; connect the site without --app-endpoint for a production migration",
            "every needed app's data goes to the endpoint its plugin names",
        ),
        check(
            "apps.stage1",
            CheckResult::Warning,
            apps.iter().filter(|a| a.stage.stage.is_stage1()).map(|a| format!("{}: {}", name(a), a.stage.summary())).collect(),
            "apps are Stage 1: their plugins have not yet shown a high success rate",
            "run the plan with --stage1 proceed (migrate them) or --stage1 remove (leave them out)",
            "every app in the plan is Stage 2",
        ),
    ]
}

/// Whether server groups will exist in the cloud after the plan: not blocklisted, and
/// mapped, migrated by this plan, or already in the cloud (asked once per group).
struct GroupFate<'a> {
    mapped: &'a HashMap<String, String>,
    migrates_groups: bool,
    server_groups: &'a std::collections::BTreeMap<String, String>,
    found: HashMap<String, bool>,
}

impl GroupFate<'_> {
    async fn will_exist(&mut self, dest: &ferry_destination::Destination, group: &str) -> anyhow::Result<bool> {
        let lower = group.to_lowercase();
        if rules::is_blocklisted(&lower) {
            return Ok(false);
        }
        if self.mapped.contains_key(&lower) || (self.migrates_groups && self.server_groups.contains_key(&lower)) {
            return Ok(true);
        }
        if let Some(known) = self.found.get(&lower) {
            return Ok(*known);
        }
        let exists = dest.group_id_named(group).await?.is_some();
        self.found.insert(lower, exists);
        Ok(exists)
    }
}

impl Migrator {
    /// The server groups (lower-cased name → name) and the groups mapped earlier, with
    /// the blocklisted ones and those that would merge into a cloud group noted in
    /// `facts` when the plan migrates groups.
    async fn group_facts(&mut self, facts: &mut Facts, migrates_groups: bool) -> anyhow::Result<(BTreeMap<String, String>, HashMap<String, String>)> {
        let server_groups = self.server_groups().await?;
        let mapped = self.maps.preload(ns::GROUP, None).await?;
        if migrates_groups {
            facts.blocklisted_groups = server_groups.iter().filter(|(k, _)| rules::is_blocklisted(k)).map(|(_, n)| n.clone()).collect();
            let candidates: Vec<String> =
                server_groups.iter().filter(|(k, _)| !rules::is_blocklisted(k) && !mapped.contains_key(*k)).map(|(_, n)| n.clone()).collect();
            let dest = &self.dest;
            let found: Vec<anyhow::Result<Option<String>>> = stream::iter(candidates)
                .map(|name| async move { Ok(dest.group_id_named(&name).await?.map(|_| name)) })
                .buffered(crate::DEFAULT_CONCURRENCY)
                .collect()
                .await;
            for f in found {
                facts.groups_to_merge.extend(f?);
            }
        }
        Ok((server_groups, mapped))
    }

    /// On a site without a directory, the users of `users` (usable emails only) with no
    /// account: none mapped by an earlier plan, none in the organisation's user export,
    /// none the Jira user search finds.
    pub(crate) async fn users_without_account(&self, users: &[DirectoryUser]) -> anyhow::Result<Vec<String>> {
        if self.dest.has_directory() || users.is_empty() {
            return Ok(Vec::new());
        }
        let mapped = self.maps.preload(ns::USER, None).await?;
        let exported = crate::accounts::known(&self.db, &self.plan.destination).await?;
        let unknown: Vec<(String, String)> = rules::review_emails(users.to_vec())
            .usable
            .into_iter()
            .filter(|(_, email)| !mapped.contains_key(&format!("email/{email}")) && !exported.contains_key(email))
            .map(|(u, email)| (u.username, email))
            .collect();
        // As a run links them: those the export does not list are looked up by email.
        let this = self;
        let looked: Vec<anyhow::Result<Option<String>>> = stream::iter(unknown)
            .map(|(name, email)| async move { Ok(this.account_by_email(&email).await?.is_none().then(|| format!("{name} ({email})"))) })
            .buffered(crate::DEFAULT_CONCURRENCY)
            .collect()
            .await;
        looked.into_iter().filter_map(|r| r.transpose()).collect()
    }

    /// Gather the facts and run every check for this plan.
    pub async fn checks(&mut self) -> anyhow::Result<Vec<Check>> {
        let facts = self.facts().await?;
        Ok(run_checks(&facts))
    }

    async fn facts(&mut self) -> anyhow::Result<Facts> {
        if self.plan.product == ferry_source::Product::Jira {
            return self.jira_facts().await;
        }
        let mut facts = Facts { trusted_domains: self.plan.trusted_domains.clone(), ..Facts::default() };
        let (spaces, _) = self.resolve_spaces().await?;
        let migrates_identity = !self.plan.attachments_only;
        let only_keys = match self.plan.users {
            _ if !migrates_identity => None,
            UsersScope::All => Some(None),
            UsersScope::Related => {
                let mut keys = Vec::new();
                for space in &spaces {
                    keys.extend(self.source.related_user_keys(space.id).await?);
                }
                Some(Some(keys))
            }
            UsersScope::None => None,
        };
        if let Some(only_keys) = only_keys {
            facts.users = self.users_in_scope(only_keys).await?.0;
        }
        facts.users_without_account = self.users_without_account(&facts.users).await?;

        // Groups: the ones the plan migrates, and who they would merge into.
        let migrates_groups = migrates_identity && self.plan.users == UsersScope::All;
        let (server_groups, mapped) = self.group_facts(&mut facts, migrates_groups).await?;
        // Spaces: key conflicts, anonymous access, permissions of missing groups.
        if !self.plan.attachments_only {
            let mapped_spaces = self.maps.preload(ns::SPACE, None).await?;
            let mapped_users = self.maps.preload(ns::USER, None).await?;
            let usable_users: std::collections::HashSet<String> =
                rules::review_emails(facts.users.clone()).usable.into_iter().map(|(u, _)| u.username.to_lowercase()).collect();
            let mut groups = GroupFate { mapped: &mapped, migrates_groups, server_groups: &server_groups, found: HashMap::new() };
            // Pages a short link may name that will be in the cloud: the selected spaces'
            // and those of earlier plans.
            let selected: std::collections::HashSet<i64> = spaces.iter().map(|s| s.id).collect();
            let mut migrated_pages: std::collections::HashSet<String> = self.maps.preload(ns::PAGE, None).await?.into_keys().collect();
            migrated_pages.extend(self.maps.preload(ns::BLOGPOST, None).await?.into_keys());
            for space in &spaces {
                if !mapped_spaces.contains_key(&space.key) && self.dest.get_space(&space.key).await?.is_some() {
                    facts.space_key_conflicts.push(space.key.clone());
                }
                for perm in self.source.space_permissions(space.id).await? {
                    match (&perm.group, &perm.user_key, perm.all_users) {
                        (None, None, false) => facts.anonymous_spaces.push((space.key.clone(), perm.kind.clone())),
                        (Some(group), _, _) if !groups.will_exist(&self.dest, group).await? => {
                            facts.permissions_of_missing_groups.push((space.key.clone(), perm.kind.clone(), group.clone()));
                        }
                        _ => {}
                    }
                }
                for (id, title, body) in self.source.short_link_content(space.id).await? {
                    for code in crate::storage::short_link_codes(&body, &self.server_links) {
                        let will_exist = match crate::storage::short_link_id(&code) {
                            Some(target) if migrated_pages.contains(&target.to_string()) => true,
                            Some(target) => self.source.space_of_current(target).await?.is_some_and(|s| selected.contains(&s)),
                            None => false,
                        };
                        if !will_exist {
                            facts.short_links.push((space.key.clone(), id, title.clone(), code));
                        }
                    }
                }
                let (pages, blogposts, comments) = self.source.content_counts(space.id).await?;
                facts.authored.push((space.key.clone(), pages, blogposts, comments));
                for r in self.source.restrictions_of_space(space.id).await? {
                    let known = self.source.users_by_key(&r.users).await?;
                    let mut missing = Vec::new();
                    for key in &r.users {
                        let name = known.iter().find(|u| &u.key == key).map(|u| u.username.clone());
                        let exists = mapped_users.contains_key(&format!("confluence.userkey/{key}"))
                            || name.as_ref().is_some_and(|n| usable_users.contains(&n.to_lowercase()));
                        if !exists {
                            missing.push(format!("user {}", name.unwrap_or_else(|| format!("{key} (deleted)"))));
                        }
                    }
                    for group in &r.groups {
                        if !groups.will_exist(&self.dest, group).await? {
                            missing.push(format!("group {group}"));
                        }
                    }
                    if !missing.is_empty() {
                        let title = self.source.content_title(r.content_id).await?.unwrap_or_default();
                        for who in missing {
                            facts.restriction_subjects_missing.push((space.key.clone(), r.content_id, title.clone(), who));
                        }
                    }
                }
            }
        }

        // Apps.
        facts.apps_scope = Some(self.plan.apps);
        if self.plan.apps == AppsScope::Needed {
            let decided = assess::decisions(&self.db).await?;
            for a in self.source.installed_apps().await? {
                let decision = decided.get(&a.key).map(|d| d.0).unwrap_or(Decision::NotAssessed);
                facts.server_apps.push((ServerApp { key: a.key, name: a.name, version: a.version, vendor: a.vendor, enabled: a.enabled }, decision));
            }
            let rule = stages::rule(&self.db).await?;
            let registry = Registry::new(self.db.clone());
            for planned in self.plan.plan_apps.clone() {
                let loaded = registry.get_with_manifest(&planned.app).await?;
                let installed = loaded.as_ref().map(|(p, _)| p.clone());
                let (decision, manual) = decided.get(&planned.app).copied().unwrap_or((Decision::NotAssessed, false));
                let server_version = facts.server_apps.iter().find(|(a, _)| a.key == planned.app).map(|(a, _)| a.version.clone()).unwrap_or_default();
                let range = installed.as_ref().map(|p| p.server_app_versions.clone());
                let (path, _) = assess::migration_path(&server_version, range.as_ref(), manual);
                let consent = match &loaded {
                    Some((p, m)) => {
                        let record = ferry_apps::consent::record(&self.db, &planned.app).await?;
                        let binds = record.as_ref().is_some_and(|r| r.binds(p, m.scope_set()));
                        let outdated_server = range.as_ref().is_some_and(|r| !assess::plugin_reads(r, &server_version));
                        // The server-version check has its own code: judge consent as if the path were automated.
                        let path = if outdated_server { MigrationPath::Automated } else { path };
                        ferry_apps::consent::status(decision, path, false, record.as_ref(), binds)
                    }
                    None => ferry_apps::consent::ConsentStatus::NoAutomatedPath,
                };
                let cloud_app_key = loaded.as_ref().map(|(p, _)| p.cloud_app_key.clone()).unwrap_or_default();
                let cloud_app_installed =
                    !cloud_app_key.is_empty() && crate::cloud::app_confirmed(&self.db, &self.plan.destination, &cloud_app_key).await?.is_some();
                let contract = loaded.as_ref().map(|(p, m)| (p.contract.clone(), ferry_runtime::contract::is_supported(&m.contract)));
                let version = installed.as_ref().map(|p| p.version.clone()).unwrap_or_else(|| planned.version.clone());
                let link = self.plan.app_links.get(&planned.app).cloned().unwrap_or_default();
                let manifest_endpoint = loaded.as_ref().and_then(|(_, m)| m.migration_endpoint.clone());
                let sends_to = match (link.endpoint, manifest_endpoint) {
                    (Some(mine), theirs) => Some((mine, Some(theirs.unwrap_or_else(|| "none named".into())))),
                    (None, Some(theirs)) => Some((theirs, None)),
                    (None, None) => None,
                };
                let secret = link.secret_env.map(|env| {
                    let set = std::env::var(&env).is_ok_and(|v| !v.trim().is_empty());
                    (env, set)
                });
                facts.apps.push(AppFacts {
                    sends_to,
                    secret,
                    stage: stages::figures(&self.db, &planned.app, &version, &rule).await?,
                    installed: installed.map(|p| (p.version, p.sha256)),
                    contract,
                    range,
                    cloud_app_key,
                    cloud_app_installed,
                    consent,
                    untrusted: loaded.as_ref().and_then(|(p, _)| p.trust_problem()),
                    planned,
                });
            }
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_finding_of_one_speaks_of_one() {
        assert_eq!(super::counted(2, "users have no valid email address"), "2 users have no valid email address");
        assert_eq!(super::counted(1, "users have no valid email address; they will not migrate"), "1 user has no valid email address; they will not migrate");
        assert_eq!(super::counted(1, "space permissions are granted to anonymous users"), "1 space permission is granted to anonymous users");
        assert_eq!(super::counted(1, "needed apps' plugins name no migration endpoint"), "1 needed app's plugin names no migration endpoint");
        assert_eq!(super::counted(1, "apps on the Server site have no decision"), "1 app on the Server site has no decision");
        assert_eq!(super::counted(1, "people named by the requests have no user"), "1 person named by the requests has no user");
        assert_eq!(super::counted(1, "email domains are not marked trusted"), "1 email domain is not marked trusted");
    }

    use super::*;

    fn user(name: &str, email: &str) -> DirectoryUser {
        DirectoryUser { id: 1, directory_id: 1, username: name.into(), display_name: name.into(), email: Some(email.into()), active: true }
    }

    fn by_code<'a>(checks: &'a [Check], code: &str) -> &'a Check {
        checks.iter().find(|c| c.code == code).unwrap()
    }

    #[test]
    fn nothing_found_passes_every_check() {
        let checks = run_checks(&Facts { apps_scope: Some(AppsScope::Needed), ..Facts::default() });
        assert!(checks.iter().all(|c| c.result == CheckResult::Pass), "{checks:?}");
        assert!(!has_errors(&checks));
    }

    #[test]
    fn bad_and_shared_emails_are_errors_and_unknown_domains_a_warning() {
        let facts = Facts {
            users: vec![user("a", "a@corp.example"), user("b", "A@corp.example"), user("c", "nope"), user("d", "d@other.example")],
            trusted_domains: vec!["corp.example".into()],
            ..Facts::default()
        };
        let checks = run_checks(&facts);
        assert_eq!(by_code(&checks, "users.invalid-email").result, CheckResult::Error);
        assert_eq!(by_code(&checks, "users.duplicate-email").entities, ["b shares A@corp.example with a"]);
        let domains = by_code(&checks, "users.untrusted-domain");
        assert_eq!((domains.result, domains.entities.clone()), (CheckResult::Warning, vec!["other.example (1 users)".to_string()]));
        assert!(has_errors(&checks));
    }

    #[test]
    fn entities_are_capped_with_the_full_count() {
        let facts = Facts { space_key_conflicts: (0..120).map(|n| format!("S{n}")).collect(), ..Facts::default() };
        let c = run_checks(&facts).into_iter().find(|c| c.code == "spaces.key-conflict").unwrap();
        assert_eq!((c.entities.len(), c.count), (ENTITIES_SHOWN, 120));
    }

    #[test]
    fn app_checks_apply_only_to_plans_that_migrate_apps() {
        let facts = Facts {
            apps_scope: Some(AppsScope::None),
            server_apps: vec![(ServerApp { key: "k".into(), name: "K".into(), version: "1".into(), vendor: "v".into(), enabled: true }, Decision::NotAssessed)],
            ..Facts::default()
        };
        assert_eq!(by_code(&run_checks(&facts), "apps.not-assessed").result, CheckResult::Pass);
        let facts = Facts { apps_scope: Some(AppsScope::Needed), ..facts };
        assert_eq!(by_code(&run_checks(&facts), "apps.not-assessed").result, CheckResult::Error);
    }
}
