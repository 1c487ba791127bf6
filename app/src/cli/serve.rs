//! `depot serve` and `depot migrate`.

use std::sync::Arc;
use std::time::Duration;

use super::{CliError, CliResult};
use crate::assertions::Assertions;
use crate::blobs::{BlobStore, FsBlobStore, S3BlobStore};
use crate::catalog::{CatalogHandle, run_checkpointer, run_follower};
use crate::config::{BlobBackend, Config, redact_url};
use crate::http::{App, AppState, build_router};
use crate::inspect::Limits;
use crate::store::Store;

pub(crate) async fn open_store(config: &Config) -> Result<Arc<dyn Store>, CliError> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        create_data_dir(config)?;
    }
    crate::store::open(&url, config.database_max_connections)
        .await
        .map_err(|e| {
            let text = e.to_string();
            // rustls names what it refused; the fix is in the URL.
            let hint = if text.contains("UnknownIssuer") {
                "; to trust the server's certificate authority, add sslrootcert=PATH (a PEM file) to the URL (see docs/how-to/run-with-postgresql.md)"
            } else {
                ""
            };
            CliError(format!(
                "cannot open the database {}: {text}{hint}",
                redact_url(&url)
            ))
        })
}

fn create_data_dir(config: &Config) -> Result<(), CliError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        CliError(format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        ))
    })
}

pub async fn migrate(config: Config) -> CliResult {
    let store = open_store(&config).await?;
    store.migrate().await?;
    tracing::info!(database = %redact_url(&config.database_url()), "migrations applied");
    Ok(())
}

/// Opens the blob store `blob_backend` names; for S3, checks the bucket answers.
pub(crate) async fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>, CliError> {
    match config.blob_backend {
        BlobBackend::Fs => {
            let root = config.data_dir.join("blobs");
            let blobs = FsBlobStore::open(&root).map_err(|e| {
                CliError(format!(
                    "cannot open blob storage in {}: {e}",
                    root.display()
                ))
            })?;
            Ok(Arc::new(blobs))
        }
        BlobBackend::S3 => {
            let settings = config.s3_settings().map_err(|e| CliError(e.to_string()))?;
            // Local copies of blobs being inspected live next to the other local data.
            let scratch = config.data_dir.join("scratch");
            let blobs = S3BlobStore::open(&settings, &scratch)
                .await
                .map_err(|e| CliError(format!("cannot open blob storage: {e}")))?;
            tracing::info!(bucket = %settings.describe(), "blobs are stored in S3");
            Ok(Arc::new(blobs))
        }
    }
}

/// Builds the application state for `config`: store (migrated if configured), blobs, catalog.
pub async fn build_state(config: Config) -> Result<AppState, CliError> {
    let store = open_store(&config).await?;
    if config.migrate_on_start {
        store.migrate().await?;
    }
    let blobs = open_blobs(&config).await?;
    let started = std::time::Instant::now();
    let checkpoint = config.search_checkpoint_path();
    if checkpoint.is_some() {
        create_data_dir(&config)?;
    }
    let catalog = CatalogHandle::load(store.as_ref(), checkpoint.as_deref()).await?;
    tracing::info!(
        packages = catalog.snapshot().len(),
        seq = catalog.seq(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "catalog loaded"
    );
    let public_url = config.public_url();
    let assertions = load_assertions(&config).await?;
    let packages = catalog.snapshot().len();
    if assertions.generated_keys() && packages > 0 {
        tracing::warn!(
            packages,
            keys = %config.data_dir.join("keys").display(),
            "a new root signing key (a new authority) was generated for a database that already holds packages: devices that trust the old authority will not verify what depot signs now; if this database was restored from a backup, stop depot and put the backed-up keys directory back (docs/how-to/back-up-and-restore.md); on a new store filled with `admin import`, this is expected"
        );
    }
    Ok(AppState::new(App {
        config,
        store,
        blobs,
        catalog: Arc::new(catalog),
        inspect_limits: Limits::default(),
        metrics: Arc::new(crate::telemetry::metrics::Metrics::new()),
        public_url,
        assertions,
        downloads: Arc::default(),
        related: Arc::default(),
        blob_health: Default::default(),
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
    crate::store::RenderedJson::set_limit(
        usize::try_from(config.render_cache_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
    );
    let poll = Duration::from_millis(config.follower_poll_interval_ms);
    let database = redact_url(&config.database_url());
    let state = build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {listen}: {e}")))?;
    let metrics_listener =
        match state.config.metrics_listen {
            Some(address) => Some(tokio::net::TcpListener::bind(address).await.map_err(|e| {
                CliError(format!("cannot listen on {address} (metrics_listen): {e}"))
            })?),
            None => None,
        };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_server = metrics_listener.map(|listener| {
        let mut stop = stop_rx.clone();
        let router = crate::http::metrics_router(state.clone());
        tracing::info!(listen = %state.config.metrics_listen.unwrap_or(listen), "serving /metrics");
        tokio::spawn(crate::http::serve(listener, router, async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    });
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
    let flusher = {
        let mut stop = stop_rx.clone();
        tokio::spawn(crate::downloads::run_flusher(
            state.downloads.clone(),
            state.related.clone(),
            state.store.clone(),
            state.catalog.clone(),
            Duration::from_secs(state.config.download_flush_interval_secs.max(1)),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    };
    let checkpointer = state.config.search_checkpoint_path().map(|path| {
        let mut stop = stop_rx.clone();
        tokio::spawn(run_checkpointer(
            state.store.clone(),
            state.catalog.clone(),
            path,
            Duration::from_secs(state.config.search_checkpoint_interval_secs),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ))
    });
    // Listening for SIGTERM and SIGINT from before depot says it serves: a signal that comes
    // right after that line stops it cleanly, instead of killing it.
    let signal = shutdown_signal();
    tracing::info!(%listen, public_url = %state.public_url, %database, "depot is serving");
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let router = build_router(state);
    let mut stopping = stop_rx.clone();
    let server = crate::http::serve(listener, router, async move {
        signal.await;
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
    // The last counts: a clean stop loses none.
    let _ = flusher.await;
    // The index as of the last change, for the next start.
    if let Some(checkpointer) = checkpointer {
        let _ = checkpointer.await;
    }
    if let Some(metrics_server) = metrics_server {
        match metrics_server.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the metrics listener failed"),
            Err(e) => tracing::warn!(error = %e, "the metrics listener panicked"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). On Unix the handlers are installed when this is
/// called, not when the future is first polled (elsewhere, Ctrl-C's on first poll).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate) => {},
                () = wait(interrupt) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
