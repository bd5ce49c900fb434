//! vidcache: a Telegram bot that turns prompts into videos and never
//! generates the same video twice.
//!
//! - [`domain`]: the normalized prompt and the states of assets and requests.
//! - [`db`]: the database (the truth) and every query on it.
//! - [`telegram`]: the Bot API client, flood limiter, texts and update handling.
//! - [`service`]: what happens to a request, a finished video, a /clear.
//! - [`work`]: the generation job and the reconciler.
//! - [`generator`]: the `Generator` trait and the local renderer.
//! - [`app`]: start-up and shutdown of the roles.

pub mod app;
pub mod bench;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod generator;
pub mod providers;
pub mod service;
pub mod telegram;
pub mod telemetry;
pub mod work;
