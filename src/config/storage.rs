//! Where finished videos are kept (`STORAGE_URL`) and how long the rest of
//! a generation's files stay (`KEEP_INTERMEDIATES_HOURS`, `CLEANUP_INTERVAL_SECS`).

use std::time::Duration;

use super::{ConfigError, Lookup, Secret, get, parse_num};

/// `STORAGE_URL`: unset keeps videos in the data dir; `s3://bucket/prefix`
/// puts them in any S3-compatible store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// `$VIDCACHE_DATA_DIR/videos` only.
    DataDir,
    S3(S3Settings),
}

/// An S3-compatible bucket. `Debug` never shows the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Object names start with `prefix/` (empty: at the bucket's root).
    pub prefix: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), default `us-east-1`.
    pub region: String,
    /// `AWS_ENDPOINT_URL`: another S3-compatible service (MinIO, R2, a
    /// local test server); requests then use path-style addressing, and an
    /// `http://` endpoint is used as given.
    pub endpoint: Option<String>,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

impl StorageSettings {
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let Some(url) = get(lookup, "STORAGE_URL") else { return Ok(Self::DataDir) };
        let invalid = |reason: String| ConfigError::Invalid { name: "STORAGE_URL", reason };
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            invalid(format!("`{}`: use s3://bucket/prefix, or leave it unset for the data directory", super::redact_url(&url)))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(invalid(format!("`{bucket}` is not a bucket name (3-63 of a-z 0-9 . -)")));
        }
        let endpoint = get(lookup, "AWS_ENDPOINT_URL_S3").or_else(|| get(lookup, "AWS_ENDPOINT_URL"));
        if let Some(endpoint) = &endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::Invalid { name: "AWS_ENDPOINT_URL", reason: format!("`{endpoint}` is not an http(s) URL") });
        }
        let access_key_id = get(lookup, "AWS_ACCESS_KEY_ID").map(Secret::new);
        let secret_access_key = get(lookup, "AWS_SECRET_ACCESS_KEY").map(Secret::new);
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(ConfigError::Missing {
                name: if access_key_id.is_some() { "AWS_SECRET_ACCESS_KEY" } else { "AWS_ACCESS_KEY_ID" },
                hint: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (then the instance's role is used)",
            });
        }
        Ok(Self::S3(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            region: get(lookup, "AWS_REGION")
                .or_else(|| get(lookup, "AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
            access_key_id,
            secret_access_key,
            session_token: get(lookup, "AWS_SESSION_TOKEN").map(Secret::new),
        }))
    }
}

/// How long files no asset needs are kept, and how often they are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupSettings {
    /// `KEEP_INTERMEDIATES_HOURS` (default 1): intermediate files of a
    /// generation stay this long after its asset became available or failed;
    /// a video file no asset refers to stays this long after it was last written.
    pub keep_intermediates: Duration,
    /// `CLEANUP_INTERVAL_SECS` (default 600): how often a worker sweeps.
    pub interval: Duration,
}

impl CleanupSettings {
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let hours: f64 = parse_num(lookup, "KEEP_INTERMEDIATES_HOURS", 1.0)?;
        if !hours.is_finite() || hours < 0.0 {
            return Err(ConfigError::Invalid {
                name: "KEEP_INTERMEDIATES_HOURS",
                reason: format!("{hours}: use a number of hours, 0 or more"),
            });
        }
        let interval: u64 = parse_num(lookup, "CLEANUP_INTERVAL_SECS", 600)?;
        let keep_intermediates = Duration::try_from_secs_f64(hours * 3600.0)
            .map_err(|_| ConfigError::Invalid { name: "KEEP_INTERMEDIATES_HOURS", reason: format!("{hours}: too long") })?;
        Ok(Self { keep_intermediates, interval: Duration::from_secs(interval.max(1)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<StorageSettings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        StorageSettings::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn storage_urls() {
        assert_eq!(parse(&[]).ok(), Some(StorageSettings::DataDir));
        let Ok(StorageSettings::S3(s3)) = parse(&[
            ("STORAGE_URL", "s3://videos-bucket/prod/v1/"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ]) else {
            panic!("an s3 url parses")
        };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()), ("videos-bucket", "prod/v1", "us-east-1"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let shown = format!("{s3:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("AKIDEXAMPLE"), "keys never shown: {shown}");
        let Ok(StorageSettings::S3(bare)) = parse(&[("STORAGE_URL", "s3://bucket")]) else { panic!("a bare bucket parses") };
        assert_eq!(bare.prefix, "");
        assert!(parse(&[("STORAGE_URL", "gs://bucket/x")]).is_err());
        assert!(parse(&[("STORAGE_URL", "s3://B/x")]).is_err());
        assert!(parse(&[("STORAGE_URL", "s3://bucket/x"), ("AWS_ACCESS_KEY_ID", "a")]).is_err());
        assert!(parse(&[("STORAGE_URL", "s3://bucket/x"), ("AWS_ENDPOINT_URL", "localhost:9000")]).is_err());
    }

    #[test]
    fn cleanup_settings() {
        let none = CleanupSettings::from_lookup(&|_| None).expect("defaults");
        assert_eq!(none.keep_intermediates, Duration::from_secs(3600));
        assert_eq!(none.interval, Duration::from_secs(600));
        let zero = CleanupSettings::from_lookup(&|n| (n == "KEEP_INTERMEDIATES_HOURS").then(|| "0".to_owned())).expect("zero");
        assert_eq!(zero.keep_intermediates, Duration::ZERO);
        assert!(CleanupSettings::from_lookup(&|n| (n == "KEEP_INTERMEDIATES_HOURS").then(|| "-1".to_owned())).is_err());
    }
}
