//! The `/verify` page: the start screen, the details and ID photo steps, and the end screens.
//!
//! Each step is a server-rendered form that works before (or without) the wasm; once hydrated,
//! fields are checked as the person types and the photo upload shows its progress.

use crate::camera::CameraCapture;
use crate::handoff::{offers_handoff, ContinueOnPhone};
use crate::server_fns::{
    error_message, load_flow, ChooseDocument, Embedding, FlowPage, StartInquiry, SubmitDetails,
    UploadIdPhoto,
};
use domain::flow::{Choice, DocumentSide, FieldView, FlowStep, FlowView, StartView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use server_fn::ServerFn;

/// Today's date where the code runs: the browser's clock once hydrated, the server's otherwise.
fn today() -> time::Date {
    #[cfg(feature = "hydrate")]
    {
        let now = js_sys::Date::new_0();
        let month =
            time::Month::try_from(now.get_month() as u8 + 1).unwrap_or(time::Month::January);
        if let Ok(date) =
            time::Date::from_calendar_date(now.get_full_year() as i32, month, now.get_date() as u8)
        {
            return date;
        }
    }
    time::OffsetDateTime::now_utc().date()
}

/// The hosted flow: what it shows depends on the query (`inquiry-template-id` for a new
/// inquiry, `inquiry-id` to resume, `session-token` once, `error` after a refused step).
#[component]
pub fn VerifyPage() -> impl IntoView {
    view! { <FlowScreens embedded=false/> }
}

/// The flow inside another site's iframe (`/embed`): the same steps, with the session token in
/// the page's URLs and forms instead of a cookie, and messages to the embedding page.
#[component]
pub fn EmbedPage() -> impl IntoView {
    view! { <FlowScreens embedded=true/> }
}

#[component]
fn FlowScreens(embedded: bool) -> impl IntoView {
    let query = use_query_map();
    let start = ServerAction::<StartInquiry>::new();
    let details = ServerAction::<SubmitDetails>::new();
    let choose = ServerAction::<ChooseDocument>::new();
    let uploads = RwSignal::new(0u32);
    // The embedding: which page hosts this one, and the session once there is one.
    let embedding = Memo::new(move |_| {
        let query = query.get();
        embedded.then(|| Embedding {
            parent_origin: query.get("parent-origin").unwrap_or_default(),
            session_token: query.get("session-token").filter(|t| !t.is_empty()),
        })
    });
    provide_context(embedding);
    provide_context(ParentReady(RwSignal::new(false)));
    let page = Resource::new(
        move || {
            (
                query.get(),
                details.version().get(),
                choose.version().get(),
                uploads.get(),
            )
        },
        move |(query, _, _, _)| async move {
            let parent_origin = query.get("parent-origin").filter(|o| !o.is_empty());
            if embedded && parent_origin.is_none() {
                return Ok(FlowPage::Problem {
                    code: "embedding_not_allowed".into(),
                    title: "This verification can't be shown on this site".into(),
                    message: "Open the link the organization sent you instead.".into(),
                });
            }
            load_flow(
                query.get("inquiry-template-id"),
                query.get("inquiry-id"),
                query.get("session-token"),
                query.get("code"),
                parent_origin.filter(|_| embedded),
            )
            .await
        },
    );
    let error = Memo::new(move |_| query.get().get("error"));
    let prefill = Memo::new(move |_| {
        query
            .get()
            .into_iter()
            .filter_map(|(key, value)| {
                let key = key.strip_prefix("fields[")?.strip_suffix(']')?.to_owned();
                Some((key, value))
            })
            .collect::<Vec<(String, String)>>()
    });
    let reference_id = Memo::new(move |_| query.get().get("reference-id"));
    let redirect_uri = Memo::new(move |_| query.get().get("redirect-uri"));

    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = page.await;
                let messages = parent_messages(&result, &embedding.get_untracked());
                let screen = match result {
                    Ok(FlowPage::Start(view)) => {
                        view! { <StartScreen view start reference_id=reference_id.get_untracked() redirect_uri=redirect_uri.get_untracked() prefill=prefill.get_untracked()/> }.into_any()
                    }
                    Ok(FlowPage::Flow(flow)) => {
                        // On the hosted page, the photo steps can move to a phone.
                        let handoff = (!embedded && offers_handoff(&flow.step))
                            .then(|| (flow.inquiry_id.clone(), flow.step.clone()));
                        view! {
                            <FlowSteps flow details choose uploads error=error.get_untracked() continue_url=None/>
                            {handoff.map(|(inquiry_id, step)| view! { <ContinueOnPhone inquiry_id step/> })}
                        }.into_any()
                    }
                    Ok(FlowPage::Ended { view: flow, continue_url, .. }) => {
                        let continue_url = continue_url.filter(|_| !embedded);
                        view! { <FlowSteps flow details choose uploads error=None continue_url/> }.into_any()
                    }
                    Ok(FlowPage::Problem { title, message, .. }) => view! { <Problem title message/> }.into_any(),
                    Err(_) => view! {
                        <Problem
                            title="Something went wrong".to_owned()
                            message="We could not load this page. Please try again in a moment.".to_owned()
                        />
                    }
                    .into_any(),
                };
                view! { {screen} <TellParent messages/> }
            })}
        </Suspense>
    }
}

/// Whether the embedding page has been told the flow is ready (sent once per page load).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(feature = "hydrate"),
    expect(dead_code, reason = "messages are posted only in the browser")
)]
struct ParentReady(RwSignal<bool>);

/// The messages for the embedding page about what the flow shows now, with the origin they may
/// go to (the `parent-origin` the server checked against the template); none on the hosted page.
fn parent_messages(
    page: &Result<FlowPage, ServerFnError>,
    embedding: &Option<Embedding>,
) -> Option<(String, Vec<serde_json::Value>)> {
    use serde_json::json;
    let embedding = embedding.as_ref()?;
    let token = embedding.session_token.clone();
    let step_event = |inquiry_id: &str, step: &str| {
        json!({"source": "verity", "type": "event", "name": "step-change",
               "meta": {"inquiryId": inquiry_id, "sessionToken": token, "step": step}})
    };
    let messages = match page {
        Ok(FlowPage::Start(view)) => vec![json!({"source": "verity", "type": "event",
            "name": "start", "meta": {"templateId": view.template_id}})],
        Ok(FlowPage::Flow(flow)) => {
            let step = match flow.step {
                FlowStep::Details { .. } => "details",
                FlowStep::GovernmentId { .. } => "government-id",
                FlowStep::ChooseDocument { .. } => "choose-id",
                FlowStep::DocumentSide {
                    side: DocumentSide::Front,
                    ..
                } => "id-front",
                FlowStep::DocumentSide {
                    side: DocumentSide::Back,
                    ..
                } => "id-back",
                FlowStep::Completed => "completed",
                FlowStep::Failed { .. } => "failed",
                FlowStep::Expired => "expired",
            };
            let mut messages = vec![step_event(&flow.inquiry_id, step)];
            if matches!(flow.step, FlowStep::Expired) {
                messages
                    .push(json!({"source": "verity", "type": "error", "code": "inquiry_expired"}));
            }
            messages
        }
        Ok(FlowPage::Ended { view, fields, .. }) => {
            let status = match view.step {
                FlowStep::Failed { .. } => "failed",
                _ => "completed",
            };
            vec![
                step_event(&view.inquiry_id, status),
                json!({"source": "verity", "type": "complete", "inquiryId": view.inquiry_id,
                       "status": status, "fields": fields}),
            ]
        }
        Ok(FlowPage::Problem { code, .. }) => {
            vec![json!({"source": "verity", "type": "error", "code": code})]
        }
        Err(_) => vec![json!({"source": "verity", "type": "error", "code": "internal"})],
    };
    Some((embedding.parent_origin.clone(), messages))
}

/// Posts the messages to the embedding page once the screen is live in the browser (the first
/// one, `ready`, once per page): `window.parent.postMessage` with the checked origin as target,
/// so no other site can read them.
#[component]
fn TellParent(messages: Option<(String, Vec<serde_json::Value>)>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let ready = use_context::<ParentReady>();
        Effect::new(move |_| {
            let Some((origin, messages)) = &messages else {
                return;
            };
            if let Some(ParentReady(sent)) = ready {
                if !sent.get_untracked() {
                    sent.set(true);
                    post_to_parent(
                        origin,
                        &serde_json::json!({"source": "verity", "type": "ready"}),
                    );
                }
            }
            for message in messages {
                post_to_parent(origin, message);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = messages;
}

#[cfg(feature = "hydrate")]
pub(crate) fn post_to_parent(origin: &str, message: &serde_json::Value) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(Some(parent)) = window.parent() else {
        return;
    };
    if let Ok(value) = js_sys::JSON::parse(&message.to_string()) {
        let _ = parent.post_message(&value, origin);
    }
}

/// Hidden form fields that carry the embed page's session (no cookie in a third-party iframe).
#[component]
fn EmbeddingFields() -> impl IntoView {
    let embedding = use_context::<Memo<Option<Embedding>>>().and_then(|e| e.get_untracked());
    embedding.map(|embedding| {
        view! {
            <input type="hidden" name="parent_origin" value=embedding.parent_origin/>
            {embedding.session_token.map(|token| view! { <input type="hidden" name="session_token" value=token/> })}
        }
    })
}

/// A step's heading. When a step replaces another in the hydrated page, the button that had focus
/// is gone; the heading takes focus so screen readers announce where the person is now.
#[component]
fn StepHeading(#[prop(into)] text: String) -> impl IntoView {
    let heading = NodeRef::<leptos::html::H1>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(heading) = heading.get() {
            let focus_lost = document()
                .active_element()
                .is_none_or(|element| element.tag_name() == "BODY");
            if focus_lost {
                let _ = heading.focus();
            }
        }
    });
    view! { <h1 node_ref=heading tabindex="-1">{text}</h1> }
}

#[component]
fn Problem(title: String, message: String) -> impl IntoView {
    view! {
        <Title text=title.clone()/>
        <section class="card">
            <StepHeading text=title/>
            <p>{message}</p>
        </section>
    }
}

#[component]
fn StartScreen(
    view: StartView,
    start: ServerAction<StartInquiry>,
    reference_id: Option<String>,
    redirect_uri: Option<String>,
    prefill: Vec<(String, String)>,
) -> impl IntoView {
    let pending = start.pending();
    view! {
        <Title text=view.title.clone()/>
        <section class="card">
            <h1>{view.title.clone()}</h1>
            <p>{view.description.clone()}</p>
            <ol class="steps">
                {view.steps.iter().map(|step| view! { <li>{step.clone()}</li> }).collect_view()}
            </ol>
            <ActionForm action=start>
                <input type="hidden" name="template_id" value=view.template_id.clone()/>
                <EmbeddingFields/>
                {reference_id.map(|reference| view! { <input type="hidden" name="reference_id" value=reference/> })}
                {redirect_uri.map(|uri| view! { <input type="hidden" name="redirect_uri" value=uri/> })}
                {prefill
                    .into_iter()
                    .map(|(key, value)| view! { <input type="hidden" name=format!("fields[{key}]") value=value/> })
                    .collect_view()}
                <button type="submit" class="primary" disabled=move || pending.get()>"Start"</button>
            </ActionForm>
            <p class="fine-print">"Your information is used only to verify your identity for the organization that sent you here."</p>
        </section>
    }
}

#[component]
fn FlowSteps(
    flow: FlowView,
    details: ServerAction<SubmitDetails>,
    choose: ServerAction<ChooseDocument>,
    uploads: RwSignal<u32>,
    error: Option<String>,
    continue_url: Option<String>,
) -> impl IntoView {
    let notice = error.map(|code| error_message(&code));
    let continue_link = move |url: Option<String>| {
        url.map(|url| view! { <p><a class="button primary" href=url>"Continue"</a></p> })
    };
    match flow.step {
        FlowStep::Details { fields } => {
            view! { <DetailsStep inquiry_id=flow.inquiry_id fields details notice/> }.into_any()
        }
        FlowStep::GovernmentId { attempt, max_attempts, hints, max_upload_bytes } => view! {
            <IdStep
                inquiry_id=flow.inquiry_id
                attempt
                max_attempts
                hints
                max_upload_bytes
                uploads
                notice
                heading="Photograph your ID".to_owned()
                photo_label="Photo of the front of your ID".to_owned()
                side=None
                hints_intro="We couldn't use your last photo."
                tips=vec![
                    "Put your ID on a dark, plain surface.",
                    "Make sure all four corners are in the picture.",
                    "Avoid glare from lamps or the flash.",
                ]
            />
        }
        .into_any(),
        FlowStep::ChooseDocument {
            attempt,
            max_attempts,
            hints,
            countries,
            classes,
            selected_country,
            selected_class,
        } => view! {
            <ChooseStep
                inquiry_id=flow.inquiry_id
                attempt
                max_attempts
                hints
                countries
                classes
                selected_country
                selected_class
                choose
                notice
            />
        }
        .into_any(),
        FlowStep::DocumentSide {
            side,
            id_class,
            class_label,
            country_label,
            attempt,
            max_attempts,
            hints,
            max_upload_bytes,
        } => {
            let passport = id_class == "pp";
            let (heading, photo_label) = match (side, passport) {
                (DocumentSide::Front, true) => (
                    "Photograph your passport's photo page",
                    "Photo of your passport's photo page",
                ),
                (DocumentSide::Front, false) => {
                    ("Photograph the front of your ID", "Photo of the front of your ID")
                }
                (DocumentSide::Back, _) => {
                    ("Photograph the back of your ID", "Photo of the back of your ID")
                }
            };
            let mut tips = vec![
                "Put your ID on a dark, plain surface.",
                "Make sure all four corners are in the picture.",
                "Avoid glare from lamps or the flash.",
            ];
            match (side, passport) {
                (DocumentSide::Back, _) => {
                    tips.push("Make sure the barcode or the lines of letters and « < » signs are sharp.")
                }
                (DocumentSide::Front, true) => {
                    tips.push("Include the two lines of letters and « < » signs at the bottom of the page.")
                }
                (DocumentSide::Front, false) => {}
            }
            view! {
                <IdStep
                    inquiry_id=flow.inquiry_id
                    attempt
                    max_attempts
                    hints
                    max_upload_bytes
                    uploads
                    notice
                    heading=heading.to_owned()
                    photo_label=photo_label.to_owned()
                    side=Some(side)
                    hints_intro="We couldn't verify your ID from your last photos."
                    tips
                    document=format!("{class_label} from {country_label}")
                />
            }
            .into_any()
        }
        FlowStep::Completed => view! {
            <Title text="Verification complete"/>
            <section class="card done">
                <StepHeading text="Verification complete"/>
                <p>"Thank you. We have everything we need. You can close this page; the organization that asked for this verification will be in touch if anything else is needed."</p>
                {continue_link(continue_url.clone())}
            </section>
        }
        .into_any(),
        FlowStep::Failed { hints } => view! {
            <Title text="We couldn't verify your identity"/>
            <section class="card failed">
                <StepHeading text="We couldn't verify your identity"/>
                <p>"All the allowed attempts were used, so this verification has ended."</p>
                {(!hints.is_empty()).then(|| view! {
                    <p>"What went wrong with the last photo:"</p>
                    <ul>{hints.into_iter().map(|hint| view! { <li>{hint}</li> }).collect_view()}</ul>
                })}
                <p>"To try again, ask the organization that sent you here for a new verification link."</p>
                {continue_link(continue_url.clone())}
            </section>
        }
        .into_any(),
        FlowStep::Expired => view! {
            <Title text="This verification has expired"/>
            <section class="card failed">
                <StepHeading text="This verification has expired"/>
                <p>"Verification links are only valid for a limited time. Ask the organization that sent it for a new link."</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
fn DetailsStep(
    inquiry_id: String,
    fields: Vec<FieldView>,
    details: ServerAction<SubmitDetails>,
    notice: Option<&'static str>,
) -> impl IntoView {
    let pending = details.pending();
    let server_errors: Vec<String> = fields
        .iter()
        .filter_map(|field| field.error.clone())
        .collect();
    view! {
        <Title text="Your details"/>
        <section class="card">
            <StepHeading text="Your details"/>
            <p>"Enter them exactly as they appear on your ID."</p>
            {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
            {(!server_errors.is_empty()).then(|| view! {
                <div class="error-summary" role="alert">
                    <p>"Please check the following:"</p>
                    <ul>{server_errors.into_iter().map(|error| view! { <li>{error}</li> }).collect_view()}</ul>
                </div>
            })}
            <ActionForm action=details>
                <input type="hidden" name="inquiry_id" value=inquiry_id/>
                <EmbeddingFields/>
                {fields.into_iter().map(|field| view! { <FieldInput field/> }).collect_view()}
                <button type="submit" class="primary" disabled=move || pending.get()>"Continue"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn FieldInput(field: FieldView) -> impl IntoView {
    let spec = StoredValue::new(field.spec.clone());
    let input_id = format!("field-{}", field.spec.key);
    let error_id = format!("{input_id}-error");
    let error = RwSignal::new(field.error.clone());
    let check = move |value: String| {
        let problem =
            spec.with_value(|spec| spec.validate(&value, today()).err().map(|e| e.to_string()));
        error.set(problem);
    };
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=input_id.clone()>{field.spec.label.clone()}</label>
            <input
                id=input_id
                name=format!("fields[{}]", field.spec.key)
                type=field.spec.input_type()
                value=field.value
                autocomplete=field.spec.autocomplete.clone().unwrap_or_else(|| "off".to_owned())
                aria-required=if field.spec.required { "true" } else { "false" }
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=error_id.clone()
                on:change=move |ev| check(event_target_value(&ev))
            />
            <p id=error_id class="field-error">{move || error.get()}</p>
        </div>
    }
}

/// "Choose your ID": the country that issued it and its type, as a plain form.
#[component]
#[allow(clippy::too_many_arguments)]
fn ChooseStep(
    inquiry_id: String,
    attempt: u8,
    max_attempts: u8,
    hints: Vec<String>,
    countries: Vec<Choice>,
    classes: Vec<Choice>,
    selected_country: Option<String>,
    selected_class: Option<String>,
    choose: ServerAction<ChooseDocument>,
    notice: Option<&'static str>,
) -> impl IntoView {
    let pending = choose.pending();
    let has_alert = !hints.is_empty();
    let single_class = classes.len() == 1;
    view! {
        <Title text="Choose your ID"/>
        <section class="card">
            <StepHeading text="Choose your ID"/>
            <p class="attempt">{format!("Attempt {attempt} of {max_attempts}")}</p>
            {has_alert.then(|| view! {
                <div class="error-summary" role="alert">
                    <p>"We couldn't verify your ID from your last photos."</p>
                    <ul>{hints.into_iter().map(|hint| view! { <li>{hint}</li> }).collect_view()}</ul>
                </div>
            })}
            {notice.map(|text| view! { <p class="notice" role="status">{text}</p> })}
            <ActionForm action=choose>
                <input type="hidden" name="inquiry_id" value=inquiry_id/>
                <EmbeddingFields/>
                <div class="field">
                    <label for="country">"Country"</label>
                    {if countries.is_empty() {
                        view! {
                            <input id="country" name="country" type="text" required maxlength="2"
                                autocomplete="country" aria-describedby="country-hint"
                                value=selected_country.clone().unwrap_or_default()/>
                            <p id="country-hint" class="hint">"The two-letter code of the country that issued your ID, for example US."</p>
                        }
                        .into_any()
                    } else {
                        let selected = selected_country.clone();
                        view! {
                            <select id="country" name="country" required aria-describedby="country-hint">
                                {countries
                                    .into_iter()
                                    .map(|country| {
                                        let is_selected = selected.as_deref() == Some(country.value.as_str());
                                        view! { <option value=country.value selected=is_selected>{country.label}</option> }
                                    })
                                    .collect_view()}
                            </select>
                            <p id="country-hint" class="hint">"The country that issued your ID."</p>
                        }
                        .into_any()
                    }}
                </div>
                <fieldset class="field choices">
                    <legend>"Type of ID"</legend>
                    {classes
                        .into_iter()
                        .map(|class| {
                            let id = format!("id-class-{}", class.value);
                            let checked = single_class
                                || selected_class.as_deref() == Some(class.value.as_str());
                            view! {
                                <div class="choice">
                                    <input type="radio" id=id.clone() name="id_class" value=class.value required checked=checked/>
                                    <label for=id>{class.label}</label>
                                </div>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <button type="submit" class="primary" disabled=move || pending.get()>"Continue"</button>
            </ActionForm>
        </section>
    }
}

#[component]
#[allow(clippy::too_many_arguments)]
fn IdStep(
    inquiry_id: String,
    attempt: u8,
    max_attempts: u8,
    hints: Vec<String>,
    max_upload_bytes: u64,
    uploads: RwSignal<u32>,
    notice: Option<&'static str>,
    heading: String,
    photo_label: String,
    /// The side of a chosen document; `None` for the single photo of simpler templates.
    side: Option<DocumentSide>,
    hints_intro: &'static str,
    tips: Vec<&'static str>,
    /// The chosen document ("Driver's licence from United States"), when there was a choice.
    #[prop(optional)]
    document: Option<String>,
) -> impl IntoView {
    let uploading = RwSignal::new(false);
    let progress = RwSignal::new(0u32);
    let upload_error = RwSignal::new(notice.map(str::to_owned));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        upload_with_progress::start(
            ev,
            max_upload_bytes,
            uploading,
            progress,
            upload_error,
            uploads,
        );
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, max_upload_bytes, uploads);
    };
    let has_alert = !hints.is_empty();
    view! {
        <Title text=heading.clone()/>
        <section class="card">
            <StepHeading text=heading/>
            <p class="attempt">{format!("Attempt {attempt} of {max_attempts}")}</p>
            {document.map(|document| view! { <p class="document">{document}</p> })}
            {has_alert.then(|| view! {
                <div class="error-summary" role="alert">
                    <p>{hints_intro}</p>
                    <ul>{hints.into_iter().map(|hint| view! { <li>{hint}</li> }).collect_view()}</ul>
                </div>
            })}
            <p class="notice" role="status">{move || upload_error.get()}</p>
            <ul class="tips">
                {tips.into_iter().map(|tip| view! { <li>{tip}</li> }).collect_view()}
            </ul>
            <form method="post" enctype="multipart/form-data" action=UploadIdPhoto::PATH on:submit=on_submit>
                <input type="hidden" name="inquiry_id" value=inquiry_id/>
                {side.map(|side| view! { <input type="hidden" name="side" value=side.as_str()/> })}
                <EmbeddingFields/>
                <div class="field">
                    <label for="photo">{photo_label}</label>
                    <input
                        id="photo"
                        name="photo"
                        type="file"
                        accept="image/*"
                        capture="environment"
                        required
                        aria-describedby="photo-hint"
                    />
                    <p id="photo-hint" class="hint">{format!("JPEG, PNG or WebP, up to {} MB. On a phone this opens the camera.", max_upload_bytes / (1024 * 1024))}</p>
                </div>
                <CameraCapture input_id="photo"/>
                <Show when=move || uploading.get()>
                    <label for="upload-progress">"Upload progress"</label>
                    <progress id="upload-progress" max="100" value=move || progress.get().to_string()></progress>
                    <p role="status">{move || if progress.get() >= 100 { "Checking your photo…" } else { "Uploading…" }}</p>
                </Show>
                <button type="submit" class="primary" disabled=move || uploading.get()>"Upload photo"</button>
            </form>
        </section>
    }
}

/// The hydrated upload: posts the same form with `XMLHttpRequest` so the person sees progress.
#[cfg(feature = "hydrate")]
mod upload_with_progress {
    use crate::server_fns::{error_message, UploadReply};
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{FormData, HtmlFormElement, HtmlInputElement, ProgressEvent, XmlHttpRequest};

    pub fn start(
        ev: leptos::ev::SubmitEvent,
        max_upload_bytes: u64,
        uploading: RwSignal<bool>,
        progress: RwSignal<u32>,
        upload_error: RwSignal<Option<String>>,
        uploads: RwSignal<u32>,
    ) {
        let Some(form) = ev
            .target()
            .and_then(|target| target.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        // Refuse an oversized file before sending it over a slow connection.
        let file_size = form
            .query_selector("input[type=file]")
            .ok()
            .flatten()
            .and_then(|input| input.dyn_into::<HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
            .map(|file| file.size() as u64);
        match file_size {
            None => return, // let the browser say the file is required
            Some(size) if size > max_upload_bytes => {
                ev.prevent_default();
                upload_error.set(Some(error_message("too_large").to_owned()));
                return;
            }
            Some(_) => {}
        }
        let (Ok(data), Ok(request)) = (FormData::new_with_form(&form), XmlHttpRequest::new())
        else {
            return; // fall back to the plain form post
        };
        if request.open("POST", &form.action()).is_err()
            || request
                .set_request_header("Accept", "application/json")
                .is_err()
        {
            return;
        }
        ev.prevent_default();
        upload_error.set(None);
        progress.set(0);
        uploading.set(true);

        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            if event.length_computable() && event.total() > 0.0 {
                progress.set(((event.loaded() / event.total()) * 100.0) as u32);
            }
        });
        if let Ok(upload) = request.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        on_progress.forget();

        let finished = request.clone();
        let on_load = Closure::once(move || {
            uploading.set(false);
            let reply = finished
                .response_text()
                .ok()
                .flatten()
                .and_then(|body| serde_json::from_str::<UploadReply>(&body).ok());
            match (finished.status().unwrap_or(0), reply) {
                (200, Some(UploadReply { error: None })) => uploads.update(|count| *count += 1),
                (200, Some(UploadReply { error: Some(code) })) => {
                    // Nothing changed on the server for a refused file: keep this page and say why.
                    // A step that moved on elsewhere reloads to show where the person is now.
                    upload_error.set(Some(error_message(&code).to_owned()));
                    if code == "wrong_step" || code == "busy" {
                        uploads.update(|count| *count += 1);
                    }
                }
                _ => upload_error.set(Some(error_message("internal").to_owned())),
            }
        });
        request.set_onload(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();

        let on_error = Closure::once(move || {
            uploading.set(false);
            upload_error.set(Some(
                "The upload did not reach us. Check your connection and try again.".to_owned(),
            ));
        });
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();

        if request.send_with_opt_form_data(Some(&data)).is_err() {
            uploading.set(false);
            upload_error.set(Some(error_message("internal").to_owned()));
        }
    }
}
