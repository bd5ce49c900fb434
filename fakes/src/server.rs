//! What the fake servers share: serving a router on loopback until told to stop.

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` in a spawned task until `stop` turns true.
pub(crate) fn spawn(name: &'static str, listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
            tracing::warn!("{name} server failed: {e}");
        }
    });
}
