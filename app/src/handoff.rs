//! Continue on another device: on a desktop, the photo steps offer a QR code and a link that
//! open the same inquiry on a phone in a new session (a one-time code, spent when opened), and
//! the desktop page follows the phone's progress until the flow ends.

use domain::flow::FlowStep;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The link for the phone and its QR code (an SVG document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub url: String,
    pub qr_svg: String,
}

/// Makes a one-time link to this inquiry for another device, with its QR code.
#[server(prefix = "/flow", endpoint = "handoff")]
pub async fn start_handoff(inquiry_id: String) -> Result<Handoff, ServerFnError> {
    use crate::server_fns::ssr::{authorized, engine, public_url};
    let engine = engine()?;
    let inquiry = authorized(&engine, &inquiry_id, None)
        .await
        .map_err(|_| ServerFnError::new("this verification can't be opened here"))?;
    let (_, code) = engine
        .generate_one_time_link(&inquiry.id)
        .await
        .map_err(|_| ServerFnError::new("this verification is not open any more"))?;
    let url = format!("{}/verify?code={code}", public_url());
    let qr = qrcode::QrCode::new(url.as_bytes())
        .map_err(|_| ServerFnError::new("the link does not fit a QR code"))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(Handoff { url, qr_svg })
}

/// The inquiry's current step (as JSON), for a page following another device's progress.
#[server(prefix = "/flow", endpoint = "progress")]
pub async fn flow_progress(inquiry_id: String) -> Result<String, ServerFnError> {
    use crate::server_fns::ssr::{authorized, engine};
    let engine = engine()?;
    let inquiry = authorized(&engine, &inquiry_id, None)
        .await
        .map_err(|_| ServerFnError::new("this verification can't be opened here"))?;
    let view = engine
        .flow_view(&inquiry)
        .await
        .map_err(|_| ServerFnError::new("the step could not be read"))?;
    serde_json::to_string(&view.step).map_err(|_| ServerFnError::new("the step could not be read"))
}

/// Whether a step is one where a phone's camera helps.
pub fn offers_handoff(step: &FlowStep) -> bool {
    matches!(
        step,
        FlowStep::GovernmentId { .. }
            | FlowStep::ChooseDocument { .. }
            | FlowStep::DocumentSide { .. }
    )
}

/// "Continue on your phone": shown once the page is interactive (it needs JavaScript to follow
/// the phone); the code is made only when asked for, since each one opens the inquiry once.
#[component]
pub fn ContinueOnPhone(inquiry_id: String, step: FlowStep) -> impl IntoView {
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let handoff = ServerAction::<StartHandoff>::new();
    let current_step = serde_json::to_string(&step).unwrap_or_default();
    let following = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let inquiry_id = inquiry_id.clone();
        Effect::new(move |_| {
            if following.get() || !matches!(handoff.value().get(), Some(Ok(_))) {
                return;
            }
            following.set(true);
            let (inquiry_id, current_step) = (inquiry_id.clone(), current_step.clone());
            let _ = set_interval_with_handle(
                move || {
                    let (inquiry_id, current_step) = (inquiry_id.clone(), current_step.clone());
                    leptos::task::spawn_local(async move {
                        if let Ok(step) = flow_progress(inquiry_id).await {
                            if step != current_step {
                                if let Some(window) = web_sys::window() {
                                    let _ = window.location().reload();
                                }
                            }
                        }
                    });
                },
                std::time::Duration::from_secs(2),
            );
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (current_step, following);
    view! {
        <Show when=move || interactive.get()>
            <HandoffPanel inquiry_id=inquiry_id.clone() handoff/>
        </Show>
    }
}

/// The offer itself: the button, then the code, the link and the waiting note.
#[component]
fn HandoffPanel(inquiry_id: String, handoff: ServerAction<StartHandoff>) -> impl IntoView {
    view! {
        <details class="handoff">
            <summary>"Continue on your phone"</summary>
            <p>
                "Your phone's camera may take a sharper photo. Scan the code with your phone, or open the link on it; this page will follow along."
            </p>
            <ActionForm action=handoff>
                <input type="hidden" name="inquiry_id" value=inquiry_id/>
                <button type="submit">"Show a code for my phone"</button>
            </ActionForm>
            {move || {
                handoff
                    .value()
                    .get()
                    .map(|result| match result {
                        Ok(code) => {
                            view! {
                                <div class="handoff-code" role="img" aria-label="QR code for your phone" inner_html=code.qr_svg></div>
                                <p>
                                    "Or open this link on your phone: "
                                    <a href=code.url.clone()>{code.url.clone()}</a>
                                </p>
                                <p role="status">"Waiting for your phone… This page updates by itself."</p>
                            }
                                .into_any()
                        }
                        Err(_) => {
                            view! {
                                <p role="alert">"We couldn't make a code for your phone. Please try again."</p>
                            }
                                .into_any()
                        }
                    })
            }}
        </details>
    }
}
