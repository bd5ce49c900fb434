//! An asset's moves: every way its status changes, where each may start,
//! and where it leads. `db::asset_moves` is the one writer that applies a
//! move to a row (guarded by [`AssetMove::from`], so an illegal move
//! changes nothing), and the only code that writes an asset's status.

use chrono::{DateTime, Utc};

use crate::domain::{AssetStatus, Failure, FileId, Gate, RefusalReason, Stage};

/// A change of an asset's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetMove {
    /// A new generation number `generation` is queued for a failed or
    /// cleared asset, or one available without a video (`typed`: the text
    /// as the request that starts it typed it). pending, queued.
    Queue { generation: i64, typed: Option<String> },
    /// No free slot (`MAX_ACTIVE_GENERATIONS`): moved to `generation` and
    /// waits in line without holding a worker. pending, waiting.
    WaitForSlot { generation: i64, now: DateTime<Utc> },
    /// A worker takes the lease: generating, queued.
    Take { owner: String, lease_until: DateTime<Utc> },
    /// Stopped at `gate` for a person's approval, holding no lease.
    AwaitApproval { gate: Gate },
    /// Approved: the next generation `generation` resumes. pending, queued.
    Resume { generation: i64 },
    /// Its worker died (the lease ran out): the next generation
    /// `generation` takes over. pending, requeued.
    Reclaim { generation: i64 },
    /// Finished: available, with Telegram's `file_id` and unique id, or
    /// with none (nobody waited; the file is kept for the next request).
    Publish { file: Option<(FileId, String)> },
    /// Ended without a video: failed with the reason, lease dropped.
    Fail(Failure),
    /// Its only requester withdrew with /cancel before a worker took it.
    CallOff,
    /// Refused for safety before anything was spent (a blocked word).
    Refuse(RefusalReason),
    /// An operator cleared its video: failed (`cleared`), video forgotten.
    Clear,
}

/// A move asked of an asset in a status it can't be made from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an asset that is {from:?} cannot {action}")]
pub struct IllegalMove {
    pub from: AssetStatus,
    pub action: &'static str,
}

impl AssetMove {
    /// The statuses the move may start from.
    pub fn from(&self) -> &'static [AssetStatus] {
        use AssetStatus::*;
        match self {
            Self::Queue { .. } => &[Failed, Available],
            Self::WaitForSlot { .. } | Self::Take { .. } => &[Pending, Generating],
            Self::AwaitApproval { .. } | Self::Reclaim { .. } | Self::Publish { .. } => &[Generating],
            Self::Resume { .. } => &[Awaiting],
            Self::Fail(_) => &[Generating, Awaiting],
            Self::CallOff => &[Pending, Awaiting],
            Self::Refuse(_) => &[Pending, Failed, Available],
            Self::Clear => &[Available, Failed],
        }
    }

    /// The status the move leads to.
    pub fn to(&self) -> AssetStatus {
        match self {
            Self::Queue { .. } | Self::WaitForSlot { .. } | Self::Resume { .. } | Self::Reclaim { .. } => AssetStatus::Pending,
            Self::Take { .. } => AssetStatus::Generating,
            Self::AwaitApproval { .. } => AssetStatus::Awaiting,
            Self::Publish { .. } => AssetStatus::Available,
            Self::Fail(_) | Self::CallOff | Self::Refuse(_) | Self::Clear => AssetStatus::Failed,
        }
    }

    /// The stage shown while in the new status (`None`: no stage).
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Self::Queue { .. } | Self::Take { .. } | Self::Resume { .. } => Some(Stage::Queued),
            Self::WaitForSlot { .. } => Some(Stage::Waiting),
            Self::Reclaim { .. } => Some(Stage::Requeued),
            Self::AwaitApproval { gate } => Some(Stage::AwaitingApproval(*gate)),
            Self::Publish { .. } | Self::Fail(_) | Self::CallOff | Self::Refuse(_) | Self::Clear => None,
        }
    }

    /// Why the asset failed, when the move fails it.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            Self::Fail(failure) => Some(failure.clone()),
            Self::CallOff => Some(Failure::Cancelled),
            Self::Refuse(reason) => Some(Failure::Refused(reason.clone())),
            Self::Clear => Some(Failure::Cleared),
            _ => None,
        }
    }

    /// The generation number the move starts, when it starts one.
    pub fn generation(&self) -> Option<i64> {
        match self {
            Self::Queue { generation, .. }
            | Self::WaitForSlot { generation, .. }
            | Self::Resume { generation }
            | Self::Reclaim { generation } => Some(*generation),
            _ => None,
        }
    }

    /// Whether the move leaves the worker's lease in place (only taking it does).
    pub fn keeps_lease(&self) -> bool {
        matches!(self, Self::Take { .. })
    }

    /// Checks the move against the asset's current status.
    pub fn check(&self, from: AssetStatus) -> Result<AssetStatus, IllegalMove> {
        if self.from().contains(&from) { Ok(self.to()) } else { Err(IllegalMove { from, action: self.action() }) }
    }

    fn action(&self) -> &'static str {
        match self {
            Self::Queue { .. } => "be queued",
            Self::WaitForSlot { .. } => "wait for a slot",
            Self::Take { .. } => "be taken by a worker",
            Self::AwaitApproval { .. } => "await an approval",
            Self::Resume { .. } => "resume",
            Self::Reclaim { .. } => "be reclaimed",
            Self::Publish { .. } => "be published",
            Self::Fail(_) => "fail",
            Self::CallOff => "be called off",
            Self::Refuse(_) => "be refused",
            Self::Clear => "be cleared",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AssetStatus; 5] =
        [AssetStatus::Pending, AssetStatus::Generating, AssetStatus::Available, AssetStatus::Failed, AssetStatus::Awaiting];

    fn moves() -> Vec<AssetMove> {
        let now = Utc::now();
        vec![
            AssetMove::Queue { generation: 2, typed: None },
            AssetMove::WaitForSlot { generation: 2, now },
            AssetMove::Take { owner: "w".into(), lease_until: now },
            AssetMove::AwaitApproval { gate: Gate::Script },
            AssetMove::Resume { generation: 2 },
            AssetMove::Reclaim { generation: 2 },
            AssetMove::Publish { file: None },
            AssetMove::Fail(Failure::TimedOut),
            AssetMove::CallOff,
            AssetMove::Refuse(RefusalReason::blocked("x")),
            AssetMove::Clear,
        ]
    }

    #[test]
    fn a_video_is_published_only_by_the_generation_that_made_it() {
        let publish = AssetMove::Publish { file: None };
        assert_eq!(publish.check(AssetStatus::Generating), Ok(AssetStatus::Available));
        for from in [AssetStatus::Pending, AssetStatus::Failed, AssetStatus::Awaiting, AssetStatus::Available] {
            assert!(publish.check(from).is_err(), "published from {from:?}");
        }
    }

    #[test]
    fn a_cleared_or_failed_asset_never_goes_back_to_available_without_a_generation() {
        for mv in moves() {
            if mv.to() == AssetStatus::Available {
                assert_eq!(mv.from(), &[AssetStatus::Generating], "{mv:?}");
            }
        }
    }

    #[test]
    fn every_failing_move_says_why_and_drops_the_stage() {
        for mv in moves() {
            let fails = mv.to() == AssetStatus::Failed;
            assert_eq!(mv.failure().is_some(), fails, "{mv:?}");
            if fails {
                assert_eq!(mv.stage(), None, "{mv:?}");
            }
        }
    }

    #[test]
    fn every_move_into_pending_starts_a_new_generation() {
        for mv in moves() {
            assert_eq!(mv.to() == AssetStatus::Pending, mv.generation().is_some(), "{mv:?}");
        }
    }

    #[test]
    fn a_running_generation_is_never_called_off_or_cleared() {
        for mv in [AssetMove::CallOff, AssetMove::Clear, AssetMove::Queue { generation: 2, typed: None }] {
            assert!(mv.check(AssetStatus::Generating).is_err(), "{mv:?}");
        }
        // and every status has some way out
        for from in ALL {
            assert!(moves().iter().any(|mv| mv.check(from).is_ok()), "{from:?} is a dead end");
        }
    }
}
