//! Start-up and shutdown: build the parts from [`Settings`], once, and run
//! a role. This is the only module that knows every layer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use queue::{JobQueue, WorkerOptions};
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminDeps, ConsoleDeps};
use crate::bot::handler::{HandlerSettings, UpdateHandler};
use crate::bot::voice::Transcriber;
use crate::bot::{polling, webhook};
use crate::cache::VideoCache;
use crate::config::{DataStore, ModerationMode, QueueStore, RetryPolicy, Settings};
use crate::db;
use crate::db::recorder::Recorder;
use crate::domain::Admission;
use crate::domain::Pricing;
use crate::generator::{Generator, LocalGenerator};
use crate::providers::{Meter, OpenAiClient};
use crate::service::fair_use::SharedRateLimit;
use crate::service::{
    Approvals, Cancel, Console, Credits, Delivery, Dispatcher, Extensions, Generations, Health, History, Housekeeping, Intake,
    Moderation, Operator, Remixes, Search, Services, UserStatus, catalog::Catalog,
};
use crate::storage::VideoStore;
use crate::telegram::api::BotApi;
use crate::telegram::limiter::FloodLimiter;
use crate::telegram::sender::Sender;
use crate::telegram::shared_budget::SharedBudget;
use crate::texts::Lang;
use crate::work::generate::{GenerationJob, JobSettings};
use crate::work::reconcile::Reconciler;

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

/// Everything one process is built from.
pub struct App {
    pub settings: Settings,
    pub db: sea_orm::DatabaseConnection,
    pub cache: VideoCache,
    pub sender: Sender,
    pub services: Services,
}

/// Builds the services: database (migrated), queue, sender, cache.
#[tracing::instrument(skip_all)]
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    Lang::set_default(settings.default_language);
    tokio::fs::create_dir_all(&settings.data_dir)
        .await
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    tokio::fs::create_dir_all(settings.videos_dir()).await.context("cannot create the videos directory")?;
    let database = db::connect(&settings.data).await.context("cannot open the database (DATABASE_URL)")?;
    // Assets of the previous release become their prompts' videos of the
    // default recipe (before the cache is warmed with their keys).
    db::assets::rekey_legacy(&database, settings.default_choices, settings.providers.generator)
        .await
        .context("cannot re-key the previous release's assets")?;
    let warming = tokio::spawn(db::warm(database.clone()));
    let queue = open_queue(&settings).await?;
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
    let sender = Sender::new(api, limiter);
    let store = VideoStore::from_settings(&settings.storage, settings.videos_dir()).context("cannot set up STORAGE_URL")?;
    tracing::info!(storage = %store.describe(), "finished videos are kept here");
    let cache = VideoCache::new(1_000_000);
    Catalog::new(database.clone(), cache.clone()).warm(10_000).await.context("cannot warm the cache")?;
    // SQLite writes one transaction at a time: one lane; PostgreSQL overlaps a few.
    let lanes = match settings.data {
        DataStore::Sqlite(_) => 1,
        DataStore::Postgres(_) => 4,
    };
    let claim = settings.delivery_claim();
    // Fair use: the rate limit in Redis when there is one (shared by every
    // replica), else in the recording transaction; waiting requests always there.
    let shared_rate = match (settings.queue.redis(), settings.fair_use.rate.is_empty()) {
        (Some(url), false) => Some(
            SharedRateLimit::connect(url.expose(), settings.token.bot_id(), settings.fair_use.rate.clone())
                .await
                .context("cannot reach Redis for the shared rate limit")?,
        ),
        _ => None,
    };
    let admission = Admission {
        pricing: settings.credits.as_ref().map(|c| Pricing {
            free: c.free,
            new: c.price_new,
            cached: c.price_cached,
            quality_extra: c.price_quality_extra,
            long_extra: c.price_long_extra,
        }),
        max_waiting: settings.fair_use.max_waiting,
        rate: match shared_rate {
            Some(_) => Vec::new(),
            None => settings
                .fair_use
                .rate
                .iter()
                .map(|w| (w.max, chrono::Duration::from_std(w.per).unwrap_or(chrono::Duration::hours(1))))
                .collect(),
        },
        exempt: settings.admin_user_ids.clone(),
        blocked_words: settings.moderation.blocked_words.clone(),
    };
    let recorder = Recorder::start_admitted(database.clone(), claim, lanes, 100, Arc::new(admission));
    let delivery = Arc::new(Delivery::new(
        database.clone(),
        sender.clone(),
        claim,
        settings.global_send_rate,
        settings.cache_chat_id,
        settings.paid_broadcast_rate.is_some(),
        store.clone(),
        cache.clone(),
    ));
    let dispatcher = Arc::new(Dispatcher::new(database.clone(), queue));
    let intake = Arc::new(
        Intake::new(database.clone(), cache.clone(), recorder, dispatcher.clone(), delivery.clone(), claim)
            .with_admission(settings.credits.is_some(), shared_rate, settings.admin_user_ids.clone())
            .with_recipes(settings.default_choices, settings.providers.generator),
    );
    let operator = Arc::new(
        Operator::new(database.clone(), cache.clone(), store.clone(), settings.data_dir.clone())
            .with_credits(settings.credits.is_some()),
    );
    let status = Arc::new(UserStatus::new(database.clone()));
    let history = Arc::new(History::new(database.clone()));
    let cancel = Arc::new(Cancel::new(database.clone()));
    let credits = Arc::new(Credits::new(database.clone(), sender.clone(), settings.credits.clone()));
    let extensions = Arc::new(Extensions::new(database.clone(), sender.api().clone(), settings.extend));
    let approvals = Arc::new(Approvals::new(
        database.clone(),
        sender.clone(),
        dispatcher.clone(),
        delivery.clone(),
        settings.approvals.clone(),
        settings.admin_user_ids.clone(),
    ));
    let remixes = Arc::new(Remixes::new(database.clone(), sender.api().clone(), settings.data_dir.join("photos")));
    let services =
        Services::new(intake, delivery, dispatcher, operator, status, history, cancel, credits, approvals, extensions, remixes);
    if let Err(err) = warming.await {
        tracing::warn!(error = %err, "warming the database pool stopped");
    }
    Ok(App { settings, db: database, cache, sender, services })
}

/// The command menu, once per language (for every Telegram language code
/// spoken to in it) and once without a code for everyone else, in
/// `DEFAULT_LANGUAGE`.
async fn register_commands(api: &BotApi) {
    let mut scopes: Vec<(Lang, Option<&str>)> = Vec::new();
    for lang in Lang::ALL {
        scopes.extend(lang.telegram_codes().iter().map(|code| (lang, Some(*code))));
    }
    scopes.push((Lang::default(), None));
    for (lang, code) in scopes {
        if let Err(err) = api.set_my_commands(&lang.texts().command_menu(), code).await {
            tracing::warn!(error = %err, language = code.unwrap_or("default"), "could not register the command menu");
        }
    }
}

/// Voice messages are transcribed when `VOICE_TRANSCRIPTION` is on (the
/// default) and an OpenAI-compatible key is set.
fn transcriber_for(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Option<Transcriber>> {
    let openai = &settings.providers.openai;
    if !settings.voice_transcription || openai.api_key.is_none() {
        return Ok(None);
    }
    let client = OpenAiClient::new(openai, settings.providers.pipeline.http_timeout, RetryPolicy::default())
        .context("cannot build the transcription client")?;
    Ok(Some(Transcriber::new(client, Meter::new(db.clone(), settings.providers.prices.clone()))))
}

/// Moderation before any paid step (`MODERATION=openai`), or none.
fn moderation_for(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Moderation> {
    let client = match settings.moderation.mode {
        ModerationMode::Off => None,
        ModerationMode::OpenAi => Some(
            OpenAiClient::new(&settings.providers.openai, settings.providers.pipeline.http_timeout, RetryPolicy::default())
                .context("cannot build the moderation client")?,
        ),
    };
    tracing::info!(moderation = ?settings.moderation.mode, "prompts are screened before anything is paid");
    Ok(Moderation::new(db.clone(), client))
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
    let generator =
        crate::generator::build_generator(settings.providers.generator, &settings.providers, db, settings.work_dir(), local)?;
    for note in crate::generator::startup_notes(&settings.providers, settings.extend.seconds) {
        tracing::warn!("{note}");
    }
    Ok(generator)
}

/// Runs `role` until `shutdown` is cancelled, then stops within the grace period.
pub async fn run(settings: Settings, role: Role, shutdown: CancellationToken) -> anyhow::Result<()> {
    let app = build(settings).await?;
    let generator = if matches!(role, Role::Bot) {
        // The bot role never generates: don't require provider keys or ffmpeg.
        Arc::new(LocalGenerator::default()) as Arc<dyn Generator>
    } else {
        generator_for(&app.settings, app.db.clone())?
    };
    run_app(app, role, generator, shutdown).await
}

/// [`run`] with a given generator (tests use failing and hanging ones).
pub async fn run_with(
    settings: Settings,
    role: Role,
    generator: Arc<dyn Generator>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_app(build(settings).await?, role, generator, shutdown).await
}

async fn run_app(app: App, role: Role, generator: Arc<dyn Generator>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let App { settings, db, cache, sender, services } = app;
    let mut tasks = tokio::task::JoinSet::new();
    let health = Health::new(db.clone(), services.dispatcher().queue().clone());
    let console =
        Console::new(db.clone(), services.operator().clone(), services.approvals().clone(), services.delivery().store().clone());
    let admin = AdminDeps { health, console: ConsoleDeps { console } };
    if let Some(server) = admin::start(&settings.admin, admin, shutdown.clone()).await? {
        tasks.spawn(server);
    }
    let api = sender.api().clone();
    let me = api.get_me().await.context("Telegram refused the bot token or is unreachable (getMe)")?;
    let username = me.username.clone().unwrap_or_default();
    tracing::info!(bot = %username, ?role, "vidcache starting");

    if role.runs_worker() {
        let owner = format!("worker-{}-{:08x}", std::process::id(), fastrand::u32(..));
        let generations = Arc::new(
            Generations::new(db.clone(), owner, settings.job_lease).with_max_active(settings.fair_use.max_active_generations),
        );
        let job_settings = JobSettings {
            videos_dir: settings.videos_dir(),
            generation_timeout: settings.generation_timeout,
            retry: settings.generation_retry(),
            lease: settings.job_lease,
            progress_edit_interval: settings.progress_edit_interval,
            store: services.delivery().store().clone(),
        };
        let job = GenerationJob::new(
            generations.clone(),
            services.delivery().clone(),
            services.approvals().clone(),
            generator,
            services.extensions().clone(),
            services.remixes().clone(),
            job_settings,
            shutdown.clone(),
        )
        .with_dispatcher(services.dispatcher().clone())
        .with_moderation(Arc::new(moderation_for(&settings, &db)?));
        let options = WorkerOptions {
            name: "vidcache-generate".to_owned(),
            concurrency: settings.worker_concurrency,
            retries: 3,
            shutdown_grace: settings.shutdown_grace,
        };
        let queue = services.dispatcher().queue().clone();
        let token = shutdown.clone();
        tasks.spawn(async move {
            if let Err(err) = queue::run_worker(queue, Arc::new(job), options, token).await {
                tracing::error!(error = %err, "the worker stopped with an error");
            }
        });
        let reconciler = Reconciler {
            generations,
            dispatcher: services.dispatcher().clone(),
            delivery: services.delivery().clone(),
            approvals: services.approvals().clone(),
            claim: settings.delivery_claim(),
            stall: chrono::Duration::from_std(settings.job_lease * 2).unwrap_or(chrono::Duration::seconds(60)),
        };
        let every = (settings.job_lease / 2).max(Duration::from_secs(1));
        tasks.spawn(reconciler.run(every, shutdown.clone()));
        let housekeeping = Housekeeping::new(
            db.clone(),
            services.delivery().store().clone(),
            settings.work_dir(),
            settings.cleanup.keep_intermediates,
        );
        tasks.spawn(housekeeping.run(settings.cleanup.interval, shutdown.clone()));
    }
    if role.runs_bot() {
        register_commands(&api).await;
        // videos made before the search existed become searchable, in the background
        let indexing = db.clone();
        tokio::spawn(async move {
            if let Err(err) = db::search::reindex(&indexing).await {
                tracing::warn!(error = %err, "could not index the videos made before the search; the next start tries again");
            }
        });
        let search = Arc::new(Search::new(db.clone(), settings.search, settings.max_prompt_chars));
        tasks.spawn(Catalog::new(db.clone(), cache.clone()).follow_invalidations(Duration::from_millis(500), shutdown.clone()));
        let handler = Arc::new(
            UpdateHandler::new(
                services.intake().clone(),
                services.operator().clone(),
                services.status().clone(),
                services.history().clone(),
                services.cancel().clone(),
                services.approvals().clone(),
                services.credits().clone(),
                services.extensions().clone(),
                sender.clone(),
                transcriber_for(&settings, &db)?,
                HandlerSettings {
                    admins: settings.admin_user_ids.clone(),
                    max_prompt_chars: settings.max_prompt_chars,
                    bot_username: username,
                },
            )
            .with_remixes(services.remixes().clone())
            .with_search(search),
        );
        match settings.webhook.clone() {
            Some(hook) => {
                let server = webhook::start_webhook(api.clone(), handler, hook, shutdown.clone()).await?;
                tasks.spawn(server);
            }
            None => {
                tasks.spawn(polling::run_polling(
                    api.clone(),
                    handler,
                    db.clone(),
                    settings.poll_timeout_secs,
                    settings.shutdown_grace,
                    shutdown.clone(),
                ));
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
    db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
}
