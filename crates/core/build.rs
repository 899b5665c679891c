//! Rebuilds the crate when a state DB migration is added or changed.
// The state DB's migrations are embedded at compile time (`sqlx::migrate!`): a new or
// changed migration file must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
