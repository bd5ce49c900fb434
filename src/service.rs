//! What vidcache does with a request, a finished video and an operator's
//! command — the orchestration between the database, the queue, the cache
//! and Telegram. Both the bot (updates) and the worker (jobs) call it.

use std::sync::Arc;

use futures::StreamExt;
use queue::{GenerateVideo, JobQueue};
use sea_orm::{DatabaseConnection, DbErr};

use crate::cache::{CachedVideo, VideoCache};
use crate::config::Settings;
use crate::db::assets::{self, Cleared};
use crate::db::recorder::Recorder;
use crate::db::requests::{self, NewRequest, Request, Submitted};
use crate::domain::{AssetStatus, Prompt};
use crate::telegram::api::Keyboard;
use crate::telegram::sender::{SendError, Sender};
use crate::telegram::texts;
use crate::telegram::voice::Transcriber;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("telegram: {0}")]
    Send(#[from] SendError),
}

/// How a single delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The user can't be reached; the request is failed with the reason.
    Unreachable,
    /// Not sent now; the claim was given back for a later sweep.
    Deferred,
    /// Another sender holds it.
    Skipped,
}

pub struct Service {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub queue: JobQueue,
    pub sender: Sender,
    pub cache: VideoCache,
    pub recorder: Recorder,
    /// Set when voice messages are transcribed.
    pub transcriber: Option<Transcriber>,
}

impl Service {
    /// How many waiting requests one sender claims at a time: what it can
    /// send in half a claim at the flood limit, so a claim never runs out
    /// while its batch is still being sent.
    fn batch_size(&self) -> u64 {
        let claim_secs = self.settings.delivery_claim().num_seconds().max(1) as u64;
        (u64::from(self.settings.global_send_rate) * claim_secs / 2).clamp(1, 500)
    }

    /// A user asked for a video of `prompt`. Returns once the request is
    /// recorded (durable); the answer is sent in the background, so a burst
    /// of updates is taken in faster than Telegram lets us answer it. A send
    /// that dies with the process is redone by the reconciler: the request
    /// is claimed, and the claim runs out.
    pub async fn request_video(self: &Arc<Self>, new: NewRequest, prompt: Prompt) -> Result<(), ServiceError> {
        let key = prompt.key();
        if let Some(hit) = self.cache.get(key.as_str()).await {
            if let Some(request) = requests::record_claimed(&self.db, &new, hit.asset_id, self.settings.delivery_claim()).await? {
                let this = self.clone();
                tokio::spawn(async move { this.deliver(&request, &hit.file_id, prompt.as_str()).await });
            }
            return Ok(());
        }
        let submitted = match self.recorder.submit(new.clone(), prompt).await {
            Ok(submitted) => submitted,
            Err(err) => {
                tracing::error!(error = %err, chat_id = new.chat_id, "could not record a request");
                let _ = self.sender.text(new.chat_id, texts::TRY_AGAIN, Some(new.message_id), Keyboard::None).await;
                return Err(err.into());
            }
        };
        let (request, asset, dispatch) = match submitted {
            Submitted::Duplicate(existing) => {
                tracing::info!(request_id = existing.id, "Telegram re-delivered a recorded message; not recording it again");
                return Ok(());
            }
            Submitted::Recorded { request, asset, dispatch } => (request, asset, dispatch),
        };
        if let Some(job) = dispatch {
            tracing::info!(asset_id = job.asset_id, generation = job.generation, "new generation");
            self.dispatch(job).await;
        }
        let this = self.clone();
        match (asset.status, asset.file_id.clone()) {
            (AssetStatus::Available, Some(file_id)) => {
                self.cache.insert(&asset.prompt_key, CachedVideo { asset_id: asset.id, file_id: file_id.clone() }).await;
                tokio::spawn(async move { this.deliver(&request, &file_id, &asset.prompt).await });
            }
            _ => {
                let stage = if dispatch.is_some() { None } else { asset.stage.clone() };
                tokio::spawn(async move {
                    let text = texts::being_made(stage.as_deref());
                    match this.sender.text(new.chat_id, &text, Some(new.message_id), Keyboard::None).await {
                        Ok(note) => {
                            if let Err(err) = requests::set_progress_message(&this.db, request.id, note).await {
                                tracing::debug!(error = %err, "could not record the progress note; it will not be updated");
                            }
                        }
                        Err(err) => tracing::warn!(chat_id = new.chat_id, error = %err, "could not send the progress note"),
                    }
                });
            }
        }
        Ok(())
    }

    /// Pushes a generation job and records that it was pushed. A failure is
    /// logged, not returned: the reconciler pushes what was not recorded.
    pub async fn dispatch(&self, job: GenerateVideo) {
        if let Err(err) = self.queue.push(job).await {
            tracing::error!(error = %err, asset_id = job.asset_id, "could not enqueue a generation; the reconciler will retry");
            return;
        }
        if let Err(err) = assets::mark_dispatched(&self.db, job).await {
            tracing::warn!(error = %err, asset_id = job.asset_id, "could not mark a job dispatched; it will be pushed again (idempotently)");
        }
    }

    /// Sends the video to one request and records the outcome. The request
    /// is claimed (or its claim, `request.claimed_until`, extended) right
    /// before each attempt goes out, so two senders never both send it.
    pub async fn deliver(&self, request: &Request, file_id: &str, prompt: &str) -> Delivery {
        let token = std::sync::Mutex::new(request.claimed_until);
        let claim = self.settings.delivery_claim();
        let gate = || -> futures::future::BoxFuture<'_, bool> {
            Box::pin(async {
                let held = *token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match requests::hold(&self.db, request.id, held, claim).await {
                    Ok(Some(until)) => {
                        *token.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(until);
                        true
                    }
                    Ok(None) => false,
                    Err(err) => {
                        tracing::warn!(request_id = request.id, error = %err, "could not claim a delivery");
                        false
                    }
                }
            })
        };
        let sent =
            self.sender.video_by_id(request.chat_id, file_id, &texts::caption(prompt), Some(request.message_id), &gate).await;
        let (outcome, recorded) = match sent {
            Ok(_) => (Delivery::Delivered, requests::mark_delivered(&self.db, request.id).await),
            Err(SendError::Skipped) => (Delivery::Skipped, Ok(())),
            Err(SendError::Unreachable(reason)) => {
                tracing::info!(request_id = request.id, %reason, "user unreachable; request failed");
                (Delivery::Unreachable, requests::mark_undeliverable(&self.db, request.id, &reason).await)
            }
            Err(err) => {
                tracing::warn!(request_id = request.id, error = %err, "delivery deferred");
                (Delivery::Deferred, requests::release_claim(&self.db, request.id).await)
            }
        };
        if let Err(err) = recorded {
            tracing::error!(request_id = request.id, error = %err, "could not record a delivery outcome");
        }
        outcome
    }

    /// Sends an available asset to every request still waiting for it.
    pub async fn deliver_waiting(&self, asset_id: i64) -> Result<usize, ServiceError> {
        let Some(asset) = assets::find(&self.db, asset_id).await? else { return Ok(0) };
        let (AssetStatus::Available, Some(file_id)) = (asset.status, asset.file_id.clone()) else { return Ok(0) };
        let mut delivered = 0;
        loop {
            let batch = requests::waiting(&self.db, asset_id, 500).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            let sends = batch.into_iter().map(|request| {
                let file_id = file_id.as_str();
                let prompt = asset.prompt.as_str();
                async move { self.deliver(&request, file_id, prompt).await }
            });
            let outcomes: Vec<Delivery> = futures::stream::iter(sends).buffer_unordered(32).collect().await;
            delivered += outcomes.iter().filter(|o| **o == Delivery::Delivered).count();
            if !outcomes.iter().any(|o| matches!(o, Delivery::Delivered | Delivery::Unreachable)) {
                // Telegram keeps failing, or others hold them: leave the rest to the next sweep.
                return Ok(delivered);
            }
        }
    }

    /// Tells every user whose request failed, once.
    pub async fn notify_failures(&self) -> Result<usize, ServiceError> {
        let mut told = 0;
        loop {
            let batch = requests::claim_unnotified_failures(&self.db, self.batch_size(), self.settings.delivery_claim()).await?;
            if batch.is_empty() {
                return Ok(told);
            }
            let notices = batch.into_iter().map(|(request, prompt)| async move {
                let reason = request.error.as_deref().unwrap_or("something went wrong");
                let text = texts::generation_failed(&prompt, reason);
                match self.sender.text(request.chat_id, &text, Some(request.message_id), Keyboard::None).await {
                    Ok(_) | Err(SendError::Unreachable(_)) | Err(SendError::Rejected(_)) => {
                        requests::mark_notified(&self.db, request.id).await.is_ok()
                    }
                    Err(err) => {
                        tracing::warn!(request_id = request.id, error = %err, "failure notice deferred");
                        false
                    }
                }
            });
            let results: Vec<bool> = futures::stream::iter(notices).buffer_unordered(16).collect().await;
            told += results.iter().filter(|ok| **ok).count();
            if results.iter().all(|ok| !ok) {
                return Ok(told);
            }
        }
    }

    /// An operator's /clear: drop the cached video of `prompt`.
    pub async fn clear(&self, prompt: &Prompt) -> Result<Cleared, ServiceError> {
        let key = prompt.key();
        let cleared = assets::clear(&self.db, &key).await?;
        if let Cleared::Cleared { asset_id, file_path } = &cleared {
            self.cache.invalidate(key.as_str()).await;
            if let Some(path) = file_path {
                if let Err(err) = tokio::fs::remove_file(path).await {
                    tracing::debug!(error = %err, path, "cleared asset's file was already gone");
                }
            }
            tracing::info!(asset_id, "asset cleared by an operator");
        }
        Ok(cleared)
    }

    /// An operator's view of one asset: state, progress, attempts, requests, costs.
    pub async fn asset_report(&self, prompt: &Prompt) -> Result<String, ServiceError> {
        let Some(asset) = assets::find_by_key(&self.db, &prompt.key()).await? else {
            return Ok(texts::clear_unknown(prompt.as_str()));
        };
        let progress = crate::db::stages::progress_summary(&self.db, asset.id, asset.generation).await?;
        let costs = crate::db::stages::costs_for_asset(&self.db, asset.id).await?;
        let requests = requests::count_for_asset(&self.db, asset.id).await?;
        let mut lines = vec![
            format!("“{}” (asset {})", texts::caption(&asset.prompt), asset.id),
            format!("state: {:?}, generation {}, {} generation attempts", asset.status, asset.generation, asset.attempts),
            format!("requests: {requests}"),
        ];
        if let Some(stage) = progress.or(asset.stage.clone()) {
            lines.push(format!("progress: {stage}"));
        }
        if let Some(error) = &asset.last_error {
            lines.push(format!("last error: {error}"));
        }
        lines.push(format!("provider calls: {}", costs.describe()));
        Ok(lines.join("\n"))
    }

    /// An operator's totals: what dedup saved, and what providers cost.
    pub async fn stats_text(&self) -> Result<String, ServiceError> {
        use crate::domain::RequestStatus;
        let mut by_status = Vec::new();
        for status in [AssetStatus::Available, AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Failed] {
            by_status.push(format!("{status:?}: {}", assets::count_by_status(&self.db, status).await?));
        }
        let completed = requests::count_by_status(&self.db, RequestStatus::Completed).await?;
        let pending = requests::count_by_status(&self.db, RequestStatus::Pending).await?;
        let failed = requests::count_by_status(&self.db, RequestStatus::Failed).await?;
        let generations = assets::total_attempts(&self.db).await?;
        let costs = crate::db::stages::cost_totals(&self.db).await?;
        let saved = completed.saturating_sub(generations);
        Ok(format!(
            "Assets — {}\nRequests — completed: {completed}, pending: {pending}, failed: {failed}\n\
             Generations run: {generations}; requests served without generating: {saved}\nProvider calls: {}",
            by_status.join(", "),
            costs.describe()
        ))
    }

    /// The text of /status for a user.
    pub async fn status_text(&self, user_id: i64) -> Result<String, ServiceError> {
        let rows = requests::recent_for_user(&self.db, user_id, 10).await?;
        if rows.is_empty() {
            return Ok(texts::STATUS_EMPTY.to_owned());
        }
        let mut lines = vec!["Your recent requests:".to_owned()];
        for (request, asset) in rows {
            let prompt = asset.as_ref().map(|a| a.prompt.clone()).unwrap_or_else(|| request.raw_text.clone());
            let error = request.error.clone().or_else(|| asset.as_ref().and_then(|a| a.last_error.clone()));
            lines.push(texts::status_line(
                &prompt,
                request.status,
                asset.as_ref().map(|a| a.status),
                asset.as_ref().and_then(|a| a.stage.as_deref()),
                error.as_deref(),
            ));
        }
        Ok(lines.join("\n"))
    }
}

pub type SharedService = Arc<Service>;
