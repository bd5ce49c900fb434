//! One GCRA (generic cell rate algorithm) schedule: the global budget, a
//! chat's own budget and the paid broadcast lane are each one.

use std::time::Duration;

use tokio::time::Instant;

/// `rate` cells per second with a burst of `burst`.
#[derive(Debug)]
pub(super) struct Gcra {
    pub(super) interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next cell.
    pub(super) tat: Instant,
}

impl Gcra {
    pub(super) fn new(per_second: f64, burst: u32, now: Instant) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        Self { interval, tolerance: interval * burst.saturating_sub(1), tat: now }
    }

    /// Reserves the next cell at or after `at` and returns when it may be used.
    pub(super) fn reserve(&mut self, at: Instant) -> Instant {
        let tat = self.tat.max(at);
        let allowed = (tat.checked_sub(self.tolerance).unwrap_or(at)).max(at);
        self.tat = tat + self.interval;
        allowed
    }

    /// No cell before `until` (a 429's pause), and after it the schedule
    /// resumes at its rate instead of bursting what waited.
    pub(super) fn hold_until(&mut self, until: Instant) {
        self.tat = self.tat.max(until + self.tolerance);
    }
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

    #[test]
    fn a_held_schedule_resumes_at_its_rate_after_the_pause() {
        let start = Instant::now();
        let mut g = Gcra::new(10.0, 3, start);
        let until = start + Duration::from_secs(5);
        g.hold_until(until);
        let times: Vec<Duration> = (0..4).map(|_| g.reserve(start) - start).collect();
        // nothing within the pause, and no burst at its end: one cell, then the rate
        assert_eq!(times[0], Duration::from_secs(5), "{times:?}");
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(100), "{times:?}");
        }
        // holding to an earlier moment changes nothing
        let before = g.tat;
        g.hold_until(start);
        assert_eq!(g.tat, before);
    }
}
