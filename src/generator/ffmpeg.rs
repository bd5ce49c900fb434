//! ffmpeg, a runtime dependency of the staged generators only: it joins
//! the segment clips (scaled to one size, each cut or stretched to its
//! length, faded in and out between sections), lays the voice-over under
//! them and encodes one H.264/AAC MP4 under Telegram's upload limit.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

/// Frames per second of the assembled video.
pub const FPS: u32 = 24;

#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error("could not run {program}: {source}")]
    Spawn { program: &'static str, source: std::io::Error },
    #[error("{program} failed ({status}): {stderr}")]
    Failed { program: &'static str, status: String, stderr: String },
    #[error("the assembled video is {size} bytes, above the {limit} byte limit even at a lower bitrate")]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Io(String),
}

/// Whether `ffmpeg` runs on this machine.
pub fn ffmpeg_available() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why ffmpeg can't be used; each says what to install.
#[derive(Debug, thiserror::Error)]
pub enum MissingFfmpeg {
    #[error(
        "ffmpeg is not installed or not on PATH ({0}); the chosen generator needs it: install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)"
    )]
    NotInstalled(std::io::Error),
    #[error("ffmpeg is on PATH but does not run; the chosen generator needs a working ffmpeg")]
    DoesNotRun,
    #[error("this ffmpeg has no {0} encoder; install a build with it (Debian/Ubuntu: apt-get install ffmpeg)")]
    MissingEncoder(&'static str),
}

/// Checks that `ffmpeg` runs and has the encoders the assembly uses.
pub fn check_ffmpeg() -> Result<(), MissingFfmpeg> {
    let output = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(MissingFfmpeg::NotInstalled)?;
    if !output.status.success() {
        return Err(MissingFfmpeg::DoesNotRun);
    }
    let encoders = String::from_utf8_lossy(&output.stdout);
    let has = |name: &str| encoders.lines().any(|line| line.split_whitespace().nth(1) == Some(name));
    for needed in ["libx264", "aac"] {
        if !has(needed) {
            return Err(MissingFfmpeg::MissingEncoder(needed));
        }
    }
    Ok(())
}

/// What to assemble.
#[derive(Debug, Clone)]
pub struct Assembly {
    pub clips: Vec<PathBuf>,
    pub voice: Option<PathBuf>,
    /// Every clip is cut (or its last frame held) to this length.
    pub segment_seconds: f64,
    /// Fade out and in between sections.
    pub fade_seconds: f64,
    pub width: u32,
    pub height: u32,
    pub output: PathBuf,
    /// The file must not be larger (Telegram's 50 MB for bots).
    pub max_bytes: u64,
}

impl Assembly {
    pub fn duration(&self) -> f64 {
        self.segment_seconds * self.clips.len() as f64
    }

    fn filter_graph(&self) -> String {
        let (w, h, s) = (self.width, self.height, self.segment_seconds);
        let fade = self.fade_seconds.min(s / 4.0);
        let mut graph = String::new();
        for i in 0..self.clips.len() {
            graph.push_str(&format!(
                "[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,\
                 setsar=1,fps={FPS},format=yuv420p,tpad=stop_mode=clone:stop_duration={s},trim=duration={s},\
                 setpts=PTS-STARTPTS,fade=t=in:st=0:d={fade},fade=t=out:st={out}:d={fade}[v{i}];",
                out = s - fade
            ));
        }
        for i in 0..self.clips.len() {
            graph.push_str(&format!("[v{i}]"));
        }
        graph.push_str(&format!("concat=n={}:v=1:a=0[v]", self.clips.len()));
        if self.voice.is_some() {
            let total = self.duration();
            let fade_out = 0.5f64.min(total / 4.0);
            graph.push_str(&format!(
                ";[{n}:a]aresample=48000,apad,atrim=duration={total},afade=t=out:st={st}:d={fade_out}[a]",
                n = self.clips.len(),
                st = total - fade_out
            ));
        }
        graph
    }

    /// ffmpeg's arguments for one encode at `max_kbps` video bitrate.
    fn args(&self, max_kbps: u64, target: &Path) -> Vec<String> {
        let mut args: Vec<String> =
            ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"].iter().map(|s| (*s).to_owned()).collect();
        for clip in &self.clips {
            args.extend(["-i".to_owned(), clip.display().to_string()]);
        }
        if let Some(voice) = &self.voice {
            args.extend(["-i".to_owned(), voice.display().to_string()]);
        }
        args.extend(["-filter_complex".to_owned(), self.filter_graph(), "-map".to_owned(), "[v]".to_owned()]);
        if self.voice.is_some() {
            args.extend(["-map".to_owned(), "[a]".to_owned()]);
        }
        args.extend(encoder_args(23, self.voice.is_some(), Some(max_kbps)));
        args.extend(["-t".to_owned(), format!("{:.3}", self.duration()), target.display().to_string()]);
        args
    }

    /// The video bitrate cap that keeps the file under `max_bytes`, with
    /// room for the audio and the container.
    fn max_kbps(&self) -> u64 {
        let seconds = self.duration().max(1.0);
        let budget_kbps = (self.max_bytes as f64 * 0.85 * 8.0 / 1000.0 / seconds) as u64;
        budget_kbps.saturating_sub(if self.voice.is_some() { 128 } else { 0 }).clamp(200, 6000)
    }
}

/// Assembles the video (through `<output>.part`, renamed when complete);
/// returns its size. Encodes again at half the bitrate if the first file
/// is too large.
pub async fn assemble(spec: &Assembly) -> Result<u64, FfmpegError> {
    if spec.clips.is_empty() {
        return Err(FfmpegError::Io("nothing to assemble: no clips".to_owned()));
    }
    let part = spec.output.with_extension("part.mp4");
    let mut kbps = spec.max_kbps();
    for _ in 0..2 {
        run("ffmpeg", &spec.args(kbps, &part)).await?;
        let size = tokio::fs::metadata(&part).await.map_err(|e| FfmpegError::Io(format!("ffmpeg wrote no file: {e}")))?.len();
        if size <= spec.max_bytes {
            tokio::fs::rename(&part, &spec.output)
                .await
                .map_err(|e| FfmpegError::Io(format!("cannot move the video to {}: {e}", spec.output.display())))?;
            return Ok(size);
        }
        tracing::warn!(size, limit = spec.max_bytes, kbps, "assembled video too large; encoding again at a lower bitrate");
        kbps /= 2;
    }
    let size = tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0);
    let _ = tokio::fs::remove_file(&part).await;
    Err(FfmpegError::TooLarge { size, limit: spec.max_bytes })
}

/// How every video this service makes with ffmpeg is encoded: H.264
/// (x264, `veryfast`, quality `crf`) in yuv420p, AAC sound when there is
/// `audio`, a bitrate cap when a file must stay under Telegram's limit,
/// in an MP4 that starts playing before it has downloaded.
pub(super) fn encoder_args(crf: u8, audio: bool, max_kbps: Option<u64>) -> Vec<String> {
    let mut args: Vec<String> =
        ["-c:v", "libx264", "-preset", "veryfast", "-crf"].iter().map(|s| (*s).to_owned()).chain([crf.to_string()]).collect();
    args.extend(["-pix_fmt", "yuv420p"].iter().map(|s| (*s).to_owned()));
    if audio {
        args.extend(["-c:a", "aac", "-b:a", "128k"].iter().map(|s| (*s).to_owned()));
    }
    if let Some(kbps) = max_kbps {
        args.extend(["-maxrate".to_owned(), format!("{kbps}k"), "-bufsize".to_owned(), format!("{}k", kbps * 2)]);
    }
    args.extend(["-movflags", "+faststart", "-f", "mp4"].iter().map(|s| (*s).to_owned()));
    args
}

/// The duration of a media file in seconds, as ffprobe reads it.
pub async fn probe_duration(path: &Path) -> Result<f64, FfmpegError> {
    let args: Vec<String> = ["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([path.display().to_string()])
        .collect();
    let stdout = run("ffprobe", &args).await?;
    stdout.trim().parse().map_err(|_| FfmpegError::Io(format!("ffprobe gave no duration for {}", path.display())))
}

/// Runs a program to completion (killed if the future is dropped); returns its stdout.
pub(super) async fn run(program: &'static str, args: &[String]) -> Result<String, FfmpegError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| FfmpegError::Spawn { program, source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let stderr = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
        return Err(FfmpegError::Failed { program, status: output.status.to_string(), stderr });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_normalizes_every_clip_and_pads_the_voice() {
        let spec = Assembly {
            clips: vec!["a.mp4".into(), "b.mp4".into()],
            voice: Some("voice.wav".into()),
            segment_seconds: 5.0,
            fade_seconds: 0.3,
            width: 320,
            height: 180,
            output: "out.mp4".into(),
            max_bytes: crate::telegram::MAX_UPLOAD_BYTES,
        };
        let graph = spec.filter_graph();
        assert!(graph.contains("[0:v]scale=320:180"), "{graph}");
        assert!(graph.contains("[v0][v1]concat=n=2:v=1:a=0[v]"), "{graph}");
        assert!(graph.contains("[2:a]aresample=48000,apad,atrim=duration=10"), "{graph}");
        let args = spec.args(spec.max_kbps(), Path::new("out.part.mp4"));
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 3);
        assert!(args.windows(2).any(|w| w[0] == "-t" && w[1] == "10.000"));
        assert_eq!(spec.max_kbps(), 6000);
    }

    #[test]
    fn long_videos_get_a_lower_bitrate() {
        let spec = Assembly {
            clips: vec![PathBuf::from("a.mp4"); 60],
            voice: None,
            segment_seconds: 10.0,
            fade_seconds: 0.3,
            width: 1280,
            height: 720,
            output: "out.mp4".into(),
            max_bytes: crate::telegram::MAX_UPLOAD_BYTES,
        };
        // 600 s in 50 MB: about 594 kbit/s
        assert!((500..=600).contains(&spec.max_kbps()), "{}", spec.max_kbps());
    }
}
