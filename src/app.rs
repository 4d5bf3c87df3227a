//! The composition root: database, registry, recorder, listener and router, wired once.
//! `App::build` binds the listener (port 0 works, for tests) and `run_until_stopped` serves
//! until the shutdown future resolves, then drains in-flight requests and the request log.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::accounting::{self, Recorder};
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::ledger::redis::SharedLimits;
use crate::ledger::{Ledger, Sharing};
use crate::providers::{self, BuildContext};
use crate::registry::Registry;
use crate::store::{self, ConfigApplied, Origin, Store};

pub struct App {
    listener: TcpListener,
    /// `SWITCHYARD_METRICS_LISTEN`: `/metrics` alone, without auth.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    stop_background: CancellationToken,
    writer: tokio::task::JoinHandle<()>,
    refresher: tokio::task::JoinHandle<()>,
    retention: tokio::task::JoinHandle<()>,
    keeper: tokio::task::JoinHandle<()>,
    stop_keeper: CancellationToken,
}

/// Connects and migrates the schema; the registry is left as it is (every command but
/// `serve` and `migrate`).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = store::redact_url(&settings.database_url);
    let store = Store::connect(&settings.database_url, settings.database_max_connections)
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the database at {url}"))?;
    Ok(store)
}

/// `open_store`, then applies the config file's registry declarations where the file changed
/// (`serve` and `migrate`), logging what that did.
pub async fn prepare_store(settings: &Settings) -> anyhow::Result<(Store, ConfigApplied)> {
    let store = open_store(settings).await?;
    let applied = store
        .apply_config(&settings.providers, &settings.models)
        .await
        .with_context(|| format!("cannot apply the registry from {}", settings.source))?;
    let saved = store
        .save_presets(&settings.presets, Origin::Config)
        .await
        .with_context(|| format!("cannot apply the presets from {}", settings.source))?;
    for (p, s) in settings.presets.iter().zip(&saved) {
        if s.changed {
            tracing::info!(preset = %p.name, version = s.version, "preset saved from the config file");
        }
    }
    tracing::info!(file = %settings.source, "{applied}");
    if !applied.replaced_admin_edits.is_empty() {
        tracing::warn!(
            replaced = %applied.replaced_admin_edits.join(", "),
            file = %settings.source,
            "the config file's changed declarations replaced edits made through the admin API"
        );
    }
    if !applied.kept_admin_edits.is_empty() {
        tracing::info!(
            kept = %applied.kept_admin_edits.join(", "),
            file = %settings.source,
            "kept edits made through the admin API: the config file's declarations of them have not changed"
        );
    }
    Ok((store, applied))
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let (store, _) = prepare_store(&settings).await?;
        let client = providers::http::client(settings.routing.connect_timeout)
            .context("cannot build the HTTP client")?;
        let registry = Registry::load(
            store.clone(),
            BuildContext {
                client,
                limits: settings.routing.upstream,
            },
        )
        .await
        .context("cannot load the registry")?;

        let limits = &settings.limits;
        let sharing = match &limits.redis_url {
            Some(url) => Sharing::Redis(
                SharedLimits::connect(url.expose(), limits.on_redis_failure)
                    .map_err(anyhow::Error::msg)?,
            ),
            None if store.backend() == "postgres" && limits.share_through_database => {
                Sharing::Database(limits.on_redis_failure)
            }
            None => Sharing::Local,
        };
        let ledger = Ledger::new(store.clone(), sharing);

        let stop_background = CancellationToken::new();
        let (recorder, rx) = Recorder::channel(settings.accounting.queue_capacity);
        let stats = Arc::new(crate::routing::LiveStats::default());
        let metrics = Arc::new(crate::metrics::Metrics::with_key_labels(
            settings.metrics_enabled,
            settings.metrics_key_labels.clone(),
        ));
        let writer = accounting::spawn_writer(
            store.clone(),
            rx,
            settings.accounting.clone(),
            &recorder,
            accounting::Observers {
                stats: stats.clone(),
                write_seconds: metrics.log_write_seconds.clone(),
            },
            ledger.holder().to_owned(),
            stop_background.clone(),
        );
        // Today's partitions exist before the first request (the task keeps making them).
        if let Err(e) = store
            .ensure_partitions(
                crate::types::now_ms(),
                accounting::retention::PARTITIONS_AHEAD,
            )
            .await
        {
            tracing::warn!(error = %e, "creating request log partitions failed");
        }
        let retention = accounting::spawn_retention(
            store.clone(),
            settings.accounting.clone(),
            stop_background.clone(),
        );
        let stop_keeper = CancellationToken::new();
        let keeper = ledger.spawn_keeper(stop_keeper.clone());
        let refresher = registry
            .clone()
            .spawn_refresh(settings.routing.registry_refresh, stop_background.clone());

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;

        if !settings.require_keys {
            tracing::warn!(
                "AUTHENTICATION IS OFF (auth.require_keys = false): anyone who can reach {} can use every provider. \
                 Set SWITCHYARD_REQUIRE_KEYS=true for any shared or public deployment.",
                settings.listen
            );
        }
        if settings.master_key.is_none() {
            tracing::info!("admin API disabled: set SWITCHYARD_MASTER_KEY to enable /admin");
        }

        let traces = crate::telemetry::start_traces(&settings.traces)
            .context("cannot start the trace exporter")?;
        let state = AppState {
            registry,
            store,
            recorder,
            ledger,
            stats,
            metrics,
            traces,
            settings: Arc::new(settings),
            lifecycle: crate::server::Lifecycle::default(),
            master_throttle: Arc::default(),
        };
        let metrics_listener = match state.settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        Ok(App {
            listener,
            metrics_listener,
            state,
            stop_background,
            writer,
            refresher,
            retention,
            keeper,
            stop_keeper,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.settings.listen)
    }

    /// The address of the separate metrics listener, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish
    /// for up to `server.shutdown_grace_secs`, and flushes the request log.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let limits = self.state.settings.connections;
        let store = self.state.store.clone();
        let ledger = self.state.ledger.clone();
        let life = self.state.lifecycle.clone();
        let traces = self.state.traces.clone();
        if let Some(listener) = self.metrics_listener {
            let metrics = http::metrics::open_router(self.state.clone());
            if let Ok(at) = listener.local_addr() {
                tracing::info!(addr = %at, "metrics listening (no auth)");
            }
            // Ends with the process; a scrape in flight at shutdown is of no consequence.
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let router = http::router(self.state);
        tracing::info!(%addr, "switchyard listening");

        let draining = life.draining.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining");
            draining.cancel();
        });
        // Returns within delay + grace + a moment, whatever the clients do.
        crate::server::serve(self.listener, router, limits, life).await;

        // Every request has ended, so every record is queued: write them all.
        self.stop_background.cancel();
        let _ = self.refresher.await;
        // A pass in progress is cut short (its statements roll back); the next start redoes it.
        self.retention.abort();
        if self.writer.await.is_err() {
            tracing::error!("the request log writer panicked");
        }
        // Every record is written: give the unspent budget leases back to the other replicas.
        self.stop_keeper.cancel();
        let _ = self.keeper.await;
        ledger.release().await;
        store.close().await;
        // Every span is queued: export them (the processor blocks while it does).
        if let Some(traces) = traces {
            let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}
