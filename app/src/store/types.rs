//! Records the store reads and writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Scope;
use crate::domain::{Channel, Epoch, Namespace};

/// A position in the change log.
pub type Seq = i64;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
}

/// A package a token is restricted to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    #[serde(rename = "type")]
    pub namespace: Namespace,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub account_id: String,
    pub scopes: Vec<Scope>,
    /// `None`: every package the account may touch.
    pub packages: Option<Vec<PackageRef>>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub account_id: String,
    /// SHA-256 of the secret, hex. The secret itself is never stored.
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub packages: Option<Vec<PackageRef>>,
    pub description: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Publisher {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// When the account was created (the timestamp of its `account` assertion).
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub name: String,
    pub version_pattern: Option<String>,
    pub automatic_phasing_percentage: Option<f64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewTrack {
    pub name: String,
    pub version_pattern: Option<String>,
    pub automatic_phasing_percentage: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub id: String,
    pub namespace: Namespace,
    pub name: String,
    pub publisher: Publisher,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub website: String,
    pub contact: String,
    pub categories: Vec<String>,
    pub private: bool,
    pub default_track: String,
    pub tracks: Vec<Track>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewPackage {
    pub namespace: Namespace,
    pub name: String,
    pub publisher_id: String,
    pub private: bool,
}

/// A publisher's change to package metadata: each field set replaces the stored one.
#[derive(Clone, Debug, Default)]
pub struct MetadataUpdate {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub website: Option<String>,
    pub contact: Option<String>,
    pub categories: Option<Vec<String>>,
    pub default_track: Option<String>,
}

/// A charm base (Juju's `{name, channel, architecture}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Base {
    pub name: String,
    pub channel: String,
    pub architecture: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u32,
    pub version: String,
    pub sha3_384: String,
    pub sha256: String,
    /// SHA-384 (SHA-2), hex.
    pub sha384: String,
    pub size: u64,
    /// Snap architectures (`all` for architecture-independent snaps). Empty for charms.
    pub architectures: Vec<String>,
    /// Charm bases. Empty for snaps.
    pub bases: Vec<Base>,
    pub base: Option<String>,
    pub confinement: Option<String>,
    pub grade: Option<String>,
    /// Snap type (`app`, `base`, …) or `charm`.
    pub kind: String,
    pub epoch: Epoch,
    /// What inspection read from the artifact (raw `snap.yaml`, `metadata.yaml`, …).
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl Revision {
    /// The platforms this revision is released on: architectures for snaps, bases for charms.
    pub fn platforms(&self) -> Vec<String> {
        if !self.bases.is_empty() {
            self.bases.iter().map(platform_of_base).collect()
        } else if !self.architectures.is_empty() {
            self.architectures.clone()
        } else {
            vec!["all".to_string()]
        }
    }
}

/// The platform key of a charm base: `name/channel/architecture`.
pub fn platform_of_base(base: &Base) -> String {
    format!("{}/{}/{}", base.name, base.channel, base.architecture)
}

/// A charm base's platform key read back: `(name, channel, architecture)`. A channel may hold
/// `/` (`22.04/stable`); names and architectures cannot, so the name ends at the first `/` and
/// the architecture starts after the last. `None` for a snap's platform (an architecture).
pub fn split_platform(platform: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = platform.split_once('/')?;
    let (channel, architecture) = rest.rsplit_once('/')?;
    Some((name, channel, architecture))
}

/// Package-level metadata an artifact brings; applied to the package on push.
#[derive(Clone, Debug, Default)]
pub struct ArtifactText {
    pub title: Option<String>,
    pub summary: String,
    pub description: String,
    pub license: Option<String>,
    pub website: Option<String>,
    pub contact: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewRevision {
    pub package_id: String,
    pub upload_id: String,
    pub version: String,
    pub architectures: Vec<String>,
    pub bases: Vec<Base>,
    pub base: Option<String>,
    pub confinement: Option<String>,
    pub grade: Option<String>,
    pub kind: String,
    pub epoch: Epoch,
    pub metadata: serde_json::Value,
    pub text: ArtifactText,
    pub created_by: String,
}

/// One package of a bulk import (`depot admin import`): registered, given revision 1 from an
/// already stored blob, released to `channel` and categorised — what `register_package`,
/// `stage_upload`, `push_revision`, `release` and `update_metadata` would do one after the
/// other, written with many others in one transaction.
#[derive(Clone, Debug)]
pub struct ImportPackage {
    pub namespace: Namespace,
    pub name: String,
    pub publisher_id: String,
    /// The revision's blob (`id` names the upload row the import records for it).
    pub upload: NewUpload,
    pub version: String,
    pub architectures: Vec<String>,
    pub base: Option<String>,
    pub confinement: Option<String>,
    pub grade: Option<String>,
    pub kind: String,
    pub metadata: serde_json::Value,
    pub text: ArtifactText,
    pub channel: Channel,
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewUpload {
    pub id: String,
    pub sha3_384: String,
    pub sha256: String,
    /// SHA-384 (SHA-2), hex.
    pub sha384: String,
    pub size: u64,
    pub created_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    pub id: String,
    pub sha3_384: String,
    pub sha256: String,
    /// SHA-384 (SHA-2), hex.
    pub sha384: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub package_id: Option<String>,
    pub revision: Option<u32>,
}

/// One entry of a package's current channel map: a revision on a channel for one platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub channel: Channel,
    pub platform: String,
    pub revision: u32,
    pub released_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub progressive_percentage: Option<f64>,
    /// For a progressive release: the revision it replaced on this channel and platform,
    /// which the devices outside the percentage keep.
    pub previous_revision: Option<u32>,
}

impl crate::domain::resolve::ReleaseEntry for Release {
    fn channel(&self) -> &Channel {
        &self.channel
    }
    fn expires_at(&self) -> Option<i64> {
        self.expires_at.map(|t| t.timestamp())
    }
}

/// One request of a release call: put `revision` on `channel`, or close it when `None`.
#[derive(Clone, Debug)]
pub struct ReleaseItem {
    pub channel: Channel,
    pub revision: Option<u32>,
    pub progressive_percentage: Option<f64>,
    /// Charm resource revisions released with `revision` (name, revision). Empty: the
    /// channel keeps the resource revisions it had.
    pub resources: Vec<(String, u32)>,
}

#[derive(Clone, Debug)]
pub struct ReleaseRequest {
    pub package_id: String,
    pub items: Vec<ReleaseItem>,
    pub released_by: String,
    /// How long a release to a branch lives.
    pub branch_lifetime_secs: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Released {
    pub channel: Channel,
    pub revision: Option<u32>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub channel: Channel,
    pub revision: Option<u32>,
    pub platforms: Vec<String>,
    pub released_at: DateTime<Utc>,
    pub released_by: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a change was about. Stored as a string; unknown kinds are tolerated by readers.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: Seq,
    pub kind: String,
    pub package_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Everything the catalog holds about one package.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageState {
    pub package: Package,
    /// Sorted by revision number.
    pub revisions: Vec<Revision>,
    pub releases: Vec<Release>,
    /// Charm resources (empty for snaps).
    pub resources: ResourceState,
    /// Charm libraries (empty for snaps), sorted by name.
    pub libraries: Vec<CharmLibrary>,
    /// JSON text of the package's fields, rendered on first use.
    pub rendered: RenderedJson,
}

impl PackageState {
    /// Whether revision `number` is released at `now`: on a channel (an entry that has not
    /// expired), or as the revision a progressive release replaced, which the devices it has
    /// not reached yet are still given.
    pub fn is_released(&self, number: u32, now: i64) -> bool {
        use crate::domain::resolve::ReleaseEntry as _;
        self.releases.iter().any(|r| {
            (r.revision == number || r.previous_revision == Some(number)) && !r.is_expired(now)
        })
    }

    /// Whether anyone who may see the package may download revision `number` at `now`: one
    /// that is released ([`PackageState::is_released`]), or any older than the newest released
    /// one. Revisions pushed after the newest release (builds not released yet) are the
    /// publisher's. The older ones stay public because a device may fetch a revision a moment
    /// after it was replaced (snapd downloads the snaps of a refresh one after the other, and
    /// resumes a broken download), and depot keeps no history of what was once released in
    /// memory.
    pub fn is_public_revision(&self, number: u32, now: i64) -> bool {
        use crate::domain::resolve::ReleaseEntry as _;
        self.is_released(number, now)
            || self
                .releases
                .iter()
                .filter(|r| !r.is_expired(now))
                .any(|r| number <= r.revision)
    }

    /// The package's description as a JSON string (quoted and escaped), rendered once per state:
    /// every `info`, `find` and `refresh` answer about the package carries it, and escaping a
    /// long text again for each was the largest single cost of a refresh.
    pub fn description_json(&self) -> &serde_json::value::RawValue {
        self.rendered.description.get_or_init(|| {
            serde_json::value::to_raw_value(&self.package.description)
                .expect("a string always serialises")
        })
    }

    pub fn library(&self, id: &str) -> Option<&CharmLibrary> {
        self.libraries.iter().find(|l| l.id == id)
    }
}

/// JSON text rendered from a [`PackageState`] on first use and kept with it. A state is never
/// changed once the catalog holds it (a write makes a new one), so the text stays right for the
/// state's whole life. A clone starts empty, since a clone may be changed; equality ignores it.
#[derive(Default)]
pub struct RenderedJson {
    description: std::sync::OnceLock<Box<serde_json::value::RawValue>>,
    /// The last [`RenderedJson::OBJECTS`] objects rendered, newest last, by what they were
    /// rendered from.
    objects: std::sync::Mutex<Vec<(RenderKey, std::sync::Arc<serde_json::value::RawValue>)>>,
}

/// What a text rendered from a package state depends on besides the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderKey {
    /// A `storeSnap` object: which fields, which revision, the channel its download URL names
    /// and the channel it names itself.
    Object {
        fields: u32,
        revision: u32,
        channel: Option<String>,
        entry: Option<String>,
    },
    /// A whole `GET /v2/snaps/find` result (name, id, the snap-level fields and those of the
    /// revision shown): which fields, which revision, and the channel it names (`None` when
    /// the fields leave it out).
    FindResult {
        fields: u32,
        revision: u32,
        entry: Option<String>,
    },
    /// A whole `info` answer: which fields, for which architecture (`None`: every one). Only
    /// for states whose channel map cannot change with time (no release expires).
    Info {
        fields: u32,
        architecture: Option<String>,
    },
}

/// Bytes of text kept by every [`RenderedJson`] of the process together.
static KEPT_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// The most [`KEPT_BYTES`] may be; past it, texts are rendered and not kept.
static KEEP_LIMIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);

impl RenderedJson {
    /// Bounds the bytes of text every state of the process keeps together (`render_cache_mib`);
    /// once reached, texts are rendered for each request until states holding some are
    /// replaced or dropped.
    pub fn set_limit(bytes: usize) {
        KEEP_LIMIT.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes of text kept now, by every state together.
    pub fn kept_bytes() -> usize {
        KEPT_BYTES.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `bytes` more as kept, unless that would pass the limit.
    fn reserve(bytes: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let limit = KEEP_LIMIT.load(Relaxed);
        KEPT_BYTES
            .fetch_update(Relaxed, Relaxed, |kept| {
                kept.checked_add(bytes).filter(|total| *total <= limit)
            })
            .is_ok()
    }

    fn release(bytes: usize) {
        KEPT_BYTES.fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Texts kept per state: devices asking about a package mostly ask for the same fields of
    /// the same revision, so a few (a refresh answer's object, a search result, an `info`
    /// answer) cover nearly every request while bounding the memory (under a kilobyte an
    /// object without the description; a few kilobytes an `info` answer).
    pub const OBJECTS: usize = 4;

    /// The text rendered for `key`: from the cache, or `render`ed and kept (the oldest of the
    /// state's texts makes way).
    pub fn object(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Box<serde_json::value::RawValue>,
    ) -> std::sync::Arc<serde_json::value::RawValue> {
        match self.try_object(key, || Ok::<_, std::convert::Infallible>(render())) {
            Ok(object) => object,
        }
    }

    /// [`RenderedJson::object`] for a render that may fail; a failure is not kept.
    pub fn try_object<E>(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Result<Box<serde_json::value::RawValue>, E>,
    ) -> Result<std::sync::Arc<serde_json::value::RawValue>, E> {
        let lock = || self.objects.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, object)) = lock().iter().find(|(k, _)| *k == key) {
            return Ok(object.clone());
        }
        // Rendered outside the lock; two requests racing both render, and both keep theirs.
        let object: std::sync::Arc<serde_json::value::RawValue> = render()?.into();
        let mut objects = lock();
        if !objects.iter().any(|(k, _)| *k == key) {
            if objects.len() >= Self::OBJECTS {
                let (_, oldest) = objects.remove(0);
                Self::release(oldest.get().len());
            }
            if Self::reserve(object.get().len()) {
                objects.push((key, object.clone()));
            }
        }
        Ok(object)
    }
}

impl Drop for RenderedJson {
    fn drop(&mut self) {
        let objects = self.objects.get_mut().unwrap_or_else(|e| e.into_inner());
        Self::release(objects.iter().map(|(_, text)| text.get().len()).sum());
    }
}

impl Clone for RenderedJson {
    fn clone(&self) -> Self {
        RenderedJson::default()
    }
}

impl PartialEq for RenderedJson {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RenderedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderedJson")
    }
}

/// A charm's resource revisions and which of them each channel serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceState {
    /// Sorted by name, then revision.
    pub revisions: Vec<ResourceRevision>,
    /// The resource revisions released with each channel.
    pub released: Vec<ReleasedResource>,
}

impl ResourceState {
    pub fn find(&self, name: &str, revision: u32) -> Option<&ResourceRevision> {
        self.revisions
            .iter()
            .find(|r| r.name == name && r.revision == revision)
    }

    /// The revision of resource `name` released with `channel`, if any.
    pub fn on_channel(&self, channel: &Channel, name: &str) -> Option<&ResourceRevision> {
        let pinned = self
            .released
            .iter()
            .find(|r| &r.channel == channel && r.name == name)?;
        self.find(name, pinned.revision)
    }
}

/// One uploaded revision of a charm resource file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRevision {
    pub name: String,
    pub revision: u32,
    /// `file`.
    pub kind: String,
    pub upload_id: String,
    pub sha3_384: String,
    pub sha256: String,
    pub sha384: String,
    pub sha512: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// What the revision is for; one base of every architecture unless the publisher said.
    pub bases: Vec<ResourceBase>,
    /// When its bases were last changed, and by whom.
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// A base a resource revision is for, in craft-store's shape: `all`/`all` and architectures
/// (`all` for every one) is what charmcraft sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceBase {
    #[schema(example = "all")]
    pub name: String,
    #[schema(example = "all")]
    pub channel: String,
    #[schema(example = json!(["amd64", "arm64"]))]
    pub architectures: Vec<String>,
}

impl ResourceBase {
    /// Every base and architecture: what a revision is for unless its publisher said.
    pub fn every() -> Vec<ResourceBase> {
        vec![ResourceBase {
            name: "all".into(),
            channel: "all".into(),
            architectures: vec!["all".into()],
        }]
    }
}

/// A resource revision released with a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ReleasedResource {
    pub channel: Channel,
    pub name: String,
    pub revision: u32,
}

#[derive(Clone, Debug)]
pub struct NewResourceRevision {
    pub package_id: String,
    pub name: String,
    pub kind: String,
    pub upload_id: String,
    /// SHA-512 of the upload, hex (uploads record the other digests).
    pub sha512: String,
    pub created_by: String,
    pub bases: Vec<ResourceBase>,
}

/// A charm library: a Python module the charm publishes in `API.PATCH` versions.
#[derive(Clone, Debug, PartialEq)]
pub struct CharmLibrary {
    /// Assigned by the store (32 hex digits); the module declares it as `LIBID`.
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// Sorted by API, then patch.
    pub versions: Vec<LibraryVersion>,
}

impl CharmLibrary {
    /// The newest version of API `api`, or of the newest API when `api` is `None`.
    pub fn tip(&self, api: Option<u32>) -> Option<&LibraryVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| api.is_none_or(|api| v.api == api))
    }

    /// The newest version of every API, oldest API first.
    pub fn tips(&self) -> impl Iterator<Item = &LibraryVersion> {
        self.versions.iter().enumerate().filter_map(|(i, v)| {
            let last_of_api = self.versions.get(i + 1).is_none_or(|n| n.api != v.api);
            last_of_api.then_some(v)
        })
    }
}

/// One published version of a charm library.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryVersion {
    pub api: u32,
    pub patch: u32,
    /// The module's source.
    pub content: std::sync::Arc<str>,
    /// SHA-256 (hex) of the content without its `LIBID`/`LIBAPI`/`LIBPATCH` lines.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct NewLibrary {
    pub package_id: String,
    pub name: String,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct NewLibraryVersion {
    pub package_id: String,
    pub library_id: String,
    pub api: u32,
    pub patch: u32,
    pub content: String,
    pub hash: String,
    pub created_by: String,
}

/// Aggregate co-installation counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoInstalls {
    /// (package id, installed sets it was in).
    pub installs: Vec<(String, u64)>,
    /// (a, b, installed sets both were in), `a` < `b`.
    pub pairs: Vec<(String, String, u64)>,
}

/// Downloads of one package on one channel on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadCount {
    pub package_id: String,
    /// The channel the download URL named (`latest/stable`), or empty.
    pub channel: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::{RawValue, to_raw_value};

    fn key(revision: u32, channel: Option<&str>) -> RenderKey {
        named(revision, channel, None)
    }

    fn named(revision: u32, channel: Option<&str>, entry: Option<&str>) -> RenderKey {
        RenderKey::Object {
            fields: 0b101,
            revision,
            channel: channel.map(str::to_string),
            entry: entry.map(str::to_string),
        }
    }

    #[test]
    fn rendered_objects_are_kept_by_key_and_the_oldest_makes_way() {
        let rendered = RenderedJson::default();
        let renders = std::cell::Cell::new(0);
        let get = |k: RenderKey, text: &str| -> String {
            rendered
                .object(k, || {
                    renders.set(renders.get() + 1);
                    to_raw_value(text).unwrap()
                })
                .get()
                .to_string()
        };
        assert_eq!(get(key(1, None), "one"), "\"one\"");
        // The same key: the kept text, not a new render.
        assert_eq!(get(key(1, None), "other"), "\"one\"");
        assert_eq!(renders.get(), 1);
        // Another channel or revision is another object.
        assert_eq!(get(key(1, Some("latest/stable")), "stable"), "\"stable\"");
        assert_eq!(renders.get(), 2);
        assert_eq!(get(key(2, None), "two"), "\"two\"");
        assert_eq!(renders.get(), 3);
        assert_eq!(get(named(2, None, Some("stable")), "named"), "\"named\"");
        assert_eq!(renders.get(), 4);
        assert_eq!(get(key(3, None), "three"), "\"three\"");
        assert_eq!(renders.get(), 5);
        // Only `OBJECTS` are kept: the oldest (revision 1, no channel) went.
        assert_eq!(RenderedJson::OBJECTS, 4);
        assert_eq!(get(key(1, None), "again"), "\"again\"");
        assert_eq!(get(key(2, None), "not rendered"), "\"two\"");
        assert_eq!(renders.get(), 6);
    }

    #[test]
    fn a_failed_render_is_not_kept() {
        let rendered = RenderedJson::default();
        let info = RenderKey::Info {
            fields: 1,
            architecture: Some("amd64".into()),
        };
        let failed = rendered.try_object(info.clone(), || Err::<Box<RawValue>, _>("empty"));
        assert_eq!(failed.unwrap_err(), "empty");
        let kept = rendered.try_object(info.clone(), || Ok::<_, ()>(to_raw_value("body").unwrap()));
        assert_eq!(kept.unwrap().get(), "\"body\"");
        let again = rendered.try_object(info, || Err("not rendered"));
        assert_eq!(again.unwrap().get(), "\"body\"");
    }

    #[test]
    fn kept_texts_are_counted_and_bounded_by_the_limit() {
        // The counter is the process's; nextest runs each test in a process of its own.
        let before = RenderedJson::kept_bytes();
        let one = RenderedJson::default();
        let _ = one.object(key(1, None), || to_raw_value("0123456789").unwrap());
        assert_eq!(RenderedJson::kept_bytes(), before + 12);
        RenderedJson::set_limit(before + 20);
        let two = RenderedJson::default();
        let renders = std::cell::Cell::new(0);
        let render = || {
            renders.set(renders.get() + 1);
            to_raw_value("0123456789").unwrap()
        };
        // Past the limit: answered, not kept, so rendered again.
        assert_eq!(two.object(key(1, None), render).get(), "\"0123456789\"");
        assert_eq!(two.object(key(1, None), render).get(), "\"0123456789\"");
        assert_eq!(renders.get(), 2);
        assert_eq!(RenderedJson::kept_bytes(), before + 12);
        // A dropped state gives its bytes back, and the other may keep its text.
        drop(one);
        assert_eq!(RenderedJson::kept_bytes(), before);
        let _ = two.object(key(1, None), render);
        let _ = two.object(key(1, None), render);
        assert_eq!(renders.get(), 3);
        assert_eq!(RenderedJson::kept_bytes(), before + 12);
        RenderedJson::set_limit(usize::MAX);
    }

    #[test]
    fn a_cloned_state_renders_afresh() {
        let rendered = RenderedJson::default();
        let _ = rendered.object(key(1, None), || to_raw_value("old").unwrap());
        let clone = rendered.clone();
        let text: Box<RawValue> = to_raw_value("new").unwrap();
        assert_eq!(clone.object(key(1, None), || text).get(), "\"new\"");
    }
}
