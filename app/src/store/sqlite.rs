//! SQLite backend: the embedded default. WAL mode, one writer connection (SQLite serialises
//! writers anyway; a single connection avoids `SQLITE_BUSY` on lock upgrades), several readers.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use super::Result;
use super::sql::impl_sql_store;

/// Turns SQLite's memory statistics off for the process. Call it before anything opens a
/// database, while no other thread runs (at the start of `main`).
///
/// SQLite keeps them by default: every allocation and free inside SQLite takes one global
/// mutex to count it. sqlx copies every column of every row it reads (`sqlite3_value_dup`) on
/// its worker thread, and the copies are freed where the rows are dropped, on the runtime's
/// threads: the catalog read at start-up (a few hundred thousand rows) had those threads
/// queueing on that mutex. depot never reads the statistics.
///
/// Returns false when SQLite had already started (they then stay on).
#[must_use = "say when the statistics stay on"]
pub fn configure_sqlite() -> bool {
    // SAFETY: `SQLITE_CONFIG_MEMSTATUS` takes one `int` argument. `sqlite3_config` must not
    // run while another thread is inside SQLite; the caller runs this before any other thread
    // exists. After SQLite has initialised it returns `SQLITE_MISUSE` and changes nothing.
    let code = unsafe {
        libsqlite3_sys::sqlite3_config(
            libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
            std::ffi::c_int::from(0u8),
        )
    };
    code == libsqlite3_sys::SQLITE_OK
}

pub struct SqliteStore {
    read: Pool<Sqlite>,
    write: Pool<Sqlite>,
}

impl SqliteStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`).
    pub async fn open(url: &str, max_connections: u32) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        // sqlx's SQLite worker thread hands rows over through a channel of 50 by default, so a
        // large read (the catalog at start-up: 63,666 packages, a few rows each) stops and
        // wakes the worker every 50 rows; with room for 4,096 it streams. The cold start's
        // catalog read went from 2.2 to 1.6 s on the benchmark catalog.
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.read_only(false).row_buffer_size(4096))
            .await?;
        Ok(SqliteStore { read, write })
    }

    fn stats(&self) -> (u32, u32) {
        (
            self.read.size() + self.write.size(),
            (self.read.num_idle() + self.write.num_idle()) as u32,
        )
    }

    async fn notify(&self, _tx: &mut sqlx::Transaction<'_, Sqlite>, _seq: i64) -> Result<()> {
        // Other processes sharing a SQLite file find changes by polling.
        Ok(())
    }

    async fn wait_notification(&self) {
        std::future::pending::<()>().await
    }
}

impl_sql_store!(SqliteStore, Sqlite, super::Backend::Sqlite);
