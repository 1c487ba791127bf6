//! Charm libraries: Python modules a charm publishes for other charms to fetch
//! (`charmcraft publish-lib`, `charmcraft fetch-libs`).
//!
//! A library belongs to one charm, has a store-assigned id and a name (its module name), and
//! is published in versions `API.PATCH`. Within an API version patches are consecutive: the
//! next one published is always the store's newest plus one, so every client that fetched
//! `API.N` can tell whether it is behind. The module declares its own id and version in
//! top-level constants (`LIBID = "…"`, `LIBAPI = 0`, `LIBPATCH = 3`); the content hash that
//! clients compare leaves exactly those lines out, so bumping the version does not change it.

use std::fmt;

/// The longest library name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Why a library name or a version to publish is refused. `code()` is part of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibraryError {
    InvalidName(String),
    /// `LIBAPI = 0` with `LIBPATCH = 0` (charmcraft refuses it too: 0.0 is "not yet released").
    ZeroVersion,
    /// The store already has this exact version.
    Exists {
        api: u32,
        patch: u32,
    },
    /// The patch is not the store's newest plus one.
    NotConsecutive {
        api: u32,
        patch: u32,
        newest: u32,
    },
}

impl LibraryError {
    pub fn code(&self) -> &'static str {
        match self {
            LibraryError::InvalidName(_) => "invalid-library-name",
            LibraryError::ZeroVersion => "invalid-library-version",
            LibraryError::Exists { .. } => "library-version-exists",
            LibraryError::NotConsecutive { .. } => "library-patch-not-consecutive",
        }
    }
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibraryError::InvalidName(name) => write!(
                f,
                "{name:?} is not a valid library name: use lowercase letters, digits and \
                 underscores, starting with a letter, at most {MAX_NAME_LEN} characters"
            ),
            LibraryError::ZeroVersion => {
                write!(
                    f,
                    "version 0.0 cannot be published: start API 0 at LIBPATCH = 1"
                )
            }
            LibraryError::Exists { api, patch } => write!(
                f,
                "version {api}.{patch} is already published; increase LIBPATCH to publish a change"
            ),
            LibraryError::NotConsecutive { api, patch, newest } => write!(
                f,
                "version {api}.{patch} does not follow the published {api}.{newest}: publish \
                 {api}.{next} next",
                next = newest + 1
            ),
        }
    }
}

impl std::error::Error for LibraryError {}

/// Checks a library name: a Python module name in lowercase (`[a-z][a-z0-9_]*`).
pub fn validate_name(name: &str) -> Result<(), LibraryError> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LibraryError::InvalidName(name.to_owned()))
    }
}

/// Whether `API.PATCH` may be published when the store's newest patch of that API is `newest`.
pub fn check_next_version(api: u32, patch: u32, newest: Option<u32>) -> Result<(), LibraryError> {
    if api == 0 && patch == 0 {
        return Err(LibraryError::ZeroVersion);
    }
    match newest {
        None => Ok(()),
        Some(newest) if patch == newest => Err(LibraryError::Exists { api, patch }),
        Some(newest) if Some(patch) == newest.checked_add(1) => Ok(()),
        Some(newest) => Err(LibraryError::NotConsecutive { api, patch, newest }),
    }
}

/// The names of the constants that carry a library's identity and version.
const VERSION_FIELDS: [&str; 3] = ["LIBAPI", "LIBPATCH", "LIBID"];

/// The parts of `content` its content hash covers, in order: every line (with `\r\n` read as
/// `\n`) except those starting with `LIBAPI`, `LIBPATCH` or `LIBID`, as charmcraft hashes them.
pub fn hashed_lines(content: &str) -> impl Iterator<Item = &str> {
    content
        .split_inclusive('\n')
        .filter(|line| !VERSION_FIELDS.iter().any(|f| line.starts_with(f)))
        .flat_map(|line| match line.strip_suffix("\r\n") {
            Some(body) => [body, "\n"],
            None => [line, ""],
        })
        .filter(|part| !part.is_empty())
}

/// The identity and version a library module declares in its top-level constants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    pub id: Option<String>,
    pub api: Option<u32>,
    pub patch: Option<u32>,
}

/// Reads `LIBID = "…"`, `LIBAPI = N` and `LIBPATCH = N` from the module's top-level lines.
/// A constant written any other way counts as not declared.
pub fn declared(content: &str) -> Declared {
    let mut out = Declared::default();
    for line in content.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.split('#').next().unwrap_or("").trim();
        match name.trim_end() {
            "LIBID" => {
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')));
                out.id = unquoted.map(str::to_owned);
            }
            "LIBAPI" => out.api = value.parse().ok(),
            "LIBPATCH" => out.patch = value.parse().ok(),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["db", "postgres_client", "v2x", "a"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Db",
            "1db",
            "_db",
            "db-client",
            "db.client",
            "é",
            &"a".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_follow_each_other() {
        assert_eq!(check_next_version(0, 1, None), Ok(()));
        assert_eq!(check_next_version(2, 0, None), Ok(()));
        assert_eq!(check_next_version(3, 7, None), Ok(()));
        assert_eq!(
            check_next_version(0, 0, None),
            Err(LibraryError::ZeroVersion)
        );
        assert_eq!(check_next_version(0, 2, Some(1)), Ok(()));
        assert_eq!(
            check_next_version(0, 1, Some(1)),
            Err(LibraryError::Exists { api: 0, patch: 1 })
        );
        let skip = check_next_version(0, 4, Some(2)).unwrap_err();
        assert_eq!(skip.code(), "library-patch-not-consecutive");
        assert!(skip.to_string().contains("publish 0.3 next"), "{skip}");
        assert!(check_next_version(0, 1, Some(2)).is_err());
        assert!(check_next_version(1, 0, Some(u32::MAX)).is_err());
    }

    #[test]
    fn hash_leaves_out_the_version_lines_and_carriage_returns() {
        let text = "\"\"\"Doc.\"\"\"\r\nLIBID = \"abc\"\nLIBAPI = 0\nLIBPATCH = 3\n\nx = 1\r\nlast";
        let hashed: String = hashed_lines(text).collect();
        assert_eq!(hashed, "\"\"\"Doc.\"\"\"\n\nx = 1\nlast");
        let bumped = text.replace("LIBPATCH = 3", "LIBPATCH = 4");
        assert_eq!(hashed_lines(&bumped).collect::<String>(), hashed);
    }

    #[test]
    fn declared_constants() {
        let text = "import x\nLIBID = \"0123abcd\"\nLIBAPI = 2  # api\nLIBPATCH=5\n  LIBAPI = 9\n";
        assert_eq!(
            declared(text),
            Declared {
                id: Some("0123abcd".into()),
                api: Some(2),
                patch: Some(5)
            }
        );
        assert_eq!(declared("LIBID = abc\nLIBAPI = x\n"), Declared::default());
    }
}
