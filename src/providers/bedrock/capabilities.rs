//! What this adapter does with each OpenAI request parameter Converse has no slot for: drop it
//! and say so (`x-switchyard-dropped-params`) when it is only a hint, or refuse the request
//! (`Unsupported`, which falls back and ends as a 400 naming the parameter) when leaving it
//! out would change the result. Some answers depend on the model: Claude models take `top_k`
//! and thinking through `additionalModelRequestFields`; other Bedrock models get neither.
//! The README's capability table mirrors these lists.

use serde_json::Value;

use crate::providers::anthropic::capabilities::{self as claude, Extras};
use crate::types::openai::{ChatParams, Message, ToolChoice};
use crate::types::{ChatRequest, InvalidRequest, RawObject};

/// Hints and bookkeeping fields Converse has no equivalent for.
const DROPPED: &[&str] = &[
    "seed",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "min_p",
    "top_a",
    // End-user ids and OpenAI's stored-completion tags.
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "prediction",
    "verbosity",
];

/// Fields that ask for something Converse (through this adapter) cannot do.
const REFUSED: &[(&str, &str)] = &[
    (
        "functions",
        "legacy `functions` are not translated for Bedrock; use `tools`",
    ),
    (
        "function_call",
        "legacy `function_call` is not translated for Bedrock; use `tool_choice`",
    ),
    (
        "web_search_options",
        "web search is not available through Bedrock's Converse API",
    ),
    ("audio", "Bedrock's Converse API does not produce audio"),
];

/// Claude on Bedrock: the inference profile or model id names it (`us.anthropic.claude-…`,
/// `anthropic.claude-…`, or an ARN ending in one). Application inference profile ARNs do not
/// name their model and count as "other models".
pub fn is_claude(model: &str) -> bool {
    model.contains("anthropic.claude")
}

fn present(body: &RawObject, key: &str) -> bool {
    body.get(key)
        .is_some_and(|v| !matches!(v.get(), "null" | "false" | "{}" | "[]" | "\"\""))
}

/// Set at all: for refused fields even `{}` asks for something (web search with defaults).
fn set(body: &RawObject, key: &str) -> bool {
    body.get(key)
        .is_some_and(|v| !matches!(v.get(), "null" | "[]"))
}

fn refuse(param: &'static str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), "unsupported_parameter")
}

/// Request fields outside the typed view that matter: refuses those whose absence would
/// change the result, and reads OpenRouter's `include_reasoning`.
pub fn extras(body: &RawObject) -> Result<Extras, InvalidRequest> {
    for (key, why) in REFUSED {
        if set(body, key) {
            return Err(refuse(key, *why));
        }
    }
    let other_output = body
        .get_as::<Vec<String>>("modalities")
        .and_then(Result::ok)
        .is_some_and(|m| m.iter().any(|m| m != "text"));
    if other_output {
        return Err(refuse(
            "modalities",
            "only text output is available through Bedrock's Converse API",
        ));
    }
    let include_reasoning = match body.get_as::<Value>("include_reasoning") {
        Some(Ok(Value::Bool(b))) => Some(b),
        _ => None,
    };
    Ok(Extras {
        safety_identifier: None,
        include_reasoning,
    })
}

/// Refusals that depend on typed values.
pub fn refuse_params(p: &ChatParams) -> Result<(), InvalidRequest> {
    crate::providers::refuse_choices_and_logprobs(p, "Bedrock's Converse API")
}

/// The thinking budget for this model: Claude's, per the Anthropic adapter's mapping; other
/// models have no thinking switch in Converse, so none (and the parameter is reported).
pub fn thinking_budget(
    p: &ChatParams,
    extras: &Extras,
    claude_model: bool,
) -> Result<Option<u64>, InvalidRequest> {
    let budget = claude::thinking_budget(p, extras)?;
    Ok(budget.filter(|_| claude_model))
}

/// Sampling values sent upstream, and the parameters changed or left out. Converse takes
/// temperature 0–1 for every model (higher values are clamped to 1); Claude's thinking limits
/// apply (see the Anthropic adapter); `top_k` only reaches Claude models.
pub fn sampling(
    p: &ChatParams,
    thinking: bool,
    claude_model: bool,
) -> (claude::Sampling, Vec<&'static str>) {
    let (mut s, mut changed) = claude::sampling(p, thinking);
    if !claude_model && s.top_k.take().is_some() {
        changed.push("top_k");
    }
    (s, changed)
}

/// The conversation already holds tool calls or results: Converse then needs `toolConfig`.
pub fn has_tool_history(p: &ChatParams) -> bool {
    p.messages.iter().any(|m| match m {
        Message::Tool { .. } => true,
        Message::Assistant { tool_calls, .. } => tool_calls.as_ref().is_some_and(|c| !c.is_empty()),
        _ => false,
    })
}

/// `tool_choice: "none"` cannot be expressed when the conversation has tool blocks: the tools
/// must stay (Converse requires them then) and the model may still call one.
pub fn tool_choice_none_kept_tools(p: &ChatParams) -> bool {
    let tools = p.tools.as_ref().is_some_and(|t| !t.is_empty());
    matches!(&p.tool_choice, Some(ToolChoice::Mode(m)) if m == "none")
        && tools
        && has_tool_history(p)
}

/// Every parameter left out or changed for this request, in a stable order.
pub fn dropped(chat: &ChatRequest, model: &str) -> Vec<&'static str> {
    let body = &chat.body;
    let (Ok(p), Ok(extras)) = (ChatParams::from_body(body), extras(body)) else {
        return Vec::new();
    };
    let claude_model = is_claude(model);
    let mut out: Vec<&'static str> = DROPPED
        .iter()
        .copied()
        .filter(|k| present(body, k))
        .collect();
    // Converse cannot be told to make one tool call at a time.
    if body
        .get("parallel_tool_calls")
        .is_some_and(|v| v.get() == "false")
    {
        out.push("parallel_tool_calls");
    }
    if tool_choice_none_kept_tools(&p) {
        out.push("tool_choice");
    }
    let asked = matches!(claude::thinking_budget(&p, &extras), Ok(Some(_)));
    if asked && !claude_model {
        for key in ["reasoning", "reasoning_effort", "include_reasoning"] {
            if present(body, key) {
                out.push(key);
            }
        }
    }
    let thinking = asked && claude_model;
    out.extend(sampling(&p, thinking, claude_model).1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    const LLAMA: &str = "meta.llama3-70b-instruct-v1:0";

    fn req(extra: &str) -> ChatRequest {
        ChatRequest::parse(
            format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}]{extra}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn claude_is_recognised_in_ids_profiles_and_arns() {
        assert!(is_claude(CLAUDE));
        assert!(is_claude("anthropic.claude-3-haiku-20240307-v1:0"));
        assert!(is_claude(
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
        ));
        assert!(!is_claude(LLAMA));
        assert!(!is_claude("amazon.nova-pro-v1:0"));
    }

    #[test]
    fn hints_are_dropped_and_named() {
        assert!(dropped(&req(""), CLAUDE).is_empty());
        assert!(dropped(
            &req(r#","store":false,"parallel_tool_calls":true,"top_k":5"#),
            CLAUDE
        )
        .is_empty());
        assert_eq!(
            dropped(
                &req(
                    r#","seed":1,"user":"u","logit_bias":{"1":2},"parallel_tool_calls":false,"temperature":1.5"#
                ),
                CLAUDE
            ),
            vec![
                "seed",
                "logit_bias",
                "user",
                "parallel_tool_calls",
                "temperature"
            ]
        );
    }

    #[test]
    fn model_dependent_drops() {
        assert_eq!(dropped(&req(r#","top_k":5"#), LLAMA), vec!["top_k"]);
        assert_eq!(
            dropped(&req(r#","reasoning_effort":"low""#), LLAMA),
            vec!["reasoning_effort"]
        );
        assert!(dropped(&req(r#","reasoning_effort":"low""#), CLAUDE).is_empty());
        assert_eq!(
            dropped(
                &req(r#","reasoning_effort":"low","temperature":0.3,"top_k":3"#),
                CLAUDE
            ),
            vec!["temperature", "top_k"],
            "Claude's thinking only takes default sampling"
        );
    }

    #[test]
    fn tool_choice_none_with_tool_history_keeps_the_tools_and_says_so() {
        let history = r#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none","messages":[
            {"role":"user","content":"x"},
            {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c","content":"r"}]"#;
        let chat = ChatRequest::parse(format!(r#"{{"model":"m"{history}}}"#).as_bytes()).unwrap();
        assert_eq!(dropped(&chat, CLAUDE), vec!["tool_choice"]);
        assert!(dropped(
            &req(r#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none""#),
            CLAUDE
        )
        .is_empty());
    }

    #[test]
    fn result_changing_parameters_are_refused_by_name() {
        for (extra, param) in [
            (r#","n":2"#, "n"),
            (r#","logprobs":true"#, "logprobs"),
            (r#","top_logprobs":3"#, "top_logprobs"),
            (r#","audio":{"voice":"alloy","format":"wav"}"#, "audio"),
            (r#","modalities":["text","audio"]"#, "modalities"),
            (r#","web_search_options":{}"#, "web_search_options"),
            (r#","functions":[{"name":"f"}]"#, "functions"),
        ] {
            let chat = req(extra);
            let e = extras(&chat.body)
                .and_then(|_| refuse_params(&ChatParams::from_body(&chat.body).unwrap()))
                .expect_err(extra);
            assert_eq!(e.param, Some(param), "{extra}");
            assert_eq!(e.code, "unsupported_parameter");
        }
        let chat = req(r#","n":1,"logprobs":false,"modalities":["text"],"audio":null"#);
        assert!(extras(&chat.body).is_ok());
        assert!(refuse_params(&ChatParams::from_body(&chat.body).unwrap()).is_ok());
    }
}
