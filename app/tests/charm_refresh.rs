//! `POST /v2/charms/refresh` and `GET /v2/charms/info/{name}` as a Juju controller calls them,
//! on both backends, with real zip charms: install and download by channel on a base and by
//! revision, refresh with and without an update, an unknown name and id, a channel with
//! nothing released, a base with no matching release. Responses are read through structs
//! shaped like juju's own (`internal/charmhub/transport`: `RefreshResponses`,
//! `RefreshEntity`, `Download`, `APIError`, `InfoResponse`, …) that refuse unknown fields, with
//! Go's types (a `string` is always a string, `int` a number, `time.Time` RFC 3339).

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384};

// --- juju's transport types, field for field ---------------------------------------------
// Every field is declared so that `deny_unknown_fields` checks the shape; not all are read.
// Go fields without `omitempty` decode from absent keys as zero values, hence `default`.

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RefreshResponses {
    #[serde(default)]
    results: Vec<RefreshResponse>,
    #[serde(default)]
    error_list: Vec<ApiError>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RefreshResponse {
    #[serde(rename = "charm", default)]
    entity: Option<RefreshEntity>,
    #[serde(default)]
    effective_channel: String,
    error: Option<ApiError>,
    #[serde(default)]
    id: String,
    instance_key: String,
    #[serde(default)]
    name: String,
    result: String,
    #[serde(default, deserialize_with = "go_time")]
    released_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RefreshEntity {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    download: Download,
    #[serde(default)]
    id: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    name: String,
    publisher: Option<HashMap<String, String>>,
    #[serde(default)]
    resources: Vec<ResourceRevision>,
    bases: Option<Vec<JujuBase>>,
    #[serde(default)]
    revision: i64,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    version: String,
    #[serde(default, deserialize_with = "go_time")]
    created_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    metadata_yaml: Option<String>,
    config_yaml: Option<String>,
    actions_yaml: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Download {
    #[serde(rename = "hash-sha-256", default)]
    hash_sha_256: String,
    #[serde(rename = "hash-sha-384", default)]
    hash_sha_384: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    url: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceRevision {
    #[serde(default)]
    download: Download,
    #[serde(default)]
    description: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    revision: i64,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct JujuBase {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiError {
    code: String,
    message: String,
    #[serde(default)]
    extra: ApiErrorExtra,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ApiErrorExtra {
    #[serde(default)]
    releases: Vec<JujuRelease>,
    #[serde(default)]
    #[allow(dead_code)]
    default_bases: Vec<JujuBase>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct JujuRelease {
    base: JujuBase,
    channel: String,
}

// InfoResponse and what it holds.

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InfoResponse {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    name: String,
    #[serde(rename = "result")]
    entity: Entity,
    channel_map: Vec<InfoChannelMap>,
    #[serde(default)]
    default_release: Option<InfoChannelMap>,
    #[serde(default)]
    error_list: Vec<ApiError>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Entity {
    #[serde(default)]
    categories: Vec<Category>,
    #[serde(rename = "contains-charms", default)]
    charms: Vec<Value>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    license: String,
    #[serde(default)]
    publisher: HashMap<String, String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    used_by: Vec<String>,
    #[serde(default)]
    store_url: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Category {
    featured: bool,
    name: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoChannelMap {
    #[serde(default)]
    channel: Option<JujuChannel>,
    #[serde(default)]
    revision: Option<InfoRevision>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct JujuChannel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base: JujuBase,
    #[serde(default)]
    released_at: String,
    #[serde(default)]
    risk: String,
    #[serde(default)]
    track: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InfoRevision {
    #[serde(default)]
    config_yaml: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    download: Download,
    #[serde(default)]
    metadata_yaml: String,
    #[serde(default)]
    bundle_yaml: String,
    #[serde(default)]
    bases: Vec<JujuBase>,
    #[serde(default)]
    revision: i64,
    #[serde(default)]
    version: String,
}

/// Go's `time.Time` JSON decoding: an RFC 3339 string (absent is the zero time).
fn go_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, D::Error> {
    let s = String::deserialize(d)?;
    chrono::DateTime::parse_from_rfc3339(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The fields juju's refresh config asks for (`internal/charmhub/refreshconfig.go`).
const JUJU_REFRESH_FIELDS: &[&str] = &[
    "bases",
    "config-yaml",
    "download",
    "id",
    "license",
    "metadata-yaml",
    "name",
    "publisher",
    "resources",
    "revision",
    "summary",
    "type",
    "version",
];

/// The fields `juju info` and the deploy path ask for (`internal/charmhub/info.go`).
const JUJU_INFO_FIELDS: &str = "result.categories.featured,result.categories.name,\
result.contains-charms.name,result.contains-charms.package-id,result.contains-charms.store-url,\
result.description,result.license,result.publisher.display-name,result.store-url,result.summary,\
default-release.revision.download.size,default-release.revision.config-yaml,\
default-release.revision.metadata-yaml,default-release.revision.bundle-yaml,\
default-release.revision.bases.architecture,default-release.revision.bases.name,\
default-release.revision.bases.channel,default-release.revision.revision,\
default-release.revision.version,default-release.channel.name,\
default-release.channel.base.architecture,default-release.channel.base.name,\
default-release.channel.base.channel,default-release.channel.released-at,\
default-release.channel.risk,default-release.channel.track,\
channel-map.revision.download.size,channel-map.revision.created-at,\
channel-map.revision.bases.architecture,channel-map.revision.bases.name,\
channel-map.revision.bases.channel,channel-map.revision.revision,channel-map.revision.version,\
channel-map.channel.name,channel-map.channel.base.architecture,channel-map.channel.base.name,\
channel-map.channel.base.channel,channel-map.channel.released-at,channel-map.channel.risk,\
channel-map.channel.track";

// --- helpers ------------------------------------------------------------------------------

const NAME: &str = "juju-target";

struct Fixture {
    app: TestApp,
    token: String,
    id: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let app = TestApp::new(backend).await;
        let token = app.account("alice", &[]).await;
        let (status, body) = app
            .post(
                "/v1/charm",
                Some(&token),
                json!({"name": NAME, "type": "charm"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        Fixture {
            app,
            token,
            id,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Pushes a charm for `bases` (`(name, channel, architectures)`); returns its revision.
    async fn push(&self, bases: &[(&str, &str, &[&str])]) -> u32 {
        let charm = fixtures::build_charm(
            self.dir.path(),
            &fixtures::charm_metadata(NAME),
            Some(&fixtures::manifest(bases)),
        );
        let (status, body) = self.app.push("charm", NAME, &charm, &self.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, review) = self
            .app
            .get(body["status-url"].as_str().unwrap(), Some(&self.token))
            .await;
        assert_eq!(review["revisions"][0]["status"], "approved", "{review}");
        review["revisions"][0]["revision"].as_u64().unwrap() as u32
    }

    async fn release(&self, channel: &str, revision: u32) {
        let (status, body) = self
            .app
            .post(
                &format!("/v1/charm/{NAME}/releases"),
                Some(&self.token),
                json!([{"channel": channel, "revision": revision, "resources": []}]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Sends a request as juju's `apiRequester` does and checks the content type it insists on.
    async fn raw(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .header("user-agent", "Juju/3.6.4");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self.app.raw(builder.body(body).unwrap()).await;
        let status = response.status();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "exactly, as juju compares it"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn refresh(&self, context: Value, actions: Value) -> Vec<RefreshResponse> {
        let (status, body) = self
            .raw(
                Method::POST,
                "/v2/charms/refresh",
                Some(json!({
                    "context": context, "actions": actions, "fields": JUJU_REFRESH_FIELDS,
                    "metrics": {"controller": {"uuid": "c"}, "model": {"uuid": "m"}},
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: RefreshResponses = serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("not juju's shape: {e}: {body}"));
        assert!(list.error_list.is_empty());
        list.results
    }

    async fn install(&self, channel: &str, base: Value) -> RefreshResponse {
        let mut results = self
            .refresh(
                json!([]),
                json!([{"action": "install", "instance-key": "7a1e1f57-0000-4000-8000-000000000001",
                        "name": NAME, "channel": channel, "base": base}]),
            )
            .await;
        assert_eq!(results.len(), 1);
        results.remove(0)
    }
}

fn base(architecture: &str, name: &str, channel: &str) -> Value {
    json!({"architecture": architecture, "name": name, "channel": channel})
}

fn jbase(architecture: &str, name: &str, channel: &str) -> JujuBase {
    JujuBase {
        architecture: architecture.into(),
        name: name.into(),
        channel: channel.into(),
    }
}

fn revision_of(result: &RefreshResponse) -> i64 {
    result
        .entity
        .as_ref()
        .unwrap_or_else(|| panic!("no charm in {result:?}"))
        .revision
}

const JAMMY: &[(&str, &str, &[&str])] = &[("ubuntu", "22.04", &["amd64"])];
const JAMMY_AND_NOBLE: &[(&str, &str, &[&str])] = &[
    ("ubuntu", "22.04", &["amd64", "arm64"]),
    ("ubuntu", "24.04", &["amd64"]),
];

// --- tests --------------------------------------------------------------------------------

async fn install_and_download_by_channel_on_a_base(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push(JAMMY).await;
    let r2 = f.push(JAMMY_AND_NOBLE).await;
    f.release("stable", r1).await;
    f.release("edge", r2).await;

    let install = f.install("edge", base("amd64", "ubuntu", "22.04")).await;
    assert_eq!(install.result, "install");
    assert_eq!(install.instance_key, "7a1e1f57-0000-4000-8000-000000000001");
    assert_eq!(install.id, f.id);
    assert_eq!(install.name, NAME);
    assert_eq!(install.effective_channel, "latest/edge");
    assert!(install.released_at.is_some());
    assert!(install.error.is_none());
    let charm = install.entity.as_ref().unwrap();
    assert_eq!(charm.kind, "charm");
    assert_eq!(charm.revision, i64::from(r2));
    assert_eq!(charm.id, f.id);
    assert_eq!(charm.name, NAME);
    assert_eq!(charm.summary, format!("The {NAME} charm"));
    assert!(charm.resources.is_empty());
    assert_eq!(
        charm.publisher.as_ref().unwrap()["username"],
        "alice",
        "{charm:?}"
    );
    assert!(
        charm
            .bases
            .as_ref()
            .unwrap()
            .contains(&jbase("arm64", "ubuntu", "22.04"))
    );
    assert!(
        charm
            .metadata_yaml
            .as_deref()
            .unwrap()
            .contains(&format!("name: {NAME}"))
    );
    assert!(charm.created_at.is_none(), "not among juju's fields");

    // The download is what the hashes say it is, and names its channel (for the counts).
    assert!(
        charm.download.url.contains("?channel=latest%2F"),
        "{}",
        charm.download.url
    );
    let (status, headers, bytes) = f.app.download(&charm.download.url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        bytes.len().to_string()
    );
    assert_eq!(charm.download.size, bytes.len() as i64);
    assert_eq!(charm.download.hash_sha_256, hex(&Sha256::digest(&bytes)));
    assert_eq!(charm.download.hash_sha_384, hex(&Sha384::digest(&bytes)));

    // A base Juju knows only partly (NA) still resolves; `beta` falls back to stable, where
    // only the jammy/amd64 revision is.
    let install = f.install("beta", base("amd64", "NA", "NA")).await;
    assert_eq!(install.effective_channel, "latest/stable");
    assert_eq!(revision_of(&install), i64::from(r1));
    let install = f
        .install("latest/edge", base("arm64", "ubuntu", "22.04"))
        .await;
    assert_eq!(revision_of(&install), i64::from(r2));
    // A channel with a risk on the base's track is how some callers send it.
    let install = f
        .install("edge", base("amd64", "ubuntu", "24.04/stable"))
        .await;
    assert_eq!(revision_of(&install), i64::from(r2));

    // `download` answers the same, and results come back in the order of the actions.
    let results = f
        .refresh(
            json!([]),
            json!([
                {"action": "download", "instance-key": "k2", "name": NAME, "channel": "stable", "base": base("amd64", "ubuntu", "22.04")},
                {"action": "download", "instance-key": "k1", "id": f.id, "channel": "edge", "base": base("amd64", "ubuntu", "24.04")},
            ]),
        )
        .await;
    assert_eq!(results[0].instance_key, "k2");
    assert_eq!(results[0].result, "download");
    assert_eq!(revision_of(&results[0]), i64::from(r1));
    assert_eq!(results[1].instance_key, "k1");
    assert_eq!(revision_of(&results[1]), i64::from(r2));

    // Without `fields`, everything is there, with the fields juju has no use for.
    let (status, body) = f
        .raw(
            Method::POST,
            "/v2/charms/refresh",
            Some(json!({"context": [], "actions": [{"action": "install", "instance-key": "x", "name": NAME, "channel": "stable", "base": base("amd64", "ubuntu", "22.04")}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["results"][0]["charm"]["created-at"].is_string());
}

async fn install_by_revision(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push(JAMMY).await;
    let r2 = f.push(JAMMY).await;
    f.release("stable", r1).await;
    f.release("edge", r2).await;
    // Juju sends no base for a revision, and fewer fields.
    let (status, body) = f
        .raw(
            Method::POST,
            "/v2/charms/refresh",
            Some(json!({
                "context": [],
                "actions": [{"action": "install", "instance-key": "i", "name": NAME, "revision": r1, "base": null}],
                "fields": ["bases", "download", "id", "revision", "version", "resources", "type"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: RefreshResponses = serde_json::from_value(body.clone()).unwrap();
    let install = &list.results[0];
    assert_eq!(install.result, "install", "{body}");
    assert_eq!(revision_of(install), i64::from(r1));
    assert_eq!(install.effective_channel, "");
    let charm = install.entity.as_ref().unwrap();
    assert!(charm.metadata_yaml.is_none() && charm.publisher.is_none());
    assert!(!charm.download.hash_sha_256.is_empty());

    // A revision nobody released is the publisher's alone.
    let r3 = f.push(JAMMY).await;
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "download", "instance-key": "d", "name": NAME, "revision": r3}]),
        )
        .await;
    let error = results[0].error.as_ref().unwrap();
    assert_eq!(results[0].result, "error");
    assert_eq!(error.code, "revision-not-found");
    assert!(results[0].entity.is_none());
    let (status, body) = f
        .app
        .post(
            "/v2/charms/refresh",
            Some(&f.token),
            json!({"context": [], "actions": [{"action": "download", "instance-key": "d", "name": NAME, "revision": r3}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["charm"]["revision"], r3, "{body}");
    // A revision that does not exist.
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "install", "instance-key": "x", "name": NAME, "revision": 99}]),
        )
        .await;
    assert_eq!(
        results[0].error.as_ref().unwrap().code,
        "revision-not-found"
    );
}

async fn refresh_with_and_without_an_update(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push(JAMMY).await;
    f.release("stable", r1).await;
    let key = "bW9kZWwtdXVpZC1hcHAta2V5LTAwMDAwMDAwMDAwMDAwMDA";
    let context = json!([{
        "instance-key": key, "id": f.id, "revision": r1,
        "base": base("amd64", "ubuntu", "22.04"),
        "tracking-channel": "stable", "refresh-date": "2026-11-01T10:00:00Z",
        "metrics": {"relations": "db"},
    }]);
    let action = json!([{"action": "refresh", "instance-key": key, "id": f.id}]);

    // Nothing newer: the deployed revision again.
    let results = f.refresh(context.clone(), action.clone()).await;
    assert_eq!(results[0].result, "refresh");
    assert_eq!(results[0].instance_key, key);
    assert_eq!(results[0].effective_channel, "latest/stable");
    assert_eq!(revision_of(&results[0]), i64::from(r1));

    // A newer revision on the tracked channel is offered; one on another channel is not.
    let r2 = f.push(JAMMY).await;
    f.release("edge", r2).await;
    let results = f.refresh(context.clone(), action.clone()).await;
    assert_eq!(revision_of(&results[0]), i64::from(r1));
    f.release("stable", r2).await;
    let results = f.refresh(context.clone(), action.clone()).await;
    assert_eq!(revision_of(&results[0]), i64::from(r2));

    // The action's channel replaces the tracked one.
    let r3 = f.push(JAMMY).await;
    f.release("edge", r3).await;
    let results = f
        .refresh(
            context.clone(),
            json!([{"action": "refresh", "instance-key": key, "id": f.id, "channel": "latest/edge"}]),
        )
        .await;
    assert_eq!(results[0].effective_channel, "latest/edge");
    assert_eq!(revision_of(&results[0]), i64::from(r3));

    // A refresh with no context entry.
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "refresh", "instance-key": "nope", "id": f.id}]),
        )
        .await;
    assert_eq!(results[0].error.as_ref().unwrap().code, "missing-context");
}

async fn unknown_names_and_ids(backend: Backend) {
    let f = Fixture::new(backend).await;
    let results = f
        .refresh(
            json!([]),
            json!([
                {"action": "install", "instance-key": "a", "name": "no-such-charm", "channel": "stable", "base": base("amd64", "ubuntu", "22.04")},
                {"action": "install", "instance-key": "b", "id": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "channel": "stable", "base": base("amd64", "ubuntu", "22.04")},
            ]),
        )
        .await;
    assert_eq!(results[0].result, "error");
    assert_eq!(results[0].name, "no-such-charm");
    assert_eq!(results[0].error.as_ref().unwrap().code, "name-not-found");
    assert!(results[0].entity.is_none());
    assert_eq!(results[1].error.as_ref().unwrap().code, "id-not-found");
    assert_eq!(results[1].id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

    // A snap of that name is not a charm.
    let (status, _) = f
        .app
        .post("/v1/snap", Some(&f.token), json!({"name": "only-a-snap"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let results = f
        .refresh(
            json!([]),
            json!([{"action": "install", "instance-key": "a", "name": "only-a-snap", "channel": "stable", "base": base("amd64", "ubuntu", "22.04")}]),
        )
        .await;
    assert_eq!(results[0].error.as_ref().unwrap().code, "name-not-found");
}

async fn channel_with_nothing_released(backend: Backend) {
    let f = Fixture::new(backend).await;
    // Registered, pushed, never released.
    f.push(JAMMY).await;
    let install = f.install("stable", base("amd64", "ubuntu", "22.04")).await;
    assert_eq!(install.result, "error");
    assert_eq!(install.id, f.id);
    let error = install.error.as_ref().unwrap();
    assert_eq!(error.code, "revision-not-found");
    assert!(error.extra.releases.is_empty());

    // Released to edge only: stable has nothing (stable does not follow edge), and a track
    // that does not exist has nothing either; both say where the charm is.
    let r1 = f.push(JAMMY).await;
    f.release("edge", r1).await;
    for channel in ["stable", "2.0/edge"] {
        let install = f.install(channel, base("amd64", "ubuntu", "22.04")).await;
        let error = install.error.as_ref().unwrap();
        assert_eq!(error.code, "revision-not-found", "{channel}");
        assert_eq!(
            error.extra.releases,
            vec![JujuRelease {
                base: jbase("amd64", "ubuntu", "22.04"),
                channel: "latest/edge".into()
            }]
        );
    }
    // A closed risk follows the next more stable one.
    f.release("stable", r1).await;
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/{NAME}/releases"),
            Some(&f.token),
            json!([{"channel": "edge", "revision": null}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let install = f.install("edge", base("amd64", "ubuntu", "22.04")).await;
    assert_eq!(install.effective_channel, "latest/stable");

    // A channel that does not parse.
    let install = f.install("a/b/c/d", base("amd64", "ubuntu", "22.04")).await;
    assert_eq!(install.error.as_ref().unwrap().code, "invalid-channel");
}

async fn base_with_no_matching_release(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push(JAMMY).await;
    f.release("stable", r1).await;
    for b in [
        base("amd64", "ubuntu", "20.04"),
        base("arm64", "ubuntu", "22.04"),
        base("amd64", "centos", "22.04"),
    ] {
        let install = f.install("stable", b.clone()).await;
        assert_eq!(install.result, "error", "{b}");
        let error = install.error.as_ref().unwrap();
        assert_eq!(error.code, "revision-not-found");
        assert_eq!(
            error.extra.releases,
            vec![JujuRelease {
                base: jbase("amd64", "ubuntu", "22.04"),
                channel: "latest/stable".into()
            }]
        );
    }
    // A channel install without a base, and a base of `all`.
    let results = f
        .refresh(
            json!([]),
            json!([
                {"action": "install", "instance-key": "a", "name": NAME, "channel": "stable", "base": null},
                {"action": "install", "instance-key": "b", "name": NAME, "channel": "stable", "base": base("all", "ubuntu", "22.04")},
            ]),
        )
        .await;
    assert_eq!(
        results[0].error.as_ref().unwrap().code,
        "missing-charm-base"
    );
    assert_eq!(
        results[1].error.as_ref().unwrap().code,
        "invalid-charm-base"
    );
}

async fn bad_requests(backend: Backend) {
    let f = Fixture::new(backend).await;
    let (status, body) = f
        .raw(
            Method::POST,
            "/v2/charms/refresh",
            Some(json!({"context": [], "actions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid-request");
    let (status, body) = f
        .raw(
            Method::POST,
            "/v2/charms/refresh",
            Some(json!({"context": [], "actions": [
                {"action": "install", "instance-key": "same", "name": NAME, "revision": 1},
                {"action": "install", "instance-key": "same", "name": NAME, "revision": 1},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "instance-key-not-unique");
    let (status, body) = f
        .raw(
            Method::POST,
            "/v2/charms/refresh",
            Some(json!({"context": [], "actions": [{"action": "fly", "instance-key": "k"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "invalid-json");
}

async fn info_in_jujus_shape(backend: Backend) {
    let f = Fixture::new(backend).await;
    let r1 = f.push(JAMMY).await;
    let r2 = f.push(JAMMY_AND_NOBLE).await;
    f.release("stable", r1).await;
    f.release("edge", r2).await;

    let (status, body) = f
        .raw(
            Method::GET,
            &format!("/v2/charms/info/{NAME}?fields={JUJU_INFO_FIELDS}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let info: InfoResponse = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not juju's shape: {e}: {body}"));
    assert_eq!(info.kind, "charm");
    assert_eq!(info.id, f.id);
    assert_eq!(info.entity.summary, format!("The {NAME} charm"));
    assert_eq!(info.entity.publisher["display-name"], "ALICE");
    // One entry per (channel, base): stable (jammy/amd64), edge (three bases), and the
    // risks between following stable for jammy/amd64.
    let lines: Vec<(String, JujuBase, i64)> = info
        .channel_map
        .iter()
        .map(|e| {
            let c = e.channel.as_ref().unwrap();
            (
                c.name.clone(),
                c.base.clone(),
                e.revision.as_ref().unwrap().revision,
            )
        })
        .collect();
    assert!(lines.contains(&(
        "latest/stable".into(),
        jbase("amd64", "ubuntu", "22.04"),
        i64::from(r1)
    )));
    assert!(lines.contains(&(
        "latest/candidate".into(),
        jbase("amd64", "ubuntu", "22.04"),
        i64::from(r1)
    )));
    assert!(lines.contains(&(
        "latest/edge".into(),
        jbase("arm64", "ubuntu", "22.04"),
        i64::from(r2)
    )));
    assert!(lines.contains(&(
        "latest/edge".into(),
        jbase("amd64", "ubuntu", "24.04"),
        i64::from(r2)
    )));
    assert!(
        !lines
            .iter()
            .any(|(c, b, _)| c == "latest/stable" && b.architecture == "arm64")
    );
    for entry in &info.channel_map {
        let revision = entry.revision.as_ref().unwrap();
        assert!(revision.download.size > 0);
        assert!(revision.download.url.is_empty(), "not asked for");
        assert!(
            revision.metadata_yaml.is_empty(),
            "not asked for in the channel map"
        );
    }
    let default = info.default_release.as_ref().unwrap();
    assert_eq!(default.channel.as_ref().unwrap().name, "latest/stable");
    assert_eq!(default.channel.as_ref().unwrap().track, "latest");
    assert_eq!(default.channel.as_ref().unwrap().risk, "stable");
    let revision = default.revision.as_ref().unwrap();
    assert_eq!(revision.revision, i64::from(r1));
    assert!(revision.metadata_yaml.contains(&format!("name: {NAME}")));

    // `channel` picks the default release.
    let (status, body) = f
        .raw(
            Method::GET,
            &format!("/v2/charms/info/{NAME}?fields={JUJU_INFO_FIELDS}&channel=edge"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let info: InfoResponse = serde_json::from_value(body).unwrap();
    let default = info.default_release.unwrap();
    assert_eq!(default.revision.unwrap().revision, i64::from(r2));
    assert_eq!(default.channel.unwrap().name, "latest/edge");

    // Unknown: 404 in the envelope, still exactly application/json.
    let (status, body) = f
        .raw(Method::GET, "/v2/charms/info/no-such-charm", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "charm-not-found");
}

async fn file_resources_are_uploaded_released_and_served(backend: Backend) {
    let f = Fixture::new(backend).await;
    let metadata = format!(
        "{}resources:\n  data:\n    type: file\n    filename: data.bin\n    description: Seed data\n  \
         image:\n    type: oci-image\n    description: The workload\n",
        fixtures::charm_metadata(NAME)
    );
    let charm = fixtures::build_charm(f.dir.path(), &metadata, Some(&fixtures::manifest(JAMMY)));
    let (status, body) = f.app.push("charm", NAME, &charm, &f.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r1 = 1;

    // Declared, nothing uploaded yet.
    let (status, body) = f
        .app
        .get(&format!("/v1/charm/{NAME}/resources"), Some(&f.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<(String, String, Value)> = body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().into(),
                r["type"].as_str().unwrap().into(),
                r["revision"].clone(),
            )
        })
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        vec![
            ("data".to_string(), "file".to_string(), Value::Null),
            ("image".to_string(), "oci-image".to_string(), Value::Null)
        ]
    );

    // Upload two revisions of the file resource.
    let mut contents = Vec::new();
    for i in 1..=2u32 {
        let file = f.dir.path().join(format!("data-{i}.bin"));
        let data = format!("seed data, revision {i}\n").repeat(100);
        std::fs::write(&file, &data).unwrap();
        contents.push(data);
        let (status, body) = f.app.upload(&file, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let upload_id = body["upload_id"].as_str().unwrap().to_string();
        let (status, body) = f
            .app
            .post(
                &format!("/v1/charm/{NAME}/resources/data/revisions"),
                Some(&f.token),
                json!({"upload-id": upload_id, "type": "file"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, review) = f
            .app
            .get(body["status-url"].as_str().unwrap(), Some(&f.token))
            .await;
        assert_eq!(status, StatusCode::OK, "{review}");
        assert_eq!(review["revisions"][0]["status"], "approved");
        assert_eq!(review["revisions"][0]["revision"], i);
        // The same upload cannot become a second revision.
        let (status, body) = f
            .app
            .post(
                &format!("/v1/charm/{NAME}/resources/data/revisions"),
                Some(&f.token),
                json!({"upload-id": upload_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    let (status, body) = f
        .app
        .get(
            &format!("/v1/charm/{NAME}/resources/data/revisions"),
            Some(&f.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revisions = body["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["revision"], 2);
    assert_eq!(revisions[0]["type"], "file");
    assert_eq!(revisions[0]["size"], contents[1].len());
    assert_eq!(
        revisions[0]["sha256"],
        hex(&Sha256::digest(contents[1].as_bytes()))
    );
    assert_eq!(
        revisions[0]["sha512"],
        hex(&sha2::Sha512::digest(contents[1].as_bytes()))
    );
    assert_eq!(revisions[0]["sha3-384"].as_str().unwrap().len(), 96);

    // OCI images are refused with a clear code; unknown resources are not found.
    let file = f.dir.path().join("data-1.bin");
    let (_, body) = f.app.upload(&file, None).await;
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/{NAME}/resources/image/revisions"),
            Some(&f.token),
            json!({"upload-id": body["upload_id"], "type": "oci-image"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "resource-type-not-supported");
    let (status, body) = f
        .app
        .get(
            &format!("/v1/charm/{NAME}/resources/nope/revisions"),
            Some(&f.token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "resource-not-found");

    // Release the charm with resource revision 1 to stable, revision 2 to edge.
    for (channel, resource) in [("stable", 1), ("edge", 2)] {
        let (status, body) = f
            .app
            .post(
                &format!("/v1/charm/{NAME}/releases"),
                Some(&f.token),
                json!([{"channel": channel, "revision": r1, "resources": [{"name": "data", "revision": resource}]}]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/{NAME}/releases"),
            Some(&f.token),
            json!([{"channel": "beta", "revision": r1, "resources": [{"name": "data", "revision": 9}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "resource-revision-not-found");

    // Refresh results carry the resource revisions released with the channel.
    for (channel, want) in [("stable", 1usize), ("edge", 2)] {
        let install = f.install(channel, base("amd64", "ubuntu", "22.04")).await;
        let charm = install.entity.as_ref().unwrap();
        assert_eq!(charm.resources.len(), 1, "{channel}");
        let r = &charm.resources[0];
        assert_eq!(
            (r.name.as_str(), r.kind.as_str(), r.revision),
            ("data", "file", want as i64)
        );
        assert_eq!(r.filename, "data.bin");
        assert_eq!(r.description, "Seed data");
        let (status, headers, bytes) = f.app.download(&r.download.url, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers["content-length"].to_str().unwrap(),
            bytes.len().to_string()
        );
        assert_eq!(bytes, contents[want - 1].as_bytes());
        assert_eq!(r.download.size, bytes.len() as i64);
        assert_eq!(r.download.hash_sha_256, hex(&Sha256::digest(&bytes)));
        assert_eq!(r.download.hash_sha_384, hex(&Sha384::digest(&bytes)));
        assert_eq!(
            headers["content-disposition"].to_str().unwrap(),
            "attachment; filename=\"data.bin\""
        );
        // A large resource can be resumed.
        let (status, headers, tail) = f.app.download(&r.download.url, Some("bytes=3-")).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(tail, bytes[3..]);
        assert_eq!(
            headers["content-range"].to_str().unwrap(),
            format!("bytes 3-{}/{}", bytes.len() - 1, bytes.len())
        );
    }
    // Unknown charm and unknown revision say which.
    let path = |id: &str, revision: u32| format!("/api/v1/resources/{id}/data/{revision}");
    let (status, body) = f.raw(Method::GET, &path("NoSuchCharmId", 1), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().contains("no charm with id"), "{body}");
    let (status, body) = f.raw(Method::GET, &path(&f.id, 99), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().contains("no revision 99"), "{body}");
    // A release without resources keeps the channel's.
    f.release("stable", r1).await;
    let install = f.install("stable", base("amd64", "ubuntu", "22.04")).await;
    assert_eq!(install.entity.as_ref().unwrap().resources[0].revision, 1);

    // Juju's resource listing.
    let (status, body) = f
        .raw(
            Method::GET,
            &format!("/v2/charms/resources/{NAME}/data/revisions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ResourcesResponse {
        revisions: Vec<ResourceRevision>,
    }
    let list: ResourcesResponse = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not juju's shape: {e}: {body}"));
    let numbers: Vec<i64> = list.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, vec![2, 1]);
    let (status, body) = f
        .raw(
            Method::GET,
            &format!("/v2/charms/resources/{NAME}/nope/revisions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "resource-not-found");
}

/// charmcraft's `upload-resource --arch` and `set-resource-architectures`: a resource revision
/// keeps the bases it was pushed with, and its publisher can change them, all at once or not
/// at all.
async fn resource_revisions_carry_their_bases(backend: Backend) {
    let f = Fixture::new(backend).await;
    let metadata = format!(
        "{}resources:\n  data:\n    type: file\n    filename: data.bin\n",
        fixtures::charm_metadata(NAME)
    );
    let charm = fixtures::build_charm(f.dir.path(), &metadata, Some(&fixtures::manifest(JAMMY)));
    let (status, body) = f.app.push("charm", NAME, &charm, &f.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revisions_url = format!("/v1/charm/{NAME}/resources/data/revisions");
    let all = json!([{"name": "all", "channel": "all", "architectures": ["all"]}]);

    // Pushed with architectures (sorted, each once), and without (every one).
    let id = upload_file(&f, 1).await;
    let (status, body) = f
        .app
        .post(
            &revisions_url,
            Some(&f.token),
            json!({"upload-id": id, "type": "file", "bases": [
                {"name": "all", "channel": "all", "architectures": ["arm64", "amd64", "arm64"]}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = upload_file(&f, 2).await;
    let (status, body) = f
        .app
        .post(&revisions_url, Some(&f.token), json!({"upload-id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Bases that are not valid are refused, and leave no revision behind.
    let id = upload_file(&f, 3).await;
    for (bases, message) in [
        (json!([]), "from 1 to 16 bases"),
        (
            json!([{"architectures": ["amd46"]}]),
            "unknown architecture \"amd46\"",
        ),
        (
            json!([{"architectures": ["all", "amd64"]}]),
            "give it alone",
        ),
        (json!([{"architectures": []}]), "at least one architecture"),
        (json!([{"name": "ubuntu 22.04"}]), "a base's name"),
    ] {
        let (status, body) = f
            .app
            .post(
                &revisions_url,
                Some(&f.token),
                json!({"upload-id": id, "bases": bases}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&body), "invalid-bases");
        assert!(
            body["error-list"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{body}"
        );
    }
    let revisions = resource_revisions(&f).await;
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["revision"], 2);
    assert_eq!(revisions[0]["bases"], all);
    assert_eq!(
        revisions[1]["bases"],
        json!([{"name": "all", "channel": "all", "architectures": ["amd64", "arm64"]}])
    );
    assert!(revisions[1].get("updated-at").is_none(), "{}", revisions[1]);

    // set-resource-architectures: both revisions at once.
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            &revisions_url,
            Some(&f.token),
            Some(json!({"resource-revision-updates": [
                {"revision": 2, "bases": [{"name": "all", "channel": "all", "architectures": ["riscv64"]}]},
                {"revision": 1, "bases": [{"architectures": ["all"]}]},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"num-resource-revisions-updated": 2}));
    let revisions = resource_revisions(&f).await;
    assert_eq!(
        revisions[0]["bases"],
        json!([{"name": "all", "channel": "all", "architectures": ["riscv64"]}])
    );
    assert_eq!(revisions[1]["bases"], all);
    for revision in &revisions {
        let at = revision["updated-at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }

    // All or nothing: a revision that does not exist undoes the one before it.
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            &revisions_url,
            Some(&f.token),
            Some(json!({"resource-revision-updates": [
                {"revision": 1, "bases": [{"architectures": ["s390x"]}]},
                {"revision": 9, "bases": [{"architectures": ["s390x"]}]},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "resource-revision-not-found");
    assert_eq!(resource_revisions(&f).await[1]["bases"], all);

    for (update, code) in [
        (json!({"resource-revision-updates": []}), "invalid-request"),
        (
            json!({"resource-revision-updates": [
                {"revision": 1, "bases": [{}]}, {"revision": 1, "bases": [{}]}
            ]}),
            "invalid-request",
        ),
        (
            json!({"resource-revision-updates": [{"revision": 0, "bases": [{}]}]}),
            "invalid-request",
        ),
        (
            json!({"resource-revision-updates": [{"revision": 1, "bases": [{"architectures": ["x86"]}]}]}),
            "invalid-bases",
        ),
    ] {
        let (status, body) = f
            .app
            .call(Method::PATCH, &revisions_url, Some(&f.token), Some(update))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&body), code, "{body}");
    }
    let update = json!({"resource-revision-updates": [{"revision": 1, "bases": [{}]}]});
    // Only the charm's publisher; only resources the charm has.
    let mallory = f.app.account("mallory", &[]).await;
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            &revisions_url,
            Some(&mallory),
            Some(update.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = f
        .app
        .call(
            Method::PATCH,
            &format!("/v1/charm/{NAME}/resources/nope/revisions"),
            Some(&f.token),
            Some(update.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "resource-not-found");
    let (status, _) = f
        .app
        .call(Method::PATCH, &revisions_url, None, Some(update))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Uploads a small file; its upload id.
async fn upload_file(f: &Fixture, i: u32) -> String {
    let file = f.dir.path().join(format!("data-{i}.bin"));
    std::fs::write(&file, format!("data {i}\n")).unwrap();
    let (status, body) = f.app.upload(&file, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["upload_id"].as_str().unwrap().to_string()
}

/// The revisions of resource `data`, as charmcraft's `resource-revisions` reads them.
async fn resource_revisions(f: &Fixture) -> Vec<Value> {
    let url = format!("/v1/charm/{NAME}/resources/data/revisions");
    let (status, body) = f.app.get(&url, Some(&f.token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["revisions"].as_array().unwrap().clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

both_backends!(
    install_and_download_by_channel_on_a_base,
    install_by_revision,
    refresh_with_and_without_an_update,
    unknown_names_and_ids,
    channel_with_nothing_released,
    base_with_no_matching_release,
    bad_requests,
    info_in_jujus_shape,
    file_resources_are_uploaded_released_and_served,
    resource_revisions_carry_their_bases,
);
