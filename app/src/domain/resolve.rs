//! Channel-map resolution: which release a device following a channel gets.
//!
//! A channel map is a list of release entries, each released to one channel. A request for
//! `track/risk/branch` is answered by the entry on that branch, else by the entry on
//! `track/risk`, else by the next more stable risk of the same track, and so on up to
//! `track/stable`. An empty or closed risk therefore follows the nearest more stable open
//! risk, and a track never falls back to another track. Expired entries (branches past
//! their lifetime) are ignored as if they were not there.
//!
//! The functions are generic over the entry type; callers filter entries (by architecture,
//! base, …) with a `matches` predicate.

use super::channel::{Channel, Risk};

/// What resolution needs to know about a channel-map entry.
pub trait ReleaseEntry {
    /// The channel the entry is released to.
    fn channel(&self) -> &Channel;

    /// When the entry stops counting, in unix seconds; `None` for never. Entries on a
    /// branch carry one, see [`BRANCH_LIFETIME_SECS`](super::BRANCH_LIFETIME_SECS).
    fn expires_at(&self) -> Option<i64>;

    /// Whether the entry has expired at `now`: its expiry is set and not after `now`.
    fn is_expired(&self, now: i64) -> bool {
        matches!(self.expires_at(), Some(t) if t <= now)
    }
}

impl<T: ReleaseEntry + ?Sized> ReleaseEntry for &T {
    fn channel(&self) -> &Channel {
        (**self).channel()
    }

    fn expires_at(&self) -> Option<i64> {
        (**self).expires_at()
    }
}

/// The channel `channel` falls back to when nothing is released there: a branch falls back
/// to its risk on the same track, a risk to the next more stable risk on the same track, and
/// `stable` to nothing.
pub fn fallback(channel: &Channel) -> Option<Channel> {
    if channel.branch.is_some() {
        return Some(channel.without_branch());
    }
    channel
        .risk
        .more_stable()
        .map(|risk| Channel::new(channel.track.clone(), risk, None))
}

/// `channel` followed by each successive [`fallback`]: for `2.0/edge/fix` that is
/// `2.0/edge/fix`, `2.0/edge`, `2.0/beta`, `2.0/candidate`, `2.0/stable`.
pub fn fallback_chain(channel: &Channel) -> impl Iterator<Item = Channel> + use<> {
    std::iter::successors(Some(channel.clone()), fallback)
}

/// The first entry released exactly at `track/risk[/branch]` that `matches` and is not
/// expired.
fn find_at<'a, E: ReleaseEntry>(
    entries: &'a [E],
    track: &str,
    risk: Risk,
    branch: Option<&str>,
    now: i64,
    matches: &impl Fn(&E) -> bool,
) -> Option<&'a E> {
    entries.iter().find(|e| {
        let c = e.channel();
        c.risk == risk
            && c.branch.as_deref() == branch
            && c.track == track
            && !e.is_expired(now)
            && matches(e)
    })
}

/// The first entry released exactly at `channel` (no fallback) that `matches` and has not
/// expired at `now`.
pub fn find_exact<'a, E: ReleaseEntry>(
    entries: &'a [E],
    channel: &Channel,
    now: i64,
    matches: impl Fn(&E) -> bool,
) -> Option<&'a E> {
    find_at(
        entries,
        &channel.track,
        channel.risk,
        channel.branch.as_deref(),
        now,
        &matches,
    )
}

/// The release at the most stable risk of `track` that has one (branches aside): the first
/// entry there, in slice order, that `matches` and has not expired at `now`.
pub fn most_stable<'a, E: ReleaseEntry>(
    entries: &'a [E],
    track: &str,
    now: i64,
    matches: impl Fn(&E) -> bool,
) -> Option<&'a E> {
    Risk::ALL
        .iter()
        .find_map(|risk| find_at(entries, track, *risk, None, now, &matches))
}

/// Resolve `requested` against a channel map: try `requested`, then `fallback(requested)`,
/// then its fallback, …, and return the first entry (in slice order) released exactly at the
/// channel being tried that `matches` and has not expired at `now`. The returned entry's
/// channel is the *effective channel*. `None` means the track has nothing for this request.
///
/// Allocation-free: this is on the refresh hot path.
pub fn resolve<'a, E: ReleaseEntry>(
    entries: &'a [E],
    requested: &Channel,
    now: i64,
    matches: impl Fn(&E) -> bool,
) -> Option<&'a E> {
    let track = requested.track.as_str();
    if let Some(branch) = requested.branch.as_deref()
        && let Some(e) = find_at(entries, track, requested.risk, Some(branch), now, &matches)
    {
        return Some(e);
    }
    let mut risk = Some(requested.risk);
    while let Some(r) = risk {
        if let Some(e) = find_at(entries, track, r, None, now, &matches) {
            return Some(e);
        }
        risk = r.more_stable();
    }
    None
}

/// The state of one risk of a track, as `snap info` draws it.
#[derive(Debug, PartialEq, Eq)]
pub enum RiskState<'a, E> {
    /// Something is released at this risk (drawn as its revision).
    Open(&'a E),
    /// Nothing is released here; requests follow the nearest more stable open risk
    /// (drawn as `↑`).
    Follows(Risk),
    /// Nothing is released here or at any more stable risk (drawn as `–`).
    Closed,
}

// Written by hand so that `RiskState` is `Copy` whatever `E` is.
impl<E> Clone for RiskState<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for RiskState<'_, E> {}

impl<'a, E> RiskState<'a, E> {
    /// The entry released at this risk, if open.
    pub fn entry(&self) -> Option<&'a E> {
        match self {
            RiskState::Open(e) => Some(e),
            _ => None,
        }
    }

    /// Whether something is released at this risk.
    pub fn is_open(&self) -> bool {
        matches!(self, RiskState::Open(_))
    }
}

/// The four risks of `track`, from stable to edge, each [`RiskState::Open`] when an entry
/// that `matches` and has not expired is released there (without a branch),
/// [`RiskState::Follows`] the nearest more stable open risk when there is one, else
/// [`RiskState::Closed`]. Agrees with [`resolve`]: an open risk resolves to its entry, a
/// following risk to the entry of the risk it follows, a closed one to nothing.
pub fn track_view<'a, E: ReleaseEntry>(
    entries: &'a [E],
    track: &str,
    now: i64,
    matches: impl Fn(&E) -> bool,
) -> [(Risk, RiskState<'a, E>); 4] {
    let mut nearest_open = None;
    Risk::ALL.map(|risk| {
        let state = match find_at(entries, track, risk, None, now, &matches) {
            Some(e) => {
                nearest_open = Some(risk);
                RiskState::Open(e)
            }
            None => match nearest_open {
                Some(r) => RiskState::Follows(r),
                None => RiskState::Closed,
            },
        };
        (risk, state)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Entry {
        id: usize,
        channel: Channel,
        expires_at: Option<i64>,
        arch: u8,
    }

    impl ReleaseEntry for Entry {
        fn channel(&self) -> &Channel {
            &self.channel
        }
        fn expires_at(&self) -> Option<i64> {
            self.expires_at
        }
    }

    fn c(s: &str) -> Channel {
        Channel::parse(s).unwrap()
    }

    fn entry(id: usize, ch: &str) -> Entry {
        Entry {
            id,
            channel: c(ch),
            expires_at: None,
            arch: 0,
        }
    }

    fn any(_: &Entry) -> bool {
        true
    }

    fn id_of(e: Option<&Entry>) -> Option<usize> {
        e.map(|e| e.id)
    }

    #[test]
    fn fallback_steps() {
        assert_eq!(fallback(&c("2.0/edge/fix")), Some(c("2.0/edge")));
        assert_eq!(fallback(&c("2.0/edge")), Some(c("2.0/beta")));
        assert_eq!(fallback(&c("beta")), Some(c("candidate")));
        assert_eq!(fallback(&c("candidate")), Some(c("stable")));
        assert_eq!(fallback(&c("stable")), None);
        assert_eq!(fallback(&c("stable/hotfix")), Some(c("stable")));
        assert_eq!(
            fallback_chain(&c("2.0/edge/fix"))
                .map(|c| c.full())
                .collect::<Vec<_>>(),
            [
                "2.0/edge/fix",
                "2.0/edge",
                "2.0/beta",
                "2.0/candidate",
                "2.0/stable"
            ]
        );
    }

    #[test]
    fn resolves_exact_then_more_stable() {
        let map = [
            entry(1, "stable"),
            entry(2, "beta"),
            entry(3, "2.0/stable"),
            entry(4, "edge/fix"),
        ];
        assert_eq!(id_of(resolve(&map, &c("stable"), 0, any)), Some(1));
        assert_eq!(id_of(resolve(&map, &c("candidate"), 0, any)), Some(1));
        assert_eq!(id_of(resolve(&map, &c("beta"), 0, any)), Some(2));
        assert_eq!(id_of(resolve(&map, &c("edge"), 0, any)), Some(2));
        assert_eq!(id_of(resolve(&map, &c("edge/fix"), 0, any)), Some(4));
        assert_eq!(id_of(resolve(&map, &c("edge/other"), 0, any)), Some(2));
        assert_eq!(id_of(resolve(&map, &c("2.0/edge"), 0, any)), Some(3));
        // Never crosses tracks, in either direction.
        assert_eq!(id_of(resolve(&map, &c("3.0/edge"), 0, any)), None);
        assert_eq!(
            id_of(resolve(&[entry(5, "2.0/edge")], &c("edge"), 0, any)),
            None
        );
        // Never goes to a less stable risk.
        assert_eq!(
            id_of(resolve(&[entry(6, "edge")], &c("beta"), 0, any)),
            None
        );
        // A branch of a more stable risk is not a fallback.
        assert_eq!(
            id_of(resolve(&[entry(7, "stable/x")], &c("edge/x"), 0, any)),
            None
        );
        assert_eq!(
            id_of(resolve(&[entry(7, "stable/x")], &c("edge"), 0, any)),
            None
        );
    }

    #[test]
    fn matches_filters_and_first_entry_wins() {
        let mut arm = entry(1, "edge");
        arm.arch = 1;
        let map = [arm, entry(2, "beta"), entry(3, "edge")];
        assert_eq!(
            id_of(resolve(&map, &c("edge"), 0, |e| e.arch == 0)),
            Some(3)
        );
        assert_eq!(
            id_of(resolve(&map, &c("edge"), 0, |e| e.arch == 1)),
            Some(1)
        );
        assert_eq!(id_of(resolve(&map, &c("edge"), 0, any)), Some(1));
        assert_eq!(id_of(resolve(&map, &c("beta"), 0, |e| e.arch == 1)), None);
    }

    #[test]
    fn expired_branches_are_ignored() {
        let mut branch = entry(1, "edge/fix");
        branch.expires_at = Some(100);
        let map = [branch, entry(2, "stable")];
        assert_eq!(id_of(resolve(&map, &c("edge/fix"), 99, any)), Some(1));
        assert_eq!(id_of(resolve(&map, &c("edge/fix"), 100, any)), Some(2));
        assert_eq!(id_of(resolve(&map, &c("edge/fix"), 1_000, any)), Some(2));
        assert!(find_exact(&map, &c("edge/fix"), 100, any).is_none());
        assert_eq!(id_of(find_exact(&map, &c("edge/fix"), 0, any)), Some(1));
    }

    #[test]
    fn works_over_references() {
        let a = entry(1, "stable");
        let refs = [&a];
        assert_eq!(
            resolve(&refs, &c("edge"), 0, |_| true).map(|e| e.id),
            Some(1)
        );
    }

    #[test]
    fn track_view_like_snap_info() {
        let map = [entry(1, "stable"), entry(3, "beta"), entry(9, "2.0/edge")];
        let view = track_view(&map, "latest", 0, any);
        assert_eq!(view[0], (Risk::Stable, RiskState::Open(&map[0])));
        assert_eq!(view[1], (Risk::Candidate, RiskState::Follows(Risk::Stable)));
        assert_eq!(view[2], (Risk::Beta, RiskState::Open(&map[1])));
        assert_eq!(view[3], (Risk::Edge, RiskState::Follows(Risk::Beta)));

        let view = track_view(&map, "2.0", 0, any);
        assert_eq!(
            view.map(|(_, s)| s),
            [
                RiskState::Closed,
                RiskState::Closed,
                RiskState::Closed,
                RiskState::Open(&map[2])
            ]
        );
        assert!(view[3].1.is_open());
        assert_eq!(view[3].1.entry().map(|e| e.id), Some(9));
        assert_eq!(view[0].1.entry(), None);

        let empty: [Entry; 0] = [];
        assert!(
            track_view(&empty, "latest", 0, any)
                .iter()
                .all(|(_, s)| *s == RiskState::Closed)
        );
    }

    #[test]
    fn track_view_ignores_branches_and_expired() {
        let mut expired = entry(1, "candidate");
        expired.expires_at = Some(5);
        let map = [expired, entry(2, "edge/fix")];
        let view = track_view(&map, "latest", 10, any);
        assert!(view.iter().all(|(_, s)| *s == RiskState::Closed));
        let view = track_view(&map, "latest", 4, any);
        assert_eq!(view[1].1, RiskState::Open(&map[0]));
        assert_eq!(view[3].1, RiskState::Follows(Risk::Candidate));
    }

    // ---- property tests ----

    const TRACKS: [&str; 2] = ["latest", "2.0"];
    const BRANCHES: [Option<&str>; 3] = [None, Some("fix"), Some("hot")];

    fn arb_channel() -> impl Strategy<Value = Channel> {
        (
            proptest::sample::select(TRACKS.to_vec()),
            proptest::sample::select(Risk::ALL.to_vec()),
            proptest::sample::select(BRANCHES.to_vec()),
        )
            .prop_map(|(t, r, b)| Channel::new(t, r, b.map(str::to_owned)))
    }

    fn arb_map() -> impl Strategy<Value = Vec<Entry>> {
        proptest::collection::vec(
            (arb_channel(), proptest::option::of(0i64..20), 0u8..2),
            0..16,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(id, (channel, expires_at, arch))| Entry {
                    id,
                    channel,
                    expires_at,
                    arch,
                })
                .collect()
        })
    }

    /// The specification, written as directly as possible.
    fn reference<'a>(map: &'a [Entry], req: &Channel, now: i64, arch: u8) -> Option<&'a Entry> {
        for ch in fallback_chain(req) {
            let hit = map.iter().find(|e| {
                e.channel == ch && e.arch == arch && !matches!(e.expires_at, Some(t) if t <= now)
            });
            if hit.is_some() {
                return hit;
            }
        }
        None
    }

    proptest! {
        #[test]
        fn resolve_properties(map in arb_map(), req in arb_channel(), now in 0i64..20, arch in 0u8..2) {
            let m = |e: &Entry| e.arch == arch;
            let got = resolve(&map, &req, now, m);

            prop_assert_eq!(got, reference(&map, &req, now, arch));

            if let Some(e) = got {
                // Same track, never less stable, branch only the requested one.
                prop_assert_eq!(&e.channel.track, &req.track);
                prop_assert!(e.channel.risk <= req.risk);
                prop_assert!(e.channel.branch.is_none() || e.channel.branch == req.branch);
                // Only matching, unexpired entries.
                prop_assert!(m(e));
                prop_assert!(!e.is_expired(now));
            }

            let exact = map.iter().find(|e| e.channel == req && m(e) && !e.is_expired(now));
            match exact {
                // A matching unexpired entry at the requested channel is returned.
                Some(x) => prop_assert_eq!(got, Some(x)),
                // Otherwise the answer is that of the fallback channel.
                None => {
                    let via_fallback = fallback(&req).and_then(|f| resolve(&map, &f, now, m));
                    prop_assert_eq!(got, via_fallback);
                }
            }
        }

        #[test]
        fn expired_entries_are_never_returned(map in arb_map(), req in arb_channel(), now in 0i64..20) {
            if let Some(e) = resolve(&map, &req, now, |_| true) {
                prop_assert!(e.expires_at.is_none_or(|t| t > now));
            }
            // Expiring everything leaves nothing to resolve.
            let all_expired: Vec<Entry> = map
                .iter()
                .cloned()
                .map(|mut e| { e.expires_at = Some(now); e })
                .collect();
            prop_assert_eq!(resolve(&all_expired, &req, now, |_| true), None);
        }

        #[test]
        fn fallback_stays_on_track_and_gets_more_stable(req in arb_channel()) {
            let chain: Vec<Channel> = fallback_chain(&req).collect();
            prop_assert_eq!(chain.len(), req.risk as usize + 1 + usize::from(req.is_branch()));
            prop_assert!(chain.iter().all(|c| c.track == req.track));
            prop_assert!(chain.iter().skip(1).all(|c| !c.is_branch()));
            prop_assert!(chain.windows(2).skip(usize::from(req.is_branch())).all(|w| w[1].risk < w[0].risk));
            prop_assert_eq!(chain.last().map(|c| c.risk), Some(Risk::Stable));
        }

        #[test]
        fn most_stable_is_the_first_risk_that_resolves(map in arb_map(), now in 0i64..20, arch in 0u8..2) {
            let m = |e: &Entry| e.arch == arch;
            for track in TRACKS {
                let expected = Risk::ALL
                    .iter()
                    .find_map(|risk| resolve(&map, &Channel::new(track, *risk, None), now, m));
                prop_assert_eq!(most_stable(&map, track, now, m), expected);
            }
        }

        #[test]
        fn track_view_agrees_with_resolve(map in arb_map(), now in 0i64..20, arch in 0u8..2) {
            let m = |e: &Entry| e.arch == arch;
            for track in TRACKS {
                let view = track_view(&map, track, now, m);
                for (i, (risk, state)) in view.iter().enumerate() {
                    prop_assert_eq!(*risk, Risk::ALL[i]);
                    let ch = Channel::new(track, *risk, None);
                    let resolved = resolve(&map, &ch, now, m);
                    match state {
                        RiskState::Open(e) => {
                            prop_assert_eq!(resolved, Some(*e));
                            prop_assert_eq!(&e.channel, &ch);
                        }
                        RiskState::Follows(r) => {
                            prop_assert!(*r < *risk);
                            prop_assert!(view[*r as usize].1.is_open());
                            // Nothing open between the followed risk and this one.
                            prop_assert!(view[*r as usize + 1..i].iter().all(|(_, s)| !s.is_open()));
                            prop_assert_eq!(resolved, view[*r as usize].1.entry());
                        }
                        RiskState::Closed => {
                            prop_assert_eq!(resolved, None);
                            prop_assert!(view[..i].iter().all(|(_, s)| !s.is_open()));
                        }
                    }
                }
            }
        }
    }
}
