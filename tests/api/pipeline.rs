//! The staged generators against fake providers on loopback (real HTTP,
//! recorded requests, scripted answers): a real MP4 end to end, resuming
//! after a crash without paying twice, and clean failures.
//!
//! Tests that run ffmpeg print a note and return when it is not installed.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::Harness;
use chrono::Utc;
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, Fault, TaskKind, TaskOutcome, VeoOutcome};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use vidcache::config::{DataStore, GeneratorKind, ProviderSettings, RetryPolicy};
use vidcache::db::entities::video_assets;
use vidcache::db::stages::{self, StageKind, StageStatus};
use vidcache::db::{assets, clear, generations};
use vidcache::domain::AssetStatus;
use vidcache::domain::{AssetId, Generation, Prompt, Recipe, Wanted};
use vidcache::generator::{GenerateError, GenerationRequest, Generator, LocalGenerator, NoGates, build_generator, ffmpeg};
use vidcache::providers::{OpenAiClient, ProviderError};
use vidcache::service::Housekeeping;
use vidcache::storage::VideoStore;
use vidcache::texts::Lang;

const LONG: Duration = Duration::from_secs(30);

/// A fake, a database and the settings that point at the fake.
struct Env {
    fake: FakeProviders,
    dir: tempfile::TempDir,
    db: DatabaseConnection,
    vars: HashMap<String, String>,
}

impl Env {
    async fn new(config: FakeProvidersConfig, vars: &[(&str, &str)]) -> Self {
        let fake = FakeProviders::start(config).await.expect("fake providers start");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DataStore::parse(&format!("sqlite://{}?mode=rwc", dir.path().join("t.sqlite").display())).expect("a URL");
        let db = vidcache::db::connect(&store).await.expect("database opens");
        let extra = [
            ("GENERATOR", "pipeline".to_owned()),
            ("PROVIDER_HTTP_TIMEOUT_S", "10".to_owned()),
            ("PRICE_PER_CALL_OPENAI", "0.001".to_owned()),
            ("PRICE_PER_CALL_RUNWAY_TEXT_TO_IMAGE", "0.08".to_owned()),
            ("PRICE_PER_CALL_RUNWAY_IMAGE_TO_VIDEO", "0.5".to_owned()),
            ("PRICE_PER_CALL_VERTEX", "2".to_owned()),
        ];
        let env = support::provider_env(&fake, &extra, vars);
        Self { fake, dir, db, vars: env }
    }

    fn settings(&self) -> ProviderSettings {
        let vars = self.vars.clone();
        ProviderSettings::from_lookup(&move |name| vars.get(name).cloned()).expect("valid provider settings")
    }

    fn generator(&self) -> Arc<dyn Generator> {
        let settings = self.settings();
        build_generator(settings.generator, &settings, self.db.clone(), self.dir.path().join("work"), LocalGenerator::default())
            .expect("the generator builds")
    }

    async fn asset(&self, prompt: &str) -> AssetId {
        let now = Utc::now();
        let asset = {
            let wanted = Wanted::new(Prompt::parse(prompt, 1000).expect("a prompt"), Recipe::default());
            let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, None, now);
            row.status = Set(AssetStatus::Generating);
            row.dispatched_generation = Set(1);
            row.attempts = Set(1);
            row.stage = Set(None);
            row.lease_owner = Set(Some("test".into()));
            row
        };
        asset.insert(&self.db).await.expect("asset row").id
    }

    /// Runs the whole service in this process with the pipeline generator;
    /// returns once it polls.
    async fn serve(
        &self,
        h: &Harness,
    ) -> (DatabaseConnection, tokio_util::sync::CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let db = h.db().await;
        let settings = self.settings();
        let generator =
            build_generator(GeneratorKind::Pipeline, &settings, db.clone(), h.data_dir().join("work"), LocalGenerator::default())
                .expect("the pipeline builds");
        let (stop, running) = h.run_in_process(generator);
        h.wait_polling().await;
        (db, stop, running)
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("out.mp4")
    }
}

/// A request for generation 1 that keeps every progress text in `log`.
fn request(asset: AssetId, prompt: &str, output: &Path, log: &Arc<Mutex<Vec<String>>>) -> GenerationRequest {
    request_for(Generation { asset, number: 1 }, prompt, output, log)
}

/// A request for `job` that keeps every progress text in `log`.
fn request_for(job: Generation, prompt: &str, output: &Path, log: &Arc<Mutex<Vec<String>>>) -> GenerationRequest {
    let log = log.clone();
    GenerationRequest {
        job,
        prompt: prompt.to_owned(),
        output: output.to_owned(),
        progress: Arc::new(move |stage| log.lock().expect("progress log").push(Lang::En.texts().stage(&stage))),
        extend: None,
        gates: Arc::new(NoGates),
        recipe: Recipe::default(),
        image: None,
    }
}

fn no_progress() -> Arc<Mutex<Vec<String>>> {
    Arc::new(Mutex::new(Vec::new()))
}

/// ffprobe's duration and stream kinds of a file.
async fn probe(path: &Path) -> (f64, Vec<String>) {
    let duration = ffmpeg::probe_duration(path).await.expect("ffprobe reads the video");
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .await
        .expect("ffprobe runs");
    let kinds = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect();
    (duration, kinds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_prompt_becomes_a_real_mp4_through_the_service() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[]).await;
    let h = Harness::new().await;
    let settings = env.settings();
    assert_eq!(settings.generator, GeneratorKind::Pipeline);
    assert_eq!((settings.pipeline.segments, settings.pipeline.segment_seconds), (10, 5), "the defaults: 10 × 5 s");
    let (db, stop, running) = env.serve(&h).await;

    h.fake.push_text(70, 70, "A birthday greeting for Zoë");
    h.video_for(70, 0).await;
    let available =
        support::eventually(LONG, || async { h.assets().await.first().is_some_and(|a| a.status == AssetStatus::Available) })
            .await;
    assert!(available, "the asset becomes available");

    let asset = h.assets().await.pop().expect("asset");
    let file = PathBuf::from(asset.file_path.clone().expect("the rendered file is recorded"));
    let (duration, streams) = probe(&file).await;
    assert!((duration - 50.0).abs() < 0.3, "ten segments of 5 s: got {duration} s");
    assert!(streams.contains(&"video".to_owned()) && streams.contains(&"audio".to_owned()), "streams: {streams:?}");
    assert!(std::fs::metadata(&file).expect("file").len() < 50 * 1024 * 1024);

    // one script, an image prompt and an animation prompt per segment
    let fake = &env.fake;
    assert_eq!(fake.calls(Endpoint::Chat), 21);
    assert_eq!(fake.calls(Endpoint::TextToImage), 10);
    assert_eq!(fake.calls(Endpoint::ImageToVideo), 10);
    assert_eq!(fake.calls(Endpoint::Speech), 1);
    assert_eq!(fake.leaked_auth(), 0, "no API key is sent to result URLs");
    let script_request = &fake.requests(Endpoint::Chat)[0];
    assert_eq!(script_request["response_format"]["type"], "json_object");
    assert!(script_request["messages"][1]["content"].as_str().is_some_and(|c| c.to_lowercase().contains("zoë")));
    for clip in fake.requests(Endpoint::ImageToVideo) {
        assert!(clip["promptImage"].as_str().is_some_and(|i| i.starts_with("data:image/png;base64,")), "{clip}");
        assert_eq!(clip["duration"], 5);
    }
    assert_eq!(fake.requests(Endpoint::Speech)[0]["response_format"], "wav");

    // every step is recorded as done, and the costs are counted
    let steps = stages::for_generation(&db, asset.id, asset.generation).await.expect("stages");
    assert_eq!(steps.len(), 1 + 4 * 10 + 2);
    assert!(steps.iter().all(|s| s.status == StageStatus::Done), "{steps:?}");
    assert!(steps.iter().filter(|s| s.kind == StageKind::Clip).all(|s| s.provider_task_id.is_some()));
    assert_eq!(
        stages::progress_summary(&db, asset.id, asset.generation)
            .await
            .expect("summary")
            .map(|s| Lang::En.texts().stage(&s))
            .as_deref(),
        Some("Images 10/10, clips 10/10, voice-over ready, video assembled")
    );
    let costs = stages::costs_for_asset(&db, asset.id).await.expect("costs");
    let line = |op: &str| costs.lines.iter().find(|l| l.operation == op).cloned().unwrap_or_default();
    assert_eq!(line("chat").calls, 21);
    assert_eq!(line("text_to_image").cost_micros, 10 * 80_000);
    assert_eq!(line("image_to_video").cost_micros, 10 * 500_000);
    assert_eq!(line("speech").calls, 1);
    assert_eq!(costs.cost_micros(), 22 * 1_000 + 800_000 + 5_000_000);
    assert!(costs.describe().contains("runway image_to_video: 10 calls"), "{}", costs.describe());
    assert_eq!(stages::cost_totals(&db).await.expect("totals"), costs);
    // kept KEEP_INTERMEDIATES_HOURS (default 1) after the asset is available, for the sweep to remove
    let work = h.data_dir().join("work").join(format!("asset-{}-g1", asset.id));
    assert!(work.join("image-00.img").exists() && work.join("voice.wav").exists(), "intermediate files are kept for an hour");

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_users_see_the_progress_in_one_note_edited_in_place() {
    if !support::have_ffmpeg() {
        return;
    }
    let config = FakeProvidersConfig { task_polls: 10, ..Default::default() };
    let env = Env::new(config, &[("PROVIDER_POLL_INTERVAL_MS", "60")]).await;
    let mut h = Harness::new().await;
    h.set("PROGRESS_EDIT_INTERVAL_MS", "100");
    let (_db, stop, running) = env.serve(&h).await;

    h.fake.push_text(90, 90, "Progress for everyone");
    h.fake.push_text(91, 91, "progress  FOR everyone");
    h.video_for(90, 0).await;
    h.video_for(91, 0).await;
    for chat in [90, 91] {
        let sent = h.fake.sent_to(chat);
        let notes: Vec<_> = sent.iter().filter(|s| s.method == "sendMessage").collect();
        assert_eq!(notes.len(), 1, "one note, not a message per step: {sent:?}");
        assert!(notes[0].text.as_deref().is_some_and(|t| t.contains("being made")), "{sent:?}");
        let edits: Vec<_> = sent.iter().filter(|s| s.method == "editMessageText").collect();
        assert!(edits.len() >= 2, "the note is updated as the work goes on: {sent:?}");
        assert!(edits.iter().all(|e| e.message_id == notes[0].message_id), "always the same note: {sent:?}");
        assert!(
            edits.iter().any(|e| e.text.as_deref().is_some_and(|t| t.contains("Images ") && t.contains("clips "))),
            "the note counts images and clips: {sent:?}"
        );
        assert!(edits.windows(2).all(|w| w[0].text != w[1].text), "every edit shows something new: {sent:?}");
        assert!(edits.iter().all(|e| e.at < sent.iter().find(|s| s.method == "sendVideo").expect("video").at));
    }

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

/// Waits until the sweep has run twice since now: a stray video file is
/// written and must be swept, twice (a sweep does the intermediates first).
async fn two_sweeps(h: &Harness) {
    let videos = h.data_dir().join("videos");
    std::fs::create_dir_all(&videos).expect("videos dir");
    for stray in ["0123456789abcdef-g1.mp4", "fedcba9876543210-g1.mp4"] {
        let stray = videos.join(stray);
        std::fs::write(&stray, b"no asset needs this").expect("write");
        assert!(support::eventually(LONG, || async { !stray.exists() }).await, "the sweep never ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intermediates_outlive_an_approval_and_go_after_the_asset_is_available() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "2"), ("SEGMENT_SECONDS", "2")]).await;
    let mut h = Harness::new().await;
    h.set("KEEP_INTERMEDIATES_HOURS", "0");
    h.set("CLEANUP_INTERVAL_SECS", "1");
    h.set("APPROVALS", "requester");
    h.set("APPROVAL_STAGES", "images");
    let (_db, stop, running) = env.serve(&h).await;

    // paused at the images gate: the images are on disk and survive the sweeps
    h.fake.push_text(72, 72, "Kites over a salt lake");
    let awaiting =
        support::eventually(LONG, || async { h.assets().await.first().is_some_and(|a| a.status == AssetStatus::Awaiting) }).await;
    assert!(awaiting, "the generation waits for the images' approval");
    let asset = h.assets().await.pop().expect("asset");
    let dir = h.data_dir().join("work").join(format!("asset-{}-g{}", asset.id, asset.generation));
    assert!(dir.join("image-00.img").exists() && dir.join("image-01.img").exists(), "the images are made");
    two_sweeps(&h).await;
    assert!(dir.join("image-00.img").exists(), "a paused generation's files were swept");
    assert_eq!(env.fake.tasks_created(TaskKind::TextToImage), 2);

    // approved: the run goes on with the same images, then the sweep takes every generation's files
    h.fake.push_text(72, 72, "✅ Approve");
    h.video_for(72, 0).await;
    assert_eq!(env.fake.tasks_created(TaskKind::TextToImage), 2, "the images were not paid for again");
    let work = h.data_dir().join("work");
    let gone = support::eventually(LONG, || async {
        std::fs::read_dir(&work)
            .map(|d| {
                d.filter_map(Result::ok).all(|e| !e.file_name().to_string_lossy().starts_with(&format!("asset-{}-", asset.id)))
            })
            .unwrap_or(false)
    })
    .await;
    assert!(gone, "the intermediate files were not swept after the asset became available");
    let video = h.assets().await.pop().and_then(|a| a.file_path).map(PathBuf::from).expect("the asset's video");
    assert!(video.exists(), "the asset's own video is kept");

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_images_resumes_without_paying_again() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "4"), ("SEGMENT_SECONDS", "2")]).await;
    let fake = &env.fake;
    let asset = env.asset("a lighthouse in a storm").await;
    fake.set_task_outcome(TaskKind::ImageToVideo, TaskOutcome::Hold);

    // first run: clips hang; "crash" once three clip tasks are submitted and polled
    let progress = no_progress();
    let first = tokio::spawn(env.generator().generate(request(asset, "a lighthouse in a storm", &env.output(), &progress)));
    let submitted = fake
        .wait_until(|f| f.tasks_created(TaskKind::ImageToVideo) == 3 && f.tasks_polled(TaskKind::ImageToVideo) == 3, LONG)
        .await;
    assert!(submitted, "three clip tasks (the parallelism) were submitted and polled");
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    let steps = stages::for_generation(&env.db, asset, 1).await.expect("stages");
    let of = |kind: StageKind| steps.iter().filter(move |s| s.kind == kind);
    assert!(of(StageKind::Image).all(|s| s.status == StageStatus::Done), "all images were done before the crash");
    assert_eq!(of(StageKind::Clip).filter(|s| s.provider_task_id.is_some()).count(), 3, "task ids recorded before polling");
    let texts = progress.lock().expect("log").clone();
    let partial = |t: &String| ["Images 1/4", "Images 2/4", "Images 3/4"].iter().any(|p| t.starts_with(p));
    assert!(texts.iter().any(partial), "progress is reported step by step: {texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("Images 4/4, clips 0/4")), "progress is reported: {texts:?}");
    let chats_before = fake.calls(Endpoint::Chat);
    assert_eq!(chats_before, 1 + 4 + 4);
    assert_eq!(fake.calls(Endpoint::TextToImage), 4);

    // restart: a new generator on the same database; the provider finishes the held tasks
    fake.set_task_outcome(TaskKind::ImageToVideo, TaskOutcome::Succeed);
    let progress = no_progress();
    env.generator()
        .generate(request(asset, "a lighthouse in a storm", &env.output(), &progress))
        .await
        .expect("resumed run succeeds");

    assert_eq!(fake.calls(Endpoint::TextToImage), 4, "the image provider was not called again");
    assert_eq!(fake.calls(Endpoint::Chat), chats_before, "script and prompts were not asked for again");
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), 4, "the three submitted clips were polled, not submitted again");
    assert_eq!(fake.calls(Endpoint::ImageToVideo), 4);
    let (duration, _) = probe(&env.output()).await;
    assert!((duration - 8.0).abs() < 0.3, "four segments of 2 s: got {duration} s");
    let clips = stages::costs_for_asset(&env.db, asset).await.expect("costs");
    let i2v = clips.lines.iter().find(|l| l.operation == "image_to_video").expect("clip costs");
    assert_eq!(i2v.calls, 4, "each clip is counted once");

    // run again after it finished (the worker died before recording the file): nothing is paid for
    let endpoints = [Endpoint::Chat, Endpoint::TextToImage, Endpoint::ImageToVideo, Endpoint::Task, Endpoint::Speech];
    let before: Vec<usize> = endpoints.iter().map(|e| fake.calls(*e)).collect();
    env.generator().generate(request(asset, "a lighthouse in a storm", &env.output(), &no_progress())).await.expect("done");
    assert_eq!(endpoints.iter().map(|e| fake.calls(*e)).collect::<Vec<_>>(), before);
}

/// How many different `promptText`s the requests to `endpoint` carried.
fn distinct_prompts(fake: &FakeProviders, endpoint: Endpoint) -> usize {
    let prompts: std::collections::HashSet<String> =
        fake.requests(endpoint).iter().filter_map(|r| r["promptText"].as_str().map(str::to_owned)).collect();
    prompts.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_after_a_kill_during_the_images_pays_for_each_step_once() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "4"), ("SEGMENT_SECONDS", "2")]).await;
    let fake = &env.fake;
    let prompt = "a harbour at dawn";
    let asset = env.asset(prompt).await;
    fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Hold);

    // generation 1: images hang; "kill -9" once three image tasks are submitted and polled and the voice is done
    let output = |number: i64| env.dir.path().join(format!("out-g{number}.mp4"));
    let g1 = Generation { asset, number: 1 };
    let first = tokio::spawn(env.generator().generate(request_for(g1, prompt, &output(1), &no_progress())));
    let submitted = fake
        .wait_until(|f| f.tasks_created(TaskKind::TextToImage) == 3 && f.tasks_polled(TaskKind::TextToImage) == 3, LONG)
        .await;
    assert!(submitted, "three image tasks (the parallelism) were submitted and polled");
    let voiced = support::eventually(LONG, || async {
        let key = stages::StepKey { asset_id: asset, generation: 1, kind: StageKind::Voice, segment: stages::WHOLE };
        stages::find(&env.db, key).await.expect("stage").is_some_and(|s| s.status == StageStatus::Done)
    })
    .await;
    assert!(voiced, "the voice-over was made before the kill");
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    assert_eq!((support::script_calls(fake), fake.calls(Endpoint::Chat), fake.calls(Endpoint::Speech)), (1, 1 + 4, 1));

    // the reconciler: the lease ran out, the asset moves to generation 2, which takes generation 1 over
    let reclaimed = generations::reclaim_expired(&env.db, Utc::now()).await.expect("reclaims");
    assert_eq!(reclaimed, vec![Generation { asset, number: 2 }]);
    let carried = stages::for_generation(&env.db, asset, 2).await.expect("stages");
    let of = |kind: StageKind| carried.iter().filter(move |s| s.kind == kind).collect::<Vec<_>>();
    assert_eq!(of(StageKind::Script).len(), 1);
    assert!(of(StageKind::Script).iter().chain(&of(StageKind::ImagePrompt)).all(|s| s.status == StageStatus::Done));
    assert_eq!(of(StageKind::ImagePrompt).len(), 4);
    let images = of(StageKind::Image);
    assert_eq!(images.len(), 3, "the submitted images are carried over: {carried:?}");
    assert!(images.iter().all(|s| s.status == StageStatus::Pending && s.provider_task_id.is_some()), "{images:?}");
    assert!(of(StageKind::Voice).iter().all(|s| s.status == StageStatus::Done));
    assert!(of(StageKind::Clip).is_empty() && of(StageKind::Assemble).is_empty(), "nothing else: {carried:?}");

    // generation 2 finishes what generation 1 started
    fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Succeed);
    let progress = no_progress();
    env.generator()
        .generate(request_for(Generation { asset, number: 2 }, prompt, &output(2), &progress))
        .await
        .expect("the takeover succeeds");

    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 4, "three image tasks polled, one submitted");
    assert_eq!(fake.calls(Endpoint::TextToImage), 4);
    assert_eq!(distinct_prompts(fake, Endpoint::TextToImage), 4, "one image task per segment");
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), 4);
    assert_eq!(distinct_prompts(fake, Endpoint::ImageToVideo), 4, "one clip task per segment");
    assert_eq!(support::script_calls(fake), 1, "the script was not written again");
    assert_eq!(fake.calls(Endpoint::Chat), 1 + 4 + 4, "nor the image prompts");
    assert_eq!(fake.calls(Endpoint::Speech), 1, "nor the voice-over");
    let (duration, _) = probe(&output(2)).await;
    assert!((duration - 8.0).abs() < 0.3, "four segments of 2 s: got {duration} s");
    let steps = stages::for_generation(&env.db, asset, 2).await.expect("stages");
    assert_eq!(steps.len(), 1 + 4 * 4 + 2);
    assert!(steps.iter().all(|s| s.status == StageStatus::Done), "{steps:?}");
    let summary = stages::progress_summary(&env.db, asset, 2).await.expect("summary").map(|s| Lang::En.texts().stage(&s));
    assert_eq!(summary.as_deref(), Some("Images 4/4, clips 4/4, voice-over ready, video assembled"));
    assert!(progress.lock().expect("log").iter().any(|t| t.starts_with("Images 4/4")));
    let costs = stages::costs_for_asset(&env.db, asset).await.expect("costs");
    let calls = |op: &str| costs.lines.iter().find(|l| l.operation == op).map_or(0, |l| l.calls);
    assert_eq!((calls("text_to_image"), calls("image_to_video"), calls("speech")), (4, 4, 1), "{}", costs.describe());
    // the sweep (KEEP_INTERMEDIATES_HOURS=0) keeps both generations' files while the asset may still resume them
    let work = env.dir.path().join("work");
    let dirs = [1, 2].map(|number| work.join(format!("asset-{asset}-g{number}")));
    let sweeper =
        Housekeeping::new(env.db.clone(), VideoStore::data_dir(env.dir.path().join("videos")), work.clone(), Duration::ZERO);
    for status in [AssetStatus::Generating, AssetStatus::Awaiting, AssetStatus::Pending] {
        video_assets::ActiveModel { id: Set(asset), status: Set(status), ..Default::default() }
            .update(&env.db)
            .await
            .expect("status set");
        sweeper.sweep().await.expect("sweeps");
        assert!(dirs.iter().all(|d| d.is_dir()), "intermediate files swept while the asset is {status:?}");
    }
    assert!(dirs[0].join("voice.wav").exists(), "g1's voice-over, reused by g2, is still there");

    // an operator's /clear, then a new request: generation 3 makes every step anew
    video_assets::ActiveModel {
        id: Set(asset),
        status: Set(AssetStatus::Available),
        file_path: Set(Some(output(2).display().to_string())),
        lease_owner: Set(None),
        ..Default::default()
    }
    .update(&env.db)
    .await
    .expect("published");
    // available: the files of every generation it took over go at the next sweep
    let swept = sweeper.sweep().await.expect("sweeps");
    assert_eq!(swept.intermediates, 2, "{swept:?}");
    assert!(dirs.iter().all(|d| !d.exists()), "intermediate files of an available asset are swept");
    let key = vidcache::domain::PromptKey::of(&Prompt::parse(prompt, 1000).expect("a prompt"), &Recipe::default());
    assert!(matches!(
        clear::clear(&env.db, &key, &vidcache::domain::Actor::Telegram(vidcache::domain::UserId(1))).await.expect("clears"),
        clear::Cleared::Cleared { .. }
    ));
    video_assets::ActiveModel {
        id: Set(asset),
        status: Set(AssetStatus::Generating),
        generation: Set(3),
        lease_owner: Set(Some("test".into())),
        ..Default::default()
    }
    .update(&env.db)
    .await
    .expect("bumped");
    let cleared = assets::find(&env.db, asset).await.expect("asset").expect("exists");
    assert_eq!(cleared.last_error, Some(vidcache::domain::Failure::Cleared));
    assert!(stages::for_generation(&env.db, asset, 3).await.expect("stages").is_empty(), "nothing carried after a clear");
    env.generator()
        .generate(request_for(Generation { asset, number: 3 }, prompt, &output(3), &no_progress()))
        .await
        .expect("the new generation succeeds");
    assert_eq!(support::script_calls(fake), 2, "a new script");
    assert_eq!(fake.calls(Endpoint::Chat), 2 * (1 + 4 + 4), "new prompts");
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 8, "new images");
    assert_eq!(fake.tasks_created(TaskKind::ImageToVideo), 8, "new clips");
    assert_eq!(fake.calls(Endpoint::Speech), 2, "a new voice-over");
    assert!(output(3).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_polls_the_veo_operation_of_the_dead_worker() {
    let env = Env::new(FakeProvidersConfig::default(), &[("GENERATOR", "veo"), ("OPENAI_API_KEY", "")]).await;
    let fake = &env.fake;
    fake.set_veo_outcome(VeoOutcome::Hold);
    let prompt = "a kite over the dunes";
    let asset = env.asset(prompt).await;
    let output = |number: i64| env.dir.path().join(format!("veo-g{number}.mp4"));

    let first =
        tokio::spawn(env.generator().generate(request_for(Generation { asset, number: 1 }, prompt, &output(1), &no_progress())));
    assert!(fake.wait_until(|f| f.calls(Endpoint::VeoPredict) == 1 && f.calls(Endpoint::VeoFetch) >= 1, LONG).await);
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    assert_eq!(generations::reclaim_expired(&env.db, Utc::now()).await.expect("reclaims"), vec![Generation { asset, number: 2 }]);
    fake.set_veo_outcome(VeoOutcome::Video);
    env.generator()
        .generate(request_for(Generation { asset, number: 2 }, prompt, &output(2), &no_progress()))
        .await
        .expect("the takeover succeeds");
    assert_eq!(fake.calls(Endpoint::VeoPredict), 1, "the operation was polled, not submitted again");
    assert!(std::fs::metadata(output(2)).is_ok_and(|m| m.len() > 0), "generation 2's file is written");
    let clip = stages::for_generation(&env.db, asset, 2).await.expect("stages");
    assert!(clip.len() == 1 && clip[0].status == StageStatus::Done, "{clip:?}");

    // a later takeover (generation 2's worker claimed it and died before publishing) reuses the finished operation
    video_assets::ActiveModel { id: Set(asset), status: Set(AssetStatus::Generating), ..Default::default() }
        .update(&env.db)
        .await
        .expect("claimed");
    assert!(
        generations::reclaim_expired(&env.db, Utc::now()).await.expect("reclaims").contains(&Generation { asset, number: 3 })
    );
    let fetches = fake.calls(Endpoint::VeoFetch);
    env.generator()
        .generate(request_for(Generation { asset, number: 3 }, prompt, &output(3), &no_progress()))
        .await
        .expect("succeeds");
    assert_eq!((fake.calls(Endpoint::VeoPredict), fake.calls(Endpoint::VeoFetch)), (1, fetches), "no provider call at all");
    assert!(output(3).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_and_failed_polls_retried() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "2"), ("SEGMENT_SECONDS", "1")]).await;
    let fake = &env.fake;
    fake.fail_next(Endpoint::TextToImage, Fault::RateLimited { retry_after_secs: 1 }, 2);
    fake.fail_next(Endpoint::Task, Fault::ServerError, 2);
    fake.fail_next(Endpoint::Chat, Fault::RateLimited { retry_after_secs: 1 }, 1);
    let asset = env.asset("paper boats").await;
    env.generator().generate(request(asset, "paper boats", &env.output(), &no_progress())).await.expect("succeeds");

    let log = fake.call_log(Endpoint::TextToImage);
    assert_eq!(log.iter().map(|c| c.status).filter(|s| *s == 429).count(), 2);
    let first_429 = log.iter().find(|c| c.status == 429).expect("a 429").at;
    let first_ok = log.iter().find(|c| c.status == 200).expect("a success").at;
    assert!(first_ok.duration_since(first_429) >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 2, "a rate-limited submit creates no second task");
    assert_eq!(fake.call_log(Endpoint::Task).iter().filter(|c| c.status == 500).count(), 2, "the failing polls were retried");
    assert!(env.output().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_submit_is_not_retried_and_fails_the_attempt_cleanly() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "3"), ("SEGMENT_SECONDS", "1")]).await;
    let fake = &env.fake;
    fake.fail_always(Endpoint::ImageToVideo, Some(Fault::ServerError));
    let asset = env.asset("a red kite").await;
    let err = env.generator().generate(request(asset, "a red kite", &env.output(), &no_progress())).await.expect_err("fails");
    let GenerateError::Failed(reason) = &err else { panic!("a 500 is worth another attempt: {err:?}") };
    assert!(reason.contains("runway image_to_video") && reason.contains("500"), "{reason}");
    assert!(!reason.contains(&fake.config().runway_secret), "no secret in errors");
    assert!(fake.calls(Endpoint::ImageToVideo) <= 3, "each clip submitted at most once: {}", fake.calls(Endpoint::ImageToVideo));
    assert!(!env.output().exists(), "no video");
    let steps = stages::for_generation(&env.db, asset, 1).await.expect("stages");
    let failed: Vec<_> = steps.iter().filter(|s| s.status == StageStatus::Failed).collect();
    assert!(!failed.is_empty() && failed.iter().all(|s| s.kind == StageKind::Clip && s.error.is_some()), "{steps:?}");

    // the worker's next attempt: only the clips are made
    fake.fail_always(Endpoint::ImageToVideo, None);
    env.generator().generate(request(asset, "a red kite", &env.output(), &no_progress())).await.expect("the retry succeeds");
    assert_eq!(fake.calls(Endpoint::TextToImage), 3);
    assert!(env.output().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_never_ends_times_out_and_is_cancelled() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(
        FakeProvidersConfig::default(),
        &[("PIPELINE_SEGMENTS", "1"), ("SEGMENT_SECONDS", "1"), ("PROVIDER_TASK_TIMEOUT_S", "1")],
    )
    .await;
    let fake = &env.fake;
    fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Hold);
    let asset = env.asset("a slow sunrise").await;
    let started = std::time::Instant::now();
    let err = env.generator().generate(request(asset, "a slow sunrise", &env.output(), &no_progress())).await.expect_err("fails");
    assert!(started.elapsed() < Duration::from_secs(10));
    let GenerateError::Failed(reason) = &err else { panic!("a timeout is worth another attempt: {err:?}") };
    assert!(reason.contains("not finished after 1 s"), "{reason}");
    assert_eq!(fake.calls(Endpoint::CancelTask), 1, "the abandoned task is cancelled");
    let image = stages::for_generation(&env.db, asset, 1).await.expect("stages").into_iter().find(|s| s.kind == StageKind::Image);
    let image = image.expect("image step");
    assert_eq!(image.status, StageStatus::Failed);
    assert_eq!(image.provider_task_id, None, "the next attempt submits a new task instead of polling the dead one");
    assert!(!env.output().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_clip_fails_the_asset_once_and_tells_the_user() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "2"), ("SEGMENT_SECONDS", "1")]).await;
    env.fake.set_task_outcome(
        TaskKind::ImageToVideo,
        TaskOutcome::Fail { code: "SAFETY.INPUT.TEXT".into(), message: "The prompt did not pass moderation".into() },
    );
    let mut h = Harness::new().await;
    h.set("GENERATION_ATTEMPTS", "3");
    let settings = env.settings();
    let generator =
        build_generator(GeneratorKind::Pipeline, &settings, h.db().await, h.data_dir().join("work"), LocalGenerator::default())
            .expect("builds");
    let (stop, running) = h.run_in_process(generator);
    h.wait_polling().await;

    h.fake.push_text(71, 71, "something forbidden");
    let told =
        h.fake.wait_for(|sent| support::texts_to(sent, 71).iter().any(|t| t.contains("couldn't make the video")), LONG).await;
    assert!(told, "the user is told: {:?}", h.fake.sent_to(71));
    let asset = h.assets().await.pop().expect("asset");
    assert_eq!(asset.status, AssetStatus::Failed);
    let error = asset.last_error.map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("refused") && error.contains("SAFETY.INPUT.TEXT"), "{error}");
    assert!(env.fake.tasks_created(TaskKind::ImageToVideo) <= 2, "a refusal is not retried");
    assert_eq!(env.fake.calls(Endpoint::Speech), 1);

    stop.cancel();
    running.await.expect("joins").expect("clean stop");
}

/// A fresh RSA key as a service-account JSON (without `token_uri`) and its
/// public half (PKCS#1 DER) for the fake to verify signatures; `None`
/// without openssl.
fn service_account(dir: &Path) -> Option<(serde_json::Value, Vec<u8>)> {
    let key = dir.join("key.pem");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&key)
        .output()
        .ok()?;
    if !made.status.success() {
        return None;
    }
    let public = std::process::Command::new("openssl")
        .args(["rsa", "-RSAPublicKey_out", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .ok()?;
    if !public.status.success() {
        return None;
    }
    let pem = std::fs::read_to_string(&key).ok()?;
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "vidcache@key-project.iam.gserviceaccount.com",
    });
    Some((json, public.stdout))
}

fn openssl_note() {
    assert!(std::env::var_os("CI").is_none(), "openssl is required in CI (apt-get install openssl)");
    eprintln!("note: openssl is not installed; skipping the service-account test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_alone_makes_the_video_with_a_service_account() {
    if !support::have_ffmpeg() {
        return;
    }
    let keys = tempfile::tempdir().expect("dir");
    let Some((mut key, public)) = service_account(keys.path()) else { return openssl_note() };
    let config = FakeProvidersConfig { operation_polls: 3, jwt_public_key_der: Some(public), ..Default::default() };
    let mut env =
        Env::new(config, &[("GENERATOR", "veo"), ("OPENAI_API_KEY", ""), ("VERTEX_ACCESS_TOKEN", ""), ("VERTEX_PROJECT", "")])
            .await;
    key["token_uri"] = env.fake.token_uri().into();
    let credentials = keys.path().join("service-account.json");
    std::fs::write(&credentials, key.to_string()).expect("key file");
    env.vars.insert("GOOGLE_APPLICATION_CREDENTIALS".into(), credentials.display().to_string());
    let asset = env.asset("a fox in the snow").await;
    env.generator().generate(request(asset, "a fox in the snow", &env.output(), &no_progress())).await.expect("veo succeeds");

    let fake = &env.fake;
    assert_eq!(fake.calls(Endpoint::Token), 1, "the token is fetched once and cached");
    let grant = &fake.requests(Endpoint::Token)[0];
    assert_eq!(grant["header"]["kid"], "kid-1");
    assert_eq!(grant["claims"]["iss"], "vidcache@key-project.iam.gserviceaccount.com");
    let predict = &fake.requests(Endpoint::VeoPredict)[0];
    assert_eq!(predict["instances"][0]["prompt"], "a fox in the snow");
    assert_eq!(predict["parameters"]["durationSeconds"], 6, "a short video: Veo 3's 6 s");
    assert_eq!(predict["parameters"]["generateAudio"], true);
    assert_eq!(fake.calls(Endpoint::VeoFetch), 3);
    assert_eq!(fake.calls(Endpoint::Chat), 0);
    let (duration, _) = probe(&env.output()).await;
    assert!((duration - 6.0).abs() < 0.3, "{duration}");
    let costs = stages::costs_for_asset(&env.db, asset).await.expect("costs");
    assert_eq!(costs.cost_micros(), 2_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_signed_assertion_gets_no_token() {
    let keys = tempfile::tempdir().expect("dir");
    let Some((_, public)) = service_account(keys.path()) else { return openssl_note() };
    let other = tempfile::tempdir().expect("dir");
    let Some((mut impostor, _)) = service_account(other.path()) else { return openssl_note() };
    let fake =
        FakeProviders::start(FakeProvidersConfig { jwt_public_key_der: Some(public), ..Default::default() }).await.expect("fake");
    impostor["token_uri"] = fake.token_uri().into();
    let http = vidcache::providers::http::Http::new(Duration::from_secs(5), RetryPolicy::default(), vec![]).expect("http");
    let account = vidcache::providers::google_auth::ServiceAccount::from_json(&impostor.to_string(), http).expect("key parses");
    let err = account.token().await.expect_err("a signature by another key is refused");
    assert!(err.to_string().contains("Invalid JWT Signature"), "{err}");
    assert_eq!(fake.calls(Endpoint::Token), 1, "an OAuth 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_filtered_output_is_a_refusal() {
    let env = Env::new(FakeProvidersConfig::default(), &[("GENERATOR", "veo"), ("OPENAI_API_KEY", "")]).await;
    env.fake.set_veo_outcome(VeoOutcome::Filtered { reason: "the prompt may violate our policies".into() });
    let asset = env.asset("something filtered").await;
    let err =
        env.generator().generate(request(asset, "something filtered", &env.output(), &no_progress())).await.expect_err("fails");
    let GenerateError::Refused(reason) = &err else { panic!("filtered output is a refusal: {err:?}") };
    assert!(reason.contains("violate our policies"), "{reason}");
    assert!(!env.output().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_with_a_script_assembles_clips_from_cloud_storage() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(
        FakeProvidersConfig::default(),
        &[
            ("GENERATOR", "veo"),
            ("VEO_ASSEMBLY", "voiceover"),
            ("PIPELINE_SEGMENTS", "2"),
            ("SEGMENT_SECONDS", "4"),
            ("VERTEX_MODEL", "veo-3.0-fast-generate-001"),
        ],
    )
    .await;
    env.fake.set_veo_outcome(VeoOutcome::GcsVideo);
    let asset = env.asset("two paper planes").await;
    let progress = no_progress();
    env.generator().generate(request(asset, "two paper planes", &env.output(), &progress)).await.expect("succeeds");
    let fake = &env.fake;
    assert_eq!(fake.calls(Endpoint::VeoPredict), 2);
    assert_eq!(fake.calls(Endpoint::Storage), 2, "each gs:// result downloaded once");
    assert_eq!(fake.calls(Endpoint::Chat), 1 + 2, "a script and a video prompt per segment");
    assert_eq!(fake.calls(Endpoint::Speech), 1);
    assert!(fake.requests(Endpoint::VeoPredict).iter().all(|r| r["parameters"]["generateAudio"] == false));
    let (duration, streams) = probe(&env.output()).await;
    assert!((duration - 8.0).abs() < 0.3, "{duration}");
    assert!(streams.contains(&"audio".to_owned()));
    assert!(progress.lock().expect("log").iter().any(|t| t.contains("Clips 2/2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_messages_are_transcribed_and_keys_stay_secret() {
    let env = Env::new(FakeProvidersConfig::default(), &[]).await;
    let settings = env.settings();
    let client = OpenAiClient::new(&settings.openai, Duration::from_secs(5), RetryPolicy::default()).expect("client");
    let text = client.transcribe(b"OggS fake voice", "voice.ogg", "audio/ogg").await.expect("transcribed");
    assert_eq!(text, "a birthday greeting for Zoë");
    let sent = &env.fake.requests(Endpoint::Transcription)[0];
    assert_eq!(sent["file_name"], "voice.ogg");
    assert_eq!(sent["file_bytes"], 15);
    assert_eq!(sent["file_content_type"], "audio/ogg");
    assert_eq!(sent["model"], settings.openai.transcribe_model.as_str());

    let mut wrong = settings.openai.clone();
    wrong.api_key = Some(vidcache::providers::Secret::new("sk-wrong-key-123"));
    let client = OpenAiClient::new(&wrong, Duration::from_secs(5), RetryPolicy::default()).expect("client");
    let err = client.transcribe(b"OggS", "voice.ogg", "audio/ogg").await.expect_err("401");
    assert!(matches!(err, ProviderError::Status { status: 401, .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("sk-wrong-key-123"));
    assert!(!format!("{settings:?}").contains(&env.fake.config().openai_key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_refusal_is_a_refusal() {
    let env = Env::new(FakeProvidersConfig::default(), &[]).await;
    env.fake.set_chat_refusal(Some("I can't help with that."));
    let settings = env.settings();
    let client = OpenAiClient::new(&settings.openai, Duration::from_secs(5), RetryPolicy::default()).expect("client");
    let err = client.chat("system", "user", vidcache::providers::openai::ChatFormat::Text).await.expect_err("refused");
    assert!(err.is_refusal(), "{err:?}");
}

#[tokio::test]
async fn build_generator_names_what_is_missing() {
    let env = Env::new(FakeProvidersConfig::default(), &[]).await;
    let build = |vars: &[(&str, &str)]| {
        let mut all = env.vars.clone();
        for (name, value) in vars {
            all.insert((*name).to_owned(), (*value).to_owned());
        }
        all.retain(|_, v| !v.is_empty());
        let settings = ProviderSettings::from_lookup(&move |name| all.get(name).cloned()).expect("settings");
        build_generator(settings.generator, &settings, env.db.clone(), env.dir.path().join("w"), LocalGenerator::default())
            .err()
            .map(|e| e.to_string())
    };
    let err = build(&[("OPENAI_API_KEY", ""), ("RUNWAYML_API_SECRET", "")]).expect("keys are required");
    assert!(err.contains("OPENAI_API_KEY") && err.contains("RUNWAYML_API_SECRET"), "{err}");
    let err = build(&[("GENERATOR", "veo"), ("VERTEX_ACCESS_TOKEN", "")]).expect("credentials are required");
    assert!(err.contains("VERTEX_ACCESS_TOKEN") && err.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{err}");
    let err = build(&[("GENERATOR", "veo"), ("VERTEX_PROJECT", "")]).expect("a project is required");
    assert!(err.contains("VERTEX_PROJECT"), "{err}");
    assert!(build(&[("GENERATOR", "local"), ("OPENAI_API_KEY", "")]).is_none());
}

/// Clips are asked for a length the video model takes — the shortest that
/// covers the segment — and cut to the segment by the assembly: 1 s
/// segments with gen4_turbo (2–10 s) ask for 2 s clips and make a 2 s
/// video; a 12 s segment asks for gen4_turbo's longest, 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_lengths_fit_the_model_and_are_cut_to_the_segment() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "2"), ("SEGMENT_SECONDS", "1")]).await;
    let asset = env.asset("tin soldiers").await;
    env.generator().generate(request(asset, "tin soldiers", &env.output(), &no_progress())).await.expect("succeeds");
    let clips = env.fake.requests(Endpoint::ImageToVideo);
    assert_eq!(clips.len(), 2);
    assert!(clips.iter().all(|c| c["duration"] == 2 && c["model"] == "gen4_turbo" && c["ratio"] == "1280:720"), "{clips:?}");
    let (duration, _) = probe(&env.output()).await;
    assert!((duration - 2.0).abs() < 0.15, "two 1 s segments, cut from 2 s clips: {duration}");

    let env = Env::new(FakeProvidersConfig::default(), &[("PIPELINE_SEGMENTS", "1"), ("SEGMENT_SECONDS", "12")]).await;
    let asset = env.asset("a long pan").await;
    env.generator().generate(request(asset, "a long pan", &env.output(), &no_progress())).await.expect("succeeds");
    let clips = env.fake.requests(Endpoint::ImageToVideo);
    assert_eq!(clips.iter().map(|c| c["duration"].clone()).collect::<Vec<_>>(), [serde_json::json!(10)], "the longest clip");
    let (duration, _) = probe(&env.output()).await;
    assert!((duration - 12.0).abs() < 0.15, "the 10 s clip held to the 12 s segment: {duration}");
}

/// Settings the providers' APIs would refuse stop the start, saying what
/// they take — before anything is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_the_apis_refuse_stop_the_start() {
    for (vars, needle) in [
        (&[("RUNWAY_VIDEO_MODEL", "gen3a_turbo")][..], "RUNWAY_VIDEO_MODEL=`gen3a_turbo`"),
        (&[("RUNWAY_VIDEO_MODEL_FAST", "gen3a_turbo")][..], "RUNWAY_VIDEO_MODEL_FAST=`gen3a_turbo`"),
        (&[("RUNWAY_IMAGE_MODEL", "gen4_image_turbo")][..], "RUNWAY_IMAGE_MODEL=`gen4_image_turbo`"),
        (&[("GENERATOR", "veo"), ("VERTEX_MODEL", "imagen-3.0-generate-002")][..], "VERTEX_MODEL=`imagen-3.0-generate-002`"),
        (&[("GENERATOR", "veo"), ("VERTEX_MODEL_FAST", "veo-1")][..], "VERTEX_MODEL_FAST=`veo-1`"),
    ] {
        let env = Env::new(FakeProvidersConfig::default(), vars).await;
        let settings = env.settings();
        let err =
            build_generator(settings.generator, &settings, env.db.clone(), env.dir.path().join("w"), LocalGenerator::default())
                .err()
                .unwrap_or_else(|| panic!("{vars:?} must not build"));
        assert!(err.to_string().contains(needle), "{vars:?}: {err}");
        assert_eq!(env.fake.calls(Endpoint::ImageToVideo) + env.fake.calls(Endpoint::VeoPredict), 0);
    }
    // the format decides the ratio now: the old variables start, with a warning
    let env = Env::new(FakeProvidersConfig::default(), &[("RUNWAY_RATIO", "1024:1024")]).await;
    let settings = env.settings();
    assert!(
        build_generator(settings.generator, &settings, env.db.clone(), env.dir.path().join("w"), LocalGenerator::default())
            .is_ok()
    );
    let notes = vidcache::generator::startup_notes(&settings, 5);
    assert!(notes.iter().any(|n| n.starts_with("RUNWAY_RATIO=1024:1024 is ignored")), "{notes:?}");
}

/// A provider's absurd `Retry-After` (`1e20`, a date in the year 9999,
/// `-1`, `NaN`) panics nothing: the call is retried after a wait capped at
/// the policy's `max_retry_after` (or the usual backoff, for a value that
/// is no wait at all) and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_capped_and_the_call_retried() {
    let env = Env::new(FakeProvidersConfig::default(), &[]).await;
    let settings = env.settings();
    let cap = Duration::from_millis(300);
    let retry = RetryPolicy { max_retry_after: cap, base: Duration::from_millis(10), ..RetryPolicy::default() };
    let client = OpenAiClient::new(&settings.openai, Duration::from_secs(5), retry).expect("client");
    let fake = &env.fake;
    let absurd = ["1e20", "Fri, 31 Dec 9999 23:59:59 GMT", "18446744073709551616", "inf"];
    for value in absurd {
        fake.fail_next(Endpoint::Chat, Fault::RetryAfter(value.to_owned()), 1);
    }
    for value in ["-1", "NaN"] {
        fake.fail_next(Endpoint::Chat, Fault::RetryAfter(value.to_owned()), 1);
    }
    // five tries in all by default: two calls get through the six faults
    let started = std::time::Instant::now();
    let first = client.chat("system", "user", vidcache::providers::openai::ChatFormat::Text).await;
    assert!(matches!(first, Err(ProviderError::Status { status: 429, .. })), "five 429s in a row end the call: {first:?}");
    let second = client.chat("system", "user", vidcache::providers::openai::ChatFormat::Text).await;
    assert!(second.is_ok(), "{second:?}");
    let elapsed = started.elapsed();
    let log = fake.call_log(Endpoint::Chat);
    assert_eq!(log.iter().filter(|c| c.status == 429).count(), 6, "every fault was answered and retried");
    assert_eq!(log.iter().filter(|c| c.status == 200).count(), 1);
    // four capped waits; the rest are short backoffs
    assert!(elapsed >= cap * 4, "the capped waits were waited: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "no wait was longer than the cap: {elapsed:?}");
}
