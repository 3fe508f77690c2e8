//! Cross-cutting HTTP concerns: health endpoints, security headers and request logs that never
//! carry query strings (which may hold session tokens) or bodies.

use axum::extract::{Extension, Request};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::Engine;
use serde_json::json;
use std::time::Instant;

/// Liveness: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
pub async fn readyz(Extension(engine): Extension<Engine>) -> Response {
    match engine.ready().await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::error!(error = ?error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// Headers every response carries: the flow may not be framed by other sites, tokens in URLs do
/// not leak through the Referer, and content types are not sniffed.
///
/// The one exception is the embed page (`/embed`): it answers its own
/// `Content-Security-Policy: frame-ancestors …` with the origins its template allows (or
/// `'none'`), and carries no `X-Frame-Options`, which cannot name origins. An embed response that
/// did not set a policy gets `'none'`.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let embed = request.uri().path() == "/embed";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // An embed page that refuses to be framed answers `'none'`: then X-Frame-Options says so too.
    let has_policy = headers
        .get(axum::http::header::CONTENT_SECURITY_POLICY)
        .is_some_and(|policy| policy.as_bytes() != b"frame-ancestors 'none'");
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    };
    if !(embed && has_policy) {
        set("x-frame-options", "DENY");
        set("content-security-policy", "frame-ancestors 'none'");
    }
    set("referrer-policy", "no-referrer");
    set("x-content-type-options", "nosniff");
    response
}

/// One structured line per request: method, path without its query, status and duration.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if path != "/healthz" {
        tracing::info!(http.method = %method, http.path = %path, http.status = status, duration_ms, "request");
    }
    response
}
