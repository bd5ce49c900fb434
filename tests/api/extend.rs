//! Black-box tests of "➕ Extend": the real binary against the fake Bot API
//! (button presses as callback queries, answerCallbackQuery checked against
//! the official method list). An extension and an extension of it last
//! parent + part − 1 s (a 1 s crossfade), are uploaded once each, and a
//! second user asking the same continuation gets the same file; chains stop
//! at MAX_EXTENSIONS; the wait for a continuation survives a restart;
//! clearing a video clears its extensions (recursively), so the same
//! continuation of the video made again is made again, once.

use crate::support;

use std::path::Path;
use std::time::Duration;

use crate::support::Harness;
use serde_json::Value;

/// Seconds of one frame of the joined video (24 fps).
const FRAME: f64 = 1.0 / 24.0;

fn ffprobe_available() -> bool {
    let found = std::process::Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg/ffprobe are required in CI");
        eprintln!("note: ffprobe not installed; skipping (apt-get install ffmpeg)");
    }
    found
}

/// (video stream duration, container duration, has audio) of an MP4.
fn probe(bytes: &[u8], dir: &Path, name: &str) -> (f64, f64, bool) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write probe file");
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_type,duration", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let num = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok()).expect("a duration");
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
    (num(video.get("duration")), num(json["format"].get("duration")), streams.iter().any(|s| s["codec_type"] == "audio"))
}

/// The number of text messages sent to `chat` so far.
fn texts(h: &Harness, chat: i64) -> usize {
    support::texts_to(&h.fake.sent(), chat).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_and_its_extension_crossfade_once_for_everyone() {
    if !ffprobe_available() {
        return;
    }
    let mut h = Harness::new().await;
    h.set("EXTEND_SECONDS", "4");
    let service = h.spawn();
    h.wait_polling().await;
    let (alice, bob) = (101, 202);

    h.fake.push_text(alice, alice, "A red kite");
    let parent = h.video_message(alice, 0).await;
    assert!(parent.uploaded);
    let parent_file = parent.video_file_id.clone().expect("file id");

    // ➕ → the bot asks for the continuation; the next text is the continuation
    let before = texts(&h, alice);
    assert_eq!(
        h.press(alice, parent.chat_id, parent.message_id, &support::extend_button(&parent)).await,
        None,
        "a press that starts an extension needs no notice"
    );
    let ask = h.text_for(alice, before).await;
    assert!(ask.starts_with('➕') && ask.contains("/cancel"), "{ask}");
    h.fake.push_text(alice, alice, "And then it starts to rain");
    let first = h.video_message(alice, 1).await;
    assert!(first.uploaded, "the extension is uploaded");
    assert_eq!(h.fake.uploads(), 2);
    let first_file = first.video_file_id.clone().expect("file id");
    assert_ne!(first_file, parent_file);
    support::extend_button(&first); // the extension carries its own ➕

    let dir = tempfile::tempdir().expect("temp dir");
    let (parent_v, _, _) = probe(&h.fake.file_bytes(&parent_file).expect("parent bytes"), dir.path(), "parent.mp4");
    let (first_v, first_f, first_audio) = probe(&h.fake.file_bytes(&first_file).expect("bytes"), dir.path(), "first.mp4");
    let expected = parent_v + 4.0 - 1.0;
    assert!((first_v - expected).abs() <= FRAME + 1e-3, "extension lasts {first_v} s, expected {expected} s");
    assert!((first_f - expected).abs() <= 0.1, "container lasts {first_f} s, expected {expected} s");
    assert!(first_audio, "the crossfade gives the extension an audio track");

    // Bob gets the parent from the cache, presses ➕ and asks the same continuation, written differently
    h.fake.push_text(bob, bob, "a red KITE");
    let bobs_parent = h.video_message(bob, 0).await;
    assert_eq!(bobs_parent.video_file_id.as_deref(), Some(parent_file.as_str()));
    h.press(bob, bobs_parent.chat_id, bobs_parent.message_id, &support::extend_button(&bobs_parent)).await;
    h.fake.push_text(bob, bob, "  and then it STARTS to rain ");
    let bobs_first = h.video_message(bob, 1).await;
    assert_eq!(bobs_first.video_file_id.as_deref(), Some(first_file.as_str()), "the same continuation is the same video");
    assert!(!bobs_first.uploaded);
    assert_eq!(h.fake.uploads(), 2, "nothing uploaded again");

    // an extension of the extension
    h.press(alice, first.chat_id, first.message_id, &support::extend_button(&first)).await;
    h.fake.push_text(alice, alice, "A rainbow appears");
    let second = h.video_message(alice, 2).await;
    assert!(second.uploaded);
    assert_eq!(h.fake.uploads(), 3);
    let second_file = second.video_file_id.clone().expect("file id");
    let (second_v, second_f, _) = probe(&h.fake.file_bytes(&second_file).expect("bytes"), dir.path(), "second.mp4");
    let expected = first_v + 4.0 - 1.0;
    assert!((second_v - expected).abs() <= FRAME + 1e-3, "extension of the extension lasts {second_v} s, expected {expected} s");
    assert!((second_f - expected).abs() <= 0.1, "container lasts {second_f} s, expected {expected} s");

    let assets = h.assets().await;
    assert_eq!(assets.len(), 3);
    let depth = |d: i32| assets.iter().filter(|a| a.extension_depth == d).count();
    assert_eq!((depth(0), depth(1), depth(2)), (1, 1, 1));
    assert!(assets.iter().all(|a| a.attempts == 1), "each made once: {assets:?}");
    assert_eq!(h.fake.calls("answerCallbackQuery"), 3, "every press answered once");

    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_stop_at_max_extensions_and_the_wait_survives_a_restart() {
    if !ffprobe_available() {
        return;
    }
    let mut h = Harness::new().await;
    h.set("EXTEND_SECONDS", "2");
    h.set("MAX_EXTENSIONS", "1");
    let service = h.spawn();
    h.wait_polling().await;
    let alice = 303;

    h.fake.push_text(alice, alice, "Paper boats");
    let parent = h.video_message(alice, 0).await;
    h.press(alice, parent.chat_id, parent.message_id, &support::extend_button(&parent)).await;

    // the bot waits for the continuation in the database: a restart keeps it
    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(alice, alice, "They sail away");
    let first = h.video_message(alice, 1).await;
    assert!(first.uploaded);

    // one extension is the most: the next press is refused, in the answer and in a message
    let before = texts(&h, alice);
    let notice =
        h.press(alice, first.chat_id, first.message_id, &support::extend_button(&first)).await.expect("a refused press says why");
    assert!(notice.contains(": 1 extension in a row is the most allowed"), "{notice}");
    assert!(notice.chars().count() <= 200);
    let message = h.text_for(alice, before).await;
    assert_eq!(message, notice);

    // and the next text is a new prompt, not a continuation
    h.fake.push_text(alice, alice, "A lighthouse");
    h.video_message(alice, 2).await;
    let assets = h.assets().await;
    let lighthouse = assets.iter().find(|a| a.prompt == "a lighthouse").expect("a new asset");
    assert_eq!((lighthouse.parent_id, lighthouse.extension_depth), (None, 0));
    assert_eq!(assets.len(), 3);
    assert_eq!(h.fake.calls("answerCallbackQuery"), 2);

    let (code, _) = service.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_a_video_clears_its_extensions_so_the_new_video_is_extended_anew() {
    use sea_orm::EntityTrait;
    use vidcache::db::entities::operator_actions;
    use vidcache::domain::{AssetStatus, Failure};

    if !ffprobe_available() {
        return;
    }
    let mut h = Harness::new().await;
    h.set("EXTEND_SECONDS", "2");
    let service = h.spawn();
    h.wait_polling().await;
    let (alice, bob, admin) = (401, 402, support::ADMIN);
    h.fake.push_text(admin, admin, "/start");
    h.text_for(admin, 0).await;

    // a video, its extension and the extension's extension
    h.fake.push_text(alice, alice, "Snow on the roofs");
    let parent = h.video_message(alice, 0).await;
    h.press(alice, parent.chat_id, parent.message_id, &support::extend_button(&parent)).await;
    h.fake.push_text(alice, alice, "A cat walks across");
    let first = h.video_message(alice, 1).await;
    h.press(alice, first.chat_id, first.message_id, &support::extend_button(&first)).await;
    h.fake.push_text(alice, alice, "It jumps down");
    let second = h.video_message(alice, 2).await;
    assert_eq!(h.fake.uploads(), 3);
    let old = [&parent, &first, &second].map(|v| v.video_file_id.clone().expect("file id"));
    // the upload reaches the user just before its asset is marked available;
    // a clear while an extension is still being made is refused ("being made")
    let done = support::eventually(Duration::from_secs(30), || async {
        h.assets().await.iter().all(|a| a.status == AssetStatus::Available)
    })
    .await;
    assert!(done, "{:?}", h.assets().await);
    let files_before: Vec<_> = h.assets().await.iter().filter_map(|a| a.file_path.clone()).collect();
    assert_eq!(files_before.len(), 3, "each video kept on disk");
    assert!(files_before.iter().all(|f| Path::new(f).exists()));

    // the operator clears the video: its extensions go with it, in one transaction
    let before = texts(&h, admin);
    h.fake.push_text(admin, admin, "/clear snow on the roofs");
    let answer = h.text_for(admin, before).await;
    assert!(answer.starts_with("Cleared “") && answer.to_lowercase().contains("snow on the roofs"), "{answer}");
    let assets = h.assets().await;
    assert_eq!(assets.len(), 3);
    for asset in &assets {
        assert_eq!(asset.status, AssetStatus::Failed, "{asset:?}");
        assert_eq!(asset.last_error, Some(Failure::Cleared));
        assert!(asset.file_id.is_none() && asset.file_path.is_none(), "{asset:?}");
    }
    for file in &files_before {
        assert!(!Path::new(file).exists(), "a cleared video's file stayed: {file}");
    }
    let actions = operator_actions::Entity::find().all(&h.db().await).await.expect("operator actions");
    let mut recorded: Vec<_> = actions.iter().map(|a| (a.asset_id, a.action.clone(), a.operator.clone())).collect();
    recorded.sort();
    let by = format!("telegram:{admin}");
    let mut expected: Vec<_> = assets
        .iter()
        .map(|a| (a.id, if a.parent_id.is_none() { "clear" } else { "clear:parent" }.to_owned(), by.clone()))
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);

    // the video is made again; the same continuation of the new video is a new extension
    h.fake.push_text(bob, bob, "snow on the ROOFS");
    let remade = h.video_message(bob, 0).await;
    assert!(remade.uploaded, "the cleared video is made again");
    assert_ne!(remade.video_file_id.as_deref(), Some(old[0].as_str()));
    h.press(bob, remade.chat_id, remade.message_id, &support::extend_button(&remade)).await;
    h.fake.push_text(bob, bob, "a cat walks ACROSS");
    let extended = h.video_message(bob, 1).await;
    assert!(extended.uploaded, "the old extension was sent instead of extending the new video");
    assert!(!old.contains(&extended.video_file_id.clone().expect("file id")));
    assert_eq!(h.fake.uploads(), 5);
    // and it is made once for everyone: alice's same continuation of the new video is the same file
    h.fake.push_text(alice, alice, "Snow on the roofs");
    let alices = h.video_message(alice, 3).await;
    assert_eq!(alices.video_file_id, remade.video_file_id);
    h.press(alice, alices.chat_id, alices.message_id, &support::extend_button(&alices)).await;
    h.fake.push_text(alice, alice, "A cat walks across");
    let alices_ext = h.video_message(alice, 4).await;
    assert_eq!(alices_ext.video_file_id, extended.video_file_id);
    assert!(!alices_ext.uploaded);
    assert_eq!(h.fake.uploads(), 5, "nothing made twice");
    assert_eq!(h.assets().await.len(), 3, "the extension asset is reused, keyed as before");

    service.kill9().await;
}

/// A modified client can send any callback data: pressing `x:<id>` for a
/// video the presser never asked for is answered and refused, shows
/// nothing of that video (not its prompt), and starts no wait — the
/// presser's next text is a prompt of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_extend_press_shows_nothing_and_extends_nothing() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let (alice, mallory) = (121, 666);

    h.fake.push_text(alice, alice, "Alice's secret birthday surprise");
    let alices = h.video_message(alice, 0).await;
    h.fake.push_text(mallory, mallory, "a kite");
    let own = h.video_message(mallory, 0).await;

    // Mallory presses ➕ under her own video, with Alice's asset id in the data
    let forged = support::extend_button(&alices);
    let before = support::texts_to(&h.fake.sent(), mallory);
    let id = h.fake.push_callback(mallory, mallory, own.message_id, &forged);
    let probe = id.clone();
    assert!(
        h.fake
            .wait_until(move |f| f.callback_answers().iter().any(|a| a.callback_query_id == probe), Duration::from_secs(30))
            .await,
        "the forged press is answered"
    );
    let answer = h.fake.callback_answers().into_iter().find(|a| a.callback_query_id == id).and_then(|a| a.text);
    let answer = answer.expect("the press is refused with a notice");
    assert!(answer.contains("isn't for you"), "{answer}");
    assert!(!answer.to_lowercase().contains("secret"), "{answer}");

    // nothing of Alice's video reached Mallory, and no wait started
    h.fake.push_text(mallory, mallory, "and then it rains");
    h.video_message(mallory, 1).await;
    let after = support::texts_to(&h.fake.sent(), mallory);
    assert!(after.iter().all(|t| !t.to_lowercase().contains("secret")), "{after:?}");
    assert!(after.len() >= before.len());
    let assets = h.assets().await;
    assert!(assets.iter().all(|a| a.parent_id.is_none()), "nothing was extended: {assets:?}");
    assert!(assets.iter().any(|a| a.prompt == "and then it rains"), "the text was a prompt of her own: {assets:?}");

    // Alice's own press still works
    assert_eq!(h.press(alice, alices.chat_id, alices.message_id, &support::extend_button(&alices)).await, None);
    drop(service);
}

/// A ➕ wait ends after EXTEND_WAIT_HOURS: a text after that is not taken
/// as a continuation (nothing made, nothing charged), and the bot says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_a_continuation_expires() {
    let mut h = Harness::new().await;
    h.set("EXTEND_WAIT_HOURS", "0.0003"); // about a second
    let service = h.spawn();
    h.wait_polling().await;
    let user = 131;

    h.fake.push_text(user, user, "A paper boat");
    let video = h.video_message(user, 0).await;
    assert_eq!(h.press(user, video.chat_id, video.message_id, &support::extend_button(&video)).await, None);
    let asked = texts(&h, user);
    // let the wait run out (it is measured from the press, in the database)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.fake.push_text(user, user, "and then it sinks");
    let told = h.text_for(user, asked).await;
    assert!(told.contains("stopped waiting") && told.contains("A paper boat"), "{told}");
    assert_eq!(h.assets().await.len(), 1, "nothing was made of the late text");
    assert_eq!(h.requests().await.len(), 1, "nothing was recorded");

    // the wait is over: the same text now is a prompt of its own
    h.fake.push_text(user, user, "and then it sinks");
    h.video_message(user, 1).await;
    let assets = h.assets().await;
    assert_eq!(assets.len(), 2);
    assert!(assets.iter().all(|a| a.parent_id.is_none()));
    drop(service);
}
