//! The background writer: batches records into one transaction each, retries a failed batch,
//! and on stop drains whatever is queued before returning.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::AccountingSettings;
use crate::store::{RequestRecord, Store};

pub fn spawn_writer(
    store: Store,
    mut rx: mpsc::Receiver<RequestRecord>,
    settings: AccountingSettings,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut batch: Vec<RequestRecord> = Vec::with_capacity(settings.batch_size);
        loop {
            tokio::select! {
                biased;
                n = rx.recv_many(&mut batch, settings.batch_size) => {
                    if n == 0 {
                        break; // every sender is gone
                    }
                    // Let a burst fill the batch a little before writing.
                    if batch.len() < settings.batch_size {
                        let deadline = tokio::time::sleep(settings.flush_interval);
                        tokio::pin!(deadline);
                        while batch.len() < settings.batch_size {
                            let room = settings.batch_size - batch.len();
                            tokio::select! {
                                _ = &mut deadline => break,
                                _ = stop.cancelled() => break,
                                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                            }
                        }
                    }
                    write(&store, &mut batch, &stop).await;
                }
                _ = stop.cancelled() => break,
            }
        }
        // Drain: records of requests that finished while we were stopping.
        rx.close();
        while let Some(r) = rx.recv().await {
            batch.push(r);
            if batch.len() >= settings.batch_size {
                write(&store, &mut batch, &stop).await;
            }
        }
        write(&store, &mut batch, &stop).await;
    })
}

/// Writes and clears `batch`, retrying with back-off; once stopping, gives up after a few
/// tries and logs what could not be written rather than hanging shutdown.
async fn write(store: &Store, batch: &mut Vec<RequestRecord>, stop: &CancellationToken) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        tries += 1;
        match store.insert_records(batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) if stop.is_cancelled() && tries >= 3 => {
                tracing::error!(error = %e, lost = batch.len(), "could not write request records at shutdown");
                for r in batch.drain(..) {
                    tracing::error!(record = %serde_json::to_string(&r).unwrap_or_default(), "unwritten request record");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), tries, "writing request records failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
