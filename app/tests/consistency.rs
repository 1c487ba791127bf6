//! The write path under concurrency, the change log, the follower across processes, and reads
//! with the database gone.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::app::{Backend, Options, TestApp, TestDb, error_code, repo_root};
use common::fixtures;
use depot::domain::Namespace;
use http_body_util::BodyExt;
use serde_json::json;

fn snap_yaml(name: &str, version: &str) -> String {
    format!(
        "name: {name}\nversion: '{version}'\nsummary: s\ndescription: d\narchitectures: [amd64]\n"
    )
}

/// 16 tasks × 20 push-and-release rounds on one package: revisions 1..=320 with no gaps or
/// duplicates, every release recorded, and a gapless change sequence.
async fn concurrent_pushes_and_releases(backend: Backend) {
    const TASKS: usize = 16;
    const ROUNDS: usize = 20;
    let app = Arc::new(TestApp::new(backend).await);
    let dir = tempfile::tempdir().unwrap();
    let token = Arc::new(app.account("racer", &[]).await);
    let (status, _) = app
        .post("/v1/snap", Some(&token), json!({"name": "contended"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let snap = Arc::new(fixtures::build_snap(
        dir.path(),
        &snap_yaml("contended", "1"),
    ));

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (app, token, snap) = (app.clone(), token.clone(), snap.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for round in 0..ROUNDS {
                let (status, body) = app.push("snap", "contended", &snap, &token).await;
                assert_eq!(status, StatusCode::OK, "task {task} round {round}: {body}");
                let revision = body["revision"].as_u64().unwrap();
                let channel = format!("edge/t{task}");
                let (status, body) = app
                    .post(
                        "/v1/snap/contended/releases",
                        Some(&token),
                        json!([{"channel": channel, "revision": revision}, {"channel": "beta", "revision": revision}]),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "task {task} round {round}: {body}");
                mine.push((channel, revision));
            }
            mine
        }));
    }
    let mut last_of_task = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        last_of_task.push(mine.last().unwrap().clone());
    }

    let store = app.store();
    let id = store
        .package_id(Namespace::Snap, "contended")
        .await
        .unwrap()
        .unwrap();
    let state = store
        .load_packages(std::slice::from_ref(&id))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let numbers: Vec<u32> = state.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, (1..=(TASKS * ROUNDS) as u32).collect::<Vec<_>>());

    // No lost release: each task's branch holds the last revision it released there.
    for (channel, revision) in &last_of_task {
        let release = state
            .releases
            .iter()
            .find(|r| r.channel.full() == format!("latest/{channel}"))
            .unwrap_or_else(|| panic!("{channel} lost"));
        assert_eq!(u64::from(release.revision), *revision, "{channel}");
    }
    let history = store.release_history(&id).await.unwrap();
    assert_eq!(history.len(), TASKS * ROUNDS * 2);

    // The change log is gapless from 1.
    let changes = store.changes_since(0, 100_000).await.unwrap();
    let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(store.head_seq().await.unwrap(), seqs.len() as i64);
    let pushes = changes
        .iter()
        .filter(|c| c.kind == "revision-pushed")
        .count();
    let releases = changes.iter().filter(|c| c.kind == "released").count();
    assert_eq!((pushes, releases), (TASKS * ROUNDS, TASKS * ROUNDS));

    // And the catalog agrees with the database.
    let catalog = app.state.catalog.snapshot();
    let cached = catalog.get(Namespace::Snap, "contended").unwrap();
    assert_eq!(cached.revisions.len(), TASKS * ROUNDS);
    assert_eq!(catalog.seq(), seqs.len() as i64);
}

/// A write on one process shows on another sharing the database, through the change log.
async fn second_process_follows(backend: Backend) {
    let a = TestApp::new(backend).await;
    let b = a.sibling().await;
    let dir = tempfile::tempdir().unwrap();
    let token = a.account("sharer", &[]).await;
    a.post("/v1/snap", Some(&token), json!({"name": "shared-snap"}))
        .await;
    let snap = fixtures::build_snap(dir.path(), &snap_yaml("shared-snap", "3"));
    a.push("snap", "shared-snap", &snap, &token).await;
    let started = Instant::now();
    a.post(
        "/v1/snap/shared-snap/releases",
        Some(&token),
        json!([{"channel": "stable", "revision": 1}]),
    )
    .await;
    let target = a.state.catalog.seq();
    loop {
        let (status, info) = b.get("/v2/snaps/info/shared-snap", None).await;
        if status == StatusCode::OK && info["channel-map"][0]["revision"] == 1 {
            // A snapshot can show a write before its position covers it (the follower read the
            // change of an earlier write of the package, then the package's newest state); the
            // follower still reaches the first process's position.
            assert!(
                b.state
                    .catalog
                    .wait_for(target, Duration::from_secs(10))
                    .await,
                "the second process never reached change {target}"
            );
            assert!(b.state.catalog.seq() >= target);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the second process never saw the release"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The publisher API on the second process finds the package even before its catalog
    // would, and a push there is visible on the first.
    let (status, body) = b.push("snap", "shared-snap", &snap, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, revisions) = b.get("/v1/snap/shared-snap/revisions", Some(&token)).await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 2);
}

/// A cold start rebuilds the same catalog from the database.
async fn cold_start_matches(backend: Backend) {
    let a = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = a.account("restarter", &[]).await;
    for name in ["one-snap", "two-snap"] {
        a.post("/v1/snap", Some(&token), json!({"name": name}))
            .await;
        let snap = fixtures::build_snap(dir.path(), &snap_yaml(name, "1"));
        a.push("snap", name, &snap, &token).await;
        a.post(
            &format!("/v1/snap/{name}/releases"),
            Some(&token),
            json!([{"channel": "candidate", "revision": 1}]),
        )
        .await;
    }
    let b = TestApp::on(a.db.clone(), a.data_dir.clone(), Options::default()).await;
    let (x, y) = (a.state.catalog.snapshot(), b.state.catalog.snapshot());
    assert_eq!(x.seq(), y.seq());
    assert_eq!(x.len(), 2);
    for name in ["one-snap", "two-snap"] {
        assert_eq!(x.get(Namespace::Snap, name), y.get(Namespace::Snap, name));
    }
}

/// A change the follower cannot load (a row it cannot decode) leaves the catalog on its last
/// snapshot: reads go on, `/readyz` says the catalog is not following and why, the error
/// counter moves; once the row is repaired the follower catches up by itself.
async fn a_change_that_cannot_be_loaded_shows_in_readiness(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("breaker", &[]).await;
    app.post("/v1/snap", Some(&token), json!({"name": "fragile-snap"}))
        .await;
    let snap = fixtures::build_snap(dir.path(), &snap_yaml("fragile-snap", "1"));
    app.push("snap", "fragile-snap", &snap, &token).await;
    app.post(
        "/v1/snap/fragile-snap/releases",
        Some(&token),
        json!([{"channel": "stable", "revision": 1}]),
    )
    .await;
    let (_, ready) = app.get("/readyz", None).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["follower"]["status"], "following", "{ready}");

    app.db
        .execute_raw("UPDATE releases SET risk = 'sideways'")
        .await;
    let id = app
        .store()
        .package_id(Namespace::Snap, "fragile-snap")
        .await
        .unwrap()
        .unwrap();
    let (_, seq) = app
        .store()
        .create_tracks(
            &id,
            vec![depot::store::NewTrack {
                name: "2.0".into(),
                version_pattern: None,
                automatic_phasing_percentage: None,
            }],
        )
        .await
        .unwrap();
    let started = Instant::now();
    let ready = loop {
        let (_, ready) = app.get("/readyz", None).await;
        if ready["follower"]["status"] == "failing" {
            break ready;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    assert!(
        ready["follower"]["error"]
            .as_str()
            .unwrap()
            .contains("sideways"),
        "{ready}"
    );
    assert!(
        ready["message"].as_str().unwrap().contains("stale"),
        "{ready}"
    );
    assert!(app.state.catalog.seq() < seq);
    let (status, info) = app.get("/v2/snaps/info/fragile-snap", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "reads go on from the snapshot: {info}"
    );
    let metrics = String::from_utf8(
        app.raw(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec(),
    )
    .unwrap();
    let errors: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("depot_change_follower_errors_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 1.0, "{errors}");

    app.db
        .execute_raw("UPDATE releases SET risk = 'stable'")
        .await;
    assert!(
        app.state
            .catalog
            .wait_for(seq, Duration::from_secs(10))
            .await
    );
    let started = Instant::now();
    loop {
        let (_, ready) = app.get("/readyz", None).await;
        if ready["status"] == "ready" {
            assert!(ready["follower"].get("error").is_none(), "{ready}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{ready}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends!(
    concurrent_pushes_and_releases,
    second_process_follows,
    cold_start_matches,
    a_change_that_cannot_be_loaded_shows_in_readiness
);

/// Info and downloads keep answering with PostgreSQL stopped; a release made before the stop
/// is visible; writes fail with 503; readiness says reads are degraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_survive_postgres_stopping() {
    let cluster = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = repo_root().join("tests/support/pg-cluster.sh");
    let pg = |command: &str| {
        let out = std::process::Command::new(&script)
            .arg(command)
            .env("DEPOT_TEST_PG_DIR", cluster.path().join("pg"))
            .env("DEPOT_TEST_PG_PORT", port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg-cluster.sh {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let admin_url = pg("start");
    let db = Arc::new(TestDb::on_postgres(admin_url).await);
    let app = TestApp::on(
        db,
        Arc::new(tempfile::tempdir().unwrap()),
        Options::default(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("survivor", &[]).await;
    app.post("/v1/snap", Some(&token), json!({"name": "resilient"}))
        .await;
    let snap = fixtures::build_snap(dir.path(), &snap_yaml("resilient", "1"));
    app.push("snap", "resilient", &snap, &token).await;
    let (status, _) = app
        .post(
            "/v1/snap/resilient/releases",
            Some(&token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let errors_before = db_errors(&app, "unavailable").await;
    pg("stop");

    let (status, info) = app.get("/v2/snaps/info/resilient", None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["channel-map"][0]["revision"], 1);
    let url = info["channel-map"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, bytes) = app.download(&url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, std::fs::read(&snap).unwrap());

    // A caller that sends a token is served too (as anonymous: tokens live in the database).
    let (status, _) = app.get("/v2/snaps/info/resilient", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["database"], "unreachable");

    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "while-down"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "database-unavailable");
    // Still answering after the follower has tried and failed a few times.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = app.get("/v2/snaps/info/resilient", None).await;
    assert_eq!(status, StatusCode::OK);
    // The failed write (and the follower's failed polls) are counted.
    let errors_after = db_errors(&app, "unavailable").await;
    assert!(
        errors_after > errors_before,
        "depot_db_errors_total{{kind=\"unavailable\"}} went from {errors_before} to {errors_after}"
    );
}

/// `depot_db_errors_total{kind}` as `/metrics` shows it.
async fn db_errors(app: &TestApp, kind: &str) -> f64 {
    let response = app
        .raw(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let series = format!("depot_db_errors_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}
