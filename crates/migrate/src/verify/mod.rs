//! `ferry verify`: read back what a plan migrated, through the same public APIs the
//! migration used, and compare it with the Server site after the migration's own
//! transformations (references rewritten by the same code, bodies compared as documents).
//!
//! Read-only: it sends only GETs, through the site's one budget, and counts them.
//! Confluence plans: each page and blog post the plan's spaces have in the cloud (present,
//! title, parent, body, versions in order, labels, who may view and edit it), each
//! comment (present, body), each attachment (present, size, SHA-256 of its bytes), and
//! each space's permissions. Jira plans: organizations, customers of each service desk,
//! requests (see [`jira`]). Both: each user enabled on the server has the product access
//! the migration gives, and the members of each group it migrated.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use ferry_destination::ContentKind;
use ferry_source::ContentItem;

use super::{ns, storage, Migrator};

mod jira;

/// What `ferry verify` found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// The plan verified.
    pub plan: String,
    /// When it started and ended (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// Entities compared, by kind (`pages`, `blogposts`, `comments`, `labels`).
    pub checked: BTreeMap<String, u64>,
    /// Every difference found.
    pub differences: Vec<Difference>,
    /// Requests sent to the cloud site (all reads).
    pub requests: u64,
    /// What was not compared (kinds this version of ferry does not read back yet).
    pub not_compared: Vec<String>,
    /// The sample compared, when not every entity was.
    pub sample: Option<Sample>,
}

impl Verification {
    /// Keep this verification in the state DB (the dashboard shows a plan's last one).
    pub async fn save(&self, db: &ferry_core::state::StateDb) -> anyhow::Result<()> {
        sqlx::query("INSERT OR REPLACE INTO verifications (plan_id, started_at, finished_at, differences, verification_json) VALUES (?, ?, ?, ?, ?)")
            .bind(&self.plan)
            .bind(&self.started_at)
            .bind(&self.finished_at)
            .bind(self.differences.len() as i64)
            .bind(serde_json::to_string(self)?)
            .execute(db.pool())
            .await?;
        Ok(())
    }

    /// The last verification of a plan, if it was verified.
    pub async fn latest(db: &ferry_core::state::StateDb, plan: &str) -> anyhow::Result<Option<Verification>> {
        let json: Option<String> = sqlx::query_scalar("SELECT verification_json FROM verifications WHERE plan_id = ? ORDER BY started_at DESC LIMIT 1")
            .bind(plan)
            .fetch_optional(db.pool())
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| anyhow::anyhow!("the stored verification of plan {plan} does not read: {e}"))).transpose()
    }
}

/// A sample of each kind: at most `per_kind` entities of each, chosen by `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sample {
    /// Entities of each kind compared, at most.
    pub per_kind: usize,
    /// What chooses them: the same seed, the same entities.
    pub seed: u64,
}

impl Sample {
    /// The `per_kind` server ids of `kind` whose SHA-256 with the seed comes first.
    fn choose(&self, kind: &str, candidates: impl IntoIterator<Item = String>) -> std::collections::HashSet<String> {
        use sha2::Digest;
        let mut ranked: Vec<(Vec<u8>, String)> =
            candidates.into_iter().map(|id| (sha2::Sha256::digest(format!("{}/{kind}/{id}", self.seed)).to_vec(), id)).collect();
        ranked.sort();
        ranked.into_iter().take(self.per_kind).map(|(_, id)| id).collect()
    }
}

/// The server ids a sample chose, by kind (none for a kind: every one is compared).
#[derive(Default)]
struct Chosen(std::collections::HashMap<&'static str, std::collections::HashSet<String>>);

impl Chosen {
    fn keeps(&self, kind: &str, server_id: impl ToString) -> bool {
        self.0.get(kind).is_none_or(|ids| ids.contains(&server_id.to_string()))
    }
}

/// One difference between the Server site and the cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// `pages`, `blogposts`, `comments` or `labels`.
    pub kind: String,
    /// The Server id.
    pub server_id: String,
    /// Its title (a comment: the title of its page or blog post).
    pub title: String,
    /// Its cloud id, when it has one.
    pub cloud_id: Option<String>,
    /// Where to look at it in the cloud.
    pub link: Option<String>,
    /// What differs.
    pub what: String,
    /// Which side is likely wrong: `cloud` (changed or lost since the migration) or
    /// `server` (changed on the server since it migrated).
    pub likely: String,
}

/// Who a page's server restrictions name (user keys, lower-case group names): its View
/// and its Edit restriction, each `None` where the server has none.
#[derive(Default)]
struct Restricted {
    view: Option<(BTreeSet<String>, BTreeSet<String>)>,
    edit: Option<(BTreeSet<String>, BTreeSet<String>)>,
}

/// What a verification does not compare yet.
const NOT_COMPARED: &[&str] = &[];

impl Migrator {
    /// Read back every page, blog post and comment of the plan's spaces that has a cloud
    /// copy, and compare it with the Server site.
    pub async fn verify(&mut self) -> anyhow::Result<Verification> {
        self.verify_sample(None).await
    }

    /// [`Migrator::verify`], of every entity, or of a sample of each kind chosen by its seed
    /// (the same seed chooses the same entities).
    pub async fn verify_sample(&mut self, sample: Option<Sample>) -> anyhow::Result<Verification> {
        let sent_before = self.dest.requests_sent();
        let mut out = Verification {
            plan: self.plan.id.clone(),
            started_at: ferry_core::state::now(),
            not_compared: NOT_COMPARED.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        out.sample = sample;
        self.verify_product_access(&mut out, sample).await?;
        let groups = match sample {
            Some(sample) => Some(sample.choose("groups", self.maps.preload(ns::GROUP, None).await?.into_keys())),
            None => None,
        };
        self.verify_memberships(groups.as_ref(), &mut out).await?;
        if self.plan.product == ferry_source::Product::Jira {
            let mut chosen = Chosen::default();
            if let Some(sample) = sample {
                let mut customers = Vec::new();
                self.maps.each_with_prefix(ns::CUSTOMER, &self.user_key_id(""), |key, _| customers.push(key.to_string())).await?;
                chosen.0.insert("customers", sample.choose("customers", customers));
                for (kind, namespace) in [("organizations", ns::ORGANIZATION), ("requests", ns::REQUEST)] {
                    chosen.0.insert(kind, sample.choose(kind, self.maps.preload(namespace, None).await?.into_keys()));
                }
            }
            self.verify_jira(&chosen, &mut out).await?;
            out.requests = self.dest.requests_sent() - sent_before;
            out.finished_at = ferry_core::state::now();
            out.save(&self.db).await?;
            return Ok(out);
        }
        let spaces = self.selected_spaces().await?;
        let mut chosen = Chosen::default();
        if let Some(sample) = sample {
            for (kind, namespace) in [("pages", ns::PAGE), ("blogposts", ns::BLOGPOST), ("comments", ns::COMMENT), ("attachments", ns::ATTACHMENT)] {
                let mut candidates = Vec::new();
                for space in &spaces {
                    candidates.extend(self.maps.preload(namespace, Some(&space.key)).await?.into_keys());
                }
                chosen.0.insert(kind, sample.choose(kind, candidates));
            }
        }
        let step = self.progress.step("verify", 0);
        for space in &spaces {
            let mut pages: Vec<ContentItem> = self.source.pages_in_tree_order(space.id).try_collect().await?;
            pages.extend(self.source.blogposts(space.id).try_collect::<Vec<_>>().await?);
            let mut mapped = self.maps.preload(ns::PAGE, Some(&space.key)).await?;
            mapped.extend(self.maps.preload(ns::BLOGPOST, Some(&space.key)).await?);
            let mut labels: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
            for label in self.source.labels_of_space(space.id).await? {
                labels.entry(label.content_id).or_default().insert(label.name);
            }
            let titles: BTreeMap<i64, String> = pages.iter().map(|p| (p.id, p.title.clone())).collect();
            let mut restricted: BTreeMap<i64, Restricted> = BTreeMap::new();
            for r in self.source.restrictions_of_space(space.id).await? {
                let entry = restricted.entry(r.content_id).or_default();
                let who = if r.kind == ferry_source::RestrictionKind::View { &mut entry.view } else { &mut entry.edit };
                let who = who.get_or_insert_with(Default::default);
                who.0.extend(r.users);
                who.1.extend(r.groups.into_iter().map(|g| g.to_lowercase()));
            }
            // The messages each page's versions were saved with, oldest first.
            let chosen_pages: Vec<ContentItem> = pages
                .iter()
                .filter(|p| mapped.contains_key(&p.id.to_string()) && chosen.keeps(if p.kind == "BLOGPOST" { "blogposts" } else { "pages" }, p.id))
                .cloned()
                .collect();
            let mut messages = self.version_messages(&chosen_pages).await?;
            step.set_length(step.length() + pages.len() as u64);
            for page in &pages {
                let Some(cloud) = mapped.get(&page.id.to_string()).and_then(|c| c.parse::<i64>().ok()) else { continue };
                let blog = page.kind == "BLOGPOST";
                let kind = if blog { "blogposts" } else { "pages" };
                if !chosen.keeps(kind, page.id) {
                    continue;
                }
                *out.checked.entry(kind.into()).or_default() += 1;
                let link = self.content_link(&space.key, cloud);
                let differ = |what: String, likely: &str| Difference {
                    kind: kind.into(),
                    server_id: page.id.to_string(),
                    title: page.title.clone(),
                    cloud_id: Some(cloud.to_string()),
                    link: Some(link.clone()),
                    what,
                    likely: likely.into(),
                };
                let Some(found) = self.dest.content(ContentKind::of(blog), cloud).await? else {
                    out.differences.push(differ("it is not in the cloud (deleted or moved since it migrated)".into(), "cloud"));
                    step.inc(1);
                    continue;
                };
                if found.title != page.title {
                    out.differences.push(differ(format!("its title is {:?} in the cloud, {:?} on the server", found.title, page.title), "cloud"));
                }
                if let Some(parent) = page.parent_id.filter(|_| !blog) {
                    let expected = mapped.get(&parent.to_string());
                    if expected.is_some() && found.parent_id.as_ref() != expected {
                        let parent_title = titles.get(&parent).cloned().unwrap_or_default();
                        out.differences
                            .push(differ(format!("it is no longer under {parent_title:?} (cloud id {})", expected.cloned().unwrap_or_default()), "cloud"));
                    }
                }
                if let Some(what) = self.body_difference(page, found.storage_body().unwrap_or_default()).await? {
                    out.differences.push(differ(what, "cloud"));
                }
                *out.checked.entry("versions".into()).or_default() += 1;
                for what in self.versions_difference(blog, cloud, &messages.remove(&page.id).unwrap_or_default()).await? {
                    out.differences.push(Difference { kind: "versions".into(), ..differ(what, "cloud") });
                }
                *out.checked.entry("restrictions".into()).or_default() += 1;
                if let Some(server) = restricted.get(&page.id) {
                    for what in self.restrictions_difference(cloud, server).await? {
                        out.differences.push(Difference { kind: "restrictions".into(), ..differ(what, "cloud") });
                    }
                }
                let expected: BTreeSet<String> = labels.remove(&page.id).unwrap_or_default();
                let in_cloud: BTreeSet<String> = self.dest.labels(ContentKind::of(blog), cloud).await?.into_iter().map(|l| l.name).collect();
                *out.checked.entry("labels".into()).or_default() += expected.len() as u64;
                let missing: Vec<&String> = expected.difference(&in_cloud).collect();
                let added: Vec<&String> = in_cloud.difference(&expected).collect();
                if !missing.is_empty() {
                    out.differences.push(Difference { kind: "labels".into(), ..differ(format!("the cloud lacks its labels {missing:?}"), "cloud") });
                }
                if !added.is_empty() {
                    out.differences
                        .push(Difference { kind: "labels".into(), ..differ(format!("the cloud has labels the server does not: {added:?}"), "cloud") });
                }
                step.inc(1);
            }
            self.verify_comments(space, &titles, &chosen, &mut out).await?;
            self.verify_attachments(space, &titles, &mapped, &chosen, &mut out).await?;
            self.verify_space_permissions(space, &mut out).await?;
        }
        step.finish();
        out.requests = self.dest.requests_sent() - sent_before;
        out.finished_at = ferry_core::state::now();
        out.save(&self.db).await?;
        Ok(out)
    }

    /// Each comment of the space with a cloud copy: there, with the body expected.
    async fn verify_comments(
        &mut self,
        space: &ferry_source::ServerSpace,
        titles: &BTreeMap<i64, String>,
        chosen: &Chosen,
        out: &mut Verification,
    ) -> anyhow::Result<()> {
        // Comments on pages and blog posts, and on attachments (footer comments in the cloud).
        let mut comments: Vec<ContentItem> = self.source.comments_of_space(space.id).try_collect().await?;
        comments.extend(self.source.file_comments_of_space(space.id).try_collect::<Vec<_>>().await?);
        let mapped = self.maps.preload(ns::COMMENT, Some(&space.key)).await?;
        for comment in &comments {
            let Some(cloud) = mapped.get(&comment.id.to_string()).and_then(|c| c.parse::<i64>().ok()) else { continue };
            if !chosen.keeps("comments", comment.id) {
                continue;
            }
            *out.checked.entry("comments".into()).or_default() += 1;
            let title = comment.parent_id.and_then(|p| titles.get(&p)).cloned().unwrap_or_default();
            let differ = |what: String| Difference {
                kind: "comments".into(),
                server_id: comment.id.to_string(),
                title: title.clone(),
                cloud_id: Some(cloud.to_string()),
                link: None,
                what,
                likely: "cloud".into(),
            };
            let found = match self.dest.comment(comment.inline.is_some(), cloud).await? {
                Some(found) => Some(found),
                None => self.dest.comment(comment.inline.is_none(), cloud).await?,
            };
            let Some(found) = found else {
                out.differences.push(differ("it is not in the cloud (deleted since it migrated)".into()));
                continue;
            };
            if let Some(what) = self.body_difference(comment, found.storage_body().unwrap_or_default()).await? {
                out.differences.push(differ(what));
            }
            // A reply answers the cloud copy of the comment it answers on the server.
            if let Some(parent) = comment.parent_comment_id.and_then(|p| mapped.get(&p.to_string())) {
                if found.parent_comment_id.as_ref() != Some(parent) {
                    out.differences.push(differ(format!("it no longer answers comment {parent} in the cloud")));
                }
            }
        }
        Ok(())
    }

    /// Each user of the plan enabled on the server is in the site's product-access group
    /// (the migration grants it; a user disabled on the server keeps what the cloud gave).
    async fn verify_product_access(&mut self, out: &mut Verification, sample: Option<Sample>) -> anyhow::Result<()> {
        if self.plan.users != crate::plan::UsersScope::All || self.plan.attachments_only {
            return Ok(());
        }
        let (users, _) = self.users_in_scope(None).await?;
        let review = ferry_core::rules::review_emails(users);
        let group_name = self.plan.product_group.clone();
        let Some(group) = self.group(&group_name, true).await? else {
            out.differences.push(Difference {
                kind: "users".into(),
                server_id: String::new(),
                title: group_name.clone(),
                cloud_id: None,
                link: None,
                what: format!("the site has no product-access group {group_name:?}"),
                likely: "cloud".into(),
            });
            return Ok(());
        };
        let ids = self.maps.preload(if self.dest.has_directory() { ns::DIRECTORY_USER } else { ns::USER }, None).await?;
        let sampled =
            sample.map(|s| s.choose("users", review.usable.iter().filter(|(_, e)| ids.contains_key(&format!("email/{e}"))).map(|(u, _)| u.username.clone())));
        for (user, email) in &review.usable {
            let Some(id) = ids.get(&format!("email/{email}")) else { continue };
            if sampled.as_ref().is_some_and(|chosen| !chosen.contains(&user.username)) {
                continue;
            }
            *out.checked.entry("users".into()).or_default() += 1;
            if user.active && !group.members.contains(id) {
                out.differences.push(Difference {
                    kind: "users".into(),
                    server_id: user.username.clone(),
                    title: format!("{} <{email}>", user.display_name),
                    cloud_id: Some(id.clone()),
                    link: None,
                    what: format!("enabled on the server, but not in the cloud's product-access group {group_name:?}: they cannot use the product"),
                    likely: "cloud".into(),
                });
            }
        }
        Ok(())
    }

    /// Where more people may view or edit a page in the cloud than on the server: its
    /// server View and Edit restrictions (`server`) against the cloud's `read` and
    /// `update` restrictions. Narrower is what the migration reports (restrictions
    /// narrowed); wider is a difference.
    async fn restrictions_difference(&mut self, cloud: i64, server: &Restricted) -> anyhow::Result<Vec<String>> {
        let restrictions = self.dest.restrictions(cloud).await?;
        let mut out = Vec::new();
        for (operation, verb, expected) in [("read", "view", &server.view), ("update", "edit", &server.edit)] {
            let Some((users, groups)) = expected else { continue };
            let found = restrictions.iter().find(|r| r.operation == operation);
            let Some(found) = found.filter(|r| !r.restrictions.user.is_empty() || !r.restrictions.group.is_empty()) else {
                out.push(format!("anyone with access to the space can {verb} it in the cloud; on the server only those its {verb} restriction names"));
                continue;
            };
            let mut allowed: BTreeSet<String> = BTreeSet::new();
            for key in users {
                if let Some(account) = self.author(Some(key)).await? {
                    allowed.insert(account);
                }
            }
            if let Some(me) = self.migrating_account().await? {
                allowed.insert(me.clone());
            }
            let extra_users: Vec<&str> = found.restrictions.user.iter().map(|u| u.account_id.as_str()).filter(|a| !allowed.contains(*a)).collect();
            let extra_groups: Vec<String> = found
                .restrictions
                .group
                .iter()
                .filter_map(|g| g.name.clone())
                .filter(|g| !groups.contains(&g.to_lowercase()) && !g.eq_ignore_ascii_case(ferry_cloud_wire::SITE_ADMINS_GROUP))
                .collect();
            if !extra_users.is_empty() || !extra_groups.is_empty() {
                out.push(format!("more people can {verb} it in the cloud than on the server: accounts {extra_users:?}, groups {extra_groups:?}"));
            }
        }
        Ok(out)
    }

    /// How a page's versions in the cloud differ from the ones the migration saved:
    /// `expected`, the message of each version, oldest first (the first one's is not
    /// compared: a create takes no message). Fewer versions, another order, or a version
    /// saved in the cloud since (other than the migration's own second pass) differ.
    async fn versions_difference(&mut self, blog: bool, cloud: i64, expected: &[String]) -> anyhow::Result<Vec<String>> {
        let found = self.dest.versions(blog, cloud).await?.results;
        let mut out = Vec::new();
        if found.len() < expected.len() {
            out.push(format!("it has {} versions in the cloud, {} on the server", found.len(), expected.len()));
        }
        for (n, (version, message)) in found.iter().zip(expected).enumerate().skip(1) {
            let saved = version.message.as_deref().unwrap_or_default();
            if saved != message {
                out.push(format!("version {} was saved with {saved:?} in the cloud; the server's version {} with {message:?}", version.number, n + 1));
                break;
            }
        }
        let later: Vec<i64> =
            found.iter().skip(expected.len()).filter(|v| v.message.as_deref() != Some(super::spaces::SECOND_PASS_MESSAGE)).map(|v| v.number).collect();
        if !later.is_empty() {
            out.push(format!("it was edited in the cloud after it migrated (versions {later:?})"));
        }
        Ok(out)
    }

    /// The message of each version the migration saves for each of `pages`, oldest first:
    /// its older versions' when the plan migrates history, then its current one's.
    async fn version_messages(&mut self, pages: &[ContentItem]) -> anyhow::Result<BTreeMap<i64, Vec<String>>> {
        let mut older = self.older_versions(pages, &Default::default()).await?;
        let mut out = BTreeMap::new();
        for page in pages {
            let kind = if page.kind == "BLOGPOST" { "blogpost" } else { "page" };
            let origin = self.origin_of(kind, page).await?;
            let mut messages: Vec<String> = older.remove(&page.id).unwrap_or_default().into_iter().map(|v| v.message).collect();
            messages.push(super::spaces::current_version_message(&origin, page));
            out.insert(page.id, messages);
        }
        Ok(out)
    }

    /// Each permission the migration gives in a space is there: who (the account, the
    /// group by its id, anonymous) may do what. A permission the migration dropped (it
    /// reports them) is not looked for; the site's own extra grants are not differences,
    /// but anonymous access the server does not give is.
    async fn verify_space_permissions(&mut self, space: &ferry_source::ServerSpace, out: &mut Verification) -> anyhow::Result<()> {
        let Some(cloud_space) = self.dest.get_space(&space.key).await?.and_then(|s| s.id) else {
            out.differences.push(Difference {
                kind: "spaces".into(),
                server_id: space.key.clone(),
                title: space.name.clone(),
                cloud_id: None,
                link: None,
                what: "the space is not in the cloud (deleted or its key changed since it migrated)".into(),
                likely: "cloud".into(),
            });
            return Ok(());
        };
        let found: BTreeSet<(String, String, String, String)> = self
            .dest
            .space_permissions(cloud_space)
            .await?
            .into_iter()
            .map(|p| (p.principal.kind, p.principal.id, p.operation.key, p.operation.target_type))
            .collect();
        let differ = |what: String| Difference {
            kind: "space permissions".into(),
            server_id: space.key.clone(),
            title: space.name.clone(),
            cloud_id: Some(cloud_space.to_string()),
            link: None,
            what,
            likely: "cloud".into(),
        };
        let mut anonymous_on_server = false;
        for perm in self.source.space_permissions(space.id).await? {
            let Ok((key, target)) = ferry_core::rules::cloud_space_operation(&perm.kind) else { continue };
            let (principal, shown) = match (&perm.group, &perm.user_key, perm.all_users) {
                (Some(group), _, _) => {
                    let Some(found) = self.restriction_group(group).await? else { continue };
                    (("group".to_string(), found.id), format!("group {group}"))
                }
                (None, Some(user), _) => {
                    let Some(account) = self.author(Some(user)).await? else { continue };
                    (("user".to_string(), account), format!("user {user}"))
                }
                (None, None, true) => {
                    let product_group = self.plan.product_group.clone();
                    let Some(found) = self.site_group_ref(&product_group).await? else { continue };
                    (("group".to_string(), found.id), "all signed-in users".to_string())
                }
                (None, None, false) => {
                    anonymous_on_server = true;
                    let anonymous = ferry_cloud_wire::PermissionSubject::anonymous();
                    ((anonymous.kind, anonymous.identifier), "anonymous".to_string())
                }
            };
            *out.checked.entry("space permissions".into()).or_default() += 1;
            if !found.contains(&(principal.0.clone(), principal.1.clone(), key.to_string(), target.to_string())) {
                out.differences.push(differ(format!("{shown} lacks {} ({key} {target}) in the cloud", perm.kind)));
            }
        }
        if !anonymous_on_server && found.iter().any(|(kind, id, _, _)| kind == "user" && id == ferry_cloud_wire::ANONYMOUS) {
            out.differences.push(differ("anyone, signed in or not, may use the space in the cloud; the server gives anonymous users nothing there".into()));
        }
        Ok(())
    }

    /// Each migrated user is a member of each group the server gives them (the migration
    /// adds them; the cloud's group may have more members); of the `sampled` groups only
    /// (lower-case names), when a sample is compared.
    async fn verify_memberships(&mut self, sampled: Option<&std::collections::HashSet<String>>, out: &mut Verification) -> anyhow::Result<()> {
        if self.plan.users != crate::plan::UsersScope::All || self.plan.attachments_only {
            return Ok(());
        }
        for (group, expected) in self.expected_memberships().await? {
            if sampled.is_some_and(|chosen| !chosen.contains(&group)) {
                continue;
            }
            let differ = |what: String| Difference {
                kind: "groups".into(),
                server_id: group.clone(),
                title: group.clone(),
                cloud_id: None,
                link: None,
                what,
                likely: "cloud".into(),
            };
            let Some(found) = self.group(&group, true).await? else {
                out.differences.push(differ("the group is not in the cloud (deleted or renamed since it migrated)".into()));
                continue;
            };
            *out.checked.entry("group memberships".into()).or_default() += expected.len() as u64;
            let missing: Vec<&String> = expected.iter().filter(|(_, id)| !found.members.contains(id)).map(|(name, _)| name).collect();
            if !missing.is_empty() {
                out.differences.push(differ(format!("{} of its members on the server are not members in the cloud: {missing:?}", missing.len())));
            }
        }
        Ok(())
    }

    /// Each attachment of the space with a cloud copy: there, the same size, the same
    /// bytes (SHA-256 of the server's file and of the cloud's download). `pages`: the
    /// space's pages and blog posts, server id → cloud id.
    async fn verify_attachments(
        &mut self,
        space: &ferry_source::ServerSpace,
        titles: &BTreeMap<i64, String>,
        pages: &std::collections::HashMap<String, String>,
        chosen: &Chosen,
        out: &mut Verification,
    ) -> anyhow::Result<()> {
        use sha2::Digest;
        let root = std::path::PathBuf::from(&self.plan.attachments);
        let items = self.source.attachments_of_space(space.id, &root).await?;
        let mapped = self.maps.preload(ns::ATTACHMENT, Some(&space.key)).await?;
        for item in &items {
            let Some(cloud) = mapped.get(&item.id.to_string()).and_then(|c| c.parse::<i64>().ok()) else { continue };
            if !chosen.keeps("attachments", item.id) {
                continue;
            }
            let Some(page) = pages.get(&item.page_id.to_string()).and_then(|c| c.parse::<i64>().ok()) else { continue };
            *out.checked.entry("attachments".into()).or_default() += 1;
            let differ = |what: String, likely: &str| Difference {
                kind: "attachments".into(),
                server_id: item.id.to_string(),
                title: format!("{} on {}", item.file_name, titles.get(&item.page_id).cloned().unwrap_or_default()),
                cloud_id: Some(format!("att{cloud}")),
                link: None,
                what,
                likely: likely.into(),
            };
            let Ok((server_size, server_sha)) = file_sha256(&item.path).await else {
                out.differences.push(differ(format!("its file {} is gone from the server's attachment folder", item.path.display()), "server"));
                continue;
            };
            let mut hash = sha2::Sha256::new();
            let Some(size) = self.dest.download_attachment(page, cloud, |chunk| hash.update(chunk)).await? else {
                out.differences.push(differ("it is not in the cloud (deleted since it migrated)".into(), "cloud"));
                continue;
            };
            if size != server_size {
                out.differences.push(differ(format!("it has {size} bytes in the cloud, {server_size} on the server"), "cloud"));
            } else if hash.finalize().as_slice() != server_sha.as_slice() {
                out.differences.push(differ("its bytes differ (SHA-256) though its size is the same".into(), "cloud"));
            }
        }
        Ok(())
    }

    /// How `actual` (the cloud's body) differs from the server's body after the
    /// migration's rewriting, in words; `None` when they are the same document.
    async fn body_difference(&mut self, item: &ContentItem, actual: &str) -> anyhow::Result<Option<String>> {
        if item.oversized.is_some() {
            return Ok(None);
        }
        let (expected, _): (String, Vec<String>) = self.rewrite_body(item.id, &item.title, &item.body).await?;
        Ok(match storage::first_difference(&expected, actual) {
            Ok(None) => None,
            Ok(Some(what)) => Some(format!("its body differs: {what}")),
            // A body the server holds malformed migrated as it was: compared as text.
            Err(_) if expected == actual => None,
            Err(e) if storage::text_of(&expected).is_err() => Some(format!("its body (malformed on the server, so compared as text) differs: {e}")),
            Err(e) => Some(format!("its body in the cloud does not parse as storage format: {e}")),
        })
    }

    /// Where a page or blog post is in the cloud, for people.
    fn content_link(&self, space_key: &str, cloud_id: i64) -> String {
        format!("{}/wiki/spaces/{space_key}/pages/{cloud_id}", self.plan.destination.trim_end_matches('/'))
    }
}

/// The size and SHA-256 of a file, read a chunk at a time.
async fn file_sha256(path: &std::path::Path) -> std::io::Result<(u64, Vec<u8>)> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hash = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Ok((size, hash.finalize().to_vec()));
        }
        size += n as u64;
        hash.update(&buffer[..n]);
    }
}
