//! The dashboard's files, embedded in the binary (no build step, no CDN). The vendored
//! charting library (uPlot, MIT, see `assets/vendor/`) carries its version in its name and is
//! cached for a year; the dashboard's own files are revalidated by ETag on every load.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const LOGIN_HTML: &str = include_str!("assets/login.html");

struct Asset {
    name: &'static str,
    body: &'static [u8],
    /// Named with its version: the same name never has other content.
    immutable: bool,
}

macro_rules! asset {
    ($name:literal) => {
        Asset {
            name: $name,
            body: include_bytes!(concat!("assets/", $name)),
            immutable: false,
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("app.css"),
    asset!("app.js"),
    asset!("api.js"),
    asset!("charts.js"),
    asset!("overview.js"),
    asset!("breakdown.js"),
    asset!("requests.js"),
    asset!("keys.js"),
    asset!("providers.js"),
    Asset {
        name: "vendor/uPlot-1.6.32.iife.min.js",
        body: include_bytes!("assets/vendor/uPlot.iife.min.js"),
        immutable: true,
    },
    Asset {
        name: "vendor/uPlot-1.6.32.min.css",
        body: include_bytes!("assets/vendor/uPlot.min.css"),
        immutable: true,
    },
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// `GET /dashboard/assets/{file}`: public (no secrets in them), so no session needed.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(asset.body)[..12]));
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache.to_owned()),
            ],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type(asset.name).to_owned()),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::ETAG, etag),
        ],
        asset.body,
    )
        .into_response()
}
