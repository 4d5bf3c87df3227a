//! Persistence: one `Store` over SQLite (the embedded default) or PostgreSQL, chosen by URL.
//!
//! Every query is written once in SQL both dialects accept (`$n` placeholders, `ON CONFLICT`)
//! and run against whichever pool is live through `on_pool!`. Depends on `types` only.

mod config_apply;
mod content;
mod dim_rollups;
mod keys;
mod ledger;
mod limits;
mod presets;
mod records;
mod registry;
mod retention;
mod rollups;
pub mod sanitize;
mod usage_top;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use config_apply::ConfigApplied;
pub use content::CapturedContent;
pub use keys::{KeyRow, NewKeyRow, REGISTRY_CHANNEL};
pub use ledger::{LeaseAsk, LeaseGrant, SpendTotals};
pub use limits::{LimitCells, LimitWrite, SLOT_TTL_US};
pub use presets::{PresetVersion, Saved, StoredPreset};
pub use records::{AttemptRecord, Inserted, RequestFilter, RequestRecord, StoredRequest};
pub use registry::{Origin, RegistryRows};
pub use retention::{partition_name, Purged, PARTITIONED};
pub use rollups::{
    rollup_of, ActivityRow, Dimension, RollupKey, Sums, Top, TopBy, Usage, UsageQuery, UsageRow,
    WHOLE_RANGE,
};
pub use usage_top::MAX_TOP;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

impl StoreError {
    /// The database refused this data (a constraint, an encoding, a type): retrying the same
    /// rows cannot succeed. Everything else (connections, timeouts, locks, a full disk) is
    /// transient.
    pub fn is_refused_data(&self) -> bool {
        let StoreError::Sqlx(sqlx::Error::Database(db)) = self else {
            return false;
        };
        let code = db.code().unwrap_or_default();
        if db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some()
        {
            // PostgreSQL SQLSTATEs: connection (08), resources (53), operator intervention
            // incl. statement timeouts (57), rollbacks (40), locks (55), system (58, XX).
            return !["08", "53", "57", "40", "55", "58", "XX"]
                .iter()
                .any(|c| code.starts_with(c));
        }
        // SQLite: extended result codes; the low byte is the primary code (busy, locked, out
        // of memory, I/O, full, cannot open, schema changed are transient).
        match code.parse::<i32>() {
            Ok(n) => !matches!(n & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 17),
            Err(_) => true,
        }
    }
}

/// How long a background database call may take before its connection is closed (not
/// returned to the pool, where a connection gone silent would wait forever).
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool is live.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs `body` on a connection of its own under `deadline`. When the deadline passes (or the
/// call fails) the connection is closed rather than returned to the pool: a connection that went silent
/// mid-query (a NAT or firewall dropping state) is replaced instead of waited on.
macro_rules! on_conn {
    ($store:expr, $deadline:expr, $conn:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(pool) => $crate::store::on_conn!(@run pool, $deadline, $conn => $body),
            $crate::store::Store::Postgres(pool) => $crate::store::on_conn!(@run pool, $deadline, $conn => $body),
        }
    };
    (@run $pool:ident, $deadline:expr, $conn:ident => $body:expr) => {{
        let mut $conn = tokio::time::timeout($deadline, $pool.acquire())
            .await
            .map_err(|_| $crate::store::StoreError::Timeout($deadline))??;
        let r = tokio::time::timeout($deadline, async { $body }).await;
        match r {
            Ok(Ok(v)) => Ok(v),
            // After a failed statement the connection's protocol state is not to be
            // trusted (sqlx can hand a stale error to the next user): replace it.
            Ok(Err(e)) => {
                $conn.close_on_drop();
                Err(e)
            }
            Err(_) => {
                $conn.close_on_drop();
                Err($crate::store::StoreError::Timeout($deadline))
            }
        }
    }};
}
pub(crate) use on_conn;

impl Store {
    /// Connects (creating a SQLite file and its folder if missing). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Writes are appends and reads are small: a 512 KiB page cache per connection
                // (SQLite's default is 2 MiB) keeps the gateway's resident memory low.
                .pragma("cache_size", "-512");
            let path = opts.get_filename();
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() && !path.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Sqlx(sqlx::Error::Configuration(
                            format!("cannot create database folder {}: {e}", dir.display()).into(),
                        ))
                    })?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .after_connect(|_, _| {
                    Box::pin(async {
                        deprioritize_sqlite_workers();
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Deadlines on the server's side too: a statement, or a transaction left idle by a
            // client that vanished, ends there; and the server probes idle connections, which
            // keeps NAT and firewall state alive. (The client side has no TCP keep-alive
            // setting in sqlx: `on_conn!` puts a deadline on every background call instead.)
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([
                ("statement_timeout", "15s"),
                ("idle_in_transaction_session_timeout", "30s"),
                ("tcp_keepalives_idle", "15"),
                ("tcp_keepalives_interval", "5"),
                ("tcp_keepalives_count", "3"),
            ]);
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            Store::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_conn!(self, Duration::from_secs(2), c => {
            sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ()).map_err(StoreError::from)
        })
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Lowers the scheduling priority of SQLite's worker threads (one per connection, started by
/// sqlx). They mostly write the request log; on a busy core, a batch insert running at the
/// same priority as the request threads showed up as tail latency for requests. At nice 5
/// the writer yields to request handling yet keeps about a quarter of a contended core, and
/// a full queue slows intake (see `accounting::Slot`) rather than growing memory.
fn deprioritize_sqlite_workers() {
    #[cfg(target_os = "linux")]
    {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let is_worker = std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("sqlx-sqlite-wor"));
            let tid = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<libc::id_t>().ok());
            if let (true, Some(tid)) = (is_worker, tid) {
                // SAFETY: setpriority only reads its integer arguments; a thread that has
                // exited meanwhile makes it fail with ESRCH, which is harmless here.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, tid, 5);
                }
            }
        }
    }
}

/// Hides the password in a database URL for messages and logs: in the user info
/// (`user:pass@`) and in query parameters (`?password=`, `sslpassword=`, anything naming a
/// secret or token).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|w| n.contains(w))
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            super::redact_url("sqlite://data/x.db"),
            "sqlite://data/x.db"
        );
        assert_eq!(
            super::redact_url(
                "postgres://h/db?user=u&password=hunter22&sslmode=require&sslpassword=x"
            ),
            "postgres://h/db?user=u&password=***&sslmode=require&sslpassword=***"
        );
    }
}
