//! Frames of rendered videos, for tests that check what a video shows:
//! one frame decoded by ffmpeg to 8-bit grey, and the bright text drawn on
//! the darker background told apart from it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use vidcache::generator::{RenderOptions, render_mp4};

/// The size the local renderer draws at (its defaults).
pub fn size() -> (usize, usize) {
    let options = RenderOptions::default();
    (options.width as usize, options.height as usize)
}

pub use super::have_ffmpeg;

/// Frame `n` of the video at `path`, as one grey byte per pixel.
pub fn grey_frame(path: &Path, n: u32) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(output.status.success(), "ffmpeg could not decode {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let (w, h) = size();
    assert_eq!(output.stdout.len(), w * h, "frame {n} of {} is not {w}×{h}", path.display());
    output.stdout
}

/// Frame `n` of what the local renderer makes of `text`.
pub fn rendered_frame(text: &str, n: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rendered.mp4");
    render_mp4(text, &path, &RenderOptions::default()).expect("renders");
    grey_frame(&path, n)
}

/// The text's pixels: far brighter than any background the renderer
/// paints (its text is near-white, its gradients dark), leaving out the
/// progress bar along the bottom.
pub fn text_mask(frame: &[u8]) -> Vec<bool> {
    let (w, h) = size();
    let text_rows = h - 24;
    frame.iter().enumerate().map(|(i, &grey)| i / w < text_rows && grey > 180).collect()
}

/// How much two text masks differ: the pixels set in one but not the
/// other, over those set in either (0: the same text, 1: nothing shared).
pub fn mask_difference(a: &[bool], b: &[bool]) -> f64 {
    let either = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    let one = a.iter().zip(b).filter(|(x, y)| **x != **y).count();
    if either == 0 { 0.0 } else { one as f64 / either as f64 }
}

/// How many text pixels a mask has.
pub fn lit(mask: &[bool]) -> usize {
    mask.iter().filter(|m| **m).count()
}
