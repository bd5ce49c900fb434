//! Button presses: every `callback_query` is checked against who presses it
//! and answered (or the presser's client spins).

use teloxide::types::{CallbackQuery, MaybeInaccessibleMessage};

use crate::domain::{ApprovalState, AssetId, CallbackData, ChatId, Choice, MessageId, UserId};
use crate::service::ApprovalPress;
use crate::service::extend::{ExtendPress, ExtendRefusal};
use crate::telegram::api::Keyboard;
use crate::telegram::limiter::Priority;
use crate::texts::{Lang, Texts};

use super::UpdateHandler;

impl UpdateHandler {
    /// "➕ Extend" was pressed under a video of `asset`: the bot asks for
    /// the continuation (and waits for it, in the database), or says why
    /// this video can't be extended. Returns the press's notice.
    pub(super) async fn extend_pressed(&self, user: UserId, chat: ChatId, asset: AssetId, texts: &dyn Texts) -> Option<String> {
        let (text, notice) = match self.extensions.press(chat, user, asset).await {
            Ok(ExtendPress::Waiting { prompt, choices }) => (texts.extend_ask(&prompt, choices), None),
            // a forged or foreign button: refused in the press's answer alone
            Ok(ExtendPress::Refused(ExtendRefusal::NotYours)) => return Some(texts.extend_not_yours()),
            Ok(ExtendPress::Refused(refusal)) => {
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

    pub(super) fn refusal(texts: &dyn Texts, refusal: &ExtendRefusal) -> String {
        match refusal {
            ExtendRefusal::Unavailable => texts.extend_unavailable(),
            ExtendRefusal::TooManyExtensions { max } => texts.extend_limit(*max),
            ExtendRefusal::Off => texts.extend_off(),
            ExtendRefusal::NotYours => texts.extend_not_yours(),
        }
    }

    pub(super) fn pressed_notice(pressed: ApprovalPress, texts: &dyn Texts) -> String {
        match pressed {
            ApprovalPress::Decided(state) => texts.approval_done(state),
            ApprovalPress::Already(state) => texts.approval_already_decided(state),
            ApprovalPress::NotAllowed => texts.approval_not_yours(),
            ApprovalPress::Nothing => texts.approval_nothing_pending(),
        }
    }

    /// A button press: every press is answered (or the user's client spins).
    #[tracing::instrument(skip_all, fields(user = query.from.id.0))]
    pub(super) async fn on_callback(&self, query: CallbackQuery) {
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
            Some(CallbackData::Offer { id, send }) => Some(self.offer_pressed(&query, user, id, send, texts).await),
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

    /// A press on the settings screen: changes the presser's own choices
    /// (never the message owner's: `user` is `query.from`), and shows them
    /// on the message in place when it is the presser's own settings
    /// message. Returns the press's notice.
    pub(super) async fn choose_pressed(&self, query: &CallbackQuery, user: UserId, choice: Choice, texts: &dyn Texts) -> String {
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
}
