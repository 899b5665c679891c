//! `ferry verify` of a Jira Service Management plan: each organization the plan migrated
//! (there, its name, its members), each service project's customers (every requester
//! with an account is a customer of its service desk), and each request (there, its
//! summary, description, reporter, participants, status and comments in order with
//! their visibility).

use std::collections::{HashMap, HashSet};

use ferry_source::ServerProject;

use super::{Chosen, Difference, Verification};
use crate::{ns, Migrator};

/// Requests read from the server at a time.
const REQUEST_BATCH: u32 = 200;

impl Migrator {
    /// Compare what a Jira plan migrated with the server (see the module's comment).
    pub(super) async fn verify_jira(&mut self, chosen: &Chosen, out: &mut Verification) -> anyhow::Result<()> {
        self.load_known_people().await?;
        let scope = self.jira_scope().await?;
        let organizations = scope.organizations_in_scope(self.plan.customers);
        self.verify_organizations(&organizations, chosen, out).await?;
        // Customers by user key (agents are not a desk's customers).
        let mut customers: HashMap<String, String> = HashMap::new();
        let prefix = self.user_key_id("");
        self.maps
            .each_with_prefix(ns::CUSTOMER, &prefix, |key, account| {
                customers.insert(key.to_string(), account);
            })
            .await?;
        let desks: HashMap<String, String> = self.dest.service_desks().await?.into_iter().map(|d| (d.project_key.to_uppercase(), d.id)).collect();
        let step = self.progress.step("verify", 0);
        for project in &scope.projects {
            if self.maps.get(ns::PROJECT, &project.key).await?.is_none() {
                continue;
            }
            let differ = |what: String| Difference {
                kind: "projects".into(),
                server_id: project.key.clone(),
                title: project.name.clone(),
                cloud_id: None,
                link: None,
                what,
                likely: "cloud".into(),
            };
            let Some(desk) = desks.get(&project.key.to_uppercase()) else {
                out.differences.push(differ("the project (or its service desk) is not in the cloud".into()));
                continue;
            };
            let requesters = self.source.related_people(project).await?.requesters;
            let in_desk: HashSet<String> = self.dest.service_desk_customers(desk).await?.into_iter().map(|a| a.account_id).collect();
            for key in requesters.iter().filter(|k| chosen.keeps("customers", k)) {
                let Some(account) = customers.get(key) else { continue };
                *out.checked.entry("customers".into()).or_default() += 1;
                if !in_desk.contains(account) {
                    let name = self.source.username_of_key(key).await?.unwrap_or_else(|| key.clone());
                    out.differences.push(Difference {
                        kind: "customers".into(),
                        server_id: key.clone(),
                        title: name,
                        cloud_id: Some(account.clone()),
                        link: None,
                        what: format!("not a customer of {}'s service desk in the cloud, though they raised or joined its requests on the server", project.key),
                        likely: "cloud".into(),
                    });
                }
            }
            self.verify_requests(project, chosen, &step, out).await?;
        }
        step.finish();
        Ok(())
    }

    /// Each organization the plan migrated: there, under its name, with the members
    /// the server gives it that have accounts (the cloud's may have more).
    async fn verify_organizations(
        &mut self,
        organizations: &[ferry_source::ServerOrganization],
        chosen: &Chosen,
        out: &mut Verification,
    ) -> anyhow::Result<()> {
        let mapped = self.maps.preload(ns::ORGANIZATION, None).await?;
        if !organizations.iter().any(|o| mapped.contains_key(&o.id.to_string())) {
            return Ok(());
        }
        let cloud: HashMap<String, String> = self.dest.organizations().await?.into_iter().map(|o| (o.id, o.name)).collect();
        for org in organizations {
            let Some(id) = mapped.get(&org.id.to_string()) else { continue };
            if !chosen.keeps("organizations", org.id) {
                continue;
            }
            *out.checked.entry("organizations".into()).or_default() += 1;
            let differ = |what: String| Difference {
                kind: "organizations".into(),
                server_id: org.id.to_string(),
                title: org.name.clone(),
                cloud_id: Some(id.clone()),
                link: None,
                what,
                likely: "cloud".into(),
            };
            match cloud.get(id) {
                None => {
                    out.differences.push(differ("it is not in the cloud (deleted since it migrated)".into()));
                    continue;
                }
                Some(name) if !name.trim().eq_ignore_ascii_case(org.name.trim()) => {
                    out.differences.push(differ(format!("it is named {name:?} in the cloud")));
                }
                Some(_) => {}
            }
            let members: HashSet<String> = self.dest.organization_members(id).await?.into_iter().map(|a| a.account_id).collect();
            let missing: Vec<&String> = org.members.iter().filter(|k| self.authors.get(*k).cloned().flatten().is_some_and(|a| !members.contains(&a))).collect();
            if !missing.is_empty() {
                out.differences.push(differ(format!("{} of its members on the server are not members in the cloud (user keys {missing:?})", missing.len())));
            }
        }
        Ok(())
    }

    /// Each request of `project` with a cloud copy: there, with the summary, description,
    /// reporter, status and comments the migration gave it.
    async fn verify_requests(&mut self, project: &ServerProject, chosen: &Chosen, step: &crate::progress::Step, out: &mut Verification) -> anyhow::Result<()> {
        let mapped = self.maps.preload(ns::REQUEST, Some(&project.key)).await?;
        let mut after = None;
        loop {
            let batch = self.source.requests(project, after, REQUEST_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            step.set_length(step.length() + batch.len() as u64);
            for request in &batch {
                step.inc(1);
                let Some(cloud) = mapped.get(&request.id.to_string()) else { continue };
                if !chosen.keeps("requests", request.id) || request.too_long.is_some() {
                    continue;
                }
                *out.checked.entry("requests".into()).or_default() += 1;
                let (key, differences) = self.request_differences(request, cloud, out).await?;
                for what in differences {
                    out.differences.push(Difference {
                        kind: "requests".into(),
                        server_id: request.key.clone(),
                        title: request.summary.clone(),
                        cloud_id: Some(key.clone().unwrap_or_else(|| cloud.clone())),
                        link: key.as_deref().map(|k| self.request_link(k)),
                        what,
                        likely: "cloud".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// How one request differs in the cloud (`cloud`: its issue id), in words, with its
    /// cloud key when it is there.
    async fn request_differences(
        &mut self,
        request: &ferry_source::ServerRequest,
        cloud: &str,
        out: &mut Verification,
    ) -> anyhow::Result<(Option<String>, Vec<String>)> {
        let Some(found) = self.dest.request_if_any(cloud).await? else {
            return Ok((None, vec!["it is not in the cloud (deleted since it migrated)".into()]));
        };
        let mut differences = Vec::new();
        if found.request_field_values.summary != request.summary {
            differences.push(format!("its summary is {:?} in the cloud", found.request_field_values.summary));
        }
        let text = |d: &Option<String>| d.as_deref().map(str::trim).unwrap_or_default().to_string();
        if text(&found.request_field_values.description) != text(&request.description) {
            differences.push("its description differs".into());
        }
        if let Some(reporter) = request.reporter.as_ref().and_then(|k| self.authors.get(k).cloned().flatten()) {
            if found.reporter.account_id != reporter {
                differences.push(format!("its reporter is account {} in the cloud, {reporter} as migrated", found.reporter.account_id));
            }
        }
        let expected: Vec<String> = request.participants.iter().filter_map(|k| self.authors.get(k).cloned().flatten()).collect();
        if !expected.is_empty() {
            let there: HashSet<String> = self.dest.request_participants(&found.issue_key).await?.into_iter().map(|a| a.account_id).collect();
            let missing: Vec<&String> = expected.iter().filter(|a| !there.contains(*a)).collect();
            if !missing.is_empty() {
                differences.push(format!("its participants in the cloud lack accounts {missing:?}"));
            }
        }
        let status = &found.current_status.status;
        // A status the workflow could not reach is what the migration reported; one it
        // can reach from here was changed since (or not set).
        if !status.eq_ignore_ascii_case(&request.status)
            && self.dest.transitions(&found.issue_key).await?.iter().any(|t| t.to.name.eq_ignore_ascii_case(&request.status))
        {
            differences.push(format!("its status is {status:?} in the cloud, {:?} on the server", request.status));
        }
        let comments = self.dest.request_comments(&found.issue_key).await?;
        *out.checked.entry("comments".into()).or_default() += request.comments.len() as u64;
        if comments.len() < request.comments.len() {
            differences.push(format!("it has {} comments in the cloud, {} on the server", comments.len(), request.comments.len()));
        }
        for (n, (server, cloud)) in request.comments.iter().zip(&comments).enumerate() {
            if server.body.trim() != cloud.body.trim() {
                differences.push(format!("its comment {} (server id {}) has another body in the cloud", n + 1, server.id));
                break;
            }
            if server.public != cloud.public {
                let shown = |public: bool| if public { "shared with the customer" } else { "internal" };
                differences.push(format!(
                    "its comment {} (server id {}) is {} in the cloud, {} on the server",
                    n + 1,
                    server.id,
                    shown(cloud.public),
                    shown(server.public)
                ));
                break;
            }
        }
        Ok((Some(found.issue_key), differences))
    }

    /// Where a request (or a project's requests) is in the cloud, for people.
    fn request_link(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.plan.destination.trim_end_matches('/'))
    }
}
