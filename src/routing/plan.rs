//! `plan()`: turns a request and the registry snapshot into an ordered list of attempts.
//!
//! Order: the request's `models` list (OpenRouter) or the requested model followed by its
//! registry fallback chain; within each model its endpoints in registry order, reordered or
//! filtered by the request's `provider` preferences.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RoutingSettings;
use crate::providers::Provider;
use crate::registry::{Model, Snapshot};
use crate::types::chat::{DataCollection, ProviderPreferences, SortBy};
use crate::types::registry::{ModelKind, DEFAULT_OUTPUT_TOKENS};
use crate::types::{ChatRequest, Price};

/// What routing needs to know of a request, whatever protocol it came in.
#[derive(Debug, Clone)]
pub struct RouteRequest<'a> {
    pub model: Option<&'a str>,
    /// OpenRouter's ordered fallback list.
    pub models: &'a [String],
    pub provider: &'a ProviderPreferences,
    /// The routable parameters the request sets (for `require_parameters`).
    pub used_parameters: Vec<&'static str>,
    /// The kind of model the front door serves.
    pub kind: ModelKind,
}

impl ChatRequest {
    pub fn route(&self) -> RouteRequest<'_> {
        RouteRequest {
            model: self.model.as_deref(),
            models: &self.models,
            provider: &self.provider,
            used_parameters: self.used_parameters().collect(),
            kind: ModelKind::Chat,
        }
    }
}

/// One upstream call to try.
#[derive(Clone)]
pub struct Attempt {
    /// Public slug of the model this attempt serves.
    pub model: String,
    pub provider: String,
    pub adapter: Arc<dyn Provider>,
    pub upstream_model: String,
    pub price: Price,
    /// Output tokens to reserve when the request sets no maximum (the model's default).
    pub output_estimate: u64,
    pub request_timeout: Duration,
    pub first_token_timeout: Duration,
    /// The longest a committed stream may go without a chunk.
    pub stream_idle_timeout: Duration,
    /// Chunks without output held before the commit point, at most.
    pub max_precommit_chunks: usize,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} via {} ({})",
            self.model, self.provider, self.upstream_model
        )
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The model the client asked for first.
    pub requested: String,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("{}", unknown_model_message(.name, .suggestions))]
    UnknownModel {
        name: String,
        suggestions: Vec<String>,
    },
    /// The request names a preset that does not exist; `param` is the field that named it.
    #[error("{}", unknown_preset_message(.name, .available))]
    UnknownPreset {
        name: String,
        param: &'static str,
        available: Vec<String>,
    },
    /// The model is of another kind than the front door serves (a chat model asked for
    /// embeddings, say).
    #[error("`{model}` is {} model; this endpoint serves {} models{}", article(.kind.as_str()), .wanted.as_str(), hint(.wanted))]
    WrongKind {
        model: String,
        kind: ModelKind,
        wanted: ModelKind,
    },
    /// Every endpoint was excluded; `by_request` when the request's own preferences did it.
    #[error("No endpoint can serve `{model}`: {}", .reasons.join("; "))]
    NoEndpoint {
        model: String,
        reasons: Vec<String>,
        by_request: bool,
    },
}

fn article(kind: &str) -> String {
    format!("an {kind}").replace("an chat", "a chat")
}

fn hint(wanted: &ModelKind) -> &'static str {
    match wanted {
        ModelKind::Chat => "",
        ModelKind::Embedding => " (`kind = \"embedding\"` in the registry)",
    }
}

fn unknown_model_message(name: &str, suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        format!("Model `{name}` does not exist, and no models are available")
    } else {
        format!(
            "Model `{name}` does not exist. Available models, closest first: {}",
            suggestions.join(", ")
        )
    }
}

fn unknown_preset_message(name: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("Preset `{name}` does not exist, and no presets are defined")
    } else {
        format!(
            "Preset `{name}` does not exist. Available presets: {}",
            available.join(", ")
        )
    }
}

pub fn plan(
    snap: &Snapshot,
    req: &RouteRequest<'_>,
    routing: &RoutingSettings,
) -> Result<Plan, PlanError> {
    let mut names: Vec<&str> = Vec::new();
    if let Some(m) = req.model {
        names.push(m);
    }
    for m in req.models {
        if !names.contains(&m.as_str()) {
            names.push(m);
        }
    }
    let mut models: Vec<&Arc<Model>> = Vec::new();
    for name in &names {
        let model = snap.resolve(name).ok_or_else(|| PlanError::UnknownModel {
            name: (*name).to_owned(),
            suggestions: snap
                .closest(name, 8)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })?;
        if model.decl.kind != req.kind {
            return Err(PlanError::WrongKind {
                model: model.decl.slug.clone(),
                kind: model.decl.kind,
                wanted: req.kind,
            });
        }
        if !models.iter().any(|m| m.decl.slug == model.decl.slug) {
            models.push(model);
        }
    }
    // The registry chain applies only when the client did not give its own order.
    if req.models.is_empty() {
        if let Some(primary) = models.first().cloned() {
            for f in &primary.decl.fallbacks {
                if let Some(m) = snap.resolve(f).filter(|m| m.decl.kind == req.kind) {
                    if !models.iter().any(|x| x.decl.slug == m.decl.slug) {
                        models.push(m);
                    }
                }
            }
        }
    }

    let prefs = req.provider;
    let used = &req.used_parameters;
    let require_params = prefs.require_parameters.unwrap_or(false);
    let mut attempts = Vec::new();
    let mut reasons = Vec::new();
    let mut by_request = false;

    for model in &models {
        let mut candidates = Vec::new();
        for ep in model.decl.endpoints.iter().filter(|e| e.enabled) {
            // Built only when an endpoint is excluded: the common path allocates nothing here.
            let label = || format!("{} via {}", model.decl.slug, ep.provider);
            let Some(entry) = snap.providers.get(&ep.provider) else {
                reasons.push(format!("{}: provider is not defined", label()));
                continue;
            };
            let Some(adapter) = &entry.adapter else {
                let why = entry.inactive_reason.as_deref().unwrap_or("inactive");
                reasons.push(format!("{}: provider inactive ({why})", label()));
                continue;
            };
            let mut excluded = |why: String| {
                reasons.push(format!("{}: {why}", label()));
                by_request = true;
            };
            if prefs
                .only
                .as_ref()
                .is_some_and(|only| !only.iter().any(|p| p == &ep.provider))
            {
                excluded("not in provider.only".into());
                continue;
            }
            if prefs
                .ignore
                .as_ref()
                .is_some_and(|ig| ig.iter().any(|p| p == &ep.provider))
            {
                excluded("in provider.ignore".into());
                continue;
            }
            if prefs.zdr == Some(true) && !entry.decl.zdr {
                excluded("not zero-data-retention (provider.zdr)".into());
                continue;
            }
            if prefs.data_collection == Some(DataCollection::Deny) && entry.decl.collects_data {
                excluded("may collect data (provider.data_collection = deny)".into());
                continue;
            }
            if require_params {
                let supported = ep
                    .supported_parameters
                    .as_ref()
                    .unwrap_or(&model.decl.supported_parameters);
                let missing: Vec<&str> = used
                    .iter()
                    .copied()
                    .filter(|p| !supported.iter().any(|s| s == p))
                    .collect();
                if !missing.is_empty() {
                    excluded(format!(
                        "does not support {} (provider.require_parameters)",
                        missing.join(", ")
                    ));
                    continue;
                }
            }
            if let Some(max) = &prefs.max_price {
                let over_prompt = max.prompt.is_some_and(|m| ep.input_price > m);
                let over_completion = max.completion.is_some_and(|m| ep.output_price > m);
                if over_prompt || over_completion {
                    excluded("costs more than provider.max_price".into());
                    continue;
                }
            }
            candidates.push(Attempt {
                model: model.decl.slug.clone(),
                provider: ep.provider.clone(),
                adapter: adapter.clone(),
                upstream_model: ep.upstream_model.clone(),
                price: ep.price(),
                output_estimate: model
                    .decl
                    .default_output_tokens
                    .unwrap_or(DEFAULT_OUTPUT_TOKENS),
                request_timeout: entry
                    .decl
                    .request_timeout_secs
                    .and_then(crate::types::bounded_secs)
                    .unwrap_or(routing.request_timeout),
                first_token_timeout: entry
                    .decl
                    .first_token_timeout_secs
                    .and_then(crate::types::bounded_secs)
                    .unwrap_or(routing.first_token_timeout),
                stream_idle_timeout: entry
                    .decl
                    .stream_idle_timeout_secs
                    .and_then(crate::types::bounded_secs)
                    .unwrap_or(routing.stream_idle_timeout),
                max_precommit_chunks: routing.max_precommit_chunks,
            });
        }

        if prefs.sort.as_ref().is_some_and(|s| s.by() == SortBy::Price) {
            // Stable: equal prices keep registry order.
            candidates.sort_by_key(|a| a.price.sort_key());
        }
        if let Some(order) = &prefs.order {
            let rank = |p: &str| order.iter().position(|o| o == p).unwrap_or(usize::MAX);
            candidates.sort_by_key(|a| rank(&a.provider));
            if prefs.allow_fallbacks == Some(false) {
                let before = candidates.len();
                candidates.retain(|a| rank(&a.provider) != usize::MAX);
                if candidates.len() < before {
                    by_request = true;
                    if candidates.is_empty() {
                        reasons.push(format!(
                            "{}: no endpoint from provider.order ({}) and provider.allow_fallbacks is false",
                            model.decl.slug,
                            order.join(", ")
                        ));
                    }
                }
            }
        } else if prefs.allow_fallbacks == Some(false) {
            candidates.truncate(1);
        }
        attempts.extend(candidates);
    }

    if attempts.is_empty() {
        let model = models
            .first()
            .map(|m| m.decl.slug.clone())
            .unwrap_or_default();
        if reasons.is_empty() {
            reasons.push("it has no enabled endpoints".into());
        }
        return Err(PlanError::NoEndpoint {
            model,
            reasons,
            by_request,
        });
    }
    Ok(Plan {
        requested: models
            .first()
            .map(|m| m.decl.slug.clone())
            .unwrap_or_default(),
        attempts,
    })
}
