//! The individual's session cookie: one cookie per inquiry, holding that inquiry's session token.
//!
//! The token opens that inquiry and nothing else; the server stores only its hash. The cookie is
//! `HttpOnly` and `SameSite=Lax`, so scripts cannot read it and other sites cannot post with it.

use domain::ids::InquiryId;
use http::header::{COOKIE, SET_COOKIE};
use http::HeaderValue;
use leptos::prelude::*;
use time::OffsetDateTime;

fn cookie_name(inquiry_id: &InquiryId) -> String {
    format!("verity_{inquiry_id}")
}

/// The session token the browser holds for `inquiry_id`, if any.
pub fn token_from_request(inquiry_id: &InquiryId) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let name = cookie_name(inquiry_id);
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether cookies should carry `Secure`: when the public URL is https, or the browser is on
/// localhost (which browsers treat as secure).
fn secure(public_url: &str) -> bool {
    public_url.starts_with("https://")
        || public_url.starts_with("http://localhost")
        || public_url.starts_with("http://127.0.0.1")
}

/// Sets the session cookie for `inquiry_id` on the response, living until `expires_at`.
pub fn set_token_cookie(
    inquiry_id: &InquiryId,
    token: &str,
    expires_at: OffsetDateTime,
    public_url: &str,
) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let max_age = (expires_at - OffsetDateTime::now_utc())
        .whole_seconds()
        .max(0);
    let secure = if secure(public_url) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        cookie_name(inquiry_id),
        token,
        max_age,
        secure
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.append_header(SET_COOKIE, value);
    }
}
