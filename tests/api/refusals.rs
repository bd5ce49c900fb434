//! Issue #24, parts 1, 2 and 4 (refusals): moderation before any paid
//! step, refusals remembered per asset key, and what they save — black-box
//! runs of the binary against the fake Telegram and the fake providers.
//!
//! Tests that make a video with the pipeline need ffmpeg (required in CI).

use crate::support;

use std::time::Duration;

use crate::support::{ADMIN, Harness, eventually, texts_to};
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, Fault, TaskKind, TaskOutcome};
use sea_orm::EntityTrait;
use vidcache::db::entities::{credit_accounts, refusals};
use vidcache::domain::{AssetStatus, Failure, RefusalSource, RequestStatus, Verdict};

/// Every paid endpoint of the fakes: none may be called for a refused prompt.
const PAID: [Endpoint; 6] = [
    Endpoint::Chat,
    Endpoint::Speech,
    Endpoint::TextToImage,
    Endpoint::ImageToVideo,
    Endpoint::VeoPredict,
    Endpoint::Transcription,
];

/// A harness whose service uses the pipeline against `fake` (two one-second
/// segments), with `vars` on top; `MODERATION` is left to its default.
async fn pipeline_harness(vars: &[(&str, &str)]) -> (Harness, FakeProviders) {
    let fake = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers start");
    let mut h = Harness::new().await;
    let extra = [
        ("GENERATOR", "pipeline".to_owned()),
        ("PIPELINE_SEGMENTS", "2".to_owned()),
        ("SEGMENT_SECONDS", "1".to_owned()),
        ("PROVIDER_HTTP_TIMEOUT_S", "10".to_owned()),
    ];
    for (name, value) in support::provider_env(&fake, &extra, vars) {
        h.set(&name, &value);
    }
    (h, fake)
}

fn paid_calls(fake: &FakeProviders) -> Vec<(Endpoint, usize)> {
    PAID.iter().map(|e| (*e, fake.calls(*e))).filter(|(_, n)| *n > 0).collect()
}

async fn told(h: &Harness, chat: i64, nth: usize) -> String {
    h.text_for(chat, nth).await
}

/// The refusal sent to `chat` (after a "being made" note, when the
/// refusal came from the worker's moderation or a provider).
async fn refusal_to(h: &Harness, chat: i64) -> String {
    let found =
        h.fake.wait_for(move |sent| texts_to(sent, chat).iter().any(|t| t.starts_with('😞')), Duration::from_secs(60)).await;
    assert!(found, "chat {chat} was never told of a refusal: {:?}\n{}", texts_to(&h.fake.sent(), chat), h.logs());
    texts_to(&h.fake.sent(), chat).into_iter().find(|t| t.starts_with('😞')).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_prompt_is_refused_with_its_categories_and_costs_nothing() {
    if !support::have_ffmpeg() {
        return;
    }
    let (mut h, fake) = pipeline_harness(&[]).await;
    h.set("CREDITS", "on");
    fake.flag_moderation("knife fight", &["violence", "harassment/threatening"]);
    h.fake.set_user_language(72, Some("ru"));
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(71, 71, "A knife fight in the rain");
    let answer = refusal_to(&h, 71).await;
    assert!(answer.contains("violence") && answer.contains("threats"), "the categories, in words: {answer}");
    assert!(!answer.contains("harassment/threatening"), "never the provider's names: {answer}");
    let db = h.db().await;
    let request = h.requests().await.pop().expect("the request is recorded");
    assert_eq!(request.status, RequestStatus::Failed);
    let Some(Failure::Refused(reason)) = request.error.clone() else { panic!("refused: {:?}", request.error) };
    assert_eq!(reason.source, RefusalSource::Moderation);
    assert_eq!(fake.calls(Endpoint::Moderation), 1);
    assert_eq!(paid_calls(&fake), vec![], "nothing paid for a flagged prompt\n{}", service.log_text());
    // the hold went back: the free credits are whole
    let whole = eventually(Duration::from_secs(10), || async {
        credit_accounts::Entity::find().all(&db).await.expect("accounts").iter().all(|a| a.balance == 20)
    })
    .await;
    assert!(whole, "a refusal costs nothing");
    // the request fits OpenAI's CreateModerationRequest: the model and the prompt, nothing else
    let body = fake.requests(Endpoint::Moderation).pop().expect("the moderation body");
    assert_eq!(body, serde_json::json!({"model": "omni-moderation-latest", "input": "A knife fight in the rain"}));

    // the same prompt again, from a Russian speaker: answered from memory, in Russian
    h.fake.push_text(72, 72, "a KNIFE fight in the  rain");
    let answer = told(&h, 72, 0).await;
    assert!(answer.contains("насилие") && answer.contains("угрозы"), "{answer}");
    assert_eq!(fake.calls(Endpoint::Moderation), 1, "a remembered refusal is not moderated again");
    assert_eq!(paid_calls(&fake), vec![]);
    let rows = refusals::Entity::find().all(&db).await.expect("refusals");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].verdict, rows[0].answered), (Verdict::Refused, 1));

    // /clear forgets it: the next request is moderated afresh
    h.fake.push_text(ADMIN, ADMIN, "/clear a knife fight in the rain");
    let cleared = told(&h, ADMIN, 0).await;
    assert!(cleared.contains("Cleared"), "{cleared}");
    h.fake.push_text(73, 73, "A knife fight in the rain");
    let answer = refusal_to(&h, 73).await;
    assert!(answer.contains("violence"), "{answer}");
    assert_eq!(fake.calls(Endpoint::Moderation), 2);
    assert_eq!(paid_calls(&fake), vec![]);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderation_outage_delays_the_request_and_nothing_is_spent_meanwhile() {
    if !support::have_ffmpeg() {
        return;
    }
    let (h, fake) = pipeline_harness(&[]).await;
    // every call fails for a while (each client retry included), then answers
    fake.fail_next(Endpoint::Moderation, Fault::ServerError, 8);
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(71, 71, "a calm lake at dawn");
    let video = h.video_for(71, 0).await;
    assert!(!video.is_empty());
    let moderations = fake.call_log(Endpoint::Moderation);
    assert!(moderations.len() >= 9, "asked until it answered: {moderations:?}");
    assert!(moderations.iter().filter(|c| c.status == 500).count() == 8);
    let answered = moderations.iter().find(|c| c.status == 200).expect("moderation answered at last");
    let first_paid = fake.call_log(Endpoint::Chat).first().cloned().expect("the script was written");
    assert!(first_paid.at >= answered.at, "nothing is paid before moderation answers");
    assert_eq!(fake.calls(Endpoint::Moderation) - 8, 1, "passed once, asked once");
    // the same prompt again is a cache hit: not moderated again
    h.fake.push_text(72, 72, "A calm lake at dawn");
    h.video_for(72, 0).await;
    assert_eq!(fake.calls(Endpoint::Moderation), 9);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runway_safety_refusal_is_remembered_until_an_operator_allows_it() {
    if !support::have_ffmpeg() {
        return;
    }
    let (mut h, fake) = pipeline_harness(&[]).await;
    let port = support::free_port();
    h.set("ADMIN_LISTEN_ADDR", &format!("127.0.0.1:{port}"));
    fake.set_task_outcome(
        TaskKind::TextToImage,
        TaskOutcome::Fail { code: "SAFETY.INPUT.TEXT".into(), message: "The prompt did not pass moderation".into() },
    );
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(71, 71, "a dragon over the city");
    let answer = refusal_to(&h, 71).await;
    assert!(answer.contains("safety"), "{answer}");
    // what the refused attempt bought: the script, image prompts, images (the issue measured 3 and 2)
    let (chat, images) = (fake.calls(Endpoint::Chat), fake.tasks_created(TaskKind::TextToImage));
    assert!(chat >= 2 && images >= 1, "the script and an image were bought before the refusal: {chat}, {images}");
    eprintln!("bought before Runway refused: {chat} chat calls, {images} images");
    assert_eq!(fake.calls(Endpoint::Moderation), 1, "moderation passed it");

    // asked again: answered from memory, nothing bought twice (before: chat calls 3 → 6, images 2 → 4)
    let asked = std::time::Instant::now();
    h.fake.push_text(72, 72, "A dragon over the city");
    let answer = told(&h, 72, 0).await;
    eprintln!("answered from memory in {} ms (push to the answer at the fake)", asked.elapsed().as_millis());
    assert!(answer.contains("safety"), "{answer}");
    assert_eq!(fake.calls(Endpoint::Chat), chat);
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), images);
    assert_eq!(fake.calls(Endpoint::Moderation), 1);
    let request = h.requests().await.into_iter().find(|r| r.chat_id.0 == 72).expect("the second request");
    assert_eq!(request.status, RequestStatus::Failed);
    assert!(matches!(request.error, Some(Failure::Refused(_))), "{:?}", request.error);

    // /stats and /metrics count it and what it saved
    h.fake.push_text(ADMIN, ADMIN, "/stats");
    let stats = told(&h, ADMIN, 0).await;
    assert!(stats.contains("provider safety filters: 1") && stats.contains("answered from memory: 1"), "{stats}");
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.expect("metrics").text().await.expect("body");
    assert!(metrics.contains("vidcache_refused_prompts{source=\"provider\"} 1"), "{metrics}");
    assert!(metrics.contains("vidcache_refusals_answered_from_memory 1"), "{metrics}");

    // a non-operator can't lift it; an operator can
    h.fake.push_text(72, 72, "/allow a dragon over the city");
    let no = told(&h, 72, 1).await;
    assert!(no.contains("only for operators"), "{no}");
    h.fake.push_text(ADMIN, ADMIN, "/allow A dragon over the city");
    let allowed = told(&h, ADMIN, 1).await;
    assert!(allowed.contains("Allowed"), "{allowed}");
    fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Succeed);
    h.fake.push_text(73, 73, "a dragon over the city");
    h.video_for(73, 0).await;
    assert_eq!(fake.calls(Endpoint::Moderation), 1, "an allowed prompt is not moderated again");
    // The upload reaches the chat before the asset is recorded available.
    let available = eventually(Duration::from_secs(30), || async {
        h.assets().await.pop().is_some_and(|a| a.status == AssetStatus::Available)
    })
    .await;
    assert!(available, "{:?}", h.assets().await);
    service.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_words_refuse_at_once_without_any_call() {
    let fake = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers start");
    let mut h = Harness::new().await;
    for (name, value) in support::provider_env(&fake, &[], &[]) {
        h.set(&name, &value);
    }
    let list = h.data_dir().join("blocked.txt");
    std::fs::write(&list, "# words we don't make\nForbidden fruit\n").expect("list written");
    h.set("BLOCKED_WORDS_FILE", &list.display().to_string());
    let service = h.spawn();
    h.wait_polling().await;

    h.fake.push_text(71, 71, "a FORBIDDEN   fruit salad");
    let answer = told(&h, 71, 0).await;
    assert!(answer.contains("words"), "{answer}");
    assert!(!answer.contains("forbidden fruit"), "the list is not shown to users: {answer}");
    assert_eq!(fake.calls(Endpoint::Moderation), 0);
    assert_eq!(paid_calls(&fake), vec![]);
    let request = h.requests().await.pop().expect("recorded");
    let Some(Failure::Refused(reason)) = request.error else { panic!("refused") };
    assert_eq!(reason.source, RefusalSource::BlockedWords);
    // a prompt without the words is made as before (moderated once)
    h.fake.push_text(72, 72, "a fruit salad");
    h.video_for(72, 0).await;
    assert_eq!(fake.calls(Endpoint::Moderation), 1);
    let texts = texts_to(&h.fake.sent(), 71);
    assert_eq!(texts.len(), 1, "{texts:?}");
    service.terminate().await;
}
