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
    /// The inquiry has ended (completed or failed): its step, and where the person goes next.
    Ended {
        view: FlowView,
        /// The collected field values, for the embedding site's `onComplete` (embed page only).
        fields: BTreeMap<String, String>,
        /// The template-allowed `redirect-uri` with `inquiry-id` and `reference-id` appended.
        continue_url: Option<String>,
    },
    /// Something the person cannot go on from, explained; `code` names it for an embedding site.
    Problem {
        code: String,
        title: String,
        message: String,
    },
}

/// How the flow keeps its session. The hosted page uses a cookie; inside another site's iframe
/// cookies may be blocked (third-party), so the embed page carries its session token in its own
/// URLs and forms, with the origin of the page that embeds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embedding {
    /// The origin of the embedding page (`parent-origin`), checked against the template.
    pub parent_origin: String,
    /// The inquiry's session token, once there is an inquiry.
    pub session_token: Option<String>,
}

impl Embedding {
    /// The embed page's URL for an inquiry, with its session and an optional error code.
    pub fn flow_url(&self, inquiry_id: &str, session_token: &str, error: Option<&str>) -> String {
        let mut url = format!(
            "/embed?inquiry-id={}&session-token={}&parent-origin={}",
            urlencode(inquiry_id),
            urlencode(session_token),
            urlencode(&self.parent_origin)
        );
        if let Some(code) = error {
            url.push_str("&error=");
            url.push_str(&urlencode(code));
        }
        url
    }
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
        "invalid_choice" => "Please choose the country that issued your ID and the type of ID from the lists.",
        _ => "Something went wrong on our side. Please try again in a moment.",
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
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

    pub fn problem(code: &str, title: &str, message: &str) -> FlowPage {
        FlowPage::Problem {
            code: code.to_owned(),
            title: title.to_owned(),
            message: message.to_owned(),
        }
    }

    /// Resolves the caller's session for `inquiry_id`: the token the embed page carries, else
    /// the hosted page's cookie; or refuses. A token opens only its own inquiry.
    pub async fn authorized(
        engine: &Engine,
        inquiry_id: &str,
        token: Option<&str>,
    ) -> Result<engine::records::InquiryRecord, EngineError> {
        let inquiry_id = InquiryId::parse(inquiry_id).map_err(|_| EngineError::Unauthorized)?;
        let token = match token.filter(|token| !token.is_empty()) {
            Some(token) => token.to_owned(),
            None => session::token_from_request(&inquiry_id).ok_or(EngineError::Unauthorized)?,
        };
        engine.open_with_session(&inquiry_id, &token).await
    }

    /// The embedding of a form post: present when the form came from the embed page.
    pub fn embedding(
        parent_origin: Option<String>,
        session_token: Option<String>,
    ) -> Option<super::Embedding> {
        parent_origin
            .filter(|origin| !origin.is_empty())
            .map(|parent_origin| super::Embedding {
                parent_origin,
                session_token: session_token.filter(|token| !token.is_empty()),
            })
    }

    /// Where a step sends the person next: the hosted page, or the embed page with its session.
    pub fn next_url(
        embedding: Option<&super::Embedding>,
        inquiry_id: &InquiryId,
        token: Option<&str>,
        error: Option<&str>,
    ) -> String {
        match (embedding, token) {
            (Some(embedding), Some(token)) => embedding.flow_url(inquiry_id.as_str(), token, error),
            _ => flow_url(inquiry_id, error),
        }
    }

    /// Whether `parent_origin` may embed `template`; answers the embed page's
    /// `Content-Security-Policy: frame-ancestors` accordingly (`'none'` when refused, so the
    /// browser does not show the page at all).
    pub fn allow_embedding(template: &domain::template::Template, parent_origin: &str) -> bool {
        let ancestors = template.frame_ancestors();
        let allowed = ancestors.is_some() && template.allows_embedding_from(parent_origin);
        let policy = match (&ancestors, allowed) {
            (Some(sources), true) => format!("frame-ancestors {sources}"),
            _ => "frame-ancestors 'none'".to_owned(),
        };
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::HeaderValue::from_str(&policy),
        ) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
        allowed
    }

    /// Where a refused session goes: the page that explains it cannot be opened here.
    pub fn refused_url(embedding: Option<&super::Embedding>, inquiry_id: &str) -> String {
        match embedding {
            Some(embedding) => format!(
                "/embed?inquiry-id={}&parent-origin={}",
                super::urlencode(inquiry_id),
                super::urlencode(&embedding.parent_origin)
            ),
            None => format!("/verify?inquiry-id={}", super::urlencode(inquiry_id)),
        }
    }

    /// The page that refuses to show the flow inside a site the template does not allow.
    pub fn not_embeddable() -> FlowPage {
        problem(
            "embedding_not_allowed",
            "This verification can't be shown on this site",
            "The organization has not allowed this website to show its verification. Open the link the organization sent you instead.",
        )
    }

    /// What an inquiry's page shows: its step, or its end with where the person goes next.
    pub async fn page_of(
        engine: &Engine,
        inquiry: &engine::records::InquiryRecord,
        embedded: bool,
    ) -> Result<FlowPage, EngineError> {
        use domain::flow::FlowStep;
        let view = engine.flow_view(inquiry).await?;
        if !matches!(view.step, FlowStep::Completed | FlowStep::Failed { .. }) {
            return Ok(FlowPage::Flow(view));
        }
        let template = engine.templates().current(&inquiry.template_id);
        let continue_url = inquiry
            .redirect_uri
            .as_deref()
            .filter(|uri| {
                template
                    .as_ref()
                    .is_some_and(|version| version.template.allows_redirect_uri(uri))
            })
            .map(|uri| {
                let separator = if uri.contains('?') { '&' } else { '?' };
                let mut url = format!("{uri}{separator}inquiry-id={}", inquiry.id);
                if let Some(reference) = &inquiry.reference_id {
                    url.push_str("&reference-id=");
                    url.push_str(&super::urlencode(reference));
                }
                url
            });
        Ok(FlowPage::Ended {
            view,
            fields: if embedded {
                inquiry.fields.clone()
            } else {
                Default::default()
            },
            continue_url,
        })
    }

    /// Logs an unexpected failure once and hides its detail from the person.
    pub fn internal(error: EngineError) -> ServerFnError {
        tracing::error!(error = ?error, "flow request failed");
        ServerFnError::new("internal error")
    }
}

#[cfg(feature = "ssr")]
pub use ssr::PublicUrl;

/// Loads what `/verify` (or, with `parent_origin`, `/embed`) shows for the given query.
/// Resuming the hosted page with a session token in the URL stores it in the session cookie; the
/// embed page keeps the token in its URL instead.
#[server(prefix = "/flow", endpoint = "load")]
pub async fn load_flow(
    template_id: Option<String>,
    inquiry_id: Option<String>,
    session_token: Option<String>,
    code: Option<String>,
    parent_origin: Option<String>,
) -> Result<FlowPage, ServerFnError> {
    use domain::ids::{InquiryId, TemplateId};
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let embedding = parent_origin.filter(|origin| !origin.is_empty());
    let cannot_open = || {
        problem(
            "inquiry_not_found",
            "This verification can't be opened here",
            "The link may be incomplete, or it was opened in another browser. Open the link you were sent again, or ask the organization that sent it for a new one.",
        )
    };
    if let Some(code) = code.filter(|code| !code.is_empty()) {
        if embedding.is_some() {
            return Ok(cannot_open());
        }
        // A one-time link: spent now, it becomes this browser's session on the inquiry, and the
        // page moves to the inquiry's own address so a refresh does not reuse the code.
        return match engine.redeem_one_time_link(&code).await {
            Ok((inquiry, token)) => {
                crate::session::set_token_cookie(&inquiry.id, &token, inquiry.expires_at, &public_url());
                leptos_axum::redirect(&flow_url(&inquiry.id, None));
                page_of(&engine, &inquiry, false).await.map_err(internal)
            }
            Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => Ok(problem(
                "link_used",
                "This link has already been used",
                "For your security each link works only once. If you started already, continue in the browser where you opened it first, or ask the organization that sent it for a new link.",
            )),
            Err(other) => Err(internal(other)),
        };
    }
    if let Some(inquiry_id) = inquiry_id.filter(|id| !id.is_empty()) {
        let token = session_token.filter(|t| !t.is_empty());
        let inquiry = match (&embedding, token, InquiryId::parse(&inquiry_id)) {
            (None, Some(token), Ok(id)) => {
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
            (Some(_), None, _) => Err(EngineError::Unauthorized),
            (_, token, _) => authorized(&engine, &inquiry_id, token.as_deref()).await,
        };
        return match inquiry {
            Ok(inquiry) => {
                if let Some(origin) = &embedding {
                    let allowed = engine
                        .templates()
                        .current(&inquiry.template_id)
                        .is_some_and(|version| allow_embedding(&version.template, origin));
                    if !allowed {
                        return Ok(not_embeddable());
                    }
                }
                page_of(&engine, &inquiry, embedding.is_some())
                    .await
                    .map_err(internal)
            }
            Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => Ok(cannot_open()),
            Err(other) => Err(internal(other)),
        };
    }
    let Some(template_id) = template_id.filter(|id| !id.is_empty()) else {
        return Ok(problem(
            "link_incomplete",
            "This link is not complete",
            "The address is missing the verification it should open. Ask the organization that sent it for a new link.",
        ));
    };
    let unknown = || {
        problem(
            "template_not_found",
            "This verification does not exist",
            "The link may be old or mistyped. Ask the organization that sent it for a new link.",
        )
    };
    let Ok(id) = TemplateId::parse(&template_id) else {
        return Ok(unknown());
    };
    if let Some(origin) = &embedding {
        let allowed = engine
            .templates()
            .current(&id)
            .is_some_and(|version| allow_embedding(&version.template, origin));
        if !allowed {
            return Ok(not_embeddable());
        }
    }
    match engine.start_view(&id) {
        Ok(view) => Ok(FlowPage::Start(view)),
        Err(EngineError::NotFound { .. }) => Ok(unknown()),
        Err(other) => Err(internal(other)),
    }
}

/// The person pressed Start: creates the inquiry and its session, then opens its first step.
/// From the embed page (`parent_origin`), the session token goes into the next page's URL.
#[server(prefix = "/flow", endpoint = "start")]
pub async fn start_inquiry(
    template_id: String,
    reference_id: Option<String>,
    fields: Option<BTreeMap<String, String>>,
    redirect_uri: Option<String>,
    parent_origin: Option<String>,
) -> Result<(), ServerFnError> {
    use domain::ids::TemplateId;
    use engine::flow::NewInquiry;
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let template_id =
        TemplateId::parse(&template_id).map_err(|_| ServerFnError::new("unknown template"))?;
    let embedding = embedding(parent_origin, None);
    let start_page = match &embedding {
        Some(embedding) => format!(
            "/embed?inquiry-template-id={template_id}&parent-origin={}",
            urlencode(&embedding.parent_origin)
        ),
        None => format!("/verify?inquiry-template-id={template_id}"),
    };
    let template = engine.templates().current(&template_id);
    if let Some(embedding) = &embedding {
        let allowed = template.as_ref().is_some_and(|version| {
            version.template.frame_ancestors().is_some()
                && version
                    .template
                    .allows_embedding_from(&embedding.parent_origin)
        });
        if !allowed {
            leptos_axum::redirect(&start_page);
            return Ok(());
        }
    }
    // A redirect URI the template does not allow is dropped, never followed.
    let redirect_uri = redirect_uri.filter(|uri| {
        template
            .as_ref()
            .is_some_and(|version| version.template.allows_redirect_uri(uri))
    });
    let created = engine
        .create_inquiry(NewInquiry {
            template_id: Some(template_id.clone()),
            reference_id: reference_id.filter(|r| !r.is_empty()),
            prefill: fields.unwrap_or_default(),
            redirect_uri,
            ..Default::default()
        })
        .await;
    match created {
        Ok(created) => {
            if embedding.is_none() {
                crate::session::set_token_cookie(
                    &created.inquiry.id,
                    &created.session_token,
                    created.inquiry.expires_at,
                    &public_url(),
                );
            }
            leptos_axum::redirect(&next_url(
                embedding.as_ref(),
                &created.inquiry.id,
                Some(&created.session_token),
                None,
            ));
            Ok(())
        }
        Err(EngineError::NotFound { .. } | EngineError::InvalidInput(_)) => {
            leptos_axum::redirect(&start_page);
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
    session_token: Option<String>,
    parent_origin: Option<String>,
) -> Result<(), ServerFnError> {
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let embedding = embedding(parent_origin, session_token);
    let token = embedding.as_ref().and_then(|e| e.session_token.clone());
    let inquiry = match authorized(&engine, &inquiry_id, token.as_deref()).await {
        Ok(inquiry) => inquiry,
        Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => {
            leptos_axum::redirect(&refused_url(embedding.as_ref(), &inquiry_id));
            return Ok(());
        }
        Err(other) => return Err(internal(other)),
    };
    let next = |error| next_url(embedding.as_ref(), &inquiry.id, token.as_deref(), error);
    match engine
        .submit_fields(&inquiry.id, fields.unwrap_or_default())
        .await
    {
        Ok(_) => leptos_axum::redirect(&next(None)),
        Err(EngineError::WrongStep(_)) => leptos_axum::redirect(&next(Some("wrong_step"))),
        Err(EngineError::Conflict { .. }) => leptos_axum::redirect(&next(Some("busy"))),
        Err(other) => return Err(internal(other)),
    }
    Ok(())
}

/// The "Choose your ID" step: the issuing country and the type of document. A choice the
/// template does not offer comes back to the same step with a plain-language error.
#[server(prefix = "/flow", endpoint = "choose-id")]
pub async fn choose_document(
    inquiry_id: String,
    country: Option<String>,
    id_class: Option<String>,
    session_token: Option<String>,
    parent_origin: Option<String>,
) -> Result<(), ServerFnError> {
    use engine::EngineError;
    use ssr::*;

    let engine = engine()?;
    let embedding = embedding(parent_origin, session_token);
    let token = embedding.as_ref().and_then(|e| e.session_token.clone());
    let inquiry = match authorized(&engine, &inquiry_id, token.as_deref()).await {
        Ok(inquiry) => inquiry,
        Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => {
            leptos_axum::redirect(&refused_url(embedding.as_ref(), &inquiry_id));
            return Ok(());
        }
        Err(other) => return Err(internal(other)),
    };
    let next = |error| next_url(embedding.as_ref(), &inquiry.id, token.as_deref(), error);
    match engine
        .choose_government_id(
            &inquiry.id,
            country.as_deref().unwrap_or(""),
            id_class.as_deref().unwrap_or(""),
        )
        .await
    {
        Ok(_) => leptos_axum::redirect(&next(None)),
        Err(EngineError::InvalidInput(_)) => leptos_axum::redirect(&next(Some("invalid_choice"))),
        Err(EngineError::WrongStep(_)) => leptos_axum::redirect(&next(Some("wrong_step"))),
        Err(EngineError::Conflict { .. }) => leptos_axum::redirect(&next(Some("busy"))),
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

/// The ID photo steps: a multipart form with `inquiry_id` and `photo`, read chunk by chunk and
/// refused as soon as it passes the size limit. With `side` (`front` or `back`) the photo is one
/// side of the document chosen on the "Choose your ID" step; without it, the single photo of
/// templates that do not ask for the type of ID.
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
    let mut session_token: Option<String> = None;
    let mut parent_origin: Option<String> = None;
    let mut side: Option<String> = None;
    let mut photo: Option<Result<UploadBuffer, EngineError>> = None;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        let slot = match field.name() {
            Some("inquiry_id") => Some(&mut inquiry_id),
            Some("session_token") => Some(&mut session_token),
            Some("parent_origin") => Some(&mut parent_origin),
            Some("side") => Some(&mut side),
            _ => None,
        };
        if let Some(slot) = slot {
            // Short text fields: anything longer than an id, token or origin is cut off.
            let mut value = String::new();
            while let Ok(Some(chunk)) = field.chunk().await {
                if value.len() + chunk.len() > 300 {
                    break;
                }
                value.push_str(&String::from_utf8_lossy(&chunk));
            }
            *slot = Some(value);
            continue;
        }
        if field.name() == Some("photo") {
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
    }
    let Some(inquiry_id) = inquiry_id else {
        return Err(ServerFnError::new("the form is missing its inquiry"));
    };
    let embedding = embedding(parent_origin, session_token);
    let token = embedding.as_ref().and_then(|e| e.session_token.clone());
    let inquiry = match authorized(&engine, &inquiry_id, token.as_deref()).await {
        Ok(inquiry) => inquiry,
        Err(EngineError::Unauthorized | EngineError::NotFound { .. }) => {
            leptos_axum::redirect(&refused_url(embedding.as_ref(), &inquiry_id));
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
        Some(Ok(buffer)) => match side.as_deref().filter(|side| !side.is_empty()) {
            None => engine
                .submit_government_id(&inquiry.id, buffer.finish())
                .await
                .map(|_| ()),
            Some(side) => match domain::flow::DocumentSide::parse(side) {
                Some(side) => engine
                    .capture_government_id_side(&inquiry.id, side, buffer.finish())
                    .await
                    .map(|_| ()),
                None => Err(EngineError::WrongStep("unknown side")),
            },
        },
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
    leptos_axum::redirect(&next_url(
        embedding.as_ref(),
        &inquiry.id,
        token.as_deref(),
        error,
    ));
    Ok(UploadReply {
        error: error.map(str::to_owned),
    })
}
