//! Times renders of the default clip: `cargo run --release -p render --example timing [text] [runs]`.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let text = args.next().unwrap_or_else(|| "Поздравление для Маши с днём рождения".to_owned());
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("render-timing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("clip.mp4");
    let opts = render::RenderOptions::default();
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let bytes = render::render_mp4(&text, &path, &opts).expect("render");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        eprintln!("{bytes} bytes in {:.1} ms", times.last().copied().unwrap_or_default());
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.1} ms, min {:.1} ms, max {:.1} ms", times[times.len() / 2], times[0], times[times.len() - 1]);
    if std::env::var_os("KEEP").is_some() {
        println!("{}", path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
