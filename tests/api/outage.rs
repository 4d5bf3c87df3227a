//! A database that goes silent mid-run (a NAT or firewall dropping state): requests keep
//! being served, health says degraded, no record is lost, and shutdown still finishes.
//! PostgreSQL only (SWITCHYARD_TEST_POSTGRES_URL): the gateway reaches it through a TCP
//! proxy that the test can freeze.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fake::{Fake, Reply};
use crate::helpers::*;

/// Forwards TCP to `upstream` until frozen; while frozen nothing moves in either direction
/// (the connections stay open and silent), and a connection that saw the freeze is dropped
/// when it ends, as state a NAT forgot.
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicU64::new(0));
        let (f, e) = (frozen.clone(), epoch.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (f, e, upstream) = (f.clone(), e.clone(), upstream.clone());
                tokio::spawn(async move {
                    while f.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let born = e.load(Ordering::SeqCst);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, f.clone(), e.clone(), born) => {}
                        _ = pump(sr, cw, f, e, born) => {}
                    }
                });
            }
        });
        Proxy {
            port,
            frozen,
            epoch,
        }
    }

    fn freeze(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.frozen.store(true, Ordering::SeqCst);
    }

    fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
    born: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if epoch.load(Ordering::SeqCst) != born {
            return; // this connection lived through a freeze: its state is gone
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn count_rows(direct: &switchyard::store::Store) -> usize {
    direct.list_requests(10_000, None).await.unwrap().len()
}

#[tokio::test]
async fn a_database_gone_silent_loses_no_record_and_never_wedges() {
    let Ok(admin_url) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
        eprintln!("skipping: SWITCHYARD_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let real = fresh_database(dir.path()).await;
    let direct = switchyard::store::Store::connect(&real, 2).await.unwrap();
    direct.migrate().await.unwrap();
    let host = admin_url
        .split('@')
        .nth(1)
        .and_then(|h| h.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let proxy = Proxy::start(host.clone()).await;
    let via_proxy = real.replacen(&host, &format!("127.0.0.1:{}", proxy.port), 1);

    let fake = Fake::start(vec![Reply::simple()]).await;
    let reg = provider("fake", &fake.base_url()) + &model("test/m", &[("fake", "up")], &[]);
    let app = TestApp::spawn_with(
        &reg,
        Opts {
            database_url: Some(via_proxy),
            ..Default::default()
        },
    )
    .await;
    let ask = || json!({"model": "test/m", "messages": user("x")});
    for _ in 0..30 {
        assert_eq!(app.chat(ask()).await.status(), 200);
    }

    // The database goes silent for longer than any database call may take.
    proxy.freeze();
    let t0 = Instant::now();
    let mut degraded = false;
    let mut sent = 60;
    while t0.elapsed() < Duration::from_secs(14) {
        sent += 1;
        let started = Instant::now();
        let resp = app.chat(ask()).await;
        assert_eq!(resp.status(), 200, "requests are served during the outage");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "and never wait on the database"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let h: Value = app.health().await;
    if h["status"] == "degraded" {
        degraded = true;
    }
    assert!(degraded, "health says so: {h}");
    assert_eq!(h["database"]["ok"], false);
    assert!(h["request_log"]["backlog"].as_u64().unwrap() > 0, "{h}");
    proxy.thaw();

    for _ in 0..30 {
        assert_eq!(app.chat(ask()).await.status(), 200);
    }
    // Every request of the run reaches the database once it answers again.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let h = app.health().await;
        if h["request_log"]["backlog"] == 0 && h["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "the backlog never drained: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let during = count_rows(&direct).await;
    let health: Value = app.health().await;
    assert_eq!(health["request_log"]["lost"], 0);
    assert_eq!(health["request_log"]["dead_lettered"], 0);
    // `written` counts rows this gateway saw inserted; a commit whose answer the outage
    // swallowed is in the database but not in that count.
    let written = health["request_log"]["written"].as_u64().unwrap() as usize;
    assert!(written <= during, "{written} written, {during} rows");
    assert_eq!(during, sent, "one row for every request sent");
    // Shutdown finishes promptly.
    let t = Instant::now();
    app.stop().await;
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}
