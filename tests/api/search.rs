//! Black-box tests of the catalog search: the similar-video offer (issue
//! #24 part 3) and inline mode (issue #25 part 1), the binary against the
//! fake Telegram.

use crate::support;

use std::collections::HashSet;
use std::time::Duration;

use crate::support::{ADMIN, Harness, eventually, texts_to, videos_to};
use chrono::Utc;
use fakes::telegram::Sent;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;
use vidcache::db::entities::video_assets;
use vidcache::domain::{AssetStatus, FileId, Prompt, Recipe, Wanted};

fn is_offer(sent: &Sent) -> bool {
    sent.method == "sendMessage" && support::buttons(sent).iter().any(|(text, _)| text.starts_with("▶️"))
}

/// Waits for the offer sent to `chat`; returns it with its ▶️ and ✨ data.
async fn offer_to(h: &Harness, chat: i64) -> (Sent, String, String) {
    let ok = h.fake.wait_for(move |sent| sent.iter().any(|s| s.chat_id == chat && is_offer(s)), Duration::from_secs(30)).await;
    assert!(ok, "chat {chat} got no offer; sent: {:?}\n{}", h.fake.sent_to(chat), h.logs());
    let offer = h.fake.sent_to(chat).into_iter().find(is_offer).expect("an offer");
    let buttons = support::buttons(&offer);
    assert_eq!(buttons.len(), 2, "{buttons:?}");
    let send = buttons.iter().find(|(t, _)| t.starts_with("▶️")).expect("▶️").1.clone();
    let make = buttons.iter().find(|(t, _)| t.starts_with('✨')).expect("✨").1.clone();
    for data in [&send, &make] {
        assert!(!data.is_empty() && data.len() <= 64, "callback data must be 1-64 bytes: {data:?}");
    }
    (offer, send, make)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_twin_is_offered_and_both_buttons_work_while_exact_and_unrelated_prompts_are_not_asked() {
    let h = Harness::new().await;
    let _service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(100, 100, "A red fox jumping over a wooden fence");
    let original = h.video_for(100, 0).await;
    assert_eq!(h.jobs().await, 1);

    // a near twin: the offer, quoting the made prompt; nothing generated or recorded
    h.fake.push_text(200, 200, "red fox jumps over the wooden fence");
    let (offer, send, make) = offer_to(&h, 200).await;
    assert!(offer.text.as_deref().unwrap_or("").contains("A red fox jumping over a wooden fence"), "{offer:?}");
    assert_eq!(h.jobs().await, 1, "nothing is generated before the user chooses");
    assert!(h.requests().await.iter().all(|r| r.chat_id.0 != 200), "nothing is recorded before the user chooses");

    // someone else's press changes nothing
    let forged = h.fake.push_callback(300, 300, offer.message_id, &send);
    let notice = h.answered(&forged).await.unwrap_or_default();
    assert!(notice.contains("someone else"), "{notice}");

    // ▶️ sends the made video by its file_id: no generation, no upload
    let press = h.fake.push_callback(200, 200, offer.message_id, &send);
    h.answered(&press).await;
    assert_eq!(h.video_for(200, 0).await, original);
    assert_eq!(h.jobs().await, 1);
    assert_eq!(h.fake.uploads(), 1);
    let first_asset = h.assets().await.into_iter().find(|a| a.prompt == "a red fox jumping over a wooden fence").expect("asset");
    let recorded = h.requests().await.into_iter().find(|r| r.chat_id.0 == 200).expect("the press recorded a request");
    assert_eq!(recorded.asset_id, first_asset.id, "recorded as a request for the offered video");
    // a second press: answered already
    let again = h.fake.push_callback(200, 200, offer.message_id, &make);
    let notice = h.answered(&again).await.unwrap_or_default();
    assert!(notice.contains("already"), "{notice}");
    assert_eq!(h.jobs().await, 1);

    // ✨ makes the user's own wording
    h.fake.push_text(300, 300, "red fox jumps over the wooden fence");
    let (offer, _, make) = offer_to(&h, 300).await;
    let press = h.fake.push_callback(300, 300, offer.message_id, &make);
    h.answered(&press).await;
    let own = h.video_for(300, 0).await;
    assert_ne!(own, original);
    assert_eq!(h.jobs().await, 2);
    assert!(h.assets().await.iter().any(|a| a.prompt == "red fox jumps over the wooden fence"));

    // an exact repeat (another case and spacing) is a plain hit: no question
    h.fake.push_text(400, 400, "a RED fox jumping over a  wooden fence");
    assert_eq!(h.video_for(400, 0).await, original);
    // an unrelated prompt is made without a question
    h.fake.push_text(500, 500, "A blue whale singing in the ocean");
    h.video_for(500, 0).await;
    assert_eq!(h.jobs().await, 3);
    let sent = h.fake.sent();
    for chat in [400, 500] {
        assert!(!sent.iter().any(|s| s.chat_id == chat && is_offer(s)), "chat {chat} was asked: {:?}", h.fake.sent_to(chat));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_videos_off_makes_the_near_twin_at_once() {
    let mut h = Harness::new().await;
    h.set("SIMILAR_VIDEOS", "off");
    let _service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(100, 100, "A red fox jumping over a wooden fence");
    let original = h.video_for(100, 0).await;
    h.fake.push_text(200, 200, "red fox jumps over the wooden fence");
    assert_ne!(h.video_for(200, 0).await, original);
    assert!(!h.fake.sent().iter().any(is_offer));
}

/// Seeds `n` available videos "fox number <i>" (file ids `seedfox<i>`, known to the fake), indexed.
async fn seed_foxes(h: &Harness, n: usize) {
    let db = h.db().await;
    let now = Utc::now();
    let mut rows = Vec::new();
    for i in 0..n {
        let typed = format!("Fox number {i}");
        let wanted = Wanted::new(Prompt::parse(&typed, 1000).expect("prompt"), Recipe::default());
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, Some(typed), now);
        row.status = Set(AssetStatus::Available);
        row.stage = Set(None);
        row.attempts = Set(1);
        row.dispatched_generation = Set(1);
        row.file_id = Set(Some(FileId(format!("seedfox{i}"))));
        row.file_unique_id = Set(Some(format!("useedfox{i}")));
        h.fake.register_file(&format!("seedfox{i}"));
        rows.push(row.insert(&db).await.expect("seed asset"));
    }
    vidcache::db::search::index_assets(&db, &rows).await.expect("indexed");
}

/// Sends an inline query and waits for its answer's parameters.
async fn inline(h: &Harness, user: i64, query: &str, offset: &str) -> Value {
    let id = h.fake.push_inline_query(user, query, offset);
    let wanted = id.clone();
    let ok = h.fake.wait_until(move |f| f.inline_answer(&wanted).is_some(), Duration::from_secs(30)).await;
    assert!(ok, "inline query {query:?} never answered\n{}", h.logs());
    h.fake.inline_answer(&id).expect("answer")
}

fn file_ids(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["video_file_id"].as_str().expect("file id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_queries_are_answered_with_cached_videos_pages_personal_lists_and_a_start_button() {
    let h = Harness::new().await;
    let _service = h.spawn();
    h.wait_polling().await;
    seed_foxes(&h, 60).await;

    // words: 50 results, unique ids, known file ids; the next page has the other 10
    let first = inline(&h, 100, "fox", "").await;
    let results = first["results"].as_array().expect("results");
    assert_eq!(results.len(), 50, "{first}");
    let ids: HashSet<&str> = results.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), 50);
    assert!(results.iter().all(|r| r["type"] == "video" && r["title"].as_str().is_some_and(|t| t.starts_with("Fox number"))));
    let next = first["next_offset"].as_str().expect("a next page").to_owned();
    let second = inline(&h, 100, "fox", &next).await;
    let mut all: HashSet<String> = file_ids(&first).into_iter().collect();
    all.extend(file_ids(&second));
    assert_eq!(all.len(), 60, "the two pages hold every fox once");
    assert!(second["next_offset"].as_str().unwrap_or("").is_empty());

    // the exact prompt first, no button
    let exact = inline(&h, 100, "fox number 7", "").await;
    assert_eq!(file_ids(&exact)[0], "seedfox7", "{exact}");
    assert!(exact.get("button").is_none());

    // a cleared video is never listed
    h.fake.push_text(ADMIN, ADMIN, "/clear Fox number 3");
    h.text_for(ADMIN, 0).await;
    let cleared = inline(&h, 100, "fox number 3", "").await;
    assert!(!file_ids(&cleared).contains(&"seedfox3".to_owned()), "{cleared}");

    // an empty query: the user's own videos, personal
    h.fake.push_text(100, 100, "A green owl at night");
    let owl = h.video_for(100, 0).await;
    // the upload reaches the chat before the asset is recorded available: wait for the record
    let recorded = eventually(Duration::from_secs(30), || async {
        h.assets().await.iter().any(|a| a.typed() == "A green owl at night" && a.status == AssetStatus::Available)
    })
    .await;
    assert!(recorded, "the owl became available");
    let personal = inline(&h, 100, "", "").await;
    assert_eq!(personal["is_personal"], true);
    assert_eq!(file_ids(&personal), vec![owl.clone()]);

    // nothing made exactly: the button's start parameter makes the prompt in the private chat
    let asked = inline(&h, 700, "Purple elephant dancing", "").await;
    let start = asked["button"]["start_parameter"].as_str().expect("a start button").to_owned();
    assert!(start.len() <= 64 && start.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    assert!(asked["button"]["text"].as_str().is_some_and(|t| !t.is_empty()));
    h.fake.push_text(700, 700, &format!("/start {start}"));
    h.video_for(700, 0).await;
    // the upload reaches the chat before the asset is recorded available: wait for the record
    let recorded = eventually(Duration::from_secs(30), || async {
        h.assets()
            .await
            .iter()
            .any(|a| a.typed_prompt.as_deref() == Some("Purple elephant dancing") && a.status == AssetStatus::Available)
    })
    .await;
    assert!(recorded, "the elephant became available");
    // then it is found by everyone
    let found = inline(&h, 800, "purple elephant dancing", "").await;
    assert_eq!(file_ids(&found), videos_to(&h.fake.sent(), 700));
    assert!(texts_to(&h.fake.sent(), 700).iter().all(|t| !t.contains("expired")));

    // /stats counts the inline answers
    h.fake.push_text(ADMIN, ADMIN, "/stats");
    assert!(
        eventually(Duration::from_secs(30), || async {
            texts_to(&h.fake.sent(), ADMIN).iter().any(|t| t.contains("inline answers"))
        })
        .await
    );
}

/// An available video of `typed` with `recipe` (file id `file`), as the service leaves it.
async fn available(db: &sea_orm::DatabaseConnection, typed: &str, recipe: Recipe, file: &str) -> video_assets::Model {
    let wanted = Wanted::new(Prompt::parse(typed, 1000).expect("prompt"), recipe);
    let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, Some(typed.to_owned()), Utc::now());
    row.status = Set(AssetStatus::Available);
    row.stage = Set(None);
    row.file_id = Set(Some(FileId(file.to_owned())));
    row.insert(db).await.expect("asset")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_holds_only_available_videos_on_sqlite_and_postgres() {
    use vidcache::db::search;
    use vidcache::domain::{Actor, Choices, Format, ImageDigest, Terms};

    let dir = tempfile::tempdir().expect("dir");
    for db in support::databases(&dir, "search").await {
        let fox = available(&db, "A red fox jumping over a wooden fence", Recipe::default(), "fox").await;
        let whale = available(&db, "A blue whale singing in the ocean", Recipe::default(), "whale").await;
        let portrait = Recipe { choices: Choices { format: Format::Portrait, ..Choices::default() }, ..Recipe::default() };
        let tall = available(&db, "A red fox jumping over a wooden fence", portrait.clone(), "tallfox").await;
        let remix = Recipe { image: Some(ImageDigest::of(b"someone's photo")), ..Recipe::default() };
        let photo = available(&db, "A red fox jumping over a wooden fence", remix.clone(), "photo").await;
        // made before the search existed: found once the start-up re-index ran
        search::reindex(&db).await.expect("reindex");
        assert_eq!(search::reindex(&db).await.expect("again"), 0, "the re-index remembers how far it got");

        let twin = Prompt::parse("red fox jumps over the wooden fence", 1000).expect("prompt");
        let (found, similarity) = search::most_similar(&db, &twin, &Recipe::default()).await.expect("search").expect("a twin");
        assert_eq!(found.asset_id, fox.id, "the same recipe only");
        assert!(similarity >= 0.75, "{similarity}");
        let (found, _) = search::most_similar(&db, &twin, &portrait).await.expect("search").expect("a twin");
        assert_eq!(found.asset_id, tall.id);
        assert!(search::most_similar(&db, &twin, &remix).await.expect("search").is_none(), "never a remix");
        let unrelated = Prompt::parse("A purple elephant dancing on the moon", 1000).expect("prompt");
        assert!(search::most_similar(&db, &unrelated, &Recipe::default()).await.expect("search").is_none());

        // words: every recipe, the preferred format first, never a remix
        let words = search::matching(&db, &Terms::of(&twin), Format::Portrait, 0, 50).await.expect("matching");
        let ids: Vec<_> = words.iter().map(|f| f.asset_id).collect();
        assert_eq!(ids, vec![tall.id, fox.id], "{words:?}");
        assert!(!ids.contains(&photo.id) && !ids.contains(&whale.id));

        // a clear removes the video from every search at once
        let key = fox.prompt_key.clone();
        vidcache::db::clear::clear(&db, &key, &Actor::Telegram(vidcache::domain::UserId(1))).await.expect("clear");
        let words = search::matching(&db, &Terms::of(&twin), Format::Landscape, 0, 50).await.expect("matching");
        assert_eq!(words.iter().map(|f| f.asset_id).collect::<Vec<_>>(), vec![tall.id]);
        assert!(search::most_similar(&db, &twin, &Recipe::default()).await.expect("search").is_none());
        let exact = Prompt::parse("a red fox jumping over a wooden fence", 1000).expect("prompt");
        let exact = search::exact(&db, &exact, Format::Landscape).await.expect("exact");
        assert_eq!(exact.iter().map(|f| f.asset_id).collect::<Vec<_>>(), vec![tall.id]);

        // the inline start parameter keeps the words
        let p = Prompt::parse("Purple  elephant", 1000).expect("prompt");
        let start = search::keep_start(&db, &p, "Purple  elephant").await.expect("kept");
        assert_eq!(search::keep_start(&db, &p, "purple elephant").await.expect("again"), start);
        assert!(start.len() <= 64);
        assert_eq!(search::started(&db, &start).await.expect("read").as_deref(), Some("Purple  elephant"));
        assert_eq!(search::started(&db, "nope!").await.expect("read"), None);

        search::add_count(&db, search::INLINE_ANSWERS, 2).await.expect("count");
        search::add_count(&db, search::INLINE_ANSWERS, 1).await.expect("count");
        assert_eq!(search::counts(&db).await.expect("counts").inline_answers, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_inline_results_arrive_and_count_only_with_inline_feedback_on() {
    for feedback in [false, true] {
        let mut h = Harness::new().await;
        if feedback {
            h.set("INLINE_FEEDBACK", "on");
        }
        let _service = h.spawn();
        h.wait_polling().await;
        h.fake.push_chosen_inline_result(100, "a1", "fox");
        // the same user's next update is handled after it (one lane per user)
        inline(&h, 100, "fox", "").await;
        h.fake.push_text(ADMIN, ADMIN, "/stats");
        let want = format!("sent from inline {}", u8::from(feedback));
        let counted =
            eventually(Duration::from_secs(30), || async { texts_to(&h.fake.sent(), ADMIN).iter().any(|t| t.contains(&want)) })
                .await;
        assert!(counted, "feedback {feedback}: {:?}", texts_to(&h.fake.sent(), ADMIN));
    }
}
