//! `cargo run -p bench --release`: measures the `vidcache` release binary
//! against a fake Telegram on loopback and prints one table.

use bench::{BenchOptions, render, run};
use clap::Parser;
use vidcache::config::{DataStore, QueueStore};

#[derive(Parser)]
#[command(name = "bench", about = "Measure the vidcache release binary against a fake Telegram on loopback")]
struct Cli {
    /// Smaller numbers, for a quick look (not the documented figures).
    #[arg(long)]
    quick: bool,
    /// Also append the table to this file.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
    /// Run only these sections (comma list): startup, miss, hit, dedup,
    /// fanout, burst, paid, lost-queue, ingest, memory, search; and million
    /// (only when named: the service over `--assets` seeded assets).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Available assets seeded for `memory` and `million` (e.g. 1000000).
    #[arg(long)]
    assets: Option<usize>,
    /// Cache hits of the `million` section (default 10000).
    #[arg(long)]
    scale_hits: Option<usize>,
    /// The service's RUST_LOG (default `warn`); with it, each run's data
    /// dir and log are kept and the miss row prints every sample.
    #[arg(long)]
    log: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut options = BenchOptions::default();
    if cli.quick {
        options = BenchOptions {
            misses: 8,
            hits: 100,
            dedup_requests: 200,
            prompts: 10,
            fanout: 60,
            paid_fanout: 600,
            ingest: 500,
            assets: 2000,
            search_assets: 5000,
            scale_hits: 1000,
            ..options
        };
    }
    let database_url = std::env::var("DATABASE_URL").ok();
    let queue_url = std::env::var("QUEUE_URL").ok();
    if database_url.is_some() || queue_url.is_some() {
        // The same choice the service makes, from the same variables.
        let data = match &database_url {
            Some(url) => DataStore::parse(url)?,
            None => DataStore::embedded(std::path::Path::new(".")),
        };
        let queue = QueueStore::choose(queue_url.as_deref(), &data, std::path::Path::new("."))?;
        let mut backends = vec![data.label(), queue.label()];
        backends.dedup();
        options.label = backends.join(" + ");
    }
    for (name, value) in [("DATABASE_URL", database_url), ("QUEUE_URL", queue_url)] {
        if let Some(value) = value {
            options.env.push((name.to_owned(), value));
        }
    }
    options.only = cli.only;
    if let Some(assets) = cli.assets {
        options.assets = assets;
    }
    if let Some(hits) = cli.scale_hits {
        options.scale_hits = hits;
    }
    if let Some(filter) = cli.log {
        options.env.push(("RUST_LOG".to_owned(), filter));
        options.keep_logs = true;
    }
    let figures = run(options.clone()).await?;
    let table = render(&options.label, &figures);
    println!("{table}");
    if let Some(path) = cli.output {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{table}")?;
    }
    Ok(())
}
