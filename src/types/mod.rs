//! Pure data shared by every layer: serde only, no IO.

pub mod attribution;
pub mod catalog;
pub mod chat;
pub mod histogram;
pub mod json;
pub mod keys;
pub mod openai;
pub mod ops;
pub mod preset;
pub mod registry;
pub mod time;
pub mod usage;

pub use chat::{ChatRequest, InvalidRequest, RequestBounds};
pub use json::RawObject;
pub use usage::{Cost, Price, Usage};

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - _ . ~`, with
/// upper-case hex: what SigV4 wants in paths, and safe in any query component.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Current time as unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The longest delay the gateway takes from anyone (an upstream's `Retry-After`, a timeout
/// in the config or the admin API): a day. Larger figures are read as this much.
pub const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Seconds as a `Duration`, for figures that come from outside: negative is zero, beyond
/// `MAX_DELAY` (infinity included) is `MAX_DELAY`, not a number is `None`. Never panics,
/// unlike `Duration::from_secs_f64`.
pub fn bounded_secs(secs: f64) -> Option<std::time::Duration> {
    if secs.is_nan() {
        return None;
    }
    let clamped = secs.clamp(0.0, MAX_DELAY.as_secs_f64());
    Some(std::time::Duration::try_from_secs_f64(clamped).unwrap_or(MAX_DELAY))
}
