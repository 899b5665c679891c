//! Where a plugin's uploads go: a folder for local tests, the destination's app-data
//! endpoint in a migration.

use std::path::PathBuf;

use anyhow::Context;

/// Receives a run's uploads in order.
pub trait UploadSink: Send {
    /// Store one upload under its label.
    fn upload(&mut self, label: &str, data: &[u8]) -> anyhow::Result<()>;
}

/// Writes each upload to `<dir>/<NNNN>-<label>`, numbered in upload order.
pub struct DirectorySink {
    dir: PathBuf,
    seq: u32,
}

impl DirectorySink {
    /// A sink writing into `dir` (created if missing).
    pub fn new(dir: PathBuf) -> anyhow::Result<DirectorySink> {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the output folder {}", dir.display()))?;
        Ok(DirectorySink { dir, seq: 0 })
    }
}

impl UploadSink for DirectorySink {
    fn upload(&mut self, label: &str, data: &[u8]) -> anyhow::Result<()> {
        self.seq += 1;
        let path = self.dir.join(format!("{:04}-{label}", self.seq));
        std::fs::write(&path, data).with_context(|| format!("cannot write upload {}", path.display()))
    }
}

/// Discards uploads, counting them (benchmarks).
#[derive(Default)]
pub struct DiscardSink;

impl UploadSink for DiscardSink {
    fn upload(&mut self, _label: &str, _data: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }
}
