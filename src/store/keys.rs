//! Gateway keys: only their hashes are stored, with each key's policy (budget, limits,
//! allowed models, expiry, metadata). Every change bumps `registry_version` (and, on
//! PostgreSQL, notifies the other replicas) in the same transaction.

use super::{on_conn, on_pool, Store, StoreError, CALL_DEADLINE};
use crate::types::keys::{BudgetReset, KeyPolicy};
use crate::types::now_ms;

/// A gateway key as stored: only its hash, never the key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    /// The first characters of the key, to tell keys apart in listings.
    pub key_prefix: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub policy: KeyPolicy,
}

/// A key to create.
pub struct NewKeyRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub policy: &'a KeyPolicy,
    /// A client-supplied token that makes creation idempotent under retries.
    pub idempotency_key: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: String,
    name: String,
    key_hash: String,
    key_prefix: String,
    created_at: i64,
    updated_at: Option<i64>,
    revoked_at: Option<i64>,
    budget_nanos: Option<i64>,
    budget_reset: String,
    rpm: Option<i64>,
    tpm: Option<i64>,
    max_concurrency: Option<i64>,
    allowed_models: Option<String>,
    expires_at: Option<i64>,
    disabled: bool,
    metadata: Option<String>,
    capture_content: bool,
}

pub(super) const KEY_COLUMNS: &str =
    "id, name, key_hash, key_prefix, created_at, updated_at, revoked_at, budget_nanos, \
     budget_reset, rpm, tpm, max_concurrency, allowed_models, expires_at, disabled, metadata, capture_content";

fn positive(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0)
}

fn as_i64(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

impl TryFrom<Row> for KeyRow {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<KeyRow, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("key {}: {what}: {e}", r.id))
        };
        let allowed_models = match &r.allowed_models {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| corrupt("allowed_models", e))?),
            None => None,
        };
        let metadata = match &r.metadata {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| corrupt("metadata", e))?),
            None => None,
        };
        Ok(KeyRow {
            policy: KeyPolicy {
                budget_nanos: r.budget_nanos,
                // An unknown period (written by a newer version) is read as the strictest
                // reading of a budget: one that never resets.
                budget_reset: BudgetReset::parse(&r.budget_reset).unwrap_or_default(),
                rpm: positive(r.rpm),
                tpm: positive(r.tpm),
                max_concurrency: positive(r.max_concurrency),
                allowed_models,
                expires_at: r.expires_at,
                disabled: r.disabled,
                metadata,
                capture_content: r.capture_content,
            },
            id: r.id,
            name: r.name,
            key_hash: r.key_hash,
            key_prefix: r.key_prefix,
            created_at: r.created_at,
            updated_at: r.updated_at,
            revoked_at: r.revoked_at,
        })
    }
}

pub(super) fn rows(rows: Vec<Row>) -> Result<Vec<KeyRow>, StoreError> {
    rows.into_iter().map(KeyRow::try_from).collect()
}

fn json_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

/// Bumps the registry version (and tells PostgreSQL listeners) inside a transaction.
macro_rules! bump_version {
    ($store:expr, $tx:expr) => {{
        sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1")
            .execute(&mut *$tx)
            .await?;
        if matches!($store, Store::Postgres(_)) {
            sqlx::query(concat!(
                "SELECT pg_notify('",
                "switchyard_registry",
                "', '')"
            ))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use bump_version;

/// The channel replicas LISTEN on for registry and key changes (PostgreSQL).
pub const REGISTRY_CHANNEL: &str = "switchyard_registry";

impl Store {
    /// Creates a key. With an idempotency key that was used before, returns the key created
    /// then and `false`.
    pub async fn create_key(&self, new: &NewKeyRow<'_>) -> Result<(KeyRow, bool), StoreError> {
        if let Some(token) = new.idempotency_key {
            if let Some(existing) = self.key_by_idempotency(token).await? {
                return Ok((existing, false));
            }
        }
        let now = now_ms();
        let p = new.policy;
        let inserted = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let r = sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at, updated_at, budget_nanos, budget_reset, \
                 rpm, tpm, max_concurrency, allowed_models, expires_at, disabled, metadata, idempotency_key, capture_content) \
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
                .bind(new.id).bind(new.name).bind(new.key_hash).bind(new.key_prefix).bind(now)
                .bind(p.budget_nanos).bind(p.budget_reset.as_str()).bind(as_i64(p.rpm)).bind(as_i64(p.tpm))
                .bind(as_i64(p.max_concurrency)).bind(json_text(&p.allowed_models)).bind(p.expires_at)
                .bind(p.disabled).bind(json_text(&p.metadata)).bind(new.idempotency_key).bind(p.capture_content)
                .execute(&mut *tx).await;
            match r {
                Ok(_) => {
                    bump_version!(self, tx);
                    tx.commit().await?;
                    true
                }
                // A concurrent request with the same idempotency key won the race.
                Err(sqlx::Error::Database(e)) if new.idempotency_key.is_some() && e.is_unique_violation() => false,
                Err(e) => return Err(e.into()),
            }
        });
        if !inserted {
            let token = new.idempotency_key.unwrap_or_default();
            let existing = self.key_by_idempotency(token).await?.ok_or_else(|| {
                StoreError::Conflict("a key with this id or hash already exists".into())
            })?;
            return Ok((existing, false));
        }
        let row = self
            .get_key(new.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no key `{}`", new.id)))?;
        Ok((row, true))
    }

    async fn key_by_idempotency(&self, token: &str) -> Result<Option<KeyRow>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE idempotency_key = $1");
        let row: Option<Row> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(token).fetch_optional(p).await)?;
        row.map(KeyRow::try_from).transpose()
    }

    pub async fn get_key(&self, id: &str) -> Result<Option<KeyRow>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row: Option<Row> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)?;
        row.map(KeyRow::try_from).transpose()
    }

    /// A live (not revoked) key by its hash: the lookup for a key this replica's snapshot
    /// does not know yet.
    pub async fn find_live_key(&self, key_hash: &str) -> Result<Option<KeyRow>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        );
        let row: Option<Row> = on_conn!(self, CALL_DEADLINE, c => sqlx::query_as(&sql)
            .bind(key_hash).fetch_optional(&mut *c).await.map_err(StoreError::from))?;
        row.map(KeyRow::try_from).transpose()
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id");
        rows(on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await)?)
    }

    /// Replaces a key's name and policy; `NotFound` for an unknown id.
    pub async fn update_key(
        &self,
        id: &str,
        name: &str,
        p: &KeyPolicy,
    ) -> Result<KeyRow, StoreError> {
        let now = now_ms();
        let n = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE api_keys SET name = $1, budget_nanos = $2, budget_reset = $3, rpm = $4, tpm = $5, \
                 max_concurrency = $6, allowed_models = $7, expires_at = $8, disabled = $9, metadata = $10, updated_at = $11, \
                 capture_content = $13 WHERE id = $12")
                .bind(name).bind(p.budget_nanos).bind(p.budget_reset.as_str()).bind(as_i64(p.rpm)).bind(as_i64(p.tpm))
                .bind(as_i64(p.max_concurrency)).bind(json_text(&p.allowed_models)).bind(p.expires_at)
                .bind(p.disabled).bind(json_text(&p.metadata)).bind(now).bind(id).bind(p.capture_content)
                .execute(&mut *tx).await?.rows_affected();
            bump_version!(self, tx);
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound(format!("no key `{id}`")));
        }
        self.get_key(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
    }

    /// Revokes a key; revoking twice is not an error, an unknown id is.
    pub async fn revoke_key(&self, id: &str) -> Result<KeyRow, StoreError> {
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE api_keys SET revoked_at = $1, updated_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now).bind(id).execute(&mut *tx).await?;
            bump_version!(self, tx);
            tx.commit().await?;
        });
        self.get_key(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
    }
}
