//! Recommendations on both backends: installed sets from refresh requests are counted once a
//! day per set (a device refreshing again and again adds nothing), flushed as aggregate counts
//! only, and `GET /v1/{ns}/{name}/related` lists the packages most often installed together,
//! then similar ones by content when co-installation data is thin.

mod common;

use std::collections::HashMap;

use axum::http::StatusCode;
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use serde_json::{Value, json};

fn snap_yaml(name: &str, summary: &str) -> String {
    format!(
        "name: {name}\nversion: '1'\nsummary: {summary}\ndescription: {summary}.\narchitectures: [amd64]\n"
    )
}

const SNAPS: [(&str, &str); 5] = [
    ("photo-editor", "Edit photographs with layers"),
    ("photo-viewer", "Browse photographs quickly"),
    ("color-picker", "Pick colours from the screen"),
    ("disk-usage", "Show what fills the disk"),
    ("photo-importer", "Import photographs from cameras"),
];

async fn refresh_with(app: &TestApp, ids: &[&str]) {
    let context: Vec<Value> = ids
        .iter()
        .map(|id| json!({"snap-id": id, "instance-key": id, "revision": 1, "tracking-channel": "latest/stable"}))
        .collect();
    let actions: Vec<Value> = ids
        .iter()
        .map(|id| json!({"action": "refresh", "instance-key": id, "snap-id": id}))
        .collect();
    let (status, body) = app
        .post(
            "/v2/snaps/refresh",
            None,
            json!({"context": context, "actions": actions, "fields": ["revision"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn related(body: &Value) -> Vec<(String, String)> {
    body["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn co_installed_packages_come_first(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("recommender", &[]).await;
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (name, summary) in SNAPS {
        app.post("/v1/snap", Some(&token), json!({"name": name}))
            .await;
        let snap = fixtures::build_snap(dir.path(), &snap_yaml(name, summary));
        let (status, body) = app.push("snap", name, &snap, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.post(
            &format!("/v1/snap/{name}/releases"),
            Some(&token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
        let (_, info) = app.get(&format!("/v2/snaps/info/{name}"), None).await;
        ids.insert(name, info["snap-id"].as_str().unwrap().to_string());
    }
    let id = |name: &str| ids[name].as_str();

    // Before any device reported: only similar packages, by content.
    let (status, body) = app.get("/v1/snap/photo-editor/related", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = related(&body);
    assert!(!before.is_empty(), "{body}");
    assert!(
        before.iter().all(|(_, reason)| reason == "similar"),
        "{body}"
    );
    assert!(before[0].0.starts_with("photo-"), "{body}");
    assert!(
        before.iter().all(|(name, _)| name != "photo-editor"),
        "{body}"
    );

    // Four devices have the editor with the colour picker and the disk tool; each refreshes
    // several times. One device with the editor and the viewer refreshes fifty times.
    for device in 0..4 {
        let extra = format!("not-in-this-store-{device}");
        for _ in 0..3 {
            refresh_with(
                &app,
                &[
                    id("photo-editor"),
                    id("color-picker"),
                    id("disk-usage"),
                    &extra,
                ],
            )
            .await;
        }
        // A set differs per device only by snaps outside this store here, so make the sets
        // differ by order too: order does not matter, the set does.
        refresh_with(
            &app,
            &[id("disk-usage"), id("photo-editor"), id("color-picker")],
        )
        .await;
    }
    for _ in 0..50 {
        refresh_with(&app, &[id("photo-editor"), id("photo-viewer")]).await;
    }
    // Sets count once a day however often they come: three distinct sets here (snaps outside
    // the store are left out, so the four devices send one set).
    app.state.related.flush(app.store().as_ref()).await.unwrap();
    app.state
        .related
        .reload(app.store().as_ref())
        .await
        .unwrap();
    let (_, body) = app.get("/v1/snap/photo-editor/related", None).await;
    let after = related(&body);
    // One set is below the evidence threshold: nothing is co-installed yet.
    assert!(after.iter().all(|(_, r)| r == "similar"), "{body}");

    // The same sets from other devices on other processes count again.
    for _ in 0..3 {
        let other = app.sibling().await;
        refresh_with(
            &other,
            &[id("photo-editor"), id("color-picker"), id("disk-usage")],
        )
        .await;
        refresh_with(&other, &[id("photo-editor"), id("photo-viewer")]).await;
        other
            .state
            .related
            .flush(other.store().as_ref())
            .await
            .unwrap();
    }
    app.state
        .related
        .reload(app.store().as_ref())
        .await
        .unwrap();
    let (_, body) = app.get("/v1/snap/photo-editor/related?limit=4", None).await;
    let after = related(&body);
    assert_eq!(after.len(), 4, "{body}");
    let co: Vec<&str> = after
        .iter()
        .filter(|(_, r)| r == "co-installed")
        .map(|(n, _)| n.as_str())
        .collect();
    let mut sorted = co.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["color-picker", "disk-usage", "photo-viewer"],
        "{body}"
    );
    assert_eq!(
        &after[..3]
            .iter()
            .map(|(_, r)| r.as_str())
            .collect::<Vec<_>>(),
        &["co-installed"; 3],
        "{body}"
    );
    assert_eq!(
        after[3],
        ("photo-importer".to_string(), "similar".to_string()),
        "{body}"
    );
    let scores: Vec<f64> = body["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");

    // The disk tool's neighbours are symmetric.
    let (_, body) = app.get("/v1/snap/disk-usage/related?limit=2", None).await;
    let mut disk: Vec<String> = related(&body).into_iter().map(|(n, _)| n).collect();
    disk.sort();
    assert_eq!(disk, vec!["color-picker", "photo-editor"], "{body}");

    // Errors.
    let (status, body) = app.get("/v1/snap/no-such-snap/related", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "package-not-found")
    );
    for limit in ["0", "51", "x"] {
        let (status, body) = app
            .get(
                &format!("/v1/snap/photo-editor/related?limit={limit}"),
                None,
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid-query"),
            "{limit}"
        );
    }
}

both_backends!(co_installed_packages_come_first);
