//! `POST /v1/chat/completions`: auth → parse → plan → execute → JSON or SSE.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::sse::{self, Presentation};
use super::{read_body, AppState, RequestContext};
use crate::auth;
use crate::exec::{self, Meter, Outcome, RequestInfo};
use crate::providers::AttemptRequest;
use crate::routing;
use crate::types::ChatRequest;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut meter = Meter::new(
        state.recorder.slot().await,
        RequestInfo {
            id: ctx.id.clone(),
            app_referer: header_text(&headers, "http-referer")
                .or_else(|| header_text(&headers, "referer")),
            app_title: header_text(&headers, "x-openrouter-title")
                .or_else(|| header_text(&headers, "x-title")),
        },
        ctx.started,
    );
    match handle(&state, &ctx, &headers, body, &mut meter).await {
        Ok(Handled::Json(bytes, dropped)) => {
            meter.finish(Outcome::Success, 200, None);
            let mut resp = (StatusCode::OK, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            add_dropped(&mut resp, &dropped);
            resp
        }
        Ok(Handled::Stream(body, dropped)) => {
            // `meter` was moved into the stream; this one is a spent placeholder.
            meter.disarm();
            let mut resp = sse_response(body);
            add_dropped(&mut resp, &dropped);
            resp
        }
        Err(e) => {
            let status = e.status().as_u16();
            let outcome = if status == 504 {
                Outcome::Timeout
            } else {
                Outcome::Error
            };
            meter.finish(outcome, status, Some(e.body().message));
            e.into_response()
        }
    }
}

/// A response body and the parameters the serving provider left out.
enum Handled {
    Json(Vec<u8>, Vec<&'static str>),
    Stream(Body, Vec<&'static str>),
}

fn add_dropped(resp: &mut Response, dropped: &[&'static str]) {
    if dropped.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&dropped.join(",")) {
        resp.headers_mut().insert("x-switchyard-dropped-params", v);
    }
}

async fn handle(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    meter: &mut Meter,
) -> Result<Handled, ApiError> {
    let snap = state.registry.snapshot();
    let principal = auth::authenticate(headers, &snap, state.settings.require_keys)?;
    meter.set_key(principal.key_id.clone());
    let bytes = read_body(body, state.settings.body_limit_bytes).await?;
    let chat = ChatRequest::parse(&bytes)?;
    drop(bytes);
    meter.set_request(
        chat.model.clone().or_else(|| chat.models.first().cloned()),
        chat.stream,
        chat.messages_len,
    );
    let plan = routing::plan(&snap, &chat, &state.settings.routing)?;
    drop(snap);

    if !chat.stream {
        let (completion, attempt) = exec::complete(&plan, &chat, meter).await?;
        meter.served(&attempt, completion.upstream_id.clone());
        meter.observe_usage(completion.usage.as_ref());
        let mut body = completion.body;
        body.insert("model", &attempt.model);
        body.insert("provider", &attempt.provider);
        let dropped = attempt.adapter.dropped_params(AttemptRequest {
            chat: &chat,
            upstream_model: &attempt.upstream_model,
        });
        return Ok(Handled::Json(body.to_vec(), dropped));
    }

    let presentation = Presentation {
        include_usage: chat.include_usage,
        idle_timeout: state.settings.routing.stream_idle_timeout,
        request_id: ctx.id.clone(),
    };
    let requested = plan.requested.clone();
    let owned_meter = meter.take();
    let chat = Arc::new(chat);
    let mut pending = sse::start(Arc::new(plan), chat.clone(), owned_meter);
    let keepalive_after = state.settings.routing.keepalive_after;
    match tokio::time::timeout(keepalive_after, &mut pending).await {
        Ok((m, Ok(committed))) => {
            let dropped = committed.attempt.adapter.dropped_params(AttemptRequest {
                chat: &chat,
                upstream_model: &committed.attempt.upstream_model,
            });
            let body = sse::committed_body(committed, m, presentation);
            Ok(Handled::Stream(Body::from_stream(body), dropped))
        }
        Ok((m, Err(e))) => {
            // Nothing was sent yet: the client gets a real HTTP error.
            *meter = m;
            Err(e.into())
        }
        // Slow first token: commit to 200 and keep the connection alive while waiting.
        // (Headers go out now, before any provider is chosen: no dropped-params header.)
        Err(_) => Ok(Handled::Stream(
            Body::from_stream(sse::keepalive_body(
                pending,
                state.settings.routing.keepalive_interval,
                requested,
                presentation,
            )),
            Vec::new(),
        )),
    }
}

fn sse_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell nginx-style proxies not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().chars().take(512).collect::<String>())
        .filter(|s| !s.is_empty())
}
