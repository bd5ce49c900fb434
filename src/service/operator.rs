//! What operators (`ADMIN_USER_IDS`) do and see: clear a cached video, one
//! asset's report, the totals.

use std::path::PathBuf;

use sea_orm::{DatabaseConnection, DbErr};

use super::catalog::Catalog;
use super::housekeeping;
use crate::cache::VideoCache;
use crate::db::assets;
use crate::db::clear::{self, Cleared};
use crate::db::{credits, refusals, requests, stages};
use crate::domain::{Actor, AssetStatus, Prompt, PromptKey, RefusalSource, RequestStatus};
use crate::storage::{VideoStore, key_of};
use crate::texts::{AssetReport, ClearOutcome, CreditFigures, RefusalFigures, StatsReport, Texts};

pub struct Operator {
    db: DatabaseConnection,
    catalog: Catalog,
    store: VideoStore,
    data_dir: PathBuf,
    /// Credits on: `/stats` shows them.
    credits: bool,
}

impl Operator {
    pub fn new(db: DatabaseConnection, cache: VideoCache, store: VideoStore, data_dir: PathBuf) -> Self {
        Self { catalog: Catalog::new(db.clone(), cache), db, store, data_dir, credits: false }
    }

    /// Bytes the data dir takes on this machine (also shown by the console).
    pub async fn disk_used(&self) -> u64 {
        housekeeping::disk_used(&self.data_dir).await
    }

    /// `/stats` shows credits sold, held, captured and refunded.
    pub fn with_credits(mut self, on: bool) -> Self {
        self.credits = on;
        self
    }

    /// `/clear <prompt>`: drops the cached videos of `prompt` — one per
    /// recipe it was made with (format, quality, length, generator) and
    /// their extensions — so the next request makes it again; recorded with
    /// `by`.
    #[tracing::instrument(skip(self, prompt), fields(by = %by))]
    pub async fn clear(&self, by: &Actor, prompt: &Prompt) -> Result<ClearOutcome, DbErr> {
        let found = assets::of_prompt(&self.db, prompt).await?;
        let mut outcome = ClearOutcome::Unknown;
        for asset in &found {
            let one = self.clear_key(by, &asset.prompt_key).await?;
            outcome = match (outcome, one) {
                (ClearOutcome::Cleared, _) | (_, ClearOutcome::Cleared) => ClearOutcome::Cleared,
                (ClearOutcome::InProgress, _) | (_, ClearOutcome::InProgress) => ClearOutcome::InProgress,
                (ClearOutcome::AlreadyClear, _) | (_, ClearOutcome::AlreadyClear) => ClearOutcome::AlreadyClear,
                _ => ClearOutcome::Unknown,
            };
        }
        Ok(outcome)
    }

    /// The console's Clear button: drops one asset's video (that recipe,
    /// or that extension) and its extensions.
    #[tracing::instrument(skip(self, key), fields(by = %by))]
    pub async fn clear_key(&self, by: &Actor, key: &PromptKey) -> Result<ClearOutcome, DbErr> {
        Ok(match clear::clear(&self.db, key, by).await? {
            Cleared::Cleared { asset_id, cleared } => {
                let keys: Vec<PromptKey> =
                    std::iter::once(key.clone()).chain(cleared.iter().map(|gone| gone.key.clone())).collect();
                self.catalog.drop_keys(&keys).await;
                for gone in &cleared {
                    let Some(path) = &gone.file_path else { continue };
                    let path = std::path::Path::new(&path);
                    if let Err(err) = tokio::fs::remove_file(path).await {
                        tracing::debug!(error = %err, path = %path.display(), "cleared asset's file was already gone");
                    }
                    // and the stored copy, wherever it is
                    if let Some(key) = key_of(path)
                        && let Err(err) = self.store.delete(key).await
                    {
                        tracing::warn!(error = %err, key, "could not delete the cleared video from storage");
                    }
                }
                tracing::info!(%asset_id, extensions = cleared.iter().filter(|c| c.id != asset_id).count(), "asset cleared by an operator");
                ClearOutcome::Cleared
            }
            Cleared::Unknown => ClearOutcome::Unknown,
            Cleared::InProgress => ClearOutcome::InProgress,
            Cleared::AlreadyClear => ClearOutcome::AlreadyClear,
        })
    }

    /// `/allow <prompt>`: lifts the safety refusal of every recipe of
    /// `prompt`, so the next request makes it (without moderation or the
    /// blocked words); recorded with `by`. Returns how many were lifted.
    #[tracing::instrument(skip(self, prompt), fields(by = %by))]
    pub async fn allow(&self, by: &Actor, prompt: &Prompt) -> Result<u64, DbErr> {
        let lifted = refusals::allow(&self.db, prompt, by).await?;
        tracing::info!(lifted, "refusals lifted by an operator");
        Ok(lifted)
    }

    /// `/status <prompt>`: state, progress, attempts, requests, costs.
    /// One report per recipe the prompt was made with.
    pub async fn asset_report(&self, prompt: &Prompt, texts: &dyn Texts) -> Result<String, DbErr> {
        let found = assets::of_prompt(&self.db, prompt).await?;
        if found.is_empty() {
            return Ok(texts.cleared(prompt.as_str(), ClearOutcome::Unknown));
        }
        let mut reports = Vec::with_capacity(found.len());
        for asset in &found {
            reports.push(self.one_report(asset, texts).await?);
        }
        Ok(reports.join("\n\n"))
    }

    async fn one_report(&self, asset: &assets::Asset, texts: &dyn Texts) -> Result<String, DbErr> {
        let progress = stages::progress_summary(&self.db, asset.id, asset.generation).await?;
        let costs = stages::costs_for_asset(&self.db, asset.id).await?.describe();
        let report = AssetReport {
            prompt: asset.typed(),
            normalized: (asset.typed() != asset.prompt).then_some(asset.prompt.as_str()),
            asset_id: asset.id.0,
            status: asset.status,
            generation: asset.generation,
            attempts: asset.attempts,
            requests: requests::count_for_asset(&self.db, asset.id).await?,
            stage: progress.or(asset.stage),
            last_error: asset.last_error.as_ref(),
            costs: &costs,
            recipe: asset.recipe(),
            made_with: asset.made_with(),
        };
        Ok(texts.asset_report(&report))
    }

    /// `/stats`: what dedup saved, and what providers cost.
    pub async fn stats(&self, texts: &dyn Texts) -> Result<String, DbErr> {
        let mut text = texts.stats(&self.stats_report().await?);
        let search = crate::db::search::counts(&self.db).await?;
        text.push('\n');
        text.push_str(&texts.search_stats(
            search.inline_answers,
            search.inline_sends,
            search.offers_made,
            search.offers_accepted,
            search.offers_declined,
        ));
        Ok(text)
    }

    /// The figures of `/stats` (the console's overview shows them too).
    pub async fn stats_report(&self) -> Result<StatsReport, DbErr> {
        let mut assets_by_status = Vec::new();
        for status in
            [AssetStatus::Available, AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Awaiting, AssetStatus::Failed]
        {
            assets_by_status.push((status, assets::count_by_status(&self.db, status).await?));
        }
        let report = StatsReport {
            assets: assets_by_status,
            completed: requests::count_by_status(&self.db, RequestStatus::Completed).await?,
            pending: requests::count_by_status(&self.db, RequestStatus::Pending).await?,
            failed: requests::count_by_status(&self.db, RequestStatus::Failed).await?,
            generations: assets::total_attempts(&self.db).await?,
            costs: stages::cost_totals(&self.db).await?.describe(),
            paid_sends: requests::count_paid_broadcasts(&self.db).await?,
            disk_used: self.disk_used().await,
            refusals: {
                let t = refusals::totals(&self.db).await?;
                let of = |source| t.by_source.iter().find(|(s, _)| *s == source).map_or(0, |(_, n)| *n);
                RefusalFigures {
                    moderation: of(RefusalSource::Moderation),
                    blocked_words: of(RefusalSource::BlockedWords),
                    provider: of(RefusalSource::Provider),
                    answered: t.answered,
                    calls_saved: t.calls_saved,
                    allowed: t.allowed,
                }
            },
            credits: match self.credits {
                false => None,
                true => {
                    let t = credits::totals(&self.db).await?;
                    Some(CreditFigures {
                        stars: t.stars,
                        sold: t.sold,
                        held: t.held,
                        captured: t.captured,
                        released: t.released,
                        refunded: t.refunded,
                    })
                }
            },
        };
        Ok(report)
    }
}
