//! Hardened reading of a squashfs image with backhand.
//!
//! backhand trusts the image more than an upload deserves: it decompresses whole metadata
//! tables before checking counts (a metadata block may expand to megabytes), copies the full
//! path into every node (quadratic memory for a deep chain of directories) and recurses once
//! per directory level. So before handing the image to it, this module
//!
//! 1. checks the superblock counts against [`Limits`],
//! 2. decompresses every metadata block once, requiring each to be at most 8 KiB as the
//!    format says and each table to stay within a budget derived from the limits,
//! 3. walks the directory table itself, iteratively, with caps on entries, total unpacked
//!    size, path length, depth and total path bytes, rejecting unsafe names, device nodes
//!    and symlinks that escape the image,
//!
//! and only then lets backhand build its tree and read the one file we want, through a
//! bounded reader. The caller runs all of this under `catch_unwind`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use backhand::compression::Compressor;
use backhand::kind::{Kind as SquashfsKind, LE_V4_0};
use backhand::v4::inode::{Inode, InodeInner};
use backhand::v4::metadata;
use backhand::v4::squashfs::NOT_SET;
use backhand::{BackhandError, InnerNode, Squashfs, SuperBlock};

use super::limits::SQUASHFS_METADATA_BLOCK;
use super::paths::{self, Absolute, Tree};
use super::{InspectError, Limits, read_bounded};

/// Read one regular file out of the image, after validating the whole image.
///
/// `wanted` is the path inside the image (`meta/snap.yaml`). Returns `Ok(None)` if it does
/// not exist or is a directory.
pub(crate) fn read_file(
    file: File,
    wanted: &str,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, InspectError> {
    let mut reader = BufReader::new(file);
    let kind = SquashfsKind::from_const(LE_V4_0).map_err(InspectError::invalid)?;
    let (superblock, _) =
        Squashfs::superblock_and_compression_options(&mut reader, &kind).map_err(backhand_error)?;
    check_superblock(&superblock, limits)?;
    prescan_tables(&mut reader, &superblock, &kind, limits)?;
    reader
        .rewind()
        .map_err(|err| InspectError::invalid(err.to_string()))?;

    let image =
        Squashfs::from_reader_with_offset_and_kind(reader, 0, kind).map_err(backhand_error)?;
    let found = walk(&image, wanted, limits)?;
    let Some(declared) = found else {
        return Ok(None);
    };

    let filesystem = image.into_filesystem_reader().map_err(backhand_error)?;
    let target = Path::new("/").join(wanted);
    let node = filesystem
        .files()
        .find(|node| node.fullpath == target)
        .ok_or_else(|| InspectError::invalid(format!("{wanted} vanished while reading")))?;
    let InnerNode::File(inner) = &node.inner else {
        return Err(InspectError::invalid(format!(
            "{wanted} changed type while reading"
        )));
    };
    let contents = filesystem
        .file(inner)
        .reader_checked()
        .map_err(backhand_error)?;
    read_bounded(contents, wanted, declared, limits.max_metadata_size).map(Some)
}

fn check_superblock(superblock: &SuperBlock, limits: &Limits) -> Result<(), InspectError> {
    let inodes = u64::from(superblock.inode_count);
    if inodes > limits.max_entries {
        return Err(InspectError::too_many_entries(
            Some(inodes),
            limits.max_entries,
        ));
    }
    if superblock.frag_count > superblock.inode_count {
        return Err(InspectError::invalid(
            "the squashfs image declares more fragments than inodes",
        ));
    }
    match superblock.compressor {
        Compressor::Gzip | Compressor::Xz | Compressor::Zstd | Compressor::Lz4 => Ok(()),
        other => Err(InspectError::invalid(format!(
            "the squashfs image is compressed with {}, which this store cannot read; rebuild \
             it with xz (snapcraft's default), gzip, zstd or lz4",
            format!("{other:?}").to_lowercase()
        ))),
    }
}

/// Decompress every metadata block of the image once, with caps, so that backhand's own
/// reading of the same tables is bounded.
fn prescan_tables(
    reader: &mut BufReader<File>,
    superblock: &SuperBlock,
    kind: &SquashfsKind,
    limits: &Limits,
) -> Result<(), InspectError> {
    let len = reader
        .seek(SeekFrom::End(0))
        .map_err(|err| InspectError::invalid(err.to_string()))?;
    let in_image = |offset: u64| offset <= len;
    if !in_image(superblock.inode_table) || !in_image(superblock.dir_table) {
        return Err(InspectError::invalid(
            "the squashfs tables lie outside the image",
        ));
    }

    scan_run(
        reader,
        superblock,
        kind,
        superblock.inode_table,
        superblock.dir_table,
        limits,
        "inode",
    )?;

    // backhand reads the directory table up to the first lookup table, the same way.
    let fragments = superblock.frag_count != 0 && superblock.frag_table != NOT_SET;
    let exports = superblock.nfs_export_table_exists() && superblock.export_table != NOT_SET;
    let pointer_of = |reader: &mut BufReader<File>, at: u64| read_u64(reader, at, len);
    let dir_end = if fragments {
        pointer_of(reader, superblock.frag_table)?
    } else if exports {
        pointer_of(reader, superblock.export_table)?
    } else {
        pointer_of(reader, superblock.id_table)?
    };
    scan_run(
        reader,
        superblock,
        kind,
        superblock.dir_table,
        dir_end,
        limits,
        "directory",
    )?;

    let block = SQUASHFS_METADATA_BLOCK as u64;
    if fragments {
        let start = pointer_of(reader, superblock.frag_table)?;
        let blocks = (u64::from(superblock.frag_count) * 16).div_ceil(block);
        scan_count(reader, superblock, kind, start, blocks)?;
    }
    if exports {
        let start = pointer_of(reader, superblock.export_table)?;
        let blocks = u64::from(superblock.inode_count)
            .div_ceil(1024)
            .div_ceil(block);
        scan_count(reader, superblock, kind, start, blocks)?;
    }
    let start = pointer_of(reader, superblock.id_table)?;
    let blocks = u64::from(superblock.id_count).div_ceil(block);
    scan_count(reader, superblock, kind, start, blocks)?;
    Ok(())
}

fn read_u64(reader: &mut BufReader<File>, at: u64, len: u64) -> Result<u64, InspectError> {
    if at.checked_add(8).is_none_or(|end| end > len) {
        return Err(InspectError::invalid(
            "a squashfs table pointer lies outside the image",
        ));
    }
    let mut bytes = [0u8; 8];
    reader
        .seek(SeekFrom::Start(at))
        .and_then(|_| reader.read_exact(&mut bytes))
        .map_err(|err| InspectError::invalid(err.to_string()))?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_block(
    reader: &mut BufReader<File>,
    superblock: &SuperBlock,
    kind: &SquashfsKind,
) -> Result<usize, InspectError> {
    let bytes = metadata::read_block(reader, superblock, kind).map_err(backhand_error)?;
    if bytes.len() > SQUASHFS_METADATA_BLOCK {
        return Err(InspectError::invalid(
            "a squashfs metadata block expands beyond 8 KiB",
        ));
    }
    Ok(bytes.len())
}

/// Blocks from `start` until exactly `end`, at most `budget` decompressed bytes in all.
fn scan_run(
    reader: &mut BufReader<File>,
    superblock: &SuperBlock,
    kind: &SquashfsKind,
    start: u64,
    end: u64,
    limits: &Limits,
    table: &str,
) -> Result<(), InspectError> {
    let (budget, max_entries) = (limits.max_squashfs_table_bytes(), limits.max_entries);
    if end < start {
        return Err(InspectError::invalid(format!(
            "the squashfs {table} table has a negative size"
        )));
    }
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|err| InspectError::invalid(err.to_string()))?;
    let mut total = 0u64;
    loop {
        let at = reader
            .stream_position()
            .map_err(|err| InspectError::invalid(err.to_string()))?;
        if at == end {
            return Ok(());
        }
        if at > end {
            return Err(InspectError::invalid(format!(
                "the squashfs {table} table overruns its end"
            )));
        }
        total += read_block(reader, superblock, kind)? as u64;
        if total > budget {
            return Err(InspectError::too_many_entries(None, max_entries));
        }
    }
}

fn scan_count(
    reader: &mut BufReader<File>,
    superblock: &SuperBlock,
    kind: &SquashfsKind,
    start: u64,
    blocks: u64,
) -> Result<(), InspectError> {
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|err| InspectError::invalid(err.to_string()))?;
    for _ in 0..blocks {
        read_block(reader, superblock, kind)?;
    }
    Ok(())
}

/// One directory still to list.
struct PendingDir<'a> {
    node: u32,
    inode: &'a Inode,
    path: Vec<u8>,
    depth: usize,
}

/// Walk the whole directory tree, validating every entry. Returns the declared size of
/// `wanted` if it is a regular file, `None` if it is absent or a directory.
fn walk(image: &Squashfs<'_>, wanted: &str, limits: &Limits) -> Result<Option<u64>, InspectError> {
    let (blocks, bytes) = &image.dir_blocks;
    let mut tree = Tree::new();
    let mut visited = HashSet::new();
    visited.insert(image.root_inode.header.inode_number);
    let mut pending = vec![PendingDir {
        node: paths::ROOT,
        inode: &image.root_inode,
        path: Vec::new(),
        depth: 0,
    }];
    let (mut entries, mut unpacked, mut path_bytes) = (0u64, 0u64, 0u64);
    let mut found = None;

    while let Some(dir) = pending.pop() {
        let (block_index, block_offset, size) = match &dir.inode.inner {
            InodeInner::BasicDirectory(d) => (
                u64::from(d.block_index),
                d.block_offset,
                u32::from(d.file_size),
            ),
            InodeInner::ExtendedDirectory(d) => {
                (u64::from(d.block_index), d.block_offset, d.file_size)
            }
            _ => {
                return Err(InspectError::invalid(
                    "a directory entry points at a non-directory inode",
                ));
            }
        };
        // Sizes below 4 mean an empty directory (the size counts 3 phantom bytes).
        if size < 4 {
            continue;
        }
        let listing = blocks
            .get(&block_index)
            .and_then(|&start| usize::try_from(start).ok())
            .and_then(|start| start.checked_add(usize::from(block_offset)))
            .and_then(|start| bytes.get(start..start.checked_add(size as usize - 3)?))
            .ok_or_else(|| InspectError::invalid("a directory listing lies outside its table"))?;

        for entry in DirEntries::new(listing) {
            let entry = entry?;
            entries += 1;
            if entries > limits.max_entries {
                return Err(InspectError::too_many_entries(None, limits.max_entries));
            }
            let mut path = dir.path.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(entry.name);
            if entry.name == b"."
                || entry.name == b".."
                || entry.name.iter().any(|&b| b == b'/' || b == 0)
            {
                return Err(InspectError::traversal(&path));
            }
            paths::check_shape(&path, dir.depth + 1)?;
            path_bytes += path.len() as u64;
            if path_bytes > limits.max_total_path_bytes() {
                return Err(InspectError::too_many_entries(None, limits.max_entries));
            }

            let inode = image.inodes.get(&entry.inode).ok_or_else(|| {
                InspectError::invalid("a directory entry points at a missing inode")
            })?;
            let is_wanted = path == wanted.as_bytes();
            let mut link = None;
            let mut subdir = false;
            match (entry.kind, &inode.inner) {
                (1, InodeInner::BasicDirectory(_) | InodeInner::ExtendedDirectory(_)) => {
                    if !visited.insert(inode.header.inode_number) {
                        return Err(InspectError::invalid(
                            "a directory appears twice in the tree",
                        ));
                    }
                    subdir = true;
                }
                (2, InodeInner::BasicFile(f)) => {
                    unpacked = add_file(unpacked, u64::from(f.file_size), limits)?;
                    if is_wanted {
                        found = Some(u64::from(f.file_size));
                    }
                }
                (2, InodeInner::ExtendedFile(f)) => {
                    unpacked = add_file(unpacked, f.file_size, limits)?;
                    if is_wanted {
                        found = Some(f.file_size);
                    }
                }
                (3, InodeInner::BasicSymlink(s)) => link = Some(s.target_path.clone()),
                (3, InodeInner::ExtendedSymlink(s)) => link = Some(s.target_path.clone()),
                (4 | 5, _) => return Err(InspectError::unsafe_entry(&path, "is a device node")),
                (6 | 7, _) => {}
                _ => {
                    return Err(InspectError::invalid(
                        "a directory entry and its inode disagree on the type",
                    ));
                }
            }
            if is_wanted && link.is_some() {
                return Err(InspectError::unsafe_entry(
                    &path,
                    "is a symlink; it must be a regular file",
                ));
            }
            if is_wanted && !subdir && found.is_none() {
                return Err(InspectError::unsafe_entry(&path, "is not a regular file"));
            }
            let node = tree.insert(dir.node, entry.name, link).ok_or_else(|| {
                InspectError::invalid(format!(
                    "entry {} appears more than once",
                    paths::quote(&path)
                ))
            })?;
            if subdir {
                pending.push(PendingDir {
                    node,
                    inode,
                    path,
                    depth: dir.depth + 1,
                });
            }
        }
    }
    tree.check_symlinks(Absolute::Allow)?;
    Ok(found)
}

fn add_file(unpacked: u64, size: u64, limits: &Limits) -> Result<u64, InspectError> {
    let total = unpacked.saturating_add(size);
    if total > limits.max_unpacked_size {
        return Err(InspectError::too_large(
            "the unpacked archive",
            None,
            limits.max_unpacked_size,
        ));
    }
    Ok(total)
}

/// One parsed directory entry.
struct DirEntry<'a> {
    /// Basic inode type: 1 dir, 2 file, 3 symlink, 4 block dev, 5 char dev, 6 fifo, 7 socket.
    kind: u16,
    inode: u32,
    name: &'a [u8],
}

/// Iterator over a directory listing: runs of `{count, start, inode_number}` headers each
/// followed by `count + 1` entries `{offset, inode_offset: i16, type, name_size, name}`.
struct DirEntries<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Entries left in the current run and its base inode number.
    run: Option<(u32, u32)>,
}

impl<'a> DirEntries<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            run: None,
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = Result<DirEntry<'a>, InspectError>;

    fn next(&mut self) -> Option<Self::Item> {
        let corrupt = || Some(Err(InspectError::invalid("a directory listing is corrupt")));
        let (left, base) = match self.run {
            Some(run) => run,
            None => {
                // A run header; backhand stops at the first one it cannot parse, and so do we.
                let count = self.u32()?;
                let _start = self.u32()?;
                let base = self.u32()?;
                if count > 255 {
                    return corrupt();
                }
                (count + 1, base)
            }
        };
        self.run = (left > 1).then_some((left - 1, base));
        let (Some(_offset), Some(delta), Some(kind), Some(name_size)) =
            (self.u16(), self.u16(), self.u16(), self.u16())
        else {
            return corrupt();
        };
        let Some(name) = self.take(usize::from(name_size) + 1) else {
            return corrupt();
        };
        let Ok(inode) = u32::try_from(i64::from(base as i32) + i64::from(delta as i16)) else {
            return corrupt();
        };
        // Extended types (8..=14) are stored as their basic type; accept both.
        let kind = match kind {
            1..=7 => kind,
            8..=14 => kind - 7,
            _ => return corrupt(),
        };
        Some(Ok(DirEntry { kind, inode, name }))
    }
}

/// Map a backhand error to ours. With backhand's `error-strings` feature off its errors
/// print nothing, so describe the variants here.
fn backhand_error(err: BackhandError) -> InspectError {
    let what = match err {
        BackhandError::StdIo(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the squashfs image is truncated".to_owned()
        }
        BackhandError::StdIo(err) => format!("reading the squashfs image failed: {err}"),
        BackhandError::UnsupportedCompression(_) => {
            "the squashfs image uses a compression this store cannot read".to_owned()
        }
        BackhandError::UnsupportedSquashfsVersion(major, minor) => {
            format!("squashfs version {major}.{minor} is not supported (snaps use 4.0)")
        }
        BackhandError::InvalidFilePath | BackhandError::UndefineFileName => {
            "the squashfs image holds an invalid file name".to_owned()
        }
        _ => "the squashfs image is corrupt".to_owned(),
    };
    InspectError::invalid(what)
}
