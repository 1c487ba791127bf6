//! `depot admin import` on both backends: a catalog file becomes ordinary released snaps —
//! one `package-imported` change each, served by info, find and refresh, their placeholder
//! downloadable — written many per transaction; a re-run skips what is there; names that are
//! not snap names are mapped onto valid ones; repeated names are counted, not imported;
//! publishers carry on from revision 1.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::app::{Backend, TestApp};
use common::fixtures;
use depot::catalog::import::{PLACEHOLDER, import};
use depot::domain::Namespace;
use depot::search::eval::CatalogRecord;
use serde_json::json;

fn records() -> Vec<CatalogRecord> {
    [
        json!({"name": "tile-editor", "title": "Tile Editor", "summary": "Edit tile maps for games",
               "description": "Draw levels from tiles.", "keywords": ["tiles", "gamedev"],
               "categories": ["development", "Games!"], "version": "1.4", "architecture": "amd64",
               "license": "MIT", "website": "https://tiles.example"}),
        json!({"name": "wave-mixer", "summary": "Mix audio waves", "section": "sound"}),
        json!({"name": "Bad_Name", "summary": "not a snap name"}),
        json!({"name": "+++", "summary": "nothing to make a name of"}),
        json!({"name": "tile-editor", "summary": "the same name again"}),
        json!({"name": "log-tail", "summary": "Follow log files", "tags": ["role::program", "use::monitor"]}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect()
}

async fn wait_for_catalog(app: &TestApp, seq: i64) {
    let started = Instant::now();
    while app.state.catalog.seq() < seq {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the follower never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn imports_a_catalog_as_released_snaps(backend: Backend) {
    let app = TestApp::new(backend).await;
    let store = app.store().clone();
    let before = store.head_seq().await.unwrap();
    let mut batches = 0;
    let summary = import(
        store.clone(),
        app.state.blobs.as_ref(),
        records(),
        "importer",
        2,
        |_| batches += 1,
    )
    .await
    .unwrap();
    assert_eq!(summary.imported, 4, "{summary:?}");
    assert_eq!(summary.existing, 1, "the repeated name: {summary:?}");
    assert_eq!(summary.renamed, 1, "{summary:?}");
    assert_eq!(summary.invalid, vec!["+++".to_string()]);
    assert_eq!(batches, 2, "four packages, two per transaction");

    // One change per package (after the account's), gapless, in file order.
    let changes = store.changes_since(before, 100).await.unwrap();
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "account-created",
            "package-imported",
            "package-imported",
            "package-imported",
            "package-imported"
        ]
    );
    for (i, change) in changes.iter().enumerate() {
        assert_eq!(change.seq, before + 1 + i as i64);
    }
    wait_for_catalog(&app, changes.last().unwrap().seq).await;

    // Served like any released snap.
    let (status, info) = app.get("/v2/snaps/info/tile-editor", None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["snap"]["title"], "Tile Editor");
    assert_eq!(info["snap"]["summary"], "Edit tile maps for games");
    assert_eq!(info["snap"]["license"], "MIT");
    assert_eq!(info["snap"]["publisher"]["username"], "importer");
    let categories: Vec<&str> = info["snap"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(categories, vec!["development", "games"], "{info}");
    let entry = &info["channel-map"][0];
    assert_eq!(entry["channel"]["name"], "stable", "{info}");
    assert_eq!(entry["channel"]["architecture"], "amd64");
    assert_eq!(entry["revision"], 1);
    assert_eq!(entry["version"], "1.4");
    // Only stable holds a release; the other risks of the track follow it.
    for entry in info["channel-map"].as_array().unwrap() {
        assert_eq!(entry["revision"], 1, "{info}");
        assert_eq!(entry["channel"]["architecture"], "amd64", "{info}");
    }

    let (_, found) = app.get("/v2/snaps/find?q=audio", None).await;
    assert_eq!(found["results"][0]["name"], "wave-mixer", "{found}");
    // A name that is not a snap name is imported under a valid one, titled with the original.
    let (status, renamed) = app.get("/v2/snaps/info/bad-name", None).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["snap"]["title"], "Bad_Name");

    let snap_id = info["snap-id"].as_str().unwrap();
    let (status, refreshed) = app
        .post(
            "/v2/snaps/refresh",
            None,
            json!({"context": [], "actions": [{"action": "install", "instance-key": "i",
                   "name": "tile-editor", "channel": "stable"}], "fields": ["download", "revision"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let result = &refreshed["results"][0];
    assert_eq!(result["snap-id"], snap_id, "{refreshed}");
    assert_eq!(result["snap"]["revision"], 1);
    let url = result["snap"]["download"]["url"].as_str().unwrap();
    let (status, _, bytes) = app.download(url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PLACEHOLDER);

    let id = store
        .package_id(Namespace::Snap, "tile-editor")
        .await
        .unwrap()
        .unwrap();
    let history = store.release_history(&id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].channel.full(), "latest/stable");
    assert_eq!(history[0].platforms, vec!["amd64".to_string()]);
    assert_eq!(history[0].revision, Some(1));

    // A re-run finds them all there and writes nothing.
    let head = store.head_seq().await.unwrap();
    let again = import(
        store.clone(),
        app.state.blobs.as_ref(),
        records(),
        "importer",
        500,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((again.imported, again.existing), (0, 5), "{again:?}");
    assert_eq!(store.head_seq().await.unwrap(), head);

    // The publisher carries on where the import left off: the next push is revision 2.
    let token = app.account("importer", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let snap = fixtures::build_snap(
        dir.path(),
        "name: log-tail\nversion: '2'\nsummary: Follow log files\ndescription: Tail them.\n",
    );
    let (status, pushed) = app.push("snap", "log-tail", &snap, &token).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["revision"], 2, "{pushed}");
}

both_backends!(imports_a_catalog_as_released_snaps);
