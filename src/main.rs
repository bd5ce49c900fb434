//! The `vidcache` command.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vidcache::app::{self, Role};
use vidcache::config::Settings;

#[derive(Parser)]
#[command(
    name = "vidcache",
    version,
    about = "Telegram bot that turns prompts into videos and never generates the same video twice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot and the worker in one process (the embedded default).
    Serve,
    /// Run only the bot: take updates, answer cache hits, enqueue generations.
    Bot,
    /// Run only the worker: generate, upload, fan out.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Measure the service against a fake Telegram on loopback and print a table.
    Bench {
        /// Smaller numbers, for a quick look (not the documented figures).
        #[arg(long)]
        quick: bool,
        /// Also append the table to this file.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vidcache::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("vidcache: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Bench { quick, output } = &cli.command {
        return bench(*quick, output.as_deref()).await;
    }
    let settings = Settings::from_env()?;
    let role = match cli.command {
        Command::Serve => Role::Serve,
        Command::Bot => Role::Bot,
        Command::Worker => Role::Worker,
        Command::Bench { .. } => unreachable!("handled above"),
        Command::Migrate => {
            tokio::fs::create_dir_all(&settings.data_dir).await?;
            vidcache::db::connect(&settings.database_url).await?;
            println!("migrations applied");
            return Ok(());
        }
    };
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        trigger.cancel();
    });
    app::run(settings, role, shutdown).await
}

async fn bench(quick: bool, output: Option<&std::path::Path>) -> anyhow::Result<()> {
    use vidcache::bench::{BenchOptions, render, run};
    let mut options = BenchOptions::default();
    if quick {
        options = BenchOptions { hits: 100, dedup_requests: 200, prompts: 10, fanout: 60, ingest: 500, assets: 2000, ..options };
    }
    let mut backends = Vec::new();
    for name in ["DATABASE_URL", "QUEUE_URL"] {
        if let Ok(value) = std::env::var(name) {
            backends.push(if value.starts_with("redis") {
                "Redis"
            } else if value.starts_with("postgres") {
                "PostgreSQL"
            } else {
                "SQLite"
            });
            options.env.push((name.to_owned(), value));
        }
    }
    if !backends.is_empty() {
        backends.dedup();
        options.label = backends.join(" + ");
    }
    let figures = run(options.clone()).await?;
    let table = render(&options.label, &figures);
    println!("{table}");
    if let Some(path) = output {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{table}")?;
    }
    Ok(())
}
