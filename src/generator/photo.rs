//! A remix's photo made fit for a provider before anything is paid: a
//! JPEG or PNG the decoder reads (WebP too where the provider takes it),
//! small enough to send inline — else re-encoded as a JPEG with ffmpeg,
//! else refused for good ([`GenerateError::CannotRun`]: the same photo
//! would fail every attempt).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::GenerateError;
use super::ffmpeg::{self, FfmpegError};

/// The type of an image, told by its signature.
pub(super) fn mime_of(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Length of `bytes` as a `data:{mime};base64,` URI.
pub(super) fn data_uri_len(mime: &str, bytes: usize) -> usize {
    "data:;base64,".len() + mime.len() + bytes.div_ceil(3) * 4
}

/// `bytes` as a `data:` URI of their type.
pub(super) fn data_uri(bytes: &[u8]) -> Option<String> {
    let mime = mime_of(bytes)?;
    Some(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
}

/// What a provider takes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fit {
    /// WebP is taken besides JPEG and PNG.
    pub webp: bool,
    /// The longest `data:` URI taken, if it is sent as one.
    pub max_data_uri: Option<usize>,
}

impl Fit {
    fn takes(self, bytes: &[u8]) -> bool {
        match mime_of(bytes) {
            Some("image/webp") if !self.webp => false,
            Some(mime) => self.max_data_uri.is_none_or(|max| data_uri_len(mime, bytes.len()) <= max),
            None => false,
        }
    }
}

/// The photo as `fit` takes it: the bytes themselves when they decode and
/// fit, else a JPEG re-encoded by ffmpeg (scaled down if it must be), in
/// `dir`.
pub(super) async fn fit_photo(bytes: &[u8], fit: Fit, dir: &Path) -> Result<Vec<u8>, GenerateError> {
    if matches!(mime_of(bytes), Some("image/jpeg" | "image/png")) {
        // a broken JPEG would fail the provider's task on every attempt
        let owned = bytes.to_vec();
        let decoded = tokio::task::spawn_blocking(move || render::Picture::decode(&owned).map(|_| ()))
            .await
            .map_err(|e| GenerateError::Failed(format!("the photo decoder stopped: {e}")))?;
        if let Err(e) = decoded {
            return Err(unusable(&e.to_string()));
        }
    }
    if fit.takes(bytes) {
        return Ok(bytes.to_vec());
    }
    tokio::fs::create_dir_all(dir).await.map_err(|e| GenerateError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let input = dir.join("photo-original");
    tokio::fs::write(&input, bytes).await.map_err(|e| GenerateError::Failed(format!("cannot write the photo: {e}")))?;
    // the longest side, then JPEG quality (2 best … 31 worst)
    for (side, quality) in [(2048, 3), (1280, 6), (768, 10)] {
        let output = dir.join(format!("photo-{side}.jpg"));
        let scale = format!("scale='min({side},iw)':'min({side},ih)':force_original_aspect_ratio=decrease");
        let args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([input.display().to_string(), "-vf".to_owned(), scale, "-frames:v".to_owned(), "1".to_owned()])
            .chain(["-q:v".to_owned(), quality.to_string(), output.display().to_string()])
            .collect();
        match ffmpeg::run("ffmpeg", &args).await {
            Ok(_) => {}
            Err(FfmpegError::Spawn { source, .. }) => {
                return Err(GenerateError::CannotRun(format!(
                    "the photo must be re-encoded for the video service and ffmpeg could not run ({source}); install ffmpeg \
                     (Debian/Ubuntu: apt-get install ffmpeg)"
                )));
            }
            Err(e) => return Err(unusable(&e.to_string())),
        }
        let jpeg = tokio::fs::read(&output).await.map_err(|e| GenerateError::Failed(format!("cannot read the photo: {e}")))?;
        if fit.takes(&jpeg) {
            return Ok(jpeg);
        }
    }
    Err(GenerateError::CannotRun("the photo is too large to send to the video service, even re-encoded".to_owned()))
}

fn unusable(reason: &str) -> GenerateError {
    GenerateError::CannotRun(format!("the photo can't be used for a video ({reason}); send a JPEG or PNG photo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_are_measured_as_sent() {
        let bytes = b"\xFF\xD8\xFF\xE0 some jpeg";
        let uri = data_uri(bytes).expect("a JPEG");
        assert_eq!(uri.len(), data_uri_len("image/jpeg", bytes.len()));
        assert!(uri.starts_with("data:image/jpeg;base64,"));
        assert_eq!(mime_of(b"GIF89a"), None);
        let fit = Fit { webp: false, max_data_uri: Some(40) };
        assert!(fit.takes(b"\x89PNG12"));
        assert!(!fit.takes(&[b'\x89', b'P', b'N', b'G'].repeat(10)), "over the limit");
        assert!(!fit.takes(b"RIFF1234WEBPxxxx"), "WebP where it is not taken");
        assert!(Fit { webp: true, max_data_uri: None }.takes(b"RIFF1234WEBPxxxx"));
    }
}
