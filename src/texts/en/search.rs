//! English: the catalog search's texts.

use crate::texts::{SearchTexts, shorten};

use super::English;

impl SearchTexts for English {
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
