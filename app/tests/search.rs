//! Search through the HTTP API on both backends, over real published snaps and charms:
//! `GET /v2/snaps/find` in snapd's shape, `GET /v2/charms/find` in Juju's, and the native
//! `GET /v1/search` with filters, paging and highlights; the index follows releases, metadata
//! edits and other processes' writes.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use depot::catalog::{CatalogHandle, write_checkpoint};
use depot::search::SearchQuery;
use http_body_util::BodyExt;
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    token: String,
    dir: tempfile::TempDir,
}

fn snap_yaml(name: &str, summary: &str, arch: &str, confinement: &str) -> String {
    format!(
        "name: {name}\nversion: '1.0'\nsummary: {summary}\ndescription: |\n  {summary}. Made for the search tests.\n\
         architectures: [{arch}]\nbase: core22\nconfinement: {confinement}\napps:\n  run:\n    command: bin/hello\n"
    )
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let app = TestApp::new(backend).await;
        let token = app.account("alice", &[]).await;
        Fixture {
            app,
            token,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Registers, pushes and (when `channel` is set) releases a snap.
    async fn snap(
        &self,
        name: &str,
        summary: &str,
        arch: &str,
        confinement: &str,
        channel: Option<&str>,
    ) {
        let (status, body) = self
            .app
            .post("/v1/snap", Some(&self.token), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let file = fixtures::build_snap(
            self.dir.path(),
            &snap_yaml(name, summary, arch, confinement),
        );
        let (status, body) = self.app.push("snap", name, &file, &self.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, review) = self
            .app
            .get(body["status-url"].as_str().unwrap(), Some(&self.token))
            .await;
        let revision = review["revisions"][0]["revision"].as_u64().unwrap();
        if let Some(channel) = channel {
            self.release("snap", name, channel, revision).await;
        }
    }

    async fn release(&self, ns: &str, name: &str, channel: &str, revision: u64) {
        self.set_channel(ns, name, channel, json!(revision)).await;
    }

    /// Releases `revision` to `channel`; `null` closes it.
    async fn set_channel(&self, ns: &str, name: &str, channel: &str, revision: Value) {
        let (status, body) = self
            .app
            .post(
                &format!("/v1/{ns}/{name}/releases"),
                Some(&self.token),
                json!([{"channel": channel, "revision": revision}]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Edits a snap's summary through the publisher API.
    async fn edit_summary(&self, name: &str, summary: &str) {
        let (status, body) = self
            .app
            .call(
                Method::PATCH,
                &format!("/v1/snap/{name}"),
                Some(&self.token),
                Some(json!({ "summary": summary })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Closes a channel of a snap.
    async fn close(&self, name: &str, channel: &str) {
        self.set_channel("snap", name, channel, Value::Null).await;
    }

    async fn standard(backend: Backend) -> Fixture {
        let f = Fixture::new(backend).await;
        f.snap(
            "hello-depot",
            "Says hello to depot users",
            "amd64",
            "strict",
            Some("stable"),
        )
        .await;
        f.snap(
            "video-cutter",
            "Cut and edit video clips",
            "all",
            "classic",
            Some("stable"),
        )
        .await;
        f.snap(
            "video-edge",
            "An experimental video player",
            "amd64",
            "strict",
            Some("edge"),
        )
        .await;
        f.snap(
            "quiet-draft",
            "A video tool nobody may see yet",
            "amd64",
            "strict",
            None,
        )
        .await;
        f
    }

    /// GET returning the raw content type as well.
    async fn get_typed(&self, path: &str) -> (StatusCode, String, Value) {
        let response = self
            .app
            .raw(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

fn names(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {body}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

async fn snap_find_answers_in_snapds_shape(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let (status, content_type, body) = f.get_typed("/v2/snaps/find?q=hello").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        content_type, "application/json",
        "exactly, as snapd compares it"
    );
    assert_eq!(names(&body), vec!["hello-depot"]);
    let result = &body["results"][0];
    assert!(!result["snap-id"].as_str().unwrap().is_empty());
    // snapd's default find fields: snap-level ones under `snap`, revision-level under `revision`.
    assert_eq!(result["snap"]["summary"], "Says hello to depot users");
    assert_eq!(result["snap"]["publisher"]["username"], "alice");
    assert_eq!(result["revision"]["version"], "1.0");
    assert_eq!(result["revision"]["confinement"], "strict");
    assert_eq!(result["revision"]["channel"], "stable");
    assert_eq!(result["revision"]["revision"], 1);
    assert!(
        result["revision"]["download"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://depot.test/")
    );
    assert_eq!(body["error-list"], json!([]));

    // Only the fields asked for.
    let (_, body) = f
        .app
        .get("/v2/snaps/find?q=hello&fields=title,version", None)
        .await;
    let result = &body["results"][0];
    assert_eq!(result["snap"], json!({"title": "hello-depot"}));
    assert_eq!(result["revision"], json!({"version": "1.0"}));

    // Unreleased snaps are not found; words in summaries are.
    let (_, body) = f.app.get("/v2/snaps/find?q=video", None).await;
    let found = names(&body);
    assert!(found.contains(&"video-cutter".to_string()), "{found:?}");
    assert!(found.contains(&"video-edge".to_string()), "{found:?}");
    assert!(!found.contains(&"quiet-draft".to_string()), "{found:?}");
}

async fn snap_find_tolerates_typos_and_prefixes(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let (_, body) = f.app.get("/v2/snaps/find?q=helo-depot", None).await;
    assert_eq!(names(&body)[0], "hello-depot");
    let (_, body) = f.app.get("/v2/snaps/find?q=vidoe%20cuter", None).await;
    assert_eq!(names(&body)[0], "video-cutter");
    let (_, body) = f.app.get("/v2/snaps/find?q=hel", None).await;
    assert_eq!(names(&body)[0], "hello-depot");
    // snapd's prefix search sends the bare term as `name` (its store client refuses `*`);
    // `name=foo*`, the snapd daemon's notation, means the same.
    for query in ["name=video", "name=video*"] {
        let (_, body) = f.app.get(&format!("/v2/snaps/find?{query}"), None).await;
        let mut found = names(&body);
        found.sort();
        assert_eq!(found, vec!["video-cutter", "video-edge"], "{query}");
    }
    let (_, body) = f.app.get("/v2/snaps/find?name=video-cutter", None).await;
    assert_eq!(names(&body), vec!["video-cutter"]);
    let (_, body) = f.app.get("/v2/snaps/find?name=vid", None).await;
    assert_eq!(names(&body).len(), 2, "{body}");
    let (_, body) = f.app.get("/v2/snaps/find?name=cutter", None).await;
    assert_eq!(
        names(&body),
        Vec::<String>::new(),
        "a prefix of the name, not a word in it"
    );
}

async fn snap_find_filters(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let find = |query: &'static str| {
        let app = &f.app;
        async move {
            let (status, body) = app.get(&format!("/v2/snaps/find?{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let mut n = names(&body);
            n.sort();
            n
        }
    };
    // `all` serves every architecture.
    assert_eq!(
        find("q=video&architecture=arm64").await,
        vec!["video-cutter"]
    );
    assert_eq!(
        find("q=video&architecture=amd64").await,
        vec!["video-cutter", "video-edge"]
    );
    // snapd sends channel=stable unless asked for a wide search.
    assert_eq!(find("q=video&channel=stable").await, vec!["video-cutter"]);
    assert_eq!(
        find("q=video&channel=edge").await,
        vec!["video-cutter", "video-edge"]
    );
    assert_eq!(find("q=video&confinement=strict").await, vec!["video-edge"]);
    assert_eq!(
        find("q=video&confinement=strict,classic").await,
        vec!["video-cutter", "video-edge"]
    );
    // An Ubuntu Core device (`Snap-Classic: false`) is not offered classic snaps, unless it
    // asks for a confinement itself.
    for (query, expected) in [
        ("q=video", vec!["video-edge"]),
        ("q=video&confinement=classic", vec!["video-cutter"]),
    ] {
        let request = axum::http::Request::get(format!("/v2/snaps/find?{query}"))
            .header("snap-classic", "false")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = f.app.raw(request).await;
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(names(&body), expected, "{query}");
    }
    // The shown release follows the asked channel: edge falls back to stable.
    let (_, body) = f
        .app
        .get("/v2/snaps/find?q=cutter&channel=edge", None)
        .await;
    assert_eq!(body["results"][0]["revision"]["channel"], "stable");
    // One revision on two channels: each answer names the channel it was found on, and the
    // fields asked for, whatever was asked of it before (each result is kept once rendered).
    f.release("snap", "hello-depot", "edge", 1).await;
    for _ in 0..2 {
        for (query, channel) in [
            ("q=hello-depot&channel=edge", json!("edge")),
            ("q=hello-depot", json!("stable")),
            ("q=hello-depot&fields=version", Value::Null),
            (
                "q=hello-depot&channel=edge&fields=version,channel",
                json!("edge"),
            ),
        ] {
            let (_, body) = f.app.get(&format!("/v2/snaps/find?{query}"), None).await;
            let result = &body["results"][0];
            assert_eq!(result["name"], "hello-depot", "{query}: {body}");
            assert_eq!(result["revision"]["channel"], channel, "{query}: {body}");
            let fields = result["revision"].as_object().unwrap().len();
            assert_eq!(fields > 3, !query.contains("fields="), "{query}: {body}");
        }
    }
    // The device's architecture header works like the parameter.
    let response = f
        .app
        .raw(
            Request::builder()
                .uri("/v2/snaps/find?q=video")
                .header("snap-device-architecture", "arm64")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(names(&body), vec!["video-cutter"]);
    // Categories, set through the publisher API, are a filter too.
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-depot",
            Some(&f.token),
            Some(json!({"categories": ["productivity"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(find("category=productivity").await, vec!["hello-depot"]);
    assert_eq!(find("category=games").await, Vec::<String>::new());
}

async fn snap_find_rejects_bad_queries(backend: Backend) {
    let f = Fixture::new(backend).await;
    for (query, code) in [
        ("q=a&name=b", "invalid-query"),
        ("q=foo*", "invalid-query"),
        ("q=a%2Bb", "invalid-query"),
        ("name=(x)", "invalid-query"),
        ("channel=nonsense/risk/x/y", "invalid-channel"),
        ("q=x&confinement=strict,bogus", "invalid-query"),
        ("q=x&architecture=%3Cscript%3E", "invalid-architecture"),
        ("q=x&architecture=", "invalid-architecture"),
    ] {
        let (status, content_type, body) = f.get_typed(&format!("/v2/snaps/find?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(content_type, "application/json");
        assert_eq!(error_code(&body), code, "{query}: {body}");
    }
    let long = "a".repeat(201);
    let (status, body) = f.app.get(&format!("/v2/snaps/find?q={long}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid-query");
}

async fn the_index_follows_writes_here_and_in_other_processes(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let sibling = f.app.sibling().await;
    // A release is findable as soon as the write returns (read-your-writes) ...
    f.snap(
        "zebra-stripes",
        "Paints stripes",
        "amd64",
        "strict",
        Some("stable"),
    )
    .await;
    let (_, body) = f.app.get("/v2/snaps/find?q=zebra", None).await;
    assert_eq!(names(&body), vec!["zebra-stripes"]);
    // ... and, through the change log, in another process sharing the database.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let (_, body) = sibling.get("/v2/snaps/find?q=zebra", None).await;
        seen = names(&body);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, vec!["zebra-stripes"]);
    // Metadata edits re-index the package: the new words find it.
    f.edit_summary("zebra-stripes", "Draws polka dots").await;
    let (_, body) = f.app.get("/v2/snaps/find?q=polka", None).await;
    assert_eq!(names(&body), vec!["zebra-stripes"]);
    assert_eq!(body["results"][0]["snap"]["summary"], "Draws polka dots");
    // Closing its only channel makes it unfindable: nothing could be installed.
    f.close("zebra-stripes", "stable").await;
    let (_, body) = f.app.get("/v2/snaps/find?q=polka", None).await;
    assert_eq!(names(&body), Vec::<String>::new(), "{body}");
    let (_, body) = f.app.get("/v1/search?q=polka", None).await;
    assert_eq!(body["total"], 0, "{body}");
}

async fn native_search_pages_and_highlights(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let (status, body) = f.app.get("/v1/search?q=video&limit=1", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let first = body["results"][0]["name"].as_str().unwrap().to_string();
    let cursor = body["next-cursor"].as_str().unwrap().to_string();
    let (_, page2) = f
        .app
        .get(&format!("/v1/search?q=video&limit=1&cursor={cursor}"), None)
        .await;
    assert_eq!(page2["results"].as_array().unwrap().len(), 1);
    assert_ne!(page2["results"][0]["name"].as_str().unwrap(), first);
    assert_eq!(page2["next-cursor"], Value::Null);
    let hit = &page2["results"][0];
    assert_eq!(hit["type"], "snap");
    assert!(
        hit["highlights"]["summary"]
            .as_str()
            .unwrap()
            .contains("<mark>video</mark>"),
        "{hit}"
    );
    assert!(hit["score"].as_f64().unwrap() > 0.0);

    // Filters, and errors.
    let (_, body) = f.app.get("/v1/search?q=video&type=charm", None).await;
    assert_eq!(body["total"], 0);
    let (_, body) = f
        .app
        .get("/v1/search?publisher=alice&type=snap", None)
        .await;
    assert_eq!(body["total"], 3);
    for (query, code) in [
        ("q=x&type=bundle", "invalid-query"),
        ("q=x&limit=0", "invalid-query"),
        ("q=x&limit=101", "invalid-query"),
        ("q=x&cursor=%21%21", "invalid-cursor"),
        ("q=x&limit=abc", "invalid-query"),
        ("q=x&confinement=jail", "invalid-query"),
        ("q=x&architecture=AMD64", "invalid-architecture"),
    ] {
        let (status, body) = f.app.get(&format!("/v1/search?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(error_code(&body), code, "{query}");
    }

    // Every search is timed, by endpoint.
    let (_, _, _) = f.get_typed("/v2/snaps/find?q=hello").await;
    let response = f
        .app
        .raw(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for endpoint in ["search", "snaps_find"] {
        assert!(
            text.contains(&format!(
                "depot_search_duration_seconds_count{{endpoint=\"{endpoint}\"}}"
            )),
            "{endpoint} missing from /metrics"
        );
    }
}

async fn charm_find_answers_in_jujus_shape(backend: Backend) {
    let f = Fixture::new(backend).await;
    for (name, summary) in [
        ("pg-charm", "PostgreSQL database operator"),
        ("web-charm", "A web server operator"),
    ] {
        let (status, body) = f
            .app
            .post("/v1/charm", Some(&f.token), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let metadata = format!("name: {name}\nsummary: {summary}\ndescription: {summary}.\n");
        let manifest = fixtures::manifest(&[("ubuntu", "22.04", &["amd64"])]);
        let file = fixtures::build_charm(f.dir.path(), &metadata, Some(&manifest));
        let (status, body) = f.app.push("charm", name, &file, &f.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        f.release("charm", name, "stable", 1).await;
    }
    let (status, body) = f.app.get("/v2/charms/find?q=postgresql", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), vec!["pg-charm"]);
    let result = &body["results"][0];
    assert_eq!(result["type"], "charm");
    assert_eq!(result["result"]["summary"], "PostgreSQL database operator");
    assert_eq!(result["result"]["publisher"]["display-name"], "ALICE");
    assert_eq!(
        result["default-release"]["channel"]["name"],
        "latest/stable"
    );
    assert_eq!(
        result["default-release"]["revision"]["bases"],
        json!([{"name": "ubuntu", "channel": "22.04", "architecture": "amd64"}])
    );
    assert_eq!(body["error-list"], json!([]));
    // Juju's field list prunes the rest.
    let (_, body) = f
        .app
        .get(
            "/v2/charms/find?q=operator&fields=result.summary,default-release.revision.version",
            None,
        )
        .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    for r in body["results"].as_array().unwrap() {
        let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec!["default-release", "id", "name", "result", "type"]
        );
        assert_eq!(r["result"].as_object().unwrap().len(), 1);
        assert_eq!(
            r["default-release"]["revision"].as_object().unwrap().len(),
            1
        );
    }
    // Snaps are not charms, and filters apply.
    let (_, body) = f.app.get("/v2/snaps/find?q=postgresql", None).await;
    assert_eq!(names(&body), Vec::<String>::new());
    let (_, body) = f
        .app
        .get("/v2/charms/find?q=operator&architecture=s390x", None)
        .await;
    assert_eq!(names(&body), Vec::<String>::new());
    let (_, body) = f
        .app
        .get("/v2/charms/find?q=operator&type=bundle", None)
        .await;
    assert_eq!(names(&body), Vec::<String>::new());
    let (status, body) = f.app.get("/v2/charms/find?q=a%5Eb", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid-query");
}

/// A start reads the search index from the checkpoint an earlier process wrote and applies only
/// what changed since; the result answers as an index built from the catalog does. A damaged
/// checkpoint, or one of another database, is not used.
async fn a_start_resumes_the_index_from_its_checkpoint(backend: Backend) {
    let f = Fixture::standard(backend).await;
    let store = f.app.store().clone();
    let path = f.app.data_dir.path().join("search-index.checkpoint");
    let seq = write_checkpoint(&f.app.state.catalog, store.as_ref(), &path)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seq, f.app.state.catalog.seq());
    // After the checkpoint: a new snap, a first release, an edit, a channel closed.
    f.snap(
        "polka-player",
        "Plays polka music",
        "amd64",
        "strict",
        Some("stable"),
    )
    .await;
    f.release("snap", "quiet-draft", "stable", 1).await;
    f.edit_summary("hello-depot", "Greets zebras").await;
    f.close("video-edge", "edge").await;

    let built = CatalogHandle::load(store.as_ref(), None).await.unwrap();
    assert_eq!(built.search_checkpoint(), None);
    let answers = |handle: &CatalogHandle| -> Vec<Vec<String>> {
        [
            "video", "polka", "quiet", "zebras", "hello", "helo", "vid", "says",
        ]
        .iter()
        .map(|q| {
            let query = SearchQuery {
                text: q.to_string(),
                limit: 10,
                ..SearchQuery::default()
            };
            let hits = handle.search.search(&query).unwrap().hits;
            hits.iter().map(|h| h.name.to_string()).collect()
        })
        .collect()
    };
    let expected = answers(&built);
    assert_eq!(expected[1], vec!["polka-player"]);
    assert_eq!(expected[2], vec!["quiet-draft"]);
    assert_eq!(expected[3], vec!["hello-depot"]);
    assert_eq!(expected[7], vec!["hello-depot"]);
    assert!(!expected[0].contains(&"video-edge".to_string()));

    let resumed = CatalogHandle::load(store.as_ref(), Some(&path))
        .await
        .unwrap();
    assert_eq!(resumed.search_checkpoint(), Some(seq));
    assert_eq!(resumed.seq(), built.seq());
    assert_eq!(resumed.search.len(), built.search.len());
    assert_eq!(answers(&resumed), expected);

    // A damaged checkpoint: built instead, same answers.
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let rebuilt = CatalogHandle::load(store.as_ref(), Some(&path))
        .await
        .unwrap();
    assert_eq!(rebuilt.search_checkpoint(), None);
    assert_eq!(answers(&rebuilt), expected);

    // A checkpoint of another database, stamped with a change this log also has (by number).
    let other = Fixture::standard(backend).await;
    let other_seq = write_checkpoint(&other.app.state.catalog, other.app.store().as_ref(), &path)
        .await
        .unwrap()
        .unwrap();
    assert!(other_seq <= seq);
    let elsewhere = CatalogHandle::load(store.as_ref(), Some(&path))
        .await
        .unwrap();
    assert_eq!(elsewhere.search_checkpoint(), None);
    assert_eq!(answers(&elsewhere), expected);
}

/// A branch release that expires changes what is findable without a change in the log: a start
/// from a checkpoint made before it expired indexes that package again, as a build would.
async fn a_start_from_a_checkpoint_drops_what_expired_since(backend: Backend) {
    let f = Fixture::standard(backend).await;
    f.snap(
        "hotfix-only",
        "Ships only on a branch",
        "amd64",
        "strict",
        Some("latest/stable/hotfix"),
    )
    .await;
    let find = |handle: &CatalogHandle| {
        let query = SearchQuery {
            text: "hotfix".into(),
            limit: 10,
            ..SearchQuery::default()
        };
        handle.search.search(&query).unwrap().total
    };
    assert_eq!(find(&f.app.state.catalog), 1);
    let store = f.app.store().clone();
    let path = f.app.data_dir.path().join("search-index.checkpoint");
    write_checkpoint(&f.app.state.catalog, store.as_ref(), &path)
        .await
        .unwrap()
        .unwrap();
    // The branch expires now, which writes nothing to the change log.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    f.app
        .db
        .execute_raw(&format!(
            "UPDATE releases SET expires_at = '{now}' WHERE branch = 'hotfix'"
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let built = CatalogHandle::load(store.as_ref(), None).await.unwrap();
    assert_eq!(find(&built), 0);
    let resumed = CatalogHandle::load(store.as_ref(), Some(&path))
        .await
        .unwrap();
    assert!(resumed.search_checkpoint().is_some());
    assert_eq!(
        find(&resumed),
        0,
        "the expired branch is no longer findable"
    );
    assert_eq!(resumed.search.len(), built.search.len());
}

both_backends!(
    snap_find_answers_in_snapds_shape,
    snap_find_tolerates_typos_and_prefixes,
    snap_find_filters,
    snap_find_rejects_bad_queries,
    the_index_follows_writes_here_and_in_other_processes,
    native_search_pages_and_highlights,
    charm_find_answers_in_jujus_shape,
    a_start_resumes_the_index_from_its_checkpoint,
    a_start_from_a_checkpoint_drops_what_expired_since,
);
