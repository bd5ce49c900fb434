//! Русский: what operators read: /clear, /allow, an asset's report, /stats, grants and refunds, the console's labels.

use crate::domain::UserId;
use crate::texts::{AssetReport, ClearOutcome, ConsoleTexts, OperatorTexts, RefundRefusal, RequestTexts, StatsReport, shorten};

use super::Russian;

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

impl OperatorTexts for Russian {
    fn clear_usage(&self) -> String {
        super::CLEAR_USAGE.to_owned()
    }

    fn status_usage(&self) -> String {
        super::CLEAR_USAGE.replace("/clear", "/status")
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

    fn asset_report(&self, r: &AssetReport<'_>) -> String {
        let mut lines = vec![format!("«{}» (ассет {})", self.caption(r.prompt), r.asset_id)];
        if let Some(normalized) = r.normalized {
            lines.push(format!("нормализованный: «{}»", self.caption(normalized)));
        }
        lines.push(format!("как сделано: {}", crate::texts::recipe_line(&r.recipe, r.made_with.as_ref())));
        lines.extend([
            format!(
                "состояние: {}, поколение {}, попыток генерации: {}",
                super::asset_status(r.status),
                r.generation,
                r.attempts
            ),
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
        let assets: Vec<String> = r.assets.iter().map(|(status, n)| format!("{}: {n}", super::asset_status(*status))).collect();
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
            crate::texts::size(r.disk_used, ["Б", "КБ", "МБ", "ГБ", "ТБ"])
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

    fn grant_usage(&self) -> String {
        "Как пользоваться: /grant <user_id> <кредиты> — отрицательное число списывает кредиты.".to_owned()
    }

    fn granted(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!("Готово: {} пользователю {user}. Его баланс: {balance}.", super::signed_credits(amount))
    }

    fn grant_refused(&self, user: UserId, amount: i64, balance: i64) -> String {
        format!(
            "Отказано: изменение на {} опустило бы баланс пользователя {user} ({balance}) ниже нуля.",
            super::signed_credits(amount)
        )
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

    fn console(&self) -> &'static ConsoleTexts {
        &CONSOLE
    }
}
