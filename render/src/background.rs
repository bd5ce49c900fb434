//! The photo background: a user's picture filling the frame with a slow
//! "Ken Burns" zoom, so a still photo becomes a moving clip.
//!
//! The photo is cropped to the frame's aspect ratio and scaled once, up
//! front, to [`HEADROOM`] times the frame size; each frame is then a
//! bilinear sample of a centred window of it that shrinks as the zoom grows.
//! Every frame therefore costs the same whatever the photo's size, and the
//! widest zoom still samples at least one source pixel per output pixel.
//! All arithmetic is integer, so the pixels are the same on every machine.

use crate::picture::Picture;

/// Size of the pre-scaled photo relative to the frame, as a fraction
/// (5/4: a little above the largest zoom, so the zoom never enlarges).
const HEADROOM: (usize, usize) = (5, 4);
/// Zoom at the last frame, in 1/65536 (110%; the first frame is at 100%).
const END_ZOOM: i64 = 65536 * 11 / 10;

/// A photo prepared for one frame size.
pub(crate) struct PhotoBackdrop {
    /// Frame size.
    width: usize,
    height: usize,
    /// The cropped, pre-scaled photo (RGB24).
    src: Vec<u8>,
    src_w: usize,
    src_h: usize,
}

/// One axis of a frame's sampling grid: for each output pixel, the two
/// source pixels it lies between and the weight (0..=256) of the second.
struct Axis {
    taps: Vec<(usize, usize, u32)>,
}

impl Axis {
    /// `out` pixels viewing a centred window of `src` pixels at `zoom`
    /// (1/65536); sampling points at pixel centres.
    fn new(src: usize, out: usize, zoom: i64) -> Axis {
        let (src_i, out_i) = (src as i64, out as i64);
        // Source pixels per output pixel, 16.16: src / (out * zoom).
        let step = (src_i << 32) / (out_i * zoom).max(1);
        // The window's left edge, 16.16, so the window is centred.
        let origin = ((src_i << 16) - out_i * step) / 2;
        let last = (src_i - 1).max(0);
        let taps = (0..out_i)
            .map(|i| {
                let pos = (origin + (2 * i + 1) * step / 2 - 32768).clamp(0, last << 16);
                let index = (pos >> 16) as usize;
                let next = (index + 1).min(last as usize);
                (index, next, ((pos >> 8) & 0xFF) as u32)
            })
            .collect();
        Axis { taps }
    }
}

impl PhotoBackdrop {
    pub(crate) fn new(picture: &Picture, width: usize, height: usize) -> PhotoBackdrop {
        let src_w = width * HEADROOM.0 / HEADROOM.1;
        let src_h = height * HEADROOM.0 / HEADROOM.1;
        PhotoBackdrop { width, height, src: picture.cover(src_w, src_h), src_w, src_h }
    }

    /// Zoom at `frame` of `frames`, in 1/65536: linear from 100% to 110%.
    fn zoom(frame: u32, frames: u32) -> i64 {
        if frames < 2 {
            return 65536;
        }
        65536 + (END_ZOOM - 65536) * i64::from(frame.min(frames - 1)) / i64::from(frames - 1)
    }

    /// Draws frame `frame` of `frames` into `rgb` (the whole frame).
    pub(crate) fn draw(&self, frame: u32, frames: u32, rgb: &mut [u8]) {
        let zoom = Self::zoom(frame, frames);
        let across = Axis::new(self.src_w, self.width, zoom);
        let down = Axis::new(self.src_h, self.height, zoom);
        let stride = self.src_w * 3;
        for (out_row, &(y0, y1, fy)) in rgb.chunks_exact_mut(self.width * 3).zip(&down.taps) {
            let row0 = &self.src[y0 * stride..][..stride];
            let row1 = &self.src[y1 * stride..][..stride];
            for (px, &(x0, x1, fx)) in out_row.chunks_exact_mut(3).zip(&across.taps) {
                for c in 0..3 {
                    let lerp = |row: &[u8]| u32::from(row[x0 * 3 + c]) * (256 - fx) + u32::from(row[x1 * 3 + c]) * fx;
                    let v = (lerp(row0) * (256 - fy) + lerp(row1) * fy + (1 << 15)) >> 16;
                    px[c] = v as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_runs_from_100_to_110_percent() {
        assert_eq!(PhotoBackdrop::zoom(0, 36), 65536);
        assert_eq!(PhotoBackdrop::zoom(35, 36), END_ZOOM);
        assert_eq!(PhotoBackdrop::zoom(0, 1), 65536);
        let zooms: Vec<i64> = (0..36).map(|f| PhotoBackdrop::zoom(f, 36)).collect();
        assert!(zooms.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_window_is_centred_and_inside_the_photo() {
        for (src, out) in [(800, 640), (450, 360), (2, 16), (20, 16)] {
            for zoom in [65536, END_ZOOM] {
                let axis = Axis::new(src, out, zoom);
                assert_eq!(axis.taps.len(), out);
                assert!(axis.taps.iter().all(|&(a, b, f)| a < src && b < src && f <= 255));
                // Symmetric: the first tap is as far from the left edge as the last from the right.
                let (first, _, _) = axis.taps[0];
                let (_, last, _) = axis.taps[out - 1];
                assert!((first as i64 - (src - 1 - last) as i64).abs() <= 1, "{src}->{out} @ {zoom}: {first} {last}");
            }
        }
    }

    #[test]
    fn frames_zoom_in() {
        // A horizontal ramp: zooming in narrows the range of values seen.
        let (w, h) = (40, 20);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 6) as u8; 3]).collect();
        let picture = Picture::from_rgb(w as u32, h as u32, rgb).expect("picture");
        let backdrop = PhotoBackdrop::new(&picture, 32, 16);
        let mut first = vec![0u8; 32 * 16 * 3];
        let mut last = first.clone();
        backdrop.draw(0, 10, &mut first);
        backdrop.draw(9, 10, &mut last);
        let span = |f: &[u8]| f[(32 - 1) * 3] as i32 - f[0] as i32;
        assert!(span(&last) < span(&first), "{} vs {}", span(&last), span(&first));
        assert!(span(&last) > span(&first) * 8 / 10);
    }
}
