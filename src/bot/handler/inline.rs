//! Inline mode (`@bot <words>` in any chat) and the similar-video offer:
//! both answer from the catalog search ([`crate::service::Search`]).

use teloxide::types::{CallbackQuery, ChosenInlineResult, InlineQuery, MaybeInaccessibleMessage};

use super::{Incoming, UpdateHandler};
use crate::db::search::{INLINE_ANSWERS, INLINE_SENDS, OFFERS_MADE};
use crate::domain::{CallbackData, ChatId, MessageId, Prompt, Recipe, UserId, Wanted};
use crate::service::intake::{Admitted, NewRequest, Refusal};
use crate::service::search::Taken;
use crate::telegram::api::{InlineButton, InlineResultsButton, InlineVideo, Keyboard};
use crate::telegram::limiter::Priority;
use crate::texts::{Lang, Texts, shorten};

/// Seconds Telegram may keep an inline answer (a cleared video leaves the
/// answers within this).
const INLINE_CACHE_SECS: u32 = 5;

impl UpdateHandler {
    /// An inline query: the matching available videos, as cached videos.
    #[tracing::instrument(skip_all, fields(user = query.from.id.0))]
    pub(super) async fn on_inline_query(&self, query: InlineQuery) {
        let Some(search) = self.search.clone() else { return };
        let user = UserId(query.from.id.0 as i64);
        let texts = Lang::for_code(query.from.language_code.as_deref()).texts();
        let prefer = match self.intake.choices_of(user).await {
            Ok(choices) => choices.format,
            Err(err) => {
                tracing::warn!(error = %err, "could not read a user's choices for an inline query");
                Default::default()
            }
        };
        let answer = match search.inline(user, &query.query, &query.offset, prefer).await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::error!(error = %err, "inline search failed");
                Default::default()
            }
        };
        let results: Vec<InlineVideo> = answer
            .results
            .iter()
            .map(|found| InlineVideo {
                id: format!("a{}", found.asset_id.0),
                file_id: found.file_id.0.clone(),
                title: shorten(&found.typed, 200),
                description: Some(found.format.token().to_owned()),
            })
            .collect();
        let button = answer
            .start
            .map(|start_parameter| InlineResultsButton { text: texts.inline_make_button(query.query.trim()), start_parameter });
        let sent = self
            .sender
            .api()
            .answer_inline_query(
                &query.id.0,
                &results,
                answer.next_offset.as_deref(),
                answer.personal,
                INLINE_CACHE_SECS,
                button.as_ref(),
            )
            .await;
        match sent {
            Ok(()) => {
                tokio::spawn(async move { search.count(INLINE_ANSWERS).await });
            }
            Err(err) => tracing::warn!(error = %err, "could not answer an inline query"),
        }
    }

    /// A result chosen from an inline answer (`INLINE_FEEDBACK=on` and
    /// BotFather's /setinlinefeedback): counted as a send.
    pub(super) async fn on_chosen_inline(&self, chosen: ChosenInlineResult) {
        tracing::debug!(result_id = %chosen.result_id, "an inline result was sent");
        if let Some(search) = &self.search {
            search.count(INLINE_SENDS).await;
        }
    }

    /// `/start <parameter>` from an inline answer's button: the prompt kept
    /// under it, made like a typed one. False when `text` is no such start.
    pub(super) async fn start_from_inline(&self, incoming: &Incoming<'_>, text: &str) -> bool {
        let Some(parameter) = text.strip_prefix("/start ").map(str::trim) else { return false };
        // its parameter is a 64-hex digest; `/start history` and the like are the group buttons'
        let digest = parameter.len() == 64 && parameter.bytes().all(|b| b.is_ascii_hexdigit());
        if !digest || !incoming.message.chat.is_private() {
            return false;
        }
        let Some(search) = &self.search else { return false };
        let kept = match search.started(parameter).await {
            Ok(kept) => kept,
            Err(err) => {
                tracing::error!(error = %err, "could not read an inline start");
                self.reply(incoming, &incoming.texts.try_again(), Keyboard::None).await;
                return true;
            }
        };
        let Some(typed) = kept else {
            self.reply(incoming, &incoming.texts.inline_start_unknown(), Keyboard::None).await;
            return true;
        };
        match Prompt::parse(&typed, self.settings.max_prompt_chars) {
            Ok(prompt) => self.request(incoming, &typed, prompt).await,
            Err(err) => self.reply(incoming, &incoming.texts.invalid_prompt(&err), Keyboard::None).await,
        }
        true
    }

    /// On a miss: offers the similar video already made, if there is one
    /// close enough (nothing recorded or held until the user chooses).
    /// True when the offer was sent.
    pub(super) async fn offer_similar(
        &self,
        incoming: &Incoming<'_>,
        new: &NewRequest,
        prompt: &Prompt,
        recipe: &Recipe,
    ) -> bool {
        let Some(search) = &self.search else { return false };
        // in a group the asker gets what was asked: a question there would be everyone's
        if !incoming.message.chat.is_private() {
            return false;
        }
        // a hit in this replica's cache: no question, no database read
        if self.intake.is_cached(&Wanted::new(prompt.clone(), recipe.clone())).await {
            return false;
        }
        let found = match search.similar_to(prompt, recipe).await {
            Ok(Some(found)) => found,
            Ok(None) => return false,
            Err(err) => {
                tracing::warn!(error = %err, "the similar search failed; making the prompt as asked");
                return false;
            }
        };
        let offer = match search.keep_offer(new, &found).await {
            Ok(offer) => offer,
            Err(err) => {
                tracing::warn!(error = %err, "could not keep an offer; making the prompt as asked");
                return false;
            }
        };
        search.count(OFFERS_MADE).await;
        let texts = incoming.texts;
        let keyboard = Keyboard::Inline(vec![vec![
            InlineButton { text: texts.similar_send_button(), data: CallbackData::Offer { id: offer.id, send: true }.encode() },
            InlineButton { text: texts.similar_make_button(), data: CallbackData::Offer { id: offer.id, send: false }.encode() },
        ]]);
        self.reply(incoming, &texts.similar_offer(&offer.typed), keyboard).await;
        true
    }

    /// ▶️ or ✨ under an offer, pressed by `user`: the similar video sent
    /// by its `file_id`, or the user's own wording made. Returns the
    /// press's notice.
    pub(super) async fn offer_pressed(
        &self,
        query: &CallbackQuery,
        user: UserId,
        id: i64,
        send: bool,
        texts: &dyn Texts,
    ) -> String {
        let Some(search) = &self.search else { return texts.button_expired() };
        let taken = match search.take_offer(id, user, send).await {
            Ok(taken) => taken,
            Err(err) => {
                tracing::error!(error = %err, "could not answer an offer");
                return texts.try_again();
            }
        };
        let (offer, asset) = match taken {
            Taken::Yours { offer, asset } => (offer, asset),
            Taken::NotYours => return texts.similar_not_yours(),
            Taken::Gone => return texts.similar_answered(),
            Taken::VideoGone => return texts.similar_gone(),
        };
        // the choice is made: the buttons go
        if let Some(MaybeInaccessibleMessage::Regular(message)) = &query.message
            && let Err(err) = self.sender.edit_keyboard(ChatId(message.chat.id.0), MessageId(i64::from(message.id.0)), &[]).await
        {
            tracing::debug!(error = %err, "could not remove an offer's buttons");
        }
        let chat = offer.chat_id;
        let lang_texts = offer.language.texts();
        let (raw_text, wanted) = match asset {
            Some(asset) => match Prompt::parse(&asset.prompt, usize::MAX) {
                Ok(prompt) => (asset.typed().to_owned(), Wanted::new(prompt, asset.recipe())),
                Err(_) => return texts.similar_gone(),
            },
            None => {
                let prompt = match Prompt::parse(&offer.raw_text, self.settings.max_prompt_chars) {
                    Ok(prompt) => prompt,
                    Err(err) => return lang_texts.invalid_prompt(&err),
                };
                match self.intake.recipe_for(user, None).await {
                    Ok(recipe) => (offer.raw_text.clone(), Wanted::new(prompt, recipe)),
                    Err(err) => {
                        tracing::error!(error = %err, "could not read a user's choices");
                        return texts.try_again();
                    }
                }
            }
        };
        let new = NewRequest {
            user_id: offer.user_id,
            chat_id: chat,
            message_id: offer.message_id,
            // offers are made in private chats only: no forum topic
            thread_id: None,
            raw_text,
            language: offer.language,
        };
        let refused = match self.intake.request_video(new, wanted).await {
            Ok(Admitted::Recorded) => None,
            Ok(Admitted::Refused(refusal)) => Some(refusal),
            Err(err) => {
                tracing::error!(error = %err, "could not record a request from an offer");
                return texts.try_again();
            }
        };
        if let Some(refusal) = refused {
            let (text, keyboard) = match refusal {
                Refusal::Credits { price, balance } => {
                    (lang_texts.not_enough_credits(price, balance), Self::buy_buttons(&self.credits.packages(), lang_texts))
                }
                Refusal::Waiting { max } => (lang_texts.too_many_waiting(max), Keyboard::None),
                Refusal::Rate { retry_after } => (lang_texts.rate_limited(retry_after), Keyboard::None),
            };
            if let Err(err) = self.sender.text(chat, &text, None, keyboard, Priority::Interactive, None).await {
                tracing::warn!(error = %err, "could not tell why an offer's request was refused");
            }
        }
        if send { texts.similar_sending() } else { texts.similar_making() }
    }
}
