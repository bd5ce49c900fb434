//! Русский: approvals: previews for the approver, the ✅/❌ buttons and the answers to a press.

use crate::domain::{ApprovalState, Gate};
use crate::texts::{ApprovalTexts, shorten};

use super::Russian;

impl ApprovalTexts for Russian {
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
}
