//! Typed settings: an optional TOML file (`VERITY_CONFIG`, else `./verity.toml` when present),
//! overridden by `VERITY_*` environment variables and Leptos's `LEPTOS_SITE_ADDR`.

use anyhow::{bail, Context};
use engine::webhooks::RetrySchedule;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the server needs to know at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// SQLite file and document files live here (default `./data`).
    pub data_dir: PathBuf,
    /// `sqlite://…`; default: `<data_dir>/verity.sqlite3`.
    pub database_url: Option<String>,
    pub templates_dir: PathBuf,
    /// The base URL put into links and emails.
    pub public_url: String,
    /// Where emails go out (`smtp://host:port`, `smtps://…`, `smtp://…?tls=required`); `None`:
    /// sending links by email answers 503.
    pub smtp_url: Option<String>,
    /// The organization's name, shown in emails to individuals (default `Verity`).
    pub organization_name: String,
    /// The sender of emails (default `verity@<public URL host>`, or `verity@localhost`).
    pub mail_from: String,
    pub listen_addr: SocketAddr,
    pub log_format: LogFormat,
    /// Where the compiled site (`pkg/verity.js`, `.wasm`, `.css`) is served from.
    pub site_root: PathBuf,
    pub max_upload_bytes: u64,
    /// API requests a second per API key (0 turns the limit off).
    pub api_rate_limit: u32,
    /// How many API requests a key may send at once before the rate applies.
    pub api_rate_burst: u32,
    /// Waits between webhook delivery attempts (about 3 days in all by default).
    pub webhook_retry_schedule: RetrySchedule,
    /// How often scheduled work (expiry) runs.
    pub scheduler_interval: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    templates_dir: Option<PathBuf>,
    public_url: Option<String>,
    smtp_url: Option<String>,
    organization_name: Option<String>,
    mail_from: Option<String>,
    listen_addr: Option<String>,
    log_format: Option<String>,
    site_root: Option<PathBuf>,
    max_upload_bytes: Option<u64>,
    api_rate_limit: Option<u32>,
    api_rate_burst: Option<u32>,
    webhook_retry_schedule: Option<String>,
    scheduler_interval_ms: Option<u64>,
}

impl Settings {
    /// Reads the configuration file and the process environment.
    pub fn load() -> anyhow::Result<Settings> {
        Settings::from_sources(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// Builds settings from a variable lookup (the environment in production, a map in tests).
    pub fn from_sources(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let file = match var("VERITY_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None if Path::new("verity.toml").exists() => read_file(Path::new("verity.toml"))?,
            None => FileSettings::default(),
        };
        let data_dir = var("VERITY_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| "data".into());
        let listen = var("LEPTOS_SITE_ADDR")
            .or(file.listen_addr)
            .unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen_addr: SocketAddr = listen.parse().with_context(|| {
            format!("LEPTOS_SITE_ADDR `{listen}` is not an address like 127.0.0.1:3000")
        })?;
        let public_url = var("VERITY_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen_addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("VERITY_PUBLIC_URL must start with http:// or https://");
        }
        let log_format = match var("VERITY_LOG_FORMAT").or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("VERITY_LOG_FORMAT must be `text` or `json`, not `{other}`"),
        };
        let database_url = var("VERITY_DATABASE_URL").or(file.database_url);
        if let Some(url) = &database_url {
            if !url.starts_with("sqlite:") {
                bail!("VERITY_DATABASE_URL: only sqlite:// URLs are supported in this version");
            }
        }
        let max_upload_bytes = match var("VERITY_MAX_UPLOAD_BYTES") {
            Some(raw) => raw
                .parse()
                .context("VERITY_MAX_UPLOAD_BYTES must be a number of bytes")?,
            None => file.max_upload_bytes.unwrap_or(15 * 1024 * 1024),
        };
        let number = |name: &str, file_value: Option<u32>, default: u32| -> anyhow::Result<u32> {
            match var(name) {
                Some(raw) => raw
                    .parse()
                    .with_context(|| format!("{name} must be a whole number")),
                None => Ok(file_value.unwrap_or(default)),
            }
        };
        let api_rate_limit = number("VERITY_API_RATE_LIMIT", file.api_rate_limit, 100)?;
        let api_rate_burst = number("VERITY_API_RATE_BURST", file.api_rate_burst, 200)?;
        let webhook_retry_schedule = match var("VERITY_WEBHOOK_RETRY_SCHEDULE")
            .or(file.webhook_retry_schedule)
        {
            Some(raw) => RetrySchedule::parse(&raw).map_err(|why| {
                anyhow::anyhow!("VERITY_WEBHOOK_RETRY_SCHEDULE (seconds, comma-separated): {why}")
            })?,
            None => RetrySchedule::default(),
        };
        let scheduler_interval_ms = match var("VERITY_SCHEDULER_INTERVAL_MS") {
            Some(raw) => raw.parse().ok().filter(|ms| *ms > 0).context(
                "VERITY_SCHEDULER_INTERVAL_MS must be a positive number of milliseconds",
            )?,
            None => file.scheduler_interval_ms.unwrap_or(1_000),
        };
        let smtp_url = var("VERITY_SMTP_URL").or(file.smtp_url);
        if let Some(url) = &smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                bail!("VERITY_SMTP_URL must start with smtp:// or smtps://");
            }
        }
        let organization_name = var("VERITY_ORGANIZATION_NAME")
            .or(file.organization_name)
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "Verity".to_owned());
        if organization_name.chars().any(char::is_control) || organization_name.len() > 200 {
            bail!("VERITY_ORGANIZATION_NAME must be one line of at most 200 characters");
        }
        let mail_from = var("VERITY_MAIL_FROM")
            .or(file.mail_from)
            .unwrap_or_else(|| default_mail_from(&public_url));
        Ok(Settings {
            organization_name,
            mail_from,
            api_rate_limit,
            api_rate_burst,
            webhook_retry_schedule,
            scheduler_interval: Duration::from_millis(scheduler_interval_ms),
            data_dir,
            database_url,
            templates_dir: var("VERITY_TEMPLATES_DIR")
                .map(PathBuf::from)
                .or(file.templates_dir)
                .unwrap_or_else(|| "templates".into()),
            public_url,
            smtp_url,
            listen_addr,
            log_format,
            site_root: var("LEPTOS_SITE_ROOT")
                .map(PathBuf::from)
                .or(file.site_root)
                .unwrap_or_else(|| "target/site".into()),
            max_upload_bytes,
        })
    }
}

/// `verity@<host>` of the public URL when the host is a domain name, else `verity@localhost`.
fn default_mail_from(public_url: &str) -> String {
    let host = public_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let is_name = host.contains('.') && host.bytes().any(|b| b.is_ascii_alphabetic());
    format!("verity@{}", if is_name { host } else { "localhost" })
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("the configuration file {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_sources(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_serve_a_fresh_install() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert_eq!(s.templates_dir, PathBuf::from("templates"));
        assert_eq!(s.listen_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.organization_name, "Verity");
        assert_eq!(s.mail_from, "verity@localhost");
        assert_eq!(s.smtp_url, None);
    }

    #[test]
    fn mail_settings_come_from_the_environment() {
        let s = settings(&[
            ("VERITY_PUBLIC_URL", "https://id.example.com"),
            ("VERITY_ORGANIZATION_NAME", "Acme Bank"),
            ("VERITY_SMTP_URL", "smtp://127.0.0.1:2525"),
        ])
        .unwrap();
        assert_eq!(s.organization_name, "Acme Bank");
        assert_eq!(s.mail_from, "verity@id.example.com");
        assert_eq!(s.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        let error = settings(&[("VERITY_SMTP_URL", "http://mail")]).unwrap_err();
        assert!(error.to_string().contains("VERITY_SMTP_URL"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("verity.toml");
        std::fs::write(
            &file,
            "data-dir = \"/srv/verity\"\npublic-url = \"https://id.example.com/\"\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let s = settings(&[
            ("VERITY_CONFIG", path),
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
        ])
        .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/verity"));
        assert_eq!(s.public_url, "https://id.example.com");
        assert_eq!(s.listen_addr.to_string(), "0.0.0.0:8080");
        let s = settings(&[("VERITY_CONFIG", path), ("VERITY_DATA_DIR", "/tmp/x")]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let error = settings(&[("LEPTOS_SITE_ADDR", "nowhere")]).unwrap_err();
        assert!(error.to_string().contains("LEPTOS_SITE_ADDR"));
        let error = settings(&[("VERITY_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(error.to_string().contains("VERITY_LOG_FORMAT"));
        let error = settings(&[("VERITY_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(error.to_string().contains("sqlite"));
        let error = settings(&[("VERITY_WEBHOOK_RETRY_SCHEDULE", "1,soon")]).unwrap_err();
        assert!(error.to_string().contains("VERITY_WEBHOOK_RETRY_SCHEDULE"));
        let s = settings(&[("VERITY_WEBHOOK_RETRY_SCHEDULE", "0.2,0.4")]).unwrap();
        assert_eq!(s.webhook_retry_schedule.delays().len(), 2);
    }
}
