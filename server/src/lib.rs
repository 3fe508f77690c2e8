//! The composition root of the `verity` binary: settings, telemetry and the HTTP router.

pub mod api;
pub mod background;
pub mod config;
pub mod delivery;
pub mod embed;
pub mod http_layer;
pub mod mail;

use app::server_fns::PublicUrl;
use axum::routing::get;
use axum::Router;
use config::Settings;
use engine::Engine;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// Leptos's options for this server: the site folder and output name cargo-leptos builds.
pub fn leptos_options(settings: &Settings) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("verity")
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(settings.listen_addr)
        .build()
}

/// The whole HTTP surface: the REST API, the flow pages and their server functions, health,
/// static files.
pub fn router(engine: Engine, settings: &Settings) -> Router {
    let options = leptos_options(settings);
    let routes = generate_route_list(app::App);
    let public_url = PublicUrl(settings.public_url.clone());
    let context = {
        let engine = engine.clone();
        move || {
            provide_context(engine.clone());
            provide_context(public_url.clone());
        }
    };
    let shell_options = options.clone();
    let api_state = api::ApiState::new(api::ApiShared {
        engine: engine.clone(),
        rate_limiter: api::middleware::RateLimiter::new(
            settings.api_rate_limit,
            settings.api_rate_burst,
        ),
        public_url: settings.public_url.clone(),
    });
    let routes = Router::new()
        .route("/healthz", get(http_layer::healthz))
        .route("/readyz", get(http_layer::readyz))
        .route("/sdk/verity.js", get(embed::sdk))
        .leptos_routes_with_context(&options, routes, context, move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(options)
        .merge(api::router(api_state));
    // The layers every request passes, outermost first, wrapped once around the whole router
    // rather than with `Router::layer`, which wraps each route's boxed service: axum clones a
    // route's whole stack of boxes for every request.
    let layered = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(http_layer::every_request))
        .layer(axum::Extension(mail::Mailer::new(
            settings.smtp_url.as_deref(),
            &settings.mail_from,
            &settings.organization_name,
        )))
        .layer(axum::Extension(engine))
        .service(routes);
    Router::new().fallback_service(layered)
}
