//! Every write endpoint against every kind of token.

mod common;

use axum::http::{Method, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use depot::auth::Scope;
use depot::domain::Namespace;
use depot::store::PackageRef;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Garbage,
    Expired,
    Owner,
    OwnerWrongScope,
    OwnerOtherPackage,
    OtherPublisher,
    Admin,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::Garbage,
    Who::Expired,
    Who::Owner,
    Who::OwnerWrongScope,
    Who::OwnerOtherPackage,
    Who::OtherPublisher,
    Who::Admin,
];

async fn authorization_matrix(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.account("owner", &[]).await;
    let owner_id = app
        .store()
        .account_by_username("owner")
        .await
        .unwrap()
        .unwrap()
        .id;
    let other = app.account("stranger", &[]).await;
    let admin = app.account("root-admin", &[Scope::Admin]).await;
    let (status, _) = app
        .post("/v1/snap", Some(&owner), json!({"name": "guarded"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let snap = fixtures::build_snap(
        dir.path(),
        "name: guarded\nversion: '1'\nsummary: s\ndescription: d\narchitectures: [amd64]\n",
    );
    // Revision 1 exists for the release and listing endpoints.
    let (status, _) = app.push("snap", "guarded", &snap, &owner).await;
    assert_eq!(status, StatusCode::OK);

    let elsewhere = Some(vec![PackageRef {
        namespace: Namespace::Snap,
        name: "somewhere-else".into(),
    }]);
    let expired_at = Some(chrono::Utc::now() - chrono::Duration::minutes(1));

    // (label, method, path, body, scope needed, is registration)
    let endpoints: Vec<(&str, Method, String, Value, Scope, bool)> = vec![
        (
            "register",
            Method::POST,
            "/v1/snap".into(),
            json!({}),
            Scope::AccountRegisterPackage,
            true,
        ),
        (
            "push",
            Method::POST,
            "/v1/snap/guarded/revisions".into(),
            json!({}),
            Scope::PackageUpload,
            false,
        ),
        (
            "list revisions",
            Method::GET,
            "/v1/snap/guarded/revisions".into(),
            Value::Null,
            Scope::PackageUpload,
            false,
        ),
        (
            "release",
            Method::POST,
            "/v1/snap/guarded/releases".into(),
            json!([{"channel": "edge", "revision": 1}]),
            Scope::PackageRelease,
            false,
        ),
        (
            "close",
            Method::POST,
            "/v1/snap/guarded/releases".into(),
            json!([{"channel": "edge", "revision": null}]),
            Scope::PackageRelease,
            false,
        ),
        (
            "list releases",
            Method::GET,
            "/v1/snap/guarded/releases".into(),
            Value::Null,
            Scope::PackageRelease,
            false,
        ),
        (
            "create track",
            Method::POST,
            "/v1/snap/guarded/tracks".into(),
            json!([{"name": "9"}]),
            Scope::PackageManage,
            false,
        ),
    ];
    let mut counter = 0;
    for (label, method, path, body, scope, registration) in &endpoints {
        for who in EVERYONE {
            let wrong_scope = Scope::PUBLISHER.into_iter().find(|s| s != scope).unwrap();
            let token = match who {
                Who::Anonymous => None,
                Who::Garbage => Some("depot_not-a-real-token".to_string()),
                Who::Expired => Some(app.token_for(&owner_id, &[], None, expired_at).await),
                Who::Owner => Some(owner.clone()),
                Who::OwnerWrongScope => {
                    Some(app.token_for(&owner_id, &[wrong_scope], None, None).await)
                }
                Who::OwnerOtherPackage => {
                    Some(app.token_for(&owner_id, &[], elsewhere.clone(), None).await)
                }
                Who::OtherPublisher => Some(other.clone()),
                Who::Admin => Some(admin.clone()),
            };
            let body = if *registration {
                counter += 1;
                Some(json!({"name": format!("fresh-name-{counter}")}))
            } else if label == &"push" {
                let (_, up) = app.upload(&snap, None).await;
                Some(json!({"upload-id": up["upload_id"]}))
            } else if body.is_null() {
                None
            } else {
                Some(body.clone())
            };
            let (status, response) = app.call(method.clone(), path, token.as_deref(), body).await;
            let expected: (StatusCode, Option<&str>) = match who {
                Who::Anonymous => (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                Who::Garbage => (StatusCode::UNAUTHORIZED, Some("invalid-token")),
                Who::Expired => (StatusCode::UNAUTHORIZED, Some("token-expired")),
                Who::Owner | Who::Admin => (StatusCode::OK, None),
                // Anyone with the scope may register a new name.
                Who::OtherPublisher if *registration => (StatusCode::OK, None),
                Who::OwnerWrongScope | Who::OwnerOtherPackage | Who::OtherPublisher => {
                    (StatusCode::FORBIDDEN, Some("permission-denied"))
                }
            };
            assert_eq!(status, expected.0, "{label} as {who:?}: {response}");
            if let Some(code) = expected.1 {
                assert_eq!(error_code(&response), code, "{label} as {who:?}");
            }
        }
    }
    // whoami needs a token, and reports the token's scopes.
    let (status, body) = app.get("/v1/tokens/whoami", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = app.get("/v1/tokens/whoami", Some(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"]["username"], "owner");
    assert!(
        body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("package-manage-releases"))
    );
    // Bearer works like Macaroon.
    let request = axum::http::Request::get("/v1/tokens/whoami")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.raw(request).await.status(), StatusCode::OK);
}

/// A private package is invisible to everyone but its publisher and admins.
async fn private_packages_stay_hidden(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.account("secretive", &[]).await;
    let other = app.account("curious", &[]).await;
    let admin = app.account("overseer", &[Scope::Admin]).await;
    let (status, _) = app
        .post(
            "/v1/snap",
            Some(&owner),
            json!({"name": "hidden", "private": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let snap = fixtures::build_snap(
        dir.path(),
        "name: hidden\nversion: '1'\nsummary: s\ndescription: d\narchitectures: [amd64]\n",
    );
    app.push("snap", "hidden", &snap, &owner).await;
    app.post(
        "/v1/snap/hidden/releases",
        Some(&owner),
        json!([{"channel": "stable", "revision": 1}]),
    )
    .await;

    let (status, info) = app.get("/v2/snaps/info/hidden", Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["snap"]["private"], true);
    let url = info["channel-map"][0]["download"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app.get("/v2/snaps/info/hidden", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    for token in [None, Some(other.as_str())] {
        let (status, body) = app.get("/v2/snaps/info/hidden", token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(error_code(&body), "snap-not-found");
        let (status, _, _) = app.download(&url, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    for path in [
        "/v1/snap/hidden",
        "/v1/snap/hidden/releases",
        "/v1/snap/hidden/revisions",
    ] {
        let (status, body) = app.get(path, Some(&other)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(error_code(&body), "package-not-found", "{path}");
    }
    let (status, body) = app
        .post(
            "/v1/snap/hidden/releases",
            Some(&other),
            json!([{"channel": "edge", "revision": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

both_backends!(authorization_matrix, private_packages_stay_hidden);
