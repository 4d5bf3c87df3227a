//! `TestApp`: the real gateway on a random port with a fresh database (SQLite by default,
//! PostgreSQL when SWITCHYARD_TEST_POSTGRES_URL is set), plus request and SSE helpers.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use switchyard::config::{self, EnvOverrides};
use switchyard::store::{RequestRecord, Store};
use switchyard::App;
use tokio::sync::oneshot;

pub const MASTER: &str = "test-master-key";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    pub database_url: String,
    /// The separate metrics listener (`Opts::metrics_listen`).
    pub metrics_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// Options beyond the registry text.
#[derive(Default, Clone)]
pub struct Opts {
    pub require_keys: bool,
    /// Reuse an existing database (a second replica).
    pub database_url: Option<String>,
    /// Extra TOML prepended to the config (sections like [routing]; not [server]).
    pub extra: String,
    /// Extra keys of the [server] table.
    pub server: String,
    /// `SWITCHYARD_METRICS_TOKEN`.
    pub metrics_token: Option<String>,
    /// `SWITCHYARD_METRICS_LISTEN` on a free local port.
    pub metrics_listen: bool,
}

/// A provider block for a fake upstream.
pub fn provider(id: &str, base_url: &str) -> String {
    format!("[[providers]]\nid = \"{id}\"\nkind = \"openai\"\nbase_url = \"{base_url}\"\n\n")
}

/// A model block with endpoints `(provider, upstream_model)`.
pub fn model(slug: &str, endpoints: &[(&str, &str)], fallbacks: &[&str]) -> String {
    let mut s = format!("[[models]]\nslug = \"{slug}\"\n");
    if !fallbacks.is_empty() {
        let f: Vec<String> = fallbacks.iter().map(|f| format!("\"{f}\"")).collect();
        s.push_str(&format!("fallbacks = [{}]\n", f.join(", ")));
    }
    for (p, u) in endpoints {
        s.push_str(&format!(
            "[[models.endpoints]]\nprovider = \"{p}\"\nupstream_model = \"{u}\"\ninput_price = 2.0\noutput_price = 8.0\n"
        ));
    }
    s.push('\n');
    s
}

pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("SWITCHYARD_TEST_POSTGRES_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sqlx::Connection;
            let name = format!("sy_test_{:016x}", rand::random::<u64>());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("SWITCHYARD_TEST_POSTGRES_URL is set but unreachable: {e}")
                });
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}/switchyard.db", dir.display()),
    }
}

impl TestApp {
    pub async fn spawn(registry: &str) -> TestApp {
        Self::spawn_with(registry, Opts::default()).await
    }

    pub async fn spawn_with(registry: &str, opts: Opts) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match &opts.database_url {
            Some(u) => u.clone(),
            None => fresh_database(dir.path()).await,
        };
        let text = format!(
            "{extra}\n[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 5\n{server}\n[auth]\nrequire_keys = {rk}\n[log]\nfilter = \"warn\"\n\
             {accounting}\n{registry}",
            extra = opts.extra,
            server = opts.server,
            rk = opts.require_keys,
            // A test that sets its own [accounting] also sets its flush interval.
            accounting = if opts.extra.contains("[accounting]") {
                ""
            } else {
                "[accounting]\nflush_interval_ms = 20\n"
            },
        );
        let env = EnvOverrides {
            database_url: Some(database_url.clone()),
            master_key: Some(MASTER.into()),
            metrics_token: opts.metrics_token.clone(),
            metrics_listen: opts.metrics_listen.then(|| "127.0.0.1:0".into()),
            ..Default::default()
        };
        let settings =
            config::parse(&text, "test.toml", &env).unwrap_or_else(|e| panic!("{e}\n{text}"));
        switchyard::telemetry::init(
            settings.log_format,
            &std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()),
        );
        let app = App::build(settings).await.expect("app builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let store = app.state().store.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            client: reqwest::Client::new(),
            store,
            database_url,
            metrics_addr,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    /// `POST path` with a JSON body, no key.
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` (with `key` as bearer, if any): the JSON body.
    pub async fn get_json(&self, path: &str, key: Option<&str>) -> Value {
        let mut rb = self.client.get(self.url(path));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        json_of(rb.send().await.unwrap()).await.1
    }

    pub async fn health(&self) -> Value {
        self.get_json("/v1/health", None).await
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .bearer_auth(MASTER);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    /// Waits (up to ten seconds: the machine may be busy) until at least `n` records are
    /// written, newest first.
    pub async fn records(&self, n: usize) -> Vec<RequestRecord> {
        for _ in 0..500 {
            let rows = self.store.list_requests(1000, None).await.unwrap();
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} request records were written");
    }

    /// The record of one request, by id.
    pub async fn record(&self, id: &str) -> RequestRecord {
        for _ in 0..500 {
            if let Some(r) = self.store.get_request(id).await.unwrap() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("request {id} was never recorded");
    }

    /// Graceful stop: waits for the server, in-flight requests and the request log. Returns
    /// the temporary folder holding the SQLite database, so a caller may inspect it after.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
        std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap())
    }
}

pub fn user(text: &str) -> Value {
    serde_json::json!([{"role": "user", "content": text}])
}

pub fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// One SSE event as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Comment(String),
    Data(String),
}

impl Event {
    pub fn json(&self) -> Option<Value> {
        match self {
            Event::Data(d) if d != "[DONE]" => {
                Some(serde_json::from_str(d).expect("chunk is JSON"))
            }
            _ => None,
        }
    }
}

/// Parses a whole SSE body.
pub fn parse_sse(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let e = e.trim_start_matches('\n');
            if let Some(c) = e.strip_prefix(':') {
                Event::Comment(c.trim().to_owned())
            } else {
                let data: Vec<&str> = e
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.trim_start())
                    .collect();
                Event::Data(data.join("\n"))
            }
        })
        .collect()
}

/// Data chunks (JSON) of a stream, excluding `[DONE]`.
pub fn chunks(events: &[Event]) -> Vec<Value> {
    events.iter().filter_map(Event::json).collect()
}

/// The concatenated `delta.content` of a stream.
pub fn content(events: &[Event]) -> String {
    chunks(events)
        .iter()
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|ch| ch["delta"]["content"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// Status and JSON body of a response, checked against its vendor's schema (OpenAI's under
/// `/v1`, OpenRouter's under `/api/v1`; see `schema::conform`).
pub async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let s = resp.status().as_u16();
    let path = resp.url().path().to_owned();
    let body = resp.json().await.unwrap();
    crate::schema::conform(&path, s, false, &body);
    (s, body)
}

/// The events of a 200 SSE response, each checked against its vendor's schema.
pub async fn sse_of(resp: reqwest::Response) -> Vec<Event> {
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let path = resp.url().path().to_owned();
    let events = parse_sse(&resp.text().await.unwrap());
    for chunk in chunks(&events) {
        crate::schema::conform(&path, 200, true, &chunk);
    }
    events
}

/// The concatenation of a string field of the first choice's deltas (`content`, `reasoning`).
pub fn field(events: &[Event], f: &str) -> String {
    chunks(events)
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"][f].as_str().map(str::to_owned))
        .collect()
}

/// The last finish_reason of a stream.
pub fn finish_reason(events: &[Event]) -> Option<String> {
    chunks(events).iter().rev().find_map(|c| {
        c["choices"].get(0)?["finish_reason"]
            .as_str()
            .map(str::to_owned)
    })
}

/// The concatenated arguments of the tool call at `index` in a stream.
pub fn tool_args(events: &[Event], index: u64) -> String {
    chunks(events)
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"].get("tool_calls").cloned())
        .flat_map(|v| v.as_array().cloned().unwrap())
        .filter(|t| t["index"] == index)
        .filter_map(|t| t["function"]["arguments"].as_str().map(str::to_owned))
        .collect()
}

/// The gateway's mid-stream error chunk, if the stream has one.
pub fn error_chunk(events: &[Event]) -> Option<Value> {
    chunks(events)
        .into_iter()
        .find(|c| c.get("error").is_some())
}

/// Splits OpenRouter's `cost` and `cost_details` off a usage object, checking that the
/// details add up to the cost; returns the rest and the cost in USD.
pub fn split_cost(usage: &Value) -> (Value, f64) {
    let mut rest = usage.clone();
    let obj = rest.as_object_mut().expect("usage is an object");
    let cost = obj
        .remove("cost")
        .and_then(|c| c.as_f64())
        .expect("usage.cost");
    let details = obj.remove("cost_details").expect("usage.cost_details");
    let parts = details["upstream_inference_prompt_cost"].as_f64().unwrap()
        + details["upstream_inference_completions_cost"]
            .as_f64()
            .unwrap();
    assert!((parts - cost).abs() < 1e-12, "{details} adds up to {cost}");
    (rest, cost)
}

/// The real `switchyard serve` binary in a process of its own, on a free port, with the
/// given config text (its `[server] listen` is added here) and database.
pub struct Process {
    pub child: tokio::process::Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Process {
    pub async fn start(config: &str, database_url: &str, envs: &[(&str, &str)]) -> Process {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = dir.path().join("switchyard.toml");
        let mut text = format!("[server]\nlisten = \"127.0.0.1:{port}\"\n");
        // Keep any [server] keys of the caller's in the one table.
        text.push_str(config.strip_prefix("[server]\n").unwrap_or(config));
        std::fs::write(&path, text).unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .env("SWITCHYARD_DATABASE_URL", database_url)
            .env("SWITCHYARD_LOG", "warn")
            .envs(envs.iter().copied())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("{base}/v1/health"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Process {
                    child,
                    base,
                    _dir: dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway process did not come up");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("exits")
            .unwrap();
        assert!(status.success(), "{status:?}");
    }
}

/// Creates a key through the admin API: its id and its secret.
pub async fn create_key(app: &TestApp, body: serde_json::Value) -> (String, String) {
    let resp = app
        .admin(reqwest::Method::POST, "/admin/keys", Some(body))
        .await;
    assert_eq!(resp.status(), 201);
    let v: serde_json::Value = resp.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["key"].as_str().unwrap().to_owned(),
    )
}
