//! Retention of the request log: raw records (requests, their attempts, dead letters) and
//! captured content older than a cut-off are deleted; spend (`key_spend`) and rollups are
//! never touched, so budgets and usage figures outlive the rows they were counted from.
//!
//! On PostgreSQL `requests` and `request_attempts` are partitioned by UTC day
//! (`TABLE_pYYYYMMDD`, see migration 0010): retention drops the partitions whose whole day
//! is past the cut-off, and deletes only the stray rows of the DEFAULT partitions. On SQLite
//! rows are deleted in small batches, each its own short transaction, so the request-log
//! writer never waits long for the database's single write lock.
//!
//! Every step is idempotent and safe to run from several replicas at once (partition DDL is
//! serialised by an advisory lock and tolerates a partition made or dropped meanwhile).

use std::time::Duration;

use super::{on_conn, Store, StoreError, CALL_DEADLINE};
use crate::types::time::{civil_from_days, day_of};

const DAY_MS: i64 = 86_400_000;
/// Rows per DELETE: small enough that a batch holds SQLite's write lock for milliseconds.
const BATCH: i64 = 1000;
/// The pause between batches, in which the request-log writer gets the lock.
const PAUSE: Duration = Duration::from_millis(5);
/// The tables partitioned by day on PostgreSQL.
pub const PARTITIONED: [&str; 2] = ["requests", "request_attempts"];

/// What one retention pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Rows deleted one by one (SQLite, or PostgreSQL's DEFAULT partitions).
    pub requests: u64,
    pub attempts: u64,
    pub dead_letters: u64,
    /// Whole days dropped (PostgreSQL), as partition names.
    pub partitions: Vec<String>,
}

impl Purged {
    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

/// The name of `table`'s partition for UTC day `day` (days since 1970-01-01).
pub fn partition_name(table: &str, day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{table}_p{y:04}{m:02}{d:02}")
}

/// The day of a partition named by `partition_name`, if `name` is one of `table`'s.
fn partition_day(table: &str, name: &str) -> Option<i64> {
    let digits = name.strip_prefix(table)?.strip_prefix("_p")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (
        digits[..4].parse().ok()?,
        digits[4..6].parse().ok()?,
        digits[6..].parse().ok()?,
    );
    let day = crate::types::time::days_from_civil(y, m, d);
    // Round trip, so `_p20260231` is not read as some day in March.
    (partition_name(table, day) == name).then_some(day)
}

/// Serialises partition DDL across replicas (a transaction-scoped advisory lock).
const PARTITION_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('switchyard_partitions', 0))";
/// DDL on a partition takes a brief exclusive lock on its parent: wait for it only this
/// long (requests being written meanwhile wait too), and try again next pass otherwise.
const DDL_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '3s'";

impl Store {
    /// Creates the day partitions (PostgreSQL) for the UTC day holding `now` and the
    /// `ahead` days after it; those already there are left alone. Returns the ones made.
    /// Nothing to do on SQLite.
    pub async fn ensure_partitions(&self, now: i64, ahead: i64) -> Result<Vec<String>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let today = day_of(now);
        let mut made = Vec::new();
        for day in today..=today + ahead {
            for table in PARTITIONED {
                let name = partition_name(table, day);
                let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                    .bind(&name)
                    .fetch_one(pool)
                    .await?;
                if exists.is_some() {
                    continue;
                }
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ({}) TO ({})",
                    day * DAY_MS,
                    (day + 1) * DAY_MS
                );
                let r = on_conn!(self, CALL_DEADLINE, c => {
                    let mut tx = sqlx::Connection::begin(&mut *c).await?;
                    sqlx::query(PARTITION_LOCK).execute(&mut *tx).await?;
                    sqlx::query(DDL_LOCK_TIMEOUT).execute(&mut *tx).await?;
                    sqlx::query(&sql).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(())
                });
                match r {
                    Ok(()) => made.push(name),
                    // Rows of that day already sit in the DEFAULT partition (written while no
                    // replica made the day's partition): they stay there, where retention
                    // deletes them row by row; the day needs no partition of its own.
                    Err(StoreError::Sqlx(sqlx::Error::Database(e)))
                        if e.code().as_deref() == Some("23514") =>
                    {
                        tracing::warn!(partition = %name, "rows of this day are in the default partition; the day's partition is not created");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(made)
    }

    /// The day partitions of `table` (PostgreSQL), oldest first, as (name, day).
    pub async fn day_partitions(&self, table: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = to_regclass($1)",
        )
        .bind(table)
        .fetch_all(pool)
        .await?;
        let mut out: Vec<(String, i64)> = names
            .into_iter()
            .filter_map(|n| partition_day(table, &n).map(|d| (n, d)))
            .collect();
        out.sort_by_key(|(_, d)| *d);
        Ok(out)
    }

    /// Deletes raw records created before `cutoff` (unix ms): requests, their attempts and
    /// dead letters. On PostgreSQL whole days go (a day's partition once its last
    /// millisecond is before `cutoff`), so rows can outlive the cut-off by up to a day.
    pub async fn purge_records(&self, cutoff: i64) -> Result<Purged, StoreError> {
        let mut out = Purged::default();
        match self {
            Store::Postgres(_) => {
                for table in PARTITIONED {
                    for (name, day) in self.day_partitions(table).await? {
                        if (day + 1) * DAY_MS > cutoff {
                            break;
                        }
                        self.drop_partition(&name).await?;
                        out.partitions.push(name);
                    }
                }
                out.requests = self.delete_before("requests_default", cutoff).await?;
                out.attempts = self
                    .delete_before("request_attempts_default", cutoff)
                    .await?;
            }
            // Requests before their attempts: a record written during the pass (in one
            // transaction with its attempts) then leaves no attempts behind.
            Store::Sqlite(_) => {
                out.requests = self.delete_before("requests", cutoff).await?;
                out.attempts = self.delete_before("request_attempts", cutoff).await?;
            }
        }
        out.dead_letters = self.delete_before("dead_letters", cutoff).await?;
        Ok(out)
    }

    /// Deletes captured content created before `cutoff`; returns how many rows.
    pub async fn purge_content(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.delete_before("request_content", cutoff).await
    }

    async fn drop_partition(&self, name: &str) -> Result<(), StoreError> {
        let sql = format!("DROP TABLE IF EXISTS {name}");
        on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            sqlx::query(PARTITION_LOCK).execute(&mut *tx).await?;
            sqlx::query(DDL_LOCK_TIMEOUT).execute(&mut *tx).await?;
            sqlx::query(&sql).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Deletes `table`'s rows created before `cutoff`, `BATCH` at a time.
    async fn delete_before(&self, table: &str, cutoff: i64) -> Result<u64, StoreError> {
        // The row's physical id: SQLite's rowid, PostgreSQL's ctid.
        let row_id = match self {
            Store::Sqlite(_) => "rowid",
            Store::Postgres(_) => "ctid",
        };
        let sql = format!(
            "DELETE FROM {table} WHERE {row_id} IN \
             (SELECT {row_id} FROM {table} WHERE created_at < $1 LIMIT {BATCH})"
        );
        let mut total = 0;
        loop {
            let n = on_conn!(self, CALL_DEADLINE, c => sqlx::query(&sql).bind(cutoff)
                .execute(&mut *c).await.map(|r| r.rows_affected()).map_err(StoreError::from))?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip() {
        let day = crate::types::time::days_from_civil(2026, 12, 6);
        assert_eq!(partition_name("requests", day), "requests_p20261206");
        assert_eq!(partition_day("requests", "requests_p20261206"), Some(day));
        assert_eq!(partition_day("requests", "requests_default"), None);
        assert_eq!(partition_day("requests", "requests_p20260231"), None);
        assert_eq!(
            partition_day("requests", "request_attempts_p20261206"),
            None
        );
        assert_eq!(
            partition_day("request_attempts", "request_attempts_p20261206"),
            Some(day)
        );
    }
}
