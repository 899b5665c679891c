//! Jira Service Management over a Jira-Cloud-shaped REST API: accounts (customer or
//! full), customers, organizations, service projects and their service desks, requests.
//!
//! A migration notifies nobody: requests are raised by the signed-in account (so no
//! customer is told), commented while it is still their reporter, and only then given
//! their reporter and participants by an issue edit with `notifyUsers=false` (Jira's one
//! documented way to change an issue silently; it takes an admin). Every value set into
//! a path (a project key read from the source, an id) is percent-encoded as one segment.

use reqwest::Method;

use super::api::*;
use super::content::path_segment;
use super::{ok, Destination, DestinationError};

/// What a Jira entity property belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JiraEntity {
    /// An issue (a request).
    Issue,
    /// An issue's comment.
    Comment,
    /// A project.
    Project,
}

impl JiraEntity {
    fn property_path(self, id_or_key: &str, key: &str) -> String {
        let collection = match self {
            JiraEntity::Issue => "issue",
            JiraEntity::Comment => "comment",
            JiraEntity::Project => "project",
        };
        format!("/rest/api/3/{collection}/{}/properties/{}", path_segment(id_or_key), path_segment(key))
    }
}

/// Items per page when listing.
const PAGE: u64 = 100;

impl Destination {
    /// Create a customer account (portal-only). `409` when an account of either type
    /// has the email (`strictConflictStatusCode`: without it the site answers 400). A
    /// repeat after a lost answer meets that 409, and the account is found by email.
    pub async fn create_customer(&self, email: &str, display_name: &str) -> Result<Account, DestinationError> {
        let body = NewCustomer { email: email.to_string(), display_name: display_name.to_string() };
        self.json(Method::POST, self.url("/rest/servicedeskapi/customer"), |r| r.query(&[("strictConflictStatusCode", "true")]).json(&body)).await
    }

    /// Every account, customer or full, whose email is `email` (case-insensitive).
    pub async fn accounts_by_email(&self, email: &str) -> Result<Vec<Account>, DestinationError> {
        self.json(Method::GET, self.url("/rest/api/3/user/search"), |r| r.query(&[("query", email)])).await
    }

    /// The account `account_id`.
    pub async fn account(&self, account_id: &str) -> Result<Account, DestinationError> {
        self.json(Method::GET, self.url("/rest/api/3/user"), |r| r.query(&[("accountId", account_id)])).await
    }

    /// Every organization.
    pub async fn organizations(&self) -> Result<Vec<Organization>, DestinationError> {
        self.all_pages("/rest/servicedeskapi/organization", &[]).await
    }

    /// Create an organization. `409` when one has the name.
    pub async fn create_organization(&self, name: &str) -> Result<Organization, DestinationError> {
        let body = Organization { id: String::new(), name: name.to_string() };
        self.json(Method::POST, self.url("/rest/servicedeskapi/organization"), |r| r.json(&body)).await
    }

    /// Add accounts to an organization (members already in it stay).
    pub async fn add_organization_members(&self, organization_id: &str, account_ids: &[String]) -> Result<(), DestinationError> {
        let path = format!("/rest/servicedeskapi/organization/{}/user", path_segment(organization_id));
        self.post_accounts(&path, account_ids).await
    }

    /// The members of an organization.
    pub async fn organization_members(&self, organization_id: &str) -> Result<Vec<Account>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/organization/{}/user", path_segment(organization_id)), &[]).await
    }

    /// A request's participants.
    pub async fn request_participants(&self, id_or_key: &str) -> Result<Vec<Account>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/request/{}/participant", path_segment(id_or_key)), &[]).await
    }

    /// The project with `key`, if there is one.
    pub async fn project(&self, key: &str) -> Result<Option<Project>, DestinationError> {
        self.json_or_none(format!("/rest/api/3/project/{}", path_segment(key))).await
    }

    /// Create a project (a service project gets its service desk). `409` when the key is
    /// taken. Not repeated after a 5xx or a lost answer: look for it by key.
    pub async fn create_project(&self, project: &NewProject) -> Result<Project, DestinationError> {
        self.json_create(self.url("/rest/api/3/project"), |r| r.json(project)).await
    }

    /// Every service desk.
    pub async fn service_desks(&self) -> Result<Vec<ServiceDesk>, DestinationError> {
        self.all_pages("/rest/servicedeskapi/servicedesk", &[]).await
    }

    /// Add customers to a service desk.
    pub async fn add_service_desk_customers(&self, desk_id: &str, account_ids: &[String]) -> Result<(), DestinationError> {
        self.post_accounts(&format!("/rest/servicedeskapi/servicedesk/{}/customer", path_segment(desk_id)), account_ids).await
    }

    /// Add an organization to a service desk.
    pub async fn add_service_desk_organization(&self, desk_id: &str, organization_id: &str) -> Result<(), DestinationError> {
        let path = format!("/rest/servicedeskapi/servicedesk/{}/organization", path_segment(desk_id));
        let body = OrganizationRef { organization_id: organization_id.to_string() };
        let response = self.send(Method::POST, self.url(&path), |r| r.json(&body)).await?;
        ok(Method::POST, &path, response).await.map(|_| ())
    }

    /// The customers of a service desk.
    pub async fn service_desk_customers(&self, desk_id: &str) -> Result<Vec<Account>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/servicedesk/{}/customer", path_segment(desk_id)), &[]).await
    }

    /// The request types of a service desk.
    pub async fn request_types(&self, desk_id: &str) -> Result<Vec<RequestType>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/servicedesk/{}/requesttype", path_segment(desk_id)), &[]).await
    }

    /// Create a request, raised by the signed-in account. Not repeated after a 5xx or a
    /// lost answer: look for it ([`Destination::own_requests`]).
    pub async fn create_request(&self, request: &NewRequest) -> Result<CustomerRequest, DestinationError> {
        self.json_create(self.url("/rest/servicedeskapi/request"), |r| r.json(request)).await
    }

    /// The requests of a service desk the signed-in account created whose text matches
    /// `search` (the site's own search of summaries and descriptions).
    pub async fn own_requests(&self, desk_id: &str, search: &str) -> Result<Vec<CustomerRequest>, DestinationError> {
        let query = [("serviceDeskId", desk_id), ("searchTerm", search), ("requestOwnership", "OWNED_REQUESTS")];
        self.all_pages("/rest/servicedeskapi/request", &query).await
    }

    /// Add a comment to a request, by the signed-in account. Not repeated after a 5xx or
    /// a lost answer: look for it among the request's comments.
    pub async fn add_request_comment(&self, id_or_key: &str, comment: &NewRequestComment) -> Result<RequestComment, DestinationError> {
        self.json_create(self.url(&format!("/rest/servicedeskapi/request/{}/comment", path_segment(id_or_key))), |r| r.json(comment)).await
    }

    /// A property of an issue, a comment or a project, if it has it.
    pub async fn entity_property<T: serde::de::DeserializeOwned>(&self, entity: JiraEntity, id_or_key: &str, key: &str) -> Result<Option<T>, DestinationError> {
        let found: Option<EntityProperty<T>> = self.json_or_none(entity.property_path(id_or_key, key)).await?;
        Ok(found.map(|p| p.value))
    }

    /// Set a property of an issue, a comment or a project (a repeat sets the same value).
    pub async fn set_entity_property<T: serde::Serialize>(&self, entity: JiraEntity, id_or_key: &str, key: &str, value: &T) -> Result<(), DestinationError> {
        let path = entity.property_path(id_or_key, key);
        let response = self.send(Method::PUT, self.url(&path), |r| r.json(value)).await?;
        ok(Method::PUT, &path, response).await.map(drop)
    }

    /// Change an issue's fields without telling anyone (`notifyUsers=false`).
    pub async fn edit_issue_quietly(&self, id_or_key: &str, edit: &IssueEdit) -> Result<(), DestinationError> {
        let path = format!("/rest/api/3/issue/{}", path_segment(id_or_key));
        let response = self.send(Method::PUT, self.url(&path), |r| r.query(&[("notifyUsers", "false")]).json(edit)).await?;
        ok(Method::PUT, &path, response).await.map(drop)
    }

    /// Every field of the site.
    pub async fn fields(&self) -> Result<Vec<Field>, DestinationError> {
        self.json(Method::GET, self.url("/rest/api/3/field"), |r| r).await
    }

    /// The transitions an issue can take now.
    pub async fn transitions(&self, id_or_key: &str) -> Result<Vec<Transition>, DestinationError> {
        let path = format!("/rest/api/3/issue/{}/transitions", path_segment(id_or_key));
        let found: Transitions = self.json(Method::GET, self.url(&path), |r| r).await?;
        Ok(found.transitions)
    }

    /// Take a transition.
    pub async fn transition(&self, id_or_key: &str, transition_id: &str) -> Result<(), DestinationError> {
        let path = format!("/rest/api/3/issue/{}/transitions", path_segment(id_or_key));
        let body = DoTransition { transition: TransitionRef { id: transition_id.to_string() } };
        let response = self.send_create(Method::POST, self.url(&path), |r| r.json(&body)).await?;
        ok(Method::POST, &path, response).await.map(drop)
    }

    /// A request by id or key.
    pub async fn request(&self, id_or_key: &str) -> Result<CustomerRequest, DestinationError> {
        self.json(Method::GET, self.url(&format!("/rest/servicedeskapi/request/{}", path_segment(id_or_key))), |r| r).await
    }

    /// A request by id or key, or `None` when the site has no such one.
    pub async fn request_if_any(&self, id_or_key: &str) -> Result<Option<CustomerRequest>, DestinationError> {
        self.json_or_none(format!("/rest/servicedeskapi/request/{}", path_segment(id_or_key))).await
    }

    /// The requests of a service desk, by id.
    pub async fn requests(&self, desk_id: &str) -> Result<Vec<CustomerRequest>, DestinationError> {
        self.all_pages("/rest/servicedeskapi/request", &[("serviceDeskId", desk_id)]).await
    }

    /// The comments of a request, oldest first, internal ones included.
    pub async fn request_comments(&self, id_or_key: &str) -> Result<Vec<RequestComment>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/request/{}/comment", path_segment(id_or_key)), &[]).await
    }

    /// Every notification the site sent or would have sent (the staging site's record;
    /// a migration must leave it empty).
    pub async fn notifications(&self) -> Result<Vec<Notification>, DestinationError> {
        self.json(Method::GET, self.url("/ferry/v1/review/notifications"), |r| r).await
    }

    /// POST `{accountIds}` to `path`, quietly, in chunks the site accepts.
    async fn post_accounts(&self, path: &str, account_ids: &[String]) -> Result<(), DestinationError> {
        for chunk in account_ids.chunks(50) {
            let body = AccountIds { account_ids: chunk.to_vec() };
            let response = self.send(Method::POST, self.url(path), |r| r.json(&body)).await?;
            ok(Method::POST, path, response).await?;
        }
        Ok(())
    }

    /// Every item of a paged Service Management list.
    async fn all_pages<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<T>, DestinationError> {
        let mut out = Vec::new();
        let mut start = 0u64;
        loop {
            let (s, l) = (start.to_string(), PAGE.to_string());
            let page: Paged<T> = self.json(Method::GET, self.url(path), |r| r.query(query).query(&[("start", s.as_str()), ("limit", l.as_str())])).await?;
            let got = page.values.len() as u64;
            out.extend(page.values);
            if page.is_last_page || got == 0 {
                return Ok(out);
            }
            start += got;
        }
    }
}
