//! `--only million`: the service over a large library (`--assets`, a
//! million for the documented figures). The database is seeded before the
//! service starts — available assets in big transactions of multi-row
//! inserts, users with long histories, video files for the sweep — and the
//! section reports start-up, memory idle and after the hits, cache-hit
//! latency over random assets (most not in the warmed cache: the database
//! answers them), `/history` of users with many videos, console pages, and
//! one cleanup sweep. The search postings are seeded too (and marked
//! indexed), so the figures are the steady state, not a start-up re-index.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use fakes::telegram::FakeTelegramConfig;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::{BenchOptions, Figure, Run, connect, ms, percentile, rss_mib};
use vidcache::db::entities::{user_requests, video_assets};
use vidcache::domain::{AssetStatus, FileId, Lang, Prompt, Recipe, RequestStatus, Wanted};

/// Users with a long history, and how many delivered videos each has.
const HISTORY_USERS: i64 = 50;
const HISTORY_LEN: i64 = 2_000;
const HISTORY_USER_BASE: i64 = 9_000_000;
/// Video files on disk for the sweep: this many of the seeded assets' own
/// files, and as many files of older generations no asset refers to.
const SWEEP_FILES: usize = 1_000;
/// Rows per insert statement (29 columns: under SQLite's 32,766 bound variables).
const ROWS_PER_INSERT: usize = 1_000;
/// Statements per transaction (bounds SQLite's write-ahead log).
const INSERTS_PER_TXN: usize = 100;
/// Assets read and indexed for the search per transaction while seeding.
const INDEX_BATCH: u64 = 5_000;
const CONSOLE_TOKEN: &str = "bench-console-token-0123456789";

/// The `i`th seeded prompt: the search figures' words (distinct for
/// every `i` below 2,160,000), so inline answers search a varied library.
fn prompt_of(i: usize) -> String {
    super::search::prompt(i)
}

fn video_name(key: &str, generation: u32) -> String {
    format!("{}-g{generation}.mp4", &key[..16])
}

pub(super) async fn run(opts: &BenchOptions) -> anyhow::Result<Vec<Figure>> {
    let n = opts.assets;
    let hits = opts.scale_hits;
    let mut figures = Vec::new();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let env = [
        // Hits are offered at 100/s: the service's send budget and the fake's
        // are raised so the figure is the service's, not Telegram's 30/s.
        ("TELEGRAM_GLOBAL_RATE", "1000".to_owned()),
        ("ADMIN_LISTEN_ADDR", format!("127.0.0.1:{admin_port}")),
        ("ADMIN_TOKEN", CONSOLE_TOKEN.to_owned()),
        ("KEEP_INTERMEDIATES_HOURS", "0".to_owned()),
    ];
    let fake = FakeTelegramConfig { require_known_chats: false, global_per_second: 0, ..Default::default() };
    let mut seeded = Duration::ZERO;
    let mut sweep = Duration::ZERO;
    let mut swept = 0usize;
    let run = Run::start_with(opts, fake, &env, async |dir, url| {
        let started = Instant::now();
        seed(dir, url, n).await?;
        seeded = started.elapsed();
        eprintln!("seeded {n} assets and {} delivered requests in {:.1} s", HISTORY_USERS * HISTORY_LEN, seeded.as_secs_f64());
        let (took, removed) = sweep_once(dir, url).await?;
        (sweep, swept) = (took, removed);
        Ok(())
    })
    .await?;
    let startup = run.started.elapsed();
    figures.push(Figure {
        name: format!(
            "seeding {n} available assets with their search rows + {} delivered requests (not a service figure)",
            HISTORY_USERS * HISTORY_LEN
        ),
        value: format!("{:.1} s", seeded.as_secs_f64()),
        target: "a few minutes".into(),
        met: seeded <= Duration::from_secs(300),
    });
    figures.push(Figure {
        name: format!("start-up with {n} assets (process start → first getUpdates)"),
        value: ms(startup),
        target: "≤ 1 s".into(),
        met: startup <= Duration::from_secs(1),
    });
    run.fake.wait_until(|_| false, Duration::from_secs(2)).await;
    let (idle, _) = rss_mib(run.pid());
    figures.push(Figure {
        name: format!("RSS idle with {n} assets"),
        value: format!("{idle:.1} MiB"),
        target: "≤ 150 MB".into(),
        met: idle <= 150.0 * 1e6 / 1048576.0,
    });

    // Cache hits over random assets, from distinct chats, offered at 100/s.
    let mut rng = fastrand::Rng::with_seed(25);
    let picks: Vec<usize> = (0..hits).map(|_| rng.usize(..n)).collect();
    for i in &picks {
        run.fake.register_file(&format!("SEEDED{i}"));
    }
    let mut updates = Vec::with_capacity(hits);
    let offered = Instant::now();
    for (k, i) in picks.iter().enumerate() {
        let chat = 20_000_000 + k as i64;
        updates.push((chat, run.push(chat, &prompt_of(*i))));
        let due = offered + Duration::from_millis(10 * (k as u64 + 1));
        tokio::time::sleep_until(due.into()).await;
    }
    if !run.wait_videos(hits, Duration::from_secs(300)).await {
        bail!("the cache hits over {n} assets were not all answered");
    }
    let sent = run.fake.sent();
    let videos: HashMap<i64, Instant> = sent.iter().filter(|s| s.method == "sendVideo").map(|s| (s.chat_id, s.at)).collect();
    let mut latencies: Vec<Duration> = updates
        .iter()
        .filter_map(|(chat, id)| Some(videos.get(chat)?.saturating_duration_since(run.fake.handed_out_at(*id)?)))
        .collect();
    latencies.sort();
    let p95 = percentile(&latencies, 95.0);
    figures.push(Figure {
        name: format!("cache-hit latency p50 / p95 / p99 ({} hits over {n} assets, 100/s, random assets)", latencies.len()),
        value: format!("{} / {} / {}", ms(percentile(&latencies, 50.0)), ms(p95), ms(percentile(&latencies, 99.0))),
        target: "p95 ≤ 25 ms".into(),
        met: p95 <= Duration::from_millis(25) && latencies.len() == hits,
    });
    figures.push(Figure {
        name: "uploads during those hits".into(),
        value: run.fake.uploads().to_string(),
        target: "0".into(),
        met: run.fake.uploads() == 0,
    });
    let (rss, hwm) = rss_mib(run.pid());
    figures.push(Figure {
        name: format!("RSS after {hits} hits (now / peak)"),
        value: format!("{rss:.1} / {hwm:.1} MiB"),
        target: "≤ 150 MB".into(),
        met: hwm <= 150.0 * 1e6 / 1048576.0,
    });

    // /history of users with HISTORY_LEN delivered videos each.
    let mut asked = Vec::new();
    for u in 0..HISTORY_USERS {
        let user = HISTORY_USER_BASE + u;
        asked.push((user, run.push(user, "/history")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let users: Vec<i64> = asked.iter().map(|(u, _)| *u).collect();
    let answered = move |sent: &[fakes::telegram::Sent]| {
        users.iter().all(|u| sent.iter().any(|s| s.chat_id == *u && s.method == "sendMessage"))
    };
    if !run.fake.wait_for(answered, Duration::from_secs(60)).await {
        bail!("/history was not answered for every user");
    }
    let sent = run.fake.sent();
    let mut latencies: Vec<Duration> = asked
        .iter()
        .filter_map(|(user, id)| {
            let at = sent.iter().find(|s| s.chat_id == *user && s.method == "sendMessage")?.at;
            Some(at.saturating_duration_since(run.fake.handed_out_at(*id)?))
        })
        .collect();
    latencies.sort();
    let p95 = percentile(&latencies, 95.0);
    figures.push(Figure {
        name: format!("/history p50 / p95 ({} users with {HISTORY_LEN} videos each)", latencies.len()),
        value: format!("{} / {}", ms(percentile(&latencies, 50.0)), ms(p95)),
        target: "p95 ≤ 100 ms".into(),
        met: p95 <= Duration::from_millis(100),
    });

    // Inline answers over the whole library (its search rows seeded with it).
    for i in 0..n {
        run.fake.register_file(&format!("SEEDED{i}"));
    }
    figures.push(super::search::inline_figure(&run, n, 200).await?);

    // Console pages, signed in, one after another.
    let base = format!("http://127.0.0.1:{admin_port}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let session = sign_in(&http, &base).await?;
    for (label, path, times) in [
        ("assets list, available, newest first (100 rows)", "/assets?state=available", 50),
        ("assets list, any state (100 rows)", "/assets", 50),
        ("a user's requests", &format!("/users/{HISTORY_USER_BASE}") as &str, 50),
        ("overview (the /stats figures)", "/", 20),
    ] {
        let mut took = Vec::new();
        for _ in 0..times {
            let started = Instant::now();
            let response = http.get(format!("{base}{path}")).header("cookie", &session).send().await?;
            let status = response.status();
            let _ = response.bytes().await?;
            took.push(started.elapsed());
            if !status.is_success() {
                bail!("console page {path} answered {status}");
            }
        }
        took.sort();
        let p95 = percentile(&took, 95.0);
        figures.push(Figure {
            name: format!("console page p50 / p95: {label} ({times} loads)"),
            value: format!("{} / {}", ms(percentile(&took, 50.0)), ms(p95)),
            target: "p95 ≤ 100 ms".into(),
            met: p95 <= Duration::from_millis(100),
        });
    }

    figures.push(Figure {
        name: format!("one cleanup sweep over {n} assets ({SWEEP_FILES} live video files, {SWEEP_FILES} orphans)"),
        value: format!("{:.1} ms, {swept} orphans removed", sweep.as_secs_f64() * 1000.0),
        target: "≤ 5 s, every orphan".into(),
        met: sweep <= Duration::from_secs(5) && swept == SWEEP_FILES,
    });
    run.stop().await;
    Ok(figures)
}

/// Seeds `n` available assets (the first [`SWEEP_FILES`] with a video file
/// on disk, plus as many files of older generations), and
/// [`HISTORY_USERS`] users with [`HISTORY_LEN`] delivered requests each.
async fn seed(dir: &Path, url: &str, n: usize) -> anyhow::Result<()> {
    let db = connect(url).await?;
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos)?;
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let start = Utc::now() - chrono::Duration::seconds(n as i64 + 3600);
    let mut next = 0usize;
    while next < n {
        let txn = db.begin().await?;
        if sqlite {
            // a big page cache for this connection: the random keys touch every page of their index
            txn.execute_unprepared("PRAGMA cache_size = -262144").await?;
        } else {
            txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
        }
        for _ in 0..INSERTS_PER_TXN {
            if next >= n {
                break;
            }
            let end = (next + ROWS_PER_INSERT).min(n);
            let mut rows = Vec::with_capacity(end - next);
            for i in next..end {
                let prompt = Prompt::parse(&prompt_of(i), usize::MAX)?;
                let wanted = Wanted::new(prompt, Recipe::default());
                let key = wanted.key();
                // finished one second apart, the newest last
                let at = start + chrono::Duration::seconds(i as i64);
                let mut row = video_assets::ActiveModel::new_pending(key.clone(), &wanted, None, at);
                row.status = Set(AssetStatus::Available);
                row.dispatched_generation = Set(1);
                row.file_id = Set(Some(FileId(format!("SEEDED{i}"))));
                row.file_unique_id = Set(Some(format!("U{i}")));
                row.attempts = Set(1);
                row.stage = Set(None);
                if i < SWEEP_FILES {
                    let path = videos.join(video_name(key.as_str(), 1));
                    std::fs::write(&path, b"")?;
                    // an older generation's file, which no asset refers to
                    std::fs::write(videos.join(video_name(key.as_str(), 0)), b"")?;
                    row.file_path = Set(Some(path.display().to_string()));
                }
                rows.push(row);
            }
            video_assets::Entity::insert_many(rows).exec(&txn).await?;
            next = end;
        }
        txn.commit().await?;
    }
    // The search postings, as the service writes them when a video becomes
    // available, and the mark that spares the start-up re-index: the
    // figures below are the steady state, not a service still indexing.
    let mut after = 0;
    loop {
        let rows = video_assets::Entity::find()
            .filter(video_assets::Column::Id.gt(after))
            .order_by_asc(video_assets::Column::Id)
            .limit(INDEX_BATCH)
            .all(&db)
            .await?;
        let Some(last) = rows.last().map(|r| r.id.0) else { break };
        vidcache::db::search::index_assets(&db, &rows).await?;
        vidcache::db::search::mark_reindexed(&db, last).await?;
        after = last;
    }
    // Users with long histories: delivered requests for seeded assets.
    let now = Utc::now();
    let txn = db.begin().await?;
    let mut rows = Vec::new();
    for u in 0..HISTORY_USERS {
        let user = HISTORY_USER_BASE + u;
        for k in 0..HISTORY_LEN {
            let asset = ((u * HISTORY_LEN + k) as usize * 7919) % n;
            let at = now - chrono::Duration::seconds(HISTORY_LEN - k);
            rows.push(user_requests::ActiveModel {
                telegram_user_id: Set(vidcache::domain::UserId(user)),
                chat_id: Set(vidcache::domain::ChatId(user)),
                message_id: Set(vidcache::domain::MessageId(k + 1)),
                raw_text: Set(prompt_of(asset)),
                asset_id: Set(vidcache::domain::AssetId(asset as i64 + 1)),
                status: Set(RequestStatus::Completed),
                created_at: Set(at),
                updated_at: Set(at),
                delivered_at: Set(Some(at)),
                error: Set(None),
                claimed_until: Set(None),
                notified_at: Set(None),
                progress_message_id: Set(None),
                paid_broadcast: Set(false),
                price: Set(0),
                hold: Set(None),
                limited: Set(false),
                language: Set(Lang::En),
                ..Default::default()
            });
            if rows.len() == ROWS_PER_INSERT / 2 {
                user_requests::Entity::insert_many(std::mem::take(&mut rows)).exec(&txn).await?;
            }
        }
    }
    if !rows.is_empty() {
        user_requests::Entity::insert_many(rows).exec(&txn).await?;
    }
    txn.commit().await?;
    // the catalog search's rows, as the service writes them with each video
    let indexing = Instant::now();
    super::search::index_seeded(&db).await?;
    eprintln!("indexed {n} assets for the search in {:.1} s", indexing.elapsed().as_secs_f64());
    if !sqlite {
        // what autovacuum does to a table this size soon after it is written
        db.execute_unprepared("VACUUM ANALYZE video_assets").await?;
        db.execute_unprepared("VACUUM ANALYZE user_requests").await?;
        for table in ["search_terms", "search_words", "search_bands"] {
            db.execute_unprepared(&format!("VACUUM ANALYZE {table}")).await?;
        }
    }
    db.close().await?;
    Ok(())
}

/// One sweep of the seeded data dir (every asset available, `keep` 0), as
/// a worker runs it; how long it took and how many orphans it removed.
async fn sweep_once(dir: &Path, url: &str) -> anyhow::Result<(Duration, usize)> {
    use vidcache::service::housekeeping::Housekeeping;
    use vidcache::storage::VideoStore;
    let db = connect(url).await?;
    let store = VideoStore::data_dir(dir.join("videos"));
    let housekeeping = Housekeeping::new(db.clone(), store, dir.join("work"), Duration::ZERO);
    let started = Instant::now();
    let swept = housekeeping.sweep().await.context("the sweep failed")?;
    let took = started.elapsed();
    db.close().await?;
    Ok((took, swept.orphans))
}

/// Signs in to the console; the session cookie (`name=value`).
async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let page = http.get(format!("{base}/login")).send().await?;
    let login = cookie(&page, "vidcache_login").context("no sign-in cookie")?;
    let body = page.text().await?;
    let marker = "name=\"login_csrf\" value=\"";
    let start = body.find(marker).context("no login_csrf on the sign-in page")? + marker.len();
    let csrf = body[start..].split('"').next().unwrap_or_default().to_owned();
    let signed = http
        .post(format!("{base}/login"))
        .header("cookie", login)
        .form(&[("token", CONSOLE_TOKEN), ("name", "bench"), ("login_csrf", csrf.as_str())])
        .send()
        .await?;
    cookie(&signed, "vidcache_session").context("not signed in to the console")
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}
