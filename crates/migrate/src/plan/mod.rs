//! Migration plans: what to migrate, where to, from where. A plan is immutable once
//! created; running it changes only its status and report. A stopped or failed plan is
//! never resumed: create a new plan, which links what already migrated.

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub mod liveness;
pub mod runner;

use crate::report::PlanReport;
use ferry_core::state::{now, StateDb};
use ferry_source::{Product, ServerProject, Source};

/// A plan that cannot be made as asked (wrong usage: the CLI exits 2), with the reason
/// and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanRefused(pub String);

/// Which users and groups a plan migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UsersScope {
    /// Every user and group.
    All,
    /// Only users related to the selected spaces, with name and email only.
    Related,
    /// No users or groups.
    None,
}

impl FromStr for UsersScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(UsersScope::All),
            "related" => Ok(UsersScope::Related),
            "none" => Ok(UsersScope::None),
            other => Err(format!("users must be all, related or none, not {other:?}")),
        }
    }
}

impl fmt::Display for UsersScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsersScope::All => "all",
            UsersScope::Related => "related",
            UsersScope::None => "none",
        })
    }
}

/// Which spaces (or, in a Jira plan, service projects) a plan migrates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpacesScope {
    /// Every current space.
    All,
    /// None.
    None,
    /// These keys.
    Keys(Vec<String>),
}

impl SpacesScope {
    /// Whether it selects `key` (keys compare case-insensitively).
    pub fn selects(&self, key: &str) -> bool {
        match self {
            SpacesScope::All => true,
            SpacesScope::None => false,
            SpacesScope::Keys(keys) => keys.iter().any(|k| k.eq_ignore_ascii_case(key)),
        }
    }
}

impl FromStr for SpacesScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(SpacesScope::All),
            "none" => Ok(SpacesScope::None),
            keys => {
                let keys: Vec<String> = keys.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
                if keys.is_empty() {
                    Err("give all, none, or keys as KEY,KEY".into())
                } else {
                    Ok(SpacesScope::Keys(keys))
                }
            }
        }
    }
}

impl fmt::Display for SpacesScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpacesScope::All => f.write_str("all"),
            SpacesScope::None => f.write_str("none"),
            SpacesScope::Keys(keys) => f.write_str(&keys.join(",")),
        }
    }
}

/// Which apps a plan migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppsScope {
    /// Every app marked needed that has an automated path (fixed at creation).
    Needed,
    /// No app.
    None,
}

impl FromStr for AppsScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "needed" => Ok(AppsScope::Needed),
            "none" => Ok(AppsScope::None),
            other => Err(format!("apps must be needed or none, not {other:?}")),
        }
    }
}

impl fmt::Display for AppsScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppsScope::Needed => "needed",
            AppsScope::None => "none",
        })
    }
}

/// Which versions of each page and blog post a plan migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryScope {
    /// Every version, oldest first, with its author, date and version comment.
    #[default]
    All,
    /// The current version only.
    Current,
}

impl FromStr for HistoryScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(HistoryScope::All),
            "current" => Ok(HistoryScope::Current),
            other => Err(format!("history must be all or current, not {other:?}")),
        }
    }
}

impl fmt::Display for HistoryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HistoryScope::All => "all",
            HistoryScope::Current => "current",
        })
    }
}

/// An app fixed into a plan at creation: the plugin version and file that will run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanApp {
    /// The server app key.
    pub app: String,
    /// The plugin version.
    pub version: String,
    /// The plugin file's sha256.
    pub sha256: String,
}

/// Plan statuses.
pub mod status {
    /// Saved, not run.
    pub const SAVED: &str = "saved";
    /// Running now.
    pub const RUNNING: &str = "running";
    /// Ended with everything migrated.
    pub const FINISHED: &str = "finished";
    /// Stopped by the admin.
    pub const STOPPED: &str = "stopped";
    /// Some entities failed; data did reach the cloud.
    pub const INCOMPLETE: &str = "incomplete";
    /// Nothing usable happened.
    pub const FAILED: &str = "failed";
}

/// The time an app migration may take unless the plan says otherwise: one hour.
pub const DEFAULT_APP_DEADLINE_SECS: u64 = 3600;

/// A migration plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Plan {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The Server database (a SQLite file or postgres:// URL).
    #[serde(serialize_with = "redacted")]
    pub source: String,
    /// The environment variable holding the source database password, if one is named
    /// (else `PGPASSWORD` or `~/.pgpass`). The password itself is never stored.
    #[serde(default)]
    pub source_password_env: Option<String>,
    /// The Server's attachment folder.
    pub attachments: String,
    /// The Cloud site's base URL.
    pub destination: String,
    /// The organisation's SCIM directory (base URL).
    pub scim_url: Option<String>,
    /// The environment variable holding the destination's API token.
    pub token_env: String,
    /// The site admin's email, for HTTP Basic with the API token.
    #[serde(default)]
    pub email: Option<String>,
    /// The site's cloud id, when a scoped token is used through the API gateway.
    #[serde(default)]
    pub cloud_id: Option<String>,
    /// The API gateway's URL, when it is not `https://api.atlassian.com`.
    #[serde(default)]
    pub gateway_url: Option<String>,
    /// The environment variable holding the SCIM directory's API key.
    #[serde(default)]
    pub scim_token_env: Option<String>,
    /// Per server app key: the endpoint override and migration secret's variable.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub app_links: std::collections::BTreeMap<String, crate::cloud::AppLink>,
    /// How long each app's cloud half may take to settle its transfer, seconds.
    #[serde(default = "default_settle_secs")]
    pub app_settle_secs: u64,
    /// The product migrated: Confluence (spaces) or Jira (Service Management).
    #[serde(default)]
    pub product: Product,
    /// Users and groups (in a Jira plan: licensed users, agents and admins).
    pub users: UsersScope,
    /// Spaces.
    pub spaces: SpacesScope,
    /// Only the attachments of the chosen spaces.
    pub attachments_only: bool,
    /// A Jira plan's service projects.
    #[serde(default = "no_keys")]
    pub projects: SpacesScope,
    /// A Jira plan's customers (portal-only users): all, related to the service projects,
    /// or none.
    #[serde(default = "no_users")]
    pub customers: UsersScope,
    /// Which versions of pages and blog posts: all, or the current one.
    #[serde(default)]
    pub history: HistoryScope,
    /// The destination's product-access group.
    pub product_group: String,
    /// Which apps: `needed` or `none`.
    pub apps: AppsScope,
    /// The apps fixed at creation, with their plugin versions and files.
    pub plan_apps: Vec<PlanApp>,
    /// The time each app migration may take.
    pub app_deadline_secs: u64,
    /// Email domains the admin trusts (users with other domains are a warning).
    pub trusted_domains: Vec<String>,
    /// The named cloud site the plan was created for, if any.
    pub cloud: Option<String>,
    /// The Server site it reads ([`crate::sites`]), fixed at creation; keys its mappings.
    /// `None` only for a plan made before sites had identities, until its source is read.
    #[serde(default)]
    pub site: Option<String>,
    /// Status.
    pub status: String,
    /// When it was created.
    pub created_at: String,
}

fn no_keys() -> SpacesScope {
    SpacesScope::None
}

fn no_users() -> UsersScope {
    UsersScope::None
}

fn redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ferry_source::redact_url(url))
}

impl Plan {
    /// Where the plan's Cloud site is and how Ferry signs in to it.
    pub fn target(&self) -> crate::cloud::Target {
        crate::cloud::Target {
            url: self.destination.clone(),
            email: self.email.clone(),
            cloud_id: self.cloud_id.clone(),
            gateway_url: self.gateway_url.clone(),
            token_env: self.token_env.clone(),
            scim_url: self.scim_url.clone(),
            scim_token_env: self.scim_token_env.clone(),
            apps: self.app_links.clone(),
        }
    }

    /// The plan's Server database, connected with its password from the environment.
    pub async fn connect_source(&self) -> anyhow::Result<ferry_source::Source> {
        Source::open_product(&self.source, self.source_password_env.as_deref(), self.product).await
    }

    /// The Server site whose mappings the plan reads and records: the one it was made
    /// for, or, for a plan made before sites had identities, its source's (read now).
    pub async fn site_id(&self, db: &StateDb) -> anyhow::Result<String> {
        match &self.site {
            Some(site) => Ok(site.clone()),
            None => Ok(crate::sites::identify(db, &self.connect_source().await?, self.source_password_env.as_deref()).await?.id),
        }
    }

    /// The service projects a Jira plan selects, read from its source. A key that is
    /// not a project, or names a project that is not a service project, is refused.
    pub async fn selected_projects(&self, source: &Source) -> anyhow::Result<Vec<ServerProject>> {
        let projects = source.projects().await?;
        Ok(match &self.projects {
            SpacesScope::None => Vec::new(),
            SpacesScope::All => projects.into_iter().filter(ServerProject::is_service_project).collect(),
            SpacesScope::Keys(keys) => {
                let mut out = Vec::new();
                for key in keys {
                    match projects.iter().find(|p| p.key.eq_ignore_ascii_case(key)) {
                        Some(p) if p.is_service_project() => out.push(p.clone()),
                        Some(p) => Err(PlanRefused(format!(
                            "project {} is a {} project: ferry migrates the requests of service projects only; leave it out of --projects",
                            p.key,
                            if p.kind.is_empty() { "non-service" } else { p.kind.as_str() }
                        )))?,
                        None => Err(PlanRefused(format!("the source has no project {key}: `ferry plan projects` lists them")))?,
                    }
                }
                out
            }
        })
    }

    /// What a plan's choices must satisfy before it is saved: a Jira plan's projects
    /// exist and are service projects, and customers are migrated when any is.
    pub async fn validate(&self, source: &Source) -> anyhow::Result<()> {
        match self.product {
            Product::Confluence => {
                if self.projects != SpacesScope::None || self.customers != UsersScope::None {
                    Err(PlanRefused("--projects and --customers are for Jira plans: add --product jira".into()))?;
                }
            }
            Product::Jira => {
                if self.spaces != SpacesScope::None || self.attachments_only {
                    Err(PlanRefused("a Jira plan has no spaces: give --spaces none (the default with --product jira)".into()))?;
                }
                let selected = self.selected_projects(source).await?;
                if self.customers == UsersScope::None && !selected.is_empty() {
                    let keys: Vec<&str> = selected.iter().map(|p| p.key.as_str()).collect();
                    Err(PlanRefused(format!(
                        "--customers none cannot go with service projects ({}): their requests refer to customers; choose --customers related or all",
                        keys.join(", ")
                    )))?;
                }
            }
        }
        Ok(())
    }

    /// A plan to migrate everything from `source` to the site `target` names (all users,
    /// all spaces, the needed apps, a one-hour app deadline), to adjust before
    /// [`Plan::create`].
    pub fn new(name: &str, source: &str, attachments: &str, target: &crate::cloud::Target) -> Plan {
        Plan {
            id: String::new(),
            name: name.into(),
            source: source.into(),
            source_password_env: None,
            attachments: attachments.into(),
            destination: target.url.clone(),
            scim_url: target.scim_url.clone(),
            token_env: target.token_env.clone(),
            email: target.email.clone(),
            cloud_id: target.cloud_id.clone(),
            gateway_url: target.gateway_url.clone(),
            scim_token_env: target.scim_token_env.clone(),
            app_links: target.apps.clone(),
            app_settle_secs: default_settle_secs(),
            product: Product::Confluence,
            users: UsersScope::All,
            spaces: SpacesScope::All,
            attachments_only: false,
            projects: SpacesScope::None,
            customers: UsersScope::None,
            history: HistoryScope::All,
            product_group: ferry_cloud_wire::PRODUCT_ACCESS_GROUP.into(),
            apps: AppsScope::Needed,
            plan_apps: Vec::new(),
            app_deadline_secs: DEFAULT_APP_DEADLINE_SECS,
            trusted_domains: Vec::new(),
            cloud: None,
            site: None,
            status: String::new(),
            created_at: String::new(),
        }
    }

    /// Save a new plan. With apps `needed`, the apps decided needed whose installed
    /// plugin reads the assessed Server app version are fixed into it, with their plugin
    /// version and sha256.
    pub async fn create(db: &StateDb, mut plan: Plan) -> anyhow::Result<Plan> {
        ferry_source::refuse_password(&plan.source)?;
        let source = plan.connect_source().await?;
        plan.validate(&source).await?;
        plan.site = Some(crate::sites::identify(db, &source, plan.source_password_env.as_deref()).await?.id);
        plan.id = ferry_apps::local::new_id()[..12].to_string();
        plan.status = status::SAVED.into();
        plan.created_at = now();
        if plan.product == Product::Jira {
            plan.apps = AppsScope::None;
        }
        plan.plan_apps = match plan.apps {
            AppsScope::None => Vec::new(),
            AppsScope::Needed => needed_automated_apps(db).await?,
        };
        let mut tx = db.pool().begin().await?;
        for app in &plan.plan_apps {
            sqlx::query("INSERT INTO plan_apps (plan_id, app_key, plugin_version, plugin_sha256) VALUES (?, ?, ?, ?)")
                .bind(&plan.id)
                .bind(&app.app)
                .bind(&app.version)
                .bind(&app.sha256)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO plans (id, name, source, attachments, destination, scim_url, token_env, users, spaces, attachments_only, product_group, status, created_at, \
             apps, app_deadline_secs, trusted_domains, cloud, source_password_env, history, product, projects, customers, site, \
             email, cloud_id, gateway_url, scim_token_env, app_links, app_settle_secs) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(&plan.source)
        .bind(&plan.attachments)
        .bind(&plan.destination)
        .bind(&plan.scim_url)
        .bind(&plan.token_env)
        .bind(plan.users.to_string())
        .bind(plan.spaces.to_string())
        .bind(plan.attachments_only)
        .bind(&plan.product_group)
        .bind(&plan.status)
        .bind(&plan.created_at)
        .bind(plan.apps.to_string())
        .bind(plan.app_deadline_secs as i64)
        .bind(plan.trusted_domains.join(","))
        .bind(&plan.cloud)
        .bind(&plan.source_password_env)
        .bind(plan.history.to_string())
        .bind(plan.product.to_string())
        .bind(plan.projects.to_string())
        .bind(plan.customers.to_string())
        .bind(&plan.site)
        .bind(&plan.email)
        .bind(&plan.cloud_id)
        .bind(&plan.gateway_url)
        .bind(&plan.scim_token_env)
        .bind(crate::cloud::app_links_json(&plan.app_links))
        .bind(plan.app_settle_secs as i64)
        .execute(&mut *tx)
        .await
        .context("cannot save the plan")?;
        tx.commit().await?;
        Ok(plan)
    }

    /// Every plan, newest first.
    pub async fn list(db: &StateDb) -> anyhow::Result<Vec<Plan>> {
        // Every column but the stored report (listing a thousand plans reads no report).
        let rows = sqlx::query(
            "SELECT id, name, source, source_password_env, attachments, destination, scim_url, token_env, users, spaces, attachments_only, \
             product_group, status, created_at, apps, app_deadline_secs, trusted_domains, cloud, history, product, projects, customers, site, \
             email, cloud_id, gateway_url, scim_token_env, app_links, app_settle_secs \
             FROM plans ORDER BY created_at DESC, id",
        )
        .fetch_all(db.pool())
        .await?;
        let mut apps: std::collections::HashMap<String, Vec<PlanApp>> = std::collections::HashMap::new();
        for r in sqlx::query("SELECT plan_id, app_key, plugin_version, plugin_sha256 FROM plan_apps ORDER BY app_key").fetch_all(db.pool()).await? {
            apps.entry(r.get(0)).or_default().push(PlanApp { app: r.get(1), version: r.get(2), sha256: r.get(3) });
        }
        rows.iter()
            .map(|r| {
                let mut plan = from_row(r)?;
                plan.plan_apps = apps.remove(&plan.id).unwrap_or_default();
                Ok(plan)
            })
            .collect()
    }

    /// The plan `id` (a unique prefix is enough).
    pub async fn get(db: &StateDb, id: &str) -> anyhow::Result<Plan> {
        if id.trim().is_empty() {
            return Err(ferry_core::Declined::invalid("no plan id was given: `ferry plan list` shows them"));
        }
        // A prefix compared as text: `%` or `_` in what the admin typed match only themselves.
        let rows = sqlx::query("SELECT * FROM plans WHERE substr(id, 1, length(?1)) = ?1").bind(id).fetch_all(db.pool()).await?;
        match rows.len() {
            1 => {
                let mut plan = from_row(&rows[0])?;
                plan.plan_apps = sqlx::query("SELECT app_key, plugin_version, plugin_sha256 FROM plan_apps WHERE plan_id = ? ORDER BY app_key")
                    .bind(&plan.id)
                    .fetch_all(db.pool())
                    .await?
                    .iter()
                    .map(|r| PlanApp { app: r.get(0), version: r.get(1), sha256: r.get(2) })
                    .collect();
                Ok(plan)
            }
            0 => Err(ferry_core::Declined::not_found(format!("no plan {id}: `ferry plan list` shows them"))),
            n => Err(ferry_core::Declined::invalid(format!("{n} plans start with {id}: give more of the id"))),
        }
    }

    /// Move the plan to `status` (only from `expected`); false when it was not there.
    pub async fn transition(db: &StateDb, id: &str, expected: &str, status: &str) -> anyhow::Result<bool> {
        let column = if status == status::RUNNING { "started_at" } else { "finished_at" };
        let sql = format!("UPDATE plans SET status = ?, {column} = ? WHERE id = ? AND status = ?");
        let done = sqlx::query(&sql).bind(status).bind(now()).bind(id).bind(expected).execute(db.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Store the report (and the status it ended with).
    pub async fn save_report(db: &StateDb, report: &PlanReport) -> anyhow::Result<()> {
        sqlx::query("UPDATE plans SET report_json = ?, status = ?, finished_at = ? WHERE id = ?")
            .bind(serde_json::to_string(report)?)
            .bind(&report.status)
            .bind(now())
            .bind(&report.id)
            .execute(db.pool())
            .await?;
        Ok(())
    }

    /// The stored report, if the plan ran.
    pub async fn report(db: &StateDb, id: &str) -> anyhow::Result<Option<PlanReport>> {
        let json: Option<String> = sqlx::query("SELECT report_json FROM plans WHERE id = ?").bind(id).fetch_one(db.pool()).await?.get(0);
        json.map(|j| serde_json::from_str(&j).context("stored report")).transpose()
    }
}

/// The apps decided needed whose installed plugin reads the Server app version of the
/// latest assessment.
async fn needed_automated_apps(db: &StateDb) -> anyhow::Result<Vec<PlanApp>> {
    let apps = ferry_apps::assess::server_apps(db).await?;
    let assessed = ferry_apps::assess::assess(db, &apps).await?;
    let registry = ferry_apps::registry::Registry::new(db.clone());
    let mut out = Vec::new();
    for a in assessed {
        if a.decision != ferry_apps::assess::Decision::Needed || a.path != ferry_apps::assess::MigrationPath::Automated {
            continue;
        }
        if let Some(plugin) = registry.get(&a.key).await? {
            out.push(PlanApp { app: a.key, version: plugin.version, sha256: plugin.sha256 });
        }
    }
    Ok(out)
}

/// A space as the plan chooser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceChoice {
    /// Space key.
    pub key: String,
    /// Space name.
    pub name: String,
    /// `MIGRATED` (already in this destination), `QUEUED` (in a saved plan not yet run),
    /// or empty.
    pub status: String,
}

/// The spaces of a source with their status for one destination: `MIGRATED` comes from
/// the mapping record of this Server site, `QUEUED` from its saved plans to that
/// destination.
pub async fn space_choices(db: &StateDb, source: &Source, destination: &str) -> anyhow::Result<Vec<SpaceChoice>> {
    let spaces = source.spaces().await?;
    let (migrated, queued) = chooser_state(db, source, destination, crate::ns::SPACE, Product::Confluence).await?;
    Ok(spaces
        .into_iter()
        .map(|s| {
            let status = if migrated.contains(&s.key) {
                "MIGRATED"
            } else if queued.iter().any(|p| p.spaces.selects(&s.key)) {
                "QUEUED"
            } else {
                ""
            };
            SpaceChoice { key: s.key, name: s.name, status: status.into() }
        })
        .collect())
}

/// What a chooser marks: the keys of `namespace` that `source`'s site already migrated
/// to `destination` (from the mapping record), and its saved plans of `product` to it,
/// not yet run.
async fn chooser_state(
    db: &StateDb,
    source: &Source,
    destination: &str,
    namespace: &str,
    product: Product,
) -> anyhow::Result<(std::collections::HashSet<String>, Vec<Plan>)> {
    let site = crate::sites::identify(db, source, None).await?.id;
    let dest_key = crate::destination_key(destination);
    let migrated = sqlx::query("SELECT server_id FROM mappings WHERE destination = ? AND site = ? AND namespace = ?")
        .bind(&dest_key)
        .bind(&site)
        .bind(namespace)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let queued = Plan::list(db)
        .await?
        .into_iter()
        .filter(|p| {
            p.product == product && p.status == status::SAVED && p.site.as_deref() == Some(site.as_str()) && crate::destination_key(&p.destination) == dest_key
        })
        .collect();
    Ok((migrated, queued))
}

/// A Jira project as the plan chooser shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectChoice {
    /// Project key.
    pub key: String,
    /// Project name.
    pub name: String,
    /// `service_desk`, `software`, `business`.
    pub kind: String,
    /// Whether a Jira plan can select it (a service project).
    pub service_project: bool,
    /// Its requests (issues) on the server.
    pub requests: u64,
    /// `MIGRATED` (already in this destination), `QUEUED` (in a saved Jira plan not yet
    /// run), or empty.
    pub status: String,
    /// Why no Jira plan migrates it (not a service project), if so.
    pub not_migrated: Option<String>,
}

/// The projects of a Jira source with their status for one destination.
pub async fn project_choices(db: &StateDb, source: &Source, destination: &str) -> anyhow::Result<Vec<ProjectChoice>> {
    let (migrated, queued) = chooser_state(db, source, destination, crate::ns::PROJECT, Product::Jira).await?;
    let mut out = Vec::new();
    for p in source.projects().await? {
        let (requests, _) = source.request_counts(p.id).await?;
        let status = if migrated.contains(&p.key) {
            "MIGRATED"
        } else if p.is_service_project() && queued.iter().any(|plan| plan.projects.selects(&p.key)) {
            "QUEUED"
        } else {
            ""
        };
        out.push(ProjectChoice {
            service_project: p.is_service_project(),
            not_migrated: p.not_migrated_reason(),
            key: p.key,
            name: p.name,
            kind: p.kind,
            requests,
            status: status.into(),
        });
    }
    Ok(out)
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> anyhow::Result<Plan> {
    Ok(Plan {
        id: r.get("id"),
        name: r.get("name"),
        source: r.get("source"),
        source_password_env: r.get("source_password_env"),
        attachments: r.get("attachments"),
        destination: r.get("destination"),
        scim_url: r.get("scim_url"),
        token_env: r.get("token_env"),
        email: r.get("email"),
        cloud_id: r.get("cloud_id"),
        gateway_url: r.get("gateway_url"),
        scim_token_env: r.get("scim_token_env"),
        app_links: crate::cloud::app_links_of(&r.get::<String, _>("app_links")),
        app_settle_secs: r.get::<i64, _>("app_settle_secs").max(1) as u64,
        product: r.get::<String, _>("product").parse().map_err(anyhow::Error::msg)?,
        projects: r.get::<String, _>("projects").parse().map_err(anyhow::Error::msg)?,
        customers: r.get::<String, _>("customers").parse().map_err(anyhow::Error::msg)?,
        users: r.get::<String, _>("users").parse().map_err(anyhow::Error::msg)?,
        spaces: r.get::<String, _>("spaces").parse().map_err(anyhow::Error::msg)?,
        attachments_only: r.get("attachments_only"),
        history: r.get::<String, _>("history").parse().map_err(anyhow::Error::msg)?,
        product_group: r.get("product_group"),
        apps: r.get::<String, _>("apps").parse().map_err(anyhow::Error::msg)?,
        plan_apps: Vec::new(),
        app_deadline_secs: r.get::<i64, _>("app_deadline_secs").max(1) as u64,
        trusted_domains: r.get::<String, _>("trusted_domains").split(',').filter(|d| !d.is_empty()).map(str::to_string).collect(),
        cloud: r.get("cloud"),
        site: r.get("site"),
        status: r.get("status"),
        created_at: r.get("created_at"),
    })
}

/// What an admin asks for when creating a plan, before the product's defaults are
/// applied: the CLI's `plan create` options, and the dashboard's form and API body.
///
/// Through the dashboard and the API a plan names a connected Cloud site (`cloud`) and a
/// Server site the admin added at the command line (`source`), and nothing else: no
/// URL to send a token to, no variable to read one from. Only the command line adds a
/// [`DirectTarget`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The plan's name.
    pub name: String,
    /// The Server site: at the command line a SQLite file or a postgres:// URL without a
    /// password; through the dashboard and the API, a site the admin added (its id, name
    /// or location, as `ferry site list` shows them).
    pub source: String,
    /// `confluence` (default) or `jira`.
    #[serde(default)]
    pub product: Option<String>,
    /// Confluence: the Server's attachment folder.
    #[serde(default)]
    pub attachments: Option<String>,
    /// A connected Cloud site (`ferry cloud connect`, at the command line).
    #[serde(default)]
    pub cloud: Option<String>,
    /// `all` (default), `related` or `none`.
    #[serde(default)]
    pub users: Option<String>,
    /// `all`, `none` or `KEY,KEY` (default all; none in a Jira plan).
    #[serde(default)]
    pub spaces: Option<String>,
    /// Jira: `all` (default), `none` or `KEY,KEY`.
    #[serde(default)]
    pub projects: Option<String>,
    /// Jira: `all`, `related` (default) or `none`.
    #[serde(default)]
    pub customers: Option<String>,
    /// Only the attachments of the chosen spaces.
    #[serde(default)]
    pub attachments_only: bool,
    /// `all` (default) or `current`.
    #[serde(default)]
    pub history: Option<String>,
    /// The destination's product-access group.
    #[serde(default)]
    pub product_group: Option<String>,
    /// `needed` (default) or `none`.
    #[serde(default)]
    pub apps: Option<String>,
    /// The time each app migration may take, in seconds (default one hour).
    #[serde(default)]
    pub app_deadline_secs: Option<u64>,
    /// The time each app's cloud half may take to settle its transfer, in seconds
    /// (default one hour).
    #[serde(default)]
    pub app_settle_secs: Option<u64>,
    /// Email domains the admin trusts.
    #[serde(default)]
    pub trusted_domains: Vec<String>,
}

/// What only the admin at the command line may give a plan: a destination by URL with
/// the variable holding its token, and the variable holding the source's password.
#[derive(Debug, Clone, Default)]
pub struct DirectTarget {
    /// The Cloud site and how to sign in to it (instead of a connected site).
    pub target: Option<crate::cloud::Target>,
    /// The environment variable holding the source database password, if any.
    pub source_password_env: Option<String>,
}

/// Parse one option of a plan request, naming the option when it is wrong.
fn option<T: FromStr>(name: &str, value: &Option<String>) -> Result<Option<T>, PlanRefused>
where
    T::Err: fmt::Display,
{
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|e| PlanRefused(format!("{name}: {e}"))),
    }
}

impl PlanRequest {
    /// The plan this asks for through the dashboard or the API: its Cloud site must be a
    /// connected one and its source a Server site the admin added; not saved.
    pub async fn into_web_plan(mut self, db: &StateDb) -> anyhow::Result<Plan> {
        let cloud = self.cloud.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if cloud.is_none() {
            Err(PlanRefused(
                "cloud: name a connected Cloud site (`ferry cloud list`); the dashboard and the API send plans only to sites the admin \
                 connected (the dashboard's Sites page, or `ferry cloud connect`)"
                    .into(),
            ))?;
        }
        let site = crate::sites::for_request(db, &self.source).await?;
        self.source = site.location.clone();
        if self.product.as_deref().map(str::trim).unwrap_or_default().is_empty() {
            self.product = Some(site.product.clone());
        }
        self.into_plan(db, DirectTarget { source_password_env: site.password_env, ..DirectTarget::default() }).await
    }

    /// The plan this asks for, with the product's defaults; not saved (see
    /// [`Plan::create`]). A wrong or missing option is a [`PlanRefused`] naming it.
    pub async fn into_plan(self, db: &StateDb, direct: DirectTarget) -> anyhow::Result<Plan> {
        let product: Product = option("product", &self.product)?.unwrap_or_default();
        let users = option("users", &self.users)?.unwrap_or(UsersScope::All);
        let history = option("history", &self.history)?.unwrap_or_default();
        let apps = option("apps", &self.apps)?.unwrap_or(AppsScope::Needed);
        let jira = product == Product::Jira;
        let spaces = option("spaces", &self.spaces)?.unwrap_or(if jira { SpacesScope::None } else { SpacesScope::All });
        let projects = option("projects", &self.projects)?.unwrap_or(if jira { SpacesScope::All } else { SpacesScope::None });
        let customers = option("customers", &self.customers)?.unwrap_or(if jira { UsersScope::Related } else { UsersScope::None });
        let product_group = self.product_group.clone().filter(|g| !g.trim().is_empty()).unwrap_or_else(|| {
            if jira {
                ferry_cloud_wire::JSM_ACCESS_GROUP.into()
            } else {
                ferry_cloud_wire::PRODUCT_ACCESS_GROUP.into()
            }
        });
        if self.attachments_only && spaces == SpacesScope::None {
            return Err(PlanRefused("--attachments-only needs spaces: choose them with --spaces".into()).into());
        }
        let attachments = match (self.attachments.as_deref().map(str::trim).filter(|a| !a.is_empty()), jira) {
            (Some(path), _) => path.to_string(),
            (None, true) => String::new(),
            (None, false) if spaces == SpacesScope::None => String::new(),
            (None, false) => {
                return Err(PlanRefused(
                    "--attachments is required for a Confluence plan with spaces: give the Server's <confluence-home>/attachments folder".into(),
                )
                .into())
            }
        };
        let cloud = self.cloud.clone().filter(|c| !c.trim().is_empty());
        let target = match &cloud {
            Some(name) => crate::cloud::get(db, name).await?.target,
            None => match direct.target.clone().filter(|t| !t.url.trim().is_empty() && !t.token_env.trim().is_empty()) {
                Some(target) => target,
                None => return Err(PlanRefused("give a connected Cloud site (--cloud), or --destination with --email and --token-env".into()).into()),
            },
        };
        Ok(Plan {
            product,
            users,
            spaces,
            projects,
            customers,
            attachments_only: self.attachments_only,
            history,
            product_group,
            apps: if jira { AppsScope::None } else { apps },
            app_deadline_secs: self.app_deadline_secs.unwrap_or(DEFAULT_APP_DEADLINE_SECS).max(1),
            app_settle_secs: self.app_settle_secs.unwrap_or_else(default_settle_secs).max(1),
            trusted_domains: self.trusted_domains.iter().map(|d| d.trim().to_lowercase()).filter(|d| !d.is_empty()).collect(),
            cloud,
            source_password_env: direct.source_password_env.clone().filter(|e| !e.trim().is_empty()),
            ..Plan::new(&self.name, &self.source, &attachments, &target)
        })
    }
}

/// Ask a running plan to stop when its current step ends (it may run in another
/// process: the status in the state DB is what it watches).
pub async fn stop(db: &StateDb, id: &str) -> anyhow::Result<Plan> {
    let plan = Plan::get(db, id).await?;
    let stopped = Plan::transition(db, &plan.id, status::RUNNING, status::STOPPED).await?;
    ferry_core::Declined::unless(stopped, || format!("plan {} is {}, not running", plan.id, plan.status))?;
    Ok(plan)
}

/// How many plans have each status.
pub async fn status_counts(db: &StateDb) -> anyhow::Result<std::collections::BTreeMap<String, usize>> {
    let rows = sqlx::query("SELECT status, COUNT(*) FROM plans GROUP BY status").fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<i64, _>(1).max(0) as usize)).collect())
}

/// How long a cloud app may take to settle a transfer unless the plan says otherwise: an
/// hour.
pub fn default_settle_secs() -> u64 {
    3600
}
