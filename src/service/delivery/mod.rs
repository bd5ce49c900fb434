//! Delivery: the one owner of "send something to a user and record that it
//! happened". Every video (the one upload of a file, or a re-send of its
//! `file_id`), every failure notice and every progress note goes through
//! here, and every send of a request follows one claim protocol
//! ([`claims::hold`]): the claim is taken or extended right before each
//! attempt leaves (after the flood limiter let it through), the send goes
//! out, and its outcome is recorded. Two senders — a fan-out, the sweeper,
//! another replica — never both send one request.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::StreamExt;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

mod claim;
mod notes;
mod renew;
mod upload;

use self::claim::Claim;
use super::catalog::Catalog;
use crate::cache::VideoCache;
use crate::db::claims::{self, Errand};
use crate::db::requests::{self, Request};
use crate::db::{assets, credits};
use crate::domain::{AssetId, CallbackData, ChatId, Failure, FileId, HoldState, RequestId};
use crate::storage::VideoStore;
use crate::telegram::api::{InlineButton, Keyboard, SentVideo};
use crate::telegram::limiter::Priority;
use crate::telegram::sender::{SendError, SendGate, Sender};
use crate::telemetry::measure::{self, RequestOutcome};
use crate::texts::Lang;

/// How one send to one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Delivered,
    /// The user can't be reached; the request is failed with the reason.
    Unreachable,
    /// Not sent now; the claim was given back for a later sweep.
    Deferred,
    /// Another sender holds it, or it needs no send any more.
    Skipped,
}

/// What the one upload of a finished video did.
#[derive(Debug)]
pub enum Uploaded {
    /// Uploaded to the first waiting user (whose request is now delivered)
    /// or to the cache chat.
    Video(SentVideo),
    /// Nobody waits and there is no cache chat: nothing was sent.
    NobodyWaiting,
}

/// Why the one upload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Telegram refused the file itself: trying again won't help.
    #[error("Telegram refused the upload ({0})")]
    Refused(String),
    #[error("the cache chat cannot be reached ({0})")]
    CacheChatUnreachable(String),
    /// Telegram or the database failed for now: try again later.
    #[error("the upload failed for now ({0})")]
    Later(String),
}

impl From<DbErr> for UploadError {
    fn from(err: DbErr) -> Self {
        UploadError::Later(format!("database: {err}"))
    }
}

/// The buttons every video carries, in `lang`: one row of "➕ Extend"
/// and "🏠 Menu".
pub fn extend_keyboard(asset: AssetId, lang: Lang) -> Keyboard {
    let texts = lang.texts();
    Keyboard::Inline(vec![vec![
        InlineButton { text: texts.extend_button(), data: CallbackData::Extend(asset).encode() },
        InlineButton { text: texts.menu_button(), data: CallbackData::Menu.encode() },
    ]])
}

/// A video's caption for one request: the prompt as its user typed it
/// (trimmed), in their language.
fn caption_for(request: &Request) -> String {
    request.language.texts().caption(request.raw_text.trim())
}

/// Sends and records; see the module docs.
pub struct Delivery {
    db: DatabaseConnection,
    sender: Sender,
    /// How long a sender holds a request it is sending.
    claim: ChronoDuration,
    /// Requests handled per round of a fan-out or a sweep.
    batch: u64,
    /// Where a video nobody waits for is uploaded (`CACHE_CHAT_ID`).
    cache_chat: Option<ChatId>,
    /// Pace of progress edits: half the flood rate.
    edit_pace: Duration,
    /// Per asset, the "being made" notes still in line for a slot: dropped
    /// at once when the asset's fan-out starts, so they free the budget
    /// for the videos instead of holding it.
    /// Kept an hour at most: a note waits minutes in line, not hours.
    notes_in_line: moka::sync::Cache<AssetId, CancellationToken>,
    /// `Broadcast` when fan-outs are paid broadcasts, else `Bulk`.
    fan_out_priority: Priority,
    /// Where finished videos are kept: a `file_id` Telegram no longer
    /// knows is replaced by uploading the stored file again.
    store: VideoStore,
    catalog: Catalog,
    /// One renewal of an asset's `file_id` at a time in this process; the
    /// others wait and send the new one.
    renewals: moka::sync::Cache<AssetId, Arc<tokio::sync::Mutex<()>>>,
}

impl Delivery {
    #[allow(clippy::too_many_arguments, reason = "the distinct services and settings it is wired from, once, in app.rs")]
    pub fn new(
        db: DatabaseConnection,
        sender: Sender,
        claim: ChronoDuration,
        global_rate: u32,
        cache_chat: Option<ChatId>,
        paid_broadcast: bool,
        store: VideoStore,
        cache: VideoCache,
    ) -> Self {
        // What one sender can send in half a claim at the flood limit, so a
        // claim never runs out while its batch is still being sent.
        let claim_secs = claim.num_seconds().max(1) as u64;
        let batch = (u64::from(global_rate) * claim_secs / 2).clamp(1, 500);
        let edit_pace = Duration::from_secs_f64(2.0 / f64::from(global_rate.max(1)));
        let fan_out_priority = if paid_broadcast { Priority::Broadcast } else { Priority::Bulk };
        Self {
            catalog: Catalog::new(db.clone(), cache),
            db,
            sender,
            claim,
            batch,
            cache_chat,
            edit_pace,
            fan_out_priority,
            notes_in_line: notes::notes_cache(),
            store,
            renewals: moka::sync::Cache::builder().max_capacity(10_000).time_to_idle(Duration::from_secs(600)).build(),
        }
    }

    /// What each asset can be sent as (database and cache), kept by this delivery.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn store(&self) -> &VideoStore {
        &self.store
    }

    /// Sends the video by its `file_id` to one request and records the
    /// outcome. A request recorded already claimed (a cache hit) carries
    /// its token in `claimed_until`; otherwise the claim is taken here.
    /// `priority`: `Interactive` for an answer to the user's own message
    /// (a cache hit), `Bulk` for a fan-out.
    #[tracing::instrument(skip_all, fields(request_id = %request.id, chat_id = %request.chat_id))]
    pub async fn video(&self, request: &Request, file_id: &FileId, priority: Priority) -> Delivered {
        let claim = Claim::new(self, request.id, Errand::Video, request.claimed_until);
        let caption = caption_for(request);
        let sent = self
            .sender
            .video_by_id(
                (request.chat_id, request.thread_id),
                file_id,
                &caption,
                Some(request.message_id),
                &extend_keyboard(request.asset_id, request.language),
                priority,
                Some(&claim as &dyn SendGate),
            )
            .await;
        if let Err(SendError::UnknownFile(reason)) = &sent {
            tracing::warn!(asset_id = %request.asset_id, %reason, "Telegram refused the cached file_id; uploading the stored video again");
            return self.renew_and_send(request, &claim, file_id, &caption, priority).await;
        }
        self.record_video(request, sent.map(|_| ()), priority == Priority::Broadcast).await
    }

    /// The held price of a delivered request is kept; of one that can't be
    /// delivered, given back. Only requests that hold credits pay the round trip.
    async fn settle(&self, request: RequestId, held: bool, delivered: bool) {
        if !held {
            return;
        }
        let settled =
            if delivered { credits::capture(&self.db, request).await } else { credits::release(&self.db, request).await };
        if let Err(err) = settled {
            tracing::warn!(request_id = %request, error = %err, "could not settle a hold; the sweep will");
        }
    }

    async fn record_video(&self, request: &Request, sent: Result<(), SendError>, paid: bool) -> Delivered {
        let held = request.hold == Some(HoldState::Held);
        let whole = request;
        let request = request.id;
        let (outcome, recorded) = match sent {
            Ok(()) => {
                let recorded = requests::mark_delivered(&self.db, request, paid).await;
                match recorded {
                    Ok(true) => {
                        self.settle(request, held, true).await;
                        self.after_delivered(whole).await;
                    }
                    // cancelled or cleared during the send: its end released the hold; nothing to capture
                    Ok(false) => {
                        tracing::info!(request_id = %request, "sent, but the request had ended meanwhile; nothing captured")
                    }
                    Err(_) => {}
                }
                (Delivered::Delivered, recorded.map(|_| ()))
            }
            Err(SendError::Skipped) => (Delivered::Skipped, Ok(())),
            Err(SendError::Unreachable(reason)) => {
                tracing::info!(request_id = %request, %reason, "user unreachable; request failed");
                measure::requests(RequestOutcome::Failed, 1);
                let failure = Failure::Unreachable(reason.clone());
                let recorded = requests::mark_undeliverable(&self.db, request, &failure).await;
                if recorded.is_ok() {
                    self.settle(request, held, false).await;
                    self.end_group(whole.chat_id, &failure).await;
                }
                (Delivered::Unreachable, recorded)
            }
            Err(err) => {
                tracing::warn!(request_id = %request, error = %err, "delivery deferred");
                (Delivered::Deferred, claims::release_claim(&self.db, request).await)
            }
        };
        if let Err(err) = recorded {
            tracing::error!(request_id = %request, error = %err, "could not record a delivery outcome");
        }
        outcome
    }

    /// After a video reached a group: the other members waiting there for
    /// it (in the same topic) got it with this one, and pay as if sent to
    /// them. A group found to be a supergroup now keeps its waiting
    /// requests under its new id.
    async fn after_delivered(&self, request: &Request) {
        if request.chat_id.0 < 0 {
            match requests::waiting_beside(&self.db, request).await {
                Ok(beside) => {
                    for other in beside {
                        match requests::mark_delivered(&self.db, other.id, false).await {
                            Ok(true) => self.settle(other.id, other.hold == Some(HoldState::Held), true).await,
                            Ok(false) => {}
                            Err(err) => {
                                tracing::warn!(request_id = %other.id, error = %err, "could not record a delivery beside another")
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not look for the group's other waiting requests"),
            }
        }
        if let Some(new) = self.sender.moved(request.chat_id) {
            match requests::move_chat(&self.db, request.chat_id, new).await {
                Ok(0) => {}
                Ok(moved) => {
                    tracing::info!(old = %request.chat_id, new = %new, moved, "waiting requests follow the group to its supergroup")
                }
                Err(err) => tracing::warn!(error = %err, "could not move a migrated group's waiting requests"),
            }
        }
    }

    /// A group (negative id) can't be written to: every request still
    /// waiting there ends with `reason` and gives its held credits back, so
    /// no sweep sends there again. (A private chat's requests end one by
    /// one, as each send finds out.)
    async fn end_group(&self, chat: ChatId, reason: &Failure) {
        if chat.0 >= 0 {
            return;
        }
        match requests::end_chat(&self.db, chat, reason).await {
            Ok(ended) => {
                if !ended.is_empty() {
                    tracing::info!(chat_id = %chat, ended = ended.len(), "the group can't be written to; its waiting requests end too");
                }
                for (id, held) in ended {
                    self.settle(id, held, false).await;
                }
            }
            Err(err) => tracing::warn!(chat_id = %chat, error = %err, "could not end a closed group's waiting requests"),
        }
    }

    /// Hands an available asset's waiters to a fan-out of their own: it
    /// runs beside the queue, so the job's slot is free at once, and one
    /// that dies is finished by the sweeper (every send is claimed).
    pub fn start_fan_out(self: &Arc<Self>, asset: AssetId) {
        self.drop_notes_in_line(asset);
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(err) = this.fan_out(asset).await {
                tracing::warn!(asset_id = %asset, error = %err, "fan-out interrupted; the sweeper will finish it");
            }
        });
    }

    /// Sends an available asset to every request still waiting for it.
    #[tracing::instrument(skip(self))]
    pub async fn fan_out(&self, asset: AssetId) -> Result<usize, DbErr> {
        let Some(row) = assets::find(&self.db, asset).await? else { return Ok(0) };
        let Some(file_id) = row.sendable().cloned() else { return Ok(0) };
        let mut delivered = 0;
        loop {
            let batch = claims::due(&self.db, Errand::Video, Some(asset), self.batch).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            // one video per group topic: it answers every member waiting there
            let mut topics = HashSet::new();
            let batch: Vec<Request> =
                batch.into_iter().filter(|r| r.chat_id.0 >= 0 || topics.insert((r.chat_id, r.thread_id))).collect();
            let sends = batch.into_iter().map(|request| {
                let file_id = &file_id;
                async move { self.video(&request, file_id, self.fan_out_priority).await }
            });
            let outcomes: Vec<Delivered> = futures::stream::iter(sends).buffer_unordered(32).collect().await;
            delivered += outcomes.iter().filter(|o| **o == Delivered::Delivered).count();
            if !outcomes.iter().any(|o| matches!(o, Delivered::Delivered | Delivered::Unreachable)) {
                // Telegram keeps failing, or others hold them: leave the rest to the next sweep.
                return Ok(delivered);
            }
        }
    }

    /// Delivers what a dead fan-out left: requests waiting on assets that
    /// became available before `settled_before`.
    pub async fn sweep(&self, settled_before: DateTime<Utc>) -> Result<usize, DbErr> {
        let mut delivered = 0;
        for asset in requests::assets_with_stranded_requests(&self.db, 100, settled_before).await? {
            delivered += self.fan_out(asset).await?;
        }
        Ok(delivered)
    }

    /// Settles credits still held for requests that ended (a settle that
    /// died with its process): released for failed ones, captured for
    /// delivered ones. The sweep behind every path that ends a request.
    pub async fn settle_ended_holds(&self) -> Result<u64, DbErr> {
        credits::settle_finished(&self.db, 500).await
    }
}
