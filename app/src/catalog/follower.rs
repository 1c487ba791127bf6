//! The change follower: tails `changes`, reloads the packages they touch, publishes snapshots.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::CatalogHandle;
use crate::store::{Result, Store};

/// Changes read per round trip.
const BATCH: i64 = 5_000;

/// Applies every change committed since the current snapshot. Returns how many were applied.
/// Only one task may call this at a time for a given handle (the follower).
pub async fn catch_up(store: &dyn Store, handle: &CatalogHandle) -> Result<usize> {
    let mut applied = 0;
    loop {
        let from = handle.seq();
        let changes = store.changes_since(from, BATCH).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(applied);
        };
        let ids: BTreeSet<String> = changes
            .iter()
            .filter_map(|c| c.package_id.clone())
            .collect();
        let ids: Vec<String> = ids.into_iter().collect();
        let states = store.load_packages(&ids).await?;
        let removed: Vec<String> = ids
            .iter()
            .filter(|id| !states.iter().any(|s| &s.package.id == *id))
            .cloned()
            .collect();
        let now = chrono::Utc::now().timestamp();
        let mut updates: Vec<(String, Option<crate::search::SearchDoc>)> = states
            .iter()
            .map(|s| {
                (
                    s.package.id.clone(),
                    crate::search::SearchDoc::from_state(s, now),
                )
            })
            .collect();
        updates.extend(removed.iter().map(|id| (id.clone(), None)));
        if let Err(err) = handle.search.apply_through(Some(last), updates) {
            tracing::error!(%err, "search index update failed");
        }
        let mut next = (*handle.snapshot()).clone();
        next.apply(
            last,
            states.into_iter().map(std::sync::Arc::new).collect(),
            &removed,
        );
        handle.publish(next);
        applied += changes.len();
        if (changes.len() as i64) < BATCH {
            return Ok(applied);
        }
    }
}

/// Runs until `shutdown` resolves: wakes on a notification from the database, a nudge from a
/// local write, or the poll interval, and catches up. Errors (the database being away) are
/// logged and retried; the last snapshot keeps serving meanwhile.
pub async fn run_follower(
    store: Arc<dyn Store>,
    handle: Arc<CatalogHandle>,
    metrics: Arc<crate::telemetry::metrics::Metrics>,
    poll: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut failing = false;
    loop {
        let started = std::time::Instant::now();
        let result = catch_up(store.as_ref(), &handle).await;
        if matches!(result, Ok(n) if n > 0) {
            metrics
                .catalog_apply_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        match result {
            Ok(n) => {
                handle.set_follower_error(None);
                if failing {
                    tracing::info!(seq = handle.seq(), "change follower reconnected");
                    failing = false;
                }
                if n > 0 {
                    tracing::debug!(applied = n, seq = handle.seq(), "catalog advanced");
                }
            }
            Err(err) => {
                metrics.follower_errors.inc();
                handle.set_follower_error(Some(err.to_string()));
                if !failing {
                    tracing::warn!(%err, seq = handle.seq(), "change follower cannot read the database; serving the last snapshot");
                    failing = true;
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = handle.nudged() => {}
            _ = store.wait_for_notification() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
