//! Telegram's flood limits, kept on our side: one global budget for the bot
//! token and one per chat, as GCRA (generic cell rate) schedules.
//!
//! A send asks for a slot and is told *when* it may go: at once while
//! there is budget, later past it. Nothing polls and nothing waits when
//! there is budget, so a cache hit is not delayed (unlike teloxide's
//! `Throttle`, whose worker wakes every 250 ms). A group (any chat with a
//! negative id) also gets at most 20 messages in any minute, Telegram's
//! limit there.
//!
//! A 429 answered for a send to one chat — private or group — pauses only
//! that chat, for `retry_after`: in this process, and with the shared
//! budget in Redis on every other replica too; every other chat goes on.
//! 429s from several chats within a second mean the bot as a whole is over
//! its limit: they also freeze the global schedule and the paid broadcast
//! lane (of every replica, with Redis) for `retry_after`, no longer. While
//! the shared budget's Redis is away, this process limits on its own and
//! asks Redis again a second later.
//!
//! The parts: [`gcra`] (one schedule), [`global`] (the bot's budget, its
//! priority lines and the paid lane), [`chats`] (per-chat pacing and the
//! group minute), [`pauses`] (429 pauses).

mod chats;
mod gcra;
mod global;
mod pauses;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use self::chats::ChatPacing;
use self::gcra::Gcra;
use self::global::{Paid, State, pace};
use self::pauses::{MAX_FREEZE, Pauses};
use super::shared_budget::SharedBudget;
pub use chats::GROUP_PER_MINUTE;
pub use global::Priority;

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// The paid broadcast budget, when it is on.
    paid: Option<Mutex<Paid>>,
    chats: ChatPacing,
    pauses: Pauses,
    shared: Option<SharedBudget>,
    /// Until when the shared budget is not asked (Redis failed just now).
    shared_down_until: Mutex<Option<Instant>>,
    /// Whether the outage was logged (once per outage, not once per send).
    shared_down_logged: AtomicBool,
}

/// How long, after Redis failed, sends use this process's own budget
/// without asking Redis (each ask would wait for it to time out).
const SHARED_RETRY_AFTER: Duration = Duration::from_secs(1);

impl Inner {
    /// The shared budget, unless Redis failed within the last second.
    fn shared(&self) -> Option<&SharedBudget> {
        let shared = self.shared.as_ref()?;
        match *lock(&self.shared_down_until) {
            Some(until) if Instant::now() < until => None,
            _ => Some(shared),
        }
    }

    fn shared_failed(&self, err: &redis::RedisError) {
        *lock(&self.shared_down_until) = Some(Instant::now() + SHARED_RETRY_AFTER);
        if !self.shared_down_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %err, "shared flood budget unavailable (Redis); limiting locally until it answers");
        }
    }

    fn shared_answered(&self) {
        if self.shared_down_logged.swap(false, Ordering::Relaxed) {
            tracing::info!("shared flood budget available again");
        }
    }

    /// Records how a call to the shared budget went; `true` if Redis answered.
    fn shared_result(&self, result: Result<(), redis::RedisError>) -> bool {
        match result {
            Ok(()) => {
                self.shared_answered();
                true
            }
            Err(err) => {
                self.shared_failed(&err);
                false
            }
        }
    }
}

/// The flood limiter shared by every sender of one process; with a
/// [`SharedBudget`] it also shares the budget with every other process.
/// Per chat, sends take their turn in order; the global budget is handed
/// out by priority (see [`Priority`]).
#[derive(Debug, Clone)]
pub struct FloodLimiter {
    inner: Arc<Inner>,
}

impl FloodLimiter {
    /// `global_per_second` sends per second in total; per chat about one per
    /// second with bursts of `chat_burst`. With `shared`, the budget is kept
    /// in Redis and shared with every process of the bot.
    pub fn new(global_per_second: u32, chat_burst: u32, shared: Option<SharedBudget>) -> Self {
        Self::with_paid_broadcast(global_per_second, chat_burst, shared, None)
    }

    /// [`FloodLimiter::new`] with a paid broadcast budget of `paid_per_second`.
    pub fn with_paid_broadcast(
        global_per_second: u32,
        chat_burst: u32,
        shared: Option<SharedBudget>,
        paid_per_second: Option<u32>,
    ) -> Self {
        let now = Instant::now();
        let state = State::new(Gcra::new(f64::from(global_per_second), 1, now), now);
        let paid =
            paid_per_second.map(|rate| Mutex::new(Paid { schedule: Gcra::new(f64::from(rate), 1, now), frozen_until: now }));
        // With Redis the paid lane is shared by every process of the bot too.
        let shared = shared.map(|shared| shared.with_paid_rate(paid_per_second));
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                paid,
                chats: ChatPacing::new(chat_burst),
                pauses: Pauses::new(),
                shared,
                shared_down_until: Mutex::new(None),
                shared_down_logged: AtomicBool::new(false),
            }),
        }
    }

    /// Waits until a message to `chat_id` may be sent, and takes the slot.
    pub async fn acquire(&self, chat_id: i64, priority: Priority) {
        self.acquire_chat(chat_id).await;
        self.acquire_budget(priority).await;
        // A 429 for this chat that came while this send waited for the
        // budget: it waits that out too instead of drawing another 429.
        self.inner.pauses.wait(chat_id).await;
    }

    /// Waits for a slot of the global budget (or the paid lane).
    async fn acquire_budget(&self, priority: Priority) {
        if priority == Priority::Broadcast
            && let Some(paid) = &self.inner.paid
        {
            if let Some(shared) = self.inner.shared().filter(|s| s.shares_paid())
                && self.inner.shared_result(shared.acquire_paid().await)
            {
                return;
            }
            // No shared lane, or Redis away: this process's own paid lane.
            let at = lock(paid).reserve();
            tokio::time::sleep_until(at).await;
            return;
        }
        // Without a paid budget a broadcast is an ordinary bulk send.
        let priority = if priority == Priority::Broadcast { Priority::Bulk } else { priority };
        let (tx, rx) = oneshot::channel();
        {
            let mut state = lock(&self.inner.state);
            let now = Instant::now();
            // Nobody waits, the budget has room now and nothing is frozen: go at once.
            if self.inner.shared().is_none() && state.free_now(now) {
                state.global.reserve(now);
                return;
            }
            if state.queue(priority, tx) {
                tokio::spawn(pace(self.inner.clone()));
            }
        }
        // The pacer never drops a waiter without answering it.
        let _ = rx.await;
    }

    /// Waits for the chat's turn: past a 429's pause, within its per-chat
    /// rate, and for a group within its minute.
    async fn acquire_chat(&self, chat_id: i64) {
        self.inner.pauses.wait(chat_id).await;
        self.acquire_chat_rate(chat_id).await;
        if let Some(at) = self.inner.chats.reserve_group(chat_id) {
            tokio::time::sleep_until(at).await;
        }
    }

    /// The chat's own rate: in Redis with the shared budget (which also
    /// holds a pause another replica was told of), else in this process.
    async fn acquire_chat_rate(&self, chat_id: i64) {
        if let Some(shared) = self.inner.shared()
            && self.inner.shared_result(shared.acquire_chat(chat_id).await)
        {
            return;
        }
        // Redis away: fall back to this process's own budget.
        let at = self.inner.chats.reserve_rate(chat_id);
        tokio::time::sleep_until(at).await;
    }

    /// Telegram said 429 to a send to `chat_id`: sends to that chat wait
    /// `retry_after` (capped) — this process's, and with the shared budget
    /// every other replica's — and then go on at the chat's rate. Every
    /// other chat goes on meanwhile. When 429s came from several chats
    /// within a second, the bot as a whole is over its limit: everything
    /// is frozen too ([`FloodLimiter::freeze`]).
    pub async fn flood_wait(&self, chat_id: i64, retry_after: Duration) {
        let retry_after = retry_after.min(MAX_FREEZE);
        let now = Instant::now();
        let until = now + retry_after;
        let widespread = self.inner.pauses.pause(chat_id, until, now);
        self.inner.chats.hold_until(chat_id, until);
        if let Some(shared) = self.inner.shared() {
            self.inner.shared_result(shared.pause_chat(chat_id, retry_after).await);
        }
        tracing::info!(chat_id, retry_after_secs = retry_after.as_secs_f64(), "Telegram flood control for one chat: pausing it");
        if widespread {
            self.freeze(retry_after).await;
        }
    }

    /// The bot as a whole is over its limit: stop every send (of every
    /// process) for `retry_after` — the free budget and the paid broadcast
    /// lane alike, and no longer than that.
    pub async fn freeze(&self, retry_after: Duration) {
        // Whatever the caller was told, never longer than this (and no `Instant` overflow).
        let retry_after = retry_after.min(MAX_FREEZE);
        if let Some(shared) = self.inner.shared() {
            self.inner.shared_result(shared.freeze(retry_after).await);
        }
        let until = Instant::now() + retry_after;
        if let Some(paid) = &self.inner.paid {
            lock(paid).freeze_until(until);
        }
        if lock(&self.inner.state).freeze_until(until) {
            tracing::warn!(retry_after_secs = retry_after.as_secs_f64(), "Telegram flood control: pausing all sends");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
