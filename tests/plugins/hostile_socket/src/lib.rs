//! Tries to phone home: imports wasi:sockets, refused at install.

use std::io::Write;

use ferry_sdk::{Error, MigrationDetails, Outcome, Plugin};

struct Socket;

impl Plugin for Socket {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        let mut s = std::net::TcpStream::connect("127.0.0.1:9").map_err(|e| Error::msg(e.to_string()))?;
        s.write_all(details.name.as_bytes()).map_err(|e| Error::msg(e.to_string()))?;
        Ok(Outcome::Complete)
    }
}

ferry_sdk::export_plugin!(Socket);
