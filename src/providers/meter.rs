//! Counts billable provider calls in `provider_calls`: how long each took
//! and what it cost at the configured price (charged for successful calls only).

use std::future::Future;
use std::time::Instant;

use sea_orm::DatabaseConnection;

use super::http::ProviderError;
use crate::config::Prices;
use crate::db::stages::{self, NewCall};
use crate::domain::AssetId;
use crate::telemetry::measure;

#[derive(Debug, Clone)]
pub struct Meter {
    db: DatabaseConnection,
    prices: Prices,
}

impl Meter {
    pub fn new(db: DatabaseConnection, prices: Prices) -> Self {
        Self { db, prices }
    }

    /// Records one call that started at `started`. A failure to record is
    /// logged, never returned: costs must not fail a generation.
    pub async fn record(
        &self,
        asset_id: Option<AssetId>,
        provider: &'static str,
        operation: &'static str,
        started: Instant,
        ok: bool,
    ) {
        let call = NewCall {
            asset_id,
            provider,
            operation,
            seconds: started.elapsed().as_secs_f64(),
            cost_micros: if ok { self.prices.per_call(provider, operation) } else { 0 },
            ok,
        };
        measure::provider_call(provider, operation, ok, call.cost_micros);
        if let Err(err) = stages::record_call(&self.db, &call).await {
            tracing::warn!(error = %err, provider, operation, "could not record a provider call");
        }
    }

    /// Runs `call`, records it, and returns its result.
    pub async fn measure<T>(
        &self,
        asset_id: Option<AssetId>,
        provider: &'static str,
        operation: &'static str,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let result = call.await;
        self.record(asset_id, provider, operation, started, result.is_ok()).await;
        result
    }
}
