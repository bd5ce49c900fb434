//! The hot queries on a large library use an index: `EXPLAIN QUERY PLAN`
//! on SQLite shows no scan of every asset (or request) and no sort of every
//! match. Checked against the statements the service runs (each query's
//! builder), on a freshly migrated database.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryTrait, Statement};

use crate::domain::{AssetId, AssetStatus, Prompt, PromptKey, Recipe, UserId};

async fn migrated() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("plans.sqlite").display());
    let db = super::connect(&crate::config::DataStore::parse(&url).expect("url")).await.expect("migrated");
    (dir, db)
}

/// The plan's lines (`detail` of each row).
async fn plan(db: &DatabaseConnection, statement: Statement) -> Vec<String> {
    let explain = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = db.query_all_raw(explain).await.expect("explained");
    rows.iter().map(|row| row.try_get::<String>("", "detail").expect("detail")).collect()
}

/// How a query may read `video_assets` / `user_requests`.
enum Reads {
    /// Only the rows an index lookup finds (`SEARCH … USING … INDEX`, or
    /// by primary key), named by `index`.
    Search(&'static str),
    /// An index walked in its order and stopped by the query's `LIMIT`
    /// (`SCAN … USING INDEX`, no sort).
    Walk(&'static str),
}

fn check(name: &str, lines: &[String], reads: Reads) {
    let text = lines.join("\n");
    for line in lines {
        for table in ["video_assets", "user_requests"] {
            assert_ne!(line.trim(), format!("SCAN {table}"), "{name} reads every row of {table}:\n{text}");
        }
        assert!(!line.contains("TEMP B-TREE"), "{name} sorts every match:\n{text}");
    }
    match reads {
        Reads::Search(index) => {
            assert!(
                lines.iter().any(|l| l.starts_with("SEARCH") && l.contains(index)),
                "{name} does not search by {index}:\n{text}"
            );
            assert!(!lines.iter().any(|l| l.starts_with("SCAN")), "{name} scans:\n{text}");
        }
        Reads::Walk(index) => {
            assert!(lines.iter().any(|l| l.contains(index)), "{name} does not walk {index}:\n{text}");
        }
    }
}

#[tokio::test]
async fn the_hot_queries_use_an_index_and_never_scan_every_asset() {
    use super::{assets, console, requests};
    let (_dir, db) = migrated().await;
    let sqlite = DbBackend::Sqlite;
    let key = PromptKey::of(&Prompt::parse("zoë", 100).expect("prompt"), &Recipe::default());
    let now = Utc::now();
    let cases: Vec<(&str, Statement, Reads)> = vec![
        ("a cache miss (the key)", assets::by_key(&key).build(sqlite), Reads::Search("prompt_key")),
        (
            "the cache warm-up",
            assets::recent_available_query(10_000).build(sqlite),
            Reads::Search("idx_video_assets_status_updated"),
        ),
        (
            "cleared since (every 500 ms)",
            assets::unavailable_since_query(now).build(sqlite),
            Reads::Search("idx_video_assets_updated"),
        ),
        (
            "the sweep: assets of a file's key prefix",
            assets::with_key_prefix_query("0123456789abcdef").build(sqlite),
            Reads::Search("prompt_key"),
        ),
        (
            "the sweep: the asset of a file",
            assets::with_file_path_query("/data/videos/0123456789abcdef-g1.mp4").build(sqlite),
            Reads::Search("idx_video_assets_file_path"),
        ),
        (
            "the sweep: extensions in progress",
            assets::extension_in_progress_query(&[AssetId(1), AssetId(2)]).build(sqlite),
            Reads::Search("idx_video_assets_parent"),
        ),
        (
            "/history",
            requests::delivered_videos_query(UserId(7), 10).build(sqlite),
            Reads::Search("idx_user_requests_user_status"),
        ),
        (
            "a user's requests (console)",
            requests::recent_for_user_query(UserId(7), 100).build(sqlite),
            Reads::Search("idx_user_requests_user"),
        ),
        (
            "console: assets in a state",
            console::search_assets_query(None, None, Some(AssetStatus::Available), 100).build(sqlite),
            Reads::Search("idx_video_assets_status_updated"),
        ),
        (
            "console: every asset, newest first",
            console::search_assets_query(None, None, None, 100).build(sqlite),
            Reads::Walk("idx_video_assets_updated"),
        ),
    ];
    for (name, statement, reads) in cases {
        let lines = plan(&db, statement).await;
        check(name, &lines, reads);
    }
}
