//! The dashboard: login, cookie flags, CSRF-checked writes through the admin API, assets and
//! their headers over plain HTTP; and the pages themselves in headless Chromium (WebDriver):
//! log in, create a key and read its secret, see a request in the log and its detail, and
//! the overview's plots. Screenshots go to target/screenshots/, or to docs/screenshots/ (the
//! README's) with SWITCHYARD_UPDATE_SCREENSHOTS=1.

use std::path::PathBuf;

use futures::FutureExt;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::helpers::*;
use crate::webdriver::Browser;

fn reg(fake: &Fake) -> String {
    provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, key: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = client()
        .post(app.url("/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("master_key={key}"));
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap()
}

/// `name=value` of the session cookie a login set.
fn session_cookie(headers: &HeaderMap) -> String {
    let set = headers[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Logs in; returns the cookie and the page's CSRF token.
async fn session(app: &TestApp) -> (String, String) {
    let resp = login(app, MASTER, &[]).await;
    assert_eq!(resp.status(), 303);
    let cookie = session_cookie(resp.headers());
    let page = client()
        .get(app.url("/dashboard"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 64, "{csrf}");
    (cookie, csrf)
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_refuses_a_wrong_key() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(&reg(&fake)).await;

    let resp = login(&app, "not-the-master-key", &[]).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get(SET_COOKIE).is_none(), "no cookie");
    assert!(resp.text().await.unwrap().contains("not the master key"));

    let resp = login(&app, MASTER, &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/dashboard");
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    assert!(!set.contains(MASTER), "the cookie is not the master key");

    let resp = login(&app, MASTER, &[("x-forwarded-proto", "https")]).await;
    assert!(resp.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    // A login form posted from another site is refused.
    let resp = login(&app, MASTER, &[("origin", "https://evil.example")]).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn pages_need_a_session_and_carry_strict_headers() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(&reg(&fake)).await;

    for path in ["/dashboard", "/dashboard/"] {
        let resp = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
    }
    let resp = client().get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(resp.headers()[LOCATION], "/dashboard/login");
    let forged = client()
        .get(app.url("/dashboard"))
        .header(COOKIE, "switchyard_session=v1.99999999999.00.00")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303, "a forged session is no session");

    let (cookie, _) = session(&app).await;
    let resp = client()
        .get(app.url("/dashboard"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" onclick=") && !html.contains(" onload="),
        "no inline script"
    );

    // Assets: right types, cache headers, the same CSP; the library is versioned and immutable.
    let js = client()
        .get(app.url("/dashboard/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(js.headers()["cache-control"], "no-cache");
    assert!(js.headers().contains_key("content-security-policy"));
    let etag = js.headers()["etag"].clone();
    let again = client()
        .get(app.url("/dashboard/assets/app.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let lib = client()
        .get(app.url("/dashboard/assets/vendor/uPlot-1.6.32.iife.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(lib.status(), 200);
    assert!(lib.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let css = client()
        .get(app.url("/dashboard/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    for missing in [
        "/dashboard/assets/nope.js",
        "/dashboard/assets/../mod.rs",
        "/v1/dashboard",
        "/api/v1/dashboard",
    ] {
        let r = client().get(app.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }

    // Logging out clears the cookie.
    let resp = client()
        .post(app.url("/dashboard/logout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(resp.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[tokio::test]
async fn the_admin_api_takes_the_session_but_writes_need_csrf_and_the_same_origin() {
    let fake = Fake::start(vec![]).await;
    let app = TestApp::spawn(&reg(&fake)).await;
    let (cookie, csrf) = session(&app).await;
    let host = app.addr.to_string();
    let http = client();

    let read = http
        .get(app.url("/admin/keys"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads need only the session");

    let create = |headers: Vec<(&'static str, String)>| {
        let mut rb = http
            .post(app.url("/admin/keys"))
            .header(COOKIE, &cookie)
            .json(&json!({"name": "from-dashboard"}));
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    let resp = create(vec![]).await.unwrap();
    assert_eq!(resp.status(), 403, "no CSRF token");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_rejected");
    let resp = create(vec![("x-csrf-token", "0".repeat(64))])
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a wrong CSRF token");
    let resp = create(vec![
        ("x-csrf-token", csrf.clone()),
        ("origin", "http://evil.example".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 403, "a foreign origin");
    let resp = create(vec![
        ("x-csrf-token", csrf.clone()),
        ("sec-fetch-site", "cross-site".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 403, "a cross-site fetch");
    let resp = create(vec![
        ("x-csrf-token", csrf.clone()),
        ("origin", format!("http://{host}")),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 201, "same origin with the token");

    // Another session's token is not this session's.
    let (_, other_csrf) = session(&app).await;
    let resp = create(vec![("x-csrf-token", other_csrf)]).await.unwrap();
    assert_eq!(resp.status(), 403);

    // Without the cookie the token means nothing; the bearer still works alone.
    let resp = http
        .post(app.url("/admin/keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .admin(
            reqwest::Method::POST,
            "/admin/keys",
            Some(json!({"name": "bearer"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
}

fn screenshot_path(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var("SWITCHYARD_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        root.join("docs/screenshots").join(name)
    } else {
        root.join("target/screenshots").join(name)
    }
}

#[tokio::test]
async fn the_dashboard_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The browser is quit whatever happens in the story, then its failure (if any) re-raised.
    let outcome = std::panic::AssertUnwindSafe(browser_story(&browser))
        .catch_unwind()
        .await;
    browser.quit().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn browser_story(b: &Browser) {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &reg(&fake),
        Opts {
            require_keys: true,
            ..Default::default()
        },
    )
    .await;

    // Without a session the dashboard sends us to the login form; a wrong key is refused.
    b.goto(&app.url("/dashboard")).await;
    b.find("#login-form").await;
    b.type_into("#master-key", "wrong-key").await;
    b.click("#login-submit").await;
    let msg = b.text("#login-error").await;
    assert!(msg.contains("not the master key"), "{msg}");
    assert!(
        b.script("return document.cookie").await == json!(""),
        "no cookie, and an HttpOnly one would be invisible anyway"
    );
    b.screenshot(&screenshot_path("login.png")).await;

    b.type_into("#master-key", MASTER).await;
    b.click("#login-submit").await;
    b.find("main[data-view=overview]").await;
    assert!(b.url().await.ends_with("/dashboard"));

    // Keys: create one through the form and read the once-shown secret.
    b.click("#nav-keys").await;
    b.type_into("#create-key-name", "browser").await;
    b.click("#create-key-submit").await;
    let secret = b
        .wait_text("#new-key-secret", |t| t.starts_with("sy-"))
        .await;
    b.screenshot(&screenshot_path("key-created.png")).await;

    // A request with that key, from the test.
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&json!({"model": "test/m", "messages": user("hello")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    app.record(&id).await;

    // Its budget is set through the edit form.
    b.click("#created-done").await;
    b.click("#keys-table tr[data-key-id] button.edit").await;
    b.type_into("#edit-key input[name=budget_usd]", "5").await;
    b.click("#edit-key-submit").await;
    b.wait_text("#keys-table tbody", |t| t.contains("$5.0000"))
        .await;
    b.screenshot(&screenshot_path("keys.png")).await;

    // It is in the request log; its detail shows the attempt.
    b.click("#nav-requests").await;
    b.wait_text("#requests-table tbody", |t| t.contains(&id))
        .await;
    b.screenshot(&screenshot_path("requests.png")).await;
    b.click("a.request-link").await;
    assert_eq!(b.text("#detail-id").await, id);
    let attempts = b.text("#attempts-table tbody").await;
    assert!(
        attempts.contains("fake") && attempts.contains("up"),
        "{attempts}"
    );
    let detail = b.text("#request-detail").await;
    assert!(
        detail.contains("success") && detail.contains("test/m"),
        "{detail}"
    );
    b.screenshot(&screenshot_path("request-detail.png")).await;

    b.click("#nav-providers").await;
    let endpoints = b.text("#endpoints-table tbody").await;
    assert!(endpoints.contains("test/m"), "{endpoints}");
    b.screenshot(&screenshot_path("providers.png")).await;

    // The overview: the totals and the plots when the server has usage figures, a plain
    // "no data" when it has none.
    let usage = app.admin(reqwest::Method::GET, "/admin/usage", None).await;
    b.click("#nav-overview").await;
    if usage.status() == 404 {
        b.find("#no-data").await;
    } else {
        // Figures may trail the request log a little: reload until the request counts.
        let started = std::time::Instant::now();
        loop {
            b.find("main[data-view=overview] .toolbar").await;
            let shown = b
                .script(
                    "const t = document.getElementById('total-requests'); return t ? t.textContent : null",
                )
                .await;
            if shown == json!("1") {
                break;
            }
            assert!(
                started.elapsed() < crate::webdriver::DEADLINE,
                "the overview shows {shown} requests"
            );
            b.script("location.reload()").await;
        }
        b.wait_until(
            "the overview's plots are drawn",
            "return document.querySelectorAll('#charts .uplot canvas').length >= 6",
        )
        .await;
    }
    b.screenshot(&screenshot_path("overview.png")).await;

    b.click("#nav-breakdown").await;
    if usage.status() == 404 {
        b.find("#no-data").await;
    } else {
        b.wait_text("#breakdown-table tbody", |t| t.contains("test/m"))
            .await;
        // The table is per-group totals (bucket=total), the charts the top groups over time.
        b.wait_until(
            "the breakdown's plots are drawn",
            "return document.querySelectorAll('#charts .uplot canvas').length >= 4",
        )
        .await;
    }
    b.screenshot(&screenshot_path("breakdown.png")).await;

    // Revoking the key (two clicks) refuses it from then on.
    b.click("#nav-keys").await;
    b.click("#keys-table tr[data-key-id] button.revoke").await;
    b.wait_text("#keys-table tr[data-key-id] button.revoke", |t| {
        t.contains("Confirm")
    })
    .await;
    b.click("#keys-table tr[data-key-id] button.revoke").await;
    b.wait_text("#keys-table tbody", |t| t.contains("revoked"))
        .await;
    let resp = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&json!({"model": "test/m", "messages": user("again")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a revoked key");

    // Logging out ends the page's access.
    b.click("#logout").await;
    b.find("#login-form").await;
    b.goto(&app.url("/dashboard")).await;
    b.find("#login-form").await;
}
