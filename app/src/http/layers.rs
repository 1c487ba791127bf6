//! Cross-cutting layers every route gets: rate limits, metrics, body limit, the request span
//! (W3C Trace Context, route, status, trace id), request ids, panic catching, and the request
//! timeout middleware.

mod rate_limit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{ApiError, AppState, JSON_BODY_LIMIT, error};

pub use rate_limit::RateLimits;
pub(crate) use rate_limit::client_address;

/// Wraps the routes in the layers, outermost last.
pub fn apply(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        // Inside the metrics layer, so that 429s are counted by route like any answer.
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(RateLimits::new(&state.config)),
            rate_limit::enforce,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::telemetry::metrics::track,
        ))
        .fallback(error::not_found_fallback)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::map_response(trace_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(record_response),
        )
        // Outermost: every request gets an id (or keeps the caller's), echoed in the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal(
                "a request handler panicked",
            ))
        }))
}

/// A random (version 4) UUID for each request, drawn from the thread's random generator:
/// `tower_http`'s `MakeRequestUuid` asks the kernel for every one (a system call per request).
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        axum::http::HeaderValue::from_str(text)
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request, named after its route template (`GET /v2/snaps/info/{name}`), a
/// child of the caller's span when the request has a W3C `traceparent`. Its `trace_id` field
/// puts the trace id in every log line of the request.
fn request_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let method = request.method();
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        url.path = request.uri().path(),
        url.query = request.uri().query(),
        http.response.status_code = Empty,
        request_id,
        trace_id = Empty,
    );
    let _ = span.set_parent(crate::telemetry::parent_context(request.headers()));
    let context = span.context();
    let otel_span = opentelemetry::trace::TraceContextExt::span(&context);
    let span_context = otel_span.span_context();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
    }
    span
}

/// Records the status on the request span (server errors mark the span as failed) and logs the
/// answer.
fn record_response<B>(response: &Response<B>, latency: Duration, span: &Span) {
    let status = response.status();
    // As i64: the OpenTelemetry bridge turns unsigned fields into strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    tracing::info!(
        status = status.as_u16(),
        latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
        "finished processing request"
    );
}

/// Tells the caller which trace its request is in (W3C Trace Context Level 2 `traceresponse`).
async fn trace_response(mut response: axum::response::Response) -> axum::response::Response {
    if let Some(value) = crate::telemetry::trace_response_header(&Span::current()) {
        response.headers_mut().insert("traceresponse", value);
    }
    response
}

/// Answers 503 `request-timeout` when a handler takes longer than `limit`.
pub async fn request_timeout(
    limit: Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "request-timeout",
            format!(
                "the store did not answer within {} s; retry later",
                limit.as_secs()
            ),
        )),
    }
}
