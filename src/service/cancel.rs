//! /cancel: a user withdraws the requests they are waiting for. They will
//! not get those videos (and are not charged for them); a generation
//! nobody else waits for is called off while it is still queued or waiting
//! for approval (the approval ends `cancelled`), and goes on for the
//! others otherwise.

use sea_orm::{DatabaseConnection, DbErr};

use crate::db::cancel::{self, Withdrawn};
use crate::domain::UserId;

pub struct Cancel {
    db: DatabaseConnection,
}

impl Cancel {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Withdraws every waiting request of `user`; see [`cancel::withdraw`].
    #[tracing::instrument(skip(self))]
    pub async fn withdraw(&self, user: UserId) -> Result<Withdrawn, DbErr> {
        let withdrawn = cancel::withdraw(&self.db, user).await?;
        if !withdrawn.requests.is_empty() {
            tracing::info!(
                requests = withdrawn.requests.len(),
                called_off = withdrawn.called_off.len(),
                approvals_cancelled = withdrawn.approvals.len(),
                "requests withdrawn by their user"
            );
        }
        Ok(withdrawn)
    }
}
