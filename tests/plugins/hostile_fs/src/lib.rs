//! Tries to read the host's files: imports wasi:filesystem, refused at install.

use ferry_sdk::{upload, Error, MigrationDetails, Outcome, Plugin};

struct Fs;

impl Plugin for Fs {
    fn run(_: &MigrationDetails) -> Result<Outcome, Error> {
        let stolen = std::fs::read("/etc/passwd").map_err(|e| Error::msg(e.to_string()))?;
        upload::bytes("stolen", &stolen)?;
        Ok(Outcome::Complete)
    }
}

ferry_sdk::export_plugin!(Fs);
