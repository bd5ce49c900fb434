//! What a waiting user reads before the video: the "being made" note,
//! edited as the video progresses or waits for a slot, and the notice of a
//! failure, sent once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sea_orm::DbErr;
use tokio_util::sync::CancellationToken;

use super::Delivery;
use super::claim::{Claim, StillWaiting};
use crate::db::claims::{self, Errand};
use crate::db::generations;
use crate::db::requests::{self, Request};
use crate::domain::{AssetId, ChatId, Failure, MessageId, Stage};
use crate::telegram::api::Keyboard;
use crate::telegram::limiter::Priority;
use crate::telegram::sender::{SendError, SendGate};
use crate::texts::Lang;

pub(super) fn notes_cache() -> moka::sync::Cache<AssetId, CancellationToken> {
    moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(3600)).build()
}

impl Delivery {
    /// Tells every user whose request failed, once.
    #[tracing::instrument(skip(self))]
    pub async fn notify_failures(&self) -> Result<usize, DbErr> {
        let mut told = 0;
        loop {
            let batch = claims::due(&self.db, Errand::FailureNotice, None, self.batch).await?;
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
                match claims::mark_notified(&self.db, request.id).await {
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
                if let Err(err) = claims::release_claim(&self.db, request.id).await {
                    tracing::debug!(error = %err, "could not give a claim back; it runs out");
                }
                false
            }
        }
    }

    pub(super) fn drop_notes_in_line(&self, asset: AssetId) {
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
        match generations::place_in_line(&self.db, asset).await {
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
