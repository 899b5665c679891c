//! One app migration run of one plugin, in its own sandbox: a fresh instance, the live
//! grant, the limits, and a report of how it ended and what it read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_manifest::Manifest;
use serde::Serialize;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

use super::contract::v0_1::ferry::migration::types::{MigrationDetails, Outcome};
use super::engine::{PluginEngine, PreparedPlugin, EPOCH_TICK};
use super::gate::{AuditRecord, Gate, Grant, JournalSink, ScopeUse};
use super::host::{LogLine, MemoryCap, ProgressFn, RunContext, RunState};
use super::limits::Limits;
use super::uploads::UploadSink;

/// How a plugin run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Everything moved.
    Complete,
    /// The plugin said some data could not move.
    Incomplete,
    /// The plugin returned an error, trapped, panicked or hit a limit.
    Failed,
    /// The plugin ran past its deadline.
    TimedOut,
}

impl RunStatus {
    /// The status as shown to admins.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => "incomplete",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed-out",
        }
    }
}

/// The report of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// The plugin's server app key.
    pub server_app_key: String,
    /// The plugin's version.
    pub version: String,
    /// How it ended.
    pub status: RunStatus,
    /// Why it ended that way (the plugin's reason, the error, the trap).
    pub message: Option<String>,
    /// The last progress the plugin reported.
    pub progress_percent: u8,
    /// The last progress message.
    pub progress_message: String,
    /// Uploads made.
    pub uploads: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Use per scope (`none` for calls that need no scope).
    pub access: BTreeMap<String, ScopeUse>,
    /// Every denied call.
    pub denials: Vec<AuditRecord>,
    /// The audit records not yet handed to the journal sink.
    pub audit: Vec<AuditRecord>,
    /// Log lines and captured output.
    pub log: Vec<LogLine>,
    /// Log lines dropped past the log limit.
    pub log_dropped: u64,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: u64,
}

impl RunReport {
    /// The report of a run that failed before the plugin's first instruction (it could
    /// not be loaded, compiled or linked).
    pub fn not_started(run_id: String, server_app_key: String, version: String, why: String, elapsed: Duration) -> RunReport {
        RunReport {
            run_id,
            server_app_key,
            version,
            status: RunStatus::Failed,
            message: Some(format!("the plugin could not start: {why}")),
            progress_percent: 0,
            progress_message: String::new(),
            uploads: 0,
            uploaded_bytes: 0,
            access: BTreeMap::new(),
            denials: Vec::new(),
            audit: Vec::new(),
            log: Vec::new(),
            log_dropped: 0,
            duration_ms: elapsed.as_millis() as u64,
        }
    }
}

/// Everything a run needs besides the engine and the prepared plugin.
pub struct RunRequest {
    /// The run's id.
    pub run_id: String,
    /// The plugin's manifest.
    pub manifest: Arc<Manifest>,
    /// What the migration is about.
    pub details: MigrationDetails,
    /// The live grant.
    pub grant: Arc<Grant>,
    /// The run's limits.
    pub limits: Limits,
    /// Where reads come from.
    pub context: Arc<RunContext>,
    /// Where uploads go.
    pub uploads: Box<dyn UploadSink>,
    /// Called on every progress report.
    pub on_progress: Option<ProgressFn>,
    /// Where audit records go as the journal fills (the state DB); none keeps them all.
    pub journal: Option<JournalSink>,
}

/// Build the store of a run: a fresh sandbox with no filesystem, no network, an empty
/// environment, stdout/stderr captured, the memory cap and the deadline.
pub(crate) fn new_store(
    engine: &PluginEngine,
    req: &mut RunRequest,
) -> (Store<RunState>, MemoryOutputPipe, MemoryOutputPipe) {
    let stdout = MemoryOutputPipe::new(req.limits.log_bytes as usize);
    let stderr = MemoryOutputPipe::new(req.limits.log_bytes as usize);
    let wasi = WasiCtxBuilder::new().stdout(stdout.clone()).stderr(stderr.clone()).build();
    let state = RunState {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryCap { limit: req.limits.memory_bytes, exceeded: false },
        gate: Gate::new(req.grant.clone(), req.journal.take()),
        ctx: req.context.clone(),
        uploads: std::mem::replace(&mut req.uploads, Box::new(super::uploads::DiscardSink)),
        upload_quota: req.limits.upload_bytes,
        uploaded: 0,
        upload_count: 0,
        progress: (0, String::new()),
        on_progress: req.on_progress.clone(),
        log: Vec::new(),
        log_bytes: 0,
        log_limit: req.limits.log_bytes,
        log_dropped: 0,
    };
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|s| &mut s.memory);
    let ticks = req.limits.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64 + 1;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    (store, stdout, stderr)
}

/// Run a prepared plugin to its end. Blocking: call it from a thread that is not a
/// tokio worker (host functions block on the runtime in `req.context.rt`).
pub fn run_plugin(engine: &PluginEngine, prepared: &PreparedPlugin, mut req: RunRequest) -> RunReport {
    let started = Instant::now();
    let (mut store, stdout, stderr) = new_store(engine, &mut req);
    let result = prepared.pre.instantiate(&mut store).and_then(|plugin| plugin.call_run(&mut store, &req.details));
    let elapsed = started.elapsed();
    let state = store.data_mut();
    let panic_line = first_panic_line(&stderr.contents());
    for (level, pipe) in [("stdout", &stdout), ("stderr", &stderr)] {
        for line in String::from_utf8_lossy(&pipe.contents()).lines() {
            let _ = state.push_log(level, line.to_string());
        }
    }
    let (status, message) = match result {
        Ok(Ok(Outcome::Complete)) => (RunStatus::Complete, None),
        Ok(Ok(Outcome::Incomplete(reason))) => (RunStatus::Incomplete, Some(reason)),
        Ok(Err(error)) => (RunStatus::Failed, Some(format!("the plugin reported an error: {error}"))),
        Err(trap) => classify_trap(&trap.into(), state.memory.exceeded, panic_line, req.limits.deadline),
    };
    state.gate.flush();
    RunReport {
        run_id: req.run_id,
        server_app_key: req.manifest.server_app_key.clone(),
        version: req.manifest.version.to_string(),
        status,
        message,
        progress_percent: state.progress.0,
        progress_message: state.progress.1.clone(),
        uploads: state.upload_count,
        uploaded_bytes: state.uploaded,
        access: state.gate.summary().clone(),
        denials: state.gate.denials().to_vec(),
        audit: state.gate.records().to_vec(),
        log: std::mem::take(&mut state.log),
        log_dropped: state.log_dropped,
        duration_ms: elapsed.as_millis() as u64,
    }
}

fn classify_trap(trap: &anyhow::Error, memory_exceeded: bool, panic_line: Option<String>, deadline: Duration) -> (RunStatus, Option<String>) {
    if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return (RunStatus::TimedOut, Some(format!("ran past its deadline of {}", humantime::format_duration(deadline))));
    }
    if memory_exceeded {
        return (RunStatus::Failed, Some(format!("stopped: {}", trap.root_cause())));
    }
    if let Some(line) = panic_line {
        return (RunStatus::Failed, Some(format!("the plugin panicked: {line}")));
    }
    (RunStatus::Failed, Some(format!("the plugin trapped: {}", trap.root_cause())))
}

/// The panic message a Rust plugin printed on stderr before aborting, if any.
fn first_panic_line(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines();
    let at = lines.position(|l| l.contains("panicked at"))?;
    let mut all = text.lines().skip(at);
    let head = all.next()?.trim().to_string();
    match all.next() {
        Some(msg) if !msg.trim().is_empty() => Some(format!("{head} {}", msg.trim())),
        _ => Some(head),
    }
}
