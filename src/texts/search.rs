//! Texts of the catalog search: the similar-video offer and inline mode.
//! English and Russian implement [`SearchTexts`] in `en/search.rs` and `ru/search.rs`.

/// What the search says, in one language.
pub trait SearchTexts {
    /// The offer of a similar video (`typed`: its prompt as first typed).
    fn similar_offer(&self, typed: &str) -> String;
    /// The button that sends the similar video; must begin with "▶️".
    fn similar_send_button(&self) -> String;
    /// The button that makes the user's own wording; must begin with "✨".
    fn similar_make_button(&self) -> String;
    /// ▶️ pressed: the video is on its way.
    fn similar_sending(&self) -> String;
    /// ✨ pressed: their own wording is being made.
    fn similar_making(&self) -> String;
    /// ▶️ pressed after the video was removed: nothing was sent or spent.
    fn similar_gone(&self) -> String;
    /// A press on an offer made to someone else.
    fn similar_not_yours(&self) -> String;
    /// A press on an offer answered already.
    fn similar_answered(&self) -> String;
    /// The inline answer's button that makes the typed prompt (`prompt`).
    fn inline_make_button(&self, prompt: &str) -> String;
    /// `/start` with a parameter no prompt is kept under.
    fn inline_start_unknown(&self) -> String;
    /// The line of `/stats` about the search.
    fn search_stats(&self, inline_answers: i64, inline_sends: i64, offered: i64, accepted: i64, declined: i64) -> String;
}
