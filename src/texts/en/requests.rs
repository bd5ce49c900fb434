//! English: a request's life as its user reads it: progress, the video, failures, /status, /history and /cancel.

use crate::domain::{AssetStatus, Failure, RefusalSource, RequestStatus, Stage};
use crate::texts::{ApprovalTexts, HistoryItem, RequestTexts, StatusLine, en_count, shorten};

use super::English;

impl RequestTexts for English {
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
                    reason.categories.iter().map(|c| super::category(*c)).collect::<Vec<_>>().join(", ")
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
