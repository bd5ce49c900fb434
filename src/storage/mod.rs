//! Where finished videos live beyond the machine that rendered them
//! (`STORAGE_URL`): the data dir's `videos/` (the default) or an
//! S3-compatible bucket. Any worker can then upload an asset to Telegram
//! again — after a token change, on another machine — without rendering it
//! again.
//!
//! A video is stored under its file name (`<key>-g<generation>.mp4`), the
//! last part of the asset's `file_path`; a worker that lacks the file
//! fetches it into its own `videos/` directory.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

// the `bytes` crate's type, as object_store and axum use it
use axum::body::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, PutPayload, RetryConfig};
use tokio::io::AsyncWriteExt;

use crate::config::{S3Settings, StorageSettings};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} is not a stored video's name")]
    BadName(String),
    #[error("file {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::File { path: path.display().to_string(), source }
}

/// The stored name of a video file: its file name, if it has a plain one.
pub fn key_of(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    (!name.is_empty() && !name.starts_with('.')).then_some(name)
}

/// An object of the store (`STORAGE_URL=s3://…`) named like a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The video's name (`<key>-g<n>.mp4`), without the storage prefix.
    pub key: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// A stored video being read from the store.
pub struct StoredRead {
    /// The whole object's size.
    pub size: u64,
    /// The bytes `stream` yields (end exclusive): all, or the range asked for.
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

#[derive(Clone)]
enum Backend {
    DataDir,
    S3 { store: Arc<dyn ObjectStore>, prefix: String, bucket: String },
}

/// Finished videos: put once, fetched wherever they are needed, deleted
/// with their asset. See the module docs.
#[derive(Clone)]
pub struct VideoStore {
    /// This machine's `videos/` directory: where videos are rendered and
    /// fetched to.
    videos_dir: PathBuf,
    backend: Backend,
}

impl std::fmt::Debug for VideoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl VideoStore {
    /// Videos only in `videos_dir` (no `STORAGE_URL`).
    pub fn data_dir(videos_dir: PathBuf) -> Self {
        Self { videos_dir, backend: Backend::DataDir }
    }

    pub fn from_settings(settings: &StorageSettings, videos_dir: PathBuf) -> Result<Self, StorageError> {
        match settings {
            StorageSettings::DataDir => Ok(Self::data_dir(videos_dir)),
            StorageSettings::S3(s3) => Ok(Self {
                videos_dir,
                backend: Backend::S3 { store: Arc::new(s3_client(s3)?), prefix: s3.prefix.clone(), bucket: s3.bucket.clone() },
            }),
        }
    }

    /// For logs: where videos go (never a credential).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::DataDir => format!("data dir {}", self.videos_dir.display()),
            Backend::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    pub fn videos_dir(&self) -> &Path {
        &self.videos_dir
    }

    /// True when videos are kept off this machine too.
    pub fn is_remote(&self) -> bool {
        matches!(self.backend, Backend::S3 { .. })
    }

    fn object(prefix: &str, key: &str) -> ObjectPath {
        if prefix.is_empty() { ObjectPath::from(key) } else { ObjectPath::from(format!("{prefix}/{key}")) }
    }

    /// Where `key` lives on this machine.
    pub fn local_path(&self, key: &str) -> PathBuf {
        self.videos_dir.join(key)
    }

    /// Keeps the finished video at `path` (rendered into `videos_dir`).
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn put(&self, path: &Path) -> Result<(), StorageError> {
        let key = key_of(path).ok_or_else(|| StorageError::BadName(path.display().to_string()))?;
        match &self.backend {
            Backend::DataDir => {
                let home = self.local_path(key);
                if home != path {
                    tokio::fs::copy(path, &home).await.map_err(file_error(path))?;
                }
                Ok(())
            }
            Backend::S3 { store, prefix, .. } => {
                let bytes = tokio::fs::read(path).await.map_err(file_error(path))?;
                store.put(&Self::object(prefix, key), PutPayload::from(bytes)).await?;
                tracing::info!(key, "video stored");
                Ok(())
            }
        }
    }

    /// A local copy of the video stored as `key`: the file in `videos_dir`
    /// if it is there, else fetched from the store. `None` when it is
    /// stored nowhere.
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn fetch(&self, key: &str) -> Result<Option<PathBuf>, StorageError> {
        if key_of(Path::new(key)) != Some(key) {
            return Err(StorageError::BadName(key.to_owned()));
        }
        let local = self.local_path(key);
        if tokio::fs::metadata(&local).await.is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Ok(Some(local));
        }
        let Backend::S3 { store, prefix, .. } = &self.backend else { return Ok(None) };
        let got = match store.get(&Self::object(prefix, key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        tokio::fs::create_dir_all(&self.videos_dir).await.map_err(file_error(&self.videos_dir))?;
        // written under a temporary name, so a half-fetched file is never taken for the video
        let part = self.videos_dir.join(format!(".{key}.{:08x}.part", fastrand::u32(..)));
        let written: Result<(), StorageError> = async {
            let mut file = tokio::fs::File::create(&part).await.map_err(file_error(&part))?;
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                file.write_all(&chunk?).await.map_err(file_error(&part))?;
            }
            file.sync_all().await.map_err(file_error(&part))?;
            tokio::fs::rename(&part, &local).await.map_err(file_error(&local))
        }
        .await;
        if let Err(err) = written {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(err);
        }
        tracing::info!(key, "video fetched from storage");
        Ok(Some(local))
    }

    /// Deletes the video stored as `key`, here and in the store. Deleting
    /// what is not there is not an error.
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        if key_of(Path::new(key)) != Some(key) {
            return Err(StorageError::BadName(key.to_owned()));
        }
        let local = self.local_path(key);
        match tokio::fs::remove_file(&local).await {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(file_error(&local)(err)),
        }
        if let Backend::S3 { store, prefix, .. } = &self.backend {
            match store.delete(&Self::object(prefix, key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    /// The size of the object stored as `key`; `None` when the store does
    /// not hold it, and always with the data dir (no store beyond it).
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn stored_size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let Backend::S3 { store, prefix, .. } = &self.backend else { return Ok(None) };
        if key_of(Path::new(key)) != Some(key) {
            return Err(StorageError::BadName(key.to_owned()));
        }
        match store.head(&Self::object(prefix, key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Reads the object stored as `key` straight from the store (no local
    /// copy is written): all of it, or the bytes `range` (end exclusive).
    /// `None` when the store does not hold it, and always with the data dir.
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn read_stored(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<StoredRead>, StorageError> {
        let Backend::S3 { store, prefix, .. } = &self.backend else { return Ok(None) };
        if key_of(Path::new(key)) != Some(key) {
            return Err(StorageError::BadName(key.to_owned()));
        }
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        let got = match store.get_opts(&Self::object(prefix, key), options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let (size, range) = (got.meta.size, got.range.clone());
        let stream = got.into_stream().map(|chunk| chunk.map_err(StorageError::from)).boxed();
        Ok(Some(StoredRead { size, range, stream }))
    }

    /// The objects right under the storage prefix whose names are videos'
    /// (plain `….mp4` names; anything else there is not this service's).
    /// None with the data dir.
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn list_stored(&self) -> Result<Vec<StoredObject>, StorageError> {
        let Backend::S3 { store, prefix, .. } = &self.backend else { return Ok(Vec::new()) };
        let under = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
        let mut listed = store.list(under.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta?;
            let location = meta.location.as_ref();
            let name = match under {
                Some(ref under) => location.strip_prefix(under.as_ref()).and_then(|rest| rest.strip_prefix('/')),
                None => Some(location),
            };
            let Some(name) = name.filter(|n| !n.contains('/') && n.ends_with(".mp4") && key_of(Path::new(n)) == Some(*n)) else {
                continue;
            };
            out.push(StoredObject { key: name.to_owned(), size: meta.size, last_modified: meta.last_modified });
        }
        Ok(out)
    }

    /// Deletes the object stored as `key` from the store only (this
    /// machine's copy, if any, is left); gone already is not an error.
    #[tracing::instrument(skip(self), fields(store = %self.describe()))]
    pub async fn delete_stored(&self, key: &str) -> Result<(), StorageError> {
        let Backend::S3 { store, prefix, .. } = &self.backend else { return Ok(()) };
        if key_of(Path::new(key)) != Some(key) {
            return Err(StorageError::BadName(key.to_owned()));
        }
        match store.delete(&Self::object(prefix, key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether the store holds `key` (the local copy is not asked).
    pub async fn contains(&self, key: &str) -> Result<bool, StorageError> {
        match &self.backend {
            Backend::DataDir => Ok(tokio::fs::metadata(self.local_path(key)).await.is_ok()),
            Backend::S3 { store, prefix, .. } => match store.head(&Self::object(prefix, key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(err) => Err(err.into()),
            },
        }
    }
}

fn s3_client(s3: &S3Settings) -> Result<object_store::aws::AmazonS3, StorageError> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_client_options(
            ClientOptions::new().with_timeout(Duration::from_secs(120)).with_connect_timeout(Duration::from_secs(10)),
        )
        .with_retry(RetryConfig { max_retries: 4, retry_timeout: Duration::from_secs(60), ..RetryConfig::default() });
    if let Some(endpoint) = &s3.endpoint {
        // path-style (bucket in the path), as MinIO, R2 and test servers expect
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        builder = builder.with_access_key_id(id.expose()).with_secret_access_key(secret.expose());
    }
    if let Some(token) = &s3.session_token {
        builder = builder.with_token(token.expose());
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_dir_store_keeps_files_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = VideoStore::data_dir(dir.path().join("videos"));
        tokio::fs::create_dir_all(store.videos_dir()).await.expect("mkdir");
        let path = store.local_path("abc-g1.mp4");
        tokio::fs::write(&path, b"video").await.expect("write");
        store.put(&path).await.expect("put in place");
        assert_eq!(store.fetch("abc-g1.mp4").await.expect("fetch"), Some(path.clone()));
        assert_eq!(store.fetch("missing-g1.mp4").await.expect("fetch"), None);
        assert!(store.fetch("../etc/passwd").await.is_err(), "names with a path are refused");
        store.delete("abc-g1.mp4").await.expect("delete");
        assert!(!path.exists());
        store.delete("abc-g1.mp4").await.expect("deleting twice is fine");
    }
}
