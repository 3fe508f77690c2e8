//! The "bare handler" of the create-inquiry benchmark (`bench/create-inquiries.sh`): an axum
//! server with the same runtime as `verity` (`#[tokio::main]`, one worker per core) and a single
//! route, `POST /echo`, that parses a body shaped like `POST /api/v1/inquiries` and answers 201
//! with a small JSON document. No database, no middleware: the HTTP + JSON ceiling of the machine.
//!
//!     cargo run --release -p server --example bare_json -- 3999
//!     BARE_PORT=3999 target/release/examples/bare_json
//!
//! The port comes from the first argument, else `BARE_PORT`, else 3999; it binds 127.0.0.1.

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// The same shape as the API's create request (`{"data": {"attributes": {…}}}`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
struct Attributes {
    inquiry_template_id: Option<String>,
    inquiry_template_version_id: Option<String>,
    reference_id: Option<String>,
    account_id: Option<String>,
    fields: Option<BTreeMap<String, String>>,
    redirect_uri: Option<String>,
    note: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Data {
    attributes: Attributes,
}

#[derive(Debug, Deserialize)]
struct CreateRequest {
    data: Data,
}

async fn echo(Json(request): Json<CreateRequest>) -> (StatusCode, Json<serde_json::Value>) {
    let attributes = request.data.attributes;
    (
        StatusCode::CREATED,
        Json(json!({
            "data": {
                "type": "echo",
                "attributes": {
                    "inquiry-template-id": attributes.inquiry_template_id,
                    "reference-id": attributes.reference_id,
                }
            }
        })),
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BARE_PORT").ok())
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(3999);
    let app = Router::new().route("/echo", post(echo));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("bare_json listening on http://127.0.0.1:{port}/echo");
    axum::serve(listener, app).await
}
