//! `ferry trust …`: the vendor keys whose signatures this Ferry accepts.

use std::path::Path;

use clap::Subcommand;

use super::{print_json, shown, table, ExitCode};
use crate::plugins::registry::Registry;
use crate::plugins::signature::PublicKey;
use crate::plugins::trust;
use crate::state::StateDb;

#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Trust a vendor's public key: plugins it signs install without --allow-unsigned.
    ///
    /// Check the key with the vendor through a channel you trust (their site, a call)
    /// before adding it: whoever holds the matching signing key can then ship plugins
    /// this Ferry installs.
    Add {
        /// The name shown for the key, e.g. the vendor's name.
        name: String,
        /// The public key (`ed25519:` and 64 hex digits) or the .pub file
        /// `ferry plugin keygen` wrote.
        public_key: String,
    },
    /// List the trusted keys.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting a key. Plugins it signed stay installed but are flagged and no longer
    /// run (unless they were installed with --allow-unsigned).
    Remove {
        /// The key's name.
        name: String,
    },
}

pub(crate) async fn run(home: &Path, command: TrustCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        TrustCommand::Add { name, public_key } => {
            let text = if Path::new(&public_key).is_file() {
                std::fs::read_to_string(&public_key).map_err(|e| anyhow::anyhow!("cannot read {public_key}: {e}"))?
            } else {
                public_key
            };
            let key = PublicKey::parse(&text)?;
            let added = trust::add(&db, &name, &key).await?;
            println!("trusted {} as `{}`", added.fingerprint, shown(&added.name));
            Ok(ExitCode::Ok)
        }
        TrustCommand::List { json } => {
            let keys = trust::list(&db).await?;
            if json {
                print_json(&keys)?;
            } else if keys.is_empty() {
                println!("no trusted keys: `ferry trust add <VENDOR> <PUBLIC-KEY>`");
            } else {
                let mut t = table(&["name", "fingerprint", "public key", "added"]);
                for k in keys {
                    t.add_row([k.name, k.fingerprint, k.public_key, k.added_at]);
                }
                println!("{t}");
            }
            Ok(ExitCode::Ok)
        }
        TrustCommand::Remove { name } => {
            anyhow::ensure!(trust::remove(&db, &name).await?, "no trusted key is named `{name}` (`ferry trust list` shows them)");
            println!("no longer trusting `{}`", shown(&name));
            for plugin in Registry::new(db).list().await? {
                if let Some(problem) = plugin.trust_problem() {
                    println!("flagged: {}", shown(&problem));
                }
            }
            Ok(ExitCode::Ok)
        }
    }
}
