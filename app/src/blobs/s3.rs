//! Blobs in an S3-compatible bucket, with the filesystem backend's layout:
//! `sha3-384/ab/abcdef…`, staged as `tmp/<uuid>` (both under an optional key prefix).
//!
//! An artifact that fits in one part (8 MiB) is hashed in memory and written to its final key
//! with one `PutObject`, which S3 applies atomically. A larger one streams into a multipart
//! upload on a temporary key, parts uploaded while the next is read (at most two in flight, so
//! memory stays bounded whatever the artifact's size); once the digests are known it is copied
//! to its content-addressed key and the temporary object deleted. An upload that fails, is
//! refused for its size or is cancelled is aborted, so nothing half-written is ever visible
//! under `sha3-384/`. Temporary objects a crash left between completing the upload and the
//! copy are swept when the store opens (those older than an hour: other processes sharing the
//! bucket may be mid-copy). Incomplete multipart uploads a crash left are invisible and are
//! reclaimed by the bucket's lifecycle rule (see docs/how-to/configure-s3.md).
//!
//! Requests use path-style addressing (`https://endpoint/bucket/key`), which every
//! S3-compatible server supports (SeaweedFS, MinIO, Ceph RGW, Garage) and AWS still serves.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{BlobError, BlobInfo, BlobRead, BlobStore, Hashes, LocalBlob, validate_name};

/// Size of a multipart upload's parts, and the largest artifact written in one request.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// The largest blob: S3 copies at most 5 GiB in one `CopyObject`.
pub const MAX_BLOB_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Parts uploading while the next one is read.
const PARTS_IN_FLIGHT: usize = 2;
/// Temporary objects older than this are a crash's leftovers.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Where the bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Settings {
    /// `https://host[:port]`; `None` for AWS S3 in `region`.
    pub endpoint: Option<String>,
    pub bucket: String,
    /// Signing region; `us-east-1` when `None` (what most S3-compatible servers accept).
    pub region: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    /// Key prefix inside the bucket, without slashes at either end; empty for the bucket root.
    pub prefix: String,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl S3Settings {
    /// `endpoint/bucket`, for messages.
    pub fn describe(&self) -> String {
        let endpoint = self.endpoint.clone().unwrap_or_else(|| {
            format!(
                "https://s3.{}.amazonaws.com",
                self.region.as_deref().unwrap_or("us-east-1")
            )
        });
        format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket)
    }
}

pub struct S3BlobStore {
    store: Arc<AmazonS3>,
    prefix: String,
    describe: String,
    part_size: usize,
    /// Where `local()` downloads blobs to.
    scratch: PathBuf,
}

fn storage_error(err: object_store::Error) -> BlobError {
    BlobError::Io(std::io::Error::from(err))
}

impl S3BlobStore {
    /// A client for the bucket; makes no request. `scratch` is a local directory for the copies
    /// `local()` hands out.
    pub fn new(
        settings: &S3Settings,
        scratch: impl Into<PathBuf>,
    ) -> Result<S3BlobStore, BlobError> {
        let region = settings
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".into());
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(region)
            .with_access_key_id(&settings.access_key)
            .with_secret_access_key(&settings.secret_key)
            .with_virtual_hosted_style_request(false)
            .with_client_options(
                ClientOptions::new()
                    // Downloads stream at the client's pace: no limit on a whole request, only
                    // on connecting and on silence.
                    .with_timeout_disabled()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_read_timeout(Duration::from_secs(60)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 4,
                retry_timeout: Duration::from_secs(30),
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| {
            BlobError::Io(std::io::Error::other(format!(
                "invalid S3 settings for {}: {e}",
                settings.describe()
            )))
        })?;
        let scratch = scratch.into();
        std::fs::create_dir_all(&scratch)?;
        Ok(S3BlobStore {
            store: Arc::new(store),
            prefix: settings.prefix.trim_matches('/').to_string(),
            describe: settings.describe(),
            part_size: PART_SIZE,
            scratch,
        })
    }

    /// [`S3BlobStore::new`], then checks the bucket answers and sweeps stale temporary objects.
    pub async fn open(
        settings: &S3Settings,
        scratch: impl Into<PathBuf>,
    ) -> Result<S3BlobStore, BlobError> {
        let store = S3BlobStore::new(settings, scratch)?;
        // Copies a crash left behind while handing a blob out locally.
        for entry in std::fs::read_dir(&store.scratch)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with("blob-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        store.check_bucket().await?;
        match store.sweep(STALE_AFTER).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed stale temporary blob uploads"),
            Err(err) => tracing::warn!(%err, "cannot sweep stale temporary blob uploads"),
        }
        Ok(store)
    }

    /// Uses parts of `part_size` bytes (at least 5 MiB); tests use the smallest.
    pub fn with_part_size(mut self, part_size: usize) -> S3BlobStore {
        self.part_size = part_size.max(MIN_PART_SIZE);
        self
    }

    /// Lists the staging area: proves the endpoint answers, the keys sign and the bucket
    /// exists and may be listed. The error says which setting to look at.
    pub async fn check_bucket(&self) -> Result<(), BlobError> {
        match self.store.list_with_delimiter(Some(&self.tmp_dir())).await {
            Ok(_) => Ok(()),
            Err(err) => {
                // A listing of a missing bucket comes back as a 404 `NoSuchBucket` that the
                // client reports as a generic error.
                let no_bucket = matches!(err, object_store::Error::NotFound { .. })
                    || err.to_string().contains("NoSuchBucket");
                let hint = if no_bucket {
                    "the bucket does not exist: create it (depot does not) or fix s3_bucket"
                } else {
                    "check s3_endpoint (reachable from here?), s3_region, s3_access_key and \
                     s3_secret_key, and that the key may list the bucket"
                };
                Err(BlobError::Io(std::io::Error::other(format!(
                    "S3 bucket {} is not usable: {hint}; the error was: {err}",
                    self.describe
                ))))
            }
        }
    }

    /// Deletes temporary objects last modified more than `older_than` ago; returns how many.
    pub async fn sweep(&self, older_than: Duration) -> Result<usize, BlobError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let stale: Vec<Key> = self
            .store
            .list(Some(&self.tmp_dir()))
            .try_filter_map(|meta| async move {
                Ok((meta.last_modified <= cutoff).then_some(meta.location))
            })
            .try_collect()
            .await
            .map_err(storage_error)?;
        for key in &stale {
            match self.store.delete(key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(storage_error(err)),
            }
        }
        Ok(stale.len())
    }

    /// Every key under the prefix (relative to it), sorted: what the store holds.
    pub async fn keys(&self) -> Result<Vec<String>, BlobError> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let mut keys: Vec<String> = self
            .store
            .list(prefix.as_ref())
            .map_ok(|meta| {
                let key = meta.location.to_string();
                match key.strip_prefix(&format!("{}/", self.prefix)) {
                    Some(rest) if !self.prefix.is_empty() => rest.to_string(),
                    _ => key,
                }
            })
            .try_collect()
            .await
            .map_err(storage_error)?;
        keys.sort();
        Ok(keys)
    }

    /// Writes an object under the prefix as is; tests use it to plant leftovers.
    pub async fn put_raw(&self, relative: &str, data: Vec<u8>) -> Result<(), BlobError> {
        self.store
            .put(&self.under_prefix(relative), PutPayload::from(data))
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    fn under_prefix(&self, relative: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.prefix))
        }
    }

    fn key_of(&self, sha3_384: &str) -> Key {
        self.under_prefix(&format!("sha3-384/{}/{sha3_384}", &sha3_384[..2]))
    }

    fn tmp_dir(&self) -> Key {
        self.under_prefix("tmp")
    }

    async fn head_size(&self, key: &Key) -> Result<Option<u64>, BlobError> {
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(storage_error(err)),
        }
    }

    /// Streams `reader` into memory (first part) or the multipart upload in `staged`.
    async fn stream_in(
        &self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        limit: u64,
        staged: &mut Staged,
        hashes: &mut Hashes,
    ) -> Result<(Vec<u8>, u64), BlobError> {
        let mut first = Vec::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok((first, size));
            }
            size += n as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hashes.update(&buf[..n]);
            match &mut staged.writer {
                Some(writer) => {
                    writer.write(&buf[..n]);
                    writer
                        .wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map_err(storage_error)?;
                }
                None => {
                    first.extend_from_slice(&buf[..n]);
                    if first.len() >= self.part_size {
                        let key = self.under_prefix(&format!("tmp/{}", uuid::Uuid::new_v4()));
                        let upload = self
                            .store
                            .put_multipart(&key)
                            .await
                            .map_err(storage_error)?;
                        let mut writer =
                            WriteMultipart::new_with_chunk_size(upload, self.part_size);
                        writer.put(Bytes::from(std::mem::take(&mut first)));
                        staged.key = Some(key);
                        staged.writer = Some(writer);
                    }
                }
            }
        }
    }
}

/// A multipart upload in progress and its temporary key. Dropped without being disarmed (a
/// cancelled request), it aborts the upload and deletes the temporary object in the background.
struct Staged {
    store: Arc<AmazonS3>,
    writer: Option<WriteMultipart>,
    key: Option<Key>,
}

impl Staged {
    /// Aborts the upload and deletes the temporary object now.
    async fn discard(&mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(err) = writer.abort().await
        {
            tracing::warn!(%err, "cannot abort a multipart blob upload");
        }
        if let Some(key) = self.key.take() {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => tracing::warn!(%err, %key, "cannot delete a temporary blob"),
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.writer.is_none() && self.key.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut rest = Staged {
            store: self.store.clone(),
            writer: self.writer.take(),
            key: self.key.take(),
        };
        runtime.spawn(async move { rest.discard().await });
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    #[tracing::instrument(name = "blobs.put", skip_all, err(level = "debug"))]
    async fn put(
        &self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        limit: u64,
    ) -> Result<BlobInfo, BlobError> {
        let limit = limit.min(MAX_BLOB_SIZE);
        let mut staged = Staged {
            store: self.store.clone(),
            writer: None,
            key: None,
        };
        let mut hashes = Hashes::new();
        let (first, size) = match self
            .stream_in(reader, limit, &mut staged, &mut hashes)
            .await
        {
            Ok(read) => read,
            Err(err) => {
                staged.discard().await;
                return Err(err);
            }
        };
        let info = hashes.finish(size);
        let dest = self.key_of(&info.sha3_384);
        let Some(writer) = staged.writer.take() else {
            // Small enough for one request: straight to its final key.
            if self.head_size(&dest).await?.is_none() {
                self.store
                    .put(&dest, PutPayload::from(first))
                    .await
                    .map_err(storage_error)?;
            }
            return Ok(info);
        };
        // `finish` aborts the upload itself when completing fails; `staged` still owns the key.
        writer.finish().await.map_err(storage_error)?;
        let tmp = staged.key.clone().expect("a multipart upload has a key");
        let result = async {
            if self.head_size(&dest).await?.is_none() {
                self.store.copy(&tmp, &dest).await.map_err(storage_error)?;
            }
            Ok(info)
        }
        .await;
        staged.discard().await;
        result
    }

    #[tracing::instrument(name = "blobs.get", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn get(
        &self,
        sha3_384: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<BlobRead, BlobError> {
        validate_name(sha3_384)?;
        let key = self.key_of(sha3_384);
        let size = self
            .head_size(&key)
            .await?
            .ok_or_else(|| BlobError::NotFound(sha3_384.to_string()))?;
        if start > size || (start == size && size > 0) {
            return Err(BlobError::RangeNotSatisfiable { start, size });
        }
        let take = len.map_or(size - start, |l| l.min(size - start));
        if take == 0 {
            return Ok(BlobRead {
                size,
                reader: Box::pin(tokio::io::empty()),
            });
        }
        let options = GetOptions::new().with_range(Some(start..start + take));
        let result = match self.store.get_opts(&key, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(sha3_384.to_string()));
            }
            Err(err) => return Err(storage_error(err)),
        };
        let stream = result.into_stream().map_err(std::io::Error::from);
        Ok(BlobRead {
            size,
            reader: Box::pin(tokio_util::io::StreamReader::new(stream)),
        })
    }

    #[tracing::instrument(name = "blobs.size", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn size(&self, sha3_384: &str) -> Result<Option<u64>, BlobError> {
        validate_name(sha3_384)?;
        self.head_size(&self.key_of(sha3_384)).await
    }

    #[tracing::instrument(name = "blobs.local", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn local(&self, sha3_384: &str) -> Result<LocalBlob, BlobError> {
        let mut read = self.get(sha3_384, 0, None).await?;
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.scratch)?;
        let (file, path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let copied = tokio::io::copy(&mut read.reader, &mut file).await?;
        file.flush().await?;
        if copied != read.size {
            return Err(BlobError::Io(std::io::Error::other(format!(
                "blob {sha3_384} ended after {copied} of {} bytes",
                read.size
            ))));
        }
        Ok(LocalBlob {
            path: path.to_path_buf(),
            _temp: Some(path),
        })
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.check_bucket().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            bucket: "b".into(),
            region: None,
            access_key: "AKIA".into(),
            secret_key: "very-secret".into(),
            prefix: String::new(),
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("***"));
        assert_eq!(settings.describe(), "http://127.0.0.1:9000/b");
    }

    #[test]
    fn keys_follow_the_filesystem_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            bucket: "b".into(),
            region: None,
            access_key: "a".into(),
            secret_key: "s".into(),
            prefix: String::new(),
        };
        let name = format!("ab{}", "0".repeat(94));
        let store = S3BlobStore::new(&settings, dir.path()).unwrap();
        assert_eq!(
            store.key_of(&name).to_string(),
            format!("sha3-384/ab/{name}")
        );
        settings.prefix = "/depot/".into();
        let store = S3BlobStore::new(&settings, dir.path()).unwrap();
        assert_eq!(
            store.key_of(&name).to_string(),
            format!("depot/sha3-384/ab/{name}")
        );
        assert_eq!(store.tmp_dir().to_string(), "depot/tmp");
    }
}
