//! `ferry catalog …`: local folders of signed plugins an admin installs from by app key.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{print_json, shown, table, ExitCode};
use crate::plugins::catalog;
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// Register a catalog folder: signed plugin files and an index.json (docs/catalog.md).
    ///
    /// Its pooled Stage outcomes, if the index names a file of them, are imported
    /// (deduplicated by transfer id). Adding a folder again re-reads it.
    Add {
        /// The folder (a mounted share or an unpacked archive).
        dir: PathBuf,
    },
    /// List the registered catalogs and every plugin version they offer.
    List {
        /// Print the catalogs as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a catalog folder (installed plugins stay installed).
    Remove {
        /// The folder.
        dir: PathBuf,
    },
}

pub(crate) async fn run(home: &Path, command: CatalogCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        CatalogCommand::Add { dir } => {
            let added = catalog::add(&db, &dir).await?;
            let versions: usize = added.catalog.index.apps.iter().map(|a| a.versions.len()).sum();
            println!(
                "catalog {} at {}: {} apps, {versions} plugin versions",
                shown(&added.catalog.name),
                added.catalog.path.display(),
                added.catalog.index.apps.len()
            );
            if let Some(o) = added.outcomes {
                println!("pooled Stage outcomes: {} imported, {} already known", o.added, o.duplicates);
            }
            println!("Install from it with `ferry plugin install <APP_KEY> --source <DB>`.");
            Ok(ExitCode::Ok)
        }
        CatalogCommand::List { json } => {
            let catalogs = catalog::list(&db).await?;
            if json {
                print_json(&catalogs)?;
            } else if catalogs.is_empty() {
                println!("no catalogs registered: `ferry catalog add <DIR>`");
            } else {
                let mut t = table(&["catalog", "app key", "version", "contract", "Server app versions", "file", "sha256"]);
                for c in &catalogs {
                    for app in &c.index.apps {
                        for v in &app.versions {
                            t.add_row([
                                c.name.clone(),
                                app.app_key.clone(),
                                v.version.to_string(),
                                v.contract.to_string(),
                                v.server_app_versions.to_string(),
                                v.file.clone(),
                                v.sha256[..12].to_string(),
                            ]);
                        }
                    }
                }
                println!("{t}");
                for c in &catalogs {
                    println!("{}: {}", shown(&c.name), c.path.display());
                }
            }
            Ok(ExitCode::Ok)
        }
        CatalogCommand::Remove { dir } => {
            anyhow::ensure!(catalog::remove(&db, &dir).await?, "{} is not a registered catalog (`ferry catalog list` shows them)", dir.display());
            println!("forgot the catalog {}", dir.display());
            Ok(ExitCode::Ok)
        }
    }
}
