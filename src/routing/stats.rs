//! Live figures per endpoint (model × provider), learnt from this replica's own traffic:
//! throughput (output tokens per second after the first token) and latency (time to the
//! first token, or to the whole answer when not streamed). They order endpoints for
//! `provider.sort = "throughput" | "latency"` and the `:nitro` variant.
//!
//! Beside them, `windows`: the time-windowed figures the catalog and `/admin/endpoints`
//! show (percentiles, uptime, status; `window.rs`).
//!
//! Live state, not registry state: it changes with every request and is never stored, so it
//! lives beside the snapshot. The request-log writer feeds it, off the request's path;
//! routing reads it under a lock held for a lookup, never across an await.

use std::collections::HashMap;
use std::sync::Mutex;

use super::window::Windows;
use crate::store::RequestRecord;

/// Weight of a new sample: about the last ten requests dominate.
const ALPHA: f64 = 0.2;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EndpointFigures {
    /// Output tokens per second; `None` until a request with output was seen.
    pub throughput: Option<f64>,
    /// Milliseconds to the first token.
    pub latency_ms: Option<f64>,
}

#[derive(Default)]
pub struct LiveStats {
    by_endpoint: Mutex<HashMap<(String, String), EndpointFigures>>,
    /// Percentiles and uptime over fixed windows, per (provider, model).
    pub windows: Windows,
}

impl LiveStats {
    /// Learns from finished requests: only successful ones say how fast an endpoint is (the
    /// windows count failures too).
    pub fn observe<'a>(&self, records: impl IntoIterator<Item = &'a RequestRecord>) {
        let records: Vec<&RequestRecord> = records.into_iter().collect();
        self.windows.observe(records.iter().copied());
        let mut map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let (Some(model), Some(provider)) = (&r.served_model, &r.provider) else {
                continue;
            };
            if r.outcome != "success" {
                continue;
            }
            let latency = r.ttft_ms.unwrap_or(r.latency_ms).max(0) as f64;
            let generating_ms = (r.latency_ms - r.ttft_ms.unwrap_or(0)).max(1) as f64;
            let throughput = (r.completion_tokens > 0)
                .then(|| r.completion_tokens as f64 * 1000.0 / generating_ms);
            let f = map.entry((model.clone(), provider.clone())).or_default();
            f.latency_ms = Some(blend(f.latency_ms, latency));
            if let Some(t) = throughput {
                f.throughput = Some(blend(f.throughput, t));
            }
        }
    }

    /// The figures for each `(model, provider)` asked, in order (one lock for all).
    pub fn figures<'a>(
        &self,
        endpoints: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Vec<EndpointFigures> {
        let map = self.by_endpoint.lock().unwrap_or_else(|e| e.into_inner());
        endpoints
            .map(|(m, p)| {
                // Owned keys for the lookup: only sorted plans ask, a few endpoints each.
                map.get(&(m.to_owned(), p.to_owned()))
                    .copied()
                    .unwrap_or_default()
            })
            .collect()
    }
}

fn blend(old: Option<f64>, sample: f64) -> f64 {
    match old {
        Some(o) => o + ALPHA * (sample - o),
        None => sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(provider: &str, latency: i64, ttft: Option<i64>, tokens: i64) -> RequestRecord {
        RequestRecord {
            served_model: Some("m".into()),
            provider: Some(provider.into()),
            outcome: "success".into(),
            latency_ms: latency,
            ttft_ms: ttft,
            completion_tokens: tokens,
            ..RequestRecord::default()
        }
    }

    #[test]
    fn learns_throughput_and_latency() {
        let s = LiveStats::default();
        s.observe(&[rec("a", 1100, Some(100), 100), rec("b", 500, None, 0)]);
        let f = s.figures([("m", "a"), ("m", "b"), ("m", "c")].into_iter());
        assert_eq!(f[0].throughput, Some(100.0));
        assert_eq!(f[0].latency_ms, Some(100.0));
        assert_eq!(f[1].throughput, None);
        assert_eq!(f[1].latency_ms, Some(500.0));
        assert_eq!(f[2], EndpointFigures::default());
    }

    #[test]
    fn failures_teach_nothing_and_samples_blend() {
        let s = LiveStats::default();
        let mut failed = rec("a", 10, None, 5);
        failed.outcome = "error".into();
        s.observe(&[failed]);
        assert_eq!(
            s.figures([("m", "a")].into_iter())[0],
            EndpointFigures::default()
        );
        s.observe(&[rec("a", 1000, None, 100), rec("a", 1000, None, 200)]);
        let t = s.figures([("m", "a")].into_iter())[0].throughput.unwrap();
        assert!((t - 120.0).abs() < 1e-9, "{t}");
    }
}
