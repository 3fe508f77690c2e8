//! HTTP integration tests: the hosted flow through the server's public door.
//!
//! Each test serves `server::router` on a random loopback port over a fresh data folder and talks
//! plain HTTP/1.1 to it, the way a browser without JavaScript (or the hydrated page) does.

mod support;
use domain::ids::InquiryId;
use domain::inquiry::InquiryStatus;
use engine::{Clock, Engine, EngineSettings, ManualClock, SystemClock};
use server::config::Settings;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use support::{form_encode, raw_exchange, Response};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

/// A running server, its engine (for assertions behind the HTTP door) and its data folder.
struct TestApp {
    addr: SocketAddr,
    engine: Engine,
    data_dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    /// A browser with an empty cookie jar.
    fn browser(&self) -> Browser {
        Browser {
            addr: self.addr,
            cookies: BTreeMap::new(),
        }
    }

    async fn event_names(&self, id: &InquiryId) -> Vec<String> {
        self.engine
            .events_of(id)
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.name)
            .collect()
    }

    async fn status_of(&self, id: &InquiryId) -> InquiryStatus {
        self.engine.touch(id).await.unwrap().status
    }

    async fn attempts_of(&self, id: &InquiryId) -> usize {
        self.engine.verifications_of(id).await.unwrap().len()
    }

    async fn documents_of(&self, id: &InquiryId) -> usize {
        self.engine.documents_of(id).await.unwrap().len()
    }

    /// Counts the rows of a table straight from the SQLite file, read-only.
    async fn count_rows(&self, table: &'static str) -> i64 {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::{ConnectOptions, Connection};
        let mut connection = SqliteConnectOptions::new()
            .filename(self.data_dir.join("verity.sqlite3"))
            .read_only(true)
            .connect()
            .await
            .unwrap();
        // `table` is always one of this file's literals.
        let query = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        let count: i64 = sqlx::query_scalar(query)
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        count
    }
}

async fn spawn_app() -> TestApp {
    spawn_app_with(EngineSettings::default(), Arc::new(SystemClock)).await
}

/// Serves the router on `127.0.0.1:0` over a fresh data folder, configured the way `verity
/// serve` is: settings from variables, the engine opened on them.
async fn spawn_app_with(engine_settings: EngineSettings, clock: Arc<dyn Clock>) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let vars: HashMap<&str, String> = HashMap::from([
        ("VERITY_DATA_DIR", data.path().display().to_string()),
        ("VERITY_TEMPLATES_DIR", templates.display().to_string()),
        ("LEPTOS_SITE_ADDR", addr.to_string()),
        (
            "LEPTOS_SITE_ROOT",
            data.path().join("site").display().to_string(),
        ),
        ("VERITY_PUBLIC_URL", format!("http://{addr}")),
    ]);
    let settings = Settings::from_sources(|name| vars.get(name).cloned()).unwrap();
    let engine = Engine::open_local(
        &settings.data_dir,
        settings.database_url.as_deref(),
        &settings.templates_dir,
        clock,
        engine_settings,
    )
    .await
    .unwrap();
    let router = server::router(engine.clone(), &settings);
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestApp {
        addr,
        engine,
        data_dir: settings.data_dir,
        server,
        _data: data,
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client with a cookie jar
// ---------------------------------------------------------------------------------------------

/// What a browser sends for a navigation or a plain form post.
const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// What the hydrated page's server function client sends.
const ACCEPT_JSON: &str = "application/json";

/// One browser: remembers the cookies it is given and sends them back.
struct Browser {
    addr: SocketAddr,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    async fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, ACCEPT_HTML, None, &[]).await
    }

    /// A form post as a browser without JavaScript sends it.
    async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_accepting(path, ACCEPT_HTML, fields).await
    }

    async fn post_form_accepting(
        &mut self,
        path: &str,
        accept: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let body = fields
            .iter()
            .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
            .collect::<Vec<_>>();
        let body = body.join("&");
        self.request(
            "POST",
            path,
            accept,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
        .await
    }

    /// The ID photo form: `inquiry_id` and a `photo` file.
    async fn upload_photo(
        &mut self,
        inquiry_id: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Response {
        self.upload_photo_accepting(ACCEPT_HTML, inquiry_id, filename, content_type, bytes)
            .await
    }

    async fn upload_photo_accepting(
        &mut self,
        accept: &str,
        inquiry_id: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Response {
        const BOUNDARY: &str = "----VerityTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"inquiry_id\"\r\n\r\n{inquiry_id}\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.request("POST", "/flow/id-photo", accept, Some(&content_type), &body)
            .await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nConnection: close\r\n",
            self.addr
        );
        if !self.cookies.is_empty() {
            let cookies = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(content_type) = content_type {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        } else if method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        let response = raw_exchange(self.addr, &bytes).await;
        for cookie in response.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.trim().split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }
}

// ---------------------------------------------------------------------------------------------
// Flow helpers
// ---------------------------------------------------------------------------------------------

const TEMPLATE: &str = "itmpl_basic_kyc";

fn sharp_photo() -> &'static [u8] {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO.get_or_init(|| {
        checks::fixtures::encode_jpeg(&checks::fixtures::id_card_image(1600, 1000), 90)
    })
}

fn blurred_photo() -> &'static [u8] {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO.get_or_init(|| {
        let card = checks::fixtures::id_card_image(1600, 1000);
        checks::fixtures::encode_jpeg(&checks::fixtures::blurred(&card, 6.0), 90)
    })
}

fn flow_path(id: &InquiryId) -> String {
    format!("/verify?inquiry-id={id}")
}

fn cookie_name(id: &InquiryId) -> String {
    format!("verity_{id}")
}

/// Presses Start on the example template; returns the new inquiry's id.
async fn start_inquiry(browser: &mut Browser) -> InquiryId {
    let response = browser
        .post_form("/flow/start", &[("template_id", TEMPLATE)])
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    let id = response
        .location()
        .strip_prefix("/verify?inquiry-id=")
        .expect("a redirect to the flow");
    InquiryId::parse(id).unwrap()
}

async fn submit_valid_details(browser: &mut Browser, id: &InquiryId) -> Response {
    let id = id.to_string();
    browser
        .post_form(
            "/flow/details",
            &[
                ("inquiry_id", &id),
                ("fields[name-first]", "Jane"),
                ("fields[name-last]", "Doe"),
                ("fields[birthdate]", "1990-01-31"),
            ],
        )
        .await
}

async fn upload_jpeg(browser: &mut Browser, id: &InquiryId, bytes: &[u8]) -> Response {
    browser
        .upload_photo(&id.to_string(), "id-front.jpg", "image/jpeg", bytes)
        .await
}

/// The flow page of an inquiry as this browser sees it.
async fn flow_page(browser: &mut Browser, id: &InquiryId) -> String {
    let response = browser.get(&flow_path(id)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.text()
}

/// A browser that has started an inquiry and passed the details step.
async fn at_the_id_step(app: &TestApp) -> (Browser, InquiryId) {
    let mut browser = app.browser();
    let id = start_inquiry(&mut browser).await;
    let response = submit_valid_details(&mut browser, &id).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);
    (browser, id)
}

fn assert_contains(page: &str, needle: &str) {
    assert!(page.contains(needle), "expected {needle:?} in:\n{page}");
}

fn assert_lacks(page: &str, needle: &str) {
    assert!(
        !page.contains(needle),
        "did not expect {needle:?} in:\n{page}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let health = browser.get("/healthz").await;
    assert_eq!(health.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));

    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn the_start_page_shows_the_template_and_creates_nothing() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let response = browser
        .get(&format!("/verify?inquiry-template-id={TEMPLATE}"))
        .await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let page = response.text();
    assert_contains(&page, "<h1>Verify your identity</h1>");
    assert_contains(&page, "action=\"/flow/start\"");
    assert_contains(&page, &format!("name=\"template_id\" value=\"{TEMPLATE}\""));
    assert!(
        response.set_cookies().is_empty(),
        "a GET sets no session: {:?}",
        response.set_cookies()
    );

    assert_eq!(app.count_rows("inquiries").await, 0);
    assert_eq!(app.count_rows("inquiry_sessions").await, 0);
    assert_eq!(app.count_rows("events").await, 0);
}

#[tokio::test]
async fn unknown_and_incomplete_links_get_a_plain_problem_page() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let unknown = browser
        .get("/verify?inquiry-template-id=itmpl_no_such_template")
        .await;
    assert_eq!(unknown.status, 200);
    assert_contains(
        &unknown.text(),
        "<h1 tabindex=\"-1\">This verification does not exist</h1>",
    );

    let malformed = browser.get("/verify?inquiry-template-id=not-an-id").await;
    assert_eq!(malformed.status, 200);
    assert_contains(&malformed.text(), "does not exist");

    let incomplete = browser.get("/verify").await;
    assert_eq!(incomplete.status, 200);
    assert_contains(
        &incomplete.text(),
        "<h1 tabindex=\"-1\">This link is not complete</h1>",
    );

    let nowhere = browser.get("/no/such/page").await;
    assert_eq!(nowhere.status, 404);
    assert_contains(&nowhere.text(), "Page not found");

    assert_eq!(app.count_rows("inquiries").await, 0);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let page = browser
        .get(&format!("/verify?inquiry-template-id={TEMPLATE}"))
        .await;
    let health = browser.get("/healthz").await;
    let redirect = browser
        .post_form("/flow/start", &[("template_id", TEMPLATE)])
        .await;
    let missing = browser.get("/no/such/page").await;
    for response in [&page, &health, &redirect, &missing] {
        assert_eq!(
            response.header("x-frame-options"),
            Some("DENY"),
            "{:?}",
            response.headers
        );
        assert_eq!(
            response.header("content-security-policy"),
            Some("frame-ancestors 'none'")
        );
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn starting_sets_an_http_only_session_cookie_for_that_inquiry() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let response = browser
        .post_form("/flow/start", &[("template_id", TEMPLATE)])
        .await;
    assert_eq!(response.status, 302);
    let id = InquiryId::parse(
        response
            .location()
            .strip_prefix("/verify?inquiry-id=")
            .unwrap(),
    )
    .unwrap();

    let cookies = response.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attributes: Vec<&str> = cookies[0].split(';').map(str::trim).collect();
    let (name, token) = attributes[0].split_once('=').unwrap();
    assert_eq!(name, cookie_name(&id));
    assert!(token.starts_with("vst_") && token.len() > 40, "{token}");
    assert!(attributes.contains(&"Path=/"), "{attributes:?}");
    assert!(attributes.contains(&"HttpOnly"), "{attributes:?}");
    assert!(attributes.contains(&"SameSite=Lax"), "{attributes:?}");
    assert!(
        attributes.contains(&"Secure"),
        "loopback counts as a secure origin: {attributes:?}"
    );
    let max_age: i64 = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (23 * 3600..=24 * 3600).contains(&max_age),
        "the template's 24 hours: {max_age}"
    );

    assert_eq!(app.status_of(&id).await, InquiryStatus::Created);
    assert_eq!(app.event_names(&id).await, ["inquiry.created"]);
}

#[tokio::test]
async fn the_whole_flow_works_as_plain_form_posts() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let id = start_inquiry(&mut browser).await;
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Your details</h1>");
    assert_contains(&page, "action=\"/flow/details\"");
    assert_contains(&page, "name=\"fields[name-first]\"");

    // A birthdate in the future is refused; what was typed comes back with the reason.
    let id_text = id.to_string();
    let refused = browser
        .post_form(
            "/flow/details",
            &[
                ("inquiry_id", &id_text),
                ("fields[name-first]", "Jane"),
                ("fields[name-last]", "Doe"),
                ("fields[birthdate]", "2999-01-01"),
            ],
        )
        .await;
    assert_eq!(refused.status, 302, "{}", refused.text());
    assert_eq!(refused.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Your details</h1>");
    assert_contains(&page, "role=\"alert\"");
    assert_contains(&page, "in the past");
    assert_contains(&page, "value=\"Jane\"");
    assert_contains(&page, "value=\"2999-01-01\"");
    assert_eq!(app.status_of(&id).await, InquiryStatus::Created);

    let accepted = submit_valid_details(&mut browser, &id).await;
    assert_eq!(accepted.status, 302, "{}", accepted.text());
    assert_eq!(accepted.location(), flow_path(&id));
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Photograph your ID</h1>");
    assert_contains(&page, "Attempt 1 of 3");
    assert_contains(&page, "enctype=\"multipart/form-data\"");
    assert_contains(&page, "action=\"/flow/id-photo\"");
    assert_lacks(&page, "role=\"alert\"");

    let uploaded = upload_jpeg(&mut browser, &id, sharp_photo()).await;
    assert_eq!(uploaded.status, 302, "{}", uploaded.text());
    assert_eq!(uploaded.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Verification complete</h1>");

    assert_eq!(app.status_of(&id).await, InquiryStatus::Completed);
    assert_eq!(
        app.event_names(&id).await,
        [
            "inquiry.created",
            "inquiry.started",
            "verification.created",
            "verification.submitted",
            "verification.passed",
            "inquiry.completed"
        ]
    );
    let documents = app.engine.documents_of(&id).await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].content_type, "image/jpeg");
    assert_eq!(documents[0].byte_size as usize, sharp_photo().len());
    assert_eq!(
        app.engine
            .document_bytes(&documents[0])
            .await
            .unwrap()
            .as_ref(),
        sharp_photo()
    );
}

#[tokio::test]
async fn details_sent_twice_land_on_the_current_step_with_a_notice() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    let again = submit_valid_details(&mut browser, &id).await;
    assert_eq!(again.status, 302);
    assert_eq!(
        again.location(),
        format!("{}&error=wrong_step", flow_path(&id))
    );
    let page = browser.get(again.location()).await.text();
    assert_contains(&page, "<h1 tabindex=\"-1\">Photograph your ID</h1>");
    assert_contains(&page, "That step is already done.");
    assert_eq!(
        app.event_names(&id)
            .await
            .iter()
            .filter(|name| *name == "inquiry.started")
            .count(),
        1
    );
}

#[tokio::test]
async fn values_from_the_link_are_carried_to_the_details_step() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let start = browser.get(&format!("/verify?inquiry-template-id={TEMPLATE}&reference-id=user-42&fields%5Bname-first%5D=Jane")).await;
    let page = start.text();
    assert_contains(&page, "name=\"reference_id\" value=\"user-42\"");
    assert_contains(&page, "name=\"fields[name-first]\" value=\"Jane\"");

    let response = browser
        .post_form(
            "/flow/start",
            &[
                ("template_id", TEMPLATE),
                ("reference_id", "user-42"),
                ("fields[name-first]", "Jane"),
            ],
        )
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    let id = InquiryId::parse(
        response
            .location()
            .strip_prefix("/verify?inquiry-id=")
            .unwrap(),
    )
    .unwrap();
    let inquiry = app.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.reference_id.as_deref(), Some("user-42"));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "value=\"Jane\"");
}

#[tokio::test]
async fn three_blurry_photos_end_the_verification() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    let first = upload_jpeg(&mut browser, &id, blurred_photo()).await;
    assert_eq!(first.status, 302, "{}", first.text());
    assert_eq!(first.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Photograph your ID</h1>");
    assert_contains(&page, "Attempt 2 of 3");
    assert_contains(&page, "role=\"alert\"");
    assert_contains(&page, "Your photo is blurry.");

    let second = upload_jpeg(&mut browser, &id, blurred_photo()).await;
    assert_eq!(second.status, 302);
    assert_contains(&flow_page(&mut browser, &id).await, "Attempt 3 of 3");

    let third = upload_jpeg(&mut browser, &id, blurred_photo()).await;
    assert_eq!(third.status, 302);
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">We couldn't verify your identity</h1>",
    );
    assert_contains(&page, "Your photo is blurry.");
    assert_lacks(&page, "Photograph your ID</h1>");

    assert_eq!(app.status_of(&id).await, InquiryStatus::Failed);
    assert_eq!(app.attempts_of(&id).await, 3);
    let events = app.event_names(&id).await;
    assert_eq!(
        events
            .iter()
            .filter(|name| *name == "verification.failed")
            .count(),
        3
    );
    assert_eq!(events.last().map(String::as_str), Some("inquiry.failed"));

    // A fourth photo is not taken.
    let fourth = upload_jpeg(&mut browser, &id, sharp_photo()).await;
    assert_eq!(fourth.status, 302);
    assert_eq!(
        fourth.location(),
        format!("{}&error=wrong_step", flow_path(&id))
    );
    assert_eq!(app.attempts_of(&id).await, 3);
    assert_eq!(app.status_of(&id).await, InquiryStatus::Failed);
}

#[tokio::test]
async fn a_file_that_is_not_an_image_is_refused_without_using_an_attempt() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    let pdf =
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    let response = browser
        .upload_photo(&id.to_string(), "id.pdf", "image/jpeg", pdf)
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.location(),
        format!("{}&error=unsupported_type", flow_path(&id))
    );

    let page = browser.get(response.location()).await.text();
    assert_contains(&page, "<h1 tabindex=\"-1\">Photograph your ID</h1>");
    assert_contains(&page, "That file is not a photo we can read.");
    assert_contains(&page, "Attempt 1 of 3");
    assert_eq!(app.attempts_of(&id).await, 0);
    assert_eq!(app.documents_of(&id).await, 0);
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);
}

#[tokio::test]
async fn an_empty_upload_is_refused_with_a_plain_message() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    let response = browser
        .upload_photo(&id.to_string(), "", "application/octet-stream", b"")
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.location(),
        format!("{}&error=empty_upload", flow_path(&id))
    );
    assert_contains(
        &browser.get(response.location()).await.text(),
        "No photo arrived.",
    );
    assert_eq!(app.attempts_of(&id).await, 0);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_not_stored() {
    let limits = EngineSettings {
        max_upload_bytes: 200_000,
        ..EngineSettings::default()
    };
    let app = spawn_app_with(limits, Arc::new(SystemClock)).await;
    let (mut browser, id) = at_the_id_step(&app).await;

    // A real JPEG start followed by padding, about 1 MB in all.
    let mut big = sharp_photo().to_vec();
    big.resize(1_000_000, 0);
    let response = upload_jpeg(&mut browser, &id, &big).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.location(),
        format!("{}&error=too_large", flow_path(&id))
    );

    let page = browser.get(response.location()).await.text();
    assert_contains(&page, "That file is too large.");
    assert_contains(&page, "Attempt 1 of 3");
    assert_eq!(app.documents_of(&id).await, 0);
    assert_eq!(app.attempts_of(&id).await, 0);
    assert_eq!(app.count_rows("documents").await, 0);
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);
}

#[tokio::test]
async fn a_photo_larger_than_two_megabytes_within_the_limit_is_taken() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    // Data after a JPEG's end marker is ignored by decoders; it makes a 3 MB upload.
    let mut big = sharp_photo().to_vec();
    big.resize(3 * 1024 * 1024, 0);
    let response = upload_jpeg(&mut browser, &id, &big).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(response.location(), flow_path(&id));
    assert_eq!(app.documents_of(&id).await, 1);
    assert_eq!(app.attempts_of(&id).await, 1);
}

const CANT_BE_OPENED: &str = "This verification can't be opened here";

#[tokio::test]
async fn a_flow_page_without_the_inquirys_cookie_cannot_be_opened() {
    let app = spawn_app().await;
    let (_owner, id) = at_the_id_step(&app).await;

    let mut stranger = app.browser();
    let response = stranger.get(&flow_path(&id)).await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert_contains(&page, CANT_BE_OPENED);
    assert_lacks(&page, "Photograph your ID");
    assert_lacks(&page, &format!("value=\"{id}\""));
    assert!(response.set_cookies().is_empty());

    // A token that is not a session token at all.
    stranger
        .cookies
        .insert(cookie_name(&id), "vst_forged".into());
    assert_contains(&flow_page(&mut stranger, &id).await, CANT_BE_OPENED);
}

#[tokio::test]
async fn another_inquirys_token_does_not_open_an_inquiry() {
    let app = spawn_app().await;
    let mut alice = app.browser();
    let a = start_inquiry(&mut alice).await;
    let response = submit_valid_details(&mut alice, &a).await;
    assert_eq!(response.status, 302);
    let mut mallory = app.browser();
    let b = start_inquiry(&mut mallory).await;

    // Mallory puts her own (valid) token under A's cookie name.
    let b_token = mallory.cookies[&cookie_name(&b)].clone();
    mallory.cookies.insert(cookie_name(&a), b_token);
    let page = flow_page(&mut mallory, &a).await;
    assert_contains(&page, CANT_BE_OPENED);
    assert_lacks(&page, "Photograph your ID");

    // Neither can she act on A with it.
    let upload = upload_jpeg(&mut mallory, &a, sharp_photo()).await;
    assert_eq!(upload.status, 302);
    assert_eq!(upload.location(), flow_path(&a));
    assert_eq!(app.attempts_of(&a).await, 0);
    assert_eq!(app.status_of(&a).await, InquiryStatus::Pending);

    // Her own inquiry still opens with her cookie.
    assert_contains(
        &flow_page(&mut mallory, &b).await,
        "<h1 tabindex=\"-1\">Your details</h1>",
    );
}

#[tokio::test]
async fn details_posted_without_the_inquirys_cookie_change_nothing() {
    let app = spawn_app().await;
    let mut owner = app.browser();
    let id = start_inquiry(&mut owner).await;

    let mut stranger = app.browser();
    let response = submit_valid_details(&mut stranger, &id).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(response.location(), flow_path(&id));
    assert!(response.set_cookies().is_empty());

    let inquiry = app.engine.touch(&id).await.unwrap();
    assert_eq!(inquiry.status, InquiryStatus::Created);
    assert!(inquiry.fields_submitted_at.is_none());
    assert!(inquiry.field_draft.is_none());
    assert_eq!(app.event_names(&id).await, ["inquiry.created"]);
    assert_contains(
        &flow_page(&mut owner, &id).await,
        "<h1 tabindex=\"-1\">Your details</h1>",
    );
}

#[tokio::test]
async fn a_session_token_in_the_link_resumes_in_a_new_browser() {
    let app = spawn_app().await;
    let mut first = app.browser();
    let id = start_inquiry(&mut first).await;
    let token = first.cookies[&cookie_name(&id)].clone();

    let mut second = app.browser();
    let response = second
        .get(&format!("/verify?inquiry-id={id}&session-token={token}"))
        .await;
    assert_eq!(response.status, 200);
    assert_contains(&response.text(), "<h1 tabindex=\"-1\">Your details</h1>");
    let cookies = response.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(
        cookies[0].starts_with(&format!("{}={token};", cookie_name(&id))),
        "{}",
        cookies[0]
    );
    assert!(cookies[0].contains("HttpOnly"));

    // From now on the cookie alone opens it, and the steps work.
    assert_contains(
        &flow_page(&mut second, &id).await,
        "<h1 tabindex=\"-1\">Your details</h1>",
    );
    let response = submit_valid_details(&mut second, &id).await;
    assert_eq!(response.status, 302);
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);

    // A wrong token in the link opens nothing and sets nothing.
    let mut third = app.browser();
    let response = third
        .get(&format!("/verify?inquiry-id={id}&session-token=vst_wrong"))
        .await;
    assert_contains(&response.text(), CANT_BE_OPENED);
    assert!(response.set_cookies().is_empty());
}

#[tokio::test]
async fn the_hydrated_page_gets_a_redirect_header_instead_of_a_302() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let id = start_inquiry(&mut browser).await;
    let id_text = id.to_string();

    let response = browser
        .post_form_accepting(
            "/flow/details",
            ACCEPT_JSON,
            &[
                ("inquiry_id", &id_text),
                ("fields[name-first]", "Jane"),
                ("fields[name-last]", "Doe"),
                ("fields[birthdate]", "1990-01-31"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.header("serverfnredirect").is_some(),
        "{:?}",
        response.headers
    );
    assert_eq!(response.location(), flow_path(&id));
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);
    assert_eq!(
        app.event_names(&id).await,
        ["inquiry.created", "inquiry.started"]
    );
}

#[tokio::test]
async fn the_hydrated_upload_gets_its_reply_as_json() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_id_step(&app).await;

    let refused = browser
        .upload_photo_accepting(
            ACCEPT_JSON,
            &id.to_string(),
            "id.pdf",
            "application/pdf",
            b"%PDF-1.7\n",
        )
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text());
    let reply = serde_json::Value::from_str(&refused.text()).unwrap();
    assert_eq!(reply, serde_json::json!({ "error": "unsupported_type" }));

    let taken = browser
        .upload_photo_accepting(
            ACCEPT_JSON,
            &id.to_string(),
            "id.jpg",
            "image/jpeg",
            sharp_photo(),
        )
        .await;
    assert_eq!(taken.status, 200, "{}", taken.text());
    assert!(
        taken.header("serverfnredirect").is_some(),
        "{:?}",
        taken.headers
    );
    let reply = serde_json::Value::from_str(&taken.text()).unwrap();
    assert_eq!(reply, serde_json::json!({ "error": null }));
    assert_eq!(app.status_of(&id).await, InquiryStatus::Completed);
}

#[tokio::test]
async fn starting_an_unknown_template_creates_nothing() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let response = browser
        .post_form("/flow/start", &[("template_id", "itmpl_no_such_template")])
        .await;
    assert_eq!(response.status, 302);
    assert_eq!(
        response.location(),
        "/verify?inquiry-template-id=itmpl_no_such_template"
    );
    assert!(response.set_cookies().is_empty());
    assert_contains(
        &browser.get(response.location()).await.text(),
        "does not exist",
    );
    assert_eq!(app.count_rows("inquiries").await, 0);
    assert_eq!(app.count_rows("inquiry_sessions").await, 0);
}

#[tokio::test]
async fn unknown_and_malformed_inquiry_ids_cannot_be_opened() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    for id in [
        "inq_01M8DHXHHDE4AVBK7C0XV1PX6F",
        "garbage",
        "inq_%3Cscript%3E",
    ] {
        let response = browser.get(&format!("/verify?inquiry-id={id}")).await;
        assert_eq!(response.status, 200, "{id}");
        let page = response.text();
        assert_contains(&page, CANT_BE_OPENED);
        assert_lacks(&page, "inq_<script>");
    }
}

#[tokio::test]
async fn the_page_data_endpoint_also_needs_the_inquirys_cookie() {
    let app = spawn_app().await;
    let mut owner = app.browser();
    let id = start_inquiry(&mut owner).await;
    let id_text = id.to_string();
    let query = [("inquiry_id", id_text.as_str())];

    let mut stranger = app.browser();
    let refused = stranger
        .post_form_accepting("/flow/load", ACCEPT_JSON, &query)
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text());
    let reply: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(
        reply["Problem"]["title"],
        "This verification can't be opened here"
    );
    assert!(reply.get("Flow").is_none());

    let opened = owner
        .post_form_accepting("/flow/load", ACCEPT_JSON, &query)
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let reply: serde_json::Value = serde_json::from_slice(&opened.body).unwrap();
    assert_eq!(reply["Flow"]["inquiry_id"], id_text.as_str());
    assert!(reply["Flow"]["step"].get("Details").is_some(), "{reply}");
}

#[tokio::test]
async fn an_inquiry_past_its_time_shows_that_it_expired() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let app = spawn_app_with(EngineSettings::default(), clock.clone()).await;
    let mut browser = app.browser();
    let id = start_inquiry(&mut browser).await;

    clock.advance(time::Duration::hours(25));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">This verification has expired</h1>",
    );
    assert_eq!(app.status_of(&id).await, InquiryStatus::Expired);
    assert_eq!(
        app.event_names(&id).await,
        ["inquiry.created", "inquiry.expired"]
    );

    // Its steps are closed too.
    let response = submit_valid_details(&mut browser, &id).await;
    assert_eq!(response.status, 302);
    assert_eq!(
        response.location(),
        format!("{}&error=wrong_step", flow_path(&id))
    );
    assert_eq!(app.status_of(&id).await, InquiryStatus::Expired);
}

// ---------------------------------------------------------------------------------------------
// Templates that ask for the type of ID: choose, front, back, then every government-ID check
// ---------------------------------------------------------------------------------------------

const GOVERNMENT_ID_TEMPLATE: &str = "itmpl_kyc_government_id";

impl Browser {
    /// One side of the chosen document: the ID photo form with `side`.
    async fn upload_side(&mut self, inquiry_id: &str, side: &str, bytes: &[u8]) -> Response {
        const BOUNDARY: &str = "----VeritySideBoundary9Xq2";
        let mut body = Vec::new();
        for (name, value) in [("inquiry_id", inquiry_id), ("side", side)] {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"id-{side}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        self.request(
            "POST",
            "/flow/id-photo",
            ACCEPT_HTML,
            Some(&content_type),
            &body,
        )
        .await
    }
}

/// The front and back of a US driver licence of `Holder::sample()` (Alex Morgan, 1990-04-15).
fn licence_photos() -> &'static (Vec<u8>, Vec<u8>) {
    use checks::aamva::AamvaSubfile;
    use checks::fixtures::{aamva_payload, encode_jpeg, id_card_image, licence_back, Holder};
    static PHOTOS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PHOTOS.get_or_init(|| {
        let front = encode_jpeg(&id_card_image(1600, 1000), 85);
        let payload = aamva_payload(&Holder::sample(), "US", AamvaSubfile::DriverLicence);
        let back = encode_jpeg(&licence_back(1600, 1000, &payload), 85);
        (front, back)
    })
}

/// Starts an inquiry on the government-ID template and types the licence holder's details.
async fn at_the_choose_step(app: &TestApp) -> (Browser, InquiryId) {
    let mut browser = app.browser();
    let response = browser
        .post_form("/flow/start", &[("template_id", GOVERNMENT_ID_TEMPLATE)])
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    let id = InquiryId::parse(
        response
            .location()
            .strip_prefix("/verify?inquiry-id=")
            .expect("a redirect to the flow"),
    )
    .unwrap();
    let id_text = id.to_string();
    let response = browser
        .post_form(
            "/flow/details",
            &[
                ("inquiry_id", &id_text),
                ("fields[name-first]", "Alex"),
                ("fields[name-last]", "Morgan"),
                ("fields[birthdate]", "1990-04-15"),
            ],
        )
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    (browser, id)
}

async fn choose(browser: &mut Browser, id: &InquiryId, country: &str, class: &str) -> Response {
    let id = id.to_string();
    browser
        .post_form(
            "/flow/choose-id",
            &[
                ("inquiry_id", &id),
                ("country", country),
                ("id_class", class),
            ],
        )
        .await
}

#[tokio::test]
async fn a_licence_front_and_back_complete_the_flow_as_plain_form_posts() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_choose_step(&app).await;
    let (front, back) = licence_photos();

    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Choose your ID</h1>");
    assert_contains(&page, "action=\"/flow/choose-id\"");
    assert_contains(&page, "<label for=\"country\">Country</label>");
    assert_contains(&page, "<option value=\"US\"");
    assert_contains(&page, "United States");
    assert_contains(&page, "<option value=\"CA\"");
    assert_lacks(&page, "value=\"GB\"");
    assert_contains(&page, "<legend>Type of ID</legend>");
    assert_contains(&page, "name=\"id_class\" value=\"dl\"");
    assert_contains(&page, "name=\"id_class\" value=\"pp\"");
    assert_contains(&page, "Attempt 1 of 3");

    // A country the template does not offer is refused with a plain message; nothing is made.
    let refused = choose(&mut browser, &id, "GB", "dl").await;
    assert_eq!(refused.status, 302);
    assert_eq!(
        refused.location(),
        format!("{}&error=invalid_choice", flow_path(&id))
    );
    let page = browser
        .get(&format!("{}&error=invalid_choice", flow_path(&id)))
        .await
        .text();
    assert_contains(&page, "<h1 tabindex=\"-1\">Choose your ID</h1>");
    assert_contains(&page, "Please choose the country that issued your ID");
    assert_eq!(app.attempts_of(&id).await, 0);

    let chosen = choose(&mut browser, &id, "US", "dl").await;
    assert_eq!(chosen.status, 302, "{}", chosen.text());
    assert_eq!(chosen.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">Photograph the front of your ID</h1>",
    );
    assert_contains(&page, "from United States");
    assert_contains(&page, "name=\"side\" value=\"front\"");

    // The single-photo door is closed for this template: it would skip the document checks.
    let bypass = upload_jpeg(&mut browser, &id, front).await;
    assert_eq!(
        bypass.location(),
        format!("{}&error=wrong_step", flow_path(&id))
    );

    let uploaded = browser.upload_side(&id.to_string(), "front", front).await;
    assert_eq!(uploaded.status, 302, "{}", uploaded.text());
    assert_eq!(uploaded.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">Photograph the back of your ID</h1>",
    );
    assert_contains(&page, "name=\"side\" value=\"back\"");
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);

    let uploaded = browser.upload_side(&id.to_string(), "back", back).await;
    assert_eq!(uploaded.status, 302, "{}", uploaded.text());
    assert_eq!(uploaded.location(), flow_path(&id));
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Verification complete</h1>");
    assert_eq!(app.status_of(&id).await, InquiryStatus::Completed);
    assert_eq!(
        app.event_names(&id).await,
        [
            "inquiry.created",
            "inquiry.started",
            "verification.created",
            "verification.submitted",
            "verification.passed",
            "inquiry.completed"
        ]
    );
    let verifications = app.engine.verifications_of(&id).await.unwrap();
    assert_eq!(verifications.len(), 1);
    assert_eq!(verifications[0].country_code.as_deref(), Some("US"));
    assert_eq!(verifications[0].id_class.as_deref(), Some("dl"));
    assert!(verifications[0].back_document_id.is_some());
    assert!(verifications[0].extracted_sealed.is_some());
    let sides: Vec<String> = app
        .engine
        .documents_of(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.side)
        .collect();
    assert_eq!(sides, ["front", "back"]);
}

#[tokio::test]
async fn a_front_sent_as_the_back_gets_a_hint_and_a_new_attempt_passes() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_choose_step(&app).await;
    let (front, back) = licence_photos();
    let id_text = id.to_string();

    assert_eq!(choose(&mut browser, &id, "US", "dl").await.status, 302);
    assert_eq!(
        browser.upload_side(&id_text, "front", front).await.status,
        302
    );
    // The front again, as the back: no barcode to read.
    let uploaded = browser.upload_side(&id_text, "back", front).await;
    assert_eq!(uploaded.location(), flow_path(&id));
    assert_eq!(app.status_of(&id).await, InquiryStatus::Pending);

    // A new attempt starts at the choice, with what was chosen preselected and the hint shown.
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Choose your ID</h1>");
    assert_contains(&page, "Attempt 2 of 3");
    assert_contains(&page, "role=\"alert\"");
    assert_contains(&page, "barcode");
    let failed = &app.engine.verifications_of(&id).await.unwrap()[0];
    assert_eq!(failed.status.as_str(), "failed");
    let hints: Vec<&str> = failed
        .checks
        .iter()
        .filter(|check| check.fails_verification())
        .filter_map(|check| check.name.retry_hint_for(&check.reasons))
        .collect();
    assert!(!hints.is_empty());
    for hint in hints {
        let escaped = hint.replace('\'', "&#x27;");
        assert!(
            page.contains(hint) || page.contains(&escaped),
            "the page lacks the hint {hint:?}"
        );
    }

    assert_eq!(choose(&mut browser, &id, "US", "dl").await.status, 302);
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">Photograph the front of your ID</h1>",
    );
    assert_contains(&page, "Attempt 2 of 3");
    assert_eq!(
        browser.upload_side(&id_text, "front", front).await.status,
        302
    );
    assert_eq!(
        browser.upload_side(&id_text, "back", back).await.status,
        302
    );
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "<h1 tabindex=\"-1\">Verification complete</h1>");
    assert_eq!(app.status_of(&id).await, InquiryStatus::Completed);
    assert_eq!(app.attempts_of(&id).await, 2);
}

#[tokio::test]
async fn a_passport_needs_only_its_photo_page_and_a_back_is_refused() {
    let app = spawn_app().await;
    let (mut browser, id) = at_the_choose_step(&app).await;
    let (front, _) = licence_photos();
    let id_text = id.to_string();

    assert_eq!(choose(&mut browser, &id, "CA", "pp").await.status, 302);
    let page = flow_page(&mut browser, &id).await;
    assert_contains(&page, "photo page</h1>");
    assert_contains(&page, "from Canada");
    // There is no back to send.
    let refused = browser.upload_side(&id_text, "back", front).await;
    assert_eq!(
        refused.location(),
        format!("{}&error=wrong_step", flow_path(&id))
    );
    // Changing one's mind on the same attempt keeps a single attempt open.
    assert_eq!(choose(&mut browser, &id, "US", "id").await.status, 302);
    assert_eq!(app.attempts_of(&id).await, 1);
    let page = flow_page(&mut browser, &id).await;
    assert_contains(
        &page,
        "<h1 tabindex=\"-1\">Photograph the front of your ID</h1>",
    );
    assert_contains(&page, "ID card from United States");
}
