//! `plan()`: turns a request and the registry snapshot into an ordered list of attempts.
//!
//! Order: the request's `models` list (OpenRouter) or the requested model followed by its
//! registry fallback chain; within each model its endpoints in registry order, reordered or
//! filtered by the request's `provider` preferences.

use std::sync::Arc;
use std::time::Duration;

use super::stats::LiveStats;
use super::variant::{self, Variant};
use crate::config::RoutingSettings;
use crate::providers::Provider;
use crate::registry::{Model, Snapshot};
use crate::types::chat::{DataCollection, ProviderPreferences, SortBy, SortPreference};
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
    /// The provider's wire format (names the vendor in traces).
    pub kind: crate::types::registry::ProviderKind,
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
    /// The `:thinking` variant asked for reasoning (front doors turn it on).
    pub thinking: bool,
    /// Names in the request's list that could not be used, and why (for the error when
    /// nothing else serves).
    pub skipped: Vec<String>,
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
    /// A `:variant` suffix the gateway cannot honour for this model.
    #[error("Model `{name}`: the `:{variant}` variant cannot be served: {reason}")]
    Variant {
        name: String,
        variant: String,
        reason: String,
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
    stats: &LiveStats,
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
    let mut models: Vec<(&Arc<Model>, Option<Variant>)> = Vec::new();
    // Names in a list that do not resolve are skipped; they matter only if nothing serves.
    let mut skipped: Vec<PlanError> = Vec::new();
    for name in &names {
        match resolve(snap, name, req.kind) {
            Ok(found) => {
                if !models
                    .iter()
                    .any(|(m, v)| m.decl.slug == found.0.decl.slug && *v == found.1)
                {
                    models.push(found);
                }
            }
            Err(e @ PlanError::Variant { .. }) => return Err(e),
            Err(e) if names.len() > 1 => skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    if models.is_empty() {
        return Err(skipped
            .into_iter()
            .next()
            .unwrap_or_else(|| unknown(snap, "")));
    }
    let thinking = models
        .first()
        .is_some_and(|(_, v)| *v == Some(Variant::Thinking));
    // The registry chain applies only when the client did not give its own order; it keeps
    // the primary's routing variant (a `:free` request never falls back to a paid model).
    if req.models.is_empty() {
        if let Some((primary, variant)) = models.first().cloned() {
            let variant = variant.filter(|v| *v != Variant::Thinking);
            for f in &primary.decl.fallbacks {
                if let Some(m) = snap.resolve(f).filter(|m| m.decl.kind == req.kind) {
                    if !models.iter().any(|(x, _)| x.decl.slug == m.decl.slug) {
                        models.push((m, variant));
                    }
                }
            }
        }
    }

    let prefs = req.provider;
    let used = &req.used_parameters;
    let require_params = prefs.require_parameters.unwrap_or(false);
    let mut attempts = Vec::new();
    let skipped: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    let mut reasons = skipped.clone();
    let mut by_request = false;
    let partition_none = prefs
        .sort
        .as_ref()
        .is_some_and(SortPreference::across_models);

    for (model, variant) in &models {
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
            if *variant == Some(Variant::Free)
                && (ep.input_price > 0.0 || ep.output_price > 0.0 || ep.request_price > 0.0)
            {
                excluded("not free (the `:free` variant)".into());
                continue;
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
                kind: entry.decl.kind,
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

        let sort = match variant {
            Some(Variant::Floor) => Some(SortBy::Price),
            Some(Variant::Nitro) => Some(SortBy::Throughput),
            _ => prefs.sort.as_ref().map(SortPreference::by),
        };
        if let Some(by) = sort.filter(|_| !partition_none) {
            sort_attempts(&mut candidates, by, stats);
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

    if let Some(by) = prefs.sort.as_ref().filter(|_| partition_none) {
        // `partition: "none"`: one ranking across every model's endpoints.
        sort_attempts(&mut attempts, by.by(), stats);
    }

    if attempts.is_empty() {
        let model = models
            .first()
            .map(|(m, _)| m.decl.slug.clone())
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
            .map(|(m, _)| m.decl.slug.clone())
            .unwrap_or_default(),
        attempts,
        thinking,
        skipped,
    })
}

impl Plan {
    /// For front doors whose own request field asks for reasoning: the `:thinking` variant
    /// is refused there, pointing at that field, rather than guessed into the body.
    pub fn without_thinking(&self, field: &str) -> Result<(), PlanError> {
        if !self.thinking {
            return Ok(());
        }
        Err(PlanError::Variant {
            name: format!("{}:thinking", self.requested),
            variant: "thinking".into(),
            reason: format!(
                "this endpoint asks for reasoning with `{field}`; the variant is served on chat completions"
            ),
        })
    }
}

/// A name as a registry model, or as a model with a variant suffix (an exact slug wins, so a
/// registry model named `x/y:free` is itself, not `x/y` filtered).
fn resolve<'s>(
    snap: &'s Snapshot,
    name: &str,
    kind: ModelKind,
) -> Result<(&'s Arc<Model>, Option<Variant>), PlanError> {
    let (model, variant) = match snap.resolve(name) {
        Some(m) => (m, None),
        None => {
            let Some((base, suffix)) = variant::split(name) else {
                return Err(unknown(snap, name));
            };
            let Some(m) = snap.resolve(base) else {
                return Err(unknown(snap, name));
            };
            let variant = suffix.map_err(|s| PlanError::Variant {
                name: name.to_owned(),
                variant: s.to_owned(),
                reason: "it is not a variant Switchyard knows (:free, :floor, :nitro, :thinking)"
                    .into(),
            })?;
            (m, Some(variant))
        }
    };
    if let Some(v) = variant {
        let refuse = |reason: String| PlanError::Variant {
            name: name.to_owned(),
            variant: v.as_str().to_owned(),
            reason,
        };
        if let Some(why) = v.unsupported() {
            return Err(refuse(why.to_owned()));
        }
        let params = &model.decl.supported_parameters;
        if v == Variant::Thinking && !params.is_empty() && !params.iter().any(|p| p == "reasoning")
        {
            return Err(refuse(format!(
                "`{}` does not reason (its supported parameters have no `reasoning`)",
                model.decl.slug
            )));
        }
    }
    if model.decl.kind != kind {
        return Err(PlanError::WrongKind {
            model: model.decl.slug.clone(),
            kind: model.decl.kind,
            wanted: kind,
        });
    }
    Ok((model, variant))
}

fn unknown(snap: &Snapshot, name: &str) -> PlanError {
    PlanError::UnknownModel {
        name: name.to_owned(),
        suggestions: snap
            .closest(name, 8)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// Orders attempts by the chosen figure; stable, so ties (and endpoints without figures yet,
/// which go last) keep their order.
fn sort_attempts(attempts: &mut [Attempt], by: SortBy, stats: &LiveStats) {
    match by {
        SortBy::Price => attempts.sort_by_key(|a| a.price.sort_key()),
        SortBy::Throughput | SortBy::Latency => {
            let figures = stats.figures(
                attempts
                    .iter()
                    .map(|a| (a.model.as_str(), a.provider.as_str())),
            );
            let mut ranked: Vec<(f64, Attempt)> = attempts
                .iter()
                .zip(figures)
                .map(|(a, f)| {
                    // Lower ranks first; unknown figures rank after every known one.
                    let rank = match by {
                        SortBy::Throughput => f.throughput.map_or(f64::INFINITY, |t| -t),
                        _ => f.latency_ms.unwrap_or(f64::INFINITY),
                    };
                    (rank, a.clone())
                })
                .collect();
            ranked.sort_by(|x, y| x.0.total_cmp(&y.0));
            for (slot, (_, a)) in attempts.iter_mut().zip(ranked) {
                *slot = a;
            }
        }
        // OpenRouter's tool-calling quality ranking: no figures here, registry order stands.
        SortBy::Exacto => {}
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
