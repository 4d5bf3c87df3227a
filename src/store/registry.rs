//! Registry tables (providers, models, endpoints, fallbacks) and API keys.
//!
//! Every change bumps `registry_version` in the same transaction, so each replica's refresh
//! task can see with one cheap query that it must reload its snapshot.

use super::{on_pool, Store, StoreError};
use crate::types::now_ms;
use crate::types::registry::{EndpointDecl, ModelDecl, ProviderDecl};

/// Everything a registry snapshot is built from.
#[derive(Debug, Clone, Default)]
pub struct RegistryRows {
    pub version: i64,
    pub providers: Vec<ProviderDecl>,
    pub models: Vec<(ModelDecl, i64)>,
    pub keys: Vec<KeyRow>,
}

/// A gateway key as stored: only its hash, never the key.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub key_hash: String,
    /// The first characters of the key, to tell keys apart in listings.
    pub key_prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    slug: String,
    name: Option<String>,
    aliases: String,
    context_length: Option<i64>,
    supported_parameters: String,
    enabled: bool,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    model_slug: String,
    provider_id: String,
    upstream_model: String,
    input_price: f64,
    output_price: f64,
    supported_parameters: Option<String>,
    enabled: bool,
}

#[derive(sqlx::FromRow)]
struct FallbackRow {
    model_slug: String,
    fallback_slug: String,
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Who wrote a registry row: the config file (re-applied at every start) or the admin API.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    Config,
    Admin,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Admin => "admin",
        }
    }
}

impl Store {
    pub async fn registry_version(&self) -> Result<i64, StoreError> {
        let v: i64 = on_pool!(self, p => sqlx::query_scalar("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(p)
            .await)?;
        Ok(v)
    }

    /// Reads the whole registry and the live keys.
    pub async fn load_registry(&self) -> Result<RegistryRows, StoreError> {
        let (version, provider_rows, model_rows, endpoint_rows, fallback_rows, keys) = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let version: i64 = sqlx::query_scalar("SELECT version FROM registry_version WHERE id = 1")
                .fetch_one(&mut *tx).await?;
            let providers: Vec<(String, bool)> = sqlx::query_as("SELECT decl, enabled FROM providers ORDER BY id")
                .fetch_all(&mut *tx).await?;
            let models: Vec<ModelRow> = sqlx::query_as(
                "SELECT slug, name, aliases, context_length, supported_parameters, enabled, created_at FROM models ORDER BY slug")
                .fetch_all(&mut *tx).await?;
            let endpoints: Vec<EndpointRow> = sqlx::query_as(
                "SELECT model_slug, provider_id, upstream_model, input_price, output_price, supported_parameters, enabled \
                 FROM endpoints ORDER BY model_slug, position")
                .fetch_all(&mut *tx).await?;
            let fallbacks: Vec<FallbackRow> = sqlx::query_as(
                "SELECT model_slug, fallback_slug FROM model_fallbacks ORDER BY model_slug, position")
                .fetch_all(&mut *tx).await?;
            let keys: Vec<KeyRow> = sqlx::query_as(
                "SELECT id, name, key_hash, key_prefix, created_at, revoked_at FROM api_keys WHERE revoked_at IS NULL")
                .fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (version, providers, models, endpoints, fallbacks, keys)
        });

        let mut providers = Vec::with_capacity(provider_rows.len());
        for (decl, enabled) in provider_rows {
            let mut d: ProviderDecl =
                serde_json::from_str(&decl).map_err(|e| corrupt("provider", e))?;
            d.enabled = enabled;
            providers.push(d);
        }
        let mut models = Vec::with_capacity(model_rows.len());
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
                    supported_parameters: match e.supported_parameters {
                        Some(s) => {
                            Some(serde_json::from_str(&s).map_err(|e| corrupt("endpoint", e))?)
                        }
                        None => None,
                    },
                    enabled: e.enabled,
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
            keys,
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
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            for d in providers {
                sqlx::query(
                    "INSERT INTO providers (id, kind, enabled, decl, origin, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled, decl = excluded.decl, \
                     origin = excluded.origin, updated_at = excluded.updated_at")
                    .bind(&d.id).bind(d.kind.as_str()).bind(d.enabled).bind(json(d)).bind(origin.as_str()).bind(now)
                    .execute(&mut *tx).await?;
            }
            for m in models {
                sqlx::query(
                    "INSERT INTO models (slug, name, aliases, context_length, supported_parameters, enabled, origin, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (slug) DO UPDATE SET name = excluded.name, aliases = excluded.aliases, \
                     context_length = excluded.context_length, supported_parameters = excluded.supported_parameters, \
                     enabled = excluded.enabled, origin = excluded.origin, updated_at = excluded.updated_at")
                    .bind(&m.slug).bind(&m.name).bind(json(&m.aliases)).bind(m.context_length.map(|c| c as i64))
                    .bind(json(&m.supported_parameters)).bind(m.enabled).bind(origin.as_str()).bind(now).bind(now)
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM endpoints WHERE model_slug = $1").bind(&m.slug).execute(&mut *tx).await?;
                for (i, e) in m.endpoints.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO endpoints (model_slug, position, provider_id, upstream_model, input_price, output_price, \
                         supported_parameters, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(&m.slug).bind(i as i64).bind(&e.provider).bind(&e.upstream_model)
                        .bind(e.input_price).bind(e.output_price)
                        .bind(e.supported_parameters.as_ref().map(json)).bind(e.enabled)
                        .execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM model_fallbacks WHERE model_slug = $1").bind(&m.slug).execute(&mut *tx).await?;
                for (i, f) in m.fallbacks.iter().enumerate() {
                    sqlx::query("INSERT INTO model_fallbacks (model_slug, position, fallback_slug) VALUES ($1, $2, $3)")
                        .bind(&m.slug).bind(i as i64).bind(f)
                        .execute(&mut *tx).await?;
                }
            }
            sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1").execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Turns a provider on or off; `NotFound` when there is no such provider.
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
        // `table` and `key` are compile-time constants from the two callers above.
        let sql = format!("UPDATE {table} SET enabled = $1, updated_at = $2 WHERE {key} = $3");
        let found = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(&sql).bind(enabled).bind(now_ms()).bind(id).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1").execute(&mut *tx).await?;
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

    pub async fn create_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
    ) -> Result<KeyRow, StoreError> {
        let now = now_ms();
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id).bind(name).bind(key_hash).bind(key_prefix).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1").execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(KeyRow {
            id: id.to_owned(),
            name: name.to_owned(),
            key_hash: key_hash.to_owned(),
            key_prefix: key_prefix.to_owned(),
            created_at: now,
            revoked_at: None,
        })
    }

    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = on_pool!(self, p => sqlx::query_as::<_, KeyRow>(
            "SELECT id, name, key_hash, key_prefix, created_at, revoked_at FROM api_keys ORDER BY created_at, id")
            .fetch_all(p).await)?;
        Ok(rows)
    }

    /// Renames a key (its label); `NotFound` for an unknown id.
    pub async fn rename_key(&self, id: &str, name: &str) -> Result<KeyRow, StoreError> {
        let row = on_pool!(self, p => {
            sqlx::query("UPDATE api_keys SET name = $1 WHERE id = $2").bind(name).bind(id).execute(p).await?;
            sqlx::query_as::<_, KeyRow>(
                "SELECT id, name, key_hash, key_prefix, created_at, revoked_at FROM api_keys WHERE id = $1")
                .bind(id).fetch_optional(p).await?
        });
        row.ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
    }

    /// Revokes a key; revoking twice is not an error, an unknown id is.
    pub async fn revoke_key(&self, id: &str) -> Result<KeyRow, StoreError> {
        let now = now_ms();
        let row = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now).bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1").execute(&mut *tx).await?;
            let row = sqlx::query_as::<_, KeyRow>(
                "SELECT id, name, key_hash, key_prefix, created_at, revoked_at FROM api_keys WHERE id = $1")
                .bind(id).fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            row
        });
        row.ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
    }
}
