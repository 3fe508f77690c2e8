//! The embed SDK (`GET /sdk/verity.js`): the script other sites load to show the flow in an iframe.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderName;
use axum::response::IntoResponse;

/// The SDK's source, built into the binary (no build step; see `assets/verity.js`).
pub const SDK_SOURCE: &str = include_str!("../assets/verity.js");

/// Serves the SDK to any site (cross-origin script), cached by browsers and CDNs for a week.
pub async fn sdk() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=604800"),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        SDK_SOURCE,
    )
}
