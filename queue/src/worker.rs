use std::sync::{Arc, Mutex, PoisonError};
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
    // A worker whose backend failed (Redis away, a heartbeat lost) ends its
    // monitor; it is started again after a growing pause, not at once.
    let mut restarts = Restarts::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut generation = 0u64;
    loop {
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        let started = tokio::time::Instant::now();
        macro_rules! monitor {
            ($storage:expr) => {{
                let storage = $storage;
                let (wakeups, handler, name, shutdown, failure) =
                    (wakeups.clone(), handler.clone(), format!("{name}-r{generation}"), shutdown.clone(), failure.clone());
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
                    .should_restart(move |_, err| {
                        *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
                        false
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
        if shutdown.is_cancelled() {
            listener.abort();
            return result.map_err(|e| Box::new(e) as BoxError);
        }
        let error = failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .or_else(|| result.err().map(|e| e.to_string()))
            .unwrap_or_else(|| "the worker stopped".to_owned());
        let wait = restarts.failed(started.elapsed());
        match restarts.report() {
            Report::First => {
                tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "the generation worker stopped; restarting it with backoff")
            }
            Report::Still(n) => {
                tracing::warn!(error = %error, restarts = n, retry_in_ms = wait.as_millis() as u64, "the generation worker still fails; restarting it with backoff")
            }
            Report::Quiet => {
                tracing::debug!(error = %error, retry_in_ms = wait.as_millis() as u64, "restarting the generation worker")
            }
        }
        generation += 1;
        tokio::select! {
            _ = shutdown.cancelled() => {
                listener.abort();
                return Ok(());
            }
            _ = tokio::time::sleep(wait) => {}
        }
        // What was pushed meanwhile is fetched at the restart's first poll.
    }
}

/// The pause before restarting a failed worker: `first`, doubling up to
/// `max`; back to `first` once a worker has run for `max` without failing.
/// Failures are logged at the first one and then about once a minute.
#[derive(Debug)]
struct Restarts {
    first: Duration,
    max: Duration,
    next: Duration,
    /// Failures since the worker last ran well.
    failures: u64,
    last_report: Option<tokio::time::Instant>,
}

#[derive(Debug, PartialEq, Eq)]
enum Report {
    /// The first failure after running well.
    First,
    /// Failing for a while: a reminder, with the count.
    Still(u64),
    Quiet,
}

const REPORT_EVERY: Duration = Duration::from_secs(60);

impl Restarts {
    fn new(first: Duration, max: Duration) -> Self {
        Self { first, max, next: first, failures: 0, last_report: None }
    }

    /// A worker failed after running `ran`: how long to wait before the next start.
    fn failed(&mut self, ran: Duration) -> Duration {
        if ran >= self.max {
            self.next = self.first;
            self.failures = 0;
        }
        self.failures += 1;
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Whether the failure just counted is worth a line in the log.
    fn report(&mut self) -> Report {
        let now = tokio::time::Instant::now();
        if self.failures == 1 {
            self.last_report = Some(now);
            return Report::First;
        }
        match self.last_report {
            Some(at) if now.duration_since(at) < REPORT_EVERY => Report::Quiet,
            _ => {
                self.last_report = Some(now);
                Report::Still(self.failures)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn restarts_back_off_and_start_over_after_running_well() {
        let mut restarts = Restarts::new(Duration::from_millis(100), Duration::from_secs(5));
        let quick = Duration::from_millis(3);
        let waits: Vec<u128> = (0..9).map(|_| restarts.failed(quick).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        // a worker that ran longer than the longest pause had recovered
        assert_eq!(restarts.failed(Duration::from_secs(5)), Duration::from_millis(100));
        assert_eq!(restarts.failed(quick), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_is_logged_at_its_start_and_then_once_a_minute() {
        let mut restarts = Restarts::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut reports = Vec::new();
        // two minutes of failures, each after its pause
        let until = tokio::time::Instant::now() + Duration::from_secs(120);
        while tokio::time::Instant::now() < until {
            let wait = restarts.failed(Duration::from_millis(1));
            reports.push(restarts.report());
            tokio::time::sleep(wait).await;
        }
        let loud = reports.iter().filter(|r| **r != Report::Quiet).count();
        assert_eq!(reports[0], Report::First);
        assert!(reports.len() > 20, "{} restarts in two minutes", reports.len());
        assert!((2..=3).contains(&loud), "{loud} log lines for two minutes of failures");
    }
}
