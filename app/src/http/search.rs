//! Search: `GET /v2/snaps/find` (snapd's shape), `GET /v2/charms/find` (Juju's shape) and the
//! native `GET /v1/search`, all answered by the catalog's [`crate::search::SearchIndex`].

use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Query, architecture_param, device_architecture};
use super::render::{CachedObject, ChannelEntry, Field, Fields, SnapObject, json_response};
use super::schema::ErrorBody;
use super::{ApiError, ApiResult, AppState};
use crate::catalog::channel_map::resolve_for;
use crate::domain::resolve::most_stable;
use crate::domain::{Channel, Namespace};
use crate::inspect::fields::CONFINEMENTS;
use crate::search::snippet::{highlight, query_words};
use crate::search::{MAX_WINDOW, SearchQuery};
use crate::store::{PackageState, Release, RenderKey};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(snaps_find))
        .routes(routes!(charms_find))
        .routes(routes!(search))
        .routes(routes!(related))
}

/// Results of a `find` call.
const FIND_LIMIT: usize = 100;

/// Characters snapd refuses in a query (`store.go`), refused here too.
const BAD_QUERY_CHARS: &str = "+=&|><!(){}[]^\"~*?:\\/";

/// The fields snapd asks `find` for (`FindFields`), used when the client names none.
/// `channel` is asked for too.
const DEFAULT_FIND_FIELDS: Fields = Fields::of(&[
    Field::Base,
    Field::Confinement,
    Field::Links,
    Field::Contact,
    Field::Description,
    Field::Download,
    Field::License,
    Field::Prices,
    Field::Private,
    Field::Publisher,
    Field::Revision,
    Field::Summary,
    Field::Title,
    Field::Type,
    Field::Version,
    Field::Website,
    Field::StoreUrl,
    Field::Media,
    Field::CommonIds,
    Field::Categories,
]);

fn check_text(q: &str, what: &str) -> ApiResult<()> {
    if q.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("`{what}` is longer than 200 characters"),
        ));
    }
    if let Some(c) = q
        .chars()
        .find(|c| BAD_QUERY_CHARS.contains(*c) || c.is_control())
    {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("`{what}` may not contain {c:?}"),
        ));
    }
    Ok(())
}

/// A `confinement` parameter: comma-separated confinements, each one snapd knows.
fn confinements(param: &str) -> ApiResult<Vec<String>> {
    param
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            if CONFINEMENTS.contains(&c) {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(
                    "invalid-query",
                    format!(
                        "unknown confinement {c:?}: `confinement` takes {} (comma-separated)",
                        CONFINEMENTS.join(", ")
                    ),
                ))
            }
        })
        .collect()
}

fn observe(app: &AppState, endpoint: &str, started: Instant) {
    app.metrics
        .search_duration
        .with_label_values(&[endpoint])
        .observe(started.elapsed().as_secs_f64());
}

/// The release a find result shows: the asked channel (on the package's default track when
/// it names only a risk), or the most stable one released on the default track.
fn shown_release<'a>(
    state: &'a PackageState,
    channel: Option<&str>,
    accepts: &dyn Fn(&str) -> bool,
    now: i64,
) -> Option<&'a Release> {
    let track = &state.package.default_track;
    match channel {
        Some(c) => {
            let channel = Channel::parse_with_default_track(c, track).ok()?;
            resolve_for(state, &channel, accepts, now)
        }
        None => most_stable(&state.releases, track, now, |r: &Release| {
            accepts(&r.platform)
        }),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SnapFindQuery {
    /// Words to search names, titles, summaries, descriptions and publishers for.
    #[param(nullable = false, example = "video editor")]
    q: Option<String>,
    /// A name prefix, as snapd's prefix search sends it: `foo` (or `foo*`) finds the snaps
    /// whose names start with `foo`.
    #[param(nullable = false, example = "hello*")]
    name: Option<String>,
    /// Only snaps in this category.
    #[param(nullable = false, example = "productivity")]
    category: Option<String>,
    /// Only snaps released for this architecture (or for `all`).
    #[param(nullable = false, example = "amd64")]
    architecture: Option<String>,
    /// Only snaps released on this channel: a risk on the snap's default track, or
    /// `track/risk`. snapd sends `stable` unless asked for a wide search.
    #[param(nullable = false, example = "stable")]
    channel: Option<String>,
    /// Comma-separated confinements to accept, e.g. `strict,classic`.
    #[param(nullable = false, example = "strict,classic")]
    confinement: Option<String>,
    /// Comma-separated snap-level and revision-level fields to return (default: snapd's
    /// find fields).
    #[param(nullable = false, example = "title,summary,version,revision,channel")]
    fields: Option<String>,
    /// Accepted for snapd compatibility; private snaps are never found.
    #[param(nullable = false)]
    private: Option<bool>,
    /// Accepted for snapd compatibility; depot records no common ids.
    #[serde(rename = "common-id")]
    #[param(rename = "common-id", nullable = false)]
    common_id: Option<String>,
    /// Accepted for snapd compatibility.
    #[param(nullable = false)]
    scope: Option<String>,
}

/// One `find` result in snapd's shape (`storeSearchResult`).
#[derive(Serialize, ToSchema)]
pub struct SnapFindResult {
    pub name: String,
    #[serde(rename = "snap-id")]
    pub snap_id: String,
    /// Snap-level fields of snapd's `storeSnap`, those asked for.
    #[schema(value_type = Object)]
    pub snap: Value,
    /// Revision-level fields of the release shown, those asked for; `channel` is its channel.
    #[schema(value_type = Object)]
    pub revision: Value,
}

#[derive(Serialize, ToSchema)]
pub struct SnapFindResponse {
    pub results: Vec<SnapFindResult>,
    #[serde(rename = "error-list")]
    #[schema(value_type = Vec<Object>)]
    pub error_list: Vec<Value>,
}

/// Searches the public snaps, in the shape snapd reads (`snap find`).
#[utoipa::path(
    get,
    path = "/v2/snaps/find",
    tag = "snap-store",
    operation_id = "snap-find",
    params(
        SnapFindQuery,
        ("snap-device-architecture" = Option<String>, Header, nullable = false, description = "Same as `architecture`, used when the query parameter is absent."),
        ("snap-classic" = Option<String>, Header, nullable = false, description = "`false` (a device that is not a classic system, e.g. Ubuntu Core): classic snaps are left out unless `confinement` is given."),
    ),
    responses(
        (status = 200, description = "The matching snaps, best first (at most 100). Content type exactly `application/json`.", body = SnapFindResponse),
        (status = 400, description = "`invalid-query`: both `q` and `name`, a character snapd refuses (`+=&|><!(){}[]^\"~*?:\\/`), a query longer than 200 characters, or an unknown confinement; `invalid-channel`; `invalid-architecture`.", body = ErrorBody),
    ),
)]
async fn snaps_find(
    State(app): State<AppState>,
    Query(query): Query<SnapFindQuery>,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    let started = Instant::now();
    let _ = (&query.private, &query.common_id, &query.scope);
    if query.q.is_some() && query.name.is_some() {
        return Err(ApiError::bad_request(
            "invalid-query",
            "send either `q` or `name`, not both",
        ));
    }
    let text = query.q.clone().unwrap_or_default();
    check_text(&text, "q")?;
    let mut search = SearchQuery {
        text,
        namespace: Some(Namespace::Snap),
        category: query.category.clone(),
        limit: FIND_LIMIT,
        ..SearchQuery::default()
    };
    // snapd's prefix search (`snap find` with `Prefix`) sends the bare term as `name`; a
    // trailing `*` (the snapd daemon's own notation) is accepted too.
    if let Some(name) = &query.name {
        let prefix = name.strip_suffix('*').unwrap_or(name);
        check_text(prefix, "name")?;
        search.name_prefix = Some(prefix.to_string());
    }
    search.architecture =
        device_architecture(query.architecture.as_deref(), &headers)?.map(str::to_string);
    if let Some(c) = &query.channel {
        Channel::parse(c).map_err(|e| ApiError::bad_request("invalid-channel", e.to_string()))?;
        search.channel = Some(c.clone());
    }
    if let Some(c) = &query.confinement {
        search.confinements = confinements(c)?;
    } else if headers
        .get("snap-classic")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"false"))
    {
        // A device that is not a classic system (Ubuntu Core) cannot install classic snaps.
        search.confinements = vec!["strict".into(), "devmode".into()];
    }
    let (fields, wants_channel) = match &query.fields {
        Some(f) => (
            Fields::parse(f.split(',')),
            f.split(',').any(|f| f.trim() == "channel"),
        ),
        None => (DEFAULT_FIND_FIELDS, true),
    };
    let catalog = app.catalog.snapshot();
    let hits = app
        .catalog
        .search
        .search(&search)
        .map_err(ApiError::internal)?
        .hits;
    let now = chrono::Utc::now().timestamp();
    let arch = search.architecture.clone();
    let accepts = |p: &str| arch.as_deref().is_none_or(|a| p == a || p == "all");
    let mut results = Vec::with_capacity(hits.len());
    for hit in &hits {
        let Some(state) = catalog.get_by_id(&hit.id) else {
            continue;
        };
        if state.package.private {
            continue;
        }
        let Some(release) = shown_release(state, search.channel.as_deref(), &accepts, now) else {
            continue;
        };
        let Ok(i) = state
            .revisions
            .binary_search_by_key(&release.revision, |r| r.revision)
        else {
            continue;
        };
        let entry = wants_channel.then(|| release.channel.short());
        let key = RenderKey::FindResult {
            fields: fields.bits(),
            revision: release.revision,
            entry: entry.clone(),
        };
        // The whole result is kept with the package state: the next query finding this
        // package copies it (see `RenderedJson`).
        results.push(CachedObject::from(state.rendered.object(key, || {
            serde_json::value::to_raw_value(&FindResult {
                name: &state.package.name,
                snap_id: &state.package.id,
                snap: SnapObject::package(&app.public_url, state, fields),
                revision: SnapObject::revision(
                    &app.public_url,
                    state,
                    &state.revisions[i],
                    fields,
                    entry.map_or(ChannelEntry::None, ChannelEntry::Name),
                ),
            })
            .expect("a find result always serialises")
        })));
    }
    // Serialised here, while the catalog snapshot it borrows from is alive.
    let size = 256 + results.iter().map(CachedObject::len).sum::<usize>();
    let response = json_response(
        &FindAnswer {
            results,
            error_list: [(); 0],
        },
        size,
    );
    observe(&app, "snaps_find", started);
    Ok(response)
}

/// The body of snap `find` (its schema is [`SnapFindResponse`]).
#[derive(Serialize)]
struct FindAnswer {
    results: Vec<CachedObject>,
    #[serde(rename = "error-list")]
    error_list: [(); 0],
}

/// One result of `snaps_find`, rendered once and kept (see [`RenderKey::FindResult`]).
#[derive(Serialize)]
struct FindResult<'a> {
    name: &'a str,
    #[serde(rename = "snap-id")]
    snap_id: &'a str,
    snap: SnapObject<'a>,
    revision: SnapObject<'a>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CharmFindQuery {
    /// Words to search for.
    #[param(nullable = false, example = "postgresql")]
    q: Option<String>,
    /// Comma-separated dotted paths to keep, as for `/v2/charms/info` (`type`, `id` and
    /// `name` are always kept). Without it, everything is returned.
    #[param(
        nullable = false,
        example = "result.summary,default-release.revision.version"
    )]
    fields: Option<String>,
    /// Only charms in this category.
    #[param(nullable = false)]
    category: Option<String>,
    /// Only charms released on this channel (`risk` on the default track or `track/risk`).
    #[param(nullable = false, example = "stable")]
    channel: Option<String>,
    /// `charm` (depot stores no bundles: `bundle` finds nothing).
    #[serde(rename = "type")]
    #[param(rename = "type", nullable = false, example = "charm")]
    kind: Option<String>,
    /// Only charms of this publisher (username).
    #[param(nullable = false)]
    publisher: Option<String>,
    /// Only charms released for this architecture.
    #[param(nullable = false, example = "amd64")]
    architecture: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CharmFindResponse {
    /// `{type, id, name, result: {…}, default-release: {channel, revision}}` per charm.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    #[serde(rename = "error-list")]
    #[schema(value_type = Vec<Object>)]
    pub error_list: Vec<Value>,
}

/// Searches the public charms, in the shape Juju reads (`juju find`).
#[utoipa::path(
    get,
    path = "/v2/charms/find",
    tag = "charmhub",
    operation_id = "charm-find",
    params(CharmFindQuery),
    responses(
        (status = 200, description = "The matching charms, best first (at most 100).", body = CharmFindResponse),
        (status = 400, description = "`invalid-query`: a refused character or a query longer than 200 characters; `invalid-channel`; `invalid-architecture`.", body = ErrorBody),
    ),
)]
async fn charms_find(
    State(app): State<AppState>,
    Query(query): Query<CharmFindQuery>,
) -> ApiResult<Json<CharmFindResponse>> {
    let started = Instant::now();
    let text = query.q.clone().unwrap_or_default();
    check_text(&text, "q")?;
    if let Some(c) = &query.channel {
        Channel::parse(c).map_err(|e| ApiError::bad_request("invalid-channel", e.to_string()))?;
    }
    let search = SearchQuery {
        text,
        namespace: Some(Namespace::Charm),
        category: query.category.clone(),
        channel: query.channel.clone(),
        publisher: query.publisher.clone(),
        architecture: architecture_param(query.architecture.as_deref())?.map(str::to_string),
        kind: query.kind.clone(),
        limit: FIND_LIMIT,
        ..SearchQuery::default()
    };
    let hits = app
        .catalog
        .search
        .search(&search)
        .map_err(ApiError::internal)?
        .hits;
    let paths: Option<Vec<Vec<&str>>> = query.fields.as_deref().map(|fields| {
        fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| f.split('.').collect())
            .collect()
    });
    let catalog = app.catalog.snapshot();
    let now = chrono::Utc::now().timestamp();
    let arch = search.architecture.clone();
    let accepts = |p: &str| {
        arch.as_deref()
            .is_none_or(|a| p.rsplit('/').next() == Some(a))
    };
    let mut results = Vec::with_capacity(hits.len());
    for hit in hits {
        let Some(state) = catalog.get_by_id(&hit.id) else {
            continue;
        };
        let p = &state.package;
        let Some(release) = shown_release(state, search.channel.as_deref(), &accepts, now) else {
            continue;
        };
        let Ok(i) = state
            .revisions
            .binary_search_by_key(&release.revision, |r| r.revision)
        else {
            continue;
        };
        let r = &state.revisions[i];
        let base = {
            let mut parts = release.platform.splitn(3, '/');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(name), Some(channel), Some(architecture)) => {
                    json!({"name": name, "channel": channel, "architecture": architecture})
                }
                _ => json!({"name": "NA", "channel": "NA", "architecture": release.platform}),
            }
        };
        let mut body = json!({
            "type": "charm",
            "id": p.id,
            "name": p.name,
            "result": {
                "categories": p.categories.iter().map(|c| json!({"featured": false, "name": c})).collect::<Vec<_>>(),
                "description": p.description,
                "license": p.license,
                "publisher": {"display-name": p.publisher.display_name, "id": p.publisher.id, "username": p.publisher.username},
                "summary": p.summary,
                "title": if p.title.is_empty() { &p.name } else { &p.title },
                "store-url": "",
                "website": p.website,
            },
            "default-release": {
                "channel": {
                    "name": release.channel.full(),
                    "track": release.channel.track,
                    "risk": release.channel.risk.as_str(),
                    "released-at": super::snaps::time(release.released_at),
                    "base": base,
                },
                "revision": {
                    "revision": r.revision,
                    "version": r.version,
                    "created-at": super::snaps::time(r.created_at),
                    "download": {
                        "url": super::snaps::download_url(&app, state, r.revision),
                        "size": r.size,
                        "hash-sha-256": r.sha256,
                        "hash-sha-384": r.sha384,
                        "hash-sha3-384": r.sha3_384,
                    },
                    "bases": r.bases.iter().map(|b| json!({"name": b.name, "channel": b.channel, "architecture": b.architecture})).collect::<Vec<_>>(),
                },
            },
        });
        if let Some(paths) = &paths {
            super::charms::prune(&mut body, paths, &["type", "id", "name"]);
        }
        results.push(body);
    }
    observe(&app, "charms_find", started);
    Ok(Json(CharmFindResponse {
        results,
        error_list: vec![],
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Words to search for; typos and a prefix of the last word are tolerated. Without it,
    /// everything passing the filters, most downloaded first.
    #[param(nullable = false, example = "video editor")]
    q: Option<String>,
    /// `snap` or `charm`.
    #[serde(rename = "type")]
    #[param(rename = "type", nullable = false, value_type = Option<String>, example = "snap")]
    namespace: Option<String>,
    /// Snap type (`app`, `base`, …) or `charm`.
    #[param(nullable = false, example = "app")]
    kind: Option<String>,
    #[param(nullable = false, example = "productivity")]
    category: Option<String>,
    /// Released for this architecture (or for `all`).
    #[param(nullable = false, example = "amd64")]
    architecture: Option<String>,
    /// Released on this channel: a risk on the default track, or `track/risk`.
    #[param(nullable = false, example = "stable")]
    channel: Option<String>,
    /// Comma-separated confinements to accept.
    #[param(nullable = false, example = "strict")]
    confinement: Option<String>,
    /// Publisher username.
    #[param(nullable = false)]
    publisher: Option<String>,
    /// Results per page: 1–100, default 20.
    #[param(nullable = false, minimum = 1, maximum = 100, example = 20)]
    limit: Option<usize>,
    /// The `next-cursor` of the previous page.
    #[param(nullable = false)]
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    #[serde(rename = "type")]
    #[schema(example = "snap")]
    pub namespace: &'static str,
    pub id: String,
    pub name: String,
    pub title: String,
    pub summary: String,
    pub publisher: SearchPublisher,
    pub categories: Vec<String>,
    /// Relevance as ranked (higher is better); comparable within one query only.
    pub score: f32,
    /// `summary` and `description` excerpts with the matching words in `<mark>…</mark>`, the
    /// rest HTML-escaped; a field is absent when nothing in it matched.
    pub highlights: Highlights,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPublisher {
    pub username: String,
    #[serde(rename = "display-name")]
    pub display_name: String,
}

#[derive(Serialize, ToSchema, Default)]
pub struct Highlights {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// Packages matching the query and filters.
    pub total: usize,
    pub results: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; `null` on the last page (at most 1,000 results
    /// are reachable).
    #[serde(rename = "next-cursor")]
    pub next_cursor: Option<String>,
}

fn decode_cursor(cursor: &str) -> ApiResult<usize> {
    use base64::Engine as _;
    let bad = || ApiError::bad_request("invalid-cursor", "`cursor` is not one this server gave");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("o:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < MAX_WINDOW)
        .ok_or_else(bad)
}

fn encode_cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// Searches snaps and charms: relevance over names, titles, keywords, summaries, descriptions
/// and publishers, typo- and prefix-tolerant, exact name first, with facets and highlights.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    operation_id = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of results, best first.", body = SearchResponse),
        (status = 400, description = "`invalid-query`: an unknown `type` or confinement, `limit` outside 1–100, a query longer than 200 characters or with control characters; `invalid-cursor`; `invalid-channel`; `invalid-architecture`.", body = ErrorBody),
    ),
)]
async fn search(
    State(app): State<AppState>,
    Query(params): Query<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    let started = Instant::now();
    let text = params.q.clone().unwrap_or_default();
    if text.chars().count() > 200 || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid-query",
            "`q` must be at most 200 characters, without control characters",
        ));
    }
    let namespace = match params.namespace.as_deref() {
        None => None,
        Some("snap") => Some(Namespace::Snap),
        Some("charm") => Some(Namespace::Charm),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!("`type` must be `snap` or `charm`, not {other:?}"),
            ));
        }
    };
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid-query",
            "`limit` must be from 1 to 100",
        ));
    }
    if let Some(c) = &params.channel {
        Channel::parse(c).map_err(|e| ApiError::bad_request("invalid-channel", e.to_string()))?;
    }
    let offset = params
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0);
    let query = SearchQuery {
        text: text.clone(),
        namespace,
        kind: params.kind.clone(),
        category: params.category.clone(),
        architecture: architecture_param(params.architecture.as_deref())?.map(str::to_string),
        channel: params.channel.clone(),
        confinements: params
            .confinement
            .as_deref()
            .map(confinements)
            .transpose()?
            .unwrap_or_default(),
        publisher: params.publisher.clone(),
        offset,
        limit,
        ..SearchQuery::default()
    };
    let found = app
        .catalog
        .search
        .search(&query)
        .map_err(ApiError::internal)?;
    let catalog = app.catalog.snapshot();
    let words = query_words(&text);
    let results: Vec<SearchHit> = found
        .hits
        .iter()
        .filter_map(|hit| {
            let state = catalog.get_by_id(&hit.id)?;
            let p = &state.package;
            Some(SearchHit {
                namespace: p.namespace.as_str(),
                id: p.id.clone(),
                name: p.name.clone(),
                title: if p.title.is_empty() {
                    p.name.clone()
                } else {
                    p.title.clone()
                },
                summary: p.summary.clone(),
                publisher: SearchPublisher {
                    username: p.publisher.username.clone(),
                    display_name: p.publisher.display_name.clone(),
                },
                categories: p.categories.clone(),
                score: hit.score,
                highlights: Highlights {
                    summary: highlight(&p.summary, &words, 200),
                    description: highlight(&p.description, &words, 200),
                },
            })
        })
        .collect();
    let next = offset + found.hits.len();
    let next_cursor = (found.hits.len() == limit && next < found.total.min(MAX_WINDOW))
        .then(|| encode_cursor(next));
    observe(&app, "search", started);
    Ok(Json(SearchResponse {
        total: found.total,
        results,
        next_cursor,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RelatedQuery {
    /// How many packages (1 to 50; default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedResponse {
    /// The package asked about.
    pub package: RelatedPackage,
    /// Best first: the packages most often installed with it, then, when there are too few,
    /// the most similar by content.
    pub related: Vec<RelatedItem>,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedPackage {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedItem {
    pub id: String,
    pub name: String,
    pub summary: String,
    /// `co-installed` (installed together on devices) or `similar` (by content).
    pub reason: &'static str,
    /// Co-installed: cosine similarity of the installed sets (0 to 1). Similar: the text score
    /// relative to the best similar package (0 to 1).
    pub score: f64,
}

/// Packages related to this one: installed together with it on devices (from the installed
/// sets snapd sends with refresh requests, aggregated without device identifiers), with
/// packages similar by content when there is too little co-installation data.
#[utoipa::path(
    get,
    path = "/v1/{namespace}/{name}/related",
    tag = "search",
    operation_id = "related",
    params(
        ("namespace" = super::schema::NamespaceName, Path, description = "`snap` or `charm`."),
        ("name" = String, Path, description = "The package name.", example = "hello-depot"),
        RelatedQuery,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "Related packages, best first.", body = RelatedResponse),
        (status = 400, description = "`invalid-query`: `limit` is not 1 to 50; `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`package-not-found`: no such public package; `not-found`: an unknown namespace.", body = ErrorBody),
        (status = 429, description = "`rate-limited`.", body = ErrorBody, headers(("retry-after" = u64, description = "Seconds to wait."))),
    ),
)]
async fn related(
    State(app): State<AppState>,
    super::extract::Path((namespace, name)): super::extract::Path<(String, String)>,
    Query(query): Query<RelatedQuery>,
    super::MaybeAuth(principal): super::MaybeAuth,
) -> ApiResult<Json<RelatedResponse>> {
    let namespace = super::publisher::parse_namespace(&namespace)?;
    let limit = query.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("limit must be 1 to 50, not {limit}"),
        ));
    }
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get(namespace, &name)
        .filter(|s| super::snaps::can_see(s, principal.as_ref()))
        .ok_or_else(|| {
            ApiError::not_found(
                "package-not-found",
                format!("no {namespace} named {name:?} is published here"),
            )
        })?;
    let item = |s: &PackageState, reason: &'static str, score: f64| RelatedItem {
        id: s.package.id.clone(),
        name: s.package.name.clone(),
        summary: s.package.summary.clone(),
        reason,
        score,
    };
    let shown = |s: &PackageState| s.package.namespace == namespace && !s.package.private;
    let mut related: Vec<RelatedItem> = app
        .related
        .neighbours(&state.package.id)
        .into_iter()
        .filter_map(|(id, score)| {
            let s = catalog.get_by_id(&id)?;
            shown(s).then(|| item(s, "co-installed", score))
        })
        .take(limit)
        .collect();
    if related.len() < limit {
        let text: String = format!("{} {}", state.package.title, state.package.summary)
            .chars()
            .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '-')
            .collect();
        let words: Vec<&str> = text.split_whitespace().take(16).collect();
        let search = SearchQuery {
            text: words.join(" "),
            namespace: Some(namespace),
            limit: limit + related.len() + 1,
            ..SearchQuery::default()
        };
        let hits = app
            .catalog
            .search
            .search(&search)
            .map_err(ApiError::internal)?
            .hits;
        let best = hits
            .iter()
            .filter(|h| *h.id != *state.package.id)
            .map(|h| h.score)
            .fold(0.0f32, f32::max)
            .max(f32::MIN_POSITIVE);
        for hit in hits {
            if related.len() >= limit {
                break;
            }
            if *hit.id == *state.package.id || related.iter().any(|r| *r.id == *hit.id) {
                continue;
            }
            if let Some(s) = catalog.get_by_id(&hit.id).filter(|s| shown(s)) {
                related.push(item(s, "similar", f64::from(hit.score / best)));
            }
        }
    }
    Ok(Json(RelatedResponse {
        package: RelatedPackage {
            id: state.package.id.clone(),
            name: state.package.name.clone(),
        },
        related,
    }))
}
