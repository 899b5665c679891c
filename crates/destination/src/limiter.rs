//! One site's request budget, shared by every request Ferry sends to it: requests in
//! flight are bounded by a limit that adapts to the site (additive increase after each
//! success, halved on a 429), and a 429 pauses every request to the site until its
//! `Retry-After` has passed, not only the one that got it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The adaptive budget of one site.
pub(crate) struct Limiter {
    state: Mutex<Budget>,
    changed: Notify,
    throttled: AtomicU64,
}

struct Budget {
    in_flight: usize,
    /// The current limit (fractional, so that it grows by one per window of successes).
    limit: f64,
    max: usize,
    paused_until: Option<Instant>,
}

/// A request slot, given back when dropped.
pub(crate) struct Slot<'a>(&'a Limiter);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.state.lock() {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
        self.0.changed.notify_waiters();
    }
}

impl Limiter {
    /// A budget of at most `max` requests in flight, starting at `max`.
    pub(crate) fn new(max: usize) -> Limiter {
        let max = max.max(1);
        Limiter { state: Mutex::new(Budget { in_flight: 0, limit: max as f64, max, paused_until: None }), changed: Notify::new(), throttled: AtomicU64::new(0) }
    }

    /// Wait for a slot: while the site asked for a pause, and while the budget is spent.
    pub(crate) async fn slot(&self) -> Slot<'_> {
        loop {
            let notified = self.changed.notified();
            let wait = {
                let mut b = self.state.lock().expect("not poisoned");
                match b.paused_until {
                    Some(until) if until > Instant::now() => Some(until),
                    _ => {
                        b.paused_until = None;
                        if (b.in_flight as f64) < b.limit.floor().max(1.0) {
                            b.in_flight += 1;
                            return Slot(self);
                        }
                        None
                    }
                }
            };
            match wait {
                Some(until) => tokio::time::sleep_until(until).await,
                None => notified.await,
            }
        }
    }

    /// The site answered: one more request may be in flight after each full window.
    pub(crate) fn succeeded(&self) {
        if let Ok(mut b) = self.state.lock() {
            let limit = b.limit;
            b.limit = (limit + 1.0 / limit.max(1.0)).min(b.max as f64);
        }
    }

    /// The site throttled: halve the budget and pause every request for `wait`.
    pub(crate) fn throttled(&self, wait: Duration) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut b) = self.state.lock() {
            b.limit = (b.limit / 2.0).max(1.0);
            let until = Instant::now() + wait;
            b.paused_until = Some(b.paused_until.map_or(until, |p| p.max(until)));
        }
        self.changed.notify_waiters();
    }

    /// Requests the site has throttled so far.
    pub(crate) fn throttled_count(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// The current limit of requests in flight.
    pub(crate) fn limit(&self) -> usize {
        self.state.lock().map(|b| b.limit.floor() as usize).unwrap_or(1).max(1)
    }
}
