//! What vidcache does, split by what it does. Both the bot (updates) and
//! the worker (jobs) call these; none of them knows about Telegram updates
//! or the job queue's messages beyond its own boundary.
//!
//! - [`intake`]: record a request, dispatch its generation, first answer;
//! - [`delivery`]: the one owner of sends — claim, send, record;
//! - [`dispatch`]: push a generation job (the queue boundary);
//! - [`extend`]: "➕ Extend" — the wait for a continuation, the extension's
//!   asset, the parent's video for the worker;
//! - [`generations`]: a worker's lease-guarded lifecycle of a generation;
//! - [`housekeeping`]: the sweep of files no asset needs, and the disk used;
//! - [`operator`]: /clear, one asset's report, /stats;
//! - [`remix`]: photos to animate — downloaded once, kept by digest;
//! - [`status`]: a user's /status;
//! - [`history`]: a user's /history and sending a video of it again;
//! - [`cancel`]: a user's /cancel (their held credits go back);
//! - [`approvals`]: gates a person approves (`APPROVALS`);
//! - [`catalog`]: the one writer of the cache: what each asset can be sent as, mirrored from the database;
//! - [`publish`]: a finished video uploaded once, recorded, and fanned out;
//! - [`console`]: what the operator console shows, and its Clear button;
//! - [`credits`]: balances, Stars purchases and refunds, operators' grants;
//! - [`fair_use`]: the per-user rate limit shared through Redis;
//! - [`search`]: the catalog search — similar videos offered, inline answers;
//! - [`health`]: readiness (database, queue) and the backlog for metrics.

pub mod approvals;
pub mod cancel;
pub mod catalog;
pub mod console;
pub mod credits;
pub mod delivery;
pub mod dispatch;
pub mod extend;
pub mod fair_use;
pub mod generations;
pub mod health;
pub mod history;
pub mod housekeeping;
pub mod intake;
pub mod moderation;
pub mod operator;
pub mod publish;
pub mod remix;
pub mod search;
pub mod status;

pub use approvals::{ApprovalPress, Approvals};
pub use cancel::Cancel;
pub use console::Console;
pub use credits::Credits;
pub use delivery::{Delivered, Delivery, UploadError, Uploaded};
pub use dispatch::Dispatcher;
pub use extend::Extensions;
pub use generations::Generations;
pub use health::Health;
pub use history::History;
pub use housekeeping::Housekeeping;
pub use intake::Intake;
pub use moderation::Moderation;
pub use operator::Operator;
pub use remix::Remixes;
pub use search::Search;
pub use status::UserStatus;
