//! The catalog search, kept in the database and read through indexes made
//! for it — no query reads every asset, and none reads every posting of
//! a common word:
//! - `search_terms`: one posting per (word stem, asset) for every
//!   available prompt's own video; inline mode's word search.
//! - `search_words`: how many prompts each stem is in (kept with the
//!   postings), so a query weighs its words and starts from the rarest
//!   without counting.
//! - `search_bands`: the MinHash bands ([`Terms::bands`]) of each such prompt under
//!   its recipe; the similar-video offer reads the assets sharing a band
//!   with the new prompt (near twins almost always do, strangers rarely)
//!   and scores a few dozen of them exactly.
//!
//! All three are written in the transaction that makes the asset available
//! and deleted in the one that clears or fails it; the few best candidates
//! are joined with `video_assets` to keep only what is available now — so
//! a clear on one replica is never offered by another. The database is the
//! only copy (nothing is kept in memory), on SQLite and PostgreSQL alike.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use sea_orm::{ColumnTrait, TransactionTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::assets::Asset;
use super::entities::video_assets;
use crate::domain::{AssetId, FileId, Format, Prompt, Recipe, Terms, UserId, term_id};

/// Postings read per band at most (the newest): a band in more prompts
/// than this is one of very common words, and the other bands find the twin.
pub const BAND_READ: u64 = 300;
/// Candidates of the similar search scored exactly (those sharing the most bands).
const SIMILAR_CANDIDATES: u64 = 50;
/// A word in this many prompts or more weighs 1; rarer words weigh more
/// (`1 + ln(DF_REF / docs)`).
const DF_REF: f64 = 10_000.0;
/// Inline answers are ranked in windows of this many candidates (every
/// page of a window is cut from the same ranking, so pages never repeat
/// or skip a video)…
const WINDOW: u64 = 200;
/// …and no deeper than this (a later `offset` answers nothing).
pub const DEEPEST: u64 = 1_000;
/// Postings of the rarest word walked at most when looking for prompts
/// with every word of the query (the newest).
const EVERY_WORD_WALK: u64 = 4_000;
/// Postings read at most, over all words, when looking for prompts with
/// some of the words (each word's newest, at least [`SOME_WORDS_MIN`]).
const SOME_WORDS_BUDGET: u64 = 2_400;
const SOME_WORDS_MIN: u64 = 100;
/// Postings written per statement at most (3 bound values each, under
/// SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 5_000;
/// Rows made before the search are indexed at start-up this many at a time
/// (one short write transaction each)…
const REINDEX_BATCH: u64 = 100;
/// …with this pause after each, so requests recorded meanwhile (SQLite has
/// one writer) never wait behind a long run of re-index writes.
const REINDEX_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);
const REINDEXED_UPTO: &str = "reindexed_upto";

/// An available video the search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub asset_id: AssetId,
    /// The normalized prompt.
    pub prompt: String,
    /// The prompt as first typed.
    pub typed: String,
    pub file_id: FileId,
    pub format: Format,
    /// The word match's weight (0 for an exact or a personal listing).
    pub score: f64,
}

/// The id of a recipe's choices and generator in the postings and bands.
pub fn recipe_id(recipe: &Recipe) -> i64 {
    let c = recipe.choices;
    term_id(&format!("recipe\x1f{}|{}|{}|{}", c.quality.token(), c.format.token(), c.length.token(), recipe.generator.token()))
}

/// Whether an asset belongs in the catalog: a prompt's own video (not an
/// extension's continuation) that is no remix of someone's photo.
pub fn indexable(asset: &Asset) -> bool {
    asset.parent_id.is_none() && asset.image_digest.is_none()
}

/// SQL with placeholders in the backend's own style.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self { backend, text: String::new(), values: Vec::new() }
    }

    /// The placeholder of a new bound value.
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// Placeholders of new bound values, comma-separated.
    fn list(&mut self, values: impl IntoIterator<Item = i64>) -> String {
        values.into_iter().map(|v| self.bind(v)).collect::<Vec<_>>().join(", ")
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// The rows of a query, each one's `term` and `asset_id`.
fn postings(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<(i64, i64)>, DbErr> {
    rows.into_iter().map(|row| Ok((row.try_get("", "term")?, row.try_get("", "asset_id")?))).collect()
}

/// Adds `delta` to the document count of each term (`terms`: term → count).
/// In term order, so concurrent transactions lock the rows in one order.
async fn count_words<C: ConnectionTrait>(db: &C, terms: &BTreeMap<i64, i64>, delta: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let entries: Vec<(i64, i64)> = terms.iter().map(|(t, n)| (*t, *n)).collect();
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(backend);
        if delta > 0 {
            let rows: Vec<String> = chunk.iter().map(|(t, n)| format!("({}, {})", sql.bind(*t), sql.bind(n * delta))).collect();
            sql.text = format!(
                "INSERT INTO search_words (term, docs) VALUES {} \
                 ON CONFLICT (term) DO UPDATE SET docs = search_words.docs + excluded.docs",
                rows.join(", ")
            );
            db.execute_raw(sql.statement()).await?;
        } else {
            // the prompts of a clear share few words: one statement per count
            let mut by_count: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for (t, n) in chunk {
                by_count.entry(*n).or_default().push(*t);
            }
            for (n, terms) in by_count {
                let mut sql = Sql::new(backend);
                let less = sql.bind(n * -delta);
                let list = sql.list(terms.iter().copied());
                sql.text = format!("UPDATE search_words SET docs = docs - {less} WHERE term IN ({list})");
                db.execute_raw(sql.statement()).await?;
                let mut sql = Sql::new(backend);
                let list = sql.list(terms);
                sql.text = format!("DELETE FROM search_words WHERE term IN ({list}) AND docs <= 0");
                db.execute_raw(sql.statement()).await?;
            }
        }
    }
    Ok(())
}

/// Writes the postings, word counts and bands of `asset` (when it belongs
/// in the catalog); an asset indexed before is left alone. Call it in the
/// transaction that makes the asset available.
pub async fn index_in<C: ConnectionTrait>(db: &C, asset: &Asset) -> Result<(), DbErr> {
    index_many_in(db, std::slice::from_ref(asset)).await
}

/// [`index_in`] for many assets at once (a few statements in all).
pub async fn index_many_in<C: ConnectionTrait>(db: &C, assets: &[Asset]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let docs: Vec<(i64, Terms, i64)> = assets
        .iter()
        .filter(|a| indexable(a))
        .map(|a| (a.id.0, Terms::of_text(&a.prompt), recipe_id(&a.recipe())))
        .filter(|(_, terms, _)| !terms.is_empty())
        .collect();
    // the postings; those written now (not before) say which assets are new
    let rows: Vec<(i64, i64, i64)> =
        docs.iter().flat_map(|(id, terms, recipe)| terms.ids().into_iter().map(move |t| (t, *id, *recipe))).collect();
    let mut added = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(backend);
        let values: Vec<String> =
            chunk.iter().map(|(t, a, r)| format!("({}, {}, {})", sql.bind(*t), sql.bind(*a), sql.bind(*r))).collect();
        sql.text = format!(
            "INSERT INTO search_terms (term, asset_id, recipe) VALUES {} ON CONFLICT DO NOTHING RETURNING term, asset_id",
            values.join(", ")
        );
        added.extend(postings(db.query_all_raw(sql.statement()).await?)?);
    }
    if added.is_empty() {
        return Ok(());
    }
    let mut words = BTreeMap::new();
    let mut new_assets = HashSet::new();
    for (term, asset) in added {
        *words.entry(term).or_insert(0) += 1;
        new_assets.insert(asset);
    }
    count_words(db, &words, 1).await?;
    let bands: Vec<(i64, i64)> = docs
        .iter()
        .filter(|(id, _, _)| new_assets.contains(id))
        .flat_map(|(id, terms, recipe)| terms.bands(*recipe).into_iter().map(move |b| (b, *id)))
        .collect();
    for chunk in bands.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(backend);
        let values: Vec<String> = chunk.iter().map(|(b, a)| format!("({}, {})", sql.bind(*b), sql.bind(*a))).collect();
        sql.text = format!("INSERT INTO search_bands (band, asset_id) VALUES {} ON CONFLICT DO NOTHING", values.join(", "));
        db.execute_raw(sql.statement()).await?;
    }
    Ok(())
}

/// Deletes the postings, word counts and bands of `asset` (cleared,
/// failed, refused): by its words and bands, through the primary keys.
pub async fn unindex_in<C: ConnectionTrait>(db: &C, asset: &Asset) -> Result<(), DbErr> {
    let terms = Terms::of_text(&asset.prompt);
    if terms.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    let ids = sql.list(terms.ids());
    let asset_id = sql.bind(asset.id.0);
    sql.text = format!("DELETE FROM search_terms WHERE term IN ({ids}) AND asset_id = {asset_id} RETURNING term, asset_id");
    let removed = postings(db.query_all_raw(sql.statement()).await?)?;
    if removed.is_empty() {
        return Ok(());
    }
    let words: BTreeMap<i64, i64> = removed.into_iter().map(|(t, _)| (t, 1)).collect();
    count_words(db, &words, -1).await?;
    let mut sql = Sql::new(backend);
    let bands = sql.list(terms.bands(recipe_id(&asset.recipe())));
    let asset_id = sql.bind(asset.id.0);
    sql.text = format!("DELETE FROM search_bands WHERE band IN ({bands}) AND asset_id = {asset_id}");
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Indexes assets in one transaction (the bench seeds with it; start-up
/// uses it for rows made before the search existed).
pub async fn index_assets(db: &DatabaseConnection, assets: &[Asset]) -> Result<(), DbErr> {
    let available: Vec<Asset> = assets.iter().filter(|a| a.status == crate::domain::AssetStatus::Available).cloned().collect();
    let txn = db.begin().await?;
    index_many_in(&txn, &available).await?;
    txn.commit().await
}

/// Indexes every available asset not looked at yet (rows made before the
/// search or before its index changed; after that only rows made since the
/// last start), in batches by id, remembering how far it got: run in the
/// background at start-up. Idempotent, and replicas running it together
/// only repeat work.
#[tracing::instrument(skip(db))]
pub async fn reindex(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut indexed = 0u64;
    loop {
        let upto = reindexed_upto(db).await?;
        let batch = video_assets::Entity::find()
            .filter(video_assets::Column::Id.gt(upto))
            .order_by_asc(video_assets::Column::Id)
            .limit(REINDEX_BATCH)
            .all(db)
            .await?;
        let Some(last) = batch.last().map(|a| a.id.0) else { break };
        let available: Vec<Asset> = batch.into_iter().filter(|a| a.status == crate::domain::AssetStatus::Available).collect();
        let txn = db.begin().await?;
        index_many_in(&txn, &available).await?;
        indexed += available.len() as u64;
        mark_reindexed(&txn, last).await?;
        txn.commit().await?;
        tokio::time::sleep(REINDEX_PAUSE).await;
    }
    if indexed > 0 {
        tracing::info!(assets = indexed, "indexed available videos for the search");
    }
    Ok(indexed)
}

async fn reindexed_upto(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let name = sql.bind(REINDEXED_UPTO);
    sql.text = format!("SELECT value FROM search_state WHERE name = {name}");
    match db.query_one_raw(sql.statement()).await? {
        Some(row) => row.try_get::<i64>("", "value"),
        None => Ok(0),
    }
}

/// Reads the rows of a query on `video_assets` (`id, prompt, typed_prompt, file_id, format`).
fn found_rows(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<Found>, DbErr> {
    rows.into_iter()
        .map(|row| {
            let prompt: String = row.try_get("", "prompt")?;
            let typed: Option<String> = row.try_get("", "typed_prompt")?;
            let format: String = row.try_get("", "format")?;
            Ok(Found {
                asset_id: AssetId(row.try_get("", "id")?),
                typed: typed.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| prompt.clone()),
                prompt,
                file_id: FileId(row.try_get("", "file_id")?),
                format: format.parse().unwrap_or_default(),
                score: 0.0,
            })
        })
        .collect()
}

const AVAILABLE: &str = "a.status = 'available' AND a.file_id IS NOT NULL";
const COLUMNS: &str = "a.id, a.prompt, a.typed_prompt, a.file_id, a.format";

/// A word's weight from the number of prompts it is in.
fn weight(docs: i64) -> f64 {
    1.0 + (DF_REF / (docs.max(1) as f64).min(DF_REF)).ln()
}

/// Scores compared to a millionth (a sum in SQL and one in Rust agree).
fn rounded(score: f64) -> f64 {
    (score * 1e6).round() / 1e6
}

/// The words of `ids` in any available prompt, with how many prompts each
/// is in, rarest first.
async fn known_words<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<(i64, i64)>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let list = sql.list(ids.iter().copied());
    sql.text = format!("SELECT term, docs FROM search_words WHERE term IN ({list}) AND docs > 0");
    let mut words: Vec<(i64, i64)> = db
        .query_all_raw(sql.statement())
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "term")?, row.try_get("", "docs")?)))
        .collect::<Result<_, DbErr>>()?;
    words.sort_by_key(|(term, docs)| (*docs, *term));
    Ok(words)
}

/// The newest assets (at most `limit`) whose prompt has every word of
/// `words` (rarest first): a walk of the rarest word's newest postings
/// (at most [`EVERY_WORD_WALK`]), each probed for the other words by key.
async fn with_every_word<C: ConnectionTrait>(db: &C, words: &[(i64, i64)], limit: u64) -> Result<Vec<i64>, DbErr> {
    let statement = every_word_statement(db.get_database_backend(), words, limit);
    db.query_all_raw(statement).await?.into_iter().map(|row| row.try_get("", "asset_id")).collect()
}

fn every_word_statement(backend: DbBackend, words: &[(i64, i64)], limit: u64) -> Statement {
    let mut sql = Sql::new(backend);
    let first = sql.bind(words.first().map_or(0, |(term, _)| *term));
    sql.text = if words.len() <= 1 {
        format!("SELECT asset_id FROM search_terms WHERE term = {first} ORDER BY asset_id DESC LIMIT {limit}")
    } else {
        let probes: Vec<String> = words[1..]
            .iter()
            .enumerate()
            .map(|(i, (term, _))| {
                let t = sql.bind(*term);
                format!("EXISTS (SELECT 1 FROM search_terms q{i} WHERE q{i}.term = {t} AND q{i}.asset_id = p.asset_id)")
            })
            .collect();
        format!(
            "SELECT p.asset_id AS asset_id FROM \
             (SELECT asset_id FROM search_terms WHERE term = {first} ORDER BY asset_id DESC LIMIT {EVERY_WORD_WALK}) p \
             WHERE {} ORDER BY p.asset_id DESC LIMIT {limit}",
            probes.join(" AND ")
        )
    };
    sql.statement()
}

/// The assets (at most `limit`) with the most (and rarest) of `words`
/// among each word's newest postings, with their scores.
async fn with_some_words<C: ConnectionTrait>(db: &C, words: &[(i64, i64)], limit: u64) -> Result<Vec<(i64, f64)>, DbErr> {
    let statement = some_words_statement(db.get_database_backend(), words, limit);
    db.query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "asset_id")?, rounded(row.try_get("", "score")?))))
        .collect()
}

fn some_words_statement(backend: DbBackend, words: &[(i64, i64)], limit: u64) -> Statement {
    let per_word = (SOME_WORDS_BUDGET / words.len().max(1) as u64).max(SOME_WORDS_MIN);
    let mut sql = Sql::new(backend);
    let branches: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, (term, docs))| {
            let w = sql.bind(weight(*docs));
            let t = sql.bind(*term);
            format!(
                "SELECT asset_id, CAST({w} AS DOUBLE PRECISION) AS w FROM \
                 (SELECT asset_id FROM search_terms WHERE term = {t} ORDER BY asset_id DESC LIMIT {per_word}) p{i}"
            )
        })
        .collect();
    sql.text = format!(
        "SELECT asset_id, SUM(w) AS score FROM ({}) u GROUP BY asset_id ORDER BY score DESC, asset_id DESC LIMIT {limit}",
        branches.join(" UNION ALL ")
    );
    sql.statement()
}

/// The available videos among `ids`, by id.
async fn available_by_id<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, Found>, DbErr> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(db.get_database_backend());
        let list = sql.list(chunk.iter().copied());
        sql.text = format!("SELECT {COLUMNS} FROM video_assets a WHERE a.id IN ({list}) AND {AVAILABLE}");
        out.extend(found_rows(db.query_all_raw(sql.statement()).await?)?.into_iter().map(|f| (f.asset_id.0, f)));
    }
    Ok(out)
}

/// The available videos whose prompt has `terms`' words, best first:
/// most (and rarest) words in common, then `prefer`'s format, then the
/// newest. First the prompts with every word (the newest, found by walking
/// the rarest word's postings), then — when those do not fill the window —
/// the best of each word's newest postings. The format is preferred within
/// blocks of [`WINDOW`] (so pages never repeat or skip a video); nothing
/// past [`DEEPEST`].
pub async fn matching<C: ConnectionTrait>(
    db: &C,
    terms: &Terms,
    prefer: Format,
    offset: u64,
    limit: u64,
) -> Result<Vec<Found>, DbErr> {
    if terms.is_empty() || limit == 0 || offset >= DEEPEST {
        return Ok(Vec::new());
    }
    let words = known_words(db, &terms.ids()).await?;
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let window = (offset + limit).min(DEEPEST).div_ceil(WINDOW) * WINDOW;
    let full = rounded(words.iter().map(|(_, docs)| weight(*docs)).sum());
    let every = with_every_word(db, &words, window).await?;
    let mut scored: Vec<(i64, f64)> = every.iter().map(|id| (*id, full)).collect();
    if words.len() > 1 && (every.len() as u64) < window {
        let seen: HashSet<i64> = every.into_iter().collect();
        scored.extend(with_some_words(db, &words, window).await?.into_iter().filter(|(id, _)| !seen.contains(id)));
    }
    let ids: Vec<i64> = scored.iter().map(|(id, _)| *id).collect();
    let mut rows = available_by_id(db, &ids).await?;
    let mut found: Vec<Found> =
        scored.into_iter().filter_map(|(id, score)| rows.remove(&id).map(|found| Found { score, ..found })).collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| b.asset_id.0.cmp(&a.asset_id.0)));
    // `prefer`'s format first among equal scores, within each block of
    // WINDOW: a wider window (a later page) never reorders an earlier block
    for block in found.chunks_mut(WINDOW as usize) {
        block.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| (a.format != prefer).cmp(&(b.format != prefer)))
                .then_with(|| b.asset_id.0.cmp(&a.asset_id.0))
        });
    }
    Ok(found.into_iter().skip(offset as usize).take(limit as usize).collect())
}

/// The available videos of exactly `prompt` (its own videos, any recipe,
/// no remix), `prefer`'s format first: by the indexed prompt digest.
pub async fn exact<C: ConnectionTrait>(db: &C, prompt: &Prompt, prefer: Format) -> Result<Vec<Found>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let (digest, text, format) = (sql.bind(prompt.legacy_key().as_str()), sql.bind(prompt.as_str()), sql.bind(prefer.token()));
    sql.text = format!(
        "SELECT {COLUMNS} FROM video_assets a WHERE a.prompt_digest = {digest} AND a.prompt = {text} \
         AND a.parent_id IS NULL AND a.image_digest IS NULL AND {AVAILABLE} \
         ORDER BY CASE WHEN a.format = {format} THEN 0 ELSE 1 END, a.id DESC LIMIT 10"
    );
    found_rows(db.query_all_raw(sql.statement()).await?)
}

/// `user`'s own recent videos that are still available, newest first
/// (an empty inline query).
pub async fn recent_of<C: ConnectionTrait>(db: &C, user: UserId, offset: u64, limit: u64) -> Result<Vec<Found>, DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let user = sql.bind(user.0);
    sql.text = format!(
        "SELECT {COLUMNS} FROM video_assets a WHERE a.id IN \
         (SELECT asset_id FROM user_requests WHERE telegram_user_id = {user} ORDER BY id DESC LIMIT 500) \
         AND {AVAILABLE} ORDER BY a.id DESC LIMIT {limit} OFFSET {offset}"
    );
    found_rows(db.query_all_raw(sql.statement()).await?)
}

/// The available video of the same recipe whose prompt is most like
/// `prompt` (not `prompt` itself), with its similarity (0.0–1.0): the
/// assets sharing a MinHash band with it (at most [`BAND_READ`] per band,
/// the newest), the [`SIMILAR_CANDIDATES`] sharing the most scored exactly.
#[tracing::instrument(skip_all)]
pub async fn most_similar(db: &DatabaseConnection, prompt: &Prompt, recipe: &Recipe) -> Result<Option<(Found, f64)>, DbErr> {
    if recipe.image.is_some() {
        return Ok(None);
    }
    let terms = Terms::of(prompt);
    if terms.is_empty() {
        return Ok(None);
    }
    let statement = similar_statement(db.get_database_backend(), &terms, recipe_id(recipe), prompt.as_str());
    let candidates = found_rows(db.query_all_raw(statement).await?)?;
    let best = candidates
        .into_iter()
        .map(|found| {
            let similarity = Terms::of_text(&found.prompt).similarity(&terms);
            (found, similarity)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.asset_id.0.cmp(&b.0.asset_id.0)));
    Ok(best)
}

/// The [`SIMILAR_CANDIDATES`] available assets sharing the most of
/// `terms`' bands under `recipe` (not of prompt `own`).
fn similar_statement(backend: DbBackend, terms: &Terms, recipe: i64, own: &str) -> Statement {
    let mut sql = Sql::new(backend);
    let branches: Vec<String> = terms
        .bands(recipe)
        .into_iter()
        .enumerate()
        .map(|(i, band)| {
            let b = sql.bind(band);
            format!(
                "SELECT asset_id FROM (SELECT asset_id FROM search_bands WHERE band = {b} ORDER BY asset_id DESC LIMIT {BAND_READ}) b{i}"
            )
        })
        .collect();
    let own = sql.bind(own);
    sql.text = format!(
        "SELECT {COLUMNS} FROM \
         (SELECT asset_id, COUNT(*) AS shared FROM ({}) u GROUP BY asset_id \
         ORDER BY shared DESC, asset_id DESC LIMIT {SIMILAR_CANDIDATES}) s \
         JOIN video_assets a ON a.id = s.asset_id WHERE {AVAILABLE} AND a.prompt <> {own}",
        branches.join(" UNION ALL ")
    );
    sql.statement()
}

/// Keeps a prompt typed in inline mode under its `start_parameter` (the
/// hex digest of the normalized prompt: 64 characters of `0-9a-f`).
pub async fn keep_start(db: &DatabaseConnection, prompt: &Prompt, typed: &str) -> Result<String, DbErr> {
    let parameter = prompt.legacy_key().as_str().to_owned();
    let mut sql = Sql::new(db.get_database_backend());
    let (p, t, at) = (sql.bind(parameter.clone()), sql.bind(typed.trim().to_owned()), sql.bind(Utc::now()));
    sql.text =
        format!("INSERT INTO inline_starts (parameter, prompt, created_at) VALUES ({p}, {t}, {at}) ON CONFLICT DO NOTHING");
    db.execute_raw(sql.statement()).await?;
    Ok(parameter)
}

/// The prompt kept under `parameter`, if any.
pub async fn started(db: &DatabaseConnection, parameter: &str) -> Result<Option<String>, DbErr> {
    if parameter.is_empty() || parameter.len() > 64 || !parameter.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    {
        return Ok(None);
    }
    Ok(super::entities::inline_starts::Entity::find_by_id(parameter.to_owned()).one(db).await?.map(|row| row.prompt))
}

/// Counters kept with the search's state (every replica adds to them).
pub const INLINE_ANSWERS: &str = "inline_answers";
pub const INLINE_SENDS: &str = "inline_sends";
pub const OFFERS_MADE: &str = "offers_made";
pub const OFFERS_ACCEPTED: &str = "offers_accepted";
pub const OFFERS_DECLINED: &str = "offers_declined";

/// Adds `n` to counter `name`.
pub async fn add_count<C: ConnectionTrait>(db: &C, name: &str, n: i64) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let (name, value) = (sql.bind(name), sql.bind(n));
    sql.text = format!(
        "INSERT INTO search_state (name, value) VALUES ({name}, {value}) \
         ON CONFLICT (name) DO UPDATE SET value = search_state.value + excluded.value"
    );
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// The counters, for `/stats`: (inline answers, inline sends, offers made, accepted, declined).
pub async fn counts(db: &DatabaseConnection) -> Result<SearchCounts, DbErr> {
    let rows = super::entities::search_state::Entity::find().all(db).await?;
    let get = |name: &str| rows.iter().find(|r| r.name == name).map_or(0, |r| r.value);
    Ok(SearchCounts {
        inline_answers: get(INLINE_ANSWERS),
        inline_sends: get(INLINE_SENDS),
        offers_made: get(OFFERS_MADE),
        offers_accepted: get(OFFERS_ACCEPTED),
        offers_declined: get(OFFERS_DECLINED),
    })
}

/// What the search did, for `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchCounts {
    pub inline_answers: i64,
    pub inline_sends: i64,
    pub offers_made: i64,
    pub offers_accepted: i64,
    pub offers_declined: i64,
}

/// Records that every asset up to `upto` is indexed (a seeding tool that
/// indexed its rows itself spares the start-up re-index).
pub async fn mark_reindexed<C: ConnectionTrait>(db: &C, upto: i64) -> Result<(), DbErr> {
    let mut sql = Sql::new(db.get_database_backend());
    let (name, value) = (sql.bind(REINDEXED_UPTO), sql.bind(upto));
    sql.text = format!(
        "INSERT INTO search_state (name, value) VALUES ({name}, {value}) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE search_state.value < excluded.value"
    );
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;
    use crate::domain::{AssetStatus, Choices, Wanted};

    async fn migrated() -> (tempfile::TempDir, DatabaseConnection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("search.sqlite").display());
        let db = super::super::connect(&crate::config::DataStore::parse(&url).expect("url")).await.expect("migrated");
        (dir, db)
    }

    fn recipe(format: Format) -> Recipe {
        Recipe { choices: Choices { format, ..Choices::default() }, ..Recipe::default() }
    }

    /// An available video of `typed` (not indexed yet).
    async fn available(db: &DatabaseConnection, typed: &str, format: Format) -> Asset {
        let wanted = Wanted::new(Prompt::parse(typed, 1000).expect("prompt"), recipe(format));
        let mut row = video_assets::ActiveModel::new_pending(wanted.key(), &wanted, Some(typed.to_owned()), Utc::now());
        row.status = Set(AssetStatus::Available);
        row.stage = Set(None);
        row.file_id = Set(Some(FileId(format!("file {typed} {}", format.token()))));
        row.insert(db).await.expect("asset")
    }

    async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
        let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql)).await.expect("query").expect("a row");
        row.try_get::<Option<i64>>("", "n").expect("n").unwrap_or(0)
    }

    async fn docs(db: &DatabaseConnection, stem: &str) -> i64 {
        number(db, &format!("SELECT SUM(docs) AS n FROM search_words WHERE term = {}", term_id(stem))).await
    }

    #[tokio::test]
    async fn an_asset_indexed_twice_counts_once_and_a_clear_forgets_its_words_and_bands() {
        let (_dir, db) = migrated().await;
        let fox = available(&db, "A red fox jumping over a wooden fence", Format::Landscape).await;
        let stems = Terms::of_text(&fox.prompt).len() as i64;
        index_in(&db, &fox).await.expect("indexed");
        index_in(&db, &fox).await.expect("indexed again");
        assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM search_terms").await, stems);
        assert_eq!(number(&db, "SELECT SUM(docs) AS n FROM search_words").await, stems);
        assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM search_bands").await, 8);
        let car = available(&db, "A red car", Format::Landscape).await;
        index_many_in(&db, &[car.clone(), fox.clone()]).await.expect("indexed");
        assert_eq!(docs(&db, "red").await, 2);
        assert_eq!(docs(&db, "fox").await, 1);

        unindex_in(&db, &fox).await.expect("unindexed");
        unindex_in(&db, &fox).await.expect("unindexed again");
        assert_eq!(docs(&db, "red").await, 1);
        assert_eq!(number(&db, &format!("SELECT COUNT(*) AS n FROM search_words WHERE term = {}", term_id("fox"))).await, 0);
        assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM search_terms").await, 2);
        assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM search_bands").await, 8, "the car's bands only");
        let twin = Prompt::parse("red fox jumps over the wooden fence", 1000).expect("prompt");
        assert!(most_similar(&db, &twin, &Recipe::default()).await.expect("search").is_none());
    }

    #[tokio::test]
    async fn the_twin_is_found_among_many_alike_prompts_and_a_stranger_finds_nothing() {
        let (_dir, db) = migrated().await;
        let mut assets = vec![available(&db, "A red fox jumping over a wooden fence", Format::Landscape).await];
        for i in 0..300 {
            let typed = format!("A red fox number {i} jumping over a wooden fence");
            assets.push(available(&db, &typed, if i % 2 == 0 { Format::Landscape } else { Format::Portrait }).await);
        }
        index_many_in(&db, &assets).await.expect("indexed");
        let twin = Prompt::parse("red fox jumps over the wooden fence", 1000).expect("prompt");
        let (found, similarity) = most_similar(&db, &twin, &Recipe::default()).await.expect("search").expect("a twin");
        assert_eq!(found.asset_id, assets[0].id, "{found:?}");
        assert!(similarity > 0.95, "{similarity}");
        let whale = Prompt::parse("A blue whale singing in the ocean", 1000).expect("prompt");
        assert!(most_similar(&db, &whale, &Recipe::default()).await.expect("search").is_none());
    }

    #[tokio::test]
    async fn every_word_first_then_rarer_words_the_format_preferred_and_pages_never_repeat() {
        let (_dir, db) = migrated().await;
        let mut assets = Vec::new();
        for i in 0..230 {
            let format = if i % 3 == 0 { Format::Portrait } else { Format::Landscape };
            assets.push(available(&db, &format!("fox number {i}"), format).await);
        }
        let red_fox_wide = available(&db, "a red fox at dawn", Format::Landscape).await;
        let red_fox_tall = available(&db, "a red fox in the snow", Format::Portrait).await;
        let red_car = available(&db, "a red car", Format::Landscape).await;
        let blue = available(&db, "a blue whale", Format::Landscape).await;
        assets.extend([red_fox_wide.clone(), red_fox_tall.clone(), red_car.clone(), blue.clone()]);
        index_many_in(&db, &assets).await.expect("indexed");

        let red_fox = Terms::of_text("red fox");
        let words = matching(&db, &red_fox, Format::Portrait, 0, 50).await.expect("matching");
        let ids: Vec<AssetId> = words.iter().map(|f| f.asset_id).collect();
        // both words (the preferred format first), then the rarer word, then the common one
        assert_eq!(ids[..3], [red_fox_tall.id, red_fox_wide.id, red_car.id], "{words:?}");
        assert!(words[3..].iter().all(|f| f.prompt.starts_with("fox number")));
        assert!(!ids.contains(&blue.id));
        let wide = matching(&db, &red_fox, Format::Landscape, 0, 2).await.expect("matching");
        assert_eq!(wide.iter().map(|f| f.asset_id).collect::<Vec<_>>(), [red_fox_wide.id, red_fox_tall.id]);

        // every fox once over pages of 50 (across ranking windows), the preferred format first within a window
        let fox = Terms::of_text("fox");
        let mut seen = Vec::new();
        for page in 0..6 {
            let found = matching(&db, &fox, Format::Portrait, page * 50, 50).await.expect("page");
            seen.extend(found.iter().map(|f| f.asset_id));
        }
        let distinct: HashSet<AssetId> = seen.iter().copied().collect();
        assert_eq!((seen.len(), distinct.len()), (232, 232));
        let first = matching(&db, &fox, Format::Portrait, 0, 50).await.expect("page");
        assert!(first.iter().all(|f| f.format == Format::Portrait), "{first:?}");
        assert!(matching(&db, &fox, Format::Portrait, DEEPEST, 50).await.expect("deep").is_empty());
        assert!(matching(&db, &Terms::of_text("zebra"), Format::Portrait, 0, 50).await.expect("unknown").is_empty());
    }

    /// `EXPLAIN QUERY PLAN` lines of a statement.
    async fn plan(db: &DatabaseConnection, statement: Statement) -> Vec<String> {
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all_raw(explain).await.expect("explained");
        rows.iter().map(|row| row.try_get::<String>("", "detail").expect("detail")).collect()
    }

    #[tokio::test]
    async fn every_search_query_reads_its_tables_by_key_only() {
        let (_dir, db) = migrated().await;
        let sqlite = DbBackend::Sqlite;
        let terms = Terms::of_text("A red fox jumping over a wooden fence");
        let words: Vec<(i64, i64)> = terms.ids().into_iter().map(|t| (t, 5)).collect();
        let cases = [
            ("similar", similar_statement(sqlite, &terms, recipe_id(&Recipe::default()), "a red fox")),
            ("every word of one", every_word_statement(sqlite, &words[..1], 200)),
            ("every word of five", every_word_statement(sqlite, &words, 200)),
            ("some words", some_words_statement(sqlite, &words, 200)),
        ];
        for (name, statement) in cases {
            let lines = plan(&db, statement).await;
            let text = lines.join("\n");
            for line in &lines {
                // a scan only of the query's own subqueries (each a few hundred rows at most)
                if let Some(target) = line.strip_prefix("SCAN ").and_then(|rest| rest.split_whitespace().next()) {
                    let subquery = ["u", "s", "p"].contains(&target)
                        || (target.len() > 1
                            && (target.starts_with('b') || target.starts_with('p'))
                            && target[1..].bytes().all(|b| b.is_ascii_digit()));
                    assert!(subquery, "{name} scans {target}:\n{text}");
                }
            }
            assert!(lines.iter().any(|l| l.starts_with("SEARCH")), "{name}:\n{text}");
        }
    }
}
