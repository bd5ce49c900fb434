//! Русский: the catalog search's texts.

use crate::texts::{SearchTexts, shorten};

use super::Russian;

impl SearchTexts for Russian {
    fn similar_offer(&self, typed: &str) -> String {
        format!(
            "🔎 Уже есть видео по очень похожему запросу:\n«{}»\n\n▶️ — прислать его сейчас; ✨ — сделать по вашим словам.",
            shorten(typed, 300)
        )
    }

    fn similar_send_button(&self) -> String {
        "▶️ Прислать это видео".to_owned()
    }

    fn similar_make_button(&self) -> String {
        "✨ Сделать моё".to_owned()
    }

    fn similar_sending(&self) -> String {
        "▶️ Отправляю это видео.".to_owned()
    }

    fn similar_making(&self) -> String {
        "✨ Делаю видео по вашим словам.".to_owned()
    }

    fn similar_gone(&self) -> String {
        "Этого видео больше нет. Нажмите ✨, чтобы сделать своё.".to_owned()
    }

    fn similar_not_yours(&self) -> String {
        "Этот выбор — для другого пользователя.".to_owned()
    }

    fn similar_answered(&self) -> String {
        "Вы уже выбрали.".to_owned()
    }

    fn inline_make_button(&self, prompt: &str) -> String {
        format!("🎬 Сделать «{}»", shorten(prompt, 40))
    }

    fn inline_start_unknown(&self) -> String {
        "Эта ссылка устарела: пришлите запрос сообщением.".to_owned()
    }

    fn search_stats(&self, inline_answers: i64, inline_sends: i64, offered: i64, accepted: i64, declined: i64) -> String {
        format!(
            "Поиск: ответов в inline-режиме {inline_answers}, отправлено из inline {inline_sends}; похожих видео предложено {offered}, принято {accepted} (без генерации), отклонено {declined}"
        )
    }
}
