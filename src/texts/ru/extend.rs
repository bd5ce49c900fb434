//! Русский: "➕ Extend": asking for a continuation and why one can't be made.

use std::time::Duration;

use crate::domain::Choices;
use crate::texts::{ExtendTexts, MenuTexts, ru_count, shorten};

use super::Russian;

impl ExtendTexts for Russian {
    fn extend_button(&self) -> String {
        "➕ Продолжить".to_owned()
    }

    fn extend_ask(&self, prompt: &str, choices: Choices) -> String {
        let quality = self.quality_label(choices.quality);
        format!(
            "➕ Что будет дальше в «{prompt}»? ({}, {quality}) Пришлите продолжение следующим сообщением — я добавлю его в конец этого видео. /cancel — отмена.",
            choices.format
        )
    }

    fn extend_unavailable(&self) -> String {
        "Это видео больше нельзя продолжить: его удалили или делают заново. Сначала пришлите его запрос ещё раз.".to_owned()
    }

    fn extend_limit(&self, max: i32) -> String {
        format!(
            "Это видео уже нельзя продолжить: {} подряд — это предел. Продолжите более раннее или пришлите новый запрос.",
            ru_count(i64::from(max), "продолжение", "продолжения", "продолжений")
        )
    }

    fn extend_off(&self) -> String {
        "Продолжение видео в этом боте выключено.".to_owned()
    }

    fn extend_not_yours(&self) -> String {
        "Эта кнопка не для вас: продолжать можно только видео, которые вы заказывали.".to_owned()
    }

    fn extend_expired(&self, prompt: &str, after: Duration) -> String {
        let hours = (after.as_secs() / 3600).max(1);
        format!(
            "Я перестал ждать продолжения «{}» через {}, поэтому этот текст не использован. Нажмите ➕ под видео ещё раз, чтобы продолжить его, или пришлите текст снова, чтобы сделать новое видео.",
            shorten(prompt, 100),
            ru_count(i64::try_from(hours).unwrap_or(i64::MAX), "час", "часа", "часов")
        )
    }

    fn extend_cancelled(&self) -> String {
        "Хорошо, продолжать видео не буду. Пришлите запрос для нового.".to_owned()
    }
}
