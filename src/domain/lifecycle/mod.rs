//! The lifecycle of a request and its asset, as pure decisions: what may
//! happen to an asset ([`AssetMove`], the only ways its status changes) and
//! whether a new request is let in ([`admit`]). `db/` loads the facts,
//! asks here, and stores the answer inside its serializable transactions;
//! nothing here touches a database, Telegram or the queue.

mod admission;
mod asset;

pub use admission::{Admission, Admit, AssetFacts, Charge, Facts, Pricing, Refusal, admit};
pub use asset::{AssetMove, IllegalMove};
