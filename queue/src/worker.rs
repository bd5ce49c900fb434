use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::BoxError;
use crate::backend::{JobQueue, Store};
use crate::generate_video::GenerateVideo;

/// What a worker does with a job. The service implements it; this crate
/// only runs it. A handler that returns `Ok` has finished with the job,
/// whether the generation succeeded or was recorded as failed: failures the
/// user must hear about are the handler's business, not the queue's.
pub trait JobHandler: Send + Sync + 'static {
    fn handle(&self, job: GenerateVideo) -> BoxFuture<'static, Result<(), BoxError>>;
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Name prefix of this worker; a unique suffix is added per process so a
    /// restarted process can recover the jobs its predecessor abandoned.
    pub name: String,
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How many times apalis re-runs a job whose handler returned `Err`
    /// (an infrastructure error, e.g. the database was away).
    pub retries: usize,
    /// How long to wait for running jobs on shutdown before handing them back.
    pub shutdown_grace: Duration,
}

async fn run_job(job: GenerateVideo, handler: Data<Arc<dyn JobHandler>>) -> Result<(), BoxError> {
    handler.handle(job).await
}

/// Runs the generation worker until `shutdown` is cancelled.
pub async fn run_worker(
    queue: JobQueue,
    handler: Arc<dyn JobHandler>,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let name = format!(
        "{}-{}-{}",
        options.name,
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
    );
    let concurrency = options.concurrency.max(1);
    let retries = options.retries;
    let (wakeups, poll) = (queue.wakeups.clone(), queue.poll);
    let listener = tokio::spawn(crate::listen::forward_pushes(queue.clone(), shutdown.clone()));
    macro_rules! monitor {
        ($storage:expr) => {{
            let storage = $storage;
            Monitor::new()
                .register(move |index| {
                    // Each worker (and each restart of one) listens for wake-ups of its own.
                    let backend = storage.clone().poll_with_stream(wakeups.subscribe(poll));
                    WorkerBuilder::new(format!("{name}-{index}"))
                        .backend(backend)
                        .concurrency(concurrency)
                        .retry(RetryPolicy::retries(retries))
                        .data(handler.clone())
                        .build(run_job)
                })
                .shutdown_timeout(options.shutdown_grace)
                // A worker whose backend failed (Redis away, heartbeat lost)
                // is started again rather than left dead.
                .should_restart(|ctx, err| {
                    tracing::warn!(worker = ctx.name(), error = %err, "restarting the generation worker");
                    true
                })
                .run_with_signal(async move {
                    shutdown.cancelled().await;
                    Ok(())
                })
                .await
        }};
    }
    let result = match &queue.store {
        Store::Sqlite { pool } => monitor!(queue.sqlite(pool)),
        Store::Postgres { pool } => monitor!(queue.postgres(pool)),
        Store::Redis { conn, .. } => monitor!(queue.redis(conn)),
    };
    listener.abort();
    result.map_err(|e| Box::new(e) as BoxError)
}
