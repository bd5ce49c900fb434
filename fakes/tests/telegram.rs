//! Tests of the fake Telegram server, driven by a real teloxide `Bot` and by
//! raw HTTP requests.

use std::collections::HashSet;
use std::time::Duration;

use fakes::telegram::{FakeTelegram, FakeTelegramConfig, Faults};
use serde_json::{Value, json};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode, ReplyParameters, UpdateKind};
use teloxide::{ApiError, RequestError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

async fn fake_with(config: FakeTelegramConfig) -> FakeTelegram {
    FakeTelegram::start(config).await.unwrap()
}

async fn fake() -> FakeTelegram {
    fake_with(FakeTelegramConfig::default()).await
}

/// No flood limits, for tests that send a lot.
fn unlimited() -> FakeTelegramConfig {
    FakeTelegramConfig { global_per_second: 0, per_chat_burst: 0, ..Default::default() }
}

fn bot(tg: &FakeTelegram) -> Bot {
    Bot::new(tg.token()).set_api_url(url::Url::parse(&tg.api_url()).unwrap())
}

fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

/// A minimal MP4: ftyp + moov(mvhd 2 s, trak/tkhd 320x240).
fn tiny_mp4() -> Vec<u8> {
    let mut mvhd = vec![0u8; 100];
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
    mvhd[16..20].copy_from_slice(&2000u32.to_be_bytes());
    let mut tkhd = vec![0u8; 84];
    tkhd[76..80].copy_from_slice(&(320u32 << 16).to_be_bytes());
    tkhd[80..84].copy_from_slice(&(240u32 << 16).to_be_bytes());
    let moov = bx(b"moov", &[bx(b"mvhd", &mvhd), bx(b"trak", &bx(b"tkhd", &tkhd))].concat());
    [bx(b"ftyp", b"isom\0\0\x02\0isomiso2mp41"), moov, bx(b"mdat", &[0xAB; 64])].concat()
}

fn api_error(r: Result<impl std::fmt::Debug, RequestError>) -> ApiError {
    match r {
        Err(RequestError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Minimal HTTP/1.1 client: returns (status, body).
async fn http(tg: &FakeTelegram, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, String) {
    let host = tg.api_url().trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
    let ct = content_type.map(|c| format!("Content-Type: {c}\r\n")).unwrap_or_default();
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n{ct}\r\n", body.len());
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn post_json(tg: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
    let path = format!("/bot{}/{method}", tg.token());
    let (status, body) = http(tg, "POST", &path, Some("application/json"), body.to_string().as_bytes()).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XfakeBoundary42";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: video/mp4\r\n\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn get_me_and_send_message() {
    let tg = fake().await;
    let bot = bot(&tg);
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "vidcache_test_bot");
    assert_eq!(me.id.0, 123456);
    assert!(me.is_bot);

    tg.push_text(7, 7, "hi bot");
    let msg = bot.send_message(ChatId(7), "hello").await.unwrap();
    assert_eq!(msg.text(), Some("hello"));
    assert_eq!(msg.chat.id, ChatId(7));
    assert_eq!(msg.from.as_ref().map(|u| u.is_bot), Some(true));
    let sent = tg.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "sendMessage");
    assert_eq!(sent[0].chat_id, 7);
    assert_eq!(sent[0].message_id, i64::from(msg.id.0));
    assert_eq!(sent[0].text.as_deref(), Some("hello"));
    assert!(!sent[0].has_reply_markup);
    assert_eq!(tg.calls("getMe"), 1);
    assert_eq!(tg.calls("sendMessage"), 1);

    // a chat no update mentioned is unknown, as for a user who never wrote
    assert_eq!(api_error(bot.send_message(ChatId(999), "x").await), ApiError::ChatNotFound);
    assert_eq!(tg.sent().len(), 1);
}

#[tokio::test]
async fn video_upload_then_file_id() {
    let tg = fake_with(unlimited()).await;
    let bot = bot(&tg);
    tg.push_text(7, 7, "/make a cat");

    let msg = bot.send_video(ChatId(7), InputFile::memory(tiny_mp4())).caption("here").await.unwrap();
    let video = msg.video().expect("video message");
    assert_eq!((video.width, video.height, video.duration.seconds()), (320, 240, 2));
    assert_eq!(video.file.size, tiny_mp4().len() as u32);
    assert_eq!(msg.caption(), Some("here"));
    let file_id = video.file.id.clone();
    assert!(file_id.0.starts_with("BAAC"));
    assert_eq!(tg.uploads(), 1);

    let again = bot.send_video(ChatId(7), InputFile::file_id(file_id.clone())).await.unwrap();
    let again_video = again.video().unwrap();
    assert_eq!(again_video.file.id, file_id);
    assert_eq!(again_video.file.unique_id, video.file.unique_id);
    assert_eq!(tg.uploads(), 1);

    // another upload of the same bytes: new file_id, same file_unique_id
    let third = bot.send_video(ChatId(7), InputFile::memory(tiny_mp4())).await.unwrap();
    assert_ne!(third.video().unwrap().file.id, file_id);
    assert_eq!(third.video().unwrap().file.unique_id, video.file.unique_id);

    let sent = tg.sent();
    assert_eq!(sent.len(), 3);
    assert!(sent[0].uploaded && !sent[1].uploaded && sent[2].uploaded);
    assert_eq!(sent[1].video_file_id.as_deref(), Some(file_id.0.as_str()));
    assert_eq!(sent[0].caption.as_deref(), Some("here"));

    let unknown = bot.send_video(ChatId(7), InputFile::file_id("BAACnope".to_owned().into())).await;
    assert_eq!(api_error(unknown), ApiError::WrongFileIdOrUrl);

    let not_mp4 = bot.send_video(ChatId(7), InputFile::memory(b"GIF89a not a video".to_vec())).await;
    assert_eq!(api_error(not_mp4), ApiError::Unknown("Bad Request: wrong file".into()));

    tg.set_faults(Faults { max_upload_bytes: Some(100), ..Default::default() });
    let big = bot.send_video(ChatId(7), InputFile::memory(tiny_mp4())).await;
    assert_eq!(api_error(big), ApiError::RequestEntityTooLarge);

    tg.set_faults(Faults { reject_uploads: true, ..Default::default() });
    let rejected = bot.send_video(ChatId(7), InputFile::memory(tiny_mp4())).await;
    assert_eq!(api_error(rejected), ApiError::Unknown("Bad Request: wrong file".into()));
    // file_id sends are not uploads
    bot.send_video(ChatId(7), InputFile::file_id(file_id)).await.unwrap();

    assert_eq!(tg.uploads(), 2);
    assert_eq!(tg.sent().len(), 4);
    assert_eq!(tg.calls("sendVideo"), 8);
}

#[tokio::test]
async fn per_chat_and_global_flood_limits() {
    let tg = fake().await;
    let bot = bot(&tg);
    tg.push_text(1, 1, "hi");
    for i in 0..3 {
        bot.send_message(ChatId(1), format!("m{i}")).await.unwrap();
    }
    match bot.send_message(ChatId(1), "one too many").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    assert_eq!(tg.too_many_requests(), 1);
    assert_eq!(tg.sent_to(1).len(), 3);

    let tg = fake_with(FakeTelegramConfig { global_per_second: 5, per_chat_burst: 0, ..Default::default() }).await;
    let bot = self::bot(&tg);
    for chat in 1..=6 {
        tg.push_text(chat, chat, "hi");
    }
    for chat in 1..=5 {
        bot.send_message(ChatId(chat), "x").await.unwrap();
    }
    assert!(matches!(bot.send_message(ChatId(6), "x").await, Err(RequestError::RetryAfter(_))));
    assert_eq!(tg.too_many_requests(), 1);
    assert_eq!(tg.sent().len(), 5);
}

#[tokio::test]
async fn a_chat_flooded_for_a_while_is_refused_until_then_and_alone() {
    let tg = fake_with(unlimited()).await;
    let bot = bot(&tg);
    for chat in [7, 8] {
        tg.push_text(chat, chat, "hi");
    }
    tg.set_faults(Faults { flood_for: std::collections::HashMap::from([(7, 2)]), ..Default::default() });
    let start = std::time::Instant::now();
    match bot.send_message(ChatId(7), "x").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 2),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    // another chat is not affected
    bot.send_message(ChatId(8), "y").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // still refused, with the seconds left
    match bot.send_message(ChatId(7), "x").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    // (the fake's two seconds began when it received the first send, a little after `start`)
    tokio::time::sleep(Duration::from_millis(2_200).saturating_sub(start.elapsed())).await;
    bot.send_message(ChatId(7), "x").await.unwrap();
    assert_eq!(tg.refused_sends(7), vec![("sendMessage".to_owned(), 429), ("sendMessage".to_owned(), 429)]);
    assert_eq!(tg.sent_to(7).len(), 1);
}

#[tokio::test]
async fn blocked_chat_is_forbidden() {
    let tg = fake().await;
    let bot = bot(&tg);
    tg.push_text(5, 5, "hi");
    tg.set_faults(Faults { blocked_chats: HashSet::from([5]), ..Default::default() });
    assert_eq!(api_error(bot.send_message(ChatId(5), "x").await), ApiError::BotBlocked);
    assert_eq!(api_error(bot.send_chat_action(ChatId(5), teloxide::types::ChatAction::Typing).await), ApiError::BotBlocked);
    assert!(tg.sent().is_empty());
    tg.set_faults(Faults::default());
    bot.send_chat_action(ChatId(5), teloxide::types::ChatAction::UploadVideo).await.unwrap();
    bot.send_message(ChatId(5), "x").await.unwrap();
}

#[tokio::test]
async fn long_poll_returns_pushed_update_and_confirms_by_offset() {
    let tg = fake().await;
    let bot = bot(&tg);
    let pusher = {
        let tg = tg.clone();
        tokio::spawn(async move {
            assert!(tg.wait_until(|t| t.calls("getUpdates") >= 1, WAIT).await);
            tg.push_text(3, 3, "/start now")
        })
    };
    let updates = bot.get_updates().timeout(10).await.unwrap();
    let message_id = pusher.await.unwrap();
    assert_eq!(updates.len(), 1);
    let UpdateKind::Message(msg) = &updates[0].kind else { panic!("not a message: {:?}", updates[0]) };
    assert_eq!(msg.text(), Some("/start now"));
    assert_eq!(i64::from(msg.id.0), message_id);
    let entities = msg.entities().unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!((entities[0].offset, entities[0].length), (0, 6));
    let update_id = i64::from(updates[0].id.0);
    assert!(tg.handed_out_at(update_id).is_some());
    assert_eq!(tg.pending_updates(), 1, "not confirmed yet");

    // same offset again: still there
    let again = bot.get_updates().await.unwrap();
    assert_eq!(again.len(), 1);
    let next = bot.get_updates().offset(updates[0].id.as_offset()).timeout(0).await.unwrap();
    assert!(next.is_empty());
    assert_eq!(tg.pending_updates(), 0);

    // limit
    tg.push_text(3, 3, "a");
    tg.push_text(3, 3, "b");
    let one = bot.get_updates().limit(1).await.unwrap();
    assert_eq!(one.len(), 1);

    // an arbitrary update body
    let mid = tg.next_message_id();
    let id = tg.push_update(json!({"message": {
        "message_id": mid, "date": 0,
        "chat": {"id": 3, "type": "private", "first_name": "U"},
        "from": {"id": 3, "is_bot": false, "first_name": "U"},
        "sticker": {"file_id": "CAAC1", "file_unique_id": "u1", "type": "regular",
                    "width": 512, "height": 512, "is_animated": false, "is_video": false}
    }}));
    let all = bot.get_updates().offset(one[0].id.as_offset()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(i64::from(all[1].id.0), id);
    let UpdateKind::Message(sticker) = &all[1].kind else { panic!("not a message") };
    assert!(sticker.sticker().is_some());
}

#[tokio::test]
async fn shutdown_releases_long_poll() {
    let tg = fake().await;
    let bot = bot(&tg);
    let poll = tokio::spawn(async move { bot.get_updates().timeout(15).await });
    assert!(tg.wait_until(|t| t.calls("getUpdates") >= 1, WAIT).await);
    tg.shutdown();
    let res = tokio::time::timeout(WAIT, poll).await.expect("poll released").unwrap();
    assert!(res.unwrap().is_empty());
}

#[tokio::test]
async fn raw_http_encodings_and_validation() {
    let tg = fake_with(unlimited()).await;
    let token = tg.token();
    tg.push_text(7, 7, "hi");

    let (status, body) = post_json(&tg, "sendPhotoX", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"ok": false, "error_code": 404, "description": "Not Found"}));
    assert_eq!(tg.calls("sendPhotoX"), 1);

    let (status, _) = http(&tg, "POST", "/bot1:wrong/getMe", None, b"").await;
    assert_eq!(status, 401);
    let (status, body) = http(&tg, "GET", &format!("/bot{token}/getme"), None, b"").await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = post_json(&tg, "sendMessage", json!({"text": "x"})).await;
    assert_eq!((status, body["description"].as_str()), (400, Some("Bad Request: chat_id is empty")));
    let (status, body) = post_json(&tg, "sendMessage", json!({"chat_id": 7})).await;
    assert_eq!((status, body["description"].as_str()), (400, Some("Bad Request: message text is empty")));
    let (status, body) = post_json(&tg, "sendMessage", json!({"chat_id": 7, "text": 5})).await;
    assert_eq!(status, 400);
    assert!(body["description"].as_str().unwrap().contains("must be of type String"), "{body}");
    let (status, _) = post_json(&tg, "sendMessage", json!({"chat_id": true, "text": "x"})).await;
    assert_eq!(status, 400);
    let (status, _) = post_json(&tg, "sendMessage", json!({"chat_id": 7, "text": "x", "disable_notification": "maybe"})).await;
    assert_eq!(status, 400);
    let (status, _) = http(&tg, "POST", &format!("/bot{token}/sendMessage"), Some("application/json"), b"{oops").await;
    assert_eq!(status, 400);

    // urlencoded body, query string, JSON with the chat id as a string
    let (status, body) = http(
        &tg,
        "POST",
        &format!("/bot{token}/sendMessage"),
        Some("application/x-www-form-urlencoded"),
        b"chat_id=7&text=hi+there%21",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&tg, "GET", &format!("/bot{token}/sendMessage?chat_id=7&text=from%20query"), None, b"").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post_json(&tg, "sendMessage", json!({"chat_id": "7", "text": "json"})).await;
    assert_eq!(status, 200);
    let texts: Vec<_> = tg.sent().into_iter().filter_map(|s| s.text).collect();
    assert_eq!(texts, ["hi there!", "from query", "json"]);

    // multipart: a file part named `video`, then a `video` string with the file_id
    let (ct, body) = multipart(&[("chat_id", None, b"7"), ("video", Some("v.mp4"), &tiny_mp4())]);
    let (status, resp) = http(&tg, "POST", &format!("/bot{token}/sendVideo"), Some(&ct), &body).await;
    assert_eq!(status, 200, "{resp}");
    let resp: Value = serde_json::from_str(&resp).unwrap();
    let file_id = resp["result"]["video"]["file_id"].as_str().unwrap().to_owned();
    assert_eq!(resp["result"]["video"]["file_name"], "v.mp4");
    let (ct, body) = multipart(&[("chat_id", None, b"7"), ("video", None, file_id.as_bytes())]);
    let (status, resp) = http(&tg, "POST", &format!("/bot{token}/sendVideo"), Some(&ct), &body).await;
    assert_eq!(status, 200, "{resp}");
    let (ct, body) = multipart(&[("chat_id", None, b"7"), ("video", Some("v.mp4"), b"")]);
    let (status, resp) = http(&tg, "POST", &format!("/bot{token}/sendVideo"), Some(&ct), &body).await;
    assert_eq!(status, 400, "{resp}");
    let (ct, body) = multipart(&[("chat_id", None, b"7")]);
    let (status, resp) = http(&tg, "POST", &format!("/bot{token}/sendVideo"), Some(&ct), &body).await;
    assert_eq!((status, resp.contains("there is no video in the request")), (400, true), "{resp}");
    // sendVideo with a JSON body and a file_id
    let (status, _) = post_json(&tg, "sendVideo", json!({"chat_id": 7, "video": file_id})).await;
    assert_eq!(status, 200);
    let (status, body) = post_json(&tg, "sendVideo", json!({"chat_id": 7, "video": "AAAAforeign"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: wrong file identifier/HTTP URL specified");
    assert_eq!(tg.uploads(), 1);
}

#[tokio::test]
async fn parse_mode_markup_is_checked() {
    let tg = fake_with(unlimited()).await;
    let bot = bot(&tg);
    tg.push_text(7, 7, "hi");
    let e = api_error(bot.send_message(ChatId(7), "Done.").parse_mode(ParseMode::MarkdownV2).await);
    assert!(matches!(e, ApiError::CantParseEntities(_)), "{e:?}");
    let ok = bot.send_message(ChatId(7), "*Done*\\.").parse_mode(ParseMode::MarkdownV2).await.unwrap();
    assert_eq!(ok.text(), Some("Done."));
    let e = api_error(bot.send_message(ChatId(7), "1 < 2").parse_mode(ParseMode::Html).await);
    assert!(matches!(e, ApiError::CantParseEntities(_)), "{e:?}");
    bot.send_message(ChatId(7), "<b>1 &lt; 2</b>").parse_mode(ParseMode::Html).await.unwrap();
    let sent = tg.sent();
    assert_eq!(sent[1].text.as_deref(), Some("1 < 2"));
    assert_eq!(sent[1].raw_text.as_deref(), Some("<b>1 &lt; 2</b>"));
    assert_eq!(api_error(bot.send_message(ChatId(7), "  ").await), ApiError::MessageTextIsEmpty);
    assert_eq!(api_error(bot.send_message(ChatId(7), "x".repeat(4097)).await), ApiError::MessageIsTooLong);
}

#[tokio::test]
async fn edit_reply_and_keyboard() {
    let tg = fake_with(unlimited()).await;
    let bot = bot(&tg);
    let user_msg = tg.push_text(7, 7, "make a video");
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("again", "regen:1")]]);
    let msg = bot
        .send_message(ChatId(7), "working")
        .reply_parameters(ReplyParameters::new(MessageId(user_msg as i32)))
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    assert!(msg.reply_markup().is_some());
    assert!(tg.sent()[0].has_reply_markup);

    let e = api_error(bot.send_message(ChatId(7), "x").reply_parameters(ReplyParameters::new(MessageId(9999))).await);
    assert_eq!(e, ApiError::MessageToReplyNotFound);
    let long = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("x", "y".repeat(65))]]);
    assert_eq!(api_error(bot.send_message(ChatId(7), "x").reply_markup(long).await), ApiError::ButtonDataInvalid);

    let edited = bot.edit_message_text(ChatId(7), msg.id, "done").reply_markup(keyboard.clone()).await.unwrap();
    assert_eq!(edited.text(), Some("done"));
    let e = api_error(bot.edit_message_text(ChatId(7), msg.id, "done").reply_markup(keyboard).await);
    assert_eq!(e, ApiError::MessageNotModified);
    // dropping the keyboard is a modification
    bot.edit_message_text(ChatId(7), msg.id, "done").await.unwrap();
    let e = api_error(bot.edit_message_text(ChatId(7), MessageId(4242), "x").await);
    assert_eq!(e, ApiError::MessageToEditNotFound);
    let e = api_error(bot.edit_message_text(ChatId(7), MessageId(user_msg as i32), "x").await);
    assert_eq!(e, ApiError::MessageCantBeEdited);

    let sent = tg.sent();
    let methods: Vec<_> = sent.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["sendMessage", "editMessageText", "editMessageText"]);
    assert_eq!(sent[1].message_id, i64::from(msg.id.0));
    assert_eq!(tg.calls("editMessageText"), 5);
}

#[tokio::test]
async fn edits_count_towards_the_chat_burst() {
    let tg = fake().await;
    let bot = bot(&tg);
    tg.push_text(7, 7, "hi");
    let msg = bot.send_message(ChatId(7), "0%").await.unwrap();
    bot.edit_message_text(ChatId(7), msg.id, "50%").await.unwrap();
    bot.edit_message_text(ChatId(7), msg.id, "90%").await.unwrap();
    let r = bot.edit_message_text(ChatId(7), msg.id, "100%").await;
    assert!(matches!(r, Err(RequestError::RetryAfter(_))), "{r:?}");
    assert_eq!(tg.sent().len(), 3);
}

#[tokio::test]
async fn server_errors_are_reproducible() {
    let tg = fake_with(unlimited()).await;
    tg.push_text(7, 7, "hi");
    let faults = Faults { error_5xx_rate: 0.5, seed: 42, ..Default::default() };
    let mut runs = Vec::new();
    for _ in 0..2 {
        tg.set_faults(faults.clone());
        let mut statuses = Vec::new();
        for _ in 0..24 {
            let (status, _) = post_json(&tg, "sendMessage", json!({"chat_id": 7, "text": "x"})).await;
            statuses.push(status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let ok = runs[0].iter().filter(|s| **s == 200).count();
    assert!(ok > 0 && ok < 24, "{:?}", runs[0]);
    assert!(runs[0].iter().all(|s| [200, 500, 502].contains(s)));
    assert_eq!(tg.sent().len(), 2 * ok);

    // getUpdates is only affected by its own switch
    let (status, _) = post_json(&tg, "getUpdates", json!({})).await;
    assert_eq!(status, 200);
    tg.set_faults(Faults { fail_get_updates_rate: 1.0, ..Default::default() });
    let (status, _) = post_json(&tg, "getUpdates", json!({})).await;
    assert!(status == 500 || status == 502);
}

#[tokio::test]
async fn timeout_fault_breaks_the_connection() {
    let tg = fake().await;
    let bot = bot(&tg);
    tg.push_text(7, 7, "hi");
    tg.set_faults(Faults { timeout_rate: 1.0, hang: Duration::from_millis(50), ..Default::default() });
    let r = bot.send_message(ChatId(7), "lost").await;
    assert!(matches!(r, Err(RequestError::Network(_))), "{r:?}");
    assert!(tg.sent().is_empty());

    tg.set_faults(Faults { timeout_rate: 1.0, hang: Duration::from_millis(50), timeout_delivers: true, ..Default::default() });
    let msg = bot.send_message(ChatId(7), "late").await.unwrap();
    assert_eq!(msg.text(), Some("late"));
    assert_eq!(tg.sent().len(), 1);
}

#[tokio::test]
async fn webhook_and_commands() {
    let tg = fake().await;
    let bot = bot(&tg);
    assert!(bot.get_webhook_info().await.unwrap().url.is_none());
    let e = api_error(bot.set_webhook(url::Url::parse("http://example.com/hook").unwrap()).await);
    assert_eq!(e, ApiError::WebhookRequireHttps);
    bot.set_webhook(url::Url::parse("https://example.com/hook").unwrap()).secret_token("s3cr-et_").await.unwrap();
    assert_eq!(tg.webhook(), Some(("https://example.com/hook".into(), Some("s3cr-et_".into()))));
    assert!(bot.get_webhook_info().await.unwrap().url.is_some());
    assert!(bot.get_updates().await.is_err(), "getUpdates conflicts with a webhook");
    bot.delete_webhook().await.unwrap();
    assert_eq!(tg.webhook(), None);
    assert!(bot.get_updates().await.unwrap().is_empty());

    bot.set_my_commands([teloxide::types::BotCommand::new("start", "Start the bot")]).await.unwrap();
    assert_eq!(tg.my_commands().unwrap()[0]["command"], "start");
    let bad = bot.set_my_commands([teloxide::types::BotCommand::new("Bad Cmd", "x")]).await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn wait_for_wakes_on_sends() {
    let tg = fake().await;
    tg.push_text(7, 7, "hi");
    assert!(!tg.wait_for(|s| !s.is_empty(), Duration::from_millis(20)).await);
    let sender = {
        let bot = bot(&tg);
        tokio::spawn(async move { bot.send_message(ChatId(7), "ping").await.unwrap() })
    };
    assert!(tg.wait_for(|s| s.iter().any(|s| s.text.as_deref() == Some("ping")), WAIT).await);
    sender.await.unwrap();
}
