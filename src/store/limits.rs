//! The tables behind rate limits shared through the database (PostgreSQL without Redis):
//! one GCRA cell per key and unit, and the concurrency slots each replica holds.
//!
//! Every change is one serialised transaction per key (an advisory lock on PostgreSQL,
//! SQLite's single writer) that reads the key's state, lets the caller decide with pure
//! arithmetic (`ledger::pooled`), and writes what it decided. Time is the database's clock
//! in microseconds on PostgreSQL, so replicas whose clocks disagree still share one cell.

use super::{on_conn, Store, StoreError, CALL_DEADLINE};

/// A key's shared limit state, as read inside the transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitCells {
    /// The database's clock, in microseconds since the epoch.
    pub now_us: i64,
    pub rpm_tat: i64,
    pub tpm_tat: i64,
    /// Concurrency slots held by other live replicas.
    pub slots_others: i64,
    /// Concurrency slots this replica holds in the database.
    pub slots_mine: i64,
}

/// What to write back; `None` leaves a value as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitWrite {
    pub rpm_tat: Option<i64>,
    pub tpm_tat: Option<i64>,
    pub slots_mine: Option<i64>,
}

/// How long a replica's slot row lives without renewal.
pub const SLOT_TTL_US: i64 = 60_000_000;

impl Store {
    /// Reads `key_id`'s cells and slots, applies `decide` and writes what it returns, in one
    /// transaction that no other replica's change to the same key can interleave with.
    pub async fn update_limits<R: Send>(
        &self,
        key_id: &str,
        holder: &str,
        decide: impl FnOnce(&LimitCells) -> (LimitWrite, R) + Send,
    ) -> Result<R, StoreError> {
        let pg = matches!(self, Store::Postgres(_));
        on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            let now_us: i64 = if pg {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))")
                    .bind(key_id).execute(&mut *tx).await?;
                sqlx::query_scalar("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)")
                    .fetch_one(&mut *tx).await?
            } else {
                crate::types::now_ms() * 1000
            };
            // On SQLite this first write takes the database's write lock for the transaction.
            sqlx::query("DELETE FROM limit_slots WHERE key_id = $1 AND expires_us < $2")
                .bind(key_id).bind(now_us).execute(&mut *tx).await?;
            let cells: Vec<(String, i64)> = sqlx::query_as(
                "SELECT unit, tat_us FROM limit_cells WHERE key_id = $1")
                .bind(key_id).fetch_all(&mut *tx).await?;
            let (others, mine): (i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN holder <> $2 THEN slots ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN holder = $2 THEN slots ELSE 0 END), 0) AS BIGINT) \
                 FROM limit_slots WHERE key_id = $1")
                .bind(key_id).bind(holder).fetch_one(&mut *tx).await?;
            let tat = |unit: &str| cells.iter().find(|(u, _)| u == unit).map_or(0, |(_, t)| *t);
            let read = LimitCells {
                now_us,
                rpm_tat: tat("rpm"),
                tpm_tat: tat("tpm"),
                slots_others: others,
                slots_mine: mine,
            };
            let (write, out) = decide(&read);
            for (unit, value) in [("rpm", write.rpm_tat), ("tpm", write.tpm_tat)] {
                if let Some(v) = value {
                    sqlx::query("INSERT INTO limit_cells (key_id, unit, tat_us) VALUES ($1, $2, $3) \
                                 ON CONFLICT (key_id, unit) DO UPDATE SET tat_us = excluded.tat_us")
                        .bind(key_id).bind(unit).bind(v).execute(&mut *tx).await?;
                }
            }
            match write.slots_mine {
                Some(0) => {
                    sqlx::query("DELETE FROM limit_slots WHERE key_id = $1 AND holder = $2")
                        .bind(key_id).bind(holder).execute(&mut *tx).await?;
                }
                Some(n) => {
                    sqlx::query("INSERT INTO limit_slots (key_id, holder, slots, expires_us) VALUES ($1, $2, $3, $4) \
                                 ON CONFLICT (key_id, holder) DO UPDATE SET slots = excluded.slots, expires_us = excluded.expires_us")
                        .bind(key_id).bind(holder).bind(n).bind(now_us + SLOT_TTL_US).execute(&mut *tx).await?;
                }
                None => {}
            }
            tx.commit().await?;
            Ok::<_, StoreError>(out)
        })
    }

    /// Drops every concurrency slot a holder has (at shutdown).
    pub async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        on_conn!(self, CALL_DEADLINE, c => sqlx::query("DELETE FROM limit_slots WHERE holder = $1")
            .bind(holder).execute(&mut *c).await.map(|_| ()).map_err(StoreError::from))
    }
}
