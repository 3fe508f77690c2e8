//! Request extraction for the API: JSON bodies whose rejections become error envelopes, the
//! authenticated caller, and the JSON:API query parameters (`page[…]`, `filter[…]`, `include`).

use super::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use domain::ids::ApiKeyId;
use engine::store::PageRequest;
use serde::de::DeserializeOwned;

/// A JSON request body; malformed JSON, a wrong content type, an oversized body and a body of
/// the wrong shape each get their own error in the envelope.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(document)) => {
                // A JSON:API document and its `data` and `attributes` are objects; serde would
                // otherwise also accept arrays and fill the fields by position.
                let shaped = document.is_object()
                    && document
                        .get("data")
                        .is_none_or(serde_json::Value::is_object)
                    && document
                        .pointer("/data/attributes")
                        .is_none_or(serde_json::Value::is_object);
                if !shaped {
                    return Err(ApiError::invalid(
                        "The body must be a JSON object like {\"data\": {\"attributes\": {…}}}.",
                    ));
                }
                serde_json::from_value::<T>(document)
                    .map(ApiJson)
                    .map_err(|error| {
                        ApiError::invalid(format!("The body does not fit this endpoint: {error}"))
                    })
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
            }
            Err(JsonRejection::JsonSyntaxError(error)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "Malformed JSON",
                format!("The request body is not valid JSON: {}", error.body_text()),
            )),
            Err(JsonRejection::JsonDataError(error)) => Err(ApiError::invalid(error.body_text())),
            Err(JsonRejection::BytesRejection(error))
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE))
            }
            Err(other) => Err(ApiError::new(
                other.status(),
                "bad_request",
                "Bad request",
                other.body_text(),
            )),
        }
    }
}

/// The API key a request was authenticated with (put in place by the auth layer).
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub api_key_id: ApiKeyId,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("A valid API key is required."))
    }
}

/// The raw query parameters, in order, for JSON:API's bracketed names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(QueryParams)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    "Invalid query",
                    "The query string could not be parsed.",
                )
            })
    }
}

impl QueryParams {
    /// The last value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A comma-separated parameter as a list (empty items dropped).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `page[size]` (1–100, default 10), `page[after]`, `page[before]`.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let size = match self.get("page[size]") {
            None => 10,
            Some(raw) => match raw.parse::<u32>() {
                Ok(size) if (1..=100).contains(&size) => size,
                _ => {
                    return Err(ApiError::bad_parameter(
                        "page[size]",
                        "page[size] must be a whole number from 1 to 100.",
                    ))
                }
            },
        };
        let cursor = |name: &str| -> Result<Option<String>, ApiError> {
            match self.get(name) {
                None | Some("") => Ok(None),
                Some(id)
                    if id.len() <= 100
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    Ok(Some(id.to_owned()))
                }
                Some(_) => Err(ApiError::bad_parameter(
                    name,
                    format!("{name} must be an id from a previous page."),
                )),
            }
        };
        Ok(PageRequest {
            size,
            after: cursor("page[after]")?,
            before: cursor("page[before]")?,
        })
    }

    /// `include=a,b`, refusing names not in `allowed`.
    pub fn include(&self, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
        let include = self.list("include");
        if let Some(unknown) = include
            .iter()
            .find(|name| !allowed.contains(&name.as_str()))
        {
            return Err(ApiError::bad_parameter(
                "include",
                format!(
                    "Cannot include `{unknown}`; allowed: {}.",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(include)
    }
}
