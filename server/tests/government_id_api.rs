//! API-only government-ID capture through the REST API's public door: an integrator creates an
//! inquiry with the person's details, uploads the front and back of a generated US driver licence
//! (an AAMVA PDF417 on the back, an invented holder) as multipart, submits it, and reads the
//! verdict, the checks and what was read; mismatching data fails the right check; redaction
//! erases what was read.

mod support;
use checks::aamva::AamvaSubfile;
use checks::fixtures::{aamva_payload, encode_jpeg, id_card_image, licence_back, Holder};
use engine::{Engine, EngineSettings, SystemClock};
use serde_json::{json, Value};
use server::config::Settings;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Numbers each upload's Idempotency-Key.
static UPLOADS: AtomicUsize = AtomicUsize::new(0);
use support::{api_request, raw_exchange, Response};
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

async fn spawn_app() -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    let vars: HashMap<&str, String> = HashMap::from([
        ("VERITY_DATA_DIR", data.path().display().to_string()),
        ("VERITY_TEMPLATES_DIR", templates.display().to_string()),
        ("LEPTOS_SITE_ADDR", addr.to_string()),
        ("VERITY_API_RATE_LIMIT", "0".to_owned()),
    ]);
    let settings = Settings::from_sources(|name| vars.get(name).cloned()).unwrap();
    let engine = Engine::open_local(
        &settings.data_dir,
        None,
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

    async fn inquiry(&self, first: &str, last: &str, birthdate: &str) -> String {
        let created = self
            .api(
                "POST",
                "/api/v1/inquiries",
                Some(&json!({"data": {"attributes": {
                    "inquiry-template-id": "itmpl_basic_kyc",
                    "fields": {"name-first": first, "name-last": last, "birthdate": birthdate},
                }}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        created.json()["data"]["id"].as_str().unwrap().to_owned()
    }

    /// `POST /api/v1/verifications/government-id` with the given form parts.
    async fn upload(&self, parts: &[(&str, Part<'_>)]) -> Response {
        const BOUNDARY: &str = "----VerityGovernmentIdTest";
        let mut body = Vec::new();
        for (name, part) in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            match part {
                Part::Text(value) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                ),
                Part::Jpeg(bytes) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
                            .as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                    body.extend_from_slice(b"\r\n");
                }
            }
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let mut request = format!(
            "POST /api/v1/verifications/government-id HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nIdempotency-Key: upload-{}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.key,
            UPLOADS.fetch_add(1, Ordering::Relaxed),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        raw_exchange(self.addr, &request).await
    }
}

enum Part<'a> {
    Text(&'a str),
    Jpeg(&'a [u8]),
}

fn licence(holder: &Holder) -> (Vec<u8>, Vec<u8>) {
    let front = encode_jpeg(&id_card_image(1600, 1000), 85);
    let payload = aamva_payload(holder, "US", AamvaSubfile::DriverLicence);
    let back = encode_jpeg(&licence_back(1600, 1000, &payload), 85);
    (front, back)
}

fn check<'a>(verification: &'a Value, name: &str) -> &'a Value {
    verification["data"]["attributes"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {verification}"))
}

#[tokio::test]
async fn a_matching_licence_front_and_back_passes_and_completes_the_inquiry() {
    let app = spawn_app().await;
    let inquiry = app.inquiry("Alex", "Morgan", "1990-04-15").await;
    let (front, back) = licence(&Holder::sample());
    let created = app
        .upload(&[
            ("inquiry-id", Part::Text(&inquiry)),
            ("country-code", Part::Text("US")),
            ("id-class", Part::Text("dl")),
            ("front-photo", Part::Jpeg(&front)),
            ("back-photo", Part::Jpeg(&back)),
        ])
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["type"], "verification/government-id");
    assert_eq!(created["data"]["attributes"]["status"], "created");
    assert_eq!(created["data"]["attributes"]["country-code"], "US");
    assert_eq!(created["data"]["attributes"]["id-class"], "dl");
    assert!(created["data"]["relationships"]["back-document"]["data"]["id"].is_string());

    let inquiry_now = app
        .api("GET", &format!("/api/v1/inquiries/{inquiry}"), None)
        .await;
    assert_eq!(
        inquiry_now.json()["data"]["attributes"]["status"],
        "pending"
    );

    let submitted = app
        .api("POST", &format!("/api/v1/verifications/{id}/submit"), None)
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text());
    let submitted = submitted.json();
    assert_eq!(
        submitted["data"]["attributes"]["status"], "passed",
        "{submitted:#}"
    );
    for name in [
        "id_barcode_detection",
        "id_barcode_inconsistency_detection",
        "id_extraction_inconsistency_detection",
        "id_expired_detection",
        "id_age_comparison",
    ] {
        assert_eq!(check(&submitted, name)["status"], "passed", "{name}");
    }
    let extracted = &submitted["data"]["attributes"]["extracted"];
    assert_eq!(extracted["name-first"], "ALEX");
    assert_eq!(extracted["name-last"], "MORGAN");
    assert_eq!(extracted["birthdate"], "1990-04-15");
    assert_eq!(extracted["identification-number"], "D1234567");
    assert_eq!(extracted["issuing-country"], "US");

    let inquiry_now = app
        .api("GET", &format!("/api/v1/inquiries/{inquiry}"), None)
        .await;
    assert_eq!(
        inquiry_now.json()["data"]["attributes"]["status"],
        "completed"
    );

    // Submitting twice is refused; the events tell the whole story.
    let again = app
        .api("POST", &format!("/api/v1/verifications/{id}/submit"), None)
        .await;
    assert_eq!(again.status, 409, "{}", again.text());
    let events = app
        .api(
            "GET",
            &format!("/api/v1/events?filter[object-id]={id}"),
            None,
        )
        .await
        .json();
    let names: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "verification.created",
            "verification.submitted",
            "verification.passed"
        ]
    );
    // What was read is not in the events (webhooks carry no document data).
    assert!(
        events["data"][0]["attributes"]["payload"]["data"]["attributes"]["extracted"].is_null()
    );

    // Redaction erases what was read.
    let redacted = app
        .api("DELETE", &format!("/api/v1/inquiries/{inquiry}"), None)
        .await;
    assert_eq!(redacted.status, 200, "{}", redacted.text());
    let after = app
        .api("GET", &format!("/api/v1/verifications/{id}"), None)
        .await
        .json();
    assert!(
        after["data"]["attributes"]["extracted"].is_null(),
        "{after}"
    );
    assert_eq!(after["data"]["attributes"]["status"], "passed");
}

#[tokio::test]
async fn a_name_that_does_not_match_the_licence_fails_with_its_hint() {
    let app = spawn_app().await;
    let inquiry = app.inquiry("Jordan", "Morgan", "1990-04-15").await;
    let (front, back) = licence(&Holder::sample());
    let created = app
        .upload(&[
            ("inquiry-id", Part::Text(&inquiry)),
            ("country-code", Part::Text("US")),
            ("id-class", Part::Text("dl")),
            ("front-photo", Part::Jpeg(&front)),
            ("back-photo", Part::Jpeg(&back)),
        ])
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    let submitted = app
        .api("POST", &format!("/api/v1/verifications/{id}/submit"), None)
        .await
        .json();
    assert_eq!(submitted["data"]["attributes"]["status"], "failed");
    let mismatch = check(&submitted, "id_extraction_inconsistency_detection");
    assert_eq!(mismatch["status"], "failed");
    assert!(
        mismatch["reasons"].to_string().contains("name_mismatch"),
        "{mismatch}"
    );
    assert!(mismatch["retry-hint"].is_string(), "{mismatch}");
    // One attempt of three is used: the inquiry stays open for a retry.
    let inquiry_now = app
        .api("GET", &format!("/api/v1/inquiries/{inquiry}"), None)
        .await;
    assert_eq!(
        inquiry_now.json()["data"]["attributes"]["status"],
        "pending"
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_in_the_error_envelope() {
    let app = spawn_app().await;
    let inquiry = app.inquiry("Alex", "Morgan", "1990-04-15").await;
    let (front, _back) = licence(&Holder::sample());
    // (form parts, expected status, a word the answer must mention)
    type Case<'a> = (Vec<(&'a str, Part<'a>)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        // A US licence needs its back.
        (
            vec![
                ("inquiry-id", Part::Text(&inquiry)),
                ("country-code", Part::Text("US")),
                ("id-class", Part::Text("dl")),
                ("front-photo", Part::Jpeg(&front)),
            ],
            422,
            "back-photo",
        ),
        (
            vec![
                ("inquiry-id", Part::Text(&inquiry)),
                ("country-code", Part::Text("ZZ")),
                ("id-class", Part::Text("dl")),
                ("front-photo", Part::Jpeg(&front)),
            ],
            422,
            "country-code",
        ),
        (
            vec![
                ("inquiry-id", Part::Text(&inquiry)),
                ("country-code", Part::Text("US")),
                ("id-class", Part::Text("xx")),
                ("front-photo", Part::Jpeg(&front)),
            ],
            422,
            "id-class",
        ),
        (
            vec![
                ("inquiry-id", Part::Text(&inquiry)),
                ("country-code", Part::Text("GB")),
                ("id-class", Part::Text("pp")),
                ("front-photo", Part::Jpeg(b"not an image at all")),
            ],
            415,
            "",
        ),
        (
            vec![
                ("inquiry-id", Part::Text("inq_0000000000000000000000000")),
                ("country-code", Part::Text("GB")),
                ("id-class", Part::Text("pp")),
                ("front-photo", Part::Jpeg(&front)),
            ],
            404,
            "",
        ),
    ];
    for (parts, status, mentions) in cases {
        let response = app.upload(&parts).await;
        assert_eq!(response.status, status, "{}", response.text());
        let body = response.json();
        assert!(body["errors"][0]["detail"].is_string(), "{body}");
        assert!(response.text().contains(mentions), "{}", response.text());
    }
    // Nothing was created by the refusals.
    let inquiry_now = app
        .api("GET", &format!("/api/v1/inquiries/{inquiry}"), None)
        .await;
    assert_eq!(
        inquiry_now.json()["data"]["attributes"]["status"],
        "created"
    );
}
