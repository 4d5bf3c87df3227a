//! `POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic's Messages API as a front
//! door. `request` parses it and translates it to the canonical chat request; `render` turns
//! canonical completions, chunks and errors into Anthropic's shapes. Adapters that speak
//! Messages natively (Anthropic) get the client's body with only `model` replaced, and their
//! answer is forwarded as it came.

pub mod render;
pub mod request;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::chat::{add_dropped, add_provider, pacing, sse_response};
use super::error::{ApiError, Dialect};
use super::{add_rate_headers, admit, rendered, AppState, RequestContext};
use crate::exec::stream;
use crate::exec::{self, ExecError, ExecRequest, Meter, Outcome};
use crate::providers::{NativeBody, NativeRequest, Protocol};
use crate::routing::preset::{Applied, Door};
use crate::routing::{self, Plan, RouteRequest};
use crate::types::chat::check_model_bounds;
use crate::types::registry::ModelKind;
use crate::types::{InvalidRequest, RawObject};
use render::StreamRenderer;
use request::MessagesRequest;

/// Client headers a native upstream must see.
const FORWARDED: &[&str] = &["anthropic-beta", "anthropic-version"];

pub async fn messages(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match admit_and_run(&state, &ctx, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.respond(Dialect::Anthropic),
    }
}

pub async fn count_tokens(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match count(&state, &ctx, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.respond(Dialect::Anthropic),
    }
}

/// A parsed request, planned: what both endpoints share.
struct Planned {
    msg: MessagesRequest,
    exec: ExecRequest,
    /// Parameters the translation left out (for providers that do not speak Messages).
    translation_dropped: Vec<&'static str>,
    plan: Plan,
    preset: Option<Applied>,
    /// The request's content, when capture is on for it.
    capture: Option<crate::exec::capture::Capture>,
}

async fn parse_and_plan(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    capture_for: Option<&crate::auth::Principal>,
) -> Result<Planned, ApiError> {
    let bytes = admit::body(state, body).await?;
    let capture = capture_for.and_then(|p| admit::capture(state, p, &bytes, false));
    let (body, preset) = admit::parse(state, &bytes, Door::Messages)?;
    drop(bytes);
    let msg = MessagesRequest::from_body(body).map_err(|e| admit::refused(state, e.into()))?;
    check_model_bounds(
        msg.model.as_deref(),
        &msg.models,
        state.settings.request_bounds,
    )
    .map_err(|e| admit::refused(state, e.into()))?;
    let (chat, translation_dropped) = match msg.to_chat() {
        Ok((chat, dropped)) => (Ok(chat), dropped),
        // Only a native upstream can serve it; the others fail with this reason.
        Err(e) => (Err(e), Vec::new()),
    };
    let route = RouteRequest {
        model: msg.model.as_deref(),
        models: &msg.models,
        provider: &msg.provider,
        used_parameters: match &chat {
            Ok(c) => c.used_parameters().collect(),
            Err(_) => Vec::new(),
        },
        kind: ModelKind::Chat,
    };
    let snap = state.registry.snapshot();
    let plan = routing::plan(&snap, &route, &state.settings.routing, &state.stats)
        .map_err(|e| admit::refused(state, e.into()))?;
    drop(snap);
    plan.without_thinking("thinking")
        .map_err(|e| admit::refused(state, e.into()))?;
    let native = NativeBody {
        protocol: Protocol::AnthropicMessages,
        body: msg.body.clone(),
        headers: forwarded_headers(headers),
        stream: msg.stream,
    };
    Ok(Planned {
        exec: ExecRequest {
            chat,
            native: Some(native),
        },
        msg,
        translation_dropped,
        plan,
        preset,
        capture,
    })
}

fn forwarded_headers(headers: &HeaderMap) -> Vec<(&'static str, String)> {
    FORWARDED
        .iter()
        .filter_map(|name| {
            let v = headers.get(*name)?.to_str().ok()?.trim();
            (!v.is_empty()).then(|| (*name, v.to_owned()))
        })
        .collect()
}

async fn admit_and_run(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = admit::authenticate(state, headers).await?;
    let mut p = parse_and_plan(state, headers, body, Some(&principal)).await?;
    if p.msg.max_tokens.is_none() {
        return Err(admit::refused(
            state,
            InvalidRequest::new(
                "`max_tokens` is required",
                Some("max_tokens"),
                "missing_required_parameter",
            )
            .into(),
        ));
    }
    let (prompt_bytes, max_tokens) = (p.msg.prompt_bytes, p.msg.max_tokens);
    let (mut meter, rate) = admit::admit(state, ctx, headers, &principal, &mut p.plan, |plan| {
        admit::estimate(plan, prompt_bytes, max_tokens)
    })
    .await?;
    meter.set_request(
        p.msg
            .model
            .clone()
            .or_else(|| p.msg.models.first().cloned()),
        p.msg.stream,
        prompt_bytes,
    );
    meter.attribute(&p.msg.attribution);
    admit::note_preset(&mut meter, p.preset.as_ref());
    meter.capture(p.capture.take());
    let preset = p.preset.take();
    let mut resp = match run(state, ctx, p, &mut meter).await {
        Ok(resp) => resp,
        Err(e) => {
            meter.fail(e.status().as_u16(), e.to_string());
            e.respond(Dialect::Anthropic)
        }
    };
    add_rate_headers(resp.headers_mut(), &rate);
    admit::add_preset_header(&mut resp, preset.as_ref());
    Ok(resp)
}

/// How this door reports a failure before the commit point.
fn status_of(e: &ExecError) -> (u16, String) {
    let e = ApiError::Exec(e.clone());
    (e.status().as_u16(), e.to_string())
}

async fn run(
    state: &AppState,
    ctx: &RequestContext,
    p: Planned,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let id = format!("msg_{}", ctx.id);
    let Planned {
        msg,
        exec: req,
        translation_dropped,
        plan,
        preset: _,
        capture: _,
    } = p;
    if !msg.stream {
        let (completion, attempt) = exec::complete(&plan, &req, meter).await?;
        let body = match completion.native {
            Some(native) => native.to_vec(),
            None => render::message(&completion.body, &id, &attempt.model)
                .map_err(|e| ApiError::Internal(format!("could not render the message: {e}")))?,
        };
        let dropped = dropped(&req, &attempt, translation_dropped);
        meter.take().finish(Outcome::Success, 200, None);
        let mut resp = (StatusCode::OK, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        add_dropped(&mut resp, &dropped);
        add_provider(&mut resp, Some(&attempt.provider));
        return Ok(resp);
    }
    let input_tokens = msg.estimate_input_tokens();
    let req = Arc::new(req);
    match stream::open(plan, req.clone(), meter.take(), pacing(state), status_of).await {
        Ok(opened) => {
            // Unknown (keep-alives went out first) or passed through: nothing to name.
            let dropped = if opened.native || opened.provider.is_none() {
                Vec::new()
            } else {
                let mut d = translation_dropped;
                d.extend(opened.dropped);
                d.sort_unstable();
                d.dedup();
                d
            };
            let mut resp = sse_response(Body::from_stream(rendered::body(
                opened.events,
                move |a| StreamRenderer::new(&id, &a.model, input_tokens),
                render::error_event,
            )));
            add_dropped(&mut resp, &dropped);
            add_provider(&mut resp, opened.provider.as_deref());
            Ok(resp)
        }
        Err((m, e)) => {
            *meter = m;
            Err(e.into())
        }
    }
}

/// What the serving attempt left out: nothing when it spoke Messages natively.
fn dropped(
    req: &ExecRequest,
    attempt: &routing::Attempt,
    mut translation: Vec<&'static str>,
) -> Vec<&'static str> {
    if attempt
        .adapter
        .speaks(Protocol::AnthropicMessages, &attempt.upstream_model)
    {
        return Vec::new();
    }
    translation.extend(req.dropped_params(attempt));
    translation.sort_unstable();
    translation.dedup();
    translation
}

/// `count_tokens`: Anthropic's own count where the first endpoint speaks Messages, else an
/// estimate (documented as such).
async fn count(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _ = ctx;
    admit::authenticate(state, headers).await?;
    let p = parse_and_plan(state, headers, body, None).await?;
    let mut answer: Option<RawObject> = None;
    if let (Some(attempt), Some(native)) = (p.plan.attempts.first(), &p.exec.native) {
        if attempt
            .adapter
            .speaks(Protocol::AnthropicMessages, &attempt.upstream_model)
        {
            let req = NativeRequest {
                body: native,
                upstream_model: &attempt.upstream_model,
                trace: None,
            };
            match tokio::time::timeout(attempt.request_timeout, attempt.adapter.count_tokens(req))
                .await
            {
                Ok(Ok(a)) => answer = a,
                Ok(Err(e)) => {
                    tracing::warn!(provider = %attempt.provider, error = %e, "count_tokens failed upstream; estimating");
                }
                Err(_) => {
                    tracing::warn!(provider = %attempt.provider, "count_tokens timed out upstream; estimating");
                }
            }
        }
    }
    let (body, estimated) = match answer {
        Some(a) => (a.to_vec(), false),
        None => (
            format!("{{\"input_tokens\":{}}}", p.msg.estimate_input_tokens()).into_bytes(),
            true,
        ),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if estimated {
        h.insert("x-switchyard-estimated", HeaderValue::from_static("true"));
    }
    admit::add_preset_header(&mut resp, p.preset.as_ref());
    Ok(resp)
}

impl rendered::Render for StreamRenderer {
    fn start(&mut self, out: &mut Vec<u8>) {
        StreamRenderer::start(self, out);
    }
    fn chunk(&mut self, chunk: &RawObject, out: &mut Vec<u8>) {
        StreamRenderer::chunk(self, chunk, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        StreamRenderer::finish(self, out);
    }
    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        StreamRenderer::error(self, status, message, out);
    }
}
