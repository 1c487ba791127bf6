//! Persistence: one [`Store`] trait, a SQLite and a PostgreSQL implementation sharing their SQL
//! (see `sql.rs`), one migration directory per backend.
//!
//! Every mutation is one transaction that appends exactly one row to the `changes` log. The
//! sequence number comes from a single counter row that the transaction updates last, so the
//! row lock (PostgreSQL) or the write lock (SQLite) is held until commit: sequence numbers are
//! gapless and become visible strictly in order, which is what lets the catalog follower tail
//! the log without ever skipping a change.

mod postgres;
mod sql;
mod sqlite;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::{SqliteStore, configure_sqlite};
pub use types::*;

use crate::domain::Namespace;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Errors of the persistence layer. `code()` values are part of the public API.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database refused a write because it only reads: a PostgreSQL standby (or a
    /// read-only transaction, SQLSTATE 25006), or a read-only SQLite file (`SQLITE_READONLY`).
    pub fn is_read_only(&self) -> bool {
        let (StoreError::Database(err) | StoreError::Unavailable(err)) = self else {
            return false;
        };
        err.as_database_error().is_some_and(|e| {
            if let Some(pg) = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                return pg.code() == "25006";
            }
            // SQLite: SQLITE_READONLY (8) and its extended codes (8 in the low byte).
            e.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|n| n & 0xff == 8)
        })
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            code,
            message: message.into(),
        }
    }
}

fn count_db_error(kind: &str) {
    crate::telemetry::metrics::DB_ERRORS
        .with_label_values(&[kind])
        .inc();
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => {
                count_db_error("unavailable");
                StoreError::Unavailable(err)
            }
            _ => {
                count_db_error("query");
                StoreError::Database(err)
            }
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Which SQL engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The persistence interface. Writes return the sequence number of the change they appended.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Connections in the pools: (open, idle).
    fn pool_stats(&self) -> (u32, u32);

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    // Accounts and tokens.
    async fn create_account(&self, new: NewAccount) -> Result<(Account, Seq)>;
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>>;
    async fn create_token(&self, new: NewToken) -> Result<(TokenRecord, Seq)>;
    /// The unrevoked token whose secret hashes to `secret_hash`, with its account.
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<(TokenRecord, Account)>>;

    // Packages.
    async fn register_package(&self, new: NewPackage) -> Result<(Package, Seq)>;
    async fn stage_upload(&self, upload: NewUpload) -> Result<Seq>;
    async fn upload(&self, upload_id: &str) -> Result<Option<Upload>>;
    /// Creates the next revision of a package from a staged upload.
    async fn push_revision(&self, new: NewRevision) -> Result<(Revision, Seq)>;
    /// Applies release and close requests atomically.
    async fn release(&self, request: ReleaseRequest) -> Result<(Vec<Released>, Seq)>;
    /// Imports `batch` in one transaction: every new package appends its own
    /// `package-imported` change; one whose name is taken is left as it is. Returns, in order,
    /// whether each package was imported, and the last change's sequence number.
    async fn import_packages(&self, batch: Vec<ImportPackage>) -> Result<(Vec<bool>, Seq)>;
    /// Makes a staged upload the next revision of charm resource `new.name`.
    async fn push_resource_revision(
        &self,
        new: NewResourceRevision,
    ) -> Result<(ResourceRevision, Seq)>;
    /// Sets the bases of revisions of charm resource `name`, all or none (`updated_by` is the
    /// account doing it); the number updated. A revision that does not exist is
    /// `resource-revision-not-found`.
    async fn update_resource_bases(
        &self,
        package_id: &str,
        name: &str,
        updates: Vec<(u32, Vec<ResourceBase>)>,
        updated_by: &str,
    ) -> Result<(usize, Seq)>;
    async fn create_tracks(&self, package_id: &str, tracks: Vec<NewTrack>) -> Result<(usize, Seq)>;
    /// Registers a charm library name under its charm and assigns the library its id.
    async fn create_library(&self, new: NewLibrary) -> Result<(CharmLibrary, Seq)>;
    /// Adds version `API.PATCH` to a library; the patch must follow the newest of its API.
    async fn publish_library_version(
        &self,
        new: NewLibraryVersion,
    ) -> Result<(LibraryVersion, Seq)>;
    /// Changes the fields of `update` that are set; a default track must exist.
    async fn update_metadata(&self, package_id: &str, update: MetadataUpdate) -> Result<Seq>;
    async fn release_history(&self, package_id: &str) -> Result<Vec<HistoryEntry>>;

    // Download counts (not catalog changes: no row in the change log).
    /// Adds the counts to the stored ones, in one transaction.
    async fn add_downloads(&self, counts: &[DownloadCount]) -> Result<()>;
    /// Every package's downloads on `since` (`YYYY-MM-DD`) and later.
    async fn download_totals(&self, since: &str) -> Result<Vec<(String, u64)>>;
    /// One package's counts on `since` and later, by day and channel, oldest first.
    async fn package_downloads(&self, package_id: &str, since: &str) -> Result<Vec<DownloadCount>>;

    // Co-installation counts (recommendations; not catalog changes either).
    /// Adds installed-set counts per package and per pair (`a` < `b`), in one transaction.
    async fn add_co_installs(
        &self,
        installs: &[(String, u64)],
        pairs: &[(String, String, u64)],
    ) -> Result<()>;
    /// Every package's install count and every pair's co-install count of at least
    /// `min_pair_count`.
    async fn co_installs(&self, min_pair_count: u64) -> Result<CoInstalls>;

    // The change log and the catalog's view of it.
    async fn head_seq(&self) -> Result<Seq>;
    async fn changes_since(&self, after: Seq, limit: i64) -> Result<Vec<Change>>;
    /// The whole state of the given packages (those that exist).
    async fn load_packages(&self, ids: &[String]) -> Result<Vec<PackageState>>;
    /// Every package's state, for a cold start.
    async fn load_all(&self) -> Result<Vec<PackageState>>;
    /// Looks a package up by name, straight from the database.
    async fn package_id(&self, namespace: Namespace, name: &str) -> Result<Option<String>>;

    /// Returns when a change may have been appended (PostgreSQL LISTEN/NOTIFY). Backends without
    /// notifications never return: callers race this against their poll interval.
    async fn wait_for_notification(&self);
}

/// Opens the store named by a database URL.
pub async fn open(database_url: &str, max_connections: u32) -> Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::open(database_url, max_connections).await?,
        ))
    } else {
        Ok(Arc::new(
            PostgresStore::open(database_url, max_connections).await?,
        ))
    }
}
