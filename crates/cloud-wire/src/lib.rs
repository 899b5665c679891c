//! The wire types of the destination API (see `docs/destination-api.md`), shared by the
//! client and the staging site so the two cannot drift apart.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// SCIM core User schema URN.
pub const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// SCIM core Group schema URN.
pub const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// SCIM list response URN.
pub const SCIM_LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// SCIM PATCH URN.
pub const SCIM_PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM user (RFC 7643 §4.1), the fields ferry uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// Schema URNs.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Cloud id (set by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The email address: ferry's identity for a user.
    pub user_name: String,
    /// Name parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ScimName>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<ScimEmail>,
    /// Whether the account is active.
    #[serde(default)]
    pub active: Option<bool>,
    /// Atlassian's extension: the Atlassian account the directory user is (read-only; a
    /// SCIM `id` is the directory's own and is not an account id).
    #[serde(rename = "urn:scim:schemas:extension:atlassian-external:1.0", default, skip_serializing_if = "Option::is_none")]
    pub atlassian: Option<AtlassianExtension>,
}

/// The `urn:scim:schemas:extension:atlassian-external:1.0` part of a SCIM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AtlassianExtension {
    /// The Atlassian account id: what Confluence and Jira name the person by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atlassian_account_id: Option<String>,
}

/// The SCIM schema URN of Atlassian's extension.
pub const SCIM_ATLASSIAN: &str = "urn:scim:schemas:extension:atlassian-external:1.0";

impl ScimUser {
    /// The Atlassian account id the directory names for this user, if it names one.
    pub fn account_id(&self) -> Option<&str> {
        self.atlassian.as_ref()?.atlassian_account_id.as_deref().filter(|id| !id.is_empty())
    }
}

/// SCIM name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScimName {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
}

/// SCIM email.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScimEmail {
    /// Address.
    pub value: String,
    /// Primary address.
    #[serde(default)]
    pub primary: Option<bool>,
}

/// A SCIM group (RFC 7643 §4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroup {
    /// Schema URNs.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Cloud id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Group name.
    pub display_name: String,
    /// Members (user ids).
    #[serde(default)]
    pub members: Vec<ScimMember>,
}

/// A SCIM group member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScimMember {
    /// The member's id.
    pub value: String,
}

/// A SCIM list response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimList<T> {
    /// Schema URNs.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Total matches.
    pub total_results: u64,
    /// The page of resources.
    #[serde(rename = "Resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

/// A SCIM PATCH request (RFC 7644 §3.5.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimPatch {
    /// Schema URNs.
    pub schemas: Vec<String>,
    /// Operations.
    #[serde(rename = "Operations")]
    pub operations: Vec<ScimPatchOp>,
}

/// One PATCH operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimPatchOp {
    /// `add`, `replace` or `remove` (any case).
    pub op: String,
    /// The attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// A space, as created and returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Space {
    /// Cloud id (returned: a number by v1, a string by v2).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "string_id::option")]
    pub id: Option<i64>,
    /// Space key.
    pub key: String,
    /// Space name.
    pub name: String,
}

/// A storage-format body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Body {
    /// Always `storage`.
    pub representation: String,
    /// The XHTML.
    pub value: String,
}

/// Ids that Confluence's v2 API writes as JSON strings (`"spaceId": "98310"`) while Ferry
/// keeps them as numbers: written as strings, read from a string or a number.
pub mod string_id {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(i64),
    }

    fn parse<E: serde::de::Error>(either: Either) -> Result<i64, E> {
        match either {
            Either::Number(n) => Ok(n),
            Either::Text(s) => s.trim().parse().map_err(|_| E::custom(format!("id {s:?} is not a number"))),
        }
    }

    /// Write an id as a string.
    pub fn serialize<S: Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_string())
    }

    /// Read an id from a string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        parse(Either::deserialize(d)?)
    }

    /// An optional attachment id, which v2 writes with an `att` prefix (`"att98310"`):
    /// written so, read with or without it.
    pub mod attachment {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Write an optional attachment id as `att<id>` (or null).
        pub fn serialize<S: Serializer>(id: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => s.serialize_str(&format!("att{id}")),
                None => s.serialize_none(),
            }
        }

        /// Read an optional attachment id from `att<id>`, a numeric string, a number or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            let either = Option::<super::Either>::deserialize(d)?;
            either
                .map(|e| match e {
                    super::Either::Text(s) => super::parse(super::Either::Text(s.trim().strip_prefix("att").unwrap_or(s.trim()).to_string())),
                    number => super::parse(number),
                })
                .transpose()
        }
    }

    /// An attachment id as v1 answers it (`"att98310"`): read with or without the
    /// prefix, written with it.
    pub mod attachment_id {
        use serde::{Deserializer, Serializer};

        /// Write an attachment id as `att<id>`.
        pub fn serialize<S: Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format!("att{id}"))
        }

        /// Read an attachment id from `att<id>`, a numeric string or a number.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
            super::attachment::deserialize(d)?.ok_or_else(|| serde::de::Error::custom("an attachment id is required"))
        }
    }

    /// The same for an optional id.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Write an optional id as a string (or null).
        pub fn serialize<S: Serializer>(id: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => s.serialize_str(&id.to_string()),
                None => s.serialize_none(),
            }
        }

        /// Read an optional id from a string, a number or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Option::<super::Either>::deserialize(d)?.map(super::parse).transpose()
        }
    }
}

/// A page or blog post to create (`/wiki/api/v2/pages`, `/wiki/api/v2/blogposts`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewContent {
    /// The cloud space id.
    #[serde(with = "string_id")]
    pub space_id: i64,
    /// `current`.
    pub status: String,
    /// Title.
    pub title: String,
    /// The cloud id of the parent page (pages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub parent_id: Option<i64>,
    /// The body.
    pub body: Body,
}

/// A version of a page or blog post as a `PUT` adds it: its number (the current one plus
/// one) and its message. Who saved it and when are the signed-in account and now: the
/// public API sets neither (the original ones are in the version's message and the
/// entity's [`Origin`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageVersion {
    /// Its number, from 1.
    pub number: i64,
    /// Its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A version as `GET .../versions` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SavedVersion {
    /// Its number, from 1.
    pub number: i64,
    /// Its message.
    #[serde(default)]
    pub message: Option<String>,
    /// The account that saved it.
    #[serde(default)]
    pub author_id: Option<String>,
    /// When it was saved (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A new version of a page or blog post (`PUT /wiki/api/v2/pages/{id}`): its title,
/// body and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContentUpdate {
    /// The page's cloud id, as text.
    pub id: String,
    /// `current`.
    pub status: String,
    /// The title of this version.
    pub title: String,
    /// The body of this version.
    pub body: Body,
    /// The version: number and message.
    pub version: PageVersion,
}

/// A new version of a footer or inline comment (`PUT /wiki/api/v2/{footer|inline}-comments/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommentUpdate {
    /// The version: the current number plus one, and a message.
    pub version: PageVersion,
    /// The new body.
    pub body: Body,
}

/// The versions of a page or blog post, oldest first (`GET .../versions`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionList {
    /// The versions.
    pub results: Vec<SavedVersion>,
}

/// An inline comment to create (`/wiki/api/v2/inline-comments`): on a page or blog post,
/// anchored to the marker (`<ac:inline-comment-marker ac:ref="…">`) around its highlighted
/// text in the page's body; a reply names the comment it answers instead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewInlineComment {
    /// The page it is on (a top-level comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub page_id: Option<i64>,
    /// The blog post it is on (a top-level comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub blog_post_id: Option<i64>,
    /// The comment it answers (a reply has no anchor of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub parent_comment_id: Option<i64>,
    /// The body.
    pub body: Body,
    /// Where it sits (top-level inline comments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_comment_properties: Option<InlineProperties>,
}

/// Where a new inline comment is highlighted: the text, and which of its occurrences on
/// the page (the site puts its own marker there).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InlineProperties {
    /// The text to highlight.
    pub text_selection: String,
    /// How many times the page's text has it.
    pub text_selection_match_count: usize,
    /// Which occurrence, from zero (less than the count).
    pub text_selection_match_index: usize,
}

/// A footer comment to create (`/wiki/api/v2/footer-comments`): on a page (`pageId`), a
/// blog post (`blogPostId`), or an attachment (`attachmentId`, a file comment); a reply
/// names the comment it answers (`parentCommentId`) instead. Exactly one is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewComment {
    /// The page it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub page_id: Option<i64>,
    /// The blog post it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub blog_post_id: Option<i64>,
    /// The attachment it is on (a file comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::attachment")]
    pub attachment_id: Option<i64>,
    /// The comment it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(with = "string_id::option")]
    pub parent_comment_id: Option<i64>,
    /// The body.
    pub body: Body,
}

/// A label to add to a page, blog post or attachment (Confluence Cloud's shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewLabel {
    /// Always `global` (personal labels do not migrate).
    pub prefix: String,
    /// The label.
    pub name: String,
}

impl ContentSummary {
    /// Its storage-format body, when the answer has one.
    pub fn storage_body(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.storage.as_ref()).map(|b| b.value.as_str())
    }
}

/// A label as the v2 lists of a page's or blog post's labels answer it
/// (`GET /wiki/api/v2/{pages|blogposts}/{id}/labels`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabelSummary {
    /// The label.
    pub name: String,
    /// `global`, `my` or `team`.
    #[serde(default)]
    pub prefix: String,
}

/// One permission of a space as v2 lists them (`GET /wiki/api/v2/spaces/{id}/permissions`):
/// who (`principal`) may do what (`operation`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpacePermissionAssignment {
    /// Who: `user` (an account id, or `anonymous`), `group` (a group id) or `role`.
    pub principal: Principal,
    /// What.
    pub operation: AssignedOperation,
}

/// Whom a space permission is given to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Principal {
    /// `user`, `group` or `role`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// What a space permission allows: an operation on a kind of target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AssignedOperation {
    /// `read`, `create`, `delete`, `administer`, ...
    pub key: String,
    /// `space`, `page`, `blogpost`, `comment`, `attachment`, ...
    pub target_type: String,
}

/// A Confluence site's product-access group, present on every site.
pub const PRODUCT_ACCESS_GROUP: &str = "confluence-users";

/// The Service Management product-access group (agents), present on every site.
pub const JSM_ACCESS_GROUP: &str = "jira-servicedesk-users";

/// The group of a cloud site's administrators: a restriction none of whose users or
/// groups exists in the cloud allows this group only (never everyone).
pub const SITE_ADMINS_GROUP: &str = "site-admins";

/// The restrictions of one operation on a page or blog post, in the shape of Confluence
/// Cloud's content restrictions (`/wiki/rest/api/content/{id}/restriction`): `read` (who
/// may see it; inherited by its descendants) or `update` (who may edit it). A page with no
/// entry for an operation is unrestricted for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentRestriction {
    /// `read` or `update`.
    pub operation: String,
    /// Who is allowed.
    pub restrictions: RestrictionSubjects,
}

/// The restrictions of a page as v1 answers them (`ContentRestrictionArray`): each
/// operation's users and groups in lists of their own (`UserArray`, `GroupArray`).
#[derive(Debug, Clone, Deserialize)]
pub struct RestrictionArray {
    /// One entry per operation.
    pub results: Vec<RestrictionAnswer>,
}

/// One operation's restriction as v1 answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct RestrictionAnswer {
    /// `read` or `update`.
    pub operation: String,
    /// Who is allowed.
    #[serde(default)]
    pub restrictions: RestrictionLists,
}

/// The users and groups of an answered restriction.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestrictionLists {
    /// The accounts.
    #[serde(default)]
    pub user: OffsetPage<RestrictedUser>,
    /// The groups.
    #[serde(default)]
    pub group: OffsetPage<RestrictedGroup>,
}

impl From<RestrictionArray> for Vec<ContentRestriction> {
    fn from(answer: RestrictionArray) -> Self {
        answer
            .results
            .into_iter()
            .map(|r| ContentRestriction {
                operation: r.operation,
                restrictions: RestrictionSubjects { user: r.restrictions.user.results, group: r.restrictions.group.results },
            })
            .collect()
    }
}

/// The users and groups a restriction allows (an empty list is left out, as the API
/// asks).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RestrictionSubjects {
    /// Accounts allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<RestrictedUser>,
    /// Groups allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<RestrictedGroup>,
}

/// An account named by a restriction: written `{"type": "known", "accountId": …}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RestrictedUser {
    /// The cloud account id.
    #[serde(rename = "accountId")]
    pub account_id: String,
}

impl Serialize for RestrictedUser {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "known")?;
        map.serialize_entry("accountId", &self.account_id)?;
        map.end()
    }
}

/// A group named by a restriction: written `{"type": "group", "id": …}` (the API asks for
/// the group's id ahead of the name's deprecation); answers carry both.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RestrictedGroup {
    /// The group's id (Confluence's, a UUID).
    #[serde(default)]
    pub id: String,
    /// The group's name (in answers).
    #[serde(default)]
    pub name: Option<String>,
}

impl Serialize for RestrictedGroup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "group")?;
        map.serialize_entry("id", &self.id)?;
        map.end()
    }
}

/// What a create returns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Created {
    /// The new cloud id.
    #[serde(with = "string_id")]
    pub id: i64,
}

/// Attachments as v1 answers them (`GET` and `POST .../child/attachment`: a content
/// array), the fields Ferry reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentList {
    /// The attachments.
    pub results: Vec<AttachmentSummary>,
    /// How many are in this answer.
    #[serde(default)]
    pub size: i64,
}

/// An attachment in a v1 answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentSummary {
    /// Its id.
    #[serde(with = "string_id::attachment_id")]
    pub id: i64,
    /// Always `attachment`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its file name.
    pub title: String,
    /// Its size in bytes, where the answer gives it (v2 does).
    #[serde(default, rename = "fileSize", skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
}

/// The content property in which a migrated page, blog post or comment keeps where it
/// came from: the public API creates everything as the signed-in account, now.
pub const ORIGIN_PROPERTY: &str = "ferry-origin";

/// A content property to create (`POST /wiki/api/v2/{pages|blogposts|footer-comments|
/// inline-comments}/{id}/properties`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewProperty<T> {
    /// Its key.
    pub key: String,
    /// Its value (any JSON).
    pub value: T,
}

/// A content property as the site lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Property<T> {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: T,
}

/// Where a migrated entity came from (the value of its [`ORIGIN_PROPERTY`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// The Server site (its identity, e.g. `confluence:<server id>`).
    pub site: String,
    /// `page`, `blogpost` or `comment`.
    pub kind: String,
    /// Its content id on the Server site.
    pub server_id: String,
    /// Who created it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<OriginPerson>,
    /// When it was created there, as the server stored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who saved its current version there (pages and blog posts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modifier: Option<OriginPerson>,
    /// When its current version was saved there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// How many versions it had there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<i64>,
    /// Its key there (a request's `SD-12`; the cloud gives it a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Its status there (a request's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The comment of its first version there (a create takes no version message; later
    /// versions carry theirs in their messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_version_comment: Option<String>,
}

impl Origin {
    /// The origin of `kind` entity `server_id` of Server site `site`, naming nothing else
    /// yet.
    pub fn of(site: &str, kind: &str, server_id: impl ToString) -> Origin {
        Origin {
            site: site.to_string(),
            kind: kind.to_string(),
            server_id: server_id.to_string(),
            creator: None,
            created: None,
            last_modifier: None,
            last_modified: None,
            versions: None,
            key: None,
            status: None,
            first_version_comment: None,
        }
    }

    /// Whether `other` is the origin of the same entity (site, kind, server id).
    pub fn same_entity(&self, other: &Origin) -> bool {
        self.site == other.site && self.kind == other.kind && self.server_id == other.server_id
    }
}

/// A person of the Server site, as an [`Origin`] names them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OriginPerson {
    /// Their user key on the Server site.
    pub user_key: String,
    /// Their username there, when the site still has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Their cloud account, or none: a former user (no account in the cloud; the entity
    /// is the migrating account's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// A page or blog post as `GET /wiki/api/v2/{pages|blogposts}` and the space's lists
/// answer it (the fields Ferry reads).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContentSummary {
    /// Its id.
    #[serde(with = "string_id")]
    pub id: i64,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// Who created it.
    #[serde(default)]
    pub author_id: Option<String>,
    /// Its current version.
    #[serde(default)]
    pub version: Option<VersionNumber>,
    /// Its body, when asked for (`body-format=storage`).
    #[serde(default)]
    pub body: Option<BodyFormats>,
    /// The page it is under (pages only; a string id, as v2 answers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The comment a reply answers (comments only), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_comment_id: Option<String>,
}

/// The bodies an answer carries, by format.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BodyFormats {
    /// The storage format.
    #[serde(default)]
    pub storage: Option<Body>,
}

/// A comment as the v2 comment lists answer it (the fields Ferry reads).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommentSummary {
    /// Its id.
    #[serde(with = "string_id")]
    pub id: i64,
    /// Its version: who wrote it.
    #[serde(default)]
    pub version: Option<CommentVersion>,
}

/// The version of a comment in a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CommentVersion {
    /// The account that wrote it.
    #[serde(default)]
    pub author_id: Option<String>,
}

/// A version number in an answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionNumber {
    /// The number.
    pub number: i64,
}

/// A page of a v2 list: its results and, while more follow, the link to the next page
/// (`_links.next`, a path with a `cursor`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CursorPage<T> {
    /// The results.
    pub results: Vec<T>,
    /// Links.
    #[serde(default, rename = "_links")]
    pub links: CursorLinks,
}

/// The links of a v2 list page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CursorLinks {
    /// The next page, relative to the site (`/wiki/api/v2/...?cursor=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A space permission to add (`/wiki/rest/api/space/{key}/permission`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpacePermission {
    /// Who.
    pub subject: PermissionSubject,
    /// What.
    pub operation: PermissionOperation,
}

/// The subject of a permission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PermissionSubject {
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A user's account id (or `anonymous`: anyone, signed in or not); a group's id (its
    /// name is still taken, but deprecated).
    pub identifier: String,
}

/// What the API calls the anonymous user in a permission's subject.
pub const ANONYMOUS: &str = "anonymous";

impl PermissionSubject {
    /// Anyone, signed in or not: a user subject named `anonymous`.
    pub fn anonymous() -> PermissionSubject {
        PermissionSubject { kind: "user".into(), identifier: ANONYMOUS.into() }
    }

    /// Whether this is the anonymous user.
    pub fn is_anonymous(&self) -> bool {
        self.kind == "user" && self.identifier == ANONYMOUS
    }
}

/// The operation of a space permission, as the Cloud API names it: `read` `space`,
/// `create` `page`, `delete` `attachment`, `restrict_content` `space`, ...
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PermissionOperation {
    /// `create`, `read`, `delete`, `export`, `administer`, `archive` or `restrict_content`.
    pub key: String,
    /// `space`, `page`, `blogpost`, `comment` or `attachment`.
    pub target: String,
}

impl PermissionOperation {
    /// The combinations the API takes.
    pub fn is_valid(&self) -> bool {
        matches!(
            (self.key.as_str(), self.target.as_str()),
            ("create", "page" | "blogpost" | "comment" | "attachment")
                | ("read", "space")
                | ("delete", "page" | "blogpost" | "comment" | "attachment" | "space")
                | ("export", "space")
                | ("administer", "space")
                | ("archive", "page")
                | ("restrict_content", "space")
        )
    }
}

/// An error body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub message: String,
}

/// An attachment as v2 answers it: its version, and what it is on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentVersion {
    /// Its version.
    pub version: VersionRef,
    /// The page it is on.
    #[serde(default, with = "string_id::option")]
    pub page_id: Option<i64>,
    /// The blog post it is on.
    #[serde(default, with = "string_id::option")]
    pub blog_post_id: Option<i64>,
}

/// A version number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionRef {
    /// The number.
    pub number: i64,
}

/// v1's attachment properties update, as a move (`AttachmentPropertiesUpdateBody`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttachmentMove {
    /// `att<n>`.
    pub id: String,
    /// `attachment`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its file name there.
    pub title: String,
    /// The next version.
    pub version: MoveVersion,
    /// Where it goes.
    pub container: MoveContainer,
}

/// The version of an attachment update.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MoveVersion {
    /// The next number.
    pub number: i64,
    /// No notification.
    pub minor_edit: bool,
    /// Now (RFC 3339).
    pub when: String,
}

/// The page or blog post an attachment moves to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MoveContainer {
    /// Its id.
    pub id: String,
    /// `page` or `blogpost`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// What `GET /wiki/rest/api/settings/systemInfo` answers: proof that the site answers
/// and accepts the token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    /// The site's id.
    pub cloud_id: String,
    /// The site's base URL as it sees itself.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// What `GET /_edge/tenant_info` of a site answers, signed in or not: its cloud id, for
/// reaching it through the API gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// The site's cloud id.
    pub cloud_id: String,
}

/// The signed-in account (`GET /wiki/rest/api/user/current?expand=operations`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    /// `known`, `unknown`, `anonymous` or `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The Atlassian account id.
    #[serde(default)]
    pub account_id: Option<String>,
    /// The email address, where the account's privacy settings show it.
    #[serde(default)]
    pub email: Option<String>,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// What the account may do on the site (with `expand=operations`).
    #[serde(default)]
    pub operations: Option<Vec<Operation>>,
}

impl CurrentUser {
    /// Whether the account administers Confluence on this site (`administer` on
    /// `application`).
    pub fn administers(&self) -> bool {
        self.operations.iter().flatten().any(|o| o.operation == "administer" && o.target_type == "application")
    }
}

/// One operation an account may perform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// E.g. `administer`, `create`, `use`.
    pub operation: String,
    /// E.g. `application`, `space`, `page`.
    pub target_type: String,
}

/// What `GET /rest/api/3/mypermissions?permissions=ADMINISTER` answers: each permission
/// asked for and whether the signed-in account has it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct MyPermissions {
    /// Permission key → what the site says of it.
    pub permissions: std::collections::BTreeMap<String, MyPermission>,
}

/// One permission of [`MyPermissions`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MyPermission {
    /// The permission key, e.g. `ADMINISTER`.
    pub key: String,
    /// Whether the account has it.
    pub have_permission: bool,
}

/// An app installed on the Cloud site (`GET /rest/atlassian-connect/1/addons/{key}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloudApp {
    /// The cloud app key.
    pub key: String,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
}

/// A new key for a space (the staging site's admin endpoint).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpaceRename {
    /// The new key.
    pub key: String,
}

// ---------------------------------------------------------------------------------
// Jira Service Management (see the Service Management part of `docs/destination-api.md`).

/// `accountType` of a full (Atlassian) account: it can hold product access.
pub const ACCOUNT_FULL: &str = "atlassian";
/// `accountType` of a customer account: portal-only.
pub const ACCOUNT_CUSTOMER: &str = "customer";

/// An account as Jira Cloud shows it (`/rest/api/3/user`, `/rest/servicedeskapi/customer`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account id.
    pub account_id: String,
    /// `atlassian` (a full account) or `customer`: in the platform API's answers only
    /// (`/rest/api/3/user…`); Service Management's answers have none (empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_type: String,
    /// The email, when the account has one (the Former customer placeholder has none).
    #[serde(default)]
    pub email_address: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Whether it is active (the placeholder is not, and cannot log in).
    pub active: bool,
}

/// A customer to create (`POST /rest/servicedeskapi/customer`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomer {
    /// Email: the identity.
    pub email: String,
    /// Display name.
    pub display_name: String,
}

/// Accounts to add to an organization or a service desk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountIds {
    /// The account ids.
    pub account_ids: Vec<String>,
}

/// A page of a Service Management list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    /// The first item's index.
    pub start: u64,
    /// Items asked for.
    pub limit: u64,
    /// Items in this page.
    pub size: u64,
    /// Whether no page follows.
    pub is_last_page: bool,
    /// The items.
    pub values: Vec<T>,
}

/// A customer organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Organization {
    /// Its id (set by the site; not sent on create).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Its name, unique on the site.
    pub name: String,
}

/// An organization to add to a service desk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRef {
    /// The organization's id (a number on the wire, as Service Management documents it).
    #[serde(with = "numeric_text")]
    pub organization_id: String,
}

/// An id Ferry keeps as text that an API writes as a JSON number: written as a number
/// when it is one, read from a number or a string.
pub mod numeric_text {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the id as a number when it is one.
    pub fn serialize<S: Serializer>(id: &str, s: S) -> Result<S::Ok, S::Error> {
        match id.parse::<i64>() {
            Ok(n) => s.serialize_i64(n),
            Err(_) => s.serialize_str(id),
        }
    }

    /// Read the id from a number or a string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(i64),
        }
        Ok(match Either::deserialize(d)? {
            Either::Text(t) => t,
            Either::Number(n) => n.to_string(),
        })
    }
}

/// A project to create (`POST /rest/api/3/project`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewProject {
    /// The key (`SD`).
    pub key: String,
    /// The name.
    pub name: String,
    /// `service_desk` (a service project gets a service desk).
    pub project_type_key: String,
    /// The lead, when the lead has an account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_account_id: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Its id (a string in a project's answer, a number in a create's).
    #[serde(deserialize_with = "text_or_number")]
    pub id: String,
    /// Its key.
    pub key: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its type.
    #[serde(default)]
    pub project_type_key: String,
}

/// A service desk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDesk {
    /// Its id.
    pub id: String,
    /// Its project's id.
    pub project_id: String,
    /// Its project's key.
    pub project_key: String,
    /// Its project's name.
    #[serde(default)]
    pub project_name: String,
}

/// The fields of a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestFields {
    /// Summary.
    pub summary: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A request to create (`POST /rest/servicedeskapi/request`): raised by the signed-in
/// account (no `raiseOnBehalfOf`, so no customer is told), its reporter and participants
/// set afterwards without notification ([`IssueEdit`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewRequest {
    /// The service desk.
    pub service_desk_id: String,
    /// Its request type.
    pub request_type_id: String,
    /// Summary and description.
    pub request_field_values: RequestFields,
    /// The reporter's account, when raised on a customer's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_on_behalf_of: Option<String>,
    /// Participants' accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_participants: Vec<String>,
}

/// A request type of a service desk (`GET .../servicedesk/{id}/requesttype`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestType {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A comment to add to a request (`POST /rest/servicedeskapi/request/{key}/comment`), by
/// the signed-in account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewRequestComment {
    /// The text.
    pub body: String,
    /// Shared with the customer (true) or internal (false).
    pub public: bool,
}

/// A change to an issue's fields (`PUT /rest/api/3/issue/{key}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IssueEdit {
    /// Field id → value.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A field of the site (`GET /rest/api/3/field`), the parts Ferry reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Field {
    /// Its id (`summary`, `customfield_10010`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

/// A field's type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FieldSchema {
    /// The custom field type (`com.atlassian.servicedesk:sd-request-participants`).
    #[serde(default)]
    pub custom: Option<String>,
}

/// The custom field type of a request's participants.
pub const PARTICIPANTS_FIELD_TYPE: &str = "com.atlassian.servicedesk:sd-request-participants";

/// The transitions an issue can take now (`GET /rest/api/3/issue/{key}/transitions`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Transitions {
    /// The transitions.
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// A transition and the status it leads to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Transition {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it leads.
    pub to: StatusRef,
}

/// A status by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusRef {
    /// Its name.
    pub name: String,
}

/// A transition to take (`POST /rest/api/3/issue/{key}/transitions`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DoTransition {
    /// Which.
    pub transition: TransitionRef,
}

/// A transition by id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransitionRef {
    /// Its id.
    pub id: String,
}

/// An entity property as Jira answers it (`GET .../properties/{key}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntityProperty<T> {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: T,
}

/// A request as the site answers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRequest {
    /// Its id.
    pub issue_id: String,
    /// Its key.
    pub issue_key: String,
    /// Its service desk.
    pub service_desk_id: String,
    /// Summary and description (answered as a list of `{fieldId, label, value}`).
    #[serde(with = "field_values")]
    pub request_field_values: RequestFields,
    /// The reporter.
    pub reporter: Account,
    /// The status name.
    pub current_status: RequestStatus,
    /// When it was created (answered as a date object; its `iso8601`).
    #[serde(default, with = "date_dto")]
    pub created_date: Option<String>,
    /// Participants.
    #[serde(default)]
    pub request_participants: Vec<Account>,
}

/// A request's status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestStatus {
    /// The status name.
    pub status: String,
}

/// A comment as the site answers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestComment {
    /// Its id.
    pub id: String,
    /// The body.
    pub body: String,
    /// Shared with the customer.
    pub public: bool,
    /// The author.
    pub author: Account,
    /// When it was written (answered as a date object; its `iso8601`).
    #[serde(default, with = "date_dto")]
    pub created: Option<String>,
}

/// An id Jira writes as a string in one answer and a number in another.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::Text(t) => t,
        Either::Number(n) => n.to_string(),
    })
}

/// Service Management's dates (`DateDTO`): `{iso8601, jira, friendly, epochMillis}`;
/// only the ISO 8601 form is kept (a bare string is read too).
pub mod date_dto {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DateDto {
        iso8601: String,
        #[serde(default)]
        jira: String,
        #[serde(default)]
        friendly: String,
        #[serde(default)]
        epoch_millis: i64,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Dto(DateDto),
        Text(String),
    }

    /// Write an optional RFC 3339 time as a date object (`epoch_millis` from `at`).
    pub fn serialize<S: Serializer>(at: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(iso) => {
                DateDto { iso8601: iso.clone(), jira: iso.clone(), friendly: iso.clone(), epoch_millis: super::epoch_millis(iso).unwrap_or(0) }.serialize(s)
            }
            None => s.serialize_none(),
        }
    }

    /// Read a date object (or a string) as its ISO 8601 form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
            Either::Dto(dto) => dto.iso8601,
            Either::Text(t) => t,
        }))
    }
}

/// Milliseconds since 1970 of an RFC 3339 time (`2024-04-01T08:15:00.000Z`, an offset
/// allowed), if it reads as one.
pub fn epoch_millis(iso: &str) -> Option<i64> {
    let (date, rest) = iso.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let split = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(split);
    let mut hms = clock.split(':');
    let (h, min) = (hms.next()?.parse::<i64>().ok()?, hms.next()?.parse::<i64>().ok()?);
    let seconds: f64 = hms.next().unwrap_or("0").parse().ok()?;
    let offset = match zone.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let (oh, om) = zone[1..].split_once(':').unwrap_or((&zone[1..3.min(zone.len())], "0"));
            let minutes = oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?;
            if sign == '+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + (min - offset) * 60) as f64 * 1000.0 + seconds * 1000.0).round() as i64)
}

/// A request's field values as Service Management answers them: a list of
/// `{fieldId, label, value}` (an object of values is read too).
pub mod field_values {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::RequestFields;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FieldValue {
        field_id: String,
        #[serde(default)]
        label: String,
        #[serde(default)]
        value: serde_json::Value,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<FieldValue>),
        Fields(RequestFields),
    }

    /// Write summary and description as the field list.
    pub fn serialize<S: Serializer>(fields: &RequestFields, s: S) -> Result<S::Ok, S::Error> {
        let mut list = vec![FieldValue { field_id: "summary".into(), label: "Summary".into(), value: fields.summary.clone().into() }];
        if let Some(description) = &fields.description {
            list.push(FieldValue { field_id: "description".into(), label: "Description".into(), value: description.clone().into() });
        }
        list.serialize(s)
    }

    /// Read summary and description from the field list.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RequestFields, D::Error> {
        Ok(match Either::deserialize(d)? {
            Either::Fields(fields) => fields,
            Either::List(list) => {
                let text = |id: &str| list.iter().find(|f| f.field_id == id).and_then(|f| f.value.as_str().map(str::to_string));
                RequestFields { summary: text("summary").unwrap_or_default(), description: text("description") }
            }
        })
    }
}

/// A notification the site sent (or would have): what the staging site records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notification {
    /// What caused it (`customer.created`, `request.created`, ...).
    pub event: String,
    /// Whom it was for (an account id, or a request key).
    pub recipient: String,
}

#[cfg(test)]
mod string_id_tests {
    use super::*;

    #[test]
    fn service_management_dates_and_field_values_are_read_and_written_as_answered() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(epoch_millis("2024-04-01T08:15:00.000Z"), Some(1_711_959_300_000));
        assert_eq!(epoch_millis("2024-04-01T10:15:00.500+02:00"), Some(1_711_959_300_500));
        let comment: RequestComment = serde_json::from_value(serde_json::json!({
            "id": "7", "body": "hi", "public": true,
            "author": {"accountId": "a", "displayName": "A", "active": true},
            "created": {"iso8601": "2024-04-01T08:15:00+0000", "jira": "x", "friendly": "Today", "epochMillis": 1}
        }))
        .unwrap();
        assert_eq!(comment.created.as_deref(), Some("2024-04-01T08:15:00+0000"));
        let written = serde_json::to_value(&comment).unwrap();
        assert_eq!(written["created"]["iso8601"], "2024-04-01T08:15:00+0000");
        let fields = RequestFields { summary: "Printer".into(), description: Some("Jammed".into()) };
        let listed = serde_json::json!([{"fieldId": "summary", "label": "Summary", "value": "Printer"}, {"fieldId": "description", "label": "Description", "value": "Jammed"}]);
        assert_eq!(field_values::serialize(&fields, serde_json::value::Serializer).unwrap(), listed);
        assert_eq!(field_values::deserialize(listed).unwrap(), fields);
    }

    #[test]
    fn restrictions_are_written_with_their_types_and_without_empty_lists() {
        let only_users = RestrictionSubjects { user: vec![RestrictedUser { account_id: "5b10".into() }], group: vec![] };
        let json = serde_json::to_value(&only_users).unwrap();
        assert_eq!(json, serde_json::json!({"user": [{"type": "known", "accountId": "5b10"}]}));
        let groups = RestrictionSubjects { user: vec![], group: vec![RestrictedGroup { id: "6c0f-1".into(), name: Some("eng".into()) }] };
        assert_eq!(serde_json::to_value(&groups).unwrap(), serde_json::json!({"group": [{"type": "group", "id": "6c0f-1"}]}));
        assert_eq!(serde_json::from_value::<RestrictionSubjects>(json).unwrap(), only_users);
    }

    #[test]
    fn v2_ids_are_written_as_strings_and_read_from_either() {
        let comment = NewComment {
            page_id: Some(42),
            attachment_id: None,
            parent_comment_id: None,
            blog_post_id: None,
            body: Body { representation: "storage".into(), value: String::new() },
        };
        let json = serde_json::to_value(&comment).unwrap();
        assert_eq!(json["pageId"], "42");
        assert!(json.get("parentCommentId").is_none());
        let created: Created = serde_json::from_str(r#"{"id": "7"}"#).unwrap();
        assert_eq!(created.id, 7);
        let created: Created = serde_json::from_str(r#"{"id": 8}"#).unwrap();
        assert_eq!(created.id, 8);
        assert!(serde_json::from_str::<Created>(r#"{"id": "att9"}"#).is_err());
        let on_file = NewComment { page_id: None, attachment_id: Some(9), ..comment.clone() };
        let file_json = serde_json::to_value(&on_file).unwrap();
        assert_eq!(file_json["attachmentId"], "att9");
        assert_eq!(serde_json::from_value::<NewComment>(file_json).unwrap(), on_file);
        let back: NewComment = serde_json::from_value(json).unwrap();
        assert_eq!(back, comment);
    }
}

/// A site group as Confluence's group API names it (`/wiki/rest/api/group…`), or Jira's
/// (`/rest/api/3/group…`, whose id is `groupId`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SiteGroup {
    /// Its id (a UUID).
    #[serde(alias = "groupId")]
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A group to create (`POST /wiki/rest/api/group`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewSiteGroup {
    /// Its name.
    pub name: String,
}

/// An account to add to a group (`POST /wiki/rest/api/group/userByGroupId`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountRef {
    /// The account id.
    pub account_id: String,
}

/// A page of a Jira platform list (`{startAt, maxResults, isLast, values}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraPage<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    /// Whether no page follows.
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// A v1 offset list (`{results, start, limit, size}`).
#[derive(Debug, Clone, Deserialize)]
pub struct OffsetPage<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    /// Where this page starts.
    #[serde(default)]
    pub start: u64,
    /// How many it has.
    #[serde(default)]
    pub size: u64,
    /// The most a page has.
    #[serde(default)]
    pub limit: u64,
}

impl<T> Default for OffsetPage<T> {
    fn default() -> Self {
        OffsetPage { results: Vec::new(), start: 0, size: 0, limit: 0 }
    }
}
