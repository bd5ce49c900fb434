//! What the bot does with one update: commands, menu buttons, prompts and
//! everything else. Every message gets an answer or is ignored on purpose.

use std::collections::HashSet;
mod callback;
mod group;
mod inline;
mod input;
mod media;
mod menu;
mod message;
mod payment;

use std::sync::Arc;

use teloxide::types::{Message, Update, UpdateKind};

use super::voice::Transcriber;
use crate::domain::{ChatId, MessageId, ThreadId, UserId};
use crate::service::{Approvals, Cancel, Credits, Extensions, History, Intake, Operator, Remixes, Search, UserStatus};
use crate::telegram::api::Keyboard;
use crate::telegram::limiter::Priority;
use crate::telegram::sender::Sender;
use crate::texts::{Lang, Texts};

pub use input::{Input, classify};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Handled {
    Done,
    /// Keep it and hand it in again later (a paid purchase not credited yet).
    Again,
}

/// What the update handler needs to know from the settings.
#[derive(Debug, Clone)]
pub struct HandlerSettings {
    pub admins: HashSet<UserId>,
    pub max_prompt_chars: usize,
    pub bot_username: String,
}

pub struct UpdateHandler {
    intake: Arc<Intake>,
    operator: Arc<Operator>,
    status: Arc<UserStatus>,
    history: Arc<History>,
    cancel: Arc<Cancel>,
    approvals: Arc<Approvals>,
    credits: Arc<Credits>,
    extensions: Arc<Extensions>,
    sender: Sender,
    transcriber: Option<Transcriber>,
    settings: HandlerSettings,
    /// Photos to animate (remix); `None`: photos are answered like other non-text.
    remixes: Option<Arc<Remixes>>,
    /// The catalog search (similar videos offered, inline mode); `None`: neither.
    search: Option<Arc<Search>>,
}

/// The message being answered, with who sent it and in which language.
struct Incoming<'a> {
    message: &'a Message,
    chat: ChatId,
    /// The forum topic it was written in: answers go there.
    thread: Option<ThreadId>,
    /// Who asked: the sender, or for an anonymous admin or a channel the
    /// chat it was sent as (never Telegram's placeholder user).
    user: UserId,
    lang: Lang,
    texts: &'static dyn Texts,
}

/// The services the update handler calls, and how it answers.
pub struct HandlerDeps {
    pub intake: Arc<Intake>,
    pub operator: Arc<Operator>,
    pub status: Arc<UserStatus>,
    pub history: Arc<History>,
    pub cancel: Arc<Cancel>,
    pub approvals: Arc<Approvals>,
    pub credits: Arc<Credits>,
    pub extensions: Arc<Extensions>,
    /// Photos to animate (remix); `None`: photos are answered like other non-text.
    pub remixes: Option<Arc<Remixes>>,
    /// The catalog search (similar videos offered, inline mode); `None`: neither.
    pub search: Option<Arc<Search>>,
    pub sender: Sender,
    /// Voice messages are transcribed; `None`: they are answered "voice is off".
    pub transcriber: Option<Transcriber>,
}

impl UpdateHandler {
    pub fn new(deps: HandlerDeps, settings: HandlerSettings) -> Self {
        let HandlerDeps {
            intake,
            operator,
            status,
            history,
            cancel,
            approvals,
            credits,
            extensions,
            remixes,
            search,
            sender,
            transcriber,
        } = deps;
        Self {
            intake,
            operator,
            status,
            history,
            cancel,
            approvals,
            credits,
            extensions,
            sender,
            transcriber,
            settings,
            remixes,
            search,
        }
    }

    /// Handles one update. Errors are logged and answered here: nothing
    /// propagates, so one bad update never stops the bot. `Again` only
    /// for what must not be dropped — a paid Stars purchase the database
    /// could not credit yet: the caller keeps the update and hands it in
    /// again (crediting is idempotent by charge id).
    #[tracing::instrument(name = "update", skip_all, fields(update_id = update.id.0))]
    pub async fn handle(&self, update: Update) -> Handled {
        match update.kind {
            UpdateKind::Message(message) => {
                if let Some(handled) = self.payment_message(&message).await {
                    return handled;
                }
                self.on_message(message).await
            }
            UpdateKind::CallbackQuery(query) => self.on_callback(query).await,
            UpdateKind::PreCheckoutQuery(query) => self.on_pre_checkout(query).await,
            UpdateKind::InlineQuery(query) => self.on_inline_query(query).await,
            UpdateKind::ChosenInlineResult(chosen) => self.on_chosen_inline(chosen).await,
            other => {
                tracing::debug!(kind = ?std::mem::discriminant(&other), "ignoring an update of a kind the bot does not handle")
            }
        }
        Handled::Done
    }

    fn is_admin(&self, user: UserId) -> bool {
        self.settings.admins.contains(&user)
    }

    async fn reply(&self, to: &Incoming<'_>, text: &str, keyboard: Keyboard) {
        let message_id = MessageId(i64::from(to.message.id.0));
        if let Err(err) =
            self.sender.text_in(to.chat, to.thread, text, Some(message_id), keyboard, Priority::Interactive, None).await
        {
            tracing::warn!(error = %err, "could not answer a message");
        }
    }
    /// True when `message` (the bot's) was shown to `user`: in their
    /// private chat, or in a group as the answer to their own message.
    fn shown_to(message: &Message, user: UserId) -> bool {
        let own = |u: &teloxide::types::User| UserId(u.id.0 as i64) == user;
        (message.chat.is_private() && message.chat.id.0 == user.0)
            || message.reply_to_message().and_then(|m| m.from.as_ref()).is_some_and(own)
    }

    /// Where a menu press is answered: in a group, the group; else the
    /// presser's private chat (private chats' ids are positive, their user's).
    fn own_chat(chat: ChatId, user: UserId) -> ChatId {
        if chat.0 > 0 { ChatId(user.0) } else { chat }
    }
}
