//! Remix: a photo (with words) asks to animate that photo. The photo is
//! downloaded once (Telegram lets bots download up to 20 MB), keyed by the
//! digest of its bytes, kept under the data dir and remembered by its
//! `file_unique_id`, so a forwarded copy is known without downloading it
//! again. A worker on another machine fetches the bytes by a `file_id`
//! that carried them, and checks their digest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use crate::db::remixes;
use crate::domain::{ChatId, ImageDigest, UserId};
use crate::telegram::api::{ApiError, BotApi};

/// Telegram lets bots download files of up to 20 MB (getFile).
pub const MAX_PHOTO_BYTES: u64 = 20 * 1024 * 1024;

/// A photo in a message: the largest size of a `photo`, or an image sent
/// as a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRef {
    pub file_id: String,
    pub file_unique_id: String,
    /// As Telegram declared it (may be absent).
    pub size: Option<u64>,
    /// `image/jpeg` for photos; a document's own type.
    pub mime: String,
}

/// The bytes of a photo to animate.
#[derive(Clone)]
pub struct PhotoBytes {
    pub digest: ImageDigest,
    pub bytes: Arc<Vec<u8>>,
    pub mime: String,
}

impl std::fmt::Debug for PhotoBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoBytes")
            .field("digest", &self.digest)
            .field("len", &self.bytes.len())
            .field("mime", &self.mime)
            .finish()
    }
}

/// Why a photo could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Over the 20 MB a bot may download.
    #[error("the photo is {0} bytes, above the 20 MB a bot may download")]
    TooBig(u64),
    #[error("Telegram gave no download path for the photo")]
    NoPath,
    #[error("Telegram: {0}")]
    Telegram(#[from] ApiError),
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("cannot keep the photo: {0}")]
    Io(#[from] std::io::Error),
    /// No copy of these bytes can be had (on this machine, or from Telegram).
    #[error("the photo {0} is not available")]
    Missing(ImageDigest),
}

pub struct Remixes {
    db: DatabaseConnection,
    api: BotApi,
    dir: PathBuf,
}

impl Remixes {
    /// Photos are kept in `dir` (`$VIDCACHE_DATA_DIR/photos`).
    pub fn new(db: DatabaseConnection, api: BotApi, dir: PathBuf) -> Self {
        Self { db, api, dir }
    }

    fn path_of(&self, digest: &ImageDigest) -> PathBuf {
        self.dir.join(digest.as_str())
    }

    /// The digest of `photo`'s bytes: known by its `file_unique_id` (a
    /// forwarded photo: nothing downloaded), else downloaded, kept and
    /// remembered.
    #[tracing::instrument(skip(self), fields(file_unique_id = %photo.file_unique_id))]
    pub async fn take(&self, photo: &PhotoRef) -> Result<ImageDigest, PhotoError> {
        if let Some(known) = remixes::by_unique_id(&self.db, &photo.file_unique_id).await? {
            tracing::debug!(digest = %known.digest, "a photo seen before");
            return Ok(known.digest);
        }
        if let Some(size) = photo.size.filter(|s| *s > MAX_PHOTO_BYTES) {
            return Err(PhotoError::TooBig(size));
        }
        let bytes = self.download(&photo.file_id).await?;
        let digest = ImageDigest::of(&bytes);
        self.keep(&digest, &bytes).await?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        remixes::remember(&self.db, &photo.file_unique_id, &photo.file_id, &digest, &photo.mime, size).await?;
        Ok(digest)
    }

    async fn download(&self, file_id: &str) -> Result<Vec<u8>, PhotoError> {
        let file = match self.api.get_file(file_id).await {
            Ok(file) => file,
            Err(ApiError::Refused { description, .. }) if description.contains("file is too big") => {
                return Err(PhotoError::TooBig(MAX_PHOTO_BYTES + 1));
            }
            Err(err) => return Err(err.into()),
        };
        if let Some(size) = file.file_size.filter(|s| *s > MAX_PHOTO_BYTES) {
            return Err(PhotoError::TooBig(size));
        }
        let path = file.file_path.ok_or(PhotoError::NoPath)?;
        match self.api.download(&path, MAX_PHOTO_BYTES).await {
            Ok(bytes) => Ok(bytes),
            Err(ApiError::Refused { code: 413, .. }) => Err(PhotoError::TooBig(MAX_PHOTO_BYTES + 1)),
            Err(err) => Err(err.into()),
        }
    }

    /// Writes the bytes under their digest (atomically: a reader sees the
    /// whole file or none).
    async fn keep(&self, digest: &ImageDigest, bytes: &[u8]) -> Result<(), std::io::Error> {
        let path = self.path_of(digest);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        tokio::fs::create_dir_all(&self.dir).await?;
        let temp = self.dir.join(format!(".{}.{}.tmp", digest.as_str(), fastrand::u64(..)));
        tokio::fs::write(&temp, bytes).await?;
        tokio::fs::rename(&temp, &path).await
    }

    /// The bytes of the photo `digest`, for the generator: this machine's
    /// copy, else downloaded again by a `file_id` that carried them. Bytes
    /// that don't match the digest are never used.
    #[tracing::instrument(skip(self))]
    pub async fn bytes(&self, digest: &ImageDigest) -> Result<PhotoBytes, PhotoError> {
        let known = remixes::by_digest(&self.db, digest).await?;
        let mime = known.first().map_or_else(|| "image/jpeg".to_owned(), |p| p.mime.clone());
        if let Ok(bytes) = tokio::fs::read(self.path_of(digest)).await
            && ImageDigest::of(&bytes) == *digest
        {
            return Ok(PhotoBytes { digest: digest.clone(), bytes: Arc::new(bytes), mime });
        }
        for photo in &known {
            match self.download(&photo.file_id).await {
                Ok(bytes) if ImageDigest::of(&bytes) == *digest => {
                    if let Err(err) = self.keep(digest, &bytes).await {
                        tracing::warn!(error = %err, "could not keep a downloaded photo");
                    }
                    return Ok(PhotoBytes { digest: digest.clone(), bytes: Arc::new(bytes), mime: photo.mime.clone() });
                }
                Ok(_) => tracing::warn!(file_unique_id = %photo.file_unique_id, "a photo downloaded with other bytes"),
                Err(err) => tracing::warn!(error = %err, "could not download a photo again"),
            }
        }
        Err(PhotoError::Missing(digest.clone()))
    }

    /// A photo without words: the bot waits for what should happen in it.
    pub async fn await_caption(&self, chat: ChatId, user: UserId, digest: &ImageDigest) -> Result<(), DbErr> {
        remixes::await_caption(&self.db, chat, user, digest).await
    }

    /// The photo whose words the bot waits for from `user` in `chat`.
    pub async fn awaited(&self, chat: ChatId, user: UserId) -> Result<Option<ImageDigest>, DbErr> {
        remixes::awaited(&self.db, chat, user).await
    }

    /// The words arrived: stop waiting.
    pub async fn done(&self, chat: ChatId, user: UserId, digest: &ImageDigest) -> Result<(), DbErr> {
        remixes::done(&self.db, chat, user, digest).await
    }

    /// `/cancel` or a ➕ press: stop waiting; true if the bot was.
    pub async fn cancel(&self, chat: ChatId, user: UserId) -> Result<bool, DbErr> {
        remixes::cancel(&self.db, chat, user).await
    }

    /// Where photos are kept on this machine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
