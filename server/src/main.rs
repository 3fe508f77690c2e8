//! The `verity` binary: `serve` (the default), `migrate`, and `template check`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use engine::{Engine, EngineSettings, SystemClock};
use server::config::{LogFormat, Settings};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Verity: self-hosted identity verification.
#[derive(Debug, Parser)]
#[command(name = "verity", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Work with inquiry templates.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Validate template files and print their ids and version ids.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn open_engine(settings: &Settings) -> anyhow::Result<Engine> {
    let engine_settings = EngineSettings {
        max_upload_bytes: settings.max_upload_bytes,
        ..EngineSettings::default()
    };
    Engine::open_local(
        &settings.data_dir,
        settings.database_url.as_deref(),
        &settings.templates_dir,
        Arc::new(SystemClock),
        engine_settings,
    )
    .await
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let engine = open_engine(&settings).await?;
    for template in engine.templates().all() {
        tracing::info!(template.id = %template.template.id, template.version = %template.version_id, "template loaded");
    }
    let sweeper = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                match engine.expire_overdue().await {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "expired overdue inquiries"),
                    Err(error) => tracing::error!(error = ?error, "expiry sweep failed"),
                }
            }
        })
    };
    let app = server::router(engine, &settings);
    let listener = tokio::net::TcpListener::bind(settings.listen_addr)
        .await
        .with_context(|| format!("listening on {}", settings.listen_addr))?;
    tracing::info!(address = %settings.listen_addr, public_url = %settings.public_url, "Verity is listening");
    eprintln!(
        "\nVerity is running. Try the example verification at:\n  {}/verify?inquiry-template-id=itmpl_basic_kyc\n",
        settings.public_url
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    sweeper.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

fn check_templates(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        match engine::templates::load_template_file(file) {
            Ok(version) => println!(
                "{}\t{}\t{}",
                file.display(),
                version.template.id,
                version.version_id
            ),
            Err(error) => {
                failed += 1;
                eprintln!("{}: {error:#}", file.display());
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} template files are not valid", files.len());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = async {
        if let Some(Command::Template {
            command: TemplateCommand::Check { files },
        }) = &cli.command
        {
            return check_templates(files);
        }
        let settings = Settings::load()?;
        init_logging(settings.log_format);
        match cli.command {
            None | Some(Command::Serve) => serve(settings).await,
            Some(Command::Migrate) => {
                open_engine(&settings).await?;
                eprintln!("database is up to date");
                Ok(())
            }
            Some(Command::Template { .. }) => Ok(()),
        }
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("verity: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
