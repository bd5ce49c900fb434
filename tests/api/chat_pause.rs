//! A 429 for one chat pauses only that chat (issue #25, part 3), black-box
//! against the fake Telegram: the chat's sends wait out its `retry_after`
//! — in this process, and on the other replicas through the shared budget
//! in Redis — while every other chat is served at once, and the flooded
//! chat still gets its video after the pause, exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{
    Harness, MULTI_PROCESS, eventually, free_port, post_update, redis_db, scale_backends, texts_to, videos_to, webhook_update,
};
use fakes::telegram::{FakeTelegramConfig, Faults};
use vidcache::domain::RequestStatus;

/// The flooded chat's `retry_after`, in seconds.
const PAUSE: u32 = 5;
const PROMPT: &str = "a quiet harbour at dawn";

/// Sends accepted for `chat` (videos and texts) and sends refused with 429.
fn refusals(h: &Harness, chat: i64) -> usize {
    h.fake.refused_sends(chat).iter().filter(|(_, code)| *code == 429).count()
}

#[tokio::test]
async fn a_429_for_one_private_chat_pauses_only_that_chat() {
    let h = Harness::new().await;
    let _service = h.spawn();
    h.wait_polling().await;
    // the video is in the cache
    h.fake.push_text(41, 41, PROMPT);
    h.video_for(41, 0).await;

    let (flooded, other) = (42, 43);
    h.fake.set_faults(Faults { flood_for: HashMap::from([(flooded, PAUSE)]), ..Faults::default() });
    let set = Instant::now();
    h.fake.push_text(flooded, flooded, PROMPT);
    let refused = h.fake.wait_until(move |f| !f.refused_sends(flooded).is_empty(), Duration::from_secs(10)).await;
    assert!(refused, "the flooded chat's send never came back 429\n{}", h.logs());

    // another private chat asks meanwhile: it is answered well within the pause
    let asked = Instant::now();
    h.fake.push_text(other, other, PROMPT);
    h.video_for(other, 0).await;
    let took = asked.elapsed();
    eprintln!("another chat was served in {took:?} while chat {flooded} waited out its 429 (retry after {PAUSE} s)");
    assert!(took < Duration::from_secs(2), "another chat waited {took:?} behind one chat's 429");
    assert!(videos_to(&h.fake.sent(), flooded).is_empty(), "the flooded chat was sent to during its pause");

    // the flooded chat gets its video after the pause, once, with no second 429
    h.video_for(flooded, 0).await;
    let delivered = set.elapsed();
    assert!(delivered >= Duration::from_secs(u64::from(PAUSE)), "delivered {delivered:?} after the 429");
    assert!(delivered <= Duration::from_secs(u64::from(PAUSE) + 3), "the pause lasted {delivered:?}");
    assert_eq!(refusals(&h, flooded), 1, "sent to again within the pause: {:?}", h.fake.refused_sends(flooded));
    let completed = eventually(Duration::from_secs(10), || async {
        h.requests().await.iter().any(|r| r.chat_id.0 == flooded && r.status == RequestStatus::Completed)
    })
    .await;
    assert!(completed, "{:?}", h.requests().await);
    // a few seconds later, still exactly one video: the 429 was not sent twice
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(videos_to(&h.fake.sent(), flooded).len(), 1);
}

const SECRET: &str = "test_secret-12345";

async fn post(client: &reqwest::Client, port: u16, body: &serde_json::Value) {
    let status = post_update(client, port, Some(SECRET), body).await;
    assert_eq!(status, 200, "the webhook on {port} refused the update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_replica_pauses_that_chat_on_the_other() {
    let Some((database_url, redis_url)) = scale_backends(redis_db::CHAT_PAUSE_REPLICAS).await else { return };
    let _serial = MULTI_PROCESS.lock().await;
    let mut h = Harness::with_config(FakeTelegramConfig { require_known_chats: false, ..Default::default() }).await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &redis_url);
    h.set("WEBHOOK_URL", "https://bot.example.test/hook");
    h.set("WEBHOOK_SECRET", SECRET);
    h.set("JOB_LEASE_SECS", "15");
    let (port_a, port_b) = (free_port(), free_port());
    let a = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_a}"))]);
    let b = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_b}"))]);
    for port in [port_a, port_b] {
        let listening =
            eventually(Duration::from_secs(30), || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() })
                .await;
        assert!(listening, "nothing listens on {port}\n{}", h.logs());
    }
    let client = reqwest::Client::new();
    post(&client, port_a, &webhook_update(1, 41, PROMPT)).await;
    h.video_for(41, 0).await;

    let (flooded, other) = (42, 43);
    h.fake.set_faults(Faults { flood_for: HashMap::from([(flooded, PAUSE)]), ..Faults::default() });
    let set = Instant::now();
    // replica A's send to the chat comes back 429
    post(&client, port_a, &webhook_update(2, flooded, PROMPT)).await;
    let refused = h.fake.wait_until(move |f| !f.refused_sends(flooded).is_empty(), Duration::from_secs(10)).await;
    assert!(refused, "the flooded chat's send never came back 429\n{}", h.logs());
    // replica A records the chat's pause in Redis once the 429 reaches it:
    // the test goes on from there, not from the fake's answer
    let pattern = format!("vidcache:flood:*:paused:{flooded}");
    let shared = eventually(Duration::from_secs(10), || {
        let (url, pattern) = (redis_url.clone(), pattern.clone());
        async move {
            let Ok(client) = redis::Client::open(url.as_str()) else { return false };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return false };
            let keys: redis::RedisResult<Vec<String>> = redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await;
            keys.is_ok_and(|keys| !keys.is_empty())
        }
    })
    .await;
    assert!(shared, "replica A never recorded the chat's pause in Redis\n{}", h.logs());
    // the same chat writes again, to replica B: B holds its answer too
    post(&client, port_b, &webhook_update(3, flooded, "/start")).await;
    // and another chat, on replica B, is served at once
    let asked = Instant::now();
    post(&client, port_b, &webhook_update(4, other, PROMPT)).await;
    h.video_for(other, 0).await;
    let took = asked.elapsed();
    eprintln!("replica B served another chat in {took:?} while chat {flooded} waited out a 429 replica A was told");
    assert!(took < Duration::from_secs(2), "another chat waited {took:?} behind one chat's 429");

    // after the pause the flooded chat gets both answers, from both replicas, once each
    h.video_for(flooded, 0).await;
    let answered = h.fake.wait_for(move |sent| !texts_to(sent, flooded).is_empty(), Duration::from_secs(20)).await;
    assert!(answered, "replica B never answered /start\n{}", h.logs());
    let delivered = set.elapsed();
    assert!(delivered >= Duration::from_secs(u64::from(PAUSE)), "answered {delivered:?} after the 429");
    assert_eq!(
        refusals(&h, flooded),
        1,
        "a replica sent to the chat within its pause: {:?}\n{}",
        h.fake.refused_sends(flooded),
        h.logs()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(videos_to(&h.fake.sent(), flooded).len(), 1);
    a.terminate().await;
    b.terminate().await;
}
