//! Charm libraries on both backends: a publisher creates a library under its charm and
//! publishes versions; anyone lists the newest versions (`libraries/bulk`, as `charmcraft
//! fetch-libs`, `publish-lib` and `list-lib` ask) and downloads one; a second process sees
//! the same after a cold start. Every refusal has its own code. The content hash is
//! computed here the way charmcraft computes it, independently of depot's code.

mod common;

use axum::http::StatusCode;
use common::app::{Backend, TestApp, error_code};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CHARM: &str = "database";

/// A library module as charmcraft lays it out.
fn module(id: &str, api: u32, patch: u32, body: &str) -> String {
    format!(
        "\"\"\"A client for the database charm.\"\"\"\n\nLIBID = \"{id}\"\nLIBAPI = {api}\nLIBPATCH = {patch}\n\n{body}\n"
    )
}

/// charmcraft's hash: SHA-256 of every line that does not start with LIBAPI, LIBPATCH or LIBID.
fn charmcraft_hash(content: &str) -> String {
    let mut hasher = Sha256::new();
    for line in content.split_inclusive('\n') {
        if !["LIBAPI", "LIBPATCH", "LIBID"]
            .iter()
            .any(|f| line.starts_with(f))
        {
            hasher.update(line.replace("\r\n", "\n").as_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Fixture {
    app: TestApp,
    token: String,
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let app = TestApp::new(backend).await;
        let token = app.account("alice", &[]).await;
        let (status, body) = app
            .post(
                "/v1/charm",
                Some(&token),
                json!({"name": CHARM, "type": "charm"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Fixture { app, token }
    }

    async fn create(&self, name: &str) -> String {
        let (status, body) = self
            .app
            .post(
                &format!("/v1/charm/libraries/{CHARM}"),
                Some(&self.token),
                json!({"library-name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id = body["library-id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        id
    }

    async fn publish_content(
        &self,
        id: &str,
        api: u32,
        patch: u32,
        content: &str,
    ) -> (StatusCode, Value) {
        self.app
            .post(
                &format!("/v1/charm/libraries/{CHARM}/{id}"),
                Some(&self.token),
                json!({"api": api, "patch": patch, "content": content, "hash": charmcraft_hash(content)}),
            )
            .await
    }

    async fn publish(&self, id: &str, api: u32, patch: u32, body: &str) -> (StatusCode, Value) {
        self.publish_content(id, api, patch, &module(id, api, patch, body))
            .await
    }

    async fn bulk(&self, queries: Value) -> Vec<Value> {
        let (status, body) = self
            .app
            .post("/v1/charm/libraries/bulk", None, queries)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["libraries"].as_array().unwrap().clone()
    }
}

/// (library-name, api, patch) of each item, sorted.
fn versions(items: &[Value]) -> Vec<(String, u64, u64)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i["library-name"].as_str().unwrap().to_string(),
                i["api"].as_u64().unwrap(),
                i["patch"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn publish_list_and_fetch(backend: Backend) {
    let f = Fixture::new(backend).await;
    let client = f.create("client").await;
    let admin = f.create("admin").await;

    // Nothing published yet: the names exist, no versions to list.
    assert!(f.bulk(json!([{"charm-name": CHARM}])).await.is_empty());

    let (status, published) = f.publish(&client, 0, 1, "def connect(): ...").await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["library-id"], client.as_str());
    assert_eq!(published["library-name"], "client");
    assert_eq!(published["charm-name"], CHARM);
    assert_eq!(
        published["content"],
        module(&client, 0, 1, "def connect(): ...")
    );
    let (status, body) = f.publish(&client, 0, 2, "def connect(url): ...").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = f
        .publish(&client, 1, 0, "async def connect(url): ...")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = f.publish(&admin, 0, 1, "def grant(): ...").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // list-lib: every library of the charm, the newest patch of each API, no content.
    let all = f.bulk(json!([{"charm-name": CHARM}])).await;
    assert_eq!(
        versions(&all),
        vec![
            ("admin".into(), 0, 1),
            ("client".into(), 0, 2),
            ("client".into(), 1, 0)
        ]
    );
    assert!(all.iter().all(|i| i.get("content").is_none()), "{all:?}");
    let tip = all.iter().find(|i| i["patch"] == 2).unwrap();
    assert_eq!(
        tip["hash"],
        charmcraft_hash(&module(&client, 0, 2, "def connect(url): ..."))
    );

    // fetch-libs: by charm and library name, one API, optionally one exact patch.
    let one_api = f
        .bulk(json!([{"charm-name": CHARM, "library-name": "client", "api": 0}]))
        .await;
    assert_eq!(versions(&one_api), vec![("client".into(), 0, 2)]);
    let exact = f
        .bulk(json!([{"charm-name": CHARM, "library-name": "client", "api": 0, "patch": 1}]))
        .await;
    assert_eq!(versions(&exact), vec![("client".into(), 0, 1)]);
    // publish-lib: by id and API; duplicates across queries are answered once; queries that
    // match nothing add nothing.
    let by_id = f
        .bulk(json!([
            {"library-id": client, "api": 1},
            {"library-id": client, "api": 1},
            {"library-id": "0123456789abcdef0123456789abcdef"},
            {"charm-name": "no-such-charm"},
            {"charm-name": CHARM, "library-name": "client", "api": 7},
        ]))
        .await;
    assert_eq!(versions(&by_id), vec![("client".into(), 1, 0)]);

    // fetch-lib: the content, newest by default, or of one API, or one exact version.
    let path = format!("/v1/charm/libraries/{CHARM}/{client}");
    let (status, newest) = f.app.get(&path, None).await;
    assert_eq!(status, StatusCode::OK, "{newest}");
    assert_eq!(
        (newest["api"].as_u64(), newest["patch"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        newest["content"],
        module(&client, 1, 0, "async def connect(url): ...")
    );
    let (_, api0) = f.app.get(&format!("{path}?api=0"), None).await;
    assert_eq!(api0["patch"], 2);
    let (_, old) = f.app.get(&format!("{path}?api=0&patch=1"), None).await;
    assert_eq!(old["content"], module(&client, 0, 1, "def connect(): ..."));
    assert_eq!(
        old["hash"],
        charmcraft_hash(old["content"].as_str().unwrap())
    );

    // Another process loads the same from the database.
    let sibling = f.app.sibling().await;
    let (status, again) = sibling.get(&format!("{path}?api=0&patch=1"), None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, old);
}

async fn publishing_rules(backend: Backend) {
    let f = Fixture::new(backend).await;
    let id = f.create("client").await;

    let (status, body) = f.publish(&id, 0, 0, "x = 0").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid-library-version")
    );
    let (status, body) = f.publish(&id, 0, 1, "x = 1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = f.publish(&id, 0, 1, "x = 2").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "library-version-exists")
    );
    let (status, body) = f.publish(&id, 0, 3, "x = 3").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "library-patch-not-consecutive")
    );
    assert!(
        body["error-list"][0]["message"]
            .as_str()
            .unwrap()
            .contains("publish 0.2 next"),
        "{body}"
    );
    let (status, body) = f.publish(&id, 0, 2, "x = 1").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "library-content-unchanged")
    );

    // The module must say what the request says, and hash to the hash sent.
    let content = module(&id, 0, 2, "x = 2");
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/libraries/{CHARM}/{id}"),
            Some(&f.token),
            json!({"api": 0, "patch": 2, "content": content, "hash": charmcraft_hash("other")}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "library-hash-mismatch")
    );
    for (wrong, what) in [
        (module("ffff", 0, 2, "x = 2"), "LIBID"),
        (module(&id, 1, 2, "x = 2"), "LIBAPI"),
        (module(&id, 0, 5, "x = 2"), "LIBPATCH"),
        ("x = 2\n".to_string(), "LIBID"),
    ] {
        let (status, body) = f.publish_content(&id, 0, 2, &wrong).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "library-metadata-mismatch"),
            "{wrong}"
        );
        assert!(
            body["error-list"][0]["message"]
                .as_str()
                .unwrap()
                .contains(what),
            "{body}"
        );
    }
    let huge = module(&id, 0, 2, &"#".repeat(600 * 1024));
    let (status, body) = f.publish_content(&id, 0, 2, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // Nothing refused was stored.
    let (_, tip) = f
        .app
        .get(&format!("/v1/charm/libraries/{CHARM}/{id}"), None)
        .await;
    assert_eq!(
        (tip["api"].as_u64(), tip["patch"].as_u64()),
        (Some(0), Some(1))
    );

    // Names.
    for bad in ["Client", "1client", "my-lib", ""] {
        let (status, body) = f
            .app
            .post(
                &format!("/v1/charm/libraries/{CHARM}"),
                Some(&f.token),
                json!({"library-name": bad}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid-library-name"),
            "{bad:?}"
        );
    }
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/libraries/{CHARM}"),
            Some(&f.token),
            json!({"library-name": "client"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "library-already-exists")
    );
}

async fn who_may_publish(backend: Backend) {
    let f = Fixture::new(backend).await;
    let id = f.create("client").await;
    let mallory = f.app.account("mallory", &[]).await;
    let content = module(&id, 0, 1, "x = 1");
    let request =
        json!({"api": 0, "patch": 1, "content": content, "hash": charmcraft_hash(&content)});
    let path = format!("/v1/charm/libraries/{CHARM}/{id}");

    let (status, body) = f.app.post(&path, None, request.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = f.app.post(&path, Some(&mallory), request.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "permission-denied")
    );
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/libraries/{CHARM}"),
            Some(&mallory),
            json!({"library-name": "evil"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "permission-denied")
    );

    // A library id is only good with its own charm.
    let (status, body) = f
        .app
        .post(
            "/v1/charm",
            Some(&mallory),
            json!({"name": "other", "type": "charm"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = f
        .app
        .post(
            &format!("/v1/charm/libraries/other/{id}"),
            Some(&mallory),
            request,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "library-not-found")
    );
    let (status, body) = f
        .app
        .get(&format!("/v1/charm/libraries/other/{id}"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "library-not-found")
    );
    let (status, body) = f
        .app
        .get(&format!("/v1/charm/libraries/{CHARM}/{id}"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "library-not-found"),
        "nothing published yet"
    );
}

async fn bad_queries(backend: Backend) {
    let f = Fixture::new(backend).await;
    for bad in [
        json!({"charm-name": CHARM}),
        json!([["charm-name", CHARM]]),
        json!([{}]),
        json!([{"library-id": "a", "charm-name": CHARM}]),
        json!([{"charm-name": CHARM, "patch": 1}]),
        json!([{"charm-name": CHARM, "api": -1}]),
        json!([{"charm-name": CHARM, "extra": 1}]),
    ] {
        let (status, body) = f
            .app
            .post("/v1/charm/libraries/bulk", None, bad.clone())
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-json"),
            "{bad}"
        );
    }
    let (status, body) = f
        .app
        .get(&format!("/v1/charm/libraries/{CHARM}/abc?patch=1"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid-query")
    );
}

both_backends!(
    publish_list_and_fetch,
    publishing_rules,
    who_may_publish,
    bad_queries
);
