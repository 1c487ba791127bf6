//! The publishing flow end to end, in process, on both backends: register → upload → push →
//! release → info → download, with real snaps (mksquashfs) and charms (zip).

mod common;

use axum::http::StatusCode;
use common::app::{Backend, Options, TestApp, error_code};
use common::fixtures;
use serde_json::{Value, json};
use sha3::{Digest, Sha3_384};

fn snap_yaml(name: &str, version: &str, arch: &str) -> String {
    format!(
        "name: {name}\nversion: '{version}'\nsummary: {name} summary\ndescription: {name} description\n\
         architectures: [{arch}]\nbase: core22\nconfinement: strict\ngrade: stable\n"
    )
}

async fn publish_snap(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("alice", &[]).await;

    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "hello-depot"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snap_id = body["id"].as_str().unwrap().to_string();

    let snap = fixtures::build_snap(dir.path(), &snap_yaml("hello-depot", "1.0", "amd64"));
    let (status, body) = app.push("snap", "hello-depot", &snap, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status_url = body["status-url"].as_str().unwrap().to_string();
    let (status, review) = app.get(&status_url, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(review["revisions"][0]["status"], "approved");
    assert_eq!(review["revisions"][0]["revision"], 1);

    let (status, body) = app
        .post(
            "/v1/snap/hello-depot/releases",
            Some(&token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["released"],
        json!([{"channel": "latest/stable", "revision": 1, "expiration-date": null}])
    );

    // The write returned only after this process's catalog showed it: no sleeping here.
    let (status, info) = app
        .get("/v2/snaps/info/hello-depot?architecture=amd64", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["snap-id"], snap_id);
    assert_eq!(info["snap"]["summary"], "hello-depot summary");
    assert_eq!(info["snap"]["publisher"]["username"], "alice");
    let stable = &info["channel-map"][0];
    assert_eq!(stable["channel"]["name"], "stable");
    assert_eq!(stable["channel"]["track"], "latest");
    assert_eq!(stable["channel"]["architecture"], "amd64");
    assert_eq!(stable["revision"], 1);
    assert_eq!(stable["version"], "1.0");
    assert_eq!(stable["base"], "core22");
    assert_eq!(stable["epoch"], json!({"read": [0], "write": [0]}));

    let url = stable["download"]["url"].as_str().unwrap();
    let sha3 = stable["download"]["sha3-384"].as_str().unwrap();
    let (status, headers, bytes) = app.download(url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(bytes, std::fs::read(&snap).unwrap());
    assert_eq!(hex::encode(Sha3_384::digest(&bytes)), sha3);
    assert_eq!(stable["download"]["size"], bytes.len());

    // Resume from the middle, as snapd does.
    let (status, headers, tail) = app.download(url, Some("bytes=100-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail, bytes[100..]);
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-{}/{}", bytes.len() - 1, bytes.len()).as_str()
    );
    let (status, _, _) = app
        .download(url, Some(&format!("bytes={}-", bytes.len() + 10)))
        .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);

    // The publisher views agree.
    let (_, revisions) = app
        .get("/v1/snap/hello-depot/revisions", Some(&token))
        .await;
    assert_eq!(revisions["revisions"][0]["sha3-384"], sha3);
    assert_eq!(revisions["revisions"][0]["size"], bytes.len());
    assert_eq!(revisions["revisions"][0]["status"], "released");
    let (_, names) = app.get("/v1/snap", Some(&token)).await;
    assert_eq!(names["results"][0]["name"], "hello-depot");
    assert_eq!(names["results"][0]["status"], "published");
}

async fn publish_charm(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("bob", &[]).await;
    let (status, body) = app
        .post(
            "/v1/charm",
            Some(&token),
            json!({"name": "my-charm", "type": "charm"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let charm = fixtures::build_charm(
        dir.path(),
        &fixtures::charm_metadata("my-charm"),
        Some(&fixtures::manifest(&[("ubuntu", "22.04", &["amd64"])])),
    );
    let (status, body) = app.push("charm", "my-charm", &charm, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/v1/charm/my-charm/releases",
            Some(&token),
            json!([{"channel": "latest/edge", "revision": 1, "resources": []}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, info) = app.get("/v2/charms/info/my-charm?channel=edge", None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["type"], "charm");
    assert_eq!(info["result"]["summary"], "The my-charm charm");
    let release = &info["default-release"];
    assert_eq!(release["channel"]["name"], "latest/edge");
    assert_eq!(
        release["channel"]["base"],
        json!({"name": "ubuntu", "channel": "22.04", "architecture": "amd64"})
    );
    assert_eq!(release["revision"]["revision"], 1);
    assert!(
        release["revision"]["metadata-yaml"]
            .as_str()
            .unwrap()
            .contains("name: my-charm")
    );
    let download = &release["revision"]["download"];
    let (status, _, bytes) = app.download(download["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        hex::encode(Sha3_384::digest(&bytes)),
        download["hash-sha3-384"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(<sha2::Sha384 as sha2::Digest>::digest(&bytes)),
        download["hash-sha-384"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        download["hash-sha-256"].as_str().unwrap()
    );

    // Nothing on stable: the default release is empty, and fields prune the answer.
    let (_, info) = app
        .get(
            "/v2/charms/info/my-charm?fields=result.summary,channel-map.revision.revision",
            None,
        )
        .await;
    assert_eq!(info["default-release"], Value::Null);
    assert_eq!(info["result"], json!({"summary": "The my-charm charm"}));
    assert_eq!(info["channel-map"][0], json!({"revision": {"revision": 1}}));
}

async fn closing_follows_more_stable_risk(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("carol", &[]).await;
    app.post("/v1/snap", Some(&token), json!({"name": "follow-me"}))
        .await;
    for version in ["1", "2"] {
        let snap = fixtures::build_snap(dir.path(), &snap_yaml("follow-me", version, "all"));
        let (status, body) = app.push("snap", "follow-me", &snap, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .post(
            "/v1/snap/follow-me/releases",
            Some(&token),
            json!([{"channel": "stable", "revision": 1}, {"channel": "edge", "revision": 2}, {"channel": "beta/hotfix", "revision": 2}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let branch_expiry = body["released"][2]["expiration-date"]
        .as_str()
        .unwrap()
        .to_string();

    let revision_on = |info: &Value, name: &str| -> Option<u64> {
        info["channel-map"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["channel"]["name"] == name)
            .and_then(|e| e["revision"].as_u64())
    };
    let (_, info) = app.get("/v2/snaps/info/follow-me", None).await;
    assert_eq!(revision_on(&info, "stable"), Some(1));
    assert_eq!(
        revision_on(&info, "candidate"),
        Some(1),
        "candidate follows stable"
    );
    assert_eq!(revision_on(&info, "beta"), Some(1), "beta follows stable");
    assert_eq!(revision_on(&info, "edge"), Some(2));
    let branch = info["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["channel"]["name"] == "beta/hotfix")
        .expect("the branch is listed");
    assert_eq!(branch["revision"], 2);
    assert_eq!(branch["channel"]["expiration-date"], branch_expiry.as_str());
    let expiry = chrono::DateTime::parse_from_rfc3339(&branch_expiry).unwrap();
    let days = (expiry.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (29..=30).contains(&days),
        "branches live 30 days, got {days}"
    );

    // Close edge: it now follows the next more stable risk with a release (stable).
    let (status, body) = app
        .post(
            "/v1/snap/follow-me/releases",
            Some(&token),
            json!([{"channel": "edge", "revision": null}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["released"][0]["revision"], Value::Null);
    let (_, info) = app.get("/v2/snaps/info/follow-me", None).await;
    assert_eq!(revision_on(&info, "edge"), Some(1));

    // The publisher's view keeps the explicit map and says what follows what.
    let (_, releases) = app.get("/v1/snap/follow-me/releases", Some(&token)).await;
    let channels: Vec<&str> = releases["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["latest/stable", "latest/beta/hotfix"]);
    let edge = releases["package"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "latest/edge")
        .unwrap();
    assert_eq!(edge["fallback"], "latest/beta");

    // Close stable too: nothing left on risks, info lists only the branch.
    app.post(
        "/v1/snap/follow-me/releases",
        Some(&token),
        json!([{"channel": "stable", "revision": null}]),
    )
    .await;
    let (_, info) = app.get("/v2/snaps/info/follow-me", None).await;
    assert_eq!(revision_on(&info, "stable"), None);
    assert_eq!(revision_on(&info, "edge"), None);

    // History keeps every release and close.
    let package_id = app
        .store()
        .package_id(depot::domain::Namespace::Snap, "follow-me")
        .await
        .unwrap()
        .unwrap();
    let history = app.store().release_history(&package_id).await.unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[3].revision, None);
}

async fn tracks_and_channels(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("dave", &[]).await;
    app.post("/v1/snap", Some(&token), json!({"name": "tracked"}))
        .await;
    let snap = fixtures::build_snap(dir.path(), &snap_yaml("tracked", "2.0.1", "amd64"));
    app.push("snap", "tracked", &snap, &token).await;

    let (status, body) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "2.0/stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "track-not-found");

    let (status, body) = app
        .post(
            "/v1/snap/tracked/tracks",
            Some(&token),
            json!([{"name": "2.0"}, {"name": "latest"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["num-tracks-created"], 1);
    let (status, body) = app
        .post(
            "/v1/snap/tracked/tracks",
            Some(&token),
            json!([{"name": "bad/track"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid-track-name");
    // Out-of-range and unknown fields are refused, and nothing of the request is kept.
    for (bad, status_wanted, code) in [
        (
            json!([{"name": "3.0"}, {"name": "4.0", "automatic-phasing-percentage": 500}]),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        (
            json!([{"name": "3.0", "version-pattern": "x".repeat(129)}]),
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
        (
            json!([{"name": "3.0", "bogus": 1}]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-json",
        ),
    ] {
        let (status, body) = app
            .post("/v1/snap/tracked/tracks", Some(&token), bad.clone())
            .await;
        assert_eq!((status, error_code(&body)), (status_wanted, code), "{bad}");
    }
    for bad in [
        json!([{"channel": "2.0/stable", "revision": 1, "bogus": true}]),
        json!([{"channel": "2.0/stable", "revision": 1, "progressive": {"percentage": 5, "x": 1}}]),
        json!([{"channel": "2.0/stable", "revision": 1, "progressive": [null, null]}]),
    ] {
        let (status, body) = app
            .post("/v1/snap/tracked/releases", Some(&token), bad.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(error_code(&body), "invalid-json");
    }
    // `paused` as the channel map shows it is accepted; pausing is not supported.
    let (status, body) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "latest/edge", "revision": 1, "progressive": {"percentage": 50, "paused": true}}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "invalid-progressive");
    let (status, body) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "latest/edge", "revision": 1, "progressive": {"percentage": 50, "paused": null}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "latest/edge"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "closed again");
    let (_, metadata) = app.get("/v1/snap/tracked", Some(&token)).await;
    let tracks: Vec<&str> = metadata["metadata"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(!tracks.contains(&"3.0"), "{tracks:?}");

    let (status, _) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "2.0/stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, info) = app.get("/v2/snaps/info/tracked", None).await;
    let names: Vec<&str> = info["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["channel"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["2.0/stable", "2.0/candidate", "2.0/beta", "2.0/edge"]
    );

    for bad in ["", "latest/unstable", "a/b/c/d", "stable//x"] {
        let (status, body) = app
            .post(
                "/v1/snap/tracked/releases",
                Some(&token),
                json!([{"channel": bad, "revision": 1}]),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(error_code(&body), "invalid-channel", "{bad:?}");
    }
    let (status, body) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "edge", "revision": 9}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "revision-not-found");
    // A failed request in a batch leaves nothing half-applied.
    let (status, _) = app
        .post(
            "/v1/snap/tracked/releases",
            Some(&token),
            json!([{"channel": "edge", "revision": 1}, {"channel": "beta", "revision": 7}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, releases) = app.get("/v1/snap/tracked/releases", Some(&token)).await;
    assert_eq!(releases["channel-map"].as_array().unwrap().len(), 1);
}

async fn bad_input_is_refused(backend: Backend) {
    let app = TestApp::with_options(
        backend,
        Options {
            max_upload_size: 64 * 1024,
            ..Options::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("erin", &[]).await;

    let (status, body) = app.get("/v2/snaps/info/unknown-snap", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "snap-not-found");
    let (status, body) = app.get("/v2/charms/info/unknown-charm", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "charm-not-found");

    for (name, code) in [
        ("Upper", "invalid-name"),
        ("a", "invalid-name"),
        ("-lead", "invalid-name"),
        ("double--hyphen", "invalid-name"),
        ("123", "invalid-name"),
    ] {
        let (status, body) = app
            .post("/v1/snap", Some(&token), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(error_code(&body), code, "{name}");
    }
    let (status, _) = app
        .post("/v1/snap", Some(&token), json!({"name": "taken"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "taken"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "name-already-registered");
    // A registered name with nothing released is not found by devices.
    let (status, body) = app.get("/v2/snaps/info/taken", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "snap-not-found");
    // The same name may exist once per namespace.
    let (status, _) = app
        .post("/v1/charm", Some(&token), json!({"name": "taken"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Malformed and unexpected JSON.
    let request = axum::http::Request::post("/v1/snap")
        .header("authorization", format!("Macaroon {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"name\": "))
        .unwrap();
    let response = app.raw(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(
            "/v1/snap",
            Some(&token),
            json!({"name": "x1", "colour": "red"}),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(error_code(&body), "invalid-json");
    let (status, body) = app
        .post(
            "/v1/snap",
            Some(&token),
            json!({"name": "x".repeat(2 * 1024 * 1024)}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "body-too-large");

    // An upload over max_upload_size is refused and leaves nothing behind.
    let big = dir.path().join("big.snap");
    std::fs::write(&big, vec![0u8; 200 * 1024]).unwrap();
    let (status, body) = app.upload(&big, Some(&token)).await;
    assert!(status == StatusCode::PAYLOAD_TOO_LARGE, "{status} {body}");
    let tmp = app.data_dir.path().join("blobs/tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);

    // Pushing an unknown upload, a charm to a snap, a mismatched name.
    let (status, body) = app
        .post(
            "/v1/snap/taken/revisions",
            Some(&token),
            json!({"upload-id": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "upload-not-found");
    let charm = fixtures::build_charm(dir.path(), &fixtures::charm_metadata("taken"), None);
    let (status, body) = app.push("snap", "taken", &charm, &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "artifact-type-mismatch");
    let other = fixtures::build_snap(dir.path(), &snap_yaml("someone-else", "1", "amd64"));
    let (status, body) = app.push("snap", "taken", &other, &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "name-mismatch");
    let (_, revisions) = app.get("/v1/snap/taken/revisions", Some(&token)).await;
    assert_eq!(revisions["revisions"], json!([]));

    // An upload may become one revision only.
    let good = fixtures::build_snap(dir.path(), &snap_yaml("taken", "1", "amd64"));
    let (_, up) = app.upload(&good, Some(&token)).await;
    let id = up["upload_id"].as_str().unwrap();
    let (status, _) = app
        .post(
            "/v1/snap/taken/revisions",
            Some(&token),
            json!({"upload-id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/v1/snap/taken/revisions",
            Some(&token),
            json!({"upload-id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "upload-already-pushed");

    let (status, body) = app.get("/no/such/route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not-found");
}

async fn hostile_artifacts_are_rejected(backend: Backend) {
    let app = TestApp::with_options(
        backend,
        Options {
            limits: fixtures::test_limits(),
            ..Options::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("mallory", &[]).await;
    for hostile in fixtures::hostile_artifacts(dir.path()) {
        let (namespace, name) = match hostile.kind {
            depot::inspect::Kind::Snap => ("snap", "hostile-snap"),
            depot::inspect::Kind::Charm => ("charm", "hostile-charm"),
        };
        app.post(
            &format!("/v1/{namespace}"),
            Some(&token),
            json!({"name": name}),
        )
        .await;
        let (status, body) = app.push(namespace, name, &hostile.path, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", hostile.label);
        // The inspectors call a snap given to the charm inspector (and the reverse) invalid;
        // the server looks at the kind first and names the mismatch.
        let expected = match depot::inspect::detect(&hostile.path) {
            Ok(kind) if kind != hostile.kind => "artifact-type-mismatch",
            _ => hostile.expected_code,
        };
        assert_eq!(error_code(&body), expected, "{}: {body}", hostile.label);
        let message = body["error-list"][0]["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{}", hostile.label);
    }
    for namespace in ["snap", "charm"] {
        let (_, revisions) = app
            .get(
                &format!("/v1/{namespace}/hostile-{namespace}/revisions"),
                Some(&token),
            )
            .await;
        assert_eq!(
            revisions["revisions"],
            json!([]),
            "no hostile artifact became a revision"
        );
    }
}

both_backends!(
    publish_snap,
    publish_charm,
    closing_follows_more_stable_risk,
    tracks_and_channels,
    bad_input_is_refused,
    hostile_artifacts_are_rejected,
);
