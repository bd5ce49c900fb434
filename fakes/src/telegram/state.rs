//! The fake's state and the synchronous part of every method. Everything here
//! runs under one `std::sync::Mutex`; nothing in this file awaits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use super::request::{Params, Upload};
use super::{CallbackAnswer, FakeTelegramConfig, Faults, Sent, markup, mp4};

pub(crate) struct ApiErr {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u32>,
    /// `parameters.migrate_to_chat_id`: the group became this supergroup.
    pub migrate_to_chat_id: Option<i64>,
}

pub(crate) fn api_err(code: u16, description: impl Into<String>) -> ApiErr {
    ApiErr { code, description: description.into(), retry_after: None, migrate_to_chat_id: None }
}

fn too_many(retry_after: u32) -> ApiErr {
    ApiErr {
        code: 429,
        description: format!("Too Many Requests: retry after {retry_after}"),
        retry_after: Some(retry_after),
        migrate_to_chat_id: None,
    }
}

/// Telegram's placeholder `from` of anonymous group admins' messages.
const GROUP_ANONYMOUS_BOT: i64 = 1_087_968_824;
/// Telegram's placeholder `from` of messages sent on behalf of a channel.
const CHANNEL_BOT: i64 = 136_817_688;

/// Methods that post into a chat: refused where the bot has no rights,
/// in a chat that moved, or in a chat over its flood limit; they take a
/// `message_thread_id`.
const POSTING: &[&str] = &["sendMessage", "sendVideo", "sendPhoto", "sendMediaGroup", "sendInvoice"];
/// Methods that change a chat: refused in a chat that moved, or over its flood limit.
const TOUCHING: &[&str] = &["editMessageText", "editMessageReplyMarkup", "sendChatAction"];

/// A group gets at most 20 messages a minute.
const GROUP_PER_MINUTE: usize = 20;

fn bad(desc: &str) -> ApiErr {
    api_err(400, format!("Bad Request: {desc}"))
}

pub(crate) enum Reply {
    Ok(Value),
    Err(ApiErr),
    /// nginx's HTML 502 page, as Telegram's front end sends it.
    BadGateway,
}

impl From<ApiErr> for Reply {
    fn from(e: ApiErr) -> Self {
        Reply::Err(e)
    }
}

pub(crate) enum Outcome {
    Reply(Reply),
    /// Hold the request for `hang`, then answer `then` or, if `None`, break
    /// the connection without a complete answer.
    Hang {
        hang: Duration,
        then: Option<Reply>,
    },
}

enum Gate {
    Go,
    /// timeout fault, delivered: record now, answer late
    Late(Duration),
    /// timeout fault, not delivered: record nothing, break the connection
    Drop(Duration),
}

impl Gate {
    fn finish(self, reply: Reply) -> Outcome {
        match self {
            Gate::Go => Outcome::Reply(reply),
            Gate::Late(hang) => Outcome::Hang { hang, then: Some(reply) },
            Gate::Drop(hang) => Outcome::Hang { hang, then: None },
        }
    }
}

/// SplitMix64: tiny, seedable, good enough for fault injection.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the `video` parameter of a sendVideo call refers to; worked out
/// before taking the lock (hashing a 50 MB upload takes a while).
pub(crate) enum VideoSrc {
    Upload(UploadInfo),
    FileId(String),
    Url,
    Missing,
}

pub(crate) struct UploadInfo {
    size: usize,
    is_mp4: bool,
    probe: mp4::Probe,
    hash: u64,
    file_name: Option<String>,
    /// Kept so getFile can hand an uploaded video back (up to 20 MB).
    bytes: Bytes,
}

fn upload_info(bytes: &Bytes, file_name: Option<&str>) -> UploadInfo {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    UploadInfo {
        bytes: bytes.clone(),
        size: bytes.len(),
        is_mp4: mp4::is_mp4(bytes),
        probe: mp4::probe(bytes),
        hash: h.finish(),
        file_name: file_name.filter(|n| !n.is_empty()).map(str::to_owned),
    }
}

pub(crate) fn resolve_video(p: &Params) -> VideoSrc {
    let from_upload = |u: &Upload| VideoSrc::Upload(upload_info(&u.bytes, u.file_name.as_deref()));
    if let Some(u) = p.files.get("video") {
        return from_upload(u);
    }
    match p.str("video").map(str::trim) {
        Some(s) if s.starts_with("attach://") => {
            let name = &s["attach://".len()..];
            if let Some(u) = p.files.get(name) {
                from_upload(u)
            } else if let Some(t) = p.str(name) {
                // a part without a filename that happened to be valid UTF-8
                VideoSrc::Upload(upload_info(&Bytes::copy_from_slice(t.as_bytes()), None))
            } else {
                VideoSrc::Missing
            }
        }
        Some(s) if s.starts_with("http://") || s.starts_with("https://") => VideoSrc::Url,
        Some("") | None => VideoSrc::Missing,
        Some(s) => VideoSrc::FileId(s.to_owned()),
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum MsgKind {
    Text,
    Video,
    Other,
}

struct Msg {
    from_bot: bool,
    kind: MsgKind,
    /// what "message is not modified" compares
    content: Value,
}

#[derive(Clone)]
struct VideoMeta {
    file_unique_id: String,
    width: u32,
    height: u32,
    duration: u32,
    size: usize,
    file_name: Option<String>,
    /// The uploaded bytes (None for files registered by a test).
    bytes: Option<Bytes>,
}

struct Rendered {
    raw: String,
    plain: String,
    format: Value,
}

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn value_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Bots may download files of up to 20 MB.
pub(crate) const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// A file a user sent the bot.
struct UserFile {
    unique_id: String,
    /// As Telegram reports it (may claim more than `bytes` holds).
    size: u64,
    path: String,
    bytes: Bytes,
}

/// The record of an accepted text send or edit.
fn text_sent(method: &str, chat_id: i64, message_id: i64, text: &Rendered, markup: Option<Value>, at: Instant) -> Sent {
    Sent {
        method: method.into(),
        chat_id,
        message_id,
        text: Some(text.plain.clone()),
        video_file_id: None,
        uploaded: false,
        has_reply_markup: markup.is_some(),
        at,
        raw_text: Some(text.raw.clone()),
        caption: None,
        reply_markup: markup,
        media: Vec::new(),
        thread_id: None,
        reply_to: None,
    }
}

pub(crate) struct State {
    pub cfg: FakeTelegramConfig,
    bot_id: i64,
    pub faults: Faults,
    rng: Rng,
    poll_rng: Rng,
    next_message_id: i64,
    next_update_id: i64,
    next_file: u64,
    updates: VecDeque<(i64, Value)>,
    pub handed_out: HashMap<i64, Instant>,
    allowed_updates: Option<Vec<String>>,
    pub poll_generation: u64,
    chats: HashMap<i64, Value>,
    messages: HashMap<(i64, i64), Msg>,
    files: HashMap<String, VideoMeta>,
    /// Files users sent (voice messages), by file_id, for getFile.
    user_files: HashMap<String, UserFile>,
    unique_ids: HashMap<(u64, usize), String>,
    callback_ids: HashSet<String>,
    next_callback: u64,
    /// answerCallbackQuery calls accepted.
    pub callback_answers: Vec<CallbackAnswer>,
    /// Pre-checkout queries pushed and not answered yet.
    pre_checkout_ids: HashSet<String>,
    /// answerPreCheckoutQuery calls accepted: (query id, ok, error_message).
    pub pre_checkout_answers: Vec<(String, bool, Option<String>)>,
    /// Stars charges paid (from pushed successful_payment messages): charge → (user, refunded).
    charges: HashMap<String, (i64, bool)>,
    /// Accepted sendInvoice parameters.
    pub invoices: Vec<Value>,
    /// Accepted refundStarPayment calls: (user_id, charge id).
    pub refunds: Vec<(i64, String)>,
    pub sent: Vec<Sent>,
    global_window: VecDeque<Instant>,
    /// Sends with `allow_paid_broadcast`: up to 1,000 a second, paid.
    paid_window: VecDeque<Instant>,
    pub paid_sends: usize,
    chat_windows: HashMap<i64, VecDeque<Instant>>,
    pub uploads: usize,
    pub too_many: usize,
    pub calls: HashMap<String, usize>,
    pub webhook: Option<(String, Option<String>)>,
    /// The default command list (setMyCommands without `language_code`).
    pub commands: Option<Value>,
    /// Command lists registered for one `language_code`.
    pub commands_by_language: HashMap<String, Value>,
    /// `from.language_code` of users' messages: `None` leaves it out;
    /// users not listed send "en".
    pub user_languages: HashMap<i64, Option<String>>,
    /// Every answerCallbackQuery accepted: (callback query id, text).
    pub answered_callbacks: Vec<(String, Option<String>)>,
    /// Forum topics members wrote in: (chat, message_thread_id).
    topics: HashSet<(i64, i64)>,
    /// Groups upgraded to supergroups: old id → new id.
    migrated: HashMap<i64, i64>,
    /// Sends Telegram refused: (chat, method, error code).
    pub refused: Vec<(i64, String, u16)>,
    /// When each chat of [`Faults::flood_for`] was first refused.
    flood_started: HashMap<i64, Instant>,
    /// Sends to each group within the last minute.
    group_windows: HashMap<i64, VecDeque<Instant>>,
    /// Inline queries pushed: id → its update's id.
    inline_queries: HashMap<String, i64>,
    next_inline: u64,
    /// Every answerInlineQuery accepted.
    pub inline_answers: Vec<InlineAnswer>,
}

/// An accepted answerInlineQuery.
#[derive(Debug, Clone)]
pub struct InlineAnswer {
    pub id: String,
    /// Its parameters as sent.
    pub params: Value,
    /// From the query's update being handed out to this answer.
    pub latency: Option<Duration>,
}

const POLL_SEED_SALT: u64 = 0xD1B5_4A32_D192_ED03;

impl State {
    pub fn new(cfg: FakeTelegramConfig) -> Self {
        let bot_id = cfg.token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        State {
            cfg,
            bot_id,
            faults: Faults::default(),
            rng: Rng::new(0),
            poll_rng: Rng::new(POLL_SEED_SALT),
            next_message_id: 1,
            next_update_id: 1,
            next_file: 0,
            updates: VecDeque::new(),
            handed_out: HashMap::new(),
            allowed_updates: None,
            poll_generation: 0,
            chats: HashMap::new(),
            messages: HashMap::new(),
            files: HashMap::new(),
            user_files: HashMap::new(),
            unique_ids: HashMap::new(),
            callback_ids: HashSet::new(),
            next_callback: 0,
            callback_answers: Vec::new(),
            pre_checkout_ids: HashSet::new(),
            pre_checkout_answers: Vec::new(),
            charges: HashMap::new(),
            invoices: Vec::new(),
            refunds: Vec::new(),
            sent: Vec::new(),
            global_window: VecDeque::new(),
            paid_window: VecDeque::new(),
            paid_sends: 0,
            chat_windows: HashMap::new(),
            uploads: 0,
            too_many: 0,
            calls: HashMap::new(),
            webhook: None,
            commands: None,
            commands_by_language: HashMap::new(),
            user_languages: HashMap::new(),
            answered_callbacks: Vec::new(),
            topics: HashSet::new(),
            migrated: HashMap::new(),
            refused: Vec::new(),
            flood_started: HashMap::new(),
            group_windows: HashMap::new(),
            inline_queries: HashMap::new(),
            next_inline: 0,
            inline_answers: Vec::new(),
        }
    }

    pub fn max_upload(&self) -> usize {
        self.faults.max_upload_bytes.unwrap_or(self.cfg.max_upload_bytes)
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.rng = Rng::new(faults.seed);
        self.poll_rng = Rng::new(faults.seed ^ POLL_SEED_SALT);
        self.faults = faults;
        self.flood_started.clear();
    }

    pub fn count_call(&mut self, method: &str) {
        *self.calls.entry(method.to_owned()).or_default() += 1;
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_id,
            "is_bot": true,
            "first_name": "Test Bot",
            "username": self.cfg.bot_username,
        })
    }

    // ---- updates -------------------------------------------------------

    pub fn alloc_message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }

    pub fn pending(&self) -> usize {
        self.updates.len()
    }

    /// A new private message from `user_id` in `chat_id`, without content.
    fn user_message(&mut self, user_id: i64, chat_id: i64) -> (i64, Value) {
        let message_id = self.alloc_message_id();
        let first_name = format!("User{user_id}");
        let chat = self
            .chats
            .get(&chat_id)
            .cloned()
            .unwrap_or_else(|| json!({"id": chat_id, "type": "private", "first_name": first_name}));
        let mut from = json!({"id": user_id, "is_bot": false, "first_name": first_name});
        match self.user_languages.get(&user_id) {
            None => from["language_code"] = json!("en"),
            Some(Some(code)) => from["language_code"] = json!(code),
            Some(None) => {}
        }
        let msg = json!({
            "message_id": message_id,
            "from": from,
            "chat": chat,
            "date": unix_now(),
        });
        (message_id, msg)
    }

    /// A new private message from `user_id` with extra fields (e.g. a payment).
    pub fn push_message_with(&mut self, user_id: i64, chat_id: i64, fields: Map<String, Value>) -> (i64, Value) {
        let (message_id, mut msg) = self.user_message(user_id, chat_id);
        if let Some(m) = msg.as_object_mut() {
            m.extend(fields);
        }
        (message_id, msg)
    }

    /// A chat as the fake knows it (or a private one).
    pub fn chat_json(&self, chat_id: i64) -> Value {
        self.chats.get(&chat_id).cloned().unwrap_or_else(|| json!({"id": chat_id, "type": "private", "first_name": "User"}))
    }

    fn enqueue_message(&mut self, msg: Value) {
        let mut body = Map::new();
        body.insert("message".into(), msg);
        self.enqueue(body);
    }

    pub fn push_voice(&mut self, user_id: i64, chat_id: i64, voice: crate::telegram::VoiceMessage) -> i64 {
        let (message_id, mut msg) = self.user_message(user_id, chat_id);
        self.next_file += 1;
        let n = self.next_file;
        let file_id = format!("VOICE{n:08}");
        let size = voice.file_size.unwrap_or(voice.audio.len() as u64);
        let unique_id = format!("UV{n}");
        msg["voice"] = json!({
            "file_id": file_id,
            "file_unique_id": unique_id,
            "duration": voice.duration,
            "mime_type": voice.mime_type,
            "file_size": size,
        });
        let path = format!("voice/file_{n}.oga");
        self.user_files.insert(file_id, UserFile { unique_id, size, path, bytes: voice.audio.into() });
        self.enqueue_message(msg);
        message_id
    }

    pub fn push_photo(&mut self, user_id: i64, chat_id: i64, photo: crate::telegram::PhotoMessage) -> i64 {
        let (message_id, mut msg) = self.user_message(user_id, chat_id);
        self.next_file += 1;
        let n = self.next_file;
        let file_id = format!("PHOTO{n:08}");
        let size = photo.file_size.unwrap_or(photo.bytes.len() as u64);
        let unique_id = photo.file_unique_id.clone().unwrap_or_else(|| format!("UP{n}"));
        match &photo.document_mime {
            Some(mime) => {
                msg["document"] = json!({
                    "file_id": file_id,
                    "file_unique_id": unique_id,
                    "file_name": "photo",
                    "mime_type": mime,
                    "file_size": size,
                });
            }
            None => {
                // a thumbnail first, with bytes of its own: the bot must take the largest
                let thumb_id = format!("THUMB{n:08}");
                let thumb_unique = format!("{unique_id}-thumb");
                let thumb_bytes = format!("thumbnail of {unique_id}").into_bytes();
                let thumb_size = thumb_bytes.len() as u64;
                msg["photo"] = json!([
                    {"file_id": thumb_id, "file_unique_id": thumb_unique, "width": 90, "height": 51, "file_size": thumb_size},
                    {"file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 720, "file_size": size},
                ]);
                let path = format!("photos/thumb_{n}.jpg");
                self.user_files
                    .insert(thumb_id, UserFile { unique_id: thumb_unique, size: thumb_size, path, bytes: thumb_bytes.into() });
            }
        }
        if let Some(caption) = &photo.caption {
            msg["caption"] = json!(caption);
        }
        let path = format!("photos/file_{n}.jpg");
        self.user_files.insert(file_id, UserFile { unique_id, size, path, bytes: photo.bytes.into() });
        self.enqueue_message(msg);
        message_id
    }

    /// getFile: a file a user sent, up to the 20 MB bots may download.
    fn get_file(&self, p: &Params) -> Result<Value, Reply> {
        let file_id = p.str("file_id").unwrap_or_default();
        if let Some(video) = self.files.get(file_id) {
            if video.size as u64 > MAX_DOWNLOAD_BYTES {
                return Err(bad("file is too big").into());
            }
            let mut file = json!({"file_id": file_id, "file_unique_id": video.file_unique_id, "file_size": video.size});
            if video.bytes.is_some() {
                file["file_path"] = json!(format!("videos/{file_id}.mp4"));
            }
            return Ok(file);
        }
        let file = self.user_files.get(file_id).ok_or_else(|| Reply::from(bad("invalid file_id")))?;
        if file.size > MAX_DOWNLOAD_BYTES {
            return Err(bad("file is too big").into());
        }
        Ok(json!({"file_id": file_id, "file_unique_id": file.unique_id, "file_size": file.size, "file_path": file.path}))
    }

    /// The bytes behind a `file_path` that getFile handed out.
    pub fn download(&self, path: &str) -> Option<Bytes> {
        if let Some(file_id) = path.strip_prefix("videos/").and_then(|p| p.strip_suffix(".mp4")) {
            return self.files.get(file_id).filter(|v| v.size as u64 <= MAX_DOWNLOAD_BYTES).and_then(|v| v.bytes.clone());
        }
        self.user_files.values().find(|f| f.path == path && f.size <= MAX_DOWNLOAD_BYTES).map(|f| f.bytes.clone())
    }

    /// A press of an inline button with `data` under the bot's message
    /// `message_id` in `chat_id`, by `user_id`. Returns the callback query id.
    pub fn push_callback(&mut self, user_id: i64, chat_id: i64, message_id: i64, data: &str) -> String {
        self.next_callback += 1;
        let id = format!("{}{:08}", self.bot_id, self.next_callback);
        let chat = self.chat_json(chat_id);
        let message = match self.messages.get(&(chat_id, message_id)) {
            Some(msg) => {
                let mut m = json!({"message_id": message_id, "from": self.bot_user(), "chat": chat, "date": unix_now()});
                if let Some(text) = msg.content.get("text").filter(|t| t.is_string()) {
                    m["text"] = text.clone();
                }
                if let Some(video) = msg.content.get("video").filter(|v| v.is_object()) {
                    m["video"] = video.clone();
                }
                if let Some(markup) = msg.content.get("markup").filter(|m| m.is_object()) {
                    m["reply_markup"] = markup.clone();
                }
                m
            }
            // an old or unknown message: inaccessible, as Telegram sends it
            None => json!({"message_id": message_id, "chat": chat, "date": 0}),
        };
        let mut from = json!({"id": user_id, "is_bot": false, "first_name": format!("User{user_id}")});
        match self.user_languages.get(&user_id) {
            None => from["language_code"] = json!("en"),
            Some(Some(code)) => from["language_code"] = json!(code),
            Some(None) => {}
        }
        let mut body = Map::new();
        body.insert(
            "callback_query".into(),
            json!({"id": id, "from": from, "message": message, "chat_instance": format!("ci{chat_id}"), "data": data}),
        );
        self.enqueue(body);
        id
    }

    /// Pushes an inline query from `user_id` (`@bot <query>`); returns its id.
    pub fn push_inline_query(&mut self, user_id: i64, query: &str, offset: &str) -> String {
        self.next_inline += 1;
        let id = format!("{}{:09}", self.bot_id, self.next_inline);
        let mut from = json!({"id": user_id, "is_bot": false, "first_name": format!("User{user_id}")});
        match self.user_languages.get(&user_id) {
            None => from["language_code"] = json!("en"),
            Some(Some(code)) => from["language_code"] = json!(code),
            Some(None) => {}
        }
        let mut body = Map::new();
        body.insert(
            "inline_query".into(),
            json!({"id": id, "from": from, "query": query, "offset": offset, "chat_type": "sender"}),
        );
        let update_id = self.enqueue(body);
        self.inline_queries.insert(id.clone(), update_id);
        id
    }

    /// Pushes a `chosen_inline_result` (a user sent result `result_id`).
    pub fn push_chosen_inline_result(&mut self, user_id: i64, result_id: &str, query: &str) -> i64 {
        let mut body = Map::new();
        body.insert(
            "chosen_inline_result".into(),
            json!({"result_id": result_id, "from": {"id": user_id, "is_bot": false, "first_name": format!("User{user_id}")}, "query": query}),
        );
        self.enqueue(body)
    }

    /// answerInlineQuery: checked as Telegram does (see `inline::check_answer`);
    /// a query is answered once.
    fn answer_inline_query(&mut self, p: &Params) -> Result<Value, Reply> {
        let id = p.str("inline_query_id").unwrap_or("").to_owned();
        let Some(update_id) = self.inline_queries.get(&id).copied() else {
            return Err(bad("query is too old and response timeout expired or query ID is invalid").into());
        };
        if self.inline_answers.iter().any(|a| a.id == id) {
            return Err(bad("query is too old and response timeout expired or query ID is invalid").into());
        }
        let files = &self.files;
        super::inline::check_answer(p, |file_id| files.contains_key(file_id)).map_err(|d| Reply::Err(api_err(400, d)))?;
        let latency = self.handed_out.get(&update_id).map(|at| at.elapsed());
        self.inline_answers.push(InlineAnswer { id, params: Value::Object(p.values.clone()), latency });
        Ok(json!(true))
    }

    pub fn push_text(&mut self, user_id: i64, chat_id: i64, text: &str) -> i64 {
        let (message_id, mut msg) = self.user_message(user_id, chat_id);
        msg["text"] = json!(text);
        if text.starts_with('/') {
            let command = text.split(char::is_whitespace).next().unwrap_or(text);
            msg["entities"] = json!([{
                "type": "bot_command",
                "offset": 0,
                "length": markup::utf16_len(command),
            }]);
        }
        self.enqueue_message(msg);
        message_id
    }

    pub fn enqueue(&mut self, mut body: Map<String, Value>) -> i64 {
        body.remove("update_id");
        self.register_refs(&body);
        let id = self.next_update_id;
        self.next_update_id += 1;
        body.insert("update_id".into(), json!(id));
        self.updates.push_back((id, Value::Object(body)));
        id
    }

    /// Learns chats, messages and callback query ids mentioned in an update,
    /// so later calls referring to them are accepted.
    fn register_refs(&mut self, body: &Map<String, Value>) {
        for (kind, v) in body {
            if kind == "pre_checkout_query" {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    self.pre_checkout_ids.insert(id.to_owned());
                }
                continue;
            }
            if let Some(payment) = v.get("successful_payment") {
                let charge = payment.get("telegram_payment_charge_id").and_then(Value::as_str);
                let user = v.get("from").and_then(|f| f.get("id")).and_then(value_i64);
                if let (Some(charge), Some(user)) = (charge, user) {
                    self.charges.entry(charge.to_owned()).or_insert((user, false));
                }
            }
            if kind == "callback_query" {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    self.callback_ids.insert(id.to_owned());
                }
                if let Some(m) = v.get("message") {
                    self.register_message(m);
                }
                continue;
            }
            if v.get("message_id").is_some() {
                self.register_message(v);
            } else if let Some(chat) = v.get("chat") {
                self.register_chat(chat);
            }
        }
    }

    fn register_chat(&mut self, chat: &Value) {
        if let Some(id) = chat.get("id").and_then(value_i64) {
            self.chats.entry(id).or_insert_with(|| chat.clone());
        }
    }

    fn register_message(&mut self, m: &Value) {
        let Some(chat) = m.get("chat") else { return };
        self.register_chat(chat);
        let (Some(chat_id), Some(mid)) = (chat.get("id").and_then(value_i64), m.get("message_id").and_then(value_i64)) else {
            return;
        };
        let from_bot = m.get("from").and_then(|f| f.get("id")).and_then(value_i64).is_some_and(|id| id == self.bot_id);
        let kind = if m.get("text").is_some() {
            MsgKind::Text
        } else if m.get("video").is_some() {
            MsgKind::Video
        } else {
            MsgKind::Other
        };
        let content = json!({"text": m.get("text"), "format": null, "markup": m.get("reply_markup")});
        self.messages.entry((chat_id, mid)).or_insert(Msg { from_bot, kind, content });
        self.next_message_id = self.next_message_id.max(mid.saturating_add(1));
    }

    /// getUpdates' `offset`: confirms every update with a lower id; a
    /// negative offset keeps only the last `-offset` updates.
    pub fn confirm(&mut self, offset: Option<i64>) {
        match offset {
            Some(o) if o > 0 => self.updates.retain(|(id, _)| *id >= o),
            Some(o) if o < 0 => {
                let keep = usize::try_from(o.unsigned_abs()).unwrap_or(usize::MAX);
                while self.updates.len() > keep {
                    self.updates.pop_front();
                }
            }
            _ => {}
        }
    }

    pub fn drop_pending(&mut self) {
        self.updates.clear();
    }

    pub fn set_allowed_updates(&mut self, allowed: Vec<String>) {
        self.allowed_updates = Some(allowed);
    }

    /// Hands out up to `limit` pending updates (they stay pending until
    /// confirmed). Updates of kinds not in `allowed_updates` are discarded,
    /// as Telegram does.
    pub fn take_updates(&mut self, limit: usize) -> Vec<Value> {
        const DEFAULT_EXCLUDED: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];
        let allowed = self.allowed_updates.clone().filter(|a| !a.is_empty());
        self.updates.retain(|(_, u)| {
            let Some(kind) = u.as_object().and_then(|o| o.keys().find(|k| *k != "update_id")) else {
                return true;
            };
            match &allowed {
                Some(a) => a.iter().any(|x| x == kind),
                None => !DEFAULT_EXCLUDED.contains(&kind.as_str()),
            }
        });
        let now = Instant::now();
        let mut out = Vec::new();
        for (id, u) in self.updates.iter().take(limit) {
            self.handed_out.entry(*id).or_insert(now);
            out.push(u.clone());
        }
        out
    }

    pub fn poll_fault(&mut self) -> Option<Reply> {
        let rate = self.faults.fail_get_updates_rate;
        if rate > 0.0 && self.poll_rng.next_f64() < rate {
            return Some(if self.poll_rng.next_f64() < 0.5 {
                Reply::Err(api_err(500, "Internal Server Error"))
            } else {
                Reply::BadGateway
            });
        }
        None
    }

    // ---- dispatch ------------------------------------------------------

    pub fn dispatch(&mut self, method: &str, p: &Params, video: Option<VideoSrc>) -> Outcome {
        let now = Instant::now();
        let before = self.sent.len();
        let chat = p.values.get("chat_id").and_then(value_i64);
        if let Some(chat) = chat
            && (POSTING.contains(&method) || TOUCHING.contains(&method))
            && let Err(e) = self.check_chat(method, chat, p)
        {
            self.refused.push((chat, method.to_owned(), e.code));
            return Outcome::Reply(Reply::Err(e));
        }
        let result = self.run(method, p, video, now);
        match &result {
            Outcome::Reply(Reply::Err(e)) if POSTING.contains(&method) || TOUCHING.contains(&method) => {
                self.refused.push((chat.unwrap_or_default(), method.to_owned(), e.code));
            }
            _ if self.sent.len() > before => {
                if let Some(last) = self.sent.last_mut() {
                    last.thread_id = p.int("message_thread_id");
                    last.reply_to = p.json("reply_parameters").and_then(|r| r.get("message_id").and_then(value_i64));
                }
            }
            _ => {}
        }
        result
    }

    /// What Telegram refuses for the chat itself: a group that moved, no
    /// rights to post, a chat over its flood limit, a topic that isn't one.
    fn check_chat(&mut self, method: &str, chat: i64, p: &Params) -> Result<(), ApiErr> {
        if let Some(&new) = self.migrated.get(&chat) {
            return Err(ApiErr { migrate_to_chat_id: Some(new), ..bad("group chat was upgraded to a supergroup chat") });
        }
        if let Some(&n) = self.faults.flooded_chats.get(&chat) {
            self.too_many += 1;
            return Err(too_many(n));
        }
        if let Some(&secs) = self.faults.flood_for.get(&chat) {
            let now = Instant::now();
            let since = *self.flood_started.entry(chat).or_insert(now);
            let left = Duration::from_secs(u64::from(secs)).saturating_sub(now.saturating_duration_since(since));
            if !left.is_zero() {
                self.too_many += 1;
                let rounded_up = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Err(too_many(u32::try_from(rounded_up).unwrap_or(secs)));
            }
        }
        if !POSTING.contains(&method) {
            return Ok(());
        }
        if self.faults.no_rights_chats.contains(&chat) {
            let what = match method {
                "sendVideo" => "videos",
                "sendPhoto" | "sendMediaGroup" => "photos",
                _ => "text messages",
            };
            return Err(bad(&format!("not enough rights to send {what} to the chat")));
        }
        if p.has("message_thread_id") {
            let thread = p.int("message_thread_id").unwrap_or_default();
            let forum = self.chats.get(&chat).and_then(|c| c.get("is_forum")).and_then(Value::as_bool) == Some(true);
            // the General topic is addressed by leaving the thread out: 1 is refused
            if !forum || thread == 1 || !self.topics.contains(&(chat, thread)) {
                return Err(bad("message thread not found"));
            }
        }
        Ok(())
    }

    /// Makes a chat known (or replaces what the fake knew of it).
    pub fn add_chat(&mut self, chat: Value) {
        if let Some(id) = chat.get("id").and_then(value_i64) {
            self.chats.insert(id, chat);
        }
    }

    /// The group `old` became the supergroup `new`.
    pub fn migrate(&mut self, old: i64, new: i64) {
        let title = self.chats.get(&old).and_then(|c| c.get("title")).cloned().unwrap_or(json!("Group"));
        self.chats.insert(new, json!({"id": new, "type": "supergroup", "title": title, "is_forum": false}));
        self.migrated.insert(old, new);
    }

    fn with_entities(msg: &mut Value, text: &str) {
        msg["text"] = json!(text);
        let first = text.split(char::is_whitespace).next().unwrap_or(text);
        let kind = match first.chars().next() {
            Some('/') => "bot_command",
            Some('@') => "mention",
            _ => return,
        };
        msg["entities"] = json!([{"type": kind, "offset": 0, "length": markup::utf16_len(first)}]);
    }

    /// A member's text in a group (in a forum topic), maybe a reply.
    pub fn push_group_text(&mut self, user_id: i64, chat_id: i64, thread: Option<i64>, reply_to: Option<i64>, text: &str) -> i64 {
        let (message_id, mut msg) = self.user_message(user_id, chat_id);
        Self::with_entities(&mut msg, text);
        if let Some(thread) = thread {
            msg["message_thread_id"] = json!(thread);
            msg["is_topic_message"] = json!(true);
            self.topics.insert((chat_id, thread));
        }
        if let Some(replied) = reply_to {
            let chat = self.chat_json(chat_id);
            let mut original = json!({"message_id": replied, "chat": chat, "date": unix_now()});
            if let Some(m) = self.messages.get(&(chat_id, replied)) {
                if m.from_bot {
                    original["from"] = self.bot_user();
                }
                if let Some(text) = m.content.get("text").filter(|t| t.is_string()) {
                    original["text"] = text.clone();
                }
                if let Some(video) = m.content.get("video").filter(|v| v.is_object()) {
                    original["video"] = video.clone();
                }
            }
            if let Some(thread) = thread {
                original["message_thread_id"] = json!(thread);
                original["is_topic_message"] = json!(true);
            }
            msg["reply_to_message"] = original;
        }
        self.enqueue_message(msg);
        message_id
    }

    /// A text sent on behalf of `sender_chat` in `chat_id` (an anonymous
    /// admin of the group, or a channel): `from` is Telegram's placeholder.
    pub fn push_as_chat(&mut self, sender_chat: i64, chat_id: i64, text: &str) -> i64 {
        let message_id = self.alloc_message_id();
        let from = if sender_chat == chat_id {
            json!({"id": GROUP_ANONYMOUS_BOT, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"})
        } else {
            json!({"id": CHANNEL_BOT, "is_bot": true, "first_name": "Channel", "username": "Channel_Bot"})
        };
        let sender = self
            .chats
            .get(&sender_chat)
            .cloned()
            .unwrap_or_else(|| json!({"id": sender_chat, "type": "channel", "title": "Channel"}));
        let mut msg = json!({
            "message_id": message_id,
            "from": from,
            "sender_chat": sender,
            "chat": self.chat_json(chat_id),
            "date": unix_now(),
        });
        Self::with_entities(&mut msg, text);
        self.enqueue_message(msg);
        message_id
    }

    fn run(&mut self, method: &str, p: &Params, video: Option<VideoSrc>, now: Instant) -> Outcome {
        let result = match method {
            "getMe" => Ok(Outcome::Reply(Reply::Ok(self.get_me()))),
            "getFile" => self.get_file(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "sendMessage" => self.send_message(p, now),
            "editMessageText" => self.edit_message_text(p, now),
            "sendVideo" => self.send_video(p, video.unwrap_or(VideoSrc::Missing), now),
            "sendChatAction" => self.send_chat_action(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "setWebhook" => self.set_webhook(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "deleteWebhook" => {
                self.webhook = None;
                if p.bool("drop_pending_updates") == Some(true) {
                    self.drop_pending();
                }
                Ok(Outcome::Reply(Reply::Ok(json!(true))))
            }
            "getWebhookInfo" => Ok(Outcome::Reply(Reply::Ok(self.webhook_info()))),
            "setMyCommands" => self.set_my_commands(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "answerCallbackQuery" => self.answer_callback_query(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "editMessageReplyMarkup" => self.edit_message_reply_markup(p, now),
            "sendPhoto" => self.send_photo(p, now),
            "sendMediaGroup" => self.send_media_group(p, now),
            "sendInvoice" => self.send_invoice(p, now),
            "answerPreCheckoutQuery" => self.answer_pre_checkout_query(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "refundStarPayment" => self.refund_star_payment(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            "answerInlineQuery" => self.answer_inline_query(p).map(|v| Outcome::Reply(Reply::Ok(v))),
            _ => Err(Reply::Err(api_err(404, "Not Found"))),
        };
        result.unwrap_or_else(Outcome::Reply)
    }

    fn get_me(&self) -> Value {
        let mut me = self.bot_user();
        if let Some(o) = me.as_object_mut() {
            for flag in [
                "can_join_groups",
                "can_read_all_group_messages",
                "supports_inline_queries",
                "can_connect_to_business",
                "has_main_web_app",
            ] {
                o.insert(flag.into(), json!(false));
            }
        }
        me
    }

    fn webhook_info(&self) -> Value {
        json!({
            "url": self.webhook.as_ref().map_or("", |(u, _)| u.as_str()),
            "has_custom_certificate": false,
            "pending_update_count": self.updates.len(),
        })
    }

    fn set_webhook(&mut self, p: &Params) -> Result<Value, Reply> {
        let url = p.str("url").unwrap_or("").trim();
        let secret = p.str("secret_token").filter(|s| !s.is_empty());
        if let Some(s) = secret
            && (s.len() > 256 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(bad("secret token contains unallowed characters").into());
        }
        if !url.is_empty() && !url.starts_with("https://") {
            return Err(bad("bad webhook: HTTPS url must be provided for webhook").into());
        }
        self.webhook = (!url.is_empty()).then(|| (url.to_owned(), secret.map(str::to_owned)));
        if p.bool("drop_pending_updates") == Some(true) {
            self.drop_pending();
        }
        Ok(json!(true))
    }

    fn set_my_commands(&mut self, p: &Params) -> Result<Value, Reply> {
        let Some(Value::Array(cmds)) = p.json("commands") else {
            return Err(bad("can't parse commands JSON object").into());
        };
        if cmds.len() > 100 {
            return Err(bad("too many commands specified").into());
        }
        for c in &cmds {
            let command = c.get("command").and_then(Value::as_str).unwrap_or("");
            let command = command.strip_prefix('/').unwrap_or(command);
            let description = c.get("description").and_then(Value::as_str).unwrap_or("");
            if command.is_empty()
                || command.len() > 32
                || !command.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad("BOT_COMMAND_INVALID").into());
            }
            let dlen = description.trim().chars().count();
            if dlen == 0 || dlen > 256 {
                return Err(bad("BOT_COMMAND_DESCRIPTION_INVALID").into());
            }
        }
        match p.str("language_code").unwrap_or_default() {
            "" => self.commands = Some(Value::Array(cmds)),
            code if code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()) => {
                self.commands_by_language.insert(code.to_owned(), Value::Array(cmds));
            }
            _ => return Err(bad("Bad Request: invalid language code specified").into()),
        }
        Ok(json!(true))
    }

    fn answer_callback_query(&mut self, p: &Params) -> Result<Value, Reply> {
        let id = p.str("callback_query_id").unwrap_or("");
        if !self.callback_ids.contains(id) {
            return Err(bad("query is too old and response timeout expired or query id is invalid").into());
        }
        let text = p.str("text").map(str::to_owned);
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(bad("MESSAGE_TOO_LONG").into());
        }
        if let Some(url) = p.str("url")
            && !url.is_empty()
        {
            return Err(bad("URL_INVALID").into());
        }
        self.callback_ids.remove(id);
        self.callback_answers.push(CallbackAnswer {
            callback_query_id: id.to_owned(),
            text: text.clone(),
            show_alert: p.bool("show_alert").unwrap_or(false),
        });
        self.answered_callbacks.push((id.to_owned(), text));
        Ok(json!(true))
    }

    /// sendInvoice. Payments in Telegram Stars (`XTR`) take an empty (or no)
    /// provider token and exactly one price; amounts are positive integers.
    fn send_invoice(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        let chat_id = self.chat(p)?;
        let title = p.str("title").unwrap_or("");
        let description = p.str("description").unwrap_or("");
        let payload = p.str("payload").unwrap_or("");
        let currency = p.str("currency").unwrap_or("");
        if !(1..=32).contains(&title.chars().count()) {
            return Err(bad("TITLE_INVALID").into());
        }
        if !(1..=255).contains(&description.chars().count()) {
            return Err(bad("DESCRIPTION_INVALID").into());
        }
        if !(1..=128).contains(&payload.len()) {
            return Err(bad("PAYLOAD_INVALID").into());
        }
        let Some(Value::Array(prices)) = p.json("prices") else {
            return Err(bad("can't parse prices JSON object").into());
        };
        let mut total = 0i64;
        for price in &prices {
            let label = price.get("label").and_then(Value::as_str).unwrap_or("");
            let amount = price.get("amount").and_then(value_i64);
            match amount {
                Some(a) if !label.is_empty() && a > 0 => total += a,
                _ => return Err(bad("CURRENCY_TOTAL_AMOUNT_INVALID").into()),
            }
        }
        if prices.is_empty() {
            return Err(bad("CURRENCY_TOTAL_AMOUNT_INVALID").into());
        }
        if currency == "XTR" {
            if p.str("provider_token").is_some_and(|t| !t.is_empty()) {
                return Err(bad("PROVIDER_TOKEN_INVALID: payments in Telegram Stars take no provider token").into());
            }
            if prices.len() != 1 {
                return Err(bad("exactly one price is allowed for payments in Telegram Stars").into());
            }
        } else if currency.len() != 3 || p.str("provider_token").is_none_or(str::is_empty) {
            return Err(bad("PAYMENT_PROVIDER_INVALID").into());
        }
        self.check_reply(p, chat_id)?;
        let gate = self.gate(chat_id, false, now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        let message_id = self.alloc_message_id();
        self.messages.insert(
            (chat_id, message_id),
            Msg { from_bot: true, kind: MsgKind::Other, content: json!({"invoice": payload, "markup": p.json("reply_markup")}) },
        );
        self.invoices.push(Value::Object(p.values.clone()));
        self.sent.push(Sent {
            method: "sendInvoice".into(),
            chat_id,
            message_id,
            text: Some(title.to_owned()),
            video_file_id: None,
            uploaded: false,
            has_reply_markup: p.has("reply_markup"),
            at: now,
            raw_text: Some(title.to_owned()),
            caption: None,
            reply_markup: p.json("reply_markup"),
            media: Vec::new(),
            thread_id: None,
            reply_to: None,
        });
        let mut body = Map::new();
        body.insert(
            "invoice".into(),
            json!({"title": title, "description": description, "start_parameter": "", "currency": currency, "total_amount": total}),
        );
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }

    /// answerPreCheckoutQuery: once per pushed query; `error_message` when not ok.
    fn answer_pre_checkout_query(&mut self, p: &Params) -> Result<Value, Reply> {
        let id = p.str("pre_checkout_query_id").unwrap_or("");
        let Some(ok) = p.bool("ok") else {
            return Err(bad("field \"ok\" must be of type Boolean").into());
        };
        let error = p.str("error_message").map(str::to_owned);
        if !ok && error.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return Err(bad("ERROR_MESSAGE_EMPTY").into());
        }
        if !self.pre_checkout_ids.remove(id) {
            return Err(bad("QUERY_ID_INVALID").into());
        }
        self.pre_checkout_answers.push((id.to_owned(), ok, error));
        Ok(json!(true))
    }

    /// refundStarPayment: a charge paid by that user, refunded once.
    fn refund_star_payment(&mut self, p: &Params) -> Result<Value, Reply> {
        let user = p.int("user_id").unwrap_or_default();
        let charge = p.str("telegram_payment_charge_id").unwrap_or("");
        match self.charges.get_mut(charge) {
            Some((owner, refunded)) if *owner == user => {
                if *refunded {
                    return Err(bad("CHARGE_ALREADY_REFUNDED").into());
                }
                *refunded = true;
            }
            _ => return Err(bad("CHARGE_NOT_FOUND").into()),
        }
        self.refunds.push((user, charge.to_owned()));
        Ok(json!(true))
    }

    fn send_chat_action(&mut self, p: &Params) -> Result<Value, Reply> {
        let chat_id = self.chat(p)?;
        let action = p.str("action").unwrap_or("");
        if !CHAT_ACTIONS.contains(&action) {
            return Err(bad("wrong parameter action in request").into());
        }
        if self.faults.blocked_chats.contains(&chat_id) {
            return Err(api_err(403, "Forbidden: bot was blocked by the user").into());
        }
        Ok(json!(true))
    }

    // ---- sends ---------------------------------------------------------

    fn chat(&self, p: &Params) -> Result<i64, ApiErr> {
        let id = match p.values.get("chat_id") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => {
                let s = s.trim();
                match s.strip_prefix('@') {
                    Some(username) => self
                        .chats
                        .iter()
                        .find(|(_, c)| {
                            c.get("username").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(username))
                        })
                        .map(|(id, _)| *id),
                    None => s.parse().ok(),
                }
            }
            _ => None,
        };
        let id = id.ok_or_else(|| bad("chat not found"))?;
        if self.cfg.require_known_chats && !self.chats.contains_key(&id) {
            return Err(bad("chat not found"));
        }
        Ok(id)
    }

    fn render(p: &Params, text_key: &str, entities_key: &str) -> Result<Option<Rendered>, ApiErr> {
        let Some(raw) = p.str(text_key) else {
            return Ok(None);
        };
        let (plain, format) = if let Some(entities) = p.json(entities_key) {
            (raw.to_owned(), entities)
        } else {
            match p.str("parse_mode").map(str::trim).filter(|m| !m.is_empty()) {
                None => (raw.to_owned(), Value::Null),
                Some(m) => {
                    let mode = markup::mode(m).ok_or_else(|| bad("unsupported parse_mode"))?;
                    let plain = markup::to_plain(raw, mode).map_err(|e| bad(&format!("can't parse entities: {e}")))?;
                    (plain, json!([m.to_ascii_lowercase(), raw]))
                }
            }
        };
        Ok(Some(Rendered { raw: raw.to_owned(), plain: plain.trim().to_owned(), format }))
    }

    fn check_reply(&self, p: &Params, chat_id: i64) -> Result<(), ApiErr> {
        if !p.has("reply_parameters") {
            return Ok(());
        }
        let Some(rp) = p.json("reply_parameters").filter(Value::is_object) else {
            return Err(bad("can't parse reply parameters JSON object"));
        };
        let target_chat = rp.get("chat_id").and_then(value_i64).unwrap_or(chat_id);
        let Some(mid) = rp.get("message_id").and_then(value_i64) else {
            return Err(bad("can't parse reply parameters JSON object"));
        };
        let allow = rp.get("allow_sending_without_reply").and_then(Value::as_bool) == Some(true);
        if !allow && !self.messages.contains_key(&(target_chat, mid)) {
            return Err(bad("message to be replied not found"));
        }
        Ok(())
    }

    /// Returns the markup and whether it is an inline keyboard.
    fn check_markup(p: &Params) -> Result<Option<(Value, bool)>, ApiErr> {
        if !p.has("reply_markup") {
            return Ok(None);
        }
        let Some(m) = p.json("reply_markup").filter(Value::is_object) else {
            return Err(bad("can't parse reply keyboard markup JSON object"));
        };
        let inline = validate_markup(&m)?;
        Ok(Some((m, inline)))
    }

    fn gate(&mut self, chat_id: i64, paid: bool, now: Instant) -> Result<Gate, Reply> {
        if self.faults.blocked_chats.contains(&chat_id) {
            return Err(api_err(403, "Forbidden: bot was blocked by the user").into());
        }
        let u = self.rng.next_f64();
        if u < self.faults.error_5xx_rate {
            return Err(if self.rng.next_f64() < 0.5 {
                Reply::Err(api_err(500, "Internal Server Error"))
            } else {
                Reply::BadGateway
            });
        }
        let timed_out = u < self.faults.error_5xx_rate + self.faults.timeout_rate;
        if timed_out && !self.faults.timeout_delivers {
            return Ok(Gate::Drop(self.faults.hang));
        }
        self.flood(chat_id, paid, now)?;
        Ok(if timed_out { Gate::Late(self.faults.hang) } else { Gate::Go })
    }

    /// Telegram's limits: about 30 messages a second for the bot (1,000 for
    /// sends that pay for `allow_paid_broadcast`) and a short burst per chat.
    fn flood(&mut self, chat_id: i64, paid: bool, now: Instant) -> Result<(), ApiErr> {
        fn prune(w: &mut VecDeque<Instant>, now: Instant) {
            while let Some(&t) = w.front() {
                if now.saturating_duration_since(t) >= Duration::from_secs(1) {
                    w.pop_front();
                } else {
                    break;
                }
            }
        }
        prune(&mut self.global_window, now);
        prune(&mut self.paid_window, now);
        let chat_window = self.chat_windows.entry(chat_id).or_default();
        prune(chat_window, now);
        let (window, global) =
            if paid { (&self.paid_window, 1000) } else { (&self.global_window, self.cfg.global_per_second as usize) };
        let burst = self.cfg.per_chat_burst as usize;
        if (global > 0 && window.len() >= global) || (burst > 0 && chat_window.len() >= burst) {
            self.too_many += 1;
            let n = self.cfg.retry_after_secs;
            return Err(too_many(n));
        }
        let group = self
            .chats
            .get(&chat_id)
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "group" || t == "supergroup");
        if group {
            let minute = self.group_windows.entry(chat_id).or_default();
            while minute.front().is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60)) {
                minute.pop_front();
            }
            if minute.len() >= GROUP_PER_MINUTE {
                self.too_many += 1;
                let wait = minute.front().map_or(60, |t| 60 - now.saturating_duration_since(*t).as_secs().min(59));
                return Err(too_many(u32::try_from(wait).unwrap_or(60)));
            }
            minute.push_back(now);
        }
        let chat_window = self.chat_windows.entry(chat_id).or_default();
        chat_window.push_back(now);
        if paid {
            self.paid_window.push_back(now);
            self.paid_sends += 1;
        } else {
            self.global_window.push_back(now);
        }
        Ok(())
    }

    fn message_json(&self, chat_id: i64, message_id: i64, body: Map<String, Value>) -> Value {
        let chat =
            self.chats.get(&chat_id).cloned().unwrap_or_else(|| json!({"id": chat_id, "type": "private", "first_name": "User"}));
        let mut m = Map::new();
        m.insert("message_id".into(), json!(message_id));
        m.insert("from".into(), self.bot_user());
        m.insert("chat".into(), chat);
        m.insert("date".into(), json!(unix_now()));
        m.extend(body);
        Value::Object(m)
    }

    fn send_message(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        let chat_id = self.chat(p)?;
        let Some(text) = Self::render(p, "text", "entities")?.filter(|t| !t.plain.is_empty()) else {
            return Err(bad("message text is empty").into());
        };
        if markup::utf16_len(&text.plain) > 4096 {
            return Err(bad("message is too long").into());
        }
        self.check_reply(p, chat_id)?;
        let markup = Self::check_markup(p)?;
        let gate = self.gate(chat_id, p.bool("allow_paid_broadcast").unwrap_or(false), now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        let message_id = self.alloc_message_id();
        let markup_value = markup.as_ref().map(|(m, _)| m.clone());
        self.messages.insert(
            (chat_id, message_id),
            Msg {
                from_bot: true,
                kind: MsgKind::Text,
                content: json!({"text": text.plain, "format": text.format, "markup": markup_value}),
            },
        );
        self.sent.push(text_sent("sendMessage", chat_id, message_id, &text, markup_value, now));
        let mut body = Map::new();
        body.insert("text".into(), json!(text.plain));
        if let Some((m, true)) = markup {
            body.insert("reply_markup".into(), m);
        }
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }

    fn edit_message_text(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        if p.str("inline_message_id").is_some_and(|s| !s.is_empty()) {
            return Err(bad("MESSAGE_ID_INVALID").into());
        }
        if !p.has("chat_id") {
            return Err(bad("chat_id is empty").into());
        }
        let chat_id = self.chat(p)?;
        let Some(message_id) = p.int("message_id") else {
            return Err(bad("message identifier is not specified").into());
        };
        let Some(text) = Self::render(p, "text", "entities")?.filter(|t| !t.plain.is_empty()) else {
            return Err(bad("message text is empty").into());
        };
        if markup::utf16_len(&text.plain) > 4096 {
            return Err(bad("MESSAGE_TOO_LONG").into());
        }
        let markup = Self::check_markup(p)?;
        if let Some((_, false)) = markup {
            return Err(bad("can't parse inline keyboard markup JSON object").into());
        }
        let markup_value = markup.as_ref().map(|(m, _)| m.clone());
        let content = json!({"text": text.plain, "format": text.format, "markup": markup_value});
        let Some(msg) = self.messages.get(&(chat_id, message_id)) else {
            return Err(bad("message to edit not found").into());
        };
        if !msg.from_bot {
            return Err(bad("message can't be edited").into());
        }
        if msg.kind != MsgKind::Text {
            return Err(bad("there is no text in the message to edit").into());
        }
        if msg.content == content {
            return Err(bad(NOT_MODIFIED).into());
        }
        let gate = self.gate(chat_id, p.bool("allow_paid_broadcast").unwrap_or(false), now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        if let Some(msg) = self.messages.get_mut(&(chat_id, message_id)) {
            msg.content = content;
        }
        self.sent.push(text_sent("editMessageText", chat_id, message_id, &text, markup_value, now));
        let mut body = Map::new();
        body.insert("edit_date".into(), json!(unix_now()));
        body.insert("text".into(), json!(text.plain));
        if let Some((m, _)) = markup {
            body.insert("reply_markup".into(), m);
        }
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }

    pub fn file_bytes(&self, file_id: &str) -> Option<Bytes> {
        self.files.get(file_id).and_then(|f| f.bytes.clone())
    }

    /// editMessageReplyMarkup of a bot message in a chat (inline messages
    /// are not supported): the markup must be an inline keyboard; none
    /// removes it.
    fn edit_message_reply_markup(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        if p.str("inline_message_id").is_some_and(|s| !s.is_empty()) {
            return Err(bad("MESSAGE_ID_INVALID").into());
        }
        if !p.has("chat_id") {
            return Err(bad("chat_id is empty").into());
        }
        let chat_id = self.chat(p)?;
        let Some(message_id) = p.int("message_id") else {
            return Err(bad("message identifier is not specified").into());
        };
        let markup = Self::check_markup(p)?;
        if let Some((_, false)) = markup {
            return Err(bad("can't parse inline keyboard markup JSON object").into());
        }
        let markup_value = markup.as_ref().map(|(m, _)| m.clone());
        let Some(msg) = self.messages.get(&(chat_id, message_id)) else {
            return Err(bad("message to edit not found").into());
        };
        if !msg.from_bot {
            return Err(bad("message can't be edited").into());
        }
        let old = msg.content.get("markup").cloned().filter(|m| !m.is_null());
        if old == markup_value {
            return Err(bad(NOT_MODIFIED).into());
        }
        let text = msg.content.get("text").and_then(Value::as_str).map(str::to_owned);
        let gate = self.gate(chat_id, false, now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        if let Some(msg) = self.messages.get_mut(&(chat_id, message_id)) {
            if let Some(content) = msg.content.as_object_mut() {
                content.insert("markup".into(), markup_value.clone().unwrap_or(Value::Null));
            } else {
                msg.content = json!({"markup": markup_value});
            }
        }
        self.sent.push(Sent {
            method: "editMessageReplyMarkup".into(),
            chat_id,
            message_id,
            text: text.clone(),
            video_file_id: None,
            uploaded: false,
            has_reply_markup: markup_value.is_some(),
            at: now,
            raw_text: None,
            caption: None,
            reply_markup: markup_value.clone(),
            media: Vec::new(),
            thread_id: None,
            reply_to: None,
        });
        let mut body = Map::new();
        body.insert("edit_date".into(), json!(unix_now()));
        if let Some(text) = text {
            body.insert("text".into(), json!(text));
        }
        if let Some(m) = markup_value {
            body.insert("reply_markup".into(), m);
        }
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }

    /// A photo or video of an album: an upload (`attach://` or a direct
    /// file part) must be a real image / MP4; a string is a known file_id.
    fn media_item(&self, p: &Params, kind: &str, reference: Option<&str>, field: &str) -> Result<(), ApiErr> {
        let upload = match reference.map(str::trim) {
            Some(s) if s.starts_with("attach://") => {
                Some(p.files.get(&s["attach://".len()..]).ok_or_else(|| bad("wrong file identifier/HTTP URL specified"))?)
            }
            Some(s) if !s.is_empty() => {
                return if kind == "video" && self.files.contains_key(s) {
                    Ok(())
                } else {
                    Err(bad("wrong file identifier/HTTP URL specified"))
                };
            }
            _ => p.files.get(field),
        };
        let Some(upload) = upload else { return Err(bad(&format!("there is no {kind} in the request"))) };
        let bytes = &upload.bytes;
        if bytes.is_empty() {
            return Err(bad("file must be non-empty"));
        }
        let ok = match kind {
            "photo" => {
                bytes.starts_with(b"\x89PNG")
                    || bytes.starts_with(b"\xFF\xD8\xFF")
                    || (bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP")
            }
            _ => mp4::is_mp4(bytes),
        };
        if !ok {
            return Err(bad(if kind == "photo" { "IMAGE_PROCESS_FAILED" } else { "wrong file" }));
        }
        if bytes.len() > self.max_upload() {
            return Err(api_err(413, "Request Entity Too Large"));
        }
        Ok(())
    }

    fn send_photo(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        let chat_id = self.chat(p)?;
        let caption = Self::render(p, "caption", "caption_entities")?.filter(|c| !c.plain.is_empty());
        if caption.as_ref().is_some_and(|c| markup::utf16_len(&c.plain) > 1024) {
            return Err(bad("message caption is too long").into());
        }
        self.check_reply(p, chat_id)?;
        let markup = Self::check_markup(p)?;
        self.media_item(p, "photo", p.str("photo"), "photo")?;
        let gate = self.gate(chat_id, p.bool("allow_paid_broadcast").unwrap_or(false), now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        let message_id = self.alloc_message_id();
        let markup_value = markup.as_ref().map(|(m, _)| m.clone());
        self.messages.insert(
            (chat_id, message_id),
            Msg { from_bot: true, kind: MsgKind::Other, content: json!({"markup": markup_value}) },
        );
        self.sent.push(Sent {
            method: "sendPhoto".into(),
            chat_id,
            message_id,
            text: None,
            video_file_id: None,
            uploaded: true,
            has_reply_markup: markup.is_some(),
            at: now,
            raw_text: None,
            caption: caption.as_ref().map(|c| c.plain.clone()),
            reply_markup: markup_value,
            media: vec!["photo".into()],
            thread_id: None,
            reply_to: None,
        });
        let mut body = Map::new();
        let n = message_id;
        body.insert(
            "photo".into(),
            json!([{"file_id": format!("AgACAgIAAxkB{n:06}"), "file_unique_id": format!("AQAD{n:06}"), "width": 320, "height": 180}]),
        );
        if let Some(c) = caption {
            body.insert("caption".into(), json!(c.plain));
        }
        if let Some((m, true)) = markup {
            body.insert("reply_markup".into(), m);
        }
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }

    /// sendMediaGroup: 2–10 photos and videos (documents and audio are not
    /// supported by this fake). Telegram ignores a `reply_markup` here (an
    /// album can't carry a keyboard); the fake refuses it, so a keyboard
    /// that would never show is caught.
    fn send_media_group(&mut self, p: &Params, now: Instant) -> Result<Outcome, Reply> {
        let chat_id = self.chat(p)?;
        if p.has("reply_markup") {
            return Err(bad("sendMediaGroup takes no reply_markup").into());
        }
        let Some(Value::Array(media)) = p.json("media") else {
            return Err(bad("can't parse InputMedia JSON array").into());
        };
        if !(2..=10).contains(&media.len()) {
            return Err(bad("MEDIA_GROUP_COUNT_INVALID").into());
        }
        self.check_reply(p, chat_id)?;
        let mut kinds = Vec::new();
        let mut caption = None;
        for (i, item) in media.iter().enumerate() {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            if !matches!(kind, "photo" | "video") {
                return Err(bad("unsupported media type in the media group").into());
            }
            self.media_item(p, kind, item.get("media").and_then(Value::as_str), "")?;
            if let Some(c) = item.get("caption").and_then(Value::as_str) {
                if markup::utf16_len(c) > 1024 {
                    return Err(bad("message caption is too long").into());
                }
                if i == 0 {
                    caption = Some(c.trim().to_owned());
                }
            }
            kinds.push(kind.to_owned());
        }
        let gate = self.gate(chat_id, p.bool("allow_paid_broadcast").unwrap_or(false), now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        let group = format!("{}", 13_000_000 + self.next_message_id);
        let mut messages = Vec::new();
        let mut first = None;
        for (i, kind) in kinds.iter().enumerate() {
            let message_id = self.alloc_message_id();
            first.get_or_insert(message_id);
            let kind_of = if kind == "video" { MsgKind::Video } else { MsgKind::Other };
            self.messages.insert((chat_id, message_id), Msg { from_bot: true, kind: kind_of, content: Value::Null });
            let mut body = Map::new();
            body.insert("media_group_id".into(), json!(group));
            let n = message_id;
            if kind == "photo" {
                body.insert(
                    "photo".into(),
                    json!([{"file_id": format!("AgACAgIAAxkB{n:06}"), "file_unique_id": format!("AQAD{n:06}"), "width": 320, "height": 180}]),
                );
            } else {
                body.insert(
                    "video".into(),
                    json!({"file_id": format!("BAACAgIAAxkG{n:06}"), "file_unique_id": format!("AgAG{n:06}"), "width": 320, "height": 180, "duration": 1}),
                );
            }
            if i == 0
                && let Some(c) = &caption
            {
                body.insert("caption".into(), json!(c));
            }
            messages.push(self.message_json(chat_id, message_id, body));
        }
        self.sent.push(Sent {
            method: "sendMediaGroup".into(),
            chat_id,
            message_id: first.unwrap_or_default(),
            text: None,
            video_file_id: None,
            uploaded: true,
            has_reply_markup: false,
            at: now,
            raw_text: None,
            caption,
            reply_markup: None,
            media: kinds,
            thread_id: None,
            reply_to: None,
        });
        Ok(gate.finish(Reply::Ok(Value::Array(messages))))
    }

    /// Another bot from now on (see `FakeTelegram::change_token`): the
    /// videos the old one uploaded are unknown to it.
    pub fn change_bot(&mut self, token: &str) {
        self.bot_id = token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        self.cfg.token = token.to_owned();
        self.files.clear();
    }

    /// Makes `file_id` a video this bot could re-send (as if uploaded earlier).
    pub fn register_file(&mut self, file_id: &str) {
        let meta = VideoMeta {
            file_unique_id: format!("R{file_id}"),
            width: 320,
            height: 180,
            duration: 3,
            size: 1000,
            file_name: None,
            bytes: None,
        };
        self.files.insert(file_id.to_owned(), meta);
    }

    fn send_video(&mut self, p: &Params, src: VideoSrc, now: Instant) -> Result<Outcome, Reply> {
        let chat_id = self.chat(p)?;
        let caption = Self::render(p, "caption", "caption_entities")?.filter(|c| !c.plain.is_empty());
        if caption.as_ref().is_some_and(|c| markup::utf16_len(&c.plain) > 1024) {
            return Err(bad("message caption is too long").into());
        }
        self.check_reply(p, chat_id)?;
        let markup = Self::check_markup(p)?;
        let existing = match &src {
            VideoSrc::Missing => return Err(bad("there is no video in the request").into()),
            VideoSrc::Url => return Err(bad("failed to get HTTP URL content").into()),
            VideoSrc::FileId(id) => match self.files.get(id) {
                Some(meta) => Some(meta.clone()),
                None => return Err(bad("wrong file identifier/HTTP URL specified").into()),
            },
            VideoSrc::Upload(info) => {
                if info.size == 0 {
                    return Err(bad("file must be non-empty").into());
                }
                if info.size > self.max_upload() {
                    return Err(api_err(413, "Request Entity Too Large").into());
                }
                if self.faults.reject_uploads || !info.is_mp4 {
                    return Err(bad("wrong file").into());
                }
                None
            }
        };
        let gate = self.gate(chat_id, p.bool("allow_paid_broadcast").unwrap_or(false), now)?;
        if let Gate::Drop(_) = gate {
            return Ok(gate.finish(Reply::Ok(Value::Null)));
        }
        let (file_id, meta, uploaded) = match (src, existing) {
            (VideoSrc::FileId(id), Some(meta)) => (id, meta, false),
            (VideoSrc::Upload(info), _) => {
                self.next_file += 1;
                let n = self.next_file;
                let file_id = format!("BAACAgIAAxkB{n:06}");
                let unique_n = self.unique_ids.len() + 1;
                let file_unique_id =
                    self.unique_ids.entry((info.hash, info.size)).or_insert_with(|| format!("AgAD{unique_n:06}")).clone();
                let dim = |key: &str, probed: u32| p.int(key).and_then(|v| u32::try_from(v).ok()).unwrap_or(probed);
                let meta = VideoMeta {
                    file_unique_id,
                    width: dim("width", info.probe.width),
                    height: dim("height", info.probe.height),
                    duration: dim("duration", info.probe.duration),
                    size: info.size,
                    file_name: info.file_name,
                    bytes: Some(info.bytes),
                };
                self.files.insert(file_id.clone(), meta.clone());
                self.uploads += 1;
                (file_id, meta, true)
            }
            _ => return Err(bad("there is no video in the request").into()),
        };
        let message_id = self.alloc_message_id();
        let markup_value = markup.as_ref().map(|(m, _)| m.clone());
        let video_json = json!({
            "file_id": file_id,
            "file_unique_id": meta.file_unique_id,
            "width": meta.width,
            "height": meta.height,
            "duration": meta.duration,
        });
        self.messages.insert(
            (chat_id, message_id),
            Msg { from_bot: true, kind: MsgKind::Video, content: json!({"video": video_json, "markup": markup_value}) },
        );
        self.sent.push(Sent {
            method: "sendVideo".into(),
            chat_id,
            message_id,
            text: None,
            video_file_id: Some(file_id.clone()),
            uploaded,
            has_reply_markup: markup.is_some(),
            at: now,
            raw_text: None,
            caption: caption.as_ref().map(|c| c.plain.clone()),
            reply_markup: markup_value,
            media: Vec::new(),
            thread_id: None,
            reply_to: None,
        });
        let mut video = json!({
            "file_id": file_id,
            "file_unique_id": meta.file_unique_id,
            "width": meta.width,
            "height": meta.height,
            "duration": meta.duration,
            "mime_type": "video/mp4",
            "file_size": meta.size,
        });
        if let Some(name) = meta.file_name {
            video["file_name"] = json!(name);
        }
        let mut body = Map::new();
        body.insert("video".into(), video);
        if let Some(c) = caption {
            body.insert("caption".into(), json!(c.plain));
        }
        if let Some((m, true)) = markup {
            body.insert("reply_markup".into(), m);
        }
        Ok(gate.finish(Reply::Ok(self.message_json(chat_id, message_id, body))))
    }
}

const BUTTON_ACTIONS: &[&str] = &[
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

/// Checks the parts of a reply markup that commonly go wrong; returns whether
/// it is an inline keyboard.
fn validate_markup(m: &Value) -> Result<bool, ApiErr> {
    if let Some(kb) = m.get("inline_keyboard") {
        let rows_err = || bad("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays");
        let rows = kb.as_array().ok_or_else(rows_err)?;
        for row in rows {
            for button in row.as_array().ok_or_else(rows_err)? {
                let Some(b) = button.as_object() else {
                    return Err(bad("can't parse inline keyboard button: InlineKeyboardButton should be an Object"));
                };
                if !b.get("text").is_some_and(Value::is_string) {
                    return Err(bad("can't parse inline keyboard button: Field \"text\" must be of type String"));
                }
                if !BUTTON_ACTIONS.iter().any(|a| b.contains_key(*a)) {
                    return Err(bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
                }
                if let Some(data) = b.get("callback_data") {
                    let len = data.as_str().map_or(0, str::len);
                    if !(1..=64).contains(&len) {
                        return Err(bad("BUTTON_DATA_INVALID"));
                    }
                }
                if let Some(url) = b.get("url") {
                    let ok = url.as_str().is_some_and(|u| ["http://", "https://", "tg://"].iter().any(|s| u.starts_with(s)));
                    if !ok {
                        return Err(bad("BUTTON_URL_INVALID"));
                    }
                }
            }
        }
        return Ok(true);
    }
    if m.get("keyboard").is_some_and(Value::is_array) || m.get("remove_keyboard").is_some() || m.get("force_reply").is_some() {
        return Ok(false);
    }
    Err(bad("can't parse reply keyboard markup JSON object"))
}
