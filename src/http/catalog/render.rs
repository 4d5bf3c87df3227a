//! Registry models, endpoints and providers in OpenRouter's catalog shapes.

use std::collections::BTreeMap;

use super::price;
use crate::registry::{Model, ProviderEntry, Snapshot};
use crate::routing::window::Windows;
use crate::types::catalog as wire;
use crate::types::registry::{EndpointDecl, ModelKind};

/// An endpoint that can serve now: enabled, and its provider active.
pub struct Live<'a> {
    pub decl: &'a EndpointDecl,
    pub provider: &'a ProviderEntry,
}

/// The model's endpoints that can serve now, in registry order.
pub fn live<'a>(snap: &'a Snapshot, m: &'a Model) -> Vec<Live<'a>> {
    m.decl
        .endpoints
        .iter()
        .filter(|e| e.enabled)
        .filter_map(|e| {
            let p = snap.providers.get(&e.provider)?;
            p.adapter.is_some().then_some(Live {
                decl: e,
                provider: p,
            })
        })
        .collect()
}

/// The endpoint whose prices the model's entry shows: the cheapest that can serve, else
/// (a model listed with `?all=true`) the cheapest enabled one.
pub fn cheapest<'a>(snap: &'a Snapshot, m: &'a Model) -> Option<&'a EndpointDecl> {
    let live = live(snap, m);
    let pool: Vec<&EndpointDecl> = if live.is_empty() {
        m.decl.endpoints.iter().filter(|e| e.enabled).collect()
    } else {
        live.iter().map(|l| l.decl).collect()
    };
    // `min_by_key` keeps the first of equals: registry order breaks ties.
    pool.into_iter().min_by_key(|e| price::rank(e))
}

pub fn input_modalities(m: &Model) -> Vec<String> {
    if m.decl.input_modalities.is_empty() {
        vec!["text".into()]
    } else {
        m.decl.input_modalities.clone()
    }
}

pub fn output_modalities(m: &Model) -> Vec<String> {
    match (m.decl.output_modalities.is_empty(), m.decl.kind) {
        (false, _) => m.decl.output_modalities.clone(),
        (true, ModelKind::Chat) => vec!["text".into()],
        (true, ModelKind::Embedding) => vec!["embeddings".into()],
    }
}

fn architecture(m: &Model) -> wire::Architecture {
    let input = input_modalities(m);
    let output = output_modalities(m);
    wire::Architecture {
        modality: format!("{}->{}", input.join("+"), output.join("+")),
        input_modalities: input,
        output_modalities: output,
        tokenizer: m.decl.tokenizer.clone().unwrap_or_else(|| "Other".into()),
        instruct_type: m.decl.instruct_type.clone(),
    }
}

fn name(m: &Model) -> String {
    m.decl.name.clone().unwrap_or_else(|| m.decl.slug.clone())
}

/// A model as `/api/v1/models` lists it.
pub fn model(snap: &Snapshot, m: &Model) -> wire::Model {
    let d = &m.decl;
    let top = cheapest(snap, m);
    wire::Model {
        id: d.slug.clone(),
        canonical_slug: d.slug.clone(),
        hugging_face_id: d.hugging_face_id.clone(),
        name: name(m),
        created: m.created_ms / 1000,
        description: d.description.clone().unwrap_or_default(),
        context_length: d.context_length,
        architecture: architecture(m),
        pricing: top.map(price::pricing).unwrap_or_else(price::free),
        top_provider: wire::TopProvider {
            context_length: top.and_then(|e| e.context_length).or(d.context_length),
            max_completion_tokens: top
                .and_then(|e| e.max_completion_tokens)
                .or(d.max_completion_tokens),
            is_moderated: false,
        },
        per_request_limits: None,
        supported_parameters: d.supported_parameters.clone(),
        default_parameters: None,
        supported_voices: None,
        expiration_date: None,
        knowledge_cutoff: None,
        links: wire::ModelLinks {
            details: format!("/api/v1/models/{}/endpoints", d.slug),
        },
    }
}

/// A model's serving endpoints, as `/api/v1/models/{author}/{slug}/endpoints` shows them,
/// with this replica's live figures at `now_ms`; latency and throughput only when
/// `show_speed` (OpenRouter shows them to authenticated callers only).
pub fn endpoints(
    snap: &Snapshot,
    m: &Model,
    windows: &Windows,
    now_ms: i64,
    show_speed: bool,
) -> wire::EndpointList {
    let d = &m.decl;
    let model_name = name(m);
    let endpoints = live(snap, m)
        .into_iter()
        .map(|l| {
            let provider_name = l.provider.decl.display_name().to_owned();
            let params = l
                .decl
                .supported_parameters
                .clone()
                .unwrap_or_else(|| d.supported_parameters.clone());
            let tool_choice = params.iter().any(|p| p == "tool_choice");
            let live = windows.figures(&l.decl.provider, &d.slug, now_ms);
            wire::Endpoint {
                name: format!("{provider_name}: {model_name}"),
                model_id: d.slug.clone(),
                model_name: model_name.clone(),
                // The schema wants a number; 0 says the registry does not know.
                context_length: l.decl.context_length.or(d.context_length).unwrap_or(0),
                pricing: price::pricing(l.decl),
                provider_name,
                tag: l.decl.provider.clone(),
                quantization: l.decl.quantization.clone(),
                max_completion_tokens: l.decl.max_completion_tokens.or(d.max_completion_tokens),
                max_prompt_tokens: None,
                supported_parameters: params,
                status: live.status,
                uptime_last_30m: live.uptime_last_30m,
                uptime_last_5m: live.uptime_last_5m,
                uptime_last_1d: live.uptime_last_1d,
                supports_implicit_caching: false,
                latency_last_30m: live.latency_last_30m.filter(|_| show_speed),
                throughput_last_30m: live.throughput_last_30m.filter(|_| show_speed),
                native_tools: BTreeMap::new(),
                service_tier: None,
                supports_diarization: false,
                supports_tool_choice: wire::ToolChoiceSupport {
                    auto: tool_choice,
                    function: tool_choice,
                    none: tool_choice,
                    required: tool_choice,
                },
            }
        })
        .collect();
    wire::EndpointList {
        data: wire::ModelEndpoints {
            id: d.slug.clone(),
            name: model_name,
            created: m.created_ms / 1000,
            description: d.description.clone().unwrap_or_default(),
            architecture: architecture(m),
            endpoints,
        },
    }
}

pub fn provider(p: &ProviderEntry) -> wire::Provider {
    wire::Provider {
        name: p.decl.display_name().to_owned(),
        slug: p.decl.id.clone(),
        privacy_policy_url: p.decl.privacy_policy_url.clone(),
        terms_of_service_url: p.decl.terms_of_service_url.clone(),
        status_page_url: p.decl.status_page_url.clone(),
    }
}
