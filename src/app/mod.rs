//! Start-up and shutdown, as zero2prod's `startup.rs`: `startup` opens
//! the stores once (`Backends`) and builds the send path the roles share
//! (`SendPath`); each role is then built from the few handles it needs —
//! `bot`, `worker`, `admin` — and runs until shutdown. This is the
//! only module that knows every layer.

mod admin;
mod bot;
mod startup;
mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::generator::{Generator, LocalGenerator};
use crate::service::Intake;

use startup::{Backends, SendPath};

pub use startup::open_queue;
pub use worker::generator_for;

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

/// A process's stores and shared send path, opened from [`Settings`].
pub struct App {
    settings: Settings,
    backends: Backends,
    shared: SendPath,
}

/// Opens the stores (database migrated, queue, sender, cache) and builds
/// the send path; no role runs yet.
#[tracing::instrument(skip_all)]
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let backends = Backends::open(&settings).await?;
    let shared = SendPath::build(&settings, &backends);
    Ok(App { settings, backends, shared })
}

impl App {
    /// The bot's intake on these stores (tests record requests through it).
    pub async fn intake(&self) -> anyhow::Result<Arc<Intake>> {
        bot::intake(&self.settings, &self.backends, &self.shared).await
    }
}

/// A role's tasks, to run until shutdown.
#[derive(Default)]
struct Running {
    tasks: Vec<Pin<Box<dyn Future<Output = ()> + Send + 'static>>>,
}

impl Running {
    fn add(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(Box::pin(task));
    }

    fn spawn_into(self, set: &mut tokio::task::JoinSet<()>) {
        for task in self.tasks {
            set.spawn(task);
        }
    }
}

/// Runs `role` until `shutdown` is cancelled, then stops within the grace period.
pub async fn run(settings: Settings, role: Role, shutdown: CancellationToken) -> anyhow::Result<()> {
    let app = build(settings).await?;
    let generator = if matches!(role, Role::Bot) {
        // The bot role never generates: don't require provider keys or ffmpeg.
        Arc::new(LocalGenerator::default()) as Arc<dyn Generator>
    } else {
        generator_for(&app.settings, app.backends.db.clone())?
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
    let App { settings, backends, shared } = app;
    let mut tasks = tokio::task::JoinSet::new();
    admin::build(&settings, &backends, &shared, &shutdown).await?.spawn_into(&mut tasks);
    let me = backends.api().get_me().await.context("Telegram refused the bot token or is unreachable (getMe)")?;
    let username = me.username.clone().unwrap_or_default();
    tracing::info!(bot = %username, ?role, "vidcache starting");
    if role.runs_worker() {
        worker::build(&settings, &backends, &shared, generator, &shutdown)?.spawn_into(&mut tasks);
    }
    if role.runs_bot() {
        bot::build(&settings, &backends, &shared, username, &shutdown).await?.spawn_into(&mut tasks);
    }

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    let grace = settings.shutdown_grace + Duration::from_secs(1);
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!("some work did not stop in time; it is handed back and resumes on the next start");
        tasks.abort_all();
    }
    backends.db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
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
