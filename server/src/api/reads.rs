//! Accounts, inquiry templates, verifications, documents (with authorized file download) and the
//! event feed.

use super::error::{ApiError, ErrorDocument};
use super::extract::{ApiJson, Caller, QueryParams};
use super::resources::{
    Account, AccountDocument, AccountList, Document, DocumentDocument, Event, EventDocument,
    EventList, InquiryTemplate, InquiryTemplateDocument, InquiryTemplateList, PageLinks,
    Verification, VerificationDocument,
};
use super::{page_links, ApiState};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::ids::{AccountId, DocumentId, EventId, TemplateId, VerificationId};
use engine::store::EventFilter;
use serde::Deserialize;
use utoipa::ToSchema;

/// What an account is created with.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CreateAccountAttributes {
    /// Your id for the user; unique.
    pub reference_id: Option<String>,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountData {
    pub attributes: CreateAccountAttributes,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The body of `POST /api/v1/accounts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub data: CreateAccountData,
}

/// Create an account (or get the existing one with that reference id).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccountRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = AccountDocument), (status = 200, description = "An account with that reference-id already exists", body = AccountDocument), (status = 422, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn create_account(
    State(state): State<ApiState>,
    _caller: Caller,
    ApiJson(request): ApiJson<CreateAccountRequest>,
) -> Result<Response, ApiError> {
    let (account, created) = state
        .engine
        .create_account(request.data.attributes.reference_id)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(AccountDocument {
            data: Account::new(&account),
        }),
    )
        .into_response())
}

/// Retrieve an account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = AccountDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve_account(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AccountDocument>, ApiError> {
    let id = AccountId::parse(&id).map_err(|_| ApiError::not_found("account"))?;
    Ok(Json(AccountDocument {
        data: Account::new(&state.engine.account(&id).await?),
    }))
}

/// List accounts, newest first.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    params(("page[size]" = Option<u32>, Query), ("page[after]" = Option<String>, Query), ("page[before]" = Option<String>, Query), ("filter[reference-id]" = Option<String>, Query)),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn list_accounts(
    State(state): State<ApiState>,
    _caller: Caller,
    query: QueryParams,
) -> Result<Json<AccountList>, ApiError> {
    let page = query.page()?;
    let found = state
        .engine
        .list_accounts(query.get("filter[reference-id]"), &page)
        .await?;
    let data: Vec<Account> = found.items.iter().map(Account::new).collect();
    let ids: Vec<String> = data.iter().map(|a| a.id.clone()).collect();
    Ok(Json(AccountList {
        links: page_links("/api/v1/accounts", &query, &page, &ids, found.has_more),
        data,
    }))
}

/// List inquiry templates with their current version.
#[utoipa::path(get, path = "/api/v1/inquiry-templates", tag = "inquiry-templates",
    responses((status = 200, body = InquiryTemplateList)),
    security(("api_key" = [])))]
pub async fn list_templates(
    State(state): State<ApiState>,
    _caller: Caller,
) -> Json<InquiryTemplateList> {
    let data = state
        .engine
        .templates()
        .all()
        .iter()
        .map(|version| InquiryTemplate::new(version))
        .collect();
    Json(InquiryTemplateList {
        data,
        links: PageLinks {
            prev: None,
            next: None,
        },
    })
}

/// Retrieve an inquiry template with its current version.
#[utoipa::path(get, path = "/api/v1/inquiry-templates/{id}", tag = "inquiry-templates", params(("id" = String, Path)),
    responses((status = 200, body = InquiryTemplateDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve_template(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryTemplateDocument>, ApiError> {
    let id = TemplateId::parse(&id).map_err(|_| ApiError::not_found("inquiry template"))?;
    let version = state
        .engine
        .templates()
        .current(&id)
        .ok_or_else(|| ApiError::not_found("inquiry template"))?;
    Ok(Json(InquiryTemplateDocument {
        data: InquiryTemplate::new(&version),
    }))
}

/// Retrieve a verification with its checks.
#[utoipa::path(get, path = "/api/v1/verifications/{id}", tag = "verifications", params(("id" = String, Path)),
    responses((status = 200, body = VerificationDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve_verification(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<VerificationDocument>, ApiError> {
    let id = VerificationId::parse(&id).map_err(|_| ApiError::not_found("verification"))?;
    let verification = state.engine.verification(&id).await?;
    Ok(Json(VerificationDocument {
        data: Verification::with_extracted(
            &verification,
            state.engine.extracted_attributes(&verification)?,
        ),
    }))
}

/// Retrieve a document's metadata.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", params(("id" = String, Path)),
    responses((status = 200, body = DocumentDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve_document(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DocumentDocument>, ApiError> {
    let id = DocumentId::parse(&id).map_err(|_| ApiError::not_found("document"))?;
    let document = state.engine.document(&id).await?;
    let inquiry = state.engine.inquiry(&document.inquiry_id).await?;
    Ok(Json(DocumentDocument {
        data: Document::new(&document, inquiry.redacted_at),
    }))
}

/// Download one of a document's files, with its content type.
#[utoipa::path(get, path = "/api/v1/documents/{id}/files/{file_id}", tag = "documents",
    params(("id" = String, Path), ("file_id" = String, Path, description = "The file's id from the document (`front`, `back`)")),
    responses(
        (status = 200, description = "The file", content_type = "image/*", body = Vec<u8>),
        (status = 404, body = ErrorDocument),
        (status = 410, description = "Erased by redaction", body = ErrorDocument),
    ),
    security(("api_key" = [])))]
pub async fn download_document_file(
    State(state): State<ApiState>,
    _caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = DocumentId::parse(&id).map_err(|_| ApiError::not_found("document"))?;
    let document = state.engine.document(&id).await?;
    if document.side != file_id {
        return Err(ApiError::not_found("document file"));
    }
    let inquiry = state.engine.inquiry(&document.inquiry_id).await?;
    if inquiry.redacted_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "redacted",
            "Redacted",
            "This file was erased when its inquiry was redacted.",
        ));
    }
    let bytes = state.engine.document_bytes(&document).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&document.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    Ok(response)
}

/// Retrieve an event.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = EventDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn retrieve_event(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EventDocument>, ApiError> {
    let id = EventId::parse(&id).map_err(|_| ApiError::not_found("event"))?;
    Ok(Json(EventDocument {
        data: Event::new(&state.engine.event(&id).await?),
    }))
}

/// The event feed, newest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(("page[size]" = Option<u32>, Query), ("page[after]" = Option<String>, Query), ("page[before]" = Option<String>, Query),
        ("filter[name]" = Option<String>, Query, description = "Comma-separated event names"),
        ("filter[object-id]" = Option<String>, Query, description = "Events about this inquiry or verification")),
    responses((status = 200, body = EventList), (status = 400, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn list_events(
    State(state): State<ApiState>,
    _caller: Caller,
    query: QueryParams,
) -> Result<Json<EventList>, ApiError> {
    let page = query.page()?;
    let filter = EventFilter {
        names: query.list("filter[name]"),
        object_id: query.get("filter[object-id]").map(str::to_owned),
    };
    let found = state.engine.list_events(&filter, &page).await?;
    let data: Vec<Event> = found.items.iter().map(Event::new).collect();
    let ids: Vec<String> = data.iter().map(|e| e.id.clone()).collect();
    Ok(Json(EventList {
        links: page_links("/api/v1/events", &query, &page, &ids, found.has_more),
        data,
    }))
}
