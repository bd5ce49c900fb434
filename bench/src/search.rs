//! The catalog search's figures: the similar search over 100,000 available
//! videos (the query the bot runs on a miss, timed against the database)
//! and inline answers end to end (update handed out → `answerInlineQuery`
//! accepted by the fake), with the postings seeded as the service writes them.

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use vidcache::db::entities::video_assets;
use vidcache::domain::{AssetStatus, FileId, Prompt, Recipe, Wanted};

use super::{BenchOptions, Figure, Run, connect, ms, percentile};

const ADJECTIVES: &[&str] = &[
    "red", "blue", "green", "golden", "tiny", "giant", "happy", "sleepy", "angry", "shiny", "wooden", "frozen", "brave", "quiet",
    "noisy", "ancient", "modern", "purple", "silver", "fluffy", "wild", "gentle", "clumsy", "curious", "hungry", "lazy", "proud",
    "rusty", "smiling", "tired",
];
const NOUNS: &[&str] = &[
    "fox",
    "whale",
    "cat",
    "dog",
    "robot",
    "dragon",
    "owl",
    "horse",
    "rabbit",
    "penguin",
    "tiger",
    "turtle",
    "elephant",
    "knight",
    "wizard",
    "astronaut",
    "pirate",
    "chef",
    "dancer",
    "bicycle",
    "train",
    "balloon",
    "castle",
    "lighthouse",
    "violin",
    "kite",
    "spaceship",
    "unicorn",
    "bear",
    "monkey",
    "parrot",
    "snail",
    "octopus",
    "giraffe",
    "zebra",
    "lion",
    "squirrel",
    "hedgehog",
    "duck",
    "frog",
];
const VERBS: &[&str] = &[
    "jumping over",
    "dancing on",
    "singing in",
    "running through",
    "flying above",
    "sleeping under",
    "painting",
    "climbing",
    "swimming in",
    "juggling near",
    "reading beside",
    "cooking in",
    "skating across",
    "hiding behind",
    "racing along",
];
const PLACES: &[&str] = &[
    "a wooden fence",
    "the ocean",
    "a snowy forest",
    "a busy market",
    "the moon",
    "a quiet library",
    "a rainbow bridge",
    "an old castle",
    "a desert road",
    "a neon city",
    "a sunflower field",
    "a mountain lake",
    "a crowded beach",
    "a jungle river",
    "a glass tower",
    "a volcano",
    "a birthday party",
    "a train station",
    "a pirate ship",
    "a candy shop",
];

/// After the first 360,000 prompts, the next ones end with one of these.
const TIMES: &[&str] = &["at dawn", "at night", "in the rain", "in winter", "at sunset"];
const ONE_ROUND: usize = 30 * 40 * 15 * 20;

/// The `i`th seeded prompt (distinct for every `i` below 2,160,000; the
/// first 360,000 as the search figures before the million were measured).
pub(super) fn prompt(i: usize) -> String {
    let a = ADJECTIVES[i % ADJECTIVES.len()];
    let n = NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()];
    let v = VERBS[(i / (ADJECTIVES.len() * NOUNS.len())) % VERBS.len()];
    let p = PLACES[(i / (ADJECTIVES.len() * NOUNS.len() * VERBS.len())) % PLACES.len()];
    match i / ONE_ROUND {
        0 => format!("A {a} {n} {v} {p}"),
        round => format!("A {a} {n} {v} {p} {}", TIMES[(round - 1) % TIMES.len()]),
    }
}

/// Writes the search rows (postings, word counts, bands) of every asset
/// in the database, as the service writes them when a video becomes
/// available, 2,000 assets a transaction, and marks them indexed (so the
/// service's start-up re-index has nothing to do: the steady state is
/// measured).
pub(super) async fn index_seeded(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let mut after = 0;
    loop {
        let rows = video_assets::Entity::find()
            .filter(video_assets::Column::Id.gt(after))
            .order_by_asc(video_assets::Column::Id)
            .limit(2000)
            .all(db)
            .await?;
        let Some(last) = rows.last().map(|r| r.id.0) else { break };
        let txn = db.begin().await?;
        if sqlite {
            // a big page cache for this connection: the postings and bands go all over their indexes
            txn.execute_unprepared("PRAGMA cache_size = -262144").await?;
        }
        vidcache::db::search::index_many_in(&txn, &rows).await?;
        vidcache::db::search::mark_reindexed(&txn, last).await?;
        txn.commit().await?;
        after = last;
    }
    Ok(())
}

/// Seeds `n` available videos and their postings (as the service writes
/// them when a video becomes available).
async fn seed(database_url: &str, n: usize) -> anyhow::Result<()> {
    let db = connect(database_url).await?;
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..n {
        let typed = prompt(i);
        let wanted = Wanted::new(Prompt::parse(&typed, usize::MAX)?, Recipe::default());
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, Some(typed), now);
        row.status = Set(AssetStatus::Available);
        row.dispatched_generation = Set(1);
        row.file_id = Set(Some(FileId(format!("SEARCH{i}"))));
        row.file_unique_id = Set(Some(format!("US{i}")));
        row.attempts = Set(1);
        row.stage = Set(None);
        batch.push(row);
        if batch.len() == 1000 || i + 1 == n {
            video_assets::Entity::insert_many(std::mem::take(&mut batch)).exec(&db).await?;
        }
    }
    index_seeded(&db).await?;
    db.close().await?;
    Ok(())
}

/// A near twin of seeded prompt `i`, worded another way.
fn near_twin(i: usize) -> String {
    let a = ADJECTIVES[i % ADJECTIVES.len()];
    let n = NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()];
    let v = VERBS[(i / (ADJECTIVES.len() * NOUNS.len())) % VERBS.len()];
    let p = PLACES[(i / (ADJECTIVES.len() * NOUNS.len() * VERBS.len())) % PLACES.len()];
    format!("{a} {n}s {} {p}", v.replace("ing", "s"))
}

pub(super) async fn figures(opts: &BenchOptions) -> anyhow::Result<Vec<Figure>> {
    let n = opts.search_assets;
    let queries = 200;
    let run = Run::start(opts, &[], async |_, url| seed(url, n).await).await?;
    for i in 0..n {
        run.fake.register_file(&format!("SEARCH{i}"));
    }
    let mut figures = Vec::new();

    // the similar search, as the bot runs it on a miss
    let db = connect(&run.database_url).await?;
    let mut latencies = Vec::new();
    let (mut offered, mut own) = (0, 0);
    for q in 0..queries {
        let i = (q * 7919) % n;
        let wanted = Prompt::parse(&near_twin(i), usize::MAX)?;
        let source = Prompt::parse(&prompt(i), usize::MAX)?;
        let started = Instant::now();
        let best = vidcache::db::search::most_similar(&db, &wanted, &Recipe::default()).await?;
        latencies.push(started.elapsed());
        if let Some((found, similarity)) = best
            && similarity >= 0.75
        {
            offered += 1;
            // the prompt the twin was made from (another as alike may come first)
            if found.prompt == source.as_str() {
                own += 1;
            }
        }
    }
    db.close().await?;
    latencies.sort();
    let p95 = percentile(&latencies, 95.0);
    figures.push(Figure {
        name: format!(
            "similar search p50 / p95 ({queries} near twins over {n} available videos; {offered} offered, {own} of them the source prompt)"
        ),
        value: format!("{} / {}", ms(percentile(&latencies, 50.0)), ms(p95)),
        target: "p95 ≤ 20 ms".into(),
        met: p95 <= Duration::from_millis(20),
    });

    figures.push(inline_figure(&run, n, queries).await?);
    run.stop().await;
    Ok(figures)
}

/// Inline answers end to end over `n` seeded videos: `queries` inline
/// queries (a whole prompt, one word, two words, a word and a place) pushed
/// to the running service, each timed from the update handed out by the
/// fake to the fake accepting `answerInlineQuery`; the seeded file ids must
/// be known to the fake.
pub(super) async fn inline_figure(run: &Run, n: usize, queries: usize) -> anyhow::Result<Figure> {
    let mut latencies = Vec::new();
    let mut results = 0usize;
    for q in 0..queries {
        let words = match q % 4 {
            0 => prompt((q * 104_729) % n),
            1 => NOUNS[q % NOUNS.len()].to_owned(),
            2 => format!("{} {}", ADJECTIVES[q % ADJECTIVES.len()], NOUNS[q % NOUNS.len()]),
            _ => format!("{} {}", NOUNS[q % NOUNS.len()], PLACES[q % PLACES.len()]),
        };
        let id = run.fake.push_inline_query(7_000_000 + q as i64, &words, "");
        let wanted = id.clone();
        if !run.fake.wait_until(move |f| f.inline_answer(&wanted).is_some(), Duration::from_secs(30)).await {
            bail!("inline query {words:?} was never answered");
        }
        results += run.fake.inline_answer(&id).and_then(|a| a["results"].as_array().map(Vec::len)).unwrap_or(0);
        if let Some(latency) = run.fake.inline_latency(&id) {
            latencies.push(latency);
        }
    }
    latencies.sort();
    let p95 = percentile(&latencies, 95.0);
    Ok(Figure {
        name: format!(
            "inline answer p50 / p95 ({} queries over {n} available videos, update → answerInlineQuery; {results} results)",
            latencies.len()
        ),
        value: format!("{} / {}", ms(percentile(&latencies, 50.0)), ms(p95)),
        target: "p95 ≤ 50 ms".into(),
        met: p95 <= Duration::from_millis(50),
    })
}
