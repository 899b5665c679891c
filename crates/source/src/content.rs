//! Space content for the core migration, streamed: pages in tree order (parents first),
//! blog posts (and their older versions), comments (inline comments with their anchors),
//! attachments, and space permissions.

use std::path::{Path, PathBuf};

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use super::{Source, SourceError};

/// A page, blog post or comment to migrate.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentItem {
    /// Content id.
    pub id: i64,
    /// `PAGE`, `BLOGPOST` or `COMMENT`.
    pub kind: String,
    /// Title (pages and blog posts).
    pub title: String,
    /// Parent page (pages), or what a comment is on: a page, a blog post, or (file
    /// comments) an attachment.
    pub parent_id: Option<i64>,
    /// The comment a reply answers.
    pub parent_comment_id: Option<i64>,
    /// Creator's user key.
    pub creator: Option<String>,
    /// Creation time as the server stored it.
    pub created: Option<String>,
    /// Storage-format body (empty when `oversized`).
    pub body: String,
    /// The body's length in characters when it is over [`MAX_BODY_CHARS`]: then it is
    /// not read, and the entity fails.
    pub oversized: Option<i64>,
    /// Depth in the page tree (0 for top-level pages, blog posts and comments).
    pub depth: i64,
    /// The version number (pages and blog posts: older versions exist when it is above 1).
    pub version: i64,
    /// Who saved this version (a user key).
    pub modifier: Option<String>,
    /// When this version was saved, as the server stored it.
    pub modified: Option<String>,
    /// The version comment.
    pub version_comment: Option<String>,
    /// An inline comment's anchor: the marker (`ac:inline-comment-marker ac:ref`) around the
    /// highlighted text of the page body, and the text highlighted when it was made.
    pub inline: Option<InlineAnchor>,
}

/// Where an inline comment sits in its page's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineAnchor {
    /// The marker's reference (`inline-marker-ref`), also in the body.
    pub marker_ref: String,
    /// The highlighted text (`inline-original-selection`).
    pub selection: String,
}

/// An older version of a page or blog post (its body is read on its own, when migrated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionItem {
    /// The version's own content id.
    pub id: i64,
    /// The page or blog post it is a version of (its current content id).
    pub of: i64,
    /// Its version number.
    pub version: i64,
    /// The title it had.
    pub title: String,
    /// Who saved it (a user key).
    pub author: Option<String>,
    /// When it was saved.
    pub saved: Option<String>,
    /// Its version comment.
    pub comment: Option<String>,
}

/// An attachment to migrate.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentItem {
    /// Attachment id (the current version's id).
    pub id: i64,
    /// The page or blog post it sits on.
    pub page_id: i64,
    /// File name.
    pub file_name: String,
    /// Version.
    pub version: i64,
    /// Media type.
    pub media_type: String,
    /// Declared size.
    pub size: Option<i64>,
    /// Where the bytes are.
    pub path: PathBuf,
}

/// Which kind of access a page restriction limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestrictionKind {
    /// Who may see the page (inherited by its descendants).
    View,
    /// Who may edit it.
    Edit,
}

impl RestrictionKind {
    /// The server's name (`content_perm_set.cont_perm_type`).
    pub fn server_name(self) -> &'static str {
        match self {
            RestrictionKind::View => "View",
            RestrictionKind::Edit => "Edit",
        }
    }
}

/// One restriction of a page or blog post: who may view (or edit) it. A page with no
/// restriction of a kind is unrestricted for that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionItem {
    /// The page or blog post.
    pub content_id: i64,
    /// View or Edit.
    pub kind: RestrictionKind,
    /// User keys allowed.
    pub users: Vec<String>,
    /// Group names allowed.
    pub groups: Vec<String>,
}

/// A label (`global` namespace) on a page, blog post or attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelItem {
    /// The page, blog post or attachment.
    pub content_id: i64,
    /// The label.
    pub name: String,
}

/// A space permission row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionItem {
    /// Row id.
    pub id: i64,
    /// Permission type, e.g. `VIEWSPACE`.
    pub kind: String,
    /// Group name, for group permissions.
    pub group: Option<String>,
    /// User key, for user permissions.
    pub user_key: Option<String>,
    /// Whether it is for all signed-in users.
    pub all_users: bool,
}

/// The version columns every content query selects (after its own), for `concat!`.
macro_rules! version_columns {
    () => {
        "COALESCE(c.version, 1) AS version, c.lastmodifier AS modifier, CAST(c.lastmoddate AS TEXT) AS modified, c.versioncomment"
    };
}

/// The most characters of one body or text ferry reads: a page, blog post or comment
/// body, a request's description or comment. A larger one is not read (the database
/// gives its length instead): its entity fails, naming the size, so a broken or hostile
/// database cannot make ferry hold gigabytes. (The figure is repeated as a literal in
/// `bounded_body!`; a test keeps the two equal.)
pub const MAX_BODY_CHARS: i64 = 32 << 20;

/// The body of `b` unless it is over [`MAX_BODY_CHARS`] (then NULL), and its length, for
/// `concat!`.
macro_rules! bounded_body {
    () => {
        "CASE WHEN length(b.body) > 33554432 THEN NULL ELSE b.body END AS body, length(b.body) AS body_length"
    };
}

/// No inline anchor (pages, blog posts, file comments), for `concat!`.
macro_rules! no_anchor {
    () => {
        "CAST(NULL AS TEXT) AS marker_ref, CAST(NULL AS TEXT) AS selection"
    };
}

/// The filter of current content (no drafts, no trash, no old versions), for `concat!`.
/// `+prevver` keeps planners off an index on `prevver`: nearly every current row has it
/// NULL, and SQLite 3.46 would otherwise walk that index in the tree's recursive step.
macro_rules! current {
    () => {
        "+c.prevver IS NULL AND c.content_status = 'current'"
    };
}

fn item(r: &crate::sql::Row) -> Result<ContentItem, sqlx::Error> {
    Ok(ContentItem {
        id: r.try_get("contentid")?,
        kind: r.try_get("contenttype")?,
        title: r.try_get::<Option<String>, _>("title")?.unwrap_or_default(),
        parent_id: r.try_get("parent")?,
        parent_comment_id: r.try_get("parentcommentid")?,
        creator: r.try_get("creator")?,
        created: r.try_get("created")?,
        body: r.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
        oversized: super::over_bound(r, "body_length")?,
        depth: int(r, "depth")?,
        version: int(r, "version")?,
        modifier: r.try_get("modifier")?,
        modified: r.try_get("modified")?,
        version_comment: r.try_get::<Option<String>, _>("versioncomment")?.filter(|c| !c.is_empty()),
        inline: match (r.try_get::<Option<String>, _>("marker_ref")?, r.try_get::<Option<String>, _>("selection")?) {
            (Some(marker_ref), selection) if !marker_ref.is_empty() => Some(InlineAnchor { marker_ref, selection: selection.unwrap_or_default() }),
            _ => None,
        },
    })
}

/// An integer column that is `bigint` in one database and `integer` in another.
fn int(r: &crate::sql::Row, column: &str) -> Result<i64, sqlx::Error> {
    r.try_get::<i64, _>(column).or_else(|_| r.try_get::<i32, _>(column).map(i64::from))
}

impl Source {
    /// The current pages of a space, parents before children (ordered by tree depth).
    pub fn pages_in_tree_order(&self, space_id: i64) -> BoxStream<'_, Result<ContentItem, SourceError>> {
        const SQL: &str = concat!(
            "WITH RECURSIVE tree (contentid, depth) AS ( \
               SELECT c.contentid, 0 FROM content c WHERE c.spaceid = $1 AND c.contenttype = 'PAGE' AND ", current!(), " \
                 AND (c.parentid IS NULL OR NOT EXISTS (SELECT 1 FROM content p WHERE p.contentid = c.parentid AND +p.prevver IS NULL AND p.content_status = 'current')) \
               UNION ALL \
               SELECT c.contentid, t.depth + 1 FROM content c JOIN tree t ON c.parentid = t.contentid \
                 WHERE c.contenttype = 'PAGE' AND ", current!(), ") \
             SELECT c.contentid, c.contenttype, c.title, c.parentid AS parent, CAST(NULL AS BIGINT) AS parentcommentid, c.creator, \
                    CAST(c.creationdate AS TEXT) AS created, ", bounded_body!(), ", t.depth, ", version_columns!(), ", ", no_anchor!(), " \
             FROM tree t JOIN content c ON c.contentid = t.contentid \
             LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
             ORDER BY t.depth, c.contentid"
        );
        self.stream_items(SQL, space_id)
    }

    /// The current blog posts of a space.
    pub fn blogposts(&self, space_id: i64) -> BoxStream<'_, Result<ContentItem, SourceError>> {
        const SQL: &str = concat!(
            "SELECT c.contentid, c.contenttype, c.title, CAST(NULL AS BIGINT) AS parent, CAST(NULL AS BIGINT) AS parentcommentid, c.creator, \
                    CAST(c.creationdate AS TEXT) AS created, ",
            bounded_body!(),
            ", 0 AS depth, ",
            version_columns!(),
            ", ",
            no_anchor!(),
            " \
             FROM content c LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
             WHERE c.spaceid = $1 AND c.contenttype = 'BLOGPOST' AND ",
            current!(),
            " ORDER BY c.contentid"
        );
        self.stream_items(SQL, space_id)
    }

    /// Every current page, blog post, comment and attachment of the site: (content type,
    /// id), streamed in id order.
    pub fn current_content_ids(&self) -> BoxStream<'_, Result<(String, i64), SourceError>> {
        const SQL: &str = concat!(
            "SELECT c.contenttype, c.contentid FROM content c WHERE c.contenttype IN ('PAGE', 'BLOGPOST', 'COMMENT', 'ATTACHMENT') AND ",
            current!(),
            " ORDER BY c.contentid"
        );
        Box::pin(self.query(SQL).fetch().map(|row| {
            let row = row?;
            Ok((row.try_get::<String, _>(0)?, super::identity::int(&row, 1)?))
        }))
    }

    /// The View and Edit restrictions of the current pages and blog posts of a space, by
    /// content id then kind.
    pub async fn restrictions_of_space(&self, space_id: i64) -> Result<Vec<RestrictionItem>, SourceError> {
        const SQL: &str = concat!(
            "SELECT s.content_id, s.cont_perm_type, p.username, p.groupname \
             FROM content_perm_set s JOIN content c ON c.contentid = s.content_id \
             LEFT JOIN content_perm p ON p.cps_id = s.id \
             WHERE c.spaceid = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND ",
            current!(),
            " \
             ORDER BY s.content_id, s.cont_perm_type, p.id"
        );
        let mut rows = self.query(SQL).bind(space_id).fetch();
        let mut out: Vec<RestrictionItem> = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let content_id: i64 = r.try_get(0)?;
            let kind = match r.try_get::<String, _>(1)?.as_str() {
                "View" => RestrictionKind::View,
                "Edit" => RestrictionKind::Edit,
                other => return Err(SourceError::Data(format!("content_perm_set of content {content_id} has type {other:?}, not View or Edit"))),
            };
            if out.last().is_none_or(|last| (last.content_id, last.kind) != (content_id, kind)) {
                out.push(RestrictionItem { content_id, kind, users: Vec::new(), groups: Vec::new() });
            }
            let item = out.last_mut().expect("just pushed");
            if let Some(user) = r.try_get::<Option<String>, _>(2)? {
                item.users.push(user);
            }
            if let Some(group) = r.try_get::<Option<String>, _>(3)? {
                item.groups.push(group);
            }
        }
        Ok(out)
    }

    /// The `global` labels of a space's current pages, blog posts and attachments, by
    /// content id. Personal (`my`) and space-category (`team`) labels are not read.
    pub async fn labels_of_space(&self, space_id: i64) -> Result<Vec<LabelItem>, SourceError> {
        const SQL: &str = concat!(
            "SELECT cl.contentid, l.name FROM content_label cl JOIN label l ON l.labelid = cl.labelid \
             JOIN content c ON c.contentid = cl.contentid \
             WHERE l.namespace = 'global' AND c.spaceid = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND ",
            current!(),
            " \
             UNION ALL \
             SELECT cl.contentid, l.name FROM content_label cl JOIN label l ON l.labelid = cl.labelid \
             JOIN content c ON c.contentid = cl.contentid \
             JOIN content p ON p.contentid = c.pageid AND +p.prevver IS NULL AND p.content_status = 'current' \
             WHERE l.namespace = 'global' AND p.spaceid = $1 AND c.contenttype = 'ATTACHMENT' AND ",
            current!(),
            " \
             ORDER BY 1, 2"
        );
        let rows = self.query(SQL).bind(space_id).fetch_all().await?;
        rows.iter()
            .map(|r| Ok(LabelItem { content_id: r.try_get(0)?, name: r.try_get::<Option<String>, _>(1)?.unwrap_or_default() }))
            .filter(|l: &Result<LabelItem, SourceError>| l.as_ref().map_or(true, |l| !l.name.is_empty()))
            .collect()
    }

    /// The current comments on current pages and blog posts of a space, oldest first
    /// (a reply comes after the comment it answers).
    pub fn comments_of_space(&self, space_id: i64) -> BoxStream<'_, Result<ContentItem, SourceError>> {
        const SQL: &str = concat!(
            "SELECT c.contentid, c.contenttype, '' AS title, c.pageid AS parent, c.parentcommentid, c.creator, \
                    CAST(c.creationdate AS TEXT) AS created, ",
            bounded_body!(),
            ", 0 AS depth, ",
            version_columns!(),
            ", \
                    (SELECT stringval FROM contentproperties WHERE contentid = c.contentid AND propertyname = 'inline-marker-ref') AS marker_ref, \
                    (SELECT stringval FROM contentproperties WHERE contentid = c.contentid AND propertyname = 'inline-original-selection') AS selection \
             FROM content c JOIN content p ON p.contentid = c.pageid AND +p.prevver IS NULL AND p.content_status = 'current' \
             LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
             WHERE p.spaceid = $1 AND p.contenttype IN ('PAGE', 'BLOGPOST') AND c.contenttype = 'COMMENT' AND ",
            current!(),
            " ORDER BY c.contentid"
        );
        self.stream_items(SQL, space_id)
    }

    /// How many current pages, blog posts and comments (file comments included) a space
    /// has: what the migrating account will author in the cloud.
    pub async fn content_counts(&self, space_id: i64) -> Result<(u64, u64, u64), SourceError> {
        const OWN: &str = concat!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN c.contenttype = 'PAGE' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN c.contenttype = 'BLOGPOST' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM content c WHERE c.spaceid = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND ",
            current!()
        );
        const COMMENTS: &str = concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM content c JOIN content p ON p.contentid = c.pageid \
             LEFT JOIN content o ON o.contentid = p.pageid AND p.contenttype = 'ATTACHMENT' \
             WHERE c.contenttype = 'COMMENT' AND COALESCE(o.spaceid, p.spaceid) = $1 AND ",
            current!()
        );
        let own = self.query(OWN).bind(space_id).fetch_one().await?;
        let comments: i64 = self.query(COMMENTS).bind(space_id).fetch_one().await?.try_get(0)?;
        let (pages, blogposts): (i64, i64) = (own.try_get(0)?, own.try_get(1)?);
        Ok((pages.max(0) as u64, blogposts.max(0) as u64, comments.max(0) as u64))
    }

    /// How many current attachments the current pages and blog posts of a space have.
    pub async fn attachment_count(&self, space_id: i64) -> Result<u64, SourceError> {
        const SQL: &str = concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM content c JOIN content p ON p.contentid = c.pageid AND +p.prevver IS NULL AND p.content_status = 'current' \
             WHERE p.spaceid = $1 AND c.contenttype = 'ATTACHMENT' AND ",
            current!()
        );
        let n: i64 = self.query(SQL).bind(space_id).fetch_one().await?.try_get(0)?;
        Ok(n.max(0) as u64)
    }

    /// The current comments on attachments (file comments) of current pages and blog
    /// posts of a space, oldest first. A file comment's `parent_id` is its attachment.
    pub fn file_comments_of_space(&self, space_id: i64) -> BoxStream<'_, Result<ContentItem, SourceError>> {
        const SQL: &str = concat!(
            "SELECT c.contentid, c.contenttype, '' AS title, c.pageid AS parent, c.parentcommentid, c.creator, \
                    CAST(c.creationdate AS TEXT) AS created, ",
            bounded_body!(),
            ", 0 AS depth, ",
            version_columns!(),
            ", ",
            no_anchor!(),
            " \
             FROM content c JOIN content a ON a.contentid = c.pageid AND a.contenttype = 'ATTACHMENT' AND +a.prevver IS NULL AND a.content_status = 'current' \
             JOIN content p ON p.contentid = a.pageid AND +p.prevver IS NULL AND p.content_status = 'current' \
             LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
             WHERE p.spaceid = $1 AND c.contenttype = 'COMMENT' AND ",
            current!(),
            " ORDER BY c.contentid"
        );
        self.stream_items(SQL, space_id)
    }

    /// The older versions of pages and blog posts `of` (current content ids), without
    /// their bodies: by page, oldest first.
    pub async fn older_versions(&self, of: &[i64]) -> Result<Vec<VersionItem>, SourceError> {
        let mut out = Vec::new();
        // Bounded IN lists: every database takes 500 parameters.
        for ids in of.chunks(500) {
            let params: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT c.contentid, c.prevver, COALESCE(c.version, 1) AS version, c.title, COALESCE(c.lastmodifier, c.creator) AS author, \
                        CAST(COALESCE(c.lastmoddate, c.creationdate) AS TEXT) AS saved, c.versioncomment \
                 FROM content c WHERE c.prevver IN ({}) AND c.contenttype IN ('PAGE', 'BLOGPOST') AND c.content_status = 'current' \
                 ORDER BY c.prevver, c.version, c.contentid",
                params.join(", ")
            );
            let mut query = self.query(&sql);
            for id in ids {
                query = query.bind(*id);
            }
            for r in query.fetch_all().await? {
                out.push(VersionItem {
                    id: r.try_get(0)?,
                    of: r.try_get(1)?,
                    version: int(&r, "version")?,
                    title: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    author: r.try_get(4)?,
                    saved: r.try_get(5)?,
                    comment: r.try_get::<Option<String>, _>(6)?.filter(|c| !c.is_empty()),
                });
            }
        }
        Ok(out)
    }

    /// The storage-format body of one content row (an older version), empty when it has
    /// none. A body over [`MAX_BODY_CHARS`] is not read: an error says so.
    pub async fn body_of(&self, content_id: i64) -> Result<String, SourceError> {
        const SQL: &str = concat!("SELECT ", bounded_body!(), " FROM bodycontent b WHERE b.contentid = $1 AND b.bodytypeid = 2 ORDER BY b.bodycontentid DESC");
        let Some(row) = self.query(SQL).bind(content_id).fetch_optional().await? else { return Ok(String::new()) };
        if let Some(chars) = super::over_bound(&row, 1)? {
            return Err(SourceError::Data(format!("content {content_id}: {}", super::too_long("its body", chars))));
        }
        Ok(row.try_get::<Option<String>, _>(0)?.unwrap_or_default())
    }

    fn stream_items(&self, sql: &'static str, space_id: i64) -> BoxStream<'_, Result<ContentItem, SourceError>> {
        self.query(sql).bind(space_id).fetch().map(|r| r.map_err(SourceError::from).and_then(|r| item(&r).map_err(SourceError::from))).boxed()
    }

    /// The current attachments of current pages and blog posts of a space, with the
    /// path of their bytes under `root`.
    pub async fn attachments_of_space(&self, space_id: i64, root: &Path) -> Result<Vec<AttachmentItem>, SourceError> {
        self.attachments_where("p.spaceid = $1", space_id, root).await
    }

    /// The current attachments of one current page or blog post.
    pub async fn attachments_of_content(&self, content_id: i64, root: &Path) -> Result<Vec<AttachmentItem>, SourceError> {
        self.attachments_where("c.pageid = $1", content_id, root).await
    }

    /// One current attachment (of a current page or blog post), by id.
    pub async fn attachment(&self, attachment_id: i64, root: &Path) -> Result<Option<AttachmentItem>, SourceError> {
        Ok(self.attachments_where("c.contentid = $1", attachment_id, root).await?.pop())
    }

    /// Current attachments of current pages and blog posts matching `condition` (on `c`,
    /// the attachment, and `p`, its page) with `$1` bound to `value`.
    async fn attachments_where(&self, condition: &str, value: i64, root: &Path) -> Result<Vec<AttachmentItem>, SourceError> {
        let sql = format!(
            "SELECT c.contentid, c.pageid, c.title, COALESCE(c.version, 1) AS version, \
                    (SELECT stringval FROM contentproperties WHERE contentid = c.contentid AND propertyname = 'MEDIA_TYPE') AS media, \
                    (SELECT longval FROM contentproperties WHERE contentid = c.contentid AND propertyname = 'FILESIZE') AS size, \
                    p.spaceid \
             FROM content c JOIN content p ON p.contentid = c.pageid AND +p.prevver IS NULL AND p.content_status = 'current' \
             WHERE {condition} AND c.contenttype = 'ATTACHMENT' AND {} ORDER BY c.contentid",
            current!()
        );
        let mut rows = self.query(&sql).bind(value).fetch();
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let id: i64 = r.try_get(0)?;
            let page_id: i64 = r.try_get(1)?;
            let version: i64 = r.try_get::<i64, _>(3).or_else(|_| r.try_get::<i32, _>(3).map(i64::from))?;
            let space: Option<i64> = r.try_get(6)?;
            out.push(AttachmentItem {
                id,
                page_id,
                file_name: r.try_get::<Option<String>, _>(2)?.unwrap_or_else(|| format!("attachment-{id}")),
                version,
                media_type: r.try_get::<Option<String>, _>(4)?.unwrap_or_else(|| "application/octet-stream".into()),
                size: r.try_get(5)?,
                path: attachment_path(root, space, page_id, id, version),
            });
        }
        Ok(out)
    }

    /// The permissions of a space.
    pub async fn space_permissions(&self, space_id: i64) -> Result<Vec<PermissionItem>, SourceError> {
        let rows = self
            .query("SELECT permid, permtype, permgroupname, permusername, permalluserssubject FROM spacepermissions WHERE spaceid = $1 ORDER BY permid")
            .bind(space_id)
            .fetch_all()
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PermissionItem {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    group: r.try_get(2)?,
                    user_key: r.try_get(3)?,
                    all_users: r.try_get::<Option<String>, _>(4)?.is_some(),
                })
            })
            .collect()
    }

    /// User keys related to a space: creators and last modifiers of its current content,
    /// commenters, and holders of its user permissions.
    pub async fn related_user_keys(&self, space_id: i64) -> Result<Vec<String>, SourceError> {
        let rows = self
            .query(
                "SELECT creator FROM content WHERE spaceid = $1 AND creator IS NOT NULL \
             UNION SELECT lastmodifier FROM content WHERE spaceid = $1 AND lastmodifier IS NOT NULL \
             UNION SELECT permusername FROM spacepermissions WHERE spaceid = $1 AND permusername IS NOT NULL",
            )
            .bind(space_id)
            .fetch_all()
            .await?;
        rows.iter().map(|r| r.try_get(0).map_err(SourceError::from)).collect()
    }

    /// Current pages and blog posts of a space whose body uses a short link (`/x/…`):
    /// (content id, title, body).
    pub async fn short_link_content(&self, space_id: i64) -> Result<Vec<(i64, String, String)>, SourceError> {
        // A body over the bound comes back empty (its page fails on its own).
        const SQL: &str = concat!(
            "SELECT c.contentid, c.title, ",
            bounded_body!(),
            " FROM content c JOIN bodycontent b ON b.contentid = c.contentid \
             WHERE c.spaceid = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND c.content_status = 'current' AND c.prevver IS NULL \
             AND b.body LIKE '%/x/%' ORDER BY c.contentid"
        );
        let rows = self.query(SQL).bind(space_id).fetch_all().await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<Option<String>, _>(1)?.unwrap_or_default(), r.try_get::<Option<String>, _>(2)?.unwrap_or_default())))
            .collect()
    }

    /// The space of a current page or blog post, if there is one.
    pub async fn space_of_current(&self, content_id: i64) -> Result<Option<i64>, SourceError> {
        let row = self
            .query(
                "SELECT spaceid FROM content WHERE contentid = $1 AND contenttype IN ('PAGE', 'BLOGPOST') AND content_status = 'current' AND prevver IS NULL",
            )
            .bind(content_id)
            .fetch_optional()
            .await?;
        Ok(row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten())
    }
}

/// Where Confluence keeps version `version` of attachment `attachment` of page `page`
/// in space `space` (or no space), under the attachment root.
pub fn attachment_path(root: &std::path::Path, space: Option<i64>, page: i64, attachment: i64, version: i64) -> std::path::PathBuf {
    let levels = |id: i64| [(id % 1000 % 250).to_string(), (id / 1000 % 1000 % 250).to_string()];
    let mut path = root.join("ver003");
    match space {
        Some(space) => {
            let [s1, s2] = levels(space);
            path = path.join(s1).join(s2).join(space.to_string());
        }
        None => path = path.join("nonspaced"),
    }
    let [p1, p2] = levels(page);
    path.join(p1).join(p2).join(page.to_string()).join(attachment.to_string()).join(version.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_body_bound_in_sql_is_max_body_chars() {
        assert!(bounded_body!().starts_with(&format!("{} AS body,", crate::bounded_text("b.body"))), "{}", bounded_body!());
    }
}
