//! `POST /v2/snaps/refresh`: what snapd asks to install, download or refresh to, answered
//! from the catalog snapshot in snapd's own request and result shapes
//! (snapd's `store/store_action.go`).
//!
//! Each action gets one result, in order: `install`/`download` resolve a name (or snap id)
//! on a channel or at a revision; `refresh` resolves an installed snap (from `context`) on the
//! channel it tracks. Resolution follows the channel map ([`resolve_device`]): a closed risk
//! falls back to a more stable one, a progressive release reaches its percentage of devices,
//! and a refresh never offers a revision whose epoch cannot read the installed one's.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::assertions::{Lookup, find};
use super::extract::{ClientAddr, Json, device_architecture};
use super::render::{CachedObject, ChannelEntry, Field, Fields, SnapObject, json_response};
use super::schema::{ErrorBody, RefreshResponse};
use super::snaps::can_see;
use super::{ApiError, ApiResult, AppState, MaybeAuth};
use crate::auth::Principal;
use crate::catalog::channel_map::{PlatformFilter, effective};
use crate::domain::resolve::{fallback_chain, find_exact};
use crate::domain::{Channel, Epoch, Namespace, Risk};
use crate::store::{PackageState, Release, Revision};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refresh))
        .routes(routes!(create_cohorts))
}

/// At most this many context entries and actions per request.
pub const MAX_ITEMS: usize = 1000;

/// One installed snap, as snapd describes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
// Some fields are accepted as snapd sends them and not used (validation sets).
#[allow(dead_code)]
pub struct ContextItem {
    #[schema(example = "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6")]
    pub snap_id: String,
    /// The snap id, or `snap-id:` and a salted hash for a parallel instance.
    #[schema(example = "mVyGrEwiqSi5PugCwyH7WgpoQLemtTd6")]
    pub instance_key: String,
    #[schema(minimum = 1, example = 3)]
    pub revision: u32,
    /// The channel the device follows; `stable` when absent.
    #[serde(default)]
    #[schema(nullable = false, example = "latest/stable")]
    pub tracking_channel: Option<String>,
    /// The installed revision's epoch; that revision's own when absent.
    #[serde(default)]
    #[schema(value_type = Option<super::schema::EpochView>, nullable = false)]
    pub epoch: Option<Epoch>,
    #[serde(default)]
    #[schema(nullable = false, format = DateTime)]
    pub refreshed_date: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub ignore_validation: Option<bool>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub cohort_key: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Vec<String>>>, nullable = false)]
    pub validation_sets: Option<Value>,
    /// Who holds this snap back; a scheduled refresh (`Snap-Refresh-Reason: scheduled`)
    /// leaves a held snap where it is.
    #[serde(default)]
    #[schema(nullable = false)]
    pub held: Option<Held>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Held {
    #[serde(default)]
    pub by: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Install,
    Download,
    Refresh,
    FetchAssertions,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
// Some fields are accepted as snapd sends them and not used (validation sets).
#[allow(dead_code)]
pub struct Action {
    pub action: ActionKind,
    /// Ties the result to the action: `install-1`, `download-1`, or a context instance key.
    /// `fetch-assertions` actions have none (they are tied by `key`).
    #[serde(default)]
    #[schema(example = "download-1")]
    pub instance_key: String,
    /// `install` and `download`: the snap's name (or give `snap-id`).
    #[serde(default)]
    #[schema(nullable = false, example = "hello-depot")]
    pub name: Option<String>,
    /// `refresh`: the installed snap; `install`/`download`: instead of `name`.
    #[serde(default)]
    #[schema(nullable = false)]
    pub snap_id: Option<String>,
    /// The channel to resolve; for `refresh` it replaces the tracked channel.
    #[serde(default)]
    #[schema(nullable = false, example = "beta")]
    pub channel: Option<String>,
    /// A specific revision instead of a channel.
    #[serde(default)]
    #[schema(nullable = false, minimum = 1)]
    pub revision: Option<u32>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub cohort_key: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub ignore_validation: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Vec<String>>>, nullable = false)]
    pub validation_sets: Option<Value>,
    /// `install`/`download`: the epoch the device can read, `null` when zero.
    #[serde(default)]
    #[schema(value_type = Option<super::schema::EpochView>)]
    pub epoch: Option<Value>,
    /// `fetch-assertions`: the group key.
    #[serde(default)]
    #[schema(nullable = false)]
    pub key: Option<String>,
    /// `fetch-assertions`: the assertions wanted, `{"type", "primary-key": […],
    /// "if-newer-than"?}` (or `{"type", "sequence-key": […], …}` for sequence-forming types).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    pub assertions: Option<Value>,
}

/// snapd's `snapActionRequest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(rename_all = "kebab-case")]
// Some fields are accepted as snapd sends them and not used (validation sets).
#[allow(dead_code)]
pub struct RefreshRequest {
    /// The installed snaps; may be empty for `install` and `download`.
    #[serde(default)]
    pub context: Vec<ContextItem>,
    pub actions: Vec<Action>,
    /// The `snap` fields to return (snapd's `storeSnap` names); unknown names are ignored.
    #[serde(default)]
    #[schema(nullable = false, example = json!(["name", "snap-id", "revision", "version", "download", "epoch"]))]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub assertion_max_formats: Option<Value>,
}

/// Fields returned when the request names none: what snapd asks for.
const DEFAULT_FIELDS: Fields = Fields::of(&[
    Field::Architectures,
    Field::Base,
    Field::Confinement,
    Field::Contact,
    Field::CreatedAt,
    Field::Description,
    Field::Download,
    Field::Epoch,
    Field::License,
    Field::Name,
    Field::Prices,
    Field::Private,
    Field::Publisher,
    Field::Revision,
    Field::SnapId,
    Field::Summary,
    Field::Title,
    Field::Type,
    Field::Version,
    Field::Website,
]);

/// What snapd is asking about one device.
struct Device<'a> {
    /// `None`: every architecture.
    architecture: Option<&'a str>,
    scheduled: bool,
    /// Who the device is, for progressive releases: its brand, model and serial when it sends
    /// a device session (`Snap-Device-Authorization`), else its address; empty when neither.
    /// It alone places the device in a release's buckets, not the action's instance key:
    /// snapd names an installed snap by its snap id but an install by `install-N`, so a key
    /// with the instance key in it put one device in two buckets, and a device could install
    /// the new revision and then be told to refresh back.
    identity: String,
}

impl Device<'_> {
    fn accepts(&self, platform: &str) -> bool {
        match self.architecture {
            Some(arch) => platform == arch || platform == "all",
            None => true,
        }
    }
}

/// Where a request landed on the channel map.
#[derive(Debug, PartialEq)]
pub struct Resolved<'a> {
    /// The channel the revision was found on (after falling back to more stable risks).
    pub channel: Channel,
    pub revision: u32,
    pub release: &'a Release,
}

/// The bucket (0..10,000) of a device for one progressive release: a stable hash of the snap,
/// the device (its identity, see `Device::identity`) and the release,
/// so a device keeps its answer for a release and every release draws a fresh subset.
pub fn progressive_bucket(snap_id: &str, device_key: &str, release: &Release) -> u32 {
    let mut hasher = Sha256::new();
    for part in [
        snap_id,
        device_key,
        &release.channel.full(),
        &release.platform,
        &release.revision.to_string(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 10_000) as u32
}

/// Whether the device with `device_key` is among the `percentage` that get `release`.
pub fn reaches(snap_id: &str, device_key: &str, release: &Release) -> bool {
    match release.progressive_percentage {
        None => true,
        Some(p) if p >= 100.0 => true,
        Some(p) => f64::from(progressive_bucket(snap_id, device_key, release)) < p * 100.0,
    }
}

/// Resolves `requested` for one device: the channel, then each more stable fallback; at each
/// the entry for the device's platform. A progressive entry that does not reach this device
/// answers with the revision it replaced, or, with none, lets resolution fall back further.
pub fn resolve_device<'a>(
    state: &'a PackageState,
    requested: &Channel,
    accepts: &dyn Fn(&str) -> bool,
    device_key: &str,
    now: i64,
) -> Option<Resolved<'a>> {
    for channel in fallback_chain(requested) {
        let Some(entry) = find_exact(&state.releases, &channel, now, |r: &Release| {
            accepts(&r.platform)
        }) else {
            continue;
        };
        if reaches(&state.package.id, device_key, entry) {
            return Some(Resolved {
                channel,
                revision: entry.revision,
                release: entry,
            });
        }
        if let Some(previous) = entry.previous_revision {
            return Some(Resolved {
                channel,
                revision: previous,
                release: entry,
            });
        }
    }
    None
}

/// Does the channel string name a track (`2.0/stable`), or only a risk (`stable`, `beta/fix`)?
fn names_track(channel: &str) -> bool {
    Risk::from_name(channel.split('/').next().unwrap_or_default()).is_none()
}

/// A result's error: `{"code", "message", "extra"?}`.
fn action_error(code: &str, message: String, extra: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message});
    if let Some(extra) = extra {
        e["extra"] = extra;
    }
    e
}

struct Ctx<'a> {
    app: &'a AppState,
    principal: Option<&'a Principal>,
    device: Device<'a>,
    fields: Fields,
    now: i64,
}

/// One result of the answer: an install, download or refresh action's (typed, serialised
/// straight into the body), or a fetch-assertions one.
#[derive(Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Snap(ActionResult<'a>),
    Assertions(Value),
}

/// The result of an install, download or refresh action, in snapd's shape.
#[derive(Serialize)]
struct ActionResult<'a> {
    result: &'static str,
    #[serde(rename = "instance-key")]
    instance_key: &'a str,
    #[serde(rename = "snap-id", skip_serializing_if = "Option::is_none")]
    snap_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "effective-channel", skip_serializing_if = "Option::is_none")]
    effective_channel: Option<String>,
    #[serde(rename = "redirect-channel", skip_serializing_if = "Option::is_none")]
    redirect_channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snap: Option<CachedObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

impl<'a> ActionResult<'a> {
    fn new(result: &'static str, instance_key: &'a str) -> Self {
        ActionResult {
            result,
            instance_key,
            snap_id: None,
            name: None,
            effective_channel: None,
            redirect_channel: None,
            snap: None,
            error: None,
        }
    }

    fn fail(&mut self, error: Value) {
        self.result = "error";
        self.error = Some(error);
    }
}

impl<'a> Ctx<'a> {
    /// The `storeSnap` object of `revision`, with the fields asked for. With `channel` (a
    /// revision found on a channel), the download URL names the channel, so the download is
    /// counted for it.
    fn snap_object(
        &self,
        state: &'a PackageState,
        revision: &'a Revision,
        channel: Option<String>,
    ) -> CachedObject {
        SnapObject {
            public_url: &self.app.public_url,
            state,
            revision: Some(revision),
            fields: self.fields,
            download_channel: channel,
            channel: ChannelEntry::None,
        }
        .cached()
    }

    /// Where the snap is released, for `revision-not-found`'s `extra`: every architecture
    /// (snapd tells its user where else the snap exists), the device's own included when only
    /// releases for `all` serve it. snapd calls the snap available on the device's
    /// architecture only when an entry names that architecture.
    fn releases_extra(&self, state: &PackageState) -> Value {
        let accepts = |p: &str| self.device.accepts(p);
        let own = self.device.architecture.map(|arch| PlatformFilter::Only {
            shown_as: arch.to_string(),
            accepts: &accepts,
        });
        let mut seen = HashSet::new();
        let releases: Vec<Value> = [Some(PlatformFilter::All), own]
            .iter()
            .flatten()
            .flat_map(|filter| effective(state, filter, self.now))
            .filter(|line| !line.follows())
            .map(|line| (line.platform, line.channel.full()))
            .filter(|entry| seen.insert(entry.clone()))
            .map(|(platform, channel)| json!({"architecture": platform, "channel": channel}))
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

    /// Resolves `channel` (a string as sent) for this device: the revision, the effective
    /// channel and, for a default-track redirect, the channel the device should follow.
    fn resolve_channel<'s>(
        &self,
        state: &'s PackageState,
        channel: &str,
        cohort: Option<&str>,
    ) -> Result<(Resolved<'s>, Option<Channel>), Value> {
        let default_track = state.package.default_track.as_str();
        let parsed = Channel::parse_with_default_track(channel, default_track).map_err(|e| {
            action_error(
                "invalid-channel",
                format!("invalid channel {channel:?}: {e}"),
                None,
            )
        })?;
        let redirect = (!names_track(channel) && default_track != "latest").then(|| parsed.clone());
        let accepts = |p: &str| self.device.accepts(p);
        // A cohort's devices share one answer, progressive releases included (`snap refresh
        // --cohort`): the cohort key stands in for the device.
        let device_key = match cohort {
            Some(cohort) => format!("cohort\u{0}{cohort}"),
            None => self.device.identity.clone(),
        };
        match resolve_device(state, &parsed, &accepts, &device_key, self.now) {
            Some(resolved) => Ok((resolved, redirect)),
            None => Err(action_error(
                "revision-not-found",
                format!(
                    "No revision of '{}' is released to channel '{}'{}.",
                    state.package.name,
                    parsed.full(),
                    self.device
                        .architecture
                        .map(|a| format!(" for architecture '{a}'"))
                        .unwrap_or_default()
                ),
                Some(self.releases_extra(state)),
            )),
        }
    }

    /// `install` or `download`.
    fn install(
        &self,
        catalog: &'a crate::catalog::Catalog,
        action: &'a Action,
    ) -> ActionResult<'a> {
        let kind = if action.action == ActionKind::Install {
            "install"
        } else {
            "download"
        };
        let mut result = ActionResult::new(kind, &action.instance_key);
        let found = match (&action.snap_id, &action.name) {
            (Some(id), _) => catalog
                .get_by_id(id)
                .filter(|s| s.package.namespace == Namespace::Snap),
            (None, Some(name)) => catalog.get(Namespace::Snap, name),
            (None, None) => None,
        }
        .filter(|s| can_see(s, self.principal));
        let Some(state) = found else {
            let error = match (&action.snap_id, &action.name) {
                (Some(id), _) => {
                    result.snap_id = Some(id);
                    action_error(
                        "id-not-found",
                        format!("No snap with id '{id}' found."),
                        None,
                    )
                }
                (None, Some(name)) => {
                    result.name = Some(name);
                    action_error(
                        "name-not-found",
                        format!("No snap named '{name}' found."),
                        None,
                    )
                }
                (None, None) => action_error(
                    "invalid-action",
                    format!("{kind} needs a name or a snap-id"),
                    None,
                ),
            };
            result.fail(error);
            return result;
        };
        result.name = Some(&state.package.name);
        result.snap_id = Some(&state.package.id);
        if let Some(number) = action.revision {
            self.answer_revision(state, number, &mut result);
            return result;
        }
        let channel = action.channel.as_deref().unwrap_or("stable");
        match self.resolve_channel(state, channel, action.cohort_key.as_deref()) {
            Ok((resolved, redirect)) => match self.find_revision(state, resolved.revision) {
                Some(revision) => {
                    let channel = resolved.channel.full();
                    result.redirect_channel = redirect.map(|r| r.full());
                    result.snap = Some(self.snap_object(state, revision, Some(channel.clone())));
                    result.effective_channel = Some(channel);
                }
                None => result.fail(action_error(
                    "revision-not-found",
                    format!("Revision {} is missing.", resolved.revision),
                    None,
                )),
            },
            Err(error) => result.fail(error),
        }
        result
    }

    /// Answers an action that names a revision: its snap object, or `revision-not-found`.
    fn answer_revision(&self, state: &'a PackageState, number: u32, result: &mut ActionResult<'a>) {
        match self.revision_for_install(state, number) {
            Some(revision) => result.snap = Some(self.snap_object(state, revision, None)),
            None => result.fail(action_error(
                "revision-not-found",
                format!(
                    "Revision {number} of '{}' is not available.",
                    state.package.name
                ),
                Some(self.releases_extra(state)),
            )),
        }
    }

    /// A revision asked for by number: the publisher (or an admin) may have any; others only
    /// one that is released somewhere. Always one that runs on the device.
    fn revision_for_install<'s>(
        &self,
        state: &'s PackageState,
        number: u32,
    ) -> Option<&'s Revision> {
        let revision = self.find_revision(state, number)?;
        let allowed = super::snaps::is_publisher(state, self.principal)
            || state.is_released(number, self.now);
        let runs_here = revision.platforms().iter().any(|p| self.device.accepts(p));
        (allowed && runs_here).then_some(revision)
    }

    fn refresh(
        &self,
        catalog: &'a crate::catalog::Catalog,
        action: &'a Action,
        installed: Option<&'a ContextItem>,
    ) -> Option<ActionResult<'a>> {
        let mut result = ActionResult::new("refresh", &action.instance_key);
        let Some(installed) = installed else {
            result.fail(action_error(
                "invalid-action",
                format!(
                    "refresh of instance {:?} has no context entry",
                    action.instance_key
                ),
                None,
            ));
            return Some(result);
        };
        let snap_id = action.snap_id.as_deref().unwrap_or(&installed.snap_id);
        result.snap_id = Some(snap_id);
        let Some(state) = catalog
            .get_by_id(snap_id)
            .filter(|s| s.package.namespace == Namespace::Snap && can_see(s, self.principal))
        else {
            result.fail(action_error(
                "id-not-found",
                format!("No snap with id '{snap_id}' found."),
                None,
            ));
            return Some(result);
        };
        result.name = Some(&state.package.name);
        let current = self.find_revision(state, installed.revision);
        let stay = |mut result: ActionResult<'a>| -> Option<ActionResult<'a>> {
            // "No update": the installed revision again, as snapd expects.
            result.snap = Some(self.snap_object(state, current?, None));
            Some(result)
        };
        let held = installed.held.as_ref().is_some_and(|h| !h.by.is_empty());
        if held && self.device.scheduled {
            return stay(result);
        }
        if let Some(number) = action.revision {
            self.answer_revision(state, number, &mut result);
            return Some(result);
        }
        let channel = action
            .channel
            .as_deref()
            .or(installed.tracking_channel.as_deref())
            .unwrap_or("stable");
        let (resolved, redirect) = match self.resolve_channel(
            state,
            channel,
            action
                .cohort_key
                .as_deref()
                .or(installed.cohort_key.as_deref()),
        ) {
            Ok(found) => found,
            Err(error) => {
                result.fail(error);
                return Some(result);
            }
        };
        let channel = resolved.channel.full();
        result.effective_channel = Some(channel.clone());
        result.redirect_channel = redirect.map(|r| r.full());
        let Some(offered) = self.find_revision(state, resolved.revision) else {
            return stay(result);
        };
        let installed_epoch = installed
            .epoch
            .clone()
            .or_else(|| current.map(|c| c.epoch.clone()))
            .unwrap_or_default();
        if !offered.epoch.can_read(&installed_epoch) {
            // The epoch barrier: the device keeps its revision until one that reads its data
            // is released to the channel it follows.
            return stay(result);
        }
        result.snap = Some(self.snap_object(state, offered, Some(channel)));
        Some(result)
    }
}

impl Ctx<'_> {
    /// `fetch-assertions`: a stream URL for each assertion depot has (and the device lacks:
    /// depot's assertions are all at revision 0, so `if-newer-than` 0 or more means the device
    /// is up to date); an `error-list` entry for each it has not, in snapd's
    /// `errorListEntry` shape.
    fn fetch_assertions(&self, catalog: &crate::catalog::Catalog, action: &Action) -> Value {
        let items = action
            .assertions
            .as_ref()
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut urls = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            if let Some(primary) = item.get("primary-key").and_then(Value::as_array) {
                let key: Vec<&str> = primary
                    .iter()
                    .map(|k| k.as_str().unwrap_or_default())
                    .collect();
                match find(self.app, catalog, self.principal, kind, &key) {
                    Ok(_) => {
                        let current = item.get("if-newer-than").and_then(Value::as_i64);
                        if current.is_none_or(|r| r < 0) {
                            urls.push(format!(
                                "{}/v2/assertions/{kind}/{}",
                                self.app.public_url,
                                key.join("/")
                            ));
                        }
                    }
                    Err(Lookup::NotFound) => errors.push(json!({
                        "code": "not-found",
                        "message": format!("not found: no {kind:?} assertion with primary key {key:?}"),
                        "type": kind,
                        "primary-key": key,
                    })),
                    Err(Lookup::BadKey(message)) => errors.push(json!({
                        "code": "invalid-primary-key",
                        "message": message,
                        "type": kind,
                        "primary-key": key,
                    })),
                }
            } else if let Some(sequence_key) = item.get("sequence-key") {
                errors.push(json!({
                    "code": "not-found",
                    "message": format!("not found: depot serves no sequence-forming {kind:?} assertions"),
                    "type": kind,
                    "sequence-key": sequence_key,
                }));
            } else {
                errors.push(json!({
                    "code": "invalid-primary-key",
                    "message": "an assertion request needs a primary-key or a sequence-key",
                    "type": kind,
                }));
            }
        }
        let mut result = json!({
            "result": "fetch-assertions",
            "instance-key": action.instance_key,
            "key": action.key.clone().unwrap_or_default(),
            "assertion-stream-urls": urls,
        });
        if !errors.is_empty() {
            result["error-list"] = Value::Array(errors);
        }
        result
    }
}

/// Resolves snapd's install, download, refresh and fetch-assertions actions.
#[utoipa::path(
    post,
    path = "/v2/snaps/refresh",
    tag = "snap-store",
    operation_id = "snap-refresh",
    request_body = RefreshRequest,
    params(
        ("snap-device-architecture" = Option<String>, Header, nullable = false, description = "The device's architecture (`amd64`, `arm64`, …); without it every architecture's releases count."),
        ("snap-device-series" = Option<String>, Header, nullable = false, description = "Always `16`."),
        ("snap-refresh-reason" = Option<String>, Header, nullable = false, description = "`scheduled` for automatic refreshes: held snaps are not refreshed."),
        ("snap-device-authorization" = Option<String>, Header, nullable = false, description = "`Macaroon root=\"<session>\"`: the device session from `POST /api/v1/snaps/auth/sessions`; it tells the device apart (by brand, model and serial) for progressive releases. Without it, the device's address does."),
    ),
    security((), ("macaroon" = [])),
    responses(
        (status = 200, description = "One result per action, in order; a failed action is a result with `\"result\": \"error\"`. A `refresh` result carrying the installed revision means no update; a `refresh` with no update whose installed revision the store does not have gets no result.", body = RefreshResponse),
        (status = 400, description = "`invalid-request` (no actions, too many items, duplicate instance keys), `invalid-series`, `invalid-architecture`; `invalid-json`.", body = ErrorBody),
        (status = 401, description = "`invalid-token`, `token-expired`: a token was sent and is not valid; `invalid-device-session`: a device session depot did not issue (from another store, or made with a store key depot no longer has), with `WWW-Authenticate: Macaroon refresh_device_session=1`, on which snapd asks for a new session and sends the request again.", body = ErrorBody, headers(("www-authenticate" = String, description = "`Macaroon`, or `Macaroon refresh_device_session=1`"))),
        (status = 413, description = "`body-too-large`: more than 1 MiB.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: the request is not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: a missing field, a wrong type or an unknown action.", body = ErrorBody),
    ),
)]
async fn refresh(
    State(app): State<AppState>,
    headers: HeaderMap,
    MaybeAuth(principal): MaybeAuth,
    ClientAddr(client): ClientAddr,
    Json(request): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(series) = headers.get("snap-device-series")
        && series != "16"
    {
        return Err(ApiError::bad_request(
            "invalid-series",
            format!(
                "unknown series {:?}: depot serves series 16",
                String::from_utf8_lossy(series.as_bytes())
            ),
        ));
    }
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
    let mut context = HashMap::with_capacity(request.context.len());
    for item in &request.context {
        if context.insert(item.instance_key.as_str(), item).is_some() {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!(
                    "instance key {:?} appears twice in context",
                    item.instance_key
                ),
            ));
        }
    }
    let mut action_keys = HashSet::new();
    for action in &request.actions {
        if action.action == ActionKind::FetchAssertions {
            continue;
        }
        if !action_keys.insert(action.instance_key.as_str()) {
            return Err(ApiError::bad_request(
                "invalid-request",
                format!(
                    "instance key {:?} appears twice in actions",
                    action.instance_key
                ),
            ));
        }
    }
    let fields = match &request.fields {
        Some(list) => Fields::parse(list.iter().map(String::as_str)),
        None => DEFAULT_FIELDS,
    };
    // A device session depot did not issue is refused before anything is counted.
    let device = super::devices::device_of(&app, &headers)?;
    // One snapshot answers the whole request.
    let catalog = app.catalog.snapshot();
    // The installed set feeds recommendations (counted once a day per set; see `related`).
    {
        let installed: Vec<&str> = request
            .context
            .iter()
            .map(|c| c.snap_id.as_str())
            .filter(|id| {
                catalog
                    .get_by_id(id)
                    .is_some_and(|s| s.package.namespace == crate::domain::Namespace::Snap)
            })
            .collect();
        app.related.record_installed(&installed);
    }
    let ctx = Ctx {
        app: &app,
        principal: principal.as_ref(),
        device: Device {
            architecture: device_architecture(None, &headers)?,
            scheduled: header("snap-refresh-reason") == Some("scheduled"),
            identity: match (device, client) {
                (Some(device), _) => format!(
                    "device {}\0{}\0{}",
                    device.brand_id, device.model, device.serial
                ),
                (None, Some(address)) => format!("address {address}"),
                (None, None) => String::new(),
            },
        },
        fields,
        now: chrono::Utc::now().timestamp(),
    };
    let mut results = Vec::with_capacity(request.actions.len());
    for action in &request.actions {
        let result = match action.action {
            ActionKind::Install | ActionKind::Download => {
                Some(Outcome::Snap(ctx.install(&catalog, action)))
            }
            ActionKind::Refresh => {
                let installed = context.get(action.instance_key.as_str()).copied();
                ctx.refresh(&catalog, action, installed).map(Outcome::Snap)
            }
            ActionKind::FetchAssertions => {
                Some(Outcome::Assertions(ctx.fetch_assertions(&catalog, action)))
            }
        };
        results.extend(result);
    }
    // Serialised here, while the catalog snapshot and the request it borrows from are alive.
    let size = 256 + results.len() * 2048;
    Ok(json_response(
        &RefreshAnswer {
            results,
            error_list: [(); 0],
        },
        size,
    ))
}

/// The body of `refresh` (its schema is [`RefreshResponse`]).
#[derive(Serialize)]
struct RefreshAnswer<'a> {
    results: Vec<Outcome<'a>>,
    #[serde(rename = "error-list")]
    error_list: [(); 0],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Package, Publisher};

    fn release(
        channel: &str,
        revision: u32,
        percentage: Option<f64>,
        previous: Option<u32>,
    ) -> Release {
        Release {
            channel: Channel::parse(channel).unwrap(),
            platform: "amd64".into(),
            revision,
            released_at: chrono::Utc::now(),
            expires_at: None,
            progressive_percentage: percentage,
            previous_revision: previous,
        }
    }

    fn state(releases: Vec<Release>) -> PackageState {
        let now = chrono::Utc::now();
        PackageState {
            package: Package {
                id: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
                namespace: Namespace::Snap,
                name: "hello".into(),
                publisher: Publisher {
                    id: "p".into(),
                    username: "p".into(),
                    display_name: "P".into(),
                    created_at: now,
                },
                title: String::new(),
                summary: String::new(),
                description: String::new(),
                license: String::new(),
                website: String::new(),
                contact: String::new(),
                categories: vec![],
                private: false,
                default_track: "latest".into(),
                tracks: vec![],
                created_at: now,
                updated_at: now,
            },
            revisions: vec![],
            releases,
            resources: Default::default(),
            libraries: vec![],
            rendered: Default::default(),
        }
    }

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn a_closed_risk_falls_back_to_a_more_stable_one() {
        let s = state(vec![release("latest/stable", 1, None, None)]);
        let r = resolve_device(&s, &Channel::parse("edge").unwrap(), &any, "k", 0).unwrap();
        assert_eq!(r.revision, 1);
        assert_eq!(r.channel.full(), "latest/stable");
    }

    #[test]
    fn progressive_releases_reach_about_their_percentage_and_always_the_same_devices() {
        let s = state(vec![release("latest/stable", 2, Some(30.0), Some(1))]);
        let stable = Channel::parse("stable").unwrap();
        let keys: Vec<String> = (0..10_000).map(|i| format!("snap-id:device-{i}")).collect();
        let new = keys
            .iter()
            .filter(|k| resolve_device(&s, &stable, &any, k, 0).unwrap().revision == 2)
            .count();
        assert!((2_800..=3_200).contains(&new), "{new} of 10000");
        for k in keys.iter().take(100) {
            let a = resolve_device(&s, &stable, &any, k, 0).unwrap().revision;
            let b = resolve_device(&s, &stable, &any, k, 0).unwrap().revision;
            assert_eq!(a, b);
            assert!(a == 1 || a == 2);
        }
    }

    #[test]
    fn a_progressive_release_with_nothing_before_it_lets_others_fall_back() {
        let s = state(vec![
            release("latest/stable", 1, None, None),
            release("latest/beta", 2, Some(0.0), None),
        ]);
        let r = resolve_device(&s, &Channel::parse("beta").unwrap(), &any, "k", 0).unwrap();
        assert_eq!(
            (r.revision, r.channel.full().as_str()),
            (1, "latest/stable")
        );
    }

    #[test]
    fn only_a_risk_names_no_track() {
        assert!(!names_track("stable"));
        assert!(!names_track("beta/hotfix"));
        assert!(names_track("2.0/stable"));
        assert!(names_track("latest"));
    }
}

/// `POST /v2/cohorts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CohortsRequest {
    /// Snap names.
    #[schema(example = json!(["hello-depot"]))]
    pub snaps: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CohortsResponse {
    /// A new cohort key for each public snap named.
    #[serde(rename = "cohort-keys")]
    pub cohort_keys: std::collections::BTreeMap<String, String>,
}

/// Creates cohort keys (`snap create-cohort`): devices that refresh a snap with the same
/// cohort key get the same revision, also while a progressive release is under way. Names
/// that are not public snaps are left out of the answer.
#[utoipa::path(
    post,
    path = "/v2/cohorts",
    tag = "snap-store",
    operation_id = "create-cohorts",
    request_body(content = CohortsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A cohort key per snap. Content type exactly `application/json`.", body = CohortsResponse),
        (status = 400, description = "`invalid-request`: no snaps, or more than 1,000; `invalid-json`: the body is not JSON.", body = ErrorBody),
        (status = 413, description = "`body-too-large`.", body = ErrorBody),
        (status = 415, description = "`invalid-json`: not `Content-Type: application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid-json`: not of the documented shape.", body = ErrorBody),
    ),
)]
async fn create_cohorts(
    State(app): State<AppState>,
    Json(request): Json<CohortsRequest>,
) -> ApiResult<axum::Json<CohortsResponse>> {
    if request.snaps.is_empty() || request.snaps.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(
            "invalid-request",
            format!("name 1 to {MAX_ITEMS} snaps"),
        ));
    }
    let catalog = app.catalog.snapshot();
    let cohort_keys = request
        .snaps
        .into_iter()
        .filter(|name| {
            catalog
                .get(crate::domain::Namespace::Snap, name)
                .is_some_and(|s| !s.package.private)
        })
        .map(|name| {
            let key = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            (name, key)
        })
        .collect();
    Ok(axum::Json(CohortsResponse { cohort_keys }))
}

/// A channel (`track/risk/branch`: letters, digits, `.`, `_`, `-`, `/`) as a query value.
pub(crate) fn percent_encode_channel(channel: &str) -> String {
    channel.replace('/', "%2F")
}
