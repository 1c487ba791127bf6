//! The blob-store behaviour, one suite run against the filesystem backend and the S3 backend
//! (a real S3-compatible server: SeaweedFS, see tests/common/s3.rs), and the publishing flow
//! over S3 through the HTTP API on both databases.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use common::app::{Backend, Options, TestApp, error_code};
use common::fixtures;
use depot::blobs::{BlobError, BlobStore, FsBlobStore, S3BlobStore};
use serde_json::json;
use sha2::{Sha256, Sha384};
use sha3::{Digest, Sha3_384};
use tokio::io::{AsyncRead, AsyncReadExt};

const MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Fs,
    S3,
}

/// A store and a way to see everything it holds.
enum Fixture {
    Fs {
        dir: tempfile::TempDir,
        store: Arc<FsBlobStore>,
    },
    S3 {
        _scratch: tempfile::TempDir,
        store: Arc<S3BlobStore>,
    },
}

impl Fixture {
    async fn new(kind: Kind) -> Fixture {
        match kind {
            Kind::Fs => {
                let dir = tempfile::tempdir().unwrap();
                let store = Arc::new(FsBlobStore::open(dir.path()).unwrap());
                Fixture::Fs { dir, store }
            }
            Kind::S3 => {
                let scratch = tempfile::tempdir().unwrap();
                let store = Arc::new(common::s3::store(scratch.path()).await);
                Fixture::S3 {
                    _scratch: scratch,
                    store,
                }
            }
        }
    }

    fn store(&self) -> Arc<dyn BlobStore> {
        match self {
            Fixture::Fs { store, .. } => store.clone(),
            Fixture::S3 { store, .. } => store.clone(),
        }
    }

    /// Every stored file or object, relative to the store's root, sorted.
    async fn stored(&self) -> Vec<String> {
        match self {
            Fixture::Fs { dir, .. } => {
                let mut out = Vec::new();
                walk(dir.path(), dir.path(), &mut out);
                out.sort();
                out
            }
            Fixture::S3 { store, .. } => store.keys().await.unwrap(),
        }
    }

    /// Leaves a temporary upload behind, as a crash would.
    async fn plant_leftover(&self) {
        match self {
            Fixture::Fs { dir, .. } => {
                std::fs::write(dir.path().join("tmp/leftover"), b"half").unwrap()
            }
            Fixture::S3 { store, .. } => store
                .put_raw("tmp/leftover", b"half".to_vec())
                .await
                .unwrap(),
        }
    }

    /// What a restart does about leftovers.
    async fn sweep(&self) {
        match self {
            Fixture::Fs { dir, .. } => {
                FsBlobStore::open(dir.path()).unwrap();
            }
            Fixture::S3 { store, .. } => {
                // A fresh temporary object may be another process's upload: kept by default.
                assert_eq!(store.sweep(depot::blobs::s3::STALE_AFTER).await.unwrap(), 0);
                assert_eq!(store.sweep(Duration::ZERO).await.unwrap(), 1);
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn layout(sha3_384: &str) -> String {
    format!("sha3-384/{}/{sha3_384}", &sha3_384[..2])
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Yields `data`, then fails like a dropped connection.
fn broken_reader(data: Vec<u8>) -> impl AsyncRead + Send + Unpin {
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .chain([Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the client went away",
        ))])
        .collect();
    tokio_util::io::StreamReader::new(futures::stream::iter(chunks))
}

async fn read_all(store: &dyn BlobStore, name: &str, start: u64, len: Option<u64>) -> Vec<u8> {
    let mut read = store.get(name, start, len).await.unwrap();
    let mut out = Vec::new();
    read.reader.read_to_end(&mut out).await.unwrap();
    out
}

macro_rules! both_blob_backends {
    ($($name:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Fs).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::S3).await
                }
            )*
        }
    };
}

both_blob_backends!(
    small_blob_is_hashed_stored_and_deduplicated,
    large_blob_streams_in_parts,
    ranges_and_empty_blobs,
    oversize_uploads_leave_nothing,
    interrupted_uploads_leave_nothing,
    names_cannot_escape_and_missing_blobs_are_not_found,
    local_copies_match,
    leftover_temporaries_are_swept,
    concurrent_identical_uploads_store_one_blob,
    the_check_leaves_nothing_behind,
);

async fn small_blob_is_hashed_stored_and_deduplicated(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let data = b"hello depot".to_vec();
    let info = store.put(&mut data.as_slice(), 1024).await.unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.sha3_384, hex::encode(Sha3_384::digest(&data)));
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(info.sha384, hex::encode(Sha384::digest(&data)));
    let again = store.put(&mut data.as_slice(), 1024).await.unwrap();
    assert_eq!(info, again);
    assert_eq!(fixture.stored().await, vec![layout(&info.sha3_384)]);
    assert_eq!(store.size(&info.sha3_384).await.unwrap(), Some(11));
    assert_eq!(
        read_all(store.as_ref(), &info.sha3_384, 0, None).await,
        data
    );
    assert_eq!(
        read_all(store.as_ref(), &info.sha3_384, 6, None).await,
        b"depot"
    );
    assert_eq!(
        read_all(store.as_ref(), &info.sha3_384, 0, Some(5)).await,
        b"hello"
    );
}

async fn large_blob_streams_in_parts(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    // Two full 5 MiB parts and a short last one on S3.
    let data = noise(12 * MIB + 12345, 1);
    let info = store
        .put(&mut data.as_slice(), 64 * MIB as u64)
        .await
        .unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.sha3_384, hex::encode(Sha3_384::digest(&data)));
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(info.sha384, hex::encode(Sha384::digest(&data)));
    // Nothing staged is left, only the content-addressed blob.
    assert_eq!(fixture.stored().await, vec![layout(&info.sha3_384)]);
    let whole = read_all(store.as_ref(), &info.sha3_384, 0, None).await;
    assert!(whole == data, "the blob read back differs");
    // A range across the first part boundary.
    let start = 5 * MIB - 100;
    let middle = read_all(store.as_ref(), &info.sha3_384, start as u64, Some(300)).await;
    assert_eq!(middle, data[start..start + 300]);
    let read = store.get(&info.sha3_384, 10, Some(1)).await.unwrap();
    assert_eq!(read.size, data.len() as u64);
    // Uploading it again stores nothing new.
    let again = store
        .put(&mut data.as_slice(), 64 * MIB as u64)
        .await
        .unwrap();
    assert_eq!(again, info);
    assert_eq!(fixture.stored().await, vec![layout(&info.sha3_384)]);
}

async fn ranges_and_empty_blobs(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let data = b"0123456789".to_vec();
    let info = store.put(&mut data.as_slice(), 100).await.unwrap();
    let name = &info.sha3_384;
    assert_eq!(read_all(store.as_ref(), name, 9, None).await, b"9");
    assert_eq!(read_all(store.as_ref(), name, 8, Some(100)).await, b"89");
    assert!(matches!(
        store.get(name, 10, None).await,
        Err(BlobError::RangeNotSatisfiable {
            start: 10,
            size: 10
        })
    ));
    assert!(matches!(
        store.get(name, 11, Some(1)).await,
        Err(BlobError::RangeNotSatisfiable {
            start: 11,
            size: 10
        })
    ));

    let empty = store.put(&mut [].as_slice(), 100).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(empty.sha3_384, hex::encode(Sha3_384::digest(b"")));
    assert_eq!(store.size(&empty.sha3_384).await.unwrap(), Some(0));
    let read = store.get(&empty.sha3_384, 0, None).await.unwrap();
    assert_eq!(read.size, 0);
    assert!(
        read_all(store.as_ref(), &empty.sha3_384, 0, None)
            .await
            .is_empty()
    );
    let mut expected = vec![layout(name), layout(&empty.sha3_384)];
    expected.sort();
    assert_eq!(fixture.stored().await, expected);
}

async fn oversize_uploads_leave_nothing(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let small = vec![7u8; 4096];
    let err = store.put(&mut small.as_slice(), 100).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 100 }), "{err}");
    // Refused after a multipart upload has begun on S3.
    let large = noise(12 * MIB, 2);
    let limit = 11 * MIB as u64;
    let err = store.put(&mut large.as_slice(), limit).await.unwrap_err();
    assert!(
        matches!(err, BlobError::TooLarge { limit: l } if l == limit),
        "{err}"
    );
    assert_eq!(fixture.stored().await, Vec::<String>::new());
    // Exactly at the limit is accepted.
    let info = store
        .put(&mut large[..11 * MIB].as_ref(), limit)
        .await
        .unwrap();
    assert_eq!(info.size, limit);
    assert_eq!(fixture.stored().await, vec![layout(&info.sha3_384)]);
}

async fn interrupted_uploads_leave_nothing(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    for len in [3 * MIB, 12 * MIB] {
        let mut reader = broken_reader(noise(len, 3));
        let err = store.put(&mut reader, 64 * MIB as u64).await.unwrap_err();
        match err {
            BlobError::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset),
            other => panic!("expected the reader's error, got {other}"),
        }
    }
    assert_eq!(fixture.stored().await, Vec::<String>::new());
}

async fn names_cannot_escape_and_missing_blobs_are_not_found(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    for bad in ["../../etc/passwd", "", &"A".repeat(96), &"a".repeat(95)] {
        assert!(matches!(
            store.get(bad, 0, None).await,
            Err(BlobError::InvalidName(_))
        ));
        assert!(matches!(
            store.size(bad).await,
            Err(BlobError::InvalidName(_))
        ));
        assert!(matches!(
            store.local(bad).await,
            Err(BlobError::InvalidName(_))
        ));
    }
    let missing = "a".repeat(96);
    assert!(matches!(
        store.get(&missing, 0, None).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.local(&missing).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(store.size(&missing).await.unwrap(), None);
}

async fn local_copies_match(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let data = noise(6 * MIB, 4);
    let info = store
        .put(&mut data.as_slice(), 64 * MIB as u64)
        .await
        .unwrap();
    let local = store.local(&info.sha3_384).await.unwrap();
    assert!(std::fs::read(&local.path).unwrap() == data);
    let path = local.path.clone();
    drop(local);
    if matches!(kind, Kind::S3) {
        assert!(!path.exists(), "the local copy outlived its handle");
    }
}

async fn leftover_temporaries_are_swept(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let info = store.put(&mut b"keep me".as_slice(), 100).await.unwrap();
    fixture.plant_leftover().await;
    assert_eq!(
        fixture.stored().await,
        vec![layout(&info.sha3_384), "tmp/leftover".to_string()]
    );
    fixture.sweep().await;
    assert_eq!(fixture.stored().await, vec![layout(&info.sha3_384)]);
}

async fn concurrent_identical_uploads_store_one_blob(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let data = Arc::new(noise(6 * MIB, 5));
    let uploads: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            let data = data.clone();
            tokio::spawn(async move { store.put(&mut data.as_slice(), 64 * MIB as u64).await })
        })
        .collect();
    let mut infos = Vec::new();
    for upload in uploads {
        infos.push(upload.await.unwrap().unwrap());
    }
    assert!(infos.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(fixture.stored().await, vec![layout(&infos[0].sha3_384)]);
    assert!(read_all(store.as_ref(), &infos[0].sha3_384, 0, None).await == *data);
}

async fn the_check_leaves_nothing_behind(kind: Kind) {
    let fixture = Fixture::new(kind).await;
    let store = fixture.store();
    let before = fixture.stored().await;
    store.check().await.unwrap();
    store.check().await.unwrap();
    assert_eq!(fixture.stored().await, before);
}

#[tokio::test]
async fn the_check_fails_with_the_directory_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = FsBlobStore::open(&root).unwrap();
    store.check().await.unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains("blob directory"), "{err}");
    assert!(err.contains(&root.display().to_string()), "{err}");
    // The staging directory alone is not enough: the blobs' own directory must be there too.
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(root.join("sha3-384"), b"not a directory").unwrap();
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains("is not a directory"), "{err}");
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    // Reopening puts the directories back.
    std::fs::remove_file(root.join("sha3-384")).unwrap();
    FsBlobStore::open(&root).unwrap();
    store.check().await.unwrap();
}

// The HTTP API over blob storage, on both databases.

both_backends!(
    publish_and_download_on_s3,
    interrupted_upload_on_s3_leaves_nothing,
    readyz_tells_when_blob_storage_is_not_usable
);

/// `/readyz` looks at blob storage: without its directory, downloads fail, and it says so
/// (the metadata reads go on).
async fn readyz_tells_when_blob_storage_is_not_usable(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["blobs"]["status"], "ok", "{ready}");
    assert!(ready["blobs"].get("error").is_none(), "{ready}");

    let blobs = app.data_dir.path().join("blobs");
    let away = app.data_dir.path().join("blobs-away");
    std::fs::rename(&blobs, &away).unwrap();
    // A check's answer stands for a second.
    let (_, ready) = app.get("/readyz", None).await;
    assert_eq!(ready["blobs"]["status"], "ok", "{ready}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    assert_eq!(ready["blobs"]["status"], "unavailable", "{ready}");
    // What fails, without the server's paths (the log has them).
    let error = ready["blobs"]["error"].as_str().unwrap();
    assert!(error.contains("the server log says why"), "{error}");
    assert!(
        !ready
            .to_string()
            .contains(&*app.data_dir.path().to_string_lossy()),
        "{ready}"
    );
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.starts_with("blob storage is not usable: downloads and uploads fail"),
        "{message}"
    );

    std::fs::rename(&away, &blobs).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, ready) = app.get("/readyz", None).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["message"], "serving reads and writes");
}

/// A bucket that does not exist is named as such, not as a bad endpoint or key.
#[tokio::test]
async fn a_missing_bucket_is_named() {
    let scratch = tempfile::tempdir().unwrap();
    let settings = depot::blobs::S3Settings {
        bucket: format!("no-such-bucket-{}", uuid::Uuid::new_v4().simple()),
        ..common::s3::settings()
    };
    let err = S3BlobStore::open(&settings, scratch.path())
        .await
        .err()
        .expect("a missing bucket is not usable")
        .to_string();
    assert!(err.contains("the bucket does not exist"), "{err}");
}

async fn s3_app(backend: Backend) -> (TestApp, Arc<S3BlobStore>, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let blobs = Arc::new(common::s3::store(scratch.path()).await);
    let app = TestApp::with_options(
        backend,
        Options {
            blobs: Some(blobs.clone()),
            ..Options::default()
        },
    )
    .await;
    (app, blobs, scratch)
}

fn snap_yaml(name: &str) -> String {
    format!(
        "name: {name}\nversion: '1.0'\nsummary: {name} summary\ndescription: {name} description\n\
         architectures: [amd64]\nbase: core22\nconfinement: strict\ngrade: stable\n"
    )
}

async fn publish_and_download_on_s3(backend: Backend) {
    let (app, blobs, _scratch) = s3_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.account("alice", &[]).await;
    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "big-depot"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Incompressible content makes a snap of several parts: the multipart path, then the
    // local copy the inspection reads.
    let snap = fixtures::build_snap_with(dir.path(), "big", &["-comp", "gzip"], |root| {
        fixtures::write(root, "meta/snap.yaml", snap_yaml("big-depot").as_bytes());
        fixtures::write(root, "data/noise", &noise(11 * MIB, 6));
    });
    let file = std::fs::read(&snap).unwrap();
    assert!(file.len() > 10 * MIB);
    let (status, body) = app.push("snap", "big-depot", &snap, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, review) = app
        .get(body["status-url"].as_str().unwrap(), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(review["revisions"][0]["status"], "approved", "{review}");
    let (status, body) = app
        .post(
            "/v1/snap/big-depot/releases",
            Some(&token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let sha3 = hex::encode(Sha3_384::digest(&file));
    assert_eq!(blobs.keys().await.unwrap(), vec![layout(&sha3)]);

    let (status, info) = app
        .get("/v2/snaps/info/big-depot?architecture=amd64", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let download = &info["channel-map"][0]["download"];
    assert_eq!(download["sha3-384"], sha3.as_str());
    assert_eq!(download["size"], file.len());
    let url = download["url"].as_str().unwrap();
    let (status, headers, bytes) = app.download(url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == file, "the download differs from the upload");
    assert_eq!(headers["content-length"], file.len().to_string().as_str());
    assert_eq!(headers["etag"], format!("\"{sha3}\"").as_str());
    let start = 5 * MIB + 3;
    let (status, headers, tail) = app.download(url, Some(&format!("bytes={start}-"))).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(tail == file[start..]);
    assert_eq!(
        headers["content-range"],
        format!("bytes {start}-{}/{}", file.len() - 1, file.len()).as_str()
    );
    let (status, _, _) = app
        .download(url, Some(&format!("bytes={}-", file.len())))
        .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
}

async fn interrupted_upload_on_s3_leaves_nothing(backend: Backend) {
    let (app, blobs, _scratch) = s3_app(backend).await;
    let token = app.account("alice", &[]).await;
    let boundary = "depot-test-boundary-s3";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"binary\"; filename=\"cut.snap\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    // The client sends 12 MiB (two parts and more) and then its connection breaks.
    let mut chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(head))];
    for chunk in noise(12 * MIB, 7).chunks(MIB) {
        chunks.push(Ok(Bytes::copy_from_slice(chunk)));
    }
    chunks.push(Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "the client went away",
    )));
    let request = Request::builder()
        .method(Method::POST)
        .uri("/unscanned-upload/")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("authorization", format!("Macaroon {token}"))
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let response = app.raw(request).await;
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "invalid-multipart", "{body}");
    assert_eq!(blobs.keys().await.unwrap(), Vec::<String>::new());
}
