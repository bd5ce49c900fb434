//! Intake: a user asked for a video. The request is recorded (a cache hit
//! at once, anything else through the group-commit recorder in one
//! serializable transaction), the generation it needs is dispatched, and
//! the first answer — the video, or a "being made" note — is handed to
//! delivery.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use sea_orm::{DatabaseConnection, DbErr};

use std::collections::HashSet;

use super::catalog::Catalog;
use super::delivery::Delivery;
use super::dispatch::Dispatcher;
use super::fair_use::{Admit, SharedRateLimit};
use crate::cache::VideoCache;
use crate::db::admission::{self, Submitted};
use crate::db::choices;
use crate::db::claims;
use crate::db::recorder::Recorder;
pub use crate::db::requests::NewRequest;
pub use crate::domain::Refusal;
use crate::domain::{Choice, Choices, Failure, GeneratorKind, ImageDigest, Recipe, RequestStatus, UserId, Wanted};
use crate::telegram::limiter::Priority;
use crate::telemetry::every::Every;
use crate::telemetry::measure::{self, RequestOutcome};

/// The rate limit's "Redis did not answer" line, at most once a minute.
static REDIS_AWAY: Every = Every::new(std::time::Duration::from_secs(60));

pub struct Intake {
    db: DatabaseConnection,
    catalog: Catalog,
    recorder: Recorder,
    dispatcher: Arc<Dispatcher>,
    delivery: Arc<Delivery>,
    claim: ChronoDuration,
    /// Credits on: every request goes through the recording transaction,
    /// which holds its price (a cache hit too).
    priced: bool,
    /// The rate limit shared through Redis (without Redis the recording
    /// transaction keeps it).
    shared_rate: Option<SharedRateLimit>,
    /// Operators: never limited.
    exempt: HashSet<UserId>,
    /// The choices of users who never changed theirs.
    defaults: Choices,
    /// The deployment's generator: part of every recipe.
    generator: GeneratorKind,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Recorded (or recorded before); the answer is on its way.
    Recorded,
    /// Not recorded: the user is told why.
    Refused(Refusal),
}

impl Intake {
    pub fn new(
        db: DatabaseConnection,
        cache: VideoCache,
        recorder: Recorder,
        dispatcher: Arc<Dispatcher>,
        delivery: Arc<Delivery>,
        claim: ChronoDuration,
    ) -> Self {
        Self {
            catalog: Catalog::new(db.clone(), cache),
            db,
            recorder,
            dispatcher,
            delivery,
            claim,
            priced: false,
            shared_rate: None,
            exempt: HashSet::new(),
            defaults: Choices::default(),
            generator: GeneratorKind::default(),
        }
    }

    /// The default choices (`DEFAULT_*`) and the generator kind (`GENERATOR`).
    pub fn with_recipes(mut self, defaults: Choices, generator: GeneratorKind) -> Self {
        self.defaults = defaults;
        self.generator = generator;
        self
    }

    /// The recipe of `user`'s next video: their choices (the defaults when
    /// they never chose) with this deployment's generator, and for a remix
    /// the photo.
    pub async fn recipe_for(&self, user: UserId, image: Option<ImageDigest>) -> Result<Recipe, DbErr> {
        let choices = choices::of(&self.db, user, self.defaults).await?;
        Ok(Recipe { choices, generator: self.generator, image })
    }

    /// Whether `wanted`'s video is in the cache (a hit: no question asked).
    pub async fn is_cached(&self, wanted: &Wanted) -> bool {
        self.catalog.lookup(&wanted.key()).await.is_some()
    }

    /// `user`'s choices (`/settings`): the defaults until they change one.
    pub async fn choices_of(&self, user: UserId) -> Result<Choices, DbErr> {
        choices::of(&self.db, user, self.defaults).await
    }

    /// A settings press: applies `choice` to `user`'s own choices (one
    /// serializable transaction) and returns them; the next request uses them.
    pub async fn choose(&self, user: UserId, choice: Choice) -> Result<Choices, DbErr> {
        choices::choose(&self.db, user, choice, self.defaults).await
    }

    /// Credits on (`priced`), the Redis rate limit, and who is exempt from limits.
    pub fn with_admission(mut self, priced: bool, shared_rate: Option<SharedRateLimit>, exempt: HashSet<UserId>) -> Self {
        self.priced = priced;
        self.shared_rate = shared_rate;
        self.exempt = exempt;
        self
    }

    /// What the fair-use limits would say of one more request by `user`
    /// that may start or join a generation, counting nothing: checked before
    /// something is paid for it (a voice message's transcription, whose
    /// words — and so whether it is a cache hit — are not known yet).
    /// `None`: it would be let in (or Redis did not answer: the request's
    /// own check decides).
    pub async fn would_refuse(&self, user: UserId) -> Result<Option<Refusal>, DbErr> {
        if self.exempt.contains(&user) {
            return Ok(None);
        }
        if let Some(limit) = &self.shared_rate {
            match limit.peek(user).await {
                Ok(Some(retry_after)) => return Ok(Some(Refusal::Rate { retry_after })),
                Ok(None) => {}
                Err(err) => {
                    if let Some(skipped) = REDIS_AWAY.due(std::time::Instant::now()) {
                        tracing::warn!(error = %err, skipped, "Redis did not answer the rate limit; letting requests in");
                    }
                }
            }
        }
        admission::would_limit(&self.db, self.recorder.admission(), user).await
    }

    /// Records the request for `prompt`. Returns once it is recorded
    /// (durable); the answer is sent in the background, so a burst of
    /// updates is taken in faster than Telegram lets us answer it. A send
    /// that dies with the process is redone by the reconciler: the request
    /// is claimed, and the claim runs out. An error means nothing was
    /// recorded: the caller tells the user to try again.
    #[tracing::instrument(skip_all, fields(chat_id = %new.chat_id, message_id = %new.message_id))]
    /// `wanted`: a prompt, or the extension of a video by a continuation.
    pub async fn request_video(&self, new: NewRequest, wanted: Wanted) -> Result<Admitted, DbErr> {
        let key = wanted.key();
        let hit = self.catalog.lookup(&key).await;
        if let Some(hit) = hit.as_ref().filter(|_| !self.priced) {
            if let Some(request) = claims::record_claimed(&self.db, &new, hit.asset_id, self.claim).await? {
                measure::requests(RequestOutcome::CacheHit, 1);
                let delivery = self.delivery.clone();
                let file_id = hit.file_id.clone();
                tokio::spawn(async move { delivery.video(&request, &file_id, Priority::Interactive).await });
            }
            return Ok(Admitted::Recorded);
        }
        // Cache hits are never limited; what may start or join a generation is.
        let mut slot = None;
        if let (None, Some(limit)) = (&hit, &self.shared_rate)
            && !self.exempt.contains(&new.user_id)
        {
            match limit.check(new.user_id).await {
                Ok(Admit::In(member)) => slot = member,
                Ok(Admit::Wait(retry_after)) => return Ok(Admitted::Refused(Refusal::Rate { retry_after })),
                Err(err) => {
                    // once at the outage's start, then once a minute (not once per request)
                    if let Some(skipped) = REDIS_AWAY.due(std::time::Instant::now()) {
                        tracing::warn!(error = %err, skipped, "Redis did not answer the rate limit; letting requests in");
                    }
                }
            }
        }
        let user = new.user_id;
        let (request, asset, dispatch) = match self.recorder.submit(new, wanted).await? {
            Submitted::Refused(refusal) => {
                tracing::info!(?refusal, "request refused");
                // refused for credits or waiting requests: it took no slot of the rate limit
                if let (Some(member), Some(limit)) = (&slot, &self.shared_rate)
                    && let Err(err) = limit.release(user, member).await
                {
                    tracing::warn!(error = %err, "could not give a refused request's rate-limit slot back");
                }
                return Ok(Admitted::Refused(refusal));
            }
            Submitted::Duplicate(existing) => {
                tracing::info!(request_id = %existing.id, "Telegram re-delivered a recorded message; not recording it again");
                return Ok(Admitted::Recorded);
            }
            Submitted::Recorded { request, asset, dispatch } => (request, asset, dispatch),
        };
        if let (RequestStatus::Failed, Some(Failure::Refused(reason))) = (request.status, &request.error) {
            // refused for safety (remembered, or a blocked word): told at once, nothing held or generated
            tracing::info!(request_id = %request.id, asset_id = %asset.id, source = %reason.source, "refused for safety; answered at once");
            measure::requests(RequestOutcome::Refused, 1);
            measure::refusal_answered(reason.source.as_str());
            let delivery = self.delivery.clone();
            tokio::spawn(async move {
                if let Err(err) = delivery.notify_failures().await {
                    tracing::warn!(error = %err, "could not send a refusal now; the reconciler will");
                }
            });
            return Ok(Admitted::Recorded);
        }
        if let Some(job) = dispatch {
            tracing::info!(asset_id = %job.asset, generation = job.number, "new generation");
            self.dispatcher.dispatch(job).await;
        }
        let delivery = self.delivery.clone();
        let outcome = match (asset.sendable(), dispatch) {
            (Some(_), _) => RequestOutcome::CacheHit,
            (None, Some(_)) => RequestOutcome::Generated,
            (None, None) => RequestOutcome::Joined,
        };
        measure::requests(outcome, 1);
        match asset.sendable().cloned() {
            Some(file_id) => {
                self.catalog.learn(&asset).await;
                tokio::spawn(async move { delivery.video(&request, &file_id, Priority::Interactive).await });
            }
            _ => {
                let stage = if dispatch.is_some() { None } else { asset.stage };
                tokio::spawn(async move { delivery.progress_note(&request, stage).await });
            }
        }
        Ok(Admitted::Recorded)
    }
}
