//! Request accounting off the hot path: handlers hand finished `RequestRecord`s to a
//! `Recorder` (a bounded channel, cheap to clone); a background writer inserts them in
//! batches and drains the queue on shutdown.

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

    /// Queues a record without waiting. Never drops one silently: a full queue hands the
    /// record to a task that waits for room (back-pressure moves off the request).
    pub fn record(&self, record: RequestRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(record)) => {
                let tx = self.tx.clone();
                tracing::warn!("request log queue is full; the writer is falling behind");
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        if tx.send(record).await.is_err() {
                            tracing::error!("request log writer stopped; a record was not written");
                        }
                    });
                }
            }
            Err(mpsc::error::TrySendError::Closed(record)) => {
                tracing::error!(request_id = %record.id, "request log writer stopped; record not written");
            }
        }
    }
}
