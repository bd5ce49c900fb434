//! Loopback fakes of external services, for tests and benchmarks.

pub mod providers;
mod server;
pub mod telegram;
