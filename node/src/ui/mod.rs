//! 工作台 — the web UI a 安委办 works in, served by its own node on its `http` address.
//!
//! Server-rendered typed views: one module per page under [`views`], one askama template struct per
//! view (`node/templates/`), htmx partials for the parts that refresh (the ledger's table, the sync
//! status), vendored htmx and ECharts (`node/assets/vendor/`, licences beside them). Nothing is fetched
//! from outside at run time and `cargo build` alone builds it.
//!
//! - [`session`]: `/login` turns a token (the API's tokens and roles) into a session cookie
//!   (`HttpOnly`, `SameSite=Strict`); every page re-resolves the token, so a revoked token's sessions end.
//! - [`csrf`]: every form post carries the session's CSRF token (a hidden field, or the
//!   `X-CSRF-Token` header htmx sends) and a same-origin `Origin`, checked before any handler runs.
//! - [`headers`]: a strict Content-Security-Policy (scripts and styles from this node only), no framing.
//! - The views call the same record operations the JSON API calls (`crate::hazards`,
//!   `crate::directives`, …): validation and authority exist once.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::http::ApiState;

pub mod assets;
pub mod csrf;
pub mod form;
pub mod headers;
pub mod page;
pub mod session;
pub mod sessions;
pub mod user;
pub mod views;

pub use sessions::Sessions;

type Shared = Arc<ApiState>;

/// The UI's routes: pages behind a session, the login page and the assets without one.
pub fn router(state: Shared) -> Router {
    let pages = Router::new()
        .route("/", get(views::overview::page))
        .route("/hazards", get(views::ledger::page))
        .route(
            "/hazards/new",
            get(views::register::form).post(views::register::submit),
        )
        .route("/hazards/export.xlsx", get(views::excel::export))
        .route("/hazards/import-template.xlsx", get(views::excel::template))
        .route(
            "/hazards/import",
            get(views::excel::form)
                .post(views::excel::submit)
                .layer(DefaultBodyLimit::max(crate::excel::http::MAX_UPLOAD_BYTES)),
        )
        .route("/hazards/{id}", get(views::hazard::page))
        // The per-file limit is the config's, checked while each file streams in.
        .route(
            "/hazards/{id}/events",
            post(views::hazard::add_event).layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{sha256}", get(views::files::download))
        .route("/files/{sha256}/thumbnail", get(views::files::thumbnail))
        .route("/directives", get(views::directives::list))
        .route("/directives/{id}", get(views::directives::page))
        .route(
            "/directives/{id}/respond",
            post(views::directives::respond).layer(DefaultBodyLimit::disable()),
        )
        .route("/directives/{id}/forward", post(views::directives::forward))
        .route("/directives/{id}/review", post(views::directives::review))
        .route("/directives/{id}/remind", post(views::directives::remind))
        .route("/accidents", get(views::accidents::list))
        // The per-file limit is the config's, checked while each file streams in.
        .route(
            "/accidents/new",
            get(views::accident_new::form)
                .post(views::accident_new::submit)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/accidents/{id}", get(views::accidents::page))
        .route(
            "/accidents/{id}/supplement",
            post(views::accidents::supplement).layer(DefaultBodyLimit::disable()),
        )
        .route("/enterprises", get(views::enterprises::list))
        .route("/enterprises/{code}", get(views::enterprises::page))
        .route(
            "/enterprises/{code}/update",
            post(views::enterprises::update),
        )
        .route("/reports/monthly", get(views::reports::page))
        .route("/reports/monthly.xlsx", get(views::reports::workbook))
        .route("/sync", get(views::sync::page))
        .route("/sync/links", get(views::sync::links))
        .route("/logout", post(session::logout))
        .layer(middleware::from_fn(csrf::verify))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::require,
        ));
    Router::new()
        .merge(pages)
        .route("/login", get(session::login_form).post(session::login))
        .route("/assets/{*file}", get(assets::serve))
        .fallback(|| async { page::error_page(404, "页面不存在，请从导航栏进入") })
        .layer(middleware::from_fn(headers::secure))
        .with_state(state)
}
