//! Usage rollups by hour and by day (`usage_hourly`, `usage_daily`, migration 0009): what the
//! analytics read instead of the request log. The writer adds each batch's newly inserted records to them in the
//! transaction that inserts the records, pre-aggregated here so a batch is a handful of
//! upserts; `col = col + excluded.col` makes concurrent replicas add up exactly.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;

use super::dim_rollups::{dim_name, Table};
use super::records::RequestRecord;
pub use super::usage_top::{Top, TopBy};
use super::{on_pool, Store, StoreError};
use crate::types::histogram::{self, Counts, BUCKETS};

/// A rollup row's identity. Empty strings stand for "none".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RollupKey {
    /// The hour's start, unix seconds.
    pub hour: i64,
    pub key_id: String,
    /// The served model, else the requested one.
    pub model: String,
    pub provider: String,
    /// `app_title`, else `app_referer`.
    pub app: String,
}

/// A rollup row's sums; every field merges by addition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub requests: i64,
    /// Records whose outcome is not `success`.
    pub errors: i64,
    pub cancelled: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_nanos: i64,
    pub latency_ms_sum: i64,
    pub ttft_ms_sum: i64,
    pub latency: Counts,
    pub ttft: Counts,
}

impl Sums {
    pub fn add(&mut self, o: &Sums) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.cancelled += o.cancelled;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cached_tokens += o.cached_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.cost_nanos += o.cost_nanos;
        self.latency_ms_sum += o.latency_ms_sum;
        self.ttft_ms_sum += o.ttft_ms_sum;
        histogram::merge(&mut self.latency, &o.latency);
        histogram::merge(&mut self.ttft, &o.ttft);
    }

    fn count(&mut self, r: &RequestRecord) {
        self.requests += 1;
        self.errors += i64::from(r.outcome != "success");
        self.cancelled += i64::from(r.cancelled);
        self.prompt_tokens += r.prompt_tokens;
        self.completion_tokens += r.completion_tokens;
        self.cached_tokens += r.cached_tokens;
        self.reasoning_tokens += r.reasoning_tokens;
        self.cost_nanos += r.cost_nanos;
        self.latency_ms_sum += r.latency_ms;
        self.latency[histogram::bucket_of(r.latency_ms)] += 1;
        if let Some(t) = r.ttft_ms {
            self.ttft_ms_sum += t;
            self.ttft[histogram::bucket_of(t)] += 1;
        }
    }
}

pub type Rollup = BTreeMap<RollupKey, Sums>;

/// The rollup rows of some records, keyed in a fixed order (upserts in key order keep
/// concurrent writers from deadlocking each other on PostgreSQL).
pub fn rollup_of<'a>(records: impl Iterator<Item = &'a RequestRecord>) -> Rollup {
    let mut m = Rollup::new();
    for r in records {
        let key = RollupKey {
            hour: r.created_at.div_euclid(3_600_000) * 3600,
            key_id: r.key_id.clone().unwrap_or_default(),
            model: r
                .served_model
                .as_ref()
                .or(r.requested_model.as_ref())
                .cloned()
                .unwrap_or_default(),
            provider: r.provider.clone().unwrap_or_default(),
            app: r
                .app_title
                .as_ref()
                .or(r.app_referer.as_ref())
                .cloned()
                .unwrap_or_default(),
        };
        m.entry(key).or_default().count(r);
    }
    m
}

const SUM_COLUMNS: [&str; 10] = [
    "requests",
    "errors",
    "cancelled",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "latency_ms_sum",
    "ttft_ms_sum",
];

/// The histogram columns: `lat_00..` then `ttft_00..`.
fn histogram_columns() -> impl Iterator<Item = String> {
    (0..BUCKETS)
        .map(|i| format!("lat_{i:02}"))
        .chain((0..BUCKETS).map(|i| format!("ttft_{i:02}")))
}

/// Every counted column, in the order `Sums::values` gives them.
pub(super) fn counted_columns() -> Vec<String> {
    SUM_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(histogram_columns())
        .collect()
}

impl Sums {
    pub(super) fn values(&self) -> impl Iterator<Item = i64> + '_ {
        [
            self.requests,
            self.errors,
            self.cancelled,
            self.prompt_tokens,
            self.completion_tokens,
            self.cached_tokens,
            self.reasoning_tokens,
            self.cost_nanos,
            self.latency_ms_sum,
            self.ttft_ms_sum,
        ]
        .into_iter()
        .chain(self.latency.iter().copied())
        .chain(self.ttft.iter().copied())
    }

    pub(super) fn from_values(v: &[i64]) -> Sums {
        let mut s = Sums {
            requests: v[0],
            errors: v[1],
            cancelled: v[2],
            prompt_tokens: v[3],
            completion_tokens: v[4],
            cached_tokens: v[5],
            reasoning_tokens: v[6],
            cost_nanos: v[7],
            latency_ms_sum: v[8],
            ttft_ms_sum: v[9],
            ..Default::default()
        };
        s.latency.copy_from_slice(&v[10..10 + BUCKETS]);
        s.ttft.copy_from_slice(&v[10 + BUCKETS..10 + 2 * BUCKETS]);
        s
    }
}

/// Rows per upsert statement: 65 bound values each stays far below both backends' limits.
pub(super) const ROWS_PER_UPSERT: usize = 100;

/// A rollup table: `usage_hourly` keyed by `hour`, `usage_daily` by `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grain {
    Hour,
    Day,
}

impl Grain {
    fn table(self) -> &'static str {
        match self {
            Grain::Hour => "usage_hourly",
            Grain::Day => "usage_daily",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }
}

/// The daily rows of an hourly rollup.
pub(super) fn by_day(hourly: &Rollup) -> Rollup {
    let mut m = Rollup::new();
    for (k, s) in hourly {
        let key = RollupKey {
            hour: k.hour.div_euclid(DAY) * DAY,
            ..k.clone()
        };
        m.entry(key).or_default().add(s);
    }
    m
}

const DAY: i64 = 86_400;

/// The statement adding `rows` to a rollup table: one multi-row upsert (keys are distinct,
/// as PostgreSQL requires of one statement).
pub(super) fn upsert<'a, DB>(
    grain: Grain,
    rows: &'a [(&'a RollupKey, &'a Sums)],
) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let counted = counted_columns();
    let (table, time) = (grain.table(), grain.column());
    let mut q = QueryBuilder::new(format!(
        "INSERT INTO {table} ({time}, key_id, model, provider, app, {}) ",
        counted.join(", ")
    ));
    q.push_values(rows, |mut b, (k, s)| {
        b.push_bind(k.hour)
            .push_bind(k.key_id.as_str())
            .push_bind(k.model.as_str())
            .push_bind(k.provider.as_str())
            .push_bind(k.app.as_str());
        for v in s.values() {
            b.push_bind(v);
        }
    });
    q.push(adding(
        table,
        &format!("{time}, key_id, model, provider, app"),
    ));
    q
}

/// The tail of a rollup upsert: a row already there gets the new sums added
/// (`col = col + excluded.col`), so replicas writing the same row add up exactly.
pub(super) fn adding(table: &str, conflict_columns: &str) -> String {
    let set: Vec<String> = counted_columns()
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT ({conflict_columns}) DO UPDATE SET {}",
        set.join(", ")
    )
}

/// What a usage query asks: `[from, to)` in unix seconds (whole hours are read: an hour
/// counts when it starts in the range), bucketed by hour, day or the whole range
/// (`WHOLE_RANGE`), optionally grouped by one dimension — all its groups, or only the `top`
/// few with the rest folded into one — and filtered on any.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    pub from: i64,
    pub to: i64,
    /// 3600, 86 400, or `WHOLE_RANGE`.
    pub bucket_secs: i64,
    pub group_by: Option<Dimension>,
    /// With `group_by`: only the top groups get rows of their own.
    pub top: Option<Top>,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub app: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Key,
    Model,
    Provider,
    App,
}

impl Dimension {
    pub fn parse(s: &str) -> Option<Dimension> {
        Some(match s {
            "key" => Dimension::Key,
            "model" => Dimension::Model,
            "provider" => Dimension::Provider,
            "app" => Dimension::App,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Dimension::Key => "key_id",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::App => "app",
        }
    }
}

/// `bucket_secs` for one bucket spanning the whole range (its `t` is the range's `from`).
pub const WHOLE_RANGE: i64 = 0;

/// One answer row: a bucket's start, its group ('' for none; `None` when not grouped, and
/// for the folded rest of a `top` query, which says `other`), its sums.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub t: i64,
    pub group: Option<String>,
    /// The sum of every group outside the top ones, in this bucket.
    pub other: bool,
    pub sums: Sums,
}

/// A usage answer: its rows and, for a `top` query, the top groups, first the busiest.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub rows: Vec<UsageRow>,
    pub top: Option<Vec<String>>,
}

/// What a part query selects.
#[derive(Clone, Copy)]
enum Select<'a> {
    /// Sums per (bucket, group); with `Some(top)`, the groups outside `top` fold into one
    /// (a NULL group) in SQL, so only buckets × (top + 1) rows come back.
    Sums(Option<&'a [String]>),
    /// Sums per (bucket, group) of these groups only.
    Only(&'a [String]),
    /// Per group, requests and cost over the part: what ranks the groups.
    Rank,
}

/// One row of `/api/v1/activity`: a UTC day's usage of one model through one provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub day: i64,
    pub model: String,
    pub provider: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_nanos: i64,
}

impl Store {
    /// Usage from the rollups, sorted by bucket then group (the folded rest last). Day
    /// buckets read whole days from `usage_daily` and only the partial days at the range's
    /// ends from `usage_hourly`.
    pub async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        Ok(self.usage_with_top(q).await?.rows)
    }

    /// `usage`, and for a `top` query the top groups: ranked over the whole range first (a
    /// group-by without buckets, a few hundred rows at most), then the buckets read with
    /// every other group folded into one in SQL.
    pub async fn usage_with_top(&self, q: &UsageQuery) -> Result<Usage, StoreError> {
        let top = match (q.top, q.group_by) {
            (Some(top), Some(_)) => {
                let mut totals = Vec::new();
                // Ranked over whole days from the daily rollups whatever the buckets.
                let whole = UsageQuery {
                    bucket_secs: WHOLE_RANGE,
                    ..q.clone()
                };
                for (grain, from, to) in parts(&whole) {
                    totals.extend(self.usage_part(q, grain, from, to, Select::Rank).await?);
                }
                Some(super::usage_top::rank(totals, top))
            }
            _ => None,
        };
        if top.as_ref().is_some_and(Vec::is_empty) {
            // No group at all in the range: nothing to read.
            return Ok(Usage {
                rows: Vec::new(),
                top,
            });
        }
        // (bucket, folded rest?, group): the rest sorts after a bucket's groups.
        let mut merged: BTreeMap<(i64, bool, String), Sums> = BTreeMap::new();
        match (&top, narrow_source(q)) {
            // Over every key the narrow rollups hold each bucket's total (`dim = 'all'`): the
            // rest is that total less the top groups' (exact: every figure is a count), which
            // reads buckets × (top + 1) rows instead of folding buckets × every group.
            (Some(top), Some((Some(_), None))) => {
                let everything = UsageQuery {
                    group_by: None,
                    top: None,
                    ..q.clone()
                };
                let mut rest: BTreeMap<i64, Sums> = BTreeMap::new();
                for (grain, from, to) in parts(q) {
                    let all = Select::Sums(None);
                    for (t, _, sums) in self.usage_part(&everything, grain, from, to, all).await? {
                        rest.entry(t).or_default().add(&sums);
                    }
                    let only = Select::Only(top);
                    for (t, g, sums) in self.usage_part(q, grain, from, to, only).await? {
                        let key = (t, false, g.unwrap_or_default());
                        merged.entry(key).or_default().add(&sums);
                    }
                }
                for ((t, _, _), sums) in &merged.clone() {
                    let r = rest.entry(*t).or_default();
                    *r = super::usage_top::minus(r, sums);
                }
                for (t, sums) in rest {
                    if sums != Sums::default() {
                        merged.insert((t, true, String::new()), sums);
                    }
                }
            }
            _ => {
                for (grain, from, to) in parts(q) {
                    let select = Select::Sums(top.as_deref());
                    for (t, g, sums) in self.usage_part(q, grain, from, to, select).await? {
                        let key = (t, g.is_none(), g.unwrap_or_default());
                        merged.entry(key).or_default().add(&sums);
                    }
                }
            }
        }
        let rows = merged
            .into_iter()
            .map(|((t, other, g), sums)| UsageRow {
                t,
                group: q.group_by.filter(|_| !other).map(|_| g),
                other,
                sums,
            })
            .collect();
        Ok(Usage { rows, top })
    }

    /// One part's rows: (bucket, group, sums), the group `None` for the folded rest; for
    /// `Select::Rank`, (0, group, sums holding only requests and cost).
    async fn usage_part(
        &self,
        q: &UsageQuery,
        grain: Grain,
        from: i64,
        to: i64,
        select: Select<'_>,
    ) -> Result<Vec<(i64, Option<String>, Sums)>, StoreError> {
        let narrow = narrow_source(q);
        let bs = match q.bucket_secs {
            WHOLE_RANGE => WHOLE_RANGE,
            b => b.max(3600),
        };
        // A narrow table has one row per (bucket, dim, value): read in its own grain, its rows
        // are the answer's and need no summing (which costs a by-key breakdown most of its time).
        let grain_secs = match grain {
            Grain::Hour => 3600,
            Grain::Day => DAY,
        };
        let as_stored = narrow.is_some()
            && bs == grain_secs
            && matches!(select, Select::Sums(None) | Select::Only(_));
        let columns: Vec<String> = match select {
            Select::Rank => vec!["requests".into(), "cost_nanos".into()],
            Select::Sums(_) | Select::Only(_) => counted_columns(),
        };
        let sums: Vec<String> = columns
            .iter()
            .map(|c| match as_stored {
                true => c.clone(),
                false => format!("CAST(SUM({c}) AS BIGINT)"),
            })
            .collect();
        let group = match (q.group_by, narrow) {
            (None, _) => "''",
            (Some(_), Some(_)) => "value",
            (Some(d), None) => d.column(),
        };
        let time = grain.column();
        let table = match (narrow, grain) {
            (None, _) => grain.table(),
            (Some(_), Grain::Hour) => Table::DimHourly.name(),
            (Some(_), Grain::Day) => Table::DimDaily.name(),
        };
        let bucket = match (select, bs) {
            // Typed, or PostgreSQL would answer a small literal as a 4-byte integer.
            (Select::Rank, _) => "CAST(0 AS BIGINT)".to_owned(),
            (_, WHOLE_RANGE) => format!("CAST({} AS BIGINT)", q.from),
            _ => format!("({time} / {bs}) * {bs}"),
        };
        // The folded rest is the NULL group: `CASE WHEN g IN (top…) THEN g END`.
        let fold = match select {
            Select::Sums(Some(top)) => top,
            _ => &[],
        };
        // The narrow tables are filtered on their `dim` and `value`, the full ones on any column.
        let filters: Vec<(&str, Option<&str>)> = match narrow {
            Some((dim, value)) => vec![
                (" AND dim = ", Some(dim_name(dim))),
                (" AND value = ", value),
            ],
            None => vec![
                (" AND key_id = ", q.key_id.as_deref()),
                (" AND model = ", q.model.as_deref()),
                (" AND provider = ", q.provider.as_deref()),
                (" AND app = ", q.app.as_deref()),
            ],
        };
        let width = 2 + columns.len();
        let rows = on_pool!(self, p => {
            let mut b = QueryBuilder::new(format!("SELECT {bucket} AS t, "));
            if fold.is_empty() {
                b.push(group);
            } else {
                b.push(format!("CASE WHEN {group} IN ("));
                let mut values = b.separated(", ");
                for g in fold {
                    values.push_bind(g.as_str());
                }
                b.push(format!(") THEN {group} END"));
            }
            b.push(format!(" AS g, {} FROM {table} WHERE {time} >= ", sums.join(", ")));
            b.push_bind(from).push(format!(" AND {time} < ")).push_bind(to);
            for (cond, v) in &filters {
                if let Some(v) = v {
                    b.push(*cond).push_bind(*v);
                }
            }
            if let Select::Only(groups) = select {
                b.push(format!(" AND {group} IN ("));
                let mut values = b.separated(", ");
                for g in groups {
                    values.push_bind(g.as_str());
                }
                b.push(")");
            }
            if !as_stored {
                b.push(" GROUP BY 1, 2");
            }
            let raw = b.build().fetch_all(p).await?;
            let mut rows = Vec::with_capacity(raw.len());
            for r in &raw {
                use sqlx::Row;
                let mut v = Vec::with_capacity(width - 2);
                for i in 2..width {
                    v.push(r.try_get::<i64, _>(i)?);
                }
                let sums = match select {
                    Select::Rank => Sums { requests: v[0], cost_nanos: v[1], ..Default::default() },
                    Select::Sums(_) | Select::Only(_) => Sums::from_values(&v),
                };
                rows.push((r.try_get::<i64, _>(0)?, r.try_get::<Option<String>, _>(1)?, sums));
            }
            Ok::<_, sqlx::Error>(rows)
        })?;
        Ok(rows)
    }

    /// Daily usage per (model, provider) for the whole UTC days in `[from, to)` (unix
    /// seconds), one key's (from `usage_daily`, by its key index) or all (from
    /// `usage_endpoint_daily`, already in that shape).
    pub async fn activity(
        &self,
        from: i64,
        to: i64,
        key_id: Option<&str>,
    ) -> Result<Vec<ActivityRow>, StoreError> {
        let (table, key_filter) = match key_id {
            Some(_) => ("usage_daily", " AND key_id = $3"),
            None => (Table::EndpointDaily.name(), ""),
        };
        let sql = format!(
            "SELECT day, model, provider, \
             CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
             CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
             CAST(SUM(reasoning_tokens) AS BIGINT) AS reasoning_tokens, CAST(SUM(cost_nanos) AS BIGINT) AS cost_nanos \
             FROM {table} WHERE day >= $1 AND day < $2{key_filter} \
             GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3"
        );
        let rows = on_pool!(self, p => {
            let q = sqlx::query_as(&sql).bind(from).bind(to);
            match key_id {
                Some(k) => q.bind(k).fetch_all(p).await,
                None => q.fetch_all(p).await,
            }
        })?;
        Ok(rows)
    }
}

/// Whether a usage query can be read from the narrow per-dimension rollups, and as which
/// (dimension, value filter): when it is filtered on at most one dimension and grouped by
/// none or that same one. Anything else reads the full rollups.
fn narrow_source(q: &UsageQuery) -> Option<(Option<Dimension>, Option<&str>)> {
    let filters: Vec<(Dimension, &str)> = [
        (Dimension::Key, &q.key_id),
        (Dimension::Model, &q.model),
        (Dimension::Provider, &q.provider),
        (Dimension::App, &q.app),
    ]
    .into_iter()
    .filter_map(|(d, v)| v.as_deref().map(|v| (d, v)))
    .collect();
    match filters[..] {
        [] => Some((q.group_by, None)),
        [(d, v)] if q.group_by.is_none_or(|g| g == d) => Some((Some(d), Some(v))),
        _ => None,
    }
}

/// Where a query's hours are read: whole days of a day-bucketed range from the daily table,
/// everything else from the hourly one. The parts never overlap and cover every hour
/// starting in `[from, to)`.
fn parts(q: &UsageQuery) -> Vec<(Grain, i64, i64)> {
    let (from, to) = (q.from, q.to);
    let first_day = from.div_euclid(DAY) * DAY + if from.rem_euclid(DAY) == 0 { 0 } else { DAY };
    let last_day = to.div_euclid(DAY) * DAY;
    // The whole range as one bucket reads days like day buckets do.
    if !matches!(q.bucket_secs, DAY | WHOLE_RANGE) || first_day >= last_day {
        return vec![(Grain::Hour, from, to)];
    }
    let mut out = vec![(Grain::Day, first_day, last_day)];
    if from < first_day {
        out.push((Grain::Hour, from, first_day));
    }
    if last_day < to {
        out.push((Grain::Hour, last_day, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, at_ms: i64, key: Option<&str>, outcome: &str, latency: i64) -> RequestRecord {
        RequestRecord {
            id: id.into(),
            created_at: at_ms,
            key_id: key.map(Into::into),
            requested_model: Some("req".into()),
            served_model: (outcome == "success").then(|| "served".into()),
            provider: Some("p".into()),
            outcome: outcome.into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_nanos: 7,
            latency_ms: latency,
            ttft_ms: (latency > 100).then_some(latency / 2),
            app_referer: Some("https://x".into()),
            ..Default::default()
        }
    }

    #[test]
    fn day_buckets_read_whole_days_daily_and_the_ends_hourly() {
        let q = |from, to, bucket_secs| UsageQuery {
            from,
            to,
            bucket_secs,
            ..Default::default()
        };
        assert_eq!(parts(&q(0, 3 * DAY, DAY)), vec![(Grain::Day, 0, 3 * DAY)]);
        assert_eq!(
            parts(&q(10, 3 * DAY + 5, 3600)),
            vec![(Grain::Hour, 10, 3 * DAY + 5)]
        );
        assert_eq!(
            parts(&q(10, 3 * DAY + 5, DAY)),
            vec![
                (Grain::Day, DAY, 3 * DAY),
                (Grain::Hour, 10, DAY),
                (Grain::Hour, 3 * DAY, 3 * DAY + 5)
            ]
        );
        assert_eq!(
            parts(&q(10, DAY + 5, DAY)),
            vec![(Grain::Hour, 10, DAY + 5)]
        );
        // Every hour of a range is read exactly once.
        for (from, to) in [
            (0, 5 * DAY),
            (3599, 2 * DAY + 3601),
            (DAY - 1, DAY + 1),
            (7 * 3600, 9 * DAY),
        ] {
            for h in (0..10 * DAY).step_by(3600) {
                let n = parts(&q(from, to, DAY))
                    .iter()
                    .filter(|(g, f, t)| match g {
                        Grain::Hour => (*f..*t).contains(&h),
                        Grain::Day => (*f..*t).contains(&(h.div_euclid(DAY) * DAY)),
                    })
                    .count();
                assert_eq!(n, usize::from((from..to).contains(&h)), "{from} {to} {h}");
            }
        }
    }

    #[test]
    fn records_roll_up_by_hour_key_model_provider_and_app() {
        let rs = [
            rec("a", 3_600_000, Some("k"), "success", 40),
            rec("b", 7_199_999, Some("k"), "success", 400),
            rec("c", 7_200_000, Some("k"), "success", 4),
            rec("d", 3_600_001, None, "error", 4),
        ];
        let m = rollup_of(rs.iter());
        assert_eq!(m.len(), 3);
        let (k, s) = m
            .iter()
            .find(|(k, _)| k.key_id == "k" && k.hour == 3600)
            .unwrap();
        assert_eq!((k.model.as_str(), k.app.as_str()), ("served", "https://x"));
        assert_eq!(
            (s.requests, s.errors, s.prompt_tokens, s.cost_nanos),
            (2, 0, 20, 14)
        );
        assert_eq!(s.latency.iter().sum::<i64>(), 2);
        assert_eq!((s.ttft.iter().sum::<i64>(), s.ttft_ms_sum), (1, 200));
        let (k, s) = m.iter().find(|(k, _)| k.key_id.is_empty()).unwrap();
        assert_eq!((k.model.as_str(), s.errors), ("req", 1));
        let mut merged = Sums::default();
        for s in m.values() {
            merged.add(s);
        }
        assert_eq!(merged.requests, 4);
        let days = by_day(&m);
        assert_eq!(days.len(), 2);
        assert!(days.keys().all(|k| k.hour == 0));
        assert_eq!(
            Sums::from_values(&merged.values().collect::<Vec<_>>()),
            merged
        );
    }
}
