//! Switchyard: a self-hosted, OpenAI-compatible LLM gateway.
//!
//! A request travels one way:
//!
//! ```text
//! http (parse, errors) → auth (key → principal) → routing::plan (ordered attempts)
//!   → exec (attempts, deadlines, stream commit point) → providers (wire formats)
//!   → exec::Meter → http (JSON or SSE)             ╲
//!                                                   → accounting (batched writer) → store
//! ```
//!
//! Lower layers never call higher ones; providers never touch the database, auth or
//! accounting. `types` and `routing` are pure.

// `json!` bodies as large as OpenRouter's generation object need a deeper macro expansion.
#![recursion_limit = "256"]

pub mod accounting;
pub mod app;
pub mod auth;
pub mod config;
pub mod exec;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod ledger;
pub mod providers;
pub mod registry;
pub mod routing;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod types;

pub use app::App;
