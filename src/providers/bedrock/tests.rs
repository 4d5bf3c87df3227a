//! The adapter's configuration: URLs, regions, credentials and the headers it signs.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::types::registry::ProviderKind;
use crate::types::ChatRequest;

const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn decl() -> ProviderDecl {
    ProviderDecl {
        region: Some("eu-west-3".into()),
        access_key_env: Some("T_ACCESS".into()),
        secret_key_env: Some("T_SECRET".into()),
        ..ProviderDecl::new("bedrock", ProviderKind::Bedrock)
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn build(
    d: &ProviderDecl,
    api_key: Option<&str>,
    vars: &[(&str, &str)],
) -> Result<Bedrock, String> {
    Bedrock::with_env(
        d,
        api_key.map(str::to_owned),
        reqwest::Client::new(),
        env(vars),
    )
}

const KEYS: &[(&str, &str)] = &[("T_ACCESS", "AKIDTEST"), ("T_SECRET", "secret")];

#[test]
fn urls_default_to_the_regional_endpoint_and_encode_the_model() {
    let d = decl();
    assert!(d.validate().is_ok(), "base_url is optional for bedrock");
    let b = build(&d, None, KEYS).unwrap();
    assert_eq!(
        b.url(CLAUDE, false),
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    );
    assert_eq!(
        b.url("arn:aws:bedrock:eu-west-3:123:application-inference-profile/abc", true),
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123%3Aapplication-inference-profile%2Fabc/converse-stream"
    );
    let d = ProviderDecl {
        base_url: Some("http://127.0.0.1:9/".into()),
        ..decl()
    };
    assert_eq!(
        build(&d, None, KEYS).unwrap().url("m", false),
        "http://127.0.0.1:9/model/m/converse"
    );
}

#[test]
fn the_region_comes_from_the_declaration_or_the_environment() {
    let no_region = ProviderDecl {
        region: None,
        ..decl()
    };
    let vars = |extra: &[(&'static str, &'static str)]| [KEYS, extra].concat();
    assert_eq!(
        build(
            &no_region,
            None,
            &vars(&[("AWS_DEFAULT_REGION", "us-west-2")])
        )
        .unwrap()
        .region,
        "us-west-2"
    );
    assert_eq!(
        build(
            &no_region,
            None,
            &vars(&[
                ("AWS_DEFAULT_REGION", "us-west-2"),
                ("AWS_REGION", "ap-south-1")
            ])
        )
        .unwrap()
        .region,
        "ap-south-1"
    );
    let e = build(&no_region, None, KEYS).err().unwrap();
    assert!(e.contains("no AWS region"), "{e}");
    let e = build(&no_region, None, &vars(&[("AWS_REGION", "evil.example/x")]))
        .err()
        .unwrap();
    assert!(e.contains("not an AWS region"), "{e}");
}

#[test]
fn credentials_prefer_explicit_configuration() {
    // Named variables win over the ambient bearer token.
    let b = build(&decl(), None, &[KEYS, &[(BEARER_TOKEN_ENV, "bk")]].concat()).unwrap();
    assert!(
        matches!(&b.auth, Auth::SigV4(s) if s.current().is_ok_and(|c| c.access_key_id == "AKIDTEST" && c.session_token.is_none()))
    );
    // An API key from api_key_env wins over everything.
    let b = build(&decl(), Some("abc"), KEYS).unwrap();
    assert!(matches!(&b.auth, Auth::Bearer(v) if v == "Bearer abc" && v.is_sensitive()));
    // Named but unset: inactive, saying which.
    let e = build(&decl(), None, &[("T_ACCESS", "AKIDTEST")])
        .err()
        .unwrap();
    assert_eq!(e, "environment variable T_SECRET is not set");

    let plain = ProviderDecl {
        access_key_env: None,
        secret_key_env: None,
        ..decl()
    };
    let b = build(
        &plain,
        None,
        &[(BEARER_TOKEN_ENV, "bk"), ("AWS_ACCESS_KEY_ID", "A")],
    )
    .unwrap();
    assert!(matches!(&b.auth, Auth::Bearer(v) if v == "Bearer bk"));
    let b = build(
        &plain,
        None,
        &[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_SESSION_TOKEN", "T"),
        ],
    )
    .unwrap();
    assert!(
        matches!(&b.auth, Auth::SigV4(s) if s.current().is_ok_and(|c| c.session_token.as_deref() == Some("T")))
    );
    let e = build(&plain, None, &[("AWS_ACCESS_KEY_ID", "A")])
        .err()
        .unwrap();
    assert!(e.starts_with("no AWS credentials"), "{e}");
}

#[test]
fn sigv4_headers_are_complete_and_verifiable() {
    let d = ProviderDecl {
        session_token_env: Some("T_TOKEN".into()),
        base_url: Some("http://127.0.0.1:4567".into()),
        headers: [("x-extra".to_owned(), "1".to_owned())].into(),
        ..decl()
    };
    let b = build(&d, None, &[KEYS, &[("T_TOKEN", "tok")]].concat()).unwrap();
    let url = reqwest::Url::parse(&b.url(CLAUDE, true)).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let h = b.request_headers(&url, b"{}", true, now).unwrap();
    assert_eq!(h["x-amz-date"], "20150830T123600Z");
    assert_eq!(h["x-amz-security-token"], "tok");
    assert_eq!(h["accept"], EVENT_STREAM);
    assert_eq!(h["x-extra"], "1");
    let auth = h["authorization"].to_str().unwrap();
    assert!(h["authorization"].is_sensitive());
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/20150830/eu-west-3/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
        "{auth}"
    );
    // What a server recomputes from the request it received.
    let expected = sign::authorization(
        &sign::Credentials {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        },
        &sign::Scope {
            amz_date: "20150830T123600Z",
            region: "eu-west-3",
            service: "bedrock",
        },
        &sign::Request {
            method: "POST",
            path: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream",
            query: "",
            headers: &[
                ("Content-Type", "application/json"),
                ("Host", "127.0.0.1:4567"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("X-Amz-Security-Token", "tok"),
            ],
            body: b"{}",
        },
    );
    assert_eq!(auth, expected);
}

#[test]
fn requests_bedrock_cannot_express_are_unsupported() {
    let b = build(&decl(), Some("k"), &[]).unwrap();
    let chat = ChatRequest::parse(
        br#"{"model":"m","n":3,"seed":4,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .unwrap();
    let req = AttemptRequest {
        chat: &chat,
        upstream_model: CLAUDE,
        trace: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match rt.block_on(b.body(&req)) {
        Err(ProviderError::Unsupported(e)) => assert_eq!(e.param, Some("n")),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.dropped_params(req), vec!["seed"]);
}
