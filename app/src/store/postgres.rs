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

/// Makes aws-lc-rs the process's TLS crypto provider, once. reqwest and sqlx enable both of
/// rustls's providers, so rustls cannot choose by itself, and the TLS set-up that asks it for
/// one (sqlx's for `sslmode=verify-ca`) panicked.
pub fn install_crypto_provider() {
    // An error means a provider is installed already: that one serves.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl PostgresStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    pub async fn open(url: &str, max_connections: u32) -> Result<PostgresStore> {
        install_crypto_provider();
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::PostgresStore;

    /// A peer that agrees to TLS and hangs up: with `sslmode=verify-ca` depot sets TLS up and
    /// fails to connect, with an error (that set-up panicked before a crypto provider was
    /// installed).
    #[tokio::test]
    async fn verify_ca_sets_tls_up_and_fails_with_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut ssl_request = [0u8; 8];
                if socket.read_exact(&mut ssl_request).await.is_ok() {
                    let _ = socket.write_all(b"S").await;
                }
            }
        });
        for mode in ["verify-ca", "verify-full", "require"] {
            let url = format!("postgres://depot:secret@127.0.0.1:{port}/depot?sslmode={mode}");
            let result = PostgresStore::open(&url, 2).await;
            assert!(result.is_err(), "{mode}: connected to a peer that hung up");
        }
    }
}
