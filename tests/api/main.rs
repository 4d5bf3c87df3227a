//! The integration suite: one binary, the real server against fake upstreams.

// Helpers outside #[test] functions unwrap too: a panic is the test's failure message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod fake_anthropic;
mod fake_bedrock;
mod fake_gemini;
mod helpers;
mod schema;
mod webdriver;

mod admin_input;
mod agents;
mod analytics;
mod attribution;
mod auth_admin;
mod catalog;
mod chat;
mod cli;
mod conformance;
mod connections;
mod cors;
mod dashboard;
mod dialect;
mod fallback;
mod hardening;
mod ledger;
mod lifecycle;
mod live_figures;
mod matrix;
mod messages;
mod metrics;
mod models_health;
mod ops;
mod outage;
mod presets;
mod provider_anthropic;
mod provider_azure;
mod provider_bedrock;
mod provider_gemini;
mod replicas;
mod responses;
mod retention;
mod sdk;
mod sdk_openrouter;
mod store_contract;
mod streaming;
mod traces;
mod usage_top;
mod variants;
