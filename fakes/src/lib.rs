//! Loopback fakes of external services, for tests and benchmarks.

pub mod providers;
pub mod telegram;
