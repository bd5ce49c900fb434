//! Object storage and cleanup, black-box: the real binary against the fake
//! Bot API and a real S3-compatible server (`moto_server`, started by each
//! test on a free loopback port; `.ci/run` installs it).
//!
//! - a finished video lands in the bucket;
//! - after a token change every cached `file_id` is refused ("wrong file
//!   identifier"): a second process with an empty data dir uploads the
//!   asset again from the bucket — same asset, no second generation — and
//!   the request is answered; the new `file_id` replaces the old one;
//! - an asset whose upload found nobody is uploaded by another machine from
//!   the bucket without rendering it again;
//! - `/clear` deletes the object;
//! - the sweep removes intermediate and orphan files, never those of a
//!   generation that is running, nor (without storage) the video an asset
//!   refers to;
//! - with storage, the sweep removes this machine's copy of a finished
//!   video once it is old enough, and keeps the object.

use crate::support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{ADMIN, Harness, eventually, free_port, videos_to};
use fakes::telegram::Faults;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use vidcache::domain::{AssetStatus, Prompt, RequestStatus};
use vidcache::service::Housekeeping;
use vidcache::storage::VideoStore;

const KEY_ID: &str = "AKIDTESTSTORAGE";
const SECRET: &str = "test-secret-never-logged";

/// A moto S3 server of this test's own, with one bucket.
struct S3Server {
    child: tokio::process::Child,
    endpoint: String,
    bucket: String,
}

impl S3Server {
    /// `None` (with a note) when moto_server is not installed, outside CI.
    async fn start(bucket: &str) -> Option<Self> {
        let port = free_port();
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(err) => {
                assert!(std::env::var_os("CI").is_none(), "moto_server is required in CI: {err}");
                eprintln!("note: moto_server not available ({err}); skipping (pip install 'moto[server]')");
                return None;
            }
        };
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let up = eventually(Duration::from_secs(30), || {
            let http = http.clone();
            let url = format!("{endpoint}/{bucket}");
            async move { http.put(url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        assert!(up, "moto_server did not start or refused to create the bucket");
        Some(Self { child, endpoint, bucket: bucket.to_owned() })
    }

    fn client(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region("us-east-1")
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .build()
            .expect("S3 client")
    }

    /// Names of the objects under `prefix/`.
    async fn objects(&self, prefix: &str) -> Vec<String> {
        let prefix = object_store::path::Path::from(prefix);
        let listed: Vec<_> = self.client().list(Some(&prefix)).try_collect().await.expect("list objects");
        listed.into_iter().map(|meta| meta.location.to_string()).collect()
    }

    /// The settings that point vidcache at this bucket.
    fn configure(&self, h: &mut Harness, prefix: &str) {
        h.set("STORAGE_URL", &format!("s3://{}/{prefix}", self.bucket));
        h.set("AWS_ENDPOINT_URL", &self.endpoint);
        h.set("AWS_ACCESS_KEY_ID", KEY_ID);
        h.set("AWS_SECRET_ACCESS_KEY", SECRET);
        h.set("AWS_REGION", "us-east-1");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The first 16 characters of the prompt's key: a video's file name starts with them.
fn file_prefix(prompt: &str) -> String {
    vidcache::domain::PromptKey::of(&Prompt::parse(prompt, 1000).expect("valid prompt"), &vidcache::domain::Recipe::default())
        .as_str()[..16]
        .to_owned()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
        }
    }
    out
}

/// The database outlives the data dir: both processes open the same SQLite
/// file, each with a data dir (videos, queue) of its own.
fn shared_database(h: &mut Harness, dir: &Path) {
    h.set("DATABASE_URL", &format!("sqlite://{}?mode=rwc", dir.join("vidcache.sqlite").display()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_change_reuploads_from_storage_without_generating_and_clear_deletes_the_object() {
    let Some(s3) = S3Server::start("vidcache-token").await else { return };
    let mut h = Harness::new().await;
    let shared = tempfile::tempdir().expect("temp dir");
    shared_database(&mut h, shared.path());
    s3.configure(&mut h, "run/one");
    let prompt = "a lighthouse in a storm";
    let prefix = file_prefix(prompt);

    // First machine, first bot: the video is made, uploaded, and stored.
    let first = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, prompt);
    let old_id = h.video_for(1, 0).await;
    let objects = s3.objects("run/one").await;
    assert_eq!(objects, vec![format!("run/one/{prefix}-g1.mp4")], "the finished video is in the bucket");
    assert_eq!(first.terminate().await.0, Some(0));
    std::fs::remove_dir_all(h.data_dir().join("videos")).expect("the first machine is gone");
    let log = h.logs();
    assert!(!log.contains(SECRET) && !log.contains(KEY_ID), "credentials never reach a log line");

    // Another bot token and another machine with an empty data dir: the
    // cached file_id is refused, the video comes from the bucket.
    h.fake.change_token("654321:OTHER-BOT-TOKEN");
    h.set("TELOXIDE_TOKEN", "654321:OTHER-BOT-TOKEN");
    let second_dir = tempfile::tempdir().expect("temp dir");
    h.set("VIDCACHE_DATA_DIR", &second_dir.path().display().to_string());
    assert!(files_under(second_dir.path()).is_empty());
    let uploads_before = h.fake.uploads();
    let second = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(2, 2, prompt);
    let ok = h.fake.wait_for(|sent| videos_to(sent, 2).len() == 1, Duration::from_secs(60)).await;
    assert!(ok, "the request after the token change is answered; log:\n{}", second.log_text());
    let sent = h.fake.sent();
    let answer = sent.iter().rev().find(|s| s.chat_id == 2 && s.method == "sendVideo").expect("a video to chat 2");
    assert!(answer.uploaded, "the video was uploaded again under the new token");
    let new_id = answer.video_file_id.clone().expect("a file_id");
    assert_ne!(new_id, old_id);
    assert_eq!(h.fake.uploads(), uploads_before + 1, "one upload from storage");

    // the new file_id is recorded once the upload answered: the fake saw the send a moment before
    let recorded = new_id.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let recorded = recorded.clone();
            let h = &h;
            async move { h.assets().await.iter().any(|a| a.file_id.as_ref().is_some_and(|f| f.0 == recorded)) }
        })
        .await,
        "the new file_id replaced the old one: {:?}",
        h.assets().await
    );
    let assets = h.assets().await;
    assert_eq!(assets.len(), 1, "same asset");
    let asset = &assets[0];
    assert_eq!(asset.status, AssetStatus::Available);
    assert_eq!((asset.generation, asset.attempts), (1, 1), "no new generation");
    assert!(
        eventually(Duration::from_secs(10), || async { h.requests().await.iter().all(|r| r.status == RequestStatus::Completed) })
            .await,
        "every request is answered: {:?}",
        h.requests().await
    );
    assert_eq!(s3.objects("run/one").await.len(), 1, "nothing was rendered again");
    assert!(second.log_text().contains("uploaded again from storage"), "log:\n{}", second.log_text());

    // The renewed file_id serves the next request from the cache: no upload.
    h.fake.push_text(3, 3, prompt);
    assert_eq!(h.video_for(3, 0).await, new_id);
    assert_eq!(h.fake.uploads(), uploads_before + 1);

    // /clear deletes the object, and the fetched copy.
    h.fake.push_text(ADMIN, ADMIN, &format!("/clear {prompt}"));
    let cleared = eventually(Duration::from_secs(20), || async { s3.objects("run/one").await.is_empty() }).await;
    assert!(cleared, "the cleared video's object is deleted; log:\n{}", second.log_text());
    assert!(
        !files_under(&second_dir.path().join("videos")).iter().any(|p| p.to_string_lossy().contains(&prefix)),
        "the local copy is gone too"
    );
    assert_eq!(second.terminate().await.0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_machine_uploads_a_stored_video_nobody_took_without_rendering_it() {
    let Some(s3) = S3Server::start("vidcache-nobody").await else { return };
    let mut h = Harness::new().await;
    let shared = tempfile::tempdir().expect("temp dir");
    shared_database(&mut h, shared.path());
    s3.configure(&mut h, "videos");
    let prompt = "a quiet harbour at dawn";
    let prefix = file_prefix(prompt);

    // The only waiter blocked the bot: the video is made and stored, but uploaded nowhere.
    h.fake.set_faults(Faults { blocked_chats: HashSet::from([10]), ..Faults::default() });
    let first = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(10, 10, prompt);
    let db = h.db().await;
    let stored = eventually(Duration::from_secs(60), || {
        let db = db.clone();
        async move {
            use sea_orm::EntityTrait;
            let assets = vidcache::db::entities::video_assets::Entity::find().all(&db).await.unwrap_or_default();
            assets.first().is_some_and(|a| a.status == AssetStatus::Available && a.file_id.is_none())
        }
    })
    .await;
    assert!(stored, "the video is made with nobody to take it; log:\n{}", first.log_text());
    assert_eq!(first.terminate().await.0, Some(0));
    assert_eq!(h.fake.uploads(), 0);
    assert_eq!(s3.objects("videos").await, vec![format!("videos/{prefix}-g1.mp4")]);
    std::fs::remove_dir_all(h.data_dir().join("videos")).expect("the first machine is gone");

    // Another machine, empty data dir: the next request is served from the bucket.
    h.fake.set_faults(Faults::default());
    let second_dir = tempfile::tempdir().expect("temp dir");
    h.set("VIDCACHE_DATA_DIR", &second_dir.path().display().to_string());
    let second = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(11, 11, prompt);
    let ok = h.fake.wait_for(|sent| videos_to(sent, 11).len() == 1, Duration::from_secs(60)).await;
    assert!(ok, "the second machine answers; log:\n{}", second.log_text());
    assert_eq!(h.fake.uploads(), 1);
    assert!(second.log_text().contains("not generating it again"), "log:\n{}", second.log_text());
    assert_eq!(s3.objects("videos").await, vec![format!("videos/{prefix}-g1.mp4")], "nothing was rendered again");
    let asset = h.assets().await.remove(0);
    assert!(asset.file_path.as_deref().is_some_and(|p| p.ends_with(&format!("{prefix}-g1.mp4"))), "{asset:?}");
    assert_eq!(second.terminate().await.0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_intermediate_and_orphan_files_but_not_live_ones() {
    let mut h = Harness::new().await;
    h.set("KEEP_INTERMEDIATES_HOURS", "0");
    h.set("CLEANUP_INTERVAL_SECS", "1");
    h.set("LOCAL_GENERATOR_DELAY_MS", "6000");
    let videos = h.data_dir().join("videos");
    let work = h.data_dir().join("work");
    std::fs::create_dir_all(&videos).expect("videos dir");
    std::fs::create_dir_all(work.join("asset-777-g1")).expect("work dir");
    // Left before the start: no asset refers to them.
    let stray_video = videos.join("0123456789abcdef-g1.mp4");
    std::fs::write(&stray_video, b"not a video anyone needs").expect("write");
    std::fs::write(work.join("asset-777-g1").join("image-00.png"), b"png").expect("write");

    let service = h.spawn();
    h.wait_polling().await;
    let gone =
        eventually(Duration::from_secs(20), || async { !stray_video.exists() && !work.join("asset-777-g1").exists() }).await;
    assert!(gone, "files no asset refers to are swept; log:\n{}", service.log_text());

    let prompt = "a slow sunrise over dunes";
    let prefix = file_prefix(prompt);
    h.fake.push_text(1, 1, prompt);
    let db = h.db().await;
    let generating = || {
        let db = db.clone();
        async move {
            use sea_orm::EntityTrait;
            let assets = vidcache::db::entities::video_assets::Entity::find().all(&db).await.unwrap_or_default();
            assets.first().is_some_and(|a| a.status == AssetStatus::Generating)
        }
    };
    assert!(eventually(Duration::from_secs(20), generating).await, "the generation starts");
    let asset_id = h.assets().await[0].id;
    // Files of the running generation: intermediates, and an older video of the asset.
    let live_dir = work.join(format!("asset-{asset_id}-g1"));
    std::fs::create_dir_all(&live_dir).expect("live dir");
    std::fs::write(live_dir.join("clip-00.mp4"), b"clip").expect("write");
    let older = videos.join(format!("{prefix}-g0.mp4"));
    std::fs::write(&older, b"an older generation's video").expect("write");
    // A sweep after these were written: it takes a new stray file.
    let marker = videos.join("fedcba9876543210-g1.mp4");
    std::fs::write(&marker, b"stray").expect("write");
    assert!(eventually(Duration::from_secs(10), || async { !marker.exists() }).await, "a sweep ran");
    assert!(generating().await, "the sweep ran while the generation was running");
    assert!(live_dir.join("clip-00.mp4").exists(), "a running generation's intermediate files are kept");
    assert!(older.exists(), "a running generation's asset keeps its files");

    // Once the asset is available: intermediates and the unreferenced older video go, its video stays.
    h.video_for(1, 0).await;
    let swept = eventually(Duration::from_secs(20), || async { !live_dir.exists() && !older.exists() }).await;
    assert!(swept, "intermediates and the older video are swept after the asset is available; log:\n{}", service.log_text());
    let asset = h.assets().await.remove(0);
    let video = PathBuf::from(asset.file_path.clone().expect("the asset's file"));
    assert!(video.exists(), "the asset's own video is kept");
    // without storage it is the only copy: kept however old
    backdate(&video, Duration::from_secs(7200));
    two_sweeps(&videos).await;
    assert!(video.exists(), "the only copy of an asset's video was swept");

    // /stats shows the disk the data dir uses.
    h.fake.push_text(ADMIN, ADMIN, "/stats");
    let stats = h.text_for(ADMIN, 0).await;
    assert!(stats.contains("Disk used: "), "{stats}");
    assert_eq!(service.terminate().await.0, Some(0));
}

/// Sets a file's modification time `ago` in the past.
fn backdate(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).expect("open to backdate");
    file.set_modified(std::time::SystemTime::now() - ago).expect("set mtime");
}

/// Waits until two whole sweeps ran after now: a stray video file (no
/// asset refers to it) is written into `videos` and swept, twice.
async fn two_sweeps(videos: &Path) {
    for stray in ["0123456789abcdef-g9.mp4", "fedcba9876543210-g9.mp4"] {
        let stray = videos.join(stray);
        std::fs::write(&stray, b"no asset needs this").expect("write");
        assert!(eventually(Duration::from_secs(20), || async { !stray.exists() }).await, "the sweep never ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_storage_the_local_copy_of_a_finished_video_is_swept_and_the_object_kept() {
    let Some(s3) = S3Server::start("vidcache-sweep").await else { return };
    let mut h = Harness::new().await;
    s3.configure(&mut h, "kept");
    h.set("KEEP_INTERMEDIATES_HOURS", "0");
    h.set("CLEANUP_INTERVAL_SECS", "1");
    let prompt = "a paper boat in a puddle";
    let prefix = file_prefix(prompt);
    let videos = h.data_dir().join("videos");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, prompt);
    let file_id = h.video_for(1, 0).await;
    let asset = h.assets().await.remove(0);
    let local = PathBuf::from(asset.file_path.clone().expect("the asset's file"));
    assert_eq!(s3.objects("kept").await, vec![format!("kept/{prefix}-g1.mp4")], "the video is in the bucket");

    // just written (rendered, or fetched for an upload): kept for a while whatever the keep time
    two_sweeps(&videos).await;
    assert!(local.exists(), "a fresh local copy was swept; log:\n{}", service.log_text());

    // older: the local copy goes, the object stays, the asset still points at the video's name
    backdate(&local, Duration::from_secs(3600));
    let swept = eventually(Duration::from_secs(20), || async { !local.exists() }).await;
    assert!(swept, "the local copy of a stored video is swept; log:\n{}", service.log_text());
    assert!(service.log_text().contains("removed this machine's copy of a stored video"), "log:\n{}", service.log_text());
    assert_eq!(s3.objects("kept").await, vec![format!("kept/{prefix}-g1.mp4")], "the object stays");
    let after = h.assets().await.remove(0);
    assert_eq!((after.status, after.file_path.clone()), (AssetStatus::Available, asset.file_path.clone()));

    // the next request is answered as before, by its file_id
    h.fake.push_text(2, 2, prompt);
    assert_eq!(h.video_for(2, 0).await, file_id);
    assert_eq!(h.fake.uploads(), 1);
    assert_eq!(service.terminate().await.0, Some(0));
}

/// Signs in to the console at `base` with `token`; the session cookie.
async fn console_session(http: &reqwest::Client, base: &str, token: &str) -> String {
    let response = http.get(format!("{base}/login")).send().await.expect("the console answers");
    let login_cookie = support::cookie_of(&response, "vidcache_login").expect("sign-in cookie");
    let page = response.text().await.expect("body");
    let marker = "name=\"login_csrf\" value=\"";
    let start = page.find(marker).map(|i| i + marker.len()).expect("the sign-in form");
    let login_csrf = page[start..].split('"').next().unwrap_or_default().to_owned();
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[("token", token), ("name", "Ops"), ("login_csrf", &login_csrf)])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 303, "signed in");
    support::cookie_of(&response, "vidcache_session").expect("session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_plays_a_video_from_storage_when_this_machine_has_no_copy() {
    let Some(s3) = S3Server::start("vidcache-console").await else { return };
    let mut h = Harness::new().await;
    s3.configure(&mut h, "played");
    let port = free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    h.set("ADMIN_TOKEN", "console-storage-token");
    let base = format!("http://127.0.0.1:{port}");
    let prompt = "a kettle whistling at midnight";
    let prefix = file_prefix(prompt);
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, prompt);
    h.video_for(1, 0).await;
    let asset = h.assets().await.remove(0);
    let local = PathBuf::from(asset.file_path.clone().expect("the asset's file"));
    let object = object_store::path::Path::from(format!("played/{prefix}-g1.mp4"));
    let stored = s3.client().get(&object).await.expect("the object").bytes().await.expect("its bytes");
    assert!(stored.len() > 1000, "a real video is stored");
    // this machine's copy is gone (swept, or rendered elsewhere)
    std::fs::remove_file(&local).expect("remove the local copy");

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = format!("{base}/assets/{}/video", asset.id);
    // without a session: 401 and no video
    let response = http.get(&url).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 401);
    assert!(!response.bytes().await.expect("body").starts_with(&stored[..16]));

    let session = console_session(&http, &base, "console-storage-token").await;
    let page = http.get(format!("{base}/assets/{}", asset.id)).header("cookie", &session).send().await.expect("answers");
    let page = page.text().await.expect("body");
    assert!(page.contains(&format!("src=\"/assets/{}/video\"", asset.id)), "the page has a player: {page}");

    let response = http.get(&url).header("cookie", &session).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let header = |r: &reqwest::Response, name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header(&response, "content-type").as_deref(), Some("video/mp4"));
    assert_eq!(header(&response, "content-length"), Some(stored.len().to_string()));
    assert_eq!(response.bytes().await.expect("body"), stored, "the stored MP4, byte for byte");

    // a byte range, as a browser's player asks when seeking
    let response = http.get(&url).header("cookie", &session).header("range", "bytes=100-199").send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 206);
    assert_eq!(header(&response, "content-range"), Some(format!("bytes 100-199/{}", stored.len())));
    assert_eq!(response.bytes().await.expect("body"), stored.slice(100..200));
    let response = http.get(&url).header("cookie", &session).header("range", "bytes=999999999-").send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 416);
    assert!(!local.exists(), "the console streams from storage without keeping a copy");

    // cleared: the object is deleted, the console has no video to play
    h.fake.push_text(support::ADMIN, support::ADMIN, &format!("/clear {prompt}"));
    assert!(eventually(Duration::from_secs(20), || async { s3.objects("played").await.is_empty() }).await);
    let response = http.get(&url).header("cookie", &session).send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(service.terminate().await.0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_old_stored_videos_no_asset_refers_to_and_keeps_the_rest() {
    let Some(s3) = S3Server::start("vidcache-orphans").await else { return };
    let mut h = Harness::new().await;
    s3.configure(&mut h, "orph");
    let prompt = "a kite over the dunes";
    let prefix = file_prefix(prompt);
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(1, 1, prompt);
    h.video_for(1, 0).await;
    assert_eq!(service.terminate().await.0, Some(0));
    let referenced = format!("orph/{prefix}-g1.mp4");
    assert_eq!(s3.objects("orph").await, vec![referenced.clone()], "the video is in the bucket");

    // an older generation's video, a cleared asset's video, and something not a video
    let client = s3.client();
    let older = format!("orph/{prefix}-g0.mp4");
    let cleared = "orph/0123456789abcdef-g1.mp4".to_owned();
    let other = "orph/notes.txt".to_owned();
    for name in [&older, &cleared, &other] {
        client.put(&object_store::path::Path::from(name.as_str()), b"left over".to_vec().into()).await.expect("put");
    }
    let mut everything = vec![referenced.clone(), older.clone(), cleared.clone(), other.clone()];
    everything.sort();
    let listed = || async {
        let mut names = s3.objects("orph").await;
        names.sort();
        names
    };

    let settings = h.settings();
    let store = VideoStore::from_settings(&settings.storage, h.data_dir().join("videos")).expect("store");
    let db = h.db().await;
    let sweeper = |keep: Duration| Housekeeping::new(db.clone(), store.clone(), h.data_dir().join("work"), keep);

    // just written: kept whatever the keep time says (an upload whose asset is not written yet)
    let swept = sweeper(Duration::ZERO).sweep().await.expect("sweep");
    assert_eq!(swept.stored, 0);
    assert_eq!(listed().await, everything, "a fresh unreferenced object stays");
    // two hours on, but the keep time is three
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    assert_eq!(sweeper(Duration::from_secs(3 * 3600)).sweep_store_at(later).await.expect("sweep").stored, 0);
    assert_eq!(listed().await, everything, "kept for the keep time");

    // older than the keep time: the unreferenced videos go, the asset's video and the other object stay
    let swept = sweeper(Duration::from_secs(3600)).sweep_store_at(later).await.expect("sweep");
    assert_eq!(swept.stored, 2);
    let mut left = vec![referenced.clone(), other.clone()];
    left.sort();
    assert_eq!(listed().await, left);
    let asset = h.assets().await.remove(0);
    assert_eq!(asset.status, AssetStatus::Available);
    assert!(store.contains(&format!("{prefix}-g1.mp4")).await.expect("head"));
}
