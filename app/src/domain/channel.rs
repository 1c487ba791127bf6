//! Channels: `[track/]risk[/branch]`.
//!
//! Parsing follows snapd (`snap/channel`): the string is split on `/` into at most three
//! parts. One part is a risk (on the default track) or else a track (at risk `stable`); two
//! parts are `risk/branch` when the first is a risk, else `track/risk`; three parts are
//! `track/risk/branch`. On top of snapd's structural rules, track and branch names are
//! checked against the store's character rules so that every parsed channel can be stored,
//! printed and parsed back to itself.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DEFAULT_TRACK;
use super::name::quote_for_message;

/// The most characters a track name may have.
pub const MAX_TRACK_LEN: usize = 28;
/// The most characters a branch name may have.
pub const MAX_BRANCH_LEN: usize = 128;

/// The accepted channel form, quoted in every error message.
const CHANNEL_FORM: &str =
    "channels look like [track/]risk[/branch] where risk is one of stable, candidate, beta, edge";

/// How much a publisher vouches for a release, from most to least stable.
///
/// The derived order follows stability: `Stable < Candidate < Beta < Edge`, so "less stable
/// than" is "greater than". Serialises as the lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// `stable`: the default; what most devices follow.
    Stable,
    /// `candidate`: release candidates.
    Candidate,
    /// `beta`: feature-complete previews.
    Beta,
    /// `edge`: the latest build.
    Edge,
}

impl Risk {
    /// Every risk, from most to least stable.
    pub const ALL: [Risk; 4] = [Risk::Stable, Risk::Candidate, Risk::Beta, Risk::Edge];

    /// The lowercase name: `stable`, `candidate`, `beta` or `edge`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Risk::Stable => "stable",
            Risk::Candidate => "candidate",
            Risk::Beta => "beta",
            Risk::Edge => "edge",
        }
    }

    /// The risk named exactly `s` (lowercase), if any.
    pub fn from_name(s: &str) -> Option<Risk> {
        match s {
            "stable" => Some(Risk::Stable),
            "candidate" => Some(Risk::Candidate),
            "beta" => Some(Risk::Beta),
            "edge" => Some(Risk::Edge),
            _ => None,
        }
    }

    /// The next more stable risk, which this one follows when it is closed:
    /// `edge → beta → candidate → stable → None`.
    pub fn more_stable(&self) -> Option<Risk> {
        match self {
            Risk::Stable => None,
            Risk::Candidate => Some(Risk::Stable),
            Risk::Beta => Some(Risk::Candidate),
            Risk::Edge => Some(Risk::Beta),
        }
    }

    /// The next less stable risk: `stable → candidate → beta → edge → None`.
    pub fn less_stable(&self) -> Option<Risk> {
        match self {
            Risk::Stable => Some(Risk::Candidate),
            Risk::Candidate => Some(Risk::Beta),
            Risk::Beta => Some(Risk::Edge),
            Risk::Edge => None,
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Risk {
    type Err = ChannelError;

    /// Accepts exactly `stable`, `candidate`, `beta` and `edge`; anything else is
    /// [`ChannelError::UnknownRisk`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Risk::from_name(s).ok_or_else(|| ChannelError::UnknownRisk { risk: s.to_owned() })
    }
}

/// A store channel. Build one with [`Channel::parse`] (validated) or [`Channel::new`]
/// (unchecked). Serialises as its full form, e.g. `"latest/stable"`.
///
/// The derived order sorts by track, then risk from most to least stable, then branch
/// (no branch first).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    /// The track, e.g. `latest` or `2.0`.
    pub track: String,
    /// The risk.
    pub risk: Risk,
    /// The branch, for short-lived `track/risk/branch` channels.
    pub branch: Option<String>,
}

/// Why a channel (or a track or risk on its own) is not valid. `Display` says what is wrong
/// and, for channels, the accepted form `[track/]risk[/branch]`.
///
/// Fields named `channel` hold the whole string that was being parsed; for the track and
/// branch variants it is `None` when a name was checked on its own (as by
/// [`validate_track_name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// The channel string is empty.
    Empty,
    /// More than three `/`-separated parts.
    TooManyParts {
        /// The rejected channel.
        channel: String,
    },
    /// The track part is empty (`/stable`).
    EmptyTrack {
        /// The rejected channel.
        channel: Option<String>,
    },
    /// The risk part is empty (`2.0/`, `2.0//fix`).
    EmptyRisk {
        /// The rejected channel.
        channel: String,
    },
    /// The branch part is empty (`stable/`, `2.0/edge/`).
    EmptyBranch {
        /// The rejected channel.
        channel: Option<String>,
    },
    /// The part in the risk position is not one of the four risks (`2.0/foo`).
    InvalidRisk {
        /// The rejected channel.
        channel: String,
        /// The part that should have been a risk.
        risk: String,
    },
    /// A string on its own is not a risk (from `Risk::from_str`).
    UnknownRisk {
        /// The rejected string.
        risk: String,
    },
    /// The track has characters or separators that are not allowed.
    InvalidTrack {
        /// The channel the track came from, if any.
        channel: Option<String>,
        /// The rejected track.
        track: String,
    },
    /// The track is longer than [`MAX_TRACK_LEN`].
    TrackTooLong {
        /// The channel the track came from, if any.
        channel: Option<String>,
        /// The rejected track.
        track: String,
    },
    /// The track is named like a risk (`stable/edge/x`).
    TrackIsRisk {
        /// The channel the track came from, if any.
        channel: Option<String>,
        /// The rejected track.
        track: String,
    },
    /// The branch has characters or separators that are not allowed.
    InvalidBranch {
        /// The channel the branch came from, if any.
        channel: Option<String>,
        /// The rejected branch.
        branch: String,
    },
    /// The branch is longer than [`MAX_BRANCH_LEN`].
    BranchTooLong {
        /// The channel the branch came from, if any.
        channel: Option<String>,
        /// The rejected branch.
        branch: String,
    },
}

impl ChannelError {
    /// The whole channel string that was rejected, when the error came from parsing one.
    pub fn channel(&self) -> Option<&str> {
        match self {
            ChannelError::Empty => Some(""),
            ChannelError::TooManyParts { channel }
            | ChannelError::EmptyRisk { channel }
            | ChannelError::InvalidRisk { channel, .. } => Some(channel),
            ChannelError::EmptyTrack { channel }
            | ChannelError::EmptyBranch { channel }
            | ChannelError::InvalidTrack { channel, .. }
            | ChannelError::TrackTooLong { channel, .. }
            | ChannelError::TrackIsRisk { channel, .. }
            | ChannelError::InvalidBranch { channel, .. }
            | ChannelError::BranchTooLong { channel, .. } => channel.as_deref(),
            ChannelError::UnknownRisk { .. } => None,
        }
    }

    fn with_channel(self, s: &str) -> ChannelError {
        let ch = Some(s.to_owned());
        match self {
            ChannelError::EmptyTrack { .. } => ChannelError::EmptyTrack { channel: ch },
            ChannelError::EmptyBranch { .. } => ChannelError::EmptyBranch { channel: ch },
            ChannelError::InvalidTrack { track, .. } => {
                ChannelError::InvalidTrack { channel: ch, track }
            }
            ChannelError::TrackTooLong { track, .. } => {
                ChannelError::TrackTooLong { channel: ch, track }
            }
            ChannelError::TrackIsRisk { track, .. } => {
                ChannelError::TrackIsRisk { channel: ch, track }
            }
            ChannelError::InvalidBranch { branch, .. } => ChannelError::InvalidBranch {
                channel: ch,
                branch,
            },
            ChannelError::BranchTooLong { branch, .. } => ChannelError::BranchTooLong {
                channel: ch,
                branch,
            },
            other => other,
        }
    }
}

const NAME_RULE: &str = "letters, digits and the separators '.', '_' and '-' are allowed, \
     a separator only between two letters or digits";

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChannelError as E;
        let q = quote_for_message;
        // Track and branch names checked on their own get a shorter message.
        match self {
            E::Empty => return write!(f, "channel name is empty; {CHANNEL_FORM}"),
            E::UnknownRisk { risk } => {
                return write!(
                    f,
                    "risk {} is not valid: a risk is one of stable, candidate, beta, edge",
                    q(risk)
                );
            }
            E::EmptyTrack { channel: None } => return f.write_str("track name is empty"),
            E::EmptyBranch { channel: None } => return f.write_str("branch name is empty"),
            E::InvalidTrack {
                channel: None,
                track,
            } => return write!(f, "track {} is not valid: {NAME_RULE}", q(track)),
            E::TrackTooLong {
                channel: None,
                track,
            } => {
                return write!(
                    f,
                    "track {} is not valid: a track has at most {MAX_TRACK_LEN} characters",
                    q(track)
                );
            }
            E::TrackIsRisk {
                channel: None,
                track,
            } => {
                return write!(
                    f,
                    "track {} is not valid: a track may not be named like a risk \
                     (stable, candidate, beta, edge)",
                    q(track)
                );
            }
            E::InvalidBranch {
                channel: None,
                branch,
            } => return write!(f, "branch {} is not valid: {NAME_RULE}", q(branch)),
            E::BranchTooLong {
                channel: None,
                branch,
            } => {
                return write!(
                    f,
                    "branch {} is not valid: a branch has at most {MAX_BRANCH_LEN} characters",
                    q(branch)
                );
            }
            _ => {}
        }
        let channel = self.channel().unwrap_or_default();
        write!(f, "channel {} is not valid: ", q(channel))?;
        match self {
            E::TooManyParts { channel } => write!(
                f,
                "it has {} parts separated by '/', at most 3 are allowed",
                channel.split('/').count()
            )?,
            E::EmptyTrack { .. } => f.write_str("the track is empty")?,
            E::EmptyRisk { .. } => f.write_str("the risk is empty")?,
            E::EmptyBranch { .. } => f.write_str("the branch is empty")?,
            E::InvalidRisk { risk, .. } => write!(f, "{} is not a risk", q(risk))?,
            E::InvalidTrack { track, .. } => {
                write!(f, "track {} has invalid characters: {NAME_RULE}", q(track))?
            }
            E::TrackTooLong { track, .. } => write!(
                f,
                "track {} is longer than {MAX_TRACK_LEN} characters",
                q(track)
            )?,
            E::TrackIsRisk { track, .. } => write!(
                f,
                "track {} is named like a risk, which a track may not be",
                q(track)
            )?,
            E::InvalidBranch { branch, .. } => write!(
                f,
                "branch {} has invalid characters: {NAME_RULE}",
                q(branch)
            )?,
            E::BranchTooLong { branch, .. } => write!(
                f,
                "branch {} is longer than {MAX_BRANCH_LEN} characters",
                q(branch)
            )?,
            E::Empty | E::UnknownRisk { .. } => {}
        }
        write!(f, "; {CHANNEL_FORM}")
    }
}

impl std::error::Error for ChannelError {}

/// `^[a-zA-Z0-9](?:[_.-]?[a-zA-Z0-9])*$`: letters and digits, with single `.`, `_` or `-`
/// separators between them.
fn is_valid_name_chars(s: &str) -> bool {
    // `after_sep` starts true so that a leading separator is rejected.
    let mut after_sep = true;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            after_sep = false;
        } else if matches!(b, b'.' | b'_' | b'-') && !after_sep {
            after_sep = true;
        } else {
            return false;
        }
    }
    // Rejects the empty string and a trailing separator.
    !after_sep
}

/// Check a track name: 1 to [`MAX_TRACK_LEN`] characters matching
/// `^[a-zA-Z0-9](?:[_.-]?[a-zA-Z0-9])*$`, and not a risk name.
pub fn validate_track_name(s: &str) -> Result<(), ChannelError> {
    if s.is_empty() {
        return Err(ChannelError::EmptyTrack { channel: None });
    }
    if !is_valid_name_chars(s) {
        return Err(ChannelError::InvalidTrack {
            channel: None,
            track: s.to_owned(),
        });
    }
    if s.len() > MAX_TRACK_LEN {
        return Err(ChannelError::TrackTooLong {
            channel: None,
            track: s.to_owned(),
        });
    }
    if Risk::from_name(s).is_some() {
        return Err(ChannelError::TrackIsRisk {
            channel: None,
            track: s.to_owned(),
        });
    }
    Ok(())
}

/// Check a branch name: 1 to [`MAX_BRANCH_LEN`] characters matching
/// `^[a-zA-Z0-9](?:[_.-]?[a-zA-Z0-9])*$`.
pub fn validate_branch_name(s: &str) -> Result<(), ChannelError> {
    if s.is_empty() {
        return Err(ChannelError::EmptyBranch { channel: None });
    }
    if !is_valid_name_chars(s) {
        return Err(ChannelError::InvalidBranch {
            channel: None,
            branch: s.to_owned(),
        });
    }
    if s.len() > MAX_BRANCH_LEN {
        return Err(ChannelError::BranchTooLong {
            channel: None,
            branch: s.to_owned(),
        });
    }
    Ok(())
}

impl Channel {
    /// Build a channel from its parts without checking them. Use [`Channel::try_new`] or
    /// [`Channel::parse`] for untrusted input.
    pub fn new(track: impl Into<String>, risk: Risk, branch: Option<String>) -> Channel {
        Channel {
            track: track.into(),
            risk,
            branch,
        }
    }

    /// Build a channel from its parts, checking the track and branch names.
    pub fn try_new(
        track: impl Into<String>,
        risk: Risk,
        branch: Option<String>,
    ) -> Result<Channel, ChannelError> {
        let ch = Channel::new(track, risk, branch);
        ch.validate()?;
        Ok(ch)
    }

    /// Check the track and branch names of a channel built with [`Channel::new`] or by
    /// hand. Errors carry the channel's full form as context.
    pub fn validate(&self) -> Result<(), ChannelError> {
        validate_track_name(&self.track).map_err(|e| e.with_channel(&self.full()))?;
        if let Some(branch) = &self.branch {
            validate_branch_name(branch).map_err(|e| e.with_channel(&self.full()))?;
        }
        Ok(())
    }

    /// Parse a channel the way snapd does; a channel that names no track is on `latest`.
    ///
    /// `stable` → `latest/stable`, `2.0` → `2.0/stable`, `edge/fix-1` → `latest/edge/fix-1`,
    /// `2.0/beta` → `2.0/beta`, `2.0/beta/fix` → `2.0/beta/fix`.
    pub fn parse(s: &str) -> Result<Channel, ChannelError> {
        Channel::parse_with_default_track(s, DEFAULT_TRACK)
    }

    /// Like [`Channel::parse`], but a string that names no track (`edge`, `edge/fix`) is put
    /// on `default_track` instead of `latest`. Used for packages that set a default track.
    /// `default_track` itself must be a valid track name, or the error says why it is not.
    pub fn parse_with_default_track(s: &str, default_track: &str) -> Result<Channel, ChannelError> {
        if s.is_empty() {
            return Err(ChannelError::Empty);
        }
        let mut parts = s.split('/');
        // `split` always yields at least one part.
        let first = parts.next().unwrap_or_default();
        let second = parts.next();
        let third = parts.next();
        if parts.next().is_some() {
            return Err(ChannelError::TooManyParts {
                channel: s.to_owned(),
            });
        }
        let (track, risk, branch) = match (second, third) {
            (None, _) => match Risk::from_name(first) {
                Some(_) => (None, first, None),
                None => (Some(first), "stable", None),
            },
            (Some(second), None) => match Risk::from_name(first) {
                Some(_) => (None, first, Some(second)),
                None => (Some(first), second, None),
            },
            (Some(second), Some(third)) => (Some(first), second, Some(third)),
        };

        let track = track.unwrap_or(default_track);
        validate_track_name(track).map_err(|e| e.with_channel(s))?;
        let risk = match Risk::from_name(risk) {
            Some(r) => r,
            None if risk.is_empty() => {
                return Err(ChannelError::EmptyRisk {
                    channel: s.to_owned(),
                });
            }
            None => {
                return Err(ChannelError::InvalidRisk {
                    channel: s.to_owned(),
                    risk: risk.to_owned(),
                });
            }
        };
        if let Some(branch) = branch {
            validate_branch_name(branch).map_err(|e| e.with_channel(s))?;
        }
        Ok(Channel {
            track: track.to_owned(),
            risk,
            branch: branch.map(str::to_owned),
        })
    }

    /// The explicit form, track always included: `latest/stable`, `latest/edge/fix-1`,
    /// `2.0/stable`.
    pub fn full(&self) -> String {
        match &self.branch {
            Some(b) => format!("{}/{}/{}", self.track, self.risk, b),
            None => format!("{}/{}", self.track, self.risk),
        }
    }

    /// The short form snapd prints, with track `latest` left out: `stable`, `edge/fix-1`,
    /// `2.0/stable`.
    pub fn short(&self) -> String {
        if self.track != DEFAULT_TRACK {
            return self.full();
        }
        match &self.branch {
            Some(b) => format!("{}/{}", self.risk, b),
            None => self.risk.as_str().to_owned(),
        }
    }

    /// The same track and risk with the branch dropped.
    pub fn without_branch(&self) -> Channel {
        Channel {
            track: self.track.clone(),
            risk: self.risk,
            branch: None,
        }
    }

    /// Whether this is a branch (`track/risk/branch`).
    pub fn is_branch(&self) -> bool {
        self.branch.is_some()
    }
}

/// `latest/stable`.
impl Default for Channel {
    fn default() -> Channel {
        Channel::new(DEFAULT_TRACK, Risk::Stable, None)
    }
}

/// The full form, as [`Channel::full`].
impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.track, self.risk)?;
        if let Some(b) = &self.branch {
            write!(f, "/{b}")?;
        }
        Ok(())
    }
}

impl FromStr for Channel {
    type Err = ChannelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::parse(s)
    }
}

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts any form [`Channel::parse`] accepts (so `"stable"` too), validated.
impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Channel::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ch(track: &str, risk: Risk, branch: Option<&str>) -> Channel {
        Channel::new(track, risk, branch.map(str::to_owned))
    }

    fn p(s: &str) -> Channel {
        Channel::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn perr(s: &str) -> ChannelError {
        Channel::parse(s).unwrap_err()
    }

    #[test]
    fn risk_order_and_names() {
        assert!(Risk::Stable < Risk::Candidate);
        assert!(Risk::Candidate < Risk::Beta);
        assert!(Risk::Beta < Risk::Edge);
        assert_eq!(
            Risk::ALL.map(|r| r.as_str()),
            ["stable", "candidate", "beta", "edge"]
        );
        assert_eq!(Risk::Edge.more_stable(), Some(Risk::Beta));
        assert_eq!(Risk::Beta.more_stable(), Some(Risk::Candidate));
        assert_eq!(Risk::Candidate.more_stable(), Some(Risk::Stable));
        assert_eq!(Risk::Stable.more_stable(), None);
        assert_eq!(Risk::Stable.less_stable(), Some(Risk::Candidate));
        assert_eq!(Risk::Edge.less_stable(), None);
        for r in Risk::ALL {
            assert_eq!(r.to_string().parse::<Risk>(), Ok(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
            assert_eq!(
                serde_json::from_str::<Risk>(&format!("\"{r}\"")).unwrap(),
                r
            );
        }
        assert_eq!(
            "Stable".parse::<Risk>(),
            Err(ChannelError::UnknownRisk {
                risk: "Stable".into()
            })
        );
        assert_eq!(
            "alpha".parse::<Risk>().unwrap_err().to_string(),
            "risk \"alpha\" is not valid: a risk is one of stable, candidate, beta, edge"
        );
    }

    #[test]
    fn parses_snapd_forms() {
        assert_eq!(p("stable"), ch("latest", Risk::Stable, None));
        assert_eq!(p("edge"), ch("latest", Risk::Edge, None));
        assert_eq!(p("2.0"), ch("2.0", Risk::Stable, None));
        assert_eq!(p("latest"), ch("latest", Risk::Stable, None));
        assert_eq!(p("edge/fix-1"), ch("latest", Risk::Edge, Some("fix-1")));
        assert_eq!(p("2.0/beta"), ch("2.0", Risk::Beta, None));
        assert_eq!(p("latest/stable"), ch("latest", Risk::Stable, None));
        assert_eq!(p("2.0/beta/fix"), ch("2.0", Risk::Beta, Some("fix")));
        assert_eq!(
            p("latest/edge/fix-1"),
            ch("latest", Risk::Edge, Some("fix-1"))
        );
        // A branch may be named like a risk; only the track may not.
        assert_eq!(p("edge/stable"), ch("latest", Risk::Edge, Some("stable")));
        // Risk names are case-sensitive: "Stable" is a track.
        assert_eq!(p("Stable"), ch("Stable", Risk::Stable, None));
        assert_eq!(
            p("v1_2.x-3/candidate"),
            ch("v1_2.x-3", Risk::Candidate, None)
        );
    }

    #[test]
    fn parse_with_default_track() {
        let pd = |s| Channel::parse_with_default_track(s, "2.0").unwrap();
        assert_eq!(pd("edge"), ch("2.0", Risk::Edge, None));
        assert_eq!(pd("edge/fix"), ch("2.0", Risk::Edge, Some("fix")));
        assert_eq!(pd("latest"), ch("latest", Risk::Stable, None));
        assert_eq!(pd("latest/edge"), ch("latest", Risk::Edge, None));
        assert_eq!(pd("3.0"), ch("3.0", Risk::Stable, None));
        assert_eq!(pd("3.0/beta/x"), ch("3.0", Risk::Beta, Some("x")));
        assert!(matches!(
            Channel::parse_with_default_track("edge", "bad track"),
            Err(ChannelError::InvalidTrack { .. })
        ));
        // An explicit track never consults the default.
        assert_eq!(
            Channel::parse_with_default_track("3.0/edge", "bad track").unwrap(),
            ch("3.0", Risk::Edge, None)
        );
    }

    #[test]
    fn rejects_malformed_channels() {
        assert_eq!(perr(""), ChannelError::Empty);
        assert!(matches!(perr("a/b/c/d"), ChannelError::TooManyParts { .. }));
        assert!(matches!(
            perr("latest/stable/x/"),
            ChannelError::TooManyParts { .. }
        ));
        assert!(matches!(perr("/"), ChannelError::EmptyTrack { .. }));
        assert!(matches!(perr("/stable"), ChannelError::EmptyTrack { .. }));
        assert!(matches!(perr("//"), ChannelError::EmptyTrack { .. }));
        assert!(matches!(perr("2.0/"), ChannelError::EmptyRisk { .. }));
        assert!(matches!(perr("2.0//fix"), ChannelError::EmptyRisk { .. }));
        assert!(matches!(perr("stable/"), ChannelError::EmptyBranch { .. }));
        assert!(matches!(
            perr("2.0/edge/"),
            ChannelError::EmptyBranch { .. }
        ));
        assert_eq!(
            perr("2.0/foo"),
            ChannelError::InvalidRisk {
                channel: "2.0/foo".into(),
                risk: "foo".into()
            }
        );
        assert!(matches!(
            perr("2.0/Edge/x"),
            ChannelError::InvalidRisk { .. }
        ));
        assert!(matches!(
            perr("stable/edge/x"),
            ChannelError::TrackIsRisk { .. }
        ));
        assert!(matches!(perr("a b"), ChannelError::InvalidTrack { .. }));
        assert!(matches!(
            perr("-x/stable"),
            ChannelError::InvalidTrack { .. }
        ));
        assert!(matches!(
            perr("x-/stable"),
            ChannelError::InvalidTrack { .. }
        ));
        assert!(matches!(
            perr("x..y/stable"),
            ChannelError::InvalidTrack { .. }
        ));
        assert!(matches!(perr("tráck"), ChannelError::InvalidTrack { .. }));
        assert!(matches!(
            perr("edge/fix_"),
            ChannelError::InvalidBranch { .. }
        ));
        assert!(matches!(
            perr("edge/a b"),
            ChannelError::InvalidBranch { .. }
        ));
        assert!(matches!(
            perr("2.0/edge/.x"),
            ChannelError::InvalidBranch { .. }
        ));
    }

    #[test]
    fn length_limits() {
        let t28 = "t".repeat(28);
        assert_eq!(p(&t28), ch(&t28, Risk::Stable, None));
        assert!(matches!(
            perr(&"t".repeat(29)),
            ChannelError::TrackTooLong { .. }
        ));
        let b128 = "b".repeat(128);
        assert_eq!(
            p(&format!("edge/{b128}")),
            ch("latest", Risk::Edge, Some(&b128))
        );
        assert!(matches!(
            perr(&format!("edge/{}", "b".repeat(129))),
            ChannelError::BranchTooLong { .. }
        ));
    }

    #[test]
    fn validate_track_name_rules() {
        for ok in [
            "latest",
            "2.0",
            "1",
            "a_b.c-d",
            "LTS",
            "x".repeat(28).as_str(),
        ] {
            assert_eq!(validate_track_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_track_name(""),
            Err(ChannelError::EmptyTrack { channel: None })
        );
        for bad in ["a/b", "a b", "_a", "a_", "a__b", "a._b", "ü"] {
            assert!(
                matches!(
                    validate_track_name(bad),
                    Err(ChannelError::InvalidTrack { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_track_name(&"x".repeat(29)),
            Err(ChannelError::TrackTooLong { .. })
        ));
        for risk in ["stable", "candidate", "beta", "edge"] {
            assert!(matches!(
                validate_track_name(risk),
                Err(ChannelError::TrackIsRisk { .. })
            ));
        }
        assert_eq!(
            validate_track_name("a b").unwrap_err().to_string(),
            "track \"a b\" is not valid: letters, digits and the separators '.', '_' and '-' \
             are allowed, a separator only between two letters or digits"
        );
        assert_eq!(
            validate_track_name("edge").unwrap_err().to_string(),
            "track \"edge\" is not valid: a track may not be named like a risk \
             (stable, candidate, beta, edge)"
        );
    }

    #[test]
    fn error_messages_name_the_problem_and_the_form() {
        const FORM: &str = "; channels look like [track/]risk[/branch] where risk is one of \
                            stable, candidate, beta, edge";
        let cases = [
            ("", "channel name is empty"),
            (
                "a/b/c/d",
                "channel \"a/b/c/d\" is not valid: it has 4 parts separated by '/', at most 3 are allowed",
            ),
            (
                "/stable",
                "channel \"/stable\" is not valid: the track is empty",
            ),
            ("2.0/", "channel \"2.0/\" is not valid: the risk is empty"),
            (
                "edge/",
                "channel \"edge/\" is not valid: the branch is empty",
            ),
            (
                "2.0/foo",
                "channel \"2.0/foo\" is not valid: \"foo\" is not a risk",
            ),
            (
                "a b/edge",
                "channel \"a b/edge\" is not valid: track \"a b\" has invalid characters: \
                 letters, digits and the separators '.', '_' and '-' are allowed, a separator \
                 only between two letters or digits",
            ),
            (
                "stable/edge/x",
                "channel \"stable/edge/x\" is not valid: track \"stable\" is named like a risk, \
                 which a track may not be",
            ),
            (
                "edge/x!",
                "channel \"edge/x!\" is not valid: branch \"x!\" has invalid characters: \
                 letters, digits and the separators '.', '_' and '-' are allowed, a separator \
                 only between two letters or digits",
            ),
        ];
        for (input, prefix) in cases {
            assert_eq!(
                perr(input).to_string(),
                format!("{prefix}{FORM}"),
                "{input:?}"
            );
        }
        let long = "t".repeat(29);
        assert_eq!(
            perr(&long).to_string(),
            format!(
                "channel \"{long}\" is not valid: track \"{long}\" is longer than 28 characters{FORM}"
            )
        );
        let msg = perr("evil\nchannel").to_string();
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn error_channel_accessor() {
        assert_eq!(perr("2.0/foo").channel(), Some("2.0/foo"));
        assert_eq!(perr("a b").channel(), Some("a b"));
        assert_eq!(validate_track_name("a b").unwrap_err().channel(), None);
    }

    #[test]
    fn full_short_display() {
        let cases = [
            (ch("latest", Risk::Stable, None), "latest/stable", "stable"),
            (
                ch("latest", Risk::Edge, Some("fix-1")),
                "latest/edge/fix-1",
                "edge/fix-1",
            ),
            (ch("2.0", Risk::Stable, None), "2.0/stable", "2.0/stable"),
            (ch("2.0", Risk::Beta, Some("x")), "2.0/beta/x", "2.0/beta/x"),
        ];
        for (c, full, short) in cases {
            assert_eq!(c.full(), full);
            assert_eq!(c.short(), short);
            assert_eq!(c.to_string(), full);
            assert_eq!(p(full), c);
            assert_eq!(p(short), c);
        }
        assert_eq!(Channel::default(), p("stable"));
    }

    #[test]
    fn branch_helpers() {
        let b = p("2.0/edge/fix");
        assert!(b.is_branch());
        assert_eq!(b.without_branch(), p("2.0/edge"));
        assert!(!b.without_branch().is_branch());
    }

    #[test]
    fn try_new_validates() {
        assert_eq!(
            Channel::try_new("2.0", Risk::Edge, Some("x".into())),
            Ok(p("2.0/edge/x"))
        );
        let e = Channel::try_new("a b", Risk::Edge, None).unwrap_err();
        assert_eq!(e.channel(), Some("a b/edge"));
        assert!(matches!(
            Channel::try_new("2.0", Risk::Edge, Some(String::new())),
            Err(ChannelError::EmptyBranch { .. })
        ));
        assert!(matches!(
            Channel::try_new("beta", Risk::Edge, None),
            Err(ChannelError::TrackIsRisk { .. })
        ));
    }

    #[test]
    fn ordering_is_track_then_stability_then_branch() {
        let mut v = [
            p("2.0/edge"),
            p("latest/edge/x"),
            p("latest/edge"),
            p("stable"),
            p("2.0/stable"),
        ];
        v.sort();
        assert_eq!(
            v.iter().map(Channel::full).collect::<Vec<_>>(),
            [
                "2.0/stable",
                "2.0/edge",
                "latest/stable",
                "latest/edge",
                "latest/edge/x"
            ]
        );
    }

    #[test]
    fn serde_uses_the_full_form() {
        let c = p("edge/fix");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"latest/edge/fix\"");
        assert_eq!(
            serde_json::from_str::<Channel>("\"latest/edge/fix\"").unwrap(),
            c
        );
        assert_eq!(serde_json::from_str::<Channel>("\"edge/fix\"").unwrap(), c);
        let e = serde_json::from_str::<Channel>("\"2.0/foo\"").unwrap_err();
        assert!(e.to_string().contains("\"foo\" is not a risk"), "{e}");
    }

    // Independent generators for valid parts.
    fn arb_name(max_groups: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-zA-Z0-9]([_.-]?[a-zA-Z0-9]){{0,{max_groups}}}"))
            .unwrap()
    }

    fn arb_track() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("latest".to_owned()),
            arb_name(13).prop_filter("not a risk", |t| Risk::from_name(t).is_none()),
        ]
    }

    fn arb_risk() -> impl Strategy<Value = Risk> {
        proptest::sample::select(Risk::ALL.to_vec())
    }

    fn arb_branch() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            arb_name(20).prop_map(Some),
            arb_risk().prop_map(|r| Some(r.as_str().to_owned())),
            Just(Some("b".repeat(MAX_BRANCH_LEN))),
        ]
    }

    fn arb_channel() -> impl Strategy<Value = Channel> {
        (arb_track(), arb_risk(), arb_branch()).prop_map(|(t, r, b)| Channel::new(t, r, b))
    }

    proptest! {
        #[test]
        fn full_and_short_round_trip(c in arb_channel()) {
            prop_assert_eq!(c.validate(), Ok(()));
            prop_assert_eq!(Channel::parse(&c.full()), Ok(c.clone()));
            prop_assert_eq!(Channel::parse(&c.short()), Ok(c.clone()));
            prop_assert_eq!(c.to_string(), c.full());
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), c);
        }

        #[test]
        fn default_track_applies_only_without_a_track(c in arb_channel(), d in arb_track()) {
            // The full form names a track, so the default is ignored.
            prop_assert_eq!(Channel::parse_with_default_track(&c.full(), &d), Ok(c.clone()));
            // A risk[/branch] string lands on the default track.
            let risk_only = match &c.branch {
                Some(b) => format!("{}/{}", c.risk, b),
                None => c.risk.to_string(),
            };
            let got = Channel::parse_with_default_track(&risk_only, &d).unwrap();
            prop_assert_eq!(got.track, d);
            prop_assert_eq!(got.risk, c.risk);
            prop_assert_eq!(got.branch, c.branch);
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Channel::parse(&s);
            let _ = Channel::parse_with_default_track(&s, "2.0");
            let _ = validate_track_name(&s);
            let _ = s.parse::<Risk>();
        }

        /// Whatever parses is valid and prints back to something that parses to itself.
        #[test]
        fn accepted_channels_are_canonical(s in "[a-z0-9/._ -]{0,40}|(latest|2\\.0|stable|edge|beta|/){1,4}") {
            match Channel::parse(&s) {
                Ok(c) => {
                    prop_assert_eq!(c.validate(), Ok(()));
                    prop_assert_eq!(Channel::parse(&c.full()), Ok(c.clone()));
                    prop_assert_eq!(Channel::parse(&c.short()), Ok(c.clone()));
                    prop_assert!(s.split('/').count() <= 3);
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.contains("[track/]risk[/branch]"), "{}", msg);
                }
            }
            prop_assert_eq!(
                Channel::parse(&s),
                Channel::parse_with_default_track(&s, DEFAULT_TRACK)
            );
        }

        #[test]
        fn name_matcher_agrees_with_a_reference(s in "[a-c0-9._-]{0,8}") {
            // Reference: split into alphanumeric runs separated by single separators.
            let bytes = s.as_bytes();
            let sep = |b: &u8| matches!(b, b'.' | b'_' | b'-');
            let reference = !s.is_empty()
                && !sep(&bytes[0])
                && !sep(&bytes[bytes.len() - 1])
                && !bytes.windows(2).any(|w| sep(&w[0]) && sep(&w[1]));
            prop_assert_eq!(is_valid_name_chars(&s), reference);
        }
    }
}
