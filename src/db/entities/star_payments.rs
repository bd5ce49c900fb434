use sea_orm::entity::prelude::*;

use crate::domain::UserId;

/// One Stars payment, credited once: the charge id is the primary key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "star_payments")]
pub struct Model {
    /// `telegram_payment_charge_id` (a [`crate::domain::ChargeId`]).
    #[sea_orm(primary_key, auto_increment = false)]
    pub charge_id: String,
    pub user_id: UserId,
    pub stars: i64,
    pub credits: i64,
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// Set once, when the payment was refunded.
    pub refunded_at: Option<DateTimeUtc>,
    /// Credits the refund took off the balance.
    pub refunded_credits: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
