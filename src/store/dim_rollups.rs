//! Narrow rollups (migration 0011) for the reads that span every key: `usage_dim_hourly` and
//! `usage_dim_daily` hold one row per (hour or day, dimension, value) — the dimension being
//! `all`, `key`, `model`, `provider` or `app` — and `usage_endpoint_daily` one per (day,
//! model, provider). The full rollups (`usage_hourly`, `usage_daily`) have a row per
//! key × model × provider × app, about 1,200 an hour at 200 keys, which an unfiltered overview
//! would have to sum; these have a few hundred a day. The writer derives them from the same
//! pre-aggregated batch, in the same transaction, with the same additive upserts.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;

use super::rollups::{counted_columns, Dimension, Rollup, Sums};

/// A narrow row's identity: the bucket's start (unix seconds) and its two key columns.
pub(super) type NarrowKey = (i64, String, String);
pub(super) type Narrow = BTreeMap<NarrowKey, Sums>;

/// A narrow rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    DimHourly,
    DimDaily,
    EndpointDaily,
}

impl Table {
    pub(super) fn name(self) -> &'static str {
        match self {
            Table::DimHourly => "usage_dim_hourly",
            Table::DimDaily => "usage_dim_daily",
            Table::EndpointDaily => "usage_endpoint_daily",
        }
    }

    /// The time column, then the two key columns.
    pub(super) fn columns(self) -> [&'static str; 3] {
        match self {
            Table::DimHourly => ["hour", "dim", "value"],
            Table::DimDaily => ["day", "dim", "value"],
            Table::EndpointDaily => ["day", "model", "provider"],
        }
    }
}

/// The `dim` value naming a grouping (`all` for none).
pub(super) fn dim_name(d: Option<Dimension>) -> &'static str {
    match d {
        None => "all",
        Some(Dimension::Key) => "key",
        Some(Dimension::Model) => "model",
        Some(Dimension::Provider) => "provider",
        Some(Dimension::App) => "app",
    }
}

/// The per-dimension rows of a full rollup (hourly or daily): each full row counts once under
/// every dimension.
pub(super) fn by_dimension(full: &Rollup) -> Narrow {
    let mut m = Narrow::new();
    for (k, s) in full {
        for (dim, value) in [
            ("all", ""),
            ("key", k.key_id.as_str()),
            ("model", k.model.as_str()),
            ("provider", k.provider.as_str()),
            ("app", k.app.as_str()),
        ] {
            m.entry((k.hour, dim.to_owned(), value.to_owned()))
                .or_default()
                .add(s);
        }
    }
    m
}

/// The per-(day, model, provider) rows of a daily full rollup.
pub(super) fn by_endpoint(daily: &Rollup) -> Narrow {
    let mut m = Narrow::new();
    for (k, s) in daily {
        m.entry((k.hour, k.model.clone(), k.provider.clone()))
            .or_default()
            .add(s);
    }
    m
}

/// The statement adding `rows` to a narrow table: one multi-row upsert (keys are distinct, as
/// PostgreSQL requires of one statement), `col = col + excluded.col` as in 0009's tables.
pub(super) fn upsert<'a, DB>(
    table: Table,
    rows: &'a [(&'a NarrowKey, &'a Sums)],
) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let counted = counted_columns();
    let (name, [time, k1, k2]) = (table.name(), table.columns());
    let mut q = QueryBuilder::new(format!(
        "INSERT INTO {name} ({time}, {k1}, {k2}, {}) ",
        counted.join(", ")
    ));
    q.push_values(rows, |mut b, ((t, a, c), s)| {
        b.push_bind(*t).push_bind(a.as_str()).push_bind(c.as_str());
        for v in s.values() {
            b.push_bind(v);
        }
    });
    q.push(super::rollups::adding(name, &format!("{time}, {k1}, {k2}")));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollups::RollupKey;

    fn key(hour: i64, k: &str, m: &str, p: &str, a: &str) -> RollupKey {
        RollupKey {
            hour,
            key_id: k.into(),
            model: m.into(),
            provider: p.into(),
            app: a.into(),
        }
    }

    fn sums(requests: i64) -> Sums {
        Sums {
            requests,
            cost_nanos: requests * 10,
            ..Default::default()
        }
    }

    #[test]
    fn every_full_row_counts_once_under_each_dimension() {
        let full: Rollup = [
            (key(0, "k1", "m1", "p1", ""), sums(1)),
            (key(0, "k2", "m1", "p2", "app"), sums(2)),
            (key(3600, "k1", "m2", "p1", ""), sums(4)),
        ]
        .into_iter()
        .collect();
        let m = by_dimension(&full);
        let get = |t: i64, d: &str, v: &str| m[&(t, d.to_owned(), v.to_owned())].requests;
        assert_eq!(get(0, "all", ""), 3);
        assert_eq!(get(0, "model", "m1"), 3);
        assert_eq!((get(0, "key", "k1"), get(0, "key", "k2")), (1, 2));
        assert_eq!((get(0, "app", ""), get(0, "app", "app")), (1, 2));
        assert_eq!(get(3600, "provider", "p1"), 4);
        for dim in ["all", "key", "model", "provider", "app"] {
            let total: i64 = m
                .iter()
                .filter(|((_, d, _), _)| d == dim)
                .map(|(_, s)| s.requests)
                .sum();
            assert_eq!(total, 7, "{dim}");
        }
        let e = by_endpoint(&full);
        assert_eq!(e.len(), 3);
        assert_eq!(e[&(0, "m1".to_owned(), "p2".to_owned())].cost_nanos, 20);
    }
}
