//! What a gateway key may do: its budget and reset period, rate limits, allowed models,
//! expiry and free-form metadata. Pure data with its validation; the ledger enforces it.

use serde::{Deserialize, Serialize};

use super::time;

/// When a key's budget starts again (UTC), as OpenRouter's `limit_reset`.
/// A key's name is shown in listings, messages and logs and stored in both databases:
/// non-empty, at most 200 characters, no control characters (PostgreSQL refuses NUL).
pub fn check_key_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("`name` must not be empty".into());
    }
    if name.chars().count() > 200 {
        return Err("`name` must be at most 200 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("`name` must not contain control characters".into());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetReset {
    #[default]
    Never,
    Daily,
    Weekly,
    Monthly,
}

impl BudgetReset {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetReset::Never => "never",
            BudgetReset::Daily => "daily",
            BudgetReset::Weekly => "weekly",
            BudgetReset::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetReset> {
        match s {
            "never" => Some(BudgetReset::Never),
            "daily" => Some(BudgetReset::Daily),
            "weekly" => Some(BudgetReset::Weekly),
            "monthly" => Some(BudgetReset::Monthly),
            _ => None,
        }
    }

    /// Start of the budget period holding `now_ms` (0 for `never`).
    pub fn period_start(self, now_ms: i64) -> i64 {
        match self {
            BudgetReset::Never => 0,
            BudgetReset::Daily => time::day_start(now_ms),
            BudgetReset::Weekly => time::week_start(now_ms),
            BudgetReset::Monthly => time::month_start(now_ms),
        }
    }

    /// When the period holding `now_ms` ends, if it does.
    pub fn next_reset(self, now_ms: i64) -> Option<i64> {
        const DAY: i64 = 86_400_000;
        match self {
            BudgetReset::Never => None,
            BudgetReset::Daily => Some(time::day_start(now_ms) + DAY),
            BudgetReset::Weekly => Some(time::week_start(now_ms) + 7 * DAY),
            BudgetReset::Monthly => Some(time::next_month_start(now_ms)),
        }
    }
}

/// A key's limits and permissions. `None` means unlimited / unrestricted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyPolicy {
    /// Budget per period in nano-dollars.
    pub budget_nanos: Option<i64>,
    pub budget_reset: BudgetReset,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    /// Model slugs and `author/*` patterns this key may use.
    pub allowed_models: Option<Vec<String>>,
    /// Unix ms after which the key is refused.
    pub expires_at: Option<i64>,
    pub disabled: bool,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// This key's prompts and completions are stored when `[accounting] capture_content` is
    /// `"per_key"`.
    #[serde(default)]
    pub capture_content: bool,
}

impl KeyPolicy {
    /// Whether `slug` is allowed: an exact slug, `author/*`, or `*`.
    pub fn allows(&self, slug: &str) -> bool {
        match &self.allowed_models {
            None => true,
            Some(patterns) => patterns.iter().any(|p| pattern_matches(p, slug)),
        }
    }

    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|t| now_ms >= t)
    }

    /// Checks the values a client or operator set; names the field at fault.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.budget_nanos.is_some_and(|b| b < 0) {
            return Err(("budget_usd", "must be zero or more".into()));
        }
        for (field, v) in [
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("max_concurrency", self.max_concurrency),
        ] {
            if v == Some(0) {
                return Err((
                    field,
                    "must be a positive whole number (leave it out for no limit)".into(),
                ));
            }
        }
        if let Some(models) = &self.allowed_models {
            for m in models {
                let ok = !m.is_empty()
                    && m.len() <= 256
                    && !m.contains(char::is_whitespace)
                    && (m == "*"
                        || !m.contains('*')
                        || (m.ends_with("/*") && m.matches('*').count() == 1));
                if !ok {
                    return Err((
                        "allowed_models",
                        format!("`{m}` is not a model slug or an `author/*` pattern"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A change to a key as the admin API and the CLI take it: an absent field is left as it
/// is, `null` clears it (removes the limit).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub budget_usd: Option<Option<f64>>,
    #[serde(default)]
    pub budget_reset: Option<BudgetReset>,
    #[serde(default, deserialize_with = "present")]
    pub rpm: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub tpm: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub max_concurrency: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub allowed_models: Option<Option<Vec<String>>>,
    /// RFC 3339.
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(default)]
    pub capture_content: Option<bool>,
}

fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Largest budget accepted, in USD (keeps nano-dollar sums far from overflow).
const MAX_BUDGET_USD: f64 = 1e9;

impl KeyChange {
    /// Applies the change to `p`, validating what it sets; errors name the field.
    pub fn apply(&self, p: &mut KeyPolicy) -> Result<(), (&'static str, String)> {
        if let Some(b) = self.budget_usd {
            p.budget_nanos = match b {
                None => None,
                Some(usd) if usd.is_finite() && (0.0..=MAX_BUDGET_USD).contains(&usd) => {
                    Some(super::usage::usd_to_nanos(usd))
                }
                Some(_) => {
                    return Err((
                        "budget_usd",
                        "must be a number of US dollars from 0 to 1e9".into(),
                    ))
                }
            };
        }
        if let Some(r) = self.budget_reset {
            p.budget_reset = r;
        }
        if let Some(v) = self.rpm {
            p.rpm = v;
        }
        if let Some(v) = self.tpm {
            p.tpm = v;
        }
        if let Some(v) = self.max_concurrency {
            p.max_concurrency = v;
        }
        if let Some(v) = &self.allowed_models {
            p.allowed_models = v.clone();
        }
        if let Some(v) = &self.expires_at {
            p.expires_at = match v {
                None => None,
                Some(t) => Some(time::parse_rfc3339(t).ok_or((
                    "expires_at",
                    format!("`{t}` is not an RFC 3339 timestamp like 2027-01-01T00:00:00Z"),
                ))?),
            };
        }
        if let Some(d) = self.disabled {
            p.disabled = d;
        }
        if let Some(c) = self.capture_content {
            p.capture_content = c;
        }
        if let Some(m) = &self.metadata {
            p.metadata = m.clone();
            if serde_json::to_string(&p.metadata).map_or(0, |s| s.len()) > 16 * 1024 {
                return Err(("metadata", "must be at most 16 KiB of JSON".into()));
            }
        }
        p.validate()
    }
}

fn pattern_matches(pattern: &str, slug: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => slug.starts_with(prefix),
        None => pattern == slug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns() {
        let p = KeyPolicy {
            allowed_models: Some(vec![
                "openai/*".into(),
                "anthropic/claude-sonnet-4.5".into(),
            ]),
            ..KeyPolicy::default()
        };
        assert!(p.allows("openai/gpt-4.1"));
        assert!(p.allows("anthropic/claude-sonnet-4.5"));
        assert!(!p.allows("anthropic/claude-opus-4"));
        assert!(!p.allows("openaix/gpt"));
        assert!(KeyPolicy::default().allows("anything"));
        let bad = KeyPolicy {
            allowed_models: Some(vec!["open*ai".into()]),
            ..KeyPolicy::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "allowed_models");
    }

    #[test]
    fn changes_apply_and_clear() {
        let mut p = KeyPolicy::default();
        let c: KeyChange = serde_json::from_str(
            r#"{"budget_usd":5,"budget_reset":"monthly","rpm":60,"expires_at":"2027-01-01T00:00:00Z","metadata":{"team":"a"}}"#,
        )
        .unwrap();
        c.apply(&mut p).unwrap();
        assert_eq!(p.budget_nanos, Some(5_000_000_000));
        assert_eq!(p.budget_reset, BudgetReset::Monthly);
        assert_eq!(p.rpm, Some(60));
        assert!(p.expires_at.is_some());
        let clear: KeyChange = serde_json::from_str(r#"{"rpm":null,"budget_usd":null}"#).unwrap();
        clear.apply(&mut p).unwrap();
        assert_eq!((p.rpm, p.budget_nanos), (None, None));
        assert_eq!(p.budget_reset, BudgetReset::Monthly, "untouched");
        for (body, field) in [
            (r#"{"budget_usd":-1}"#, "budget_usd"),
            (r#"{"expires_at":"tomorrow"}"#, "expires_at"),
            (r#"{"tpm":0}"#, "tpm"),
        ] {
            let c: KeyChange = serde_json::from_str(body).unwrap();
            assert_eq!(
                c.apply(&mut KeyPolicy::default()).unwrap_err().0,
                field,
                "{body}"
            );
        }
        assert!(serde_json::from_str::<KeyChange>(r#"{"budget_reset":"hourly"}"#).is_err());
        assert!(serde_json::from_str::<KeyChange>(r#"{"rpmm":1}"#).is_err());
    }

    #[test]
    fn periods_and_expiry() {
        let now = time::parse_rfc3339("2026-12-31T23:00:00Z").unwrap();
        assert_eq!(
            BudgetReset::Monthly
                .next_reset(now)
                .map(time::format_rfc3339),
            Some("2027-01-01T00:00:00Z".into())
        );
        assert_eq!(BudgetReset::Never.period_start(now), 0);
        let p = KeyPolicy {
            expires_at: Some(now),
            ..KeyPolicy::default()
        };
        assert!(p.expired(now) && !p.expired(now - 1));
        assert_eq!(
            KeyPolicy {
                rpm: Some(0),
                ..KeyPolicy::default()
            }
            .validate()
            .unwrap_err()
            .0,
            "rpm"
        );
    }
}
