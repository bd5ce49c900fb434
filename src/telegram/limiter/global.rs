//! The bot's global budget (every chat together) with its priority lines,
//! the paid broadcast lane, and the pacer that hands out global slots
//! while sends wait. A global freeze (a flood of the whole bot) holds both.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::gcra::Gcra;
use super::{Inner, lock};

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

/// Lines of the free budget (every priority but `Broadcast`).
const PRIORITIES: usize = 4;

#[derive(Debug)]
pub(super) struct State {
    pub(super) global: Gcra,
    pub(super) frozen_until: Instant,
    /// Sends waiting for a global slot, one line per priority.
    waiting: [VecDeque<oneshot::Sender<()>>; PRIORITIES],
    /// Whether the pacer task is handing out slots.
    pacing: bool,
}

impl State {
    pub(super) fn new(global: Gcra, now: Instant) -> Self {
        Self { global, frozen_until: now, waiting: Default::default(), pacing: false }
    }

    fn is_waiting(&self) -> bool {
        self.waiting.iter().any(|line| !line.is_empty())
    }

    /// Nobody waits, the budget has room now and nothing is frozen.
    pub(super) fn free_now(&self, now: Instant) -> bool {
        !self.is_waiting() && self.frozen_until <= now && self.global.tat <= now
    }

    /// Puts a send in its priority's line; true when the pacer must be started.
    pub(super) fn queue(&mut self, priority: Priority, waiter: oneshot::Sender<()>) -> bool {
        let line = (priority as usize).min(PRIORITIES - 1);
        self.waiting[line].push_back(waiter);
        !std::mem::replace(&mut self.pacing, true)
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

    /// Nothing goes before `until`, and the schedule restarts after it
    /// instead of bursting the backlog. True when that made the freeze longer.
    pub(super) fn freeze_until(&mut self, until: Instant) -> bool {
        self.global.hold_until(until);
        if until > self.frozen_until {
            self.frozen_until = until;
            return true;
        }
        false
    }
}

/// The paid broadcast lane: its own schedule, paused by a global freeze like the rest.
#[derive(Debug)]
pub(super) struct Paid {
    pub(super) schedule: Gcra,
    pub(super) frozen_until: Instant,
}

impl Paid {
    /// Reserves the next paid slot (after any freeze) and returns when it may be used.
    pub(super) fn reserve(&mut self) -> Instant {
        let at = Instant::now().max(self.frozen_until);
        self.schedule.reserve(at)
    }

    /// Nothing goes before `until`; the paid backlog then resumes at its
    /// rate, not in one burst.
    pub(super) fn freeze_until(&mut self, until: Instant) {
        self.frozen_until = self.frozen_until.max(until);
        self.schedule.hold_until(until);
    }
}

/// Hands out global slots while sends wait: at each slot, the waiting send
/// of the highest priority goes. Ends when nobody waits.
pub(super) async fn pace(inner: Arc<Inner>) {
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
