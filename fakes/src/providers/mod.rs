//! Fakes of the AI providers on one loopback HTTP server, for tests that
//! drive the real provider clients: an OpenAI-compatible API, Runway,
//! Vertex AI Veo, a Google OAuth token endpoint and Cloud Storage.
//!
//! | base | paths |
//! |---|---|
//! | [`FakeProviders::openai_base_url`] (`…/openai/v1`) | `chat/completions`, `audio/speech`, `audio/transcriptions`, `moderations` |
//! | [`FakeProviders::runway_base_url`] (`…/runway`) | `v1/text_to_image`, `v1/image_to_video`, `v1/tasks/{id}` (GET, DELETE) |
//! | [`FakeProviders::vertex_base_url`] (`…/vertex`) | `v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning` and `:fetchPredictOperation` |
//! | [`FakeProviders::token_uri`] | the JWT bearer grant (RFC 7523) |
//! | [`FakeProviders::storage_base_url`] | `{bucket}/{object}` for `gs://` results |
//!
//! Every answer is real: chat returns a JSON script with the number of
//! segments the instructions ask for ("exactly N segments"), speech a WAV,
//! images are PNGs, clips and videos H.264 MP4s made by ffmpeg. Runway
//! tasks go PENDING → RUNNING → SUCCEEDED over [`FakeProvidersConfig::task_polls`]
//! polls, Veo operations finish after [`FakeProvidersConfig::operation_polls`].
//!
//! Requests are checked as the real APIs check them (Runway's SDK types,
//! Vertex AI's Veo reference) and refused with the provider's 400: a
//! `ratio` or `aspectRatio` the model does not take, a `duration` or
//! `durationSeconds` outside its lengths, a `promptImage` that is not an
//! HTTPS URL or a base64 image `data:` URI of at most 5 MB, a Veo `image`
//! without `mimeType` (JPEG or PNG) and its bytes. Outputs come in the
//! orientation asked for: the configured sizes, turned upright for
//! `720:1280`/`1080:1920` and `9:16`.
//!
//! Scripted faults per [`Endpoint`]: a 429 with `Retry-After`, a 500, a
//! hang, or an answer held back after the call was handled (a task made
//! whose id the client may never see), for the next N calls or every call;
//! task outcomes (a `FAILED` task with a failure code, a task that never
//! ends) and Veo outcomes (filtered, failed, never done). Calls are counted and recorded per
//! endpoint, so a test can assert that a provider was not called again.

// Handlers return a finished HTTP answer as their error: its size is no concern here.
#![allow(clippy::result_large_err)]

mod media;
mod openai;
mod runway;
mod vertex;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

pub use media::{png, wav};

/// Every endpoint of the fake, for counters and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Chat,
    Speech,
    Transcription,
    /// `POST /v1/moderations`.
    Moderation,
    TextToImage,
    ImageToVideo,
    /// `GET /v1/tasks/{id}`.
    Task,
    /// `DELETE /v1/tasks/{id}`.
    CancelTask,
    /// Downloads of Runway task outputs.
    Output,
    VeoPredict,
    VeoFetch,
    Token,
    Storage,
}

/// A scripted failure of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: {retry_after_secs}`.
    RateLimited { retry_after_secs: u64 },
    /// 429 with this `Retry-After` header as given, however absurd
    /// (`1e20`, `-1`, `NaN`, a date in the year 9999).
    RetryAfter(String),
    /// 500 with a JSON error.
    ServerError,
    /// Holds the call this long, then answers 504.
    Hang(Duration),
    /// Handles the call (a task is created, a charge made), then holds
    /// the answer this long: a submit whose answer a client may never see.
    AnswerLate(Duration),
}

/// How Runway tasks of one kind end (decided when they would finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Succeed,
    /// `FAILED` with this `failureCode` (e.g. `SAFETY.INPUT.TEXT`).
    Fail {
        code: String,
        message: String,
    },
    /// Stays `RUNNING` for as long as this outcome is set.
    Hold,
}

/// Which Runway endpoint made a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    TextToImage,
    ImageToVideo,
}

/// How Veo operations end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VeoOutcome {
    /// Done with one video, inline (`bytesBase64Encoded`).
    Video,
    /// Done with one video as a `gs://` object served by the fake storage.
    GcsVideo,
    /// Done, with `raiMediaFilteredCount: 1` and no video.
    Filtered { reason: String },
    /// Done with an `error`.
    Error { code: i64, message: String },
    /// Never done while set.
    Hold,
}

/// Static settings of a fake.
#[derive(Debug, Clone)]
pub struct FakeProvidersConfig {
    pub openai_key: String,
    pub runway_secret: String,
    /// A Vertex bearer token accepted besides the ones the token endpoint issues.
    pub vertex_token: String,
    /// Polls after which a Runway task has its outcome (the first is PENDING, then RUNNING).
    pub task_polls: u32,
    /// Polls after which a Veo operation is done.
    pub operation_polls: u32,
    /// What transcriptions return.
    pub transcript: String,
    /// Size of the clips and videos.
    pub clip_size: (u32, u32),
    /// Size of the images.
    pub image_size: (u32, u32),
    /// Segments of the script when the instructions name no number.
    pub default_segments: usize,
    /// If set, the token endpoint verifies assertions' RS256 signatures with
    /// this public key (PKCS#1 `RSAPublicKey` DER).
    pub jwt_public_key_der: Option<Vec<u8>>,
}

impl Default for FakeProvidersConfig {
    fn default() -> Self {
        Self {
            openai_key: "sk-fake-openai-key".into(),
            runway_secret: "key_fake-runway-secret".into(),
            vertex_token: "ya29.fake-vertex-token".into(),
            task_polls: 2,
            operation_polls: 2,
            transcript: "a birthday greeting for Zoë".into(),
            clip_size: (320, 180),
            image_size: (64, 36),
            default_segments: 10,
            jwt_public_key_der: None,
        }
    }
}

/// One received call.
#[derive(Debug, Clone)]
pub struct Call {
    pub endpoint: Endpoint,
    pub at: Instant,
    /// The status answered.
    pub status: u16,
}

pub(crate) struct RunwayTask {
    pub kind: TaskKind,
    pub polls: u32,
    pub seconds: u32,
    /// Asked for an upright frame (`720:1280`, `1080:1920`): its output is
    /// the configured size turned upright.
    pub portrait: bool,
    /// Fixed once reported: SUCCEEDED, FAILED or CANCELLED with its fields.
    pub terminal: Option<Value>,
}

/// `size` (landscape, as configured) turned upright when `portrait`.
pub(crate) fn oriented((w, h): (u32, u32), portrait: bool) -> (u32, u32) {
    let (long, short) = (w.max(h), w.min(h));
    if portrait { (short, long) } else { (long, short) }
}

pub(crate) struct Operation {
    pub polls: u32,
    pub seconds: u32,
    /// `aspectRatio` 9:16: the video is the configured size turned upright.
    pub portrait: bool,
    pub terminal: Option<Value>,
}

pub(crate) struct State {
    pub config: FakeProvidersConfig,
    calls: Vec<Call>,
    /// Calls that arrived, counted before any fault or answer.
    arrived: HashMap<Endpoint, usize>,
    requests: Vec<(Endpoint, Value)>,
    /// The model of each accepted Veo `predictLongRunning`, in order.
    pub veo_models: Vec<String>,
    next_faults: HashMap<Endpoint, VecDeque<Fault>>,
    always: HashMap<Endpoint, Fault>,
    pub task_outcomes: HashMap<TaskKind, TaskOutcome>,
    pub veo_outcome: VeoOutcome,
    pub chat_refusal: Option<String>,
    /// Moderation flags a text containing the word with these categories.
    pub moderation_flags: Vec<(String, Vec<String>)>,
    pub tasks: HashMap<String, RunwayTask>,
    pub operations: HashMap<String, Operation>,
    pub issued_tokens: HashSet<String>,
    /// Output downloads that carried an `Authorization` header.
    pub leaked_auth: usize,
    next_id: u64,
}

impl State {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn record(&mut self, endpoint: Endpoint, body: Value) {
        self.requests.push((endpoint, body));
    }

    pub fn task_outcome(&self, kind: TaskKind) -> TaskOutcome {
        self.task_outcomes.get(&kind).cloned().unwrap_or(TaskOutcome::Succeed)
    }

    fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        if let Some(fault) = self.next_faults.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        self.always.get(&endpoint).cloned()
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub addr: SocketAddr,
    pub clips: media::Clips,
    changed: Notify,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Holds the caller for `hold`, or until the fake stops.
    async fn hold(&self, hold: Duration) {
        let mut stopped = self.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
    }

    /// Counts a call and plays its scripted fault, if any: `Err(answer)`
    /// ends the call; `Ok(Some(hold))` holds the handler's answer.
    pub async fn enter(&self, endpoint: Endpoint) -> Result<Option<Duration>, Response> {
        let fault = {
            let mut st = self.lock();
            *st.arrived.entry(endpoint).or_default() += 1;
            st.take_fault(endpoint)
        };
        self.changed.notify_waiters();
        let answer = match fault {
            None => return Ok(None),
            Some(Fault::AnswerLate(hold)) => return Ok(Some(hold)),
            Some(Fault::RateLimited { retry_after_secs }) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                axum::Json(json!({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}})),
            )
                .into_response(),
            Some(Fault::RetryAfter(value)) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, value)],
                axum::Json(json!({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}})),
            )
                .into_response(),
            Some(Fault::ServerError) => {
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "The server had an error"}})))
                    .into_response()
            }
            Some(Fault::Hang(hang)) => {
                self.hold(hang).await;
                (StatusCode::GATEWAY_TIMEOUT, "upstream timed out").into_response()
            }
        };
        Err(answer)
    }

    fn finish(&self, endpoint: Endpoint, status: StatusCode) {
        self.lock().calls.push(Call { endpoint, at: Instant::now(), status: status.as_u16() });
        self.changed.notify_waiters();
    }
}

/// A JSON error answer.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "code": status.as_u16()}}))).into_response()
}

/// The bearer token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// Runs `handler` for `endpoint`: faults first, then the call is counted
/// with its status.
pub(crate) async fn serve<F>(shared: &Arc<Shared>, endpoint: Endpoint, handler: F) -> Response
where
    F: Future<Output = Response>,
{
    let response = match shared.enter(endpoint).await {
        Err(fault) => fault,
        Ok(None) => handler.await,
        Ok(Some(late)) => {
            let response = handler.await;
            shared.hold(late).await;
            response
        }
    };
    shared.finish(endpoint, response.status());
    response
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Handle to a running fake. Clones share the server; it stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct FakeProviders {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for FakeProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProviders").field("addr", &self.inner.shared.addr).finish_non_exhaustive()
    }
}

impl FakeProviders {
    /// Binds 127.0.0.1 on a free port and serves in a spawned task.
    pub async fn start(config: FakeProvidersConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = State {
            config,
            calls: Vec::new(),
            arrived: HashMap::new(),
            requests: Vec::new(),
            veo_models: Vec::new(),
            next_faults: HashMap::new(),
            always: HashMap::new(),
            task_outcomes: HashMap::new(),
            veo_outcome: VeoOutcome::Video,
            chat_refusal: None,
            moderation_flags: Vec::new(),
            tasks: HashMap::new(),
            operations: HashMap::new(),
            issued_tokens: HashSet::new(),
            leaked_auth: 0,
            next_id: 0,
        };
        let shared =
            Arc::new(Shared { state: Mutex::new(state), addr, clips: media::Clips::default(), changed: Notify::new(), shutdown });
        let app = Router::new()
            .route("/openai/v1/chat/completions", post(openai::chat))
            .route("/openai/v1/audio/speech", post(openai::speech))
            .route("/openai/v1/audio/transcriptions", post(openai::transcription))
            .route("/openai/v1/moderations", post(openai::moderations))
            .route("/runway/v1/text_to_image", post(runway::text_to_image))
            .route("/runway/v1/image_to_video", post(runway::image_to_video))
            .route("/runway/v1/tasks/{id}", get(runway::task).delete(runway::cancel))
            .route("/files/{name}", get(runway::output))
            .route("/vertex/v1/projects/{project}/locations/{location}/publishers/google/models/{call}", post(vertex::model_call))
            .route("/oauth2/token", post(vertex::token))
            .route("/storage/{bucket}/{*object}", get(vertex::storage))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint in the fake") })
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        crate::server::spawn("fake providers", listener, app, shutdown_rx);
        Ok(Self { inner: Arc::new(Handle { shared }) })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// `OPENAI_BASE_URL` for this fake.
    pub fn openai_base_url(&self) -> String {
        format!("{}/openai/v1", self.shared().base())
    }

    /// `RUNWAYML_BASE_URL` for this fake.
    pub fn runway_base_url(&self) -> String {
        format!("{}/runway", self.shared().base())
    }

    /// `VERTEX_BASE_URL` for this fake.
    pub fn vertex_base_url(&self) -> String {
        format!("{}/vertex", self.shared().base())
    }

    /// The `token_uri` to put in a service-account key.
    pub fn token_uri(&self) -> String {
        format!("{}/oauth2/token", self.shared().base())
    }

    /// Where `gs://bucket/object` is served: `{this}/bucket/object`.
    pub fn storage_base_url(&self) -> String {
        format!("{}/storage", self.shared().base())
    }

    pub fn config(&self) -> FakeProvidersConfig {
        self.shared().lock().config.clone()
    }

    /// Plays `fault` on the next `times` calls of `endpoint`.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        let mut st = self.shared().lock();
        let queue = st.next_faults.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Plays `fault` on every call of `endpoint` (after any `fail_next`), or stops.
    pub fn fail_always(&self, endpoint: Endpoint, fault: Option<Fault>) {
        let mut st = self.shared().lock();
        match fault {
            Some(fault) => st.always.insert(endpoint, fault),
            None => st.always.remove(&endpoint),
        };
    }

    /// How tasks of `kind` end from now on (tasks that ended keep their end).
    pub fn set_task_outcome(&self, kind: TaskKind, outcome: TaskOutcome) {
        self.shared().lock().task_outcomes.insert(kind, outcome);
        self.shared().changed.notify_waiters();
    }

    /// How Veo operations end from now on.
    pub fn set_veo_outcome(&self, outcome: VeoOutcome) {
        self.shared().lock().veo_outcome = outcome;
    }

    /// Chat answers carry this `refusal` (and no content) while set.
    /// What transcriptions return from now on.
    pub fn set_transcript(&self, text: &str) {
        self.shared().lock().config.transcript = text.to_owned();
    }

    /// Moderation flags every input whose text contains `word` (any case)
    /// with `categories` (OpenAI's names: `violence`, `harassment/threatening`…);
    /// anything else is answered unflagged.
    pub fn flag_moderation(&self, word: &str, categories: &[&str]) {
        let categories = categories.iter().map(|c| (*c).to_owned()).collect();
        self.shared().lock().moderation_flags.push((word.to_owned(), categories));
    }

    pub fn set_chat_refusal(&self, refusal: Option<&str>) {
        self.shared().lock().chat_refusal = refusal.map(str::to_owned);
    }

    /// Calls received by `endpoint`, whatever their answer.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        self.shared().lock().calls.iter().filter(|c| c.endpoint == endpoint).count()
    }

    /// Calls of `endpoint` that arrived, answered or not: unlike
    /// [`calls`](Self::calls) this counts a call still held by a fault, or
    /// whose client went away before the answer.
    pub fn arrived(&self, endpoint: Endpoint) -> usize {
        self.shared().lock().arrived.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every call of `endpoint` with its time and status, in order.
    pub fn call_log(&self, endpoint: Endpoint) -> Vec<Call> {
        self.shared().lock().calls.iter().filter(|c| c.endpoint == endpoint).cloned().collect()
    }

    /// The model (from the URL) of every Veo operation the fake accepted, in order.
    pub fn veo_models(&self) -> Vec<String> {
        self.shared().lock().veo_models.clone()
    }

    /// The bodies the fake accepted at `endpoint` (JSON; for transcriptions
    /// the form fields and the file's name and size).
    pub fn requests(&self, endpoint: Endpoint) -> Vec<Value> {
        self.shared().lock().requests.iter().filter(|(e, _)| *e == endpoint).map(|(_, body)| body.clone()).collect()
    }

    /// Runway tasks created of `kind`.
    pub fn tasks_created(&self, kind: TaskKind) -> usize {
        self.shared().lock().tasks.values().filter(|t| t.kind == kind).count()
    }

    /// The ids of the Runway tasks created of `kind`, in no order.
    pub fn task_ids(&self, kind: TaskKind) -> Vec<String> {
        self.shared().lock().tasks.iter().filter(|(_, t)| t.kind == kind).map(|(id, _)| id.clone()).collect()
    }

    /// Runway tasks of `kind` polled at least once.
    pub fn tasks_polled(&self, kind: TaskKind) -> usize {
        self.shared().lock().tasks.values().filter(|t| t.kind == kind && t.polls > 0).count()
    }

    /// Runway tasks of `kind` that are still running.
    pub fn tasks_running(&self, kind: TaskKind) -> usize {
        self.shared().lock().tasks.values().filter(|t| t.kind == kind && t.terminal.is_none()).count()
    }

    /// Downloads of task outputs that carried an `Authorization` header
    /// (an API key sent to a result URL).
    pub fn leaked_auth(&self) -> usize {
        self.shared().lock().leaked_auth
    }

    /// Waits until `pred` holds, re-checking after every call; false on timeout.
    pub async fn wait_until(&self, pred: impl Fn(&FakeProviders) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared().changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(self) {
                return true;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return pred(self),
            }
        }
    }
}

/// A request body as JSON, or a 400 answer.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(error(StatusCode::BAD_REQUEST, "the body must be a JSON object")),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}"))),
    }
}

/// A non-empty string field, or a 400 answer naming it.
pub(crate) fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, Response> {
    match body.get(field).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(error(StatusCode::BAD_REQUEST, &format!("`{field}` is required and must be a non-empty string"))),
    }
}
