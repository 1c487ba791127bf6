//! Content-addressed blob storage. Blobs are named by their SHA3-384 (what snapd verifies) and
//! also hashed with SHA-256 (what Juju verifies). Writes stream to a temporary object while
//! hashing and counting, are capped in size, made durable, then moved into place atomically: a
//! crash mid-upload leaves nothing visible.

mod fs;
pub mod s3;

use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use sha2::{Sha256, Sha384};
use sha3::{Digest, Sha3_384};
use tokio::io::AsyncRead;

pub use fs::FsBlobStore;
pub use s3::{S3BlobStore, S3Settings};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Lowercase hex SHA3-384.
    pub sha3_384: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Lowercase hex SHA-384 (SHA-2).
    pub sha384: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the artifact is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("blob {0} does not exist")]
    NotFound(String),
    #[error("invalid blob name {0:?}")]
    InvalidName(String),
    #[error("range start {start} is beyond the end of a {size}-byte blob")]
    RangeNotSatisfiable { start: u64, size: u64 },
    #[error("blob storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A reader over (part of) a blob.
pub struct BlobRead {
    /// The size of the whole blob.
    pub size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// A blob available as a local file for as long as this value lives.
pub struct LocalBlob {
    pub path: PathBuf,
    /// Keeps a temporary copy alive (backends that are not local files).
    pub _temp: Option<tempfile::TempPath>,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Streams `reader` into the store, refusing more than `limit` bytes.
    async fn put(
        &self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        limit: u64,
    ) -> Result<BlobInfo, BlobError>;
    /// Opens a blob from byte `start`, reading `len` bytes (or to the end).
    async fn get(
        &self,
        sha3_384: &str,
        start: u64,
        len: Option<u64>,
    ) -> Result<BlobRead, BlobError>;
    /// The size of a blob, or `None` when it does not exist.
    async fn size(&self, sha3_384: &str) -> Result<Option<u64>, BlobError>;
    /// The blob as a local file, for inspection.
    async fn local(&self, sha3_384: &str) -> Result<LocalBlob, BlobError>;
    /// Whether blobs can be stored and read now (`/readyz`): the error says what to fix.
    async fn check(&self) -> Result<(), BlobError>;
}

/// Checks that a name is 96 lowercase hex characters, so it can never escape the store.
pub fn validate_name(sha3_384: &str) -> Result<(), BlobError> {
    if sha3_384.len() == 96
        && sha3_384
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(BlobError::InvalidName(sha3_384.to_string()))
    }
}

/// The three digests of a blob, computed as it streams.
pub(crate) struct Hashes {
    sha3_384: Sha3_384,
    sha256: Sha256,
    sha384: Sha384,
}

impl Hashes {
    pub(crate) fn new() -> Hashes {
        Hashes {
            sha3_384: Sha3_384::new(),
            sha256: Sha256::new(),
            sha384: Sha384::new(),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.sha3_384.update(data);
        self.sha256.update(data);
        self.sha384.update(data);
    }

    pub(crate) fn finish(self, size: u64) -> BlobInfo {
        BlobInfo {
            sha3_384: hex::encode(self.sha3_384.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha384: hex::encode(self.sha384.finalize()),
            size,
        }
    }
}
