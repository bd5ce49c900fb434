//! What the service counts, for Prometheus (`GET /metrics` on the admin
//! listener). Every metric has one function here, so names and labels are
//! written once; the code calls them where the event happens. Without an
//! installed recorder (tests in process, `ADMIN_LISTEN_ADDR` empty) the
//! calls do nothing.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "vidcache_requests_total";
pub const GENERATIONS: &str = "vidcache_generations_total";
pub const STAGE_SECONDS: &str = "vidcache_generation_stage_seconds";
pub const UPLOADS: &str = "vidcache_uploads_total";
pub const SENDS: &str = "vidcache_telegram_sends_total";
pub const PAID_SENDS: &str = "vidcache_paid_sends_total";
pub const JOBS_QUEUED: &str = "vidcache_jobs_queued";
pub const GENERATIONS_RUNNING: &str = "vidcache_generations_running";
pub const REQUESTS_WAITING: &str = "vidcache_requests_waiting";
pub const PROVIDER_CALLS: &str = "vidcache_provider_calls_total";
pub const PROVIDER_COST: &str = "vidcache_provider_cost_microdollars_total";
pub const CREDITS_MOVED: &str = "vidcache_credits_moved_total";
pub const MODERATIONS: &str = "vidcache_moderations_total";
pub const REFUSALS_ANSWERED: &str = "vidcache_refusals_answered_total";
pub const REFUSED_PROMPTS: &str = "vidcache_refused_prompts";
pub const REFUSALS_FROM_MEMORY: &str = "vidcache_refusals_answered_from_memory";
pub const REFUSAL_CALLS_SAVED: &str = "vidcache_refusal_provider_calls_saved";

/// Buckets of the stage histogram, in seconds: from a local render (well
/// under a second) to a provider's clip (minutes).
const STAGE_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same
/// handle). `Err` only when another recorder was installed first.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder =
        PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(STAGE_SECONDS.to_owned()), STAGE_BUCKETS)?.build_recorder();
    let handle = recorder.handle();
    // Two tasks racing here: the loser's recorder is dropped, the winner's handle kept.
    if HANDLE.set(handle.clone()).is_ok() {
        metrics::set_global_recorder(recorder).map_err(BuildError::FailedToSetGlobalRecorder)?;
        describe();
    }
    Ok(HANDLE.get().cloned().unwrap_or(handle))
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "Requests for a video by outcome: cache_hit, joined (a generation was under way), generated (started one), refused (input the bot does not take), failed"
    );
    describe_counter!(GENERATIONS, "Generations that ended, by result: available, failed, handed_back");
    describe_histogram!(STAGE_SECONDS, Unit::Seconds, "Time a stage of a generation took, by stage and result");
    describe_counter!(UPLOADS, "Uploads of a finished video to Telegram, by result");
    describe_counter!(SENDS, "Bot API send attempts by kind and result (flood_wait is a 429)");
    describe_counter!(PAID_SENDS, "Deliveries sent as paid broadcasts (0.1 Stars each past the free rate)");
    describe_gauge!(JOBS_QUEUED, "Generations recorded and waiting for a worker (assets pending), read from the database");
    describe_gauge!(GENERATIONS_RUNNING, "Generations a worker holds now (assets generating), read from the database");
    describe_gauge!(REQUESTS_WAITING, "Requests not yet answered with their video (pending), read from the database");
    describe_counter!(PROVIDER_CALLS, "Billable provider calls by provider, operation and result");
    describe_counter!(PROVIDER_COST, "Configured cost of provider calls in millionths of a dollar, by provider and operation");
    describe_counter!(CREDITS_MOVED, "Credits moved on users' accounts, by ledger kind (absolute amounts)");
    describe_counter!(MODERATIONS, "Moderation answers, by result: flagged, passed");
    describe_counter!(
        REFUSALS_ANSWERED,
        "Requests answered at once with a safety refusal (remembered, or a blocked word), by source: moderation, blocked_words, provider"
    );
    describe_gauge!(REFUSED_PROMPTS, "Prompts (asset keys) refused now, by source, read from the database");
    describe_gauge!(
        REFUSALS_FROM_MEMORY,
        "Requests ever answered from a remembered refusal (no moderation, provider call or charge), read from the database"
    );
    describe_gauge!(REFUSAL_CALLS_SAVED, "Provider calls those answers did not make again, read from the database");
}

/// The text format Prometheus scrapes; empty when no recorder is installed.
pub fn render() -> String {
    HANDLE.get().map(PrometheusHandle::render).unwrap_or_default()
}

/// Drains histogram buffers; call every few seconds.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

/// What became of one request for a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    CacheHit,
    Joined,
    Generated,
    Refused,
    Failed,
}

impl RequestOutcome {
    pub fn label(self) -> &'static str {
        match self {
            RequestOutcome::CacheHit => "cache_hit",
            RequestOutcome::Joined => "joined",
            RequestOutcome::Generated => "generated",
            RequestOutcome::Refused => "refused",
            RequestOutcome::Failed => "failed",
        }
    }
}

pub fn requests(outcome: RequestOutcome, n: u64) {
    counter!(REQUESTS, "outcome" => outcome.label()).increment(n);
}

/// `result`: `available`, `failed` or `handed_back`.
pub fn generation_ended(result: &'static str) {
    counter!(GENERATIONS, "result" => result).increment(1);
}

/// One stage of a generation: a pipeline step (`script`, `image`, `clip`,
/// …), the whole generator run (`generate`) or the upload (`upload`).
pub fn stage(stage: &'static str, ok: bool, took: Duration) {
    histogram!(STAGE_SECONDS, "stage" => stage, "result" => ok_label(ok)).record(took.as_secs_f64());
}

pub fn upload(ok: bool) {
    counter!(UPLOADS, "result" => ok_label(ok)).increment(1);
}

/// One Bot API send attempt. `kind`: `message`, `edit`, `video`, `upload`, `invoice`;
/// `result`: `ok`, `flood_wait` (429), `unreachable`, `rejected`, `unknown_file`, `transient`.
pub fn send(kind: &'static str, result: &'static str) {
    counter!(SENDS, "kind" => kind, "result" => result).increment(1);
}

pub fn paid_send() {
    counter!(PAID_SENDS).increment(1);
}

/// Refreshed from the database at every scrape.
pub fn backlog(jobs_queued: u64, generations_running: u64, requests_waiting: u64) {
    gauge!(JOBS_QUEUED).set(jobs_queued as f64);
    gauge!(GENERATIONS_RUNNING).set(generations_running as f64);
    gauge!(REQUESTS_WAITING).set(requests_waiting as f64);
}

/// One provider call and its configured cost in millionths of a dollar.
pub fn provider_call(provider: &'static str, operation: &'static str, ok: bool, cost_micros: i64) {
    counter!(PROVIDER_CALLS, "provider" => provider, "operation" => operation, "result" => ok_label(ok)).increment(1);
    if let Ok(micros) = u64::try_from(cost_micros) {
        counter!(PROVIDER_COST, "provider" => provider, "operation" => operation).increment(micros);
    }
}

/// Credits moved on a user's account, by ledger kind (`grant`, `purchase`,
/// `hold`, `capture`, `release`, `refund`, `adjustment`), counted when the
/// ledger row is written.
pub fn credits_moved(kind: &'static str, amount: u64) {
    counter!(CREDITS_MOVED, "kind" => kind).increment(amount);
}

/// A moderation answer: `flagged` or `passed`.
pub fn moderation(result: &'static str) {
    counter!(MODERATIONS, "result" => result).increment(1);
}

/// A request answered at once with a safety refusal; `source`:
/// `moderation`, `blocked_words` or `provider`.
pub fn refusal_answered(source: &'static str) {
    counter!(REFUSALS_ANSWERED, "source" => source).increment(1);
}

/// Refusals, read from the database at each scrape: prompts refused now
/// by source, requests answered from memory, provider calls saved.
pub fn refusals(by_source: &[(&'static str, u64)], answered: u64, calls_saved: u64) {
    for (source, n) in by_source {
        gauge!(REFUSED_PROMPTS, "source" => *source).set(*n as f64);
    }
    gauge!(REFUSALS_FROM_MEMORY).set(answered as f64);
    gauge!(REFUSAL_CALLS_SAVED).set(calls_saved as f64);
}

fn ok_label(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}
