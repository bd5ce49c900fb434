//! Text messages: commands, menu buttons and prompts.

use teloxide::types::Message;

use crate::bot::BotError;
use crate::bot::commands::Command;
use crate::bot::remix;
use crate::domain::{Actor, ChatId, MessageId, Prompt, UserId, Wanted};
use crate::service::ApprovalPress;
use crate::service::extend::Awaited;
use crate::service::intake::{Admitted, NewRequest, Refusal};
use crate::telegram::api::Keyboard;
use crate::telemetry::Chain;
use crate::telemetry::measure::{self, RequestOutcome};
use crate::texts::{Lang, Texts};

use super::{Incoming, Input, UpdateHandler, classify};

impl UpdateHandler {
    #[tracing::instrument(skip_all, fields(chat_id = message.chat.id.0, message_id = message.id.0))]
    pub(super) async fn on_message(&self, message: Message) {
        let chat = ChatId(message.chat.id.0);
        let from = message.from.as_ref();
        // an anonymous admin or a channel is the chat it wrote as, never the placeholder user
        let user = super::group::sender_of(&message);
        let lang = Lang::for_code(from.and_then(|u| u.language_code.as_deref()));
        let texts = lang.texts();
        let thread = super::group::thread_of(&message);
        let incoming = Incoming { message: &message, chat, thread, user, lang, texts };
        if message.sender_chat.is_none() && from.is_some_and(|u| !u.is_bot) {
            self.credits.first_contact(user).await;
            self.approvals.seen(user, lang).await;
        }
        if !message.chat.is_private() {
            return self.on_group_message(&incoming).await;
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
        if self.start_from_inline(&incoming, text).await {
            return;
        }
        let input = match classify(text, &self.settings.bot_username, self.settings.max_prompt_chars) {
            // the group's button to the private chat: `/start <what was asked there>`
            Input::Command(Command::Start(parameter)) => match parameter.trim() {
                "history" => Input::Command(Command::History),
                "balance" => Input::Command(Command::Balance),
                "settings" => Input::Command(Command::Settings),
                "buy" => Input::Command(Command::Buy),
                _ => Input::Command(Command::Start(parameter)),
            },
            input => input,
        };
        let answer = match input {
            Input::Command(Command::Video(words)) if words.trim().is_empty() => texts.video_usage(),
            Input::Command(Command::Video(words)) => match Prompt::parse(&words, self.settings.max_prompt_chars) {
                Ok(prompt) => return self.request(&incoming, &words, prompt).await,
                Err(err) => {
                    measure::requests(RequestOutcome::Refused, 1);
                    texts.invalid_prompt(&err)
                }
            },
            Input::Command(Command::Start(_) | Command::Help) => {
                let help = texts.help(self.settings.max_prompt_chars);
                let menu = self.menu(user, texts).await;
                return self.reply(&incoming, &help, menu).await;
            }
            Input::Decide(decision) => {
                let answer = match self.approvals.decide_oldest(user, decision).await {
                    // the decision's own confirmation went out with the new keyboard
                    Ok(ApprovalPress::Decided(_)) => return,
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
            Input::Command(Command::Allow(raw)) => self.allow(user, &raw, texts).await,
            Input::Command(Command::History) => return self.history(&incoming).await,
            Input::Command(Command::Settings) => {
                let (text, keyboard) = match self.settings_screen(user, texts).await {
                    Ok((text, rows)) => (text, Keyboard::Inline(rows)),
                    Err(err) => {
                        tracing::error!(error = %Chain(&err), "could not show the settings");
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

    /// A message in a group or supergroup: only what is addressed to the
    /// bot is answered (see [`super::group`]), as a reply in its topic.
    async fn on_group_message(&self, incoming: &Incoming<'_>) {
        use super::group::{GroupInput, classify_group, private_chat_url, replies_to_bot};
        let Some(text) = incoming.message.text() else { return };
        let bot = &self.settings.bot_username;
        let texts = incoming.texts;
        let answer = match classify_group(text, bot, replies_to_bot(incoming.message, bot)) {
            GroupInput::Ignore => return,
            GroupInput::Video(words) => match Prompt::parse(&words, self.settings.max_prompt_chars) {
                Ok(prompt) => return self.request(incoming, &words, prompt).await,
                Err(err) => {
                    measure::requests(RequestOutcome::Refused, 1);
                    texts.invalid_prompt(&err)
                }
            },
            GroupInput::VideoUsage => texts.video_usage(),
            GroupInput::Private(parameter) => {
                let keyboard = Keyboard::Link { text: texts.private_chat_button(), url: private_chat_url(bot, parameter) };
                return self.reply(incoming, &texts.in_private_chat(), keyboard).await;
            }
            GroupInput::Command(Command::Cancel) => self.withdraw(incoming.chat, incoming.user, texts).await,
            GroupInput::Command(Command::Stats) if self.is_admin(incoming.user) => {
                self.operator.stats(texts).await.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "stats failed");
                    texts.try_again()
                })
            }
            GroupInput::Command(Command::Clear(raw)) => self.clear(incoming.user, &raw, texts).await,
            GroupInput::Command(Command::Status(_)) => self.status.text(incoming.user, texts).await.unwrap_or_else(|err| {
                tracing::error!(error = %err, "status failed");
                texts.try_again()
            }),
            GroupInput::Command(_) => texts.operators_only(),
        };
        self.reply(incoming, &answer, Keyboard::None).await;
    }

    /// A prompt — or, when the user pressed "➕ Extend" before, the
    /// continuation of that video.
    pub(super) async fn request(&self, incoming: &Incoming<'_>, raw_text: &str, prompt: Prompt) {
        let new = NewRequest {
            user_id: incoming.user,
            chat_id: incoming.chat,
            message_id: MessageId(i64::from(incoming.message.id.0)),
            raw_text: raw_text.trim().to_owned(),
            language: incoming.lang,
            thread_id: incoming.thread,
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
                    // a near twin of a video already made: the user chooses first
                    if photo.is_none() && self.offer_similar(incoming, &new, &prompt, &recipe).await {
                        return;
                    }
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
        self.answer_admitted(incoming, admitted.map_err(BotError::db("recording a request"))).await;
    }

    /// Tells the user why a request was not recorded (nothing to say when it was).
    pub(super) async fn answer_admitted(&self, incoming: &Incoming<'_>, admitted: Result<Admitted, BotError>) {
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
                tracing::error!(error = %Chain(&err), "could not record a request");
                self.reply(incoming, &texts.try_again(), Keyboard::None).await;
            }
        }
    }

    /// `/allow <prompt>` (operators): lifts the prompt's safety refusals.
    pub(super) async fn allow(&self, user: UserId, raw: &str, texts: &dyn Texts) -> String {
        if !self.is_admin(user) {
            tracing::warn!(%user, "refused /allow from a non-operator");
            return texts.operators_only();
        }
        let Ok(prompt) = Prompt::parse(raw, usize::MAX) else { return texts.allow_usage() };
        match self.operator.allow(&Actor::Telegram(user), &prompt).await {
            Ok(lifted) => texts.allowed(prompt.as_str(), lifted),
            Err(err) => {
                tracing::error!(error = %err, "allow failed");
                texts.try_again()
            }
        }
    }

    pub(super) async fn clear(&self, user: UserId, raw: &str, texts: &dyn Texts) -> String {
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
