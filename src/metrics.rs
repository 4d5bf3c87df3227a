//! Prometheus metrics: what every request came to, counted where it ends (`Meter`), and the
//! gateway's own state (request-log queue, registry) read at scrape time.
//!
//! Labels are bounded: the door (a handful), registry slugs and provider ids (the operator's
//! registry, never a client's free text: a request that named an unknown model is counted as
//! `model="none"`), outcome, status class. No key ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::RequestRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    door: &'static str,
    model: String,
    provider: String,
    outcome: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DoorOutcome {
    door: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DoorLabel {
    door: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelProvider {
    model: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyOutcome {
    key: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabel {
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The gateway's metrics and their registry (one per running app, so tests that run several
/// apps in one process count separately).
pub struct Metrics {
    /// `[metrics] enabled`: when false, requests are not counted (the gauges read at scrape
    /// time still are).
    counting: bool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<DoorOutcome, Histogram>,
    ttft: Family<DoorLabel, Histogram>,
    attempts_per_request: Histogram,
    fallbacks: Family<DoorLabel, Counter>,
    upstream_attempts: Family<AttemptLabels, Counter>,
    attempt_duration: Family<AttemptLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelProvider, Counter<f64, AtomicU64>>,
    streams: Family<DoorOutcome, Counter>,
    refusals: Family<ReasonLabel, Counter>,
    in_flight: Gauge,
    in_flight_streams: Gauge,
    /// Keys an operator named in `[metrics] key_labels`: only these get per-key series,
    /// so a gateway with thousands of keys keeps a bounded label set.
    key_labels: std::collections::HashSet<String>,
    key_requests: Family<KeyOutcome, Counter>,
    key_cost: Family<KeyLabel, Counter<f64, AtomicU64>>,
    /// The series a request's end touches, found once per label combination (see `Series`).
    series: SeriesCache<RequestSeries>,
    attempt_series: SeriesCache<AttemptSeries>,
    /// How long the request-log writer's batches take to commit (observed by the writer).
    pub log_write_seconds: Histogram,
    // Read from the app's state at scrape time.
    pub log_queue: Gauge,
    pub log_written: Gauge,
    pub log_dead_lettered: Gauge,
    pub log_lost: Gauge,
    pub log_failing: Gauge,
    pub registry_version: Gauge,
    pub registry_age_seconds: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn seconds() -> Histogram {
    // 5 ms .. ~82 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Metrics {
        Self::with_requests(true)
    }

    /// Metrics that count requests only when `counting`.
    pub fn with_requests(counting: bool) -> Metrics {
        Self::with_key_labels(counting, Vec::new())
    }

    /// Metrics that count requests only when `counting`, with per-key series for `keys`.
    pub fn with_key_labels(counting: bool, keys: Vec<String>) -> Metrics {
        let mut registry = Registry::with_prefix("switchyard");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<DoorOutcome, Histogram>::new_with_constructor(seconds as fn() -> _);
        let ttft = Family::<DoorLabel, Histogram>::new_with_constructor(seconds as fn() -> _);
        let attempts_per_request = Histogram::new([1.0, 2.0, 3.0, 4.0, 6.0, 8.0]);
        let fallbacks = Family::<DoorLabel, Counter>::default();
        let upstream_attempts = Family::<AttemptLabels, Counter>::default();
        let attempt_duration =
            Family::<AttemptLabels, Histogram>::new_with_constructor(seconds as fn() -> _);
        let key_requests = Family::<KeyOutcome, Counter>::default();
        let key_cost = Family::<KeyLabel, Counter<f64, AtomicU64>>::default();
        // 1 ms .. ~16 s.
        let log_write_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let in_flight_streams = Gauge::default();
        let tokens = Family::<TokenLabels, Counter>::default();
        let cost = Family::<ModelProvider, Counter<f64, AtomicU64>>::default();
        let streams = Family::<DoorOutcome, Counter>::default();
        let refusals = Family::<ReasonLabel, Counter>::default();
        let in_flight = Gauge::default();
        registry.register(
            "requests",
            "Requests that ended, by front door, served model and provider, outcome and status class",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from arrival to the request's end",
            duration.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time from arrival to the first generated output of a stream",
            ttft.clone(),
        );
        registry.register(
            "attempts_per_request",
            "Upstream attempts a request made",
            attempts_per_request.clone(),
        );
        registry.register(
            "fallbacks",
            "Requests served by another attempt than their first",
            fallbacks.clone(),
        );
        registry.register(
            "upstream_attempts",
            "Upstream attempts, by provider and how each ended",
            upstream_attempts.clone(),
        );
        registry.register(
            "tokens",
            "Tokens billed, by model and kind (prompt, completion, cached, reasoning)",
            tokens.clone(),
        );
        registry.register("cost_usd", "Cost billed in USD", cost.clone());
        registry.register(
            "streams",
            "Streamed requests by how they ended (success, cut, timeout, cancelled by the client, error)",
            streams.clone(),
        );
        registry.register(
            "refusals",
            "Requests refused before any upstream was called, by reason",
            refusals.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Admitted requests not yet ended (streams included)",
            in_flight.clone(),
        );
        registry.register(
            "in_flight_streams",
            "Streams past their commit point, not yet ended",
            in_flight_streams.clone(),
        );
        registry.register(
            "upstream_attempt_duration_seconds",
            "Upstream attempts' durations (to the answer, or to the first token of a stream), by provider and how each ended",
            attempt_duration.clone(),
        );
        registry.register(
            "key_requests",
            "Requests of the keys named in [metrics] key_labels, by key and outcome",
            key_requests.clone(),
        );
        registry.register(
            "key_cost_usd",
            "Cost billed in USD to the keys named in [metrics] key_labels",
            key_cost.clone(),
        );
        registry.register(
            "request_log_write_seconds",
            "Time the request-log writer's batches took to commit",
            log_write_seconds.clone(),
        );
        let gauges = [
            (
                "request_log_queue",
                "Request records queued or reserved for the writer",
            ),
            ("request_log_written", "Request records written since start"),
            (
                "request_log_dead_lettered",
                "Request records the database refused, set aside",
            ),
            (
                "request_log_lost",
                "Request records that could not be written at all",
            ),
            (
                "request_log_failing",
                "1 while writes to the database are failing",
            ),
            (
                "registry_version",
                "Version of the registry snapshot in use",
            ),
            (
                "registry_age_seconds",
                "Seconds since the registry last reached the database",
            ),
        ];
        let handles: Vec<Gauge> = gauges
            .iter()
            .map(|(name, help)| {
                let g = Gauge::default();
                registry.register(*name, *help, g.clone());
                g
            })
            .collect();
        let [log_queue, log_written, log_dead_lettered, log_lost, log_failing, registry_version, registry_age_seconds] =
            <[Gauge; 7]>::try_from(handles).unwrap_or_else(|_| unreachable!("seven gauges"));
        Metrics {
            counting,
            registry,
            requests,
            duration,
            ttft,
            attempts_per_request,
            fallbacks,
            upstream_attempts,
            attempt_duration,
            tokens,
            cost,
            streams,
            refusals,
            in_flight,
            in_flight_streams,
            key_labels: keys.into_iter().collect(),
            key_requests,
            key_cost,
            series: SeriesCache::default(),
            attempt_series: SeriesCache::default(),
            log_write_seconds,
            log_queue,
            log_written,
            log_dead_lettered,
            log_lost,
            log_failing,
            registry_version,
            registry_age_seconds,
        }
    }

    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn admitted(&self) {
        if !self.counting {
            return;
        }
        self.in_flight.inc();
    }

    /// Counts a request that was admitted and has ended (its record is final).
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn ended(&self, door: &'static str, r: &RequestRecord) {
        if !self.counting {
            return;
        }
        self.in_flight.dec();
        let model = r.served_model.as_deref().unwrap_or("none");
        let provider = r.provider.as_deref().unwrap_or("none");
        let status_class = status_class(r.status);
        let outcome = r.outcome.as_str();
        let s = self
            .series
            .get(&[door, model, provider, outcome, status_class], || {
                RequestSeries {
                    requests: self
                        .requests
                        .get_or_create(&RequestLabels {
                            door,
                            model: model.to_owned(),
                            provider: provider.to_owned(),
                            outcome: outcome.to_owned(),
                            status_class,
                        })
                        .clone(),
                    duration: self
                        .duration
                        .get_or_create(&DoorOutcome {
                            door,
                            outcome: outcome.to_owned(),
                        })
                        .clone(),
                    streams: OnceLock::new(),
                    ttft: OnceLock::new(),
                    fallbacks: OnceLock::new(),
                    tokens: Default::default(),
                    cost: OnceLock::new(),
                    attempt: OnceLock::new(),
                }
            });
        s.requests.inc();
        let secs = |ms: i64| ms.max(0) as f64 / 1000.0;
        s.duration.observe(secs(r.latency_ms));
        if r.streamed {
            if let Some(t) = r.ttft_ms {
                s.ttft
                    .get_or_init(|| self.ttft.get_or_create(&DoorLabel { door }).clone())
                    .observe(secs(t));
            }
            s.streams
                .get_or_init(|| {
                    let labels = DoorOutcome {
                        door,
                        outcome: outcome.to_owned(),
                    };
                    self.streams.get_or_create(&labels).clone()
                })
                .inc();
        }
        self.attempts_per_request.observe(r.attempts.len() as f64);
        if r.attempts.len() > 1 && r.outcome == "success" {
            s.fallbacks
                .get_or_init(|| self.fallbacks.get_or_create(&DoorLabel { door }).clone())
                .inc();
        }
        for a in &r.attempts {
            let looked_up;
            let series = match s.attempt.get() {
                Some((p, o, series)) if *p == a.provider && *o == a.outcome => series,
                _ => {
                    looked_up = self.attempt_series(&a.provider, &a.outcome);
                    let _ =
                        s.attempt
                            .set((a.provider.clone(), a.outcome.clone(), looked_up.clone()));
                    &looked_up
                }
            };
            series.duration.observe(secs(a.latency_ms));
            series.attempts.inc();
        }
        // (An empty set still hashes what it is asked about.)
        let labelled = |k: &&String| !self.key_labels.is_empty() && self.key_labels.contains(*k);
        if let Some(key) = r.key_id.as_ref().filter(labelled) {
            self.key_requests
                .get_or_create(&KeyOutcome {
                    key: key.clone(),
                    outcome: r.outcome.clone(),
                })
                .inc();
            if r.cost_nanos > 0 {
                self.key_cost
                    .get_or_create(&KeyLabel { key: key.clone() })
                    .inc_by(r.cost_nanos as f64 / 1e9);
            }
        }
        for (i, (kind, n)) in [
            ("prompt", r.prompt_tokens),
            ("completion", r.completion_tokens),
            ("cached", r.cached_tokens),
            ("reasoning", r.reasoning_tokens),
        ]
        .into_iter()
        .enumerate()
        {
            if n > 0 {
                s.tokens[i]
                    .get_or_init(|| {
                        let labels = TokenLabels {
                            model: model.to_owned(),
                            kind,
                        };
                        self.tokens.get_or_create(&labels).clone()
                    })
                    .inc_by(n as u64);
            }
        }
        if r.cost_nanos > 0 {
            s.cost
                .get_or_init(|| {
                    let labels = ModelProvider {
                        model: model.to_owned(),
                        provider: provider.to_owned(),
                    };
                    self.cost.get_or_create(&labels).clone()
                })
                .inc_by(r.cost_nanos as f64 / 1e9);
        }
    }

    fn attempt_series(&self, provider: &str, outcome: &str) -> Arc<AttemptSeries> {
        self.attempt_series.get(&[provider, outcome], || {
            let labels = AttemptLabels {
                provider: provider.to_owned(),
                outcome: outcome.to_owned(),
            };
            AttemptSeries {
                duration: self.attempt_duration.get_or_create(&labels).clone(),
                attempts: self.upstream_attempts.get_or_create(&labels).clone(),
            }
        })
    }

    /// A stream passed its commit point (paired with `stream_ended`).
    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn stream_started(&self) {
        if self.counting {
            self.in_flight_streams.inc();
        }
    }

    #[inline(never)] // bench/instructions.sh attributes its cost
    pub fn stream_ended(&self) {
        if self.counting {
            self.in_flight_streams.dec();
        }
    }

    pub fn refused(&self, reason: &'static str) {
        if !self.counting {
            return;
        }
        self.refusals.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The text exposition (OpenMetrics text, which Prometheus reads).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The series of one (door, model, provider, outcome, status class): handles that share
/// their values with the families', taken on first use (a series appears in `/metrics` only
/// once something was counted in it, as before). A request's end then costs one hash of its
/// labels instead of one label-set hash, lock and string copies per family.
struct RequestSeries {
    requests: Counter,
    duration: Histogram,
    streams: OnceLock<Counter>,
    ttft: OnceLock<Histogram>,
    fallbacks: OnceLock<Counter>,
    /// prompt, completion, cached, reasoning.
    tokens: [OnceLock<Counter>; 4],
    cost: OnceLock<Counter<f64, AtomicU64>>,
    /// The first attempt series its requests touched, with that attempt's provider and
    /// outcome: nearly every request of a series makes one attempt, of the same provider
    /// and outcome, so its end looks up one series instead of two.
    attempt: OnceLock<(String, String, Arc<AttemptSeries>)>,
}

/// The series of one (provider, attempt outcome).
struct AttemptSeries {
    duration: Histogram,
    attempts: Counter,
}

/// Series by label values, looked up without copying them. Bounded like the labels are.
struct SeriesCache<T> {
    /// By the hash of the label values: the values and their series.
    map: RwLock<HashMap<u64, Bucket<T>, BuildHasherDefault<PreHashed>>>,
}

type Bucket<T> = Vec<(Vec<String>, Arc<T>)>;

/// The map's keys are `label_hash`es already: hashing them again (SipHash, by default) cost
/// as much as the label hash itself.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl<T> Default for SeriesCache<T> {
    fn default() -> Self {
        SeriesCache {
            map: RwLock::new(HashMap::default()),
        }
    }
}

impl<T> SeriesCache<T> {
    fn get(&self, labels: &[&str], make: impl FnOnce() -> T) -> Arc<T> {
        let hash = label_hash(labels);
        let same = |k: &Vec<String>| k.iter().map(String::as_str).eq(labels.iter().copied());
        if let Ok(map) = self.map.read() {
            if let Some((_, t)) = map.get(&hash).and_then(|b| b.iter().find(|(k, _)| same(k))) {
                return t.clone();
            }
        }
        let Ok(mut map) = self.map.write() else {
            return Arc::new(make());
        };
        let bucket = map.entry(hash).or_default();
        if let Some((_, t)) = bucket.iter().find(|(k, _)| same(k)) {
            return t.clone();
        }
        let t = Arc::new(make());
        bucket.push((labels.iter().map(|l| (*l).to_owned()).collect(), t.clone()));
        t
    }
}

/// A hash of label values, eight bytes at a time (the multiply-rotate of rustc's FxHash). Not
/// SipHash: this runs at every request's end, and the values are the registry's and the
/// configuration's names (a client cannot choose them to collide: an unknown model ends
/// before it is served), so there is no flooding to resist. Values are separated by their
/// lengths, so `["ab", "c"]` and `["a", "bc"]` differ.
fn label_hash(labels: &[&str]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = 0;
    let mut add = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    for l in labels {
        add(l.len() as u64);
        let mut chunks = l.as_bytes().chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            add(u64::from_le_bytes(w));
        }
        let mut w = [0; 8];
        let rest = chunks.remainder();
        w[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(w));
    }
    h
}

fn status_class(status: i64) -> &'static str {
    match status {
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        // A client that left before an answer.
        _ => "none",
    }
}

/// Sets a gauge from a counter kept elsewhere.
pub fn set(g: &Gauge, v: u64) {
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
}

/// Reads an atomic counter for a gauge.
pub fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AttemptRecord;

    #[test]
    fn label_hashes_separate_values_and_the_cache_compares_them() {
        assert_ne!(label_hash(&["ab", "c"]), label_hash(&["a", "bc"]));
        assert_ne!(label_hash(&["x", ""]), label_hash(&["x"]));
        assert_ne!(
            label_hash(&["openai/gpt-4o-mini", "2xx"]),
            label_hash(&["openai/gpt-4o-mino", "2xx"])
        );
        let cache = SeriesCache::<u32>::default();
        assert_eq!(*cache.get(&["a", "bc"], || 1), 1);
        assert_eq!(*cache.get(&["ab", "c"], || 2), 2);
        assert_eq!(*cache.get(&["a", "bc"], || 3), 1);
    }

    /// A request series remembers one attempt series; attempts of other providers or
    /// outcomes in the same request series still count in their own.
    #[test]
    fn attempts_count_in_their_own_series_whatever_the_request_series_remembers() {
        let m = Metrics::new();
        let attempt = |provider: &str, outcome: &str| AttemptRecord {
            provider: provider.into(),
            model: "a/b".into(),
            upstream_model: "up".into(),
            outcome: outcome.into(),
            status: None,
            error: None,
            latency_ms: 5,
        };
        for attempts in [
            vec![attempt("p", "error"), attempt("q", "ok")],
            vec![attempt("q", "ok")],
            vec![attempt("p", "timeout"), attempt("q", "ok")],
            vec![attempt("q", "ok")],
        ] {
            m.admitted();
            let record = RequestRecord {
                served_model: Some("a/b".into()),
                provider: Some("q".into()),
                outcome: "success".into(),
                status: 200,
                attempts,
                ..RequestRecord::default()
            };
            m.ended("chat", &record);
        }
        let text = m.render();
        for line in [
            r#"switchyard_upstream_attempts_total{provider="p",outcome="error"} 1"#,
            r#"switchyard_upstream_attempts_total{provider="p",outcome="timeout"} 1"#,
            r#"switchyard_upstream_attempts_total{provider="q",outcome="ok"} 4"#,
            r#"switchyard_upstream_attempt_duration_seconds_count{provider="q",outcome="ok"} 4"#,
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn a_request_is_counted_with_bounded_labels() {
        let m = Metrics::new();
        m.admitted();
        let attempt = |outcome: &str| AttemptRecord {
            provider: "p".into(),
            model: "a/b".into(),
            upstream_model: "up".into(),
            outcome: outcome.into(),
            status: None,
            error: None,
            latency_ms: 10,
        };
        m.ended(
            "chat",
            &RequestRecord {
                served_model: Some("a/b".into()),
                provider: Some("p".into()),
                outcome: "success".into(),
                status: 200,
                streamed: true,
                ttft_ms: Some(120),
                latency_ms: 900,
                prompt_tokens: 10,
                completion_tokens: 5,
                cost_nanos: 2_500_000,
                attempts: vec![attempt("error"), attempt("ok")],
                ..RequestRecord::default()
            },
        );
        m.refused("budget");
        let text = m.render();
        for line in [
            r#"switchyard_requests_total{door="chat",model="a/b",provider="p",outcome="success",status_class="2xx"} 1"#,
            r#"switchyard_tokens_total{model="a/b",kind="prompt"} 10"#,
            r#"switchyard_cost_usd_total{model="a/b",provider="p"} 0.0025"#,
            r#"switchyard_fallbacks_total{door="chat"} 1"#,
            r#"switchyard_upstream_attempts_total{provider="p",outcome="error"} 1"#,
            r#"switchyard_streams_total{door="chat",outcome="success"} 1"#,
            r#"switchyard_refusals_total{reason="budget"} 1"#,
            "switchyard_in_flight_requests 0",
            r#"switchyard_time_to_first_token_seconds_count{door="chat"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }
}
