//! What the bot does with one update: commands, menu buttons, prompts and
//! everything else. Every message gets an answer or is ignored on purpose.

use std::collections::HashSet;
use std::sync::Arc;

use sea_orm::DbErr;

use teloxide::types::{CallbackQuery, MaybeInaccessibleMessage, Message, PreCheckoutQuery, Update, UpdateKind, Voice};
use teloxide::utils::command::{BotCommands, ParseError};

use super::commands::Command;
use super::remix;
use super::voice::{Transcriber, VoiceError};
use crate::domain::{
    Actor, ApprovalState, AssetId, CallbackData, ChargeId, ChatId, Choice, Choices, Decision, Format, Length, MenuItem,
    MessageId, Prompt, PromptError, Quality, RequestId, StarsPackage, UserId, Wanted,
};
use crate::service::credits::Paid;
use crate::service::delivery::extend_keyboard;
use crate::service::extend::{Awaited, Pressed as ExtendPressed, Refusal as ExtendRefusal};
use crate::service::history::Again;
use crate::service::intake::{Admitted, NewRequest, Refusal};
use crate::service::remix::{PhotoError, PhotoRef};
use crate::service::{Approvals, Cancel, Credits, Extensions, History, Intake, Operator, Pressed, Remixes, UserStatus};
use crate::telegram::api::{InlineButton, Keyboard};
use crate::telegram::limiter::Priority;
use crate::telegram::sender::Sender;
use crate::telemetry::measure::{self, RequestOutcome};
use crate::texts::{HistoryItem, Lang, MenuButton, Texts, choice_label, menu_labels};

/// What a text message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Command(Command),
    UnknownCommand(String),
    /// A command with another bot's name (`/start@otherbot`).
    OtherBot,
    Prompt(Prompt),
    Invalid(PromptError),
    /// ✅ Approve / ❌ Reject on the reply keyboard: the oldest pending gate.
    Decide(Decision),
}

/// Reads a text message: a command, a menu button, or a prompt.
pub fn classify(text: &str, bot_username: &str, max_prompt_chars: usize) -> Input {
    let trimmed = text.trim();
    if let Some((_, button)) = menu_labels().find(|(label, _)| label == trimmed) {
        return match button {
            MenuButton::Status => Input::Command(Command::Status(String::new())),
            MenuButton::Help => Input::Command(Command::Help),
            MenuButton::Settings => Input::Command(Command::Settings),
            MenuButton::Approve => Input::Decide(Decision::Approve),
            MenuButton::Reject => Input::Decide(Decision::Reject),
        };
    }
    if text.trim_start().starts_with('/') {
        return match Command::parse(text.trim_start(), bot_username) {
            Ok(command) => Input::Command(command),
            Err(ParseError::WrongBotName(_)) => Input::OtherBot,
            Err(_) => {
                let word: String = text.split_whitespace().next().unwrap_or("/").chars().take(64).collect();
                Input::UnknownCommand(word)
            }
        };
    }
    match Prompt::parse(text, max_prompt_chars) {
        Ok(prompt) => Input::Prompt(prompt),
        Err(err) => Input::Invalid(err),
    }
}

/// Whether an update is done with.
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
}

/// The message being answered, with who sent it and in which language.
struct Incoming<'a> {
    message: &'a Message,
    chat: ChatId,
    user: UserId,
    lang: Lang,
    texts: &'static dyn Texts,
}

impl UpdateHandler {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
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
    ) -> Self {
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
            remixes: None,
        }
    }

    /// Photos (with words) ask to animate them.
    pub fn with_remixes(mut self, remixes: Arc<Remixes>) -> Self {
        self.remixes = Some(remixes);
        self
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
            other => {
                tracing::debug!(kind = ?std::mem::discriminant(&other), "ignoring an update of a kind the bot does not handle")
            }
        }
        Handled::Done
    }

    /// "➕ Extend" was pressed under a video of `asset`: the bot asks for
    /// the continuation (and waits for it, in the database), or says why
    /// this video can't be extended. Returns the press's notice.
    async fn extend_pressed(&self, user: UserId, chat: ChatId, asset: AssetId, texts: &dyn Texts) -> Option<String> {
        let (text, notice) = match self.extensions.press(chat, user, asset).await {
            Ok(ExtendPressed::Waiting { prompt, choices }) => (texts.extend_ask(&prompt, choices), None),
            // a forged or foreign button: refused in the press's answer alone
            Ok(ExtendPressed::Refused(ExtendRefusal::NotYours)) => return Some(texts.extend_not_yours()),
            Ok(ExtendPressed::Refused(refusal)) => {
                let text = Self::refusal(texts, &refusal);
                (text.clone(), Some(text))
            }
            Err(err) => {
                tracing::error!(error = %err, "could not start an extension");
                (texts.try_again(), Some(texts.try_again()))
            }
        };
        // the newer wait wins: a photo waiting for its words no longer does
        if notice.is_none()
            && let Some(remixes) = &self.remixes
            && let Err(err) = remixes.cancel(chat, user).await
        {
            tracing::warn!(error = %err, "could not end a photo's wait for words");
        }
        if let Err(err) = self.sender.text(chat, &text, None, Keyboard::None, Priority::Interactive, None).await {
            tracing::warn!(error = %err, "could not answer an extend press");
        }
        notice
    }

    fn refusal(texts: &dyn Texts, refusal: &ExtendRefusal) -> String {
        match refusal {
            ExtendRefusal::Unavailable => texts.extend_unavailable(),
            ExtendRefusal::TooManyExtensions { max } => texts.extend_limit(*max),
            ExtendRefusal::Off => texts.extend_off(),
            ExtendRefusal::NotYours => texts.extend_not_yours(),
        }
    }

    fn is_admin(&self, user: UserId) -> bool {
        self.settings.admins.contains(&user)
    }

    /// The reply keyboard: 📊 ❓, and ✅ ❌ while the user has a decision pending.
    async fn menu(&self, user: UserId, texts: &dyn Texts) -> Keyboard {
        self.approvals.keyboard_for(user, texts).await
    }

    fn pressed_notice(pressed: Pressed, texts: &dyn Texts) -> String {
        match pressed {
            Pressed::Decided(state) => texts.approval_done(state),
            Pressed::Already(state) => texts.approval_already_decided(state),
            Pressed::NotAllowed => texts.approval_not_yours(),
            Pressed::Nothing => texts.approval_nothing_pending(),
        }
    }

    /// One inline button per package on sale: a press sends its invoice.
    fn buy_buttons(packages: &[StarsPackage], texts: &dyn Texts) -> Keyboard {
        if packages.is_empty() {
            return Keyboard::None;
        }
        Keyboard::Inline(
            packages
                .iter()
                .map(|p| {
                    let data = CallbackData::Buy { stars: p.stars, credits: p.credits }.encode();
                    vec![InlineButton { text: texts.package_button(p), data }]
                })
                .collect(),
        )
    }

    /// A button press: every press is answered (or the user's client spins).
    #[tracing::instrument(skip_all, fields(user = query.from.id.0))]
    async fn on_callback(&self, query: CallbackQuery) {
        let user = UserId(query.from.id.0 as i64);
        let lang = Lang::for_code(query.from.language_code.as_deref());
        let texts = lang.texts();
        self.approvals.seen(user, lang).await;
        let chat = match &query.message {
            Some(MaybeInaccessibleMessage::Regular(message)) => ChatId(message.chat.id.0),
            Some(MaybeInaccessibleMessage::Inaccessible(message)) => ChatId(message.chat.id.0),
            None => ChatId(user.0),
        };
        let notice = match query.data.as_deref().and_then(CallbackData::parse) {
            Some(CallbackData::Extend(asset)) => self.extend_pressed(user, chat, asset, texts).await,
            Some(CallbackData::Buy { stars, credits }) => match self.credits.package(stars, credits) {
                Some(package) => match self.credits.send_invoice(chat, package, texts).await {
                    Ok(()) => Some(texts.invoice_sent()),
                    Err(err) => {
                        tracing::warn!(error = %err, "could not send an invoice");
                        Some(texts.try_again())
                    }
                },
                None => Some(texts.button_expired()),
            },
            Some(CallbackData::History(request)) => self.again(user, chat, request, lang).await,
            Some(CallbackData::Choose(choice)) => Some(self.choose_pressed(&query, user, choice, texts).await),
            // a private chat is the presser's own (its id is theirs): what the menu shows is theirs alone
            Some(CallbackData::Menu) => {
                self.show_menu(Self::own_chat(chat, user), None, texts).await;
                None
            }
            Some(CallbackData::Open(item)) => self.open(item, Self::own_chat(chat, user), user, texts).await,
            Some(CallbackData::Approval { id, decision }) => match self.approvals.decide(user, id, decision).await {
                Ok(pressed) => Some(Self::pressed_notice(pressed, texts)),
                Err(err) => {
                    tracing::error!(error = %err, "could not record a decision");
                    Some(texts.try_again())
                }
            },
            Some(CallbackData::Decided { id }) => {
                let state = self.approvals.state(id).await.ok().flatten().unwrap_or(ApprovalState::Pending);
                Some(texts.approval_already_decided(state))
            }
            None => Some(texts.button_expired()),
        };
        let notice: Option<String> = notice.map(|n| crate::texts::shorten(&n, 190));
        if let Err(err) = self.sender.api().answer_callback_query(&query.id.0, notice.as_deref()).await {
            tracing::warn!(error = %err, "could not answer a button press");
        }
    }

    /// Answered here, at once, never through a queue: Telegram waits 10 s.
    #[tracing::instrument(skip_all, fields(user = query.from.id.0))]
    async fn on_pre_checkout(&self, query: PreCheckoutQuery) {
        let texts = Lang::for_code(query.from.language_code.as_deref()).texts();
        let ok = self.credits.pre_checkout_ok(&query.currency, query.total_amount, &query.invoice_payload);
        let refusal = texts.unknown_package();
        let answer = if ok { Ok(()) } else { Err(refusal.as_str()) };
        if !ok {
            tracing::info!(payload = %query.invoice_payload, "pre-checkout refused: no such package on sale");
        }
        if let Err(err) = self.sender.api().answer_pre_checkout_query(&query.id.0, answer).await {
            tracing::warn!(error = %err, "could not answer a pre-checkout query");
        }
    }

    /// A payment (`successful_payment`) or a refund (`refunded_payment`).
    /// A message that is a payment or a refund, handled; `None` for any other.
    async fn payment_message(&self, message: &Message) -> Option<Handled> {
        if message.successful_payment().is_none() && !matches!(message.kind, teloxide::types::MessageKind::RefundedPayment(_)) {
            return None;
        }
        let chat = ChatId(message.chat.id.0);
        let from = message.from.as_ref();
        let user = from.map_or(UserId(chat.0), |u| UserId(u.id.0 as i64));
        let lang = Lang::for_code(from.and_then(|u| u.language_code.as_deref()));
        let incoming = Incoming { message, chat, user, lang, texts: lang.texts() };
        self.on_payment(&incoming).await
    }

    /// A payment or a refund: `Some` when the message was one (`Again`
    /// when a paid purchase could not be credited yet).
    async fn on_payment(&self, incoming: &Incoming<'_>) -> Option<Handled> {
        let texts = incoming.texts;
        if let Some(payment) = incoming.message.successful_payment() {
            let charge = ChargeId(payment.telegram_payment_charge_id.0.clone());
            match self.credits.paid(incoming.user, charge, payment.total_amount, &payment.invoice_payload).await {
                Ok(Paid::Credited { credits, balance }) => {
                    self.reply(incoming, &texts.purchased(credits, balance), Keyboard::None).await;
                }
                Ok(Paid::Already) => tracing::info!("a payment credited before; nothing more to do"),
                Ok(Paid::Unrecognised) => {}
                Err(err) => {
                    // kept and tried again until credited: paid money is never dropped
                    tracing::error!(error = %err, "could not credit a payment yet; it is kept and tried again");
                    return Some(Handled::Again);
                }
            }
            return Some(Handled::Done);
        }
        if let teloxide::types::MessageKind::RefundedPayment(refund) = &incoming.message.kind {
            let charge = ChargeId(refund.refunded_payment.telegram_payment_charge_id.0.clone());
            match self.credits.refunded(charge).await {
                Ok(crate::service::credits::Refunded::Taken { taken, balance, .. }) => {
                    self.reply(incoming, &texts.refund_notice(taken, balance), Keyboard::None).await;
                }
                Ok(_) => tracing::info!("a refund recorded before, or of no known payment"),
                Err(err) => tracing::error!(error = %err, "could not record a refund"),
            }
            return Some(Handled::Done);
        }
        None
    }

    async fn reply(&self, to: &Incoming<'_>, text: &str, keyboard: Keyboard) {
        let message_id = MessageId(i64::from(to.message.id.0));
        if let Err(err) = self.sender.text(to.chat, text, Some(message_id), keyboard, Priority::Interactive, None).await {
            tracing::warn!(error = %err, "could not answer a message");
        }
    }

    #[tracing::instrument(skip_all, fields(chat_id = message.chat.id.0, message_id = message.id.0))]
    async fn on_message(&self, message: Message) {
        let chat = ChatId(message.chat.id.0);
        let from = message.from.as_ref();
        let user = from.map_or(UserId(chat.0), |u| UserId(u.id.0 as i64));
        let lang = Lang::for_code(from.and_then(|u| u.language_code.as_deref()));
        let texts = lang.texts();
        let incoming = Incoming { message: &message, chat, user, lang, texts };
        if from.is_some_and(|u| !u.is_bot) {
            self.credits.first_contact(user).await;
            self.approvals.seen(user, lang).await;
        }
        if message.chat.is_private()
            && let Some(photo) = remix::photo_of(&message)
            && let Some(remixes) = self.remixes.clone()
        {
            return self.on_photo(&incoming, &remixes, photo, remix::caption_of(&message)).await;
        }
        let Some(text) = message.text() else {
            if !message.chat.is_private() {
                return;
            }
            match message.voice() {
                Some(voice) => self.on_voice(&incoming, voice).await,
                None => {
                    measure::requests(RequestOutcome::Refused, 1);
                    self.reply(&incoming, &texts.not_text(), Keyboard::None).await
                }
            }
            return;
        };
        let answer = match classify(text, &self.settings.bot_username, self.settings.max_prompt_chars) {
            Input::Command(Command::Start | Command::Help) => {
                let help = texts.help(self.settings.max_prompt_chars);
                let menu = self.menu(user, texts).await;
                return self.reply(&incoming, &help, menu).await;
            }
            Input::Decide(decision) => {
                let answer = match self.approvals.decide_oldest(user, decision).await {
                    // the decision's own confirmation went out with the new keyboard
                    Ok(Pressed::Decided(_)) => return,
                    Ok(pressed) => Self::pressed_notice(pressed, texts),
                    Err(err) => {
                        tracing::error!(error = %err, "could not record a decision");
                        texts.try_again()
                    }
                };
                let menu = self.menu(user, texts).await;
                return self.reply(&incoming, &answer, menu).await;
            }
            Input::Command(Command::Status(prompt)) if !prompt.trim().is_empty() && self.is_admin(user) => {
                match Prompt::parse(&prompt, usize::MAX) {
                    Ok(prompt) => self.operator.asset_report(&prompt, texts).await.unwrap_or_else(|err| {
                        tracing::error!(error = %err, "asset status failed");
                        texts.try_again()
                    }),
                    Err(_) => texts.status_usage(),
                }
            }
            Input::Command(Command::Stats) if self.is_admin(user) => self.operator.stats(texts).await.unwrap_or_else(|err| {
                tracing::error!(error = %err, "stats failed");
                texts.try_again()
            }),
            Input::Command(Command::Stats) => texts.operators_only(),
            Input::Command(Command::Status(_)) => self.status.text(user, texts).await.unwrap_or_else(|err| {
                tracing::error!(error = %err, "status failed");
                texts.try_again()
            }),
            Input::Command(Command::Clear(raw)) => self.clear(user, &raw, texts).await,
            Input::Command(Command::History) => return self.history(&incoming).await,
            Input::Command(Command::Settings) => {
                let (text, keyboard) = match self.settings_screen(user, texts).await {
                    Ok((text, rows)) => (text, Keyboard::Inline(rows)),
                    Err(err) => {
                        tracing::error!(error = %err, "could not read a user's choices");
                        (texts.try_again(), Keyboard::None)
                    }
                };
                return self.reply(&incoming, &text, keyboard).await;
            }
            Input::Command(Command::Menu) => {
                let reply_to = MessageId(i64::from(message.id.0));
                return self.show_menu(chat, Some(reply_to), texts).await;
            }
            Input::Command(Command::Cancel) => {
                let answer = self.withdraw(chat, user, texts).await;
                // ✅/❌ leave the reply keyboard when the gate they acted on is gone
                let menu = self.menu(user, texts).await;
                return self.reply(&incoming, &answer, menu).await;
            }
            Input::Command(Command::Balance) => self.credits.balance_text(user, texts).await.unwrap_or_else(|err| {
                tracing::error!(error = %err, "balance failed");
                texts.try_again()
            }),
            Input::Command(Command::Buy) => {
                let (text, keyboard) = match self.credits.buy(user, texts).await {
                    Ok(text) => (text, Self::buy_buttons(&self.credits.packages(), texts)),
                    Err(err) => {
                        tracing::error!(error = %err, "buy failed");
                        (texts.try_again(), Keyboard::None)
                    }
                };
                return self.reply(&incoming, &text, keyboard).await;
            }
            Input::Command(Command::Grant(args)) if self.is_admin(user) => {
                let command = format!("{}/{}", chat.0, message.id.0);
                self.credits.grant(user, &args, &command, texts).await.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "grant failed");
                    texts.try_again()
                })
            }
            Input::Command(Command::Refund(args)) if self.is_admin(user) => {
                self.credits.refund(user, &args, texts).await.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "refund failed");
                    texts.try_again()
                })
            }
            Input::Command(Command::Grant(_) | Command::Refund(_)) => texts.operators_only(),
            Input::UnknownCommand(word) => texts.unknown_command(&word),
            Input::OtherBot => texts.addressed_to_another_bot(),
            Input::Invalid(err) => {
                measure::requests(RequestOutcome::Refused, 1);
                texts.invalid_prompt(&err)
            }
            Input::Prompt(prompt) => return self.request(&incoming, text, prompt).await,
        };
        self.reply(&incoming, &answer, Keyboard::None).await;
    }

    /// A prompt — or, when the user pressed "➕ Extend" before, the
    /// continuation of that video.
    async fn request(&self, incoming: &Incoming<'_>, raw_text: &str, prompt: Prompt) {
        let new = NewRequest {
            user_id: incoming.user,
            chat_id: incoming.chat,
            message_id: MessageId(i64::from(incoming.message.id.0)),
            raw_text: raw_text.trim().to_owned(),
            language: incoming.lang,
        };
        let awaited = match self.extensions.awaited(incoming.chat, incoming.user).await {
            Ok(Awaited::Nothing) => None,
            Ok(Awaited::Continuation(parent)) => Some(parent),
            Ok(Awaited::Expired { prompt }) => {
                let text = incoming.texts.extend_expired(&prompt, self.extensions.settings().wait);
                return self.reply(incoming, &text, Keyboard::None).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "could not look for a pending extension");
                return self.reply(incoming, &incoming.texts.try_again(), Keyboard::None).await;
            }
        };
        // a photo sent without words waits for them: this text is its caption
        let photo = match (&awaited, &self.remixes) {
            (None, Some(remixes)) => match remixes.awaited(incoming.chat, incoming.user).await {
                Ok(photo) => photo,
                Err(err) => {
                    tracing::error!(error = %err, "could not look for a photo waiting for its words");
                    return self.reply(incoming, &incoming.texts.try_again(), Keyboard::None).await;
                }
            },
            _ => None,
        };
        let admitted = match awaited {
            None => match self.intake.recipe_for(incoming.user, photo.clone()).await {
                Ok(recipe) => {
                    let admitted = self.intake.request_video(new, Wanted::new(prompt, recipe)).await;
                    // refused (credits, limits): the photo keeps waiting, to try again
                    if let (Ok(Admitted::Recorded), Some(digest), Some(remixes)) = (&admitted, &photo, &self.remixes)
                        && let Err(err) = remixes.done(incoming.chat, incoming.user, digest).await
                    {
                        tracing::warn!(error = %err, "could not close a photo's wait for words");
                    }
                    admitted
                }
                Err(err) => Err(err),
            },
            Some(parent) => match self.extensions.wanted(parent, prompt).await {
                Ok(Ok(wanted)) => {
                    let admitted = self.intake.request_video(new, wanted).await;
                    // refused (credits, limits): the wait stays, to try again
                    if matches!(admitted, Ok(Admitted::Recorded))
                        && let Err(err) = self.extensions.done(incoming.chat, incoming.user, parent).await
                    {
                        tracing::warn!(error = %err, "could not close a pending extension");
                    }
                    admitted
                }
                Ok(Err(refusal)) => {
                    if let Err(err) = self.extensions.done(incoming.chat, incoming.user, parent).await {
                        tracing::warn!(error = %err, "could not close a pending extension");
                    }
                    return self.reply(incoming, &Self::refusal(incoming.texts, &refusal), Keyboard::None).await;
                }
                Err(err) => Err(err),
            },
        };
        self.answer_admitted(incoming, admitted).await;
    }

    /// Tells the user why a request was not recorded (nothing to say when it was).
    async fn answer_admitted(&self, incoming: &Incoming<'_>, admitted: Result<Admitted, sea_orm::DbErr>) {
        let texts = incoming.texts;
        match admitted {
            Ok(Admitted::Recorded) => {}
            Ok(Admitted::Refused(Refusal::Credits { price, balance })) => {
                let buttons = Self::buy_buttons(&self.credits.packages(), texts);
                self.reply(incoming, &texts.not_enough_credits(price, balance), buttons).await;
            }
            Ok(Admitted::Refused(Refusal::Waiting { max })) => {
                self.reply(incoming, &texts.too_many_waiting(max), Keyboard::None).await;
            }
            Ok(Admitted::Refused(Refusal::Rate { retry_after })) => {
                self.reply(incoming, &texts.rate_limited(retry_after), Keyboard::None).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "could not record a request");
                self.reply(incoming, &texts.try_again(), Keyboard::None).await;
            }
        }
    }

    /// A photo (or an image sent as a file): with words, a request to
    /// animate it; without, the bot asks what should happen in it and
    /// takes the user's next text as its words. Nothing is recorded for a
    /// photo that can't be downloaded (over 20 MB).
    async fn on_photo(&self, incoming: &Incoming<'_>, remixes: &Remixes, photo: PhotoRef, caption: Option<&str>) {
        let texts = incoming.texts;
        let prompt = match caption.map(|c| Prompt::parse(c, self.settings.max_prompt_chars)) {
            None | Some(Err(PromptError::Empty)) => None,
            Some(Ok(prompt)) => Some(prompt),
            Some(Err(err)) => {
                measure::requests(RequestOutcome::Refused, 1);
                return self.reply(incoming, &texts.invalid_prompt(&err), Keyboard::None).await;
            }
        };
        let digest = match remixes.take(&photo).await {
            Ok(digest) => digest,
            Err(PhotoError::TooBig(_)) => {
                measure::requests(RequestOutcome::Refused, 1);
                return self.reply(incoming, &texts.photo_too_big(), Keyboard::None).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not take a photo");
                return self.reply(incoming, &texts.try_again(), Keyboard::None).await;
            }
        };
        let Some(prompt) = prompt else {
            // the newer wait wins: a ➕ waiting for its continuation ends
            if let Err(err) = self.extensions.cancel(incoming.chat, incoming.user).await {
                tracing::warn!(error = %err, "could not end a pending extension");
            }
            let answer = match remixes.await_caption(incoming.chat, incoming.user, &digest).await {
                Ok(()) => texts.remix_ask(),
                Err(err) => {
                    tracing::error!(error = %err, "could not wait for a photo's words");
                    texts.try_again()
                }
            };
            return self.reply(incoming, &answer, Keyboard::None).await;
        };
        let new = NewRequest {
            user_id: incoming.user,
            chat_id: incoming.chat,
            message_id: MessageId(i64::from(incoming.message.id.0)),
            raw_text: caption.unwrap_or_default().trim().to_owned(),
            language: incoming.lang,
        };
        let admitted = match self.intake.recipe_for(incoming.user, Some(digest)).await {
            Ok(recipe) => self.intake.request_video(new, Wanted::new(prompt, recipe)).await,
            Err(err) => Err(err),
        };
        self.answer_admitted(incoming, admitted).await;
    }

    /// A voice message: transcribed, then handled like the typed prompt.
    async fn on_voice(&self, incoming: &Incoming<'_>, voice: &Voice) {
        let texts = incoming.texts;
        let Some(transcriber) = &self.transcriber else {
            return self.reply(incoming, &texts.voice_off(), Keyboard::None).await;
        };
        // nothing is paid (a transcription) for a request that would be refused for credits
        let short = match self.intake.recipe_for(incoming.user, None).await {
            Ok(recipe) => self.credits.short_of(incoming.user, recipe.choices).await,
            Err(err) => Err(err),
        };
        match short {
            Ok(None) => {}
            Ok(Some((price, balance))) => {
                let buttons = Self::buy_buttons(&self.credits.packages(), texts);
                return self.reply(incoming, &texts.not_enough_credits(price, balance), buttons).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "could not check credits before a transcription");
                return self.reply(incoming, &texts.try_again(), Keyboard::None).await;
            }
        }
        let text = match transcriber.transcribe(self.sender.api(), voice).await {
            Ok(text) => text,
            Err(VoiceError::TooBig(bytes)) => {
                tracing::info!(bytes, "voice message too big to download");
                return self.reply(incoming, &texts.voice_too_big(), Keyboard::None).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not transcribe a voice message");
                return self.reply(incoming, &texts.voice_failed(), Keyboard::None).await;
            }
        };
        match Prompt::parse(&text, self.settings.max_prompt_chars) {
            Ok(prompt) => {
                self.reply(incoming, &texts.heard(&text), Keyboard::None).await;
                self.request(incoming, &text, prompt).await;
            }
            Err(PromptError::Empty) => self.reply(incoming, &texts.voice_silent(), Keyboard::None).await,
            Err(err) => self.reply(incoming, &texts.invalid_prompt(&err), Keyboard::None).await,
        }
    }

    /// /history: the last videos, each with a button that sends it again.
    async fn history(&self, incoming: &Incoming<'_>) {
        let reply_to = MessageId(i64::from(incoming.message.id.0));
        let (text, keyboard) = self.history_answer(incoming.user, incoming.texts).await;
        if let Err(err) = self.sender.text(incoming.chat, &text, Some(reply_to), keyboard, Priority::Interactive, None).await {
            tracing::warn!(error = %err, "could not answer a message");
        }
    }

    /// What /history (and 📜 in the menu) answers: the list and its buttons.
    async fn history_answer(&self, user: UserId, texts: &dyn Texts) -> (String, Keyboard) {
        let videos = match self.history.recent(user).await {
            Ok(videos) => videos,
            Err(err) => {
                tracing::error!(error = %err, "history failed");
                return (texts.try_again(), Keyboard::None);
            }
        };
        if videos.is_empty() {
            return (texts.history_empty(), Keyboard::None);
        }
        let items: Vec<HistoryItem<'_>> = videos
            .iter()
            .map(|(request, asset)| HistoryItem {
                prompt: request.raw_text.trim(),
                choices: asset.recipe().choices,
                remix: asset.image_digest.is_some(),
                seconds: asset.made_with().map(|m| m.duration_secs).filter(|s| *s > 0),
            })
            .collect();
        let buttons = videos
            .iter()
            .zip(1..)
            .map(|((request, _), n)| {
                vec![InlineButton {
                    text: texts.history_button(n, request.raw_text.trim()),
                    data: CallbackData::History(request.id).encode(),
                }]
            })
            .collect();
        (texts.history(&items), Keyboard::Inline(buttons))
    }

    /// The settings screen of `user`: their choices (and, with credits on,
    /// what videos cost with them) above three rows of buttons.
    async fn settings_screen(&self, user: UserId, texts: &dyn Texts) -> Result<(String, Vec<Vec<InlineButton>>), DbErr> {
        let choices = self.intake.choices_of(user).await?;
        Ok(self.settings_view(choices, texts))
    }

    fn settings_view(&self, choices: Choices, texts: &dyn Texts) -> (String, Vec<Vec<InlineButton>>) {
        let row = |options: Vec<Choice>| -> Vec<InlineButton> {
            options
                .into_iter()
                .map(|choice| {
                    let label = choice_label(texts, choice);
                    let text = if choices.has(choice) { format!("✅ {label}") } else { label };
                    InlineButton { text, data: CallbackData::Choose(choice).encode() }
                })
                .collect()
        };
        let rows = vec![
            row(Quality::ALL.iter().map(|q| Choice::Quality(*q)).collect()),
            row(Format::ALL.iter().map(|f| Choice::Format(*f)).collect()),
            row(Length::ALL.iter().map(|l| Choice::Length(*l)).collect()),
        ];
        (texts.settings(choices, self.credits.prices(choices)), rows)
    }

    /// A press on the settings screen: changes the presser's own choices
    /// (never the message owner's: `user` is `query.from`), and shows them
    /// on the message in place when it is the presser's own settings
    /// message. Returns the press's notice.
    async fn choose_pressed(&self, query: &CallbackQuery, user: UserId, choice: Choice, texts: &dyn Texts) -> String {
        let choices = match self.intake.choose(user, choice).await {
            Ok(choices) => choices,
            Err(err) => {
                tracing::error!(error = %err, "could not store a choice");
                return texts.try_again();
            }
        };
        if let Some(MaybeInaccessibleMessage::Regular(message)) = &query.message
            && message.text().is_some()
            && Self::shown_to(message, user)
        {
            let (text, rows) = self.settings_view(choices, texts);
            let (chat, id) = (ChatId(message.chat.id.0), MessageId(i64::from(message.id.0)));
            if let Err(err) = self.sender.edit_text_and_keyboard(chat, id, &text, &rows).await {
                tracing::warn!(error = %err, "could not show the new choices on the settings message");
            }
        } else {
            tracing::info!(%user, "a settings press on a message that is not the presser's: their choice is stored, the message left as it is");
        }
        texts.setting_chosen(choice)
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

    /// The menu (🏠 under a video, /menu): 🎬 ⚙️ 📜, and 💰 while credits are on.
    async fn show_menu(&self, chat: ChatId, reply_to: Option<MessageId>, texts: &dyn Texts) {
        let button = |text: String, item: MenuItem| InlineButton { text, data: CallbackData::Open(item).encode() };
        let mut second = vec![button(texts.menu_history(), MenuItem::History)];
        if self.credits.enabled() {
            second.push(button(texts.menu_balance(), MenuItem::Balance));
        }
        let rows = vec![
            vec![button(texts.menu_new_video(), MenuItem::NewVideo), button(texts.settings_button(), MenuItem::Settings)],
            second,
        ];
        let sent =
            self.sender.text(chat, &texts.main_menu(), reply_to, Keyboard::Inline(rows), Priority::Interactive, None).await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, "could not send the menu");
        }
    }

    /// A press on a button of the menu: answered in its chat. Returns the press's notice.
    async fn open(&self, item: MenuItem, chat: ChatId, user: UserId, texts: &dyn Texts) -> Option<String> {
        let (text, keyboard, notice) = match item {
            MenuItem::NewVideo => {
                // a new video, not the continuation of one nor a photo's words: the waits end
                if let Err(err) = self.extensions.cancel(chat, user).await {
                    tracing::warn!(error = %err, "could not stop the wait for a continuation");
                }
                if let Some(remixes) = &self.remixes
                    && let Err(err) = remixes.cancel(chat, user).await
                {
                    tracing::warn!(error = %err, "could not stop a photo's wait for words");
                }
                (texts.new_video_hint(), Keyboard::None, Some(texts.new_video_hint()))
            }
            MenuItem::Settings => match self.settings_screen(user, texts).await {
                Ok((text, rows)) => (text, Keyboard::Inline(rows), None),
                Err(err) => {
                    tracing::error!(error = %err, "could not read a user's choices");
                    (texts.try_again(), Keyboard::None, Some(texts.try_again()))
                }
            },
            MenuItem::History => {
                let (text, keyboard) = self.history_answer(user, texts).await;
                (text, keyboard, None)
            }
            MenuItem::Balance => {
                let text = self.credits.balance_text(user, texts).await.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "balance failed");
                    texts.try_again()
                });
                (text, Keyboard::None, None)
            }
        };
        if let Err(err) = self.sender.text(chat, &text, None, keyboard, Priority::Interactive, None).await {
            tracing::warn!(error = %err, "could not answer a menu press");
            return Some(texts.try_again());
        }
        notice
    }

    /// /cancel: withdraws the user's waiting requests (a generation nobody
    /// else waits for is called off while queued or waiting for approval,
    /// its approval keyboards showing it) and stops the wait for an
    /// extension's continuation.
    async fn withdraw(&self, chat: ChatId, user: UserId, texts: &dyn Texts) -> String {
        let extension = match self.extensions.cancel(chat, user).await {
            Ok(stopped) => stopped,
            Err(err) => {
                tracing::error!(error = %err, "could not cancel a pending extension");
                return texts.try_again();
            }
        };
        let photo = match &self.remixes {
            Some(remixes) => remixes.cancel(chat, user).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "could not end a photo's wait for words");
                false
            }),
            None => false,
        };
        let waits: Vec<String> =
            [extension.then(|| texts.extend_cancelled()), photo.then(|| texts.remix_cancelled())].into_iter().flatten().collect();
        let withdrawn = self.cancel.withdraw(user).await;
        if let Ok(withdrawn) = &withdrawn {
            self.approvals.withdrawn(&withdrawn.approvals, user).await;
            self.approvals.handed_over(&withdrawn.handed_over, user).await;
        }
        match withdrawn {
            Ok(withdrawn) if withdrawn.requests.is_empty() && !waits.is_empty() => waits.join("\n"),
            Ok(withdrawn) if withdrawn.requests.is_empty() => texts.cancel_nothing(),
            Ok(withdrawn) => {
                let prompts: Vec<&str> = withdrawn.requests.iter().map(|r| r.raw_text.trim()).collect();
                let text = texts.cancelled(&prompts);
                if waits.is_empty() { text } else { format!("{text}\n{}", waits.join("\n")) }
            }
            Err(err) => {
                tracing::error!(error = %err, "cancel failed");
                texts.try_again()
            }
        }
    }

    /// A press on a /history button: the video again, by its `file_id`
    /// (nothing generated, nothing uploaded), with its "➕ Extend" button
    /// like every video the bot sends; a notice when it can't be.
    async fn again(&self, user: UserId, chat: ChatId, request: RequestId, lang: Lang) -> Option<String> {
        let texts = lang.texts();
        match self.history.again(user, request).await {
            Ok(Again::Video { file_id, request }) => {
                let caption = texts.caption(request.raw_text.trim());
                let keyboard = extend_keyboard(request.asset_id, lang);
                match self.sender.video_by_id(chat, &file_id, &caption, None, &keyboard, Priority::Interactive, None).await {
                    Ok(_) => None,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not send a video from the history again");
                        Some(texts.try_again())
                    }
                }
            }
            Ok(Again::Gone) => Some(texts.history_gone()),
            Ok(Again::NotYours) => Some(texts.button_expired()),
            Err(err) => {
                tracing::error!(error = %err, "history lookup failed");
                Some(texts.try_again())
            }
        }
    }

    async fn clear(&self, user: UserId, raw: &str, texts: &dyn Texts) -> String {
        if !self.is_admin(user) {
            tracing::warn!(%user, "refused /clear from a non-operator");
            return texts.clear_refused();
        }
        let Ok(prompt) = Prompt::parse(raw, usize::MAX) else { return texts.clear_usage() };
        match self.operator.clear(&Actor::Telegram(user), &prompt).await {
            Ok(outcome) => texts.cleared(prompt.as_str(), outcome),
            Err(err) => {
                tracing::error!(error = %err, "clear failed");
                texts.try_again()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn classifies_commands_buttons_and_prompts() {
        assert_eq!(classify("/start", "bot", 10), Input::Command(Command::Start));
        assert_eq!(classify("📊 Status", "bot", 10), Input::Command(Command::Status(String::new())));
        assert_eq!(classify("📊 Статус", "bot", 10), Input::Command(Command::Status(String::new())));
        assert_eq!(classify(" ❓ Помощь ", "bot", 10), Input::Command(Command::Help));
        assert_eq!(classify("⚙️ Settings", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("⚙️ Настройки", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("/settings", "bot", 10), Input::Command(Command::Settings));
        assert_eq!(classify("/menu", "bot", 10), Input::Command(Command::Menu));
        assert_eq!(classify("/frobnicate now", "bot", 10), Input::UnknownCommand("/frobnicate".into()));
        assert_eq!(classify("/start@otherbot", "bot", 10), Input::OtherBot);
        assert_eq!(classify("  Zoë ", "bot", 10), Input::Prompt(Prompt::parse("zoë", 10).expect("valid")));
        assert_eq!(classify("\u{200B}", "bot", 10), Input::Invalid(PromptError::Empty));
        assert_eq!(classify("abcdefghijk", "bot", 10), Input::Invalid(PromptError::TooLong { chars: 11, max: 10 }));
    }

    proptest! {
        #[test]
        fn classify_never_panics(text in any::<String>(), name in "[a-z_]{0,12}", max in 1usize..50) {
            let _ = classify(&text, &name, max);
        }

        #[test]
        fn slash_texts_are_never_prompts(rest in "\\PC{0,40}") {
            let input = classify(&format!("/{rest}"), "bot", 1000);
            prop_assert!(matches!(input, Input::Command(_) | Input::UnknownCommand(_) | Input::OtherBot));
        }
    }
}
