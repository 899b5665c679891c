//! Groups and memberships through a product's group API, for a site whose organisation
//! has no user-provisioning directory (a site's groups serve all its products; the API is
//! the plan's product's, see [`GroupApi`]):
//! - Confluence: `GET /wiki/rest/api/group/picker`, `POST /wiki/rest/api/group`,
//!   `GET /wiki/rest/api/group/{groupId}/membersByGroupId`,
//!   `POST /wiki/rest/api/group/userByGroupId`;
//! - Jira: `GET /rest/api/3/group/bulk?groupName=`, `POST /rest/api/3/group`,
//!   `GET /rest/api/3/group/member?groupId=`, `POST /rest/api/3/group/user?groupId=`.

use reqwest::Method;

use super::api::*;
use super::{ok, Destination, DestinationError, GroupApi};

/// Items a v1 list page asks for.
const LIMIT: u64 = 200;

impl Destination {
    /// The id of the group named `name`: the directory's group when users are provisioned
    /// through one, else the site's own.
    pub async fn group_id_named(&self, name: &str) -> Result<Option<String>, DestinationError> {
        Ok(match self.has_directory() {
            true => self.find_group(name).await?.map(|g| g.id.unwrap_or_default()),
            false => self.site_group(name).await?.map(|g| g.id),
        })
    }

    /// The site group named `name` (exact, case-insensitive), if any.
    pub async fn site_group(&self, name: &str) -> Result<Option<SiteGroup>, DestinationError> {
        if self.groups == GroupApi::Jira {
            // Jira finds a group by its exact name.
            let page: JiraPage<SiteGroup> = self.json(Method::GET, self.url("/rest/api/3/group/bulk"), |r| r.query(&[("groupName", name)])).await?;
            return Ok(page.values.into_iter().find(|g| g.name.eq_ignore_ascii_case(name)));
        }
        let mut start = 0u64;
        loop {
            let (s, l) = (start.to_string(), LIMIT.to_string());
            let page: OffsetPage<SiteGroup> = self
                .json(Method::GET, self.url("/wiki/rest/api/group/picker"), |r| r.query(&[("query", name), ("start", s.as_str()), ("limit", l.as_str())]))
                .await?;
            if let Some(found) = page.results.iter().find(|g| g.name.eq_ignore_ascii_case(name)) {
                return Ok(Some(found.clone()));
            }
            if page.results.is_empty() || page.size < page.limit.max(1) {
                return Ok(None);
            }
            start += page.size;
        }
    }

    /// Create a site group. After a 5xx or a lost answer it is looked for by name before
    /// the create is repeated.
    pub async fn create_site_group(&self, name: &str) -> Result<SiteGroup, DestinationError> {
        let group = NewSiteGroup { name: name.to_string() };
        let path = match self.groups {
            GroupApi::Confluence => "/wiki/rest/api/group",
            GroupApi::Jira => "/rest/api/3/group",
        };
        self.create_looking_first(false, || self.site_group(name), || self.json_create(self.url(path), |r| r.json(&group))).await
    }

    /// The account ids of a site group's members.
    pub async fn site_group_members(&self, group_id: &str) -> Result<Vec<String>, DestinationError> {
        if self.groups == GroupApi::Jira {
            return self.jira_group_members(group_id).await;
        }
        let path = format!("/wiki/rest/api/group/{}/membersByGroupId", crate::content::path_segment(group_id));
        let mut members = Vec::new();
        let mut start = 0u64;
        loop {
            let (s, l) = (start.to_string(), LIMIT.to_string());
            let page: OffsetPage<AccountRef> = self.json(Method::GET, self.url(&path), |r| r.query(&[("start", s.as_str()), ("limit", l.as_str())])).await?;
            let got = page.results.len() as u64;
            members.extend(page.results.into_iter().map(|a| a.account_id));
            if got == 0 || got < page.limit.max(1) {
                return Ok(members);
            }
            start += got;
        }
    }

    /// Add an account to a site group (one account a request, as the API takes them).
    pub async fn add_to_site_group(&self, group_id: &str, account_id: &str) -> Result<(), DestinationError> {
        let path = match self.groups {
            GroupApi::Confluence => "/wiki/rest/api/group/userByGroupId",
            GroupApi::Jira => "/rest/api/3/group/user",
        };
        let body = AccountRef { account_id: account_id.to_string() };
        let response = self.send(Method::POST, self.url(path), |r| r.query(&[("groupId", group_id)]).json(&body)).await?;
        ok(Method::POST, path, response).await.map(|_| ())
    }

    /// The account ids of a group's members, through Jira (`startAt`/`maxResults` to the
    /// page that `isLast`).
    async fn jira_group_members(&self, group_id: &str) -> Result<Vec<String>, DestinationError> {
        const MAX_RESULTS: u64 = 50;
        let mut members = Vec::new();
        let mut start = 0u64;
        loop {
            let (s, m) = (start.to_string(), MAX_RESULTS.to_string());
            let query = [("groupId", group_id), ("includeInactiveUsers", "true"), ("startAt", s.as_str()), ("maxResults", m.as_str())];
            let page: JiraPage<AccountRef> = self.json(Method::GET, self.url("/rest/api/3/group/member"), |r| r.query(&query)).await?;
            let got = page.values.len() as u64;
            members.extend(page.values.into_iter().map(|a| a.account_id));
            if got == 0 || page.is_last.unwrap_or(got < MAX_RESULTS) {
                return Ok(members);
            }
            start += got;
        }
    }
}
