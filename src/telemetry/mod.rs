//! Logging (`RUST_LOG` filters, default `info`; `LOG_FORMAT` text or JSON,
//! one line per event on stderr) and the Prometheus metrics ([`measure`]).

pub mod every;
pub mod measure;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`LOG_FORMAT`; read with the other settings in `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line, with the fields of the current spans.
    Json,
}

/// apalis's monitor logs every worker restart; the worker logs its own, rate-limited.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sqlx::postgres::notice=error,sea_orm=warn,apalis=warn,apalis_core::monitor=error";

/// Installs the log subscriber once; later calls do nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        // One JSON object per line: the event's fields, its level and time,
        // and the fields of every span it happened in.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).with_target(true).try_init(),
    };
}
