//! `depot serve` and `depot migrate`.

use std::sync::Arc;
use std::time::Duration;

use super::{CliError, CliResult};
use crate::assertions::Assertions;
use crate::blobs::FsBlobStore;
use crate::catalog::{CatalogHandle, run_follower};
use crate::config::{Config, redact_url};
use crate::http::{App, AppState, build_router};
use crate::inspect::Limits;
use crate::store::Store;

pub(crate) async fn open_store(config: &Config) -> Result<Arc<dyn Store>, CliError> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            CliError(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    }
    crate::store::open(&url, config.database_max_connections)
        .await
        .map_err(|e| {
            CliError(format!(
                "cannot open the database {}: {e}",
                redact_url(&url)
            ))
        })
}

pub async fn migrate(config: Config) -> CliResult {
    let store = open_store(&config).await?;
    store.migrate().await?;
    tracing::info!(database = %redact_url(&config.database_url()), "migrations applied");
    Ok(())
}

/// Builds the application state for `config`: store (migrated if configured), blobs, catalog.
pub async fn build_state(config: Config) -> Result<AppState, CliError> {
    let store = open_store(&config).await?;
    if config.migrate_on_start {
        store.migrate().await?;
    }
    let blobs = FsBlobStore::open(config.data_dir.join("blobs")).map_err(|e| {
        CliError(format!(
            "cannot open blob storage in {}: {e}",
            config.data_dir.join("blobs").display()
        ))
    })?;
    let started = std::time::Instant::now();
    let catalog = CatalogHandle::load(store.as_ref()).await?;
    tracing::info!(
        packages = catalog.snapshot().len(),
        seq = catalog.seq(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "catalog loaded"
    );
    let public_url = config.public_url();
    let assertions = load_assertions(&config).await?;
    Ok(AppState::new(App {
        config,
        store,
        blobs: Arc::new(blobs),
        catalog: Arc::new(catalog),
        inspect_limits: Limits::default(),
        metrics: Arc::new(crate::telemetry::metrics::Metrics::new()),
        public_url,
        assertions,
    }))
}

/// The signing keys (generated on first start: RSA 4096 takes a few seconds, off the async
/// workers).
pub(crate) async fn load_assertions(config: &Config) -> Result<Arc<Assertions>, CliError> {
    let config = config.clone();
    let loaded = tokio::task::spawn_blocking(move || Assertions::load(&config))
        .await
        .map_err(|e| CliError(format!("loading the signing keys failed: {e}")))?
        .map_err(|e| CliError(format!("cannot load the signing keys: {e}")))?;
    tracing::info!(
        authority = loaded.authority_id(),
        store_key = %loaded.store_key_id(),
        "assertion signing keys loaded"
    );
    Ok(Arc::new(loaded))
}

pub async fn serve(config: Config) -> CliResult {
    let result = run(config).await;
    // Export the spans still buffered; the exporter blocks, so off the async workers.
    let _ = tokio::task::spawn_blocking(crate::telemetry::shutdown).await;
    result
}

async fn run(config: Config) -> CliResult {
    let listen = config.listen;
    let poll = Duration::from_millis(config.follower_poll_interval_ms);
    let database = redact_url(&config.database_url());
    let state = build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {listen}: {e}")))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = {
        let mut stop = stop_rx.clone();
        tokio::spawn(run_follower(
            state.store.clone(),
            state.catalog.clone(),
            state.metrics.clone(),
            poll,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    };
    tracing::info!(%listen, public_url = %state.public_url, %database, "depot is serving");
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let router = build_router(state);
    let mut stopping = stop_rx.clone();
    let server = crate::http::serve(listener, router, async move {
        shutdown_signal().await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections, finishing in-flight requests"
        );
        let _ = stop_tx.send(true);
    });
    // In-flight requests get `grace` to finish once the signal came; then we stop anyway.
    let deadline = async move {
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result?,
        () = deadline => {
            return Err(CliError(format!(
                "requests were still in flight when the shutdown grace period ({} s) ended",
                grace.as_secs()
            )));
        }
    }
    let _ = follower.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
