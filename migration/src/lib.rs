//! Database schema for vidcache, as sea-orm migrations.
//!
//! Every table the service uses is created here; the entities in
//! `vidcache::db::entities` mirror these definitions.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_video_assets;
mod m20261124_000002_create_user_requests;
mod m20261124_000003_create_generation_stages;
mod m20261124_000004_add_progress_message;
mod m20261202_000005_add_dispatched_at;
mod m20261202_000006_add_paid_broadcast;
mod m20261202_000007_create_credits;
mod m20261202_000008_add_request_hold;
mod m20261202_000009_create_operator_actions;
mod m20261202_000011_add_request_language;
mod m20261202_000013_create_approvals;
mod m20261202_000015_add_asset_extensions;
mod m20261202_000016_create_pending_extensions;
mod m20261202_000017_create_user_languages;
mod m20261202_000018_add_asset_typed_prompt;
mod m20261207_000019_add_recipe;
mod m20261207_000020_create_update_inbox;
mod m20261207_000021_add_refusals;
mod m20261207_000022_create_search;
mod m20261207_000023_add_request_thread;
mod m20261207_000024_add_scale_indexes;
mod m20261207_000025_add_stage_payload;
mod m20261207_000026_search_bands;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_video_assets::Migration),
            Box::new(m20261124_000002_create_user_requests::Migration),
            Box::new(m20261124_000003_create_generation_stages::Migration),
            Box::new(m20261124_000004_add_progress_message::Migration),
            Box::new(m20261202_000005_add_dispatched_at::Migration),
            Box::new(m20261202_000006_add_paid_broadcast::Migration),
            Box::new(m20261202_000007_create_credits::Migration),
            Box::new(m20261202_000008_add_request_hold::Migration),
            Box::new(m20261202_000009_create_operator_actions::Migration),
            Box::new(m20261202_000011_add_request_language::Migration),
            Box::new(m20261202_000013_create_approvals::Migration),
            Box::new(m20261202_000015_add_asset_extensions::Migration),
            Box::new(m20261202_000016_create_pending_extensions::Migration),
            Box::new(m20261202_000017_create_user_languages::Migration),
            Box::new(m20261202_000018_add_asset_typed_prompt::Migration),
            Box::new(m20261207_000019_add_recipe::Migration),
            Box::new(m20261207_000020_create_update_inbox::Migration),
            Box::new(m20261207_000021_add_refusals::Migration),
            Box::new(m20261207_000022_create_search::Migration),
            Box::new(m20261207_000023_add_request_thread::Migration),
            Box::new(m20261207_000024_add_scale_indexes::Migration),
            Box::new(m20261207_000025_add_stage_payload::Migration),
            Box::new(m20261207_000026_search_bands::Migration),
        ]
    }
}
