//! Credits paid in Telegram Stars and fair-use limits, against the real
//! binary (or the service in this process, with a scripted generator) and
//! the fake Bot API: purchases credited once per charge, holds taken in the
//! transaction that records a request and released when it fails, cached
//! answers at the cached price, refunds, and the per-user and global limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::generators::Scripted;
use crate::support::{ADMIN, Harness, eventually, texts_to, videos_to};
use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::Value;
use vidcache::db::credits;
use vidcache::db::entities::{credit_accounts, star_payments};
use vidcache::domain::{HoldState, RequestStatus, UserId};
use vidcache::generator::{GenerateError, GenerationRequest, Generator, LocalGenerator};

const WAIT: Duration = Duration::from_secs(60);

async fn credits_harness() -> Harness {
    let mut h = Harness::new().await;
    h.set("CREDITS", "on");
    h
}

/// Every account's cached balance equals the sum of its ledger rows, and none is negative.
async fn assert_balances_match_ledger(db: &DatabaseConnection) {
    for account in credit_accounts::Entity::find().all(db).await.expect("accounts") {
        let sum = credits::ledger_sum(db, account.user_id).await.expect("sum");
        assert_eq!(account.balance, sum, "user {}: cached balance differs from the ledger", account.user_id);
        assert!(account.balance >= 0, "user {} below zero", account.user_id);
    }
}

async fn balance(db: &DatabaseConnection, user: i64) -> i64 {
    credits::balance(db, UserId(user)).await.expect("balance").unwrap_or_default()
}

/// The `callback_data` of the buttons of the last message to `chat` that had an inline keyboard.
fn buttons_to(h: &Harness, chat: i64) -> Vec<String> {
    let sent = h.fake.sent_to(chat);
    let markup = sent.iter().rev().find_map(|s| s.reply_markup.clone().filter(|m| m.get("inline_keyboard").is_some()));
    let Some(markup) = markup else { return Vec::new() };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b.get("callback_data").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purchase_is_credited_once_even_when_the_update_comes_twice() {
    let h = credits_harness().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 501;
    h.fake.push_text(user, user, "/balance");
    let text = h.text_for(user, 0).await;
    assert!(text.contains("20 credits"), "first contact grants FREE_CREDITS: {text}");

    h.fake.push_text(user, user, "/buy");
    let offer = h.text_for(user, 1).await;
    assert!(offer.contains("20 credits"), "{offer}");
    let buttons = buttons_to(&h, user);
    assert_eq!(buttons.len(), 3, "one button per default package: {buttons:?}");

    // Pressing the first button sends its invoice in Stars, and the press is answered.
    let message = h.fake.sent_to(user).last().expect("the /buy answer").message_id;
    h.fake.push_callback(user, user, message, &buttons[0]);
    assert!(h.fake.wait_until(|f| !f.invoices().is_empty() && f.calls("answerCallbackQuery") >= 1, WAIT).await, "{}", h.logs());
    let invoice = h.fake.invoices()[0].clone();
    assert_eq!(invoice["currency"], "XTR");
    assert_eq!(invoice["provider_token"], "");
    let prices = invoice["prices"].as_array().cloned().or_else(|| {
        invoice["prices"].as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()).and_then(|v| v.as_array().cloned())
    });
    let prices = prices.expect("prices");
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0]["amount"], 50);
    let payload = invoice["payload"].as_str().expect("payload").to_owned();

    // Pre-checkout: a package on sale is accepted, anything else refused with a message.
    let good = h.fake.push_pre_checkout(user, "XTR", 50, &payload);
    let bad = h.fake.push_pre_checkout(user, "XTR", 50, "pkg:50:9999");
    assert!(h.fake.wait_until(|f| f.pre_checkout_answers().len() == 2, WAIT).await, "{}", h.logs());
    let answers = h.fake.pre_checkout_answers();
    let answer = |id: &str| answers.iter().find(|(q, _, _)| q == id).cloned().expect("answered");
    assert!(answer(&good).1);
    let refused = answer(&bad);
    assert!(!refused.1 && refused.2.is_some_and(|e| !e.is_empty()));

    // The payment arrives twice (a redelivered update): credited once.
    let update = h.fake.successful_payment_update(user, user, 50, &payload, "charge-1");
    h.fake.push_update(update.clone());
    h.fake.push_update(update);
    let thanks = h.text_for(user, 2).await;
    assert!(thanks.contains("60 credits") && thanks.contains("80"), "{thanks}");
    assert!(h.fake.wait_until(|f| f.pending_updates() == 0, WAIT).await);
    let db = h.db().await;
    assert!(eventually(WAIT, || async { balance(&db, user).await == 80 }).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(balance(&db, user).await, 80, "the second delivery credited nothing");
    assert_eq!(star_payments::Entity::find().all(&db).await.expect("payments").len(), 1);
    assert_eq!(texts_to(&h.fake.sent(), user).iter().filter(|t| t.contains("Thank you")).count(), 1);
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_against_a_balance_for_three_start_at_most_three() {
    let mut h = credits_harness().await;
    h.set("FREE_CREDITS", "30");
    h.set("PRICE_NEW_VIDEO", "10");
    let service = h.spawn();
    h.wait_polling().await;
    let user = 502;
    for i in 0..20 {
        h.fake.push_text(user, user, &format!("concurrent prompt {i}"));
    }
    let db = h.db().await;
    // 3 videos and 17 refusals, each with buttons to buy.
    assert!(
        h.fake
            .wait_for(
                |sent| videos_to(sent, user).len() == 3
                    && texts_to(sent, user).iter().filter(|t| t.contains("costs 10 credits")).count() == 17,
                WAIT
            )
            .await,
        "sent: {:?}\n{}",
        texts_to(&h.fake.sent(), user),
        h.logs()
    );
    let requests = h.requests().await;
    assert_eq!(requests.len(), 3, "only what the balance covers is recorded");
    assert!(requests.iter().all(|r| r.price == 10));
    assert!(
        eventually(WAIT, || async {
            h.requests().await.iter().all(|r| r.status == RequestStatus::Completed && r.hold == Some(HoldState::Captured))
        })
        .await
    );
    assert_eq!(balance(&db, user).await, 0);
    assert!(!buttons_to(&h, user).is_empty(), "a refusal offers buttons to buy");
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_generation_releases_every_hold() {
    let h = credits_harness().await;
    let generator = Arc::new(Scripted::default());
    generator.fail("the doomed video");
    let (token, handle) = h.run_in_process(generator.clone());
    h.wait_polling().await;
    let users = [601, 602, 603];
    for user in users {
        h.fake.push_text(user, user, "The doomed video");
    }
    for user in users {
        assert!(
            h.fake.wait_for(move |sent| texts_to(sent, user).iter().any(|t| t.contains("couldn't make")), WAIT).await,
            "{}",
            h.logs()
        );
    }
    let db = h.db().await;
    assert!(
        eventually(WAIT, || async {
            let requests = h.requests().await;
            requests.len() == 3 && requests.iter().all(|r| r.hold == Some(HoldState::Released))
        })
        .await
    );
    for user in users {
        assert_eq!(balance(&db, user).await, 20, "a failure costs user {user} nothing");
    }
    assert_balances_match_ledger(&db).await;
    token.cancel();
    handle.await.expect("joins").expect("stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cached_answer_costs_the_cached_price() {
    let h = credits_harness().await;
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(701, 701, "A cached video");
    h.video_for(701, 0).await;
    h.fake.push_text(702, 702, "a  CACHED video");
    h.video_for(702, 0).await;
    let db = h.db().await;
    assert!(eventually(WAIT, || async { balance(&db, 701).await == 10 && balance(&db, 702).await == 19 }).await);
    assert_eq!(h.fake.uploads(), 1);
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_refunds_a_purchase_once() {
    let h = credits_harness().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 801;
    h.fake.push_update(h.fake.successful_payment_update(user, user, 250, "pkg:250:350", "charge-r1"));
    h.fake.push_update(h.fake.successful_payment_update(user, user, 50, "pkg:50:60", "charge-r2"));
    let db = h.db().await;
    assert!(eventually(WAIT, || async { balance(&db, user).await == 20 + 350 + 60 }).await, "{}", h.logs());

    // Not an operator: refused.
    h.fake.push_text(user, user, &format!("/refund {user} charge-r1"));
    assert!(h.text_for(user, 2).await.contains("only for operators"));

    h.fake.push_text(ADMIN, ADMIN, &format!("/refund {user} charge-r1"));
    let done = h.text_for(ADMIN, 0).await;
    assert!(done.contains("Refunded 250 Stars"), "{done}");
    assert_eq!(h.fake.refunds(), vec![(user, "charge-r1".to_owned())]);
    assert_eq!(balance(&db, user).await, 80);

    // Again, or Telegram's refunded_payment for it: nothing more leaves.
    h.fake.push_text(ADMIN, ADMIN, &format!("/refund {user} charge-r1"));
    assert!(h.text_for(ADMIN, 1).await.contains("already"));
    h.fake.push_refunded_payment(user, user, 250, "pkg:250:350", "charge-r1");
    assert!(h.fake.wait_until(|f| f.pending_updates() == 0, WAIT).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(balance(&db, user).await, 80);

    // Spent credits: an operator takes 70 off, the 60 of charge-r2 are no longer there.
    h.fake.push_text(ADMIN, ADMIN, &format!("/grant {user} -70"));
    assert!(h.text_for(ADMIN, 2).await.contains("balance: 10"));
    h.fake.push_text(ADMIN, ADMIN, &format!("/refund {user} charge-r2"));
    let refused = h.text_for(ADMIN, 3).await;
    assert!(refused.contains("spent"), "{refused}");
    assert_eq!(h.fake.refunds().len(), 1);
    // A refund Telegram made on its own takes what is left, never below zero.
    h.fake.push_refunded_payment(user, user, 50, "pkg:50:60", "charge-r2");
    assert!(eventually(WAIT, || async { balance(&db, user).await == 0 }).await);

    h.fake.push_text(ADMIN, ADMIN, "/stats");
    let stats = h.text_for(ADMIN, 4).await;
    assert!(stats.contains("sold: 410") && stats.contains("refunded: 360"), "{stats}");
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_requests_and_the_rate_limit_are_capped_in_the_database() {
    let mut h = Harness::new().await;
    h.set("USER_MAX_WAITING", "2");
    h.set("USER_RATE_LIMIT", "3/min");
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let service = h.spawn();
    h.wait_polling().await;
    let user = 901;
    for i in 0..4 {
        h.fake.push_text(user, user, &format!("waiting prompt {i}"));
    }
    assert!(
        h.fake
            .wait_for(|sent| texts_to(sent, user).iter().filter(|t| t.contains("already have 2 videos")).count() == 2, WAIT)
            .await,
        "{:?}",
        texts_to(&h.fake.sent(), user)
    );
    h.video_for(user, 1).await;
    // Two made, one more allowed this minute; the fourth is told when to ask again.
    h.fake.push_text(user, user, "waiting prompt 5");
    h.video_for(user, 2).await;
    h.fake.push_text(user, user, "waiting prompt 6");
    assert!(h.fake.wait_for(|sent| texts_to(sent, user).iter().any(|t| t.contains("ask again in")), WAIT).await);
    // Cache hits are never limited, and operators never are.
    let made = h.requests().await.into_iter().find(|r| r.telegram_user_id == UserId(user)).expect("a recorded request");
    h.fake.push_text(user, user, &made.raw_text);
    h.video_for(user, 3).await;
    for i in 0..5 {
        h.fake.push_text(ADMIN, ADMIN, &format!("operator prompt {i}"));
    }
    for i in 0..5 {
        h.video_for(ADMIN, i).await;
    }
    assert_eq!(h.requests().await.iter().filter(|r| r.telegram_user_id == UserId(user)).count(), 4);
    service.terminate().await;
}

/// Counts how many generations run at once.
#[derive(Default)]
struct Counters {
    running: AtomicUsize,
    peak: AtomicUsize,
}

struct Counting {
    counters: Arc<Counters>,
    local: LocalGenerator,
}

impl Generator for Counting {
    fn generate(&self, request: GenerationRequest) -> BoxFuture<'static, Result<(), GenerateError>> {
        let counters = self.counters.clone();
        let now = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        let render = self.local.generate(request);
        async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let result = render.await;
            counters.running.fetch_sub(1, Ordering::SeqCst);
            result
        }
        .boxed()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_active_generations_holds_with_more_prompts_than_slots() {
    let mut h = Harness::new().await;
    h.set("MAX_ACTIVE_GENERATIONS", "2");
    h.set("WORKER_CONCURRENCY", "6");
    let counters = Arc::new(Counters::default());
    let generator = Arc::new(Counting { counters: counters.clone(), local: LocalGenerator::default() });
    let (token, handle) = h.run_in_process(generator);
    h.wait_polling().await;
    for i in 0..7 {
        h.fake.push_text(1000 + i, 1000 + i, &format!("slot prompt {i}"));
    }
    for i in 0..7 {
        h.video_for(1000 + i, 0).await;
    }
    assert_eq!(counters.peak.load(Ordering::SeqCst), 2, "at most 2 generations at once, and the slots were used");
    assert_eq!(h.fake.uploads(), 7);
    let told = |t: &str| t.contains("ahead of yours") || t.contains("next in line");
    assert!(h.fake.sent().iter().any(|s| s.text.as_deref().is_some_and(told)), "waiting users were told their place");
    assert!(
        eventually(WAIT, || async { h.assets().await.iter().all(|a| a.status == vidcache::domain::AssetStatus::Available) })
            .await
    );
    token.cancel();
    handle.await.expect("joins").expect("stops cleanly");
}

/// A paid Stars purchase the database can't credit at once is kept and
/// credited as soon as it can be — never lost (before, the update was
/// confirmed to Telegram and the purchase dropped after half a minute of
/// retries), never credited twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_crediting_fails_is_credited_once_it_can_be() {
    use sea_orm::ConnectionTrait;
    let h = credits_harness().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 851;
    h.fake.push_text(user, user, "/balance");
    h.text_for(user, 0).await; // the account exists: 20 free credits
    let db = h.db().await;

    // the ledger is away: crediting fails (not a passing conflict, so at once)
    db.execute_unprepared("ALTER TABLE credit_ledger RENAME TO credit_ledger_away").await.expect("rename");
    h.fake.push_update(h.fake.successful_payment_update(user, user, 50, "pkg:50:60", "charge-late"));
    assert!(
        eventually(WAIT, || async { h.logs().contains("could not credit a payment yet") }).await,
        "the crediting failed at least once\n{}",
        h.logs()
    );
    assert!(!texts_to(&h.fake.sent(), user).iter().any(|t| t.contains("Thank you")));

    // the ledger is back: the kept payment is credited, once
    db.execute_unprepared("ALTER TABLE credit_ledger_away RENAME TO credit_ledger").await.expect("rename back");
    assert!(eventually(Duration::from_secs(60), || async { balance(&db, user).await == 80 }).await, "{}", h.logs());
    let thanks = h.text_for(user, 1).await;
    assert!(thanks.contains("60 credits"), "{thanks}");
    assert_eq!(star_payments::Entity::find().all(&db).await.expect("payments").len(), 1);
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

/// `/refund` takes the purchase's credits before it asks Telegram, so they
/// can't be spent while Telegram answers; a refund Telegram refuses gives
/// them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_holds_the_credits_first_and_a_refused_one_gives_them_back() {
    use vidcache::domain::ChargeId;
    let mut h = credits_harness().await;
    h.set("FREE_CREDITS", "0");
    let service = h.spawn();
    h.wait_polling().await;
    let user = 861;
    h.fake.push_update(h.fake.successful_payment_update(user, user, 50, "pkg:50:60", "charge-h1"));
    let db = h.db().await;
    assert!(eventually(WAIT, || async { balance(&db, user).await == 60 }).await, "{}", h.logs());

    // held: the balance no longer holds them, and a second hold finds it refunded
    let charge = ChargeId("charge-h1".to_owned());
    assert_eq!(
        credits::hold_refund(&db, UserId(user), &charge).await.expect("hold"),
        credits::Refundable::Yes { stars: 50, credits: 60 }
    );
    assert_eq!(balance(&db, user).await, 0, "the credits can't be spent while Telegram answers");
    assert_eq!(credits::hold_refund(&db, UserId(user), &charge).await.expect("hold"), credits::Refundable::AlreadyRefunded);
    h.fake.push_text(user, user, "a prompt during the refund");
    assert!(h.text_for(user, 1).await.contains("credits"), "refused for credits");
    // Telegram refused: they come back
    assert_eq!(credits::undo_refund(&db, &charge).await.expect("undo"), Some(60));
    assert_eq!(balance(&db, user).await, 60);

    // an operator's /refund: the held credits leave once, the other purchase stays
    h.fake.push_update(h.fake.successful_payment_update(user, user, 50, "pkg:50:60", "charge-h2"));
    assert!(eventually(WAIT, || async { balance(&db, user).await == 120 }).await);
    h.fake.push_text(ADMIN, ADMIN, &format!("/refund {user} charge-h1"));
    let done = h.text_for(ADMIN, 0).await;
    assert!(done.contains("Refunded 50 Stars"), "{done}");
    assert_eq!(balance(&db, user).await, 60);
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}

/// An operator's `/grant` applies once per command message: the same
/// message delivered again (or a transaction run again after an uncertain
/// commit) changes the balance once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_delivered_twice_applies_once() {
    let h = credits_harness().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 871;
    h.fake.push_text(user, user, "/balance");
    h.text_for(user, 0).await;
    let message_id = h.fake.next_message_id();
    let grant = serde_json::json!({"message": {
        "message_id": message_id, "date": 1_700_000_000,
        "chat": {"id": ADMIN, "type": "private", "first_name": "Op"},
        "from": {"id": ADMIN, "is_bot": false, "first_name": "Op"},
        "text": format!("/grant {user} 25"),
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]
    }});
    h.fake.push_update(grant.clone());
    assert!(h.text_for(ADMIN, 0).await.contains("balance: 45"));
    h.fake.push_update(grant);
    let again = h.text_for(ADMIN, 1).await;
    assert!(again.contains("balance: 45"), "{again}");
    let db = h.db().await;
    assert_eq!(balance(&db, user).await, 45, "granted once");
    assert_balances_match_ledger(&db).await;
    service.terminate().await;
}
