//! Credits and limits across processes on real PostgreSQL and Redis: the
//! rate limit is one atomic script on Redis shared by two bot processes,
//! and one balance can't be spent twice by requests racing on two replicas.

use crate::support;

use std::time::Duration;

use fakes::telegram::FakeTelegramConfig;
use serde_json::json;
use crate::support::{Harness, free_port, scale_backends, texts_to, videos_to};
use vidcache::domain::UserId;

const SECRET: &str = "credits_secret-1";

/// One multi-process test at a time on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn update(update_id: i64, user: i64, text: &str) -> serde_json::Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000,
        "chat": {"id": user, "type": "private", "first_name": "S"},
        "from": {"id": user, "is_bot": false, "first_name": "S"},
        "text": text
    }})
}

async fn post(client: &reqwest::Client, port: u16, body: &serde_json::Value) -> u16 {
    let request =
        client.post(format!("http://127.0.0.1:{port}/hook")).json(body).header("X-Telegram-Bot-Api-Secret-Token", SECRET);
    request.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

async fn two_replicas(h: &Harness) -> (support::Service, support::Service, u16, u16) {
    let (port_a, port_b) = (free_port(), free_port());
    let a = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_a}"))]);
    let b = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_b}"))]);
    for port in [port_a, port_b] {
        let ok = support::eventually(Duration::from_secs(30), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        assert!(ok, "nothing listens on {port}\n{}", h.logs());
    }
    (a, b, port_a, port_b)
}

async fn harness(redis_db: u8) -> Option<Harness> {
    let (database_url, redis_url) = scale_backends(redis_db).await?;
    let mut h = Harness::with_config(FakeTelegramConfig { require_known_chats: false, ..Default::default() }).await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &redis_url);
    h.set("WEBHOOK_URL", "https://bot.example.test/hook");
    h.set("WEBHOOK_SECRET", SECRET);
    h.set("JOB_LEASE_SECS", "15");
    Some(h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_across_two_processes_sharing_redis() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut h) = harness(11).await else { return };
    h.set("USER_RATE_LIMIT", "3/min");
    let (a, b, port_a, port_b) = two_replicas(&h).await;
    let client = reqwest::Client::new();
    let user = 4242;
    for i in 0..8 {
        let port = if i % 2 == 0 { port_a } else { port_b };
        assert_eq!(post(&client, port, &update(i + 1, user, &format!("limited prompt {i}"))).await, 200);
    }
    let ok = h
        .fake
        .wait_for(
            |sent| {
                videos_to(sent, user).len() == 3
                    && texts_to(sent, user).iter().filter(|t| t.contains("ask again in")).count() == 5
            },
            Duration::from_secs(60),
        )
        .await;
    assert!(ok, "{:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    let recorded = h.requests().await.iter().filter(|r| r.telegram_user_id == UserId(user)).count();
    assert_eq!(recorded, 3, "3 a minute across both replicas");
    a.terminate().await;
    b.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replicas_spend_a_balance_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(mut h) = harness(12).await else { return };
    h.set("CREDITS", "on");
    h.set("FREE_CREDITS", "30");
    let (a, b, port_a, port_b) = two_replicas(&h).await;
    let client = reqwest::Client::new();
    let user = 4343;
    let mut posts = Vec::new();
    for i in 0..20 {
        let (client, port) = (client.clone(), if i % 2 == 0 { port_a } else { port_b });
        let body = update(i + 1, user, &format!("racing prompt {i}"));
        posts.push(tokio::spawn(async move { post(&client, port, &body).await }));
    }
    for p in posts {
        assert_eq!(p.await.expect("joins"), 200);
    }
    let ok = h
        .fake
        .wait_for(
            |sent| {
                videos_to(sent, user).len() + texts_to(sent, user).iter().filter(|t| t.contains("costs 10 credits")).count() == 20
            },
            Duration::from_secs(60),
        )
        .await;
    assert!(ok, "{:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    let db = h.db().await;
    let recorded = h.requests().await.len();
    assert!(recorded <= 3, "{recorded} requests started on a balance for 3");
    let balance = vidcache::db::credits::balance(&db, UserId(user)).await.expect("balance").unwrap_or_default();
    assert_eq!(balance, 30 - 10 * recorded as i64);
    assert_eq!(vidcache::db::credits::ledger_sum(&db, UserId(user)).await.expect("sum"), balance);
    a.terminate().await;
    b.terminate().await;
}

/// A request refused for credits takes no slot of the rate limit kept in
/// Redis (before, three refusals used up a 2/min limit, and the first
/// request after buying credits was refused for the rate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_for_credits_takes_no_rate_limit_slot() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some((database_url, redis_url)) = scale_backends(13).await else { return };
    let mut h = Harness::new().await;
    h.set("DATABASE_URL", &database_url);
    h.set("QUEUE_URL", &redis_url);
    h.set("CREDITS", "on");
    h.set("FREE_CREDITS", "0");
    h.set("USER_RATE_LIMIT", "2/min");
    let service = h.spawn();
    h.wait_polling().await;
    let user = 4444;
    for i in 0..3 {
        h.fake.push_text(user, user, &format!("unaffordable prompt {i}"));
    }
    let ok = h
        .fake
        .wait_for(
            |sent| texts_to(sent, user).iter().filter(|t| t.contains("costs 10 credits")).count() == 3,
            Duration::from_secs(30),
        )
        .await;
    assert!(ok, "{:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    h.fake.push_text(support::ADMIN, support::ADMIN, &format!("/grant {user} 100"));
    assert!(h.text_for(support::ADMIN, 0).await.contains("balance: 100"));
    h.fake.push_text(user, user, "an affordable prompt");
    h.video_for(user, 0).await;
    assert!(!texts_to(&h.fake.sent(), user).iter().any(|t| t.contains("ask again in")), "{:?}", texts_to(&h.fake.sent(), user));
    service.terminate().await;
}
