use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};

/// Where an asset is in its life: pending → generating → available | failed;
/// generating → awaiting (stopped at a gate for a person's approval,
/// holding no lease) → pending (approved: the next generation resumes) |
/// failed (rejected, or no answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AssetStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "generating")]
    Generating,
    #[sea_orm(string_value = "available")]
    Available,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "awaiting")]
    Awaiting,
}

/// Where a user's request is: pending → completed | failed | cancelled
/// (withdrawn by the user with /cancel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RequestStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}
