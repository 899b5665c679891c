//! `ferry site`: the Server sites ferry has read, by identity.

use std::path::Path;

use clap::Subcommand;

use super::{print_json, shown, table, ExitCode, SourceArgs};
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum SiteCommand {
    /// Read a Server site's identity (its server id, else a fingerprint of its oldest
    /// rows) and keep it, with where it is read from: the dashboard and the API read only
    /// sites added here. Plans, `apps assess` and `plan spaces` add the site they read too.
    Add {
        #[command(flatten)]
        source: SourceArgs,
        /// A name to know it by (shown beside its id; usable in its place).
        #[arg(long)]
        name: Option<String>,
        /// Print the site as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The Server sites ferry has read: identity, how it was found, name, location, base
    /// URL, and how many plans read it.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Name a site (most useful for one known by a fingerprint, which nothing in its
    /// database names).
    Name {
        /// The site's id (or current name).
        site: String,
        /// Its new name.
        name: String,
    },
}

pub(crate) async fn run(home: &Path, command: SiteCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        SiteCommand::Add { source, name, json } => {
            let connected = source.connect().await?;
            let identity = crate::sites::identify(&db, &connected, source.source_password_env.as_deref()).await?;
            let site = match name {
                Some(name) => crate::sites::name(&db, &identity.id, &name).await?,
                None => crate::sites::get(&db, &identity.id).await?,
            };
            if json {
                print_json(&site)?;
                return Ok(ExitCode::Ok);
            }
            println!("{} site {} (by its {})", site.product, shown(&site.id), site.origin);
            if crate::sites::is_fingerprint(&site.origin) && site.name.is_none() {
                println!("  its database holds no server id: name it with `ferry site name {} NAME`", shown(&site.id));
            }
            Ok(ExitCode::Ok)
        }
        SiteCommand::List { json } => {
            let sites = crate::sites::list(&db).await?;
            if json {
                print_json(&sites)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["site", "by", "name", "product", "location", "base URL", "plans", "last read"]);
            for s in sites {
                t.add_row(vec![
                    s.id,
                    s.origin,
                    s.name.unwrap_or_default(),
                    s.product,
                    crate::source::redact_url(&s.location),
                    s.base_url.unwrap_or_default(),
                    s.plans.to_string(),
                    s.last_seen,
                ]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
        SiteCommand::Name { site, name } => {
            let site = crate::sites::name(&db, &site, &name).await?;
            println!("site {} is named {}", shown(&site.id), shown(site.name.as_deref().unwrap_or_default()));
            Ok(ExitCode::Ok)
        }
    }
}
