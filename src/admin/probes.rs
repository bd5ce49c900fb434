//! `/livez`, `/readyz` and `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::service::Health;
use crate::telemetry::measure;

pub fn routes(health: Health) -> Router {
    Router::new().route("/livez", get(livez)).route("/readyz", get(readyz)).route("/metrics", get(metrics)).with_state(health)
}

/// The process runs and answers: no dependency is asked.
async fn livez() -> &'static str {
    "ok\n"
}

/// 200 when the database and the queue answer; 503 naming the one that did not.
async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    let readiness = health.readiness().await;
    let line = |name: &str, result: &Result<(), String>| match result {
        Ok(()) => format!("{name}: ok\n"),
        Err(reason) => format!("{name}: failed: {reason}\n"),
    };
    let body = format!(
        "{}\n{}{}",
        if readiness.ready() { "ready" } else { "not ready" },
        line("database", &readiness.database),
        line("queue", &readiness.queue)
    );
    if !readiness.ready() {
        tracing::warn!(database = ?readiness.database, queue = ?readiness.queue, "not ready");
    }
    let status = if readiness.ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, body)
}

/// Prometheus text format; the backlog gauges are read from the database first.
async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    match health.backlog().await {
        Ok(backlog) => measure::backlog(backlog.jobs_queued, backlog.generations_running, backlog.requests_waiting),
        Err(err) => tracing::warn!(error = %err, "cannot read the backlog for /metrics"),
    }
    match health.refusals().await {
        Ok(t) => {
            let by_source: Vec<(&'static str, u64)> = t.by_source.iter().map(|(s, n)| (s.as_str(), *n)).collect();
            measure::refusals(&by_source, t.answered, t.calls_saved);
        }
        Err(err) => tracing::warn!(error = %err, "cannot read the refusals for /metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], measure::render())
}
