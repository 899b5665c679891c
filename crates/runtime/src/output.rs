//! A plugin's stdout and stderr: kept up to a capacity, and past it dropped and counted,
//! never refused. A plugin that prints too much keeps running (wasmtime's own memory
//! pipe fails the write past its capacity, which makes `println!` panic).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// What a plugin wrote to one stream.
#[derive(Debug, Default)]
struct Captured {
    kept: Vec<u8>,
    capacity: usize,
    dropped_bytes: u64,
    dropped_lines: u64,
}

impl Captured {
    fn take(&mut self, bytes: &[u8]) {
        let room = self.capacity.saturating_sub(self.kept.len());
        let (kept, dropped) = bytes.split_at(room.min(bytes.len()));
        self.kept.extend_from_slice(kept);
        if !dropped.is_empty() {
            self.dropped_bytes += dropped.len() as u64;
            self.dropped_lines += dropped.iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
}

/// One captured output stream; clones share the capture.
#[derive(Debug, Clone)]
pub struct CapturedOutput(Arc<Mutex<Captured>>);

/// The largest write permit handed out at once (any amount is accepted).
const PERMIT: usize = 64 << 10;

impl CapturedOutput {
    /// A stream that keeps the first `capacity` bytes written to it.
    pub fn new(capacity: usize) -> CapturedOutput {
        CapturedOutput(Arc::new(Mutex::new(Captured { capacity, ..Captured::default() })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Captured) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The bytes kept, and how many lines were dropped past the capacity (a partial last
    /// line counts as one).
    pub fn contents(&self) -> (Vec<u8>, u64) {
        self.with(|c| {
            let partial = u64::from(c.dropped_bytes > 0 && c.dropped_lines == 0);
            (c.kept.clone(), c.dropped_lines + partial)
        })
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.with(|c| c.take(&bytes));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.with(|c| c.take(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_capacity_is_dropped_and_counted_not_refused() {
        let mut out = CapturedOutput::new(10);
        for _ in 0..3 {
            out.write(Bytes::from_static(b"abcd\n")).expect("never refused");
        }
        let (kept, dropped_lines) = out.contents();
        assert_eq!(kept, b"abcd\nabcd\n");
        assert_eq!(dropped_lines, 1);
        assert_eq!(out.check_write().expect("always writable"), PERMIT);
    }
}
