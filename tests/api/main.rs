//! The integration suite: one binary, the real server against fake upstreams.

mod fake;
mod fake_anthropic;
mod helpers;

mod auth_admin;
mod chat;
mod fallback;
mod lifecycle;
mod models_health;
mod provider_anthropic;
mod sdk;
mod streaming;
