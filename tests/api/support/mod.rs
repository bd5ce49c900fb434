//! Shared test harness: a fake Telegram on loopback, a data directory, and
//! the real service — as the built binary in a child process (cargo's
//! `vidcache` of this test build, or the one `VIDCACHE_BIN` names, e.g. the
//! release binary), or in this process with an injected generator.
#![allow(dead_code)]

pub mod frames;
pub mod generators;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fakes::telegram::{FakeTelegram, FakeTelegramConfig, Sent};
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio_util::sync::CancellationToken;
use vidcache::app::Role;
use vidcache::config::Settings;
use vidcache::db::entities::{user_requests, video_assets};
use vidcache::generator::Generator;

pub const ADMIN: i64 = 999;

/// The tests that run two service processes against shared PostgreSQL and
/// Redis take this, so that on a small machine only one of them runs at a
/// time (they were one per binary before the tests became one binary).
pub static MULTI_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Harness {
    pub fake: FakeTelegram,
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(FakeTelegramConfig::default()).await
    }

    pub async fn with_config(config: FakeTelegramConfig) -> Self {
        let fake = FakeTelegram::start(config).await.expect("fake Telegram starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = HashMap::new();
        env.insert("TELOXIDE_TOKEN".into(), fake.token());
        env.insert("TELOXIDE_API_URL".into(), fake.api_url());
        env.insert("VIDCACHE_DATA_DIR".into(), dir.path().display().to_string());
        env.insert("ADMIN_USER_IDS".into(), ADMIN.to_string());
        env.insert("TELEGRAM_POLL_TIMEOUT_SECS".into(), "1".into());
        env.insert("JOB_LEASE_SECS".into(), "3".into());
        env.insert("GENERATION_BACKOFF_MS".into(), "50".into());
        // Tests run side by side: no admin listener unless a test asks for one.
        env.insert("ADMIN_LISTEN_ADDR".into(), String::new());
        // Tests send bursts from one user: per-user limits are off unless a test turns them on.
        env.insert("USER_RATE_LIMIT".into(), "off".into());
        env.insert("USER_MAX_WAITING".into(), "0".into());
        env.insert("RUST_LOG".into(), std::env::var("TEST_RUST_LOG").unwrap_or_else(|_| "info".into()));
        Self { fake, dir, env }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.insert(name.to_owned(), value.to_owned());
    }

    /// Every service log of this test, for assertion messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(dir) = std::fs::read_dir(self.data_dir()) {
            let mut paths: Vec<PathBuf> =
                dir.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "log")).collect();
            paths.sort();
            for path in paths {
                out.push_str(&format!("--- {}\n{}", path.display(), std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
        out
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn settings(&self) -> Settings {
        let env = self.env.clone();
        Settings::from_lookup(&move |name| env.get(name).cloned()).expect("valid test settings")
    }

    /// Starts the real binary ([`binary`]); its log goes to `<data dir>/service-<n>.log`.
    pub fn spawn(&self) -> Service {
        self.spawn_with("serve", &[])
    }

    /// Starts `vidcache <role>` with extra environment.
    pub fn spawn_with(&self, role: &str, extra: &[(&str, String)]) -> Service {
        let n = std::fs::read_dir(self.data_dir()).map(|d| d.count()).unwrap_or(0);
        let log = self.data_dir().join(format!("service-{n}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(binary())
            .arg(role)
            .env_clear()
            .envs(&self.env)
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .expect("vidcache binary starts");
        Service { child, log }
    }

    /// Runs the service in this process with `generator`; stops on the token.
    pub fn run_in_process(
        &self,
        generator: Arc<dyn Generator>,
    ) -> (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let token = CancellationToken::new();
        let settings = self.settings();
        let handle = tokio::spawn(vidcache::app::run_with(settings, Role::Serve, generator, token.clone()));
        (token, handle)
    }

    pub async fn wait_polling(&self) {
        let calls = self.fake.calls("getUpdates");
        assert!(
            self.fake.wait_until(move |f| f.calls("getUpdates") > calls, Duration::from_secs(30)).await,
            "the service never polled for updates"
        );
    }

    pub async fn db(&self) -> DatabaseConnection {
        vidcache::db::connect(&self.settings().data).await.expect("database opens")
    }

    pub async fn assets(&self) -> Vec<video_assets::Model> {
        video_assets::Entity::find().all(&self.db().await).await.expect("assets")
    }

    pub async fn requests(&self) -> Vec<user_requests::Model> {
        user_requests::Entity::find().all(&self.db().await).await.expect("requests")
    }

    /// Number of generation jobs ever enqueued.
    /// (The running service may hold SQLite's write lock a while: opening
    /// is retried for up to 30 s.)
    pub async fn jobs(&self) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let queue = loop {
            match vidcache::app::open_queue(&self.settings()).await {
                Ok(queue) => break queue,
                Err(err) if Instant::now() < deadline && format!("{err:#}").contains("locked") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("queue opens: {err:#}"),
            }
        };
        queue.count_jobs().await.expect("count jobs")
    }

    /// Waits until `chat` has been sent a video; returns its file_id.
    pub async fn video_for(&self, chat: i64, nth: usize) -> String {
        let ok = self.fake.wait_for(move |sent| videos_to(sent, chat).len() > nth, Duration::from_secs(60)).await;
        assert!(ok, "chat {chat} never got video #{nth}; sent to it: {:?}\n{}", self.fake.sent_to(chat), self.logs());
        videos_to(&self.fake.sent(), chat)[nth].clone()
    }

    /// Waits until `chat` has been sent its `nth` video; returns that message.
    pub async fn video_message(&self, chat: i64, nth: usize) -> Sent {
        let videos = move |sent: &[Sent]| sent.iter().filter(|s| s.chat_id == chat && s.method == "sendVideo").count();
        let ok = self.fake.wait_for(move |sent| videos(sent) > nth, Duration::from_secs(60)).await;
        assert!(ok, "chat {chat} never got video #{nth}; sent to it: {:?}\n{}", self.fake.sent_to(chat), self.logs());
        self.fake.sent().into_iter().filter(|s| s.chat_id == chat && s.method == "sendVideo").nth(nth).expect("video")
    }

    /// Presses a button with callback `data` under `message_id` in `chat` as
    /// `user`, and waits for the bot's answerCallbackQuery; returns its text.
    pub async fn press(&self, user: i64, chat: i64, message_id: i64, data: &str) -> Option<String> {
        assert!(!data.is_empty() && data.len() <= 64, "callback data must be 1-64 bytes: {data:?}");
        let id = self.fake.push_callback(user, chat, message_id, data);
        self.answered(&id).await
    }

    /// Waits for the bot's answerCallbackQuery to the press `callback_id`
    /// (failing the test if none comes); returns the answer's text.
    pub async fn answered(&self, callback_id: &str) -> Option<String> {
        let probe = callback_id.to_owned();
        let ok = self.fake.wait_until(move |f| f.callback_answer(&probe).is_some(), Duration::from_secs(60)).await;
        assert!(ok, "the press {callback_id} was never answered with answerCallbackQuery\n{}", self.logs());
        self.fake.callback_answer(callback_id).flatten()
    }

    /// Waits for the `nth` text message to `chat`.
    pub async fn text_for(&self, chat: i64, nth: usize) -> String {
        let ok = self.fake.wait_for(move |sent| texts_to(sent, chat).len() > nth, Duration::from_secs(30)).await;
        assert!(ok, "chat {chat} never got text #{nth}; sent to it: {:?}\n{}", self.fake.sent_to(chat), self.logs());
        texts_to(&self.fake.sent(), chat)[nth].clone()
    }
}

pub fn videos_to(sent: &[Sent], chat: i64) -> Vec<String> {
    sent.iter().filter(|s| s.chat_id == chat && s.method == "sendVideo").filter_map(|s| s.video_file_id.clone()).collect()
}

pub fn texts_to(sent: &[Sent], chat: i64) -> Vec<String> {
    sent.iter().filter(|s| s.chat_id == chat && s.method == "sendMessage").filter_map(|s| s.text.clone()).collect()
}

/// The inline buttons under a message, as (text, callback data) in reading
/// order (a URL button has empty callback data).
pub fn buttons(sent: &Sent) -> Vec<(String, String)> {
    let Some(markup) = sent.reply_markup.as_ref() else { return Vec::new() };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b.get("callback_data").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// True when ffmpeg runs here; prints why a test is skipped otherwise (in
/// CI, where it is installed, its absence fails the test).
pub fn have_ffmpeg() -> bool {
    let ok = vidcache::generator::ffmpeg::ffmpeg_available();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is required in CI (apt-get install ffmpeg)");
        eprintln!("note: ffmpeg is not installed; skipping this test (CI installs it)");
    }
    ok
}

/// Lower-case hex SHA-256 of the concatenated `parts`.
pub fn hex_sha256(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `name=value` part of the `Set-Cookie` header that sets `name`.
pub fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// How many scripts the fake OpenAI was asked to write (chat completions
/// in JSON mode).
pub fn script_calls(fake: &fakes::providers::FakeProviders) -> usize {
    fake.requests(fakes::providers::Endpoint::Chat).iter().filter(|r| r["response_format"]["type"] == "json_object").count()
}

/// Waits until something listens on loopback `port`.
pub async fn wait_listening(h: &Harness, port: u16) {
    let ok =
        eventually(Duration::from_secs(30), || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() }).await;
    assert!(ok, "nothing listens on {port}\n{}", h.logs());
}

/// A private text message from `chat` as a webhook update body.
pub fn webhook_update(update_id: i64, chat: i64, text: &str) -> serde_json::Value {
    serde_json::json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "S"},
        "from": {"id": chat, "is_bot": false, "first_name": "S"},
        "text": text
    }})
}

/// POSTs `body` to the webhook on `port` (with Telegram's secret header
/// when `secret` is given); the HTTP status, 0 when nothing answered.
pub async fn post_update(client: &reqwest::Client, port: u16, secret: Option<&str>, body: &serde_json::Value) -> u16 {
    let mut request = client.post(format!("http://127.0.0.1:{port}/hook")).json(body);
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    request.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// A running `vidcache serve` child process.
pub struct Service {
    pub child: tokio::process::Child,
    pub log: PathBuf,
}

impl Service {
    /// SIGTERM, then waits; returns the exit code and how long it took.
    pub async fn terminate(mut self) -> (Option<i32>, Duration) {
        let pid = self.child.id().expect("running");
        let started = Instant::now();
        let status = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().expect("kill runs");
        assert!(status.success());
        let exit =
            tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("exits after SIGTERM").expect("wait");
        (exit.code(), started.elapsed())
    }

    /// SIGKILL: no cleanup at all.
    pub async fn kill9(mut self) {
        let _ = self.child.kill().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Polls `check` (a database read, typically) until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh PostgreSQL database on `TEST_POSTGRES_URL`'s server (a
/// `vidcache_test_*` one, which `.ci/run` drops), or `None` with a note when
/// none runs and this is not CI. In CI (`CI` set) its absence is a failure.
pub async fn postgres_database() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = match sea_orm::Database::connect(admin.clone()).await {
        Ok(db) => db,
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL is required in CI: {err}");
            eprintln!("note: PostgreSQL not reachable ({err}); skipping");
            return None;
        }
    };
    // One process runs every test: the counter keeps two tests apart, the
    // random part two runs of the suite that share a server.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("vidcache_test_{}_{n}_{}", std::process::id(), fastrand::u16(..));
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

/// The Redis database numbers of the shared server, one per test that uses
/// one (each flushes its own first): tests run side by side in this one
/// process, so no two may share a number. (The unit tests of
/// `telegram::limiter` use 14.)
pub mod redis_db {
    pub const SCALE_OUT_WEBHOOKS: u8 = 3;
    pub const SCALE_OUT_LIMITS: u8 = 4;
    pub const HARDENING_CREDENTIALS: u8 = 5;
    pub const WAKEUP_ACROSS_PROCESSES: u8 = 6;
    pub const WAKEUP_BEFORE_LISTENING: u8 = 7;
    pub const CHAT_PAUSE_REPLICAS: u8 = 10;
    pub const CREDITS_RATE_LIMIT: u8 = 11;
    pub const CREDITS_RACING_REPLICAS: u8 = 12;
    pub const CREDITS_REFUSAL_NO_SLOT: u8 = 13;
}

/// Backing services for scale-out tests: a fresh PostgreSQL database and a
/// Redis database number (one of [`redis_db`]), or `None` (with a note)
/// when they are not running and this is not CI. In CI (`CI` set) their
/// absence is a failure.
pub async fn scale_backends(redis_db: u8) -> Option<(String, String)> {
    let database_url = postgres_database().await?;
    let redis_base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis_url = format!("{redis_base}/{redis_db}");
    let client = redis::Client::open(redis_url.as_str()).expect("redis url");
    match client.get_multiplexed_async_connection().await {
        Ok(mut conn) => {
            let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("flush test redis db");
        }
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "Redis is required in CI: {err}");
            eprintln!("note: Redis not reachable ({err}); skipping");
            return None;
        }
    }
    Some((database_url, redis_url))
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// The service binary the black-box tests start: `VIDCACHE_BIN` when set
/// (`.ci/run` points it at `target/release/vidcache` for the browser test),
/// else the binary cargo built with these tests.
pub fn binary() -> PathBuf {
    std::env::var_os("VIDCACHE_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vidcache")), PathBuf::from)
}

/// The databases a database-level test runs on: a fresh SQLite file named
/// `name` in `dir`, and a fresh PostgreSQL database when PostgreSQL is
/// reachable (required in CI).
pub async fn databases(dir: &tempfile::TempDir, name: &str) -> Vec<DatabaseConnection> {
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{name}.sqlite")).display());
    let mut urls = vec![sqlite];
    if let Some(postgres) = postgres_database().await {
        urls.push(postgres);
    }
    let mut dbs = Vec::new();
    for url in urls {
        let store = vidcache::config::DataStore::parse(&url).expect("a database URL");
        dbs.push(vidcache::db::connect(&store).await.expect("database opens"));
    }
    dbs
}

/// The "➕" button under a video: its callback data (1-64 bytes).
pub fn extend_button(video: &Sent) -> String {
    let markup = video.reply_markup.as_ref().unwrap_or_else(|| panic!("the video carries no keyboard: {video:?}"));
    let rows = markup["inline_keyboard"].as_array().expect("an inline keyboard");
    let button = rows
        .iter()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .find(|b| b["text"].as_str().is_some_and(|t| t.starts_with('➕')))
        .unwrap_or_else(|| panic!("no ➕ button under the video: {markup}"));
    let data = button["callback_data"].as_str().expect("callback data").to_owned();
    assert!(!data.is_empty() && data.len() <= 64, "callback data must be 1-64 bytes: {data:?}");
    data
}

/// The settings that point the generators at the fake providers `fake`
/// (every provider's key and base URL, quick polls, a small assembled
/// frame), then `extra`, then a test's `overrides` — an empty value
/// removes the variable.
pub fn provider_env(
    fake: &fakes::providers::FakeProviders,
    extra: &[(&str, String)],
    overrides: &[(&str, &str)],
) -> HashMap<String, String> {
    let config = fake.config();
    let mut env: HashMap<String, String> = [
        ("OPENAI_API_KEY", config.openai_key.clone()),
        ("OPENAI_BASE_URL", fake.openai_base_url()),
        ("RUNWAYML_API_SECRET", config.runway_secret.clone()),
        ("RUNWAYML_BASE_URL", fake.runway_base_url()),
        ("VERTEX_BASE_URL", fake.vertex_base_url()),
        ("VERTEX_STORAGE_BASE_URL", fake.storage_base_url()),
        ("VERTEX_PROJECT", "test-project".to_owned()),
        ("VERTEX_ACCESS_TOKEN", config.vertex_token.clone()),
        ("PROVIDER_POLL_INTERVAL_MS", "10".to_owned()),
        ("PIPELINE_VIDEO_SIZE", "320x180".to_owned()),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (name, value) in overrides {
        if value.is_empty() {
            env.remove(*name);
        } else {
            env.insert((*name).to_owned(), (*value).to_owned());
        }
    }
    env
}
