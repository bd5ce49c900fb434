//! The queue only wakes workers; the database is the truth.
//! - A pushed job is picked up at once, not at the next poll: in the
//!   process that pushed it (SQLite), and across processes (PostgreSQL
//!   LISTEN/NOTIFY, Redis pub/sub). Polling is set to a minute here, so
//!   only a wake-up can answer within the bound.
//! - A Redis queue that restarts empty in the middle of a burst loses
//!   nothing: every stranded generation is pushed again and every request
//!   is delivered once, with one generation per prompt.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Harness, free_port, scale_backends, videos_to};

/// Polling every minute and heartbeats every 30 s: an answer within this
/// bound can only come from a wake-up.
const WAKE_BOUND: Duration = Duration::from_secs(8);

fn slow_polling(h: &mut Harness) {
    h.set("QUEUE_POLL_INTERVAL_MS", "60000");
    h.set("JOB_LEASE_SECS", "90");
    h.set("LOCAL_GENERATOR_DELAY_MS", "0");
}

async fn each_new_prompt_is_answered_within_the_bound(h: &Harness, first_chat: i64) {
    for i in 0..3 {
        let chat = first_chat + i;
        let started = Instant::now();
        h.fake.push_text(chat, chat, &format!("wake up number {i} for chat {chat}"));
        let got = h.fake.wait_for(move |sent| !videos_to(sent, chat).is_empty(), WAKE_BOUND).await;
        assert!(got, "prompt {i} was not answered within {WAKE_BOUND:?} ({:?})\n{}", started.elapsed(), h.logs());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_wakes_the_worker_of_the_same_process() {
    let mut h = Harness::new().await;
    slow_polling(&mut h);
    let service = h.spawn();
    h.wait_polling().await;
    // let the worker's first (immediate) poll pass
    tokio::time::sleep(Duration::from_millis(500)).await;
    each_new_prompt_is_answered_within_the_bound(&h, 100).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_wakes_workers_of_other_processes_through_postgres_and_redis() {
    for queue in ["postgres", "redis"] {
        let Some((database_url, redis_url)) = scale_backends(6).await else { return };
        let mut h = Harness::new().await;
        slow_polling(&mut h);
        h.set("DATABASE_URL", &database_url);
        if queue == "redis" {
            h.set("QUEUE_URL", &redis_url);
        }
        let worker = h.spawn_with("worker", &[]);
        // the worker is listening once it has fetched (and found nothing)
        tokio::time::sleep(Duration::from_secs(2)).await;
        let bot = h.spawn_with("bot", &[]);
        h.wait_polling().await;
        each_new_prompt_is_answered_within_the_bound(&h, 200).await;
        bot.terminate().await;
        worker.terminate().await;
    }
}

/// A `redis-server` of this test's own, without persistence.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Option<Self> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(Self { child, port }),
            Err(err) => {
                assert!(std::env::var_os("CI").is_none(), "redis-server is required in CI: {err}");
                eprintln!("note: redis-server not found ({err}); skipping");
                None
            }
        }
    }

    async fn wait_ready(&self) {
        let url = format!("redis://127.0.0.1:{}", self.port);
        let ready = support::eventually(Duration::from_secs(10), || async {
            match redis::Client::open(url.as_str()) {
                Ok(client) => client.get_multiplexed_async_connection().await.is_ok(),
                Err(_) => false,
            }
        })
        .await;
        assert!(ready, "redis-server on port {} never answered", self.port);
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_queue_that_restarts_empty_strands_nothing() {
    let Some((database_url, _)) = scale_backends(7).await else { return };
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port) else { return };
    redis.wait_ready().await;
    let mut h = Harness::new().await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &format!("redis://127.0.0.1:{port}"));
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    h.set("WORKER_CONCURRENCY", "1");
    let service = h.spawn();
    h.wait_polling().await;

    // a burst: 10 prompts, 4 users each
    let prompts: Vec<String> = (0..10).map(|i| format!("stranded prompt {i}")).collect();
    for (i, prompt) in prompts.iter().enumerate() {
        for user in 0..4 {
            let chat = 5_000 + (i as i64) * 10 + user;
            h.fake.push_text(chat, chat, prompt);
        }
    }
    // every generation is pushed (recorded as dispatched) while one job runs at a time
    let pushed = support::eventually(Duration::from_secs(30), || async {
        let assets = h.assets().await;
        assets.len() == prompts.len() && assets.iter().all(|a| a.dispatched_generation == a.generation)
    })
    .await;
    assert!(pushed, "the burst was never fully dispatched\n{}", h.logs());

    // the queue's Redis dies and comes back empty
    redis.kill();
    let mut redis = OwnRedis::start(port).expect("redis-server restarts");
    redis.wait_ready().await;

    let chats: Vec<i64> = (0..10).flat_map(|i| (0..4).map(move |u| 5_000 + i * 10 + u)).collect();
    let all = chats.clone();
    let delivered =
        h.fake.wait_for(move |sent| all.iter().all(|chat| !videos_to(sent, *chat).is_empty()), Duration::from_secs(120)).await;
    assert!(delivered, "some requests were stranded by the lost queue\n{}", h.logs());
    let sent = h.fake.sent();
    for chat in &chats {
        assert_eq!(videos_to(&sent, *chat).len(), 1, "chat {chat} got its video exactly once");
    }
    assert_eq!(h.fake.uploads(), prompts.len(), "one upload per prompt");
    let generations: i32 = h.assets().await.iter().map(|a| a.attempts).sum();
    assert_eq!(generations, prompts.len() as i32, "one generation per prompt");
    service.terminate().await;
    redis.kill();
}
