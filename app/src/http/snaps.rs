//! The Snap Store device API (what snapd calls), served from the catalog snapshot.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path, Query};
use super::schema::{CategoriesResponse, ErrorBody, SnapInfo};
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::auth::Principal;
use crate::catalog::channel_map::{PlatformFilter, effective};
use crate::domain::Namespace;
use crate::store::{PackageState, Release, Revision};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(categories))
}

/// Snap-level fields of snapd's `storeSnap`.
pub(crate) const SNAP_FIELDS: &[&str] = &[
    "categories",
    "common-ids",
    "contact",
    "description",
    "license",
    "links",
    "media",
    "name",
    "prices",
    "private",
    "publisher",
    "snap-id",
    "store-url",
    "summary",
    "title",
    "website",
];

/// Revision-level fields of snapd's `storeSnap`.
pub(crate) const REVISION_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "confinement",
    "created-at",
    "download",
    "epoch",
    "grade",
    "revision",
    "snap-yaml",
    "type",
    "version",
];

/// Fields sent when the client names none (snapd's info fields).
const DEFAULT_REVISION_FIELDS: &[&str] = &[
    "architectures",
    "base",
    "confinement",
    "created-at",
    "download",
    "epoch",
    "revision",
    "type",
    "version",
];

pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// May `principal` see a private package?
pub(crate) fn can_see(state: &PackageState, principal: Option<&Principal>) -> bool {
    !state.package.private
        || principal.is_some_and(|p| p.is_admin() || p.account.id == state.package.publisher.id)
}

pub(crate) fn download_url(app: &AppState, state: &PackageState, revision: u32) -> String {
    let ns = state.package.namespace;
    format!(
        "{}/api/v1/{}/download/{}_{}.{}",
        app.public_url,
        ns.plural(),
        state.package.id,
        revision,
        ns.file_extension()
    )
}

pub(crate) fn snap_level(state: &PackageState) -> Map<String, Value> {
    let p = &state.package;
    let mut m = Map::new();
    m.insert(
        "categories".into(),
        json!(
            p.categories
                .iter()
                .map(|c| json!({"featured": false, "name": c}))
                .collect::<Vec<_>>()
        ),
    );
    m.insert("common-ids".into(), json!([]));
    m.insert("contact".into(), json!(p.contact));
    m.insert("description".into(), json!(p.description));
    m.insert("license".into(), json!(p.license));
    m.insert("links".into(), json!({}));
    m.insert("media".into(), json!([]));
    m.insert("name".into(), json!(p.name));
    m.insert("prices".into(), json!({}));
    m.insert("private".into(), json!(p.private));
    m.insert(
        "publisher".into(),
        json!({"id": p.publisher.id, "username": p.publisher.username, "display-name": p.publisher.display_name, "validation": "unproven"}),
    );
    m.insert("snap-id".into(), json!(p.id));
    m.insert("store-url".into(), json!(""));
    m.insert("summary".into(), json!(p.summary));
    m.insert(
        "title".into(),
        json!(if p.title.is_empty() {
            &p.name
        } else {
            &p.title
        }),
    );
    m.insert("website".into(), json!(p.website));
    m
}

pub(crate) fn revision_level(
    app: &AppState,
    state: &PackageState,
    r: &Revision,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("architectures".into(), json!(r.architectures));
    m.insert("base".into(), json!(r.base));
    m.insert("confinement".into(), json!(r.confinement));
    m.insert("created-at".into(), json!(time(r.created_at)));
    m.insert(
        "download".into(),
        json!({"url": download_url(app, state, r.revision), "sha3-384": r.sha3_384, "size": r.size, "deltas": []}),
    );
    m.insert("epoch".into(), json!(r.epoch));
    m.insert("grade".into(), json!(r.grade));
    m.insert("revision".into(), json!(r.revision));
    m.insert(
        "snap-yaml".into(),
        r.metadata.get("snap-yaml").cloned().unwrap_or(Value::Null),
    );
    m.insert("type".into(), json!(r.kind));
    m.insert("version".into(), json!(r.version));
    m
}

fn select(mut m: Map<String, Value>, keep: &dyn Fn(&str) -> bool) -> Map<String, Value> {
    m.retain(|k, _| keep(k));
    m
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

fn channel_json(channel: &crate::domain::Channel, architecture: &str, release: &Release) -> Value {
    let mut c = json!({
        "architecture": architecture,
        "name": channel.short(),
        "risk": channel.risk.as_str(),
        "track": channel.track,
        "released-at": time(release.released_at),
    });
    if let Some(expires) = release.expires_at.filter(|_| channel.branch.is_some()) {
        c["branch"] = json!(channel.branch);
        c["expiration-date"] = json!(time(expires));
    }
    c
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
        (status = 400, description = "`invalid-query`, `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`snap-not-found`: no such snap, or a private one the caller may not see.", body = ErrorBody),
    ),
)]
async fn info(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<InfoQuery>,
    headers: HeaderMap,
    MaybeAuth(principal): MaybeAuth,
) -> ApiResult<Json<Value>> {
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get(Namespace::Snap, &name)
        .filter(|s| can_see(s, principal.as_ref()))
        .ok_or_else(|| {
            ApiError::not_found(
                "snap-not-found",
                format!("No snap named '{name}' found in series '16'."),
            )
        })?;
    let requested: Option<Vec<String>> = query.fields.as_deref().map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let wants = |field: &str, default: bool| match &requested {
        Some(list) => list.iter().any(|f| f == field),
        None => default,
    };
    let architecture = query.architecture.clone().or_else(|| {
        headers
            .get("snap-device-architecture")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let accepts_arch;
    let filter = match &architecture {
        Some(arch) => {
            let arch = arch.clone();
            accepts_arch = move |p: &str| p == arch || p == "all";
            PlatformFilter::Only {
                shown_as: architecture.clone().unwrap_or_default(),
                accepts: &accepts_arch,
            }
        }
        None => PlatformFilter::All,
    };
    let now = chrono::Utc::now().timestamp();
    let snap = select(snap_level(state), &|k| {
        SNAP_FIELDS.contains(&k) && wants(k, true)
    });
    let channel_map: Vec<Value> = effective(state, &filter, now)
        .into_iter()
        .filter_map(|line| {
            let revision = state
                .revisions
                .iter()
                .find(|r| r.revision == line.release.revision)?;
            let mut entry = select(revision_level(&app, state, revision), &|k| {
                REVISION_FIELDS.contains(&k) && wants(k, DEFAULT_REVISION_FIELDS.contains(&k))
            });
            entry.insert(
                "channel".into(),
                channel_json(&line.channel, &line.platform, line.release),
            );
            Some(Value::Object(entry))
        })
        .collect();
    if channel_map.is_empty() {
        // As the Snap Store: a name with nothing released (for this architecture) is not found.
        return Err(ApiError::not_found(
            "snap-not-found",
            format!("No snap named '{name}' found in series '16'."),
        ));
    }
    Ok(Json(json!({
        "name": state.package.name,
        "snap-id": state.package.id,
        "snap": snap,
        "channel-map": channel_map,
    })))
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
