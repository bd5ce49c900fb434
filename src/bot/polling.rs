//! Long polling: fetch updates, handle each chat's updates in order and
//! different chats concurrently, and confirm a batch to Telegram (by asking
//! for the next offset) only after all of it was handled, so a crash
//! re-delivers instead of losing. Handling is idempotent per message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use teloxide::types::{Update, UpdateKind};
use tokio_util::sync::CancellationToken;

use super::handler::UpdateHandler;
use crate::config::RetryPolicy;
use crate::telegram::api::BotApi;

fn chat_of(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::Message(m) | UpdateKind::EditedMessage(m) | UpdateKind::ChannelPost(m) => m.chat.id.0,
        // Button presses and pre-checkout queries (answered within 10 s)
        // go with their user's private chat, not behind everyone else's.
        UpdateKind::CallbackQuery(q) => q.from.id.0 as i64,
        UpdateKind::PreCheckoutQuery(q) => q.from.id.0 as i64,
        _ => 0,
    }
}

/// Handles one batch of updates: each chat's in order, chats concurrently.
pub async fn handle_batch(handler: &Arc<UpdateHandler>, updates: Vec<Update>) {
    let mut by_chat: BTreeMap<i64, Vec<Update>> = BTreeMap::new();
    for update in updates {
        by_chat.entry(chat_of(&update)).or_default().push(update);
    }
    let tasks: Vec<_> = by_chat
        .into_values()
        .map(|updates| {
            let handler = handler.clone();
            tokio::spawn(async move {
                for update in updates {
                    handler.handle(update).await;
                }
            })
        })
        .collect();
    for task in tasks {
        if let Err(err) = task.await {
            tracing::error!(error = %err, "an update handler panicked");
        }
    }
}

pub async fn run_polling(api: BotApi, handler: Arc<UpdateHandler>, timeout_secs: u32, shutdown: CancellationToken) {
    if let Err(err) = api.delete_webhook().await {
        tracing::warn!(error = %err, "could not remove a webhook before polling");
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
        for item in batch {
            match item {
                Ok(update) => {
                    offset = offset.max(i64::from(update.id.0) + 1);
                    updates.push(update);
                }
                Err((id, error)) => {
                    tracing::warn!(update_id = id, %error, "skipping an update that does not parse");
                    offset = offset.max(id + 1);
                }
            }
        }
        handle_batch(&handler, updates).await;
    }
    // Confirm what was handled, so a clean restart does not see it again.
    if offset > 0 {
        let _ = api.get_updates(offset, 0, 1).await;
    }
    tracing::info!("polling stopped");
}
