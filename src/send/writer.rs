//! The journal's writer: updates from the sending tasks in, batches committed to the journal out,
//! each sender told once its update is on disk and whether it took effect.

use super::Error;
use crate::journal::{Applied, Journal, Marker, State, Update};
use crate::Result;

/// The journal's writer: a thread that applies updates in batches, one commit for all the updates
/// waiting, and tells each sender whether its update took effect once it is safely recorded.
type Ack = tokio::sync::oneshot::Sender<Result<Applied>>;

pub(super) struct Writer {
    pub(super) tx: Recorder,
    handle: std::thread::JoinHandle<Result<Journal>>,
}

/// The senders' side of the journal writer.
#[derive(Clone)]
pub(super) struct Recorder(std::sync::mpsc::Sender<(Update, Option<Ack>)>);

impl Writer {
    /// `marker`: kept up to date beside the journal as messages are recorded as sent (at most
    /// once a second, and at the end), so that it never lags far behind what was sent.
    pub(super) fn start(mut journal: Journal, mut marker: Option<Marker>) -> Result<Writer> {
        let (tx, rx) = std::sync::mpsc::channel::<(Update, Option<Ack>)>();
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || -> Result<Journal> {
                let mut batches = 0u64;
                let mut marked = std::time::Instant::now();
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                        if batch.len() >= 512 {
                            break;
                        }
                    }
                    batches += 1;
                    let updates: Vec<Update> = batch.iter().map(|(u, _)| u.clone()).collect();
                    let r = if batches.is_multiple_of(64) {
                        journal.still_in_place()
                    } else {
                        Ok(())
                    }
                    .and_then(|()| journal.apply(&updates));
                    let failed = r.as_ref().err().map(|e| e.to_string());
                    for (i, (_, ack)) in batch.into_iter().enumerate() {
                        if let Some(ack) = ack {
                            let _ = ack.send(match (&r, &failed) {
                                (Ok(done), _) => Ok(done[i]),
                                (Err(_), Some(m)) => Err(Error::Journal(m.clone())),
                                (Err(_), None) => Err(Error::Journal("unknown".into())),
                            });
                        }
                    }
                    let done = r?;
                    if let Some(m) = marker.as_mut() {
                        let sent = batch_sent(&updates, &done);
                        m.sent += sent;
                        if sent > 0 && marked.elapsed() >= std::time::Duration::from_secs(1) {
                            journal.write_marker(m)?;
                            marked = std::time::Instant::now();
                        }
                    }
                }
                if let Some(m) = &marker {
                    journal.write_marker(m)?;
                }
                // Fold the write-ahead log back into the journal: the next run starts small.
                journal.checkpoint()?;
                Ok(journal)
            })
            .map_err(|e| Error::Journal(format!("cannot start the journal writer: {e}")))?;
        Ok(Writer {
            tx: Recorder(tx),
            handle,
        })
    }

    /// Waits for every update to be committed; gives the journal back.
    pub(super) fn finish(self) -> Result<Journal> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| Error::Journal("the journal writer panicked".into()))?
    }
}

impl Recorder {
    /// Records and waits until the record is committed; says what became of it.
    pub(super) async fn record_now(&self, u: Update) -> Result<Applied> {
        let (ack, wait) = tokio::sync::oneshot::channel();
        self.0
            .send((u, Some(ack)))
            .map_err(|_| Error::Journal("the journal writer stopped".into()))?;
        wait.await
            .map_err(|_| Error::Journal("the journal writer stopped".into()))?
    }

    pub(super) fn record(&self, u: Update) {
        let _ = self.0.send((u, None));
    }
}

/// How many of a batch's updates recorded a message as sent.
fn batch_sent(updates: &[Update], done: &[Applied]) -> u64 {
    updates
        .iter()
        .zip(done)
        .filter(|(u, ok)| {
            **ok == Applied::Done
                && matches!(
                    u,
                    Update::Outcome {
                        state: State::Sent,
                        ..
                    }
                )
        })
        .count() as u64
}
