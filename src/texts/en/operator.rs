//! English: what operators read: /clear, /allow, an asset's report, /stats, grants and refunds, the console's labels.

use crate::domain::UserId;
use crate::texts::{
    AssetReport, ClearOutcome, ConsoleTexts, OperatorTexts, RefundRefusal, RequestTexts, StatsReport, en_count, shorten,
};

use super::English;

static CONSOLE: ConsoleTexts = ConsoleTexts {
    title: "vidcache console",
    off: "The operator console is off: set ADMIN_TOKEN to turn it on.",
    sign_in_title: "Sign in",
    token_label: "Admin token (ADMIN_TOKEN)",
    name_label: "Your name (recorded with what you do)",
    sign_in: "Sign in",
    sign_out: "Sign out",
    wrong_token: "Wrong token. Nothing was changed.",
    too_many_sign_ins: "Too many failed sign-ins. Wait a minute, then try again.",
    sign_in_first: "Sign in with the admin token first. Nothing was changed.",
    bad_form: "This form has expired or came from another site. Reload the page and try again. Nothing was changed.",
    not_found: "Not found.",
    signed_in_as: "Signed in as",
    overview: "Overview",
    assets: "Assets",
    figures: "Figures (as in /stats)",
    running: "Running generations",
    waiting: "Waiting requests",
    refused: "Refused prompts",
    search: "Search",
    prompt_contains: "Prompt contains",
    any_state: "any state",
    asset: "Asset",
    prompt: "Prompt",
    normalized: "Normalized",
    made_with: "Made with",
    state: "State",
    generation: "Generation",
    requests: "Requests",
    attempts: "Attempts",
    progress: "Progress",
    cost: "Provider calls and cost",
    video: "Video",
    no_video: "no video file",
    last_error: "Last error",
    user: "User",
    chat: "Chat",
    text: "Text",
    created: "Created",
    error: "Error",
    stages: "Stages",
    step: "Step",
    segment: "Segment",
    provider: "Provider",
    task: "Provider task",
    provider_calls: "Provider calls",
    operation: "Operation",
    seconds: "Seconds",
    result: "Result",
    ok: "ok",
    failed: "failed",
    clear: "Clear this video",
    clear_hint: "Same as /clear: the cached video and its file are dropped; the next request generates it anew.",
    actions: "Operator actions",
    action: "Action",
    operator: "Operator",
    approvals: "Approvals",
    approvals_hint: "Approve or reject a pending step as the ✅/❌ buttons in Telegram do; recorded with your name.",
    gate: "Step",
    approver: "Who decides",
    operators: "the operators",
    asked_at: "Asked",
    deadline: "Deadline",
    decided: "Decided",
    approve: "Approve",
    reject: "Reject",
    user_requests: "Requests of user",
    credits: "Credit balance",
    none: "none",
    more_not_shown: "Only the most recent are shown.",
};

impl OperatorTexts for English {
    fn clear_usage(&self) -> String {
        super::CLEAR_USAGE.to_owned()
    }

    fn status_usage(&self) -> String {
        super::CLEAR_USAGE.replace("/clear", "/status")
    }

    fn operators_only(&self) -> String {
        "Sorry, that command is only for operators of this bot.".to_owned()
    }

    fn clear_refused(&self) -> String {
        "Sorry, /clear is only for operators of this bot.".to_owned()
    }

    fn allow_usage(&self) -> String {
        "Usage: /allow <prompt> — lifts a safety refusal of that prompt (every format, quality and length), matched like /clear: the next request makes it, without moderation or the blocked words.".to_owned()
    }

    fn allowed(&self, prompt: &str, lifted: u64) -> String {
        match lifted {
            0 => format!("“{prompt}” has no refusal to lift."),
            1 => format!("Allowed “{prompt}”: its refusal is lifted; the next request for it makes the video."),
            n => format!("Allowed “{prompt}”: {n} refusals lifted; the next request for it makes the video."),
        }
    }

    fn cleared(&self, prompt: &str, outcome: ClearOutcome) -> String {
        match outcome {
            ClearOutcome::Cleared => format!("Cleared “{prompt}”. The next request for it makes a new video."),
            ClearOutcome::Unknown => format!("Nothing is cached for “{prompt}”."),
            ClearOutcome::InProgress => format!("“{prompt}” is being made right now; clear it once it is done."),
            ClearOutcome::AlreadyClear => format!("“{prompt}” has no cached video; the next request makes a new one."),
        }
    }

    fn asset_report(&self, r: &AssetReport<'_>) -> String {
        let mut lines = vec![format!("“{}” (asset {})", self.caption(r.prompt), r.asset_id)];
        if let Some(normalized) = r.normalized {
            lines.push(format!("normalized: “{}”", self.caption(normalized)));
        }
        lines.push(format!("made: {}", crate::texts::recipe_line(&r.recipe, r.made_with.as_ref())));
        lines.extend([
            format!("state: {:?}, generation {}, {} generation attempts", r.status, r.generation, r.attempts),
            format!("requests: {}", r.requests),
        ]);
        if let Some(stage) = &r.stage {
            lines.push(format!("progress: {}", self.stage(stage)));
        }
        if let Some(error) = r.last_error {
            lines.push(format!("last error: {} [{}]", self.failure(error), shorten(&error.to_string(), 500)));
        }
        lines.push(format!("provider calls: {}", r.costs));
        lines.join("\n")
    }

    fn stats(&self, r: &StatsReport) -> String {
        let assets: Vec<String> = r.assets.iter().map(|(status, n)| format!("{status:?}: {n}")).collect();
        let saved = r.completed.saturating_sub(r.generations);
        let mut text = format!(
            "Assets — {}\nRequests — completed: {}, pending: {}, failed: {}\n\
             Generations run: {}; requests served without generating: {saved}\nProvider calls: {}\n\
             Paid broadcast sends: {} ({:.1} Stars)\nDisk used: {}",
            assets.join(", "),
            r.completed,
            r.pending,
            r.failed,
            r.generations,
            r.costs,
            r.paid_sends,
            r.paid_sends as f64 * 0.1,
            crate::texts::size(r.disk_used, ["B", "KB", "MB", "GB", "TB"])
        );
        let f = &r.refusals;
        text.push_str(&format!(
            "\nRefusals — moderation: {}, blocked words: {}, provider safety filters: {}; answered from memory: {} (provider calls not made again: {}); lifted by operators: {}",
            f.moderation, f.blocked_words, f.provider, f.answered, f.calls_saved, f.allowed
        ));
        if let Some(c) = &r.credits {
            text.push_str(&format!(
                "\nCredits — sold: {} (for {} Stars), held: {}, captured: {}, released: {}, refunded: {}",
                c.sold, c.stars, c.held, c.captured, c.released, c.refunded
            ));
        }
        text
    }

    fn console(&self) -> &'static ConsoleTexts {
        &CONSOLE
    }

    fn grant_usage(&self) -> String {
        "Usage: /grant <user_id> <credits> — credits may be negative to take some off.".to_owned()
    }

    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Done: {} for user {user}. Their balance: {balance}.", super::signed_credits(amount))
    }

    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Refused: {} would take user {user}'s balance ({balance}) below zero.", super::signed_credits(amount))
    }

    fn refund_usage(&self) -> String {
        "Usage: /refund <user_id> <telegram_payment_charge_id>".to_owned()
    }

    fn refund_done(&self, user: UserId, stars: i64, taken: i64, balance: i64) -> String {
        format!(
            "Refunded {} to user {user}; {} taken off. Their balance: {balance}.",
            en_count(stars, "Star", "Stars"),
            super::credits(taken)
        )
    }

    fn refund_refused(&self, refusal: &RefundRefusal) -> String {
        match refusal {
            RefundRefusal::Unknown => "Refused: no purchase with that charge id.".to_owned(),
            RefundRefusal::OtherUser => "Refused: that purchase belongs to another user.".to_owned(),
            RefundRefusal::AlreadyRefunded => "Refused: that purchase was refunded already.".to_owned(),
            RefundRefusal::Spent { credits, balance } => {
                format!("Refused: the purchase's {} were already spent (balance {balance}).", super::credits(*credits))
            }
            RefundRefusal::Telegram(reason) => format!("Refused by Telegram: {reason}"),
        }
    }
}
