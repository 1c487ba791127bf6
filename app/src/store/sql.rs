//! The SQL both backends share. The statements are written once, in the dialect SQLite and
//! PostgreSQL have in common (`$N` parameters, `RETURNING`, `ON CONFLICT`); `impl_sql_store!`
//! instantiates them for each backend's pool and transaction types. Where the dialects differ
//! (notifications, connection set-up) the backend module supplies the difference.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::RngExt;

use super::types::*;
use super::{Result, StoreError};
use crate::auth::Scope;
use crate::domain::{Channel, Epoch, Namespace, Risk};

/// A new opaque identifier: 32 characters of `[A-Za-z0-9]`, the shape of snap ids.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            email: r.email,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub id: String,
    pub account_id: String,
    pub scopes: String,
    pub packages: Option<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub fn into_record(self) -> Result<TokenRecord> {
        let scopes: Vec<Scope> = serde_json::from_str(&self.scopes)?;
        let packages = match self.packages {
            Some(p) => Some(serde_json::from_str(&p)?),
            None => None,
        };
        Ok(TokenRecord {
            id: self.id,
            account_id: self.account_id,
            scopes,
            packages,
            description: self.description,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PackageRow {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub publisher_id: String,
    pub publisher_username: String,
    pub publisher_display_name: String,
    pub publisher_created_at: DateTime<Utc>,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub website: String,
    pub contact: String,
    pub categories: String,
    pub private: bool,
    pub default_track: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PackageRow {
    pub fn into_package(self, tracks: Vec<Track>) -> Result<Package> {
        let namespace: Namespace = self.namespace.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "package {} has namespace {:?}",
                self.id, self.namespace
            ))
        })?;
        Ok(Package {
            id: self.id,
            namespace,
            name: self.name,
            publisher: Publisher {
                id: self.publisher_id,
                username: self.publisher_username,
                display_name: self.publisher_display_name,
                created_at: self.publisher_created_at,
            },
            title: self.title,
            summary: self.summary,
            description: self.description,
            license: self.license,
            website: self.website,
            contact: self.contact,
            categories: serde_json::from_str(&self.categories)?,
            private: self.private,
            default_track: self.default_track,
            tracks,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub(crate) const PACKAGE_SELECT: &str = "SELECT p.id, p.namespace, p.name, p.publisher_id, \
     a.username AS publisher_username, a.display_name AS publisher_display_name, \
     a.created_at AS publisher_created_at, p.title, p.summary, \
     p.description, p.license, p.website, p.contact, p.categories, p.private, p.default_track, \
     p.created_at, p.updated_at FROM packages p JOIN accounts a ON a.id = p.publisher_id";

#[derive(sqlx::FromRow)]
pub(crate) struct TrackRow {
    pub package_id: String,
    pub name: String,
    pub version_pattern: Option<String>,
    pub automatic_phasing_percentage: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl TrackRow {
    pub fn into_track(self) -> Track {
        Track {
            name: self.name,
            version_pattern: self.version_pattern,
            automatic_phasing_percentage: self.automatic_phasing_percentage,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevisionRow {
    pub package_id: String,
    pub revision: i64,
    pub version: String,
    pub sha3_384: String,
    pub sha256: String,
    pub sha384: String,
    pub size: i64,
    pub architectures: String,
    pub bases: String,
    pub base: Option<String>,
    pub confinement: Option<String>,
    pub grade: Option<String>,
    pub kind: String,
    pub epoch: String,
    pub metadata: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl RevisionRow {
    pub fn into_revision(self) -> Result<Revision> {
        Ok(Revision {
            revision: to_u32(self.revision)?,
            version: self.version,
            sha3_384: self.sha3_384,
            sha256: self.sha256,
            sha384: self.sha384,
            size: u64::try_from(self.size)
                .map_err(|_| StoreError::Corrupt("negative size".into()))?,
            architectures: serde_json::from_str(&self.architectures)?,
            bases: serde_json::from_str(&self.bases)?,
            base: self.base,
            confinement: self.confinement,
            grade: self.grade,
            kind: self.kind,
            epoch: serde_json::from_str::<Epoch>(&self.epoch)?,
            metadata: serde_json::from_str(&self.metadata)?,
            created_at: self.created_at,
            created_by: self.created_by,
        })
    }
}

pub(crate) const REVISION_COLUMNS: &str = "package_id, revision, version, sha3_384, sha256, sha384, size, \
     architectures, bases, base, confinement, grade, kind, epoch, metadata, created_at, created_by";

#[derive(sqlx::FromRow)]
pub(crate) struct ReleaseRow {
    pub package_id: String,
    pub track: String,
    pub risk: String,
    pub branch: String,
    pub platform: String,
    pub revision: i64,
    pub released_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub progressive_percentage: Option<f64>,
    pub previous_revision: Option<i64>,
}

impl ReleaseRow {
    pub fn into_release(self) -> Result<Release> {
        let risk: Risk = self
            .risk
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("release with risk {:?}", self.risk)))?;
        let branch = (!self.branch.is_empty()).then_some(self.branch);
        Ok(Release {
            channel: Channel::new(self.track, risk, branch),
            platform: self.platform,
            revision: to_u32(self.revision)?,
            released_at: self.released_at,
            expires_at: self.expires_at,
            progressive_percentage: self.progressive_percentage,
            previous_revision: self.previous_revision.map(to_u32).transpose()?,
        })
    }
}

pub(crate) const RELEASE_COLUMNS: &str = "package_id, track, risk, branch, platform, revision, released_at, expires_at, progressive_percentage, previous_revision";

#[derive(sqlx::FromRow)]
pub(crate) struct ResourceRevisionRow {
    pub package_id: String,
    pub name: String,
    pub revision: i64,
    pub kind: String,
    pub upload_id: String,
    pub sha3_384: String,
    pub sha256: String,
    pub sha384: String,
    pub sha512: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// JSON: `[{"name", "channel", "architectures"}]`.
    pub bases: String,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

impl ResourceRevisionRow {
    pub fn into_resource(self) -> Result<ResourceRevision> {
        Ok(ResourceRevision {
            name: self.name,
            revision: to_u32(self.revision)?,
            kind: self.kind,
            upload_id: self.upload_id,
            sha3_384: self.sha3_384,
            sha256: self.sha256,
            sha384: self.sha384,
            sha512: self.sha512,
            size: u64::try_from(self.size)
                .map_err(|_| StoreError::Corrupt("negative size".into()))?,
            created_at: self.created_at,
            created_by: self.created_by,
            bases: serde_json::from_str(&self.bases).map_err(|e| {
                StoreError::Corrupt(format!("resource revision bases {:?}: {e}", self.bases))
            })?,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

pub(crate) const RESOURCE_REVISION_COLUMNS: &str = "package_id, name, revision, kind, upload_id, \
     sha3_384, sha256, sha384, sha512, size, created_at, created_by, bases, updated_at, updated_by";

#[derive(sqlx::FromRow)]
pub(crate) struct LibraryRow {
    pub id: String,
    pub package_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LibraryVersionRow {
    pub library_id: String,
    pub api: i64,
    pub patch: i64,
    pub content: String,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl LibraryVersionRow {
    pub fn into_version(self) -> Result<LibraryVersion> {
        Ok(LibraryVersion {
            api: to_u32(self.api)?,
            patch: to_u32(self.patch)?,
            content: self.content.into(),
            hash: self.hash,
            created_at: self.created_at,
            created_by: self.created_by,
        })
    }
}

pub(crate) const LIBRARY_VERSION_COLUMNS: &str =
    "library_id, api, patch, content, hash, created_at, created_by";

#[derive(sqlx::FromRow)]
pub(crate) struct ReleasedResourceRow {
    pub package_id: String,
    pub track: String,
    pub risk: String,
    pub branch: String,
    pub name: String,
    pub revision: i64,
}

impl ReleasedResourceRow {
    pub fn into_released(self) -> Result<ReleasedResource> {
        let risk: Risk = self
            .risk
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("release with risk {:?}", self.risk)))?;
        let branch = (!self.branch.is_empty()).then_some(self.branch);
        Ok(ReleasedResource {
            channel: Channel::new(self.track, risk, branch),
            name: self.name,
            revision: to_u32(self.revision)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UploadRow {
    pub id: String,
    pub sha3_384: String,
    pub sha256: String,
    pub sha384: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub package_id: Option<String>,
    pub revision: Option<i64>,
}

impl UploadRow {
    pub fn into_upload(self) -> Result<Upload> {
        Ok(Upload {
            id: self.id,
            sha3_384: self.sha3_384,
            sha256: self.sha256,
            sha384: self.sha384,
            size: self.size as u64,
            created_at: self.created_at,
            created_by: self.created_by,
            package_id: self.package_id,
            revision: self.revision.map(to_u32).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub channel: String,
    pub revision: Option<i64>,
    pub platforms: String,
    pub released_at: DateTime<Utc>,
    pub released_by: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl HistoryRow {
    pub fn into_entry(self) -> Result<HistoryEntry> {
        Ok(HistoryEntry {
            channel: Channel::parse(&self.channel)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            revision: self.revision.map(to_u32).transpose()?,
            platforms: serde_json::from_str(&self.platforms)?,
            released_at: self.released_at,
            released_by: self.released_by,
            expires_at: self.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub package_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("value {v} out of range")))
}

/// `($1, $2, …, $n)` starting at `$first`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("({})", list.join(", "))
}

/// Groups rows loaded for many packages into [`PackageState`]s.
/// Every row [`assemble`] groups, as loaded for a set of packages.
pub(crate) struct LoadedRows {
    pub packages: Vec<PackageRow>,
    pub tracks: Vec<TrackRow>,
    pub revisions: Vec<RevisionRow>,
    pub releases: Vec<ReleaseRow>,
    pub resources: Vec<ResourceRevisionRow>,
    pub released_resources: Vec<ReleasedResourceRow>,
    pub libraries: Vec<LibraryRow>,
    pub library_versions: Vec<LibraryVersionRow>,
}

/// Rows grouped by the package (or library) they belong to, each group in a vector of its
/// exact size: a catalog read holds every revision of every package for as long as the
/// process runs, and a vector grown by pushing keeps room for four.
struct Grouped<T> {
    groups: Vec<Vec<T>>,
}

impl<T> Grouped<T> {
    /// Groups `rows` by `key` into the positions `index` gives keys (rows of keys it does not
    /// know, e.g. of a package deleted meanwhile, are left out), converting each.
    fn new<R>(
        index: &HashMap<&str, usize, foldhash::fast::RandomState>,
        rows: Vec<R>,
        key: impl Fn(&R) -> &str,
        mut convert: impl FnMut(R) -> Result<T>,
    ) -> Result<Grouped<T>> {
        let mut counts = vec![0usize; index.len()];
        for row in &rows {
            if let Some(&i) = index.get(key(row)) {
                counts[i] += 1;
            }
        }
        let mut groups: Vec<Vec<T>> = counts.into_iter().map(Vec::with_capacity).collect();
        for row in rows {
            if let Some(&i) = index.get(key(&row)) {
                groups[i].push(convert(row)?);
            }
        }
        Ok(Grouped { groups })
    }

    fn take(&mut self, i: usize) -> Vec<T> {
        std::mem::take(&mut self.groups[i])
    }
}

/// Each id's position in `ids`.
fn positions<'a>(
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> HashMap<&'a str, usize, foldhash::fast::RandomState> {
    let mut index = HashMap::with_capacity_and_hasher(ids.len(), Default::default());
    for (i, id) in ids.enumerate() {
        index.insert(id, i);
    }
    index
}

pub(crate) fn assemble(rows: LoadedRows) -> Result<Vec<PackageState>> {
    let LoadedRows {
        packages,
        tracks,
        revisions,
        releases,
        resources,
        released_resources,
        libraries,
        library_versions,
    } = rows;
    // Rows are grouped (and converted) before the packages and libraries they point at are
    // consumed, so the indexes borrow their ids.
    let index = positions(packages.iter().map(|p| p.id.as_str()));
    let mut tracks = Grouped::new(&index, tracks, |t| &t.package_id, |t| Ok(t.into_track()))?;
    let mut revisions = Grouped::new(&index, revisions, |r| &r.package_id, |r| r.into_revision())?;
    let mut releases = Grouped::new(&index, releases, |r| &r.package_id, |r| r.into_release())?;
    let mut resources = Grouped::new(&index, resources, |r| &r.package_id, |r| r.into_resource())?;
    let mut released_resources = Grouped::new(
        &index,
        released_resources,
        |r| &r.package_id,
        |r| r.into_released(),
    )?;
    let library_index = positions(libraries.iter().map(|l| l.id.as_str()));
    let mut versions = Grouped::new(
        &library_index,
        library_versions,
        |v| &v.library_id,
        |v| v.into_version(),
    )?;
    let mut libraries = Grouped::new(
        &index,
        libraries.into_iter().enumerate().collect(),
        |(_, l)| &l.package_id,
        |(i, l)| {
            let mut versions = versions.take(i);
            versions.sort_by_key(|v| (v.api, v.patch));
            Ok(CharmLibrary {
                id: l.id,
                name: l.name,
                created_at: l.created_at,
                created_by: l.created_by,
                versions,
            })
        },
    )?;
    let mut states = Vec::with_capacity(packages.len());
    for (i, p) in packages.into_iter().enumerate() {
        let mut tracks = tracks.take(i);
        tracks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
        let mut revisions = revisions.take(i);
        revisions.sort_by_key(|r| r.revision);
        let mut releases = releases.take(i);
        // Most recent first: when several entries could serve a platform, the newest wins.
        releases.sort_by_key(|r| std::cmp::Reverse(r.released_at));
        let mut resources = ResourceState {
            revisions: resources.take(i),
            released: released_resources.take(i),
        };
        resources
            .revisions
            .sort_by(|a, b| (&a.name, a.revision).cmp(&(&b.name, b.revision)));
        let mut libraries = libraries.take(i);
        libraries.sort_by(|a, b| a.name.cmp(&b.name));
        states.push(PackageState {
            package: p.into_package(tracks)?,
            revisions,
            releases,
            resources,
            libraries,
            rendered: Default::default(),
        });
    }
    Ok(states)
}

/// Implements [`super::Store`] for a backend struct with fields `read: Pool<DB>` (reads) and
/// `write: Pool<DB>` (write transactions), and a method `notify(&self, tx, seq)` that tells
/// other processes a change was appended.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// Bumps the change counter and appends one change. Must be the last statement of
            /// every write transaction (see the module documentation).
            async fn append_change(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                kind: &str,
                package_id: Option<&str>,
                account_id: Option<&str>,
                payload: serde_json::Value,
            ) -> $crate::store::Result<$crate::store::Seq> {
                let seq = self.insert_change(tx, kind, package_id, account_id, payload).await?;
                self.notify(tx, seq).await?;
                Ok(seq)
            }

            /// `append_change` without the notification, for a transaction that appends many
            /// changes and notifies once, with the last.
            async fn insert_change(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                kind: &str,
                package_id: Option<&str>,
                account_id: Option<&str>,
                payload: serde_json::Value,
            ) -> $crate::store::Result<$crate::store::Seq> {
                let seq: i64 =
                    sqlx::query_scalar("UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq")
                        .fetch_one(&mut **tx)
                        .await?;
                sqlx::query(
                    "INSERT INTO changes (seq, created_at, kind, package_id, account_id, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(seq)
                .bind(chrono::Utc::now())
                .bind(kind)
                .bind(package_id)
                .bind(account_id)
                .bind(payload.to_string())
                .execute(&mut **tx)
                .await?;
                Ok(seq)
            }

            /// Inserts a revision row (its number is `revision.revision`).
            async fn insert_revision(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                package_id: &str,
                revision: &$crate::store::Revision,
            ) -> $crate::store::Result<()> {
                use $crate::store::sql::REVISION_COLUMNS;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO revisions ({REVISION_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                )))
                .bind(package_id)
                .bind(i64::from(revision.revision))
                .bind(&revision.version)
                .bind(&revision.sha3_384)
                .bind(&revision.sha256)
                .bind(&revision.sha384)
                .bind(revision.size as i64)
                .bind(serde_json::to_string(&revision.architectures)?)
                .bind(serde_json::to_string(&revision.bases)?)
                .bind(&revision.base)
                .bind(&revision.confinement)
                .bind(&revision.grade)
                .bind(&revision.kind)
                .bind(serde_json::to_string(&revision.epoch)?)
                .bind(revision.metadata.to_string())
                .bind(revision.created_at)
                .bind(&revision.created_by)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Locks the package row for the rest of `tx` (writes to one package apply one after
            /// the other) and touches its `updated_at`; `package-not-found` when it does not exist.
            async fn lock_package(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                package_id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::Result<()> {
                let locked: Option<String> =
                    sqlx::query_scalar("UPDATE packages SET updated_at = $2 WHERE id = $1 RETURNING id")
                        .bind(package_id)
                        .bind(now)
                        .fetch_optional(&mut **tx)
                        .await?;
                match locked {
                    Some(_) => Ok(()),
                    None => Err($crate::store::StoreError::not_found(
                        "package-not-found",
                        "the package does not exist",
                    )),
                }
            }

            async fn load_where(
                &self,
                ids: Option<&[String]>,
            ) -> $crate::store::Result<Vec<$crate::store::PackageState>> {
                use $crate::store::sql::*;
                let mut tx = self.read.begin().await?;
                let (filter_p, filter) = match ids {
                    Some(ids) => (
                        format!(" WHERE p.id IN {}", placeholders(1, ids.len())),
                        format!(" WHERE package_id IN {}", placeholders(1, ids.len())),
                    ),
                    None => (String::new(), String::new()),
                };
                let ids = ids.unwrap_or(&[]);
                macro_rules! fetch {
                    ($row:ty, $sql:expr) => {{
                        let sql = $sql;
                        let mut q = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql));
                        for id in ids {
                            q = q.bind(id);
                        }
                        q.fetch_all(&mut *tx).await?
                    }};
                }
                let packages = fetch!(PackageRow, format!("{PACKAGE_SELECT}{filter_p}"));
                let tracks = fetch!(
                    TrackRow,
                    format!(
                        "SELECT package_id, name, version_pattern, automatic_phasing_percentage, created_at \
                         FROM tracks{filter}"
                    )
                );
                let revisions = fetch!(RevisionRow, format!("SELECT {REVISION_COLUMNS} FROM revisions{filter}"));
                let releases = fetch!(ReleaseRow, format!("SELECT {RELEASE_COLUMNS} FROM releases{filter}"));
                let resources = fetch!(
                    ResourceRevisionRow,
                    format!("SELECT {RESOURCE_REVISION_COLUMNS} FROM resource_revisions{filter}")
                );
                let released_resources = fetch!(
                    ReleasedResourceRow,
                    format!("SELECT package_id, track, risk, branch, name, revision FROM release_resources{filter}")
                );
                let libraries = fetch!(
                    LibraryRow,
                    format!("SELECT id, package_id, name, created_at, created_by FROM charm_libraries{filter}")
                );
                let library_versions = fetch!(
                    LibraryVersionRow,
                    format!("SELECT {LIBRARY_VERSION_COLUMNS} FROM charm_library_versions{filter}")
                );
                tx.commit().await?;
                assemble(LoadedRows {
                    packages,
                    tracks,
                    revisions,
                    releases,
                    resources,
                    released_resources,
                    libraries,
                    library_versions,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            fn pool_stats(&self) -> (u32, u32) {
                self.stats()
            }

            async fn migrate(&self) -> $crate::store::Result<()> {
                Self::MIGRATOR.run(&self.write).await?;
                Ok(())
            }

            async fn ping(&self) -> $crate::store::Result<()> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(username = %new.username))]
            async fn create_account(
                &self,
                new: $crate::store::NewAccount,
            ) -> $crate::store::Result<($crate::store::Account, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let account = $crate::store::Account {
                    id: new_id(),
                    username: new.username,
                    display_name: new.display_name,
                    email: new.email,
                    created_at: chrono::Utc::now(),
                };
                let mut tx = self.write.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO accounts (id, username, display_name, email, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&account.id)
                .bind(&account.username)
                .bind(&account.display_name)
                .bind(&account.email)
                .bind(account.created_at)
                .execute(&mut *tx)
                .await;
                if let Err(err) = inserted {
                    if is_unique_violation(&err) {
                        return Err($crate::store::StoreError::conflict(
                            "account-exists",
                            format!("an account named {:?} already exists", account.username),
                        ));
                    }
                    return Err(err.into());
                }
                let seq = self
                    .append_change(&mut tx, "account-created", None, Some(&account.id), serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok((account, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn account_by_username(
                &self,
                username: &str,
            ) -> $crate::store::Result<Option<$crate::store::Account>> {
                use $crate::store::sql::*;
                let row = sqlx::query_as::<_, AccountRow>(
                    "SELECT id, username, display_name, email, created_at FROM accounts WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.read)
                .await?;
                Ok(row.map(Into::into))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn create_token(
                &self,
                new: $crate::store::NewToken,
            ) -> $crate::store::Result<($crate::store::TokenRecord, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let record = $crate::store::TokenRecord {
                    id: new_id(),
                    account_id: new.account_id,
                    scopes: new.scopes,
                    packages: new.packages,
                    description: new.description,
                    created_at: chrono::Utc::now(),
                    expires_at: new.expires_at,
                };
                let packages = match &record.packages {
                    Some(p) => Some(serde_json::to_string(p)?),
                    None => None,
                };
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO tokens (id, account_id, secret_hash, scopes, packages, description, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&record.id)
                .bind(&record.account_id)
                .bind(&new.secret_hash)
                .bind(serde_json::to_string(&record.scopes)?)
                .bind(packages)
                .bind(&record.description)
                .bind(record.created_at)
                .bind(record.expires_at)
                .execute(&mut *tx)
                .await?;
                let seq = self
                    .append_change(&mut tx, "token-created", None, Some(&record.account_id), serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok((record, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn token_by_hash(
                &self,
                secret_hash: &str,
            ) -> $crate::store::Result<Option<($crate::store::TokenRecord, $crate::store::Account)>> {
                use $crate::store::sql::*;
                let Some(token) = sqlx::query_as::<_, TokenRow>(
                    "SELECT id, account_id, scopes, packages, description, created_at, expires_at \
                     FROM tokens WHERE secret_hash = $1 AND revoked_at IS NULL",
                )
                .bind(secret_hash)
                .fetch_optional(&self.read)
                .await?
                else {
                    return Ok(None);
                };
                let account = sqlx::query_as::<_, AccountRow>(
                    "SELECT id, username, display_name, email, created_at FROM accounts WHERE id = $1",
                )
                .bind(&token.account_id)
                .fetch_one(&self.read)
                .await?;
                Ok(Some((token.into_record()?, account.into())))
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(name = %new.name))]
            async fn register_package(
                &self,
                new: $crate::store::NewPackage,
            ) -> $crate::store::Result<($crate::store::Package, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let id = new_id();
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO packages (id, namespace, name, publisher_id, private, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&id)
                .bind(new.namespace.as_str())
                .bind(&new.name)
                .bind(&new.publisher_id)
                .bind(new.private)
                .bind(now)
                .execute(&mut *tx)
                .await;
                if let Err(err) = inserted {
                    if is_unique_violation(&err) {
                        return Err($crate::store::StoreError::conflict(
                            "name-already-registered",
                            format!("the {} name {:?} is already registered", new.namespace, new.name),
                        ));
                    }
                    return Err(err.into());
                }
                sqlx::query("INSERT INTO tracks (package_id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&id)
                    .bind($crate::domain::DEFAULT_TRACK)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let seq = self
                    .append_change(&mut tx, "package-registered", Some(&id), Some(&new.publisher_id), serde_json::json!({}))
                    .await?;
                let package = sqlx::query_as::<_, PackageRow>(sqlx::AssertSqlSafe(format!(
                    "{PACKAGE_SELECT} WHERE p.id = $1"
                )))
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                let track = $crate::store::Track {
                    name: $crate::domain::DEFAULT_TRACK.to_string(),
                    version_pattern: None,
                    automatic_phasing_percentage: None,
                    created_at: now,
                };
                Ok((package.into_package(vec![track])?, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn stage_upload(&self, upload: $crate::store::NewUpload) -> $crate::store::Result<$crate::store::Seq> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "INSERT INTO uploads (id, sha3_384, sha256, sha384, size, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&upload.id)
                .bind(&upload.sha3_384)
                .bind(&upload.sha256)
                .bind(&upload.sha384)
                .bind(upload.size as i64)
                .bind(chrono::Utc::now())
                .bind(&upload.created_by)
                .execute(&mut *tx)
                .await?;
                let seq = self
                    .append_change(
                        &mut tx,
                        "upload-staged",
                        None,
                        upload.created_by.as_deref(),
                        serde_json::json!({"upload-id": upload.id}),
                    )
                    .await?;
                tx.commit().await?;
                Ok(seq)
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn upload(&self, upload_id: &str) -> $crate::store::Result<Option<$crate::store::Upload>> {
                use $crate::store::sql::*;
                let row = sqlx::query_as::<_, UploadRow>(
                    "SELECT id, sha3_384, sha256, sha384, size, created_at, created_by, package_id, revision \
                     FROM uploads WHERE id = $1",
                )
                .bind(upload_id)
                .fetch_optional(&self.read)
                .await?;
                row.map(UploadRow::into_upload).transpose()
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(package_id = %new.package_id))]
            async fn push_revision(
                &self,
                new: $crate::store::NewRevision,
            ) -> $crate::store::Result<($crate::store::Revision, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                let upload = sqlx::query_as::<_, UploadRow>(
                    "SELECT id, sha3_384, sha256, sha384, size, created_at, created_by, package_id, revision \
                     FROM uploads WHERE id = $1",
                )
                .bind(&new.upload_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    $crate::store::StoreError::not_found(
                        "upload-not-found",
                        format!("no upload with id {:?}; upload the file first", new.upload_id),
                    )
                })?;
                // Taking the package row lock serialises pushes and hands out the next number.
                let text = &new.text;
                let number: Option<i64> = sqlx::query_scalar(
                    "UPDATE packages SET last_revision = last_revision + 1, updated_at = $2, \
                     summary = $3, description = $4, title = COALESCE($5, title), \
                     license = COALESCE($6, license), website = COALESCE($7, website), \
                     contact = COALESCE($8, contact) WHERE id = $1 RETURNING last_revision",
                )
                .bind(&new.package_id)
                .bind(now)
                .bind(&text.summary)
                .bind(&text.description)
                .bind(&text.title)
                .bind(&text.license)
                .bind(&text.website)
                .bind(&text.contact)
                .fetch_optional(&mut *tx)
                .await?;
                let number = number.ok_or_else(|| {
                    $crate::store::StoreError::not_found("package-not-found", "the package does not exist")
                })?;
                if let (Some(package_id), Some(revision)) = (&upload.package_id, upload.revision) {
                    return Err($crate::store::StoreError::conflict(
                        "upload-already-pushed",
                        format!(
                            "upload {} already became revision {revision}{}",
                            upload.id,
                            if package_id == &new.package_id { "" } else { " of another package" }
                        ),
                    ));
                }
                let revision = $crate::store::Revision {
                    revision: to_u32(number)?,
                    version: new.version,
                    sha3_384: upload.sha3_384,
                    sha256: upload.sha256,
                    sha384: upload.sha384,
                    size: upload.size as u64,
                    architectures: new.architectures,
                    bases: new.bases,
                    base: new.base,
                    confinement: new.confinement,
                    grade: new.grade,
                    kind: new.kind,
                    epoch: new.epoch,
                    metadata: new.metadata,
                    created_at: now,
                    created_by: new.created_by,
                };
                self.insert_revision(&mut tx, &new.package_id, &revision).await?;
                sqlx::query("UPDATE uploads SET package_id = $2, revision = $3 WHERE id = $1")
                    .bind(&upload.id)
                    .bind(&new.package_id)
                    .bind(number)
                    .execute(&mut *tx)
                    .await?;
                let seq = self
                    .append_change(
                        &mut tx,
                        "revision-pushed",
                        Some(&new.package_id),
                        Some(&revision.created_by),
                        serde_json::json!({"revision": number}),
                    )
                    .await?;
                tx.commit().await?;
                Ok((revision, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(package_id = %request.package_id))]
            async fn release(
                &self,
                request: $crate::store::ReleaseRequest,
            ) -> $crate::store::Result<(Vec<$crate::store::Released>, $crate::store::Seq)> {
                use $crate::store::sql::*;
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                self.lock_package(&mut tx, &request.package_id, now).await?;
                let tracks: Vec<String> = sqlx::query_scalar("SELECT name FROM tracks WHERE package_id = $1")
                    .bind(&request.package_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut released = Vec::with_capacity(request.items.len());
                for item in &request.items {
                    let channel = &item.channel;
                    if !tracks.iter().any(|t| t == &channel.track) {
                        return Err(StoreError::invalid(
                            "track-not-found",
                            format!(
                                "track {:?} does not exist for this package; create it first (existing: {})",
                                channel.track,
                                tracks.join(", ")
                            ),
                        ));
                    }
                    let branch = channel.branch.clone().unwrap_or_default();
                    let expires_at = channel
                        .branch
                        .as_ref()
                        .map(|_| now + chrono::Duration::seconds(request.branch_lifetime_secs));
                    let platforms: Vec<String> = match item.revision {
                        None => {
                            sqlx::query(
                                "DELETE FROM releases WHERE package_id = $1 AND track = $2 AND risk = $3 AND branch = $4",
                            )
                            .bind(&request.package_id)
                            .bind(&channel.track)
                            .bind(channel.risk.as_str())
                            .bind(&branch)
                            .execute(&mut *tx)
                            .await?;
                            Vec::new()
                        }
                        Some(number) => {
                            let row = sqlx::query_as::<_, RevisionRow>(sqlx::AssertSqlSafe(format!(
                                "SELECT {REVISION_COLUMNS} FROM revisions WHERE package_id = $1 AND revision = $2"
                            )))
                            .bind(&request.package_id)
                            .bind(i64::from(number))
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or_else(|| {
                                StoreError::invalid(
                                    "revision-not-found",
                                    format!("revision {number} does not exist for this package"),
                                )
                            })?;
                            let revision = row.into_revision()?;
                            let platforms = revision.platforms();
                            // What the channel holds now, per platform: a progressive release
                            // remembers the revision it replaces for the devices it skips.
                            let current: Vec<(String, i64, Option<f64>, Option<i64>)> = sqlx::query_as(
                                "SELECT platform, revision, progressive_percentage, previous_revision FROM releases \
                                 WHERE package_id = $1 AND track = $2 AND risk = $3 AND branch = $4",
                            )
                            .bind(&request.package_id)
                            .bind(&channel.track)
                            .bind(channel.risk.as_str())
                            .bind(&branch)
                            .fetch_all(&mut *tx)
                            .await?;
                            let previous_for = |platform: &str| -> Option<i64> {
                                item.progressive_percentage?;
                                let (_, revision, progressive, previous) = current
                                    .iter()
                                    .find(|c| c.0 == platform)
                                    .or_else(|| current.iter().find(|c| c.0 == "all"))?;
                                // Replacing a progressive release keeps what it replaced.
                                let kept = if progressive.is_some() { *previous } else { Some(*revision) };
                                kept.filter(|r| *r != i64::from(number))
                            };
                            // A revision for every platform (`all`) replaces the whole channel;
                            // otherwise it replaces the entries of its own platforms.
                            if platforms.iter().any(|p| p == "all") {
                                sqlx::query(
                                    "DELETE FROM releases WHERE package_id = $1 AND track = $2 AND risk = $3 AND branch = $4",
                                )
                                .bind(&request.package_id)
                                .bind(&channel.track)
                                .bind(channel.risk.as_str())
                                .bind(&branch)
                                .execute(&mut *tx)
                                .await?;
                            }
                            for platform in &platforms {
                                sqlx::query(sqlx::AssertSqlSafe(format!(
                                    "INSERT INTO releases ({RELEASE_COLUMNS}, released_by) \
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                                     ON CONFLICT (package_id, track, risk, branch, platform) DO UPDATE SET \
                                     revision = excluded.revision, released_at = excluded.released_at, \
                                     released_by = excluded.released_by, expires_at = excluded.expires_at, \
                                     progressive_percentage = excluded.progressive_percentage, \
                                     previous_revision = excluded.previous_revision"
                                )))
                                .bind(&request.package_id)
                                .bind(&channel.track)
                                .bind(channel.risk.as_str())
                                .bind(&branch)
                                .bind(platform)
                                .bind(i64::from(number))
                                .bind(now)
                                .bind(expires_at)
                                .bind(item.progressive_percentage)
                                .bind(previous_for(platform))
                                .bind(&request.released_by)
                                .execute(&mut *tx)
                                .await?;
                            }
                            platforms
                        }
                    };
                    // Resources released with the revision replace the channel's; closing
                    // the channel drops them.
                    if item.revision.is_none() || !item.resources.is_empty() {
                        sqlx::query(
                            "DELETE FROM release_resources WHERE package_id = $1 AND track = $2 AND risk = $3 AND branch = $4",
                        )
                        .bind(&request.package_id)
                        .bind(&channel.track)
                        .bind(channel.risk.as_str())
                        .bind(&branch)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if item.revision.is_some() {
                        for (name, revision) in &item.resources {
                            let exists: Option<i64> = sqlx::query_scalar(
                                "SELECT revision FROM resource_revisions WHERE package_id = $1 AND name = $2 AND revision = $3",
                            )
                            .bind(&request.package_id)
                            .bind(name)
                            .bind(i64::from(*revision))
                            .fetch_optional(&mut *tx)
                            .await?;
                            if exists.is_none() {
                                return Err(StoreError::invalid(
                                    "resource-revision-not-found",
                                    format!("resource {name:?} has no revision {revision}; upload it first"),
                                ));
                            }
                            sqlx::query(
                                "INSERT INTO release_resources (package_id, track, risk, branch, name, revision) \
                                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (package_id, track, risk, branch, name) \
                                 DO UPDATE SET revision = excluded.revision",
                            )
                            .bind(&request.package_id)
                            .bind(&channel.track)
                            .bind(channel.risk.as_str())
                            .bind(&branch)
                            .bind(name)
                            .bind(i64::from(*revision))
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    sqlx::query(
                        "INSERT INTO release_history (package_id, channel, revision, platforms, released_at, \
                         released_by, expires_at, progressive_percentage) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&request.package_id)
                    .bind(channel.full())
                    .bind(item.revision.map(i64::from))
                    .bind(serde_json::to_string(&platforms)?)
                    .bind(now)
                    .bind(&request.released_by)
                    .bind(expires_at.filter(|_| item.revision.is_some()))
                    .bind(item.progressive_percentage)
                    .execute(&mut *tx)
                    .await?;
                    released.push($crate::store::Released {
                        channel: channel.clone(),
                        revision: item.revision,
                        expires_at: expires_at.filter(|_| item.revision.is_some()),
                    });
                }
                let payload = serde_json::json!({
                    "releases": released.iter().map(|r| serde_json::json!({
                        "channel": r.channel.full(), "revision": r.revision,
                    })).collect::<Vec<_>>(),
                });
                let seq = self
                    .append_change(&mut tx, "released", Some(&request.package_id), Some(&request.released_by), payload)
                    .await?;
                tx.commit().await?;
                Ok((released, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(package_id = %new.package_id))]
            async fn push_resource_revision(
                &self,
                new: $crate::store::NewResourceRevision,
            ) -> $crate::store::Result<($crate::store::ResourceRevision, $crate::store::Seq)> {
                use $crate::store::sql::*;
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                self.lock_package(&mut tx, &new.package_id, now).await?;
                let upload = sqlx::query_as::<_, UploadRow>(
                    "SELECT id, sha3_384, sha256, sha384, size, created_at, created_by, package_id, revision \
                     FROM uploads WHERE id = $1",
                )
                .bind(&new.upload_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    StoreError::not_found(
                        "upload-not-found",
                        format!("no upload with id {:?}; upload the file first", new.upload_id),
                    )
                })?;
                let used: Option<String> =
                    sqlx::query_scalar("SELECT name FROM resource_revisions WHERE upload_id = $1")
                        .bind(&new.upload_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if upload.revision.is_some() || used.is_some() {
                    return Err(StoreError::conflict(
                        "upload-already-pushed",
                        format!("upload {} was already pushed", upload.id),
                    ));
                }
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(revision) FROM resource_revisions WHERE package_id = $1 AND name = $2",
                )
                .bind(&new.package_id)
                .bind(&new.name)
                .fetch_one(&mut *tx)
                .await?;
                let number = last.unwrap_or(0) + 1;
                let resource = $crate::store::ResourceRevision {
                    name: new.name.clone(),
                    revision: to_u32(number)?,
                    kind: new.kind.clone(),
                    upload_id: upload.id.clone(),
                    sha3_384: upload.sha3_384,
                    sha256: upload.sha256,
                    sha384: upload.sha384,
                    sha512: new.sha512.clone(),
                    size: u64::try_from(upload.size)
                        .map_err(|_| StoreError::Corrupt("negative size".into()))?,
                    created_at: now,
                    created_by: new.created_by.clone(),
                    bases: new.bases.clone(),
                    updated_at: None,
                    updated_by: None,
                };
                let bases = serde_json::to_string(&resource.bases)
                    .map_err(|e| StoreError::Corrupt(format!("resource bases: {e}")))?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO resource_revisions ({RESOURCE_REVISION_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, NULL)"
                )))
                .bind(&new.package_id)
                .bind(&resource.name)
                .bind(number)
                .bind(&resource.kind)
                .bind(&resource.upload_id)
                .bind(&resource.sha3_384)
                .bind(&resource.sha256)
                .bind(&resource.sha384)
                .bind(&resource.sha512)
                .bind(upload.size)
                .bind(now)
                .bind(&resource.created_by)
                .bind(&bases)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE uploads SET package_id = $2 WHERE id = $1")
                    .bind(&upload.id)
                    .bind(&new.package_id)
                    .execute(&mut *tx)
                    .await?;
                let seq = self
                    .append_change(
                        &mut tx,
                        "resource-pushed",
                        Some(&new.package_id),
                        Some(&new.created_by),
                        serde_json::json!({"resource": resource.name, "revision": number}),
                    )
                    .await?;
                tx.commit().await?;
                Ok((resource, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(package_id = %package_id))]
            async fn update_resource_bases(
                &self,
                package_id: &str,
                name: &str,
                updates: Vec<(u32, Vec<$crate::store::ResourceBase>)>,
                updated_by: &str,
            ) -> $crate::store::Result<(usize, $crate::store::Seq)> {
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                self.lock_package(&mut tx, package_id, now).await?;
                let mut revisions = Vec::with_capacity(updates.len());
                for (revision, bases) in &updates {
                    let bases = serde_json::to_string(bases)
                        .map_err(|e| StoreError::Corrupt(format!("resource bases: {e}")))?;
                    let updated = sqlx::query(
                        "UPDATE resource_revisions SET bases = $1, updated_at = $2, updated_by = $3 \
                         WHERE package_id = $4 AND name = $5 AND revision = $6",
                    )
                    .bind(&bases)
                    .bind(now)
                    .bind(updated_by)
                    .bind(package_id)
                    .bind(name)
                    .bind(i64::from(*revision))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated == 0 {
                        // Dropping the transaction undoes the updates before this one.
                        return Err(StoreError::invalid(
                            "resource-revision-not-found",
                            format!("resource {name:?} has no revision {revision}"),
                        ));
                    }
                    revisions.push(*revision);
                }
                let seq = self
                    .append_change(
                        &mut tx,
                        "resource-updated",
                        Some(package_id),
                        Some(updated_by),
                        serde_json::json!({"resource": name, "revisions": revisions}),
                    )
                    .await?;
                tx.commit().await?;
                Ok((revisions.len(), seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn create_tracks(
                &self,
                package_id: &str,
                tracks: Vec<$crate::store::NewTrack>,
            ) -> $crate::store::Result<(usize, $crate::store::Seq)> {
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                self.lock_package(&mut tx, package_id, now).await?;
                let mut created = 0;
                for track in &tracks {
                    let result = sqlx::query(
                        "INSERT INTO tracks (package_id, name, version_pattern, automatic_phasing_percentage, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (package_id, name) DO NOTHING",
                    )
                    .bind(package_id)
                    .bind(&track.name)
                    .bind(&track.version_pattern)
                    .bind(track.automatic_phasing_percentage)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    created += result.rows_affected() as usize;
                }
                let names: Vec<&str> = tracks.iter().map(|t| t.name.as_str()).collect();
                let seq = self
                    .append_change(&mut tx, "tracks-created", Some(package_id), None, serde_json::json!({"tracks": names}))
                    .await?;
                tx.commit().await?;
                Ok((created, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn create_library(
                &self,
                new: $crate::store::NewLibrary,
            ) -> $crate::store::Result<($crate::store::CharmLibrary, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                self.lock_package(&mut tx, &new.package_id, now).await?;
                // Charmhub's library ids are UUIDs written as 32 hex digits.
                let id = uuid::Uuid::new_v4().simple().to_string();
                let inserted = sqlx::query(
                    "INSERT INTO charm_libraries (id, package_id, name, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&id)
                .bind(&new.package_id)
                .bind(&new.name)
                .bind(now)
                .bind(&new.created_by)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if is_unique_violation(&e) => {
                        return Err($crate::store::StoreError::conflict(
                            "library-already-exists",
                            format!("the charm already has a library named {:?}", new.name),
                        ));
                    }
                    other => other?,
                };
                let seq = self
                    .append_change(
                        &mut tx,
                        "library-created",
                        Some(&new.package_id),
                        Some(&new.created_by),
                        serde_json::json!({"library-id": id, "name": new.name}),
                    )
                    .await?;
                tx.commit().await?;
                let library = $crate::store::CharmLibrary {
                    id,
                    name: new.name,
                    created_at: now,
                    created_by: new.created_by,
                    versions: Vec::new(),
                };
                Ok((library, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn publish_library_version(
                &self,
                new: $crate::store::NewLibraryVersion,
            ) -> $crate::store::Result<($crate::store::LibraryVersion, $crate::store::Seq)> {
                use $crate::store::sql::*;
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                // The package lock serialises publications: two clients racing to publish the
                // same next patch cannot both pass the check below.
                self.lock_package(&mut tx, &new.package_id, now).await?;
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT package_id FROM charm_libraries WHERE id = $1")
                        .bind(&new.library_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if owner.as_deref() != Some(new.package_id.as_str()) {
                    return Err(StoreError::not_found(
                        "library-not-found",
                        format!("the charm has no library with id {:?}", new.library_id),
                    ));
                }
                let newest: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(patch) FROM charm_library_versions WHERE library_id = $1 AND api = $2",
                )
                .bind(&new.library_id)
                .bind(i64::from(new.api))
                .fetch_one(&mut *tx)
                .await?;
                let newest = newest.map(to_u32).transpose()?;
                $crate::domain::library::check_next_version(new.api, new.patch, newest).map_err(|e| {
                    match e {
                        $crate::domain::library::LibraryError::ZeroVersion => {
                            StoreError::invalid(e.code(), e.to_string())
                        }
                        _ => StoreError::conflict(e.code(), e.to_string()),
                    }
                })?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO charm_library_versions ({LIBRARY_VERSION_COLUMNS}, package_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                )))
                .bind(&new.library_id)
                .bind(i64::from(new.api))
                .bind(i64::from(new.patch))
                .bind(&new.content)
                .bind(&new.hash)
                .bind(now)
                .bind(&new.created_by)
                .bind(&new.package_id)
                .execute(&mut *tx)
                .await?;
                let seq = self
                    .append_change(
                        &mut tx,
                        "library-published",
                        Some(&new.package_id),
                        Some(&new.created_by),
                        serde_json::json!({
                            "library-id": new.library_id, "api": new.api, "patch": new.patch,
                        }),
                    )
                    .await?;
                tx.commit().await?;
                let version = $crate::store::LibraryVersion {
                    api: new.api,
                    patch: new.patch,
                    content: new.content.into(),
                    hash: new.hash,
                    created_at: now,
                    created_by: new.created_by,
                };
                Ok((version, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn update_metadata(
                &self,
                package_id: &str,
                update: $crate::store::MetadataUpdate,
            ) -> $crate::store::Result<$crate::store::Seq> {
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                if let Some(track) = &update.default_track {
                    let exists: Option<String> = sqlx::query_scalar(
                        "SELECT name FROM tracks WHERE package_id = $1 AND name = $2",
                    )
                    .bind(package_id)
                    .bind(track)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if exists.is_none() {
                        return Err($crate::store::StoreError::invalid(
                            "track-not-found",
                            format!("track {track:?} does not exist for this package; create it first"),
                        ));
                    }
                }
                let categories = update.categories.as_ref().map(serde_json::to_string).transpose()?;
                let updated: Option<String> = sqlx::query_scalar(
                    "UPDATE packages SET updated_at = $2, title = COALESCE($3, title), \
                     summary = COALESCE($4, summary), description = COALESCE($5, description), \
                     license = COALESCE($6, license), website = COALESCE($7, website), \
                     contact = COALESCE($8, contact), categories = COALESCE($9, categories), \
                     default_track = COALESCE($10, default_track) WHERE id = $1 RETURNING id",
                )
                .bind(package_id)
                .bind(now)
                .bind(&update.title)
                .bind(&update.summary)
                .bind(&update.description)
                .bind(&update.license)
                .bind(&update.website)
                .bind(&update.contact)
                .bind(&categories)
                .bind(&update.default_track)
                .fetch_optional(&mut *tx)
                .await?;
                if updated.is_none() {
                    return Err($crate::store::StoreError::not_found(
                        "package-not-found",
                        "the package does not exist",
                    ));
                }
                let seq = self
                    .append_change(&mut tx, "metadata-updated", Some(package_id), None, serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok(seq)
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(packages = batch.len()))]
            async fn import_packages(
                &self,
                batch: Vec<$crate::store::ImportPackage>,
            ) -> $crate::store::Result<(Vec<bool>, $crate::store::Seq)> {
                use $crate::store::sql::*;
                let now = chrono::Utc::now();
                let mut tx = self.write.begin().await?;
                let mut imported = Vec::with_capacity(batch.len());
                let mut last = None;
                for new in batch {
                    let id = new_id();
                    let categories = serde_json::to_string(&new.categories)?;
                    let text = &new.text;
                    // A taken name is skipped: a re-run of an import resumes.
                    let inserted: Option<String> = sqlx::query_scalar(
                        "INSERT INTO packages (id, namespace, name, publisher_id, private, title, summary, \
                         description, license, website, contact, categories, last_revision, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13) \
                         ON CONFLICT (namespace, name) DO NOTHING RETURNING id",
                    )
                    .bind(&id)
                    .bind(new.namespace.as_str())
                    .bind(&new.name)
                    .bind(&new.publisher_id)
                    .bind(false)
                    .bind(text.title.as_deref().unwrap_or(""))
                    .bind(&text.summary)
                    .bind(&text.description)
                    .bind(text.license.as_deref().unwrap_or(""))
                    .bind(text.website.as_deref().unwrap_or(""))
                    .bind(text.contact.as_deref().unwrap_or(""))
                    .bind(&categories)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if inserted.is_none() {
                        imported.push(false);
                        continue;
                    }
                    sqlx::query("INSERT INTO tracks (package_id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(&id)
                        .bind($crate::domain::DEFAULT_TRACK)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let upload = &new.upload;
                    sqlx::query(
                        "INSERT INTO uploads (id, sha3_384, sha256, sha384, size, created_at, created_by, \
                         package_id, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
                    )
                    .bind(&upload.id)
                    .bind(&upload.sha3_384)
                    .bind(&upload.sha256)
                    .bind(&upload.sha384)
                    .bind(upload.size as i64)
                    .bind(now)
                    .bind(&upload.created_by)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    let revision = $crate::store::Revision {
                        revision: 1,
                        version: new.version,
                        sha3_384: upload.sha3_384.clone(),
                        sha256: upload.sha256.clone(),
                        sha384: upload.sha384.clone(),
                        size: upload.size,
                        architectures: new.architectures,
                        bases: Vec::new(),
                        base: new.base,
                        confinement: new.confinement,
                        grade: new.grade,
                        kind: new.kind,
                        epoch: $crate::domain::Epoch::default(),
                        metadata: new.metadata,
                        created_at: now,
                        created_by: new.publisher_id.clone(),
                    };
                    self.insert_revision(&mut tx, &id, &revision).await?;
                    let channel = &new.channel;
                    let branch = channel.branch.clone().unwrap_or_default();
                    let expires_at = channel.branch.as_ref().map(|_| {
                        now + chrono::Duration::seconds($crate::domain::BRANCH_LIFETIME_SECS)
                    });
                    let platforms = revision.platforms();
                    for platform in &platforms {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "INSERT INTO releases ({RELEASE_COLUMNS}, released_by) \
                             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, NULL, NULL, $8)"
                        )))
                        .bind(&id)
                        .bind(&channel.track)
                        .bind(channel.risk.as_str())
                        .bind(&branch)
                        .bind(platform)
                        .bind(now)
                        .bind(expires_at)
                        .bind(&new.publisher_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO release_history (package_id, channel, revision, platforms, released_at, \
                         released_by, expires_at, progressive_percentage) VALUES ($1, $2, 1, $3, $4, $5, $6, NULL)",
                    )
                    .bind(&id)
                    .bind(channel.full())
                    .bind(serde_json::to_string(&platforms)?)
                    .bind(now)
                    .bind(&new.publisher_id)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await?;
                    let seq = self
                        .insert_change(
                            &mut tx,
                            "package-imported",
                            Some(&id),
                            Some(&new.publisher_id),
                            serde_json::json!({"revision": 1, "channel": channel.full()}),
                        )
                        .await?;
                    last = Some(seq);
                    imported.push(true);
                }
                let seq = match last {
                    Some(seq) => {
                        self.notify(&mut tx, seq).await?;
                        seq
                    }
                    None => sqlx::query_scalar("SELECT seq FROM change_counter WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?,
                };
                tx.commit().await?;
                Ok((imported, seq))
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(rows = counts.len()))]
            async fn add_downloads(
                &self,
                counts: &[$crate::store::DownloadCount],
            ) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                for c in counts {
                    let count = i64::try_from(c.count).unwrap_or(i64::MAX);
                    sqlx::query(
                        "INSERT INTO download_counts (package_id, channel, day, count) \
                         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM packages WHERE id = $1) \
                         ON CONFLICT (package_id, channel, day) \
                         DO UPDATE SET count = download_counts.count + excluded.count",
                    )
                    .bind(&c.package_id)
                    .bind(&c.channel)
                    .bind(&c.day)
                    .bind(count)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, err(level = "debug"), fields(pairs = pairs.len()))]
            async fn add_co_installs(
                &self,
                installs: &[(String, u64)],
                pairs: &[(String, String, u64)],
            ) -> $crate::store::Result<()> {
                let mut tx = self.write.begin().await?;
                for (id, n) in installs {
                    sqlx::query(
                        "INSERT INTO install_counts (package_id, count) \
                         SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM packages WHERE id = $1) \
                         ON CONFLICT (package_id) DO UPDATE SET count = install_counts.count + excluded.count",
                    )
                    .bind(id)
                    .bind(i64::try_from(*n).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                }
                for (a, b, n) in pairs {
                    let (a, b) = if a < b { (a, b) } else { (b, a) };
                    sqlx::query(
                        "INSERT INTO co_installs (a, b, count) \
                         SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM packages WHERE id = $1) \
                         AND EXISTS (SELECT 1 FROM packages WHERE id = $2) \
                         ON CONFLICT (a, b) DO UPDATE SET count = co_installs.count + excluded.count",
                    )
                    .bind(a)
                    .bind(b)
                    .bind(i64::try_from(*n).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn co_installs(
                &self,
                min_pair_count: u64,
            ) -> $crate::store::Result<$crate::store::CoInstalls> {
                let installs: Vec<(String, i64)> =
                    sqlx::query_as("SELECT package_id, count FROM install_counts")
                        .fetch_all(&self.read)
                        .await?;
                let pairs: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT a, b, count FROM co_installs WHERE count >= $1")
                        .bind(i64::try_from(min_pair_count).unwrap_or(i64::MAX))
                        .fetch_all(&self.read)
                        .await?;
                let n = |v: i64| u64::try_from(v).unwrap_or(0);
                Ok($crate::store::CoInstalls {
                    installs: installs.into_iter().map(|(id, c)| (id, n(c))).collect(),
                    pairs: pairs.into_iter().map(|(a, b, c)| (a, b, n(c))).collect(),
                })
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn download_totals(
                &self,
                since: &str,
            ) -> $crate::store::Result<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT package_id, CAST(SUM(count) AS BIGINT) FROM download_counts \
                     WHERE day >= $1 GROUP BY package_id",
                )
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
                    .collect())
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn package_downloads(
                &self,
                package_id: &str,
                since: &str,
            ) -> $crate::store::Result<Vec<$crate::store::DownloadCount>> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT channel, day, count FROM download_counts \
                     WHERE package_id = $1 AND day >= $2 ORDER BY day, channel",
                )
                .bind(package_id)
                .bind(since)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(channel, day, n)| $crate::store::DownloadCount {
                        package_id: package_id.to_string(),
                        channel,
                        day,
                        count: u64::try_from(n).unwrap_or(0),
                    })
                    .collect())
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn release_history(
                &self,
                package_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::HistoryEntry>> {
                use $crate::store::sql::*;
                let rows = sqlx::query_as::<_, HistoryRow>(
                    "SELECT channel, revision, platforms, released_at, released_by, expires_at \
                     FROM release_history WHERE package_id = $1 ORDER BY id",
                )
                .bind(package_id)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(HistoryRow::into_entry).collect()
            }

            async fn head_seq(&self) -> $crate::store::Result<$crate::store::Seq> {
                Ok(sqlx::query_scalar("SELECT seq FROM change_counter WHERE id = 1")
                    .fetch_one(&self.read)
                    .await?)
            }

            async fn changes_since(
                &self,
                after: $crate::store::Seq,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::Change>> {
                use $crate::store::sql::*;
                let rows = sqlx::query_as::<_, ChangeRow>(
                    "SELECT seq, kind, package_id, created_at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::Change {
                        seq: r.seq,
                        kind: r.kind,
                        package_id: r.package_id,
                        created_at: r.created_at,
                    })
                    .collect())
            }

            async fn load_packages(
                &self,
                ids: &[String],
            ) -> $crate::store::Result<Vec<$crate::store::PackageState>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    out.extend(self.load_where(Some(chunk)).await?);
                }
                Ok(out)
            }

            async fn load_all(&self) -> $crate::store::Result<Vec<$crate::store::PackageState>> {
                self.load_where(None).await
            }

            #[tracing::instrument(skip_all, err(level = "debug"))]
            async fn package_id(
                &self,
                namespace: $crate::domain::Namespace,
                name: &str,
            ) -> $crate::store::Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM packages WHERE namespace = $1 AND name = $2")
                    .bind(namespace.as_str())
                    .bind(name)
                    .fetch_optional(&self.read)
                    .await?)
            }

            async fn wait_for_notification(&self) {
                self.wait_notification().await
            }
        }
    };
}

pub(crate) use impl_sql_store;
