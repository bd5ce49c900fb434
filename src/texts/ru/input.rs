//! Русский: answers to what people send that is not (yet) a prompt to make: bad prompts, voice messages, photos, commands, groups.

use crate::domain::PromptError;
use crate::texts::{InputTexts, ru_count, shorten};

use super::Russian;

impl InputTexts for Russian {
    fn invalid_prompt(&self, err: &PromptError) -> String {
        match err {
            PromptError::Empty => {
                "В этом сообщении нет текста, с которым я могу работать. Пришлите запрос, например: С днём рождения, Маша"
                    .to_owned()
            }
            PromptError::TooLong { chars, max } => {
                format!(
                    "Длина запроса — {}, а можно не больше {max}. Пришлите, пожалуйста, покороче.",
                    ru_count(i64::try_from(*chars).unwrap_or(i64::MAX), "символ", "символа", "символов")
                )
            }
        }
    }

    fn not_text(&self) -> String {
        "Я делаю видео только из текста. Пришлите запрос текстовым сообщением, например: С днём рождения, Маша".to_owned()
    }

    fn voice_off(&self) -> String {
        "Здесь я не могу слушать голосовые сообщения. Напишите, пожалуйста, запрос текстом, например: С днём рождения, Маша"
            .to_owned()
    }

    fn voice_too_big(&self) -> String {
        "Это голосовое сообщение для меня слишком длинное (больше 20 МБ). Пришлите покороче или напишите запрос текстом."
            .to_owned()
    }

    fn voice_failed(&self) -> String {
        "Извините, сейчас не получилось разобрать это голосовое сообщение. Попробуйте ещё раз чуть позже или напишите запрос текстом."
            .to_owned()
    }

    fn voice_silent(&self) -> String {
        "Я не расслышал в этом голосовом сообщении ни одного слова. Попробуйте ещё раз или напишите запрос текстом.".to_owned()
    }

    fn heard(&self, text: &str) -> String {
        format!("🎙 Я услышал: «{}»", shorten(text, 300))
    }

    fn remix_ask(&self) -> String {
        "📷 Отличное фото! Что должно на нём происходить? Пришлите описание (например: она машет рукой и улыбается) — и я его оживлю. /cancel — отменить."
            .to_owned()
    }

    fn photo_too_big(&self) -> String {
        "Это фото для меня слишком большое (больше 20 МБ). Пришлите фото поменьше или отправьте его как фото, а не как файл."
            .to_owned()
    }

    fn remix_cancelled(&self) -> String {
        "Хорошо, я больше не жду описания для вашего фото.".to_owned()
    }

    fn unknown_command(&self, command: &str) -> String {
        format!("Я не знаю команду {command}. Попробуйте /help.")
    }

    fn video_usage(&self) -> String {
        "Напишите после /video, что должно быть в видео, например: /video рыжая лиса в снегу.".to_owned()
    }

    fn in_private_chat(&self) -> String {
        "Это только для вас: отвечу в нашем личном чате.".to_owned()
    }

    fn private_chat_button(&self) -> String {
        "💬 Открыть личный чат".to_owned()
    }

    fn addressed_to_another_bot(&self) -> String {
        "Эта команда адресована другому боту. Попробуйте /help.".to_owned()
    }
}
