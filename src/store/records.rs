//! The request log: one row per request, one per upstream attempt, written in batches.

use serde::Serialize;

use std::collections::BTreeMap;

use super::{on_conn, on_pool, Store, StoreError, CALL_DEADLINE};

type SpendMap<'a> = BTreeMap<(&'a str, i64), (i64, i64)>;

/// Cost and count per (key, UTC day) of the records that carry a key.
fn spend_by_key_and_day<'a>(records: impl Iterator<Item = &'a RequestRecord>) -> SpendMap<'a> {
    let mut m = SpendMap::new();
    for r in records {
        if let Some(key) = r.key_id.as_deref() {
            let e = m
                .entry((key, crate::types::time::day_of(r.created_at)))
                .or_default();
            e.0 += r.cost_nanos;
            e.1 += 1;
        }
    }
    m
}

fn spend_by_key<'a>(m: &SpendMap<'a>) -> BTreeMap<&'a str, i64> {
    let mut out = BTreeMap::new();
    for ((key, _), (cost, _)) in m {
        *out.entry(*key).or_default() += cost;
    }
    out
}

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
    /// Prompt tokens written to the provider's cache (part of `prompt_tokens`).
    pub cache_write_tokens: i64,
    pub usage_estimated: bool,
    pub cost_nanos: i64,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub app_referer: Option<String>,
    pub app_title: Option<String>,
    /// The end user the client named (`user`, Anthropic's `metadata.user_id`).
    pub external_user: Option<String>,
    /// OpenRouter's `session_id` (body or `x-session-id`).
    pub session_id: Option<String>,
    pub error: Option<String>,
    pub finish_reason: Option<String>,
    /// The preset the request used, as `NAME@vN`.
    pub preset: Option<String>,
    pub attempts: Vec<AttemptRecord>,
    /// Captured prompt and completion, when capture is on for this request. Never
    /// serialised: records are logged when they cannot be written, and content must not be.
    #[serde(skip)]
    pub content: Option<Box<super::CapturedContent>>,
}

impl RequestRecord {
    /// Makes every text field storable: no NUL bytes (PostgreSQL refuses them), and
    /// client-supplied names and upstream error texts of bounded size.
    pub fn sanitize(&mut self) {
        use super::sanitize::bounded;
        const NAME: usize = 512;
        const ERROR: usize = 4096;
        bounded(&mut self.id, NAME);
        for f in [
            &mut self.key_id,
            &mut self.requested_model,
            &mut self.served_model,
            &mut self.provider,
            &mut self.upstream_id,
            &mut self.app_referer,
            &mut self.app_title,
            &mut self.external_user,
            &mut self.session_id,
            &mut self.finish_reason,
            &mut self.preset,
        ]
        .into_iter()
        .flatten()
        {
            bounded(f, NAME);
        }
        bounded(&mut self.outcome, NAME);
        if let Some(e) = &mut self.error {
            bounded(e, ERROR);
        }
        for a in &mut self.attempts {
            for f in [
                &mut a.provider,
                &mut a.model,
                &mut a.upstream_model,
                &mut a.outcome,
            ] {
                bounded(f, NAME);
            }
            if let Some(e) = &mut a.error {
                bounded(e, ERROR);
            }
        }
    }
}

/// What one `insert_records` call inserted (rows already there are skipped).
#[derive(Debug, Default)]
pub struct Inserted {
    /// Ids of the records this call inserted.
    pub ids: Vec<String>,
}

impl Inserted {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Which requests a page of the log holds; `None` is no filter.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub key_id: Option<String>,
    /// The served model, else the requested one.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub outcome: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Rows strictly older than this `(created_at, id)`.
    pub before: Option<(i64, String)>,
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
    cache_write_tokens: i64,
    usage_estimated: bool,
    cost_nanos: i64,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    app_referer: Option<String>,
    app_title: Option<String>,
    external_user: Option<String>,
    session_id: Option<String>,
    error: Option<String>,
    finish_reason: Option<String>,
    preset: Option<String>,
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
            cache_write_tokens: r.cache_write_tokens,
            usage_estimated: r.usage_estimated,
            cost_nanos: r.cost_nanos,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            app_referer: r.app_referer,
            app_title: r.app_title,
            external_user: r.external_user,
            session_id: r.session_id,
            error: r.error,
            finish_reason: r.finish_reason,
            preset: r.preset,
            attempts: Vec::new(),
            content: None,
        }
    }
}

const REQUEST_COLUMNS: &str = "id, created_at, key_id, requested_model, served_model, provider, upstream_id, outcome, status, \
     streamed, cancelled, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_estimated, \
     cost_nanos, latency_ms, ttft_ms, app_referer, app_title, error, cache_write_tokens, finish_reason, external_user, session_id, preset";

impl Store {
    /// Writes a batch of records in one transaction: a batch lands whole or not at all.
    /// Rows go in multi-row INSERTs: one statement per hundred records rather than two per
    /// record, which matters on SQLite, where every statement is a hop to its worker thread.
    ///
    /// The same transaction adds each newly inserted record's cost to its key's daily spend
    /// and to `holder`'s budget lease, and the record to the hourly usage rollups, so money
    /// and usage are counted exactly once even when a batch is
    /// retried after a commit whose answer was lost (`ON CONFLICT DO NOTHING ... RETURNING`
    /// names only the rows this call inserted).
    pub async fn insert_records(
        &self,
        batch: &[std::sync::Arc<RequestRecord>],
        holder: &str,
    ) -> Result<Inserted, StoreError> {
        // 27 and 9 bound values per row keep each statement far below both backends' limits.
        const REQUESTS_PER_STATEMENT: usize = 100;
        const ATTEMPTS_PER_STATEMENT: usize = 400;
        const CONTENT_PER_STATEMENT: usize = 8;
        let attempts: Vec<(&RequestRecord, i64, &AttemptRecord)> = batch
            .iter()
            .flat_map(|r| {
                r.attempts
                    .iter()
                    .enumerate()
                    .map(move |(i, a)| (&**r, i as i64, a))
            })
            .collect();
        let contents: Vec<(&RequestRecord, &super::CapturedContent)> = batch
            .iter()
            .filter_map(|r| r.content.as_deref().map(|c| (&**r, c)))
            .collect();
        let inserted = on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            let mut inserted: Vec<String> = Vec::with_capacity(batch.len());
            for rows in batch.chunks(REQUESTS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO requests ({REQUEST_COLUMNS}) "));
                q.push_values(rows, |mut b, r| {
                    b.push_bind(&r.id).push_bind(r.created_at).push_bind(&r.key_id).push_bind(&r.requested_model)
                        .push_bind(&r.served_model).push_bind(&r.provider).push_bind(&r.upstream_id).push_bind(&r.outcome)
                        .push_bind(r.status).push_bind(r.streamed).push_bind(r.cancelled).push_bind(r.prompt_tokens)
                        .push_bind(r.completion_tokens).push_bind(r.cached_tokens).push_bind(r.reasoning_tokens)
                        .push_bind(r.usage_estimated).push_bind(r.cost_nanos).push_bind(r.latency_ms).push_bind(r.ttft_ms)
                        .push_bind(&r.app_referer).push_bind(&r.app_title).push_bind(&r.error)
                        .push_bind(r.cache_write_tokens).push_bind(&r.finish_reason)
                        .push_bind(&r.external_user).push_bind(&r.session_id).push_bind(&r.preset);
                });
                // Which rows this call inserted decides whose spend and which rollups it
                // counts. (No conflict target: on PostgreSQL the partitioned table is unique
                // on (id, created_at), and a retried record carries the same created_at.)
                q.push(" ON CONFLICT DO NOTHING RETURNING id");
                let ids: Vec<(String,)> = q.build_query_as().fetch_all(&mut *tx).await?;
                inserted.extend(ids.into_iter().map(|(id,)| id));
            }
            for rows in attempts.chunks(ATTEMPTS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO request_attempts (request_id, position, provider, model, upstream_model, outcome, \
                     status, error, latency_ms, created_at) ",
                );
                q.push_values(rows, |mut b, (r, i, a)| {
                    b.push_bind(&r.id).push_bind(*i).push_bind(&a.provider).push_bind(&a.model).push_bind(&a.upstream_model)
                        .push_bind(&a.outcome).push_bind(a.status).push_bind(&a.error).push_bind(a.latency_ms)
                        .push_bind(r.created_at);
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            // Captured content goes with its record (few rows a statement: each may be large).
            for rows in contents.chunks(CONTENT_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO request_content (request_id, created_at, request_body, request_truncated, \
                     response_body, response_truncated) ",
                );
                q.push_values(rows, |mut b, (r, c)| {
                    b.push_bind(&r.id).push_bind(r.created_at).push_bind(&c.request_body).push_bind(c.request_truncated)
                        .push_bind(&c.response_body).push_bind(c.response_truncated);
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            let fresh: std::collections::HashSet<&str> = inserted.iter().map(String::as_str).collect();
            let fresh_records = || batch.iter().map(|r| &**r).filter(|r| fresh.contains(r.id.as_str()));
            let spends = spend_by_key_and_day(fresh_records());
            {
                use super::rollups::{by_day, rollup_of, upsert, Grain, ROWS_PER_UPSERT};
                let hourly = rollup_of(fresh_records());
                let daily = by_day(&hourly);
                for (grain, rollup) in [(Grain::Hour, &hourly), (Grain::Day, &daily)] {
                    let rows: Vec<_> = rollup.iter().collect();
                    for rows in rows.chunks(ROWS_PER_UPSERT) {
                        upsert(grain, rows).build().execute(&mut *tx).await?;
                    }
                }
                use super::dim_rollups::{self as dims, by_dimension, by_endpoint, Table};
                let narrow = [
                    (Table::DimHourly, by_dimension(&hourly)),
                    (Table::DimDaily, by_dimension(&daily)),
                    (Table::EndpointDaily, by_endpoint(&daily)),
                ];
                for (table, rollup) in &narrow {
                    let rows: Vec<_> = rollup.iter().collect();
                    for rows in rows.chunks(ROWS_PER_UPSERT) {
                        dims::upsert(*table, rows).build().execute(&mut *tx).await?;
                    }
                }
            }
            for ((key, day), (cost, n)) in &spends {
                sqlx::query(
                    "INSERT INTO key_spend (key_id, day, cost_nanos, requests) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key_id, day) DO UPDATE SET cost_nanos = key_spend.cost_nanos + excluded.cost_nanos, \
                     requests = key_spend.requests + excluded.requests")
                    .bind(*key).bind(*day).bind(*cost).bind(*n).execute(&mut *tx).await?;
            }
            for (key, cost) in spend_by_key(&spends) {
                sqlx::query("UPDATE budget_leases SET spent_nanos = spent_nanos + $1 WHERE key_id = $2 AND holder = $3")
                    .bind(cost).bind(key).bind(holder).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Inserted { ids: inserted })
        })?;
        Ok(inserted)
    }

    /// Sets aside a record the database refused: a reduced row in `dead_letters` (the
    /// record as JSON, for an operator), its cost still counted in the key's spend.
    pub async fn insert_dead_letter(
        &self,
        record: &RequestRecord,
        error: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).unwrap_or_default();
        let json = super::sanitize::text(&json);
        let key = record.key_id.as_deref().map(super::sanitize::text);
        on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            sqlx::query("INSERT INTO dead_letters (id, created_at, key_id, cost_nanos, error, record) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(super::sanitize::text(&record.id).as_ref()).bind(record.created_at).bind(key.as_deref())
                .bind(record.cost_nanos).bind(super::sanitize::text(error).as_ref()).bind(json.as_ref())
                .execute(&mut *tx).await?;
            if let Some(key) = key.as_deref() {
                sqlx::query(
                    "INSERT INTO key_spend (key_id, day, cost_nanos, requests) VALUES ($1, $2, $3, 1) \
                     ON CONFLICT (key_id, day) DO UPDATE SET cost_nanos = key_spend.cost_nanos + excluded.cost_nanos, \
                     requests = key_spend.requests + 1")
                    .bind(key).bind(crate::types::time::day_of(record.created_at)).bind(record.cost_nanos)
                    .execute(&mut *tx).await?;
                sqlx::query("UPDATE budget_leases SET spent_nanos = spent_nanos + $1 WHERE key_id = $2 AND holder = $3")
                    .bind(record.cost_nanos).bind(key).bind(holder).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// How many records were set aside.
    pub async fn dead_letter_count(&self) -> Result<i64, StoreError> {
        let n: i64 = on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(p).await)?;
        Ok(n)
    }

    /// The newest requests first, optionally one key's, with their attempts.
    pub async fn list_requests(
        &self,
        limit: i64,
        key_id: Option<&str>,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let filter = RequestFilter {
            key_id: key_id.map(Into::into),
            ..Default::default()
        };
        self.list_requests_page(limit, &filter).await
    }

    /// One page of the request log, newest first, with the requests' attempts. Only the
    /// filters given are in the SQL, so each is answered by its index of migration 0009
    /// (`(column, created_at, id)`) in order, whatever the log's size, and the outcome with
    /// a key, model or provider by migration 0011's `(outcome, column, created_at, id)`
    /// (other pairs read one filter's index and check the other row by row); `before` continues
    /// after a row of an earlier page by `(created_at, id)`.
    pub async fn list_requests_page(
        &self,
        limit: i64,
        f: &RequestFilter,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let head = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE 1 = 1");
        let rows: Vec<RequestRow> = on_pool!(self, p => {
            let mut q = sqlx::QueryBuilder::new(head.as_str());
            for (sql, v) in [
                (" AND key_id = ", &f.key_id),
                (" AND COALESCE(served_model, requested_model) = ", &f.model),
                (" AND provider = ", &f.provider),
                (" AND outcome = ", &f.outcome),
            ] {
                if let Some(v) = v {
                    q.push(sql).push_bind(v.as_str());
                }
            }
            if let Some(from) = f.from_ms {
                q.push(" AND created_at >= ").push_bind(from);
            }
            if let Some(to) = f.to_ms {
                q.push(" AND created_at < ").push_bind(to);
            }
            if let Some((at, id)) = &f.before {
                q.push(" AND (created_at, id) < (").push_bind(*at).push(", ").push_bind(id.as_str()).push(")");
            }
            q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
            q.build_query_as().fetch_all(p).await
        })?;
        let mut out: Vec<RequestRecord> = rows.into_iter().map(Into::into).collect();
        if out.is_empty() {
            return Ok(out);
        }
        // One query for the attempts of exactly this page's requests.
        let index: std::collections::HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let attempts: Vec<AttemptRow> = on_pool!(self, p => {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT request_id, provider, model, upstream_model, outcome, status, error, latency_ms \
                 FROM request_attempts WHERE request_id IN (",
            );
            let mut ids = q.separated(", ");
            for r in &out {
                ids.push_bind(r.id.clone());
            }
            q.push(") ORDER BY request_id, position");
            q.build_query_as().fetch_all(p).await
        })?;
        for a in attempts {
            if let Some(&i) = index.get(&a.request_id) {
                out[i].attempts.push(a.attempt);
            }
        }
        Ok(out)
    }

    /// When a stored request was created (what `before` cursors continue from).
    pub async fn request_created_at(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT created_at FROM requests WHERE id = $1 AND created_at BETWEEN $2 AND $3";
        for (from, to) in windows(id) {
            let at = on_pool!(self, p => sqlx::query_scalar(sql)
                .bind(id).bind(from).bind(to).fetch_optional(p).await)?;
            if at.is_some() {
                return Ok(at);
            }
        }
        Ok(None)
    }

    pub async fn get_request(&self, id: &str) -> Result<Option<StoredRequest>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1 AND created_at BETWEEN $2 AND $3"
        );
        for (from, to) in windows(id) {
            let row: Option<RequestRow> = on_pool!(self, p => sqlx::query_as(&sql)
                .bind(id).bind(from).bind(to).fetch_optional(p).await)?;
            let Some(row) = row else { continue };
            let mut rec: RequestRecord = row.into();
            let at = rec.created_at;
            let attempts: Vec<AttemptRow> = on_pool!(self, p => sqlx::query_as(
                "SELECT request_id, provider, model, upstream_model, outcome, status, error, latency_ms \
                 FROM request_attempts WHERE request_id = $1 AND created_at = $2 ORDER BY position")
                .bind(id).bind(at).fetch_all(p).await)?;
            rec.attempts = attempts.into_iter().map(|a| a.attempt).collect();
            return Ok(Some(rec));
        }
        Ok(None)
    }
}

/// Where to look for request `id`, in order: a request id (`gen-{unix seconds}-{hex}`) names
/// the second it started, so on PostgreSQL one day partition or two are probed instead of
/// every one; an id of another form, or one not found there (a wall clock stepped between
/// the two readings), is looked for everywhere.
fn windows(id: &str) -> Vec<(i64, i64)> {
    let everywhere = (i64::MIN, i64::MAX);
    let secs = id
        .strip_prefix("gen-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| (0..i64::MAX / 1000 - 60).contains(s));
    match secs {
        Some(s) => vec![(s * 1000 - 60_000, s * 1000 + 61_000), everywhere],
        None => vec![everywhere],
    }
}

#[cfg(test)]
mod tests {
    use super::windows;

    #[test]
    fn a_request_id_names_where_to_look_first() {
        let all = (i64::MIN, i64::MAX);
        assert_eq!(
            windows("gen-1765000000-00ff00ff00ff00ff"),
            vec![(1_764_999_940_000, 1_765_000_061_000), all]
        );
        for odd in [
            "r1",
            "gen-",
            "gen-x-1",
            "gen--5-1",
            "gen-99999999999999999999-1",
        ] {
            assert_eq!(windows(odd), vec![all], "{odd}");
        }
    }
}
