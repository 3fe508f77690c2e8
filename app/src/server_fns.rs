//! The flow's server functions. Each one is a public endpoint: it first resolves the caller's
//! session for the one inquiry it names, then asks the engine, then maps the outcome.
//!
//! Every step works as a plain HTML form post: on success the function redirects to the flow's
//! URL (a 302 for forms, a client-side navigation once hydrated), and expected refusals redirect
//! with an `error` code the page turns into a plain-language message.

use domain::flow::{FlowView, StartView};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::{MultipartData, MultipartFormData};
use std::collections::BTreeMap;

/// What the `/verify` page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FlowPage {
    /// The start screen of a template; nothing exists yet.
    Start(StartView),
    /// An inquiry's current step.
    Flow(FlowView),
    /// Something the person cannot go on from, explained.
    Problem { title: String, message: String },
}

/// The outcome of an ID photo upload, for the hydrated page (a form post gets a redirect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReply {
    /// An error code the page explains (`too_large`, `unsupported_type`, …); `None` when the
    /// photo was taken (whether or not it passed the checks).
    pub error: Option<String>,
}

/// The plain-language message of an error code carried in the flow's URL or an upload reply.
pub fn error_message(code: &str) -> &'static str {
    match code {
        "too_large" => "That file is too large. Please upload a smaller photo (the limit is shown under the field).",
        "unsupported_type" => "That file is not a photo we can read. Please upload a JPEG, PNG or WebP picture of your ID.",
        "empty_upload" => "No photo arrived. Please choose a photo of your ID and try again.",
        "wrong_step" => "That step is already done. Here is where you are now.",
        "busy" => "Your previous submission is still being processed. Here is where you are now.",
        _ => "Something went wrong on our side. Please try again in a moment.",
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::FlowPage;
    use crate::session;
    use domain::ids::InquiryId;
    use engine::{Engine, EngineError};
    use leptos::prelude::*;

    /// The public base URL, provided by the server as context.
    #[derive(Debug, Clone)]
    pub struct PublicUrl(pub String);

    pub fn engine() -> Result<Engine, ServerFnError> {
        use_context::<Engine>().ok_or_else(|| ServerFnError::new("the engine is not available"))
    }

    pub fn public_url() -> String {
        use_context::<PublicUrl>()
            .map(|url| url.0)
            .unwrap_or_default()
    }

    pub fn flow_url(inquiry_id: &InquiryId, error: Option<&str>) -> String {
        match error {
            Some(code) => format!("/verify?inquiry-id={inquiry_id}&error={code}"),
            None => format!("/verify?inquiry-id={inquiry_id}"),
        }
    }

    pub fn problem(title: &str, message: &str) -> FlowPage {
        FlowPage::Problem {
            title: title.to_owned(),
            message: message.to_owned(),
        }
    }

    /// Resolves the caller's session for `inquiry_id` (cookie), or refuses.
    pub async fn authorized(
        engine: &Engine,
        inquiry_id: &str,
    ) -> Result<engine::records::InquiryRecord, EngineError> {
        let inquiry_id = InquiryId::parse(inquiry_id).map_err(|_| EngineError::Unauthorized)?;
        let token = session::token_from_request(&inquiry_id).ok_or(EngineError::Unauthorized)?;
        engine.open_with_session(&inquiry_id, &token).await
    }

    /// Logs an unexpected failure once and hides its detail from the person.
    pub fn internal(error: EngineError) -> ServerFnError {
        tracing::error!(error = ?error, "flow request failed");
        ServerFnError::new("internal error")
    }
}

#[cfg(feature = "ssr")]
pub use ssr::PublicUrl;

/// Loads what `/verify` shows for the given query. Resuming with a session token in the URL
/// stores it in the session cookie.
#[server(prefix = "/flow", endpoint = "load")]
pub async fn load_flow(
    template_id: Option<String>,
    inquiry_id: Option<String>,
    session_token: Option<String>,
    code: Option<String>,
) -> Result<FlowPage, ServerFnError> {
    use domain::ids::{InquiryId, TemplateId};
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    if let Some(code) = code.filter(|code| !code.is_empty()) {
        // A one-time link: spent now, it becomes this browser's session on the inquiry, and the
        // page moves to the inquiry's own address so a refresh does not reuse the code.
        return match engine.redeem_one_time_link(&code).await {
            Ok((inquiry, token)) => {
                crate::session::set_token_cookie(&inquiry.id, &token, inquiry.expires_at, &public_url());
                leptos_axum::redirect(&flow_url(&inquiry.id, None));
                Ok(FlowPage::Flow(engine.flow_view(&inquiry).await.map_err(internal)?))
            }
            Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => Ok(problem(
                "This link has already been used",
                "For your security each link works only once. If you started already, continue in the browser where you opened it first, or ask the organization that sent it for a new link.",
            )),
            Err(other) => Err(internal(other)),
        };
    }
    if let Some(inquiry_id) = inquiry_id.filter(|id| !id.is_empty()) {
        let inquiry = match (
            session_token.filter(|t| !t.is_empty()),
            InquiryId::parse(&inquiry_id),
        ) {
            (Some(token), Ok(id)) => {
                let opened = engine.open_with_session(&id, &token).await;
                if let Ok(inquiry) = &opened {
                    crate::session::set_token_cookie(
                        &id,
                        &token,
                        inquiry.expires_at,
                        &public_url(),
                    );
                }
                opened
            }
            _ => authorized(&engine, &inquiry_id).await,
        };
        return match inquiry {
            Ok(inquiry) => Ok(FlowPage::Flow(engine.flow_view(&inquiry).await.map_err(internal)?)),
            Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => Ok(problem(
                "This verification can't be opened here",
                "The link may be incomplete, or it was opened in another browser. Open the link you were sent again, or ask the organization that sent it for a new one.",
            )),
            Err(other) => Err(internal(other)),
        };
    }
    let Some(template_id) = template_id.filter(|id| !id.is_empty()) else {
        return Ok(problem(
            "This link is not complete",
            "The address is missing the verification it should open. Ask the organization that sent it for a new link.",
        ));
    };
    match TemplateId::parse(&template_id).map_err(|_| EngineError::NotFound { kind: "inquiry template" }) {
        Ok(id) => match engine.start_view(&id) {
            Ok(view) => Ok(FlowPage::Start(view)),
            Err(EngineError::NotFound { .. }) => Ok(problem(
                "This verification does not exist",
                "The link may be old or mistyped. Ask the organization that sent it for a new link.",
            )),
            Err(other) => Err(internal(other)),
        },
        Err(_) => Ok(problem(
            "This verification does not exist",
            "The link may be old or mistyped. Ask the organization that sent it for a new link.",
        )),
    }
}

/// The person pressed Start: creates the inquiry and its session, then opens its first step.
#[server(prefix = "/flow", endpoint = "start")]
pub async fn start_inquiry(
    template_id: String,
    reference_id: Option<String>,
    fields: Option<BTreeMap<String, String>>,
) -> Result<(), ServerFnError> {
    use domain::ids::TemplateId;
    use engine::flow::NewInquiry;
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let template_id =
        TemplateId::parse(&template_id).map_err(|_| ServerFnError::new("unknown template"))?;
    let created = engine
        .create_inquiry(NewInquiry {
            template_id: Some(template_id.clone()),
            reference_id: reference_id.filter(|r| !r.is_empty()),
            prefill: fields.unwrap_or_default(),
            ..Default::default()
        })
        .await;
    match created {
        Ok(created) => {
            crate::session::set_token_cookie(
                &created.inquiry.id,
                &created.session_token,
                created.inquiry.expires_at,
                &public_url(),
            );
            leptos_axum::redirect(&flow_url(&created.inquiry.id, None));
            Ok(())
        }
        Err(EngineError::NotFound { .. } | EngineError::InvalidInput(_)) => {
            leptos_axum::redirect(&format!("/verify?inquiry-template-id={template_id}"));
            Ok(())
        }
        Err(other) => Err(internal(other)),
    }
}

/// The details step. Refused values are kept on the server with their reasons, so the page
/// shows them again whether or not JavaScript runs.
#[server(prefix = "/flow", endpoint = "details")]
pub async fn submit_details(
    inquiry_id: String,
    fields: Option<BTreeMap<String, String>>,
) -> Result<(), ServerFnError> {
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let inquiry = match authorized(&engine, &inquiry_id).await {
        Ok(inquiry) => inquiry,
        Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => {
            leptos_axum::redirect(&format!("/verify?inquiry-id={}", urlencode(&inquiry_id)));
            return Ok(());
        }
        Err(other) => return Err(internal(other)),
    };
    match engine
        .submit_fields(&inquiry.id, fields.unwrap_or_default())
        .await
    {
        Ok(_) => leptos_axum::redirect(&flow_url(&inquiry.id, None)),
        Err(EngineError::WrongStep(_)) => {
            leptos_axum::redirect(&flow_url(&inquiry.id, Some("wrong_step")))
        }
        Err(EngineError::Conflict { .. }) => {
            leptos_axum::redirect(&flow_url(&inquiry.id, Some("busy")))
        }
        Err(other) => return Err(internal(other)),
    }
    Ok(())
}

/// Percent-encodes a value for a query string.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The ID photo step: a multipart form with `inquiry_id` and `photo`, read chunk by chunk and
/// refused as soon as it passes the size limit.
#[server(prefix = "/flow", endpoint = "id-photo", input = MultipartFormData)]
pub async fn upload_id_photo(data: MultipartData) -> Result<UploadReply, ServerFnError> {
    use engine::documents::UploadBuffer;
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let limit = engine.settings().max_upload_bytes;
    let mut multipart = data
        .into_inner()
        .ok_or_else(|| ServerFnError::new("expected a multipart form"))?;
    let mut inquiry_id: Option<String> = None;
    let mut photo: Option<Result<UploadBuffer, EngineError>> = None;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        match field.name() {
            Some("inquiry_id") => {
                let mut value = String::new();
                while let Ok(Some(chunk)) = field.chunk().await {
                    if value.len() + chunk.len() > 100 {
                        break;
                    }
                    value.push_str(&String::from_utf8_lossy(&chunk));
                }
                inquiry_id = Some(value);
            }
            Some("photo") => {
                let mut buffer = UploadBuffer::new(limit);
                let mut refused = None;
                while let Ok(Some(chunk)) = field.chunk().await {
                    if refused.is_none() {
                        if let Err(error) = buffer.push(&chunk) {
                            refused = Some(error);
                        }
                    }
                    // Past the limit the rest is read and dropped, so the browser gets our answer
                    // instead of a reset connection; nothing more is kept in memory.
                }
                photo = Some(match refused {
                    Some(error) => Err(error),
                    None => Ok(buffer),
                });
            }
            _ => {}
        }
    }
    let Some(inquiry_id) = inquiry_id else {
        return Err(ServerFnError::new("the form is missing its inquiry"));
    };
    let inquiry = match authorized(&engine, &inquiry_id).await {
        Ok(inquiry) => inquiry,
        Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => {
            leptos_axum::redirect(&format!("/verify?inquiry-id={}", urlencode(&inquiry_id)));
            return Ok(UploadReply {
                error: Some("unauthorized".into()),
            });
        }
        Err(other) => return Err(internal(other)),
    };
    let outcome = match photo {
        None => Err(EngineError::InvalidInput("no photo".into())),
        Some(Err(error)) => Err(error),
        Some(Ok(buffer)) if buffer.is_empty() => Err(EngineError::InvalidInput("no photo".into())),
        Some(Ok(buffer)) => engine
            .submit_government_id(&inquiry.id, buffer.finish())
            .await
            .map(|_| ()),
    };
    let error = match outcome {
        Ok(()) => None,
        Err(EngineError::TooLarge { .. }) => Some("too_large"),
        Err(EngineError::UnsupportedMediaType) => Some("unsupported_type"),
        Err(EngineError::InvalidInput(_)) => Some("empty_upload"),
        Err(EngineError::WrongStep(_)) => Some("wrong_step"),
        Err(EngineError::Conflict { .. }) => Some("busy"),
        Err(other) => return Err(internal(other)),
    };
    leptos_axum::redirect(&flow_url(&inquiry.id, error));
    Ok(UploadReply {
        error: error.map(str::to_owned),
    })
}
