//! `POST /v1/chat/completions`: admission (auth → body → parse → plan → admit → record),
//! then execution → JSON or SSE.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Dialect};
use super::sse::{self, Presentation};
use super::{add_rate_headers, admit, cost, openrouter, AppState, RequestContext};
use crate::exec::stream::{self, Pacing};
use crate::exec::{self, ExecError, ExecRequest, Meter, Outcome};
use crate::routing::preset::Door;
use crate::routing::{self, Plan};
use crate::types::ChatRequest;

pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match admit_and_run(&state, &ctx, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

/// Admission (see `admit`), then execution; errors before the record exists are returned,
/// errors after it are recorded by `run`.
async fn admit_and_run(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = admit::authenticate(state, headers).await?;
    let bytes = admit::body(state, body).await?;
    let capture = admit::capture(state, &principal, &bytes, false);
    let (body, preset) = admit::parse(state, &bytes, Door::Chat)?;
    drop(bytes);
    let mut chat = ChatRequest::from_body(body).map_err(|e| admit::refused(state, e.into()))?;
    chat.check_bounds(state.settings.request_bounds)
        .map_err(|e| admit::refused(state, e.into()))?;
    let snap = state.registry.snapshot();
    let mut plan = routing::plan(&snap, &chat.route(), &state.settings.routing, &state.stats)
        .map_err(|e| admit::refused(state, e.into()))?;
    drop(snap);
    if plan.thinking && !chat.body.contains("reasoning") && !chat.body.contains("reasoning_effort")
    {
        // `:thinking`: reasoning on, unless the request already says how much.
        chat.body
            .insert("reasoning", &serde_json::json!({ "enabled": true }));
    }
    let (mut meter, rate) = admit::admit(state, ctx, headers, &principal, &mut plan, |p| {
        admit::estimate(p, chat.messages_len, chat.max_output_tokens)
    })
    .await?;
    meter.set_request(
        chat.model.clone().or_else(|| chat.models.first().cloned()),
        chat.stream,
        chat.messages_len,
    );
    meter.attribute(&chat.attribution);
    admit::note_preset(&mut meter, preset.as_ref());
    meter.capture(capture);
    let call = Call {
        stream: chat.stream,
        include_usage: chat.include_usage,
        shape: Shape::Chat,
        req: ExecRequest::chat(chat),
    };
    let mut resp = run(state, ctx, call, plan, meter).await;
    add_rate_headers(resp.headers_mut(), &rate);
    admit::add_preset_header(&mut resp, preset.as_ref());
    Ok(resp)
}

/// An admitted request for a door that answers in OpenAI's shapes (chat, legacy
/// completions, embeddings).
pub struct Call {
    pub req: ExecRequest,
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    pub shape: Shape,
}

/// What the answer is, for the dialects that shape each differently.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Chat,
    TextCompletion,
    Embeddings,
}

/// Executes an admitted request; the meter records and settles whatever happens.
pub async fn run(
    state: &AppState,
    ctx: &RequestContext,
    call: Call,
    plan: Plan,
    mut meter: Meter,
) -> Response {
    match execute(state, ctx, call, plan, &mut meter).await {
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
            meter.fail(e.status().as_u16(), e.body().message);
            e.into_response()
        }
    }
}

/// A response body and the parameters the serving provider left out.
enum Handled {
    Json(Vec<u8>, Vec<&'static str>),
    Stream(Body, Vec<&'static str>),
}

/// Names the serving provider in `x-switchyard-provider`: the Messages and Responses shapes
/// have no field for it (chat answers also carry it in the body).
pub fn add_provider(resp: &mut Response, provider: Option<&str>) {
    if let Some(v) = provider.and_then(|p| HeaderValue::from_str(p).ok()) {
        resp.headers_mut().insert("x-switchyard-provider", v);
    }
}

pub fn add_dropped(resp: &mut Response, dropped: &[&'static str]) {
    if dropped.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&dropped.join(",")) {
        resp.headers_mut().insert("x-switchyard-dropped-params", v);
    }
}

/// How the OpenAI dialect reports a failure before the commit point.
fn status_of(e: &ExecError) -> (u16, String) {
    let e = ApiError::Exec(e.clone());
    (e.status().as_u16(), e.body().message)
}

/// The pacing of this gateway's streams.
pub fn pacing(state: &AppState) -> Pacing {
    Pacing {
        keepalive_after: state.settings.routing.keepalive_after,
        keepalive_interval: state.settings.routing.keepalive_interval,
        cut: state.lifecycle.cut.clone(),
    }
}

async fn execute(
    state: &AppState,
    ctx: &RequestContext,
    call: Call,
    plan: Plan,
    meter: &mut Meter,
) -> Result<Handled, ApiError> {
    let openrouter = ctx.dialect == Dialect::OpenRouter;
    let presentation = Presentation {
        dialect: ctx.dialect,
        include_usage: call.include_usage || openrouter,
        request_id: ctx.id.clone(),
        requested: plan.requested.clone(),
        object: match call.shape {
            Shape::TextCompletion => "text_completion",
            _ => "chat.completion.chunk",
        },
    };
    let req = call.req;
    if !call.stream {
        let (completion, attempt) = exec::complete(&plan, &req, meter).await?;
        let mut body = completion.body;
        if openrouter && call.shape != Shape::Embeddings {
            let (billed, _) = meter.usage_or_estimate();
            openrouter::completion(&mut body, &attempt, &ctx.id, &billed);
        } else {
            if openrouter {
                body.insert("id", &ctx.id);
            }
            body.insert("model", &attempt.model);
            body.insert("provider", &attempt.provider);
            if let Some(u) = &completion.usage {
                cost::annotate(&mut body, u, &attempt.price);
            }
        }
        return Ok(Handled::Json(body.to_vec(), req.dropped_params(&attempt)));
    }
    match stream::open(plan, Arc::new(req), meter.take(), pacing(state), status_of).await {
        Ok(opened) => Ok(Handled::Stream(
            Body::from_stream(sse::body(opened.events, presentation)),
            opened.dropped,
        )),
        Err((m, e)) => {
            // Nothing was sent yet: the client gets a real HTTP error.
            *meter = m;
            Err(e.into())
        }
    }
}

pub fn sse_response(body: Body) -> Response {
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
