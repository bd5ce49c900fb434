//! Telegram's flood limits, kept on our side: one global budget for the bot
//! token and one per chat, as GCRA (generic cell rate) schedules.
//!
//! A send asks for a slot and is told *when* it may go: at once while
//! there is budget, later past it. Nothing polls and nothing waits when
//! there is budget, so a cache hit is not delayed (unlike teloxide's
//! `Throttle`, whose worker wakes every 250 ms). A group (any chat with a
//! negative id) also gets at most 20 messages in any minute, Telegram's
//! limit there. A 429 for a group pauses only that group, for `retry_after`
//! (other chats, and other replicas, go on). A 429 in a private chat (never
//! sent to faster than Telegram allows one chat), or 429s from several
//! chats within a second, mean the whole bot is over its limit: they also
//! freeze the global schedule and the paid broadcast lane for
//! `retry_after`, no longer. While the shared budget's Redis is away, this
//! process limits on its own and asks Redis again a second later.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::shared_budget::SharedBudget;

/// One GCRA schedule: `rate` cells per second with a burst of `burst`.
#[derive(Debug)]
struct Gcra {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next cell.
    tat: Instant,
}

impl Gcra {
    fn new(per_second: f64, burst: u32, now: Instant) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        Self { interval, tolerance: interval * burst.saturating_sub(1), tat: now }
    }

    /// Reserves the next cell at or after `at` and returns when it may be used.
    fn reserve(&mut self, at: Instant) -> Instant {
        let tat = self.tat.max(at);
        let allowed = (tat.checked_sub(self.tolerance).unwrap_or(at)).max(at);
        self.tat = tat + self.interval;
        allowed
    }
}

/// What a send is for. Within the one flood budget, a waiting send of a
/// higher priority always goes before one of a lower: a person's own
/// answer never waits behind a bulk fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// An answer to the user's own action: a cache hit, a command's reply.
    Interactive = 0,
    /// A "being made" note.
    Note = 1,
    /// Fan-out deliveries and failure notices.
    Bulk = 2,
    /// Edits of progress notes.
    Progress = 3,
    /// Fan-out deliveries sent as paid broadcasts (`PAID_BROADCAST=on`):
    /// they have a budget of their own, up to 1,000 a second, and never
    /// take a slot of the free budget.
    Broadcast = 4,
}

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

/// Messages one group gets in any minute (Telegram's limit, edits included).
pub const GROUP_PER_MINUTE: usize = 20;

/// The minute of [`GROUP_PER_MINUTE`], with a second's margin for the
/// time a send takes to reach Telegram.
const GROUP_WINDOW: Duration = Duration::from_secs(61);

/// 429s from this many different chats within a second: the bot as a
/// whole is over its limit, not one chat.
const WIDESPREAD_FLOOD_CHATS: usize = 3;

/// Lines of the free budget (every priority but `Broadcast`).
const PRIORITIES: usize = 4;

#[derive(Debug)]
struct State {
    global: Gcra,
    frozen_until: Instant,
    /// Sends waiting for a global slot, one line per priority.
    waiting: [VecDeque<oneshot::Sender<()>>; PRIORITIES],
    /// Whether the pacer task is handing out slots.
    pacing: bool,
}

impl State {
    fn is_waiting(&self) -> bool {
        self.waiting.iter().any(|line| !line.is_empty())
    }

    /// Gives the slot to the waiting send of the highest priority; false
    /// when nobody (still) waits.
    fn grant(&mut self) -> bool {
        for line in &mut self.waiting {
            while let Some(waiter) = line.pop_front() {
                if waiter.send(()).is_ok() {
                    return true;
                }
            }
        }
        false
    }
}

/// The paid broadcast lane: its own schedule, paused by a 429 like the rest.
#[derive(Debug)]
struct Paid {
    schedule: Gcra,
    frozen_until: Instant,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// The paid broadcast budget, when it is on.
    paid: Option<Mutex<Paid>>,
    chats: moka::sync::Cache<i64, Arc<Mutex<Gcra>>>,
    chat_burst: u32,
    /// Per group: its last minute of sends.
    groups: moka::sync::Cache<i64, Arc<Mutex<Window>>>,
    /// Chats Telegram answered 429: paused until then (this process only).
    paused: moka::sync::Cache<i64, Instant>,
    /// The chats refused with 429 within the last second, and when.
    recent_floods: Mutex<VecDeque<(i64, Instant)>>,
    shared: Option<SharedBudget>,
    /// Until when the shared budget is not asked (Redis failed just now).
    shared_down_until: Mutex<Option<Instant>>,
    /// Whether the outage was logged (once per outage, not once per send).
    shared_down_logged: AtomicBool,
}

/// How long, after Redis failed, sends use this process's own budget
/// without asking Redis (each ask would wait for it to time out).
const SHARED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The longest pause a 429 causes (Telegram's `retry_after` is capped at
/// the same value before it gets here).
const MAX_FREEZE: Duration = Duration::from_secs(super::api::MAX_FLOOD_WAIT_SECS);

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
        let state = State {
            global: Gcra::new(f64::from(global_per_second), 1, now),
            frozen_until: now,
            waiting: Default::default(),
            pacing: false,
        };
        let chats = moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(60)).build();
        let paid =
            paid_per_second.map(|rate| Mutex::new(Paid { schedule: Gcra::new(f64::from(rate), 1, now), frozen_until: now }));
        // With Redis the paid lane is shared by every process of the bot too.
        let shared = shared.map(|shared| shared.with_paid_rate(paid_per_second));
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                paid,
                chats,
                chat_burst,
                groups: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(120)).build(),
                paused: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(MAX_FREEZE * 2).build(),
                recent_floods: Mutex::new(VecDeque::new()),
                shared,
                shared_down_until: Mutex::new(None),
                shared_down_logged: AtomicBool::new(false),
            }),
        }
    }

    /// Waits until a message to `chat_id` may be sent, and takes the slot.
    pub async fn acquire(&self, chat_id: i64, priority: Priority) {
        self.acquire_chat(chat_id).await;
        if priority == Priority::Broadcast
            && let Some(paid) = &self.inner.paid
        {
            if let Some(shared) = self.inner.shared().filter(|s| s.shares_paid()) {
                match shared.acquire_paid().await {
                    Ok(()) => {
                        self.inner.shared_answered();
                        return;
                    }
                    // Redis away: this process's own paid lane meanwhile.
                    Err(err) => self.inner.shared_failed(&err),
                }
            }
            let at = {
                let mut paid = lock(paid);
                let frozen_until = paid.frozen_until;
                paid.schedule.reserve(Instant::now().max(frozen_until))
            };
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
            if self.inner.shared().is_none() && !state.is_waiting() && state.frozen_until <= now && state.global.tat <= now {
                state.global.reserve(now);
                return;
            }
            state.waiting[priority as usize].push_back(tx);
            if !state.pacing {
                state.pacing = true;
                tokio::spawn(pace(self.inner.clone()));
            }
        }
        // The pacer never drops a waiter without answering it.
        let _ = rx.await;
    }

    /// Waits for the chat's turn: past a 429's pause, within its per-chat
    /// rate, and for a group within its minute.
    async fn acquire_chat(&self, chat_id: i64) {
        if let Some(until) = self.inner.paused.get(&chat_id) {
            tokio::time::sleep_until(until).await;
        }
        self.acquire_chat_rate(chat_id).await;
        // groups, supergroups and channels have negative ids
        if chat_id < 0 {
            let group = self.inner.groups.get_with(chat_id, || Arc::new(Mutex::new(Window::new(GROUP_PER_MINUTE, GROUP_WINDOW))));
            let at = lock(&group).reserve(Instant::now());
            tokio::time::sleep_until(at).await;
        }
    }

    async fn acquire_chat_rate(&self, chat_id: i64) {
        if let Some(shared) = self.inner.shared() {
            match shared.acquire_chat(chat_id).await {
                Ok(()) => {
                    self.inner.shared_answered();
                    return;
                }
                // Redis away: fall back to this process's own budget.
                Err(err) => self.inner.shared_failed(&err),
            }
        }
        let chat =
            self.inner.chats.get_with(chat_id, || Arc::new(Mutex::new(Gcra::new(1.0, self.inner.chat_burst, Instant::now()))));
        let chat_at = lock(&chat).reserve(Instant::now());
        tokio::time::sleep_until(chat_at).await;
    }

    /// Telegram said 429 to a send to `chat_id`: this process's sends to
    /// that chat wait `retry_after` (capped). For a group (over its 20 a
    /// minute) that is all: every other chat goes on, and so do other
    /// replicas. In a private chat, which is never sent to faster than one
    /// chat may get, or when 429s came from several chats within a second,
    /// the bot as a whole is over its limit: everything is frozen too
    /// ([`FloodLimiter::freeze`]).
    pub async fn flood_wait(&self, chat_id: i64, retry_after: Duration) {
        let retry_after = retry_after.min(MAX_FREEZE);
        let now = Instant::now();
        let until = now + retry_after;
        let paused_until = self.inner.paused.get(&chat_id).map_or(until, |before| before.max(until));
        self.inner.paused.insert(chat_id, paused_until);
        let widespread = {
            let mut recent = lock(&self.inner.recent_floods);
            recent.retain(|(chat, at)| *chat != chat_id && now.duration_since(*at) < Duration::from_secs(1));
            recent.push_back((chat_id, now));
            chat_id > 0 || recent.len() >= WIDESPREAD_FLOOD_CHATS
        };
        tracing::info!(chat_id, retry_after_secs = retry_after.as_secs_f64(), "Telegram flood control for one chat: pausing it");
        if widespread {
            self.freeze(retry_after).await;
        }
    }

    /// Telegram said 429: stop every send (of every process) for
    /// `retry_after` — the free budget and the paid broadcast lane alike,
    /// whichever of them the refused send went by, and no longer than that.
    pub async fn freeze(&self, retry_after: Duration) {
        // Whatever the caller was told, never longer than this (and no `Instant` overflow).
        let retry_after = retry_after.min(MAX_FREEZE);
        if let Some(shared) = self.inner.shared() {
            match shared.freeze(retry_after).await {
                Ok(()) => self.inner.shared_answered(),
                Err(err) => self.inner.shared_failed(&err),
            }
        }
        let until = Instant::now() + retry_after;
        if let Some(paid) = &self.inner.paid {
            let mut paid = lock(paid);
            paid.frozen_until = paid.frozen_until.max(until);
            // The paid backlog resumes at its rate after the pause, not in one burst.
            paid.schedule.tat = paid.schedule.tat.max(until);
        }
        let mut state = lock(&self.inner.state);
        if until > state.frozen_until {
            state.frozen_until = until;
            tracing::warn!(retry_after_secs = retry_after.as_secs_f64(), "Telegram flood control: pausing all sends");
        }
        // Restart the schedule after the pause instead of bursting the backlog.
        state.global.tat = state.global.tat.max(until);
    }
}

/// Hands out global slots while sends wait: at each slot, the waiting send
/// of the highest priority goes. Ends when nobody waits.
async fn pace(inner: Arc<Inner>) {
    loop {
        let slot = {
            let mut state = lock(&inner.state);
            if !state.is_waiting() {
                state.pacing = false;
                return;
            }
            let now = Instant::now();
            if state.frozen_until > now { Err(state.frozen_until) } else { Ok(()) }
        };
        if let Err(until) = slot {
            tokio::time::sleep_until(until).await;
            continue;
        }
        let shared = match inner.shared() {
            Some(shared) => match shared.acquire_global().await {
                Ok(()) => {
                    inner.shared_answered();
                    Ok(())
                }
                Err(err) => {
                    inner.shared_failed(&err);
                    Err(())
                }
            },
            None => Err(()),
        };
        if shared.is_err() {
            let at = lock(&inner.state).global.reserve(Instant::now());
            tokio::time::sleep_until(at).await;
        }
        lock(&inner.state).grant();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_spaces_cells_after_the_burst() {
        let start = Instant::now();
        let mut g = Gcra::new(10.0, 3, start);
        let times: Vec<Duration> = (0..6).map(|_| g.reserve(start) - start).collect();
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[1], Duration::ZERO);
        assert_eq!(times[2], Duration::ZERO);
        assert_eq!(times[3], Duration::from_millis(100));
        assert_eq!(times[4], Duration::from_millis(200));
        assert_eq!(times[5], Duration::from_millis(300));
    }

    #[test]
    fn gcra_with_burst_one_never_lets_two_cells_closer_than_the_interval() {
        let start = Instant::now();
        let mut g = Gcra::new(30.0, 1, start);
        let mut last: Option<Instant> = None;
        for i in 0..100u32 {
            // Callers arriving at irregular moments.
            let at = start + Duration::from_millis(u64::from(i * 7 % 13));
            let slot = g.reserve(at);
            if let Some(prev) = last {
                assert!(slot.duration_since(prev) >= g.interval - Duration::from_nanos(1));
            }
            last = Some(slot);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_send_is_not_delayed() {
        let limiter = FloodLimiter::new(30, 2, None);
        let before = Instant::now();
        limiter.acquire(1, Priority::Interactive).await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn one_second_holds_at_most_the_global_rate() {
        let limiter = std::sync::Arc::new(FloodLimiter::new(30, 2, None));
        let start = Instant::now();
        let mut handles = Vec::new();
        for chat in 0..90 {
            let limiter = limiter.clone();
            handles.push(tokio::spawn(async move {
                limiter.acquire(chat, Priority::Bulk).await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.expect("task") - start);
        }
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
            assert!(in_window <= 30, "{in_window} sends within 1 s from {t:?}");
        }
        assert!(times[89] < Duration::from_secs(3) + Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interactive_send_overtakes_a_queued_burst() {
        let limiter = FloodLimiter::new(30, 2, None);
        let start = Instant::now();
        let mut bulk = Vec::new();
        for chat in 0..300 {
            let limiter = limiter.clone();
            bulk.push(tokio::spawn(async move {
                limiter.acquire(chat, Priority::Bulk).await;
                Instant::now()
            }));
        }
        // the burst is queued up, about 10 s of it
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = Instant::now();
        limiter.acquire(10_000, Priority::Interactive).await;
        let waited = Instant::now() - asked;
        assert!(waited <= Duration::from_millis(40), "the answer waited {waited:?} behind the burst");
        let mut done = Vec::new();
        for handle in bulk {
            done.push(handle.await.expect("task") - start);
        }
        done.sort();
        // the burst still goes at the full rate: 300 sends (plus the one answer) in about 10 s
        assert!(done[299] <= Duration::from_millis(10_100), "the burst took {:?}", done[299]);
    }

    #[tokio::test(start_paused = true)]
    async fn paid_broadcasts_have_a_budget_of_their_own() {
        let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
        let start = Instant::now();
        let mut sends = Vec::new();
        for chat in 0..1000 {
            let limiter = limiter.clone();
            sends.push(tokio::spawn(async move { limiter.acquire(chat, Priority::Broadcast).await }));
        }
        for send in sends {
            send.await.expect("task");
        }
        assert!(Instant::now() - start <= Duration::from_millis(1000), "1,000 paid sends took {:?}", Instant::now() - start);
        // the free budget is untouched: an answer goes at once
        let asked = Instant::now();
        limiter.acquire(5_000, Priority::Interactive).await;
        assert_eq!(Instant::now(), asked);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_the_paid_lane_and_the_free_budget_for_exactly_retry_after() {
        let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
        limiter.acquire(1, Priority::Broadcast).await;
        // that paid send came back 429, retry after 3 s
        let frozen = Instant::now();
        limiter.freeze(Duration::from_secs(3)).await;
        let paid = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter.acquire(2, Priority::Broadcast).await;
                Instant::now()
            })
        };
        let free = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter.acquire(3, Priority::Interactive).await;
                Instant::now()
            })
        };
        let (paid, free) = (paid.await.expect("task") - frozen, free.await.expect("task") - frozen);
        assert!(paid >= Duration::from_secs(3), "the paid lane went on during the pause, after {paid:?}");
        assert!(free >= Duration::from_secs(3), "a free send went on during the pause, after {free:?}");
        assert!(free <= Duration::from_secs(3) + Duration::from_millis(40), "the free budget stayed frozen for {free:?}");
        // the paid backlog resumes at its own rate, not in one burst
        let resumed = Instant::now();
        let mut sends = Vec::new();
        for chat in 100..200 {
            let limiter = limiter.clone();
            sends.push(tokio::spawn(async move {
                limiter.acquire(chat, Priority::Broadcast).await;
                Instant::now()
            }));
        }
        let mut last = resumed;
        for send in sends {
            last = last.max(send.await.expect("task"));
        }
        let took = last - resumed;
        assert!(took >= Duration::from_millis(98), "100 paid sends after the pause took {took:?} (1,000/s at most)");
        assert!(took <= Duration::from_millis(150), "100 paid sends after the pause took {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_gets_at_most_20_messages_in_any_minute() {
        let limiter = FloodLimiter::new(30, 2, None);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..45 {
            limiter.acquire(-100_123, Priority::Bulk).await;
            times.push(Instant::now() - start);
        }
        for i in GROUP_PER_MINUTE..times.len() {
            let span = times[i] - times[i - GROUP_PER_MINUTE];
            assert!(span >= Duration::from_secs(60), "21 sends within {span:?}: {times:?}");
        }
        // the pace is the limit's, not slower: 45 sends within about two minutes
        assert!(times[44] <= Duration::from_secs(130), "{times:?}");
        // a private chat is not held up by it (one global slot at most)
        let asked = Instant::now();
        limiter.acquire(42, Priority::Interactive).await;
        assert!(Instant::now() - asked <= Duration::from_millis(40));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_for_one_chat_pauses_only_that_chat() {
        let limiter = FloodLimiter::new(30, 2, None);
        limiter.flood_wait(-1005, Duration::from_secs(5)).await;
        let asked = Instant::now();
        limiter.acquire(7, Priority::Interactive).await;
        limiter.acquire(-1006, Priority::Bulk).await;
        assert!(Instant::now() - asked <= Duration::from_millis(100), "other chats waited");
        limiter.acquire(-1005, Priority::Interactive).await;
        let waited = Instant::now() - asked;
        assert!(waited >= Duration::from_secs(5) && waited <= Duration::from_millis(5_150), "the flooded chat waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn several_chats_refused_at_once_pause_everything() {
        let limiter = FloodLimiter::new(30, 2, None);
        for chat in [-1, -2, -3] {
            limiter.flood_wait(chat, Duration::from_secs(4)).await;
        }
        let asked = Instant::now();
        limiter.acquire(99, Priority::Interactive).await;
        assert!(Instant::now() - asked >= Duration::from_secs(4), "the bot went on through a flood of 429s");
        // a 429 in a private chat (sent to within one chat's limit) is the bot's own
        let limiter = FloodLimiter::new(30, 2, None);
        limiter.flood_wait(5, Duration::from_secs(3)).await;
        let asked = Instant::now();
        limiter.acquire(6, Priority::Interactive).await;
        assert!(Instant::now() - asked >= Duration::from_secs(3), "a private chat's 429 paused nothing else");
    }

    #[tokio::test(start_paused = true)]
    async fn freeze_pauses_everything() {
        let limiter = FloodLimiter::new(30, 2, None);
        limiter.freeze(Duration::from_secs(5)).await;
        let before = Instant::now();
        limiter.acquire(7, Priority::Interactive).await;
        assert!(Instant::now() - before >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_freeze_panics_nothing_and_is_capped() {
        let limiter = FloodLimiter::with_paid_broadcast(30, 2, None, Some(1000));
        limiter.freeze(Duration::MAX).await;
        let before = Instant::now();
        limiter.acquire(7, Priority::Interactive).await;
        let waited = Instant::now() - before;
        assert!(waited <= Duration::from_secs(60) + Duration::from_millis(100), "frozen for {waited:?}");
    }

    /// Redis database 14 (the README lists those other tests use), or
    /// `None` with a note when Redis is not running and this is not CI.
    async fn redis_db_14() -> Option<String> {
        let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let url = format!("{base}/14");
        let client = redis::Client::open(url.as_str()).expect("redis url");
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => {
                let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("flush redis db 14");
                Some(url)
            }
            Err(err) => {
                assert!(std::env::var_os("CI").is_none(), "Redis is required in CI: {err}");
                eprintln!("note: Redis not reachable ({err}); skipping");
                None
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_together_never_exceed_the_paid_broadcast_rate() {
        let Some(url) = redis_db_14().await else { return };
        let rate = 100u32;
        let replica = async || {
            let shared = SharedBudget::connect(&url, 4242, 30, 2).await.expect("shared budget");
            FloodLimiter::with_paid_broadcast(30, 2, Some(shared), Some(rate))
        };
        let (a, b) = (replica().await, replica().await);
        // Each replica sends 100 paid broadcasts (to chats of their own) as
        // fast as its budget lets it: alone, each would take one second.
        let start = Instant::now();
        let send = |limiter: FloodLimiter, first_chat: i64| {
            tokio::spawn(async move {
                let mut times = Vec::new();
                for chat in first_chat..first_chat + 100 {
                    limiter.acquire(chat, Priority::Broadcast).await;
                    times.push(Instant::now());
                }
                times
            })
        };
        let (from_a, from_b) = (send(a, 1_000), send(b, 2_000));
        let mut times = from_a.await.expect("replica a");
        times.extend(from_b.await.expect("replica b"));
        times.sort();
        let took = times[times.len() - 1] - start;
        // 200 sends at 100/s between them: about two seconds.
        assert!(took >= Duration::from_millis(1_850), "200 paid sends of two replicas took {took:?}: the budget is not shared");
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
            // the rate, and a few for the wake-ups' jitter
            assert!(in_window <= rate as usize + 3, "{in_window} paid sends within 1 s from {:?}", *t - start);
        }
    }
}
