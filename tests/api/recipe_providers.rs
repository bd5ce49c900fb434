//! Every generator honours the recipe: quality (model, frame), format
//! (aspect ratio, portrait frames), length (seconds, segments) and a
//! remix's photo — checked on what the fake providers received (they
//! refuse what the real APIs refuse) and on the files made (ffprobe).
//!
//! Tests that run ffmpeg print a note and return when it is not installed.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, TaskKind};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::Value;
use vidcache::config::{DataStore, ProviderSettings};
use vidcache::db::entities::video_assets;
use vidcache::db::stages::{self, StageKind, StageStatus};
use vidcache::domain::{
    AssetId, AssetStatus, Choices, Format, Generation, GeneratorKind, ImageDigest, Length, Prompt, Quality, Recipe, Wanted,
};
use vidcache::generator::{
    ExtendPart, GenerateError, GenerationRequest, Generator, LocalGenerator, MAX_DATA_URI_BYTES, NoGates, SourceImage,
    build_generator, ffmpeg,
};

fn recipe(kind: GeneratorKind, quality: Quality, format: Format, length: Length) -> Recipe {
    Recipe::new(Choices { quality, format, length }, kind)
}

/// A fake, a database and the settings that point at the fake.
struct Env {
    fake: FakeProviders,
    dir: tempfile::TempDir,
    db: DatabaseConnection,
    vars: HashMap<String, String>,
}

impl Env {
    async fn new(vars: &[(&str, &str)]) -> Self {
        let fake = FakeProviders::start(FakeProvidersConfig::default()).await.expect("fake providers start");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DataStore::parse(&format!("sqlite://{}?mode=rwc", dir.path().join("t.sqlite").display())).expect("a URL");
        let db = vidcache::db::connect(&store).await.expect("database opens");
        let env = support::provider_env(&fake, &[("PROVIDER_HTTP_TIMEOUT_S", "20".to_owned())], vars);
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

    async fn asset(&self, prompt: &str, recipe: &Recipe) -> AssetId {
        let wanted = Wanted::new(Prompt::parse(prompt, 1000).expect("a prompt"), recipe.clone());
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, None, Utc::now());
        row.status = Set(AssetStatus::Generating);
        row.dispatched_generation = Set(1);
        row.attempts = Set(1);
        row.stage = Set(None);
        row.lease_owner = Set(Some("test".into()));
        row.insert(&self.db).await.expect("asset row").id
    }

    fn output(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes a video of `recipe` (with `photo` for a remix) into `name`.
    async fn make(&self, name: &str, recipe: Recipe, photo: Option<&[u8]>) -> Result<PathBuf, GenerateError> {
        let recipe = match photo {
            Some(bytes) => recipe.with_image(ImageDigest::of(bytes)),
            None => recipe,
        };
        let asset = self.asset(name, &recipe).await;
        let output = self.output(&format!("{name}.mp4"));
        self.generator().generate(request(asset, name, &output, recipe, photo)).await?;
        Ok(output)
    }
}

fn request(asset: AssetId, prompt: &str, output: &Path, recipe: Recipe, photo: Option<&[u8]>) -> GenerationRequest {
    GenerationRequest {
        job: Generation { asset, number: 1 },
        prompt: prompt.to_owned(),
        output: output.to_owned(),
        progress: Arc::new(|_| {}),
        extend: None,
        gates: Arc::new(NoGates),
        recipe,
        image: photo.map(|bytes| SourceImage { bytes: Arc::new(bytes.to_vec()), mime: "image/jpeg".to_owned() }),
    }
}

/// Width, height and duration of a video, as ffprobe reads them.
async fn dims(path: &Path) -> (u32, u32, f64) {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x"])
        .arg(path)
        .output()
        .await
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let (w, h) = text.trim().split_once('x').unwrap_or_else(|| panic!("ffprobe: {text}"));
    let seconds = ffmpeg::probe_duration(path).await.expect("a duration");
    (w.parse().expect("width"), h.trim().parse().expect("height"), seconds)
}

/// A solid-colour photo made by ffmpeg (`ext`: jpg or png).
async fn photo(dir: &Path, colour: &str, size: &str, ext: &str) -> Vec<u8> {
    let path = dir.join(format!("photo-{colour}-{size}.{ext}"));
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={colour}:s={size}"))
        .args(["-frames:v", "1"])
        .arg(&path)
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(&path).expect("the photo")
}

/// The RGB of pixel (x, y) of a video's first frame.
async fn pixel(video: &Path, x: u32, y: u32, width: u32) -> [u8; 3] {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .await
        .expect("ffmpeg runs");
    let at = ((y * width + x) * 3) as usize;
    [out.stdout[at], out.stdout[at + 1], out.stdout[at + 2]]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_renderer_follows_the_recipe() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(&[("GENERATOR", "local")]).await;
    let local = |q, f, l| recipe(GeneratorKind::Local, q, f, l);
    let fast = env.make("fast", local(Quality::Fast, Format::Landscape, Length::Short), None).await.expect("renders");
    let (w, h, short) = dims(&fast).await;
    assert_eq!((w, h), (640, 360));
    assert!(close(short, 3.0), "{short}");
    let best = env.make("best", local(Quality::Quality, Format::Portrait, Length::Long), None).await.expect("renders");
    let (bw, bh, long) = dims(&best).await;
    assert_eq!((bw, bh), (540, 960), "a portrait frame, more pixels than fast");
    assert!(bw * bh > w * h);
    assert!(long >= short + 2.0, "long {long} s, short {short} s");
    let upright = env.make("upright", local(Quality::Fast, Format::Portrait, Length::Short), None).await.expect("renders");
    let (uw, uh, _) = dims(&upright).await;
    assert_eq!((uw, uh), (360, 640));

    // a remix: the photo fills the frame, the caption over its lower third
    let red = photo(env.dir.path(), "red", "800x600", "jpg").await;
    let remix =
        env.make("remix", local(Quality::Fast, Format::Portrait, Length::Short), Some(&red)).await.expect("renders the photo");
    assert_eq!(dims(&remix).await.0, 360);
    let [r, g, b] = pixel(&remix, 20, 20, 360).await;
    assert!(r > 180 && g < 80 && b < 80, "the photo's red fills the frame: {r},{g},{b}");
    let [r, g, b] = pixel(&fast, 20, 20, 640).await;
    assert!(!(r > 180 && g < 80 && b < 80), "no photo, no red: {r},{g},{b}");

    let local_generator = LocalGenerator::default();
    let made = local_generator.made_with(&local(Quality::Quality, Format::Portrait, Length::Long));
    assert_eq!((made.model.as_str(), made.aspect_ratio.as_str(), made.resolution.as_str()), ("local", "9:16", "540x960"));
    assert_eq!(made.duration_secs, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_photo_cannot_be_made_and_costs_nothing() {
    let env = Env::new(&[("GENERATOR", "local")]).await;
    let r = recipe(GeneratorKind::Local, Quality::Fast, Format::Landscape, Length::Short);
    let err = env.make("broken", r, Some(b"\xFF\xD8\xFF\xE0 not really a jpeg")).await.expect_err("refused");
    assert!(matches!(err, GenerateError::CannotRun(_)), "{err:?}");

    if !support::have_ffmpeg() {
        return;
    }
    for generator in ["pipeline", "veo"] {
        let env = Env::new(&[("GENERATOR", generator)]).await;
        let kind = generator.parse().expect("a kind");
        let r = recipe(kind, Quality::Fast, Format::Landscape, Length::Short);
        let err = env.make("broken", r, Some(b"GIF89a not a photo")).await.expect_err("refused");
        // ffmpeg re-encodes what it can read; without ffmpeg the photo can't be re-encoded: CannotRun either way
        assert!(matches!(err, GenerateError::CannotRun(_)), "{generator}: {err:?}");
        let fake = &env.fake;
        let paid = [Endpoint::Chat, Endpoint::TextToImage, Endpoint::ImageToVideo, Endpoint::VeoPredict];
        assert_eq!(paid.iter().map(|e| fake.arrived(*e)).sum::<usize>(), 0, "{generator}: nothing paid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_in_one_call_follows_the_recipe() {
    let env = Env::new(&[("GENERATOR", "veo"), ("OPENAI_API_KEY", "")]).await;
    let veo = |q, f, l| recipe(GeneratorKind::Veo, q, f, l);
    let best = env.make("best", veo(Quality::Quality, Format::Portrait, Length::Long), None).await.expect("veo succeeds");
    let fast = env.make("fast", veo(Quality::Fast, Format::Landscape, Length::Short), None).await.expect("veo succeeds");
    let fake = &env.fake;
    assert_eq!(fake.veo_models(), ["veo-3.0-generate-001", "veo-3.0-fast-generate-001"]);
    let sent = fake.requests(Endpoint::VeoPredict);
    assert_eq!(sent[0]["parameters"]["aspectRatio"], "9:16");
    assert_eq!(sent[0]["parameters"]["durationSeconds"], 8, "long: Veo 3's 8 s");
    assert_eq!(sent[1]["parameters"]["aspectRatio"], "16:9");
    assert_eq!(sent[1]["parameters"]["durationSeconds"], 6, "short: Veo 3's 6 s");
    assert!(sent.iter().all(|s| s["instances"][0].get("image").is_none()), "no photo, no image");

    let made = env.generator().made_with(&veo(Quality::Quality, Format::Portrait, Length::Long));
    assert_eq!(
        (made.model.as_str(), made.aspect_ratio.as_str(), made.duration_secs, made.resolution.as_str()),
        ("veo-3.0-generate-001", "9:16", 8, "720p")
    );
    let made = env.generator().made_with(&veo(Quality::Fast, Format::Landscape, Length::Short));
    assert_eq!((made.model.as_str(), made.duration_secs), ("veo-3.0-fast-generate-001", 6));

    // a remix: the photo is instances[0].image
    let png = fakes::providers::png(64, 48);
    env.make("remix", veo(Quality::Fast, Format::Portrait, Length::Short), Some(&png)).await.expect("veo succeeds");
    let sent = &fake.requests(Endpoint::VeoPredict)[2];
    let image = &sent["instances"][0]["image"];
    assert_eq!(image["mimeType"], "image/png");
    assert_eq!(STANDARD.decode(image["bytesBase64Encoded"].as_str().expect("bytes")).expect("base64"), png);
    assert_eq!(sent["parameters"]["aspectRatio"], "9:16");

    if support::have_ffmpeg() {
        let (w, h, seconds) = dims(&best).await;
        assert_eq!((w, h), (180, 320), "the fake's clip, upright for 9:16");
        assert!(close(seconds, 8.0), "{seconds}");
        let (w, h, seconds) = dims(&fast).await;
        assert_eq!((w, h), (320, 180));
        assert!(close(seconds, 6.0), "{seconds}");
    }

    // Veo 2 takes 5–8 s: short 5, long 8
    let env = Env::new(&[("GENERATOR", "veo"), ("OPENAI_API_KEY", ""), ("VERTEX_MODEL_FAST", "veo-2.0-generate-001")]).await;
    env.make("v2", veo(Quality::Fast, Format::Landscape, Length::Short), None).await.expect("veo 2 succeeds");
    env.make("v2-long", veo(Quality::Fast, Format::Portrait, Length::Long), None).await.expect("veo 2 succeeds");
    let sent = env.fake.requests(Endpoint::VeoPredict);
    let seconds: Vec<&Value> = sent.iter().map(|s| &s["parameters"]["durationSeconds"]).collect();
    assert_eq!(seconds, [5, 8]);
    assert!(sent.iter().all(|s| s["parameters"].get("generateAudio").is_none()), "Veo 2 takes no generateAudio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_with_a_voiceover_applies_the_recipe_to_every_clip() {
    if !support::have_ffmpeg() {
        return;
    }
    let vars = [
        ("GENERATOR", "veo"),
        ("VEO_ASSEMBLY", "voiceover"),
        ("PIPELINE_SEGMENTS", "1"),
        ("PIPELINE_SEGMENTS_LONG", "2"),
        ("SEGMENT_SECONDS", "4"),
    ];
    let env = Env::new(&vars).await;
    let veo = |q, f, l| recipe(GeneratorKind::Veo, q, f, l);
    let green = photo(env.dir.path(), "green", "96x64", "png").await;
    let best = env.make("best", veo(Quality::Quality, Format::Portrait, Length::Long), Some(&green)).await.expect("assembles");
    let fake = &env.fake;
    assert_eq!(fake.veo_models(), ["veo-3.0-generate-001", "veo-3.0-generate-001"], "a clip per segment of a long video");
    let sent = fake.requests(Endpoint::VeoPredict);
    assert!(sent.iter().all(|s| s["parameters"]["aspectRatio"] == "9:16" && s["parameters"]["durationSeconds"] == 4));
    // the clips are asked for side by side: their order at the fake is not theirs
    let with_image: Vec<&serde_json::Value> = sent.iter().filter(|s| s["instances"][0].get("image").is_some()).collect();
    assert_eq!(with_image.len(), 1, "the photo starts the first clip only: {sent:?}");
    assert_eq!(with_image[0]["instances"][0]["image"]["mimeType"], "image/png");
    let (w, h, seconds) = dims(&best).await;
    assert_eq!((w, h), (180, 320), "PIPELINE_VIDEO_SIZE upright");
    assert!(close(seconds, 8.0), "two 4 s segments: {seconds}");

    let fast = env.make("fast", veo(Quality::Fast, Format::Landscape, Length::Short), None).await.expect("assembles");
    assert_eq!(fake.veo_models()[2..], ["veo-3.0-fast-generate-001"]);
    assert_eq!(fake.requests(Endpoint::VeoPredict)[2]["parameters"]["aspectRatio"], "16:9");
    let (w, h, seconds) = dims(&fast).await;
    assert_eq!((w, h), (320, 180));
    assert!(close(seconds, 4.0), "{seconds}");
    let made = env.generator().made_with(&veo(Quality::Quality, Format::Portrait, Length::Long));
    assert_eq!((made.model.as_str(), made.duration_secs, made.resolution.as_str()), ("veo-3.0-generate-001", 8, "180x320"));

    // the voice-over needs OpenAI: said at start-up
    let env = Env::new(&[("GENERATOR", "veo"), ("VEO_ASSEMBLY", "voiceover"), ("OPENAI_API_KEY", "")]).await;
    let settings = env.settings();
    let err = build_generator(settings.generator, &settings, env.db.clone(), env.dir.path().join("w"), LocalGenerator::default())
        .err()
        .expect("needs OPENAI_API_KEY")
        .to_string();
    assert!(err.contains("VEO_ASSEMBLY=voiceover") && err.contains("OPENAI_API_KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runway_pipeline_follows_the_recipe() {
    if !support::have_ffmpeg() {
        return;
    }
    let vars = [
        ("GENERATOR", "pipeline"),
        ("PIPELINE_SEGMENTS", "1"),
        ("PIPELINE_SEGMENTS_LONG", "2"),
        ("SEGMENT_SECONDS", "2"),
        ("RUNWAY_VIDEO_MODEL", "gen4.5"),
    ];
    let env = Env::new(&vars).await;
    let pipeline = |q, f, l| recipe(GeneratorKind::Pipeline, q, f, l);
    let best = env.make("best", pipeline(Quality::Quality, Format::Portrait, Length::Long), None).await.expect("assembles");
    let fake = &env.fake;
    let images = fake.requests(Endpoint::TextToImage);
    let clips = fake.requests(Endpoint::ImageToVideo);
    assert_eq!((images.len(), clips.len()), (2, 2), "a long video: PIPELINE_SEGMENTS_LONG segments");
    assert!(images.iter().all(|i| i["ratio"] == "1080:1920" && i["model"] == "gen4_image"), "{images:?}");
    assert!(clips.iter().all(|c| c["ratio"] == "720:1280" && c["model"] == "gen4.5" && c["duration"] == 2), "{clips:?}");
    let (w, h, seconds) = dims(&best).await;
    assert_eq!((w, h), (180, 320), "PIPELINE_VIDEO_SIZE upright");
    assert!(close(seconds, 4.0), "{seconds}");

    let fast = env.make("fast", pipeline(Quality::Fast, Format::Landscape, Length::Short), None).await.expect("assembles");
    let images = fake.requests(Endpoint::TextToImage);
    let clips = fake.requests(Endpoint::ImageToVideo);
    assert_eq!((images.len(), clips.len()), (3, 3), "a short video: one segment");
    assert_eq!((images[2]["ratio"].as_str(), clips[2]["ratio"].as_str()), (Some("1920:1080"), Some("1280:720")));
    assert_eq!(clips[2]["model"], "gen4_turbo");
    let (w, h, seconds) = dims(&fast).await;
    assert_eq!((w, h), (320, 180));
    assert!(close(seconds, 2.0), "{seconds}");

    let made = env.generator().made_with(&pipeline(Quality::Quality, Format::Portrait, Length::Long));
    assert_eq!(
        (made.model.as_str(), made.aspect_ratio.as_str(), made.duration_secs, made.resolution.as_str()),
        ("gen4.5", "9:16", 4, "180x320")
    );
    let made = env.generator().made_with(&pipeline(Quality::Fast, Format::Landscape, Length::Short));
    assert_eq!((made.model.as_str(), made.duration_secs, made.resolution.as_str()), ("gen4_turbo", 2, "320x180"));
}

/// A remix on Runway: the photo is the first clip's `promptImage` (a
/// `data:` URI), no image is bought for that segment, and a re-run of the
/// generation buys nothing again. A photo too large for a data URI is
/// re-encoded below Runway's limit first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remix_on_runway_starts_from_the_photo() {
    if !support::have_ffmpeg() {
        return;
    }
    let vars = [("GENERATOR", "pipeline"), ("PIPELINE_SEGMENTS", "1"), ("PIPELINE_SEGMENTS_LONG", "2"), ("SEGMENT_SECONDS", "2")];
    let env = Env::new(&vars).await;
    let yellow = photo(env.dir.path(), "yellow", "120x160", "jpg").await;
    let r = recipe(GeneratorKind::Pipeline, Quality::Fast, Format::Portrait, Length::Long).with_image(ImageDigest::of(&yellow));
    let asset = env.asset("a remix", &r).await;
    let output = env.output("remix.mp4");
    env.generator().generate(request(asset, "a remix", &output, r.clone(), Some(&yellow))).await.expect("assembles");
    let fake = &env.fake;
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 1, "an image for the second segment only");
    let clips = fake.requests(Endpoint::ImageToVideo);
    assert_eq!(clips.len(), 2);
    let first =
        clips.iter().find(|c| c["promptImage"].as_str().is_some_and(|u| u.starts_with("data:image/jpeg;"))).expect("the photo");
    let data = first["promptImage"].as_str().and_then(|u| u.strip_prefix("data:image/jpeg;base64,")).expect("a data URI");
    assert_eq!(STANDARD.decode(data).expect("base64"), yellow, "the photo itself");
    assert!(clips.iter().all(|c| c["ratio"] == "720:1280"));
    let (w, h, _) = dims(&output).await;
    assert_eq!((w, h), (180, 320));
    let image_step =
        stages::find(&env.db, stages::StepKey { asset_id: asset, generation: 1, kind: StageKind::Image, segment: 0 })
            .await
            .expect("db")
            .expect("the photo's step");
    assert_eq!((image_step.status, image_step.provider.as_deref()), (StageStatus::Done, Some("remix")));

    // a re-run (a retry, a restart) pays for nothing again
    std::fs::remove_file(&output).expect("removed");
    env.generator().generate(request(asset, "a remix", &output, r, Some(&yellow))).await.expect("assembles again");
    assert_eq!((fake.tasks_created(TaskKind::TextToImage), fake.tasks_created(TaskKind::ImageToVideo)), (1, 2));

    // above Runway's 5 MB data URI limit: re-encoded as a JPEG that fits
    let noisy = env.dir.path().join("noisy.png");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "nullsrc=s=1800x1800,geq=random(1)*255:128:128"])
        .args(["-frames:v", "1"])
        .arg(&noisy)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let big = std::fs::read(&noisy).expect("png");
    assert!(big.len() * 4 / 3 > MAX_DATA_URI_BYTES, "the test photo is above the limit: {} bytes", big.len());
    let r = recipe(GeneratorKind::Pipeline, Quality::Fast, Format::Landscape, Length::Short).with_image(ImageDigest::of(&big));
    let asset = env.asset("a big remix", &r).await;
    env.generator().generate(request(asset, "a big remix", &env.output("big.mp4"), r, Some(&big))).await.expect("assembles");
    let last = fake.requests(Endpoint::ImageToVideo).pop().expect("a clip");
    let uri = last["promptImage"].as_str().expect("a URI");
    assert!(uri.starts_with("data:image/jpeg;base64,") && uri.len() <= MAX_DATA_URI_BYTES, "{} bytes", uri.len());
    assert_eq!(fake.tasks_created(TaskKind::TextToImage), 1, "still no image bought for a remix's only segment");
}

/// A chain of extensions grows past the 1–30 s that Veo extends: the
/// parent is cut to its last seconds before it is sent (the fake refuses a
/// longer input, as Vertex does), and the new part is still Veo's 7 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_extends_at_most_thirty_seconds_of_a_longer_video() {
    if !support::have_ffmpeg() {
        return;
    }
    let env = Env::new(&[("GENERATOR", "veo"), ("OPENAI_API_KEY", ""), ("VERTEX_MODEL_FAST", "veo-3.1-fast-generate-001")]).await;
    let parent = env.output("parent.mp4");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=24:duration=35"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&parent)
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success());
    let veo = recipe(GeneratorKind::Veo, Quality::Fast, Format::Landscape, Length::Short);
    let asset = env.asset("and then it rains", &veo).await;
    let output = env.output("extension.mp4");
    let mut wanted = request(asset, "and then it rains", &output, veo, None);
    wanted.extend = Some(ExtendPart { parent_video: parent, original_prompt: "a long walk".to_owned(), seconds: 8 });
    env.generator().generate(wanted).await.expect("the extension is made");

    let sent = env.fake.requests(Endpoint::VeoPredict);
    assert_eq!(sent.len(), 1, "one Veo call: {sent:?}");
    assert_eq!(sent[0]["parameters"]["durationSeconds"], 7);
    let video = sent[0]["instances"][0]["video"]["bytesBase64Encoded"].as_str().expect("the video to extend");
    let input = env.output("sent.mp4");
    std::fs::write(&input, STANDARD.decode(video).expect("base64")).expect("written");
    let (_, _, seconds) = dims(&input).await;
    assert!((28.0..=30.0).contains(&seconds), "Veo was given {seconds} s to extend");
    let (_, _, part) = dims(&output).await;
    assert!(close(part, 7.0), "the new part lasts {part} s");
}
