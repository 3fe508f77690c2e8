//! Request extraction for the API: JSON bodies whose rejections become error envelopes, the
//! authenticated caller, and the JSON:API query parameters (`page[…]`, `filter[…]`, `include`).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use domain::ids::ApiKeyId;
use engine::store::PageRequest;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};
use serde::Deserialize;
use std::fmt;

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
        if !json_content_type(request.headers()) {
            return Err(ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let body = match Bytes::from_request(request, state).await {
            Ok(body) => body,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE))
            }
            Err(other) => {
                return Err(ApiError::new(
                    other.status(),
                    "bad_request",
                    "Bad request",
                    other.body_text(),
                ))
            }
        };
        // First the syntax and the JSON:API shape, reading the body without keeping any of it;
        // then the endpoint's own type, straight from the bytes.
        match serde_json::from_slice::<Shape>(&body) {
            Ok(Shape(true)) => {}
            Ok(Shape(false)) => {
                return Err(ApiError::invalid(
                    "The body must be a JSON object like {\"data\": {\"attributes\": {…}}}.",
                ))
            }
            Err(error) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "Malformed JSON",
                    format!("The request body is not valid JSON: {error}"),
                ))
            }
        }
        serde_json::from_slice::<T>(&body)
            .map(ApiJson)
            .map_err(|error| {
                ApiError::invalid(format!("The body does not fit this endpoint: {error}"))
            })
    }
}

/// `Content-Type: application/json` or `application/…+json`, as axum's `Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|name| name == "json"))
        })
}

/// Whether a JSON document has the JSON:API shape: an object whose `data`, if present, is an
/// object whose `attributes`, if present, is an object. serde would otherwise also accept
/// arrays and fill a struct's fields by position. Reading it keeps nothing of the document.
struct Shape(bool);

/// Which member of an object a key names.
enum Member {
    Data,
    Attributes,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl Visitor<'_> for MemberVisitor {
            type Value = Member;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(match name {
                    "data" => Member::Data,
                    "attributes" => Member::Attributes,
                    _ => Member::Other,
                })
            }
        }
        deserializer.deserialize_str(MemberVisitor)
    }
}

/// The document (depth 0), its `data` (1) or its attributes (2): true when it is an object whose
/// members at the next depth are shaped too.
struct ShapeAt(u8);

impl<'de> DeserializeSeed<'de> for ShapeAt {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeAt {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<bool, A::Error> {
        let mut shaped = true;
        while let Some(member) = members.next_key::<Member>()? {
            let nested = match (self.0, member) {
                (0, Member::Data) => Some(ShapeAt(1)),
                (1, Member::Attributes) => Some(ShapeAt(2)),
                _ => None,
            };
            match nested {
                Some(nested) => shaped &= members.next_value_seed(nested)?,
                None => {
                    members.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(shaped)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<bool, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeAt(0).deserialize(deserializer).map(Shape)
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
