//! Ferry host integration tests: one binary, a module per feature.

mod accounts;
mod app_transfers;
mod audit;
mod browser;
mod clients;
mod contract;
mod core_migration;
mod databases;
mod destination;
mod fidelity;
mod happy_paths;
mod hardening;
mod history;
mod jira;
mod journey;
mod main_job;
mod mariadb;
mod postgres;
mod resilience;
mod runtime_denials;
mod sites;
mod support;
mod trust;
mod vendor;
mod web;
mod webdriver;
