//! The in-memory registry: an immutable `Snapshot` of providers (with built adapters),
//! models, aliases, presets and live keys, swapped atomically. Requests resolve against the snapshot
//! and never wait on the database; a background task reloads it when `registry_version`
//! changes (an admin change on this replica or any other sharing the database).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::providers::{self, BuildContext, Provider};
use crate::store::{KeyRow, Store, StoreError};
use crate::types::keys::KeyPolicy;
use crate::types::now_ms;
use crate::types::preset::Preset;
use crate::types::registry::{ModelDecl, ProviderDecl};

/// How long an unknown key is remembered as unknown before the database is asked again.
const MISS_TTL_MS: i64 = 5_000;
/// At most this many unknown keys are remembered (random keys cannot grow it further).
const MISS_CAPACITY: usize = 10_000;

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
    pub policy: Arc<KeyPolicy>,
}

impl KeyInfo {
    fn from_row(k: KeyRow) -> (String, KeyInfo) {
        (
            k.key_hash,
            KeyInfo {
                id: k.id,
                name: k.name,
                policy: Arc::new(k.policy),
            },
        )
    }
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
    /// Presets by name, each at its current version.
    pub presets: HashMap<String, Arc<Preset>>,
}

impl Snapshot {
    /// Finds an enabled model by slug or alias. A model's own slug wins over any alias, so
    /// an alias can never capture another model's traffic.
    pub fn resolve(&self, name: &str) -> Option<&Arc<Model>> {
        if let Some(m) = self.models.get(name) {
            return m.decl.enabled.then_some(m);
        }
        let slug = self.aliases.get(name)?;
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

    pub(crate) fn build(rows: crate::store::RegistryRows, ctx: &BuildContext) -> Snapshot {
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
        let keys = rows.keys.into_iter().map(KeyInfo::from_row).collect();
        let presets = rows
            .presets
            .into_iter()
            .map(|p| {
                (
                    p.decl.name.clone(),
                    Arc::new(Preset::new(p.decl, p.version)),
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
            presets,
        }
    }
}

/// The swappable snapshot and what it takes to rebuild it.
pub struct Registry {
    current: ArcSwap<Snapshot>,
    store: Store,
    ctx: BuildContext,
    /// Unix ms of the last refresh that reached the database.
    last_ok_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
    /// Key hashes the database did not know, with when to ask again.
    misses: Mutex<HashMap<String, i64>>,
    /// One database look-up of an unknown key at a time.
    lookup: tokio::sync::Semaphore,
}

/// The registry's freshness, for health checks.
pub struct Freshness {
    pub version: i64,
    /// Since the last refresh that reached the database.
    pub age: Duration,
    pub last_error: Option<String>,
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
            last_ok_ms: AtomicI64::new(now_ms()),
            last_error: Mutex::new(None),
            misses: Mutex::new(HashMap::new()),
            lookup: tokio::sync::Semaphore::new(1),
        }))
    }

    /// The current snapshot; cheap, lock-free.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn freshness(&self) -> Freshness {
        let ms = (now_ms() - self.last_ok_ms.load(Ordering::Relaxed)).max(0);
        Freshness {
            version: self.current.load().version,
            age: Duration::from_millis(ms as u64),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// Reloads from the database now. A snapshot older than the current one (a slower,
    /// concurrent reload) never replaces it, so a revoked key cannot come back.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rows = self.store.load_registry().await?;
        let snap = Arc::new(Snapshot::build(rows, &self.ctx));
        let version = snap.version;
        let models = snap.models.len();
        let prev = self.current.rcu(|cur| {
            if snap.version >= cur.version {
                snap.clone()
            } else {
                cur.clone()
            }
        });
        if version >= prev.version {
            tracing::info!(version, models, "registry reloaded");
        }
        self.last_ok_ms.store(now_ms(), Ordering::Relaxed);
        if let Ok(mut m) = self.misses.lock() {
            m.clear();
        }
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
        match &result {
            Ok(_) => {
                self.last_ok_ms.store(now_ms(), Ordering::Relaxed);
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
            }
            Err(e) => {
                if let Ok(mut last) = self.last_error.lock() {
                    // A category, not the database's text (health is unauthenticated).
                    *last = Some(match e {
                        StoreError::Timeout(_) => "the database did not answer in time".into(),
                        _ => "the database is unreachable".into(),
                    });
                }
            }
        }
        result
    }

    /// A key this replica's snapshot does not know: asked of the database once (a key
    /// created on another replica or by the CLI a moment ago), then remembered as unknown
    /// for a few seconds so random keys cannot hammer the database.
    pub async fn lookup_key(&self, hash: &str) -> Option<KeyInfo> {
        let now = now_ms();
        if let Ok(m) = self.misses.lock() {
            if m.get(hash).is_some_and(|until| *until > now) {
                return None;
            }
        }
        // One look-up at a time; a flood of unknown keys waits briefly, then is refused.
        let _permit = tokio::time::timeout(Duration::from_secs(2), self.lookup.acquire())
            .await
            .ok()?
            .ok()?;
        if let Some(k) = self.snapshot().keys.get(hash) {
            return Some(k.clone());
        }
        match self.store.find_live_key(hash).await {
            Ok(Some(row)) => {
                let (_, info) = KeyInfo::from_row(row);
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "registry reload after a new key failed");
                }
                Some(info)
            }
            Ok(None) => {
                if let Ok(mut m) = self.misses.lock() {
                    if m.len() >= MISS_CAPACITY {
                        m.retain(|_, until| *until > now);
                        if m.len() >= MISS_CAPACITY {
                            m.clear();
                        }
                    }
                    m.insert(hash.to_owned(), now + MISS_TTL_MS);
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "looking up an unknown key failed");
                None
            }
        }
    }

    /// Polls for changes every `every` until `stop` fires; on PostgreSQL also listens for
    /// change notifications, so other replicas' changes arrive at once.
    pub fn spawn_refresh(
        self: Arc<Self>,
        every: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let (notified_tx, mut notified) = tokio::sync::mpsc::channel::<()>(1);
            let listener = match &self.store {
                Store::Postgres(pool) => Some(tokio::spawn(listen(
                    pool.clone(),
                    notified_tx,
                    stop.clone(),
                ))),
                Store::Sqlite(_) => None,
            };
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                    Some(()) = notified.recv() => {}
                }
                if let Err(e) = self.refresh_if_changed().await {
                    tracing::warn!(error = %e, "registry refresh failed; serving the last snapshot");
                }
            }
            if let Some(l) = listener {
                l.abort();
            }
        })
    }
}

/// Forwards PostgreSQL notifications on the registry channel; reconnects after errors
/// (polling covers the gap).
async fn listen(
    pool: sqlx::PgPool,
    notified: tokio::sync::mpsc::Sender<()>,
    stop: CancellationToken,
) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for registry changes; polling only");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            }
        };
        if listener
            .listen(crate::store::REGISTRY_CHANNEL)
            .await
            .is_err()
        {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
            }
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                n = listener.recv() => match n {
                    Ok(_) => { let _ = notified.try_send(()); }
                    Err(_) => break,
                },
            }
        }
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
