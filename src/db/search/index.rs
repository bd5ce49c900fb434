//! The search rows kept with the assets: postings, per-word counts and
//! MinHash bands written when an asset becomes available (one batch at a
//! time), removed when it is cleared or fails, and the paced re-index at
//! start-up that rebuilds them.

use std::collections::{BTreeMap, HashSet};

use sea_orm::{ColumnTrait, TransactionTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::*;
use crate::db::assets::Asset;
use crate::db::entities::video_assets;
use crate::domain::Terms;

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
