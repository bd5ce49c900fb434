//! A strict fake of the Telegram Bot API: a real HTTP server on 127.0.0.1
//! for black-box tests and benchmarks that drive the real bot.
//!
//! Requests are accepted the way `api.telegram.org` accepts them
//! (`POST|GET /bot<token>/<method>` with a query string, a JSON body, an
//! urlencoded form or multipart/form-data, including `attach://` uploads as
//! teloxide sends them) and checked against the methods' field lists from the
//! Bot API spec (`methods.json`, an extract of
//! <https://github.com/PaulSonOfLars/telegram-bot-api-spec>, MIT, see
//! `LICENSE-api-json`): unknown methods get 404, missing required fields and
//! wrong basic types 400, a wrong token 401. `parse_mode` markup is parsed
//! like the real server does, so unescaped MarkdownV2/HTML is rejected.
//!
//! Implemented methods: getMe, getUpdates (long polling), deleteWebhook,
//! setWebhook, getWebhookInfo, setMyCommands, sendMessage, editMessageText,
//! sendChatAction, sendVideo, sendPhoto, sendMediaGroup (photos and videos),
//! editMessageReplyMarkup, answerCallbackQuery (for presses queued with
//! [`FakeTelegram::push_callback`]), getFile (for voice messages queued with
//! [`FakeTelegram::push_voice`] and videos the bot uploaded, up to 20 MB) and
//! the file download `GET /file/bot<token>/<file_path>`; and Stars payments: sendInvoice
//! (`XTR`: no provider token, one price), answerPreCheckoutQuery (for
//! queries pushed with [`FakeTelegram::push_pre_checkout`]) and
//! refundStarPayment (for charges of pushed `successful_payment` messages).
//!
//! Flood limits (429 with `retry_after`; a group or supergroup also gets
//! at most 20 messages a minute) and fault injection (5xx, hangs, blocked
//! users, rejected uploads) are applied to the sends: sendMessage,
//! editMessageText and sendVideo.
//!
//! Groups: [`FakeTelegram::add_supergroup`] (with forum topics or not) and
//! [`FakeTelegram::add_group`]; members write with
//! [`FakeTelegram::push_group_text`] / [`FakeTelegram::push_group_reply`],
//! anonymous admins and channels with [`FakeTelegram::push_as_chat`]. A
//! `message_thread_id` must name a topic of a forum (`1`, General, is
//! refused: General is addressed by leaving it out). Per chat, Telegram's
//! refusals: no rights to post ([`Faults::no_rights_chats`]), a group
//! upgraded to a supergroup ([`FakeTelegram::migrate_group`]: 400 with
//! `migrate_to_chat_id`) and 429 for one chat only ([`Faults::flooded_chats`], or for a
//! while: [`Faults::flood_for`]).

mod inline;
mod markup;
pub(crate) mod mp4;
mod request;
mod state;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State as AxState};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use request::DecodeError;
use state::{ApiErr, Outcome, Reply, State, api_err};

/// Static settings of a fake server.
#[derive(Debug, Clone)]
pub struct FakeTelegramConfig {
    /// The only token accepted in `/bot<token>/...`; the bot's user id is the
    /// number before the `:`.
    pub token: String,
    /// Successful sends allowed in any sliding 1 s window, over all chats
    /// (0 = unlimited).
    pub global_per_second: u32,
    /// Successful sends allowed to one chat in any sliding 1 s window
    /// (0 = unlimited).
    pub per_chat_burst: u32,
    /// `retry_after` of the 429 answers.
    pub retry_after_secs: u32,
    /// Largest accepted upload (413 above it); can be overridden at runtime
    /// with [`Faults::max_upload_bytes`].
    pub max_upload_bytes: usize,
    /// `username` returned by getMe and in `from` of sent messages.
    pub bot_username: String,
    /// Sends to a chat no pushed update mentioned get 400 "chat not found",
    /// as Telegram answers for users that never talked to the bot.
    pub require_known_chats: bool,
}

impl Default for FakeTelegramConfig {
    fn default() -> Self {
        FakeTelegramConfig {
            token: "123456:TEST-TOKEN".into(),
            global_per_second: 30,
            per_chat_burst: 3,
            retry_after_secs: 1,
            max_upload_bytes: 50 * 1024 * 1024,
            bot_username: "vidcache_test_bot".into(),
            require_known_chats: true,
        }
    }
}

/// One accepted send (sendMessage, editMessageText or sendVideo).
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub chat_id: i64,
    /// The new message, or for editMessageText the edited one.
    pub message_id: i64,
    /// The text as the user sees it: `parse_mode` markup parsed away,
    /// surrounding whitespace trimmed. `None` for sendVideo.
    pub text: Option<String>,
    pub video_file_id: Option<String>,
    /// sendVideo with a file upload (as opposed to a file_id).
    pub uploaded: bool,
    pub has_reply_markup: bool,
    pub at: Instant,
    /// The `text` parameter exactly as the bot sent it (with markup).
    pub raw_text: Option<String>,
    /// sendVideo's caption as the user sees it.
    pub caption: Option<String>,
    pub reply_markup: Option<Value>,
    /// sendPhoto / sendMediaGroup: the kinds of the items ("photo", "video").
    pub media: Vec<String>,
    /// `message_thread_id`: the forum topic it went to (`None`: General,
    /// or a chat without topics).
    pub thread_id: Option<i64>,
    /// `reply_parameters.message_id`: the message it answers.
    pub reply_to: Option<i64>,
}

/// An accepted answerCallbackQuery.
#[derive(Debug, Clone)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    pub text: Option<String>,
    pub show_alert: bool,
}

/// A voice message a test user sends.
#[derive(Debug, Clone)]
pub struct VoiceMessage {
    pub audio: Vec<u8>,
    pub duration: u32,
    pub mime_type: String,
    /// `file_size` as Telegram reports it; defaults to the audio's length.
    pub file_size: Option<u64>,
}

impl VoiceMessage {
    pub fn ogg(audio: Vec<u8>, duration: u32) -> Self {
        Self { audio, duration, mime_type: "audio/ogg".to_owned(), file_size: None }
    }
}

/// A photo a test user sends (a remix): as a `photo` (an array of sizes,
/// smallest first; the bot should take the largest) or as a document with
/// an image type.
#[derive(Debug, Clone)]
pub struct PhotoMessage {
    /// The largest size's bytes.
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
    /// Telegram's stable id of the file: the same for a forwarded copy.
    /// `None`: a fresh one per message.
    pub file_unique_id: Option<String>,
    /// `file_size` as Telegram reports it; defaults to the bytes' length.
    pub file_size: Option<u64>,
    /// `Some(mime)`: sent as a document of that type instead of a photo.
    pub document_mime: Option<String>,
}

impl PhotoMessage {
    pub fn new(bytes: Vec<u8>, caption: Option<&str>) -> Self {
        Self { bytes, caption: caption.map(str::to_owned), file_unique_id: None, file_size: None, document_mime: None }
    }

    /// The same file again (a forward): the same `file_unique_id`.
    pub fn unique(mut self, id: &str) -> Self {
        self.file_unique_id = Some(id.to_owned());
        self
    }

    pub fn as_document(mut self, mime: &str) -> Self {
        self.document_mime = Some(mime.to_owned());
        self
    }

    pub fn declared_size(mut self, size: u64) -> Self {
        self.file_size = Some(size);
        self
    }
}

/// Fault switches, settable at runtime with [`FakeTelegram::set_faults`].
/// Send faults apply to sendMessage, editMessageText and sendVideo.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of send calls answered with 500 (JSON) or 502 (nginx HTML page).
    pub error_5xx_rate: f64,
    /// Share of send calls that hang for `hang`; then the connection is broken
    /// without an answer and nothing is sent (or, with `timeout_delivers`, the
    /// message is sent and the answer comes late).
    pub timeout_rate: f64,
    pub hang: Duration,
    /// 403 "Forbidden: bot was blocked by the user" (also for sendChatAction).
    pub blocked_chats: HashSet<i64>,
    /// 400 "Bad Request: wrong file" for every upload.
    pub reject_uploads: bool,
    /// Seed of the PRNG deciding which calls fail; re-seeded by `set_faults`.
    pub seed: u64,
    /// Share of getUpdates calls answered with 500/502 (own PRNG stream).
    pub fail_get_updates_rate: f64,
    /// Timeout faults deliver the message and answer after `hang`, instead of
    /// dropping it: the "did it go out or not?" case.
    pub timeout_delivers: bool,
    /// Overrides [`FakeTelegramConfig::max_upload_bytes`].
    pub max_upload_bytes: Option<usize>,
    /// Chats where the bot may not post: sends answer 400 "Bad Request:
    /// not enough rights to send videos to the chat" (text messages, photos…
    /// as the method sends), as a group whose admins restricted the bot.
    pub no_rights_chats: HashSet<i64>,
    /// Chats answering every send with 429 and this `retry_after` (seconds),
    /// whatever the other chats get: one group over its limit.
    pub flooded_chats: HashMap<i64, u32>,
    /// Chats over their flood limit for this many seconds, as Telegram
    /// keeps one: from the first send to the chat after these faults are
    /// set, every send to it is answered 429 with `retry_after` = the
    /// seconds left (rounded up), and once they have passed it is served
    /// as usual. Other chats are not affected.
    pub flood_for: HashMap<i64, u32>,
}

struct Shared {
    state: Mutex<State>,
    /// The accepted token; changed by [`FakeTelegram::change_token`].
    token: Mutex<String>,
    addr: SocketAddr,
    updates_notify: Notify,
    sent_notify: Notify,
    changed: Notify,
    shutdown: watch::Sender<bool>,
    /// `true`: uploads (sendVideo with a file) wait until it is `false`.
    hold_uploads: watch::Sender<bool>,
    /// Uploads that arrived while held (waiting or let go since).
    held_uploads: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn token(&self) -> String {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify_all(&self) {
        self.sent_notify.notify_waiters();
        self.changed.notify_waiters();
    }
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Handle to a running fake. Clones share the server; it stops on
/// [`FakeTelegram::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct FakeTelegram {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram").field("api_url", &self.api_url()).finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Binds 127.0.0.1 on a free port and serves in a spawned task.
    pub async fn start(config: FakeTelegramConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            token: Mutex::new(config.token.clone()),
            state: Mutex::new(State::new(config)),
            addr,
            updates_notify: Notify::new(),
            sent_notify: Notify::new(),
            changed: Notify::new(),
            shutdown,
            hold_uploads: watch::channel(false).0,
            held_uploads: std::sync::atomic::AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).layer(DefaultBodyLimit::disable()).with_state(shared.clone());
        crate::server::spawn("fake telegram", listener, app, shutdown_rx);
        tracing::debug!("fake telegram listening on {addr}");
        Ok(FakeTelegram { inner: Arc::new(Handle { shared }) })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.shared().lock()
    }

    /// `http://127.0.0.1:PORT`, for `Bot::set_api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.shared().addr)
    }

    pub fn token(&self) -> String {
        self.shared().token()
    }

    /// Moves the fake to another bot, as when the service is pointed at a
    /// new bot token: from now on only `token` is accepted, and every
    /// `file_id` uploaded under the old one is refused with 400 "Bad
    /// Request: wrong file identifier/HTTP URL specified", as Telegram
    /// refuses another bot's file ids.
    pub fn change_token(&self, token: &str) {
        *self.shared().token.lock().unwrap_or_else(|e| e.into_inner()) = token.to_owned();
        self.st().change_bot(token);
        self.shared().changed.notify_waiters();
    }

    /// Queues a private text message from `user_id` in `chat_id` (with a
    /// `bot_command` entity when it starts with '/'); returns its message_id.
    pub fn push_text(&self, user_id: i64, chat_id: i64, text: &str) -> i64 {
        let id = self.st().push_text(user_id, chat_id, text);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Queues a private voice message; `getFile` and the file download then
    /// serve its audio (up to the 20 MB bots may download). Returns its message_id.
    pub fn push_voice(&self, user_id: i64, chat_id: i64, voice: VoiceMessage) -> i64 {
        let id = self.st().push_voice(user_id, chat_id, voice);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Queues a private photo (or image document) with its caption;
    /// `getFile` and the download serve the largest size's bytes. Returns
    /// its message_id.
    pub fn push_photo(&self, user_id: i64, chat_id: i64, photo: PhotoMessage) -> i64 {
        let id = self.st().push_photo(user_id, chat_id, photo);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Queues a press of an inline button carrying `data`, by `user_id`,
    /// under the bot's message `message_id` in `chat_id` (sent as an
    /// inaccessible message if the fake does not know it). Returns the
    /// callback query id, for [`FakeTelegram::callback_answer`].
    pub fn push_callback(&self, user_id: i64, chat_id: i64, message_id: i64, data: &str) -> String {
        let id = self.st().push_callback(user_id, chat_id, message_id, data);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Pushes an inline query (`@bot <query>` typed by `user_id`); returns its id.
    pub fn push_inline_query(&self, user_id: i64, query: &str, offset: &str) -> String {
        let id = self.st().push_inline_query(user_id, query, offset);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Pushes a `chosen_inline_result` update (delivered only when listed in `allowed_updates`).
    pub fn push_chosen_inline_result(&self, user_id: i64, result_id: &str, query: &str) -> i64 {
        let id = self.st().push_chosen_inline_result(user_id, result_id, query);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// The accepted answerInlineQuery parameters for inline query `id`.
    pub fn inline_answer(&self, id: &str) -> Option<Value> {
        self.st().inline_answers.iter().find(|a| a.id == id).map(|a| a.params.clone())
    }

    /// How long after its update was handed out inline query `id` was answered.
    pub fn inline_latency(&self, id: &str) -> Option<Duration> {
        self.st().inline_answers.iter().find(|a| a.id == id).and_then(|a| a.latency)
    }

    /// The answer (answerCallbackQuery) given to a callback query: `None`
    /// while unanswered, `Some(text)` once answered.
    pub fn callback_answer(&self, callback_query_id: &str) -> Option<Option<String>> {
        self.st().callback_answers.iter().find(|a| a.callback_query_id == callback_query_id).map(|a| a.text.clone())
    }

    /// Queues an arbitrary update body, e.g. `{"message": {...}}` or
    /// `{"callback_query": {...}}`; the fake assigns and returns `update_id`.
    /// Chats, messages and callback query ids in it become known to the fake.
    ///
    /// # Panics
    /// If `update_without_id` is not a JSON object.
    pub fn push_update(&self, update_without_id: Value) -> i64 {
        let Value::Object(body) = update_without_id else {
            panic!("push_update needs a JSON object, e.g. {{\"message\": {{...}}}}");
        };
        let id = self.st().enqueue(body);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// The bytes the bot uploaded as `file_id` (None for unknown or
    /// registered files).
    pub fn file_bytes(&self, file_id: &str) -> Option<Bytes> {
        self.st().file_bytes(file_id)
    }

    /// Every accepted answerCallbackQuery, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.st().callback_answers.clone()
    }

    /// Queues a pre-checkout query (a user about to pay an invoice); returns its id.
    pub fn push_pre_checkout(&self, user_id: i64, currency: &str, total_amount: i64, payload: &str) -> String {
        let id = format!("pcq{}", self.next_message_id());
        let from = json!({"id": user_id, "is_bot": false, "first_name": format!("User{user_id}"), "language_code": "en"});
        self.push_update(json!({"pre_checkout_query": {
            "id": id, "from": from, "currency": currency, "total_amount": total_amount, "invoice_payload": payload,
        }}));
        id
    }

    /// An update carrying a `successful_payment` message (push it with
    /// [`FakeTelegram::push_update`], as often as Telegram would redeliver it).
    /// Its charge becomes refundable with refundStarPayment.
    pub fn successful_payment_update(
        &self,
        user_id: i64,
        chat_id: i64,
        total_amount: i64,
        payload: &str,
        charge_id: &str,
    ) -> Value {
        let payment = json!({
            "currency": "XTR", "total_amount": total_amount, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": "",
        });
        let mut fields = serde_json::Map::new();
        fields.insert("successful_payment".into(), payment);
        let (_, message) = self.st().push_message_with(user_id, chat_id, fields);
        json!({"message": message})
    }

    /// Queues a `refunded_payment` message (Telegram refunded a charge).
    pub fn push_refunded_payment(&self, user_id: i64, chat_id: i64, total_amount: i64, payload: &str, charge_id: &str) -> i64 {
        let refund = json!({
            "currency": "XTR", "total_amount": total_amount, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
        });
        let mut fields = serde_json::Map::new();
        fields.insert("refunded_payment".into(), refund);
        let (_, message) = self.st().push_message_with(user_id, chat_id, fields);
        self.push_update(json!({"message": message}))
    }

    /// Accepted answerPreCheckoutQuery calls: (query id, ok, error_message).
    pub fn pre_checkout_answers(&self) -> Vec<(String, bool, Option<String>)> {
        self.st().pre_checkout_answers.clone()
    }

    /// Accepted sendInvoice calls, their parameters as sent.
    pub fn invoices(&self) -> Vec<Value> {
        self.st().invoices.clone()
    }

    /// Accepted refundStarPayment calls: (user_id, charge id).
    pub fn refunds(&self) -> Vec<(i64, String)> {
        self.st().refunds.clone()
    }

    /// Makes `file_id` known, as if this bot had uploaded it before (for
    /// seeding a database with cached videos).
    pub fn register_file(&self, file_id: &str) {
        self.st().register_file(file_id);
    }

    /// Reserves a message_id, for hand-built updates given to `push_update`.
    pub fn next_message_id(&self) -> i64 {
        self.st().alloc_message_id()
    }

    /// Makes `chat_id` a supergroup the bot is a member of (`forum`: with
    /// topics). Its members' messages are pushed with
    /// [`FakeTelegram::push_group_text`].
    pub fn add_supergroup(&self, chat_id: i64, title: &str, forum: bool) {
        self.st().add_chat(json!({"id": chat_id, "type": "supergroup", "title": title, "is_forum": forum}));
    }

    /// Makes `chat_id` a basic group the bot is a member of.
    pub fn add_group(&self, chat_id: i64, title: &str) {
        self.st().add_chat(json!({"id": chat_id, "type": "group", "title": title}));
    }

    /// Upgrades the group `old` to the supergroup `new`, as Telegram does:
    /// from now on every send to `old` answers 400 "Bad Request: group chat
    /// was upgraded to a supergroup chat" with `parameters.migrate_to_chat_id`.
    pub fn migrate_group(&self, old: i64, new: i64) {
        self.st().migrate(old, new);
    }

    /// Queues a text from `user_id` in the group `chat_id` (added before),
    /// in the forum topic `thread` (`None`: General, or no topics), with a
    /// `bot_command` entity when it starts with '/' and a `mention` entity
    /// when it starts with '@'. Returns its message_id.
    pub fn push_group_text(&self, user_id: i64, chat_id: i64, thread: Option<i64>, text: &str) -> i64 {
        let id = self.st().push_group_text(user_id, chat_id, thread, None, text);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Like [`FakeTelegram::push_group_text`], as a reply to `reply_to` (a
    /// message the fake knows: the bot's own, for one).
    pub fn push_group_reply(&self, user_id: i64, chat_id: i64, thread: Option<i64>, reply_to: i64, text: &str) -> i64 {
        let id = self.st().push_group_text(user_id, chat_id, thread, Some(reply_to), text);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Queues a text sent on behalf of the chat `sender_chat` in the group
    /// `chat_id`: an anonymous admin (`sender_chat` = the group itself;
    /// `from` is Telegram's placeholder `GroupAnonymousBot`, id 1087968824)
    /// or a channel (`from` is `Channel_Bot`, 136817688). Returns its message_id.
    pub fn push_as_chat(&self, sender_chat: i64, chat_id: i64, text: &str) -> i64 {
        let id = self.st().push_as_chat(sender_chat, chat_id, text);
        self.shared().updates_notify.notify_waiters();
        self.shared().changed.notify_waiters();
        id
    }

    /// Sends to `chat_id` Telegram refused, in order: (method, error code).
    pub fn refused_sends(&self, chat_id: i64) -> Vec<(String, u16)> {
        self.st().refused.iter().filter(|(chat, _, _)| *chat == chat_id).map(|(_, m, c)| (m.clone(), *c)).collect()
    }

    /// Every accepted send, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.st().sent.clone()
    }

    pub fn sent_to(&self, chat_id: i64) -> Vec<Sent> {
        self.st().sent.iter().filter(|s| s.chat_id == chat_id).cloned().collect()
    }

    /// `true`: every upload (sendVideo with a file) is held — received, but
    /// neither sent nor answered — until `false` lets them go.
    pub fn hold_uploads(&self, hold: bool) {
        self.shared().hold_uploads.send_replace(hold);
    }

    /// Uploads that arrived while uploads were held.
    pub fn held_uploads(&self) -> usize {
        self.shared().held_uploads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Accepted sendVideo calls that uploaded a file.
    pub fn uploads(&self) -> usize {
        self.st().uploads
    }

    /// 429 answers given.
    pub fn too_many_requests(&self) -> usize {
        self.st().too_many
    }

    /// Sends accepted with `allow_paid_broadcast` (each costs 0.1 Stars).
    pub fn paid_sends(&self) -> usize {
        self.st().paid_sends
    }

    /// Calls received for `method` (canonical spelling, e.g. "sendMessage"),
    /// whatever their outcome.
    pub fn calls(&self, method: &str) -> usize {
        let st = self.st();
        if let Some(n) = st.calls.get(method) {
            return *n;
        }
        st.calls.iter().filter(|(m, _)| m.eq_ignore_ascii_case(method)).map(|(_, n)| *n).sum()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.st().set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.st().faults.clone()
    }

    /// Updates not yet confirmed by a getUpdates with a higher offset.
    pub fn pending_updates(&self) -> usize {
        self.st().pending()
    }

    /// When getUpdates first returned `update_id`.
    pub fn handed_out_at(&self, update_id: i64) -> Option<Instant> {
        self.st().handed_out.get(&update_id).copied()
    }

    /// Waits until `pred(sent)` holds, re-checking after every handled
    /// request; returns false on timeout or shutdown. `pred` runs with the
    /// fake's lock held: it must not call methods of this handle.
    pub async fn wait_for<F: Fn(&[Sent]) -> bool>(&self, pred: F, timeout: Duration) -> bool {
        let shared = self.shared();
        let check = || pred(&shared.lock().sent);
        wait_on(&shared.sent_notify, &shared.shutdown, timeout, check).await
    }

    /// Like `wait_for`, for any condition on the fake (calls, pending updates,
    /// ...). `pred` runs without the lock, so it may use this handle.
    pub async fn wait_until<F: Fn(&FakeTelegram) -> bool>(&self, pred: F, timeout: Duration) -> bool {
        let shared = self.shared();
        wait_on(&shared.changed, &shared.shutdown, timeout, || pred(self)).await
    }

    /// The webhook set with setWebhook: (url, secret_token).
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.st().webhook.clone()
    }

    /// The `commands` array of the last setMyCommands without a
    /// `language_code` (the list for every user).
    pub fn my_commands(&self) -> Option<Value> {
        self.st().commands.clone()
    }

    /// Every accepted answerCallbackQuery: (callback query id, notice text).
    pub fn answered_callbacks(&self) -> Vec<(String, Option<String>)> {
        self.st().answered_callbacks.clone()
    }

    /// The `commands` array registered for users whose language is `code`.
    pub fn my_commands_for(&self, code: &str) -> Option<Value> {
        self.st().commands_by_language.get(code).cloned()
    }

    /// The `language_code` of `user_id`'s later messages; `None` sends
    /// none. Users never set send "en".
    pub fn set_user_language(&self, user_id: i64, code: Option<&str>) {
        self.st().user_languages.insert(user_id, code.map(str::to_owned));
    }

    /// Stops the server: long polls and hanging calls are released, new
    /// connections refused. Idempotent.
    pub fn shutdown(&self) {
        self.shared().shutdown.send_replace(true);
        self.shared().updates_notify.notify_waiters();
        self.shared().notify_all();
    }
}

async fn wait_on(notify: &Notify, shutdown: &watch::Sender<bool>, timeout: Duration, check: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stopped = shutdown.subscribe();
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if check() {
            return true;
        }
        if *stopped.borrow_and_update() {
            return false;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = stopped.changed() => {}
            _ = tokio::time::sleep_until(deadline) => return check(),
        }
    }
}

// ---- HTTP side ------------------------------------------------------------

fn error_response(e: ApiErr) -> Response {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = json!({"ok": false, "error_code": e.code, "description": e.description});
    if let Some(n) = e.retry_after {
        body["parameters"] = json!({"retry_after": n});
    }
    if let Some(chat) = e.migrate_to_chat_id {
        body["parameters"] = json!({"migrate_to_chat_id": chat});
    }
    (status, axum::Json(body)).into_response()
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Ok(result) => axum::Json(json!({"ok": true, "result": result})).into_response(),
            Reply::Err(e) => error_response(e),
            Reply::BadGateway => (StatusCode::BAD_GATEWAY, [(CONTENT_TYPE, "text/html")], NGINX_502).into_response(),
        }
    }
}

/// A 200 whose body fails at once: the client sees a broken connection.
fn broken_response() -> Response {
    let body = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fake telegram: injected timeout",
        ))
    });
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response()
}

/// `GET /file/bot<token>/<file_path>`: a file's bytes, as getFile promised.
fn download(shared: &Arc<Shared>, rest: &str) -> Response {
    shared.lock().count_call("download");
    let Some((bot, path)) = rest.split_once('/') else { return StatusCode::NOT_FOUND.into_response() };
    let token = bot.strip_prefix("bot").and_then(request::decode_path_segment);
    if token != Some(shared.token()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match shared.lock().download(path) {
        Some(bytes) => ([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/bot<token>/<method>` → (token, method).
fn split_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix('/')?;
    let (bot, method) = rest.split_once('/')?;
    let token = request::decode_path_segment(bot.strip_prefix("bot")?)?;
    let method = method.strip_suffix('/').unwrap_or(method);
    if method.is_empty() || method.contains('/') {
        return None;
    }
    Some((token, method.to_owned()))
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    if let Some(rest) = req.uri().path().strip_prefix("/file/") {
        return download(&shared, rest);
    }
    let Some((token, method)) = split_path(req.uri().path()) else {
        return error_response(api_err(404, "Not Found"));
    };
    let spec = request::spec(&method);
    let name = spec.map_or(method.as_str(), |s| s.name.as_str());
    shared.lock().count_call(name);
    shared.changed.notify_waiters();
    tracing::debug!(method = name, "fake telegram call");
    let response = process(&shared, &token, spec, req).await;
    shared.changed.notify_waiters();
    response
}

async fn process(shared: &Arc<Shared>, token: &str, spec: Option<&'static request::MethodSpec>, req: Request) -> Response {
    if token != shared.token() {
        return error_response(api_err(401, "Unauthorized"));
    }
    let Some(spec) = spec else {
        return error_response(api_err(404, "Not Found"));
    };
    let max_upload = shared.lock().max_upload();
    let params = match request::decode(req, max_upload).await {
        Ok(p) => p,
        Err(DecodeError::TooLarge) => {
            return error_response(api_err(413, "Request Entity Too Large"));
        }
        Err(DecodeError::BadRequest(d)) => return error_response(api_err(400, d)),
    };
    if let Err(d) = request::validate(spec, &params) {
        return error_response(api_err(400, d));
    }
    if spec.name == "getUpdates" {
        return get_updates(shared, &params).await.into_response();
    }
    let video = (spec.name == "sendVideo").then(|| state::resolve_video(&params));
    if matches!(video, Some(state::VideoSrc::Upload(_))) && *shared.hold_uploads.borrow() {
        // held mid-upload, as a slow upload is: answered once let go
        shared.held_uploads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        shared.changed.notify_waiters();
        let (mut held, mut stopped) = (shared.hold_uploads.subscribe(), shared.shutdown.subscribe());
        tokio::select! {
            _ = held.wait_for(|h| !*h) => {}
            _ = stopped.wait_for(|s| *s) => return broken_response(),
        }
    }
    let outcome = shared.lock().dispatch(&spec.name, &params, video);
    shared.notify_all();
    match outcome {
        Outcome::Reply(r) => r.into_response(),
        Outcome::Hang { hang, then } => {
            let mut stopped = shared.shutdown.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(hang) => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
            match then {
                Some(r) => r.into_response(),
                None => broken_response(),
            }
        }
    }
}

async fn get_updates(shared: &Arc<Shared>, p: &request::Params) -> Reply {
    let limit = p.int("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(p.int("timeout").unwrap_or(0).clamp(0, 3600) as u64);
    let allowed = match p.json("allowed_updates") {
        None => None,
        Some(Value::Array(a)) => {
            let kinds: Option<Vec<String>> = a.iter().map(|v| v.as_str().map(str::to_owned)).collect();
            match kinds {
                Some(k) => Some(k),
                None => {
                    return Reply::Err(api_err(400, "Bad Request: can't parse allowed updates"));
                }
            }
        }
        Some(_) => return Reply::Err(api_err(400, "Bad Request: can't parse allowed updates")),
    };
    let generation = {
        let mut st = shared.lock();
        if let Some(fault) = st.poll_fault() {
            return fault;
        }
        if st.webhook.is_some() {
            return Reply::Err(api_err(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        st.confirm(p.int("offset"));
        if let Some(a) = allowed {
            st.set_allowed_updates(a);
        }
        st.poll_generation += 1;
        st.poll_generation
    };
    // an older poll still waiting is terminated with 409, as on Telegram
    shared.updates_notify.notify_waiters();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stopped = shared.shutdown.subscribe();
    loop {
        let notified = shared.updates_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = shared.lock();
            if st.poll_generation != generation {
                return Reply::Err(api_err(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            let updates = st.take_updates(limit);
            if !updates.is_empty() || tokio::time::Instant::now() >= deadline || *stopped.borrow_and_update() {
                return Reply::Ok(Value::Array(updates));
            }
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = stopped.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}
