//! Where a plugin's uploads go: the [`UploadSink`] a run hands each upload to, with a
//! folder sink for local tests and a discarding one for benchmarks (a migration's sink,
//! to the destination, lives with the migrator).

use std::path::PathBuf;

use anyhow::Context;
use futures_util::future::BoxFuture;

/// Receives a run's uploads in order. An upload is a future, so a run's deadline holds
/// while the destination is slow to take it.
pub trait UploadSink: Send {
    /// Store one upload under its label.
    fn upload<'a>(&'a mut self, label: &'a str, data: Vec<u8>) -> BoxFuture<'a, anyhow::Result<()>>;
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
    fn upload<'a>(&'a mut self, label: &'a str, data: Vec<u8>) -> BoxFuture<'a, anyhow::Result<()>> {
        self.seq += 1;
        let path = self.dir.join(format!("{:04}-{label}", self.seq));
        Box::pin(async move { tokio::fs::write(&path, data).await.with_context(|| format!("cannot write upload {}", path.display())) })
    }
}

/// Discards uploads, counting them (benchmarks).
#[derive(Default)]
pub struct DiscardSink;

impl UploadSink for DiscardSink {
    fn upload<'a>(&'a mut self, _label: &'a str, _data: Vec<u8>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
