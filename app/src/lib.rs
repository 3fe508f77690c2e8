//! Verity's Leptos UI: the hosted verification flow, rendered by the server and hydrated in the browser.

pub mod camera;
pub mod flow;
pub mod handoff;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="referrer" content="no-referrer"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application's routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: the attribute tells tests (and CSS) that the wasm is live.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Stylesheet id="verity" href="/pkg/verity.css"/>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
        <Title text="Verity"/>
        <Router>
            <main class="page" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=StaticSegment("verify") view=flow::VerifyPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("embed") view=flow::EmbedPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("") view=Home/>
                </Routes>
            </main>
        </Router>
    }
}

/// The landing page of a Verity server: points operators at the example flow and the docs.
#[component]
fn Home() -> impl IntoView {
    view! {
        <Title text="Verity"/>
        <section class="card">
            <h1>"Verity"</h1>
            <p>"Self-hosted identity verification. Individuals reach a verification through a link from the organization that asked for it."</p>
            <p><a href="/verify?inquiry-template-id=itmpl_basic_kyc">"Try the example verification"</a></p>
        </section>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. If you followed a link to verify your identity, ask the organization that sent it for a new one."</p>
        </section>
    }
}

/// Entry point of the wasm bundle: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
