//! Ferry host integration tests: one binary, a module per feature.

mod audit;
mod happy_paths;
mod runtime_denials;
mod support;
