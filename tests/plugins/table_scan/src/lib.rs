//! Benchmark plugin. `details.name` picks the work:
//! - `bench-calls:N`: N progress reports with a one-character message (host-call cost);
//! - `scan`: read every row of the ratings table into a struct, upload a summary;
//! - anything else: return at once.

use ferry_sdk::{progress, tables, upload, Error, MigrationDetails, Outcome, Plugin};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Row {
    #[allow(dead_code)]
    id: i64,
    stars: i64,
}

struct TableScan;

impl Plugin for TableScan {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        if let Some(n) = details.name.strip_prefix("bench-calls:") {
            let n: u32 = n.parse().map_err(|_| Error::msg("bad call count"))?;
            for _ in 0..n {
                progress(1, "x");
            }
            return Ok(Outcome::Complete);
        }
        if details.name != "scan" {
            return Ok(Outcome::Complete);
        }
        let (mut rows, mut stars) = (0u64, 0i64);
        for row in tables::rows::<Row>("AO_530061_RATING", &["ID", "STARS"]) {
            rows += 1;
            stars += row?.stars;
        }
        upload::bytes("scan.json", format!("{{\"rows\":{rows},\"stars\":{stars}}}").as_bytes())?;
        Ok(Outcome::Complete)
    }
}

ferry_sdk::export_plugin!(TableScan);
