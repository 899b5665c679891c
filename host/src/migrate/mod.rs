//! The core migration: users, groups, spaces and their content, and permissions, moved
//! natively to the Cloud site, each entity recorded as a mapping as it lands.

pub mod rules;
