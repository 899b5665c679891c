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
    steps: Arc<Mutex<Vec<(String, Step)>>>,
}

impl Progress {
    /// Counted and recorded, shown to nobody.
    pub fn hidden() -> Progress {
        Progress { watcher: None, steps: Arc::default() }
    }

    /// Counted, recorded, and shown to `watcher` as each step starts.
    pub fn watched(watcher: Arc<dyn Watcher>) -> Progress {
        Progress { watcher: Some(watcher), steps: Arc::default() }
    }

    /// Start a step of `total` entities (0 when counted as it goes).
    pub(crate) fn step(&self, name: &str, total: u64) -> Step {
        let step = Step::default();
        step.set_length(total);
        if let Some(watcher) = &self.watcher {
            watcher.started(name, &step);
        }
        if let Ok(mut steps) = self.steps.lock() {
            steps.push((name.to_string(), step.clone()));
        }
        step
    }

    /// Done and total per step name (steps of the same name, e.g. one per space, add up).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        if let Ok(steps) = self.steps.lock() {
            for (name, step) in steps.iter() {
                let entry = out.entry(name.clone()).or_default();
                entry.0 += step.position();
                entry.1 += step.length();
            }
        }
        out
    }

    /// The same counts, shown to nobody (the recorder's copy).
    pub(crate) fn shared(&self) -> Progress {
        Progress { watcher: None, steps: self.steps.clone() }
    }
}
