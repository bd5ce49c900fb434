//! The admin listener (`ADMIN_LISTEN_ADDR`, on every role): `GET /metrics`
//! for Prometheus, `GET /livez` and `GET /readyz` for an orchestrator, and
//! the operator console at `/` when `ADMIN_TOKEN` is set.

pub mod console;
mod probes;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::AdminSettings;
use crate::service::Health;
use crate::telemetry::measure;

pub use console::ConsoleDeps;

/// How often histogram buffers are drained into the exporter.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Why the admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `ADMIN_LISTEN_ADDR` was given and can't be bound (taken, or not this host's).
    #[error("cannot listen on {addr} (ADMIN_LISTEN_ADDR)")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the listener needs from the rest of the process.
pub struct AdminDeps {
    pub health: Health,
    pub console: ConsoleDeps,
}

/// Binds the listener and returns the server to run until `shutdown`
/// (`None` when `ADMIN_LISTEN_ADDR` is empty). An address given explicitly
/// that can't be bound fails start-up; the default one is skipped with a
/// warning (another role on this machine may hold it).
pub async fn start(
    settings: &AdminSettings,
    deps: AdminDeps,
    shutdown: CancellationToken,
) -> Result<Option<impl Future<Output = ()> + Send + 'static>, AdminError> {
    let Some(addr) = settings.listen else {
        tracing::info!("admin listener off (ADMIN_LISTEN_ADDR is empty)");
        return Ok(None);
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) if !settings.listen_explicit => {
            tracing::warn!(%addr, error = %err, "cannot listen on the default admin address; running without /metrics, /livez, /readyz and the console (set ADMIN_LISTEN_ADDR)");
            return Ok(None);
        }
        Err(source) => return Err(AdminError::Listen { addr, source }),
    };
    if let Err(err) = measure::install() {
        tracing::warn!(error = %err, "cannot install the metrics recorder; /metrics stays empty");
    }
    let bound: SocketAddr = listener.local_addr().unwrap_or(addr);
    let console_on = settings.token.is_some();
    tracing::info!(listen = %bound, console = console_on, "admin listener up: /metrics, /livez, /readyz, console at /");
    let app = Router::new().merge(probes::routes(deps.health)).merge(console::routes(settings.token.clone(), deps.console));
    Ok(Some(async move {
        let upkeep = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = upkeep.cancelled() => return,
                    () = tokio::time::sleep(UPKEEP_EVERY) => measure::upkeep(),
                }
            }
        });
        if let Err(err) = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        {
            tracing::error!(error = %err, "the admin listener failed");
        }
    }))
}
