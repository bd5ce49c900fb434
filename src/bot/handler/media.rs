//! Photos (a remix) and voice messages (transcribed into a prompt).

use teloxide::types::Voice;

use crate::bot::BotError;
use crate::bot::voice::VoiceError;
use crate::domain::{MessageId, Prompt, PromptError, Wanted};
use crate::service::Remixes;
use crate::service::intake::{Admitted, NewRequest};
use crate::service::remix::{PhotoError, PhotoRef};
use crate::telegram::api::Keyboard;
use crate::telemetry::measure::{self, RequestOutcome};

use super::{Incoming, UpdateHandler};

impl UpdateHandler {
    /// A photo (or an image sent as a file): with words, a request to
    /// animate it; without, the bot asks what should happen in it and
    /// takes the user's next text as its words. Nothing is recorded for a
    /// photo that can't be downloaded (over 20 MB).
    pub(super) async fn on_photo(&self, incoming: &Incoming<'_>, remixes: &Remixes, photo: PhotoRef, caption: Option<&str>) {
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
            thread_id: incoming.thread,
        };
        let admitted = match self.intake.recipe_for(incoming.user, Some(digest)).await {
            Ok(recipe) => self.intake.request_video(new, Wanted::new(prompt, recipe)).await,
            Err(err) => Err(err),
        };
        self.answer_admitted(incoming, admitted.map_err(BotError::db("recording a request from a photo"))).await;
    }

    /// A voice message: transcribed, then handled like the typed prompt.
    pub(super) async fn on_voice(&self, incoming: &Incoming<'_>, voice: &Voice) {
        let texts = incoming.texts;
        let Some(transcriber) = &self.transcriber else {
            return self.reply(incoming, &texts.voice_off(), Keyboard::None).await;
        };
        // nothing is paid (a transcription) for a request that would be refused
        // for the rate limit, waiting requests or credits
        match self.intake.would_refuse(incoming.user).await {
            Ok(None) => {}
            Ok(Some(refusal)) => return self.answer_admitted(incoming, Ok(Admitted::Refused(refusal))).await,
            Err(err) => {
                tracing::error!(error = %err, "could not check the limits before a transcription");
                return self.reply(incoming, &texts.try_again(), Keyboard::None).await;
            }
        }
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
}
