//! What an inline button carries back when pressed: [`CallbackData`]. It
//! lives in `domain`, since services put buttons on the messages they send
//! (the ➕ under every video, the ✅ / ❌ under an approval) and the bot
//! parses the presses.

pub use crate::domain::{CallbackData, MAX_CALLBACK_DATA};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApprovalId, Decision};
    use crate::service::approvals::callback_data;

    #[test]
    fn the_approvals_service_buttons_parse_back() {
        assert_eq!(
            CallbackData::parse(&callback_data(ApprovalId(7), 'y')),
            Some(CallbackData::Approval { id: ApprovalId(7), decision: Decision::Approve })
        );
        assert!(callback_data(ApprovalId(i64::MAX), 'n').len() <= MAX_CALLBACK_DATA);
    }
}
