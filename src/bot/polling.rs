//! Long polling: fetch updates, keep them in the database's inbox, confirm
//! them to Telegram (by asking for the next offset) and hand each to its
//! chat's lane: a chat's updates are handled in order, different chats
//! concurrently, and a slow update (a voice message being transcribed)
//! holds up only its own chat — never the next fetch, so other users'
//! cache hits are answered meanwhile. An update leaves the inbox once
//! handled; what a crash left there is handled at the next start. Handling
//! is idempotent per message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use teloxide::types::{Update, UpdateKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::handler::{Handled, UpdateHandler};
use crate::config::RetryPolicy;
use crate::db::inbox;
use crate::telegram::api::BotApi;

fn chat_of(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) | UpdateKind::ChannelPost(m) => m.chat.id.0,
        // Button presses and pre-checkout queries (answered within 10 s)
        // go with their user's private chat, not behind everyone else's.
        UpdateKind::CallbackQuery(q) => q.from.id.0 as i64,
        UpdateKind::PreCheckoutQuery(q) => q.from.id.0 as i64,
        // inline queries and chosen results go with their user, like presses
        UpdateKind::InlineQuery(q) => q.from.id.0 as i64,
        UpdateKind::ChosenInlineResult(r) => r.from.id.0 as i64,
        _ => 0,
    }
}

/// One lane per chat with updates in hand: updates of a chat are handled
/// in order by its lane's task, which ends when the lane runs dry.
#[derive(Clone)]
struct Lanes {
    handler: Arc<UpdateHandler>,
    db: DatabaseConnection,
    open: Arc<Mutex<HashMap<i64, mpsc::UnboundedSender<Update>>>>,
    tasks: TaskTracker,
    /// How often each update was handed in again (`Handled::Again`).
    tries: Arc<Mutex<HashMap<i64, u32>>>,
}

impl Lanes {
    fn new(handler: Arc<UpdateHandler>, db: DatabaseConnection) -> Self {
        Self {
            handler,
            db,
            open: Arc::new(Mutex::new(HashMap::new())),
            tasks: TaskTracker::new(),
            tries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts one more try of update `id`; returns the count.
    fn again(&self, id: i64) -> u32 {
        let Ok(mut tries) = self.tries.lock() else { return 1 };
        let n = tries.entry(id).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn forget_tries(&self, id: i64) {
        if let Ok(mut tries) = self.tries.lock() {
            tries.remove(&id);
        }
    }

    /// Hands `update` to its chat's lane, opening one if none is running.
    fn route(&self, update: Update) {
        let chat = chat_of(&update);
        let Ok(mut open) = self.open.lock() else {
            tracing::error!("the chat lanes' lock is poisoned; the update stays in the inbox for the next start");
            return;
        };
        let update = match open.get(&chat) {
            Some(lane) => match lane.send(update) {
                Ok(()) => return,
                // the lane's task ended between its last look and now: open a new one
                Err(mpsc::error::SendError(update)) => update,
            },
            None => update,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        if tx.send(update).is_err() {
            return;
        }
        open.insert(chat, tx);
        let lanes = self.clone();
        self.tasks.spawn(async move { lanes.drain(chat, rx).await });
    }

    /// Handles the chat's updates in order; closes the lane when it is dry
    /// (under the lock, so no update is sent to a lane nobody reads).
    async fn drain(&self, chat: i64, mut rx: mpsc::UnboundedReceiver<Update>) {
        loop {
            let update = match rx.try_recv() {
                Ok(update) => update,
                Err(_) => {
                    let Ok(mut open) = self.open.lock() else { return };
                    match rx.try_recv() {
                        Ok(update) => update,
                        Err(_) => {
                            open.remove(&chat);
                            return;
                        }
                    }
                }
            };
            let id = i64::from(update.id.0);
            let handler = self.handler.clone();
            let kept = update.clone();
            // a panic in one update's handling is logged, and the lane goes on
            match tokio::spawn(async move { handler.handle(update).await }).await {
                Ok(Handled::Done) => {}
                Ok(Handled::Again) => {
                    // kept in the inbox, handed in again after a pause (a
                    // paid purchase is credited however long the database
                    // takes to come back); the chat's lane goes on meanwhile
                    let lanes = self.clone();
                    let tries = self.again(id);
                    let wait = RetryPolicy::new(u32::MAX, Duration::from_millis(500), Duration::from_secs(30)).backoff(tries);
                    self.tasks.spawn(async move {
                        tokio::time::sleep(wait).await;
                        lanes.route(kept);
                    });
                    continue;
                }
                Err(err) => tracing::error!(error = %err, update_id = id, "an update handler panicked"),
            }
            self.forget_tries(id);
            if let Err(err) = inbox::done(&self.db, id).await {
                tracing::warn!(error = %err, update_id = id, "could not take a handled update out of the inbox");
            }
        }
    }
}

/// Serializes updates for the inbox; one that won't serialize is handled
/// without being kept.
fn bodies(updates: &[Update]) -> Vec<(i64, String)> {
    updates
        .iter()
        .filter_map(|u| match serde_json::to_string(u) {
            Ok(body) => Some((i64::from(u.id.0), body)),
            Err(err) => {
                tracing::warn!(error = %err, update_id = u.id.0, "an update could not be kept in the inbox");
                None
            }
        })
        .collect()
}

/// Polls Telegram until `shutdown`, then lets the lanes finish what they
/// hold (within `grace`; what is left stays in the inbox).
pub async fn run_polling(
    api: BotApi,
    handler: Arc<UpdateHandler>,
    db: DatabaseConnection,
    timeout_secs: u32,
    grace: Duration,
    shutdown: CancellationToken,
) {
    if let Err(err) = api.delete_webhook().await {
        tracing::warn!(error = %err, "could not remove a webhook before polling");
    }
    let lanes = Lanes::new(handler, db.clone());
    // what the last run fetched but did not handle
    match inbox::left(&db).await {
        Ok(left) => {
            if !left.is_empty() {
                tracing::info!(updates = left.len(), "handling updates the last run left unhandled");
            }
            for (id, body) in left {
                match serde_json::from_str::<Update>(&body) {
                    Ok(update) => lanes.route(update),
                    Err(err) => {
                        tracing::warn!(error = %err, update_id = id, "dropping a kept update that no longer parses");
                        let _ = inbox::done(&db, id).await;
                    }
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "could not read the inbox of unhandled updates"),
    }
    let mut offset: i64 = 0;
    let mut failures: u32 = 0;
    tracing::info!("polling Telegram for updates");
    loop {
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => break,
            fetched = api.get_updates(offset, timeout_secs, 100) => fetched,
        };
        let batch = match fetched {
            Ok(batch) => {
                failures = 0;
                batch
            }
            Err(err) => {
                failures += 1;
                let wait = RetryPolicy::new(u32::MAX, Duration::from_millis(500), Duration::from_secs(30)).backoff(failures);
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "getUpdates failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
        };
        let mut updates = Vec::with_capacity(batch.len());
        let mut next = offset;
        for item in batch {
            match item {
                Ok(update) => {
                    next = next.max(i64::from(update.id.0) + 1);
                    updates.push(update);
                }
                Err((id, error)) => {
                    tracing::warn!(update_id = id, %error, "skipping an update that does not parse");
                    next = next.max(id + 1);
                }
            }
        }
        // Kept before the next fetch confirms them: a crash loses nothing.
        let new = match inbox::keep(&db, &bodies(&updates)).await {
            Ok(new) => new,
            Err(err) => {
                // not confirmed: Telegram hands them out again
                failures += 1;
                let wait = RetryPolicy::new(u32::MAX, Duration::from_millis(200), Duration::from_secs(10)).backoff(failures);
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "could not keep updates; fetching them again");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
        };
        offset = next;
        for update in updates {
            // one kept by an earlier fetch is in its lane already
            if new.contains(&i64::from(update.id.0)) {
                lanes.route(update);
            }
        }
    }
    // Confirm what was fetched (it is kept), so a clean restart does not see it again.
    if offset > 0 {
        let _ = api.get_updates(offset, 0, 1).await;
    }
    lanes.tasks.close();
    if tokio::time::timeout(grace, lanes.tasks.wait()).await.is_err() {
        tracing::warn!("updates still being handled at shutdown stay in the inbox for the next start");
    }
    tracing::info!("polling stopped");
}
