//! Black-box tests of `/settings` and the menu, against the real binary and
//! the fake Bot API: the settings screen shows the user's choices on three
//! rows of buttons with the chosen ones marked; a press is answered, stored
//! (only for the presser) and shown in place; the next request is made with
//! the new choices (a different asset, generated once), and the choices
//! survive a restart; DEFAULT_FORMAT sets new users' format; with credits
//! on the screen shows what videos cost and a Quality request is charged
//! the extra; "🏠 Menu" sits next to ➕ under every video and opens the menu.

use crate::support;

use std::time::Duration;

use crate::support::{Harness, eventually, texts_to};
use fakes::telegram::Sent;
use vidcache::db::{choices, credits};
use vidcache::domain::{Choices, Format, Quality, UserId};

const WAIT: Duration = Duration::from_secs(60);

/// The rows of an inline keyboard, as labels.
fn rows(sent: &Sent) -> Vec<Vec<String>> {
    let Some(markup) = sent.reply_markup.as_ref() else { return Vec::new() };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| row.as_array().into_iter().flatten().map(|b| b["text"].as_str().unwrap_or_default().to_owned()).collect())
        .collect()
}

/// Messages sent to `chat` (sendMessage) whose text starts with `prefix`.
fn messages_starting(sent: &[Sent], chat: i64, prefix: &str) -> Vec<Sent> {
    sent.iter()
        .filter(|s| s.chat_id == chat && s.method == "sendMessage")
        .filter(|s| s.text.as_deref().is_some_and(|t| t.starts_with(prefix)))
        .cloned()
        .collect()
}

/// Waits for the `nth` message to `chat` starting with `prefix`.
async fn message_starting(h: &Harness, chat: i64, prefix: &str, nth: usize) -> Sent {
    let p = prefix.to_owned();
    let ok = h.fake.wait_for(move |sent| messages_starting(sent, chat, &p).len() > nth, WAIT).await;
    assert!(ok, "chat {chat} never got message #{nth} starting {prefix:?}: {:?}\n{}", h.fake.sent_to(chat), h.logs());
    messages_starting(&h.fake.sent(), chat, prefix).swap_remove(nth)
}

/// The callback data of the button of `sent` whose label is `label` (✅ or not).
fn data_of(sent: &Sent, label: &str) -> String {
    let all = support::buttons(sent);
    all.iter()
        .find(|(text, _)| text.trim_start_matches("✅ ") == label)
        .map(|(_, data)| data.clone())
        .unwrap_or_else(|| panic!("no button {label:?} in {all:?}"))
}

/// The edits (editMessageText) of message `message_id` in `chat`.
fn edits_of(h: &Harness, chat: i64, message_id: i64) -> Vec<Sent> {
    h.fake
        .sent()
        .into_iter()
        .filter(|s| s.chat_id == chat && s.message_id == message_id && s.method == "editMessageText")
        .collect()
}

/// The labels of the settings screen `sent`, asserting its three rows.
fn settings_rows(sent: &Sent) -> Vec<Vec<String>> {
    let rows = rows(sent);
    assert_eq!(rows.len(), 3, "three rows (quality, format, length): {rows:?}");
    rows
}

/// `user`'s stored choices, `defaults` when they have none.
async fn choices_of(h: &Harness, user: i64, defaults: Choices) -> Choices {
    choices::of(&h.db().await, UserId(user), defaults).await.expect("choices")
}

/// Asserts that a video carries one row: ➕ and 🏠 Menu (`m:`).
fn assert_video_buttons(video: &Sent, menu_label: &str) {
    let rows = rows(video);
    assert_eq!(rows.len(), 1, "one row under the video: {rows:?}");
    assert_eq!(rows[0].len(), 2, "➕ and 🏠 side by side: {rows:?}");
    assert!(rows[0][0].starts_with('➕'), "{rows:?}");
    assert_eq!(rows[0][1], menu_label, "{rows:?}");
    assert_eq!(support::buttons(video)[1].1, "m:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_chosen_in_settings_makes_its_own_video_once_and_survives_a_restart() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let user = 501;

    // the defaults, marked
    h.fake.push_text(user, user, "/settings");
    let screen = message_starting(&h, user, "⚙️", 0).await;
    assert_eq!(settings_rows(&screen), [["✅ Fast", "Quality"], ["✅ 16:9", "9:16"], ["✅ Short", "Long"]], "{:?}", screen.text);
    let text = screen.text.clone().unwrap_or_default();
    assert!(text.contains("Fast") && text.contains("16:9") && text.contains("Short"), "{text}");
    assert!(!text.contains("credit"), "no prices while credits are off: {text}");
    assert_eq!(data_of(&screen, "9:16"), "s:f9:16");

    // the prompt in 16:9
    h.fake.push_text(user, user, "A lighthouse at dusk");
    let landscape = h.video_message(user, 0).await;
    assert!(landscape.uploaded);

    // 9:16 pressed: stored, answered, shown in place
    let notice = h.press(user, user, screen.message_id, "s:f9:16").await;
    assert!(notice.as_deref().is_some_and(|n| n.contains("9:16")), "{notice:?}");
    let edited = {
        let ok = eventually(Duration::from_secs(10), || async { !edits_of(&h, user, screen.message_id).is_empty() }).await;
        assert!(ok, "the settings message was not edited: {:?}\n{}", h.fake.sent_to(user), h.logs());
        edits_of(&h, user, screen.message_id).pop().expect("an edit")
    };
    assert_eq!(settings_rows(&edited), [["✅ Fast", "Quality"], ["16:9", "✅ 9:16"], ["✅ Short", "Long"]]);
    assert!(edited.text.as_deref().is_some_and(|t| t.contains("9:16")), "{edited:?}");
    assert_eq!(choices_of(&h, user, Choices::default()).await.format, Format::Portrait);

    // the same prompt now: another asset, in 9:16, generated once
    h.fake.push_text(user, user, "A lighthouse at dusk");
    let portrait = h.video_message(user, 1).await;
    assert!(portrait.uploaded, "a new video, not the 16:9 one");
    assert_ne!(portrait.video_file_id, landscape.video_file_id);
    let assets = h.assets().await;
    assert_eq!(assets.len(), 2, "two assets for one prompt");
    let formats: Vec<Format> = assets.iter().map(|a| a.format).collect();
    assert!(formats.contains(&Format::Landscape) && formats.contains(&Format::Portrait), "{formats:?}");
    assert_eq!(h.jobs().await, 2, "two generations");

    // and again in 9:16: a cache hit
    h.fake.push_text(user, user, "a lighthouse   AT DUSK");
    let again = h.video_message(user, 2).await;
    assert_eq!(again.video_file_id, portrait.video_file_id);
    assert!(!again.uploaded);
    assert_eq!(h.jobs().await, 2, "no third generation");
    assert_eq!(h.fake.uploads(), 2);
    for video in [&landscape, &portrait, &again] {
        assert_video_buttons(video, "🏠 Menu");
    }

    // the choice survives a restart
    service.terminate().await;
    let service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(user, user, "/settings");
    let screen = message_starting(&h, user, "⚙️", 1).await;
    assert_eq!(settings_rows(&screen)[1], ["16:9", "✅ 9:16"]);
    h.fake.push_text(user, user, "A second lighthouse");
    h.video_message(user, 3).await;
    let assets = h.assets().await;
    assert_eq!(assets.len(), 3);
    assert_eq!(assets.iter().filter(|a| a.format == Format::Portrait).count(), 2, "the new request is made in 9:16");
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_button_is_under_every_video_and_opens_the_menu() {
    let h = Harness::new().await;
    let service = h.spawn();
    h.wait_polling().await;
    let (alice, bob) = (601, 602);

    h.fake.push_text(alice, alice, "Fireworks over a lake");
    let uploaded = h.video_message(alice, 0).await;
    assert!(uploaded.uploaded);
    h.fake.push_text(bob, bob, "fireworks over a LAKE");
    let hit = h.video_message(bob, 0).await;
    assert!(!hit.uploaded, "a cache hit");
    assert_video_buttons(&uploaded, "🏠 Menu");
    assert_video_buttons(&hit, "🏠 Menu");
    let recorded =
        eventually(WAIT, || async { h.requests().await.iter().all(|r| r.status == vidcache::domain::RequestStatus::Completed) })
            .await;
    assert!(recorded);

    // 🏠 under the video: the menu, without 💰 while credits are off
    assert_eq!(h.press(bob, bob, hit.message_id, "m:").await, None);
    let menu = message_starting(&h, bob, "🏠", 0).await;
    assert_eq!(rows(&menu), [vec!["🎬 New video", "⚙️ Settings"], vec!["📜 History"]]);

    // 🎬: a hint on what to send
    let hint = h.press(bob, bob, menu.message_id, &data_of(&menu, "🎬 New video")).await;
    assert!(hint.as_deref().is_some_and(|t| t.contains("voice message") && t.contains("photo")), "{hint:?}");
    assert!(message_starting(&h, bob, "🎬", 0).await.text.is_some_and(|t| t.contains("voice message")));

    // ⚙️: the settings screen
    h.press(bob, bob, menu.message_id, &data_of(&menu, "⚙️ Settings")).await;
    let screen = message_starting(&h, bob, "⚙️", 0).await;
    assert_eq!(settings_rows(&screen)[0], ["✅ Fast", "Quality"]);

    // 📜: as /history, and the video sent again carries 🏠 too
    h.press(bob, bob, menu.message_id, &data_of(&menu, "📜 History")).await;
    let history = message_starting(&h, bob, "🎞", 0).await;
    let (_, again) = support::buttons(&history).into_iter().next().expect("a history button");
    h.press(bob, bob, history.message_id, &again).await;
    let resent = h.video_message(bob, 1).await;
    assert_eq!(resent.video_file_id, hit.video_file_id);
    assert_video_buttons(&resent, "🏠 Menu");

    // /menu: the same menu
    h.fake.push_text(alice, alice, "/menu");
    let menu = message_starting(&h, alice, "🏠", 0).await;
    assert_eq!(rows(&menu).concat().len(), 3, "{:?}", rows(&menu));

    // /help names /settings and /menu; ⚙️ is on the reply keyboard and opens the settings
    h.fake.push_text(alice, alice, "/help");
    let help = message_starting(&h, alice, "🎬 I turn", 0).await;
    let text = help.text.clone().unwrap_or_default();
    assert!(text.contains("/settings") && text.contains("/menu"), "{text}");
    let keyboard = help.reply_markup.clone().expect("the reply keyboard");
    assert!(keyboard["keyboard"].to_string().contains("⚙️ Settings"), "{keyboard}");
    h.fake.push_text(alice, alice, "⚙️ Settings");
    message_starting(&h, alice, "⚙️", 0).await;
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_format_forged_presses_and_russian_labels() {
    let mut h = Harness::new().await;
    h.set("DEFAULT_FORMAT", "9:16");
    let service = h.spawn();
    h.wait_polling().await;
    let (alice, bob, masha) = (701, 702, 703);

    // a new user's requests are portrait, and /settings says so
    h.fake.push_text(alice, alice, "/settings");
    let screen = message_starting(&h, alice, "⚙️", 0).await;
    assert_eq!(settings_rows(&screen)[1], ["16:9", "✅ 9:16"]);
    h.fake.push_text(alice, alice, "A cat on a skateboard");
    let video = h.video_message(alice, 0).await;
    assert_eq!(h.assets().await[0].format, Format::Portrait);

    // ➕ names the format and quality the extension inherits
    h.press(alice, alice, video.message_id, &data_of(&video, "➕ Extend")).await;
    let ask = message_starting(&h, alice, "➕", 0).await.text.unwrap_or_default();
    assert!(ask.contains("“A cat on a skateboard” go on? (9:16, Fast)"), "{ask}");
    // 🎬 New video in the menu: the next text is a new video, not the continuation
    h.press(alice, alice, video.message_id, "m:").await;
    let menu = message_starting(&h, alice, "🏠", 0).await;
    h.press(alice, alice, menu.message_id, "m:new").await;

    // bob's forged press on alice's settings message changes bob's choices only
    let edits = edits_of(&h, alice, screen.message_id).len();
    let notice = h.press(bob, alice, screen.message_id, "s:f16:9").await;
    assert!(notice.is_some(), "answered with a confirmation");
    let portrait = Choices { format: Format::Portrait, ..Choices::default() };
    assert_eq!(choices_of(&h, bob, portrait).await.format, Format::Landscape, "bob's own choice is stored");
    assert_eq!(choices_of(&h, alice, portrait).await, portrait, "alice's choices did not change");
    let press_quality = h.press(bob, alice, screen.message_id, "s:qquality").await;
    assert!(press_quality.is_some());
    assert_eq!(edits_of(&h, alice, screen.message_id).len(), edits, "alice's message shows alice's choices, untouched");
    h.fake.push_text(alice, alice, "A dog on a skateboard");
    h.video_message(alice, 1).await;
    h.fake.push_text(bob, bob, "A dog on a skateboard");
    h.video_message(bob, 0).await;
    let assets = h.assets().await;
    let dog: Vec<_> = assets.iter().filter(|a| a.typed() == "A dog on a skateboard").collect();
    assert_eq!(dog.len(), 2, "alice's and bob's recipes differ: {dog:?}");
    assert!(dog.iter().all(|a| a.parent_id.is_none()), "new videos, not extensions: {dog:?}");
    assert!(dog.iter().any(|a| a.format == Format::Portrait && a.quality == Quality::Fast), "{dog:?}");
    assert!(dog.iter().any(|a| a.format == Format::Landscape && a.quality == Quality::Quality), "{dog:?}");

    // a Russian user reads Russian labels
    h.fake.set_user_language(masha, Some("ru"));
    h.fake.push_text(masha, masha, "/settings");
    let screen = message_starting(&h, masha, "⚙️", 0).await;
    assert_eq!(settings_rows(&screen), [["✅ Быстро", "Качество"], ["16:9", "✅ 9:16"], ["✅ Коротко", "Длинно"]]);
    let notice = h.press(masha, masha, screen.message_id, &data_of(&screen, "Длинно")).await;
    assert!(notice.as_deref().is_some_and(|n| n.contains("Длинно")), "{notice:?}");
    h.fake.push_text(masha, masha, "/help");
    let help = message_starting(&h, masha, "🎬 Я", 0).await.text.unwrap_or_default();
    assert!(help.contains("/settings") && help.contains("/menu"), "{help}");
    h.fake.push_text(masha, masha, "Салют над рекой");
    let video = h.video_message(masha, 0).await;
    assert_video_buttons(&video, "🏠 Главное меню");
    h.press(masha, masha, video.message_id, "m:").await;
    let menu = message_starting(&h, masha, "🏠", 0).await;
    assert_eq!(rows(&menu), [vec!["🎬 Новое видео", "⚙️ Настройки"], vec!["📜 История"]]);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_credits_the_screen_shows_prices_and_quality_costs_the_extra() {
    let mut h = Harness::new().await;
    h.set("CREDITS", "on");
    h.set("PRICE_QUALITY_EXTRA", "5");
    let service = h.spawn();
    h.wait_polling().await;
    let user = 801;

    h.fake.push_text(user, user, "/settings");
    let screen = message_starting(&h, user, "⚙️", 0).await;
    let text = screen.text.clone().unwrap_or_default();
    assert!(text.contains("a new video costs 10 credits; one made before, 1 credit."), "{text}");

    assert!(h.press(user, user, screen.message_id, "s:qquality").await.is_some());
    let ok = eventually(Duration::from_secs(10), || async { !edits_of(&h, user, screen.message_id).is_empty() }).await;
    assert!(ok, "{:?}", h.fake.sent_to(user));
    let edited = edits_of(&h, user, screen.message_id).pop().expect("edit");
    let text = edited.text.clone().unwrap_or_default();
    assert!(text.contains("a new video costs 15 credits; one made before, 6 credits."), "{text}");
    assert_eq!(settings_rows(&edited)[0], ["Fast", "✅ Quality"]);

    h.fake.push_text(user, user, "A golden retriever surfing");
    h.video_message(user, 0).await;
    let db = h.db().await;
    let charged =
        eventually(WAIT, || async { credits::balance(&db, UserId(user)).await.expect("balance").unwrap_or_default() == 20 - 15 })
            .await;
    assert!(charged, "{:?}", credits::balance(&db, UserId(user)).await);
    assert_eq!(h.assets().await[0].quality, Quality::Quality);

    // the menu offers 💰, which answers as /balance
    h.fake.push_text(user, user, "/menu");
    let menu = message_starting(&h, user, "🏠", 0).await;
    assert_eq!(rows(&menu), [vec!["🎬 New video", "⚙️ Settings"], vec!["📜 History", "💰 Balance"]]);
    let before = texts_to(&h.fake.sent(), user).len();
    h.press(user, user, menu.message_id, &data_of(&menu, "💰 Balance")).await;
    let balance = h.text_for(user, before).await;
    assert!(balance.contains('5'), "{balance}");
    service.terminate().await;
}
