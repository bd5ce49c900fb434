//! Nothing is lost: the real binary against a fake Telegram that fails in
//! the ways the real one does, and a process that is killed.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use fakes::telegram::{FakeTelegramConfig, Faults};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::json;
use crate::support::{Harness, texts_to, videos_to};
use vidcache::domain::{AssetStatus, RequestStatus};
use vidcache::generator::{GenerateError, GenerationRequest, Generator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundreds_and_timeouts_are_retried_without_duplicates() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.set_faults(Faults {
        error_5xx_rate: 0.1,
        timeout_rate: 0.05,
        hang: Duration::from_millis(300),
        seed: 7,
        ..Default::default()
    });

    let chats: Vec<i64> = (500..560).collect();
    for (i, chat) in chats.iter().enumerate() {
        h.fake.push_text(*chat, *chat, &format!("flaky network {}", i % 4));
    }
    let ok = h.fake.wait_for(|sent| chats.iter().all(|c| !videos_to(sent, *c).is_empty()), Duration::from_secs(120)).await;
    assert!(ok, "not all delivered under 5xx/timeouts\n{}", h.logs());
    let sent = h.fake.sent();
    for chat in &chats {
        assert_eq!(videos_to(&sent, *chat).len(), 1, "chat {chat} got a duplicate");
    }
    assert_eq!(h.fake.uploads(), 4);
    assert!(h.requests().await.iter().all(|r| r.status == RequestStatus::Completed));
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_blocked_the_bot_fails_alone_and_is_not_retried() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let blocked = 601;
    h.fake.set_faults(Faults { blocked_chats: HashSet::from([blocked]), ..Default::default() });
    for chat in 600..605 {
        h.fake.push_text(chat, chat, "Blocked or not");
    }
    for chat in (600..605).filter(|c| *c != blocked) {
        h.video_for(chat, 0).await;
    }
    let failed = support::eventually(Duration::from_secs(20), || async {
        h.requests().await.iter().any(|r| r.chat_id.0 == blocked && r.status == RequestStatus::Failed)
    })
    .await;
    assert!(failed, "the blocked user's request ends failed");
    let reqs = h.requests().await;
    let blocked_request = reqs.iter().find(|r| r.chat_id.0 == blocked).expect("recorded");

    assert!(blocked_request.error.as_ref().map(ToString::to_string).unwrap_or_default().contains("blocked"));
    assert!(reqs.iter().filter(|r| r.chat_id.0 != blocked).all(|r| r.status == RequestStatus::Completed));
    let attempts_to_blocked = h.fake.sent_to(blocked).len();
    assert_eq!(attempts_to_blocked, 0, "nothing reached the blocked chat");
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_fails_the_asset_tells_users_and_the_next_request_retries() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.set_faults(Faults { reject_uploads: true, ..Default::default() });
    h.fake.push_text(700, 700, "Refused clip");
    let ok = h
        .fake
        .wait_for(|sent| texts_to(sent, 700).iter().any(|t| t.contains("couldn't make the video")), Duration::from_secs(30))
        .await;
    assert!(ok, "{:?}\n{}", h.fake.sent_to(700), h.logs());
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed);
    assert!(asset.last_error.as_ref().map(ToString::to_string).unwrap_or_default().contains("refused the upload"));
    assert!(h.logs().contains("refused the upload"), "the reason is logged");

    h.fake.push_text(700, 700, "/status");
    let ok = h
        .fake
        .wait_for(
            |sent| texts_to(sent, 700).iter().any(|t| t.contains("❌ failed: Telegram did not accept the video")),
            Duration::from_secs(10),
        )
        .await;
    assert!(ok, "/status shows the reason");

    h.fake.set_faults(Faults::default());
    h.fake.push_text(701, 701, "refused CLIP");
    h.video_for(701, 0).await;
    assert_eq!(h.jobs().await, 2);
    service.terminate().await;
}

/// Writes a file over Telegram's 50 MB limit.
struct Oversized;

impl Generator for Oversized {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        async move {
            let file = std::fs::File::create(&request.output).map_err(|e| GenerateError::Failed(e.to_string()))?;
            file.set_len(51 * 1024 * 1024).map_err(|e| GenerateError::Failed(e.to_string()))?;
            Ok(())
        }
        .boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_over_fifty_megabytes_is_refused_before_uploading() {
    let h = Harness::new().await;
    let (stop, running) = h.run_in_process(Arc::new(Oversized));
    h.wait_polling().await;
    h.fake.push_text(710, 710, "huge");
    let ok = h.fake.wait_for(|sent| texts_to(sent, 710).iter().any(|t| t.contains("50 MB")), Duration::from_secs(30)).await;
    assert!(ok, "{:?}", h.fake.sent_to(710));
    assert_eq!(h.fake.calls("sendVideo"), 0, "no upload was tried");
    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_generation_exits_cleanly_and_the_job_resumes() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "4000");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(800, 800, "interrupted masterpiece");
    h.text_for(800, 0).await; // "being made"
    let generating = support::eventually(Duration::from_secs(10), || async {
        h.assets().await.iter().any(|a| a.status == AssetStatus::Generating)
    })
    .await;
    assert!(generating, "generation started");
    let (code, took) = service.terminate().await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let service = h.spawn();
    let file_id = h.video_for(800, 0).await;
    assert!(!file_id.is_empty());
    assert_eq!(h.fake.uploads(), 1);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_delays_requests_but_loses_none() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(900, 900, "warm up");
    h.video_for(900, 0).await;

    // Another process holds the write lock for two seconds.
    let url = h.settings().data.url().expose().to_owned();
    let locker = tokio::spawn(async move {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(url).await.expect("connect");
        db.execute_unprepared("BEGIN EXCLUSIVE").await.expect("lock");
        tokio::time::sleep(Duration::from_secs(2)).await;
        db.execute_unprepared("COMMIT").await.expect("unlock");
    });
    for chat in 901..906 {
        h.fake.push_text(chat, chat, &format!("while locked {chat}"));
    }
    locker.await.expect("locker");
    for chat in 901..906 {
        h.video_for(chat, 0).await;
    }
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_updates_and_arbitrary_text_never_stop_the_bot() {
    let h = Harness::with_config(FakeTelegramConfig { require_known_chats: false, ..Default::default() }).await;
    let service = h.spawn();
    h.wait_polling().await;
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let alphabet: Vec<char> = "aZ ß\u{200B}\u{0301}/@_\t\n😀\u{202E}漢字ﬁ\u{FEFF}ｚ\u{0000}\u{10FFFF}".chars().collect();
    let mut expect_answer = HashMap::new();
    for chat in 1000..1040i64 {
        let len = (next() % 60) as usize;
        let mut text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        if chat % 5 == 0 {
            text = format!("/{text}");
        }
        if chat % 7 == 0 {
            text = "x".repeat(5000);
        }
        h.fake.push_text(chat, chat, &text);
        expect_answer.insert(chat, text);
    }
    // Kinds the bot ignores on purpose, and a message teloxide can't read.
    h.fake.push_update(json!({"edited_message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private", "first_name": "E"}, "text": "edited"}}));
    h.fake.push_update(json!({"channel_post": {"message_id": 2, "date": 1, "chat": {"id": -1005, "type": "channel", "title": "C"}, "text": "post"}}));
    h.fake.push_update(json!({"message": {"message_id": 3, "date": 1, "chat": {"id": 6, "type": "private", "first_name": "M"}, "mystery": true}}));
    h.fake.push_update(json!({"message": {"message_id": 4, "date": 1, "chat": {"id": -77, "type": "group", "title": "G"}, "new_chat_members": [{"id": 9, "is_bot": false, "first_name": "N"}]}}));

    for chat in expect_answer.keys() {
        let chat = *chat;
        let ok = h.fake.wait_for(move |sent| sent.iter().any(|s| s.chat_id == chat), Duration::from_secs(60)).await;
        assert!(ok, "chat {chat} got no answer to {:?}\n{}", expect_answer[&chat], h.logs());
    }
    assert!(!h.logs().contains("panicked"), "{}", h.logs());
    h.fake.push_text(1100, 1100, "still standing");
    h.video_for(1100, 0).await;
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kill_nines_lose_nothing() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "400");
    h.set("JOB_LEASE_SECS", "2");
    let prompts = ["crash one", "crash two", "crash three"];
    let mut chats = Vec::new();
    let mut rng = 42u64;
    let mut next = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        rng >> 33
    };
    let kills = 20;
    for round in 0..kills {
        let service = h.spawn();
        for i in 0..3 {
            let chat = 2000 + (round * 3 + i) as i64;
            h.fake.push_text(chat, chat, prompts[(round + i) % prompts.len()]);
            chats.push(chat);
        }
        // Die at a random moment: while polling, generating, uploading or fanning out.
        let after = Duration::from_millis(50 + next() % 900);
        h.fake.wait_until(|_| false, after).await;
        service.kill9().await;
    }
    let service = h.spawn();
    let ok = h.fake.wait_for(|sent| chats.iter().all(|c| !videos_to(sent, *c).is_empty()), Duration::from_secs(120)).await;
    assert!(
        ok,
        "undelivered after {kills} kills: {:?}\n{}",
        chats.iter().filter(|c| videos_to(&h.fake.sent(), **c).is_empty()).collect::<Vec<_>>(),
        h.logs()
    );
    let sent = h.fake.sent();
    let duplicates: usize = chats.iter().map(|c| videos_to(&sent, *c).len() - 1).sum();
    assert!(duplicates <= kills, "{duplicates} duplicate videos for {kills} kills");
    let assets = h.assets().await;
    assert_eq!(assets.len(), prompts.len());
    let generations: i32 = assets.iter().map(|a| a.attempts).sum();
    assert!(
        generations as usize <= prompts.len() + kills,
        "{generations} generations for {} prompts and {kills} kills",
        prompts.len()
    );
    let all_done = support::eventually(Duration::from_secs(30), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(all_done, "requests left pending");
    let file_ids: HashSet<String> = chats.iter().flat_map(|c| videos_to(&sent, *c)).collect();
    assert!(file_ids.len() <= prompts.len() + kills);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_to_three_hundred_stays_under_the_flood_limits() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let service = h.spawn();
    h.wait_polling().await;
    let chats: Vec<i64> = (3000..3300).collect();
    for chat in &chats {
        h.fake.push_text(*chat, *chat, "Viral moment");
    }
    let ok = h.fake.wait_for(|sent| chats.iter().all(|c| !videos_to(sent, *c).is_empty()), Duration::from_secs(120)).await;
    assert!(ok, "fan-out incomplete\n{}", h.logs());
    assert_eq!(h.fake.uploads(), 1);
    let too_many = h.fake.too_many_requests();
    assert!(too_many < 15, "{too_many} answers of 429 for 600 sends");
    service.terminate().await;
}
