//! Jira Service Management over a Jira-Cloud-shaped REST API: accounts (customer or
//! full), customers, organizations, service projects and their service desks, requests.
//!
//! Every call that could make the site tell someone something carries
//! `notifyUsers=false`: a migration never notifies anybody. Every value set into a path
//! (a project key read from the source, an id) is percent-encoded as one segment.

use reqwest::Method;

use super::api::*;
use super::content::path_segment;
use super::{ok, Destination, DestinationError};

/// The query every create and membership change carries.
const QUIET: [(&str, &str); 1] = [("notifyUsers", "false")];

/// Items per page when listing.
const PAGE: u64 = 100;

impl Destination {
    /// Create a customer account (portal-only). `409` when an account of either type
    /// has the email.
    pub async fn create_customer(&self, email: &str, display_name: &str) -> Result<Account, DestinationError> {
        let body = NewCustomer { email: email.to_string(), display_name: display_name.to_string() };
        self.json(Method::POST, self.url("/rest/servicedeskapi/customer"), |r| r.query(&QUIET).json(&body)).await
    }

    /// Every account, customer or full, whose email is `email` (case-insensitive).
    pub async fn accounts_by_email(&self, email: &str) -> Result<Vec<Account>, DestinationError> {
        self.json(Method::GET, self.url("/rest/api/3/user/search"), |r| r.query(&[("query", email)])).await
    }

    /// The account `account_id`.
    pub async fn account(&self, account_id: &str) -> Result<Account, DestinationError> {
        self.json(Method::GET, self.url("/rest/api/3/user"), |r| r.query(&[("accountId", account_id)])).await
    }

    /// The site's Former customer: the one placeholder that requests and comments of
    /// deleted customers point to (inactive, no email, no login).
    pub async fn former_customer(&self) -> Result<Account, DestinationError> {
        self.json(Method::GET, self.url("/ferry/v1/former-customer"), |r| r).await
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
        let response = self.send(Method::POST, self.url(&path), |r| r.query(&QUIET).json(&body)).await?;
        ok(Method::POST, &path, response).await.map(|_| ())
    }

    /// The customers of a service desk.
    pub async fn service_desk_customers(&self, desk_id: &str) -> Result<Vec<Account>, DestinationError> {
        self.all_pages(&format!("/rest/servicedeskapi/servicedesk/{}/customer", path_segment(desk_id)), &[]).await
    }

    /// Create a request with its comments. Not repeated after a 5xx or a lost answer.
    pub async fn create_request(&self, request: &NewRequest) -> Result<CustomerRequest, DestinationError> {
        self.json_create(self.url("/rest/servicedeskapi/request"), |r| r.query(&QUIET).json(request)).await
    }

    /// A request by id or key.
    pub async fn request(&self, id_or_key: &str) -> Result<CustomerRequest, DestinationError> {
        self.json(Method::GET, self.url(&format!("/rest/servicedeskapi/request/{}", path_segment(id_or_key))), |r| r).await
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
            let response = self.send(Method::POST, self.url(path), |r| r.query(&QUIET).json(&body)).await?;
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
