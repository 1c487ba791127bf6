//! Real artifacts built at test time: snaps with `mksquashfs` (package squashfs-tools),
//! charms with the `zip` crate, and hostile archives, some written byte by byte because no
//! well-behaved tool will produce them.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use depot::inspect::{Kind, Limits};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

/// Limits small enough that the hostile fixtures stay tiny and fast, large enough for every
/// good fixture built here.
pub fn test_limits() -> Limits {
    Limits {
        max_artifact_size: 8 * 1024 * 1024,
        max_entries: 400,
        max_unpacked_size: 1024 * 1024,
        max_metadata_size: 64 * 1024,
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh file name in `dir`.
fn unique(dir: &Path, label: &str, extension: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    dir.join(format!("{label}-{n}.{extension}"))
}

// ---------------------------------------------------------------------------------------
// Snaps

/// A minimal valid `snap.yaml`.
pub fn snap_yaml(name: &str, version: &str) -> String {
    format!(
        "name: {name}\nversion: '{version}'\nsummary: The {name} snap\n\
         description: |\n  A test snap called {name}.\napps:\n  hello:\n    command: bin/hello\n"
    )
}

/// Build a snap holding `meta/snap.yaml` and a small `bin/hello` script.
pub fn build_snap(dir: &Path, snap_yaml: &str) -> PathBuf {
    build_snap_with(dir, "snap", &[], |root| {
        write(root, "meta/snap.yaml", snap_yaml.as_bytes());
        write(root, "bin/hello", b"#!/bin/sh\necho hello\n");
        fs::set_permissions(root.join("bin/hello"), fs::Permissions::from_mode(0o755)).unwrap();
    })
}

/// Build a snap from whatever `populate` writes into an empty source tree; `extra` is
/// passed to `mksquashfs` (e.g. `-comp gzip`, or `-p` pseudo-file definitions).
pub fn build_snap_with(
    dir: &Path,
    label: &str,
    extra: &[&str],
    populate: impl FnOnce(&Path),
) -> PathBuf {
    let out = unique(dir, label, "snap");
    let src = out.with_extension("src");
    fs::create_dir_all(&src).unwrap();
    populate(&src);
    let mut args: Vec<&str> = vec!["-noappend", "-all-root", "-quiet", "-no-progress"];
    if !extra.contains(&"-comp") {
        args.extend(["-comp", "xz"]);
    }
    args.extend(extra);
    let status = Command::new("mksquashfs")
        .arg(&src)
        .arg(&out)
        .args(&args)
        .status()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run mksquashfs ({err}): the snap fixtures need it; install it with \
                 `sudo apt-get install squashfs-tools`"
            )
        });
    assert!(status.success(), "mksquashfs failed for {label}: {status}");
    fs::remove_dir_all(&src).unwrap();
    out
}

/// Write `contents` at `root/relative`, creating directories.
pub fn write(root: &Path, relative: &str, contents: &[u8]) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn link(root: &Path, relative: &str, target: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, path).unwrap();
}

// ---------------------------------------------------------------------------------------
// Charms

/// A minimal valid `metadata.yaml`.
pub fn charm_metadata(name: &str) -> String {
    format!(
        "name: {name}\nsummary: The {name} charm\ndescription: |\n  A test charm called {name}.\n\
         requires:\n  database:\n    interface: postgresql_client\n"
    )
}

/// A `manifest.yaml` as charmcraft writes it (channels quoted), from
/// `(name, channel, architectures)`.
pub fn manifest(bases: &[(&str, &str, &[&str])]) -> String {
    let mut text = String::from("charmcraft-version: 3.2.0\nanalysis:\n  attributes: []\nbases:\n");
    for (name, channel, architectures) in bases {
        text.push_str(&format!(
            "- name: {name}\n  channel: '{channel}'\n  architectures:\n"
        ));
        for arch in *architectures {
            text.push_str(&format!("  - {arch}\n"));
        }
    }
    text
}

/// Build a charm holding `metadata.yaml`, optionally `manifest.yaml`, a `dispatch` script
/// and `src/charm.py`.
pub fn build_charm(dir: &Path, metadata_yaml: &str, manifest_yaml: Option<&str>) -> PathBuf {
    let mut files: Vec<(&str, &[u8])> = vec![
        ("metadata.yaml", metadata_yaml.as_bytes()),
        ("dispatch", b"#!/bin/sh\nJUJU_DISPATCH_PATH=\"${JUJU_DISPATCH_PATH:-$0}\" PYTHONPATH=lib:venv ./src/charm.py\n"),
        ("src/charm.py", b"#!/usr/bin/env python3\nimport ops\n"),
    ];
    if let Some(manifest) = manifest_yaml {
        files.push(("manifest.yaml", manifest.as_bytes()));
    }
    build_charm_with(dir, "charm", &files)
}

/// Build a zip (deflate) from `(name, contents)` pairs with the `zip` crate.
pub fn build_charm_with(dir: &Path, label: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let out = unique(dir, label, "charm");
    let mut zip = ZipWriter::new(fs::File::create(&out).unwrap());
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, contents) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(contents).unwrap();
    }
    zip.finish().unwrap();
    out
}

/// One entry of a hand-written zip.
pub struct RawEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// Unix mode including the file type bits (`0o100644`, `0o120777`, …); `None` writes
    /// no attributes (a DOS-style entry).
    pub mode: Option<u32>,
    /// Uncompressed size to declare, if not the real one.
    pub declared_size: Option<u32>,
    /// Comment stored in the central directory entry.
    pub comment: Vec<u8>,
}

impl RawEntry {
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            mode: Some(0o100_644),
            declared_size: None,
            comment: Vec::new(),
        }
    }

    pub fn symlink(name: &str, target: &str) -> Self {
        Self {
            mode: Some(0o120_777),
            ..Self::file(name, target.as_bytes())
        }
    }

    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Write a zip of stored (uncompressed) entries byte by byte: local headers, central
/// directory, end record. Nothing is validated, so names like `../evil` go in as given.
pub fn write_raw_zip(path: &Path, entries: &[RawEntry]) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let crc = crc32(&entry.data);
        let size = entry.data.len() as u32;
        let declared = entry.declared_size.unwrap_or(size);
        let name_len = entry.name.len() as u16;

        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&declared.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(&entry.name);
        out.extend_from_slice(&entry.data);

        let made_by: u16 = if entry.mode.is_some() {
            (3 << 8) | 20
        } else {
            20
        };
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&made_by.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&declared.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // extra
        central.extend_from_slice(&(entry.comment.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&(entry.mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&entry.name);
        central.extend_from_slice(&entry.comment);
    }
    let dir_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&dir_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    fs::write(path, out).unwrap();
}

/// Change the uncompressed size an entry declares, in both its local header and the central
/// directory, of a zip written by [`build_charm_with`] (no zip64, no comment).
pub fn patch_declared_size(path: &Path, name: &str, size: u32) {
    let mut bytes = fs::read(path).unwrap();
    let end = bytes.len() - 22;
    assert_eq!(&bytes[end..end + 4], b"PK\x05\x06", "no end record");
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut at = u32_at(&bytes, end + 16);
    while at < end {
        assert_eq!(
            &bytes[at..at + 4],
            b"PK\x01\x02",
            "corrupt central directory"
        );
        let name_len = u16_at(&bytes, at + 28);
        let skip = 46 + name_len + u16_at(&bytes, at + 30) + u16_at(&bytes, at + 32);
        if &bytes[at + 46..at + 46 + name_len] == name.as_bytes() {
            let local = u32_at(&bytes, at + 42);
            bytes[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
            bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
            fs::write(path, bytes).unwrap();
            return;
        }
        at += skip;
    }
    panic!("no entry {name} in {}", path.display());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------
// Hostile artifacts

/// A hostile artifact and how it must be rejected under [`test_limits`].
pub struct Hostile {
    pub label: &'static str,
    pub path: PathBuf,
    /// Which inspector it is for.
    pub kind: Kind,
    pub expected_code: &'static str,
}

/// `name: x` followed by a "billion laughs" alias bomb.
pub fn alias_bomb(head: &str) -> String {
    let mut text = format!("{head}\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!(
            "lol{i}: &l{i} [*l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}]\n"
        ));
    }
    text
}

/// A document nested `depth` flow sequences deep.
pub fn deep_yaml(head: &str, depth: usize) -> String {
    format!("{head}\ndeep: {}{}\n", "[".repeat(depth), "]".repeat(depth))
}

/// Every hostile artifact, built in `dir`. Inspect each with [`test_limits`].
pub fn hostile_artifacts(dir: &Path) -> Vec<Hostile> {
    let mut all = Vec::new();
    let mut add = |label, path, kind, expected_code| {
        all.push(Hostile {
            label,
            path,
            kind,
            expected_code,
        })
    };
    let limits = test_limits();
    let good_yaml = snap_yaml("hostile", "1.0");
    let big = vec![0u8; 2 * limits.max_unpacked_size as usize];
    let huge_yaml = format!(
        "{}{}",
        good_yaml,
        "# padding\n".repeat(limits.max_metadata_size as usize / 5)
    );

    // --- not an archive at all
    let garbage = unique(dir, "garbage", "bin");
    fs::write(
        &garbage,
        b"this is not a squashfs image nor a zip archive, just text\n",
    )
    .unwrap();
    add(
        "garbage bytes (snap)",
        garbage.clone(),
        Kind::Snap,
        "invalid-artifact",
    );
    add(
        "garbage bytes (charm)",
        garbage,
        Kind::Charm,
        "invalid-artifact",
    );
    let empty = unique(dir, "empty", "bin");
    fs::write(&empty, b"").unwrap();
    add(
        "empty file (snap)",
        empty.clone(),
        Kind::Snap,
        "invalid-artifact",
    );
    add("empty file (charm)", empty, Kind::Charm, "invalid-artifact");
    let magic_only = unique(dir, "magic-only", "snap");
    fs::write(&magic_only, b"hsqs").unwrap();
    add(
        "squashfs magic and nothing else",
        magic_only,
        Kind::Snap,
        "invalid-artifact",
    );

    // --- artifact file over the size limit (sparse, so cheap)
    for (label, magic, kind) in [
        ("snap file over max_artifact_size", b"hsqs", Kind::Snap),
        (
            "charm file over max_artifact_size",
            b"PK\x03\x04",
            Kind::Charm,
        ),
    ] {
        let path = unique(dir, "oversized", "bin");
        let mut file = fs::File::create(&path).unwrap();
        file.write_all(magic).unwrap();
        file.set_len(limits.max_artifact_size + 1).unwrap();
        add(label, path, kind, "archive-too-large");
    }

    // --- snaps
    let good_snap = build_snap(dir, &good_yaml);
    let truncated = unique(dir, "truncated", "snap");
    let bytes = fs::read(&good_snap).unwrap();
    // Cut inside the used part: the image is padded to 4 KiB after `bytes_used`.
    let used = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    fs::write(&truncated, &bytes[..used / 2]).unwrap();
    add(
        "truncated squashfs",
        truncated,
        Kind::Snap,
        "invalid-artifact",
    );
    add(
        "charm inspector given a snap",
        good_snap,
        Kind::Charm,
        "invalid-artifact",
    );

    let snap = |label: &'static str, extra: &[&str], populate: &dyn Fn(&Path)| {
        build_snap_with(dir, label, extra, |root| populate(root))
    };
    add(
        "snap without meta/snap.yaml",
        snap("no-snap-yaml", &[], &|r| {
            write(r, "bin/hello", b"#!/bin/sh\n")
        }),
        Kind::Snap,
        "missing-metadata",
    );
    add(
        "snap.yaml is a directory",
        snap("snap-yaml-dir", &[], &|r| {
            write(r, "meta/snap.yaml/x", b"x")
        }),
        Kind::Snap,
        "missing-metadata",
    );
    for (label, bytes, code) in [
        (
            "snap.yaml malformed YAML",
            b"name: [unclosed\nversion: 1\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml without name",
            b"version: '1.0'\nsummary: nameless\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml with a list for name",
            b"name: [a, b]\nversion: '1'\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml not UTF-8",
            b"name: caf\xe9\nversion: '1'\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml alias bomb",
            alias_bomb("name: bomb\nversion: '1'").into_bytes(),
            "malformed-metadata",
        ),
        (
            "snap.yaml nested 10000 deep",
            deep_yaml("name: deep\nversion: '1'", 10_000).into_bytes(),
            "malformed-metadata",
        ),
        (
            "snap.yaml over max_metadata_size",
            huge_yaml.clone().into_bytes(),
            "metadata-too-large",
        ),
        (
            "snap.yaml summary with terminal escapes",
            b"name: esc\nversion: '1'\nsummary: \"hi \\e]0;pwned\\a \\e[2J\"\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml version of 10,000 characters",
            format!("name: long\nversion: '{}'\n", "1".repeat(10_000)).into_bytes(),
            "malformed-metadata",
        ),
        (
            "snap.yaml version with a space",
            b"name: spaced\nversion: '1 0'\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml title over 40 characters",
            format!("name: titled\nversion: '1'\ntitle: {}\n", "t".repeat(41)).into_bytes(),
            "malformed-metadata",
        ),
        (
            "snap.yaml description over 4096 characters",
            format!(
                "name: wordy\nversion: '1'\ndescription: {}\n",
                "d".repeat(4097)
            )
            .into_bytes(),
            "malformed-metadata",
        ),
        (
            "snap.yaml description with a NUL",
            b"name: nul\nversion: '1'\ndescription: \"a\\0b\"\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml architecture with a path in it",
            b"name: arch\nversion: '1'\narchitectures: ['../../x', amd64]\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml architectures all beside amd64",
            b"name: arch\nversion: '1'\narchitectures: [all, amd64]\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml unknown confinement",
            b"name: conf\nversion: '1'\nconfinement: lax\n".to_vec(),
            "malformed-metadata",
        ),
        (
            "snap.yaml unknown type",
            b"name: typed\nversion: '1'\ntype: virus\n".to_vec(),
            "malformed-metadata",
        ),
    ] {
        add(
            label,
            snap("snap-yaml", &[], &|r| write(r, "meta/snap.yaml", &bytes)),
            Kind::Snap,
            code,
        );
    }
    add(
        "meta/snap.yaml is a symlink to /etc/passwd",
        snap("snap-yaml-symlink", &[], &|r| {
            link(r, "meta/snap.yaml", "/etc/passwd")
        }),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "meta/snap.yaml is a symlink inside the snap",
        snap("snap-yaml-inner-symlink", &[], &|r| {
            write(r, "real.yaml", good_yaml.as_bytes());
            link(r, "meta/snap.yaml", "../real.yaml");
        }),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "snap with a symlink escaping the root",
        snap("escaping-symlink", &[], &|r| {
            write(r, "meta/snap.yaml", good_yaml.as_bytes());
            link(r, "lib/etc", "../../etc");
        }),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "snap with a symlink escaping through another symlink",
        snap("chained-symlink", &[], &|r| {
            write(r, "meta/snap.yaml", good_yaml.as_bytes());
            link(r, "d/up", "..");
            link(r, "e", "d/up/..");
        }),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "snap with a character device",
        snap(
            "char-device",
            &["-p", "dev d 755 0 0", "-p", "dev/null c 666 0 0 1 3"],
            &|r| write(r, "meta/snap.yaml", good_yaml.as_bytes()),
        ),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "snap with a block device",
        snap(
            "block-device",
            &["-p", "dev d 755 0 0", "-p", "dev/sda b 660 0 0 8 0"],
            &|r| write(r, "meta/snap.yaml", good_yaml.as_bytes()),
        ),
        Kind::Snap,
        "unsafe-entry",
    );
    add(
        "snap with more entries than max_entries",
        snap("many-entries", &[], &|r| {
            write(r, "meta/snap.yaml", good_yaml.as_bytes());
            for i in 0..limits.max_entries + 50 {
                write(r, &format!("files/f{i}"), &[]);
            }
        }),
        Kind::Snap,
        "archive-too-many-entries",
    );
    add(
        "snap unpacking over max_unpacked_size",
        snap("snap-bomb", &[], &|r| {
            write(r, "meta/snap.yaml", good_yaml.as_bytes());
            write(r, "zeros", &big);
        }),
        Kind::Snap,
        "archive-too-large",
    );
    add(
        "snap with directories nested 300 deep",
        snap("deep-dirs", &[], &|r| {
            write(r, "meta/snap.yaml", good_yaml.as_bytes());
            write(r, &format!("{}leaf", "d/".repeat(300)), b"x");
        }),
        Kind::Snap,
        "unsafe-entry",
    );

    // --- charms
    let metadata = charm_metadata("hostile");
    let manifest_yaml = manifest(&[("ubuntu", "22.04", &["amd64"])]);
    let good_charm = build_charm(dir, &metadata, Some(&manifest_yaml));
    let truncated = unique(dir, "truncated", "charm");
    let bytes = fs::read(&good_charm).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    add("truncated zip", truncated, Kind::Charm, "invalid-artifact");
    add(
        "snap inspector given a charm",
        good_charm,
        Kind::Snap,
        "invalid-artifact",
    );

    add(
        "charm zip bomb over max_unpacked_size",
        build_charm_with(
            dir,
            "zip-bomb",
            &[("metadata.yaml", metadata.as_bytes()), ("zeros", &big)],
        ),
        Kind::Charm,
        "archive-too-large",
    );
    let liar = build_charm_with(
        dir,
        "lying-metadata",
        &[(
            "metadata.yaml",
            format!("{metadata}{}", "# pad\n".repeat(40_000)).as_bytes(),
        )],
    );
    patch_declared_size(&liar, "metadata.yaml", metadata.len() as u32);
    add(
        "charm metadata.yaml inflating past its declared size",
        liar,
        Kind::Charm,
        "invalid-artifact",
    );
    let many: Vec<(String, Vec<u8>)> = (0..limits.max_entries + 50)
        .map(|i| (format!("files/f{i}"), Vec::new()))
        .collect();
    let mut files: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    files.push(("metadata.yaml", metadata.as_bytes()));
    add(
        "charm with more entries than max_entries",
        build_charm_with(dir, "many-entries", &files),
        Kind::Charm,
        "archive-too-many-entries",
    );

    let raw = |label: &str, entries: Vec<RawEntry>| {
        let path = unique(dir, label, "charm");
        write_raw_zip(&path, &entries);
        path
    };
    let meta_entry = || RawEntry::file("metadata.yaml", metadata.as_bytes());
    for (label, name) in [
        ("charm with a ../evil entry", "../evil"),
        ("charm with a nested a/../../evil entry", "a/../../evil"),
        ("charm with an absolute /etc/evil entry", "/etc/evil"),
        ("charm with a backslash ..\\evil entry", "..\\evil"),
        ("charm with a drive-letter C:/evil entry", "C:/evil"),
    ] {
        add(
            label,
            raw(
                "traversal",
                vec![meta_entry(), RawEntry::file(name, b"pwned\n")],
            ),
            Kind::Charm,
            "path-traversal",
        );
    }
    add(
        "charm whose metadata.yaml is a symlink",
        raw(
            "metadata-symlink",
            vec![RawEntry::symlink("metadata.yaml", "/etc/passwd")],
        ),
        Kind::Charm,
        "unsafe-entry",
    );
    add(
        "charm with a symlink escaping the root",
        raw(
            "escaping-symlink",
            vec![meta_entry(), RawEntry::symlink("lib/etc", "../../etc")],
        ),
        Kind::Charm,
        "unsafe-entry",
    );
    add(
        "charm with an absolute symlink",
        raw(
            "absolute-symlink",
            vec![meta_entry(), RawEntry::symlink("etc", "/etc")],
        ),
        Kind::Charm,
        "unsafe-entry",
    );
    add(
        "charm with an entry written through a symlink",
        raw(
            "through-symlink",
            vec![
                meta_entry(),
                RawEntry::file("src/charm.py", b""),
                RawEntry::symlink("d", "src"),
                RawEntry::file("d/x", b""),
            ],
        ),
        Kind::Charm,
        "unsafe-entry",
    );
    for (label, mode) in [
        ("charm with a character device", 0o020_644),
        ("charm with a block device", 0o060_644),
        ("charm with a named pipe", 0o010_644),
        ("charm with a socket", 0o140_644),
    ] {
        add(
            label,
            raw(
                "special",
                vec![meta_entry(), RawEntry::file("node", b"").with_mode(mode)],
            ),
            Kind::Charm,
            "unsafe-entry",
        );
    }
    add(
        "charm whose central directory is padded with huge comments",
        raw(
            "padded-directory",
            (0..60)
                .map(|i| RawEntry {
                    comment: vec![b'#'; 60_000],
                    ..RawEntry::file(&format!("f{i}"), b"")
                })
                .chain([meta_entry()])
                .collect(),
        ),
        Kind::Charm,
        "archive-too-large",
    );
    add(
        "charm listing metadata.yaml twice",
        raw(
            "duplicate",
            vec![
                meta_entry(),
                RawEntry::file("metadata.yaml", b"name: other\n"),
            ],
        ),
        Kind::Charm,
        "invalid-artifact",
    );
    add(
        "charm without metadata.yaml or charmcraft.yaml",
        build_charm_with(
            dir,
            "no-metadata",
            &[
                ("manifest.yaml", manifest_yaml.as_bytes()),
                ("src/charm.py", b""),
            ],
        ),
        Kind::Charm,
        "missing-metadata",
    );
    add(
        "charm with metadata.yaml only in a subdirectory",
        build_charm_with(
            dir,
            "nested-metadata",
            &[("sub/metadata.yaml", metadata.as_bytes())],
        ),
        Kind::Charm,
        "missing-metadata",
    );
    for (label, file, text, code) in [
        (
            "charm metadata.yaml malformed YAML",
            "metadata.yaml",
            "name: [unclosed\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm metadata.yaml without name",
            "metadata.yaml",
            "summary: nameless\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm metadata.yaml alias bomb",
            "metadata.yaml",
            alias_bomb("name: bomb"),
            "malformed-metadata",
        ),
        (
            "charm metadata.yaml nested 10000 deep",
            "metadata.yaml",
            deep_yaml("name: deep", 10_000),
            "malformed-metadata",
        ),
        (
            "charm metadata.yaml over max_metadata_size",
            "metadata.yaml",
            format!(
                "{metadata}{}",
                "# padding\n".repeat(limits.max_metadata_size as usize / 5)
            ),
            "metadata-too-large",
        ),
        (
            "charm resource of an unknown type",
            "metadata.yaml",
            format!("{metadata}resources:\n  thing:\n    type: docker-image\n"),
            "malformed-metadata",
        ),
        (
            "charm manifest.yaml malformed",
            "manifest.yaml",
            "bases: [{name: ubuntu}]\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm manifest.yaml unknown architecture",
            "manifest.yaml",
            "bases: [{name: ubuntu, channel: '22.04', architectures: ['../x']}]\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm summary with terminal escapes",
            "metadata.yaml",
            "name: esc\nsummary: \"\\e[2J\"\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm resource named with a slash",
            "metadata.yaml",
            format!("{metadata}resources:\n  a/b:\n    type: file\n"),
            "malformed-metadata",
        ),
        (
            "charm version file of two lines",
            "version",
            "1.0\nrm -rf\n".to_owned(),
            "malformed-metadata",
        ),
        (
            "charm config.yaml alias bomb",
            "config.yaml",
            alias_bomb("options: {}"),
            "malformed-metadata",
        ),
        (
            "charm actions.yaml malformed",
            "actions.yaml",
            "backup: {params: [\n".to_owned(),
            "malformed-metadata",
        ),
    ] {
        let mut files: Vec<(&str, &[u8])> = vec![(file, text.as_bytes())];
        if file != "metadata.yaml" {
            files.push(("metadata.yaml", metadata.as_bytes()));
        }
        add(
            label,
            build_charm_with(dir, "bad-yaml", &files),
            Kind::Charm,
            code,
        );
    }
    all
}
