//! Real media for the fake providers' answers: a PNG written by a minimal
//! encoder, a WAV tone, and MP4 clips made by ffmpeg (cached per length).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

/// A `width`×`height` PNG of a colour gradient (stored deflate blocks: no
/// compression, valid for every decoder).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, 160]);
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter method, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend(kind);
    out.extend(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(*block);
    }
    out.extend(adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A mono 16-bit 24 kHz WAV of a quiet 220 Hz tone lasting `seconds`.
pub fn wav(seconds: f64) -> Vec<u8> {
    let rate = 24_000u32;
    let pcm = pcm(seconds, rate);
    let mut out = Vec::with_capacity(44 + pcm.len());
    out.extend(b"RIFF");
    out.extend((36 + pcm.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // PCM
    out.extend(1u16.to_le_bytes()); // mono
    out.extend(rate.to_le_bytes());
    out.extend((rate * 2).to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend((pcm.len() as u32).to_le_bytes());
    out.extend(pcm);
    out
}

/// Raw signed 16-bit little-endian samples of the tone.
pub fn pcm(seconds: f64, rate: u32) -> Vec<u8> {
    let samples = (seconds.max(0.0) * f64::from(rate)) as usize;
    let mut out = Vec::with_capacity(samples * 2);
    for i in 0..samples {
        let t = i as f64 / f64::from(rate);
        let value = ((t * 220.0 * std::f64::consts::TAU).sin() * 3000.0) as i16;
        out.extend(value.to_le_bytes());
    }
    out
}

/// (seconds, width, height)
type ClipKey = (u32, u32, u32);

/// MP4 clips made by ffmpeg, one per (length, size), kept for reuse.
#[derive(Default)]
pub struct Clips {
    made: Mutex<HashMap<ClipKey, Arc<Vec<u8>>>>,
}

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

impl Clips {
    /// An H.264 MP4 test pattern of `seconds` at `width`×`height`, 24 fps.
    pub async fn clip(&self, seconds: u32, width: u32, height: u32) -> Result<Arc<Vec<u8>>, String> {
        let mut made = self.made.lock().await;
        if let Some(bytes) = made.get(&(seconds, width, height)) {
            return Ok(bytes.clone());
        }
        let path: PathBuf = std::env::temp_dir().join(format!(
            "fake-provider-clip-{}-{}.mp4",
            std::process::id(),
            NEXT_FILE.fetch_add(1, Ordering::Relaxed)
        ));
        let output = tokio::process::Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={width}x{height}:rate=24:duration={seconds}"))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4"])
            .arg(&path)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("ffmpeg could not run: {e}"))?;
        if !output.status.success() {
            return Err(format!("ffmpeg failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let bytes = tokio::fs::read(&path).await.map_err(|e| format!("ffmpeg wrote no clip: {e}"))?;
        let _ = tokio::fs::remove_file(&path).await;
        let bytes = Arc::new(bytes);
        made.insert((seconds, width, height), bytes.clone());
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_a_valid_structure() {
        let image = png(4, 3);
        assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&image[12..16], b"IHDR");
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert!(image.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND's CRC closes the file");
    }

    #[test]
    fn wav_lasts_as_asked() {
        let audio = wav(1.5);
        assert_eq!(&audio[..4], b"RIFF");
        assert_eq!(audio.len(), 44 + 36_000 * 2);
    }
}
