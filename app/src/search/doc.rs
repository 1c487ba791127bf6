//! What the search index knows about a package: its text, its facets and whether it is
//! findable at all, derived from a catalog [`PackageState`] (or, offline, from a catalog file
//! record; see [`crate::search::eval`]).

use std::collections::BTreeSet;

use crate::catalog::channel_map::{PlatformFilter, effective};
use crate::domain::Namespace;
use crate::store::PackageState;

/// One findable package.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchDoc {
    pub id: String,
    pub namespace: Option<Namespace>,
    pub name: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    /// Search keywords (AppStream keywords of imported packages; `keywords` in a revision's
    /// metadata).
    pub keywords: Vec<String>,
    pub categories: Vec<String>,
    /// Publisher username.
    pub publisher: String,
    pub publisher_display: String,
    /// Snap type (`app`, `base`, …) or `charm`.
    pub kinds: Vec<String>,
    /// Architectures something is released for (`all` for architecture-independent ones).
    pub architectures: Vec<String>,
    /// Channels with something released, as `track/risk` and, on the default track, `risk`.
    pub channels: Vec<String>,
    pub confinements: Vec<String>,
}

impl SearchDoc {
    /// The search document of a package, or `None` when it must not be found: private, or
    /// with nothing released (as the Snap Store and Charmhub answer such names as not found).
    pub fn from_state(state: &PackageState, now: i64) -> Option<SearchDoc> {
        let p = &state.package;
        if p.private {
            return None;
        }
        let lines = effective(state, &PlatformFilter::All, now);
        if lines.is_empty() {
            return None;
        }
        let mut architectures = BTreeSet::new();
        let mut channels = BTreeSet::new();
        let mut confinements = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        let mut keywords = BTreeSet::new();
        for line in &lines {
            let arch = match line.platform.rsplit_once('/') {
                // Charm bases: `name/channel/architecture`.
                Some((_, arch)) => arch,
                None => line.platform.as_str(),
            };
            architectures.insert(arch.to_string());
            if line.channel.branch.is_none() {
                channels.insert(format!(
                    "{}/{}",
                    line.channel.track,
                    line.channel.risk.as_str()
                ));
                if line.channel.track == p.default_track {
                    channels.insert(line.channel.risk.as_str().to_string());
                }
            }
            if let Ok(i) = state
                .revisions
                .binary_search_by_key(&line.release.revision, |r| r.revision)
            {
                let r = &state.revisions[i];
                if let Some(c) = &r.confinement {
                    confinements.insert(c.clone());
                }
                kinds.insert(r.kind.clone());
                if let Some(list) = r.metadata.get("keywords").and_then(|k| k.as_array()) {
                    keywords.extend(list.iter().filter_map(|k| k.as_str()).map(str::to_string));
                }
            }
        }
        Some(SearchDoc {
            id: p.id.clone(),
            namespace: Some(p.namespace),
            name: p.name.clone(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            description: p.description.clone(),
            keywords: keywords.into_iter().collect(),
            categories: p.categories.clone(),
            publisher: p.publisher.username.clone(),
            publisher_display: p.publisher.display_name.clone(),
            kinds: kinds.into_iter().collect(),
            architectures: architectures.into_iter().collect(),
            channels: channels.into_iter().collect(),
            confinements: confinements.into_iter().collect(),
        })
    }
}
