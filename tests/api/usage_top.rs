//! `/admin/usage`'s `top=N` (the ranked groups and one folded "other" row per bucket) and
//! `bucket=total`: exact at the store, and the shape the dashboard reads over HTTP.

use std::sync::Arc;

use serde_json::{json, Value};
use switchyard::store::{RequestRecord, Store, UsageQuery};

use crate::analytics::{admin_get, assert_sums, chat, expect, n, record, setup};
use crate::helpers::*;

/// `top`: the groups ranked over the whole range (by requests or cost) keep their own rows,
/// every other group is folded into one `other` row per bucket that holds exactly their sum
/// (histograms included), over both the daily and the hourly parts of a range, from the
/// narrow rollups and from the full ones (a filter on another dimension).
#[tokio::test]
async fn top_groups_keep_their_rows_and_the_rest_folds_exactly() {
    use std::collections::BTreeMap;
    use switchyard::store::{Dimension, Sums, Top, TopBy, WHOLE_RANGE};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&fresh_database(dir.path()).await, 2)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let batch: Vec<Arc<RequestRecord>> = (0..700)
        .map(|i| {
            let mut r = record(i, 1_700_000_000_000 + i as i64 * 700_000);
            // Seven models of unequal traffic, so the ranking has something to rank.
            r.served_model = Some(format!("m/{}", (i * i) % 7));
            r.cost_nanos = ((i * 7919) % 1000) as i64;
            Arc::new(r)
        })
        .collect();
    store.insert_records(&batch, "h").await.unwrap();
    let sum = |rows: &[&switchyard::store::UsageRow]| {
        let mut s = Sums::default();
        for r in rows {
            s.add(&r.sums);
        }
        s
    };
    for (group_by, model, by, n) in [
        (Dimension::Model, None, TopBy::Requests, 3),
        (Dimension::Model, None, TopBy::Cost, 2),
        (Dimension::Key, Some("m/1"), TopBy::Requests, 1),
        (Dimension::Model, None, TopBy::Requests, 50),
    ] {
        for bucket_secs in [3600, 86_400, WHOLE_RANGE] {
            let all = UsageQuery {
                from: 1_700_003_600,
                to: 1_800_000_000,
                bucket_secs,
                group_by: Some(group_by),
                model: model.map(Into::into),
                ..Default::default()
            };
            let full = store.usage_with_top(&all).await.unwrap();
            assert!(full.top.is_none());
            let top = Top { n, by };
            let folded = store
                .usage_with_top(&UsageQuery {
                    top: Some(top),
                    ..all.clone()
                })
                .await
                .unwrap();
            let case = format!("{group_by:?} {model:?} {by:?} {n} {bucket_secs}");
            // The ranking is the groups' totals over the range, ties to the name.
            let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for r in &full.rows {
                let t = totals.entry(r.group.clone().unwrap()).or_default();
                t.0 += r.sums.requests;
                t.1 += r.sums.cost_nanos;
            }
            let mut ranked: Vec<(String, (i64, i64))> = totals.into_iter().collect();
            ranked.sort_by_key(|(g, (req, cost))| match by {
                TopBy::Requests => (-req, -cost, g.clone()),
                TopBy::Cost => (-cost, -req, g.clone()),
            });
            let want: Vec<String> = ranked.iter().take(n).map(|(g, _)| g.clone()).collect();
            assert_eq!(folded.top.as_ref(), Some(&want), "{case}");
            assert!(want.len() > 1 || n == 1, "{case}: {ranked:?}");
            // Per bucket: the top groups' rows unchanged, the rest summed into `other`.
            let buckets: std::collections::BTreeSet<i64> = full.rows.iter().map(|r| r.t).collect();
            if bucket_secs == WHOLE_RANGE {
                assert_eq!(
                    buckets.iter().copied().collect::<Vec<_>>(),
                    [all.from],
                    "{case}"
                );
            }
            for t in buckets {
                let in_full: Vec<_> = full.rows.iter().filter(|r| r.t == t).collect();
                let in_folded: Vec<_> = folded.rows.iter().filter(|r| r.t == t).collect();
                for r in &in_folded {
                    assert_eq!(r.other, r.group.is_none(), "{case}");
                    if let Some(g) = &r.group {
                        assert!(want.contains(g), "{case}: {g}");
                        let same = in_full
                            .iter()
                            .find(|f| f.group.as_ref() == Some(g))
                            .unwrap();
                        assert_eq!(r.sums, same.sums, "{case}: {g} at {t}");
                    }
                }
                let rest: Vec<_> = in_full
                    .iter()
                    .filter(|r| !want.contains(r.group.as_ref().unwrap()))
                    .copied()
                    .collect();
                let other: Vec<_> = in_folded.iter().filter(|r| r.other).copied().collect();
                assert_eq!(other.len(), usize::from(!rest.is_empty()), "{case} at {t}");
                assert_eq!(sum(&other), sum(&rest), "{case} at {t}");
                // The other row sorts last in its bucket.
                assert!(in_folded.last().unwrap().other || rest.is_empty(), "{case}");
            }
            let (a, b): (Vec<_>, Vec<_>) =
                (full.rows.iter().collect(), folded.rows.iter().collect());
            assert_eq!(sum(&a), sum(&b), "{case}: totals");
            assert!(sum(&a).requests > 0, "{case}");
        }
    }
    // A range without traffic has no top groups and no rows.
    let empty = store
        .usage_with_top(&UsageQuery {
            from: 0,
            to: 86_400,
            bucket_secs: 3600,
            group_by: Some(Dimension::App),
            top: Some(Top {
                n: 3,
                by: TopBy::Requests,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((empty.rows.len(), empty.top), (0, Some(vec![])));
}

/// `top` and `bucket=total` through HTTP: the shape the dashboard reads, and the 400s.
#[tokio::test]
async fn usage_top_and_totals_over_http() {
    let s = setup(Opts::default()).await;
    let app = &s.app;
    for _ in 0..5 {
        assert_eq!(chat(app, &s.key_a.1, "test/m", None).await, 200);
    }
    for _ in 0..3 {
        assert_eq!(chat(app, &s.key_b.1, "other/m", None).await, 200);
    }
    let records = app.records(8).await;
    let (status, all) = admin_get(app, "/admin/usage?group_by=key").await;
    assert_eq!(status, 200, "{all}");
    let (status, top) = admin_get(app, "/admin/usage?group_by=key&top=1").await;
    assert_eq!(status, 200, "{top}");
    assert_eq!(top["top"], json!([s.key_a.0]));
    assert_sums(&top["totals"], &expect(&records));
    assert_eq!(top["totals"], all["totals"]);
    let rows = top["data"].as_array().unwrap();
    let other: Vec<&Value> = rows.iter().filter(|r| r["other"] == json!(true)).collect();
    assert_eq!(other.iter().map(|r| n(r, "requests")).sum::<i64>(), 3);
    for r in &other {
        assert!(r["group"].is_null(), "{r}");
    }
    for r in rows.iter().filter(|r| r["other"].is_null()) {
        assert_eq!(r["group"], json!(s.key_a.0), "{r}");
    }
    // Asking for more groups than there are folds nothing.
    let (_, wide) = admin_get(app, "/admin/usage?group_by=key&top=10&top_by=cost").await;
    assert_eq!(wide["top"].as_array().unwrap().len(), 2, "{wide}");
    assert_eq!(wide["data"], all["data"]);
    // One row per group over the whole range, at its start.
    let now = switchyard::types::now_ms() / 1000;
    let from = now - 86_400;
    let (_, totals) = admin_get(
        app,
        &format!(
            "/admin/usage?group_by=key&bucket=total&from={from}&to={}",
            now + 3600
        ),
    )
    .await;
    let rows = totals["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{totals}");
    for (key, want) in [(&s.key_a.0, 5), (&s.key_b.0, 3)] {
        let mine = rows.iter().find(|r| r["group"] == json!(key)).unwrap();
        assert_eq!((n(mine, "t"), n(mine, "requests")), (from, want), "{mine}");
    }
    assert_sums(&totals["totals"], &expect(&records));
    for bad in [
        "top=3",
        "group_by=key&top=0",
        "group_by=key&top=101",
        "group_by=key&top=abc",
        "group_by=key&top=2&top_by=errors",
        "group_by=key&top_by=cost",
        "bucket=total&group_by=key&top=-1",
    ] {
        let (status, body) = admin_get(app, &format!("/admin/usage?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let param = body["error"]["param"].as_str().unwrap_or_default();
        assert!(param.starts_with("top"), "{bad}: {body}");
    }
}
