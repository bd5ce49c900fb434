//! `kill -9` of the real binary at five points of a staged generation
//! (`GENERATOR=pipeline` against fake providers on loopback), each followed
//! by a restart on the same data directory and the same fakes:
//! after the script, during the images, during the clips, during the
//! voice-over and during the assembly.
//!
//! Every point checks that the user gets exactly one video, and that every
//! provider operation was paid at most once per segment — except a submit
//! whose answer never arrived (the process died between the POST and its
//! answer): no task id could be recorded for it, so the next generation
//! submits again. Those are counted from the fake's request log against
//! the tasks recorded in `generation_stages`, and bounded:
//!
//! **Bound for lost submits**: per kill, at most one extra call per step
//! that was in flight at the kill — a step of that operation left `running`
//! without a recorded task (what the reconciler reports as "unsure"). With
//! one kill per test: for each segment, submits ≤ 1 + (1 if that segment's
//! step was in flight at the kill); in total, tasks created ≤ segments +
//! steps in flight; every task the fake created and nobody recorded is one
//! of those; the script is written once (it was done before every kill)
//! and the voice-over asked for at most 1 + (1 if it was in flight); each
//! segment's chat calls (its image prompt and its animation prompt, paid
//! calls of their own) are made once, or twice where that step was in
//! flight at the kill — finished ones are carried over to the takeover.
//!
//! The points are hit by waiting on conditions (rows of `generation_stages`,
//! the fake's counters, the service's ffmpeg child), never on sleeps: the
//! Runway tasks of the phase being killed are held running by the fake, the
//! first speech call hangs, and the assembly is caught while its ffmpeg runs.

use crate::support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::{Harness, videos_to};
use fakes::providers::{Endpoint, FakeProviders, FakeProvidersConfig, Fault, TaskKind, TaskOutcome};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use vidcache::db::entities::{generation_stages, video_assets};
use vidcache::db::stages::{self, StageKind, StageStatus, StepRow};
use vidcache::domain::{AssetId, AssetStatus, RequestStatus};
use vidcache::generator::ffmpeg;

const SEGMENTS: usize = 3;
const CHAT: i64 = 4242;
const LONG: Duration = Duration::from_secs(60);

/// Where the first run is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    AfterScript,
    Images,
    Clips,
    Voice,
    Assembly,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_after_the_script() {
    crash_at(Point::AfterScript).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_the_images() {
    crash_at(Point::Images).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_the_clips() {
    crash_at(Point::Clips).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_the_voice_over() {
    crash_at(Point::Voice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_the_assembly() {
    crash_at(Point::Assembly).await;
}

/// A harness whose service runs the pipeline against `fake`, small and fast.
async fn harness(fake: &FakeProviders, point: Point) -> Harness {
    let mut h = Harness::new().await;
    let config = fake.config();
    // a larger frame for the assembly point only, so its ffmpeg runs long enough to be caught
    let size = if point == Point::Assembly { "960x540" } else { "160x96" };
    for (name, value) in [
        ("GENERATOR", "pipeline".to_owned()),
        ("OPENAI_API_KEY", config.openai_key.clone()),
        ("OPENAI_BASE_URL", fake.openai_base_url()),
        ("RUNWAYML_API_SECRET", config.runway_secret.clone()),
        ("RUNWAYML_BASE_URL", fake.runway_base_url()),
        ("PIPELINE_SEGMENTS", SEGMENTS.to_string()),
        ("PIPELINE_PARALLELISM", SEGMENTS.to_string()),
        ("SEGMENT_SECONDS", "1".to_owned()),
        ("PIPELINE_VIDEO_SIZE", size.to_owned()),
        ("PROVIDER_POLL_INTERVAL_MS", "20".to_owned()),
        ("PROVIDER_HTTP_TIMEOUT_S", "10".to_owned()),
        ("JOB_LEASE_SECS", "3".to_owned()),
        ("QUEUE_POLL_INTERVAL_MS", "200".to_owned()),
    ] {
        h.set(name, &value);
    }
    h
}

/// Every step of every generation of `asset`.
async fn all_steps(db: &DatabaseConnection, asset: AssetId) -> Vec<StepRow> {
    generation_stages::Entity::find().filter(generation_stages::Column::AssetId.eq(asset)).all(db).await.expect("stages")
}

fn step(rows: &[StepRow], kind: StageKind) -> Option<&StepRow> {
    rows.iter().find(|s| s.kind == kind && s.segment == stages::WHOLE)
}

fn of_kind(rows: &[StepRow], kind: StageKind) -> impl Iterator<Item = &StepRow> {
    rows.iter().filter(move |s| s.kind == kind)
}

/// Running without a recorded task: its submit may have been in flight.
fn in_flight(row: &StepRow) -> bool {
    row.status == StageStatus::Running && row.provider_task_id.is_none()
}

/// The pids of the children of `pid` named `name` (from /proc).
fn children_named(pid: u32, name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { return false };
            // "pid (comm) state ppid …"
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { return false };
            let ppid = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
            &stat[open + 1..close] == name && ppid == Some(pid)
        })
        .collect()
}

/// The takeover runs on another machine: the first run's intermediate
/// files (images, clips, the voice-over) are not there. What a provider
/// can hand out again is fetched, the voice-over is written back from the
/// database: nothing is paid again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_the_assembly_and_take_over_on_another_machine() {
    crash_and_take_over(Point::Assembly, Machine::Other).await;
}

/// Where the takeover runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Machine {
    /// The same machine: the intermediate files are there.
    Same,
    /// Another one, sharing the database but not the data dir's `work/`.
    Other,
}

async fn crash_at(point: Point) {
    crash_and_take_over(point, Machine::Same).await;
}

async fn crash_and_take_over(point: Point, machine: Machine) {
    if !ffmpeg::ffmpeg_available() {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is required in CI (apt-get install ffmpeg)");
        eprintln!("note: ffmpeg is not installed; skipping this pipeline test");
        return;
    }
    let config = FakeProvidersConfig { clip_size: (160, 96), image_size: (64, 36), ..Default::default() };
    let fake = FakeProviders::start(config).await.expect("fake providers start");
    match point {
        Point::AfterScript | Point::Assembly => {}
        // the tasks of the phase stay running, and the first submit's answer is held
        // back: a task made and billed whose id the service never learns
        Point::Images => {
            fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Hold);
            fake.fail_next(Endpoint::TextToImage, Fault::AnswerLate(Duration::from_secs(60)), 1);
        }
        Point::Clips => {
            fake.set_task_outcome(TaskKind::ImageToVideo, TaskOutcome::Hold);
            fake.fail_next(Endpoint::ImageToVideo, Fault::AnswerLate(Duration::from_secs(60)), 1);
        }
        // the first voice-over call gets no answer for a minute: the kill comes first
        Point::Voice => fake.fail_next(Endpoint::Speech, Fault::Hang(Duration::from_secs(60)), 1),
    }
    let h = harness(&fake, point).await;
    let started = Instant::now();

    // the first run, killed at `point`
    let service = h.spawn();
    let pid = service.child.id().expect("the service runs");
    h.wait_polling().await;
    let db = h.db().await;
    h.fake.push_text(CHAT, CHAT, "A lighthouse keeper's cat");
    let deadline = Instant::now() + LONG;
    let (asset, orphans) = loop {
        assert!(Instant::now() < deadline, "{point:?} was never reached\n{}", h.logs());
        tokio::time::sleep(Duration::from_millis(5)).await;
        // the assembly: its ffmpeg is running (looked for first, it is the shortest window)
        let assembling = if point == Point::Assembly { children_named(pid, "ffmpeg") } else { Vec::new() };
        if point == Point::Assembly && assembling.is_empty() {
            continue;
        }
        let Some(asset) = video_assets::Entity::find().one(&db).await.expect("assets") else { continue };
        let rows = stages::for_generation(&db, asset.id, asset.generation).await.expect("stages");
        // every task of the phase made, all but the one whose answer is held back recorded
        let submitted = |kind, task| {
            fake.tasks_created(task) == SEGMENTS
                && of_kind(&rows, kind).filter(|s| s.provider_task_id.is_some()).count() == SEGMENTS - 1
                && step(&rows, StageKind::Voice).is_some_and(|s| s.status == StageStatus::Done)
        };
        let reached = match point {
            Point::AfterScript => step(&rows, StageKind::Script).is_some_and(|s| s.status == StageStatus::Done),
            Point::Images => submitted(StageKind::Image, TaskKind::TextToImage),
            Point::Clips => submitted(StageKind::Clip, TaskKind::ImageToVideo),
            Point::Voice => {
                fake.arrived(Endpoint::Speech) >= 1
                    && step(&rows, StageKind::Voice).is_some_and(|s| s.status == StageStatus::Running)
            }
            Point::Assembly => step(&rows, StageKind::Assemble).is_some_and(|s| s.status == StageStatus::Running),
        };
        if reached {
            break (asset, assembling);
        }
    };
    service.kill9().await;
    // a dying machine takes the assembly's ffmpeg with it
    for orphan in orphans {
        let _ = std::process::Command::new("kill").arg("-KILL").arg(orphan.to_string()).status();
    }
    let killed_at = started.elapsed();

    // the dead generation, frozen at the kill
    let dead = stages::for_generation(&db, asset.id, asset.generation).await.expect("stages");
    let done = |kind| of_kind(&dead, kind).filter(|s| s.status == StageStatus::Done).count();
    assert_eq!(step(&dead, StageKind::Script).map(|s| s.status), Some(StageStatus::Done), "the script was written: {dead:?}");
    match point {
        Point::AfterScript => {}
        Point::Images => {
            assert_eq!(done(StageKind::Image), 0, "no image was finished: {dead:?}");
            assert_eq!(of_kind(&dead, StageKind::Image).filter(|s| in_flight(s)).count(), 1, "{dead:?}");
        }
        Point::Clips => {
            assert_eq!(done(StageKind::Image), SEGMENTS, "every image was finished: {dead:?}");
            assert_eq!(done(StageKind::Clip), 0, "no clip was finished: {dead:?}");
            assert_eq!(of_kind(&dead, StageKind::Clip).filter(|s| in_flight(s)).count(), 1, "{dead:?}");
        }
        Point::Voice => {
            assert_eq!(step(&dead, StageKind::Voice).map(|s| s.status), Some(StageStatus::Running), "{dead:?}");
            assert!(fake.requests(Endpoint::Speech).is_empty(), "the first voice-over was never answered");
        }
        Point::Assembly => {
            assert_eq!(step(&dead, StageKind::Assemble).map(|s| s.status), Some(StageStatus::Running), "{dead:?}");
            assert_eq!(done(StageKind::Clip), SEGMENTS, "{dead:?}");
            assert_eq!(step(&dead, StageKind::Voice).map(|s| s.status), Some(StageStatus::Done), "{dead:?}");
        }
    }
    assert!(h.fake.sent_to(CHAT).iter().all(|s| s.method != "sendVideo"), "no video before the kill");

    if machine == Machine::Other {
        let work = h.data_dir().join("work");
        std::fs::remove_dir_all(&work).expect("the first machine's intermediate files are not on the second");
    }
    // the restart: same data dir, same fakes; the held tasks may finish now
    fake.set_task_outcome(TaskKind::TextToImage, TaskOutcome::Succeed);
    fake.set_task_outcome(TaskKind::ImageToVideo, TaskOutcome::Succeed);
    let service = h.spawn();
    h.video_for(CHAT, 0).await;
    let settled = support::eventually(LONG, || async {
        h.assets().await.first().is_some_and(|a| a.status == AssetStatus::Available)
            && h.requests().await.iter().all(|r| r.status == RequestStatus::Completed)
    })
    .await;
    assert!(settled, "the asset became available and the request completed\n{}", h.logs());
    let finished = h.assets().await.pop().expect("asset");

    // exactly one video, one upload
    assert_eq!(videos_to(&h.fake.sent(), CHAT).len(), 1, "one video: {:?}", h.fake.sent_to(CHAT));
    assert_eq!(h.fake.uploads(), 1, "one upload");

    // paid at most once per segment, but for submits in flight at the kill
    let steps = all_steps(&db, asset.id).await;
    let last = stages::for_generation(&db, asset.id, finished.generation).await.expect("stages");
    assert!(last.iter().all(|s| s.status == StageStatus::Done), "the last generation finished every step: {last:?}");
    let mut report = Vec::new();
    for (kind, task, endpoint) in [
        (StageKind::Image, TaskKind::TextToImage, Endpoint::TextToImage),
        (StageKind::Clip, TaskKind::ImageToVideo, Endpoint::ImageToVideo),
    ] {
        let unsure: BTreeMap<i32, bool> = of_kind(&dead, kind).map(|s| (s.segment, in_flight(s))).collect();
        let in_flight_at_kill = unsure.values().filter(|u| **u).count();
        // recorded tasks: one per segment, over all generations
        let mut per_segment: BTreeMap<i32, HashSet<&str>> = BTreeMap::new();
        for row in of_kind(&steps, kind) {
            if let Some(id) = row.provider_task_id.as_deref() {
                per_segment.entry(row.segment).or_default().insert(id);
            }
        }
        assert_eq!(per_segment.len(), SEGMENTS, "{kind:?}: a task recorded for every segment: {steps:?}");
        for (segment, ids) in &per_segment {
            assert_eq!(ids.len(), 1, "{kind:?} segment {segment}: one task recorded over all generations, got {ids:?}");
        }
        let recorded: HashSet<&str> = per_segment.values().flatten().copied().collect();
        let created: HashSet<String> = fake.task_ids(task).into_iter().collect();
        assert!(recorded.iter().all(|id| created.contains(*id)), "{kind:?}: every recorded task is the provider's");
        let lost = created.iter().filter(|id| !recorded.contains(id.as_str())).count();
        // the request log: submits per segment, told apart by their prompt
        let bodies = fake.requests(endpoint);
        assert_eq!(bodies.len(), created.len(), "{kind:?}: every accepted submit made one task");
        for row in of_kind(&last, kind) {
            let prompt = row.input.as_deref().expect("the step's prompt");
            let submits = bodies.iter().filter(|b| b["promptText"] == prompt).count();
            let bound = 1 + usize::from(unsure.get(&row.segment).copied().unwrap_or(false));
            assert!(
                submits <= bound,
                "{kind:?} segment {}: {submits} submits, at most {bound} (in flight at the kill: {})",
                row.segment,
                bound - 1
            );
        }
        assert!(
            lost <= in_flight_at_kill,
            "{kind:?}: {lost} tasks nobody recorded, but only {in_flight_at_kill} submits were in flight at the kill"
        );
        assert!(
            created.len() <= SEGMENTS + in_flight_at_kill,
            "{kind:?}: {} tasks for {SEGMENTS} segments and {in_flight_at_kill} submits in flight",
            created.len()
        );
        // where a submit's answer was held back, that task was made and lost, and paid for again
        let held_back = matches!((point, task), (Point::Images, TaskKind::TextToImage) | (Point::Clips, TaskKind::ImageToVideo));
        if held_back {
            assert_eq!((lost, in_flight_at_kill, created.len()), (1, 1, SEGMENTS + 1), "{kind:?}");
        }
        report.push(format!("{task:?} {} tasks ({lost} lost, {in_flight_at_kill} in flight)", created.len()));
    }
    let chats = fake.requests(Endpoint::Chat);
    let script_calls = chats.iter().filter(|r| r["response_format"]["type"] == "json_object").count();
    assert_eq!(script_calls, 1, "the script was written once");
    // the per-segment chat calls (image prompts, animation prompts): paid once per
    // segment, but for one in flight at the kill (its answer never recorded)
    let mut prompt_chats = 0;
    for kind in [StageKind::ImagePrompt, StageKind::AnimationPrompt] {
        let flying: BTreeMap<i32, bool> = of_kind(&dead, kind).map(|s| (s.segment, s.status == StageStatus::Running)).collect();
        let rows: Vec<&StepRow> = of_kind(&last, kind).collect();
        assert_eq!(rows.len(), SEGMENTS, "{kind:?}: a step per segment in the last generation: {last:?}");
        for row in rows {
            let input = row.input.as_deref().expect("the step's input");
            let calls = chats.iter().filter(|r| r["messages"][1]["content"] == input).count();
            let bound = 1 + usize::from(flying.get(&row.segment).copied().unwrap_or(false));
            assert!(calls >= 1 && calls <= bound, "{kind:?} segment {}: {calls} chat calls, at most {bound}", row.segment);
            prompt_chats += calls;
        }
        let finished_before = of_kind(&dead, kind).filter(|s| s.status == StageStatus::Done).count();
        // the voice-over runs alongside the segments: at its kill the prompts may be anywhere
        if matches!(point, Point::Clips | Point::Assembly) || (point == Point::Images && kind == StageKind::ImagePrompt) {
            assert_eq!(finished_before, SEGMENTS, "{kind:?}: every prompt was written before the kill at {point:?}: {dead:?}");
        }
    }
    let chat_in_flight = dead
        .iter()
        .filter(|s| matches!(s.kind, StageKind::ImagePrompt | StageKind::AnimationPrompt) && s.status == StageStatus::Running)
        .count();
    assert!(
        prompt_chats <= 2 * SEGMENTS + chat_in_flight,
        "{prompt_chats} prompt chats for {SEGMENTS} segments and {chat_in_flight} in flight at the kill"
    );
    assert_eq!(chats.len(), 1 + prompt_chats, "every chat call is the script or a segment's prompt");
    // every clip was asked for a length the model takes: gen4_turbo's shortest (2 s)
    // for the 1 s segments, cut to 1 s by the assembly
    assert!(
        fake.requests(Endpoint::ImageToVideo).iter().all(|b| b["duration"] == 2 && b["model"] == "gen4_turbo"),
        "{:?}",
        fake.requests(Endpoint::ImageToVideo)
    );
    let voice_in_flight = step(&dead, StageKind::Voice).is_some_and(|s| s.status == StageStatus::Running);
    let speech = fake.arrived(Endpoint::Speech);
    let bound = 1 + usize::from(voice_in_flight);
    assert!(speech <= bound, "{speech} voice-over calls, at most {bound}");
    assert!(fake.requests(Endpoint::Speech).len() <= bound);
    match point {
        Point::Voice => assert_eq!(speech, 2, "the unanswered call and the takeover's"),
        Point::Images | Point::Clips | Point::Assembly => assert_eq!(speech, 1, "the voice-over was done before the kill"),
        Point::AfterScript => {}
    }
    eprintln!(
        "{point:?}: killed after {:.1} s, video after {:.1} s, generation {}, {}, speech {speech}",
        killed_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        finished.generation,
        report.join(", ")
    );
    eprintln!("{point:?}: {prompt_chats} prompt chats ({chat_in_flight} in flight at the kill)");
    service.terminate().await;
}
