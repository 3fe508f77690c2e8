//! `POST /api/v1/inquiries/{id}/send-link` and the embed page's HTTP contract, through the
//! server's public door: mail goes to a real SMTP server on loopback (Debian's python3-aiosmtpd,
//! `scripts/smtp-sink.py`); the embed page's framing headers and its cookie-less session.

mod support;
use engine::{Engine, EngineSettings, SystemClock};
use serde_json::{json, Value};
use server::config::Settings;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::{api_request, form_encode, raw_exchange, Response};
use tokio::net::TcpListener;

struct TestApp {
    addr: SocketAddr,
    key: String,
    server: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn spawn_app(overrides: &[(&str, &str)]) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("VERITY_DATA_DIR".into(), data.path().display().to_string()),
        (
            "VERITY_TEMPLATES_DIR".into(),
            templates.display().to_string(),
        ),
        ("LEPTOS_SITE_ADDR".into(), addr.to_string()),
        (
            "LEPTOS_SITE_ROOT".into(),
            data.path().join("site").display().to_string(),
        ),
        ("VERITY_PUBLIC_URL".into(), format!("http://{addr}")),
        ("VERITY_API_RATE_LIMIT".into(), "0".into()),
    ]);
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let settings = Settings::from_sources(|name| vars.get(name).cloned()).unwrap();
    let engine = Engine::open_local(
        &settings.data_dir,
        settings.database_url.as_deref(),
        &settings.templates_dir,
        Arc::new(SystemClock),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    let (_record, key) = engine.create_api_key("test").await.unwrap();
    let router = server::router(engine, &settings);
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestApp {
        addr,
        key,
        server,
        _data: data,
    }
}

impl TestApp {
    async fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        raw_exchange(
            self.addr,
            &api_request(self.addr, &self.key, method, path, &[], body),
        )
        .await
    }

    /// A new inquiry from the example template: its id and session token.
    async fn create_inquiry(&self) -> (String, String) {
        let body = json!({"data": {"attributes": {"inquiry-template-id": "itmpl_basic_kyc"}}});
        let response = self.api("POST", "/api/v1/inquiries", Some(&body)).await;
        assert_eq!(response.status, 201, "{}", response.text());
        let document = response.json();
        (
            document["data"]["id"].as_str().unwrap().to_owned(),
            document["meta"]["session-token"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    async fn send_link(&self, id: &str, address: &str) -> Response {
        let body = json!({"data": {"attributes": {"email-address": address}}});
        self.api(
            "POST",
            &format!("/api/v1/inquiries/{id}/send-link"),
            Some(&body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Response {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
            self.addr
        );
        raw_exchange(self.addr, request.as_bytes()).await
    }
}

/// The loopback SMTP server: every message lands in a file of its folder.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// Starts the sink on a free port. The port is free when picked, but a test running beside
    /// this one may bind it before the sink does (the sink then exits): so the sink counts as
    /// started only once its SMTP greeting is read, and starts again on another port otherwise.
    async fn start() -> SmtpSink {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = tempfile::tempdir().unwrap();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smtp-sink.py");
            let child = Command::new("/usr/bin/python3")
                .arg(script)
                .args(["--port", &port.to_string(), "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("python3-aiosmtpd is installed (scripts/setup.sh --tests)");
            let mut sink = SmtpSink { child, port, dir };
            for _ in 0..100 {
                if sink.greets().await {
                    return sink;
                }
                if sink.child.try_wait().unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("the SMTP sink did not start");
    }

    /// True when an SMTP server answers on the port with its `220` greeting.
    async fn greets(&self) -> bool {
        use tokio::io::AsyncReadExt;
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut greeting = [0u8; 3];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut greeting)).await,
            Ok(Ok(_))
        ) && &greeting == b"220"
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        files.sort();
        files
    }
}

fn error_code(response: &Response) -> String {
    response.json()["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Undoes quoted-printable soft line breaks and `=XX` escapes.
fn unquote(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 3).unwrap_or("");
        match u8::from_str_radix(hex, 16) {
            Ok(byte) if hex.len() == 2 => {
                out.push(byte as char);
                rest = &rest[i + 3..];
            }
            _ => {
                out.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn send_link_mails_a_one_time_link_that_opens_the_flow_once() {
    let smtp = SmtpSink::start().await;
    let app = spawn_app(&[
        ("VERITY_SMTP_URL", &smtp.url()),
        ("VERITY_ORGANIZATION_NAME", "Acme Bank"),
    ])
    .await;
    let (id, _token) = app.create_inquiry().await;

    let response = app.send_link(&id, "jane@example.com").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["data"]["id"], id.as_str());
    assert!(
        !response.text().contains("code="),
        "the link goes only to the mail"
    );

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let mail = unquote(&std::fs::read_to_string(&messages[0]).unwrap());
    assert!(mail.contains("To: jane@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Acme Bank: verify your identity"),
        "{mail}"
    );
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    let prefix = format!("http://{}/verify?code=", app.addr);
    let start = mail.find(&prefix).expect("the mail carries the link");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.?=_-".contains(*c))
        .collect();
    let path = link.trim_start_matches(&format!("http://{}", app.addr));

    let first = app.get(path).await;
    assert_eq!(
        first.status, 302,
        "the code becomes a session and the page moves on"
    );
    assert!(first.location().contains(&format!("inquiry-id={id}")));
    let second = app.get(path).await;
    assert!(second.text().contains("This link has already been used"));

    // Unknown inquiries, bad addresses, closed inquiries.
    assert_eq!(
        app.send_link("inq_nope", "jane@example.com").await.status,
        404
    );
    let invalid = app.send_link(&id, "jane@example.com\r\nBcc: x@y.z").await;
    assert_eq!(invalid.status, 422);
    assert_eq!(
        invalid.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/email-address"
    );
    let expired = app
        .api("POST", &format!("/api/v1/inquiries/{id}/expire"), None)
        .await;
    assert_eq!(expired.status, 200, "{}", expired.text());
    assert_eq!(app.send_link(&id, "jane@example.com").await.status, 409);
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn send_link_answers_503_without_a_working_mail_server() {
    let app = spawn_app(&[]).await;
    let (id, _) = app.create_inquiry().await;
    let response = app.send_link(&id, "jane@example.com").await;
    assert_eq!(response.status, 503);
    assert_eq!(error_code(&response), "email_unavailable");

    // A configured server that is not listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app(&[("VERITY_SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]).await;
    let (id, _) = app.create_inquiry().await;
    let response = app.send_link(&id, "jane@example.com").await;
    assert_eq!(response.status, 503);
    assert_eq!(error_code(&response), "email_unavailable");
}

#[tokio::test]
async fn the_embed_page_is_framed_only_by_allowed_origins() {
    let app = spawn_app(&[]).await;
    let allowed = app
        .get("/embed?inquiry-template-id=itmpl_basic_kyc&parent-origin=http%3A%2F%2Flocalhost%3A5173")
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("content-security-policy"),
        Some("frame-ancestors http://localhost:* http://127.0.0.1:*")
    );
    assert_eq!(allowed.header("x-frame-options"), None);
    assert!(allowed.text().contains("Verify your identity"));

    for query in [
        "inquiry-template-id=itmpl_basic_kyc&parent-origin=https%3A%2F%2Fevil.example",
        "inquiry-template-id=itmpl_basic_kyc",
    ] {
        let refused = app.get(&format!("/embed?{query}")).await;
        assert_eq!(
            refused.header("content-security-policy"),
            Some("frame-ancestors 'none'"),
            "{query}"
        );
        assert_eq!(refused.header("x-frame-options"), Some("DENY"), "{query}");
        assert!(!refused.text().contains(">Start<"), "{query}");
    }

    let hosted = app.get("/verify?inquiry-template-id=itmpl_basic_kyc").await;
    assert_eq!(
        hosted.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(hosted.header("x-frame-options"), Some("DENY"));

    let sdk = app.get("/sdk/verity.js").await;
    assert_eq!(sdk.status, 200);
    assert_eq!(
        sdk.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(sdk
        .header("cache-control")
        .unwrap()
        .contains("max-age=604800"));
    assert!(sdk.text().contains("Verity"));
}

#[tokio::test]
async fn the_embed_session_travels_in_the_form_and_opens_only_its_inquiry() {
    let app = spawn_app(&[]).await;
    let (id, token) = app.create_inquiry().await;
    let (other_id, _) = app.create_inquiry().await;
    let origin = "http://localhost:5173";
    let details = |inquiry: &str, token: &str| {
        let body = [
            ("inquiry_id", inquiry),
            ("session_token", token),
            ("parent_origin", origin),
            ("fields[name-first]", "Jane"),
            ("fields[name-last]", "Doe"),
            ("fields[birthdate]", "1990-01-31"),
        ]
        .iter()
        .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
        let mut bytes = format!(
            "POST /flow/details HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            app.addr,
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    };
    // No cookie: the token in the form opens the inquiry, and the next page keeps it.
    let response = raw_exchange(app.addr, &details(&id, &token)).await;
    assert_eq!(response.status, 302, "{}", response.text());
    let next = response.location().to_owned();
    assert!(
        next.starts_with(&format!("/embed?inquiry-id={id}&session-token=")),
        "{next}"
    );
    assert!(
        next.contains("parent-origin=http%3A%2F%2Flocalhost%3A5173"),
        "{next}"
    );
    assert!(
        response.set_cookies().is_empty(),
        "the embed flow sets no cookie"
    );
    let page = app.get(&next).await;
    assert!(page.text().contains("Photograph your ID"));

    // The token of one inquiry does not open another.
    let refused = raw_exchange(app.addr, &details(&other_id, &token)).await;
    assert_eq!(refused.status, 302);
    assert!(
        !refused.location().contains("session-token"),
        "{}",
        refused.location()
    );
    let page = app.get(refused.location()).await;
    assert!(
        page.text().contains("can&#x27;t be opened here")
            || page.text().contains("can't be opened here")
    );
}
