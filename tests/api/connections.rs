//! Connections and shutdown: idle and slow clients cannot pin the gateway, a flood is shed
//! rather than queued, and shutdown is bounded and honest.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// Reads until the server closes the connection (or `limit` passes); whether it closed.
async fn closed_within(sock: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), sock.read(&mut buf))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Half-open and idle connections were held indefinitely (27 kB and a descriptor each);
/// 300 of them stopped all service.
#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
        Opts {
            server: "header_read_timeout_secs = 1\n".into(),
            ..Default::default()
        },
    )
    .await;
    // Sends nothing at all.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    // Sends headers a byte at a time, slower than the deadline allows in total.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            if slow.write_all(b"X-Slow: y\r\n").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        closed_within(&mut slow, Duration::from_millis(100)).await
    });
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "the idle connection stayed open"
    );
    assert!(
        trickle.await.unwrap(),
        "the slow sender's connection stayed open"
    );
    // And the gateway serves as before.
    let (status, _) = json_of(
        app.chat(json!({"model": "test/m", "messages": user("x")}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    app.stop().await;
}

/// With the connection cap reached, the gateway stops accepting instead of running out of
/// descriptors; a slot frees as soon as an idle connection is closed.
#[tokio::test]
async fn the_connection_cap_holds_and_frees() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn_with(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
        Opts {
            server: "max_connections = 2\nheader_read_timeout_secs = 1.5\n".into(),
            ..Default::default()
        },
    )
    .await;
    let _a = TcpStream::connect(app.addr).await.unwrap();
    let _b = TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let resp = client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Served only once an idle connection was closed by its header deadline.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    app.stop().await;
}

/// A `Content-Length` over the body limit was not refused before the body was read.
#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_at_once() {
    let fake = Fake::start(vec![Reply::simple()]).await;
    let app = TestApp::spawn(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
    )
    .await;
    let mut sock = TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut head))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&head[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("request_too_large"), "{text}");
    app.stop().await;
}

/// There was no concurrency limit: a flood queued without bound. Past the limit requests
/// get a fast 503 with Retry-After; health is never shed.
#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed() {
    let fake = Fake::start(vec![Reply::Delayed(
        Duration::from_millis(600),
        Box::new(Reply::simple()),
    )])
    .await;
    let app = TestApp::spawn_with(
        &(provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[])),
        Opts {
            server: "max_concurrent_requests = 2\n".into(),
            ..Default::default()
        },
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (client, url) = (app.client.clone(), app.url("/v1/chat/completions"));
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"model": "test/m", "messages": user("x")}))
                .send()
                .await
                .unwrap();
            let retry = r.headers().get("retry-after").is_some();
            (r.status().as_u16(), retry, r.json::<Value>().await.unwrap())
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = app.client.get(app.url("/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let mut ok = 0;
    for t in tasks {
        let (status, retry, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            503 => {
                assert!(retry, "{body}");
                assert_eq!(body["error"]["code"], "overloaded");
            }
            s => panic!("{s}: {body}"),
        }
    }
    assert_eq!(ok, 2);
    app.stop().await;
}

/// Shutdown was not bounded (nothing was cut when the grace period ended, and the log's
/// drain waited for the longest stream) and said "cutting remaining connections" untruly.
/// Now: readiness goes false first, new connections are refused, open streams get the grace
/// period and then end with the error chunk, the log is flushed, the process exits.
#[tokio::test]
async fn shutdown_is_bounded_and_honest() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sd.db", dir.path().display());
    let config = "[server]\nshutdown_grace_secs = 1\nshutdown_delay_secs = 0.5\n[auth]\nrequire_keys = false\n\
         [[providers]]\nid = \"mock\"\nkind = \"mock\"\n[providers.mock]\nreply = \"a b c d e f g h i j k l m n o p q r s t\"\nchunks = 20\nchunk_delay_ms = 500\n\
         [[models]]\nslug = \"mock/slow\"\n[[models.endpoints]]\nprovider = \"mock\"\nupstream_model = \"slow\"\n";
    let process = Process::start(config, &db, &[]).await;
    let client = reqwest::Client::new();
    let resp = client
        .post(process.url("/v1/chat/completions"))
        .json(&json!({"model": "mock/slow", "stream": true, "messages": user("x")}))
        .send()
        .await
        .unwrap();
    let id = request_id(&resp);
    let mut body = resp.bytes_stream();
    let mut text = String::from(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());

    let health_url = process.url("/v1/health");
    let started = Instant::now();
    let pid = process.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Draining: still accepting for the delay, but not ready.
    let fresh = reqwest::Client::new();
    let h = fresh.get(&health_url).send().await.unwrap();
    assert_eq!(h.status(), 503);
    assert_eq!(h.json::<Value>().await.unwrap()["status"], "draining");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        reqwest::Client::new()
            .get(&health_url)
            .send()
            .await
            .is_err(),
        "new connections are refused"
    );

    while let Some(part) = body.next().await {
        text.push_str(std::str::from_utf8(&part.unwrap()).unwrap());
    }
    let events = parse_sse(&text);
    let err = error_chunk(&events).expect("the stream ended with the error chunk");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{err}"
    );
    assert_eq!(events.last(), Some(&Event::Data("[DONE]".into())));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    let mut process = process;
    let status = tokio::time::timeout(Duration::from_secs(6), process.child.wait())
        .await
        .expect("exits within grace + delay + a few seconds")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let store = switchyard::store::Store::connect(&db, 1).await.unwrap();
    let rec = store
        .get_request(&id)
        .await
        .unwrap()
        .expect("the cut stream was recorded");
    assert_eq!(rec.outcome, "cut");
    assert!(rec.completion_tokens > 0, "what was generated is billed");
}
