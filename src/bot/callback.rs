//! Button presses: the `callback_data` of every inline button the bot
//! sends, as a typed value. Each variant has a short prefix; the encoded
//! form is at most 64 bytes, as Telegram requires. Add a variant (and its
//! prefix) for a new kind of button.

use crate::domain::{ApprovalId, Decision};

/// Telegram's limit on `callback_data`.
pub const MAX_CALLBACK_DATA: usize = 64;

/// What an inline button means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// ✅ / ❌ under an approval (`ap:<id>:y|n`).
    Approval { id: ApprovalId, decision: Decision },
    /// The button left under an approval once it is decided (`ap:<id>:d`):
    /// pressing it only tells what was decided.
    Decided { id: ApprovalId },
}

impl CallbackData {
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Approval { id, decision: Decision::Approve } => format!("ap:{id}:y"),
            CallbackData::Approval { id, decision: Decision::Reject } => format!("ap:{id}:n"),
            CallbackData::Decided { id } => format!("ap:{id}:d"),
        }
    }

    /// `None` for anything this version did not send (an old or forged press).
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > MAX_CALLBACK_DATA {
            return None;
        }
        let mut parts = raw.split(':');
        let data = match (parts.next()?, parts.next()?, parts.next()?) {
            ("ap", id, what) => {
                let id = ApprovalId(id.parse().ok().filter(|n: &i64| *n > 0)?);
                match what {
                    "y" => CallbackData::Approval { id, decision: Decision::Approve },
                    "n" => CallbackData::Approval { id, decision: Decision::Reject },
                    "d" => CallbackData::Decided { id },
                    _ => return None,
                }
            }
            _ => return None,
        };
        parts.next().is_none().then_some(data)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::service::approvals::callback_data;

    #[test]
    fn round_trips_and_fits() {
        for data in [
            CallbackData::Approval { id: ApprovalId(i64::MAX), decision: Decision::Approve },
            CallbackData::Approval { id: ApprovalId(1), decision: Decision::Reject },
            CallbackData::Decided { id: ApprovalId(42) },
        ] {
            let raw = data.encode();
            assert!(raw.len() <= MAX_CALLBACK_DATA, "{raw}");
            assert_eq!(CallbackData::parse(&raw), Some(data));
        }
        // the buttons the approvals service sends read back as these
        assert_eq!(
            CallbackData::parse(&callback_data(ApprovalId(7), 'y')),
            Some(CallbackData::Approval { id: ApprovalId(7), decision: Decision::Approve })
        );
        for bad in ["", "ap", "ap:1", "ap:x:y", "ap:0:y", "ap:1:q", "ap:1:y:extra", "zz:1:y"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in "\\PC{0,80}") {
            let _ = CallbackData::parse(&raw);
        }
    }
}
