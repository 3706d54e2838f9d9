//! The events writer: [`crate::Fleet::event`] hands events (and logins, the device's version and facts) to a
//! bounded channel and one task writes them, a batch per transaction, so a burst (10,000 machines logging in)
//! costs a few commits instead of two each.
//!
//! An event handed over is written: at shutdown the channel is closed to new events and the writer drains
//! what it holds before the store closes. A full channel makes callers wait (back-pressure), never drops.

use tokio::sync::mpsc;

use crate::store::{LoginRecord, NewEvent, Store};

/// Events the channel holds before callers wait.
pub(crate) const CAPACITY: usize = 8192;
/// Most events and logins written in one transaction (a short hold of the store's writer).
pub(crate) const MAX_BATCH: usize = 256;

/// Starts the writer on `store`; returns the sender and the task, which ends after a [`Msg::Close`] once
/// everything sent before it is written.
pub(crate) fn spawn(store: Store) -> (mpsc::Sender<Msg>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    let task = tokio::spawn(write(store, rx));
    (tx, task)
}

/// What the writer receives.
#[derive(Debug)]
pub(crate) enum Msg {
    /// An event to write.
    Event(NewEvent),
    /// A login to record on the device.
    Login(LoginRecord),
    /// Answer once every event received before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// Take no new events; write the held ones and end.
    Close,
}

#[derive(Default)]
struct Batch {
    events: Vec<NewEvent>,
    logins: Vec<LoginRecord>,
}

impl Batch {
    fn len(&self) -> usize {
        self.events.len() + self.logins.len()
    }
}

async fn write(store: Store, mut rx: mpsc::Receiver<Msg>) {
    let mut batch = Batch::default();
    let mut waiters = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { break };
        let mut closing = false;
        let mut take = |msg: Msg, batch: &mut Batch, closing: &mut bool| match msg {
            Msg::Event(e) => batch.events.push(e),
            Msg::Login(l) => batch.logins.push(l),
            Msg::Flush(done) => waiters.push(done),
            Msg::Close => *closing = true,
        };
        take(first, &mut batch, &mut closing);
        // Whatever else is waiting joins this batch.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => take(msg, &mut batch, &mut closing),
                Err(_) => break,
            }
        }
        if closing {
            // Senders now fail fast; what is buffered is still received below.
            rx.close();
        }
        insert(&store, &mut batch).await;
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn insert(store: &Store, batch: &mut Batch) {
    if batch.len() == 0 {
        return;
    }
    match store.write_batch(&batch.events, &batch.logins).await {
        Ok(()) => {
            metrics::counter!("fleet_events_written_total").increment(batch.events.len() as u64);
        }
        Err(e) => {
            // Nothing else to do with them: say which were lost.
            for ev in &batch.events {
                tracing::error!(device = ev.device_id.as_deref(), kind = %ev.kind, data = %ev.data, error = %e, "event not stored");
            }
            for l in &batch.logins {
                tracing::error!(device = %l.device_id, error = %e, "login not recorded");
            }
        }
    }
    batch.events.clear();
    batch.logins.clear();
}
