//! The limits of one plugin run, each configurable, with safe defaults; and the fixed
//! bounds on what the host keeps of anything a plugin supplies.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// The largest plugin file ferry reads (to audit, sign or install); real plugins are a
/// few MiB at most.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// Limits of one plugin run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time before the run ends `timed-out` (default 1 hour). It holds while
    /// the plugin computes and while it waits in a host call alike.
    pub deadline: Duration,
    /// Linear memory per instance (default 256 MiB).
    pub memory_bytes: usize,
    /// Total bytes the run may upload (default 1 GiB).
    pub upload_bytes: u64,
    /// Uploads the run may make (default 10,000).
    pub uploads: u64,
    /// Total cost of log lines and captured stdout/stderr (default 1 MiB): each line
    /// costs its bytes plus [`LOG_LINE_COST`].
    pub log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { deadline: Duration::from_secs(3600), memory_bytes: 256 << 20, upload_bytes: 1 << 30, uploads: 10_000, log_bytes: 1 << 20 }
    }
}

/// The largest memory limit the engine's instance pool is built for.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// What a log line costs besides its bytes, so empty lines are not free.
pub const LOG_LINE_COST: u64 = 64;

/// How long a run may take, past its deadline, to be stopped and recorded.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// The most bytes of a plugin-supplied string (a namespace, table, column, cursor, label,
/// key or id) that the host repeats in an error or an audit record.
pub const ECHO_BYTES: usize = 256;

/// The most bytes kept of any message a host call returns or the audit log stores.
pub const DETAIL_BYTES: usize = 1024;

/// The most bytes kept of a plugin's returned error or `incomplete` reason.
pub const REASON_BYTES: usize = 4096;

/// The most bytes kept of one progress message.
pub const PROGRESS_BYTES: usize = 512;

/// `text` cut to at most `max` bytes (at a character boundary), with a note of how much
/// was cut.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let end = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    Cow::Owned(format!("{}… [cut: {} more bytes]", &text[..end], text.len() - end))
}

/// [`cut`] for an owned string, keeping it when it fits.
pub fn cut_owned(text: String, max: usize) -> String {
    match cut(&text, max) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

/// A plugin-supplied string as the host repeats it: at most [`ECHO_BYTES`] of it. `{}`
/// shows the text, `{:?}` the quoted text; either way with a note when it was cut.
pub struct Echo<'a>(&'a str);

/// See [`Echo`].
pub fn echo(text: &str) -> Echo<'_> {
    Echo(text)
}

impl Echo<'_> {
    fn parts(&self) -> (&str, usize) {
        if self.0.len() <= ECHO_BYTES {
            return (self.0, 0);
        }
        let end = (0..=ECHO_BYTES).rev().find(|i| self.0.is_char_boundary(*i)).unwrap_or(0);
        (&self.0[..end], self.0.len() - end)
    }
}

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, more) = self.parts();
        f.write_str(shown)?;
        if more > 0 {
            write!(f, "… [cut: {more} more bytes]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, more) = self.parts();
        write!(f, "{shown:?}")?;
        if more > 0 {
            write!(f, "… [cut: {more} more bytes]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_note() {
        let long = "é".repeat(300);
        let shown = echo(&long).to_string();
        assert!(shown.starts_with(&"é".repeat(128)));
        assert!(shown.ends_with("… [cut: 344 more bytes]"), "{shown}");
        assert_eq!(format!("{:?}", echo("short")), "\"short\"");
        assert_eq!(cut("abcdef", 3), "abc… [cut: 3 more bytes]");
        assert_eq!(cut("abc", 3), "abc");
    }
}
