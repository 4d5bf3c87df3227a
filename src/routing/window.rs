//! Time-windowed live figures per endpoint (provider × model), in OpenRouter's terms:
//! latency and throughput percentiles over the last 30 minutes, uptime over the last 5
//! minutes, 30 minutes and day, and a status derived from recent uptime.
//!
//! Per replica: each replica counts the traffic it served itself, from the records the
//! request-log writer hands to `LiveStats::observe` (off the request path). Nothing is read
//! back from the database, so a restart starts the windows empty.
//!
//! Memory is bounded: per endpoint a ring of per-minute counts over a day and a ring of
//! per-minute log-scale histograms over 30 minutes (allocated for minutes that saw samples),
//! about 55 KB at most; at most `MAX_ENDPOINTS` are kept, endpoints idle for a day making
//! room for new ones.
//! A ring slot carries the minute it holds, so a slot of an older minute is simply reset when
//! its turn comes again: no timer rotates anything, and reads skip stale slots.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{AttemptRecord, RequestRecord};
use crate::types::catalog::Percentiles;

const MINUTE_MS: i64 = 60_000;
/// Minutes of counts kept (uptime over a day).
const DAY: usize = 24 * 60;
/// Minutes of histograms kept (latency and throughput over 30 minutes).
const HIST_MINUTES: usize = 30;
/// Endpoints tracked at most (the registry bounds them anyway; this bounds a surprise).
pub const MAX_ENDPOINTS: usize = 1024;
/// Below this many counted attempts, a window says nothing about status.
const STATUS_MIN_ATTEMPTS: u64 = 3;

/// A fixed log-scale histogram geometry: bucket `i` holds `[min·2^(i/4), min·2^((i+1)/4))`,
/// about 19% wide, so a percentile read from it is within about ±9% of the true value.
/// Values outside the range fall into the first or last bucket.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    min: f64,
}

const PER_DOUBLING: f64 = 4.0;
const BUCKETS: usize = 80; // 20 doublings

/// Time to first token, milliseconds: 1 ms to about 17 minutes.
pub const LATENCY: Scale = Scale { min: 1.0 };
/// Output tokens per second: 0.1 to about 100,000.
pub const THROUGHPUT: Scale = Scale { min: 0.1 };

impl Scale {
    fn bucket(self, v: f64) -> usize {
        if v.is_nan() || v <= self.min {
            return 0;
        }
        ((v / self.min).log2() * PER_DOUBLING).min((BUCKETS - 1) as f64) as usize
    }

    /// The geometric middle of bucket `i`.
    fn middle(self, i: usize) -> f64 {
        self.min * ((i as f64 + 0.5) / PER_DOUBLING).exp2()
    }
}

/// Samples of one quantity: bucket counts plus the exact extremes (a percentile is clamped
/// to them, so one sample, or identical ones, read back exactly).
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: [u32; BUCKETS],
    n: u64,
    min: f64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; BUCKETS],
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Histogram {
    pub fn add(&mut self, scale: Scale, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        let b = &mut self.counts[scale.bucket(v)];
        *b = b.saturating_add(1);
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The `q`-quantile (0 < q ≤ 1) by nearest rank: the middle of the bucket holding the
    /// `⌈q·n⌉`-th smallest sample, clamped to the samples' extremes. `None` without samples.
    pub fn quantile(&self, scale: Scale, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(scale.middle(i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn percentiles(&self, scale: Scale) -> Option<Percentiles> {
        Some(Percentiles {
            p50: self.quantile(scale, 0.50)?,
            p75: self.quantile(scale, 0.75)?,
            p90: self.quantile(scale, 0.90)?,
            p99: self.quantile(scale, 0.99)?,
        })
    }
}

/// What an attempt says about its endpoint's uptime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Served (committed, for a stream) and, if it was the answer, finished.
    Up,
    /// Failed for a reason of the upstream: 5xx, an unexpected 4xx (our provider key refused,
    /// an unknown upstream model), a timeout, a refused connection, a cut or malformed stream.
    Down,
    /// Says nothing about the upstream: rate limited (429, as OpenRouter excludes it), a
    /// request at fault (`policy::request_at_fault`), an operation the adapter does not
    /// speak, or the client left while the attempt ran.
    Excluded,
}

/// Classifies one attempt; `cut_after_commit` says the attempt served a stream that then
/// failed (the request's outcome `cut` or `timeout` after its first token).
pub fn health(a: &AttemptRecord, cut_after_commit: bool) -> Health {
    match a.outcome.as_str() {
        "ok" if cut_after_commit => Health::Down,
        "ok" => Health::Up,
        "cancelled" | "unsupported" => Health::Excluded,
        "status" => match a.status.and_then(|s| u16::try_from(s).ok()) {
            Some(429) => Health::Excluded,
            Some(s) if super::policy::request_at_fault(s) => Health::Excluded,
            _ => Health::Down,
        },
        // timeout, connect, cut, malformed, config, and any kind added later.
        _ => Health::Down,
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    /// The minute (since the epoch) this slot holds; 0 for a never-used slot.
    minute: i64,
    up: u32,
    down: u32,
    /// Every attempt at the endpoint, whatever its health.
    attempts: u32,
}

#[derive(Debug, Clone, Default)]
struct Hists {
    minute: i64,
    latency: Histogram,
    throughput: Histogram,
}

/// One endpoint's rings.
struct Endpoint {
    counts: Vec<Counts>,
    hists: Vec<Option<Box<Hists>>>,
    /// The newest minute seen, to drop endpoints idle for a day.
    last: i64,
}

impl Endpoint {
    fn new() -> Endpoint {
        Endpoint {
            counts: vec![Counts::default(); DAY],
            hists: (0..HIST_MINUTES).map(|_| None).collect(),
            last: 0,
        }
    }

    /// The counts slot of `minute`, reset if it held an older minute; `None` if it holds a
    /// newer one (the sample is older than the ring).
    fn counts(&mut self, minute: i64) -> Option<&mut Counts> {
        self.last = self.last.max(minute);
        let slot = &mut self.counts[minute.rem_euclid(DAY as i64) as usize];
        if slot.minute < minute {
            *slot = Counts {
                minute,
                ..Counts::default()
            };
        }
        (slot.minute == minute).then_some(slot)
    }

    fn hists(&mut self, minute: i64) -> Option<&mut Hists> {
        let slot = &mut self.hists[minute.rem_euclid(HIST_MINUTES as i64) as usize];
        let h = slot.get_or_insert_with(Box::default);
        if h.minute < minute {
            **h = Hists {
                minute,
                ..Hists::default()
            };
        }
        (h.minute == minute).then_some(&mut **h)
    }

    fn record(&mut self, minute: i64, h: Health) {
        if let Some(c) = self.counts(minute) {
            c.attempts = c.attempts.saturating_add(1);
            match h {
                Health::Up => c.up = c.up.saturating_add(1),
                Health::Down => c.down = c.down.saturating_add(1),
                Health::Excluded => {}
            }
        }
    }

    /// Up and down attempts, and all attempts, in the `n` minutes ending with `now`.
    fn sum(&self, now: i64, n: usize) -> Tally {
        let from = now - n as i64;
        self.counts
            .iter()
            .filter(|c| c.minute > from && c.minute <= now)
            .fold((0, 0, 0), |(u, d, a), c| {
                (
                    u + u64::from(c.up),
                    d + u64::from(c.down),
                    a + u64::from(c.attempts),
                )
            })
    }

    fn figures(&self, now: i64) -> Figures {
        let from = now - HIST_MINUTES as i64;
        let (mut latency, mut throughput) = (Histogram::default(), Histogram::default());
        for h in self.hists.iter().flatten() {
            if h.minute > from && h.minute <= now {
                latency.merge(&h.latency);
                throughput.merge(&h.throughput);
            }
        }
        let w5 = self.sum(now, 5);
        let w30 = self.sum(now, 30);
        let day = self.sum(now, DAY);
        Figures {
            status: status(w5, w30),
            latency_last_30m: latency.percentiles(LATENCY),
            throughput_last_30m: throughput.percentiles(THROUGHPUT),
            uptime_last_5m: uptime(w5),
            uptime_last_30m: uptime(w30),
            uptime_last_1d: uptime(day),
            requests_last_30m: w30.2,
        }
    }
}

/// Up, down and all attempts in a window.
pub type Tally = (u64, u64, u64);

/// Percent of counted attempts that were up; `None` when none counted.
fn uptime((up, down, _): Tally) -> Option<f64> {
    let counted = up + down;
    (counted > 0).then(|| up as f64 * 100.0 / counted as f64)
}

/// OpenRouter's endpoint status (0, -1, -2, -3, -5, -10; it documents no meanings), read
/// here as degrees of recent trouble: the uptime of the last 5 minutes, or of the last 30
/// when the last 5 counted fewer than `STATUS_MIN_ATTEMPTS` attempts; 0 without enough data.
/// ≥ 95% → 0, ≥ 80% → -1, ≥ 50% → -2, ≥ 20% → -3, above 0 → -5, every attempt down → -10.
pub fn status(last_5m: Tally, last_30m: Tally) -> i32 {
    let enough = |(u, d, _): Tally| u + d >= STATUS_MIN_ATTEMPTS;
    let w = if enough(last_5m) {
        last_5m
    } else if enough(last_30m) {
        last_30m
    } else {
        return 0;
    };
    match uptime(w).unwrap_or(100.0) {
        u if u >= 95.0 => 0,
        u if u >= 80.0 => -1,
        u if u >= 50.0 => -2,
        u if u >= 20.0 => -3,
        u if u > 0.0 => -5,
        _ => -10,
    }
}

/// One endpoint's figures at some moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub status: i32,
    /// Time to first token of streamed answers, milliseconds.
    pub latency_last_30m: Option<Percentiles>,
    /// Output tokens per second after the first token, of streamed answers.
    pub throughput_last_30m: Option<Percentiles>,
    pub uptime_last_5m: Option<f64>,
    pub uptime_last_30m: Option<f64>,
    pub uptime_last_1d: Option<f64>,
    /// Attempts at the endpoint, whatever their outcome.
    pub requests_last_30m: u64,
}

impl Default for Figures {
    /// No traffic: no figures, status 0.
    fn default() -> Self {
        Figures {
            status: 0,
            latency_last_30m: None,
            throughput_last_30m: None,
            uptime_last_5m: None,
            uptime_last_30m: None,
            uptime_last_1d: None,
            requests_last_30m: 0,
        }
    }
}

/// The windows of every endpoint with traffic, keyed by `(provider, model)`.
#[derive(Default)]
pub struct Windows {
    by_endpoint: Mutex<HashMap<(String, String), Endpoint>>,
}

impl Windows {
    /// Counts finished requests: every attempt for uptime, the serving attempt of a streamed
    /// answer for latency (its own time to first token, not the time earlier fallbacks took),
    /// and a streamed answer that finished with output for throughput. A record is placed in
    /// the minute it ended.
    pub fn observe<'a>(&self, records: impl IntoIterator<Item = &'a RequestRecord>) {
        let mut map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let minute = (r.created_at + r.latency_ms.max(0)).div_euclid(MINUTE_MS);
            let served = r.provider.is_some() && r.served_model.is_some();
            let cut = served && matches!(r.outcome.as_str(), "cut" | "timeout");
            let last = r.attempts.len().saturating_sub(1);
            for (i, a) in r.attempts.iter().enumerate() {
                let serving = served && i == last && a.outcome == "ok";
                let Some(e) = entry(&mut map, &a.provider, &a.model, minute) else {
                    continue;
                };
                e.record(minute, health(a, serving && cut));
                if !(serving && r.streamed) {
                    continue;
                }
                let Some(h) = e.hists(minute) else { continue };
                h.latency.add(LATENCY, a.latency_ms.max(0) as f64);
                if let (Some(ttft), "success", true) =
                    (r.ttft_ms, r.outcome.as_str(), r.completion_tokens > 0)
                {
                    // Generation time after the first token; at least 1 ms, so an answer
                    // that came in one piece reads as very fast rather than infinite.
                    let generating = (r.latency_ms - ttft).max(1) as f64;
                    h.throughput
                        .add(THROUGHPUT, r.completion_tokens as f64 * 1000.0 / generating);
                }
            }
        }
    }

    /// The figures of one endpoint at `now_ms` (all `null`/0 when it had no traffic).
    pub fn figures(&self, provider: &str, model: &str, now_ms: i64) -> Figures {
        let map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(provider.to_owned(), model.to_owned()))
            .map(|e| e.figures(now_ms.div_euclid(MINUTE_MS)))
            .unwrap_or_default()
    }

    /// The figures at `now_ms` of every endpoint with traffic in the last day, as
    /// `(provider, model)`.
    pub fn all(&self, now_ms: i64) -> Vec<((String, String), Figures)> {
        let map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_ms.div_euclid(MINUTE_MS);
        map.iter()
            .filter(|(_, e)| e.last > now - DAY as i64)
            .map(|(k, e)| (k.clone(), e.figures(now)))
            .collect()
    }

    /// How many endpoints are tracked.
    pub fn len(&self) -> usize {
        self.by_endpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The endpoint's rings, created on first traffic. When the map is full, endpoints idle for
/// a day are dropped first; if none is, a new endpoint is not tracked.
fn entry<'m>(
    map: &'m mut HashMap<(String, String), Endpoint>,
    provider: &str,
    model: &str,
    minute: i64,
) -> Option<&'m mut Endpoint> {
    let key = (provider.to_owned(), model.to_owned());
    if !map.contains_key(&key) {
        if map.len() >= MAX_ENDPOINTS {
            map.retain(|_, e| e.last > minute - DAY as i64);
            if map.len() >= MAX_ENDPOINTS {
                return None;
            }
        }
        map.insert(key.clone(), Endpoint::new());
    }
    map.get_mut(&key)
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
