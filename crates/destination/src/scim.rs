//! Users and groups over SCIM 2.0 (RFC 7643/7644).

use reqwest::Method;

use super::api::*;
use super::{ok, Destination, DestinationError};

/// A SCIM filter string literal (RFC 7644 §3.4.2.2): quotes and backslashes escaped.
fn literal(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Destination {
    /// The account whose `userName` is `email`, if any.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<ScimUser>, DestinationError> {
        let filter = format!("userName eq {}", literal(email));
        let list: ScimList<ScimUser> = self.json(Method::GET, self.scim_url("/Users")?, |r| r.query(&[("filter", filter.as_str())])).await?;
        Ok(list.resources.into_iter().find(|u| u.user_name.eq_ignore_ascii_case(email)))
    }

    /// Create an account; no invitation is sent.
    pub async fn create_user(&self, email: &str, display_name: &str, active: bool) -> Result<ScimUser, DestinationError> {
        let user = ScimUser {
            schemas: vec![SCIM_USER.into()],
            id: None,
            user_name: email.to_string(),
            name: Some(ScimName { formatted: Some(display_name.to_string()) }),
            display_name: Some(display_name.to_string()),
            emails: vec![ScimEmail { value: email.to_string(), primary: Some(true) }],
            active: Some(active),
            atlassian: None,
        };
        self.json(Method::POST, self.scim_url("/Users")?, |r| r.json(&user)).await
    }

    /// Activate or deactivate an account.
    pub async fn set_user_active(&self, id: &str, active: bool) -> Result<(), DestinationError> {
        let patch = ScimPatch {
            schemas: vec![SCIM_PATCH.into()],
            operations: vec![ScimPatchOp { op: "replace".into(), path: Some("active".into()), value: active.into() }],
        };
        let path = format!("/Users/{id}");
        let response = self.send(Method::PATCH, self.scim_url(&path)?, |r| r.json(&patch)).await?;
        ok(Method::PATCH, &path, response).await.map(|_| ())
    }

    /// The group named `name` (exact, case-insensitive), with its members, if any.
    pub async fn find_group(&self, name: &str) -> Result<Option<ScimGroup>, DestinationError> {
        let filter = format!("displayName eq {}", literal(name));
        let list: ScimList<ScimGroup> = self.json(Method::GET, self.scim_url("/Groups")?, |r| r.query(&[("filter", filter.as_str())])).await?;
        Ok(list.resources.into_iter().find(|g| g.display_name.eq_ignore_ascii_case(name)))
    }

    /// Create a group. After a 5xx or a lost answer it is looked for by name before the
    /// create is repeated.
    pub async fn create_group(&self, name: &str) -> Result<ScimGroup, DestinationError> {
        let group = ScimGroup { schemas: vec![SCIM_GROUP.into()], id: None, display_name: name.to_string(), members: vec![] };
        let url = self.scim_url("/Groups")?;
        self.create_looking_first(false, || self.find_group(name), || self.json_create(url.clone(), |r| r.json(&group))).await
    }

    /// Add accounts to a group.
    pub async fn add_group_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), DestinationError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let members: Vec<serde_json::Value> = user_ids.iter().map(|id| serde_json::json!({ "value": id })).collect();
        let patch = ScimPatch {
            schemas: vec![SCIM_PATCH.into()],
            operations: vec![ScimPatchOp { op: "add".into(), path: Some("members".into()), value: members.into() }],
        };
        let path = format!("/Groups/{group_id}");
        let response = self.send(Method::PATCH, self.scim_url(&path)?, |r| r.json(&patch)).await?;
        ok(Method::PATCH, &path, response).await.map(|_| ())
    }
}
