//! Per-chat pacing in this process: about one message a second per chat
//! (with a short burst), and for a group at most [`GROUP_PER_MINUTE`] in
//! any minute. With the shared budget the per-chat schedule lives in Redis
//! instead ([`crate::telegram::shared_budget`]); the group minute is always
//! kept here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::gcra::Gcra;
use super::lock;

/// Messages one group gets in any minute (Telegram's limit, edits included).
pub const GROUP_PER_MINUTE: usize = 20;

/// The minute of [`GROUP_PER_MINUTE`], with a second's margin for the
/// time a send takes to reach Telegram.
const GROUP_WINDOW: Duration = Duration::from_secs(61);

/// At most `max` cells in any `window`, for one group: the last `max`
/// slots handed out are kept, and the next goes no sooner than a window
/// after the oldest of them.
#[derive(Debug)]
struct Window {
    max: usize,
    window: Duration,
    slots: VecDeque<Instant>,
}

impl Window {
    fn new(max: usize, window: Duration) -> Self {
        Self { max: max.max(1), window, slots: VecDeque::new() }
    }

    /// Reserves the next cell at or after `at` and returns when it may be used.
    fn reserve(&mut self, at: Instant) -> Instant {
        let mut slot = self.slots.back().map_or(at, |last| at.max(*last));
        if self.slots.len() >= self.max
            && let Some(oldest) = self.slots.pop_front()
        {
            slot = slot.max(oldest + self.window);
        }
        self.slots.push_back(slot);
        slot
    }
}

/// Whether `chat_id` is a group, supergroup or channel (negative ids).
pub(super) fn is_group(chat_id: i64) -> bool {
    chat_id < 0
}

/// Every chat's own schedule, and every group's last minute, in this process.
#[derive(Debug)]
pub(super) struct ChatPacing {
    chats: moka::sync::Cache<i64, Arc<Mutex<Gcra>>>,
    burst: u32,
    groups: moka::sync::Cache<i64, Arc<Mutex<Window>>>,
}

impl ChatPacing {
    pub(super) fn new(burst: u32) -> Self {
        Self {
            chats: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(60)).build(),
            burst,
            groups: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(120)).build(),
        }
    }

    fn chat(&self, chat_id: i64) -> Arc<Mutex<Gcra>> {
        self.chats.get_with(chat_id, || Arc::new(Mutex::new(Gcra::new(1.0, self.burst, Instant::now()))))
    }

    /// Reserves the chat's next slot (about one a second) and returns when it may be used.
    pub(super) fn reserve_rate(&self, chat_id: i64) -> Instant {
        lock(&self.chat(chat_id)).reserve(Instant::now())
    }

    /// For a group, reserves its next slot within the minute and returns
    /// when it may be used; `None` for a private chat.
    pub(super) fn reserve_group(&self, chat_id: i64) -> Option<Instant> {
        if !is_group(chat_id) {
            return None;
        }
        let group = self.groups.get_with(chat_id, || Arc::new(Mutex::new(Window::new(GROUP_PER_MINUTE, GROUP_WINDOW))));
        let at = lock(&group).reserve(Instant::now());
        Some(at)
    }

    /// The chat was answered 429: its own schedule starts again at `until`,
    /// at its rate.
    pub(super) fn hold_until(&self, chat_id: i64, until: Instant) {
        lock(&self.chat(chat_id)).hold_until(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_never_gives_more_than_max_slots_in_any_window() {
        let start = Instant::now();
        let mut w = Window::new(3, Duration::from_secs(10));
        let times: Vec<Duration> = (0..7).map(|_| w.reserve(start) - start).collect();
        let s = Duration::from_secs;
        assert_eq!(times, [s(0), s(0), s(0), s(10), s(10), s(10), s(20)]);
    }

    #[test]
    fn only_negative_ids_are_groups() {
        let pacing = ChatPacing::new(2);
        assert!(pacing.reserve_group(42).is_none());
        assert!(pacing.reserve_group(-100_123).is_some());
    }

    #[test]
    fn a_held_chat_gets_no_slot_before_the_pause_ends() {
        let pacing = ChatPacing::new(3);
        let until = Instant::now() + Duration::from_secs(7);
        pacing.hold_until(5, until);
        assert!(pacing.reserve_rate(5) >= until);
        // another chat is not held
        assert!(pacing.reserve_rate(6) < until);
    }
}
