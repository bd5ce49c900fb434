//! What the operator console shows and does: the overview (the `/stats`
//! figures, running generations, waiting requests), assets by prompt text
//! and state, one asset's requests, stages, provider calls and operator
//! actions and approvals, one user's requests; the Clear button, which is
//! `/clear`, and the approve/reject buttons, which are the Telegram ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use super::approvals::{ApprovalPress, Approvals};
use super::operator::Operator;
use crate::db::approvals::{self, Approval};
use crate::db::assets::{self, Asset};
use crate::db::console::{self as queries, OperatorAction, ProviderCall};
use crate::db::credits;
use crate::db::refusals;
use crate::db::requests::{self, Request};
use crate::db::stages::{self, Costs, StepRow};
use crate::domain::{Actor, ApprovalId, AssetId, AssetStatus, Decision, Failure, Prompt, Stage, UserId};
use crate::storage::{VideoStore, key_of};
use crate::texts::{ClearOutcome, StatsReport};

/// A request with its asset (none when it never got one).
pub type RequestWithAsset = (Request, Option<Asset>);

/// How many rows a list shows at most.
pub const LIST_LIMIT: u64 = 100;

pub struct Console {
    db: DatabaseConnection,
    operator: Arc<Operator>,
    approvals: Arc<Approvals>,
    store: VideoStore,
}

/// Where the console plays an asset's video from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// The file on this machine.
    Local(PathBuf),
    /// The object stored under this name (`STORAGE_URL=s3://…`), when this
    /// machine has no copy (rendered elsewhere, or swept).
    Stored(String),
}

/// One asset as a list shows it.
#[derive(Debug, Clone)]
pub struct AssetSummary {
    pub asset: Asset,
    pub requests: i64,
    /// The staged progress ("images 7/10"), else the asset's stage.
    pub progress: Option<Stage>,
    pub costs: Costs,
    /// The rendered file is there to be played.
    pub has_video: bool,
}

/// Everything the asset page shows.
#[derive(Debug, Clone)]
pub struct AssetDetail {
    pub summary: AssetSummary,
    pub requests: Vec<Request>,
    /// The steps of the current generation.
    pub stages: Vec<StepRow>,
    pub calls: Vec<ProviderCall>,
    pub actions: Vec<OperatorAction>,
    /// Its approvals, newest first; the pending one can be decided.
    pub approvals: Vec<Approval>,
}

/// The overview page.
#[derive(Debug, Clone)]
pub struct Overview {
    pub stats: StatsReport,
    pub running: Vec<AssetSummary>,
    pub waiting: Vec<RequestWithAsset>,
    /// Prompts refused for safety (remembered), newest first, with the
    /// refusal each next request is answered with.
    pub refused: Vec<(Asset, Failure)>,
}

impl Console {
    pub fn new(db: DatabaseConnection, operator: Arc<Operator>, approvals: Arc<Approvals>, store: VideoStore) -> Self {
        Self { db, operator, approvals, store }
    }

    /// Where finished videos are kept.
    pub fn store(&self) -> &VideoStore {
        &self.store
    }

    #[tracing::instrument(skip(self))]
    pub async fn overview(&self) -> Result<Overview, DbErr> {
        let stats = self.operator.stats_report().await?;
        let running = queries::search_assets(&self.db, None, None, Some(AssetStatus::Generating), LIST_LIMIT).await?;
        let running = self.summaries(running).await?;
        let waiting = queries::waiting_requests(&self.db, LIST_LIMIT).await?;
        let refused = refusals::refused_assets(&self.db, LIST_LIMIT)
            .await?
            .into_iter()
            .filter_map(|(row, asset)| row.refusal().map(|reason| (asset, Failure::Refused(reason))))
            .collect();
        Ok(Overview { stats, running, waiting, refused })
    }

    /// Assets whose prompt contains `text`: the normalized prompt (`text`
    /// normalized like a request, so case and spacing don't matter) or the
    /// prompt as typed (`text` as given); in `state` if given.
    #[tracing::instrument(skip(self))]
    pub async fn search(&self, text: &str, state: Option<AssetStatus>) -> Result<Vec<AssetSummary>, DbErr> {
        let normalized = Prompt::parse(text, usize::MAX).ok().map(|p| p.as_str().to_owned());
        let typed = text.trim();
        let found = queries::search_assets(&self.db, normalized.as_deref(), Some(typed), state, LIST_LIMIT).await?;
        self.summaries(found).await
    }

    #[tracing::instrument(skip(self))]
    pub async fn asset(&self, id: AssetId) -> Result<Option<AssetDetail>, DbErr> {
        let Some(asset) = assets::find(&self.db, id).await? else { return Ok(None) };
        let stages = stages::for_generation(&self.db, id, asset.generation).await?;
        let requests = queries::requests_for_asset(&self.db, id, LIST_LIMIT).await?;
        let calls = queries::calls_for_asset(&self.db, id, LIST_LIMIT).await?;
        let actions = queries::actions_for_asset(&self.db, id).await?;
        let approvals = approvals::for_asset(&self.db, id, LIST_LIMIT).await?;
        let Some(summary) = self.summaries(vec![asset]).await?.into_iter().next() else { return Ok(None) };
        Ok(Some(AssetDetail { summary, requests, stages, calls, actions, approvals }))
    }

    /// A user's requests with their assets, newest first, and their credit
    /// balance (`None`: no credit account — credits off or never used).
    #[tracing::instrument(skip(self))]
    pub async fn user(&self, user: UserId) -> Result<(Vec<RequestWithAsset>, Option<i64>), DbErr> {
        let requests = requests::recent_for_user(&self.db, user, LIST_LIMIT).await?;
        Ok((requests, credits::balance(&self.db, user).await?))
    }

    /// The Clear button: clears this asset (not the prompt's other
    /// recipes), recorded with `by`;
    /// with the prompt as typed. `None` when there is no such asset.
    #[tracing::instrument(skip(self), fields(by = %by))]
    pub async fn clear(&self, id: AssetId, by: &Actor) -> Result<Option<(String, ClearOutcome)>, DbErr> {
        let Some(asset) = assets::find(&self.db, id).await? else { return Ok(None) };
        // this asset: this recipe's video (or this extension), and its extensions
        let outcome = self.operator.clear_key(by, &asset.prompt_key).await?;
        Ok(Some((asset.typed().to_owned(), outcome)))
    }

    /// An approve/reject button of the asset page: the decision a press of
    /// ✅/❌ in Telegram makes, recorded with `by`. `None` when asset
    /// `asset` has no approval `id`.
    #[tracing::instrument(skip(self), fields(by = %by))]
    pub async fn decide(
        &self,
        asset: AssetId,
        id: ApprovalId,
        decision: Decision,
        by: &Actor,
    ) -> Result<Option<ApprovalPress>, DbErr> {
        match approvals::find(&self.db, id).await? {
            Some(approval) if approval.asset_id == asset => {}
            _ => return Ok(None),
        }
        self.approvals.decide_as_operator(by, id, decision).await.map(Some)
    }

    /// Where the asset's rendered video can be played from: this machine's
    /// file if it is there, else the object storage. `None`: no video
    /// (the object may still turn out missing when read).
    #[tracing::instrument(skip(self))]
    pub async fn video(&self, id: AssetId) -> Result<Option<VideoSource>, DbErr> {
        let Some(asset) = assets::find(&self.db, id).await? else { return Ok(None) };
        Ok(self.video_source(&asset).await)
    }

    async fn video_source(&self, asset: &Asset) -> Option<VideoSource> {
        if let Some(path) = existing_file(asset).await {
            return Some(VideoSource::Local(path));
        }
        let key = key_of(Path::new(asset.file_path.as_deref()?))?;
        self.store.is_remote().then(|| VideoSource::Stored(key.to_owned()))
    }

    async fn summaries(&self, found: Vec<Asset>) -> Result<Vec<AssetSummary>, DbErr> {
        let ids: Vec<AssetId> = found.iter().map(|a| a.id).collect();
        let counts = queries::request_counts(&self.db, &ids).await?;
        let mut out = Vec::with_capacity(found.len());
        for asset in found {
            let progress = stages::progress_summary(&self.db, asset.id, asset.generation).await?.or(asset.stage);
            let costs = stages::costs_for_asset(&self.db, asset.id).await?;
            let requests = counts.iter().find(|(id, _)| *id == asset.id).map_or(0, |(_, n)| *n);
            let has_video = self.video_source(&asset).await.is_some();
            out.push(AssetSummary { asset, requests, progress, costs, has_video });
        }
        Ok(out)
    }
}

async fn existing_file(asset: &Asset) -> Option<PathBuf> {
    let path = PathBuf::from(asset.file_path.as_deref()?);
    tokio::fs::metadata(&path).await.ok().filter(|m| m.is_file()).map(|_| path)
}
