//! One retry policy for every backoff in the service: Telegram sends,
//! provider calls, generation attempts, serializable transactions and
//! long polling all wait `base · 2^(retry−1)`, capped, with jitter.

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included.
    pub attempts: u32,
    /// Backoff before the second try; doubles with each further try.
    pub base: Duration,
    pub max_backoff: Duration,
    /// The longest wait a `Retry-After` gets: a longer (or absurd) one is
    /// waited only this long before the next try.
    pub max_retry_after: Duration,
    /// Spread the waits ("equal jitter": between half and all of the
    /// backoff) so that many retrying callers don't wake together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// Provider calls: 5 tries, 0.5 s doubling up to 30 s.
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// `attempts` tries, waiting `base` doubling up to `max_backoff`.
    pub fn new(attempts: u32, base: Duration, max_backoff: Duration) -> Self {
        Self { attempts: attempts.max(1), base, max_backoff, ..Self::default() }
    }

    /// The same policy without jitter (exact waits).
    pub fn exact(self) -> Self {
        Self { jitter: false, ..self }
    }

    /// The wait before retry number `retry` (1 = the second try):
    /// `base · 2^(retry−1)` capped at `max_backoff`, jittered when set.
    pub fn backoff(&self, retry: u32) -> Duration {
        let full = self.base.saturating_mul(2u32.saturating_pow(retry.saturating_sub(1).min(30))).min(self.max_backoff);
        if !self.jitter {
            return full;
        }
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Whether another try follows failure number `failures`.
    pub fn retries_after(&self, failures: u32) -> bool {
        failures < self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first), "{first:?}");
            let third = policy.backoff(3);
            assert!((Duration::from_millis(175)..=Duration::from_millis(350)).contains(&third), "{third:?}");
        }
        let exact = policy.exact();
        assert_eq!(exact.backoff(1), Duration::from_millis(100));
        assert_eq!(exact.backoff(2), Duration::from_millis(200));
        assert_eq!(exact.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn attempts_count_the_first_try() {
        let policy = RetryPolicy::new(3, Duration::ZERO, Duration::ZERO);
        assert!(policy.retries_after(1) && policy.retries_after(2) && !policy.retries_after(3));
    }
}
