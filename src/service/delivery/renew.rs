//! A `file_id` Telegram refused (it belongs to another bot token): the
//! stored video uploaded again instead of generating it again.

use std::sync::Arc;

use super::claim::Claim;
use super::{Delivered, Delivery, extend_keyboard};
use crate::db::assets;
use crate::db::requests::{self, Request};
use crate::domain::{AssetStatus, Failure, FileId, HoldState};
use crate::storage::key_of;
use crate::telegram::limiter::Priority;
use crate::telegram::sender::{SendError, SendGate};

impl Delivery {
    /// Telegram refused the asset's `file_id` `stale` (it belongs to another
    /// bot token): uploads the stored video again to this request, without
    /// generating it again, and puts the new `file_id` in the database and
    /// the cache. Renewals of one asset are serialized in this process; a
    /// sender that finds the `file_id` already renewed (here or by another
    /// replica) sends the new one.
    #[tracing::instrument(skip_all, fields(request_id = %request.id, asset_id = %request.asset_id))]
    pub(super) async fn renew_and_send(
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
                self.catalog.learn(&asset).await;
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
                self.catalog.learn(&asset).await;
                match requests::mark_failed_to_notify(&self.db, request.id, &Failure::NotStored).await {
                    Ok(()) => self.settle(request.id, held, false).await,
                    Err(err) => tracing::warn!(error = %err, "could not record a failed delivery"),
                }
                return Delivered::Unreachable;
            }
            _ => {
                self.catalog.learn(&asset).await;
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
                if let Err(err) = self.catalog.forget(&asset, stale).await {
                    tracing::warn!(error = %err, "could not drop the refused file_id");
                }
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
            match self.catalog.renew(asset.id, stale, &video.file_id, &video.file_unique_id).await {
                Ok(true) => tracing::info!(asset_id = %asset.id, "uploaded again from storage; file_id replaced"),
                Ok(false) => tracing::info!(asset_id = %asset.id, "uploaded again, but the asset changed meanwhile"),
                Err(err) => tracing::warn!(error = %err, "could not record the renewed file_id"),
            }
        }
        self.record_video(request, sent.map(|_| ()), paid).await
    }
}
