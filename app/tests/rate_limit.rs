//! Rate limits on the publisher API: per token and per client address, answered with
//! `429 rate-limited` and `Retry-After`; device reads are never limited.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::app::{Backend, Options, TestApp, error_code};
use http_body_util::BodyExt;
use serde_json::Value;

const LIMIT: u32 = 3;

async fn whoami(
    app: &TestApp,
    token: &str,
    from: Option<SocketAddr>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::get("/v1/tokens/whoami")
        .header("authorization", format!("Macaroon {token}"))
        .body(Body::empty())
        .unwrap();
    if let Some(addr) = from {
        request.extensions_mut().insert(ConnectInfo(addr));
    }
    let response = app.raw(request).await;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_requests_beyond_the_limit_get_429_with_retry_after() {
    let app = TestApp::with_options(
        Backend::Sqlite,
        Options {
            publisher_rate_limit_per_minute: LIMIT,
            ..Options::default()
        },
    )
    .await;
    let alice = app.account("alice", &[]).await;
    let bob = app.account("bob", &[]).await;

    // Per token: a burst of LIMIT, then 429 in the store's error envelope.
    for i in 0..LIMIT {
        let (status, retry_after, body) = whoami(&app, &alice, None).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
        assert_eq!(retry_after, None);
    }
    let (status, retry_after, body) = whoami(&app, &alice, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_code(&body), "rate-limited", "{body}");
    assert!(
        body["error-list"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    // One request per 60/LIMIT s refills: the caller is told to wait about that long.
    let secs: u64 = retry_after
        .expect("429 carries Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=60 / u64::from(LIMIT)).contains(&secs), "{secs}");

    // Another token has its own budget.
    let (status, _, body) = whoami(&app, &bob, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Device reads are not limited.
    for _ in 0..(3 * LIMIT) {
        let (status, body) = app.get("/v2/snaps/info/nothing-here", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_address_is_limited_whatever_tokens_it_uses() {
    let app = TestApp::with_options(
        Backend::Sqlite,
        Options {
            publisher_rate_limit_per_minute: LIMIT,
            ..Options::default()
        },
    )
    .await;
    let here: SocketAddr = "192.0.2.10:40000".parse().unwrap();
    let there: SocketAddr = "198.51.100.20:40000".parse().unwrap();
    let mut tokens = Vec::new();
    for i in 0..=LIMIT {
        tokens.push(app.account(&format!("user{i}"), &[]).await);
    }
    for token in &tokens[..LIMIT as usize] {
        let (status, _, body) = whoami(&app, token, Some(here)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let fresh = &tokens[LIMIT as usize];
    let (status, retry_after, body) = whoami(&app, fresh, Some(here)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(error_code(&body), "rate-limited");
    assert!(retry_after.is_some());
    // The same token from another address is fine.
    let (status, _, body) = whoami(&app, fresh, Some(there)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
