//! English: the menu, the settings and help: the buttons people press to find their way.

use crate::domain::{Choice, Choices, Length, Quality};
use crate::texts::{MenuTexts, en_count};

use super::English;

impl MenuTexts for English {
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
                super::credits(new),
                super::credits(cached)
            ));
        }
        text.push_str("\n\nTap a button to change a setting: it counts from your next video.");
        text
    }

    fn setting_chosen(&self, choice: Choice) -> String {
        format!("✅ {} — for your next videos.", crate::texts::choice_label(self, choice))
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

    fn menu_status(&self) -> String {
        "📊 Status".to_owned()
    }

    fn menu_help(&self) -> String {
        "❓ Help".to_owned()
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
}
