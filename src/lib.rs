//! vidcache: a Telegram bot that turns prompts into videos and never
//! generates the same video twice.
//!
//! Layers, each importing only those listed after it:
//! - [`app`]: start-up and shutdown of the roles; the one place that knows every layer.
//! - [`admin`]: the admin listener: metrics, health checks, the operator console.
//! - [`bot`]: Telegram updates in (polling, webhook), the update handler, voice messages.
//! - [`work`]: the generation job and the reconciler.
//! - [`service`]: intake, delivery, dispatch, a generation's lifecycle, operator and user reports.
//! - [`generator`]: the `Generator` trait, the local renderer, the staged provider pipeline.
//! - [`providers`]: clients of the AI providers, and what their calls cost.
//! - [`telegram`]: the Bot API client, flood limiter and sender (a transport, no texts).
//! - [`storage`]: finished videos in the data dir or an S3-compatible bucket.
//! - [`cache`]: prompt key → `file_id`, the hot path.
//! - [`db`]: the database (the truth) and every query on it.
//! - [`texts`]: every text a person reads, per language.
//! - [`config`]: settings, decided once: stores, generator, secrets, retry policy.
//! - [`domain`]: typed ids, the normalized prompt, states and stages.
//! - [`telemetry`]: logging, and the metrics every layer counts.

pub mod admin;
pub mod app;
pub mod bot;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod generator;
pub mod providers;
pub mod service;
pub mod storage;
pub mod telegram;
pub mod telemetry;
pub mod texts;
pub mod work;
