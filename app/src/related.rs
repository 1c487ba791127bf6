//! Recommendations from co-installation: which packages devices have installed together.
//!
//! snapd sends a device's installed snaps (the `context` of `POST /v2/snaps/refresh`) every few
//! hours. [`Related::record_installed`] counts each such set once per process and UTC day: a
//! set is remembered by a salted hash of its sorted snap ids and the day, in memory only, so a
//! device that refreshes often counts once a day, like every other device, and nothing that
//! identifies a device is ever stored. Counts per package and per pair are added to the
//! database with the download counts (`download_flush_interval_secs`), and every process then
//! reloads the neighbours of every package: the packages most often installed with it, scored
//! by cosine similarity `together(a, b) / sqrt(installs(a) × installs(b))`, among pairs seen
//! together at least [`MIN_SUPPORT`] times.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::store::Store;

/// Pairs seen together fewer times than this are not recommended (too little evidence).
pub const MIN_SUPPORT: u64 = 3;
/// Neighbours kept per package.
pub const TOP_K: usize = 50;
/// Sets larger than this are not counted (no real device has that many snaps; the pairs of a
/// huge set would swamp everything else).
pub const MAX_SET: usize = 200;
/// Fingerprints remembered per day before the memory is cleared (a bound, not a target).
const MAX_SEEN: usize = 2_000_000;

#[derive(Default)]
struct Pending {
    day: String,
    seen: HashSet<u64>,
    installs: HashMap<String, u64>,
    pairs: HashMap<(String, String), u64>,
}

/// Co-installation counting and the neighbours it yields.
pub struct Related {
    salt: std::collections::hash_map::RandomState,
    pending: Mutex<Pending>,
    neighbours: ArcSwap<HashMap<String, Vec<(String, f64)>>>,
}

impl Default for Related {
    fn default() -> Self {
        Related {
            salt: std::collections::hash_map::RandomState::new(),
            pending: Mutex::default(),
            neighbours: ArcSwap::default(),
        }
    }
}

impl Related {
    /// Counts one device's installed set (package ids of this store). Returns whether it was
    /// counted: a set already seen today, a set of fewer than two, or one larger than
    /// [`MAX_SET`] is not.
    pub fn record_installed(&self, ids: &[&str]) -> bool {
        let mut ids: Vec<&str> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < 2 || ids.len() > MAX_SET {
            return false;
        }
        let today = crate::downloads::day(chrono::Utc::now());
        let mut hasher = self.salt.build_hasher();
        hasher.write(today.as_bytes());
        for id in &ids {
            hasher.write(id.as_bytes());
            hasher.write_u8(0);
        }
        let fingerprint = hasher.finish();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.day != today || pending.seen.len() >= MAX_SEEN {
            pending.day = today;
            pending.seen.clear();
        }
        if !pending.seen.insert(fingerprint) {
            return false;
        }
        for (i, a) in ids.iter().enumerate() {
            *pending.installs.entry((*a).to_string()).or_default() += 1;
            for b in &ids[i + 1..] {
                *pending
                    .pairs
                    .entry(((*a).to_string(), (*b).to_string()))
                    .or_default() += 1;
            }
        }
        true
    }

    /// Forgets what is waiting to be stored (a database that only reads will not take it).
    pub fn discard(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.installs.clear();
        pending.pairs.clear();
    }

    /// Adds the pending counts to the store; on failure they stay pending, except on a
    /// database that only reads (they are dropped).
    pub async fn flush(&self, store: &dyn Store) -> crate::store::Result<()> {
        let (installs, pairs) = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            (
                std::mem::take(&mut pending.installs),
                std::mem::take(&mut pending.pairs),
            )
        };
        if installs.is_empty() {
            return Ok(());
        }
        let install_rows: Vec<(String, u64)> =
            installs.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let pair_rows: Vec<(String, String, u64)> = pairs
            .iter()
            .map(|((a, b), v)| (a.clone(), b.clone(), *v))
            .collect();
        if let Err(err) = store.add_co_installs(&install_rows, &pair_rows).await {
            // A database that only reads never will: the counts are dropped, not kept to grow.
            if err.is_read_only() {
                return Err(err);
            }
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (k, v) in installs {
                *pending.installs.entry(k).or_default() += v;
            }
            for (k, v) in pairs {
                *pending.pairs.entry(k).or_default() += v;
            }
            return Err(err);
        }
        Ok(())
    }

    /// Reloads every package's neighbours from the stored counts (every process's).
    pub async fn reload(&self, store: &dyn Store) -> crate::store::Result<()> {
        let counts = store.co_installs(MIN_SUPPORT).await?;
        let installs: HashMap<&str, u64> = counts
            .installs
            .iter()
            .map(|(id, n)| (id.as_str(), *n))
            .collect();
        let mut neighbours: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        for (a, b, together) in &counts.pairs {
            let (Some(&na), Some(&nb)) = (installs.get(a.as_str()), installs.get(b.as_str()))
            else {
                continue;
            };
            let score = *together as f64 / ((na as f64) * (nb as f64)).sqrt().max(1.0);
            neighbours
                .entry(a.clone())
                .or_default()
                .push((b.clone(), score));
            neighbours
                .entry(b.clone())
                .or_default()
                .push((a.clone(), score));
        }
        for list in neighbours.values_mut() {
            list.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            list.truncate(TOP_K);
        }
        self.neighbours.store(Arc::new(neighbours));
        Ok(())
    }

    /// The packages most often installed with `id`, best first, with their scores (0 to 1).
    pub fn neighbours(&self, id: &str) -> Vec<(String, f64)> {
        self.neighbours.load().get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_counts_once_a_day_and_pairs_are_ordered() {
        let related = Related::default();
        assert!(related.record_installed(&["b", "a", "c", "a"]));
        assert!(
            !related.record_installed(&["c", "b", "a"]),
            "the same set again"
        );
        assert!(
            !related.record_installed(&["a"]),
            "a single snap says nothing"
        );
        assert!(related.record_installed(&["a", "d"]));
        let pending = related.pending.lock().unwrap();
        assert_eq!(pending.installs["a"], 2);
        assert_eq!(pending.installs["b"], 1);
        assert_eq!(pending.pairs[&("a".to_string(), "b".to_string())], 1);
        assert_eq!(pending.pairs[&("b".to_string(), "c".to_string())], 1);
        assert_eq!(pending.pairs[&("a".to_string(), "d".to_string())], 1);
        assert_eq!(pending.pairs.len(), 4);
    }

    #[test]
    fn huge_sets_are_not_counted() {
        let related = Related::default();
        let ids: Vec<String> = (0..=MAX_SET).map(|i| format!("s{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert!(!related.record_installed(&refs));
        assert!(related.record_installed(&refs[..MAX_SET]));
    }
}
