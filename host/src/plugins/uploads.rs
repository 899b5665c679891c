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

/// Sends each upload to the destination's app-data endpoint of one transfer.
pub struct DestinationSink {
    dest: crate::destination::Destination,
    transfer_id: String,
    rt: tokio::runtime::Handle,
}

impl DestinationSink {
    /// A sink for `transfer_id` on `dest`; uploads block on `rt` (plugin threads are not
    /// runtime workers).
    pub fn new(dest: crate::destination::Destination, transfer_id: String, rt: tokio::runtime::Handle) -> DestinationSink {
        DestinationSink { dest, transfer_id, rt }
    }
}

impl UploadSink for DestinationSink {
    fn upload(&mut self, label: &str, data: &[u8]) -> anyhow::Result<()> {
        let bytes = bytes::Bytes::copy_from_slice(data);
        self.rt.block_on(self.dest.upload_app_data(&self.transfer_id, label, bytes))?;
        Ok(())
    }
}
