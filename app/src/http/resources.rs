//! Charm resources: the publisher side charmcraft uses (`resources`, `upload-resource`,
//! `resource-revisions`, `set-resource-architectures`), the listing Juju reads, and the
//! downloads. Each resource revision keeps the bases (architectures) it is for.
//!
//! A file resource is uploaded like a charm (`POST /unscanned-upload/`) and pushed to
//! `POST /v1/charm/{name}/resources/{resource}/revisions`, which makes it the resource's next
//! revision. A release of a charm revision names the resource revisions released with it
//! (`resources` in the release request); refresh results carry them. OCI-image resources
//! need a container registry, which depot does not run: pushing one answers
//! `resource-type-not-supported`.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path, Query};
use super::publisher::authorized_package;
use super::schema::{CharmResourceRevisions, ErrorBody};
use super::snaps::{can_see, time};
use super::{ApiError, ApiResult, AppState, Auth, MaybeAuth};
use crate::auth::Scope;
use crate::domain::{ARCHITECTURES, Namespace};
use crate::inspect::CharmResource;
use crate::store::{NewResourceRevision, PackageState, ResourceBase, ResourceRevision};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_resources))
        .routes(routes!(
            list_resource_revisions,
            push_resource_revision,
            update_resource_revisions
        ))
        .routes(routes!(resource_review))
        .routes(routes!(juju_resource_revisions))
        .routes(routes!(download_resource))
}

/// The resources the package's newest revision that declares any declares.
pub(crate) fn declared(state: &PackageState) -> Vec<CharmResource> {
    state
        .revisions
        .iter()
        .rev()
        .find_map(|r| {
            let list: Vec<CharmResource> =
                serde_json::from_value(r.metadata.get("resources")?.clone()).ok()?;
            (!list.is_empty()).then_some(list)
        })
        .unwrap_or_default()
}

/// The resources a given charm revision declares.
pub(crate) fn declared_by(revision: &crate::store::Revision) -> Vec<CharmResource> {
    revision
        .metadata
        .get("resources")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

pub(crate) fn resource_download_url(
    app: &AppState,
    state: &PackageState,
    r: &ResourceRevision,
) -> String {
    format!(
        "{}/api/v1/resources/{}/{}/{}",
        app.public_url, state.package.id, r.name, r.revision
    )
}

/// A resource revision in juju's `ResourceRevision` shape.
pub(crate) fn juju_view(
    app: &AppState,
    state: &PackageState,
    declared: Option<&CharmResource>,
    r: &ResourceRevision,
) -> Value {
    json!({
        "name": r.name,
        "type": r.kind,
        "filename": declared.and_then(|d| d.filename.clone()).unwrap_or_else(|| r.name.clone()),
        "description": declared.and_then(|d| d.description.clone()).unwrap_or_default(),
        "revision": r.revision,
        "download": {
            "url": resource_download_url(app, state, r),
            "size": r.size,
            "hash-sha-256": r.sha256,
            "hash-sha-384": r.sha384,
        },
    })
}

fn charm_only(namespace: &str) -> ApiResult<()> {
    if namespace == Namespace::Charm.as_str() {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "not-found",
            format!("resources exist for charms only (/v1/charm/…), not in {namespace:?}"),
        ))
    }
}

/// `resource-not-found` unless the charm declares `resource` or has revisions of it (one it
/// no longer declares keeps its history).
fn known_resource(found: &PackageState, charm: &str, resource: &str) -> ApiResult<()> {
    let known = declared(found).iter().any(|d| d.name == resource)
        || found.resources.revisions.iter().any(|r| r.name == resource);
    if known {
        Ok(())
    } else {
        Err(resource_not_found(charm, resource))
    }
}

fn resource_not_found(charm: &str, resource: &str) -> ApiError {
    ApiError::not_found(
        "resource-not-found",
        format!("the charm {charm:?} declares no resource {resource:?}"),
    )
}

#[derive(Serialize, ToSchema)]
pub struct ResourceList {
    pub resources: Vec<ResourceListItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceListItem {
    pub name: String,
    /// `file` or `oci-image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The newest revision, or `null` before the first upload.
    pub revision: Option<u32>,
    pub optional: bool,
}

/// The resources the charm declares (in its newest revision that declares any), with the
/// newest revision of each.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/resources",
    tag = "publisher",
    operation_id = "list-resources",
    params(
        ("namespace" = String, Path, description = "`charm`."),
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The resources.", body = ResourceList),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`.", body = ErrorBody),
        (status = 404, description = "`package-not-found`; `not-found`: not the `charm` namespace.", body = ErrorBody),
    ),
)]
async fn list_resources(
    State(app): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<ResourceList>> {
    charm_only(&namespace)?;
    let found =
        authorized_package(&app, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let resources = declared(&found)
        .into_iter()
        .map(|d| ResourceListItem {
            revision: found
                .resources
                .revisions
                .iter()
                .filter(|r| r.name == d.name)
                .map(|r| r.revision)
                .max(),
            name: d.name,
            kind: d.kind,
            optional: false,
        })
        .collect();
    Ok(Json(ResourceList { resources }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PushResourceRequest {
    /// From `POST /unscanned-upload/`.
    pub upload_id: String,
    /// `file` (the default) or `oci-image` (not supported).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// What the revision is for (charmcraft's `upload-resource --arch`); every base and
    /// architecture when absent.
    #[serde(default)]
    #[schema(nullable = false)]
    pub bases: Option<Vec<ResourceBaseRequest>>,
}

/// A base as a request gives it; each field defaults to `all`.
#[derive(Deserialize, ToSchema)]
pub struct ResourceBaseRequest {
    #[serde(default)]
    #[schema(nullable = false, example = "all")]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, example = "all")]
    pub channel: Option<String>,
    /// `all`, or some of `amd64`, `arm64`, `armhf`, `i386`, `ppc64el`, `riscv64`, `s390x`.
    #[serde(default)]
    #[schema(nullable = false, example = json!(["amd64", "arm64"]))]
    pub architectures: Option<Vec<String>>,
}

/// Checks and normalises the bases a request gives: at least one (at most 16); names and
/// channels short text; architectures `all` alone or known ones, each once, sorted.
fn bases_of(given: Vec<ResourceBaseRequest>) -> ApiResult<Vec<ResourceBase>> {
    let invalid = |message: String| ApiError::bad_request("invalid-bases", message);
    if given.is_empty() || given.len() > 16 {
        return Err(invalid(format!(
            "bases must list from 1 to 16 bases, not {}",
            given.len()
        )));
    }
    let text = |value: Option<String>, what: &str| -> ApiResult<String> {
        let value = value.unwrap_or_else(|| "all".into());
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if valid {
            Ok(value)
        } else {
            Err(invalid(format!(
                "a base's {what} must be 1 to 64 letters, digits, '.', '-' or '_', not {value:?}"
            )))
        }
    };
    given
        .into_iter()
        .map(|base| {
            let name = text(base.name, "name")?;
            let channel = text(base.channel, "channel")?;
            let mut architectures = base.architectures.unwrap_or_else(|| vec!["all".into()]);
            if let Some(unknown) = architectures
                .iter()
                .find(|a| *a != "all" && !ARCHITECTURES.contains(&a.as_str()))
            {
                return Err(invalid(format!(
                    "unknown architecture {unknown:?}: use all, or some of {}",
                    ARCHITECTURES.join(", ")
                )));
            }
            architectures.sort();
            architectures.dedup();
            if architectures.is_empty() {
                return Err(invalid(
                    "a base must name at least one architecture (or all)".into(),
                ));
            }
            if architectures.len() > 1 && architectures.iter().any(|a| a == "all") {
                return Err(invalid(
                    "`all` already covers every architecture: give it alone".into(),
                ));
            }
            Ok(ResourceBase {
                name,
                channel,
                architectures,
            })
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct PushResourceResponse {
    /// Where the new resource revision is reported, relative to the API base.
    pub status_url: String,
}

async fn sha512_of(app: &AppState, sha3_384: &str) -> ApiResult<String> {
    let mut blob = app.blobs.get(sha3_384, 0, None).await?;
    let mut hasher = Sha512::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = blob
            .reader
            .read(&mut buf)
            .await
            .map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Makes an upload the next revision of a file resource.
#[utoipa::path(
    post,
    path = "/v1/{namespace}/{name}/resources/{resource}/revisions",
    tag = "publisher",
    operation_id = "push-resource-revision",
    params(
        ("namespace" = String, Path, description = "`charm`."),
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
        ("resource" = String, Path, description = "A resource the charm declares.", example = "data"),
    ),
    request_body(content = PushResourceRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revision was made; its status URL.", body = PushResourceResponse),
        (status = 400, description = "`resource-type-not-supported`: an `oci-image` resource; `invalid-bases`; `invalid-json`.", body = ErrorBody),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: the body is JSON but not a push request.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `resource-not-found`, `upload-not-found`, `blob-not-found`; `not-found`.", body = ErrorBody),
        (status = 409, description = "`upload-already-pushed`.", body = ErrorBody),
    ),
)]
async fn push_resource_revision(
    State(app): State<AppState>,
    Path((namespace, name, resource)): Path<(String, String, String)>,
    Auth(principal): Auth,
    Json(body): Json<PushResourceRequest>,
) -> ApiResult<Json<PushResourceResponse>> {
    charm_only(&namespace)?;
    let found =
        authorized_package(&app, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let declared = declared(&found)
        .into_iter()
        .find(|d| d.name == resource)
        .ok_or_else(|| resource_not_found(&name, &resource))?;
    let kind = body.kind.as_deref().unwrap_or(&declared.kind);
    if kind != "file" || declared.kind != "file" {
        return Err(ApiError::bad_request(
            "resource-type-not-supported",
            format!(
                "resource {resource:?} is of type {:?}; depot stores file resources only (OCI images need a registry)",
                declared.kind
            ),
        ));
    }
    let upload = app.store.upload(&body.upload_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "upload-not-found",
            format!(
                "no upload with id {:?}; upload the file to /unscanned-upload/ first",
                body.upload_id
            ),
        )
    })?;
    let bases = match body.bases {
        Some(given) => bases_of(given)?,
        None => ResourceBase::every(),
    };
    let sha512 = sha512_of(&app, &upload.sha3_384).await?;
    let (revision, seq) = app
        .store
        .push_resource_revision(NewResourceRevision {
            package_id: found.package.id.clone(),
            name: resource.clone(),
            kind: "file".into(),
            upload_id: upload.id.clone(),
            sha512,
            created_by: principal.account.id.clone(),
            bases,
        })
        .await?;
    app.settle(seq).await;
    tracing::info!(charm = %name, resource = %resource, revision = revision.revision, "resource revision pushed");
    Ok(Json(PushResourceResponse {
        status_url: format!(
            "/v1/charm/{name}/resources/{resource}/revisions/review?upload-id={}",
            upload.id
        ),
    }))
}

/// craft-store's `CharmResourceRevision`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ResourceRevisionView {
    pub name: String,
    pub revision: u32,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub size: u64,
    pub sha256: String,
    pub sha384: String,
    pub sha512: String,
    #[serde(rename = "sha3-384")]
    pub sha3_384: String,
    /// What the revision is for: `[{"name": "all", "channel": "all", "architectures":
    /// ["all"]}]` unless its publisher said.
    pub bases: Vec<ResourceBase>,
    /// When its bases were last changed (`set-resource-architectures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, nullable = false)]
    pub updated_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceRevisionList {
    pub revisions: Vec<ResourceRevisionView>,
}

/// The revisions of a resource, newest first.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/resources/{resource}/revisions",
    tag = "publisher",
    operation_id = "list-resource-revisions",
    params(
        ("namespace" = String, Path, description = "`charm`."),
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
        ("resource" = String, Path, description = "The resource.", example = "data"),
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revisions.", body = ResourceRevisionList),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `resource-not-found`; `not-found`.", body = ErrorBody),
    ),
)]
async fn list_resource_revisions(
    State(app): State<AppState>,
    Path((namespace, name, resource)): Path<(String, String, String)>,
    Auth(principal): Auth,
) -> ApiResult<Json<ResourceRevisionList>> {
    charm_only(&namespace)?;
    let found =
        authorized_package(&app, &principal, &namespace, &name, Scope::PackageUpload).await?;
    known_resource(&found, &name, &resource)?;
    let revisions = found
        .resources
        .revisions
        .iter()
        .rev()
        .filter(|r| r.name == resource)
        .map(|r| ResourceRevisionView {
            name: r.name.clone(),
            revision: r.revision,
            kind: r.kind.clone(),
            created_at: time(r.created_at),
            size: r.size,
            sha256: r.sha256.clone(),
            sha384: r.sha384.clone(),
            sha512: r.sha512.clone(),
            sha3_384: r.sha3_384.clone(),
            bases: r.bases.clone(),
            updated_at: r.updated_at.map(time),
        })
        .collect();
    Ok(Json(ResourceRevisionList { revisions }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct UpdateResourceRevisionsRequest {
    /// The revisions to change, each with its new bases (1 to 1000).
    pub resource_revision_updates: Vec<ResourceRevisionUpdate>,
}

#[derive(Deserialize, ToSchema)]
pub struct ResourceRevisionUpdate {
    #[schema(minimum = 1, example = 1)]
    pub revision: u32,
    pub bases: Vec<ResourceBaseRequest>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct UpdateResourceRevisionsResponse {
    pub num_resource_revisions_updated: usize,
}

/// Sets the bases (architectures) of resource revisions: charmcraft's
/// `set-resource-architectures`. All the updates are made, or none.
#[utoipa::path(
    patch,
    path = "/v1/{namespace}/{name}/resources/{resource}/revisions",
    tag = "publisher",
    operation_id = "update-resource-revisions",
    params(
        ("namespace" = String, Path, description = "`charm`."),
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
        ("resource" = String, Path, description = "The resource.", example = "data"),
    ),
    request_body(content = UpdateResourceRevisionsRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revisions were updated; how many.", body = UpdateResourceRevisionsResponse),
        (status = 400, description = "`invalid-request`: no updates, too many, or a revision twice; `invalid-bases`; `resource-revision-not-found`: a revision that was never uploaded; `invalid-json`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `resource-not-found`; `not-found`.", body = ErrorBody),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: the body is JSON but not an update request.", body = ErrorBody),
    ),
)]
async fn update_resource_revisions(
    State(app): State<AppState>,
    Path((namespace, name, resource)): Path<(String, String, String)>,
    Auth(principal): Auth,
    Json(body): Json<UpdateResourceRevisionsRequest>,
) -> ApiResult<Json<UpdateResourceRevisionsResponse>> {
    charm_only(&namespace)?;
    let found =
        authorized_package(&app, &principal, &namespace, &name, Scope::PackageUpload).await?;
    known_resource(&found, &name, &resource)?;
    let updates = body.resource_revision_updates;
    if updates.is_empty() || updates.len() > 1000 {
        return Err(ApiError::bad_request(
            "invalid-request",
            format!(
                "resource-revision-updates must list from 1 to 1000 updates, not {}",
                updates.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(updates.len());
    for update in updates {
        if update.revision == 0 || !seen.insert(update.revision) {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!(
                    "revision {} is not a revision number, or is given twice",
                    update.revision
                ),
            ));
        }
        checked.push((update.revision, bases_of(update.bases)?));
    }
    let (updated, seq) = app
        .store
        .update_resource_bases(&found.package.id, &resource, checked, &principal.account.id)
        .await?;
    app.settle(seq).await;
    tracing::info!(charm = %name, resource = %resource, updated, "resource revision bases set");
    Ok(Json(UpdateResourceRevisionsResponse {
        num_resource_revisions_updated: updated,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReviewQuery {
    /// The upload id that was pushed.
    #[serde(rename = "upload-id")]
    upload_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceReview {
    pub revisions: Vec<ResourceReviewItem>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ResourceReviewItem {
    pub upload_id: String,
    pub revision: u32,
    /// Always `approved`.
    pub status: &'static str,
    /// Always `null`.
    #[schema(value_type = Option<Object>)]
    pub errors: Option<Value>,
}

/// Review status of a pushed resource upload (always `approved`).
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/resources/{resource}/revisions/review",
    tag = "publisher",
    operation_id = "resource-review-status",
    params(
        ("namespace" = String, Path, description = "`charm`."),
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
        ("resource" = String, Path, description = "The resource.", example = "data"),
        ReviewQuery,
    ),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The revision made from the upload.", body = ResourceReview),
        (status = 400, description = "`invalid-query`.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `upload-not-found`: the upload is no revision of this resource; `not-found`.", body = ErrorBody),
    ),
)]
async fn resource_review(
    State(app): State<AppState>,
    Path((namespace, name, resource)): Path<(String, String, String)>,
    Auth(principal): Auth,
    Query(query): Query<ReviewQuery>,
) -> ApiResult<Json<ResourceReview>> {
    charm_only(&namespace)?;
    let found =
        authorized_package(&app, &principal, &namespace, &name, Scope::PackageUpload).await?;
    let revision = found
        .resources
        .revisions
        .iter()
        .find(|r| r.name == resource && r.upload_id == query.upload_id)
        .ok_or_else(|| {
            ApiError::not_found(
                "upload-not-found",
                format!(
                    "upload {:?} is no revision of resource {resource:?}",
                    query.upload_id
                ),
            )
        })?;
    Ok(Json(ResourceReview {
        revisions: vec![ResourceReviewItem {
            upload_id: query.upload_id,
            revision: revision.revision,
            status: "approved",
            errors: None,
        }],
    }))
}

/// The revisions of a charm's resource, in juju's `ResourcesResponse` shape, newest first.
#[utoipa::path(
    get,
    path = "/v2/charms/resources/{charm}/{resource}/revisions",
    tag = "charmhub",
    operation_id = "charm-resource-revisions",
    params(
        ("charm" = String, Path, description = "The charm name.", example = "hello-charm"),
        ("resource" = String, Path, description = "The resource.", example = "data"),
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The revisions.", body = CharmResourceRevisions),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`charm-not-found`, `resource-not-found`.", body = ErrorBody),
    ),
)]
async fn juju_resource_revisions(
    State(app): State<AppState>,
    Path((charm, resource)): Path<(String, String)>,
    MaybeAuth(principal): MaybeAuth,
) -> ApiResult<axum::Json<Value>> {
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get(Namespace::Charm, &charm)
        .filter(|s| can_see(s, principal.as_ref()))
        .ok_or_else(|| {
            ApiError::not_found(
                "charm-not-found",
                format!("No charm named '{charm}' found."),
            )
        })?;
    let declared = declared(state);
    let spec = declared.iter().find(|d| d.name == resource);
    if spec.is_none() && !state.resources.revisions.iter().any(|r| r.name == resource) {
        return Err(resource_not_found(&charm, &resource));
    }
    let revisions: Vec<Value> = state
        .resources
        .revisions
        .iter()
        .rev()
        .filter(|r| r.name == resource)
        .map(|r| juju_view(&app, state, spec, r))
        .collect();
    Ok(axum::Json(json!({ "revisions": revisions })))
}

/// Downloads a resource revision (URLs come from refresh results and the listings), with
/// `Range`, `If-Range` and `If-None-Match` as artifact downloads have them.
#[utoipa::path(
    get,
    path = "/api/v1/resources/{package_id}/{resource}/{revision}",
    tag = "downloads",
    operation_id = "download-resource",
    params(
        ("package_id" = String, Path, description = "The charm id."),
        ("resource" = String, Path, description = "The resource.", example = "data"),
        ("revision" = u32, Path, description = "The resource revision.", minimum = 1),
        ("range" = Option<String>, Header, nullable = false, description = "One byte range, as for artifact downloads.", example = "bytes=0-99"),
        ("if-range" = Option<String>, Header, nullable = false, description = "The file's ETag: the range is served only if it still names this file."),
        ("if-none-match" = Option<String>, Header, nullable = false, description = "ETags (or `*`): `304` when one is the file's."),
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The file.", content_type = "application/octet-stream", body = super::schema::Binary, headers(
            ("content-length" = u64, description = "Bytes in this response."),
            ("accept-ranges" = String, description = "`bytes`."),
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
            ("content-disposition" = String, description = "`attachment; filename=\"{filename}\"`: the file name the charm declares for the resource, else the resource's name."),
        )),
        (status = 206, description = "The requested range (as for artifact downloads).", content_type = "application/octet-stream", body = super::schema::Binary, headers(
            ("content-length" = u64, description = "Bytes in this response."),
            ("content-range" = String, description = "`bytes START-END/SIZE`."),
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
        )),
        (status = 304, description = "`If-None-Match` names the file's ETag.", headers(
            ("etag" = String, description = "The SHA3-384 of the whole file, quoted."),
        )),
        (status = 400, description = "`invalid-path`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`download-not-found`: no such charm (or a private one the caller may not see), or no such resource revision; `blob-not-found`.", body = ErrorBody),
        (status = 416, description = "`range-not-satisfiable`: the range starts at or beyond the end of the file.", body = ErrorBody, headers(
            ("content-range" = String, description = "`bytes */SIZE`."),
        )),
    ),
)]
async fn download_resource(
    State(app): State<AppState>,
    Path((package_id, resource, revision)): Path<(String, String, u32)>,
    MaybeAuth(principal): MaybeAuth,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get_by_id(&package_id)
        .filter(|s| s.package.namespace == Namespace::Charm && can_see(s, principal.as_ref()))
        .ok_or_else(|| {
            ApiError::not_found(
                "download-not-found",
                format!("no charm with id {package_id:?} in this store"),
            )
        })?;
    let r = state.resources.find(&resource, revision).ok_or_else(|| {
        ApiError::not_found(
            "download-not-found",
            format!(
                "the charm {:?} has no revision {revision} of resource {resource:?}",
                state.package.name
            ),
        )
    })?;
    let filename = declared(state)
        .into_iter()
        .find(|d| d.name == resource)
        .and_then(|d| d.filename)
        .unwrap_or_else(|| resource.clone());
    let stored = super::download::StoredFile {
        sha3_384: &r.sha3_384,
        size: r.size,
        filename: &filename,
        package: &state.package.name,
    };
    super::download::serve_file(&app, &method, &headers, stored, || {}).await
}
