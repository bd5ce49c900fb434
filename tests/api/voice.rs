//! Voice messages through the whole service: the fake Bot API serves the
//! audio (getFile + download), the fake OpenAI-compatible API transcribes
//! it, and the transcript is handled exactly like a typed prompt.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use crate::support::{Harness, texts_to};
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, Fault};
use fakes::telegram::VoiceMessage;
use tokio_util::sync::CancellationToken;
use vidcache::generator::LocalGenerator;

const LONG: Duration = Duration::from_secs(30);

type Running = (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>);

/// A harness whose service transcribes with the fake provider.
async fn with_transcription(providers: &FakeProviders) -> Harness {
    let mut h = Harness::new().await;
    h.set("OPENAI_API_KEY", &providers.config().openai_key);
    h.set("OPENAI_BASE_URL", &providers.openai_base_url());
    h.set("PROVIDER_HTTP_TIMEOUT_S", "5");
    h
}

/// Fake providers and a service that transcribes with them, polling.
async fn transcribing_service() -> (FakeProviders, Harness, Running) {
    let providers = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers");
    let h = with_transcription(&providers).await;
    let running = serve(&h).await;
    (providers, h, running)
}

async fn serve(h: &Harness) -> Running {
    let running = h.run_in_process(Arc::new(LocalGenerator::default()));
    h.wait_polling().await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_message_is_a_prompt_like_the_typed_one() {
    let (providers, h, (stop, running)) = transcribing_service().await;

    let audio = b"OggS\0fake opus voice".to_vec();
    h.fake.push_voice(80, 80, VoiceMessage::ogg(audio.clone(), 3));
    let heard = h.text_for(80, 0).await;
    assert_eq!(heard, "🎙 I heard: “a birthday greeting for Zoë”");
    let video = h.video_for(80, 0).await;

    // what the transcription API got: the downloaded bytes, as an ogg file
    let sent = &providers.requests(Endpoint::Transcription)[0];
    assert_eq!(sent["file_bytes"], audio.len());
    assert_eq!(sent["file_content_type"], "audio/ogg");
    assert_eq!(h.fake.calls("getFile"), 1);
    assert_eq!(h.fake.calls("download"), 1);

    // the same words typed by someone else: the same asset, no new generation
    h.fake.push_text(81, 81, "  A BIRTHDAY greeting   for zoë ");
    assert_eq!(h.video_for(81, 0).await, video);
    assert_eq!(h.fake.uploads(), 1);
    let assets = h.assets().await;
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].prompt, "a birthday greeting for zoë");
    let requests = h.requests().await;
    let voice_request =
        requests.iter().find(|r| r.chat_id == vidcache::domain::ChatId(80)).expect("the voice request is recorded");
    assert_eq!(voice_request.raw_text, "a birthday greeting for Zoë");

    // the transcription is counted as a provider call for /stats
    let totals = vidcache::db::stages::cost_totals(&h.db().await).await.expect("totals");
    assert!(totals.describe().contains("openai transcription: 1 call"), "{}", totals.describe());

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_messages_over_20_mb_or_untranscribable_get_a_clear_answer() {
    let (providers, h, (stop, running)) = transcribing_service().await;

    // Telegram says 25 MB: not downloaded, not transcribed
    let big = VoiceMessage { file_size: Some(25 * 1024 * 1024), ..VoiceMessage::ogg(b"OggS".to_vec(), 1500) };
    h.fake.push_voice(82, 82, big);
    let answer = h.text_for(82, 0).await;
    assert!(answer.contains("too long") && answer.contains("20 MB"), "{answer}");
    assert_eq!(h.fake.calls("download"), 0);
    assert_eq!(providers.calls(Endpoint::Transcription), 0);

    // the transcription API keeps failing: the user is told, nothing is recorded
    providers.fail_always(Endpoint::Transcription, Some(Fault::ServerError));
    h.fake.push_voice(83, 83, VoiceMessage::ogg(b"OggS voice".to_vec(), 2));
    let answer = h.text_for(83, 0).await;
    assert!(answer.contains("couldn't understand"), "{answer}");

    // silence: nothing to make a video of
    providers.fail_always(Endpoint::Transcription, None);
    providers.set_transcript("  ");
    h.fake.push_voice(85, 85, VoiceMessage::ogg(b"OggS hush".to_vec(), 2));
    let answer = h.text_for(85, 0).await;
    assert!(answer.contains("couldn't make out any words"), "{answer}");

    assert!(h.requests().await.is_empty(), "no request without words");
    assert!(h.assets().await.is_empty());

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_transcription_a_voice_message_is_answered_with_what_to_do() {
    for (key, switch) in [(false, "on"), (true, "off")] {
        let providers = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers");
        let mut h = if key { with_transcription(&providers).await } else { Harness::new().await };
        h.set("VOICE_TRANSCRIPTION", switch);
        let (stop, running) = serve(&h).await;
        h.fake.push_voice(84, 84, VoiceMessage::ogg(b"OggS voice".to_vec(), 2));
        let answer = h.text_for(84, 0).await;
        assert!(answer.contains("can't listen to voice messages") && answer.contains("type your prompt"), "{answer}");
        assert_eq!(providers.calls(Endpoint::Transcription), 0);
        assert_eq!(h.fake.calls("getFile"), 0);
        assert!(support::eventually(LONG, || async { texts_to(&h.fake.sent(), 84).len() == 1 }).await, "exactly one answer");
        stop.cancel();
        running.await.expect("joins").expect("clean stop");
    }
}

/// A slow transcription holds up only its own chat: another user's cache
/// hit, sent while a voice message is being transcribed (12 s), is answered
/// before the transcription ends (before this, updates were handled one
/// fetched batch at a time and the hit waited the whole 12 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_transcription_does_not_hold_up_another_users_cache_hit() {
    let providers = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers");
    let mut h = with_transcription(&providers).await;
    h.set("PROVIDER_HTTP_TIMEOUT_S", "30");
    let (stop, running) = serve(&h).await;

    // the video exists: the next request for it is a cache hit
    h.fake.push_text(90, 90, "a paper kite");
    let video = h.video_for(90, 0).await;

    providers.fail_always(Endpoint::Transcription, Some(Fault::AnswerLate(Duration::from_secs(12))));
    h.fake.push_voice(91, 91, VoiceMessage::ogg(b"OggS\0slow voice".to_vec(), 3));
    let listening = providers.clone();
    assert!(
        support::eventually(LONG, move || {
            let p = listening.clone();
            async move { !p.requests(Endpoint::Transcription).is_empty() }
        })
        .await,
        "the voice message reached the transcription API"
    );

    // another user's hit while the transcription runs
    h.fake.push_text(92, 92, "A PAPER KITE");
    assert_eq!(h.video_for(92, 0).await, video);
    let heard = texts_to(&h.fake.sent(), 91);
    assert!(heard.is_empty(), "the hit was answered before the transcription ended, not after: {heard:?}");

    // and the voice message is still handled, once it is transcribed
    let heard = h.text_for(91, 0).await;
    assert!(heard.starts_with("🎙"), "{heard}");
    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

/// A voice message of a user who can't afford any video is refused before
/// it is transcribed: nothing is paid for a request that would be refused
/// (before, the transcription was bought and then the request refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_transcription_is_bought_for_a_user_who_cannot_pay() {
    let providers = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers");
    let mut h = with_transcription(&providers).await;
    h.set("CREDITS", "on");
    h.set("FREE_CREDITS", "0");
    let (stop, running) = serve(&h).await;

    h.fake.push_voice(95, 95, VoiceMessage::ogg(b"OggS\0voice".to_vec(), 2));
    let answer = h.text_for(95, 0).await;
    assert!(answer.contains("credits"), "{answer}");
    assert!(providers.requests(Endpoint::Transcription).is_empty(), "nothing was transcribed");
    assert_eq!(h.fake.calls("getFile"), 0, "nothing was downloaded");
    assert!(h.requests().await.is_empty());
    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

/// A voice message of a user at their rate limit is answered with the
/// limit before it is transcribed: nothing is paid for a request that would
/// be refused (before, the second message was transcribed, then refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_transcription_is_bought_for_a_user_over_the_rate_limit() {
    let providers = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers");
    let mut h = with_transcription(&providers).await;
    h.set("USER_RATE_LIMIT", "1/h");
    let (stop, running) = serve(&h).await;

    h.fake.push_voice(96, 96, VoiceMessage::ogg(b"OggS\0first".to_vec(), 2));
    h.video_for(96, 0).await;
    assert_eq!(providers.requests(Endpoint::Transcription).len(), 1);
    providers.set_transcript("a second, different video");
    h.fake.push_voice(96, 96, VoiceMessage::ogg(b"OggS\0second".to_vec(), 2));
    let refused = support::eventually(LONG, || async {
        texts_to(&h.fake.sent(), 96).iter().any(|t| t.starts_with("🐢 You're asking faster than I can make videos."))
    })
    .await;
    assert!(refused, "the second voice message was answered with the rate limit: {:?}", texts_to(&h.fake.sent(), 96));
    assert_eq!(providers.requests(Endpoint::Transcription).len(), 1, "the second message was not transcribed");
    assert_eq!(h.fake.calls("getFile"), 1, "nor downloaded");
    assert_eq!(h.requests().await.len(), 1, "and not recorded");
    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}
