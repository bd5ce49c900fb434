//! What every role is built from, opened once per process: the database
//! (migrated, re-keyed, warmed), the job queue, the Telegram sender, the
//! video store and the cache — and the send path the roles share.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use queue::JobQueue;
use sea_orm::DatabaseConnection;

use crate::cache::VideoCache;
use crate::config::{QueueStore, Settings};
use crate::db;
use crate::service::catalog::Catalog;
use crate::service::{Approvals, Delivery, Dispatcher, Extensions, Operator, Remixes};
use crate::storage::VideoStore;
use crate::telegram::api::BotApi;
use crate::telegram::limiter::FloodLimiter;
use crate::telegram::sender::Sender;
use crate::telegram::shared_budget::SharedBudget;
use crate::texts::Lang;

/// The stores and clients of one process, whatever roles it runs. Each is
/// a handle: cloning one shares the pool, the limiter or the cache.
pub(super) struct Backends {
    pub(super) db: DatabaseConnection,
    pub(super) queue: JobQueue,
    pub(super) sender: Sender,
    pub(super) store: VideoStore,
    pub(super) cache: VideoCache,
}

impl Backends {
    /// Creates the data directories, opens and migrates the database,
    /// opens the queue, builds the rate-limited sender and warms the cache.
    #[tracing::instrument(name = "open_backends", skip_all)]
    pub(super) async fn open(settings: &Settings) -> anyhow::Result<Self> {
        Lang::set_default(settings.default_language);
        tokio::fs::create_dir_all(&settings.data_dir)
            .await
            .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
        tokio::fs::create_dir_all(settings.videos_dir()).await.context("cannot create the videos directory")?;
        let db = db::connect(&settings.data).await.context("cannot open the database (DATABASE_URL)")?;
        // Assets of the previous release become their prompts' videos of the
        // default recipe (before the cache is warmed with their keys).
        db::assets::rekey_legacy(&db, settings.default_choices, settings.providers.generator)
            .await
            .context("cannot re-key the previous release's assets")?;
        let warming = tokio::spawn(db::warm(db.clone()));
        let queue = open_queue(settings).await?;
        let sender = open_sender(settings).await?;
        let store = VideoStore::from_settings(&settings.storage, settings.videos_dir()).context("cannot set up STORAGE_URL")?;
        tracing::info!(storage = %store.describe(), "finished videos are kept here");
        let cache = VideoCache::new(1_000_000);
        Catalog::new(db.clone(), cache.clone()).warm(10_000).await.context("cannot warm the cache")?;
        if let Err(err) = warming.await {
            tracing::warn!(error = %err, "warming the database pool stopped");
        }
        Ok(Self { db, queue, sender, store, cache })
    }

    pub(super) fn api(&self) -> &BotApi {
        self.sender.api()
    }
}

/// The Telegram client behind the flood limiter (its budget shared through
/// Redis when the queue is there).
async fn open_sender(settings: &Settings) -> anyhow::Result<Sender> {
    let api = BotApi::new(&settings.api_url, &settings.token, Duration::from_secs(60))
        .context("cannot build the Telegram client")?
        .with_inline_feedback(settings.search.inline_feedback);
    let shared = match settings.queue.redis() {
        Some(url) => Some(
            SharedBudget::connect(url.expose(), settings.token.bot_id(), settings.global_send_rate, settings.chat_send_burst)
                .await
                .context("cannot reach Redis for the shared flood budget")?,
        ),
        None => None,
    };
    let limiter = FloodLimiter::with_paid_broadcast(
        settings.global_send_rate,
        settings.chat_send_burst,
        shared,
        settings.paid_broadcast_rate,
    );
    Ok(Sender::new(api, limiter))
}

/// The queue the settings chose: SQLite in the data dir, PostgreSQL or Redis.
pub async fn open_queue(settings: &Settings) -> anyhow::Result<JobQueue> {
    let heartbeat = (settings.job_lease / 3).max(Duration::from_secs(1));
    let queue = match &settings.queue {
        QueueStore::Redis(url) => JobQueue::open_redis(url.expose(), heartbeat).await,
        QueueStore::Postgres(url) => JobQueue::open_postgres(url.expose(), heartbeat).await,
        QueueStore::Sqlite(file) => JobQueue::open_sqlite(file, heartbeat).await,
    };
    // A driver's error may echo the URL it was given: never its credentials.
    let queue = queue.map_err(|e| anyhow::anyhow!(crate::config::scrub_urls(&e.to_string())));
    Ok(queue.context("cannot open the job queue")?.with_poll_interval(settings.queue_poll_interval))
}

/// The send path, one per process and shared by its roles: the delivery
/// (its renewals and notes in line are this process's), the dispatcher and
/// the approvals (which deliver and dispatch once decided).
pub(super) struct SendPath {
    pub(super) delivery: Arc<Delivery>,
    pub(super) dispatcher: Arc<Dispatcher>,
    pub(super) approvals: Arc<Approvals>,
}

impl SendPath {
    pub(super) fn build(settings: &Settings, backends: &Backends) -> Self {
        let delivery = Arc::new(Delivery::new(
            backends.db.clone(),
            backends.sender.clone(),
            settings.delivery_claim(),
            settings.global_send_rate,
            settings.cache_chat_id,
            settings.paid_broadcast_rate.is_some(),
            backends.store.clone(),
            backends.cache.clone(),
        ));
        let dispatcher = Arc::new(Dispatcher::new(backends.db.clone(), backends.queue.clone()));
        let approvals = Arc::new(Approvals::new(
            backends.db.clone(),
            backends.sender.clone(),
            dispatcher.clone(),
            delivery.clone(),
            settings.approvals.clone(),
            settings.admin_user_ids.clone(),
        ));
        Self { delivery, dispatcher, approvals }
    }
}

/// /clear, /allow, an asset's report, /stats: the bot's operator commands and the console.
pub(super) fn operator(settings: &Settings, backends: &Backends) -> Operator {
    Operator::new(backends.db.clone(), backends.cache.clone(), backends.store.clone(), settings.data_dir.clone())
        .with_credits(settings.credits.is_some())
}

/// "➕ Extend" (the bot asks, the worker makes the continuation).
pub(super) fn extensions(settings: &Settings, backends: &Backends) -> Extensions {
    Extensions::new(backends.db.clone(), backends.api().clone(), settings.extend)
}

/// Photos to animate (the bot takes them, the worker reads them).
pub(super) fn remixes(settings: &Settings, backends: &Backends) -> Remixes {
    Remixes::new(backends.db.clone(), backends.api().clone(), settings.data_dir.join("photos"))
}
