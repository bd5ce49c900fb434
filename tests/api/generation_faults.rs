//! The service in this process with scripted generators: failures, hangs,
//! and retries by the next request.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use crate::support::Harness;
use crate::support::generators::Scripted;
use vidcache::domain::{AssetStatus, ChatId, MessageId, RequestStatus, UserId};
use vidcache::service::intake::NewRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_generation_tells_every_waiter_and_the_next_request_retries() {
    let mut h = Harness::new().await;
    h.set("GENERATION_ATTEMPTS", "3");
    let generator = Arc::new(Scripted::default());
    generator.fail("broken dream");
    let (stop, running) = h.run_in_process(generator.clone());
    h.wait_polling().await;

    for chat in [40, 41, 42] {
        h.fake.push_text(chat, chat, "Broken Dream");
    }
    for chat in [40, 41, 42] {
        let ok = h
            .fake
            .wait_for(
                move |sent| support::texts_to(sent, chat).iter().any(|t| t.contains("couldn't make the video")),
                Duration::from_secs(30),
            )
            .await;
        assert!(ok, "chat {chat} was not told: {:?}", h.fake.sent_to(chat));
    }
    assert_eq!(generator.calls(), 3, "a bounded number of attempts");
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed);
    assert!(matches!(asset.last_error, Some(vidcache::domain::Failure::Attempts { attempts: 3, .. })));
    assert!(h.requests().await.iter().all(|r| r.status == RequestStatus::Failed && r.notified_at.is_some()));
    assert_eq!(h.fake.uploads(), 0);

    // /status shows the failure.
    h.fake.push_text(40, 40, "/status");
    let ok =
        h.fake.wait_for(|sent| support::texts_to(sent, 40).iter().any(|t| t.contains("failed")), Duration::from_secs(10)).await;
    assert!(ok);

    // The provider recovers; the next request makes a fresh attempt.
    generator.heal("broken dream");
    h.fake.push_text(43, 43, "broken dream");
    h.video_for(43, 0).await;
    assert_eq!(generator.calls(), 4);
    assert_eq!(h.jobs().await, 2, "one job per generation");
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Available);
    assert_eq!(asset.generation, 2);

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_generator_times_out_without_blocking_other_prompts() {
    let mut h = Harness::new().await;
    h.set("GENERATION_TIMEOUT_SECS", "1");
    h.set("GENERATION_ATTEMPTS", "2");
    h.set("WORKER_CONCURRENCY", "2");
    let generator = Arc::new(Scripted::default());
    generator.hang("frozen");
    let (stop, running) = h.run_in_process(generator.clone());
    h.wait_polling().await;

    h.fake.push_text(50, 50, "frozen");
    h.fake.push_text(51, 51, "flowing river");
    // The other prompt is served while the first one hangs.
    h.video_for(51, 0).await;
    let ok = h
        .fake
        .wait_for(
            |sent| support::texts_to(sent, 50).iter().any(|t| t.contains("it failed after 2 attempts")),
            Duration::from_secs(30),
        )
        .await;
    assert!(ok, "the user of the hung prompt is told: {:?}", h.fake.sent_to(50));
    let frozen = h.assets().await.into_iter().find(|a| a.prompt == "frozen").expect("asset");
    assert_eq!(frozen.status, AssetStatus::Failed);
    // the technical reason is kept for operators, not shown to the user
    let stored = frozen.last_error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(stored.starts_with("attempts 2: ") && stored.contains("did not finish"), "{stored}");
    assert!(!support::texts_to(&h.fake.sent(), 50).iter().any(|t| t.contains("did not finish")));
    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_requests_enqueue_one_job_per_prompt() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "2000");
    let intake = vidcache::app::build(h.settings()).await.expect("service builds").intake().await.expect("intake builds");
    let prompts = ["alpha wave", "beta blocker", "gamma ray", "delta force"];
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let intake = intake.clone();
        let base = prompts[i as usize % prompts.len()];
        let text = if i % 3 == 0 {
            base.to_uppercase()
        } else if i % 3 == 1 {
            format!("  {base} ")
        } else {
            base.replace(' ', "\t ")
        };
        let chat = 10_000 + i;
        h.fake.push_text(chat, chat, "hello"); // makes the chat known to the fake
        tasks.push(tokio::spawn(async move {
            let prompt = vidcache::domain::Prompt::parse(&text, 1000).expect("valid");
            let new = NewRequest {
                user_id: UserId(chat),
                chat_id: ChatId(chat),
                message_id: MessageId(1),
                raw_text: text,
                language: vidcache::domain::Lang::En,
                thread_id: None,
            };
            intake.request_video(new, vidcache::domain::Wanted::new(prompt, vidcache::domain::Recipe::default())).await
        }));
    }
    for task in tasks {
        task.await.expect("joins").expect("request recorded");
    }
    assert_eq!(h.jobs().await, prompts.len() as i64, "exactly one job per distinct prompt");
    let assets = h.assets().await;
    assert_eq!(assets.len(), prompts.len());
    assert!(assets.iter().all(|a| a.generation == 1 && a.dispatched_generation == 1));
    assert_eq!(h.requests().await.len(), 400);
}
