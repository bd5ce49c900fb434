//! The bot role: takes updates (long polling or a webhook), answers cache
//! hits and menus, records requests and dispatches their generations.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::Running;
use super::startup::{self, Backends, SendPath};
use crate::bot::handler::{HandlerDeps, HandlerSettings, UpdateHandler};
use crate::bot::voice::Transcriber;
use crate::bot::{polling, webhook};
use crate::config::{DataStore, RetryPolicy, Settings};
use crate::db;
use crate::db::recorder::Recorder;
use crate::domain::{Admission, Pricing};
use crate::providers::{Meter, OpenAiClient};
use crate::service::catalog::Catalog;
use crate::service::fair_use::SharedRateLimit;
use crate::service::{Cancel, Credits, History, Intake, Search, UserStatus};
use crate::telegram::api::BotApi;
use crate::texts::Lang;

/// Builds the bot (`username`: its own, from getMe), registers its command
/// menu and returns its tasks: the updates' source and the cache follower.
pub(super) async fn build(
    settings: &Settings,
    backends: &Backends,
    shared: &SendPath,
    username: String,
    shutdown: &CancellationToken,
) -> anyhow::Result<Running> {
    let db = &backends.db;
    let api = backends.api().clone();
    register_commands(&api).await;
    // videos made before the search existed become searchable, in the background
    let indexing = db.clone();
    tokio::spawn(async move {
        if let Err(err) = db::search::reindex(&indexing).await {
            tracing::warn!(error = %err, "could not index the videos made before the search; the next start tries again");
        }
    });
    let deps = HandlerDeps {
        intake: intake(settings, backends, shared).await?,
        operator: Arc::new(startup::operator(settings, backends)),
        status: Arc::new(UserStatus::new(db.clone())),
        history: Arc::new(History::new(db.clone())),
        cancel: Arc::new(Cancel::new(db.clone())),
        approvals: shared.approvals.clone(),
        credits: Arc::new(Credits::new(db.clone(), backends.sender.clone(), settings.credits.clone())),
        extensions: Arc::new(startup::extensions(settings, backends)),
        remixes: Some(Arc::new(startup::remixes(settings, backends))),
        search: Some(Arc::new(Search::new(db.clone(), settings.search, settings.max_prompt_chars))),
        sender: backends.sender.clone(),
        transcriber: transcriber(settings, db)?,
    };
    let handler = Arc::new(UpdateHandler::new(
        deps,
        HandlerSettings {
            admins: settings.admin_user_ids.clone(),
            max_prompt_chars: settings.max_prompt_chars,
            bot_username: username,
        },
    ));
    let mut running = Running::default();
    running
        .add(Catalog::new(db.clone(), backends.cache.clone()).follow_invalidations(Duration::from_millis(500), shutdown.clone()));
    match settings.webhook.clone() {
        Some(hook) => {
            let server = webhook::start_webhook(api, handler, hook, shutdown.clone())
                .await
                .context("cannot receive updates by webhook")?;
            running.add(server);
        }
        None => running.add(polling::run_polling(
            api,
            handler,
            db.clone(),
            settings.poll_timeout_secs,
            settings.shutdown_grace,
            shutdown.clone(),
        )),
    }
    Ok(running)
}

/// Records requests (admission: prices, fair use, blocked words) and
/// answers cache hits; dispatches generations through `shared`.
pub(super) async fn intake(settings: &Settings, backends: &Backends, shared: &SendPath) -> anyhow::Result<Arc<Intake>> {
    let db = &backends.db;
    // SQLite writes one transaction at a time: one lane; PostgreSQL overlaps a few.
    let lanes = match settings.data {
        DataStore::Sqlite(_) => 1,
        DataStore::Postgres(_) => 4,
    };
    let claim = settings.delivery_claim();
    // Fair use: the rate limit in Redis when there is one (shared by every
    // replica), else in the recording transaction; waiting requests always there.
    let shared_rate = match (settings.queue.redis(), settings.fair_use.rate.is_empty()) {
        (Some(url), false) => Some(
            SharedRateLimit::connect(url.expose(), settings.token.bot_id(), settings.fair_use.rate.clone())
                .await
                .context("cannot reach Redis for the shared rate limit")?,
        ),
        _ => None,
    };
    let admission = Admission {
        pricing: settings.credits.as_ref().map(|c| Pricing {
            free: c.free,
            new: c.price_new,
            cached: c.price_cached,
            quality_extra: c.price_quality_extra,
            long_extra: c.price_long_extra,
        }),
        max_waiting: settings.fair_use.max_waiting,
        rate: match shared_rate {
            Some(_) => Vec::new(),
            None => settings
                .fair_use
                .rate
                .iter()
                .map(|w| (w.max, chrono::Duration::from_std(w.per).unwrap_or(chrono::Duration::hours(1))))
                .collect(),
        },
        exempt: settings.admin_user_ids.clone(),
        blocked_words: settings.moderation.blocked_words.clone(),
    };
    let recorder = Recorder::start_admitted(db.clone(), claim, lanes, 100, Arc::new(admission));
    let intake =
        Intake::new(db.clone(), backends.cache.clone(), recorder, shared.dispatcher.clone(), shared.delivery.clone(), claim)
            .with_admission(settings.credits.is_some(), shared_rate, settings.admin_user_ids.clone())
            .with_recipes(settings.default_choices, settings.providers.generator);
    Ok(Arc::new(intake))
}

/// The command menu, once per language (for every Telegram language code
/// spoken to in it) and once without a code for everyone else, in
/// `DEFAULT_LANGUAGE`.
async fn register_commands(api: &BotApi) {
    let mut scopes: Vec<(Lang, Option<&str>)> = Vec::new();
    for lang in Lang::ALL {
        scopes.extend(lang.telegram_codes().iter().map(|code| (lang, Some(*code))));
    }
    scopes.push((Lang::default(), None));
    for (lang, code) in scopes {
        if let Err(err) = api.set_my_commands(&lang.texts().command_menu(), code).await {
            tracing::warn!(error = %err, language = code.unwrap_or("default"), "could not register the command menu");
        }
    }
}

/// Voice messages are transcribed when `VOICE_TRANSCRIPTION` is on (the
/// default) and an OpenAI-compatible key is set.
fn transcriber(settings: &Settings, db: &sea_orm::DatabaseConnection) -> anyhow::Result<Option<Transcriber>> {
    let openai = &settings.providers.openai;
    if !settings.voice_transcription || openai.api_key.is_none() {
        return Ok(None);
    }
    let client = OpenAiClient::new(openai, settings.providers.pipeline.http_timeout, RetryPolicy::default())
        .context("cannot build the transcription client")?;
    Ok(Some(Transcriber::new(client, Meter::new(db.clone(), settings.providers.prices.clone()))))
}
