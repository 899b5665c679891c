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
    Body, ContentRestriction, ContentUpdate, InlineProperties, NewComment, NewContent, NewInlineComment, NewLabel, Origin, OriginPerson, PageVersion,
    PermissionOperation, PermissionSubject, RestrictedGroup, RestrictedUser, RestrictionSubjects, SpacePermission, SITE_ADMINS_GROUP,
};
use ferry_destination::{CommentsOn, ContentKind, DestinationError};
use ferry_source::{ContentItem, RestrictionItem, RestrictionKind, ServerSpace, VersionItem};

/// Items created concurrently: pages of the same tree depth, comments, attachments.
const CHUNK: usize = 1_024;

/// Body bytes a batch of pages or comments holds at most (a batch ends early when its
/// bodies reach this): with the bound on one body, what a batch holds stays bounded
/// whatever the database has.
const CHUNK_BYTES: usize = 64 << 20;

/// An older version of a page to migrate, with the message it is saved with (its
/// original author, date and comment).
pub(crate) struct OlderVersion {
    item: VersionItem,
    pub(crate) message: String,
}

/// A page or blog post ready to create: its current version (body rewritten) and that
/// version's message, its origin, the cloud id of its parent, and its older versions
/// (oldest first) when the plan migrates history.
struct PageJob {
    item: ContentItem,
    message: String,
    origin: Origin,
    parent: Option<i64>,
    older: Vec<OlderVersion>,
}

/// A comment to create: the request, where to look for it (what it is on), its kind and
/// its origin.
struct CommentJob {
    new: NewCommentOf,
    on: CommentsOn,
    kind: ContentKind,
    origin: Origin,
}

/// A footer or an inline comment.
enum NewCommentOf {
    Footer(NewComment),
    Inline(NewInlineComment),
}

/// A body to save again in the second pass: its server and cloud ids, its title when this
/// plan migrated it (an earlier plan's has none), the body rewritten, and the references
/// still unresolved.
struct PendingBody {
    server_id: i64,
    cloud_id: i64,
    title: Option<String>,
    body: String,
    unresolved: Vec<String>,
}

/// Where the body of a version comes from.
enum BodyFrom {
    /// An older version on the server (its content id), read when it is needed.
    Server(i64),
    /// The current version, read and rewritten already.
    Ready(String),
}

/// The message of the version the second pass saves (links to pages migrated later).
pub(crate) const SECOND_PASS_MESSAGE: &str = "Ferry: links to pages migrated after this one now point to their cloud copies";

/// The longest version message Ferry writes (a longer original comment is cut).
const MESSAGE_CHARS: usize = 255;

/// The message a migrated version is saved with: who saved it on the Server site and
/// when, and its own comment. A person with no cloud account is named a former user.
pub(crate) fn version_message(by: Option<&OriginPerson>, at: Option<&str>, comment: Option<&str>) -> String {
    let who = match by {
        Some(p) => {
            let name = p.username.as_deref().unwrap_or(&p.user_key);
            if p.account_id.is_some() {
                name.to_string()
            } else {
                format!("{name} (former user)")
            }
        }
        None => "an unknown user".to_string(),
    };
    let mut message = format!("Saved on Server by {who}");
    if let Some(at) = at.filter(|a| !a.trim().is_empty()) {
        message.push_str(&format!(" at {at}"));
    }
    if let Some(comment) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        message.push_str(&format!(": {comment}"));
    }
    capped(message)
}

/// The message the current version of a page or blog post is saved with (`origin`: its
/// origin, which names who saved it last).
pub(crate) fn current_version_message(origin: &Origin, item: &ContentItem) -> String {
    version_message(origin.last_modifier.as_ref(), item.modified.as_deref(), item.version_comment.as_deref())
}

/// `text` cut to [`MESSAGE_CHARS`] characters (an ellipsis ends a cut one): what a server
/// database holds reaches the cloud's messages and origins bounded, whatever its size.
pub(crate) fn capped(text: String) -> String {
    if text.chars().count() <= MESSAGE_CHARS {
        return text;
    }
    text.chars().take(MESSAGE_CHARS - 1).collect::<String>() + "…"
}

/// The title of a space's holding page (attachments-only plans).
const HOLDING_TITLE: &str = "Ferry: files waiting for their pages";

/// The name a file has on the holding page: its server id first, so that files of one
/// name from different pages do not meet (it gets its own name back when it moves).
fn held_name(server_id: &str, file_name: &str) -> String {
    format!("{server_id}-{file_name}")
}

fn storage(value: String) -> Body {
    Body { representation: "storage".into(), value }
}

/// A body as it is sent: without the server's inline-comment markers (a site makes its
/// own when each inline comment is created). An unreadable body is sent as it is.
fn without_markers(body: String) -> String {
    storage::without_markers(&body).unwrap_or(body)
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
    pub(crate) async fn author(&mut self, key: Option<&str>) -> anyhow::Result<Option<String>> {
        let Some(key) = key else { return Ok(None) };
        if let Some(known) = self.authors.get(key) {
            return Ok(known.clone());
        }
        let found = self.maps.get(ns::USER, &format!("confluence.userkey/{key}")).await?;
        self.authors.insert(key.to_string(), found.clone());
        Ok(found)
    }

    /// A person of the Server site as an origin names them (username and cloud account
    /// read and cached here).
    async fn origin_person(&mut self, key: Option<&str>) -> anyhow::Result<Option<OriginPerson>> {
        let Some(key) = key else { return Ok(None) };
        let account_id = self.author(Some(key)).await?;
        if !self.usernames.contains_key(key) {
            let name = self.source.username_of_key(key).await?;
            self.usernames.insert(key.to_string(), name);
        }
        let username = self.usernames.get(key).cloned().flatten().map(capped);
        Ok(Some(OriginPerson { user_key: capped(key.to_string()), username, account_id }))
    }

    /// The origin of a page, blog post or comment of this Server site.
    pub(crate) async fn origin_of(&mut self, kind: &str, item: &ContentItem) -> anyhow::Result<Origin> {
        let creator = self.origin_person(item.creator.as_deref()).await?;
        let (last_modifier, versions) = match kind {
            "comment" => (None, None),
            _ => (self.origin_person(item.modifier.as_deref().or(item.creator.as_deref())).await?, Some(item.version)),
        };
        Ok(Origin {
            creator,
            created: item.created.clone(),
            last_modified: if kind == "comment" { None } else { item.modified.clone() },
            last_modifier,
            versions,
            ..Origin::of(self.maps.site(), kind, item.id)
        })
    }

    /// The account Ferry signs in as, asked of the site once.
    pub(crate) async fn migrating_account(&self) -> Result<Option<&String>, DestinationError> {
        let account =
            self.migrating_account.get_or_try_init(|| async { Ok::<_, DestinationError>(self.dest.current_user().await?.and_then(|u| u.account_id)) }).await?;
        Ok(account.as_ref())
    }

    /// Migrate one space and everything in it.
    pub(crate) async fn migrate_space(&mut self, space: ServerSpace) -> anyhow::Result<()> {
        if self.plan.attachments_only {
            // The files go ahead to the space's holding page (the space is made for it);
            // its pages move later, and each file with its page.
            let Some(cloud_space) = self.cloud_space(&space).await? else { return Ok(()) };
            let started = Instant::now();
            self.migrate_attachments(&space, cloud_space, &HashMap::new()).await?;
            self.report.time("attachments", started);
            return Ok(());
        }
        self.report.count("spaces").server += 1;
        let Some(cloud_space) = self.cloud_space(&space).await? else { return Ok(()) };
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
        self.migrate_attachments(&space, cloud_space, &content_ids).await?;
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

    /// The space's cloud id: mapped, or created (a key taken in the cloud is reported as a
    /// failure of the space, `None`).
    async fn cloud_space(&mut self, space: &ServerSpace) -> anyhow::Result<Option<i64>> {
        if let Some(id) = self.maps.get(ns::SPACE, &space.key).await? {
            return Ok(Some(id.parse()?));
        }
        match self.create_space(space).await? {
            Ok(created) => {
                let id = created.id.unwrap_or_default();
                self.maps.put(ns::SPACE, &space.key, &id.to_string(), None).await?;
                Ok(Some(id))
            }
            Err(e) if e.status() == Some(409) => {
                let reason = format!(
                    "space key {} already exists in the cloud site: this space is not migrated (rename or remove the cloud space, then migrate it in a new plan)",
                    space.key
                );
                self.report.fail("spaces", &space.key, reason);
                Ok(None)
            }
            Err(e) => {
                self.report.fail("spaces", &space.key, e.to_string());
                Ok(None)
            }
        }
    }

    /// The page of a space that holds the attachments uploaded ahead of their pages
    /// (attachments-only plans): found by its title, or created private to the migrating
    /// account (restricted files must not be seen before their pages' restrictions are).
    async fn holding_page(&self, cloud_space: i64) -> anyhow::Result<i64> {
        let dest = &self.dest;
        let content = NewContent {
            space_id: cloud_space,
            status: "current".into(),
            title: HOLDING_TITLE.into(),
            parent_id: None,
            body: storage("<p>Ferry keeps here the files it migrated ahead of their pages. Each moves to its own page when that page migrates; this page is private to the migrating account.</p>".into()),
        };
        let found = dest
            .create_looking_first(
                true,
                || async { Ok(dest.find_content(false, cloud_space, HOLDING_TITLE).await?.map(|c| c.id)) },
                || async { Ok(dest.create_content(false, &content, true).await?.id) },
            )
            .await?;
        Ok(found)
    }

    /// Create a space, or find the one a killed run created (its intent recorded before).
    async fn create_space(&self, space: &ServerSpace) -> anyhow::Result<Result<ferry_destination::api::Space, DestinationError>> {
        let look = self.maps.intents(ns::SPACE).await?.contains(&space.key);
        self.maps.intend(ns::SPACE, std::slice::from_ref(&space.key)).await?;
        let dest = &self.dest;
        Ok(dest.create_looking_first(look, || dest.get_space(&space.key), || dest.create_space(&space.key, &space.name)).await)
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
            let intents = self.maps.intents(namespace).await?;
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
                    // Done: each page taken care of, landed or failed.
                    let taken = batch.len() as u64;
                    self.create_content_batch(batch, (kind, namespace, blog), space, cloud_space, (&known, &intents), ids).await?;
                    bar.inc(taken);
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

    /// Create (or link) a batch of pages of one tree depth, or of blog posts,
    /// concurrently. `known` are the mappings of earlier runs, `intents` the creates a
    /// killed run began (those are looked for first).
    async fn create_content_batch(
        &mut self,
        batch: Vec<ContentItem>,
        (kind, namespace, blog): (&str, &str, bool),
        space: &ServerSpace,
        cloud_space: i64,
        (known, intents): (&HashMap<String, String>, &HashSet<String>),
        ids: &mut HashMap<i64, i64>,
    ) -> anyhow::Result<()> {
        if blog {
            self.blog_posts.extend(batch.iter().map(|b| b.id));
        }
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
            let mut origin = self.origin_of(if blog { "blogpost" } else { "page" }, &item).await?;
            origin.first_version_comment = match older.first() {
                Some(first) => first.item.comment.clone(),
                None => item.version_comment.clone(),
            }
            .map(capped);
            let message = current_version_message(&origin, &item);
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
            jobs.push(PageJob { item, message, origin, parent, older });
        }
        let fresh: Vec<String> = jobs.iter().map(|j| j.item.id.to_string()).filter(|id| !known.contains_key(id)).collect();
        self.maps.intend(namespace, &fresh).await?;
        let this = &*self;
        let key = space.key.as_str();
        let results: Vec<(i64, Option<String>, u64, anyhow::Result<i64>)> = stream::iter(jobs)
            .map(|job| async move {
                let (id, versions) = (job.item.id, 1 + job.older.len() as u64);
                let creator = job.origin.creator.as_ref().and_then(|c| c.account_id.clone());
                let result = match known.get(&id.to_string()) {
                    Some(existing) => existing.parse::<i64>().map_err(anyhow::Error::from),
                    None => {
                        async {
                            let cloud = this.create_with_history(blog, cloud_space, job, intents.contains(&id.to_string())).await?;
                            this.maps.put(namespace, &id.to_string(), &cloud.to_string(), Some(key)).await?;
                            Ok(cloud)
                        }
                        .await
                    }
                };
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
    pub(crate) async fn older_versions(&mut self, batch: &[ContentItem], known: &HashMap<String, String>) -> anyhow::Result<HashMap<i64, Vec<OlderVersion>>> {
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
            let by = self.origin_person(item.author.as_deref()).await?;
            let message = version_message(by.as_ref(), item.saved.as_deref(), item.comment.as_deref());
            out.entry(item.of).or_default().push(OlderVersion { item, message });
        }
        Ok(out)
    }

    /// Create a page or blog post with its history, by the migrating account: its oldest
    /// version creates it, each later version is added in order (its message naming its
    /// original author, date and comment), the current version last; then its origin is
    /// recorded. Without older versions it is created with its current version alone.
    ///
    /// With `look` (a killed run began this create), or after a create that may have
    /// landed, the page is first looked for by each title it has had, in its space: one
    /// whose origin is this page's, or with no origin yet and created by the migrating
    /// account, is this page, and its history goes on from the versions it has.
    async fn create_with_history(&self, blog: bool, cloud_space: i64, job: PageJob, look: bool) -> anyhow::Result<i64> {
        let PageJob { item, message, origin, parent, older } = job;
        let ContentItem { id, title, body, .. } = item;
        // A restricted page is created private to the migrating account, so nobody else can
        // see it before its own restrictions are set.
        let private = self.restricted.contains(&id);
        // Every version in order: title, body, message (the first one's is lost: the
        // create takes none; its author and date are the origin's creator and created).
        let mut steps: Vec<(String, BodyFrom, String)> = older.into_iter().map(|v| (v.item.title, BodyFrom::Server(v.item.id), v.message)).collect();
        steps.push((title, BodyFrom::Ready(body), message));
        let mut titles: Vec<&str> = Vec::new();
        for (title, _, _) in &steps {
            if !titles.contains(&title.as_str()) {
                titles.push(title);
            }
        }
        let first_body = self.body_from(&steps[0].1).await?;
        let content = NewContent { space_id: cloud_space, status: "current".into(), title: steps[0].0.clone(), parent_id: parent, body: storage(first_body) };
        let dest = &self.dest;
        let (cloud, present, has_origin) = dest
            .create_looking_first(
                look,
                || self.find_page(blog, cloud_space, &titles, &origin),
                || async { Ok((dest.create_content(blog, &content, private).await?.id, 1, false)) },
            )
            .await?;
        if !has_origin {
            dest.set_origin(ContentKind::of(blog), cloud, &origin).await?;
        }
        for (n, (title, from, message)) in steps.iter().enumerate().skip(present.max(1) as usize) {
            let body = storage(self.body_from(from).await?);
            let version = PageVersion { number: n as i64 + 1, message: Some(message.clone()) };
            let update = ContentUpdate { id: cloud.to_string(), status: "current".into(), title: title.clone(), body, version };
            dest.add_version(blog, cloud, &update).await?;
        }
        Ok(cloud)
    }

    /// The body of a version to add.
    async fn body_from(&self, from: &BodyFrom) -> anyhow::Result<String> {
        match from {
            BodyFrom::Server(version_id) => self.older_body(*version_id).await,
            BodyFrom::Ready(body) => Ok(body.clone()),
        }
    }

    /// A page (or blog post) a killed run may have created, by the titles it has had: its
    /// cloud id, the versions it has, and whether its origin is recorded.
    async fn find_page(&self, blog: bool, space: i64, titles: &[&str], origin: &Origin) -> Result<Option<(i64, i64, bool)>, DestinationError> {
        for title in titles {
            let Some(found) = self.dest.find_content(blog, space, title).await? else { continue };
            let versions = found.version.as_ref().map_or(1, |v| v.number);
            match self.dest.origin(ContentKind::of(blog), found.id).await? {
                Some(o) if o.same_entity(origin) => return Ok(Some((found.id, versions, true))),
                Some(_) => continue,
                None if found.author_id.is_some() && found.author_id.as_ref() == self.migrating_account().await? => {
                    return Ok(Some((found.id, versions, false)));
                }
                None => continue,
            }
        }
        Ok(None)
    }

    /// The body of an older version with its references rewritten to the ids known now.
    /// History is not edited later: a reference to a page created later in the plan, or an
    /// unreadable body, stays as the server had it.
    async fn older_body(&self, version_id: i64) -> anyhow::Result<String> {
        let body = self.source.body_of(version_id).await?;
        let Ok(refs) = storage::references(&body, &self.server_links) else { return Ok(body) };
        if refs.users.is_empty() && refs.pages.is_empty() {
            return Ok(without_markers(body));
        }
        let resolved = self.resolved(&refs).await?;
        Ok(without_markers(storage::rewrite(&body, &resolved).map(|r| r.body).unwrap_or(body)))
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
    /// (through the user mappings; one with none is named by username) and cloud ids of the pages it
    /// names that have one. Warms the caches [`Migrator::resolved`] reads.
    async fn resolve(&mut self, refs: &storage::References) -> anyhow::Result<storage::Resolved> {
        for key in &refs.users {
            self.origin_person(Some(key)).await?;
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
            if account.is_none() {
                // Named in text: there is no account to point at.
                let name = match self.usernames.get(key) {
                    Some(known) => known.clone(),
                    None => self.source.username_of_key(key).await?,
                };
                resolved.names.extend(name.map(|n| (key.clone(), n)));
            }
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
    pub(crate) async fn rewrite_body(&mut self, server_id: i64, title: &str, body: &str) -> anyhow::Result<(String, Vec<String>)> {
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
            return Ok((without_markers(body.to_string()), Vec::new()));
        }
        let resolved = self.resolve(&refs).await?;
        let rewritten = storage::rewrite(body, &resolved).map_err(|e| anyhow::anyhow!("content {server_id}: {e}"))?;
        Ok((without_markers(rewritten.body), rewritten.unresolved))
    }

    /// The second pass: bodies that named pages with no cloud id when they were created
    /// (this plan's, and those earlier plans left) are rewritten again from the server's
    /// body, now that every page of this plan has its cloud id, and saved in the cloud as
    /// a new version (the public API keeps every save; its message says why). References to pages that did not migrate stay as they are: this
    /// plan's are reported, and the ledger keeps every such body for the next plan.
    pub(crate) async fn patch_pending_bodies(&mut self) -> anyhow::Result<()> {
        let recorded: Vec<(String, String)> = self.maps.preload(ns::UNRESOLVED_BODY, None).await?.into_iter().collect();
        let mut recorded = recorded.into_iter().peekable();
        while recorded.peek().is_some() {
            // Rewritten in order (resolving fills the caches), saved concurrently, a bounded
            // batch at a time.
            let mut batch: Vec<PendingBody> = Vec::new();
            let mut bytes = 0;
            while bytes < CHUNK_BYTES && batch.len() < CHUNK {
                let Some((server_id, cloud_id)) = recorded.next() else { break };
                let (Ok(server_id), Ok(cloud_id)) = (server_id.parse::<i64>(), cloud_id.parse::<i64>()) else { continue };
                let title = self.pending_bodies.remove(&server_id);
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
                if title.is_none() && !refs.pages.iter().any(|p| self.created_pages.contains(p)) {
                    continue;
                }
                let resolved = self.resolve(&refs).await?;
                let rewritten = storage::rewrite(&body, &resolved).map_err(|e| anyhow::anyhow!("content {server_id}: {e}"))?;
                bytes += rewritten.body.len();
                batch.push(PendingBody { server_id, cloud_id, title, body: without_markers(rewritten.body), unresolved: rewritten.unresolved });
            }
            let this = &*self;
            let saved: Vec<(PendingBody, anyhow::Result<bool>)> = stream::iter(batch)
                .map(|pending| async move {
                    let result = this.update_body(pending.server_id, pending.cloud_id, &pending.body).await;
                    (pending, result)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            for (pending, result) in saved {
                self.settle_pending_body(pending, result).await?;
            }
        }
        Ok(())
    }

    /// Record what saving a rewritten body came to: fixed (forgotten by the ledger when
    /// nothing is left unresolved), gone from the cloud, or failed (kept for the next plan).
    async fn settle_pending_body(&mut self, pending: PendingBody, saved: anyhow::Result<bool>) -> anyhow::Result<()> {
        let PendingBody { server_id, title, unresolved, .. } = pending;
        let ours = title.is_some();
        match saved {
            Ok(true) => {}
            Ok(false) if !ours => {
                // Deleted in the cloud since an earlier plan migrated it.
                return self.maps.forget(ns::UNRESOLVED_BODY, &server_id.to_string()).await;
            }
            Ok(false) => {
                let reason = "its references could not be updated: it is no longer in the cloud".to_string();
                self.report.failures.push(Failure { kind: "references".into(), server_id: server_id.to_string(), reason, title: None, space: None });
                return Ok(());
            }
            Err(e) => {
                let reason = format!("its references could not be updated (the ledger keeps it: the next plan tries again): {e:#}");
                self.report.failures.push(Failure { kind: "references".into(), server_id: server_id.to_string(), reason, title: None, space: None });
                return Ok(());
            }
        }
        if unresolved.is_empty() {
            self.maps.forget(ns::UNRESOLVED_BODY, &server_id.to_string()).await?;
            self.report.earlier_bodies_fixed += u64::from(!ours);
        }
        if let Some(title) = title {
            self.report_unresolved(server_id, &title, unresolved);
        }
        Ok(())
    }

    /// Save the rewritten body of a page, blog post or comment as its next version (the
    /// public API keeps every save): `false` when it is gone from the cloud.
    async fn update_body(&self, server_id: i64, cloud_id: i64, body: &str) -> anyhow::Result<bool> {
        let id = server_id.to_string();
        let kinds: &[ContentKind] = if self.maps.get(ns::PAGE, &id).await?.is_some() {
            &[ContentKind::Page]
        } else if self.maps.get(ns::BLOGPOST, &id).await?.is_some() {
            &[ContentKind::BlogPost]
        } else {
            // A comment is footer or inline: the one that is not answers 404.
            &[ContentKind::FooterComment, ContentKind::InlineComment]
        };
        for kind in kinds {
            // Saved over the cloud's body, whose inline-comment markers the site made: they
            // are carried over, so the page's inline comments stay highlighted.
            let over = |current: &str| storage(storage::keep_markers(current, body).unwrap_or_else(|_| body.to_string()));
            if self.dest.update_body(*kind, cloud_id, over, SECOND_PASS_MESSAGE).await? {
                return Ok(true);
            }
        }
        Ok(false)
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

    /// Count created pages, blog posts or comments (those whose author has no cloud account
    /// too), remember their cloud ids, and report the failures.
    fn tally_authored(&mut self, kind: &str, results: Vec<(i64, Option<String>, anyhow::Result<i64>)>, ids: &mut HashMap<i64, i64>) {
        for (server_id, author, result) in results {
            match result {
                Ok(cloud) => {
                    ids.insert(server_id, cloud);
                    self.report.count(kind).cloud += 1;
                    self.report.authored_by_migrating_account += 1;
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
            let taken = batch.len() as u64;
            let (now, later): (Vec<_>, Vec<_>) = batch.into_iter().partition(|c| !c.parent_comment_id.is_some_and(|p| in_batch.contains(&p)));
            for round in [now, later] {
                self.create_comment_batch(round, space, &known, content_ids, &mut comment_ids, &mut inline).await?;
            }
            bar.inc(taken);
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
        let mut linked = Vec::new();
        for item in batch {
            self.report.count("comments").server += 1;
            let Some(page) = item.parent_id.and_then(|p| content_ids.get(&p)).copied() else {
                self.report.fail("comments", item.id.to_string(), "the page it is on did not migrate");
                continue;
            };
            let blog = item.parent_id.is_some_and(|p| self.blog_posts.contains(&p));
            let anchor = self.inline_anchor(&item, inline).await?;
            let unanswered = |p| format!("the comment it answers ({p}) did not migrate");
            if let Some(known) = known.get(&item.id.to_string()) {
                let author = self.author(item.creator.as_deref()).await?;
                linked.push((item.id, author, known.parse::<i64>().map_err(anyhow::Error::from)));
                continue;
            }
            let Some((item, parent, origin)) = self.prepare_comment(item, comment_ids, &mut pending, unanswered).await? else { continue };
            let body = storage(item.body);
            let (blog_post_id, page_id) = if blog { (Some(page), None) } else { (None, Some(page)) };
            let job = match (anchor, parent) {
                (Some(_), Some(parent)) => CommentJob {
                    new: NewCommentOf::Inline(NewInlineComment {
                        page_id: None,
                        blog_post_id: None,
                        parent_comment_id: Some(parent),
                        body,
                        inline_comment_properties: None,
                    }),
                    on: CommentsOn::Replies { inline: true, id: parent },
                    kind: ContentKind::InlineComment,
                    origin,
                },
                (Some(properties), None) => CommentJob {
                    new: NewCommentOf::Inline(NewInlineComment { page_id, blog_post_id, parent_comment_id: None, body, inline_comment_properties: properties }),
                    on: CommentsOn::Content { blog, id: page, inline: true },
                    kind: ContentKind::InlineComment,
                    origin,
                },
                (None, Some(parent)) => CommentJob {
                    new: NewCommentOf::Footer(NewComment { page_id: None, blog_post_id: None, attachment_id: None, parent_comment_id: Some(parent), body }),
                    on: CommentsOn::Replies { inline: false, id: parent },
                    kind: ContentKind::FooterComment,
                    origin,
                },
                (None, None) => CommentJob {
                    new: NewCommentOf::Footer(NewComment { page_id, blog_post_id, attachment_id: None, parent_comment_id: None, body }),
                    on: CommentsOn::Content { blog, id: page, inline: false },
                    kind: ContentKind::FooterComment,
                    origin,
                },
            };
            jobs.push((item.id, job));
        }
        let results = self.create_comments(jobs, known, &space.key).await?;
        self.tally_authored("comments", linked.into_iter().chain(results).collect(), comment_ids);
        self.remember_unresolved(pending, comment_ids, &space.key).await
    }

    /// Create comments concurrently (each recorded as intended first), each with its
    /// origin, and record their mappings: (server id, author's account, cloud id).
    async fn create_comments(
        &self,
        jobs: Vec<(i64, CommentJob)>,
        known: &HashMap<String, String>,
        space_key: &str,
    ) -> anyhow::Result<Vec<(i64, Option<String>, anyhow::Result<i64>)>> {
        let intents = self.maps.intents(ns::COMMENT).await?;
        let fresh: Vec<String> = jobs.iter().map(|(id, _)| id.to_string()).collect();
        self.maps.intend(ns::COMMENT, &fresh).await?;
        // Comments of this site already in the cloud: not to be taken for another.
        let taken: HashSet<i64> = known.values().filter_map(|c| c.parse().ok()).collect();
        let (intents, taken) = (&intents, &taken);
        Ok(stream::iter(jobs)
            .map(|(id, job)| async move {
                let author = job.origin.creator.as_ref().and_then(|c| c.account_id.clone());
                let result = async {
                    let cloud = self.create_comment_once(&job, intents.contains(&id.to_string()), taken).await?;
                    self.maps.put(ns::COMMENT, &id.to_string(), &cloud.to_string(), Some(space_key)).await?;
                    Ok(cloud)
                }
                .await;
                (id, author, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await)
    }

    /// Create one comment and record its origin; with `look` (a killed run began it), or
    /// after a create that may have landed, look for it first among the comments on what
    /// it is on.
    async fn create_comment_once(&self, job: &CommentJob, look: bool, taken: &HashSet<i64>) -> anyhow::Result<i64> {
        let dest = &self.dest;
        let (cloud, has_origin) = dest
            .create_looking_first(
                look,
                || self.find_comment(job, taken),
                || async {
                    let created = match &job.new {
                        NewCommentOf::Footer(c) => dest.create_comment(c).await?,
                        NewCommentOf::Inline(c) => dest.create_inline_comment(c).await?,
                    };
                    Ok((created.id, false))
                },
            )
            .await?;
        if !has_origin {
            dest.set_origin(job.kind, cloud, &job.origin).await?;
        }
        Ok(cloud)
    }

    /// A comment a killed run may have created: the one on the same page (or comment)
    /// whose origin is this comment's; else, when exactly one comment there has no origin,
    /// was written by the migrating account and is not another migrated comment, that one
    /// (the run was killed between its create and its origin).
    async fn find_comment(&self, job: &CommentJob, taken: &HashSet<i64>) -> Result<Option<(i64, bool)>, DestinationError> {
        let mut unclaimed = Vec::new();
        for comment in self.dest.comments_on(job.on).await? {
            if taken.contains(&comment.id) {
                continue;
            }
            match self.dest.origin(job.kind, comment.id).await? {
                Some(o) if o.same_entity(&job.origin) => return Ok(Some((comment.id, true))),
                Some(_) => {}
                None => {
                    let author = comment.version.and_then(|v| v.author_id);
                    if author.is_some() && author.as_ref() == self.migrating_account().await? {
                        unclaimed.push(comment.id);
                    }
                }
            }
        }
        Ok(match unclaimed.as_slice() {
            [one] => Some((*one, false)),
            _ => None,
        })
    }

    /// How a comment is created: `None` as a footer comment; `Some(Some(anchor))` as an
    /// inline comment on the text its server marker highlights (which occurrence of that
    /// text on the page, as the site places it); `Some(None)` as a reply to an inline
    /// comment. An inline comment whose marker is gone from its page's body on the server
    /// (its text was edited away) becomes a footer comment, reported.
    async fn inline_anchor(&mut self, item: &ContentItem, inline: &mut HashSet<i64>) -> anyhow::Result<Option<Option<InlineProperties>>> {
        if let Some(parent) = item.parent_comment_id {
            if inline.contains(&parent) {
                inline.insert(item.id);
                return Ok(Some(None));
            }
            return Ok(None);
        }
        let (Some(anchor), Some(page)) = (&item.inline, item.parent_id) else { return Ok(None) };
        let Some(selection) = storage::selection_of(&self.source.body_of(page).await?, &anchor.marker_ref) else {
            self.report.detached_inline_comments.push(DetachedComment { comment_id: item.id, page_id: page, selection: anchor.selection.clone() });
            return Ok(None);
        };
        inline.insert(item.id);
        Ok(Some(Some(InlineProperties {
            text_selection: selection.text,
            text_selection_match_count: selection.count,
            text_selection_match_index: selection.index,
        })))
    }

    /// A comment ready to create: the cloud id of the comment it answers, its origin, and
    /// its body rewritten. `None` (reported with `unanswered`'s reason) when
    /// the comment it answers did not migrate. A comment whose body names pages with no
    /// cloud id yet joins `pending`.
    async fn prepare_comment(
        &mut self,
        item: ContentItem,
        comment_ids: &HashMap<i64, i64>,
        pending: &mut Vec<(i64, String)>,
        unanswered: impl FnOnce(i64) -> String,
    ) -> anyhow::Result<Option<(ContentItem, Option<i64>, Origin)>> {
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
        let origin = self.origin_of("comment", &item).await?;
        let (body, unresolved) = self.rewrite_body(item.id, "", &item.body).await?;
        if !unresolved.is_empty() {
            pending.push((item.id, String::new()));
        }
        Ok(Some((ContentItem { body, ..item }, parent, origin)))
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
        let mut file_of: HashMap<i64, i64> = HashMap::new();
        self.report.count("comments").server += pending.len() as u64;
        // Comments on files count in the comments step.
        let bar = self.progress.step("comments", 0);
        while !pending.is_empty() {
            // This round: comments that answer nothing, or answer a comment already settled.
            let (round, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|c| c.parent_comment_id.is_none_or(|p| settled.contains(&p)));
            bar.inc(if round.is_empty() { later.len() } else { round.len() } as u64);
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
            let mut linked = Vec::new();
            for item in round {
                settled.insert(item.id);
                let attachment = item.parent_id.unwrap_or_default();
                let Some(on) = attachments.get(&attachment.to_string()).and_then(|id| id.parse::<i64>().ok()) else {
                    self.report.fail("comments", item.id.to_string(), format!("a comment on attachment {attachment}, which did not migrate"));
                    continue;
                };
                if let Some(known) = known.get(&item.id.to_string()) {
                    let author = self.author(item.creator.as_deref()).await?;
                    linked.push((item.id, author, known.parse::<i64>().map_err(anyhow::Error::from)));
                    continue;
                }
                let unanswered = |p| format!("a comment on attachment {attachment} answering comment {p}, which did not migrate");
                if let Some((item, parent, origin)) = self.prepare_comment(item, &comment_ids, &mut pending_refs, unanswered).await? {
                    let (attachment_id, looked_on) = match parent {
                        Some(parent) => (None, CommentsOn::Replies { inline: false, id: parent }),
                        None => (Some(on), CommentsOn::Attachment(on)),
                    };
                    let new = NewComment { page_id: None, blog_post_id: None, attachment_id, parent_comment_id: parent, body: storage(item.body) };
                    let job = CommentJob { new: NewCommentOf::Footer(new), on: looked_on, kind: ContentKind::FooterComment, origin };
                    jobs.push((item.id, job));
                    file_of.insert(item.id, attachment);
                }
            }
            let results = self.create_comments(jobs, &known, &space.key).await?;
            let results = results.into_iter().map(|(id, author, result)| {
                let result = result.map_err(|e| match e.downcast_ref::<DestinationError>() {
                    Some(DestinationError::Status { status: 400 | 404 | 501, message, .. }) if message.contains("attachmentId") => {
                        let attachment = file_of.get(&id).copied().unwrap_or_default();
                        anyhow::anyhow!("a comment on attachment {attachment}: the destination takes no comments on attachments ({message})")
                    }
                    _ => e,
                });
                (id, author, result)
            });
            self.tally_authored("comments", linked.into_iter().chain(results).collect(), &mut comment_ids);
        }
        bar.finish();
        self.remember_unresolved(pending_refs, &comment_ids, &space.key).await?;
        Ok(())
    }

    /// Attachments: skip those already migrated, move those uploaded ahead from the
    /// space's holding page to their own, upload new ones, and drop the uploads of files
    /// deleted on the server since. An attachments-only plan uploads the files to the
    /// holding page. A missing
    /// file is reported and makes the plan incomplete.
    async fn migrate_attachments(&mut self, space: &ServerSpace, cloud_space: i64, content_ids: &HashMap<i64, i64>) -> anyhow::Result<()> {
        let items = self.source.attachments_of_space(space.id, &self.attachments_root()).await?;
        let bar = self.progress.step("attachments", items.len() as u64);
        let current: HashSet<String> = items.iter().map(|a| a.id.to_string()).collect();
        for namespace in [ns::ATTACHMENT, ns::MEDIA] {
            for (server_id, cloud_id) in self.maps.in_container(namespace, &space.key).await? {
                if !current.contains(&server_id) {
                    self.dest.delete_attachment(cloud_id.parse()?).await?;
                    self.maps.forget(namespace, &server_id).await?;
                    self.report.dropped_attachments += 1;
                }
            }
        }
        self.report.count("attachments").server += items.len() as u64;
        let migrated = self.maps.preload(ns::ATTACHMENT, Some(&space.key)).await?;
        let uploaded_ahead = self.maps.preload(ns::MEDIA, Some(&space.key)).await?;
        let intents = self.maps.intents(ns::ATTACHMENT).await?;
        let fresh: Vec<String> = items.iter().map(|a| a.id.to_string()).filter(|id| !migrated.contains_key(id)).collect();
        if !self.plan.attachments_only {
            self.maps.intend(ns::ATTACHMENT, &fresh).await?;
        }
        // The holding page: to upload ahead to, or to move files held there from.
        let holding = if self.plan.attachments_only || !uploaded_ahead.is_empty() { Some(self.holding_page(cloud_space).await?) } else { None };
        let media_intents = self.maps.intents(ns::MEDIA).await?;
        if self.plan.attachments_only {
            self.maps.intend(ns::MEDIA, &fresh).await?;
        }
        let (migrated, uploaded_ahead, intents, media_intents) = (&migrated, &uploaded_ahead, &intents, &media_intents);
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
                        if let (Some(page), Some(media), Some(holding)) = (page, media, holding) {
                            let blog = this.blog_posts.contains(&item.page_id);
                            this.dest.move_attachment(holding, media.parse()?, page, blog, &item.file_name).await?;
                            this.maps.put(ns::ATTACHMENT, &server_id, media, Some(&key)).await?;
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
                                // A page has one attachment of a name: one found there is the
                                // one a killed run (or a lost answer) uploaded.
                                let data = bytes::Bytes::from(data);
                                let dest = &this.dest;
                                let cloud = dest
                                    .create_looking_first(
                                        intents.contains(&server_id),
                                        || dest.find_attachment(page, &item.file_name),
                                        || async { Ok(dest.upload_attachment(page, &item.file_name, &item.media_type, data.clone()).await?.id) },
                                    )
                                    .await?;
                                this.maps.put(ns::ATTACHMENT, &server_id, &cloud.to_string(), Some(&key)).await?;
                            }
                            None => {
                                // On the holding page, under a name of its own (two pages
                                // of the space may each have a file of one name).
                                let holding = holding.ok_or_else(|| anyhow::anyhow!("the space has no holding page"))?;
                                let held = held_name(&server_id, &item.file_name);
                                let data = bytes::Bytes::from(data);
                                let dest = &this.dest;
                                let cloud = dest
                                    .create_looking_first(
                                        media_intents.contains(&server_id),
                                        || dest.find_attachment(holding, &held),
                                        || async { Ok(dest.upload_attachment(holding, &held, &item.media_type, data.clone()).await?.id) },
                                    )
                                    .await?;
                                this.maps.put(ns::MEDIA, &server_id, &cloud.to_string(), Some(&key)).await?;
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
        // Every file held ahead is on its page: the holding page goes.
        if let (Some(holding), false) = (holding, self.plan.attachments_only) {
            if self.maps.in_container(ns::MEDIA, &space.key).await?.is_empty() {
                self.dest.delete_page(holding).await?;
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
        let migrating = if by_content.is_empty() { None } else { self.migrating_account().await?.cloned() };
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
                    match self.restriction_group(group).await? {
                        Some(found) => subjects.group.push(found),
                        None => lost.push(format!("group {group}")),
                    }
                }
                let fallback = match subjects.user.is_empty() && subjects.group.is_empty() {
                    true => {
                        let admins = self.site_group_ref(SITE_ADMINS_GROUP).await?.ok_or_else(|| {
                            anyhow::anyhow!("the site has no {SITE_ADMINS_GROUP} group, which a restriction that lost everyone it named falls back to")
                        })?;
                        subjects.group.push(admins);
                        Some(format!("group {SITE_ADMINS_GROUP}"))
                    }
                    false => None,
                };
                // The migrating account stays in every restriction it sets (as Confluence
                // keeps whoever restricts a page): without it, the rest of this plan and
                // every later one could neither find nor add to the page or its children.
                if let Some(me) = &migrating {
                    subjects.user.push(RestrictedUser { account_id: me.clone() });
                }
                subjects.user.sort();
                subjects.user.dedup();
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

    /// The site group a restriction names for server group `group` (its id, as the API
    /// asks), if the site has it (blocklisted groups never migrate); looked up once per run.
    pub(crate) async fn restriction_group(&mut self, group: &str) -> anyhow::Result<Option<RestrictedGroup>> {
        if rules::is_blocklisted(&group.to_lowercase()) {
            return Ok(None);
        }
        self.site_group_ref(group).await
    }

    /// The site's group named `group`, as a restriction names it.
    pub(crate) async fn site_group_ref(&mut self, group: &str) -> anyhow::Result<Option<RestrictedGroup>> {
        let lower = group.to_lowercase();
        if let Some(known) = self.site_groups.get(&lower) {
            return Ok(known.clone());
        }
        let found = self.dest.site_group(group).await?.map(|g| RestrictedGroup { id: g.id, name: Some(g.name) });
        self.site_groups.insert(lower, found.clone());
        Ok(found)
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
                    // By the group's id, as the API asks (its name is deprecated there).
                    let Some(found) = self.restriction_group(group).await? else {
                        self.report.dropped_permissions.push(DroppedPermission {
                            space: space.key.clone(),
                            permission: perm.kind.clone(),
                            subject: format!("group {group}"),
                            reason: "the group does not exist in the cloud site".into(),
                        });
                        continue;
                    };
                    (PermissionSubject { kind: "group".into(), identifier: found.id }, format!("group {group}"))
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
                    // Everyone signed in: the site's product-access group, by its id.
                    let product_group = self.plan.product_group.clone();
                    let Some(found) = self.site_group_ref(&product_group).await? else {
                        self.report.dropped_permissions.push(DroppedPermission {
                            space: space.key.clone(),
                            permission: perm.kind.clone(),
                            subject: "all signed-in users".into(),
                            reason: format!("the site has no product-access group {product_group:?}"),
                        });
                        continue;
                    };
                    (PermissionSubject { kind: "group".into(), identifier: found.id }, "all signed-in users".to_string())
                }
                // Anonymous access is a user subject named `anonymous` in the API.
                (None, None, false) => (PermissionSubject::anonymous(), "anonymous".to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_message_names_who_saved_it_when_and_why_and_stays_bounded() {
        let alice = OriginPerson { user_key: "k1".into(), username: Some("alice".into()), account_id: Some("5b10".into()) };
        let gone = OriginPerson { user_key: "k2".into(), username: None, account_id: None };
        assert_eq!(
            version_message(Some(&alice), Some("2024-03-01 09:00:00"), Some(" tidied up ")),
            "Saved on Server by alice at 2024-03-01 09:00:00: tidied up"
        );
        assert_eq!(version_message(Some(&gone), None, Some("")), "Saved on Server by k2 (former user)");
        assert_eq!(version_message(None, None, None), "Saved on Server by an unknown user");
        let long = version_message(Some(&alice), None, Some(&"x".repeat(10_000)));
        assert_eq!(long.chars().count(), MESSAGE_CHARS);
        assert!(long.ends_with('…'));
    }
}
