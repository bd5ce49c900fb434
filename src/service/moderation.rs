//! Moderation before any paid step (`MODERATION=openai`): a generation's
//! first step asks OpenAI's `/v1/moderations` about the prompt (and a
//! remix's photo) once per asset key. A flagged key is refused — the
//! refusal is remembered with the asset's failure — and a passed one is not
//! asked again. An outage is the caller's to wait out: nothing is recorded.

use std::time::Instant;

use sea_orm::{DatabaseConnection, DbErr};

use crate::db::{refusals, stages};
use crate::domain::{AssetId, Category, RefusalReason};
use crate::providers::{OpenAiClient, ProviderError};
use crate::telemetry::measure;

/// What moderation decided for an asset key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// Go on: passed now or before, allowed by an operator, or moderation is off.
    Clear,
    /// Flagged (now, or remembered): fail the asset with this reason.
    Refused(RefusalReason),
}

#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error("could not read or record the moderation verdict: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl ModerationError {
    /// An answer that asking again can't change (a 4xx other than 408 and
    /// 429: the request itself was refused). Everything else — a 5xx, a
    /// timeout, a connection that failed, the database — is waited out.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ModerationError::Provider(ProviderError::Status { status, .. }) if (400..500).contains(status) && *status != 408 && *status != 429)
    }
}

/// The photo of a remix, as moderation takes it.
#[derive(Debug, Clone, Copy)]
pub struct Photo<'a> {
    pub bytes: &'a [u8],
    pub mime: &'a str,
}

pub struct Moderation {
    db: DatabaseConnection,
    /// `None`: `MODERATION=off`.
    client: Option<OpenAiClient>,
}

impl Moderation {
    pub fn new(db: DatabaseConnection, client: Option<OpenAiClient>) -> Self {
        Self { db, client }
    }

    pub fn enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Screens the asset's prompt (and photo): asks the API only when
    /// nothing is known of the key yet. A flagged answer returns the
    /// refusal (the caller fails the asset with it, which remembers it);
    /// a clean one is remembered as passed.
    #[tracing::instrument(skip(self, prompt, photo), fields(asset_id = %asset))]
    pub async fn screen(&self, asset: AssetId, prompt: &str, photo: Option<Photo<'_>>) -> Result<Screened, ModerationError> {
        let Some(client) = &self.client else { return Ok(Screened::Clear) };
        if let Some(known) = refusals::of_asset(&self.db, asset).await? {
            return Ok(match known.refusal() {
                Some(reason) => Screened::Refused(reason),
                None => Screened::Clear,
            });
        }
        let started = Instant::now();
        let answer = client.moderate(prompt, photo.map(|p| (p.bytes, p.mime))).await;
        let call = stages::NewCall {
            asset_id: Some(asset),
            provider: "openai",
            operation: "moderation",
            seconds: started.elapsed().as_secs_f64(),
            cost_micros: 0,
            ok: answer.is_ok(),
        };
        measure::provider_call(call.provider, call.operation, call.ok, 0);
        if let Err(err) = stages::record_call(&self.db, &call).await {
            tracing::warn!(error = %err, "could not record the moderation call");
        }
        let moderated = answer?;
        measure::moderation(if moderated.flagged { "flagged" } else { "passed" });
        if moderated.flagged {
            let categories = moderated.categories.iter().filter_map(|name| Category::parse(name)).collect();
            tracing::info!(categories = ?moderated.categories, "moderation flagged the prompt; nothing is generated");
            return Ok(Screened::Refused(RefusalReason::moderation(categories)));
        }
        refusals::record_passed(&self.db, asset).await?;
        Ok(Screened::Clear)
    }
}
