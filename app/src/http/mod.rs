//! The HTTP surfaces, one module each: the publisher API (Charmhub publisher-gateway shape, for
//! both namespaces), the Snap Store device API, the Charmhub API, downloads and operations.

mod charms;
mod download;
pub mod error;
mod extract;
mod layers;
mod ops;
mod publisher;
mod snaps;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use error::{ApiError, ApiResult};
pub use extract::{Auth, MaybeAuth};

use crate::blobs::BlobStore;
use crate::catalog::CatalogHandle;
use crate::config::Config;
use crate::inspect::Limits;
use crate::store::{Seq, Store};

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub catalog: Arc<CatalogHandle>,
    pub inspect_limits: Limits,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
    /// Base of absolute URLs in responses, without a trailing slash.
    pub public_url: String,
}

impl AppState {
    pub fn new(app: App) -> AppState {
        AppState(Arc::new(app))
    }

    /// Read-your-writes: waits until this process's catalog shows change `seq`.
    pub async fn settle(&self, seq: Seq) {
        if !self.catalog.wait_for(seq, Duration::from_secs(10)).await {
            tracing::warn!(
                seq,
                applied = self.catalog.seq(),
                "catalog did not catch up with a write in time"
            );
        }
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Request bodies other than uploads are small.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The whole HTTP API: the routes, then the cross-cutting layers of [`layers::apply`].
pub fn build_router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    let routes = Router::new()
        .merge(publisher::routes())
        .merge(snaps::routes())
        .merge(charms::routes())
        .merge(download::routes())
        .merge(ops::routes())
        .route_layer(axum::middleware::from_fn(move |request, next| {
            layers::request_timeout(timeout, request, next)
        }))
        .merge(publisher::upload_routes());
    layers::apply(routes, &state).with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
