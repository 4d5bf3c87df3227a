//! Requests for OpenAI's operations that have no canonical chat form and pass through to
//! the upstreams that serve them: embeddings and legacy text completions. Parsed one level
//! deep, validated, and split into the gateway's own fields and the body forwarded as sent.

use serde::Deserialize;

use super::attribution::{attribution, Attribution, UserField};

use super::chat::{
    parse_body, routing_fields, InvalidRequest, ProviderPreferences, RoutingFields, GATEWAY_FIELDS,
};
use super::json::RawObject;

#[derive(Debug, Clone)]
pub struct OpRequest {
    /// The client's body minus the gateway's fields (`model` included: the adapter sets it).
    pub body: RawObject,
    pub model: Option<String>,
    pub models: Vec<String>,
    pub provider: ProviderPreferences,
    pub stream: bool,
    pub include_usage: bool,
    /// Byte length of the input (`input` or `prompt`), for estimates.
    pub input_bytes: usize,
    pub max_output_tokens: Option<u64>,
    pub attribution: Attribution,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

fn invalid(message: impl Into<String>, param: &'static str, code: &'static str) -> InvalidRequest {
    InvalidRequest::new(message, Some(param), code)
}

/// The fields every operation shares: the body, model and OpenRouter's routing fields.
fn common(mut body: RawObject) -> Result<OpRequest, InvalidRequest> {
    let RoutingFields {
        model,
        models,
        provider,
    } = routing_fields(&body, "openai/text-embedding-3-small")?;
    let attribution = attribution(&body, UserField::User)?;
    let stream = match body.get_as::<Option<bool>>("stream") {
        None => false,
        Some(Ok(v)) => v.unwrap_or(false),
        Some(Err(_)) => {
            return Err(invalid(
                "`stream` must be a boolean",
                "stream",
                "invalid_type",
            ))
        }
    };
    let include_usage = match body.get_as::<Option<StreamOptions>>("stream_options") {
        None => false,
        Some(Ok(v)) => v.and_then(|o| o.include_usage).unwrap_or(false),
        Some(Err(_)) => {
            return Err(invalid(
                "`stream_options` must be an object",
                "stream_options",
                "invalid_type",
            ))
        }
    };
    let max_output_tokens = body.get_as::<u64>("max_tokens").and_then(Result::ok);
    for field in GATEWAY_FIELDS {
        body.remove(field);
    }
    Ok(OpRequest {
        attribution,
        body,
        model,
        models,
        provider,
        stream,
        include_usage,
        input_bytes: 0,
        max_output_tokens,
    })
}

/// True for a string, or a non-empty array of strings, of token ids, or of token-id arrays.
fn text_or_tokens(raw: crate::types::RawRef<'_>) -> bool {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        One(String),
        Many(Vec<String>),
        Tokens(Vec<u32>),
        Batches(Vec<Vec<u32>>),
    }
    match serde_json::from_str::<Input>(raw.get()) {
        Ok(Input::One(s)) => !s.is_empty(),
        Ok(Input::Many(v)) => !v.is_empty(),
        Ok(Input::Tokens(v)) => !v.is_empty(),
        Ok(Input::Batches(v)) => !v.is_empty() && v.iter().all(|b| !b.is_empty()),
        Err(_) => false,
    }
}

impl OpRequest {
    /// `POST /v1/embeddings`: `input` (a string, strings, or token ids), `encoding_format`
    /// (`float` or `base64`), `dimensions`.
    pub fn embeddings(bytes: &[u8]) -> Result<OpRequest, InvalidRequest> {
        Self::embeddings_from(parse_body(bytes)?)
    }

    /// As `embeddings`, for a body parsed one level deep.
    pub fn embeddings_from(body: RawObject) -> Result<OpRequest, InvalidRequest> {
        let mut r = common(body)?;
        let input = r.body.get("input").ok_or_else(|| {
            invalid(
                "`input` is required: a string or an array of strings",
                "input",
                "missing_required_parameter",
            )
        })?;
        if !text_or_tokens(input) {
            return Err(invalid(
                "`input` must be a non-empty string, array of strings, or array of token ids",
                "input",
                "invalid_value",
            ));
        }
        r.input_bytes = input.get().len();
        match r.body.get_as::<Option<String>>("encoding_format") {
            None | Some(Ok(None)) => {}
            Some(Ok(Some(f))) if f == "float" || f == "base64" => {}
            _ => {
                return Err(invalid(
                    "`encoding_format` must be `float` or `base64`",
                    "encoding_format",
                    "invalid_value",
                ))
            }
        }
        if let Some(d) = r.body.get("dimensions").filter(|d| d.get() != "null") {
            if !serde_json::from_str::<u32>(d.get()).is_ok_and(|d| d > 0) {
                return Err(invalid(
                    "`dimensions` must be a positive integer",
                    "dimensions",
                    "invalid_value",
                ));
            }
        }
        if r.stream {
            return Err(invalid(
                "embeddings are not streamed",
                "stream",
                "invalid_value",
            ));
        }
        Ok(r)
    }

    /// `POST /v1/completions` (legacy): `prompt` as a string, strings or token ids.
    pub fn completions(bytes: &[u8]) -> Result<OpRequest, InvalidRequest> {
        Self::completions_from(parse_body(bytes)?)
    }

    /// As `completions`, for a body parsed one level deep.
    pub fn completions_from(body: RawObject) -> Result<OpRequest, InvalidRequest> {
        let mut r = common(body)?;
        let prompt = r.body.get("prompt").ok_or_else(|| {
            invalid(
                "`prompt` is required: a string or an array of strings",
                "prompt",
                "missing_required_parameter",
            )
        })?;
        if !text_or_tokens(prompt) {
            return Err(invalid(
                "`prompt` must be a non-empty string, array of strings, or array of token ids",
                "prompt",
                "invalid_value",
            ));
        }
        r.input_bytes = prompt.get().len();
        Ok(r)
    }

    /// The embedding inputs as texts, for adapters that translate (token ids are refused
    /// there: they belong to one tokenizer).
    pub fn texts(&self) -> Result<Vec<String>, InvalidRequest> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Texts {
            One(String),
            Many(Vec<String>),
        }
        match self.body.get_as::<Texts>("input") {
            Some(Ok(Texts::One(s))) => Ok(vec![s]),
            Some(Ok(Texts::Many(v))) => Ok(v),
            _ => Err(invalid(
                "this provider embeds text only: send `input` as a string or strings",
                "input",
                "unsupported_value",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_inputs() {
        for ok in [
            r#"{"model":"m","input":"hi"}"#,
            r#"{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8}"#,
            r#"{"model":"m","input":[1,2,3]}"#,
            r#"{"model":"m","input":[[1],[2,3]]}"#,
            r#"{"models":["m"],"input":"x","provider":{"order":["p"]}}"#,
        ] {
            let r = OpRequest::embeddings(ok.as_bytes()).expect(ok);
            assert!(r.body.get("provider").is_none() && r.body.get("model").is_none());
        }
        for (bad, param) in [
            (r#"{"model":"m"}"#, "input"),
            (r#"{"model":"m","input":[]}"#, "input"),
            (r#"{"model":"m","input":{"a":1}}"#, "input"),
            (
                r#"{"model":"m","input":"x","encoding_format":"hex"}"#,
                "encoding_format",
            ),
            (r#"{"model":"m","input":"x","dimensions":0}"#, "dimensions"),
            (r#"{"input":"x"}"#, "model"),
            (r#"{"model":"m","input":"x","stream":true}"#, "stream"),
        ] {
            let e = OpRequest::embeddings(bad.as_bytes()).expect_err(bad);
            assert_eq!(e.param, Some(param), "{bad}: {}", e.message);
        }
        let r = OpRequest::embeddings(br#"{"model":"m","input":["a","b"]}"#).unwrap();
        assert_eq!(r.texts().unwrap(), vec!["a", "b"]);
        let r = OpRequest::embeddings(br#"{"model":"m","input":[1,2]}"#).unwrap();
        assert!(r.texts().is_err());
    }

    #[test]
    fn completions_prompt_and_stream_options() {
        let r = OpRequest::completions(
            br#"{"model":"m","prompt":"Once","stream":true,"stream_options":{"include_usage":true},"max_tokens":5}"#,
        )
        .unwrap();
        assert!(r.stream && r.include_usage);
        assert_eq!(r.max_output_tokens, Some(5));
        let e = OpRequest::completions(br#"{"model":"m"}"#).unwrap_err();
        assert_eq!(e.param, Some("prompt"));
    }
}
