//! CORS for browser apps on the public API (`/v1`, `/api/v1`), when `[server] cors_origins`
//! allows their origin. The admin API never answers cross-origin: a page holding the master
//! key should not exist.
//!
//! tower-http's `CorsLayer` writes the headers, but it answers every `OPTIONS` and adds some
//! headers whatever the origin, so it only sees requests from an allowed origin to a public
//! path. Everything else reaches the router untouched: a disallowed origin gets no CORS header
//! at all, and its preflight meets the route's own 405.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

use crate::config::CorsOrigins;

/// The gateway's response headers browser clients read (ids, limits, retries, routing).
const EXPOSED: &[&str] = &[
    "x-request-id",
    "x-generation-id",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "retry-after",
    "x-should-retry",
    "x-switchyard-provider",
    "x-switchyard-dropped-params",
    "x-switchyard-estimated",
];

/// How long a browser may reuse a preflight answer.
const MAX_AGE: Duration = Duration::from_secs(600);

pub struct Cors {
    origins: CorsOrigins,
    layer: CorsLayer,
}

impl Cors {
    /// `None` when no origin is allowed: then the router gets no CORS layer at all.
    pub fn new(origins: &CorsOrigins) -> Option<Arc<Cors>> {
        let allow_origin = match origins {
            CorsOrigins::None => return None,
            CorsOrigins::Any => AllowOrigin::any(),
            // Only allowed origins reach the layer (see `cors`), so it can echo them.
            CorsOrigins::List(_) => AllowOrigin::mirror_request(),
        };
        let layer = CorsLayer::new()
            .allow_origin(allow_origin)
            // The SDKs send their own families of headers (x-stainless-*, openai-*,
            // anthropic-*, http-referer, x-title) that grow with each release: an allowed
            // origin may send whatever it asks for. Authorization is among them, which a
            // wildcard would not cover.
            .allow_headers(AllowHeaders::mirror_request())
            .allow_methods(AllowMethods::list([
                Method::GET,
                Method::POST,
                Method::OPTIONS,
            ]))
            .expose_headers(ExposeHeaders::list(
                EXPOSED.iter().map(|h| HeaderName::from_static(h)),
            ))
            .max_age(MAX_AGE);
        Some(Arc::new(Cors {
            origins: origins.clone(),
            layer,
        }))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            CorsOrigins::None => false,
            CorsOrigins::Any => true,
            CorsOrigins::List(list) => origin
                .to_str()
                .is_ok_and(|o| list.iter().any(|l| l.eq_ignore_ascii_case(o))),
        }
    }
}

/// The paths browsers may call: the OpenAI (`/v1`) and OpenRouter (`/api/v1`) doors.
fn is_public(path: &str) -> bool {
    ["/v1", "/api/v1"].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The outermost middleware: answers preflights (204) and stamps the CORS headers on every
/// answer to an allowed origin, errors included (a browser app cannot read a 401 or a 429
/// without them).
pub async fn cors(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    if !is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| cors.allows(o));
    if !allowed {
        let mut resp = next.run(req).await;
        // The answer would differ for another origin: caches must not reuse it for one.
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return resp;
    }
    let preflight = req.method() == Method::OPTIONS;
    match cors.layer.layer(next).oneshot(req).await {
        Ok(mut resp) => {
            if preflight {
                *resp.status_mut() = StatusCode::NO_CONTENT;
            }
            resp
        }
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_public_doors_are_cross_origin() {
        for p in [
            "/v1",
            "/v1/chat/completions",
            "/api/v1",
            "/api/v1/models/a/b",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/admin/keys",
            "/",
            "/v1x",
            "/api/v10/models",
            "/api",
            "/v2/models",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }

    #[test]
    fn origins_match_as_configured() {
        let c = Cors::new(&CorsOrigins::List(vec!["https://app.example.com".into()])).unwrap();
        assert!(c.allows(&HeaderValue::from_static("https://app.example.com")));
        assert!(!c.allows(&HeaderValue::from_static("https://evil.example.com")));
        assert!(!c.allows(&HeaderValue::from_static(
            "https://app.example.com.evil.example"
        )));
        assert!(Cors::new(&CorsOrigins::None).is_none());
        let any = Cors::new(&CorsOrigins::Any).unwrap();
        assert!(any.allows(&HeaderValue::from_static("null")));
    }
}
