//! Marketplace apps, above the sandbox (`ferry-runtime`): what an admin and a reviewer
//! decide and keep about each app.
//!
//! - [`registry`] keeps the installed plugins, each [`audit`]ed at install (its
//!   imports, exports, manifest and signature); [`trust`] says whether this Ferry
//!   trusts the vendor key that signed it; [`catalog`] finds the right version in
//!   local catalog folders; [`scaffold`] starts a new plugin for a vendor.
//! - [`assess`] lists the Server site's apps with their migration path and the admin's
//!   decision; [`consent`] records the admin's grant of exactly the scopes a plugin
//!   declares, bound to its version and build.
//! - [`local`] runs an installed plugin against a Server site with no Cloud site (a
//!   vendor's test, a reviewer's dry run); [`journal`] keeps every run's record;
//!   [`stages`] derives each plugin's settled success rate and its Stage from them.
#![deny(missing_docs)]

pub mod assess;
pub mod audit;
pub mod catalog;
pub mod consent;
pub mod journal;
pub mod local;
pub mod registry;
pub mod scaffold;
pub mod stages;
pub mod trust;
