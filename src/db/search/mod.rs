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

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Statement, Value};

mod index;
#[cfg(test)]
mod tests;

pub use index::{index_assets, index_in, index_many_in, mark_reindexed, reindex, unindex_in};

use super::assets::Asset;
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
