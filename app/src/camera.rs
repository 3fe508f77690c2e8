//! The camera view of the photo steps: once the page is interactive, "Use the camera" opens the
//! device's camera (`getUserMedia`, the rear camera preferred) with a frame guide and a shutter;
//! the photo taken goes into the step's file input, so it is uploaded like a chosen file. When
//! the camera cannot start (none, permission refused, blocked by the page or the site embedding
//! the flow, busy, unsupported) the person is told why in plain words and keeps the file input;
//! an embedding site hears `camera-unavailable` with the reason.

use leptos::prelude::*;

/// Why the camera could not start, as the embedding site is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraUnavailable {
    /// The person (or the browser's settings) refused the permission.
    PermissionDenied,
    /// The device has no camera.
    NoCamera,
    /// Another app holds the camera.
    CameraBusy,
    /// The page or the site embedding it does not allow the camera (permissions policy).
    BlockedByPage,
    /// The browser cannot use a camera here (no `mediaDevices`, not a secure context).
    Unsupported,
}

impl CameraUnavailable {
    /// The reason's name in the `camera-unavailable` event.
    pub fn code(self) -> &'static str {
        match self {
            CameraUnavailable::PermissionDenied => "permission-denied",
            CameraUnavailable::NoCamera => "no-camera",
            CameraUnavailable::CameraBusy => "camera-busy",
            CameraUnavailable::BlockedByPage => "blocked-by-page",
            CameraUnavailable::Unsupported => "unsupported",
        }
    }

    /// What the person reads.
    pub fn message(self) -> &'static str {
        match self {
            CameraUnavailable::PermissionDenied => "The camera was not allowed. You can allow it in your browser's settings, or choose a photo you already have below.",
            CameraUnavailable::NoCamera => "We could not find a camera on this device. Choose a photo of your ID below instead.",
            CameraUnavailable::CameraBusy => "Another app is using the camera. Close it and try again, or choose a photo below.",
            CameraUnavailable::BlockedByPage => "This page is not allowed to use the camera. Choose a photo of your ID below instead.",
            CameraUnavailable::Unsupported => "This browser cannot use the camera here. Choose a photo of your ID below instead.",
        }
    }

    /// From the name of the `DOMException` `getUserMedia` rejected with.
    pub fn from_error_name(name: &str) -> CameraUnavailable {
        match name {
            "NotAllowedError" | "PermissionDeniedError" => CameraUnavailable::PermissionDenied,
            "NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError" => {
                CameraUnavailable::NoCamera
            }
            "NotReadableError" | "TrackStartError" | "AbortError" => CameraUnavailable::CameraBusy,
            "SecurityError" => CameraUnavailable::BlockedByPage,
            _ => CameraUnavailable::Unsupported,
        }
    }
}

/// What the camera view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "hydrate"),
    expect(dead_code, reason = "the camera starts only in the browser")
)]
enum CameraState {
    Off,
    Starting,
    Live,
    Taken,
    Unavailable(CameraUnavailable),
}

/// The camera view for the file input with id `input_id` (rendered only once interactive).
#[component]
pub fn CameraCapture(#[prop(into)] input_id: String) -> impl IntoView {
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let state = RwSignal::new(CameraState::Off);
    let video = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    let stream: StoredValue<Option<web_sys::MediaStream>, LocalStorage> =
        StoredValue::new_local(None);
    let input_id = StoredValue::new(input_id);
    // The embedding page to tell when the camera cannot start (read now: the camera answers
    // later, outside this component's reactive owner).
    let parent_origin = StoredValue::new(
        use_context::<Memo<Option<crate::server_fns::Embedding>>>()
            .and_then(|embedding| embedding.get_untracked())
            .map(|embedding| embedding.parent_origin),
    );
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        live::start(state, video, stream, parent_origin.get_value());
        #[cfg(not(feature = "hydrate"))]
        let _ = (state, video, parent_origin);
    };
    let shutter = move |_| {
        #[cfg(feature = "hydrate")]
        live::take_photo(state, video, stream, &input_id.get_value());
        #[cfg(not(feature = "hydrate"))]
        let _ = input_id;
    };
    let close = move |_| {
        #[cfg(feature = "hydrate")]
        live::stop(stream);
        state.set(CameraState::Off);
    };
    view! {
        <Show when=move || interactive.get()>
            <div class="camera-capture">
                <Show when=move || matches!(state.get(), CameraState::Off | CameraState::Taken | CameraState::Unavailable(_))>
                    <button type="button" class="secondary" on:click=start>
                        {move || if state.get() == CameraState::Taken { "Take another photo" } else { "Use the camera" }}
                    </button>
                </Show>
                <p class="camera-status" role="status">
                    {move || match state.get() {
                        CameraState::Starting => "Starting the camera…",
                        CameraState::Live => "Fit your ID inside the frame, then take the photo.",
                        CameraState::Taken => "Photo taken. Upload it, or take another.",
                        CameraState::Unavailable(reason) => reason.message(),
                        CameraState::Off => "",
                    }}
                </p>
                <div class="camera-view" hidden=move || !matches!(state.get(), CameraState::Live | CameraState::Starting)>
                    <video node_ref=video autoplay=true muted=true playsinline=true aria-label="Camera preview"></video>
                    <div class="frame-guide" aria-hidden="true"></div>
                    <button type="button" class="primary" on:click=shutter disabled=move || state.get() != CameraState::Live>"Take photo"</button>
                    <button type="button" class="secondary" on:click=close>"Close the camera"</button>
                </div>
            </div>
        </Show>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod live {
    use super::{CameraState, CameraUnavailable};
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        Blob, DataTransfer, File, FilePropertyBag, HtmlCanvasElement, HtmlInputElement,
        MediaStream, MediaStreamConstraints,
    };

    type Stream = StoredValue<Option<MediaStream>, LocalStorage>;

    fn unavailable(
        state: RwSignal<CameraState>,
        reason: CameraUnavailable,
        parent_origin: Option<&str>,
    ) {
        state.set(CameraState::Unavailable(reason));
        // Tell the embedding site, when there is one (only its checked origin hears it).
        if let Some(parent_origin) = parent_origin.filter(|origin| !origin.is_empty()) {
            crate::flow::post_to_parent(
                parent_origin,
                &serde_json::json!({"source": "verity", "type": "event", "name": "camera-unavailable",
                    "meta": {"reason": reason.code()}}),
            );
        }
    }

    pub fn start(
        state: RwSignal<CameraState>,
        video: NodeRef<leptos::html::Video>,
        stream: Stream,
        parent_origin: Option<String>,
    ) {
        let parent = parent_origin.as_deref();
        let devices = web_sys::window().and_then(|w| w.navigator().media_devices().ok());
        let Some(devices) = devices else {
            unavailable(state, CameraUnavailable::Unsupported, parent);
            return;
        };
        let constraints = MediaStreamConstraints::new();
        let video_constraints = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &video_constraints,
            &"facingMode".into(),
            &"environment".into(),
        );
        constraints.set_video(&video_constraints);
        constraints.set_audio(&false.into());
        let Ok(request) = devices.get_user_media_with_constraints(&constraints) else {
            unavailable(state, CameraUnavailable::Unsupported, parent);
            return;
        };
        state.set(CameraState::Starting);
        leptos::task::spawn_local(async move {
            match JsFuture::from(request).await {
                Ok(value) => {
                    let Ok(media) = value.dyn_into::<MediaStream>() else {
                        unavailable(
                            state,
                            CameraUnavailable::Unsupported,
                            parent_origin.as_deref(),
                        );
                        return;
                    };
                    if let Some(element) = video.get_untracked() {
                        element.set_src_object(Some(&media));
                        // The shutter needs a frame: the preview is live once playback started
                        // (before, the video has no size and a photo would be nothing).
                        if let Ok(playing) = element.play() {
                            let _ = JsFuture::from(playing).await;
                        }
                    }
                    stream.set_value(Some(media));
                    state.set(CameraState::Live);
                }
                Err(error) => {
                    let name = error
                        .dyn_ref::<web_sys::DomException>()
                        .map(|exception| exception.name())
                        .unwrap_or_default();
                    unavailable(
                        state,
                        CameraUnavailable::from_error_name(&name),
                        parent_origin.as_deref(),
                    );
                }
            }
        });
    }

    pub fn stop(stream: Stream) {
        if let Some(media) = stream.get_value() {
            for track in media.get_tracks().iter() {
                if let Ok(track) = track.dyn_into::<web_sys::MediaStreamTrack>() {
                    track.stop();
                }
            }
        }
        stream.set_value(None);
    }

    pub fn take_photo(
        state: RwSignal<CameraState>,
        video: NodeRef<leptos::html::Video>,
        stream: Stream,
        input_id: &str,
    ) {
        let Some(element) = video.get_untracked() else {
            return;
        };
        let (width, height) = (element.video_width(), element.video_height());
        let document = web_sys::window().and_then(|w| w.document());
        let Some(document) = document else {
            return;
        };
        let canvas = document
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok());
        let (Some(canvas), true) = (canvas, width > 0 && height > 0) else {
            return;
        };
        canvas.set_width(width);
        canvas.set_height(height);
        let drawn = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
            .map(|context| context.draw_image_with_html_video_element(&element, 0.0, 0.0));
        if !matches!(drawn, Some(Ok(()))) {
            return;
        }
        let input = document
            .get_element_by_id(input_id)
            .and_then(|input| input.dyn_into::<HtmlInputElement>().ok());
        let Some(input) = input else {
            return;
        };
        let on_blob = Closure::once(move |blob: Option<Blob>| {
            let Some(blob) = blob else {
                return;
            };
            let parts = js_sys::Array::of1(&blob);
            let options = FilePropertyBag::new();
            options.set_type("image/jpeg");
            let file = File::new_with_blob_sequence_and_options(&parts, "camera.jpg", &options);
            if let (Ok(file), Ok(transfer)) = (file, DataTransfer::new()) {
                let _ = transfer.items().add_with_file(&file);
                if let Some(files) = transfer.files() {
                    input.set_files(Some(&files));
                    stop(stream);
                    state.set(CameraState::Taken);
                }
            }
        });
        let _ = canvas.to_blob_with_type_and_encoder_options(
            on_blob.as_ref().unchecked_ref(),
            "image/jpeg",
            &0.92.into(),
        );
        on_blob.forget();
    }
}
