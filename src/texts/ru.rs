//! Русский. Counts are mostly written "что: N", which needs no plural
//! form; where a number stands before its noun, `ru_count`/`ru_form` pick
//! the form (1 продолжение, 2 продолжения, 5 продолжений).

use std::time::Duration;

use super::{
    AssetReport, ClearOutcome, ConsoleTexts, HistoryItem, Movement, RefundRefusal, StatsReport, StatusLine, Texts, ru_count,
    ru_form, shorten,
};
use crate::domain::{
    ApprovalState, AssetStatus, Category, Choice, Choices, Failure, Gate, LedgerKind, Length, PromptError, Quality,
    RefusalSource, RequestStatus, Stage, StarsPackage, UserId,
};

/// A signed credit amount for operators: "+1 кредит", "-3 кредита", "+20 кредитов".
fn signed_credits(n: i64) -> String {
    format!("{n:+} {}", ru_form(n, "кредит", "кредита", "кредитов"))
}

pub struct Russian;

/// A moderation category in words.
fn category(category: Category) -> &'static str {
    match category {
        Category::Harassment => "травля",
        Category::HarassmentThreatening => "угрозы",
        Category::Hate => "ненависть",
        Category::HateThreatening => "угрозы на почве ненависти",
        Category::Illicit => "противозаконные действия",
        Category::IllicitViolent => "насильственные преступления",
        Category::SelfHarm => "причинение вреда себе",
        Category::SelfHarmIntent => "намерение причинить себе вред",
        Category::SelfHarmInstructions => "инструкции по причинению вреда себе",
        Category::Sexual => "сексуальный контент",
        Category::SexualMinors => "сексуальный контент с участием несовершеннолетних",
        Category::Violence => "насилие",
        Category::ViolenceGraphic => "натуралистичное насилие",
    }
}

const CLEAR_USAGE: &str =
    "Как пользоваться: /clear <запрос> — запрос сравнивается так же, как при заказе видео (регистр и пробелы не важны).";

fn asset_status(status: AssetStatus) -> &'static str {
    match status {
        AssetStatus::Pending => "в очереди",
        AssetStatus::Generating => "создаётся",
        AssetStatus::Available => "готово",
        AssetStatus::Failed => "не удалось",
        AssetStatus::Awaiting => "ждёт одобрения",
    }
}

static CONSOLE: ConsoleTexts = ConsoleTexts {
    title: "Консоль vidcache",
    off: "Консоль оператора выключена: задайте ADMIN_TOKEN, чтобы её включить.",
    sign_in_title: "Вход",
    token_label: "Токен администратора (ADMIN_TOKEN)",
    name_label: "Ваше имя (записывается вместе с вашими действиями)",
    sign_in: "Войти",
    sign_out: "Выйти",
    wrong_token: "Неверный токен. Ничего не изменено.",
    too_many_sign_ins: "Слишком много неудачных попыток входа. Подождите минуту и попробуйте снова.",
    sign_in_first: "Сначала войдите с токеном администратора. Ничего не изменено.",
    bad_form: "Эта форма устарела или пришла с другого сайта. Обновите страницу и попробуйте снова. Ничего не изменено.",
    not_found: "Не найдено.",
    signed_in_as: "Вы вошли как",
    overview: "Обзор",
    assets: "Видео",
    figures: "Показатели (как в /stats)",
    running: "Идущие генерации",
    waiting: "Ожидающие запросы",
    refused: "Отклонённые запросы",
    search: "Найти",
    prompt_contains: "Запрос содержит",
    any_state: "любое состояние",
    asset: "Видео",
    prompt: "Запрос",
    normalized: "Нормализованный",
    made_with: "Как сделано",
    state: "Состояние",
    generation: "Поколение",
    requests: "Запросы",
    attempts: "Попытки",
    progress: "Ход работы",
    cost: "Вызовы провайдеров и стоимость",
    video: "Видео",
    no_video: "файла видео нет",
    last_error: "Последняя ошибка",
    user: "Пользователь",
    chat: "Чат",
    text: "Текст",
    created: "Создан",
    error: "Ошибка",
    stages: "Этапы",
    step: "Шаг",
    segment: "Сегмент",
    provider: "Провайдер",
    task: "Задача провайдера",
    provider_calls: "Вызовы провайдеров",
    operation: "Операция",
    seconds: "Секунды",
    result: "Результат",
    ok: "успешно",
    failed: "ошибка",
    clear: "Сбросить это видео",
    clear_hint: "То же, что /clear: сохранённое видео и его файл удаляются; следующий запрос создаст его заново.",
    actions: "Действия операторов",
    action: "Действие",
    operator: "Оператор",
    approvals: "Согласования",
    approvals_hint: "Одобрите или отклоните ожидающий шаг, как кнопками ✅/❌ в Telegram; решение записывается с вашим именем.",
    gate: "Шаг",
    approver: "Кто решает",
    operators: "операторы",
    asked_at: "Спрошено",
    deadline: "Срок",
    decided: "Решено",
    approve: "Одобрить",
    reject: "Отклонить",
    user_requests: "Запросы пользователя",
    credits: "Баланс кредитов",
    none: "нет",
    more_not_shown: "Показаны только последние.",
};

impl Texts for Russian {
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
        format!("✅ {} — для следующих видео.", super::choice_label(self, choice))
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

    fn clear_usage(&self) -> String {
        CLEAR_USAGE.to_owned()
    }

    fn status_usage(&self) -> String {
        CLEAR_USAGE.replace("/clear", "/status")
    }

    fn operators_only(&self) -> String {
        "Извините, эта команда только для операторов бота.".to_owned()
    }

    fn clear_refused(&self) -> String {
        "Извините, /clear — только для операторов бота.".to_owned()
    }

    fn allow_usage(&self) -> String {
        "Как пользоваться: /allow <запрос> — снимает отказ по соображениям безопасности для этого запроса (во всех форматах, качествах и длинах), запрос сравнивается как в /clear: следующий заказ сделает видео без модерации и без списка запрещённых слов.".to_owned()
    }

    fn allowed(&self, prompt: &str, lifted: u64) -> String {
        match lifted {
            0 => format!("Для «{prompt}» нет отказа, который можно снять."),
            n => format!("Разрешено «{prompt}»: снято отказов — {n}; следующий заказ этого запроса сделает видео."),
        }
    }

    fn cleared(&self, prompt: &str, outcome: ClearOutcome) -> String {
        match outcome {
            ClearOutcome::Cleared => format!("«{prompt}» удалено из кэша. Следующий запрос создаст новое видео."),
            ClearOutcome::Unknown => format!("Для «{prompt}» в кэше ничего нет."),
            ClearOutcome::InProgress => format!("«{prompt}» создаётся прямо сейчас; удалите его, когда оно будет готово."),
            ClearOutcome::AlreadyClear => format!("Для «{prompt}» нет готового видео; следующий запрос создаст новое."),
        }
    }

    fn stage(&self, stage: &Stage) -> String {
        match stage {
            Stage::Queued => "в очереди".to_owned(),
            Stage::Waiting => "ждёт свободного места".to_owned(),
            Stage::Requeued => "снова в очереди после перерыва".to_owned(),
            Stage::Interrupted => "прервано, скоро продолжится".to_owned(),
            Stage::Generating { attempt, of } => format!("создаётся, попытка {attempt} из {of}"),
            Stage::Script => "Пишу сценарий".to_owned(),
            Stage::Assembling => "Собираю видео".to_owned(),
            Stage::Uploading => "загружаю".to_owned(),
            Stage::AwaitingApproval(gate) => format!("ждёт одобрения: {}", self.gate_name(*gate)),
            Stage::Steps(counts) => {
                let mut parts = Vec::new();
                if counts.images > 0 {
                    parts.push(format!("картинки {}/{}", counts.images_done, counts.images));
                }
                if counts.clips > 0 {
                    parts.push(format!("клипы {}/{}", counts.clips_done, counts.clips));
                }
                if counts.voice_ready {
                    parts.push("озвучка готова".to_owned());
                }
                if counts.assembled {
                    parts.push("видео собрано".to_owned());
                }
                let text = parts.join(", ");
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => "в работе".to_owned(),
                }
            }
        }
    }

    fn being_made(&self, stage: Option<&Stage>) -> String {
        match stage {
            Some(stage) => {
                format!("⏳ Ваше видео создаётся ({}). Пришлю его сюда, как только оно будет готово.", self.stage(stage))
            }
            None => "⏳ Ваше видео создаётся. Пришлю его сюда, как только оно будет готово.".to_owned(),
        }
    }

    fn caption(&self, prompt: &str) -> String {
        shorten(prompt, 1000)
    }

    fn failure(&self, reason: &Failure) -> String {
        match reason {
            Failure::Rejected => "его отклонили при одобрении".to_owned(),
            Failure::TimedOut => "его никто не одобрил вовремя".to_owned(),
            Failure::Cancelled => "его отменили".to_owned(),
            Failure::Cleared => "его удалил оператор".to_owned(),
            Failure::NotStored => "видео больше не хранится".to_owned(),
            Failure::ParentGone => "видео, которое нужно продолжить, больше недоступно".to_owned(),
            Failure::Refused(reason) => match reason.source {
                RefusalSource::Moderation if reason.categories.is_empty() => {
                    "проверка безопасности отклонила этот запрос".to_owned()
                }
                RefusalSource::Moderation => format!(
                    "проверка безопасности отклонила этот запрос: {}",
                    reason.categories.iter().map(|c| category(*c)).collect::<Vec<_>>().join(", ")
                ),
                RefusalSource::BlockedWords => "в нём есть слова, по которым этот бот не делает видео".to_owned(),
                RefusalSource::Provider => "фильтры безопасности сервиса генерации отклонили этот запрос".to_owned(),
            },
            Failure::CannotRun(_) => "такое видео здесь сейчас сделать нельзя".to_owned(),
            Failure::Attempts { attempts, .. } => {
                format!("ничего не вышло за {}", ru_count(i64::from(*attempts), "попытку", "попытки", "попыток"))
            }
            Failure::TooBig { .. } => "видео получилось больше, чем Telegram разрешает ботам (50 МБ)".to_owned(),
            Failure::Upload(_) => "Telegram не принял видео".to_owned(),
            Failure::Unreachable(_) => "Telegram не смог доставить его в этот чат".to_owned(),
            Failure::Other(_) => "что-то пошло не так".to_owned(),
        }
    }

    fn generation_failed(&self, prompt: &str, reason: &Failure) -> String {
        if let Failure::Refused(_) = reason {
            return format!(
                "😞 Извините, не получилось сделать видео для «{}»: {}.\nПовторный запрос этого не изменит: попробуйте другими словами.",
                self.caption(prompt),
                self.failure(reason)
            );
        }
        format!(
            "😞 Извините, не получилось сделать видео для «{}»: {}.\nПришлите запрос ещё раз, чтобы попробовать снова.",
            self.caption(prompt),
            self.failure(reason)
        )
    }

    fn try_again(&self) -> String {
        "⚠️ У меня сейчас неполадки, и я не смог принять ваш запрос. Пришлите его ещё раз через минуту.".to_owned()
    }

    fn status_empty(&self) -> String {
        "Вы ещё не заказывали видео. Пришлите мне запрос!".to_owned()
    }

    fn status_header(&self) -> String {
        "Ваши последние запросы:".to_owned()
    }

    fn status_line(&self, line: &StatusLine<'_>) -> String {
        let short = shorten(line.prompt, 60);
        let state = match (line.request, line.asset) {
            (RequestStatus::Completed, _) => "✅ отправлено".to_owned(),
            (RequestStatus::Failed, _) => {
                format!("❌ не удалось{}", line.error.map(|e| format!(": {}", self.failure(e))).unwrap_or_default())
            }
            (RequestStatus::Pending, Some(AssetStatus::Generating | AssetStatus::Awaiting)) => {
                format!("⏳ создаётся{}", line.stage.map(|s| format!(" ({})", self.stage(&s))).unwrap_or_default())
            }
            (RequestStatus::Pending, Some(AssetStatus::Available)) => "📤 отправляется".to_owned(),
            (RequestStatus::Pending, _) => "⏳ в очереди".to_owned(),
            (RequestStatus::Cancelled, _) => "✖️ отменено".to_owned(),
        };
        format!("• «{short}» — {state}")
    }

    fn asset_report(&self, r: &AssetReport<'_>) -> String {
        let mut lines = vec![format!("«{}» (ассет {})", self.caption(r.prompt), r.asset_id)];
        if let Some(normalized) = r.normalized {
            lines.push(format!("нормализованный: «{}»", self.caption(normalized)));
        }
        lines.push(format!("как сделано: {}", super::recipe_line(&r.recipe, r.made_with.as_ref())));
        lines.extend([
            format!("состояние: {}, поколение {}, попыток генерации: {}", asset_status(r.status), r.generation, r.attempts),
            format!("запросов: {}", r.requests),
        ]);
        if let Some(stage) = &r.stage {
            lines.push(format!("ход работы: {}", self.stage(stage)));
        }
        if let Some(error) = r.last_error {
            lines.push(format!("последняя ошибка: {} [{}]", self.failure(error), shorten(&error.to_string(), 500)));
        }
        lines.push(format!("вызовы провайдеров: {}", r.costs));
        lines.join("\n")
    }

    fn stats(&self, r: &StatsReport) -> String {
        let assets: Vec<String> = r.assets.iter().map(|(status, n)| format!("{}: {n}", asset_status(*status))).collect();
        let saved = r.completed.saturating_sub(r.generations);
        let mut text = format!(
            "Ассеты — {}\nЗапросы — выполнено: {}, ожидают: {}, не удалось: {}\n\
             Генераций запущено: {}; запросов обслужено без генерации: {saved}\nВызовы провайдеров: {}\n\
             Платных рассылок: {} ({:.1} звёзд)\nЗанято на диске: {}",
            assets.join(", "),
            r.completed,
            r.pending,
            r.failed,
            r.generations,
            r.costs,
            r.paid_sends,
            r.paid_sends as f64 * 0.1,
            super::size(r.disk_used, ["Б", "КБ", "МБ", "ГБ", "ТБ"])
        );
        let f = &r.refusals;
        text.push_str(&format!(
            "\nОтказы — модерация: {}, запрещённые слова: {}, фильтры безопасности провайдеров: {}; отвечено из памяти: {} (не сделано повторных вызовов провайдеров: {}); снято операторами: {}",
            f.moderation, f.blocked_words, f.provider, f.answered, f.calls_saved, f.allowed
        ));
        if let Some(c) = &r.credits {
            text.push_str(&format!(
                "\nКредиты — продано: {} (звёзд: {}), удержано: {}, списано: {}, возвращено: {}, отозвано возвратами: {}",
                c.sold, c.stars, c.held, c.captured, c.released, c.refunded
            ));
        }
        text
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

    fn history_empty(&self) -> String {
        "У вас пока нет видео. Пришлите мне запрос!".to_owned()
    }

    fn history(&self, items: &[HistoryItem<'_>]) -> String {
        let lines: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{}. «{}» — {}", i + 1, shorten(v.prompt, 100), v.made(self)))
            .collect();
        format!("🎞 Ваши последние видео — нажмите на любое, чтобы получить его ещё раз:\n{}", lines.join("\n"))
    }

    fn history_button(&self, n: usize, prompt: &str) -> String {
        format!("🔁 {n}. {}", shorten(prompt, 40))
    }

    fn history_gone(&self) -> String {
        "Этого видео больше нет. Пришлите запрос ещё раз, чтобы получить новое.".to_owned()
    }

    fn cancel_nothing(&self) -> String {
        "У вас нет ожидающих запросов — отменять нечего.".to_owned()
    }

    fn cancelled(&self, prompts: &[&str]) -> String {
        let quoted: Vec<String> = prompts.iter().map(|p| format!("«{}»", shorten(p, 60))).collect();
        format!("✖️ Отменено: {}. Эти видео вам не придут.", quoted.join(", "))
    }

    fn credits_off(&self) -> String {
        "Здесь видео бесплатны: покупать кредиты не нужно.".to_owned()
    }

    fn balance(&self, balance: i64, movements: &[Movement]) -> String {
        let mut lines = vec![format!("💰 Ваш баланс, кредитов: {balance}.")];
        if !movements.is_empty() {
            lines.push("Последние движения:".to_owned());
        }
        for m in movements {
            let what = match m.kind {
                LedgerKind::Grant => "приветственные кредиты",
                LedgerKind::Purchase => "куплено за звёзды",
                LedgerKind::Hold => "удержано за видео",
                LedgerKind::Capture => "видео доставлено (удержание списано)",
                LedgerKind::Release => "возвращено (видео не получилось)",
                LedgerKind::Refund => "покупка возвращена",
                LedgerKind::Adjustment => "изменено оператором",
            };
            lines.push(format!("• {} {:+} — {what}", m.at.format("%Y-%m-%d %H:%M"), m.amount));
        }
        lines.push("/buy — купить ещё".to_owned());
        lines.join("\n")
    }

    fn buy_intro(&self, balance: i64) -> String {
        format!("💰 Ваш баланс, кредитов: {balance}. Выберите пакет, оплата звёздами Telegram:")
    }

    fn package_button(&self, p: &StarsPackage) -> String {
        format!("Кредиты: {} за {} ⭐", p.credits, p.stars)
    }

    fn invoice_title(&self, p: &StarsPackage) -> String {
        format!("Кредиты: {}", p.credits)
    }

    fn invoice_description(&self, p: &StarsPackage) -> String {
        format!("Кредиты на создание видео ({}) за звёзды Telegram ({}).", p.credits, p.stars)
    }

    fn invoice_label(&self, p: &StarsPackage) -> String {
        format!("Кредиты: {}", p.credits)
    }

    fn invoice_sent(&self) -> String {
        "Вот ваш счёт.".to_owned()
    }

    fn button_expired(&self) -> String {
        "Эта кнопка больше не действует.".to_owned()
    }

    fn unknown_package(&self) -> String {
        "Извините, этот пакет больше не продаётся. Отправьте /buy, чтобы увидеть актуальные.".to_owned()
    }

    fn purchased(&self, credits: i64, balance: i64) -> String {
        format!("✅ Спасибо! Начислено кредитов: {credits}. Ваш баланс: {balance}.")
    }

    fn refund_notice(&self, taken: i64, balance: i64) -> String {
        format!("↩️ Покупка возвращена, списано кредитов: {taken}. Ваш баланс: {balance}.")
    }

    fn not_enough_credits(&self, price: i64, balance: i64) -> String {
        format!("💰 Это видео стоит кредитов: {price}, а на вашем балансе: {balance}. Купите кредиты, чтобы заказать его:")
    }

    fn too_many_waiting(&self, max: u32) -> String {
        format!("⏳ У вас уже готовятся видео (в очереди: {max}). Дождитесь одного из них и попросите снова.")
    }

    fn rate_limited(&self, retry_after: Duration) -> String {
        let secs = retry_after.as_secs().max(1);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // «через» takes the accusative: через 1 секунду, 2 секунды, 5 секунд
        let when = if secs < 90 {
            ru_count(count(secs), "секунду", "секунды", "секунд")
        } else {
            ru_count(count(secs.div_ceil(60)), "минуту", "минуты", "минут")
        };
        format!("🐢 Вы просите быстрее, чем я успеваю делать видео. Попробуйте снова через {when}.")
    }

    fn waiting_in_line(&self, ahead: u64) -> String {
        match ahead {
            0 => "⏳ Ваше видео следующее в очереди. Пришлю его сюда, как только оно будет готово.".to_owned(),
            n => format!("⏳ Ваше видео в очереди, перед ним видео: {n}. Пришлю его сюда, как только оно будет готово."),
        }
    }

    fn grant_usage(&self) -> String {
        "Как пользоваться: /grant <user_id> <кредиты> — отрицательное число списывает кредиты.".to_owned()
    }

    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Готово: {} пользователю {user}. Его баланс: {balance}.", signed_credits(amount))
    }

    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Отказано: изменение на {} опустило бы баланс пользователя {user} ({balance}) ниже нуля.", signed_credits(amount))
    }

    fn refund_usage(&self) -> String {
        "Как пользоваться: /refund <user_id> <telegram_payment_charge_id>".to_owned()
    }

    fn refund_done(&self, user: UserId, stars: i64, taken: i64, balance: i64) -> String {
        format!("Пользователю {user} возвращено звёзд: {stars}; списано кредитов: {taken}. Его баланс: {balance}.")
    }

    fn refund_refused(&self, refusal: &RefundRefusal) -> String {
        match refusal {
            RefundRefusal::Unknown => "Отказано: покупки с таким charge id нет.".to_owned(),
            RefundRefusal::OtherUser => "Отказано: эта покупка принадлежит другому пользователю.".to_owned(),
            RefundRefusal::AlreadyRefunded => "Отказано: эта покупка уже возвращена.".to_owned(),
            RefundRefusal::Spent { credits, balance } => {
                format!("Отказано: кредиты этой покупки ({credits}) уже потрачены (баланс: {balance}).")
            }
            RefundRefusal::Telegram(reason) => format!("Telegram отказал: {reason}"),
        }
    }

    fn gate_name(&self, gate: Gate) -> String {
        match gate {
            Gate::Script => "сценарий",
            Gate::Images => "картинки",
            Gate::Clips => "клипы",
        }
        .to_owned()
    }

    fn approval_script(&self, prompt: &str, script: &str) -> String {
        format!("📝 Сценарий для «{}»:\n\n{}", shorten(prompt, 200), shorten(script, 3500))
    }

    fn approval_media(&self, prompt: &str, gate: Gate) -> String {
        let what = match gate {
            Gate::Script => "📝 Сценарий",
            Gate::Images => "🖼 Первые картинки",
            Gate::Clips => "🎞 Первые клипы",
        };
        format!("{what} для «{}» готовы и ждут вашего одобрения.", shorten(prompt, 200))
    }

    fn approval_question(&self, prompt: &str, gate: Gate) -> String {
        format!(
            "Продолжать «{}» после этапа «{}»? Пока вы не решите, больше ничего не тратится.",
            shorten(prompt, 200),
            self.gate_name(gate)
        )
    }

    fn approve_button(&self) -> String {
        "✅ Одобрить".to_owned()
    }

    fn reject_button(&self) -> String {
        "❌ Отклонить".to_owned()
    }

    fn decided_button(&self, state: ApprovalState) -> String {
        match state {
            ApprovalState::Approved => "✅ Одобрено",
            ApprovalState::Rejected => "❌ Отклонено",
            ApprovalState::TimedOut => "⌛ Нет ответа вовремя",
            ApprovalState::Cancelled => "✖️ Отменено",
            ApprovalState::Pending => "⏳ Ждёт решения",
        }
        .to_owned()
    }

    fn approval_done(&self, state: ApprovalState) -> String {
        match state {
            ApprovalState::Approved => "✅ Одобрено — видео делается дальше.",
            ApprovalState::Rejected => "❌ Отклонено — видео отменено.",
            ApprovalState::TimedOut => "⌛ Никто не ответил вовремя — видео отменено.",
            ApprovalState::Cancelled => "✖️ Отменено — запрос отозван, видео больше не делается.",
            ApprovalState::Pending => "⏳ Решение ещё не принято.",
        }
        .to_owned()
    }

    fn approval_already_decided(&self, state: ApprovalState) -> String {
        let how = match state {
            ApprovalState::Approved => "уже одобрено",
            ApprovalState::Rejected => "уже отклонено",
            ApprovalState::TimedOut => "уже закрыто: никто не ответил вовремя",
            ApprovalState::Cancelled => "уже отменено: запрос отозван",
            ApprovalState::Pending => "ещё не решено",
        };
        format!("Это {how}; ничего не изменилось.")
    }

    fn approval_not_yours(&self) -> String {
        "Решать может только тот, кто заказал это видео (или оператор, если так настроено); ничего не изменилось.".to_owned()
    }

    fn approval_nothing_pending(&self) -> String {
        "Сейчас ничего не ждёт вашего одобрения.".to_owned()
    }

    fn console(&self) -> &'static ConsoleTexts {
        &CONSOLE
    }
}

impl super::SearchTexts for Russian {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StepCounts;

    #[test]
    fn stages_read_in_russian() {
        let t = Russian;
        let counts = StepCounts { images_done: 7, images: 10, clips_done: 3, clips: 10, ..Default::default() };
        assert_eq!(t.stage(&Stage::Steps(counts)), "Картинки 7/10, клипы 3/10");
        assert_eq!(
            t.being_made(Some(&Stage::Uploading)),
            "⏳ Ваше видео создаётся (загружаю). Пришлю его сюда, как только оно будет готово."
        );
    }
}
