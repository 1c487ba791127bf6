//! Artifact inspection: what a pushed snap or charm says about itself.
//!
//! On push the artifact is the source of truth. A snap is a squashfs image whose
//! `meta/snap.yaml` is read by [`inspect_snap`]; a charm is a zip archive whose
//! `metadata.yaml` (or `charmcraft.yaml`), `manifest.yaml`, `config.yaml`, `actions.yaml`
//! and `version` are read by [`inspect_charm`].
//!
//! Every artifact is hostile until proven otherwise. The inspectors never extract anything,
//! check [`Limits`] before reading what they guard, read metadata through bounded readers
//! whatever the archive declares, parse YAML with budgets, reject unsafe entries (path
//! traversal, escaping symlinks, device nodes), and turn a panic inside a decoder into
//! [`InspectError::InvalidArtifact`]. They are synchronous and CPU-bound: call them from
//! `tokio::task::spawn_blocking`.
//!
//! Name validity and the match between the artifact's name and the target package are the
//! caller's business, as is turning [`RawEpoch`] into a domain epoch.

mod charm;
pub(crate) mod fields;
mod limits;
mod paths;
mod snap;
mod squashfs;
mod yaml;
mod zip_reader;

use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use limits::Limits;

/// What kind of artifact a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A squashfs image (`.snap`).
    Snap,
    /// A zip archive (`.charm`).
    Charm,
}

impl Kind {
    /// `"snap"` or `"charm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Snap => "snap",
            Kind::Charm => "charm",
        }
    }
}

/// Metadata of a snap, from its `meta/snap.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapMeta {
    pub name: String,
    pub version: String,
    pub title: Option<String>,
    /// Empty when absent.
    pub summary: String,
    /// Empty when absent.
    pub description: String,
    pub license: Option<String>,
    /// `["all"]` when absent.
    pub architectures: Vec<String>,
    pub base: Option<String>,
    /// `"strict"` when absent.
    pub confinement: String,
    /// `"stable"` when absent.
    pub grade: String,
    /// The `type` key; `"app"` when absent.
    pub snap_type: String,
    pub epoch: RawEpoch,
    /// The raw text of `meta/snap.yaml`, served back as `snap-yaml`.
    pub snap_yaml: String,
}

/// A snap's `epoch` as written, for the domain layer to interpret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RawEpoch {
    /// No `epoch` key (epoch 0).
    #[default]
    Absent,
    /// A scalar such as `1` or `1*`, as written.
    Scalar(String),
    /// The long form `{read: [..], write: [..]}`; a missing list is empty.
    Map { read: Vec<u32>, write: Vec<u32> },
}

/// Metadata of a charm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CharmMeta {
    pub name: String,
    /// Empty when absent.
    pub summary: String,
    /// Empty when absent.
    pub description: String,
    /// The trimmed contents of a top-level `version` file, if any.
    pub version: Option<String>,
    /// One entry per (base, architecture), from `manifest.yaml` or else `charmcraft.yaml`.
    pub bases: Vec<CharmBase>,
    /// Sorted by name.
    pub resources: Vec<CharmResource>,
    /// The raw text of the file the metadata came from (`metadata.yaml` or `charmcraft.yaml`).
    pub metadata_yaml: String,
    pub config_yaml: Option<String>,
    pub actions_yaml: Option<String>,
}

/// One base a charm runs on, e.g. `ubuntu` `22.04` `amd64`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CharmBase {
    pub name: String,
    /// As written: `22.04` stays `"22.04"`, `20.10` stays `"20.10"`.
    pub channel: String,
    pub architecture: String,
}

/// A resource a charm declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharmResource {
    pub name: String,
    /// `"file"` or `"oci-image"`.
    pub kind: String,
    pub filename: Option<String>,
    pub description: Option<String>,
}

/// Why an artifact was rejected. [`InspectError::code`] gives the stable code for the API;
/// the message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(
        "the file is not a valid snap or charm: {0}. Upload the .snap or .charm file exactly as snapcraft or charmcraft built it"
    )]
    InvalidArtifact(String),

    #[error("{0}. Check that the artifact was built by snapcraft or charmcraft and rebuild it")]
    MissingMetadata(String),

    #[error("{file} is not valid: {reason}. Fix {file} and rebuild the artifact")]
    MalformedMetadata { file: String, reason: String },

    #[error("{file} exceeds the {limit}-byte limit for a metadata file{}. Shorten it and rebuild the artifact", actual(.size, "is", " bytes"))]
    MetadataTooLarge {
        file: String,
        size: Option<u64>,
        limit: u64,
    },

    #[error("the archive exceeds the limit of {limit} entries{}. Ship fewer files, or ask the store operator to raise the limit", actual(.count, "has", " entries"))]
    TooManyEntries { count: Option<u64>, limit: u64 },

    #[error("{what} exceeds the limit of {limit} bytes{}. Make the artifact smaller, or ask the store operator to raise the limit", actual(.size, "is", " bytes"))]
    TooLarge {
        what: String,
        size: Option<u64>,
        limit: u64,
    },

    #[error(
        "entry {path} has an unsafe path (absolute, a `..` component, a backslash or a NUL byte). Rebuild the artifact so that every path is relative and stays inside it"
    )]
    PathTraversal { path: String },

    #[error("entry {path} {reason}. Remove it and rebuild the artifact")]
    UnsafeEntry { path: String, reason: String },

    /// Reading the uploaded file itself failed (missing file, I/O error): a server-side
    /// problem, not the publisher's.
    #[error("could not read the uploaded artifact: {0}")]
    Io(#[source] std::io::Error),
}

impl InspectError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            InspectError::InvalidArtifact(_) => "invalid-artifact",
            InspectError::MissingMetadata(_) => "missing-metadata",
            InspectError::MalformedMetadata { .. } => "malformed-metadata",
            InspectError::MetadataTooLarge { .. } => "metadata-too-large",
            InspectError::TooManyEntries { .. } => "archive-too-many-entries",
            InspectError::TooLarge { .. } => "archive-too-large",
            InspectError::PathTraversal { .. } => "path-traversal",
            InspectError::UnsafeEntry { .. } => "unsafe-entry",
            InspectError::Io(_) => "inspect-io-error",
        }
    }

    /// Whether the publisher can fix this by changing the artifact (every variant except
    /// [`InspectError::Io`]).
    pub fn is_artifact_problem(&self) -> bool {
        !matches!(self, InspectError::Io(_))
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        InspectError::InvalidArtifact(reason.into())
    }

    pub(crate) fn malformed(file: &str, reason: impl Into<String>) -> Self {
        InspectError::MalformedMetadata {
            file: file.to_owned(),
            reason: truncate(reason.into(), 300),
        }
    }

    pub(crate) fn metadata_too_large(file: &str, size: Option<u64>, limit: u64) -> Self {
        InspectError::MetadataTooLarge {
            file: file.to_owned(),
            size,
            limit,
        }
    }

    pub(crate) fn too_many_entries(count: Option<u64>, limit: u64) -> Self {
        InspectError::TooManyEntries { count, limit }
    }

    /// `size` is the exact size when known; a partial sum that crossed the limit is `None`.
    pub(crate) fn too_large(what: &str, size: Option<u64>, limit: u64) -> Self {
        InspectError::TooLarge {
            what: what.to_owned(),
            size,
            limit,
        }
    }

    pub(crate) fn traversal(path: &[u8]) -> Self {
        InspectError::PathTraversal {
            path: paths::quote(path),
        }
    }

    pub(crate) fn unsafe_entry(path: &[u8], reason: impl Into<String>) -> Self {
        InspectError::UnsafeEntry {
            path: paths::quote(path),
            reason: reason.into(),
        }
    }
}

/// ` (it has 123 entries)` when the actual amount is known.
fn actual(amount: &Option<u64>, verb: &str, unit: &str) -> String {
    match amount {
        Some(n) => format!(" (it {verb} {n}{unit})"),
        None => String::new(),
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Tell a snap from a charm by the file's first bytes.
pub fn detect(path: &Path) -> Result<Kind, InspectError> {
    let mut file = File::open(path).map_err(InspectError::Io)?;
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        match file.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(InspectError::Io(err)),
        }
    }
    match &magic[..filled] {
        m if m == SQUASHFS_MAGIC => Ok(Kind::Snap),
        m if m == ZIP_MAGIC => Ok(Kind::Charm),
        _ => Err(InspectError::invalid(
            "it is neither a squashfs image (snap) nor a zip archive (charm)",
        )),
    }
}

/// Inspect a snap: a squashfs image with `meta/snap.yaml`.
pub fn inspect_snap(path: &Path, limits: &Limits) -> Result<SnapMeta, InspectError> {
    let file = open_checked(path, limits, Kind::Snap)?;
    guarded(|| snap::inspect(file, limits))
}

/// Inspect a charm: a zip archive with `metadata.yaml` or `charmcraft.yaml`.
pub fn inspect_charm(path: &Path, limits: &Limits) -> Result<CharmMeta, InspectError> {
    let file = open_checked(path, limits, Kind::Charm)?;
    guarded(|| charm::inspect(file, limits))
}

/// Open the artifact, check its size and magic, and rewind it.
fn open_checked(path: &Path, limits: &Limits, kind: Kind) -> Result<File, InspectError> {
    let size = std::fs::metadata(path).map_err(InspectError::Io)?.len();
    if size > limits.max_artifact_size {
        return Err(InspectError::too_large(
            "the artifact",
            Some(size),
            limits.max_artifact_size,
        ));
    }
    let found = detect(path)?;
    if found != kind {
        return Err(InspectError::invalid(format!(
            "expected a {} but the file is a {}",
            kind.as_str(),
            found.as_str()
        )));
    }
    File::open(path).map_err(InspectError::Io)
}

/// Run a decoder, turning a panic into `invalid-artifact` instead of unwinding into the server.
fn guarded<T>(run: impl FnOnce() -> Result<T, InspectError>) -> Result<T, InspectError> {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(_) => Err(InspectError::invalid(
            "the archive is corrupt (its decoder failed)",
        )),
    }
}

/// Read at most `limit` bytes of a metadata file whose declared size is `declared`.
/// The declared size is checked first, and the read is bounded whatever the archive claims.
pub(crate) fn read_bounded(
    mut reader: impl Read,
    file: &str,
    declared: u64,
    limit: u64,
) -> Result<Vec<u8>, InspectError> {
    if declared > limit {
        return Err(InspectError::metadata_too_large(
            file,
            Some(declared),
            limit,
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(64 * 1024));
    (&mut reader)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|err| InspectError::invalid(format!("cannot read {file}: {err}")))?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(InspectError::metadata_too_large(file, None, limit));
    }
    if read != declared {
        return Err(InspectError::invalid(format!(
            "{file} holds {read} bytes but the archive declares {declared}"
        )));
    }
    Ok(bytes)
}

/// Metadata bytes as UTF-8 text.
pub(crate) fn utf8(file: &str, bytes: Vec<u8>) -> Result<String, InspectError> {
    String::from_utf8(bytes).map_err(|_| InspectError::malformed(file, "it is not UTF-8 text"))
}
