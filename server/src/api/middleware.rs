//! Layers of the API: API-key authentication, a per-key rate limit, idempotent POSTs, and the
//! envelope for every error the router itself produces.

use super::error::ApiError;
use super::extract::Caller;
use super::ApiState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ids::ApiKeyId;
use engine::store::IdempotencyClaim;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest JSON body the API reads.
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// The API-only capture endpoint, whose multipart body carries two photos.
pub const GOVERNMENT_ID_UPLOAD_PATH: &str = "/api/v1/verifications/government-id";

/// The largest body of [`GOVERNMENT_ID_UPLOAD_PATH`]: two photos and the form's other fields.
pub fn government_id_upload_limit(max_upload_bytes: u64) -> usize {
    usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX / 4)
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

/// A token bucket per API key: `rate` requests a second on average, bursts up to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<ApiKeyId, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter; `rate_per_second` 0 turns limiting off.
    pub fn new(rate_per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate_per_second: f64::from(rate_per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how many seconds until one is free.
    pub fn check(&self, key: &ApiKeyId) -> Result<(), u64> {
        if self.rate_per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = buckets.entry(key.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate_per_second)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate_per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Resolves `Authorization: Bearer <key>` to a [`Caller`], refuses others with 401, applies the
/// rate limit (429 with `Retry-After`), then runs the request under its [`idempotency`] key.
pub async fn authenticate(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(key) = key else {
        return ApiError::unauthorized("Send your API key as `Authorization: Bearer <key>`.")
            .into_response();
    };
    let record = match state.engine.authenticate_api_key(key).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return ApiError::unauthorized("That API key is not valid, or it was revoked.")
                .into_response()
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    if let Err(retry_after) = state.rate_limiter.check(&record.id) {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            format!("This API key is over its rate limit; retry in {retry_after} s."),
        );
        error.retry_after_seconds = Some(retry_after);
        return error.into_response();
    }
    request.extensions_mut().insert(Caller {
        api_key_id: record.id,
    });
    // In the same layer (a `from_fn` layer boxes its future and inner service per request).
    idempotency(State(state), request, next).await
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The idempotency key a POST runs under, for handlers that store their response in the same
/// transaction as what they create.
#[derive(Debug, Clone)]
pub struct ClaimedIdempotencyKey {
    pub api_key_id: domain::ids::ApiKeyId,
    pub key: String,
}
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `Idempotency-Key` on POST: the first response (status and body) is stored and replayed for
/// the same key; the same key with a different request is refused with 422. A request that
/// arrives while the first is still running waits for its response.
pub async fn idempotency(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|value| value.to_str().map(str::to_owned))
    else {
        return next.run(request).await;
    };
    let key = match key {
        Ok(key) if !key.is_empty() && key.len() <= 255 => key,
        _ => {
            return ApiError::bad_parameter(
                "Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
            .into_response()
        }
    };
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    // Photo uploads are hashed like any other body, within their own (larger) limit.
    let limit = if request.uri().path() == GOVERNMENT_ID_UPLOAD_PATH {
        government_id_upload_limit(state.engine.settings().max_upload_bytes)
    } else {
        MAX_JSON_BODY_BYTES
    };
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(
        parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or(""),
    );
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let waited_until = Instant::now() + Duration::from_secs(30);
    loop {
        let claim = match state
            .engine
            .claim_idempotency_key(&caller.api_key_id, &key, &request_hash)
            .await
        {
            Ok(claim) => claim,
            Err(error) => return ApiError::from(error).into_response(),
        };
        match claim {
            IdempotencyClaim::Claimed => break,
            IdempotencyClaim::Completed {
                request_hash: stored,
                ..
            }
            | IdempotencyClaim::InFlight {
                request_hash: stored,
            } if stored != request_hash => {
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "Idempotency key reused",
                    "This Idempotency-Key was already used with a different request.",
                )
                .into_response();
            }
            IdempotencyClaim::Completed { status, body, .. } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                let mut response = (status, body).into_response();
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
                    .headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return response;
            }
            IdempotencyClaim::InFlight { .. } if Instant::now() < waited_until => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            IdempotencyClaim::InFlight { .. } => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_in_flight",
                    "Request in progress",
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                )
                .into_response();
            }
        }
    }

    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(ClaimedIdempotencyKey {
        api_key_id: caller.api_key_id.clone(),
        key: key.clone(),
    });
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let _ = state
                .engine
                .release_idempotency_key(&caller.api_key_id, &key)
                .await;
            return ApiError::internal(error).into_response();
        }
    };
    let stored = if parts.status.is_server_error() {
        // Our failure is not the answer to the request: let the client retry with the same key.
        state
            .engine
            .release_idempotency_key(&caller.api_key_id, &key)
            .await
    } else {
        // Remember which resource the response carried, so redacting it can erase the replay.
        let resource_id = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|document| document.pointer("/data/id")?.as_str().map(str::to_owned));
        state
            .engine
            .complete_idempotency_key(
                &caller.api_key_id,
                &key,
                parts.status.as_u16(),
                &bytes,
                resource_id.as_deref(),
            )
            .await
    };
    if let Err(error) = stored {
        return ApiError::from(error).into_response();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Gives every error response the router produced by itself (unknown route, wrong method, a
/// body or media-type rejection outside our extractors) the JSON error envelope.
pub async fn envelope_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let allow = response.headers().get(axum::http::header::ALLOW).cloned();
        let mut enveloped = ApiError::for_status(status).into_response();
        if let Some(allow) = allow {
            enveloped
                .headers_mut()
                .insert(axum::http::header::ALLOW, allow);
        }
        return enveloped;
    }
    response
}
