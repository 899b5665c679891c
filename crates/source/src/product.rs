//! Product data: spaces, the page tree, bodies, comments and users.
//!
//! Current versions only (`prevver IS NULL`, `content_status = 'current'`): drafts, trash
//! and history are never returned. Users are resolved through `user_mapping` to the user
//! of the first directory in `cwd_app_dir_mapping.list_index` order; no credential
//! column is ever selected.

use std::collections::HashMap;

use futures_util::TryStreamExt;

use super::{Source, SourceError};

/// A space of the Server site.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpace {
    /// Database id.
    pub id: i64,
    /// Space key.
    pub key: String,
    /// Space name.
    pub name: String,
    /// `global` or `personal`.
    pub kind: String,
}

/// Page or blog post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// A page in the tree.
    Page,
    /// A blog post.
    Blogpost,
}

/// A node of a space's page tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// Content id.
    pub id: i64,
    /// Page or blog post.
    pub kind: ContentKind,
    /// Title.
    pub title: String,
    /// Parent page id.
    pub parent_id: Option<i64>,
    /// Position among siblings.
    pub position: Option<i32>,
}

/// A current comment.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerComment {
    /// Content id.
    pub id: i64,
    /// The comment it answers.
    pub parent_id: Option<i64>,
    /// The author's user key, when the author still exists.
    pub author_key: Option<String>,
    /// Storage-format body.
    pub body: String,
}

/// A user, resolved to the first directory that holds the username.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerUser {
    /// The stable user key.
    pub key: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email address as stored.
    pub email: Option<String>,
}

/// Current content only; `+prevver` as in `content.rs` (no index walk on `prevver`).
const CURRENT: &str = "+c.prevver IS NULL AND c.content_status = 'current'";

impl Source {
    /// Every current space, ordered by key.
    pub async fn spaces(&self) -> Result<Vec<ServerSpace>, SourceError> {
        let rows = self
            .query(
                "SELECT spaceid, spacekey, spacename, spacetype FROM spaces \
             WHERE spacestatus IS NULL OR spacestatus = 'CURRENT' ORDER BY spacekey",
            )
            .fetch_all()
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ServerSpace {
                    id: r.try_get("spaceid")?,
                    key: r.try_get("spacekey")?,
                    name: r.try_get::<Option<String>, _>("spacename")?.unwrap_or_default(),
                    kind: r.try_get::<Option<String>, _>("spacetype")?.unwrap_or_else(|| "global".into()),
                })
            })
            .collect()
    }

    /// Up to `limit` nodes of a space's tree with id greater than `after_id`, by id.
    pub async fn page_tree(&self, space_key: &str, after_id: Option<i64>, limit: u32) -> Result<Vec<TreeNode>, SourceError> {
        let sql = format!(
            "SELECT c.contentid, c.contenttype, c.title, c.parentid, c.child_position FROM content c \
             JOIN spaces s ON s.spaceid = c.spaceid \
             WHERE s.spacekey = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND {CURRENT} AND c.contentid > $2 \
             ORDER BY c.contentid LIMIT $3"
        );
        let mut rows = self.query(&sql).bind(space_key).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch();
        let mut nodes = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let kind: String = r.try_get("contenttype")?;
            nodes.push(TreeNode {
                id: r.try_get("contentid")?,
                kind: if kind == "BLOGPOST" { ContentKind::Blogpost } else { ContentKind::Page },
                title: r.try_get::<Option<String>, _>("title")?.unwrap_or_default(),
                parent_id: r.try_get("parentid")?,
                position: r.try_get::<Option<i32>, _>("child_position")?,
            });
        }
        Ok(nodes)
    }

    /// The space key of current page or blog post `content_id`, if there is one.
    pub async fn content_space(&self, content_id: i64) -> Result<Option<String>, SourceError> {
        let sql = format!(
            "SELECT s.spacekey FROM content c JOIN spaces s ON s.spaceid = c.spaceid \
             WHERE c.contentid = $1 AND c.contenttype IN ('PAGE', 'BLOGPOST') AND {CURRENT}"
        );
        let row = self.query(&sql).bind(content_id).fetch_optional().await?;
        Ok(row.map(|r| r.try_get("spacekey")).transpose()?)
    }

    /// The title of a page or blog post.
    pub async fn content_title(&self, content_id: i64) -> Result<Option<String>, SourceError> {
        let row = self.query("SELECT title FROM content WHERE contentid = $1").bind(content_id).fetch_optional().await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?.flatten())
    }

    /// What people call each of `ids` (content ids) and the key of its space: a page's or
    /// blog post's title, an attachment's file name, the title of what a comment is on.
    pub async fn content_names(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, (String, Option<String>)>, SourceError> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let params: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT c.contentid, COALESCE(c.title, p.title), COALESCE(s.spacekey, ps.spacekey, gs.spacekey) FROM content c \
                 LEFT JOIN content p ON p.contentid = c.pageid LEFT JOIN content g ON g.contentid = p.pageid \
                 LEFT JOIN spaces s ON s.spaceid = c.spaceid LEFT JOIN spaces ps ON ps.spaceid = p.spaceid LEFT JOIN spaces gs ON gs.spaceid = g.spaceid \
                 WHERE c.contentid IN ({})",
                params.join(", ")
            );
            let mut query = self.query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all().await? {
                let title: Option<String> = r.try_get(1)?;
                out.insert(r.try_get(0)?, (title.unwrap_or_default(), r.try_get(2)?));
            }
        }
        Ok(out)
    }

    /// The storage-format body of a current page or blog post.
    pub async fn body(&self, content_id: i64) -> Result<Option<String>, SourceError> {
        let row = self.query("SELECT body FROM bodycontent WHERE contentid = $1 AND bodytypeid = 2").bind(content_id).fetch_optional().await?;
        Ok(row.map(|r| r.try_get::<Option<String>, _>("body")).transpose()?.flatten())
    }

    /// The current comments of a page or blog post, oldest first. An author whose user
    /// key has no user behind it (a deleted user) comes back as `None`.
    pub async fn comments(&self, content_id: i64) -> Result<Vec<ServerComment>, SourceError> {
        let sql = format!(
            "SELECT c.contentid, c.parentcommentid, um.user_key, b.body FROM content c \
             LEFT JOIN bodycontent b ON b.contentid = c.contentid AND b.bodytypeid = 2 \
             LEFT JOIN user_mapping um ON um.user_key = c.creator AND um.lower_username IS NOT NULL \
             WHERE c.pageid = $1 AND c.contenttype = 'COMMENT' AND {CURRENT} ORDER BY c.contentid"
        );
        let rows = self.query(&sql).bind(content_id).fetch_all().await?;
        rows.iter()
            .map(|r| {
                Ok(ServerComment {
                    id: r.try_get("contentid")?,
                    parent_id: r.try_get("parentcommentid")?,
                    author_key: r.try_get("user_key")?,
                    body: r.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The users behind `keys`. Each username resolves to its user in the first
    /// directory of the order; keys with no user (deleted users) are left out.
    pub async fn users_by_key(&self, keys: &[String]) -> Result<Vec<ServerUser>, SourceError> {
        let mut found: HashMap<String, (i64, ServerUser)> = HashMap::new();
        for chunk in keys.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT um.user_key, u.user_name, u.display_name, u.email_address, COALESCE(m.list_index, 2147483647) AS dir_order \
                 FROM user_mapping um \
                 JOIN cwd_user u ON u.lower_user_name = um.lower_username \
                 LEFT JOIN cwd_app_dir_mapping m ON m.directory_id = u.directory_id \
                 WHERE um.user_key IN ({})",
                placeholders.join(", ")
            );
            let mut query = self.query(&sql);
            for key in chunk {
                query = query.bind(key);
            }
            for r in query.fetch_all().await? {
                let order: i64 = r.try_get::<i32, _>("dir_order").map(i64::from).or_else(|_| r.try_get::<i64, _>("dir_order"))?;
                let user = ServerUser {
                    key: r.try_get("user_key")?,
                    username: r.try_get("user_name")?,
                    display_name: r.try_get::<Option<String>, _>("display_name")?.unwrap_or_default(),
                    email: r.try_get("email_address")?,
                };
                match found.get(&user.key) {
                    Some((existing, _)) if *existing <= order => {}
                    _ => {
                        found.insert(user.key.clone(), (order, user));
                    }
                }
            }
        }
        let mut users: Vec<ServerUser> = found.into_values().map(|(_, u)| u).collect();
        users.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(users)
    }
}
