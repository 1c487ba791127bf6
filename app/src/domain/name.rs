//! Package names.
//!
//! Snaps and charms share one naming rule: 2 to 40 characters of lowercase letters `a-z`,
//! digits `0-9` and hyphens, with at least one letter, no hyphen at either end and never
//! two hyphens in a row.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The fewest characters a package name may have.
pub const MIN_NAME_LEN: usize = 2;
/// The most characters a package name may have.
pub const MAX_NAME_LEN: usize = 40;

/// A valid snap or charm name. The only way to build one is [`PackageName::parse`] (or
/// its aliases `FromStr`, `TryFrom` and `Deserialize`), so holding a `PackageName` proves
/// the name follows the rules.
///
/// Serialises as a plain string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

/// Why a string is not a valid package name. Each variant carries the rejected name and
/// its `Display` says what is wrong and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// A character other than `a-z`, `0-9` or `-` (the first such character is given).
    InvalidCharacter {
        /// The rejected name.
        name: String,
        /// The first character that is not allowed.
        found: char,
    },
    /// Fewer than [`MIN_NAME_LEN`] characters.
    TooShort {
        /// The rejected name.
        name: String,
    },
    /// More than [`MAX_NAME_LEN`] characters.
    TooLong {
        /// The rejected name.
        name: String,
    },
    /// Only digits and hyphens.
    NoLetter {
        /// The rejected name.
        name: String,
    },
    /// Starts with `-`.
    LeadingHyphen {
        /// The rejected name.
        name: String,
    },
    /// Ends with `-`.
    TrailingHyphen {
        /// The rejected name.
        name: String,
    },
    /// Contains `--`.
    DoubleHyphen {
        /// The rejected name.
        name: String,
    },
}

impl NameError {
    /// The name that was rejected.
    pub fn name(&self) -> &str {
        match self {
            NameError::InvalidCharacter { name, .. }
            | NameError::TooShort { name }
            | NameError::TooLong { name }
            | NameError::NoLetter { name }
            | NameError::LeadingHyphen { name }
            | NameError::TrailingHyphen { name }
            | NameError::DoubleHyphen { name } => name,
        }
    }
}

/// Quote a user-supplied string for an error message: escaped like a Rust string literal
/// (so control characters cannot forge log lines) and cut short if it is very long.
pub(crate) fn quote_for_message(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name {} is not valid: ", quote_for_message(self.name()))?;
        match self {
            NameError::InvalidCharacter { .. } => {
                f.write_str("only lowercase letters a-z, digits 0-9 and hyphens are allowed")
            }
            NameError::TooShort { .. } => {
                write!(f, "names must be at least {MIN_NAME_LEN} characters long")
            }
            NameError::TooLong { name } => write!(
                f,
                "names must be at most {MAX_NAME_LEN} characters long, this one has {}",
                name.chars().count()
            ),
            NameError::NoLetter { .. } => f.write_str("names must contain at least one letter a-z"),
            NameError::LeadingHyphen { .. } => f.write_str("names must not start with a hyphen"),
            NameError::TrailingHyphen { .. } => f.write_str("names must not end with a hyphen"),
            NameError::DoubleHyphen { .. } => {
                f.write_str("names must not contain two hyphens in a row (\"--\")")
            }
        }
    }
}

impl std::error::Error for NameError {}

impl PackageName {
    /// Check `s` against the naming rules and wrap it.
    ///
    /// The checks run in this order, and the first failure is reported: allowed
    /// characters, length, at least one letter, leading hyphen, trailing hyphen, `--`.
    pub fn parse(s: &str) -> Result<PackageName, NameError> {
        let name = || s.to_owned();
        if let Some(found) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(NameError::InvalidCharacter {
                name: name(),
                found,
            });
        }
        // Only ASCII from here on, so bytes are characters.
        if s.len() < MIN_NAME_LEN {
            return Err(NameError::TooShort { name: name() });
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { name: name() });
        }
        if !s.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(NameError::NoLetter { name: name() });
        }
        if s.starts_with('-') {
            return Err(NameError::LeadingHyphen { name: name() });
        }
        if s.ends_with('-') {
            return Err(NameError::TrailingHyphen { name: name() });
        }
        if s.contains("--") {
            return Err(NameError::DoubleHyphen { name: name() });
        }
        Ok(PackageName(s.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PackageName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::parse(s)
    }
}

impl TryFrom<&str> for PackageName {
    type Error = NameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        PackageName::parse(s)
    }
}

impl TryFrom<String> for PackageName {
    type Error = NameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        PackageName::parse(&s)
    }
}

impl From<PackageName> for String {
    fn from(name: PackageName) -> String {
        name.0
    }
}

impl AsRef<str> for PackageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets a `HashMap<PackageName, _>` or `BTreeMap<PackageName, _>` be queried with a `&str`
/// (hashing and ordering agree with those of the inner string).
impl Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for PackageName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PackageName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for PackageName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PackageName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        PackageName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn err(s: &str) -> NameError {
        PackageName::parse(s).unwrap_err()
    }

    #[test]
    fn accepts_valid_names() {
        for ok in [
            "hello",
            "ab",
            "a1",
            "1a",
            "0ad",
            "hello-world",
            "a-b-c",
            "k8s",
            "postgresql-k8s",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 40
        ] {
            let name = PackageName::parse(ok).unwrap();
            assert_eq!(name.as_str(), ok);
            assert_eq!(name.to_string(), ok);
            assert_eq!(name.clone().into_string(), ok);
        }
    }

    #[test]
    fn rejects_each_rule_with_its_own_variant() {
        assert!(matches!(
            err("Foo"),
            NameError::InvalidCharacter { found: 'F', .. }
        ));
        assert!(matches!(
            err("foo_bar"),
            NameError::InvalidCharacter { found: '_', .. }
        ));
        assert!(matches!(
            err("foo bar"),
            NameError::InvalidCharacter { found: ' ', .. }
        ));
        assert!(matches!(
            err("héllo"),
            NameError::InvalidCharacter { found: 'é', .. }
        ));
        assert!(matches!(err("foo.bar"), NameError::InvalidCharacter { .. }));
        assert!(matches!(err("foo/bar"), NameError::InvalidCharacter { .. }));
        assert!(matches!(err(""), NameError::TooShort { .. }));
        assert!(matches!(err("a"), NameError::TooShort { .. }));
        assert!(matches!(err(&"a".repeat(41)), NameError::TooLong { .. }));
        assert!(matches!(err("12"), NameError::NoLetter { .. }));
        assert!(matches!(err("1-2"), NameError::NoLetter { .. }));
        assert!(matches!(err("-foo"), NameError::LeadingHyphen { .. }));
        assert!(matches!(err("foo-"), NameError::TrailingHyphen { .. }));
        assert!(matches!(err("foo--bar"), NameError::DoubleHyphen { .. }));
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert_eq!(
            err("Foo").to_string(),
            "name \"Foo\" is not valid: only lowercase letters a-z, digits 0-9 and hyphens are allowed"
        );
        assert_eq!(
            err("a").to_string(),
            "name \"a\" is not valid: names must be at least 2 characters long"
        );
        assert_eq!(
            err(&"a".repeat(41)).to_string(),
            format!(
                "name \"{}\" is not valid: names must be at most 40 characters long, this one has 41",
                "a".repeat(41)
            )
        );
        assert_eq!(
            err("123").to_string(),
            "name \"123\" is not valid: names must contain at least one letter a-z"
        );
        assert_eq!(
            err("-foo").to_string(),
            "name \"-foo\" is not valid: names must not start with a hyphen"
        );
        assert_eq!(
            err("foo-").to_string(),
            "name \"foo-\" is not valid: names must not end with a hyphen"
        );
        assert_eq!(
            err("a--b").to_string(),
            "name \"a--b\" is not valid: names must not contain two hyphens in a row (\"--\")"
        );
    }

    #[test]
    fn messages_escape_and_shorten_hostile_input() {
        let msg = err("evil\nname").to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains("\\n"), "{msg}");
        let long = "x".repeat(10_000);
        let msg = err(&long).to_string();
        assert!(msg.len() < 300, "{msg}");
        assert!(msg.contains("this one has 10000"), "{msg}");
        assert_eq!(err(&long).name(), long);
    }

    #[test]
    fn serde_is_a_plain_string_and_validates() {
        let name = PackageName::parse("hello-world").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"hello-world\"");
        let back: PackageName = serde_json::from_str("\"hello-world\"").unwrap();
        assert_eq!(back, name);
        let e = serde_json::from_str::<PackageName>("\"Hello\"").unwrap_err();
        assert!(e.to_string().contains("only lowercase letters"), "{e}");
        assert!(serde_json::from_str::<PackageName>("42").is_err());
    }

    #[test]
    fn conversions_and_borrow() {
        let name: PackageName = "foo".parse().unwrap();
        assert_eq!(PackageName::try_from("foo").unwrap(), name);
        assert_eq!(PackageName::try_from("foo".to_owned()).unwrap(), name);
        assert_eq!(String::from(name.clone()), "foo");
        assert!(name == "foo");
        let mut map = HashMap::new();
        map.insert(name, 1);
        assert_eq!(map.get("foo"), Some(&1));
    }

    /// The rules, written a second, independent way.
    fn reference_valid(s: &str) -> bool {
        let len = s.chars().count();
        (2..=40).contains(&len)
            && s.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
            && s.chars().any(|c| c.is_ascii_lowercase())
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
    }

    proptest! {
        #[test]
        fn agrees_with_reference(s in "[a-z0-9-]{0,44}") {
            prop_assert_eq!(PackageName::parse(&s).is_ok(), reference_valid(&s));
        }

        #[test]
        fn never_panics_and_agrees_on_arbitrary_strings(s in ".{0,50}") {
            let got = PackageName::parse(&s);
            prop_assert_eq!(got.is_ok(), reference_valid(&s));
            if let Err(e) = got {
                prop_assert_eq!(e.name(), s.as_str());
                prop_assert!(e.to_string().starts_with("name "));
            }
        }

        #[test]
        fn valid_names_round_trip(s in "[a-z][a-z0-9]{1,3}(-[a-z0-9]{1,4}){0,5}") {
            let name = PackageName::parse(&s).unwrap();
            prop_assert_eq!(name.to_string().parse::<PackageName>().unwrap(), name.clone());
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<PackageName>(&json).unwrap(), name);
        }
    }
}
