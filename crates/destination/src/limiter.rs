//! One site's request budget, shared by every request Ferry sends to it: requests in
//! flight are bounded by a limit that adapts to the site (additive increase after each
//! success, halved on a 429), and a 429 pauses every request to the site until its
//! `Retry-After` has passed, not only the one that got it. Once the site has said its
//! rate (`X-RateLimit-FillRate` tokens per `X-RateLimit-Interval-Seconds`), requests are
//! also spaced to just under it, so the budget is used without running into it.

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
    /// Requests given a slot so far.
    sent: AtomicU64,
}

struct Budget {
    in_flight: usize,
    /// The current limit (fractional, so that it grows by one per window of successes).
    limit: f64,
    max: usize,
    paused_until: Option<Instant>,
    /// The interval between requests the site's rate allows, and when the next may start.
    pace: Option<(Duration, Instant)>,
}

/// The seconds' worth of requests that may go at once after an idle spell (the site's
/// bucket holds about one second's worth; a little under it).
const BURST: f64 = 0.8;

/// Requests per second of a pace interval.
fn interval_rate(interval: Duration) -> f64 {
    1.0 / interval.as_secs_f64().max(1e-9)
}

/// The share of the site's stated rate Ferry uses (a little under it: clocks and
/// windows on the two sides are not the same).
const RATE_SHARE: f64 = 0.97;

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
        Limiter {
            state: Mutex::new(Budget { in_flight: 0, limit: max as f64, max, paused_until: None, pace: None }),
            changed: Notify::new(),
            throttled: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// Requests sent through this budget so far (each attempt counts).
    pub(crate) fn sent_count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Wait for a slot: while the site asked for a pause, and while the budget is spent.
    pub(crate) async fn slot(&self) -> Slot<'_> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        loop {
            let notified = self.changed.notified();
            let wait = {
                let mut b = self.state.lock().expect("not poisoned");
                match b.paused_until {
                    Some(until) if until > Instant::now() => Some(until),
                    _ => {
                        b.paused_until = None;
                        let now = Instant::now();
                        // The site's bucket refills while Ferry is idle: a burst of up to
                        // BURST seconds' worth may go at once (the cell rate algorithm).
                        match b.pace {
                            Some((interval, next)) if next > now + interval.mul_f64(BURST * interval_rate(interval)) => {
                                Some(next - interval.mul_f64(BURST * interval_rate(interval)))
                            }
                            _ if (b.in_flight as f64) < b.limit.floor().max(1.0) => {
                                if let Some((interval, next)) = b.pace {
                                    b.pace = Some((interval, next.max(now) + interval));
                                }
                                b.in_flight += 1;
                                return Slot(self);
                            }
                            _ => None,
                        }
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

    /// The site throttled: pause every request for `wait`, and halve the requests in
    /// flight (unless the site stated its rate: requests are paced to it already, and
    /// fewer in flight would only leave its budget unused).
    pub(crate) fn throttled(&self, wait: Duration) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut b) = self.state.lock() {
            if b.pace.is_none() {
                b.limit = (b.limit / 2.0).max(1.0);
            }
            let until = Instant::now() + wait;
            b.paused_until = Some(b.paused_until.map_or(until, |p| p.max(until)));
        }
        self.changed.notify_waiters();
    }

    /// The site said its rate: at most `per_second` requests a second. Requests are
    /// spaced to just under it from now on.
    pub(crate) fn learned_rate(&self, per_second: f64) {
        if !(per_second.is_finite() && per_second > 0.0) {
            return;
        }
        let interval = Duration::from_secs_f64(1.0 / (per_second * RATE_SHARE));
        if let Ok(mut b) = self.state.lock() {
            let next = b.pace.map_or_else(Instant::now, |(_, next)| next);
            b.pace = Some((interval, next));
            // The pace bounds the rate: requests in flight need only cover the latency.
            b.limit = b.max as f64;
        }
    }

    /// How long every request still waits for the pause the site asked for, if it does.
    pub(crate) fn paused_for(&self) -> Option<Duration> {
        let until = self.state.lock().ok()?.paused_until?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
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
