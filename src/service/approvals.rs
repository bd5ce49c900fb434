//! Approvals (`APPROVALS`): a generation stops at its gates — after the
//! script, the images, the clips — until the requester or an operator
//! approves it, rejects it, or the time runs out.
//!
//! A generation waiting for a person holds no worker slot and no lease:
//! its job ends at the gate ([`Approvals::stop`]), the asset is `awaiting`
//! and an `approvals` row is pending. A decision ([`Approvals::decide`]) is
//! a conditional update of that row, so of two racing presses one wins and
//! the other changes nothing; an approval moves the asset to its next
//! generation with the finished steps carried over and dispatches it (the
//! job resumes where it stopped and passes the gates already approved); a
//! rejection or a timeout ([`Approvals::sweep`], run by the reconciler)
//! fails the asset and every waiting request, and the waiters are told.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;

use super::{Delivery, Dispatcher, Generations};
use crate::config::{ApprovalMode, ApprovalSettings};
use crate::db::approvals::{self, Approval, Decided};
use crate::db::cancel::HandedOver;
use crate::db::stages::{self, StageKind, StageStatus, StepKey, WHOLE};
use crate::db::{assets, languages};
use crate::domain::{Actor, ApprovalId, ApprovalState, CallbackData, ChatId, Decision, Gate, Generation, Stage, UserId};
use crate::telegram::api::{InlineButton, Keyboard, MediaKind};
use crate::telegram::limiter::Priority;
use crate::telegram::sender::Sender;
use crate::texts::{Lang, Texts};

/// Images shown at the images gate, clips at the clips gate.
const IMAGES_SHOWN: usize = 5;
const CLIPS_SHOWN: usize = 3;

/// A prompt whose sender took it this long ago without recording its
/// messages is sent again (the sender died).
const PROMPT_CLAIM: Duration = Duration::from_secs(60);

fn claim_length() -> chrono::Duration {
    chrono::Duration::from_std(PROMPT_CLAIM).unwrap_or(chrono::Duration::minutes(1))
}

/// How long to wait before asking again when no approver could be sent
/// the prompt: as long as the approval has waited so far (so the tries
/// thin out, each gap about double the last, while an approver has
/// blocked the bot), at least 2 s and at most 5 minutes.
fn ask_again_after(waited: chrono::Duration) -> chrono::Duration {
    waited.clamp(chrono::Duration::seconds(2), chrono::Duration::minutes(5))
}

/// What a press (or a reply-keyboard button) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPress {
    /// This press decided it.
    Decided(ApprovalState),
    /// Decided before (another press, or the timeout): nothing changed.
    Already(ApprovalState),
    /// The presser may not decide this one: nothing changed.
    NotAllowed,
    /// Nothing to decide (unknown approval, or none pending for the user).
    Nothing,
}

/// One person asked to decide, in their language, with the prompt as they
/// read it.
#[derive(Debug, Clone)]
struct Recipient {
    chat: ChatId,
    user: UserId,
    lang: Lang,
    prompt: String,
}

pub struct Approvals {
    db: DatabaseConnection,
    sender: Sender,
    dispatcher: Arc<Dispatcher>,
    delivery: Arc<Delivery>,
    settings: Option<ApprovalSettings>,
    admins: HashSet<UserId>,
    /// Operators' languages as last recorded by this process.
    languages: moka::sync::Cache<UserId, Lang>,
}

impl Approvals {
    pub fn new(
        db: DatabaseConnection,
        sender: Sender,
        dispatcher: Arc<Dispatcher>,
        delivery: Arc<Delivery>,
        settings: Option<ApprovalSettings>,
        admins: HashSet<UserId>,
    ) -> Self {
        let languages = moka::sync::Cache::builder().max_capacity(10_000).build();
        Self { db, sender, dispatcher, delivery, settings, admins, languages }
    }

    /// True when approvals are on (any gate asks).
    pub fn enabled(&self) -> bool {
        self.settings.is_some()
    }

    /// Notes `user`'s language from a message or press of theirs, for
    /// the prompts sent to operators. Only operators' languages are kept
    /// (a requester is asked in the language of their request), and a
    /// row is written only when it changed since this process last saw it.
    #[tracing::instrument(skip(self))]
    pub async fn seen(&self, user: UserId, lang: Lang) {
        if !self.admins.contains(&user) || self.languages.get(&user) == Some(lang) {
            return;
        }
        match languages::remember(&self.db, user, lang).await {
            Ok(()) => self.languages.insert(user, lang),
            Err(err) => tracing::debug!(%user, error = %err, "could not record an operator's language"),
        }
    }

    /// May `job` go on past `gate`? Yes when that gate does not ask, when
    /// nobody can be asked (requester mode with no request waiting), or
    /// when it was approved for this generation (or carried over to it).
    #[tracing::instrument(skip(self), fields(asset_id = %job.asset, generation = job.number))]
    pub async fn passed(&self, job: Generation, gate: Gate) -> Result<bool, DbErr> {
        let Some(settings) = &self.settings else { return Ok(true) };
        if !settings.asks_at(gate) {
            return Ok(true);
        }
        if let Some(approval) = approvals::for_gate(&self.db, job, gate).await? {
            return Ok(approval.state == ApprovalState::Approved);
        }
        if settings.mode == ApprovalMode::Requester && approvals::requester(&self.db, job.asset).await?.is_none() {
            tracing::info!(%gate, "nobody waits for this video to approve it; going on");
            return Ok(true);
        }
        Ok(false)
    }

    /// Ends `job` at `gate`: the asset waits (no lease), the approval is
    /// recorded, the approver gets the preview and the buttons, and the
    /// waiters' notes say what it waits for.
    #[tracing::instrument(skip(self, generations), fields(asset_id = %job.asset, generation = job.number))]
    pub async fn stop(&self, generations: &Generations, job: Generation, gate: Gate) -> Result<bool, DbErr> {
        let Some(settings) = &self.settings else { return Ok(false) };
        let requester = match settings.mode {
            ApprovalMode::Requester => approvals::requester(&self.db, job.asset).await?,
            ApprovalMode::Operators => None,
        };
        let deadline = Utc::now() + chrono::Duration::from_std(settings.timeout).unwrap_or(chrono::Duration::minutes(10));
        let Some(approval) = generations.pause(job, gate, requester, deadline).await? else {
            return Ok(false);
        };
        tracing::info!(approval_id = %approval.id, %gate, "waiting for approval");
        self.prompt(&approval).await?;
        if let Err(err) = self.delivery.update_progress_notes(job.asset, &Stage::AwaitingApproval(gate)).await {
            tracing::debug!(error = %err, "could not update the progress notes");
        }
        Ok(true)
    }

    /// Who is asked: the requester's chat, or every operator's.
    fn recipients(&self, approval: &Approval) -> Vec<(ChatId, UserId)> {
        match (approval.approver_chat_id, approval.approver_user_id) {
            (Some(chat), Some(user)) => vec![(ChatId(chat), UserId(user))],
            (Some(chat), None) => vec![(ChatId(chat), UserId(chat))],
            _ => {
                let mut ids: Vec<i64> = self.admins.iter().map(|u| u.0).collect();
                ids.sort_unstable();
                ids.into_iter().map(|id| (ChatId(id), UserId(id))).collect()
            }
        }
    }

    /// Who is asked, each with their language and the prompt as they read
    /// it: the requester in the language of their request, quoting it as
    /// they typed it; an operator in their own language (from their last
    /// message or request, else `DEFAULT_LANGUAGE`), quoting `typed`.
    async fn audience(&self, approval: &Approval, typed: &str) -> Result<Vec<Recipient>, DbErr> {
        let mut audience = Vec::new();
        for (chat, user) in self.recipients(approval) {
            let own = match approval.approver_user_id {
                Some(_) => languages::request_for(&self.db, user, approval.asset_id).await?,
                None => None,
            };
            let (lang, prompt) = match own {
                Some(request) => (request.language, request.raw_text.trim().to_owned()),
                None => (languages::of(&self.db, user).await?.unwrap_or_default(), typed.to_owned()),
            };
            audience.push(Recipient { chat, user, lang, prompt });
        }
        Ok(audience)
    }

    /// The reply keyboard of someone with a decision pending.
    fn deciding_keyboard(texts: &dyn Texts) -> Keyboard {
        Keyboard::Persistent(vec![
            vec![texts.approve_button(), texts.reject_button()],
            vec![texts.menu_status(), texts.settings_button(), texts.menu_help()],
        ])
    }

    /// The reply keyboard for `user`: with ✅/❌ while they have a decision pending.
    pub async fn keyboard_for(&self, user: UserId, texts: &dyn Texts) -> Keyboard {
        let pending = match self.enabled() {
            true => approvals::oldest_pending_for(&self.db, user, self.admins.contains(&user)).await.ok().flatten(),
            false => None,
        };
        match pending {
            Some(_) => Self::deciding_keyboard(texts),
            None => Keyboard::Persistent(vec![vec![texts.menu_status(), texts.settings_button(), texts.menu_help()]]),
        }
    }

    /// Sends the approval's preview and its ✅/❌ keyboard, once (a claim
    /// on the row), and records the keyboard messages.
    #[tracing::instrument(skip_all, fields(approval_id = %approval.id))]
    pub async fn prompt(&self, approval: &Approval) -> Result<(), DbErr> {
        let stale = Utc::now() - claim_length();
        if !approvals::claim_prompt(&self.db, approval.id, stale).await? {
            return Ok(());
        }
        let Some(asset) = assets::find(&self.db, approval.asset_id).await? else { return Ok(()) };
        let typed = asset.typed().to_owned();
        let job = Generation { asset: approval.asset_id, number: approval.generation };
        let (script, media) = match approval.gate {
            Gate::Script => (Some(self.script_text(job, &typed).await?), Vec::new()),
            Gate::Images => (None, self.step_files(job, StageKind::Image, IMAGES_SHOWN, MediaKind::Photo).await?),
            Gate::Clips => (None, self.step_files(job, StageKind::Clip, CLIPS_SHOWN, MediaKind::Video).await?),
        };
        let mut sent = Vec::new();
        let audience = self.audience(approval, &typed).await?;
        let asked = audience.len();
        for Recipient { chat, lang, prompt, .. } in audience {
            let texts = lang.texts();
            let buttons = vec![vec![
                InlineButton {
                    text: texts.approve_button(),
                    data: CallbackData::Approval { id: approval.id, decision: Decision::Approve }.encode(),
                },
                InlineButton {
                    text: texts.reject_button(),
                    data: CallbackData::Approval { id: approval.id, decision: Decision::Reject }.encode(),
                },
            ]];
            let preview = match &script {
                Some(text) => texts.approval_script(&prompt, text),
                None => texts.approval_media(&prompt, approval.gate),
            };
            let first = self.sender.text(chat, &preview, None, Self::deciding_keyboard(texts), Priority::Interactive, None).await;
            if let Err(err) = first {
                tracing::warn!(%chat, error = %err, "could not send an approval preview");
                continue;
            }
            if !media.is_empty()
                && let Err(err) = self.sender.media(chat, &media, "", Priority::Interactive).await
            {
                tracing::warn!(%chat, error = %err, "could not send the approval album");
            }
            let question = texts.approval_question(&prompt, approval.gate);
            match self.sender.text(chat, &question, None, Keyboard::Inline(buttons), Priority::Interactive, None).await {
                Ok(message) => sent.push((chat, message)),
                Err(err) => tracing::warn!(%chat, error = %err, "could not send the approval buttons"),
            }
        }
        if sent.is_empty() && asked > 0 {
            // Nobody got the buttons: record nothing, so a later sweep asks
            // again (until the deadline decides) — later and later, not at
            // every sweep, while the approvers can't be reached.
            let now = Utc::now();
            let wait = ask_again_after(now - approval.created_at);
            tracing::warn!(asked, wait_secs = wait.num_seconds(), "no approval prompt could be sent; asking again later");
            approvals::release_prompt(&self.db, approval.id, now + wait - claim_length()).await?;
            return Ok(());
        }
        approvals::set_messages(&self.db, approval.id, &sent).await?;
        // A press decided before the messages above were recorded found no
        // message to show the decision under: show it now.
        if let Some(decided) = approvals::find(&self.db, approval.id).await?.filter(|a| a.state != ApprovalState::Pending) {
            self.show_decision(&decided, decided.state).await?;
        }
        Ok(())
    }

    /// The script as the approver reads it; with no script step (the local
    /// renderer), the text that will be rendered.
    async fn script_text(&self, job: Generation, prompt: &str) -> Result<String, DbErr> {
        let key = StepKey { asset_id: job.asset, generation: job.number, kind: StageKind::Script, segment: WHOLE };
        let Some(row) = stages::find(&self.db, key).await?.filter(|r| r.status == StageStatus::Done) else {
            return Ok(prompt.to_owned());
        };
        let Some(script) = row.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()) else {
            return Ok(row.output.unwrap_or_else(|| prompt.to_owned()));
        };
        let mut lines = Vec::new();
        if let Some(title) = script.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
            lines.push(title.trim().to_owned());
        }
        for (i, segment) in script.get("segments").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = |name: &str| segment.get(name).and_then(Value::as_str).unwrap_or_default().trim().to_owned();
            lines.push(format!("{}. {} — {}", i + 1, field("narration"), field("visual")));
        }
        Ok(lines.join("\n"))
    }

    /// The first `limit` finished files of a step kind, in segment order.
    async fn step_files(
        &self,
        job: Generation,
        kind: StageKind,
        limit: usize,
        media: MediaKind,
    ) -> Result<Vec<(PathBuf, MediaKind)>, DbErr> {
        let mut rows: Vec<_> = stages::for_generation(&self.db, job.asset, job.number)
            .await?
            .into_iter()
            .filter(|r| r.kind == kind && r.status == StageStatus::Done)
            .collect();
        rows.sort_by_key(|r| r.segment);
        Ok(rows
            .into_iter()
            .filter_map(|r| r.output.map(PathBuf::from))
            .filter(|p| p.is_file())
            .take(limit)
            .map(|p| (p, media))
            .collect())
    }

    fn may_decide(&self, approval: &Approval, user: UserId) -> bool {
        match approval.approver_user_id {
            Some(requester) => requester == user.0,
            None => self.admins.contains(&user),
        }
    }

    /// A press of ✅ or ❌ under approval `id` by `user`.
    #[tracing::instrument(skip(self))]
    pub async fn decide(self: &Arc<Self>, user: UserId, id: ApprovalId, decision: Decision) -> Result<ApprovalPress, DbErr> {
        let Some(approval) = approvals::find(&self.db, id).await? else { return Ok(ApprovalPress::Nothing) };
        if !self.may_decide(&approval, user) {
            tracing::info!(%user, "refused an approval press from someone who may not decide");
            return Ok(ApprovalPress::NotAllowed);
        }
        // an operator deciding in operators mode is recorded like a /clear
        let operator = approval.approver_user_id.is_none().then_some(Actor::Telegram(user));
        self.settle(id, decision.state(), Some(user), operator.as_ref()).await
    }

    /// An operator's decision from the console: the same as a press of
    /// ✅/❌ (one decision of racing ones wins; the keyboards show it, the
    /// generation is dispatched or fails and its waiters are told), whoever
    /// was asked, and recorded in `operator_actions` with `by`.
    #[tracing::instrument(skip(self), fields(by = %by))]
    pub async fn decide_as_operator(
        self: &Arc<Self>,
        by: &Actor,
        id: ApprovalId,
        decision: Decision,
    ) -> Result<ApprovalPress, DbErr> {
        let user = match by {
            Actor::Telegram(user) => Some(*user),
            Actor::Console(_) => None,
        };
        self.settle(id, decision.state(), user, Some(by)).await
    }

    /// ✅ / ❌ on the reply keyboard: acts on the user's oldest pending gate.
    pub async fn decide_oldest(self: &Arc<Self>, user: UserId, decision: Decision) -> Result<ApprovalPress, DbErr> {
        match approvals::oldest_pending_for(&self.db, user, self.admins.contains(&user)).await? {
            Some(approval) => self.decide(user, approval.id, decision).await,
            None => Ok(ApprovalPress::Nothing),
        }
    }

    /// Where approval `id` is, if it exists.
    pub async fn state(&self, id: ApprovalId) -> Result<Option<ApprovalState>, DbErr> {
        Ok(approvals::find(&self.db, id).await?.map(|a| a.state))
    }

    /// Moves the approval out of pending; what follows (the keyboards, the
    /// dispatch or the failure notices, the confirmations) runs on its own
    /// task, so the press is answered at once. Should the process die
    /// before it ran, the reconciler dispatches the resumed generation and
    /// tells the waiters of a failure.
    async fn settle(
        self: &Arc<Self>,
        id: ApprovalId,
        state: ApprovalState,
        by: Option<UserId>,
        operator: Option<&Actor>,
    ) -> Result<ApprovalPress, DbErr> {
        let (approval, resumed, failed) = match approvals::decide(&self.db, id, state, by, operator).await? {
            Decided::Now { approval, resumed, failed } => (approval, resumed, failed),
            Decided::Already(state) => return Ok(ApprovalPress::Already(state)),
            Decided::Unknown => return Ok(ApprovalPress::Nothing),
        };
        tracing::info!(approval_id = %id, asset_id = %approval.asset_id, gate = %approval.gate, ?state, failed, "approval decided");
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(err) = this.aftermath(&approval, state, resumed, failed).await {
                tracing::warn!(error = %err, "could not finish an approval's follow-ups; the reconciler will");
            }
        });
        Ok(ApprovalPress::Decided(state))
    }

    async fn aftermath(
        &self,
        approval: &Approval,
        state: ApprovalState,
        resumed: Option<Generation>,
        failed: u64,
    ) -> Result<(), DbErr> {
        let audience = self.show_decision(approval, state).await?;
        if let Some(job) = resumed {
            self.dispatcher.dispatch(job).await;
            if let Err(err) = self.delivery.update_progress_notes(job.asset, &Stage::Queued).await {
                tracing::debug!(error = %err, "could not update the progress notes");
            }
        }
        if failed > 0 {
            self.delivery.notify_failures().await?;
        }
        self.confirm(&audience, state, None).await;
        Ok(())
    }

    /// The keyboards under an approval's messages show how it ended, each
    /// in its reader's language. Returns who was asked.
    async fn show_decision(&self, approval: &Approval, state: ApprovalState) -> Result<Vec<Recipient>, DbErr> {
        let typed = assets::find(&self.db, approval.asset_id).await?.map(|a| a.typed().to_owned()).unwrap_or_default();
        let audience = self.audience(approval, &typed).await?;
        let lang_of = |chat: ChatId| audience.iter().find(|r| r.chat == chat).map_or_else(Lang::default, |r| r.lang);
        for (chat, message) in approvals::messages(approval) {
            let texts = lang_of(chat).texts();
            let shown = vec![vec![InlineButton {
                text: texts.decided_button(state),
                data: CallbackData::Decided { id: approval.id }.encode(),
            }]];
            if let Err(err) = self.sender.edit_keyboard(chat, message, &shown).await {
                tracing::debug!(%chat, error = %err, "could not show the decision under an approval message");
            }
        }
        Ok(audience)
    }

    /// Tells the approvers how it ended, each in their language, with a
    /// reply keyboard that drops ✅/❌ once nothing is left for them —
    /// except `quiet`, who is answered otherwise (the user whose /cancel
    /// ended it).
    async fn confirm(&self, audience: &[Recipient], state: ApprovalState, quiet: Option<UserId>) {
        for recipient in audience.iter().filter(|r| Some(r.user) != quiet) {
            let texts = recipient.lang.texts();
            let keyboard = self.keyboard_for(recipient.user, texts).await;
            let text = texts.approval_done(state);
            if let Err(err) = self.sender.text(recipient.chat, &text, None, keyboard, Priority::Interactive, None).await {
                tracing::debug!(chat = %recipient.chat, error = %err, "could not confirm a decision");
            }
        }
    }

    /// Approvals ended by `by`'s /cancel (their generation was called off:
    /// nobody else waited): the keyboards show it, and the other approvers
    /// (operators) are told; `by` is answered by /cancel itself.
    #[tracing::instrument(skip_all, fields(by = %by))]
    pub async fn withdrawn(&self, ended: &[Approval], by: UserId) {
        for approval in ended {
            tracing::info!(approval_id = %approval.id, asset_id = %approval.asset_id, "approval cancelled with its request");
            match self.show_decision(approval, approval.state).await {
                Ok(audience) => self.confirm(&audience, approval.state, Some(by)).await,
                Err(err) => tracing::warn!(approval_id = %approval.id, error = %err, "could not show a cancelled approval"),
            }
        }
    }

    /// Approvals passed on by `by`'s /cancel to the next requester waiting
    /// for the same video: the withdrawn requester's keyboard shows
    /// `✖️ Cancelled` (their press would change nothing now), and the next
    /// one is asked — the preview and the buttons, in their language.
    #[tracing::instrument(skip_all, fields(by = %by))]
    pub async fn handed_over(&self, handed: &[HandedOver], by: UserId) {
        for HandedOver { before, now } in handed {
            tracing::info!(approval_id = %now.id, to = ?now.approver_user_id, "approval passed to the next requester");
            if let Err(err) = self.show_decision(before, ApprovalState::Cancelled).await {
                tracing::debug!(approval_id = %before.id, error = %err, "could not close the withdrawn requester's keyboard");
            }
            if let Err(err) = self.prompt(now).await {
                tracing::warn!(approval_id = %now.id, error = %err, "could not ask the next requester; the reconciler will");
            }
        }
    }

    /// The reconciler's part: approvals past their deadline fail their
    /// generation ("no answer in time"); prompts never sent are sent.
    pub async fn sweep(self: &Arc<Self>) -> Result<usize, DbErr> {
        if !self.enabled() {
            return Ok(0);
        }
        let mut done = 0;
        for approval in approvals::overdue(&self.db, Utc::now()).await? {
            if let ApprovalPress::Decided(_) = self.settle(approval.id, ApprovalState::TimedOut, None, None).await? {
                tracing::info!(approval_id = %approval.id, "no answer in time; the generation is cancelled");
                done += 1;
            }
        }
        let stale = Utc::now() - claim_length();
        for approval in approvals::unprompted(&self.db, stale).await? {
            self.prompt(&approval).await?;
            done += 1;
        }
        Ok(done)
    }
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals").field("settings", &self.settings).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An approver who blocked the bot, swept every second for the default
    /// 10-minute deadline: asked a dozen times, not 600.
    #[test]
    fn an_unreachable_approver_is_asked_less_and_less_often() {
        let deadline = chrono::Duration::minutes(10);
        let (mut now, mut next, mut tries) = (chrono::Duration::zero(), chrono::Duration::zero(), 0);
        let mut gaps = Vec::new();
        while now < deadline {
            if now >= next {
                tries += 1;
                let wait = ask_again_after(now);
                gaps.push(wait);
                next = now + wait;
            }
            now += chrono::Duration::seconds(1);
        }
        assert!((5..=15).contains(&tries), "{tries} tries in 10 minutes");
        assert!(gaps.windows(2).all(|w| w[1] >= w[0]), "gaps never shrink: {gaps:?}");
        assert_eq!(ask_again_after(chrono::Duration::hours(3)), chrono::Duration::minutes(5), "at most 5 minutes apart");
        assert_eq!(ask_again_after(chrono::Duration::zero()), chrono::Duration::seconds(2));
    }
}
