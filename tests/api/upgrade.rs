//! Upgrade from the previous release: a database its migrations made and
//! its code filled (`tests/fixtures/previous_release.*.sql`, see the README
//! there), opened by this release's binary. Every video it cached is still
//! a cache hit — the prompts (typed differently too) and the extension,
//! reached by "➕ Extend" under its parent — sent by `file_id`, with no
//! generation and no new asset; every row is re-keyed once (key_version 2,
//! the extension's key over its parent's new key), and a second start
//! changes nothing. The failed prompt is made again on request, as before.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{Harness, eventually, texts_to};
use fakes::telegram::Sent;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const SQLITE_FIXTURE: &str = include_str!("../fixtures/previous_release.sqlite.sql");
const POSTGRES_FIXTURE: &str = include_str!("../fixtures/previous_release.postgres.sql");

/// The cached videos of the fixture: (asset id, file_id).
const KITE: (i64, &str) = (1, "FIXTURE_VIDEO_1");
const CARD: (i64, &str) = (2, "FIXTURE_VIDEO_2");
const ZOE: (i64, &str) = (3, "FIXTURE_VIDEO_3");
const RAIN: (i64, &str) = (4, "FIXTURE_VIDEO_4");
const DRAGON: i64 = 5;
/// The extension's continuation, as stored (normalized).
const CONTINUATION: &str = "and then it starts to rain";

/// One `video_assets` row, read with plain SQL (the test does not lean on
/// either release's entities).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    prompt_key: String,
    prompt: String,
    status: String,
    file_id: Option<String>,
    parent_id: Option<i64>,
    key_version: Option<i64>,
}

async fn open(url: &str) -> DatabaseConnection {
    Database::connect(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"))
}

/// Every asset row by id; `key_version` is `None` while the column does not exist.
async fn rows(url: &str) -> BTreeMap<i64, Row> {
    let db = open(url).await;
    let backend = db.get_database_backend();
    let has_version = db
        .query_all_raw(Statement::from_string(backend, "SELECT CAST(key_version AS BIGINT) AS v FROM video_assets WHERE 1 = 0"))
        .await
        .is_ok();
    let version = if has_version { "CAST(key_version AS BIGINT)" } else { "NULL" };
    let sql = format!(
        "SELECT CAST(id AS BIGINT) AS id, prompt_key, prompt, status, file_id, CAST(parent_id AS BIGINT) AS parent_id, \
         {version} AS key_version FROM video_assets ORDER BY id"
    );
    let found = db.query_all_raw(Statement::from_string(backend, sql)).await.expect("assets read");
    let mut out = BTreeMap::new();
    for r in found {
        let id: i64 = r.try_get("", "id").expect("id");
        out.insert(
            id,
            Row {
                prompt_key: r.try_get("", "prompt_key").expect("prompt_key"),
                prompt: r.try_get("", "prompt").expect("prompt"),
                status: r.try_get("", "status").expect("status"),
                file_id: r.try_get("", "file_id").expect("file_id"),
                parent_id: r.try_get("", "parent_id").expect("parent_id"),
                key_version: r.try_get("", "key_version").expect("key_version"),
            },
        );
    }
    let _ = db.close().await;
    out
}

/// The recipe each asset is keyed by, by id: [quality, format, length,
/// generator] and `prompt_digest` (columns this release added).
async fn recipes(url: &str) -> BTreeMap<i64, ([String; 4], Option<String>)> {
    let db = open(url).await;
    let backend = db.get_database_backend();
    let sql = "SELECT CAST(id AS BIGINT) AS id, quality, format, length, generator, prompt_digest FROM video_assets";
    let found = db.query_all_raw(Statement::from_string(backend, sql)).await.expect("recipes read");
    let _ = db.close().await;
    let text = |r: &sea_orm::QueryResult, c: &str| -> String { r.try_get("", c).unwrap_or_else(|e| panic!("{c}: {e}")) };
    found
        .iter()
        .map(|r| {
            let recipe = [text(r, "quality"), text(r, "format"), text(r, "length"), text(r, "generator")];
            (r.try_get("", "id").expect("id"), (recipe, r.try_get("", "prompt_digest").expect("prompt_digest")))
        })
        .collect()
}

/// (asset id, status) of the requests sent from `chat`.
async fn requests_of(url: &str, chat: i64) -> Vec<(i64, String)> {
    let db = open(url).await;
    let backend = db.get_database_backend();
    let sql =
        format!("SELECT CAST(asset_id AS BIGINT) AS asset_id, status FROM user_requests WHERE chat_id = {chat} ORDER BY id");
    let found = db.query_all_raw(Statement::from_string(backend, sql)).await.expect("requests read");
    let _ = db.close().await;
    found.into_iter().map(|r| (r.try_get("", "asset_id").expect("asset_id"), r.try_get("", "status").expect("status"))).collect()
}

/// Loads a dump into the (empty) database at `url`, as one batch of
/// statements (the simple-query protocol on PostgreSQL).
async fn load(url: &str, dump: &str) {
    let db = open(url).await;
    db.execute_unprepared(dump).await.unwrap_or_else(|e| panic!("the fixture does not load into {url}: {e}"));
    let _ = db.close().await;
}

/// A fresh PostgreSQL database, or `None` (with a note) when the server is
/// not running and this is not CI; in CI its absence is a failure.
async fn fresh_postgres() -> Option<String> {
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = match Database::connect(admin.clone()).await {
        Ok(db) => db,
        Err(err) => {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL is required in CI: {err}");
            eprintln!("note: PostgreSQL not reachable ({err}); skipping");
            return None;
        }
    };
    let name = format!("vidcache_upgrade_{}_{}", std::process::id(), fastrand::u32(..));
    db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    let _ = db.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

/// Sends `text` from a user of their own chat; returns the video it got.
async fn ask(h: &Harness, chat: i64, text: &str) -> Sent {
    let before = h.fake.sent_to(chat).iter().filter(|s| s.method == "sendVideo").count();
    h.fake.push_text(chat, chat, text);
    h.video_message(chat, before).await
}

/// Asserts `video` is the cached `file_id`, sent by reference.
fn assert_cached(video: &Sent, file_id: &str, what: &str) {
    assert_eq!(video.video_file_id.as_deref(), Some(file_id), "{what}: not the video cached by the previous release");
    assert!(!video.uploaded, "{what}: uploaded again instead of sent by file_id");
}

/// Presses ➕ under `video` and sends `continuation` once the bot asks for it.
async fn extend(h: &Harness, video: &Sent, continuation: &str) -> Sent {
    let chat = video.chat_id;
    let texts = texts_to(&h.fake.sent(), chat).len();
    let videos = h.fake.sent_to(chat).iter().filter(|s| s.method == "sendVideo").count();
    let id = h.fake.push_callback(chat, chat, video.message_id, &support::extend_button(video));
    let query = id.clone();
    let answered = h
        .fake
        .wait_until(move |f| f.callback_answers().iter().any(|a| a.callback_query_id == query), Duration::from_secs(30))
        .await;
    assert!(answered, "the ➕ press was never answered\n{}", h.logs());
    let asked = h.text_for(chat, texts).await;
    assert!(asked.starts_with('➕'), "the bot did not ask for the continuation: {asked:?}");
    h.fake.push_text(chat, chat, continuation);
    h.video_message(chat, videos).await
}

/// The whole upgrade, on the database at `url` that holds the fixture, with
/// the deployment's default recipe `defaults` ([quality, format, length];
/// `None`: the variables unset, the built-in defaults).
async fn keeps_every_cached_video(mut h: Harness, url: String, defaults: Option<[&str; 3]>) {
    h.set("DATABASE_URL", &url);
    if let Some([quality, format, length]) = defaults {
        h.set("DEFAULT_QUALITY", quality);
        h.set("DEFAULT_FORMAT", format);
        h.set("DEFAULT_LENGTH", length);
    }
    for (_, file_id) in [KITE, CARD, ZOE, RAIN] {
        h.fake.register_file(file_id); // uploaded by this bot, under the previous release
    }
    let before = rows(&url).await;
    assert_eq!(before.len(), 5, "the fixture holds five assets: {before:#?}");
    assert!(before.values().all(|r| r.key_version.is_none()), "the fixture predates key_version");
    assert_eq!(before[&RAIN.0].parent_id, Some(KITE.0));

    let service = h.spawn();
    h.wait_polling().await;

    // the prompts: as typed, in other case and spacing, and in another Unicode form
    let kite = ask(&h, 7001, "A red kite over the sea").await;
    assert_cached(&kite, KITE.1, "the prompt as first typed");
    assert_cached(&ask(&h, 7002, "  ОТКРЫТКА   для   Пети ").await, CARD.1, "the Russian prompt, cased and spaced differently");
    assert_cached(&ask(&h, 7003, "happy BIRTHDAY\tzoë").await, ZOE.1, "the mixed-case prompt, cased differently");
    assert_cached(&ask(&h, 7004, "HAPPY BIRTHDAY ZOE\u{0308}").await, ZOE.1, "the mixed-case prompt, decomposed");
    // the extension, by ➕ under its parent
    let rain = extend(&h, &kite, "  And then it STARTS to rain ").await;
    assert_cached(&rain, RAIN.1, "the extension");

    assert_eq!(h.fake.uploads(), 0, "no video uploaded");
    assert_eq!(h.jobs().await, 0, "no generation enqueued for a cached prompt");
    for (chat, asset) in [(7001, KITE.0), (7002, CARD.0), (7003, ZOE.0), (7004, ZOE.0)] {
        let done = eventually(Duration::from_secs(10), || async {
            requests_of(&url, chat).await.iter().any(|(a, s)| *a == asset && s == "completed")
        })
        .await;
        assert!(done, "chat {chat}'s request is not a completed request for asset {asset}: {:?}", requests_of(&url, chat).await);
    }

    let after = rows(&url).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no asset added or removed: {after:#?}");
    for (id, row) in &after {
        let old = &before[id];
        assert_eq!(row.key_version, Some(2), "asset {id} is not re-keyed: {row:?}");
        assert_eq!((&row.prompt, &row.file_id, row.parent_id), (&old.prompt, &old.file_id, old.parent_id), "asset {id}");
    }
    assert_eq!(after[&DRAGON].status, "failed", "the failed asset stays failed until asked again");
    let [quality, format, length] = defaults.unwrap_or(["fast", "16:9", "short"]);
    for (id, (recipe, digest)) in recipes(&url).await {
        assert_eq!(recipe, [quality, format, length, "local"], "asset {id} is not keyed as the deployment's default recipe");
        let old = &before[&id];
        assert_ne!(after[&id].prompt_key, old.prompt_key, "asset {id} kept its legacy key");
        if old.parent_id.is_none() {
            assert_eq!(digest.as_deref(), Some(old.prompt_key.as_str()), "asset {id}: prompt_digest is its legacy key");
        }
    }
    let parent_key = &after[&KITE.0].prompt_key;
    let expected = support::hex_sha256(&[b"extend\x1f", parent_key.as_bytes(), b"\x1f", CONTINUATION.as_bytes()]);
    assert_eq!(after[&RAIN.0].prompt_key, expected, "the extension's key is not over its parent's new key");
    let keys: std::collections::HashSet<&str> = after.values().map(|r| r.prompt_key.as_str()).collect();
    assert_eq!(keys.len(), after.len(), "keys are distinct");

    // the failed prompt is made again when asked, as before: the same row
    let dragon = ask(&h, 7005, "a dragon made of FIRE").await;
    assert!(dragon.uploaded, "the failed prompt is generated and uploaded");
    assert_eq!(h.jobs().await, 1, "one generation, for the failed prompt");
    let ok = eventually(Duration::from_secs(10), || async { rows(&url).await[&DRAGON].status == "available" }).await;
    assert!(ok, "the failed asset did not become available: {:#?}", rows(&url).await);
    let made = rows(&url).await;
    assert_eq!(made.len(), 5, "the failed prompt reused its row: {made:#?}");
    assert_eq!(made[&DRAGON].prompt_key, after[&DRAGON].prompt_key);

    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0), "{}", h.logs());

    // a second start on the same database re-keys nothing
    let service = h.spawn();
    h.wait_polling().await;
    assert_cached(&ask(&h, 7006, "a red kite over the sea").await, KITE.1, "after a restart");
    let again = rows(&url).await;
    let keys =
        |rows: &BTreeMap<i64, Row>| rows.iter().map(|(id, r)| (*id, r.prompt_key.clone(), r.key_version)).collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&made), "a restart changed keys");
    assert_eq!(h.jobs().await, 1, "nothing generated after the restart");
    assert_eq!(h.fake.uploads(), 1);
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0), "{}", h.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_of_the_previous_release_keeps_every_cached_video() {
    let h = Harness::new().await;
    let url = format!("sqlite://{}?mode=rwc", h.data_dir().join("vidcache.sqlite").display());
    load(&url, SQLITE_FIXTURE).await;
    keeps_every_cached_video(h, url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_of_the_previous_release_keeps_every_cached_video() {
    let Some(url) = fresh_postgres().await else { return };
    load(&url, POSTGRES_FIXTURE).await;
    // a deployment whose defaults are not the built-in ones: its old videos are of its defaults
    keeps_every_cached_video(Harness::new().await, url.clone(), Some(["quality", "9:16", "long"])).await;
    // passed: the database goes (a failed run leaves it for a look)
    let (base, name) = url.rsplit_once('/').expect("a database url");
    let admin = open(&format!("{base}/postgres")).await;
    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
