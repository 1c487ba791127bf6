//! The API contract: the OpenAPI document is generated from the routes, matches the committed
//! snapshot, is what `/openapi.json` serves, and describes every route the router answers; every
//! error code the code can send is in the error reference.
//!
//! After an intended change of the API: `UPDATE_SNAPSHOTS=1 cargo test --test openapi`, then
//! review and commit `app/tests/snapshots/openapi.json`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::app::{Backend, TestApp, repo_root};
use http_body_util::BodyExt;
use serde_json::Value;

fn snapshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json")
}

fn generated() -> String {
    depot::http::openapi()
        .to_pretty_json()
        .expect("the document serialises")
        + "\n"
}

#[test]
fn the_document_matches_the_snapshot() {
    let path = snapshot_path();
    let doc = generated();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == doc {
        return;
    }
    let (line, old, new) = expected
        .lines()
        .zip(doc.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i + 1, a.to_string(), b.to_string()))
        .unwrap_or_else(|| {
            let n = expected.lines().count().min(doc.lines().count());
            (n + 1, "(end of file)".into(), "(more lines)".into())
        });
    panic!(
        "the OpenAPI document generated from the code differs from {} at line {line}:\n  \
         snapshot:  {old}\n  generated: {new}\n\
         If the API change is intended, run `UPDATE_SNAPSHOTS=1 cargo test --test openapi`, \
         review the diff of the snapshot and commit it (and update docs/reference/api.md).",
        path.display()
    );
}

#[test]
fn the_document_is_openapi_3_1_with_the_crate_version() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        doc["components"]["securitySchemes"]["macaroon"].is_object(),
        "the token scheme is declared"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{} {path}", method.to_uppercase());
            assert!(op["operationId"].is_string(), "{what} has no operationId");
            assert!(op["tags"][0].is_string(), "{what} has no tag");
            assert!(op["summary"].is_string(), "{what} has no summary");
            let responses = op["responses"].as_object().unwrap();
            for status in ["500", "503"] {
                assert!(responses.contains_key(status), "{what} lacks {status}");
            }
            for (status, response) in responses {
                let code: u16 = status.parse().unwrap();
                if code >= 400 {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{what} {status} is not in the error envelope"
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_serves_the_generated_document() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = app
        .raw(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let served: Value = serde_json::from_slice(&body).unwrap();
    let generated: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(served, generated);
}

/// The route templates registered in the router, read from its `Debug` output (axum has no
/// other way to list them). Only the main path router: the fallback router holds axum's
/// catch-all entries, not routes.
fn registered_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let start = debug
        .find("path_router:")
        .expect("axum's Router Debug output names path_router");
    let end = debug[start..]
        .find("fallback_router:")
        .map_or(debug.len(), |i| start + i);
    let section = &debug[start..end];
    let node = section
        .rfind("node: Node")
        .expect("axum's PathRouter Debug output has its node");
    let mut paths = BTreeSet::new();
    let mut rest = &section[node..];
    while let Some(i) = rest.find("RouteId(") {
        rest = &rest[i..];
        let Some(open) = rest.find(": \"") else { break };
        let after = &rest[open + 3..];
        let close = after.find('"').unwrap();
        paths.insert(after[..close].to_string());
        rest = &after[close..];
    }
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_the_router_answers_is_documented() {
    let app = TestApp::new(Backend::Sqlite).await;
    let paths = registered_paths(&depot::http::routes(app.state.clone()));
    assert!(
        paths.contains("/v1/tokens/whoami") && paths.contains("/openapi.json"),
        "reading the routes out of the router failed (did axum's Debug output change?): {paths:?}"
    );
    // A method a route has never answers 405; one it lacks always does (the router's
    // method-not-allowed fallback).
    let mut registered = BTreeSet::new();
    for path in &paths {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let response = app
                .raw(
                    Request::builder()
                        .method(method.clone())
                        .uri(&concrete)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                registered.insert(format!("{method} {path}"));
            }
        }
    }
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes without OpenAPI documentation: {undocumented:?}. Register routes with \
         `utoipa_axum::routes!` from handlers annotated with `#[utoipa::path]`, never with \
         a plain `.route()`."
    );
    assert!(
        missing.is_empty(),
        "documented operations the router does not answer: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_a_route_lacks_is_405_in_the_envelope_with_allow() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = app
        .raw(
            Request::builder()
                .method(Method::DELETE)
                .uri("/v1/snap")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response.headers()[header::ALLOW]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error-list"][0]["code"], "method-not-allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_is_not_multipart_is_refused_in_the_envelope() {
    let app = TestApp::new(Backend::Sqlite).await;
    for (content_type, status) in [
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (Some("application/json"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (Some("multipart/form-data"), StatusCode::BAD_REQUEST), // no boundary
    ] {
        let mut request = Request::post("/unscanned-upload/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = app.raw(request.body(Body::from("{}")).unwrap()).await;
        assert_eq!(response.status(), status, "{content_type:?}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
        assert_eq!(body["error-list"][0]["code"], "invalid-multipart");
    }
}

/// The codes in the error reference's tables.
fn documented_codes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/reference/errors.md")).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code.to_string()))
        .collect()
}

/// Error codes in the source: the first string argument of the error constructors
/// (`bad_request("…"`, `StoreError::conflict("…"`, …), the code of `ApiError::new(status, "…"`,
/// and the inspection codes of `InspectError::code`.
fn codes_in_source() -> BTreeSet<String> {
    fn literal_at(s: &str) -> Option<String> {
        let s = s.trim_start().strip_prefix('"')?;
        let end = s.find('"')?;
        let code = &s[..end];
        code.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            .then(|| code.to_string())
    }
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut codes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for call in [
            "bad_request(",
            "not_found(",
            "forbidden(",
            "unauthorized(",
            "conflict(",
            "invalid(",
        ] {
            for (i, _) in text.match_indices(call) {
                if text[..i].ends_with("fn ") {
                    continue;
                }
                codes.extend(literal_at(&text[i + call.len()..]));
            }
        }
        for (i, _) in text.match_indices("ApiError::new(") {
            let args = &text[i + "ApiError::new(".len()..];
            if let Some(comma) = args.find(',') {
                codes.extend(literal_at(&args[comma + 1..]));
            }
        }
        if let Some(i) = text.find("pub fn code(&self) -> &'static str {") {
            let body = &text[i..];
            let body = &body[..body.find("\n    }\n").unwrap()];
            for (j, _) in body.match_indices("=> ") {
                codes.extend(literal_at(&body[j + 3..]));
            }
        }
    }
    codes
}

#[test]
fn every_error_code_is_in_the_error_reference() {
    let source = codes_in_source();
    for code in [
        "package-not-found",
        "method-not-allowed",
        "invalid-artifact",
    ] {
        assert!(
            source.contains(code),
            "the source scan missed {code:?}; found {source:?}"
        );
    }
    let documented = documented_codes();
    let missing: Vec<_> = source.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "error codes sent by the code but missing from docs/reference/errors.md: {missing:?}"
    );
}
