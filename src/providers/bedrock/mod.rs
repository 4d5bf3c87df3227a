//! Adapter for AWS Bedrock's Converse API: `POST {base}/model/{modelId}/converse` (JSON) and
//! `/converse-stream` (AWS's binary event stream). Requests are translated from the typed
//! OpenAI view (`convert`), answers and streams back into OpenAI's shape (`convert`, `stream`
//! over `eventstream` frames); parameters without a Converse slot are dropped and reported or
//! refused (`capabilities`); failures keep Bedrock's class, status and reason (`errors`).
//!
//! Auth is SigV4 (`sign`, service `bedrock`) with credentials from the environment, or a
//! Bedrock API key as a bearer token. Credentials are read when the adapter is built, that is
//! when the registry is loaded: rotated credentials take effect after a registry reload (any
//! admin change) or a restart.

mod capabilities;
mod convert;
mod credentials;
mod errors;
pub mod eventstream;
mod native;
pub mod sign;
mod stream;
mod wire;

use std::time::SystemTime;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};

use super::gemini::fetch::{self, Fetched, Limits};
use super::http;
use super::{
    AttemptRequest, Chunk, ChunkStream, Completion, NativeRequest, Protocol, Provider,
    ProviderError,
};
use crate::telemetry::propagate::Upstream;
use crate::types::openai::{ChatParams, ChunkOut};
use crate::types::registry::ProviderDecl;
use crate::types::{now_ms, RawObject};
use convert::{Options, ResponseMode};
use eventstream::Decoder;
use stream::Translator;
use wire::{ConverseResponse, StreamEvent};

/// The signing name of Bedrock's runtime API.
pub const SERVICE: &str = "bedrock";
/// The variable AWS SDKs read a Bedrock API key from.
pub const BEARER_TOKEN_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// Converse takes images of at most 3.75 MB.
const IMAGE_LIMITS: Limits = Limits {
    provider: "Bedrock",
    max_bytes: 3_932_160,
};

/// The public runtime endpoint of a region.
pub fn default_base_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// How requests prove who the gateway is.
#[derive(Clone)]
enum Auth {
    SigV4(std::sync::Arc<credentials::Source>),
    /// `Authorization: Bearer <Bedrock API key>`, marked sensitive.
    Bearer(HeaderValue),
}

pub struct Bedrock {
    client: reqwest::Client,
    limits: http::UpstreamLimits,
    base: String,
    region: String,
    auth: Auth,
    /// Declared extra headers (sent, not signed).
    headers: HeaderMap,
    default_max_tokens: Option<u64>,
    fetch_policy: fetch::FetchPolicy,
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The region: the declaration's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
fn resolve_region(
    decl: &ProviderDecl,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let (region, source) = match &decl.region {
        Some(r) => (r.clone(), "region"),
        None => match (env("AWS_REGION"), env("AWS_DEFAULT_REGION")) {
            (Some(r), _) => (r, "AWS_REGION"),
            (None, Some(r)) => (r, "AWS_DEFAULT_REGION"),
            (None, None) => {
                return Err("no AWS region: set `region` on the provider, or AWS_REGION".to_owned())
            }
        },
    };
    let region = region.trim().to_owned();
    if !valid_region(&region) {
        return Err(format!("{source} `{region}` is not an AWS region name"));
    }
    Ok(region)
}

/// Credentials, explicit configuration first: `api_key_env` (a Bedrock API key), then
/// `access_key_env`/`secret_key_env`, then the standard variables (`AWS_BEARER_TOKEN_BEDROCK`,
/// then `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` with `AWS_SESSION_TOKEN`).
fn resolve_auth(
    decl: &ProviderDecl,
    api_key: Option<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Auth, String> {
    let bearer = |key: &str| {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", key.trim()))
            .map_err(|_| "the Bedrock API key contains characters not allowed in a header")?;
        v.set_sensitive(true);
        Ok::<_, String>(Auth::Bearer(v))
    };
    let required =
        |var: &str| env(var).ok_or_else(|| format!("environment variable {var} is not set"));
    if let Some(key) = api_key {
        return bearer(&key);
    }
    if let Some(path) = &decl.credentials_file {
        let profile = decl.credentials_profile.as_deref().unwrap_or("default");
        return credentials::CredentialsFile::open(path, profile)
            .map(|f| Auth::SigV4(std::sync::Arc::new(credentials::Source::File(f))));
    }
    if let (Some(a), Some(s)) = (&decl.access_key_env, &decl.secret_key_env) {
        let token_var = decl
            .session_token_env
            .as_deref()
            .unwrap_or("AWS_SESSION_TOKEN");
        return Ok(Auth::SigV4(std::sync::Arc::new(
            credentials::Source::Fixed(sign::Credentials {
                access_key_id: required(a)?,
                secret_access_key: required(s)?,
                session_token: env(token_var),
            }),
        )));
    }
    if let Some(key) = env(BEARER_TOKEN_ENV) {
        return bearer(&key);
    }
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Ok(Auth::SigV4(std::sync::Arc::new(credentials::Source::Fixed(sign::Credentials {
                access_key_id,
                secret_access_key,
                session_token: env(
                    decl.session_token_env
                        .as_deref()
                        .unwrap_or("AWS_SESSION_TOKEN"),
                ),
            }))))
        }
        _ => Err(format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or name others with access_key_env/secret_key_env), or a Bedrock API key in {BEARER_TOKEN_ENV} (or api_key_env)"
        )),
    }
}

impl Bedrock {
    /// Caps what one upstream answer may hold in memory.
    pub fn with_limits(mut self, limits: http::UpstreamLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn new(
        decl: &ProviderDecl,
        api_key: Option<String>,
        client: reqwest::Client,
    ) -> Result<Self, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self::with_env(decl, api_key, client, env)
    }

    /// `new` with the environment as a function, so tests need not touch process variables.
    fn with_env(
        decl: &ProviderDecl,
        api_key: Option<String>,
        client: reqwest::Client,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let region = resolve_region(decl, &env)?;
        let auth = resolve_auth(decl, api_key, &env)?;
        let base = match &decl.base_url {
            Some(b) => b.trim_end_matches('/').to_owned(),
            None => default_base_url(&region),
        };
        reqwest::Url::parse(&base).map_err(|e| format!("base_url `{base}`: {e}"))?;
        let mut headers = HeaderMap::new();
        http::declared_headers(decl, &mut headers)?;
        Ok(Bedrock {
            client,
            limits: http::UpstreamLimits::default(),
            base,
            region,
            auth,
            headers,
            default_max_tokens: decl.default_max_tokens,
            fetch_policy: fetch::FetchPolicy {
                allow_private: decl.allow_private_image_urls,
            },
        })
    }

    /// The model id goes into the path percent-encoded (`:` → `%3A`, an ARN's `/` → `%2F`).
    fn url(&self, model: &str, stream: bool) -> String {
        let op = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        format!("{}/model/{}/{op}", self.base, sign::uri_encode(model))
    }

    /// The translated body and how to read the answer. A request this adapter cannot express
    /// is `Unsupported`, so another endpoint may still serve it.
    async fn body(
        &self,
        req: &AttemptRequest<'_>,
    ) -> Result<(Vec<u8>, ResponseMode), ProviderError> {
        let extras = capabilities::extras(&req.chat.body).map_err(ProviderError::Unsupported)?;
        let params = ChatParams::from_body(&req.chat.body).map_err(ProviderError::Unsupported)?;
        capabilities::refuse_params(&params).map_err(ProviderError::Unsupported)?;
        let urls = fetch::image_urls(&params).map_err(ProviderError::Unsupported)?;
        let fetched = if urls.is_empty() {
            Fetched::new()
        } else {
            fetch::fetch_all_with(
                urls,
                self.fetch_policy,
                IMAGE_LIMITS,
                &req.chat.images,
                self.limits,
            )
            .await
            .map_err(ProviderError::Unsupported)?
        };
        let t = convert::request(
            &params,
            &extras,
            &fetched,
            Options {
                model: req.upstream_model,
                default_max_tokens: self.default_max_tokens,
            },
        )
        .map_err(ProviderError::Unsupported)?;
        let bytes = serde_json::to_vec(&t.body)
            .map_err(|e| ProviderError::Malformed(format!("could not encode the request: {e}")))?;
        Ok((bytes, t.mode))
    }

    /// The request headers, signed for this URL and body when the auth is SigV4.
    fn request_headers(
        &self,
        url: &reqwest::Url,
        body: &[u8],
        stream: bool,
        now: SystemTime,
    ) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static(if stream {
                EVENT_STREAM
            } else {
                "application/json"
            }),
        );
        match &self.auth {
            Auth::Bearer(v) => {
                headers.insert(AUTHORIZATION, v.clone());
            }
            Auth::SigV4(source) => {
                let creds = &source.current()?;
                let host = match (url.host_str(), url.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_owned(),
                    (None, _) => {
                        return Err(http::config_error(format!("no host in {url}")));
                    }
                };
                let amz_date = sign::amz_date(now);
                let mut signed = vec![
                    ("content-type", "application/json"),
                    ("host", host.as_str()),
                    ("x-amz-date", amz_date.as_str()),
                ];
                if let Some(token) = &creds.session_token {
                    signed.push(("x-amz-security-token", token.as_str()));
                }
                let authorization = sign::authorization(
                    creds,
                    &sign::Scope {
                        amz_date: &amz_date,
                        region: &self.region,
                        service: SERVICE,
                    },
                    &sign::Request {
                        method: "POST",
                        path: url.path(),
                        query: url.query().unwrap_or(""),
                        headers: &signed,
                        body,
                    },
                );
                let value = |s: &str| {
                    HeaderValue::from_str(s).map_err(|_| {
                        http::config_error(
                            "the AWS credentials contain characters not allowed in a header".into(),
                        )
                    })
                };
                headers.insert("x-amz-date", value(&amz_date)?);
                let mut auth = value(&authorization)?;
                auth.set_sensitive(true);
                headers.insert(AUTHORIZATION, auth);
                if let Some(token) = &creds.session_token {
                    let mut t = value(token)?;
                    t.set_sensitive(true);
                    headers.insert("x-amz-security-token", t);
                }
            }
        }
        for (n, v) in &self.headers {
            headers.insert(n.clone(), v.clone());
        }
        Ok(headers)
    }

    async fn send(
        &self,
        model: &str,
        stream: bool,
        body: Vec<u8>,
        trace: Option<&Upstream<'_>>,
    ) -> Result<reqwest::Response, ProviderError> {
        let url = self.url(model, stream);
        let url = reqwest::Url::parse(&url)
            .map_err(|e| http::config_error(format!("invalid upstream URL {url}: {e}")))?;
        let headers = self.request_headers(&url, &body, stream, SystemTime::now())?;
        let resp = http::send(self.client.post(url).headers(headers).body(body), trace)
            .await
            .map_err(http::transport_error)?;
        if !resp.status().is_success() {
            return Err(errors::from_response(resp).await);
        }
        Ok(resp)
    }
}

/// Bedrock answers carry no id; its request id stands in (or a fresh one, should a proxy
/// have dropped the header).
fn request_id(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn fresh_id() -> String {
    format!(
        "bedrock-{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

#[async_trait]
impl Provider for Bedrock {
    async fn complete(&self, req: AttemptRequest<'_>) -> Result<Completion, ProviderError> {
        let (body, mode) = self.body(&req).await?;
        let resp = self
            .send(req.upstream_model, false, body, req.trace)
            .await?;
        let upstream_id = request_id(&resp);
        let bytes = http::read_capped(resp, self.limits.max_response_bytes).await?;
        let parsed: ConverseResponse = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::Malformed(format!(
                "response is not a Converse response ({e}): {}",
                http::truncate(&String::from_utf8_lossy(&bytes), 200)
            ))
        })?;
        let out = convert::response(
            parsed,
            mode,
            upstream_id.clone().unwrap_or_else(fresh_id),
            req.upstream_model,
            now_ms() / 1000,
        );
        let usage = out.usage.clone();
        let body = RawObject::from_serialize(&out).map_err(|e| {
            ProviderError::Malformed(format!("could not encode the completion: {e}"))
        })?;
        Ok(Completion {
            body,
            usage,
            upstream_id,
            native: None,
        })
    }

    async fn stream(&self, req: AttemptRequest<'_>) -> Result<ChunkStream, ProviderError> {
        let (body, mode) = self.body(&req).await?;
        let resp = self.send(req.upstream_model, true, body, req.trace).await?;
        let id = request_id(&resp).unwrap_or_else(fresh_id);
        let mut translator = Translator::new(id, req.upstream_model, mode, now_ms() / 1000);
        let mut bytes = resp.bytes_stream();
        let mut decoder = Decoder::new();
        let chunks = async_stream::stream! {
            loop {
                let (result, last) = match decoder.next_message() {
                    Ok(Some(m)) => match StreamEvent::from_message(&m) {
                        Ok(event) => (translator.step(event), false),
                        Err(e) => (Err(ProviderError::Malformed(format!("stream event: {e}"))), true),
                    },
                    Err(e) => (Err(e), true),
                    Ok(None) => match bytes.next().await {
                        Some(Ok(part)) => {
                            decoder.push(&part);
                            continue;
                        }
                        // A broken body is only an error if the answer was not finished.
                        Some(Err(e)) => (translator.end().map_err(|_| http::transport_error(e)), true),
                        None => (translator.end(), true),
                    },
                };
                match result {
                    Ok(out) => {
                        for c in &out {
                            yield to_chunk(c);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        break;
                    }
                }
                if last || translator.is_done() {
                    break;
                }
            }
        };
        Ok(Box::pin(chunks))
    }

    fn dropped_params(&self, req: AttemptRequest<'_>) -> Vec<&'static str> {
        capabilities::dropped(req.chat, req.upstream_model)
    }

    fn speaks(&self, protocol: Protocol, upstream_model: &str) -> bool {
        protocol == Protocol::AnthropicMessages && native::is_claude(upstream_model)
    }

    async fn complete_native(&self, req: NativeRequest<'_>) -> Result<Completion, ProviderError> {
        self.native_complete(req).await
    }

    async fn stream_native(&self, req: NativeRequest<'_>) -> Result<ChunkStream, ProviderError> {
        self.native_stream(req).await
    }
}

fn to_chunk(c: &ChunkOut) -> Result<Chunk, ProviderError> {
    let body = RawObject::from_serialize(c)
        .map_err(|e| ProviderError::Malformed(format!("could not encode a chunk: {e}")))?;
    Chunk::inspect(body)
}

/// Fuzzing entry point: a binary event-stream body, fed in `split`-byte pieces, through the
/// frame decoder and the stream translator, which must never panic (see `crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_stream(bytes: &[u8], split: usize) {
    let mut decoder = Decoder::new();
    let mut t = Translator::new("fuzz".into(), "m", convert::ResponseMode::default(), 0);
    for piece in bytes.chunks(split.max(1)) {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(m)) => {
                    let Ok(event) = StreamEvent::from_message(&m) else {
                        return;
                    };
                    if t.step(event).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = t.end();
}

#[cfg(test)]
mod tests;
