//! The Charmhub API Juju calls, served from the catalog snapshot.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json, Path, Query};
use super::schema::{CharmInfo, ErrorBody};
use super::snaps::{can_see, download_url, time};
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::catalog::channel_map::{PlatformFilter, effective, resolve_for};
use crate::domain::{Channel, Namespace};
use crate::store::{PackageState, Release, Revision};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(super::charm_refresh::refresh))
}

fn base_json(platform: &str) -> Value {
    match crate::store::split_platform(platform) {
        Some((name, channel, architecture)) => {
            json!({"name": name, "channel": channel, "architecture": architecture})
        }
        None => json!({"name": "NA", "channel": "NA", "architecture": platform}),
    }
}

fn revision_json(app: &AppState, state: &PackageState, r: &Revision) -> Value {
    let text = |key: &str| {
        r.metadata
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    json!({
        "revision": r.revision,
        "version": r.version,
        "created-at": time(r.created_at),
        "download": {
            "url": download_url(app, state, r.revision),
            "size": r.size,
            "hash-sha-256": r.sha256,
            "hash-sha-384": r.sha384,
            "hash-sha3-384": r.sha3_384,
        },
        "bases": r.bases.iter().map(|b| json!({"name": b.name, "channel": b.channel, "architecture": b.architecture})).collect::<Vec<_>>(),
        "metadata-yaml": text("metadata-yaml"),
        "config-yaml": text("config-yaml"),
        "actions-yaml": text("actions-yaml"),
        "bundle-yaml": "",
    })
}

fn channel_entry(
    app: &AppState,
    state: &PackageState,
    channel: &Channel,
    platform: &str,
    release: &Release,
) -> Option<Value> {
    let revision = state
        .revisions
        .iter()
        .find(|r| r.revision == release.revision)?;
    let mut c = json!({
        "name": channel.full(),
        "track": channel.track,
        "risk": channel.risk.as_str(),
        "released-at": time(release.released_at),
        "base": base_json(platform),
    });
    if let Some(expires) = release.expires_at.filter(|_| channel.branch.is_some()) {
        c["branch"] = json!(channel.branch);
        c["expiration-date"] = json!(time(expires));
    }
    Some(json!({"channel": c, "revision": revision_json(app, state, revision)}))
}

/// Keeps only the dotted `paths` (e.g. `result.summary`, `channel-map.revision.revision`) of
/// `value`; arrays are walked through. Top-level keys in `always` stay.
pub(crate) fn prune(value: &mut Value, paths: &[Vec<&str>], always: &[&str]) {
    fn walk(value: &mut Value, paths: &[&[&str]]) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, paths)),
            Value::Object(map) => {
                if paths.iter().any(|p| p.is_empty()) {
                    return; // this whole subtree was asked for
                }
                let keep: Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .filter_map(|(k, mut v)| {
                        let sub: Vec<&[&str]> = paths
                            .iter()
                            .filter(|p| p[0] == k)
                            .map(|p| &p[1..])
                            .collect();
                        if sub.is_empty() {
                            return None;
                        }
                        walk(&mut v, &sub);
                        Some((k, v))
                    })
                    .collect();
                *map = keep;
            }
            _ => {}
        }
    }
    let Value::Object(map) = value else { return };
    for (k, v) in map.iter_mut() {
        if always.contains(&k.as_str()) {
            continue;
        }
        let sub: Vec<&[&str]> = paths
            .iter()
            .filter(|p| p[0] == k)
            .map(|p| &p[1..])
            .collect();
        walk(v, &sub);
    }
    map.retain(|k, _| always.contains(&k.as_str()) || paths.iter().any(|p| p[0] == k));
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InfoQuery {
    /// Comma-separated dotted paths to keep, e.g.
    /// `result.summary,default-release.revision.download`. `type`, `id` and `name` are always
    /// kept. Without it, everything is returned.
    #[param(
        nullable = false,
        example = "result.summary,default-release.revision.download"
    )]
    fields: Option<String>,
    /// The channel `default-release` is resolved for (default: `{default-track}/stable`).
    #[param(nullable = false, example = "latest/edge")]
    channel: Option<String>,
}

/// The charm and its channel map, in the shape Juju reads.
#[utoipa::path(
    get,
    path = "/v2/charms/info/{name}",
    tag = "charmhub",
    operation_id = "charm-info",
    params(
        ("name" = String, Path, description = "The charm name.", example = "hello-charm"),
        InfoQuery,
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "The charm.", body = CharmInfo),
        (status = 400, description = "`invalid-channel`: `channel` does not parse; `invalid-query`, `invalid-path`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 404, description = "`charm-not-found`: no such charm, or a private one the caller may not see.", body = ErrorBody),
    ),
)]
async fn info(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<InfoQuery>,
    MaybeAuth(principal): MaybeAuth,
) -> ApiResult<Json<Value>> {
    let catalog = app.catalog.snapshot();
    let state = catalog
        .get(Namespace::Charm, &name)
        .filter(|s| can_see(s, principal.as_ref()))
        .ok_or_else(|| {
            ApiError::not_found("charm-not-found", format!("No charm named '{name}' found."))
        })?;
    let p = &state.package;
    let now = chrono::Utc::now().timestamp();
    let channel_map: Vec<Value> = effective(state, &PlatformFilter::All, now)
        .iter()
        .filter_map(|line| channel_entry(&app, state, &line.channel, &line.platform, line.release))
        .collect();
    let default_channel = match &query.channel {
        Some(c) => Channel::parse_with_default_track(c, &p.default_track)
            .map_err(|e| ApiError::bad_request("invalid-channel", e.to_string()))?,
        None => Channel::new(p.default_track.clone(), crate::domain::Risk::Stable, None),
    };
    let default_release =
        resolve_for(state, &default_channel, &|_| true, now).and_then(|release| {
            channel_entry(&app, state, &release.channel, &release.platform, release)
        });
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
            "used-by": [],
            "bugs-url": "",
        },
        "channel-map": channel_map,
        "default-release": default_release.unwrap_or(Value::Null),
    });
    if let Some(fields) = &query.fields {
        let paths: Vec<Vec<&str>> = fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| f.split('.').collect())
            .collect();
        prune(&mut body, &paths, &["type", "id", "name"]);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_asked_paths() {
        let mut v = json!({
            "type": "charm", "id": "x", "name": "n",
            "result": {"summary": "s", "description": "d"},
            "channel-map": [{"channel": {"name": "latest/stable", "risk": "stable"}, "revision": {"revision": 1, "version": "v"}}],
            "default-release": {"revision": {"revision": 1}},
        });
        let paths = vec![
            vec!["result", "summary"],
            vec!["channel-map", "revision", "revision"],
        ];
        prune(&mut v, &paths, &["type", "id", "name"]);
        assert_eq!(
            v,
            json!({
                "type": "charm", "id": "x", "name": "n",
                "result": {"summary": "s"},
                "channel-map": [{"revision": {"revision": 1}}],
            })
        );
    }
}
