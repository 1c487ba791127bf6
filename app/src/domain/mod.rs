//! Pure domain types and rules: package names, channels, channel-map resolution and epochs.
//!
//! Nothing in here does I/O or reads a clock: time is passed in as `i64` unix seconds. The
//! module depends only on the standard library and serde, so every rule can be unit- and
//! property-tested in isolation and reused by the HTTP layer, the store and the catalog.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod channel;
pub mod epoch;
pub mod library;
pub mod name;
pub mod resolve;

pub use channel::{Channel, ChannelError, Risk};
pub use epoch::{Epoch, EpochError};
pub use name::{NameError, PackageName};

/// The track a channel is on when it names none (`edge` means `latest/edge`).
pub const DEFAULT_TRACK: &str = "latest";

/// The architectures a revision or resource may be for, besides `all` (Debian's names, as
/// snapcraft and charmcraft use them).
pub const ARCHITECTURES: &[&str] = &[
    "amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x",
];

/// How long a branch (`track/risk/branch`) lives after a release to it: 30 days.
pub const BRANCH_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// The kind of package a name belongs to. Snaps and charms live in separate namespaces:
/// the same name may be registered once as a snap and once as a charm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// A snap (squashfs image installed by snapd).
    Snap,
    /// A charm (zip deployed by Juju).
    Charm,
}

impl Namespace {
    /// Both namespaces, snaps first.
    pub const ALL: [Namespace; 2] = [Namespace::Snap, Namespace::Charm];

    /// The singular lowercase name: `"snap"` or `"charm"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Namespace::Snap => "snap",
            Namespace::Charm => "charm",
        }
    }

    /// The plural lowercase name used in API paths: `"snaps"` or `"charms"`.
    pub fn plural(&self) -> &'static str {
        match self {
            Namespace::Snap => "snaps",
            Namespace::Charm => "charms",
        }
    }

    /// The file extension of an artifact, without the dot: `"snap"` or `"charm"`.
    pub fn file_extension(&self) -> &'static str {
        match self {
            Namespace::Snap => "snap",
            Namespace::Charm => "charm",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string is neither `snap` nor `charm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownNamespace(pub String);

impl fmt::Display for UnknownNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown package namespace {:?}: expected \"snap\" or \"charm\"",
            self.0
        )
    }
}

impl std::error::Error for UnknownNamespace {}

impl FromStr for Namespace {
    type Err = UnknownNamespace;

    /// Accepts exactly `snap` and `charm`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "snap" => Ok(Namespace::Snap),
            "charm" => Ok(Namespace::Charm),
            other => Err(UnknownNamespace(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn namespace_strings() {
        assert_eq!(Namespace::Snap.as_str(), "snap");
        assert_eq!(Namespace::Charm.as_str(), "charm");
        assert_eq!(Namespace::Snap.plural(), "snaps");
        assert_eq!(Namespace::Charm.plural(), "charms");
        assert_eq!(Namespace::Snap.file_extension(), "snap");
        assert_eq!(Namespace::Charm.file_extension(), "charm");
        assert_eq!(Namespace::Charm.to_string(), "charm");
    }

    #[test]
    fn namespace_from_str() {
        assert_eq!("snap".parse::<Namespace>(), Ok(Namespace::Snap));
        assert_eq!("charm".parse::<Namespace>(), Ok(Namespace::Charm));
        for bad in ["", "snaps", "Snap", "CHARM", " snap", "bundle"] {
            let err = bad.parse::<Namespace>().unwrap_err();
            assert_eq!(err, UnknownNamespace(bad.to_owned()));
            let msg = err.to_string();
            assert!(msg.contains("\"snap\" or \"charm\""), "{msg}");
        }
    }

    #[test]
    fn namespace_serde() {
        assert_eq!(serde_json::to_string(&Namespace::Snap).unwrap(), "\"snap\"");
        assert_eq!(
            serde_json::from_str::<Namespace>("\"charm\"").unwrap(),
            Namespace::Charm
        );
        assert!(serde_json::from_str::<Namespace>("\"Charm\"").is_err());
    }

    #[test]
    fn constants() {
        assert_eq!(DEFAULT_TRACK, "latest");
        assert_eq!(BRANCH_LIFETIME_SECS, 2_592_000);
    }

    proptest! {
        #[test]
        fn namespace_display_parse_round_trip(i in 0usize..2) {
            let ns = Namespace::ALL[i];
            prop_assert_eq!(ns.to_string().parse::<Namespace>(), Ok(ns));
            let json = serde_json::to_string(&ns).unwrap();
            prop_assert_eq!(json, format!("\"{}\"", ns.as_str()));
        }

        #[test]
        fn namespace_parse_never_panics(s in ".*") {
            let _ = s.parse::<Namespace>();
        }
    }
}
