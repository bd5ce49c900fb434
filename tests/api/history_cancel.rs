//! Black-box tests of /history (a video sent again by its file_id, from an
//! inline button) and /cancel (a user withdraws their waiting requests),
//! through the fake Bot API.

use crate::support;

use std::time::Duration;

use crate::support::{ADMIN, Harness, texts_to, videos_to};
use fakes::telegram::Sent;
use serde_json::Value;
use vidcache::domain::{AssetStatus, RequestStatus};

/// A message's id, text and inline buttons (label, callback data).
type KeyboardMessage = (i64, String, Vec<(String, String)>);

/// The last message to `chat` with an inline keyboard: (message_id, text, buttons as (label, data)).
fn inline_keyboard(sent: &[Sent], chat: i64) -> Option<KeyboardMessage> {
    let message = sent
        .iter()
        .rev()
        // a text message (every video carries its own "➕ Extend" button)
        .filter(|s| s.chat_id == chat && s.method == "sendMessage")
        .find(|s| s.reply_markup.as_ref().is_some_and(|m| m.get("inline_keyboard").is_some()))?;
    let rows = message.reply_markup.as_ref()?["inline_keyboard"].as_array()?.clone();
    let buttons = rows
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b.get("callback_data").and_then(Value::as_str).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Some((message.message_id, message.text.clone().unwrap_or_default(), buttons))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_sends_a_video_again_by_file_id_without_uploading() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 301;

    h.fake.push_text(user, user, "/history");
    assert_eq!(h.text_for(user, 0).await, "You have no videos yet. Send me a prompt!");

    h.fake.push_text(user, user, "  First clip ");
    let first = h.video_for(user, 0).await;
    h.fake.push_text(user, user, "Second clip");
    let second = h.video_for(user, 1).await;
    h.fake.push_text(user, user, "FIRST CLIP");
    assert_eq!(h.video_for(user, 2).await, first, "a cache hit");
    assert_eq!(h.fake.uploads(), 2);
    // A video reaches Telegram a moment before its delivery is recorded.
    let recorded = support::eventually(Duration::from_secs(10), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(recorded);

    h.fake.push_text(user, user, "/history");
    let ok = h.fake.wait_for(|sent| inline_keyboard(sent, user).is_some(), Duration::from_secs(10)).await;
    assert!(ok, "{:?}\n{}", h.fake.sent_to(user), h.logs());
    let (message_id, text, buttons) = inline_keyboard(&h.fake.sent(), user).expect("history keyboard");
    // Newest first, one per prompt, as the user typed it.
    assert_eq!(
        text,
        "🎞 Your last videos — tap one to get it again:\n1. “FIRST CLIP” — 16:9 · Fast · 3 s\n2. “Second clip” — 16:9 · Fast · 3 s",
        "{buttons:?}"
    );
    let labels: Vec<&str> = buttons.iter().map(|(label, _)| label.as_str()).collect();
    assert_eq!(labels, ["🔁 1. FIRST CLIP", "🔁 2. Second clip"]);
    assert!(buttons.iter().all(|(_, data)| !data.is_empty() && data.len() <= 64));

    // Pressing "Second clip" sends that video again by file_id.
    let press = h.fake.push_callback(user, user, message_id, &buttons[1].1);
    assert_eq!(h.answered(&press).await, None, "a press that worked needs no notice");
    assert_eq!(h.video_for(user, 3).await, second);
    let resent = h.fake.sent_to(user).into_iter().filter(|s| s.method == "sendVideo").nth(3).expect("re-sent video");
    assert!(!resent.uploaded, "re-sent by file_id, not uploaded");
    assert_eq!(resent.caption.as_deref(), Some("Second clip"));
    // like every video the bot sends, it carries the "➕ Extend" button
    let extend = resent.reply_markup.as_ref().and_then(|m| m.pointer("/inline_keyboard/0/0")).cloned().unwrap_or_default();
    assert!(extend["text"].as_str().is_some_and(|t| t.starts_with('➕')), "{:?}", resent.reply_markup);
    let original = h.fake.sent_to(user).into_iter().filter(|s| s.method == "sendVideo").nth(1).expect("the first send");
    assert_eq!(
        extend["callback_data"],
        original.reply_markup.as_ref().and_then(|m| m.pointer("/inline_keyboard/0/0/callback_data")).cloned().unwrap_or_default(),
        "the same ➕ as when the video was first sent"
    );
    assert_eq!(h.fake.uploads(), 2, "nothing uploaded");
    assert_eq!(h.jobs().await, 2, "nothing generated");

    // Someone else pressing this user's button gets a notice and no video.
    let other = 302;
    let press = h.fake.push_callback(other, user, message_id, &buttons[0].1);
    assert_eq!(h.answered(&press).await.as_deref(), Some("That button is no longer valid."));
    // A forged or stale button likewise.
    let press = h.fake.push_callback(user, user, message_id, "zz:1");
    assert_eq!(h.answered(&press).await.as_deref(), Some("That button is no longer valid."));

    // A cleared video can't be sent again.
    h.fake.push_text(ADMIN, ADMIN, "/clear first clip");
    h.text_for(ADMIN, 0).await;
    let press = h.fake.push_callback(user, user, message_id, &buttons[0].1);
    assert_eq!(
        h.answered(&press).await.as_deref(),
        Some("That video is no longer stored. Send the prompt again to get a new one.")
    );
    assert_eq!(videos_to(&h.fake.sent(), user).len(), 4, "no video for the presses that did nothing");
    assert!(videos_to(&h.fake.sent(), other).is_empty());
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_withdraws_requests_and_calls_off_a_queued_generation_nobody_else_waits_for() {
    let mut h = Harness::new().await;
    // One generation at a time, each taking a while: the later prompts wait in the queue.
    h.set("WORKER_CONCURRENCY", "1");
    h.set("LOCAL_GENERATOR_DELAY_MS", "2500");
    let service = h.spawn();
    h.wait_polling().await;
    let (blocker, alone, leaver, stayer) = (401, 402, 403, 404);

    h.fake.push_text(blocker, blocker, "Blocker clip");
    let generating = support::eventually(Duration::from_secs(10), || async {
        h.assets().await.iter().any(|a| a.status == AssetStatus::Generating)
    })
    .await;
    assert!(generating, "the blocker is being generated\n{}", h.logs());

    h.fake.push_text(alone, alone, "Withdrawn clip");
    h.fake.push_text(leaver, leaver, "Shared clip");
    h.fake.push_text(stayer, stayer, "shared CLIP");
    let recorded = support::eventually(Duration::from_secs(10), || async { h.requests().await.len() == 4 }).await;
    assert!(recorded);

    h.fake.push_text(alone, alone, "/cancel");
    h.fake.push_text(leaver, leaver, "/cancel");
    let told = h
        .fake
        .wait_for(
            |sent| {
                texts_to(sent, alone).iter().any(|t| t == "✖️ Cancelled: “Withdrawn clip”. You won't get these videos.")
                    && texts_to(sent, leaver).iter().any(|t| t == "✖️ Cancelled: “Shared clip”. You won't get these videos.")
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(told, "{:?}\n{:?}\n{}", texts_to(&h.fake.sent(), alone), texts_to(&h.fake.sent(), leaver), h.logs());

    // Nobody else waited for "withdrawn clip": its queued generation is called off.
    let assets = h.assets().await;
    let withdrawn = assets.iter().find(|a| a.prompt == "withdrawn clip").expect("asset");
    assert_eq!(withdrawn.status, AssetStatus::Failed);
    assert_eq!(withdrawn.last_error, Some(vidcache::domain::Failure::Cancelled));
    // "shared clip" goes on for the user still waiting.
    let shared = assets.iter().find(|a| a.prompt == "shared clip").expect("asset");
    assert_ne!(shared.status, AssetStatus::Failed);

    h.video_for(blocker, 0).await;
    h.video_for(stayer, 0).await;
    // The called-off job found nothing to do: the queue moved on to the
    // shared clip, and the withdrawn asset was never claimed.
    let withdrawn = h.assets().await.into_iter().find(|a| a.prompt == "withdrawn clip").expect("asset");
    assert_eq!((withdrawn.status, withdrawn.attempts), (AssetStatus::Failed, 0));
    assert!(videos_to(&h.fake.sent(), alone).is_empty(), "a withdrawn request gets no video");
    assert!(videos_to(&h.fake.sent(), leaver).is_empty(), "a withdrawn request gets no video");
    assert_eq!(h.fake.uploads(), 2, "blocker and shared clip");

    // Asking again starts afresh.
    h.fake.push_text(alone, alone, "withdrawn clip");
    h.video_for(alone, 0).await;
    // the video reaches Telegram a moment before the asset is marked available
    let available = support::eventually(Duration::from_secs(10), || async {
        h.assets().await.iter().any(|a| a.prompt == "withdrawn clip" && a.status == AssetStatus::Available)
    })
    .await;
    assert!(available, "{}", h.logs());
    let withdrawn = h.assets().await.into_iter().find(|a| a.prompt == "withdrawn clip").expect("asset");
    assert_eq!((withdrawn.status, withdrawn.attempts), (AssetStatus::Available, 1));
    assert_eq!(h.jobs().await, 4, "blocker, withdrawn (called off), shared, withdrawn again");

    // Nothing waiting: nothing to cancel. /status shows the withdrawn request.
    h.fake.push_text(leaver, leaver, "/cancel");
    h.fake.push_text(leaver, leaver, "/status");
    let ok = h
        .fake
        .wait_for(
            |sent| {
                let texts = texts_to(sent, leaver);
                texts.iter().any(|t| t == "You have no requests waiting; there is nothing to cancel.")
                    && texts.iter().any(|t| t.contains("“Shared clip” — ✖️ cancelled"))
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(ok, "{:?}", texts_to(&h.fake.sent(), leaver));
    let requests = h.requests().await;
    let cancelled = requests.iter().filter(|r| r.status == RequestStatus::Cancelled).count();
    assert_eq!(cancelled, 2);
    service.terminate().await;
}

/// /cancel while the video is being uploaded (the fake Telegram holds the
/// upload): the cancel releases the hold, and the upload's end does not
/// turn the cancelled request into a completed one that captures the
/// credits (before, it did: a free video, the hold gone and nothing paid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_raced_with_an_upload_keeps_the_request_cancelled_and_charges_nothing() {
    let mut h = Harness::new().await;
    h.set("CREDITS", "on");
    h.set("FREE_CREDITS", "20");
    h.set("PRICE_NEW_VIDEO", "10");
    let service = h.spawn();
    let user = 1501;
    h.fake.hold_uploads(true);
    h.fake.push_text(user, user, "A slow upload of a lighthouse");
    let held = h.fake.wait_until(|f| f.held_uploads() == 1, Duration::from_secs(60)).await;
    assert!(held, "the upload reached Telegram\n{}", h.logs());
    h.fake.push_text(user, user, "/cancel");
    let db = h.db().await;
    let cancelled = support::eventually(Duration::from_secs(30), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Cancelled)
    })
    .await;
    assert!(cancelled, "the request was cancelled: {:?}", h.requests().await);
    h.fake.hold_uploads(false);
    let uploaded = h.fake.wait_until(|f| f.uploads() == 1, Duration::from_secs(30)).await;
    assert!(uploaded, "the held upload went through");
    // the upload's end is handled: the request had ended, nothing is captured
    let handled =
        support::eventually(Duration::from_secs(30), || async { h.logs().contains("request had ended meanwhile") }).await;
    assert!(handled, "the upload's end saw the cancelled request\n{}", h.logs());
    let request = h.requests().await.pop().expect("the request");
    assert_eq!(request.status, RequestStatus::Cancelled, "a cancelled request stays cancelled");
    let balance = vidcache::db::credits::balance(&db, vidcache::domain::UserId(user)).await.expect("balance");
    assert_eq!(balance, Some(20), "nothing was captured: the cancel gave the hold back");
    service.kill9().await;
}
