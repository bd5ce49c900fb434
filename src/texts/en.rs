//! English.

use std::time::Duration;

use super::{
    AssetReport, ClearOutcome, ConsoleTexts, HistoryItem, Movement, RefundRefusal, StatsReport, StatusLine, Texts, en_count,
    shorten,
};
use crate::domain::{
    ApprovalState, AssetStatus, Category, Choice, Choices, Failure, Gate, LedgerKind, Length, PromptError, Quality,
    RefusalSource, RequestStatus, Stage, StarsPackage, UserId,
};

/// A credit amount: "1 credit", "20 credits".
fn credits(n: i64) -> String {
    en_count(n, "credit", "credits")
}

/// A signed credit amount for operators: "+1 credit", "-20 credits".
fn signed_credits(n: i64) -> String {
    format!("{n:+} {}", if n.abs() == 1 { "credit" } else { "credits" })
}

pub struct English;

/// A moderation category in words.
fn category(category: Category) -> &'static str {
    match category {
        Category::Harassment => "harassment",
        Category::HarassmentThreatening => "threats",
        Category::Hate => "hate",
        Category::HateThreatening => "hateful threats",
        Category::Illicit => "illegal activity",
        Category::IllicitViolent => "violent crime",
        Category::SelfHarm => "self-harm",
        Category::SelfHarmIntent => "intent to self-harm",
        Category::SelfHarmInstructions => "self-harm instructions",
        Category::Sexual => "sexual content",
        Category::SexualMinors => "sexual content involving minors",
        Category::Violence => "violence",
        Category::ViolenceGraphic => "graphic violence",
    }
}

const CLEAR_USAGE: &str =
    "Usage: /clear <prompt> — the prompt is matched the same way as requests (case and spaces don't matter).";

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

impl Texts for English {
    fn help(&self, max_prompt_chars: usize) -> String {
        format!(
            "🎬 I turn a text into a short video.\n\n\
             Send me a prompt — a name for a greeting, a product for an ad — and I'll send the video back. \
             If someone asked for the same thing before, you get it at once.\n\n\
             • Just type your prompt (up to {}).\n\
             • /status — your recent requests.\n\
             • /history — your last videos, to get one again.\n\
             • /cancel — withdraw the requests you are waiting for.\n\
             • /settings — quality, format (16:9 or 9:16) and length of your next videos.\n\
             • /menu — the menu: new video, settings, history.\n\
             • /help — this message.",
            en_count(i64::try_from(max_prompt_chars).unwrap_or(i64::MAX), "character", "characters")
        )
    }

    fn extend_button(&self) -> String {
        "➕ Extend".to_owned()
    }

    fn extend_ask(&self, prompt: &str, choices: Choices) -> String {
        let quality = self.quality_label(choices.quality);
        format!(
            "➕ How should “{prompt}” go on? ({}, {quality}) Send the continuation as your next message and I'll add it to the end of this video. /cancel to stop.",
            choices.format
        )
    }

    fn extend_unavailable(&self) -> String {
        "This video can't be extended any more: it was removed or is being made again. Send its prompt to get it first."
            .to_owned()
    }

    fn extend_limit(&self, max: i32) -> String {
        format!(
            "This video can't be extended further: {} in a row is the most allowed. Extend an earlier one, or send a new prompt.",
            en_count(i64::from(max), "extension", "extensions")
        )
    }

    fn extend_off(&self) -> String {
        "Extending videos is switched off on this bot.".to_owned()
    }

    fn extend_not_yours(&self) -> String {
        "This button isn't for you: you can only extend videos you asked for.".to_owned()
    }

    fn extend_expired(&self, prompt: &str, after: Duration) -> String {
        let hours = (after.as_secs() / 3600).max(1);
        format!(
            "I stopped waiting for the continuation of “{}” after {}, so I did not use this text. Press ➕ Extend under the video again to continue it, or send the text again to make a new video.",
            shorten(prompt, 100),
            en_count(i64::try_from(hours).unwrap_or(i64::MAX), "hour", "hours")
        )
    }

    fn extend_cancelled(&self) -> String {
        "OK, I won't extend the video. Send a prompt for a new one.".to_owned()
    }

    fn quality_label(&self, quality: Quality) -> String {
        match quality {
            Quality::Fast => "Fast",
            Quality::Quality => "Quality",
        }
        .to_owned()
    }

    fn length_label(&self, length: Length) -> String {
        match length {
            Length::Short => "Short",
            Length::Long => "Long",
        }
        .to_owned()
    }

    fn settings(&self, choices: Choices, prices: Option<(i64, i64)>) -> String {
        let mut text = format!(
            "⚙️ Your settings for new videos:\n• Mode: {}\n• Format: {}\n• Length: {}",
            self.quality_label(choices.quality),
            choices.format,
            self.length_label(choices.length)
        );
        if let Some((new, cached)) = prices {
            text.push_str(&format!(
                "\n\n💰 With these, a new video costs {}; one made before, {}.",
                credits(new),
                credits(cached)
            ));
        }
        text.push_str("\n\nTap a button to change a setting: it counts from your next video.");
        text
    }

    fn setting_chosen(&self, choice: Choice) -> String {
        format!("✅ {} — for your next videos.", super::choice_label(self, choice))
    }

    fn settings_button(&self) -> String {
        "⚙️ Settings".to_owned()
    }

    fn menu_button(&self) -> String {
        "🏠 Menu".to_owned()
    }

    fn main_menu(&self) -> String {
        "🏠 Menu — what would you like to do?".to_owned()
    }

    fn menu_new_video(&self) -> String {
        "🎬 New video".to_owned()
    }

    fn menu_history(&self) -> String {
        "📜 History".to_owned()
    }

    fn menu_balance(&self) -> String {
        "💰 Balance".to_owned()
    }

    fn new_video_hint(&self) -> String {
        "🎬 Send me a text, a voice message or a photo with words — I'll make a video of it.".to_owned()
    }

    fn invalid_prompt(&self, err: &PromptError) -> String {
        match err {
            PromptError::Empty => {
                "That message has no text I can use. Send me a prompt, for example: Happy birthday Zoë".to_owned()
            }
            PromptError::TooLong { chars, max } => {
                format!(
                    "That prompt is {} long; the limit is {max}. Please send a shorter one.",
                    en_count(i64::try_from(*chars).unwrap_or(i64::MAX), "character", "characters")
                )
            }
        }
    }

    fn not_text(&self) -> String {
        "I can only make videos from text. Send me a prompt as a text message, for example: Happy birthday Zoë".to_owned()
    }

    fn voice_off(&self) -> String {
        "I can't listen to voice messages here. Please type your prompt as a text message, for example: Happy birthday Zoë"
            .to_owned()
    }

    fn voice_too_big(&self) -> String {
        "That voice message is too long for me (over 20 MB). Please send a shorter one, or type your prompt.".to_owned()
    }

    fn voice_failed(&self) -> String {
        "Sorry, I couldn't understand that voice message just now. Please try again in a moment, or type your prompt.".to_owned()
    }

    fn voice_silent(&self) -> String {
        "I couldn't make out any words in that voice message. Please try again, or type your prompt.".to_owned()
    }

    fn heard(&self, text: &str) -> String {
        format!("🎙 I heard: “{}”", shorten(text, 300))
    }

    fn remix_ask(&self) -> String {
        "📷 Nice photo! What should happen in it? Send me the words (for example: she waves and smiles), and I'll bring it to life. /cancel to stop."
            .to_owned()
    }

    fn photo_too_big(&self) -> String {
        "That photo is too big for me (over 20 MB). Please send a smaller one, or send it as a photo rather than a file."
            .to_owned()
    }

    fn remix_cancelled(&self) -> String {
        "OK, I'm no longer waiting for words for your photo.".to_owned()
    }

    fn unknown_command(&self, command: &str) -> String {
        format!("I don't know the command {command}. Try /help.")
    }

    fn video_usage(&self) -> String {
        "Write what the video should show after /video, e.g. /video a red fox in the snow.".to_owned()
    }

    fn in_private_chat(&self) -> String {
        "That is just for you: I answer it in our private chat.".to_owned()
    }

    fn private_chat_button(&self) -> String {
        "💬 Open the private chat".to_owned()
    }

    fn addressed_to_another_bot(&self) -> String {
        self.unknown_command("addressed to another bot")
    }

    fn clear_usage(&self) -> String {
        CLEAR_USAGE.to_owned()
    }

    fn status_usage(&self) -> String {
        CLEAR_USAGE.replace("/clear", "/status")
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

    fn stage(&self, stage: &Stage) -> String {
        match stage {
            Stage::Queued => "queued".to_owned(),
            Stage::Waiting => "waiting for a free slot".to_owned(),
            Stage::Requeued => "queued again after an interruption".to_owned(),
            Stage::Interrupted => "interrupted, will resume".to_owned(),
            Stage::Generating { attempt, of } => format!("generating, attempt {attempt} of {of}"),
            Stage::Script => "Writing the script".to_owned(),
            Stage::Assembling => "Assembling the video".to_owned(),
            Stage::Uploading => "uploading".to_owned(),
            Stage::AwaitingApproval(gate) => format!("waiting for approval of {}", self.gate_name(*gate)),
            Stage::Steps(counts) => {
                let mut parts = Vec::new();
                if counts.images > 0 {
                    parts.push(format!("images {}/{}", counts.images_done, counts.images));
                }
                if counts.clips > 0 {
                    parts.push(format!("clips {}/{}", counts.clips_done, counts.clips));
                }
                if counts.voice_ready {
                    parts.push("voice-over ready".to_owned());
                }
                if counts.assembled {
                    parts.push("video assembled".to_owned());
                }
                let text = parts.join(", ");
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => "in progress".to_owned(),
                }
            }
        }
    }

    fn being_made(&self, stage: Option<&Stage>) -> String {
        match stage {
            Some(stage) => {
                format!("⏳ Your video is being made ({}). I'll send it here as soon as it is ready.", self.stage(stage))
            }
            None => "⏳ Your video is being made. I'll send it here as soon as it is ready.".to_owned(),
        }
    }

    fn caption(&self, prompt: &str) -> String {
        shorten(prompt, 1000)
    }

    fn failure(&self, reason: &Failure) -> String {
        match reason {
            Failure::Rejected => "it was rejected at an approval step".to_owned(),
            Failure::TimedOut => "nobody approved it in time".to_owned(),
            Failure::Cancelled => "it was cancelled".to_owned(),
            Failure::Cleared => "an operator removed it".to_owned(),
            Failure::NotStored => "the video is no longer stored".to_owned(),
            Failure::ParentGone => "the video to extend is no longer available".to_owned(),
            Failure::Refused(reason) => match reason.source {
                RefusalSource::Moderation if reason.categories.is_empty() => "the safety check flagged this prompt".to_owned(),
                RefusalSource::Moderation => format!(
                    "the safety check flagged this prompt for {}",
                    reason.categories.iter().map(|c| category(*c)).collect::<Vec<_>>().join(", ")
                ),
                RefusalSource::BlockedWords => "it contains words this bot doesn't make videos of".to_owned(),
                RefusalSource::Provider => "the video service's safety checks refused this prompt".to_owned(),
            },
            Failure::CannotRun(_) => "this kind of video can't be made here right now".to_owned(),
            Failure::Attempts { attempts, .. } => {
                format!("it failed after {}", en_count(i64::from(*attempts), "attempt", "attempts"))
            }
            Failure::TooBig { .. } => "the video came out larger than Telegram lets bots send (50 MB)".to_owned(),
            Failure::Upload(_) => "Telegram did not accept the video".to_owned(),
            Failure::Unreachable(_) => "Telegram could not deliver it to this chat".to_owned(),
            Failure::Other(_) => "something went wrong".to_owned(),
        }
    }

    fn generation_failed(&self, prompt: &str, reason: &Failure) -> String {
        if let Failure::Refused(_) = reason {
            return format!(
                "😞 Sorry, I couldn't make the video for “{}”: {}.\nAsking again won't change that: try other words.",
                self.caption(prompt),
                self.failure(reason)
            );
        }
        format!(
            "😞 Sorry, I couldn't make the video for “{}”: {}.\nSend the prompt again to try once more.",
            self.caption(prompt),
            self.failure(reason)
        )
    }

    fn try_again(&self) -> String {
        "⚠️ I'm having trouble right now and couldn't take your request. Please send it again in a minute.".to_owned()
    }

    fn status_empty(&self) -> String {
        "You haven't asked for any video yet. Send me a prompt!".to_owned()
    }

    fn status_header(&self) -> String {
        "Your recent requests:".to_owned()
    }

    fn status_line(&self, line: &StatusLine<'_>) -> String {
        let short = shorten(line.prompt, 60);
        let state = match (line.request, line.asset) {
            (RequestStatus::Completed, _) => "✅ sent".to_owned(),
            (RequestStatus::Failed, _) => {
                format!("❌ failed{}", line.error.map(|e| format!(": {}", self.failure(e))).unwrap_or_default())
            }
            (RequestStatus::Pending, Some(AssetStatus::Generating | AssetStatus::Awaiting)) => {
                format!("⏳ being made{}", line.stage.map(|s| format!(" ({})", self.stage(&s))).unwrap_or_default())
            }
            (RequestStatus::Pending, Some(AssetStatus::Available)) => "📤 sending".to_owned(),
            (RequestStatus::Pending, _) => "⏳ queued".to_owned(),
            (RequestStatus::Cancelled, _) => "✖️ cancelled".to_owned(),
        };
        format!("• “{short}” — {state}")
    }

    fn asset_report(&self, r: &AssetReport<'_>) -> String {
        let mut lines = vec![format!("“{}” (asset {})", self.caption(r.prompt), r.asset_id)];
        if let Some(normalized) = r.normalized {
            lines.push(format!("normalized: “{}”", self.caption(normalized)));
        }
        lines.push(format!("made: {}", super::recipe_line(&r.recipe, r.made_with.as_ref())));
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
            super::size(r.disk_used, ["B", "KB", "MB", "GB", "TB"])
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

    fn menu_status(&self) -> String {
        "📊 Status".to_owned()
    }

    fn menu_help(&self) -> String {
        "❓ Help".to_owned()
    }

    fn console(&self) -> &'static ConsoleTexts {
        &CONSOLE
    }

    fn command_menu(&self) -> Vec<(&'static str, String)> {
        vec![
            ("start", "what this bot does".to_owned()),
            ("help", "how to use it".to_owned()),
            ("video", "/video <prompt>: a video of it (also in groups)".to_owned()),
            ("settings", "quality, format and length of your next videos".to_owned()),
            ("menu", "the menu: new video, settings, history".to_owned()),
            ("status", "your recent requests and their state (operators: /status <prompt> for one asset)".to_owned()),
            ("history", "your last 10 videos, each with a button to get it again".to_owned()),
            ("cancel", "withdraw the requests you are still waiting for (and stop an extension's wait)".to_owned()),
            ("clear", "operators only: /clear <prompt> drops a cached video so it is made again".to_owned()),
            ("allow", "operators only: /allow <prompt> lifts a safety refusal so the prompt is made".to_owned()),
            ("stats", "operators only: totals — assets, requests, generations saved, provider costs".to_owned()),
            ("balance", "your credits and their last movements".to_owned()),
            ("buy", "buy credits with Telegram Stars".to_owned()),
            ("grant", "operators only: /grant <user_id> <credits> adds (or takes) credits".to_owned()),
            ("refund", "operators only: /refund <user_id> <charge_id> refunds a Stars purchase".to_owned()),
        ]
    }

    fn history_empty(&self) -> String {
        "You have no videos yet. Send me a prompt!".to_owned()
    }

    fn history(&self, items: &[HistoryItem<'_>]) -> String {
        let lines: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{}. “{}” — {}", i + 1, shorten(v.prompt, 100), v.made(self)))
            .collect();
        format!("🎞 Your last videos — tap one to get it again:\n{}", lines.join("\n"))
    }

    fn history_button(&self, n: usize, prompt: &str) -> String {
        format!("🔁 {n}. {}", shorten(prompt, 40))
    }

    fn history_gone(&self) -> String {
        "That video is no longer stored. Send the prompt again to get a new one.".to_owned()
    }

    fn cancel_nothing(&self) -> String {
        "You have no requests waiting; there is nothing to cancel.".to_owned()
    }

    fn cancelled(&self, prompts: &[&str]) -> String {
        let quoted: Vec<String> = prompts.iter().map(|p| format!("“{}”", shorten(p, 60))).collect();
        format!("✖️ Cancelled: {}. You won't get these videos.", quoted.join(", "))
    }

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

    fn credits_off(&self) -> String {
        "Videos are free here: there are no credits to buy.".to_owned()
    }

    fn balance(&self, balance: i64, movements: &[Movement]) -> String {
        let mut lines = vec![format!("💰 Your balance: {}.", credits(balance))];
        if !movements.is_empty() {
            lines.push("Last movements:".to_owned());
        }
        for m in movements {
            let what = match m.kind {
                LedgerKind::Grant => "welcome credits",
                LedgerKind::Purchase => "bought with Stars",
                LedgerKind::Hold => "held for a video",
                LedgerKind::Capture => "video delivered (hold kept)",
                LedgerKind::Release => "returned (the video was not made)",
                LedgerKind::Refund => "purchase refunded",
                LedgerKind::Adjustment => "adjusted by an operator",
            };
            lines.push(format!("• {} {:+} — {what}", m.at.format("%Y-%m-%d %H:%M"), m.amount));
        }
        lines.push("/buy — more credits".to_owned());
        lines.join("\n")
    }

    fn buy_intro(&self, balance: i64) -> String {
        format!("💰 Your balance: {}. Choose a package, paid in Telegram Stars:", credits(balance))
    }

    fn package_button(&self, p: &StarsPackage) -> String {
        format!("{} for {} ⭐", credits(p.credits), p.stars)
    }

    fn invoice_title(&self, p: &StarsPackage) -> String {
        credits(p.credits)
    }

    fn invoice_description(&self, p: &StarsPackage) -> String {
        format!(
            "{} for making videos, for {}.",
            credits(p.credits),
            en_count(i64::from(p.stars), "Telegram Star", "Telegram Stars")
        )
    }

    fn invoice_label(&self, p: &StarsPackage) -> String {
        credits(p.credits)
    }

    fn invoice_sent(&self) -> String {
        "Here is your invoice.".to_owned()
    }

    fn button_expired(&self) -> String {
        "That button is no longer valid.".to_owned()
    }

    fn unknown_package(&self) -> String {
        "Sorry, this package is no longer on sale. Send /buy to see the current ones.".to_owned()
    }

    fn purchased(&self, credits: i64, balance: i64) -> String {
        format!("✅ Thank you! {} added. Your balance: {}.", self::credits(credits), self::credits(balance))
    }

    fn refund_notice(&self, taken: i64, balance: i64) -> String {
        format!("↩️ A purchase was refunded: {} taken off. Your balance: {}.", credits(taken), credits(balance))
    }

    fn not_enough_credits(&self, price: i64, balance: i64) -> String {
        format!("💰 This video costs {} and your balance is {balance}. Buy credits to ask for it:", credits(price))
    }

    fn too_many_waiting(&self, max: u32) -> String {
        format!(
            "⏳ You already have {} on the way. Please wait until one of them arrives, then ask again.",
            en_count(i64::from(max), "video", "videos")
        )
    }

    fn rate_limited(&self, retry_after: Duration) -> String {
        let secs = retry_after.as_secs().max(1);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let when = if secs < 90 {
            en_count(count(secs), "second", "seconds")
        } else {
            en_count(count(secs.div_ceil(60)), "minute", "minutes")
        };
        format!("🐢 You're asking faster than I can make videos. Please ask again in {when}.")
    }

    fn waiting_in_line(&self, ahead: u64) -> String {
        match ahead {
            0 => "⏳ Your video is next in line. I'll send it here as soon as it is ready.".to_owned(),
            1 => "⏳ Your video is in line: 1 video ahead of yours. I'll send it here as soon as it is ready.".to_owned(),
            n => format!("⏳ Your video is in line: {n} videos ahead of yours. I'll send it here as soon as it is ready."),
        }
    }

    fn grant_usage(&self) -> String {
        "Usage: /grant <user_id> <credits> — credits may be negative to take some off.".to_owned()
    }

    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Done: {} for user {user}. Their balance: {balance}.", signed_credits(amount))
    }

    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Refused: {} would take user {user}'s balance ({balance}) below zero.", signed_credits(amount))
    }

    fn refund_usage(&self) -> String {
        "Usage: /refund <user_id> <telegram_payment_charge_id>".to_owned()
    }

    fn refund_done(&self, user: UserId, stars: i64, taken: i64, balance: i64) -> String {
        format!(
            "Refunded {} to user {user}; {} taken off. Their balance: {balance}.",
            en_count(stars, "Star", "Stars"),
            credits(taken)
        )
    }

    fn refund_refused(&self, refusal: &RefundRefusal) -> String {
        match refusal {
            RefundRefusal::Unknown => "Refused: no purchase with that charge id.".to_owned(),
            RefundRefusal::OtherUser => "Refused: that purchase belongs to another user.".to_owned(),
            RefundRefusal::AlreadyRefunded => "Refused: that purchase was refunded already.".to_owned(),
            RefundRefusal::Spent { credits, balance } => {
                format!("Refused: the purchase's {} were already spent (balance {balance}).", self::credits(*credits))
            }
            RefundRefusal::Telegram(reason) => format!("Refused by Telegram: {reason}"),
        }
    }
}

impl super::SearchTexts for English {
    fn similar_offer(&self, typed: &str) -> String {
        format!(
            "🔎 A video of a very similar prompt is ready:\n“{}”\n\n▶️ sends it now; ✨ makes your own wording.",
            shorten(typed, 300)
        )
    }

    fn similar_send_button(&self) -> String {
        "▶️ Send this video".to_owned()
    }

    fn similar_make_button(&self) -> String {
        "✨ Make mine".to_owned()
    }

    fn similar_sending(&self) -> String {
        "▶️ Sending that video.".to_owned()
    }

    fn similar_making(&self) -> String {
        "✨ Making your own wording.".to_owned()
    }

    fn similar_gone(&self) -> String {
        "That video is no longer available. Press ✨ to make yours.".to_owned()
    }

    fn similar_not_yours(&self) -> String {
        "This choice belongs to someone else.".to_owned()
    }

    fn similar_answered(&self) -> String {
        "You have chosen already.".to_owned()
    }

    fn inline_make_button(&self, prompt: &str) -> String {
        format!("🎬 Make “{}”", shorten(prompt, 40))
    }

    fn inline_start_unknown(&self) -> String {
        "That link has expired: send the prompt as a message.".to_owned()
    }

    fn search_stats(&self, inline_answers: i64, inline_sends: i64, offered: i64, accepted: i64, declined: i64) -> String {
        format!(
            "Search: inline answers {inline_answers}, sent from inline {inline_sends}; similar videos offered {offered}, accepted {accepted} (no generation), declined {declined}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StepCounts;

    #[test]
    fn stages_read_as_before() {
        let t = English;
        let counts = StepCounts { images_done: 10, images: 10, clips_done: 10, clips: 10, voice_ready: true, assembled: true };
        assert_eq!(t.stage(&Stage::Steps(counts)), "Images 10/10, clips 10/10, voice-over ready, video assembled");
        let counts = StepCounts { images_done: 4, images: 4, clips: 4, ..Default::default() };
        assert_eq!(t.stage(&Stage::Steps(counts)), "Images 4/4, clips 0/4");
        assert_eq!(
            t.being_made(Some(&Stage::Uploading)),
            "⏳ Your video is being made (uploading). I'll send it here as soon as it is ready."
        );
    }
}
