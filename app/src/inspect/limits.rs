//! Resource limits for artifact inspection.
//!
//! The four public fields are the operator-facing knobs. Everything else an inspector bounds
//! (path length, nesting depth, symlink targets, squashfs metadata tables, YAML parsing) is
//! derived from them here, so that every cap lives in one place.

use serde::{Deserialize, Serialize};

/// Caps applied while inspecting one artifact. Every check happens before the data it guards
/// is read or decompressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Size of the artifact file itself, in bytes.
    pub max_artifact_size: u64,
    /// Number of entries (files, directories, symlinks, …) in the archive.
    pub max_entries: u64,
    /// Sum of the uncompressed sizes of all files in the archive, in bytes.
    pub max_unpacked_size: u64,
    /// Size of any one metadata file (`meta/snap.yaml`, `metadata.yaml`, …), in bytes.
    pub max_metadata_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_artifact_size: 2 * GIB,
            max_entries: 100_000,
            max_unpacked_size: 8 * GIB,
            max_metadata_size: MIB,
        }
    }
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Longest path of an entry, in bytes (Linux `PATH_MAX`).
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// Deepest directory nesting of an entry. Real packages stay far below this (deep
/// `node_modules` trees reach a few dozen levels); it also bounds the recursion of the
/// squashfs decoder.
pub(crate) const MAX_PATH_DEPTH: usize = 256;

/// Longest symlink target we read or resolve, in bytes.
pub(crate) const MAX_SYMLINK_TARGET: u64 = 4096;

/// Symlinks followed while resolving one symlink (Linux gives up at 40 too).
pub(crate) const MAX_SYMLINK_HOPS: usize = 40;

/// Largest size of one decompressed squashfs metadata block (fixed by the format).
pub(crate) const SQUASHFS_METADATA_BLOCK: usize = 8192;

impl Limits {
    /// Budget for the sum of all entry paths kept in memory while listing an archive.
    /// 512 bytes per allowed entry on average: well above real packages (~100), far below
    /// `max_entries * MAX_PATH_BYTES`.
    pub(crate) fn max_total_path_bytes(&self) -> u64 {
        self.max_entries.max(1024).saturating_mul(512)
    }

    /// Budget for the decompressed squashfs inode or directory table. An inode is at most a
    /// few dozen bytes plus 4 bytes per data block, a directory entry at most ~270 bytes, so
    /// this is generous for `max_entries` while bounding a metadata decompression bomb.
    pub(crate) fn max_squashfs_table_bytes(&self) -> u64 {
        self.max_entries
            .max(1024)
            .saturating_mul(320)
            .saturating_add(self.max_unpacked_size / 1024)
    }

    /// Budget for the bytes the zip reader may read while loading the central directory
    /// (plus the end-record search): ~1 KiB per allowed entry, against archives padded with
    /// huge names, extra fields or comments.
    pub(crate) fn max_zip_directory_bytes(&self) -> u64 {
        self.max_entries
            .max(1024)
            .saturating_mul(1024)
            .saturating_add(256 * 1024)
    }
}
