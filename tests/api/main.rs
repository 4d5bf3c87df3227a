//! The integration suite: one binary, the real server against fake upstreams.

mod fake;
mod helpers;

mod auth_admin;
mod chat;
mod fallback;
mod lifecycle;
mod models_health;
mod provider_azure;
mod sdk;
mod store_contract;
mod streaming;
