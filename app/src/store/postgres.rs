//! PostgreSQL backend: production. TLS through rustls, following the URL's `sslmode`.
//! Appended changes are announced with `NOTIFY depot_changes` so followers wake at once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres};
use tokio::sync::Mutex;

use super::Result;
use super::sql::impl_sql_store;

pub const CHANNEL: &str = "depot_changes";

pub struct PostgresStore {
    read: Pool<Postgres>,
    write: Pool<Postgres>,
    listener: Mutex<Option<PgListener>>,
}

impl PostgresStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    pub async fn open(url: &str, max_connections: u32) -> Result<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("depot");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(PostgresStore {
            read: pool.clone(),
            write: pool,
            listener: Mutex::new(None),
        })
    }

    fn stats(&self) -> (u32, u32) {
        // `read` and `write` are the same pool.
        (self.read.size(), self.read.num_idle() as u32)
    }

    async fn notify(&self, tx: &mut sqlx::Transaction<'_, Postgres>, seq: i64) -> Result<()> {
        // Delivered at commit, never for a rolled-back transaction.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(seq.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Returns when a notification arrives; on a connection problem waits a little and
    /// returns so the caller polls (and we reconnect next time).
    async fn wait_notification(&self) {
        let mut guard = self.listener.lock().await;
        if guard.is_none() {
            match PgListener::connect_with(&self.read).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => *guard = Some(listener),
                    Err(err) => tracing::debug!(%err, "LISTEN failed"),
                },
                Err(err) => tracing::debug!(%err, "cannot connect the change listener"),
            }
        }
        let Some(listener) = guard.as_mut() else {
            drop(guard);
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        };
        if let Err(err) = listener.recv().await {
            tracing::debug!(%err, "change listener lost its connection");
            *guard = None;
            drop(guard);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

impl_sql_store!(PostgresStore, Postgres, super::Backend::Postgres);
