//! 429 pauses in this process: a chat Telegram answered 429 waits out its
//! `retry_after` (its own sends only), and 429s from several chats within
//! a second say the bot as a whole is over its limit. With the shared
//! budget the chat's pause is also kept in Redis, for the other replicas
//! ([`crate::telegram::shared_budget::SharedBudget::pause_chat`]).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::lock;

/// The longest pause a 429 causes (Telegram's `retry_after` is capped at
/// the same value before it gets here).
pub(super) const MAX_FREEZE: Duration = Duration::from_secs(crate::telegram::api::MAX_FLOOD_WAIT_SECS);

/// 429s from this many different chats within a second: the bot as a
/// whole is over its limit, not one chat.
pub(super) const WIDESPREAD_FLOOD_CHATS: usize = 3;

/// What "within a second" is for [`WIDESPREAD_FLOOD_CHATS`].
const WIDESPREAD_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct Pauses {
    /// Chats Telegram answered 429: paused until then.
    paused: moka::sync::Cache<i64, Instant>,
    /// The chats refused with 429 within the last second, and when.
    recent: Mutex<VecDeque<(i64, Instant)>>,
}

impl Pauses {
    pub(super) fn new() -> Self {
        Self {
            paused: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(MAX_FREEZE * 2).build(),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Pauses `chat_id` until `until` (or later, if it already was), a 429
    /// answered at `now`. True when 429s came from
    /// [`WIDESPREAD_FLOOD_CHATS`] chats within a second, this one included:
    /// the whole bot is over its limit.
    pub(super) fn pause(&self, chat_id: i64, until: Instant, now: Instant) -> bool {
        let until = self.paused.get(&chat_id).map_or(until, |before| before.max(until));
        self.paused.insert(chat_id, until);
        let mut recent = lock(&self.recent);
        recent.retain(|(chat, at)| *chat != chat_id && now.saturating_duration_since(*at) < WIDESPREAD_WINDOW);
        recent.push_back((chat_id, now));
        recent.len() >= WIDESPREAD_FLOOD_CHATS
    }

    /// Until when `chat_id` is paused, if it still is.
    pub(super) fn until(&self, chat_id: i64) -> Option<Instant> {
        self.paused.get(&chat_id).filter(|until| *until > Instant::now())
    }

    /// Waits out `chat_id`'s pause, if any.
    pub(super) async fn wait(&self, chat_id: i64) {
        if let Some(until) = self.until(chat_id) {
            tokio::time::sleep_until(until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_its_chat_only_and_only_until_it_ends() {
        let pauses = Pauses::new();
        let now = Instant::now();
        let until = now + Duration::from_secs(5);
        assert!(!pauses.pause(7, until, now), "one chat's 429 is not the bot's");
        assert_eq!(pauses.until(7), Some(until));
        assert_eq!(pauses.until(8), None);
        // a shorter retry_after later does not cut the pause short
        assert!(!pauses.pause(7, now + Duration::from_secs(1), now));
        assert_eq!(pauses.until(7), Some(until));
        pauses.wait(7).await;
        assert_eq!(Instant::now(), until);
        assert_eq!(pauses.until(7), None, "the pause ended");
    }

    #[tokio::test(start_paused = true)]
    async fn several_chats_within_a_second_are_the_whole_bot() {
        let pauses = Pauses::new();
        let now = Instant::now();
        let until = now + Duration::from_secs(3);
        // one chat refused again and again is still one chat
        for _ in 0..5 {
            assert!(!pauses.pause(1, until, now));
        }
        assert!(!pauses.pause(2, until, now));
        assert!(pauses.pause(3, until, now), "three chats within a second");
        // the same three chats spread over more than a second are three chats' own
        let pauses = Pauses::new();
        for (k, chat) in [11, 12, 13].into_iter().enumerate() {
            let at = now + Duration::from_millis(600 * k as u64);
            assert!(!pauses.pause(chat, at + Duration::from_secs(3), at), "chat {chat}");
        }
    }
}
