//! /history: a user's last videos, and sending one of them again by its
//! `file_id` — nothing is generated and nothing uploaded.

use sea_orm::{DatabaseConnection, DbErr};

use crate::db::assets::Asset;
use crate::db::requests::{self, Request};
use crate::domain::{FileId, RequestId, UserId};

/// How many videos /history lists.
pub const HISTORY_LEN: usize = 10;

/// What a press on a history button finds.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "a return value matched once by its caller; boxing would only add an allocation")]
pub enum Again {
    /// Send this file again; the request it was delivered for (its prompt
    /// as typed, its language).
    Video { file_id: FileId, request: Request },
    /// The video was cleared since: it can't be sent again.
    Gone,
    /// No such request, or another user's.
    NotYours,
}

pub struct History {
    db: DatabaseConnection,
}

impl History {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The user's last videos that can be sent again, newest first, one
    /// per prompt.
    #[tracing::instrument(skip(self))]
    pub async fn recent(&self, user: UserId) -> Result<Vec<(Request, Asset)>, DbErr> {
        requests::delivered_videos(&self.db, user, HISTORY_LEN).await
    }

    /// The video behind a history button `user` pressed.
    #[tracing::instrument(skip(self))]
    pub async fn again(&self, user: UserId, request: RequestId) -> Result<Again, DbErr> {
        let Some((request, asset)) = requests::find_with_asset(&self.db, request).await? else { return Ok(Again::NotYours) };
        if request.telegram_user_id != user {
            return Ok(Again::NotYours);
        }
        match asset.as_ref().and_then(Asset::sendable) {
            Some(file_id) => Ok(Again::Video { file_id: file_id.clone(), request }),
            None => Ok(Again::Gone),
        }
    }
}
