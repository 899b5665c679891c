//! Spaces, pages, blog posts, comments, attachments, permissions and app data over the
//! Confluence-Cloud-shaped REST API.

use reqwest::multipart::{Form, Part};
use reqwest::Method;

use super::api::*;
use super::{ok, Destination, DestinationError};

/// The header that makes a create idempotent.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

impl Destination {
    /// The space with `key`, if it exists.
    pub async fn get_space(&self, key: &str) -> Result<Option<Space>, DestinationError> {
        self.json_or_none(format!("/wiki/rest/api/space/{}", path_segment(key))).await
    }

    /// Create a space. `key_of_origin` makes the create idempotent: a repeat (after a
    /// lost answer) returns the space created the first time.
    pub async fn create_space(&self, key: &str, name: &str, key_of_origin: &str) -> Result<Space, DestinationError> {
        let space = Space { id: None, key: key.to_string(), name: name.to_string() };
        self.json(Method::POST, self.url("/wiki/rest/api/space"), |r| r.header(IDEMPOTENCY_KEY, key_of_origin).json(&space)).await
    }

    /// Create a page (`blog = false`) or a blog post, idempotently per `key_of_origin`.
    /// A `private` one is created restricted (view and edit) to the account that creates
    /// it, so it is never visible to anyone else before its own restrictions are set.
    pub async fn create_content(&self, blog: bool, content: &NewContent, key_of_origin: &str, private: bool) -> Result<Created, DestinationError> {
        let path = if blog { "/wiki/api/v2/blogposts" } else { "/wiki/api/v2/pages" };
        let url = if private { self.url(&format!("{path}?private=true")) } else { self.url(path) };
        self.json(Method::POST, url, |r| r.header(IDEMPOTENCY_KEY, key_of_origin).json(content)).await
    }

    /// Add the next version of a page or blog post (`update.version.number` is the
    /// current number plus one). Ferry adds a page's versions in order, one at a time,
    /// after its create (itself idempotent), so a page that answers `409` (not the next
    /// number) already has this version: it landed before a lost answer or a crash, and
    /// the call is a success.
    pub async fn add_version(&self, blog: bool, id: i64, update: &ContentUpdate) -> Result<(), DestinationError> {
        let path = format!("/wiki/api/v2/{}/{id}", if blog { "blogposts" } else { "pages" });
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(update)).await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        ok(Method::PUT, &path, response).await.map(|_| ())
    }

    /// The versions of a page or blog post, oldest first.
    pub async fn versions(&self, blog: bool, id: i64) -> Result<VersionList, DestinationError> {
        self.json(Method::GET, self.url(&format!("/wiki/api/v2/{}/{id}/versions", if blog { "blogposts" } else { "pages" })), |r| r).await
    }

    /// Replace the body of a page's or blog post's current version, without a new version:
    /// the second pass of reference rewriting, once the pages it names have cloud ids (the
    /// history then reads as the server's).
    pub async fn replace_body(&self, id: i64, body: &Body) -> Result<(), DestinationError> {
        let path = format!("/ferry/v1/content/{id}/body");
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(body)).await?;
        ok(Method::PUT, &path, response).await.map(|_| ())
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
        self.json(Method::GET, self.url(&format!("/wiki/rest/api/content/{content_id}/restriction")), |r| r).await
    }

    /// Create a footer comment, idempotently per `key_of_origin`.
    pub async fn create_comment(&self, comment: &NewComment, key_of_origin: &str) -> Result<Created, DestinationError> {
        self.json(Method::POST, self.url("/wiki/api/v2/footer-comments"), |r| r.header(IDEMPOTENCY_KEY, key_of_origin).json(comment)).await
    }

    /// Create an inline comment, idempotently per `key_of_origin`: anchored to its marker
    /// in the page's body, or answering another inline comment.
    pub async fn create_inline_comment(&self, comment: &NewInlineComment, key_of_origin: &str) -> Result<Created, DestinationError> {
        self.json(Method::POST, self.url("/wiki/api/v2/inline-comments"), |r| r.header(IDEMPOTENCY_KEY, key_of_origin).json(comment)).await
    }

    /// Upload an attachment to a page or blog post.
    pub async fn upload_attachment(
        &self,
        content_id: i64,
        file_name: &str,
        media_type: &str,
        data: bytes::Bytes,
        key_of_origin: &str,
    ) -> Result<Created, DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/child/attachment");
        self.json(Method::POST, self.url(&path), |r| {
            let r = r.header(IDEMPOTENCY_KEY, key_of_origin);
            let part = Part::stream(data.clone())
                .file_name(file_name.to_string())
                .mime_str(media_type)
                .unwrap_or_else(|_| Part::stream(data.clone()).file_name(file_name.to_string()));
            r.header("X-Atlassian-Token", "nocheck").multipart(Form::new().part("file", part))
        })
        .await
    }

    /// Upload a file's bytes ahead of its page (attachments-only migrations): it waits,
    /// as media of the space, to be attached when the page migrates.
    pub async fn upload_media(
        &self,
        space_key: &str,
        file_name: &str,
        media_type: &str,
        data: bytes::Bytes,
        key_of_origin: &str,
    ) -> Result<Created, DestinationError> {
        self.json(Method::POST, self.url("/ferry/v1/media"), |r| {
            r.header(IDEMPOTENCY_KEY, key_of_origin)
                .query(&[("spaceKey", space_key), ("fileName", file_name)])
                .header("content-type", media_type)
                .body(data.clone())
        })
        .await
    }

    /// Attach media uploaded earlier to a page or blog post.
    pub async fn attach_media(&self, content_id: i64, media_id: i64, key_of_origin: &str) -> Result<Created, DestinationError> {
        let path = format!("/wiki/rest/api/content/{content_id}/child/attachment/from-media");
        let body = AttachMedia { media_id };
        self.json(Method::POST, self.url(&path), |r| r.header(IDEMPOTENCY_KEY, key_of_origin).json(&body)).await
    }

    /// Delete media whose file was deleted on the server since it was uploaded.
    pub async fn delete_media(&self, media_id: i64) -> Result<(), DestinationError> {
        let path = format!("/ferry/v1/media/{media_id}");
        let response = self.send(Method::DELETE, self.url(&path), |r| r).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        ok(Method::DELETE, &path, response).await.map(|_| ())
    }

    /// Delete an attachment (a link to a file deleted on the server since).
    pub async fn delete_attachment(&self, attachment_id: i64) -> Result<(), DestinationError> {
        let path = format!("/wiki/rest/api/content/{attachment_id}");
        let response = self.send(Method::DELETE, self.url(&path), |r| r).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        ok(Method::DELETE, &path, response).await.map(|_| ())
    }

    /// Add a permission to a space.
    pub async fn add_space_permission(&self, space_key: &str, permission: &SpacePermission) -> Result<(), DestinationError> {
        let path = format!("/wiki/rest/api/space/{}/permission", path_segment(space_key));
        let response = self.send(Method::POST, self.url(&path), |r| r.json(permission)).await?;
        ok(Method::POST, &path, response).await.map(|_| ())
    }

    /// Upload a blob of app data under `label` for an app transfer.
    pub async fn upload_app_data(&self, transfer_id: &str, label: &str, data: bytes::Bytes) -> Result<(), DestinationError> {
        let path = format!("/ferry/v1/transfers/{transfer_id}/app-data");
        let response = self
            .send(Method::POST, self.url(&path), |r| r.query(&[("label", label)]).header("content-type", "application/octet-stream").body(data.clone()))
            .await?;
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
