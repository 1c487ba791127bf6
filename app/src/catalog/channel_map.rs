//! What each channel of a package serves, per platform, with risks that have nothing released
//! following the next more stable risk of their track — the view devices act on.

use crate::domain::resolve::{RiskState, resolve, track_view};
use crate::domain::{Channel, Risk};
use crate::store::{PackageState, Release};

/// One line of an effective channel map.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective<'a> {
    /// The channel as a device would ask for it.
    pub channel: Channel,
    /// The platform this line is for (an architecture, `all`, or a charm base key).
    pub platform: String,
    /// The release that serves it; its channel differs from `channel` when it is followed.
    pub release: &'a Release,
}

impl Effective<'_> {
    pub fn follows(&self) -> bool {
        self.release.channel != self.channel
    }
}

/// How a platform of the channel map is matched.
pub enum PlatformFilter<'f> {
    /// Every platform on its own.
    All,
    /// Only what serves this platform; `accepts(platform_of_release)` says which releases do.
    Only {
        shown_as: String,
        accepts: &'f dyn Fn(&str) -> bool,
    },
}

/// The platform of a release for every architecture beside `platform`: `all` beside a snap's
/// architecture, `name/channel/all` beside a charm base (`name/channel/architecture`).
fn for_every_architecture(platform: &str) -> String {
    match platform.rsplit_once('/') {
        Some((base, _)) => format!("{base}/all"),
        None => "all".to_string(),
    }
}

/// The effective channel map of a package at `now` (unix seconds). Without a platform to show
/// (`PlatformFilter::All`), each platform released for is listed as a device on it would
/// resolve it: an architecture's lines include the releases for `all`.
pub fn effective<'a>(
    state: &'a PackageState,
    filter: &PlatformFilter<'_>,
    now: i64,
) -> Vec<Effective<'a>> {
    let releases = &state.releases;
    let live = |r: &&Release| r.expires_at.is_none_or(|t| t.timestamp() > now);
    let mut out = Vec::new();
    for track in &state.package.tracks {
        let on_track: Vec<&Release> = releases
            .iter()
            .filter(|r| r.channel.track == track.name)
            .filter(live)
            .collect();
        if on_track.is_empty() {
            continue;
        }
        // (platform shown, the exact platform to match or None for the filter's predicate)
        let platforms: Vec<(String, Option<String>)> = match filter {
            PlatformFilter::All => {
                let mut names: Vec<&str> = on_track.iter().map(|r| r.platform.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                names
                    .into_iter()
                    .map(|p| (p.to_string(), Some(p.to_string())))
                    .collect()
            }
            PlatformFilter::Only { shown_as, .. } => vec![(shown_as.clone(), None)],
        };
        for (platform, exact) in &platforms {
            // A device of one architecture also gets what is released for every one.
            let also = exact.as_deref().map(for_every_architecture);
            let matches = |r: &Release| match (exact, filter) {
                (Some(p), _) => &r.platform == p || also.as_ref() == Some(&r.platform),
                (None, PlatformFilter::Only { accepts, .. }) => accepts(&r.platform),
                (None, PlatformFilter::All) => true,
            };
            for (risk, view) in track_view(releases, &track.name, now, matches) {
                let channel = Channel::new(track.name.clone(), risk, None);
                let release = match view {
                    RiskState::Open(release) => release,
                    RiskState::Follows(from) => {
                        let target = Channel::new(track.name.clone(), from, None);
                        match resolve(releases, &target, now, matches) {
                            Some(release) => release,
                            None => continue,
                        }
                    }
                    RiskState::Closed => continue,
                };
                out.push(Effective {
                    channel,
                    platform: platform.clone(),
                    release,
                });
            }
            let mut branches: Vec<&Release> = on_track
                .iter()
                .copied()
                .filter(|r| r.channel.branch.is_some() && matches(r))
                .collect();
            branches.sort_by(|a, b| a.channel.cmp(&b.channel));
            branches.dedup_by(|a, b| a.channel == b.channel);
            for release in branches {
                out.push(Effective {
                    channel: release.channel.clone(),
                    platform: platform.clone(),
                    release,
                });
            }
        }
    }
    out
}

/// Resolves the release a device on `platform` tracking `channel` gets.
pub fn resolve_for<'a>(
    state: &'a PackageState,
    channel: &Channel,
    accepts: &dyn Fn(&str) -> bool,
    now: i64,
) -> Option<&'a Release> {
    resolve(&state.releases, channel, now, |r: &Release| {
        accepts(&r.platform)
    })
}

/// Risks in the order they are shown.
pub const RISKS: [Risk; 4] = Risk::ALL;
