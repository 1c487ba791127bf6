//! `configure_sqlite` turns SQLite's memory statistics off for the process (see its
//! documentation for why). A test binary of its own: it must run before anything else in the
//! process touches SQLite.

use depot::store::{SqliteStore, Store, configure_sqlite};

#[tokio::test]
async fn sqlite_keeps_no_memory_statistics_after_configure_sqlite() {
    assert!(configure_sqlite(), "SQLite had not started yet");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("depot.db").display());
    let store = SqliteStore::open(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.load_all().await.unwrap().is_empty());
    // SQLite counts what it has allocated only while the statistics are on; it has opened
    // three connections and migrated a database by now.
    // SAFETY: a read of SQLite's counters, safe from any thread.
    let used = unsafe { libsqlite3_sys::sqlite3_memory_used() };
    assert_eq!(used, 0);
}
