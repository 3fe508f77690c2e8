//! Webhooks through the server's public door: the `/api/v1/webhooks` resource, and deliveries
//! to a real HTTP receiver on loopback, signed the Standard Webhooks way.
//!
//! Each test serves `server::router` on a random loopback port over a fresh data folder and
//! starts the background work (delivery worker, scheduler) the way `verity serve` does, with a
//! fast retry schedule. Inquiries are created through the API and taken through the hosted flow
//! over HTTP (details, then an ID photo), so every event is one a real integration would get.
//! Signatures are checked in Rust and, in `the_official_library_verifies_every_delivery`, by the
//! Standard Webhooks Python library (`$VERITY_PYTHON`, see `scripts/webhooks-venv.sh`).

mod support;
use engine::{Clock, Engine, EngineSettings, ManualClock, SystemClock};
use serde_json::{json, Value};
use server::config::Settings;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use support::{
    api_request, base64_decode, base64_encode, flow_details_request, flow_photo_request,
    hmac_sha256, raw_exchange, webhook_signature, Delivery, Receiver, Response,
};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

const TEMPLATE: &str = "itmpl_basic_kyc";
/// Fast enough for tests: five attempts within about three seconds.
const FAST_SCHEDULE: &str = "0.2,0.4,0.8,1.6";
/// How long a test waits for deliveries that should come within a second or two.
const WAIT: Duration = Duration::from_secs(15);

/// A running server with its background work, its engine, a seeded API key and its data folder.
struct TestApp {
    addr: SocketAddr,
    engine: Engine,
    key: String,
    server: tokio::task::JoinHandle<()>,
    /// The guard `server::background::start` returns: dropping it stops the worker and the
    /// scheduler. Kept as `Any` so that these tests do not depend on its type's name.
    _background: Box<dyn std::any::Any>,
    _data: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn spawn_app() -> TestApp {
    spawn_app_with(&[], Arc::new(SystemClock)).await
}

/// Serves the router on `127.0.0.1:0` over a fresh data folder, configured the way `verity
/// serve` is (settings from variables, the engine opened on them, the background work started);
/// `overrides` add or replace variables.
async fn spawn_app_with(overrides: &[(&str, &str)], clock: Arc<dyn Clock>) -> TestApp {
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
        ("VERITY_API_RATE_LIMIT".to_owned(), "0".to_owned()),
        (
            "VERITY_WEBHOOK_RETRY_SCHEDULE".to_owned(),
            FAST_SCHEDULE.to_owned(),
        ),
        ("VERITY_SCHEDULER_INTERVAL_MS".to_owned(), "100".to_owned()),
    ]);
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let settings = Settings::from_sources(|name| vars.get(name).cloned()).unwrap();
    let engine = Engine::open_local(
        &settings.data_dir,
        settings.database_url.as_deref(),
        &settings.templates_dir,
        clock,
        EngineSettings::default(),
    )
    .await
    .unwrap();
    let (_record, key) = engine.create_api_key("test").await.unwrap();
    let background = server::background::start(engine.clone(), &settings);
    let router = server::router(engine.clone(), &settings);
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestApp {
        addr,
        engine,
        key,
        server,
        _background: Box::new(background),
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

    async fn get(&self, path: &str) -> Response {
        self.api("GET", path, None).await
    }

    /// `GET`, asserting 200; the document.
    async fn get_ok(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        response.json()
    }

    /// Registers a webhook; asserts 201 and returns the document (with `meta.secret`).
    async fn create_webhook(&self, url: &str, events: Value) -> Value {
        let response = self
            .api(
                "POST",
                "/api/v1/webhooks",
                Some(&webhook_request(
                    json!({ "url": url, "enabled-events": events }),
                )),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()
    }

    /// Registers a webhook; its id and secret.
    async fn new_webhook(&self, url: &str, events: Value) -> (String, String) {
        let document = self.create_webhook(url, events).await;
        (id_of(&document), secret_of(&document))
    }

    async fn webhook(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/v1/webhooks/{id}")).await
    }

    /// Creates an inquiry from `template` through the API; its id and session token.
    async fn create_inquiry_from(&self, template: &str) -> (String, String) {
        let body = json!({ "data": { "type": "inquiry", "attributes": { "inquiry-template-id": template } } });
        let response = self.api("POST", "/api/v1/inquiries", Some(&body)).await;
        assert_eq!(response.status, 201, "{}", response.text());
        let document = response.json();
        let token = document["meta"]["session-token"]
            .as_str()
            .unwrap_or_else(|| panic!("no session token in {document}"))
            .to_owned();
        (id_of(&document), token)
    }

    async fn create_inquiry(&self) -> (String, String) {
        self.create_inquiry_from(TEMPLATE).await
    }

    /// Takes an inquiry through the hosted flow over HTTP: valid details, then a sharp ID photo.
    async fn complete_flow(&self, id: &str, token: &str) {
        let details = raw_exchange(self.addr, &flow_details_request(self.addr, id, token)).await;
        assert_eq!(details.status, 302, "{}", details.text());
        assert_eq!(self.inquiry_status(id).await, "pending");
        let photo = raw_exchange(
            self.addr,
            &flow_photo_request(self.addr, id, token, sharp_photo()),
        )
        .await;
        assert_eq!(photo.status, 302, "{}", photo.text());
        assert!(!photo.location().contains("error="), "{}", photo.location());
    }

    async fn inquiry(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/v1/inquiries/{id}")).await
    }

    async fn inquiry_status(&self, id: &str) -> String {
        self.inquiry(id).await["data"]["attributes"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every event the feed lists for one object (or all, with `None`), oldest first.
    async fn events(&self, object_id: Option<&str>) -> Vec<Value> {
        let mut path = match object_id {
            Some(id) => format!("/api/v1/events?filter[object-id]={id}&page[size]=100"),
            None => "/api/v1/events?page[size]=100".to_owned(),
        };
        let mut events = Vec::new();
        loop {
            let page = self.get_ok(&path).await;
            events.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["links"]["next"].as_str() {
                Some(next) => path = next.to_owned(),
                None => break,
            }
        }
        events.reverse();
        events
    }

    /// The ids of one object's events, oldest first.
    async fn event_ids_of(&self, object_id: &str) -> Vec<String> {
        self.events(Some(object_id))
            .await
            .iter()
            .map(|event| event["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The id of an inquiry's (first) verification.
    async fn verification_of(&self, inquiry_id: &str) -> String {
        self.inquiry(inquiry_id).await["data"]["relationships"]["verifications"]["data"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{inquiry_id} has no verification"))
            .to_owned()
    }

    /// Every attempt `GET /api/v1/webhooks/{id}/deliveries{query}` lists, newest first, walking
    /// `links.next`.
    async fn attempts(&self, webhook_id: &str, query: &str) -> Vec<Value> {
        let mut path = format!("/api/v1/webhooks/{webhook_id}/deliveries{query}");
        let mut attempts = Vec::new();
        for _ in 0..100 {
            let page = self.get_ok(&path).await;
            attempts.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["links"]["next"].as_str() {
                Some(next) => path = next.to_owned(),
                None => return attempts,
            }
        }
        panic!("links.next never ends for {webhook_id}");
    }

    /// Waits until the webhook's status is `status`.
    async fn wait_for_webhook_status(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let webhook = self.webhook(id).await;
            if webhook["data"]["attributes"]["status"] == status {
                return webhook;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhook {id} never became {status}: {webhook}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
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

/// `{"data": {"attributes": …}}`.
fn webhook_request(attributes: Value) -> Value {
    json!({ "data": { "attributes": attributes } })
}

fn id_of(document: &Value) -> String {
    document["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no data.id in {document}"))
        .to_owned()
}

fn secret_of(document: &Value) -> String {
    let secret = document["meta"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no meta.secret in {document}"))
        .to_owned();
    let key = secret
        .strip_prefix("whsec_")
        .and_then(base64_decode)
        .unwrap_or_else(|| panic!("a secret is whsec_<base64>: {secret}"));
    assert!(key.len() >= 24, "a secret of {} bytes only", key.len());
    secret
}

fn ids_of(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array in {list}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts the error envelope with `status`; returns the document.
fn assert_error(response: &Response, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    let document = response.json();
    let errors = document["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array in {document}"));
    assert!(!errors.is_empty(), "{document}");
    assert_eq!(errors[0]["status"], json!(status.to_string()), "{document}");
    assert!(document.get("data").is_none(), "{document}");
    document
}

fn rfc3339(value: &Value) -> time::OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| panic!("not RFC 3339: {text}"))
}

/// The object an event is about: `payload.data.id`.
fn object_of(event: &Value) -> String {
    event["attributes"]["payload"]["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no payload.data.id in {event}"))
        .to_owned()
}

/// The first accepted delivery of each event, by `webhook-id`.
fn accepted_by_event(deliveries: &[Delivery]) -> BTreeMap<String, Delivery> {
    let mut first = BTreeMap::new();
    for delivery in deliveries.iter().filter(|delivery| delivery.accepted()) {
        first
            .entry(delivery.event_id().to_owned())
            .or_insert_with(|| delivery.clone());
    }
    first
}

/// Whether every one of `ids` was accepted at least once.
fn all_accepted(deliveries: &[Delivery], ids: &[String]) -> bool {
    let accepted = accepted_by_event(deliveries);
    ids.iter().all(|id| accepted.contains_key(id))
}

/// Asserts everything a single delivery promises: the headers, a body that is the event (with
/// `webhook-id` as its id), a timestamp close to now and a signature made with `secret`.
fn assert_well_formed(delivery: &Delivery, secret: &str) {
    let body = delivery.json();
    let event = &body["data"];
    assert_eq!(event["type"], "event", "{body}");
    assert_eq!(event["id"], delivery.event_id(), "{body}");
    assert!(delivery.event_id().starts_with("evt_"), "{body}");
    assert!(
        delivery
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{:?}",
        delivery.headers
    );
    let attempt: u32 = delivery
        .header("webhook-attempt")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no numeric webhook-attempt: {:?}", delivery.headers));
    assert!(attempt >= 1);
    let timestamp: i64 = delivery
        .header("webhook-timestamp")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no numeric webhook-timestamp: {:?}", delivery.headers));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (timestamp - now).abs() < 120,
        "webhook-timestamp {timestamp} is far from now ({now})"
    );
    assert!(
        delivery.signed_by(secret),
        "the signature does not verify with the webhook's secret: {:?}",
        delivery.headers
    );
    let attributes = &event["attributes"];
    assert!(attributes["name"].is_string(), "{body}");
    assert!(
        attributes["sequence"].as_i64().is_some_and(|n| n >= 1),
        "{body}"
    );
    rfc3339(&attributes["created-at"]);
    assert!(attributes["payload"]["data"]["id"].is_string(), "{body}");
    assert!(attributes["payload"]["data"]["type"].is_string(), "{body}");
}

/// Groups accepted deliveries by the object they are about and sorts each by `sequence`:
/// object id → [(sequence, event name, payload data)].
fn by_object(deliveries: &[Delivery]) -> BTreeMap<String, Vec<(i64, String, Value)>> {
    let mut objects: BTreeMap<String, Vec<(i64, String, Value)>> = BTreeMap::new();
    for delivery in accepted_by_event(deliveries).values() {
        let body = delivery.json();
        let event = &body["data"];
        objects.entry(object_of(event)).or_default().push((
            event["attributes"]["sequence"].as_i64().unwrap(),
            event["attributes"]["name"].as_str().unwrap().to_owned(),
            event["attributes"]["payload"]["data"].clone(),
        ));
    }
    for events in objects.values_mut() {
        events.sort_by_key(|(sequence, _, _)| *sequence);
    }
    objects
}

// ---------------------------------------------------------------------------------------------
// The signature helpers themselves
// ---------------------------------------------------------------------------------------------

#[test]
fn the_signature_helpers_match_published_vectors() {
    // RFC 4231, test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // RFC 4231, test case 6: a key longer than the block.
    let mac = hmac_sha256(
        &[0xaa; 131],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    assert_eq!(
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_encode(plain.as_bytes()), encoded);
        assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
    }
    // The Standard Webhooks specification's own example.
    assert_eq!(
        webhook_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

// ---------------------------------------------------------------------------------------------
// The webhook resource
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn webhooks_are_created_listed_retrieved_updated_and_deleted() {
    let app = spawn_app().await;

    let document = app
        .create_webhook(
            "https://example.com/hooks/verity",
            json!(["inquiry.completed", "inquiry.approved"]),
        )
        .await;
    let data = &document["data"];
    assert_eq!(data["type"], "webhook");
    let id = id_of(&document);
    assert!(id.starts_with("wbh_"), "{id}");
    let attributes = &data["attributes"];
    assert_eq!(attributes["url"], "https://example.com/hooks/verity");
    assert_eq!(
        attributes["enabled-events"],
        json!(["inquiry.completed", "inquiry.approved"])
    );
    assert_eq!(attributes["status"], "enabled");
    assert_eq!(attributes["disabled-at"], Value::Null);
    rfc3339(&attributes["created-at"]);
    rfc3339(&attributes["updated-at"]);
    let secret = secret_of(&document);
    assert!(
        !attributes.to_string().contains(&secret),
        "the secret is only in meta"
    );

    // Retrieve shows the same resource, never the secret.
    let retrieved = app.webhook(&id).await;
    assert_eq!(retrieved["data"], document["data"]);
    assert!(retrieved["meta"]["secret"].is_null(), "{retrieved}");
    assert!(!retrieved.to_string().contains(&secret));

    // Every event name and `*` is accepted; each webhook gets its own secret.
    let all = app
        .create_webhook("http://127.0.0.1:9/all", json!(["*"]))
        .await;
    let everything = &all["data"]["attributes"]["enabled-events"];
    assert!(
        *everything == json!(["*"]) || *everything == json!("*"),
        "{everything}"
    );
    assert_ne!(secret_of(&all), secret);
    let every_name = json!([
        "inquiry.created",
        "inquiry.started",
        "inquiry.completed",
        "inquiry.failed",
        "inquiry.expired",
        "inquiry.marked-for-review",
        "inquiry.approved",
        "inquiry.declined",
        "inquiry.redacted",
        "verification.created",
        "verification.submitted",
        "verification.passed",
        "verification.failed",
        "verification.canceled",
        "webhook.disabled"
    ]);
    let third = app
        .create_webhook("http://127.0.0.1:9/every", every_name.clone())
        .await;
    assert_eq!(third["data"]["attributes"]["enabled-events"], every_name);

    // The list pages through links.next like the other lists, and shows no secret.
    let mut path = "/api/v1/webhooks?page[size]=2".to_owned();
    let mut listed = Vec::new();
    for _ in 0..10 {
        let page = app.get_ok(&path).await;
        assert!(!page.to_string().contains("whsec_"), "{page}");
        listed.extend(ids_of(&page));
        match page["links"]["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    let listed: BTreeSet<String> = listed.into_iter().collect();
    let created: BTreeSet<String> = [id.clone(), id_of(&all), id_of(&third)].into();
    assert_eq!(listed, created);

    // PATCH changes the url, the events and the status.
    let response = app
        .api(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(&webhook_request(json!({
                "url": "https://example.com/hooks/v2",
                "enabled-events": ["inquiry.created"],
            }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let patched = response.json();
    assert_eq!(
        patched["data"]["attributes"]["url"],
        "https://example.com/hooks/v2"
    );
    assert_eq!(
        patched["data"]["attributes"]["enabled-events"],
        json!(["inquiry.created"])
    );
    assert!(patched["meta"]["secret"].is_null(), "{patched}");
    assert!(
        rfc3339(&patched["data"]["attributes"]["updated-at"]) >= rfc3339(&attributes["updated-at"])
    );
    let response = app
        .api(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(&webhook_request(json!({ "status": "disabled" }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let disabled = response.json();
    assert_eq!(disabled["data"]["attributes"]["status"], "disabled");
    assert_eq!(
        disabled["data"]["attributes"]["url"], "https://example.com/hooks/v2",
        "what is not sent is kept"
    );
    let response = app
        .api(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            Some(&webhook_request(json!({ "status": "enabled" }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let enabled = response.json();
    assert_eq!(enabled["data"]["attributes"]["status"], "enabled");
    assert_eq!(enabled["data"]["attributes"]["disabled-at"], Value::Null);
    assert_eq!(app.webhook(&id).await["data"], enabled["data"]);

    // Invalid values are refused with the envelope and change nothing.
    for attributes in [
        json!({ "status": "paused" }),
        json!({ "url": "ftp://example.com/hook" }),
        json!({ "enabled-events": [] }),
        json!({ "enabled-events": ["inquiry.exploded"] }),
    ] {
        let response = app
            .api(
                "PATCH",
                &format!("/api/v1/webhooks/{id}"),
                Some(&webhook_request(attributes.clone())),
            )
            .await;
        assert_error(&response, 422);
    }
    assert_eq!(app.webhook(&id).await["data"], enabled["data"]);

    // Rotating shows a new secret once; retrieve still shows none.
    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let rotated = response.json();
    assert_eq!(id_of(&rotated), id);
    let new_secret = secret_of(&rotated);
    assert_ne!(new_secret, secret);
    assert!(app.webhook(&id).await["meta"]["secret"].is_null());

    // Delete answers with the resource; then it is gone.
    let response = app
        .api("DELETE", &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(id_of(&response.json()), id);
    assert_error(&app.get(&format!("/api/v1/webhooks/{id}")).await, 404);
    assert_error(
        &app.api("DELETE", &format!("/api/v1/webhooks/{id}"), None)
            .await,
        404,
    );
    assert_error(
        &app.api(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await,
        404,
    );
    for unknown in ["wbh_01M8DHXHHDE4AVBK7C0XV1PX6F", "nope"] {
        assert_error(&app.get(&format!("/api/v1/webhooks/{unknown}")).await, 404);
    }
    let remaining = app.get_ok("/api/v1/webhooks?page[size]=100").await;
    assert_eq!(ids_of(&remaining).len(), 2, "{remaining}");
}

#[tokio::test]
async fn invalid_webhooks_are_refused_with_the_error_envelope_and_create_nothing() {
    let app = spawn_app().await;
    for attributes in [
        json!({ "url": "https://example.com/hook", "enabled-events": ["inquiry.exploded"] }),
        json!({ "url": "https://example.com/hook", "enabled-events": ["inquiry.completed", "nope"] }),
        json!({ "url": "https://example.com/hook", "enabled-events": [] }),
        json!({ "url": "https://example.com/hook", "enabled-events": "inquiry.completed" }),
        json!({ "url": "https://example.com/hook" }),
        json!({ "url": "ftp://example.com/hook", "enabled-events": ["*"] }),
        json!({ "url": "not a url", "enabled-events": ["*"] }),
        json!({ "url": "", "enabled-events": ["*"] }),
        json!({ "enabled-events": ["*"] }),
    ] {
        let response = app
            .api(
                "POST",
                "/api/v1/webhooks",
                Some(&webhook_request(attributes.clone())),
            )
            .await;
        assert!(
            response.status == 422 || response.status == 400,
            "{attributes}: {} {}",
            response.status,
            response.text()
        );
        assert_error(&response, response.status);
        assert!(!response.text().contains("whsec_"));
    }
    let response = app
        .api(
            "POST",
            "/api/v1/webhooks",
            Some(&webhook_request(
                json!({ "url": "https://example.com/hook", "enabled-events": ["inquiry.exploded"] }),
            )),
        )
        .await;
    assert_error(&response, 422);
    let list = app.get_ok("/api/v1/webhooks").await;
    assert_eq!(list["data"], json!([]), "{list}");

    // Without a key nothing is listed or created.
    let anonymous = raw_exchange(
        app.addr,
        format!(
            "GET /api/v1/webhooks HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            app.addr
        )
        .as_bytes(),
    )
    .await;
    assert_error(&anonymous, 401);
}

// ---------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquirys_events_arrive_signed_in_sequence_order_and_filtered_by_name() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (all_id, all_secret) = app.new_webhook(&receiver.url("/all"), json!(["*"])).await;
    let (completed_id, completed_secret) = app
        .new_webhook(&receiver.url("/completed"), json!(["inquiry.completed"]))
        .await;

    let (inquiry, token) = app.create_inquiry().await;
    app.complete_flow(&inquiry, &token).await;
    assert_eq!(app.inquiry_status(&inquiry).await, "completed");
    let verification = app.verification_of(&inquiry).await;
    let mut expected = app.event_ids_of(&inquiry).await;
    expected.extend(app.event_ids_of(&verification).await);
    assert_eq!(expected.len(), 6, "{expected:?}");

    let deliveries = receiver
        .wait_for("/all", "every event of the inquiry", WAIT, |d| {
            all_accepted(d, &expected)
        })
        .await;
    for delivery in &deliveries {
        assert_well_formed(delivery, &all_secret);
        assert!(
            !delivery.signed_by(&completed_secret),
            "signed with another webhook's secret"
        );
        assert_eq!(delivery.signatures().len(), 1, "{:?}", delivery.headers);
    }
    let objects = by_object(&deliveries);
    let names = |object: &str| -> Vec<String> {
        objects[object]
            .iter()
            .map(|(_, name, _)| name.clone())
            .collect()
    };
    assert_eq!(
        names(&inquiry),
        ["inquiry.created", "inquiry.started", "inquiry.completed"]
    );
    assert_eq!(
        names(&verification),
        [
            "verification.created",
            "verification.submitted",
            "verification.passed"
        ]
    );
    for (object, events) in &objects {
        let sequences: Vec<i64> = events.iter().map(|(sequence, _, _)| *sequence).collect();
        assert_eq!(sequences, [1, 2, 3], "{object}: sequences without gaps");
    }
    // Each payload is the object as it was at the time of its event.
    for (_, name, data) in &objects[&inquiry] {
        assert_eq!(data["type"], "inquiry");
        assert_eq!(data["id"], json!(inquiry));
        let status = match name.as_str() {
            "inquiry.created" => "created",
            "inquiry.started" => "pending",
            _ => "completed",
        };
        assert_eq!(data["attributes"]["status"], status, "{name}: {data}");
    }
    for (_, name, data) in &objects[&verification] {
        assert_eq!(data["type"], "verification/government-id", "{name}: {data}");
        assert_eq!(data["id"], json!(verification));
    }
    // The completed payload is what the API shows now (nothing changed since).
    let now = app.inquiry(&inquiry).await;
    let (_, _, completed_payload) = &objects[&inquiry][2];
    let keys = |value: &Value| -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        keys(&completed_payload["attributes"]),
        keys(&now["data"]["attributes"])
    );
    assert_eq!(
        completed_payload["attributes"]["status"],
        now["data"]["attributes"]["status"]
    );

    // The filtered webhook got inquiry.completed and nothing else.
    let completed_event = expected[2].clone();
    let filtered = receiver
        .wait_for("/completed", "inquiry.completed", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&completed_event))
        })
        .await;
    for delivery in &filtered {
        assert_well_formed(delivery, &completed_secret);
        assert_eq!(delivery.event_name(), "inquiry.completed");
        assert_eq!(delivery.event_id(), completed_event);
    }

    // Approving through the API is announced too, to `*` only.
    let response = app
        .api(
            "POST",
            &format!("/api/v1/inquiries/{inquiry}/approve"),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let approved_event = app.event_ids_of(&inquiry).await.last().unwrap().clone();
    let deliveries = receiver
        .wait_for("/all", "inquiry.approved", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&approved_event))
        })
        .await;
    let objects = by_object(&deliveries);
    let (sequence, name, data) = objects[&inquiry].last().unwrap();
    assert_eq!((*sequence, name.as_str()), (4, "inquiry.approved"));
    assert_eq!(data["attributes"]["status"], "approved");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver
        .deliveries_to("/completed")
        .iter()
        .all(|delivery| delivery.event_name() == "inquiry.completed"));

    // The attempt log: one successful first attempt for the filtered webhook's one event.
    let attempts = app.attempts(&completed_id, "").await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = &attempts[0];
    assert_eq!(attempt["type"], "webhook-attempt");
    assert!(
        attempt["id"].as_str().unwrap().starts_with("wha_"),
        "{attempt}"
    );
    let attributes = &attempt["attributes"];
    assert_eq!(attributes["event-id"], json!(completed_event));
    assert_eq!(attributes["event-name"], "inquiry.completed");
    assert_eq!(attributes["attempt"], 1);
    assert_eq!(attributes["status-code"], 200);
    assert_eq!(attributes["succeeded"], true);
    assert_eq!(attributes["error"], Value::Null);
    assert!(attributes["latency-ms"].as_u64().is_some(), "{attempt}");
    rfc3339(&attributes["attempted-at"]);
    // `*` saw all seven events; filter[event-id] narrows to one.
    let all_attempts = app.attempts(&all_id, "?page[size]=2").await;
    let attempted: BTreeSet<&str> = all_attempts
        .iter()
        .map(|attempt| attempt["attributes"]["event-id"].as_str().unwrap())
        .collect();
    assert_eq!(attempted.len(), 7, "{all_attempts:?}");
    // Newest first: by record (concurrent attempts may finish in another order than they
    // started), and within one event by attempt number.
    let ids: Vec<&str> = all_attempts
        .iter()
        .map(|attempt| attempt["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");
    for event in &attempted {
        let numbers: Vec<u64> = all_attempts
            .iter()
            .filter(|attempt| attempt["attributes"]["event-id"] == *event)
            .map(|attempt| attempt["attributes"]["attempt"].as_u64().unwrap())
            .collect();
        let counting: Vec<u64> = (1..=numbers.len() as u64).rev().collect();
        assert_eq!(numbers, counting, "{event}");
    }
    let one = app
        .attempts(&all_id, &format!("?filter[event-id]={}", expected[0]))
        .await;
    assert!(!one.is_empty());
    assert!(one
        .iter()
        .all(|attempt| attempt["attributes"]["event-id"] == json!(expected[0])));
    assert_eq!(one[0]["attributes"]["event-name"], "inquiry.created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_both_secrets_sign_each_delivery() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (id, old_secret) = app
        .new_webhook(&receiver.url("/hook"), json!(["inquiry.created"]))
        .await;

    let (before, _) = app.create_inquiry().await;
    let before_event = app.event_ids_of(&before).await[0].clone();
    let deliveries = receiver
        .wait_for("/hook", "the first inquiry.created", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&before_event))
        })
        .await;
    assert_eq!(deliveries[0].signatures().len(), 1);
    assert_well_formed(&deliveries[0], &old_secret);

    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let new_secret = secret_of(&response.json());
    assert_ne!(new_secret, old_secret);

    let (after, _) = app.create_inquiry().await;
    let after_event = app.event_ids_of(&after).await[0].clone();
    let deliveries = receiver
        .wait_for("/hook", "the second inquiry.created", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&after_event))
        })
        .await;
    let delivery = accepted_by_event(&deliveries)[&after_event].clone();
    let signatures = delivery.signatures();
    assert_eq!(signatures.len(), 2, "{:?}", delivery.headers);
    let timestamp = delivery.header("webhook-timestamp").unwrap();
    assert_eq!(
        signatures[0],
        webhook_signature(&new_secret, &after_event, timestamp, &delivery.body),
        "the new secret signs first"
    );
    assert_eq!(
        signatures[1],
        webhook_signature(&old_secret, &after_event, timestamp, &delivery.body),
        "the old secret signs second"
    );
    assert_well_formed(&delivery, &new_secret);
    assert_well_formed(&delivery, &old_secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_failing_with_500_are_retried_and_all_arrive_once_the_receiver_is_back() {
    // Six attempts within about six seconds: room for the flow to run while it is down.
    let app = spawn_app_with(
        &[("VERITY_WEBHOOK_RETRY_SCHEDULE", "0.2,0.4,0.8,1.6,3.2")],
        Arc::new(SystemClock),
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.answer_with(500);
    let (id, secret) = app.new_webhook(&receiver.url("/hook"), json!(["*"])).await;

    let (inquiry, token) = app.create_inquiry().await;
    // The receiver is down while the first attempts and their first retries fail.
    receiver
        .wait_for("/hook", "a second attempt", WAIT, |d| {
            d.iter()
                .any(|delivery| delivery.header("webhook-attempt") == Some("2"))
        })
        .await;
    app.complete_flow(&inquiry, &token).await;
    let verification = app.verification_of(&inquiry).await;
    let mut expected = app.event_ids_of(&inquiry).await;
    expected.extend(app.event_ids_of(&verification).await);
    receiver
        .wait_for(
            "/hook",
            "a failed first attempt of every event",
            WAIT,
            |d| {
                expected
                    .iter()
                    .all(|event| d.iter().any(|delivery| delivery.event_id() == event))
            },
        )
        .await;
    receiver.answer_with(200);

    let deliveries = receiver
        .wait_for(
            "/hook",
            "every event after the receiver came back",
            WAIT,
            |d| all_accepted(d, &expected),
        )
        .await;
    for delivery in &deliveries {
        assert_well_formed(delivery, &secret);
    }
    // Every event failed at least once first; its attempts count up from 1.
    for event in &expected {
        let attempts: Vec<(u32, u16)> = deliveries
            .iter()
            .filter(|delivery| delivery.event_id() == event)
            .map(|delivery| {
                (
                    delivery.header("webhook-attempt").unwrap().parse().unwrap(),
                    delivery.answered,
                )
            })
            .collect();
        assert!(attempts.len() >= 2, "{event}: {attempts:?}");
        assert_eq!(attempts[0], (1, 500), "{event}: {attempts:?}");
        let numbers: Vec<u32> = attempts.iter().map(|(attempt, _)| *attempt).collect();
        let counting: Vec<u32> = (1..=attempts.len() as u32).collect();
        assert_eq!(numbers, counting, "{event}");
    }
    let objects = by_object(&deliveries);
    for events in objects.values() {
        let sequences: Vec<i64> = events.iter().map(|(sequence, _, _)| *sequence).collect();
        assert_eq!(sequences, [1, 2, 3]);
    }

    // The attempt log tells the same story, newest first: failures with 500, then one success.
    let created_event = &expected[0];
    let attempts = app
        .attempts(&id, &format!("?filter[event-id]={created_event}"))
        .await;
    assert!(attempts.len() >= 2, "{attempts:?}");
    let newest = &attempts[0]["attributes"];
    assert_eq!(newest["succeeded"], true, "{attempts:?}");
    assert_eq!(newest["status-code"], 200);
    for older in &attempts[1..] {
        let older = &older["attributes"];
        assert_eq!(older["succeeded"], false, "{attempts:?}");
        assert_eq!(older["status-code"], 500, "{attempts:?}");
        assert_eq!(older["event-id"], json!(created_event));
    }
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|attempt| attempt["attributes"]["attempt"].as_u64().unwrap())
        .collect();
    let counting: Vec<u64> = (1..=attempts.len() as u64).rev().collect();
    assert_eq!(numbers, counting);
    assert_eq!(
        app.webhook(&id).await["data"]["attributes"]["status"],
        "enabled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_closed_port_arrive_once_something_listens_there() {
    let app = spawn_app().await;
    // A port that nothing listens on (yet).
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (id, secret) = app
        .new_webhook(&format!("http://{addr}/hook"), json!(["inquiry.created"]))
        .await;

    let (inquiry, _) = app.create_inquiry().await;
    let event = app.event_ids_of(&inquiry).await[0].clone();
    // The first attempt fails without a status code, with an error saying why.
    let deadline = tokio::time::Instant::now() + WAIT;
    let failed = loop {
        let attempts = app.attempts(&id, "").await;
        if let Some(attempt) = attempts.last() {
            break attempt.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt logged");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let attributes = &failed["attributes"];
    assert_eq!(attributes["event-id"], json!(event));
    assert_eq!(attributes["attempt"], 1);
    assert_eq!(attributes["succeeded"], false);
    assert_eq!(attributes["status-code"], Value::Null, "{failed}");
    assert!(
        attributes["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );

    let receiver = Receiver::start_on(addr).await;
    let deliveries = receiver
        .wait_for("/hook", "the event once the port listens", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&event))
        })
        .await;
    let delivery = &deliveries[0];
    assert_well_formed(delivery, &secret);
    assert!(
        delivery
            .header("webhook-attempt")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 2,
        "{:?}",
        delivery.headers
    );
    // The attempt is recorded once the receiver's answer is back, just after it saw the request.
    let deadline = tokio::time::Instant::now() + WAIT;
    let attempts = loop {
        let attempts = app.attempts(&id, "").await;
        if attempts.len() >= 2 || tokio::time::Instant::now() >= deadline {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(attempts[0]["attributes"]["succeeded"], true, "{attempts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_whose_deliveries_fail_past_the_last_retry_is_disabled_with_an_event() {
    let app = spawn_app_with(
        &[("VERITY_WEBHOOK_RETRY_SCHEDULE", "0.1,0.2")],
        Arc::new(SystemClock),
    )
    .await;
    let failing = Receiver::start().await;
    failing.answer_with(500);
    let watcher = Receiver::start().await;
    let (failing_id, _) = app
        .new_webhook(&failing.url("/failing"), json!(["inquiry.created"]))
        .await;
    let (_, watcher_secret) = app
        .new_webhook(&watcher.url("/watch"), json!(["webhook.disabled"]))
        .await;

    let (inquiry, _) = app.create_inquiry().await;
    let event = app.event_ids_of(&inquiry).await[0].clone();
    let webhook = app.wait_for_webhook_status(&failing_id, "disabled").await;
    rfc3339(&webhook["data"]["attributes"]["disabled-at"]);

    // Attempt 1, then one per delay of the schedule: three, and no more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempts: Vec<String> = failing
        .deliveries_to("/failing")
        .iter()
        .map(|delivery| {
            assert_eq!(delivery.event_id(), event);
            delivery.header("webhook-attempt").unwrap().to_owned()
        })
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let logged = app.attempts(&failing_id, "").await;
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert!(logged
        .iter()
        .all(|attempt| attempt["attributes"]["succeeded"] == false));

    // The event says so, about the webhook, and reaches the webhooks that asked for it.
    let disabled_events = app
        .get_ok("/api/v1/events?filter[name]=webhook.disabled")
        .await;
    let disabled_events = disabled_events["data"].as_array().unwrap().clone();
    assert_eq!(disabled_events.len(), 1, "{disabled_events:?}");
    let disabled_event = &disabled_events[0];
    assert_eq!(disabled_event["attributes"]["name"], "webhook.disabled");
    assert_eq!(
        disabled_event["relationships"]["object"]["data"]["id"],
        json!(failing_id)
    );
    assert_eq!(
        disabled_event["attributes"]["payload"]["data"]["type"],
        "webhook"
    );
    assert_eq!(
        disabled_event["attributes"]["payload"]["data"]["attributes"]["status"],
        "disabled"
    );
    let by_id = app
        .get_ok(&format!("/api/v1/events?filter[object-id]={failing_id}"))
        .await;
    assert_eq!(ids_of(&by_id), [disabled_event["id"].as_str().unwrap()]);
    let disabled_event_id = disabled_event["id"].as_str().unwrap().to_owned();
    let seen = watcher
        .wait_for("/watch", "webhook.disabled", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&disabled_event_id))
        })
        .await;
    assert_well_formed(&seen[0], &watcher_secret);
    let payload = &seen[0].json()["data"]["attributes"]["payload"]["data"];
    assert_eq!(payload["id"], json!(failing_id));
    assert!(
        !payload.to_string().contains("whsec_"),
        "no secret in an event: {payload}"
    );

    // A disabled webhook gets nothing new…
    app.create_inquiry().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(failing.deliveries_to("/failing").len(), 3);

    // …until it is enabled again.
    failing.answer_with(200);
    let response = app
        .api(
            "PATCH",
            &format!("/api/v1/webhooks/{failing_id}"),
            Some(&webhook_request(json!({ "status": "enabled" }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json()["data"]["attributes"]["disabled-at"],
        Value::Null
    );
    let (third, _) = app.create_inquiry().await;
    let third_event = app.event_ids_of(&third).await[0].clone();
    failing
        .wait_for("/failing", "a new event after re-enabling", WAIT, |d| {
            all_accepted(d, std::slice::from_ref(&third_event))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_resends_the_events_from_an_event_id_or_a_time() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (id, secret) = app
        .new_webhook(&receiver.url("/hook"), json!(["inquiry.created"]))
        .await;
    let mut events = Vec::new();
    for _ in 0..3 {
        let (inquiry, _) = app.create_inquiry().await;
        events.push(app.event_ids_of(&inquiry).await[0].clone());
        // Distinct creation times, so that from-time has something to split.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver
        .wait_for("/hook", "three inquiry.created", WAIT, |d| {
            all_accepted(d, &events)
        })
        .await;
    let count = |event: &str| {
        receiver
            .deliveries_to("/hook")
            .iter()
            .filter(|delivery| delivery.event_id() == event && delivery.accepted())
            .count()
    };
    let before: Vec<usize> = events.iter().map(|event| count(event)).collect();

    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&webhook_request(json!({ "from-event-id": events[1] }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    assert_eq!(id_of(&document), id);
    assert_eq!(document["data"]["type"], "webhook");
    assert_eq!(document["meta"]["replayed-events"], 2, "{document}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while count(&events[1]) < before[1] + 1 || count(&events[2]) < before[2] + 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay never arrived"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&events[0]), before[0], "not before from-event-id");
    for delivery in receiver.deliveries_to("/hook") {
        assert_well_formed(&delivery, &secret);
    }
    // A replayed delivery carries the same event, byte for byte the same body.
    let bodies: BTreeSet<Vec<u8>> = receiver
        .deliveries_to("/hook")
        .iter()
        .filter(|delivery| delivery.event_id() == events[2])
        .map(|delivery| delivery.body.clone())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");

    // From a time: every event created at or after it.
    let first = app.get_ok(&format!("/api/v1/events/{}", events[0])).await;
    let from_time = first["data"]["attributes"]["created-at"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&webhook_request(json!({ "from-time": from_time }))),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["meta"]["replayed-events"], 3);
    let deadline = tokio::time::Instant::now() + WAIT;
    while count(&events[0]) < before[0] + 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay never arrived"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Neither starting point, or a bad one, is refused.
    for attributes in [json!({}), json!({ "from-time": "yesterday" })] {
        let response = app
            .api(
                "POST",
                &format!("/api/v1/webhooks/{id}/replay"),
                Some(&webhook_request(attributes)),
            )
            .await;
        assert_error(&response, 422);
    }
    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/replay"),
            Some(&webhook_request(
                json!({ "from-event-id": "evt_01M8DHXHHDE4AVBK7C0XV1PX6F" }),
            )),
        )
        .await;
    assert!(
        response.status == 404 || response.status == 422,
        "{}",
        response.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_templates_decision_rules_approve_and_announce_it_after_completion() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = app.new_webhook(&receiver.url("/hook"), json!(["*"])).await;
    let (inquiry, token) = app.create_inquiry_from("itmpl_kyc_auto_decision").await;
    app.complete_flow(&inquiry, &token).await;
    assert_eq!(app.inquiry_status(&inquiry).await, "approved");
    let expected = app.event_ids_of(&inquiry).await;
    let deliveries = receiver
        .wait_for("/hook", "the inquiry's events", WAIT, |d| {
            all_accepted(d, &expected)
        })
        .await;
    for delivery in &deliveries {
        assert_well_formed(delivery, &secret);
    }
    let objects = by_object(&deliveries);
    let events: Vec<(i64, String, String)> = objects[&inquiry]
        .iter()
        .map(|(sequence, name, data)| {
            (
                *sequence,
                name.clone(),
                data["attributes"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (1, "inquiry.created".to_owned(), "created".to_owned()),
            (2, "inquiry.started".to_owned(), "pending".to_owned()),
            (3, "inquiry.completed".to_owned(), "completed".to_owned()),
            (4, "inquiry.approved".to_owned(), "approved".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_expires_overdue_inquiries_without_a_visit_and_announces_it() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let app = spawn_app_with(&[("VERITY_SCHEDULER_INTERVAL_MS", "100")], clock.clone()).await;
    let receiver = Receiver::start().await;
    let (_, secret) = app
        .new_webhook(&receiver.url("/hook"), json!(["inquiry.expired"]))
        .await;
    let (inquiry, _) = app.create_inquiry().await;
    clock.advance(time::Duration::hours(25));
    // Nobody reads the inquiry: only the scheduler can expire it.
    let deliveries = receiver
        .wait_for("/hook", "inquiry.expired", WAIT, |d| {
            d.iter().any(Delivery::accepted)
        })
        .await;
    let delivery = &deliveries[0];
    assert!(delivery.signed_by(&secret));
    let body = delivery.json();
    assert_eq!(body["data"]["attributes"]["name"], "inquiry.expired");
    assert_eq!(
        body["data"]["attributes"]["payload"]["data"]["id"],
        json!(inquiry)
    );
    assert_eq!(
        body["data"]["attributes"]["payload"]["data"]["attributes"]["status"],
        "expired"
    );
    assert_eq!(app.inquiry_status(&inquiry).await, "expired");
    let names: Vec<String> = app
        .engine
        .events_of(&domain::ids::InquiryId::parse(&inquiry).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.name)
        .collect();
    assert_eq!(names, ["inquiry.created", "inquiry.expired"]);
}

// ---------------------------------------------------------------------------------------------
// The official Standard Webhooks library
// ---------------------------------------------------------------------------------------------

/// Runs `scripts/verify_webhook_signatures.py` on the deliveries with `$VERITY_PYTHON` (default
/// `python3`); asserts it exits 0 and verified them all.
fn verify_with_the_official_library(deliveries: &[Delivery], secrets: &[&str]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    let captured: Vec<Value> = deliveries
        .iter()
        .map(|delivery| {
            let headers: serde_json::Map<String, Value> = delivery
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect();
            json!({
                "headers": headers,
                "body": String::from_utf8(delivery.body.clone()).expect("a UTF-8 body"),
            })
        })
        .collect();
    std::fs::write(file.path(), serde_json::to_vec(&captured).unwrap()).unwrap();
    let python = std::env::var("VERITY_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify_webhook_signatures.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(file.path())
        .args(secrets)
        .output()
        .unwrap_or_else(|error| panic!("running {python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Standard Webhooks library refused deliveries ({python}; set VERITY_PYTHON=$(scripts/webhooks-venv.sh | tail -1)):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("verified {} deliveries", deliveries.len())),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_library_verifies_every_delivery() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (id, old_secret) = app.new_webhook(&receiver.url("/hook"), json!(["*"])).await;

    let (inquiry, token) = app.create_inquiry().await;
    app.complete_flow(&inquiry, &token).await;
    let verification = app.verification_of(&inquiry).await;
    let mut expected = app.event_ids_of(&inquiry).await;
    expected.extend(app.event_ids_of(&verification).await);
    let deliveries = receiver
        .wait_for("/hook", "every event of the inquiry", WAIT, |d| {
            all_accepted(d, &expected)
        })
        .await;
    assert!(deliveries.len() >= 6);
    verify_with_the_official_library(&deliveries, &[&old_secret]);

    // After a rotation every delivery verifies with the new secret and with the old one.
    let response = app
        .api(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let new_secret = secret_of(&response.json());
    let already = deliveries.len();
    let (second, token) = app.create_inquiry().await;
    app.complete_flow(&second, &token).await;
    let verification = app.verification_of(&second).await;
    let mut expected = app.event_ids_of(&second).await;
    expected.extend(app.event_ids_of(&verification).await);
    let deliveries = receiver
        .wait_for("/hook", "every event of the second inquiry", WAIT, |d| {
            all_accepted(d, &expected)
        })
        .await;
    let rotated = &deliveries[already..];
    assert!(rotated.len() >= 6);
    verify_with_the_official_library(rotated, &[&new_secret, &old_secret]);
}
