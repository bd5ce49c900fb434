//! Credits and limits across processes on real PostgreSQL and Redis: the
//! rate limit is one atomic script on Redis shared by two bot processes,
//! and one balance can't be spent twice by requests racing on two replicas.

use crate::support;

use std::time::Duration;

use crate::support::{Harness, free_port, redis_db, scale_backends, texts_to, videos_to};
use fakes::telegram::FakeTelegramConfig;
use vidcache::domain::{LedgerKind, UserId};

const SECRET: &str = "credits_secret-1";

async fn two_replicas(h: &Harness) -> (support::Service, support::Service, u16, u16) {
    let (port_a, port_b) = (free_port(), free_port());
    let a = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_a}"))]);
    let b = h.spawn_with("serve", &[("WEBHOOK_LISTEN_ADDR", format!("127.0.0.1:{port_b}"))]);
    for port in [port_a, port_b] {
        support::wait_listening(h, port).await;
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
    let _one = support::MULTI_PROCESS.lock().await;
    let Some(mut h) = harness(redis_db::CREDITS_RATE_LIMIT).await else { return };
    h.set("USER_RATE_LIMIT", "3/min");
    let (a, b, port_a, port_b) = two_replicas(&h).await;
    let client = reqwest::Client::new();
    let user = 4242;
    for i in 0..8 {
        let port = if i % 2 == 0 { port_a } else { port_b };
        assert_eq!(
            support::post_update(
                &client,
                port,
                Some(SECRET),
                &support::webhook_update(i + 1, user, &format!("limited prompt {i}"))
            )
            .await,
            200
        );
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
    let _one = support::MULTI_PROCESS.lock().await;
    let Some(mut h) = harness(redis_db::CREDITS_RACING_REPLICAS).await else { return };
    h.set("CREDITS", "on");
    h.set("FREE_CREDITS", "30");
    let (a, b, port_a, port_b) = two_replicas(&h).await;
    let client = reqwest::Client::new();
    let user = 4343;
    let mut posts = Vec::new();
    for i in 0..20 {
        let (client, port) = (client.clone(), if i % 2 == 0 { port_a } else { port_b });
        let body = support::webhook_update(i + 1, user, &format!("racing prompt {i}"));
        posts.push(tokio::spawn(async move { support::post_update(&client, port, Some(SECRET), &body).await }));
    }
    for p in posts {
        assert_eq!(p.await.expect("joins"), 200);
    }
    // 30 free credits, 10 a video: exactly three of the twenty are made
    // and the other seventeen are refused for the balance, however the
    // two replicas interleave.
    let refused = |sent: &[fakes::telegram::Sent]| texts_to(sent, user).iter().filter(|t| t.contains("costs 10 credits")).count();
    let ok = h.fake.wait_for(move |sent| videos_to(sent, user).len() + refused(sent) == 20, Duration::from_secs(60)).await;
    assert!(ok, "{:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
    let sent = h.fake.sent();
    assert_eq!(videos_to(&sent, user).len(), 3, "three videos on a balance for three: {:?}", texts_to(&sent, user));
    assert_eq!(refused(&sent), 17, "every other request is refused for the balance: {:?}", texts_to(&sent, user));
    let db = h.db().await;
    let recorded = h.requests().await;
    assert_eq!(recorded.len(), 3, "three requests recorded on a balance for three");
    // The holds are captured once the videos are delivered (a sweep may
    // still be settling them): the balance ends at 0.
    let settled = support::eventually(Duration::from_secs(20), || async {
        let ledger = vidcache::db::credits::recent(&db, UserId(user), 100).await.expect("ledger");
        ledger.iter().filter(|r| r.kind == LedgerKind::Capture).count() == 3
    })
    .await;
    let mut ledger = vidcache::db::credits::recent(&db, UserId(user), 100).await.expect("ledger");
    assert!(settled, "three holds captured: {ledger:#?}");
    ledger.reverse();
    let kinds: Vec<(LedgerKind, i64)> = ledger.iter().map(|r| (r.kind, r.amount)).collect();
    let holds = kinds.iter().filter(|(kind, _)| *kind == LedgerKind::Hold).count();
    assert_eq!(holds, 3, "one hold per recorded request: {kinds:?}");
    assert_eq!(kinds.first(), Some(&(LedgerKind::Grant, 30)), "the free credits come first: {kinds:?}");
    assert!(!kinds.iter().any(|(kind, _)| *kind == LedgerKind::Release), "nothing was given back: {kinds:?}");
    let mut running = 0;
    for (kind, amount) in &kinds {
        running += amount;
        assert!(running >= 0, "the ledger went negative ({running}) at {kind:?} {amount}: {kinds:?}");
    }
    let balance = vidcache::db::credits::balance(&db, UserId(user)).await.expect("balance");
    assert_eq!(balance, Some(0), "the whole balance is spent, no more: {kinds:?}");
    assert_eq!(vidcache::db::credits::ledger_sum(&db, UserId(user)).await.expect("sum"), 0, "{kinds:?}");
    a.terminate().await;
    b.terminate().await;
}

/// A request refused for credits takes no slot of the rate limit kept in
/// Redis (before, three refusals used up a 2/min limit, and the first
/// request after buying credits was refused for the rate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_for_credits_takes_no_rate_limit_slot() {
    let _one = support::MULTI_PROCESS.lock().await;
    let Some((database_url, redis_url)) = scale_backends(redis_db::CREDITS_REFUSAL_NO_SLOT).await else { return };
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
