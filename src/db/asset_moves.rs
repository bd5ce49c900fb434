//! The one writer of an asset's status. Every change of a `video_assets`
//! row's lifecycle is an [`AssetMove`] decided by the domain, applied here
//! as one guarded `UPDATE … RETURNING`: the row changes only when its
//! status is one the move may start from (and the caller's guard holds,
//! e.g. "this worker still holds the lease"), so an illegal or stale move
//! changes nothing. `tests/api/layers.rs` fails on a status written anywhere else.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter};

use super::entities::video_assets::{self, Column};
use crate::domain::{AssetId, AssetMove, AssetStatus, Failure, FileId, Generation};

type Asset = video_assets::Model;

/// Applies `mv` to asset `asset` if its status allows the move and `guard`
/// holds; returns the row as it is now, or `None` when nothing changed.
pub(super) async fn apply<C: ConnectionTrait>(
    db: &C,
    asset: AssetId,
    mv: &AssetMove,
    guard: Condition,
    now: DateTime<Utc>,
) -> Result<Option<Asset>, DbErr> {
    let mut update = video_assets::Entity::update_many()
        .col_expr(Column::Status, Expr::value(mv.to()))
        .col_expr(Column::Stage, Expr::value(mv.stage()))
        .col_expr(Column::UpdatedAt, Expr::value(now));
    if !mv.keeps_lease() {
        update = update
            .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
    }
    if let Some(generation) = mv.generation() {
        update = update.col_expr(Column::Generation, Expr::value(generation));
    }
    if let Some(failure) = mv.failure() {
        update = update.col_expr(Column::LastError, Expr::value(failure));
    }
    let mut legal = Condition::any().add(Column::Status.is_in(mv.from().iter().copied()));
    match mv {
        AssetMove::Queue { typed, .. } => {
            update = update.col_expr(Column::LastError, Expr::value(Option::<Failure>::None));
            if let Some(typed) = typed {
                // made anew: drawn as the request that starts it typed it
                update = update.col_expr(Column::TypedPrompt, Expr::value(typed.clone()));
            }
            // an available asset is made again only when it has no video
            legal = Condition::any()
                .add(Column::Status.eq(AssetStatus::Failed))
                .add(Column::Status.eq(AssetStatus::Available).and(Column::FileId.is_null()));
        }
        AssetMove::WaitForSlot { generation, now } => {
            update = update
                .col_expr(Column::DispatchedGeneration, Expr::value(*generation))
                .col_expr(Column::DispatchedAt, Expr::value(*now));
        }
        AssetMove::Take { owner, lease_until } => {
            update = update
                .col_expr(Column::LeaseOwner, Expr::value(owner.clone()))
                .col_expr(Column::LeaseUntil, Expr::value(*lease_until))
                .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
        }
        AssetMove::Publish { file } => {
            update = update
                .col_expr(Column::LastError, Expr::value(Option::<Failure>::None))
                .col_expr(Column::FileId, Expr::value(file.as_ref().map(|f| f.0.clone())))
                .col_expr(Column::FileUniqueId, Expr::value(file.as_ref().map(|f| f.1.clone())));
        }
        AssetMove::Clear => {
            update = update
                .col_expr(Column::FileId, Expr::value(Option::<FileId>::None))
                .col_expr(Column::FileUniqueId, Expr::value(Option::<String>::None))
                .col_expr(Column::FilePath, Expr::value(Option::<String>::None));
        }
        AssetMove::AwaitApproval { .. }
        | AssetMove::Resume { .. }
        | AssetMove::Reclaim { .. }
        | AssetMove::Fail(_)
        | AssetMove::CallOff
        | AssetMove::Refuse(_) => {}
    }
    let rows = update.filter(Column::Id.eq(asset)).filter(legal).filter(guard).exec_with_returning(db).await?;
    Ok(rows.into_iter().next())
}

/// The row of `job`'s generation while `owner` holds its lease.
pub(super) fn held(job: Generation, owner: &str) -> Condition {
    Condition::all().add(Column::Id.eq(job.asset)).add(Column::Generation.eq(job.number)).add(Column::LeaseOwner.eq(owner))
}

/// The row while its generation is still `number`.
pub(super) fn at_generation(number: i64) -> Condition {
    Condition::all().add(Column::Generation.eq(number))
}

/// A worker may take the row: pending, or generating with a lease that ran out.
pub(super) fn takeable(now: DateTime<Utc>) -> Condition {
    Condition::any().add(Column::Status.eq(AssetStatus::Pending)).add(lease_expired(now))
}

/// A generation's lease ran out (or was given back at shutdown).
pub(super) fn lease_expired(now: DateTime<Utc>) -> Condition {
    Condition::any().add(Column::LeaseUntil.lt(now)).add(Column::LeaseUntil.is_null())
}
