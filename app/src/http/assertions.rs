//! `GET /v2/assertions/{type}/{key…}`: the assertions snapd fetches (`store/store_asserts.go`),
//! signed from the catalog snapshot: `account`, `account-key`, `snap-declaration`,
//! `snap-revision`. Answers `application/x.ubuntu.assertion`; anything unknown is
//! `404 {"error-list":[{"code":"not-found",…}]}`, which snapd reads as "not found".

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Path, Query};
use super::schema::ErrorBody;
use super::snaps::can_see;
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::assertions::{MEDIA_TYPE, digest_hex};
use crate::auth::Principal;
use crate::catalog::Catalog;
use crate::domain::Namespace;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assertion))
        .routes(routes!(assertion_two_part_key))
}

/// The assertion types depot signs and serves.
pub const SERVED_TYPES: &[&str] = &[
    "account",
    "account-key",
    "snap-declaration",
    "snap-revision",
];

/// snapd's default (and only) snap-revision provenance, dropped from reduced primary keys.
const DEFAULT_PROVENANCE: &str = "global-upload";

/// Why an assertion cannot be looked up.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// A type depot serves, with a key of the wrong shape.
    BadKey(String),
    NotFound,
}

/// Finds and signs the assertion of `kind` with primary key `key` (reduced as snapd sends it:
/// a trailing default provenance may be absent).
pub fn find(
    app: &AppState,
    catalog: &Catalog,
    principal: Option<&Principal>,
    kind: &str,
    key: &[&str],
) -> Result<Vec<u8>, Lookup> {
    let arity = |min: usize, max: usize| {
        if (min..=max).contains(&key.len()) && key.iter().all(|k| !k.is_empty()) {
            Ok(())
        } else {
            Err(Lookup::BadKey(format!(
                "a {kind} assertion has {} primary key; got {} part(s)",
                if min == max {
                    format!("a {min}-part")
                } else {
                    format!("a {min}- to {max}-part")
                },
                key.len()
            )))
        }
    };
    match kind {
        "account" => {
            arity(1, 1)?;
            if let Some(found) = app.assertions.authority_assertion(kind, key[0]) {
                return Ok(found);
            }
            // A publisher of anything the caller can see.
            catalog
                .packages()
                .filter(|s| s.package.publisher.id == key[0] && can_see(s, principal))
                .map(|s| app.assertions.publisher_account(&s.package.publisher))
                .next()
                .ok_or(Lookup::NotFound)
        }
        "account-key" => {
            arity(1, 1)?;
            app.assertions
                .authority_assertion(kind, key[0])
                .ok_or(Lookup::NotFound)
        }
        "snap-declaration" => {
            arity(2, 2)?;
            if key[0] != "16" {
                return Err(Lookup::NotFound);
            }
            catalog
                .get_by_id(key[1])
                .filter(|s| s.package.namespace == Namespace::Snap && can_see(s, principal))
                .map(|s| app.assertions.snap_declaration(s))
                .ok_or(Lookup::NotFound)
        }
        "snap-revision" => {
            arity(1, 2)?;
            if key.len() == 2 && key[1] != DEFAULT_PROVENANCE {
                return Err(Lookup::NotFound);
            }
            let hex = digest_hex(key[0]).ok_or_else(|| {
                Lookup::BadKey(format!(
                    "{:?} is not a SHA3-384 digest in base64url (64 characters)",
                    key[0]
                ))
            })?;
            catalog
                .packages()
                .filter(|s| s.package.namespace == Namespace::Snap && can_see(s, principal))
                .find_map(|s| {
                    let revision = s.revisions.iter().find(|r| r.sha3_384 == hex)?;
                    app.assertions.snap_revision(s, revision)
                })
                .ok_or(Lookup::NotFound)
        }
        _ => Err(Lookup::NotFound),
    }
}

fn not_found(kind: &str, key: &[&str]) -> ApiError {
    let message = if SERVED_TYPES.contains(&kind) {
        format!("no {kind} assertion with primary key {}", key.join("/"))
    } else {
        format!(
            "depot does not serve {kind:?} assertions (it serves {})",
            SERVED_TYPES.join(", ")
        )
    };
    ApiError::not_found("not-found", message)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub struct AssertionQuery {
    /// The highest format of the type the client understands; depot's assertions are all
    /// format 0.
    #[param(minimum = 0, nullable = false)]
    max_format: Option<u32>,
}

fn answer(
    app: &AppState,
    principal: Option<&Principal>,
    kind: &str,
    key: &[&str],
) -> ApiResult<Response> {
    let catalog = app.catalog.snapshot();
    match find(app, &catalog, principal, kind, key) {
        Ok(body) => {
            let mut response = body.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            Ok(response)
        }
        Err(Lookup::BadKey(message)) => Err(ApiError::bad_request("invalid-primary-key", message)),
        Err(Lookup::NotFound) => Err(not_found(kind, key)),
    }
}

/// An assertion with a one-part primary key: `account/{account-id}`,
/// `account-key/{public-key-sha3-384}`, `snap-revision/{snap-sha3-384}`.
#[utoipa::path(
    get,
    path = "/v2/assertions/{type}/{key}",
    tag = "snap-store",
    operation_id = "assertion",
    params(
        ("type" = String, Path, description = "`account`, `account-key`, `snap-declaration` or `snap-revision`.", example = "snap-revision"),
        ("key" = String, Path, description = "The primary key: an account id, a key's `public-key-sha3-384`, or a snap's SHA3-384 in base64url (what `snap-revision` takes)."),
        AssertionQuery,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The assertion, signed (snapd's format).", content_type = "application/x.ubuntu.assertion", body = String),
        (status = 400, description = "`invalid-primary-key`: the key does not have the type's shape (e.g. not a SHA3-384 for `snap-revision`); `invalid-query`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`not-found`: no such assertion, or a type depot does not serve (snapd's not-found convention).", body = ErrorBody),
    ),
)]
async fn assertion(
    State(app): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    Path((kind, key)): Path<(String, String)>,
    Query(_query): Query<AssertionQuery>,
) -> ApiResult<Response> {
    answer(&app, principal.as_ref(), &kind, &[&key])
}

/// An assertion with a two-part primary key: `snap-declaration/16/{snap-id}`,
/// `snap-revision/{snap-sha3-384}/global-upload`.
#[utoipa::path(
    get,
    path = "/v2/assertions/{type}/{key}/{key2}",
    tag = "snap-store",
    operation_id = "assertion-two-part-key",
    params(
        ("type" = String, Path, description = "`snap-declaration` (or `snap-revision` with its provenance).", example = "snap-declaration"),
        ("key" = String, Path, description = "The first part of the primary key: the series (`16`) of a `snap-declaration`.", example = "16"),
        ("key2" = String, Path, description = "The second part: the snap id, or the provenance `global-upload`."),
        AssertionQuery,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The assertion, signed (snapd's format).", content_type = "application/x.ubuntu.assertion", body = String),
        (status = 400, description = "`invalid-primary-key`: the key does not have the type's shape; `invalid-query`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`not-found`: no such assertion, or a type depot does not serve.", body = ErrorBody),
    ),
)]
async fn assertion_two_part_key(
    State(app): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    Path((kind, key, key2)): Path<(String, String, String)>,
    Query(_query): Query<AssertionQuery>,
) -> ApiResult<Response> {
    answer(&app, principal.as_ref(), &kind, &[&key, &key2])
}
