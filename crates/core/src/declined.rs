//! Requests the library declines because of what they name or when they come, as opposed
//! to failures of the machinery. Callers tell them apart by type, never by message: the
//! API answers 404, 409 or 400 with a stable code, the CLI prints the message (which says
//! the fix) and exits 1.

/// A well-formed request that cannot be carried out as asked.
#[derive(Debug, thiserror::Error)]
pub enum Declined {
    /// It names nothing that exists (a plan id, an app key, an installed plugin).
    #[error("{0}")]
    NotFound(String),
    /// What it names is not in a state that allows it now (a plan not saved, consent to
    /// a plugin that changed since it was reviewed, a plugin no longer trusted).
    #[error("{0}")]
    Conflict(String),
    /// It is ambiguous or malformed (an id prefix that matches several plans).
    #[error("{0}")]
    Invalid(String),
}

impl Declined {
    /// A [`Declined::NotFound`] as an `anyhow::Error`.
    pub fn not_found(message: impl Into<String>) -> anyhow::Error {
        Declined::NotFound(message.into()).into()
    }

    /// A [`Declined::Conflict`] as an `anyhow::Error`.
    pub fn conflict(message: impl Into<String>) -> anyhow::Error {
        Declined::Conflict(message.into()).into()
    }

    /// A [`Declined::Invalid`] as an `anyhow::Error`.
    pub fn invalid(message: impl Into<String>) -> anyhow::Error {
        Declined::Invalid(message.into()).into()
    }

    /// `Ok(())` when `condition` holds, else a [`Declined::Conflict`] with `message`.
    pub fn unless(condition: bool, message: impl FnOnce() -> String) -> anyhow::Result<()> {
        if condition {
            Ok(())
        } else {
            Err(Declined::conflict(message()))
        }
    }
}
