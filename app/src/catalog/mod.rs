//! The read path: an immutable in-memory [`Catalog`] snapshot behind an atomic pointer, and a
//! follower that tails the store's change log and publishes new snapshots.
//!
//! Refresh, info, find and downloads read only the snapshot, so they keep answering while the
//! database is away. Snapshots share structure (`imbl` maps), so applying a change costs
//! O(log n), not a copy of the catalog.

pub mod channel_map;
mod checkpoint;
mod follower;
pub mod import;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{Notify, watch};

pub use checkpoint::{CheckpointError, run_checkpointer, write_checkpoint};
pub use follower::{catch_up, run_follower};

use crate::domain::Namespace;
use crate::search::SearchIndex;
use crate::store::{PackageState, Seq, Store};

/// The catalog's maps: `imbl`'s, hashed with foldhash (seeded at random per map, so keys that
/// publishers choose cannot be crafted to collide) instead of SipHash, which was most of a
/// look-up's cost; `find` looks up every result.
type Map<K, V> =
    imbl::GenericHashMap<K, V, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// One immutable view of every package.
#[derive(Clone, Default)]
pub struct Catalog {
    seq: Seq,
    by_id: Map<String, Arc<PackageState>>,
    /// Name → state, one map per namespace (looked up by `&str`, without building a key):
    /// `info` and `refresh` find a package by name in one look-up rather than two.
    snap_names: Map<String, Arc<PackageState>>,
    charm_names: Map<String, Arc<PackageState>>,
    /// Charm library id → the id of the charm that publishes it.
    by_library: Map<String, String>,
}

impl Catalog {
    /// The last change this snapshot includes.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, namespace: Namespace, name: &str) -> Option<&Arc<PackageState>> {
        self.names(namespace).get(name)
    }

    fn names(&self, namespace: Namespace) -> &Map<String, Arc<PackageState>> {
        match namespace {
            Namespace::Snap => &self.snap_names,
            Namespace::Charm => &self.charm_names,
        }
    }

    fn names_mut(&mut self, namespace: Namespace) -> &mut Map<String, Arc<PackageState>> {
        match namespace {
            Namespace::Snap => &mut self.snap_names,
            Namespace::Charm => &mut self.charm_names,
        }
    }

    pub fn get_by_id(&self, id: &str) -> Option<&Arc<PackageState>> {
        self.by_id.get(id)
    }

    /// The charm that publishes library `library_id`, with the library.
    pub fn library(
        &self,
        library_id: &str,
    ) -> Option<(&Arc<PackageState>, &crate::store::CharmLibrary)> {
        let state = self.by_id.get(self.by_library.get(library_id)?)?;
        Some((state, state.library(library_id)?))
    }

    pub fn packages(&self) -> impl Iterator<Item = &Arc<PackageState>> {
        self.by_id.values()
    }

    /// Builds a snapshot from whole states, e.g. at start.
    pub fn from_states(seq: Seq, states: Vec<Arc<PackageState>>) -> Catalog {
        let mut catalog = Catalog::default();
        catalog.apply(seq, states, &[]);
        catalog
    }

    /// Replaces (or adds) the given package states, drops `removed` ids, and moves to `seq`.
    pub fn apply(&mut self, seq: Seq, states: Vec<Arc<PackageState>>, removed: &[String]) {
        for id in removed {
            if let Some(old) = self.by_id.remove(id) {
                self.names_mut(old.package.namespace)
                    .remove(&old.package.name);
                for library in &old.libraries {
                    self.by_library.remove(&library.id);
                }
            }
        }
        for state in states {
            let id = state.package.id.clone();
            if let Some(old) = self.by_id.get(&id).cloned() {
                if old.package.name != state.package.name
                    || old.package.namespace != state.package.namespace
                {
                    self.names_mut(old.package.namespace)
                        .remove(&old.package.name);
                }
                for library in &old.libraries {
                    self.by_library.remove(&library.id);
                }
            }
            for library in &state.libraries {
                self.by_library.insert(library.id.clone(), id.clone());
            }
            let name = state.package.name.clone();
            self.names_mut(state.package.namespace)
                .insert(name, Arc::clone(&state));
            self.by_id.insert(id, state);
        }
        self.seq = self.seq.max(seq);
    }
}

/// The search documents of the findable ones among `states`, as of `now` (unix seconds), made
/// as the index builder asks for them.
fn search_docs<'a>(
    states: impl Iterator<Item = &'a PackageState>,
    now: i64,
) -> impl Iterator<Item = crate::search::SearchDoc> {
    states.filter_map(move |s| crate::search::SearchDoc::from_state(s, now))
}

/// Shared access to the current snapshot.
pub struct CatalogHandle {
    current: ArcSwap<Catalog>,
    /// The search index over the findable packages of `current`, updated before each publish.
    pub search: crate::search::SearchIndex,
    applied: watch::Sender<Seq>,
    nudge: Notify,
    /// Why the follower's last attempt to catch up failed; `None` while it keeps up.
    follower_error: std::sync::Mutex<Option<String>>,
    /// The change the search index checkpoint read at start was stamped with; `None` when
    /// the index was built.
    search_checkpoint: Option<Seq>,
}

impl CatalogHandle {
    pub fn new(catalog: Catalog) -> CatalogHandle {
        let now = chrono::Utc::now().timestamp();
        let docs = search_docs(catalog.packages().map(|s| &**s), now);
        let search = SearchIndex::build(docs).expect("an in-memory search index builds");
        search
            .set_position(catalog.seq(), now)
            .expect("a new search index is not poisoned");
        CatalogHandle::with_search(catalog, search)
    }

    fn with_search(catalog: Catalog, search: crate::search::SearchIndex) -> CatalogHandle {
        let (applied, _) = watch::channel(catalog.seq());
        CatalogHandle {
            search,
            current: ArcSwap::from_pointee(catalog),
            applied,
            nudge: Notify::new(),
            follower_error: std::sync::Mutex::new(None),
            search_checkpoint: None,
        }
    }

    /// Loads the whole catalog from the store (cold start). The search index is read from
    /// the checkpoint at `checkpoint`, if there is a usable one, while the catalog is read, and
    /// brought up to date with the packages changed since; otherwise it is built on a thread
    /// of its own, reading each package's search document as it goes, while the snapshot's
    /// maps are filled.
    pub async fn load(
        store: &dyn Store,
        checkpoint: Option<&Path>,
    ) -> crate::store::Result<CatalogHandle> {
        // Read the head first: anything committed after it is applied again by the follower.
        let seq = store.head_seq().await?;
        let started = std::time::Instant::now();
        let reading = checkpoint.map(|path| {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || SearchIndex::read_checkpoint(&path))
        });
        let states: Vec<Arc<PackageState>> =
            store.load_all().await?.into_iter().map(Arc::new).collect();
        let loaded = started.elapsed();
        let resumed = match reading {
            Some(reading) => {
                let read = reading.await.unwrap_or_else(|panicked| {
                    Err(crate::search::SearchError::Checkpoint(format!(
                        "reading it failed: {panicked}"
                    )))
                });
                checkpoint::resume(store, read, seq, &states).await?
            }
            None => None,
        };
        let search_checkpoint = resumed.as_ref().map(|(_, seq)| *seq);
        let indexer = match resumed {
            Some((search, _)) => Ok(search),
            None => {
                let indexed = states.clone();
                Err(tokio::task::spawn_blocking(move || {
                    let now = chrono::Utc::now().timestamp();
                    let search =
                        SearchIndex::build(search_docs(indexed.iter().map(|s| &**s), now))?;
                    search.set_position(seq, now)?;
                    Ok::<_, crate::search::SearchError>(search)
                }))
            }
        };
        let catalog = Catalog::from_states(seq, states);
        let filled = started.elapsed();
        let search = match indexer {
            Ok(search) => search,
            Err(building) => building
                .await
                .expect("the search index builder does not panic")
                .expect("an in-memory search index builds"),
        };
        tracing::debug!(
            load_ms = loaded.as_millis() as u64,
            catalog_ms = (filled - loaded).as_millis() as u64,
            index_ms = (started.elapsed() - loaded).as_millis() as u64,
            "catalog read and search index ready"
        );
        Ok(CatalogHandle {
            search_checkpoint,
            ..CatalogHandle::with_search(catalog, search)
        })
    }

    /// The change the search index checkpoint read at start was stamped with; `None` when the
    /// index was built from the catalog instead.
    pub fn search_checkpoint(&self) -> Option<Seq> {
        self.search_checkpoint
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// The last change the current snapshot includes. Read from the snapshot itself: the
    /// `applied` signal is sent just after a snapshot is published, so a reader between the two
    /// would see a snapshot newer than it.
    pub fn seq(&self) -> Seq {
        self.current.load().seq()
    }

    pub(crate) fn publish(&self, catalog: Catalog) {
        let seq = catalog.seq();
        self.current.store(Arc::new(catalog));
        self.applied.send_replace(seq);
    }

    /// Why the change follower cannot keep the catalog up to date, if it cannot.
    pub fn follower_error(&self) -> Option<String> {
        self.follower_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_follower_error(&self, error: Option<String>) {
        *self
            .follower_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// Asks the follower to look for changes now.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    pub(crate) async fn nudged(&self) {
        self.nudge.notified().await
    }

    /// Waits until the snapshot includes change `seq` (read-your-writes). Returns `false` on
    /// timeout.
    pub async fn wait_for(&self, seq: Seq, timeout: Duration) -> bool {
        self.nudge();
        let mut rx = self.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}
