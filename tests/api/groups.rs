//! Group chats and forum topics (issue #25, parts 2 and 3), black-box
//! against the fake Telegram: the bot answers only what is addressed to it,
//! in the asker's topic, one video per group from one generation; a chat
//! that can't be written to, or that is flood-limited, never fails or
//! stalls the others; anonymous admins are their chat, not a placeholder.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::{Harness, eventually, videos_to};
use fakes::telegram::{Faults, Sent};
use vidcache::domain::{Failure, RequestStatus};

const BOT: &str = "vidcache_test_bot";
/// Telegram's placeholder sender of anonymous group admins' messages.
const GROUP_ANONYMOUS_BOT: i64 = 1_087_968_824;

fn to_chat(sent: &[Sent], chat: i64) -> Vec<Sent> {
    sent.iter().filter(|s| s.chat_id == chat).cloned().collect()
}

async fn recorded(h: &Harness, chat: i64, message: i64) -> bool {
    let message = vidcache::domain::MessageId(message);
    eventually(Duration::from_secs(20), || async {
        h.requests().await.iter().any(|r| r.chat_id.0 == chat && r.message_id == message)
    })
    .await
}

#[tokio::test]
async fn a_forum_topic_gets_one_video_from_one_generation_and_chatter_is_ignored() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let group = -100_500;
    h.fake.add_supergroup(group, "Friends", true);
    let _service = h.spawn();
    h.wait_polling().await;
    let topic = 7;
    let chatter = h.fake.push_group_text(11, group, Some(topic), "anyone up for lunch?");
    let other_bot = h.fake.push_group_text(11, group, Some(topic), "/video@otherbot a red fox in snow");
    let first = h.fake.push_group_text(11, group, Some(topic), &format!("/video@{BOT} A red fox in snow"));
    assert!(recorded(&h, group, first).await, "the /video@bot request was never recorded\n{}", h.logs());
    let second = h.fake.push_group_text(12, group, Some(topic), &format!("@{BOT} a red fox   in SNOW"));
    let general = h.fake.push_group_text(13, group, None, "/video a blue whale");
    // one video per prompt in the group: the fox in the topic, the whale in General
    let ok = h.fake.wait_for(|sent| videos_to(sent, group).len() >= 2, Duration::from_secs(30)).await;
    assert!(ok, "the group never got both videos: {:?}\n{}", to_chat(&h.fake.sent(), group), h.logs());
    // the second member's request is answered by the same video (delivered with it)
    let done = eventually(Duration::from_secs(10), || async {
        h.requests().await.iter().filter(|r| r.status == RequestStatus::Completed).count() == 3
    })
    .await;
    assert!(done, "not every asker's request completed: {:?}", h.requests().await);
    let sent = to_chat(&h.fake.sent(), group);
    let videos: Vec<&Sent> = sent.iter().filter(|s| s.method == "sendVideo").collect();
    assert_eq!(videos.len(), 2, "one video per prompt in the group: {videos:?}");
    let fox = videos.iter().find(|v| v.reply_to == Some(first)).expect("the fox answers the first asker");
    assert_eq!(fox.thread_id, Some(topic), "the fox goes to the askers' topic");
    let whale = videos.iter().find(|v| v.reply_to == Some(general)).expect("the whale answers its asker");
    assert_eq!(whale.thread_id, None, "General is addressed by leaving the thread out");
    assert_eq!(h.fake.uploads(), 2, "one upload per prompt");
    assert_eq!(h.jobs().await, 2, "one generation per prompt");
    assert_eq!(h.assets().await.len(), 2);
    // nothing answers the chatter or the other bot's command; every note is a reply in its topic
    for s in &sent {
        assert!(
            s.reply_to != Some(chatter) && s.reply_to != Some(other_bot),
            "answered what was not addressed to the bot: {s:?}"
        );
        assert!(s.reply_to == Some(first) || s.reply_to == Some(second) || s.reply_to == Some(general), "{s:?}");
        let expected = if s.reply_to == Some(general) { None } else { Some(topic) };
        assert_eq!(s.thread_id, expected, "{s:?}");
    }
    let notes = sent.iter().filter(|s| s.method == "sendMessage").count();
    assert!(notes <= 2, "at most one note per group and asset: {sent:?}");
    // a reply to the bot's own message is a prompt too
    let reply = h.fake.push_group_reply(14, group, Some(topic), fox.message_id, "a green frog on a leaf");
    let ok = h
        .fake
        .wait_for(move |sent| sent.iter().any(|s| s.method == "sendVideo" && s.reply_to == Some(reply)), Duration::from_secs(30))
        .await;
    assert!(ok, "a reply to the bot got no video\n{}", h.logs());
    let frog = h.fake.sent().into_iter().find(|s| s.method == "sendVideo" && s.reply_to == Some(reply)).expect("sent");
    assert_eq!(frog.thread_id, Some(topic));
    // /history in a group: a button to the private chat
    let history = h.fake.push_group_text(14, group, Some(topic), &format!("/history@{BOT}"));
    let ok = h.fake.wait_for(move |sent| sent.iter().any(|s| s.reply_to == Some(history)), Duration::from_secs(10)).await;
    assert!(ok, "/history in a group got no answer\n{}", h.logs());
    let answer = h.fake.sent().into_iter().find(|s| s.reply_to == Some(history)).expect("sent");
    let url = answer.reply_markup.as_ref().and_then(|m| m["inline_keyboard"][0][0]["url"].as_str()).map(str::to_owned);
    assert_eq!(url.as_deref(), Some(format!("https://t.me/{BOT}?start=history").as_str()), "{answer:?}");
    assert_eq!(answer.thread_id, Some(topic));
}

#[tokio::test]
async fn a_chat_without_rights_ends_alone_and_is_not_retried_by_every_pass() {
    without_rights(None).await;
}

#[tokio::test]
async fn a_chat_without_rights_ends_alone_on_postgres_too() {
    let Some(url) = support::postgres_database().await else { return };
    without_rights(Some(url)).await;
}

async fn without_rights(database_url: Option<String>) {
    let mut h = Harness::new().await;
    if let Some(url) = &database_url {
        h.set("DATABASE_URL", url);
    }
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let (first, late) = (-100_600, -100_601);
    let private = 31;
    h.fake.add_supergroup(first, "No rights", false);
    h.fake.add_supergroup(late, "No rights either", false);
    h.fake.set_faults(Faults { no_rights_chats: HashSet::from([first, late]), ..Faults::default() });
    let _service = h.spawn();
    h.wait_polling().await;
    // the first waiter (where the one upload goes) can't get videos
    let asked = h.fake.push_group_text(21, first, None, "/video a quiet harbor at dawn");
    assert!(recorded(&h, first, asked).await, "never recorded\n{}", h.logs());
    let mine = h.fake.push_text(private, private, "a quiet harbor at dawn");
    assert!(recorded(&h, private, mine).await);
    let asked_late = h.fake.push_group_text(22, late, None, "/video a quiet harbor at dawn");
    assert!(recorded(&h, late, asked_late).await);
    // the generation is not failed: the private chat gets the video
    h.video_for(private, 0).await;
    let ended = eventually(Duration::from_secs(20), || async {
        let requests = h.requests().await;
        [first, late].iter().all(|chat| {
            requests.iter().any(|r| {
                r.chat_id.0 == *chat
                    && r.status == RequestStatus::Failed
                    && matches!(&r.error, Some(Failure::Unreachable(why)) if why.contains("not enough rights"))
            })
        })
    })
    .await;
    assert!(ended, "the groups' requests did not end with the reason: {:?}\n{}", h.requests().await, h.logs());
    let assets = h.assets().await;
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].status, vidcache::domain::AssetStatus::Available, "the shared generation failed: {assets:?}");
    assert_eq!(h.jobs().await, 1);
    // several reconciler passes later (every 1.5 s here; a fan-out is swept after 6 s), still one refusal each
    tokio::time::sleep(Duration::from_secs(9)).await;
    for chat in [first, late] {
        let refused: Vec<(String, u16)> = h.fake.refused_sends(chat).into_iter().filter(|(m, _)| m == "sendVideo").collect();
        assert_eq!(refused.len(), 1, "chat {chat} was sent the video again and again: {refused:?}");
    }
    assert!(videos_to(&h.fake.sent(), first).is_empty());
}

#[tokio::test]
async fn a_flood_wait_in_one_chat_pauses_only_that_chat() {
    let h = Harness::new().await;
    let group = -100_700;
    h.fake.add_supergroup(group, "Busy", false);
    let _service = h.spawn();
    h.wait_polling().await;
    h.fake.push_text(41, 41, "a calm lake");
    h.video_for(41, 0).await;
    // the group answers 429 "retry after 5" for now
    h.fake.set_faults(Faults { flooded_chats: HashMap::from([(group, 5)]), ..Faults::default() });
    let asked = h.fake.push_group_text(51, group, None, "/video a calm lake");
    let flooded = h.fake.wait_until(|f| !f.refused_sends(group).is_empty(), Duration::from_secs(10)).await;
    assert!(flooded, "the group's send never came back 429 (asked {asked})\n{}", h.logs());
    // meanwhile everyone else is served at once
    let start = Instant::now();
    for user in [42, 43, 44] {
        h.fake.push_text(user, user, "a calm lake");
    }
    for user in [42, 43, 44] {
        h.video_for(user, 0).await;
    }
    let took = start.elapsed();
    eprintln!("three other chats served in {took:?} while the group waited out its 429 (retry after 5 s)");
    assert!(took < Duration::from_secs(3), "other chats waited {took:?} behind one chat's flood wait");
    h.fake.set_faults(Faults::default());
    h.video_for(group, 0).await;
    let refused = h.fake.refused_sends(group);
    assert!(refused.len() <= 2, "a 429 storm on the group: {refused:?}");
}

#[tokio::test]
async fn an_anonymous_admin_is_its_group_not_the_placeholder_user() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "2000");
    let (one, two) = (-100_800, -100_801);
    h.fake.add_supergroup(one, "One", false);
    h.fake.add_supergroup(two, "Two", false);
    let _service = h.spawn();
    h.wait_polling().await;
    let asked = h.fake.push_as_chat(one, one, "/video a secret garden");
    assert!(recorded(&h, one, asked).await, "never recorded\n{}", h.logs());
    let request = h.requests().await.into_iter().find(|r| r.chat_id.0 == one).expect("recorded");
    assert_eq!(request.telegram_user_id.0, one, "identified by its sender_chat");
    assert_ne!(request.telegram_user_id.0, GROUP_ANONYMOUS_BOT);
    // the other group's anonymous admin cancels nothing of the first's
    let cancel = h.fake.push_as_chat(two, two, "/cancel");
    let ok = h.fake.wait_for(move |sent| sent.iter().any(|s| s.reply_to == Some(cancel)), Duration::from_secs(10)).await;
    assert!(ok, "/cancel got no answer\n{}", h.logs());
    let answer = h.fake.sent().into_iter().find(|s| s.reply_to == Some(cancel)).expect("sent");
    assert!(answer.text.as_deref().is_some_and(|t| t.contains("nothing to cancel")), "{answer:?}");
    h.video_for(one, 0).await;
    let request = h.requests().await.into_iter().find(|r| r.chat_id.0 == one).expect("recorded");
    assert_eq!(request.status, RequestStatus::Completed);
}

#[tokio::test]
async fn a_group_upgraded_to_a_supergroup_is_followed() {
    let mut h = Harness::new().await;
    h.set("LOCAL_GENERATOR_DELAY_MS", "1500");
    let (old, new) = (-600, -100_900);
    h.fake.add_group(old, "Small");
    let _service = h.spawn();
    h.wait_polling().await;
    let asked = h.fake.push_group_text(61, old, None, "/video a tall lighthouse");
    assert!(recorded(&h, old, asked).await, "never recorded\n{}", h.logs());
    h.fake.migrate_group(old, new);
    h.video_for(new, 0).await;
    assert!(videos_to(&h.fake.sent(), old).is_empty());
    let done =
        eventually(Duration::from_secs(10), || async { h.requests().await.iter().any(|r| r.status == RequestStatus::Completed) })
            .await;
    assert!(done, "{:?}", h.requests().await);
}
