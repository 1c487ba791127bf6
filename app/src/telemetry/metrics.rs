//! Prometheus metrics. One registry per process, owned by the application state, rendered at
//! `GET /metrics`. Route labels are route templates (`/v2/snaps/info/{name}`), never raw paths,
//! so cardinality stays bounded whatever clients send.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric depot exports. Names are documented in `docs/reference/metrics.md`.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    pub catalog_packages: IntGauge,
    pub catalog_seq: IntGauge,
    pub follower_lag: IntGauge,
    pub follower_errors: IntCounter,
    pub catalog_apply_seconds: Histogram,
    pub uploads: IntCounter,
    pub upload_bytes: IntCounter,
    pub downloads: IntCounterVec,
    pub db_connections: IntGaugeVec,
    pub search_duration: HistogramVec,
    pub render_cache_bytes: IntGauge,
    pub device_sessions: IntCounterVec,
}

/// Database errors, by kind: `unavailable` (the pool or the connection failed: timeouts, I/O,
/// TLS) and `query` (the database refused a statement). Counted where `sqlx` errors become
/// store errors, for the whole process: every registry of the process shows the same counter.
pub static DB_ERRORS: std::sync::LazyLock<IntCounterVec> = std::sync::LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "depot_db_errors_total",
            "Database errors, by kind (unavailable: pool, connection, I/O or TLS failures; query: the database refused a statement).",
        ),
        &["kind"],
    )
    .expect("valid metric")
});

/// The values of `depot_device_sessions_total`'s `result`, each exported from the start at 0.
pub const DEVICE_SESSION_RESULTS: [&str; 5] = [
    "issued",
    "invalid-assertion",
    "invalid-device-session-request",
    "invalid-nonce",
    "invalid-device-session",
];

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Searches answer in well under a millisecond to a few milliseconds.
const SEARCH_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "depot_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "depot_http_request_duration_seconds",
                "Time to answer HTTP requests, by route template and method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("valid metric");
        let http_in_flight = IntGauge::new(
            "depot_http_requests_in_flight",
            "HTTP requests being answered now.",
        )
        .expect("valid metric");
        let catalog_packages = IntGauge::new(
            "depot_catalog_packages",
            "Packages in the in-memory catalog.",
        )
        .expect("valid metric");
        let catalog_seq = IntGauge::new(
            "depot_catalog_applied_seq",
            "Last change-log sequence number the catalog includes.",
        )
        .expect("valid metric");
        let follower_lag = IntGauge::new(
            "depot_change_follower_lag",
            "Changes committed to the database that the catalog has not applied yet (at the last poll).",
        )
        .expect("valid metric");
        let follower_errors = IntCounter::new(
            "depot_change_follower_errors_total",
            "Times the change follower failed to read the database.",
        )
        .expect("valid metric");
        let catalog_apply_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "depot_catalog_apply_duration_seconds",
                "Time to apply a batch of changes to the catalog.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let uploads =
            IntCounter::new("depot_uploads_total", "Artifacts uploaded.").expect("valid metric");
        let upload_bytes =
            IntCounter::new("depot_upload_bytes_total", "Bytes of artifacts uploaded.")
                .expect("valid metric");
        let downloads = IntCounterVec::new(
            Opts::new(
                "depot_downloads_total",
                "Artifact downloads started, by namespace: a GET from the first byte (not a HEAD, not a resumed download).",
            ),
            &["namespace"],
        )
        .expect("valid metric");
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "depot_db_pool_connections",
                "Database pool connections, by state (idle, in_use).",
            ),
            &["state"],
        )
        .expect("valid metric");
        let search_duration = HistogramVec::new(
            HistogramOpts::new(
                "depot_search_duration_seconds",
                "Time to answer a search (retrieval, ranking and the response body), by endpoint.",
            )
            .buckets(SEARCH_BUCKETS.to_vec()),
            &["endpoint"],
        )
        .expect("valid metric");
        let render_cache_bytes = IntGauge::new(
            "depot_render_cache_bytes",
            "Bytes of JSON kept with package states for device answers (storeSnap objects and info answers; at most render_cache_mib).",
        )
        .expect("valid metric");
        let device_sessions = IntCounterVec::new(
            Opts::new(
                "depot_device_sessions_total",
                "Device session requests (POST /api/v1/snaps/auth/sessions) by result: issued, or the error code refusing one; and refreshes refused for a session depot did not issue (invalid-device-session, which makes snapd ask for a new one).",
            ),
            &["result"],
        )
        .expect("valid metric");
        for result in DEVICE_SESSION_RESULTS {
            device_sessions.with_label_values(&[result]);
        }
        let build_info = IntGaugeVec::new(
            Opts::new(
                "depot_build_info",
                "Always 1; labels carry the version and commit of this build.",
            ),
            &["version", "commit"],
        )
        .expect("valid metric");
        // Both kinds are exported from the start, at 0, so rates work before the first error.
        for kind in ["unavailable", "query"] {
            DB_ERRORS.with_label_values(&[kind]);
        }
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("DEPOT_COMMIT")])
            .set(1);
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(http_in_flight.clone()),
            Box::new(catalog_packages.clone()),
            Box::new(catalog_seq.clone()),
            Box::new(follower_lag.clone()),
            Box::new(follower_errors.clone()),
            Box::new(catalog_apply_seconds.clone()),
            Box::new(uploads.clone()),
            Box::new(upload_bytes.clone()),
            Box::new(downloads.clone()),
            Box::new(db_connections.clone()),
            Box::new(DB_ERRORS.clone()),
            Box::new(search_duration.clone()),
            Box::new(render_cache_bytes.clone()),
            Box::new(device_sessions.clone()),
            Box::new(build_info),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process collector registers once");
        Metrics {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            catalog_packages,
            catalog_seq,
            follower_lag,
            follower_errors,
            catalog_apply_seconds,
            uploads,
            upload_bytes,
            downloads,
            db_connections,
            search_duration,
            render_cache_bytes,
            device_sessions,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.render_cache_bytes
            .set(i64::try_from(crate::store::RenderedJson::kept_bytes()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("exposition format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Counts a request as in flight until the returned guard is dropped (answered, or
    /// abandoned by a client that went away).
    pub fn in_flight(self: &std::sync::Arc<Self>) -> InFlight {
        self.http_in_flight.inc();
        InFlight(self.clone())
    }

    /// Records an answered request: its count by route template, method and status, and its
    /// latency by route template and method.
    pub fn answered(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
        let mut text = [0u8; 3];
        let status = status_text(status, &mut text);
        self.http_requests
            .with_label_values(&[route, method, status])
            .inc();
    }
}

/// A status code as its three digits, without allocating.
fn status_text(status: u16, buffer: &mut [u8; 3]) -> &str {
    let status = status.min(999);
    *buffer = [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ];
    std::str::from_utf8(buffer).expect("ASCII digits")
}

/// A request being answered; see [`Metrics::in_flight`].
pub struct InFlight(std::sync::Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.http_in_flight.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_method_and_status() {
        let metrics = std::sync::Arc::new(Metrics::new());
        {
            let _guard = metrics.in_flight();
            assert_eq!(metrics.http_in_flight.get(), 1);
        }
        assert_eq!(metrics.http_in_flight.get(), 0, "the guard's drop ends it");
        metrics.answered(
            "/v2/snaps/info/{name}",
            "GET",
            404,
            Duration::from_millis(2),
        );
        metrics.answered(
            "/v2/snaps/info/{name}",
            "GET",
            200,
            Duration::from_millis(1),
        );
        assert_eq!(
            metrics
                .http_requests
                .with_label_values(&["/v2/snaps/info/{name}", "GET", "404"])
                .get(),
            1
        );
        assert_eq!(
            metrics
                .http_duration
                .with_label_values(&["/v2/snaps/info/{name}", "GET"])
                .get_sample_count(),
            2
        );
        let mut buffer = [0; 3];
        assert_eq!(status_text(503, &mut buffer), "503");
    }
}
