//! Joins an extension to the video it continues: both parts normalized to
//! the first one's size, one frame rate, pixel format and timebase, then a
//! 1-second video crossfade (`xfade`) and audio crossfade (`acrossfade`);
//! a part without sound gets silence (`anullsrc`). The result lasts
//! first + second − 1 s. Needs ffmpeg and ffprobe on the machine — also
//! with the local generator, whose parts are pure Rust: decoding and
//! re-encoding H.264 and mixing audio is ffmpeg's job, not ours.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ffmpeg::{FPS, FfmpegError, encoder_args, run};

/// Length of the crossfade, in seconds.
pub const CROSSFADE_SECONDS: f64 = 1.0;

/// What ffprobe says about one part.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub seconds: f64,
    pub width: u32,
    pub height: u32,
    pub has_audio: bool,
}

/// Reads a video's length, frame size and whether it has sound.
#[tracing::instrument]
pub async fn probe(path: &Path) -> Result<Probe, FfmpegError> {
    let args: Vec<String> =
        ["-v", "error", "-show_entries", "format=duration:stream=codec_type,width,height,duration", "-of", "json"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([path.display().to_string()])
            .collect();
    let stdout = run("ffprobe", &args).await?;
    let json: Value = serde_json::from_str(&stdout).map_err(|e| FfmpegError::Io(format!("ffprobe's answer: {e}")))?;
    let streams = json.get("streams").and_then(Value::as_array).cloned().unwrap_or_default();
    let kind = |s: &Value, k: &str| s.get("codec_type").and_then(Value::as_str) == Some(k);
    let video = streams
        .iter()
        .find(|s| kind(s, "video"))
        .ok_or_else(|| FfmpegError::Io(format!("{} has no video stream", path.display())))?;
    let number = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok());
    let seconds = number(video.get("duration"))
        .or_else(|| number(json.get("format").and_then(|f| f.get("duration"))))
        .filter(|s| *s > 0.0)
        .ok_or_else(|| FfmpegError::Io(format!("ffprobe gave no duration for {}", path.display())))?;
    let dim = |key: &str| video.get(key).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Ok(Probe { seconds, width: dim("width"), height: dim("height"), has_audio: streams.iter().any(|s| kind(s, "audio")) })
}

/// One crossfade to run.
#[derive(Debug, Clone)]
pub struct Crossfade {
    pub first: (PathBuf, Probe),
    pub second: (PathBuf, Probe),
    pub output: PathBuf,
    /// The file must not be larger (Telegram's 50 MB for bots).
    pub max_bytes: u64,
}

impl Crossfade {
    /// The joined video's length.
    pub fn seconds(&self) -> f64 {
        self.first.1.seconds + self.second.1.seconds - CROSSFADE_SECONDS
    }

    fn filter_graph(&self) -> String {
        // The first part's size (even, as H.264 wants), or 640×360 if unknown.
        let even = |v: u32, fallback: u32| if v < 16 { fallback } else { v - v % 2 };
        let (w, h) = (even(self.first.1.width, 640), even(self.first.1.height, 360));
        let mut graph = String::new();
        for (i, (_, probe)) in [&self.first, &self.second].into_iter().enumerate() {
            let d = probe.seconds;
            graph.push_str(&format!(
                "[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,\
                 setsar=1,fps={FPS},format=yuv420p,settb=AVTB,tpad=stop_mode=clone:stop_duration=1,trim=duration={d:.3},\
                 setpts=PTS-STARTPTS[v{i}];"
            ));
            if probe.has_audio {
                graph.push_str(&format!(
                    "[{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,atrim=duration={d:.3},\
                     asetpts=PTS-STARTPTS[a{i}];"
                ));
            } else {
                graph.push_str(&format!(
                    "anullsrc=channel_layout=stereo:sample_rate=48000,aformat=sample_fmts=fltp,atrim=duration={d:.3}[a{i}];"
                ));
            }
        }
        let offset = self.first.1.seconds - CROSSFADE_SECONDS;
        graph.push_str(&format!(
            "[v0][v1]xfade=transition=fade:duration={CROSSFADE_SECONDS}:offset={offset:.3}[v];\
             [a0][a1]acrossfade=d={CROSSFADE_SECONDS}[a]"
        ));
        graph
    }

    fn args(&self, max_kbps: u64, target: &Path) -> Vec<String> {
        let mut args: Vec<String> =
            ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"].iter().map(|s| (*s).to_owned()).collect();
        for (path, _) in [&self.first, &self.second] {
            args.extend(["-i".to_owned(), path.display().to_string()]);
        }
        args.extend(["-filter_complex".to_owned(), self.filter_graph()]);
        args.extend(["-map", "[v]", "-map", "[a]"].iter().map(|s| (*s).to_owned()));
        args.extend(encoder_args(23, true, Some(max_kbps)));
        args.push(target.display().to_string());
        args
    }

    fn max_kbps(&self) -> u64 {
        let budget = (self.max_bytes as f64 * 0.85 * 8.0 / 1000.0 / self.seconds().max(1.0)) as u64;
        budget.saturating_sub(128).clamp(200, 6000)
    }
}

/// Probes both parts and joins them into `output` (through
/// `<output>.part.mp4`, renamed when complete); returns the joined length.
#[tracing::instrument]
pub async fn join(first: &Path, second: &Path, output: &Path, max_bytes: u64) -> Result<f64, FfmpegError> {
    let first_probe = probe(first).await?;
    let second_probe = probe(second).await?;
    if first_probe.seconds <= CROSSFADE_SECONDS || second_probe.seconds <= CROSSFADE_SECONDS {
        return Err(FfmpegError::Io(format!(
            "both parts must be longer than the {CROSSFADE_SECONDS} s crossfade ({:.2} s and {:.2} s)",
            first_probe.seconds, second_probe.seconds
        )));
    }
    let spec = Crossfade {
        first: (first.to_owned(), first_probe),
        second: (second.to_owned(), second_probe),
        output: output.to_owned(),
        max_bytes,
    };
    let part = output.with_extension("part.mp4");
    let mut kbps = spec.max_kbps();
    for _ in 0..2 {
        run("ffmpeg", &spec.args(kbps, &part)).await?;
        let size = tokio::fs::metadata(&part).await.map_err(|e| FfmpegError::Io(format!("ffmpeg wrote no file: {e}")))?.len();
        if size <= max_bytes {
            tokio::fs::rename(&part, output)
                .await
                .map_err(|e| FfmpegError::Io(format!("cannot move the video to {}: {e}", output.display())))?;
            return Ok(spec.seconds());
        }
        kbps /= 2;
    }
    let size = tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0);
    let _ = tokio::fs::remove_file(&part).await;
    Err(FfmpegError::TooLarge { size, limit: max_bytes })
}

/// Keeps the last `seconds` of `input` in `output` (re-encoded, so the cut
/// is exact): the new part of a provider's extension that returns the
/// whole, extended video.
#[tracing::instrument]
pub async fn tail(input: &Path, seconds: u32, output: &Path) -> Result<(), FfmpegError> {
    let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-sseof"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("-{seconds}"), "-i".to_owned(), input.display().to_string()])
        .collect();
    args.extend(encoder_args(20, true, None));
    args.push(output.display().to_string());
    run("ffmpeg", &args).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(seconds: f64, has_audio: bool) -> Probe {
        Probe { seconds, width: 641, height: 360, has_audio }
    }

    #[test]
    fn the_graph_crossfades_video_and_audio_after_normalizing() {
        let spec = Crossfade {
            first: ("a.mp4".into(), probe(3.0, false)),
            second: ("b.mp4".into(), probe(8.0, true)),
            output: "out.mp4".into(),
            max_bytes: crate::telegram::MAX_UPLOAD_BYTES,
        };
        let graph = spec.filter_graph();
        assert!(graph.contains("[0:v]scale=640:360"), "{graph}");
        assert!(graph.contains("[1:v]scale=640:360"), "{graph}");
        assert!(graph.contains("settb=AVTB"), "{graph}");
        assert!(
            graph.contains("anullsrc=channel_layout=stereo:sample_rate=48000,aformat=sample_fmts=fltp,atrim=duration=3.000[a0]"),
            "{graph}"
        );
        assert!(graph.contains("[1:a]aresample=48000"), "{graph}");
        assert!(graph.contains("[v0][v1]xfade=transition=fade:duration=1:offset=2.000[v]"), "{graph}");
        assert!(graph.contains("[a0][a1]acrossfade=d=1[a]"), "{graph}");
        assert_eq!(spec.seconds(), 10.0);
    }
}
