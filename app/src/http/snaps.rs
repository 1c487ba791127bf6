//! The Snap Store device API (what snapd calls), served from the catalog snapshot.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path, Query, device_architecture};
use super::render::{
    ChannelEntry, DownloadUrl, Field, Fields, SnapObject, Time, raw_json_response,
};
use super::schema::{CategoriesResponse, ErrorBody, SnapInfo};
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::auth::Principal;
use crate::catalog::channel_map::{PlatformFilter, effective};
use crate::domain::Namespace;
use crate::store::{PackageState, RenderKey};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(categories))
}

/// Revision-level fields sent when the client names none (snapd's info fields).
const DEFAULT_REVISION_FIELDS: Fields = Fields::of(&[
    Field::Architectures,
    Field::Base,
    Field::Confinement,
    Field::CreatedAt,
    Field::Download,
    Field::Epoch,
    Field::Revision,
    Field::Type,
    Field::Version,
]);

/// A time as the Snap Store writes it (RFC 3339, microseconds, `Z`).
pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    Time(t).to_string()
}

/// May `principal` see a private package?
pub(crate) fn can_see(state: &PackageState, principal: Option<&Principal>) -> bool {
    !state.package.private || is_publisher(state, principal)
}

/// Whether the caller publishes the package (or is an admin), with a token that may act on
/// it: it may have any revision, released or not.
pub(crate) fn is_publisher(state: &PackageState, principal: Option<&Principal>) -> bool {
    principal.is_some_and(|p| p.publishes(&state.package))
}

pub(crate) fn download_url(app: &AppState, state: &PackageState, revision: u32) -> String {
    DownloadUrl {
        public_url: &app.public_url,
        state,
        revision,
        channel: None,
    }
    .to_string()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InfoQuery {
    /// Comma-separated names of the snap-level and revision-level fields to return. Without
    /// it: every snap-level field, and every revision-level field but `grade` and `snap-yaml`.
    #[param(nullable = false, example = "title,summary,revision,version,download")]
    fields: Option<String>,
    /// Only channel-map entries that serve this architecture (releases for it or for `all`),
    /// shown as this architecture.
    #[param(nullable = false, example = "amd64")]
    architecture: Option<String>,
}

/// The snap and its effective channel map, in the shape snapd reads.
#[utoipa::path(
    get,
    path = "/v2/snaps/info/{name}",
    tag = "snap-store",
    operation_id = "snap-info",
    params(
        ("name" = String, Path, description = "The snap name.", example = "hello-depot"),
        InfoQuery,
        ("snap-device-architecture" = Option<String>, Header, nullable = false, description = "Same as `architecture`, used when the query parameter is absent."),
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The snap.", body = SnapInfo),
        (status = 400, description = "`invalid-query`, `invalid-path`; `invalid-architecture`: the `architecture` parameter or `Snap-Device-Architecture` is not an architecture name.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`snap-not-found`: no such snap, or a private one the caller may not see.", body = ErrorBody),
    ),
)]
async fn info(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<InfoQuery>,
    MaybeAuth(principal): MaybeAuth,
    // Last, and whole: its headers are read where they are (the `HeaderMap` extractor copies
    // them all).
    request: axum::extract::Request,
) -> ApiResult<Response> {
    // As the Snap Store: a name with nothing released (for this architecture) is not found
    // either.
    let not_found = || {
        ApiError::not_found(
            "snap-not-found",
            format!("No snap named '{name}' found in series '16'."),
        )
    };
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get(Namespace::Snap, &name)
        .filter(|s| can_see(s, principal.as_ref()))
        .ok_or_else(not_found)?;
    let fields = match &query.fields {
        Some(list) => Fields::parse(list.split(',')),
        None => Fields::SNAP_LEVEL.or(DEFAULT_REVISION_FIELDS),
    };
    let architecture = device_architecture(query.architecture.as_deref(), request.headers())?;
    let accepts_arch;
    let filter = match architecture {
        Some(arch) => {
            accepts_arch = move |p: &str| p == arch || p == "all";
            PlatformFilter::Only {
                shown_as: arch.to_string(),
                accepts: &accepts_arch,
            }
        }
        None => PlatformFilter::All,
    };
    let render = || -> ApiResult<Box<RawValue>> {
        let now = chrono::Utc::now().timestamp();
        let lines = effective(state, &filter, now);
        let channel_map: Vec<SnapObject> = lines
            .iter()
            .filter_map(|line| {
                let i = state
                    .revisions
                    .binary_search_by_key(&line.release.revision, |r| r.revision)
                    .ok()?;
                Some(SnapObject::revision(
                    &app.public_url,
                    state,
                    &state.revisions[i],
                    fields,
                    ChannelEntry::Release {
                        channel: &line.channel,
                        architecture: &line.platform,
                        release: line.release,
                    },
                ))
            })
            .collect();
        if channel_map.is_empty() {
            return Err(not_found());
        }
        let answer = InfoAnswer {
            name: &state.package.name,
            snap_id: &state.package.id,
            snap: SnapObject::package(&app.public_url, state, fields),
            channel_map,
        };
        serde_json::value::to_raw_value(&answer)
            .map_err(|e| ApiError::internal(format!("cannot write the answer: {e}")))
    };
    // The answer is kept with the package state, unless a release in it expires (then the
    // channel map changes with time, and is worked out for each request).
    let answer = if state.releases.iter().any(|r| r.expires_at.is_some()) {
        render()?.into()
    } else {
        let key = RenderKey::Info {
            fields: fields.bits(),
            architecture: architecture.map(str::to_string),
        };
        state.rendered.try_object(key, render)?
    };
    Ok(raw_json_response(answer))
}

/// The body of `info` (its schema is [`SnapInfo`]).
#[derive(Serialize)]
struct InfoAnswer<'a> {
    name: &'a str,
    #[serde(rename = "snap-id")]
    snap_id: &'a str,
    snap: SnapObject<'a>,
    #[serde(rename = "channel-map")]
    channel_map: Vec<SnapObject<'a>>,
}

/// The categories the public snaps are filed under, sorted by name.
#[utoipa::path(
    get,
    path = "/v2/snaps/categories",
    tag = "snap-store",
    operation_id = "snap-categories",
    responses(
        (status = 200, description = "Every category at least one public, released snap is in.", body = CategoriesResponse),
    ),
)]
async fn categories(State(app): State<AppState>) -> Json<Value> {
    let catalog = app.catalog.snapshot();
    let mut names = std::collections::BTreeSet::new();
    for state in catalog.packages() {
        if state.package.namespace == Namespace::Snap
            && !state.package.private
            && !state.releases.is_empty()
        {
            names.extend(state.package.categories.iter().map(String::as_str));
        }
    }
    Json(json!({
        "categories": names.into_iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
    }))
}
