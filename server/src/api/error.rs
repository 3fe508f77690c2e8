//! The API's error envelope: every 4xx and 5xx under `/api` is
//! `{"errors": [{"status", "code", "title", "detail", "source": {"pointer"}}], "meta"?}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::fields::FieldError;
use engine::EngineError;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Where in the request an error points.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorSource {
    /// A JSON pointer into the request document, e.g. `/data/attributes/fields/birthdate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The query parameter at fault, e.g. `page[size]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// One error.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorObject {
    /// The HTTP status, as a string.
    pub status: String,
    /// A stable machine-readable code, e.g. `invalid_field`.
    pub code: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// What went wrong this time.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ErrorSource>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorDocument {
    pub errors: Vec<ErrorObject>,
    /// Extra facts, e.g. the inquiry's `current-status` on a 409.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

/// An error the API answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<ErrorObject>,
    pub meta: Option<serde_json::Value>,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// One error with a status, code, title and detail.
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            errors: vec![ErrorObject {
                status: status.as_u16().to_string(),
                code: code.to_owned(),
                title: title.to_owned(),
                detail: detail.into(),
                source: None,
            }],
            meta: None,
            retry_after_seconds: None,
        }
    }

    /// Points the (first) error at a place in the request body.
    pub fn at_pointer(mut self, pointer: &str) -> ApiError {
        if let Some(first) = self.errors.first_mut() {
            first.source = Some(ErrorSource {
                pointer: Some(pointer.to_owned()),
                parameter: None,
            });
        }
        self
    }

    /// Points the (first) error at a query parameter.
    pub fn at_parameter(mut self, parameter: &str) -> ApiError {
        if let Some(first) = self.errors.first_mut() {
            first.source = Some(ErrorSource {
                pointer: None,
                parameter: Some(parameter.to_owned()),
            });
        }
        self
    }

    pub fn not_found(kind: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            format!("No {kind} with that id exists."),
        )
    }

    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "Invalid request",
            detail,
        )
    }

    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "Invalid query parameter",
            detail,
        )
        .at_parameter(parameter)
    }

    /// Field-by-field validation failures, each pointing at its field.
    pub fn invalid_fields(errors: &BTreeMap<String, FieldError>) -> ApiError {
        let mut api_error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "Invalid field",
            "",
        );
        api_error.errors = errors
            .iter()
            .map(|(key, error)| ErrorObject {
                status: "422".into(),
                code: "invalid_field".into(),
                title: "Invalid field".into(),
                detail: error.to_string(),
                source: Some(ErrorSource {
                    pointer: Some(format!("/data/attributes/fields/{key}")),
                    parameter: None,
                }),
            })
            .collect();
        api_error
    }

    /// The generic body of a status the router produced by itself (404, 405, …).
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, title, detail) = match status {
            StatusCode::NOT_FOUND => (
                "not_found",
                "Not found",
                "There is no such endpoint or resource.",
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "Method not allowed",
                "This endpoint does not take that method.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "Payload too large",
                "The request body is too large.",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "Unsupported media type",
                "Send the request body as JSON with `Content-Type: application/json`.",
            ),
            StatusCode::BAD_REQUEST => (
                "bad_request",
                "Bad request",
                "The request could not be understood.",
            ),
            StatusCode::UNAUTHORIZED => (
                "unauthorized",
                "Unauthorized",
                "A valid API key is required.",
            ),
            StatusCode::TOO_MANY_REQUESTS => (
                "rate_limited",
                "Too many requests",
                "Slow down and retry later.",
            ),
            status if status.is_server_error() => (
                "internal_error",
                "Internal error",
                "Something went wrong on our side.",
            ),
            _ => ("error", "Error", "The request failed."),
        };
        ApiError::new(status, code, title, detail)
    }

    /// An unexpected failure: logged once here, with no detail in the response.
    pub fn internal(error: impl std::fmt::Debug) -> ApiError {
        tracing::error!(error = ?error, "API request failed");
        ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        match error {
            EngineError::NotFound { kind } => ApiError::not_found(kind),
            EngineError::Unauthorized => {
                ApiError::unauthorized("That session token does not open this inquiry.")
            }
            EngineError::IllegalTransition(refusal) => {
                let mut api_error = ApiError::new(
                    StatusCode::CONFLICT,
                    "illegal_transition",
                    "Illegal transition",
                    refusal.to_string(),
                );
                api_error.meta =
                    Some(serde_json::json!({ "current-status": refusal.from.as_str() }));
                api_error
            }
            EngineError::IllegalVerificationTransition(refusal) => ApiError::new(
                StatusCode::CONFLICT,
                "illegal_transition",
                "Illegal transition",
                refusal.to_string(),
            ),
            EngineError::Conflict { current } => {
                let mut api_error = ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "Conflict",
                    format!("The inquiry is {current}; this change is not possible now."),
                );
                api_error.meta = Some(serde_json::json!({ "current-status": current.as_str() }));
                api_error
            }
            EngineError::InvalidFields(errors) => ApiError::invalid_fields(&errors),
            EngineError::InvalidInput(detail) => ApiError::invalid(detail),
            EngineError::WrongStep(detail) => ApiError::new(
                StatusCode::CONFLICT,
                "wrong_step",
                "Not possible now",
                detail,
            ),
            EngineError::TooLarge { limit_bytes } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                format!("The file is larger than the limit of {limit_bytes} bytes."),
            ),
            EngineError::UnsupportedMediaType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Upload a JPEG, PNG or WebP image.",
            ),
            EngineError::Internal(error) => ApiError::internal(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let document = ErrorDocument {
            errors: self.errors,
            meta: self.meta,
        };
        let mut response = (self.status, Json(document)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
