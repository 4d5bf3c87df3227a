//! Connections: the accept loop, what one connection may hold, and a shutdown that is
//! bounded and honest.
//!
//! Each connection is served by hyper (HTTP/1 and HTTP/2) with a deadline for request
//! headers, which also bounds how long an idle keep-alive connection is held, and a cap on
//! header size. At most `max_connections` are open at once; past that the loop stops
//! accepting (new connections wait in the kernel's backlog) instead of running out of file
//! descriptors, which stopped all service.
//!
//! Shutdown, in order: the lifecycle goes to draining (`/v1/health` answers 503
//! `draining`); after `shutdown_delay` the listener is closed, so new connections are
//! refused; idle connections close and in-flight requests run for up to the grace period;
//! then the lifecycle is cut, which ends open streams with the mid-stream error chunk; a
//! moment later whatever is still open is dropped. `serve` returns within grace + delay +
//! `CUT_LINGER` whatever clients do.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long streams ended at the cut have to deliver their last chunk before their
/// connections are dropped.
pub const CUT_LINGER: Duration = Duration::from_secs(2);

/// What one connection may hold, and how shutdown runs.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Request headers must arrive within this; also the longest an idle keep-alive
    /// connection is kept.
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// Between draining and refusing new connections (for load balancers to notice).
    pub shutdown_delay: Duration,
    pub shutdown_grace: Duration,
}

/// Where a replica is in its life; handlers read it (health, streams).
#[derive(Debug, Default, Clone)]
pub struct Lifecycle {
    /// Shutdown has begun: not ready for new work.
    pub draining: CancellationToken,
    /// The grace period is over: open streams end now.
    pub cut: CancellationToken,
}

/// Serves `router` on `listener` until `lifecycle.draining` is cancelled, then shuts down
/// as described above.
pub async fn serve(listener: TcpListener, router: Router, limits: ConnLimits, life: Lifecycle) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // Pings notice a dead peer on a connection that otherwise idles forever.
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();

    let refuse_at = async {
        life.draining.cancelled().await;
        tokio::time::sleep(limits.shutdown_delay).await;
    };
    tokio::pin!(refuse_at);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut refuse_at => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut refuse_at => break,
        };
        let _ = tcp.set_nodelay(true);
        // Handlers that throttle by address (`http::master`) read the peer from here.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let first_bytes = limits.header_read_timeout;
        conns.spawn(async move {
            // Telling HTTP/1 from HTTP/2 waits for the first bytes with no deadline of its
            // own, and hyper's header deadline starts only after it: a client that sends
            // nothing must not hold the connection.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(first_bytes, tcp.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                drop(permit);
                return;
            }
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
        // Reap finished connections so the set does not grow with every one ever served.
        while conns.try_join_next().is_some() {}
    }
    // New connections are refused from here on.
    drop(listener);
    let open = conns.len();
    if open > 0 {
        tracing::info!(
            open,
            grace_secs = limits.shutdown_grace.as_secs_f64(),
            "shutting down: finishing in-flight requests"
        );
    }
    let finished = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
    if finished.is_err() {
        tracing::warn!(
            open = conns.len(),
            "shutdown grace period over: ending open streams"
        );
        life.cut.cancel();
        let drained = tokio::time::timeout(CUT_LINGER, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = conns.len(),
                "dropping connections that did not close"
            );
        }
    }
    life.cut.cancel();
    conns.shutdown().await;
}
