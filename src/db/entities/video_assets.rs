use sea_orm::entity::prelude::*;

use crate::domain::{
    AssetId, AssetStatus, Choices, Failure, FileId, Format, Generation, GeneratorKind, ImageDigest, KEY_VERSION, Length,
    MadeWith, PromptKey, Quality, Recipe, Stage, Wanted,
};

/// One row per distinct video: a normalized prompt made with a recipe
/// (or an extension of another asset).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_assets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AssetId,
    /// Hex SHA-256 over what the video is made from ([`PromptKey::of`]).
    #[sea_orm(unique)]
    pub prompt_key: PromptKey,
    /// The normalized prompt (the text behind `prompt_key`).
    pub prompt: String,
    pub status: AssetStatus,
    /// Bumped every time the asset moves into `pending`.
    pub generation: i64,
    /// The highest generation a job was pushed for (the outbox marker).
    pub dispatched_generation: i64,
    /// When the current generation's job was last pushed.
    pub dispatched_at: Option<DateTimeUtc>,
    pub file_id: Option<FileId>,
    pub file_unique_id: Option<String>,
    pub file_path: Option<String>,
    pub last_error: Option<Failure>,
    pub attempts: i32,
    pub stage: Option<Stage>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The asset whose video this one extends (None: a prompt's own video).
    pub parent_id: Option<AssetId>,
    /// 0 for a prompt's own video; the parent's depth + 1 for an extension.
    pub extension_depth: i32,
    /// The prompt (an extension: the continuation) as the request that
    /// started its generation typed it, trimmed; `prompt` is the
    /// normalized text behind the key.
    pub typed_prompt: Option<String>,
    /// 2: `prompt_key` covers the recipe; 1: a row of the previous release,
    /// re-keyed at start-up.
    pub key_version: i32,
    pub quality: Quality,
    pub format: Format,
    pub length: Length,
    pub generator: GeneratorKind,
    /// A remix: the digest of the photo animated.
    pub image_digest: Option<ImageDigest>,
    /// What the video was made with (recorded when its generation starts).
    pub made_model: Option<String>,
    pub made_aspect_ratio: Option<String>,
    pub made_duration_secs: Option<i32>,
    pub made_resolution: Option<String>,
    /// Digest of the normalized prompt alone ([`crate::domain::Prompt::legacy_key`]).
    pub prompt_digest: Option<PromptKey>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user_requests::Entity")]
    UserRequests,
}

impl Related<super::user_requests::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserRequests.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl ActiveModel {
    /// A new asset for `wanted` under `key`, pending its first generation
    /// (`typed`: the text as the request that starts it typed it). The one
    /// place a row is built whole; tests and the bench set fields on it.
    pub fn new_pending(key: PromptKey, wanted: &Wanted, typed: Option<String>, now: DateTimeUtc) -> Self {
        use sea_orm::ActiveValue::{NotSet, Set};
        let recipe = &wanted.recipe;
        Self {
            id: NotSet,
            prompt_key: Set(key),
            prompt: Set(wanted.prompt.as_str().to_owned()),
            status: Set(AssetStatus::Pending),
            generation: Set(1),
            dispatched_generation: Set(0),
            dispatched_at: Set(None),
            file_id: Set(None),
            file_unique_id: Set(None),
            file_path: Set(None),
            last_error: Set(None),
            attempts: Set(0),
            stage: Set(Some(Stage::Queued)),
            lease_owner: Set(None),
            lease_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            parent_id: Set(wanted.extends.as_ref().map(|e| e.parent)),
            extension_depth: Set(wanted.extends.as_ref().map_or(0, |e| e.depth)),
            typed_prompt: Set(typed),
            key_version: Set(KEY_VERSION),
            quality: Set(recipe.choices.quality),
            format: Set(recipe.choices.format),
            length: Set(recipe.choices.length),
            generator: Set(recipe.generator),
            image_digest: Set(recipe.image.clone()),
            made_model: Set(None),
            made_aspect_ratio: Set(None),
            made_duration_secs: Set(None),
            made_resolution: Set(None),
            prompt_digest: Set(Some(wanted.prompt.legacy_key())),
        }
    }
}

impl Model {
    /// The video to send, when it can be sent: available, with Telegram's
    /// `file_id` (the one place that says what "a cache hit" is).
    pub fn sendable(&self) -> Option<&FileId> {
        self.file_id.as_ref().filter(|_| self.status == AssetStatus::Available)
    }

    /// The text as typed: drawn in the video, given to the providers, and
    /// quoted where no requester's own text is at hand (the normalized
    /// text for a row older than the column).
    pub fn typed(&self) -> &str {
        self.typed_prompt.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(&self.prompt)
    }

    /// What this video is made from, besides its prompt.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            choices: Choices { quality: self.quality, format: self.format, length: self.length },
            generator: self.generator,
            image: self.image_digest.clone(),
        }
    }

    /// What the video was made with, once its generation started.
    pub fn made_with(&self) -> Option<MadeWith> {
        Some(MadeWith {
            model: self.made_model.clone()?,
            aspect_ratio: self.made_aspect_ratio.clone().unwrap_or_else(|| self.format.token().to_owned()),
            duration_secs: self.made_duration_secs.and_then(|d| u32::try_from(d).ok()).unwrap_or(0),
            resolution: self.made_resolution.clone().unwrap_or_default(),
        })
    }

    /// The generation this row is on now.
    pub fn current_generation(&self) -> Generation {
        Generation { asset: self.id, number: self.generation }
    }
}
