//! Assertions as snapd fetches them (`GET /v2/assertions/…`, `fetch-assertions` in
//! `POST /v2/snaps/refresh`), on both backends, for a published snap: served in snapd's format,
//! signed so that an independent OpenPGP implementation (rPGP) verifies every signature against
//! the public key in the signer's `account-key`, chained account-key → snap-declaration →
//! snap-revision, and consistent with the refresh answer and the downloaded file.
//!
//! The test depot signs as snapd's public test authority `testrootorg` (its store key, with the
//! authority's own `account` and `account-key`s served verbatim), the chain a snapd built with
//! test keys trusts.

mod common;

use std::collections::BTreeMap;
use std::io::BufReader;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::app::{Backend, TestApp, authority_fixture, error_code};
use common::fixtures;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha3::{Digest, Sha3_384};

const MEDIA_TYPE: &str = "application/x.ubuntu.assertion";

/// An assertion split as snapd's `asserts.Decode` does: content up to the last `\n\n`, then
/// the signature; headers up to the first `\n\n`, then the body of `body-length` bytes.
#[derive(Debug)]
struct Assertion {
    headers: BTreeMap<String, String>,
    body: String,
    content: String,
    signature: String,
}

impl Assertion {
    fn parse(bytes: &[u8]) -> Assertion {
        let text = std::str::from_utf8(bytes).expect("assertions are UTF-8");
        let text = text.strip_suffix('\n').unwrap_or(text);
        let split = text.rfind("\n\n").expect("content/signature separator");
        let (content, signature) = (&text[..split], &text[split + 2..]);
        let (head, body) = match content.find("\n\n") {
            Some(i) => (&content[..i], &content[i + 2..]),
            None => (content, ""),
        };
        let mut headers = BTreeMap::new();
        for line in head.lines() {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a one-line header: {line:?}"));
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(
                headers
                    .insert(name.to_string(), value.to_string())
                    .is_none(),
                "repeated {name}"
            );
        }
        let length: usize = headers.get("body-length").map_or(0, |n| n.parse().unwrap());
        assert_eq!(length, body.len(), "body-length");
        for line in signature.lines() {
            assert!(
                line.len() <= 76,
                "signature lines are at most 76 characters"
            );
        }
        Assertion {
            headers,
            body: body.to_string(),
            content: content.to_string(),
            signature: signature.to_string(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }

    /// The header names in the order they were written.
    fn order(&self) -> Vec<String> {
        self.content
            .split("\n\n")
            .next()
            .unwrap()
            .lines()
            .map(|l| l.split_once(':').unwrap().0.to_string())
            .collect()
    }
}

/// Decodes snapd's "v1" encoding: base64 of `0x01` and one OpenPGP packet.
fn v1_packet(encoded: &str) -> pgp::packet::Packet {
    let joined: String = encoded.lines().collect();
    let bytes = STANDARD.decode(joined).expect("base64");
    assert_eq!(bytes[0], 1, "the v1 marker");
    let mut packets = pgp::packet::PacketParser::new(BufReader::new(&bytes[1..]));
    let packet = packets.next().expect("one packet").expect("a valid packet");
    assert!(packets.next().is_none(), "exactly one packet");
    packet
}

/// The public key of an `account-key` assertion, read by rPGP.
fn public_key(account_key: &Assertion) -> pgp::packet::PublicKey {
    match v1_packet(&account_key.body) {
        pgp::packet::Packet::PublicKey(key) => key,
        other => panic!("not a public key: {other:?}"),
    }
}

/// The same key with another creation time in its packet. snapd names keys by their packet
/// with a fixed creation time (2016-01-01); the test authority's keys were made at time 1 (their
/// private key files say so), and the signatures snapd made on its account-keys carry an issuer
/// subpacket with the key id of that packet, which rPGP checks.
fn redated(account_key: &Assertion, created: u32) -> pgp::packet::PublicKey {
    let joined: String = account_key.body.lines().collect();
    let mut bytes = STANDARD.decode(joined).unwrap();
    // 0x01, the three-byte packet header, the version, then the creation time.
    bytes[5..9].copy_from_slice(&created.to_be_bytes());
    let encoded = STANDARD.encode(bytes);
    match v1_packet(&encoded) {
        pgp::packet::Packet::PublicKey(key) => key,
        other => panic!("not a public key: {other:?}"),
    }
}

/// Verifies an assertion's signature with rPGP.
fn verify(assertion: &Assertion, key: &pgp::packet::PublicKey) -> Result<(), String> {
    let signature = match v1_packet(&assertion.signature) {
        pgp::packet::Packet::Signature(signature) => signature,
        other => panic!("not a signature: {other:?}"),
    };
    signature
        .verify(key, assertion.content.as_bytes())
        .map_err(|e| e.to_string())
}

/// SHA3-384 of `0x01` and the public-key packet: snapd's key id.
fn key_id(account_key: &Assertion) -> String {
    let joined: String = account_key.body.lines().collect();
    URL_SAFE_NO_PAD.encode(Sha3_384::digest(STANDARD.decode(joined).unwrap()))
}

async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("accept", MEDIA_TYPE);
    if let Some(token) = token {
        request = request.header("authorization", format!("Macaroon {token}"));
    }
    let response = app.raw(request.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, bytes.to_vec())
}

async fn assertion(app: &TestApp, path: &str) -> (Assertion, Vec<u8>) {
    let (status, content_type, bytes) = fetch(app, path, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(content_type, MEDIA_TYPE, "{path}");
    (Assertion::parse(&bytes), bytes)
}

struct Published {
    app: TestApp,
    token: String,
    snap_id: String,
    publisher_id: String,
    revision: u64,
    sha3_384: String,
    size: u64,
    url: String,
    _dir: tempfile::TempDir,
}

async fn publish(backend: Backend) -> Published {
    let app = TestApp::new(backend).await;
    let token = app.account("alice", &[]).await;
    let (_, whoami) = app.get("/v1/tokens/whoami", Some(&token)).await;
    let publisher_id = whoami["account"]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post("/v1/snap", Some(&token), json!({"name": "hello-assert"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snap_id = body["id"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let snap = fixtures::build_snap(dir.path(), &fixtures::snap_yaml("hello-assert", "1.0"));
    let (status, body) = app.push("snap", "hello-assert", &snap, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/v1/snap/hello-assert/releases",
            Some(&token),
            json!([{"channel": "stable", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/v2/snaps/refresh",
            None,
            json!({"context": [], "fields": ["download", "revision", "snap-id"], "actions": [
                {"action": "download", "instance-key": "download-1", "name": "hello-assert", "epoch": null}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snap = &body["results"][0]["snap"];
    Published {
        app,
        token,
        snap_id,
        publisher_id,
        revision: snap["revision"].as_u64().unwrap(),
        sha3_384: snap["download"]["sha3-384"].as_str().unwrap().to_string(),
        size: snap["download"]["size"].as_u64().unwrap(),
        url: snap["download"]["url"].as_str().unwrap().to_string(),
        _dir: dir,
    }
}

fn fixture(name: &str) -> Assertion {
    Assertion::parse(&std::fs::read(authority_fixture(name)).unwrap())
}

async fn a_published_snap_has_a_verifiable_chain_of_assertions(backend: Backend) {
    let p = publish(backend).await;
    let app = &p.app;

    // The file devices download is the one the snap-revision names.
    let (status, _, blob) = app.download(&p.url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hex::encode(Sha3_384::digest(&blob)), p.sha3_384);
    let digest_key = URL_SAFE_NO_PAD.encode(hex::decode(&p.sha3_384).unwrap());

    let (revision, revision_bytes) =
        assertion(app, &format!("/v2/assertions/snap-revision/{digest_key}")).await;
    assert_eq!(revision.header("type"), "snap-revision");
    assert_eq!(revision.header("authority-id"), "testrootorg");
    assert_eq!(revision.header("snap-sha3-384"), digest_key);
    assert_eq!(revision.header("snap-id"), p.snap_id);
    assert_eq!(revision.header("snap-size"), p.size.to_string());
    assert_eq!(revision.header("snap-size"), blob.len().to_string());
    assert_eq!(revision.header("snap-revision"), p.revision.to_string());
    assert_eq!(revision.header("developer-id"), p.publisher_id);
    assert!(chrono::DateTime::parse_from_rfc3339(revision.header("timestamp")).is_ok());
    assert!(
        !revision.headers.contains_key("provenance"),
        "the default is left out"
    );
    assert_eq!(
        revision.order(),
        [
            "type",
            "authority-id",
            "snap-sha3-384",
            "developer-id",
            "snap-id",
            "snap-revision",
            "snap-size",
            "timestamp",
            "sign-key-sha3-384"
        ]
    );

    let (declaration, _) = assertion(
        app,
        &format!("/v2/assertions/snap-declaration/16/{}", p.snap_id),
    )
    .await;
    assert_eq!(declaration.header("series"), "16");
    assert_eq!(declaration.header("snap-id"), p.snap_id);
    assert_eq!(declaration.header("snap-name"), "hello-assert");
    assert_eq!(declaration.header("publisher-id"), p.publisher_id);
    assert_eq!(
        declaration.order(),
        [
            "type",
            "authority-id",
            "series",
            "snap-id",
            "publisher-id",
            "snap-name",
            "timestamp",
            "sign-key-sha3-384"
        ]
    );

    let (account, _) = assertion(app, &format!("/v2/assertions/account/{}", p.publisher_id)).await;
    assert_eq!(account.header("account-id"), p.publisher_id);
    assert_eq!(account.header("username"), "alice");
    assert_eq!(account.header("display-name"), "ALICE");
    assert_eq!(account.header("validation"), "unproven");

    // The signer of all three is the store key; its account-key is the authority's own,
    // signed by the root key, which signs itself and the authority's account.
    let store_key_id = revision.header("sign-key-sha3-384").to_string();
    for a in [&declaration, &account] {
        assert_eq!(a.header("sign-key-sha3-384"), store_key_id);
    }
    let (store_key, store_key_bytes) =
        assertion(app, &format!("/v2/assertions/account-key/{store_key_id}")).await;
    assert_eq!(
        store_key_bytes,
        std::fs::read(authority_fixture("testrootorg-store.account-key")).unwrap()
    );
    assert_eq!(key_id(&store_key), store_key_id);
    assert_eq!(store_key.header("public-key-sha3-384"), store_key_id);
    let root_key_id = store_key.header("sign-key-sha3-384").to_string();
    let (root_key, _) = assertion(app, &format!("/v2/assertions/account-key/{root_key_id}")).await;
    assert_eq!(key_id(&root_key), root_key_id);
    let (authority, _) = assertion(app, "/v2/assertions/account/testrootorg").await;
    assert_eq!(authority.header("sign-key-sha3-384"), root_key_id);

    let store = public_key(&store_key);
    let root = public_key(&root_key);
    let root_as_made = redated(&root_key, 1);
    for (what, a, key) in [
        // depot's signatures…
        ("snap-revision", &revision, &store),
        ("snap-declaration", &declaration, &store),
        ("account", &account, &store),
        // …and the authority's own, as snapd made them.
        ("store account-key", &store_key, &root_as_made),
        ("root account-key", &root_key, &root_as_made),
        ("authority account", &authority, &root),
    ] {
        verify(a, key).unwrap_or_else(|e| panic!("{what} does not verify: {e}"));
    }
    // Signed by the store key, not by the root key.
    assert!(verify(&revision, &root).is_err());

    // A tampered assertion does not verify.
    let mut tampered = Assertion::parse(&revision_bytes);
    tampered.content = tampered.content.replace(
        &format!("snap-size: {}", p.size),
        &format!("snap-size: {}", p.size + 1),
    );
    assert_ne!(tampered.content, revision.content);
    assert!(verify(&tampered, &store).is_err(), "a changed header");
    let mut tampered = Assertion::parse(&revision_bytes);
    tampered.content.push('\n');
    assert!(verify(&tampered, &store).is_err(), "an added byte");

    // Deterministic: the same bytes again, and from another process over the same database.
    let (_, again) = assertion(app, &format!("/v2/assertions/snap-revision/{digest_key}")).await;
    assert_eq!(again, revision_bytes);
    let sibling = app.sibling().await;
    let (_, from_sibling) = assertion(
        &sibling,
        &format!("/v2/assertions/snap-revision/{digest_key}"),
    )
    .await;
    assert_eq!(from_sibling, revision_bytes);
    // The reduced key and the full one (with the default provenance) name the same assertion.
    let (_, full_key) = assertion(
        app,
        &format!("/v2/assertions/snap-revision/{digest_key}/global-upload?max-format=0"),
    )
    .await;
    assert_eq!(full_key, revision_bytes);

    // The authority's own assertions are served as given.
    let (_, authority_bytes) = assertion(app, "/v2/assertions/account/testrootorg").await;
    assert_eq!(
        authority_bytes,
        std::fs::read(authority_fixture("testrootorg.account")).unwrap()
    );
    assert_eq!(
        fixture("testrootorg.account").header("account-id"),
        "testrootorg"
    );
}

async fn missing_assertions_follow_snapds_not_found_convention(backend: Backend) {
    let p = publish(backend).await;
    let app = &p.app;
    let unknown_digest = URL_SAFE_NO_PAD.encode([7u8; 48]);
    for path in [
        format!("/v2/assertions/snap-revision/{unknown_digest}"),
        format!("/v2/assertions/snap-revision/{unknown_digest}/global-upload"),
        "/v2/assertions/snap-declaration/16/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        format!("/v2/assertions/snap-declaration/18/{}", p.snap_id),
        "/v2/assertions/account/nobody".to_string(),
        "/v2/assertions/account-key/AAAA".to_string(),
        "/v2/assertions/model/16/brand/model".to_string(),
        "/v2/assertions/validation-set/16/acct/name?sequence=latest".to_string(),
        "/v2/assertions/serial/x".to_string(),
    ] {
        let (status, content_type, body) = fetch(app, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(content_type, "application/json", "{path}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error_code(&body), "not-found", "{path}: {body}");
    }
    for path in [
        "/v2/assertions/snap-revision/not-a-digest",
        "/v2/assertions/snap-declaration/16",
        "/v2/assertions/account/a/b",
    ] {
        let (status, _, body) = fetch(app, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error_code(&body), "invalid-primary-key", "{path}: {body}");
    }

    // A private snap's declaration is for those who may see the snap.
    let (status, body) = app
        .post(
            "/v1/snap",
            Some(&p.token),
            json!({"name": "hidden-assert", "private": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hidden = format!(
        "/v2/assertions/snap-declaration/16/{}",
        body["id"].as_str().unwrap()
    );
    assert_eq!(fetch(app, &hidden, None).await.0, StatusCode::NOT_FOUND);
    let (status, content_type, _) = fetch(app, &hidden, Some(&p.token)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, MEDIA_TYPE)
    );
}

async fn fetch_assertions_actions_answer_with_stream_urls(backend: Backend) {
    let p = publish(backend).await;
    let app = &p.app;
    let digest_key = URL_SAFE_NO_PAD.encode(hex::decode(&p.sha3_384).unwrap());
    let unknown_id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    // As snapd sends them (store/store_action.go): no instance-key, a group key, and
    // `assertion-max-formats` beside the actions.
    let (status, body) = app
        .post(
            "/v2/snaps/refresh",
            None,
            json!({
                "context": [],
                "fields": ["revision"],
                "actions": [
                    {"action": "fetch-assertions", "key": "g1", "assertions": [
                        {"type": "snap-declaration", "primary-key": ["16", p.snap_id]},
                        {"type": "snap-revision", "primary-key": [digest_key]},
                        {"type": "account", "primary-key": [p.publisher_id], "if-newer-than": 0},
                    ]},
                    {"action": "fetch-assertions", "key": "g2", "assertions": [
                        {"type": "snap-declaration", "primary-key": ["16", unknown_id]},
                        {"type": "validation-set", "sequence-key": ["16", "acct", "name"]},
                    ]},
                    {"action": "download", "instance-key": "download-1", "name": "hello-assert", "epoch": null},
                ],
                "assertion-max-formats": {"snap-declaration": 6, "snap-revision": 1, "account": 0},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let g1 = &results[0];
    assert_eq!(g1["result"], "fetch-assertions");
    assert_eq!(g1["key"], "g1");
    assert!(g1.get("error-list").is_none(), "{g1}");
    // The account the device already has at revision 0 is not newer: no URL for it.
    let urls: Vec<&str> = g1["assertion-stream-urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!(
                "http://depot.test/v2/assertions/snap-declaration/16/{}",
                p.snap_id
            ),
            format!("http://depot.test/v2/assertions/snap-revision/{digest_key}"),
        ]
    );
    for url in &urls {
        let path = url.strip_prefix("http://depot.test").unwrap();
        let (a, _) = assertion(app, path).await;
        assert_eq!(a.header("snap-id"), p.snap_id);
    }
    let g2 = &results[1];
    assert_eq!(g2["key"], "g2");
    assert_eq!(g2["assertion-stream-urls"], json!([]));
    assert_eq!(
        g2["error-list"],
        json!([
            {"code": "not-found", "message": g2["error-list"][0]["message"], "type": "snap-declaration", "primary-key": ["16", unknown_id]},
            {"code": "not-found", "message": g2["error-list"][1]["message"], "type": "validation-set", "sequence-key": ["16", "acct", "name"]},
        ])
    );
    assert_eq!(results[2]["result"], "download");
}

both_backends!(
    a_published_snap_has_a_verifiable_chain_of_assertions,
    missing_assertions_follow_snapds_not_found_convention,
    fetch_assertions_actions_answer_with_stream_urls,
);
