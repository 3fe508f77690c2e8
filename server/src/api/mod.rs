//! The organization's REST API at `/api/v1`: JSON:API-style resources with kebab-case keys, API
//! keys, idempotent POSTs, cursor pagination, a per-key rate limit, the error envelope for every
//! failure, and an OpenAPI 3.1 document generated from this code.

pub mod error;
pub mod extract;
pub mod inquiries;
pub mod links;
pub mod middleware;
pub mod reads;
pub mod resources;
pub mod verifications;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use engine::store::PageRequest;
use engine::Engine;
use error::ApiError;
use extract::QueryParams;
use middleware::RateLimiter;
use resources::PageLinks;
use std::sync::Arc;
use tower::ServiceBuilder;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Ref;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What every API handler shares, behind one `Arc`: axum clones the state for each middleware
/// and handler of every request, and one reference count is cheaper to move between cores than
/// the engine's several.
#[derive(Debug, Clone)]
pub struct ApiState(Arc<ApiShared>);

/// The contents of [`ApiState`].
#[derive(Debug)]
pub struct ApiShared {
    pub engine: Engine,
    pub rate_limiter: RateLimiter,
    /// The base URL for links handed out (one-time links).
    pub public_url: String,
}

impl ApiState {
    pub fn new(shared: ApiShared) -> ApiState {
        ApiState(Arc::new(shared))
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiShared;

    fn deref(&self) -> &ApiShared {
        &self.0
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `verity api-key create`."))
                    .build(),
            ),
        );
    }
}

/// Documents the errors every operation can answer that no handler names: 401 (key), 429 (rate
/// limit) everywhere; 400, 413 and 415 wherever a JSON body is read; 400 for bad query parameters.
struct CommonErrors;

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorDocument")))
                .build(),
        )
        .build()
        .into()
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
                    parameters.iter().any(|p| {
                        matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)
                    })
                });
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                };
                add("401", "Missing, unknown or revoked API key");
                add(
                    "429",
                    "Over the API key's rate limit; retry after `Retry-After` seconds",
                );
                if has_body {
                    add("400", "Malformed JSON or an invalid `Idempotency-Key`");
                    add("413", "The body is larger than 1 MiB");
                    add("415", "The body is not `application/json`");
                }
                if has_query {
                    add("400", "An invalid query parameter");
                }
                let takes_idempotency_key =
                    operation.parameters.as_ref().is_some_and(|parameters| {
                        parameters.iter().any(|p| p.name == "Idempotency-Key")
                    });
                if takes_idempotency_key {
                    add("400", "An invalid `Idempotency-Key`");
                    add(
                        "422",
                        "The `Idempotency-Key` was already used with a different request",
                    );
                    add(
                        "409",
                        "A request with this `Idempotency-Key` is still running; retry shortly",
                    );
                }
            }
        }
    }
}

/// The OpenAPI 3.1 document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Verity API", version = "1", description = "Identity verification: inquiries, accounts, verifications, documents and events."),
    paths(
        inquiries::create, inquiries::list, inquiries::retrieve, inquiries::update, inquiries::redact,
        inquiries::approve, inquiries::decline, inquiries::mark_for_review, inquiries::expire,
        inquiries::resume, inquiries::generate_one_time_link, links::send_link,
        reads::create_account, reads::list_accounts, reads::retrieve_account,
        reads::list_templates, reads::retrieve_template,
        reads::retrieve_verification,
        verifications::create_government_id, verifications::submit,
        reads::retrieve_document, reads::download_document_file,
        reads::list_events, reads::retrieve_event,
        webhooks::create, webhooks::list, webhooks::retrieve, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::replay,
    ),
    modifiers(&BearerAuth, &CommonErrors),
    tags(
        (name = "inquiries", description = "One individual's attempt to verify their identity"),
        (name = "accounts", description = "Users in your own system"),
        (name = "inquiry-templates", description = "What an inquiry collects and checks"),
        (name = "verifications", description = "Checks run on what the individual provided"),
        (name = "documents", description = "Files the individual provided"),
        (name = "events", description = "Every status change"),
        (name = "webhooks", description = "Endpoints that receive events, signed (Standard Webhooks)"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document as pretty JSON (what `/openapi.json` serves and `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `links.prev` / `links.next` of a newest-first page, keeping the other query parameters.
pub fn page_links(
    base: &str,
    query: &QueryParams,
    page: &PageRequest,
    ids: &[String],
    has_more: bool,
) -> PageLinks {
    let kept: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(key, _)| key != "page[after]" && key != "page[before]")
        .cloned()
        .collect();
    let link = |cursor: &str, id: &str| {
        let mut params = kept.clone();
        params.push((cursor.to_owned(), id.to_owned()));
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    };
    let backwards = page.before.is_some() && page.after.is_none();
    let (first, last) = (ids.first(), ids.last());
    let next = match last {
        Some(last) if has_more || backwards => Some(link("page[after]", last)),
        _ => None,
    };
    let prev = match first {
        Some(first) if (backwards && has_more) || (!backwards && page.after.is_some()) => {
            Some(link("page[before]", first))
        }
        _ => None,
    };
    PageLinks { prev, next }
}

async fn api_not_found() -> ApiError {
    ApiError::for_status(StatusCode::NOT_FOUND)
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// The API's routes, to be merged into the server's router.
pub fn router(state: ApiState) -> Router {
    use inquiries as inq;
    let v1 = Router::new()
        .route("/inquiries", post(inq::create).get(inq::list))
        .route(
            "/inquiries/{id}",
            get(inq::retrieve).patch(inq::update).delete(inq::redact),
        )
        .route("/inquiries/{id}/approve", post(inq::approve))
        .route("/inquiries/{id}/decline", post(inq::decline))
        .route(
            "/inquiries/{id}/mark-for-review",
            post(inq::mark_for_review),
        )
        .route("/inquiries/{id}/expire", post(inq::expire))
        .route("/inquiries/{id}/resume", post(inq::resume))
        .route(
            "/inquiries/{id}/generate-one-time-link",
            post(inq::generate_one_time_link),
        )
        .route("/inquiries/{id}/send-link", post(links::send_link))
        .route(
            "/accounts",
            post(reads::create_account).get(reads::list_accounts),
        )
        .route("/accounts/{id}", get(reads::retrieve_account))
        .route("/inquiry-templates", get(reads::list_templates))
        .route("/inquiry-templates/{id}", get(reads::retrieve_template))
        .route(
            "/verifications/government-id",
            post(verifications::create_government_id).layer(DefaultBodyLimit::max(
                middleware::government_id_upload_limit(state.engine.settings().max_upload_bytes),
            )),
        )
        .route("/verifications/{id}/submit", post(verifications::submit))
        .route("/verifications/{id}", get(reads::retrieve_verification))
        .route("/documents/{id}", get(reads::retrieve_document))
        .route(
            "/documents/{id}/files/{file_id}",
            get(reads::download_document_file),
        )
        .route("/events", get(reads::list_events))
        .route("/events/{id}", get(reads::retrieve_event))
        .route("/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/webhooks/{id}",
            get(webhooks::retrieve)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}/replay", post(webhooks::replay))
        // Authentication, then idempotency (which needs the caller) in the same layer.
        .route_layer(from_fn_with_state(state.clone(), middleware::authenticate))
        .fallback(api_not_found)
        .with_state(state.clone());
    // Wrapped once around the nested router rather than with `Router::layer`, which wraps each
    // route's boxed service: axum clones a route's whole stack of boxes for every request.
    let v1 = ServiceBuilder::new()
        .layer(from_fn(middleware::envelope_errors))
        .layer(DefaultBodyLimit::max(middleware::MAX_JSON_BODY_BYTES))
        .service(v1);
    let outside_v1 = Router::new()
        .route("/api", any(api_not_found))
        .route("/api/", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .route("/openapi.json", get(openapi))
        .layer(from_fn(middleware::envelope_errors))
        .with_state(state);
    Router::new().nest_service("/api/v1", v1).merge(outside_v1)
}
