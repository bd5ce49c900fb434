//! The one upload of a finished video: to the first waiting user, else
//! the cache chat, else none.

use std::path::Path;

use super::claim::Claim;
use super::{Delivery, UploadError, Uploaded, caption_for, extend_keyboard};
use crate::db::claims::{self, Errand};
use crate::db::requests;
use crate::domain::{AssetId, Failure, HoldState};
use crate::telegram::limiter::Priority;
use crate::telegram::sender::{SendError, SendGate};
use crate::telemetry::measure::{self, RequestOutcome};
use crate::texts::Lang;

impl Delivery {
    /// Uploads a finished video once: to the first waiting user (their
    /// request is delivered by it), else to the cache chat, else not at
    /// all. A waiter who can't be reached is failed and the next one tried.
    /// The upload goes before everything but other answers: every waiter's
    /// video, and the end of their notes, wait for it.
    #[tracing::instrument(skip_all, fields(asset_id = %asset))]
    pub async fn upload_once(&self, asset: AssetId, path: &Path, prompt: &str) -> Result<Uploaded, UploadError> {
        let mut skipped = 0;
        loop {
            let first = claims::due(&self.db, Errand::Video, Some(asset), 1).await?;
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
                    claims::release_claim(&self.db, request.id).await?;
                    return Err(UploadError::Refused(reason));
                }
                Err(err @ SendError::GaveUp { .. }) => {
                    claims::release_claim(&self.db, request.id).await?;
                    return Err(UploadError::Later(err.to_string()));
                }
            }
        }
    }
}
