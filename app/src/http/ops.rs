//! Operational endpoints: liveness and readiness.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use super::extract::Json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Prometheus text exposition. Gauges that describe state are read at scrape time.
async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
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
}

/// The process lives.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready to serve: the catalog is loaded. When the database is away the store still serves
/// reads from its snapshot; the body says so and writes fail until it is back.
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let catalog = app.catalog.snapshot();
    let database = tokio::time::timeout(std::time::Duration::from_secs(2), app.store.ping()).await;
    let database_ok = matches!(database, Ok(Ok(())));
    let body = json!({
        "status": if database_ok { "ready" } else { "degraded" },
        "database": if database_ok { "ok" } else { "unreachable" },
        "catalog": {"packages": catalog.len(), "seq": catalog.seq()},
        "message": if database_ok {
            "serving reads and writes"
        } else {
            "the database is unreachable: reads are served from the in-memory catalog in degraded mode; writes fail until it is back"
        },
    });
    (StatusCode::OK, Json(body))
}
