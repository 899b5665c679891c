//! Ferry's shared vocabulary, with no migration policy in it: the state DB (a SQLite
//! file in `FERRY_HOME`) and its versioned schema migrations, the mappings of server
//! entities to cloud ones, new ids, the identity rules (which directory wins, memberships,
//! product access, the blocklist, email validity: plain functions over plain data), and
//! [`Declined`], the refusals a caller tells apart by type (the API answers 404, 409 or
//! 400; the CLI prints the fix).
#![deny(missing_docs)]

pub mod declined;
pub mod ns;
pub mod rules;
pub mod state;
pub mod terminal;

pub use declined::Declined;
pub use terminal::shown;

/// A new random id: 32 hex digits.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
