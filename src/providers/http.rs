//! What every provider client shares: a reqwest client with timeouts, errors that never carry one, and retries
//! with exponential backoff and jitter that honour `Retry-After`.
//!
//! Retries depend on what a request does ([`Replay`]): reads and polls are
//! sent again after any 429, 5xx or transport failure; a request that
//! creates (and bills) something is sent again only when it certainly did
//! not take effect — a 429 or 503 answer, or a connection that was never
//! made — never after a timeout or another 5xx, where the task may exist.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;

pub use crate::config::{RetryPolicy, Secret};

/// A failed provider call. `what` names the call ("runway image_to_video");
/// no variant holds a URL or a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{what}: HTTP {status}: {detail}")]
    Status { what: String, status: u16, detail: String },
    #[error("{what}: {detail}")]
    Transport { what: String, detail: String },
    #[error("{what}: unexpected answer: {detail}")]
    Decode { what: String, detail: String },
    /// The provider's safety checks refused the input or the output.
    #[error("{what}: refused: {reason}")]
    Refused { what: String, reason: String },
    /// The provider ran the task and it failed.
    #[error("{what}: failed: {reason}")]
    TaskFailed { what: String, reason: String },
    #[error("{what}: not finished after {seconds} s")]
    TimedOut { what: String, seconds: u64 },
    /// A local failure (a file could not be written, a key not read).
    #[error("{what}: {detail}")]
    Local { what: String, detail: String },
}

impl ProviderError {
    pub fn is_refusal(&self) -> bool {
        matches!(self, ProviderError::Refused { .. })
    }

    pub(crate) fn decode(what: &str, detail: impl fmt::Display) -> Self {
        ProviderError::Decode { what: what.to_owned(), detail: detail.to_string() }
    }

    pub(crate) fn local(what: &str, detail: impl fmt::Display) -> Self {
        ProviderError::Local { what: what.to_owned(), detail: detail.to_string() }
    }
}

/// Why a provider client could not be built (checked at start-up).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A required setting is absent; the text says which.
    #[error("{0}")]
    Missing(&'static str),
    #[error("{name} is invalid: `{value}`")]
    Invalid { name: &'static str, value: String },
    /// A setting names something the provider's API would refuse.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Client(#[from] ProviderError),
}

/// Whether a request may be sent again after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads and polls: retried after 429, 5xx and transport failures.
    Idempotent,
    /// Creates or bills something: retried only after 429, 503 or a
    /// connection that was never established.
    Submit,
}

/// The longest wait [`retry_after`] ever returns: a provider's answer is
/// never trusted with more (`Retry-After: 1e20` must not overflow a
/// `Duration`, nor park a worker for ever). [`Http::send`] caps it further
/// at the retry policy's `max_retry_after`.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// `secs` as a wait: `None` for what is not a number of seconds (negative,
/// NaN), at most `cap` (infinite and huge values included). Never panics.
pub fn capped_secs(secs: f64, cap: Duration) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= cap.as_secs_f64() {
        return Some(cap);
    }
    Duration::try_from_secs_f64(secs).ok().map(|wait| wait.min(cap))
}

/// The `Retry-After` of an answer: delta-seconds or an HTTP date (and
/// OpenAI's `retry-after-ms`), at most [`RETRY_AFTER_CAP`]. A value that
/// is neither (negative, NaN, garbage) is ignored: the caller backs off
/// as after any failure.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(wait) =
        header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).and_then(|ms| capped_secs(ms / 1000.0, RETRY_AFTER_CAP))
    {
        return Some(wait);
    }
    let value = header(reqwest::header::RETRY_AFTER.as_str())?;
    if let Ok(secs) = value.parse::<f64>() {
        return capped_secs(secs, RETRY_AFTER_CAP);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).min(RETRY_AFTER_CAP))
}

/// A reqwest client with timeouts, a retry policy and the secrets to
/// scrub from error texts. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    client: Client,
    retry: RetryPolicy,
    secrets: Arc<Vec<Secret>>,
    download_timeout: Duration,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http").field("retry", &self.retry).finish_non_exhaustive()
    }
}

/// Longest excerpt of an error body kept in an error.
const DETAIL_CHARS: usize = 300;

impl Http {
    /// `timeout` bounds each request, from connecting to the last byte of
    /// the answer (downloads get four times as long).
    pub fn new(timeout: Duration, retry: RetryPolicy, secrets: Vec<Secret>) -> Result<Self, ProviderError> {
        let client = Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("vidcache/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::local("http client", e.without_url()))?;
        let secrets = Arc::new(secrets.into_iter().filter(|s| !s.expose().is_empty()).collect());
        Ok(Self { client, retry, secrets, download_timeout: timeout.saturating_mul(4) })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `text` with every secret replaced by `***`, cut to a short excerpt.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.iter() {
            text = text.replace(secret.expose(), "***");
        }
        let text = text.trim();
        match text.char_indices().nth(DETAIL_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }

    fn transport(&self, what: &str, err: reqwest::Error) -> ProviderError {
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        let err = err.without_url();
        ProviderError::Transport { what: what.to_owned(), detail: self.scrub(&format!("{kind}: {err}")) }
    }

    /// Sends the request `build` makes (again for each try) and returns a
    /// successful answer; retries as `replay` allows.
    pub async fn send(
        &self,
        what: &str,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let mut tries = 0u32;
        loop {
            tries += 1;
            let last = tries >= self.retry.attempts.max(1);
            let (error, wait) = match build(&self.client).send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let after = retry_after(response.headers());
                    let body = response.text().await.unwrap_or_default();
                    let error =
                        ProviderError::Status { what: what.to_owned(), status: status.as_u16(), detail: self.scrub(&body) };
                    let retryable = match replay {
                        Replay::Idempotent => status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                        Replay::Submit => status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE,
                    };
                    if !retryable {
                        return Err(error);
                    }
                    (error, after)
                }
                Err(err) => {
                    let retryable = match replay {
                        Replay::Idempotent => true,
                        Replay::Submit => err.is_connect(),
                    };
                    let error = self.transport(what, err);
                    if !retryable {
                        return Err(error);
                    }
                    (error, None)
                }
            };
            if last {
                return Err(error);
            }
            let wait = match wait {
                Some(after) => {
                    if after > self.retry.max_retry_after {
                        tracing::warn!(
                            call = what,
                            retry_after_s = after.as_secs(),
                            cap_s = self.retry.max_retry_after.as_secs(),
                            "provider asks to wait longer than the cap; waiting only that long"
                        );
                    }
                    // a little jitter on top, so that parallel calls do not return in lockstep
                    after.min(self.retry.max_retry_after) + Duration::from_millis(fastrand::u64(0..=100))
                }
                None => self.retry.backoff(tries),
            };
            tracing::debug!(call = what, error = %error, wait_ms = wait.as_millis() as u64, "provider call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// [`Http::send`], then the answer's JSON body as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        let response = self.send(what, replay, build).await?;
        let body = response.bytes().await.map_err(|e| self.transport(what, e))?;
        serde_json::from_slice(&body).map_err(|e| ProviderError::decode(what, self.scrub(&e.to_string())))
    }

    /// Downloads `url` to `path` (through `path.part`, renamed when
    /// complete) with GETs retried as reads; returns the size. `auth`, if
    /// given, is sent as a bearer token — pass it only for the provider's
    /// own host, never for a signed result URL.
    pub async fn download(&self, what: &str, url: &str, auth: Option<&Secret>, path: &Path) -> Result<u64, ProviderError> {
        let part = path.with_extension("part");
        let mut tries = 0u32;
        loop {
            tries += 1;
            let response = self
                .send(what, Replay::Idempotent, |client| {
                    let request = client.get(url).timeout(self.download_timeout);
                    match auth {
                        Some(token) => request.bearer_auth(token.expose()),
                        None => request,
                    }
                })
                .await?;
            match self.save(what, response, &part).await {
                Ok(size) => {
                    tokio::fs::rename(&part, path).await.map_err(|e| {
                        ProviderError::local(what, format!("cannot move the download to {}: {e}", path.display()))
                    })?;
                    return Ok(size);
                }
                Err(err @ ProviderError::Local { .. }) => return Err(err),
                Err(err) if tries >= self.retry.attempts.max(1) => return Err(err),
                Err(err) => {
                    tracing::debug!(call = what, error = %err, "download broke off; retrying");
                    tokio::time::sleep(self.retry.backoff(tries)).await;
                }
            }
        }
    }

    /// Writes a successful answer's body to `path` (through `path.part`).
    pub async fn save_to(&self, what: &str, response: Response, path: &Path) -> Result<u64, ProviderError> {
        let part = path.with_extension("part");
        let size = self.save(what, response, &part).await?;
        tokio::fs::rename(&part, path)
            .await
            .map_err(|e| ProviderError::local(what, format!("cannot move the file to {}: {e}", path.display())))?;
        Ok(size)
    }

    async fn save(&self, what: &str, response: Response, part: &Path) -> Result<u64, ProviderError> {
        if let Some(dir) = part.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ProviderError::local(what, format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut file = tokio::fs::File::create(part)
            .await
            .map_err(|e| ProviderError::local(what, format!("cannot create {}: {e}", part.display())))?;
        let mut size = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.transport(what, e))?;
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| ProviderError::local(what, format!("cannot write {}: {e}", part.display())))?;
        }
        file.flush().await.map_err(|e| ProviderError::local(what, format!("cannot write {}: {e}", part.display())))?;
        if size == 0 {
            return Err(ProviderError::decode(what, "the download was empty"));
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        let http = Http::new(Duration::from_secs(1), RetryPolicy::default(), vec![secret]).expect("client");
        assert_eq!(http.scrub("bad key sk-very-secret given"), "bad key *** given");
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).expect("header"));
        let wait = retry_after(&headers).expect("a date");
        assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30), "{wait:?}");
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn hostile_retry_after_values_never_panic_and_are_capped() {
        let read = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(value).expect("header"));
            retry_after(&headers)
        };
        for huge in ["1e20", "inf", "+inf", "infinity", "1e308", "18446744073709551616", "99999999999999999999999999", "1.8e19"] {
            assert_eq!(read("retry-after", huge), Some(RETRY_AFTER_CAP), "Retry-After: {huge}");
            assert_eq!(read("retry-after-ms", huge), Some(RETRY_AFTER_CAP), "retry-after-ms: {huge}");
        }
        for nonsense in ["-1", "-1e20", "NaN", "nan", "-inf", "soon", ""] {
            assert_eq!(read("retry-after", nonsense), None, "Retry-After: {nonsense}");
            assert_eq!(read("retry-after-ms", nonsense), None, "retry-after-ms: {nonsense}");
        }
        assert_eq!(read("retry-after", "0"), Some(Duration::ZERO));
        assert_eq!(read("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"), Some(RETRY_AFTER_CAP), "a date far in the future");
        assert_eq!(read("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO), "a date in the past");
        let in_two_days = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2 * 86_400));
        assert_eq!(read("retry-after", &in_two_days), Some(RETRY_AFTER_CAP));
        assert_eq!(capped_secs(f64::MAX, Duration::from_secs(60)), Some(Duration::from_secs(60)));
        assert_eq!(capped_secs(1.5, Duration::from_secs(60)), Some(Duration::from_millis(1500)));
    }
}
