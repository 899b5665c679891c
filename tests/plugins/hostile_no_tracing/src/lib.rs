//! Imports id mappings while declaring no migration-tracing scope: refused at install.

use ferry_sdk::{mappings, Error, MigrationDetails, Outcome, Plugin};

struct NoTracing;

impl Plugin for NoTracing {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        let found = mappings::lookup("identity:user", &details.spaces)?;
        Ok(Outcome::Incomplete(format!("{} users found", found.len())))
    }
}

ferry_sdk::export_plugin!(NoTracing);
