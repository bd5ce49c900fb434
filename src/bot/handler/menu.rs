//! The screens a user opens: the menu, /history, /settings, /cancel.

use crate::bot::BotError;
use crate::domain::{CallbackData, ChatId, Choice, Choices, Format, Length, MenuItem, MessageId, Quality, RequestId, UserId};
use crate::service::delivery::extend_keyboard;
use crate::service::history::Again;
use crate::telegram::api::{InlineButton, Keyboard};
use crate::telegram::limiter::Priority;
use crate::telemetry::Chain;
use crate::texts::{HistoryItem, Lang, Texts, choice_label};

use super::{Incoming, UpdateHandler};

impl UpdateHandler {
    /// The reply keyboard: 📊 ❓, and ✅ ❌ while the user has a decision pending.
    pub(super) async fn menu(&self, user: UserId, texts: &dyn Texts) -> Keyboard {
        self.approvals.keyboard_for(user, texts).await
    }
    /// /history: the last videos, each with a button that sends it again.
    pub(super) async fn history(&self, incoming: &Incoming<'_>) {
        let reply_to = MessageId(i64::from(incoming.message.id.0));
        let (text, keyboard) = self.history_answer(incoming.user, incoming.texts).await;
        if let Err(err) = self.sender.text(incoming.chat, &text, Some(reply_to), keyboard, Priority::Interactive, None).await {
            tracing::warn!(error = %err, "could not answer a message");
        }
    }

    /// What /history (and 📜 in the menu) answers: the list and its buttons.
    pub(super) async fn history_answer(&self, user: UserId, texts: &dyn Texts) -> (String, Keyboard) {
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
    pub(super) async fn settings_screen(
        &self,
        user: UserId,
        texts: &dyn Texts,
    ) -> Result<(String, Vec<Vec<InlineButton>>), BotError> {
        let choices = self.intake.choices_of(user).await.map_err(BotError::db("reading a user's choices"))?;
        Ok(self.settings_view(choices, texts))
    }

    pub(super) fn settings_view(&self, choices: Choices, texts: &dyn Texts) -> (String, Vec<Vec<InlineButton>>) {
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

    /// The menu (🏠 under a video, /menu): 🎬 ⚙️ 📜, and 💰 while credits are on.
    pub(super) async fn show_menu(&self, chat: ChatId, reply_to: Option<MessageId>, texts: &dyn Texts) {
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
    pub(super) async fn open(&self, item: MenuItem, chat: ChatId, user: UserId, texts: &dyn Texts) -> Option<String> {
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
                    tracing::error!(error = %Chain(&err), "could not show the settings");
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
    pub(super) async fn withdraw(&self, chat: ChatId, user: UserId, texts: &dyn Texts) -> String {
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
    pub(super) async fn again(&self, user: UserId, chat: ChatId, request: RequestId, lang: Lang) -> Option<String> {
        let texts = lang.texts();
        match self.history.again(user, request).await {
            Ok(Again::Video { file_id, request }) => {
                let caption = texts.caption(request.raw_text.trim());
                let keyboard = extend_keyboard(request.asset_id, lang);
                match self
                    .sender
                    .video_by_id((chat, None), &file_id, &caption, None, &keyboard, Priority::Interactive, None)
                    .await
                {
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
}
