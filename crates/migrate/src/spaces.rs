//! Spaces and their content: pages in tree order, blog posts, comments, attachments,
//! then permissions. Content whose author has no cloud account goes to Former User.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures_util::{stream, StreamExt, TryStreamExt};

use super::{ns, Migrator};
use crate::plan::{HistoryScope, SpacesScope};
use crate::report::{DetachedComment, DroppedPermission, Failure, RestrictionLoss, UnresolvedReference};
use crate::rules;
use crate::storage;
use ferry_destination::api::{
    Body, ContentRestriction, ContentUpdate, Created, InlineProperties, NewComment, NewContent, NewInlineComment, NewLabel, PageVersion, PermissionOperation,
    PermissionSubject, RestrictedGroup, RestrictedUser, RestrictionSubjects, SpacePermission, SITE_ADMINS_GROUP,
};
use ferry_source::{ContentItem, RestrictionItem, RestrictionKind, ServerSpace, VersionItem};

/// Items created concurrently: pages of the same tree depth, comments, attachments.
const CHUNK: usize = 1_024;

/// Body bytes a batch of pages or comments holds at most (a batch ends early when its
/// bodies reach this): with the bound on one body, what a batch holds stays bounded
/// whatever the database has.
const CHUNK_BYTES: usize = 64 << 20;

/// An older version of a page to migrate, with its author's cloud account.
struct OlderVersion {
    item: VersionItem,
    author: Option<String>,
}

/// A page or blog post ready to create: its current version (body rewritten), the cloud
/// ids of its parent, its creator and the author of its current version, and its older
/// versions (oldest first) when the plan migrates history.
struct PageJob {
    item: ContentItem,
    creator: Option<String>,
    modifier: Option<String>,
    parent: Option<i64>,
    older: Vec<OlderVersion>,
}

fn storage(value: String) -> Body {
    Body { representation: "storage".into(), value }
}

impl Migrator {
    /// The spaces the plan selects, each checked to exist on the server: a chosen key
    /// with no current space is recorded as a failure.
    pub(crate) async fn selected_spaces(&mut self) -> anyhow::Result<Vec<ServerSpace>> {
        let (found, missing) = self.resolve_spaces().await?;
        for key in missing {
            self.report.fail("spaces", key, "no current space with this key on the server");
        }
        Ok(found)
    }

    /// The spaces the plan selects, and the chosen keys with no current space.
    pub(crate) async fn resolve_spaces(&self) -> anyhow::Result<(Vec<ServerSpace>, Vec<String>)> {
        let all = self.source.spaces().await?;
        Ok(match &self.plan.spaces {
            SpacesScope::All => (all, Vec::new()),
            SpacesScope::None => (Vec::new(), Vec::new()),
            SpacesScope::Keys(keys) => {
                let mut chosen = Vec::new();
                let mut missing = Vec::new();
                for key in keys {
                    match all.iter().find(|s| &s.key == key) {
                        Some(space) => chosen.push(space.clone()),
                        None => missing.push(key.clone()),
                    }
                }
                (chosen, missing)
            }
        })
    }

    /// The cloud account of a user key, cached; `None` is Former User.
    async fn author(&mut self, key: Option<&str>) -> anyhow::Result<Option<String>> {
        let Some(key) = key else { return Ok(None) };
        if let Some(known) = self.authors.get(key) {
            return Ok(known.clone());
        }
        let found = self.maps.get(ns::USER, &format!("confluence.userkey/{key}")).await?;
        self.authors.insert(key.to_string(), found.clone());
        Ok(found)
    }

    /// Migrate one space and everything in it.
    pub(crate) async fn migrate_space(&mut self, space: ServerSpace) -> anyhow::Result<()> {
        if self.plan.attachments_only {
            // The bytes go ahead as media of the space; the space itself moves later.
            let started = Instant::now();
            self.migrate_attachments(&space, &HashMap::new()).await?;
            self.report.time("attachments", started);
            return Ok(());
        }
        self.report.count("spaces").server += 1;
        let cloud_space: i64 = match self.maps.get(ns::SPACE, &space.key).await? {
            Some(id) => id.parse()?,
            None => match self.dest.create_space(&space.key, &space.name, &self.maps.origin(ns::SPACE, &space.key)).await {
                Ok(created) => {
                    let id = created.id.unwrap_or_default();
                    self.maps.put(ns::SPACE, &space.key, &id.to_string(), None).await?;
                    id
                }
                Err(e) if e.status() == Some(409) => {
                    let reason = format!(
                        "space key {} already exists in the cloud site: this space is not migrated (rename or remove the cloud space, then migrate it in a new plan)",
                        space.key
                    );
                    self.report.fail("spaces", &space.key, reason);
                    return Ok(());
                }
                Err(e) => {
                    self.report.fail("spaces", &space.key, e.to_string());
                    return Ok(());
                }
            },
        };
        self.report.count("spaces").cloud += 1;
        let mut content_ids: HashMap<i64, i64> = HashMap::new();
        let started = Instant::now();
        let restrictions = self.source.restrictions_of_space(space.id).await?;
        self.restricted = restrictions.iter().map(|r| r.content_id).collect();
        self.migrate_pages(&space, cloud_space, &mut content_ids).await?;
        self.report.time("pages", started);
        let started = Instant::now();
        self.migrate_restrictions(restrictions, &content_ids).await?;
        self.report.time("restrictions", started);
        let started = Instant::now();
        self.migrate_comments(&space, &content_ids).await?;
        self.report.time("comments", started);
        let started = Instant::now();
        self.migrate_attachments(&space, &content_ids).await?;
        self.migrate_file_comments(&space).await?;
        self.report.time("attachments", started);
        let started = Instant::now();
        self.migrate_labels(&space, &content_ids).await?;
        self.report.time("labels", started);
        let started = Instant::now();
        self.migrate_permissions(&space).await?;
        self.report.time("permissions", started);
        Ok(())
    }

    /// Pages level by level (parents first, each level concurrently), then blog posts.
    async fn migrate_pages(&mut self, space: &ServerSpace, cloud_space: i64, ids: &mut HashMap<i64, i64>) -> anyhow::Result<()> {
        let bar = self.progress.step("pages", 0);
        bar.set_message(space.key.clone());
        for blog in [false, true] {
            let (kind, namespace) = if blog { ("blogposts", ns::BLOGPOST) } else { ("pages", ns::PAGE) };
            let source = self.source.clone();
            let mut items = if blog { source.blogposts(space.id) } else { source.pages_in_tree_order(space.id) };
            let known = self.maps.preload(namespace, Some(&space.key)).await?;
            let mut chunk: Vec<ContentItem> = Vec::with_capacity(CHUNK);
            let mut bytes = 0;
            loop {
                let next = items.try_next().await?;
                let flush = match (&next, chunk.last()) {
                    (None, _) => true,
                    (Some(n), Some(last)) => n.depth != last.depth || chunk.len() >= CHUNK || bytes >= CHUNK_BYTES,
                    (Some(_), None) => false,
                };
                if flush && !chunk.is_empty() {
                    bytes = 0;
                    let batch = std::mem::take(&mut chunk);
                    self.create_content_batch(batch, kind, namespace, blog, space, cloud_space, &known, ids).await?;
                    bar.set_position(ids.len() as u64);
                }
                match next {
                    Some(item) => {
                        bytes += item.body.len();
                        chunk.push(item);
                    }
                    None => break,
                }
            }
        }
        bar.finish();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_content_batch(
        &mut self,
        batch: Vec<ContentItem>,
        kind: &str,
        namespace: &str,
        blog: bool,
        space: &ServerSpace,
        cloud_space: i64,
        known: &HashMap<String, String>,
        ids: &mut HashMap<i64, i64>,
    ) -> anyhow::Result<()> {
        let mut older = self.older_versions(&batch, known).await?;
        let mut jobs = Vec::with_capacity(batch.len());
        let mut pending = Vec::new();
        for mut item in batch {
            self.report.count(kind).server += 1;
            let older: Vec<OlderVersion> = older.remove(&item.id).unwrap_or_default();
            self.report.count("versions").server += 1 + older.len() as u64;
            if let Some(chars) = item.oversized {
                self.report.fail(kind, item.id.to_string(), ferry_source::too_long("its body", chars));
                self.report.count("versions").failed += 1 + older.len() as u64;
                continue;
            }
            let creator = self.author(item.creator.as_deref()).await?;
            let modifier = self.author(item.modifier.as_deref().or(item.creator.as_deref())).await?;
            let (body, unresolved) = self.rewrite_body(item.id, &item.title, &item.body).await?;
            item.body = body;
            if !unresolved.is_empty() {
                pending.push((item.id, item.title.clone()));
            }
            let parent = match item.parent_id {
                Some(p) => match ids.get(&p) {
                    Some(cloud) => Some(*cloud),
                    None => {
                        self.report.fail(kind, item.id.to_string(), format!("its parent page {p} did not migrate"));
                        self.report.count("versions").failed += 1 + older.len() as u64;
                        continue;
                    }
                },
                None => None,
            };
            jobs.push(PageJob { item, creator, modifier, parent, older });
        }
        let this = &*self;
        let key = space.key.as_str();
        let results: Vec<(i64, Option<String>, u64, anyhow::Result<i64>)> = stream::iter(jobs)
            .map(|job| async move {
                let (id, creator, versions) = (job.item.id, job.creator.clone(), 1 + job.older.len() as u64);
                let result = this
                    .link_or_create(namespace, id, known, key, |origin| async move { this.create_with_history(blog, cloud_space, job, &origin).await })
                    .await;
                (id, creator, versions, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut tallied = Vec::with_capacity(results.len());
        for (id, creator, versions, result) in results {
            let count = self.report.count("versions");
            if result.is_ok() {
                count.cloud += versions;
            } else {
                count.failed += versions;
            }
            tallied.push((id, creator, result));
        }
        let landed: Vec<i64> = tallied.iter().filter(|(_, _, r)| r.is_ok()).map(|(id, _, _)| *id).collect();
        self.tally_authored(kind, tallied, ids);
        let page_ids = self.page_ids.get_or_insert_with(HashMap::new);
        for id in landed {
            page_ids.insert(id, ids[&id]);
            if !known.contains_key(&id.to_string()) {
                self.created_pages.insert(id);
            }
        }
        self.remember_unresolved(pending, ids, &space.key).await
    }

    /// The older versions of the pages of a batch not migrated yet, by page, oldest
    /// first, with their authors' accounts (none when the plan migrates the current
    /// version only).
    async fn older_versions(&mut self, batch: &[ContentItem], known: &HashMap<String, String>) -> anyhow::Result<HashMap<i64, Vec<OlderVersion>>> {
        if self.plan.history == HistoryScope::Current {
            return Ok(HashMap::new());
        }
        let with_history: Vec<i64> = batch.iter().filter(|c| c.version > 1 && !known.contains_key(&c.id.to_string())).map(|c| c.id).collect();
        if with_history.is_empty() {
            return Ok(HashMap::new());
        }
        // Older bodies are rewritten with the pages known now.
        self.known_pages().await?;
        let mut out: HashMap<i64, Vec<OlderVersion>> = HashMap::new();
        for item in self.source.older_versions(&with_history).await? {
            let author = self.author(item.author.as_deref()).await?;
            out.entry(item.of).or_default().push(OlderVersion { item, author });
        }
        Ok(out)
    }

    /// Create a page or blog post with its history: its oldest version creates it (by its
    /// creator, at its creation date), each later version is added in order with its own
    /// author, date and comment, and the current version comes last. Without older
    /// versions it is created with its current version alone.
    async fn create_with_history(&self, blog: bool, cloud_space: i64, job: PageJob, origin: &str) -> anyhow::Result<Created> {
        let PageJob { item, creator, modifier, parent, older } = job;
        let ContentItem { id, title, body, created, modified, version_comment, .. } = item;
        // A restricted page is created private to the migrating account, so nobody else can
        // see it before its own restrictions are set.
        let private = self.restricted.contains(&id);
        // The page is created from its oldest version; the current one, when older ones
        // exist, comes last.
        let mut older = older.into_iter();
        let (first_title, first_body, first_message, current) = match older.next() {
            None => (title, body, version_comment, None),
            Some(first) => (first.item.title, self.older_body(first.item.id).await?, first.item.comment, Some((title, body, version_comment))),
        };
        let content = NewContent {
            space_id: cloud_space,
            status: "current".into(),
            title: first_title,
            parent_id: parent,
            body: storage(first_body),
            author_id: creator,
            created_at: created,
            version_message: first_message,
        };
        let created = self.dest.create_content(blog, &content, origin, private).await?;
        let Some((title, body, message)) = current else { return Ok(created) };
        let mut number = 1;
        for v in older {
            number += 1;
            let body = storage(self.older_body(v.item.id).await?);
            let version = PageVersion { number, message: v.item.comment, author_id: v.author, created_at: v.item.saved };
            let update = ContentUpdate { id: created.id.to_string(), status: "current".into(), title: v.item.title, body, version };
            self.dest.add_version(blog, created.id, &update).await?;
        }
        let version = PageVersion { number: number + 1, message, author_id: modifier, created_at: modified };
        let update = ContentUpdate { id: created.id.to_string(), status: "current".into(), title, body: storage(body), version };
        self.dest.add_version(blog, created.id, &update).await?;
        Ok(created)
    }

    /// The body of an older version with its references rewritten to the ids known now.
    /// History is not edited later: a reference to a page created later in the plan, or an
    /// unreadable body, stays as the server had it.
    async fn older_body(&self, version_id: i64) -> anyhow::Result<String> {
        let body = self.source.body_of(version_id).await?;
        let Ok(refs) = storage::references(&body, &self.server_links) else { return Ok(body) };
        if refs.users.is_empty() && refs.pages.is_empty() {
            return Ok(body);
        }
        let resolved = self.resolved(&refs).await?;
        Ok(storage::rewrite(&body, &resolved).map(|r| r.body).unwrap_or(body))
    }

    /// Record the bodies that name pages with no cloud id yet (server id, title), of the
    /// entities that landed (`ids`): this plan's second pass, and every later plan,
    /// rewrite them again.
    async fn remember_unresolved(&mut self, pending: Vec<(i64, String)>, ids: &HashMap<i64, i64>, space_key: &str) -> anyhow::Result<()> {
        let mut landed = Vec::with_capacity(pending.len());
        for (server_id, title) in pending {
            if let Some(cloud_id) = ids.get(&server_id) {
                landed.push((server_id.to_string(), cloud_id.to_string()));
                self.pending_bodies.insert(server_id, title);
            }
        }
        self.maps.put_many(ns::UNRESOLVED_BODY, &landed, Some(space_key)).await
    }

    /// Every page and blog post the destination has from earlier plans, read once.
    async fn known_pages(&mut self) -> anyhow::Result<&HashMap<i64, i64>> {
        if self.page_ids.is_none() {
            let mut all = HashMap::new();
            for namespace in [ns::PAGE, ns::BLOGPOST] {
                for (server, cloud) in self.maps.preload(namespace, None).await? {
                    if let (Ok(server), Ok(cloud)) = (server.parse(), cloud.parse()) {
                        all.insert(server, cloud);
                    }
                }
            }
            self.page_ids = Some(all);
        }
        Ok(self.page_ids.as_ref().expect("just loaded"))
    }

    /// What the references of a body resolve to now: accounts of the users it mentions
    /// (through the user mappings; none is Former User) and cloud ids of the pages it
    /// names that have one. Warms the caches [`Migrator::resolved`] reads.
    async fn resolve(&mut self, refs: &storage::References) -> anyhow::Result<storage::Resolved> {
        for key in &refs.users {
            self.author(Some(key)).await?;
        }
        self.known_pages().await?;
        self.resolved(refs).await
    }

    /// What the references of a body resolve to, from the caches (and the user mappings
    /// for a user not cached): for concurrent jobs, which cannot fill the caches.
    async fn resolved(&self, refs: &storage::References) -> anyhow::Result<storage::Resolved> {
        let mut resolved = storage::Resolved { base_url: self.plan.destination.clone(), server: self.server_links.clone(), ..Default::default() };
        for key in &refs.users {
            let account = match self.authors.get(key) {
                Some(known) => known.clone(),
                None => self.maps.get(ns::USER, &format!("confluence.userkey/{key}")).await?,
            };
            resolved.accounts.insert(key.clone(), account);
        }
        if let Some(known) = &self.page_ids {
            resolved.pages = refs.pages.iter().filter_map(|id| known.get(id).map(|cloud| (*id, *cloud))).collect();
        }
        Ok(resolved)
    }

    /// A body with its references rewritten, and the references to pages that have no
    /// cloud id yet (a page's body is patched once every page of the plan has one). A
    /// body that cannot be read migrates unchanged and is reported.
    async fn rewrite_body(&mut self, server_id: i64, title: &str, body: &str) -> anyhow::Result<(String, Vec<String>)> {
        let refs = match storage::references(body, &self.server_links) {
            Ok(refs) => refs,
            Err(e) => {
                self.report.unresolved_references.push(UnresolvedReference {
                    content_id: server_id,
                    title: title.to_string(),
                    reference: String::new(),
                    reason: format!("{e}; it migrated unchanged"),
                });
                return Ok((body.to_string(), Vec::new()));
            }
        };
        if refs.users.is_empty() && refs.pages.is_empty() {
            return Ok((body.to_string(), Vec::new()));
        }
        let resolved = self.resolve(&refs).await?;
        let rewritten = storage::rewrite(body, &resolved).map_err(|e| anyhow::anyhow!("content {server_id}: {e}"))?;
        Ok((rewritten.body, rewritten.unresolved))
    }

    /// The second pass: bodies that named pages with no cloud id when they were created
    /// (this plan's, and those earlier plans left) are rewritten again from the server's
    /// body, now that every page of this plan has its cloud id, and replaced in the cloud
    /// (no new version). References to pages that did not migrate stay as they are: this
    /// plan's are reported, and the ledger keeps every such body for the next plan.
    pub(crate) async fn patch_pending_bodies(&mut self) -> anyhow::Result<()> {
        let recorded = self.maps.preload(ns::UNRESOLVED_BODY, None).await?;
        for (server_id, cloud_id) in recorded {
            let (Ok(server_id), Ok(cloud_id)) = (server_id.parse::<i64>(), cloud_id.parse::<i64>()) else { continue };
            let title = self.pending_bodies.remove(&server_id);
            let ours = title.is_some();
            let body = self.source.body_of(server_id).await?;
            let refs = match storage::references(&body, &self.server_links) {
                Ok(refs) => refs,
                Err(_) => {
                    // Unreadable since (the server page was edited): nothing to rewrite.
                    self.maps.forget(ns::UNRESOLVED_BODY, &server_id.to_string()).await?;
                    continue;
                }
            };
            // An earlier plan's body can only resolve further through a page this plan
            // created: without one, it stays as that plan left it.
            if !ours && !refs.pages.iter().any(|p| self.created_pages.contains(p)) {
                continue;
            }
            let resolved = self.resolve(&refs).await?;
            let rewritten = storage::rewrite(&body, &resolved).map_err(|e| anyhow::anyhow!("content {server_id}: {e}"))?;
            match self.dest.replace_body(cloud_id, &storage(rewritten.body)).await {
                Ok(()) => {}
                Err(e) if e.status() == Some(404) && !ours => {
                    // Deleted in the cloud since an earlier plan migrated it.
                    self.maps.forget(ns::UNRESOLVED_BODY, &server_id.to_string()).await?;
                    continue;
                }
                Err(e) => {
                    let reason = format!("its references could not be updated (the ledger keeps it: the next plan tries again): {e}");
                    self.report.failures.push(Failure { kind: "references".into(), server_id: server_id.to_string(), reason });
                    continue;
                }
            }
            if rewritten.unresolved.is_empty() {
                self.maps.forget(ns::UNRESOLVED_BODY, &server_id.to_string()).await?;
                self.report.earlier_bodies_fixed += u64::from(!ours);
            }
            if let Some(title) = title {
                self.report_unresolved(server_id, &title, rewritten.unresolved);
            }
        }
        Ok(())
    }

    /// Report references that still name pages with no cloud id.
    fn report_unresolved(&mut self, server_id: i64, title: &str, references: Vec<String>) {
        for reference in references {
            self.report.unresolved_references.push(UnresolvedReference {
                content_id: server_id,
                title: title.to_string(),
                reference,
                reason: "names a page that is not migrated (by this plan or an earlier one); a later plan that migrates it fixes the reference".into(),
            });
        }
    }

    /// Link an entity mapped by an earlier plan, or create it (idempotently, keyed by its
    /// namespace and server id) and record its mapping; returns its cloud id.
    async fn link_or_create<F, Fut, E>(
        &self,
        namespace: &str,
        server_id: i64,
        known: &HashMap<String, String>,
        space_key: &str,
        create: F,
    ) -> anyhow::Result<i64>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<ferry_destination::api::Created, E>>,
        anyhow::Error: From<E>,
    {
        let server_id = server_id.to_string();
        if let Some(existing) = known.get(&server_id) {
            return Ok(existing.parse::<i64>()?);
        }
        let created = create(self.maps.origin(namespace, &server_id)).await?;
        self.maps.put(namespace, &server_id, &created.id.to_string(), Some(space_key)).await?;
        Ok(created.id)
    }

    /// Count created pages, blog posts or comments (and those that went to Former User),
    /// remember their cloud ids, and report the failures.
    fn tally_authored(&mut self, kind: &str, results: Vec<(i64, Option<String>, anyhow::Result<i64>)>, ids: &mut HashMap<i64, i64>) {
        for (server_id, author, result) in results {
            match result {
                Ok(cloud) => {
                    ids.insert(server_id, cloud);
                    self.report.count(kind).cloud += 1;
                    self.report.former_user += u64::from(author.is_none());
                }
                Err(e) => self.report.fail(kind, server_id.to_string(), format!("{e:#}")),
            }
        }
    }

    /// Comments in id order, so a reply comes after the comment it answers.
    async fn migrate_comments(&mut self, space: &ServerSpace, content_ids: &HashMap<i64, i64>) -> anyhow::Result<()> {
        let bar = self.progress.step("comments", 0);
        let source = self.source.clone();
        let mut items = source.comments_of_space(space.id);
        let mut comment_ids: HashMap<i64, i64> = HashMap::new();
        // Comments created inline (their replies are inline too).
        let mut inline: HashSet<i64> = HashSet::new();
        let known = self.maps.preload(ns::COMMENT, Some(&space.key)).await?;
        loop {
            let mut batch: Vec<ContentItem> = Vec::with_capacity(CHUNK);
            let mut bytes = 0;
            while batch.len() < CHUNK && bytes < CHUNK_BYTES {
                match items.try_next().await? {
                    Some(item) => {
                        bytes += item.body.len();
                        batch.push(item);
                    }
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            // A reply whose parent is in this same batch waits for the next round.
            let in_batch: HashSet<i64> = batch.iter().map(|c| c.id).collect();
            let (now, later): (Vec<_>, Vec<_>) = batch.into_iter().partition(|c| !c.parent_comment_id.is_some_and(|p| in_batch.contains(&p)));
            for round in [now, later] {
                self.create_comment_batch(round, space, &known, content_ids, &mut comment_ids, &mut inline).await?;
            }
            bar.set_position(comment_ids.len() as u64);
        }
        bar.finish();
        Ok(())
    }

    async fn create_comment_batch(
        &mut self,
        batch: Vec<ContentItem>,
        space: &ServerSpace,
        known: &HashMap<String, String>,
        content_ids: &HashMap<i64, i64>,
        comment_ids: &mut HashMap<i64, i64>,
        inline: &mut HashSet<i64>,
    ) -> anyhow::Result<()> {
        let mut jobs = Vec::new();
        let mut pending = Vec::new();
        for item in batch {
            self.report.count("comments").server += 1;
            let Some(page) = item.parent_id.and_then(|p| content_ids.get(&p)).copied() else {
                self.report.fail("comments", item.id.to_string(), "the page it is on did not migrate");
                continue;
            };
            let anchor = self.inline_anchor(&item, inline).await?;
            let unanswered = |p| format!("the comment it answers ({p}) did not migrate");
            if let Some((item, parent, author)) = self.prepare_comment(item, comment_ids, &mut pending, unanswered).await? {
                jobs.push((item, page, parent, author, anchor));
            }
        }
        let this = &*self;
        let key = space.key.as_str();
        let results: Vec<(i64, Option<String>, anyhow::Result<i64>)> = stream::iter(jobs)
            .map(|(item, page, parent, author, anchor)| async move {
                let body = storage(item.body);
                let result = match anchor {
                    Some(properties) => {
                        let comment = NewInlineComment {
                            page_id: page,
                            parent_comment_id: parent,
                            body,
                            author_id: author.clone(),
                            inline_comment_properties: properties,
                        };
                        this.link_or_create(ns::COMMENT, item.id, known, key, |origin| async move { this.dest.create_inline_comment(&comment, &origin).await })
                            .await
                    }
                    None => {
                        let comment = NewComment { page_id: Some(page), attachment_id: None, parent_comment_id: parent, body, author_id: author.clone() };
                        this.link_or_create(ns::COMMENT, item.id, known, key, |origin| async move { this.dest.create_comment(&comment, &origin).await }).await
                    }
                };
                (item.id, author, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        self.tally_authored("comments", results, comment_ids);
        self.remember_unresolved(pending, comment_ids, &space.key).await
    }

    /// How a comment is created: `None` as a footer comment; `Some(Some(anchor))` as an
    /// inline comment on its marker; `Some(None)` as a reply to an inline comment. An
    /// inline comment whose marker is gone from its page's body on the server (its text
    /// was edited away) becomes a footer comment, reported.
    async fn inline_anchor(&mut self, item: &ContentItem, inline: &mut HashSet<i64>) -> anyhow::Result<Option<Option<InlineProperties>>> {
        if let Some(parent) = item.parent_comment_id {
            if inline.contains(&parent) {
                inline.insert(item.id);
                return Ok(Some(None));
            }
            return Ok(None);
        }
        let (Some(anchor), Some(page)) = (&item.inline, item.parent_id) else { return Ok(None) };
        if !storage::has_inline_marker(&self.source.body_of(page).await?, &anchor.marker_ref) {
            self.report.detached_inline_comments.push(DetachedComment { comment_id: item.id, page_id: page, selection: anchor.selection.clone() });
            return Ok(None);
        }
        inline.insert(item.id);
        Ok(Some(Some(InlineProperties { inline_marker_ref: anchor.marker_ref.clone(), text_selection: anchor.selection.clone() })))
    }

    /// A comment ready to create: the cloud id of the comment it answers, its author's
    /// account, and its body rewritten. `None` (reported with `unanswered`'s reason) when
    /// the comment it answers did not migrate. A comment whose body names pages with no
    /// cloud id yet joins `pending`.
    async fn prepare_comment(
        &mut self,
        item: ContentItem,
        comment_ids: &HashMap<i64, i64>,
        pending: &mut Vec<(i64, String)>,
        unanswered: impl FnOnce(i64) -> String,
    ) -> anyhow::Result<Option<(ContentItem, Option<i64>, Option<String>)>> {
        if let Some(chars) = item.oversized {
            self.report.fail("comments", item.id.to_string(), ferry_source::too_long("its body", chars));
            return Ok(None);
        }
        let parent = match item.parent_comment_id {
            Some(p) => match comment_ids.get(&p) {
                Some(c) => Some(*c),
                None => {
                    self.report.fail("comments", item.id.to_string(), unanswered(p));
                    return Ok(None);
                }
            },
            None => None,
        };
        let author = self.author(item.creator.as_deref()).await?;
        let (body, unresolved) = self.rewrite_body(item.id, "", &item.body).await?;
        if !unresolved.is_empty() {
            pending.push((item.id, String::new()));
        }
        Ok(Some((ContentItem { body, ..item }, parent, author)))
    }

    /// Comments on attachments (file comments), once the attachments are in: each goes
    /// onto its attachment's cloud copy, concurrently, in rounds (a reply waits for the
    /// round of the comment it answers). One whose attachment did not migrate, or that the
    /// destination will not take, is reported with that reason.
    async fn migrate_file_comments(&mut self, space: &ServerSpace) -> anyhow::Result<()> {
        let attachments = self.maps.preload(ns::ATTACHMENT, Some(&space.key)).await?;
        let known = self.maps.preload(ns::COMMENT, Some(&space.key)).await?;
        let source = self.source.clone();
        let mut pending: Vec<ContentItem> = source.file_comments_of_space(space.id).try_collect().await?;
        let mut comment_ids: HashMap<i64, i64> = HashMap::new();
        let mut settled: HashSet<i64> = HashSet::new();
        let mut pending_refs = Vec::new();
        self.report.count("comments").server += pending.len() as u64;
        while !pending.is_empty() {
            // This round: comments that answer nothing, or answer a comment already settled.
            let (round, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|c| c.parent_comment_id.is_none_or(|p| settled.contains(&p)));
            if round.is_empty() {
                for item in later {
                    let p = item.parent_comment_id.unwrap_or_default();
                    self.report.fail(
                        "comments",
                        item.id.to_string(),
                        format!("a comment answering comment {p}, which is not a comment on a file of this space"),
                    );
                }
                break;
            }
            pending = later;
            let mut jobs = Vec::with_capacity(round.len());
            for item in round {
                settled.insert(item.id);
                let attachment = item.parent_id.unwrap_or_default();
                let Some(on) = attachments.get(&attachment.to_string()).and_then(|id| id.parse::<i64>().ok()) else {
                    self.report.fail("comments", item.id.to_string(), format!("a comment on attachment {attachment}, which did not migrate"));
                    continue;
                };
                let unanswered = |p| format!("a comment on attachment {attachment} answering comment {p}, which did not migrate");
                if let Some((item, parent, author)) = self.prepare_comment(item, &comment_ids, &mut pending_refs, unanswered).await? {
                    jobs.push((item, attachment, on, parent, author));
                }
            }
            let this = &*self;
            let (key, known) = (space.key.as_str(), &known);
            let results: Vec<(i64, Option<String>, anyhow::Result<i64>)> = stream::iter(jobs)
                .map(|(item, attachment, on, parent, author)| async move {
                    let comment =
                        NewComment { page_id: None, attachment_id: Some(on), parent_comment_id: parent, body: storage(item.body), author_id: author.clone() };
                    let result = this
                        .link_or_create(ns::COMMENT, item.id, known, key, |origin| async move { this.dest.create_comment(&comment, &origin).await })
                        .await
                        .map_err(|e| match e.downcast_ref::<ferry_destination::DestinationError>() {
                            Some(ferry_destination::DestinationError::Status { status: 400 | 404 | 501, message, .. }) if message.contains("attachmentId") => {
                                anyhow::anyhow!("a comment on attachment {attachment}: the destination takes no comments on attachments ({message})")
                            }
                            _ => e,
                        });
                    (item.id, author, result)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            self.tally_authored("comments", results, &mut comment_ids);
        }
        self.remember_unresolved(pending_refs, &comment_ids, &space.key).await?;
        Ok(())
    }

    /// Attachments: skip those already migrated, attach those uploaded ahead as media,
    /// upload new ones, and drop the links and media of files deleted on the server
    /// since. An attachments-only plan uploads the bytes as media of the space. A missing
    /// file is reported and makes the plan incomplete.
    async fn migrate_attachments(&mut self, space: &ServerSpace, content_ids: &HashMap<i64, i64>) -> anyhow::Result<()> {
        let items = self.source.attachments_of_space(space.id, &self.attachments_root()).await?;
        let bar = self.progress.step("attachments", items.len() as u64);
        let current: HashSet<String> = items.iter().map(|a| a.id.to_string()).collect();
        for namespace in [ns::ATTACHMENT, ns::MEDIA] {
            for (server_id, cloud_id) in self.maps.in_container(namespace, &space.key).await? {
                if !current.contains(&server_id) {
                    if namespace == ns::ATTACHMENT {
                        self.dest.delete_attachment(cloud_id.parse()?).await?;
                    } else {
                        self.dest.delete_media(cloud_id.parse()?).await?;
                    }
                    self.maps.forget(namespace, &server_id).await?;
                    self.report.dropped_attachments += 1;
                }
            }
        }
        self.report.count("attachments").server += items.len() as u64;
        let migrated = self.maps.preload(ns::ATTACHMENT, Some(&space.key)).await?;
        let uploaded_ahead = self.maps.preload(ns::MEDIA, Some(&space.key)).await?;
        let (migrated, uploaded_ahead) = (&migrated, &uploaded_ahead);
        let this = &*self;
        let key = space.key.clone();
        let ahead = self.plan.attachments_only;
        let results: Vec<(i64, anyhow::Result<u64>)> = stream::iter(items)
            .map(|item| {
                let key = key.clone();
                let bar = bar.clone();
                async move {
                    let server_id = item.id.to_string();
                    let result = async {
                        if migrated.contains_key(&server_id) {
                            return Ok(0);
                        }
                        let media = uploaded_ahead.get(&server_id);
                        if ahead && media.is_some() {
                            return Ok(0);
                        }
                        let page = match (ahead, content_ids.get(&item.page_id)) {
                            (true, _) => None,
                            (false, Some(page)) => Some(*page),
                            (false, None) => anyhow::bail!("the page it is on ({}) is not in the cloud", item.page_id),
                        };
                        let origin = this.maps.origin(ns::ATTACHMENT, &server_id);
                        if let (Some(page), Some(media)) = (page, media) {
                            let created = this.dest.attach_media(page, media.parse()?, &origin).await?;
                            this.maps.put(ns::ATTACHMENT, &server_id, &created.id.to_string(), Some(&key)).await?;
                            this.maps.forget(ns::MEDIA, &server_id).await?;
                            return Ok(0);
                        }
                        let data = match tokio::fs::read(&item.path).await {
                            Ok(data) => data,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                                "file {} is missing from the attachment folder: restore it, then migrate this space's attachments in a new plan",
                                item.path.display()
                            ),
                            Err(e) => anyhow::bail!("cannot read {}: {e}", item.path.display()),
                        };
                        let size = data.len() as u64;
                        match page {
                            Some(page) => {
                                let created = this.dest.upload_attachment(page, &item.file_name, &item.media_type, data.into(), &origin).await?;
                                this.maps.put(ns::ATTACHMENT, &server_id, &created.id.to_string(), Some(&key)).await?;
                            }
                            None => {
                                let media_origin = this.maps.origin(ns::MEDIA, &server_id);
                                let created = this.dest.upload_media(&key, &item.file_name, &item.media_type, data.into(), &media_origin).await?;
                                this.maps.put(ns::MEDIA, &server_id, &created.id.to_string(), Some(&key)).await?;
                            }
                        }
                        Ok(size)
                    }
                    .await;
                    bar.inc(1);
                    (item.id, result)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        bar.finish();
        for (id, result) in results {
            match result {
                Ok(bytes) => {
                    self.report.count("attachments").cloud += 1;
                    self.report.attachment_bytes += bytes;
                }
                Err(e) => self.report.fail("attachments", id.to_string(), format!("{e:#}")),
            }
        }
        Ok(())
    }

    /// The View and Edit restrictions of the space's pages and blog posts, once every page
    /// exists (each restricted one was created private to the migrating account). Each
    /// user goes through the user mappings and each group must exist in the cloud; one that
    /// does not is left out and reported, so a restriction only ever gets tighter. When
    /// nobody it named remains, the restriction allows the site's admins only. A page whose
    /// restrictions cannot be set stays private to the migrating account.
    async fn migrate_restrictions(&mut self, restrictions: Vec<RestrictionItem>, content_ids: &HashMap<i64, i64>) -> anyhow::Result<()> {
        let mut by_content: Vec<(i64, Vec<RestrictionItem>)> = Vec::new();
        for r in restrictions {
            match by_content.last_mut() {
                Some((id, items)) if *id == r.content_id => items.push(r),
                _ => by_content.push((r.content_id, vec![r])),
            }
        }
        for (server_id, items) in by_content {
            self.report.count("restrictions").server += items.len() as u64;
            let Some(&cloud_id) = content_ids.get(&server_id) else {
                self.report.fail_n("restrictions", server_id.to_string(), items.len() as u64, "the page did not migrate");
                continue;
            };
            let mut wanted = Vec::new();
            // Read only when a loss is reported, once per page.
            let mut title: Option<String> = None;
            for item in &items {
                let mut subjects = RestrictionSubjects::default();
                let mut lost = Vec::new();
                for key in &item.users {
                    match self.author(Some(key)).await? {
                        Some(account_id) => subjects.user.push(RestrictedUser { account_id }),
                        None => lost.push(format!("user {key}")),
                    }
                }
                for group in &item.groups {
                    if self.cloud_group_exists(group).await? {
                        subjects.group.push(RestrictedGroup { name: group.clone() });
                    } else {
                        lost.push(format!("group {group}"));
                    }
                }
                subjects.user.sort();
                subjects.user.dedup();
                let fallback = (subjects.user.is_empty() && subjects.group.is_empty()).then(|| {
                    subjects.group.push(RestrictedGroup { name: SITE_ADMINS_GROUP.into() });
                    format!("group {SITE_ADMINS_GROUP}")
                });
                let kind = match item.kind {
                    RestrictionKind::View => "view",
                    RestrictionKind::Edit => "edit",
                };
                if (!lost.is_empty() || fallback.is_some()) && title.is_none() {
                    title = Some(self.source.content_title(server_id).await?.unwrap_or_default());
                }
                let title = title.clone().unwrap_or_default();
                for (n, subject) in lost.iter().enumerate() {
                    self.report.restriction_losses.push(RestrictionLoss {
                        content_id: server_id,
                        title: title.clone(),
                        kind: kind.into(),
                        subject: subject.clone(),
                        fallback: if n == 0 { fallback.clone() } else { None },
                    });
                }
                if lost.is_empty() {
                    if let Some(fallback) = &fallback {
                        self.report.restriction_losses.push(RestrictionLoss {
                            content_id: server_id,
                            title: title.clone(),
                            kind: kind.into(),
                            subject: "nobody".into(),
                            fallback: Some(fallback.clone()),
                        });
                    }
                }
                let operation = match item.kind {
                    RestrictionKind::View => "read",
                    RestrictionKind::Edit => "update",
                };
                wanted.push(ContentRestriction { operation: operation.into(), restrictions: subjects });
            }
            match self.dest.set_restrictions(cloud_id, &wanted).await {
                Ok(()) => self.report.count("restrictions").cloud += items.len() as u64,
                Err(e) => self.report.fail_n(
                    "restrictions",
                    server_id.to_string(),
                    items.len() as u64,
                    format!(
                        "{e}: its restrictions were not set, so it keeps the ones it had (a page this plan created stays private to the migrating account); set them in the cloud"
                    ),
                ),
            }
        }
        Ok(())
    }

    /// Whether a server group exists in the cloud (merged, created by a plan, or already
    /// there). Blocklisted groups never migrate.
    async fn cloud_group_exists(&mut self, group: &str) -> anyhow::Result<bool> {
        let lower = group.to_lowercase();
        Ok(if rules::is_blocklisted(&lower) {
            false
        } else if self.cloud_groups.contains_key(&lower) || self.maps.get(ns::GROUP, &lower).await?.is_some() {
            true
        } else {
            self.dest.find_group(group).await?.is_some()
        })
    }

    /// The `global` labels of the space's pages, blog posts and attachments, onto their
    /// cloud copies (one request per labelled entity, concurrently).
    async fn migrate_labels(&mut self, space: &ServerSpace, content_ids: &HashMap<i64, i64>) -> anyhow::Result<()> {
        let labels = self.source.labels_of_space(space.id).await?;
        if labels.is_empty() {
            return Ok(());
        }
        let attachments = self.maps.preload(ns::ATTACHMENT, Some(&space.key)).await?;
        let mut by_content: Vec<(i64, Vec<NewLabel>)> = Vec::new();
        for l in labels {
            let label = NewLabel { prefix: "global".into(), name: l.name };
            match by_content.last_mut() {
                Some((id, list)) if *id == l.content_id => list.push(label),
                _ => by_content.push((l.content_id, vec![label])),
            }
        }
        let mut jobs = Vec::new();
        for (server_id, list) in by_content {
            self.report.count("labels").server += list.len() as u64;
            let cloud = content_ids.get(&server_id).copied().or_else(|| attachments.get(&server_id.to_string()).and_then(|c| c.parse().ok()));
            match cloud {
                Some(cloud) => jobs.push((server_id, cloud, list)),
                None => {
                    let names: Vec<&str> = list.iter().map(|l| l.name.as_str()).collect();
                    let why = format!("labels {} of content that did not migrate", names.join(", "));
                    self.report.fail_n("labels", server_id.to_string(), list.len() as u64, why);
                }
            }
        }
        let dest = &self.dest;
        let results: Vec<(i64, Vec<NewLabel>, Result<(), ferry_destination::DestinationError>)> = stream::iter(jobs)
            .map(|(server_id, cloud, list)| async move {
                let result = dest.add_labels(cloud, &list).await;
                (server_id, list, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (server_id, list, result) in results {
            match result {
                Ok(()) => self.report.count("labels").cloud += list.len() as u64,
                Err(e) => self.report.fail_n("labels", server_id.to_string(), list.len() as u64, e.to_string()),
            }
        }
        Ok(())
    }

    /// Space permissions for users and groups that exist in the cloud; the others are
    /// dropped and reported.
    async fn migrate_permissions(&mut self, space: &ServerSpace) -> anyhow::Result<()> {
        for perm in self.source.space_permissions(space.id).await? {
            let (subject, shown) = match (&perm.group, &perm.user_key, perm.all_users) {
                (Some(group), _, _) => {
                    if !self.cloud_group_exists(group).await? {
                        self.report.dropped_permissions.push(DroppedPermission {
                            space: space.key.clone(),
                            permission: perm.kind.clone(),
                            subject: format!("group {group}"),
                            reason: "the group does not exist in the cloud site".into(),
                        });
                        continue;
                    }
                    (PermissionSubject { kind: "group".into(), identifier: group.clone() }, format!("group {group}"))
                }
                (None, Some(key), _) => match self.author(Some(key)).await? {
                    Some(account) => (PermissionSubject { kind: "user".into(), identifier: account }, format!("user {key}")),
                    None => {
                        self.report.dropped_permissions.push(DroppedPermission {
                            space: space.key.clone(),
                            permission: perm.kind.clone(),
                            subject: format!("user {key}"),
                            reason: "the user has no account in the cloud site".into(),
                        });
                        continue;
                    }
                },
                (None, None, true) => {
                    (PermissionSubject { kind: "group".into(), identifier: self.plan.product_group.clone() }, "all signed-in users".to_string())
                }
                (None, None, false) => (PermissionSubject { kind: "anonymous".into(), identifier: String::new() }, "anonymous".to_string()),
            };
            let (key, target) = match ferry_core::rules::cloud_space_operation(&perm.kind) {
                Ok(operation) => operation,
                Err(reason) => {
                    self.report.dropped_permissions.push(DroppedPermission {
                        space: space.key.clone(),
                        permission: perm.kind.clone(),
                        subject: shown,
                        reason: reason.into(),
                    });
                    continue;
                }
            };
            let permission = SpacePermission { subject, operation: PermissionOperation { key: key.into(), target: target.into() } };
            if let Err(e) = self.dest.add_space_permission(&space.key, &permission).await {
                self.report.dropped_permissions.push(DroppedPermission {
                    space: space.key.clone(),
                    permission: perm.kind.clone(),
                    subject: shown,
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}
