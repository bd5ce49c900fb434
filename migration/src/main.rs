//! `migration [up|down|status|fresh]`: applies the vidcache schema to `DATABASE_URL`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Database;

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("migration: set DATABASE_URL (for example sqlite://data/vidcache.sqlite?mode=rwc)");
        std::process::exit(2);
    };
    let command = std::env::args().nth(1).unwrap_or_else(|| "up".to_owned());
    let result = async {
        let db = Database::connect(&url).await?;
        match command.as_str() {
            "up" => migration::Migrator::up(&db, None).await,
            "down" => migration::Migrator::down(&db, Some(1)).await,
            "fresh" => migration::Migrator::fresh(&db).await,
            "status" => migration::Migrator::status(&db).await,
            other => Err(DbErr::Custom(format!("unknown command `{other}`; use up, down, fresh or status"))),
        }
    }
    .await;
    if let Err(err) = result {
        eprintln!("migration {command} failed: {err}");
        std::process::exit(1);
    }
}
