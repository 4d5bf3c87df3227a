//! Coding agents against the real gateway: Claude Code (`claude -p`) completing a turn that
//! runs its Bash tool, once through translation to an OpenAI-shaped upstream and once
//! passed through to an Anthropic upstream. What the upstream received is checked, not only
//! that the agent finished: Claude Code quietly retries a refused request with fewer betas.
//!
//! Runs when SWITCHYARD_TEST_CLAUDE names the `claude` executable (`scripts/test` installs
//! the pinned package); plain `cargo test` skips it.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fake::{text_stream, Fake, Reply as OpenAiReply};
use crate::fake_anthropic::{event, text_events, FakeAnthropic, Reply};
use crate::helpers::*;

/// What the agent's tool prints, so the final answer proves the tool ran.
const MARK: &str = "switchyard-tool-ok";
/// Claude Code's default model, served under its Anthropic name through an alias.
const DEFAULT_MODEL: &str = "claude-opus-5-5";

fn claude() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_CLAUDE") {
        Ok(p) => Some(p),
        Err(_) => {
            eprintln!("skipping: SWITCHYARD_TEST_CLAUDE is not set");
            None
        }
    }
}

/// A registry serving Claude Code's default model through `provider`.
fn registry(provider_block: String, provider_id: &str, upstream: &str) -> String {
    format!(
        "{provider_block}[[models]]\nslug = \"anthropic/claude-opus-5.5\"\naliases = [\"{DEFAULT_MODEL}\"]\n\
         [[models.endpoints]]\nprovider = \"{provider_id}\"\nupstream_model = \"{upstream}\"\n\
         input_price = 5.0\noutput_price = 25.0\n\n"
    )
}

/// Runs `claude -p` against the gateway in a fresh home and work directory, offline, and
/// returns its JSON result.
async fn run_claude(bin: String, app: &TestApp) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (home, work, tmp) = (
        dir.path().join("home"),
        dir.path().join("work"),
        dir.path().join("tmp"),
    );
    for d in [&home, &work, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("TERM", "dumb")
        .env("CLAUDE_CODE_TMPDIR", &tmp)
        .env("ANTHROPIC_BASE_URL", app.url(""))
        .env("ANTHROPIC_API_KEY", "sk-switchyard-test")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .current_dir(&work)
        .stdin(std::process::Stdio::null())
        .args([
            "-p",
            "Run `echo` with the marker and report what it printed.",
            "--allowedTools",
            "Bash(echo:*)",
            "--output-format",
            "json",
            "--no-session-persistence",
        ]);
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("claude finishes within two minutes")
    .unwrap()
    .expect("claude runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "claude failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("claude's output ({e}): {stdout}"))
}

fn check_result(result: &Value) {
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], format!("done: {MARK}"), "{result}");
    assert_eq!(
        result["permission_denials"],
        json!([]),
        "the tool ran: {result}"
    );
}

/// Every request the agent made was served: none refused and retried.
async fn check_records(app: &TestApp, n: usize) {
    let records = app.records(n).await;
    assert_eq!(records.len(), n);
    for r in &records {
        assert_eq!(r.outcome, "success", "{r:?}");
        assert!(r.completion_tokens > 0, "{r:?}");
    }
}

fn bash_call_chunks() -> Vec<String> {
    let args = json!({"command": format!("echo {MARK}"), "description": "Print the marker"});
    tool_call_chunks("Bash", "call_bash_1", &args.to_string())
}

/// A chat stream that calls one tool, its arguments split in two fragments.
fn tool_call_chunks(name: &str, id: &str, args: &str) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}",
            json!({"id": "chatcmpl-agent", "object": "chat.completion.chunk", "created": 1, "model": "up",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let (head, tail) = args.split_at(args.len() / 2);
    vec![
        chunk(json!({"role": "assistant", "content": null}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": head}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": tail}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        format!(
            "data: {}",
            json!({"id": "chatcmpl-agent", "object": "chat.completion.chunk", "created": 1, "model": "up", "choices": [],
                "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920}})
        ),
        "data: [DONE]".into(),
    ]
}

fn sse(events: Vec<String>) -> OpenAiReply {
    OpenAiReply::Sse {
        events,
        first: Duration::ZERO,
        between: Duration::ZERO,
    }
}

#[tokio::test]
async fn claude_code_runs_a_tool_through_an_openai_upstream() {
    let Some(bin) = claude() else { return };
    let fake = Fake::start(vec![
        sse(bash_call_chunks()),
        sse(text_stream(&["done: ", MARK])),
    ])
    .await;
    let app = TestApp::spawn(&registry(
        provider("oai", &fake.base_url()),
        "oai",
        "gpt-up",
    ))
    .await;
    let result = run_claude(bin, &app).await;
    check_result(&result);

    let got = fake.received();
    assert_eq!(got.len(), 2, "one request per turn, none retried");
    let first = &got[0].body;
    assert_eq!(first["model"], "gpt-up");
    assert_eq!(first["stream"], true);
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(tools.contains(&"Bash"), "{tools:?}");
    assert!(
        first["reasoning"].is_object(),
        "effort/thinking became reasoning: {first}"
    );
    let second = &got[1].body;
    let tool_msg = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool result went back as a tool message");
    assert_eq!(tool_msg["tool_call_id"], "call_bash_1");
    assert!(
        tool_msg["content"].as_str().unwrap().contains(MARK),
        "{tool_msg}"
    );
    check_records(&app, 2).await;
    app.stop().await;
}

fn anthropic_bash_call() -> Vec<String> {
    let input =
        json!({"command": format!("echo {MARK}"), "description": "Print the marker"}).to_string();
    vec![
        event(
            json!({"type": "message_start", "message": {"id": "msg_agent_1", "type": "message", "role": "assistant",
            "model": "claude-up", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 900, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        ),
        event(json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_bash_1", "name": "Bash", "input": {}}})),
        event(json!({"type": "ping"})),
        event(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input}}),
        ),
        event(json!({"type": "content_block_stop", "index": 0})),
        event(
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 20}}),
        ),
        event(json!({"type": "message_stop"})),
    ]
}

#[tokio::test]
async fn claude_code_passes_through_to_anthropic_with_everything_it_sent() {
    let Some(bin) = claude() else { return };
    let fake = FakeAnthropic::start(vec![
        Reply::Sse(anthropic_bash_call()),
        Reply::Sse(text_events(&["done: ", MARK], "end_turn")),
    ])
    .await;
    let app = TestApp::spawn(&registry(
        fake.provider("anthropic"),
        "anthropic",
        "claude-up",
    ))
    .await;
    let result = run_claude(bin, &app).await;
    check_result(&result);

    let got = fake.received();
    assert_eq!(got.len(), 2, "one request per turn, none retried");
    let first = &got[0];
    let betas = first.headers["anthropic-beta"].to_str().unwrap();
    for beta in ["claude-code-", "context-management-", "effort-"] {
        assert!(betas.contains(beta), "{beta} in {betas}");
    }
    let body = &first.body;
    assert_eq!(body["model"], "claude-up");
    assert!(body["system"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b.get("cache_control").is_some()));
    assert!(body["thinking"].is_object());
    assert!(body.get("context_management").is_some());
    assert!(body.get("output_config").is_some());
    assert!(body["metadata"]["user_id"].is_string());
    assert!(body["tools"].as_array().unwrap().len() >= 10);
    assert!(
        first.raw.len() > 20_000,
        "the whole body: {} bytes",
        first.raw.len()
    );
    let second = &got[1].body;
    let last = second["messages"].as_array().unwrap().last().unwrap();
    let result_block = last["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_result")
        .expect("a tool_result block");
    assert_eq!(result_block["tool_use_id"], "toolu_bash_1");
    assert!(result_block.to_string().contains(MARK));
    check_records(&app, 2).await;
    app.stop().await;
}

fn codex() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_CODEX") {
        Ok(p) => Some(p),
        Err(_) => {
            eprintln!("skipping: SWITCHYARD_TEST_CODEX is not set");
            None
        }
    }
}

/// Runs `codex exec` against the gateway with a custom provider speaking the Responses API,
/// offline (no analytics, no plugin sync) and without retries (a refused request fails the
/// run instead of being retried). Returns its last message.
async fn run_codex(bin: String, app: &TestApp, model: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (home, work) = (dir.path().join("codex-home"), dir.path().join("work"));
    for d in [&home, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    let config = format!(
        "model = \"{model}\"\nmodel_provider = \"sy\"\napproval_policy = \"never\"\n\
         sandbox_mode = \"danger-full-access\"\n\n[model_providers.sy]\nname = \"Switchyard\"\n\
         base_url = \"{}\"\nenv_key = \"SY_KEY\"\nwire_api = \"responses\"\n\
         request_max_retries = 0\nstream_max_retries = 0\n\n[analytics]\nenabled = false\n\n\
         [features]\nplugins = false\n",
        app.url("/v1")
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
    let last = dir.path().join("last.txt");
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir.path())
        .env("CODEX_HOME", &home)
        .env("SY_KEY", "sk-switchyard-test")
        .stdin(std::process::Stdio::null())
        .arg("exec")
        .arg("--skip-git-repo-check")
        .arg("--json")
        .arg("-C")
        .arg(&work)
        .arg("-o")
        .arg(&last)
        .arg(format!("Run `echo {MARK}` and report what it printed."));
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("codex finishes within two minutes")
    .unwrap()
    .expect("codex runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "codex failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("\"command_execution\"") && stdout.contains(MARK),
        "the shell tool ran: {stdout}"
    );
    std::fs::read_to_string(last).unwrap().trim().to_owned()
}

#[tokio::test]
async fn codex_runs_a_shell_tool_through_responses_translated_to_chat() {
    let Some(bin) = codex() else { return };
    let args = json!({"cmd": format!("echo {MARK}")}).to_string();
    let fake = Fake::start(vec![
        sse(tool_call_chunks("exec_command", "call_exec_1", &args)),
        sse(text_stream(&["done: ", MARK])),
    ])
    .await;
    let app = TestApp::spawn(
        &(provider("oai", &fake.base_url()) + &model("test/codex", &[("oai", "gpt-up")], &[])),
    )
    .await;
    let last = run_codex(bin, &app, "test/codex").await;
    assert_eq!(last, format!("done: {MARK}"));

    let got = fake.received();
    assert_eq!(got.len(), 2, "one request per turn, none retried");
    assert!(got[0].path.ends_with("/chat/completions"));
    let tools: Vec<&str> = got[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(tools.contains(&"exec_command"), "{tools:?}");
    let tool_msg = got[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the command's output went back as a tool message");
    assert_eq!(tool_msg["tool_call_id"], "call_exec_1");
    assert!(tool_msg["content"].as_str().unwrap().contains(MARK));
    check_records(&app, 2).await;
    app.stop().await;
}

/// A Responses stream (named events with sequence numbers) for one output item: `item` as
/// added, the deltas, then `done` as completed.
fn responses_stream(item: Value, delta_events: Vec<Value>, done: Value) -> Vec<String> {
    let mut seq = 0;
    let mut ev = |mut v: Value| {
        v["sequence_number"] = json!(seq);
        seq += 1;
        format!("event: {}\ndata: {v}", v["type"].as_str().unwrap())
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_up", "object": "response", "created_at": 1, "status": status, "model": "gpt-up",
            "output": output, "usage": usage, "error": null, "incomplete_details": null})
    };
    let mut out = vec![
        ev(
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        ),
        ev(
            json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
        ),
        ev(json!({"type": "response.output_item.added", "output_index": 0, "item": item})),
    ];
    for d in delta_events {
        out.push(ev(d));
    }
    out.push(ev(
        json!({"type": "response.output_item.done", "output_index": 0, "item": done.clone()}),
    ));
    out.push(ev(json!({"type": "response.completed", "response": response("completed", json!([done]),
        json!({"input_tokens": 900, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 920}))})));
    out
}

#[tokio::test]
async fn codex_passes_through_to_a_responses_upstream() {
    let Some(bin) = codex() else { return };
    let args = json!({"cmd": format!("echo {MARK}")}).to_string();
    let call = responses_stream(
        json!({"type": "function_call", "id": "fc_1", "call_id": "call_exec_1", "name": "exec_command", "arguments": "", "status": "in_progress"}),
        vec![
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": args}),
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 0, "arguments": args}),
        ],
        json!({"type": "function_call", "id": "fc_1", "call_id": "call_exec_1", "name": "exec_command", "arguments": args, "status": "completed"}),
    );
    let text = format!("done: {MARK}");
    let answer = responses_stream(
        json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}),
        vec![
            json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text, "logprobs": []}),
            json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
            json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}),
        ],
        json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}),
    );
    let fake = Fake::start(vec![sse(call), sse(answer)]).await;
    let reg = provider("oai", &fake.base_url()).replace(
        "kind = \"openai\"\n",
        "kind = \"openai\"\nresponses_api = true\n",
    ) + &model("test/codex", &[("oai", "gpt-up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let last = run_codex(bin, &app, "test/codex").await;
    assert_eq!(last, text);

    let got = fake.received();
    assert_eq!(got.len(), 2, "one request per turn, none retried");
    assert!(got[0].path.ends_with("/responses"), "{}", got[0].path);
    let first = &got[0].body;
    assert_eq!(first["model"], "gpt-up");
    assert_eq!(first["store"], false);
    assert_eq!(first["include"], json!(["reasoning.encrypted_content"]));
    assert!(first["prompt_cache_key"].is_string());
    assert!(first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "exec_command"));
    let output = got[1].body["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .expect("the command's output went back as a function_call_output");
    assert_eq!(output["call_id"], "call_exec_1");
    assert!(output["output"].as_str().unwrap().contains(MARK));
    check_records(&app, 2).await;
    app.stop().await;
}
