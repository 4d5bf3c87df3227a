//! Pure data shared by every layer: serde only, no IO.

pub mod chat;
pub mod json;
pub mod keys;
pub mod openai;
pub mod registry;
pub mod time;
pub mod usage;

pub use chat::{ChatRequest, InvalidRequest};
pub use json::RawObject;
pub use usage::{Cost, Price, Usage};

/// Current time as unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
