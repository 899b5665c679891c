//! Misbehaves at run time as `details.name` asks, and reports what the host answered as
//! the `incomplete` reason, so tests can assert the exact error a plugin sees.

use ferry_sdk::bindings::ferry::migration::app_tables;
use ferry_sdk::{progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Any {
    #[serde(rename = "ID")]
    id: i64,
}

fn first_error(table: &str, columns: &[&str]) -> Result<Outcome, Error> {
    match tables::rows::<Any>(table, columns).next() {
        Some(Err(e)) => Ok(Outcome::Incomplete(e.to_string())),
        _ => Ok(Outcome::Complete),
    }
}

struct Probe;

impl Plugin for Probe {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        match details.name.as_str() {
            "foreign-table" => first_error("AO_FCAC82_EVENT", &["ID"]),
            "undeclared-column" => first_error("AO_530061_RATING", &["ID", "SECRET_TOKEN"]),
            "pii-column" => first_error("AO_530061_RATING", &["ID", "USER_KEY"]),
            "revoke" => {
                let columns = vec!["ID".to_string(), "STARS".to_string()];
                let mut reads = 0u64;
                loop {
                    match app_tables::read("AO_530061_RATING", &columns, None, 1) {
                        Ok(_) => {
                            reads += 1;
                            if reads == 1 {
                                progress(50, "first read done");
                            }
                        }
                        Err(e) => return Ok(Outcome::Incomplete(format!("{reads} reads, then {}", Error::from(e)))),
                    }
                }
            }
            "spin" => {
                let mut n = 0u64;
                loop {
                    n = n.wrapping_add(1);
                    std::hint::black_box(n);
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "upload" => {
                let chunk = vec![b'x'; 1 << 20];
                let mut sent = 0;
                loop {
                    match upload::bytes("flood.bin", &chunk) {
                        Ok(_) => sent += 1,
                        Err(e) => return Ok(Outcome::Incomplete(format!("{sent} uploads, then {e}"))),
                    }
                }
            }
            "chatty" => {
                for n in 0..10_000 {
                    ferry_sdk::log::info(&format!("line {n:05} of a plugin that logs far too much, padded to about a hundred bytes"));
                }
                println!("and some stdout");
                Ok(Outcome::Complete)
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            other => Err(Error::msg(format!("unknown probe {other}"))),
        }
    }
}

ferry_sdk::export_plugin!(Probe);
