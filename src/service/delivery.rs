//! Delivery: the one owner of "send something to a user and record that it
//! happened". Every video (the one upload of a file, or a re-send of its
//! `file_id`), every failure notice and every progress note goes through
//! here, and every send of a request follows one claim protocol
//! ([`requests::hold`]): the claim is taken or extended right before each
//! attempt leaves (after the flood limiter let it through), the send goes
//! out, and its outcome is recorded. Two senders — a fan-out, the sweeper,
//! another replica — never both send one request.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::cache::{CachedVideo, VideoCache};
use crate::db::requests::{self, Errand, Request};
use crate::db::{assets, credits};
use crate::domain::{AssetId, AssetStatus, CallbackData, ChatId, Failure, FileId, HoldState, MessageId, RequestId, Stage};
use crate::storage::{VideoStore, key_of};
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

/// A claim on one request, held by this sender: the token is the deadline
/// it set last. Asked before every attempt of a send.
struct Claim<'a> {
    db: &'a DatabaseConnection,
    request: RequestId,
    errand: Errand,
    length: ChronoDuration,
    token: Mutex<Option<DateTime<Utc>>>,
}

impl<'a> Claim<'a> {
    fn new(delivery: &'a Delivery, request: RequestId, errand: Errand, token: Option<DateTime<Utc>>) -> Self {
        Self { db: &delivery.db, request, errand, length: delivery.claim, token: Mutex::new(token) }
    }

    /// Takes or extends the claim; false when someone else holds it or
    /// there is nothing left to send.
    async fn hold(&self) -> bool {
        let held = *self.token.lock().unwrap_or_else(PoisonError::into_inner);
        match requests::hold(self.db, self.request, self.errand, held, self.length).await {
            Ok(Some(until)) => {
                *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(until);
                true
            }
            Ok(None) => false,
            Err(err) => {
                tracing::warn!(request_id = %self.request, error = %err, "could not claim a delivery");
                false
            }
        }
    }
}

impl SendGate for Claim<'_> {
    fn pass(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.hold())
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

fn notes_cache() -> moka::sync::Cache<AssetId, CancellationToken> {
    moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(3600)).build()
}

/// A video's caption for one request: the prompt as its user typed it
/// (trimmed), in their language.
fn caption_for(request: &Request) -> String {
    request.language.texts().caption(request.raw_text.trim())
}

/// Lets a "being made" note go only while its request waits and its video
/// is not made yet (then the video itself is the answer).
struct StillWaiting<'a> {
    db: &'a DatabaseConnection,
    request: RequestId,
}

impl SendGate for StillWaiting<'_> {
    fn pass(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { requests::note_wanted(self.db, self.request).await.unwrap_or(true) })
    }
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
    cache: VideoCache,
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
            db,
            sender,
            claim,
            batch,
            cache_chat,
            edit_pace,
            fan_out_priority,
            notes_in_line: notes_cache(),
            store,
            cache,
            renewals: moka::sync::Cache::builder().max_capacity(10_000).time_to_idle(Duration::from_secs(600)).build(),
        }
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

    /// Telegram refused the asset's `file_id` `stale` (it belongs to another
    /// bot token): uploads the stored video again to this request, without
    /// generating it again, and puts the new `file_id` in the database and
    /// the cache. Renewals of one asset are serialized in this process; a
    /// sender that finds the `file_id` already renewed (here or by another
    /// replica) sends the new one.
    #[tracing::instrument(skip_all, fields(request_id = %request.id, asset_id = %request.asset_id))]
    async fn renew_and_send(
        &self,
        request: &Request,
        claim: &Claim<'_>,
        stale: &FileId,
        caption: &str,
        priority: Priority,
    ) -> Delivered {
        let paid = priority == Priority::Broadcast;
        let held = request.hold == Some(HoldState::Held);
        let lock = self.renewals.get_with(request.asset_id, || Arc::new(tokio::sync::Mutex::new(())));
        let _renewing = lock.lock().await;
        let asset = match assets::find(&self.db, request.asset_id).await {
            Ok(Some(asset)) => asset,
            Ok(None) => {
                return self.record_video(request, Err(SendError::Rejected("the asset is gone".to_owned())), paid).await;
            }
            Err(err) => {
                return self.record_video(request, Err(SendError::GaveUp { attempts: 1, last: err.to_string() }), paid).await;
            }
        };
        match (asset.status, asset.file_id.clone()) {
            (AssetStatus::Available, Some(current)) if current != *stale => {
                // renewed meanwhile
                self.cache.insert(asset.prompt_key.clone(), CachedVideo { asset_id: asset.id, file_id: current.clone() }).await;
                let sent = self
                    .sender
                    .video_by_id(
                        (request.chat_id, request.thread_id),
                        &current,
                        caption,
                        Some(request.message_id),
                        &extend_keyboard(request.asset_id, request.language),
                        priority,
                        Some(claim as &dyn SendGate),
                    )
                    .await;
                return self.record_video(request, sent.map(|_| ()), paid).await;
            }
            (AssetStatus::Available, Some(_)) => {}
            (AssetStatus::Available, None) => {
                // its file was found gone by another sender: the next request makes it anew
                self.cache.invalidate(&asset.prompt_key).await;
                match requests::mark_failed_to_notify(&self.db, request.id, &Failure::NotStored).await {
                    Ok(()) => self.settle(request.id, held, false).await,
                    Err(err) => tracing::warn!(error = %err, "could not record a failed delivery"),
                }
                return Delivered::Unreachable;
            }
            _ => {
                self.cache.invalidate(&asset.prompt_key).await;
                // cleared or being made again: its generation answers this request
                return self
                    .record_video(request, Err(SendError::GaveUp { attempts: 1, last: "the asset changed".to_owned() }), paid)
                    .await;
            }
        }
        let stored = match asset.file_path.as_deref().and_then(|p| key_of(std::path::Path::new(p)).map(str::to_owned)) {
            Some(key) => self.store.fetch(&key).await,
            None => Ok(None),
        };
        let path = match stored {
            Ok(Some(path)) => path,
            Ok(None) => {
                // stored nowhere: the next request makes it anew
                tracing::warn!("the refused video is not stored; it will be generated again");
                let forgotten = assets::forget_file_id(&self.db, asset.id, stale).await;
                if let Err(err) = forgotten {
                    tracing::warn!(error = %err, "could not drop the refused file_id");
                }
                self.cache.invalidate(&asset.prompt_key).await;
                match requests::mark_failed_to_notify(&self.db, request.id, &Failure::NotStored).await {
                    Ok(()) => self.settle(request.id, held, false).await,
                    Err(err) => tracing::warn!(error = %err, "could not record a failed delivery"),
                }
                return Delivered::Unreachable;
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not fetch the stored video; trying again later");
                return self.record_video(request, Err(SendError::GaveUp { attempts: 1, last: err.to_string() }), paid).await;
            }
        };
        let keyboard = extend_keyboard(request.asset_id, request.language);
        let sent = self
            .sender
            .upload(
                (request.chat_id, request.thread_id),
                &path,
                caption,
                Some(request.message_id),
                &keyboard,
                priority,
                Some(claim as &dyn SendGate),
            )
            .await;
        if let Ok(video) = &sent {
            match assets::replace_file_id(&self.db, asset.id, stale, &video.file_id, &video.file_unique_id).await {
                Ok(true) => tracing::info!(asset_id = %asset.id, "uploaded again from storage; file_id replaced"),
                Ok(false) => tracing::info!(asset_id = %asset.id, "uploaded again, but the asset changed meanwhile"),
                Err(err) => tracing::warn!(error = %err, "could not record the renewed file_id"),
            }
            self.cache.insert(asset.prompt_key.clone(), CachedVideo { asset_id: asset.id, file_id: video.file_id.clone() }).await;
        }
        self.record_video(request, sent.map(|_| ()), paid).await
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
                (Delivered::Deferred, requests::release_claim(&self.db, request).await)
            }
        };
        if let Err(err) = recorded {
            tracing::error!(request_id = %request, error = %err, "could not record a delivery outcome");
        }
        outcome
    }

    /// Uploads a finished video once: to the first waiting user (their
    /// request is delivered by it), else to the cache chat, else not at
    /// all. A waiter who can't be reached is failed and the next one tried.
    /// The upload goes before everything but other answers: every waiter's
    /// video, and the end of their notes, wait for it.
    #[tracing::instrument(skip_all, fields(asset_id = %asset))]
    pub async fn upload_once(&self, asset: AssetId, path: &Path, prompt: &str) -> Result<Uploaded, UploadError> {
        let mut skipped = 0;
        loop {
            let first = requests::due(&self.db, Errand::Video, Some(asset), 1).await?;
            let Some(request) = first.into_iter().next() else {
                let Some(chat) = self.cache_chat else { return Ok(Uploaded::NobodyWaiting) };
                let caption = Lang::default().texts().caption(prompt);
                let keyboard = extend_keyboard(asset, Lang::default());
                return match self.sender.upload((chat, None), path, &caption, None, &keyboard, Priority::Interactive, None).await
                {
                    Ok(video) => Ok(Uploaded::Video(video)),
                    Err(SendError::Unreachable(reason)) => Err(UploadError::CacheChatUnreachable(reason)),
                    Err(SendError::Rejected(reason)) => Err(UploadError::Refused(reason)),
                    Err(err) => Err(UploadError::Later(err.to_string())),
                };
            };
            let claim = Claim::new(self, request.id, Errand::Video, None);
            let caption = caption_for(&request);
            let sent = self
                .sender
                .upload(
                    (request.chat_id, request.thread_id),
                    path,
                    &caption,
                    Some(request.message_id),
                    &extend_keyboard(asset, request.language),
                    Priority::Interactive,
                    Some(&claim as &dyn SendGate),
                )
                .await;
            match sent {
                Ok(video) => {
                    let held = request.hold == Some(HoldState::Held);
                    match requests::mark_delivered(&self.db, request.id, false).await {
                        Ok(true) => {
                            self.settle(request.id, held, true).await;
                            self.after_delivered(&request).await;
                        }
                        Ok(false) => {
                            tracing::info!(request_id = %request.id, "uploaded, but the request had ended meanwhile; nothing captured")
                        }
                        Err(err) => tracing::error!(error = %err, "could not record the upload's delivery"),
                    }
                    return Ok(Uploaded::Video(video));
                }
                Err(SendError::Skipped) => {
                    // Someone else holds that waiter; try the next, a few times.
                    skipped += 1;
                    if skipped > 5 {
                        return Err(UploadError::Later("every waiter is held by another sender".to_owned()));
                    }
                }
                Err(SendError::Unreachable(reason)) => {
                    measure::requests(RequestOutcome::Failed, 1);
                    // that chat alone: the next waiter gets the upload
                    let failure = Failure::Unreachable(reason.clone());
                    requests::mark_undeliverable(&self.db, request.id, &failure).await?;
                    self.settle(request.id, request.hold == Some(HoldState::Held), false).await;
                    self.end_group(request.chat_id, &failure).await;
                }
                Err(SendError::Rejected(reason) | SendError::UnknownFile(reason)) => {
                    requests::release_claim(&self.db, request.id).await?;
                    return Err(UploadError::Refused(reason));
                }
                Err(err @ SendError::GaveUp { .. }) => {
                    requests::release_claim(&self.db, request.id).await?;
                    return Err(UploadError::Later(err.to_string()));
                }
            }
        }
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
            let batch = requests::due(&self.db, Errand::Video, Some(asset), self.batch).await?;
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

    /// Tells every user whose request failed, once.
    #[tracing::instrument(skip(self))]
    pub async fn notify_failures(&self) -> Result<usize, DbErr> {
        let mut told = 0;
        loop {
            let batch = requests::due(&self.db, Errand::FailureNotice, None, self.batch).await?;
            if batch.is_empty() {
                return Ok(told);
            }
            let notices = batch.into_iter().map(|request| async move { self.failure_notice(&request).await });
            let results: Vec<bool> = futures::stream::iter(notices).buffer_unordered(16).collect().await;
            told += results.iter().filter(|ok| **ok).count();
            if results.iter().all(|ok| !ok) {
                return Ok(told);
            }
        }
    }

    async fn failure_notice(&self, request: &Request) -> bool {
        let claim = Claim::new(self, request.id, Errand::FailureNotice, None);
        let reason = request.error.clone().unwrap_or(Failure::Other(String::new()));
        let text = request.language.texts().generation_failed(request.raw_text.trim(), &reason);
        let sent = self
            .sender
            .text_in(
                request.chat_id,
                request.thread_id,
                &text,
                Some(request.message_id),
                Keyboard::None,
                Priority::Bulk,
                Some(&claim as &dyn SendGate),
            )
            .await;
        match sent {
            Ok(_) | Err(SendError::Unreachable(_)) | Err(SendError::Rejected(_)) => {
                match requests::mark_notified(&self.db, request.id).await {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::warn!(request_id = %request.id, error = %err, "could not record a failure notice");
                        false
                    }
                }
            }
            Err(SendError::Skipped) => false,
            Err(err) => {
                tracing::warn!(request_id = %request.id, error = %err, "failure notice deferred");
                if let Err(err) = requests::release_claim(&self.db, request.id).await {
                    tracing::debug!(error = %err, "could not give a claim back; it runs out");
                }
                false
            }
        }
    }

    fn drop_notes_in_line(&self, asset: AssetId) {
        if let Some(token) = self.notes_in_line.remove(&asset) {
            token.cancel();
        }
    }

    /// The "being made" note for a request that waits; its message is
    /// recorded so the note can be edited as the video progresses. A note
    /// whose video is made before the note's turn comes is dropped: the
    /// video is the answer.
    #[tracing::instrument(skip_all, fields(request_id = %request.id, chat_id = %request.chat_id))]
    pub async fn progress_note(&self, request: &Request, stage: Option<Stage>) {
        let texts = request.language.texts();
        // A group gets one note per video (its first asker's), not one per member.
        if request.chat_id.0 < 0 {
            match requests::first_waiting_in_chat(&self.db, request).await {
                Ok(true) => {}
                Ok(false) => return tracing::debug!("another member's note in this group says it already"),
                Err(err) => return tracing::debug!(error = %err, "could not look for the group's note; none sent"),
            }
        }
        // A generation waiting for a slot: the note says the place in line.
        let place = self.place_in_line(request.asset_id).await;
        let text = match place {
            Some(ahead) => texts.waiting_in_line(ahead),
            None => texts.being_made(stage.as_ref()),
        };
        let waiting = StillWaiting { db: &self.db, request: request.id };
        let in_line = self.notes_in_line.get_with(request.asset_id, CancellationToken::new);
        let send = self.sender.text_in(
            request.chat_id,
            request.thread_id,
            &text,
            Some(request.message_id),
            Keyboard::None,
            Priority::Note,
            Some(&waiting),
        );
        let sent = tokio::select! {
            sent = send => sent,
            () = in_line.cancelled() => Err(SendError::Skipped),
        };
        match sent {
            Err(SendError::Skipped) => tracing::debug!("the video was made before its note; note dropped"),
            Ok(note) => {
                if let Err(err) = requests::set_progress_message(&self.db, request.id, note).await {
                    tracing::debug!(error = %err, "could not record the progress note; it will not be updated");
                }
                // It went to wait for a slot while the note was in line: say so.
                if place.is_none()
                    && let Some(ahead) = self.place_in_line(request.asset_id).await
                    && let Err(err) = self.sender.edit(request.chat_id, note, &texts.waiting_in_line(ahead)).await
                {
                    tracing::debug!(error = %err, "could not tell the place in line");
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not send the progress note"),
        }
    }

    /// How many generations wait for a slot before `asset`'s, when it waits for one.
    async fn place_in_line(&self, asset: AssetId) -> Option<u64> {
        match assets::place_in_line(&self.db, asset).await {
            Ok(place) => place,
            Err(err) => {
                tracing::debug!(error = %err, "could not read the place in line");
                None
            }
        }
    }

    /// Edits every waiting user's note of `asset` to show `stage`, paced at
    /// half the flood rate (the other half is for videos and answers).
    pub async fn update_progress_notes(&self, asset: AssetId, stage: &Stage) -> Result<(), DbErr> {
        self.edit_notes(asset, |texts| texts.being_made(Some(stage))).await
    }

    /// Tells the users waiting on `asset` their place in line for a
    /// generation slot ("3 videos ahead of yours"), in their notes.
    pub async fn tell_place_in_line(&self, asset: AssetId, ahead: u64) -> Result<(), DbErr> {
        self.edit_notes(asset, |texts| texts.waiting_in_line(ahead)).await
    }

    /// Edits the notes of `asset`'s waiting requests to `text` in each requester's language.
    async fn edit_notes(&self, asset: AssetId, text: impl Fn(&dyn crate::texts::Texts) -> String + Send) -> Result<(), DbErr> {
        let notes = requests::progress_notes(&self.db, asset, 10_000).await?;
        let mut texts: HashMap<Lang, Arc<str>> = HashMap::new();
        let notes: Vec<(ChatId, MessageId, Arc<str>)> = notes
            .into_iter()
            .map(|(chat_id, message_id, lang)| {
                let text = texts.entry(lang).or_insert_with(|| text(lang.texts()).into()).clone();
                (chat_id, message_id, text)
            })
            .collect();
        let start = tokio::time::Instant::now();
        let edits = notes.into_iter().zip(0u32..).map(|((chat_id, message_id, text), slot)| async move {
            tokio::time::sleep_until(start + self.edit_pace * slot).await;
            if let Err(err) = self.sender.edit(chat_id, message_id, &text).await {
                tracing::debug!(%chat_id, error = %err, "could not update a progress note");
            }
        });
        futures::stream::iter(edits).buffer_unordered(8).collect::<()>().await;
        Ok(())
    }
}
