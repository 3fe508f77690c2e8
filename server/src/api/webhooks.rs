//! `/api/v1/webhooks`: subscribe endpoints to events, rotate their signing secrets, read their
//! delivery attempts and replay events to them.

use super::error::{ApiError, ErrorDocument};
use super::extract::{ApiJson, Caller, QueryParams};
use super::resources::{
    Webhook, WebhookAttempt, WebhookAttemptList, WebhookDocument, WebhookList, WebhookMeta,
};
use super::{page_links, ApiState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::ids::{EventId, WebhookId};
use engine::records::WebhookStatus;
use engine::store::ReplayFrom;
use engine::webhooks::{NewWebhook, WebhookChange};
use engine::EngineError;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// What a webhook is created with.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CreateWebhookAttributes {
    /// Where events are posted (`http://` or `https://`).
    pub url: String,
    /// Event names (e.g. `inquiry.completed`), or `["*"]` for every event.
    pub enabled_events: Vec<String>,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookData {
    pub attributes: CreateWebhookAttributes,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    pub data: CreateWebhookData,
}

/// What `PATCH` may change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpdateWebhookAttributes {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    /// `enabled` or `disabled`; enabling a disabled webhook sends what queued meanwhile.
    pub status: Option<String>,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookData {
    pub attributes: UpdateWebhookAttributes,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
}

/// The body of `PATCH /api/v1/webhooks/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub data: UpdateWebhookData,
}

/// Where a replay starts: give exactly one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReplayWebhookAttributes {
    /// This event and every later one the webhook subscribes to.
    pub from_event_id: Option<String>,
    /// Events created at or after this RFC 3339 time.
    pub from_time: Option<String>,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayWebhookData {
    pub attributes: ReplayWebhookAttributes,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The body of `POST /api/v1/webhooks/{id}/replay`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayWebhookRequest {
    pub data: ReplayWebhookData,
}

fn parse_webhook_id(id: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(id).map_err(|_| ApiError::not_found("webhook"))
}

/// Points a refused value at the attribute it came from.
fn at_attribute(error: EngineError, attribute: &str) -> ApiError {
    match error {
        EngineError::InvalidInput(detail) => {
            ApiError::invalid(detail).at_pointer(&format!("/data/attributes/{attribute}"))
        }
        other => other.into(),
    }
}

fn refusal_pointer(error: EngineError) -> ApiError {
    let attribute = match &error {
        EngineError::InvalidInput(detail) if detail.starts_with("url") => "url",
        EngineError::InvalidInput(_) => "enabled-events",
        _ => "",
    };
    at_attribute(error, attribute)
}

fn document(
    webhook: &engine::records::WebhookRecord,
    meta: Option<WebhookMeta>,
) -> WebhookDocument {
    WebhookDocument {
        data: Webhook::new(webhook),
        meta,
    }
}

/// Subscribe an endpoint to events. The response shows the signing secret once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhookRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = WebhookDocument), (status = 422, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    _caller: Caller,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    let attributes = request.data.attributes;
    let (webhook, secret) = state
        .engine
        .create_webhook(NewWebhook {
            url: attributes.url,
            enabled_events: attributes.enabled_events,
        })
        .await
        .map_err(refusal_pointer)?;
    let meta = WebhookMeta {
        secret: Some(secret),
        replayed_events: None,
    };
    Ok((StatusCode::CREATED, Json(document(&webhook, Some(meta)))).into_response())
}

/// The webhooks, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    params(("page[size]" = Option<u32>, Query), ("page[after]" = Option<String>, Query), ("page[before]" = Option<String>, Query)),
    responses((status = 200, body = WebhookList), (status = 400, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    _caller: Caller,
    query: QueryParams,
) -> Result<Json<WebhookList>, ApiError> {
    let page = query.page()?;
    let found = state.engine.list_webhooks(&page).await?;
    let data: Vec<Webhook> = found.items.iter().map(Webhook::new).collect();
    let ids: Vec<String> = data.iter().map(|w| w.id.clone()).collect();
    Ok(Json(WebhookList {
        links: page_links("/api/v1/webhooks", &query, &page, &ids, found.has_more),
        data,
    }))
}

/// Retrieve a webhook (without its secret).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookDocument>, ApiError> {
    let webhook = state.engine.webhook(&parse_webhook_id(&id)?).await?;
    Ok(Json(document(&webhook, None)))
}

/// Change a webhook's URL, events or status.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookDocument), (status = 404, body = ErrorDocument), (status = 422, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<WebhookDocument>, ApiError> {
    let id = parse_webhook_id(&id)?;
    let attributes = request.data.attributes;
    let status = match attributes.status.as_deref() {
        None => None,
        Some(raw) => Some(WebhookStatus::parse(raw).ok_or_else(|| {
            ApiError::invalid("status must be `enabled` or `disabled`.")
                .at_pointer("/data/attributes/status")
        })?),
    };
    let webhook = state
        .engine
        .update_webhook(
            &id,
            WebhookChange {
                url: attributes.url,
                enabled_events: attributes.enabled_events,
                status,
            },
        )
        .await
        .map_err(refusal_pointer)?;
    Ok(Json(document(&webhook, None)))
}

/// Delete a webhook; nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookDocument>, ApiError> {
    let webhook = state.engine.delete_webhook(&parse_webhook_id(&id)?).await?;
    Ok(Json(document(&webhook, None)))
}

/// A new signing secret, shown once; the old one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = WebhookDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookDocument>, ApiError> {
    let (webhook, secret) = state
        .engine
        .rotate_webhook_secret(&parse_webhook_id(&id)?)
        .await?;
    let meta = WebhookMeta {
        secret: Some(secret),
        replayed_events: None,
    };
    Ok(Json(document(&webhook, Some(meta))))
}

/// Delivery attempts of a webhook, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ("page[size]" = Option<u32>, Query), ("page[after]" = Option<String>, Query), ("page[before]" = Option<String>, Query),
        ("filter[event-id]" = Option<String>, Query, description = "Attempts to deliver this event")),
    responses((status = 200, body = WebhookAttemptList), (status = 400, body = ErrorDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn deliveries(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<WebhookAttemptList>, ApiError> {
    let webhook_id = parse_webhook_id(&id)?;
    let page = query.page()?;
    let event_id = match query.get("filter[event-id]") {
        None => None,
        Some(raw) => Some(EventId::parse(raw).map_err(|_| {
            ApiError::bad_parameter("filter[event-id]", "It must be an event id (evt_…).")
        })?),
    };
    let found = state
        .engine
        .webhook_attempts(&webhook_id, event_id.as_ref(), &page)
        .await?;
    let data: Vec<WebhookAttempt> = found.items.iter().map(WebhookAttempt::new).collect();
    let ids: Vec<String> = data.iter().map(|a| a.id.clone()).collect();
    Ok(Json(WebhookAttemptList {
        links: page_links(
            &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
            &query,
            &page,
            &ids,
            found.has_more,
        ),
        data,
    }))
}

/// Send events again, from an event id or a time, to this webhook.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ReplayWebhookRequest,
    responses((status = 200, body = WebhookDocument), (status = 404, body = ErrorDocument), (status = 422, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn replay(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ReplayWebhookRequest>,
) -> Result<Json<WebhookDocument>, ApiError> {
    let id = parse_webhook_id(&id)?;
    let attributes = request.data.attributes;
    let from = match (attributes.from_event_id, attributes.from_time) {
        (Some(event_id), None) => ReplayFrom::Event(EventId::parse(&event_id).map_err(|_| {
            ApiError::invalid("from-event-id must be an event id (evt_…).")
                .at_pointer("/data/attributes/from-event-id")
        })?),
        (None, Some(time)) => {
            ReplayFrom::Time(OffsetDateTime::parse(&time, &Rfc3339).map_err(|_| {
                ApiError::invalid("from-time must be an RFC 3339 time.")
                    .at_pointer("/data/attributes/from-time")
            })?)
        }
        _ => {
            return Err(
                ApiError::invalid("Give exactly one of from-event-id and from-time.")
                    .at_pointer("/data/attributes"),
            )
        }
    };
    let replayed = state.engine.replay_webhook(&id, from).await?;
    let webhook = state.engine.webhook(&id).await?;
    let meta = WebhookMeta {
        secret: None,
        replayed_events: Some(replayed),
    };
    Ok(Json(document(&webhook, Some(meta))))
}
