//! Queries on `generation_stages` (the steps of a staged generation, so a
//! re-run, or a takeover by the next generation, resumes instead of paying
//! again) and `provider_calls` (what each asset cost).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::generation_stages::{self, Column as S};
use super::entities::provider_calls::{self, Column as P};

pub use super::entities::generation_stages::{StageKind, StageStatus};
use crate::domain::{AssetId, Stage as Progress, StepCounts};

pub type StepRow = generation_stages::Model;

/// `segment` of the steps that belong to the whole asset (script, voice, assembly).
pub const WHOLE: i32 = -1;

/// One step of one generation of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepKey {
    pub asset_id: AssetId,
    pub generation: i64,
    pub kind: StageKind,
    pub segment: i32,
}

impl StepKey {
    fn filter<Q: QueryFilter>(&self, query: Q) -> Q {
        query
            .filter(S::AssetId.eq(self.asset_id))
            .filter(S::Generation.eq(self.generation))
            .filter(S::Kind.eq(self.kind))
            .filter(S::Segment.eq(self.segment))
    }
}

fn unique_step() -> OnConflict {
    OnConflict::columns([S::AssetId, S::Generation, S::Kind, S::Segment]).do_nothing().to_owned()
}

fn new_row(key: StepKey, status: StageStatus, now: DateTime<Utc>) -> generation_stages::ActiveModel {
    generation_stages::ActiveModel {
        id: NotSet,
        asset_id: Set(key.asset_id),
        generation: Set(key.generation),
        kind: Set(key.kind),
        segment: Set(key.segment),
        input: Set(None),
        provider: Set(None),
        provider_task_id: Set(None),
        submitted_at: Set(None),
        output: Set(None),
        status: Set(status),
        error: Set(None),
        payload: Set(None),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

pub async fn find<C: ConnectionTrait>(db: &C, key: StepKey) -> Result<Option<StepRow>, DbErr> {
    key.filter(generation_stages::Entity::find()).one(db).await
}

/// Records the steps a generation will take (as `pending`), so progress
/// can be counted against the plan; steps recorded already are left alone.
pub async fn plan<C: ConnectionTrait>(db: &C, keys: &[StepKey]) -> Result<(), DbErr> {
    if keys.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    generation_stages::Entity::insert_many(keys.iter().map(|key| new_row(*key, StageStatus::Pending, now)))
        .on_conflict(unique_step())
        .try_insert()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Marks a step running (creating its row if needed) and returns the row.
/// A provider task recorded by an earlier run is kept, to be polled again.
pub async fn start<C: ConnectionTrait>(db: &C, key: StepKey, input: &str, provider: Option<&str>) -> Result<StepRow, DbErr> {
    let now = Utc::now();
    generation_stages::Entity::insert(new_row(key, StageStatus::Pending, now))
        .on_conflict(unique_step())
        .try_insert()
        .exec_without_returning(db)
        .await?;
    key.filter(generation_stages::Entity::update_many())
        .col_expr(S::Status, Expr::value(StageStatus::Running))
        .col_expr(S::Input, Expr::value(input))
        .col_expr(S::Provider, Expr::value(provider.map(str::to_owned)))
        .col_expr(S::Error, Expr::value(Option::<String>::None))
        .col_expr(S::Attempts, Expr::col(S::Attempts).add(1))
        .col_expr(S::UpdatedAt, Expr::value(now))
        .exec(db)
        .await?;
    find(db, key).await?.ok_or_else(|| DbErr::RecordNotFound(format!("stage {key:?} vanished")))
}

/// Records the provider's task for a step. Call it before polling the task.
pub async fn set_task<C: ConnectionTrait>(db: &C, id: i64, task_id: &str, submitted_at: DateTime<Utc>) -> Result<(), DbErr> {
    generation_stages::Entity::update_many()
        .col_expr(S::ProviderTaskId, Expr::value(task_id))
        .col_expr(S::SubmittedAt, Expr::value(submitted_at))
        .col_expr(S::UpdatedAt, Expr::value(Utc::now()))
        .filter(S::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The step is done with `output` (a path or a text).
pub async fn finish<C: ConnectionTrait>(db: &C, id: i64, output: &str) -> Result<(), DbErr> {
    generation_stages::Entity::update_many()
        .col_expr(S::Status, Expr::value(StageStatus::Done))
        .col_expr(S::Output, Expr::value(output))
        .col_expr(S::Error, Expr::value(Option::<String>::None))
        .col_expr(S::UpdatedAt, Expr::value(Utc::now()))
        .filter(S::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Keeps the bytes of a finished step no provider can hand out again
/// (the voice-over), for a takeover on a machine without its file.
pub async fn set_payload<C: ConnectionTrait>(db: &C, id: i64, payload: Vec<u8>) -> Result<(), DbErr> {
    generation_stages::Entity::update_many().col_expr(S::Payload, Expr::value(payload)).filter(S::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Forgets the kept bytes of an asset's steps (its intermediates were swept).
pub async fn drop_payloads<C: ConnectionTrait>(db: &C, asset_id: AssetId) -> Result<(), DbErr> {
    generation_stages::Entity::update_many()
        .col_expr(S::Payload, Expr::value(Option::<Vec<u8>>::None))
        .filter(S::AssetId.eq(asset_id))
        .filter(S::Payload.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The step failed. With `forget_task` the provider task is dropped (it
/// failed or was abandoned), so the next run submits a new one; without
/// it the next run polls the same task again.
pub async fn fail<C: ConnectionTrait>(db: &C, id: i64, error: &str, forget_task: bool) -> Result<(), DbErr> {
    let mut update = generation_stages::Entity::update_many()
        .col_expr(S::Status, Expr::value(StageStatus::Failed))
        .col_expr(S::Error, Expr::value(error))
        .col_expr(S::UpdatedAt, Expr::value(Utc::now()));
    if forget_task {
        update = update
            .col_expr(S::ProviderTaskId, Expr::value(Option::<String>::None))
            .col_expr(S::SubmittedAt, Expr::value(Option::<DateTime<Utc>>::None));
    }
    update.filter(S::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// What a takeover carried over from the generation it replaces (see [`carry_over`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    /// Finished steps, copied as done.
    pub done: usize,
    /// Steps with a provider task recorded, copied as pending: the task is
    /// polled, not submitted again.
    pub submitted: usize,
    /// Steps that were running without a recorded task: a submit may have
    /// been in flight (and billed) when the worker died. They run again.
    pub unsure: usize,
}

/// Copies the steps of `from` that a takeover `to` of the same asset can
/// build on: finished steps (status, output and task kept) and steps whose
/// provider task was recorded (as pending, with the task, to be polled).
/// The assembly is not carried (its output is the generation's own file,
/// and ffmpeg costs nothing); steps that never reached a provider are not
/// carried either and run again. Rows `to` has already are left alone.
#[tracing::instrument(skip(db))]
pub async fn carry_over<C: ConnectionTrait>(db: &C, asset_id: AssetId, from: i64, to: i64) -> Result<Carried, DbErr> {
    let now = Utc::now();
    let mut carried = Carried::default();
    let mut rows = Vec::new();
    for old in for_generation(db, asset_id, from).await? {
        let done = old.status == StageStatus::Done && old.output.is_some();
        let submitted = old.provider_task_id.is_some() && old.submitted_at.is_some();
        if old.kind == StageKind::Assemble || !(done || submitted) {
            if old.status == StageStatus::Running && old.kind != StageKind::Assemble {
                carried.unsure += 1;
            }
            continue;
        }
        if done {
            carried.done += 1;
        } else {
            carried.submitted += 1;
        }
        let key = StepKey { asset_id, generation: to, kind: old.kind, segment: old.segment };
        let mut row = new_row(key, if done { StageStatus::Done } else { StageStatus::Pending }, now);
        row.input = Set(old.input);
        row.provider = Set(old.provider);
        row.provider_task_id = Set(old.provider_task_id);
        row.submitted_at = Set(old.submitted_at);
        row.output = Set(if done { old.output } else { None });
        row.payload = Set(if done { old.payload } else { None });
        row.attempts = Set(old.attempts);
        rows.push(row);
    }
    if !rows.is_empty() {
        generation_stages::Entity::insert_many(rows).on_conflict(unique_step()).try_insert().exec_without_returning(db).await?;
    }
    Ok(carried)
}

/// Sets a finished step back to pending (its file is gone), keeping its
/// provider task, so that progress does not count it and a re-run polls
/// the task and downloads the result again.
pub async fn reopen<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    generation_stages::Entity::update_many()
        .col_expr(S::Status, Expr::value(StageStatus::Pending))
        .col_expr(S::Output, Expr::value(Option::<String>::None))
        .col_expr(S::UpdatedAt, Expr::value(Utc::now()))
        .filter(S::Id.eq(id))
        .filter(S::Status.eq(StageStatus::Done))
        .exec(db)
        .await?;
    Ok(())
}

/// Every step of one generation, in order of kind and segment.
pub async fn for_generation<C: ConnectionTrait>(db: &C, asset_id: AssetId, generation: i64) -> Result<Vec<StepRow>, DbErr> {
    generation_stages::Entity::find()
        .filter(S::AssetId.eq(asset_id))
        .filter(S::Generation.eq(generation))
        .order_by_asc(S::Id)
        .all(db)
        .await
}

/// Where a staged generation is ("images 7/10, clips 3/10"); `None` if it
/// has no steps (a generator without stages).
pub async fn progress_summary<C: ConnectionTrait>(db: &C, asset_id: AssetId, generation: i64) -> Result<Option<Progress>, DbErr> {
    Ok(summarize(&for_generation(db, asset_id, generation).await?))
}

/// The progress of a set of steps (see [`progress_summary`]).
pub fn summarize(stages: &[StepRow]) -> Option<Progress> {
    if stages.is_empty() {
        return None;
    }
    let status_of = |kind: StageKind| stages.iter().find(|s| s.kind == kind && s.segment == WHOLE).map(|s| s.status);
    let count = |kind: StageKind| {
        let of_kind = stages.iter().filter(|s| s.kind == kind);
        let total = of_kind.clone().count();
        let done = of_kind.filter(|s| s.status == StageStatus::Done).count();
        (u32::try_from(done).unwrap_or(u32::MAX), u32::try_from(total).unwrap_or(u32::MAX))
    };
    if status_of(StageKind::Script).is_some_and(|s| s != StageStatus::Done) {
        return Some(Progress::Script);
    }
    if status_of(StageKind::Assemble).is_some_and(|s| s == StageStatus::Running) {
        return Some(Progress::Assembling);
    }
    let (images_done, images) = count(StageKind::Image);
    let (clips_done, clips) = count(StageKind::Clip);
    let counts = StepCounts {
        images_done,
        images,
        clips_done,
        clips,
        voice_ready: status_of(StageKind::Voice) == Some(StageStatus::Done),
        assembled: status_of(StageKind::Assemble) == Some(StageStatus::Done),
    };
    (counts != StepCounts::default()).then_some(Progress::Steps(counts))
}

// ---- costs -----------------------------------------------------------------

/// One billable provider call to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub asset_id: Option<AssetId>,
    pub provider: &'static str,
    pub operation: &'static str,
    pub seconds: f64,
    pub cost_micros: i64,
    pub ok: bool,
}

pub async fn record_call<C: ConnectionTrait>(db: &C, call: &NewCall) -> Result<(), DbErr> {
    provider_calls::Entity::insert(provider_calls::ActiveModel {
        id: NotSet,
        asset_id: Set(call.asset_id),
        provider: Set(call.provider.to_owned()),
        operation: Set(call.operation.to_owned()),
        seconds: Set(call.seconds),
        cost_micros: Set(call.cost_micros),
        ok: Set(call.ok),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Calls of one provider operation, summed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostLine {
    pub provider: String,
    pub operation: String,
    pub calls: i64,
    pub failed: i64,
    pub seconds: f64,
    pub cost_micros: i64,
}

/// Costs per provider operation, for /status of an asset or /stats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Costs {
    pub lines: Vec<CostLine>,
}

impl Costs {
    pub fn calls(&self) -> i64 {
        self.lines.iter().map(|l| l.calls).sum()
    }

    pub fn seconds(&self) -> f64 {
        self.lines.iter().map(|l| l.seconds).sum()
    }

    pub fn cost_micros(&self) -> i64 {
        self.lines.iter().map(|l| l.cost_micros).sum()
    }

    /// Plain text, one line per operation and a total, e.g.
    /// `runway image_to_video: 10 calls (1 failed), 512.3 s, $2.500000`.
    pub fn describe(&self) -> String {
        if self.lines.is_empty() {
            return "no provider calls".to_owned();
        }
        let mut out = String::new();
        for line in &self.lines {
            let _ = write!(out, "{} {}: {} calls", line.provider, line.operation, line.calls);
            if line.failed > 0 {
                let _ = write!(out, " ({} failed)", line.failed);
            }
            let _ = writeln!(out, ", {:.1} s, {}", line.seconds, dollars(line.cost_micros));
        }
        let _ = write!(out, "total: {} calls, {:.1} s, {}", self.calls(), self.seconds(), dollars(self.cost_micros()));
        out
    }
}

/// `$1.250000` from micro-dollars.
pub fn dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}${}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// The costs of one asset (over all its generations).
pub async fn costs_for_asset<C: ConnectionTrait>(db: &C, asset_id: AssetId) -> Result<Costs, DbErr> {
    costs(db, Some(asset_id)).await
}

/// The costs of every call ever made, for /stats.
pub async fn cost_totals<C: ConnectionTrait>(db: &C) -> Result<Costs, DbErr> {
    costs(db, None).await
}

/// provider, operation, calls, failed, seconds, cost
type CostRow = (String, String, i64, Option<i64>, Option<f64>, Option<i64>);

async fn costs<Db: ConnectionTrait>(db: &Db, asset_id: Option<AssetId>) -> Result<Costs, DbErr> {
    let bigint = || Alias::new("BIGINT");
    let mut query = provider_calls::Entity::find()
        .select_only()
        .column(P::Provider)
        .column(P::Operation)
        .column_as(Expr::col(P::Id).count(), "calls")
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::case(P::Ok.eq(false), 1).finally(0)), bigint())), "failed")
        .column_as(Expr::from(Func::sum(Expr::col(P::Seconds))), "seconds")
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(P::CostMicros)), bigint())), "cost_micros")
        .group_by(P::Provider)
        .group_by(P::Operation)
        .order_by_asc(P::Provider)
        .order_by_asc(P::Operation);
    if let Some(id) = asset_id {
        query = query.filter(P::AssetId.eq(id));
    }
    let rows: Vec<CostRow> = query.into_tuple().all(db).await?;
    let lines = rows
        .into_iter()
        .map(|(provider, operation, calls, failed, seconds, cost_micros)| CostLine {
            provider,
            operation,
            calls,
            failed: failed.unwrap_or(0),
            seconds: seconds.unwrap_or(0.0),
            cost_micros: cost_micros.unwrap_or(0),
        })
        .collect();
    Ok(Costs { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(stage: &Progress) -> String {
        crate::texts::Lang::En.texts().stage(stage)
    }

    fn stage(kind: StageKind, segment: i32, status: StageStatus) -> StepRow {
        let now = Utc::now();
        StepRow {
            id: 0,
            asset_id: AssetId(1),
            generation: 1,
            kind,
            segment,
            input: None,
            provider: None,
            provider_task_id: None,
            submitted_at: None,
            output: None,
            status,
            error: None,
            payload: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn summary_counts_images_and_clips() {
        let mut stages = vec![stage(StageKind::Script, WHOLE, StageStatus::Done)];
        for i in 0..10 {
            stages.push(stage(StageKind::Image, i, if i < 7 { StageStatus::Done } else { StageStatus::Running }));
            stages.push(stage(StageKind::Clip, i, if i < 3 { StageStatus::Done } else { StageStatus::Pending }));
        }
        assert_eq!(summarize(&stages).map(|s| shown(&s)).as_deref(), Some("Images 7/10, clips 3/10"));
        stages.push(stage(StageKind::Voice, WHOLE, StageStatus::Done));
        assert_eq!(summarize(&stages).map(|s| shown(&s)).as_deref(), Some("Images 7/10, clips 3/10, voice-over ready"));
        stages.push(stage(StageKind::Assemble, WHOLE, StageStatus::Running));
        assert_eq!(summarize(&stages).map(|s| shown(&s)).as_deref(), Some("Assembling the video"));
    }

    #[test]
    fn summary_before_the_script_and_without_stages() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(
            summarize(&[stage(StageKind::Script, WHOLE, StageStatus::Running)]).map(|s| shown(&s)).as_deref(),
            Some("Writing the script")
        );
    }

    #[test]
    fn dollars_are_exact() {
        assert_eq!(dollars(0), "$0.000000");
        assert_eq!(dollars(2_500_000), "$2.500000");
        assert_eq!(dollars(-15), "-$0.000015");
    }
}
