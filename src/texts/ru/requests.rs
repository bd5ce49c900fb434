//! Русский: a request's life as its user reads it: progress, the video, failures, /status, /history and /cancel.

use crate::domain::{AssetStatus, Failure, RefusalSource, RequestStatus, Stage};
use crate::texts::{ApprovalTexts, HistoryItem, RequestTexts, StatusLine, ru_count, shorten};

use super::Russian;

impl RequestTexts for Russian {
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
                    reason.categories.iter().map(|c| super::category(*c)).collect::<Vec<_>>().join(", ")
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
