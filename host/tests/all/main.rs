//! Ferry host integration tests: one binary, a module per feature.

mod audit;
mod happy_paths;
mod postgres;
mod runtime_denials;
mod support;
