//! Operational endpoints: liveness, readiness, metrics and the OpenAPI document.

use std::sync::LazyLock;

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::Json;
use super::schema::ErrorBody;
use super::schema::{
    BlobsStatus, CatalogStatus, DatabaseStatus, FollowerStatus, Health, Readiness, ReadyStatus,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
}

/// Prometheus metrics.
///
/// The text exposition format; the metrics are listed in docs/reference/metrics.md. Gauges that
/// describe state are read at scrape time.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 404, description = "`metrics-elsewhere`: `metrics_listen` is set, so the metrics are served on that address only.", body = ErrorBody),
    ),
)]
async fn metrics(State(app): State<AppState>) -> Result<Response, ApiError> {
    // The address stays out of the answer: the metrics port is meant to be out of clients'
    // reach, and the operator knows it (`metrics_listen`).
    if app.config.metrics_listen.is_some() {
        return Err(ApiError::not_found(
            "metrics-elsewhere",
            "metrics are served on the separate metrics listener (the metrics_listen setting), not here",
        ));
    }
    Ok(render_metrics(&app).await)
}

/// The router of the separate metrics listener (`metrics_listen`): `GET /metrics` only.
pub fn metrics_router(state: AppState) -> axum::Router {
    async fn scrape(State(app): State<AppState>) -> Response {
        render_metrics(&app).await
    }
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .fallback(super::error::not_found_fallback)
        .with_state(state)
}

/// Reads the state gauges, then renders every metric in the text format.
async fn render_metrics(app: &AppState) -> Response {
    let m = &app.metrics;
    let catalog = app.catalog.snapshot();
    m.catalog_packages.set(catalog.len() as i64);
    m.catalog_seq.set(catalog.seq());
    let (open, idle) = app.store.pool_stats();
    m.db_connections
        .with_label_values(&["idle"])
        .set(i64::from(idle));
    m.db_connections
        .with_label_values(&["in_use"])
        .set(i64::from(open.saturating_sub(idle)));
    if let Ok(Ok(head)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), app.store.head_seq()).await
    {
        m.follower_lag.set((head - catalog.seq()).max(0));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "Always.", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the catalog is loaded.
///
/// When the database is away the store still serves reads from its snapshot; the body says so
/// and writes fail until it is back. It checks blob storage too (a file written and removed in
/// the blob directory, or a listing of the S3 bucket; at most once a second): without it,
/// downloads and uploads fail.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses((status = 200, description = "Serving; `status` says whether writes, downloads and uploads can work.", body = Readiness)),
)]
async fn readyz(State(app): State<AppState>) -> Json<Readiness> {
    let catalog = app.catalog.snapshot();
    let (database, blobs_error) = tokio::join!(
        tokio::time::timeout(CHECK_LIMIT, app.store.ping()),
        app.blob_health.check(app.blobs.as_ref()),
    );
    let database_ok = matches!(database, Ok(Ok(())));
    let follower_error = app.catalog.follower_error();
    let mut problems = Vec::new();
    if !database_ok {
        problems.push("the database is unreachable: reads are served from the in-memory catalog in degraded mode; writes fail until it is back".to_string());
    } else if let Some(err) = &follower_error {
        problems.push(format!(
            "the catalog is not following the change log ({err}): reads are served from a snapshot that may be stale; check the logs and depot_change_follower_errors_total"
        ));
    }
    if blobs_error.is_some() {
        problems.push(
            "blob storage is not usable: downloads and uploads fail until it is back; the server log says why"
                .to_string(),
        );
    }
    let ready = problems.is_empty();
    Json(Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::Degraded
        },
        database: if database_ok {
            DatabaseStatus::Ok
        } else {
            DatabaseStatus::Unreachable
        },
        blobs: BlobsStatus {
            status: if blobs_error.is_some() {
                "unavailable"
            } else {
                "ok"
            },
            error: blobs_error,
        },
        catalog: CatalogStatus {
            packages: catalog.len() as u64,
            seq: catalog.seq(),
        },
        follower: FollowerStatus {
            status: if follower_error.is_some() {
                "failing"
            } else {
                "following"
            },
            error: follower_error,
        },
        message: if ready {
            "serving reads and writes".to_string()
        } else {
            problems.join("; ")
        },
    })
}

/// How long `/readyz` waits for the database and for blob storage.
const CHECK_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The last check of blob storage. `/readyz` needs no token, and each check writes a file or
/// lists the S3 bucket (a billed request), so callers share one check a second: the first
/// runs it, those arriving meanwhile wait for its answer.
#[derive(Default)]
pub struct BlobHealth(tokio::sync::Mutex<Option<(std::time::Instant, Option<String>)>>);

impl BlobHealth {
    /// How long a check's answer stands.
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    /// `None` when blobs can be stored and read, else what callers are told. The details
    /// (paths, the S3 error) go to the log only.
    async fn check(&self, blobs: &dyn crate::blobs::BlobStore) -> Option<String> {
        let mut last = self.0.lock().await;
        if let Some((at, answer)) = &*last
            && at.elapsed() < Self::FRESH
        {
            return answer.clone();
        }
        let answer = match tokio::time::timeout(CHECK_LIMIT, blobs.check()).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::warn!(%err, "blob storage is not usable: downloads and uploads fail");
                Some("blobs cannot be stored or read; the server log says why".to_string())
            }
            Err(_) => {
                tracing::warn!(
                    limit_secs = CHECK_LIMIT.as_secs(),
                    "blob storage did not answer its readiness check in time"
                );
                Some(format!(
                    "blob storage did not answer within {} s",
                    CHECK_LIMIT.as_secs()
                ))
            }
        };
        *last = Some((std::time::Instant::now(), answer.clone()));
        answer
    }
}

/// This document: the OpenAPI 3.1 description of every route.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document.", body = Object)),
)]
async fn openapi_json() -> impl axum::response::IntoResponse {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        super::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
