//! Persistence: one `Store` over SQLite (the embedded default) or PostgreSQL, chosen by URL.
//!
//! Every query is written once in SQL both dialects accept (`$n` placeholders, `ON CONFLICT`)
//! and run against whichever pool is live through `on_pool!`. Depends on `types` only.

mod records;
mod registry;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use records::{AttemptRecord, RequestRecord, StoredRequest};
pub use registry::{KeyRow, Origin, RegistryRows};

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
}

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
                .acquire_timeout(Duration::from_secs(10))
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
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
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
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
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

/// Hides the password in a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
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
    }
}
