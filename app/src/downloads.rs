//! Download counts: aggregated in memory, added to the database every flush interval.
//!
//! A download costs no database write: [`DownloadCounter::record`] bumps an in-memory counter
//! for (package, channel, UTC day); the flusher adds the pending counts to `download_counts`
//! in one transaction every `download_flush_interval_secs`, and once more on shutdown. A crash
//! loses at most one interval's counts; a failed flush keeps them for the next one. After each
//! flush the totals of the last [`POPULARITY_DAYS`] days (every process's, as stored) are read
//! back and become the search engine's popularity prior.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::catalog::CatalogHandle;
use crate::store::{DownloadCount, Store};

/// The window of downloads that feeds the popularity prior.
pub const POPULARITY_DAYS: i64 = 30;

type Key = (String, String, String);

/// The downloads this process has counted and not yet flushed.
#[derive(Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<Key, u64>>,
}

/// `YYYY-MM-DD` of a UTC time.
pub fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The first day of the popularity window ending today.
pub fn window_start(now: chrono::DateTime<chrono::Utc>) -> String {
    day(now - chrono::Duration::days(POPULARITY_DAYS - 1))
}

impl DownloadCounter {
    /// Counts one download of `package_id` from `channel` (empty when unknown), today.
    pub fn record(&self, package_id: &str, channel: &str) {
        let key = (
            package_id.to_string(),
            channel.to_string(),
            day(chrono::Utc::now()),
        );
        *self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    fn take(&self) -> HashMap<Key, u64> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn put_back(&self, counts: HashMap<Key, u64>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (key, n) in counts {
            *pending.entry(key).or_default() += n;
        }
    }

    /// Adds the pending counts to the store. On failure they stay pending for the next flush.
    /// Returns how many downloads were written.
    pub async fn flush(&self, store: &dyn Store) -> crate::store::Result<u64> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let rows: Vec<DownloadCount> = taken
            .iter()
            .map(|((package_id, channel, day), n)| DownloadCount {
                package_id: package_id.clone(),
                channel: channel.clone(),
                day: day.clone(),
                count: *n,
            })
            .collect();
        match store.add_downloads(&rows).await {
            Ok(()) => Ok(taken.values().sum()),
            // A database that only reads never will: the counts are dropped, not kept to grow.
            Err(err) if err.is_read_only() => Err(err),
            Err(err) => {
                self.put_back(taken);
                Err(err)
            }
        }
    }
}

/// Reads every process's downloads of the last [`POPULARITY_DAYS`] days into the search
/// engine's popularity prior.
pub async fn refresh_popularity(
    store: &dyn Store,
    catalog: &CatalogHandle,
) -> crate::store::Result<()> {
    let totals = store
        .download_totals(&window_start(chrono::Utc::now()))
        .await?;
    catalog
        .search
        .set_popularity(totals.into_iter().map(|(id, n)| (id, n as f64)).collect());
    Ok(())
}

/// How long counts are dropped without trying after a database refused them as read-only.
const READ_ONLY_RETRY: Duration = Duration::from_secs(600);

/// Flushes the download and co-installation counts every `interval` until `shutdown`
/// resolves, then once more; after each flush re-reads what every process has stored.
pub async fn run_flusher(
    counter: Arc<DownloadCounter>,
    related: Arc<crate::related::Related>,
    store: Arc<dyn Store>,
    catalog: Arc<CatalogHandle>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // Since when the database has refused writes as read-only (a standby): counts are dropped
    // meanwhile, and a write is tried again every READ_ONLY_RETRY, so that a promoted standby
    // stores counts again without a restart.
    let mut read_only_since: Option<std::time::Instant> = None;
    if let Err(err) = refresh_popularity(store.as_ref(), &catalog).await {
        tracing::warn!(%err, "cannot read download counts; search ranks without popularity for now");
    }
    if let Err(err) = related.reload(store.as_ref()).await {
        tracing::warn!(%err, "cannot read co-installation counts; recommendations fall back to similar packages");
    }
    loop {
        let stopping = tokio::select! {
            _ = &mut shutdown => true,
            _ = tokio::time::sleep(interval) => false,
        };
        if read_only_since.is_some_and(|since| since.elapsed() < READ_ONLY_RETRY) {
            counter.take();
            related.discard();
        } else {
            let flushed = counter.flush(store.as_ref()).await;
            let co_installs = related.flush(store.as_ref()).await;
            match (flushed, co_installs) {
                (Err(err), _) | (_, Err(err)) if err.is_read_only() => {
                    if read_only_since.is_none() {
                        tracing::warn!(
                            %err,
                            "the database only reads (a replica region's standby): this process's download and co-installation counts are not stored, only those of the region that takes writes; a write is tried again every 10 minutes"
                        );
                    }
                    read_only_since = Some(std::time::Instant::now());
                }
                (flushed, co_installs) => {
                    // Only a write that happened says the database takes writes again (with
                    // nothing to write, no statement ran).
                    if read_only_since.is_some() && flushed.as_ref().is_ok_and(|n| *n > 0) {
                        read_only_since = None;
                        tracing::info!(
                            "the database takes writes again: download counts are stored"
                        );
                    }
                    match flushed {
                        Ok(n) if n > 0 => tracing::debug!(downloads = n, "download counts flushed"),
                        Ok(_) => {}
                        Err(err) => tracing::warn!(
                            %err,
                            "cannot write download counts; they are kept for the next flush"
                        ),
                    }
                    if let Err(err) = co_installs {
                        tracing::warn!(%err, "cannot write co-installation counts; they are kept for the next flush");
                    }
                }
            }
        }
        if stopping {
            return;
        }
        if let Err(err) = refresh_popularity(store.as_ref(), &catalog).await {
            tracing::warn!(%err, "cannot read download counts");
        }
        if let Err(err) = related.reload(store.as_ref()).await {
            tracing::warn!(%err, "cannot read co-installation counts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a database that only reads, the flusher says so once, drops what it counted, and
    /// does not write again within `READ_ONLY_RETRY` (nor log anything more).
    #[tokio::test]
    async fn a_read_only_database_is_said_once_and_not_written_again() {
        use crate::telemetry::test_lines::Lines;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("depot.db").display());
        let writable = crate::store::open(&url, 2).await.unwrap();
        writable.migrate().await.unwrap();
        let catalog = Arc::new(CatalogHandle::load(writable.as_ref(), None).await.unwrap());
        let standby = crate::store::open(&format!("{url}?mode=ro"), 2)
            .await
            .unwrap();
        let lines = Lines::default();
        let _guard = tracing::subscriber::set_default(lines.subscriber());
        let refused = || {
            crate::telemetry::metrics::DB_ERRORS
                .with_label_values(&["query"])
                .get()
        };
        let refused_before = refused();
        let counter = Arc::new(DownloadCounter::default());
        let related = Arc::new(crate::related::Related::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let flusher = tokio::spawn(run_flusher(
            counter.clone(),
            related.clone(),
            standby,
            catalog,
            Duration::from_millis(5),
            async move {
                let _ = stopped.await;
            },
        ));
        for _ in 0..10 {
            counter.record("some-package-id", "latest/stable");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(()).unwrap();
        flusher.await.unwrap();
        let log = lines.text();
        assert_eq!(log.matches("the database only reads").count(), 1, "{log}");
        assert!(!log.contains("cannot write"), "{log}");
        assert!(counter.take().is_empty(), "the counts were dropped");
        // One write was tried and refused; the next are not tried within READ_ONLY_RETRY.
        assert_eq!(refused() - refused_before, 1);
        assert_eq!(
            writable.download_totals("2000-01-01").await.unwrap().len(),
            0
        );
    }

    #[test]
    fn days_and_windows() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-01T23:59:59Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(day(t), "2026-03-01");
        assert_eq!(window_start(t), "2026-01-31");
    }

    #[test]
    fn pending_counts_aggregate_and_survive_a_failed_flush() {
        let counter = DownloadCounter::default();
        counter.record("a", "latest/stable");
        counter.record("a", "latest/stable");
        counter.record("a", "");
        let taken = counter.take();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken.values().sum::<u64>(), 3);
        counter.record("a", "");
        counter.put_back(taken);
        let again = counter.take();
        assert_eq!(again.values().sum::<u64>(), 4);
        assert!(counter.take().is_empty());
    }
}
