//! The black-box tests, in one binary (one link, one shared harness):
//! each module is one area, run by `cargo test -p vidcache --test api`
//! (or one area: `cargo test -p vidcache --test api faults::`).
//!
//! Tests of different modules run side by side in this one process, so
//! none may share mutable state outside it: each test owns its fake
//! Telegram, data directory and free ports, its own PostgreSQL database
//! (`support::postgres_database`) and its own Redis database number
//! (`support::redis_db` lists who owns which).

mod support;

mod admin;
mod approvals;
mod chat_pause;
mod console_browser;
mod core_flow;
mod credits;
mod credits_scale;
mod extend;
mod faults;
mod generation_faults;
mod groups;
mod hardening;
mod history_cancel;
mod intake;
mod language;
mod layers;
mod pipeline;
mod pipeline_crash;
mod priorities;
mod recipe_providers;
mod refusals;
mod remix;
mod scale_out;
mod search;
mod settings;
mod storage;
mod upgrade;
mod voice;
mod wakeup;
