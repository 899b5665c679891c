//! A well-formed plugin that also imports `wasi:clocks/monotonic-clock@0.3.0`: a clock
//! interface plugins may use, at a version the host does not serve. It passes a check of
//! import names; only linking against the served world shows it can never run.

use ferry_sdk::{Error, MigrationDetails, Outcome, Plugin};

mod clock {
    wit_bindgen::generate!({
        inline: r#"
            package wasi:clocks@0.3.0;
            interface monotonic-clock {
                now: func() -> u64;
            }
            world clock {
                import monotonic-clock;
            }
        "#,
        world: "clock",
    });
}

struct FutureClock;

impl Plugin for FutureClock {
    fn run(_details: &MigrationDetails) -> Result<Outcome, Error> {
        let now = clock::wasi::clocks::monotonic_clock::now();
        Ok(Outcome::Incomplete(format!("the clock said {now}")))
    }
}

ferry_sdk::export_plugin!(FutureClock);
