//! Extending a finished video ("➕ Extend"). A press under a video makes
//! the bot wait for the user's continuation (a row in the database, so it
//! survives restarts and is seen by every replica); their next text is the
//! continuation, and the extension is requested like any prompt: an asset
//! of its own, keyed by the parent's key and the normalized continuation
//! (see [`Wanted`]), with the same dedup, fan-out and failure rules. The
//! worker fetches the parent's video (the kept file, else from Telegram by
//! `file_id`) for the generator and the crossfade.

use std::path::{Path, PathBuf};

use sea_orm::{DatabaseConnection, DbErr};

use crate::config::ExtendSettings;
use crate::db::assets::{self, Asset};
use crate::db::{extensions, languages};
use crate::domain::{
    AssetId, AssetStatus, ChatId, Choices, Extends, Failure, FileId, Prompt, PromptKey, Recipe, Stage, UserId, Wanted,
};
use crate::telegram::api::BotApi;

/// Telegram lets bots download files of up to 20 MB (getFile).
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// Why a video can't be extended (now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendRefusal {
    /// The video is gone (cleared, or being made again).
    Unavailable,
    /// The chain is `MAX_EXTENSIONS` long already.
    TooManyExtensions { max: i32 },
    /// `MAX_EXTENSIONS=0`.
    Off,
    /// The presser never asked for this video (a forged or foreign
    /// button): nothing of it is shown.
    NotYours,
}

/// What the bot waits for from a user in a chat after a ➕ press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaited {
    /// Nothing: a text is a prompt.
    Nothing,
    /// The continuation of this video.
    Continuation(AssetId),
    /// The wait ran out (`EXTEND_WAIT_HOURS`): the text is not taken as
    /// a continuation of `prompt`'s video, and the user is told so.
    Expired { prompt: String },
}

/// What a press of "➕ Extend" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendPress {
    /// The bot now waits for the continuation of the video of `prompt`.
    Waiting {
        prompt: String,
        /// How the video was made: its extension is made alike.
        choices: Choices,
    },
    Refused(ExtendRefusal),
}

pub struct Extensions {
    db: DatabaseConnection,
    api: BotApi,
    settings: ExtendSettings,
}

impl Extensions {
    pub fn new(db: DatabaseConnection, api: BotApi, settings: ExtendSettings) -> Self {
        Self { db, api, settings }
    }

    pub fn settings(&self) -> ExtendSettings {
        self.settings
    }

    fn check(&self, parent: Option<&Asset>) -> Result<(), ExtendRefusal> {
        if self.settings.max_extensions == 0 {
            return Err(ExtendRefusal::Off);
        }
        // Available — or just uploaded and about to be marked so: a user may
        // press ➕ under the upload before the worker records its file_id.
        let shown = |p: &&Asset| match p.status {
            AssetStatus::Available => p.sendable().is_some(),
            AssetStatus::Generating => p.stage == Some(Stage::Uploading) && p.file_path.is_some(),
            AssetStatus::Pending | AssetStatus::Failed | AssetStatus::Awaiting => false,
        };
        let Some(parent) = parent.filter(shown) else {
            return Err(ExtendRefusal::Unavailable);
        };
        if parent.extension_depth >= self.settings.max_extensions {
            return Err(ExtendRefusal::TooManyExtensions { max: self.settings.max_extensions });
        }
        Ok(())
    }

    /// "➕ Extend" pressed by `user` in `chat` under a video of `parent`.
    #[tracing::instrument(skip(self))]
    pub async fn press(&self, chat: ChatId, user: UserId, parent: AssetId) -> Result<ExtendPress, DbErr> {
        // Only a video the presser asked for (and so was sent) can be
        // extended by them: callback data can be forged by any client.
        let Some(own) = languages::request_for(&self.db, user, parent).await? else {
            return Ok(ExtendPress::Refused(ExtendRefusal::NotYours));
        };
        let asset = assets::find(&self.db, parent).await?;
        if let Err(refusal) = self.check(asset.as_ref()) {
            return Ok(ExtendPress::Refused(refusal));
        }
        extensions::await_continuation(&self.db, chat, user, parent).await?;
        let choices = asset.as_ref().map(|a| a.recipe().choices).unwrap_or_default();
        // quoted as this user typed it
        Ok(ExtendPress::Waiting { prompt: own.raw_text.trim().to_owned(), choices })
    }

    /// What the bot waits for from `user` in `chat`: the continuation of a
    /// video, or nothing; a wait older than `EXTEND_WAIT_HOURS` ends here
    /// (and says so once).
    pub async fn awaited(&self, chat: ChatId, user: UserId) -> Result<Awaited, DbErr> {
        let Some((parent, since)) = extensions::awaited(&self.db, chat, user).await? else { return Ok(Awaited::Nothing) };
        let age = chrono::Utc::now().signed_duration_since(since).to_std().unwrap_or_default();
        if age <= self.settings.wait {
            return Ok(Awaited::Continuation(parent));
        }
        extensions::done(&self.db, chat, user, parent).await?;
        let own = languages::request_for(&self.db, user, parent).await?.map(|r| r.raw_text.trim().to_owned());
        Ok(Awaited::Expired { prompt: own.unwrap_or_default() })
    }

    /// What to request for the continuation of `parent`; checked again, as
    /// the video may have been cleared since the press.
    pub async fn wanted(&self, parent: AssetId, continuation: Prompt) -> Result<Result<Wanted, ExtendRefusal>, DbErr> {
        let asset = assets::find(&self.db, parent).await?;
        if let Err(refusal) = self.check(asset.as_ref()) {
            return Ok(Err(refusal));
        }
        let Some(asset) = asset else { return Ok(Err(ExtendRefusal::Unavailable)) };
        // made as its parent was (a 9:16 video extends in 9:16); the photo of
        // a remix is in the parent's video already
        let recipe = Recipe { image: None, ..asset.recipe() };
        let extends = Extends { parent: asset.id, parent_key: asset.prompt_key, depth: asset.extension_depth + 1 };
        Ok(Ok(Wanted { prompt: continuation, recipe, extends: Some(extends) }))
    }

    /// The continuation of `parent` was taken (or refused): stop waiting.
    pub async fn done(&self, chat: ChatId, user: UserId, parent: AssetId) -> Result<(), DbErr> {
        extensions::done(&self.db, chat, user, parent).await
    }

    /// `/cancel`: stop waiting for a continuation; true if the bot was.
    pub async fn cancel(&self, chat: ChatId, user: UserId) -> Result<bool, DbErr> {
        extensions::cancel(&self.db, chat, user).await
    }

    /// The worker's view: the parent of an extension, and the prompt of
    /// the chain's first video (context for the generator).
    pub async fn lineage(&self, asset: &Asset) -> Result<Option<(Asset, String)>, DbErr> {
        let Some(parent_id) = asset.parent_id else { return Ok(None) };
        let Some(parent) = assets::find(&self.db, parent_id).await? else { return Ok(None) };
        let mut root = parent.clone();
        // A chain is at most MAX_EXTENSIONS (≤ 100) long; the bound guards against a cycle.
        for _ in 0..128 {
            let Some(up) = root.parent_id else { break };
            match assets::find(&self.db, up).await? {
                Some(next) => root = next,
                None => break,
            }
        }
        let original = root.typed().to_owned();
        Ok(Some((parent, original)))
    }

    /// The parent's video on this machine: the file kept when it was made,
    /// else downloaded from Telegram by its `file_id` (bots may download up
    /// to 20 MB) into `dir`.
    #[tracing::instrument(skip_all, fields(asset_id = %parent.id))]
    pub async fn parent_video(&self, parent: &Asset, dir: &Path) -> Result<PathBuf, Failure> {
        if let Some(path) = parent.file_path.as_deref().map(PathBuf::from)
            && tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file() && m.len() > 0)
        {
            return Ok(path);
        }
        let Some(file_id) = &parent.file_id else {
            return Err(Failure::ParentGone);
        };
        self.download_parent(file_id, &parent.prompt_key, dir).await.map_err(Failure::Other)
    }

    /// Downloads the parent's video from Telegram by `file_id` (up to 20 MB).
    async fn download_parent(&self, file_id: &FileId, key: &PromptKey, dir: &Path) -> Result<PathBuf, String> {
        let file = self.api.get_file(file_id.as_str()).await.map_err(|e| format!("cannot fetch the video to extend: {e}"))?;
        if file.file_size.is_some_and(|size| size > MAX_DOWNLOAD_BYTES) {
            return Err("the video to extend is over the 20 MB Telegram lets bots download".to_owned());
        }
        let Some(remote) = file.file_path else {
            return Err("Telegram offers no download of the video to extend".to_owned());
        };
        let bytes = self
            .api
            .download(&remote, MAX_DOWNLOAD_BYTES)
            .await
            .map_err(|e| format!("cannot download the video to extend: {e}"))?;
        let key = key.as_str();
        let path = dir.join(format!("{}-parent.mp4", &key[..16.min(key.len())]));
        tokio::fs::create_dir_all(dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        tokio::fs::write(&path, &bytes).await.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}
