//! Where the data and the job queue live, decided once from their URLs.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::secret::SecretUrl;

/// The database that holds the truth (`DATABASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStore {
    /// A SQLite file (the embedded default: `<data dir>/vidcache.sqlite`).
    Sqlite(SecretUrl),
    /// A PostgreSQL server, shared by several processes.
    Postgres(SecretUrl),
}

impl DataStore {
    /// `sqlite:…` or `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SecretUrl::new(url)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(SecretUrl::new(url)))
        } else {
            Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: format!("`{}`: expected a sqlite: or postgres:// URL", SecretUrl::new(url)),
            })
        }
    }

    /// The SQLite file in `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        Self::Sqlite(SecretUrl::new(format!("sqlite://{}?mode=rwc", data_dir.join("vidcache.sqlite").display())))
    }

    pub fn url(&self) -> &SecretUrl {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }

    /// A short name for logs and benchmark labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// Where generation jobs wait for a worker (`QUEUE_URL`, else `REDIS_URL`,
/// else beside the data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStore {
    /// A SQLite file in the data dir (the embedded default).
    Sqlite(PathBuf),
    /// PostgreSQL: `QUEUE_URL`, or the data's own database.
    Postgres(SecretUrl),
    /// Redis; it also shares the flood budget between processes.
    Redis(SecretUrl),
}

impl QueueStore {
    /// The queue for `queue_url` (if set) next to `data`.
    pub fn choose(queue_url: Option<&str>, data: &DataStore, data_dir: &Path) -> Result<Self, ConfigError> {
        match queue_url {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Ok(Self::Redis(SecretUrl::new(url))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(SecretUrl::new(url)))
            }
            Some(_) => Err(ConfigError::Invalid { name: "QUEUE_URL", reason: "expected a redis:// or postgres:// URL".into() }),
            None => Ok(match data {
                DataStore::Postgres(url) => Self::Postgres(url.clone()),
                DataStore::Sqlite(_) => Self::Sqlite(data_dir.join("queue.sqlite")),
            }),
        }
    }

    /// The Redis server, when the queue is there.
    pub fn redis(&self) -> Option<&SecretUrl> {
        match self {
            Self::Redis(url) => Some(url),
            _ => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
            Self::Redis(_) => "Redis",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_follow_their_urls() {
        let dir = Path::new("/data");
        let sqlite = DataStore::embedded(dir);
        assert!(matches!(sqlite, DataStore::Sqlite(_)));
        assert_eq!(QueueStore::choose(None, &sqlite, dir).ok(), Some(QueueStore::Sqlite(dir.join("queue.sqlite"))));
        let pg = DataStore::parse("postgres://u:pw@h/db").expect("valid");
        assert_eq!(QueueStore::choose(None, &pg, dir).ok(), Some(QueueStore::Postgres(SecretUrl::new("postgres://u:pw@h/db"))));
        let redis = QueueStore::choose(Some("redis://127.0.0.1:6379"), &pg, dir).expect("valid");
        assert!(redis.redis().is_some());
        assert!(QueueStore::choose(Some("amqp://x"), &pg, dir).is_err());
        assert!(DataStore::parse("mysql://x").is_err());
        let err = DataStore::parse("mysql://u:pw@h/db").expect_err("refused").to_string();
        assert!(!err.contains("pw@"), "{err}");
    }
}
