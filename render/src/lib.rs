//! Pure-Rust local video renderer: turns a text prompt into a short animated
//! H.264 MP4 (the bundled DejaVu Sans drawn with `ab_glyph`, OpenH264
//! encoder, `mp4` crate muxer).
//!
//! Pipeline per frame: draw RGB (background gradient whose hue comes from a
//! hash of the text, word-wrapped centred text with a drop shadow, fade-in,
//! scroll for long texts, progress bar) -> BT.601 limited-range I420 ->
//! OpenH264 -> Annex-B NAL units converted to AVCC length-prefixed samples.
//! The samples are muxed with `mp4::Mp4Writer`, then the `moov` box is moved
//! in front of `mdat` ("faststart") so players can start streaming at once.
//!
//! The clip is coded in chunks of at most two seconds, each from an IDR
//! picture by an encoder of its own, on up to four threads, and the chunks
//! are joined in order. Everything is integer / fixed-order arithmetic and
//! the split depends only on the frame count, so the same text and options
//! give byte-identical files whatever the number of cores.
//!
//! With a [`RenderOptions::background`] photo (a "remix" of a user's
//! picture) the gradient gives way to the photo, cropped to cover the frame
//! and slowly zoomed (see `background.rs`), and the text moves to the lower
//! third over a translucent dark band so it stays readable on any photo.

use std::fs::{self, File};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::HashMap;
use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef, PxScale, ScaleFont as _, point};
use openh264::OpenH264API;
use openh264::Timestamp;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;

mod background;
mod picture;

use background::PhotoBackdrop;
pub use picture::{MAX_PICTURE_PIXELS, Picture};

/// Options for rendering.
///
/// Build with `..Default::default()` so fields added later keep old callers
/// compiling. Frames may be landscape or portrait (e.g. 640x360 or
/// 360x640): the type size, wrapping and progress bar follow the width (a
/// phone shows either orientation at its screen's width, so the text reads
/// the same size), scrolling follows the height.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Frame width in pixels (even, 16..=3840).
    pub width: u32,
    /// Frame height in pixels (even, 16..=3840; the smaller side must be <= 2160).
    pub height: u32,
    /// Frames per second (1..=120).
    pub fps: u32,
    /// Clip length in whole seconds (1..=600).
    pub seconds: u32,
    /// A photo to animate instead of the text-coloured gradient (None: the
    /// gradient). It fills the frame, centre-cropped to the frame's aspect
    /// ratio, zooms slowly from 100% to 110% over the clip, and the text
    /// sits in the lower third over a dark band. Shared (`Arc`) so one
    /// decoded photo can serve several renders without a copy.
    pub background: Option<Arc<Picture>>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { width: 640, height: 360, fps: 12, seconds: 3, background: None }
    }
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The [`RenderOptions`] are out of the supported range.
    #[error("invalid render options: {0}")]
    InvalidOptions(String),
    /// OpenH264 refused to initialise or to encode a frame.
    #[error("H.264 encoder error: {0}")]
    Encoder(String),
    /// Building the MP4 container failed.
    #[error("MP4 mux error: {0}")]
    Mux(String),
    /// The bundled font could not be read.
    #[error("font error: {0}")]
    Font(String),
    /// A background picture could not be decoded: not a JPEG or PNG,
    /// malformed or truncated, or too large (see [`Picture::decode`]).
    #[error("image error: {0}")]
    Image(String),
    /// Writing the output file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Render `text` as a short animated H.264 MP4 at `path`.
///
/// Any Unicode is accepted and drawn with the bundled DejaVu Sans (Latin with
/// accents, Cyrillic, Greek, …): characters it has no glyph for are left
/// out (never drawn as `?`), control and zero-width characters are dropped,
/// `\n` breaks lines.
/// Text that does not fit scrolls; text that would not fit even while
/// scrolling is cut with `...`.
///
/// The file is written under a temporary name in the same directory and then
/// renamed over `path`, so `path` is either absent/old or complete.
/// Synchronous and CPU-bound: call it from `spawn_blocking`.
///
/// Returns the number of bytes written.
///
/// With [`RenderOptions::background`] set, the photo is the backdrop (see
/// there); the same text, options and photo pixels give the same bytes.
///
/// # Errors
///
/// [`RenderError::InvalidOptions`] for out-of-range options,
/// [`RenderError::Encoder`] / [`RenderError::Mux`] if OpenH264 or the muxer
/// fail, [`RenderError::Io`] if the file cannot be written (e.g. the directory
/// does not exist).
pub fn render_mp4(text: &str, path: &Path, opts: &RenderOptions) -> Result<u64, RenderError> {
    validate(opts)?;
    let frame_count = opts.fps * opts.seconds;
    let scene = Scene::new(text, opts)?;
    let encoded = encode_frames(&scene, opts, frame_count)?;
    let mp4 = mux(encoded, opts)?;
    write_atomically(path, &mp4)?;
    Ok(mp4.len() as u64)
}

/// Frame `frame` (from 0) of the clip [`render_mp4`] would make of `text`,
/// as RGB24 (`width * height * 3` bytes, row by row), before the colour
/// conversion and compression: for tests that check what a frame shows
/// without decoding H.264.
///
/// # Errors
///
/// [`RenderError::InvalidOptions`] for out-of-range options or a frame past
/// the end of the clip.
#[doc(hidden)]
pub fn render_frame_rgb(text: &str, opts: &RenderOptions, frame: u32) -> Result<Vec<u8>, RenderError> {
    validate(opts)?;
    let scene = Scene::new(text, opts)?;
    if frame >= scene.frames {
        return Err(RenderError::InvalidOptions(format!("frame {frame} is past the clip's {} frames", scene.frames)));
    }
    let mut rgb = vec![0u8; (opts.width * opts.height * 3) as usize];
    scene.draw_frame(frame, &mut rgb);
    Ok(rgb)
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

fn validate(opts: &RenderOptions) -> Result<(), RenderError> {
    let RenderOptions { width, height, fps, seconds, .. } = *opts;
    let bad = |msg: String| Err(RenderError::InvalidOptions(msg));
    if width < 16 || height < 16 || width % 2 != 0 || height % 2 != 0 {
        return bad(format!("frame size {width}x{height} must be even and at least 16x16"));
    }
    if width.max(height) > 3840 || width.min(height) > 2160 {
        return bad(format!("frame size {width}x{height} exceeds the encoder limit of 3840x2160"));
    }
    if !(1..=120).contains(&fps) {
        return bad(format!("fps {fps} must be within 1..=120"));
    }
    if !(1..=600).contains(&seconds) {
        return bad(format!("seconds {seconds} must be within 1..=600"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Font and text layout
// ---------------------------------------------------------------------------

/// The bundled font: DejaVu Sans (Bitstream Vera licence, see
/// `fonts/LICENSE-DejaVu.txt`): Latin with accents, Cyrillic, Greek and more.
static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

fn font() -> Result<&'static FontRef<'static>, RenderError> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| RenderError::Font("the bundled font cannot be read".to_owned()))
}

const MARGIN_X: i32 = 8;
const MARGIN_TOP: i32 = 10;
/// Space reserved at the bottom for the progress bar.
const MARGIN_BOTTOM: i32 = 14;
const BAR_H: i32 = 4;
const BAR_BOTTOM_GAP: i32 = 5;
/// Scroll speed for texts taller than the frame, in lines per second (in tenths).
const SCROLL_LINES_PER_SEC_TENTHS: i32 = 18;
/// Share of the clip (in tenths) spent scrolling; the rest holds still at both ends.
const SCROLL_TENTHS: i32 = 7;
/// Opacity (of 256) of the dark band behind the text over a photo: dark
/// enough for white text on a white photo, light enough to see the photo.
const BAND_ALPHA: u32 = 150;
const BAND_COLOUR: [u8; 3] = [8, 8, 12];

/// How wide characters are and which ones can be drawn.
trait Measure {
    /// True when the font has a glyph for `c` (spaces included).
    fn has(&self, c: char) -> bool;
    /// The pen advance of `c`, in whole pixels.
    fn advance(&self, c: char) -> i32;

    fn width(&self, chars: &[char]) -> i32 {
        chars.iter().map(|&c| self.advance(c)).sum()
    }
}

/// The bundled font at one pixel size.
struct FontMeasure {
    font: &'static FontRef<'static>,
    scale: PxScale,
}

impl Measure for FontMeasure {
    fn has(&self, c: char) -> bool {
        c == ' ' || self.font.glyph_id(c).0 != 0
    }

    fn advance(&self, c: char) -> i32 {
        self.font.as_scaled(self.scale).h_advance(self.font.glyph_id(c)).round() as i32
    }
}

/// Characters that take no room of their own: combining marks, joiners,
/// bidi controls, variation selectors, emoji modifiers and tags.
fn is_zero_width(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x180E | 0xFEFF
        | 0x0300..=0x036F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2069
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF
        | 0xE0000..=0xE007F
        | 0xE0100..=0xE01EF)
}

enum CharClass {
    Break,
    Space,
    Skip,
    Glyph(char),
}

/// A character the font can't draw is left out (never drawn as `?`).
fn classify(c: char, measure: &dyn Measure) -> CharClass {
    match c {
        '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => CharClass::Break,
        '\t' => CharClass::Space,
        c if is_zero_width(c) => CharClass::Skip,
        c if c.is_whitespace() => CharClass::Space,
        c if c.is_control() => CharClass::Skip,
        c if measure.has(c) => CharClass::Glyph(c),
        _ => CharClass::Skip,
    }
}

/// Word-wraps `text` into at most `max_lines` lines at most `max_w` pixels
/// wide. Words longer than a line are split. Runs of blank lines collapse
/// to one; leading and trailing blank lines are dropped. If the text does
/// not fit, the last line ends with `...`.
fn wrap_text(text: &str, max_w: i32, max_lines: usize, measure: &dyn Measure) -> Vec<Vec<char>> {
    let max_w = max_w.max(1);
    let max_lines = max_lines.max(1);
    let mut lines: Vec<Vec<char>> = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut word: Vec<char> = Vec::new();
    let mut word_w = 0;
    let mut cut_short = false;

    for c in text.chars() {
        if lines.len() > max_lines {
            cut_short = true;
            break;
        }
        match classify(c, measure) {
            CharClass::Glyph(g) => {
                word.push(g);
                word_w += measure.advance(g);
                // Bound the work for pathological single "words".
                if word_w > max_w.saturating_mul(max_lines as i32 + 1) {
                    flush_word(&mut word, &mut line, &mut lines, max_w, measure);
                    word_w = 0;
                }
            }
            CharClass::Space => {
                flush_word(&mut word, &mut line, &mut lines, max_w, measure);
                word_w = 0;
            }
            CharClass::Break => {
                flush_word(&mut word, &mut line, &mut lines, max_w, measure);
                word_w = 0;
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                } else if lines.last().is_some_and(|l| !l.is_empty()) {
                    lines.push(Vec::new());
                }
            }
            CharClass::Skip => {}
        }
    }
    flush_word(&mut word, &mut line, &mut lines, max_w, measure);
    if !line.is_empty() {
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }

    if lines.len() > max_lines || (cut_short && !lines.is_empty()) {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let dot_w = measure.advance('.').max(1);
            let dots = (max_w / dot_w).clamp(0, 3);
            while !last.is_empty() && measure.width(last) + dots * dot_w > max_w {
                last.pop();
            }
            while last.last() == Some(&' ') {
                last.pop();
            }
            last.extend(std::iter::repeat_n('.', dots as usize));
        }
    }
    lines
}

fn flush_word(word: &mut Vec<char>, line: &mut Vec<char>, lines: &mut Vec<Vec<char>>, max_w: i32, measure: &dyn Measure) {
    let mut rest: &[char] = word;
    while !rest.is_empty() {
        let rest_w = measure.width(rest);
        let needed = if line.is_empty() { rest_w } else { measure.width(line) + measure.advance(' ') + rest_w };
        if needed <= max_w {
            if !line.is_empty() {
                line.push(' ');
            }
            line.extend_from_slice(rest);
            break;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(line));
            continue;
        }
        // Empty line and the word is still too long: hard-split it (at
        // least one character per line).
        let mut take = 0;
        let mut w = 0;
        for &c in rest {
            let a = measure.advance(c);
            if take > 0 && w + a > max_w {
                break;
            }
            w += a;
            take += 1;
        }
        let (head, tail) = rest.split_at(take.max(1).min(rest.len()));
        line.extend_from_slice(head);
        lines.push(std::mem::take(line));
        rest = tail;
    }
    word.clear();
}

/// A glyph rasterized once: its coverage (0..=255) and where it sits
/// relative to the pen position on the line's top edge.
struct Bitmap {
    dx: i32,
    dy: i32,
    w: i32,
    h: i32,
    coverage: Vec<u8>,
}

/// Rasterizes every distinct character of `lines`.
fn rasterize(lines: &[Vec<char>], font: &FontRef<'static>, scale: PxScale) -> HashMap<char, Bitmap> {
    let ascent = font.as_scaled(scale).ascent();
    let mut glyphs = HashMap::new();
    for &c in lines.iter().flatten() {
        if glyphs.contains_key(&c) {
            continue;
        }
        let glyph = font.glyph_id(c).with_scale_and_position(scale, point(0.0, ascent));
        let Some(outlined) = font.outline_glyph(glyph) else { continue };
        let bounds = outlined.px_bounds();
        let (w, h) = (bounds.width() as i32, bounds.height() as i32);
        if w <= 0 || h <= 0 {
            continue;
        }
        let mut coverage = vec![0u8; (w * h) as usize];
        outlined.draw(|x, y, cov| {
            if let Some(px) = coverage.get_mut((y as i32 * w + x as i32) as usize) {
                *px = (cov.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
        glyphs.insert(c, Bitmap { dx: bounds.min.x as i32, dy: bounds.min.y as i32, w, h, coverage });
    }
    glyphs
}

// ---------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------

type Rgb = [u8; 3];

/// 64-bit FNV-1a: stable across Rust versions and platforms.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// HSV to RGB in integer arithmetic. `h` in degrees, `s` and `v` in 0..=255.
fn hsv(h: u32, s: u32, v: u32) -> Rgb {
    let h = h % 360;
    let s = s.min(255);
    let v = v.min(255);
    let sector = h / 60;
    let f = (h % 60) * 255 / 60; // 0..=250
    let p = v * (255 - s) / 255;
    let q = v * (255 - s * f / 255) / 255;
    let t = v * (255 - s * (255 - f) / 255) / 255;
    let (r, g, b) = match sector {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    // All components are <= v <= 255.
    [r as u8, g as u8, b as u8]
}

fn lerp_rgb(a: Rgb, b: Rgb, num: u32, den: u32) -> Rgb {
    let den = den.max(1);
    let num = num.min(den);
    let mix = |x: u8, y: u8| ((u32::from(x) * (den - num) + u32::from(y) * num) / den) as u8;
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// What fills the frame behind the text.
enum Backdrop {
    /// The pre-rendered gradient (RGB24), the same every frame.
    Gradient(Vec<u8>),
    /// The user's photo, zooming slowly.
    Photo(PhotoBackdrop),
}

/// Everything that stays the same from frame to frame.
struct Scene {
    width: i32,
    height: i32,
    frames: u32,
    backdrop: Backdrop,
    /// Over a photo: the dark band's top row (it reaches the frame's
    /// bottom) and the height of its soft upper edge. None without a photo
    /// or without text.
    band: Option<(i32, i32)>,
    lines: Vec<Vec<char>>,
    /// Width of each line, in pixels.
    line_widths: Vec<i32>,
    /// Every character's bitmap and advance.
    glyphs: HashMap<char, Bitmap>,
    measure: FontMeasure,
    /// Distance from one line's top to the next one's.
    line_h: i32,
    /// Height of one line of glyphs (ascent − descent).
    glyph_h: i32,
    /// Offset of the drop shadow.
    shadow: i32,
    /// Text is clipped to rows `clip_top..clip_bottom`.
    clip_top: i32,
    clip_bottom: i32,
    /// Vertical position of the first line for a text that fits.
    static_top: i32,
    /// How far a long text scrolls over the clip (0 if it fits).
    scroll_px: i32,
    fade_frames: u32,
    text_colour: Rgb,
    shadow_colour: Rgb,
    bar_colour: Rgb,
    bar_track_colour: Rgb,
}

impl Scene {
    fn new(text: &str, opts: &RenderOptions) -> Result<Self, RenderError> {
        // Options are validated: sizes are at most 3840, so i32 is safe.
        let width = opts.width as i32;
        let height = opts.height as i32;
        let frames = opts.fps * opts.seconds;

        let hash = fnv1a64(text.as_bytes());
        let hue = (hash % 360) as u32;
        let top = hsv(hue, 170, 120);
        let bottom = hsv(hue + 35, 200, 50);
        let accent = hsv(hue + 180, 110, 250);

        let backdrop = match &opts.background {
            Some(picture) => Backdrop::Photo(PhotoBackdrop::new(picture, width as usize, height as usize)),
            None => {
                let mut background = vec![0u8; (width * height * 3) as usize];
                for (y, row) in background.chunks_exact_mut((width * 3) as usize).enumerate() {
                    let colour = lerp_rgb(top, bottom, y as u32, (height - 1).max(1) as u32);
                    for px in row.chunks_exact_mut(3) {
                        px.copy_from_slice(&colour);
                    }
                }
                Backdrop::Gradient(background)
            }
        };
        let photo = opts.background.is_some();

        // Text about a tenth of the frame's height: 36 px at 640x360.
        let font = font()?;
        let scale = PxScale::from((height.min(width * 9 / 16) as f32 / 10.0).max(8.0));
        let scaled = font.as_scaled(scale);
        let glyph_h = (scaled.ascent() - scaled.descent()).ceil() as i32;
        let line_gap = (glyph_h / 6).max(1);
        let line_h = glyph_h + line_gap;
        let measure = FontMeasure { font, scale };

        // Over a photo the text keeps to the lower third, leaving the photo
        // itself in view; otherwise it has the whole frame.
        let clip_top = if photo { (height - height / 3).max(MARGIN_TOP) } else { MARGIN_TOP };
        let clip_bottom = (height - MARGIN_BOTTOM).max(clip_top + 1);
        let visible_h = clip_bottom - clip_top;
        let visible_lines = ((visible_h + line_gap) / line_h).max(1);
        let scroll_budget = line_h * SCROLL_LINES_PER_SEC_TENTHS * opts.seconds as i32 * SCROLL_TENTHS / 100;
        let max_lines = visible_lines + scroll_budget / line_h;

        let lines = wrap_text(text, width - 2 * MARGIN_X, max_lines as usize, &measure);
        let line_widths = lines.iter().map(|line| measure.width(line)).collect();
        let glyphs = rasterize(&lines, font, scale);
        let text_h = (lines.len() as i32 * line_h - line_gap).max(0);
        // Text that fits is centred, or over a photo sits on the bottom
        // margin like a subtitle.
        let (static_top, scroll_px) = if text_h > visible_h {
            (clip_top, text_h - visible_h)
        } else if photo {
            (clip_bottom - text_h, 0)
        } else {
            (clip_top + (visible_h - text_h) / 2, 0)
        };
        let band = (photo && !lines.is_empty()).then(|| {
            let edge = (line_h / 3).max(2);
            // A scrolling text starts at the clip's top, so this covers both.
            (static_top - edge, edge)
        });

        Ok(Self {
            width,
            height,
            frames,
            backdrop,
            band,
            lines,
            line_widths,
            glyphs,
            measure,
            line_h,
            glyph_h,
            shadow: (glyph_h / 18).max(1),
            clip_top,
            clip_bottom,
            static_top,
            scroll_px,
            fade_frames: (opts.fps * 2 / 5).max(1),
            text_colour: [248, 248, 248],
            shadow_colour: [10, 10, 16],
            bar_colour: accent,
            bar_track_colour: lerp_rgb(bottom, [0, 0, 0], 1, 2),
        })
    }

    /// Vertical offset of the text at `frame`: hold, ease in-out scroll, hold.
    fn scroll_offset(&self, frame: u32) -> i32 {
        if self.scroll_px == 0 || self.frames < 2 {
            return 0;
        }
        // Progress in 1/65536 units over the whole clip.
        let t = (u64::from(frame) << 16) / u64::from(self.frames - 1);
        let hold = (65536 * (10 - SCROLL_TENTHS as u64)) / 20;
        let span = 65536 - 2 * hold;
        let p = t.saturating_sub(hold).min(span) * 65536 / span; // 0..=65536
        // Smoothstep p^2 (3 - 2p), in 16.16 fixed point.
        let eased = (((p * p) >> 16) * (3 * 65536 - 2 * p)) >> 16;
        ((i64::from(self.scroll_px) * eased as i64) >> 16) as i32
    }

    fn draw_frame(&self, frame: u32, rgb: &mut [u8]) {
        match &self.backdrop {
            Backdrop::Gradient(background) => rgb.copy_from_slice(background),
            Backdrop::Photo(photo) => photo.draw(frame, self.frames, rgb),
        }

        // Text, fading in over the first `fade_frames` frames (and the band
        // behind it with it).
        let alpha = ((frame + 1) * 256 / self.fade_frames).min(256);
        if let Some((band_top, edge)) = self.band {
            let full = (0, self.height);
            for y in band_top.max(0)..self.height {
                let ramp = ((y - band_top + 1) * 256 / (edge + 1)).min(256) as u32;
                let a = BAND_ALPHA * ramp / 256 * alpha / 256;
                self.fill(rgb, 0, y, self.width, 1, BAND_COLOUR, a, full);
            }
        }
        let top = self.static_top - self.scroll_offset(frame);
        for (i, (line, line_w)) in self.lines.iter().zip(&self.line_widths).enumerate() {
            let y = top + i as i32 * self.line_h;
            if y + self.glyph_h + self.shadow <= self.clip_top || y >= self.clip_bottom {
                continue;
            }
            let x = (self.width - line_w) / 2;
            self.draw_line(rgb, line, x + self.shadow, y + self.shadow, self.shadow_colour, alpha * 3 / 4);
            self.draw_line(rgb, line, x, y, self.text_colour, alpha);
        }

        // Progress bar along the bottom.
        let bar_y = self.height - BAR_BOTTOM_GAP - BAR_H;
        let bar_x0 = MARGIN_X;
        let bar_w = self.width - 2 * MARGIN_X;
        let filled = (i64::from(bar_w) * i64::from(frame + 1) / i64::from(self.frames.max(1))) as i32;
        let full = (0, self.height);
        self.fill(rgb, bar_x0, bar_y, bar_w, BAR_H, self.bar_track_colour, 160, full);
        self.fill(rgb, bar_x0, bar_y, filled, BAR_H, self.bar_colour, 256, full);
    }

    fn draw_line(&self, rgb: &mut [u8], line: &[char], x: i32, y: i32, colour: Rgb, alpha: u32) {
        let clip = (self.clip_top, self.clip_bottom);
        let mut pen = x;
        for &c in line {
            if let Some(bitmap) = self.glyphs.get(&c) {
                self.blit(rgb, bitmap, pen + bitmap.dx, y + bitmap.dy, colour, alpha, clip);
            }
            pen += self.measure.advance(c);
        }
    }

    /// Alpha-blends a glyph's coverage at (x, y), clipped like [`Self::fill`].
    #[allow(clippy::too_many_arguments)]
    fn blit(&self, rgb: &mut [u8], bitmap: &Bitmap, x: i32, y: i32, colour: Rgb, alpha: u32, clip: (i32, i32)) {
        let stride = (self.width * 3) as usize;
        for row in 0..bitmap.h {
            let yy = y + row;
            if yy < 0 || yy < clip.0 || yy >= self.height || yy >= clip.1 {
                continue;
            }
            for col in 0..bitmap.w {
                let xx = x + col;
                if xx < 0 || xx >= self.width {
                    continue;
                }
                let cov = u32::from(bitmap.coverage[(row * bitmap.w + col) as usize]);
                if cov == 0 {
                    continue;
                }
                let a = (alpha.min(256) * cov) / 255;
                let at = yy as usize * stride + xx as usize * 3;
                for (d, s) in rgb[at..at + 3].iter_mut().zip(colour) {
                    *d = ((u32::from(*d) * (256 - a) + u32::from(s) * a) >> 8) as u8;
                }
            }
        }
    }

    /// Alpha-blends a rectangle (`alpha` in 0..=256), clipped to the frame and
    /// to rows `clip.0..clip.1`.
    #[allow(clippy::too_many_arguments)]
    fn fill(&self, rgb: &mut [u8], x: i32, y: i32, w: i32, h: i32, colour: Rgb, alpha: u32, clip: (i32, i32)) {
        let x0 = x.max(0);
        let x1 = x.saturating_add(w).min(self.width);
        let y0 = y.max(0).max(clip.0);
        let y1 = y.saturating_add(h).min(self.height).min(clip.1);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let a = alpha.min(256);
        let stride = (self.width * 3) as usize;
        for yy in y0..y1 {
            let row = &mut rgb[yy as usize * stride..][..stride];
            for px in row[x0 as usize * 3..x1 as usize * 3].chunks_exact_mut(3) {
                for (d, s) in px.iter_mut().zip(colour) {
                    *d = ((u32::from(*d) * (256 - a) + u32::from(s) * a) >> 8) as u8;
                }
            }
        }
    }
}

/// RGB24 to I420 with the BT.601 limited-range integer formulas
/// (matches the VUI written into the SPS).
fn rgb_to_i420(rgb: &[u8], width: usize, height: usize, y: &mut [u8], u: &mut [u8], v: &mut [u8]) {
    let stride = width * 3;
    for (src, dst) in rgb.chunks_exact(stride).zip(y.chunks_exact_mut(width)) {
        for (px, out) in src.chunks_exact(3).zip(dst.iter_mut()) {
            let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
            *out = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8;
        }
    }
    let cw = width / 2;
    for cy in 0..height / 2 {
        let row0 = &rgb[2 * cy * stride..][..stride];
        let row1 = &rgb[(2 * cy + 1) * stride..][..stride];
        for cx in 0..cw {
            let o = cx * 6;
            let avg = |c: usize| {
                (i32::from(row0[o + c]) + i32::from(row0[o + 3 + c]) + i32::from(row1[o + c]) + i32::from(row1[o + 3 + c]) + 2)
                    >> 2
            };
            let (r, g, b) = (avg(0), avg(1), avg(2));
            u[cy * cw + cx] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
            v[cy * cw + cx] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
        }
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/// One MP4 sample: AVCC (4-byte big-endian length prefixed) NAL units.
struct EncodedSample {
    data: Vec<u8>,
    is_idr: bool,
    /// Number of frame periods this sample lasts (more than 1 only if the
    /// encoder skipped the following frames).
    frames: u32,
}

struct EncodedStream {
    sps: Vec<u8>,
    pps: Vec<u8>,
    samples: Vec<EncodedSample>,
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// Strips an Annex-B start code (`00 00 01` or `00 00 00 01`) if present.
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    if zeros >= 2 && nal.get(zeros) == Some(&1) { &nal[zeros + 1..] } else { nal }
}

/// Longest run of frames coded from one IDR picture: two seconds.
const MAX_GOP_SECONDS: u32 = 2;
/// A clip is split into at least two independently coded chunks once each
/// would have this many frames, so two cores can share even a short clip.
const MIN_CHUNK_FRAMES: u32 = 6;
/// Upper bound on encoder threads for one render.
const MAX_ENCODER_THREADS: usize = 4;

/// Splits `frame_count` frames into chunks that are coded independently,
/// each starting with an IDR picture. The split depends only on the frame
/// count and rate (never on the machine), so output stays byte-identical.
fn chunks(frame_count: u32, fps: u32) -> Vec<std::ops::Range<u32>> {
    let by_gop = frame_count.div_ceil(fps * MAX_GOP_SECONDS).max(1);
    let n = if by_gop == 1 && frame_count >= 2 * MIN_CHUNK_FRAMES { 2 } else { by_gop };
    let (base, extra) = (frame_count / n, frame_count % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = base + u32::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

fn encode_frames(scene: &Scene, opts: &RenderOptions, frame_count: u32) -> Result<EncodedStream, RenderError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_ENCODER_THREADS);
    encode_frames_on(scene, opts, frame_count, threads)
}

fn encode_frames_on(scene: &Scene, opts: &RenderOptions, frame_count: u32, threads: usize) -> Result<EncodedStream, RenderError> {
    let chunks = chunks(frame_count, opts.fps);
    let threads = threads.min(chunks.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut encoded: Vec<(usize, Result<EncodedStream, RenderError>)> = if threads <= 1 {
        chunks.iter().enumerate().map(|(i, range)| (i, encode_chunk(scene, opts, range.clone()))).collect()
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(range) = chunks.get(i) else { break };
                            done.push((i, encode_chunk(scene, opts, range.clone())));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker.join().unwrap_or_else(|_| vec![(0, Err(RenderError::Encoder("an encoder thread panicked".into())))])
                })
                .collect()
        })
    };
    encoded.sort_by_key(|(i, _)| *i);

    let mut stream: Option<EncodedStream> = None;
    for (_, chunk) in encoded {
        let chunk = chunk?;
        match &mut stream {
            None => stream = Some(chunk),
            Some(stream) => {
                // Every chunk's encoder has the same configuration, so the
                // parameter sets must agree for the chunks to join.
                if chunk.sps != stream.sps || chunk.pps != stream.pps {
                    return Err(RenderError::Encoder("independently coded chunks disagree on SPS/PPS".into()));
                }
                stream.samples.extend(chunk.samples);
            }
        }
    }
    stream.ok_or_else(|| RenderError::Encoder("no frames to encode".into()))
}

/// Codes `frames` of `scene` with an encoder of its own, starting with an
/// IDR picture.
fn encode_chunk(scene: &Scene, opts: &RenderOptions, frames: std::ops::Range<u32>) -> Result<EncodedStream, RenderError> {
    let (w, h) = (opts.width as usize, opts.height as usize);
    // Rate control is off: OpenH264 then codes every frame at its default
    // fixed QP (26), which keeps the text crisp and makes the output
    // independent of timing. (Quality/bitrate modes would need frame skipping
    // to hold a bitrate, and skipped frames would break the 1 frame = 1 sample
    // layout.) Camera-video mode: screen-content mode codes the same frames
    // about four times slower for no visible gain at this QP.
    // The bitrate below is only a nominal figure written into the parameters.
    let bitrate = (u64::from(opts.width) * u64::from(opts.height) * u64::from(opts.fps) / 4).clamp(100_000, 20_000_000) as u32;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bitrate))
        .max_frame_rate(FrameRate::from_hz(opts.fps as f32))
        .rate_control_mode(RateControlMode::Off)
        .usage_type(UsageType::CameraVideoRealTime)
        .complexity(Complexity::Low)
        .adaptive_quantization(false)
        .background_detection(false)
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(frames.len() as u32 + 1))
        .num_threads(1)
        .vui(VuiConfig::bt601());
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| RenderError::Encoder(format!("initialising OpenH264: {e}")))?;

    let mut rgb = vec![0u8; w * h * 3];
    let mut y_plane = vec![0u8; w * h];
    let mut u_plane = vec![0u8; w * h / 4];
    let mut v_plane = vec![0u8; w * h / 4];

    let mut sps: Option<Vec<u8>> = None;
    let mut pps: Option<Vec<u8>> = None;
    let mut samples: Vec<EncodedSample> = Vec::with_capacity(frames.len());

    for frame in frames {
        scene.draw_frame(frame, &mut rgb);
        rgb_to_i420(&rgb, w, h, &mut y_plane, &mut u_plane, &mut v_plane);
        let source = YUVSlices::new((&y_plane, &u_plane, &v_plane), (w, h), (w, w / 2, w / 2));
        let timestamp = Timestamp::from_millis(u64::from(frame) * 1000 / u64::from(opts.fps));
        let bitstream =
            encoder.encode_at(&source, timestamp).map_err(|e| RenderError::Encoder(format!("encoding frame {frame}: {e}")))?;

        let mut data = Vec::new();
        let mut is_idr = false;
        let mut has_picture = false;
        for l in 0..bitstream.num_layers() {
            let Some(layer) = bitstream.layer(l) else {
                continue;
            };
            for n in 0..layer.nal_count() {
                let Some(nal) = layer.nal_unit(n) else {
                    continue;
                };
                let nal = strip_start_code(nal);
                let Some(&header) = nal.first() else { continue };
                match header & 0x1F {
                    NAL_SPS => {
                        if sps.is_none() {
                            sps = Some(nal.to_vec());
                        }
                    }
                    NAL_PPS => {
                        if pps.is_none() {
                            pps = Some(nal.to_vec());
                        }
                    }
                    NAL_AUD => {}
                    kind => {
                        let len = u32::try_from(nal.len())
                            .map_err(|_| RenderError::Encoder(format!("NAL unit of {} bytes", nal.len())))?;
                        data.extend_from_slice(&len.to_be_bytes());
                        data.extend_from_slice(nal);
                        is_idr |= kind == NAL_IDR;
                        has_picture |= (1..=NAL_IDR).contains(&kind);
                    }
                }
            }
        }

        if has_picture {
            samples.push(EncodedSample { data, is_idr, frames: 1 });
        } else if let Some(last) = samples.last_mut() {
            // Skipped frame: show the previous picture for longer.
            last.frames += 1;
        } else {
            return Err(RenderError::Encoder("the first frame produced no picture".into()));
        }
    }

    let sps = sps.ok_or_else(|| RenderError::Encoder("no SPS in the bitstream".into()))?;
    let pps = pps.ok_or_else(|| RenderError::Encoder("no PPS in the bitstream".into()))?;
    if sps.len() < 4 {
        return Err(RenderError::Encoder(format!("SPS too short ({} bytes)", sps.len())));
    }
    if !samples.first().is_some_and(|s| s.is_idr) {
        return Err(RenderError::Encoder("the first frame is not an IDR picture".into()));
    }
    Ok(EncodedStream { sps, pps, samples })
}

// ---------------------------------------------------------------------------
// Muxing
// ---------------------------------------------------------------------------

/// Ticks per frame in the MP4 timescale (`timescale = fps * TICKS_PER_FRAME`).
const TICKS_PER_FRAME: u32 = 1000;

fn mux(stream: EncodedStream, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
    let mux_err = |what: &str, e: mp4::Error| RenderError::Mux(format!("{what}: {e}"));
    // fps <= 120, so this cannot overflow; movie and track share the timescale
    // so the mp4 crate's duration conversion is exact.
    let timescale = opts.fps * TICKS_PER_FRAME;
    let config = mp4::Mp4Config {
        major_brand: mp4::FourCC::from(*b"isom"),
        minor_version: 512,
        compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"].into_iter().map(|b| mp4::FourCC::from(*b)).collect(),
        timescale,
    };
    let capacity = stream.samples.iter().map(|s| s.data.len()).sum::<usize>() + 4096;
    let mut writer = mp4::Mp4Writer::write_start(Cursor::new(Vec::with_capacity(capacity)), &config)
        .map_err(|e| mux_err("writing header", e))?;
    let track = mp4::TrackConfig {
        track_type: mp4::TrackType::Video,
        timescale,
        language: String::from("und"),
        media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
            // Validated: both fit in u16.
            width: opts.width as u16,
            height: opts.height as u16,
            seq_param_set: stream.sps,
            pic_param_set: stream.pps,
        }),
    };
    writer.add_track(&track).map_err(|e| mux_err("adding track", e))?;

    let mut start_time = 0u64;
    for (i, sample) in stream.samples.into_iter().enumerate() {
        let duration = sample.frames * TICKS_PER_FRAME;
        let sample = mp4::Mp4Sample {
            start_time,
            duration,
            rendering_offset: 0,
            is_sync: sample.is_idr,
            bytes: mp4::Bytes::from(sample.data),
        };
        writer.write_sample(1, &sample).map_err(|e| mux_err(&format!("writing sample {}", i + 1), e))?;
        start_time += u64::from(duration);
    }
    writer.write_end().map_err(|e| mux_err("finishing file", e))?;
    Ok(faststart(writer.into_writer().into_inner()))
}

/// Reads the box header at `pos`; returns (header length, type, end offset).
fn box_at(buf: &[u8], pos: usize, end: usize) -> Option<(usize, [u8; 4], usize)> {
    let header = buf.get(pos..pos.checked_add(8)?)?;
    let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let kind = [header[4], header[5], header[6], header[7]];
    let (header_len, size) = match size32 {
        0 => (8, end.checked_sub(pos)?),
        1 => {
            let large = buf.get(pos + 8..pos.checked_add(16)?)?;
            let mut b = [0u8; 8];
            b.copy_from_slice(large);
            (16, usize::try_from(u64::from_be_bytes(b)).ok()?)
        }
        s => (8, s as usize),
    };
    let box_end = pos.checked_add(size)?;
    if size < header_len || box_end > end {
        return None;
    }
    Some((header_len, kind, box_end))
}

/// Adds `delta` to every chunk offset (`stco` / `co64`) under `buf[start..end]`.
fn shift_chunk_offsets(buf: &mut [u8], start: usize, end: usize, delta: u64) -> Option<()> {
    let mut pos = start;
    while pos < end {
        let (header_len, kind, box_end) = box_at(buf, pos, end)?;
        let body = pos + header_len;
        match &kind {
            b"trak" | b"mdia" | b"minf" | b"stbl" => shift_chunk_offsets(buf, body, box_end, delta)?,
            b"stco" | b"co64" => {
                let width = if &kind == b"stco" { 4 } else { 8 };
                let count_bytes = buf.get(body + 4..body + 8)?;
                let count = u32::from_be_bytes([count_bytes[0], count_bytes[1], count_bytes[2], count_bytes[3]]) as usize;
                let entries_end = (body + 8).checked_add(count.checked_mul(width)?)?;
                if entries_end > box_end {
                    return None;
                }
                for entry in buf[body + 8..entries_end].chunks_exact_mut(width) {
                    if width == 4 {
                        let old = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
                        let new = u32::try_from(u64::from(old).checked_add(delta)?).ok()?;
                        entry.copy_from_slice(&new.to_be_bytes());
                    } else {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(entry);
                        let new = u64::from_be_bytes(b).checked_add(delta)?;
                        entry.copy_from_slice(&new.to_be_bytes());
                    }
                }
            }
            _ => {}
        }
        pos = box_end;
    }
    Some(())
}

/// Moves `moov` in front of `mdat` so the file can be played while it
/// downloads. Returns the input unchanged if the layout is not the expected
/// `ftyp, mdat, moov` (the file is valid either way).
fn faststart(data: Vec<u8>) -> Vec<u8> {
    let mut boxes = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some((_, kind, end)) = box_at(&data, pos, data.len()) else {
            return data;
        };
        boxes.push((kind, pos, end));
        pos = end;
    }
    let [(ftyp, _, ftyp_end), (mdat, mdat_start, _), (moov, moov_start, moov_end)] = boxes[..] else {
        return data;
    };
    if &ftyp != b"ftyp" || &mdat != b"mdat" || &moov != b"moov" {
        return data;
    }
    let mut moov_box = data[moov_start..moov_end].to_vec();
    let Some((header_len, _, _)) = box_at(&moov_box, 0, moov_box.len()) else {
        return data;
    };
    let len = moov_box.len();
    if shift_chunk_offsets(&mut moov_box, header_len, len, len as u64).is_none() {
        return data;
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..ftyp_end]);
    out.extend_from_slice(&moov_box);
    out.extend_from_slice(&data[mdat_start..moov_start]);
    out
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file next to `path`, fsyncs it and renames it
/// over `path`. The temporary file is removed on failure.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if path.file_name().is_none() {
        return Err(RenderError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("output path {} has no file name", path.display()),
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".vidcache-render-{}-{}.tmp", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(RenderError::Io(e));
    }
    // Best effort: persist the rename itself.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn short_opts() -> RenderOptions {
        RenderOptions { width: 160, height: 96, fps: 8, seconds: 2, ..RenderOptions::default() }
    }

    fn read_mp4(path: &Path) -> mp4::Mp4Reader<std::io::BufReader<File>> {
        let file = File::open(path).expect("open rendered file");
        mp4::read_mp4(file).expect("mp4 crate parses the file")
    }

    /// Checks container structure, track type, counts, durations and AVCC framing.
    fn check_mp4(path: &Path, opts: &RenderOptions) {
        let bytes = fs::read(path).expect("read rendered file");
        assert_eq!(&bytes[4..8], b"ftyp", "file must start with an ftyp box");

        let expected_frames = opts.fps * opts.seconds;
        let expected_duration = Duration::from_secs(u64::from(opts.seconds));
        let mut reader = read_mp4(path);
        assert_eq!(reader.size(), bytes.len() as u64);
        assert_eq!(reader.duration(), expected_duration);
        assert_eq!(reader.tracks().len(), 1);
        let (&track_id, track) = reader.tracks().iter().next().expect("one track");
        assert_eq!(track.track_type().expect("track type"), mp4::TrackType::Video);
        assert_eq!(track.media_type().expect("media type"), mp4::MediaType::H264);
        assert_eq!(track.box_type().expect("sample entry"), mp4::FourCC::from(*b"avc1"));
        assert_eq!(u32::from(track.width()), opts.width);
        assert_eq!(u32::from(track.height()), opts.height);
        assert_eq!(track.sample_count(), expected_frames);
        assert_eq!(track.duration(), expected_duration);
        assert_eq!(track.sequence_parameter_set().expect("sps")[0] & 0x1F, NAL_SPS);
        assert_eq!(track.picture_parameter_set().expect("pps")[0] & 0x1F, NAL_PPS);

        for id in 1..=expected_frames {
            let sample = reader.read_sample(track_id, id).expect("read sample").expect("sample exists");
            let data = &sample.bytes[..];
            // Walk the AVCC length prefixes: they must tile the sample exactly.
            let mut pos = 0;
            let mut saw_idr = false;
            while pos < data.len() {
                assert!(pos + 4 <= data.len(), "truncated length prefix in sample {id}");
                let len = u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
                assert!(len > 0 && pos + 4 + len <= data.len(), "bad NAL length in sample {id}");
                let kind = data[pos + 4] & 0x1F;
                assert!(!(kind == NAL_SPS || kind == NAL_PPS), "parameter sets belong in avcC");
                saw_idr |= kind == NAL_IDR;
                pos += 4 + len;
            }
            assert_eq!(sample.is_sync, saw_idr, "sync flag must match IDR in sample {id}");
            if id == 1 {
                assert!(sample.is_sync, "first sample must be a sync sample");
            }
        }
    }

    fn top_level_boxes(bytes: &[u8]) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (_, kind, end) = box_at(bytes, pos, bytes.len()).expect("well-formed box");
            out.push(kind);
            pos = end;
        }
        out
    }

    fn have(tool: &str) -> bool {
        Command::new(tool).arg("-version").output().is_ok_and(|o| o.status.success())
    }

    #[test]
    fn renders_default_clip_readable_by_mp4_crate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hello.mp4");
        let opts = RenderOptions::default();
        let started = Instant::now();
        let written = render_mp4("Hello, world! This is vidcache rendering a prompt.", &path, &opts).expect("render succeeds");
        eprintln!("default render: {:?}, {written} bytes", started.elapsed());
        assert_eq!(written, fs::metadata(&path).expect("metadata").len());
        check_mp4(&path, &opts);
        let bytes = fs::read(&path).expect("read");
        assert_eq!(top_level_boxes(&bytes), vec![*b"ftyp", *b"moov", *b"mdat"], "moov must precede mdat (faststart)");
        // Only the final file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).expect("read_dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("hello.mp4")]);
    }

    #[test]
    fn awkward_inputs_all_render() {
        let long: String = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".chars().cycle().take(1000).collect();
        let long_word = "x".repeat(1000);
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("long", long),
            ("long_word", long_word),
            ("emoji", "🎬🍿 family 👨‍👩‍👧‍👦 flag 🇺🇦 thumbs 👍🏽 ❤️".into()),
            ("rtl", "שלום עולם مرحبا بالعالم \u{202E}reversed\u{202C}".into()),
            ("control", "a\u{0}b\u{7}c\r\n\t\u{1b}[31mred\u{7f}\u{9b}\n\n\n\n\nend".into()),
            ("newlines_only", "\n".repeat(1000)),
            ("spaces_only", " ".repeat(1000)),
            ("mixed_scripts", "Ωμέγα λόγος café naïve ß Ærø ひらがな 漢字 ┌─┐ ▀▄ ≤≥ ₧".into()),
            ("combining", "e\u{301}\u{302}\u{303} Z\u{336}\u{337}a\u{35c}l\u{35d}g\u{35e}o".into()),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = short_opts();
        for (name, text) in cases {
            let path = dir.path().join(format!("{name}.mp4"));
            let written = render_mp4(&text, &path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(written > 0, "{name}");
            check_mp4(&path, &opts);
        }
    }

    #[test]
    fn ffprobe_sees_h264_with_right_duration() {
        if !have("ffprobe") {
            eprintln!("NOTE: ffprobe not on PATH; skipping the ffprobe check");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("probe.mp4");
        let opts = RenderOptions::default();
        let long: String = "The quick brown fox jumps over the lazy dog. ".repeat(10);
        render_mp4(&long, &path, &opts).expect("render");
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=codec_name,profile,width,height,nb_read_frames,duration,pix_fmt:format=duration",
                "-of",
                "default=noprint_wrappers=1",
            ])
            .arg(&path)
            .output()
            .expect("run ffprobe");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ffprobe failed: {stderr}");
        assert!(stderr.trim().is_empty(), "ffprobe reported problems: {stderr}");
        let field = |key: &str| -> Vec<String> {
            stdout.lines().filter_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned)).collect()
        };
        assert_eq!(field("codec_name"), vec!["h264"], "{stdout}");
        assert_eq!(field("width"), vec![opts.width.to_string()]);
        assert_eq!(field("height"), vec![opts.height.to_string()]);
        assert_eq!(field("pix_fmt"), vec!["yuv420p"]);
        assert_eq!(field("nb_read_frames"), vec![(opts.fps * opts.seconds).to_string()]);
        let durations = field("duration");
        assert_eq!(durations.len(), 2, "stream and format duration: {stdout}");
        for d in durations {
            let secs: f64 = d.parse().expect("numeric duration");
            assert!((secs - f64::from(opts.seconds)).abs() < 0.01, "duration {secs}");
        }
    }

    #[test]
    fn same_text_renders_byte_identical() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.mp4");
        let b = dir.path().join("b.mp4");
        let text = "Determinism check: same prompt, same bytes. 🙂";
        render_mp4(text, &a, &RenderOptions::default()).expect("first render");
        render_mp4(text, &b, &RenderOptions::default()).expect("second render");
        assert_eq!(fs::read(&a).expect("read a"), fs::read(&b).expect("read b"));

        let c = dir.path().join("c.mp4");
        render_mp4("a different prompt", &c, &RenderOptions::default()).expect("third render");
        assert_ne!(fs::read(&a).expect("read a"), fs::read(&c).expect("read c"));
    }

    #[test]
    fn overwrites_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.mp4");
        fs::write(&path, b"old junk").expect("seed file");
        let written = render_mp4("fresh", &path, &short_opts()).expect("render");
        assert_eq!(fs::metadata(&path).expect("metadata").len(), written);
        check_mp4(&path, &short_opts());
    }

    #[test]
    fn bad_options_and_paths_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.mp4");
        let bad = [
            RenderOptions { width: 321, ..RenderOptions::default() },
            RenderOptions { height: 0, ..RenderOptions::default() },
            RenderOptions { width: 8000, ..RenderOptions::default() },
            RenderOptions { fps: 0, ..RenderOptions::default() },
            RenderOptions { seconds: 0, ..RenderOptions::default() },
        ];
        for opts in bad {
            assert!(matches!(render_mp4("x", &path, &opts), Err(RenderError::InvalidOptions(_))), "{opts:?}");
        }
        assert!(!path.exists());
        let missing_dir = dir.path().join("no/such/dir/x.mp4");
        assert!(matches!(render_mp4("x", &missing_dir, &short_opts()), Err(RenderError::Io(_))));
    }

    #[test]
    fn tiny_and_odd_but_valid_sizes_render() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (w, h) in [(16, 16), (18, 34), (642, 362), (180, 320)] {
            let opts = RenderOptions { width: w, height: h, fps: 5, seconds: 1, ..RenderOptions::default() };
            let path = dir.path().join(format!("{w}x{h}.mp4"));
            render_mp4("Some text that needs wrapping on small frames", &path, &opts).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
            check_mp4(&path, &opts);
        }
    }

    /// Columns of `rgb` (a `width`-wide frame) holding the text's near-white
    /// pixels, above the progress bar.
    fn text_columns(rgb: &[u8], width: u32, height: u32) -> Vec<i32> {
        let rows = (height as i32 - MARGIN_BOTTOM) as usize;
        rgb.chunks_exact(width as usize * 3)
            .take(rows)
            .flat_map(|row| row.chunks_exact(3).enumerate().filter(|(_, px)| px.iter().all(|&v| v > 230)).map(|(x, _)| x as i32))
            .collect()
    }

    #[test]
    fn portrait_frames_render_with_the_text_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let portrait = RenderOptions { width: 360, height: 640, ..RenderOptions::default() };
        let short = "Поздравление для Маши с днём рождения!";
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(30);
        for (name, text) in [("short", short), ("long", long.as_str())] {
            let path = dir.path().join(format!("{name}.mp4"));
            render_mp4(text, &path, &portrait).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_mp4(&path, &portrait);

            // Laid out for the narrow frame: every line fits between the margins...
            let scene = Scene::new(text, &portrait).expect("scene");
            assert!(scene.lines.len() > 1, "{name} wraps");
            let room = portrait.width as i32 - 2 * MARGIN_X;
            assert!(scene.line_widths.iter().all(|&w| w <= room), "{name}: {:?}", scene.line_widths);
            // ...and so do the drawn pixels, on frames once the text has faded in.
            for frame in [scene.fade_frames, scene.frames / 2, scene.frames - 1] {
                let rgb = render_frame_rgb(text, &portrait, frame).expect("frame");
                let columns = text_columns(&rgb, portrait.width, portrait.height);
                assert!(!columns.is_empty(), "{name} frame {frame} shows text");
                let (left, right) = (columns.iter().min().copied(), columns.iter().max().copied());
                assert!(
                    left >= Some(MARGIN_X - 2) && right < Some(portrait.width as i32 - MARGIN_X + 2),
                    "{name} frame {frame}: {left:?}..{right:?}"
                );
            }
        }
        // The short text fits the tall frame without scrolling; the long one
        // (more lines than the frame holds) scrolls through it.
        assert_eq!(Scene::new(short, &portrait).expect("scene").scroll_px, 0);
        let scrolling = Scene::new(&long, &portrait).expect("scene");
        assert!(scrolling.scroll_px > 0);
        assert!(scrolling.lines.len() as i32 * scrolling.line_h > portrait.height as i32);
        // Type size follows the width: smaller in the narrow frame (a phone
        // shows either at its screen's width, where they read the same).
        let landscape = Scene::new(short, &RenderOptions { width: 640, height: 360, ..RenderOptions::default() }).expect("scene");
        assert!(landscape.glyph_h > scrolling.glyph_h, "the narrower frame has smaller type");
    }

    /// A monospace stand-in: every drawable character one pixel wide; no
    /// emoji.
    struct Mono;

    impl Measure for Mono {
        fn has(&self, c: char) -> bool {
            (c as u32) < 0x1F000
        }

        fn advance(&self, _: char) -> i32 {
            1
        }
    }

    fn bundled() -> FontMeasure {
        FontMeasure { font: font().expect("the bundled font reads"), scale: PxScale::from(36.0) }
    }

    #[test]
    fn the_font_draws_latin_accents_and_cyrillic_and_leaves_out_the_rest() {
        let m = bundled();
        for c in "AzéçñøßŒЖжЁёЩщЇїЎўΩλ─≤".chars() {
            assert!(m.has(c), "{c}");
            assert!(matches!(classify(c, &m), CharClass::Glyph(g) if g == c), "{c}");
        }
        assert!(!m.has('漢'));
        assert!(matches!(classify('漢', &m), CharClass::Skip), "a character without a glyph is left out");
        assert!(matches!(classify('한', &m), CharClass::Skip));
        assert!(matches!(classify('\u{200D}', &m), CharClass::Skip));
        assert!(matches!(classify('\u{0}', &m), CharClass::Skip));
        assert!(matches!(classify('\u{A0}', &m), CharClass::Space));
        assert!(matches!(classify('\n', &m), CharClass::Break));
        // Proportional: a wide letter takes more room than a narrow one.
        assert!(m.advance('Ш') > m.advance('i'));
        let lines = wrap_text("Поздравление для Маши 漢 с днём рождения", 10_000, 3, &m);
        assert_eq!(as_strings(&lines), ["Поздравление для Маши с днём рождения"]);
        let glyphs = rasterize(&lines, m.font, m.scale);
        for c in "ПоздравлениеМашиднёмрождения".chars() {
            let bitmap = glyphs.get(&c).unwrap_or_else(|| panic!("{c} is rasterized"));
            assert!(bitmap.coverage.iter().any(|&v| v > 128), "{c} has ink");
        }
    }

    fn as_strings(lines: &[Vec<char>]) -> Vec<String> {
        lines.iter().map(|l| l.iter().collect()).collect()
    }

    #[test]
    fn wrapping_rules() {
        let m = &Mono;
        assert!(wrap_text("", 10, 3, m).is_empty());
        assert!(wrap_text(" \n\t\n ", 10, 3, m).is_empty());
        assert_eq!(as_strings(&wrap_text("hello big world", 10, 5, m)), ["hello big", "world"]);
        assert_eq!(as_strings(&wrap_text("a\n\n\n\nb", 10, 5, m)), ["a", "", "b"]);
        assert_eq!(as_strings(&wrap_text("abcdefghijkl", 5, 5, m)), ["abcde", "fghij", "kl"]);
        assert_eq!(as_strings(&wrap_text("hi abcdefghijkl", 5, 5, m)), ["hi", "abcde", "fghij", "kl"]);
        assert_eq!(as_strings(&wrap_text("one two three four five", 9, 2, m)), ["one two", "three..."]);
        assert_eq!(as_strings(&wrap_text("abcdefghijkl", 5, 1, m)), ["ab..."]);
        assert_eq!(as_strings(&wrap_text("x 🎉 y", 10, 1, m)), ["x y"]);
        assert_eq!(as_strings(&wrap_text("abcdef", 2, 1, m)), [".."]);
        let long = "word ".repeat(1000);
        let lines = wrap_text(&long, 19, 11, m);
        assert_eq!(lines.len(), 11);
        assert!(lines.iter().all(|l| l.len() <= 19));
        assert!(as_strings(&lines)[10].ends_with("..."));
        // Measured in pixels with the real font, lines fit the width.
        let f = bundled();
        let lines = wrap_text(&"Съешь же ещё этих мягких французских булок ".repeat(5), 300, 20, &f);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| f.width(l) <= 300), "{:?}", as_strings(&lines));
    }

    #[test]
    fn frames_differ_and_scroll_is_monotonic() {
        let opts = RenderOptions::default();
        let long = "scrolling text ".repeat(60);
        let scene = Scene::new(&long, &opts).expect("scene");
        assert!(scene.scroll_px > 0);
        let offsets: Vec<i32> = (0..scene.frames).map(|f| scene.scroll_offset(f)).collect();
        assert_eq!(offsets[0], 0);
        assert_eq!(offsets[offsets.len() - 1], scene.scroll_px);
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));

        let empty = Scene::new("", &opts).expect("scene");
        let mut a = vec![0u8; (opts.width * opts.height * 3) as usize];
        let mut b = a.clone();
        empty.draw_frame(0, &mut a);
        empty.draw_frame(1, &mut b);
        assert_ne!(a, b, "even an empty prompt animates");
    }

    #[test]
    fn start_codes_are_stripped() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x67, 1]), &[0x67, 1]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x68]), &[0x68]);
        assert_eq!(strip_start_code(&[0x65, 0, 0, 1]), &[0x65, 0, 0, 1]);
        assert_eq!(strip_start_code(&[]), &[] as &[u8]);
    }

    #[test]
    fn chunks_cover_every_frame_once_and_stay_within_two_seconds() {
        for (frames, fps) in [(1, 1), (11, 12), (12, 12), (36, 12), (96, 12), (7, 1), (600 * 120, 120), (25, 12)] {
            let chunks = chunks(frames, fps);
            assert_eq!(chunks.first().map(|r| r.start), Some(0));
            assert_eq!(chunks.last().map(|r| r.end), Some(frames));
            assert!(chunks.windows(2).all(|w| w[0].end == w[1].start), "{frames}@{fps}: {chunks:?}");
            assert!(chunks.iter().all(|r| !r.is_empty() && r.len() as u32 <= fps * MAX_GOP_SECONDS), "{chunks:?}");
        }
        assert_eq!(chunks(36, 12), vec![0..18, 18..36], "the default clip is shared by two cores");
        assert_eq!(chunks(11, 12).len(), 1, "a clip too short to split is one chunk");
    }

    #[test]
    fn threads_change_nothing_in_the_stream() {
        let opts = RenderOptions { seconds: 5, ..RenderOptions::default() };
        let scene = Scene::new("Поздравление для Маши", &opts).expect("scene");
        let frames = opts.fps * opts.seconds;
        let one = encode_frames_on(&scene, &opts, frames, 1).expect("one thread");
        let three = encode_frames_on(&scene, &opts, frames, 3).expect("three threads");
        assert_eq!(one.sps, three.sps);
        assert_eq!(one.pps, three.pps);
        assert_eq!(one.samples.len(), frames as usize);
        assert_eq!(one.samples.len(), three.samples.len());
        for (a, b) in one.samples.iter().zip(&three.samples) {
            assert_eq!((&a.data, a.is_idr, a.frames), (&b.data, b.is_idr, b.frames));
        }
        let idr: Vec<usize> = one.samples.iter().enumerate().filter(|(_, s)| s.is_idr).map(|(i, _)| i).collect();
        let starts: Vec<usize> = chunks(frames, opts.fps).iter().map(|r| r.start as usize).collect();
        assert_eq!(idr, starts, "each chunk starts with the only IDR picture in it");
    }
}
