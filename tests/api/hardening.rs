//! What a hostile or unlucky world does to a request's end: a /cancel
//! that lands while the video is being sent, and an operator's /clear of a
//! video whose waiters were not all served yet. At the database level, on
//! SQLite and on PostgreSQL when it runs.

use crate::support;

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use vidcache::db::admission::{Submitted, submit_admitted};
use vidcache::db::claims;
use vidcache::db::credits;
use vidcache::db::entities::{credit_ledger, user_requests, video_assets};
use vidcache::db::requests::{self, NewRequest};
use vidcache::db::{assets, cancel, clear};
use vidcache::domain::Admission;
use vidcache::domain::Pricing;
use vidcache::domain::{
    Actor, AssetStatus, ChatId, ConsoleName, Failure, FileId, HoldState, Lang, LedgerKind, MessageId, Prompt, Recipe,
    RequestStatus, UserId, Wanted,
};

const FREE: i64 = 10;
const PRICE: i64 = 5;

fn admission() -> Arc<Admission> {
    Arc::new(Admission {
        pricing: Some(Pricing { free: FREE, new: PRICE, cached: PRICE, quality_extra: 0, long_extra: 0 }),
        ..Admission::default()
    })
}

/// Records a request of `user` for `text`, holding its price.
async fn submit(db: &DatabaseConnection, user: i64, message: i64, text: &str) -> (requests::Request, assets::Asset) {
    let new = NewRequest {
        user_id: UserId(user),
        chat_id: ChatId(user),
        message_id: MessageId(message),
        raw_text: text.to_owned(),
        language: Lang::En,
        thread_id: None,
    };
    let wanted = Wanted::new(Prompt::parse(text, 1000).expect("valid prompt"), Recipe::default());
    match submit_admitted(db, new, wanted, ChronoDuration::seconds(60), admission()).await.expect("recorded") {
        Submitted::Recorded { request, asset, .. } => (request, asset),
        other => panic!("not recorded: {other:?}"),
    }
}

async fn request(db: &DatabaseConnection, id: vidcache::domain::RequestId) -> user_requests::Model {
    user_requests::Entity::find_by_id(id).one(db).await.expect("reads").expect("the request")
}

async fn ledger(db: &DatabaseConnection, user: i64) -> Vec<LedgerKind> {
    credit_ledger::Entity::find()
        .filter(credit_ledger::Column::UserId.eq(UserId(user)))
        .all(db)
        .await
        .expect("ledger")
        .into_iter()
        .map(|row| row.kind)
        .collect()
}

/// Makes the asset available with a `file_id`, as a finished generation does.
async fn make_available(db: &DatabaseConnection, asset: &assets::Asset) {
    video_assets::ActiveModel {
        id: Set(asset.id),
        status: Set(AssetStatus::Available),
        file_id: Set(Some(FileId(format!("file-{}", asset.id)))),
        file_unique_id: Set(Some(format!("unique-{}", asset.id))),
        stage: Set(None),
        ..Default::default()
    }
    .update(db)
    .await
    .expect("available");
}

/// /cancel while the video is being uploaded: the hold is released by the
/// cancel; the upload's end must not turn the cancelled request into a
/// completed one (a free video), nor capture anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_send_keeps_the_request_cancelled_and_captures_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    for db in support::databases(&dir, "hardening").await {
        let (sent, _) = submit(&db, 701, 1, "a lighthouse in a storm").await;
        assert_eq!(credits::balance(&db, UserId(701)).await.expect("balance"), Some(FREE - PRICE), "held");
        // the sender has claimed it and is uploading when /cancel arrives
        let withdrawn = cancel::withdraw(&db, UserId(701)).await.expect("withdrawn");
        assert_eq!(withdrawn.requests.len(), 1);
        assert_eq!(credits::balance(&db, UserId(701)).await.expect("balance"), Some(FREE), "released by the cancel");
        // the upload succeeds: the delivery records it as the service does
        let completed = requests::mark_delivered(&db, sent.id, false).await.expect("recorded");
        let _ = completed; // (true before the fix; the service captures only when it is)
        let _ = credits::capture(&db, sent.id).await.expect("capture asked");
        let row = request(&db, sent.id).await;
        assert_eq!(row.status, RequestStatus::Cancelled, "a cancelled request stays cancelled");
        assert_eq!(row.delivered_at, None);
        assert_eq!(row.hold, Some(HoldState::Released));
        assert_eq!(credits::balance(&db, UserId(701)).await.expect("balance"), Some(FREE), "the video cost nothing");
        assert_eq!(credits::ledger_sum(&db, UserId(701)).await.expect("sum"), FREE);
        assert!(!ledger(&db, UserId(701).0).await.contains(&LedgerKind::Capture), "nothing captured");
        // the failure paths don't touch it either
        requests::mark_undeliverable(&db, sent.id, &Failure::Unreachable("blocked".into())).await.expect("recorded");
        requests::mark_failed_to_notify(&db, sent.id, &Failure::NotStored).await.expect("recorded");
        assert_eq!(request(&db, sent.id).await.status, RequestStatus::Cancelled);

        // a request that was not cancelled is completed and captured as before
        let (kept, _) = submit(&db, 702, 2, "a lighthouse in a storm").await;
        requests::mark_delivered(&db, kept.id, false).await.expect("recorded");
        assert!(credits::capture(&db, kept.id).await.expect("captured"));
        assert_eq!(request(&db, kept.id).await.status, RequestStatus::Completed);
        assert_eq!(credits::balance(&db, UserId(702)).await.expect("balance"), Some(FREE - PRICE));
    }
}

/// /clear of an available video whose fan-out has not reached every
/// waiter: the waiters it had not reached are failed as `cleared` (they are
/// told, the operator removed the video) and their holds go back; none is
/// stranded pending with credits held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_fails_the_waiters_it_strands_and_gives_their_credits_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    for db in support::databases(&dir, "hardening").await {
        let (first, asset) = submit(&db, 801, 1, "a paper crane").await;
        let (second, _) = submit(&db, 802, 2, "a paper crane").await;
        make_available(&db, &asset).await;
        // the fan-out delivered the first one, then the operator cleared the video
        requests::mark_delivered(&db, first.id, false).await.expect("delivered");
        assert!(credits::capture(&db, first.id).await.expect("captured"));
        let by = Actor::Console(ConsoleName::parse("Ann"));
        let cleared = clear::clear(&db, &asset.prompt_key, &by).await.expect("cleared");
        assert!(matches!(cleared, clear::Cleared::Cleared { .. }), "{cleared:?}");

        let stranded = request(&db, second.id).await;
        assert_eq!(stranded.status, RequestStatus::Failed, "not left pending");
        assert_eq!(stranded.error, Some(Failure::Cleared));
        assert_eq!(stranded.notified_at, None, "the user is told");
        assert_eq!(stranded.hold, Some(HoldState::Released));
        assert_eq!(credits::balance(&db, UserId(802)).await.expect("balance"), Some(FREE), "the hold went back");
        assert_eq!(credits::ledger_sum(&db, UserId(802)).await.expect("sum"), FREE);
        let due = claims::due(&db, claims::Errand::FailureNotice, None, 10).await.expect("due");
        assert!(due.iter().any(|r| r.id == second.id), "a failure notice is due");
        // the delivered one is untouched
        assert_eq!(request(&db, first.id).await.status, RequestStatus::Completed);
        assert_eq!(credits::balance(&db, UserId(801)).await.expect("balance"), Some(FREE - PRICE));
    }
}

/// A password given as a query parameter of `DATABASE_URL` (a form sqlx
/// accepts) and one in the userinfo of `REDIS_URL` never reach the log,
/// even at `RUST_LOG=debug` through a whole request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_store_urls_never_reach_the_log() {
    const SECRET: &str = "sup3rs3cretvalue";
    let Some((database_url, _)) = support::scale_backends(support::redis_db::HARDENING_CREDENTIALS).await else { return };
    let mut h = support::Harness::new().await;
    h.set("DATABASE_URL", &format!("{database_url}?password={SECRET}&application_name=vidcache"));
    // Redis without a password accepts any for the `default` user (a bare
    // `:password@` would be refused by a server that has none).
    let db = support::redis_db::HARDENING_CREDENTIALS;
    h.set("REDIS_URL", &format!("redis://default:{SECRET}@127.0.0.1:6379/{db}"));
    h.set("RUST_LOG", "debug");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(4242, 4242, "a quiet harbour at dawn");
    h.video_for(4242, 0).await;
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0), "{}", h.logs());
    let logs = h.logs();
    assert!(logs.lines().count() > 20, "a debug log was written: {logs}");
    let leaks: Vec<&str> = logs.lines().filter(|line| line.contains(SECRET)).collect();
    assert!(
        leaks.is_empty(),
        "{} log lines carry the password, e.g.:\n{}",
        leaks.len(),
        leaks.iter().take(5).copied().collect::<Vec<_>>().join("\n")
    );
}
