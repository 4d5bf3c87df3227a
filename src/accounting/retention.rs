//! The retention task: at start and then every `retention_interval`, each replica creates
//! the coming days' partitions (PostgreSQL) and deletes what is past its retention — raw
//! records after `retention_days`, captured content after `capture_retention_days` (and at
//! the latest with its record). Every step is idempotent, so replicas running it at once
//! only repeat each other's work. Spend (`key_spend`) and rollups are never deleted.

use tokio_util::sync::CancellationToken;

use crate::config::AccountingSettings;
use crate::store::Store;
use crate::types::now_ms;

/// Days of partitions made ahead of today, so a day's partition exists long before its
/// first request even when no replica runs for a while.
pub const PARTITIONS_AHEAD: i64 = 3;
const DAY_MS: i64 = 86_400_000;

pub fn spawn_retention(
    store: Store,
    settings: AccountingSettings,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            run_once(&store, &settings, now_ms()).await;
            tokio::select! {
                _ = tokio::time::sleep(settings.retention_interval) => {}
                _ = stop.cancelled() => return,
            }
        }
    })
}

/// One pass; failures are logged and retried next pass.
pub async fn run_once(store: &Store, settings: &AccountingSettings, now: i64) {
    match store.ensure_partitions(now, PARTITIONS_AHEAD).await {
        Ok(made) if !made.is_empty() => {
            tracing::info!(partitions = %made.join(", "), "request log partitions created");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "creating request log partitions failed"),
    }
    let records_cutoff = settings.retention_days.map(|d| now - i64::from(d) * DAY_MS);
    if let Some(cutoff) = records_cutoff {
        match store.purge_records(cutoff).await {
            Ok(p) if !p.is_empty() => tracing::info!(
                requests = p.requests,
                attempts = p.attempts,
                dead_letters = p.dead_letters,
                partitions = %p.partitions.join(", "),
                "request log retention deleted old records"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "request log retention failed"),
        }
    }
    let content_cutoff = (settings.capture_retention_days > 0)
        .then(|| now - i64::from(settings.capture_retention_days) * DAY_MS);
    // Content goes at the earlier of its own retention and its record's.
    if let Some(cutoff) = content_cutoff.max(records_cutoff) {
        match store.purge_content(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "captured content past its retention deleted"),
            Err(e) => tracing::warn!(error = %e, "captured content retention failed"),
        }
    }
}
