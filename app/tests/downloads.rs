//! Download counts on both backends: downloads are counted in memory per package, channel and
//! day (once per download: not for HEAD, not for a resumed range), flushed to the database in
//! one go, reported to the publisher, and fed to search as its popularity prior. A failed flush
//! keeps its counts for the next one.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use depot::auth::Scope;
use http_body_util::BodyExt;
use serde_json::{Value, json};

fn snap_yaml(name: &str, summary: &str) -> String {
    format!(
        "name: {name}\nversion: '1'\nsummary: {summary}\ndescription: A tool for counting.\narchitectures: [amd64]\n"
    )
}

async fn get(app: &TestApp, uri: &str, range: Option<&str>, method: Method) -> StatusCode {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(range) = range {
        builder = builder.header("range", range);
    }
    let response = app.raw(builder.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let _ = response.into_body().collect().await.unwrap();
    status
}

/// Flushes `app`'s pending download counts into its database; how many were written.
async fn flush(app: &TestApp) -> u64 {
    app.state
        .downloads
        .flush(app.store().as_ref())
        .await
        .unwrap()
}

/// Publishes `name` to stable and returns the download URL a refresh hands out (path only).
async fn publish(app: &TestApp, token: &str, name: &str, dir: &std::path::Path) -> String {
    let (status, body) = app
        .post("/v1/snap", Some(token), json!({"name": name}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snap = fixtures::build_snap(dir, &snap_yaml(name, "Counts things"));
    let (status, body) = app.push("snap", name, &snap, token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/snap/{name}/releases"),
            Some(token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/v2/snaps/refresh",
            None,
            json!({"context": [], "fields": ["download"], "actions": [
                {"action": "download", "instance-key": "download-1", "name": name, "channel": "stable"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["results"][0]["snap"]["download"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.ends_with("?channel=latest%2Fstable"), "{url}");
    url.strip_prefix("http://depot.test").unwrap().to_string()
}

async fn downloads_are_counted_flushed_and_reported(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("counter", &[]).await;
    let url = publish(&app, &token, "count-me", dir.path()).await;
    let bare = url.split('?').next().unwrap().to_string();

    for _ in 0..3 {
        assert_eq!(get(&app, &url, None, Method::GET).await, StatusCode::OK);
    }
    assert_eq!(get(&app, &bare, None, Method::GET).await, StatusCode::OK);
    assert_eq!(
        get(
            &app,
            &format!("{bare}?channel=not%20a%20channel"),
            None,
            Method::GET
        )
        .await,
        StatusCode::OK
    );
    // Not counted: a HEAD, a resumed download; counted once: a range from the start.
    assert_eq!(get(&app, &url, None, Method::HEAD).await, StatusCode::OK);
    assert_eq!(
        get(&app, &url, Some("bytes=10-"), Method::GET).await,
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(
        get(&app, &url, Some("bytes=0-9"), Method::GET).await,
        StatusCode::PARTIAL_CONTENT
    );

    // The metric counts what the package's counts count.
    assert_eq!(
        app.state
            .metrics
            .downloads
            .with_label_values(&["snap"])
            .get(),
        6
    );

    // Nothing reaches the database before a flush.
    let (status, body) = app.get("/v1/snap/count-me/downloads", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 0, "{body}");

    let flushed = flush(&app).await;
    assert_eq!(flushed, 6);
    assert_eq!(flush(&app).await, 0);
    let (_, body) = app.get("/v1/snap/count-me/downloads", Some(&token)).await;
    assert_eq!(body["total"], 6, "{body}");
    let today = depot::downloads::day(chrono::Utc::now());
    let by_day = body["by-day"].as_array().unwrap();
    let count = |channel: &str| {
        by_day
            .iter()
            .find(|d| d["channel"] == channel && d["day"] == today.as_str())
            .map(|d| d["count"].as_u64().unwrap())
    };
    assert_eq!(count("latest/stable"), Some(4), "{body}");
    assert_eq!(count(""), Some(2), "{body}");

    // A second process's counts add up in the same rows.
    let other = app.sibling().await;
    assert_eq!(get(&other, &url, None, Method::GET).await, StatusCode::OK);
    other
        .state
        .downloads
        .flush(other.store().as_ref())
        .await
        .unwrap();
    let (_, body) = app
        .get("/v1/snap/count-me/downloads?days=1", Some(&token))
        .await;
    assert_eq!(body["total"], 7, "{body}");
    assert_eq!(body["since"], today.as_str(), "{body}");

    // Only the publisher sees them; nonsense periods are refused.
    let stranger = app.account("stranger", &[]).await;
    let (status, body) = app
        .get("/v1/snap/count-me/downloads", Some(&stranger))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "permission-denied")
    );
    for days in ["0", "366", "x"] {
        let (status, body) = app
            .get(
                &format!("/v1/snap/count-me/downloads?days={days}"),
                Some(&token),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid-query"),
            "{days}"
        );
    }
}

/// A GET with `headers`: its status, its `ETag` and the bytes of its body.
async fn get_with(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, usize) {
    let mut builder = Request::builder().method(Method::GET).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = app.raw(builder.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, etag, body.len())
}

/// `If-Range` with another validator gets the whole file; `If-None-Match` with the file's ETag
/// gets `304` and no body.
async fn validators_ask_for_the_whole_file_or_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("validator", &[]).await;
    let url = publish(&app, &token, "check-me", dir.path()).await;
    let (status, etag, size) = get_with(&app, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.expect("an ETag");
    assert!(size > 10);

    let range = ("range", "bytes=10-");
    let (status, _, len) = get_with(&app, &url, &[range, ("if-range", &etag)]).await;
    assert_eq!((status, len), (StatusCode::PARTIAL_CONTENT, size - 10));
    for other in ["\"0123\"", "Wed, 21 Oct 2015 07:28:00 GMT"] {
        let (status, _, len) = get_with(&app, &url, &[range, ("if-range", other)]).await;
        assert_eq!((status, len), (StatusCode::OK, size), "If-Range: {other}");
    }

    for tags in [etag.clone(), format!("\"x\", W/{etag}"), "*".to_string()] {
        let (status, sent, len) = get_with(&app, &url, &[("if-none-match", &tags)]).await;
        assert_eq!(
            (status, sent.as_deref(), len),
            (StatusCode::NOT_MODIFIED, Some(etag.as_str()), 0),
            "If-None-Match: {tags}"
        );
    }
    let (status, _, len) = get_with(&app, &url, &[("if-none-match", "\"0123\"")]).await;
    assert_eq!((status, len), (StatusCode::OK, size));
}

/// A revision newer than the package's newest release (a build not released yet) is its
/// publisher's: anyone else gets the 404 of a revision that does not exist. Released revisions,
/// the one a progressive release replaced, and older ones (a device may fetch one a moment
/// after it was replaced) are anyone's.
async fn revisions_not_released_yet_are_the_publishers(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("publisher", &[]).await;
    let url = publish(&app, &token, "keep-it-quiet", dir.path()).await;
    let snap_id = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('_')
        .next()
        .unwrap()
        .to_string();
    let file = |revision: u32| format!("/api/v1/snaps/download/{snap_id}_{revision}.snap");
    for version in ["2", "3", "4"] {
        let yaml = format!(
            "name: keep-it-quiet\nversion: '{version}'\nsummary: Counts things\n\
             description: A tool for counting.\narchitectures: [amd64]\n"
        );
        let snap = fixtures::build_snap(dir.path(), &yaml);
        let (status, body) = app.push("snap", "keep-it-quiet", &snap, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let bearer = |token: &str| format!("Macaroon {token}");
    let status_of = |revision: u32, auth: Option<String>| {
        let app = &app;
        let uri = file(revision);
        async move {
            let headers: Vec<(&str, &str)> = match &auth {
                Some(value) => vec![("authorization", value.as_str())],
                None => vec![],
            };
            get_with(app, &uri, &headers).await.0
        }
    };
    let release = |items: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let (status, body) = app
                .post("/v1/snap/keep-it-quiet/releases", Some(&token), items)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    // Revision 1 is on stable; 2, 3 and 4 were pushed after it and not released.
    assert_eq!(status_of(1, None).await, StatusCode::OK);
    assert_eq!(status_of(2, None).await, StatusCode::NOT_FOUND);
    let head = app
        .raw(
            Request::builder()
                .method(Method::HEAD)
                .uri(file(2))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND, "HEAD answers alike");
    assert_eq!(status_of(2, Some(bearer(&token))).await, StatusCode::OK);
    let admin = app.account("operator", &[Scope::Admin]).await;
    assert_eq!(status_of(4, Some(bearer(&admin))).await, StatusCode::OK);
    let other = app.account("someone-else", &[]).await;
    assert_eq!(
        status_of(2, Some(bearer(&other))).await,
        StatusCode::NOT_FOUND,
        "another publisher's token"
    );
    // The publisher's own token, restricted to another package.
    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "keep-it-other"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let publisher = app
        .store()
        .account_by_username("publisher")
        .await
        .unwrap()
        .unwrap();
    let restricted = app
        .token_for(
            &publisher.id,
            &[],
            Some(vec![depot::store::PackageRef {
                namespace: depot::domain::Namespace::Snap,
                name: "keep-it-other".into(),
            }]),
            None,
        )
        .await;
    assert_eq!(
        status_of(2, Some(bearer(&restricted))).await,
        StatusCode::NOT_FOUND,
        "a token restricted to another package"
    );
    // Revision 3 released progressively to 10 %: 3 is public, 1 (which the other 90 % of
    // devices are still given) too, and 2, older than 3; 4 is still the publisher's.
    release(json!([{"channel": "stable", "revision": 3, "progressive": {"percentage": 10.0}}]))
        .await;
    for revision in [1, 2, 3] {
        assert_eq!(
            status_of(revision, None).await,
            StatusCode::OK,
            "{revision}"
        );
    }
    assert_eq!(status_of(4, None).await, StatusCode::NOT_FOUND);
    // Once 3 is everyone's, 1 is off every channel and still public: a device told to
    // refresh to it a moment before can still fetch it.
    release(json!([{"channel": "stable", "revision": 3}])).await;
    assert_eq!(status_of(1, None).await, StatusCode::OK);
    assert_eq!(status_of(4, None).await, StatusCode::NOT_FOUND);
}

/// A replica region's database only reads: counting there is dropped (not kept to grow in
/// memory and retried for ever), and the error says it is a read-only database.
async fn a_read_only_database_drops_the_counts(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("counter", &[]).await;
    let url = publish(&app, &token, "count-me", dir.path()).await;
    for _ in 0..3 {
        assert_eq!(get(&app, &url, None, Method::GET).await, StatusCode::OK);
    }
    let separator = if app.db.url.contains('?') { '&' } else { '?' };
    let read_only = if app.db.url.starts_with("sqlite:") {
        format!("{}{separator}mode=ro", app.db.url)
    } else {
        format!(
            "{}{separator}options=-c%20default_transaction_read_only%3Don",
            app.db.url
        )
    };
    let standby = depot::store::open(&read_only, 2).await.unwrap();
    let err = app
        .state
        .downloads
        .flush(standby.as_ref())
        .await
        .expect_err("a read-only database takes no counts");
    assert!(err.is_read_only(), "{err}");
    // Dropped: nothing is left for the next flush, here or on a database that writes.
    assert_eq!(flush(&app).await, 0);
    // Counting goes on, and a database that writes stores what comes after.
    assert_eq!(get(&app, &url, None, Method::GET).await, StatusCode::OK);
    assert_eq!(flush(&app).await, 1);
}

async fn downloads_feed_search_ranking(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("ranker", &[]).await;
    let mut urls = std::collections::HashMap::new();
    for name in ["tally-one", "tally-two"] {
        urls.insert(
            name.to_string(),
            publish(&app, &token, name, dir.path()).await,
        );
    }
    let order = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, before) = app.get("/v2/snaps/find?q=counts%20things", None).await;
    let before = order(&before);
    assert_eq!(before.len(), 2, "{before:?}");
    // The one ranked second becomes first once it is the one people download.
    let second = before[1].clone();
    for _ in 0..50 {
        get(&app, &urls[&second], None, Method::GET).await;
    }
    flush(&app).await;
    depot::downloads::refresh_popularity(app.store().as_ref(), &app.state.catalog)
        .await
        .unwrap();
    let (_, after) = app.get("/v2/snaps/find?q=counts%20things", None).await;
    assert_eq!(order(&after)[0], second, "before: {before:?}");
}

both_backends!(
    downloads_are_counted_flushed_and_reported,
    revisions_not_released_yet_are_the_publishers,
    validators_ask_for_the_whole_file_or_nothing,
    a_read_only_database_drops_the_counts,
    downloads_feed_search_ranking
);
