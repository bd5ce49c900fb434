//! Credits: what a movement of the ledger is, what state a request's hold
//! is in, and the packages sold for Telegram Stars.

use std::fmt;

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, DeriveValueType, EnumIter};

/// What one row of the credit ledger records. The balance is the sum of
/// every row's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LedgerKind {
    /// The free credits of a user's first contact (`FREE_CREDITS`).
    #[sea_orm(string_value = "grant")]
    Grant,
    /// A package bought with Stars (`+credits`, with its charge id).
    #[sea_orm(string_value = "purchase")]
    Purchase,
    /// A request's price, held when it was recorded (`-price`).
    #[sea_orm(string_value = "hold")]
    Hold,
    /// The held price kept: the video was delivered (amount 0).
    #[sea_orm(string_value = "capture")]
    Capture,
    /// The held price given back: the request failed (`+price`).
    #[sea_orm(string_value = "release")]
    Release,
    /// A purchase refunded (`-credits`, with its charge id).
    #[sea_orm(string_value = "refund")]
    Refund,
    /// An operator's `/grant` (either sign).
    #[sea_orm(string_value = "adjustment")]
    Adjustment,
}

/// The price held for one request: held when it is recorded, then either
/// captured (delivered) or released (failed), once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum HoldState {
    #[sea_orm(string_value = "held")]
    Held,
    #[sea_orm(string_value = "captured")]
    Captured,
    #[sea_orm(string_value = "released")]
    Released,
}

/// Telegram's identifier of one Stars payment (`telegram_payment_charge_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, DeriveValueType)]
pub struct ChargeId(pub String);

impl fmt::Display for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package sold for Stars: `stars` buy `credits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StarsPackage {
    pub stars: u32,
    pub credits: i64,
}

impl StarsPackage {
    /// `stars:credits`, both positive.
    pub fn parse(raw: &str) -> Option<Self> {
        let (stars, credits) = raw.trim().split_once(':')?;
        let stars: u32 = stars.trim().parse().ok()?;
        let credits: i64 = credits.trim().parse().ok()?;
        (stars > 0 && credits > 0 && stars <= 100_000).then_some(Self { stars, credits })
    }

    /// The invoice payload naming this package: `pkg:<stars>:<credits>`.
    pub fn payload(&self) -> String {
        format!("pkg:{}:{}", self.stars, self.credits)
    }

    /// The package an invoice payload names.
    pub fn from_payload(payload: &str) -> Option<Self> {
        Self::parse(payload.strip_prefix("pkg:")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_parse_and_round_trip_through_payloads() {
        let p = StarsPackage::parse(" 50:60 ").expect("valid");
        assert_eq!(p, StarsPackage { stars: 50, credits: 60 });
        assert_eq!(StarsPackage::from_payload(&p.payload()), Some(p));
        for bad in ["", "50", "0:10", "10:0", "a:b", "-1:5", "pkg:1:2"] {
            assert!(StarsPackage::parse(bad).is_none(), "{bad:?} accepted");
        }
        assert!(StarsPackage::from_payload("50:60").is_none());
    }
}
