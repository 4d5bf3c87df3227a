//! Request accounting off the hot path: each request reserves a `Slot` in a bounded queue
//! when it starts and hands its finished `RequestRecord` through it; a background writer
//! inserts them in batches and drains the queue on shutdown.

mod writer;

use tokio::sync::mpsc;

pub use writer::spawn_writer;

use crate::store::RequestRecord;

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<RequestRecord>,
}

impl Recorder {
    pub fn channel(capacity: usize) -> (Recorder, mpsc::Receiver<RequestRecord>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Recorder { tx }, rx)
    }

    /// Reserves room in the queue for one request's record. While the queue is full (the
    /// writer has fallen behind), this waits: new requests slow down rather than records
    /// piling up in memory without bound or being lost.
    pub async fn slot(&self) -> Slot {
        Slot(self.tx.clone().reserve_owned().await.ok())
    }
}

/// Reserved room for one record: sending through it never waits and never fails.
pub struct Slot(Option<mpsc::OwnedPermit<RequestRecord>>);

impl Slot {
    pub fn record(self, record: RequestRecord) {
        match self.0 {
            Some(permit) => {
                permit.send(record);
            }
            None => {
                tracing::error!(request_id = %record.id, "request log writer stopped; record not written");
            }
        }
    }
}
