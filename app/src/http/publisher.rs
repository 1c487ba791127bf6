//! The publisher API, in the shape of the Charmhub publisher gateway (what charmcraft and
//! craft-store speak), for both namespaces: `/v1/snap/…` and `/v1/charm/…`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{Json, Multipart, Path, Query};
use super::schema::NamespaceName;
use super::schema::{
    AccountView, BaseView, ChannelView, ErrorBody, PackageList, PackageMetadata, PackageStatus,
    PackageView, ProgressiveView, PublisherView, PushRequest, PushResponse, RegisterRequest,
    RegisterResponse, ReleaseResponse, ReleaseView, ReleasedView, ReleasesPackage, ReleasesRequest,
    ReleasesResponse, ReviewResponse, ReviewView, RevisionList, RevisionStatus, RevisionView,
    RiskName, TrackView, TracksRequest, TracksResponse, UploadForm, UploadResponse, WhoAmI,
};
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
pub fn upload_routes() -> OpenApiRouter<AppState> {
    // The upload's size is enforced while it streams into blob storage (and up front from
    // Content-Length), so the generic body limit is off for this route.
    OpenApiRouter::new().routes(routes!(upload).layer(DefaultBodyLimit::disable()))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(list_names, register))
        .routes(routes!(metadata, update_metadata))
        .routes(routes!(list_revisions, push_revision))
        .routes(routes!(review_status))
        .routes(routes!(list_releases, release))
        .routes(routes!(create_tracks))
        .routes(routes!(package_downloads))
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
        Denied::NotListed => ApiError::forbidden(
            "permission-denied",
            format!(
                "this token is restricted to other packages, not the {} {:?}; use a token made for it (depot admin create-token --package)",
                package.namespace, package.name
            ),
        ),
        Denied::NotYourPackage => ApiError::forbidden(
            "permission-denied",
            format!(
                "the {} {:?} belongs to another publisher: only its publisher (or an admin) may read its revisions, releases and downloads or change it",
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

pub(crate) async fn authorized_package(
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
    let hint = match (namespace, crate::domain::PackageName::parse(name)) {
        (_, Err(err)) => format!("; {err}"),
        (Namespace::Snap, Ok(_)) => format!("; register it with `depot register {name}`"),
        (Namespace::Charm, Ok(_)) => {
            format!("; register it with `depot register {name} --type charm`")
        }
    };
    ApiError::not_found(
        "package-not-found",
        format!("no {namespace} named {name:?} is registered{hint}"),
    )
}

// ---------------------------------------------------------------------------------------------
// JSON views

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn registered_name(state: &PackageState) -> PackageView {
    let p = &state.package;
    PackageView {
        id: p.id.clone(),
        name: p.name.clone(),
        kind: p.namespace,
        private: p.private,
        status: if state.releases.is_empty() {
            PackageStatus::Registered
        } else {
            PackageStatus::Published
        },
        store: "depot",
        publisher: publisher_view(&p.publisher),
        title: p.title.clone(),
        summary: p.summary.clone(),
        description: p.description.clone(),
        license: p.license.clone(),
        website: (!p.website.is_empty()).then(|| p.website.clone()),
        contact: p.contact.clone(),
        categories: p.categories.clone(),
        default_track: p.default_track.clone(),
        tracks: p
            .tracks
            .iter()
            .map(|t| TrackView {
                name: t.name.clone(),
                version_pattern: t.version_pattern.clone(),
                automatic_phasing_percentage: t.automatic_phasing_percentage,
                created_at: time(t.created_at),
            })
            .collect(),
        track_guardrails: [],
        media: [],
        links: super::schema::EmptyObject {},
        created_at: time(p.created_at),
    }
}

pub(crate) fn publisher_view(p: &crate::store::Publisher) -> PublisherView {
    PublisherView {
        id: p.id.clone(),
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        validation: "unproven",
    }
}

fn base_view(b: &Base) -> BaseView {
    BaseView {
        name: b.name.clone(),
        channel: b.channel.clone(),
        architecture: b.architecture.clone(),
    }
}

fn revision_view(state: &PackageState, r: &Revision) -> RevisionView {
    let released = state.releases.iter().any(|rel| rel.revision == r.revision);
    let snap = state.package.namespace == Namespace::Snap;
    let snap_only = |v: Option<String>| snap.then_some(v);
    RevisionView {
        revision: r.revision,
        version: r.version.clone(),
        created_at: time(r.created_at),
        created_by: r.created_by.clone(),
        status: if released {
            RevisionStatus::Released
        } else {
            RevisionStatus::Approved
        },
        errors: (),
        bases: r.bases.iter().map(base_view).collect(),
        sha3_384: r.sha3_384.clone(),
        sha256: r.sha256.clone(),
        sha384: r.sha384.clone(),
        size: r.size,
        epoch: r.epoch.clone(),
        architectures: snap.then(|| r.architectures.clone()),
        base: snap_only(r.base.clone()),
        confinement: snap_only(r.confinement.clone()),
        grade: snap_only(r.grade.clone()),
        kind: snap.then(|| r.kind.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Who the token belongs to and what it may do.
#[utoipa::path(
    get,
    path = "/v1/tokens/whoami",
    tag = "publisher",
    operation_id = "whoami",
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The token's account, scopes and restrictions.", body = WhoAmI),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
    ),
)]
async fn whoami(Auth(principal): Auth) -> Json<WhoAmI> {
    let account = &principal.account;
    Json(WhoAmI {
        account: AccountView {
            id: account.id.clone(),
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            email: account.email.clone(),
        },
        permissions: principal.permissions(),
        scopes: principal.token.scopes.clone(),
        packages: principal.packages().map(<[_]>::to_vec),
        channels: (),
        expires: principal.token.expires_at.map(time),
    })
}

/// Registers a name.
///
/// The package gets the track `latest` and status `registered`.
#[utoipa::path(
    post,
    path = "/v1/{namespace}",
    tag = "publisher",
    operation_id = "register",
    params(("namespace" = NamespaceName, Path, description = "`snap` or `charm`.")),
    request_body(content = RegisterRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The name is registered to the token's account.", body = RegisterResponse),
        (status = 400, description = "`invalid-name`, `unsupported-type`, `invalid-type`; `invalid-json` (malformed JSON); `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `account-register-package`, or is restricted to other packages.", body = ErrorBody),
        (status = 404, description = "`not-found`: an unknown namespace.", body = ErrorBody),
        (status = 409, description = "`name-already-registered`.", body = ErrorBody),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing or unknown field, or a wrong type.", body = ErrorBody),
    ),
)]
async fn register(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Auth(principal): Auth,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
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
            Denied::NotListed | Denied::NotYourPackage => ApiError::forbidden(
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
    Ok(Json(RegisterResponse { id: package.id }))
}

/// The packages of this namespace that the token's account publishes, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/{namespace}",
    tag = "publisher",
    operation_id = "list-packages",
    params(("namespace" = NamespaceName, Path, description = "`snap` or `charm`.")),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The account's packages.", body = PackageList),
        (status = 400, description = "`invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`not-found`: an unknown namespace.", body = ErrorBody),
    ),
)]
async fn list_names(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    Auth(principal): Auth,
) -> ApiResult<Json<PackageList>> {
    let namespace = parse_namespace(&namespace)?;
    let catalog = state.catalog.snapshot();
    let mut mine: Vec<&Arc<PackageState>> = catalog
        .packages()
        .filter(|s| {
            s.package.namespace == namespace && s.package.publisher.id == principal.account.id
        })
        .collect();
    mine.sort_by(|a, b| a.package.name.cmp(&b.package.name));
    Ok(Json(PackageList {
        results: mine.iter().map(|s| registered_name(s)).collect(),
    }))
}

/// A package's metadata.
///
/// Any valid token may read a public package; a private one only its publisher's tokens (and
/// `admin` tokens).
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}",
    tag = "publisher",
    operation_id = "package-metadata",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The package.", body = PackageMetadata),
        (status = 400, description = "`invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`package-not-found` (also for someone else's private package); `not-found`: an unknown namespace.", body = ErrorBody),
    ),
)]
async fn metadata(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<PackageMetadata>> {
    let namespace = parse_namespace(&namespace)?;
    let found = find_package(&state, namespace, &name).await?;
    if !super::snaps::can_see(&found, Some(&principal)) {
        return Err(not_registered(namespace, &name));
    }
    Ok(Json(PackageMetadata {
        metadata: registered_name(&found),
    }))
}

/// Changes to a package's metadata: every field is optional; those sent replace the stored
/// ones, and an absent or `null` field is left as it is.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schema(rename_all = "kebab-case")]
pub struct MetadataPatch {
    #[schema(max_length = 40)]
    pub title: Option<String>,
    #[schema(max_length = 128)]
    pub summary: Option<String>,
    #[schema(max_length = 8192)]
    pub description: Option<String>,
    #[schema(max_length = 256)]
    pub license: Option<String>,
    #[schema(max_length = 1024)]
    pub website: Option<String>,
    #[schema(max_length = 1024)]
    pub contact: Option<String>,
    /// At most 20 names of letters, digits, `-` and `_`.
    #[schema(max_items = 20)]
    pub categories: Option<Vec<String>>,
    /// The track requests without a track resolve on; it must exist.
    #[schema(example = "2.0")]
    pub default_track: Option<String>,
}

/// The same text rules a pushed artifact's metadata follows ([`inspect::fields`]): bounded,
/// no control characters, one line but for the description.
fn check_text(field: &str, value: &Option<String>, max: usize) -> ApiResult<()> {
    let Some(value) = value else {
        return Ok(());
    };
    let checked = if field == "description" {
        inspect::fields::text(field, value, max)
    } else {
        inspect::fields::line(field, value, max)
    };
    checked.map_err(|message| ApiError::bad_request("invalid-metadata", message))
}

/// Updates a package's metadata (title, summary, description, links, categories, default
/// track).
#[utoipa::path(
    patch,
    path = "/v1/{namespace}/{name}",
    tag = "publisher",
    operation_id = "update-package-metadata",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    request_body(content = MetadataPatch, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The package as it now is.", body = PackageMetadata),
        (status = 400, description = "`invalid-metadata`, `track-not-found`; `invalid-json`; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-manage`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a wrong type or an unknown field.", body = ErrorBody),
    ),
)]
async fn update_metadata(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(patch): Json<MetadataPatch>,
) -> ApiResult<Json<PackageMetadata>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageManage).await?;
    check_text("title", &patch.title, 40)?;
    check_text("summary", &patch.summary, 128)?;
    check_text("description", &patch.description, 8192)?;
    check_text("license", &patch.license, 256)?;
    check_text("website", &patch.website, 1024)?;
    check_text("contact", &patch.contact, 1024)?;
    if let Some(categories) = &patch.categories {
        let valid = |c: &String| {
            !c.is_empty()
                && c.len() <= 64
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        };
        if categories.len() > 20 || !categories.iter().all(valid) {
            return Err(ApiError::bad_request(
                "invalid-metadata",
                "categories: at most 20 names of letters, digits, '-' and '_' (64 characters each)",
            ));
        }
    }
    // Category names are lower case (as the Snap Store's, and as `admin import` files them),
    // so that a filter and the listing of categories agree with what `info` shows.
    let categories = patch.categories.map(|list| {
        let mut seen = std::collections::HashSet::new();
        list.into_iter()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| seen.insert(c.clone()))
            .collect()
    });
    let update = crate::store::MetadataUpdate {
        title: patch.title,
        summary: patch.summary,
        description: patch.description,
        license: patch.license,
        website: patch.website,
        contact: patch.contact,
        categories,
        default_track: patch.default_track,
    };
    let seq = state
        .store
        .update_metadata(&found.package.id, update)
        .await?;
    state.settle(seq).await;
    let updated = find_package(&state, found.package.namespace, &found.package.name).await?;
    Ok(Json(PackageMetadata {
        metadata: registered_name(&updated),
    }))
}

/// Stores an artifact's bytes and returns an upload id to push.
///
/// Nothing is inspected yet. A token is optional; if sent it must be valid, and its account is
/// recorded as the uploader.
#[utoipa::path(
    post,
    path = "/unscanned-upload/",
    tag = "publisher",
    operation_id = "upload",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The file is stored.", body = UploadResponse),
        (status = 400, description = "`missing-binary`: no `binary` field; `invalid-multipart`: the body is malformed or cut short.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 413, description = "`artifact-too-large`: the file is larger than `max_upload_size`.", body = ErrorBody),
        (status = 415, description = "`invalid-multipart`: the request is not `Content-Type: multipart/form-data`.", body = ErrorBody),
    ),
)]
async fn upload(
    State(state): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    headers: axum::http::HeaderMap,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Json<UploadResponse>> {
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
        return Ok(Json(UploadResponse {
            successful: true,
            upload_id: id,
        }));
    }
    Err(ApiError::bad_request(
        "missing-binary",
        "send the artifact as the multipart/form-data field `binary`",
    ))
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

/// Turns an upload into the package's next revision.
///
/// The artifact is inspected: its kind must match the namespace and the name in its metadata must
/// be `{name}`.
#[utoipa::path(
    post,
    path = "/v1/{namespace}/{name}/revisions",
    tag = "publisher",
    operation_id = "push-revision",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    request_body(content = PushRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The new revision.", body = PushResponse),
        (status = 400, description = "`artifact-type-mismatch`, `name-mismatch`; inspection: `invalid-artifact`, `missing-metadata`, `malformed-metadata`, `metadata-too-large`, `archive-too-many-entries`, `archive-too-large`, `path-traversal`, `unsafe-entry`, `inspect-io-error`; `invalid-json`; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-upload`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `upload-not-found`, `blob-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 409, description = "`upload-already-pushed`.", body = ErrorBody),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing field, or a wrong type.", body = ErrorBody),
    ),
)]
async fn push_revision(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(body): Json<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
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
    Ok(Json(PushResponse {
        status_url: format!(
            "/v1/{}/{}/revisions/review?upload-id={}",
            package.namespace, package.name, upload.id
        ),
        revision: revision.revision,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReviewQuery {
    /// The upload id that was pushed.
    #[serde(rename = "upload-id")]
    upload_id: String,
}

/// Review status of a pushed upload.
///
/// depot accepts or rejects an artifact during the push itself, so a pushed upload is always
/// `approved`.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/revisions/review",
    tag = "publisher",
    operation_id = "review-status",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
        ReviewQuery,
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revision made from the upload.", body = ReviewResponse),
        (status = 400, description = "`invalid-query`: `upload-id` is missing; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-upload`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `upload-not-found`: the upload was not pushed to this package; `not-found`: an unknown namespace.", body = ErrorBody),
    ),
)]
async fn review_status(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Query(query): Query<ReviewQuery>,
) -> ApiResult<Json<ReviewResponse>> {
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
    Ok(Json(ReviewResponse {
        revisions: vec![ReviewView {
            upload_id: upload.id,
            revision: upload.revision,
            status: "approved",
            errors: (),
        }],
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RevisionsQuery {
    /// Only this revision (an empty list if it does not exist).
    #[param(nullable = false, maximum = 4294967295.0)]
    revision: Option<u32>,
}

/// The package's revisions, newest first.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/revisions",
    tag = "publisher",
    operation_id = "list-revisions",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
        RevisionsQuery,
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revisions.", body = RevisionList),
        (status = 400, description = "`invalid-query`: `revision` is not a number; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-upload`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
    ),
)]
async fn list_revisions(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Query(query): Query<RevisionsQuery>,
) -> ApiResult<Json<RevisionList>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let revisions: Vec<RevisionView> = found
        .revisions
        .iter()
        .rev()
        .filter(|r| query.revision.is_none_or(|n| r.revision == n))
        .map(|r| revision_view(&found, r))
        .collect();
    Ok(Json(RevisionList { revisions }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadsQuery {
    /// How many days back, today included (1 to 365; default 30).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DownloadsView {
    /// Downloads in the period.
    pub total: u64,
    /// The first day of the period (`YYYY-MM-DD`, UTC).
    pub since: String,
    /// Downloads by day and channel (`""`: a URL that named no channel), oldest first.
    #[serde(rename = "by-day")]
    pub by_day: Vec<DownloadsDay>,
}

#[derive(Serialize, ToSchema)]
pub struct DownloadsDay {
    pub day: String,
    pub channel: String,
    pub count: u64,
}

/// How often the package was downloaded, by day and channel. Counts reach the database every
/// `download_flush_interval_secs`, so the last minute or so may not show yet.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/downloads",
    tag = "publisher",
    operation_id = "package-downloads",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
        DownloadsQuery,
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The counts.", body = DownloadsView),
        (status = 400, description = "`invalid-query`: `days` is not 1 to 365; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-upload`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 503, description = "`database-unavailable`.", body = ErrorBody),
    ),
)]
async fn package_downloads(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Query(query): Query<DownloadsQuery>,
) -> ApiResult<Json<DownloadsView>> {
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("days must be 1 to 365, not {days}"),
        ));
    }
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let since =
        crate::downloads::day(chrono::Utc::now() - chrono::Duration::days(i64::from(days) - 1));
    let rows = state
        .store
        .package_downloads(&found.package.id, &since)
        .await?;
    Ok(Json(DownloadsView {
        total: rows.iter().map(|r| r.count).sum(),
        since,
        by_day: rows
            .into_iter()
            .map(|r| DownloadsDay {
                day: r.day,
                channel: r.channel,
                count: r.count,
            })
            .collect(),
    }))
}

fn base_of_platform(platform: &str) -> Option<BaseView> {
    let (name, channel, architecture) = crate::store::split_platform(platform)?;
    Some(BaseView {
        name: name.to_string(),
        channel: channel.to_string(),
        architecture: architecture.to_string(),
    })
}

pub(crate) fn releases_view(state: &PackageState) -> ReleasesResponse {
    let now = chrono::Utc::now();
    let snap = state.package.namespace == Namespace::Snap;
    let mut entries: Vec<&crate::store::Release> = state
        .releases
        .iter()
        .filter(|r| r.expires_at.is_none_or(|t| t > now))
        .collect();
    entries.sort_by(|a, b| (&a.channel, &a.platform).cmp(&(&b.channel, &b.platform)));
    let channel_map: Vec<ReleaseView> = entries
        .iter()
        .map(|r| ReleaseView {
            channel: r.channel.full(),
            revision: r.revision,
            architecture: snap.then(|| r.platform.clone()),
            base: if snap {
                None
            } else {
                base_of_platform(&r.platform)
            },
            resources: [],
            expiration_date: r.expires_at.map(time),
            progressive: ProgressiveView {
                paused: (),
                percentage: r.progressive_percentage,
            },
            when: time(r.released_at),
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
    let revisions: Vec<RevisionView> = state
        .revisions
        .iter()
        .filter(|r| released.contains(&r.revision))
        .map(|r| revision_view(state, r))
        .collect();
    ReleasesResponse {
        channel_map,
        package: ReleasesPackage { channels },
        revisions,
    }
}

pub(crate) fn risk_name(risk: Risk) -> RiskName {
    match risk {
        Risk::Stable => RiskName::Stable,
        Risk::Candidate => RiskName::Candidate,
        Risk::Beta => RiskName::Beta,
        Risk::Edge => RiskName::Edge,
    }
}

fn channel_view(channel: &Channel) -> ChannelView {
    ChannelView {
        name: channel.full(),
        track: channel.track.clone(),
        risk: risk_name(channel.risk),
        branch: channel.branch.clone(),
        fallback: fallback(channel).map(|c| c.full()),
    }
}

/// The current channel map as released (without followed risks), the package's channels, and
/// the released revisions.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/releases",
    tag = "publisher",
    operation_id = "list-releases",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The channel map.", body = ReleasesResponse),
        (status = 400, description = "`invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-release`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
    ),
)]
async fn list_releases(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<ReleasesResponse>> {
    let found =
        authorized_package(&state, &principal, &namespace, &name, Scope::PackageRelease).await?;
    Ok(Json(releases_view(&found)))
}

/// Releases revisions to channels and closes channels.
///
/// All items apply in one transaction, or none does.
#[utoipa::path(
    post,
    path = "/v1/{namespace}/{name}/releases",
    tag = "publisher",
    operation_id = "release",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    request_body(content = ReleasesRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "What was released and closed.", body = ReleaseResponse),
        (status = 400, description = "`invalid-request` (not 1 to 100 items), `invalid-channel`, `invalid-progressive`, `track-not-found`, `revision-not-found`; `invalid-json`; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-release`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing field, a wrong type or an unknown field.", body = ErrorBody),
    ),
)]
async fn release(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(ReleasesRequest(body)): Json<ReleasesRequest>,
) -> ApiResult<Json<ReleaseResponse>> {
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
        if item
            .progressive
            .as_ref()
            .is_some_and(|p| p.paused == Some(true))
        {
            return Err(ApiError::bad_request(
                "invalid-progressive",
                "pausing a progressive release is not supported: release again with the percentage you want",
            ));
        }
        let percentage = item.progressive.and_then(|p| p.percentage);
        if let Some(p) = percentage
            && (!(0.0..=100.0).contains(&p) || p.is_nan())
        {
            return Err(ApiError::bad_request(
                "invalid-progressive",
                format!("progressive percentage {p} must be between 0 and 100"),
            ));
        }
        let resources = item
            .resources
            .iter()
            .map(|r| {
                let name = r.get("name").and_then(serde_json::Value::as_str);
                let revision = r
                    .get("revision")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok());
                match (name, revision) {
                    (Some(name), Some(revision)) => Ok((name.to_string(), revision)),
                    _ => Err(ApiError::bad_request(
                        "invalid-resource",
                        format!("a released resource is {{\"name\": …, \"revision\": N}}, not {r}"),
                    )),
                }
            })
            .collect::<ApiResult<Vec<_>>>()?;
        items.push(ReleaseItem {
            channel,
            revision: item.revision,
            progressive_percentage: percentage,
            resources,
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
    Ok(Json(ReleaseResponse {
        released: released
            .iter()
            .map(|r| ReleasedView {
                channel: r.channel.full(),
                revision: r.revision,
                expiration_date: r.expires_at.map(time),
            })
            .collect(),
    }))
}

/// Creates tracks.
///
/// Tracks that already exist are skipped and not counted.
#[utoipa::path(
    post,
    path = "/v1/{namespace}/{name}/tracks",
    tag = "publisher",
    operation_id = "create-tracks",
    params(
        ("namespace" = NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
    ),
    request_body(content = TracksRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "How many tracks were created.", body = TracksResponse),
        (status = 400, description = "`invalid-request` (not 1 to 100 items, a phasing percentage outside 0 to 100, a version pattern over 128 characters), `invalid-track-name`; `invalid-json`; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token lacks `package-manage`, or may not touch this package.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing field, a wrong type or an unknown field.", body = ErrorBody),
    ),
)]
async fn create_tracks(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(TracksRequest(body)): Json<TracksRequest>,
) -> ApiResult<Json<TracksResponse>> {
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
        if let Some(p) = t.automatic_phasing_percentage
            && !(0.0..=100.0).contains(&p)
        {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!(
                    "track {}: automatic-phasing-percentage {p} must be between 0 and 100",
                    t.name
                ),
            ));
        }
        if let Some(pattern) = &t.version_pattern
            && (pattern.chars().count() > 128 || pattern.chars().any(char::is_control))
        {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!(
                    "track {}: version-pattern must be at most 128 characters, without control characters",
                    t.name
                ),
            ));
        }
        tracks.push(NewTrack {
            name: t.name,
            version_pattern: t.version_pattern,
            automatic_phasing_percentage: t.automatic_phasing_percentage,
        });
    }
    let (created, seq) = state.store.create_tracks(&found.package.id, tracks).await?;
    state.settle(seq).await;
    Ok(Json(TracksResponse {
        num_tracks_created: created,
    }))
}
