//! `ferry consent …` and `ferry cloud …`: the admin's preparation.

use std::path::Path;

use clap::Subcommand;

use super::{print_json, shown, table, ExitCode};
use crate::consent;
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum ConsentCommand {
    /// The policy card of an app's plugin: vendor, version, sha256, privacy policy, every
    /// scope in plain words, the app tables and their column classes, and the Stage.
    /// When consent is outdated, what changed since the consented version.
    Show {
        /// The app key.
        app_key: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Agree to the installed plugin of an app reading what its policy card lists. Binds
    /// to the plugin version, its sha256 and its exact scopes.
    Agree {
        /// The app key.
        app_key: String,
        /// The sha256 (or a prefix of it) of the plugin you reviewed; refused if the
        /// installed file is another one.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Revoke consent, at once: a running app migration's next data access is denied.
    Revoke {
        /// The app key.
        app_key: String,
    },
    /// Where consent stands for every app of the assessment: given, not-given, outdated,
    /// server-app-outdated, no-migration-needed or no-automated-path.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum CloudCommand {
    /// Connect to a Cloud site: prove that it answers, that the account administers it
    /// and that the user-provisioning directory (if any) takes its key, and keep it under a name
    /// plans can use (`ferry plan create --cloud NAME`). Secrets stay in their
    /// environment variables: ferry never stores or prints them.
    ///
    /// A site admin's API token (id.atlassian.com → Security → API tokens) signs in with
    /// the admin's email: --email ADMIN_EMAIL --token-env VAR. A scoped API token or an
    /// OAuth 2.0 access token goes through Atlassian's API gateway instead:
    /// --scoped-token --token-env VAR (the site's cloud id is read from the site).
    ///
    /// Users: with the organisation's user-provisioning directory (--scim-url
    /// --scim-token-env, from admin.atlassian.com → Security → Identity providers → your
    /// directory → user provisioning), ferry creates missing accounts. Without one, it
    /// links server users to the accounts the organisation has and creates none: give
    /// its user export with --accounts-csv FILE (Directory → Users → Export users); others
    /// are looked up by email.
    #[command(verbatim_doc_comment)]
    Connect {
        /// A name for the site, e.g. prod.
        name: String,
        /// The site's base URL (https://SITE.atlassian.net).
        #[arg(long)]
        url: String,
        /// The site admin's email (HTTP Basic with the API token).
        #[arg(long, required_unless_present = "scoped_token")]
        email: Option<String>,
        /// The token in --token-env is a scoped API token or an OAuth 2.0 access token,
        /// sent as Bearer through the API gateway (api.atlassian.com/ex/...).
        #[arg(long, conflicts_with = "email")]
        scoped_token: bool,
        /// The API gateway's URL, when it is not https://api.atlassian.com (a proxy, or a
        /// staging site standing in for the gateway).
        #[arg(long, requires = "scoped_token")]
        gateway_url: Option<String>,
        /// The environment variable that holds the API token.
        #[arg(long)]
        token_env: String,
        /// The organisation's user-provisioning directory
        /// (https://api.atlassian.com/scim/directory/DIRECTORY_ID). Without one, users
        /// are linked to accounts the organisation has, never created.
        #[arg(long, requires = "scim_token_env")]
        scim_url: Option<String>,
        /// The environment variable that holds the directory's API key.
        #[arg(long, requires = "scim_url")]
        scim_token_env: Option<String>,
        /// With no directory: the organisation's user export (admin.atlassian.com →
        /// Directory → Users → Export users), whose accounts server users are linked to by
        /// email. Imported again at each connect.
        #[arg(long, conflicts_with = "scim_url")]
        accounts_csv: Option<std::path::PathBuf>,
        /// APP_KEY=VAR: the environment variable holding the migration secret the app's
        /// cloud half issued (repeatable). Ferry signs every request of the app's data
        /// transfer with it; without one, the app's data is not sent.
        #[arg(long = "app-secret-env", value_name = "APP_KEY=VAR", value_parser = app_pair)]
        app_secret_envs: Vec<(String, String)>,
        /// APP_KEY=URL: send the app's data to this endpoint instead of the one its
        /// plugin's manifest names (repeatable): a trial run against a stand-in, e.g. the
        /// staging site's (https://, or http:// to a loopback host). The consent card,
        /// the checks and the audit show the override.
        #[arg(long = "app-endpoint", value_name = "APP_KEY=URL", value_parser = app_pair)]
        app_endpoints: Vec<(String, String)>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The connected Cloud sites.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn consent(home: &Path, command: ConsentCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        ConsentCommand::Show { app_key, json } => {
            let card = consent::policy_card(&db, &app_key).await?;
            if json {
                print_json(&card)?;
                return Ok(ExitCode::Ok);
            }
            println!("{} {} by {}", shown(&card.name), card.version, shown(&card.vendor));
            println!("app {}  →  cloud app {}", shown(&card.app), shown(&card.cloud_app_key));
            println!("sha256 {}", card.sha256);
            println!("signed by {}", shown(&card.signer_shown));
            println!("privacy policy: {}", shown(&card.privacy_policy));
            println!("where the data goes: {}", shown(&card.sends_to));
            println!("stage: {} — {}", card.stage.summary(), card.stage.decided_by);
            println!("consent: {}", card.status.map(|s| s.name()).unwrap_or("(app not in the assessment)"));
            println!("\nIf you agree, this plugin may:");
            for s in &card.scopes {
                println!("  - {} ({})", s.meaning, s.scope);
            }
            if !card.tables.is_empty() {
                let mut t = table(&["app table", "column", "class"]);
                for (name, cols) in &card.tables {
                    for (col, class) in cols {
                        t.add_row(vec![name.clone(), col.clone(), class.name().to_string()]);
                    }
                }
                println!("\nIt reads these columns of the app's own tables:\n{t}");
            }
            if let (Some(version), Some(changes)) = (&card.consented_version, &card.changes) {
                println!("\nYou consented to version {version}. What changed since:");
                let lists = [
                    ("scopes added", &changes.added_scopes),
                    ("scopes removed", &changes.removed_scopes),
                    ("tables added", &changes.added_tables),
                    ("tables removed", &changes.removed_tables),
                    ("columns added", &changes.added_columns),
                    ("columns removed", &changes.removed_columns),
                    ("classes changed", &changes.changed_classes),
                ];
                for (what, items) in lists {
                    if !items.is_empty() {
                        println!("  {what}: {}", items.join(", "));
                    }
                }
                if let Some(change) = &changes.endpoint_change {
                    println!("  where the data goes: {}", shown(change));
                }
                if let Some(signer) = &card.consented_signer {
                    println!("  signer: was {signer}, now {}", shown(&card.signer.describe()));
                }
                if changes.is_empty() && card.consented_signer.is_none() {
                    println!("  the scopes, tables and classes are the same (the plugin file changed)");
                }
            }
            println!("\nAgree with `ferry consent agree {} --sha256 {}`, or leave it.", shown(&card.app), &card.sha256[..12]);
            Ok(ExitCode::Ok)
        }
        ConsentCommand::Agree { app_key, sha256 } => {
            let record = consent::agree(&db, &app_key, sha256.as_deref()).await?;
            let scopes: Vec<&str> = record.scopes.iter().map(|s| s.name()).collect();
            println!("consent given to {} {} (sha256 {}) for: {}", shown(&app_key), record.plugin_version, &record.plugin_sha256[..12], scopes.join(", "));
            Ok(ExitCode::Ok)
        }
        ConsentCommand::Revoke { app_key } => {
            if consent::revoke(&db, &app_key).await? {
                println!("consent for {} revoked: a running migration of it is denied its next data access", shown(&app_key));
            } else {
                println!("no consent in force for {}", shown(&app_key));
            }
            Ok(ExitCode::Ok)
        }
        ConsentCommand::List { json } => {
            let lines = consent::list(&db).await?;
            if json {
                print_json(&lines)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["app", "name", "consent", "plugin", "consented", "given at"]);
            for l in lines {
                t.add_row(vec![
                    shown(&l.app),
                    shown(&l.name),
                    l.status.name().to_string(),
                    l.plugin_version.unwrap_or_else(|| "-".into()),
                    l.consented_version.unwrap_or_else(|| "-".into()),
                    l.given_at.unwrap_or_default(),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
    }
}

pub(crate) async fn cloud(home: &Path, command: CloudCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        CloudCommand::Connect {
            name,
            url,
            email,
            scoped_token: _,
            gateway_url,
            token_env,
            scim_url,
            scim_token_env,
            accounts_csv,
            app_secret_envs,
            app_endpoints,
            json,
        } => {
            if let Some(file) = &accounts_csv {
                let accounts = ferry_migrate::accounts::read_csv(file)?;
                ferry_migrate::accounts::import(&db, url.trim_end_matches('/'), &accounts).await?;
                if !json {
                    println!("{} accounts read from {}", accounts.len(), crate::terminal::shown(&file.display().to_string()));
                }
            }
            let mut apps: std::collections::BTreeMap<String, crate::cloud::AppLink> = Default::default();
            for (app, env) in app_secret_envs {
                apps.entry(app).or_default().secret_env = Some(env);
            }
            for (app, endpoint) in app_endpoints {
                apps.entry(app).or_default().endpoint = Some(endpoint);
            }
            let target = crate::cloud::Target { url, email, cloud_id: None, gateway_url, token_env, scim_url, scim_token_env, apps };
            let connected = crate::cloud::connect(&db, &name, target).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&connected)?);
            } else {
                let t = &connected.site.target;
                println!("connected to {} as {} (token read from ${}, never stored)", t.url, connected.site.name, t.token_env);
                // The account's display name comes from the site: shown safely.
                for line in &connected.proven {
                    println!("  proven: {}", crate::terminal::shown(line));
                }
                for line in &connected.unproven {
                    println!("  not verified: {}", crate::terminal::shown(line));
                }
            }
            Ok(ExitCode::Ok)
        }
        CloudCommand::List { json } => {
            let sites = crate::cloud::list(&db).await?;
            if json {
                print_json(&sites)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["name", "url", "sign-in", "user provisioning", "apps' cloud halves", "connected"]);
            for s in sites {
                let sign_in = match (&s.target.email, &s.target.cloud_id) {
                    (Some(email), _) => format!("{email} + ${}", s.target.token_env),
                    (None, Some(_)) => format!("scoped token ${} via gateway", s.target.token_env),
                    (None, None) => "reconnect: no sign-in".into(),
                };
                let scim = match (&s.target.scim_url, &s.target.scim_token_env) {
                    (Some(url), Some(env)) => format!("{url} + ${env}"),
                    _ => "none: linked to existing accounts".into(),
                };
                let apps: Vec<String> = s
                    .target
                    .apps
                    .iter()
                    .map(|(app, link)| {
                        let secret = link.secret_env.as_ref().map_or("no secret".to_string(), |env| format!("${env}"));
                        match &link.endpoint {
                            Some(endpoint) => format!("{app}: {endpoint} (override), {secret}"),
                            None => format!("{app}: the manifest's endpoint, {secret}"),
                        }
                    })
                    .collect();
                t.add_row(vec![s.name, s.target.url, sign_in, scim, shown(&apps.join("\n")), s.connected_at]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
    }
}

/// `APP_KEY=VALUE`, both sides non-empty.
fn app_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((app, value)) if !app.trim().is_empty() && !value.trim().is_empty() => Ok((app.trim().to_string(), value.trim().to_string())),
        _ => Err(format!("{text:?}: give APP_KEY=VALUE, e.g. com.example.page-ratings=PAGE_RATINGS_SECRET")),
    }
}
