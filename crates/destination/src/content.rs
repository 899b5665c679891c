//! Spaces, pages, blog posts, comments, attachments, permissions and app data over the
//! Confluence-Cloud-shaped REST API.

use reqwest::multipart::{Form, Part};
use reqwest::Method;

use super::api::*;
use super::{ok, Destination, DestinationError};

/// What a content property or a lookup is about: the four kinds of content Ferry
/// creates in Confluence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// A page.
    Page,
    /// A blog post.
    BlogPost,
    /// A footer comment (on a page, a blog post or an attachment).
    FooterComment,
    /// An inline comment.
    InlineComment,
}

impl ContentKind {
    /// A page or a blog post.
    pub fn of(blog: bool) -> ContentKind {
        if blog {
            ContentKind::BlogPost
        } else {
            ContentKind::Page
        }
    }

    /// Its v2 collection (`/wiki/api/v2/{collection}`).
    fn collection(self) -> &'static str {
        match self {
            ContentKind::Page => "pages",
            ContentKind::BlogPost => "blogposts",
            ContentKind::FooterComment => "footer-comments",
            ContentKind::InlineComment => "inline-comments",
        }
    }

    /// Where its content properties are (comments share one collection for them).
    fn properties(self, id: i64) -> String {
        match self {
            ContentKind::Page | ContentKind::BlogPost => format!("/wiki/api/v2/{}/{id}/properties", self.collection()),
            ContentKind::FooterComment | ContentKind::InlineComment => format!("/wiki/api/v2/comments/{id}/properties"),
        }
    }
}

/// Whose comments [`Destination::comments_on`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentsOn {
    /// A page's (or blog post's) top-level footer or inline comments.
    Content {
        /// A blog post.
        blog: bool,
        /// Its id.
        id: i64,
        /// Inline comments (else footer comments).
        inline: bool,
    },
    /// An attachment's comments.
    Attachment(i64),
    /// The replies to a footer or inline comment.
    Replies {
        /// An inline comment's.
        inline: bool,
        /// The comment's id.
        id: i64,
    },
}

/// Items a v2 list page asks for (the most the API gives).
const CURSOR_LIMIT: &str = "250";

impl Destination {
    /// The space with `key`, if it exists (`GET /wiki/api/v2/spaces?keys=`; v1's
    /// `GET /space/{key}` is deprecated).
    pub async fn get_space(&self, key: &str) -> Result<Option<Space>, DestinationError> {
        let list: CursorPage<Space> = self.json(Method::GET, self.url("/wiki/api/v2/spaces"), |r| r.query(&[("keys", key)])).await?;
        Ok(list.results.into_iter().find(|s| s.key == key))
    }

    /// Create a space. Not repeated after a 5xx or a lost answer: look for it by key.
    pub async fn create_space(&self, key: &str, name: &str) -> Result<Space, DestinationError> {
        let space = Space { id: None, key: key.to_string(), name: name.to_string() };
        self.json_create(self.url("/wiki/rest/api/space"), |r| r.json(&space)).await
    }

    /// Create a page (`blog = false`) or a blog post, by the signed-in account, now. A
    /// `private` one is created restricted (view and edit) to that account, so it is never
    /// visible to anyone else before its own restrictions are set. Not repeated after a
    /// 5xx or a lost answer: look for it by title ([`Destination::find_content`]).
    pub async fn create_content(&self, blog: bool, content: &NewContent, private: bool) -> Result<Created, DestinationError> {
        let path = format!("/wiki/api/v2/{}", ContentKind::of(blog).collection());
        let url = if private { self.url(&format!("{path}?private=true")) } else { self.url(&path) };
        self.json_create(url, |r| r.json(content)).await
    }

    /// The current page (or blog post) titled `title` in space `space_id`, if any: a
    /// space has at most one. Private pages are found by the account that created them.
    pub async fn find_content(&self, blog: bool, space_id: i64, title: &str) -> Result<Option<ContentSummary>, DestinationError> {
        let path = format!("/wiki/api/v2/spaces/{space_id}/{}", ContentKind::of(blog).collection());
        let page: CursorPage<ContentSummary> = self.json(Method::GET, self.url(&path), |r| r.query(&[("title", title), ("status", "current")])).await?;
        Ok(page.results.into_iter().find(|c| c.title == title))
    }

    /// Add the next version of a page or blog post (`update.version.number` is the
    /// current number plus one). Ferry adds a page's versions in order, one at a time,
    /// after its create, so a page that answers `409` (not the next number) already has
    /// this version: it landed before a lost answer or a crash, and the call is a success.
    pub async fn add_version(&self, blog: bool, id: i64, update: &ContentUpdate) -> Result<(), DestinationError> {
        let path = format!("/wiki/api/v2/{}/{id}", ContentKind::of(blog).collection());
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(update)).await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        ok(Method::PUT, &path, response).await.map(|_| ())
    }

    /// The versions of a page or blog post, oldest first (every page of the list).
    pub async fn versions(&self, blog: bool, id: i64) -> Result<VersionList, DestinationError> {
        let results =
            self.all_cursor_pages(&format!("/wiki/api/v2/{}/{id}/versions", ContentKind::of(blog).collection()), &[("sort", "modified-date")]).await?;
        Ok(VersionList { results })
    }

    /// A page or blog post with its storage body, or `None` when the site has no such one.
    pub async fn content(&self, kind: ContentKind, id: i64) -> Result<Option<ContentSummary>, DestinationError> {
        self.json_or_none(format!("/wiki/api/v2/{}/{id}?body-format=storage", kind.collection())).await
    }

    /// The labels of a page or blog post (every page of the list).
    pub async fn labels(&self, kind: ContentKind, id: i64) -> Result<Vec<LabelSummary>, DestinationError> {
        self.all_cursor_pages(&format!("/wiki/api/v2/{}/{id}/labels", kind.collection()), &[]).await
    }

    /// A footer or inline comment with its storage body, or `None` when the site has no such one.
    pub async fn comment(&self, inline: bool, id: i64) -> Result<Option<ContentSummary>, DestinationError> {
        self.json_or_none(format!("/wiki/api/v2/{}/{id}?body-format=storage", if inline { "inline-comments" } else { "footer-comments" })).await
    }

    /// An attachment (its name and size), or `None` when the site has no such one.
    pub async fn attachment(&self, attachment_id: i64) -> Result<Option<AttachmentSummary>, DestinationError> {
        self.json_or_none(format!("/wiki/api/v2/attachments/att{attachment_id}")).await
    }

    /// Download an attachment's bytes, handing each chunk to `each` as it arrives (memory
    /// stays flat however large the file): its size, or `None` when the site has no such one.
    pub async fn download_attachment(&self, content_id: i64, attachment_id: i64, mut each: impl FnMut(&[u8])) -> Result<Option<u64>, DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/child/attachment/att{attachment_id}/download");
        let response = self.send(Method::GET, self.url(&path), |r| r).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let mut response = ok(Method::GET, &path, response).await?;
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| DestinationError::Decode { path: path.clone(), message: e.without_url().to_string() })? {
            size += chunk.len() as u64;
            each(&chunk);
        }
        Ok(Some(size))
    }

    /// The origin a migrated entity keeps ([`ORIGIN_PROPERTY`]), if it has one.
    pub async fn origin(&self, kind: ContentKind, id: i64) -> Result<Option<Origin>, DestinationError> {
        let path = kind.properties(id);
        let response = self.send(Method::GET, self.url(&path), |r| r.query(&[("key", ORIGIN_PROPERTY)])).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = ok(Method::GET, &path, response).await?;
        let page: CursorPage<Property<serde_json::Value>> =
            response.json().await.map_err(|e| DestinationError::Decode { path: path.clone(), message: e.without_url().to_string() })?;
        // Another tool's property under the same key is not an origin.
        Ok(page.results.into_iter().find(|p| p.key == ORIGIN_PROPERTY).and_then(|p| serde_json::from_value(p.value).ok()))
    }

    /// Record where a migrated entity came from ([`ORIGIN_PROPERTY`]). A property the
    /// entity has already (this create landed before a crash) is left as it is.
    pub async fn set_origin(&self, kind: ContentKind, id: i64, origin: &Origin) -> Result<(), DestinationError> {
        let path = kind.properties(id);
        let property = NewProperty { key: ORIGIN_PROPERTY.to_string(), value: origin };
        let there = || async { Ok(self.origin(kind, id).await?.map(drop)) };
        let create = || async {
            let response = self.send_create(Method::POST, self.url(&path), |r| r.json(&property)).await?;
            if response.status() == reqwest::StatusCode::CONFLICT {
                return Ok(());
            }
            ok(Method::POST, &path, response).await.map(drop)
        };
        self.create_looking_first(false, there, create).await
    }

    /// Every item of a v2 list, following its cursor links to the end.
    pub(crate) async fn all_cursor_pages<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<T>, DestinationError> {
        let mut out = Vec::new();
        let mut page: CursorPage<T> = self.json(Method::GET, self.url(path), |r| r.query(query).query(&[("limit", CURSOR_LIMIT)])).await?;
        loop {
            out.extend(page.results);
            let Some(next) = page.links.next.filter(|n| n.starts_with("/wiki/api/v2/")) else { return Ok(out) };
            page = self.json(Method::GET, self.url(&next), |r| r).await?;
        }
    }

    /// Save a new version of a page, blog post or comment with another body (its title
    /// kept), with `message`: the second pass of reference rewriting, once the pages a
    /// body names have cloud ids. `body` makes the new body from the current one (which
    /// holds what the site added, e.g. its inline-comment markers). A body that is
    /// already this one is left as it is. `Ok(false)` when it is not there (deleted since).
    pub async fn update_body(&self, kind: ContentKind, id: i64, body: impl Fn(&str) -> Body, message: &str) -> Result<bool, DestinationError> {
        let path = format!("/wiki/api/v2/{}/{id}", kind.collection());
        // Someone saving it between the read and the write makes the write a 409: read again.
        for _ in 0..3 {
            let Some(current): Option<ContentSummary> = self.json_or_none(format!("{path}?body-format=storage")).await? else { return Ok(false) };
            let body = body(current.storage_body().unwrap_or_default());
            if current.storage_body() == Some(body.value.as_str()) {
                return Ok(true);
            }
            let version = PageVersion { number: current.version.as_ref().map_or(1, |v| v.number) + 1, message: Some(message.to_string()) };
            let response = match kind {
                ContentKind::Page | ContentKind::BlogPost => {
                    let update = ContentUpdate { id: id.to_string(), status: "current".into(), title: current.title, body, version };
                    self.send(Method::PUT, self.url(&path), |r| r.json(&update)).await?
                }
                ContentKind::FooterComment | ContentKind::InlineComment => {
                    let update = CommentUpdate { version, body };
                    self.send(Method::PUT, self.url(&path), |r| r.json(&update)).await?
                }
            };
            if response.status() != reqwest::StatusCode::CONFLICT {
                return ok(Method::PUT, &path, response).await.map(|_| true);
            }
        }
        Err(DestinationError::Status { method: "PUT".into(), path, status: 409, message: "its version kept changing while Ferry saved it".into() })
    }

    /// Replace every restriction of a page or blog post with `restrictions` (an operation
    /// left out becomes unrestricted). `400` names a user or group that does not exist.
    pub async fn set_restrictions(&self, content_id: i64, restrictions: &[ContentRestriction]) -> Result<(), DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/restriction");
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(restrictions)).await?;
        ok(Method::PUT, &path, response).await.map(|_| ())
    }

    /// Add labels to a page, blog post or attachment (adding one it has is a no-op).
    pub async fn add_labels(&self, content_id: i64, labels: &[NewLabel]) -> Result<(), DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/label");
        let response = self.send(Method::POST, self.url(&path), |r| r.json(labels)).await?;
        ok(Method::POST, &path, response).await.map(|_| ())
    }

    /// The restrictions of a page or blog post.
    pub async fn restrictions(&self, content_id: i64) -> Result<Vec<ContentRestriction>, DestinationError> {
        let answer: RestrictionArray = self.json(Method::GET, self.url(&format!("/wiki/rest/api/content/{content_id}/restriction")), |r| r).await?;
        Ok(answer.into())
    }

    /// Create a footer comment. Not repeated after a 5xx or a lost answer: look for it
    /// by its origin ([`Destination::comments_on`], [`Destination::origin`]).
    pub async fn create_comment(&self, comment: &NewComment) -> Result<Created, DestinationError> {
        self.json_create(self.url("/wiki/api/v2/footer-comments"), |r| r.json(comment)).await
    }

    /// Create an inline comment: anchored to its highlighted text in the page's body, or
    /// answering another inline comment. Not repeated after a 5xx or a lost answer.
    pub async fn create_inline_comment(&self, comment: &NewInlineComment) -> Result<Created, DestinationError> {
        self.json_create(self.url("/wiki/api/v2/inline-comments"), |r| r.json(comment)).await
    }

    /// The comments on `on` (every page of the list): a page's or blog post's top-level
    /// footer or inline comments, an attachment's comments, or a comment's replies.
    pub async fn comments_on(&self, on: CommentsOn) -> Result<Vec<CommentSummary>, DestinationError> {
        let path = match on {
            CommentsOn::Content { blog, id, inline } => {
                format!("/wiki/api/v2/{}/{id}/{}", ContentKind::of(blog).collection(), if inline { "inline-comments" } else { "footer-comments" })
            }
            CommentsOn::Attachment(id) => format!("/wiki/api/v2/attachments/att{id}/footer-comments"),
            CommentsOn::Replies { inline, id } => format!("/wiki/api/v2/{}/{id}/children", if inline { "inline-comments" } else { "footer-comments" }),
        };
        self.all_cursor_pages(&path, &[]).await
    }

    /// The attachment named `file_name` on a page or blog post, if it has one (a page
    /// has at most one of a name).
    /// (`GET /wiki/api/v2/pages/{id}/attachments?filename=`, or a blog post's when the
    /// id is not a page's.)
    pub async fn find_attachment(&self, content_id: i64, file_name: &str) -> Result<Option<i64>, DestinationError> {
        for kind in [ContentKind::Page, ContentKind::BlogPost] {
            let path = format!("/wiki/api/v2/{}/{content_id}/attachments?filename={}", kind.collection(), path_segment(file_name));
            if let Some(found) = self.json_or_none::<CursorPage<AttachmentSummary>>(path).await? {
                return Ok(found.results.into_iter().find(|a| a.title == file_name).map(|a| a.id));
            }
        }
        Ok(None)
    }

    /// Upload an attachment to a page or blog post (no notification: a minor edit). Not
    /// repeated after a 5xx or a lost answer: look for it by name
    /// ([`Destination::find_attachment`]).
    pub async fn upload_attachment(&self, content_id: i64, file_name: &str, media_type: &str, data: bytes::Bytes) -> Result<Created, DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/child/attachment");
        let added: AttachmentList = self
            .json_create(self.url(&path), |r| {
                let part = Part::stream(data.clone())
                    .file_name(file_name.to_string())
                    .mime_str(media_type)
                    .unwrap_or_else(|_| Part::stream(data.clone()).file_name(file_name.to_string()));
                r.header("X-Atlassian-Token", "nocheck").multipart(Form::new().part("file", part).text("minorEdit", "true"))
            })
            .await?;
        match added.results.into_iter().next() {
            Some(attachment) => Ok(Created { id: attachment.id }),
            None => Err(DestinationError::Decode { path, message: "the answer lists no attachment".into() }),
        }
    }

    /// Move an attachment from the page it is on (`from`) to `to` (a page, or a blog post
    /// when `blog`), named `title` there: how attachments uploaded ahead to a space's
    /// holding page reach their own page (`PUT /wiki/rest/api/content/{from}/child/attachment/{id}`
    /// with the next version and the new container; the version is read first).
    pub async fn move_attachment(&self, from: i64, attachment_id: i64, to: i64, blog: bool, title: &str) -> Result<(), DestinationError> {
        let current: AttachmentVersion = self.json(Method::GET, self.url(&format!("/wiki/api/v2/attachments/att{attachment_id}")), |r| r).await?;
        let path = format!("/wiki/rest/api/content/{from}/child/attachment/att{attachment_id}");
        let body = AttachmentMove {
            id: format!("att{attachment_id}"),
            kind: "attachment".into(),
            title: title.to_string(),
            version: MoveVersion {
                number: current.version.number + 1,
                minor_edit: true,
                when: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            },
            container: MoveContainer { id: to.to_string(), kind: if blog { "blogpost" } else { "page" }.into() },
        };
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(&body)).await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            // Not the next version: a lost answer's move already landed if it is on `to`.
            let now: AttachmentVersion = self.json(Method::GET, self.url(&format!("/wiki/api/v2/attachments/att{attachment_id}")), |r| r).await?;
            if now.page_id.or(now.blog_post_id) == Some(to) {
                return Ok(());
            }
        }
        ok(Method::PUT, &path, response).await.map(|_| ())
    }

    /// Delete a page (`DELETE /wiki/api/v2/pages/{id}`; one already gone is fine).
    pub async fn delete_page(&self, page_id: i64) -> Result<(), DestinationError> {
        let path = format!("/wiki/api/v2/pages/{page_id}");
        let response = self.send(Method::DELETE, self.url(&path), |r| r).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        ok(Method::DELETE, &path, response).await.map(|_| ())
    }

    /// Delete an attachment (a link to a file deleted on the server since).
    pub async fn delete_attachment(&self, attachment_id: i64) -> Result<(), DestinationError> {
        let path = format!("/wiki/api/v2/attachments/{attachment_id}");
        let response = self.send(Method::DELETE, self.url(&path), |r| r).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        ok(Method::DELETE, &path, response).await.map(|_| ())
    }

    /// Every permission of a space (by its cloud id), to the end of the list.
    pub async fn space_permissions(&self, space_id: i64) -> Result<Vec<SpacePermissionAssignment>, DestinationError> {
        self.all_cursor_pages(&format!("/wiki/api/v2/spaces/{space_id}/permissions"), &[]).await
    }

    /// Add a permission to a space.
    pub async fn add_space_permission(&self, space_key: &str, permission: &SpacePermission) -> Result<(), DestinationError> {
        let path = format!("/wiki/rest/api/space/{}/permission", path_segment(space_key));
        let response = self.send(Method::POST, self.url(&path), |r| r.json(permission)).await?;
        ok(Method::POST, &path, response).await.map(|_| ())
    }
}

impl Destination {
    /// The signed-in account and what it may do on Confluence, or `None` where the site
    /// has no Confluence.
    pub async fn current_user(&self) -> Result<Option<CurrentUser>, DestinationError> {
        self.json_or_none("/wiki/rest/api/user/current?expand=operations".to_string()).await
    }

    /// Whether the signed-in account administers Jira on this site (`ADMINISTER`), or
    /// `None` where the site has no Jira.
    pub async fn administers_jira(&self) -> Result<Option<bool>, DestinationError> {
        let answer: Option<MyPermissions> = self.json_or_none("/rest/api/3/mypermissions?permissions=ADMINISTER".to_string()).await?;
        Ok(answer.map(|a| a.permissions.get("ADMINISTER").is_some_and(|p| p.have_permission)))
    }
}

/// `text` percent-encoded for one path segment (a key supplied by a plugin's manifest
/// cannot add segments or a query).
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The staging site's administration endpoints (a real Cloud site is administered in its
/// own admin pages): the demo and the tests use them to set up a site.
impl Destination {
    /// Install a cloud app on a staging site.
    pub async fn admin_install_cloud_app(&self, key: &str) -> Result<CloudApp, DestinationError> {
        self.json(Method::PUT, self.url(&format!("/ferry/v1/admin/cloud-apps/{}", path_segment(key))), |r| r).await
    }

    /// Give a space of a staging site another key.
    pub async fn admin_rename_space(&self, key: &str, new_key: &str) -> Result<(), DestinationError> {
        let path = format!("/ferry/v1/admin/spaces/{}/rename", path_segment(key));
        let response = self.send(Method::POST, self.url(&path), |r| r.json(&SpaceRename { key: new_key.to_string() })).await?;
        ok(Method::POST, &path, response).await.map(drop)
    }
}
