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
            // Sleeps through WASI (a monotonic-clock pollable the host waits on) far past
            // any deadline a test sets.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                Ok(Outcome::Complete)
            }
            // Passes 32 MiB names to calls that repeat what they were given in errors.
            "echo-flood" => {
                let huge = "N".repeat(32 << 20);
                let columns = vec![huge.clone()];
                let mut longest = 0;
                for _ in 0..100 {
                    for e in [
                        app_tables::read(&huge, &columns, Some(&huge), 1).err(),
                        app_tables::read("AO_530061_RATING", &["ID".to_string()], Some(&huge), 1).err(),
                        app_tables::read("AO_530061_RATING", &columns, None, 1).err(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        longest = longest.max(Error::from(e).to_string().len());
                    }
                }
                Ok(Outcome::Incomplete(format!("longest error {longest} bytes")))
            }
            "empty-lines" => {
                for _ in 0..3_000_000 {
                    ferry_sdk::log::info("");
                }
                Ok(Outcome::Complete)
            }
            // Alternates two calls so consecutive audit records never coalesce.
            "alternate" => {
                for _ in 0..500_000 {
                    progress(1, "");
                    ferry_sdk::log::debug("x");
                }
                Ok(Outcome::Complete)
            }
            "big-error" => Err(Error::msg("E".repeat(10 << 20))),
            "big-incomplete" => Ok(Outcome::Incomplete("I".repeat(10 << 20))),
            "empty-uploads" => {
                for sent in 0..100_000 {
                    if let Err(e) = upload::bytes("empty", &[]) {
                        return Ok(Outcome::Incomplete(format!("{sent} uploads, then {e}")));
                    }
                }
                Ok(Outcome::Complete)
            }
            "println-flood" => {
                let line = "p".repeat(4095);
                for _ in 0..1024 {
                    println!("{line}");
                }
                eprintln!("and still running");
                Ok(Outcome::Complete)
            }
            // Text meant to rewrite a terminal: clear the line, then a fake green status.
            "escape" => {
                ferry_sdk::log::info("\u{1b}[1A\u{1b}[2Kstatus: \u{1b}[32mcomplete\u{1b}[0m");
                Ok(Outcome::Incomplete("\u{1b}[2K\rcomplete".into()))
            }
            other => Err(Error::msg(format!("unknown probe {other}"))),
        }
    }
}

ferry_sdk::export_plugin!(Probe);
