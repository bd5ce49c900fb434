//! The catalog search, kept in the database: one posting per (word stem,
//! asset) for every available prompt's own video (`search_terms`), written
//! in the transaction that makes the asset available and deleted in the
//! one that clears or fails it. A query reads the postings of its own
//! words only (at most [`POSTINGS_PER_TERM`] per word, newest first, by the
//! primary key), weighs rare words above common ones, and joins the few
//! best candidates with `video_assets` to keep only what is available now
//! — so a clear on one replica is never offered by another. Used by the
//! similar-video offer and by inline mode, on SQLite and PostgreSQL alike.

use chrono::Utc;
use sea_orm::{ColumnTrait, TransactionTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::assets::Asset;
use super::entities::video_assets;
use crate::domain::{AssetId, FileId, Format, Prompt, Recipe, Terms, UserId, term_id};

/// Postings read per word at most: a word in more prompts than this is
/// common, and only its newest postings are read.
pub const POSTINGS_PER_TERM: u64 = 2000;
/// Document counts are read up to this (rarer words weigh more; every word
/// in more prompts than this weighs the same).
const DF_CAP: u64 = 10_000;
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

/// The id of a recipe's choices and generator in the postings.
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

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Writes the postings of `asset` (when it belongs in the catalog); a
/// posting already there is left alone. Call it in the transaction that
/// makes the asset available.
pub async fn index_in<C: ConnectionTrait>(db: &C, asset: &Asset) -> Result<(), DbErr> {
    if !indexable(asset) {
        return Ok(());
    }
    let terms = Terms::of_text(&asset.prompt);
    if terms.is_empty() {
        return Ok(());
    }
    let recipe = recipe_id(&asset.recipe());
    let mut sql = Sql::new(db.get_database_backend());
    let mut rows = Vec::new();
    for term in terms.ids() {
        let (t, a, r) = (sql.bind(term), sql.bind(asset.id.0), sql.bind(recipe));
        rows.push(format!("({t}, {a}, {r})"));
    }
    sql.text = format!("INSERT INTO search_terms (term, asset_id, recipe) VALUES {} ON CONFLICT DO NOTHING", rows.join(", "));
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Deletes the postings of `asset` (cleared, failed, refused): by its
/// words, through the primary key.
pub async fn unindex_in<C: ConnectionTrait>(db: &C, asset: &Asset) -> Result<(), DbErr> {
    let terms = Terms::of_text(&asset.prompt);
    if terms.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(db.get_database_backend());
    let ids: Vec<String> = terms.ids().into_iter().map(|t| sql.bind(t)).collect();
    let asset_id = sql.bind(asset.id.0);
    sql.text = format!("DELETE FROM search_terms WHERE term IN ({}) AND asset_id = {asset_id}", ids.join(", "));
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Indexes assets in one transaction (the bench seeds with it; start-up
/// uses it for rows made before the search existed).
pub async fn index_assets(db: &DatabaseConnection, assets: &[Asset]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for asset in assets.iter().filter(|a| a.status == crate::domain::AssetStatus::Available) {
        index_in(&txn, asset).await?;
    }
    txn.commit().await
}

/// Indexes every available asset not looked at yet (rows made before the
/// search; after that only rows made since the last start), in batches
/// by id, remembering how far it got: run in the background at start-up.
/// Idempotent, and replicas running it together only repeat work.
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
        let txn = db.begin().await?;
        for asset in batch.iter().filter(|a| a.status == crate::domain::AssetStatus::Available) {
            index_in(&txn, asset).await?;
            indexed += 1;
        }
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

/// Reads the rows of a query on `video_assets` (`id, prompt, typed_prompt, file_id, format[, score]`).
fn found_rows(rows: Vec<sea_orm::QueryResult>, scored: bool) -> Result<Vec<Found>, DbErr> {
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
                score: if scored { row.try_get("", "score")? } else { 0.0 },
            })
        })
        .collect()
}

const AVAILABLE: &str = "a.status = 'available' AND a.file_id IS NOT NULL";
const COLUMNS: &str = "a.id, a.prompt, a.typed_prompt, a.file_id, a.format";

/// The available videos whose prompt has `terms`' words, best first:
/// most (and rarest) words in common, then `prefer`'s format, then the
/// newest. `recipe`: only videos of that recipe. Reads at most
/// [`POSTINGS_PER_TERM`] postings per word.
pub async fn matching<C: ConnectionTrait>(
    db: &C,
    terms: &Terms,
    recipe: Option<i64>,
    prefer: Format,
    offset: u64,
    limit: u64,
) -> Result<Vec<Found>, DbErr> {
    if terms.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let ids = terms.ids();
    let backend = db.get_database_backend();
    // how common each word is (counted up to DF_CAP, through the key)
    let mut sql = Sql::new(backend);
    let counts: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let t = sql.bind(*id);
            format!("(SELECT COUNT(*) FROM (SELECT 1 AS x FROM search_terms WHERE term = {t} LIMIT {DF_CAP}) c{i}) AS d{i}")
        })
        .collect();
    sql.text = format!("SELECT {}", counts.join(", "));
    let row = db.query_one_raw(sql.statement()).await?;
    let mut sql = Sql::new(backend);
    let mut branches = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let df: i64 = match &row {
            Some(row) => row.try_get("", &format!("d{i}"))?,
            None => 0,
        };
        if df == 0 {
            continue;
        }
        let weight = 1.0 + (DF_CAP as f64 / df as f64).ln();
        let t = sql.bind(*id);
        let same = match recipe {
            Some(r) => format!(" AND recipe = {}", sql.bind(r)),
            None => String::new(),
        };
        branches.push(format!(
            "SELECT asset_id, CAST({weight:.6} AS DOUBLE PRECISION) AS w FROM \
             (SELECT asset_id FROM search_terms WHERE term = {t}{same} ORDER BY asset_id DESC LIMIT {POSTINGS_PER_TERM}) p{i}"
        ));
    }
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let candidates = offset + limit + 50;
    let format = sql.bind(prefer.token());
    sql.text = format!(
        "SELECT {COLUMNS}, s.score AS score FROM \
         (SELECT asset_id, SUM(w) AS score FROM ({}) u GROUP BY asset_id ORDER BY score DESC, asset_id DESC LIMIT {candidates}) s \
         JOIN video_assets a ON a.id = s.asset_id WHERE {AVAILABLE} \
         ORDER BY s.score DESC, CASE WHEN a.format = {format} THEN 0 ELSE 1 END, a.id DESC LIMIT {limit} OFFSET {offset}",
        branches.join(" UNION ALL ")
    );
    found_rows(db.query_all_raw(sql.statement()).await?, true)
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
    found_rows(db.query_all_raw(sql.statement()).await?, false)
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
    found_rows(db.query_all_raw(sql.statement()).await?, false)
}

/// The available video of the same recipe whose prompt is most like
/// `prompt` (not `prompt` itself), with its similarity (0.0–1.0).
#[tracing::instrument(skip_all)]
pub async fn most_similar(db: &DatabaseConnection, prompt: &Prompt, recipe: &Recipe) -> Result<Option<(Found, f64)>, DbErr> {
    if recipe.image.is_some() {
        return Ok(None);
    }
    let terms = Terms::of(prompt);
    if terms.is_empty() {
        return Ok(None);
    }
    let candidates = matching(db, &terms, Some(recipe_id(recipe)), recipe.choices.format, 0, 20).await?;
    let best = candidates
        .into_iter()
        .filter(|found| found.prompt != prompt.as_str())
        .map(|found| {
            let similarity = Terms::of_text(&found.prompt).similarity(&terms);
            (found, similarity)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Ok(best)
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
