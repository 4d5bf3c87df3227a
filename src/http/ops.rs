//! `POST /v1/embeddings` and `POST /v1/completions` (legacy text completions): OpenAI's
//! operations without a chat form. They are planned, admitted, metered and answered like
//! chat; only providers that serve the operation natively can serve them (OpenAI-compatible
//! and Azure for both, Gemini for embeddings); the others fail over with the reason.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::chat::{run, Call, Shape};
use super::error::ApiError;
use super::{add_rate_headers, admit, AppState, RequestContext};
use crate::exec::ExecRequest;
use crate::providers::{NativeBody, Protocol};
use crate::routing::preset::Door;
use crate::routing::{self, RouteRequest};
use crate::types::chat::check_model_bounds;
use crate::types::ops::OpRequest;
use crate::types::registry::ModelKind;
use crate::types::InvalidRequest;

pub async fn embeddings(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&state, &ctx, &headers, body, Op::Embeddings)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn completions(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&state, &ctx, &headers, body, Op::Completions)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Clone, Copy)]
enum Op {
    Embeddings,
    Completions,
}

async fn serve(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
    op: Op,
) -> Result<Response, ApiError> {
    let principal = admit::authenticate(state, headers).await?;
    let bytes = admit::body(state, body).await?;
    let door = match op {
        Op::Embeddings => Door::Embeddings,
        Op::Completions => Door::Completions,
    };
    // Embeddings keep the input only (the answer is vectors).
    let capture = admit::capture(state, &principal, &bytes, matches!(op, Op::Embeddings));
    let (body, preset) = admit::parse(state, &bytes, door)?;
    let parsed = match op {
        Op::Embeddings => OpRequest::embeddings_from(body),
        Op::Completions => OpRequest::completions_from(body),
    };
    let r = parsed.map_err(|e| admit::refused(state, e.into()))?;
    drop(bytes);
    check_model_bounds(r.model.as_deref(), &r.models, state.settings.request_bounds)
        .map_err(|e| admit::refused(state, e.into()))?;
    let (kind, protocol, why) = match op {
        Op::Embeddings => (
            ModelKind::Embedding,
            Protocol::OpenAiEmbeddings,
            "this provider does not serve embeddings (OpenAI-compatible, Azure and Gemini providers do)",
        ),
        Op::Completions => (
            ModelKind::Chat,
            Protocol::OpenAiCompletions,
            "this provider does not serve legacy text completions (OpenAI-compatible and Azure providers do); use /v1/chat/completions",
        ),
    };
    let route = RouteRequest {
        model: r.model.as_deref(),
        models: &r.models,
        provider: &r.provider,
        used_parameters: Vec::new(),
        kind,
    };
    let snap = state.registry.snapshot();
    let mut plan = routing::plan(&snap, &route, &state.settings.routing, &state.stats)
        .map_err(|e| admit::refused(state, e.into()))?;
    drop(snap);
    plan.without_thinking("reasoning")
        .map_err(|e| admit::refused(state, e.into()))?;
    // Embeddings generate nothing: only the input is reserved.
    let max_output = match op {
        Op::Embeddings => Some(0),
        Op::Completions => r.max_output_tokens,
    };
    let (mut meter, rate) = admit::admit(state, ctx, headers, &principal, &mut plan, |p| {
        admit::estimate(p, r.input_bytes, max_output)
    })
    .await?;
    meter.set_request(
        r.model.clone().or_else(|| r.models.first().cloned()),
        r.stream,
        r.input_bytes,
    );
    meter.attribute(&r.attribution);
    admit::note_preset(&mut meter, preset.as_ref());
    meter.capture(capture);
    let call = Call {
        stream: r.stream,
        include_usage: r.include_usage,
        shape: match op {
            Op::Embeddings => Shape::Embeddings,
            Op::Completions => Shape::TextCompletion,
        },
        req: ExecRequest {
            chat: Err(InvalidRequest::new(why, None, "unsupported_operation")),
            native: Some(NativeBody {
                protocol,
                body: r.body,
                headers: Vec::new(),
                stream: r.stream,
            }),
        },
    };
    let mut resp = run(state, ctx, call, plan, meter).await;
    add_rate_headers(resp.headers_mut(), &rate);
    admit::add_preset_header(&mut resp, preset.as_ref());
    Ok(resp)
}
