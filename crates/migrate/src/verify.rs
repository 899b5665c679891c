//! `ferry verify`: read back what a plan migrated, through the same public APIs the
//! migration used, and compare it with the Server site after the migration's own
//! transformations (references rewritten by the same code, bodies compared as documents).
//!
//! Read-only: it sends only GETs, through the site's one budget, and counts them.
//! Confluence plans: each page and blog post the plan's spaces have in the cloud (present,
//! title, parent, body, labels, who may view it), each comment (present, body) and each
//! attachment (present, size, SHA-256 of its bytes); each user enabled on the server has
//! the product access the migration gives. Not yet: versions, edit restrictions, space
//! permissions, group memberships, and Jira plans (the verification says what it did not
//! look at).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use ferry_destination::ContentKind;
use ferry_source::ContentItem;

use super::{ns, storage, Migrator};

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
    fn keeps(&self, kind: &str, server_id: i64) -> bool {
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

/// What a verification does not compare yet.
const NOT_COMPARED: &[&str] = &["versions", "edit restrictions", "space permissions", "group memberships"];

impl Migrator {
    /// Read back every page, blog post and comment of the plan's spaces that has a cloud
    /// copy, and compare it with the Server site.
    pub async fn verify(&mut self) -> anyhow::Result<Verification> {
        self.verify_sample(None).await
    }

    /// [`Migrator::verify`], of every entity, or of a sample of each kind chosen by its seed
    /// (the same seed chooses the same entities).
    pub async fn verify_sample(&mut self, sample: Option<Sample>) -> anyhow::Result<Verification> {
        anyhow::ensure!(
            self.plan.product == ferry_source::Product::Confluence,
            "ferry verify reads Confluence plans only for now: Jira Service Management's customers and requests are not read back yet"
        );
        let sent_before = self.dest.requests_sent();
        let mut out = Verification {
            plan: self.plan.id.clone(),
            started_at: ferry_core::state::now(),
            not_compared: NOT_COMPARED.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
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
        out.sample = sample;
        self.verify_product_access(&mut out, sample).await?;
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
            let mut viewers: BTreeMap<i64, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
            for r in self.source.restrictions_of_space(space.id).await? {
                if r.kind == ferry_source::RestrictionKind::View {
                    let entry = viewers.entry(r.content_id).or_default();
                    entry.0.extend(r.users);
                    entry.1.extend(r.groups.into_iter().map(|g| g.to_lowercase()));
                }
            }
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
                *out.checked.entry("restrictions".into()).or_default() += 1;
                if let Some(what) = self.viewers_difference(cloud, viewers.get(&page.id)).await? {
                    out.differences.push(Difference { kind: "restrictions".into(), ..differ(what, "cloud") });
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
        }
        step.finish();
        out.requests = self.dest.requests_sent() - sent_before;
        out.finished_at = ferry_core::state::now();
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

    /// Whether more people may view a page in the cloud than on the server: its server
    /// View restriction (`expected`: user keys and lower-case group names; `None`: open)
    /// against the cloud's `read` restriction. Narrower is what the migration reports
    /// (restrictions narrowed); wider is a difference.
    async fn viewers_difference(&mut self, cloud: i64, expected: Option<&(BTreeSet<String>, BTreeSet<String>)>) -> anyhow::Result<Option<String>> {
        let Some((users, groups)) = expected else {
            return Ok(None);
        };
        let restrictions = self.dest.restrictions(cloud).await?;
        let read = restrictions.iter().find(|r| r.operation == "read");
        let Some(read) = read.filter(|r| !r.restrictions.user.is_empty() || !r.restrictions.group.is_empty()) else {
            return Ok(Some("anyone with access to the space can view it in the cloud; on the server only those its View restriction names".into()));
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
        let extra_users: Vec<&str> = read.restrictions.user.iter().map(|u| u.account_id.as_str()).filter(|a| !allowed.contains(*a)).collect();
        let extra_groups: Vec<String> = read
            .restrictions
            .group
            .iter()
            .filter_map(|g| g.name.clone())
            .filter(|g| !groups.contains(&g.to_lowercase()) && !g.eq_ignore_ascii_case(ferry_cloud_wire::SITE_ADMINS_GROUP))
            .collect();
        Ok(if extra_users.is_empty() && extra_groups.is_empty() {
            None
        } else {
            Some(format!("more people can view it in the cloud than on the server: accounts {extra_users:?}, groups {extra_groups:?}"))
        })
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
