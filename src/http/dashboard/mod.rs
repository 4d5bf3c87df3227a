//! The dashboard at `/dashboard`: a login form that checks the master key and sets a
//! stateless session cookie (see `auth::session`), the single page (plain HTML and small
//! vanilla JS modules reading the admin API), and its assets, embedded in the binary.
//!
//! Security model: the session cookie is HttpOnly, SameSite=Strict, Path=/ (Secure behind
//! https); the admin API accepts it in place of the bearer, and for writes also wants the
//! session's CSRF token in `x-csrf-token` and no foreign `Origin` (`admin_by_session`).
//! Every dashboard answer carries a strict Content-Security-Policy (no inline script) and
//! `X-Frame-Options: DENY`. May depend on: auth, http (state, errors).

mod assets;

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::AppState;
use crate::auth::session::{SessionKey, SESSION_TTL_SECS};
use crate::auth::{self, AuthError};

/// The session cookie's name.
const COOKIE: &str = "switchyard_session";
/// Login forms are tiny; anything bigger is not one.
const FORM_LIMIT: usize = 8 * 1024;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/", get(|| async { see_other("/dashboard") }))
        .route("/dashboard/login", get(login_page).post(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard/assets/{*file}", get(assets::serve))
        .route_layer(middleware::from_fn(security_headers))
}

/// Headers every dashboard answer carries, errors included.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}

fn master(s: &AppState) -> Option<&str> {
    s.settings.master_key.as_ref().map(|k| k.expose())
}

fn now_secs() -> i64 {
    crate::types::now_ms() / 1000
}

/// The session token of the request's cookie, if it carries a valid one.
fn session<'a>(headers: &'a HeaderMap, key: &SessionKey) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .find(|token| key.verify(token, now_secs()))
}

/// The admin API's verdict on a request carrying a dashboard session instead of a bearer;
/// `None` when it carries no valid session (the bearer rules then apply). Reads pass;
/// writes need the session's CSRF token and a same-origin (or absent) `Origin`.
pub fn admin_by_session(
    method: &Method,
    headers: &HeaderMap,
    master: Option<&str>,
) -> Option<Result<(), AuthError>> {
    let key = SessionKey::derive(master?);
    let token = session(headers, &key)?;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Some(Ok(()));
    }
    if !same_origin(headers) {
        return Some(Err(AuthError::CrossSite(
            "a dashboard session's write must come from the dashboard's own origin",
        )));
    }
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !key.csrf_matches(token, csrf) {
        return Some(Err(AuthError::CrossSite(
            "a dashboard session's write needs its `x-csrf-token`",
        )));
    }
    Some(Ok(()))
}

/// False when the browser says the request comes from another site: an `Origin` whose host
/// is not this request's `Host`, or a cross-site `Sec-Fetch-Site`. Absent headers pass
/// (non-browser clients); the CSRF token is checked regardless.
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match origin_host {
        Some(h) => !host.is_empty() && h.eq_ignore_ascii_case(host),
        // `null` (sandboxed frames, some redirects) and anything else.
        None => false,
    }
}

/// Whether the client reached us over https (directly or through a proxy that says so).
fn over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto.unwrap_or(false) || forwarded
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn see_other(to: &'static str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /dashboard`: the page, with the session's CSRF token in a meta tag for its scripts.
async fn page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let Some(master) = master(&s) else {
        return see_other("/dashboard/login");
    };
    let key = SessionKey::derive(master);
    match session(&headers, &key) {
        Some(token) => html(
            StatusCode::OK,
            assets::INDEX_HTML.replace("{{csrf}}", &key.csrf(token)),
        ),
        None => see_other("/dashboard/login"),
    }
}

fn login_form(status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"error\" id=\"login-error\">{}</p>",
            escape(message)
        )
    };
    html(status, assets::LOGIN_HTML.replace("{{message}}", &message))
}

async fn login_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match master(&s) {
        Some(m) if session(&headers, &SessionKey::derive(m)).is_some() => see_other("/dashboard"),
        Some(_) => login_form(StatusCode::OK, ""),
        None => login_form(
            StatusCode::FORBIDDEN,
            "The admin API is disabled: set SWITCHYARD_MASTER_KEY to use the dashboard.",
        ),
    }
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k)? == name)
            .then(|| percent_decode(v))
            .flatten()
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `POST /dashboard/login` (form field `master_key`): a session cookie when it is the
/// master key, the form again with 401 when not.
async fn login(
    State(s): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(master) = master(&s) else {
        return login_page(State(s.clone()), headers).await;
    };
    if !same_origin(&headers) {
        return login_form(
            StatusCode::FORBIDDEN,
            "Log in from the dashboard's own page.",
        );
    }
    let Ok(body) = super::read_body(body, FORM_LIMIT).await else {
        return login_form(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let presented = form_field(&body, "master_key").unwrap_or_default();
    let peer = peer.map(|Extension(ConnectInfo(a))| a.ip());
    let checked = super::master::guarded(&s, peer, || {
        if auth::is_master(presented.trim(), master) {
            Ok(())
        } else {
            Err(AuthError::InvalidMaster)
        }
    });
    match checked {
        Ok(()) => {}
        Err(AuthError::Throttled(secs)) => {
            let mut resp = login_form(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many wrong master keys from this address: try again in {secs} s."),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Err(_) => return login_form(StatusCode::UNAUTHORIZED, "That is not the master key."),
    }
    let token = SessionKey::derive(master).issue(now_secs());
    let mut resp = see_other("/dashboard");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&token, SESSION_TTL_SECS, over_https(&headers)),
    );
    resp
}

/// `POST /dashboard/logout`: clears the cookie. Sessions are stateless, so a copied token
/// stays valid until it expires (or the master key changes).
async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return login_form(
            StatusCode::FORBIDDEN,
            "Log out from the dashboard's own page.",
        );
    }
    let mut resp = see_other("/dashboard/login");
    resp.headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, over_https(&headers)));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        assert!(same_origin(&headers(&[("host", "gw:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "gw:8080"),
            ("origin", "http://gw:8080")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "gw"),
            ("origin", "https://GW")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "gw:8080"),
            ("origin", "http://evil:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "gw"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "gw"),
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn sessions_authorize_reads_and_csrf_checked_writes() {
        let key = SessionKey::derive("m");
        let token = key.issue(now_secs());
        let c = format!("other=1; {COOKIE}={token}");
        let with = |extra: &[(&'static str, &str)]| {
            let mut h = headers(&[("cookie", &c), ("host", "gw")]);
            for (k, v) in extra {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        assert_eq!(
            admin_by_session(&Method::GET, &with(&[]), Some("m")),
            Some(Ok(()))
        );
        assert!(admin_by_session(&Method::GET, &with(&[]), Some("other")).is_none());
        assert!(admin_by_session(&Method::GET, &with(&[]), None).is_none());
        assert!(matches!(
            admin_by_session(&Method::POST, &with(&[]), Some("m")),
            Some(Err(AuthError::CrossSite(_)))
        ));
        let csrf = key.csrf(&token);
        assert_eq!(
            admin_by_session(&Method::POST, &with(&[("x-csrf-token", &csrf)]), Some("m")),
            Some(Ok(()))
        );
        assert!(matches!(
            admin_by_session(
                &Method::DELETE,
                &with(&[("x-csrf-token", &csrf), ("origin", "https://evil")]),
                Some("m")
            ),
            Some(Err(AuthError::CrossSite(_)))
        ));
    }

    #[test]
    fn forms_and_flags() {
        assert_eq!(
            form_field(b"a=1&master_key=x%2By+z", "master_key").as_deref(),
            Some("x+y z")
        );
        assert_eq!(form_field(b"master_key=%zz", "master_key"), None);
        assert_eq!(form_field(b"a=1", "master_key"), None);
        assert!(over_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(over_https(&headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https"
        )])));
        assert!(!over_https(&headers(&[("x-forwarded-proto", "http")])));
        let c = cookie("t", 5, true);
        let c = c.to_str().unwrap();
        for flag in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Secure",
            "Max-Age=5",
        ] {
            assert!(c.contains(flag), "{c}");
        }
        assert!(!cookie("t", 5, false).to_str().unwrap().contains("Secure"));
    }
}
