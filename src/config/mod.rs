//! Settings, read once from the environment at start-up: every choice of
//! infrastructure (data store, queue store, generator, webhook) is made
//! here, once, as a typed value; secrets are wrapped so they can't be logged.

mod approvals;
mod credits;
mod moderation;
mod providers;
mod retry;
mod search;
mod secret;
mod storage;
mod stores;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use approvals::{ApprovalMode, ApprovalSettings};
pub use credits::{CreditSettings, FairUse, RateWindow, parse_rate};
pub use moderation::{ModerationMode, ModerationSettings};
pub use providers::{
    GeneratorKind, MAX_SEGMENTS_LONG, OPERATIONS, OpenAiSettings, PipelineSettings, Prices, ProviderSettings, RunwaySettings,
    VeoAssembly, VertexSettings,
};
pub use retry::RetryPolicy;
pub use search::SearchSettings;
pub use secret::{Secret, SecretUrl, redact_url, scrub_urls};
pub use storage::{CleanupSettings, S3Settings, StorageSettings};
pub use stores::{DataStore, QueueStore};

use crate::domain::{ChatId, Choices, Lang, UnknownChoice, UserId};

/// The bot token. It never appears in `Debug` output or a log line.
#[derive(Clone)]
pub struct BotToken(Secret);

impl BotToken {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let token = raw.trim();
        // Telegram tokens look like `123456789:AA…`; a test token may be shorter.
        let valid = token.split_once(':').is_some_and(|(id, secret)| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && !secret.contains(char::is_whitespace)
        });
        if valid {
            Ok(Self(Secret::new(token)))
        } else {
            Err(ConfigError::Invalid {
                name: "TELOXIDE_TOKEN",
                reason: "expected `<bot id>:<secret>` as given by @BotFather".into(),
            })
        }
    }

    /// The token itself, for building request URLs only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The bot's own user id: the part before the colon.
    pub fn bot_id(&self) -> i64 {
        self.expose().split(':').next().and_then(|id| id.parse().ok()).unwrap_or_default()
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Webhook mode (`WEBHOOK_URL`): Telegram POSTs updates to `url`, served on `listen`.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub url: String,
    /// Sent back by Telegram in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret: Secret,
    pub listen: SocketAddr,
}

/// Extending a finished video ("➕ Extend").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtendSettings {
    /// Length of the new part (`EXTEND_SECONDS`, 2–60); the joined video is
    /// parent + part − 1 s (a 1 s crossfade).
    pub seconds: u32,
    /// Extensions in a chain at most (`MAX_EXTENSIONS`); 0 turns extending off.
    pub max_extensions: i32,
    /// How long the bot waits for a continuation after a ➕ press
    /// (`EXTEND_WAIT_HOURS`, default 24).
    pub wait: Duration,
}

impl ExtendSettings {
    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let seconds: u32 = parse_num(lookup, "EXTEND_SECONDS", 8)?;
        if !(2..=60).contains(&seconds) {
            return Err(ConfigError::Invalid {
                name: "EXTEND_SECONDS",
                reason: format!("{seconds}: use 2 to 60 (the part must outlast the 1 s crossfade)"),
            });
        }
        let max_extensions: i32 = parse_num(lookup, "MAX_EXTENSIONS", 5)?;
        if !(0..=100).contains(&max_extensions) {
            return Err(ConfigError::Invalid { name: "MAX_EXTENSIONS", reason: format!("{max_extensions}: use 0 to 100") });
        }
        let hours: f64 = parse_num(lookup, "EXTEND_WAIT_HOURS", 24.0)?;
        if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 365.0) {
            return Err(ConfigError::Invalid {
                name: "EXTEND_WAIT_HOURS",
                reason: format!("{hours}: use more than 0 and at most 8760"),
            });
        }
        Ok(Self { seconds, max_extensions, wait: Duration::from_secs_f64(hours * 3600.0) })
    }
}

/// The fewest characters `ADMIN_TOKEN` and `WEBHOOK_SECRET` may have: a
/// shorter one could be guessed.
pub const MIN_SECRET_CHARS: usize = 16;

/// `value` if it has at least [`MIN_SECRET_CHARS`] characters; else an
/// error naming `name` and saying why (without the value).
fn long_enough(name: &'static str, value: String) -> Result<String, ConfigError> {
    let chars = value.chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(ConfigError::Invalid {
            name,
            reason: format!(
                "it has {chars} characters; use at least {MIN_SECRET_CHARS} (e.g. `openssl rand -hex 24`): a short one can be guessed"
            ),
        });
    }
    Ok(value)
}

/// The admin listener (`ADMIN_LISTEN_ADDR`): `/metrics`, `/livez`,
/// `/readyz` and, with `ADMIN_TOKEN`, the operator console.
#[derive(Clone, Debug)]
pub struct AdminSettings {
    /// `None` when `ADMIN_LISTEN_ADDR` is set empty: no listener.
    pub listen: Option<SocketAddr>,
    /// True when the address was given; false for the default, which is
    /// skipped with a warning when taken (two roles on one machine).
    pub listen_explicit: bool,
    /// The console's login token; `None`: the console is off.
    pub token: Option<Secret>,
}

impl AdminSettings {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:9090";

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        // Unset: the default address; set but empty: no listener.
        let (listen, listen_explicit) = match lookup("ADMIN_LISTEN_ADDR").map(|v| v.trim().to_owned()) {
            None => (Some(Self::parse_listen(Self::DEFAULT_LISTEN)?), false),
            Some(raw) if raw.is_empty() => (None, true),
            Some(raw) => (Some(Self::parse_listen(&raw)?), true),
        };
        let token = match get(lookup, "ADMIN_TOKEN") {
            Some(token) => Some(Secret::new(long_enough("ADMIN_TOKEN", token)?)),
            None => None,
        };
        Ok(Self { listen, listen_explicit, token })
    }

    fn parse_listen(raw: &str) -> Result<SocketAddr, ConfigError> {
        raw.parse().map_err(|e| ConfigError::Invalid { name: "ADMIN_LISTEN_ADDR", reason: format!("`{raw}`: {e}") })
    }
}

/// How log lines are written (`LOG_FORMAT`), read here like every setting.
pub use crate::telemetry::LogFormat;

impl LogFormat {
    /// Read before everything else, so that even a configuration error is
    /// logged in the chosen format.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        match get(lookup, "LOG_FORMAT").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(ConfigError::Invalid { name: "LOG_FORMAT", reason: format!("`{other}`: use text or json") }),
        }
    }
}

/// Every setting of the service. See the configuration table in the README.
#[derive(Debug, Clone)]
pub struct Settings {
    pub token: BotToken,
    pub api_url: String,
    pub data_dir: PathBuf,
    /// The database: the truth.
    pub data: DataStore,
    /// Where generation jobs wait for a worker.
    pub queue: QueueStore,
    pub admin_user_ids: HashSet<UserId>,
    pub cache_chat_id: Option<ChatId>,
    pub max_prompt_chars: usize,
    pub local_generator_delay: Duration,
    pub generation_timeout: Duration,
    pub generation_attempts: u32,
    pub generation_backoff: Duration,
    pub worker_concurrency: usize,
    pub job_lease: Duration,
    /// How often workers look for jobs no notification announced.
    pub queue_poll_interval: Duration,
    pub global_send_rate: u32,
    pub chat_send_burst: u32,
    pub shutdown_grace: Duration,
    pub poll_timeout_secs: u32,
    /// Fan-outs as paid broadcasts (`PAID_BROADCAST=on`), at up to this
    /// many sends a second (`PAID_BROADCAST_RATE`).
    pub paid_broadcast_rate: Option<u32>,
    /// How often waiting users' "being made" notes are edited at most.
    pub progress_edit_interval: Duration,
    /// Voice messages are transcribed (`VOICE_TRANSCRIPTION`, and only with
    /// an OpenAI key).
    pub voice_transcription: bool,
    /// The generator (`GENERATOR`) and its providers' settings.
    pub providers: ProviderSettings,
    /// Moderation before any paid step (`MODERATION`) and `BLOCKED_WORDS_FILE`.
    pub moderation: ModerationSettings,
    /// Webhook mode, when `WEBHOOK_URL` is set; long polling otherwise.
    pub webhook: Option<WebhookSettings>,
    /// `EXTEND_SECONDS`, `MAX_EXTENSIONS`.
    pub extend: ExtendSettings,
    /// Approvals at the gates (`APPROVALS`); `None` when off.
    pub approvals: Option<ApprovalSettings>,
    /// Where finished videos are kept (`STORAGE_URL`).
    pub storage: StorageSettings,
    pub cleanup: CleanupSettings,
    /// Credits paid in Stars (`CREDITS=on`); `None`: everything is free.
    pub credits: Option<CreditSettings>,
    /// Per-user rate limits, waiting requests and running generations.
    pub fair_use: FairUse,
    /// The admin listener and the console.
    pub admin: AdminSettings,
    /// The language of users whose Telegram profile has no language
    /// (`DEFAULT_LANGUAGE`).
    pub default_language: Lang,
    /// The choices of a user who never changed them (`DEFAULT_QUALITY`,
    /// `DEFAULT_FORMAT`, `DEFAULT_LENGTH`): the recipe old assets get.
    pub default_choices: Choices,
    /// The catalog search (`SIMILAR_VIDEOS`, `SIMILARITY_THRESHOLD`, `INLINE_FEEDBACK`).
    pub search: SearchSettings,
}

/// `DEFAULT_QUALITY` (`fast`|`quality`), `DEFAULT_FORMAT` (`16:9`|`9:16`),
/// `DEFAULT_LENGTH` (`short`|`long`).
fn default_choices(lookup: Lookup<'_>) -> Result<Choices, ConfigError> {
    fn one<T: std::str::FromStr<Err = UnknownChoice> + Default>(
        lookup: Lookup<'_>,
        name: &'static str,
    ) -> Result<T, ConfigError> {
        match get(lookup, name) {
            None => Ok(T::default()),
            Some(raw) => raw
                .parse()
                .map_err(|e: UnknownChoice| ConfigError::Invalid { name, reason: format!("`{raw}`: use one of {}", e.allowed) }),
        }
    }
    Ok(Choices {
        quality: one(lookup, "DEFAULT_QUALITY")?,
        format: one(lookup, "DEFAULT_FORMAT")?,
        length: one(lookup, "DEFAULT_LENGTH")?,
    })
}

/// Where settings come from: the process environment, or a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads a variable; unset and empty both count as unset.
pub(crate) fn get(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_num<T: std::str::FromStr>(lookup: Lookup<'_>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match get(lookup, name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: format!("`{raw}`: {e}") }),
    }
}

/// An `on`/`off` switch (also `true`/`false`, `1`/`0`).
fn on_off(lookup: Lookup<'_>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(lookup, name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("on" | "true" | "1") => Ok(true),
        Some("off" | "false" | "0") => Ok(false),
        Some(other) => Err(ConfigError::Invalid { name, reason: format!("`{other}`: use on or off") }),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(lookup, name);
        let token = var("TELOXIDE_TOKEN")
            .ok_or(ConfigError::Missing { name: "TELOXIDE_TOKEN", hint: "set it to the bot token @BotFather gave you" })?;
        let token = BotToken::parse(&token)?;
        let api_url = var("TELOXIDE_API_URL").unwrap_or_else(|| "https://api.telegram.org".to_owned());
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "TELOXIDE_API_URL",
                reason: format!("`{}` is not an http(s) URL", redact_url(&api_url)),
            });
        }
        let api_url = api_url.trim_end_matches('/').to_owned();
        let data_dir = PathBuf::from(var("VIDCACHE_DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let data = match var("DATABASE_URL") {
            Some(url) => DataStore::parse(&url)?,
            None => DataStore::embedded(&data_dir),
        };
        let queue = QueueStore::choose(var("QUEUE_URL").or_else(|| var("REDIS_URL")).as_deref(), &data, &data_dir)?;
        let admin_user_ids = match var("ADMIN_USER_IDS") {
            None => HashSet::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(UserId)
                        .map_err(|e| ConfigError::Invalid { name: "ADMIN_USER_IDS", reason: format!("`{s}`: {e}") })
                })
                .collect::<Result<_, _>>()?,
        };
        let cache_chat_id = match var("CACHE_CHAT_ID") {
            None => None,
            Some(raw) => Some(ChatId(
                raw.parse().map_err(|e| ConfigError::Invalid { name: "CACHE_CHAT_ID", reason: format!("`{raw}`: {e}") })?,
            )),
        };
        let max_prompt_chars: usize = parse_num(lookup, "MAX_PROMPT_CHARS", 1000)?;
        if max_prompt_chars == 0 {
            return Err(ConfigError::Invalid { name: "MAX_PROMPT_CHARS", reason: "must be at least 1".into() });
        }
        let webhook = match var("WEBHOOK_URL") {
            None => None,
            Some(url) => {
                if !url.starts_with("https://") {
                    return Err(ConfigError::Invalid { name: "WEBHOOK_URL", reason: "Telegram only calls https:// URLs".into() });
                }
                let secret = var("WEBHOOK_SECRET").ok_or(ConfigError::Missing {
                    name: "WEBHOOK_SECRET",
                    hint: "webhook mode needs a secret token (16-256 of A-Z a-z 0-9 _ -) to tell Telegram's calls from anyone else's",
                })?;
                if secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(ConfigError::Invalid {
                        name: "WEBHOOK_SECRET",
                        reason: "use 16-256 characters of A-Z a-z 0-9 _ -".into(),
                    });
                }
                let secret = long_enough("WEBHOOK_SECRET", secret)?;
                let listen_raw = var("WEBHOOK_LISTEN_ADDR").unwrap_or_else(|| "0.0.0.0:8080".to_owned());
                let listen = listen_raw
                    .parse()
                    .map_err(|e| ConfigError::Invalid { name: "WEBHOOK_LISTEN_ADDR", reason: format!("`{listen_raw}`: {e}") })?;
                Some(WebhookSettings { url, secret: Secret::new(secret), listen })
            }
        };
        let default_language = match var("DEFAULT_LANGUAGE") {
            None => Lang::En,
            Some(raw) => Lang::parse(&raw)
                .ok_or_else(|| ConfigError::Invalid { name: "DEFAULT_LANGUAGE", reason: format!("`{raw}`: use en or ru") })?,
        };
        let default_choices = default_choices(lookup)?;
        let providers = ProviderSettings::from_lookup(lookup)?;
        let moderation = ModerationSettings::from_lookup(lookup, providers.openai.api_key.is_some())?;
        let approvals = ApprovalSettings::from_lookup(lookup)?;
        if approvals.as_ref().is_some_and(|a| a.mode == ApprovalMode::Operators) && admin_user_ids.is_empty() {
            return Err(ConfigError::Invalid {
                name: "APPROVALS",
                reason: "`operators` needs at least one id in ADMIN_USER_IDS to ask".into(),
            });
        }
        let admin = AdminSettings::from_lookup(lookup)?;
        let settings = Self {
            approvals,
            storage: StorageSettings::from_lookup(lookup)?,
            cleanup: CleanupSettings::from_lookup(lookup)?,
            admin,
            default_language,
            default_choices,
            token,
            providers,
            moderation,
            webhook,
            queue,
            api_url,
            data,
            admin_user_ids,
            cache_chat_id,
            max_prompt_chars,
            local_generator_delay: Duration::from_millis(parse_num(lookup, "LOCAL_GENERATOR_DELAY_MS", 0)?),
            generation_timeout: Duration::from_secs(parse_num(lookup, "GENERATION_TIMEOUT_SECS", 600)?),
            generation_attempts: parse_num::<u32>(lookup, "GENERATION_ATTEMPTS", 3)?.max(1),
            generation_backoff: Duration::from_millis(parse_num(lookup, "GENERATION_BACKOFF_MS", 2000)?),
            worker_concurrency: parse_num::<usize>(lookup, "WORKER_CONCURRENCY", 2)?.max(1),
            job_lease: Duration::from_secs(parse_num::<u64>(lookup, "JOB_LEASE_SECS", 30)?.max(2)),
            queue_poll_interval: Duration::from_millis(parse_num::<u64>(lookup, "QUEUE_POLL_INTERVAL_MS", 1000)?.max(10)),
            global_send_rate: parse_num::<u32>(lookup, "TELEGRAM_GLOBAL_RATE", 28)?.max(1),
            chat_send_burst: parse_num::<u32>(lookup, "TELEGRAM_CHAT_BURST", 2)?.max(1),
            shutdown_grace: Duration::from_secs(parse_num(lookup, "SHUTDOWN_GRACE_SECS", 7)?),
            poll_timeout_secs: parse_num(lookup, "TELEGRAM_POLL_TIMEOUT_SECS", 25)?,
            progress_edit_interval: Duration::from_millis(
                parse_num::<u64>(lookup, "PROGRESS_EDIT_INTERVAL_MS", 10_000)?.max(100),
            ),
            paid_broadcast_rate: match on_off(lookup, "PAID_BROADCAST", false)? {
                false => None,
                true => {
                    let rate: u32 = parse_num(lookup, "PAID_BROADCAST_RATE", 1000)?;
                    if !(1..=1000).contains(&rate) {
                        return Err(ConfigError::Invalid {
                            name: "PAID_BROADCAST_RATE",
                            reason: format!("{rate}: Telegram allows 1 to 1000 paid sends a second"),
                        });
                    }
                    Some(rate)
                }
            },
            voice_transcription: on_off(lookup, "VOICE_TRANSCRIPTION", true)?,
            extend: ExtendSettings::from_lookup(lookup)?,
            search: SearchSettings::from_lookup(lookup)?,
            credits: credits::credits_from(lookup)?,
            fair_use: credits::fair_use_from(lookup)?,
            data_dir,
        };
        Ok(settings)
    }

    pub fn videos_dir(&self) -> PathBuf {
        self.data_dir.join("videos")
    }

    /// Where the pipeline keeps intermediate files (images, clips, audio).
    pub fn work_dir(&self) -> PathBuf {
        self.data_dir.join("work")
    }

    /// How often a failed generation is tried, and the waits between tries.
    pub fn generation_retry(&self) -> RetryPolicy {
        RetryPolicy::new(self.generation_attempts, self.generation_backoff, Duration::from_secs(3600)).exact()
    }

    /// How long a sender holds a request it is delivering: two job leases.
    pub fn delivery_claim(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.job_lease * 2).unwrap_or(chrono::Duration::seconds(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_hides_the_secret() {
        let token = BotToken::parse("123:ABC-secret").expect("valid");
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(token.expose(), "123:ABC-secret");
    }

    fn lookup_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn admin_listener_defaults_on_and_empty_turns_it_off() {
        let default = AdminSettings::from_lookup(&lookup_of(&[])).expect("valid");
        assert_eq!(default.listen, Some("127.0.0.1:9090".parse().expect("addr")));
        assert!(!default.listen_explicit);
        assert!(default.token.is_none());
        let off = AdminSettings::from_lookup(&lookup_of(&[("ADMIN_LISTEN_ADDR", "")])).expect("valid");
        assert_eq!(off.listen, None);
        let set = AdminSettings::from_lookup(&lookup_of(&[("ADMIN_LISTEN_ADDR", "0.0.0.0:9100")])).expect("valid");
        assert_eq!(set.listen, Some("0.0.0.0:9100".parse().expect("addr")));
        assert!(set.listen_explicit);
        assert!(AdminSettings::from_lookup(&lookup_of(&[("ADMIN_LISTEN_ADDR", "nowhere")])).is_err());
        let token = AdminSettings::from_lookup(&lookup_of(&[("ADMIN_TOKEN", "a-long-enough-token")])).expect("valid");
        assert!(!format!("{token:?}").contains("long-enough"));
    }

    #[test]
    fn short_admin_tokens_and_webhook_secrets_are_refused() {
        let err = AdminSettings::from_lookup(&lookup_of(&[("ADMIN_TOKEN", "fifteen-chars-x")])).expect_err("15 characters");
        let text = err.to_string();
        assert!(text.contains("ADMIN_TOKEN") && text.contains("16"), "{text}");
        assert!(!text.contains("fifteen-chars-x"), "the token is never shown: {text}");
        assert!(AdminSettings::from_lookup(&lookup_of(&[("ADMIN_TOKEN", "sixteen-chars-xx")])).is_ok());
        let webhook = |secret: &'static str| {
            let vars: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
                ("TELOXIDE_TOKEN", "123:ABC"),
                ("WEBHOOK_URL", "https://bot.example/hook"),
                ("WEBHOOK_SECRET", secret),
            ]));
            Settings::from_lookup(&lookup_of(vars))
        };
        let err = webhook("short_secret-15").expect_err("15 characters");
        let text = err.to_string();
        assert!(text.contains("WEBHOOK_SECRET") && text.contains("16"), "{text}");
        assert!(!text.contains("short_secret-15"), "{text}");
        assert!(webhook("long_enough_secret-16").is_ok());
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(LogFormat::from_lookup(&lookup_of(&[])).expect("valid"), LogFormat::Text);
        assert_eq!(LogFormat::from_lookup(&lookup_of(&[("LOG_FORMAT", "JSON")])).expect("valid"), LogFormat::Json);
        assert!(LogFormat::from_lookup(&lookup_of(&[("LOG_FORMAT", "xml")])).is_err());
    }

    #[test]
    fn extend_settings_have_defaults_and_bounds() {
        let read = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            ExtendSettings::from_lookup(&move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        assert_eq!(
            read(&[]).expect("defaults"),
            ExtendSettings { seconds: 8, max_extensions: 5, wait: Duration::from_secs(24 * 3600) }
        );
        assert_eq!(read(&[("EXTEND_SECONDS", "4"), ("MAX_EXTENSIONS", "0")]).expect("valid").seconds, 4);
        assert!(read(&[("EXTEND_SECONDS", "1")]).is_err());
        assert!(read(&[("MAX_EXTENSIONS", "-1")]).is_err());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "abc", ":x", "12:", "x1:abc", "12:a b"] {
            assert!(BotToken::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
