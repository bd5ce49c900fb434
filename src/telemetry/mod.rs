//! Logging (`RUST_LOG` filters, default `info`; `LOG_FORMAT` text or JSON,
//! one line per event on stderr) and the Prometheus metrics ([`measure`]).

pub mod every;
pub mod measure;

use std::fmt;

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

/// An error and every cause under it on one line (`what failed: why: …`),
/// for a log field: `error = %Chain(&err)`. Errors carry their cause as a
/// `source`, not in their own message, so logging the message alone would
/// drop it.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("could not record a request")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_chain_names_every_cause() {
        let err = Outer(std::io::Error::other("the disk is full"));
        assert_eq!(Chain(&err).to_string(), "could not record a request: the disk is full");
    }
}
