//! Group commit for incoming requests. Callers hand their request to the
//! recorder and wait for its outcome; a few lanes each take whatever has
//! queued up (up to a batch) and record it in one serializable transaction
//! ([`admission::submit_many`]). A lone request is recorded at once, as its
//! own batch; a burst costs one transaction per batch instead of one per
//! update, which is what lets a database with a synchronous commit take a
//! burst far above Telegram's rate.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::admission::{self, Submitted};
use super::requests::NewRequest;
use crate::domain::Admission;
use crate::domain::Wanted;

struct Pending {
    new: NewRequest,
    wanted: Wanted,
    reply: oneshot::Sender<Result<Submitted, DbErr>>,
}

/// Records requests in batches; cheap to share behind the service.
pub struct Recorder {
    queue: mpsc::Sender<Pending>,
    admission: Arc<Admission>,
}

impl Recorder {
    /// Starts `lanes` recording tasks of at most `max_batch` requests each.
    /// They stop when the recorder is dropped.
    pub fn start(db: DatabaseConnection, claim: ChronoDuration, lanes: usize, max_batch: usize) -> Self {
        Self::start_admitted(db, claim, lanes, max_batch, Arc::new(Admission::default()))
    }

    /// [`Recorder::start`] with prices held and limits checked in each
    /// batch's transaction ([`admission::submit_many_admitted`]).
    pub fn start_admitted(
        db: DatabaseConnection,
        claim: ChronoDuration,
        lanes: usize,
        max_batch: usize,
        admission: Arc<Admission>,
    ) -> Self {
        let max_batch = max_batch.max(1);
        let (queue, incoming) = mpsc::channel(max_batch * lanes.max(1) * 2);
        let incoming = Arc::new(Mutex::new(incoming));
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(db.clone(), incoming.clone(), claim, max_batch, admission.clone()));
        }
        Self { queue, admission }
    }

    /// What each batch's transaction checks (prices, limits).
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Records one request (see [`admission::submit_admitted`]); returns once it is
    /// committed, or with the error that kept it from being recorded.
    pub async fn submit(&self, new: NewRequest, wanted: Wanted) -> Result<Submitted, DbErr> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Pending { new, wanted, reply })
            .await
            .map_err(|_| DbErr::Custom("the request recorder has stopped".to_owned()))?;
        outcome.await.map_err(|_| DbErr::Custom("the request recorder dropped a request".to_owned()))?
    }
}

async fn lane(
    db: DatabaseConnection,
    incoming: Arc<Mutex<mpsc::Receiver<Pending>>>,
    claim: ChronoDuration,
    max_batch: usize,
    admission: Arc<Admission>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut incoming = incoming.lock().await;
            match incoming.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
            while batch.len() < max_batch {
                match incoming.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        record(&db, batch, claim, &admission).await;
    }
}

async fn record(db: &DatabaseConnection, batch: Vec<Pending>, claim: ChronoDuration, admission: &Arc<Admission>) {
    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| ((p.new, p.wanted), p.reply)).unzip();
    let items: Arc<[(NewRequest, Wanted)]> = items.into();
    match admission::submit_many_admitted(db, items.clone(), claim, admission.clone()).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) if replies.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(err));
            }
        }
        Err(err) => {
            // One bad item must not fail its neighbours: record them one by one.
            tracing::warn!(error = %err, size = replies.len(), "a request batch failed; recording its requests one by one");
            for ((new, wanted), reply) in items.iter().cloned().zip(replies) {
                let _ = reply.send(admission::submit_admitted(db, new, wanted, claim, admission.clone()).await);
            }
        }
    }
}
