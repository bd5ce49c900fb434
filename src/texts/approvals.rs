//! Approvals: previews for the approver, the ✅/❌ buttons and the answers to a press.

use crate::domain::{ApprovalState, Gate};

/// Approvals, in one language.
pub trait ApprovalTexts {
    /// "the script", "the images", "the clips".
    fn gate_name(&self, gate: Gate) -> String;
    /// The script gate's preview: the script (or the text the local
    /// renderer will draw) for the approver to read.
    fn approval_script(&self, prompt: &str, script: &str) -> String;
    /// Sent before an album of images or clips to approve.
    fn approval_media(&self, prompt: &str, gate: Gate) -> String;
    /// The message with the ✅/❌ inline keyboard after a preview.
    fn approval_question(&self, prompt: &str, gate: Gate) -> String;
    /// The approve / reject buttons (inline and on the reply keyboard);
    /// they begin with ✅ and ❌.
    fn approve_button(&self) -> String;
    fn reject_button(&self) -> String;
    /// The one button left under a decided approval message.
    fn decided_button(&self, state: ApprovalState) -> String;
    /// Short notices answering a press (at most 200 characters).
    fn approval_done(&self, state: ApprovalState) -> String;
    fn approval_already_decided(&self, state: ApprovalState) -> String;
    fn approval_not_yours(&self) -> String;
    fn approval_nothing_pending(&self) -> String;
}
