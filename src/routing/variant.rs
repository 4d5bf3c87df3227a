//! OpenRouter's model variants: a `:suffix` on a slug that changes how its endpoints are
//! chosen (`mock/echo:floor`). A registry slug that itself ends in a suffix (`x/y:free` as a
//! model of its own) wins over the variant; only an unknown name is split.

/// A variant Switchyard knows, with what it does to the model's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Only endpoints that cost nothing.
    Free,
    /// Cheapest endpoints first (`provider.sort = "price"`).
    Floor,
    /// Fastest endpoints first, by measured throughput (`provider.sort = "throughput"`).
    Nitro,
    /// Reasoning on, for models that reason.
    Thinking,
    /// OpenRouter's tool-calling-quality ranking; Switchyard has no such figures.
    Exacto,
    /// The model's own, unlimited-context variant on OpenRouter; not something a registry
    /// endpoint can be told apart by.
    Extended,
    /// OpenRouter's web-search plugin shorthand.
    Online,
}

impl Variant {
    pub fn parse(suffix: &str) -> Option<Variant> {
        Some(match suffix {
            "free" => Variant::Free,
            "floor" => Variant::Floor,
            "nitro" => Variant::Nitro,
            "thinking" => Variant::Thinking,
            "exacto" => Variant::Exacto,
            "extended" => Variant::Extended,
            "online" => Variant::Online,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Free => "free",
            Variant::Floor => "floor",
            Variant::Nitro => "nitro",
            Variant::Thinking => "thinking",
            Variant::Exacto => "exacto",
            Variant::Extended => "extended",
            Variant::Online => "online",
        }
    }

    /// Why the gateway cannot honour this variant, if it cannot (the request gets a 400
    /// naming it rather than a silently different routing).
    pub fn unsupported(self) -> Option<&'static str> {
        match self {
            Variant::Exacto => Some(
                "it ranks providers by tool-calling accuracy, and Switchyard has no such figures; \
                 use the plain slug, or `provider.order`",
            ),
            Variant::Extended => Some(
                "it selects OpenRouter's extended-context endpoints, which a registry endpoint \
                 does not distinguish; declare such an endpoint as a model of its own",
            ),
            Variant::Online => Some(
                "web search is not something Switchyard adds to a request; use a model whose \
                 provider searches, or a tool",
            ),
            _ => None,
        }
    }
}

/// Splits `slug:variant` when the suffix names a variant. `None` for names without a known
/// suffix (the caller then reports an unknown model or variant).
pub fn split(name: &str) -> Option<(&str, Result<Variant, &str>)> {
    let (base, suffix) = name.rsplit_once(':')?;
    if base.is_empty() || suffix.is_empty() || suffix.contains('/') {
        return None;
    }
    Some((base, Variant::parse(suffix).ok_or(suffix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_known_and_unknown_suffixes() {
        assert_eq!(split("a/b:free"), Some(("a/b", Ok(Variant::Free))));
        assert_eq!(split("a/b:nitro"), Some(("a/b", Ok(Variant::Nitro))));
        assert_eq!(split("a/b:beta"), Some(("a/b", Err("beta"))));
        assert_eq!(split("a/b"), None);
        assert_eq!(split(":free"), None);
        assert_eq!(split("a/b:"), None);
        // A colon inside the path is not a variant (`host:port/x`).
        assert_eq!(split("h:80/x"), None);
    }

    #[test]
    fn every_variant_round_trips() {
        for v in [
            Variant::Free,
            Variant::Floor,
            Variant::Nitro,
            Variant::Thinking,
            Variant::Exacto,
            Variant::Extended,
            Variant::Online,
        ] {
            assert_eq!(Variant::parse(v.as_str()), Some(v));
        }
    }
}
