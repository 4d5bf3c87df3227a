//! The background writer: batches records into one transaction each (with the spend they
//! carry), retries while the database is unavailable, isolates a record the database
//! refuses (so one bad row never blocks the rest), and on stop drains whatever is queued.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{LogHealth, Pending, Record};
use crate::config::AccountingSettings;
use crate::routing::LiveStats;
use crate::store::{Store, StoreError};

struct Writer {
    store: Store,
    holder: String,
    health: Arc<LogHealth>,
    pending: Arc<Pending>,
    stats: Arc<LiveStats>,
    write_seconds: Histogram,
    stop: CancellationToken,
}

/// Who learns from what the writer writes: routing's live figures, and the metrics' write
/// latency.
pub struct Observers {
    pub stats: Arc<LiveStats>,
    pub write_seconds: Histogram,
}

pub fn spawn_writer(
    store: Store,
    mut rx: mpsc::Receiver<Record>,
    settings: AccountingSettings,
    recorder: &super::Recorder,
    observers: Observers,
    holder: String,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let Observers {
        stats,
        write_seconds,
    } = observers;
    let (health, pending) = (recorder.health.clone(), recorder.pending.clone());
    tokio::spawn(async move {
        let w = Writer {
            store,
            holder,
            health,
            pending,
            stats,
            write_seconds,
            stop: stop.clone(),
        };
        let mut batch: Vec<Record> = Vec::with_capacity(settings.batch_size);
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
                    w.write(&mut batch).await;
                }
                _ = stop.cancelled() => break,
            }
        }
        // Drain: records of requests that finished while we were stopping.
        rx.close();
        while let Some(r) = rx.recv().await {
            batch.push(r);
            if batch.len() >= settings.batch_size {
                w.write(&mut batch).await;
            }
        }
        w.write(&mut batch).await;
    })
}

impl Writer {
    /// Writes and clears `batch`. While the database is unavailable this retries with
    /// back-off (the bounded queue holds what arrives meanwhile); once stopping it gives up
    /// after a few tries and logs what could not be written rather than hanging shutdown.
    async fn write(&self, batch: &mut Vec<Record>) {
        if batch.is_empty() {
            return;
        }
        // Routing learns from each record once, before (and whether or not) it is stored.
        self.stats.observe(batch.iter().map(|r| &**r));
        let mut delay = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            // Readers of spend (`spend::totals`) see this write as under way until the
            // records it stored have left `Pending`.
            let writing = self.pending.writing();
            let started = std::time::Instant::now();
            let written = self.store.insert_records(batch, &self.holder).await;
            self.write_seconds.observe(started.elapsed().as_secs_f64());
            let result = match written {
                Ok(inserted) => {
                    // Rows this call inserted (a retry after a commit whose answer was lost
                    // inserts none again).
                    self.health
                        .written
                        .fetch_add(inserted.len() as u64, Ordering::Relaxed);
                    self.pending.remove_all(batch);
                    batch.clear();
                    Ok(())
                }
                // Some record is refused: write them one by one so only it is set aside.
                Err(e) if e.is_refused_data() => self.write_one_by_one(batch).await,
                Err(e) => Err(e),
            };
            drop(writing);
            match result {
                Ok(()) => {
                    self.health.write_ok();
                    return;
                }
                Err(e) if self.stop.is_cancelled() && tries >= 3 => {
                    tracing::error!(error = %e, lost = batch.len(), "could not write request records at shutdown");
                    self.lose(batch);
                    return;
                }
                Err(e) => {
                    self.health.write_failed(&e.to_string());
                    tracing::warn!(error = %e, records = batch.len(), tries, "writing request records failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Writes each record on its own; a refused one goes to the dead-letter table. Stops
    /// at the first transient failure, leaving the unwritten rest in `batch`.
    async fn write_one_by_one(&self, batch: &mut Vec<Record>) -> Result<(), StoreError> {
        while let Some(r) = batch.first() {
            match self
                .store
                .insert_records(std::slice::from_ref(r), &self.holder)
                .await
            {
                Ok(inserted) => {
                    self.health
                        .written
                        .fetch_add(inserted.len() as u64, Ordering::Relaxed);
                }
                Err(e) if e.is_refused_data() => {
                    let why = e.to_string();
                    tracing::error!(request_id = %r.id, error = %why, "the database refused a request record; it is kept in dead_letters");
                    match self.store.insert_dead_letter(r, &why, &self.holder).await {
                        Ok(()) => {
                            self.health.dead_lettered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e2) if e2.is_refused_data() => {
                            tracing::error!(request_id = %r.id, error = %e2, "the dead-letter row was refused too");
                            let lost = batch.remove(0);
                            self.pending.remove_all(std::slice::from_ref(&lost));
                            self.lose(&mut vec![lost]);
                            continue;
                        }
                        Err(e2) => return Err(e2),
                    }
                }
                Err(e) => return Err(e),
            }
            let done = batch.remove(0);
            self.pending.remove_all(std::slice::from_ref(&done));
        }
        Ok(())
    }

    fn lose(&self, batch: &mut Vec<Record>) {
        self.health
            .lost
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.pending.remove_all(batch);
        for r in batch.drain(..) {
            tracing::error!(record = %serde_json::to_string(&*r).unwrap_or_default(), "unwritten request record");
        }
    }
}
