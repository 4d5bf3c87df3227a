//! Registry tables (providers, models, endpoints, fallbacks) and API keys.
//!
//! Every change bumps `registry_version` in the same transaction, so each replica's refresh
//! task can see with one cheap query that it must reload its snapshot.

use super::keys::{bump_version, KeyRow, KEY_COLUMNS};
use super::{on_conn, on_pool, Store, StoreError, CALL_DEADLINE};
use crate::types::now_ms;
use crate::types::registry::{EndpointDecl, ModelDecl, ModelKind, ProviderDecl};

/// Everything a registry snapshot is built from.
#[derive(Debug, Clone, Default)]
pub struct RegistryRows {
    pub version: i64,
    pub providers: Vec<ProviderDecl>,
    pub models: Vec<(ModelDecl, i64)>,
    /// Each model's revision (its `updated_at`), for edits that must not overwrite a
    /// concurrent one.
    pub revisions: std::collections::HashMap<String, i64>,
    pub keys: Vec<KeyRow>,
    pub presets: Vec<super::presets::StoredPreset>,
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    slug: String,
    name: Option<String>,
    aliases: String,
    context_length: Option<i64>,
    supported_parameters: String,
    enabled: bool,
    default_output_tokens: Option<i64>,
    kind: String,
    created_at: i64,
    updated_at: i64,
    description: Option<String>,
    input_modalities: String,
    output_modalities: String,
    tokenizer: Option<String>,
    instruct_type: Option<String>,
    max_completion_tokens: Option<i64>,
    hugging_face_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    model_slug: String,
    provider_id: String,
    upstream_model: String,
    input_price: f64,
    output_price: f64,
    cache_read_price: Option<f64>,
    cache_write_price: Option<f64>,
    request_price: f64,
    supported_parameters: Option<String>,
    enabled: bool,
    quantization: Option<String>,
    context_length: Option<i64>,
    max_completion_tokens: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct FallbackRow {
    model_slug: String,
    fallback_slug: String,
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Reads a stored provider declaration. The config file's parser refuses unknown fields
/// (typos must not pass), but a row may have been written by a newer replica: its new
/// top-level fields are ignored here, with a warning, rather than stopping this replica.
fn read_provider(text: &str) -> Result<ProviderDecl, StoreError> {
    let mut v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| corrupt("provider", e))?;
    let mut ignored = Vec::new();
    loop {
        let e = match serde_json::from_value::<ProviderDecl>(v.clone()) {
            Ok(d) => {
                if !ignored.is_empty() {
                    tracing::warn!(provider = %d.id, fields = ?ignored, "ignoring provider fields this version does not know (written by a newer version?)");
                }
                return Ok(d);
            }
            Err(e) => e,
        };
        let field = e
            .to_string()
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(f, _)| f.to_owned());
        let removed = match (&field, v.as_object_mut()) {
            (Some(f), Some(obj)) if ignored.len() < 64 => obj.remove(f).is_some(),
            _ => false,
        };
        match field {
            Some(f) if removed => ignored.push(f),
            _ => return Err(corrupt("provider", e)),
        }
    }
}

/// A stored token count (never negative when written by this code).
fn tokens(n: i64) -> u64 {
    n.max(0) as u64
}

/// A token count as the databases store it.
fn stored(n: Option<u64>) -> Option<i64> {
    n.map(|t| i64::try_from(t).unwrap_or(i64::MAX))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// What a config declaration looked like when it was applied (compared, never read back).
pub(super) fn decl_hash<T: serde::Serialize>(v: &T) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(json(v).as_bytes()))
}

/// Who wrote a registry row: the config file (applied by `serve` and `migrate` when it changed)
/// or the admin API.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    Config,
    Admin,
}

impl Origin {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Admin => "admin",
        }
    }
}

impl Store {
    pub async fn registry_version(&self) -> Result<i64, StoreError> {
        let v: i64 = on_conn!(self, CALL_DEADLINE, c => sqlx::query_scalar("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::from))?;
        Ok(v)
    }

    /// Reads the whole registry and the live keys.
    pub async fn load_registry(&self) -> Result<RegistryRows, StoreError> {
        let (version, provider_rows, model_rows, endpoint_rows, fallback_rows, keys, presets) = on_conn!(self, CALL_DEADLINE, c => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            let version: i64 = sqlx::query_scalar("SELECT version FROM registry_version WHERE id = 1")
                .fetch_one(&mut *tx).await?;
            let providers: Vec<(String, bool)> = sqlx::query_as("SELECT decl, enabled FROM providers ORDER BY id")
                .fetch_all(&mut *tx).await?;
            let models: Vec<ModelRow> = sqlx::query_as(
                "SELECT slug, name, aliases, context_length, supported_parameters, enabled, default_output_tokens, kind, created_at, updated_at, \
                 description, input_modalities, output_modalities, tokenizer, instruct_type, max_completion_tokens, hugging_face_id \
                 FROM models ORDER BY slug")
                .fetch_all(&mut *tx).await?;
            let endpoints: Vec<EndpointRow> = sqlx::query_as(
                "SELECT model_slug, provider_id, upstream_model, input_price, output_price, cache_read_price, cache_write_price, \
                 request_price, supported_parameters, enabled, quantization, context_length, max_completion_tokens \
                 FROM endpoints ORDER BY model_slug, position")
                .fetch_all(&mut *tx).await?;
            let fallbacks: Vec<FallbackRow> = sqlx::query_as(
                "SELECT model_slug, fallback_slug FROM model_fallbacks ORDER BY model_slug, position")
                .fetch_all(&mut *tx).await?;
            let keys: Vec<super::keys::Row> = sqlx::query_as(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL"))
                .fetch_all(&mut *tx).await?;
            let presets: Vec<super::presets::CurrentRow> = sqlx::query_as(super::presets::CURRENT)
                .fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((version, providers, models, endpoints, fallbacks, keys, presets))
        })?;
        let presets = super::presets::current(presets)?;

        let keys = super::keys::rows(keys)?;
        let mut providers = Vec::with_capacity(provider_rows.len());
        for (decl, enabled) in provider_rows {
            let mut d = read_provider(&decl)?;
            d.enabled = enabled;
            providers.push(d);
        }
        let mut models = Vec::with_capacity(model_rows.len());
        let revisions = model_rows
            .iter()
            .map(|r| (r.slug.clone(), r.updated_at))
            .collect();
        for r in model_rows {
            let slug = r.slug.clone();
            models.push((
                ModelDecl {
                    slug: r.slug,
                    name: r.name,
                    aliases: serde_json::from_str(&r.aliases).map_err(|e| corrupt(&slug, e))?,
                    context_length: r.context_length.map(|c| c as u64),
                    supported_parameters: serde_json::from_str(&r.supported_parameters)
                        .map_err(|e| corrupt(&slug, e))?,
                    fallbacks: Vec::new(),
                    enabled: r.enabled,
                    default_output_tokens: r.default_output_tokens.map(|t| t.max(0) as u64),
                    kind: ModelKind::parse(&r.kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("model {slug}: unknown kind `{}`", r.kind))
                    })?,
                    description: r.description,
                    input_modalities: serde_json::from_str(&r.input_modalities)
                        .map_err(|e| corrupt(&slug, e))?,
                    output_modalities: serde_json::from_str(&r.output_modalities)
                        .map_err(|e| corrupt(&slug, e))?,
                    tokenizer: r.tokenizer,
                    instruct_type: r.instruct_type,
                    max_completion_tokens: r.max_completion_tokens.map(tokens),
                    hugging_face_id: r.hugging_face_id,
                    endpoints: Vec::new(),
                },
                r.created_at,
            ));
        }
        for e in endpoint_rows {
            if let Some((m, _)) = models.iter_mut().find(|(m, _)| m.slug == e.model_slug) {
                m.endpoints.push(EndpointDecl {
                    provider: e.provider_id,
                    upstream_model: e.upstream_model,
                    input_price: e.input_price,
                    output_price: e.output_price,
                    cache_read_price: e.cache_read_price,
                    cache_write_price: e.cache_write_price,
                    request_price: e.request_price,
                    supported_parameters: match e.supported_parameters {
                        Some(s) => {
                            Some(serde_json::from_str(&s).map_err(|e| corrupt("endpoint", e))?)
                        }
                        None => None,
                    },
                    enabled: e.enabled,
                    quantization: e.quantization,
                    context_length: e.context_length.map(tokens),
                    max_completion_tokens: e.max_completion_tokens.map(tokens),
                });
            }
        }
        for f in fallback_rows {
            if let Some((m, _)) = models.iter_mut().find(|(m, _)| m.slug == f.model_slug) {
                m.fallbacks.push(f.fallback_slug);
            }
        }
        Ok(RegistryRows {
            version,
            providers,
            models,
            revisions,
            keys,
            presets,
        })
    }

    /// Creates or updates providers and models (with their endpoints and fallbacks, replaced
    /// wholesale) in one transaction.
    pub async fn apply_declarations(
        &self,
        providers: &[ProviderDecl],
        models: &[ModelDecl],
        origin: Origin,
    ) -> Result<(), StoreError> {
        self.apply(providers, models, origin, None).await
    }

    /// Replaces one model's declaration if nobody changed it since `revision` (as read in
    /// `load_registry`); `Conflict` otherwise, so a read-modify-write never loses an edit.
    pub async fn save_model_if_unchanged(
        &self,
        model: &ModelDecl,
        revision: i64,
        origin: Origin,
    ) -> Result<(), StoreError> {
        self.apply(
            &[],
            std::slice::from_ref(model),
            origin,
            Some((&model.slug, revision)),
        )
        .await
    }

    async fn apply(
        &self,
        providers: &[ProviderDecl],
        models: &[ModelDecl],
        origin: Origin,
        expect: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        // Revisions only move forward, even for two edits in one millisecond.
        let now = now_ms().max(expect.map_or(0, |(_, r)| r + 1));
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            if let Some((slug, revision)) = expect {
                // The first write: it takes the row (PostgreSQL) or the database (SQLite)
                // for the transaction, so the check and the writes below are one step.
                let n = sqlx::query("UPDATE models SET updated_at = $1 WHERE slug = $2 AND updated_at = $3")
                    .bind(now).bind(slug).bind(revision).execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    return Err(StoreError::Conflict(format!("model `{slug}` changed meanwhile")));
                }
            }
            // A config write records what the file said; an admin write keeps that record, so
            // the next start can tell whether the file changed since.
            for d in providers {
                let hash = matches!(origin, Origin::Config).then(|| decl_hash(d));
                sqlx::query(
                    "INSERT INTO providers (id, kind, enabled, decl, origin, updated_at, config_hash) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled, decl = excluded.decl, \
                     origin = excluded.origin, updated_at = excluded.updated_at, \
                     config_hash = COALESCE(excluded.config_hash, providers.config_hash)")
                    .bind(&d.id).bind(d.kind.as_str()).bind(d.enabled).bind(json(d)).bind(origin.as_str()).bind(now)
                    .bind(hash)
                    .execute(&mut *tx).await?;
            }
            for m in models {
                let hash = matches!(origin, Origin::Config).then(|| decl_hash(m));
                sqlx::query(
                    "INSERT INTO models (slug, name, aliases, context_length, supported_parameters, enabled, origin, created_at, updated_at, \
                     default_output_tokens, kind, description, input_modalities, output_modalities, tokenizer, instruct_type, \
                     max_completion_tokens, hugging_face_id, config_hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
                     ON CONFLICT (slug) DO UPDATE SET name = excluded.name, aliases = excluded.aliases, \
                     context_length = excluded.context_length, supported_parameters = excluded.supported_parameters, \
                     enabled = excluded.enabled, origin = excluded.origin, updated_at = excluded.updated_at, \
                     default_output_tokens = excluded.default_output_tokens, kind = excluded.kind, \
                     description = excluded.description, input_modalities = excluded.input_modalities, \
                     output_modalities = excluded.output_modalities, tokenizer = excluded.tokenizer, \
                     instruct_type = excluded.instruct_type, max_completion_tokens = excluded.max_completion_tokens, \
                     hugging_face_id = excluded.hugging_face_id, \
                     config_hash = COALESCE(excluded.config_hash, models.config_hash)")
                    .bind(&m.slug).bind(&m.name).bind(json(&m.aliases)).bind(m.context_length.map(|c| c as i64))
                    .bind(json(&m.supported_parameters)).bind(m.enabled).bind(origin.as_str()).bind(now).bind(now)
                    .bind(stored(m.default_output_tokens))
                    .bind(m.kind.as_str())
                    .bind(&m.description).bind(json(&m.input_modalities)).bind(json(&m.output_modalities))
                    .bind(&m.tokenizer).bind(&m.instruct_type).bind(stored(m.max_completion_tokens)).bind(&m.hugging_face_id)
                    .bind(hash)
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM endpoints WHERE model_slug = $1").bind(&m.slug).execute(&mut *tx).await?;
                for (i, e) in m.endpoints.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO endpoints (model_slug, position, provider_id, upstream_model, input_price, output_price, \
                         supported_parameters, enabled, cache_read_price, cache_write_price, request_price, \
                         quantization, context_length, max_completion_tokens) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                        .bind(&m.slug).bind(i as i64).bind(&e.provider).bind(&e.upstream_model)
                        .bind(e.input_price).bind(e.output_price)
                        .bind(e.supported_parameters.as_ref().map(json)).bind(e.enabled)
                        .bind(e.cache_read_price).bind(e.cache_write_price).bind(e.request_price)
                        .bind(&e.quantization).bind(stored(e.context_length)).bind(stored(e.max_completion_tokens))
                        .execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM model_fallbacks WHERE model_slug = $1").bind(&m.slug).execute(&mut *tx).await?;
                for (i, f) in m.fallbacks.iter().enumerate() {
                    sqlx::query("INSERT INTO model_fallbacks (model_slug, position, fallback_slug) VALUES ($1, $2, $3)")
                        .bind(&m.slug).bind(i as i64).bind(f)
                        .execute(&mut *tx).await?;
                }
            }
            bump_version!(self, tx);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Turns a provider on or off (an admin edit); `NotFound` when there is no such provider.
    pub async fn set_provider_enabled(&self, id: &str, enabled: bool) -> Result<(), StoreError> {
        self.set_enabled("providers", "id", id, enabled).await
    }

    pub async fn set_model_enabled(&self, slug: &str, enabled: bool) -> Result<(), StoreError> {
        self.set_enabled("models", "slug", slug, enabled).await
    }

    async fn set_enabled(
        &self,
        table: &str,
        key: &str,
        id: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        // `table` and `key` are compile-time constants from the two callers above. The row is
        // now the admin API's: a start whose config file did not change leaves it alone.
        let sql = format!(
            "UPDATE {table} SET enabled = $1, updated_at = $2, origin = 'admin' WHERE {key} = $3"
        );
        let found = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(&sql).bind(enabled).bind(now_ms()).bind(id).execute(&mut *tx).await?.rows_affected();
            bump_version!(self, tx);
            tx.commit().await?;
            n
        });
        if found == 0 {
            return Err(StoreError::NotFound(format!(
                "no {} `{id}`",
                table.trim_end_matches('s')
            )));
        }
        Ok(())
    }
}
