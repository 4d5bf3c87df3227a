//! The in-memory registry: an immutable `Snapshot` of providers (with built adapters),
//! models, aliases and live keys, swapped atomically. Requests resolve against the snapshot
//! and never wait on the database; a background task reloads it when `registry_version`
//! changes (an admin change on this replica or any other sharing the database).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::providers::{self, BuildContext, Provider};
use crate::store::{Store, StoreError};
use crate::types::registry::{ModelDecl, ProviderDecl};

/// A provider as routing sees it: its declaration and, when it can serve, its adapter.
pub struct ProviderEntry {
    pub decl: ProviderDecl,
    pub adapter: Option<Arc<dyn Provider>>,
    /// Why `adapter` is `None`.
    pub inactive_reason: Option<String>,
}

/// A model with the time it was first registered.
pub struct Model {
    pub decl: ModelDecl,
    pub created_ms: i64,
}

/// A live gateway key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
}

pub struct Snapshot {
    pub version: i64,
    pub loaded_at: Instant,
    pub models: HashMap<String, Arc<Model>>,
    /// Alias → slug.
    pub aliases: HashMap<String, String>,
    pub providers: HashMap<String, Arc<ProviderEntry>>,
    /// Hex SHA-256 of a key → the key.
    pub keys: HashMap<String, KeyInfo>,
    /// Enabled model slugs, sorted, for listings and suggestions.
    pub slugs: Vec<String>,
}

impl Snapshot {
    /// Finds an enabled model by slug or alias.
    pub fn resolve(&self, name: &str) -> Option<&Arc<Model>> {
        let slug = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.models.get(slug).filter(|m| m.decl.enabled)
    }

    /// Up to `n` enabled slugs, closest to `name` first.
    pub fn closest(&self, name: &str, n: usize) -> Vec<&str> {
        let mut scored: Vec<(f64, &str)> = self
            .slugs
            .iter()
            .map(|s| {
                let tail = s.rsplit('/').next().unwrap_or(s);
                let score = strsim::jaro_winkler(name, s).max(strsim::jaro_winkler(name, tail));
                (score, s.as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.into_iter().take(n).map(|(_, s)| s).collect()
    }

    fn build(rows: crate::store::RegistryRows, ctx: &BuildContext) -> Snapshot {
        let mut providers = HashMap::new();
        for decl in rows.providers {
            let (adapter, inactive_reason) = if !decl.enabled {
                (None, Some("disabled".to_owned()))
            } else {
                match providers::build(&decl, ctx) {
                    Ok(a) => (Some(a), None),
                    Err(why) => (None, Some(why)),
                }
            };
            providers.insert(
                decl.id.clone(),
                Arc::new(ProviderEntry {
                    decl,
                    adapter,
                    inactive_reason,
                }),
            );
        }
        let mut models = HashMap::new();
        let mut aliases = HashMap::new();
        let mut slugs = Vec::new();
        for (decl, created_ms) in rows.models {
            if decl.enabled {
                slugs.push(decl.slug.clone());
                for a in &decl.aliases {
                    aliases.insert(a.clone(), decl.slug.clone());
                }
            }
            models.insert(decl.slug.clone(), Arc::new(Model { decl, created_ms }));
        }
        slugs.sort();
        let keys = rows
            .keys
            .into_iter()
            .map(|k| {
                (
                    k.key_hash,
                    KeyInfo {
                        id: k.id,
                        name: k.name,
                    },
                )
            })
            .collect();
        Snapshot {
            version: rows.version,
            loaded_at: Instant::now(),
            models,
            aliases,
            providers,
            keys,
            slugs,
        }
    }
}

/// The swappable snapshot and what it takes to rebuild it.
pub struct Registry {
    current: ArcSwap<Snapshot>,
    store: Store,
    ctx: BuildContext,
    /// The last refresh reached the database.
    db_ok: AtomicBool,
}

impl Registry {
    pub async fn load(store: Store, ctx: BuildContext) -> Result<Arc<Registry>, StoreError> {
        let rows = store.load_registry().await?;
        let snap = Snapshot::build(rows, &ctx);
        log_providers(&snap);
        Ok(Arc::new(Registry {
            current: ArcSwap::from_pointee(snap),
            store,
            ctx,
            db_ok: AtomicBool::new(true),
        }))
    }

    /// The current snapshot; cheap, lock-free.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn db_ok(&self) -> bool {
        self.db_ok.load(Ordering::Relaxed)
    }

    /// Reloads from the database now.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rows = self.store.load_registry().await?;
        let snap = Snapshot::build(rows, &self.ctx);
        tracing::info!(
            version = snap.version,
            models = snap.models.len(),
            "registry reloaded"
        );
        self.current.store(Arc::new(snap));
        Ok(())
    }

    /// Reloads if another writer changed the registry since the last load.
    pub async fn refresh_if_changed(&self) -> Result<bool, StoreError> {
        let result = async {
            let version = self.store.registry_version().await?;
            if version != self.current.load().version {
                self.reload().await?;
                return Ok(true);
            }
            Ok(false)
        }
        .await;
        self.db_ok.store(result.is_ok(), Ordering::Relaxed);
        result
    }

    /// Polls for changes every `every` until `stop` fires.
    pub fn spawn_refresh(
        self: Arc<Self>,
        every: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = self.refresh_if_changed().await {
                            tracing::warn!(error = %e, "registry refresh failed; serving the last snapshot");
                        }
                    }
                }
            }
        })
    }
}

fn log_providers(snap: &Snapshot) {
    let mut ids: Vec<_> = snap.providers.keys().collect();
    ids.sort();
    for id in ids {
        let p = &snap.providers[id];
        match &p.inactive_reason {
            None => tracing::info!(provider = %id, kind = p.decl.kind.as_str(), "provider active"),
            Some(why) => {
                tracing::info!(provider = %id, kind = p.decl.kind.as_str(), reason = %why, "provider inactive")
            }
        }
    }
}
