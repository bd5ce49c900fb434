//! Nothing is lost: the real binary against a fake Telegram that fails in
//! the ways the real one does, and a process that is killed.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Harness, texts_to, videos_to};
use fakes::telegram::{FakeTelegramConfig, Faults};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::json;
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

    // Another connection takes SQLite's write lock and holds it for two
    // seconds while five prompts arrive.
    use sea_orm::sqlx::{self, Connection, Executor, sqlite::SqliteConnectOptions};
    let url = h.settings().data.url().expose().to_owned();
    let options = <SqliteConnectOptions as std::str::FromStr>::from_str(&url).expect("a SQLite URL");
    // The locker waits its turn behind the service's own writes...
    let mut locker =
        sqlx::SqliteConnection::connect_with(&options.clone().busy_timeout(Duration::from_secs(30))).await.expect("connect");
    locker.execute("BEGIN EXCLUSIVE").await.expect("the write lock is taken");
    // ...and then the lock really holds: another writer is turned away at once.
    let mut probe = sqlx::SqliteConnection::connect_with(&options.busy_timeout(Duration::ZERO)).await.expect("connect");
    let refused = probe.execute("BEGIN IMMEDIATE").await.map(|_| ()).map_err(|e| e.to_string());
    assert!(refused.as_ref().is_err_and(|e| e.contains("locked")), "a write went through the lock: {refused:?}");
    drop(probe);
    let count = "SELECT COUNT(*) FROM user_requests";
    let before: i64 = sqlx::query_scalar(count).fetch_one(&mut locker).await.expect("count requests");

    for chat in 901..906 {
        h.fake.push_text(chat, chat, &format!("while locked {chat}"));
    }
    h.fake.wait_until(|_| false, Duration::from_secs(2)).await;
    let during: i64 = sqlx::query_scalar(count).fetch_one(&mut locker).await.expect("count requests");
    assert_eq!(during, before, "a request was recorded through the lock");
    assert!((901..906).all(|chat| videos_to(&h.fake.sent(), chat).is_empty()), "a video was sent while the database was locked");
    locker.execute("COMMIT").await.expect("the lock is released");
    drop(locker);

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

/// Twenty `kill -9`s at random moments — while polling, generating,
/// uploading or fanning out — and then a process that lives: every chat
/// gets its video, and what a kill may make happen twice is bounded by
/// what the design keeps:
/// - a send is claimed, and recorded once done: a chat gets at most one
///   video per process life, so a duplicate needs a kill between the send
///   and its record (at most one per kill per chat);
/// - an asset is generated under a lease and once available never again:
///   each attempt but the last one was cut short by a kill (one attempt of
///   an asset at a time), so an asset's attempts are at most one plus the
///   kills before its one finished upload; and it is uploaded at most once
///   per process life.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kill_nines_lose_nothing() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "400");
    h.set("JOB_LEASE_SECS", "2");
    let prompts = ["crash one", "crash two", "crash three"];
    let mut chats = Vec::new();
    let mut prompt_of = HashMap::new();
    let mut rng = 42u64;
    let mut next = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        rng >> 33
    };
    let kills = 20;
    // When each killed process was dead: a send the fake saw before
    // `killed[i]` (and after `killed[i - 1]`) was made in life `i`.
    let mut killed = Vec::new();
    for round in 0..kills {
        let service = h.spawn();
        for i in 0..3 {
            let chat = 2000 + (round * 3 + i) as i64;
            let prompt = prompts[(round + i) % prompts.len()];
            h.fake.push_text(chat, chat, prompt);
            chats.push(chat);
            prompt_of.insert(chat, prompt);
        }
        // Die at a random moment: while polling, generating, uploading or fanning out.
        let after = Duration::from_millis(50 + next() % 900);
        h.fake.wait_until(|_| false, after).await;
        service.kill9().await;
        killed.push(std::time::Instant::now());
    }
    let life = |at: std::time::Instant| killed.iter().filter(|k| **k <= at).count();
    let service = h.spawn();
    let ok = h.fake.wait_for(|sent| chats.iter().all(|c| !videos_to(sent, *c).is_empty()), Duration::from_secs(120)).await;
    assert!(
        ok,
        "undelivered after {kills} kills: {:?}\n{}",
        chats.iter().filter(|c| videos_to(&h.fake.sent(), **c).is_empty()).collect::<Vec<_>>(),
        h.logs()
    );
    let all_done = support::eventually(Duration::from_secs(30), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(all_done, "requests left pending");
    let sent = h.fake.sent();
    let videos: Vec<_> = sent.iter().filter(|s| s.method == "sendVideo").collect();

    // Sends: at most one video per chat per process life; so every
    // duplicate comes from a kill, and the last life duplicates nothing.
    for chat in &chats {
        let lives: Vec<usize> = videos.iter().filter(|s| s.chat_id == *chat).map(|s| life(s.at)).collect();
        let distinct: HashSet<usize> = lives.iter().copied().collect();
        assert_eq!(distinct.len(), lives.len(), "chat {chat} got two videos in one process life (lives {lives:?})");
    }

    // Generations: one asset per prompt; each is uploaded at most once per
    // life, and its attempts are bounded by the kills before its upload.
    let assets = h.assets().await;
    assert_eq!(assets.len(), prompts.len());
    for asset in &assets {
        let file_id = asset.file_id.as_ref().map(|f| f.0.clone()).unwrap_or_else(|| panic!("{asset:?} is not available"));
        let uploads: Vec<_> =
            videos.iter().filter(|s| s.uploaded && prompt_of.get(&s.chat_id) == Some(&asset.prompt.as_str())).collect();
        let upload_lives: Vec<usize> = uploads.iter().map(|s| life(s.at)).collect();
        let distinct: HashSet<usize> = upload_lives.iter().copied().collect();
        assert_eq!(distinct.len(), upload_lives.len(), "{:?} uploaded twice in one process life: {upload_lives:?}", asset.prompt);
        let finished = uploads
            .iter()
            .find(|s| s.video_file_id.as_deref() == Some(file_id.as_str()))
            .unwrap_or_else(|| panic!("the upload of {:?} ({file_id}) was not seen", asset.prompt));
        let kills_before = life(finished.at);
        assert!(
            asset.attempts >= 1 && asset.attempts as usize <= 1 + kills_before,
            "{:?}: {} attempts, with {kills_before} kills before its upload",
            asset.prompt,
            asset.attempts
        );
        assert!(uploads.len() <= 1 + kills_before, "{:?}: {} uploads, {kills_before} kills before", asset.prompt, uploads.len());
        // Whatever was re-sent after the upload was recorded is that file.
        let last = life(finished.at);
        for s in videos.iter().filter(|s| prompt_of.get(&s.chat_id) == Some(&asset.prompt.as_str()) && life(s.at) > last) {
            assert_eq!(
                s.video_file_id.as_deref(),
                Some(file_id.as_str()),
                "{:?} was sent as another file after its upload",
                asset.prompt
            );
        }
    }
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
