//! Domain types: values that cannot be built invalid. Every layer above
//! speaks in these; none of them knows about Telegram, the database or
//! the queue beyond how a value is stored.

mod actor;
mod approval;
mod callback;
mod credits;
mod failure;
mod ids;
mod lang;
mod lifecycle;
mod prompt;
mod recipe;
mod refusal;
mod stage;
mod status;
mod terms;
mod wanted;

pub use actor::{Actor, ConsoleName};
pub use approval::{ApprovalState, Decision, Gate, UnknownGate};
pub use callback::{CallbackData, MAX_CALLBACK_DATA, MenuItem};
pub use credits::{ChargeId, HoldState, LedgerKind, StarsPackage};
pub use failure::Failure;
pub use ids::{ApprovalId, AssetId, ChatId, FileId, Generation, MessageId, RequestId, ThreadId, UserId};
pub use lang::Lang;
pub use lifecycle::{Admission, Admit, AssetFacts, AssetMove, Charge, Facts, IllegalMove, Pricing, Refusal, admit};
pub use prompt::{KEY_VERSION, Prompt, PromptError, PromptKey};
pub use recipe::{Choice, Choices, Format, GeneratorKind, ImageDigest, Length, MadeWith, Quality, Recipe, UnknownChoice};
pub use refusal::{BlockedWords, Category, RefusalReason, RefusalSource, Verdict};
pub use stage::{Stage, StageSink, StepCounts};
pub use status::{AssetStatus, RequestStatus};
pub use terms::{MAX_TERMS, Terms, term_id};
pub use wanted::{Extends, Wanted};
