//! The request log: one row per request, one per upstream attempt, written in batches.

use serde::Serialize;

use super::{on_pool, Store, StoreError};

/// One upstream attempt of a request.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AttemptRecord {
    pub provider: String,
    pub model: String,
    pub upstream_model: String,
    /// `ok`, or the failure kind (`status`, `timeout`, `connect`, `cut`, `malformed`, `cancelled`).
    pub outcome: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// Everything recorded about one request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestRecord {
    pub id: String,
    pub created_at: i64,
    pub key_id: Option<String>,
    pub requested_model: Option<String>,
    pub served_model: Option<String>,
    pub provider: Option<String>,
    pub upstream_id: Option<String>,
    /// `success`, `error`, `cancelled` (client went away), `cut` (upstream failed mid-stream)
    /// or `timeout`.
    pub outcome: String,
    pub status: i64,
    pub streamed: bool,
    pub cancelled: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub usage_estimated: bool,
    pub cost_nanos: i64,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub app_referer: Option<String>,
    pub app_title: Option<String>,
    pub error: Option<String>,
    pub attempts: Vec<AttemptRecord>,
}

/// A stored request with its attempts, as the admin API returns it.
pub type StoredRequest = RequestRecord;

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: String,
    created_at: i64,
    key_id: Option<String>,
    requested_model: Option<String>,
    served_model: Option<String>,
    provider: Option<String>,
    upstream_id: Option<String>,
    outcome: String,
    status: i64,
    streamed: bool,
    cancelled: bool,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    reasoning_tokens: i64,
    usage_estimated: bool,
    cost_nanos: i64,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    app_referer: Option<String>,
    app_title: Option<String>,
    error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    request_id: String,
    #[sqlx(flatten)]
    attempt: AttemptRecord,
}

impl From<RequestRow> for RequestRecord {
    fn from(r: RequestRow) -> Self {
        RequestRecord {
            id: r.id,
            created_at: r.created_at,
            key_id: r.key_id,
            requested_model: r.requested_model,
            served_model: r.served_model,
            provider: r.provider,
            upstream_id: r.upstream_id,
            outcome: r.outcome,
            status: r.status,
            streamed: r.streamed,
            cancelled: r.cancelled,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cached_tokens: r.cached_tokens,
            reasoning_tokens: r.reasoning_tokens,
            usage_estimated: r.usage_estimated,
            cost_nanos: r.cost_nanos,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            app_referer: r.app_referer,
            app_title: r.app_title,
            error: r.error,
            attempts: Vec::new(),
        }
    }
}

const REQUEST_COLUMNS: &str = "id, created_at, key_id, requested_model, served_model, provider, upstream_id, outcome, status, \
     streamed, cancelled, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_estimated, \
     cost_nanos, latency_ms, ttft_ms, app_referer, app_title, error";

impl Store {
    /// Writes a batch of records in one transaction: a batch lands whole or not at all.
    /// Rows go in multi-row INSERTs: one statement per hundred records rather than two per
    /// record, which matters on SQLite, where every statement is a hop to its worker thread.
    pub async fn insert_records(&self, batch: &[RequestRecord]) -> Result<(), StoreError> {
        // 22 and 9 bound values per row keep each statement far below both backends' limits.
        const REQUESTS_PER_STATEMENT: usize = 100;
        const ATTEMPTS_PER_STATEMENT: usize = 400;
        let attempts: Vec<(&str, i64, &AttemptRecord)> = batch
            .iter()
            .flat_map(|r| {
                r.attempts
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (r.id.as_str(), i as i64, a))
            })
            .collect();
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            for rows in batch.chunks(REQUESTS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO requests ({REQUEST_COLUMNS}) "));
                q.push_values(rows, |mut b, r| {
                    b.push_bind(&r.id).push_bind(r.created_at).push_bind(&r.key_id).push_bind(&r.requested_model)
                        .push_bind(&r.served_model).push_bind(&r.provider).push_bind(&r.upstream_id).push_bind(&r.outcome)
                        .push_bind(r.status).push_bind(r.streamed).push_bind(r.cancelled).push_bind(r.prompt_tokens)
                        .push_bind(r.completion_tokens).push_bind(r.cached_tokens).push_bind(r.reasoning_tokens)
                        .push_bind(r.usage_estimated).push_bind(r.cost_nanos).push_bind(r.latency_ms).push_bind(r.ttft_ms)
                        .push_bind(&r.app_referer).push_bind(&r.app_title).push_bind(&r.error);
                });
                q.push(" ON CONFLICT (id) DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            for rows in attempts.chunks(ATTEMPTS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO request_attempts (request_id, position, provider, model, upstream_model, outcome, \
                     status, error, latency_ms) ",
                );
                q.push_values(rows, |mut b, (id, i, a)| {
                    b.push_bind(*id).push_bind(*i).push_bind(&a.provider).push_bind(&a.model).push_bind(&a.upstream_model)
                        .push_bind(&a.outcome).push_bind(a.status).push_bind(&a.error).push_bind(a.latency_ms);
                });
                q.push(" ON CONFLICT (request_id, position) DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest requests first, optionally one key's, with their attempts.
    pub async fn list_requests(
        &self,
        limit: i64,
        key_id: Option<&str>,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE ($1 IS NULL OR key_id = $1) ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<RequestRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(key_id).bind(limit).fetch_all(p).await)?;
        let mut out: Vec<RequestRecord> = rows.into_iter().map(Into::into).collect();
        if out.is_empty() {
            return Ok(out);
        }
        // One query for all attempts of the page, rather than one per request.
        let oldest = out.iter().map(|r| r.created_at).min().unwrap_or(0);
        let attempts: Vec<AttemptRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT a.request_id, a.provider, a.model, a.upstream_model, a.outcome, a.status, a.error, a.latency_ms \
             FROM request_attempts a JOIN requests r ON r.id = a.request_id WHERE r.created_at >= $1 \
             ORDER BY a.request_id, a.position")
            .bind(oldest).fetch_all(p).await)?;
        for a in attempts {
            if let Some(r) = out.iter_mut().find(|r| r.id == a.request_id) {
                r.attempts.push(a.attempt);
            }
        }
        Ok(out)
    }

    pub async fn get_request(&self, id: &str) -> Result<Option<StoredRequest>, StoreError> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1");
        let row: Option<RequestRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)?;
        let Some(row) = row else { return Ok(None) };
        let mut rec: RequestRecord = row.into();
        let attempts: Vec<AttemptRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT request_id, provider, model, upstream_model, outcome, status, error, latency_ms \
             FROM request_attempts WHERE request_id = $1 ORDER BY position")
            .bind(id).fetch_all(p).await)?;
        rec.attempts = attempts.into_iter().map(|a| a.attempt).collect();
        Ok(Some(rec))
    }
}
