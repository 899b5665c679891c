//! Directories, users, groups and memberships of the Server site. Never selects
//! `cwd_user.credential`, `cwd_application.credential` or `cwd_user_credential_record`.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Source, SourceError};
use crate::migrate::rules::{DirectoryGroup, DirectoryUser, Member};

impl Source {
    /// Active directories in `cwd_app_dir_mapping.list_index` order.
    pub async fn directory_order(&self) -> Result<Vec<i64>, SourceError> {
        let rows = sqlx::query(
            "SELECT m.directory_id FROM cwd_app_dir_mapping m JOIN cwd_directory d ON d.id = m.directory_id \
             WHERE d.active = 'T' ORDER BY m.list_index, m.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| r.try_get(0).map_err(SourceError::from)).collect()
    }

    /// Every user row of every directory (no credential).
    pub async fn directory_users(&self) -> Result<Vec<DirectoryUser>, SourceError> {
        let mut rows = sqlx::query(
            // char(1) columns are read as VARCHAR: the Any driver has no PostgreSQL bpchar.
            "SELECT id, directory_id, user_name, display_name, email_address, CAST(active AS VARCHAR(1)) AS active FROM cwd_user",
        ).fetch(self.pool());
        let mut users = Vec::new();
        while let Some(r) = rows.try_next().await? {
            users.push(DirectoryUser {
                id: r.try_get(0)?,
                directory_id: r.try_get(1)?,
                username: r.try_get(2)?,
                display_name: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                email: r.try_get(4)?,
                active: r.try_get::<String, _>(5)? == "T",
            });
        }
        Ok(users)
    }

    /// Every active group of every directory.
    pub async fn directory_groups(&self) -> Result<Vec<DirectoryGroup>, SourceError> {
        let rows = sqlx::query("SELECT id, directory_id, group_name FROM cwd_group WHERE active = 'T'").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| Ok(DirectoryGroup { id: r.try_get(0)?, directory_id: r.try_get(1)?, name: r.try_get(2)? }))
            .collect()
    }

    /// Every membership: (group id, member).
    pub async fn memberships(&self) -> Result<Vec<(i64, Member)>, SourceError> {
        let mut rows = sqlx::query("SELECT parent_id, child_user_id, child_group_id FROM cwd_membership").fetch(self.pool());
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

    /// user_key → lower-cased username, for keys that still have a username.
    pub async fn user_keys(&self) -> Result<Vec<(String, String)>, SourceError> {
        let rows = sqlx::query("SELECT user_key, lower_username FROM user_mapping WHERE lower_username IS NOT NULL").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}
