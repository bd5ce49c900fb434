//! Русский: the menu, the settings and help: the buttons people press to find their way.

use crate::domain::{Choice, Choices, Length, Quality};
use crate::texts::{MenuTexts, ru_count, ru_form};

use super::Russian;

impl MenuTexts for Russian {
    fn help(&self, max_prompt_chars: usize) -> String {
        format!(
            "🎬 Я превращаю текст в короткое видео.\n\n\
             Пришлите мне запрос — имя для поздравления, товар для рекламы — и я пришлю видео. \
             Если кто-то уже просил то же самое, вы получите его сразу.\n\n\
             • Просто напишите запрос (до {max_prompt_chars} {}).\n\
             • /status — ваши последние запросы.\n\
             • /history — ваши последние видео, чтобы получить любое ещё раз.\n\
             • /cancel — отменить запросы, которые ещё ждут видео.\n\
             • /settings — режим, формат (16:9 или 9:16) и длина следующих видео.\n\
             • /menu — главное меню: новое видео, настройки, история.\n\
             • /help — это сообщение.",
            // «до» takes the genitive: до 1 символа, до 2 символов, до 1000 символов
            ru_form(i64::try_from(max_prompt_chars).unwrap_or(i64::MAX), "символа", "символов", "символов")
        )
    }

    fn quality_label(&self, quality: Quality) -> String {
        match quality {
            Quality::Fast => "Быстро",
            Quality::Quality => "Качество",
        }
        .to_owned()
    }

    fn length_label(&self, length: Length) -> String {
        match length {
            Length::Short => "Коротко",
            Length::Long => "Длинно",
        }
        .to_owned()
    }

    fn settings(&self, choices: Choices, prices: Option<(i64, i64)>) -> String {
        let mut text = format!(
            "⚙️ Ваши настройки для новых видео:\n• Режим: {}\n• Формат: {}\n• Длина: {}",
            self.quality_label(choices.quality),
            choices.format,
            self.length_label(choices.length)
        );
        if let Some((new, cached)) = prices {
            text.push_str(&format!(
                "\n\n💰 С ними новое видео стоит {}, уже готовое — {}.",
                ru_count(new, "кредит", "кредита", "кредитов"),
                ru_count(cached, "кредит", "кредита", "кредитов")
            ));
        }
        text.push_str("\n\nНажмите кнопку, чтобы изменить настройку: она действует со следующего видео.");
        text
    }

    fn setting_chosen(&self, choice: Choice) -> String {
        format!("✅ {} — для следующих видео.", crate::texts::choice_label(self, choice))
    }

    fn settings_button(&self) -> String {
        "⚙️ Настройки".to_owned()
    }

    fn menu_button(&self) -> String {
        "🏠 Главное меню".to_owned()
    }

    fn main_menu(&self) -> String {
        "🏠 Главное меню — что будем делать?".to_owned()
    }

    fn menu_new_video(&self) -> String {
        "🎬 Новое видео".to_owned()
    }

    fn menu_history(&self) -> String {
        "📜 История".to_owned()
    }

    fn menu_balance(&self) -> String {
        "💰 Баланс".to_owned()
    }

    fn new_video_hint(&self) -> String {
        "🎬 Пришлите текст, голосовое сообщение или фото с подписью — я сделаю из этого видео.".to_owned()
    }

    fn menu_status(&self) -> String {
        "📊 Статус".to_owned()
    }

    fn menu_help(&self) -> String {
        "❓ Помощь".to_owned()
    }

    fn command_menu(&self) -> Vec<(&'static str, String)> {
        vec![
            ("start", "что умеет этот бот".to_owned()),
            ("help", "как им пользоваться".to_owned()),
            ("video", "/video <запрос>: видео по нему (и в группах)".to_owned()),
            ("settings", "режим, формат и длина следующих видео".to_owned()),
            ("menu", "главное меню: новое видео, настройки, история".to_owned()),
            ("status", "ваши последние запросы и их состояние (операторам: /status <запрос> — один ассет)".to_owned()),
            ("history", "ваши последние 10 видео, у каждого кнопка, чтобы получить его ещё раз".to_owned()),
            ("cancel", "отменить запросы, которые ещё ждут видео (и ожидание продолжения)".to_owned()),
            ("clear", "только для операторов: /clear <запрос> удаляет видео из кэша, чтобы его сделали заново".to_owned()),
            ("allow", "только для операторов: /allow <запрос> снимает отказ по соображениям безопасности".to_owned()),
            ("stats", "только для операторов: итоги — ассеты, запросы, сэкономленные генерации, расходы".to_owned()),
            ("balance", "ваши кредиты и последние движения по ним".to_owned()),
            ("buy", "купить кредиты за звёзды Telegram".to_owned()),
            ("grant", "только для операторов: /grant <user_id> <кредиты> начисляет (или списывает) кредиты".to_owned()),
            ("refund", "только для операторов: /refund <user_id> <charge_id> возвращает покупку за звёзды".to_owned()),
        ]
    }
}
