//! `POST /v2/charms/refresh`: what a Juju controller asks to deploy (`install`), fetch
//! (`download`) or upgrade to (`refresh`), answered from the catalog snapshot in the shapes of
//! juju's `internal/charmhub/transport` (`RefreshRequest`, `RefreshResponses`).
//!
//! Each action gets one result, in order, tied to it by `instance-key`. An action names a
//! charm by `name` or `id` and asks for a `revision`, or for a `channel` on a `base` (Juju's
//! `{architecture, name, channel}`, where any part may be the literal `NA` for "any"). A
//! channel resolves like the channel map a device sees: an empty or closed risk follows the
//! next more stable one of its track. Failures are results with `"result": "error"` and
//! juju's error codes; `revision-not-found` carries `extra.releases`, the (base, channel)
//! pairs where the charm is released, which Juju uses to suggest a base.

use std::collections::HashSet;

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::extract::Json;
use super::schema::ErrorBody;
use super::snaps::{can_see, download_url, time};
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::auth::Principal;
use crate::catalog::Catalog;
use crate::catalog::channel_map::{PlatformFilter, effective};
use crate::domain::{Channel, Namespace};
use crate::store::{PackageState, Revision};

use super::refresh::{MAX_ITEMS, resolve_device};
use super::resources::{declared_by, juju_view};

/// A base as Juju sends it. `NA` (or empty) in any part matches every value.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RequestBase {
    #[schema(example = "amd64")]
    pub architecture: String,
    #[schema(example = "ubuntu")]
    pub name: String,
    /// The base's track (`22.04`); a risk after it (`22.04/stable`) is ignored.
    #[schema(example = "22.04")]
    pub channel: String,
}

impl RequestBase {
    /// Does a release on `platform` (`name/channel/architecture`) run on this base?
    pub fn accepts(&self, platform: &str) -> bool {
        let Some((name, channel, architecture)) = crate::store::split_platform(platform) else {
            return false;
        };
        let any = |s: &str| s.is_empty() || s.eq_ignore_ascii_case("NA");
        let track = |s: &str| s.split('/').next().unwrap_or_default().to_string();
        (any(&self.name) || self.name == name)
            && (any(&self.channel) || track(&self.channel) == track(channel))
            && (any(&self.architecture)
                || self.architecture == architecture
                || architecture == "all")
    }

    /// A base Charmhub refuses outright: `all` is not an architecture a machine has.
    fn invalid(&self) -> Option<String> {
        (self.architecture == "all").then(|| {
            "architecture 'all' is not a base's architecture; send the machine's one (or NA)"
                .to_string()
        })
    }
}

/// One deployed application, as Juju describes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
// Some fields are accepted as Juju sends them and not used (metrics, refresh date).
#[allow(dead_code)]
pub struct CharmContext {
    pub instance_key: String,
    /// The charm id.
    pub id: String,
    #[schema(example = 3)]
    pub revision: u32,
    #[serde(default)]
    #[schema(nullable = false)]
    pub base: Option<RequestBase>,
    /// The channel the application follows; `stable` when absent.
    #[serde(default)]
    #[schema(nullable = false, example = "latest/stable")]
    pub tracking_channel: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, format = DateTime)]
    pub refresh_date: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub metrics: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CharmActionKind {
    Install,
    Download,
    Refresh,
}

impl CharmActionKind {
    fn as_str(self) -> &'static str {
        match self {
            CharmActionKind::Install => "install",
            CharmActionKind::Download => "download",
            CharmActionKind::Refresh => "refresh",
        }
    }
}

/// A resource revision Juju pins for an install by revision.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResourceRevisionRequest {
    pub name: String,
    pub revision: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
pub struct CharmAction {
    pub action: CharmActionKind,
    /// Ties the result to the action; for `refresh` the context entry's key.
    pub instance_key: String,
    /// The charm id (`refresh`, or instead of `name`).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    #[schema(example = "postgresql")]
    pub name: Option<String>,
    /// The channel to resolve; for `refresh` it replaces the tracked one.
    #[serde(default)]
    #[schema(example = "14/stable")]
    pub channel: Option<String>,
    /// A specific revision instead of a channel.
    #[serde(default)]
    pub revision: Option<u32>,
    /// The base to resolve the channel for (`null` for an install by revision).
    #[serde(default)]
    pub base: Option<RequestBase>,
    /// For an install by revision: the resource revisions to serve with it.
    #[serde(default)]
    pub resource_revisions: Option<Vec<ResourceRevisionRequest>>,
}

/// juju's `RefreshRequest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub struct CharmRefreshRequest {
    /// The deployed applications; may be empty for `install` and `download`.
    #[serde(default)]
    pub context: Vec<CharmContext>,
    pub actions: Vec<CharmAction>,
    /// The `charm` fields to return; unknown names are ignored. All when absent.
    #[serde(default)]
    #[schema(nullable = false, example = json!(["bases", "download", "id", "name", "revision", "resources", "type", "version"]))]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub metrics: Option<Value>,
}

/// The `charm` object's keys.
const CHARM_FIELDS: &[&str] = &[
    "type",
    "id",
    "name",
    "license",
    "summary",
    "version",
    "revision",
    "created-at",
    "publisher",
    "bases",
    "download",
    "resources",
    "metadata-yaml",
    "config-yaml",
    "actions-yaml",
];

fn error(code: &str, message: String, extra: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message});
    if let Some(extra) = extra {
        e["extra"] = extra;
    }
    e
}

fn base_of(platform: &str) -> Value {
    let (name, channel, architecture) =
        crate::store::split_platform(platform).unwrap_or(("", "", platform));
    json!({"name": name, "channel": channel, "architecture": architecture})
}

struct Ctx<'a> {
    app: &'a AppState,
    principal: Option<&'a Principal>,
    fields: Option<HashSet<&'a str>>,
    now: i64,
}

impl Ctx<'_> {
    /// The resources served with `revision`: those released with `channel`, or for an
    /// install by revision the pinned ones (`resource-revisions`), else each one's newest.
    fn resources(
        &self,
        state: &PackageState,
        revision: &Revision,
        channel: Option<&Channel>,
        pinned: &[ResourceRevisionRequest],
    ) -> Value {
        let list = declared_by(revision)
            .iter()
            .filter_map(|d| {
                let r = match channel {
                    Some(channel) => state.resources.on_channel(channel, &d.name),
                    None => match pinned.iter().find(|p| p.name == d.name) {
                        Some(p) => state.resources.find(&d.name, p.revision),
                        None => state
                            .resources
                            .revisions
                            .iter()
                            .rev()
                            .find(|r| r.name == d.name),
                    },
                }?;
                Some(juju_view(self.app, state, Some(d), r))
            })
            .collect();
        Value::Array(list)
    }

    fn charm_object(&self, state: &PackageState, revision: &Revision, resources: Value) -> Value {
        let p = &state.package;
        let text = |key: &str| {
            revision
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut charm = Map::new();
        let mut put = |k: &str, v: Value| {
            let wanted = self.fields.as_ref().is_none_or(|f| f.contains(k));
            let empty_text = v.as_str().is_some_and(str::is_empty) && k.ends_with("-yaml");
            if wanted && !empty_text {
                charm.insert(k.to_string(), v);
            }
        };
        put("type", json!("charm"));
        put("id", json!(p.id));
        put("name", json!(p.name));
        put("license", json!(p.license));
        put("summary", json!(p.summary));
        put("version", json!(revision.version));
        put("revision", json!(revision.revision));
        put("created-at", json!(time(revision.created_at)));
        put(
            "publisher",
            json!({"display-name": p.publisher.display_name, "id": p.publisher.id, "username": p.publisher.username}),
        );
        put(
            "bases",
            Value::Array(
                revision
                    .bases
                    .iter()
                    .map(|b| json!({"name": b.name, "channel": b.channel, "architecture": b.architecture}))
                    .collect(),
            ),
        );
        put(
            "download",
            json!({
                "url": download_url(self.app, state, revision.revision),
                "size": revision.size,
                "hash-sha-256": revision.sha256,
                "hash-sha-384": revision.sha384,
            }),
        );
        put("resources", resources);
        put("metadata-yaml", json!(text("metadata-yaml")));
        put("config-yaml", json!(text("config-yaml")));
        put("actions-yaml", json!(text("actions-yaml")));
        debug_assert!(charm.keys().all(|k| CHARM_FIELDS.contains(&k.as_str())));
        Value::Object(charm)
    }

    /// Where the charm is released (not following another risk), for `extra.releases`.
    fn releases_extra(&self, state: &PackageState) -> Value {
        let releases: Vec<Value> = effective(state, &PlatformFilter::All, self.now)
            .into_iter()
            .filter(|line| !line.follows())
            .map(|line| json!({"base": base_of(&line.platform), "channel": line.channel.full()}))
            .collect();
        json!({ "releases": releases })
    }

    fn find_revision<'s>(&self, state: &'s PackageState, number: u32) -> Option<&'s Revision> {
        state
            .revisions
            .binary_search_by_key(&number, |r| r.revision)
            .ok()
            .map(|i| &state.revisions[i])
    }

    fn lookup<'c>(
        &self,
        catalog: &'c Catalog,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<&'c PackageState, Value> {
        let found = match (id, name) {
            (Some(id), _) => catalog
                .get_by_id(id)
                .filter(|s| s.package.namespace == Namespace::Charm),
            (None, Some(name)) => catalog.get(Namespace::Charm, name),
            (None, None) => {
                return Err(error(
                    "bad-argument",
                    "the action names neither a charm id nor a name".into(),
                    None,
                ));
            }
        }
        .filter(|s| can_see(s, self.principal));
        found.map(|s| s.as_ref()).ok_or_else(|| match (id, name) {
            (Some(id), _) => error(
                "id-not-found",
                format!("No charm with id '{id}' found."),
                None,
            ),
            (None, name) => error(
                "name-not-found",
                format!("No charm named '{}' found.", name.unwrap_or_default()),
                None,
            ),
        })
    }

    /// A revision asked for by number: the publisher (or an admin) may have any; others only
    /// one released somewhere. With a base, one that runs on it.
    fn by_revision(
        &self,
        state: &PackageState,
        number: u32,
        base: Option<&RequestBase>,
        pinned: &[ResourceRevisionRequest],
        result: &mut Value,
    ) -> Result<(), Value> {
        let allowed = super::snaps::is_publisher(state, self.principal)
            || state.is_released(number, self.now);
        let runs = |r: &Revision| base.is_none_or(|b| r.platforms().iter().any(|p| b.accepts(p)));
        match self.find_revision(state, number) {
            Some(revision) if allowed && runs(revision) => {
                let resources = self.resources(state, revision, None, pinned);
                result["charm"] = self.charm_object(state, revision, resources);
                Ok(())
            }
            _ => Err(error(
                "revision-not-found",
                format!(
                    "Revision {number} of '{}' is not available.",
                    state.package.name
                ),
                Some(self.releases_extra(state)),
            )),
        }
    }

    /// Resolves `channel` on `base` for `instance_key`.
    fn by_channel(
        &self,
        state: &PackageState,
        channel: &str,
        base: &RequestBase,
        instance_key: &str,
        result: &mut Value,
    ) -> Result<(), Value> {
        if let Some(message) = base.invalid() {
            return Err(error("invalid-charm-base", message, None));
        }
        let parsed = Channel::parse_with_default_track(channel, &state.package.default_track)
            .map_err(|e| {
                error(
                    "invalid-channel",
                    format!("invalid channel {channel:?}: {e}"),
                    None,
                )
            })?;
        let accepts = |p: &str| base.accepts(p);
        let not_found = || {
            error(
                "revision-not-found",
                format!(
                    "No revision of '{}' is released to channel '{}' for base {}/{}/{}.",
                    state.package.name,
                    parsed.full(),
                    base.name,
                    base.channel,
                    base.architecture
                ),
                Some(self.releases_extra(state)),
            )
        };
        let resolved = resolve_device(state, &parsed, &accepts, instance_key, self.now)
            .ok_or_else(not_found)?;
        let revision = self
            .find_revision(state, resolved.revision)
            .ok_or_else(not_found)?;
        result["effective-channel"] = json!(resolved.channel.full());
        result["released-at"] = json!(time(resolved.release.released_at));
        let resources = self.resources(state, revision, Some(&resolved.channel), &[]);
        result["charm"] = self.charm_object(state, revision, resources);
        // The download URL names the channel, so the download is counted for it.
        if let Some(Value::String(url)) = result.pointer_mut("/charm/download/url") {
            url.push_str("?channel=");
            url.push_str(&super::refresh::percent_encode_channel(
                &resolved.channel.full(),
            ));
        }
        Ok(())
    }

    fn answer(&self, catalog: &Catalog, action: &CharmAction, context: &[CharmContext]) -> Value {
        let mut result =
            json!({"result": action.action.as_str(), "instance-key": action.instance_key});
        let outcome = self.resolve(catalog, action, context, &mut result);
        if let Err(e) = outcome {
            result["result"] = json!("error");
            result["error"] = e;
            if let Some(obj) = result.as_object_mut() {
                obj.remove("charm");
                obj.remove("effective-channel");
                obj.remove("released-at");
            }
        }
        result
    }

    fn resolve(
        &self,
        catalog: &Catalog,
        action: &CharmAction,
        context: &[CharmContext],
        result: &mut Value,
    ) -> Result<(), Value> {
        let installed = context
            .iter()
            .find(|c| c.instance_key == action.instance_key);
        if action.action == CharmActionKind::Refresh && installed.is_none() {
            return Err(error(
                "missing-context",
                format!(
                    "refresh of instance {:?} has no context entry",
                    action.instance_key
                ),
                None,
            ));
        }
        let id = action
            .id
            .as_deref()
            .or(installed.map(|c| c.id.as_str()))
            .filter(|s| !s.is_empty());
        let name = action.name.as_deref().filter(|s| !s.is_empty());
        if let Some(id) = id {
            result["id"] = json!(id);
        }
        if let Some(name) = name {
            result["name"] = json!(name);
        }
        let state = self.lookup(catalog, id, name)?;
        result["id"] = json!(state.package.id);
        result["name"] = json!(state.package.name);
        let base = action
            .base
            .as_ref()
            .or(installed.and_then(|c| c.base.as_ref()));
        if let Some(number) = action.revision {
            let pinned = action.resource_revisions.as_deref().unwrap_or_default();
            return self.by_revision(state, number, base, pinned, result);
        }
        let Some(base) = base else {
            return Err(error(
                "missing-charm-base",
                "an action by channel needs a base (any part may be NA)".into(),
                None,
            ));
        };
        let channel = action
            .channel
            .as_deref()
            .or(installed.and_then(|c| c.tracking_channel.as_deref()))
            .filter(|c| !c.is_empty())
            .unwrap_or("stable");
        self.by_channel(state, channel, base, &action.instance_key, result)
    }
}

/// Resolves Juju's install, download and refresh actions.
#[utoipa::path(
    post,
    path = "/v2/charms/refresh",
    tag = "charmhub",
    operation_id = "charm-refresh",
    request_body = CharmRefreshRequest,
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "One result per action, in order; a failed action is a result with `\"result\": \"error\"` and juju's codes (`name-not-found`, `id-not-found`, `revision-not-found` with `extra.releases`, `invalid-channel`, `missing-charm-base`, `invalid-charm-base`, `missing-context`, `bad-argument`). A `refresh` result carrying the deployed revision means no update.", body = super::schema::CharmRefreshResponse),
        (status = 400, description = "`invalid-request` (no actions, too many items), `instance-key-not-unique`; `invalid-json`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`"))),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing field, a wrong type or an unknown action.", body = ErrorBody),
    ),
)]
pub(super) async fn refresh(
    State(app): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    Json(request): Json<CharmRefreshRequest>,
) -> ApiResult<axum::Json<Value>> {
    if request.actions.is_empty() {
        return Err(ApiError::bad_request(
            "invalid-request",
            "the request has no actions",
        ));
    }
    if request.actions.len() > MAX_ITEMS || request.context.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(
            "invalid-request",
            format!("at most {MAX_ITEMS} context entries and {MAX_ITEMS} actions per request"),
        ));
    }
    let mut keys = HashSet::new();
    for key in request.context.iter().map(|c| c.instance_key.as_str()) {
        if !keys.insert(key) {
            return Err(ApiError::bad_request(
                "instance-key-not-unique",
                format!("instance key {key:?} appears twice in context"),
            ));
        }
    }
    let mut keys = HashSet::new();
    for key in request.actions.iter().map(|a| a.instance_key.as_str()) {
        if !keys.insert(key) {
            return Err(ApiError::bad_request(
                "instance-key-not-unique",
                format!("instance key {key:?} appears twice in actions"),
            ));
        }
    }
    let ctx = Ctx {
        app: &app,
        principal: principal.as_ref(),
        fields: request
            .fields
            .as_ref()
            .map(|f| f.iter().map(String::as_str).collect()),
        now: chrono::Utc::now().timestamp(),
    };
    let catalog = app.catalog.snapshot();
    let results: Vec<Value> = request
        .actions
        .iter()
        .map(|action| ctx.answer(&catalog, action, &request.context))
        .collect();
    Ok(axum::Json(json!({ "results": results, "error-list": [] })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(architecture: &str, name: &str, channel: &str) -> RequestBase {
        RequestBase {
            architecture: architecture.into(),
            name: name.into(),
            channel: channel.into(),
        }
    }

    #[test]
    fn base_channels_may_hold_a_slash() {
        let b = base("amd64", "ubuntu", "22.04");
        assert!(b.accepts("ubuntu/22.04/stable/amd64"));
        assert!(b.accepts("ubuntu/22.04/stable/all"));
        assert!(!b.accepts("ubuntu/22.04/stable/arm64"));
        assert_eq!(
            base_of("ubuntu/22.04/stable/arm64"),
            json!({"name": "ubuntu", "channel": "22.04/stable", "architecture": "arm64"})
        );
    }

    #[test]
    fn bases_match_as_juju_sends_them() {
        let b = base("amd64", "ubuntu", "22.04");
        assert!(b.accepts("ubuntu/22.04/amd64"));
        assert!(b.accepts("ubuntu/22.04/all"));
        assert!(!b.accepts("ubuntu/20.04/amd64"));
        assert!(!b.accepts("ubuntu/22.04/arm64"));
        assert!(!b.accepts("centos/22.04/amd64"));
        assert!(base("amd64", "ubuntu", "22.04/stable").accepts("ubuntu/22.04/amd64"));
        assert!(base("NA", "NA", "NA").accepts("ubuntu/20.04/s390x"));
        assert!(base("amd64", "NA", "NA").accepts("ubuntu/24.04/amd64"));
        assert!(!base("amd64", "NA", "NA").accepts("ubuntu/24.04/arm64"));
        assert!(base("arm64", "ubuntu", "NA").accepts("ubuntu/24.04/arm64"));
        assert!(!base("amd64", "ubuntu", "22.04").accepts("amd64"));
    }
}
