//! Epochs, as snapd defines them (`snap/epoch.go`).
//!
//! An epoch says which generations of data a revision can read and write. A revision may be
//! offered to a device only when it can read what the installed revision wrote. Most snaps
//! never set one and are on epoch `0`. The short forms are `N` (read and write `N`) and `N*`
//! (read `N-1` and `N`, write `N`: a revision that migrates data forward); the long form is
//! a mapping `{read: [...], write: [...]}`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::name::quote_for_message;

/// The most entries a read or write list may have.
pub const MAX_EPOCH_LIST_LEN: usize = 10;

/// Which data generations a revision reads and writes.
///
/// A valid epoch (see [`Epoch::validate`]) has non-empty, strictly ascending lists of at
/// most [`MAX_EPOCH_LIST_LEN`] entries that share at least one epoch. The default is
/// epoch `0`: read `[0]`, write `[0]`.
///
/// Serialises as `{"read": [...], "write": [...]}`, as the store sends it to snapd;
/// deserialises from that mapping, a short-form string (`"1*"`) or an integer.
/// `Display` prints the short form when there is one, like snapd.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Epoch {
    /// The epochs whose data this revision can read.
    pub read: Vec<u32>,
    /// The epochs whose data this revision writes.
    pub write: Vec<u32>,
}

impl Default for Epoch {
    fn default() -> Epoch {
        Epoch {
            read: vec![0],
            write: vec![0],
        }
    }
}

/// Why an epoch is not valid. Messages follow snapd's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpochError {
    /// Not `N` or `N*` with `N` a base-10 number without zero padding.
    Invalid {
        /// The rejected text.
        input: String,
    },
    /// A number does not fit in 32 bits.
    TooBig {
        /// The rejected number, as written.
        input: String,
    },
    /// `0*`: there is no epoch before 0 to read.
    ZeroStar,
    /// A read or write list is given but empty.
    EmptyList,
    /// A read or write list has more than [`MAX_EPOCH_LIST_LEN`] entries.
    ListTooLong,
    /// A read or write list is not strictly ascending.
    NotSorted,
    /// The read and write lists have no epoch in common.
    NoIntersection,
}

impl fmt::Display for EpochError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EpochError::Invalid { input } => write!(
                f,
                "epoch {} is not valid: an epoch is written N or N*, where N is a base-10 \
                 number with no zero padding, or as {{read: [...], write: [...]}}",
                quote_for_message(input)
            ),
            EpochError::TooBig { input } => write!(
                f,
                "epoch numbers must be less than 2^32, but got {}",
                quote_for_message(input)
            ),
            EpochError::ZeroStar => f.write_str(
                "0* is not a valid epoch: N* reads epochs N-1 and N, so N must be at least 1",
            ),
            EpochError::EmptyList => f.write_str("epoch read and write lists must not be empty"),
            EpochError::ListTooLong => write!(
                f,
                "epoch read and write lists must not have more than {MAX_EPOCH_LIST_LEN} entries"
            ),
            EpochError::NotSorted => f.write_str(
                "epoch read and write lists must be in strictly ascending order, without repeats",
            ),
            EpochError::NoIntersection => {
                f.write_str("epoch read and write lists must have at least one epoch in common")
            }
        }
    }
}

impl std::error::Error for EpochError {}

/// A base-10 `u32` with no sign and no zero padding (`0` itself is fine).
fn parse_number(s: &str) -> Result<u32, EpochError> {
    let well_formed = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    if !well_formed {
        return Err(EpochError::Invalid {
            input: s.to_owned(),
        });
    }
    s.parse::<u32>().map_err(|_| EpochError::TooBig {
        input: s.to_owned(),
    })
}

fn is_strictly_ascending(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

/// An empty list counts as `[0]`, as in snapd where an unset epoch is epoch 0.
fn or_zero(v: &[u32]) -> &[u32] {
    if v.is_empty() { &[0] } else { v }
}

impl Epoch {
    /// The epoch `N`: read `[N]`, write `[N]`.
    pub fn number(n: u32) -> Epoch {
        Epoch {
            read: vec![n],
            write: vec![n],
        }
    }

    /// Parse the short form: `0` (or the empty string, as snapd treats an unset epoch) is
    /// epoch 0; `N` reads and writes `N`; `N*` (N ≥ 1) reads `N-1` and `N` and writes `N`.
    /// Numbers are base 10 without sign or zero padding and fit in 32 bits.
    pub fn parse_str(s: &str) -> Result<Epoch, EpochError> {
        if s.is_empty() {
            return Ok(Epoch::default());
        }
        let (digits, star) = match s.strip_suffix('*') {
            Some(d) => (d, true),
            None => (s, false),
        };
        let n = parse_number(digits).map_err(|e| match e {
            EpochError::Invalid { .. } => EpochError::Invalid {
                input: s.to_owned(),
            },
            other => other,
        })?;
        if !star {
            return Ok(Epoch::number(n));
        }
        if n == 0 {
            return Err(EpochError::ZeroStar);
        }
        Ok(Epoch {
            read: vec![n - 1, n],
            write: vec![n],
        })
    }

    /// Build an epoch from the long form, filling in what is missing the way snapd does:
    /// a missing `read` is the `write` list, a missing `write` is the last entry of `read`,
    /// both missing is epoch 0. The result is then [validated](Epoch::validate).
    pub fn from_lists(
        read: Option<Vec<u32>>,
        write: Option<Vec<u32>>,
    ) -> Result<Epoch, EpochError> {
        let (read, write) = match (read, write) {
            (None, None) => return Ok(Epoch::default()),
            (Some(r), Some(w)) => (r, w),
            (None, Some(w)) => (w.clone(), w),
            (Some(r), None) => {
                let w = r.last().map(|&last| vec![last]).unwrap_or_default();
                (r, w)
            }
        };
        let epoch = Epoch { read, write };
        epoch.validate()?;
        Ok(epoch)
    }

    /// Check the rules: both lists non-empty, at most [`MAX_EPOCH_LIST_LEN`] entries,
    /// strictly ascending, and sharing at least one epoch.
    pub fn validate(&self) -> Result<(), EpochError> {
        if self.read.is_empty() || self.write.is_empty() {
            return Err(EpochError::EmptyList);
        }
        if self.read.len() > MAX_EPOCH_LIST_LEN || self.write.len() > MAX_EPOCH_LIST_LEN {
            return Err(EpochError::ListTooLong);
        }
        if !is_strictly_ascending(&self.read) || !is_strictly_ascending(&self.write) {
            return Err(EpochError::NotSorted);
        }
        if !intersects(&self.read, &self.write) {
            return Err(EpochError::NoIntersection);
        }
        Ok(())
    }

    /// Whether a revision with this epoch may be offered to a device whose installed
    /// revision has epoch `installed`: this revision must read something the installed one
    /// writes (`self.read` and `installed.write` intersect). An empty list counts as `[0]`.
    pub fn can_read(&self, installed: &Epoch) -> bool {
        intersects(or_zero(&self.read), or_zero(&installed.write))
    }

    /// The short form, `N` or `N*`, when this epoch has one.
    pub fn short_form(&self) -> Option<String> {
        match (or_zero(&self.read), or_zero(&self.write)) {
            ([r], [w]) if r == w => Some(r.to_string()),
            ([r0, r1], [w]) if r0.checked_add(1) == Some(*r1) && r1 == w => Some(format!("{w}*")),
            _ => None,
        }
    }
}

/// The lists are at most a handful of entries, so a nested loop is the fastest check.
fn intersects(a: &[u32], b: &[u32]) -> bool {
    a.iter().any(|x| b.contains(x))
}

impl FromStr for Epoch {
    type Err = EpochError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Epoch::parse_str(s)
    }
}

/// The short form (`0`, `2`, `3*`) when there is one, else the JSON mapping, like snapd.
impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(short) = self.short_form() {
            return f.write_str(&short);
        }
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        write!(
            f,
            "{{\"read\":[{}],\"write\":[{}]}}",
            list(or_zero(&self.read)),
            list(or_zero(&self.write))
        )
    }
}

impl Serialize for Epoch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Epoch", 2)?;
        s.serialize_field("read", or_zero(&self.read))?;
        s.serialize_field("write", or_zero(&self.write))?;
        s.end()
    }
}

/// One number of a read or write list: an integer, or a string of digits (YAML and
/// hand-written JSON sometimes quote them).
struct EpochNumber(u32);

impl<'de> Deserialize<'de> for EpochNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EpochNumber;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an epoch number (a non-negative integer below 2^32)")
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<EpochNumber, E> {
                u32::try_from(n).map(EpochNumber).map_err(|_| {
                    E::custom(EpochError::TooBig {
                        input: n.to_string(),
                    })
                })
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<EpochNumber, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(EpochError::Invalid {
                        input: n.to_string(),
                    })),
                }
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<EpochNumber, E> {
                parse_number(s).map(EpochNumber).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A read or write list (`null` counts as absent).
struct EpochList(Option<Vec<u32>>);

impl<'de> Deserialize<'de> for EpochList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Option::<Vec<EpochNumber>>::deserialize(deserializer)?;
        Ok(EpochList(
            v.map(|v| v.into_iter().map(|EpochNumber(n)| n).collect()),
        ))
    }
}

impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Epoch;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an epoch: \"N\", \"N*\", an integer, or {read: [...], write: [...]}")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Epoch, E> {
                Epoch::parse_str(s).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Epoch, E> {
                u32::try_from(n).map(Epoch::number).map_err(|_| {
                    E::custom(EpochError::TooBig {
                        input: n.to_string(),
                    })
                })
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Epoch, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(EpochError::Invalid {
                        input: n.to_string(),
                    })),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Epoch, A::Error> {
                let mut read: Option<EpochList> = None;
                let mut write: Option<EpochList> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "read" if read.is_some() => return Err(de::Error::duplicate_field("read")),
                        "write" if write.is_some() => {
                            return Err(de::Error::duplicate_field("write"));
                        }
                        "read" => read = Some(map.next_value()?),
                        "write" => write = Some(map.next_value()?),
                        // snapd ignores unknown keys too.
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Epoch::from_lists(read.and_then(|l| l.0), write.and_then(|l| l.0))
                    .map_err(de::Error::custom)
            }

            // Formats without maps-as-any (none we use) would hand the mapping over as a
            // sequence; refuse it clearly rather than guess.
            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Epoch, A::Error> {
                Err(de::Error::custom(
                    "an epoch is \"N\", \"N*\" or {read: [...], write: [...]}, not a list",
                ))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn e(s: &str) -> Epoch {
        Epoch::parse_str(s).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    fn ep(read: &[u32], write: &[u32]) -> Epoch {
        Epoch {
            read: read.to_vec(),
            write: write.to_vec(),
        }
    }

    fn from_json(v: serde_json::Value) -> Result<Epoch, String> {
        serde_json::from_value::<Epoch>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn short_forms() {
        assert_eq!(Epoch::default(), ep(&[0], &[0]));
        assert_eq!(e("0"), ep(&[0], &[0]));
        assert_eq!(e(""), ep(&[0], &[0]));
        assert_eq!(e("1"), ep(&[1], &[1]));
        assert_eq!(e("1*"), ep(&[0, 1], &[1]));
        assert_eq!(e("42*"), ep(&[41, 42], &[42]));
        assert_eq!(e("4294967295"), ep(&[u32::MAX], &[u32::MAX]));
        assert_eq!("3".parse::<Epoch>(), Ok(ep(&[3], &[3])));
    }

    #[test]
    fn short_form_errors() {
        assert_eq!(Epoch::parse_str("0*"), Err(EpochError::ZeroStar));
        for bad in [
            "01", "00", "-1", "+1", "1.0", "x", "1**", "*", " 1", "1 ", "１",
        ] {
            assert!(
                matches!(Epoch::parse_str(bad), Err(EpochError::Invalid { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            Epoch::parse_str("4294967296"),
            Err(EpochError::TooBig {
                input: "4294967296".into()
            })
        );
        assert_eq!(
            Epoch::parse_str("01").unwrap_err().to_string(),
            "epoch \"01\" is not valid: an epoch is written N or N*, where N is a base-10 \
             number with no zero padding, or as {read: [...], write: [...]}"
        );
        assert!(
            Epoch::parse_str("0*")
                .unwrap_err()
                .to_string()
                .starts_with("0* is not a valid epoch")
        );
    }

    #[test]
    fn serializes_as_mapping() {
        assert_eq!(
            serde_json::to_value(Epoch::default()).unwrap(),
            json!({"read": [0], "write": [0]})
        );
        assert_eq!(
            serde_json::to_string(&e("2*")).unwrap(),
            r#"{"read":[1,2],"write":[2]}"#
        );
        // Empty lists (only possible by building the struct by hand) are epoch 0.
        assert_eq!(
            serde_json::to_value(ep(&[], &[])).unwrap(),
            json!({"read": [0], "write": [0]})
        );
    }

    #[test]
    fn deserializes_every_form() {
        assert_eq!(from_json(json!("1*")), Ok(e("1*")));
        assert_eq!(from_json(json!("0")), Ok(Epoch::default()));
        assert_eq!(from_json(json!(3)), Ok(e("3")));
        assert_eq!(
            from_json(json!({"read": [1, 2], "write": [2]})),
            Ok(e("2*"))
        );
        assert_eq!(
            from_json(json!({"read": [0, 1, 3], "write": [1, 3]})),
            Ok(ep(&[0, 1, 3], &[1, 3]))
        );
        // Missing parts are filled in as snapd does.
        assert_eq!(
            from_json(json!({"write": [2, 3]})),
            Ok(ep(&[2, 3], &[2, 3]))
        );
        assert_eq!(from_json(json!({"read": [1, 2]})), Ok(ep(&[1, 2], &[2])));
        assert_eq!(from_json(json!({})), Ok(Epoch::default()));
        assert_eq!(from_json(json!({"read": null, "write": [4]})), Ok(e("4")));
        // Quoted numbers and unknown keys are tolerated.
        assert_eq!(
            from_json(json!({"read": ["1"], "write": ["1"], "x": true})),
            Ok(e("1"))
        );
    }

    #[test]
    fn rejects_invalid_mappings() {
        let cases = [
            (json!({"read": [], "write": [0]}), "must not be empty"),
            (json!({"read": [0], "write": []}), "must not be empty"),
            (json!({"read": [2, 1], "write": [1]}), "strictly ascending"),
            (json!({"read": [1, 1], "write": [1]}), "strictly ascending"),
            (json!({"read": [1], "write": [2]}), "in common"),
            (
                json!({"read": (0..11).collect::<Vec<u32>>()}),
                "more than 10",
            ),
            (json!({"read": [-1]}), "is not valid"),
            (json!({"read": [4294967296u64]}), "less than 2^32"),
            (json!({"read": ["01"]}), "no zero padding"),
            (json!({"read": [1.5]}), "epoch number"),
            (json!({"read": 1}), "sequence"),
            (json!("0*"), "0* is not a valid epoch"),
            (json!(-3), "is not valid"),
            (json!(4294967296u64), "less than 2^32"),
            (json!(true), "an epoch"),
            (json!([1]), "not a list"),
        ];
        for (input, needle) in cases {
            let err = from_json(input.clone()).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
        let dup = serde_json::from_str::<Epoch>(r#"{"read":[1],"read":[1]}"#).unwrap_err();
        assert!(dup.to_string().contains("duplicate field"), "{dup}");
    }

    #[test]
    fn can_read_gates_refreshes() {
        // (candidate, installed, may be offered)
        let cases = [
            ("0", "0", true),
            ("1", "0", false),
            ("1*", "0", true),
            ("1*", "1", true),
            ("2*", "0", false),
            ("2*", "1*", true),
            ("0", "1", false),
            ("1", "1*", true),
            ("5", "5", true),
        ];
        for (candidate, installed, want) in cases {
            assert_eq!(
                e(candidate).can_read(&e(installed)),
                want,
                "{candidate} <- {installed}"
            );
        }
        let wide = ep(&[0, 1, 3], &[3]);
        assert!(wide.can_read(&e("1")));
        assert!(!wide.can_read(&e("2")));
        assert!(ep(&[], &[]).can_read(&Epoch::default()));
    }

    #[test]
    fn display_is_snapd_string() {
        assert_eq!(Epoch::default().to_string(), "0");
        assert_eq!(e("7").to_string(), "7");
        assert_eq!(e("7*").to_string(), "7*");
        assert_eq!(
            ep(&[0, 1, 3], &[1, 3]).to_string(),
            r#"{"read":[0,1,3],"write":[1,3]}"#
        );
        assert_eq!(
            ep(&[1, 2], &[1]).to_string(),
            r#"{"read":[1,2],"write":[1]}"#
        );
        assert_eq!(
            ep(&[u32::MAX], &[u32::MAX]).short_form(),
            Some(u32::MAX.to_string())
        );
    }

    fn arb_epoch() -> impl Strategy<Value = Epoch> {
        (
            proptest::collection::btree_set(0u32..20, 1..=MAX_EPOCH_LIST_LEN),
            proptest::collection::btree_set(0u32..20, 0..MAX_EPOCH_LIST_LEN),
            any::<proptest::sample::Index>(),
        )
            .prop_map(|(read, mut write, pick)| {
                let read: Vec<u32> = read.into_iter().collect();
                // The write list shares one read entry, so the two intersect; `write` has
                // at most 9 entries before this, so it stays within the limit.
                write.insert(read[pick.index(read.len())]);
                Epoch {
                    read,
                    write: write.into_iter().collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn generated_epochs_are_valid(ep in arb_epoch()) {
            prop_assert_eq!(ep.validate(), Ok(()));
            // A valid epoch can always read what it writes itself.
            prop_assert!(ep.can_read(&ep));
        }

        #[test]
        fn json_round_trip(ep in arb_epoch()) {
            let json = serde_json::to_string(&ep).unwrap();
            prop_assert!(json.starts_with(r#"{"read":["#), "{}", json);
            prop_assert_eq!(serde_json::from_str::<Epoch>(&json).unwrap(), ep);
        }

        #[test]
        fn display_round_trip(ep in arb_epoch()) {
            let shown = ep.to_string();
            let back = if shown.starts_with('{') {
                serde_json::from_str::<Epoch>(&shown).unwrap()
            } else {
                Epoch::parse_str(&shown).unwrap()
            };
            prop_assert_eq!(back, ep);
        }

        #[test]
        fn short_forms_round_trip(n in any::<u32>(), star in any::<bool>()) {
            prop_assume!(!(star && n == 0));
            let s = if star { format!("{n}*") } else { n.to_string() };
            let ep = Epoch::parse_str(&s).unwrap();
            prop_assert_eq!(ep.validate(), Ok(()));
            prop_assert_eq!(ep.to_string(), s.clone());
            prop_assert_eq!(serde_json::from_value::<Epoch>(json!(s)).unwrap(), ep.clone());
            if !star {
                prop_assert_eq!(serde_json::from_value::<Epoch>(json!(n)).unwrap(), ep);
            }
        }

        #[test]
        fn can_read_is_intersection(a in arb_epoch(), b in arb_epoch()) {
            let reference = a.read.iter().any(|r| b.write.contains(r));
            prop_assert_eq!(a.can_read(&b), reference);
        }

        /// N* is exactly the migration step: it can take over from N-1 and N, nothing else.
        #[test]
        fn star_reads_previous(n in 1u32..1000, m in 0u32..1000) {
            let star = Epoch::parse_str(&format!("{n}*")).unwrap();
            prop_assert_eq!(star.can_read(&Epoch::number(m)), m == n || m + 1 == n);
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            if let Ok(ep) = Epoch::parse_str(&s) {
                prop_assert_eq!(ep.validate(), Ok(()));
            }
            let _ = serde_json::from_value::<Epoch>(json!(s));
        }
    }
}
