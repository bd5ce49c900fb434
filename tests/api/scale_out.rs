//! Scale-out on real PostgreSQL and Redis: several processes, webhook mode,
//! one dedup promise, one flood budget, coherent caches.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::support::{ADMIN, Harness, free_port, redis_db, scale_backends, texts_to, videos_to};
use fakes::telegram::FakeTelegramConfig;
use vidcache::domain::RequestStatus;

const SECRET: &str = "test_secret-12345";

async fn scale_harness(redis_db: u8) -> Option<Harness> {
    let (database_url, redis_url) = scale_backends(redis_db).await?;
    let mut h = Harness::with_config(FakeTelegramConfig { require_known_chats: false, ..Default::default() }).await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &redis_url);
    h.set("WEBHOOK_URL", "https://bot.example.test/hook");
    h.set("WEBHOOK_SECRET", SECRET);
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    // Two busy processes on two cores: a lease must outlast a slow renewal.
    h.set("JOB_LEASE_SECS", "15");
    Some(h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_and_redis_generate_each_prompt_once() {
    let _serial = support::MULTI_PROCESS.lock().await;
    let Some(h) = scale_harness(redis_db::SCALE_OUT_WEBHOOKS).await else { return };
    let (port_a, port_b) = (free_port(), free_port());
    let a = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_a}"))]);
    let b = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_b}"))]);
    support::wait_listening(&h, port_a).await;
    support::wait_listening(&h, port_b).await;
    assert_eq!(
        h.fake.webhook().map(|(url, secret)| (url, secret.unwrap_or_default())),
        Some(("https://bot.example.test/hook".into(), SECRET.into()))
    );

    let client = reqwest::Client::new();
    // The secret token is checked on every call.
    assert_eq!(support::post_update(&client, port_a, None, &support::webhook_update(1, 1, "sneaky")).await, 401);
    assert_eq!(support::post_update(&client, port_b, Some("wrong"), &support::webhook_update(2, 2, "sneaky")).await, 401);

    let prompts: Vec<String> = (0..20).map(|i| format!("scaled prompt {i}")).collect();
    let mut expected = HashMap::new();
    let mut posts = Vec::new();
    for i in 0..1000i64 {
        let chat = 100_000 + i;
        let base = &prompts[i as usize % prompts.len()];
        let text = if i % 2 == 0 { base.to_uppercase() } else { format!(" {base} ") };
        expected.insert(chat, base.clone());
        let port = if i % 2 == 0 { port_a } else { port_b };
        let client = client.clone();
        let body = support::webhook_update(10 + i, chat, &text);
        posts.push(tokio::spawn(async move { support::post_update(&client, port, Some(SECRET), &body).await }));
    }
    for p in posts {
        assert_eq!(p.await.expect("joins"), 200);
    }
    let ok =
        h.fake.wait_for(|sent| sent.iter().filter(|s| s.method == "sendVideo").count() >= 1000, Duration::from_secs(240)).await;
    assert!(ok, "not all 1000 delivered: {}\n{}", h.fake.sent().iter().filter(|s| s.method == "sendVideo").count(), h.logs());

    let sent = h.fake.sent();
    let mut ids: HashMap<&String, HashSet<String>> = HashMap::new();
    for (chat, prompt) in &expected {
        let videos = videos_to(&sent, *chat);
        assert_eq!(videos.len(), 1, "chat {chat} got {} videos", videos.len());
        ids.entry(prompt).or_default().insert(videos[0].clone());
    }
    assert!(ids.values().all(|s| s.len() == 1), "one file_id per prompt");
    assert_eq!(h.fake.uploads(), 20, "20 uploads");
    assert_eq!(h.jobs().await, 20, "20 generation jobs\n{}", h.logs());
    let generations: i32 = h.assets().await.iter().map(|a| a.attempts).sum();
    assert_eq!(generations, 20, "20 generations");
    let done = support::eventually(Duration::from_secs(30), || async {
        h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(done, "requests left pending");
    let too_many = h.fake.too_many_requests();
    assert!(too_many < 50, "{too_many} answers of 429 for 1000 requests");

    let (code_a, _) = a.terminate().await;
    let (code_b, _) = b.terminate().await;
    assert_eq!((code_a, code_b), (Some(0), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_on_one_replica_reaches_the_other_within_a_second() {
    let _serial = support::MULTI_PROCESS.lock().await;
    let Some(mut h) = scale_harness(redis_db::SCALE_OUT_LIMITS).await else { return };
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
    let (port_a, port_b) = (free_port(), free_port());
    let a = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_a}"))]);
    let b = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_b}"))]);
    support::wait_listening(&h, port_a).await;
    support::wait_listening(&h, port_b).await;
    let client = reqwest::Client::new();

    assert_eq!(support::post_update(&client, port_a, Some(SECRET), &support::webhook_update(1, 1, "Coherent cat")).await, 200);
    let first = h.video_for(1, 0).await;
    assert_eq!(support::post_update(&client, port_b, Some(SECRET), &support::webhook_update(2, 2, "coherent CAT")).await, 200);
    assert_eq!(h.video_for(2, 0).await, first, "replica B serves (and now caches) the same video");

    assert_eq!(
        support::post_update(&client, port_a, Some(SECRET), &support::webhook_update(3, ADMIN, "/clear coherent cat")).await,
        200
    );
    let cleared =
        h.fake.wait_for(|sent| texts_to(sent, ADMIN).iter().any(|t| t.starts_with("Cleared")), Duration::from_secs(10)).await;
    assert!(cleared);
    // The promise under test is a time bound: one second after the clear,
    // replica B must no longer answer from its cache.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(support::post_update(&client, port_b, Some(SECRET), &support::webhook_update(4, 4, "Coherent Cat")).await, 200);
    let after = h.video_for(4, 0).await;
    assert_ne!(after, first, "replica B regenerated instead of serving its stale cache");
    assert_eq!(h.fake.uploads(), 2);
    a.terminate().await;
    b.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_alone_holds_data_and_queue() {
    let _serial = support::MULTI_PROCESS.lock().await;
    let Some(database_url) = support::postgres_database().await else { return };
    let mut h = Harness::new().await;
    h.set("DATABASE_URL", &database_url);
    h.set("LOCAL_GENERATOR_DELAY_MS", "500");
    let service = h.spawn();
    h.wait_polling().await;
    let prompts = ["pg one", "pg two", "pg three"];
    let chats: Vec<i64> = (7000..7060).collect();
    for (i, chat) in chats.iter().enumerate() {
        let text = if i % 2 == 0 { prompts[i % 3].to_uppercase() } else { format!("  {}", prompts[i % 3]) };
        h.fake.push_text(*chat, *chat, &text);
    }
    let ok = h.fake.wait_for(|sent| chats.iter().all(|c| videos_to(sent, *c).len() == 1), Duration::from_secs(120)).await;
    assert!(ok, "not all delivered on PostgreSQL\n{}", h.logs());
    assert_eq!(h.fake.uploads(), 3);
    assert_eq!(h.jobs().await, 3, "the apalis-postgres queue holds one job per prompt");
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}
