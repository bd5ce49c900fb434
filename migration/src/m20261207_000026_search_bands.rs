use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// The catalog search reads few rows (issue #24 part 3, #25 part 1):
/// - `search_words`: how many available prompts each word stem is in
///   (`term` → `docs`), kept with the postings, so a query weighs its words
///   and starts from the rarest without counting postings.
/// - `search_bands`: the MinHash bands of each available prompt under its
///   recipe (`band`, `asset_id`; primary key in that order — on SQLite a
///   `WITHOUT ROWID` table): the similar-video offer reads the assets that
///   share a band with the new prompt instead of every posting of its words.
/// - `idx_search_terms_recipe` is dropped (the similar search no longer
///   reads postings by recipe).
///
/// Everything here is derived from `video_assets`: the postings are
/// emptied and the start-up re-index's mark reset, so the paced background
/// re-index (100 assets a batch) rebuilds postings, counts and bands
/// together for every available video; until it is through, the search
/// finds fewer videos, and every cached video is still a hit.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_words (term INTEGER NOT NULL PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_bands (band INTEGER NOT NULL, asset_id INTEGER NOT NULL, \
                     PRIMARY KEY (band, asset_id)) WITHOUT ROWID",
                )
                .await?;
                db.execute_unprepared("DELETE FROM search_terms").await?;
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_words (term BIGINT NOT NULL PRIMARY KEY, docs BIGINT NOT NULL)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TABLE IF NOT EXISTS search_bands (band BIGINT NOT NULL, asset_id BIGINT NOT NULL, \
                     PRIMARY KEY (band, asset_id))",
                )
                .await?;
                db.execute_unprepared("TRUNCATE search_terms").await?;
            }
        }
        db.execute_unprepared("DROP INDEX IF EXISTS idx_search_terms_recipe").await?;
        db.execute_unprepared("DELETE FROM search_state WHERE name = 'reindexed_upto'").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE IF EXISTS search_bands").await?;
        db.execute_unprepared("DROP TABLE IF EXISTS search_words").await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS idx_search_terms_recipe ON search_terms (term, recipe, asset_id)")
            .await?;
        Ok(())
    }
}
