//! Jira Service Management data of a Jira Server / Data Center database: projects and
//! their service desks, requests (`jiraissue`) with their participants (a custom field)
//! and comments (`jiraaction`), and customer organizations (Active Objects tables of the
//! `54307E` plugin).
//!
//! Numeric(18,0) columns are read through `CAST(… AS BIGINT)` and timestamps as text:
//! sqlx's Any driver reads neither NUMERIC nor TIMESTAMPTZ. Tables a real site may lack
//! (`issuestatus`, `entity_property`, `AO_54307E_CUSTOMERORGANIZATION`) are looked for
//! first, and what they would say falls back to the safe reading: the raw status id, a
//! comment internal, an organization tied to no service desk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::TryStreamExt;

use super::identity::int;
use super::{Source, SourceError};

/// The custom field type of request participants.
pub const PARTICIPANTS_FIELD: &str = "com.atlassian.servicedesk:sd-request-participants";

/// The entity property that says whether a service-project comment is internal.
pub const PUBLIC_COMMENT_PROPERTY: &str = "sd.public.comment";

/// The `entity_property.entity_name` of comment properties.
pub const COMMENT_PROPERTY_ENTITY: &str = "CommentProperty";

/// A Jira project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProject {
    /// project.id.
    pub id: i64,
    /// The project key (`SD`).
    pub key: String,
    /// Its name.
    pub name: String,
    /// The lead's user key.
    pub lead: Option<String>,
    /// `service_desk`, `software`, `business`.
    pub kind: String,
    /// Its service desk (`AO_54307E_SERVICEDESK.ID`), when it is a service project.
    pub service_desk: Option<i64>,
}

impl ServerProject {
    /// Whether it is a service project (what Ferry migrates).
    pub fn is_service_project(&self) -> bool {
        self.kind == "service_desk" || self.service_desk.is_some()
    }

    /// Why no Jira plan migrates it, unless it is a service project.
    pub fn not_migrated_reason(&self) -> Option<String> {
        (!self.is_service_project()).then(|| {
            let kind = if self.kind.is_empty() { "non-service".to_string() } else { self.kind.replace('_', " ") };
            format!(
                "a {kind} project: Ferry migrates Jira Service Management's service projects (requests, customers, organizations) \
                 only; its issues stay on the server"
            )
        })
    }
}

/// A request of a service project, with what refers to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRequest {
    /// jiraissue.id.
    pub id: i64,
    /// `<project key>-<issuenum>`.
    pub key: String,
    /// Summary.
    pub summary: String,
    /// Description (wiki markup as stored).
    pub description: Option<String>,
    /// The status name (the status id when the site has no `issuestatus` table).
    pub status: String,
    /// Created, RFC 3339 in UTC.
    pub created: Option<String>,
    /// The reporter's user key.
    pub reporter: Option<String>,
    /// Participants' user keys, in the order they were added.
    pub participants: Vec<String>,
    /// Comments, oldest first.
    pub comments: Vec<ServerRequestComment>,
    /// Why the request is not read in full: its description or a comment is over
    /// [`super::MAX_BODY_CHARS`] (that text is left empty). The request fails with this.
    pub too_long: Option<String>,
}

/// A comment on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRequestComment {
    /// jiraaction.id.
    pub id: i64,
    /// The author's user key.
    pub author: Option<String>,
    /// The body as stored.
    pub body: String,
    /// Created, RFC 3339 in UTC.
    pub created: Option<String>,
    /// Shared with the customer; false (internal) unless the site says it is public.
    pub public: bool,
    /// The body's length in characters when it is over [`super::MAX_BODY_CHARS`] (then
    /// `body` is empty: not read).
    pub too_long: Option<i64>,
}

/// A customer organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOrganization {
    /// AO_54307E_ORGANIZATION.ID.
    pub id: i64,
    /// Its name (unique in the cloud).
    pub name: String,
    /// Members' user keys.
    pub members: Vec<String>,
    /// The service desks it is added to.
    pub service_desks: BTreeSet<i64>,
}

/// The people a set of service projects' requests refer to, by user key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelatedPeople {
    /// Reporters, participants and comment authors: who a related customer can be.
    pub requesters: BTreeSet<String>,
    /// Assignees, creators and project leads (agents' roles).
    pub staff: BTreeSet<String>,
}

/// User keys per IN list.
const IN_LIST: usize = 500;

impl Source {
    /// The groups (lower-cased names) that give application access: every group
    /// `licenserolesgroup` lists, for any application.
    pub async fn licensed_groups(&self) -> Result<BTreeSet<String>, SourceError> {
        let rows = self.query("SELECT group_id FROM licenserolesgroup WHERE group_id IS NOT NULL").fetch_all().await?;
        rows.iter().map(|r| r.try_get::<String, _>(0).map(|g| g.to_lowercase()).map_err(SourceError::from)).collect()
    }

    /// Every project, by key, with its service desk when it has one.
    pub async fn projects(&self) -> Result<Vec<ServerProject>, SourceError> {
        let mut desks: HashMap<i64, i64> = HashMap::new();
        if self.has_table("AO_54307E_SERVICEDESK").await? {
            let rows = self
                .query(
                    "SELECT CAST(\"ID\" AS BIGINT), CAST(\"PROJECT_ID\" AS BIGINT), CASE WHEN \"DISABLED\" THEN 1 ELSE 0 END \
                 FROM \"AO_54307E_SERVICEDESK\"",
                )
                .fetch_all()
                .await?;
            for r in &rows {
                let disabled = int(r, 2)? == 1;
                if let (Some(desk), Some(project)) = (r.try_get::<Option<i64>, _>(0)?, r.try_get::<Option<i64>, _>(1)?) {
                    if !disabled {
                        desks.insert(project, desk);
                    }
                }
            }
        }
        let rows = self.query("SELECT CAST(id AS BIGINT), pkey, pname, lead, projecttype FROM project ORDER BY pkey").fetch_all().await?;
        let mut projects = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let Some(key) = r.try_get::<Option<String>, _>(1)? else { continue };
            projects.push(ServerProject {
                id,
                key,
                name: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                lead: r.try_get(3)?,
                kind: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
                service_desk: desks.get(&id).copied(),
            });
        }
        Ok(projects)
    }

    /// Up to `limit` requests of a project with id above `after_id`, by id, each with
    /// its participants and comments. The primary key is the access path (`+project`
    /// keeps the planner off a project index, which would sort the whole project for
    /// every batch).
    pub async fn requests(&self, project: &ServerProject, after_id: Option<i64>, limit: u32) -> Result<Vec<ServerRequest>, SourceError> {
        let status = if self.has_table("issuestatus").await? {
            ("COALESCE(s.pname, i.issuestatus)", "LEFT JOIN issuestatus s ON s.id = i.issuestatus")
        } else {
            ("i.issuestatus", "")
        };
        let sql = format!(
            "SELECT CAST(i.id AS BIGINT), CAST(i.issuenum AS BIGINT), i.summary, {}, {}, CAST(i.created AS VARCHAR(64)), i.reporter, length(i.description) \
             FROM jiraissue i {} WHERE +i.project = $1 AND i.id > $2 ORDER BY i.id LIMIT $3",
            super::bounded_text("i.description"),
            status.0,
            status.1
        );
        let mut rows = self.query(&sql).bind(project.id).bind(after_id.unwrap_or(i64::MIN)).bind(i64::from(limit)).fetch();
        let mut requests = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let id: i64 = r.try_get(0)?;
            let number: Option<i64> = r.try_get(1)?;
            requests.push(ServerRequest {
                id,
                key: format!("{}-{}", project.key, number.unwrap_or(id)),
                summary: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                description: r.try_get(3)?,
                status: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
                created: r.try_get::<Option<String>, _>(5)?.map(|t| server_time(&t)),
                reporter: r.try_get(6)?,
                participants: Vec::new(),
                comments: Vec::new(),
                too_long: super::over_bound(&r, 7)?.map(|chars| super::too_long("its description", chars)),
            });
        }
        drop(rows);
        if requests.is_empty() {
            return Ok(requests);
        }
        let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
        let mut participants = self.participants(&ids).await?;
        let mut comments = self.request_comments(&ids).await?;
        for request in &mut requests {
            request.participants = participants.remove(&request.id).unwrap_or_default();
            request.comments = comments.remove(&request.id).unwrap_or_default();
            if request.too_long.is_none() {
                request.too_long = request.comments.iter().find_map(|c| c.too_long.map(|chars| super::too_long(&format!("its comment {}", c.id), chars)));
            }
        }
        Ok(requests)
    }

    /// The participants (user keys) of each of `issues`.
    async fn participants(&self, issues: &[i64]) -> Result<HashMap<i64, Vec<String>>, SourceError> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in issues.chunks(IN_LIST) {
            let sql = format!(
                "SELECT CAST(v.issue AS BIGINT), v.stringvalue FROM customfieldvalue v JOIN customfield f ON f.id = v.customfield \
                 WHERE f.customfieldtypekey = $1 AND v.issue IN ({}) ORDER BY v.id",
                placeholders(2, chunk.len())
            );
            let mut query = self.query(&sql).bind(PARTICIPANTS_FIELD);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all().await? {
                if let Some(key) = r.try_get::<Option<String>, _>(1)?.filter(|k| !k.is_empty()) {
                    let list = out.entry(r.try_get(0)?).or_default();
                    if !list.contains(&key) {
                        list.push(key);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The comments of each of `issues`, oldest first, with their visibility.
    async fn request_comments(&self, issues: &[i64]) -> Result<HashMap<i64, Vec<ServerRequestComment>>, SourceError> {
        let mut out: HashMap<i64, Vec<ServerRequestComment>> = HashMap::new();
        let mut ids = Vec::new();
        for chunk in issues.chunks(IN_LIST) {
            let sql = format!(
                "SELECT CAST(a.id AS BIGINT), CAST(a.issueid AS BIGINT), a.author, {}, CAST(a.created AS VARCHAR(64)), length(a.actionbody) \
                 FROM jiraaction a WHERE a.issueid IN ({}) AND a.actiontype = 'comment' ORDER BY a.id",
                super::bounded_text("a.actionbody"),
                placeholders(1, chunk.len())
            );
            let mut query = self.query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all().await? {
                let (id, issue): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                ids.push(id);
                out.entry(issue).or_default().push(ServerRequestComment {
                    id,
                    author: r.try_get(2)?,
                    body: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    created: r.try_get::<Option<String>, _>(4)?.map(|t| server_time(&t)),
                    public: false,
                    too_long: super::over_bound(&r, 5)?,
                });
            }
        }
        // Visibility: the comment's `sd.public.comment` property, read through Jira's
        // (entity_name, entity_id) index. A comment without one stays internal.
        let mut public: std::collections::HashSet<i64> = std::collections::HashSet::new();
        if !ids.is_empty() && self.has_table("entity_property").await? {
            for chunk in ids.chunks(IN_LIST) {
                let sql = format!(
                    "SELECT CAST(entity_id AS BIGINT), json_value FROM entity_property \
                     WHERE entity_name = $1 AND entity_id IN ({}) AND property_key = $2",
                    placeholders(3, chunk.len())
                );
                let mut query = self.query(&sql).bind(COMMENT_PROPERTY_ENTITY).bind(PUBLIC_COMMENT_PROPERTY);
                for id in chunk {
                    query = query.bind(*id);
                }
                for r in query.fetch_all().await? {
                    if is_public(r.try_get::<Option<String>, _>(1)?.as_deref()) {
                        public.insert(r.try_get(0)?);
                    }
                }
            }
        }
        for comment in out.values_mut().flatten() {
            comment.public = public.contains(&comment.id);
        }
        Ok(out)
    }

    /// Requests and comments of a project: (requests, comments).
    pub async fn request_counts(&self, project_id: i64) -> Result<(u64, u64), SourceError> {
        let requests: i64 = self.query("SELECT CAST(COUNT(*) AS BIGINT) FROM jiraissue WHERE project = $1").bind(project_id).fetch_one().await?.try_get(0)?;
        let comments: i64 = self
            .query("SELECT CAST(COUNT(*) AS BIGINT) FROM jiraaction a JOIN jiraissue i ON i.id = a.issueid WHERE i.project = $1 AND a.actiontype = 'comment'")
            .bind(project_id)
            .fetch_one()
            .await?
            .try_get(0)?;
        Ok((requests.max(0) as u64, comments.max(0) as u64))
    }

    /// Every customer organization with its members and service desks.
    pub async fn organizations(&self) -> Result<Vec<ServerOrganization>, SourceError> {
        if !self.has_table("AO_54307E_ORGANIZATION").await? {
            return Ok(Vec::new());
        }
        let mut orgs: BTreeMap<i64, ServerOrganization> = BTreeMap::new();
        for r in self.query("SELECT CAST(\"ID\" AS BIGINT), \"NAME\" FROM \"AO_54307E_ORGANIZATION\"").fetch_all().await? {
            let Some(name) = r.try_get::<Option<String>, _>(1)?.filter(|n| !n.trim().is_empty()) else { continue };
            let id: i64 = r.try_get(0)?;
            orgs.insert(id, ServerOrganization { id, name, members: Vec::new(), service_desks: BTreeSet::new() });
        }
        if self.has_table("AO_54307E_ORGANIZATION_MEMBER").await? {
            let sql = "SELECT CAST(\"ORGANIZATION_ID\" AS BIGINT), \"USER_KEY\" FROM \"AO_54307E_ORGANIZATION_MEMBER\" ORDER BY \"ID\"";
            for r in self.query(sql).fetch_all().await? {
                if let (Some(org), Some(key)) = (r.try_get::<Option<i64>, _>(0)?, r.try_get::<Option<String>, _>(1)?) {
                    if let Some(o) = orgs.get_mut(&org) {
                        if !o.members.contains(&key) {
                            o.members.push(key);
                        }
                    }
                }
            }
        }
        if self.has_table("AO_54307E_CUSTOMERORGANIZATION").await? {
            let sql = "SELECT CAST(\"ORGANIZATION_ID\" AS BIGINT), CAST(\"SERVICE_DESK_ID\" AS BIGINT) FROM \"AO_54307E_CUSTOMERORGANIZATION\"";
            for r in self.query(sql).fetch_all().await? {
                if let (Some(org), Some(desk)) = (r.try_get::<Option<i64>, _>(0)?, r.try_get::<Option<i64>, _>(1)?) {
                    if let Some(o) = orgs.get_mut(&org) {
                        o.service_desks.insert(desk);
                    }
                }
            }
        }
        Ok(orgs.into_values().collect())
    }

    /// The people the requests of `project` refer to.
    pub async fn related_people(&self, project: &ServerProject) -> Result<RelatedPeople, SourceError> {
        let requesters = "SELECT reporter FROM jiraissue WHERE project = $1 AND reporter IS NOT NULL \
             UNION SELECT a.author FROM jiraaction a JOIN jiraissue i ON i.id = a.issueid WHERE i.project = $1 AND a.actiontype = 'comment' AND a.author IS NOT NULL \
             UNION SELECT v.stringvalue FROM customfieldvalue v JOIN customfield f ON f.id = v.customfield JOIN jiraissue i ON i.id = v.issue \
                   WHERE i.project = $1 AND f.customfieldtypekey = $2 AND v.stringvalue IS NOT NULL";
        let staff = "SELECT assignee FROM jiraissue WHERE project = $1 AND assignee IS NOT NULL \
             UNION SELECT creator FROM jiraissue WHERE project = $1 AND creator IS NOT NULL";
        let mut people = RelatedPeople::default();
        let mut rows = self.query(requesters).bind(project.id).bind(PARTICIPANTS_FIELD).fetch();
        while let Some(r) = rows.try_next().await? {
            people.requesters.insert(r.try_get(0)?);
        }
        drop(rows);
        let mut rows = self.query(staff).bind(project.id).fetch();
        while let Some(r) = rows.try_next().await? {
            people.staff.insert(r.try_get(0)?);
        }
        people.staff.extend(project.lead.clone());
        Ok(people)
    }
}

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Whether a `sd.public.comment` property value makes a comment public: only an
/// explicit `"internal": false` does; a missing, unreadable or other value keeps it
/// internal (a migration never shows a customer what the server hid).
pub fn is_public(json_value: Option<&str>) -> bool {
    let Some(text) = json_value else { return false };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => match map.get("internal") {
            Some(serde_json::Value::Bool(internal)) => !internal,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("false"),
            _ => false,
        },
        _ => false,
    }
}

/// A database timestamp as RFC 3339 in UTC (`2024-03-01T09:30:00.000Z`). PostgreSQL
/// prints `2024-03-01 09:30:00+00`; SQLite holds whatever text was stored. A time with
/// no zone is taken as UTC; text that is no time is kept as it is.
pub fn server_time(text: &str) -> String {
    let text = text.trim();
    let utc = |t: chrono::DateTime<chrono::FixedOffset>| t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return utc(t);
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(text, format) {
            return utc(t);
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_internal_unless_the_site_says_public() {
        assert!(is_public(Some(r#"{"internal":false}"#)));
        assert!(is_public(Some(r#"{ "internal" : "false" }"#)));
        assert!(!is_public(Some(r#"{"internal":true}"#)));
        assert!(!is_public(None));
        assert!(!is_public(Some("not json")));
        assert!(!is_public(Some(r#"{"other":false}"#)));
        assert!(!is_public(Some("[false]")));
    }

    #[test]
    fn server_times_become_utc() {
        assert_eq!(server_time("2024-03-01 09:30:00+00"), "2024-03-01T09:30:00.000Z");
        assert_eq!(server_time("2024-03-01 10:30:00.25+01"), "2024-03-01T09:30:00.250Z");
        assert_eq!(server_time("2024-03-01T09:30:00Z"), "2024-03-01T09:30:00.000Z");
        assert_eq!(server_time("2024-03-01 09:30:00"), "2024-03-01T09:30:00.000Z");
        assert_eq!(server_time("yesterday"), "yesterday");
    }
}
