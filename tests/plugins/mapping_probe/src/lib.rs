//! Reports, as its `incomplete` reason, the space and page mappings the host serves it
//! (`details.name` = `list`), or floods `mappings.page` with 32 MiB namespaces (`echo`).

use ferry_sdk::bindings::ferry::migration::mappings;
use ferry_sdk::{Error, MigrationDetails, Outcome, Plugin};

fn server_ids(namespace: &str) -> Result<String, Error> {
    let mut ids = Vec::new();
    for m in ferry_sdk::mappings::iter(namespace) {
        ids.push(m?.server_id);
    }
    ids.sort();
    Ok(ids.join(","))
}

struct MappingProbe;

impl Plugin for MappingProbe {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        match details.name.as_str() {
            "list" => {
                let (spaces, pages) = (server_ids("confluence:space")?, server_ids("confluence:page")?);
                let looked_up = ferry_sdk::mappings::lookup("confluence:page", &["2001", "2002", "3001"])?;
                let mut found: Vec<_> = looked_up.into_keys().collect();
                found.sort();
                Ok(Outcome::Incomplete(format!("spaces: {spaces}; pages: {pages}; lookup: {}", found.join(","))))
            }
            "echo" => {
                let huge = "N".repeat(32 << 20);
                let mut longest = 0;
                for _ in 0..100 {
                    if let Err(e) = mappings::page(&huge, Some(&huge), 1) {
                        longest = longest.max(Error::from(e).to_string().len());
                    }
                }
                Ok(Outcome::Incomplete(format!("longest error {longest} bytes")))
            }
            other => Err(Error::msg(format!("unknown probe {other}"))),
        }
    }
}

ferry_sdk::export_plugin!(MappingProbe);
