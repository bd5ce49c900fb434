use sea_orm::entity::prelude::*;

use crate::domain::{ApprovalId, ApprovalState, AssetId, Gate};

/// One gate of one generation waiting for (or decided by) a person.
/// Unique per (asset, generation, gate).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approvals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ApprovalId,
    pub asset_id: AssetId,
    pub generation: i64,
    pub gate: Gate,
    pub state: ApprovalState,
    /// The requester who decides (`APPROVALS=requester`); `None`: operators.
    pub approver_user_id: Option<i64>,
    pub approver_chat_id: Option<i64>,
    /// JSON list of `[chat_id, message_id]`: the messages with the keyboard.
    pub messages: Option<String>,
    /// When the approver(s) were sent the preview and the keyboard.
    pub prompted_at: Option<DateTimeUtc>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    /// No decision by then: the generation fails ("no answer in time").
    pub deadline: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
