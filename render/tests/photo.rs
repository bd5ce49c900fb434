//! The photo background ("remix"), through the public API: pictures
//! decoded from JPEG and PNG, the frame covered by their centre, the slow
//! zoom, valid MP4s, and malformed uploads refused without a panic.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use render::{MAX_PICTURE_PIXELS, Picture, RenderError, RenderOptions, render_frame_rgb, render_mp4};
use zune_png::zune_core::bit_depth::BitDepth;
use zune_png::zune_core::colorspace::ColorSpace;
use zune_png::zune_core::options::EncoderOptions;

type Rgb = [u8; 3];
const RED: Rgb = [230, 20, 20];
const GREEN: Rgb = [20, 200, 40];
const BLUE: Rgb = [20, 30, 230];

/// A `w` × `h` RGB24 image coloured by `f(x, y)`.
fn paint(w: usize, h: usize, f: impl Fn(usize, usize) -> Rgb) -> Vec<u8> {
    (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| f(x, y)).collect()
}

fn png(w: usize, h: usize, rgb: &[u8]) -> Vec<u8> {
    let mut encoder = zune_png::PngEncoder::new(rgb, EncoderOptions::new(w, h, ColorSpace::RGB, BitDepth::Eight));
    let mut out = Vec::new();
    encoder.encode(&mut out).expect("PNG encodes");
    out
}

fn jpeg(w: u16, h: u16, rgb: &[u8], exif: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    if let Some(exif) = exif {
        encoder.add_exif_metadata(exif).expect("EXIF fits");
    }
    encoder.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb).expect("JPEG encodes");
    out
}

/// A landscape photo: left half red, right half blue.
fn red_blue(w: usize, h: usize) -> Vec<u8> {
    paint(w, h, |x, _| if x < w / 2 { RED } else { BLUE })
}

/// Thirds across (`across`) or down: red, green, blue.
fn thirds(w: usize, h: usize, across: bool) -> Vec<u8> {
    paint(w, h, |x, y| {
        let third = if across { x * 3 / w } else { y * 3 / h };
        [RED, GREEN, BLUE][third]
    })
}

fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> Rgb {
    let at = ((y * width + x) * 3) as usize;
    [rgb[at], rgb[at + 1], rgb[at + 2]]
}

/// Close to `want` on every channel.
fn near(got: Rgb, want: Rgb) -> bool {
    got.iter().zip(want).all(|(&g, w)| g.abs_diff(w) <= 24)
}

fn with_photo(width: u32, height: u32, picture: Picture) -> RenderOptions {
    RenderOptions { width, height, background: Some(Arc::new(picture)), ..RenderOptions::default() }
}

#[test]
fn a_landscape_photo_fills_a_landscape_frame() {
    let photo = Picture::decode(&png(320, 180, &red_blue(320, 180))).expect("PNG decodes");
    assert_eq!((photo.width(), photo.height()), (320, 180));
    let opts = with_photo(640, 360, photo);
    let rgb = render_frame_rgb("a caption", &opts, 0).expect("frame");
    assert_eq!(rgb.len(), 640 * 360 * 3);
    // Above the caption band: red on the left, blue on the right, edge to edge.
    for y in [2, 90, 180] {
        for x in [2, 160, 300] {
            assert!(near(pixel(&rgb, 640, x, y), RED), "({x}, {y}): {:?}", pixel(&rgb, 640, x, y));
        }
        for x in [340, 480, 637] {
            assert!(near(pixel(&rgb, 640, x, y), BLUE), "({x}, {y}): {:?}", pixel(&rgb, 640, x, y));
        }
    }
}

#[test]
fn a_portrait_frame_shows_the_centre_of_a_landscape_photo() {
    // 16:9 in thirds across: a 9:16 crop of it lies inside the green third.
    let photo = Picture::decode(&png(1600, 900, &thirds(1600, 900, true))).expect("PNG decodes");
    let opts = with_photo(360, 640, photo);
    let rgb = render_frame_rgb("", &opts, 0).expect("frame");
    for y in [2, 320, 637] {
        for x in [1, 180, 358] {
            assert!(near(pixel(&rgb, 360, x, y), GREEN), "({x}, {y}): {:?}", pixel(&rgb, 360, x, y));
        }
    }
}

#[test]
fn a_landscape_frame_shows_the_middle_of_a_portrait_photo() {
    // 9:16 in thirds down: a 16:9 crop of it lies inside the green third.
    let photo = Picture::decode(&jpeg(900, 1600, &thirds(900, 1600, false), None)).expect("JPEG decodes");
    assert_eq!((photo.width(), photo.height()), (900, 1600));
    let opts = with_photo(640, 360, photo);
    let rgb = render_frame_rgb("", &opts, 0).expect("frame");
    for y in [1, 180, 358] {
        for x in [1, 320, 638] {
            assert!(near(pixel(&rgb, 640, x, y), GREEN), "({x}, {y}): {:?}", pixel(&rgb, 640, x, y));
        }
    }
}

#[test]
fn the_photo_zooms_in_and_the_caption_sits_on_a_dark_band() {
    // Vertical stripes every 20 px: zooming in widens them, so the first
    // and last frames differ while the centre stays put.
    let (w, h) = (640, 360);
    let stripes = paint(w, h, |x, _| if x / 20 % 2 == 0 { [250, 250, 250] } else { [200, 200, 200] });
    let opts = with_photo(640, 360, Picture::from_rgb(640, 360, stripes).expect("picture"));
    let frames = opts.fps * opts.seconds;
    let first = render_frame_rgb("Hello", &opts, 0).expect("first frame");
    let last = render_frame_rgb("Hello", &opts, frames - 1).expect("last frame");
    assert_ne!(first, last, "the background animates");
    let middle = render_frame_rgb("Hello", &opts, frames / 2).expect("middle frame");
    assert_ne!(first, middle);
    // Frame 0 of the stripes at 100%: the photo as it is (scaled 640->800->640).
    let brightness = |rgb: &[u8], y: u32| (0..640).map(|x| u32::from(pixel(rgb, 640, x, y)[0])).sum::<u32>() / 640;
    // The lower third is darkened behind the caption once it has faded in;
    // the top of the frame is not.
    assert!(brightness(&last, 340) < brightness(&last, 20) * 3 / 4, "{} vs {}", brightness(&last, 340), brightness(&last, 20));
    // Without text there is no band.
    let bare = render_frame_rgb("", &opts, frames - 1).expect("frame");
    assert!(brightness(&bare, 340) > brightness(&bare, 20) * 9 / 10);
}

/// Width, height, duration and frame count of the MP4 at `path`.
fn probe(path: &Path) -> (u16, u16, Duration, u32) {
    let reader = mp4::read_mp4(File::open(path).expect("open")).expect("the mp4 crate reads it");
    let track = reader.tracks().values().next().expect("a track");
    assert_eq!(track.media_type().expect("media type"), mp4::MediaType::H264);
    (track.width(), track.height(), reader.duration(), track.sample_count())
}

#[test]
fn photo_clips_are_valid_deterministic_mp4s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scene = paint(1200, 800, |x, y| [(x / 5) as u8, (y / 4) as u8, ((x + y) / 8) as u8]);
    let photo = Arc::new(Picture::decode(&jpeg(1200, 800, &scene, None)).expect("JPEG decodes"));
    for (width, height, seconds) in [(640, 360, 3), (360, 640, 4)] {
        let opts = RenderOptions { width, height, seconds, background: Some(photo.clone()), ..RenderOptions::default() };
        let a = dir.path().join(format!("{width}x{height}-a.mp4"));
        let b = dir.path().join(format!("{width}x{height}-b.mp4"));
        let started = Instant::now();
        render_mp4("Make it snow", &a, &opts).expect("renders");
        eprintln!("{width}x{height} photo clip of {seconds} s: {:?}", started.elapsed());
        let (w, h, duration, frames) = probe(&a);
        assert_eq!((u32::from(w), u32::from(h)), (width, height));
        assert_eq!(duration, Duration::from_secs(u64::from(seconds)));
        assert_eq!(frames, opts.fps * seconds);
        render_mp4("Make it snow", &b, &opts).expect("renders again");
        assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"), "same photo and text, same bytes");
    }
    // A different photo makes a different video.
    let other = RenderOptions {
        background: Some(Arc::new(Picture::decode(&png(64, 36, &red_blue(64, 36))).expect("PNG"))),
        ..RenderOptions::default()
    };
    let c = dir.path().join("other.mp4");
    render_mp4("Make it snow", &c, &other).expect("renders");
    let plain = dir.path().join("plain.mp4");
    render_mp4("Make it snow", &plain, &RenderOptions::default()).expect("renders");
    assert_ne!(std::fs::read(&c).expect("c"), std::fs::read(&plain).expect("plain"));
    assert_ne!(std::fs::read(&c).expect("c"), std::fs::read(dir.path().join("640x360-a.mp4")).expect("a"));
}

#[test]
fn tiny_photos_and_tiny_frames_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dot = Arc::new(Picture::from_rgb(1, 1, vec![10, 200, 30]).expect("1x1"));
    for (w, h) in [(16, 16), (18, 34), (640, 360)] {
        let opts = RenderOptions { width: w, height: h, fps: 5, seconds: 1, background: Some(dot.clone()) };
        let path = dir.path().join(format!("{w}x{h}.mp4"));
        render_mp4("text over a single pixel", &path, &opts).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        let rgb = render_frame_rgb("", &opts, 0).expect("frame");
        // Above the progress bar (the bottom 9 rows), the one pixel fills the frame.
        let above_bar = &rgb[..(w * (h - 9) * 3) as usize];
        assert!(above_bar.chunks_exact(3).all(|px| px == [10, 200, 30]), "{w}x{h}: one pixel fills the frame");
    }
    // Options are still checked with a photo.
    let odd = RenderOptions { width: 321, background: Some(dot.clone()), ..RenderOptions::default() };
    assert!(matches!(render_mp4("x", &dir.path().join("odd.mp4"), &odd), Err(RenderError::InvalidOptions(_))));
    assert!(matches!(render_frame_rgb("x", &odd, 0), Err(RenderError::InvalidOptions(_))));
    assert!(matches!(render_frame_rgb("x", &RenderOptions::default(), 36), Err(RenderError::InvalidOptions(_))));
}

#[test]
fn a_large_photo_is_scaled_once_up_front() {
    // A 12-megapixel photo costs one resize, not one per frame.
    let big = Picture::from_rgb(4000, 3000, paint(4000, 3000, |x, y| [(x % 251) as u8, (y % 241) as u8, 90])).expect("4000x3000");
    let opts = with_photo(640, 360, big);
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    render_mp4("big photo", &dir.path().join("big.mp4"), &opts).expect("renders");
    let with_photo = started.elapsed();
    let started = Instant::now();
    render_mp4("big photo", &dir.path().join("plain.mp4"), &RenderOptions::default()).expect("renders");
    eprintln!("640x360 3 s: {with_photo:?} over a 4000x3000 photo, {:?} over the gradient", started.elapsed());
}

#[test]
fn exif_orientation_turns_a_sideways_photo_upright() {
    // Stored 64x32, red left and blue right, tagged "rotate 90° clockwise
    // to display" (orientation 6): upright it is 32x64, red on top.
    let exif = [b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
    let picture = Picture::decode(&jpeg(64, 32, &red_blue(64, 32), Some(&exif))).expect("JPEG decodes");
    assert_eq!((picture.width(), picture.height()), (32, 64));
    assert!(near(pixel(picture.rgb(), 32, 16, 8), RED), "{:?}", pixel(picture.rgb(), 32, 16, 8));
    assert!(near(pixel(picture.rgb(), 32, 16, 56), BLUE), "{:?}", pixel(picture.rgb(), 32, 16, 56));
}

#[test]
fn pngs_of_every_colour_type_decode() {
    let grey = {
        let mut encoder =
            zune_png::PngEncoder::new(&[0, 255, 128, 64], EncoderOptions::new(2, 2, ColorSpace::Luma, BitDepth::Eight));
        let mut out = Vec::new();
        encoder.encode(&mut out).expect("encodes");
        out
    };
    let picture = Picture::decode(&grey).expect("grey PNG");
    assert_eq!(picture.rgb(), &[0, 0, 0, 255, 255, 255, 128, 128, 128, 64, 64, 64]);
    let rgba = {
        let pixels = [255, 0, 0, 255, 0, 0, 255, 0];
        let mut encoder = zune_png::PngEncoder::new(&pixels, EncoderOptions::new(2, 1, ColorSpace::RGBA, BitDepth::Eight));
        let mut out = Vec::new();
        encoder.encode(&mut out).expect("encodes");
        out
    };
    let picture = Picture::decode(&rgba).expect("RGBA PNG");
    assert_eq!(picture.rgb(), &[255, 0, 0, 0, 0, 0], "transparency over black");
}

#[test]
fn malformed_images_are_errors_never_panics() {
    let is_image_error = |r: Result<Picture, RenderError>| matches!(r, Err(RenderError::Image(_)));
    assert!(is_image_error(Picture::decode(b"")));
    assert!(is_image_error(Picture::decode(b"definitely not an image, just some text")));
    assert!(is_image_error(Picture::decode(&[0xFF, 0xD8, 0xFF])));
    assert!(is_image_error(Picture::decode(b"\x89PNG\r\n\x1a\n")));
    let noise: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(is_image_error(Picture::decode(&noise)));
    let mut jpeg_noise = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg_noise.extend_from_slice(&noise);
    assert!(is_image_error(Picture::decode(&jpeg_noise)));

    // Truncated anywhere: never a panic; cut inside the headers, an error.
    let jpeg = jpeg(48, 32, &red_blue(48, 32), None);
    let header_end = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).expect("start of scan");
    for len in 0..jpeg.len() {
        let result = Picture::decode(&jpeg[..len]);
        if len <= header_end {
            assert!(is_image_error(result), "JPEG cut at {len} of {}", jpeg.len());
        }
    }
    let png = png(48, 32, &red_blue(48, 32));
    for len in 0..png.len() {
        assert!(is_image_error(Picture::decode(&png[..len])), "PNG cut at {len} of {}", png.len());
    }
    // Corrupted bytes: whatever they decode to, they return.
    for i in (0..jpeg.len()).step_by(7) {
        let mut bad = jpeg.clone();
        bad[i] ^= 0x5A;
        let _ = Picture::decode(&bad);
    }
    for i in (0..png.len()).step_by(3) {
        let mut bad = png.clone();
        bad[i] ^= 0x5A;
        let _ = Picture::decode(&bad);
    }
}

#[test]
fn absurd_sizes_are_refused_before_decoding() {
    // A PNG claiming 10000x5000 (50 megapixels), with no pixels at all.
    let mut header = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&5_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    header.extend_from_slice(&13u32.to_be_bytes());
    header.extend_from_slice(&ihdr);
    header.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(b"IEND");
    header.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    let err = Picture::decode(&header).expect_err("too large");
    assert!(matches!(&err, RenderError::Image(m) if m.contains("megapixels")), "{err}");

    // A JPEG whose frame header claims 8000x6000 (48 megapixels).
    let mut jpeg = jpeg(16, 16, &red_blue(16, 16), None);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline frame header");
    jpeg[sof + 5..sof + 7].copy_from_slice(&6000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&8000u16.to_be_bytes());
    let err = Picture::decode(&jpeg).expect_err("too large");
    assert!(matches!(&err, RenderError::Image(m) if m.contains("megapixels")), "{err}");

    // A 24-megapixel phone photo is accepted.
    const { assert!(MAX_PICTURE_PIXELS >= 24_000_000) };
    assert!(matches!(Picture::from_rgb(0, 10, Vec::new()), Err(RenderError::Image(_))));
    assert!(matches!(Picture::from_rgb(2, 2, vec![0; 11]), Err(RenderError::Image(_))));
    assert!(matches!(Picture::from_rgb(8000, 6000, Vec::new()), Err(RenderError::Image(_))));
}

/// CRC-32 (ISO-HDLC), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
