//! Telegram's flood limits, kept on our side: one global budget for the bot
//! token and one per chat, as GCRA (generic cell rate) schedules.
//!
//! A send asks for a slot and is told *when* it may go: at once while
//! there is budget, later past it. Nothing polls and nothing waits when
//! there is budget, so a cache hit is not delayed (unlike teloxide's
//! `Throttle`, whose worker wakes every 250 ms). A 429 from Telegram
//! freezes the global schedule for `retry_after`.

use std::sync::Mutex;
use std::time::Duration;

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

#[derive(Debug)]
struct State {
    global: Gcra,
    frozen_until: Instant,
}

/// The flood limiter shared by every sender of one process; with a
/// [`SharedBudget`] it also shares the budget with every other process.
#[derive(Debug)]
pub struct FloodLimiter {
    state: Mutex<State>,
    chats: moka::sync::Cache<i64, std::sync::Arc<Mutex<Gcra>>>,
    chat_burst: u32,
    shared: Option<SharedBudget>,
}

impl FloodLimiter {
    /// `global_per_second` sends per second in total; per chat about one per
    /// second with bursts of `chat_burst`.
    pub fn new(global_per_second: u32, chat_burst: u32) -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(State { global: Gcra::new(f64::from(global_per_second), 1, now), frozen_until: now }),
            chats: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(60)).build(),
            chat_burst,
            shared: None,
        }
    }

    /// Keeps the budget in Redis, shared with every process of the bot.
    pub fn with_shared(mut self, shared: SharedBudget) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Waits until a message to `chat_id` may be sent, and takes the slot.
    pub async fn acquire(&self, chat_id: i64) {
        if let Some(shared) = &self.shared {
            match shared.acquire(chat_id).await {
                Ok(()) => return,
                // Redis away: fall back to this process's own budget.
                Err(err) => tracing::warn!(error = %err, "shared flood budget unavailable; limiting locally"),
            }
        }
        self.acquire_local(chat_id).await;
    }

    async fn acquire_local(&self, chat_id: i64) {
        let chat =
            self.chats.get_with(chat_id, || std::sync::Arc::new(Mutex::new(Gcra::new(1.0, self.chat_burst, Instant::now()))));
        let chat_at = lock(&chat).reserve(Instant::now());
        tokio::time::sleep_until(chat_at).await;
        loop {
            let (frozen_until, at) = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                if state.frozen_until > now { (Some(state.frozen_until), now) } else { (None, state.global.reserve(now)) }
            };
            match frozen_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => {
                    tokio::time::sleep_until(at).await;
                    return;
                }
            }
        }
    }

    /// Telegram said 429: stop every send (of every process) for `retry_after`.
    pub async fn freeze(&self, retry_after: Duration) {
        if let Some(shared) = &self.shared {
            if let Err(err) = shared.freeze(retry_after).await {
                tracing::warn!(error = %err, "could not pause the shared flood budget");
            }
        }
        self.freeze_local(retry_after);
    }

    fn freeze_local(&self, retry_after: Duration) {
        let mut state = lock(&self.state);
        let until = Instant::now() + retry_after;
        if until > state.frozen_until {
            state.frozen_until = until;
            tracing::warn!(retry_after_secs = retry_after.as_secs_f64(), "Telegram flood control: pausing all sends");
        }
        // Restart the schedule after the pause instead of bursting the backlog.
        state.global.tat = state.global.tat.max(until);
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
        let limiter = FloodLimiter::new(30, 2);
        let before = Instant::now();
        limiter.acquire(1).await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn one_second_holds_at_most_the_global_rate() {
        let limiter = std::sync::Arc::new(FloodLimiter::new(30, 2));
        let start = Instant::now();
        let mut handles = Vec::new();
        for chat in 0..90 {
            let limiter = limiter.clone();
            handles.push(tokio::spawn(async move {
                limiter.acquire(chat).await;
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
    async fn freeze_pauses_everything() {
        let limiter = FloodLimiter::new(30, 2);
        limiter.freeze(Duration::from_secs(5)).await;
        let before = Instant::now();
        limiter.acquire(7).await;
        assert!(Instant::now() - before >= Duration::from_secs(5));
    }
}
