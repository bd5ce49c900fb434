//! English: approvals: previews for the approver, the ✅/❌ buttons and the answers to a press.

use crate::domain::{ApprovalState, Gate};
use crate::texts::{ApprovalTexts, shorten};

use super::English;

impl ApprovalTexts for English {
    fn gate_name(&self, gate: Gate) -> String {
        match gate {
            Gate::Script => "the script",
            Gate::Images => "the images",
            Gate::Clips => "the clips",
        }
        .to_owned()
    }

    fn approval_script(&self, prompt: &str, script: &str) -> String {
        format!("📝 The script for “{}”:\n\n{}", shorten(prompt, 200), shorten(script, 3500))
    }

    fn approval_media(&self, prompt: &str, gate: Gate) -> String {
        let what = match gate {
            Gate::Script => "📝 The script",
            Gate::Images => "🖼 The first images",
            Gate::Clips => "🎞 The first clips",
        };
        format!("{what} for “{}” are ready for your approval.", shorten(prompt, 200))
    }

    fn approval_question(&self, prompt: &str, gate: Gate) -> String {
        format!("Go on with “{}” after {}? Nothing more is spent until you decide.", shorten(prompt, 200), self.gate_name(gate))
    }

    fn approve_button(&self) -> String {
        "✅ Approve".to_owned()
    }

    fn reject_button(&self) -> String {
        "❌ Reject".to_owned()
    }

    fn decided_button(&self, state: ApprovalState) -> String {
        match state {
            ApprovalState::Approved => "✅ Approved",
            ApprovalState::Rejected => "❌ Rejected",
            ApprovalState::TimedOut => "⌛ No answer in time",
            ApprovalState::Cancelled => "✖️ Cancelled",
            ApprovalState::Pending => "⏳ Waiting",
        }
        .to_owned()
    }

    fn approval_done(&self, state: ApprovalState) -> String {
        match state {
            ApprovalState::Approved => "✅ Approved — the video goes on.",
            ApprovalState::Rejected => "❌ Rejected — the video is cancelled.",
            ApprovalState::TimedOut => "⌛ Nobody decided in time — the video is cancelled.",
            ApprovalState::Cancelled => "✖️ Cancelled — the request was withdrawn; nothing more is made.",
            ApprovalState::Pending => "⏳ Still waiting for a decision.",
        }
        .to_owned()
    }

    fn approval_already_decided(&self, state: ApprovalState) -> String {
        let how = match state {
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::TimedOut => "closed: nobody answered in time",
            ApprovalState::Cancelled => "cancelled: the request was withdrawn",
            ApprovalState::Pending => "not decided yet",
        };
        format!("This was already {how}; nothing changed.")
    }

    fn approval_not_yours(&self) -> String {
        "Only the person who asked for this video (or an operator, if so set up) can decide this; nothing changed.".to_owned()
    }

    fn approval_nothing_pending(&self) -> String {
        "Nothing is waiting for your approval right now.".to_owned()
    }
}
