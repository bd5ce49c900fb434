//! The menu, the settings and help: the buttons people press to find their way.

use crate::domain::{Choice, Choices, Length, Quality};

/// The menu, the settings and help, in one language.
pub trait MenuTexts {
    fn help(&self, max_prompt_chars: usize) -> String;
    /// A quality as the settings buttons show it ("Fast", "Quality").
    fn quality_label(&self, quality: Quality) -> String;
    /// A length as the settings buttons show it ("Short", "Long").
    fn length_label(&self, length: Length) -> String;
    /// The settings screen above its buttons: the current `choices` and,
    /// with credits on, `prices` with them (a new video, a cached one).
    fn settings(&self, choices: Choices, prices: Option<(i64, i64)>) -> String;
    /// The answer to a settings press (≤ 200 chars).
    fn setting_chosen(&self, choice: Choice) -> String;
    /// "⚙️ Settings": on the reply keyboard and in the menu; begins with ⚙️.
    fn settings_button(&self) -> String;
    /// "🏠 Menu": the inline button next to ➕ under every video.
    fn menu_button(&self) -> String;
    /// The menu above its buttons.
    fn main_menu(&self) -> String;
    /// The menu's buttons: 🎬 new video, 📜 history, 💰 balance.
    fn menu_new_video(&self) -> String;
    fn menu_history(&self) -> String;
    fn menu_balance(&self) -> String;
    /// 🎬 New video pressed: what to send (≤ 200 chars).
    fn new_video_hint(&self) -> String;
    /// The labels of the persistent reply keyboard: (status, help).
    fn menu_status(&self) -> String;
    fn menu_help(&self) -> String;
    /// The command menu registered with Telegram: (command, description).
    fn command_menu(&self) -> Vec<(&'static str, String)>;
}
