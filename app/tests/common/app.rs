//! An in-process depot for tests: a fresh database (SQLite file or a new PostgreSQL database),
//! a temporary blob directory, the real router and the real change follower.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use depot::auth::{Scope, mint_token};
use depot::blobs::{BlobStore, FsBlobStore};
use depot::catalog::{CatalogHandle, run_follower};
use depot::config::Config;
use depot::http::{App, AppState, build_router};
use depot::inspect::Limits;
use depot::store::{NewAccount, NewToken, PackageRef, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite` and `postgres` variants of an async test function taking a [`Backend`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::app::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::app::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The PostgreSQL server tests use: `DATABASE_URL`, or a throwaway cluster started once.
pub fn postgres_base_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return url;
        }
        let script = repo_root().join("tests/support/pg-cluster.sh");
        let out = std::process::Command::new(&script)
            .arg("start")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "starting the test PostgreSQL cluster failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap();
    let authority = rest.split('/').next().unwrap();
    match query {
        Some(q) => format!("{scheme}://{authority}/{database}?{q}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

/// A file of snapd's test authority (`testrootorg`), in `app/tests/fixtures/testrootorg`.
pub fn authority_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/testrootorg")
        .join(name)
}

/// The authority's `account`, root `account-key` and store `account-key`, as one stream.
pub fn authority_assertions() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let mut stream = Vec::new();
        for name in [
            "testrootorg.account",
            "testrootorg-root.account-key",
            "testrootorg-store.account-key",
        ] {
            if !stream.is_empty() {
                stream.push(b'\n');
            }
            stream.extend(std::fs::read(authority_fixture(name)).unwrap());
        }
        // One file for every test process (nextest runs a process per test), in Cargo's
        // scratch directory rather than /tmp: the content is always the same, so each process
        // writes its own copy and renames it into place.
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("depot-test-authority.assert");
        let mine = path.with_extension(format!("assert.{}", std::process::id()));
        std::fs::write(&mine, stream).unwrap();
        std::fs::rename(&mine, &path).unwrap();
        path
    })
    .clone()
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Runs one statement straight on the database, behind depot's back.
    pub async fn execute_raw(&self, sql: &str) {
        use sqlx::Connection;
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("depot.db").display());
                TestDb {
                    url,
                    backend,
                    admin_url: None,
                    name: String::new(),
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => Self::on_postgres(postgres_base_url()).await,
        }
    }

    /// A fresh database on the PostgreSQL server at `admin_url`.
    pub async fn on_postgres(admin_url: String) -> TestDb {
        let backend = Backend::Postgres;
        {
            {
                use sqlx::Connection;
                let name = format!("depot_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("cannot connect to the test PostgreSQL at {admin_url}: {e}")
                    });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let url = with_database(&admin_url, &name);
                TestDb {
                    url,
                    backend,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            })
        })
        .join();
        let _ = self.backend;
    }
}

/// A running depot (router + follower) over a test database.
pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub db: Arc<TestDb>,
    pub data_dir: Arc<tempfile::TempDir>,
    stop: tokio::sync::watch::Sender<bool>,
}

pub struct Options {
    pub limits: Limits,
    pub max_upload_size: u64,
    /// `publisher_rate_limit_per_minute`; off (0) by default.
    pub publisher_rate_limit_per_minute: u32,
    /// `search_rate_limit_per_minute`; off (0) by default.
    pub search_rate_limit_per_minute: u32,
    /// The blob store; `{data_dir}/blobs` on the filesystem when `None`.
    pub blobs: Option<Arc<dyn BlobStore>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            max_upload_size: 64 * 1024 * 1024,
            publisher_rate_limit_per_minute: 0,
            search_rate_limit_per_minute: 0,
            blobs: None,
        }
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_options(backend, Options::default()).await
    }

    pub async fn with_options(backend: Backend, options: Options) -> TestApp {
        let db = Arc::new(TestDb::new(backend).await);
        Self::on(db, Arc::new(tempfile::tempdir().unwrap()), options).await
    }

    /// Another process's worth of depot over the same database and blobs.
    pub async fn sibling(&self) -> TestApp {
        Self::on(self.db.clone(), self.data_dir.clone(), Options::default()).await
    }

    pub async fn on(
        db: Arc<TestDb>,
        data_dir: Arc<tempfile::TempDir>,
        options: Options,
    ) -> TestApp {
        let config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(db.url.clone()),
            public_url: Some("http://depot.test".to_string()),
            max_upload_size: options.max_upload_size,
            database_max_connections: 8,
            follower_poll_interval_ms: 100,
            // Tests drive the API far faster than a publisher would; the rate-limit tests set
            // their own limits.
            publisher_rate_limit_per_minute: options.publisher_rate_limit_per_minute,
            search_rate_limit_per_minute: options.search_rate_limit_per_minute,
            // snapd's public test authority: depot signs with its store key, and serves the
            // authority's own account and account-keys as snapd's test builds trust them.
            authority_id: "testrootorg".to_string(),
            root_key_file: Some(authority_fixture("testrootorg-root.private.asc")),
            store_key_file: Some(authority_fixture("testrootorg-store.private.asc")),
            authority_assertions_file: Some(authority_assertions()),
            ..Config::default()
        };
        let assertions = Arc::new(depot::assertions::Assertions::load(&config).unwrap());
        let store = depot::store::open(&config.database_url(), 8).await.unwrap();
        store.migrate().await.unwrap();
        let blobs = match options.blobs {
            Some(blobs) => blobs,
            None => Arc::new(FsBlobStore::open(data_dir.path().join("blobs")).unwrap()),
        };
        let catalog = Arc::new(CatalogHandle::load(store.as_ref(), None).await.unwrap());
        let metrics = Arc::new(depot::telemetry::metrics::Metrics::new());
        let state = AppState::new(App {
            public_url: config.public_url(),
            config,
            store: store.clone(),
            blobs,
            catalog: catalog.clone(),
            inspect_limits: options.limits,
            metrics: metrics.clone(),
            assertions,
            downloads: Arc::default(),
            related: Arc::default(),
            blob_health: Default::default(),
        });
        let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(run_follower(
            store,
            catalog,
            metrics,
            Duration::from_millis(100),
            async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            },
        ));
        TestApp {
            router: build_router(state.clone()),
            state,
            db,
            data_dir,
            stop,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// Creates an account and a token with `scopes` (publisher scopes when empty).
    pub async fn account(&self, username: &str, scopes: &[Scope]) -> String {
        let account = match self.store().account_by_username(username).await.unwrap() {
            Some(a) => a,
            None => {
                self.store()
                    .create_account(NewAccount {
                        username: username.to_string(),
                        display_name: username.to_uppercase(),
                        email: Some(format!("{username}@example.com")),
                    })
                    .await
                    .unwrap()
                    .0
            }
        };
        self.token_for(&account.id, scopes, None, None).await
    }

    pub async fn token_for(
        &self,
        account_id: &str,
        scopes: &[Scope],
        packages: Option<Vec<PackageRef>>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> String {
        let minted = mint_token();
        let scopes = if scopes.is_empty() {
            Scope::PUBLISHER.to_vec()
        } else {
            scopes.to_vec()
        };
        self.store()
            .create_token(NewToken {
                account_id: account_id.to_string(),
                secret_hash: minted.hash,
                scopes,
                packages,
                description: "test".into(),
                expires_at,
            })
            .await
            .unwrap();
        minted.secret
    }

    pub async fn raw(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Sends a request; returns the status and the body parsed as JSON (Null when empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Macaroon {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        };
        let response = self.raw(request).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Uploads a file to `/unscanned-upload/` as multipart field `binary`.
    pub async fn upload(&self, path: &Path, token: Option<&str>) -> (StatusCode, Value) {
        let data = std::fs::read(path).unwrap();
        let boundary = "depot-test-boundary-7d1f";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"binary\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                path.file_name().unwrap().to_string_lossy()
            )
            .as_bytes(),
        );
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/unscanned-upload/")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Macaroon {token}"));
        }
        let response = self.raw(builder.body(Body::from(body)).unwrap()).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Upload + push; returns the push response.
    pub async fn push(
        &self,
        namespace: &str,
        name: &str,
        file: &Path,
        token: &str,
    ) -> (StatusCode, Value) {
        let (status, body) = self.upload(file, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "upload failed: {body}");
        let upload_id = body["upload_id"].as_str().unwrap().to_string();
        self.post(
            &format!("/v1/{namespace}/{name}/revisions"),
            Some(token),
            serde_json::json!({"upload-id": upload_id}),
        )
        .await
    }

    /// Downloads a URL from a response (absolute, on the public URL) and returns the bytes.
    pub async fn download(
        &self,
        url: &str,
        range: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let path = url
            .strip_prefix("http://depot.test")
            .expect("download URL on the public URL");
        let mut builder = Request::builder().uri(path);
        if let Some(range) = range {
            builder = builder.header("range", range);
        }
        let response = self.raw(builder.body(Body::empty()).unwrap()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The first error code of an error-list body.
pub fn error_code(body: &Value) -> &str {
    body["error-list"][0]["code"]
        .as_str()
        .unwrap_or("<no error-list>")
}
