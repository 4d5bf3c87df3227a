use super::*;

const T0: i64 = 1_700_000_040_000; // some whole minute

fn attempt(provider: &str, outcome: &str, status: Option<i64>, latency: i64) -> AttemptRecord {
    AttemptRecord {
        provider: provider.into(),
        model: "m".into(),
        upstream_model: "u".into(),
        outcome: outcome.into(),
        status,
        error: None,
        latency_ms: latency,
    }
}

/// A streamed request served by `provider` that ended at `end_ms`: first token after
/// `ttft` ms, `tokens` output tokens over `gen` ms more.
fn streamed(provider: &str, end_ms: i64, ttft: i64, gen: i64, tokens: i64) -> RequestRecord {
    RequestRecord {
        created_at: end_ms - ttft - gen,
        served_model: Some("m".into()),
        provider: Some(provider.into()),
        outcome: "success".into(),
        streamed: true,
        latency_ms: ttft + gen,
        ttft_ms: Some(ttft),
        completion_tokens: tokens,
        attempts: vec![attempt(provider, "ok", Some(200), ttft)],
        ..RequestRecord::default()
    }
}

/// A request whose only attempt at `provider` failed, ending at `end_ms`.
fn failed(provider: &str, end_ms: i64, outcome: &str, status: Option<i64>) -> RequestRecord {
    RequestRecord {
        created_at: end_ms - 10,
        outcome: "error".into(),
        latency_ms: 10,
        attempts: vec![attempt(provider, outcome, status, 10)],
        ..RequestRecord::default()
    }
}

#[test]
fn health_of_attempts() {
    let a = |outcome: &str, status: Option<i64>| attempt("p", outcome, status, 1);
    assert_eq!(health(&a("ok", Some(200)), false), Health::Up);
    assert_eq!(health(&a("ok", Some(200)), true), Health::Down);
    for s in [500, 502, 503, 504, 529, 401, 403, 404, 408] {
        assert_eq!(health(&a("status", Some(s)), false), Health::Down, "{s}");
    }
    for s in [429, 400, 413, 422] {
        assert_eq!(
            health(&a("status", Some(s)), false),
            Health::Excluded,
            "{s}"
        );
    }
    for k in ["timeout", "connect", "cut", "malformed", "config"] {
        assert_eq!(health(&a(k, None), false), Health::Down, "{k}");
    }
    for k in ["cancelled", "unsupported"] {
        assert_eq!(health(&a(k, None), false), Health::Excluded, "{k}");
    }
}

#[test]
fn histogram_reads_one_sample_exactly_and_many_within_its_resolution() {
    let mut h = Histogram::default();
    assert_eq!(h.percentiles(LATENCY), None);
    h.add(LATENCY, 123.0);
    let p = h.percentiles(LATENCY).unwrap();
    assert_eq!((p.p50, p.p99), (123.0, 123.0));

    // 1..=1000: the true p-th percentile is about 10·p.
    let mut h = Histogram::default();
    for v in 1..=1000 {
        h.add(LATENCY, f64::from(v));
    }
    let p = h.percentiles(LATENCY).unwrap();
    for (got, want) in [
        (p.p50, 500.0),
        (p.p75, 750.0),
        (p.p90, 900.0),
        (p.p99, 990.0),
    ] {
        assert!((got / want - 1.0).abs() < 0.10, "{got} vs {want}");
    }
    assert!(p.p50 <= p.p75 && p.p75 <= p.p90 && p.p90 <= p.p99);
}

#[test]
fn histogram_clamps_out_of_range_and_ignores_nonsense() {
    let mut h = Histogram::default();
    h.add(THROUGHPUT, 1e12);
    h.add(THROUGHPUT, 0.0);
    h.add(THROUGHPUT, f64::NAN);
    h.add(THROUGHPUT, -1.0);
    assert_eq!(h.len(), 2);
    let p = h.percentiles(THROUGHPUT).unwrap();
    assert!(p.p50 >= 0.0 && p.p99 <= 1e12, "{p:?}");
}

/// Merging per-minute histograms reads as if every sample went into one (pseudo-random data,
/// many seeds: a property, without a property-testing dependency).
#[test]
fn merged_minutes_equal_one_histogram() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..50 {
        let mut parts = vec![Histogram::default(); 30];
        let mut whole = Histogram::default();
        for _ in 0..(next() % 500) {
            let v = (next() % 100_000) as f64 / 7.0;
            parts[(next() % 30) as usize].add(LATENCY, v);
            whole.add(LATENCY, v);
        }
        let mut merged = Histogram::default();
        for p in &parts {
            merged.merge(p);
        }
        assert_eq!(merged.len(), whole.len());
        assert_eq!(merged.percentiles(LATENCY), whole.percentiles(LATENCY));
    }
}

#[test]
fn uptime_counts_upstream_failures_only() {
    let w = Windows::default();
    w.observe(&[
        streamed("a", T0, 100, 900, 50),
        streamed("a", T0, 100, 900, 50),
        streamed("a", T0, 100, 900, 50),
        failed("a", T0, "status", Some(503)),
        failed("a", T0, "status", Some(429)),
        failed("a", T0, "status", Some(400)),
        failed("a", T0, "cancelled", None),
    ]);
    let f = w.figures("a", "m", T0);
    assert_eq!(f.uptime_last_5m, Some(75.0));
    assert_eq!(f.uptime_last_30m, Some(75.0));
    assert_eq!(f.uptime_last_1d, Some(75.0));
    assert_eq!(f.requests_last_30m, 7);
    assert_eq!(f.status, -2);
    assert_eq!(w.figures("b", "m", T0), Figures::default());
}

#[test]
fn a_stream_cut_after_its_first_token_is_down_and_earlier_fallbacks_count_too() {
    let w = Windows::default();
    let mut cut = streamed("a", T0, 100, 900, 50);
    cut.outcome = "cut".into();
    let mut fell_back = streamed("b", T0, 100, 900, 50);
    fell_back
        .attempts
        .insert(0, attempt("a", "timeout", None, 5000));
    w.observe(&[cut, fell_back]);
    let a = w.figures("a", "m", T0);
    assert_eq!(a.uptime_last_5m, Some(0.0));
    // The cut stream still had a first token; its throughput is not an answer's.
    assert!(a.latency_last_30m.is_some());
    assert_eq!(a.throughput_last_30m, None);
    let b = w.figures("b", "m", T0);
    assert_eq!(b.uptime_last_5m, Some(100.0));
    // b's latency is its own attempt's time to first token, not the request's.
    assert_eq!(b.latency_last_30m.unwrap().p50, 100.0);
}

#[test]
fn latency_and_throughput_of_streamed_answers() {
    let w = Windows::default();
    let mut whole = streamed("a", T0, 100, 900, 50);
    whole.streamed = false; // not streamed: no first-token time
    w.observe(&[
        streamed("a", T0, 200, 1000, 100),
        streamed("a", T0, 200, 1000, 100),
        whole,
    ]);
    let f = w.figures("a", "m", T0 + 1000);
    assert_eq!(f.latency_last_30m.unwrap().p50, 200.0);
    assert_eq!(f.throughput_last_30m.unwrap().p99, 100.0);
    assert_eq!(f.uptime_last_5m, Some(100.0));
}

#[test]
fn windows_slide_by_the_minute() {
    let w = Windows::default();
    let min = MINUTE_MS;
    // A failure 10 minutes ago, a success now.
    w.observe(&[failed("a", T0 - 10 * min, "status", Some(500))]);
    w.observe(&[streamed("a", T0, 100, 100, 10)]);
    let f = w.figures("a", "m", T0);
    assert_eq!(f.uptime_last_5m, Some(100.0));
    assert_eq!(f.uptime_last_30m, Some(50.0));
    assert_eq!(f.uptime_last_1d, Some(50.0));
    assert_eq!(f.requests_last_30m, 2);
    // 4 minutes later the success is still in the 5-minute window, 5 minutes later not.
    assert_eq!(
        w.figures("a", "m", T0 + 4 * min).uptime_last_5m,
        Some(100.0)
    );
    assert_eq!(w.figures("a", "m", T0 + 5 * min).uptime_last_5m, None);
    // 30 minutes on, the histograms have aged out; the day still counts both.
    let later = w.figures("a", "m", T0 + 30 * min);
    assert_eq!(later.latency_last_30m, None);
    assert_eq!(later.requests_last_30m, 0);
    assert_eq!(later.uptime_last_1d, Some(50.0));
    // A day after the failure, only the success is left; a day after that, nothing.
    assert_eq!(
        w.figures("a", "m", T0 - 10 * min + DAY as i64 * min)
            .uptime_last_1d,
        Some(100.0)
    );
    assert_eq!(
        w.figures("a", "m", T0 + DAY as i64 * min).uptime_last_1d,
        None
    );
    assert!(w.all(T0 + DAY as i64 * min).is_empty());
}

#[test]
fn ring_slots_are_reused_and_stale_samples_dropped() {
    let w = Windows::default();
    let min = MINUTE_MS;
    // Same slot, one day apart: the newer minute replaces the older.
    w.observe(&[failed("a", T0, "status", Some(500))]);
    w.observe(&[streamed("a", T0 + DAY as i64 * min, 100, 100, 10)]);
    let f = w.figures("a", "m", T0 + DAY as i64 * min);
    assert_eq!(f.uptime_last_1d, Some(100.0));
    // A record older than what its slot holds is dropped, not mixed in.
    w.observe(&[failed("a", T0, "status", Some(500))]);
    assert_eq!(
        w.figures("a", "m", T0 + DAY as i64 * min).uptime_last_1d,
        Some(100.0)
    );
    // The histogram ring too (30 minutes).
    w.observe(&[streamed("b", T0, 100, 100, 10)]);
    w.observe(&[streamed("b", T0 + 30 * min, 900, 100, 10)]);
    let f = w.figures("b", "m", T0 + 30 * min);
    assert_eq!(f.latency_last_30m.unwrap().p50, 900.0);
}

#[test]
fn status_follows_recent_uptime() {
    assert_eq!(status((0, 0, 0), (0, 0, 0)), 0);
    assert_eq!(status((0, 2, 2), (0, 2, 2)), 0, "too few attempts to say");
    assert_eq!(status((0, 3, 3), (0, 3, 3)), -10);
    assert_eq!(status((1, 2, 3), (1, 2, 3)), -3);
    assert_eq!(
        status((1, 1, 2), (9, 1, 10)),
        -1,
        "falls back to 30 minutes"
    );
    assert_eq!(status((19, 1, 20), (19, 1, 20)), 0);
    assert_eq!(status((2, 1, 3), (2, 1, 3)), -2);
    assert_eq!(status((1, 9, 10), (1, 9, 10)), -5);
}

#[test]
fn memory_is_bounded() {
    let w = Windows::default();
    let min = MINUTE_MS;
    // A day and a half of traffic on one endpoint: still one endpoint, rings of fixed size.
    for m in 0..(DAY as i64 * 3 / 2) {
        w.observe(&[streamed("a", T0 + m * min, 100, 100, 10)]);
    }
    {
        let map = w.by_endpoint.lock().unwrap();
        let e = &map[&("a".to_owned(), "m".to_owned())];
        assert_eq!(e.counts.len(), DAY);
        assert_eq!(e.hists.len(), HIST_MINUTES);
    }
    // Too many endpoints: idle ones make room, and beyond the cap new ones are not tracked.
    let w = Windows::default();
    for i in 0..MAX_ENDPOINTS {
        w.observe(&[failed(&format!("p{i}"), T0, "connect", None)]);
    }
    w.observe(&[failed("late", T0, "connect", None)]);
    assert_eq!(w.len(), MAX_ENDPOINTS);
    assert_eq!(w.figures("late", "m", T0).requests_last_30m, 0);
    let next_day = T0 + DAY as i64 * min;
    w.observe(&[failed("late", next_day, "connect", None)]);
    assert_eq!(w.len(), 1);
    assert_eq!(w.figures("late", "m", next_day).requests_last_30m, 1);
}
