//! The limits of one plugin run, each configurable, with safe defaults.

use std::time::Duration;

/// Limits of one plugin run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time before the run ends `timed-out` (default 1 hour).
    pub deadline: Duration,
    /// Linear memory per instance (default 256 MiB).
    pub memory_bytes: usize,
    /// Total bytes the run may upload (default 1 GiB).
    pub upload_bytes: u64,
    /// Total bytes of log lines and captured stdout/stderr (default 1 MiB).
    pub log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { deadline: Duration::from_secs(3600), memory_bytes: 256 << 20, upload_bytes: 1 << 30, log_bytes: 1 << 20 }
    }
}

/// The largest memory limit the engine's instance pool is built for.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;
