//! The query parameters of OpenRouter's `GET /models` that the registry has data for.
//! Parameters it has no data for (`category`, `distillable`, `region`, benchmark sorts, ...)
//! and unknown ones are accepted and ignored, as OpenRouter ignores what it does not know.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::render;
use crate::http::ApiError;
use crate::registry::{Model, Snapshot};
use crate::types::{uri_encode, InvalidRequest};

/// OpenRouter's largest page.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 500;

#[derive(Debug, Default)]
pub struct Filter {
    /// Models no active provider can serve, too.
    all: bool,
    /// Any of these; `None`: every modality.
    output_modalities: Option<Vec<String>>,
    /// All of these.
    input_modalities: Vec<String>,
    /// All of these.
    supported_parameters: Vec<String>,
    /// In the slug or the name, ignoring case.
    q: Option<String>,
    min_context: Option<u64>,
    authors: Vec<String>,
    /// Provider ids or names, any of them.
    providers: Vec<String>,
    /// USD per million prompt / completion tokens, of the price the entry shows.
    prompt_price: (Option<f64>, Option<f64>),
    completion_price: (Option<f64>, Option<f64>),
    zdr: bool,
    sort: Option<Sort>,
    /// `offset` and `limit`, when either was given.
    page: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
enum Sort {
    PriceLowToHigh,
    PriceHighToLow,
    ContextHighToLow,
    Newest,
}

fn invalid(param: &'static str, message: String) -> ApiError {
    ApiError::Invalid(InvalidRequest::new(message, Some(param), "invalid_value"))
}

fn list(q: &HashMap<String, String>, name: &str) -> Vec<String> {
    q.get(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn number<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<T>, ApiError> {
    match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| invalid(name, format!("`{name}` must be a number, not `{v}`"))),
    }
}

fn price(q: &HashMap<String, String>, name: &'static str) -> Result<Option<f64>, ApiError> {
    let v: Option<f64> = number(q, name)?;
    match v {
        Some(p) if !(p.is_finite() && p >= 0.0) => Err(invalid(
            name,
            format!("`{name}` must be a non-negative number of USD per million tokens"),
        )),
        v => Ok(v),
    }
}

/// `true`/`false` (absent: false).
pub fn flag(q: &HashMap<String, String>, name: &'static str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") | Some("") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(invalid(
            name,
            format!("`{name}` must be true or false, not `{v}`"),
        )),
    }
}

impl Filter {
    pub fn parse(q: &HashMap<String, String>) -> Result<Filter, ApiError> {
        let outputs = list(q, "output_modalities");
        let output_modalities = if outputs.iter().any(|m| m == "all") {
            None
        } else if outputs.is_empty() {
            Some(vec!["text".to_owned()])
        } else {
            Some(outputs)
        };
        let offset: Option<usize> = number(q, "offset")?;
        let limit: Option<usize> = number(q, "limit")?;
        if limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
            return Err(invalid(
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let page = (offset.is_some() || limit.is_some())
            .then(|| (offset.unwrap_or(0), limit.unwrap_or(DEFAULT_LIMIT)));
        let sort = match q.get("sort").map(String::as_str) {
            Some("pricing-low-to-high") => Some(Sort::PriceLowToHigh),
            Some("pricing-high-to-low") => Some(Sort::PriceHighToLow),
            Some("context-high-to-low") => Some(Sort::ContextHighToLow),
            Some("newest") => Some(Sort::Newest),
            _ => None,
        };
        Ok(Filter {
            all: flag(q, "all")?,
            output_modalities,
            input_modalities: list(q, "input_modalities"),
            supported_parameters: list(q, "supported_parameters"),
            q: q.get("q")
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
            min_context: number(q, "context")?,
            authors: list(q, "model_authors"),
            providers: list(q, "providers")
                .into_iter()
                .map(|p| p.to_lowercase())
                .collect(),
            prompt_price: (price(q, "min_price")?, price(q, "max_price")?),
            completion_price: (price(q, "min_output_price")?, price(q, "max_output_price")?),
            zdr: q.get("zdr").is_some_and(|v| v == "true"),
            sort,
            page,
        })
    }

    pub fn admits(&self, snap: &Snapshot, m: &Model) -> bool {
        let d = &m.decl;
        let live = render::live(snap, m);
        if !self.all && live.is_empty() {
            return false;
        }
        if let Some(wanted) = &self.output_modalities {
            let outputs = render::output_modalities(m);
            if !wanted.iter().any(|w| outputs.contains(w)) {
                return false;
            }
        }
        let inputs = render::input_modalities(m);
        if !self.input_modalities.iter().all(|i| inputs.contains(i)) {
            return false;
        }
        if !self
            .supported_parameters
            .iter()
            .all(|p| d.supported_parameters.contains(p))
        {
            return false;
        }
        if let Some(q) = &self.q {
            let name = d.name.as_deref().unwrap_or_default().to_lowercase();
            if !(d.slug.to_lowercase().contains(q) || name.contains(q)) {
                return false;
            }
        }
        if self
            .min_context
            .is_some_and(|min| d.context_length.unwrap_or(0) < min)
        {
            return false;
        }
        let author = d.slug.split_once('/').map_or("", |(a, _)| a);
        if !self.authors.is_empty() && !self.authors.iter().any(|a| a == author) {
            return false;
        }
        if !self.providers.is_empty() {
            let serves = |id: &str, name: &str| {
                self.providers
                    .iter()
                    .any(|p| p == &id.to_lowercase() || p == &name.to_lowercase())
            };
            let any = if self.all {
                d.endpoints.iter().filter(|e| e.enabled).any(|e| {
                    let name = snap
                        .providers
                        .get(&e.provider)
                        .map_or(e.provider.as_str(), |p| p.decl.display_name());
                    serves(&e.provider, name)
                })
            } else {
                live.iter()
                    .any(|l| serves(&l.provider.decl.id, l.provider.decl.display_name()))
            };
            if !any {
                return false;
            }
        }
        if self.zdr && !live.iter().any(|l| l.provider.decl.zdr) {
            return false;
        }
        let shown = render::cheapest(snap, m);
        let within = |(min, max): (Option<f64>, Option<f64>), p: f64| {
            min.is_none_or(|min| p >= min) && max.is_none_or(|max| p <= max)
        };
        within(self.prompt_price, shown.map_or(0.0, |e| e.input_price))
            && within(self.completion_price, shown.map_or(0.0, |e| e.output_price))
    }

    pub fn sort(&self, snap: &Snapshot, models: &mut [&Arc<Model>]) {
        // Stable sorts: equals keep the slug order.
        let avg =
            |m: &Model| render::cheapest(snap, m).map_or(0.0, |e| e.input_price + e.output_price);
        match self.sort {
            None => {}
            Some(Sort::PriceLowToHigh) => models.sort_by(|a, b| avg(a).total_cmp(&avg(b))),
            Some(Sort::PriceHighToLow) => models.sort_by(|a, b| avg(b).total_cmp(&avg(a))),
            Some(Sort::ContextHighToLow) => {
                models.sort_by_key(|m| std::cmp::Reverse(m.decl.context_length.unwrap_or(0)))
            }
            Some(Sort::Newest) => models.sort_by_key(|m| std::cmp::Reverse(m.created_ms)),
        }
    }

    /// The slice of `total` matches to show, and the next page's offset and limit if any.
    pub fn page(&self, total: usize) -> (Range<usize>, Option<(usize, usize)>) {
        match self.page {
            None => (0..total, None),
            Some((offset, limit)) => {
                let start = offset.min(total);
                let end = start.saturating_add(limit).min(total);
                (start..end, (end < total).then_some((end, limit)))
            }
        }
    }

    /// The URL of the next page: the same query with the next `offset`.
    pub fn next_link(&self, q: &HashMap<String, String>, offset: usize, limit: usize) -> String {
        let mut pairs: Vec<(&str, String)> = q
            .iter()
            .filter(|(k, _)| *k != "offset" && *k != "limit")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("offset", offset.to_string()));
        pairs.push(("limit", limit.to_string()));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        format!("/api/v1/models?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_modalities() {
        let f = Filter::parse(&q(&[])).unwrap_or_default();
        assert_eq!(f.output_modalities, Some(vec!["text".to_owned()]));
        assert!(!f.all);
        let f =
            Filter::parse(&q(&[("output_modalities", "all"), ("all", "true")])).unwrap_or_default();
        assert_eq!(f.output_modalities, None);
        assert!(f.all);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Filter::parse(&q(&[("limit", "0")])).is_err());
        assert!(Filter::parse(&q(&[("limit", "x")])).is_err());
        assert!(Filter::parse(&q(&[("max_price", "-1")])).is_err());
        assert!(Filter::parse(&q(&[("all", "yes")])).is_err());
        assert!(Filter::parse(&q(&[("category", "programming"), ("whatever", "1")])).is_ok());
    }

    #[test]
    fn pages() {
        let f = Filter::parse(&q(&[("limit", "2")])).unwrap_or_default();
        assert_eq!(f.page(5), (0..2, Some((2, 2))));
        let f = Filter::parse(&q(&[("offset", "4"), ("limit", "2")])).unwrap_or_default();
        assert_eq!(f.page(5), (4..5, None));
        let f = Filter::parse(&q(&[("offset", "9")])).unwrap_or_default();
        assert_eq!(f.page(5), (5..5, None));
        let link = f.next_link(&q(&[("q", "a b"), ("offset", "9")]), 2, 2);
        assert_eq!(link, "/api/v1/models?q=a%20b&offset=2&limit=2");
    }
}
