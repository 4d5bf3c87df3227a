//! The official `openai` Python SDK against the real gateway and fake upstreams.
//!
//! Runs when SWITCHYARD_TEST_PYTHON names a Python with `openai` installed (`.ci/run` sets it
//! up in a venv); plain `cargo test` skips it.

use std::process::Command;

use crate::fake::{Fake, Reply};
use crate::helpers::*;

#[tokio::test]
async fn official_python_sdk() {
    let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") else {
        eprintln!("skipping: SWITCHYARD_TEST_PYTHON is not set");
        return;
    };
    let json = Fake::start(vec![Reply::simple()]).await;
    let stream = Fake::start(vec![Reply::simple_stream()]).await;
    let failing = Fake::start(vec![Reply::error(400, "Invalid value for 'temperature'")]).await;
    let reg = provider("fake", &json.base_url())
        + &provider("fake-stream", &stream.base_url())
        + &provider("fake-bad", &failing.base_url())
        + &model("test/json", &[("fake", "up")], &[])
        + &model("test/stream", &[("fake-stream", "up")], &[])
        + &model("test/bad", &[("fake-bad", "up")], &[]);
    let app = TestApp::spawn(&reg).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk.py");
    let base = app.url("/v1");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("SWITCHYARD_BASE_URL", base)
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
    app.stop().await;
}
