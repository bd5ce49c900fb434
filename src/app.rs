//! Start-up and shutdown: build the parts from [`Settings`] and run a role.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use queue::{JobQueue, WorkerOptions};
use sea_orm::DbBackend;
use tokio_util::sync::CancellationToken;

use crate::cache::{CachedVideo, VideoCache};
use crate::config::Settings;
use crate::db;
use crate::db::recorder::Recorder;
use crate::generator::{Generator, LocalGenerator};
use crate::providers::{Meter, OpenAiClient, RetryPolicy};
use crate::service::Service;
use crate::telegram::api::BotApi;
use crate::telegram::commands::Command;
use crate::telegram::handler::UpdateHandler;
use crate::telegram::limiter::FloodLimiter;
use crate::telegram::polling;
use crate::telegram::sender::Sender;
use crate::telegram::shared_budget::SharedBudget;
use crate::telegram::voice::Transcriber;
use crate::work::generate::GenerationJob;
use crate::work::reconcile;

/// Which parts of the service this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Bot and worker in one process.
    Serve,
    /// Takes updates, answers cache hits, enqueues generations.
    Bot,
    /// Runs generations and fan-out.
    Worker,
}

impl Role {
    fn runs_bot(self) -> bool {
        matches!(self, Role::Serve | Role::Bot)
    }
    fn runs_worker(self) -> bool {
        matches!(self, Role::Serve | Role::Worker)
    }
}

/// Builds the shared service: database (migrated), queue, sender, cache.
pub async fn build_service(settings: Settings) -> anyhow::Result<Arc<Service>> {
    tokio::fs::create_dir_all(&settings.data_dir)
        .await
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    tokio::fs::create_dir_all(settings.videos_dir()).await.context("cannot create the videos directory")?;
    let database = db::connect(&settings.database_url).await.context("cannot open the database (DATABASE_URL)")?;
    let queue = open_queue(&settings).await?;
    let api =
        BotApi::new(&settings.api_url, &settings.token, Duration::from_secs(60)).context("cannot build the Telegram client")?;
    let mut limiter = FloodLimiter::new(settings.global_send_rate, settings.chat_send_burst);
    if let Some(url) = settings.queue_url.as_deref().filter(|u| u.starts_with("redis")) {
        let bot_id = settings.token.expose().split(':').next().and_then(|id| id.parse().ok()).unwrap_or_default();
        let shared = SharedBudget::connect(url, bot_id, settings.global_send_rate, settings.chat_send_burst)
            .await
            .context("cannot reach Redis for the shared flood budget")?;
        limiter = limiter.with_shared(shared);
    }
    let limiter = Arc::new(limiter);
    let cache = VideoCache::new(1_000_000);
    for asset in db::assets::recent_available(&database, 10_000).await.context("cannot warm the cache")? {
        if let Some(file_id) = asset.file_id {
            cache.insert(&asset.prompt_key, CachedVideo { asset_id: asset.id, file_id }).await;
        }
    }
    // SQLite writes one transaction at a time: one lane; PostgreSQL overlaps a few.
    let lanes = if database.get_database_backend() == DbBackend::Sqlite { 1 } else { 4 };
    let recorder = Recorder::start(database.clone(), settings.delivery_claim(), lanes, 100);
    let transcriber = transcriber_for(&settings, &database)?;
    Ok(Arc::new(Service { settings, db: database, queue, sender: Sender::new(api, limiter), cache, recorder, transcriber }))
}

/// Voice messages are transcribed when `VOICE_TRANSCRIPTION` is on (the
/// default) and an OpenAI-compatible key is set.
fn transcriber_for(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Option<Transcriber>> {
    let openai = &settings.providers.openai;
    if !settings.voice_transcription || openai.api_key.is_none() {
        return Ok(None);
    }
    let client = OpenAiClient::new(openai, settings.providers.pipeline.http_timeout, RetryPolicy::default())
        .map_err(|reason| anyhow::anyhow!("cannot build the transcription client: {reason}"))?;
    Ok(Some(Transcriber::new(client, Meter::new(db.clone(), settings.providers.prices.clone()))))
}

/// The queue the settings choose: `QUEUE_URL` (Redis or PostgreSQL), else
/// the data's own database (PostgreSQL), else a SQLite file in the data dir.
pub async fn open_queue(settings: &Settings) -> anyhow::Result<JobQueue> {
    let heartbeat = heartbeat(settings);
    let url = settings
        .queue_url
        .clone()
        .or_else(|| settings.database_url.starts_with("postgres").then(|| settings.database_url.clone()));
    let queue = match url {
        Some(url) if url.starts_with("redis") => JobQueue::open_redis(&url, heartbeat).await,
        Some(url) => JobQueue::open_postgres(&url, heartbeat).await,
        None => JobQueue::open_sqlite(&settings.queue_file(), heartbeat).await,
    };
    queue.context("cannot open the job queue")
}

fn heartbeat(settings: &Settings) -> Duration {
    (settings.job_lease / 3).max(Duration::from_secs(1))
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The generator the settings choose (`GENERATOR`): fails, saying what is
/// missing, when a provider key or ffmpeg is absent.
pub fn generator_for(settings: &Settings, db: sea_orm::DatabaseConnection) -> anyhow::Result<Arc<dyn Generator>> {
    let local = LocalGenerator { delay: settings.local_generator_delay, ..Default::default() };
    crate::generator::build_generator(settings.providers.generator, &settings.providers, db, settings.work_dir(), local)
        .map_err(|reason| anyhow::anyhow!("cannot start the {:?} generator: {reason}", settings.providers.generator))
}

/// Runs `role` until `shutdown` is cancelled, then stops within the grace period.
pub async fn run(settings: Settings, role: Role, shutdown: CancellationToken) -> anyhow::Result<()> {
    let service = build_service(settings).await?;
    let generator = if matches!(role, Role::Bot) {
        // The bot role never generates: don't require provider keys or ffmpeg.
        Arc::new(LocalGenerator::default()) as Arc<dyn Generator>
    } else {
        generator_for(&service.settings, service.db.clone())?
    };
    run_service(service, role, generator, shutdown).await
}

/// [`run`] with a given generator (tests use failing and hanging ones).
pub async fn run_with(
    settings: Settings,
    role: Role,
    generator: Arc<dyn Generator>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_service(build_service(settings).await?, role, generator, shutdown).await
}

async fn run_service(
    service: Arc<Service>,
    role: Role,
    generator: Arc<dyn Generator>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let settings = service.settings.clone();
    let api = service.sender.api().clone();
    let me = api.get_me().await.context("Telegram refused the bot token or is unreachable (getMe)")?;
    let username = me.username.clone().unwrap_or_default();
    tracing::info!(bot = %username, ?role, "vidcache starting");

    let mut tasks = tokio::task::JoinSet::new();
    if role.runs_worker() {
        let owner = format!("worker-{}-{:08x}", std::process::id(), fastrand::u32(..));
        let job = GenerationJob::new(service.clone(), generator, owner, shutdown.clone());
        let options = WorkerOptions {
            name: "vidcache-generate".to_owned(),
            concurrency: settings.worker_concurrency,
            retries: 3,
            shutdown_grace: settings.shutdown_grace,
        };
        let queue = service.queue.clone();
        let token = shutdown.clone();
        tasks.spawn(async move {
            if let Err(err) = queue::run_worker(queue, Arc::new(job), options, token).await {
                tracing::error!(error = %err, "the worker stopped with an error");
            }
        });
        let every = (settings.job_lease / 2).max(Duration::from_secs(1));
        tasks.spawn(reconcile::run(service.clone(), every, shutdown.clone()));
    }
    if role.runs_bot() {
        if let Err(err) = api.set_my_commands(&Command::menu()).await {
            tracing::warn!(error = %err, "could not register the command menu");
        }
        tasks.spawn(crate::cache::follow_invalidations(service.clone(), Duration::from_millis(500), shutdown.clone()));
        let handler = Arc::new(UpdateHandler::new(service.clone(), username));
        match settings.webhook.clone() {
            Some(webhook) => {
                let server = crate::telegram::webhook::start_webhook(api.clone(), handler, webhook, shutdown.clone()).await?;
                tasks.spawn(server);
            }
            None => {
                tasks.spawn(polling::run_polling(api.clone(), handler, settings.poll_timeout_secs, shutdown.clone()));
            }
        }
    }

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    let grace = settings.shutdown_grace + Duration::from_secs(1);
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!("some work did not stop in time; it is handed back and resumes on the next start");
        tasks.abort_all();
    }
    service.db.clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}
