//! 静态资源 — the UI's stylesheet, script and the vendored libraries, compiled into the binary.
//!
//! Vendored (versions and licences in `node/assets/vendor/README.md`): htmx 2.0.11 (0BSD) and
//! ECharts 5.6.0 (Apache-2.0, the `common` build: bar, line and pie). Names carry the version, so they
//! are cached for a year; `app.css` and `app.js` change with the binary and are revalidated.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One asset: its path under `/assets/`, its type, its bytes, whether its name is versioned.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
    versioned: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
        versioned: false,
    },
    Asset {
        path: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
        versioned: false,
    },
    Asset {
        path: "vendor/htmx-2.0.11.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
        versioned: true,
    },
    Asset {
        path: "vendor/echarts-5.6.0.common.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/echarts-5.6.0.common.min.js"),
        versioned: true,
    },
];

/// `GET /assets/{*file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == file) else {
        return (StatusCode::NOT_FOUND, "未找到 / not found").into_response();
    };
    let cache = if a.versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(a.mime)),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        a.bytes,
    )
        .into_response()
}
