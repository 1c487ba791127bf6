//! What a pushed artifact may say about itself: the same rules snapd applies when it installs a
//! snap (so that the store never serves one snapd refuses), and bounds on what a charm's
//! metadata puts in listings.
//!
//! The text an artifact carries ends up in `snap info`, `depot status`, search results and web
//! pages; a control character in it (an escape sequence that retitles or clears the terminal
//! of whoever looks) or a 100,000-character version is refused here, before anything is stored.

use super::{CharmMeta, InspectError, SnapMeta};
use crate::domain::ARCHITECTURES;

/// snapd's bounds (`snap/validate.go`): a title of 40 characters, a description of 4,096.
const SNAP_TITLE: usize = 40;
const SNAP_DESCRIPTION: usize = 4096;
/// A one-line summary, as the store's metadata update allows.
const SUMMARY: usize = 128;
const LICENSE: usize = 256;
/// A charm's summary and description are free text of its `metadata.yaml`, which neither
/// charmcraft nor Charmhub bounds (some descriptions are whole READMEs): generous bounds, well
/// inside the metadata file's own size limit.
const CHARM_SUMMARY: usize = 2048;
const CHARM_DESCRIPTION: usize = 65_536;
/// A charm's `version` file is whatever its build wrote (often `git describe`).
const CHARM_VERSION: usize = 64;

pub(crate) const SNAP_TYPES: &[&str] = &["app", "base", "gadget", "kernel", "os", "snapd"];
pub(crate) const CONFINEMENTS: &[&str] = &["strict", "classic", "devmode"];
pub(crate) const GRADES: &[&str] = &["stable", "devel"];

/// A value as an error message shows it: quoted, control characters escaped, cut short.
fn shown(value: &str) -> String {
    let mut cut: String = value.chars().take(40).collect();
    if cut.len() < value.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// Free text: at most `max` characters, and no control characters but newlines and tabs.
pub(crate) fn text(key: &str, value: &str, max: usize) -> Result<(), String> {
    let count = value.chars().count();
    if count > max {
        return Err(format!(
            "`{key}` is {count} characters long; the most is {max}"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(format!(
            "`{key}` contains the control character {:?}; remove it",
            c
        ));
    }
    Ok(())
}

/// A single line: [`text`] without newlines or tabs either.
pub(crate) fn line(key: &str, value: &str, max: usize) -> Result<(), String> {
    text(key, value, max)?;
    if value.contains(['\n', '\t']) {
        return Err(format!("`{key}` must be a single line"));
    }
    Ok(())
}

/// snapd's version rule: 1 to 32 ASCII letters, digits and `:.+~-`, starting with a letter or
/// digit and ending with one or `+`/`~`.
pub(crate) fn snap_version(version: &str) -> Result<(), String> {
    let bytes = version.as_bytes();
    let middle = |b: &u8| b.is_ascii_alphanumeric() || b":.+~-".contains(b);
    let valid = !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(middle)
        && bytes
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'~');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`version` {} is not a snap version: 1 to 32 ASCII letters, digits and `:.+~-`, \
             starting with a letter or digit and ending with one or `+` or `~`",
            shown(version)
        ))
    }
}

/// `all` alone, or known architectures, each once.
fn architectures(key: &str, list: &[String]) -> Result<(), String> {
    for (i, arch) in list.iter().enumerate() {
        if arch == "all" {
            if list.len() > 1 {
                return Err(format!(
                    "`{key}` lists `all` beside other architectures; use `all` alone"
                ));
            }
        } else if !ARCHITECTURES.contains(&arch.as_str()) {
            return Err(format!(
                "`{key}` names the unknown architecture {}: use all, or some of {}",
                shown(arch),
                ARCHITECTURES.join(", ")
            ));
        }
        if list[..i].contains(arch) {
            return Err(format!("`{key}` lists {} twice", shown(arch)));
        }
    }
    Ok(())
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is {}; expected one of {}",
            shown(value),
            allowed.join(", ")
        ))
    }
}

/// A short identifier (a base's name or channel, a resource's name): 1 to 64 letters, digits,
/// `.`, `-`, `_` (and `/` in a channel such as `22.04/stable`), starting with a letter or
/// digit.
fn identifier(key: &str, value: &str, slash: bool) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c) || (slash && c == '/');
    if !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.chars().all(ok)
    {
        Ok(())
    } else {
        Err(format!(
            "`{key}` {} must be 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit",
            shown(value)
        ))
    }
}

/// Checks what `meta/snap.yaml` says, as snapd would.
pub(crate) fn check_snap(file: &str, meta: &SnapMeta) -> Result<(), InspectError> {
    let bad = |reason: String| InspectError::malformed(file, reason);
    snap_version(&meta.version).map_err(bad)?;
    if let Some(title) = &meta.title {
        line("title", title, SNAP_TITLE).map_err(bad)?;
    }
    line("summary", &meta.summary, SUMMARY).map_err(bad)?;
    text("description", &meta.description, SNAP_DESCRIPTION).map_err(bad)?;
    if let Some(license) = &meta.license {
        line("license", license, LICENSE).map_err(bad)?;
    }
    architectures("architectures", &meta.architectures).map_err(bad)?;
    if let Some(base) = &meta.base {
        identifier("base", base, false).map_err(bad)?;
    }
    one_of("confinement", &meta.confinement, CONFINEMENTS).map_err(bad)?;
    one_of("grade", &meta.grade, GRADES).map_err(bad)?;
    one_of("type", &meta.snap_type, SNAP_TYPES).map_err(bad)?;
    Ok(())
}

/// Checks a charm's metadata (`source` is the file it came from), its `version` file and the
/// bases its manifest or `charmcraft.yaml` names.
pub(crate) fn check_charm(source: &str, meta: &CharmMeta) -> Result<(), InspectError> {
    let bad = |reason: String| InspectError::malformed(source, reason);
    text("summary", &meta.summary, CHARM_SUMMARY).map_err(bad)?;
    text("description", &meta.description, CHARM_DESCRIPTION).map_err(bad)?;
    for resource in &meta.resources {
        identifier("resources", &resource.name, false).map_err(bad)?;
        if let Some(filename) = &resource.filename {
            line("filename", filename, 255).map_err(bad)?;
        }
        if let Some(description) = &resource.description {
            text("description", description, CHARM_DESCRIPTION).map_err(bad)?;
        }
    }
    if let Some(version) = &meta.version {
        line("version", version, CHARM_VERSION)
            .map_err(|reason| InspectError::malformed("version", reason))?;
    }
    for base in &meta.bases {
        let bad = |reason: String| InspectError::malformed("the charm's bases", reason);
        identifier("name", &base.name, false).map_err(bad)?;
        identifier("channel", &base.channel, true).map_err(bad)?;
        if base.architecture != "all" {
            architectures("architectures", std::slice::from_ref(&base.architecture))
                .map_err(bad)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_versions_follow_snapd() {
        for good in [
            "1",
            "1.0",
            "2.10",
            "1.0+git3~ubuntu",
            "v1:2-3",
            "a",
            "1+",
            "x~",
        ] {
            assert!(snap_version(good).is_ok(), "{good}");
        }
        let long = "1".repeat(33);
        for bad in [
            "",
            ".1",
            "1.",
            "1-",
            "-1",
            "1 0",
            "1\u{1b}[31m",
            "1.0é",
            "1/0",
            &long,
        ] {
            assert!(snap_version(bad).is_err(), "{bad:?}");
        }
        assert!(snap_version(&"1".repeat(32)).is_ok());
    }

    #[test]
    fn text_refuses_control_characters_but_newlines_and_tabs() {
        assert!(text("description", "one\n\ttwo", 100).is_ok());
        let err = text("summary", "hi \u{1b}]0;pwned\u{7}", 100).unwrap_err();
        assert!(err.contains("control character"), "{err}");
        assert!(text("summary", "\u{0}", 100).is_err());
        assert!(line("summary", "one\ntwo", 100).is_err());
        // Characters, not bytes.
        assert!(text("title", &"é".repeat(40), 40).is_ok());
        assert!(text("title", &"é".repeat(41), 40).is_err());
    }

    #[test]
    fn architectures_are_known_names_or_all_alone() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(architectures("a", &list(&["all"])).is_ok());
        assert!(architectures("a", &list(&["amd64", "arm64"])).is_ok());
        for bad in [
            &["../../x"][..],
            &["all", "amd64"],
            &["amd64", "amd64"],
            &["AMD64"],
            &[""],
        ] {
            assert!(architectures("a", &list(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_show_values_escaped_and_short() {
        let err = snap_version(&format!("\u{1b}[2J{}", "9".repeat(100_000))).unwrap_err();
        assert!(err.len() < 300, "{}", err.len());
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
