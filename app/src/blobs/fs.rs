//! Blobs on the local filesystem: `ROOT/sha3-384/ab/abcdef…`, staged in `ROOT/tmp/`.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Sha256, Sha384};
use sha3::{Digest, Sha3_384};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobError, BlobInfo, BlobRead, BlobStore, LocalBlob, validate_name};

pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens the store under `root`, creating it and removing temporary files a crash left.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<FsBlobStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join("sha3-384"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            for entry in std::fs::read_dir(&tmp)? {
                let entry = entry?;
                if let Err(err) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(path = %entry.path().display(), %err, "cannot remove stale upload");
                }
            }
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(FsBlobStore { root })
    }

    fn path_of(&self, sha3_384: &str) -> PathBuf {
        self.root
            .join("sha3-384")
            .join(&sha3_384[..2])
            .join(sha3_384)
    }
}

/// Removes the temporary file unless disarmed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    #[tracing::instrument(name = "blobs.put", skip_all, err(level = "debug"))]
    async fn put(
        &self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        limit: u64,
    ) -> Result<BlobInfo, BlobError> {
        let tmp_path = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let mut guard = TempGuard(Some(tmp_path.clone()));
        let mut file = tokio::fs::File::create(&tmp_path).await?;
        let mut sha3 = Sha3_384::new();
        let mut sha256 = Sha256::new();
        let mut sha384 = Sha384::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            sha3.update(&buf[..n]);
            sha256.update(&buf[..n]);
            sha384.update(&buf[..n]);
            file.write_all(&buf[..n]).await?;
        }
        file.sync_all().await?;
        drop(file);
        let info = BlobInfo {
            sha3_384: hex::encode(sha3.finalize()),
            sha256: hex::encode(sha256.finalize()),
            sha384: hex::encode(sha384.finalize()),
            size,
        };
        let dest = self.path_of(&info.sha3_384);
        let dir = dest.parent().expect("blob path has a parent");
        tokio::fs::create_dir_all(dir).await?;
        if tokio::fs::try_exists(&dest).await? {
            // Same content already stored; the guard removes our copy.
            return Ok(info);
        }
        tokio::fs::rename(&tmp_path, &dest).await?;
        guard.0 = None;
        sync_dir(dir).await?;
        Ok(info)
    }

    #[tracing::instrument(name = "blobs.get", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn get(
        &self,
        sha3_384: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<BlobRead, BlobError> {
        validate_name(sha3_384)?;
        let mut file = match tokio::fs::File::open(self.path_of(sha3_384)).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(sha3_384.to_string()));
            }
            Err(err) => return Err(err.into()),
        };
        let size = file.metadata().await?.len();
        if start > size || (start == size && size > 0) {
            return Err(BlobError::RangeNotSatisfiable { start, size });
        }
        file.seek(SeekFrom::Start(start)).await?;
        let remaining = size - start;
        let take = len.map_or(remaining, |l| l.min(remaining));
        Ok(BlobRead {
            size,
            reader: Box::pin(file.take(take)),
        })
    }

    #[tracing::instrument(name = "blobs.size", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn size(&self, sha3_384: &str) -> Result<Option<u64>, BlobError> {
        validate_name(sha3_384)?;
        match tokio::fs::metadata(self.path_of(sha3_384)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    #[tracing::instrument(name = "blobs.local", skip_all, err(level = "debug"), fields(sha3_384 = %sha3_384))]
    async fn local(&self, sha3_384: &str) -> Result<LocalBlob, BlobError> {
        validate_name(sha3_384)?;
        let path = self.path_of(sha3_384);
        if !tokio::fs::try_exists(&path).await? {
            return Err(BlobError::NotFound(sha3_384.to_string()));
        }
        Ok(LocalBlob { path, _temp: None })
    }

    /// Writes and removes an empty file where uploads are staged, and looks at the blob
    /// directory: a missing directory, a full or read-only filesystem fail it (as root too,
    /// which permission bits alone would not tell).
    async fn check(&self) -> Result<(), BlobError> {
        let probe = self
            .root
            .join("tmp")
            .join(format!("readyz-{}", uuid::Uuid::new_v4()));
        let checked: std::io::Result<()> = async {
            let blobs = self.root.join("sha3-384");
            if !tokio::fs::metadata(&blobs).await?.is_dir() {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    blobs.display()
                )));
            }
            // Removed even when the check is abandoned midway (its caller's timeout).
            let mut written = TempGuard(Some(probe.clone()));
            tokio::fs::write(&probe, b"").await?;
            tokio::fs::remove_file(&probe).await?;
            written.0 = None;
            Ok(())
        }
        .await;
        checked.map_err(|err| {
            BlobError::Io(std::io::Error::new(
                err.kind(),
                format!(
                    "the blob directory {} is not usable ({err}): check that it exists, is \
                     writable by depot and its filesystem has space",
                    self.root.display()
                ),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_hashes_and_dedups() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let data = b"hello depot".to_vec();
        let info = store.put(&mut data.as_slice(), 1024).await.unwrap();
        assert_eq!(info.size, data.len() as u64);
        assert_eq!(info.sha3_384, hex::encode(Sha3_384::digest(&data)));
        assert_eq!(info.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(info.sha384, hex::encode(Sha384::digest(&data)));
        let again = store.put(&mut data.as_slice(), 1024).await.unwrap();
        assert_eq!(info, again);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );

        let mut read = store.get(&info.sha3_384, 6, None).await.unwrap();
        let mut out = Vec::new();
        read.reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"depot");
        assert_eq!(read.size, data.len() as u64);
        let mut read = store.get(&info.sha3_384, 0, Some(5)).await.unwrap();
        let mut out = Vec::new();
        read.reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"hello");
    }

    #[tokio::test]
    async fn oversize_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let data = vec![7u8; 4096];
        let err = store.put(&mut data.as_slice(), 100).await.unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { limit: 100 }));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("sha3-384"))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        assert!(matches!(
            store.get("../../etc/passwd", 0, None).await,
            Err(BlobError::InvalidName(_))
        ));
        let missing = "a".repeat(96);
        assert!(matches!(
            store.get(&missing, 0, None).await,
            Err(BlobError::NotFound(_))
        ));
        assert_eq!(store.size(&missing).await.unwrap(), None);
    }

    #[test]
    fn stale_temporaries_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("tmp/partial"), b"half an upload").unwrap();
        FsBlobStore::open(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
