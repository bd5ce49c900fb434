//! The generation queue of vidcache: the job type and the worker that runs it.
//!
//! The service records *what* must be generated in its own database (the
//! asset row and its generation number); this crate only carries the
//! "generate asset N, generation G" message from the process that decided it
//! to a worker that runs it. Every job carries an idempotency key derived
//! from (asset id, generation), so pushing the same generation twice, from a
//! retry or from the start-up reconciler, never makes a second job; a
//! generation that stalled is pushed *again* ([`JobQueue::push_again`]),
//! which puts its stuck job back in line.

mod backend;
mod generate_video;
mod listen;
mod revive;
mod wake;
mod worker;

pub use backend::{JobQueue, QueueError, lazy_redis};
pub use generate_video::{GenerateVideo, QUEUE_NAME};
pub use revive::PushedAgain;
pub use worker::{JobHandler, WorkerOptions, run_worker};

/// The error type job handlers return to apalis.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
