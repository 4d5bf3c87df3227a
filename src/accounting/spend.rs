//! A key's spend as `/key`, `/credits` and the admin API report it: what the database holds
//! plus this replica's finished requests whose records still wait for the batched writer.
//! Without the second part a client that asks right after a request sees it uncounted.

use std::collections::HashMap;

use super::Pending;
use crate::store::{RequestRecord, SpendTotals, Store, StoreError};
use crate::types::time::{day_of, month_start, week_start};

/// How often a read is retried when the writer moved records from `Pending` to the database
/// while it ran; after that the figure may count a record twice or not at all, for a moment.
const TRIES: usize = 5;

/// The spend of one key (or, for `None`, of every key together).
pub async fn totals(
    store: &Store,
    pending: &Pending,
    key_id: Option<&str>,
    now: i64,
) -> Result<SpendTotals, StoreError> {
    consistent(pending, now, key_id, || store.spend_totals(key_id, now))
        .await
        .map(|(mut written, unwritten)| {
            // `unwritten` holds only `key_id` when one is asked for.
            for u in unwritten.values() {
                written.add(u);
            }
            written
        })
}

/// Every key's spend, by key id.
pub async fn by_key(
    store: &Store,
    pending: &Pending,
    now: i64,
) -> Result<HashMap<String, SpendTotals>, StoreError> {
    let (mut written, unwritten) =
        consistent(pending, now, None, || store.spend_by_key(now)).await?;
    for (key, u) in unwritten {
        written.entry(key).or_default().add(&u);
    }
    Ok(written)
}

/// Reads the written figure and the pending records with no write completing in between:
/// a write that finished between the two reads would count its records twice or not at all.
async fn consistent<T, F, Fut>(
    pending: &Pending,
    now: i64,
    key_id: Option<&str>,
    read: F,
) -> Result<(T, HashMap<String, SpendTotals>), StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let before = pending.write_epoch();
        let unwritten = unwritten(pending, key_id, now);
        let written = read().await?;
        let settled = before % 2 == 0 && pending.write_epoch() == before;
        if settled || tries >= TRIES {
            return Ok((written, unwritten));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5 * tries as u64)).await;
    }
}

/// Pending records' spend by key, on the same day boundaries as `key_spend`.
fn unwritten(pending: &Pending, key_id: Option<&str>, now: i64) -> HashMap<String, SpendTotals> {
    let mut out: HashMap<String, SpendTotals> = HashMap::new();
    pending.for_each(|r| {
        if let Some(k) = r.key_id.as_deref() {
            if key_id.is_none_or(|want| want == k) {
                add_record(out.entry(k.to_owned()).or_default(), r, now);
            }
        }
    });
    out
}

fn add_record(t: &mut SpendTotals, r: &RequestRecord, now: i64) {
    let day = day_of(r.created_at);
    t.total += r.cost_nanos;
    t.requests += 1;
    if day >= day_of(now) {
        t.daily += r.cost_nanos;
    }
    if day >= day_of(week_start(now)) {
        t.weekly += r.cost_nanos;
    }
    if day >= day_of(month_start(now)) {
        t.monthly += r.cost_nanos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_counts_in_the_periods_its_day_falls_in() {
        let now = 1_765_000_000_000; // a Saturday
        let mut t = SpendTotals::default();
        let mut r = RequestRecord {
            cost_nanos: 7,
            created_at: now - 1000,
            ..Default::default()
        };
        add_record(&mut t, &r, now);
        assert_eq!(
            (t.total, t.daily, t.weekly, t.monthly, t.requests),
            (7, 7, 7, 7, 1)
        );
        r.created_at = now - 40 * 86_400_000;
        add_record(&mut t, &r, now);
        assert_eq!(
            (t.total, t.daily, t.weekly, t.monthly, t.requests),
            (14, 7, 7, 7, 2)
        );
    }
}
