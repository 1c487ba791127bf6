//! `/metrics` after a scripted set of requests: counters and histogram buckets move, labelled
//! by route template, never by raw path.

mod common;

use axum::http::StatusCode;
use common::app::{Backend, TestApp};
use common::fixtures;
use serde_json::json;

/// The value of the sample `name{labels}` in an exposition, 0 when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, value)| value.parse().unwrap())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .raw(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn metrics_follow_requests(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let before = scrape(&app).await;
    // The commit: the one this checkout is at (the build reads it from git); without git, what
    // the build was given.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_string());
    let commit = head.unwrap_or_else(|| env!("DEPOT_COMMIT").to_string());
    assert_eq!(
        sample(
            &before,
            "depot_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", commit.as_str())
            ]
        ),
        1.0,
        "{before}"
    );
    let info_route = [
        ("route", "/v2/snaps/info/{name}"),
        ("method", "GET"),
        ("status", "404"),
    ];
    assert_eq!(
        sample(&before, "depot_http_requests_total", &info_route),
        0.0
    );

    for name in ["one", "two", "three"] {
        let (status, _) = app
            .get(&format!("/v2/snaps/info/{name}-missing"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let token = app.account("metered", &[]).await;
    app.post("/v1/snap", Some(&token), json!({"name": "metered-snap"}))
        .await;
    let snap = fixtures::build_snap(
        dir.path(),
        "name: metered-snap\nversion: '1'\nsummary: s\ndescription: d\n",
    );
    let size = std::fs::metadata(&snap).unwrap().len() as f64;
    app.push("snap", "metered-snap", &snap, &token).await;
    app.post(
        "/v1/snap/metered-snap/releases",
        Some(&token),
        json!([{"channel": "stable", "revision": 1}]),
    )
    .await;
    let (_, info) = app.get("/v2/snaps/info/metered-snap", None).await;
    let url = info["channel-map"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    app.download(&url, None).await;

    let after = scrape(&app).await;
    assert_eq!(
        sample(&after, "depot_http_requests_total", &info_route),
        3.0
    );
    assert_eq!(
        sample(
            &after,
            "depot_http_requests_total",
            &[("route", "/v2/snaps/info/{name}"), ("status", "200")]
        ),
        1.0
    );
    assert!(
        !after.contains("one-missing"),
        "raw paths never become labels"
    );
    let count = sample(
        &after,
        "depot_http_request_duration_seconds_count",
        &[("route", "/v2/snaps/info/{name}"), ("method", "GET")],
    );
    assert_eq!(count, 4.0);
    let slowest_bucket = sample(
        &after,
        "depot_http_request_duration_seconds_bucket",
        &[("route", "/v2/snaps/info/{name}"), ("le", "+Inf")],
    );
    assert_eq!(slowest_bucket, 4.0);
    assert_eq!(sample(&after, "depot_uploads_total", &[]), 1.0);
    assert_eq!(sample(&after, "depot_upload_bytes_total", &[]), size);
    assert_eq!(
        sample(&after, "depot_downloads_total", &[("namespace", "snap")]),
        1.0
    );
    assert_eq!(sample(&after, "depot_catalog_packages", &[]), 1.0);
    assert_eq!(
        sample(&after, "depot_catalog_applied_seq", &[]),
        app.state.catalog.seq() as f64
    );
    assert_eq!(sample(&after, "depot_change_follower_lag", &[]), 0.0);
    assert_eq!(
        sample(
            &after,
            "depot_http_requests_total",
            &[
                ("route", "/v1/{namespace}/{name}/releases"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert!(after.contains("depot_db_pool_connections{state=\"idle\"}"));
    assert_eq!(
        sample(&after, "depot_http_requests_in_flight", &[]),
        1.0,
        "the scrape itself is in flight"
    );
}

both_backends!(metrics_follow_requests);
