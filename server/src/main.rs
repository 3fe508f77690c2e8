//! The `verity` binary: `serve` (the default), `migrate`, `api-key create|list|revoke` and
//! `template check`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::ids::ApiKeyId;
use engine::{Engine, EngineSettings, SystemClock};
use server::config::{LogFormat, Settings};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: under load the request path spent ~18 % of its CPU in
/// glibc's allocator (arena locks, `malloc_consolidate`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Create, list and revoke the organization's API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Work with inquiry templates.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it alone on stdout; it is shown only this once.
    Create {
        /// What the key is for, e.g. "billing backend" (1 to 100 characters).
        #[arg(long)]
        name: String,
    },
    /// List the keys, one tab-separated line each (never the keys themselves).
    ///
    /// Columns: id, name, prefix, created, `active` or `revoked <time>`, last used (or `-`).
    /// Times are RFC 3339 UTC. Nothing is printed when there are no keys.
    List,
    /// Revoke a key by its id; requests bearing it are refused from then on.
    Revoke {
        /// The key's id (`key_…`), as `verity api-key list` shows it.
        #[arg(value_name = "KEY_ID", value_parser = ApiKeyId::parse)]
        id: ApiKeyId,
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
    let background = server::background::start(engine.clone(), &settings);
    let app = server::router(engine, &settings);
    let listener = tokio::net::TcpListener::bind(settings.listen_addr)
        .await
        .with_context(|| format!("listening on {}", settings.listen_addr))?;
    tracing::info!(address = %settings.listen_addr, public_url = %settings.public_url, "Verity is listening");
    eprintln!(
        "\nVerity is running. Try the example verifications at:\n  {0}/verify?inquiry-template-id=itmpl_kyc_government_id   (front and back of a US/CA licence or ID card, or a passport)\n  {0}/verify?inquiry-template-id=itmpl_basic_kyc          (one photo of the front of any ID)\n",
        settings.public_url
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    drop(background);
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

async fn api_key(settings: &Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let engine = open_engine(settings).await?;
    match command {
        ApiKeyCommand::Create { name } => {
            let (record, key) = engine
                .create_api_key(&name)
                .await
                .context("creating the API key")?;
            // The key goes to stdout alone so that scripts can capture it; nothing logs it.
            let printed = {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{key}").and_then(|()| stdout.flush())
            };
            if let Err(error) = printed {
                // Nobody has seen the key, so nobody can use it: do not leave it active.
                engine
                    .revoke_api_key(&record.id)
                    .await
                    .context("revoking the API key that could not be printed")?;
                return Err(error).context("printing the new API key (it has been revoked)");
            }
            eprintln!(
                "Created API key {} ({}). It is shown only once; store it safely.",
                record.id,
                one_line(&record.name)
            );
        }
        ApiKeyCommand::List => {
            let keys = engine.api_keys().await.context("listing API keys")?;
            let mut stdout = std::io::stdout().lock();
            for key in keys {
                let status = match key.revoked_at {
                    None => "active".to_owned(),
                    Some(at) => format!("revoked {}", rfc3339_utc(at)?),
                };
                let last_used = match key.last_used_at {
                    None => "-".to_owned(),
                    Some(at) => rfc3339_utc(at)?,
                };
                writeln!(
                    stdout,
                    "{}\t{}\t{}\t{}\t{status}\t{last_used}",
                    key.id,
                    one_line(&key.name),
                    key.key_prefix,
                    rfc3339_utc(key.created_at)?,
                )
                .context("writing the list of API keys")?;
            }
            stdout.flush().context("writing the list of API keys")?;
        }
        ApiKeyCommand::Revoke { id } => {
            if !engine
                .revoke_api_key(&id)
                .await
                .context("revoking the API key")?
            {
                anyhow::bail!("no active API key {id}");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}

/// A name as one tab-free line: control characters are shown escaped (`\t`, `\n`, `\u{1b}`).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A time as the REST API shows it: RFC 3339 in UTC (`2025-01-31T12:34:56.789Z`).
fn rfc3339_utc(at: OffsetDateTime) -> anyhow::Result<String> {
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .with_context(|| format!("formatting the time {at}"))
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
            Some(Command::ApiKey { command }) => api_key(&settings, command).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_listed_in_utc_like_the_api_shows_them() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_735_689_599_123_000_000)
            .unwrap()
            .to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(rfc3339_utc(at).unwrap(), "2024-12-31T23:59:59.123Z");
    }

    #[test]
    fn names_are_listed_on_one_line() {
        assert_eq!(one_line("billing\tbackend\n"), "billing\\tbackend\\n");
        assert_eq!(one_line("Zahlungsdienst Ünïcode"), "Zahlungsdienst Ünïcode");
    }
}
