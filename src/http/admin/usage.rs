//! `GET /admin/usage`: usage over time from the hourly rollups (never the raw request log),
//! bucketed by hour, day or the whole range, optionally grouped by key, model, provider or app
//! (every group, or the `top` few and one folded rest) and filtered on any of them. What the
//! dashboard draws.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::invalid;
use crate::http::extract::ApiQuery;
use crate::http::{ApiError, AppState};
use crate::store::{Dimension, Sums, Top, TopBy, UsageQuery, MAX_TOP, WHOLE_RANGE};
use crate::types::histogram;

/// The most buckets one answer may span (per group): a year and a half of hours.
const MAX_BUCKETS: i64 = 13_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    group_by: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    app: Option<String>,
    /// Text, so a bad value gets this API's own message rather than serde's.
    #[serde(default)]
    top: Option<String>,
    #[serde(default)]
    top_by: Option<String>,
}

impl UsageParams {
    fn into_query(self, now_s: i64) -> Result<UsageQuery, ApiError> {
        let to = self.to.unwrap_or(now_s);
        let from = self.from.unwrap_or(to - 86_400);
        if from < 0 || to < 0 {
            return Err(invalid("`from` and `to` are unix seconds", Some("from")));
        }
        if from >= to {
            return Err(invalid("`from` must be before `to`", Some("from")));
        }
        let bucket_secs = match self.bucket.as_deref() {
            None | Some("hour") => 3600,
            Some("day") => 86_400,
            Some("total") => WHOLE_RANGE,
            Some(_) => {
                return Err(invalid(
                    "`bucket` is `hour`, `day` or `total`",
                    Some("bucket"),
                ))
            }
        };
        if bucket_secs != WHOLE_RANGE && (to - from) / bucket_secs > MAX_BUCKETS {
            return Err(invalid(
                format!("the range spans more than {MAX_BUCKETS} buckets: narrow it or use `bucket=day`"),
                Some("from"),
            ));
        }
        let group_by = match self.group_by.as_deref() {
            None | Some("") => None,
            Some(g) => Some(Dimension::parse(g).ok_or_else(|| {
                invalid(
                    "`group_by` is one of `key`, `model`, `provider`, `app`",
                    Some("group_by"),
                )
            })?),
        };
        let top = top(self.top.as_deref(), self.top_by.as_deref(), group_by)?;
        Ok(UsageQuery {
            from,
            to,
            bucket_secs,
            group_by,
            top,
            key_id: self.key,
            model: self.model,
            provider: self.provider,
            app: self.app,
        })
    }
}

/// `top` and `top_by`: only with `group_by`, `top` a whole number from 1 to `MAX_TOP`.
fn top(
    n: Option<&str>,
    by: Option<&str>,
    group_by: Option<Dimension>,
) -> Result<Option<Top>, ApiError> {
    let Some(n) = n else {
        return match by {
            None => Ok(None),
            Some(_) => Err(invalid("`top_by` needs `top`", Some("top_by"))),
        };
    };
    let by = match by {
        None => TopBy::default(),
        Some(b) => TopBy::parse(b)
            .ok_or_else(|| invalid("`top_by` is `requests` or `cost`", Some("top_by")))?,
    };
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_TOP).contains(n))
        .ok_or_else(|| {
            invalid(
                format!("`top` is a whole number from 1 to {MAX_TOP}"),
                Some("top"),
            )
        })?;
    if group_by.is_none() {
        return Err(invalid("`top` needs `group_by`", Some("top")));
    }
    Ok(Some(Top { n, by }))
}

pub async fn usage(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<UsageParams>,
) -> Result<Json<Value>, ApiError> {
    let q = p.into_query(crate::types::now_ms() / 1000)?;
    let usage = s.store.usage_with_top(&q).await?;
    let mut totals = Sums::default();
    let data: Vec<Value> = usage
        .rows
        .iter()
        .map(|r| {
            totals.add(&r.sums);
            let mut v = figures(&r.sums);
            v["t"] = json!(r.t);
            v["group"] = json!(r.group);
            if r.other {
                v["other"] = json!(true);
            }
            v
        })
        .collect();
    let mut body = json!({ "data": data, "totals": figures(&totals) });
    if let Some(top) = usage.top {
        body["top"] = json!(top);
    }
    Ok(Json(body))
}

/// A row's figures as the API shows them.
pub fn figures(s: &Sums) -> Value {
    json!({
        "requests": s.requests,
        "errors": s.errors,
        "cancelled": s.cancelled,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "cached_tokens": s.cached_tokens,
        "reasoning_tokens": s.reasoning_tokens,
        "cost": nanos_decimal(s.cost_nanos),
        "cost_nanos": s.cost_nanos,
        "latency_ms_p50": histogram::quantile(&s.latency, 0.5),
        "latency_ms_p95": histogram::quantile(&s.latency, 0.95),
        "ttft_ms_p50": histogram::quantile(&s.ttft, 0.5),
        "ttft_ms_p95": histogram::quantile(&s.ttft, 0.95),
    })
}

/// Nano-dollars as an exact decimal string of dollars (`1234567` → `"0.001234567"`), without
/// trailing zeros.
pub fn nanos_decimal(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (whole, frac) = (n / 1_000_000_000, n % 1_000_000_000);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:09}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_print_as_exact_dollars() {
        assert_eq!(nanos_decimal(0), "0");
        assert_eq!(nanos_decimal(1), "0.000000001");
        assert_eq!(nanos_decimal(1_234_567), "0.001234567");
        assert_eq!(nanos_decimal(2_500_000_000), "2.5");
        assert_eq!(nanos_decimal(3_000_000_000), "3");
        assert_eq!(nanos_decimal(-1_500_000_000), "-1.5");
        assert_eq!(nanos_decimal(i64::MIN), "-9223372036.854775808");
    }

    fn params(q: &str) -> Result<UsageQuery, ApiError> {
        let uri: axum::http::Uri = format!("/admin/usage?{q}").parse().unwrap();
        let axum::extract::Query(p) =
            axum::extract::Query::<UsageParams>::try_from_uri(&uri).unwrap();
        p.into_query(1_000_000)
    }

    #[test]
    fn parameters_default_to_the_last_day_by_hour() {
        let q = params("").unwrap();
        assert_eq!(
            (q.from, q.to, q.bucket_secs),
            (1_000_000 - 86_400, 1_000_000, 3600)
        );
        assert!(q.group_by.is_none());
        let q = params("from=0&to=86400&bucket=day&group_by=model&key=k").unwrap();
        assert_eq!(
            (q.bucket_secs, q.group_by, q.key_id.as_deref()),
            (86_400, Some(Dimension::Model), Some("k"))
        );
        let q = params("group_by=key&top=3&top_by=cost&bucket=total").unwrap();
        assert_eq!(
            q.top,
            Some(Top {
                n: 3,
                by: TopBy::Cost
            })
        );
        assert_eq!(q.bucket_secs, WHOLE_RANGE);
        assert_eq!(
            params("group_by=app&top=100").unwrap().top.unwrap().by,
            TopBy::Requests
        );
        for bad in [
            "top=3",
            "group_by=key&top=0",
            "group_by=key&top=101",
            "group_by=key&top=-1",
            "group_by=key&top=ten",
            "group_by=key&top=",
            "group_by=key&top=2&top_by=errors",
            "group_by=key&top_by=cost",
            "group_by=key&top_by=requests",
            "bucket=week",
            "group_by=user",
            "from=5&to=5",
            "from=10&to=5",
            "from=-1&to=5",
            "from=0&to=999999999",
        ] {
            assert!(params(bad).is_err(), "{bad}");
        }
    }
}
