//! What an inline button carries back when pressed (`callback_data`, at
//! most 64 bytes): one short prefix per kind, parsed back into a typed
//! value. Anything else (an old or forged button) does not parse and is
//! answered with a notice.

use crate::domain::{ApprovalId, Decision, RequestId};

/// Telegram's limit on `callback_data`.
pub const MAX_CALLBACK_DATA: usize = 64;

/// The meaning of an inline button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// Buy the package of `stars` Stars for `credits` credits: sends its invoice.
    Buy { stars: u32, credits: i64 },
    /// /history: send again the video this (delivered) request got.
    History(RequestId),
    /// ✅ / ❌ under an approval (`ap:<id>:y|n`).
    Approval { id: ApprovalId, decision: Decision },
    /// The button left under an approval once it is decided (`ap:<id>:d`):
    /// pressing it only tells what was decided.
    Decided { id: ApprovalId },
}

impl CallbackData {
    /// At most 64 bytes, as Telegram allows.
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Buy { stars, credits } => format!("b:{stars}:{credits}"),
            CallbackData::History(request) => format!("h:{}", request.0),
            CallbackData::Approval { id, decision: Decision::Approve } => format!("ap:{id}:y"),
            CallbackData::Approval { id, decision: Decision::Reject } => format!("ap:{id}:n"),
            CallbackData::Decided { id } => format!("ap:{id}:d"),
        }
    }

    /// `None` for anything this version did not send (an old or forged press).
    pub fn parse(data: &str) -> Option<Self> {
        if data.is_empty() || data.len() > MAX_CALLBACK_DATA {
            return None;
        }
        let (prefix, rest) = data.split_once(':')?;
        match prefix {
            "b" => {
                let (stars, credits) = rest.split_once(':')?;
                Some(CallbackData::Buy { stars: stars.parse().ok()?, credits: credits.parse().ok()? })
            }
            "h" => Some(CallbackData::History(RequestId(parse_id(rest)?))),
            "ap" => {
                let (id, what) = rest.split_once(':')?;
                let id = ApprovalId(id.parse().ok().filter(|n: &i64| *n > 0)?);
                match what {
                    "y" => Some(CallbackData::Approval { id, decision: Decision::Approve }),
                    "n" => Some(CallbackData::Approval { id, decision: Decision::Reject }),
                    "d" => Some(CallbackData::Decided { id }),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A positive decimal id, nothing else (no sign, no spaces).
fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::service::approvals::callback_data;

    #[test]
    fn round_trips_within_64_bytes() {
        let data = CallbackData::Buy { stars: u32::MAX, credits: i64::MAX };
        assert!(data.encode().len() <= MAX_CALLBACK_DATA);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        assert_eq!(CallbackData::parse("b:1"), None);
        assert_eq!(CallbackData::parse("zz:1:2"), None);
        let data = CallbackData::History(RequestId(i64::MAX));
        assert!(data.encode().len() <= MAX_CALLBACK_DATA);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        for bad in ["", "h:", "h:-1", "h:0", "h: 1", "h:1x", "x:1", "h", "h:99999999999999999999"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn approvals_round_trip_within_64_bytes() {
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
        for bad in ["ap", "ap:1", "ap:x:y", "ap:0:y", "ap:1:q", "ap:1:y:extra"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_request_id_fits_and_parses_back(id in 1i64..) {
            let data = CallbackData::History(RequestId(id));
            prop_assert!(data.encode().len() <= MAX_CALLBACK_DATA);
            prop_assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        }

        #[test]
        fn parse_never_panics(data in "\\PC{0,80}") {
            let _ = CallbackData::parse(&data);
        }
    }
}
