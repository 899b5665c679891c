//! Text and progress for a terminal.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ferry_migrate::{Progress, Step, Watcher};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Text made safe for a terminal (crate `ferry-core`).
pub use ferry_core::shown;

/// How often the bars are redrawn from the steps' counts.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// A run's progress drawn as bars on stderr, one per step as it starts.
pub fn progress() -> Progress {
    Progress::watched(Arc::new(Bars::new()))
}

/// The bars, redrawn from the steps' counts by a thread that ends with them.
struct Bars {
    multi: MultiProgress,
    shown: Arc<Mutex<Vec<(ProgressBar, Step)>>>,
}

impl Bars {
    fn new() -> Bars {
        let shown: Arc<Mutex<Vec<(ProgressBar, Step)>>> = Arc::default();
        let weak = Arc::downgrade(&shown);
        std::thread::spawn(move || redraw_while_shown(weak));
        Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), shown }
    }
}

fn redraw_while_shown(shown: Weak<Mutex<Vec<(ProgressBar, Step)>>>) {
    while let Some(shown) = shown.upgrade() {
        redraw(&shown);
        drop(shown);
        std::thread::sleep(REDRAW_EVERY);
    }
}

fn redraw(bars: &Mutex<Vec<(ProgressBar, Step)>>) {
    let Ok(bars) = bars.lock() else { return };
    for (bar, step) in bars.iter().filter(|(bar, _)| !bar.is_finished()) {
        bar.set_length(step.length());
        bar.set_position(step.position());
        let message = step.message();
        if !message.is_empty() {
            bar.set_message(shown(&message));
        }
        if step.is_finished() {
            bar.finish();
        }
    }
}

impl Watcher for Bars {
    fn started(&self, name: &str, step: &Step) {
        let bar = self.multi.add(ProgressBar::new(step.length()));
        bar.set_style(ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}").expect("valid template").progress_chars("=> "));
        bar.set_prefix(name.to_string());
        if let Ok(mut shown) = self.shown.lock() {
            shown.push((bar, step.clone()));
        }
    }
}

impl Drop for Bars {
    /// The last counts are drawn before the bars go.
    fn drop(&mut self) {
        redraw(&self.shown);
    }
}
