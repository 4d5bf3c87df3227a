//! Request fields outside what `convert` translates: which ones Gemini drops (harmless hints,
//! reported in `x-switchyard-dropped-params`) and which it refuses (their absence would change
//! the answer). Everything else in the typed view is translated by `convert`.

use crate::types::{ChatRequest, InvalidRequest};

/// Hints with no Gemini equivalent.
const DROPPED: &[&str] = &[
    "logit_bias",
    "user",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "store",
    "prediction",
    "verbosity",
    "repetition_penalty",
    "min_p",
    "top_a",
    "include_reasoning",
];

/// Fields that ask for something Gemini (through this adapter) cannot do.
const REFUSED: &[(&str, &str)] = &[
    (
        "functions",
        "legacy `functions` are not translated for Gemini; use `tools`",
    ),
    (
        "function_call",
        "legacy `function_call` is not translated for Gemini; use `tool_choice`",
    ),
    (
        "web_search_options",
        "web search is not available through this Gemini adapter",
    ),
    (
        "audio",
        "audio output is not available through this Gemini adapter",
    ),
];

/// Set to something other than an empty or off value.
fn present(chat: &ChatRequest, key: &str) -> bool {
    chat.body
        .get(key)
        .is_some_and(|v| !matches!(v.get(), "null" | "false" | "{}" | "[]" | "\"\""))
}

/// Set at all: for refused fields even `{}` asks for something (web search with defaults).
fn set(chat: &ChatRequest, key: &str) -> bool {
    chat.body
        .get(key)
        .is_some_and(|v| !matches!(v.get(), "null" | "[]"))
}

pub fn dropped(chat: &ChatRequest) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = DROPPED
        .iter()
        .copied()
        .filter(|k| present(chat, k))
        .collect();
    // Gemini may always call several functions at once; it cannot be told not to.
    if chat
        .body
        .get("parallel_tool_calls")
        .is_some_and(|v| v.get() == "false")
    {
        out.push("parallel_tool_calls");
    }
    out
}

pub fn refuse(chat: &ChatRequest) -> Result<(), InvalidRequest> {
    for (key, why) in REFUSED {
        if set(chat, key) {
            return Err(InvalidRequest::new(
                *why,
                Some(key),
                "unsupported_parameter",
            ));
        }
    }
    let audio_out = chat
        .body
        .get_as::<Vec<String>>("modalities")
        .and_then(Result::ok)
        .is_some_and(|m| m.iter().any(|m| m != "text"));
    if audio_out {
        return Err(InvalidRequest::new(
            "only text output is available through this Gemini adapter",
            Some("modalities"),
            "unsupported_parameter",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(extra: &str) -> ChatRequest {
        ChatRequest::parse(
            format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}]{extra}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn drops_hints_only_when_set() {
        assert!(dropped(&req("")).is_empty());
        assert!(dropped(&req(
            r#","logit_bias":{},"store":false,"parallel_tool_calls":true"#
        ))
        .is_empty());
        assert_eq!(
            dropped(&req(
                r#","logit_bias":{"50256":-100},"user":"u1","parallel_tool_calls":false"#
            )),
            vec!["logit_bias", "user", "parallel_tool_calls"]
        );
    }

    #[test]
    fn refuses_what_changes_the_answer() {
        assert!(refuse(&req(r#","modalities":["text"]"#)).is_ok());
        assert_eq!(
            refuse(&req(r#","modalities":["text","audio"]"#))
                .unwrap_err()
                .param,
            Some("modalities")
        );
        assert_eq!(
            refuse(&req(r#","functions":[{"name":"f"}]"#))
                .unwrap_err()
                .param,
            Some("functions")
        );
        assert_eq!(
            refuse(&req(r#","web_search_options":{}"#))
                .unwrap_err()
                .param,
            Some("web_search_options"),
            "an empty object asks for search with defaults"
        );
        assert!(refuse(&req(r#","functions":[],"audio":null"#)).is_ok());
    }
}
