//! Request accounting off the hot path: each admitted request reserves a `Slot` in a bounded
//! queue and hands its finished `RequestRecord` through it; a background writer inserts them
//! in batches (with the spend they carry), sets aside what the database refuses, and drains
//! the queue on shutdown. `LogHealth` tells `/v1/health` the truth about all of it.

pub mod retention;
pub mod spend;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

pub use retention::spawn_retention;
pub use writer::{spawn_writer, Observers};

use crate::store::RequestRecord;

/// The request log's queue is full: the database has been unable to keep up (or is down)
/// long enough that accepting more would mean losing records or growing without bound.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("The gateway cannot record requests right now (its request log is full while the database is unavailable); try again shortly")]
pub struct QueueFull;

/// What the writer has seen, for health checks and operators.
#[derive(Debug, Default)]
pub struct LogHealth {
    /// Unix ms since which writes have been failing (0: they are not).
    failing_since: AtomicI64,
    last_error: Mutex<Option<String>>,
    pub written: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Records that could not be written at all (logged in full when it happened).
    pub lost: AtomicU64,
    /// Requests refused before being admitted (no key, bad key, malformed, refused by
    /// limits): counted here rather than written one row each.
    pub refused: AtomicU64,
}

impl LogHealth {
    pub fn write_ok(&self) {
        self.failing_since.store(0, Ordering::Relaxed);
    }

    pub fn write_failed(&self, error: &str) {
        let _ = self.failing_since.compare_exchange(
            0,
            crate::types::now_ms(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(error.chars().take(200).collect());
        }
    }

    /// When writes started failing, if they are failing now.
    pub fn failing_since(&self) -> Option<i64> {
        Some(self.failing_since.load(Ordering::Relaxed)).filter(|t| *t != 0)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// A finished request's record, shared by the queue and `Pending`.
pub type Record = Arc<RequestRecord>;

/// Records finished but not yet written, by id: `/generation` finds a request the moment
/// its response has ended, before the batched writer has stored it.
#[derive(Default)]
pub struct Pending {
    records: Mutex<HashMap<String, Record>>,
    /// Odd while the writer is storing records and taking them out of here; bumped at both
    /// ends, so a reader adding pending spend to written spend can tell whether records
    /// moved between its two reads (see `spend`).
    writes: AtomicU64,
}

impl Pending {
    pub fn get(&self, id: &str) -> Option<Record> {
        self.records.lock().ok()?.get(id).cloned()
    }

    /// Records finished and not yet written (queued, or in the writer's hands).
    pub fn len(&self) -> usize {
        self.records.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, r: &Record) {
        if let Ok(mut m) = self.records.lock() {
            m.insert(r.id.clone(), r.clone());
        }
    }

    /// Calls `f` with every pending record (under the map's lock: keep `f` short).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&RequestRecord)) {
        if let Ok(m) = self.records.lock() {
            m.values().for_each(|r| f(r));
        }
    }

    /// Marks a write under way until the guard drops.
    pub(crate) fn writing(&self) -> WriteGuard<'_> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        WriteGuard(&self.writes)
    }

    pub(crate) fn write_epoch(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    pub(crate) fn remove_all(&self, written: &[Record]) {
        if let Ok(mut m) = self.records.lock() {
            for r in written {
                m.remove(&r.id);
            }
        }
    }
}

pub(crate) struct WriteGuard<'a>(&'a AtomicU64);

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    pub health: Arc<LogHealth>,
    pub pending: Arc<Pending>,
}

impl Recorder {
    pub fn channel(capacity: usize) -> (Recorder, mpsc::Receiver<Record>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Recorder {
                tx,
                health: Arc::new(LogHealth::default()),
                pending: Arc::new(Pending::default()),
            },
            rx,
        )
    }

    /// Reserves room in the queue for one request's record, or refuses at once when the
    /// queue is full: a new request gets a fast 503, never a hang and never a lost record.
    pub fn try_slot(&self) -> Result<Slot, QueueFull> {
        match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Ok(Slot(Some((permit, self.pending.clone())))),
            Err(mpsc::error::TrySendError::Full(_)) => Err(QueueFull),
            // The writer stopped (shutdown): the record is logged instead.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(Slot(None)),
        }
    }

    /// Places taken in the queue: records queued, and requests in flight that hold a slot.
    pub fn queue_used(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }
}

/// Reserved room for one record: sending through it never waits and never fails.
pub struct Slot(Option<(mpsc::OwnedPermit<Record>, Arc<Pending>)>);

impl Slot {
    pub fn record(self, mut record: RequestRecord) {
        record.sanitize();
        match self.0 {
            Some((permit, pending)) => {
                let record = Arc::new(record);
                pending.insert(&record);
                permit.send(record);
            }
            None => {
                tracing::error!(
                    request_id = %record.id,
                    record = %serde_json::to_string(&record).unwrap_or_default(),
                    "request log writer stopped; record not written"
                );
            }
        }
    }
}
