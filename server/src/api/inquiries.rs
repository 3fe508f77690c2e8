//! `/api/v1/inquiries`: create, retrieve, list, update, decide, resume, one-time links, redact.

use super::error::{ApiError, ErrorDocument};
use super::extract::{ApiJson, Caller, QueryParams};
use super::middleware::ClaimedIdempotencyKey;
use super::resources::{
    Account, Document, Included, Inquiry, InquiryDocument, InquiryList, InquiryMeta, Verification,
};
use super::{page_links, ApiState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::ids::{AccountId, InquiryId, TemplateId, TemplateVersionId};
use domain::inquiry::{InquiryCause, InquiryStatus};
use engine::flow::{CreatedInquiry, NewInquiry};
use engine::organization::{validate_tags_and_note, InquiryPatch};
use engine::records::InquiryRecord;
use engine::store::InquiryFilter;
use engine::store::Write;
use engine::EngineError;
use serde::Deserialize;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// What an inquiry is created with.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CreateInquiryAttributes {
    /// The template to use (its current version); or give `inquiry-template-version-id`.
    pub inquiry_template_id: Option<String>,
    /// A specific template version to pin.
    pub inquiry_template_version_id: Option<String>,
    /// Your id for the individual; a new one creates its account.
    pub reference_id: Option<String>,
    /// An existing account (instead of `reference-id`).
    pub account_id: Option<String>,
    /// Values you already know, by field key; validated against the template.
    pub fields: Option<BTreeMap<String, String>>,
    /// Where the individual is sent when the flow ends.
    pub redirect_uri: Option<String>,
    pub note: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInquiryData {
    pub attributes: CreateInquiryAttributes,
    /// Ignored; JSON:API clients may send `"type": "inquiry"`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The body of `POST /api/v1/inquiries`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInquiryRequest {
    pub data: CreateInquiryData,
}

/// What `PATCH` may change while the inquiry is open.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpdateInquiryAttributes {
    /// Field values to set (merged into the existing ones); an empty string clears an optional field.
    pub fields: Option<BTreeMap<String, String>>,
    pub tags: Option<Vec<String>>,
    /// `null` clears the note.
    #[serde(default, deserialize_with = "deserialize_some")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
}

fn deserialize_some<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInquiryData {
    pub attributes: UpdateInquiryAttributes,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
}

/// The body of `PATCH /api/v1/inquiries/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInquiryRequest {
    pub data: UpdateInquiryData,
}

fn parse_inquiry_id(id: &str) -> Result<InquiryId, ApiError> {
    InquiryId::parse(id).map_err(|_| ApiError::not_found("inquiry"))
}

fn validate_redirect_uri(uri: &str) -> Result<(), ApiError> {
    let ok = (uri.starts_with("https://") || uri.starts_with("http://"))
        && uri.len() <= 2000
        && !uri.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "redirect-uri must be an absolute http(s) URL of at most 2000 characters.",
        )
        .at_pointer("/data/attributes/redirect-uri"))
    }
}

/// Renders an inquiry with its relationships and the included resources asked for.
pub async fn render_inquiry(
    state: &ApiState,
    record: &InquiryRecord,
    include: &[String],
    meta: InquiryMeta,
) -> Result<InquiryDocument, ApiError> {
    let verifications = state.engine.verifications_of(&record.id).await?;
    let documents = state.engine.documents_of(&record.id).await?;
    let mut included = Vec::new();
    for name in include {
        match name.as_str() {
            "verifications" => included.extend(
                verifications
                    .iter()
                    .map(|v| Included::Verification(Box::new(Verification::new(v)))),
            ),
            "documents" => included.extend(
                documents
                    .iter()
                    .map(|d| Included::Document(Document::new(d, record.redacted_at))),
            ),
            "account" => {
                if let Some(account_id) = &record.account_id {
                    included.push(Included::Account(Account::new(
                        &state.engine.account(account_id).await?,
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(InquiryDocument {
        data: Inquiry::new(record, &verifications, &documents),
        included,
        meta,
    })
}

const INCLUDABLE: &[&str] = &["verifications", "documents", "account"];

/// Create an inquiry.
#[utoipa::path(
    post, path = "/api/v1/inquiries", tag = "inquiries",
    request_body = CreateInquiryRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key")),
    responses(
        (status = 201, description = "Created; `meta.session-token` opens the flow", body = InquiryDocument),
        (status = 404, description = "Unknown template or account", body = ErrorDocument),
        (status = 422, description = "Invalid attributes or fields", body = ErrorDocument),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    _caller: Caller,
    idempotency: Option<Extension<ClaimedIdempotencyKey>>,
    ApiJson(request): ApiJson<CreateInquiryRequest>,
) -> Result<Response, ApiError> {
    let attributes = request.data.attributes;
    let template_id = attributes
        .inquiry_template_id
        .as_deref()
        .map(|id| TemplateId::parse(id).map_err(|_| ApiError::not_found("inquiry template")))
        .transpose()?;
    let template_version_id = attributes
        .inquiry_template_version_id
        .as_deref()
        .map(|id| {
            TemplateVersionId::parse(id)
                .map_err(|_| ApiError::not_found("inquiry template version"))
        })
        .transpose()?;
    if template_id.is_none() && template_version_id.is_none() {
        return Err(
            ApiError::invalid("Give inquiry-template-id or inquiry-template-version-id.")
                .at_pointer("/data/attributes/inquiry-template-id"),
        );
    }
    let account_id = attributes
        .account_id
        .as_deref()
        .map(|id| AccountId::parse(id).map_err(|_| ApiError::not_found("account")))
        .transpose()?;
    if account_id.is_some() && attributes.reference_id.is_some() {
        return Err(
            ApiError::invalid("Give reference-id or account-id, not both.")
                .at_pointer("/data/attributes/account-id"),
        );
    }
    if let Some(uri) = &attributes.redirect_uri {
        validate_redirect_uri(uri)?;
    }
    let tags = attributes.tags.unwrap_or_default();
    validate_tags_and_note(&tags, attributes.note.as_deref())?;
    // A new inquiry has no verifications or documents yet: no need to ask the database.
    let render = |created: &CreatedInquiry| InquiryDocument {
        data: Inquiry::new(&created.inquiry, &[], &[]),
        included: Vec::new(),
        meta: InquiryMeta {
            session_token: Some(created.session_token.clone()),
            one_time_link: None,
        },
    };
    // Under an Idempotency-Key the response is stored with the inquiry, in one transaction.
    let store_response = |created: &CreatedInquiry| match &idempotency {
        Some(Extension(claimed)) => vec![Write::CompleteIdempotencyKey {
            api_key_id: claimed.api_key_id.clone(),
            key: claimed.key.clone(),
            status: StatusCode::CREATED.as_u16(),
            body: serde_json::to_vec(&render(created)).unwrap_or_default(),
            resource_id: Some(created.inquiry.id.to_string()),
        }],
        None => Vec::new(),
    };
    let created = state
        .engine
        .create_inquiry_recording(
            NewInquiry {
                template_id,
                template_version_id,
                reference_id: attributes.reference_id,
                account_id,
                prefill: attributes.fields.unwrap_or_default(),
                strict_prefill: true,
                redirect_uri: attributes.redirect_uri,
                note: attributes.note,
                tags,
            },
            store_response,
        )
        .await
        .map_err(|error| match error {
            EngineError::InvalidInput(detail) if detail.starts_with("redirect-uri") => {
                ApiError::invalid(detail).at_pointer("/data/attributes/redirect-uri")
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(render(&created))).into_response())
}

/// Retrieve an inquiry.
#[utoipa::path(
    get, path = "/api/v1/inquiries/{id}", tag = "inquiries",
    params(
        ("id" = String, Path, description = "inq_…"),
        ("include" = Option<String>, Query, description = "Comma-separated: verifications, documents, account"),
    ),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<InquiryDocument>, ApiError> {
    let include = query.include(INCLUDABLE)?;
    let record = state.engine.inquiry(&parse_inquiry_id(&id)?).await?;
    Ok(Json(
        render_inquiry(&state, &record, &include, InquiryMeta::default()).await?,
    ))
}

fn parse_time(query: &QueryParams, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    query
        .get(name)
        .map(|raw| {
            OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
                ApiError::bad_parameter(
                    name,
                    format!("{name} must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z."),
                )
            })
        })
        .transpose()
}

/// List inquiries, newest first.
#[utoipa::path(
    get, path = "/api/v1/inquiries", tag = "inquiries",
    params(
        ("page[size]" = Option<u32>, Query, description = "1 to 100, default 10"),
        ("page[after]" = Option<String>, Query, description = "Items older than this id"),
        ("page[before]" = Option<String>, Query, description = "Items newer than this id"),
        ("filter[status]" = Option<String>, Query, description = "Comma-separated statuses"),
        ("filter[reference-id]" = Option<String>, Query),
        ("filter[account-id]" = Option<String>, Query),
        ("filter[inquiry-template-id]" = Option<String>, Query),
        ("filter[created-after]" = Option<String>, Query, description = "RFC 3339"),
        ("filter[created-before]" = Option<String>, Query, description = "RFC 3339"),
    ),
    responses((status = 200, body = InquiryList), (status = 400, body = ErrorDocument)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    _caller: Caller,
    query: QueryParams,
) -> Result<Json<InquiryList>, ApiError> {
    let page = query.page()?;
    let statuses = query
        .list("filter[status]")
        .iter()
        .map(|status| {
            InquiryStatus::parse(status).map_err(|_| {
                ApiError::bad_parameter("filter[status]", format!("Unknown status `{status}`."))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let account_id = match query.get("filter[account-id]") {
        Some(id) => Some(AccountId::parse(id).map_err(|_| {
            ApiError::bad_parameter("filter[account-id]", "Not an account id.".to_owned())
        })?),
        None => None,
    };
    let template_id = match query.get("filter[inquiry-template-id]") {
        Some(id) => Some(TemplateId::parse(id).map_err(|_| {
            ApiError::bad_parameter(
                "filter[inquiry-template-id]",
                "Not a template id.".to_owned(),
            )
        })?),
        None => None,
    };
    let filter = InquiryFilter {
        statuses,
        reference_id: query.get("filter[reference-id]").map(str::to_owned),
        account_id,
        template_id,
        created_after: parse_time(&query, "filter[created-after]")?,
        created_before: parse_time(&query, "filter[created-before]")?,
    };
    let found = state.engine.list_inquiries(&filter, &page).await?;
    let mut data = Vec::with_capacity(found.items.len());
    for record in &found.items {
        data.push(
            render_inquiry(&state, record, &[], InquiryMeta::default())
                .await?
                .data,
        );
    }
    let ids: Vec<String> = data.iter().map(|inquiry| inquiry.id.clone()).collect();
    Ok(Json(InquiryList {
        links: page_links("/api/v1/inquiries", &query, &page, &ids, found.has_more),
        data,
    }))
}

/// Update fields, tags or note while the inquiry is open.
#[utoipa::path(
    patch, path = "/api/v1/inquiries/{id}", tag = "inquiries",
    params(("id" = String, Path)),
    request_body = UpdateInquiryRequest,
    responses(
        (status = 200, body = InquiryDocument),
        (status = 404, body = ErrorDocument),
        (status = 409, description = "The inquiry is no longer open", body = ErrorDocument),
        (status = 422, body = ErrorDocument),
    ),
    security(("api_key" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateInquiryRequest>,
) -> Result<Json<InquiryDocument>, ApiError> {
    let id = parse_inquiry_id(&id)?;
    let attributes = request.data.attributes;
    let record = state
        .engine
        .update_inquiry(
            &id,
            InquiryPatch {
                fields: attributes.fields,
                tags: attributes.tags,
                note: attributes.note,
            },
        )
        .await?;
    Ok(Json(
        render_inquiry(&state, &record, &[], InquiryMeta::default()).await?,
    ))
}

async fn decide(
    state: ApiState,
    id: String,
    cause: InquiryCause,
) -> Result<Json<InquiryDocument>, ApiError> {
    let record = state.engine.decide(&parse_inquiry_id(&id)?, cause).await?;
    Ok(Json(
        render_inquiry(&state, &record, &[], InquiryMeta::default()).await?,
    ))
}

/// Approve an inquiry.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/approve", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, description = "Illegal from the current status (in `meta.current-status`)", body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn approve(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    decide(state, id, InquiryCause::Approve).await
}

/// Decline an inquiry.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/decline", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn decline(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    decide(state, id, InquiryCause::Decline).await
}

/// Mark an inquiry for review.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/mark-for-review", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn mark_for_review(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    decide(state, id, InquiryCause::MarkForReview).await
}

/// Expire an open inquiry now.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/expire", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn expire(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    decide(state, id, InquiryCause::Expire).await
}

/// A new session token for a created or pending inquiry.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/resume", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, description = "`meta.session-token`", body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn resume(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    let (record, token) = state.engine.resume_inquiry(&parse_inquiry_id(&id)?).await?;
    let meta = InquiryMeta {
        session_token: Some(token),
        one_time_link: None,
    };
    Ok(Json(render_inquiry(&state, &record, &[], meta).await?))
}

/// A single-use link to the flow, valid until the inquiry expires.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/generate-one-time-link", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, description = "`meta.one-time-link`", body = InquiryDocument), (status = 404, body = ErrorDocument), (status = 409, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn generate_one_time_link(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    let (record, code) = state
        .engine
        .generate_one_time_link(&parse_inquiry_id(&id)?)
        .await?;
    let link = format!("{}/verify?code={code}", state.public_url);
    let meta = InquiryMeta {
        session_token: None,
        one_time_link: Some(link),
    };
    Ok(Json(render_inquiry(&state, &record, &[], meta).await?))
}

/// Redact an inquiry: erase personal data and files; ids, statuses and timestamps stay.
#[utoipa::path(delete, path = "/api/v1/inquiries/{id}", tag = "inquiries", params(("id" = String, Path)),
    responses((status = 200, body = InquiryDocument), (status = 404, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn redact(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InquiryDocument>, ApiError> {
    let record = state.engine.redact_inquiry(&parse_inquiry_id(&id)?).await?;
    Ok(Json(
        render_inquiry(&state, &record, &[], InquiryMeta::default()).await?,
    ))
}
