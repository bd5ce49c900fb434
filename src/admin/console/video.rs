//! Serving a rendered MP4 to the page's `<video>`, with byte ranges so
//! the browser can seek.

use std::path::Path;

use axum::body::Body;
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::storage::{StorageError, VideoStore};

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within `len`, as an inclusive range.
fn parse_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (start.parse().ok()?, len - 1),
        (start, end) => (start.parse().ok()?, end.parse::<u64>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[tracing::instrument(skip(headers))]
pub async fn serve(path: &Path, headers: &HeaderMap) -> Response {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read a video for the console");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let len = bytes.len() as u64;
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    match range.map(|r| parse_range(r, len)) {
        None => (
            StatusCode::OK,
            [(CONTENT_TYPE, "video/mp4".to_owned()), (ACCEPT_RANGES, "bytes".to_owned()), (CONTENT_LENGTH, len.to_string())],
            Body::from(bytes),
        )
            .into_response(),
        Some(None) => (StatusCode::RANGE_NOT_SATISFIABLE, [(CONTENT_RANGE, format!("bytes */{len}"))]).into_response(),
        Some(Some((start, end))) => {
            let part = bytes[start as usize..=end as usize].to_vec();
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (CONTENT_TYPE, "video/mp4".to_owned()),
                    (ACCEPT_RANGES, "bytes".to_owned()),
                    (CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
                    (CONTENT_LENGTH, part.len().to_string()),
                ],
                Body::from(part),
            )
                .into_response()
        }
    }
}

/// The video stored as `key` in the object store, streamed through (no
/// local copy), with byte ranges as [`serve`].
#[tracing::instrument(skip(store, headers))]
pub async fn serve_stored(store: &VideoStore, key: &str, headers: &HeaderMap) -> Response {
    let failed = |err: StorageError| {
        tracing::warn!(error = %err, "cannot read a stored video for the console");
        StatusCode::BAD_GATEWAY.into_response()
    };
    let wanted = match headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(header) => {
            let size = match store.stored_size(key).await {
                Ok(Some(size)) => size,
                Ok(None) => return StatusCode::NOT_FOUND.into_response(),
                Err(err) => return failed(err),
            };
            match parse_range(header, size) {
                Some((start, end)) => Some(start..end + 1),
                None => {
                    return (StatusCode::RANGE_NOT_SATISFIABLE, [(CONTENT_RANGE, format!("bytes */{size}"))]).into_response();
                }
            }
        }
    };
    let read = match store.read_stored(key, wanted.clone()).await {
        Ok(Some(read)) => read,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(err) => return failed(err),
    };
    let length = read.range.end.saturating_sub(read.range.start);
    let mut headers =
        vec![(CONTENT_TYPE, "video/mp4".to_owned()), (ACCEPT_RANGES, "bytes".to_owned()), (CONTENT_LENGTH, length.to_string())];
    let status = if wanted.is_some() {
        headers.push((CONTENT_RANGE, format!("bytes {}-{}/{}", read.range.start, read.range.end.saturating_sub(1), read.size)));
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = Body::from_stream(read.stream).into_response();
    *response.status_mut() = status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_stay_within_the_file() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=0-5000", 1000), Some((0, 999)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,4-5", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
