//! The publisher API, in the shape of the Charmhub publisher gateway (what charmcraft and
//! craft-store speak), for both namespaces: `/v1/snap/…` and `/v1/charm/…`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::routing::{get, post};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Json, Path, Query};
use super::{ApiError, ApiResult, AppState, Auth, MaybeAuth};
use crate::auth::{Denied, Scope};
use crate::domain::resolve::fallback;
use crate::domain::{Channel, Epoch, Namespace, PackageName, Risk};
use crate::inspect::{self, Kind, RawEpoch};
use crate::store::{
    ArtifactText, Base, NewPackage, NewRevision, NewTrack, NewUpload, Package, PackageState,
    ReleaseItem, ReleaseRequest, Revision,
};

/// The upload route, apart: it has no body limit and no request timeout of its own.
pub fn upload_routes() -> Router<AppState> {
    // The upload's size is enforced while it streams into blob storage (and up front from
    // Content-Length), so the generic body limit is off for this route.
    Router::new().route(
        "/unscanned-upload/",
        post(upload).layer(DefaultBodyLimit::disable()),
    )
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens/whoami", get(whoami))
        .route("/v1/{namespace}", get(list_names).post(register))
        .route("/v1/{namespace}/{name}", get(metadata))
        .route(
            "/v1/{namespace}/{name}/revisions",
            get(list_revisions).post(push_revision),
        )
        .route(
            "/v1/{namespace}/{name}/revisions/review",
            get(review_status),
        )
        .route(
            "/v1/{namespace}/{name}/releases",
            get(list_releases).post(release),
        )
        .route("/v1/{namespace}/{name}/tracks", post(create_tracks))
}

pub(crate) fn parse_namespace(namespace: &str) -> ApiResult<Namespace> {
    namespace.parse().map_err(|_| {
        ApiError::not_found(
            "not-found",
            format!("unknown namespace {namespace:?}: use /v1/snap/… or /v1/charm/…"),
        )
    })
}

fn denied(denied: Denied, package: &Package) -> ApiError {
    match denied {
        Denied::MissingScope(scope) => ApiError::forbidden(
            "permission-denied",
            format!("the token lacks the {scope} scope needed for this; ask for a token with it"),
        ),
        Denied::NotYourPackage => ApiError::forbidden(
            "permission-denied",
            format!(
                "this token may not change the {} {:?}",
                package.namespace, package.name
            ),
        ),
    }
}

/// The package named in the path: from the catalog, or from the database when another process
/// wrote it a moment ago.
pub(crate) async fn find_package(
    state: &AppState,
    namespace: Namespace,
    name: &str,
) -> ApiResult<Arc<PackageState>> {
    if let Some(found) = state.catalog.snapshot().get(namespace, name) {
        return Ok(found.clone());
    }
    if let Some(id) = state.store.package_id(namespace, name).await?
        && let Some(loaded) = state.store.load_packages(&[id]).await?.pop()
    {
        return Ok(Arc::new(loaded));
    }
    Err(not_registered(namespace, name))
}

async fn authorized_package(
    state: &AppState,
    principal: &crate::auth::Principal,
    namespace: &str,
    name: &str,
    scope: Scope,
) -> ApiResult<Arc<PackageState>> {
    let namespace = parse_namespace(namespace)?;
    let found = find_package(state, namespace, name).await?;
    if !super::snaps::can_see(&found, Some(principal)) {
        // Someone else's private package does not exist as far as this caller can tell.
        return Err(not_registered(namespace, name));
    }
    principal
        .authorize(scope, &found.package)
        .map_err(|d| denied(d, &found.package))?;
    Ok(found)
}

fn not_registered(namespace: Namespace, name: &str) -> ApiError {
    ApiError::not_found(
        "package-not-found",
        format!(
            "no {namespace} named {name:?} is registered; register it with `depot register {name}`"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// JSON views

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn registered_name(state: &PackageState) -> Value {
    let p = &state.package;
    json!({
        "id": p.id,
        "name": p.name,
        "type": p.namespace.as_str(),
        "private": p.private,
        "status": if state.releases.is_empty() { "registered" } else { "published" },
        "store": "depot",
        "publisher": {"id": p.publisher.id, "username": p.publisher.username, "display-name": p.publisher.display_name, "validation": "unproven"},
        "title": p.title,
        "summary": p.summary,
        "description": p.description,
        "license": p.license,
        "website": p.website,
        "contact": p.contact,
        "categories": p.categories,
        "default-track": p.default_track,
        "tracks": p.tracks.iter().map(|t| json!({
            "name": t.name,
            "version-pattern": t.version_pattern,
            "automatic-phasing-percentage": t.automatic_phasing_percentage,
            "created-at": time(t.created_at),
        })).collect::<Vec<_>>(),
        "track-guardrails": [],
        "media": [],
        "links": {},
        "created-at": time(p.created_at),
    })
}

fn revision_view(state: &PackageState, r: &Revision) -> Value {
    let released = state.releases.iter().any(|rel| rel.revision == r.revision);
    let mut v = json!({
        "revision": r.revision,
        "version": r.version,
        "created-at": time(r.created_at),
        "created-by": r.created_by,
        "status": if released { "released" } else { "approved" },
        "errors": null,
        "bases": r.bases.iter().map(|b| json!({"name": b.name, "channel": b.channel, "architecture": b.architecture})).collect::<Vec<_>>(),
        "sha3-384": r.sha3_384,
        "sha256": r.sha256,
        "sha384": r.sha384,
        "size": r.size,
        "epoch": r.epoch,
    });
    if state.package.namespace == Namespace::Snap {
        v["architectures"] = json!(r.architectures);
        v["base"] = json!(r.base);
        v["confinement"] = json!(r.confinement);
        v["grade"] = json!(r.grade);
        v["type"] = json!(r.kind);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn whoami(Auth(principal): Auth) -> Json<Value> {
    let account = &principal.account;
    Json(json!({
        "account": {
            "id": account.id,
            "username": account.username,
            "display-name": account.display_name,
            "email": account.email,
        },
        "permissions": principal.permissions(),
        "scopes": principal.token.scopes,
        "packages": principal.packages(),
        "channels": null,
        "expires": principal.token.expires_at.map(time),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    private: bool,
    /// Accepted for Charmhub compatibility; depot has no teams.
    #[allow(dead_code)]
    team: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Auth(principal): Auth,
    Json(body): Json<RegisterBody>,
) -> ApiResult<Json<Value>> {
    let namespace = parse_namespace(&namespace)?;
    match body.kind.as_deref() {
        None => {}
        Some(kind) if kind == namespace.as_str() => {}
        Some("bundle") => {
            return Err(ApiError::bad_request(
                "unsupported-type",
                "bundles are not supported by depot",
            ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-type",
                format!("type {other:?} does not match the namespace {namespace}"),
            ));
        }
    }
    let name = PackageName::parse(&body.name)
        .map_err(|e| ApiError::bad_request("invalid-name", e.to_string()))?;
    principal
        .authorize_register(namespace, name.as_str())
        .map_err(|d| match d {
            Denied::MissingScope(scope) => ApiError::forbidden(
                "permission-denied",
                format!("the token lacks the {scope} scope needed to register names"),
            ),
            Denied::NotYourPackage => ApiError::forbidden(
                "permission-denied",
                format!(
                    "this token is restricted to other packages and may not register {:?}",
                    name.as_str()
                ),
            ),
        })?;
    let (package, seq) = state
        .store
        .register_package(NewPackage {
            namespace,
            name: name.into_string(),
            publisher_id: principal.account.id.clone(),
            private: body.private,
        })
        .await?;
    state.settle(seq).await;
    Ok(Json(json!({"id": package.id})))
}

async fn list_names(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Auth(principal): Auth,
) -> ApiResult<Json<Value>> {
    let namespace = parse_namespace(&namespace)?;
    let catalog = state.catalog.snapshot();
    let mut mine: Vec<&Arc<PackageState>> = catalog
        .packages()
        .filter(|s| {
            s.package.namespace == namespace && s.package.publisher.id == principal.account.id
        })
        .collect();
    mine.sort_by(|a, b| a.package.name.cmp(&b.package.name));
    Ok(Json(
        json!({"results": mine.iter().map(|s| registered_name(s)).collect::<Vec<_>>()}),
    ))
}

async fn metadata(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<Value>> {
    let namespace = parse_namespace(&namespace)?;
    let found = find_package(&state, namespace, &name).await?;
    if !super::snaps::can_see(&found, Some(&principal)) {
        return Err(not_registered(namespace, &name));
    }
    Ok(Json(json!({"metadata": registered_name(&found)})))
}

async fn upload(
    State(state): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    headers: axum::http::HeaderMap,
    mut multipart: Multipart,
) -> ApiResult<Json<Value>> {
    use axum::extract::multipart::MultipartError;
    let limit = state.config.max_upload_size;
    let too_large = || {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "artifact-too-large",
            format!("the artifact is larger than the limit of {limit} bytes (max_upload_size)"),
        )
    };
    // Multipart framing adds a few hundred bytes: anything far beyond the limit is refused
    // before a byte is read. The exact limit is enforced while the file streams to storage.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(1024 * 1024)) {
        return Err(too_large());
    }
    let invalid = |e: MultipartError| ApiError::bad_request("invalid-multipart", e.body_text());
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        if field.name() != Some("binary") {
            continue;
        }
        let stream = field.map_err(std::io::Error::other);
        let mut reader = tokio_util::io::StreamReader::new(stream);
        let info = state
            .blobs
            .put(&mut reader, limit)
            .await
            .map_err(|e| match e {
                crate::blobs::BlobError::TooLarge { .. } => too_large(),
                // A broken multipart stream surfaces as an I/O error wrapping the multipart error.
                crate::blobs::BlobError::Io(io)
                    if io.get_ref().is_some_and(|i| i.is::<MultipartError>()) =>
                {
                    match io.into_inner().map(|i| i.downcast::<MultipartError>()) {
                        Some(Ok(e)) => invalid(*e),
                        _ => ApiError::bad_request("invalid-multipart", "the upload was cut short"),
                    }
                }
                other => other.into(),
            })?;
        state.metrics.uploads.inc();
        state.metrics.upload_bytes.inc_by(info.size);
        let id = uuid::Uuid::new_v4().to_string();
        state
            .store
            .stage_upload(NewUpload {
                id: id.clone(),
                sha3_384: info.sha3_384,
                sha256: info.sha256,
                sha384: info.sha384,
                size: info.size,
                created_by: principal.map(|p| p.account.id),
            })
            .await?;
        return Ok(Json(json!({"successful": true, "upload_id": id})));
    }
    Err(ApiError::bad_request(
        "missing-binary",
        "send the artifact as the multipart/form-data field `binary`",
    ))
}

#[derive(Deserialize)]
struct PushBody {
    #[serde(rename = "upload-id")]
    upload_id: String,
}

fn epoch_of(raw: &RawEpoch) -> ApiResult<Epoch> {
    let bad = |e: String| {
        ApiError::bad_request(
            "malformed-metadata",
            format!("meta/snap.yaml: invalid epoch: {e}"),
        )
    };
    match raw {
        RawEpoch::Absent => Ok(Epoch::default()),
        RawEpoch::Scalar(s) => Epoch::parse_str(s).map_err(|e| bad(e.to_string())),
        RawEpoch::Map { read, write } => {
            let value = json!({"read": read, "write": write});
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))
        }
    }
}

/// Inspects an uploaded artifact and turns it into the fields of a new revision.
async fn inspect_upload(
    state: &AppState,
    package: &Package,
    sha3_384: &str,
) -> ApiResult<(NewRevisionParts, String)> {
    let local = state.blobs.local(sha3_384).await?;
    let limits = state.inspect_limits.clone();
    let namespace = package.namespace;
    let inspected = tokio::task::spawn_blocking(move || {
        let path = &local.path;
        let kind = inspect::detect(path)?;
        match (namespace, kind) {
            (Namespace::Snap, Kind::Snap) => {
                inspect::inspect_snap(path, &limits).map(Inspected::Snap)
            }
            (Namespace::Charm, Kind::Charm) => {
                inspect::inspect_charm(path, &limits).map(Inspected::Charm)
            }
            (_, kind) => Ok(Inspected::WrongKind(kind)),
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let (name, parts) = match inspected {
        Inspected::WrongKind(kind) => {
            let found = match kind {
                Kind::Snap => "a snap (squashfs)",
                Kind::Charm => "a charm (zip)",
            };
            return Err(ApiError::bad_request(
                "artifact-type-mismatch",
                format!(
                    "{} is a {}, but the upload is {found}",
                    package.name, package.namespace
                ),
            ));
        }
        Inspected::Snap(meta) => {
            let epoch = epoch_of(&meta.epoch)?;
            let parts = NewRevisionParts {
                version: meta.version.clone(),
                architectures: meta.architectures.clone(),
                bases: Vec::new(),
                base: meta.base.clone(),
                confinement: Some(meta.confinement.clone()),
                grade: Some(meta.grade.clone()),
                kind: meta.snap_type.clone(),
                epoch,
                text: ArtifactText {
                    title: meta.title.clone(),
                    summary: meta.summary.clone(),
                    description: meta.description.clone(),
                    license: meta.license.clone(),
                    website: None,
                    contact: None,
                },
                metadata: json!({"snap-yaml": meta.snap_yaml}),
            };
            (meta.name, parts)
        }
        Inspected::Charm(meta) => {
            let parts = NewRevisionParts {
                version: meta.version.clone().unwrap_or_default(),
                architectures: Vec::new(),
                bases: meta
                    .bases
                    .iter()
                    .map(|b| Base {
                        name: b.name.clone(),
                        channel: b.channel.clone(),
                        architecture: b.architecture.clone(),
                    })
                    .collect(),
                base: None,
                confinement: None,
                grade: None,
                kind: "charm".to_string(),
                epoch: Epoch::default(),
                text: ArtifactText {
                    title: None,
                    summary: meta.summary.clone(),
                    description: meta.description.clone(),
                    license: None,
                    website: None,
                    contact: None,
                },
                metadata: json!({
                    "metadata-yaml": meta.metadata_yaml,
                    "config-yaml": meta.config_yaml,
                    "actions-yaml": meta.actions_yaml,
                    "resources": meta.resources,
                }),
            };
            (meta.name, parts)
        }
    };
    Ok((parts, name))
}

enum Inspected {
    Snap(inspect::SnapMeta),
    Charm(inspect::CharmMeta),
    WrongKind(Kind),
}

struct NewRevisionParts {
    version: String,
    architectures: Vec<String>,
    bases: Vec<Base>,
    base: Option<String>,
    confinement: Option<String>,
    grade: Option<String>,
    kind: String,
    epoch: Epoch,
    text: ArtifactText,
    metadata: Value,
}

async fn push_revision(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(body): Json<PushBody>,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let package = &found.package;
    let upload = state.store.upload(&body.upload_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "upload-not-found",
            format!(
                "no upload with id {:?}; upload the file to /unscanned-upload/ first",
                body.upload_id
            ),
        )
    })?;
    let (parts, artifact_name) = inspect_upload(&state, package, &upload.sha3_384).await?;
    if artifact_name != package.name {
        return Err(ApiError::bad_request(
            "name-mismatch",
            format!(
                "the artifact is named {artifact_name:?} in its metadata, but it was pushed to {:?}",
                package.name
            ),
        ));
    }
    let (revision, seq) = state
        .store
        .push_revision(NewRevision {
            package_id: package.id.clone(),
            upload_id: upload.id.clone(),
            version: parts.version,
            architectures: parts.architectures,
            bases: parts.bases,
            base: parts.base,
            confinement: parts.confinement,
            grade: parts.grade,
            kind: parts.kind,
            epoch: parts.epoch,
            metadata: parts.metadata,
            text: parts.text,
            created_by: principal.account.id.clone(),
        })
        .await?;
    state.settle(seq).await;
    tracing::info!(package = %package.name, revision = revision.revision, "revision pushed");
    Ok(Json(json!({
        "status-url": format!("/v1/{}/{}/revisions/review?upload-id={}", package.namespace, package.name, upload.id),
        "revision": revision.revision,
    })))
}

#[derive(Deserialize)]
struct ReviewQuery {
    #[serde(rename = "upload-id")]
    upload_id: String,
}

async fn review_status(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Query(query): Query<ReviewQuery>,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let upload = state
        .store
        .upload(&query.upload_id)
        .await?
        .filter(|u| u.package_id.as_deref() == Some(found.package.id.as_str()))
        .ok_or_else(|| {
            ApiError::not_found(
                "upload-not-found",
                format!(
                    "no revision of {name} was pushed from upload {:?}",
                    query.upload_id
                ),
            )
        })?;
    Ok(Json(json!({"revisions": [{
        "upload-id": upload.id,
        "revision": upload.revision,
        "status": "approved",
        "errors": null,
    }]})))
}

#[derive(Deserialize)]
struct RevisionsQuery {
    revision: Option<u32>,
}

async fn list_revisions(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Query(query): Query<RevisionsQuery>,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let revisions: Vec<Value> = found
        .revisions
        .iter()
        .rev()
        .filter(|r| query.revision.is_none_or(|n| r.revision == n))
        .map(|r| revision_view(&found, r))
        .collect();
    Ok(Json(json!({"revisions": revisions})))
}

fn base_of_platform(platform: &str) -> Value {
    let mut parts = platform.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(channel), Some(architecture)) => {
            json!({"name": name, "channel": channel, "architecture": architecture})
        }
        _ => Value::Null,
    }
}

pub(crate) fn releases_view(state: &PackageState) -> Value {
    let now = chrono::Utc::now();
    let snap = state.package.namespace == Namespace::Snap;
    let mut entries: Vec<&crate::store::Release> = state
        .releases
        .iter()
        .filter(|r| r.expires_at.is_none_or(|t| t > now))
        .collect();
    entries.sort_by(|a, b| (&a.channel, &a.platform).cmp(&(&b.channel, &b.platform)));
    let channel_map: Vec<Value> = entries
        .iter()
        .map(|r| {
            let mut v = json!({
                "channel": r.channel.full(),
                "revision": r.revision,
                "base": if snap { Value::Null } else { base_of_platform(&r.platform) },
                "resources": [],
                "expiration-date": r.expires_at.map(time),
                "progressive": {"paused": null, "percentage": r.progressive_percentage},
                "when": time(r.released_at),
            });
            if snap {
                v["architecture"] = json!(r.platform);
            }
            v
        })
        .collect();
    let mut channels = Vec::new();
    for track in &state.package.tracks {
        for risk in Risk::ALL {
            let channel = Channel::new(track.name.clone(), risk, None);
            channels.push(channel_view(&channel));
        }
        let mut branches: Vec<&Channel> = entries
            .iter()
            .map(|r| &r.channel)
            .filter(|c| c.track == track.name && c.branch.is_some())
            .collect();
        branches.dedup();
        channels.extend(branches.into_iter().map(channel_view));
    }
    let mut released: Vec<u32> = entries.iter().map(|r| r.revision).collect();
    released.sort_unstable();
    released.dedup();
    let revisions: Vec<Value> = state
        .revisions
        .iter()
        .filter(|r| released.contains(&r.revision))
        .map(|r| revision_view(state, r))
        .collect();
    json!({
        "channel-map": channel_map,
        "package": {"channels": channels},
        "revisions": revisions,
    })
}

fn channel_view(channel: &Channel) -> Value {
    json!({
        "name": channel.full(),
        "track": channel.track,
        "risk": channel.risk.as_str(),
        "branch": channel.branch,
        "fallback": fallback(channel).map(|c| c.full()),
    })
}

async fn list_releases(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageRelease).await?;
    Ok(Json(releases_view(&found)))
}

#[derive(Deserialize)]
struct ReleaseBodyItem {
    channel: String,
    revision: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    resources: Vec<Value>,
    progressive: Option<ProgressiveBody>,
}

#[derive(Deserialize)]
struct ProgressiveBody {
    percentage: Option<f64>,
}

async fn release(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(body): Json<Vec<ReleaseBodyItem>>,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageRelease).await?;
    if body.is_empty() || body.len() > 100 {
        return Err(ApiError::bad_request(
            "invalid-request",
            "send between 1 and 100 release requests: [{\"channel\": \"edge\", \"revision\": 1}]",
        ));
    }
    let mut items = Vec::with_capacity(body.len());
    for item in body {
        let channel =
            Channel::parse_with_default_track(&item.channel, &found.package.default_track)
                .map_err(|e| ApiError::bad_request("invalid-channel", e.to_string()))?;
        let percentage = item.progressive.and_then(|p| p.percentage);
        if let Some(p) = percentage
            && (!(0.0..=100.0).contains(&p) || p.is_nan())
        {
            return Err(ApiError::bad_request(
                "invalid-progressive",
                format!("progressive percentage {p} must be between 0 and 100"),
            ));
        }
        items.push(ReleaseItem {
            channel,
            revision: item.revision,
            progressive_percentage: percentage,
        });
    }
    let (released, seq) = state
        .store
        .release(ReleaseRequest {
            package_id: found.package.id.clone(),
            items,
            released_by: principal.account.id.clone(),
            branch_lifetime_secs: state.config.branch_lifetime_secs,
        })
        .await?;
    state.settle(seq).await;
    Ok(Json(json!({"released": released.iter().map(|r| json!({
        "channel": r.channel.full(),
        "revision": r.revision,
        "expiration-date": r.expires_at.map(time),
    })).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
struct TrackBody {
    name: String,
    #[serde(rename = "version-pattern")]
    version_pattern: Option<String>,
    #[serde(rename = "automatic-phasing-percentage")]
    automatic_phasing_percentage: Option<f64>,
}

async fn create_tracks(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(body): Json<Vec<TrackBody>>,
) -> ApiResult<Json<Value>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageManage).await?;
    if body.is_empty() || body.len() > 100 {
        return Err(ApiError::bad_request(
            "invalid-request",
            "send between 1 and 100 tracks: [{\"name\": \"2.0\"}]",
        ));
    }
    let mut tracks = Vec::with_capacity(body.len());
    for t in body {
        crate::domain::channel::validate_track_name(&t.name)
            .map_err(|e| ApiError::bad_request("invalid-track-name", e.to_string()))?;
        tracks.push(NewTrack {
            name: t.name,
            version_pattern: t.version_pattern,
            automatic_phasing_percentage: t.automatic_phasing_percentage,
        });
    }
    let (created, seq) = state.store.create_tracks(&found.package.id, tracks).await?;
    state.settle(seq).await;
    Ok(Json(json!({"num-tracks-created": created})))
}
