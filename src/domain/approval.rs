//! Approvals: a person lets a generation go on past a gate (after the
//! script, the images, the clips) or stops it there. Stored as short
//! machine tokens; the words a person reads are in `texts`.

use std::fmt;
use std::str::FromStr;

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};

/// A point in a generation where a person may approve or stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Gate {
    /// After the script is written (with the local renderer: the text it will render).
    #[sea_orm(string_value = "script")]
    Script,
    /// After the segment images.
    #[sea_orm(string_value = "images")]
    Images,
    /// After the animated clips.
    #[sea_orm(string_value = "clips")]
    Clips,
}

impl Gate {
    pub const ALL: [Gate; 3] = [Gate::Script, Gate::Images, Gate::Clips];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Script => "script",
            Gate::Images => "images",
            Gate::Clips => "clips",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `script`, `images`, `clips`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown approval stage {0:?} (expected script, images or clips)")]
pub struct UnknownGate(pub String);

impl FromStr for Gate {
    type Err = UnknownGate;

    fn from_str(raw: &str) -> Result<Self, UnknownGate> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "script" => Ok(Gate::Script),
            "images" => Ok(Gate::Images),
            "clips" => Ok(Gate::Clips),
            other => Err(UnknownGate(other.to_owned())),
        }
    }
}

/// Where an approval is: pending → approved | rejected | timed out |
/// cancelled (its requester withdrew with /cancel and nobody else waited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ApprovalState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    #[sea_orm(string_value = "timed_out")]
    TimedOut,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// What a person decided at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The state an approval moves to.
    pub fn state(self) -> ApprovalState {
        match self {
            Decision::Approve => ApprovalState::Approved,
            Decision::Reject => ApprovalState::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_read_back() {
        for gate in Gate::ALL {
            assert_eq!(gate.as_str().parse::<Gate>(), Ok(gate));
        }
        assert_eq!(" Images ".parse::<Gate>(), Ok(Gate::Images));
        assert!("voice".parse::<Gate>().is_err());
    }
}
