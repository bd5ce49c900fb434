use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::BoxError;
use crate::backend::JobQueue;
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
    let storage = queue.storage();
    let worker_options = options.clone();
    let monitor = Monitor::new()
        .register(move |index| {
            WorkerBuilder::new(format!("{name}-{index}"))
                .backend(storage.clone())
                .retry(RetryPolicy::retries(worker_options.retries))
                .concurrency(worker_options.concurrency.max(1))
                .data(handler.clone())
                .build(run_job)
        })
        .shutdown_timeout(options.shutdown_grace);
    monitor
        .run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
        .await
        .map_err(|e| Box::new(e) as BoxError)
}
