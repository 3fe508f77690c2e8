//! `POST /api/v1/inquiries/{id}/send-link`: emails the individual a one-time link to the hosted
//! flow, under the organization's name. The address is used for this one email and never logged
//! or stored.

use super::error::{ApiError, ErrorDocument};
use super::extract::{ApiJson, Caller};
use super::inquiries::render_inquiry;
use super::resources::{InquiryDocument, InquiryMeta};
use super::ApiState;
use crate::mail::{MailError, Mailer};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use domain::fields::EmailAddress;
use domain::ids::InquiryId;
use serde::Deserialize;
use utoipa::ToSchema;

/// Where the link goes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SendLinkAttributes {
    /// The individual's email address; used for this email only, never stored.
    pub email_address: String,
}

/// `{"data": {"attributes": {…}}}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendLinkData {
    pub attributes: SendLinkAttributes,
    /// Ignored; JSON:API clients may send a type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The body of `POST /api/v1/inquiries/{id}/send-link`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendLinkRequest {
    pub data: SendLinkData,
}

fn mail_unavailable(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "email_unavailable",
        "Email unavailable",
        detail,
    )
}

/// Email a one-time link to the hosted flow (`/verify?code=…`, single use, valid until the
/// inquiry expires). The link itself is not returned.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/send-link", tag = "inquiries",
    params(("id" = String, Path, description = "inq_…")),
    request_body = SendLinkRequest,
    responses(
        (status = 200, description = "The link was handed to the mail server", body = InquiryDocument),
        (status = 404, body = ErrorDocument),
        (status = 409, description = "The inquiry is not open", body = ErrorDocument),
        (status = 422, description = "Not an email address", body = ErrorDocument),
        (status = 503, description = "Email is not configured, or the mail server failed", body = ErrorDocument),
    ),
    security(("api_key" = [])))]
pub async fn send_link(
    State(state): State<ApiState>,
    _caller: Caller,
    Extension(mailer): Extension<Mailer>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendLinkRequest>,
) -> Result<Json<InquiryDocument>, ApiError> {
    let id = InquiryId::parse(&id).map_err(|_| ApiError::not_found("inquiry"))?;
    let address = EmailAddress::parse(&body.data.attributes.email_address).map_err(|_| {
        ApiError::invalid("email-address must be an email address like name@example.com.")
            .at_pointer("/data/attributes/email-address")
    })?;
    // Check before a code exists: no link is made that could not be sent.
    if !mailer.is_configured() {
        state.engine.inquiry(&id).await?;
        return Err(mail_unavailable(
            "Sending email is not configured on this server (VERITY_SMTP_URL).",
        ));
    }
    let (record, code) = state.engine.generate_one_time_link(&id).await?;
    let link = format!("{}/verify?code={code}", state.public_url);
    match mailer.send_verification_link(&address, &link).await {
        Ok(()) => {
            tracing::info!(inquiry.id = %record.id, "verification link emailed");
        }
        Err(MailError::NotConfigured) => {
            return Err(mail_unavailable(
                "Sending email is not configured on this server (VERITY_SMTP_URL).",
            ))
        }
        Err(MailError::Send(error)) => {
            // The error text of SMTP servers can echo the recipient: log its kind only.
            tracing::error!(inquiry.id = %record.id, error.len = error.len(), "the mail server did not accept a verification link");
            return Err(mail_unavailable(
                "The mail server did not accept the message. Try again later.",
            ));
        }
    }
    Ok(Json(
        render_inquiry(&state, &record, &[], InquiryMeta::default()).await?,
    ))
}
