//! Recording requests in batches (group commit): every request is recorded
//! once, a re-delivered message is a duplicate, and however the requests
//! for one prompt are spread over concurrent batches, exactly one of them
//! dispatches its generation. On SQLite, and on PostgreSQL when it runs.

use crate::support;

use std::collections::HashSet;

use chrono::Duration as ChronoDuration;
use futures::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use vidcache::db::admission::{Submitted, submit_many};
use vidcache::db::entities::{user_requests, video_assets};
use vidcache::db::recorder::Recorder;
use vidcache::db::requests::NewRequest;
use vidcache::domain::{ChatId, Lang, MessageId, Prompt, Recipe, UserId, Wanted};

fn request(chat_id: i64, message_id: i64, text: &str) -> (NewRequest, Prompt) {
    let new = NewRequest {
        user_id: UserId(chat_id),
        chat_id: ChatId(chat_id),
        message_id: MessageId(message_id),
        raw_text: text.to_owned(),
        language: Lang::En,
        thread_id: None,
    };
    (new, Prompt::parse(text, 1000).expect("valid prompt"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_records_each_message_once_and_dispatches_once_per_prompt() {
    let dir = tempfile::tempdir().expect("temp dir");
    for db in support::databases(&dir, "intake").await {
        let claim = ChronoDuration::seconds(60);
        let batch = vec![
            request(1, 10, "Happy birthday Zoë"),
            request(2, 20, "  HAPPY   birthday zoë"),
            request(1, 10, "Happy birthday Zoë"), // the same message again
            request(3, 30, "a red kite"),
        ];
        let batch: Vec<(NewRequest, Wanted)> =
            batch.into_iter().map(|(new, prompt)| (new, Wanted::new(prompt, Recipe::default()))).collect();
        let outcomes = submit_many(&db, batch.clone().into(), claim).await.expect("recorded");
        assert_eq!(outcomes.len(), 4);
        let recorded = |i: usize| match &outcomes[i] {
            Submitted::Recorded { request, asset, dispatch } => (request.clone(), asset.clone(), *dispatch),
            Submitted::Duplicate(_) | Submitted::Refused(_) => panic!("item {i} should be recorded: {outcomes:?}"),
        };
        let (first, zoe, first_dispatch) = recorded(0);
        let (second, zoe_again, second_dispatch) = recorded(1);
        let (_, kite, kite_dispatch) = recorded(3);
        assert_eq!((first.chat_id, first.message_id), (ChatId(1), MessageId(10)));
        assert_eq!((second.chat_id, second.message_id), (ChatId(2), MessageId(20)));
        assert_eq!(zoe.id, zoe_again.id, "variants of one prompt share the asset");
        assert_ne!(zoe.id, kite.id);
        assert!(first_dispatch.is_some() && kite_dispatch.is_some(), "each new asset dispatches once");
        assert!(second_dispatch.is_none(), "the second request for an asset does not dispatch again");
        assert!(matches!(&outcomes[2], Submitted::Duplicate(existing) if existing.id == first.id), "{outcomes:?}");

        // Telegram re-delivers the whole batch: nothing new
        let again = submit_many(&db, batch.clone().into(), claim).await.expect("recorded");
        assert!(again.iter().all(|o| matches!(o, Submitted::Duplicate(_))), "{again:?}");
        assert_eq!(user_requests::Entity::find().count(&db).await.expect("count"), 3);
        assert_eq!(video_assets::Entity::find().count(&db).await.expect("count"), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_dispatch_exactly_once_per_prompt() {
    let dir = tempfile::tempdir().expect("temp dir");
    for db in support::databases(&dir, "intake").await {
        let recorder = Recorder::start(db.clone(), ChronoDuration::seconds(60), 4, 25);
        let prompts = ["Zoë", "a red kite", "Ein Hund", "ÉTÉ", "sunset", "cake", "ships", "rain"];
        let submissions = (0..400i64).map(|i| {
            let text = prompts[i as usize % prompts.len()];
            let text = if i % 2 == 0 { text.to_uppercase() } else { format!("  {text} ") };
            let (new, prompt) = request(1000 + i, 1, &text);
            recorder.submit(new, Wanted::new(prompt, Recipe::default()))
        });
        let outcomes = join_all(submissions).await;
        let mut dispatched = HashSet::new();
        let mut dispatches = 0;
        for outcome in outcomes {
            match outcome.expect("every request is recorded") {
                Submitted::Recorded { dispatch: Some(job), .. } => {
                    dispatches += 1;
                    dispatched.insert(job.asset);
                }
                Submitted::Recorded { dispatch: None, .. } => {}
                Submitted::Duplicate(existing) => panic!("nothing was sent twice: {existing:?}"),
                Submitted::Refused(refusal) => panic!("nothing is refused without limits: {refusal:?}"),
            }
        }
        assert_eq!(dispatches, prompts.len(), "one dispatch per prompt");
        assert_eq!(dispatched.len(), prompts.len());
        assert_eq!(user_requests::Entity::find().count(&db).await.expect("count"), 400);
        assert_eq!(video_assets::Entity::find().count(&db).await.expect("count"), prompts.len() as u64);
    }
}

/// A message repeated within one batch whose first copy is refused (not
/// enough credits) is refused the same way, and the rest of the batch is
/// recorded in the same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_of_a_refused_message_in_one_batch_is_refused_alike() {
    use std::sync::Arc;
    use vidcache::db::admission::submit_many_admitted;
    use vidcache::domain::Pricing;
    use vidcache::domain::{Admission, Refusal};

    let dir = tempfile::tempdir().expect("temp dir");
    for db in support::databases(&dir, "intake").await {
        let admission = Admission {
            pricing: Some(Pricing { free: 5, new: 5, cached: 1, quality_extra: 0, long_extra: 0 }),
            ..Admission::default()
        };
        let batch = vec![
            request(1, 10, "a new video"),
            request(1, 11, "another new video"),
            request(2, 20, "a kite"),
            request(1, 11, "another new video"), // the refused message again
        ];
        let batch: Vec<(NewRequest, Wanted)> =
            batch.into_iter().map(|(new, prompt)| (new, Wanted::new(prompt, Recipe::default()))).collect();
        let outcomes = submit_many_admitted(&db, batch.into(), ChronoDuration::seconds(60), Arc::new(admission))
            .await
            .expect("the batch is recorded in one go");
        let refused = Refusal::Credits { price: 5, balance: 0 };
        assert!(matches!(outcomes[0], Submitted::Recorded { .. }), "{outcomes:?}");
        assert!(matches!(outcomes[1], Submitted::Refused(r) if r == refused), "{outcomes:?}");
        assert!(matches!(outcomes[2], Submitted::Recorded { .. }), "{outcomes:?}");
        assert!(matches!(outcomes[3], Submitted::Refused(r) if r == refused), "{outcomes:?}");
        assert_eq!(user_requests::Entity::find().count(&db).await.expect("count"), 2);
    }
}
