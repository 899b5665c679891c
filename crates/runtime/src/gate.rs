//! The one gate every plugin-callable host function goes through: a scope check against
//! the live grant, and one audit-log write per call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use ferry_manifest::{Scope, ScopeSet};
use serde::Serialize;

use super::limits::{cut_owned, DETAIL_BYTES};

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
/// coalesced into one record whose `calls` counts them; calls past the detailed part of
/// the journal are summed into one `summarised` record per kind of call.
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
    /// What went wrong, for allowed calls that failed (not found, invalid, quota); cut
    /// to [`DETAIL_BYTES`]. A summarised record keeps the first.
    pub detail: Option<String>,
    /// Whether this record sums calls made after the detailed journal was full.
    pub summarised: bool,
}

fn serialize_scopes<S: serde::Serializer>(scopes: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(scopes.iter().map(Scope::name))
}

/// Detailed records kept per run for allowed calls; later calls are summarised.
pub const DETAILED_RECORDS: usize = 1_000;

/// Detailed records kept per run for denied calls; later denials are summarised (and
/// still counted, per scope and per function).
pub const DENIALS_KEPT: usize = 10_000;

/// The kind of a call, as summarised past the detailed journal.
type CallKind = (&'static str, u16, bool, Option<Scope>);

/// The gate of one run: the live grant and the run's audit journal. The journal is
/// bounded whatever the plugin does: at most [`DETAILED_RECORDS`] + [`DENIALS_KEPT`]
/// detailed records, then one summarised record per kind of call.
pub struct Gate {
    grant: Arc<Grant>,
    records: Vec<AuditRecord>,
    allowed_records: usize,
    denial_records: usize,
    summarised: BTreeMap<CallKind, AuditRecord>,
    /// Whether the previous call went into the last detailed record (so the next one,
    /// if identical, may coalesce into it).
    last_detailed: bool,
    next_seq: u64,
    summary: BTreeMap<String, ScopeUse>,
}

impl Gate {
    /// A gate over `grant`.
    pub fn new(grant: Arc<Grant>) -> Gate {
        Gate {
            grant,
            records: Vec::new(),
            allowed_records: 0,
            denial_records: 0,
            summarised: BTreeMap::new(),
            last_detailed: false,
            next_seq: 0,
            summary: BTreeMap::new(),
        }
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
            CallOutcome::Failed(why) => (true, None, Volume::default(), Some(cut_owned(why, DETAIL_BYTES))),
            CallOutcome::Denied(scope) => (false, Some(scope), Volume::default(), None),
        };
        self.tally(scopes, denied_scope, volume);
        if let Some(last) = self.records.last_mut().filter(|_| self.last_detailed) {
            if last.function == function && last.scopes == scopes && last.allowed == allowed && last.denied_scope == denied_scope && last.detail == detail {
                last.calls += 1;
                last.rows += volume.rows;
                last.bytes += volume.bytes;
                return;
            }
        }
        let room = if allowed { self.allowed_records < DETAILED_RECORDS } else { self.denial_records < DENIALS_KEPT };
        self.last_detailed = room;
        if !room {
            let kind = (function, scopes.bits(), allowed, denied_scope);
            let sum = self.summarised.entry(kind).or_insert_with(|| AuditRecord {
                seq: 0,
                function,
                scopes,
                allowed,
                denied_scope,
                calls: 0,
                rows: 0,
                bytes: 0,
                detail: detail.clone(),
                summarised: true,
            });
            sum.calls += 1;
            sum.rows += volume.rows;
            sum.bytes += volume.bytes;
            return;
        }
        if allowed {
            self.allowed_records += 1;
        } else {
            self.denial_records += 1;
        }
        self.records.push(AuditRecord {
            seq: self.next_seq,
            function,
            scopes,
            allowed,
            denied_scope,
            calls: 1,
            rows: volume.rows,
            bytes: volume.bytes,
            detail,
            summarised: false,
        });
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

    /// The detailed records of denied calls (the first [`DENIALS_KEPT`] kinds in a row).
    pub fn denials(&self) -> Vec<AuditRecord> {
        self.records.iter().filter(|r| !r.allowed).cloned().collect()
    }

    /// The whole journal: the detailed records in call order, then the summarised ones.
    pub fn journal(&self) -> Vec<AuditRecord> {
        let mut all = self.records.clone();
        for (seq, record) in (self.next_seq..).zip(self.summarised.values()) {
            all.push(AuditRecord { seq, ..record.clone() });
        }
        all
    }

    /// Calls summed into summarised records rather than kept in detail.
    pub fn summarised_calls(&self) -> u64 {
        self.summarised.values().map(|r| r.calls).sum()
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
        let gate = Gate::new(grant.clone());
        let needs = ScopeSet::EMPTY.with(Scope::AppDataPii);
        assert_eq!(gate.check(needs), Ok(()));
        grant.revoke(Scope::AppDataPii);
        assert_eq!(gate.check(needs), Err(Scope::AppDataPii));
    }

    #[test]
    fn identical_consecutive_calls_coalesce_into_one_record() {
        let mut gate = Gate::new(Grant::new(ScopeSet::EMPTY));
        for _ in 0..3 {
            gate.record("progress.report", ScopeSet::EMPTY, CallOutcome::Served(Volume::default()));
        }
        gate.record("app-tables.read", ScopeSet::EMPTY.with(Scope::AppDataOther), CallOutcome::Denied(Scope::AppDataOther));
        assert_eq!(gate.journal().len(), 2);
        assert_eq!(gate.journal()[0].calls, 3);
        assert_eq!(gate.journal()[1].denied_scope, Some(Scope::AppDataOther));
    }

    #[test]
    fn alternating_calls_leave_a_bounded_journal_with_every_call_counted() {
        let mut gate = Gate::new(Grant::new(ScopeSet::EMPTY.with(Scope::AppDataOther)));
        let other = ScopeSet::EMPTY.with(Scope::AppDataOther);
        let pii = ScopeSet::EMPTY.with(Scope::AppDataPii);
        for _ in 0..100_000 {
            gate.record("progress.report", ScopeSet::EMPTY, CallOutcome::Served(Volume::default()));
            gate.record("app-tables.count", other, CallOutcome::Served(Volume { rows: 1, bytes: 0 }));
            gate.record("app-tables.read", pii, CallOutcome::Denied(Scope::AppDataPii));
        }
        let journal = gate.journal();
        assert_eq!(journal.len(), DETAILED_RECORDS + DENIALS_KEPT + 3);
        assert_eq!(journal.iter().map(|r| r.calls).sum::<u64>(), 300_000);
        assert_eq!(journal.iter().filter(|r| r.summarised).count(), 3);
        assert_eq!(gate.summary()["app-data-pii"].denied, 100_000);
        assert_eq!(gate.denials().len(), DENIALS_KEPT);
        assert_eq!(gate.summarised_calls(), 300_000 - (DETAILED_RECORDS + DENIALS_KEPT) as u64);
    }
}
