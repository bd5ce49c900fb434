//! Webhook mode: Telegram POSTs each update to `WEBHOOK_URL`; we serve it on
//! `WEBHOOK_LISTEN_ADDR`. Every call must carry `WEBHOOK_SECRET` in
//! `X-Telegram-Bot-Api-Secret-Token`; anything else gets 401. An update is
//! answered 200 only after it was recorded, so Telegram re-sends it if we
//! die first. Several bot replicas can sit behind one load balancer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use teloxide::types::Update;
use tokio_util::sync::CancellationToken;

use super::handler::{Handled, UpdateHandler};
use crate::config::WebhookSettings;
use crate::telegram::api::{ApiError, BotApi};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Why webhook mode could not start (either fails start-up).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The address is taken or not this host's: a setup fault here.
    #[error("cannot listen on {addr} (WEBHOOK_LISTEN_ADDR)")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Telegram refused `setWebhook` (a URL it can't reach, not HTTPS) or
    /// did not answer.
    #[error("Telegram refused the webhook")]
    Refused(#[source] ApiError),
}

#[derive(Clone)]
struct Hook {
    handler: Arc<UpdateHandler>,
    secret: Arc<str>,
}

/// Compares without revealing, through timing, how much of the secret matched.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !same_secret(given, hook.secret.as_bytes()) {
        let reason = if given.is_empty() { "missing" } else { "wrong" };
        tracing::warn!(reason, "refused a webhook call without the right secret token");
        return StatusCode::UNAUTHORIZED;
    }
    match serde_json::from_slice::<Update>(&body) {
        // a paid purchase not credited yet: 500, so Telegram delivers it again
        Ok(update) => match hook.handler.handle(update).await {
            Handled::Done => StatusCode::OK,
            Handled::Again => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Err(err) => {
            // Telegram would re-send forever; an unreadable update is skipped.
            tracing::warn!(error = %err, "skipping a webhook update that does not parse");
            StatusCode::OK
        }
    }
}

/// Binds the listener and registers the webhook with Telegram (either
/// failing fails start-up), then returns the server to run until shutdown.
pub async fn start_webhook(
    api: BotApi,
    handler: Arc<UpdateHandler>,
    settings: WebhookSettings,
    shutdown: CancellationToken,
) -> Result<impl Future<Output = ()> + Send + 'static, WebhookError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| WebhookError::Listen { addr: settings.listen, source })?;
    api.set_webhook(&settings.url, Some(settings.secret.expose())).await.map_err(WebhookError::Refused)?;
    tracing::info!(listen = %settings.listen, "receiving updates by webhook");
    let app = Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(Hook { handler, secret: settings.secret.expose().into() });
    Ok(async move {
        if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await {
            tracing::error!(error = %err, "the webhook server failed");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
