//! `POST /v1/responses`: OpenAI's Responses API as a front door, stateless as OpenRouter's.
//! `request` parses it and translates it to the canonical chat request; `render` turns
//! canonical completions and chunks into Responses objects and events. Providers that
//! declare `responses_api = true` get the client's body with only `model` replaced, and their
//! answer is forwarded as it came. Errors are OpenAI's shape, as on every `/v1` door.

pub mod render;
pub mod request;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::chat::{add_dropped, add_provider, pacing, sse_response};
use super::error::ApiError;
use super::{add_rate_headers, admit, rendered, AppState, RequestContext};
use crate::exec::stream;
use crate::exec::{self, ExecError, ExecRequest, Meter, Outcome};
use crate::providers::{NativeBody, Protocol};
use crate::routing::preset;
use crate::routing::{self, Attempt, RouteRequest};
use crate::types::chat::check_model_bounds;
use crate::types::registry::ModelKind;
use crate::types::{now_ms, RawObject};
use render::{Echo, StreamRenderer};
use request::ResponsesRequest;

/// Request fields a Responses object echoes back.
const ECHOED: &[&str] = &[
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "reasoning",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
];

pub async fn responses(
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

async fn admit_and_run(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = admit::authenticate(state, headers).await?;
    let bytes = admit::body(state, body).await?;
    let capture = admit::capture(state, &principal, &bytes, false);
    let (body, applied) = admit::parse(state, &bytes, preset::Door::Responses)?;
    drop(bytes);
    let r = ResponsesRequest::from_body(body).map_err(|e| admit::refused(state, e.into()))?;
    check_model_bounds(r.model.as_deref(), &r.models, state.settings.request_bounds)
        .map_err(|e| admit::refused(state, e.into()))?;
    let (chat, translation_dropped) = match r.to_chat() {
        Ok((chat, dropped)) => (Ok(chat), dropped),
        // Only a provider that speaks Responses can serve it; the others fail with this.
        Err(e) => (Err(e), Vec::new()),
    };
    let route = RouteRequest {
        model: r.model.as_deref(),
        models: &r.models,
        provider: &r.provider,
        used_parameters: match &chat {
            Ok(c) => c.used_parameters().collect(),
            Err(_) => Vec::new(),
        },
        kind: ModelKind::Chat,
    };
    let snap = state.registry.snapshot();
    let mut plan = routing::plan(&snap, &route, &state.settings.routing, &state.stats)
        .map_err(|e| admit::refused(state, e.into()))?;
    drop(snap);
    plan.without_thinking("reasoning")
        .map_err(|e| admit::refused(state, e.into()))?;
    let (prompt_bytes, max_output) = (r.prompt_bytes, r.max_output_tokens);
    let (mut meter, rate) = admit::admit(state, ctx, headers, &principal, &mut plan, |p| {
        admit::estimate(p, prompt_bytes, max_output)
    })
    .await?;
    meter.set_request(
        r.model.clone().or_else(|| r.models.first().cloned()),
        r.stream,
        prompt_bytes,
    );
    meter.attribute(&r.attribution);
    admit::note_preset(&mut meter, applied.as_ref());
    meter.capture(capture);
    let mut echoed = RawObject::new();
    for key in ECHOED {
        if let Some(v) = r.body.get(key) {
            let v = match *key {
                "tools" => complete_tools(v),
                _ => v.to_raw_value(),
            };
            echoed.insert_raw(key, v);
        }
    }
    let stream = r.stream;
    let req = ExecRequest {
        chat,
        native: Some(NativeBody {
            protocol: Protocol::OpenAiResponses,
            body: r.body,
            headers: Vec::new(),
            stream,
        }),
    };
    let door = Door {
        id: format!(
            "resp_{}",
            ctx.id.trim_start_matches("gen-").replace('-', "")
        ),
        created_at: now_ms() / 1000,
        echoed,
        translation_dropped,
    };
    let mut resp = match run(state, door, req, stream, plan, &mut meter).await {
        Ok(resp) => resp,
        Err(e) => {
            meter.fail(e.status().as_u16(), e.body().message);
            e.into_response()
        }
    };
    add_rate_headers(resp.headers_mut(), &rate);
    admit::add_preset_header(&mut resp, applied.as_ref());
    Ok(resp)
}

/// What this door knows of the response it is building.
struct Door {
    id: String,
    created_at: i64,
    /// The request's fields a response object echoes.
    echoed: RawObject,
    translation_dropped: Vec<&'static str>,
}

impl Door {
    fn echo(&self, attempt_model: &str) -> Echo {
        Echo {
            model: attempt_model.to_owned(),
            fields: self.echoed.clone(),
        }
    }

    fn dropped(&self, req: &ExecRequest, attempt: &Attempt) -> Vec<&'static str> {
        if attempt
            .adapter
            .speaks(Protocol::OpenAiResponses, &attempt.upstream_model)
        {
            return Vec::new();
        }
        let mut d = self.translation_dropped.clone();
        d.extend(req.dropped_params(attempt));
        d.sort_unstable();
        d.dedup();
        d
    }
}

fn status_of(e: &ExecError) -> (u16, String) {
    let e = ApiError::Exec(e.clone());
    (e.status().as_u16(), e.body().message)
}

async fn run(
    state: &AppState,
    door: Door,
    req: ExecRequest,
    streamed: bool,
    plan: routing::Plan,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    if !streamed {
        let (completion, attempt) = exec::complete(&plan, &req, meter).await?;
        let body = match completion.native {
            Some(native) => native.to_vec(),
            None => render::response(
                &completion.body,
                &door.id,
                door.created_at,
                &door.echo(&attempt.model),
            )
            .map_err(|e| ApiError::Internal(format!("could not render the response: {e}")))?,
        };
        let dropped = door.dropped(&req, &attempt);
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
    let req = Arc::new(req);
    match stream::open(plan, req.clone(), meter.take(), pacing(state), status_of).await {
        Ok(opened) => {
            let dropped = if opened.native || opened.provider.is_none() {
                Vec::new()
            } else {
                let mut d = door.translation_dropped.clone();
                d.extend(opened.dropped);
                d.sort_unstable();
                d.dedup();
                d
            };
            let body = rendered::body(
                opened.events,
                move |a| StreamRenderer::new(&door.id, door.created_at, door.echo(&a.model)),
                render::error_event,
            );
            let mut resp = sse_response(Body::from_stream(body));
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

/// The request's tools as a Response object shows them: a function tool's `strict` and
/// `parameters` are required members there (both vendors' schemas), `null` when the
/// request left them out.
fn complete_tools(raw: crate::types::RawRef<'_>) -> Box<serde_json::value::RawValue> {
    let Ok(mut tools) = serde_json::from_str::<Vec<serde_json::Value>>(raw.get()) else {
        return raw.to_raw_value();
    };
    for tool in tools
        .iter_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        if tool.get("type").and_then(serde_json::Value::as_str) == Some("function") {
            for member in ["strict", "parameters"] {
                tool.entry(member).or_insert(serde_json::Value::Null);
            }
        }
    }
    serde_json::value::to_raw_value(&tools).unwrap_or_else(|_| raw.to_raw_value())
}
