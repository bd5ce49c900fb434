//! sea-orm entities for the tables the `migration` crate creates.

pub mod approvals;
pub mod credit_accounts;
pub mod credit_ledger;
pub mod generation_stages;
pub mod inline_starts;
pub mod operator_actions;
pub mod pending_extensions;
pub mod pending_remixes;
pub mod photos;
pub mod provider_calls;
pub mod refusals;
pub mod search_state;
pub mod search_terms;
pub mod similar_offers;
pub mod star_payments;
pub mod update_inbox;
pub mod user_choices;
pub mod user_languages;
pub mod user_requests;
pub mod video_assets;
