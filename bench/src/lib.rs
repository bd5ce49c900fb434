//! The benchmark: drives the real service (the `vidcache` release binary,
//! `serve`, as a child process) through the fake Telegram Bot API on loopback and prints
//! one table. Every scenario gets a fresh data directory and fake.

mod search;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use fakes::telegram::{FakeTelegram, FakeTelegramConfig};
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::json;

use vidcache::db::entities::{user_requests, video_assets};
use vidcache::domain::{AssetStatus, Prompt, Recipe, Wanted};

mod million;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// New prompts sent one after another, for the miss latency.
    pub misses: usize,
    pub hits: usize,
    pub dedup_requests: usize,
    pub prompts: usize,
    pub fanout: usize,
    /// Subscribers of the paid broadcast fan-out.
    pub paid_fanout: usize,
    pub ingest: usize,
    /// Available assets seeded for `memory` and `million` (`--assets`).
    pub assets: usize,
    /// Available videos the search scenario seeds (similar search, inline answers).
    pub search_assets: usize,
    /// Cache hits of the `million` section.
    pub scale_hits: usize,
    /// Extra environment for the service (e.g. DATABASE_URL, QUEUE_URL).
    pub env: Vec<(String, String)>,
    pub label: String,
    /// Run only these sections (`startup`, `miss`, `hit`, `dedup`, `fanout`,
    /// `burst`, `paid`, `lost-queue`, `ingest`, `memory`); empty = all.
    pub only: Vec<String>,
    /// Keep each run's data dir (with `service.log`) and print where.
    pub keep_logs: bool,
}

impl BenchOptions {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.named(section)
    }

    /// Sections that run only when named (`--only million`).
    fn named(&self, section: &str) -> bool {
        self.only.iter().any(|s| s == section)
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            misses: 20,
            hits: 500,
            dedup_requests: 1000,
            prompts: 20,
            fanout: 300,
            paid_fanout: 3000,
            ingest: 2000,
            assets: 10_000,
            search_assets: 100_000,
            scale_hits: 10_000,
            env: Vec::new(),
            label: "SQLite".into(),
            only: Vec::new(),
            keep_logs: false,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub value: String,
    pub target: String,
    pub met: bool,
}

struct Run {
    fake: FakeTelegram,
    database_url: String,
    dir: tempfile::TempDir,
    child: tokio::process::Child,
    started: Instant,
    keep_logs: bool,
}

impl Run {
    async fn start(
        opts: &BenchOptions,
        env: &[(&str, String)],
        before: impl AsyncFnOnce(&Path, &str) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        Self::start_with(opts, FakeTelegramConfig { require_known_chats: false, ..Default::default() }, env, before).await
    }

    /// [`Run::start`] against a fake Telegram configured as `fake`.
    async fn start_with(
        opts: &BenchOptions,
        fake: FakeTelegramConfig,
        env: &[(&str, String)],
        before: impl AsyncFnOnce(&Path, &str) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        let fake = FakeTelegram::start(fake).await?;
        let dir = tempfile::tempdir()?;
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("TELOXIDE_TOKEN".into(), fake.token());
        vars.insert("TELOXIDE_API_URL".into(), fake.api_url());
        vars.insert("VIDCACHE_DATA_DIR".into(), dir.path().display().to_string());
        vars.insert("RUST_LOG".into(), "warn".into());
        vars.insert("TELEGRAM_POLL_TIMEOUT_SECS".into(), "5".into());
        // The benchmark's simulated users send far more than a person: no per-user limits.
        vars.insert("USER_RATE_LIMIT".into(), "off".into());
        vars.insert("USER_MAX_WAITING".into(), "0".into());
        for (k, v) in &opts.env {
            vars.insert(k.clone(), v.clone());
        }
        for (k, v) in env {
            vars.insert((*k).to_owned(), v.clone());
        }
        fresh_backends(&mut vars).await?;
        let database_url = vars
            .get("DATABASE_URL")
            .cloned()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("vidcache.sqlite").display()));
        before(dir.path(), &database_url).await?;
        let log = std::fs::File::create(dir.path().join("service.log"))?;
        let started = Instant::now();
        let child = tokio::process::Command::new(vidcache_binary()?)
            .arg("serve")
            .envs(&vars)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the service")?;
        let run = Self { fake, database_url, dir, child, started, keep_logs: opts.keep_logs };
        if !run.fake.wait_until(|f| f.calls("getUpdates") > 0, Duration::from_secs(60)).await {
            bail!("the service never polled; see {}", run.dir.path().join("service.log").display());
        }
        Ok(run)
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
        if self.keep_logs {
            let dir = self.dir.keep();
            eprintln!("kept {}", dir.join("service.log").display());
        } else if let Err(err) = drop_database(&self.database_url).await {
            eprintln!("could not drop the scenario's database: {err:#}");
        }
    }

    /// Pushes a text message from a fresh private chat; returns the update id.
    fn push(&self, chat: i64, text: &str) -> i64 {
        let message_id = self.fake.next_message_id();
        self.fake.push_update(json!({"message": {
            "message_id": message_id, "date": Utc::now().timestamp(),
            "chat": {"id": chat, "type": "private", "first_name": "B"},
            "from": {"id": chat, "is_bot": false, "first_name": "B"},
            "text": text
        }}))
    }

    async fn wait_videos(&self, n: usize, within: Duration) -> bool {
        self.fake.wait_for(move |sent| sent.iter().filter(|s| s.method == "sendVideo").count() >= n, within).await
    }
}

/// (VmRSS, VmHWM) in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn prompt_variant(base: &str, i: usize) -> String {
    match i % 4 {
        0 => base.to_owned(),
        1 => base.to_uppercase(),
        2 => format!("  {}  ", base.replace(' ', "   ")),
        _ => base.replace(' ', "\t"),
    }
}

pub async fn run(opts: BenchOptions) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();

    // Start-up and idle memory.
    if opts.wants("startup") {
        let run = Run::start(&opts, &[], async |_, _| Ok(())).await?;
        let startup = run.started.elapsed();
        run.fake.wait_until(|_| false, Duration::from_secs(1)).await;
        let (rss, _) = rss_mib(run.pid());
        figures.push(Figure {
            name: "start-up (process start → first getUpdates)".into(),
            value: ms(startup),
            target: "≤ 1 s".into(),
            met: startup <= Duration::from_secs(1),
        });
        figures.push(Figure {
            name: "RSS idle".into(),
            value: format!("{rss:.1} MiB"),
            target: "≤ 40 MB".into(),
            met: rss <= 40.0 * 1e6 / 1048576.0,
        });
        run.stop().await;
    }

    // A new prompt's latency: message → video with the local generator at
    // delay 0, prompts sent one after another (each waits for its video).
    if opts.wants("miss") {
        let run = Run::start(&opts, &[("LOCAL_GENERATOR_DELAY_MS", "0".to_owned())], async |_, _| Ok(())).await?;
        let mut latencies = Vec::new();
        for i in 0..opts.misses {
            let chat = 3_000_000 + i as i64;
            let id = run.push(chat, &format!("a brand new prompt number {i}"));
            if !run.wait_videos(i + 1, Duration::from_secs(60)).await {
                bail!("new prompt {i} was never answered");
            }
            let sent = run.fake.sent();
            let handed = run.fake.handed_out_at(id);
            let video = sent.iter().find(|s| s.chat_id == chat && s.method == "sendVideo");
            if let (Some(handed), Some(video)) = (handed, video) {
                let latency = video.at.saturating_duration_since(handed);
                if opts.keep_logs {
                    let wall = chrono::Utc::now() - chrono::Duration::from_std(handed.elapsed()).unwrap_or_default();
                    eprintln!("miss {i}: handed out {} → video after {}", wall.format("%H:%M:%S%.6f"), ms(latency));
                }
                latencies.push(latency);
            }
        }
        latencies.sort();
        let p95 = percentile(&latencies, 95.0);
        figures.push(Figure {
            name: format!("new-prompt latency p50 / p95 ({} prompts, local generator, delay 0)", latencies.len()),
            value: format!("{} / {}", ms(percentile(&latencies, 50.0)), ms(p95)),
            target: "p95 ≤ 150 ms".into(),
            met: p95 <= Duration::from_millis(150),
        });
        run.stop().await;
    }

    // Cache-hit latency.
    if opts.wants("hit") {
        let run = Run::start(&opts, &[], async |_, _| Ok(())).await?;
        let prompts: Vec<String> = (0..opts.prompts).map(|i| format!("cached prompt {i}")).collect();
        for (i, p) in prompts.iter().enumerate() {
            run.push(1_000_000 + i as i64, p);
        }
        if !run.wait_videos(prompts.len(), Duration::from_secs(120)).await {
            bail!("warm-up videos never arrived");
        }
        let before = run.fake.sent().len();
        let mut updates = Vec::new();
        for i in 0..opts.hits {
            let chat = 2_000_000 + i as i64;
            let id = run.push(chat, &prompt_variant(&prompts[i % prompts.len()], i));
            updates.push((chat, id));
            // Offered below Telegram's 30/s so the limiter is not what is measured.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !run.wait_videos(prompts.len() + opts.hits, Duration::from_secs(120)).await {
            bail!("cache hits were not all answered");
        }
        let sent = run.fake.sent();
        let mut latencies: Vec<Duration> = updates
            .iter()
            .filter_map(|(chat, id)| {
                let handed = run.fake.handed_out_at(*id)?;
                let video = sent[before..].iter().find(|s| s.chat_id == *chat && s.method == "sendVideo")?;
                Some(video.at.saturating_duration_since(handed))
            })
            .collect();
        latencies.sort();
        let p95 = percentile(&latencies, 95.0);
        figures.push(Figure {
            name: format!("cache-hit latency p50 / p95 / p99 ({} hits)", latencies.len()),
            value: format!("{} / {} / {}", ms(percentile(&latencies, 50.0)), ms(p95), ms(percentile(&latencies, 99.0))),
            target: "p95 ≤ 25 ms".into(),
            met: p95 <= Duration::from_millis(25),
        });
        figures.push(Figure {
            name: "uploads during cache hits".into(),
            value: (run.fake.uploads() - prompts.len()).to_string(),
            target: "0".into(),
            met: run.fake.uploads() == prompts.len(),
        });
        run.stop().await;
    }

    // Dedup ratio.
    if opts.wants("dedup") {
        let run = Run::start(&opts, &[("LOCAL_GENERATOR_DELAY_MS", "3000".into())], async |_, _| Ok(())).await?;
        let bases: Vec<String> = (0..opts.prompts).map(|i| format!("dedup prompt number {i}")).collect();
        for i in 0..opts.dedup_requests {
            run.push(3_000_000 + i as i64, &prompt_variant(&bases[i % bases.len()], i / bases.len()));
        }
        if !run.wait_videos(opts.dedup_requests, Duration::from_secs(300)).await {
            bail!("dedup requests were not all answered");
        }
        let db = connect(&database_url_of(&run, &opts)).await?;
        let assets = video_assets::Entity::find().all(&db).await?;
        let generations: i64 = assets.iter().map(|a| i64::from(a.attempts)).sum();
        let distinct = bases.len() as f64;
        let gen_ratio = generations as f64 / distinct;
        let upload_ratio = run.fake.uploads() as f64 / distinct;
        figures.push(Figure {
            name: format!("dedup: generations ÷ prompts ({} requests, {} prompts)", opts.dedup_requests, bases.len()),
            value: format!("{gen_ratio:.2}"),
            target: "1.00".into(),
            met: (gen_ratio - 1.0).abs() < 1e-9,
        });
        figures.push(Figure {
            name: "dedup: uploads ÷ prompts".into(),
            value: format!("{upload_ratio:.2}"),
            target: "1.00".into(),
            met: (upload_ratio - 1.0).abs() < 1e-9,
        });
        run.stop().await;
    }

    // Fan-out.
    if opts.wants("fanout") {
        // The generation is slow enough for every "being made" note to go out first.
        let delay = (opts.fanout as u64 * 1000 / 25 + 2000).to_string();
        let run = Run::start(&opts, &[("LOCAL_GENERATOR_DELAY_MS", delay)], async |_, _| Ok(())).await?;
        for i in 0..opts.fanout {
            run.push(4_000_000 + i as i64, "one viral video");
        }
        let before_429 = run.fake.too_many_requests();
        if !run.wait_videos(opts.fanout, Duration::from_secs(300)).await {
            bail!("fan-out incomplete");
        }
        let mut times: Vec<Instant> = run.fake.sent().iter().filter(|s| s.method == "sendVideo").map(|s| s.at).collect();
        times.sort();
        let span = times.last().copied().unwrap_or_else(Instant::now).saturating_duration_since(times[0]);
        let rate = (times.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-6);
        let share = rate / 30.0 * 100.0;
        let too_many = run.fake.too_many_requests() - before_429;
        figures.push(Figure {
            name: format!("fan-out: {} subscribers, deliveries/s (share of 30/s)", opts.fanout),
            value: format!("{rate:.1}/s ({share:.0} %)"),
            target: "≥ 90 %".into(),
            met: share >= 90.0,
        });
        figures.push(Figure {
            name: "fan-out: answers of 429".into(),
            value: too_many.to_string(),
            target: "few (< 5 %)".into(),
            met: too_many * 20 < opts.fanout,
        });
        run.stop().await;
    }

    // A cache hit while a viral burst is being sent: the hit is an answer to
    // the user's own message and goes before the burst's notes and videos.
    if opts.wants("burst") {
        let run = Run::start(&opts, &[("LOCAL_GENERATOR_DELAY_MS", "4000".to_owned())], async |_, _| Ok(())).await?;
        run.push(6_000_000, "a cached favourite");
        if !run.wait_videos(1, Duration::from_secs(60)).await {
            bail!("the cached video was never made");
        }
        let burst: Vec<i64> = (0..opts.fanout as i64).map(|i| 6_100_000 + i).collect();
        for chat in &burst {
            run.push(*chat, "the viral burst of the day");
        }
        let burst_chats = burst.clone();
        let notes = move |sent: &[fakes::telegram::Sent]| {
            sent.iter().filter(|s| s.method == "sendMessage" && burst_chats.contains(&s.chat_id)).count()
        };
        run.fake.wait_until(|f| notes(&f.sent()) >= 20, Duration::from_secs(30)).await;
        let mut hits = Vec::new();
        for i in 0..20 {
            let chat = 6_900_000 + i;
            hits.push((chat, run.push(chat, &prompt_variant("a cached favourite", i as usize))));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !run.wait_videos(1 + hits.len() + burst.len(), Duration::from_secs(300)).await {
            bail!("the burst or the hits were not all answered");
        }
        let sent = run.fake.sent();
        let mut latencies: Vec<Duration> = hits
            .iter()
            .filter_map(|(chat, id)| {
                let handed = run.fake.handed_out_at(*id)?;
                let video = sent.iter().find(|s| s.chat_id == *chat && s.method == "sendVideo")?;
                Some(video.at.saturating_duration_since(handed))
            })
            .collect();
        latencies.sort();
        let p95 = percentile(&latencies, 95.0);
        figures.push(Figure {
            name: format!("cache-hit p95 during a {}-subscriber burst ({} hits)", burst.len(), latencies.len()),
            value: ms(p95),
            target: "≤ 1 s".into(),
            met: p95 <= Duration::from_secs(1) && latencies.len() == hits.len(),
        });
        let mut times: Vec<Instant> =
            sent.iter().filter(|s| s.method == "sendVideo" && burst.contains(&s.chat_id)).map(|s| s.at).collect();
        times.sort();
        let span = times.last().copied().unwrap_or_else(Instant::now).saturating_duration_since(times[0]);
        let share = (times.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-6) / 30.0 * 100.0;
        figures.push(Figure {
            name: "that burst's fan-out (share of 30/s)".into(),
            value: format!("{share:.0} %"),
            target: "≥ 90 %".into(),
            met: share >= 90.0,
        });
        run.stop().await;
    }

    // Paid broadcast: the fan-out pays past the free 30/s.
    if opts.wants("paid") {
        // The video must be made after every subscriber is recorded, or the
        // late ones are cache hits and the figure measures ingest instead.
        let env = [
            ("LOCAL_GENERATOR_DELAY_MS", "10000".to_owned()),
            ("PAID_BROADCAST", "on".to_owned()),
            ("PAID_BROADCAST_RATE", "1000".to_owned()),
        ];
        let run = Run::start(&opts, &env, async |_, _| Ok(())).await?;
        let db = connect(&database_url_of(&run, &opts)).await?;
        for i in 0..opts.paid_fanout {
            run.push(7_000_000 + i as i64, "a video worth paying for");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while (user_requests::Entity::find().count(&db).await? as usize) < opts.paid_fanout {
            if Instant::now() > deadline {
                bail!("paid fan-out: the subscribers were not recorded within a minute");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if run.fake.sent().iter().any(|s| s.method == "sendVideo") {
            bail!("paid fan-out: the video was made before every subscriber was recorded");
        }
        if !run.wait_videos(opts.paid_fanout, Duration::from_secs(300)).await {
            bail!("paid fan-out incomplete");
        }
        let mut times: Vec<Instant> =
            run.fake.sent().iter().filter(|s| s.method == "sendVideo" && !s.uploaded).map(|s| s.at).collect();
        times.sort();
        let span = times.last().copied().unwrap_or_else(Instant::now).saturating_duration_since(times[0]);
        let rate = (times.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-6);
        figures.push(Figure {
            name: format!("paid broadcast fan-out: {} subscribers, deliveries/s (share of 1000/s)", opts.paid_fanout),
            value: format!("{rate:.0}/s ({:.0} %), {} paid sends", rate / 10.0, run.fake.paid_sends()),
            target: "≥ 90 %".into(),
            met: rate >= 900.0,
        });
        run.stop().await;
    }

    // The queue is lost mid-burst (a Redis without persistence restarted,
    // a wiped job table): how long until the last stranded request is
    // delivered. Pending generations are pushed again after 2 × the lease.
    if opts.wants("lost-queue") {
        let redis_queue = opts.env.iter().any(|(k, v)| k == "QUEUE_URL" && v.starts_with("redis"));
        let mut own_redis = None;
        let mut env = vec![
            ("LOCAL_GENERATOR_DELAY_MS", "1500".to_owned()),
            ("WORKER_CONCURRENCY", "1".to_owned()),
            ("JOB_LEASE_SECS", "5".to_owned()),
        ];
        if redis_queue {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            own_redis = Some(start_redis(port).await?);
            env.push(("QUEUE_URL", format!("redis://127.0.0.1:{port}")));
        }
        let run = Run::start(&opts, &env, async |_, _| Ok(())).await?;
        let db = connect(&database_url_of(&run, &opts)).await?;
        let prompts = 10usize;
        for i in 0..prompts {
            for user in 0..4 {
                run.push(8_000_000 + (i * 10 + user) as i64, &format!("a prompt the queue loses {i}"));
            }
        }
        let dispatched = async || -> anyhow::Result<bool> {
            let assets = video_assets::Entity::find().all(&db).await?;
            Ok(assets.len() == prompts && assets.iter().all(|a| a.dispatched_generation == a.generation))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dispatched().await? {
            if Instant::now() > deadline {
                bail!("the burst was never dispatched");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lost_at = if let Some((mut child, port)) = own_redis.take() {
            child.kill().await?; // SIGKILL, and wait for it to be gone
            let restarted = start_redis(port).await?;
            own_redis = Some(restarted);
            Instant::now()
        } else {
            use sea_orm::ConnectionTrait;
            match run.database_url.starts_with("postgres") {
                true => db.execute_unprepared("DELETE FROM apalis.jobs").await?,
                false => {
                    let queue =
                        sea_orm::Database::connect(format!("sqlite://{}", run.dir.path().join("queue.sqlite").display())).await?;
                    let done = queue.execute_unprepared("DELETE FROM Jobs").await?;
                    queue.close().await?;
                    done
                }
            };
            Instant::now()
        };
        if !run.wait_videos(prompts * 4, Duration::from_secs(180)).await {
            bail!("stranded requests were never delivered");
        }
        let last = run.fake.sent().iter().filter(|s| s.method == "sendVideo").map(|s| s.at).max().unwrap_or(lost_at);
        let recovery = last.saturating_duration_since(lost_at);
        figures.push(Figure {
            name: format!(
                "queue lost mid-burst ({}): time to the last of {} stranded requests (lease 5 s, 10 × 1.5 s generations)",
                if redis_queue { "Redis restarted empty" } else { "job table wiped" },
                prompts * 4
            ),
            value: format!("{:.1} s", recovery.as_secs_f64()),
            target: "≤ 30 s".into(),
            met: recovery <= Duration::from_secs(30),
        });
        run.stop().await;
        drop(own_redis);
    }

    // Ingest rate with the generator paused.
    if opts.wants("ingest") {
        let run = Run::start(&opts, &[("LOCAL_GENERATOR_DELAY_MS", "3600000".into())], async |_, _| Ok(())).await?;
        let db = connect(&database_url_of(&run, &opts)).await?;
        let first = run.push(5_000_000, "ingest prompt 0");
        for i in 1..opts.ingest {
            run.push(5_000_000 + i as i64, &format!("ingest prompt {}", i % 50));
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut recorded;
        loop {
            recorded = user_requests::Entity::find().count(&db).await? as usize;
            if recorded >= opts.ingest || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let done = Instant::now();
        let start = run.fake.handed_out_at(first).unwrap_or(run.started);
        let rate = recorded as f64 / done.saturating_duration_since(start).as_secs_f64().max(1e-6);
        figures.push(Figure {
            name: format!("ingest: requests recorded/s ({recorded} requests)"),
            value: format!("{rate:.0}/s"),
            target: "≥ 600/s".into(),
            met: rate >= 600.0,
        });
        run.stop().await;
    }

    // Memory after many available assets.
    if opts.wants("memory") {
        let n = opts.assets;
        let run = Run::start(&opts, &[], async |_, url| seed_assets(url, n).await).await?;
        for i in 0..n {
            run.fake.register_file(&format!("SEEDED{i}"));
        }
        for i in 0..200 {
            run.push(6_000_000 + i, &format!("seeded asset {}", i * 37 % n as i64));
        }
        if !run.wait_videos(200, Duration::from_secs(60)).await {
            bail!("seeded assets were not served");
        }
        let (rss, hwm) = rss_mib(run.pid());
        figures.push(Figure {
            name: format!("RSS after {n} available assets (now / peak)"),
            value: format!("{rss:.1} / {hwm:.1} MiB"),
            target: "≤ 80 MB".into(),
            met: hwm <= 80.0 * 1e6 / 1048576.0,
        });
        run.stop().await;
    }
    // The catalog search: similar search and inline answers (see `search.rs`).
    if opts.wants("search") {
        figures.extend(search::figures(&opts).await?);
    }

    // A large library (`--only million --assets 1000000`): only when named.
    if opts.named("million") {
        figures.extend(million::run(&opts).await?);
    }
    Ok(figures)
}

fn database_url_of(run: &Run, _opts: &BenchOptions) -> String {
    run.database_url.clone()
}

/// Drops a scenario's own PostgreSQL database (see [`fresh_backends`]).
async fn drop_database(url: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let Some((server, name)) = url.rsplit_once('/').filter(|(_, name)| name.starts_with("vidcache_bench_")) else {
        return Ok(());
    };
    let admin = sea_orm::Database::connect(format!("{server}/postgres")).await?;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    admin.close().await?;
    Ok(())
}

/// Every scenario starts empty: on PostgreSQL a new database on the same
/// server, on Redis an emptied database.
async fn fresh_backends(vars: &mut HashMap<String, String>) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    if let Some(url) = vars.get("DATABASE_URL").filter(|u| u.starts_with("postgres")).cloned() {
        let (server, _) = url.rsplit_once('/').context("DATABASE_URL has no database name")?;
        let admin = sea_orm::Database::connect(format!("{server}/postgres")).await?;
        let name = format!("vidcache_bench_{}_{}", std::process::id(), fastrand::u32(..));
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        admin.close().await?;
        vars.insert("DATABASE_URL".into(), format!("{server}/{name}"));
    }
    if let Some(url) = vars.get("QUEUE_URL").filter(|u| u.starts_with("redis")) {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await?;
    }
    Ok(())
}

/// Inserts `n` available assets with (fake-issued style) file_ids.
async fn seed_assets(database_url: &str, n: usize) -> anyhow::Result<()> {
    let db = connect(database_url).await?;
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..n {
        let prompt = Prompt::parse(&format!("seeded asset {i}"), usize::MAX)?;
        let wanted = Wanted::new(prompt, Recipe::default());
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, None, now);
        row.status = Set(AssetStatus::Available);
        row.dispatched_generation = Set(1);
        row.file_id = Set(Some(vidcache::domain::FileId(format!("SEEDED{i}"))));
        row.file_unique_id = Set(Some(format!("U{i}")));
        row.attempts = Set(1);
        row.stage = Set(None);
        batch.push(row);
        if batch.len() == 500 {
            video_assets::Entity::insert_many(std::mem::take(&mut batch)).exec(&db).await?;
        }
    }
    if !batch.is_empty() {
        video_assets::Entity::insert_many(batch).exec(&db).await?;
    }
    db.close().await?;
    Ok(())
}

/// The table as Markdown.
pub fn render(label: &str, figures: &[Figure]) -> String {
    let mut out = format!("| figure ({label}) | value | target | met |\n|---|---|---|---|\n");
    for f in figures {
        out.push_str(&format!("| {} | {} | {} | {} |\n", f.name, f.value, f.target, if f.met { "yes" } else { "**no**" }));
    }
    out
}

/// The service binary to measure: `VIDCACHE_BIN`, else `vidcache` beside
/// this benchmark (both are built into the same `target/<profile>`).
pub fn vidcache_binary() -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("VIDCACHE_BIN") {
        return Ok(path.into());
    }
    let here = std::env::current_exe()?;
    let beside = here.with_file_name(format!("vidcache{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Ok(beside);
    }
    bail!("cannot find the vidcache binary at {}: build it first (`cargo build --release`) or set VIDCACHE_BIN", beside.display())
}

/// Opens the service's database at `url`, as the service does.
async fn connect(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    Ok(vidcache::db::connect(&vidcache::config::DataStore::parse(url)?).await?)
}

/// A `redis-server` of the benchmark's own, without persistence; killed
/// when the returned child is dropped.
async fn start_redis(port: u16) -> anyhow::Result<(tokio::process::Child, u16)> {
    let child = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start redis-server")?;
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    for _ in 0..100 {
        if client.get_multiplexed_async_connection().await.is_ok() {
            return Ok((child, port));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("redis-server on port {port} never answered")
}
