//! Remix: a photo with words asks to animate that photo. Black-box tests
//! through the fake Bot API (photos arrive as `photo` arrays of PhotoSize,
//! smallest first; getFile and the download serve their bytes) against the
//! real binary.

use crate::support;

use std::time::Duration;

use crate::support::{Harness, texts_to, videos_to};
use fakes::telegram::PhotoMessage;
use vidcache::db::entities::video_assets;

const RED_JPEG: &[u8] = include_bytes!("../fixtures/remix-red.jpg");
const BLUE_PNG: &[u8] = include_bytes!("../fixtures/remix-blue.png");

fn remixes(assets: &[video_assets::Model]) -> Vec<&video_assets::Model> {
    assets.iter().filter(|a| a.image_digest.is_some()).collect()
}

/// Waits for a text to `chat` containing `needle`; returns every text to it.
async fn waits_for_text(h: &Harness, chat: i64, needle: &str) -> Vec<String> {
    let wanted = needle.to_owned();
    let ok = h.fake.wait_for(move |sent| texts_to(sent, chat).iter().any(|t| t.contains(&wanted)), Duration::from_secs(30)).await;
    assert!(ok, "chat {chat} never got “{needle}”: {:?}\n{}", h.fake.sent_to(chat), h.logs());
    texts_to(&h.fake.sent(), chat)
}

async fn waits_for_texts(h: &Harness, chat: i64, n: usize) -> Vec<String> {
    let ok = h.fake.wait_for(move |sent| texts_to(sent, chat).len() >= n, Duration::from_secs(30)).await;
    assert!(ok, "chat {chat} never got {n} texts: {:?}\n{}", h.fake.sent_to(chat), h.logs());
    texts_to(&h.fake.sent(), chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_words_is_one_generation_for_everyone_who_sends_it() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;

    // the largest size is downloaded (not the thumbnail) and keys the asset
    h.fake.push_photo(401, 401, PhotoMessage::new(RED_JPEG.to_vec(), Some("She waves and smiles")));
    let video = h.video_for(401, 0).await;
    let assets = h.assets().await;
    let remix = remixes(&assets);
    assert_eq!(remix.len(), 1, "{assets:?}");
    assert_eq!(remix[0].image_digest.as_ref().map(|d| d.as_str().to_owned()), Some(support::hex_sha256(&[RED_JPEG])));
    assert_eq!(remix[0].prompt, "she waves and smiles");
    assert_eq!(h.fake.calls("getFile"), 1);
    assert_eq!(h.jobs().await, 1);

    // the same bytes from someone else (their own upload: another file_unique_id)
    // with the same words, differently typed: the same video, no generation
    h.fake.push_photo(402, 402, PhotoMessage::new(RED_JPEG.to_vec(), Some("  SHE waves and   smiles ")));
    assert_eq!(h.video_for(402, 0).await, video);
    assert_eq!(h.fake.calls("getFile"), 2, "a new file_unique_id is downloaded to learn its bytes");

    // a forward of the first photo (same file_unique_id): known without downloading it
    let first_unique = {
        let db = h.db().await;
        use sea_orm::EntityTrait;
        let photos = vidcache::db::entities::photos::Entity::find().all(&db).await.expect("photos");
        assert_eq!(photos.len(), 2, "{photos:?}");
        photos[0].file_unique_id.clone()
    };
    h.fake.push_photo(403, 403, PhotoMessage::new(RED_JPEG.to_vec(), Some("she waves and smiles")).unique(&first_unique));
    assert_eq!(h.video_for(403, 0).await, video);
    assert_eq!(h.fake.calls("getFile"), 2, "a forwarded photo is not downloaded again");

    // the same words without the photo, and the same words with another photo: other videos
    h.fake.push_text(404, 404, "she waves and smiles");
    let text_only = h.video_for(404, 0).await;
    assert_ne!(text_only, video);
    h.fake.push_photo(405, 405, PhotoMessage::new(BLUE_PNG.to_vec(), Some("she waves and smiles")).as_document("image/png"));
    let blue = h.video_for(405, 0).await;
    assert_ne!(blue, video);
    assert_ne!(blue, text_only);

    let assets = h.assets().await;
    assert_eq!(assets.len(), 3, "{assets:?}");
    assert_eq!(remixes(&assets).len(), 2);
    assert_eq!(h.jobs().await, 3);
    assert_eq!(h.fake.uploads(), 3);
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_without_words_waits_for_them_and_cancel_ends_the_wait() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 411;

    h.fake.push_photo(user, user, PhotoMessage::new(RED_JPEG.to_vec(), None));
    let asked = waits_for_texts(&h, user, 1).await;
    assert!(asked[0].contains("What should happen in it?"), "{asked:?}");
    assert!(h.requests().await.is_empty(), "nothing is recorded before the words");

    // the next text is the photo's words
    h.fake.push_text(user, user, "A dog runs to the camera");
    h.video_for(user, 0).await;
    let assets = h.assets().await;
    assert_eq!(remixes(&assets).len(), 1, "{assets:?}");
    assert_eq!(remixes(&assets)[0].image_digest.as_ref().map(|d| d.as_str().to_owned()), Some(support::hex_sha256(&[RED_JPEG])));

    // the wait is over: the next text is a prompt of its own
    h.fake.push_text(user, user, "a cat sleeps");
    h.video_for(user, 1).await;
    assert_eq!(remixes(&h.assets().await).len(), 1);

    // /cancel ends a wait: the text after it is a plain prompt
    let asked = texts_to(&h.fake.sent(), user).iter().filter(|t| t.contains("What should happen")).count();
    h.fake.push_photo(user, user, PhotoMessage::new(BLUE_PNG.to_vec(), None).as_document("image/png"));
    let ok = h
        .fake
        .wait_for(
            move |sent| texts_to(sent, user).iter().filter(|t| t.contains("What should happen")).count() > asked,
            Duration::from_secs(30),
        )
        .await;
    assert!(ok, "the second photo was asked about");
    h.fake.push_text(user, user, "/cancel");
    waits_for_text(&h, user, "no longer waiting for words").await;
    h.fake.push_text(user, user, "a bird sings");
    h.video_for(user, 2).await;
    let assets = h.assets().await;
    assert_eq!(remixes(&assets).len(), 1, "the cancelled photo made nothing: {assets:?}");
    assert_eq!(assets.len(), 3);
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_over_20_mb_gets_a_clear_answer_and_nothing_is_recorded() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 421;

    h.fake.push_photo(user, user, PhotoMessage::new(RED_JPEG.to_vec(), Some("big")).declared_size(25 * 1024 * 1024));
    h.fake.push_photo(
        user,
        user,
        PhotoMessage::new(RED_JPEG.to_vec(), Some("big file")).as_document("image/jpeg").declared_size(21 * 1024 * 1024),
    );
    let texts = waits_for_texts(&h, user, 2).await;
    assert!(texts.iter().all(|t| t.contains("too big") && t.contains("20 MB")), "{texts:?}");
    assert_eq!(h.fake.calls("getFile"), 0);
    assert!(h.requests().await.is_empty());
    assert!(h.assets().await.is_empty());
    assert!(videos_to(&h.fake.sent(), user).is_empty());

    // a document that is not an image is not a remix
    h.fake.push_update(serde_json::json!({"message": {
        "message_id": 9001, "date": 0, "chat": {"id": user, "type": "private", "first_name": "U"},
        "from": {"id": user, "is_bot": false, "first_name": "U"},
        "document": {"file_id": "DOC1", "file_unique_id": "UDOC1", "mime_type": "application/pdf", "file_size": 10},
        "caption": "make a video"
    }}));
    let texts = waits_for_texts(&h, user, 3).await;
    assert!(texts[2].contains("only make videos from text"), "{texts:?}");
    assert!(h.assets().await.is_empty());
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_russian_user_is_asked_in_russian() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 431;
    h.fake.set_user_language(user, Some("ru"));
    h.fake.push_photo(user, user, PhotoMessage::new(RED_JPEG.to_vec(), None));
    let texts = waits_for_texts(&h, user, 1).await;
    assert!(texts[0].contains("Что должно на нём происходить?"), "{texts:?}");
    drop(service);
}

/// 🎬 New video in the menu ends a photo's wait for words: the next text
/// is a video of its own (before, it became the photo's words).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_video_in_the_menu_ends_a_photos_wait() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 441;
    h.fake.push_photo(user, user, PhotoMessage::new(RED_JPEG.to_vec(), None));
    waits_for_text(&h, user, "What should happen in it?").await;
    let id = h.fake.push_callback(user, user, 1, "m:new");
    let probe = id.clone();
    assert!(
        h.fake
            .wait_until(move |f| f.callback_answers().iter().any(|a| a.callback_query_id == probe), Duration::from_secs(30))
            .await
    );
    h.fake.push_text(user, user, "a lighthouse at night");
    h.video_for(user, 0).await;
    let assets = h.assets().await;
    assert!(remixes(&assets).is_empty(), "the text was not the photo's words: {assets:?}");
    drop(service);
}
