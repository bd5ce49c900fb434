//! The worker role: runs generations from the job queue, fans finished
//! videos out, reconciles what a crash left behind and sweeps files no
//! asset needs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use queue::WorkerOptions;
use tokio_util::sync::CancellationToken;

use super::Running;
use super::startup::{Backends, SendPath, extensions, remixes};
use crate::config::{ModerationMode, RetryPolicy, Settings};
use crate::generator::{Generator, LocalGenerator};
use crate::providers::OpenAiClient;
use crate::service::{Generations, Housekeeping, Moderation};
use crate::work::generate::{GenerationJob, JobSettings};
use crate::work::reconcile::Reconciler;

/// Builds the worker around `generator` and returns its tasks: the queue's
/// consumer, the reconciler and the housekeeping sweep.
pub(super) fn build(
    settings: &Settings,
    backends: &Backends,
    shared: &SendPath,
    generator: Arc<dyn Generator>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    let db = &backends.db;
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
        store: backends.store.clone(),
    };
    let job = GenerationJob::new(
        generations.clone(),
        shared.delivery.clone(),
        shared.approvals.clone(),
        generator,
        Arc::new(extensions(settings, backends)),
        Arc::new(remixes(settings, backends)),
        job_settings,
        shutdown.clone(),
    )
    .with_dispatcher(shared.dispatcher.clone())
    .with_moderation(Arc::new(moderation(settings, db)?));
    let options = WorkerOptions {
        name: "vidcache-generate".to_owned(),
        concurrency: settings.worker_concurrency,
        retries: 3,
        shutdown_grace: settings.shutdown_grace,
    };
    let mut running = Running::default();
    let queue = backends.queue.clone();
    let token = shutdown.clone();
    running.add(async move {
        if let Err(err) = queue::run_worker(queue, Arc::new(job), options, token).await {
            tracing::error!(error = %err, "the worker stopped with an error");
        }
    });
    let reconciler = Reconciler {
        generations,
        dispatcher: shared.dispatcher.clone(),
        delivery: shared.delivery.clone(),
        approvals: shared.approvals.clone(),
        claim: settings.delivery_claim(),
        stall: chrono::Duration::from_std(settings.job_lease * 2).unwrap_or(chrono::Duration::seconds(60)),
    };
    let every = (settings.job_lease / 2).max(Duration::from_secs(1));
    running.add(reconciler.run(every, shutdown.clone()));
    let housekeeping =
        Housekeeping::new(db.clone(), backends.store.clone(), settings.work_dir(), settings.cleanup.keep_intermediates);
    running.add(housekeeping.run(settings.cleanup.interval, shutdown.clone()));
    Ok(running)
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

/// Moderation before any paid step (`MODERATION=openai`), or none.
fn moderation(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Moderation> {
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
