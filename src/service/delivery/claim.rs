//! The gates a send asks before every attempt: a claim on the request
//! (the claim protocol of [`claims::hold`]), or "the note is still wanted".

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;

use super::Delivery;
use crate::db::claims::{self, Errand};
use crate::domain::RequestId;
use crate::telegram::sender::SendGate;

/// A claim on one request, held by this sender: the token is the deadline
/// it set last. Asked before every attempt of a send.
pub(super) struct Claim<'a> {
    db: &'a DatabaseConnection,
    request: RequestId,
    errand: Errand,
    length: ChronoDuration,
    token: Mutex<Option<DateTime<Utc>>>,
}

impl<'a> Claim<'a> {
    pub(super) fn new(delivery: &'a Delivery, request: RequestId, errand: Errand, token: Option<DateTime<Utc>>) -> Self {
        Self { db: &delivery.db, request, errand, length: delivery.claim, token: Mutex::new(token) }
    }

    /// Takes or extends the claim; false when someone else holds it or
    /// there is nothing left to send.
    async fn hold(&self) -> bool {
        let held = *self.token.lock().unwrap_or_else(PoisonError::into_inner);
        match claims::hold(self.db, self.request, self.errand, held, self.length).await {
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

/// Lets a "being made" note go only while its request waits and its video
/// is not made yet (then the video itself is the answer).
pub(super) struct StillWaiting<'a> {
    pub(super) db: &'a DatabaseConnection,
    pub(super) request: RequestId,
}

impl SendGate for StillWaiting<'_> {
    fn pass(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { claims::note_wanted(self.db, self.request).await.unwrap_or(true) })
    }
}
