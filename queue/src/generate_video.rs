use serde::{Deserialize, Serialize};

/// The queue's name, fixed so that renaming the Rust type never orphans jobs.
pub const QUEUE_NAME: &str = "vidcache.generate_video";

/// "Generate (or re-upload) asset `asset_id` for its generation `generation`."
///
/// A generation is bumped by the database every time an asset moves into
/// `pending`, so `(asset_id, generation)` names exactly one unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateVideo {
    pub asset_id: i64,
    pub generation: i64,
}

impl GenerateVideo {
    /// The queue-level identity of this job: at most one job per key exists.
    pub fn idempotency_key(&self) -> String {
        format!("asset:{}:generation:{}", self.asset_id, self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_differs_per_generation_and_asset() {
        let a = GenerateVideo { asset_id: 1, generation: 1 };
        let b = GenerateVideo { asset_id: 1, generation: 2 };
        let c = GenerateVideo { asset_id: 2, generation: 1 };
        assert_ne!(a.idempotency_key(), b.idempotency_key());
        assert_ne!(a.idempotency_key(), c.idempotency_key());
        assert_eq!(a.idempotency_key(), "asset:1:generation:1");
    }
}
