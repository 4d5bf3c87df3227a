//! The ledger's tables: spend per key and UTC day, and the budget leases replicas hold.
//!
//! A lease is a replica's permission to spend up to `granted_nanos` of a key's budget in one
//! period. Grants are computed in one serialised transaction per key (an advisory lock on
//! PostgreSQL, SQLite's single writer) from what is left: the budget, less what the period's
//! written spend already took, less the unspent part of every other live lease. So the sum of
//! what replicas may spend never exceeds the budget.

use super::{on_conn, on_pool, Store, StoreError, CALL_DEADLINE};
use crate::types::time::day_of;

/// The result of asking for more of a key's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    /// What this call added to this replica's grant (replicas track their grant by these
    /// deltas, which commute with `shrink_lease`'s, whatever order the two commit in).
    pub added: i64,
    /// This replica's total grant for the period after the call.
    pub granted: i64,
    /// The row was new: earlier grants (if any) were lost or belonged to another period.
    pub fresh: bool,
    /// The period's spend written so far, by every replica.
    pub spent: i64,
    /// What nobody holds yet after this grant.
    pub unleased: i64,
}

/// A key's written spend over the usual windows, in nano-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendTotals {
    pub total: i64,
    pub daily: i64,
    pub weekly: i64,
    pub monthly: i64,
    pub requests: i64,
}

impl SpendTotals {
    pub fn add(&mut self, o: &SpendTotals) {
        self.total += o.total;
        self.daily += o.daily;
        self.weekly += o.weekly;
        self.monthly += o.monthly;
        self.requests += o.requests;
    }
}

/// How a lease request is sized.
#[derive(Debug, Clone, Copy)]
pub struct LeaseAsk<'a> {
    pub key_id: &'a str,
    pub holder: &'a str,
    pub period_start: i64,
    pub budget: i64,
    /// The smallest grant that serves the waiting request. When more is left the grant is
    /// half of what is left, so each replica holds a share that shrinks as the budget does.
    pub need: i64,
    pub now: i64,
    pub ttl_ms: i64,
}

const SUM_SPEND: &str =
    "SELECT CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) FROM key_spend WHERE key_id = $1 AND day >= $2";

impl Store {
    /// Grows this holder's lease by half of what is left (at least `need` when that much is
    /// left; nothing when it is not). Expired leases of other holders are dropped first.
    pub async fn acquire_lease(&self, ask: LeaseAsk<'_>) -> Result<LeaseGrant, StoreError> {
        let pg = matches!(self, Store::Postgres(_));
        on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            if pg {
                // Serialises grants for one key across replicas (released at commit).
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                    .bind(ask.key_id).execute(&mut *tx).await?;
            }
            // On SQLite this first write takes the database's write lock for the transaction.
            sqlx::query("DELETE FROM budget_leases WHERE key_id = $1 AND (expires_at < $2 OR period_start <> $3)")
                .bind(ask.key_id).bind(ask.now).bind(ask.period_start).execute(&mut *tx).await?;
            let mine: Option<(i64, i64)> = sqlx::query_as(
                "SELECT granted_nanos, spent_nanos FROM budget_leases WHERE key_id = $1 AND holder = $2")
                .bind(ask.key_id).bind(ask.holder).fetch_optional(&mut *tx).await?;
            // One statement, so one snapshot: under PostgreSQL's READ COMMITTED a writer
            // committing between two statements would move spend from the leases' unspent
            // part into the written total after one was read and before the other, and the
            // grant would count that money twice.
            let (spent, outstanding): (i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE((SELECT SUM(cost_nanos) FROM key_spend WHERE key_id = $1 AND day >= $2), 0) AS BIGINT), \
                        CAST(COALESCE((SELECT SUM(CASE WHEN granted_nanos > spent_nanos THEN granted_nanos - spent_nanos ELSE 0 END) \
                                       FROM budget_leases WHERE key_id = $1), 0) AS BIGINT)")
                .bind(ask.key_id).bind(day_of(ask.period_start)).fetch_one(&mut *tx).await?;
            let left = ask.budget.saturating_sub(spent).saturating_sub(outstanding).max(0);
            let g = if left >= ask.need { (left / 2).max(ask.need).min(left) } else { 0 };
            let granted = match mine {
                Some((granted, _)) => {
                    sqlx::query("UPDATE budget_leases SET granted_nanos = granted_nanos + $1, expires_at = $2 WHERE key_id = $3 AND holder = $4")
                        .bind(g).bind(ask.now + ask.ttl_ms).bind(ask.key_id).bind(ask.holder).execute(&mut *tx).await?;
                    granted + g
                }
                None => {
                    sqlx::query("INSERT INTO budget_leases (key_id, holder, period_start, granted_nanos, spent_nanos, expires_at) \
                                 VALUES ($1, $2, $3, $4, 0, $5)")
                        .bind(ask.key_id).bind(ask.holder).bind(ask.period_start).bind(g).bind(ask.now + ask.ttl_ms)
                        .execute(&mut *tx).await?;
                    g
                }
            };
            tx.commit().await?;
            Ok::<_, StoreError>(LeaseGrant { added: g, granted, fresh: mine.is_none(), spent, unleased: left - g })
        })
    }

    /// Gives `returned` of this holder's grant back (the others may lease it) and extends the
    /// lease. `false` when the lease is gone (expired and dropped by another replica).
    pub async fn shrink_lease(
        &self,
        key_id: &str,
        holder: &str,
        returned: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(self, CALL_DEADLINE, c => sqlx::query(
            "UPDATE budget_leases SET granted_nanos = granted_nanos - $1, expires_at = $2 WHERE key_id = $3 AND holder = $4")
            .bind(returned).bind(expires_at).bind(key_id).bind(holder).execute(&mut *c).await
            .map(|r| r.rows_affected()).map_err(StoreError::from))?;
        Ok(n > 0)
    }

    /// Gives back every lease of a holder (at shutdown, after the request log is flushed).
    pub async fn release_leases(&self, holder: &str) -> Result<(), StoreError> {
        on_pool!(self, p => sqlx::query("DELETE FROM budget_leases WHERE holder = $1").bind(holder).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// A key's written spend: all time, and in the UTC day, ISO week and month holding `now`.
    pub async fn spend_totals(
        &self,
        key_id: Option<&str>,
        now: i64,
    ) -> Result<SpendTotals, StoreError> {
        use crate::types::time::{month_start, week_start};
        let (day, week, month) = (
            day_of(now),
            day_of(week_start(now)),
            day_of(month_start(now)),
        );
        let row: (i64, i64, i64, i64, i64) = on_pool!(self, p => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $2 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $3 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $4 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(requests), 0) AS BIGINT) \
             FROM key_spend WHERE ($1 IS NULL OR key_id = $1)")
            .bind(key_id).bind(day).bind(week).bind(month).fetch_one(p).await)?;
        Ok(SpendTotals {
            total: row.0,
            daily: row.1,
            weekly: row.2,
            monthly: row.3,
            requests: row.4,
        })
    }

    /// Every key's written spend, keyed by key id.
    pub async fn spend_by_key(
        &self,
        now: i64,
    ) -> Result<std::collections::HashMap<String, SpendTotals>, StoreError> {
        use crate::types::time::{month_start, week_start};
        let (day, week, month) = (
            day_of(now),
            day_of(week_start(now)),
            day_of(month_start(now)),
        );
        let rows: Vec<(String, i64, i64, i64, i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT key_id, CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $1 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $2 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN day >= $3 THEN cost_nanos ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(requests), 0) AS BIGINT) \
             FROM key_spend GROUP BY key_id")
            .bind(day).bind(week).bind(month).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.0,
                    SpendTotals {
                        total: r.1,
                        daily: r.2,
                        weekly: r.3,
                        monthly: r.4,
                        requests: r.5,
                    },
                )
            })
            .collect())
    }

    /// A key's written spend since `period_start`.
    pub async fn spend_since(&self, key_id: &str, period_start: i64) -> Result<i64, StoreError> {
        let v: i64 = on_pool!(self, p => sqlx::query_scalar(SUM_SPEND)
            .bind(key_id).bind(day_of(period_start)).fetch_one(p).await)?;
        Ok(v)
    }
}
