use sea_orm::entity::prelude::*;

use crate::domain::{ChargeId, LedgerKind, RequestId, UserId};

/// One movement of a user's credits, with the request or payment it
/// belongs to. Rows are only ever added.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: UserId,
    pub kind: LedgerKind,
    /// Credits added (positive) or taken (negative).
    pub amount: i64,
    pub request_id: Option<RequestId>,
    pub charge_id: Option<ChargeId>,
    /// Who made an adjustment, or why a refund took less than was bought.
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
