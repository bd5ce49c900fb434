//! Just enough ISO-BMFF parsing to fill in a `Video` object: checks the
//! leading `ftyp` box and reads width/height (`tkhd`) and duration (`mvhd`).

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Probe {
    pub width: u32,
    pub height: u32,
    pub duration: u32,
}

/// Bytes 4..8 of an MP4 file are the type of its first box, `ftyp`.
pub(crate) fn is_mp4(data: &[u8]) -> bool {
    data.get(4..8) == Some(b"ftyp".as_slice())
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be_u64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at + 8)?;
    Some(u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// Child boxes of a container payload: (type, payload).
fn children(mut d: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while d.len() >= 8 {
        let Some(size32) = be_u32(d, 0) else { break };
        let kind = [d[4], d[5], d[6], d[7]];
        let (header, size) = match size32 {
            0 => (8usize, d.len() as u64),
            1 => match be_u64(d, 8) {
                Some(s) => (16usize, s),
                None => break,
            },
            s => (8usize, u64::from(s)),
        };
        if size < header as u64 || size > d.len() as u64 {
            break;
        }
        let size = size as usize;
        out.push((kind, &d[header..size]));
        d = &d[size..];
    }
    out
}

pub(crate) fn probe(data: &[u8]) -> Probe {
    let mut p = Probe::default();
    for (kind, moov) in children(data) {
        if &kind != b"moov" {
            continue;
        }
        for (kind, body) in children(moov) {
            match &kind {
                b"mvhd" => {
                    let v1 = body.first() == Some(&1);
                    let (ts, dur) = if v1 {
                        (be_u32(body, 20), be_u64(body, 24))
                    } else {
                        (be_u32(body, 12), be_u32(body, 16).map(u64::from))
                    };
                    if let (Some(ts), Some(dur)) = (ts, dur)
                        && ts > 0
                    {
                        p.duration = ((dur + u64::from(ts) / 2) / u64::from(ts)).min(u64::from(u32::MAX)) as u32;
                    }
                }
                b"trak" if p.width == 0 => {
                    for (kind, tkhd) in children(body) {
                        if &kind != b"tkhd" {
                            continue;
                        }
                        let off = if tkhd.first() == Some(&1) { 88 } else { 76 };
                        if let (Some(w), Some(h)) = (be_u32(tkhd, off), be_u32(tkhd, off + 4)) {
                            p.width = w >> 16;
                            p.height = h >> 16;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn probes_minimal_file() {
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&2600u32.to_be_bytes());
        let mut tkhd = vec![0u8; 84];
        tkhd[76..80].copy_from_slice(&(320u32 << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(240u32 << 16).to_be_bytes());
        let trak = bx(b"trak", &bx(b"tkhd", &tkhd));
        let moov = bx(b"moov", &[bx(b"mvhd", &mvhd), trak].concat());
        let file = [bx(b"ftyp", b"isom\0\0\0\0isom"), moov].concat();
        assert!(is_mp4(&file));
        assert_eq!(probe(&file), Probe { width: 320, height: 240, duration: 3 });
        assert!(!is_mp4(b"GIF89a.."));
        assert_eq!(probe(b"\0\0\0\x08ftyp\xff\xff\xff\xffmoov"), Probe::default());
    }
}
