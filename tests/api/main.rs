//! The integration suite: one binary, the real server against fake upstreams.

mod helpers;
mod fake;

mod chat;
mod streaming;
mod fallback;
mod auth_admin;
mod models_health;
mod lifecycle;
mod sdk;
