//! sea-orm entities for the tables the `migration` crate creates.

pub mod user_requests;
pub mod video_assets;
