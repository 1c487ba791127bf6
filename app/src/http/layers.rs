//! What every request goes through besides its handler, in two hand-written services:
//!
//! - [`RequestService`], around the whole router: the request id, the request's trace (W3C
//!   Trace Context in, `traceresponse` out), the request span every log line of the request is
//!   written in, the access log line, panic catching and the body limit;
//! - [`RouteService`], around each route (where the route template is known): its rate limit,
//!   the request timeout and the HTTP metrics, by route template.
//!
//! They were tower-http and `from_fn` layers, nine of them, each a boxed service cloned for
//! every request; folded into two, the request layers' cost fell by more than half (see
//! docs/reference/benchmarks.md).

mod rate_limit;

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{ApiError, AppState, JSON_BODY_LIMIT, error};
use crate::telemetry::RequestTrace;
use crate::telemetry::metrics::Metrics;

pub use rate_limit::RateLimits;
pub(crate) use rate_limit::client_address;
pub(crate) use rate_limit::{RouteClass, classify as route_class};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Each route in its [`RouteService`]; the fallback for unknown paths.
pub fn per_route(routes: Router<AppState>, state: AppState) -> Router {
    let per_route = RouteLayer(Arc::new(RouteShared {
        limits: RateLimits::new(&state.config),
        metrics: state.metrics.clone(),
        timeout: Duration::from_secs(state.config.request_timeout_secs.max(1)),
    }));
    routes
        .route_layer(per_route)
        .fallback(error::not_found_fallback)
        .with_state(state)
}

/// The router in the [`RequestService`] and the default body limit.
pub fn around(router: Router) -> Router {
    // The upload route disables the limit on its own, inside this (the innermost setting wins).
    let router = DefaultBodyLimit::max(JSON_BODY_LIMIT).layer(router);
    Router::new().fallback_service(RequestService { inner: router })
}

/// The target of the access log lines (`finished processing request`), so that `RUST_LOG` can
/// turn them off (`depot::access=warn`) and keep the request span of other lines.
const ACCESS_LOG: &str = "depot::access";

/// The request id header, in and out.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C Trace Context Level 2 header telling the caller which trace its request is in.
const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// Routes answered without the request timeout: an upload takes as long as its bytes take to
/// arrive (its size is bounded instead).
const UNTIMED_ROUTES: &[&str] = &["/unscanned-upload/"];

struct RouteShared {
    limits: RateLimits,
    metrics: Arc<Metrics>,
    timeout: Duration,
}

/// Puts [`RouteService`] around each route.
#[derive(Clone)]
struct RouteLayer(Arc<RouteShared>);

impl<S> Layer<S> for RouteLayer {
    type Service = RouteService<S>;

    fn layer(&self, inner: S) -> RouteService<S> {
        RouteService {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// One route's rate limit (answered `429 rate-limited`), request timeout (`503
/// request-timeout`) and metrics (count by status, latency and requests in flight, by route
/// template). It hands the route template on to [`RequestService`] in the response's
/// extensions, for the access log.
#[derive(Clone)]
struct RouteService<S> {
    inner: S,
    shared: Arc<RouteShared>,
}

impl<S> Service<Request> for RouteService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let shared = self.shared.clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let in_flight = shared.metrics.in_flight();
        let refused = route
            .as_ref()
            .and_then(|route| shared.limits.refuse(route.as_str(), &request));
        let timeout = match &route {
            Some(route) if UNTIMED_ROUTES.contains(&route.as_str()) => None,
            _ => Some(shared.timeout),
        };
        let answer = match refused {
            Some(response) => Err(response),
            None => Ok(self.inner.call(request)),
        };
        Box::pin(async move {
            let mut response = match answer {
                Err(refused) => refused,
                Ok(answer) => match timeout {
                    None => answer.await?,
                    Some(limit) => match tokio::time::timeout(limit, answer).await {
                        Ok(response) => response?,
                        Err(_) => timed_out(limit),
                    },
                },
            };
            drop(in_flight);
            let template = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            shared.metrics.answered(
                template,
                method.as_str(),
                response.status().as_u16(),
                started.elapsed(),
            );
            if let Some(route) = route {
                response.extensions_mut().insert(route);
            }
            Ok(response)
        })
    }
}

/// The answer when a handler takes longer than `limit`.
fn timed_out(limit: Duration) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "request-timeout",
        format!(
            "the store did not answer within {} s; retry later",
            limit.as_secs()
        ),
    )
    .into_response()
}

/// Around the whole router: every request gets an id (the caller's `x-request-id`, or a new
/// UUID), echoed in the response; a trace (the caller's W3C `traceparent` continued, or a new
/// one), told back in `traceresponse`; a span named `request` that every log line of the
/// request is written in; an access log line when answered; and a `500 internal-error` when
/// its handler panics.
#[derive(Clone)]
struct RequestService<S> {
    inner: S,
}

impl<S> Service<Request> for RequestService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = request_id(request.headers());
        let (span, trace) = request_span(&request, &request_id);
        let method = request.method().clone();
        let uri = request.uri().clone();
        // A handler may panic before its future exists (while extracting) or while it runs.
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _entered = span.enter();
            self.inner.call(request)
        }));
        Box::pin(async move {
            let answer = match answer {
                Ok(answer) => AssertUnwindSafe(answer)
                    .catch_unwind()
                    .instrument(span.clone())
                    .await
                    .map(|Ok(response)| response),
                Err(panic) => Err(panic),
            };
            let mut response = answer.unwrap_or_else(|_| {
                ApiError::internal("a request handler panicked").into_response()
            });
            let route = response.extensions().get::<MatchedPath>();
            let status = response.status();
            let latency = started.elapsed();
            if crate::telemetry::bridged() {
                // As i64: the OpenTelemetry bridge turns unsigned fields into strings.
                span.record("http.response.status_code", i64::from(status.as_u16()));
                if let Some(route) = route {
                    span.record("http.route", route.as_str());
                    // The OpenTelemetry span started when its ids were read; rename it as such.
                    opentelemetry::trace::TraceContextExt::span(&span.context())
                        .update_name(format!("{method} {}", route.as_str()));
                }
                if status.is_server_error() {
                    span.record("otel.status_code", "error");
                }
            }
            tracing::event!(
                target: ACCESS_LOG,
                parent: &span,
                tracing::Level::INFO,
                http.request.method = method.as_str(),
                http.route = route.map(MatchedPath::as_str),
                url.path = uri.path(),
                url.query = uri.query(),
                status = status.as_u16(),
                latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
                "finished processing request"
            );
            let headers = response.headers_mut();
            headers.insert(X_REQUEST_ID, request_id);
            if let Some(value) = trace.as_ref().and_then(RequestTrace::traceresponse) {
                headers.insert(TRACERESPONSE, value);
            }
            Ok(response)
        })
    }
}

/// The caller's `x-request-id`, or a random (version 4) UUID drawn from the thread's random
/// generator (not the kernel's: that would be a system call per request).
fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(X_REQUEST_ID) {
        return id.clone();
    }
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = id.hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}

/// The span of one request and its trace. A request made with a valid token names its
/// account and token id (`account`, `token`: see `extract::principal`), so that every log
/// line of it, the access line included, says who made it.
///
/// When traces are exported, the span carries the OpenTelemetry HTTP server attributes and is
/// a child of the caller's span (W3C `traceparent`); its route, name and status are filled in
/// when it is answered. Otherwise the span carries only what log lines need, the request and
/// trace ids, and the trace ids are depot's own (the caller's trace id when it sent one).
fn request_span(request: &Request, request_id: &HeaderValue) -> (Span, Option<RequestTrace>) {
    let request_id = request_id.to_str().unwrap_or("");
    if !crate::telemetry::bridged() {
        let trace = RequestTrace::new(request.headers());
        let span = tracing::info_span!(
            "request",
            request_id,
            trace_id = %trace.trace_id,
            account = Empty,
            token = Empty,
        );
        trace.attach(&span);
        return (span, Some(trace));
    }
    let method = request.method();
    let span = tracing::info_span!(
        "request",
        otel.name = %method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = Empty,
        url.path = request.uri().path(),
        url.query = request.uri().query(),
        http.response.status_code = Empty,
        request_id,
        trace_id = Empty,
        account = Empty,
        token = Empty,
    );
    let trace = RequestTrace::bridged(&span, request.headers());
    if let Some(trace) = &trace {
        span.record("trace_id", tracing::field::display(trace.trace_id));
    }
    (span, trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A router of test handlers in the same two services as depot's, with a timeout of a
    /// tenth of a second and a search budget of one request a minute.
    fn router(metrics: &Arc<Metrics>) -> Router {
        let config = crate::config::Config {
            search_rate_limit_per_minute: 1,
            ..Default::default()
        };
        let per_route = RouteLayer(Arc::new(RouteShared {
            limits: RateLimits::new(&config),
            metrics: metrics.clone(),
            timeout: Duration::from_millis(100),
        }));
        let routes = Router::new()
            .route("/fast", get(|| async { "fast" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "slow"
                }),
            )
            .route(
                "/unscanned-upload/",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "uploaded"
                }),
            )
            .route(
                "/panics",
                get(|| async {
                    if true {
                        panic!("a bug");
                    }
                    "never"
                }),
            )
            .route("/v2/snaps/find", get(|| async { "found" }))
            .route_layer(per_route);
        around(routes)
    }

    async fn call(router: &Router, uri: &str) -> Response {
        let request = axum::http::Request::get(uri)
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [192, 0, 2, 1],
                1234,
            ))))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap()
    }

    async fn code(response: Response) -> String {
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        body["error-list"][0]["code"].as_str().unwrap().to_string()
    }

    fn count(metrics: &Metrics, route: &str, status: &str) -> u64 {
        metrics
            .http_requests
            .with_label_values(&[route, "GET", status])
            .get()
    }

    #[tokio::test]
    async fn a_slow_handler_times_out_except_on_the_upload_route() {
        let metrics = Arc::new(Metrics::new());
        let router = router(&metrics);
        let response = call(&router, "/slow").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(code(response).await, "request-timeout");
        assert_eq!(count(&metrics, "/slow", "503"), 1);
        // Its 0.3 s is past the timeout; the upload route has none.
        let response = call(&router, "/unscanned-upload/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(metrics.http_in_flight.get(), 0);
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_with_a_request_id() {
        let metrics = Arc::new(Metrics::new());
        let response = call(&router(&metrics), "/panics").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["x-request-id"].len(), 36);
        assert!(response.headers().contains_key("traceresponse"));
        assert_eq!(code(response).await, "internal-error");
        assert_eq!(metrics.http_in_flight.get(), 0, "the panic ended it too");
    }

    #[tokio::test]
    async fn the_callers_request_id_is_echoed_and_the_route_counted() {
        let metrics = Arc::new(Metrics::new());
        let request = axum::http::Request::get("/fast")
            .header("x-request-id", "report-42")
            .body(Body::empty())
            .unwrap();
        let response = router(&metrics).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-request-id"], "report-42");
        assert_eq!(count(&metrics, "/fast", "200"), 1);
        assert_eq!(
            metrics
                .http_duration
                .with_label_values(&["/fast", "GET"])
                .get_sample_count(),
            1
        );
    }

    #[tokio::test]
    async fn a_spent_budget_is_429_and_counted() {
        let metrics = Arc::new(Metrics::new());
        let router = router(&metrics);
        assert_eq!(
            call(&router, "/v2/snaps/find").await.status(),
            StatusCode::OK
        );
        let refused = call(&router, "/v2/snaps/find").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));
        assert_eq!(code(refused).await, "rate-limited");
        assert_eq!(count(&metrics, "/v2/snaps/find", "429"), 1);
        // Other routes are not in the search budget.
        assert_eq!(call(&router, "/fast").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_abandoned_request_leaves_the_in_flight_gauge() {
        let metrics = Arc::new(Metrics::new());
        let router = router(&metrics);
        let abandoned = tokio::time::timeout(Duration::from_millis(10), call(&router, "/slow"));
        assert!(abandoned.await.is_err(), "the client gave up first");
        assert_eq!(metrics.http_in_flight.get(), 0);
    }

    #[test]
    fn untimed_routes_exist() {
        let doc = crate::http::openapi();
        for route in UNTIMED_ROUTES {
            assert!(doc.paths.paths.contains_key(*route), "{route}");
        }
    }
}
