//! The `vidcache` command.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vidcache::app::{self, Role};
use vidcache::config::{LogFormat, Settings};

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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let log_format = LogFormat::from_env();
    vidcache::telemetry::init(log_format.as_ref().copied().unwrap_or_default());
    if let Err(err) = log_format {
        tracing::error!("{err}");
        eprintln!("vidcache: {err}");
        return std::process::ExitCode::FAILURE;
    }
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
    let settings = Settings::from_env()?;
    let role = match cli.command {
        Command::Serve => Role::Serve,
        Command::Bot => Role::Bot,
        Command::Worker => Role::Worker,
        Command::Migrate => {
            tokio::fs::create_dir_all(&settings.data_dir).await?;
            vidcache::db::connect(&settings.data).await?;
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
