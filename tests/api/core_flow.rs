//! Black-box tests of the core flow: the release-style binary against a
//! fake Telegram Bot API on loopback.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::support::{ADMIN, Harness, videos_to};
use serde_json::json;
use vidcache::domain::{AssetStatus, Prompt, RequestStatus};

/// Prompts with case, Unicode-form and whitespace variants.
fn variants() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "happy birthday zoë",
            vec!["Happy Birthday Zoë", "  HAPPY   BIRTHDAY ZOË ", "happy birthday zoe\u{0308}", "happy\tbirthday\nzoë"],
        ),
        ("red sneakers ad", vec!["Red Sneakers Ad", "red  sneakers ad", " RED SNEAKERS AD", "red\u{00A0}sneakers ad"]),
        ("welcome aboard max", vec!["Welcome aboard Max", "WELCOME ABOARD MAX", "welcome aboard max\u{200B}"]),
        ("straße party", vec!["Strasse Party", "STRASSE PARTY", "straße party"]),
        ("ｆｕｌｌ width", vec!["full width", "FULL WIDTH", "ｆｕｌｌ ｗｉｄｔｈ"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_variants_gives_one_generation_and_one_upload_per_prompt() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "300");
    let service = h.spawn();
    h.wait_polling().await;

    let mut expected: HashMap<i64, &str> = HashMap::new();
    let mut chat = 1000;
    for round in 0..10 {
        for (canonical, forms) in variants() {
            let text = forms[round % forms.len()];
            h.fake.push_text(chat, chat, text);
            expected.insert(chat, canonical);
            chat += 1;
        }
    }
    let total = expected.len();
    let all_served =
        h.fake.wait_for(|sent| sent.iter().filter(|s| s.method == "sendVideo").count() >= total, Duration::from_secs(90)).await;
    assert!(all_served, "not every request got a video; log:\n{}", service.log_text());

    let sent = h.fake.sent();
    let mut file_by_prompt: HashMap<&str, HashSet<String>> = HashMap::new();
    for (chat, canonical) in &expected {
        let videos = videos_to(&sent, *chat);
        assert_eq!(videos.len(), 1, "chat {chat} got {} videos", videos.len());
        file_by_prompt.entry(canonical).or_default().insert(videos[0].clone());
    }
    for (prompt, ids) in &file_by_prompt {
        assert_eq!(ids.len(), 1, "prompt {prompt:?} was served with several file_ids: {ids:?}");
    }
    let distinct = variants().len();
    assert_eq!(h.fake.uploads(), distinct, "one upload per distinct prompt");
    assert_eq!(h.jobs().await, distinct as i64, "one generation job per distinct prompt");
    let assets = h.assets().await;
    assert_eq!(assets.len(), distinct);
    for asset in &assets {
        assert_eq!(asset.status, AssetStatus::Available);
        assert_eq!(asset.attempts, 1, "asset {:?} generated more than once", asset.prompt);
        let canonical = Prompt::parse(&asset.prompt, 1000).expect("stored prompt is normalized");
        assert_eq!(canonical.as_str(), asset.prompt);
    }
    let requests = h.requests().await;
    assert_eq!(requests.len(), total);
    assert!(requests.iter().all(|r| r.status == RequestStatus::Completed && r.delivered_at.is_some()));
    assert!(h.fake.too_many_requests() < total / 20, "{} 429s", h.fake.too_many_requests());

    let (code, took) = service.terminate().await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_hit_uploads_nothing_and_survives_a_restart() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(1, 1, "Sunset over Lisbon");
    let first = h.video_for(1, 0).await;
    assert_eq!(h.fake.uploads(), 1);

    h.fake.push_text(2, 2, "sunset   over LISBON");
    let second = h.video_for(2, 0).await;
    assert_eq!(second, first, "a cache hit re-sends the same file_id");
    assert_eq!(h.fake.uploads(), 1, "a cache hit uploads nothing");
    assert!(h.fake.sent_to(2).iter().all(|s| !s.uploaded));

    let (code, took) = service.terminate().await;
    assert_eq!(code, Some(0), "clean exit on SIGTERM");
    assert!(took < Duration::from_secs(10));

    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(3, 3, "SUNSET OVER LISBON");
    let third = h.video_for(3, 0).await;
    assert_eq!(third, first, "after a restart the cached file_id is still used");
    assert_eq!(h.fake.uploads(), 1, "no upload after a restart");
    assert_eq!(h.jobs().await, 1);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_a_text_answer_and_record_nothing() {
    let mut h = Harness::new().await;
    h.set("MAX_PROMPT_CHARS", "20");
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(10, 10, "\u{200B}\u{200D}  ");
    h.fake.push_text(11, 11, "this prompt is far longer than twenty characters");
    h.fake.push_text(12, 12, "/frobnicate");
    let sticker = h.fake.next_message_id();
    h.fake.push_update(json!({"message": {
        "message_id": sticker, "date": 1_700_000_000,
        "chat": {"id": 13, "type": "private", "first_name": "S"},
        "from": {"id": 13, "is_bot": false, "first_name": "S"},
        "sticker": {"file_id": "CAAC1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512, "is_animated": false, "is_video": false}
    }}));
    let photo = h.fake.next_message_id();
    h.fake.push_update(json!({"message": {
        "message_id": photo, "date": 1_700_000_000,
        "chat": {"id": 14, "type": "private", "first_name": "P"},
        "from": {"id": 14, "is_bot": false, "first_name": "P"},
        "photo": [{"file_id": "AgAC1", "file_unique_id": "p1", "width": 90, "height": 90}],
        "caption": "make this a video"
    }}));

    assert!(h.text_for(10, 0).await.contains("no text"));
    assert!(h.text_for(11, 0).await.contains("limit is 20"));
    assert!(h.text_for(12, 0).await.contains("/frobnicate"));
    assert!(h.text_for(13, 0).await.contains("only make videos from text"));
    // a photo with words is a remix (tests/api/remix.rs); one Telegram won't hand out is answered, not recorded
    let answer = h.text_for(14, 0).await;
    assert!(answer.contains("send it again"), "{answer}");
    assert!(h.requests().await.is_empty(), "bad input must not be recorded as a request");
    assert_eq!(h.jobs().await, 0);

    // The bot is still alive and serves a good prompt after all that.
    h.fake.push_text(15, 15, "still alive");
    h.video_for(15, 0).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_operator_can_clear_and_clearing_regenerates() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(20, 20, "Launch Party");
    let original = h.video_for(20, 0).await;

    h.fake.push_text(21, 21, "/clear launch party");
    assert!(h.text_for(21, 0).await.contains("only for operators"));
    h.fake.push_text(22, 22, "LAUNCH PARTY");
    assert_eq!(h.video_for(22, 0).await, original, "a refused /clear changes nothing");
    assert_eq!(h.fake.uploads(), 1);

    h.fake.push_text(ADMIN, ADMIN, "/clear   Launch  PARTY ");
    assert!(h.text_for(ADMIN, 0).await.starts_with("Cleared"));
    h.fake.push_text(23, 23, "launch party");
    let regenerated = h.video_for(23, 0).await;
    assert_ne!(regenerated, original, "the next request after /clear makes a new video");
    assert_eq!(h.fake.uploads(), 2);
    assert_eq!(h.jobs().await, 2);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 3, "history rows stay");
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_help_and_status_answer() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(30, 30, "/start");
    let help = h.text_for(30, 0).await;
    assert!(help.contains("/status"));
    let with_keyboard = h.fake.sent_to(30).into_iter().find(|s| s.method == "sendMessage").expect("help sent");
    assert!(with_keyboard.has_reply_markup, "/start shows the Status/Help keyboard");
    assert!(h.fake.my_commands().is_some(), "commands are registered with Telegram");

    h.fake.push_text(30, 30, "Dancing robot");
    h.video_for(30, 0).await;
    // The video reaches Telegram a moment before its delivery is recorded.
    let recorded = support::eventually(Duration::from_secs(10), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(recorded);
    h.fake.push_text(30, 30, "/status");
    let ok = h
        .fake
        .wait_for(
            |sent| support::texts_to(sent, 30).iter().any(|t| t.contains("“Dancing robot”") && t.contains("sent")),
            Duration::from_secs(20),
        )
        .await;
    assert!(ok, "status lists the request as typed: {:?}", support::texts_to(&h.fake.sent(), 30));
    service.terminate().await;
}
