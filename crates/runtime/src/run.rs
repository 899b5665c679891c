//! One app migration run of one plugin, in its own sandbox: a fresh instance, the live
//! grant, the limits, and a report of how it ended and what it read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_manifest::Manifest;
use serde::Serialize;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

use super::engine::{PluginEngine, Pre, PreparedPlugin};
use super::gate::{AuditRecord, Gate, Grant, ScopeUse};
use super::host::{LogLine, MemoryCap, ProgressFn, RunContext, RunState};
use super::host::{MigrationDetails, Outcome};
use super::limits::{cut_owned, Limits, REASON_BYTES};
use super::output::CapturedOutput;
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
    /// The detailed records of denied calls (every one up to the journal's cap).
    pub denials: Vec<AuditRecord>,
    /// The run's audit journal, bounded: detailed records, then summarised ones.
    pub audit: Vec<AuditRecord>,
    /// Calls summed into summarised audit records rather than kept in detail.
    pub audit_summarised_calls: u64,
    /// Log lines and captured output, within the log limit.
    pub log: Vec<LogLine>,
    /// Log lines (and captured output lines) dropped past the log limit.
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
            message: Some(cut_owned(format!("the plugin could not start: {why}"), REASON_BYTES)),
            progress_percent: 0,
            progress_message: String::new(),
            uploads: 0,
            uploaded_bytes: 0,
            access: BTreeMap::new(),
            denials: Vec::new(),
            audit: Vec::new(),
            audit_summarised_calls: 0,
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
}

/// What a run's stdout and stderr are captured into.
pub struct Captured {
    stdout: CapturedOutput,
    stderr: CapturedOutput,
}

/// Build the store of a run: a fresh sandbox with no filesystem, no network, an empty
/// environment, stdout/stderr captured, the memory cap and the deadline. WebAssembly
/// yields to the async executor every epoch tick, and traps once the deadline is past.
pub fn new_store(engine: &PluginEngine, req: &mut RunRequest, deadline: Instant) -> (Store<RunState>, Captured) {
    let captured = Captured { stdout: CapturedOutput::new(req.limits.log_bytes as usize), stderr: CapturedOutput::new(req.limits.log_bytes as usize) };
    let wasi = WasiCtxBuilder::new().stdout(captured.stdout.clone()).stderr(captured.stderr.clone()).build();
    let state = RunState {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryCap { limit: req.limits.memory_bytes, exceeded: false },
        gate: Gate::new(req.grant.clone()),
        ctx: req.context.clone(),
        uploads: std::mem::replace(&mut req.uploads, Box::new(super::uploads::DiscardSink)),
        upload_quota: req.limits.upload_bytes,
        upload_count_quota: req.limits.uploads,
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
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| if Instant::now() >= deadline { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Yield(1)) });
    (store, captured)
}

/// How the plugin's call ended, before it is classified.
enum Ended {
    Returned(wasmtime::Result<Result<Outcome, String>>),
    /// The deadline passed while the plugin waited in a host call.
    Waiting,
}

/// Run a prepared plugin to its end, on the current tokio runtime. The deadline is one
/// timer around the whole call: computing plugins trap at the next epoch tick past it,
/// and a plugin waiting in a host call (a WASI sleep or poll, a source query, an upload)
/// has that wait dropped when the timer fires.
pub async fn run_plugin(engine: &PluginEngine, prepared: &PreparedPlugin, mut req: RunRequest) -> RunReport {
    let started = Instant::now();
    let deadline = started + req.limits.deadline;
    let (mut store, captured) = new_store(engine, &mut req, deadline);
    let call = async {
        match &prepared.pre {
            Pre::V0_1(pre) => {
                let details = super::since_v0_1::details(&req.details);
                let ended = pre.instantiate_async(&mut store).await?.call_run(&mut store, &details).await?;
                Ok(ended.map(super::since_v0_1::outcome))
            }
            Pre::V0_2(pre) => {
                let details = super::since_v0_2::details(&req.details);
                let ended = pre.instantiate_async(&mut store).await?.call_run(&mut store, &details).await?;
                Ok(ended.map(super::since_v0_2::outcome))
            }
        }
    };
    let ended = match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(result) => Ended::Returned(result),
        Err(_) => Ended::Waiting,
    };
    let elapsed = started.elapsed();
    let state = store.data_mut();
    let (stderr, stderr_dropped) = captured.stderr.contents();
    let panic_line = first_panic_line(&stderr);
    let (stdout, stdout_dropped) = captured.stdout.contents();
    for (level, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        for line in String::from_utf8_lossy(text).lines() {
            let _ = state.push_log(level, line.to_string());
        }
    }
    state.log_dropped += stdout_dropped + stderr_dropped;
    let timed_out = || (RunStatus::TimedOut, Some(format!("ran past its deadline of {}", humantime::format_duration(req.limits.deadline))));
    let (status, message) = match ended {
        Ended::Waiting => {
            let (status, message) = timed_out();
            (status, message.map(|m| format!("{m} (it was waiting in a host call)")))
        }
        Ended::Returned(Ok(Ok(Outcome::Complete))) => (RunStatus::Complete, None),
        Ended::Returned(Ok(Ok(Outcome::Incomplete(reason)))) => (RunStatus::Incomplete, Some(cut_owned(reason, REASON_BYTES))),
        Ended::Returned(Ok(Err(error))) => (RunStatus::Failed, Some(format!("the plugin reported an error: {}", cut_owned(error, REASON_BYTES)))),
        Ended::Returned(Err(trap)) if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => timed_out(),
        Ended::Returned(Err(trap)) => classify_trap(&trap.into(), state.memory.exceeded, panic_line),
    };
    RunReport {
        run_id: req.run_id,
        server_app_key: req.manifest.server_app_key.clone(),
        version: req.manifest.version.to_string(),
        status,
        message: message.map(|m| cut_owned(m, REASON_BYTES + 256)),
        progress_percent: state.progress.0,
        progress_message: state.progress.1.clone(),
        uploads: state.upload_count,
        uploaded_bytes: state.uploaded,
        access: state.gate.summary().clone(),
        denials: state.gate.denials(),
        audit: state.gate.journal(),
        audit_summarised_calls: state.gate.summarised_calls(),
        log: std::mem::take(&mut state.log),
        log_dropped: state.log_dropped,
        duration_ms: elapsed.as_millis() as u64,
    }
}

fn classify_trap(trap: &anyhow::Error, memory_exceeded: bool, panic_line: Option<String>) -> (RunStatus, Option<String>) {
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
    let head = cut_owned(all.next()?.trim().to_string(), REASON_BYTES / 2);
    match all.next() {
        Some(msg) if !msg.trim().is_empty() => Some(format!("{head} {}", super::limits::cut(msg.trim(), REASON_BYTES / 2))),
        _ => Some(head),
    }
}
