//! Black-box tests of the user's language: the real binary against the fake
//! Bot API, with users whose Telegram `language_code` differs.

use crate::support;

use std::time::Duration;

use crate::support::{ADMIN, Harness, frames, texts_to, videos_to};
use fakes::telegram::Faults;
use serde_json::Value;

fn has_cyrillic(text: &str) -> bool {
    text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

fn descriptions(commands: &Value) -> Vec<(String, String)> {
    commands
        .as_array()
        .expect("a command array")
        .iter()
        .map(|c| (c["command"].as_str().unwrap_or_default().to_owned(), c["description"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn captions_to(h: &Harness, chat: i64) -> Vec<String> {
    h.fake.sent_to(chat).into_iter().filter(|s| s.method == "sendVideo").filter_map(|s| s.caption).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_commands_and_menu_follow_the_users_language() {
    let mut h = Harness::new().await;
    h.set("DEFAULT_LANGUAGE", "ru");
    let service = h.spawn();
    h.wait_polling().await;

    // Commands: one list per language code, and the default list in DEFAULT_LANGUAGE.
    let ok = h
        .fake
        .wait_until(
            |f| ["ru", "uk", "be", "en"].iter().all(|c| f.my_commands_for(c).is_some()) && f.my_commands().is_some(),
            Duration::from_secs(10),
        )
        .await;
    assert!(ok, "commands registered per language\n{}", h.logs());
    let ru = descriptions(&h.fake.my_commands_for("ru").expect("ru"));
    let en = descriptions(&h.fake.my_commands_for("en").expect("en"));
    let default = descriptions(&h.fake.my_commands().expect("default"));
    let names = |list: &[(String, String)]| list.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ru), names(&en), "the same commands in both languages");
    assert!(ru.iter().all(|(_, d)| has_cyrillic(d)), "Russian descriptions: {ru:?}");
    assert!(en.iter().all(|(_, d)| !has_cyrillic(d)), "English descriptions: {en:?}");
    assert_eq!(default, ru, "DEFAULT_LANGUAGE=ru: the default list is Russian");
    assert_eq!(descriptions(&h.fake.my_commands_for("uk").expect("uk")), ru, "Ukrainian users get the Russian list");

    // /help by language_code: ru-RU, uk and be → Russian; en and de → English; none → DEFAULT_LANGUAGE.
    let cases: [(i64, Option<&str>, bool); 6] = [
        (101, Some("ru-RU"), true),
        (102, Some("uk"), true),
        (103, Some("be"), true),
        (104, Some("en"), false),
        (105, Some("de"), false),
        (106, None, true),
    ];
    for (user, code, _) in cases {
        h.fake.set_user_language(user, code);
        h.fake.push_text(user, user, "/help");
    }
    for (user, code, russian) in cases {
        let help = h.text_for(user, 0).await;
        if russian {
            assert!(help.contains("Я превращаю текст в короткое видео"), "{code:?}: {help}");
        } else {
            assert!(help.contains("I turn a text into a short video"), "{code:?}: {help}");
        }
    }
    // The help comes with the menu in the user's language, and both
    // languages' buttons are recognised.
    let menu = h.fake.sent_to(101).into_iter().find_map(|s| s.reply_markup).expect("a menu with the help");
    assert_eq!(menu["keyboard"][0][0]["text"], "📊 Статус", "{menu}");
    h.fake.push_text(101, 101, "📊 Статус");
    assert_eq!(h.text_for(101, 1).await, "Вы ещё не заказывали видео. Пришлите мне запрос!");
    h.fake.push_text(104, 104, "📊 Status");
    assert_eq!(h.text_for(104, 1).await, "You haven't asked for any video yet. Send me a prompt!");
    // A Russian speaker pressing an English button still gets a Russian answer.
    h.fake.push_text(102, 102, "❓ Help");
    assert!(h.text_for(102, 1).await.contains("Я превращаю текст"));
    h.fake.push_text(104, 104, "/nonsense");
    assert!(h.text_for(104, 2).await.starts_with("I don't know the command /nonsense"));
    h.fake.push_text(101, 101, "/nonsense");
    assert!(h.text_for(101, 2).await.starts_with("Я не знаю команду /nonsense"));

    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiter_gets_notes_and_the_caption_in_their_language_with_the_prompt_as_typed() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.set_user_language(201, Some("ru"));
    h.fake.set_user_language(202, Some("en-GB"));

    h.fake.push_text(201, 201, "  Поздравление для Маши с днём рождения ");
    h.fake.push_text(202, 202, "ПОЗДРАВЛЕНИЕ ДЛЯ МАШИ   С ДНЁМ РОЖДЕНИЯ");
    let note_ru = h.text_for(201, 0).await;
    let note_en = h.text_for(202, 0).await;
    assert!(note_ru.starts_with("⏳ Ваше видео создаётся"), "{note_ru}");
    assert!(note_en.starts_with("⏳ Your video is being made"), "{note_en}");

    let first = h.video_for(201, 0).await;
    let second = h.video_for(202, 0).await;
    assert_eq!(first, second, "one video for both variants");
    assert_eq!(h.fake.uploads(), 1);
    assert_eq!(captions_to(&h, 201), ["Поздравление для Маши с днём рождения"], "the prompt as typed, trimmed");
    assert_eq!(captions_to(&h, 202), ["ПОЗДРАВЛЕНИЕ ДЛЯ МАШИ   С ДНЁМ РОЖДЕНИЯ"]);

    // A cache hit is captioned as its own requester typed it too.
    h.fake.set_user_language(203, Some("ru"));
    h.fake.push_text(203, 203, "поздравление для маши с днём рождения");
    h.video_for(203, 0).await;
    assert_eq!(captions_to(&h, 203), ["поздравление для маши с днём рождения"]);

    // /status quotes the prompt as typed, in the user's language.
    h.fake.push_text(201, 201, "/status");
    let status = h.text_for(201, 1).await;
    assert!(status.contains("«Поздравление для Маши с днём рождения» — ✅ отправлено"), "{status}");

    // Failure notices: each waiter in their own language.
    h.fake.set_faults(Faults { reject_uploads: true, ..Default::default() });
    h.fake.push_text(201, 201, "Открытка для Пети");
    h.fake.push_text(202, 202, "открытка для пети");
    let told = h
        .fake
        .wait_for(
            |sent| {
                texts_to(sent, 201)
                    .iter()
                    .any(|t| t.starts_with("😞 Извините, не получилось сделать видео для «Открытка для Пети»"))
                    && texts_to(sent, 202)
                        .iter()
                        .any(|t| t.starts_with("😞 Sorry, I couldn't make the video for “открытка для пети”"))
            },
            Duration::from_secs(30),
        )
        .await;
    assert!(told, "201: {:?}\n202: {:?}\n{}", texts_to(&h.fake.sent(), 201), texts_to(&h.fake.sent(), 202), h.logs());
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_video_is_made_of_the_prompt_as_typed_and_keyed_by_the_normalized_one() {
    const CACHE_CHAT: i64 = 299;
    let mut h = Harness::new().await;
    h.set("CACHE_CHAT_ID", &CACHE_CHAT.to_string());
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let service = h.spawn();
    h.wait_polling().await;
    // the cache chat is known to the (fake) Telegram
    h.fake.push_text(CACHE_CHAT, CACHE_CHAT, "/start");
    h.text_for(CACHE_CHAT, 0).await;
    h.fake.set_user_language(211, Some("ru"));
    h.fake.push_text(211, 211, "  Поздравление для Маши ");
    let first = h.video_for(211, 0).await;
    assert_eq!(captions_to(&h, 211), ["Поздравление для Маши"], "the caption is the prompt as typed, not lower-cased");
    h.fake.push_text(212, 212, "поздравление  для маши");
    assert_eq!(h.video_for(212, 0).await, first, "the same video for the same normalized prompt");
    assert_eq!(captions_to(&h, 212), ["поздравление  для маши"]);
    assert_eq!(h.fake.uploads(), 1);
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.prompt, "поздравление для маши", "the key's text stays normalized");
    assert_eq!(asset.typed_prompt.as_deref(), Some("Поздравление для Маши"), "what the renderer drew");

    // Nobody waits by the time it is made: the cache chat's upload quotes
    // the text as its requester typed it.
    h.fake.push_text(213, 213, "Открытка для Пети");
    let making = support::eventually(Duration::from_secs(20), || async {
        h.assets().await.iter().any(|a| a.prompt == "открытка для пети" && a.status == vidcache::domain::AssetStatus::Generating)
    })
    .await;
    assert!(making, "the second prompt never started\n{}", h.logs());
    h.fake.push_text(213, 213, "/cancel");
    let ok = h.fake.wait_for(|sent| !videos_to(sent, CACHE_CHAT).is_empty(), Duration::from_secs(30)).await;
    assert!(ok, "nothing was uploaded to the cache chat\n{}", h.logs());
    assert_eq!(captions_to(&h, CACHE_CHAT), ["Открытка для Пети"]);
    assert!(videos_to(&h.fake.sent(), 213).is_empty());
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_a_cyrillic_prompts_video_shows_cyrillic() {
    if !frames::have_ffmpeg() {
        return;
    }
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let typed = "Поздравление для Маши с днём рождения";
    h.fake.set_user_language(221, Some("ru"));
    h.fake.push_text(221, 221, typed);
    let file_id = h.video_for(221, 0).await;
    // the bytes the bot uploaded to (the fake) Telegram
    let bytes = h.fake.file_bytes(&file_id).expect("the uploaded video's bytes");
    let dir = tempfile::tempdir().expect("temp dir");
    let sent_path = dir.path().join("sent.mp4");
    std::fs::write(&sent_path, &bytes).expect("write the video");
    const FRAME: u32 = 20;
    let sent = tokio::task::spawn_blocking(move || frames::grey_frame(&sent_path, FRAME)).await.expect("decode");

    let cyrillic = |c: char| ('\u{0400}'..='\u{04FF}').contains(&c);
    let questioned: String = typed.chars().map(|c| if cyrillic(c) { '?' } else { c }).collect();
    let lowered = typed.to_lowercase();
    let (same, questioned, lowered) = tokio::task::spawn_blocking(move || {
        (
            frames::rendered_frame(typed, FRAME),
            frames::rendered_frame(&questioned, FRAME),
            frames::rendered_frame(&lowered, FRAME),
        )
    })
    .await
    .expect("render");

    let shown = frames::text_mask(&sent);
    assert!(frames::lit(&shown) > 2_000, "the frame shows hardly any text: {} pixels", frames::lit(&shown));
    let to_same = frames::mask_difference(&shown, &frames::text_mask(&same));
    let to_questioned = frames::mask_difference(&shown, &frames::text_mask(&questioned));
    let to_lowered = frames::mask_difference(&shown, &frames::text_mask(&lowered));
    eprintln!("text mask difference: same text {to_same:.3}, Cyrillic as '?' {to_questioned:.3}, lower-cased {to_lowered:.3}");
    assert!(to_same < 0.05, "the frame is not the typed text's: {to_same:.3}");
    assert!(to_questioned > 0.5, "the frame looks like question marks: {to_questioned:.3}");
    assert!(to_lowered > 0.1, "the frame shows the lower-cased text: {to_lowered:.3}");
    service.terminate().await;
}

/// Inserts a failed asset and, for `user`, a failed request for it whose
/// user has not been told yet, stored with `reason` (a token, or the free
/// text of an older row) and the user's `language`.
async fn failed_request(
    db: &sea_orm::DatabaseConnection,
    user: i64,
    n: usize,
    prompt: &str,
    language: vidcache::domain::Lang,
    reason: &str,
) {
    use chrono::Utc;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, QueryFilter, Set};
    use vidcache::db::entities::{user_requests, video_assets};
    use vidcache::domain::{AssetStatus, ChatId, MessageId, Prompt, Recipe, RequestStatus, UserId, Wanted};

    let now = Utc::now();
    let asset = {
        let wanted = Wanted::new(Prompt::parse(prompt, 1000).expect("a prompt"), Recipe::default());
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, Some(prompt.to_owned()), now);
        row.status = Set(AssetStatus::Failed);
        row.dispatched_generation = Set(1);
        row.attempts = Set(1);
        row.stage = Set(None);
        row
    }
    .insert(db)
    .await
    .expect("asset row");
    let request = user_requests::ActiveModel {
        id: NotSet,
        telegram_user_id: Set(UserId(user)),
        chat_id: Set(ChatId(user)),
        message_id: Set(MessageId(1000 + i64::try_from(n).unwrap_or_default())),
        raw_text: Set(prompt.to_owned()),
        asset_id: Set(asset.id),
        status: Set(RequestStatus::Failed),
        error: Set(None),
        claimed_until: Set(None),
        created_at: Set(now + chrono::Duration::milliseconds(i64::try_from(n).unwrap_or_default())),
        updated_at: Set(now),
        delivered_at: Set(None),
        notified_at: Set(None),
        progress_message_id: Set(None),
        paid_broadcast: Set(false),
        price: Set(0),
        hold: Set(None),
        limited: Set(false),
        language: Set(language),
        thread_id: Set(None),
    }
    .insert(db)
    .await
    .expect("request row");
    // the reason as stored text, exactly as a row of this or an older version holds it
    for (table, id) in [("asset", asset.id.0), ("request", request.id.0)] {
        let updated = match table {
            "asset" => {
                video_assets::Entity::update_many()
                    .col_expr(video_assets::Column::LastError, Expr::value(reason))
                    .filter(video_assets::Column::Id.eq(id))
                    .exec(db)
                    .await
            }
            _ => {
                user_requests::Entity::update_many()
                    .col_expr(user_requests::Column::Error, Expr::value(reason))
                    .filter(user_requests::Column::Id.eq(id))
                    .exec(db)
                    .await
            }
        };
        updated.expect("reason stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_reason_reaches_each_user_in_their_language() {
    use vidcache::domain::{Failure, Lang};

    let mut h = Harness::new().await;
    h.set("JOB_LEASE_SECS", "2");
    let service = h.spawn();
    h.wait_polling().await;
    // every kind, and two rows of an older version (free English text)
    let mut reasons: Vec<(String, Failure)> = Failure::examples().into_iter().map(|f| (f.to_string(), f)).collect();
    let legacy_refusal = "the generator refused the prompt (SAFETY.INPUT.TEXT)";
    let legacy_other = "Telegram refused the upload (Bad Request: wrong file type)";
    reasons.push((legacy_refusal.to_owned(), Failure::Refused(vidcache::domain::RefusalReason::provider("SAFETY.INPUT.TEXT"))));
    reasons.push((legacy_other.to_owned(), Failure::Other(legacy_other.to_owned())));
    // /status lists ten requests: the reasons are shared between two users per language
    let half = reasons.len().div_ceil(2);
    let users = [(301, Lang::Ru, "ru"), (302, Lang::Ru, "ru"), (303, Lang::En, "en"), (304, Lang::En, "en")];
    for (user, _, code) in users {
        h.fake.set_user_language(user, Some(code));
        h.fake.push_text(user, user, "/start");
        h.text_for(user, 0).await;
    }
    let db = h.db().await;
    let mut expected: Vec<(i64, Lang, String, Failure)> = Vec::new();
    for (i, (stored, failure)) in reasons.iter().enumerate() {
        for (user, lang, _) in users {
            let first_half = matches!(user, 301 | 303);
            if (i < half) != first_half {
                continue;
            }
            let prompt = format!("{} {i} {user}", if lang == Lang::Ru { "Открытка" } else { "Card" });
            failed_request(&db, user, i, &prompt, lang, stored).await;
            expected.push((user, lang, prompt, failure.clone()));
        }
    }
    // the reconciler tells every user, in the language of their request
    for (user, lang, prompt, failure) in &expected {
        let (user, reason) = (*user, lang.texts().failure(failure));
        let notice = lang.texts().generation_failed(prompt, failure);
        let probe = notice.clone();
        let told = h.fake.wait_for(move |s| texts_to(s, user).contains(&probe), Duration::from_secs(30)).await;
        assert!(told, "{user} was not told {notice:?}; got {:?}\n{}", texts_to(&h.fake.sent(), user), h.logs());
        match lang {
            Lang::Ru => {
                assert!(has_cyrillic(&reason), "{reason}");
                assert!(notice.starts_with("😞 Извините"), "{notice}");
            }
            Lang::En => assert!(!has_cyrillic(&notice), "{notice}"),
        }
        if let Some(detail) = failure.detail() {
            assert!(!notice.contains(detail), "the operator's detail reached {user}: {notice}");
        }
    }
    // the exact Russian words of a few, as a person reads them
    let ru_texts: Vec<String> = [301, 302].into_iter().flat_map(|u| texts_to(&h.fake.sent(), u)).collect();
    for words in
        ["его отклонили при одобрении", "его никто не одобрил вовремя", "ничего не вышло за 3 попытки", "что-то пошло не так"]
    {
        assert!(ru_texts.iter().any(|t| t.contains(words)), "no Russian notice says {words:?}: {ru_texts:#?}");
    }
    assert!(!ru_texts.iter().any(|t| t.contains("rejected") || t.contains("no answer in time") || t.contains("attempts")));

    // /status: each failed line in the user's language, the detail nowhere
    for (user, lang, _) in users {
        h.fake.push_text(user, user, "/status");
        let header = lang.texts().status_header();
        let probe = header.clone();
        let ok = h.fake.wait_for(move |s| texts_to(s, user).iter().any(|t| t.starts_with(&probe)), Duration::from_secs(10)).await;
        assert!(ok, "/status of {user}: {:?}", texts_to(&h.fake.sent(), user));
        let status = texts_to(&h.fake.sent(), user).into_iter().rev().find(|t| t.starts_with(&header)).unwrap_or_default();
        let mine: Vec<_> = expected.iter().filter(|(u, ..)| *u == user).collect();
        assert!(!mine.is_empty());
        for (_, lang, prompt, failure) in mine {
            let failed = match lang {
                Lang::Ru => format!("• «{prompt}» — ❌ не удалось: {}", lang.texts().failure(failure)),
                Lang::En => format!("• “{prompt}” — ❌ failed: {}", lang.texts().failure(failure)),
            };
            assert!(status.lines().any(|l| l == failed), "{user}'s /status lacks {failed:?}:\n{status}");
            if let Some(detail) = failure.detail() {
                assert!(!status.contains(detail), "{status}");
            }
        }
        if lang == Lang::Ru {
            assert!(!status.contains("rejected") && !status.contains("failed"), "{status}");
        }
    }

    // an operator's /status <prompt> shows the stored detail of an old row
    h.fake.push_text(ADMIN, ADMIN, "/start");
    h.text_for(ADMIN, 0).await;
    let (_, _, legacy_prompt, _) = expected.iter().find(|(.., f)| *f == Failure::Other(legacy_other.to_owned())).expect("legacy");
    h.fake.push_text(ADMIN, ADMIN, &format!("/status {legacy_prompt}"));
    let ok = h
        .fake
        .wait_for(
            move |s| texts_to(s, ADMIN).iter().any(|t| t.contains(&format!("[error: {legacy_other}]"))),
            Duration::from_secs(10),
        )
        .await;
    assert!(ok, "the operator's report: {:?}", texts_to(&h.fake.sent(), ADMIN));
    service.kill9().await;
}
