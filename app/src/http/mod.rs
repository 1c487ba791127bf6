//! The HTTP surfaces, one module each: the publisher API (Charmhub publisher-gateway shape, for
//! both namespaces), the Snap Store device API, the Charmhub API, downloads and operations.
//!
//! Every route is registered with `utoipa_axum::routes!` from a handler carrying
//! `#[utoipa::path]`, so the router and the OpenAPI document ([`openapi`], served at
//! `/openapi.json`) are built from one list; `tests/openapi.rs` fails when they differ.

mod assertions;
mod charm_refresh;
mod charms;
mod devices;
mod download;
pub mod error;
mod extract;
mod layers;
mod libraries;
mod ops;
mod publisher;
mod refresh;
mod render;
mod resources;
pub mod schema;
mod search;
mod snaps;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use utoipa::OpenApi as _;
use utoipa::openapi::{OpenApi, RefOr};
use utoipa_axum::router::OpenApiRouter;

pub use error::{ApiError, ApiResult};
pub use extract::{Auth, MaybeAuth};
pub use ops::metrics_router;

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
    /// The signing keys and the authority's assertions.
    pub assertions: Arc<crate::assertions::Assertions>,
    /// Downloads counted and not yet flushed to the database.
    pub downloads: Arc<crate::downloads::DownloadCounter>,
    /// Co-installation counts and the recommendations they yield.
    pub related: Arc<crate::related::Related>,
    /// The last blob storage check `/readyz` made.
    pub blob_health: ops::BlobHealth,
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

/// The whole HTTP API: the [`routes`], and around them the request service of
/// [`layers::around`].
pub fn build_router(state: AppState) -> Router {
    layers::around(routes(state))
}

/// The routes with what each gets on its own (rate limit, timeout, metrics) and the fallbacks,
/// without what [`build_router`] puts around them all.
pub fn routes(state: AppState) -> Router {
    let (routes, _) = api().split_for_parts();
    // A known path called with another method: 405 in the envelope, with the `Allow` header.
    let routes = routes.method_not_allowed_fallback(error::method_not_allowed_fallback);
    layers::per_route(routes, state)
}

/// Every route, each registered together with its OpenAPI operation.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(publisher::routes())
        .merge(snaps::routes())
        .merge(refresh::routes())
        .merge(devices::routes())
        .merge(assertions::routes())
        .merge(charms::routes())
        .merge(resources::routes())
        .merge(libraries::routes())
        .merge(search::routes())
        .merge(download::routes())
        .merge(ops::routes())
        .merge(publisher::upload_routes())
}

/// The OpenAPI 3.1 document of every route, as served at `/openapi.json`.
pub fn openapi() -> OpenApi {
    let (_, mut doc) = api().split_for_parts();
    add_common_responses(&mut doc);
    doc
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "depot",
        description = "A self-hostable store for snaps and charms: the publisher API (the shape of the Charmhub publisher gateway, for snaps and charms), the Snap Store and Charmhub device APIs, downloads and operations endpoints. Conventions (naming, the error envelope, pagination, versioning) are in docs/reference/api-conventions.md; every error code is in docs/reference/errors.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "publisher", description = "Register names, upload and push revisions, release to channels (`/v1/snap/…`, `/v1/charm/…`, `/unscanned-upload/`)."),
        (name = "snap-store", description = "The Snap Store device API that snapd calls (compatibility API)."),
        (name = "charmhub", description = "The Charmhub API that Juju calls (compatibility API)."),
        (name = "search", description = "Native search over snaps and charms (`/v1/search`); the compatibility `find` endpoints are under their APIs' tags."),
        (name = "downloads", description = "Artifact downloads, the URLs the info APIs hand out."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    ),
    components(schemas(schema::NamespaceName, schema::NamespacePlural, schema::ErrorBody)),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "macaroon",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A token from `depot admin create-token`, sent as `Authorization: Macaroon <token>` (or `Bearer <token>`, or `Macaroon root=<token>`).",
            ))),
        );
    }
}

/// Answers any route can give: a handler's panic or an I/O failure (500), the request timeout
/// or an unreachable database (503); and the publisher API's rate limit (429).
fn add_common_responses(doc: &mut OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::{HeaderBuilder, ObjectBuilder, Ref, ResponseBuilder, schema::Type};
    let error = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
    };
    let rate_limited = RefOr::T(
        error("`rate-limited`: the per-token or per-address budget of the publisher API (`publisher_rate_limit_per_minute`) or of search (`search_rate_limit_per_minute`) is spent.")
            .header(
                "retry-after",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
                    .description(Some("Seconds to wait before retrying."))
                    .build(),
            )
            .build(),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        // The routes the rate limiter counts, as it classifies them.
        let limited = layers::route_class(path) != layers::RouteClass::Unlimited;
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            if limited {
                responses
                    .entry("429".into())
                    .or_insert_with(|| rate_limited.clone());
            }
            responses.entry("500".into()).or_insert_with(|| {
                RefOr::T(error("`internal-error`: a bug or an I/O failure; the cause is in the server log.").build())
            });
            responses.entry("503".into()).or_insert_with(|| {
                RefOr::T(error("`request-timeout`: the request took longer than `request_timeout_secs`; `database-unavailable`: the database cannot be reached. Retry later.").build())
            });
        }
    }
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
