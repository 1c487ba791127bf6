//! Artifact inspection against real snaps (mksquashfs) and charms (zip), good and hostile.

mod common;

use std::fs;
use std::path::Path;

use common::fixtures::{self, RawEntry, test_limits};
use depot::inspect::{
    CharmBase, CharmResource, InspectError, Kind, Limits, RawEpoch, SnapMeta, detect,
    inspect_charm, inspect_snap,
};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn snap(text: &str) -> SnapMeta {
    let dir = tempdir();
    let path = fixtures::build_snap(dir.path(), text);
    inspect_snap(&path, &test_limits()).unwrap()
}

fn base(name: &str, channel: &str, architecture: &str) -> CharmBase {
    CharmBase {
        name: name.into(),
        channel: channel.into(),
        architecture: architecture.into(),
    }
}

#[test]
fn snap_with_every_field() {
    let text = "name: hello-depot\nversion: 2.10\ntitle: Hello Depot\nsummary: Says hello\n\
                description: |\n  Says hello.\n  Twice.\nlicense: Apache-2.0\n\
                architectures: [amd64, arm64]\nbase: core24\nconfinement: classic\ngrade: devel\n\
                type: app\nepoch: 1*\napps:\n  hello:\n    command: bin/hello\n";
    let meta = snap(text);
    assert_eq!(
        meta,
        SnapMeta {
            name: "hello-depot".into(),
            version: "2.10".into(),
            title: Some("Hello Depot".into()),
            summary: "Says hello".into(),
            description: "Says hello.\nTwice.\n".into(),
            license: Some("Apache-2.0".into()),
            architectures: vec!["amd64".into(), "arm64".into()],
            base: Some("core24".into()),
            confinement: "classic".into(),
            grade: "devel".into(),
            snap_type: "app".into(),
            epoch: RawEpoch::Scalar("1*".into()),
            snap_yaml: text.into(),
        }
    );
}

#[test]
fn snap_defaults() {
    let meta = snap("name: tiny\nversion: '0'\n");
    assert_eq!(meta.summary, "");
    assert_eq!(meta.description, "");
    assert_eq!(meta.title, None);
    assert_eq!(meta.license, None);
    assert_eq!(meta.base, None);
    assert_eq!(meta.architectures, ["all"]);
    assert_eq!(meta.confinement, "strict");
    assert_eq!(meta.grade, "stable");
    assert_eq!(meta.snap_type, "app");
    assert_eq!(meta.epoch, RawEpoch::Absent);
}

#[test]
fn snap_epoch_forms() {
    let with = |epoch: &str| snap(&format!("name: e\nversion: '1'\n{epoch}\n")).epoch;
    assert_eq!(with("epoch: 1*"), RawEpoch::Scalar("1*".into()));
    assert_eq!(with("epoch: 2"), RawEpoch::Scalar("2".into()));
    assert_eq!(with("epoch: '3'"), RawEpoch::Scalar("3".into()));
    assert_eq!(
        with("epoch:\n  read: [0, 1]\n  write: [1]"),
        RawEpoch::Map {
            read: vec![0, 1],
            write: vec![1]
        }
    );
    assert_eq!(
        with("epoch: {write: [2]}"),
        RawEpoch::Map {
            read: vec![],
            write: vec![2]
        }
    );
}

#[test]
fn snap_type_and_other_kinds() {
    let meta = snap("name: pc\nversion: '22'\ntype: gadget\nconfinement: devmode\n");
    assert_eq!(meta.snap_type, "gadget");
    assert_eq!(meta.confinement, "devmode");
}

#[test]
fn snaps_in_every_supported_compression() {
    let dir = tempdir();
    let text = fixtures::snap_yaml("squashed", "1.0");
    for comp in ["xz", "gzip", "zstd", "lz4"] {
        let path = fixtures::build_snap_with(dir.path(), comp, &["-comp", comp], |root| {
            fixtures::write(root, "meta/snap.yaml", text.as_bytes());
            // Big enough for full data blocks plus a fragment.
            fixtures::write(root, "data", &vec![7u8; 300 * 1024]);
        });
        let meta = inspect_snap(&path, &test_limits()).unwrap_or_else(|e| panic!("{comp}: {e}"));
        assert_eq!(meta.name, "squashed", "{comp}");
    }
}

#[test]
fn lzo_snaps_are_rejected_with_a_clear_message() {
    let dir = tempdir();
    let text = fixtures::snap_yaml("slow", "1.0");
    let path = fixtures::build_snap_with(dir.path(), "lzo", &["-comp", "lzo"], |root| {
        fixtures::write(root, "meta/snap.yaml", text.as_bytes());
    });
    let err = inspect_snap(&path, &test_limits()).unwrap_err();
    assert_eq!(err.code(), "invalid-artifact");
    assert!(err.to_string().contains("lzo"), "{err}");
}

#[test]
fn a_realistic_snap_tree_passes_with_default_limits() {
    let dir = tempdir();
    let text = fixtures::snap_yaml("busy", "3.1");
    let path = fixtures::build_snap_with(
        dir.path(),
        "busy",
        &["-p", "run d 755 0 0", "-p", "run/fifo i 644 0 0 f"],
        |root| {
            fixtures::write(root, "meta/snap.yaml", text.as_bytes());
            // More than 256 entries in one directory: several directory-table runs and blocks.
            for i in 0..700 {
                fixtures::write(
                    root,
                    &format!("usr/share/doc/file-with-a-long-name-{i:04}"),
                    b"doc",
                );
            }
            for d in 0..40 {
                fixtures::write(root, &format!("lib/pkg{d}/sub/mod.py"), b"pass\n");
            }
            fixtures::write(root, "usr/lib/libfoo.so.1.2", b"\x7fELF");
            std::os::unix::fs::symlink("libfoo.so.1.2", root.join("usr/lib/libfoo.so.1")).unwrap();
            std::os::unix::fs::symlink(
                "../../usr/lib/libfoo.so.1",
                root.join("lib/pkg0/libfoo.so"),
            )
            .unwrap();
            std::os::unix::fs::symlink("usr/lib", root.join("lib64")).unwrap();
            // Absolute links resolve inside the snap's mount namespace; staged debs ship them.
            std::os::unix::fs::symlink(
                "/etc/ssl/certs/ca-certificates.crt",
                root.join("usr/lib/cacert.pem"),
            )
            .unwrap();
        },
    );
    let meta = inspect_snap(&path, &Limits::default()).unwrap();
    assert_eq!(meta.name, "busy");
    assert_eq!(meta.version, "3.1");
    // The same snap is over the small test limits.
    let err = inspect_snap(&path, &test_limits()).unwrap_err();
    assert_eq!(err.code(), "archive-too-many-entries");
}

#[test]
fn nesting_up_to_the_depth_cap_is_fine() {
    let dir = tempdir();
    let path = fixtures::build_snap_with(dir.path(), "deep-ok", &[], |root| {
        fixtures::write(
            root,
            "meta/snap.yaml",
            fixtures::snap_yaml("deep", "1").as_bytes(),
        );
        fixtures::write(root, &format!("{}leaf", "d/".repeat(250)), b"x");
    });
    assert_eq!(inspect_snap(&path, &test_limits()).unwrap().name, "deep");
}

#[test]
fn zip64_entry_counts_are_checked_before_the_directory_is_read() {
    // More entries than a classic end record can count: the zip crate writes zip64 records.
    let dir = tempdir();
    let names: Vec<String> = (0..70_000).map(|i| format!("f/{i}")).collect();
    let metadata = fixtures::charm_metadata("big");
    let mut files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    files.push(("metadata.yaml", metadata.as_bytes()));
    let path = fixtures::build_charm_with(dir.path(), "zip64", &files);

    let small = Limits {
        max_entries: 400,
        ..Limits::default()
    };
    let err = inspect_charm(&path, &small).unwrap_err();
    assert_eq!(err.code(), "archive-too-many-entries");
    assert!(err.to_string().contains("70001"), "{err}");
    assert_eq!(
        inspect_charm(&path, &Limits::default()).unwrap().name,
        "big"
    );
}

#[test]
fn charm_with_metadata_manifest_config_actions_and_version() {
    let dir = tempdir();
    let metadata = fixtures::charm_metadata("my-api-k8s");
    let manifest = fixtures::manifest(&[
        ("ubuntu", "22.04", &["amd64", "arm64"]),
        ("ubuntu", "24.04", &["amd64"]),
    ]);
    let config = "options:\n  port:\n    type: int\n    default: 8080\n";
    let actions = "rotate-key:\n  description: Rotate the key.\n";
    let path = fixtures::build_charm_with(
        dir.path(),
        "full",
        &[
            ("metadata.yaml", metadata.as_bytes()),
            ("manifest.yaml", manifest.as_bytes()),
            ("config.yaml", config.as_bytes()),
            ("actions.yaml", actions.as_bytes()),
            ("version", b"  1.4.2-3-gabcdef\n"),
            ("src/charm.py", b""),
        ],
    );
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(meta.name, "my-api-k8s");
    assert_eq!(meta.summary, "The my-api-k8s charm");
    assert_eq!(meta.description, "A test charm called my-api-k8s.\n");
    assert_eq!(meta.version.as_deref(), Some("1.4.2-3-gabcdef"));
    assert_eq!(
        meta.bases,
        [
            base("ubuntu", "22.04", "amd64"),
            base("ubuntu", "22.04", "arm64"),
            base("ubuntu", "24.04", "amd64"),
        ]
    );
    assert_eq!(meta.metadata_yaml, metadata);
    assert_eq!(meta.config_yaml.as_deref(), Some(config));
    assert_eq!(meta.actions_yaml.as_deref(), Some(actions));
    assert!(meta.resources.is_empty());
}

#[test]
fn unquoted_channels_keep_their_text() {
    let dir = tempdir();
    let manifest = "bases:\n- name: ubuntu\n  channel: 22.04\n  architectures: [amd64]\n\
                    - name: ubuntu\n  channel: 20.10\n  architectures: [s390x]\n";
    let path = fixtures::build_charm(dir.path(), &fixtures::charm_metadata("c"), Some(manifest));
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(
        meta.bases,
        [
            base("ubuntu", "22.04", "amd64"),
            base("ubuntu", "20.10", "s390x")
        ]
    );
}

#[test]
fn charmcraft_yaml_only_charm() {
    let dir = tempdir();
    let charmcraft = "name: crafted\ntype: charm\nsummary: Crafted.\ndescription: Only charmcraft.yaml.\n\
                      base: ubuntu@24.04\nplatforms:\n  amd64:\n  arm64:\n\
                      resources:\n  image:\n    type: oci-image\n    description: The workload.\n";
    let path = fixtures::build_charm_with(
        dir.path(),
        "crafted",
        &[("charmcraft.yaml", charmcraft.as_bytes())],
    );
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(meta.name, "crafted");
    assert_eq!(meta.summary, "Crafted.");
    assert_eq!(meta.metadata_yaml, charmcraft);
    assert_eq!(
        meta.bases,
        [
            base("ubuntu", "24.04", "amd64"),
            base("ubuntu", "24.04", "arm64")
        ]
    );
    assert_eq!(meta.resources.len(), 1);
    assert_eq!(meta.resources[0].kind, "oci-image");
    assert_eq!(meta.version, None);
    assert_eq!(meta.config_yaml, None);
}

#[test]
fn charmcraft_yaml_supplies_bases_when_the_manifest_is_missing() {
    let dir = tempdir();
    let charmcraft = "name: legacy\nbases:\n- build-on:\n  - name: ubuntu\n    channel: \"20.04\"\n  \
                      run-on:\n  - name: ubuntu\n    channel: 20.10\n    architectures: [amd64, arm64]\n";
    let path = fixtures::build_charm_with(
        dir.path(),
        "legacy",
        &[
            (
                "metadata.yaml",
                fixtures::charm_metadata("legacy").as_bytes(),
            ),
            ("charmcraft.yaml", charmcraft.as_bytes()),
        ],
    );
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(meta.metadata_yaml, fixtures::charm_metadata("legacy"));
    assert_eq!(
        meta.bases,
        [
            base("ubuntu", "20.10", "amd64"),
            base("ubuntu", "20.10", "arm64")
        ]
    );
}

#[test]
fn charm_without_manifest_or_charmcraft_has_no_bases() {
    let dir = tempdir();
    let path = fixtures::build_charm(dir.path(), &fixtures::charm_metadata("bare"), None);
    assert!(
        inspect_charm(&path, &test_limits())
            .unwrap()
            .bases
            .is_empty()
    );
}

#[test]
fn charm_resources_in_document_order() {
    let dir = tempdir();
    let metadata = format!(
        "{}resources:\n  workload-image:\n    type: oci-image\n    description: OCI image\n    \
         upstream-source: ghcr.io/x/y:1\n  config-bundle:\n    type: file\n    filename: bundle.tgz\n  \
         defaulted:\n    filename: x.bin\n",
        fixtures::charm_metadata("res")
    );
    let path = fixtures::build_charm(dir.path(), &metadata, None);
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(
        meta.resources,
        [
            CharmResource {
                name: "workload-image".into(),
                kind: "oci-image".into(),
                filename: None,
                description: Some("OCI image".into()),
            },
            CharmResource {
                name: "config-bundle".into(),
                kind: "file".into(),
                filename: Some("bundle.tgz".into()),
                description: None,
            },
            CharmResource {
                name: "defaulted".into(),
                kind: "file".into(),
                filename: Some("x.bin".into()),
                description: None,
            },
        ]
    );
}

#[test]
fn charm_with_internal_symlinks_and_directories() {
    let dir = tempdir();
    let path = dir.path().join("links.charm");
    let metadata = fixtures::charm_metadata("links");
    fixtures::write_raw_zip(
        &path,
        &[
            RawEntry::file("metadata.yaml", metadata.as_bytes()),
            RawEntry::file("venv/lib/", b"").with_mode(0o040_755),
            RawEntry::file("venv/lib/ops/__init__.py", b""),
            RawEntry::symlink("venv/lib64", "lib"),
            RawEntry::symlink("venv/ops", "lib64/ops"),
            RawEntry::file("dos-style-entry.txt", b"no unix mode").with_mode(0),
        ],
    );
    let meta = inspect_charm(&path, &test_limits()).unwrap();
    assert_eq!(meta.name, "links");
}

#[test]
fn detect_by_magic_bytes() {
    let dir = tempdir();
    let snap = fixtures::build_snap(dir.path(), &fixtures::snap_yaml("s", "1"));
    let charm = fixtures::build_charm(dir.path(), &fixtures::charm_metadata("c"), None);
    assert_eq!(detect(&snap).unwrap(), Kind::Snap);
    assert_eq!(detect(&charm).unwrap(), Kind::Charm);
    let text = dir.path().join("text");
    fs::write(&text, "hello").unwrap();
    assert_eq!(detect(&text).unwrap_err().code(), "invalid-artifact");
    let missing = detect(&dir.path().join("missing")).unwrap_err();
    assert_eq!(missing.code(), "inspect-io-error");
    assert!(!missing.is_artifact_problem());
}

fn inspect(kind: Kind, path: &Path, limits: &Limits) -> Result<(), InspectError> {
    match kind {
        Kind::Snap => inspect_snap(path, limits).map(drop),
        Kind::Charm => inspect_charm(path, limits).map(drop),
    }
}

#[test]
fn every_hostile_artifact_is_rejected_with_its_code() {
    let dir = tempdir();
    let hostile = fixtures::hostile_artifacts(dir.path());
    assert!(
        hostile.len() >= 40,
        "only {} hostile fixtures",
        hostile.len()
    );
    let mut wrong = Vec::new();
    for h in &hostile {
        match inspect(h.kind, &h.path, &test_limits()) {
            Ok(()) => wrong.push(format!("{}: accepted", h.label)),
            Err(err) if err.code() != h.expected_code => wrong.push(format!(
                "{}: {} instead of {} ({err})",
                h.label,
                err.code(),
                h.expected_code
            )),
            Err(err) => {
                let message = err.to_string();
                assert!(
                    message.len() > 30 && !message.contains('\n'),
                    "{}: unhelpful message {message:?}",
                    h.label
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "misjudged hostile artifacts:\n{}",
        wrong.join("\n")
    );
}

/// Deterministic pseudo-random numbers (xorshift), so failures reproduce.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Truncate and flip bytes of a good artifact in many ways: every outcome must be a
/// verdict (accepted, or rejected with a code), never a panic or a hang.
fn mangle_and_inspect(kind: Kind, good: &Path, dir: &Path) {
    let bytes = fs::read(good).unwrap();
    let target = dir.join("mangled");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut verdicts = std::collections::BTreeMap::<&str, usize>::new();
    for round in 0..300 {
        let mut copy = bytes.clone();
        if round < 60 {
            copy.truncate(bytes.len() * round / 60);
        } else {
            for _ in 0..(1 + round % 4) {
                let at = (xorshift(&mut seed) as usize) % copy.len();
                copy[at] = xorshift(&mut seed) as u8;
            }
        }
        fs::write(&target, &copy).unwrap();
        let verdict = match inspect(kind, &target, &Limits::default()) {
            Ok(()) => "ok",
            Err(err) => err.code(),
        };
        *verdicts.entry(verdict).or_default() += 1;
    }
    assert!(
        verdicts.get("invalid-artifact").is_some_and(|&n| n > 0),
        "{verdicts:?}"
    );
}

#[test]
fn mangled_snaps_never_panic() {
    let dir = tempdir();
    let good = fixtures::build_snap_with(dir.path(), "mangle", &[], |root| {
        fixtures::write(
            root,
            "meta/snap.yaml",
            fixtures::snap_yaml("m", "1").as_bytes(),
        );
        for i in 0..50 {
            fixtures::write(root, &format!("d{}/f{i}", i % 5), format!("{i}").as_bytes());
        }
        std::os::unix::fs::symlink("d0/f0", root.join("link")).unwrap();
    });
    mangle_and_inspect(Kind::Snap, &good, dir.path());
}

#[test]
fn mangled_charms_never_panic() {
    let dir = tempdir();
    let manifest = fixtures::manifest(&[("ubuntu", "22.04", &["amd64"])]);
    let good = fixtures::build_charm(dir.path(), &fixtures::charm_metadata("m"), Some(&manifest));
    mangle_and_inspect(Kind::Charm, &good, dir.path());
}

#[test]
fn default_limits() {
    let limits = Limits::default();
    assert_eq!(limits.max_artifact_size, 2 << 30);
    assert_eq!(limits.max_entries, 100_000);
    assert_eq!(limits.max_unpacked_size, 8 << 30);
    assert_eq!(limits.max_metadata_size, 1 << 20);
}

#[test]
fn metadata_round_trips_through_json() {
    let meta = snap("name: j\nversion: '1'\nepoch: {read: [1], write: [1]}\n");
    let json = serde_json::to_string(&meta).unwrap();
    assert_eq!(serde_json::from_str::<SnapMeta>(&json).unwrap(), meta);
}
