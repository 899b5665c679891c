//! The one gate every plugin-callable host function goes through: a scope check against
//! the live grant, and one audit-log write per call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use ferry_manifest::{Scope, ScopeSet};
use serde::Serialize;

/// The scopes granted to one run. Live: revoking a scope while the plugin runs makes
/// its very next call that needs the scope fail with `denied`.
#[derive(Debug, Default)]
pub struct Grant {
    bits: AtomicU16,
}

impl Grant {
    /// A grant of `scopes`, shareable between the run and whoever may revoke it.
    pub fn new(scopes: ScopeSet) -> Arc<Grant> {
        Arc::new(Grant { bits: AtomicU16::new(scopes.bits()) })
    }

    /// The scopes granted right now.
    pub fn current(&self) -> ScopeSet {
        ScopeSet::from_bits(self.bits.load(Ordering::SeqCst))
    }

    /// Withdraw one scope, effective for the next call.
    pub fn revoke(&self, scope: Scope) {
        self.bits.fetch_and(!ScopeSet::EMPTY.with(scope).bits(), Ordering::SeqCst);
    }

    /// Withdraw every scope (consent revoked).
    pub fn revoke_all(&self) {
        self.bits.store(0, Ordering::SeqCst);
    }
}

/// Calls and volume under one scope (or under no scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScopeUse {
    /// Calls allowed.
    pub calls: u64,
    /// Rows returned.
    pub rows: u64,
    /// Bytes returned or uploaded.
    pub bytes: u64,
    /// Calls denied for lack of this scope.
    pub denied: u64,
}

/// How much data a call moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Volume {
    /// Rows or entities returned.
    pub rows: u64,
    /// Bytes returned or uploaded.
    pub bytes: u64,
}

/// One audit-log record. Consecutive calls that are identical but for their volume are
/// coalesced into one record whose `calls` counts them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Order within the run.
    pub seq: u64,
    /// The host function, e.g. `app-tables.read`.
    pub function: &'static str,
    /// The scopes the call needed.
    #[serde(serialize_with = "serialize_scopes")]
    pub scopes: ScopeSet,
    /// Whether the grant allowed it.
    pub allowed: bool,
    /// The first missing scope, on denial.
    pub denied_scope: Option<Scope>,
    /// Calls coalesced into this record.
    pub calls: u64,
    /// Rows returned, summed over the calls.
    pub rows: u64,
    /// Bytes returned or uploaded, summed over the calls.
    pub bytes: u64,
    /// What went wrong, for allowed calls that failed (not found, invalid, quota).
    pub detail: Option<String>,
}

fn serialize_scopes<S: serde::Serializer>(scopes: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(scopes.iter().map(Scope::name))
}

/// Where full journals go (the state DB in production).
pub type JournalSink = Box<dyn FnMut(&[AuditRecord]) + Send>;

/// The gate of one run: the live grant and the run's audit journal.
pub struct Gate {
    grant: Arc<Grant>,
    records: Vec<AuditRecord>,
    next_seq: u64,
    sink: Option<JournalSink>,
    summary: BTreeMap<String, ScopeUse>,
    denials: Vec<AuditRecord>,
}

/// Denied calls kept in full for the run's report (all are in the journal).
const DENIALS_KEPT: usize = 10_000;

/// Records held in memory before the journal is handed to its sink.
const JOURNAL_FLUSH: usize = 16_384;

impl Gate {
    /// A gate over `grant`, handing full journals to `sink`.
    pub fn new(grant: Arc<Grant>, sink: Option<JournalSink>) -> Gate {
        Gate { grant, records: Vec::new(), next_seq: 0, sink, summary: BTreeMap::new(), denials: Vec::new() }
    }

    /// The live grant.
    pub fn grant(&self) -> &Arc<Grant> {
        &self.grant
    }

    /// The scope check: every scope in `needs` must be granted now. Returns the first
    /// missing scope.
    pub fn check(&self, needs: ScopeSet) -> Result<(), Scope> {
        let granted = self.grant.current();
        match needs.iter().find(|s| !granted.contains(*s)) {
            Some(missing) => Err(missing),
            None => Ok(()),
        }
    }

    /// The audit write: one per call, allowed or denied.
    pub fn record(&mut self, function: &'static str, scopes: ScopeSet, outcome: CallOutcome) {
        let (allowed, denied_scope, volume, detail) = match outcome {
            CallOutcome::Served(v) => (true, None, v, None),
            CallOutcome::Failed(why) => (true, None, Volume::default(), Some(why)),
            CallOutcome::Denied(scope) => (false, Some(scope), Volume::default(), None),
        };
        self.tally(scopes, denied_scope, volume);
        if let Some(last) = self.records.last_mut() {
            if last.function == function
                && last.scopes == scopes
                && last.allowed == allowed
                && last.denied_scope == denied_scope
                && last.detail == detail
            {
                last.calls += 1;
                last.rows += volume.rows;
                last.bytes += volume.bytes;
                return;
            }
        }
        if self.records.len() >= JOURNAL_FLUSH {
            self.flush();
        }
        let record = AuditRecord {
            seq: self.next_seq,
            function,
            scopes,
            allowed,
            denied_scope,
            calls: 1,
            rows: volume.rows,
            bytes: volume.bytes,
            detail,
        };
        if !allowed && self.denials.len() < DENIALS_KEPT {
            self.denials.push(record.clone());
        }
        self.records.push(record);
        self.next_seq += 1;
    }

    /// Add one call to the per-scope totals.
    fn tally(&mut self, scopes: ScopeSet, denied: Option<Scope>, volume: Volume) {
        if let Some(scope) = denied {
            self.summary.entry(scope.name().to_string()).or_default().denied += 1;
            return;
        }
        let keys: Vec<&str> = if scopes.is_empty() { vec!["none"] } else { scopes.iter().map(Scope::name).collect() };
        for key in keys {
            let entry = self.summary.entry(key.to_string()).or_default();
            entry.calls += 1;
            entry.rows += volume.rows;
            entry.bytes += volume.bytes;
        }
    }

    /// Calls, rows, bytes and denials per scope (`none` for calls that need no scope).
    pub fn summary(&self) -> &BTreeMap<String, ScopeUse> {
        &self.summary
    }

    /// The denied calls of the run (the first 10,000).
    pub fn denials(&self) -> &[AuditRecord] {
        &self.denials
    }

    /// Hand the journal to the sink, if there is one.
    pub fn flush(&mut self) {
        if let Some(sink) = self.sink.as_mut() {
            sink(&self.records);
            self.records.clear();
        }
    }

    /// The records still held (all of them when there is no sink).
    pub fn records(&self) -> &[AuditRecord] {
        &self.records
    }
}

/// What became of one call, for the audit record.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// Served with this volume.
    Served(Volume),
    /// Allowed, but failed for the given reason.
    Failed(String),
    /// Denied for lack of this scope.
    Denied(Scope),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoking_a_scope_denies_the_next_check() {
        let grant = Grant::new([Scope::AppDataOther, Scope::AppDataPii].into_iter().collect());
        let gate = Gate::new(grant.clone(), None);
        let needs = ScopeSet::EMPTY.with(Scope::AppDataPii);
        assert_eq!(gate.check(needs), Ok(()));
        grant.revoke(Scope::AppDataPii);
        assert_eq!(gate.check(needs), Err(Scope::AppDataPii));
    }

    #[test]
    fn identical_consecutive_calls_coalesce_into_one_record() {
        let mut gate = Gate::new(Grant::new(ScopeSet::EMPTY), None);
        for _ in 0..3 {
            gate.record("progress.report", ScopeSet::EMPTY, CallOutcome::Served(Volume::default()));
        }
        gate.record("app-tables.read", ScopeSet::EMPTY.with(Scope::AppDataOther), CallOutcome::Denied(Scope::AppDataOther));
        assert_eq!(gate.records().len(), 2);
        assert_eq!(gate.records()[0].calls, 3);
        assert_eq!(gate.records()[1].denied_scope, Some(Scope::AppDataOther));
    }
}
