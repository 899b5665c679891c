//! Mapping namespaces of the core migration: the names under which server entities
//! are recorded with their cloud ids (plugins read some of them through the contract).

/// Users (`email/<addr>` and `confluence.userkey/<key>`) → their Atlassian account id.
pub const USER: &str = "identity:user";
/// Users (`email/<addr>`) → their id in the organisation's SCIM directory, which is not
/// an account id (internal to the core migration: group memberships are made with it).
pub const DIRECTORY_USER: &str = "identity:directory-user";
/// Groups, by lower-cased name.
pub const GROUP: &str = "identity:group";
/// Spaces, by key.
pub const SPACE: &str = "confluence:space";
/// Pages.
pub const PAGE: &str = "confluence:page";
/// Blog posts.
pub const BLOGPOST: &str = "confluence:blogpost";
/// Comments.
pub const COMMENT: &str = "confluence:comment";
/// Attachments.
pub const ATTACHMENT: &str = "confluence:attachment";
/// Attachments uploaded ahead of their page by an attachments-only plan, to their
/// space's holding page (internal to the core migration; plugins do not see it).
pub const MEDIA: &str = "ferry:attachment-media";
/// Pages, blog posts and comments (server id → cloud id) whose bodies still name
/// pages with no cloud id: each later plan rewrites them again (internal; plugins do
/// not see it).
pub const UNRESOLVED_BODY: &str = "ferry:unresolved-body";
/// Jira customers (`email/<addr>` and `jira.userkey/<key>`): customer accounts, or
/// the full account a portal-only user was linked to.
pub const CUSTOMER: &str = "identity:customer";
/// Customers linked to a full account (`email/<addr>` → the account).
pub const CUSTOMER_FULL: &str = "identity:customer-full-account";
/// Service Management organizations, by server id.
pub const ORGANIZATION: &str = "jsm:organization";
/// Jira projects, by key.
pub const PROJECT: &str = "jira:project";
/// Requests, by server issue id (container: the project key).
pub const REQUEST: &str = "jsm:request";
/// Request comments, by server action id (container: the project key).
pub const REQUEST_COMMENT: &str = "jsm:comment";
