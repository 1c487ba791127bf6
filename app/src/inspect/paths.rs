//! Entry paths and symlinks: the checks shared by both archive formats.
//!
//! Archive entries are collected into a [`Tree`] (one node per path, interned), and every
//! symlink is then resolved *through the other symlinks* of the archive, the way the kernel
//! would after extraction. A purely lexical check is not enough: with `d/up -> ..`, the
//! target `d/up/../..` looks harmless but leaves the root.

use std::collections::HashMap;

use super::InspectError;
use super::limits::{MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_SYMLINK_HOPS, MAX_SYMLINK_TARGET};

/// A path for an error message: escaped, quoted and cut short.
pub(crate) fn quote(path: &[u8]) -> String {
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(&path[..path.len().min(MAX)]);
    let mut quoted = format!("\"{}\"", text.escape_debug());
    if path.len() > MAX {
        quoted.push('…');
    }
    quoted
}

/// Split an archive entry name into its components, rejecting anything that could land
/// outside the extraction root: absolute paths, drive letters, `..`, backslashes, NUL.
/// Empty and `.` components are dropped (`dir/` names a directory).
pub(crate) fn components(name: &[u8]) -> Result<Vec<&[u8]>, InspectError> {
    let drive = name.len() >= 2 && name[0].is_ascii_alphabetic() && name[1] == b':';
    if name.first() == Some(&b'/') || drive || name.iter().any(|&b| b == 0 || b == b'\\') {
        return Err(InspectError::traversal(name));
    }
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|part| !part.is_empty() && *part != b".")
        .collect();
    if parts.iter().any(|part| *part == b"..") {
        return Err(InspectError::traversal(name));
    }
    if parts.is_empty() {
        return Err(InspectError::invalid(format!(
            "entry {} has no name",
            quote(name)
        )));
    }
    check_shape(name, parts.len())?;
    Ok(parts)
}

/// Length and depth caps for one entry path.
pub(crate) fn check_shape(path: &[u8], depth: usize) -> Result<(), InspectError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(InspectError::unsafe_entry(
            path,
            format!("has a path longer than {MAX_PATH_BYTES} bytes"),
        ));
    }
    if depth > MAX_PATH_DEPTH {
        return Err(InspectError::unsafe_entry(
            path,
            format!("is nested more than {MAX_PATH_DEPTH} directories deep"),
        ));
    }
    Ok(())
}

/// Whether an absolute symlink target is acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Absolute {
    /// Snaps are mounted, never extracted, and absolute links resolve inside the snap's
    /// mount namespace (into the base); Debian packages staged into snaps ship them.
    Allow,
    /// Charms are unpacked onto the machine: an absolute link points at the host.
    Reject,
}

pub(crate) const ROOT: u32 = 0;

struct Node {
    parent: u32,
    name: Box<[u8]>,
    /// The raw target if this node is a symlink.
    link: Option<Box<[u8]>>,
}

/// Interned archive paths: node 0 is the root.
pub(crate) struct Tree {
    nodes: Vec<Node>,
    children: HashMap<(u32, Box<[u8]>), u32>,
}

/// Work budget (path components processed) for resolving all symlinks of one archive.
const RESOLVE_BUDGET: usize = 4_000_000;

impl Tree {
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![Node {
                parent: ROOT,
                name: Box::default(),
                link: None,
            }],
            children: HashMap::new(),
        }
    }

    pub(crate) fn child(&self, parent: u32, name: &[u8]) -> Option<u32> {
        // Borrowed lookup without allocating a key is not possible with a tuple key; names
        // are short (<= 255 bytes in squashfs, a path component in zip).
        self.children.get(&(parent, Box::from(name))).copied()
    }

    pub(crate) fn is_symlink(&self, node: u32) -> bool {
        self.nodes[node as usize].link.is_some()
    }

    /// The path of a node, `a/b/c`, for messages.
    pub(crate) fn path(&self, mut node: u32) -> Vec<u8> {
        let mut parts = Vec::new();
        while node != ROOT {
            let n = &self.nodes[node as usize];
            parts.push(&n.name[..]);
            node = n.parent;
        }
        parts.reverse();
        parts.join(&b'/')
    }

    /// Add `name` under `parent`. `None` if that path already exists.
    pub(crate) fn insert(
        &mut self,
        parent: u32,
        name: &[u8],
        link: Option<Vec<u8>>,
    ) -> Option<u32> {
        let key = (parent, Box::from(name));
        if self.children.contains_key(&key) {
            return None;
        }
        let id = u32::try_from(self.nodes.len()).expect("entry count is bounded by the limits");
        self.nodes.push(Node {
            parent,
            name: Box::from(name),
            link: link.map(Vec::into_boxed_slice),
        });
        self.children.insert(key, id);
        Some(id)
    }

    /// Add a full path (zip), creating implicit parent directories. Rejects duplicates and
    /// entries below a symlink (extracting them would write through the link).
    pub(crate) fn insert_path(
        &mut self,
        raw: &[u8],
        parts: &[&[u8]],
        is_dir: bool,
        link: Option<Vec<u8>>,
    ) -> Result<u32, InspectError> {
        let (last, dirs) = parts.split_last().expect("components are never empty");
        let mut at = ROOT;
        for dir in dirs {
            at = match self.child(at, dir) {
                Some(existing) if self.is_symlink(existing) => {
                    return Err(InspectError::unsafe_entry(
                        raw,
                        "is inside a symlinked directory",
                    ));
                }
                Some(existing) => existing,
                None => self.insert(at, dir, None).expect("checked absent"),
            };
        }
        match self.child(at, last) {
            // `dir/` after `dir/file` implied it: fine. Anything else is a second entry
            // with the same path, which tools would resolve differently.
            Some(existing) if is_dir && !self.is_symlink(existing) => Ok(existing),
            Some(_) => Err(InspectError::invalid(format!(
                "entry {} appears more than once",
                quote(raw)
            ))),
            None => Ok(self.insert(at, last, link).expect("checked absent")),
        }
    }

    /// Resolve every symlink through the archive's other symlinks; reject one that leaves
    /// the root, loops, or (with [`Absolute::Reject`]) points to an absolute path.
    pub(crate) fn check_symlinks(&self, absolute: Absolute) -> Result<(), InspectError> {
        let mut budget = RESOLVE_BUDGET;
        for (id, node) in self.nodes.iter().enumerate() {
            let Some(target) = &node.link else { continue };
            let id = u32::try_from(id).expect("bounded");
            self.resolve(id, node.parent, target, absolute, &mut budget)?;
        }
        Ok(())
    }

    fn resolve(
        &self,
        link: u32,
        parent: u32,
        target: &[u8],
        absolute: Absolute,
        budget: &mut usize,
    ) -> Result<(), InspectError> {
        let fail = |reason: &str| Err(InspectError::unsafe_entry(&self.path(link), reason));
        check_target(&self.path(link), target, absolute)?;
        if target.first() == Some(&b'/') {
            // Allowed absolute link: it leaves the archive by design, nothing to resolve.
            return Ok(());
        }
        // Pending components, last to process on top.
        let mut pending: Vec<&[u8]> = target.split(|&b| b == b'/').rev().collect();
        // Where we are: an existing node plus a count of components below it that do not
        // exist in the archive (a dangling tail that `..` can climb back out of).
        let mut base = parent;
        let mut missing = 0usize;
        let mut hops = 0usize;
        while let Some(part) = pending.pop() {
            if *budget == 0 {
                return fail("is part of a symlink chain too large to verify");
            }
            *budget -= 1;
            match part {
                b"" | b"." => {}
                b".." if missing > 0 => missing -= 1,
                b".." if base == ROOT => {
                    return fail("is a symlink whose target escapes the archive root");
                }
                b".." => base = self.nodes[base as usize].parent,
                _ if missing > 0 => missing += 1,
                name => match self.child(base, name) {
                    None => missing = 1,
                    Some(next) => match &self.nodes[next as usize].link {
                        None => base = next,
                        Some(next_target) => {
                            hops += 1;
                            if hops > MAX_SYMLINK_HOPS {
                                return fail("is a symlink loop");
                            }
                            if next_target.first() == Some(&b'/') {
                                // Leads to an absolute link: checked on its own, and only
                                // reached here when absolute links are allowed.
                                return Ok(());
                            }
                            pending.extend(next_target.split(|&b| b == b'/').rev());
                            if pending.len() > MAX_PATH_BYTES {
                                return fail("is a symlink chain that expands too far");
                            }
                        }
                    },
                },
            }
        }
        Ok(())
    }
}

/// Checks on a symlink target on its own.
fn check_target(path: &[u8], target: &[u8], absolute: Absolute) -> Result<(), InspectError> {
    if target.len() as u64 > MAX_SYMLINK_TARGET {
        return Err(InspectError::unsafe_entry(
            path,
            format!("is a symlink with a target longer than {MAX_SYMLINK_TARGET} bytes"),
        ));
    }
    if target.contains(&0) {
        return Err(InspectError::unsafe_entry(
            path,
            "is a symlink whose target contains a NUL byte",
        ));
    }
    if target.first() == Some(&b'/') && absolute == Absolute::Reject {
        return Err(InspectError::unsafe_entry(
            path,
            "is a symlink to an absolute path outside the archive",
        ));
    }
    Ok(())
}

/// Extra checks on a zip symlink target: Windows-style separators and drive letters.
pub(crate) fn check_zip_target(path: &[u8], target: &[u8]) -> Result<(), InspectError> {
    let drive = target.len() >= 2 && target[0].is_ascii_alphabetic() && target[1] == b':';
    if drive || target.contains(&b'\\') {
        return Err(InspectError::unsafe_entry(
            path,
            "is a symlink with a Windows-style target",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Option<&str>)]) -> Tree {
        let mut tree = Tree::new();
        for (name, link) in entries {
            let parts = components(name.as_bytes()).unwrap();
            tree.insert_path(
                name.as_bytes(),
                &parts,
                name.ends_with('/'),
                link.map(|l| l.as_bytes().to_vec()),
            )
            .unwrap();
        }
        tree
    }

    fn code(tree: &Tree, absolute: Absolute) -> &'static str {
        match tree.check_symlinks(absolute) {
            Ok(()) => "ok",
            Err(err) => err.code(),
        }
    }

    #[test]
    fn entry_names() {
        for bad in ["../x", "a/../../x", "/etc/x", "a\\b", "C:/x", "a/\0"] {
            assert_eq!(
                components(bad.as_bytes()).unwrap_err().code(),
                "path-traversal",
                "{bad}"
            );
        }
        assert_eq!(
            components(b"./a//b/").unwrap(),
            vec![b"a".as_slice(), b"b".as_slice()]
        );
        assert_eq!(components(b"./").unwrap_err().code(), "invalid-artifact");
        let deep = "a/".repeat(MAX_PATH_DEPTH + 1);
        assert_eq!(
            components(deep.as_bytes()).unwrap_err().code(),
            "unsafe-entry"
        );
    }

    #[test]
    fn symlinks_inside_are_fine() {
        let t = tree(&[
            ("lib/libfoo.so.1", None),
            ("lib/libfoo.so", Some("libfoo.so.1")),
            ("lib64", Some("lib")),
            ("usr/lib/x", Some("../../lib/libfoo.so")),
            ("dangling", Some("nope/../lib/x/../../usr")),
            ("sys", Some("/usr/lib")),
        ]);
        assert_eq!(code(&t, Absolute::Allow), "ok");
        assert_eq!(code(&t, Absolute::Reject), "unsafe-entry");
    }

    #[test]
    fn escapes_are_caught_through_other_links() {
        assert_eq!(
            code(&tree(&[("a/b", Some("../../etc"))]), Absolute::Allow),
            "unsafe-entry"
        );
        // Lexically `d/up/../..` is the root; physically it is the root's parent.
        let t = tree(&[("d/up", Some("..")), ("e", Some("d/up/.."))]);
        assert_eq!(code(&t, Absolute::Allow), "unsafe-entry");
        let t = tree(&[("a", Some("b")), ("b", Some("a"))]);
        assert_eq!(code(&t, Absolute::Allow), "unsafe-entry");
    }

    #[test]
    fn entries_below_a_symlink_are_rejected() {
        let mut t = tree(&[("d", Some("sub")), ("sub/", None)]);
        let err = t
            .insert_path(b"d/x", &[b"d", b"x"], false, None)
            .unwrap_err();
        assert_eq!(err.code(), "unsafe-entry");
    }
}
