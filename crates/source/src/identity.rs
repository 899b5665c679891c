//! Directories, users, groups and memberships of the Server site, for both products.
//! The rules over them (first directory wins, nested groups, union of memberships) are
//! the same; only a few tables differ:
//!
//! | | Confluence | Jira |
//! |---|---|---|
//! | directory order | `cwd_app_dir_mapping.list_index` | `cwd_directory.directory_position` |
//! | active flags | `'T'` / `'F'` | `1` / `0` |
//! | membership member | `child_user_id` or `child_group_id` | `child_id` with `membership_type` |
//! | user keys | `user_mapping` | `app_user` |
//!
//! Never selects `cwd_user.credential`, `cwd_application.credential` or
//! `cwd_user_credential_record`.

use futures_util::TryStreamExt;

use super::{Product, Source, SourceError};
use ferry_core::rules::{DirectoryGroup, DirectoryUser, Member};

impl Source {
    /// Active directories, in the order users are resolved in (first wins).
    pub async fn directory_order(&self) -> Result<Vec<i64>, SourceError> {
        let sql = match self.product() {
            Product::Confluence => {
                "SELECT m.directory_id FROM cwd_app_dir_mapping m JOIN cwd_directory d ON d.id = m.directory_id \
                 WHERE d.active = 'T' ORDER BY m.list_index, m.id"
            }
            Product::Jira => "SELECT CAST(id AS BIGINT) FROM cwd_directory WHERE active = 1 ORDER BY directory_position, id",
        };
        let rows = self.query(sql).fetch_all().await?;
        rows.iter().map(|r| r.try_get(0).map_err(SourceError::from)).collect()
    }

    /// Every user row of every directory, active or not (no credential).
    pub async fn directory_users(&self) -> Result<Vec<DirectoryUser>, SourceError> {
        // char(1) columns are read as VARCHAR: the Any driver has no PostgreSQL bpchar;
        // numeric(18,0) ones as BIGINT: it has no NUMERIC either.
        let sql = match self.product() {
            Product::Confluence => {
                "SELECT id, directory_id, user_name, display_name, email_address, \
                 CASE WHEN active = 'T' THEN 1 ELSE 0 END AS active FROM cwd_user"
            }
            Product::Jira => {
                "SELECT CAST(id AS BIGINT), CAST(directory_id AS BIGINT), user_name, display_name, email_address, \
                 CASE WHEN active = 1 THEN 1 ELSE 0 END AS active FROM cwd_user"
            }
        };
        let mut rows = self.query(sql).fetch();
        let mut users = Vec::new();
        while let Some(r) = rows.try_next().await? {
            users.push(DirectoryUser {
                id: r.try_get(0)?,
                directory_id: r.try_get(1)?,
                username: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                display_name: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                email: r.try_get(4)?,
                active: int(&r, 5)? == 1,
            });
        }
        users.retain(|u| !u.username.is_empty());
        Ok(users)
    }

    /// Every active group of every directory.
    pub async fn directory_groups(&self) -> Result<Vec<DirectoryGroup>, SourceError> {
        let sql = match self.product() {
            Product::Confluence => "SELECT id, directory_id, group_name FROM cwd_group WHERE active = 'T'",
            Product::Jira => "SELECT CAST(id AS BIGINT), CAST(directory_id AS BIGINT), group_name FROM cwd_group WHERE active = 1",
        };
        let rows = self.query(sql).fetch_all().await?;
        let mut groups = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(name) = r.try_get::<Option<String>, _>(2)? else { continue };
            groups.push(DirectoryGroup { id: r.try_get(0)?, directory_id: r.try_get(1)?, name });
        }
        Ok(groups)
    }

    /// Every membership: (group id, member).
    pub async fn memberships(&self) -> Result<Vec<(i64, Member)>, SourceError> {
        let sql = match self.product() {
            Product::Confluence => "SELECT parent_id, child_user_id, child_group_id FROM cwd_membership",
            Product::Jira => {
                "SELECT CAST(parent_id AS BIGINT), \
                 CAST(CASE WHEN membership_type = 'GROUP_USER' THEN child_id END AS BIGINT), \
                 CAST(CASE WHEN membership_type = 'GROUP_GROUP' THEN child_id END AS BIGINT) FROM cwd_membership"
            }
        };
        let mut rows = self.query(sql).fetch();
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let parent: i64 = r.try_get(0)?;
            match (r.try_get::<Option<i64>, _>(1)?, r.try_get::<Option<i64>, _>(2)?) {
                (Some(user), _) => out.push((parent, Member::User(user))),
                (None, Some(group)) => out.push((parent, Member::Group(group))),
                (None, None) => {}
            }
        }
        Ok(out)
    }

    /// The lower-cased username behind one user key, if it still has one.
    pub async fn username_of_key(&self, key: &str) -> Result<Option<String>, SourceError> {
        let sql = match self.product() {
            Product::Confluence => "SELECT lower_username FROM user_mapping WHERE user_key = $1 AND lower_username IS NOT NULL",
            Product::Jira => "SELECT lower_user_name FROM app_user WHERE user_key = $1 AND lower_user_name IS NOT NULL",
        };
        let row = self.query(sql).bind(key).fetch_optional().await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// user_key → lower-cased username, for keys that still have a username.
    pub async fn user_keys(&self) -> Result<Vec<(String, String)>, SourceError> {
        let mut keys = Vec::new();
        self.each_user_key(|key, name| keys.push((key, name))).await?;
        Ok(keys)
    }

    /// Each user key with its lower-cased username (keys that still have one), as the
    /// rows stream in: a large site's keys need not all be held to keep a few.
    pub async fn each_user_key(&self, mut each: impl FnMut(String, String)) -> Result<(), SourceError> {
        let sql = match self.product() {
            Product::Confluence => "SELECT user_key, lower_username FROM user_mapping WHERE lower_username IS NOT NULL",
            Product::Jira => "SELECT user_key, lower_user_name FROM app_user WHERE lower_user_name IS NOT NULL AND user_key IS NOT NULL",
        };
        let mut rows = self.query(sql).fetch();
        while let Some(r) = rows.try_next().await? {
            each(r.try_get(0)?, r.try_get(1)?);
        }
        Ok(())
    }
}

/// An integer column, whichever width the database gave it.
pub(crate) fn int(row: &crate::sql::Row, index: usize) -> Result<i64, sqlx::Error> {
    row.try_get::<i64, _>(index).or_else(|_| row.try_get::<i32, _>(index).map(i64::from))
}
