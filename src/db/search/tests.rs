use sea_orm::{ActiveModelTrait, Set};

use super::*;
use crate::db::entities::video_assets;
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
