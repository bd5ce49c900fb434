//! Approvals at the gates (`APPROVALS`), black-box: the real binary against
//! the fake Bot API (callback queries, answerCallbackQuery,
//! editMessageReplyMarkup, sendMediaGroup, strictly per the method list)
//! and, for the staged pipeline, the fake providers.
//!
//! - all three gates of a pipeline run approved: the script text, an album
//!   of the first 5 images, an album of the first 3 clips, each followed by
//!   one ✅/❌ keyboard; nothing of the next step is paid before the press,
//!   nothing of an earlier step is paid twice after it;
//! - a rejection at each gate: every waiter is told, the asset fails
//!   "rejected", the next request starts afresh (the script is written anew);
//! - no answer in time: the waiter is told, the keyboard shows it;
//! - a restart while waiting: the approval survives and resumes the run;
//! - two operators racing on one approval message (and a stranger pressing):
//!   one decision, every press answered, recorded once in operator_actions;
//! - the reply keyboard's ✅ Approve acting on the oldest pending gate.

use crate::support;

use std::time::Duration;

use crate::support::{ADMIN, Harness, eventually, texts_to, videos_to};
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, TaskKind};
use fakes::telegram::{Faults, Sent};
use sea_orm::EntityTrait;
use serde_json::Value;
use vidcache::db::entities::{approvals, operator_actions};
use vidcache::domain::{ApprovalState, AssetStatus, Failure, Gate, RequestStatus};

const SEGMENTS: usize = 6;
const LONG: Duration = Duration::from_secs(60);

/// One ✅/❌ keyboard message the bot sent.
#[derive(Debug, Clone)]
struct Keyboard {
    message_id: i64,
    approve: String,
    reject: String,
    approve_text: String,
    reject_text: String,
}

fn keyboards_to(sent: &[Sent], chat: i64) -> Vec<Keyboard> {
    sent.iter()
        .filter(|s| s.chat_id == chat && s.method == "sendMessage")
        .filter_map(|s| {
            let rows = s.reply_markup.as_ref()?.get("inline_keyboard")?.as_array()?.clone();
            let buttons: Vec<&Value> = rows.iter().filter_map(Value::as_array).flatten().collect();
            let field = |i: usize, name: &str| buttons.get(i)?.get(name)?.as_str().map(str::to_owned);
            Some(Keyboard {
                message_id: s.message_id,
                approve: field(0, "callback_data")?,
                reject: field(1, "callback_data")?,
                approve_text: field(0, "text")?,
                reject_text: field(1, "text")?,
            })
        })
        .collect()
}

fn albums_to(sent: &[Sent], chat: i64) -> Vec<Vec<String>> {
    sent.iter().filter(|s| s.chat_id == chat && s.method == "sendMediaGroup").map(|s| s.media.clone()).collect()
}

/// Waits for the `nth` approval keyboard sent to `chat`.
async fn keyboard(h: &Harness, chat: i64, nth: usize) -> Keyboard {
    let ok = h.fake.wait_for(move |sent| keyboards_to(sent, chat).len() > nth, LONG).await;
    assert!(ok, "chat {chat} never got approval keyboard #{nth}; sent: {:#?}\n{}", h.fake.sent_to(chat), h.logs());
    let keyboard = keyboards_to(&h.fake.sent(), chat)[nth].clone();
    assert!(keyboard.approve_text.starts_with('✅') && keyboard.reject_text.starts_with('❌'), "{keyboard:?}");
    assert!(keyboard.approve.len() <= 64 && keyboard.reject.len() <= 64);
    keyboard
}

/// The keyboard under `message_id` once it shows the decision.
async fn decision_shown(h: &Harness, chat: i64, message_id: i64) -> String {
    let shown = move |sent: &[Sent]| {
        sent.iter()
            .rev()
            .find(|s| s.chat_id == chat && s.message_id == message_id && s.method == "editMessageReplyMarkup")
            .and_then(|s| s.reply_markup.as_ref()?.pointer("/inline_keyboard/0/0/text")?.as_str().map(str::to_owned))
    };
    assert!(h.fake.wait_for(move |sent| shown(sent).is_some(), LONG).await, "the keyboard never showed the decision");
    shown(&h.fake.sent()).unwrap_or_default()
}

async fn approvals_of(h: &Harness) -> Vec<approvals::Model> {
    approvals::Entity::find().all(&h.db().await).await.expect("approvals")
}

async fn providers() -> FakeProviders {
    let config = FakeProvidersConfig { clip_size: (160, 96), image_size: (64, 36), ..Default::default() };
    FakeProviders::start(config).await.expect("fake providers start")
}

/// A harness for a pipeline run against `fake` with approvals by the requester.
async fn pipeline_harness(fake: &FakeProviders) -> Harness {
    let mut h = Harness::new().await;
    let config = fake.config();
    for (name, value) in [
        ("GENERATOR", "pipeline".to_owned()),
        ("OPENAI_API_KEY", config.openai_key.clone()),
        ("OPENAI_BASE_URL", fake.openai_base_url()),
        ("RUNWAYML_API_SECRET", config.runway_secret.clone()),
        ("RUNWAYML_BASE_URL", fake.runway_base_url()),
        ("PIPELINE_SEGMENTS", SEGMENTS.to_string()),
        ("PIPELINE_PARALLELISM", "3".to_owned()),
        ("SEGMENT_SECONDS", "1".to_owned()),
        ("PIPELINE_VIDEO_SIZE", "160x96".to_owned()),
        ("PROVIDER_POLL_INTERVAL_MS", "20".to_owned()),
        ("PROVIDER_HTTP_TIMEOUT_S", "10".to_owned()),
        ("QUEUE_POLL_INTERVAL_MS", "200".to_owned()),
        ("APPROVALS", "requester".to_owned()),
    ] {
        h.set(name, &value);
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_all_three_gates_of_a_pipeline_run_makes_the_video() {
    if !support::have_ffmpeg() {
        return;
    }
    let fake = providers().await;
    let h = pipeline_harness(&fake).await;
    let service = h.spawn();
    let (user, chat) = (501, 501);
    h.fake.push_text(user, chat, "A lighthouse keeper's cat");

    // script: its text, with ✅/❌ on the reply keyboard, then the inline keyboard
    let script = keyboard(&h, chat, 0).await;
    let texts = texts_to(&h.fake.sent(), chat);
    let preview = texts.iter().find(|t| t.starts_with("📝 The script")).expect("the script preview");
    assert!(preview.contains("1. ") && preview.contains(&format!("{SEGMENTS}. ")), "{preview}");
    let with_reply_keyboard =
        h.fake.sent_to(chat).into_iter().any(|s| {
            s.reply_markup.as_ref().and_then(|m| m.get("keyboard")).is_some_and(|k| k.to_string().contains("✅ Approve"))
        });
    assert!(with_reply_keyboard, "the reply keyboard never offered ✅ Approve");
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 0, "images were paid for before the script was approved");
    // /status says what it waits for; the job holds no lease meanwhile
    h.fake.push_text(user, chat, "/status");
    let ok =
        h.fake.wait_for(move |s| texts_to(s, chat).iter().any(|t| t.contains("waiting for approval of the script")), LONG).await;
    assert!(ok, "/status never said it waits for the script: {:?}", texts_to(&h.fake.sent(), chat));
    let asset = h.assets().await.pop().expect("the asset");
    assert_eq!(asset.status, AssetStatus::Awaiting);
    assert!(asset.lease_owner.is_none(), "a waiting generation holds a lease");

    let notice = h.press(user, chat, script.message_id, &script.approve).await;
    assert!(notice.is_some_and(|n| n.contains("Approved")));
    assert!(decision_shown(&h, chat, script.message_id).await.starts_with("✅"));

    // images: an album of the first 5, then the keyboard; no clip paid yet
    let images = keyboard(&h, chat, 1).await;
    assert_eq!(albums_to(&h.fake.sent(), chat), vec![vec!["photo".to_owned(); 5]]);
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), SEGMENTS);
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), 0, "clips were paid for before the images were approved");
    h.press(user, chat, images.message_id, &images.approve).await;

    // clips: an album of the first 3; no voice-over yet
    let clips = keyboard(&h, chat, 2).await;
    assert_eq!(albums_to(&h.fake.sent(), chat)[1], vec!["video".to_owned(); 3]);
    assert_eq!(fake.requests(Endpoint::Speech).len(), 0, "the voice-over was paid for before the clips were approved");
    h.press(user, chat, clips.message_id, &clips.approve).await;

    h.video_for(chat, 0).await;
    // every step paid once: the resumed generations reused what was done
    assert_eq!(support::script_calls(&fake), 1);
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), SEGMENTS);
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), SEGMENTS);
    assert_eq!(fake.requests(Endpoint::Speech).len(), 1);
    assert_eq!(h.fake.uploads(), 1);
    let states: Vec<(Gate, ApprovalState)> = approvals_of(&h).await.iter().map(|a| (a.gate, a.state)).collect();
    for gate in [Gate::Script, Gate::Images, Gate::Clips] {
        assert!(states.contains(&(gate, ApprovalState::Approved)), "{states:?}");
    }
    assert!(states.iter().all(|(_, s)| *s == ApprovalState::Approved), "{states:?}");
    service.kill9().await;
}

async fn reject_at(gate: Gate) {
    if !support::have_ffmpeg() {
        return;
    }
    let fake = providers().await;
    let h = pipeline_harness(&fake).await;
    let service = h.spawn();
    let (user, other) = (601, 602);
    let prompt = "Penguins on a skateboard";
    h.fake.push_text(user, user, prompt);
    let gates = [Gate::Script, Gate::Images, Gate::Clips];
    let at = gates.iter().position(|g| *g == gate).expect("a gate");
    for (n, _) in gates.iter().enumerate().take(at) {
        let k = keyboard(&h, user, n).await;
        h.press(user, user, k.message_id, &k.approve).await;
    }
    let k = keyboard(&h, user, at).await;
    // a second user waits for the same video meanwhile; they may not decide
    h.fake.push_text(other, other, "penguins on a   SKATEBOARD");
    let ok = h.fake.wait_for(move |s| texts_to(s, other).iter().any(|t| t.contains("waiting for approval")), LONG).await;
    assert!(ok, "the second waiter's note never said it waits for approval: {:?}", h.fake.sent_to(other));
    let refused = h.press(other, user, k.message_id, &k.reject).await;
    assert!(refused.is_some_and(|n| n.contains("nothing changed")));
    assert_eq!(h.assets().await[0].status, AssetStatus::Awaiting, "a stranger's press changed the asset");

    let notice = h.press(user, user, k.message_id, &k.reject).await;
    assert!(notice.is_some_and(|n| n.contains("Rejected")));
    assert!(decision_shown(&h, user, k.message_id).await.starts_with("❌"));
    for chat in [user, other] {
        let ok =
            h.fake.wait_for(move |s| texts_to(s, chat).iter().any(|t| t.contains("rejected at an approval step")), LONG).await;
        assert!(ok, "chat {chat} was not told of the rejection: {:?}", texts_to(&h.fake.sent(), chat));
    }
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed);
    assert_eq!(asset.last_error, Some(Failure::Rejected));
    assert!(h.requests().await.iter().all(|r| r.status == RequestStatus::Failed && r.error == Some(Failure::Rejected)));
    // nothing after the gate was paid for
    let images = fake.tasks_created(TaskKind::TextToImage);
    let clips = fake.tasks_created(TaskKind::ImageToVideo);
    assert_eq!(images, if at >= 1 { SEGMENTS } else { 0 });
    assert_eq!(clips, if at >= 2 { SEGMENTS } else { 0 });
    assert_eq!(fake.requests(Endpoint::Speech).len(), 0);
    h.press(user, user, k.message_id, &k.approve).await;
    assert_eq!(h.assets().await[0].status, AssetStatus::Failed, "a second press changed a decided approval");

    // the next request starts afresh: a new script, asked for approval again
    h.fake.push_text(user, user, prompt);
    let again = keyboard(&h, user, at + 1).await;
    assert_eq!(support::script_calls(&fake), 2, "the script was not written anew");
    h.press(user, user, again.message_id, &again.reject).await;
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_the_script_cancels_and_the_next_request_starts_afresh() {
    reject_at(Gate::Script).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_the_images_cancels_and_the_next_request_starts_afresh() {
    reject_at(Gate::Images).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_the_clips_cancels_and_the_next_request_starts_afresh() {
    reject_at(Gate::Clips).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_in_time_cancels_the_generation() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_TIMEOUT_SECS", "2");
    h.set("JOB_LEASE_SECS", "2");
    let service = h.spawn();
    let user = 701;
    h.fake.push_text(user, user, "Nobody will answer");
    let k = keyboard(&h, user, 0).await;
    // the local renderer's script gate shows the text it will render: as typed
    let texts = texts_to(&h.fake.sent(), user);
    assert!(texts.iter().any(|t| t == "📝 The script for “Nobody will answer”:\n\nNobody will answer"), "{texts:?}");
    let ok = h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.contains("nobody approved it in time")), LONG).await;
    assert!(ok, "the waiter was not told: {:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    assert!(decision_shown(&h, user, k.message_id).await.starts_with("⌛"));
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed);
    assert_eq!(asset.last_error, Some(Failure::TimedOut));
    assert_eq!(approvals_of(&h).await[0].state, ApprovalState::TimedOut);
    let late = h.press(user, user, k.message_id, &k.approve).await;
    assert!(late.is_some_and(|n| n.contains("already")));
    assert!(videos_to(&h.fake.sent(), user).is_empty());
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_waiting_keeps_the_approval_and_resumes() {
    if !support::have_ffmpeg() {
        return;
    }
    let fake = providers().await;
    let mut h = pipeline_harness(&fake).await;
    h.set("APPROVAL_STAGES", "images");
    let service = h.spawn();
    let user = 801;
    h.fake.push_text(user, user, "A fox in the snow");
    let k = keyboard(&h, user, 0).await;
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), SEGMENTS);
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));

    let service = h.spawn();
    h.wait_polling().await;
    // still waiting after the restart, and nothing re-asked or re-paid
    h.fake.push_text(user, user, "/status");
    let ok =
        h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.contains("waiting for approval of the images")), LONG).await;
    assert!(ok, "/status after the restart: {:?}", texts_to(&h.fake.sent(), user));
    assert_eq!(keyboards_to(&h.fake.sent(), user).len(), 1, "the approval was asked again after the restart");
    h.press(user, user, k.message_id, &k.approve).await;
    h.video_for(user, 0).await;
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), SEGMENTS, "images were paid again after the restart");
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), SEGMENTS);
    assert_eq!(support::script_calls(&fake), 1);
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_racing_on_one_approval_decide_it_once() {
    const SECOND_ADMIN: i64 = 998;
    let mut h = Harness::new().await;
    h.set("APPROVALS", "operators");
    h.set("APPROVAL_STAGES", "script");
    h.set("ADMIN_USER_IDS", &format!("{ADMIN},{SECOND_ADMIN}"));
    let service = h.spawn();
    // the operators have talked to the bot (Telegram only lets bots write to
    // those); the second one's Telegram speaks Russian
    h.fake.set_user_language(SECOND_ADMIN, Some("ru"));
    for admin in [ADMIN, SECOND_ADMIN] {
        h.fake.push_text(admin, admin, "/start");
        h.text_for(admin, 0).await;
    }
    let user = 901;
    h.fake.push_text(user, user, "Race me");
    let first = keyboard(&h, ADMIN, 0).await;
    let second = keyboard(&h, SECOND_ADMIN, 0).await;
    assert_eq!(first.approve, second.approve, "both operators decide the same approval");
    // each operator is asked in their own language
    assert_eq!((first.approve_text.as_str(), first.reject_text.as_str()), ("✅ Approve", "❌ Reject"));
    assert_eq!((second.approve_text.as_str(), second.reject_text.as_str()), ("✅ Одобрить", "❌ Отклонить"));
    assert!(texts_to(&h.fake.sent(), SECOND_ADMIN).iter().any(|t| t.starts_with("📝 Сценарий для «Race me»:\n\nRace me")));
    assert!(texts_to(&h.fake.sent(), ADMIN).iter().any(|t| t.starts_with("📝 The script for “")));
    assert!(keyboards_to(&h.fake.sent(), user).is_empty(), "the requester was asked in operators mode");

    // a user who is no operator presses first: refused, nothing changes
    let refused = h.press(user, ADMIN, first.message_id, &first.approve).await;
    assert!(refused.is_some_and(|n| n.contains("nothing changed")));
    assert_eq!(approvals_of(&h).await[0].state, ApprovalState::Pending);

    // both operators at once, opposite decisions: exactly one wins
    let a = h.fake.push_callback(ADMIN, ADMIN, first.message_id, &first.approve);
    let b = h.fake.push_callback(SECOND_ADMIN, SECOND_ADMIN, second.message_id, &second.reject);
    let (pa, pb) = (a.clone(), b.clone());
    let answered = h.fake.wait_until(move |f| f.callback_answer(&pa).is_some() && f.callback_answer(&pb).is_some(), LONG).await;
    assert!(answered, "both presses must be answered\n{}", h.logs());
    let answers =
        [h.fake.callback_answer(&a).flatten().unwrap_or_default(), h.fake.callback_answer(&b).flatten().unwrap_or_default()];
    // each press answered in the presser's language
    let decided = ["Approved —", "Rejected —", "Одобрено —", "Отклонено —"];
    let decided = answers.iter().filter(|n| decided.iter().any(|d| n.contains(d))).count();
    let refused = answers.iter().filter(|n| n.contains("already") || n.contains("ничего не изменилось")).count();
    assert!(!answers[0].chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)), "{answers:?}");
    assert!(answers[1].chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)), "{answers:?}");
    assert_eq!((decided, refused), (1, 1), "{answers:?}");
    let approval = approvals_of(&h).await.pop().expect("approval");
    let shown = decision_shown(&h, ADMIN, first.message_id).await;
    let shown_too = decision_shown(&h, SECOND_ADMIN, second.message_id).await;
    assert_eq!(shown.chars().next(), shown_too.chars().next(), "the operators' keyboards disagree: {shown} / {shown_too}");
    let (en, ru) = match approval.state {
        ApprovalState::Approved => ("✅ Approved", "✅ Одобрено"),
        _ => ("❌ Rejected", "❌ Отклонено"),
    };
    assert_eq!((shown.as_str(), shown_too.as_str()), (en, ru), "each keyboard in its reader's language");
    match approval.state {
        ApprovalState::Approved => {
            assert_eq!(approval.decided_by, Some(ADMIN));
            h.video_for(user, 0).await;
        }
        ApprovalState::Rejected => {
            assert_eq!(approval.decided_by, Some(SECOND_ADMIN));
            let ok = h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.contains("rejected")), LONG).await;
            assert!(ok);
        }
        other => panic!("the approval ended {other:?}"),
    }
    // the winning operator's decision is recorded like a /clear
    let actions = operator_actions::Entity::find().all(&h.db().await).await.expect("operator actions");
    let verb = if approval.state == ApprovalState::Approved { "approve" } else { "reject" };
    let by = format!("telegram:{}", approval.decided_by.unwrap_or_default());
    assert_eq!(
        actions.iter().map(|a| (a.action.clone(), a.operator.clone())).collect::<Vec<_>>(),
        vec![(format!("{verb}:script"), by)]
    );
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_keyboard_approves_the_oldest_pending_gate() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    let service = h.spawn();
    let user = 1001;
    h.fake.push_text(user, user, "First prompt");
    keyboard(&h, user, 0).await;
    h.fake.push_text(user, user, "Second prompt");
    keyboard(&h, user, 1).await;
    let oldest = approvals_of(&h).await.into_iter().min_by_key(|a| a.id).expect("approvals");
    h.fake.push_text(user, user, "✅ Approve");
    // the oldest is approved and made; the other still waits
    let first = h.video_for(user, 0).await;
    assert!(!first.is_empty());
    let states: Vec<_> = approvals_of(&h).await.into_iter().map(|a| (a.id, a.state)).collect();
    assert!(states.contains(&(oldest.id, ApprovalState::Approved)), "{states:?}");
    assert!(states.iter().any(|(id, s)| *id != oldest.id && *s == ApprovalState::Pending), "{states:?}");
    h.fake.push_text(user, user, "❌ Reject");
    let ok = eventually(LONG, || async { approvals_of(&h).await.iter().all(|a| a.state != ApprovalState::Pending) }).await;
    assert!(ok, "the second gate was not rejected from the reply keyboard");
    // nothing left: the button says so
    h.fake.push_text(user, user, "✅ Approve");
    let ok = h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.contains("Nothing is waiting")), LONG).await;
    assert!(ok);
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_russian_requester_is_asked_in_russian() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_STAGES", "script");
    let service = h.spawn();
    let user = 1101;
    h.fake.set_user_language(user, Some("ru"));
    h.fake.push_text(user, user, "Поздравление для Маши");
    let k = keyboard(&h, user, 0).await;
    assert_eq!((k.approve_text.as_str(), k.reject_text.as_str()), ("✅ Одобрить", "❌ Отклонить"));
    let texts = texts_to(&h.fake.sent(), user);
    assert!(texts.iter().any(|t| t.starts_with("📝 Сценарий для «Поздравление для Маши»")), "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("Продолжать «Поздравление для Маши» после этапа «сценарий»?")), "{texts:?}");
    // the reply keyboard offers the Russian buttons
    let reply_keyboard = h.fake.sent_to(user).into_iter().filter_map(|s| s.reply_markup?.get("keyboard").cloned()).next_back();
    let reply_keyboard = reply_keyboard.map(|k| k.to_string()).unwrap_or_default();
    assert!(reply_keyboard.contains("✅ Одобрить") && reply_keyboard.contains("❌ Отклонить"), "{reply_keyboard}");

    let notice = h.press(user, user, k.message_id, &k.approve).await;
    assert_eq!(notice.as_deref(), Some("✅ Одобрено — видео делается дальше."));
    assert_eq!(decision_shown(&h, user, k.message_id).await, "✅ Одобрено");
    h.video_for(user, 0).await;
    let late = h.press(user, user, k.message_id, &k.reject).await;
    assert_eq!(late.as_deref(), Some("Это уже одобрено; ничего не изменилось."));
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_waiting_for_approval_calls_the_generation_off() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_STAGES", "script");
    let service = h.spawn();
    let user = 1201;
    let prompt = "Stop me at the gate";
    h.fake.push_text(user, user, prompt);
    let k = keyboard(&h, user, 0).await;
    assert_eq!(h.assets().await[0].status, AssetStatus::Awaiting);

    h.fake.push_text(user, user, "/cancel");
    let ok = h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.starts_with("✖️ Cancelled:")), LONG).await;
    assert!(ok, "/cancel was not answered: {:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    // the asset ends at once (no worker, no lease), the approval with it
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed, "the generation waiting for approval goes on after /cancel");
    assert_eq!(asset.last_error, Some(Failure::Cancelled));
    assert!(asset.lease_owner.is_none());
    let approval = approvals_of(&h).await.pop().expect("approval");
    assert_eq!((approval.state, approval.decided_by), (ApprovalState::Cancelled, Some(user)));
    assert!(decision_shown(&h, user, k.message_id).await.starts_with("✖️"));
    // the /cancel answer's reply keyboard no longer offers ✅ / ❌
    let cancel_answer = h.fake.sent_to(user).into_iter().rev().find(|s| s.text.as_deref().is_some_and(|t| t.starts_with("✖️")));
    let reply_keyboard = cancel_answer.and_then(|s| s.reply_markup).map(|m| m.to_string()).unwrap_or_default();
    assert!(reply_keyboard.contains("📊") && !reply_keyboard.contains("✅ Approve"), "{reply_keyboard}");

    // a late ✅ changes nothing
    let late = h.press(user, user, k.message_id, &k.approve).await;
    assert!(late.is_some_and(|n| n.contains("already cancelled")));
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!((asset.status, asset.generation), (AssetStatus::Failed, 1), "a press after /cancel moved the asset");
    assert!(videos_to(&h.fake.sent(), user).is_empty());
    assert!(h.requests().await.iter().all(|r| r.status == RequestStatus::Cancelled));

    // the next request for the prompt starts afresh and, approved, is made
    h.fake.push_text(user, user, prompt);
    let again = keyboard(&h, user, 1).await;
    assert_ne!(again.approve, k.approve, "a new approval for the new generation");
    assert_eq!(h.assets().await[0].generation, 2);
    h.press(user, user, again.message_id, &again.approve).await;
    h.video_for(user, 0).await;
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_by_one_of_several_waiters_leaves_the_approval_pending() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_STAGES", "script");
    let service = h.spawn();
    let (user, other, third) = (1301, 1302, 1303);
    h.fake.push_text(user, user, "Two of us wait");
    let k = keyboard(&h, user, 0).await;
    h.fake.set_user_language(third, Some("ru"));
    for (waiter, text) in [(other, "two of us   WAIT"), (third, "Two Of Us Wait")] {
        h.fake.push_text(waiter, waiter, text);
    }
    let ok = h.fake.wait_for(move |s| texts_to(s, other).iter().any(|t| t.contains("waiting for approval")), LONG).await;
    assert!(ok, "the second waiter's note: {:?}", h.fake.sent_to(other));

    // a waiter who is not asked withdraws: nothing else changes
    h.fake.push_text(other, other, "/cancel");
    let ok = h.fake.wait_for(move |s| texts_to(s, other).iter().any(|t| t.starts_with("✖️ Cancelled:")), LONG).await;
    assert!(ok, "/cancel was not answered: {:?}", texts_to(&h.fake.sent(), other));
    assert_eq!(h.assets().await[0].status, AssetStatus::Awaiting, "the generation stopped though others wait");
    let approval = approvals_of(&h).await.pop().expect("approval");
    assert_eq!((approval.state, approval.approver_user_id), (ApprovalState::Pending, Some(user)));

    // the requester who was asked withdraws: the approval passes to the
    // next waiter, asked anew in their language; the old buttons do nothing
    h.fake.push_text(user, user, "/cancel");
    let passed = keyboard(&h, third, 0).await;
    assert_eq!(passed.approve, k.approve, "the same approval, asked of the next requester");
    assert_eq!(passed.approve_text, "✅ Одобрить");
    assert!(texts_to(&h.fake.sent(), third).iter().any(|t| t.starts_with("📝 Сценарий для «Two Of Us Wait»")));
    assert!(decision_shown(&h, user, k.message_id).await.starts_with("✖️"));
    let approval = approvals_of(&h).await.pop().expect("approval");
    assert_eq!((approval.state, approval.approver_user_id), (ApprovalState::Pending, Some(third)));
    let refused = h.press(user, user, k.message_id, &k.approve).await;
    assert!(refused.is_some_and(|n| n.contains("nothing changed")));
    assert_eq!(h.assets().await[0].status, AssetStatus::Awaiting);

    let notice = h.press(third, third, passed.message_id, &passed.approve).await;
    assert_eq!(notice.as_deref(), Some("✅ Одобрено — видео делается дальше."));
    h.video_for(third, 0).await;
    let statuses: Vec<_> = h.requests().await.into_iter().map(|r| (r.telegram_user_id.0, r.status)).collect();
    for withdrawn in [user, other] {
        assert!(statuses.contains(&(withdrawn, RequestStatus::Cancelled)), "{statuses:?}");
        assert!(videos_to(&h.fake.sent(), withdrawn).is_empty(), "a waiter who cancelled got the video");
    }
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_prompt_that_could_not_be_sent_is_sent_again() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "operators");
    h.set("APPROVAL_STAGES", "script");
    h.set("JOB_LEASE_SECS", "2");
    let service = h.spawn();
    h.fake.push_text(ADMIN, ADMIN, "/start");
    h.text_for(ADMIN, 0).await;
    // every send to the only operator fails for a while
    h.fake.set_faults(Faults { blocked_chats: [ADMIN].into_iter().collect(), ..Faults::default() });
    let user = 1101;
    h.fake.push_text(user, user, "Ask me later");
    let failed = eventually(LONG, || async { h.logs().contains("no approval prompt could be sent") }).await;
    assert!(failed, "the blocked prompt was never tried\n{}", h.logs());
    let approval = approvals_of(&h).await.pop().expect("an approval");
    assert_eq!(approval.state, ApprovalState::Pending);
    assert!(approval.messages.is_none(), "a prompt nobody got was recorded as sent: {:?}", approval.messages);
    assert!(keyboards_to(&h.fake.sent(), ADMIN).is_empty());

    // the operator can be reached again: the reconciler's next sweep asks
    h.fake.set_faults(Faults::default());
    let k = keyboard(&h, ADMIN, 0).await;
    assert_eq!(keyboards_to(&h.fake.sent(), ADMIN).len(), 1, "asked once, not at every sweep");
    let recorded = approvals_of(&h).await.pop().and_then(|a| a.messages).unwrap_or_default();
    assert!(recorded.contains(&k.message_id.to_string()), "{recorded}");
    h.press(ADMIN, ADMIN, k.message_id, &k.approve).await;
    h.video_for(user, 0).await;
    service.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presses_racing_on_one_approval_message_decide_it_once() {
    let mut h = Harness::new().await;
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_STAGES", "script");
    let service = h.spawn();
    let (user, stranger) = (1201, 1202);
    h.fake.push_text(stranger, stranger, "/start");
    h.text_for(stranger, 0).await;
    h.fake.push_text(user, user, "Make up your mind");
    let k = keyboard(&h, user, 0).await;
    let recorded = eventually(LONG, || async { approvals_of(&h).await.iter().all(|a| a.messages.is_some()) }).await;
    assert!(recorded, "the keyboard message was never recorded");

    // the requester presses ✅ and ❌ at once, and a stranger presses the same message meanwhile
    let yes = h.fake.push_callback(user, user, k.message_id, &k.approve);
    let no = h.fake.push_callback(user, user, k.message_id, &k.reject);
    let theirs = h.fake.push_callback(stranger, user, k.message_id, &k.approve);
    let ids = [yes.clone(), no.clone(), theirs.clone()];
    let probe = ids.clone();
    let answered = h.fake.wait_until(move |f| probe.iter().all(|id| f.callback_answer(id).is_some()), LONG).await;
    assert!(answered, "every press must be answered\n{}", h.logs());
    let answer = |id: &str| h.fake.callback_answer(id).flatten().unwrap_or_default();
    let (a_yes, a_no, a_theirs) = (answer(&yes), answer(&no), answer(&theirs));
    for id in &ids {
        let answers = h.fake.callback_answers().into_iter().filter(|a| &a.callback_query_id == id).count();
        assert_eq!(answers, 1, "press {id} answered {answers} times");
    }
    assert!(a_theirs.contains("nothing changed"), "the stranger's press: {a_theirs}");
    let won_yes = a_yes.starts_with("✅ Approved —");
    let won_no = a_no.starts_with("❌ Rejected —");
    assert!(won_yes != won_no, "exactly one press decides: {a_yes:?} / {a_no:?}");
    let loser = if won_yes { &a_no } else { &a_yes };
    assert!(loser.contains("already") && loser.contains("nothing changed"), "the losing press: {loser}");

    // the first row is the gate's (an approval carries over to the resumed generation)
    let approval = approvals_of(&h).await.into_iter().min_by_key(|a| a.id).expect("approval");
    let expected = if won_yes { ApprovalState::Approved } else { ApprovalState::Rejected };
    assert_eq!((approval.state, approval.decided_by), (expected, Some(user)));
    let shown = decision_shown(&h, user, k.message_id).await;
    assert!(shown.starts_with(if won_yes { '✅' } else { '❌' }), "{shown}");
    if won_yes {
        h.video_for(user, 0).await;
        let available = eventually(LONG, || async { h.assets().await[0].status == AssetStatus::Available }).await;
        assert!(available, "{:?}", h.assets().await);
    } else {
        let ok =
            h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.contains("rejected at an approval step")), LONG).await;
        assert!(ok, "{:?}", texts_to(&h.fake.sent(), user));
        assert!(videos_to(&h.fake.sent(), user).is_empty(), "a rejected video was sent");
        assert_eq!(h.assets().await[0].last_error, Some(Failure::Rejected));
    }
    // the loser changed nothing: one decision, only the decision shown, no second generation
    let after = approvals_of(&h).await.into_iter().min_by_key(|a| a.id).expect("approval");
    assert_eq!((after.state, after.decided_by, after.decided_at), (approval.state, approval.decided_by, approval.decided_at));
    // (the prompt's sender may show the decision too, if the presses came
    // right after it recorded the message: the same keyboard again)
    let edits: Vec<String> = h
        .fake
        .sent()
        .iter()
        .filter(|s| s.chat_id == user && s.message_id == k.message_id && s.method == "editMessageReplyMarkup")
        .filter_map(|s| s.reply_markup.as_ref()?.pointer("/inline_keyboard/0/0/text")?.as_str().map(str::to_owned))
        .collect();
    assert!(!edits.is_empty() && edits.iter().all(|e| *e == shown), "the keyboard showed {edits:?}, decided {shown}");
    assert!(approvals_of(&h).await.iter().all(|a| a.state == expected), "{:?}", approvals_of(&h).await);
    assert_eq!(h.fake.uploads(), usize::from(won_yes), "the video was made {} times", h.fake.uploads());
    assert_eq!(videos_to(&h.fake.sent(), user).len(), usize::from(won_yes));
    service.kill9().await;
}
