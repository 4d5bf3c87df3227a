//! Start-up, shutdown and the command line.

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use switchyard::store::Store;

use crate::fake::{text_stream, Fake, Reply};
use crate::helpers::*;

#[tokio::test]
async fn shutdown_lets_streams_finish_and_flushes_the_log() {
    let pieces: Vec<String> = (0..8).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let fake = Fake::start(vec![Reply::Sse {
        events: text_stream(&refs),
        first: Duration::ZERO,
        between: Duration::from_millis(100),
    }])
    .await;
    let app = TestApp::spawn(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
    )
    .await;
    let url = app.database_url.clone();

    let resp = app
        .chat(json!({"model": "test/m", "stream": true, "messages": user("x")}))
        .await;
    let id = request_id(&resp);
    let reader = tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut text = String::new();
        while let Some(part) = body.next().await {
            text.push_str(std::str::from_utf8(&part.unwrap()).unwrap());
        }
        text
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _dir = app.stop().await; // returns once in-flight streams finished and the log is flushed

    let text = reader.await.unwrap();
    let events = parse_sse(&text);
    assert_eq!(
        content(&events),
        pieces.concat(),
        "the in-flight stream finished"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));

    let store = Store::connect(&url, 1).await.unwrap();
    let rec = store
        .get_request(&id)
        .await
        .unwrap()
        .expect("record flushed at shutdown");
    assert_eq!(rec.outcome, "success");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

#[test]
fn bad_config_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[routing]\nfirst_token_timeout_secs = -1\n").unwrap();
    let out = bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("routing.first_token_timeout_secs"),
        "{err}"
    );

    std::fs::write(&path, "[[providers]]\nid = \"x\"\nkind = \"anthropicc\"\n").unwrap();
    let out = bin()
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("anthropicc"),
        "{err}"
    );
}

#[test]
fn cli_manages_keys_and_lists_models() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/switchyard.toml");
    let run = |args: &[&str]| {
        let out = bin()
            .env("SWITCHYARD_DATABASE_URL", &db)
            .env("SWITCHYARD_LOG", "warn")
            .arg("--config")
            .arg(config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&["migrate"]).contains("migrated"));
    assert!(run(&["check-config"]).contains("valid"));
    let key = run(&["keys", "create", "--name", "cli-test"])
        .trim()
        .to_owned();
    assert!(key.starts_with("sy-"));
    let list = run(&["keys", "list"]);
    assert!(list.contains("cli-test") && !list.contains(&key));
    let id = list
        .lines()
        .find(|l| l.contains("cli-test"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(run(&["keys", "revoke", &id]).contains("revoked"));
    assert!(run(&["keys", "list"]).contains("revoked"));
    assert!(run(&["models", "list"]).contains("mock/echo"));
    for sub in [
        &["--help"][..],
        &["serve", "--help"],
        &["keys", "--help"],
        &["keys", "create", "--help"],
    ] {
        let out = bin().args(sub).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{sub:?}");
    }
}

#[tokio::test]
async fn sigterm_drains_streams_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sig.db", dir.path().display());
    let config = "[server]\nshutdown_grace_secs = 10\n[auth]\nrequire_keys = false\n\
             [[providers]]\nid = \"mock\"\nkind = \"mock\"\n[providers.mock]\nreply = \"a b c d e f g h\"\nchunks = 8\nchunk_delay_ms = 100\n\
             [[models]]\nslug = \"mock/slow\"\n[[models.endpoints]]\nprovider = \"mock\"\nupstream_model = \"slow\"\n";
    let process = Process::start(config, &db, &[]).await;
    let client = reqwest::Client::new();
    let base = process.base.clone();

    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"model": "mock/slow", "stream": true, "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let id = request_id(&resp);
    let mut body = resp.bytes_stream();
    let mut text = String::from(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());

    let stopped = tokio::spawn(process.stop());
    while let Some(part) = body.next().await {
        text.push_str(std::str::from_utf8(&part.unwrap()).unwrap());
    }
    let events = parse_sse(&text);
    assert_eq!(
        content(&events),
        "a b c d e f g h",
        "the in-flight stream finished after SIGTERM"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));

    stopped.await.unwrap();
    let store = Store::connect(&db, 1).await.unwrap();
    let rec = store
        .get_request(&id)
        .await
        .unwrap()
        .expect("flushed before exit");
    assert_eq!(rec.outcome, "success");
}
