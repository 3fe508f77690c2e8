//! API-only government-ID capture for integrators with their own UI: create a verification on an
//! inquiry with the photos (multipart), then submit it to run the same checks and lifecycle as
//! the hosted flow.

use super::error::{ApiError, ErrorDocument};
use super::extract::Caller;
use super::resources::{Verification, VerificationDocument};
use super::ApiState;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::{Bytes, BytesMut};
use domain::ids::{InquiryId, VerificationId};
use engine::government_id::GovernmentIdCapture;
use utoipa::ToSchema;

/// The multipart form of `POST /api/v1/verifications/government-id`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart form for OpenAPI")]
pub struct GovernmentIdForm {
    /// The inquiry (`inq_…`) the verification belongs to.
    #[schema(rename = "inquiry-id")]
    inquiry_id: String,
    /// The issuing country, ISO 3166-1 alpha-2 (e.g. `US`).
    #[schema(rename = "country-code")]
    country_code: String,
    /// `dl` (driver licence), `id` (ID card) or `pp` (passport).
    #[schema(rename = "id-class")]
    id_class: String,
    /// The front of the document (or a passport's data page): JPEG, PNG or WebP.
    #[schema(rename = "front-photo", value_type = String, format = Binary)]
    front_photo: Vec<u8>,
    /// The back (US/CA licences and ID cards, ID cards with an MRZ on the back).
    #[schema(rename = "back-photo", value_type = Option<String>, format = Binary)]
    back_photo: Option<Vec<u8>>,
}

fn form_error(detail: impl Into<String>, field: &str) -> ApiError {
    ApiError::invalid(detail).at_pointer(&format!("/{field}"))
}

/// Reads one file part chunk by chunk, refusing it as soon as it passes the limit.
async fn read_limited(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|_| ApiError::invalid("The multipart body could not be read."))?
    {
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                format!("Each photo may be at most {limit} bytes."),
            ));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

/// Create a government-ID verification on an inquiry with the document's photos.
#[utoipa::path(post, path = "/api/v1/verifications/government-id", tag = "verifications",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body(content = GovernmentIdForm, content_type = "multipart/form-data"),
    responses((status = 201, body = VerificationDocument), (status = 404, body = ErrorDocument),
        (status = 409, description = "The inquiry is not open, or a verification awaits submission", body = ErrorDocument),
        (status = 413, body = ErrorDocument), (status = 415, body = ErrorDocument), (status = 422, body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn create_government_id(
    State(state): State<ApiState>,
    _caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "Send multipart/form-data with inquiry-id, country-code, id-class, front-photo and back-photo.",
        )
    })?;
    let limit = state.engine.settings().max_upload_bytes;
    let (mut inquiry_id, mut country_code, mut id_class) = (None, None, None);
    let (mut front, mut back) = (None, None);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| ApiError::invalid("The multipart body could not be read."))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "front-photo" => front = Some(read_limited(&mut field, limit).await?),
            "back-photo" => back = Some(read_limited(&mut field, limit).await?),
            "inquiry-id" | "country-code" | "id-class" => {
                let value = read_limited(&mut field, 256).await?;
                let value = String::from_utf8(value.to_vec())
                    .map_err(|_| form_error(format!("{name} must be text."), &name))?;
                match name.as_str() {
                    "inquiry-id" => inquiry_id = Some(value),
                    "country-code" => country_code = Some(value),
                    _ => id_class = Some(value),
                }
            }
            other => {
                return Err(form_error(format!("Unknown form field `{other}`."), other));
            }
        }
    }
    let inquiry_id =
        inquiry_id.ok_or_else(|| form_error("inquiry-id is required.", "inquiry-id"))?;
    let inquiry_id = InquiryId::parse(&inquiry_id).map_err(|_| ApiError::not_found("inquiry"))?;
    let country_code =
        country_code.ok_or_else(|| form_error("country-code is required.", "country-code"))?;
    let id_class = id_class.ok_or_else(|| form_error("id-class is required.", "id-class"))?;
    let front = front
        .filter(|photo| !photo.is_empty())
        .ok_or_else(|| form_error("front-photo is required.", "front-photo"))?;
    let verification = state
        .engine
        .create_government_id_verification(GovernmentIdCapture {
            inquiry_id,
            country_code,
            id_class,
            front,
            back: back.filter(|photo| !photo.is_empty()),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(VerificationDocument {
            data: Verification::new(&verification),
        }),
    )
        .into_response())
}

/// Run every check on the verification's photos and record the verdict.
#[utoipa::path(post, path = "/api/v1/verifications/{id}/submit", tag = "verifications",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = VerificationDocument), (status = 404, body = ErrorDocument),
        (status = 409, description = "Already submitted, or its inquiry is not open", body = ErrorDocument)),
    security(("api_key" = [])))]
pub async fn submit(
    State(state): State<ApiState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<VerificationDocument>, ApiError> {
    let id = VerificationId::parse(&id).map_err(|_| ApiError::not_found("verification"))?;
    let outcome = state.engine.submit_government_id_verification(&id).await?;
    let verification = state.engine.verification(&outcome.verification_id).await?;
    Ok(Json(VerificationDocument {
        data: Verification::with_extracted(
            &verification,
            state.engine.extracted_attributes(&verification)?,
        ),
    }))
}
