//! HTTP integration tests of the REST API at `/api/v1`, through the server's public door.
//!
//! Each test serves `server::router` on a random loopback port over a fresh data folder, seeds an
//! API key through the engine, and talks plain HTTP/1.1 to the server the way an integrator's
//! client does. The engine is used behind the door only to drive an inquiry through the flow
//! (details and an ID photo) and to check what the HTTP answers claim.

mod support;
use bytes::Bytes;
use domain::ids::InquiryId;
use engine::flow::FieldsOutcome;
use engine::{Engine, EngineSettings, SystemClock};
use serde_json::{json, Value};
use server::config::Settings;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use support::{raw_exchange, Response};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

const TEMPLATE: &str = "itmpl_basic_kyc";

/// A running server, its engine, a seeded API key and its data folder.
struct TestApp {
    addr: SocketAddr,
    engine: Engine,
    key: String,
    data_dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A server without a rate limit (so that long walks are never throttled).
async fn spawn_app() -> TestApp {
    spawn_app_with(&[("VERITY_API_RATE_LIMIT", "0")]).await
}

/// Serves the router on `127.0.0.1:0` over a fresh data folder, configured the way `verity
/// serve` is (settings from variables, the engine opened on them); `overrides` add variables.
async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let mut vars: HashMap<String, String> = HashMap::from([
        (
            "VERITY_DATA_DIR".to_owned(),
            data.path().display().to_string(),
        ),
        (
            "VERITY_TEMPLATES_DIR".to_owned(),
            templates.display().to_string(),
        ),
        ("LEPTOS_SITE_ADDR".to_owned(), addr.to_string()),
        (
            "LEPTOS_SITE_ROOT".to_owned(),
            data.path().join("site").display().to_string(),
        ),
        ("VERITY_PUBLIC_URL".to_owned(), format!("http://{addr}")),
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
    let router = server::router(engine.clone(), &settings);
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestApp {
        addr,
        engine,
        key,
        data_dir: settings.data_dir,
        server,
        _data: data,
    }
}

impl TestApp {
    /// A client with the seeded API key.
    fn api(&self) -> Client {
        Client {
            addr: self.addr,
            authorization: Some(format!("Bearer {}", self.key)),
        }
    }

    /// A client with the given `Authorization` header (or none).
    fn client_with(&self, authorization: Option<&str>) -> Client {
        Client {
            addr: self.addr,
            authorization: authorization.map(str::to_owned),
        }
    }

    /// Creates an inquiry from the example template with extra attributes; asserts 201.
    async fn create_inquiry(&self, attributes: Value) -> Value {
        let response = self
            .api()
            .post_json("/api/v1/inquiries", &inquiry_request(attributes))
            .await;
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()
    }

    /// Creates a plain inquiry and returns its id.
    async fn new_inquiry_id(&self) -> String {
        id_of(&self.create_inquiry(json!({})).await)
    }

    /// The inquiry as `GET /api/v1/inquiries/{id}` shows it.
    async fn inquiry(&self, id: &str) -> Value {
        let response = self.api().get(&format!("/api/v1/inquiries/{id}")).await;
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }

    /// The names of an inquiry's own events, oldest first, through the event feed.
    async fn event_names(&self, id: &str) -> Vec<String> {
        let response = self
            .api()
            .get(&format!(
                "/api/v1/events?filter[object-id]={id}&page[size]=100"
            ))
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        let mut names: Vec<String> = response.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["attributes"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.reverse();
        names
    }

    /// Takes an inquiry through the flow behind the door: valid details, then a sharp ID photo,
    /// which completes it with one verification and one document.
    async fn complete_through_the_flow(&self, id: &str) {
        let id = InquiryId::parse(id).unwrap();
        let fields = BTreeMap::from([
            ("name-first".to_owned(), "Jane".to_owned()),
            ("name-last".to_owned(), "Doe".to_owned()),
            ("birthdate".to_owned(), "1990-01-31".to_owned()),
        ]);
        assert_eq!(
            self.engine.submit_fields(&id, fields).await.unwrap(),
            FieldsOutcome::Accepted
        );
        let outcome = self
            .engine
            .submit_government_id(&id, Bytes::from_static(sharp_photo()))
            .await
            .unwrap();
        assert_eq!(outcome.inquiry_status.as_str(), "completed", "{outcome:?}");
    }

    /// Lists inquiries with a query and returns their ids in order.
    async fn list_ids(&self, query: &str) -> Vec<String> {
        let response = self.api().get(&format!("/api/v1/inquiries{query}")).await;
        assert_eq!(response.status, 200, "{query}: {}", response.text());
        ids_of(&response.json())
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

/// An API client: one connection per request, `Connection: close`.
#[derive(Debug, Clone)]
struct Client {
    addr: SocketAddr,
    authorization: Option<String>,
}

impl Client {
    async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None).await
    }

    async fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, &[], None).await
    }

    /// A POST without a body (the action endpoints).
    async fn post(&self, path: &str) -> Response {
        self.request("POST", path, &[], None).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.post_json_with(path, &[], body).await
    }

    async fn post_json_with(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let body = serde_json::to_vec(body).unwrap();
        self.request("POST", path, headers, Some(("application/json", &body)))
            .await
    }

    async fn patch_json(&self, path: &str, body: &Value) -> Response {
        let body = serde_json::to_vec(body).unwrap();
        self.request("PATCH", path, &[], Some(("application/json", &body)))
            .await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(authorization) = &self.authorization {
            head.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                if !content_type.is_empty() {
                    head.push_str(&format!("Content-Type: {content_type}\r\n"));
                }
                bytes
            }
            None => &[][..],
        };
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        raw_exchange(self.addr, &bytes).await
    }
}

/// Percent-encodes a query value (RFC 3339 times carry `:` and `+`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A browser visit to the hosted flow: follows redirects (up to 3), keeping cookies.
async fn visit_flow(addr: SocketAddr, path: &str) -> Response {
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut path = path.to_owned();
    for _ in 0..4 {
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html,application/xhtml+xml,*/*;q=0.8\r\nConnection: close\r\n"
        );
        if !cookies.is_empty() {
            let jar: Vec<String> = cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        head.push_str("\r\n");
        let response = raw_exchange(addr, head.as_bytes()).await;
        for cookie in response.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.trim().split_once('=') {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        match response.header("location") {
            Some(location) if (300..400).contains(&response.status) => {
                path = location
                    .strip_prefix(&format!("http://{addr}"))
                    .unwrap_or(location)
                    .to_owned();
            }
            _ => return response,
        }
    }
    panic!("too many redirects from {path}");
}

// ---------------------------------------------------------------------------------------------
// Helpers and assertions
// ---------------------------------------------------------------------------------------------

fn sharp_photo() -> &'static [u8] {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO.get_or_init(|| {
        checks::fixtures::encode_jpeg(&checks::fixtures::id_card_image(1600, 1000), 90)
    })
}

/// `{"data": {"type": "inquiry", "attributes": {"inquiry-template-id": …, …}}}`.
fn inquiry_request(attributes: Value) -> Value {
    let mut attributes = attributes;
    let object = attributes
        .as_object_mut()
        .expect("attributes are an object");
    if !object.contains_key("inquiry-template-version-id") {
        object
            .entry("inquiry-template-id")
            .or_insert_with(|| json!(TEMPLATE));
    }
    json!({ "data": { "type": "inquiry", "attributes": attributes } })
}

fn id_of(document: &Value) -> String {
    document["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no data.id in {document}"))
        .to_owned()
}

fn ids_of(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array in {list}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected to find {needle:?} in:\n{haystack}"
    );
}

/// Asserts the error envelope: the status, `{"errors": [{"status", "code", "title", "detail"}]}`
/// with every error carrying the same status, and the first one's code. Returns the document.
fn assert_error(response: &Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status,
        status,
        "expected {status} {code}, got: {}",
        response.text()
    );
    let document = response.json();
    let errors = document["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array in {document}"));
    assert!(!errors.is_empty(), "{document}");
    for error in errors {
        assert_eq!(error["status"], json!(status.to_string()), "{document}");
        assert!(
            error["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{document}"
        );
        assert!(error["detail"].is_string(), "{document}");
        assert!(error["code"].is_string(), "{document}");
    }
    assert_eq!(errors[0]["code"], json!(code), "{document}");
    assert!(document.get("data").is_none(), "{document}");
    document
}

/// Every key of an object is kebab-case: lowercase letters, digits and dashes.
fn assert_kebab_keys(object: &Value) {
    for key in object.as_object().unwrap().keys() {
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "`{key}` is not kebab-case in {object}"
        );
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_api_key_are_refused_with_401() {
    let app = spawn_app().await;

    // A key of the right shape from another installation is unknown here.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Engine::open_default(
        elsewhere.path(),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates"),
    )
    .await
    .unwrap();
    let (_, unknown_key) = other.create_api_key("elsewhere").await.unwrap();

    // The same key with its last character changed fails its checksum.
    let mut malformed = app.key.clone();
    let last = malformed.pop().unwrap();
    malformed.push(if last == 'a' { 'b' } else { 'a' });

    let refused = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer not-a-key".to_owned()),
        Some(format!("Bearer {malformed}")),
        Some(format!("Bearer {unknown_key}")),
        Some(format!("Basic {}", app.key)),
        Some(app.key.clone()),
    ];
    for authorization in &refused {
        let client = app.client_with(authorization.as_deref());
        for response in [
            client.get("/api/v1/inquiries").await,
            client.get("/api/v1/inquiry-templates").await,
            client
                .post_json("/api/v1/inquiries", &inquiry_request(json!({})))
                .await,
        ] {
            assert_error(&response, 401, "unauthorized");
        }
    }
    assert!(app.list_ids("").await.is_empty(), "nothing was created");

    // The seeded key works until it is revoked.
    assert_eq!(app.api().get("/api/v1/inquiries").await.status, 200);
    let record = app.engine.api_keys().await.unwrap().remove(0);
    assert!(app.engine.revoke_api_key(&record.id).await.unwrap());
    assert_error(
        &app.api().get("/api/v1/inquiries").await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.api()
            .post_json("/api/v1/inquiries", &inquiry_request(json!({})))
            .await,
        401,
        "unauthorized",
    );
}

// ---------------------------------------------------------------------------------------------
// Creating inquiries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_an_inquiry_returns_the_resource_and_a_session_token_that_opens_the_flow() {
    let app = spawn_app().await;
    let response = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({
                "note": "first try",
                "tags": ["vip", "web"],
                "redirect-uri": "http://localhost:8080/done",
            })),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let document = response.json();
    let data = &document["data"];
    assert_eq!(data["type"], "inquiry");
    let id = id_of(&document);
    assert!(id.starts_with("inq_"), "{id}");

    let attributes = &data["attributes"];
    assert_kebab_keys(attributes);
    assert_eq!(attributes["status"], "created");
    assert_eq!(attributes["note"], "first try");
    assert_eq!(attributes["tags"], json!(["vip", "web"]));
    assert_eq!(attributes["redirect-uri"], "http://localhost:8080/done");
    assert_eq!(attributes["reference-id"], Value::Null);
    assert_eq!(attributes["fields"], json!({}));
    assert_eq!(attributes["redacted-at"], Value::Null);
    for key in ["created-at", "updated-at", "expires-at"] {
        let at = attributes[key].as_str().unwrap_or_else(|| panic!("{key}"));
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| panic!("{key} is not RFC 3339: {at}"));
    }

    let relationships = &data["relationships"];
    assert_kebab_keys(relationships);
    assert_eq!(relationships["account"]["data"], Value::Null);
    assert_eq!(
        relationships["inquiry-template"]["data"],
        json!({ "type": "inquiry-template", "id": TEMPLATE })
    );
    let version = relationships["inquiry-template-version"]["data"]["id"]
        .as_str()
        .unwrap();
    assert!(version.starts_with("itmplv_"), "{version}");
    for many in ["verifications", "documents", "reports"] {
        assert_eq!(relationships[many]["data"], json!([]), "{many}");
    }
    assert_eq!(document["included"], json!([]));

    // The session token opens the hosted flow in a fresh browser.
    let token = document["meta"]["session-token"].as_str().unwrap();
    assert!(token.starts_with("vst_"), "{token}");
    let page = visit_flow(
        app.addr,
        &format!("/verify?inquiry-id={id}&session-token={token}"),
    )
    .await;
    assert_eq!(page.status, 200);
    contains(&page.text(), "Your details");

    // What was created is what a retrieve shows (without the one-time token).
    let retrieved = app.inquiry(&id).await;
    assert_eq!(retrieved["data"], document["data"]);
    assert_eq!(retrieved["meta"], json!({}));
}

#[tokio::test]
async fn a_reference_id_creates_its_account_once_and_account_id_links_to_it() {
    let app = spawn_app().await;
    let first = app
        .create_inquiry(json!({ "reference-id": "user-42" }))
        .await;
    assert_eq!(first["data"]["attributes"]["reference-id"], "user-42");
    let account = &first["data"]["relationships"]["account"]["data"];
    assert_eq!(account["type"], "account");
    let account_id = account["id"].as_str().unwrap().to_owned();
    assert!(account_id.starts_with("act_"), "{account_id}");

    let found = app
        .api()
        .get("/api/v1/accounts?filter[reference-id]=user-42")
        .await;
    assert_eq!(found.status, 200, "{}", found.text());
    let found = found.json();
    assert_eq!(ids_of(&found), [account_id.as_str()]);
    assert_eq!(found["data"][0]["attributes"]["reference-id"], "user-42");

    // The same reference-id again reuses the account.
    let second = app
        .create_inquiry(json!({ "reference-id": "user-42" }))
        .await;
    assert_eq!(
        second["data"]["relationships"]["account"]["data"]["id"],
        json!(account_id)
    );
    let all = app.api().get("/api/v1/accounts").await.json();
    assert_eq!(ids_of(&all), [account_id.as_str()]);

    // `account-id` links a new inquiry to the existing account.
    let third = app
        .create_inquiry(json!({ "account-id": account_id }))
        .await;
    assert_eq!(
        third["data"]["relationships"]["account"]["data"]["id"],
        json!(account_id)
    );

    // Not both at once, and not an account that does not exist.
    let both = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "reference-id": "user-42", "account-id": account_id })),
        )
        .await;
    let error = assert_error(&both, 422, "invalid_request");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/account-id"
    );
    let unknown = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "account-id": "act_01M8DHXHHDE4AVBK7C0XV1PX6F" })),
        )
        .await;
    assert_error(&unknown, 404, "not_found");
    assert_eq!(app.list_ids("").await.len(), 3);
}

#[tokio::test]
async fn an_inquiry_can_pin_a_template_version() {
    let app = spawn_app().await;
    let template = app
        .api()
        .get(&format!("/api/v1/inquiry-templates/{TEMPLATE}"))
        .await
        .json();
    let version = template["data"]["relationships"]["latest-published-version"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let pinned = app
        .create_inquiry(json!({ "inquiry-template-version-id": version }))
        .await;
    let relationships = &pinned["data"]["relationships"];
    assert_eq!(
        relationships["inquiry-template-version"]["data"]["id"],
        json!(version)
    );
    assert_eq!(relationships["inquiry-template"]["data"]["id"], TEMPLATE);

    let unknown = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &json!({ "data": { "attributes": {
                "inquiry-template-version-id": "itmplv_01M8DHXHHDE4AVBK7C0XV1PX6F" } } }),
        )
        .await;
    assert_error(&unknown, 404, "not_found");

    let neither = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &json!({ "data": { "attributes": { "note": "no template" } } }),
        )
        .await;
    let error = assert_error(&neither, 422, "invalid_request");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/inquiry-template-id"
    );
    assert_eq!(app.list_ids("").await.len(), 1);
}

#[tokio::test]
async fn prefilled_fields_are_validated_against_the_template() {
    let app = spawn_app().await;
    let created = app
        .create_inquiry(json!({ "fields": { "name-first": "Jane", "birthdate": "1990-01-31" } }))
        .await;
    assert_eq!(
        created["data"]["attributes"]["fields"],
        json!({ "name-first": "Jane", "birthdate": "1990-01-31" })
    );

    let unknown = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "fields": { "nickname": "JD", "name-first": "Jane" } })),
        )
        .await;
    let error = assert_error(&unknown, 422, "invalid_field");
    let errors = error["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{error}");
    assert_eq!(
        errors[0]["source"]["pointer"],
        "/data/attributes/fields/nickname"
    );

    let future = app
        .api()
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "fields": { "birthdate": "2999-01-01" } })),
        )
        .await;
    let error = assert_error(&future, 422, "invalid_field");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/fields/birthdate"
    );
    assert!(!error["errors"][0]["detail"].as_str().unwrap().is_empty());

    // Only the valid one was created.
    assert_eq!(app.list_ids("").await, [id_of(&created)]);
}

#[tokio::test]
async fn bad_create_requests_get_the_error_envelope_and_create_nothing() {
    let app = spawn_app().await;
    let api = app.api();

    let unknown_template = api
        .post_json(
            "/api/v1/inquiries",
            &json!({ "data": { "attributes": { "inquiry-template-id": "itmpl_no_such_template" } } }),
        )
        .await;
    assert_error(&unknown_template, 404, "not_found");

    let unknown_attribute = api
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "colour": "blue" })),
        )
        .await;
    assert_error(&unknown_attribute, 422, "invalid_request");

    let not_wrapped = api
        .post_json(
            "/api/v1/inquiries",
            &json!({ "inquiry-template-id": TEMPLATE }),
        )
        .await;
    assert_error(&not_wrapped, 422, "invalid_request");

    let bad_redirect = api
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "redirect-uri": "javascript:alert(1)" })),
        )
        .await;
    let error = assert_error(&bad_redirect, 422, "invalid_request");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/redirect-uri"
    );

    let malformed = api
        .request(
            "POST",
            "/api/v1/inquiries",
            &[],
            Some(("application/json", b"{\"data\": {\"attributes\": ")),
        )
        .await;
    assert_error(&malformed, 400, "invalid_json");

    // JSON:API objects only: serde alone would fill `data` or `attributes` from an array, by
    // position (the first attribute is the template id).
    for (body, status, code) in [
        (&b"[]"[..], 422, "invalid_request"),
        (
            br#"{"data": [{"inquiry-template-id": "itmpl_basic_kyc"}, null]}"#,
            422,
            "invalid_request",
        ),
        (
            br#"{"data": {"attributes": ["itmpl_basic_kyc", null, null, null, null, null, null, null]}}"#,
            422,
            "invalid_request",
        ),
        (
            br#"{"d\u0061ta": {"attributes": ["itmpl_basic_kyc", null, null, null, null, null, null, null]}}"#,
            422,
            "invalid_request",
        ),
        (br#"{"data": null}"#, 422, "invalid_request"),
        (br#"[1, 2,"#, 400, "invalid_json"),
        (
            br#"{"data": {"attributes": {"inquiry-template-id": "itmpl_basic_kyc"}}}}"#,
            400,
            "invalid_json",
        ),
    ] {
        let response = api
            .request(
                "POST",
                "/api/v1/inquiries",
                &[],
                Some(("application/json", body)),
            )
            .await;
        assert_error(&response, status, code);
    }

    let body = serde_json::to_vec(&inquiry_request(json!({}))).unwrap();
    let wrong_type = api
        .request(
            "POST",
            "/api/v1/inquiries",
            &[],
            Some(("text/plain", &body)),
        )
        .await;
    assert_error(&wrong_type, 415, "unsupported_media_type");
    let form = api
        .request(
            "POST",
            "/api/v1/inquiries",
            &[],
            Some(("application/x-www-form-urlencoded", b"data=1")),
        )
        .await;
    assert_error(&form, 415, "unsupported_media_type");
    let no_type = api
        .request("POST", "/api/v1/inquiries", &[], Some(("", &body)))
        .await;
    assert_error(&no_type, 415, "unsupported_media_type");

    // Just over 1 MiB of otherwise valid JSON.
    let padding = "x".repeat(1024 * 1024 + 16);
    let too_large = api
        .post_json(
            "/api/v1/inquiries",
            &inquiry_request(json!({ "note": padding })),
        )
        .await;
    assert_error(&too_large, 413, "payload_too_large");
    let too_large_idempotent = api
        .post_json_with(
            "/api/v1/inquiries",
            &[("Idempotency-Key", "big-1")],
            &inquiry_request(json!({ "note": padding })),
        )
        .await;
    assert_error(&too_large_idempotent, 413, "payload_too_large");

    assert!(app.list_ids("").await.is_empty());
    assert!(app.api().get("/api/v1/accounts").await.json()["data"]
        .as_array()
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retrieving, verifications, documents
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn retrieve_includes_verifications_documents_and_account_when_asked() {
    let app = spawn_app().await;
    let created = app
        .create_inquiry(json!({ "reference-id": "user-7" }))
        .await;
    let id = id_of(&created);
    app.complete_through_the_flow(&id).await;

    let plain = app.inquiry(&id).await;
    assert_eq!(plain["data"]["attributes"]["status"], "completed");
    assert_eq!(plain["included"], json!([]));
    let relationships = &plain["data"]["relationships"];
    let verifications = relationships["verifications"]["data"].as_array().unwrap();
    let documents = relationships["documents"]["data"].as_array().unwrap();
    assert_eq!(verifications.len(), 1, "{relationships}");
    assert_eq!(documents.len(), 1, "{relationships}");
    assert_eq!(verifications[0]["type"], "verification/government-id");
    assert_eq!(documents[0]["type"], "document/government-id");
    let attributes = &plain["data"]["attributes"];
    assert_eq!(
        attributes["fields"],
        json!({ "name-first": "Jane", "name-last": "Doe", "birthdate": "1990-01-31" })
    );
    for key in ["started-at", "completed-at"] {
        assert!(attributes[key].is_string(), "{key}: {attributes}");
    }

    let response = app
        .api()
        .get(&format!(
            "/api/v1/inquiries/{id}?include=verifications,documents,account"
        ))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let full = response.json();
    let included = full["included"].as_array().unwrap();
    assert_eq!(included.len(), 3, "{full}");
    let of_type = |kind: &str| {
        included
            .iter()
            .find(|resource| resource["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {full}"))
    };
    let verification = of_type("verification/government-id");
    assert_eq!(verification["id"], verifications[0]["id"]);
    assert_eq!(verification["attributes"]["status"], "passed");
    assert_eq!(
        verification["relationships"]["inquiry"]["data"]["id"],
        json!(id)
    );
    let document = of_type("document/government-id");
    assert_eq!(document["id"], documents[0]["id"]);
    let account = of_type("account");
    assert_eq!(account["id"], relationships["account"]["data"]["id"]);
    assert_eq!(account["attributes"]["reference-id"], "user-7");

    // One include at a time.
    let only_account = app
        .api()
        .get(&format!("/api/v1/inquiries/{id}?include=account"))
        .await
        .json();
    assert_eq!(only_account["included"].as_array().unwrap().len(), 1);
    assert_eq!(only_account["included"][0]["type"], "account");

    let unknown_include = app
        .api()
        .get(&format!(
            "/api/v1/inquiries/{id}?include=verifications,reports"
        ))
        .await;
    let error = assert_error(&unknown_include, 400, "invalid_parameter");
    assert_eq!(error["errors"][0]["source"]["parameter"], "include");

    for unknown in [
        "inq_01M8DHXHHDE4AVBK7C0XV1PX6F",
        "garbage",
        "act_01M8DHXHHDE4",
    ] {
        let response = app.api().get(&format!("/api/v1/inquiries/{unknown}")).await;
        assert_error(&response, 404, "not_found");
    }
}

#[tokio::test]
async fn verifications_and_documents_are_readable_and_files_download_exactly() {
    let app = spawn_app().await;
    let id = app.new_inquiry_id().await;
    app.complete_through_the_flow(&id).await;
    let inquiry = app.inquiry(&id).await;
    let verification_id = inquiry["data"]["relationships"]["verifications"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let document_id = inquiry["data"]["relationships"]["documents"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = app
        .api()
        .get(&format!("/api/v1/verifications/{verification_id}"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let verification = response.json();
    let data = &verification["data"];
    assert_eq!(data["type"], "verification/government-id");
    assert_eq!(data["id"], json!(verification_id));
    assert_kebab_keys(&data["attributes"]);
    assert_eq!(data["attributes"]["status"], "passed");
    assert_eq!(data["attributes"]["attempt"], 1);
    assert_eq!(
        data["relationships"]["document"]["data"]["id"],
        json!(document_id)
    );
    let checks = data["attributes"]["checks"].as_array().unwrap();
    let names: BTreeSet<&str> = checks
        .iter()
        .map(|check| check["name"].as_str().unwrap())
        .collect();
    for name in [
        "id_blur_detection",
        "id_glare_detection",
        "id_low_resolution_detection",
        "id_unprocessable_submission_detection",
    ] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    let blur = checks
        .iter()
        .find(|check| check["name"] == "id_blur_detection")
        .unwrap();
    assert_eq!(blur["status"], "passed");
    assert_eq!(blur["requirement"], "required");

    let response = app
        .api()
        .get(&format!("/api/v1/documents/{document_id}"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    let data = &document["data"];
    assert_eq!(data["type"], "document/government-id");
    assert_kebab_keys(&data["attributes"]);
    assert_eq!(data["relationships"]["inquiry"]["data"]["id"], json!(id));
    let file = &data["attributes"]["files"][0];
    assert_eq!(file["content-type"], "image/jpeg");
    assert_eq!(file["byte-size"], json!(sharp_photo().len()));
    let url = file["url"].as_str().unwrap();
    let file_id = file["id"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/api/v1/documents/{document_id}/files/{file_id}")
    );

    let download = app.api().get(url).await;
    assert_eq!(download.status, 200, "{}", download.text());
    assert_eq!(download.header("content-type"), Some("image/jpeg"));
    assert!(
        download.body == sharp_photo(),
        "the downloaded bytes differ"
    );

    // The download needs the key too, and ids must match.
    assert_error(&app.client_with(None).get(url).await, 401, "unauthorized");
    let wrong_file = app
        .api()
        .get(&format!("/api/v1/documents/{document_id}/files/back"))
        .await;
    assert_error(&wrong_file, 404, "not_found");
    for path in [
        "/api/v1/verifications/ver_01M8DHXHHDE4AVBK7C0XV1PX6F",
        "/api/v1/verifications/nope",
        "/api/v1/documents/doc_01M8DHXHHDE4AVBK7C0XV1PX6F",
        "/api/v1/documents/doc_01M8DHXHHDE4AVBK7C0XV1PX6F/files/front",
    ] {
        assert_error(&app.api().get(path).await, 404, "not_found");
    }
}

// ---------------------------------------------------------------------------------------------
// Listing and pagination
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_list_filter_narrows_the_inquiries() {
    let app = spawn_app().await;
    let alice = app.create_inquiry(json!({ "reference-id": "alice" })).await;
    let alice_id = id_of(&alice);
    let alice_account = alice["data"]["relationships"]["account"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let bob_id = id_of(&app.create_inquiry(json!({ "reference-id": "bob" })).await);
    let done_id = app.new_inquiry_id().await;
    app.complete_through_the_flow(done_id.as_str()).await;
    let expired_id = app.new_inquiry_id().await;
    assert_eq!(
        app.api()
            .post(&format!("/api/v1/inquiries/{expired_id}/expire"))
            .await
            .status,
        200
    );

    // Newest first without filters.
    assert_eq!(
        app.list_ids("").await,
        [
            expired_id.as_str(),
            done_id.as_str(),
            bob_id.as_str(),
            alice_id.as_str()
        ]
    );
    assert_eq!(
        app.list_ids("?filter[status]=created").await,
        [bob_id.as_str(), alice_id.as_str()]
    );
    assert_eq!(
        app.list_ids("?filter[status]=completed,expired").await,
        [expired_id.as_str(), done_id.as_str()]
    );
    assert_eq!(
        app.list_ids("?filter%5Bstatus%5D=completed").await,
        [done_id.as_str()]
    );
    assert!(app.list_ids("?filter[status]=approved").await.is_empty());
    assert_eq!(
        app.list_ids("?filter[reference-id]=alice").await,
        [alice_id.as_str()]
    );
    assert!(app.list_ids("?filter[reference-id]=carol").await.is_empty());
    assert_eq!(
        app.list_ids(&format!("?filter[account-id]={alice_account}"))
            .await,
        [alice_id.as_str()]
    );
    assert_eq!(
        app.list_ids(&format!("?filter[inquiry-template-id]={TEMPLATE}"))
            .await
            .len(),
        4
    );
    assert!(app
        .list_ids("?filter[inquiry-template-id]=itmpl_other")
        .await
        .is_empty());
    let between = encode(&rfc3339(between));
    assert_eq!(
        app.list_ids(&format!("?filter[created-before]={between}"))
            .await,
        [alice_id.as_str()]
    );
    assert_eq!(
        app.list_ids(&format!("?filter[created-after]={between}"))
            .await,
        [expired_id.as_str(), done_id.as_str(), bob_id.as_str()]
    );
    // Filters combine.
    assert_eq!(
        app.list_ids(&format!(
            "?filter[created-after]={between}&filter[status]=created"
        ))
        .await,
        [bob_id.as_str()]
    );
    let offset_time = encode("2000-01-01T00:00:00+02:00");
    assert_eq!(
        app.list_ids(&format!("?filter[created-after]={offset_time}"))
            .await
            .len(),
        4
    );

    // Items carry the full resource.
    let list = app.api().get("/api/v1/inquiries").await.json();
    assert_eq!(list["data"][0]["type"], "inquiry");
    assert_kebab_keys(&list["data"][0]["attributes"]);
    assert_eq!(list["links"], json!({ "prev": null, "next": null }));

    for (query, parameter) in [
        ("filter[status]=bogus", "filter[status]"),
        ("filter[account-id]=alice", "filter[account-id]"),
        (
            "filter[inquiry-template-id]=basic",
            "filter[inquiry-template-id]",
        ),
        ("filter[created-after]=yesterday", "filter[created-after]"),
        (
            "filter[created-before]=2026-13-01",
            "filter[created-before]",
        ),
    ] {
        let response = app.api().get(&format!("/api/v1/inquiries?{query}")).await;
        let error = assert_error(&response, 400, "invalid_parameter");
        assert_eq!(
            error["errors"][0]["source"]["parameter"], parameter,
            "{query}"
        );
    }
}

#[tokio::test]
async fn page_size_is_bounded_and_defaults_to_ten() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for _ in 0..11 {
        created.push(app.new_inquiry_id().await);
    }
    created.reverse();

    let first = app.api().get("/api/v1/inquiries").await.json();
    assert_eq!(ids_of(&first), created[..10]);
    assert_eq!(first["links"]["prev"], Value::Null);
    let next = first["links"]["next"].as_str().unwrap();
    let second = app.api().get(next).await.json();
    assert_eq!(ids_of(&second), created[10..]);
    assert_eq!(second["links"]["next"], Value::Null);

    assert_eq!(app.list_ids("?page[size]=1").await, created[..1]);
    assert_eq!(app.list_ids("?page[size]=100").await, created);

    for size in ["0", "101", "x", "-1", "", "1.5"] {
        let response = app
            .api()
            .get(&format!("/api/v1/inquiries?page[size]={size}"))
            .await;
        let error = assert_error(&response, 400, "invalid_parameter");
        assert_eq!(
            error["errors"][0]["source"]["parameter"], "page[size]",
            "{size}"
        );
    }
    for cursor in ["page[after]", "page[before]"] {
        let response = app
            .api()
            .get(&format!("/api/v1/inquiries?{cursor}=%3Cscript%3E"))
            .await;
        let error = assert_error(&response, 400, "invalid_parameter");
        assert_eq!(error["errors"][0]["source"]["parameter"], cursor);
    }
    for path in ["/api/v1/accounts", "/api/v1/events"] {
        let response = app.api().get(&format!("{path}?page[size]=101")).await;
        assert_error(&response, 400, "invalid_parameter");
    }
}

#[tokio::test]
async fn links_walk_250_inquiries_forward_and_back_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let mut created = Vec::with_capacity(250);
    for _ in 0..250 {
        created.push(app.new_inquiry_id().await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    // Forward through links.next; a filter given on the first page is kept in the links.
    let mut path =
        format!("/api/v1/inquiries?page[size]=100&filter[inquiry-template-id]={TEMPLATE}");
    let mut forward: Vec<Vec<String>> = Vec::new();
    let last_page = loop {
        let response = app.api().get(&path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let page = response.json();
        forward.push(ids_of(&page));
        if forward.len() == 1 {
            assert_eq!(page["links"]["prev"], Value::Null, "the first page");
        } else {
            assert!(page["links"]["prev"].is_string(), "{}", page["links"]);
        }
        match page["links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/api/v1/inquiries?"), "{next}");
                let query: Vec<(String, String)> =
                    serde_urlencoded::from_str(next.split_once('?').unwrap().1).unwrap();
                assert!(
                    query.contains(&("page[size]".into(), "100".into()))
                        && query.contains(&("filter[inquiry-template-id]".into(), TEMPLATE.into())),
                    "{next}"
                );
                path = next.to_owned();
            }
            None => break page,
        }
        assert!(forward.len() < 10, "links.next never ends");
    };
    let sizes: Vec<usize> = forward.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let walked: Vec<String> = forward.concat();
    assert_eq!(walked.len(), 250);
    assert_eq!(walked.iter().collect::<BTreeSet<_>>().len(), 250, "repeats");
    assert_eq!(walked, newest_first, "gaps or a wrong order");

    // Backwards from the last page through links.prev.
    let mut backward: Vec<Vec<String>> = vec![ids_of(&last_page)];
    let mut prev = last_page["links"]["prev"].as_str().map(str::to_owned);
    while let Some(path) = prev {
        let response = app.api().get(&path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let page = response.json();
        assert!(
            page["links"]["next"].is_string(),
            "a page reached backwards has a next page: {}",
            page["links"]
        );
        backward.push(ids_of(&page));
        prev = page["links"]["prev"].as_str().map(str::to_owned);
        assert!(backward.len() < 10, "links.prev never ends");
    }
    let sizes: Vec<usize> = backward.iter().map(Vec::len).collect();
    assert_eq!(sizes, [50, 100, 100]);
    backward.reverse();
    let walked_back: Vec<String> = backward.concat();
    assert_eq!(
        walked_back.iter().collect::<BTreeSet<_>>().len(),
        250,
        "repeats"
    );
    assert_eq!(walked_back, newest_first, "gaps or a wrong order");
}

// ---------------------------------------------------------------------------------------------
// Updating and deciding
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn patch_updates_fields_tags_and_note_while_open_and_409s_after() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create_inquiry(
            json!({ "note": "old", "tags": ["a"], "fields": { "name-last": "Doe" } }),
        )
        .await,
    );
    let path = format!("/api/v1/inquiries/{id}");
    let response = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "type": "inquiry", "id": id, "attributes": {
                "fields": { "name-first": "Jane", "birthdate": "1990-01-31" },
                "tags": ["vip", "manual"],
                "note": "checked by phone",
            } } }),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let attributes = &response.json()["data"]["attributes"];
    assert_eq!(
        attributes["fields"],
        json!({ "name-first": "Jane", "name-last": "Doe", "birthdate": "1990-01-31" })
    );
    assert_eq!(attributes["tags"], json!(["vip", "manual"]));
    assert_eq!(attributes["note"], "checked by phone");
    assert_eq!(attributes["status"], "created");

    // `null` clears the note; an absent attribute is left alone.
    let cleared = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "note": null } } }),
        )
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    let attributes = &cleared.json()["data"]["attributes"];
    assert_eq!(attributes["note"], Value::Null);
    assert_eq!(attributes["tags"], json!(["vip", "manual"]));
    assert_eq!(
        app.inquiry(&id).await["data"]["attributes"]["note"],
        Value::Null
    );

    let invalid = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "fields": { "birthdate": "2999-01-01" } } } }),
        )
        .await;
    let error = assert_error(&invalid, 422, "invalid_field");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/fields/birthdate"
    );
    let unknown_field = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "fields": { "shoe-size": "42" } } } }),
        )
        .await;
    let error = assert_error(&unknown_field, 422, "invalid_field");
    assert_eq!(
        error["errors"][0]["source"]["pointer"],
        "/data/attributes/fields/shoe-size"
    );
    let unknown_attribute = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "status": "approved" } } }),
        )
        .await;
    assert_error(&unknown_attribute, 422, "invalid_request");
    assert_eq!(
        app.inquiry(&id).await["data"]["attributes"]["fields"]["birthdate"],
        "1990-01-31"
    );

    let malformed = app
        .api()
        .request(
            "PATCH",
            &path,
            &[],
            Some(("application/json", b"{\"data\"")),
        )
        .await;
    assert_error(&malformed, 400, "invalid_json");
    let wrong_type = app
        .api()
        .request("PATCH", &path, &[], Some(("text/plain", b"{}")))
        .await;
    assert_error(&wrong_type, 415, "unsupported_media_type");

    let missing = app
        .api()
        .patch_json(
            "/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F",
            &json!({ "data": { "attributes": { "tags": [] } } }),
        )
        .await;
    assert_error(&missing, 404, "not_found");

    // Once completed (a terminal status that may still be approved) it no longer changes.
    app.complete_through_the_flow(&id).await;
    let before = app.inquiry(&id).await;
    let refused = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "tags": ["late"] } } }),
        )
        .await;
    let error = assert_error(&refused, 409, "conflict");
    assert_eq!(error["meta"]["current-status"], "completed");
    assert_eq!(app.inquiry(&id).await, before);

    assert_eq!(app.api().post(&format!("{path}/approve")).await.status, 200);
    let refused = app
        .api()
        .patch_json(
            &path,
            &json!({ "data": { "attributes": { "note": "late" } } }),
        )
        .await;
    let error = assert_error(&refused, 409, "conflict");
    assert_eq!(error["meta"]["current-status"], "approved");
}

/// Posts an action and asserts it moved the inquiry to `status` with `event` as its last event.
async fn assert_action(app: &TestApp, id: &str, action: &str, status: &str, event: &str) {
    let response = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/{action}"))
        .await;
    assert_eq!(response.status, 200, "{action}: {}", response.text());
    let document = response.json();
    assert_eq!(document["data"]["id"], json!(id));
    assert_eq!(document["data"]["attributes"]["status"], status, "{action}");
    assert_eq!(
        app.event_names(id).await.last().map(String::as_str),
        Some(event),
        "{action}"
    );
}

/// Posts an action that is illegal now and asserts the 409 and that nothing changed.
async fn assert_refused(app: &TestApp, id: &str, action: &str, current: &str) {
    let before = app.inquiry(id).await;
    let events_before = app.event_names(id).await;
    let response = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/{action}"))
        .await;
    let error = assert_error(&response, 409, "illegal_transition");
    assert_eq!(error["meta"]["current-status"], current, "{action}");
    assert_eq!(
        app.inquiry(id).await,
        before,
        "{action} changed the inquiry"
    );
    assert_eq!(
        app.event_names(id).await,
        events_before,
        "{action} wrote an event"
    );
}

#[tokio::test]
async fn decisions_follow_the_lifecycle_and_illegal_ones_change_nothing() {
    let app = spawn_app().await;

    // An open inquiry cannot be decided, only expired.
    let open = app.new_inquiry_id().await;
    for action in ["approve", "decline", "mark-for-review"] {
        assert_refused(&app, &open, action, "created").await;
    }
    assert_action(&app, &open, "expire", "expired", "inquiry.expired").await;
    let expired = app.inquiry(&open).await;
    assert!(expired["data"]["attributes"]["expired-at"].is_string());
    assert_refused(&app, &open, "expire", "expired").await;
    assert_action(
        &app,
        &open,
        "mark-for-review",
        "needs_review",
        "inquiry.marked-for-review",
    )
    .await;
    assert_refused(&app, &open, "mark-for-review", "needs_review").await;
    assert_refused(&app, &open, "expire", "needs_review").await;
    assert_action(&app, &open, "approve", "approved", "inquiry.approved").await;
    assert_refused(&app, &open, "approve", "approved").await;
    assert_action(&app, &open, "decline", "declined", "inquiry.declined").await;
    assert_refused(&app, &open, "decline", "declined").await;
    assert!(app.inquiry(&open).await["data"]["attributes"]["decisioned-at"].is_string());
    assert_eq!(
        app.event_names(&open).await,
        [
            "inquiry.created",
            "inquiry.expired",
            "inquiry.marked-for-review",
            "inquiry.approved",
            "inquiry.declined",
        ]
    );

    // A completed inquiry can be approved or declined directly.
    let done = app.new_inquiry_id().await;
    app.complete_through_the_flow(&done).await;
    assert_refused(&app, &done, "expire", "completed").await;
    assert_action(&app, &done, "decline", "declined", "inquiry.declined").await;

    for action in ["approve", "decline", "mark-for-review", "expire"] {
        let response = app
            .api()
            .post(&format!(
                "/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F/{action}"
            ))
            .await;
        assert_error(&response, 404, "not_found");
    }
}

// ---------------------------------------------------------------------------------------------
// Resume and one-time links
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resume_hands_out_a_new_session_token_while_open() {
    let app = spawn_app().await;
    let created = app.create_inquiry(json!({})).await;
    let id = id_of(&created);
    let original = created["meta"]["session-token"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/resume"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let resumed = response.json();
    assert_eq!(resumed["data"]["id"], json!(id));
    let token = resumed["meta"]["session-token"].as_str().unwrap();
    assert!(token.starts_with("vst_"), "{token}");
    assert_ne!(token, original);
    let page = visit_flow(
        app.addr,
        &format!("/verify?inquiry-id={id}&session-token={token}"),
    )
    .await;
    contains(&page.text(), "Your details");

    app.complete_through_the_flow(&id).await;
    let refused = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/resume"))
        .await;
    let error = assert_error(&refused, 409, "conflict");
    assert_eq!(error["meta"]["current-status"], "completed");
    assert_error(
        &app.api()
            .post("/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F/resume")
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn generate_one_time_link_returns_a_verify_code_url_while_open() {
    let app = spawn_app().await;
    let id = app.new_inquiry_id().await;
    let response = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/generate-one-time-link"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    assert_eq!(document["data"]["id"], json!(id));
    assert!(document["meta"].get("session-token").is_none());
    let link = document["meta"]["one-time-link"].as_str().unwrap();
    let prefix = format!("http://{}/verify?code=", app.addr);
    assert!(link.starts_with(&prefix), "{link}");
    assert!(link.len() > prefix.len() + 20, "{link}");

    // Each call makes a different link.
    let again = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/generate-one-time-link"))
        .await
        .json();
    assert_ne!(again["meta"]["one-time-link"], json!(link));

    app.complete_through_the_flow(&id).await;
    let refused = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/generate-one-time-link"))
        .await;
    let error = assert_error(&refused, 409, "conflict");
    assert_eq!(error["meta"]["current-status"], "completed");
}

#[tokio::test]
async fn a_one_time_link_opens_the_flow_once() {
    let app = spawn_app().await;
    let id = app.new_inquiry_id().await;
    let document = app
        .api()
        .post(&format!("/api/v1/inquiries/{id}/generate-one-time-link"))
        .await
        .json();
    let link = document["meta"]["one-time-link"].as_str().unwrap();
    let path = link
        .strip_prefix(&format!("http://{}", app.addr))
        .unwrap()
        .to_owned();

    let opened = visit_flow(app.addr, &path).await;
    assert_eq!(opened.status, 200);
    contains(&opened.text(), "Your details");

    let reused = visit_flow(app.addr, &path).await;
    let page = reused.text();
    contains(&page, "This link has already been used");
    assert!(!page.contains("Your details"), "{page}");
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_redacts_personal_data_and_files_but_keeps_the_record() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create_inquiry(json!({ "reference-id": "user-9", "note": "private" }))
            .await,
    );
    app.complete_through_the_flow(&id).await;
    let before = app.inquiry(&id).await;
    let document_id = before["data"]["relationships"]["documents"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = app
        .data_dir
        .join("documents")
        .join("inquiries")
        .join(&id)
        .join(format!("{document_id}.jpg"));
    assert!(stored.is_file(), "{} is missing", stored.display());
    let file_url = format!("/api/v1/documents/{document_id}/files/front");
    assert_eq!(app.api().get(&file_url).await.status, 200);

    let response = app.api().delete(&format!("/api/v1/inquiries/{id}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let redacted = response.json();
    let attributes = &redacted["data"]["attributes"];
    let redacted_at = attributes["redacted-at"].as_str().unwrap().to_owned();
    assert_eq!(attributes["fields"], json!({}));
    assert_eq!(attributes["note"], Value::Null);
    assert_eq!(attributes["status"], "completed");
    assert_eq!(redacted["data"]["id"], json!(id));
    assert_eq!(
        attributes["created-at"],
        before["data"]["attributes"]["created-at"]
    );
    assert_eq!(
        attributes["completed-at"],
        before["data"]["attributes"]["completed-at"]
    );
    assert_eq!(app.inquiry(&id).await["data"], redacted["data"]);

    assert_eq!(
        app.event_names(&id).await.last().map(String::as_str),
        Some("inquiry.redacted")
    );
    let events = app
        .api()
        .get(&format!(
            "/api/v1/events?filter[object-id]={id}&filter[name]=inquiry.redacted"
        ))
        .await
        .json();
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");

    // The file is gone: 410 through the API, and off the disk.
    let gone = app.api().get(&file_url).await;
    assert_error(&gone, 410, "redacted");
    assert!(!stored.exists(), "{} is still on disk", stored.display());
    let document = app
        .api()
        .get(&format!("/api/v1/documents/{document_id}"))
        .await
        .json();
    assert_eq!(
        document["data"]["attributes"]["files"][0]["url"],
        Value::Null
    );
    assert_eq!(
        document["data"]["attributes"]["redacted-at"],
        json!(redacted_at)
    );

    // Redacting again changes nothing; the links to the flow are closed.
    let again = app.api().delete(&format!("/api/v1/inquiries/{id}")).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        again.json()["data"]["attributes"]["redacted-at"],
        json!(redacted_at)
    );
    assert_eq!(
        app.event_names(&id)
            .await
            .iter()
            .filter(|name| *name == "inquiry.redacted")
            .count(),
        1
    );
    assert_error(
        &app.api()
            .delete("/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F")
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn an_open_inquiry_once_redacted_can_no_longer_be_resumed_or_changed() {
    let app = spawn_app().await;
    let id = id_of(
        &app.create_inquiry(json!({ "fields": { "name-first": "Jane" } }))
            .await,
    );
    let response = app.api().delete(&format!("/api/v1/inquiries/{id}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let attributes = &response.json()["data"]["attributes"];
    assert_eq!(attributes["status"], "created");
    assert_eq!(attributes["fields"], json!({}));

    for action in ["resume", "generate-one-time-link"] {
        let response = app
            .api()
            .post(&format!("/api/v1/inquiries/{id}/{action}"))
            .await;
        assert_error(&response, 409, "conflict");
    }
    let patch = app
        .api()
        .patch_json(
            &format!("/api/v1/inquiries/{id}"),
            &json!({ "data": { "attributes": { "fields": { "name-first": "Again" } } } }),
        )
        .await;
    assert_error(&patch, 409, "conflict");
}

// ---------------------------------------------------------------------------------------------
// Accounts, templates, events
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_are_created_once_per_reference_id_and_readable() {
    let app = spawn_app().await;
    let body = json!({ "data": { "type": "account", "attributes": { "reference-id": "acme-1" } } });
    let created = app.api().post_json("/api/v1/accounts", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let id = id_of(&created);
    assert!(id.starts_with("act_"), "{id}");
    assert_eq!(created["data"]["type"], "account");
    assert_kebab_keys(&created["data"]["attributes"]);
    assert_eq!(created["data"]["attributes"]["reference-id"], "acme-1");

    let existing = app.api().post_json("/api/v1/accounts", &body).await;
    assert_eq!(existing.status, 200, "{}", existing.text());
    assert_eq!(existing.json()["data"], created["data"]);

    let anonymous = app
        .api()
        .post_json("/api/v1/accounts", &json!({ "data": { "attributes": {} } }))
        .await;
    assert_eq!(anonymous.status, 201, "{}", anonymous.text());
    let anonymous_id = id_of(&anonymous.json());

    let retrieved = app.api().get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(retrieved.status, 200, "{}", retrieved.text());
    assert_eq!(retrieved.json()["data"], created["data"]);

    let list = app.api().get("/api/v1/accounts").await.json();
    assert_eq!(ids_of(&list), [anonymous_id, id.clone()]);
    let filtered = app
        .api()
        .get("/api/v1/accounts?filter[reference-id]=acme-1")
        .await
        .json();
    assert_eq!(ids_of(&filtered), [id]);
    let page = app.api().get("/api/v1/accounts?page[size]=1").await.json();
    assert_eq!(ids_of(&page).len(), 1);
    assert!(page["links"]["next"].is_string());

    assert_error(
        &app.api()
            .get("/api/v1/accounts/act_01M8DHXHHDE4AVBK7C0XV1PX6F")
            .await,
        404,
        "not_found",
    );
    let empty_reference = app
        .api()
        .post_json(
            "/api/v1/accounts",
            &json!({ "data": { "attributes": { "reference-id": "" } } }),
        )
        .await;
    assert_error(&empty_reference, 422, "invalid_request");
    let unknown_attribute = app
        .api()
        .post_json(
            "/api/v1/accounts",
            &json!({ "data": { "attributes": { "email": "a@example.com" } } }),
        )
        .await;
    assert_error(&unknown_attribute, 422, "invalid_request");
}

#[tokio::test]
async fn templates_show_their_current_version() {
    let app = spawn_app().await;
    let current = app
        .engine
        .templates()
        .current(&domain::ids::TemplateId::parse(TEMPLATE).unwrap())
        .unwrap()
        .version_id
        .to_string();

    let response = app.api().get("/api/v1/inquiry-templates").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let list = response.json();
    assert!(ids_of(&list).contains(&TEMPLATE.to_owned()), "{list}");
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|template| template["id"] == TEMPLATE)
        .unwrap()
        .clone();

    let response = app
        .api()
        .get(&format!("/api/v1/inquiry-templates/{TEMPLATE}"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let template = response.json();
    let data = &template["data"];
    assert_eq!(data, &listed);
    assert_eq!(data["type"], "inquiry-template");
    assert_kebab_keys(&data["attributes"]);
    assert_eq!(data["attributes"]["name"], "Basic KYC");
    assert_eq!(data["attributes"]["expires-after-hours"], 24);
    let keys: Vec<&str> = data["attributes"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["name-first", "name-last", "birthdate"]);
    assert_eq!(
        data["attributes"]["verifications"],
        json!([{ "type": "government-id", "max-attempts": 3 }])
    );
    assert_eq!(
        data["relationships"]["latest-published-version"]["data"],
        json!({ "type": "inquiry-template-version", "id": current })
    );

    // New inquiries use that version.
    let inquiry = app.create_inquiry(json!({})).await;
    assert_eq!(
        inquiry["data"]["relationships"]["inquiry-template-version"]["data"]["id"],
        json!(current)
    );

    for unknown in ["itmpl_no_such_template", "basic_kyc"] {
        let response = app
            .api()
            .get(&format!("/api/v1/inquiry-templates/{unknown}"))
            .await;
        assert_error(&response, 404, "not_found");
    }
}

#[tokio::test]
async fn the_event_feed_filters_pages_and_retrieves() {
    let app = spawn_app().await;
    let id = app.new_inquiry_id().await;
    app.complete_through_the_flow(&id).await;
    let other = app.new_inquiry_id().await;

    let all = app.api().get("/api/v1/events?page[size]=100").await;
    assert_eq!(all.status, 200, "{}", all.text());
    let all = all.json();
    let all_ids = ids_of(&all);
    assert!(all_ids.len() >= 5, "{all}");
    let mut sorted = all_ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all_ids, sorted, "the feed is newest first");
    let first = &all["data"][0];
    assert_eq!(first["type"], "event");
    assert_kebab_keys(&first["attributes"]);
    assert_eq!(first["attributes"]["name"], "inquiry.created");
    assert_eq!(
        first["relationships"]["object"]["data"],
        json!({ "type": "inquiry", "id": other })
    );

    let created = app
        .api()
        .get("/api/v1/events?filter[name]=inquiry.created")
        .await
        .json();
    let objects: Vec<&str> = created["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            assert_eq!(event["attributes"]["name"], "inquiry.created");
            event["relationships"]["object"]["data"]["id"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(objects, [other.as_str(), id.as_str()]);
    let two_names = app
        .api()
        .get("/api/v1/events?filter[name]=inquiry.created,inquiry.completed")
        .await
        .json();
    assert_eq!(
        two_names["data"].as_array().unwrap().len(),
        3,
        "{two_names}"
    );

    assert_eq!(
        app.event_names(&id).await,
        ["inquiry.created", "inquiry.started", "inquiry.completed"]
    );
    let verification_id = app.inquiry(&id).await["data"]["relationships"]["verifications"]["data"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let verification_events = app.event_names(&verification_id).await;
    assert!(
        verification_events.contains(&"verification.passed".to_owned()),
        "{verification_events:?}"
    );

    // Page by page through links.next, the same events.
    let mut path = "/api/v1/events?page[size]=2".to_owned();
    let mut walked = Vec::new();
    loop {
        let page = app.api().get(&path).await.json();
        walked.extend(ids_of(&page));
        match page["links"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
        assert!(walked.len() <= all_ids.len(), "links.next never ends");
    }
    assert_eq!(walked, all_ids);

    let event_id = &all_ids[all_ids.len() - 1];
    let response = app.api().get(&format!("/api/v1/events/{event_id}")).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let event = response.json();
    assert_eq!(event["data"], all["data"][all_ids.len() - 1]);
    assert_eq!(
        event["data"]["attributes"]["payload"]["data"]["id"],
        json!(id)
    );
    assert_eq!(event["data"]["attributes"]["sequence"], 1);

    for unknown in ["evt_01M8DHXHHDE4AVBK7C0XV1PX6F", "nope"] {
        assert_error(
            &app.api().get(&format!("/api/v1/events/{unknown}")).await,
            404,
            "not_found",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Routing errors, idempotency, rate limit, OpenAPI
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_the_error_envelope() {
    let app = spawn_app().await;
    for client in [app.api(), app.client_with(None)] {
        for path in [
            "/api/v1/nothing-here",
            "/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F/nothing",
            "/api/v2/inquiries",
            "/api",
            "/api/v1/",
            "/api/v1",
            "/api/v1/inquiries/",
            "/api//x",
        ] {
            let response = client.get(path).await;
            let status = response.status;
            // Unauthenticated requests may be refused before routing; both are enveloped.
            if client.authorization.is_some() || status == 404 {
                assert_error(&response, 404, "not_found");
            } else {
                assert_error(&response, 401, "unauthorized");
            }
        }
    }

    let api = app.api();
    for (method, path) in [
        ("PUT", "/api/v1/inquiries"),
        ("DELETE", "/api/v1/inquiries"),
        ("POST", "/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F"),
        (
            "GET",
            "/api/v1/inquiries/inq_01M8DHXHHDE4AVBK7C0XV1PX6F/approve",
        ),
        ("DELETE", "/api/v1/accounts"),
        ("PATCH", "/api/v1/events"),
    ] {
        let response = api.request(method, path, &[], None).await;
        assert_error(&response, 405, "method_not_allowed");
        assert!(response.header("allow").is_some(), "{method} {path}");
    }
}

#[tokio::test]
async fn the_api_root_with_a_trailing_slash_gets_the_error_envelope() {
    let app = spawn_app().await;
    for client in [app.api(), app.client_with(None)] {
        assert_error(&client.get("/api/").await, 404, "not_found");
        let response = client
            .request("POST", "/api/", &[], Some(("application/json", b"{}")))
            .await;
        assert_error(&response, 404, "not_found");
    }
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_response() {
    let app = spawn_app().await;
    let api = app.api();
    let body = inquiry_request(json!({ "reference-id": "idem-1" }));
    let first = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-1")], &body)
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);

    let replay = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-1")], &body)
        .await;
    assert_eq!(replay.status, 201, "{}", replay.text());
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);
    assert!(replay
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json")));
    let id = id_of(&first.json());
    assert_eq!(app.list_ids("").await, [id.as_str()]);

    // Same key, another body: refused, nothing created.
    let other = inquiry_request(json!({ "reference-id": "idem-2" }));
    let reused = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-1")], &other)
        .await;
    assert_error(&reused, 422, "idempotency_key_reused");
    assert_eq!(app.list_ids("").await, [id.as_str()]);

    // A failure is replayed too (its status and body).
    let bad = inquiry_request(json!({ "fields": { "nickname": "x" } }));
    let refused = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-bad")], &bad)
        .await;
    assert_error(&refused, 422, "invalid_field");
    let refused_again = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-bad")], &bad)
        .await;
    assert_error(&refused_again, 422, "invalid_field");
    assert_eq!(refused_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(refused_again.body, refused.body);

    // Action endpoints and accounts accept the header as well.
    let action = format!("/api/v1/inquiries/{id}/generate-one-time-link");
    let link = api
        .request("POST", &action, &[("Idempotency-Key", "link-1")], None)
        .await;
    assert_eq!(link.status, 200, "{}", link.text());
    let link_again = api
        .request("POST", &action, &[("Idempotency-Key", "link-1")], None)
        .await;
    assert_eq!(link_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(link_again.body, link.body);

    // A different key creates a second inquiry; another API key has its own keys.
    let second = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-2")], &body)
        .await;
    assert_eq!(second.status, 201);
    assert_ne!(id_of(&second.json()), id);
    let (_, other_key) = app.engine.create_api_key("other").await.unwrap();
    let other_client = app.client_with(Some(&format!("Bearer {other_key}")));
    let third = other_client
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-1")], &body)
        .await;
    assert_eq!(third.status, 201, "{}", third.text());
    assert_eq!(third.header("idempotent-replayed"), None);
    assert_eq!(app.list_ids("").await.len(), 3);

    // The same key on another endpoint is another request.
    let approve = api
        .request(
            "POST",
            &format!("/api/v1/inquiries/{id}/approve"),
            &[("Idempotency-Key", "link-1")],
            None,
        )
        .await;
    assert_error(&approve, 422, "idempotency_key_reused");

    // A request refused before it ran (too large) does not use up its key.
    let padding = "x".repeat(1024 * 1024 + 16);
    let too_large = api
        .post_json_with(
            "/api/v1/inquiries",
            &[("Idempotency-Key", "key-3")],
            &inquiry_request(json!({ "note": padding })),
        )
        .await;
    assert_error(&too_large, 413, "payload_too_large");
    let fits = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "key-3")], &body)
        .await;
    assert_eq!(fits.status, 201, "{}", fits.text());
    assert_eq!(app.list_ids("").await.len(), 4);

    // An empty key is refused.
    let empty = api
        .post_json_with("/api/v1/inquiries", &[("Idempotency-Key", "")], &body)
        .await;
    assert_error(&empty, 400, "invalid_parameter");
}

/// Inquiry creates insert a reference-id's account without reading first; the writer refuses the
/// insert when the account exists (another create made it first), and that create tries again.
/// Concurrent creates share one commit, where a refused batch must not undo the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_shared_reference_ids_make_one_account_each() {
    let app = spawn_app().await;
    let references = ["shared-a", "shared-b", "shared-c"];
    let mut tasks = Vec::new();
    for round in 0..30 {
        let api = app.api();
        let reference = references[round % references.len()];
        tasks.push(tokio::spawn(async move {
            let body = inquiry_request(json!({ "reference-id": reference }));
            (reference, api.post_json("/api/v1/inquiries", &body).await)
        }));
    }
    let mut account_of = std::collections::BTreeMap::new();
    let mut inquiries = BTreeSet::new();
    for task in tasks {
        let (reference, response) = task.await.unwrap();
        assert_eq!(response.status, 201, "{}", response.text());
        let document = response.json();
        inquiries.insert(id_of(&document));
        let account = document["data"]["relationships"]["account"]["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let first = account_of
            .entry(reference)
            .or_insert_with(|| account.clone());
        assert_eq!(*first, account, "one account for {reference}");
    }
    assert_eq!(inquiries.len(), 30);
    for reference in references {
        let found = app
            .api()
            .get(&format!(
                "/api/v1/accounts?filter[reference-id]={reference}"
            ))
            .await
            .json();
        assert_eq!(ids_of(&found), [account_of[reference].as_str()]);
        let listed = app
            .list_ids(&format!("?filter[reference-id]={reference}"))
            .await;
        assert_eq!(listed.len(), 10, "{reference}: {listed:?}");
    }
    // Once read, an account is known: a later create reuses it as well.
    let later = app
        .create_inquiry(json!({ "reference-id": "shared-a" }))
        .await;
    assert_eq!(
        later["data"]["relationships"]["account"]["data"]["id"],
        json!(account_of["shared-a"])
    );
    let all = app.api().get("/api/v1/accounts").await.json();
    assert_eq!(ids_of(&all).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_identical_posts_create_exactly_one_inquiry() {
    let app = spawn_app().await;
    let body = inquiry_request(json!({ "reference-id": "race-1", "tags": ["race"] }));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let api = app.api();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            api.post_json_with(
                "/api/v1/inquiries",
                &[("Idempotency-Key", "concurrent-1")],
                &body,
            )
            .await
        }));
    }
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    let mut ids = BTreeSet::new();
    let mut bodies = BTreeSet::new();
    let mut originals = 0;
    for response in &responses {
        assert_eq!(response.status, 201, "{}", response.text());
        ids.insert(id_of(&response.json()));
        bodies.insert(response.body.clone());
        if response.header("idempotent-replayed").is_none() {
            originals += 1;
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(bodies.len(), 1, "every response is the same body");
    assert_eq!(originals, 1, "exactly one response was not a replay");

    let listed = app.list_ids("").await;
    assert_eq!(listed, ids.into_iter().collect::<Vec<_>>());
    let accounts = app.api().get("/api/v1/accounts").await.json();
    assert_eq!(accounts["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn over_the_rate_limit_a_key_gets_429_with_retry_after() {
    let app = spawn_app_with(&[
        ("VERITY_API_RATE_LIMIT", "1"),
        ("VERITY_API_RATE_BURST", "3"),
    ])
    .await;
    let api = app.api();
    for _ in 0..3 {
        let response = api.get("/api/v1/inquiries").await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let limited = api.get("/api/v1/inquiries").await;
    assert_error(&limited, 429, "rate_limited");
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    // Another key has its own bucket.
    let (_, other_key) = app.engine.create_api_key("other").await.unwrap();
    let other = app.client_with(Some(&format!("Bearer {other_key}")));
    assert_eq!(other.get("/api/v1/inquiries").await.status, 200);

    // After Retry-After the key may send again.
    tokio::time::sleep(Duration::from_millis(1100 * retry_after)).await;
    assert_eq!(api.get("/api/v1/inquiries").await.status, 200);
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let response = app.client_with(None).get("/openapi.json").await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/v1/inquiries",
        "/api/v1/inquiries/{id}",
        "/api/v1/inquiries/{id}/approve",
        "/api/v1/inquiries/{id}/resume",
        "/api/v1/inquiries/{id}/generate-one-time-link",
        "/api/v1/accounts",
        "/api/v1/inquiry-templates/{id}",
        "/api/v1/verifications/{id}",
        "/api/v1/documents/{id}/files/{file_id}",
        "/api/v1/events",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(paths["/api/v1/inquiries"].get("post").is_some());
    assert!(paths["/api/v1/inquiries"].get("get").is_some());
    assert!(
        document["components"]["securitySchemes"]["api_key"].is_object(),
        "{}",
        document["components"]["securitySchemes"]
    );
}

#[tokio::test]
async fn an_internal_failure_is_a_500_envelope_without_internal_detail() {
    let app = spawn_app().await;
    let id = app.new_inquiry_id().await;
    app.complete_through_the_flow(&id).await;
    let document_id = app.inquiry(&id).await["data"]["relationships"]["documents"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The stored file disappears behind the server's back.
    let stored = app
        .data_dir
        .join("documents")
        .join("inquiries")
        .join(&id)
        .join(format!("{document_id}.jpg"));
    std::fs::remove_file(&stored).unwrap();

    let response = app
        .api()
        .get(&format!("/api/v1/documents/{document_id}/files/front"))
        .await;
    let error = assert_error(&response, 500, "internal_error");
    let text = response.text();
    for secret in [
        "documents",
        "inquiries/",
        ".jpg",
        "No such file",
        app.data_dir.to_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked in {error}");
    }
}

#[tokio::test]
async fn redaction_also_erases_personal_data_from_idempotent_replays() {
    let app = spawn_app().await;
    let api = app.api();
    let body = inquiry_request(json!({
        "note": "called from +44 20 7946 0000",
        "fields": { "name-first": "Jane", "name-last": "Doe", "birthdate": "1990-01-31" },
    }));
    let first = api
        .post_json_with(
            "/api/v1/inquiries",
            &[("Idempotency-Key", "redact-1")],
            &body,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let id = id_of(&first.json());
    let redacted = api.delete(&format!("/api/v1/inquiries/{id}")).await;
    assert_eq!(redacted.status, 200, "{}", redacted.text());

    let replay = api
        .post_json_with(
            "/api/v1/inquiries",
            &[("Idempotency-Key", "redact-1")],
            &body,
        )
        .await;
    let text = replay.text();
    for personal in ["Jane", "Doe", "1990-01-31", "7946"] {
        assert!(
            !text.contains(personal),
            "{personal:?} is still served after redaction: {text}"
        );
    }
}
