//! The shapes of request and response bodies, for the OpenAPI document.
//!
//! The publisher API, the operations endpoints and the error envelope serialise these types
//! directly, so the document cannot drift from what they send. The device APIs build their
//! bodies field by field (clients choose the fields), so their types here only describe them;
//! the contract tests (tests/contract/run.sh) check real responses against the document.
//!
//! Response objects are closed (`additionalProperties: false`): the document lists every key
//! a response of this version carries. Keys are kebab-case except where a compatible client
//! expects otherwise (`upload_id`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use crate::auth::Scope;
use crate::domain::{Epoch, Namespace};
use crate::store::PackageRef;

/// A schema that admits only `null`: keys the compatible APIs always send as `null`.
fn null_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Null)
}

/// An array that depot always sends empty (kept for client compatibility).
fn empty_array() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(ObjectBuilder::new())
        .max_items(Some(0))
}

/// An object that depot always sends empty (kept for client compatibility).
fn empty_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(0))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Every error response: one entry in `error-list`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    #[serde(rename = "error-list")]
    #[schema(min_items = 1, max_items = 1)]
    pub error_list: Vec<ErrorItem>,
}

/// One error. Clients branch on `code` (listed in docs/reference/errors.md), never on `message`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorItem {
    /// Stable, kebab-case, machine-readable.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", example = "package-not-found")]
    pub code: &'static str,
    /// For people: what is wrong and what to do. May change between releases.
    pub message: String,
    /// Structured details, when an error has them. No current code sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, required = false)]
    pub extra: Option<serde_json::Value>,
}

// ---------------------------------------------------------------------------------------------
// Path parameters

/// The namespace of the publisher API (singular).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceName {
    Snap,
    Charm,
}

/// The namespace of the download paths (plural).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamespacePlural {
    Snaps,
    Charms,
}

// ---------------------------------------------------------------------------------------------
// Publisher API

/// `GET /v1/tokens/whoami`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WhoAmI {
    pub account: AccountView,
    /// Charmhub permission names equivalent to the scopes, sorted.
    pub permissions: Vec<&'static str>,
    #[schema(value_type = Vec<ScopeName>)]
    pub scopes: Vec<Scope>,
    /// The packages the token is restricted to, or `null` for none.
    #[schema(value_type = Option<Vec<PackageRefView>>, required = true)]
    pub packages: Option<Vec<PackageRef>>,
    /// Always `null`: tokens are not restricted by channel.
    #[schema(schema_with = null_schema)]
    pub channels: (),
    /// Expiry time (RFC 3339, UTC), or `null`.
    #[schema(format = DateTime, required = true)]
    pub expires: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccountView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    #[schema(required = true)]
    pub email: Option<String>,
}

/// A token scope.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum ScopeName {
    PackageUpload,
    PackageRelease,
    PackageManage,
    AccountRegisterPackage,
    Admin,
}

/// A package a token is restricted to.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PackageRefView {
    #[serde(rename = "type")]
    pub namespace: NamespaceName,
    pub name: String,
}

/// `POST /v1/{namespace}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 2 to 40 characters of `a-z`, `0-9`, `-`; at least one letter; no `-` at either end;
    /// no `--`. Other names are refused with `400 invalid-name`.
    #[schema(
        example = "hello-depot",
        min_length = 2,
        max_length = 40,
        pattern = "^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$"
    )]
    pub name: String,
    /// Must equal the namespace when given (`bundle` is refused with `unsupported-type`).
    #[serde(rename = "type")]
    #[schema(value_type = Option<NamespaceName>)]
    pub kind: Option<String>,
    /// A private package is hidden from the device APIs and downloads except for its
    /// publisher and `admin` tokens.
    #[serde(default)]
    pub private: bool,
    /// Accepted for Charmhub compatibility and ignored: depot has no teams.
    #[allow(dead_code)]
    pub team: Option<String>,
}

/// The id of a newly registered package.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    /// The package's permanent identifier (a snap's `snap-id`): 32 characters of
    /// `[A-Za-z0-9]`.
    pub id: String,
}

/// `GET /v1/{namespace}`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageList {
    pub results: Vec<PackageView>,
}

/// `GET /v1/{namespace}/{name}`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageMetadata {
    pub metadata: PackageView,
}

/// A registered package, as the publisher API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PackageView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(value_type = NamespaceName)]
    pub kind: Namespace,
    pub private: bool,
    pub status: PackageStatus,
    /// Always `depot`.
    pub store: &'static str,
    pub publisher: PublisherView,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    /// Absent when not set (craft-store reads it as a URL). depot stores what the publisher
    /// set and does not check that it is a URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub website: Option<String>,
    pub contact: String,
    pub categories: Vec<String>,
    pub default_track: String,
    /// The package's tracks in creation order.
    pub tracks: Vec<TrackView>,
    /// Always empty.
    #[schema(schema_with = empty_array)]
    pub track_guardrails: [(); 0],
    /// Always empty.
    #[schema(schema_with = empty_array)]
    pub media: [(); 0],
    /// Always empty.
    #[schema(schema_with = empty_object)]
    pub links: EmptyObject,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// `registered` while nothing is released, `published` once something is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageStatus {
    Registered,
    Published,
}

/// `{}`.
#[derive(Serialize)]
pub struct EmptyObject {}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PublisherView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// Always `unproven`.
    pub validation: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrackView {
    pub name: String,
    #[schema(required = true)]
    pub version_pattern: Option<String>,
    #[schema(required = true)]
    pub automatic_phasing_percentage: Option<f64>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// `POST /unscanned-upload/`: a `multipart/form-data` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The artifact's bytes. Other fields are ignored.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub binary: Vec<u8>,
}

/// The id of a stored upload (snake_case `upload_id`, as in the Snap Store's upload service).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadResponse {
    /// Always `true`.
    pub successful: bool,
    #[schema(format = "uuid")]
    pub upload_id: String,
}

/// `POST /v1/{namespace}/{name}/revisions`.
#[derive(Deserialize, ToSchema)]
pub struct PushRequest {
    /// An `upload_id` from `POST /unscanned-upload/`.
    #[serde(rename = "upload-id")]
    pub upload_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PushResponse {
    /// A path on this store: the review status of the push.
    pub status_url: String,
    /// The new revision's number; they count up from 1 per package.
    #[schema(minimum = 1)]
    pub revision: u32,
}

/// `GET /v1/{namespace}/{name}/revisions/review`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewResponse {
    #[schema(min_items = 1, max_items = 1)]
    pub revisions: Vec<ReviewView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReviewView {
    pub upload_id: String,
    #[schema(required = true)]
    pub revision: Option<u32>,
    /// Always `approved`: depot accepts or rejects an artifact during the push itself.
    pub status: &'static str,
    /// Always `null`.
    #[schema(schema_with = null_schema)]
    pub errors: (),
}

/// `GET /v1/{namespace}/{name}/revisions`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevisionList {
    pub revisions: Vec<RevisionView>,
}

/// A revision. `architectures`, `base`, `confinement`, `grade` and `type` are sent for snaps
/// only.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RevisionView {
    pub revision: u32,
    pub version: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Id of the account that pushed it.
    pub created_by: String,
    pub status: RevisionStatus,
    /// Always `null`.
    #[schema(schema_with = null_schema)]
    pub errors: (),
    /// Charm bases; empty for snaps.
    pub bases: Vec<BaseView>,
    /// SHA3-384 of the file, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{96}$")]
    pub sha3_384: String,
    /// SHA-256 of the file, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// SHA-384 (SHA-2) of the file, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{96}$")]
    pub sha384: String,
    pub size: u64,
    #[schema(value_type = EpochView)]
    pub epoch: Epoch,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub architectures: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub base: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub confinement: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub grade: Option<Option<String>>,
    /// The snap type (`app`, `base`, …).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kind: Option<String>,
}

/// `released` if the revision is in the current channel map, else `approved`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RevisionStatus {
    Released,
    Approved,
}

/// A charm base.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseView {
    #[schema(example = "ubuntu")]
    pub name: String,
    #[schema(example = "22.04")]
    pub channel: String,
    #[schema(example = "amd64")]
    pub architecture: String,
}

/// A snap epoch: the epochs whose data a revision can read and those it writes.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(examples(json!({"read": [0], "write": [0]})))]
pub struct EpochView {
    pub read: Vec<u32>,
    pub write: Vec<u32>,
}

/// `GET /v1/{namespace}/{name}/releases`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleasesResponse {
    /// One entry per (channel, platform) actually released, expired branches left out.
    pub channel_map: Vec<ReleaseView>,
    pub package: ReleasesPackage,
    /// The revisions that appear in `channel-map`.
    pub revisions: Vec<RevisionView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleaseView {
    pub channel: String,
    pub revision: u32,
    /// Snaps only: the architecture (or `all`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub architecture: Option<String>,
    /// Charms: the base, or `null` for a charm released for `all`. Snaps: `null`.
    #[schema(required = true)]
    pub base: Option<BaseView>,
    /// Always empty.
    #[schema(schema_with = empty_array)]
    pub resources: [(); 0],
    #[schema(format = DateTime, required = true)]
    pub expiration_date: Option<String>,
    pub progressive: ProgressiveView,
    #[schema(format = DateTime)]
    pub when: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressiveView {
    /// Always `null`.
    #[schema(schema_with = null_schema)]
    pub paused: (),
    /// The percentage sent with the release, or `null`.
    #[schema(required = true)]
    pub percentage: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasesPackage {
    /// For each track its four risks, then its branches with live releases.
    pub channels: Vec<ChannelView>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelView {
    pub name: String,
    pub track: String,
    pub risk: RiskName,
    #[schema(required = true)]
    pub branch: Option<String>,
    /// The channel a device on this one gets when it is empty.
    #[schema(required = true)]
    pub fallback: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RiskName {
    Stable,
    Candidate,
    Beta,
    Edge,
}

/// `POST /v1/{namespace}/{name}/releases`: 1 to 100 items.
#[derive(Deserialize, ToSchema)]
#[schema(min_items = 1, max_items = 100)]
pub struct ReleasesRequest(pub Vec<ReleaseRequestItem>);

/// One item of `POST /v1/{namespace}/{name}/releases`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequestItem {
    /// `[track/]risk[/branch]`.
    #[schema(example = "latest/edge")]
    pub channel: String,
    /// The revision to release; omitted or `null` closes the channel.
    #[schema(minimum = 1, maximum = 4294967295.0)]
    pub revision: Option<u32>,
    /// Charms: the resource revisions released with `revision`,
    /// `[{"name": "data", "revision": 2}]`. Empty: the channel keeps its resource revisions.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<serde_json::Value>,
    /// Recorded with the release and shown in the channel map.
    #[serde(default, deserialize_with = "object_only")]
    pub progressive: Option<ProgressiveRequest>,
}

/// An optional JSON object: serde's derived structs also read arrays (`[50, null]` as
/// `{"percentage": 50, "paused": null}`), which the schema does not allow.
fn object_only<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    Option::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?
        .map(|object| serde_json::from_value(serde_json::Value::Object(object)))
        .transpose()
        .map_err(D::Error::custom)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressiveRequest {
    #[schema(minimum = 0, maximum = 100)]
    pub percentage: Option<f64>,
    /// As the channel map shows it: `null` or `false`. Pausing is not supported (`true` is
    /// `400 invalid-progressive`).
    #[serde(default)]
    pub paused: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseResponse {
    pub released: Vec<ReleasedView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleasedView {
    pub channel: String,
    /// `null` for a closed channel.
    #[schema(required = true)]
    pub revision: Option<u32>,
    #[schema(format = DateTime, required = true)]
    pub expiration_date: Option<String>,
}

/// `POST /v1/{namespace}/{name}/tracks`: 1 to 100 items.
#[derive(Deserialize, ToSchema)]
#[schema(min_items = 1, max_items = 100)]
pub struct TracksRequest(pub Vec<TrackRequest>);

/// One item of `POST /v1/{namespace}/{name}/tracks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrackRequest {
    /// 1 to 28 characters of letters, digits and `.`, `_`, `-` between them; not a risk name.
    #[schema(
        example = "2.0",
        min_length = 1,
        max_length = 28,
        pattern = "^[a-zA-Z0-9]([_.-]?[a-zA-Z0-9])*$"
    )]
    pub name: String,
    /// At most 128 characters.
    #[schema(max_length = 128)]
    pub version_pattern: Option<String>,
    #[schema(minimum = 0, maximum = 100)]
    pub automatic_phasing_percentage: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TracksResponse {
    /// Tracks that already existed are skipped and not counted.
    pub num_tracks_created: usize,
}

// ---------------------------------------------------------------------------------------------
// Snap Store device API (described, not serialised: clients choose the fields)

/// `GET /v2/snaps/info/{name}`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnapInfo {
    pub name: String,
    pub snap_id: String,
    /// The snap-level fields that were asked for (all of them without `fields`).
    pub snap: SnapInfoSnap,
    pub channel_map: Vec<SnapChannelMapEntry>,
}

/// Snap-level fields; each is present when asked for (or when `fields` is absent).
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnapInfoSnap {
    #[schema(required = false)]
    pub categories: Vec<CategoryView>,
    #[schema(required = false, schema_with = empty_array)]
    pub common_ids: (),
    #[schema(required = false)]
    pub contact: String,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub license: String,
    #[schema(required = false, schema_with = empty_object)]
    pub links: (),
    #[schema(required = false, schema_with = empty_array)]
    pub media: (),
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false, schema_with = empty_object)]
    pub prices: (),
    #[schema(required = false)]
    pub private: bool,
    #[schema(required = false)]
    pub publisher: PublisherView,
    #[schema(required = false)]
    pub snap_id: String,
    /// Always empty.
    #[schema(required = false)]
    pub store_url: String,
    #[schema(required = false)]
    pub summary: String,
    /// The snap's title, or its name when it has none.
    #[schema(required = false)]
    pub title: String,
    #[schema(required = false)]
    pub website: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CategoryView {
    /// Always `false`.
    pub featured: bool,
    pub name: String,
}

/// One channel of the effective channel map, with the revision-level fields that were asked
/// for (without `fields`: all but `grade` and `snap-yaml`).
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnapChannelMapEntry {
    pub channel: SnapChannel,
    #[schema(required = false)]
    pub architectures: Vec<String>,
    #[schema(required = false)]
    pub base: Option<String>,
    #[schema(required = false)]
    pub confinement: Option<String>,
    #[schema(required = false, format = DateTime)]
    pub created_at: String,
    #[schema(required = false)]
    pub download: SnapDownload,
    #[schema(required = false)]
    pub epoch: EpochView,
    #[schema(required = false)]
    pub grade: Option<String>,
    #[schema(required = false)]
    pub revision: u32,
    /// The raw `meta/snap.yaml`.
    #[schema(required = false)]
    pub snap_yaml: Option<String>,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub kind: String,
    #[schema(required = false)]
    pub version: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnapChannel {
    pub architecture: String,
    /// The channel; the track is left out when it is `latest` (`stable`, `2.0/stable`).
    pub name: String,
    pub risk: RiskName,
    pub track: String,
    #[schema(format = DateTime)]
    pub released_at: String,
    /// Branch entries only.
    #[schema(required = false)]
    pub branch: String,
    /// Branch entries only.
    #[schema(required = false, format = DateTime)]
    pub expiration_date: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SnapDownload {
    #[schema(format = "uri")]
    pub url: String,
    #[serde(rename = "sha3-384")]
    #[schema(pattern = "^[0-9a-f]{96}$")]
    pub sha3_384: String,
    pub size: u64,
    /// Always empty.
    #[schema(schema_with = empty_array)]
    pub deltas: (),
}

/// `POST /v2/snaps/refresh` (snapd's `snapActionResultList`).
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RefreshResponse {
    /// One per action, in the order of the actions; a `refresh` with no update whose
    /// installed revision the store does not have gets none.
    pub results: Vec<RefreshResult>,
    /// Always empty: failures are per result.
    #[schema(schema_with = empty_array)]
    pub error_list: (),
}

#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum RefreshResultKind {
    Install,
    Download,
    Refresh,
    Error,
    FetchAssertions,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RefreshResult {
    pub result: RefreshResultKind,
    pub instance_key: String,
    /// Absent only when an action named neither a snap nor an id.
    #[schema(required = false)]
    pub snap_id: String,
    #[schema(required = false)]
    pub name: String,
    /// The channel the revision was found on (`latest/stable` for a request on `edge` that
    /// fell back). Absent for a revision asked for by number.
    #[schema(required = false)]
    pub effective_channel: String,
    /// The channel to follow from now on, when the request named no track and the snap's
    /// default track is not `latest`.
    #[schema(required = false)]
    pub redirect_channel: String,
    /// The revision, with the requested fields. For `refresh`, the installed revision when
    /// there is no update.
    #[schema(required = false)]
    pub snap: RefreshSnap,
    /// `fetch-assertions` only: the group key.
    #[schema(required = false)]
    pub key: Option<String>,
    /// `fetch-assertions` only: where to GET each assertion the store has (as
    /// `application/x.ubuntu.assertion`).
    #[schema(required = false)]
    pub assertion_stream_urls: Vec<String>,
    /// `fetch-assertions` only, when some assertions are missing: `not-found` (or
    /// `invalid-primary-key`) with the assertion's `type` and `primary-key` (or `sequence-key`).
    #[schema(required = false, value_type = Vec<Object>)]
    pub error_list: serde_json::Value,
    /// For `"result": "error"`: `name-not-found`, `id-not-found`, `revision-not-found` (with
    /// `extra.releases`), `invalid-channel`, `invalid-action`.
    #[schema(required = false)]
    pub error: ErrorItemView,
}

/// One error of a refresh result.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorItemView {
    pub code: String,
    pub message: String,
    /// `revision-not-found`: `{"releases": [{"architecture", "channel"}]}`, where the snap is
    /// released for the device.
    #[schema(required = false, value_type = Object)]
    pub extra: serde_json::Value,
}

/// snapd's `storeSnap` with the requested fields: the snap-level fields of
/// [`SnapInfoSnap`] and the revision-level fields of [`SnapChannelMapEntry`].
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RefreshSnap {
    #[schema(required = false)]
    pub categories: Vec<CategoryView>,
    #[schema(required = false, schema_with = empty_array)]
    pub common_ids: (),
    #[schema(required = false)]
    pub contact: String,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub license: String,
    #[schema(required = false, schema_with = empty_object)]
    pub links: (),
    #[schema(required = false, schema_with = empty_array)]
    pub media: (),
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false, schema_with = empty_object)]
    pub prices: (),
    #[schema(required = false)]
    pub private: bool,
    #[schema(required = false)]
    pub publisher: PublisherView,
    #[schema(required = false)]
    pub snap_id: String,
    #[schema(required = false)]
    pub store_url: String,
    #[schema(required = false)]
    pub summary: String,
    #[schema(required = false)]
    pub title: String,
    #[schema(required = false)]
    pub website: String,
    #[schema(required = false)]
    pub architectures: Vec<String>,
    #[schema(required = false)]
    pub base: Option<String>,
    #[schema(required = false)]
    pub confinement: Option<String>,
    #[schema(required = false, format = DateTime)]
    pub created_at: String,
    #[schema(required = false)]
    pub download: SnapDownload,
    #[schema(required = false)]
    pub epoch: EpochView,
    #[schema(required = false)]
    pub grade: Option<String>,
    #[schema(required = false)]
    pub revision: u32,
    #[schema(required = false)]
    pub snap_yaml: Option<String>,
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub kind: String,
    #[schema(required = false)]
    pub version: String,
}

/// `GET /v2/snaps/categories`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CategoriesResponse {
    pub categories: Vec<CategoryName>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CategoryName {
    pub name: String,
}

// ---------------------------------------------------------------------------------------------
// Charmhub API (described, not serialised: clients choose the fields)

/// `GET /v2/charms/info/{name}`. With `fields`, only the listed dotted paths are kept below
/// the top level, so every key under `result`, `channel-map` and `default-release` may be
/// absent; without it everything is present.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmInfo {
    /// Always `charm`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: String,
    #[schema(required = false)]
    pub result: CharmResult,
    #[schema(required = false)]
    pub channel_map: Vec<CharmChannelMapEntry>,
    /// The release a deployment of `channel` gets, or `null` when there is none.
    #[schema(required = false)]
    pub default_release: Option<CharmChannelMapEntry>,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmResult {
    #[schema(required = false)]
    pub bugs_url: String,
    #[schema(required = false)]
    pub categories: Vec<CategoryView>,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub license: String,
    #[schema(required = false)]
    pub publisher: CharmPublisher,
    #[schema(required = false)]
    pub store_url: String,
    #[schema(required = false)]
    pub summary: String,
    #[schema(required = false)]
    pub title: String,
    #[schema(required = false, schema_with = empty_array)]
    pub used_by: (),
    #[schema(required = false)]
    pub website: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmPublisher {
    #[schema(required = false)]
    pub display_name: String,
    #[schema(required = false)]
    pub id: String,
    #[schema(required = false)]
    pub username: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmChannelMapEntry {
    #[schema(required = false)]
    pub channel: CharmChannel,
    #[schema(required = false)]
    pub revision: CharmRevision,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmChannel {
    /// `track/risk[/branch]`.
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false)]
    pub track: String,
    #[schema(required = false)]
    pub risk: RiskName,
    #[schema(required = false, format = DateTime)]
    pub released_at: String,
    /// The base; `{"name": "NA", "channel": "NA", "architecture": "all"}` for a charm
    /// released for `all`.
    #[schema(required = false)]
    pub base: CharmBase,
    /// Branch entries only.
    #[schema(required = false)]
    pub branch: String,
    /// Branch entries only.
    #[schema(required = false, format = DateTime)]
    pub expiration_date: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmBase {
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false)]
    pub channel: String,
    #[schema(required = false)]
    pub architecture: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmRevision {
    #[schema(required = false)]
    pub revision: u32,
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false, format = DateTime)]
    pub created_at: String,
    #[schema(required = false)]
    pub download: CharmDownload,
    #[schema(required = false)]
    pub bases: Vec<CharmBase>,
    #[schema(required = false)]
    pub metadata_yaml: String,
    #[schema(required = false)]
    pub config_yaml: String,
    #[schema(required = false)]
    pub actions_yaml: String,
    /// Always empty.
    #[schema(required = false)]
    pub bundle_yaml: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmDownload {
    #[schema(required = false, format = "uri")]
    pub url: String,
    #[schema(required = false)]
    pub size: u64,
    /// SHA-256 of the file.
    #[schema(required = false, pattern = "^[0-9a-f]{64}$")]
    pub hash_sha_256: String,
    /// SHA-384 (SHA-2) of the file.
    #[schema(required = false, pattern = "^[0-9a-f]{96}$")]
    pub hash_sha_384: String,
    /// SHA3-384 of the file.
    #[serde(rename = "hash-sha3-384")]
    #[schema(required = false, pattern = "^[0-9a-f]{96}$")]
    pub hash_sha3_384: String,
}

/// `POST /v2/charms/refresh` (juju's `RefreshResponses`).
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmRefreshResponse {
    /// One per action, in the order of the actions.
    pub results: Vec<CharmRefreshResult>,
    /// Always empty: failures are per result.
    #[schema(schema_with = empty_array)]
    pub error_list: (),
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmRefreshResult {
    /// `install`, `download`, `refresh` or `error`.
    pub result: String,
    pub instance_key: String,
    /// The charm id (absent when the action named an unknown charm by name).
    #[schema(required = false)]
    pub id: String,
    #[schema(required = false)]
    pub name: String,
    /// The channel the revision was found on, in full (`latest/stable` for a request on
    /// `edge` that fell back). Absent for a revision asked for by number.
    #[schema(required = false)]
    pub effective_channel: String,
    /// When the revision was released to `effective-channel`.
    #[schema(required = false, format = DateTime)]
    pub released_at: String,
    /// The revision, with the requested fields. For `refresh`, the deployed revision when
    /// there is no update.
    #[schema(required = false)]
    pub charm: CharmRefreshEntity,
    /// For `"result": "error"`; `extra.releases` lists `{base, channel}` where the charm is
    /// released (a base's entries include the releases for `all` architectures of it).
    #[schema(required = false)]
    pub error: ErrorItemView,
}

/// juju's `RefreshEntity`, with the requested fields.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmRefreshEntity {
    /// Always `charm`.
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub kind: String,
    #[schema(required = false)]
    pub id: String,
    #[schema(required = false)]
    pub name: String,
    #[schema(required = false)]
    pub license: String,
    #[schema(required = false)]
    pub summary: String,
    #[schema(required = false)]
    pub version: String,
    #[schema(required = false)]
    pub revision: u32,
    #[schema(required = false, format = DateTime)]
    pub created_at: String,
    #[schema(required = false)]
    pub publisher: CharmPublisher,
    #[schema(required = false)]
    pub bases: Vec<CharmBase>,
    #[schema(required = false)]
    pub download: CharmRefreshDownload,
    /// The charm's resources at the revisions released with it.
    #[schema(required = false)]
    pub resources: Vec<CharmResourceRevision>,
    /// Absent when the charm has none.
    #[schema(required = false)]
    pub metadata_yaml: String,
    #[schema(required = false)]
    pub config_yaml: String,
    #[schema(required = false)]
    pub actions_yaml: String,
}

/// juju's `Download`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmRefreshDownload {
    #[schema(format = "uri")]
    pub url: String,
    pub size: u64,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash_sha_256: String,
    #[schema(pattern = "^[0-9a-f]{96}$")]
    pub hash_sha_384: String,
}

/// juju's `ResourceRevision`.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmResourceRevision {
    pub name: String,
    /// `file` (`oci-image` resources are not served).
    #[serde(rename = "type")]
    pub kind: String,
    pub filename: String,
    pub description: String,
    pub revision: u32,
    pub download: CharmRefreshDownload,
}

/// `GET /v2/charms/resources/{charm}/{resource}/revisions`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CharmResourceRevisions {
    pub revisions: Vec<CharmResourceRevision>,
}

// ---------------------------------------------------------------------------------------------
// Operations

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub database: DatabaseStatus,
    /// Whether artifacts can be stored and read.
    pub blobs: BlobsStatus,
    pub catalog: CatalogStatus,
    /// Whether this process keeps its catalog up to date with the change log.
    pub follower: FollowerStatus,
    /// What works and what does not, in a sentence.
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlobsStatus {
    /// `ok`, or `unavailable` when a file cannot be written in the blob directory (or the S3
    /// bucket cannot be listed) within 2 s: downloads and uploads fail. Checked at most once
    /// a second.
    pub status: &'static str,
    /// What fails; the server log says why (paths and storage errors are not told here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowerStatus {
    /// `following`, or `failing` when the last attempt to read the change log failed (reads
    /// are served from a snapshot that may be stale).
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadyStatus {
    /// Serving reads and writes.
    Ready,
    /// The database is unreachable (reads are served from the catalog, writes fail), the
    /// catalog is not following the change log (reads may be stale), or blob storage is not
    /// usable (downloads and uploads fail).
    Degraded,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    Ok,
    Unreachable,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogStatus {
    /// Packages in this process's catalog.
    pub packages: u64,
    /// The last change this process has applied.
    pub seq: i64,
}

/// Raw bytes: `{"type": "string", "format": "binary"}`.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}
