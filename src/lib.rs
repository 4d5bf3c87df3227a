//! Switchyard: a self-hosted, OpenAI-compatible LLM gateway.
//!
//! A request travels one way:
//!
//! ```text
//! http front door (parse: chat, Messages, Responses, embeddings, completions)
//!   → auth (key → principal) → routing::plan (RouteRequest → ordered attempts)
//!   → exec (attempts, deadlines, commit point, outcome; native or canonical per adapter)
//!   → providers (wire formats) → exec::stream events → http front door (render)
//!   exec::Meter ─→ ledger (settle once) + accounting (batched writer) → store
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
pub mod metrics;
pub mod providers;
pub mod registry;
pub mod routing;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod types;

pub use app::App;
