//! Hardened reading of a zip archive.
//!
//! The end-of-central-directory record is read first, so that an archive declaring more
//! entries than allowed is rejected before the zip crate allocates for them. Then every
//! central-directory entry is checked (path, type, declared size) and every symlink is
//! resolved before the few wanted top-level files are read through bounded readers. Nothing
//! else is decompressed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use zip::ZipArchive;
use zip::ZipReadOptions;
use zip::result::ZipError;

use super::limits::MAX_SYMLINK_TARGET;
use super::paths::{self, Absolute, Tree};
use super::{InspectError, Limits, read_bounded};

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;

/// Validate the whole archive, then return the contents of those `wanted` top-level files
/// that exist, by name.
pub(crate) fn read_files(
    file: File,
    wanted: &[&'static str],
    limits: &Limits,
) -> Result<HashMap<&'static str, Vec<u8>>, InspectError> {
    let mut reader = BufReader::new(file);
    check_declared_entries(&mut reader, limits)?;
    reader
        .rewind()
        .map_err(|err| InspectError::invalid(err.to_string()))?;
    // The zip crate keeps the whole central directory in memory; cap what it may read.
    let budget = limits.max_zip_directory_bytes();
    let left = Arc::new(AtomicU64::new(budget));
    let metered = Metered {
        inner: reader,
        left: Arc::clone(&left),
    };
    let mut archive = match ZipArchive::new(metered) {
        Ok(archive) => archive,
        Err(_) if left.load(Ordering::Relaxed) == 0 => {
            return Err(InspectError::too_large(
                "the zip central directory",
                None,
                budget,
            ));
        }
        Err(err) => return Err(zip_error(err)),
    };
    // Entry reads below are bounded one by one.
    left.store(u64::MAX, Ordering::Relaxed);

    let count = archive.len() as u64;
    if count > limits.max_entries {
        return Err(InspectError::too_many_entries(
            Some(count),
            limits.max_entries,
        ));
    }
    if archive.has_duplicate_names() {
        return Err(InspectError::invalid(
            "the zip archive lists the same entry name more than once",
        ));
    }

    let mut tree = Tree::new();
    let mut found: Vec<(&'static str, usize, u64)> = Vec::new();
    let mut unpacked = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(zip_error)?;
        let raw = entry.name_raw().to_vec();
        let parts = paths::components(&raw)?;
        let size = entry.size();
        let mode = entry.unix_mode().unwrap_or(0);
        let file_type = mode & S_IFMT;
        let is_dir = (entry.is_dir() || file_type == S_IFDIR) && file_type != S_IFLNK;
        match file_type {
            0 | S_IFREG | S_IFDIR | S_IFLNK => {}
            other => {
                let what = match other {
                    0o020_000 | 0o060_000 => "is a device node",
                    0o010_000 => "is a named pipe",
                    0o140_000 => "is a socket",
                    _ => "has an unknown file type",
                };
                return Err(InspectError::unsafe_entry(&raw, what));
            }
        }
        unpacked = unpacked.saturating_add(size);
        if unpacked > limits.max_unpacked_size {
            return Err(InspectError::too_large(
                "the unpacked archive",
                None,
                limits.max_unpacked_size,
            ));
        }
        drop(entry);

        let wanted_name = match parts.as_slice() {
            [only] => wanted.iter().copied().find(|w| w.as_bytes() == *only),
            _ => None,
        };
        if file_type == S_IFLNK && entry_is_dir_name(&raw) {
            return Err(InspectError::unsafe_entry(
                &raw,
                "is a symlink named like a directory",
            ));
        }
        let link = if file_type == S_IFLNK {
            if let Some(name) = wanted_name {
                return Err(InspectError::unsafe_entry(
                    name.as_bytes(),
                    "is a symlink; it must be a regular file",
                ));
            }
            if size > MAX_SYMLINK_TARGET {
                return Err(InspectError::unsafe_entry(
                    &raw,
                    format!("is a symlink with a target longer than {MAX_SYMLINK_TARGET} bytes"),
                ));
            }
            let target = read_entry(
                &mut archive,
                index,
                "a symlink target",
                size,
                MAX_SYMLINK_TARGET,
            )?;
            paths::check_zip_target(&raw, &target)?;
            Some(target)
        } else {
            None
        };
        tree.insert_path(&raw, &parts, is_dir, link)?;
        if let Some(name) = wanted_name.filter(|_| !is_dir) {
            found.push((name, index, size));
        }
    }
    tree.check_symlinks(Absolute::Reject)?;

    let mut files = HashMap::new();
    for (name, index, size) in found {
        let bytes = read_entry(&mut archive, index, name, size, limits.max_metadata_size)?;
        files.insert(name, bytes);
    }
    Ok(files)
}

fn entry_is_dir_name(raw: &[u8]) -> bool {
    raw.last() == Some(&b'/')
}

fn read_entry(
    archive: &mut ZipArchive<Metered<BufReader<File>>>,
    index: usize,
    name: &str,
    declared: u64,
    limit: u64,
) -> Result<Vec<u8>, InspectError> {
    let options = ZipReadOptions::new().enforce_header_consistency(true);
    let reader = archive
        .by_index_with_options(index, options)
        .map_err(zip_error)?;
    read_bounded(reader, name, declared, limit)
}

/// Read the end-of-central-directory record(s) and reject an archive that declares more
/// entries than allowed, before the zip crate reads (and allocates for) its directory.
/// Every candidate record in the tail is considered, since the zip crate may fall back to
/// an earlier one.
fn check_declared_entries(
    reader: &mut BufReader<File>,
    limits: &Limits,
) -> Result<(), InspectError> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const LOCATOR_LEN: usize = 20;
    let io = |err: std::io::Error| InspectError::invalid(err.to_string());

    let len = reader.seek(SeekFrom::End(0)).map_err(io)?;
    let tail_len = len.min((EOCD_LEN + LOCATOR_LEN + usize::from(u16::MAX)) as u64);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    reader.seek(SeekFrom::Start(tail_start)).map_err(io)?;
    reader.read_exact(&mut tail).map_err(io)?;

    let mut declared = None::<u64>;
    for at in (0..tail.len().saturating_sub(EOCD_LEN - 1)).rev() {
        if &tail[at..at + 4] != EOCD {
            continue;
        }
        let record = &tail[at..at + EOCD_LEN];
        let entries = u16::from_le_bytes([record[10], record[11]]);
        let dir_size = u32::from_le_bytes([record[12], record[13], record[14], record[15]]);
        let mut count = u64::from(entries);
        if entries == u16::MAX || dir_size == u32::MAX {
            // zip64: the real count is in the zip64 record the locator points at.
            let locator = at
                .checked_sub(LOCATOR_LEN)
                .map(|l| &tail[l..l + LOCATOR_LEN])
                .filter(|l| &l[..4] == LOCATOR);
            let Some(locator) = locator else {
                return Err(InspectError::invalid(
                    "the zip archive's zip64 directory record is missing",
                ));
            };
            let offset = u64::from_le_bytes(locator[8..16].try_into().expect("8 bytes"));
            if offset.checked_add(56).is_none_or(|end| end > len) {
                return Err(InspectError::invalid(
                    "the zip archive's zip64 directory record lies outside the file",
                ));
            }
            let mut record64 = [0u8; 56];
            reader.seek(SeekFrom::Start(offset)).map_err(io)?;
            reader.read_exact(&mut record64).map_err(io)?;
            if &record64[..4] != b"PK\x06\x06" {
                return Err(InspectError::invalid(
                    "the zip archive's zip64 directory record is corrupt",
                ));
            }
            count = count.max(u64::from_le_bytes(
                record64[32..40].try_into().expect("8 bytes"),
            ));
        }
        declared = Some(declared.unwrap_or(0).max(count));
    }
    match declared {
        None => Err(InspectError::invalid(
            "the zip archive has no central directory (it may be truncated)",
        )),
        Some(count) if count > limits.max_entries => Err(InspectError::too_many_entries(
            Some(count),
            limits.max_entries,
        )),
        Some(_) => Ok(()),
    }
}

fn zip_error(err: ZipError) -> InspectError {
    match err {
        ZipError::Io(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            InspectError::invalid("the zip archive is truncated")
        }
        ZipError::UnsupportedArchive(what) => {
            InspectError::invalid(format!("the zip archive is not supported: {what}"))
        }
        other => InspectError::invalid(format!("the zip archive is corrupt: {other}")),
    }
}

/// A reader that fails once it has delivered its budget of bytes.
struct Metered<R> {
    inner: R,
    left: Arc<AtomicU64>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 && !buf.is_empty() {
            return Err(std::io::Error::other("read budget exhausted"));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..want])?;
        self.left.store(left - read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
