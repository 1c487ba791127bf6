//! Charm libraries, as Charmhub serves them to `charmcraft publish-lib`, `fetch-lib`,
//! `fetch-libs` and `list-lib`.
//!
//! A publisher registers a library name under a charm it owns (`POST
//! /v1/charm/libraries/{charm}`, answered with the library id the module declares as `LIBID`;
//! `depot create-lib` does it from the command line), then publishes versions `API.PATCH` of
//! it. Anyone may ask for the newest versions (`POST /v1/charm/libraries/bulk`) and download
//! one (`GET /v1/charm/libraries/{charm}/{library_id}`). Everything read comes from the catalog.

use std::collections::HashSet;
use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path, Query};
use super::publisher::authorized_package;
use super::schema::ErrorBody;
use super::snaps::{can_see, time};
use super::{ApiError, ApiResult, AppState, Auth, MaybeAuth};
use crate::auth::{Principal, Scope};
use crate::catalog::Catalog;
use crate::domain::Namespace;
use crate::domain::library::{self, LibraryError};
use crate::store::{CharmLibrary, LibraryVersion, NewLibrary, NewLibraryVersion, PackageState};

/// The largest library module accepted, in bytes of source.
pub const MAX_LIBRARY_BYTES: usize = 512 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(libraries_bulk))
        .routes(routes!(create_library))
        .routes(routes!(get_library, publish_library))
}

/// A library version as Charmhub describes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LibraryView {
    pub library_id: String,
    pub library_name: String,
    pub charm_name: String,
    pub api: u32,
    pub patch: u32,
    /// SHA-256 (hex) of the module without its `LIBID`, `LIBAPI` and `LIBPATCH` lines.
    pub hash: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The module's source; left out of bulk answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl LibraryView {
    fn new(
        state: &PackageState,
        lib: &CharmLibrary,
        version: &LibraryVersion,
        with_content: bool,
    ) -> Self {
        LibraryView {
            library_id: lib.id.clone(),
            library_name: lib.name.clone(),
            charm_name: state.package.name.clone(),
            api: version.api,
            patch: version.patch,
            hash: version.hash.clone(),
            created_at: time(version.created_at),
            content: with_content.then(|| version.content.to_string()),
        }
    }
}

fn library_not_found(what: impl fmt::Display) -> ApiError {
    ApiError::not_found(
        "library-not-found",
        format!("no library {what} is published"),
    )
}

fn library_error(e: LibraryError) -> ApiError {
    let status = match e {
        LibraryError::InvalidName(_) | LibraryError::ZeroVersion => StatusCode::BAD_REQUEST,
        LibraryError::Exists { .. } | LibraryError::NotConsecutive { .. } => StatusCode::CONFLICT,
    };
    ApiError::new(status, e.code(), e.to_string())
}

/// The charm named `name`, if the caller may see it.
fn visible_charm<'c>(
    catalog: &'c Catalog,
    name: &str,
    principal: Option<&Principal>,
) -> Option<&'c std::sync::Arc<PackageState>> {
    catalog
        .get(Namespace::Charm, name)
        .filter(|s| can_see(s, principal))
}

// ---------------------------------------------------------------------------------------------
// Bulk metadata

/// Which libraries a bulk query is about.
#[derive(Debug, PartialEq)]
pub enum LibrarySelector {
    Id(String),
    Charm {
        charm: String,
        library: Option<String>,
    },
}

/// One item of a bulk query: a library by id, or a charm's libraries (optionally one of them
/// by name); then optionally one API version, and within it one patch.
#[derive(Debug, PartialEq, ToSchema)]
#[schema(as = LibraryQuery)]
pub struct LibraryQuery {
    #[schema(value_type = Object)]
    pub selector: LibrarySelector,
    pub api: Option<u32>,
    pub patch: Option<u32>,
}

/// The wire shape of a [`LibraryQuery`], before the selector is checked.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawLibraryQuery {
    library_id: Option<String>,
    charm_name: Option<String>,
    library_name: Option<String>,
    api: Option<u32>,
    patch: Option<u32>,
}

impl<'de> Deserialize<'de> for LibraryQuery {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = RawLibraryQuery;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with `library-id` or `charm-name`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawLibraryQuery, A::Error> {
                RawLibraryQuery::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        let raw = deserializer.deserialize_map(ObjectOnly)?;
        let selector = match (raw.library_id, raw.charm_name, raw.library_name) {
            (Some(id), None, None) => LibrarySelector::Id(id),
            (None, Some(charm), library) => LibrarySelector::Charm { charm, library },
            (Some(_), _, _) => {
                return Err(de::Error::custom(
                    "give either `library-id` or `charm-name` (with `library-name`), not both",
                ));
            }
            (None, None, _) => {
                return Err(de::Error::custom(
                    "a library query needs `library-id` or `charm-name`",
                ));
            }
        };
        if raw.patch.is_some() && raw.api.is_none() {
            return Err(de::Error::custom("`patch` needs `api`"));
        }
        Ok(LibraryQuery {
            selector,
            api: raw.api,
            patch: raw.patch,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct LibrariesResponse {
    pub libraries: Vec<LibraryView>,
}

/// The versions a query asks for, as (charm, library, version): the newest version of each
/// API, or of the one API asked for, or exactly `API.PATCH`.
fn matches<'c>(
    catalog: &'c Catalog,
    query: &LibraryQuery,
    principal: Option<&Principal>,
) -> Vec<(&'c PackageState, &'c CharmLibrary, &'c LibraryVersion)> {
    let (state, libraries): (&PackageState, Vec<&CharmLibrary>) = match &query.selector {
        LibrarySelector::Id(id) => match catalog.library(id) {
            Some((state, lib)) if can_see(state, principal) => (state, vec![lib]),
            _ => return Vec::new(),
        },
        LibrarySelector::Charm { charm, library } => match visible_charm(catalog, charm, principal)
        {
            Some(state) => (
                state,
                state
                    .libraries
                    .iter()
                    .filter(|l| library.as_ref().is_none_or(|n| &l.name == n))
                    .collect(),
            ),
            None => return Vec::new(),
        },
    };
    let mut out = Vec::new();
    for lib in libraries {
        match (query.api, query.patch) {
            (Some(api), Some(patch)) => out.extend(
                lib.versions
                    .iter()
                    .find(|v| v.api == api && v.patch == patch)
                    .map(|v| (state, lib, v)),
            ),
            (Some(api), None) => out.extend(lib.tip(Some(api)).map(|v| (state, lib, v))),
            (None, _) => out.extend(lib.tips().map(|v| (state, lib, v))),
        }
    }
    out
}

/// The newest versions of the libraries the queries name, without their content.
///
/// Each query names a library by `library-id`, or a charm by `charm-name` (all its libraries,
/// or the one named by `library-name`); with `api`, only that API version's newest patch, with
/// `api` and `patch`, exactly that version. Queries that match nothing add nothing.
#[utoipa::path(
    post,
    path = "/v1/charm/libraries/bulk",
    tag = "publisher",
    operation_id = "charm-libraries-bulk",
    request_body(content = Vec<LibraryQuery>, content_type = "application/json"),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The matching library versions, without content.", body = LibrariesResponse),
        (status = 400, description = "`invalid-json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: not a list of queries of the documented shape.", body = ErrorBody),
    ),
)]
async fn libraries_bulk(
    State(app): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    Json(queries): Json<Vec<LibraryQuery>>,
) -> ApiResult<Json<LibrariesResponse>> {
    let catalog = app.catalog.snapshot();
    let mut seen = HashSet::new();
    let mut libraries = Vec::new();
    for query in &queries {
        for (state, lib, version) in matches(&catalog, query, principal.as_ref()) {
            if seen.insert((&lib.id, version.api, version.patch)) {
                libraries.push(LibraryView::new(state, lib, version, false));
            }
        }
    }
    Ok(Json(LibrariesResponse { libraries }))
}

// ---------------------------------------------------------------------------------------------
// One library

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LibraryVersionParams {
    /// The API version (default: the newest).
    pub api: Option<u32>,
    /// The patch within `api` (default: the newest).
    pub patch: Option<u32>,
}

/// A library version with its content: the newest of the newest API, of API `api`, or
/// exactly `api`.`patch`.
#[utoipa::path(
    get,
    path = "/v1/charm/libraries/{charm}/{library_id}",
    tag = "publisher",
    operation_id = "get-charm-library",
    params(
        ("charm" = String, Path, description = "The charm that publishes the library.", example = "hello-charm"),
        ("library_id" = String, Path, description = "The library id (`LIBID`)."),
        LibraryVersionParams,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The library version, with its content.", body = LibraryView),
        (status = 400, description = "`invalid-query`: `patch` without `api`, or a parameter that is not a number.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`library-not-found`: no such charm, library or version.", body = ErrorBody),
    ),
)]
async fn get_library(
    State(app): State<AppState>,
    Path((charm, library_id)): Path<(String, String)>,
    Query(params): Query<LibraryVersionParams>,
    MaybeAuth(principal): MaybeAuth,
) -> ApiResult<Json<LibraryView>> {
    if params.patch.is_some() && params.api.is_none() {
        return Err(ApiError::bad_request(
            "invalid-query",
            "`patch` needs `api`: ask for ?api=N&patch=M",
        ));
    }
    let catalog = app.catalog.snapshot();
    let not_found = || library_not_found(format_args!("{library_id:?} of charm {charm:?}"));
    let (state, lib) = catalog
        .library(&library_id)
        .filter(|(s, _)| s.package.name == charm && can_see(s, principal.as_ref()))
        .ok_or_else(not_found)?;
    let version = match (params.api, params.patch) {
        (Some(api), Some(patch)) => lib
            .versions
            .iter()
            .find(|v| v.api == api && v.patch == patch),
        (api, _) => lib.tip(api),
    }
    .ok_or_else(|| {
        library_not_found(format_args!(
            "{:?} of charm {charm:?} in version {}.{}",
            lib.name,
            params.api.map_or("*".into(), |a| a.to_string()),
            params.patch.map_or("*".into(), |p| p.to_string()),
        ))
    })?;
    Ok(Json(LibraryView::new(state, lib, version, true)))
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CreateLibraryRequest {
    /// The module name (`[a-z][a-z0-9_]*`).
    #[schema(example = "db")]
    pub library_name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CreateLibraryResponse {
    /// The id the module must declare as `LIBID`.
    pub library_id: String,
}

/// Registers a library name under a charm the caller may upload to and returns its id.
#[utoipa::path(
    post,
    path = "/v1/charm/libraries/{charm}",
    tag = "publisher",
    operation_id = "create-charm-library",
    params(("charm" = String, Path, description = "The charm.", example = "hello-charm")),
    request_body(content = CreateLibraryRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The new library's id.", body = CreateLibraryResponse),
        (status = 400, description = "`invalid-library-name`; `invalid-json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token may not upload to this charm.", body = ErrorBody),
        (status = 404, description = "`package-not-found`: no such charm.", body = ErrorBody),
        (status = 409, description = "`library-already-exists`: the charm has a library of that name.", body = ErrorBody),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: not of the documented shape.", body = ErrorBody),
        (status = 503, description = "`database-unavailable`.", body = ErrorBody),
    ),
)]
async fn create_library(
    State(app): State<AppState>,
    Path(charm): Path<String>,
    Auth(principal): Auth,
    Json(body): Json<CreateLibraryRequest>,
) -> ApiResult<Json<CreateLibraryResponse>> {
    let found = authorized_package(
        &app,
        &principal,
        Namespace::Charm.as_str(),
        &charm,
        Scope::PackageUpload,
    )
    .await?;
    library::validate_name(&body.library_name).map_err(library_error)?;
    let (lib, seq) = app
        .store
        .create_library(NewLibrary {
            package_id: found.package.id.clone(),
            name: body.library_name,
            created_by: principal.account.id.clone(),
        })
        .await?;
    app.settle(seq).await;
    tracing::info!(charm = %charm, library = %lib.name, library_id = %lib.id, "library created");
    Ok(Json(CreateLibraryResponse { library_id: lib.id }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PublishLibraryRequest {
    pub api: u32,
    pub patch: u32,
    /// The module's source. Its `LIBID`, `LIBAPI` and `LIBPATCH` must match the request.
    pub content: String,
    /// SHA-256 (hex) of `content` without its `LIBID`, `LIBAPI` and `LIBPATCH` lines.
    pub hash: String,
}

/// The hash charmcraft computes for a library module.
pub fn content_hash(content: &str) -> String {
    let mut hasher = Sha256::new();
    for part in library::hashed_lines(content) {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Checks that the module says what the request says.
fn check_module(library_id: &str, body: &PublishLibraryRequest) -> ApiResult<()> {
    if body.content.len() > MAX_LIBRARY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "library-too-large",
            format!(
                "the library is {} bytes; the limit is {MAX_LIBRARY_BYTES}",
                body.content.len()
            ),
        ));
    }
    let computed = content_hash(&body.content);
    if computed != body.hash {
        return Err(ApiError::bad_request(
            "library-hash-mismatch",
            format!(
                "the content hashes to {computed}, not {:?} (SHA-256 of the module without its \
                 LIBID, LIBAPI and LIBPATCH lines)",
                body.hash
            ),
        ));
    }
    let declared = library::declared(&body.content);
    let mismatch = |what: &str, declared: String, sent: String| {
        ApiError::bad_request(
            "library-metadata-mismatch",
            format!("the module declares {what} = {declared} but the request says {sent}"),
        )
    };
    let show = |v: Option<String>| v.unwrap_or_else(|| "nothing".into());
    if declared.id.as_deref() != Some(library_id) {
        return Err(mismatch(
            "LIBID",
            show(declared.id.map(|i| format!("{i:?}"))),
            format!("{library_id:?}"),
        ));
    }
    if declared.api != Some(body.api) {
        return Err(mismatch(
            "LIBAPI",
            show(declared.api.map(|v| v.to_string())),
            body.api.to_string(),
        ));
    }
    if declared.patch != Some(body.patch) {
        return Err(mismatch(
            "LIBPATCH",
            show(declared.patch.map(|v| v.to_string())),
            body.patch.to_string(),
        ));
    }
    Ok(())
}

/// Publishes version `api`.`patch` of a library: the patch must be the newest of its API plus
/// one (any patch starts a new API, but not 0.0), and the content must differ from the newest.
#[utoipa::path(
    post,
    path = "/v1/charm/libraries/{charm}/{library_id}",
    tag = "publisher",
    operation_id = "publish-charm-library",
    params(
        ("charm" = String, Path, description = "The charm that publishes the library.", example = "hello-charm"),
        ("library_id" = String, Path, description = "The library id (`LIBID`)."),
    ),
    request_body(content = PublishLibraryRequest, content_type = "application/json"),
    security(("macaroon" = [])),
    responses(
        (status = 200, description = "The published version, with its content.", body = LibraryView),
        (status = 400, description = "`library-hash-mismatch`, `library-metadata-mismatch`, `invalid-library-version`; `invalid-json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`, `invalid-token`, `token-expired`.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 403, description = "`permission-denied`: the token may not upload to this charm.", body = ErrorBody),
        (status = 404, description = "`package-not-found`, `library-not-found`.", body = ErrorBody),
        (status = 409, description = "`library-version-exists`, `library-patch-not-consecutive`, `library-content-unchanged`.", body = ErrorBody),
        (status = 413, description = "`library-too-large`, `body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: not of the documented shape.", body = ErrorBody),
        (status = 503, description = "`database-unavailable`.", body = ErrorBody),
    ),
)]
async fn publish_library(
    State(app): State<AppState>,
    Path((charm, library_id)): Path<(String, String)>,
    Auth(principal): Auth,
    Json(body): Json<PublishLibraryRequest>,
) -> ApiResult<Json<LibraryView>> {
    let found = authorized_package(
        &app,
        &principal,
        Namespace::Charm.as_str(),
        &charm,
        Scope::PackageUpload,
    )
    .await?;
    let lib = found
        .library(&library_id)
        .ok_or_else(|| library_not_found(format_args!("{library_id:?} of charm {charm:?}")))?;
    check_module(&library_id, &body)?;
    if let Some(newest) = lib.tip(Some(body.api))
        && newest.hash == body.hash
        && newest.patch < body.patch
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "library-content-unchanged",
            format!(
                "version {}.{} has the same content; publish when the module changes",
                newest.api, newest.patch
            ),
        ));
    }
    let (version, seq) = app
        .store
        .publish_library_version(NewLibraryVersion {
            package_id: found.package.id.clone(),
            library_id: library_id.clone(),
            api: body.api,
            patch: body.patch,
            content: body.content,
            hash: body.hash,
            created_by: principal.account.id.clone(),
        })
        .await?;
    app.settle(seq).await;
    tracing::info!(charm = %charm, library = %lib.name, api = version.api, patch = version.patch, "library published");
    Ok(Json(LibraryView::new(&found, lib, &version, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(json: &str) -> Result<LibraryQuery, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn queries_are_objects_of_one_selector() {
        assert_eq!(
            query(r#"{"library-id": "abc", "api": 1}"#).unwrap(),
            LibraryQuery {
                selector: LibrarySelector::Id("abc".into()),
                api: Some(1),
                patch: None
            }
        );
        assert_eq!(
            query(r#"{"charm-name": "db", "library-name": "client", "api": 0, "patch": 3}"#)
                .unwrap()
                .selector,
            LibrarySelector::Charm {
                charm: "db".into(),
                library: Some("client".into())
            }
        );
        for bad in [
            r#"["abc"]"#,
            r#""abc""#,
            r#"{}"#,
            r#"{"library-name": "x"}"#,
            r#"{"library-id": "a", "charm-name": "b"}"#,
            r#"{"library-id": "a", "patch": 2}"#,
            r#"{"library-id": "a", "api": -1}"#,
            r#"{"library-id": "a", "colour": "red"}"#,
        ] {
            assert!(query(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_matches_charmcraft() {
        // charmcraft: sha256 over the lines not starting with LIBAPI/LIBPATCH/LIBID.
        let content = "LIBID = \"x\"\nLIBAPI = 0\nLIBPATCH = 1\nprint('hi')\n";
        let expected = hex::encode(Sha256::digest(b"print('hi')\n"));
        assert_eq!(content_hash(content), expected);
    }
}
