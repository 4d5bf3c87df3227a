//! The config file's parsing: fields, defaults, environment overrides and errors.

use super::*;

fn p(text: &str) -> Result<Settings, ConfigError> {
    parse(text, "test.toml", &EnvOverrides::default())
}

#[test]
fn empty_file_gets_defaults() {
    let s = p("").unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert!(s.require_keys);
    assert_eq!(&*s.database_url, DEFAULT_DATABASE_URL);
}

/// `Settings`' Debug held the raw database URL with its password.
#[test]
fn a_settings_dump_shows_no_database_password() {
    let env = EnvOverrides {
        database_url: Some("postgres://app:pw-in-userinfo@db/x?password=pw-in-query".into()),
        master_key: Some("the-master-key".into()),
        ..EnvOverrides::default()
    };
    let s = parse("", "test.toml", &env).unwrap();
    let dump = format!("{s:?}");
    for secret in ["pw-in-userinfo", "pw-in-query", "the-master-key"] {
        assert!(!dump.contains(secret), "{secret} in {dump}");
    }
    assert_eq!(
        &*s.database_url,
        "postgres://app:pw-in-userinfo@db/x?password=pw-in-query"
    );
}

#[test]
fn errors_name_file_and_field() {
    let e = p("[server]\nlisten = \"nope\"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.toml: server.listen: `nope` is not an address like 127.0.0.1:8080"
    );
    let e = p("[servr]\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `servr`"), "{e}");
    let e = p("[[providers]]\nid = 'x'\nkind = 'anthropicc'\n").unwrap_err();
    assert_eq!(e.field, "providers.kind (line 3)");
    assert!(e.problem.contains("anthropicc"), "{e}");
    let e = p("[[providers]]\nid='x'\nkind='openai'\n").unwrap_err();
    assert_eq!(e.field, "providers[0].base_url");
    let e = p("[[models]]\nslug='a/b'\n[[models.endpoints]]\nprovider='zz'\nupstream_model='m'\n")
        .unwrap_err();
    assert_eq!(e.field, "models[0].endpoints[0].provider");
}

#[test]
fn traces_follow_the_standard_variables_and_metrics_can_be_off() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(otlp_traces_endpoint(env(&[])), None);
    assert_eq!(
        otlp_traces_endpoint(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")])),
        Some("http://c:4318/v1/traces".into())
    );
    assert_eq!(
        otlp_traces_endpoint(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4318/x"),
        ])),
        Some("http://t:4318/x".into())
    );
    assert_eq!(
        otlp_traces_endpoint(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])),
        Some(String::new())
    );
    let on = "[traces]\nendpoint = 'http://c:4318/v1/traces'\n";
    assert_eq!(
        p(on).unwrap().traces.endpoint.as_deref(),
        Some("http://c:4318/v1/traces")
    );
    // The environment wins, and can switch the file's endpoint off.
    let off = EnvOverrides {
        otlp_traces_endpoint: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(parse(on, "t.toml", &off).unwrap().traces.endpoint, None);
    assert!(p("[traces]\nendpoint = 'c:4318'\n").is_err());
    // Content in spans: off unless opted in, by the file or the GenAI variable.
    assert!(!p(on).unwrap().traces.capture_content);
    let content = "[traces]\ncapture_content = true\ncontent_max_bytes = 4096\n";
    let t = p(content).unwrap().traces;
    assert!(t.capture_content);
    assert_eq!(t.content_max_bytes, 4096);
    assert!(p("[traces]\ncontent_max_bytes = 0\n").is_err());
    let genai = |v: &str| EnvOverrides {
        otel_capture_content: Some(v.into()),
        ..Default::default()
    };
    assert!(
        parse(on, "t.toml", &genai("TRUE"))
            .unwrap()
            .traces
            .capture_content
    );
    assert!(
        !parse(content, "t.toml", &genai("false"))
            .unwrap()
            .traces
            .capture_content
    );
    let e = parse(on, "t.toml", &genai("yes please")).unwrap_err();
    assert!(
        e.to_string()
            .contains("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
        "{e}"
    );
    assert!(p("").unwrap().metrics_enabled);
    assert!(!p("[metrics]\nenabled = false\n").unwrap().metrics_enabled);
    let env_off = EnvOverrides {
        metrics_enabled: Some("false".into()),
        ..Default::default()
    };
    assert!(!parse("", "t.toml", &env_off).unwrap().metrics_enabled);
}

#[test]
fn presets_are_validated_with_their_index() {
    let e = p("[[presets]]\nname = 'Bad'\n").unwrap_err();
    assert_eq!(e.field, "presets[0].name");
    let e = p("[[presets]]\nname = 'a'\nparameters = { temperature = 'hot' }\n").unwrap_err();
    assert_eq!(e.field, "presets[0].parameters.temperature");
    let e = p("[[presets]]\nname = 'a'\n[[presets]]\nname = 'a'\n").unwrap_err();
    assert_eq!(e.field, "presets[1].name");
    let e = p("[[presets]]\nname = 'a'\nsystem = 'x'\n").unwrap_err();
    assert!(e.field.starts_with("presets"), "{}", e.field);
    let s = p("[[presets]]\nname = 'a'\nmodel = 'm/x'\nprovider = { sort = 'price' }\nparameters = { max_tokens = 9 }\n").unwrap();
    assert_eq!(s.presets[0].parameters["max_tokens"], 9);
}

#[test]
fn anthropic_providers_need_no_base_url() {
    let s = p("[[providers]]\nid='claude'\nkind='anthropic'\ndefault_max_tokens=8192\n").unwrap();
    assert_eq!(s.providers[0].base_url, None);
    assert_eq!(s.providers[0].default_max_tokens, Some(8192));
    let e = p("[[providers]]\nid='c'\nkind='anthropic'\ndefault_max_tokens=0\n").unwrap_err();
    assert_eq!(e.field, "providers[0].default_max_tokens");
    let e =
        p("[[providers]]\nid='o'\nkind='openai'\nbase_url='http://a/v1'\ndefault_max_tokens=9\n")
            .unwrap_err();
    assert_eq!(e.field, "providers[0].default_max_tokens");
}

#[test]
fn bedrock_fields() {
    let s = p("[[providers]]\nid='aws'\nkind='bedrock'\nregion='us-east-1'\naccess_key_env='A'\nsecret_key_env='S'\nsession_token_env='T'\ndefault_max_tokens=2048\n").unwrap();
    let d = &s.providers[0];
    assert_eq!(d.base_url, None);
    assert_eq!(d.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        (d.access_key_env.as_deref(), d.secret_key_env.as_deref()),
        (Some("A"), Some("S"))
    );
    for (text, field) in [
        (
            "region='us-east-1'\nkind='openai'\nbase_url='http://a/v1'",
            "region",
        ),
        ("kind='bedrock'\nregion='us east'", "region"),
        ("kind='bedrock'\naccess_key_env='A'", "secret_key_env"),
        ("kind='bedrock'\nsecret_key_env='S'", "access_key_env"),
        ("kind='gemini'\nsession_token_env='T'", "session_token_env"),
    ] {
        let e = p(&format!("[[providers]]\nid='x'\n{text}\n")).unwrap_err();
        assert_eq!(e.field, format!("providers[0].{field}"), "{text}");
    }
}

#[test]
fn huge_or_infinite_timeouts_are_refused_not_a_panic() {
    for v in ["1e30", "inf", "-1", "nan", "86401"] {
        let e = p(&format!("[routing]\nrequest_timeout_secs = {v}\n")).unwrap_err();
        assert_eq!(e.field, "routing.request_timeout_secs", "{v}");
    }
    let e = p("[[providers]]\nid='o'\nkind='openai'\nbase_url='http://a/v1'\nfirst_token_timeout_secs=1e30\n")
        .unwrap_err();
    assert_eq!(e.field, "providers[0].first_token_timeout_secs");
    assert!(p("[routing]\nrequest_timeout_secs = 86400\n").is_ok());
}

#[test]
fn cors_origins_from_the_file_or_the_environment() {
    assert_eq!(p("").unwrap().cors_origins, CorsOrigins::None);
    assert_eq!(
        p("[server]\ncors_origins = \"*\"\n").unwrap().cors_origins,
        CorsOrigins::Any
    );
    let s = p("[server]\ncors_origins = [\"https://app.example.com\"]\n").unwrap();
    assert_eq!(
        s.cors_origins,
        CorsOrigins::List(vec!["https://app.example.com".into()])
    );
    let e = p("[server]\ncors_origins = [\"https://app.example.com/\"]\n").unwrap_err();
    assert_eq!(e.field, "server.cors_origins");
    let env = EnvOverrides {
        cors_origins: Some("https://a.example, http://localhost:3000".into()),
        ..Default::default()
    };
    let s = parse("[server]\ncors_origins = \"*\"\n", "t", &env).unwrap();
    assert_eq!(
        s.cors_origins,
        CorsOrigins::List(vec![
            "https://a.example".into(),
            "http://localhost:3000".into()
        ])
    );
}

#[test]
fn env_overrides_win() {
    let env = EnvOverrides {
        listen: Some("0.0.0.0:9999".into()),
        require_keys: Some("false".into()),
        ..Default::default()
    };
    let s = parse("[server]\nlisten='127.0.0.1:1'\n", "t", &env).unwrap();
    assert_eq!(s.listen.port(), 9999);
    assert!(!s.require_keys);
}

#[test]
fn database_paths_in_the_file_are_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, "[database]\nurl = \"sqlite://db/gw.db\"\n").unwrap();
    let s = load(&file, &EnvOverrides::default()).unwrap();
    assert_eq!(
        &*s.database_url,
        format!("sqlite://{}/db/gw.db", dir.path().display())
    );
    // No url in the file: the default is next to the file too.
    std::fs::write(&file, "").unwrap();
    let s = load(&file, &EnvOverrides::default()).unwrap();
    assert_eq!(
        &*s.database_url,
        format!("sqlite://{}/data/switchyard.db", dir.path().display())
    );
    // The environment's path is taken as given (relative to the working directory).
    let env = EnvOverrides {
        database_url: Some("sqlite://here.db".into()),
        ..EnvOverrides::default()
    };
    assert_eq!(
        &*load(&file, &env).unwrap().database_url,
        "sqlite://here.db"
    );
}

#[test]
fn shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
    let s = load(&path, &EnvOverrides::default()).unwrap();
    assert!(s.models.iter().any(|m| m.slug == "mock/echo"));
}
