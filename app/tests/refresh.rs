//! `POST /v2/snaps/refresh` as snapd calls it, on both backends, with real snaps: install,
//! download, refresh with and without an update, the epoch barrier, a closed channel falling
//! back, the default-track redirect, progressive releases and the error results. Responses are
//! read through structs shaped like snapd's own (`store/store_action.go`,
//! `store/details_v2.go`) that refuse unknown fields.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha3::{Digest, Sha3_384};

// --- snapd's types, field for field -------------------------------------------------------
// Every field is declared so that `deny_unknown_fields` checks the shape; not all are read.

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SnapActionResultList {
    results: Vec<SnapActionResult>,
    error_list: Vec<ErrorListEntry>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SnapActionResult {
    result: String,
    instance_key: String,
    snap_id: Option<String>,
    name: Option<String>,
    effective_channel: Option<String>,
    redirect_channel: Option<String>,
    snap: Option<StoreSnap>,
    error: Option<ErrorListEntry>,
    key: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorListEntry {
    code: String,
    message: String,
    extra: Option<ErrorExtra>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorExtra {
    releases: Vec<SnapRelease>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct SnapRelease {
    architecture: String,
    channel: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StoreSnap {
    architectures: Option<Vec<String>>,
    base: Option<String>,
    confinement: Option<String>,
    links: Option<HashMap<String, Vec<String>>>,
    contact: Option<String>,
    created_at: Option<String>,
    description: Option<String>,
    download: Option<StoreSnapDownload>,
    epoch: Option<StoreEpoch>,
    license: Option<String>,
    name: Option<String>,
    prices: Option<HashMap<String, String>>,
    private: Option<bool>,
    publisher: Option<StorePublisher>,
    revision: Option<i64>,
    snap_id: Option<String>,
    snap_yaml: Option<String>,
    summary: Option<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    website: Option<String>,
    store_url: Option<String>,
    media: Option<Vec<Value>>,
    common_ids: Option<Vec<String>>,
    categories: Option<Vec<StoreCategory>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSnapDownload {
    url: String,
    #[serde(rename = "sha3-384")]
    sha3_384: String,
    size: i64,
    deltas: Vec<Value>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct StoreEpoch {
    read: Vec<u32>,
    write: Vec<u32>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StorePublisher {
    id: String,
    username: String,
    display_name: String,
    validation: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreCategory {
    featured: bool,
    name: String,
}

/// The fields Debian's snapd 2.57 sends with `snap download`.
const SNAPD_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "confinement",
    "contact",
    "created-at",
    "description",
    "download",
    "epoch",
    "license",
    "name",
    "prices",
    "private",
    "publisher",
    "revision",
    "snap-id",
    "snap-yaml",
    "summary",
    "title",
    "type",
    "version",
    "website",
    "store-url",
    "media",
    "common-ids",
];

// --- helpers ------------------------------------------------------------------------------

struct Fixture {
    app: TestApp,
    token: String,
    snap_id: String,
    dir: tempfile::TempDir,
}

fn yaml(version: &str, epoch: &str) -> String {
    yaml_for(version, epoch, "amd64")
}

fn yaml_for(version: &str, epoch: &str, architecture: &str) -> String {
    format!(
        "name: hello-refresh\nversion: '{version}'\nsummary: Says hello\ndescription: A test snap.\n\
         architectures: [{architecture}]\nbase: core22\nconfinement: strict\nepoch: {epoch}\n"
    )
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let app = TestApp::new(backend).await;
        let token = app.account("alice", &[]).await;
        let (status, body) = app
            .post("/v1/snap", Some(&token), json!({"name": "hello-refresh"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let snap_id = body["id"].as_str().unwrap().to_string();
        Fixture {
            app,
            token,
            snap_id,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Pushes a revision with `version` and `epoch`; returns its number.
    async fn push(&self, version: &str, epoch: &str) -> u32 {
        self.push_yaml(&yaml(version, epoch)).await
    }

    /// Pushes a revision built for `architecture`; returns its number.
    async fn push_for(&self, version: &str, architecture: &str) -> u32 {
        self.push_yaml(&yaml_for(version, "0", architecture)).await
    }

    async fn push_yaml(&self, yaml: &str) -> u32 {
        let snap = fixtures::build_snap(self.dir.path(), yaml);
        let (status, body) = self
            .app
            .push("snap", "hello-refresh", &snap, &self.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, review) = self
            .app
            .get(body["status-url"].as_str().unwrap(), Some(&self.token))
            .await;
        review["revisions"][0]["revision"].as_u64().unwrap() as u32
    }

    async fn release(&self, items: Value) {
        let (status, body) = self
            .app
            .post("/v1/snap/hello-refresh/releases", Some(&self.token), items)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn raw_refresh(&self, body: Value, arch: Option<&str>) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/v2/snaps/refresh")
            .header("content-type", "application/json")
            .header("snap-device-series", "16")
            .header("snap-device-capabilities", "default-tracks");
        if let Some(arch) = arch {
            builder = builder.header("snap-device-architecture", arch);
        }
        let response = self
            .app
            .raw(builder.body(Body::from(body.to_string())).unwrap())
            .await;
        let status = response.status();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "exactly, as snapd compares it"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// The `Snap-Device-Authorization` of the device with `serial`, with the session depot
    /// issues it (the exchange itself is `device_sessions_identify_registered_devices`').
    fn session_header(&self, serial: &str) -> String {
        let session = self.app.state.assertions.device_sessions().session(
            &depot::assertions::device::Device {
                brand_id: "acme".into(),
                model: "kiosk".into(),
                serial: serial.into(),
            },
        );
        format!("Macaroon root=\"{session}\"")
    }

    /// The revision one device (by device session or by address) is offered when it refreshes
    /// from `installed` on latest/stable.
    async fn progressive_answer(
        &self,
        session: Option<&str>,
        address: Option<std::net::SocketAddr>,
        installed: u32,
    ) -> u32 {
        self.progressive_answer_with(
            session,
            address,
            self.installed(installed, "latest/stable", zero()),
        )
        .await
    }

    async fn progressive_answer_with(
        &self,
        session: Option<&str>,
        address: Option<std::net::SocketAddr>,
        context: Value,
    ) -> u32 {
        self.progressive_answer_to(session, address, context, self.refresh_action())
            .await
    }

    /// The revision one device is offered for the first of `actions`.
    async fn progressive_answer_to(
        &self,
        session: Option<&str>,
        address: Option<std::net::SocketAddr>,
        context: Value,
        actions: Value,
    ) -> u32 {
        let body = json!({
            "context": context,
            "actions": actions,
            "fields": ["revision"],
        });
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/v2/snaps/refresh")
            .header("content-type", "application/json")
            .header("snap-device-series", "16")
            .header("snap-device-architecture", "amd64");
        if let Some(session) = session {
            builder = builder.header("snap-device-authorization", session);
        }
        let mut request = builder.body(Body::from(body.to_string())).unwrap();
        if let Some(address) = address {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(address));
        }
        let response = self.app.raw(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        body["results"][0]["snap"]["revision"].as_u64().unwrap() as u32
    }

    async fn refresh(&self, context: Value, actions: Value) -> Vec<SnapActionResult> {
        let (status, body) = self
            .raw_refresh(
                json!({"context": context, "actions": actions, "fields": SNAPD_FIELDS}),
                Some("amd64"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: SnapActionResultList = serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("not snapd's shape: {e}: {body}"));
        assert!(list.error_list.is_empty());
        list.results
    }

    fn installed(&self, revision: u32, channel: &str, epoch: Value) -> Value {
        json!([{
            "snap-id": self.snap_id, "instance-key": self.snap_id, "revision": revision,
            "tracking-channel": channel, "epoch": epoch,
            "refreshed-date": "2026-11-01T10:00:00Z",
        }])
    }

    fn refresh_action(&self) -> Value {
        json!([{"action": "refresh", "instance-key": self.snap_id, "snap-id": self.snap_id}])
    }
}

fn zero() -> Value {
    json!({"read": [0], "write": [0]})
}

fn revision_of(result: &SnapActionResult) -> i64 {
    result
        .snap
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or_else(|| panic!("no revision in {result:?}"))
}

// --- tests --------------------------------------------------------------------------------

async fn download_and_install_resolve_channels_and_revisions(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let r2 = f.push("2.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}, {"channel": "beta", "revision": r2}]))
        .await;

    let results = f
        .refresh(
            json!([]),
            json!([{"action": "download", "instance-key": "download-1", "name": "hello-refresh", "channel": "beta", "epoch": null}]),
        )
        .await;
    assert_eq!(results.len(), 1);
    let download = &results[0];
    assert_eq!(download.result, "download");
    assert_eq!(download.instance_key, "download-1");
    assert_eq!(download.name.as_deref(), Some("hello-refresh"));
    assert_eq!(download.snap_id.as_deref(), Some(f.snap_id.as_str()));
    assert_eq!(download.effective_channel.as_deref(), Some("latest/beta"));
    assert_eq!(download.redirect_channel, None);
    let snap = download.snap.as_ref().unwrap();
    assert_eq!(snap.revision, Some(i64::from(r2)));
    assert_eq!(snap.version.as_deref(), Some("2.0"));
    assert_eq!(snap.name.as_deref(), Some("hello-refresh"));
    assert_eq!(
        snap.architectures.as_deref(),
        Some(&["amd64".to_string()][..])
    );
    assert_eq!(
        snap.epoch,
        Some(StoreEpoch {
            read: vec![0],
            write: vec![0]
        })
    );
    assert_eq!(snap.publisher.as_ref().unwrap().username, "alice");
    assert!(
        snap.snap_yaml
            .as_deref()
            .unwrap()
            .contains("version: '2.0'")
    );
    assert!(snap.categories.is_none(), "not asked for");
    let dl = snap.download.as_ref().unwrap();
    assert!(dl.url.starts_with("http"), "absolute: {}", dl.url);
    assert_eq!(dl.sha3_384.len(), 96);
    let (status, _, bytes) = f.app.download(&dl.url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.len() as i64, dl.size);
    assert_eq!(hex::encode(Sha3_384::digest(&bytes)), dl.sha3_384);

    // A risk with nothing released falls back to the next more stable one.
    let results = f
        .refresh(
            json!([]),
            json!([
                {"action": "install", "instance-key": "install-1", "name": "hello-refresh", "channel": "edge"},
                {"action": "install", "instance-key": "install-2", "name": "hello-refresh"},
                {"action": "download", "instance-key": "download-3", "name": "hello-refresh", "revision": r1},
                {"action": "download", "instance-key": "download-4", "name": "hello-refresh", "revision": 99},
                {"action": "install", "instance-key": "install-5", "name": "no-such-snap", "channel": "stable"},
            ]),
        )
        .await;
    assert_eq!(results[0].result, "install");
    assert_eq!(results[0].effective_channel.as_deref(), Some("latest/beta"));
    assert_eq!(revision_of(&results[0]), i64::from(r2));
    assert_eq!(
        results[1].effective_channel.as_deref(),
        Some("latest/stable")
    );
    assert_eq!(revision_of(&results[1]), i64::from(r1));
    assert_eq!(results[2].result, "download");
    assert_eq!(revision_of(&results[2]), i64::from(r1));
    assert_eq!(results[2].effective_channel, None);
    assert_eq!(results[3].result, "error");
    assert_eq!(
        results[3].error.as_ref().unwrap().code,
        "revision-not-found"
    );
    assert_eq!(results[4].result, "error");
    assert_eq!(results[4].name.as_deref(), Some("no-such-snap"));
    let error = results[4].error.as_ref().unwrap();
    assert_eq!(error.code, "name-not-found");
    assert!(error.message.contains("no-such-snap"), "{}", error.message);

    // Only the fields asked for.
    let (status, body) = f
        .raw_refresh(
            json!({"context": [], "fields": ["revision", "version"], "actions": [
                {"action": "download", "instance-key": "download-1", "name": "hello-refresh"}]}),
            Some("amd64"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["results"][0]["snap"],
        json!({"revision": r1, "version": "1.0"})
    );

    // Another architecture: nothing there, and the error lists the architectures the snap is
    // released for (snapd says "not available on arm64 but exists on other architectures").
    let (status, body) = f
        .raw_refresh(
            json!({"context": [], "actions": [
                {"action": "download", "instance-key": "download-1", "name": "hello-refresh", "channel": "beta"}]}),
            Some("arm64"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list: SnapActionResultList = serde_json::from_value(body).unwrap();
    let error = list.results[0].error.as_ref().unwrap();
    assert_eq!(error.code, "revision-not-found");
    let releases = &error.extra.as_ref().unwrap().releases;
    assert!(
        releases.contains(&SnapRelease {
            architecture: "amd64".into(),
            channel: "latest/beta".into()
        }),
        "{releases:?}"
    );
    assert!(
        releases.iter().all(|r| r.architecture == "amd64"),
        "{releases:?}"
    );
    // On amd64, a channel closed on every risk of a track: the releases that exist are listed.
    f.release(
        json!([{"channel": "stable", "revision": null}, {"channel": "beta", "revision": null}]),
    )
    .await;
    f.release(json!([{"channel": "edge", "revision": r2}]))
        .await;
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "download", "instance-key": "download-1", "name": "hello-refresh", "channel": "stable"}]),
        )
        .await;
    let error = results[0].error.as_ref().unwrap();
    assert_eq!(error.code, "revision-not-found");
    assert_eq!(
        error.extra.as_ref().unwrap().releases,
        vec![SnapRelease {
            architecture: "amd64".into(),
            channel: "latest/edge".into()
        }]
    );
}

async fn refresh_offers_updates_and_says_when_there_is_none(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let r2 = f.push("2.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}, {"channel": "edge", "revision": r2}]))
        .await;

    // On stable with r1: no update, so the installed revision comes back.
    let results = f
        .refresh(f.installed(r1, "latest/stable", zero()), f.refresh_action())
        .await;
    assert_eq!(results[0].result, "refresh");
    assert_eq!(results[0].instance_key, f.snap_id);
    assert_eq!(revision_of(&results[0]), i64::from(r1));
    assert_eq!(
        results[0].effective_channel.as_deref(),
        Some("latest/stable")
    );

    // Tracking edge: r2.
    let results = f
        .refresh(f.installed(r1, "latest/edge", zero()), f.refresh_action())
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));
    assert_eq!(results[0].effective_channel.as_deref(), Some("latest/edge"));

    // Edge closed: the device follows the nearest more stable risk, stable.
    f.release(json!([{"channel": "edge", "revision": null}]))
        .await;
    let results = f
        .refresh(f.installed(r2, "latest/edge", zero()), f.refresh_action())
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r1));
    assert_eq!(
        results[0].effective_channel.as_deref(),
        Some("latest/stable")
    );

    // A switch of channel in the action overrides the tracked one.
    f.release(json!([{"channel": "candidate", "revision": r2}]))
        .await;
    let results = f
        .refresh(
            f.installed(r1, "latest/stable", zero()),
            json!([{"action": "refresh", "instance-key": f.snap_id, "snap-id": f.snap_id, "channel": "candidate"}]),
        )
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));

    // A held snap is left alone by a scheduled refresh.
    let mut context = f.installed(r1, "latest/candidate", zero());
    context[0]["held"] = json!({"by": ["system"]});
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v2/snaps/refresh")
        .header("content-type", "application/json")
        .header("snap-refresh-reason", "scheduled")
        .body(Body::from(
            json!({"context": context, "actions": f.refresh_action(), "fields": ["revision"]})
                .to_string(),
        ))
        .unwrap();
    let response = f.app.raw(request).await;
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["results"][0]["snap"]["revision"], r1);

    // An unknown snap id.
    let results = f
        .refresh(
            json!([{"snap-id": "x".repeat(32), "instance-key": "k1", "revision": 1, "tracking-channel": "stable", "epoch": zero()}]),
            json!([{"action": "refresh", "instance-key": "k1", "snap-id": "x".repeat(32)}]),
        )
        .await;
    assert_eq!(results[0].result, "error");
    assert_eq!(results[0].error.as_ref().unwrap().code, "id-not-found");
}

async fn epochs_are_a_barrier(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}]))
        .await;
    // Epoch 2 cannot read epoch 0 data: a device on r1 stays there.
    let r2 = f.push("2.0", "2").await;
    f.release(json!([{"channel": "stable", "revision": r2}]))
        .await;
    let results = f
        .refresh(f.installed(r1, "latest/stable", zero()), f.refresh_action())
        .await;
    assert_eq!(
        revision_of(&results[0]),
        i64::from(r1),
        "no update across the epoch"
    );
    // A device already on epoch 2 (or a fresh install) gets r2.
    let results = f
        .refresh(
            f.installed(r1, "latest/stable", json!({"read": [2], "write": [2]})),
            f.refresh_action(),
        )
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "install", "instance-key": "install-1", "name": "hello-refresh"}]),
        )
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));
    // `1*` reads epochs 0 and 1: devices on r1 may move to it.
    let r3 = f.push("3.0", "1*").await;
    f.release(json!([{"channel": "stable", "revision": r3}]))
        .await;
    let results = f
        .refresh(f.installed(r1, "latest/stable", zero()), f.refresh_action())
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r3));
    assert_eq!(
        results[0].snap.as_ref().unwrap().epoch,
        Some(StoreEpoch {
            read: vec![0, 1],
            write: vec![1]
        })
    );
}

async fn the_default_track_redirects(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let r2 = f.push("2.0", "0").await;
    let (status, body) = f
        .app
        .post(
            "/v1/snap/hello-refresh/tracks",
            Some(&f.token),
            json!([{"name": "2.0"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    f.release(json!([{"channel": "latest/stable", "revision": r1}, {"channel": "2.0/stable", "revision": r2}]))
        .await;
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-refresh",
            Some(&f.token),
            Some(json!({"default-track": "2.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["metadata"]["default-track"], "2.0");

    let results = f
        .refresh(
            json!([]),
            json!([
                {"action": "install", "instance-key": "install-1", "name": "hello-refresh", "channel": "stable"},
                {"action": "install", "instance-key": "install-2", "name": "hello-refresh", "channel": "latest/stable"},
            ]),
        )
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));
    assert_eq!(results[0].effective_channel.as_deref(), Some("2.0/stable"));
    assert_eq!(results[0].redirect_channel.as_deref(), Some("2.0/stable"));
    assert_eq!(revision_of(&results[1]), i64::from(r1));
    assert_eq!(results[1].redirect_channel, None);

    // A default track must exist.
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-refresh",
            Some(&f.token),
            Some(json!({"default-track": "9.9"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "track-not-found");
}

async fn progressive_releases_reach_their_percentage(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let r2 = f.push("2.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}]))
        .await;
    f.release(json!([{"channel": "stable", "revision": r2, "progressive": {"percentage": 25.0}}]))
        .await;
    let (status, body) = f
        .app
        .get("/v1/snap/hello-refresh/releases", Some(&f.token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let entry = body["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["channel"] == "latest/stable")
        .unwrap();
    assert_eq!(entry["revision"], r2);
    assert_eq!(entry["progressive"]["percentage"], 25.0);

    // 10,000 devices as snapd sends them: the instance key of a snap that is not a parallel
    // install is its snap id, the same on every device; devices differ by their device session.
    let mut answers = HashMap::new();
    for device in 0..10_000 {
        let session = f.session_header(&format!("D-{device}"));
        let revision = f.progressive_answer(Some(&session), None, r1).await;
        answers.insert(session, revision);
    }
    assert_eq!(answers.len(), 10_000);
    let updated = answers.values().filter(|r| **r == r2).count();
    assert!(
        (2_300..=2_700).contains(&updated),
        "{updated} of 10,000 devices got the 25% release"
    );
    assert!(answers.values().all(|r| *r == r1 || *r == r2));
    // The same device always gets the same answer, whether it refreshes or installs (snapd
    // names an install `install-N`, an installed snap by its snap id) or installs again.
    for (session, revision) in answers.iter().take(200) {
        assert_eq!(
            f.progressive_answer(Some(session), None, r1).await,
            *revision
        );
        for key in ["install-1", "install-7"] {
            let install = json!([{"action": "install", "instance-key": key,
                "name": "hello-refresh", "channel": "stable"}]);
            assert_eq!(
                f.progressive_answer_to(Some(session), None, json!([]), install)
                    .await,
                *revision,
                "{session} installing as {key}"
            );
        }
    }
    // Devices without a session are told apart by their address.
    let mut by_address = 0;
    for device in 0..2_000u32 {
        let address = std::net::SocketAddr::from((
            [10, 1, (device / 250) as u8, (device % 250) as u8],
            40_000,
        ));
        let revision = f.progressive_answer(None, Some(address), r1).await;
        assert_eq!(
            f.progressive_answer(None, Some(address), r1).await,
            revision
        );
        by_address += usize::from(revision == r2);
    }
    assert!(
        (400..=600).contains(&by_address),
        "{by_address} of 2,000 addresses got the 25% release"
    );
    // A cohort: its devices share one answer, whatever device they are.
    let (status, body) = f
        .app
        .post(
            "/v2/cohorts",
            None,
            json!({"snaps": ["hello-refresh", "no-such-snap"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys = body["cohort-keys"].as_object().unwrap();
    assert_eq!(keys.len(), 1, "{body}");
    let cohort = keys["hello-refresh"].as_str().unwrap().to_string();
    let mut in_cohort = std::collections::HashSet::new();
    for device in 0..200 {
        let session = f.session_header(&format!("C-{device}"));
        let mut context = f.installed(r1, "latest/stable", zero());
        context[0]["cohort-key"] = json!(cohort);
        in_cohort.insert(
            f.progressive_answer_with(Some(&session), None, context)
                .await,
        );
    }
    assert_eq!(
        in_cohort.len(),
        1,
        "every member of the cohort gets the same revision"
    );
    let (status, body) = f.app.post("/v2/cohorts", None, json!({"snaps": []})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid-request")
    );
    // Completing the release (no percentage) reaches everyone.
    f.release(json!([{"channel": "stable", "revision": r2}]))
        .await;
    let results = f
        .refresh(f.installed(r1, "latest/stable", zero()), f.refresh_action())
        .await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));
}

/// A registered device as snapd is one: a serial assertion (signed by its brand) naming its
/// device key, its model assertion, and that key to sign session requests with.
struct RegisteredDevice {
    key: depot::assertions::SigningKey,
    serial: String,
    model: String,
}

impl RegisteredDevice {
    fn new(serial: &str) -> RegisteredDevice {
        use depot::assertions::format::{Draft, sign};
        let key_of = |name: &str| {
            depot::assertions::SigningKey::from_armored(
                &std::fs::read_to_string(common::app::authority_fixture(name)).unwrap(),
            )
            .unwrap()
        };
        let brand = key_of("testrootorg-root.private.asc");
        let key = key_of("testrootorg-store.private.asc");
        let now = chrono::Utc::now();
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        let serial = text(sign(
            &Draft::new("serial", "acme")
                .key("brand-id", "acme")
                .key("model", "kiosk")
                .key("serial", serial)
                .header("device-key", key.public_key_body())
                .header("device-key-sha3-384", key.id())
                .header("timestamp", "2026-11-01T00:00:00Z"),
            &brand,
            now,
        ));
        let model = text(sign(
            &Draft::new("model", "acme")
                .key("series", "16")
                .key("brand-id", "acme")
                .key("model", "kiosk")
                .header("architecture", "amd64")
                .header("base", "core22")
                .header("timestamp", "2026-11-01T00:00:00Z"),
            &brand,
            now,
        ));
        RegisteredDevice { key, serial, model }
    }

    /// snapd's `device-session-request` for `nonce`, signed with `key`.
    fn request(&self, key: &depot::assertions::SigningKey, nonce: &str) -> String {
        use depot::assertions::format::{Draft, sign};
        let serial = depot::assertions::format::decode_stream(&self.serial).unwrap()[0]
            .header("serial")
            .unwrap()
            .to_string();
        let draft = Draft::new("device-session-request", "")
            .key("brand-id", "acme")
            .key("model", "kiosk")
            .key("serial", serial)
            .header("nonce", nonce)
            .header("timestamp", depot::assertions::time(chrono::Utc::now()));
        String::from_utf8(sign(&draft, key, chrono::Utc::now())).unwrap()
    }

    /// Asks `app` for a nonce as snapd does (an empty POST).
    async fn nonce(app: &TestApp) -> String {
        let response = app
            .raw(
                Request::builder()
                    .method(Method::POST)
                    .uri("/api/v1/snaps/auth/nonces")
                    .header("accept", "application/json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let nonce = body["nonce"].as_str().unwrap().to_string();
        assert!(!nonce.is_empty());
        nonce
    }

    /// The body snapd posts to `/api/v1/snaps/auth/sessions`.
    fn session_body(&self, request: &str) -> Value {
        json!({
            "device-session-request": request,
            "serial-assertion": self.serial,
            "model-assertion": self.model,
        })
    }

    /// The whole exchange against `app`: the session.
    async fn session(&self, app: &TestApp) -> String {
        let nonce = Self::nonce(app).await;
        let (status, body) = app
            .post(
                "/api/v1/snaps/auth/sessions",
                None,
                self.session_body(&self.request(&self.key, &nonce)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["macaroon"].as_str().unwrap().to_string()
    }
}

async fn device_sessions_identify_registered_devices(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let r2 = f.push("2.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}]))
        .await;
    f.release(json!([{"channel": "stable", "revision": r2, "progressive": {"percentage": 50.0}}]))
        .await;

    // The exchange snapd makes before its first store request, and its session.
    let device = RegisteredDevice::new("K-0001");
    let session = device.session(&f.app).await;
    assert!(
        session
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b','),
        "{session}"
    );
    // The same device asking again gets the same session, from any process with the
    // store's keys: a nonce from one is good on another.
    let sibling = f.app.sibling().await;
    assert_eq!(device.session(&sibling).await, session);
    let nonce = RegisteredDevice::nonce(&f.app).await;
    let (status, body) = sibling
        .post(
            "/api/v1/snaps/auth/sessions",
            None,
            device.session_body(&device.request(&device.key, &nonce)),
        )
        .await;
    assert_eq!(
        (status, body["macaroon"].as_str()),
        (StatusCode::OK, Some(session.as_str()))
    );

    // The session places the device in a progressive release: devices get their answer, the
    // same each time, and about half get the new revision.
    let mut got = HashMap::new();
    for n in 0..40 {
        let session = RegisteredDevice::new(&format!("K-{n:04}"))
            .session(&f.app)
            .await;
        let header = format!("Macaroon root=\"{session}\"");
        let revision = f.progressive_answer(Some(&header), None, r1).await;
        assert_eq!(
            f.progressive_answer(Some(&header), None, r1).await,
            revision
        );
        got.insert(n, revision);
    }
    let updated = got.values().filter(|r| **r == r2).count();
    assert!(
        (8..=32).contains(&updated),
        "{updated} of 40 devices got the 50% release"
    );

    // A session depot did not issue (one from the store a device was moved from) is met with
    // the challenge snapd answers by asking for a new session; devices without one are served.
    for foreign in [
        r#"Macaroon root="MDAxY2xvY2F0aW9uIGxvZ2luLnVidW50dS5jb20K""#,
        &format!("Macaroon root=\"{}x\"", session),
        "Bearer something",
    ] {
        let response = f
            .app
            .raw(
                Request::builder()
                    .method(Method::POST)
                    .uri("/v2/snaps/refresh")
                    .header("content-type", "application/json")
                    .header("snap-device-series", "16")
                    .header("snap-device-authorization", foreign)
                    .body(Body::from(
                        json!({"context": f.installed(r1, "latest/stable", zero()),
                               "actions": f.refresh_action()})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{foreign}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains("refresh_device_session=1"),
            "{challenge}"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(error_code(&body), "invalid-device-session", "{body}");
    }
    let plain = f
        .progressive_answer(None, Some(([10, 0, 0, 1], 1).into()), r1)
        .await;
    assert!(plain == r1 || plain == r2);

    // Requests that do not hold get a 400 saying what is wrong, and no session.
    let nonce = RegisteredDevice::nonce(&f.app).await;
    let other_key = depot::assertions::SigningKey::from_armored(
        &std::fs::read_to_string(common::app::authority_fixture(
            "testrootorg-root.private.asc",
        ))
        .unwrap(),
    )
    .unwrap();
    let other = RegisteredDevice::new("K-9999");
    for (body, code) in [
        (
            device.session_body(&device.request(&device.key, "blah")),
            "invalid-nonce",
        ),
        (
            device.session_body(&device.request(&other_key, &nonce)),
            "invalid-device-session-request",
        ),
        // Another device's serial with this device's request.
        (
            json!({"device-session-request": device.request(&device.key, &nonce),
                   "serial-assertion": other.serial, "model-assertion": device.model}),
            "invalid-device-session-request",
        ),
        (
            json!({"device-session-request": "type: nonsense", "serial-assertion": device.serial,
                   "model-assertion": device.model}),
            "invalid-assertion",
        ),
        (
            json!({"device-session-request": device.model, "serial-assertion": device.serial,
                   "model-assertion": device.model}),
            "invalid-assertion",
        ),
    ] {
        let (status, answer) = f.app.post("/api/v1/snaps/auth/sessions", None, body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::BAD_REQUEST, code),
            "{answer}"
        );
        assert!(answer.get("macaroon").is_none());
    }
    let (status, answer) = f
        .app
        .post(
            "/api/v1/snaps/auth/sessions",
            None,
            json!({"serial-assertion": device.serial}),
        )
        .await;
    assert_eq!(
        (status, error_code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-json")
    );

    // What an operator sees: sessions issued and refused, by code.
    let count = |app: &TestApp, result: &str| {
        app.state
            .metrics
            .device_sessions
            .with_label_values(&[result])
            .get()
    };
    assert_eq!(count(&f.app, "issued"), 41);
    assert_eq!(count(&sibling, "issued"), 2);
    assert_eq!(count(&f.app, "invalid-device-session"), 3);
    assert_eq!(count(&f.app, "invalid-nonce"), 1);
    assert_eq!(count(&f.app, "invalid-device-session-request"), 2);
    assert_eq!(count(&f.app, "invalid-assertion"), 2);
}

/// `GET /v2/snaps/info/{name}` as `snap info` asks: only the fields named, per architecture
/// (parameter or header), and not found on an architecture with nothing released.
async fn info_selects_fields_and_architectures(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    f.release(json!([{"channel": "stable", "revision": r1}, {"channel": "edge", "revision": r1}]))
        .await;
    let (status, body) = f
        .app
        .get(
            "/v2/snaps/info/hello-refresh?fields=title,version,revision",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["snap"].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["title"],
        "{body}"
    );
    let map = body["channel-map"].as_array().unwrap();
    assert_eq!(map.len(), 4, "stable, candidate, beta, edge: {body}");
    for entry in map {
        let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["channel", "revision", "version"], "{entry}");
        assert_eq!(entry["channel"]["architecture"], "amd64", "{entry}");
    }
    for query in ["?architecture=arm64", ""] {
        let request = axum::http::Request::get(format!("/v2/snaps/info/hello-refresh{query}"))
            .header("snap-device-architecture", "arm64")
            .body(Body::empty())
            .unwrap();
        let response = f.app.raw(request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{query}");
    }
    let (status, _) = f
        .app
        .get("/v2/snaps/info/hello-refresh?architecture=amd64", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // What is not an architecture name is refused, not echoed back as a platform.
    for query in ["?architecture=bogus%20arch", "?architecture="] {
        let (status, body) = f
            .app
            .get(&format!("/v2/snaps/info/hello-refresh{query}"), None)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid-architecture"),
            "{query}"
        );
    }
    let request = axum::http::Request::get("/v2/snaps/info/hello-refresh")
        .header("snap-device-architecture", "<script>")
        .body(Body::empty())
        .unwrap();
    assert_eq!(f.app.raw(request).await.status(), StatusCode::BAD_REQUEST);
    let (status, body) = f
        .raw_refresh(
            json!({"context": [], "actions": [
                {"action": "install", "instance-key": "install-1", "name": "hello-refresh"}]}),
            Some("Amd64"),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid-architecture")
    );
}

/// Without an architecture, `info` lists each architecture's channels as a device of that
/// architecture gets them: a release for `all` serves every architecture, and a risk with
/// nothing for one architecture follows the more stable risk that has something for it.
async fn info_without_an_architecture_shows_what_each_architecture_gets(backend: Backend) {
    let f = Fixture::new(backend).await;
    let all1 = f.push_for("1.0", "all").await;
    let all2 = f.push_for("2.0", "all").await;
    let amd = f.push_for("3.0", "amd64").await;
    let arm = f.push_for("4.0", "arm64").await;
    f.release(json!([
        {"channel": "stable", "revision": all1},
        {"channel": "edge", "revision": all2},
        {"channel": "beta", "revision": amd},
        {"channel": "beta", "revision": arm},
    ]))
    .await;
    let rows = |body: &Value, architecture: &str| -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = body["channel-map"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["channel"]["architecture"] == architecture)
            .map(|e| {
                (
                    e["channel"]["risk"].as_str().unwrap().to_string(),
                    e["revision"].as_u64().unwrap(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let (status, every) = f
        .app
        .get("/v2/snaps/info/hello-refresh?fields=revision", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{every}");
    let expected = |beta: u32| -> Vec<(String, u64)> {
        let mut rows = vec![
            ("stable".to_string(), u64::from(all1)),
            ("candidate".to_string(), u64::from(all1)),
            ("beta".to_string(), u64::from(beta)),
            ("edge".to_string(), u64::from(all2)),
        ];
        rows.sort();
        rows
    };
    assert_eq!(rows(&every, "amd64"), expected(amd), "{every}");
    assert_eq!(rows(&every, "arm64"), expected(arm), "{every}");
    // A device of any other architecture gets the releases for `all`.
    assert_eq!(rows(&every, "all"), expected(all1), "{every}");
    for architecture in ["amd64", "arm64"] {
        let (status, only) = f
            .app
            .get(
                &format!(
                    "/v2/snaps/info/hello-refresh?fields=revision&architecture={architecture}"
                ),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{only}");
        assert_eq!(rows(&only, architecture), rows(&every, architecture));
    }
}

/// A snap released only for `all` is available on the device's architecture, and
/// `revision-not-found` says so: snapd calls a snap unavailable on an architecture unless an
/// entry of `extra.releases` names it.
async fn releases_for_all_are_listed_under_the_devices_architecture(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push_for("1.0", "all").await;
    f.release(json!([{"channel": "edge", "revision": r1}]))
        .await;
    let (status, body) = f
        .raw_refresh(
            json!({"context": [], "actions": [
                {"action": "download", "instance-key": "download-1", "name": "hello-refresh", "channel": "stable"}]}),
            Some("amd64"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list: SnapActionResultList = serde_json::from_value(body).unwrap();
    let error = list.results[0].error.as_ref().unwrap();
    assert_eq!(error.code, "revision-not-found");
    let mut releases: Vec<(String, String)> = error
        .extra
        .as_ref()
        .unwrap()
        .releases
        .iter()
        .map(|r| (r.architecture.clone(), r.channel.clone()))
        .collect();
    releases.sort();
    assert_eq!(
        releases,
        vec![
            ("all".to_string(), "latest/edge".to_string()),
            ("amd64".to_string(), "latest/edge".to_string()),
        ]
    );
}

async fn malformed_requests_are_refused(backend: Backend) {
    let f = Fixture::new(backend).await;
    let cases = [
        (json!({"context": [], "actions": []}), "invalid-request"),
        (
            json!({"context": [], "actions": [
                {"action": "install", "instance-key": "a", "name": "x"},
                {"action": "install", "instance-key": "a", "name": "y"}]}),
            "invalid-request",
        ),
        (
            json!({"context": [
                {"snap-id": "s", "instance-key": "k", "revision": 1},
                {"snap-id": "s", "instance-key": "k", "revision": 2}],
                "actions": [{"action": "refresh", "instance-key": "k"}]}),
            "invalid-request",
        ),
    ];
    for (body, code) in cases {
        let (status, response) = f.raw_refresh(body.clone(), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {response}");
        assert_eq!(error_code(&response), code, "{response}");
    }
    let (status, response) = f
        .raw_refresh(
            json!({"actions": [{"action": "purchase", "instance-key": "a"}]}),
            None,
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(error_code(&response), "invalid-json");
    // The message says where in the body the bad value is.
    let message = response["error-list"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("actions[0]"), "{response}");

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v2/snaps/refresh")
        .header("content-type", "application/json")
        .body(Body::from("{\"actions\": ["))
        .unwrap();
    let response = f.app.raw(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v2/snaps/refresh")
        .header("content-type", "application/json")
        .header("snap-device-series", "15")
        .body(Body::from(
            json!({"actions": [{"action": "install", "instance-key": "a", "name": "x"}]})
                .to_string(),
        ))
        .unwrap();
    let response = f.app.raw(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn categories_list_what_public_snaps_use(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push("1.0", "0").await;
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-refresh",
            Some(&f.token),
            Some(
                json!({"categories": ["Utilities", "development", "UTILITIES"], "title": "Hello"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = f.app.get("/v2/snaps/categories", None).await;
    assert_eq!(body, json!({"categories": []}), "nothing released yet");
    f.release(json!([{"channel": "stable", "revision": r1}]))
        .await;
    let (status, body) = f.app.get("/v2/snaps/categories", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"categories": [{"name": "development"}, {"name": "utilities"}]})
    );
    let (_, info) = f.app.get("/v2/snaps/info/hello-refresh", None).await;
    assert_eq!(info["snap"]["title"], "Hello");
    // Names are kept in lower case, once each: info, the list and the filter agree.
    assert_eq!(
        info["snap"]["categories"],
        json!([{"featured": false, "name": "utilities"}, {"featured": false, "name": "development"}])
    );
    let (_, found) = f
        .app
        .get("/v2/snaps/find?category=utilities&architecture=amd64", None)
        .await;
    assert_eq!(found["results"][0]["name"], "hello-refresh", "{found}");

    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-refresh",
            Some(&f.token),
            Some(json!({"categories": ["no spaces"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid-metadata");
    // Text fields: bounded, no control characters; only the description has several lines.
    for bad in [
        json!({"summary": "hi \u{1b}[2J"}),
        json!({"title": "one\ntwo"}),
        json!({"summary": "s".repeat(129)}),
    ] {
        let (status, body) = f
            .app
            .call(
                Method::PATCH,
                "/v1/snap/hello-refresh",
                Some(&f.token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&body), "invalid-metadata");
    }
    let (_, info) = f.app.get("/v2/snaps/info/hello-refresh", None).await;
    assert_eq!(info["snap"]["title"], "Hello", "nothing refused was kept");
    let (status, _) = f
        .app
        .call(
            Method::PATCH,
            "/v1/snap/hello-refresh",
            None,
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

both_backends!(
    download_and_install_resolve_channels_and_revisions,
    refresh_offers_updates_and_says_when_there_is_none,
    epochs_are_a_barrier,
    the_default_track_redirects,
    progressive_releases_reach_their_percentage,
    device_sessions_identify_registered_devices,
    malformed_requests_are_refused,
    info_selects_fields_and_architectures,
    info_without_an_architecture_shows_what_each_architecture_gets,
    releases_for_all_are_listed_under_the_devices_architecture,
    categories_list_what_public_snaps_use,
);
