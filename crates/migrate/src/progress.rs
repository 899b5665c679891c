//! Progress per step, counted by the migrator and shown by whoever watches: the command
//! line draws bars from it, a running plan records it in the state DB every half
//! second for `plan list` and the dashboard in another process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One step's counts (one per step name, or one per space for pages and comments),
/// shared by the migrator that moves the entities and whoever shows them.
#[derive(Clone, Default)]
pub struct Step(Arc<Counts>);

#[derive(Default)]
struct Counts {
    done: AtomicU64,
    total: AtomicU64,
    finished: AtomicBool,
    message: Mutex<String>,
}

impl Step {
    /// Count `n` more entities done.
    pub fn inc(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Set the count done.
    pub fn set_position(&self, n: u64) {
        self.0.done.store(n, Ordering::Relaxed);
    }

    /// Set the total (0 while it is not known).
    pub fn set_length(&self, n: u64) {
        self.0.total.store(n, Ordering::Relaxed);
    }

    /// Say what the step is on (a space key, for instance).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Ok(mut m) = self.0.message.lock() {
            *m = message.into();
        }
    }

    /// The count done.
    pub fn position(&self) -> u64 {
        self.0.done.load(Ordering::Relaxed)
    }

    /// The total: never less than the count done, so a step counted without a known
    /// total shows what it got to.
    pub fn length(&self) -> u64 {
        self.0.total.load(Ordering::Relaxed).max(self.position())
    }

    /// What the step is on.
    pub fn message(&self) -> String {
        self.0.message.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Whether the step ended.
    pub fn is_finished(&self) -> bool {
        self.0.finished.load(Ordering::Relaxed)
    }

    /// End the step where it got to.
    pub(crate) fn finish(&self) {
        self.set_length(self.length());
        self.0.finished.store(true, Ordering::Relaxed);
    }
}

/// Someone shown each step as it starts (the command line draws a bar for it and
/// redraws it from the step's counts).
pub trait Watcher: Send + Sync {
    /// A step named `name` started.
    fn started(&self, name: &str, step: &Step);
}

/// A run's steps, and who watches them.
pub struct Progress {
    watcher: Option<Arc<dyn Watcher>>,
    shared: Arc<Mutex<Shared>>,
}

/// What every copy of a run's progress sees.
#[derive(Default)]
struct Shared {
    /// The steps the run will take, in order, with the entities each has (counted from
    /// the plan's scope before the run starts; 0: counted as it goes).
    planned: Vec<(String, u64)>,
    /// Each step started, in the order they started (steps of one name, e.g. one per
    /// space, add up), with when the first of its name started.
    started: Vec<(String, Step)>,
    first_started: BTreeMap<String, String>,
}

/// One step as a run shows it: its entities done and in all, when it started, whether it
/// ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCount {
    /// The step's name (`users`, `pages`, ...).
    pub name: String,
    /// Entities done.
    pub done: u64,
    /// Entities in all (known before the run for planned steps).
    pub total: u64,
    /// When it started (RFC 3339), if it did.
    pub started_at: Option<String>,
    /// Whether it ended with every entity done.
    pub finished: bool,
}

impl Progress {
    /// Counted and recorded, shown to nobody.
    pub fn hidden() -> Progress {
        Progress { watcher: None, shared: Arc::default() }
    }

    /// Counted, recorded, and shown to `watcher` as each step starts.
    pub fn watched(watcher: Arc<dyn Watcher>) -> Progress {
        Progress { watcher: Some(watcher), shared: Arc::default() }
    }

    /// The steps the run will take, in order, each with its entities (0: not known
    /// before it runs): shown from the start, so bars move from 0 to 100 %.
    pub(crate) fn plan(&self, steps: Vec<(String, u64)>) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.planned = steps;
        }
    }

    /// Start a step of `total` entities (0 when counted as it goes).
    pub(crate) fn step(&self, name: &str, total: u64) -> Step {
        let step = Step::default();
        step.set_length(total);
        if let Some(watcher) = &self.watcher {
            watcher.started(name, &step);
        }
        if let Ok(mut shared) = self.shared.lock() {
            shared.started.push((name.to_string(), step.clone()));
            shared.first_started.entry(name.to_string()).or_insert_with(ferry_core::state::now);
        }
        step
    }

    /// Each step, the planned ones first in the order they run, then any other in the
    /// order it started: done and total add up over steps of one name; a planned step's
    /// total is at least what was planned.
    pub(crate) fn snapshot(&self) -> Vec<StepCount> {
        let Ok(shared) = self.shared.lock() else { return Vec::new() };
        let mut names: Vec<&str> = shared.planned.iter().map(|(n, _)| n.as_str()).collect();
        for (name, _) in &shared.started {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
            .into_iter()
            .map(|name| {
                let planned = shared.planned.iter().find(|(n, _)| n == name).map_or(0, |(_, total)| *total);
                let of_name: Vec<&Step> = shared.started.iter().filter(|(n, _)| n == name).map(|(_, s)| s).collect();
                let done: u64 = of_name.iter().map(|s| s.position()).sum();
                let total = planned.max(of_name.iter().map(|s| s.length()).sum());
                StepCount {
                    name: name.to_string(),
                    done,
                    total,
                    started_at: shared.first_started.get(name).cloned(),
                    finished: !of_name.is_empty() && of_name.iter().all(|s| s.is_finished()) && done >= total,
                }
            })
            .collect()
    }

    /// The same counts, shown to nobody (the recorder's copy).
    pub(crate) fn shared(&self) -> Progress {
        Progress { watcher: None, shared: self.shared.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_steps_come_first_in_run_order_with_their_totals_and_same_name_steps_add_up() {
        let progress = Progress::hidden();
        progress.plan(vec![("users".into(), 10), ("pages".into(), 7), ("attachments".into(), 3)]);
        let shown = progress.snapshot();
        let names: Vec<&str> = shown.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["users", "pages", "attachments"]);
        assert!(shown.iter().all(|s| s.done == 0 && s.started_at.is_none() && !s.finished), "{shown:?}");
        assert_eq!(shown[1].total, 7, "the planned total shows before the step starts");

        // Pages of two spaces: one step each, added up; not finished until all are done.
        let first = progress.step("pages", 0);
        first.inc(4);
        first.finish();
        let extra = progress.step("verify", 2);
        let pages = |p: &Progress| p.snapshot().into_iter().find(|s| s.name == "pages").unwrap();
        assert_eq!((pages(&progress).done, pages(&progress).total, pages(&progress).finished), (4, 7, false));
        let second = progress.step("pages", 0);
        second.inc(3);
        second.finish();
        assert_eq!((pages(&progress).done, pages(&progress).finished), (7, true));
        assert!(pages(&progress).started_at.is_some());
        // A step nobody planned comes after the planned ones.
        extra.inc(1);
        let names: Vec<String> = progress.snapshot().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["users", "pages", "attachments", "verify"]);
    }
}
