//! Русский: credits and fair use: balances, Stars purchases and refunds, and the limits a request may meet.

use std::time::Duration;

use crate::domain::{LedgerKind, StarsPackage};
use crate::texts::{CreditTexts, Movement, ru_count};

use super::Russian;

impl CreditTexts for Russian {
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
}
