//! Decoded photos: JPEG and PNG into RGB24, EXIF orientation applied, and a
//! deterministic resampler that crops and scales a photo to cover a frame.
//!
//! Decoding uses the pure-Rust `zune-jpeg` / `zune-png` with their SIMD
//! paths switched off: the scalar code gives the same pixels on every
//! machine, so a video made from a photo stays byte-identical wherever it is
//! rendered. The resampler is integer-only for the same reason.

use std::fmt;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_png::PngDecoder;
use zune_png::zune_core::result::DecodingResult;

use crate::RenderError;

/// A decoded image: `width` × `height` pixels of RGB24, row by row.
///
/// Built by [`Picture::decode`] (JPEG or PNG bytes) or
/// [`Picture::from_rgb`]; the pixel buffer always matches the size.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl fmt::Debug for Picture {
    /// The size only: the pixels would drown any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picture").field("width", &self.width).field("height", &self.height).finish_non_exhaustive()
    }
}

/// Largest picture accepted, in pixels (40 megapixels: above any phone
/// camera, below what would make one decode take hundreds of megabytes).
pub const MAX_PICTURE_PIXELS: u64 = 40_000_000;
/// Longest side accepted, in pixels.
const MAX_SIDE: usize = 1 << 15;

impl Picture {
    /// Decodes a JPEG or PNG (told apart by their signatures).
    ///
    /// The EXIF orientation of a photo taken on its side is applied, so the
    /// picture is upright. PNG transparency is composited over black, 16-bit
    /// PNGs keep their top 8 bits, an animated PNG gives its first frame.
    ///
    /// # Errors
    ///
    /// [`RenderError::Image`] for bytes that are neither format, a malformed
    /// or truncated file, or a picture of more than
    /// [`MAX_PICTURE_PIXELS`] (checked from the header, before the pixels are
    /// allocated). Malformed bytes never panic.
    pub fn decode(bytes: &[u8]) -> Result<Picture, RenderError> {
        // The decoders are written to return errors, but they are large and
        // fed untrusted bytes: a panic in one is turned into an error too,
        // so a bad upload can never take down the caller's thread.
        match std::panic::catch_unwind(|| decode_any(bytes)) {
            Ok(result) => result,
            Err(_) => Err(RenderError::Image("the image decoder failed on malformed data".into())),
        }
    }

    /// A picture from raw RGB24 pixels (`width * height * 3` bytes).
    ///
    /// # Errors
    ///
    /// [`RenderError::Image`] if a side is 0, the size is above
    /// [`MAX_PICTURE_PIXELS`], or `rgb` has the wrong length.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Picture, RenderError> {
        check_size(width as usize, height as usize)?;
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected {
            return Err(RenderError::Image(format!("{width}x{height} RGB needs {expected} bytes, got {}", rgb.len())));
        }
        Ok(Picture { width, height, rgb })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels: RGB24, row by row, no padding.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// This picture centre-cropped to the aspect ratio `width`:`height` and
    /// scaled to exactly `width` × `height` ("cover": the picture fills the
    /// frame and the overflowing sides are cut off).
    pub(crate) fn cover(&self, width: usize, height: usize) -> Vec<u8> {
        let (pw, ph) = (self.width as usize, self.height as usize);
        // Crop to the target aspect: compare pw/ph with width/height.
        let (cx, cy, cw, ch) = if pw as u64 * height as u64 > ph as u64 * width as u64 {
            let cw = ((ph as u64 * width as u64 + height as u64 / 2) / height as u64).clamp(1, pw as u64) as usize;
            ((pw - cw) / 2, 0, cw, ph)
        } else {
            let ch = ((pw as u64 * height as u64 + width as u64 / 2) / width as u64).clamp(1, ph as u64) as usize;
            (0, (ph - ch) / 2, pw, ch)
        };
        // Horizontal pass over the cropped rows only, then vertical.
        let across = Taps::new(cw, width);
        let mut wide = vec![0u8; width * ch * 3];
        for (y, out) in wide.chunks_exact_mut(width * 3).enumerate() {
            let row = &self.rgb[((cy + y) * pw + cx) * 3..][..cw * 3];
            for (x, px) in out.chunks_exact_mut(3).enumerate() {
                let (start, weights) = across.of(x);
                let mut sum = [1i32 << (Taps::BITS - 1); 3];
                let src = &row[start * 3..][..weights.len() * 3];
                for (&w, s) in weights.iter().zip(src.chunks_exact(3)) {
                    sum[0] += w * i32::from(s[0]);
                    sum[1] += w * i32::from(s[1]);
                    sum[2] += w * i32::from(s[2]);
                }
                for c in 0..3 {
                    px[c] = (sum[c] >> Taps::BITS).clamp(0, 255) as u8;
                }
            }
        }
        let down = Taps::new(ch, height);
        let stride = width * 3;
        let mut out = vec![0u8; stride * height];
        let mut sum = vec![0i32; stride];
        for (y, out_row) in out.chunks_exact_mut(stride).enumerate() {
            let (start, weights) = down.of(y);
            sum.fill(1 << (Taps::BITS - 1));
            for (k, &w) in weights.iter().enumerate() {
                let src = &wide[(start + k) * stride..][..stride];
                for (s, &v) in sum.iter_mut().zip(src) {
                    *s += w * i32::from(v);
                }
            }
            for (d, &s) in out_row.iter_mut().zip(&sum) {
                *d = (s >> Taps::BITS).clamp(0, 255) as u8;
            }
        }
        out
    }
}

fn check_size(width: usize, height: usize) -> Result<(), RenderError> {
    if width == 0 || height == 0 {
        return Err(RenderError::Image(format!("the image is {width}x{height}: empty")));
    }
    if width as u64 * height as u64 > MAX_PICTURE_PIXELS || width.max(height) > MAX_SIDE {
        return Err(RenderError::Image(format!(
            "the image is {width}x{height}: more than the {} megapixels (or {MAX_SIDE} px a side) accepted",
            MAX_PICTURE_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

fn decode_any(bytes: &[u8]) -> Result<Picture, RenderError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else {
        Err(RenderError::Image("not a JPEG or PNG image".into()))
    }
}

/// Options shared by both decoders: no SIMD (same pixels on every machine),
/// and sides capped before anything is allocated.
fn decoder_options() -> DecoderOptions {
    DecoderOptions::default().set_use_unsafe(false).set_max_width(MAX_SIDE).set_max_height(MAX_SIDE)
}

fn decode_jpeg(bytes: &[u8]) -> Result<Picture, RenderError> {
    let bad = |e: zune_jpeg::errors::DecodeErrors| RenderError::Image(format!("bad JPEG: {e}"));
    let options = decoder_options().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(bad)?;
    let (w, h) = decoder.dimensions().ok_or_else(|| RenderError::Image("bad JPEG: no frame header".into()))?;
    check_size(w, h)?;
    let orientation = decoder.exif().map_or(1, |exif| exif_orientation(exif));
    let colorspace = decoder.output_colorspace().unwrap_or(ColorSpace::RGB);
    let pixels = decoder.decode().map_err(bad)?;
    let rgb = to_rgb(pixels, w, h, colorspace.num_components(), colorspace.has_alpha())?;
    Ok(orient(Picture { width: w as u32, height: h as u32, rgb }, orientation))
}

fn decode_png(bytes: &[u8]) -> Result<Picture, RenderError> {
    let bad = |e: zune_png::error::PngDecodeErrors| RenderError::Image(format!("bad PNG: {e:?}"));
    let options = decoder_options().png_set_strip_to_8bit(true).png_set_decode_animated(false);
    let mut decoder = PngDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(bad)?;
    let (w, h) = decoder.dimensions().ok_or_else(|| RenderError::Image("bad PNG: no header".into()))?;
    check_size(w, h)?;
    let colorspace = decoder.colorspace().ok_or_else(|| RenderError::Image("bad PNG: unknown colour type".into()))?;
    let orientation = decoder.info().and_then(|info| info.exif.as_deref()).map_or(1, exif_orientation);
    let DecodingResult::U8(pixels) = decoder.decode().map_err(bad)? else {
        return Err(RenderError::Image("bad PNG: samples are not 8-bit".into()));
    };
    let rgb = to_rgb(pixels, w, h, colorspace.num_components(), colorspace.has_alpha())?;
    Ok(orient(Picture { width: w as u32, height: h as u32, rgb }, orientation))
}

/// Grey, grey + alpha, RGB or RGBA samples to RGB24; alpha is composited
/// over black.
fn to_rgb(pixels: Vec<u8>, w: usize, h: usize, components: usize, alpha: bool) -> Result<Vec<u8>, RenderError> {
    let count = w * h;
    if components == 0 || pixels.len() < count * components {
        return Err(RenderError::Image(format!("the decoder gave {} bytes for {w}x{h}x{components}", pixels.len())));
    }
    if components == 3 && !alpha {
        let mut pixels = pixels;
        pixels.truncate(count * 3);
        return Ok(pixels);
    }
    let over_black = |v: u8, a: u8| ((u32::from(v) * u32::from(a) + 127) / 255) as u8;
    let mut rgb = Vec::with_capacity(count * 3);
    for px in pixels.chunks_exact(components).take(count) {
        let (colour, a) = match (components, alpha) {
            (1, _) => ([px[0]; 3], 255),
            (2, true) => ([px[0]; 3], px[1]),
            (4, true) => ([px[0], px[1], px[2]], px[3]),
            (n, _) if n >= 3 => ([px[0], px[1], px[2]], 255),
            _ => ([px[0]; 3], 255),
        };
        rgb.extend(colour.map(|v| over_black(v, a)));
    }
    Ok(rgb)
}

/// The EXIF orientation tag (1..=8) in a TIFF-structured EXIF block
/// (optionally still prefixed with `Exif\0\0`); 1 (upright) when absent or
/// unreadable.
fn exif_orientation(exif: &[u8]) -> u16 {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let big_endian = match tiff.get(..4) {
        Some([b'I', b'I', 42, 0]) => false,
        Some([b'M', b'M', 0, 42]) => true,
        _ => return 1,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at.checked_add(2)?)?;
        Some(if big_endian { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at.checked_add(4)?)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    let find = || -> Option<u16> {
        let ifd = u32_at(4)? as usize;
        let entries = u16_at(ifd)?;
        for i in 0..usize::from(entries) {
            let entry = ifd.checked_add(2 + 12 * i)?;
            // Tag 0x0112, type SHORT: the value sits in the entry itself.
            if u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3 {
                return u16_at(entry + 8);
            }
        }
        None
    };
    find().filter(|o| (1..=8).contains(o)).unwrap_or(1)
}

/// Turns a picture stored on its side (EXIF orientation 2..=8) upright.
fn orient(picture: Picture, orientation: u16) -> Picture {
    if !(2..=8).contains(&orientation) {
        return picture;
    }
    let (w, h) = (picture.width as usize, picture.height as usize);
    let transposed = orientation >= 5;
    let (ow, oh) = if transposed { (h, w) } else { (w, h) };
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..oh {
        for x in 0..ow {
            // Where the upright pixel (x, y) is stored.
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = (sy * w + sx) * 3;
            rgb[(y * ow + x) * 3..][..3].copy_from_slice(&picture.rgb[from..from + 3]);
        }
    }
    Picture { width: ow as u32, height: oh as u32, rgb }
}

/// Resampling weights along one axis: a tent filter as wide as the scale
/// factor (bilinear when enlarging, an area-like average when shrinking, so
/// a 4000-pixel photo does not alias when brought down to a frame), in
/// integer fixed point.
struct Taps {
    /// For each output pixel: the first source pixel and its weights' range.
    spans: Vec<(usize, std::ops::Range<usize>)>,
    weights: Vec<i32>,
}

impl Taps {
    /// Weights sum to `1 << BITS`.
    const BITS: u32 = 14;

    fn new(src: usize, dst: usize) -> Taps {
        // Positions are measured in units of 1 / (2 * dst) source pixels:
        // output i's centre is at (2i + 1) * src, source j's at (2j + 1) * dst.
        let (src_i, dst_i) = (src as i64, dst as i64);
        let support = 2 * src_i.max(dst_i);
        let mut spans = Vec::with_capacity(dst);
        let mut weights = Vec::new();
        for i in 0..dst_i {
            let centre = (2 * i + 1) * src_i;
            // Source pixels whose centre lies within `support` of `centre`.
            let first = ((centre - support) / (2 * dst_i) - 1).max(0);
            let last = ((centre + support) / (2 * dst_i) + 1).min(src_i - 1);
            let raw: Vec<(i64, i64)> =
                (first..=last).map(|j| (j, support - ((2 * j + 1) * dst_i - centre).abs())).filter(|&(_, w)| w > 0).collect();
            // The nearest source centre is at most dst away, well inside the
            // support, so `raw` is never empty and the total is positive.
            let total: i64 = raw.iter().map(|&(_, w)| w).sum::<i64>().max(1);
            let start = weights.len();
            let mut given = 0;
            let mut heaviest = start;
            for &(_, w) in &raw {
                let fixed = (w << Self::BITS) / total;
                if weights.get(heaviest).is_none_or(|&h| fixed as i32 > h) {
                    heaviest = weights.len();
                }
                weights.push(fixed as i32);
                given += fixed;
            }
            // Rounding leftovers go to the heaviest tap: weights sum exactly to 1.
            if let Some(w) = weights.get_mut(heaviest) {
                *w += ((1 << Self::BITS) - given) as i32;
            }
            let first_src = raw.first().map_or(0, |&(j, _)| j as usize);
            spans.push((first_src, start..weights.len()));
        }
        Taps { spans, weights }
    }

    /// The first source pixel of output `i` and the weights from there on.
    fn of(&self, i: usize) -> (usize, &[i32]) {
        let (first, range) = &self.spans[i];
        (*first, &self.weights[range.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_sum_to_one_and_stay_in_range() {
        for (src, dst) in [(1, 1), (1, 7), (7, 1), (4000, 800), (800, 4000), (451, 450), (3, 2), (2, 3)] {
            let taps = Taps::new(src, dst);
            for i in 0..dst {
                let (first, weights) = taps.of(i);
                assert!(!weights.is_empty());
                assert!(first + weights.len() <= src, "{src}->{dst} output {i}");
                assert_eq!(weights.iter().sum::<i32>(), 1 << Taps::BITS, "{src}->{dst} output {i}");
                assert!(weights.iter().all(|&w| w >= 0));
            }
        }
    }

    #[test]
    fn cover_crops_the_centre_and_keeps_flat_colours() {
        // 6x2: left third red, middle green, right third blue; a 1:1 cover
        // keeps only the middle two columns.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for x in 0..6 {
                rgb.extend_from_slice(match x / 2 {
                    0 => &[255, 0, 0],
                    1 => &[0, 255, 0],
                    _ => &[0, 0, 255],
                });
            }
        }
        let picture = Picture::from_rgb(6, 2, rgb).expect("picture");
        let out = picture.cover(4, 4);
        assert!(out.chunks_exact(3).all(|px| px == [0, 255, 0]), "{out:?}");
    }

    #[test]
    fn exif_orientation_is_read_in_both_byte_orders() {
        let le = [b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0];
        let be = [b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0];
        assert_eq!(exif_orientation(&le), 6);
        assert_eq!(exif_orientation(&be), 8);
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend_from_slice(&le);
        assert_eq!(exif_orientation(&prefixed), 6);
        assert_eq!(exif_orientation(&le[..15]), 1, "truncated");
        assert_eq!(exif_orientation(b"garbage"), 1);
        assert_eq!(exif_orientation(&[]), 1);
    }

    #[test]
    fn orientation_turns_pictures_upright() {
        // 2x1 stored: red then blue. Orientation 6 (rotate 90° clockwise to
        // display) gives 1x2 with red on top; 8 gives blue on top; 3 swaps.
        let stored = Picture::from_rgb(2, 1, vec![255, 0, 0, 0, 0, 255]).expect("picture");
        let cw = orient(stored.clone(), 6);
        assert_eq!((cw.width, cw.height, cw.rgb.clone()), (1, 2, vec![255, 0, 0, 0, 0, 255]));
        let ccw = orient(stored.clone(), 8);
        assert_eq!((ccw.width, ccw.height, ccw.rgb.clone()), (1, 2, vec![0, 0, 255, 255, 0, 0]));
        let half = orient(stored.clone(), 3);
        assert_eq!((half.width, half.height, half.rgb.clone()), (2, 1, vec![0, 0, 255, 255, 0, 0]));
        assert_eq!(orient(stored.clone(), 1), stored);
        assert_eq!(orient(stored.clone(), 99), stored);
    }

    #[test]
    fn alpha_is_composited_over_black() {
        let rgb = to_rgb(vec![200, 100, 50, 0, 200, 100, 50, 255], 2, 1, 4, true).expect("rgb");
        assert_eq!(rgb, vec![0, 0, 0, 200, 100, 50]);
        let grey = to_rgb(vec![7, 9], 2, 1, 1, false).expect("grey");
        assert_eq!(grey, vec![7, 7, 7, 9, 9, 9]);
        assert!(to_rgb(vec![1, 2], 2, 1, 3, false).is_err(), "too few samples");
    }
}
