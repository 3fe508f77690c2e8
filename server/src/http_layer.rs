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
use std::time::{Duration, Instant};

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

/// What every request passes through, as one layer rather than three (each `from_fn` layer boxes
/// its future and its inner service for every request): the request log, around the security
/// headers, around [`retry_stalled_pages`].
pub async fn every_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = retry_stalled_pages(request, next).await;
    add_security_headers(&path, &mut response);
    log_request(&method, &path, response.status(), started);
    response
}

/// Headers every response carries: the flow may not be framed by other sites, tokens in URLs do
/// not leak through the Referer, and content types are not sniffed.
///
/// The one exception is the embed page (`/embed`): it answers its own
/// `Content-Security-Policy: frame-ancestors …` with the origins its template allows (or
/// `'none'`), and carries no `X-Frame-Options`, which cannot name origins. An embed response that
/// did not set a policy gets `'none'`.
fn add_security_headers(path: &str, response: &mut Response) {
    let embed = path == "/embed";
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
}

/// One structured line per request: method, path without its query, status and duration.
fn log_request(method: &axum::http::Method, path: &str, status: StatusCode, started: Instant) {
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if path != "/healthz" {
        tracing::info!(http.method = %method, http.path = %path, http.status = status.as_u16(), duration_ms, "request");
    }
}

/// The pages rendered whole on the server before they answer (`SsrMode::Async`).
const RENDERED_PAGES: [&str; 2] = ["/verify", "/embed"];

/// How long one server rendering of a page may take before it is started again.
pub const PAGE_RENDER_LIMIT: Duration = Duration::from_secs(5);

/// How many times a page is rendered at most before the person is asked to reload.
const PAGE_RENDER_TRIES: u32 = 3;

/// Leptos 0.8's server rendering of a page whose `<Suspense>` waits on a resource very rarely
/// never finishes: the resource resolves but the suspense is not woken (upstream races,
/// leptos-rs/leptos#4851 and #4673; 0.8.23 fixed one cause, not all: `server/tests/http_flow.rs`
/// run 250 times had 8 stalled renders, about one in 900). Our pages render whole before they
/// answer, so nothing has been sent yet: a GET that has not finished within
/// [`PAGE_RENDER_LIMIT`] is dropped and rendered again (the same GET, so nothing is done twice
/// that matters), and after [`PAGE_RENDER_TRIES`] the person gets a plain page asking them to
/// reload instead of a page that never loads.
pub async fn retry_stalled_pages(request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::GET
        || !RENDERED_PAGES.contains(&request.uri().path())
    {
        return next.run(request).await;
    }
    let (parts, _empty_body) = request.into_parts();
    for attempt in 1..=PAGE_RENDER_TRIES {
        let request = Request::from_parts(parts.clone(), axum::body::Body::empty());
        match tokio::time::timeout(PAGE_RENDER_LIMIT, next.clone().run(request)).await {
            Ok(response) => return response,
            Err(_) => tracing::warn!(
                path = parts.uri.path(),
                attempt,
                "page rendering stalled; rendering it again"
            ),
        }
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        )],
        axum::response::Html(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Please reload</title></head><body><main><h1>This page did not load</h1>\
             <p>Nothing you entered was lost. Please reload the page to continue.</p>\
             </main></body></html>",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::routing::get;
    use axum::Router;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use tower::ServiceExt;

    /// A router whose pages stall (never answer) on their first `stalls` renders.
    fn pages_stalling(stalls: u32, renders: Arc<AtomicU32>) -> Router {
        let render = move || {
            let renders = renders.clone();
            async move {
                if renders.fetch_add(1, Ordering::SeqCst) < stalls {
                    std::future::pending::<()>().await;
                }
                "rendered"
            }
        };
        Router::new()
            .route("/verify", get(render.clone()).post(render.clone()))
            .route("/other", get(render))
            .layer(axum::middleware::from_fn(retry_stalled_pages))
    }

    async fn send(router: Router, method: &str, path: &str) -> Response {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        router.oneshot(request).await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_render_is_started_again_and_answers() {
        let renders = Arc::new(AtomicU32::new(0));
        let response = send(
            pages_stalling(1, renders.clone()),
            "GET",
            "/verify?inquiry-id=x",
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"rendered");
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_that_never_renders_asks_the_person_to_reload() {
        let renders = Arc::new(AtomicU32::new(0));
        let response = send(pages_stalling(u32::MAX, renders.clone()), "GET", "/verify").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("Please reload the page"));
        assert_eq!(renders.load(Ordering::SeqCst), PAGE_RENDER_TRIES);
    }

    #[tokio::test(start_paused = true)]
    async fn other_routes_and_methods_are_never_run_twice() {
        for (method, path) in [("POST", "/verify"), ("GET", "/other")] {
            let renders = Arc::new(AtomicU32::new(0));
            let waited = tokio::time::timeout(
                PAGE_RENDER_LIMIT * 10,
                send(pages_stalling(1, renders.clone()), method, path),
            )
            .await;
            assert!(waited.is_err(), "{method} {path} answered");
            assert_eq!(renders.load(Ordering::SeqCst), 1, "{method} {path}");
        }
    }
}
