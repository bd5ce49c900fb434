//! The worker side: running a generation job and keeping the books straight.

pub mod generate;
pub mod reconcile;
