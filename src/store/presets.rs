//! Presets and their versions. A save that changes a preset adds a version and makes it the
//! current one; a save identical to the current version changes nothing (the config file is
//! re-applied at every start). Every change bumps `registry_version`, like the rest of the
//! registry, so every replica's snapshot picks it up.

use serde::Serialize;

use super::keys::bump_version;
use super::registry::Origin;
use super::{on_pool, Store, StoreError};
use crate::types::now_ms;
use crate::types::preset::PresetDecl;

/// A preset's current version, with when it was created and last changed.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPreset {
    pub version: i64,
    pub origin: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(flatten)]
    pub decl: PresetDecl,
}

/// One version of a preset.
#[derive(Debug, Clone, Serialize)]
pub struct PresetVersion {
    pub version: i64,
    pub origin: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub decl: PresetDecl,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub version: i64,
    /// A new version was written (false: identical to the current one).
    pub changed: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct CurrentRow {
    name: String,
    version: i64,
    origin: String,
    created_at: i64,
    updated_at: i64,
    decl: String,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    origin: String,
    created_at: i64,
    decl: String,
}

fn read_decl(name: &str, text: &str) -> Result<PresetDecl, StoreError> {
    let mut d: PresetDecl = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("preset {name}: {e}")))?;
    d.name = name.to_owned();
    Ok(d)
}

/// Each preset's current version (`name, version, origin, created_at, updated_at, decl`).
pub(super) const CURRENT: &str =
    "SELECT p.name, p.version, p.origin, p.created_at, p.updated_at, v.decl \
     FROM presets p JOIN preset_versions v ON v.name = p.name AND v.version = p.version";

/// Rows of `CURRENT`, read.
pub(super) fn current(rows: Vec<CurrentRow>) -> Result<Vec<StoredPreset>, StoreError> {
    rows.into_iter()
        .map(|r| {
            Ok(StoredPreset {
                version: r.version,
                origin: r.origin,
                created_at: r.created_at,
                updated_at: r.updated_at,
                decl: read_decl(&r.name, &r.decl)?,
            })
        })
        .collect()
}

impl Store {
    /// Every preset's current version, by name.
    pub async fn presets(&self) -> Result<Vec<StoredPreset>, StoreError> {
        let sql = format!("{CURRENT} ORDER BY p.name");
        let rows: Vec<CurrentRow> = on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await)?;
        current(rows)
    }

    pub async fn preset(&self, name: &str) -> Result<Option<StoredPreset>, StoreError> {
        let sql = format!("{CURRENT} WHERE p.name = $1");
        let rows: Vec<CurrentRow> =
            on_pool!(self, p => sqlx::query_as(&sql).bind(name).fetch_all(p).await)?;
        Ok(current(rows)?.pop())
    }

    /// Every version of a preset, oldest first; empty when there is no such preset.
    pub async fn preset_versions(&self, name: &str) -> Result<Vec<PresetVersion>, StoreError> {
        let rows: Vec<VersionRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT version, origin, created_at, decl FROM preset_versions WHERE name = $1 ORDER BY version")
            .bind(name).fetch_all(p).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(PresetVersion {
                    version: r.version,
                    origin: r.origin,
                    created_at: r.created_at,
                    decl: read_decl(name, &r.decl)?,
                })
            })
            .collect()
    }

    /// Saves presets: each one that differs from its current version gets a new version.
    pub async fn save_presets(
        &self,
        presets: &[PresetDecl],
        origin: Origin,
    ) -> Result<Vec<Saved>, StoreError> {
        let now = now_ms();
        let saved = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut saved = Vec::with_capacity(presets.len());
            for d in presets {
                let text = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO presets (name, version, origin, created_at, updated_at) VALUES ($1, 0, $2, $3, $3) \
                     ON CONFLICT (name) DO NOTHING")
                    .bind(&d.name).bind(origin.as_str()).bind(now).execute(&mut *tx).await?;
                // A write first: it takes the row (PostgreSQL) or the database (SQLite), so two
                // concurrent saves of one preset number their versions one after the other.
                let current: i64 = sqlx::query_scalar(
                    "UPDATE presets SET updated_at = updated_at WHERE name = $1 RETURNING version")
                    .bind(&d.name).fetch_one(&mut *tx).await?;
                let stored: Option<String> = sqlx::query_scalar(
                    "SELECT decl FROM preset_versions WHERE name = $1 AND version = $2")
                    .bind(&d.name).bind(current).fetch_optional(&mut *tx).await?;
                let same = stored
                    .and_then(|s| read_decl(&d.name, &s).ok())
                    .is_some_and(|s| s == *d);
                if same {
                    saved.push(Saved { version: current, changed: false });
                    continue;
                }
                let version = current + 1;
                sqlx::query(
                    "INSERT INTO preset_versions (name, version, decl, origin, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&d.name).bind(version).bind(&text).bind(origin.as_str()).bind(now)
                    .execute(&mut *tx).await?;
                sqlx::query("UPDATE presets SET version = $1, origin = $2, updated_at = $3 WHERE name = $4")
                    .bind(version).bind(origin.as_str()).bind(now).bind(&d.name)
                    .execute(&mut *tx).await?;
                saved.push(Saved { version, changed: true });
            }
            if saved.iter().any(|s| s.changed) {
                bump_version!(self, tx);
            }
            tx.commit().await?;
            saved
        });
        Ok(saved)
    }

    /// Deletes a preset with all its versions; `NotFound` when there is none.
    pub async fn delete_preset(&self, name: &str) -> Result<(), StoreError> {
        let n = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM preset_versions WHERE name = $1").bind(name).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM presets WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
            if n > 0 {
                bump_version!(self, tx);
                tx.commit().await?;
            }
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound(format!("no preset `{name}`")));
        }
        Ok(())
    }
}
