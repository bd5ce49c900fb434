//! A log line that repeats on every request during an outage (Redis away)
//! is written at the outage's start and then at most once per period.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Says when a repeated event is due to be logged again.
#[derive(Debug)]
pub struct Every {
    period: Duration,
    last: Mutex<Option<Instant>>,
    /// Events not logged since the last line.
    skipped: Mutex<u64>,
}

impl Every {
    pub const fn new(period: Duration) -> Self {
        Self { period, last: Mutex::new(None), skipped: Mutex::new(0) }
    }

    /// `Some(events skipped since the last line)` when this event is to be
    /// logged (the first, then one per period), else `None`.
    pub fn due(&self, now: Instant) -> Option<u64> {
        let (Ok(mut last), Ok(mut skipped)) = (self.last.lock(), self.skipped.lock()) else { return Some(0) };
        match *last {
            Some(at) if now.saturating_duration_since(at) < self.period => {
                *skipped += 1;
                None
            }
            _ => {
                *last = Some(now);
                Some(std::mem::take(&mut *skipped))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_then_once_a_period() {
        let every = Every::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(every.due(t), Some(0));
        assert_eq!(every.due(t + Duration::from_secs(1)), None);
        assert_eq!(every.due(t + Duration::from_secs(59)), None);
        assert_eq!(every.due(t + Duration::from_secs(60)), Some(2));
        assert_eq!(every.due(t + Duration::from_secs(61)), None);
    }
}
