//! Checkpoints of the search index: read at start instead of building the index (see
//! [`crate::search::SearchIndex::read_checkpoint`]), written after start, every interval the
//! catalog has moved, and on a clean stop.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::CatalogHandle;
use crate::search::{SearchError, SearchIndex, Stamp};
use crate::store::{Change, PackageState, Seq, Store};

/// Changes read per round trip while finding what changed since a checkpoint.
const RESUME_BATCH: i64 = 5_000;
/// A checkpoint further behind the log than this many changes per package it may index again
/// is not used (reading the log since would cost more than building).
const MAX_CHANGES_PER_PACKAGE: i64 = 8;

/// Why a checkpoint could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// Change `seq` of the log, if the log has it.
async fn change_at(store: &dyn Store, seq: Seq) -> crate::store::Result<Option<Change>> {
    let changes = store.changes_since(seq - 1, 1).await?;
    Ok(changes.into_iter().next().filter(|c| c.seq == seq))
}

/// What a checkpoint remembers of the change it is stamped with.
fn fingerprint(change: &Change) -> String {
    format!(
        "{} {} {}",
        change.kind,
        change.package_id.as_deref().unwrap_or("-"),
        change.created_at.timestamp_micros()
    )
}

/// The search index of a checkpoint, brought up to change `head` with `states` (the catalog
/// as of `head`), or `None` when it cannot be used: the index is then built.
pub(super) async fn resume(
    store: &dyn Store,
    read: Result<Option<(SearchIndex, Stamp)>, SearchError>,
    head: Seq,
    states: &[Arc<PackageState>],
) -> crate::store::Result<Option<(SearchIndex, Seq)>> {
    let (search, stamp) = match read {
        Ok(Some(read)) => read,
        Ok(None) => {
            tracing::info!("no search index checkpoint yet: building the index");
            return Ok(None);
        }
        Err(err) => {
            tracing::warn!(%err, "cannot use the search index checkpoint: building the index");
            return Ok(None);
        }
    };
    let matches = stamp.seq <= head
        && change_at(store, stamp.seq)
            .await?
            .is_some_and(|c| fingerprint(&c) == stamp.change);
    if !matches {
        tracing::warn!(
            checkpoint_seq = stamp.seq,
            head,
            "the search index checkpoint is not of this database's change log: building the index"
        );
        return Ok(None);
    }
    // Past this many packages to index again, building is about as fast.
    let too_many = states.len() / 4 + 1_000;
    if head - stamp.seq > (too_many as i64).saturating_mul(MAX_CHANGES_PER_PACKAGE) {
        tracing::info!(
            checkpoint_seq = stamp.seq,
            head,
            "the search index checkpoint is far behind the change log: building the index"
        );
        return Ok(None);
    }
    // The packages changed since, up to the head (later ones are the follower's).
    let mut changed = BTreeSet::new();
    let mut from = stamp.seq;
    while from < head {
        let changes = store.changes_since(from, RESUME_BATCH).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            break;
        };
        changed.extend(
            changes
                .into_iter()
                .filter(|c| c.seq <= head)
                .filter_map(|c| c.package_id),
        );
        if changed.len() > too_many {
            tracing::info!(
                changed = changed.len(),
                "most of the catalog changed since the search index checkpoint: building the index"
            );
            return Ok(None);
        }
        from = last;
    }
    // A release that expired changes what is findable without a change in the log: the
    // documents of packages with one that expired since the index's oldest document was made
    // are made again, as a build now would.
    let now = chrono::Utc::now().timestamp();
    let expired = |s: &PackageState| {
        s.releases.iter().any(|r| {
            r.expires_at
                .is_some_and(|t| (stamp.fresh_as_of..=now).contains(&t.timestamp()))
        })
    };
    let mut updates = Vec::new();
    for state in states {
        let id = &state.package.id;
        if changed.remove(id) || expired(state) {
            updates.push((id.clone(), crate::search::SearchDoc::from_state(state, now)));
        }
    }
    // Changed packages no longer in the catalog.
    updates.extend(changed.into_iter().map(|id| (id, None)));
    let replayed = updates.len();
    if replayed > too_many {
        tracing::info!(
            replayed,
            "most of the catalog changed since the search index checkpoint: building the index"
        );
        return Ok(None);
    }
    let brought_up = move || -> Result<SearchIndex, SearchError> {
        search.apply_through(Some(head), updates)?;
        search.set_position(head, now)?;
        // Replaced documents count in BM25 until merged away: merged, the index answers as
        // one built now would.
        search.compact()?;
        Ok(search)
    };
    let search = match tokio::task::spawn_blocking(brought_up).await {
        Ok(Ok(search)) => search,
        Ok(Err(err)) => {
            tracing::warn!(%err, "cannot update the search index checkpoint: building the index");
            return Ok(None);
        }
        Err(err) => {
            tracing::warn!(%err, "updating the search index checkpoint failed: building the index");
            return Ok(None);
        }
    };
    tracing::info!(
        checkpoint_seq = stamp.seq,
        head,
        replayed,
        "search index read from its checkpoint"
    );
    Ok(Some((search, stamp.seq)))
}

/// Writes a checkpoint of the search index to `path`, stamped with the change-log position
/// the index includes. Returns the position, or `None` when there is nothing to checkpoint (an
/// empty log).
pub async fn write_checkpoint(
    handle: &Arc<CatalogHandle>,
    store: &dyn Store,
    path: &Path,
) -> Result<Option<Seq>, CheckpointError> {
    let panicked = |e: tokio::task::JoinError| SearchError::Poisoned(e.to_string());
    let search = Arc::clone(handle);
    let copy = tokio::task::spawn_blocking(move || search.search.checkpoint())
        .await
        .map_err(panicked)??;
    let seq = copy.seq();
    if seq <= 0 {
        return Ok(None);
    }
    let Some(change) = change_at(store, seq).await? else {
        return Ok(None);
    };
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || copy.write(&path, fingerprint(&change)))
        .await
        .map_err(panicked)??;
    Ok(Some(seq))
}

/// Writes a checkpoint of `handle`'s search index to `path` now (unless the start read one as
/// recent as the catalog), then every `interval` in which the catalog moved, and once more when
/// `shutdown` resolves if it moved since. Failures are logged: the next
/// start builds the index instead.
pub async fn run_checkpointer(
    store: Arc<dyn Store>,
    handle: Arc<CatalogHandle>,
    path: PathBuf,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // A start that read an up-to-date checkpoint has nothing to write yet.
    let mut written: Option<Seq> = handle.search_checkpoint().filter(|s| *s == handle.seq());
    loop {
        let stopping = tokio::select! {
            _ = &mut shutdown => true,
            _ = tokio::time::sleep(if written.is_none() { Duration::ZERO } else { interval }) => false,
        };
        if written != Some(handle.seq()) {
            let started = std::time::Instant::now();
            match write_checkpoint(&handle, store.as_ref(), &path).await {
                Ok(Some(seq)) => {
                    tracing::info!(
                        seq,
                        path = %path.display(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "search index checkpoint written"
                    );
                    written = Some(seq);
                }
                Ok(None) => written = Some(handle.seq()),
                Err(err) => {
                    tracing::warn!(%err, path = %path.display(), "cannot write the search index checkpoint");
                    written = Some(handle.seq());
                }
            }
        }
        if stopping {
            return;
        }
    }
}
