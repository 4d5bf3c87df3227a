//! W3C Trace Context (`traceparent`, `tracestate`): read from clients, sent to upstreams.
//!
//! The executor hands each upstream attempt its context (`Upstream`, borrowed from the
//! request's trace) with the request the adapter gets; the adapters' one send path
//! (`providers::http::send`) adds its headers. An attempt without a context (no client
//! context and no exported trace) carries `None` and costs nothing.

use std::sync::{Arc, OnceLock, RwLock};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

// Known names: inserting by `&str` parses and lower-cases the name on every request.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// What one upstream attempt sends, and where the attempt's span learns the upstream's
/// address. Borrowed from the request's trace for the length of the attempt (a task-local
/// holding an owned copy cost an allocation and a move of the attempt's output per poll).
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    pub traceparent: Traceparent<'a>,
    pub tracestate: Option<&'a HeaderValue>,
    /// Filled by the send path with the upstream's `host[:port]` (for `server.address`);
    /// `None` when no span is exported.
    pub address: Option<&'a Address>,
}

/// The `traceparent` an attempt sends.
#[derive(Debug, Clone, Copy)]
pub enum Traceparent<'a> {
    /// The client's, forwarded unchanged (this request's spans are not exported).
    Forward(&'a HeaderValue),
    /// The attempt's span, written when the request is sent (a value made up front would
    /// be copied into a shared buffer at its first clone, for every request).
    Span { trace_id: u128, span_id: u64 },
}

/// The upstream's host and port, once its request is sent.
pub type Address = OnceLock<(Arc<str>, Option<u16>)>;

/// Upstream hosts, each allocated once: a gateway talks to a handful, and a traced attempt
/// would otherwise copy its host into a new string.
fn intern(host: &str) -> Arc<str> {
    static HOSTS: RwLock<Vec<Arc<str>>> = RwLock::new(Vec::new());
    if let Ok(hosts) = HOSTS.read() {
        if let Some(h) = hosts.iter().find(|h| ***h == *host) {
            return h.clone();
        }
    }
    let host: Arc<str> = Arc::from(host);
    if let Ok(mut hosts) = HOSTS.write() {
        // Bounded, whatever the upstreams: past it, hosts are simply not shared.
        if hosts.len() < 256 && !hosts.contains(&host) {
            hosts.push(host.clone());
        }
    }
    host
}

/// Adds the attempt's trace context to an upstream request and notes where it goes.
#[inline(never)] // bench/instructions.sh attributes its cost
pub fn inject(req: &mut reqwest::Request, ctx: &Upstream) {
    let headers = req.headers_mut();
    let traceparent = match ctx.traceparent {
        Traceparent::Forward(v) => v.clone(),
        Traceparent::Span { trace_id, span_id } => format_traceparent(trace_id, span_id, SAMPLED),
    };
    headers.insert(TRACEPARENT, traceparent);
    // No adapter sets `tracestate` itself (a provider's declared one is dropped): only the
    // client's is added, never one removed.
    if let Some(ts) = ctx.tracestate {
        headers.insert(TRACESTATE, ts.clone());
    }
    if let (Some(cell), Some(host)) = (ctx.address, req.url().host_str()) {
        let _ = cell.set((intern(host), req.url().port_or_known_default()));
    }
}

/// The sampled flag of `traceparent`.
const SAMPLED: u8 = 0x01;

/// A client's `traceparent`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub trace_id: u128,
    pub span_id: u64,
    pub flags: u8,
}

/// The client's trace context as it came: parsed, and the raw values to forward.
#[derive(Clone)]
pub struct Incoming {
    pub parent: Parent,
    pub traceparent: HeaderValue,
    pub tracestate: Option<HeaderValue>,
}

impl Incoming {
    /// The client's context, when its `traceparent` is valid (an invalid one is ignored, as
    /// the W3C specification asks, and so is its `tracestate`).
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn from_headers(headers: &HeaderMap) -> Option<Incoming> {
        let tp = headers.get(TRACEPARENT)?;
        let parent = parse_traceparent(tp.to_str().ok()?)?;
        let tracestate = headers
            .get(TRACESTATE)
            .filter(|v| !v.is_empty() && v.len() <= 512)
            .cloned();
        Some(Incoming {
            parent,
            traceparent: tp.clone(),
            tracestate,
        })
    }
}

/// `version-traceid-parentid-flags`, lower-case hex; version `ff` and all-zero ids are
/// invalid; a future version may append fields after a `-`.
pub fn parse_traceparent(s: &str) -> Option<Parent> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let hex = |r: std::ops::Range<usize>| -> Option<&str> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            .then_some(part)
    };
    let version = u8::from_str_radix(hex(0..2)?, 16).ok()?;
    if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let trace_id = u128::from_str_radix(hex(3..35)?, 16).ok()?;
    let span_id = u64::from_str_radix(hex(36..52)?, 16).ok()?;
    let flags = u8::from_str_radix(hex(53..55)?, 16).ok()?;
    (trace_id != 0 && span_id != 0).then_some(Parent {
        trace_id,
        span_id,
        flags,
    })
}

/// Each byte's two lower-case hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// A version-00 `traceparent`, written a byte (two digits) at a time (`format!` cost a
/// traced request more than the rest of its header work together).
pub fn format_traceparent(trace_id: u128, span_id: u64, flags: u8) -> HeaderValue {
    let mut out = [b'-'; 55];
    out[..2].copy_from_slice(b"00");
    let mut hex = |at: usize, bytes: &[u8]| {
        for (pair, b) in out[at..at + 2 * bytes.len()].chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(*b)]);
        }
    };
    hex(3, &trace_id.to_be_bytes());
    hex(36, &span_id.to_be_bytes());
    hex(53, &[flags]);
    // Hex digits and dashes only.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_invalid_values() {
        let s = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let p = parse_traceparent(s).unwrap();
        assert_eq!(p.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(p.span_id, 0x00f067aa0ba902b7);
        assert_eq!(p.flags, 1);
        assert_eq!(format_traceparent(p.trace_id, p.span_id, p.flags), s);
        assert_eq!(
            format_traceparent(u128::MAX, 1, 0),
            "00-ffffffffffffffffffffffffffffffff-0000000000000001-00"
        );
        // A later version may carry more fields.
        assert!(parse_traceparent(&format!("01{}-extra", &s[2..])).is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }
}
